/*
 * cloister.h — the public interface of libcloister.
 *
 * Conventions (libuv's): opaque handles, symmetric _new/_free, functions
 * that can fail return 0 or a negative CLOISTER_E* code, and
 * cloister_strerror() names any code.
 */
#ifndef CLOISTER_H
#define CLOISTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLOISTER_VERSION_MAJOR 0
#define CLOISTER_VERSION_MINOR 1
#define CLOISTER_VERSION_PATCH 0

#if defined(__GNUC__)
#define CLOISTER_API __attribute__((visibility("default")))
#else
#define CLOISTER_API
#endif

/* Error codes: always negative. */
#define CLOISTER_ERRNO_MAP(X)                                              \
	X(EINVAL, -1, "invalid argument")                                  \
	X(ENOMEM, -2, "out of memory")                                     \
	X(ENOSPC, -3, "does not fit")                                      \
	X(ENOENT, -4, "not found")                                         \
	X(ELIMIT, -5, "configured limit reached")                          \
	X(ESTATE, -6, "not valid in the current state")                    \
	X(ETIMEDOUT, -7, "timed out")                                      \
	X(EPROTO, -8, "malformed input")                                   \
	X(EIO, -9, "input/output error")                                   \
	X(EEXIST, -10, "already exists")

typedef enum cloister_errno {
#define CLOISTER_ERRNO_ENUM(name, value, text) CLOISTER_##name = value,
	CLOISTER_ERRNO_MAP(CLOISTER_ERRNO_ENUM)
#undef CLOISTER_ERRNO_ENUM
} cloister_errno;

/* The status machine of a node (Cloister's). */
typedef enum cloister_state {
	CLOISTER_DOWN = 0,   /* created, not started */
	CLOISTER_ASSEMBLING, /* looking for peers, no quorum yet */
	CLOISTER_REHASHING,  /* membership changed or quorum lost */
	CLOISTER_READY,      /* quorum held, ring rebuilt for this view */
	CLOISTER_STOPPING,   /* leaving gracefully */
	CLOISTER_STOPPED,    /* left */
} cloister_state;

/* "down", "assembling", "rehashing", "ready", "stopping", "stopped". */
CLOISTER_API const char *cloister_state_name(cloister_state s);


/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/*
 * Settings are key/value strings, the same names the agent takes as flags
 * (--KEY), environment (CLOISTER_KEY) and config file lines:
 *
 *   app        cluster (application) name, the label in every packet
 *              [default "cloister"]
 *   name       this node's name, unique in the cluster [APP@ADDRESS]
 *   advertise  IP:PORT peers dial [chosen by `naming`, port 7946]
 *   bind       IP:PORT to listen on [the advertise address]
 *   sentry     how peers are found: dns:NAME (or a bare NAME: every A and
 *              AAAA answer is a peer), srv:_svc._proto.NAME (a port per
 *              peer), or a list of name@host[:port] / host:port, comma
 *              separated; re-resolved every discovery_interval [none]
 *   naming     auto (an address among the sentry's DNS answers, else a
 *              non-loopback one), nonode (no network: consensus must be
 *              1), shortnames (app@host), longnames (app@fqdn) [auto]
 *   discovery_interval  seconds between re-resolutions of the sentry [5]
 *   tcp_only   true: no UDP, every packet over TCP [false]
 *   tcp_ping   a probe that got no ack in time is also sent over TCP,
 *              beside the indirect probes: loss that ate the datagrams
 *              rarely stops a live member answering that way [true]
 *   key        cluster key, 64 hex or base64 of 32 bytes: turns on
 *              authenticated encryption of every packet and stream
 *   key_file   a file holding the key (not group/world readable)
 *   passphrase derive the key from a passphrase (like an Erlang cookie)
 *   insecure   true: allow running without a key on a non-loopback
 *              address (plaintext; anyone reaching the port can join)
 *              [false]
 *   consensus  N, or majority:N (ready only while > N/2 of N are live) [1]
 *   profile    timing: lan, local or wan [lan]
 *   tag        KEY=VALUE, repeatable: member metadata gossiped with the
 *              node; "groups" (comma separated ring names) and "weight"
 *              (1..64, virtual-node multiplier) shape the hash rings
 *   ring       placement: default or libring [default]
 *   vnodes     virtual nodes per member and weight unit [128]
 *   max_members  bound on the member table [65536]
 *   tags_max   bound on any member's encoded tags, bytes [512]
 *   user_queue_max  application messages queued each way [1024]
 *   max_connections TCP streams open at once, inbound and outbound each
 *              [256]
 *   max_connections_per_address  inbound TCP streams from one IP [16]
 *   max_calls  multicalls pending at once [256]
 */
