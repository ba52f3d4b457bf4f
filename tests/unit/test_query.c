/*
 * test_query.c — control API request parsing: query strings (%XX, '+',
 * duplicates, bounds, bad escapes), routing (404, 405 with Allow, HEAD),
 * endpoint parameters, and JSON bodies (field extraction, escapes, types,
 * ranges, unknown and missing fields, malformed JSON).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* query.c is pure and not part of the library (it lives with the agent):
 * compile it into this test. */
#include "agent/query.c"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Parses and expects success. */
static cl_request ok(const char *method, const char *path, const char *query,
		     const char *body)
{
	cl_request r;
	cl_req_error e;
	int rc = cl_request_parse(method, path, query, body,
				  body ? strlen(body) : 0, &r, &e);
	if (rc != 0)
		CHECK_FAIL("%s %s?%s %s: unexpected %d: %s", method, path,
			   query ? query : "", body ? body : "", e.status, e.msg);
	return r;
}

/* Parses and expects the given status, with msg containing needle. */
static void bad(const char *method, const char *path, const char *query,
		const char *body, int status, const char *needle)
{
	cl_request r;
	cl_req_error e;
	int rc = cl_request_parse(method, path, query, body,
				  body ? strlen(body) : 0, &r, &e);
	if (rc == 0)
		CHECK_FAIL("%s %s?%s %s: accepted, expected %d", method, path,
			   query ? query : "", body ? body : "", status);
	check_count++;
	if (e.status != status || !strstr(e.msg, needle) || !printable(e.msg))
		CHECK_FAIL("%s %s?%s %s: got %d \"%s\", expected %d with \"%s\"",
			   method, path, query ? query : "", body ? body : "",
			   e.status, e.msg, status, needle);
	/* A failed parse leaves nothing behind to free. */
	CHECK(r.topic == NULL && r.data == NULL && r.addrs == NULL);
	cl_request_free(&r);
}

/* ------------------------------------------------------------------ */
/* Query strings                                                       */
/* ------------------------------------------------------------------ */

static void test_query_decoding(void)
{
	cl_query q;
	cl_req_error e;
	const char *t = "a=1&b=x+y&c=%41%42%2b%2F&d&&e=";
	CHECK_EQ_INT(cl_query_parse(t, strlen(t), &q, &e), 0);
	CHECK_EQ_INT(q.n, 5);
	size_t len;
	CHECK_STR_EQ(cl_query_get(&q, "a", &len), "1");
	CHECK_STR_EQ(cl_query_get(&q, "b", &len), "x y");
	CHECK_STR_EQ(cl_query_get(&q, "c", &len), "AB+/");
	CHECK_EQ_INT(len, 4);
	CHECK_STR_EQ(cl_query_get(&q, "d", &len), "");
	CHECK_EQ_INT(len, 0);
	CHECK_STR_EQ(cl_query_get(&q, "e", &len), "");
	CHECK(cl_query_get(&q, "f", &len) == NULL);
	cl_query_free(&q);

	/* Keys are decoded too; %00 is a byte like any other. */
	t = "k%65y=a%00b&%2B=plus";
	CHECK_EQ_INT(cl_query_parse(t, strlen(t), &q, &e), 0);
	const char *v = cl_query_get(&q, "key", &len);
	CHECK(v && len == 3 && !memcmp(v, "a\0b", 3));
	CHECK_STR_EQ(cl_query_get(&q, "+", &len), "plus");
	cl_query_free(&q);

	/* Empty and absent query strings. */
	CHECK_EQ_INT(cl_query_parse("", 0, &q, &e), 0);
	CHECK_EQ_INT(q.n, 0);
	cl_query_free(&q);
	CHECK_EQ_INT(cl_query_parse(NULL, 0, &q, &e), 0);
	cl_query_free(&q);
	CHECK_EQ_INT(cl_query_parse("&&&", 3, &q, &e), 0);
	CHECK_EQ_INT(q.n, 0);
	cl_query_free(&q);
}

