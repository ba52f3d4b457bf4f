/*
 * test_api_guard.c — the control API's admission checks: tokens (bounds,
 * the Bearer scheme, constant-time comparison), Host (loopback literals,
 * localhost, the configured host, wildcards, the probe's IP literals,
 * malformed and repeated values), Origin, Content-Type for POST, and what
 * each listener ("front") checks.  Messages never carry the token.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* api_guard.c is pure and lives with the agent: compiled in here. */
#include "agent/api_guard.c"

#define TOKEN "0123456789abcdef0123456789abcdef"

static const cl_guard http_guard = {CL_FRONT_HTTP, "127.0.0.1", TOKEN};

/* A GET with a good Host and token, to vary one field at a time. */
static cl_guard_req base_req(void)
{
	return (cl_guard_req){.method = "GET",
			      .http11 = true,
			      .host = "127.0.0.1:7947",
			      .n_host = 1,
			      .authorization = "Bearer " TOKEN,
			      .n_authorization = 1};
}

static void expect(const cl_guard *g, const cl_guard_req *r, cl_guard_why why,
		   int status, const char *needle, int line)
{
	cl_req_error e;
	cl_guard_why got = cl_guard_check(g, r, &e);
	check_count++;
	if (got != why)
		CHECK_FAIL("line %d: guard said %d (%d \"%s\"), expected %d", line,
			   (int)got, e.status, e.msg, (int)why);
	if (why == CL_GUARD_OK)
		return;
	check_count++;
	if (e.status != status || !strstr(e.msg, needle))
		CHECK_FAIL("line %d: got %d \"%s\", expected %d with \"%s\"", line,
			   e.status, e.msg, status, needle);
	for (const char *p = e.msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			CHECK_FAIL("line %d: unprintable message \"%s\"", line,
				   e.msg);
	CHECK(strstr(e.msg, TOKEN) == NULL);
}

#define OK(g, r) expect(g, r, CL_GUARD_OK, 0, "", __LINE__)
#define NO(g, r, why, status, needle) expect(g, r, why, status, needle, __LINE__)

static void test_tokens(void)
{
	CHECK(cl_token_ok(TOKEN, 32));
	CHECK(cl_token_ok("0123456789abcdef", 16));
	CHECK(!cl_token_ok("0123456789abcde", 15));
	char big[CL_TOKEN_MAX + 2];
	memset(big, 'a', sizeof big);
	CHECK(cl_token_ok(big, CL_TOKEN_MAX));
	CHECK(!cl_token_ok(big, CL_TOKEN_MAX + 1));
	CHECK(!cl_token_ok("0123456789 abcdef", 17));
	CHECK(!cl_token_ok("0123456789\tabcdef", 17));
	CHECK(!cl_token_ok("0123456789\x7f" "abcdef", 17));
	CHECK(!cl_token_ok("0123456789\xc3\xa9" "abcdef", 18));
	CHECK(!cl_token_ok(NULL, 0));

	CHECK(cl_token_equal("abc", 3, "abc", 3));
	CHECK(!cl_token_equal("abc", 3, "abd", 3));
	CHECK(!cl_token_equal("abc", 3, "abcabc", 6)); /* a repeated */
	CHECK(!cl_token_equal("abcabc", 6, "abc", 3));
	CHECK(!cl_token_equal("", 0, "", 0)); /* no token matches nothing */
	CHECK(!cl_token_equal("", 0, "x", 1));
}

static void test_loopback(void)
{
	CHECK(cl_host_is_loopback("127.0.0.1"));
	CHECK(cl_host_is_loopback("127.0.20.1"));
	CHECK(cl_host_is_loopback("::1"));
	CHECK(cl_host_is_loopback("[::1]"));
	CHECK(cl_host_is_loopback("::ffff:127.0.0.1"));
	CHECK(cl_host_is_loopback("localhost"));
	CHECK(cl_host_is_loopback("LocalHost"));
	CHECK(!cl_host_is_loopback("0.0.0.0"));
	CHECK(!cl_host_is_loopback("::"));
	CHECK(!cl_host_is_loopback("10.0.0.5"));
	CHECK(!cl_host_is_loopback("128.0.0.1"));
	CHECK(!cl_host_is_loopback("127.1")); /* not a dotted quad */
	CHECK(!cl_host_is_loopback("localhost.example"));
	CHECK(!cl_host_is_loopback("node.internal"));
	CHECK(!cl_host_is_loopback(""));
	CHECK(!cl_host_is_loopback(NULL));
}

static void test_host(void)
{
	cl_guard_req r = base_req();
	OK(&http_guard, &r);
	static const char *const good[] = {
		"127.0.0.1", "127.9.9.9:80", "localhost", "LOCALHOST:7947",
		"[::1]", "[::1]:7947", "[::ffff:127.0.0.1]:1", " 127.0.0.1 ",
		"127.0.0.1:",
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		r.host = good[i];
		OK(&http_guard, &r);
	}
	static const char *const foreign[] = {
		"rebind.example",  "rebind.example:7947", "10.0.0.5:7947",
		"::1",		   "[::2]:7947",	  "[rebind.example]",
		"127.0.0.1:x",	   "127.0.0.1:123456",	  "[::1]x",
		"",		   "localhost.evil",	  "127.0.0.1.evil.com",
		"127.1",	   "0.0.0.0",		  "[::1",
	};
	for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
		r.host = foreign[i];
		NO(&http_guard, &r, CL_GUARD_HOST, 403, "is not this agent");
	}
	char longhost[300];
	memset(longhost, 'a', sizeof longhost - 1);
	longhost[sizeof longhost - 1] = '\0';
	r.host = longhost;
	NO(&http_guard, &r, CL_GUARD_HOST, 403, "...");

	/* The configured host, by name or address. */
	cl_guard named = {CL_FRONT_HTTP, "node.internal", TOKEN};
	r.host = "Node.Internal:7947";
	OK(&named, &r);
	r.host = "other.internal:7947";
	NO(&named, &r, CL_GUARD_HOST, 403, "other.internal");
	cl_guard addr = {CL_FRONT_HTTP, "10.0.0.5", TOKEN};
	r.host = "10.0.0.5:7947";
	OK(&addr, &r);
	r.host = "10.0.0.6:7947";
	NO(&addr, &r, CL_GUARD_HOST, 403, "10.0.0.6");
	cl_guard v6 = {CL_FRONT_HTTP, "fd00::5", TOKEN};
	r.host = "[fd00:0::5]:7947"; /* another spelling, the same address */
	OK(&v6, &r);
	/* A wildcard listener: any address, no names (they could be rebound). */
	cl_guard any4 = {CL_FRONT_HTTP, "0.0.0.0", TOKEN};
	cl_guard any6 = {CL_FRONT_HTTP, "::", TOKEN};
	r.host = "10.1.2.3:7947";
	OK(&any4, &r);
	r.host = "[fd00::9]:7947";
	OK(&any6, &r);
	r.host = "rebind.example:7947";
	NO(&any4, &r, CL_GUARD_HOST, 403, "rebind");
	NO(&any6, &r, CL_GUARD_HOST, 403, "rebind");

	/* Missing and repeated. */
	r = base_req();
	r.host = NULL;
	r.n_host = 0;
	NO(&http_guard, &r, CL_GUARD_MALFORMED, 400, "needs a Host header");
	r.http11 = false; /* HTTP/1.0 may leave it out */
	OK(&http_guard, &r);
	r = base_req();
	r.n_host = 2;
	NO(&http_guard, &r, CL_GUARD_MALFORMED, 400, "Host 2 times");
}

