/*
 * fault.h — outbound latency injection for chaos tests (test builds only).
 *
 * The kernel here has no netem, so a chaos scenario cannot delay packets
 * from outside: a build configured with -DCLOISTER_FAULT_INJECTION=ON holds
 * every outbound datagram for DELAY ± uniform JITTER milliseconds on a
 * libevent timer before sending it.  Without the option this header
 * declares nothing and fault.c compiles to an empty unit, so a default
 * build carries no trace of the hook.
 *
 * Settings, read when the loop starts:
 *   CLOISTER_FAULT_DELAY_MS, CLOISTER_FAULT_JITTER_MS  fixed values;
 *   CLOISTER_FAULT_FILE  a file holding "DELAY JITTER" (milliseconds),
 *       re-read every 250 ms, so a test turns latency on and off on
 *       running agents (a missing or unreadable file means 0 0).
 * Bounds: FAULT_MAX_HELD datagrams and FAULT_MAX_BYTES bytes held at once;
 * past either, a datagram is dropped and counted (a full queue is what a
 * slow link does too).  Totals are printed to stderr when the loop ends.
 *
 * Stream frames are held too (cl_fault_defer): the runtime's stream
 * fallback ping would otherwise rescue, undelayed, every probe the delayed
 * datagrams make late, and the scenario would measure nothing.  The
 * runtime's callback finds the connection again when the timer fires (it
 * may be gone: the frame is then dropped, as a reset would lose it).
 * Frames on one connection may be reordered by the jitter, like datagrams;
 * each frame is a whole sealed packet, so nothing breaks but the order.
 */
#ifndef CLOISTER_RUNTIME_FAULT_H
#define CLOISTER_RUNTIME_FAULT_H

#ifdef CLOISTER_FAULT_INJECTION

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

struct cl_fault;

/* NULL when no delay is configured (no env and no file): then sending is
 * untouched.  fd is the UDP socket the held datagrams leave from. */
struct cl_fault *cl_fault_new(struct event_base *base, evutil_socket_t fd);
/* Takes the datagram if a delay is in force (queued, or dropped when the
 * queue is full) and returns true; false means "send it now yourself".
 * Safe from any thread (the base is thread-aware). */
bool cl_fault_sendto(struct cl_fault *f, const uint8_t *buf, size_t len,
		     const struct sockaddr *to, socklen_t tolen);
/* Stream frames: if a delay is in force, copies buf and tag (tag_len <=
 * 64 bytes, e.g. the connection and its peer) and calls fire(arg, buf,
 * len, tag) on the loop thread after the delay; returns true (also when it
 * dropped the frame, queue full).  False: write it now yourself. */
typedef void (*cl_fault_fire_fn)(void *arg, const uint8_t *buf, size_t len,
				 const void *tag);
bool cl_fault_defer(struct cl_fault *f, const uint8_t *buf, size_t len,
		    const void *tag, size_t tag_len, cl_fault_fire_fn fire,
		    void *arg);
/* Frees what is still held (unsent) and prints the totals.  NULL is fine.
 * Call before the base is freed. */
void cl_fault_free(struct cl_fault *f);

#endif
#endif
