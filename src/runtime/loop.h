/*
 * loop.h — the built-in runtime: one libevent loop, on its own thread,
 * moving a node's packets over real sockets.
 *
 *   UDP   one socket on the bind address: probes, acks, gossip and small
 *         application messages, one datagram per packet.
 *   TCP   a listener on the same address and port, and outbound
 *         connections, for push-pull, large application messages, and
 *         every packet in tcp_only mode, one frame a packet (frame.h).  A
 *         packet that arrived on a connection is answered on that
 *         connection (the peer's port there is an ephemeral one nobody
 *         could dial), bound to the sender id that authenticated there.
 *   Keys  with a keyring, every datagram and every frame is sealed
 *         (keyring.h): a header checked before any cryptography
 *         (recipient, time, replay window: replay.h), then the AEAD; what
 *         fails is dropped and counted by reason.
 *   Time  one timer, re-armed to the core's next deadline after every
 *         step.
 *   Discovery  the sentry is resolved on a thread of its own
 *         (discovery.h); each result is handed to the loop, which joins
 *         the peers it does not know alive.
 *
 * Bounds on what a remote peer can hold, keyed or not (only the
 * authentication differs):
 *   - inbound and outbound connections in separate pools of
 *     max_connections each, so strangers can never take the slots this
 *     node needs to dial out;
 *   - at most max_connections_per_address inbound connections from one IP
 *     address; past it, more are refused and counted;
 *   - a full inbound pool makes room by closing its oldest connection that
 *     has not authenticated a frame yet ("connections_evicted"): a stuck
 *     stranger never blocks a member that is about to authenticate;
 *     failing that, the authenticated one quiet the longest (1 s at
 *     least, no frame or output in progress), so that streams left open
 *     after answering joins do not shut a seed for their idle time;
 *   - before a frame authenticates, at most one 64 KiB unit of it is held
 *     (frame.h); the first authentication failure closes the connection;
 *   - deadlines that no trickle of bytes resets: a frame's head must
 *     authenticate within HEAD_DEADLINE (5 s) of its first byte, and a
 *     new inbound connection its first head within 5 s of connecting; a
 *     whole frame must arrive within FRAME_DEADLINE (30 s, memberlist's
 *     WAN TCP timeout; 16 MiB at 4.5 Mbit/s) ("connections_deadline");
 *   - packets being assembled share a budget of 4 x CL_WIRE_STREAM_MAX
 *     (64 MiB) across connections, of which one host's connections hold
 *     at most one CL_WIRE_STREAM_MAX (16 MiB), charged as their bytes
 *     come, not as claimed ("streams_over_budget"); a frame that needs
 *     room closes those whose sender has been quiet for a second, the
 *     largest first ("connections_stalled");
 *   - a connection whose peer stops reading is closed once its output
 *     passes two full frames, or after 30 s without progress; and
 *     when all connections together leave more than 4 x
 *     CL_WIRE_STREAM_MAX (64 MiB) unread, those holding the most whose
 *     peer has taken none of it for a second are closed until they do not
 *     ("connections_unread");
 *   - datagrams read per wake-up (so a flood cannot starve timers); idle
 *     connections between frames closed after 30 s.
 */
#ifndef CLOISTER_RUNTIME_LOOP_H
#define CLOISTER_RUNTIME_LOOP_H

#include "node_internal.h"

typedef struct cl_loop cl_loop;

/* Creates the sockets (bind errors are reported here, synchronously). */
cl_loop *cl_loop_new(cloister_t *c, int *err);
/* Starts the loop thread. */
int cl_loop_start(cl_loop *l);
/* Stops and joins the thread, closes everything.  Safe on NULL. */
void cl_loop_free(cl_loop *l);

/* Wakes the loop to drain the outbound application queue. */
void cl_loop_kick(cl_loop *l);
/* A join through these addresses, run on the loop thread. */
void cl_loop_join(cl_loop *l, const cl_addr *addrs, size_t n);
/* A graceful leave, run on the loop thread. */
void cl_loop_leave(cl_loop *l);

struct cl_loop_stats {
	uint64_t drops_auth;      /* did not open with any installed key */
	uint64_t drops_frame;     /* bad frame length or head */
	uint64_t drops_truncated; /* datagram shorter than a sealed header */
	uint64_t drops_version;   /* sealed with another version or kind */
	uint64_t drops_plaintext; /* a clear-text packet at a keyed node */
	uint64_t drops_unexpected;/* a stream head sent as a datagram */
	uint64_t drops_recipient; /* sealed for another node */
	uint64_t drops_stale;     /* time outside the skew allowed */
	uint64_t drops_replay;    /* a time this sender used before */
	uint64_t drops_too_old;   /* below this sender's replay window */
	uint64_t conns_refused;   /* pool full, or the per-address cap */
	uint64_t conns_evicted;   /* unauthenticated, closed for a newcomer */
	uint64_t conns_deadline;  /* a frame or its head came too slowly */
	uint64_t over_budget;     /* assembly budget spent */
	uint64_t conns_unread;    /* closed: output left unread */
	uint64_t conns_stalled;   /* closed: a frame stalled, its room needed */
	uint64_t send_errors;     /* sendto or connect failed */
	uint64_t streams_open;
	uint64_t discovery_runs;
	uint64_t v1_in, v1_out;   /* packets sealed in version 1 (deprecated) */
};
void cl_loop_stats(const cl_loop *l, struct cl_loop_stats *out);

#endif