typedef struct cloister_config cloister_config_t;

CLOISTER_API cloister_config_t *cloister_config_new(void);
CLOISTER_API void cloister_config_free(cloister_config_t *cfg);
/* 0, or CLOISTER_EINVAL with a message in cloister_config_error(). */
CLOISTER_API int cloister_config_set(cloister_config_t *cfg, const char *key,
				     const char *value);
/* The last error's explanation ("" if none); valid until the next call. */
CLOISTER_API const char *cloister_config_error(const cloister_config_t *cfg);

/* ------------------------------------------------------------------ */
/* Node lifecycle                                                      */
/* ------------------------------------------------------------------ */

typedef struct cloister cloister_t;

/* Copies what it needs from cfg (which may be freed at once).  NULL with
 * *err set on a configuration the node cannot run with. */
CLOISTER_API cloister_t *cloister_new(const cloister_config_t *cfg, int *err);
/* Frees everything; a node that did not leave simply stops (peers will
 * see it fail).  No listener call is made from inside. */
CLOISTER_API void cloister_free(cloister_t *c);

/* down -> assembling.  A networked node without a transport of its own
 * (cloister_set_transport) starts the built-in runtime: a thread running
 * the event loop, UDP and TCP sockets, discovery.  A nonode node with
 * consensus 1 is ready at once. */
CLOISTER_API int cloister_start(cloister_t *c);
/* The address this node advertises and its name, chosen by `naming` when
 * not configured ("" for nonode).  Valid for the handle's lifetime. */
CLOISTER_API const char *cloister_name(cloister_t *c);
CLOISTER_API const char *cloister_address(cloister_t *c);
/* Runtime join: push-pull with each address ("host:port"). */
CLOISTER_API int cloister_join_addrs(cloister_t *c, const char *const *addrs,
				     size_t n);

/* Keyring (with a cluster key configured): install everywhere, use (make
 * primary) everywhere, remove the old one: rotation without downtime. */
CLOISTER_API int cloister_keys_install(cloister_t *c, const char *key);
CLOISTER_API int cloister_keys_use(cloister_t *c, const char *key);
CLOISTER_API int cloister_keys_remove(cloister_t *c, const char *key);
/* Fingerprints (16 hex) of the installed keys, primary first. */
CLOISTER_API int cloister_keys_list(cloister_t *c, char (*out)[17],
				    size_t max, size_t *n);

/* Counters for metrics: a flat list of name/value pairs. */
typedef struct cloister_counter {
	const char *name; /* e.g. "packets_in", "drops_auth" */
	uint64_t value;
} cloister_counter;
CLOISTER_API int cloister_counters(cloister_t *c, cloister_counter *out,
				   size_t max, size_t *n);
/* Graceful leave: stopping, then stopped once the leave has been gossiped
 * (drive the node until cloister_status() says stopped). */
CLOISTER_API int cloister_leave(cloister_t *c);

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

#define CLOISTER_NAME_MAX 255

typedef enum cloister_member_status {
	CLOISTER_MEMBER_ALIVE = 0,
	CLOISTER_MEMBER_SUSPECT,
	CLOISTER_MEMBER_DEAD,
	CLOISTER_MEMBER_LEFT,
} cloister_member_status;

