/*
 * loop.h — the built-in runtime: one libevent loop, on its own thread,
 * moving a node's packets over real sockets.
 *
 *   UDP   one socket on the bind address: probes, acks, gossip and small
 *         application messages, one datagram per packet.
 *   TCP   a listener on the same address and port, and outbound
 *         connections, for push-pull, large application messages, and
 *         every packet in tcp_only mode.  A frame is a u32 big-endian
 *         length and the packet.  A packet that arrived on a connection
 *         is answered on that connection (the peer's port there is an
 *         ephemeral one nobody could dial).
 *   Keys  with a keyring, every datagram and every frame is sealed
 *         (keyring.h); what does not open is dropped and counted.
 *   Time  one timer, re-armed to the core's next deadline after every
 *         step.
 *   Discovery  the sentry is resolved on a thread of its own
 *         (discovery.h); each result is handed to the loop, which joins
 *         the peers it does not know alive.
 *
 * Bounds: connections (max_connections; more are refused and counted),
 * frame size (CL_WIRE_STREAM_MAX), datagrams read per wake-up (so a flood
 * cannot starve timers), idle connections closed after 30 s.
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
	uint64_t drops_frame;     /* bad frame length */
	uint64_t conns_refused;   /* over max_connections */
	uint64_t send_errors;     /* sendto or connect failed */
	uint64_t streams_open;
	uint64_t discovery_runs;
	uint64_t drops_replay;    /* a recently accepted sealed packet again */
};
void cl_loop_stats(const cl_loop *l, struct cl_loop_stats *out);

#endif