static void test_query_errors(void)
{
	cl_query q;
	cl_req_error e;
	static const char *const bad_escapes[] = {"a=%", "a=%4", "a=%G1",
						  "a=%zz", "%=1", "a=1%"};
	for (size_t i = 0; i < sizeof bad_escapes / sizeof *bad_escapes; i++) {
		const char *t = bad_escapes[i];
		CHECK_EQ_INT(cl_query_parse(t, strlen(t), &q, &e), -1);
		CHECK_EQ_INT(e.status, 400);
		CHECK(strstr(e.msg, "bad escape") != NULL);
		CHECK(printable(e.msg));
		CHECK(q.buf == NULL);
	}

	/* Duplicates, also when spelled differently. */
	const char *t = "key=a&ring=r&key=b";
	CHECK_EQ_INT(cl_query_parse(t, strlen(t), &q, &e), -1);
	CHECK(strstr(e.msg, "'key' is given twice") != NULL);
	t = "key=a&k%65y=b";
	CHECK_EQ_INT(cl_query_parse(t, strlen(t), &q, &e), -1);
	CHECK(strstr(e.msg, "twice") != NULL);

	/* At most CL_REQ_PARAMS_MAX parameters. */
	char buf[CL_REQ_QUERY_MAX + 2];
	size_t o = 0;
	for (unsigned i = 0; i < CL_REQ_PARAMS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%sp%u=%u",
				      i ? "&" : "", i, i);
	CHECK_EQ_INT(cl_query_parse(buf, o, &q, &e), 0);
	CHECK_EQ_INT(q.n, CL_REQ_PARAMS_MAX);
	cl_query_free(&q);
	o += (size_t)snprintf(buf + o, sizeof buf - o, "&one=more");
	CHECK_EQ_INT(cl_query_parse(buf, o, &q, &e), -1);
	CHECK_EQ_INT(e.status, 400);
	CHECK(strstr(e.msg, "more than 16") != NULL);

	/* The length bound: exactly at it is fine, one past is 414. */
	memset(buf, 'a', sizeof buf);
	buf[0] = 'k';
	buf[1] = '=';
	CHECK_EQ_INT(cl_query_parse(buf, CL_REQ_QUERY_MAX, &q, &e), 0);
	CHECK_EQ_INT(q.p[0].val_len, CL_REQ_QUERY_MAX - 2);
	cl_query_free(&q);
	CHECK_EQ_INT(cl_query_parse(buf, CL_REQ_QUERY_MAX + 1, &q, &e), -1);
	CHECK_EQ_INT(e.status, 414);
}

/* ------------------------------------------------------------------ */
/* Routing and parameters                                              */
/* ------------------------------------------------------------------ */

static void test_routing(void)
{
	static const struct {
		const char *method, *path;
		cl_route route;
	} good[] = {
		{"GET", "/v1/status", CL_ROUTE_STATUS},
		{"GET", "/v1/members", CL_ROUTE_MEMBERS},
		{"GET", "/v1/events", CL_ROUTE_EVENTS},
		{"GET", "/v1/keys", CL_ROUTE_KEYS_LIST},
		{"GET", "/ready", CL_ROUTE_READY},
		{"GET", "/health", CL_ROUTE_HEALTH},
		{"GET", "/metrics", CL_ROUTE_METRICS},
		{"POST", "/v1/leave", CL_ROUTE_LEAVE},
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		cl_request r = ok(good[i].method, good[i].path, NULL, NULL);
		CHECK_EQ_INT(r.route, good[i].route);
		CHECK(!r.head);
		cl_request_free(&r);
	}
	cl_request r = ok("HEAD", "/metrics", NULL, NULL);
	CHECK(r.head && r.route == CL_ROUTE_METRICS);
	cl_request_free(&r);

	bad("GET", "/v1/nope", NULL, NULL, 404, "no endpoint at '/v1/nope'");
	bad("GET", "/v1/status/", NULL, NULL, 404, "/v1/members");
	bad("GET", "", NULL, NULL, 404, "'/'");
	bad("GET", "/v1/\x01\xff", NULL, NULL, 404, "no endpoint");

	cl_req_error e;
	CHECK_EQ_INT(cl_request_parse("PUT", "/v1/status", NULL, NULL, 0, &r, &e),
		     -1);
	CHECK_EQ_INT(e.status, 405);
	CHECK_STR_EQ(e.allow, "GET, HEAD");
	CHECK_EQ_INT(cl_request_parse("GET", "/v1/join", NULL, NULL, 0, &r, &e),
		     -1);
	CHECK_STR_EQ(e.allow, "POST");
	CHECK_EQ_INT(cl_request_parse("DELETE", "/v1/keys", NULL, NULL, 0, &r, &e),
		     -1);
	CHECK_STR_EQ(e.allow, "GET, HEAD, POST");
	/* A stream has no HEAD. */
	CHECK_EQ_INT(cl_request_parse("HEAD", "/v1/events", NULL, NULL, 0, &r, &e),
		     -1);
	CHECK_EQ_INT(e.status, 405);
	CHECK_STR_EQ(e.allow, "GET");

	/* Endpoints without parameters refuse them. */
	bad("GET", "/v1/status", "verbose=1", NULL, 400,
	    "takes no query parameters (got 'verbose')");
	bad("POST", "/v1/leave", "now", NULL, 400, "takes no query parameters");
	/* A GET ignores a body. */
	r = ok("GET", "/v1/status", NULL, "not json");
	cl_request_free(&r);
}

