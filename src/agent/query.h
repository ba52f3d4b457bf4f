/*
 * query.h — control API requests: method, path, query string and body in,
 * a parsed request or a 4xx status with a message out.
 *
 * Pure (no I/O, no globals, no libevent) and bounded, so it is fuzzed on
 * its own (fuzz/fuzz_control.c).  Strict on purpose: unknown endpoints,
 * parameters and body fields, duplicates, wrong types and out-of-range
 * values are all refused with a message that names the culprit and what
 * to send instead, because a control API that guesses hides client bugs.
 */
#ifndef CLOISTER_AGENT_QUERY_H
#define CLOISTER_AGENT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Bounds                                                              */
/* ------------------------------------------------------------------ */

/* Application payloads are at most 1 MiB (the wire's limit), so a body
 * that carries one in JSON needs no more; a larger body is refused (413)
 * before it is parsed. */
#define CL_REQ_BODY_MAX (1024u * 1024u)
/* A query string carries a whois key and a few names: 8 KiB is ample and
 * keeps the decoding buffer small. */
#define CL_REQ_QUERY_MAX 8192u
/* The most parameters any endpoint takes is three. */
#define CL_REQ_PARAMS_MAX 16u
/* Topics, ring and member names: the wire's name limit. */
#define CL_REQ_NAME_MAX 255u
/* whois keys travel in the query string. */
#define CL_REQ_KEY_MAX 4096u
/* whois ?n=: replicas asked for at once. */
#define CL_REQ_OWNERS_MAX 64u
/* cloister_join_addrs() takes at most 64 seeds. */
#define CL_REQ_ADDRS_MAX 64u
/* "[IPv6]:port" is at most 47 bytes; the bound leaves room to say what
 * is wrong with a longer one without copying it whole. */
#define CL_REQ_ADDR_MAX 64u
/* Named multicast targets: a 1 MiB body holds about 4000 full-length
 * names; a larger audience is a multicast to everyone. */
#define CL_REQ_MEMBERS_MAX 4096u
/* GET /v1/members?tag=K=V: filters at once (all must match). */
#define CL_REQ_TAG_FILTERS_MAX 8u
/* POST /v1/tags: entries of set or unset (a 1024-byte tag block holds at
 * most 512 pairs). */
#define CL_REQ_TAGS_SET_MAX 512u
/* A tag key, as the wire allows it. */
#define CL_REQ_TAG_KEY_MAX 64u
/* Topics one /v1/events subscriber answers. */
#define CL_REQ_ANSWER_MAX 16u
/* multicall timeout: the default suits a LAN round trip with margin, the
 * maximum keeps a forgotten call from pinning a worker for long. */
#define CL_REQ_TIMEOUT_DEFAULT_MS 2000
#define CL_REQ_TIMEOUT_MAX_MS 60000
/* Key text: 64 hex digits or 44 base64 characters; room to spare. */
#define CL_REQ_KEYTEXT_MAX 256u
/* The Erlang port's call ids count from 1; 2^53 keeps them exact in
 * every JSON and term consumer (doubles). */
#define CL_REQ_ID_MAX ((uint64_t)1 << 53)
/* The HTTP API's call ids are 64 random bits, sent as 16 hex digits (a
 * JSON number would lose bits past 2^53); a subscriber proves who it is
 * with the 128-bit secret of its "answering" event, as 32 hex digits. */
#define CL_REQ_CALL_ID_HEX 16u
#define CL_REQ_SUBSCRIBER_HEX 32u

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef enum cl_route {
	CL_ROUTE_STATUS,
	CL_ROUTE_MEMBERS,
	CL_ROUTE_WHOIS,
	CL_ROUTE_EVENTS,
	CL_ROUTE_JOIN,
	CL_ROUTE_LEAVE,
	CL_ROUTE_MULTICAST,
	CL_ROUTE_MULTICALL,
	CL_ROUTE_REPLY,
	CL_ROUTE_KEYS_LIST,
	CL_ROUTE_KEYS_OP,
	CL_ROUTE_READY,
	CL_ROUTE_HEALTH,
	CL_ROUTE_METRICS,
	CL_ROUTE_RING, /* GET /v1/ring[?ring=R]: the rings as arcs */
	CL_ROUTE_TAGS,        /* POST /v1/tags {"set":["K=V"],"unset":["K"]} */
	CL_ROUTE_FORCE_LEAVE, /* POST /v1/force-leave {"name":"N"} */
} cl_route;