static void test_origin(void)
{
	cl_guard_req r = base_req();
	static const char *const origins[] = {"http://page.example", "null", "",
					      "http://127.0.0.1:7947"};
	for (size_t i = 0; i < sizeof origins / sizeof *origins; i++) {
		r.origin = origins[i];
		r.n_origin = 1;
		NO(&http_guard, &r, CL_GUARD_ORIGIN, 403, "web pages");
	}
}

static void test_authorization(void)
{
	cl_guard_req r = base_req();
	static const char *const good[] = {
		"Bearer " TOKEN, "bearer " TOKEN, "BEARER   " TOKEN "  ",
		" Bearer\t" TOKEN,
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		r.authorization = good[i];
		OK(&http_guard, &r);
	}
	static const char *const bad[] = {
		"Bearer " TOKEN "x", "Bearer x" TOKEN, "Bearer " TOKEN TOKEN,
		"Bearer 0123456789abcdef0123456789abcdeF", "Bearer",
		"Bearer ", "Bearer" TOKEN, "Basic " TOKEN, TOKEN, "",
		"Bearer " TOKEN " " TOKEN,
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		r.authorization = bad[i];
		NO(&http_guard, &r, CL_GUARD_TOKEN, 401, "token");
	}
	r.authorization = NULL;
	r.n_authorization = 0;
	NO(&http_guard, &r, CL_GUARD_TOKEN, 401, "needs its token");
	r = base_req();
	r.n_authorization = 2;
	NO(&http_guard, &r, CL_GUARD_MALFORMED, 400, "Authorization 2 times");
	/* A guard without a token admits nobody over HTTP. */
	cl_guard none = {CL_FRONT_HTTP, "127.0.0.1", NULL};
	r = base_req();
	NO(&none, &r, CL_GUARD_TOKEN, 401, "token");
	r.authorization = "Bearer ";
	NO(&none, &r, CL_GUARD_TOKEN, 401, "token");
}