/* "alive", "suspect", "dead", "left". */
CLOISTER_API const char *cloister_member_status_name(cloister_member_status s);

typedef struct cloister_tag {
	const char *key;
	const char *value;
} cloister_tag;

typedef struct cloister_member {
	const char *name;
	const char *addr; /* "host:port" */
	cloister_member_status status;
	uint32_t incarnation;
	uint64_t start_ms;
	const cloister_tag *tags;
	size_t n_tags;
} cloister_member;

typedef struct cloister_ring_info {
	const char *name; /* "" is the default ring */
	uint64_t checksum;
	size_t members;
} cloister_ring_info;

typedef struct cloister_snapshot {
	const char *node;
	cloister_state state;
	unsigned consensus;   /* members needed */
	unsigned majority_of; /* N of majority:N, or 0 */
	size_t alive;         /* live members (alive + suspect), self included */
	const char *sentry;   /* "" while none */
	const cloister_ring_info *rings;
	size_t n_rings;
	/* "" normally.  Once another live process has shown it holds this
	 * node's name (it started later and answered at its address), this
	 * node stops claiming the name for good (state stopped) and this is
	 * that process's address. */
	const char *superseded_by;
} cloister_snapshot;

CLOISTER_API cloister_state cloister_status(cloister_t *c);
/* A consistent copy; release with cloister_snapshot_free(). */
CLOISTER_API int cloister_snapshot_get(cloister_t *c, cloister_snapshot **out);
CLOISTER_API void cloister_snapshot_free(cloister_snapshot *s);
/* Every known member, tombstones included, self first; release with
 * cloister_members_free(). */
CLOISTER_API int cloister_members(cloister_t *c, cloister_member **out,
				  size_t *n);
CLOISTER_API void cloister_members_free(cloister_member *m, size_t n);

/* Replaces this node's tags at run time (all of them: n = 0 clears them)
 * and announces the node again with a higher incarnation, so every member
 * sees the new tags and the rings follow a changed groups or weight.
 * Keys are unique, 1..64 bytes, values up to 255, all within tags_max;
 * "cloister.proto" is reserved.  0, CLOISTER_EINVAL, CLOISTER_ELIMIT (over
 * tags_max), CLOISTER_ESTATE (nonode, or leaving). */
CLOISTER_API int cloister_set_tags(cloister_t *c, const cloister_tag *tags,
				   size_t n);
/* Serf's force-leave: a member this node holds failed (dead) or suspect
 * becomes left on every node, and is then reaped like any member that
 * left.  A member that is in fact alive refutes it.  0, CLOISTER_ENOENT
 * (not a member), CLOISTER_ESTATE (alive, left already, or this node). */
CLOISTER_API int cloister_force_leave(cloister_t *c, const char *name);

/* ------------------------------------------------------------------ */
/* Placement                                                           */
/* ------------------------------------------------------------------ */

/* ring NULL or "" is the default ring.  Owners are copied into out
 * (CLOISTER_NAME_MAX + 1 bytes each), so they stay valid.  While members
 * churn, a running node settles its rings in batches, at most once per
 * interval (20 us per ring point, at most 3 s, reached at 1,000 members
 * and 128 vnodes; a lone change after a quiet interval at once), so answers
 * may trail the member list by that much; the status goes to ready only
 * once the rings hold its members.  A node driven with cloister_tick()
 * settles on every step.
 * CLOISTER_ENOENT: no such ring or it is empty. */
CLOISTER_API int cloister_whois(cloister_t *c, const char *ring,
				const void *key, size_t len,
				char out[CLOISTER_NAME_MAX + 1]);
/* 1 if this node owns the key, 0 if another does, or a negative error. */
CLOISTER_API int cloister_mine(cloister_t *c, const char *ring,
			       const void *key, size_t len);
