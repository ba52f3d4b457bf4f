/*
 * fuzz_control.c — the control API's request parser, cl_request_parse(),
 * and its admission checks, cl_guard_check(), on arbitrary requests.
 *
 * Input: METHOD '\n' PATH '\n' QUERY '\n' BODY (the body is the rest and
 * may hold any bytes; a missing part is empty).  The same bytes are also
 * read as a request's headers for the guard: each body line "Name: value"
 * is a header (Host, Origin, Authorization and Content-Type are the ones
 * it reads), the body's length picks the listener (HTTP, Unix, probe) and
 * whether the request says HTTP/1.1.
 *
 * Beyond "does not crash", it checks what the HTTP layer relies on,
 * aborting on any violation:
 *   - an error is a 4xx (or 500) with a non-empty message of printable
 *     ASCII (it goes into JSON and terminals as it is), 405 carries an
 *     Allow value, and the request is left empty;
 *   - a success holds only in-range values: names valid (1..255 bytes of
 *     UTF-8 without control characters), counts and numbers within their
 *     bounds, data valid UTF-8 no longer than the body, strings
 *     NUL-terminated;
 *   - parsing is deterministic: the same input gives the same answer;
 *   - the guard admits an HTTP request only with exactly one Authorization
 *     carrying the token, never with an Origin, a POST only with one
 *     application/json Content-Type; it refuses with 400, 401, 403 or 415
 *     and a printable message that holds the token only where the client
 *     put it in a header the message echoes (Host, Content-Type).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "agent/query.h"

/* The guard is pure and small; compiled into this target alone. */
#include "agent/api_guard.c"

/* Past the body bound the parser refuses at once: nothing new there. */
#define INPUT_MAX (CL_REQ_BODY_MAX + CL_REQ_QUERY_MAX + 64)

