/*
 * swim_internal.h — what the files of the membership core share.
 *
 * The core is one object (struct cl_swim) split by concern:
 *
 *   swim.c           the essay, lifecycle, feeding and ticking, applying
 *                    the merge rules (merge.c decides, swim.c acts), queries
 *   member_table.c   the member array and hash table, status lists,
 *                    formers (reaped members remembered compactly)
 *   events.c         the event queue handed to the owner after each step
 *   dissemination.c  the broadcast queue, piggybacking, gossip rounds
 *   detector.c       probing, indirect probes and nacks, suspicion timers,
 *                    local health, checking a rival claim to our name
 *   antientropy.c    push-pull (join, periodic, checksum-triggered), the
 *                    agreement that skips it, dead retry, reaping
 *
 * Not a public header: nothing outside src/core includes it.
 */
#ifndef CLOISTER_CORE_SWIM_INTERNAL_H
#define CLOISTER_CORE_SWIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "identity.h"
#include "merge.h"
#include "swim.h"

/* ------------------------------------------------------------------ */
/* Limits (each explained where it is used)                            */
/* ------------------------------------------------------------------ */

#define SEEDS_MAX 64
/* Members one core holds at most (member.idx has 20 bits). */
#define MEMBERS_MAX (1u << 20)
#define RELAYS_MAX 64
#define TRANSMIT_BUCKETS 48
#define SUSPICION_ACCUSERS 8
/* Default bound on the event queue, bytes (cl_swim_config.event_queue_max). */
#define EVENT_QUEUE_DEFAULT (64u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

struct bcast;

/* A node's record of one member: 12 bytes.  What the member announced
 * (name, address, start, tags) is its identity, interned in the store
 * (identity.h) and shared with every other record of the same identity;
 * the record keeps the node's own view.  Records live in chunks indexed by
 * the name's id, which never move: a pointer to a record stays valid until
 * the member is reaped.  Only members that are not alive need list links,
 * a timestamp and a suspicion (aux, in a side map); a queued broadcast is
 * one of at most BSLOTS, named by 11 bits.  The common member costs 12
 * bytes plus 4 in the probe order, which is what lets one process simulate
 * 30,000 nodes that each know 30,000 members. */
struct member {
	uint32_t incarnation;
	uint32_t ident : 24; /* identity id in s->ids (identity.c keeps < 2^24) */
	uint32_t status : 2;
	/* We heard from it directly: it answered our ping at its address,
	 * or pinged us from it.  Only such members count for quorum and
	 * sentry (a member injected by hearsay never answers). */
	uint32_t heard : 1;
	uint32_t used : 1; /* a member lives in this record */
	uint32_t has_aux : 1;
	uint32_t spare : 3;
	uint32_t idx : 20; /* position in s->order (max_members <= 2^20) */
	uint32_t bc : 11;  /* 1 + slot of its queued broadcast, 0 if none */
	uint32_t spare2 : 1;
};

/* Member records per chunk (12 KiB). */
#define MCHUNK_BITS 10
#define MCHUNK_MASK ((1u << MCHUNK_BITS) - 1)

/* Members whose ALIVE one datagram's sender may be owed (cl_swim_feed):
 * a few, so a packet of stale doubts costs one small datagram. */
#define OWED_MAX 4

/* Members heard from of late, kept for gossip (dissemination.c): the last
 * LATELY_MAX answers and pings, each good for LATELY_PERIODS probe
 * intervals as local health stretches them.  A node that hears from its
 * probe target and from those who probe it, about two a period, keeps
 * three periods of them: in a partition's minority, within three periods
 * of the cut, only the members it can still reach.  Its own periods, not
 * the nominal ones: there every probe fails, health stretches them up to
 * nine-fold, and the minority's members, probing as slowly, are heard
 * from seconds apart (seed 578297: 4.8 s). */
#define LATELY_MAX 8
#define LATELY_PERIODS 3

/* A map from name id to a pointer (open addressing), for the few members
 * that have an aux record. */
struct idmap_entry {
	uint32_t key; /* name id + 1; 0 = empty */
	void *v;
};
struct idmap {
	struct idmap_entry *e;
	size_t mask, n;
};