/* Up to n distinct owners in ring order (replicas); returns how many. */
CLOISTER_API int cloister_whois_n(cloister_t *c, const char *ring,
				  const void *key, size_t len, size_t n,
				  char (*out)[CLOISTER_NAME_MAX + 1]);

/* ------------------------------------------------------------------ */
/* Listener                                                            */
/* ------------------------------------------------------------------ */

typedef enum cloister_member_event {
	CLOISTER_MEMBER_JOINED = 1,
	CLOISTER_MEMBER_UPDATED,
	CLOISTER_MEMBER_LEFT_EVENT,
	CLOISTER_MEMBER_FAILED,
	CLOISTER_MEMBER_REAPED,
} cloister_member_event;

/* Called by the thread that drives the node, after the protocol step that
 * caused the change, with no lock held: a callback may call any cloister_*
 * function except cloister_free().  Pointers are valid during the call. */
typedef struct cloister_listener {
	void *arg;
	void (*on_state_change)(void *arg, cloister_state from,
				cloister_state to, const cloister_snapshot *s);
	void (*on_member)(void *arg, cloister_member_event ev,
			  const cloister_member *m);
	void (*on_sentry)(void *arg, const char *sentry);
} cloister_listener;

CLOISTER_API int cloister_set_listener(cloister_t *c,
				       const cloister_listener *l);

/* Blocks until the node is ready or timeout_ms passes (negative: forever):
 * 0 or CLOISTER_ETIMEDOUT.  Another thread must be driving the node. */