static void test_whois_params(void)
{
	cl_request r = ok("GET", "/v1/whois", "key=user%3A42", NULL);
	CHECK_EQ_INT(r.route, CL_ROUTE_WHOIS);
	CHECK_STR_EQ(r.key, "user:42");
	CHECK_EQ_INT(r.key_len, 7);
	CHECK_STR_EQ(r.ring, "");
	CHECK_EQ_INT(r.n, 1);
	cl_request_free(&r);

	r = ok("GET", "/v1/whois", "n=64&ring=billing&key=a+b%00c", NULL);
	CHECK(r.key_len == 5 && !memcmp(r.key, "a b\0c", 5));
	CHECK_STR_EQ(r.ring, "billing");
	CHECK_EQ_INT(r.n, 64);
	cl_request_free(&r);

	/* An empty key is a key; an empty ring is the default ring. */
	r = ok("GET", "/v1/whois", "key=&ring=", NULL);
	CHECK_EQ_INT(r.key_len, 0);
	CHECK_STR_EQ(r.ring, "");
	cl_request_free(&r);

	bad("GET", "/v1/whois", NULL, NULL, 400, "needs ?key=K");
	bad("GET", "/v1/whois", "ring=x", NULL, 400, "needs ?key=K");
	bad("GET", "/v1/whois", "key=a&count=2", NULL, 400,
	    "unknown query parameter 'count' for GET /v1/whois: it takes key, "
	    "ring, n");
	static const char *const bad_n[] = {"key=a&n=0", "key=a&n=65",
					    "key=a&n=-1", "key=a&n=1x",
					    "key=a&n=", "key=a&n=0064",
					    "key=a&n=99999999999"};
	for (size_t i = 0; i < sizeof bad_n / sizeof *bad_n; i++)
		bad("GET", "/v1/whois", bad_n[i], NULL, 400, "from 1 to 64");
	bad("GET", "/v1/whois", "key=a&ring=%01", NULL, 400, "ring name");
	bad("GET", "/v1/whois", "key=a&ring=%ff", NULL, 400, "ring name");
}

