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
 * TCP frames are not delayed: a frame is written to a connection that may
 * be gone by the time a timer fires, and push-pull (the only TCP traffic
 * besides large messages) has no deadline the delay could break.
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
/* Frees what is still held (unsent) and prints the totals.  NULL is fine.
 * Call before the base is freed. */
void cl_fault_free(struct cl_fault *f);

#endif
#endif
