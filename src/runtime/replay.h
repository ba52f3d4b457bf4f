/*
 * replay.h — what a node accepts of a sealed packet's clear header
 * (keyring.h, version 2): its recipient, its time, and a replay window
 * per sender.
 *
 * Checked before any cryptography (cl_replay_check), so a misdirected,
 * stale or replayed packet costs a table lookup, and moved only by a
 * packet that then authenticated (cl_replay_commit), so garbage cannot
 * change anything:
 *
 *   recipient  0 or our own id, else CL_REPLAY_RECIPIENT
 *   time       within CL_REPLAY_SKEW_US of our wall clock, else
 *              CL_REPLAY_STALE.  Two minutes: hosts kept by NTP agree to
 *              milliseconds, unsynchronised hosts drift seconds a day, and a
 *              capture stays usable for at most this long at a node that
 *              holds no window for its sender (after a restart).  Kerberos
 *              allows five minutes for the same reason; half of that is
 *              plenty for a protocol whose own timeouts are seconds.
 *   window     per sender and kind (datagram, stream), the last
 *              CL_REPLAY_WINDOW accepted times.  A time seen there is
 *              CL_REPLAY_SEEN; one at or below the window's floor (the
 *              highest time ever pushed out of it) is CL_REPLAY_TOO_OLD.
 *              Sender times are sparse (one clock for every recipient), so
 *              this is a set of times, not WireGuard's bitmap of
 *              consecutive counters; it still tolerates reordering by up to
 *              CL_REPLAY_WINDOW packets of one sender, which a datagram path
 *              or a few concurrent connections never come near.
 *
 * Bounds: at most max_senders senders (CL_REPLAY_SENDERS by default),
 * ~300 bytes each, allocated as authenticated senders appear; past that
 * the least recently heard of is forgotten (a key holder inventing sender
 * ids can churn the table, and then the time bound is what remains).
 */
#ifndef CLOISTER_RUNTIME_REPLAY_H
#define CLOISTER_RUNTIME_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

#define CL_REPLAY_SKEW_US (120ull * 1000000ull)
#define CL_REPLAY_WINDOW 32
#define CL_REPLAY_SENDERS 16384

enum cl_replay_verdict {
	CL_REPLAY_OK = 0,
	CL_REPLAY_RECIPIENT, /* for another node */
	CL_REPLAY_STALE,     /* time too far from our clock */
	CL_REPLAY_SEEN,      /* this sender's time accepted before */
	CL_REPLAY_TOO_OLD,   /* below this sender's window */
};

typedef struct cl_replay cl_replay;

/* max_senders 0: CL_REPLAY_SENDERS.  NULL without memory. */
cl_replay *cl_replay_new(size_t max_senders);
void cl_replay_free(cl_replay *r);

/* The verdict on a packet's header (cl_keyring_peek()), for a node whose
 * id is self_id, at wall clock now_us.  Changes nothing. */
enum cl_replay_verdict cl_replay_check(const cl_replay *r,
				       const cl_seal_info *info,
				       uint64_t self_id, uint64_t now_us);
/* Records an authenticated packet that cl_replay_check() passed. */
void cl_replay_commit(cl_replay *r, const cl_seal_info *info, uint64_t now_us);

/* Senders remembered now (tests, metrics). */
size_t cl_replay_senders(const cl_replay *r);

#endif