static void test_events_params(void)
{
	cl_request r = ok("GET", "/v1/events", NULL, NULL);
	CHECK_EQ_INT(r.n_answer, 0);
	cl_request_free(&r);
	r = ok("GET", "/v1/events", "answer=jobs.run,jobs%2Cstop,caf%C3%A9", NULL);
	CHECK_EQ_INT(r.n_answer, 4);
	CHECK_STR_EQ(r.answer[0], "jobs.run");
	CHECK_STR_EQ(r.answer[1], "jobs");
	CHECK_STR_EQ(r.answer[2], "stop");
	CHECK_STR_EQ(r.answer[3], "caf\xc3\xa9");
	cl_request_free(&r);

	bad("GET", "/v1/events", "answer=", NULL, 400, "answer is empty");
	bad("GET", "/v1/events", "answer=a,,b", NULL, 400, "'' is not a topic");
	bad("GET", "/v1/events", "answer=a,", NULL, 400, "not a topic");
	bad("GET", "/v1/events", "answer=a,b,a", NULL, 400, "'a' is listed twice");
	bad("GET", "/v1/events", "answer=cloister.ping", NULL, 403,
	    "answered by the agent itself");
	bad("GET", "/v1/events", "answer=x%0Ay", NULL, 400, "not a topic");
	bad("GET", "/v1/events", "topics=a", NULL, 400, "it takes answer");

	char q[512] = "answer=";
	for (int i = 0; i <= (int)CL_REQ_ANSWER_MAX; i++)
		snprintf(q + strlen(q), sizeof q - strlen(q), "%st%d",
			 i ? "," : "", i);
	bad("GET", "/v1/events", q, NULL, 400, "more than 16 topics");
	/* A 256-byte topic is one too long. */
	char big[300] = "answer=";
	memset(big + 7, 'x', 256);
	big[263] = '\0';
	bad("GET", "/v1/events", big, NULL, 400, "is not a topic");
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */
/* ------------------------------------------------------------------ */

static void test_body_fields(void)
{
	cl_request r = ok("POST", "/v1/join", NULL,
			  " {\"addrs\" : [\"10.0.0.5:7946\", \"[fd00::5]:1\","
			  "\"10.0.0.6\", \"::1\", \"[::1]\"]}\r\n");
	CHECK_EQ_INT(r.route, CL_ROUTE_JOIN);
	CHECK_EQ_INT(r.n_addrs, 5);
	CHECK_STR_EQ(r.addrs[0], "10.0.0.5:7946");
	CHECK_STR_EQ(r.addrs[1], "[fd00::5]:1");
	CHECK_STR_EQ(r.addrs[4], "[::1]");
	cl_request_free(&r);

	r = ok("POST", "/v1/multicast", NULL,
	       "{\"topic\":\"jobs\",\"data\":\"a\\u0000b\\n\\u00e9\\ud83d\\ude00"
	       "\\\"\\\\\\/\",\"members\":[\"a@h\",\"b@h\"]}");
	CHECK_STR_EQ(r.topic, "jobs");
	CHECK_EQ_INT(r.data_len, 3 + 1 + 2 + 4 + 3);
	CHECK(!memcmp(r.data, "a\0b\n\xc3\xa9\xf0\x9f\x98\x80\"\\/", r.data_len));
	CHECK_EQ_INT(r.n_members, 2);
	CHECK_STR_EQ(r.members[1], "b@h");
	cl_request_free(&r);

	/* Defaults: no data is "", no members is everyone, a timeout of 2 s;
	 * null is the same as leaving a field out. */
	r = ok("POST", "/v1/multicast", NULL,
	       "{\"topic\":\"t\",\"members\":null,\"data\":null}");
	CHECK_STR_EQ(r.data, "");
	CHECK_EQ_INT(r.data_len, 0);
	CHECK(r.members == NULL);
	cl_request_free(&r);
	r = ok("POST", "/v1/multicall", NULL, "{\"topic\":\"t\"}");
	CHECK_EQ_INT(r.timeout_ms, CL_REQ_TIMEOUT_DEFAULT_MS);
	cl_request_free(&r);
	r = ok("POST", "/v1/multicall", NULL,
	       "{\"timeout_ms\":60000,\"topic\":\"t\",\"data\":\"x\"}");
	CHECK_EQ_INT(r.timeout_ms, 60000);
	cl_request_free(&r);

	/* Call ids are 64 random bits as 16 hex digits (a JSON number would
	 * lose bits); the subscriber's secret is 32 hex digits, kept
	 * lowercase. */
	r = ok("POST", "/v1/reply", NULL,
	       "{\"id\":\"FFFFFFFFFFFFFFFF\",\"subscriber\":"
	       "\"0123456789ABCDEF0123456789abcdef\",\"data\":\"ok\"}");
	CHECK(r.id == UINT64_MAX);
	CHECK_STR_EQ(r.subscriber, "0123456789abcdef0123456789abcdef");
	CHECK_STR_EQ(r.data, "ok");
	cl_request_free(&r);

	r = ok("POST", "/v1/keys", NULL,
	       "{\"op\":\"use\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}");
	CHECK_EQ_INT(r.route, CL_ROUTE_KEYS_OP);
	CHECK_EQ_INT(r.op, CL_KEYS_USE);
	CHECK_STR_EQ(r.keytext, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	cl_request_free(&r);

	/* leave takes nothing, or an empty object. */
	r = ok("POST", "/v1/leave", NULL, "");
	cl_request_free(&r);
	r = ok("POST", "/v1/leave", NULL, " { } ");
	cl_request_free(&r);
	bad("POST", "/v1/leave", NULL, "{\"now\":true}", 400,
	    "takes no body fields (got 'now')");
}

static void test_body_errors(void)
{
	/* Shape. */
	bad("POST", "/v1/join", NULL, NULL, 400, "needs a JSON body, e.g. {");
	bad("POST", "/v1/join", NULL, "  \n", 400, "needs a JSON body");
	bad("POST", "/v1/join", NULL, "[]", 400,
	    "must be a JSON object, e.g. {\"addrs\"");
	bad("POST", "/v1/join", NULL, "\"x\"", 400, "got a string");
	bad("POST", "/v1/join", NULL, "{\"addrs\":[\"1.2.3.4:1\"]} x", 400,
	    "unexpected data after the JSON object");
	bad("POST", "/v1/join", NULL, "{\"addrs\":[\"1.2.3.4:1\"]", 400,
	    "expected ',' or '}'");
	bad("POST", "/v1/join", NULL, "{\"addrs\" [\"1.2.3.4:1\"]}", 400,
	    "expected ':'");
	bad("POST", "/v1/join", NULL, "{addrs:1}", 400,
	    "expected a field name in quotes");
	bad("POST", "/v1/join", NULL, "{\"addrs\":[\"1.2.3.4:1\",]}", 400,
	    "expected a string, ',' or ']'");
	bad("POST", "/v1/join", NULL, "{\"addrs\":", 400, "expected a value");

	/* Fields: unknown, repeated, missing. */
	bad("POST", "/v1/join", NULL, "{\"adrs\":[]}", 400,
	    "unknown field 'adrs' in the body of POST /v1/join: it takes addrs");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"timeout_ms\":5}", 400,
	    "it takes topic, data, members");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"topic\":\"u\"}", 400,
	    "'topic' is given twice");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":null,\"topic\":\"u\"}", 400,
	    "given twice");
	bad("POST", "/v1/multicast", NULL, "{\"data\":\"x\"}", 400,
	    "field 'topic' is missing");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":null}", 400,
	    "field 'topic' is missing");
	bad("POST", "/v1/keys", NULL, "{\"op\":\"install\"}", 400,
	    "field 'key' is missing");

	/* Types. */
	bad("POST", "/v1/join", NULL, "{\"addrs\":\"1.2.3.4:1\"}", 400,
	    "must be an array of \"IP:PORT\" strings, not a string");
	bad("POST", "/v1/join", NULL, "{\"addrs\":[\"1.2.3.4:1\",7]}", 400,
	    "item 2 is a number");
	bad("POST", "/v1/join", NULL, "{\"addrs\":[]}", 400, "is empty");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":1}", 400,
	    "field 'topic' of POST /v1/multicast must be a string, not a number");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":{}}", 400,
	    "must be a string, not an object");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":true}", 400,
	    "not a boolean");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"members\":[]}", 400,
	    "omit it to reach every alive member");
	bad("POST", "/v1/multicall", NULL, "{\"topic\":\"t\",\"timeout_ms\":\"5\"}",
	    400, "must be a number of milliseconds, not a string");
	bad("POST", "/v1/reply", NULL, "{\"id\":7,\"subscriber\":\"0123456789abcdef0123456789abcdef\"}", 400,
	    "must be the string from the \"call\" event");
	bad("POST", "/v1/reply", NULL, "{\"id\":\"0000000000000007\",\"subscriber\":7}",
	    400, "must be the string from the \"answering\" event");
	bad("POST", "/v1/keys", NULL, "{\"op\":\"rotate\",\"key\":\"k\"}", 400,
	    "must be \"install\", \"use\" or \"remove\"");
	bad("POST", "/v1/keys", NULL, "{\"op\":\"use\",\"key\":\"a\\u0000b\"}", 400,
	    "must be a key");

	/* Values. */
	bad("POST", "/v1/join", NULL, "{\"addrs\":[\"example.com:7946\"]}", 400,
	    "item 1 ('example.com:7946') is not a numeric IP:PORT");
	static const char *const bad_addrs[] = {
		"1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:x",
		"[::1]x",    "[::1",	      "::1:99999", ":7946", ""};
	for (size_t i = 0; i < sizeof bad_addrs / sizeof *bad_addrs; i++) {
		char body[128];
		snprintf(body, sizeof body, "{\"addrs\":[\"%s\"]}", bad_addrs[i]);
		bad("POST", "/v1/join", NULL, body, 400, "not a numeric IP:PORT");
	}
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"\"}", 400,
	    "must be 1 to 255 bytes");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"a\\tb\"}", 400,
	    "without control characters");
	bad("POST", "/v1/multicast", NULL,
	    "{\"topic\":\"t\",\"members\":[\"ok\",\"b\\u007f\"]}", 400,
	    "item 2 ('b?') is not a member name");
	static const char *const bad_timeouts[] = {"0", "-1", "60001",
						   "99999999999999999999999",
						   "-0.5"};
	for (size_t i = 0; i < sizeof bad_timeouts / sizeof *bad_timeouts; i++) {
		char body[128];
		snprintf(body, sizeof body, "{\"topic\":\"t\",\"timeout_ms\":%s}",
			 bad_timeouts[i]);
		bad("POST", "/v1/multicall", NULL, body, 400,
		    strchr(bad_timeouts[i], '.') ? "whole number"
						 : "must be from 1 to 60000");
	}
	bad("POST", "/v1/multicall", NULL, "{\"topic\":\"t\",\"timeout_ms\":1.5}",
	    400, "whole number (no fraction or exponent)");
	bad("POST", "/v1/multicall", NULL, "{\"topic\":\"t\",\"timeout_ms\":1e3}",
	    400, "whole number");
	bad("POST", "/v1/multicall", NULL, "{\"topic\":\"t\",\"timeout_ms\":01}",
	    400, "leading zero");
	bad("POST", "/v1/multicall", NULL, "{\"topic\":\"t\",\"timeout_ms\":-}", 400,
	    "expected a digit");
	bad("POST", "/v1/reply", NULL,
	    "{\"id\":\"7\",\"subscriber\":\"0123456789abcdef0123456789abcdef\"}", 400,
	    "must be the 16 hex digits the agent gave");
	bad("POST", "/v1/reply", NULL,
	    "{\"id\":\"00000000000000000\",\"subscriber\":\"0123456789abcdef0123456789abcdef\"}", 400,
	    "must be the 16 hex digits");
	bad("POST", "/v1/reply", NULL,
	    "{\"id\":\"000000000000000g\",\"subscriber\":\"0123456789abcdef0123456789abcdef\"}", 400,
	    "must be the 16 hex digits");
	bad("POST", "/v1/reply", NULL,
	    "{\"id\":\"0000000000000000\",\"subscriber\":\"0123456789abcdef0123456789abcdef\"}", 400,
	    "must be the 16 hex digits");
	bad("POST", "/v1/reply", NULL,
	    "{\"id\":\"0000000000000001\",\"subscriber\":\"abc\"}", 400,
	    "'subscriber' of POST /v1/reply must be the 32 hex digits");
	bad("POST", "/v1/reply", NULL, "{\"id\":\"0000000000000001\"}", 400,
	    "field 'subscriber' is missing");
}

