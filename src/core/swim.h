/*
 * swim.h — the membership protocol core (SWIM + Lifeguard).
 *
 * The core is driven, never drives.  It does no I/O, reads no clock, starts
 * no thread.  Its owner (the runtime, or the simulator) calls:
 *
 *   cl_swim_feed(s, now, from, bytes, stream)   a packet arrived
 *   cl_swim_tick(s, now)                        time passed
 *
 * and the core answers through the io table given at creation: send() for
 * each packet to transmit (stream = 1 for packets that need a reliable,
 * unbounded transport: push-pull), rand() for every random choice.  Events
 * (member joined, failed, ...) are queued during a step and taken out after
 * it with cl_swim_next_event(), never delivered from inside the protocol.
 *
 * Time is an opaque monotonic count of microseconds chosen by the owner.
 * cl_swim_next_deadline() says when the next tick is due, so a simulator
 * can jump the clock and a runtime can arm one timer.
 *
 * Not thread-safe: one owner thread per core.
 */
#ifndef CLOISTER_CORE_SWIM_H
#define CLOISTER_CORE_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wire.h"

typedef int64_t cl_usec;
#define CL_MSEC ((cl_usec)1000)
#define CL_SEC ((cl_usec)1000000)
#define CL_NEVER INT64_MAX

typedef struct cl_swim cl_swim;
/* Interned member names and identities (identity.h), which cores in one
 * thread may share (the simulator's cores do). */
typedef struct cl_swim_idents cl_swim_idents;

/* Timing and sizing.  cl_swim_config_profile() fills these; each default is
 * explained where it is set (swim_config.c). */
typedef struct cl_swim_timing {
	cl_usec probe_interval;       /* one probe per period */
	cl_usec probe_timeout;        /* direct ack deadline */
	cl_usec gossip_interval;      /* piggyback-only gossip rounds */
	unsigned gossip_nodes;        /* fan-out of a gossip round */
	unsigned indirect_checks;     /* k relays for an indirect probe */
	unsigned retransmit_mult;     /* lambda in lambda*log10(N+1) */
	unsigned suspicion_mult;      /* min suspicion = mult*log10(N)*interval */
	unsigned suspicion_max_mult;  /* max suspicion = max_mult * min */
	unsigned awareness_max;       /* Lifeguard: most a node stretches its
					 own timing, as a multiplier */
	cl_usec pushpull_interval;    /* anti-entropy, scaled up with N */
	cl_usec sync_min_interval;    /* checksum-triggered syncs, at most */
	cl_usec dead_retry_interval;  /* partition healing: re-ask the dead */
	cl_usec tombstone_timeout;    /* keep left entries this long */
	cl_usec reconnect_timeout;    /* keep dead entries (and retry them)
					 this long */
	cl_usec leave_linger;         /* time to spread our leave */
	size_t mtu;                   /* max datagram payload */
} cl_swim_timing;

enum cl_profile { CL_PROFILE_LAN = 0, CL_PROFILE_LOCAL, CL_PROFILE_WAN };

void cl_swim_timing_profile(cl_swim_timing *t, enum cl_profile p);

typedef struct cl_swim_config {
	const char *label;        /* cluster label (the app name), <= 64 */
	const char *name;         /* this node's unique name, 1..255 bytes */
	cl_addr addr;             /* the address peers dial */
	const uint8_t *tags;      /* encoded tag pairs (wire.h), may be NULL */
	size_t tags_len;          /* <= tags_max */
	size_t tags_max;          /* bound for any member's tags, <= 1024 */
	uint64_t start_ms;        /* this process's start, wall ms (sentry) */
	uint32_t incarnation;     /* first incarnation; a restart should pass
				     a value above its old self's (e.g. start
				     seconds); refutation covers the rest */
	size_t max_members;       /* bound on the member table, 0 = 65536,
				     at most 2^20 (a larger value is cut) */
	size_t event_queue_max;   /* bytes of queued events before the queue
				     is dropped for a CL_EV_RESYNC, 0 = 64 MiB */
	bool no_stream_ping;      /* no reliable-transport ping alongside the
				     indirect probes (memberlist's
				     DisableTcpPings); off by default */
	unsigned verify_pings;    /* pings a probe period to live members not
				     heard from yet (see heard below), 0 = none */
	uint8_t proto_min;        /* oldest protocol version spoken (wire.h,
				     CL_PROTO_*); 0 = CL_PROTO_MAX.  Members
				     advertising no range are taken to speak
				     this one. */
	cl_swim_timing timing;
	/* A store of identities shared with other cores of this thread
	 * (cl_swim_idents_new), NULL = one of its own.  The core holds a
	 * reference: the creator may free its own once the cores exist. */
	cl_swim_idents *idents;
} cl_swim_config;