static void check_name(const char *s)
{
	size_t n = strlen(s);
	REQUIRE(n >= 1 && n <= CL_REQ_NAME_MAX);
	REQUIRE(cl_utf8_valid(s, n));
	for (size_t i = 0; i < n; i++)
		REQUIRE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_ok(const cl_request *r, const char *method, size_t body_len)
{
	REQUIRE(r->head == !strcmp(method, "HEAD"));
	REQUIRE(r->data != NULL && r->data[r->data_len] == '\0');
	switch (r->route) {
	case CL_ROUTE_WHOIS:
		REQUIRE(r->key && r->key_len <= CL_REQ_KEY_MAX);
		REQUIRE(r->key[r->key_len] == '\0');
		REQUIRE(r->ring);
		if (r->ring[0])
			check_name(r->ring);
		REQUIRE(r->n >= 1 && r->n <= CL_REQ_OWNERS_MAX);
		break;
	case CL_ROUTE_EVENTS:
		REQUIRE(r->n_answer <= CL_REQ_ANSWER_MAX);
		for (size_t i = 0; i < r->n_answer; i++) {
			check_name(r->answer[i]);
			REQUIRE(strncmp(r->answer[i], "cloister.", 9) != 0);
			for (size_t k = 0; k < i; k++)
				REQUIRE(strcmp(r->answer[i], r->answer[k]) != 0);
		}
		break;
	case CL_ROUTE_JOIN:
		REQUIRE(r->n_addrs >= 1 && r->n_addrs <= CL_REQ_ADDRS_MAX);
		for (size_t i = 0; i < r->n_addrs; i++) {
			size_t n = strlen(r->addrs[i]);
			REQUIRE(n >= 1 && n <= CL_REQ_ADDR_MAX);
			REQUIRE(strchr(r->addrs[i], ' ') == NULL);
		}
		break;
	case CL_ROUTE_MULTICAST:
	case CL_ROUTE_MULTICALL:
		REQUIRE(r->topic);
		check_name(r->topic);
		REQUIRE(r->data_len <= body_len);
		REQUIRE(cl_utf8_valid(r->data, r->data_len));
		REQUIRE(r->timeout_ms >= 1 &&
			r->timeout_ms <= CL_REQ_TIMEOUT_MAX_MS);
		REQUIRE((r->members == NULL) == (r->n_members == 0));
		REQUIRE(r->n_members <= CL_REQ_MEMBERS_MAX);
		for (size_t i = 0; i < r->n_members; i++)
			check_name(r->members[i]);
		if (r->route == CL_ROUTE_MULTICALL)
			REQUIRE(r->members == NULL);
		break;
	case CL_ROUTE_REPLY:
		REQUIRE(r->id != 0);
		REQUIRE(strlen(r->subscriber) == CL_REQ_SUBSCRIBER_HEX);
		REQUIRE(strspn(r->subscriber, "0123456789abcdef") ==
			CL_REQ_SUBSCRIBER_HEX);
		REQUIRE(r->data_len <= body_len);
		REQUIRE(cl_utf8_valid(r->data, r->data_len));
		break;
	case CL_ROUTE_KEYS_OP:
		REQUIRE(r->keytext && r->keytext[0]);
		REQUIRE(strlen(r->keytext) <= CL_REQ_KEYTEXT_MAX);
		REQUIRE(r->op == CL_KEYS_INSTALL || r->op == CL_KEYS_USE ||
			r->op == CL_KEYS_REMOVE);
		break;
	case CL_ROUTE_RING:
		if (r->ring && r->ring[0])
			check_name(r->ring);
		REQUIRE(!r->topic && !r->addrs && !r->answer && !r->key);
		break;
	case CL_ROUTE_TAGS:
		REQUIRE(r->n_tags <= CL_REQ_TAGS_SET_MAX &&
			r->n_unset <= CL_REQ_TAGS_SET_MAX);
		for (size_t i = 0; i < r->n_tags; i++) {
			check_name(r->tags[i]);
			const char *eq = strchr(r->tags[i], '=');
			REQUIRE(eq && eq != r->tags[i] &&
				eq - r->tags[i] <= CL_REQ_TAG_KEY_MAX);
		}
		for (size_t i = 0; i < r->n_unset; i++) {
			check_name(r->unset[i]);
			REQUIRE(!strchr(r->unset[i], '=') &&
				strlen(r->unset[i]) <= CL_REQ_TAG_KEY_MAX);
		}
		break;
	case CL_ROUTE_FORCE_LEAVE:
		REQUIRE(r->name);
		check_name(r->name);
		break;
	case CL_ROUTE_MEMBERS:
		REQUIRE(r->status_mask < 16 &&
			r->n_tags <= CL_REQ_TAG_FILTERS_MAX);
		for (size_t i = 0; i < r->n_tags; i++)
			REQUIRE(strchr(r->tags[i], '=') != NULL);
		REQUIRE(!r->topic && !r->addrs && !r->answer && !r->key);
		break;
	case CL_ROUTE_STATUS:
	case CL_ROUTE_LEAVE:
	case CL_ROUTE_KEYS_LIST:
	case CL_ROUTE_READY:
	case CL_ROUTE_HEALTH:
	case CL_ROUTE_METRICS:
		REQUIRE(!r->topic && !r->addrs && !r->answer && !r->key);
		break;
	default:
		abort();
	}
}

static void check_err(const cl_request *r, const cl_req_error *e)
{
	static const int statuses[] = {400, 403, 404, 405, 413, 414, 500};
	int ok = 0;
	for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
		ok |= e->status == statuses[i];
	REQUIRE(ok);
	REQUIRE((e->status == 405) == (e->allow != NULL));
	size_t n = strlen(e->msg);
	REQUIRE(n > 0 && n < sizeof e->msg);
	for (size_t i = 0; i < n; i++)
		REQUIRE(e->msg[i] >= 0x20 && e->msg[i] < 0x7f);
	REQUIRE(!r->key && !r->ring && !r->answer && !r->addrs && !r->topic &&
		!r->data && !r->members && !r->keytext);
}

#define GUARD_TOKEN "fuzz-token-0123456789abcdef"
#define GUARD_HEADERS_MAX 32

/* The guard on the body read as header lines. */
static void fuzz_guard(const char *method, const uint8_t *body, size_t len)
{
	static const cl_front fronts[] = {CL_FRONT_HTTP, CL_FRONT_UNIX,
					  CL_FRONT_PROBE};
	static const char *const hosts[] = {"127.0.0.1", "0.0.0.0", "::1",
					    "node.internal"};
	char *copy = malloc(len + 1);
	REQUIRE(copy != NULL);
	memcpy(copy, body, len);
	copy[len] = '\0';
	cl_guard g = {fronts[len % 3], hosts[(len / 3) % 4], GUARD_TOKEN};
	cl_guard_req r = {.method = method, .http11 = (len / 12) % 2 == 0};
	char *save = NULL;
	unsigned lines = 0;
	for (char *l = strtok_r(copy, "\n", &save);
	     l && lines < GUARD_HEADERS_MAX; l = strtok_r(NULL, "\n", &save)) {
		lines++;
		char *colon = strchr(l, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		const char **slot = NULL;
		unsigned *n = NULL;
		if (!strcasecmp(l, "Host")) {
			slot = &r.host;
			n = &r.n_host;
		} else if (!strcasecmp(l, "Origin")) {
			slot = &r.origin;
			n = &r.n_origin;
		} else if (!strcasecmp(l, "Authorization")) {
			slot = &r.authorization;
			n = &r.n_authorization;
		} else if (!strcasecmp(l, "Content-Type")) {
			slot = &r.content_type;
			n = &r.n_content_type;
		}
		if (n && (*n)++ == 0)
			*slot = v;
	}
	cl_req_error e, e2;
	cl_guard_why w = cl_guard_check(&g, &r, &e);
	REQUIRE(cl_guard_check(&g, &r, &e2) == w);
	if (w == CL_GUARD_OK) {
		REQUIRE(r.n_origin == 0);
		if (g.front == CL_FRONT_HTTP)
			REQUIRE(r.n_authorization == 1 &&
				strstr(r.authorization, GUARD_TOKEN));
		if (g.front != CL_FRONT_UNIX)
			REQUIRE(r.n_host == 1 || (r.n_host == 0 && !r.http11));
		if (!strcmp(method, "POST")) {
			REQUIRE(r.n_content_type == 1);
			const char *t = r.content_type + strspn(r.content_type,
								 " \t");
			REQUIRE(!strncasecmp(t, "application/json", 16));
		}
	} else {
		REQUIRE(e.status == 400 || e.status == 401 || e.status == 403 ||
			e.status == 415);
		REQUIRE(e.status == e2.status && !strcmp(e.msg, e2.msg));
		size_t n = strlen(e.msg);
		REQUIRE(n > 0 && n < sizeof e.msg);
		for (size_t i = 0; i < n; i++)
			REQUIRE(e.msg[i] >= 0x20 && e.msg[i] < 0x7f);
		/* Only the client's own Host or Content-Type is echoed. */
		REQUIRE(strstr(e.msg, GUARD_TOKEN) == NULL ||
			(r.host && strstr(r.host, GUARD_TOKEN)) ||
			(r.content_type && strstr(r.content_type, GUARD_TOKEN)));
	}
	/* The helpers on arbitrary text. */
	cl_token_ok(copy, strlen(copy));
	cl_host_is_loopback(copy);
	free(copy);
}

/* The next '\n'-terminated part as a C string (malloc'd). */
static char *part(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = nl ? nl : end;
	size_t n = (size_t)(stop - *p);
	char *s = malloc(n + 1);
	REQUIRE(s != NULL);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	const uint8_t *p = data, *end = data + size;
	char *method = part(&p, end);
	char *path = part(&p, end);
	char *query = part(&p, end);
	size_t body_len = (size_t)(end - p);
	/* A copy of exactly body_len bytes, so reads past it are caught. */
	uint8_t *body = malloc(body_len ? body_len : 1);
	REQUIRE(body != NULL);
	memcpy(body, p, body_len);

	cl_request r, r2;
	cl_req_error e, e2;
	int rc = cl_request_parse(method, path, query, body, body_len, &r, &e);
	int rc2 = cl_request_parse(method, path, query, body, body_len, &r2, &e2);
	REQUIRE(rc == rc2);
	if (rc == 0) {
		check_ok(&r, method, body_len);
		REQUIRE(r.route == r2.route && r.data_len == r2.data_len &&
			!memcmp(r.data, r2.data, r.data_len));
	} else {
		REQUIRE(rc == -1);
		check_err(&r, &e);
		REQUIRE(e.status == e2.status && !strcmp(e.msg, e2.msg));
	}
	cl_request_free(&r);
	cl_request_free(&r2);

	/* The query decoder alone: every pair within the decoded buffer. */
	cl_query q;
	if (cl_query_parse(query, strlen(query), &q, &e) == 0) {
		REQUIRE(q.n <= CL_REQ_PARAMS_MAX);
		for (size_t i = 0; i < q.n; i++) {
			REQUIRE(q.p[i].key[q.p[i].key_len] == '\0');
			REQUIRE(q.p[i].val[q.p[i].val_len] == '\0');
			REQUIRE(q.p[i].key_len + q.p[i].val_len <= strlen(query));
		}
		cl_query_free(&q);
	} else {
		REQUIRE(q.buf == NULL && q.n == 0);
		REQUIRE(e.status == 400 || e.status == 414 || e.status == 500);
	}

	fuzz_guard(method, body, body_len);

	free(body);
	free(method);
	free(path);
	free(query);
	return 0;
}
