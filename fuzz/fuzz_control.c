/*
 * fuzz_control.c — the control API's request parser, cl_request_parse(),
 * on arbitrary requests.
 *
 * Input: METHOD '\n' PATH '\n' QUERY '\n' BODY (the body is the rest and
 * may hold any bytes; a missing part is empty).
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
 *   - parsing is deterministic: the same input gives the same answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "agent/query.h"

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
		REQUIRE(r->id >= 1 && r->id <= CL_REQ_ID_MAX);
		REQUIRE(r->data_len <= body_len);
		REQUIRE(cl_utf8_valid(r->data, r->data_len));
		break;
	case CL_ROUTE_KEYS_OP:
		REQUIRE(r->keytext && r->keytext[0]);
		REQUIRE(strlen(r->keytext) <= CL_REQ_KEYTEXT_MAX);
		REQUIRE(r->op == CL_KEYS_INSTALL || r->op == CL_KEYS_USE ||
			r->op == CL_KEYS_REMOVE);
		break;
	case CL_ROUTE_STATUS:
	case CL_ROUTE_MEMBERS:
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

	free(body);
	free(method);
	free(path);
	free(query);
	return 0;
}