static void test_content_type(void)
{
	cl_guard_req r = base_req();
	r.method = "POST";
	NO(&http_guard, &r, CL_GUARD_TYPE, 415, "none was given");
	static const char *const good[] = {
		"application/json", "Application/JSON",
		"application/json; charset=utf-8", " application/json ;x=y",
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		r.content_type = good[i];
		r.n_content_type = 1;
		OK(&http_guard, &r);
	}
	static const char *const bad[] = {
		"text/plain", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/json5",
		"application/jsonx; a=b", "application/", "",
		"text/plain; application/json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		r.content_type = bad[i];
		NO(&http_guard, &r, CL_GUARD_TYPE, 415, "application/json");
	}
	r.content_type = "application/json";
	r.n_content_type = 2;
	NO(&http_guard, &r, CL_GUARD_MALFORMED, 400, "Content-Type 2 times");
	/* GET bodies are not read, so their type does not matter. */
	r = base_req();
	r.content_type = "text/plain";
	r.n_content_type = 1;
	OK(&http_guard, &r);
}

static void test_fronts(void)
{
	/* The Unix socket: the peer's uid was checked; no token, no Host
	 * check (no browser reaches it), but Origin and JSON still. */
	cl_guard unix_guard = {CL_FRONT_UNIX, "", NULL};
	cl_guard_req r = {.method = "GET", .http11 = true, .host = "anything",
			  .n_host = 1};
	OK(&unix_guard, &r);
	r.host = NULL;
	r.n_host = 0;
	OK(&unix_guard, &r);
	r.origin = "http://page.example";
	r.n_origin = 1;
	NO(&unix_guard, &r, CL_GUARD_ORIGIN, 403, "Origin");
	r.origin = NULL;
	r.n_origin = 0;
	r.method = "POST";
	r.content_type = "text/plain";
	r.n_content_type = 1;
	NO(&unix_guard, &r, CL_GUARD_TYPE, 415, "application/json");

	/* The probe: no token; any IP literal as Host (kubelet, Prometheus),
	 * no names but localhost and its own; no Origin. */
	cl_guard probe = {CL_FRONT_PROBE, "0.0.0.0", NULL};
	r = (cl_guard_req){.method = "GET", .http11 = true,
			   .host = "10.244.1.7:7948", .n_host = 1};
	OK(&probe, &r);
	r.host = "[fd00::7]:7948";
	OK(&probe, &r);
	r.host = "localhost:7948";
	OK(&probe, &r);
	r.host = "rebind.example:7948";
	NO(&probe, &r, CL_GUARD_HOST, 403, "rebind.example");
	cl_guard probe_named = {CL_FRONT_PROBE, "pod.internal", NULL};
	r.host = "pod.internal:7948";
	OK(&probe_named, &r);
	r.host = "10.0.0.1";
	r.origin = "http://page.example";
	r.n_origin = 1;
	NO(&probe, &r, CL_GUARD_ORIGIN, 403, "Origin");
}

int main(void)
{
	RUN_TEST(test_tokens);
	RUN_TEST(test_loopback);
	RUN_TEST(test_host);
	RUN_TEST(test_origin);
	RUN_TEST(test_authorization);
	RUN_TEST(test_content_type);
	RUN_TEST(test_fronts);
	printf("test_api_guard: %d checks passed\n", check_count);
	return 0;
}