static void test_body_strings(void)
{
	/* Escapes and UTF-8. */
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"\\ud83d\"}",
	    400, "unpaired surrogate");
	bad("POST", "/v1/multicast", NULL,
	    "{\"topic\":\"t\",\"data\":\"\\ude00\\ud83d\"}", 400,
	    "unpaired surrogate");
	bad("POST", "/v1/multicast", NULL,
	    "{\"topic\":\"t\",\"data\":\"\\ud83d\\u0041\"}", 400,
	    "unpaired surrogate");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"\\u12\"}",
	    400, "four hex digits");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"\\x41\"}",
	    400, "unknown escape");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"a\nb\"}",
	    400, "raw control character");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"\xc3\"}",
	    400, "invalid UTF-8");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"\xc0\x80\"}",
	    400, "invalid UTF-8");
	bad("POST", "/v1/multicast", NULL,
	    "{\"topic\":\"t\",\"data\":\"\xed\xa0\x80\"}", 400, "invalid UTF-8");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"abc", 400,
	    "unterminated string");
	bad("POST", "/v1/multicast", NULL, "{\"topic\":\"t\",\"data\":\"abc\\", 400,
	    "unterminated string");
	/* An unknown field's name is echoed sanitized and shortened. */
	bad("POST", "/v1/multicast", NULL,
	    "{\"\\u0001\\u00e9'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}",
	    400, "unknown field '????xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");

	/* Length bounds: a topic of 255 bytes is fine, 256 is not. */
	char body[600];
	char topic[257];
	memset(topic, 'x', 256);
	topic[255] = '\0';
	snprintf(body, sizeof body, "{\"topic\":\"%s\"}", topic);
	cl_request r = ok("POST", "/v1/multicast", NULL, body);
	CHECK_EQ_INT(strlen(r.topic), 255);
	cl_request_free(&r);
	topic[255] = 'x';
	topic[256] = '\0';
	snprintf(body, sizeof body, "{\"topic\":\"%s\"}", topic);
	bad("POST", "/v1/multicast", NULL, body, 400, "256 bytes long");

	/* The body bound. */
	cl_req_error e;
	char *huge = malloc(CL_REQ_BODY_MAX + 2);
	CHECK(huge != NULL);
	memset(huge, ' ', CL_REQ_BODY_MAX + 1);
	memcpy(huge, "{\"topic\":\"t\"}", 13);
	CHECK_EQ_INT(cl_request_parse("POST", "/v1/multicast", NULL, huge,
				      CL_REQ_BODY_MAX, &r, &e),
		     0);
	cl_request_free(&r);
	CHECK_EQ_INT(cl_request_parse("POST", "/v1/multicast", NULL, huge,
				      CL_REQ_BODY_MAX + 1, &r, &e),
		     -1);
	CHECK_EQ_INT(e.status, 413);
	free(huge);
}

static void test_utf8(void)
{
	CHECK(cl_utf8_valid("", 0));
	CHECK(cl_utf8_valid("plain", 5));
	CHECK(cl_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	CHECK(cl_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	CHECK(!cl_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	CHECK(!cl_utf8_valid("\xc0\x80", 2));	      /* overlong NUL */
	CHECK(!cl_utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
	CHECK(!cl_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	CHECK(!cl_utf8_valid("\x80", 1));
	CHECK(!cl_utf8_valid("\xe2\x82", 2)); /* cut short */
	CHECK(!cl_utf8_valid("\xff", 1));
}

int main(void)
{
	RUN_TEST(test_query_decoding);
	RUN_TEST(test_query_errors);
	RUN_TEST(test_routing);
	RUN_TEST(test_whois_params);
	RUN_TEST(test_events_params);
	RUN_TEST(test_body_fields);
	RUN_TEST(test_body_errors);
	RUN_TEST(test_body_strings);
	RUN_TEST(test_utf8);
	printf("test_query: %d checks passed\n", check_count);
	return 0;
}