typedef enum cl_keys_op {
	CL_KEYS_INSTALL,
	CL_KEYS_USE,
	CL_KEYS_REMOVE,
} cl_keys_op;

/* Every string is NUL-terminated and owned by the request.  Names
 * (topics, rings, members, answer topics) are 1..CL_REQ_NAME_MAX bytes of
 * valid UTF-8 without control characters; key and data are arbitrary
 * bytes (valid UTF-8 when they came from JSON) and carry a length. */
typedef struct cl_request {
	cl_route route;
	bool head; /* HEAD: answer as for GET, without a body */

	/* whois */
	char *key;
	size_t key_len;
	char *ring; /* "" is the default ring */
	unsigned n; /* 1..CL_REQ_OWNERS_MAX */

	/* events */
	char **answer;
	size_t n_answer;

	/* join */
	char **addrs;
	size_t n_addrs;

	/* multicast, multicall, reply */
	char *topic;
	char *data; /* "" when absent */
	size_t data_len;
	char **members; /* multicast: NULL = every alive member */
	size_t n_members;
	int timeout_ms;
	uint64_t id; /* reply: the call's id, never 0 */
	char subscriber[CL_REQ_SUBSCRIBER_HEX + 1]; /* reply: lowercase hex */

	/* keys */
	cl_keys_op op;
	char *keytext;

	/* members: a bit per status (1 << CLOISTER_MEMBER_*), 0 = any; and
	 * "K=V" filters, each K 1..64 bytes before the first '='.  tags:
	 * the same "K=V" form for set, keys for unset. */
	unsigned status_mask;
	char **tags;
	size_t n_tags;
	char **unset;
	size_t n_unset;
	/* force-leave: the member */
	char *name;
} cl_request;

typedef struct cl_req_error {
	int status;        /* 400, 403, 404, 405, 413, 414; 500 out of memory */
	const char *allow; /* with 405: the Allow header's value */
	/* Printable ASCII (echoed client text is sanitized), so it can go
	 * into JSON and a terminal as it is. */
	char msg[320];
} cl_req_error;

/* method: the request method ("GET"); path: the URI's path, undecoded;
 * query: the query string without '?', or NULL; body: body_len bytes.
 * 0 with *out filled (release it with cl_request_free), or -1 with *err
 * filled and *out empty (cl_request_free on it is harmless). */
int cl_request_parse(const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, cl_request *out,
		     cl_req_error *err);
void cl_request_free(cl_request *r);

/* ------------------------------------------------------------------ */
/* Pieces, exposed for tests                                           */
/* ------------------------------------------------------------------ */

/* A decoded application/x-www-form-urlencoded query string: '+' is a
 * space, %XX a byte; pairs without '=' have an empty value; empty pairs
 * ("a=1&&b=2") are skipped.  Keys and values are NUL-terminated and may
 * hold NULs (%00), hence the lengths. */
typedef struct cl_query {
	size_t n;
	struct {
		const char *key, *val;
		size_t key_len, val_len;
	} p[CL_REQ_PARAMS_MAX];
	char *buf;
} cl_query;

/* 0, or -1 with a message in err (400, or 413 past CL_REQ_QUERY_MAX):
 * bad escapes, too many parameters, a key given twice. */
int cl_query_parse(const char *text, size_t len, cl_query *q,
		   cl_req_error *err);
/* The value for key, or NULL. */
const char *cl_query_get(const cl_query *q, const char *key, size_t *len);
void cl_query_free(cl_query *q);

/* Whether s is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
bool cl_utf8_valid(const void *s, size_t len);

#endif