typedef struct cl_swim_io {
	void *ctx;
	uint64_t (*rand)(void *ctx);
	/* to_id names the member the packet is for (cl_swim_name_id() of
	 * its name), 0 when unknown (a seed's address, a reply on an
	 * inbound stream): the runtime binds sealed packets to it. */
	void (*send)(void *ctx, const cl_addr *to, uint64_t to_id,
		     const uint8_t *buf, size_t len, bool stream);
	/* Optional: an application message (USER) arrived in a valid packet
	 * of our cluster.  The views point into the packet; copy what you
	 * keep.  Without it, USER messages are counted as unexpected. */
	void (*user)(void *ctx, const cl_addr *from, const cl_wire_msg *msg,
		     bool stream);
} cl_swim_io;

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

enum cl_swim_event_type {
	CL_EV_JOIN = 1,  /* a member appeared, alive */
	CL_EV_UPDATE,    /* address, tags, or alive<->suspect changed */
	CL_EV_LEAVE,     /* left gracefully */
	CL_EV_FAIL,      /* declared dead */
	CL_EV_REAP,      /* tombstone removed */
	/* The event queue overflowed and was dropped: re-read every member
	 * (cl_swim_foreach) instead of the events missed.  No member. */
	CL_EV_RESYNC,
	/* Another live process holds our name (it started later and answered
	 * at its address): this core has stopped claiming it and sends
	 * nothing more.  The event describes that process (its address,
	 * start time and incarnation under our name). */
	CL_EV_SUPERSEDED,
};

typedef struct cl_swim_event {
	uint8_t type;   /* enum cl_swim_event_type */
	uint8_t status; /* member status after the event */
	uint32_t incarnation;
	uint64_t start_ms;
	cl_addr addr;
	uint8_t name_len;
	uint16_t tags_len;
	char name[CL_WIRE_NAME_MAX + 1]; /* NUL-terminated */
	uint8_t tags[CL_WIRE_TAGS_MAX];
} cl_swim_event;

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

typedef struct cl_swim_stats {
	uint64_t packets_in, packets_out, bytes_in, bytes_out;
	uint64_t streams_in, streams_out;
	uint64_t probes, probe_fails, indirect_probes, nacks_sent;
	uint64_t stream_pings;        /* fallback pings over the stream */
	uint64_t stream_ping_rescues; /* probes only the stream answered */
	uint64_t suspicions, refutations, deaths_declared;
	uint64_t pushpulls, checksum_syncs, dead_retries;
	uint64_t pushpulls_skipped;   /* periodic syncs the checksums made moot */
	uint64_t digests;         /* delta syncs started (DIGEST sent) */
	uint64_t delta_syncs;     /* delta syncs answered */
	uint64_t state_members_sent; /* members sent in full or delta states */
	uint64_t state_members_in;   /* members read from states */
	uint64_t gossip_words_in;    /* ALIVE/SUSPECT/DEAD words in datagrams */
	uint64_t state_changes;      /* member status or incarnation changes */
	uint64_t state_news;         /* of which merging states made */
	uint64_t rival_checks;    /* pings to a newer process claiming our name */
	uint64_t stale_doubts_answered; /* datagrams telling a doubter the
					   member's newer ALIVE */
	uint64_t superseded;      /* 1 once a rival was found alive */
	uint64_t events_dropped;  /* event queue overflow (never expected) */
	uint64_t members_refused; /* max_members reached */
	uint64_t drops[CL_DROP__COUNT];
} cl_swim_stats;

/* ------------------------------------------------------------------ */
/* Lifecycle and driving                                               */
/* ------------------------------------------------------------------ */

/* Returns NULL with *err set (negative CLOISTER_E*) on bad config. */
cl_swim *cl_swim_new(const cl_swim_config *cfg, const cl_swim_io *io,
		     cl_usec now, int *err);
void cl_swim_free(cl_swim *s);

cl_swim_idents *cl_swim_idents_new(void);
void cl_swim_idents_free(cl_swim_idents *st);
/* Bytes held by the store's names and identities. */
size_t cl_swim_idents_bytes(const cl_swim_idents *st);

/* Push-pull with each seed (stream) now; retried with the dead-retry
 * cadence until one answers. */
int cl_swim_join(cl_swim *s, cl_usec now, const cl_addr *seeds, size_t n);
/* Announce a graceful leave; the core keeps gossiping it for leave_linger,
 * then cl_swim_left() turns true and the owner may free the core. */
void cl_swim_leave(cl_swim *s, cl_usec now);
bool cl_swim_left(const cl_swim *s);

/* One datagram or stream frame from `from`.  `from` is copied at once:
 * it need not outlive the sends the call makes.  `buf` must, unchanged:
 * the core answers while it reads (a ping's ack before the gossip after
 * it), so an owner that sends from the buffer it received into, or frees
 * the connection the packet came on, corrupts the rest of the packet. */