struct suspicion {
	cl_usec start;
	cl_usec deadline;
	cl_usec remind_at; /* the second buddy ping, CL_NEVER once sent */
	unsigned confirmations;
	unsigned k; /* confirmations that bring it to the minimum */
	cl_usec min, max;
	uint64_t accusers[SUSPICION_ACCUSERS]; /* name hashes seen */
	unsigned n_accusers;
	/* Taken at a number above the one we held: the process it is about
	 * may live at an address we do not know, so our own failed probes
	 * (of the address we hold) confirm nothing until a newer process's
	 * ALIVE at that number moves the member (merge.h, MOVE). */
	bool stale_address;
};

struct member_aux {
	struct member *prev, *next; /* suspect list or tombstone list */
	cl_usec since;              /* entered its current status */
	cl_usec retry_at;           /* dead: next dead retry due */
	unsigned retries;           /* dead: retries so far (backoff) */
	struct suspicion susp;      /* while suspect */
};

/* A reaped member, remembered so a stale ALIVE cannot bring it back. */
struct former {
	uint64_t hash;
	uint32_t incarnation;
	cl_usec reaped;
};

struct bcast {
	struct member *m;
	uint16_t slot; /* in s->bslot */
	uint16_t pos;  /* index in its bucket's array */
	uint8_t transmits;
	uint16_t len;
	uint8_t msg[];
};

/* A bucket of broadcasts with one transmit count: an array, oldest first,
 * of (slot, length), with holes where one left, so filling a packet reads
 * lengths from the array and touches only the broadcasts it sends. */
#define BQ_HOLE 0xffffu
struct bq_entry {
	uint16_t slot;
	uint16_t len;
};
struct bqueue {
	struct bq_entry *e;
	uint32_t n, cap, holes;
};
/* Broadcast slots: at most BQ_MAX are queued, plus the one that makes the
 * queue overflow (dissemination.c), which member.bc's 11 bits hold. */
#define BSLOTS 1026

struct relay {
	bool used;
	bool want_nack;
	uint32_t local_seq;
	uint32_t origin_seq;
	uint64_t origin_id;
	cl_addr origin;
	cl_usec deadline;
};

enum probe_phase { PROBE_IDLE, PROBE_DIRECT, PROBE_INDIRECT };

struct list {
	struct member *head;
	size_t n;
};

/* A ping of our own outside the probe schedule, answered or not by a
 * deadline: dead retry, and checking a rival claim to our name. */
struct side_ping {
	bool pending;
	uint32_t seq;
	uint64_t id;
	cl_addr addr;
	cl_usec deadline;
};

struct cl_swim {
	cl_swim_config cfg;
	cl_swim_io io;
	char label[CL_WIRE_LABEL_MAX + 1];
	size_t label_len;
	size_t tags_max;
	size_t max_members;
	cl_usec created; /* `now` at cl_swim_new, for the wall clock */

	/* Members: records in chunks indexed by name id, the probe order
	 * (name ids; self first), and the side maps (struct member). */
	cl_swim_idents *ids;
	struct member **mchunks;
	size_t n_mchunks;
	uint32_t *order;
	size_t n, cap;
	struct idmap auxes;
	size_t counts[4];
	size_t heard_live;     /* live members other than us with heard set */
	uint64_t heard_gen;    /* bumped whenever a member's heard changes */
	uint64_t checksum;
	/* The checksum split by the top bits of the name hash (DIGEST). */
	uint64_t bsum[1u << CL_WIRE_DIGEST_BITS_MAX];
	struct list suspects;
	/* No suspicion timer (deadline, reminder) fires before this: kept
	 * as a lower bound, lowered when a timer is set or shortened, made
	 * exact by each walk of the suspects, so the next-deadline question
	 * every step asks costs nothing however many members are suspect (a
	 * walk per step was 16% of all CPU for 1,000 agents in a storm). */
	cl_usec susp_next;
	struct list tombstones;
	/* Formers: a ring of the last FORMERS_MAX reaped members. */
	struct former *formers;
	size_t n_formers, formers_next;

