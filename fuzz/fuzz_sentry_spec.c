/*
 * fuzz_sentry_spec.c — cl_sentry_parse() on arbitrary text, with and
 * without a default port.
 *
 * Beyond "does not crash", it checks what the discovery thread relies on,
 * aborting on any violation:
 *   - an error leaves the spec empty and says why; success fills every
 *     field in range (ports 1..65535, names valid, 1..256 entries, each
 *     entry either a DNS host or a numeric address);
 *   - the result is canonical: rendering it back as text and parsing that
 *     gives the same spec, so nothing is lost or invented on the way;
 *   - a default port never turns an accepted text into a rejected one.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "runtime/sentry_spec.h"

/* Past the parser's own text bound there is nothing new to find. */
#define INPUT_MAX (CL_SENTRY_TEXT_MAX + 16)
#define ENTRY_TEXT_MAX 600

static void check_spec(const cl_sentry_spec *s)
{
	switch (s->kind) {
	case CL_SENTRY_NONE:
		REQUIRE(s->peers == NULL && s->n_peers == 0);
		break;
	case CL_SENTRY_DNS:
		REQUIRE(cl_dns_name_valid(s->name, strlen(s->name)));
		REQUIRE(s->port != 0);
		REQUIRE(s->n_peers == 0);
		break;
	case CL_SENTRY_SRV:
		REQUIRE(cl_dns_name_valid(s->name, strlen(s->name)));
		REQUIRE(s->name[0] == '_');
		REQUIRE(s->n_peers == 0);
		break;
	case CL_SENTRY_LIST:
		REQUIRE(s->n_peers >= 1 &&
			s->n_peers <= CL_SENTRY_MAX_ENTRIES);
		for (size_t i = 0; i < s->n_peers; i++) {
			const cl_sentry_peer *p = &s->peers[i];
			REQUIRE(p->addr.port != 0);
			if (p->host[0])
				REQUIRE(p->addr.family == CL_AF_NONE &&
					cl_dns_name_valid(p->host,
							  strlen(p->host)));
			else
				REQUIRE(p->addr.family == CL_AF_INET4 ||
					p->addr.family == CL_AF_INET6);
			size_t nl = strlen(p->node);
			REQUIRE(nl <= CLOISTER_NAME_MAX);
			REQUIRE(nl == 0 || (strchr(p->node, '@') &&
					    p->node[0] != '@'));
		}
		break;
	default:
		abort();
	}
}

/* The spec as text the parser reads back to the same spec. */
static char *render(const cl_sentry_spec *s)
{
	size_t cap = 64 + CL_DNS_NAME_BUF + s->n_peers * ENTRY_TEXT_MAX, len = 0;
	char *out = malloc(cap);
	REQUIRE(out != NULL);
	out[0] = '\0';
	switch (s->kind) {
	case CL_SENTRY_NONE:
		snprintf(out, cap, "none");
		break;
	case CL_SENTRY_DNS:
		snprintf(out, cap, "dns:%s:%u", s->name, s->port);
		break;
	case CL_SENTRY_SRV:
		snprintf(out, cap, "srv:%s", s->name);
		break;
	case CL_SENTRY_LIST:
		for (size_t i = 0; i < s->n_peers; i++) {
			const cl_sentry_peer *p = &s->peers[i];
			char host[CLOISTER_NAME_MAX + 1];
			const char *name = "", *at = "";
			char namebuf[CLOISTER_NAME_MAX + 1];
			if (p->node[0]) {
				/* The node keeps the host as written; so
				 * does the rendering. */
				const char *a = strchr(p->node, '@');
				snprintf(namebuf, sizeof namebuf, "%.*s",
					 (int)(a - p->node), p->node);
				name = namebuf;
				at = "@";
				snprintf(host, sizeof host, "%s", a + 1);
			} else if (p->host[0]) {
				snprintf(host, sizeof host, "%s", p->host);
			} else {
				REQUIRE(inet_ntop(p->addr.family ==
								  CL_AF_INET6
							  ? AF_INET6
							  : AF_INET,
						  p->addr.ip, host,
						  sizeof host) != NULL);
			}
			bool v6 = p->addr.family == CL_AF_INET6;
			int w = snprintf(out + len, cap - len, "%s%s%s%s%s%s:%u",
					 i ? "," : "", name, at, v6 ? "[" : "",
					 host, v6 ? "]" : "", p->addr.port);
			REQUIRE(w > 0 && (size_t)w < cap - len);
			len += (size_t)w;
		}
		break;
	}
	return out;
}

static bool same(const cl_sentry_spec *a, const cl_sentry_spec *b)
{
	if (a->kind != b->kind || a->n_peers != b->n_peers ||
	    strcmp(a->name, b->name) != 0)
		return false;
	if (a->kind == CL_SENTRY_DNS && a->port != b->port)
		return false;
	for (size_t i = 0; i < a->n_peers; i++) {
		const cl_sentry_peer *p = &a->peers[i], *q = &b->peers[i];
		if (strcmp(p->node, q->node) || strcmp(p->host, q->host) ||
		    p->addr.family != q->addr.family ||
		    p->addr.port != q->addr.port ||
		    memcmp(p->addr.ip, q->addr.ip, sizeof p->addr.ip))
			return false;
	}
	return true;
}

static bool scheme_like(const cl_sentry_spec *s, const char *t)
{
	return s->kind == CL_SENTRY_LIST && strlen(t) >= 4 && t[3] == ':' &&
	       (!strncasecmp(t, "dns", 3) || !strncasecmp(t, "srv", 3));
}

static int one(const char *text, uint16_t port, cl_sentry_spec *s)
{
	char why[512];

	memset(why, 'x', sizeof why);
	int rc = cl_sentry_parse(text, port, s, why, sizeof why);
	REQUIRE(memchr(why, '\0', sizeof why) != NULL);
	if (rc != 0) {
		REQUIRE(rc == CLOISTER_EINVAL || rc == CLOISTER_ENOMEM);
		REQUIRE(why[0] != '\0');
		REQUIRE(s->kind == CL_SENTRY_NONE && s->peers == NULL &&
			s->n_peers == 0);
		return rc;
	}
	check_spec(s);

	/* A list whose first host is called "dns" or "srv" renders as a
	 * scheme, which always wins (sentry_spec.h): no canonical form to
	 * compare with. */
	char *again_text = render(s);
	if (!scheme_like(s, again_text)) {
		cl_sentry_spec again;
		REQUIRE(cl_sentry_parse(again_text, 0, &again, why,
					sizeof why) == 0);
		REQUIRE(same(s, &again));
		cl_sentry_spec_free(&again);
	}
	free(again_text);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cl_sentry_spec with, without;

	if (size > INPUT_MAX)
		return 0;
	char *text = malloc(size + 1);
	REQUIRE(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	int a = one(text, 7946, &with);
	int b = one(text, 0, &without);
	if (b == 0) {
		REQUIRE(a == 0);
		/* Everything had its port: the default changed nothing. */
		REQUIRE(same(&with, &without));
	}
	cl_sentry_spec_free(&with);
	cl_sentry_spec_free(&without);
	free(text);
	return 0;
}
