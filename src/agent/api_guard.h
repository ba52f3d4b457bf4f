/*
 * api_guard.h — whether a control API request may be served at all,
 * decided from its request line and headers before anything else reads it.
 *
 * The agent's trust model (DESIGN.md): the control API obeys holders of
 * its token, and the owner of its Unix socket; the probe listener only
 * reads.  A web page in a browser on the same host is nobody's agent, so
 * the guard also refuses what only a browser sends:
 *   - a Host that is not a loopback literal, "localhost" or the configured
 *     listening host: with DNS rebinding a page's own name resolves to
 *     127.0.0.1, and the browser then sends that name as Host;
 *   - any Origin header: browsers add it to every cross-origin POST and
 *     CORS request, and no client of this API is a web page;
 *   - a POST whose Content-Type is not application/json: a page can POST
 *     text/plain or a form without a preflight, never application/json.
 *
 * Per listener ("front"):
 *   HTTP   the token (Authorization: Bearer TOKEN), Host, Origin, JSON;
 *   UNIX   Origin and JSON; the peer's uid was checked when it connected
 *          (no browser reaches a Unix socket, so no Host check);
 *   PROBE  Host and Origin; no token (probes and scrapers hold none), and
 *          any IP literal as Host, since kubelet and Prometheus send the
 *          address they dialled: an IP literal cannot be rebound.
 *
 * Pure (no I/O, no libevent): fuzzed with the request parser in
 * fuzz/fuzz_control.c.
 */
#ifndef CLOISTER_AGENT_API_GUARD_H
#define CLOISTER_AGENT_API_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "query.h"

/* A token is 16 to 256 visible ASCII characters (0x21..0x7e): what fits
 * in an Authorization header as it is.  Generated ones are 64 hex digits
 * (256 bits). */
#define CL_TOKEN_MIN 16u
#define CL_TOKEN_MAX 256u

typedef enum cl_front {
	CL_FRONT_HTTP,
	CL_FRONT_UNIX,
	CL_FRONT_PROBE,
} cl_front;

typedef struct cl_guard {
	cl_front front;
	/* HTTP and PROBE: the host the listener was given ("127.0.0.1",
	 * "::1" without brackets, "0.0.0.0", a name); a wildcard address
	 * accepts every IP literal as Host. */
	const char *host;
	/* HTTP: the token every request must carry. */
	const char *token;
} cl_guard;

/* What the guard reads of a request.  Each header is its first value
 * (NULL when absent) and how many times it was given. */
typedef struct cl_guard_req {
	const char *method; /* "GET", "POST", ... */
	bool http11;        /* HTTP/1.1 (Host required) rather than 1.0 */
	const char *host;
	unsigned n_host;
	const char *origin;
	unsigned n_origin;
	const char *authorization;
	unsigned n_authorization;
	const char *content_type;
	unsigned n_content_type;
} cl_guard_req;

/* Why a request was refused, for the agent's counters. */
typedef enum cl_guard_why {
	CL_GUARD_OK,
	CL_GUARD_MALFORMED, /* 400: Host missing or repeated, headers repeated */
	CL_GUARD_HOST,      /* 403 */
	CL_GUARD_ORIGIN,    /* 403 */
	CL_GUARD_TOKEN,     /* 401 */
	CL_GUARD_TYPE,      /* 415 */
} cl_guard_why;

/* CL_GUARD_OK, or the reason with err filled (status 400, 401, 403 or
 * 415, a printable ASCII message that never echoes the token). */
cl_guard_why cl_guard_check(const cl_guard *g, const cl_guard_req *r,
			    cl_req_error *err);

/* Whether s[0..len) is a usable token (see CL_TOKEN_MIN). */
bool cl_token_ok(const char *s, size_t len);

/* Whether a listening host ("127.0.0.1", "::1", "[::1]", "localhost")
 * can only be reached from this machine. */
bool cl_host_is_loopback(const char *host);

/* Compares in time that depends only on the lengths. */
bool cl_token_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
