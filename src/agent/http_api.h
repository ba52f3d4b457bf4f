/*
 * http_api.h — the agent's control API: HTTP/1.1 with JSON bodies, over
 * TCP (loopback by default) and over a Unix socket, served by libevent's
 * evhttp on the agent's main event base.
 *
 * Endpoints (errors are 4xx/5xx with {"error":"what happened and what to
 * do next"}):
 *
 *   GET  /v1/status     the node: name, address, status, consensus, rings
 *   GET  /v1/members    every known member, self first
 *   GET  /v1/whois      ?key=K[&ring=R][&n=N]: the owners of a key
 *   GET  /v1/events     a stream of JSON lines; ?answer=T1,T2 also
 *                       delivers multicalls on those topics as "call"
 *                       events, answered with POST /v1/reply
 *   POST /v1/join       {"addrs":["host:port",...]}
 *   POST /v1/leave      graceful leave (202)
 *   POST /v1/multicast  {"topic","data","members":[...]?}
 *   POST /v1/multicall  {"topic","data","timeout_ms"?}
 *   POST /v1/reply      {"id","data"}: answers a "call" event
 *   GET  /v1/keys       key fingerprints, primary first
 *   POST /v1/keys       {"op":"install|use|remove","key"}
 *   GET  /ready         200 when ready, else 503 (for probes)
 *   GET  /health        200 while the node runs
 *   GET  /metrics       Prometheus text format 0.0.4
 *
 * The API has no authentication: anyone who can connect controls the
 * node.  Keep the TCP listener on loopback (expose /metrics through a
 * proxy if it must leave the host) and rely on the Unix socket's 0600
 * mode for local access control.
 *
 * Topics beginning with "cloister." belong to the agent (it answers
 * "cloister.ping" itself): /v1/events refuses to answer them.
 */
#ifndef CLOISTER_AGENT_HTTP_API_H
#define CLOISTER_AGENT_HTTP_API_H

#include <stddef.h>

#include "cloister.h"

struct event_base;

typedef struct cl_http_api cl_http_api;

/* Serves the API on base (which the caller runs on one thread; every
 * callback happens there).  tcp_listen is "HOST:PORT" ("127.0.0.1:7947",
 * "[::1]:7947"; port 0 picks one, see cl_http_api_tcp_port) or NULL;
 * unix_path is a socket path or NULL: it is created with mode 0600, and a
 * stale socket left by a dead agent is replaced, but a live one (another
 * agent answers) or a file that is not a socket is an error.  NULL on
 * failure, with the reason in why. */
cl_http_api *cl_http_api_new(struct event_base *base, cloister_t *node,
			     const char *tcp_listen, const char *unix_path,
			     char *why, size_t whylen);
/* Stops serving: removes the topic handlers it registered, then clears
 * the node's listener with cloister_set_listener(node, NULL) — the one way
 * to know no listener or handler call (which publish here) is still
 * running, so the agent needs no shutdown ordering of its own; wakes the
 * calls waiting for a subscriber's reply; ends the event streams; waits
 * for running multicalls (each ends by its own timeout, at most 60 s);
 * closes every connection and removes the Unix socket if it is still
 * ours.  Call it on the base's thread, before cloister_free(node). */
void cl_http_api_free(cl_http_api *api);

/* The TCP port actually bound (useful with port 0), or 0 without TCP. */
int cl_http_api_tcp_port(const cl_http_api *api);

/* Thread-safe: queues one event (a JSON object, one line, no newline) for
 * every /v1/events subscriber.  Called from the node's thread by the
 * agent's listener; it copies the text and never blocks on a subscriber.
 * Each subscriber holds at most 1024 queued events: past that the oldest
 * are dropped and counted, and the subscriber is told with
 * {"type":"dropped","count":N} before the next event it gets. */
void cl_http_api_publish(cl_http_api *api, const char *json_line);

/* The same for a status change, plus the line every later subscriber gets
 * first ({"type":"status",...}: the status those queued events lead to).
 * Both happen under one lock, so a subscriber sees the current status and
 * then every change after it: none missed, none twice.  event_line may be
 * NULL (the initial status, before any change). */
void cl_http_api_publish_state(cl_http_api *api, const char *event_line,
			       const char *status_line);

#endif
