/*
 * cloister.h — the public interface of libcloister.
 *
 * Conventions (libuv's): opaque handles, symmetric _new/_free, functions
 * that can fail return 0 or a negative CLOISTER_E* code, and
 * cloister_strerror() names any code.
 */
#ifndef CLOISTER_H
#define CLOISTER_H

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

/* A static string for any code (unknown codes included); never NULL. */
CLOISTER_API const char *cloister_strerror(int err);
/* "0.1.0" */
CLOISTER_API const char *cloister_version(void);

#ifdef __cplusplus
}
#endif
#endif