void cl_swim_feed(cl_swim *s, cl_usec now, const cl_addr *from,
		  const uint8_t *buf, size_t len, bool stream);
void cl_swim_tick(cl_swim *s, cl_usec now);
cl_usec cl_swim_next_deadline(const cl_swim *s);

/* Pops the oldest queued event; false when none. */
bool cl_swim_next_event(cl_swim *s, cl_swim_event *ev);

/* Replaces this node's tags and gossips them (an ALIVE at a higher
 * incarnation; this node's own CL_EV_UPDATE is queued, so its rings follow
 * its groups).  0 or negative error. */
int cl_swim_set_tags(cl_swim *s, cl_usec now, const uint8_t *tags,
		     size_t len);

/* Serf's force-leave: a member this node holds failed or suspect is made
 * "left" here and the word is gossiped as the member's own leave (a DEAD
 * it accuses itself in), so every node moves it to left, which no stale
 * "dead" or push-pull undoes.  A member that is in fact alive hears of it
 * and refutes (an ALIVE above), as after any false accusation.
 * 0; CLOISTER_ENOENT unknown; CLOISTER_ESTATE alive, left already, this
 * node itself, or this node leaving. */
int cl_swim_force_leave(cl_swim *s, cl_usec now, const char *name,
			size_t len);

/* The protocol version to speak to the member whose cl_swim_name_id() is
 * id: the highest both advertise, or 0 when no member has that id (or the
 * two ranges do not meet). */
uint8_t cl_swim_peer_proto(const cl_swim *s, uint64_t id);
/* The range this node speaks: proto_min..CL_PROTO_MAX. */
uint8_t cl_swim_proto_min(const cl_swim *s);
/* The range a member's tags advertise (CL_PROTO_TAG), false when they
 * advertise none or a malformed one. */
bool cl_swim_tags_proto(const uint8_t *tags, size_t len, uint8_t *min,
			uint8_t *max);

/* ------------------------------------------------------------------ */
/* Queries (cheap, O(1) unless noted)                                  */
/* ------------------------------------------------------------------ */

const char *cl_swim_name(const cl_swim *s);
/* A member's 64-bit id: XXH3-64 of its name (never 0 for a valid name in
 * practice; 0 means "unknown" in cl_swim_io.send). */
uint64_t cl_swim_name_id(const void *name, size_t len);
uint32_t cl_swim_incarnation(const cl_swim *s);
/* Members known in each status, self included (self is alive). */
size_t cl_swim_count(const cl_swim *s, enum cl_member_status st);
/* XOR of a hash of (name, incarnation) over the live members (alive and
 * suspect; a suspicion is not a disagreement worth a full sync). */
uint64_t cl_swim_checksum(const cl_swim *s);
/* Live members we heard from directly, self included, and a number that
 * changes whenever any member's heard flag does. */
size_t cl_swim_count_heard(const cl_swim *s);
uint64_t cl_swim_heard_generation(const cl_swim *s);
/* Local health score (Lifeguard), 0 = healthy. */
unsigned cl_swim_health(const cl_swim *s);
const cl_swim_stats *cl_swim_get_stats(const cl_swim *s);

typedef struct cl_swim_member_view {
	const char *name; /* valid until the next feed/tick/join/leave */
	uint8_t name_len;
	uint8_t status;
	uint32_t incarnation;
	uint64_t start_ms;
	cl_addr addr;
	const uint8_t *tags;
	uint16_t tags_len;
	/* We heard from it directly (an ack from its address to our ping, or
	 * a ping from it): a member only others told us of may not exist. */
	bool heard;
} cl_swim_member_view;

/* True once another live process has shown it holds our name (see swim.c:
 * "Two processes, one name"); *claimant (may be NULL) then describes it.
 * A superseded core sends nothing more. */
bool cl_swim_superseded(const cl_swim *s, cl_swim_member_view *claimant);

/* The running suspicion of a suspect member, for tests and diagnostics. */
typedef struct cl_swim_suspicion_view {
	cl_usec start, deadline;
	unsigned confirmations; /* independent accusers after the first */
	unsigned k;             /* confirmations that bring it to the minimum */
} cl_swim_suspicion_view;
/* True with *out filled if the member is suspect. */
bool cl_swim_suspicion(const cl_swim *s, const char *name, size_t len,
		       cl_swim_suspicion_view *out);

/* Looks a member up by name.  True if known (tombstones included). */
bool cl_swim_lookup(const cl_swim *s, const char *name, size_t len,
		    cl_swim_member_view *out);
/* Visits every member (self first); O(N).  Stop by returning false. */
void cl_swim_foreach(const cl_swim *s,
		     bool (*fn)(void *arg, const cl_swim_member_view *m),
		     void *arg);

#endif