	/* Probing. */
	size_t probe_idx;
	uint32_t seq;
	enum probe_phase phase;
	uint32_t probe_seq;
	uint64_t probe_target_hash;
	char probe_target[CL_WIRE_NAME_MAX + 1];
	uint8_t probe_target_len;
	cl_usec probe_sent, probe_phase_deadline, probe_period_end;
	unsigned expected_nacks, nacks;
	unsigned health;
	struct relay relays[RELAYS_MAX];
	unsigned relays_used;
	struct side_ping retry;  /* dead retry: an ack starts a push-pull */
	/* Verification pings (cfg.verify_pings a period) to live members we
	 * have not heard from: their acks mark them heard. */
	struct {
		uint32_t seq;
		uint64_t hash;
		cl_addr addr;
	} verify[32];
	unsigned verify_next;
	size_t verify_cursor;
	struct side_ping rival;  /* another process claims our name */
	uint64_t rival_start_ms;
	cl_usec rival_resend;
	cl_addr rival_addr;
	uint32_t rival_incarnation;
	bool superseded;
	/* The packet being read accused us below our incarnation: whoever
	 * sent it missed our refutation, and our ack to its ping repeats it
	 * (the buddy system's answer, even when our acks come too late to
	 * count: a slow node's refutation then still reaches its probers). */
	bool reassert;
	bool reasserted; /* and an ack of that packet carried it */

	/* Timers. */
	cl_usec next_probe, next_gossip, next_pushpull, next_dead_retry;
	cl_usec next_reap, next_join_retry, last_sync, leave_deadline;
	/* Agreement that makes a periodic push-pull redundant: the last ping
	 * whose checksum differed from ours, the agreeing pings since the
	 * last periodic decision, and periodic syncs skipped since. */
	cl_usec last_mismatch;
	unsigned agreeing_pings;
	unsigned pushpull_skips;
	/* While a datagram is read: members it doubted below the number
	 * they have refuted to since, whose ALIVE its sender is owed
	 * (swim_merge_accuse; sent once the datagram is read). */
	bool owing;
	unsigned n_owed;
	uint32_t owed[OWED_MAX];
	/* The most members a pinger said it knew, and when that was last
	 * heard (detector.c, suspicion_scale). */
	uint32_t peer_count;
	cl_usec peer_count_at;
	/* Members heard from directly of late (swim_heard_from), a ring. */
	struct heard_lately {
		uint32_t nid;
		bool set;
		cl_usec at;
	} lately[LATELY_MAX];
	unsigned lately_next;

	/* Broadcasts, bucketed by transmit count. */
	struct bqueue bq[TRANSMIT_BUCKETS];
	struct bcast **bslot; /* BSLOTS, allocated with the first */
	uint16_t *bslot_free; /* free slots, a stack */
	uint16_t n_bslot_free, bslot_hw;
	size_t bq_len;

	/* Join: the seeds, retried (with backoff) until one of them answers a
	 * push-pull, not merely until someone knows us: two nodes that found
	 * each other behind a partition would otherwise stay an island. */
	cl_addr seeds[SEEDS_MAX];
	size_t n_seeds;
	bool joined;       /* any full state merged */
	/* Merging the answer to our join: members it adds are not gossiped
	 * (antientropy.c). */
	bool quiet_adds;
	/* The new-member budget of the push-pull exchange being read: opened
	 * by its first frame from pp_from, closed by that source's last frame
	 * or when the source has been quiet for PUSHPULL_EXCHANGE_IDLE.
	 * Frames of other exchanges read meanwhile spend the same budget.
	 * Quiet since pp_last: the first event after its latest frame, the
	 * time we were done merging it (pp_stamp: that event is still to
	 * come), so our own slowness never passes for the sender's. */
	bool pp_open;
	bool pp_stamp;
	cl_addr pp_from;
	cl_usec pp_last;
	size_t pp_added;   /* members it added so far */
	/* A delta sync this node started: the buckets the peer's DIGEST
	 * showed different, whose members we send once its delta is read. */
	bool delta_due;
	uint8_t delta_bits;
	uint64_t delta_want[(1u << CL_WIRE_DIGEST_BITS_MAX) / 64];
	cl_addr delta_to;
	size_t pp_budget;  /* and the most it may add, set when it opens */
	bool seed_answered;
	unsigned join_retries;