CLOISTER_API int cloister_wait_ready(cloister_t *c, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

enum {
	CLOISTER_LOG_ERROR = 0,
	CLOISTER_LOG_WARN,
	CLOISTER_LOG_INFO,
	CLOISTER_LOG_DEBUG,
};

/* One logfmt line per event worth knowing ("level=info msg=..."), never
 * one per retry.  Default: lines up to CLOISTER_LOG_INFO to stderr. */
typedef void (*cloister_log_fn)(void *arg, int level, const char *line);
CLOISTER_API int cloister_set_logger(cloister_t *c, cloister_log_fn fn,
				     void *arg, int max_level);

/* ------------------------------------------------------------------ */
/* Messaging                                                           */
/* ------------------------------------------------------------------ */

/*
 * Named messages between members.  A handler registered for a topic runs
 * on the node's driving thread for every message with that topic; for a
 * call it may answer by setting *reply to a malloc'd buffer (cloister frees
 * it; none set: an empty answer), or keep the call to answer it later
 * (cloister_call_defer, below) rather than wait on that thread.  Application messages have their own bounded queues, so a flood of
 * them never delays membership traffic, and they go out in the spare time
 * of the loop.  Payloads up to 1 MiB; larger ones go over TCP.
 */
typedef void (*cloister_handler_fn)(void *arg, const char *topic,
				    const char *from, const void *payload,
				    size_t len, void **reply,
				    size_t *reply_len);

/*
 * Answering a call later.  A handler that cannot answer at once (it asks
 * another process, a database, a user) keeps the call instead of making
 * the node's thread wait: cloister_call_defer() inside the handler, then
 * cloister_call_answer() from any thread when the answer is ready, or
 * cloister_call_drop() to give up (the caller then counts this member
 * among those that did not answer).  The handler returns at once and
 * leaves *reply alone; the node goes on probing and gossiping meanwhile.
 * A caller gives up after its own timeout, so keep a call no longer than
 * that (cloister_multicall's timeout_ms; the agent keeps them 2 s).
 */
typedef struct cloister_call cloister_call;

/* Inside a handler running for a call on c: keeps the call open after the
 * handler returns and gives its handle (the same one if asked twice).
 * NULL outside a call's handler, out of memory, or when user_queue_max
 * calls are kept already: the call is then answered when the handler
 * returns, with its *reply (empty if it set none), as without this. */
CLOISTER_API cloister_call *cloister_call_defer(cloister_t *c);
/* Answers a kept call (payload up to 1 MiB) and frees the handle, from any
 * thread, in every case.  0; CLOISTER_EINVAL (a bad payload: the call is
 * dropped); CLOISTER_ELIMIT (the outbound queue is full: no answer goes
 * out); CLOISTER_ESTATE when its node was freed (then only the handle is
 * freed).  Not concurrently with cloister_free() of its node. */
CLOISTER_API int cloister_call_answer(cloister_call *call,
				      const void *payload, size_t len);
/* Frees a kept call without answering it.  Safe on NULL. */
CLOISTER_API void cloister_call_drop(cloister_call *call);

/* Registers (or, with fn NULL, removes) the handler for a topic. */
CLOISTER_API int cloister_handle(cloister_t *c, const char *topic,
				 cloister_handler_fn fn, void *arg);

/* To every alive member but this one (members NULL), or to the named ones.
 * Returns how many were queued, or CLOISTER_ELIMIT when the queue is full. */
CLOISTER_API int cloister_multicast(cloister_t *c, const char *topic,
				   const void *payload, size_t len,
				   const char *const *members, size_t n);

/* To the owner of key on ring (NULL: default).  CLOISTER_ENOENT if no
 * owner; delivered locally when the owner is this node. */
CLOISTER_API int cloister_send(cloister_t *c, const char *ring,
			       const void *key, size_t keylen,
			       const char *topic, const void *payload,
			       size_t len);

typedef struct cloister_reply {
	const char *member;
	const void *payload;
	size_t len;
} cloister_reply;

typedef struct cloister_multicall_result {
	cloister_reply *replies;
	size_t n_replies;
	const char **missing; /* members that did not answer in time */
	size_t n_missing;
} cloister_multicall_result;

/* Calls every alive member (this one included, if it has a handler) and
 * waits up to timeout_ms for their replies.  Blocks the calling thread,
 * which must not be the one driving the node.  Free the result with
 * cloister_multicall_free(). */
CLOISTER_API int cloister_multicall(cloister_t *c, const char *topic,
				    const void *payload, size_t len,
				    int timeout_ms,
				    cloister_multicall_result **out);
CLOISTER_API void cloister_multicall_free(cloister_multicall_result *r);

/* ------------------------------------------------------------------ */
/* Driving it yourself                                                 */
/* ------------------------------------------------------------------ */

/*
 * A program with its own event loop moves bytes and time itself: it gives
 * a send function, passes in every datagram (stream = 0) or stream frame
 * payload (stream = 1) that arrives, and calls cloister_tick() when
 * cloister_next_deadline() comes due.  Times are microseconds of
 * cloister_now_us()'s clock (CLOCK_MONOTONIC): the node set its first
 * timers from it when created.  Listener calls happen inside
 * cloister_feed/_tick/_join, after the protocol step.
 *
 * The send function is called from inside cloister_feed too, before the
 * packet is fully read (a ping is answered before the gossip that follows
 * it): buf must stay as it is until cloister_feed returns, so do not
 * encrypt or receive into it from the send function.
 */
CLOISTER_API int64_t cloister_now_us(void);

typedef void (*cloister_send_fn)(void *arg, const char *to, const void *buf,
				 size_t len, int stream);

CLOISTER_API int cloister_set_transport(cloister_t *c, cloister_send_fn send,
					void *arg);
CLOISTER_API int cloister_join(cloister_t *c, int64_t now_us,
			       const char *const *addrs, size_t n);
CLOISTER_API int cloister_feed(cloister_t *c, int64_t now_us, const char *from,
			       const void *buf, size_t len, int stream);
CLOISTER_API int cloister_tick(cloister_t *c, int64_t now_us);
CLOISTER_API int64_t cloister_next_deadline(cloister_t *c);

/* A static string for any code (unknown codes included); never NULL. */
CLOISTER_API const char *cloister_strerror(int err);
/* "0.1.0" */
CLOISTER_API const char *cloister_version(void);

#ifdef __cplusplus
}
#endif
#endif
