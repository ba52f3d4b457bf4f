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
 *   POST /v1/reply      {"id","subscriber","data"}: answers a "call" event
 *   GET  /v1/keys       key fingerprints, primary first
 *   POST /v1/keys       {"op":"install|use|remove","key"}
 *   GET  /ready         200 when ready, else 503 (for probes)
 *   GET  /health        200 while the node runs
 *   GET  /metrics       Prometheus text format 0.0.4
 *
 * Who is obeyed (api_guard.h has the checks and why):
 *   - over TCP, holders of the token (Authorization: Bearer TOKEN), on
 *     every endpoint; requests a browser makes (a foreign Host, an Origin,
 *     a POST that is not application/json) are refused;
 *   - over the Unix socket, its owner: the socket is created 0600 (under
 *     a restrictive umask, never chmod-ed after bind) and a peer whose uid
 *     is neither the agent's nor root is refused, whatever the file's mode;
 *   - the probe listener, when configured, serves GET /ready, /health and
 *     /metrics to anyone and nothing else: readiness and liveness probes
 *     and scrapers hold no token, and it keeps its own connections, so
 *     clients filling the main listener cannot make probes fail.
 *
 * Costs before anything is authenticated are bounded: a connection takes
 * a slot when it is accepted (64 per listener, 16 on the probe listener;
 * 16 more per listener are answered 503 and closed; past that the
 * listener stops accepting until one frees), and must deliver each
 * complete request within 10 s of connecting or of its previous one, or
 * it is closed: a client sending a header byte at a time holds a slot for
 * 10 s, not forever.
 *
 * Topics beginning with "cloister." belong to the agent (it answers
 * "cloister.ping" itself): /v1/events refuses to answer them.  A topic has
 * one answerer at a time, across this API and the Erlang port: a second
 * gets 409.  A "call" event's id is 64 random bits (16 hex digits), and
 * the reply must also carry the secret its subscriber was given in its
 * "answering" event: nobody else can answer a call, by guess or by copy.
 */
#ifndef CLOISTER_AGENT_HTTP_API_H
#define CLOISTER_AGENT_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

#include "cloister.h"
#include "pending_calls.h"

struct event_base;

typedef struct cl_http_api cl_http_api;

typedef struct cl_http_api_config {
	const char *tcp_listen;   /* "HOST:PORT" ("127.0.0.1:7947", "[::1]:7947";
				     port 0 picks one), or NULL */
	const char *unix_path;    /* a socket path, or NULL */
	const char *probe_listen; /* "HOST:PORT" of the probe listener, or NULL */
	const char *token;        /* required over TCP (copied); NULL without it */
	cl_topics *topics;        /* the agent's answered topics (pending_calls.h) */
} cl_http_api_config;

/* Serves the API on base (which the caller runs on one thread; every
 * callback happens there).  The Unix socket is created 0600; a stale
 * socket left by a dead agent is replaced, but a live one (another agent
 * answers) or a file that is not a socket is an error.  The process umask
 * is changed for the socket's bind: call this before other threads may
 * create files.  NULL on failure, with the reason in why. */
cl_http_api *cl_http_api_new(struct event_base *base, cloister_t *node,
			     const cl_http_api_config *cfg, char *why,
			     size_t whylen);
/* Stops serving: removes the topic handlers it registered, then clears
 * the node's listener with cloister_set_listener(node, NULL) — the one way
 * to know no listener or handler call (which publish here) is still
 * running, so the agent needs no shutdown ordering of its own; wakes the
 * calls waiting for a subscriber's reply; ends the event streams; waits
 * for running multicalls (each ends by its own timeout, at most 60 s);
 * closes every connection and removes the Unix socket if it is still
 * ours.  Call it on the base's thread, before cloister_free(node). */
void cl_http_api_free(cl_http_api *api);

/* The TCP port actually bound (useful with port 0), or 0 without TCP;
 * the same for the probe listener. */
int cl_http_api_tcp_port(const cl_http_api *api);
int cl_http_api_probe_port(const cl_http_api *api);

/* Thread-safe: queues one event (a JSON object, one line, no newline) for
 * every /v1/events subscriber.  Called from the node's thread by the
 * agent's listener; it copies the text and never blocks on a subscriber.
 * Each subscriber holds at most 1024 queued events and 8 MiB of them
 * (one event is at most ~6 MiB: a 1 MiB payload of control characters,
 * escaped): past either bound the oldest are dropped and counted, and the
 * subscriber is told with {"type":"dropped","count":N} before the next
 * event it gets.  Subscribers share each event's text, and each queue is
 * a suffix of the same sequence, so the API's event memory is about that
 * of its slowest subscriber. */
void cl_http_api_publish(cl_http_api *api, const char *json_line);

/* Whether any /v1/events subscriber would get a published event: with
 * none, the listener need not write the event's JSON at all (a join of
 * 1,000 members is 1,000 events on every agent, each one formatted and
 * thrown away). */
bool cl_http_api_listened(cl_http_api *api);

/* A member event happened (joined, updated, left, failed or reaped):
 * /v1/status reports the wall-clock time of the last one as
 * members_changed_ms, so "how long has this node's view been stable"
 * needs no polling (and a convergence measured across 1,000 loaded agents
 * does not depend on how fast a poller reaches each one).  Any thread. */
void cl_http_api_member_changed(cl_http_api *api);

/* The same for a status change, plus the line every later subscriber gets
 * first ({"type":"status",...}: the status those queued events lead to).
 * Both happen under one lock, so a subscriber sees the current status and
 * then every change after it: none missed, none twice.  event_line may be
 * NULL (the initial status, before any change). */
void cl_http_api_publish_state(cl_http_api *api, const char *event_line,
			       const char *status_line);

#endif