	bool leaving, left;

	/* Events, serialised; resync: the queue overflowed and was dropped,
	 * the owner must re-read the table (CL_EV_RESYNC). */
	uint8_t *evq;
	size_t evq_head, evq_tail, evq_cap, evq_max;
	bool evq_resync;

	cl_swim_stats stats;
	/* Scratch for one packet, sized by the MTU; parsed messages go in
	 * the identity store's scratch (idents_msgs), max_msgs of them. */
	uint8_t *pkt;
	size_t max_msgs;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static inline const struct ident *mident(const cl_swim *s,
					 const struct member *m)
{
	return idents_at(s->ids, m->ident);
}

static inline uint32_t mnid(const cl_swim *s, const struct member *m)
{
	return mident(s, m)->name;
}

static inline uint64_t mhash(const cl_swim *s, const struct member *m)
{
	return mident(s, m)->hash;
}

static inline const char *mname(const cl_swim *s, const struct member *m)
{
	return ident_name(mident(s, m));
}

static inline size_t mname_len(const cl_swim *s, const struct member *m)
{
	return mident(s, m)->name_len;
}

static inline cl_bytes mname_bytes(const cl_swim *s, const struct member *m)
{
	const struct ident *d = mident(s, m);
	return (cl_bytes){d->data, d->name_len};
}

static inline const uint8_t *mtags(const cl_swim *s, const struct member *m)
{
	return ident_tags(mident(s, m));
}

static inline size_t mtags_len(const cl_swim *s, const struct member *m)
{
	return mident(s, m)->tags_len;
}

static inline cl_bytes mtags_bytes(const cl_swim *s, const struct member *m)
{
	const struct ident *d = mident(s, m);
	return (cl_bytes){ident_tags(d), d->tags_len};
}

static inline const cl_addr *maddr(const cl_swim *s, const struct member *m)
{
	return &mident(s, m)->addr;
}

static inline uint64_t mstart(const cl_swim *s, const struct member *m)
{
	return mident(s, m)->start_ms;
}

/* The record for a name id, NULL if its chunk was never needed. */
static inline struct member *mslot(const cl_swim *s, uint32_t nid)
{
	size_t c = nid >> MCHUNK_BITS;
	return c < s->n_mchunks && s->mchunks[c]
		       ? &s->mchunks[c][nid & MCHUNK_MASK]
		       : NULL;
}

/* The member at position i of the probe order. */
static inline struct member *member_at(const cl_swim *s, size_t i)
{
	return mslot(s, s->order[i]);
}

static inline struct member *self(const cl_swim *s)
{
	return member_at(s, 0);
}

void *idmap_get(const struct idmap *mp, uint32_t nid);

static inline struct member_aux *maux(const cl_swim *s, const struct member *m)
{
	return m->has_aux ? idmap_get(&s->auxes, mnid(s, m)) : NULL;
}

static inline struct bcast *mbc(const cl_swim *s, const struct member *m)
{
	return m->bc ? s->bslot[m->bc - 1] : NULL;
}

static inline uint64_t rnd(cl_swim *s)
{
	return s->io.rand(s->io.ctx);
}

static inline size_t rnd_below(cl_swim *s, size_t n)
{
	return n ? (size_t)(rnd(s) % n) : 0;
}

static inline uint64_t name_hash(const uint8_t *name, size_t len)
{
	return XXH3_64bits(name, len);
}

static inline bool live(uint8_t status)
{
	return status == CL_STATUS_ALIVE || status == CL_STATUS_SUSPECT;
}

static inline size_t alive_estimate(const cl_swim *s)
{
	size_t n = s->counts[CL_STATUS_ALIVE] + s->counts[CL_STATUS_SUSPECT];
	return n ? n : 1;
}

static inline cl_usec scaled(const cl_swim *s, cl_usec t)
{
	return t * (cl_usec)(s->health + 1);
}

static inline bool is_self_name(const cl_swim *s, cl_bytes n)
{
	cl_bytes me = mname_bytes(s, self(s));
	return n.len == me.len && memcmp(n.ptr, me.ptr, n.len) == 0;
}

/* The running suspicion of a suspect, NULL for anyone else. */
static inline struct suspicion *suspicion_of(const cl_swim *s,
					     struct member *m)
{
	struct member_aux *a =
		m->status == CL_STATUS_SUSPECT ? maux(s, m) : NULL;
	return a ? &a->susp : NULL;
}

static inline struct member *lnext(const cl_swim *s, const struct member *m)
{
	return maux(s, m)->next;
}

/* ------------------------------------------------------------------ */
/* member_table.c                                                      */
/* ------------------------------------------------------------------ */

/* The member with this name (h: its hash), NULL if unknown. */
struct member *swim_find_h(const cl_swim *s, uint64_t h, const uint8_t *name,
			   size_t len);
struct member *swim_find(const cl_swim *s, const uint8_t *name, size_t len);
/* Starts loading the member with this name, if any (a hint, no effect). */
void swim_prefetch(const cl_swim *s, const uint8_t *name, size_t len);
/* A new member with this identity, in the placeholder state (alive,
 * incarnation 0) that the caller's swim_set_state() replaces. */
struct member *swim_member_add(cl_swim *s, const uint8_t *name,
			       size_t name_len, uint64_t h, const cl_addr *addr,
			       uint64_t start_ms, const uint8_t *tags,
			       size_t tags_len);
/* A member's new identity (address, start, tags); false if out of memory
 * (then it keeps the old one).  The record does not move. */
bool swim_member_set_identity(cl_swim *s, struct member *m,
			      const cl_addr *addr, uint64_t start_ms,
			      const uint8_t *tags, size_t tags_len);
void swim_set_state(cl_swim *s, struct member *m, uint8_t status,
		    uint32_t incarnation, cl_usec now);
/* Removes a tombstone for good, remembering it as a former. */
void swim_member_reap(cl_swim *s, struct member *m, cl_usec now);
void swim_members_free(cl_swim *s);
/* Marks a member heard from (or not); keeps heard_live and heard_gen. */
void swim_set_heard(cl_swim *s, struct member *m, bool heard);
/* m answered from its own address, or pinged us from it: heard, and one
 * of the members heard from of late. */
void swim_heard_from(cl_swim *s, struct member *m, cl_usec now);
/* A member by name hash alone (64 bits: a collision is not a concern for
 * what it is used for, matching an ack to a verification ping). */
struct member *swim_find_hash(const cl_swim *s, uint64_t h);
/* The incarnation a reaped member had, if it was reaped lately. */
bool swim_former(const cl_swim *s, uint64_t h, uint32_t *incarnation);
void swim_former_forget(cl_swim *s, uint64_t h);
void swim_formers_expire(cl_swim *s, cl_usec now);
/* Picks up to k distinct members other than self and `not`: alive ones
 * only, or alive and suspect (gossip reaches suspects so they refute). */
size_t swim_pick_random(cl_swim *s, struct member **out, size_t k,
			const struct member *not, bool suspects_too);

/* ------------------------------------------------------------------ */
/* events.c                                                            */
/* ------------------------------------------------------------------ */

void swim_emit(cl_swim *s, uint8_t type, const struct member *m);
/* An event about m with another address, start and incarnation (the
 * process that took our name, CL_EV_SUPERSEDED). */
void swim_emit_as(cl_swim *s, uint8_t type, const struct member *m,
		  const cl_addr *addr, uint64_t start_ms, uint32_t incarnation);
/* The protocol version to speak to m (wire.h, CL_PROTO_*), 0 if none. */
uint8_t swim_proto_of(const cl_swim *s, const struct member *m);

/* ------------------------------------------------------------------ */
/* dissemination.c                                                     */
/* ------------------------------------------------------------------ */

void swim_broadcast_alive(cl_swim *s, struct member *m);
void swim_broadcast_accuse(cl_swim *s, struct member *m, uint8_t type,
			   cl_bytes accuser);
/* Whether a queued update has been sent fewer than half the times it
 * will be: gossip still has news of its own to spread. */
bool swim_gossip_fresh(const cl_swim *s);
void swim_piggyback(cl_swim *s, cl_wbuf *w);
void swim_gossip_round(cl_swim *s, cl_usec now);
void swim_bcast_drop(cl_swim *s, struct bcast *b);
void swim_bcast_free_all(cl_swim *s);

/* ------------------------------------------------------------------ */
/* detector.c                                                          */
/* ------------------------------------------------------------------ */

void swim_detector_tick(cl_swim *s, cl_usec now);
cl_usec swim_detector_deadline(const cl_swim *s, cl_usec d);
void swim_on_ping(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from,
		  bool stream, cl_usec now);
void swim_on_ping_req(cl_swim *s, const cl_wire_msg *msg, cl_usec now);
void swim_on_ack(cl_swim *s, uint8_t type, uint32_t seq, const cl_addr *from,
		 bool stream, cl_usec now);
void swim_send_ping(cl_swim *s, const cl_addr *to, uint32_t seq,
		    cl_bytes target, const struct member *suspect,
		    bool stream);
void swim_health_delta(cl_swim *s, int d);
void swim_suspicion_start(cl_swim *s, struct member *m, cl_bytes accuser,
			  cl_usec now);
/* True if the accuser was new and counted (then worth re-gossiping). */
bool swim_suspicion_confirm(cl_swim *s, struct suspicion *sp,
			    cl_bytes accuser, cl_usec now);
/* Another process claims our name from elsewhere and started later:
 * ping it; swim_on_ack() settles the claim. */
void swim_rival_check(cl_swim *s, const cl_wire_member *a, cl_usec now);
void swim_rival_recheck(cl_swim *s, uint32_t incarnation, cl_usec now);
uint32_t swim_next_seq(cl_swim *s);

/* ------------------------------------------------------------------ */
/* antientropy.c                                                       */
/* ------------------------------------------------------------------ */

void swim_send_pushpull(cl_swim *s, const cl_addr *to, uint64_t to_id,
			uint8_t flags);
void swim_on_pushpull(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from,
		      bool more_expected, cl_usec now);
/* Every event (a datagram, a frame, a tick) calls this first: the first
 * one after an open exchange's frame starts that exchange's idle clock. */
static inline void swim_pushpull_clock(cl_swim *s, cl_usec now)
{
	if (s->pp_stamp) {
		s->pp_last = now;
		s->pp_stamp = false;
	}
}
void swim_note_checksum(cl_swim *s, uint64_t checksum, cl_usec now);
/* A delta sync: our DIGEST, then the differing buckets both ways. */
void swim_send_digest(cl_swim *s, const cl_addr *to, uint64_t to_id);
void swim_on_digest(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from);
void swim_antientropy_tick(cl_swim *s, cl_usec now);
cl_usec swim_pushpull_period(const cl_swim *s);

/* ------------------------------------------------------------------ */
/* swim.c                                                              */
/* ------------------------------------------------------------------ */

void swim_begin(cl_swim *s, cl_wbuf *w);
void swim_transmit(cl_swim *s, const cl_addr *to, uint64_t to_id, cl_wbuf *w,
		   bool stream);
/* The merge rules, applied (merge.h decides). */
void swim_merge_alive(cl_swim *s, const cl_wire_member *a, cl_usec now);
/* own: our own probe or timer concluded it (else heard, or merged from a
 * peer's state). */
void swim_merge_accuse(cl_swim *s, uint8_t kind, uint32_t inc, cl_bytes name,
		       cl_bytes accuser, bool own, cl_usec now);
void swim_refute(cl_swim *s, uint32_t accused_inc, cl_usec now);
/* Wall-clock milliseconds now, from the start time we were given. */
uint64_t swim_wall_ms(const cl_swim *s, cl_usec now);
/* Whether an incarnation (and start time, if given) could have been
 * reached by now; counts a CL_DROP_CLOCK drop if not. */
bool swim_plausible(cl_swim *s, uint32_t inc, const uint64_t *start_ms,
		    cl_usec now);

#endif
