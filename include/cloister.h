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
 *   advertise  HOST:PORT peers dial; none means "nonode": no network,
 *              consensus must be 1 [none]
 *   consensus  N, or majority:N (ready only while > N/2 of N are live) [1]
 *   profile    timing: lan, local or wan [lan]
 *   tag        KEY=VALUE, repeatable: member metadata gossiped with the
 *              node; "groups" (comma separated ring names) and "weight"
 *              (1..64, virtual-node multiplier) shape the hash rings
 *   ring       placement: default or libring [default]
 *   vnodes     virtual nodes per member and weight unit [128]
 *   max_members  bound on the member table [65536]
 *   tags_max   bound on any member's encoded tags, bytes [512]
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

/* down -> assembling; a nonode node with consensus 1 is ready at once. */
CLOISTER_API int cloister_start(cloister_t *c);
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

/* ------------------------------------------------------------------ */
/* Placement                                                           */
/* ------------------------------------------------------------------ */

/* ring NULL or "" is the default ring.  Owners are copied into out
 * (CLOISTER_NAME_MAX + 1 bytes each), so they stay valid.
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
