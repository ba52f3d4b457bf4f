/*
 * api_guard.c — the control API's admission checks (api_guard.h says
 * which, and why each exists).
 */
#include "api_guard.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Header text echoed in a message: enough to recognise it. */
#define ECHO_MAX 40
/* The longest host name DNS allows; longer Host values are refused. */
#define HOST_MAX 255

static cl_guard_why refuse(cl_req_error *e, cl_guard_why why, int status,
			   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static cl_guard_why refuse(cl_req_error *e, cl_guard_why why, int status,
			   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->status = status;
	e->allow = NULL;
	return why;
}

/* Client bytes as printable ASCII, shortened, for messages. */
static const char *echo(char out[ECHO_MAX + 4], const char *s)
{
	size_t len = strlen(s), n = len < ECHO_MAX ? len : ECHO_MAX, o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
	}
	if (len > ECHO_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static bool space(char c)
{
	return c == ' ' || c == '\t';
}

/* s without leading and trailing blanks, as [*b, *b + *n). */
static void trim(const char *s, const char **b, size_t *n)
{
	size_t len = strlen(s);
	while (len && space(s[len - 1]))
		len--;
	while (len && space(*s)) {
		s++;
		len--;
	}
	*b = s;
	*n = len;
}

bool cl_token_ok(const char *s, size_t len)
{
	if (!s || len < CL_TOKEN_MIN || len > CL_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool cl_token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Every byte of b is compared, against a repeated as needed, so the
	 * time depends on the lengths only. */
	unsigned char diff = alen != blen || alen == 0;
	for (size_t i = 0; alen && i < blen; i++)
		diff |= (unsigned char)(a[i % alen] ^ b[i]);
	return diff == 0;
}

/* ------------------------------------------------------------------ */
/* Hosts                                                               */
/* ------------------------------------------------------------------ */

struct host {
	char name[HOST_MAX + 1]; /* without brackets or port */
	bool ip4, ip6;
	struct in_addr a4;
	struct in6_addr a6;
};

/* "name", "name:port", "[v6]", "[v6]:port" (port: digits, maybe none);
 * false when malformed. */
static bool host_parse(const char *s, size_t len, struct host *h)
{
	const char *name = s, *port = NULL;
	size_t nlen;
	memset(h, 0, sizeof *h);
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return false;
		name = s + 1;
		nlen = (size_t)(close - name);
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return false;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);
		nlen = colon ? (size_t)(colon - s) : len;
		if (colon) {
			if (memchr(colon + 1, ':', (size_t)(s + len - colon - 1)))
				return false; /* a bare IPv6 address */
			port = colon + 1;
		}
	}
	if (nlen == 0 || nlen > HOST_MAX)
		return false;
	for (const char *p = port; p && p < s + len; p++)
		if (*p < '0' || *p > '9' || p - port >= 5)
			return false;
	memcpy(h->name, name, nlen);
	h->name[nlen] = '\0';
	if (memchr(h->name, '\0', nlen))
		return false;
	if (s[0] == '[') {
		h->ip6 = inet_pton(AF_INET6, h->name, &h->a6) == 1;
		return h->ip6; /* brackets hold an IPv6 address or nothing */
	}
	h->ip4 = inet_pton(AF_INET, h->name, &h->a4) == 1;
	return true;
}

static bool loopback4(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool loopback6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	if (!IN6_IS_ADDR_V4MAPPED(a))
		return false;
	return a->s6_addr[12] == 127;
}

/* The configured listening host, parsed like a Host value. */
static bool config_host(const char *cfg, struct host *h)
{
	if (!cfg || !*cfg)
		return false;
	size_t len = strlen(cfg);
	if (cfg[0] == '[')
		return host_parse(cfg, len, h);
	if (strchr(cfg, ':')) { /* "::1" as --http gives it, unbracketed */
		memset(h, 0, sizeof *h);
		if (len > HOST_MAX)
			return false;
		memcpy(h->name, cfg, len + 1);
		h->ip6 = inet_pton(AF_INET6, cfg, &h->a6) == 1;
		return h->ip6;
	}
	return host_parse(cfg, len, h);
}

static bool wildcard(const struct host *h)
{
	return (h->ip4 && h->a4.s_addr == htonl(INADDR_ANY)) ||
	       (h->ip6 && IN6_IS_ADDR_UNSPECIFIED(&h->a6));
}

static bool same_host(const struct host *a, const struct host *b)
{
	if (a->ip4 && b->ip4)
		return a->a4.s_addr == b->a4.s_addr;
	if (a->ip6 && b->ip6)
		return !memcmp(&a->a6, &b->a6, sizeof a->a6);
	if (a->ip4 || a->ip6 || b->ip4 || b->ip6)
		return false;
	return !strcasecmp(a->name, b->name);
}

bool cl_host_is_loopback(const char *host)
{
	struct host h;
	if (!config_host(host, &h))
		return false;
	return (h.ip4 && loopback4(&h.a4)) || (h.ip6 && loopback6(&h.a6)) ||
	       (!h.ip4 && !h.ip6 && !strcasecmp(h.name, "localhost"));
}

static bool host_allowed(const cl_guard *g, const struct host *h)
{
	if ((h->ip4 && loopback4(&h->a4)) || (h->ip6 && loopback6(&h->a6)))
		return true;
	if (!h->ip4 && !h->ip6 && !strcasecmp(h->name, "localhost"))
		return true;
	if (g->front == CL_FRONT_PROBE && (h->ip4 || h->ip6))
		return true;
	struct host cfg;
	if (!config_host(g->host, &cfg))
		return false;
	if (wildcard(&cfg))
		return h->ip4 || h->ip6;
	return same_host(h, &cfg);
}

/* ------------------------------------------------------------------ */
/* The checks                                                          */
/* ------------------------------------------------------------------ */

static cl_guard_why check_host(const cl_guard *g, const cl_guard_req *r,
			       cl_req_error *err)
{
	char e[ECHO_MAX + 4];
	if (r->n_host > 1)
		return refuse(err, CL_GUARD_MALFORMED, 400,
			      "the request gives Host %u times: give it once",
			      r->n_host);
	if (!r->host) {
		if (!r->http11)
			return CL_GUARD_OK; /* HTTP/1.0 may leave it out */
		return refuse(err, CL_GUARD_MALFORMED, 400,
			      "an HTTP/1.1 request needs a Host header");
	}
	const char *b;
	size_t n;
	trim(r->host, &b, &n);
	struct host h;
	if (!host_parse(b, n, &h) || !host_allowed(g, &h))
		return refuse(err, CL_GUARD_HOST, 403,
			      "Host '%s' is not this agent: the control API "
			      "answers to loopback addresses, localhost and "
			      "the address it listens on (a web page that "
			      "rebinds its own name to this host is refused "
			      "here)",
			      echo(e, r->host));
	return CL_GUARD_OK;
}

static cl_guard_why check_token(const cl_guard *g, const cl_guard_req *r,
				cl_req_error *err)
{
	static const char how[] =
		"send Authorization: Bearer TOKEN; the cloister commands find "
		"the token the agent generated when run as its user, or take "
		"--token-file FILE or CLOISTER_TOKEN";
	if (r->n_authorization > 1)
		return refuse(err, CL_GUARD_MALFORMED, 400,
			      "the request gives Authorization %u times: give "
			      "it once",
			      r->n_authorization);
	if (!r->authorization)
		return refuse(err, CL_GUARD_TOKEN, 401,
			      "this control API needs its token: %s", how);
	const char *b;
	size_t n;
	trim(r->authorization, &b, &n);
	if (n < 7 || strncasecmp(b, "Bearer", 6) || !space(b[6]))
		return refuse(err, CL_GUARD_TOKEN, 401,
			      "Authorization must be the Bearer scheme: %s",
			      how);
	b += 6;
	n -= 6;
	while (n && space(*b)) {
		b++;
		n--;
	}
	size_t tlen = g->token ? strlen(g->token) : 0;
	if (!cl_token_equal(g->token ? g->token : "", tlen, b, n))
		return refuse(err, CL_GUARD_TOKEN, 401,
			      "the token is not this agent's: %s", how);
	return CL_GUARD_OK;
}

static cl_guard_why check_type(const cl_guard_req *r, cl_req_error *err)
{
	char e[ECHO_MAX + 4];
	if (r->n_content_type > 1)
		return refuse(err, CL_GUARD_MALFORMED, 400,
			      "the request gives Content-Type %u times: give "
			      "it once",
			      r->n_content_type);
	if (!r->content_type)
		return refuse(err, CL_GUARD_TYPE, 415,
			      "a POST must carry Content-Type: "
			      "application/json (none was given)");
	const char *b;
	size_t n;
	trim(r->content_type, &b, &n);
	const char *semi = memchr(b, ';', n);
	size_t mlen = semi ? (size_t)(semi - b) : n;
	while (mlen && space(b[mlen - 1]))
		mlen--;
	if (mlen != 16 || strncasecmp(b, "application/json", 16))
		return refuse(err, CL_GUARD_TYPE, 415,
			      "a POST must carry Content-Type: "
			      "application/json, not '%s' (web pages can send "
			      "other types without asking, so they are refused)",
			      echo(e, r->content_type));
	return CL_GUARD_OK;
}

cl_guard_why cl_guard_check(const cl_guard *g, const cl_guard_req *r,
			    cl_req_error *err)
{
	memset(err, 0, sizeof *err);
	cl_guard_why w;
	if (g->front != CL_FRONT_UNIX && (w = check_host(g, r, err)))
		return w;
	if (r->n_origin)
		return refuse(err, CL_GUARD_ORIGIN, 403,
			      "requests carrying Origin come from web pages, "
			      "which may not use this API: call it from a "
			      "program (the cloister commands, curl) that sends "
			      "no Origin");
	if (g->front == CL_FRONT_HTTP && (w = check_token(g, r, err)))
		return w;
	if (r->method && !strcmp(r->method, "POST") &&
	    (w = check_type(r, err)))
		return w;
	return CL_GUARD_OK;
}
