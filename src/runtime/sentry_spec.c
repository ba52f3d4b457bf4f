/* sentry_spec.c — parsing the `sentry` setting (see sentry_spec.h). */
#include "sentry_spec.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "why.h"

/* One entry is at most "name@host:port" with a 255-byte node name and a
 * bracketed host; anything longer is certainly wrong, and the bound keeps
 * quoting it in messages cheap. */
#define ENTRY_MAX 520
/* How much of an offending entry a message quotes. */
#define QUOTE_MAX 64


/* ASCII classes by hand: <ctype.h> follows the locale, the grammar must
 * not. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != p[i])
			return false;
	return true;
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

/* The reason text (length len) is not a DNS name, or NULL if it is one.
 * reason must hold at least 64 bytes. */
static const char *name_problem(const char *s, size_t len, char *reason,
				size_t rlen)
{
	size_t label = 0;
	bool digits_only = true;
	char prev = 0;

	if (len && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty name";
	if (len > CL_DNS_NAME_MAX) {
		snprintf(reason, rlen, "name longer than %d characters",
			 CL_DNS_NAME_MAX);
		return reason;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0)
				return "empty label";
			if (prev == '-')
				return "label ends with '-'";
			if (i == len && digits_only)
				return "last label is all digits";
			label = 0;
			digits_only = true;
			continue;
		}
		char c = s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') {
			if (c >= ' ' && c < 0x7f)
				snprintf(reason, rlen,
					 "character '%c' not allowed in a name",
					 c);
			else
				snprintf(reason, rlen,
					 "byte 0x%02x not allowed in a name",
					 (unsigned)(unsigned char)c);
			return reason;
		}
		if (label == 0 && c == '-')
			return "label starts with '-'";
		if (++label > 63)
			return "label longer than 63 characters";
		if (!is_digit(c))
			digits_only = false;
		prev = c;
	}
	return NULL;
}

bool cl_dns_name_valid(const char *text, size_t len)
{
	char reason[80];

	return text && name_problem(text, len, reason, sizeof reason) == NULL;
}

/* Decimal 1..65535, digits only (no sign, no spaces, at most 5 digits). */
static const char *port_problem(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0)
		return "empty port";
	if (len > 5)
		return "port must be 1..65535";
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return "port must be decimal digits";
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return "port must be 1..65535";
	*port = (uint16_t)v;
	return NULL;
}

static bool numeric(int af, const char *s, size_t len, uint8_t *ip)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(af, buf, ip) == 1;
}

/* A node name's part before '@': the characters app names and host names
 * share, so "name@host" stays one unambiguous token. */
static const char *node_part_problem(const char *s, size_t len)
{
	if (len == 0)
		return "empty name before '@'";
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return "name before '@' may hold only letters, digits, "
			       "'-', '_' and '.'";
	return NULL;
}

/*
 * One list entry: [name@]host[:port], host an IPv4 address, [IPv6], a bare
 * IPv6 address (no port then) or a DNS name.  Returns NULL or the reason.
 */
static const char *parse_entry(const char *s, size_t len,
			       uint16_t default_port, cl_sentry_peer *p,
			       char *reason, size_t rlen)
{
	const char *at = memchr(s, '@', len), *h, *port_text = NULL;
	size_t hlen, port_len = 0;
	const char *problem;
	bool v6 = false;

	memset(p, 0, sizeof *p);
	if (len > ENTRY_MAX)
		return "entry too long";
	if (at) {
		problem = node_part_problem(s, (size_t)(at - s));
		if (problem)
			return problem;
		h = at + 1;
	} else {
		h = s;
	}
	hlen = len - (size_t)(h - s);
	if (hlen == 0)
		return "empty host";

	if (h[0] == '[') {
		const char *close = memchr(h, ']', hlen);
		if (!close)
			return "'[' without ']'";
		const char *after = close + 1;
		size_t rest = hlen - (size_t)(after - h);
		if (rest) {
			if (after[0] != ':')
				return "text after ']' (expected ':PORT')";
			port_text = after + 1;
			port_len = rest - 1;
		}
		h++;
		hlen = (size_t)(close - h);
		v6 = true;
		if (!numeric(AF_INET6, h, hlen, p->addr.ip))
			return "not an IPv6 address inside [ ]";
	} else {
		const char *colon = memchr(h, ':', hlen);
		if (colon && memchr(colon + 1, ':', hlen - (size_t)(colon + 1 - h))) {
			/* Two colons: a bare IPv6 address, which cannot carry
			 * a port without brackets. */
			v6 = true;
			if (!numeric(AF_INET6, h, hlen, p->addr.ip))
				return "more than one ':' and not an IPv6 "
				       "address (write [v6]:port)";
		} else if (colon) {
			port_text = colon + 1;
			port_len = hlen - (size_t)(port_text - h);
			hlen = (size_t)(colon - h);
		}
	}
	if (hlen == 0)
		return "empty host";

	if (v6) {
		p->addr.family = CL_AF_INET6;
	} else if (numeric(AF_INET, h, hlen, p->addr.ip)) {
		p->addr.family = CL_AF_INET4;
	} else {
		problem = name_problem(h, hlen, reason, rlen);
		if (problem)
			return problem;
		memcpy(p->host, h, hlen);
		p->host[hlen] = '\0';
	}

	if (port_text) {
		problem = port_problem(port_text, port_len, &p->addr.port);
		if (problem)
			return problem;
	} else if (default_port) {
		p->addr.port = default_port;
	} else {
		return "no port given and no default port";
	}

	if (at) {
		size_t nlen = (size_t)(at - s) + 1 + hlen;
		if (nlen > CLOISTER_NAME_MAX)
			return "node name longer than 255 bytes";
		memcpy(p->node, s, (size_t)(at - s) + 1);
		memcpy(p->node + (at - s) + 1, h, hlen);
		p->node[nlen] = '\0';
	}
	return NULL;
}

static int parse_list(const char *s, size_t len, uint16_t default_port,
		      cl_sentry_spec *out, char *why, size_t whylen)
{
	size_t count = 1;
	char reason[96];

	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' && ++count > CL_SENTRY_MAX_ENTRIES) {
			cl_why(why, whylen, "more than %d entries",
			    CL_SENTRY_MAX_ENTRIES);
			return CLOISTER_EINVAL;
		}
	cl_sentry_peer *peers = calloc(count, sizeof *peers);
	if (!peers) {
		cl_why(why, whylen, "out of memory");
		return CLOISTER_ENOMEM;
	}
	const char *e = s, *end = s + len;
	for (size_t k = 0; k < count; k++) {
		const char *comma = memchr(e, ',', (size_t)(end - e));
		const char *stop = comma ? comma : end;
		const char *t = e;
		size_t tlen = (size_t)(stop - e);
		const char *problem;

		trim(&t, &tlen);
		if (tlen == 0)
			problem = "empty entry";
		else
			problem = parse_entry(t, tlen, default_port, &peers[k],
					      reason, sizeof reason);
		if (problem) {
			int q = tlen > QUOTE_MAX ? QUOTE_MAX : (int)tlen;
			if (count > 1)
				cl_why(why, whylen, "entry %zu \"%.*s%s\": %s",
				    k + 1, q, t, tlen > QUOTE_MAX ? "..." : "",
				    problem);
			else
				cl_why(why, whylen, "\"%.*s%s\": %s", q, t,
				    tlen > QUOTE_MAX ? "..." : "", problem);
			free(peers);
			return CLOISTER_EINVAL;
		}
		e = stop + 1;
	}
	out->kind = CL_SENTRY_LIST;
	out->peers = peers;
	out->n_peers = count;
	return 0;
}

static int parse_dns(const char *s, size_t len, uint16_t default_port,
		     cl_sentry_spec *out, char *why, size_t whylen)
{
	const char *colon = memchr(s, ':', len);
	size_t nlen = colon ? (size_t)(colon - s) : len;
	uint8_t ip[16];
	char reason[96];
	const char *problem;
	int q = nlen > QUOTE_MAX ? QUOTE_MAX : (int)nlen;

	if (numeric(AF_INET, s, nlen, ip) || numeric(AF_INET6, s, len, ip)) {
		cl_why(why, whylen,
		    "dns:%.*s: dns: wants a name; list addresses as "
		    "HOST:PORT entries",
		    q, s);
		return CLOISTER_EINVAL;
	}
	problem = name_problem(s, nlen, reason, sizeof reason);
	if (problem) {
		cl_why(why, whylen, "dns:%.*s: %s", q, s, problem);
		return CLOISTER_EINVAL;
	}
	if (colon) {
		problem = port_problem(colon + 1, len - nlen - 1, &out->port);
		if (problem) {
			cl_why(why, whylen, "dns:%.*s: %s", q, s, problem);
			return CLOISTER_EINVAL;
		}
	} else if (default_port) {
		out->port = default_port;
	} else {
		cl_why(why, whylen,
		    "dns:%.*s: no port given and no default port "
		    "(write dns:NAME:PORT)",
		    q, s);
		return CLOISTER_EINVAL;
	}
	memcpy(out->name, s, nlen);
	out->name[nlen] = '\0';
	out->kind = CL_SENTRY_DNS;
	return 0;
}

static int parse_srv(const char *s, size_t len, cl_sentry_spec *out,
		     char *why, size_t whylen)
{
	char reason[96];
	const char *problem;
	int q = len > QUOTE_MAX ? QUOTE_MAX : (int)len;

	if (memchr(s, ':', len)) {
		cl_why(why, whylen,
		    "srv:%.*s: no port here: the SRV records carry it", q, s);
		return CLOISTER_EINVAL;
	}
	problem = name_problem(s, len, reason, sizeof reason);
	if (!problem) {
		/* _service._proto.name: two '_' labels and a name. */
		const char *d1 = memchr(s, '.', len);
		const char *d2 =
			d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s)) : NULL;
		if (s[0] != '_' || !d1 || d1 - s < 2 || d1[1] != '_' || !d2 ||
		    d2 - d1 < 3 || (size_t)(d2 + 1 - s) >= len)
			problem = "expected _service._proto.name";
	}
	if (problem) {
		cl_why(why, whylen, "srv:%.*s: %s", q, s, problem);
		return CLOISTER_EINVAL;
	}
	memcpy(out->name, s, len);
	out->name[len] = '\0';
	out->kind = CL_SENTRY_SRV;
	return 0;
}

int cl_sentry_parse(const char *text, uint16_t default_port,
		    cl_sentry_spec *out, char *why, size_t whylen)
{
	cl_sentry_spec spec;
	const char *s = text;
	size_t len;
	int rc;

	cl_why(why, whylen, "%s", "");
	if (!out) {
		cl_why(why, whylen, "no output");
		return CLOISTER_EINVAL;
	}
	memset(out, 0, sizeof *out);
	if (!text) {
		cl_why(why, whylen, "no text");
		return CLOISTER_EINVAL;
	}
	len = strnlen(text, CL_SENTRY_TEXT_MAX + 1);
	if (len > CL_SENTRY_TEXT_MAX) {
		cl_why(why, whylen, "longer than %d characters",
		    CL_SENTRY_TEXT_MAX);
		return CLOISTER_EINVAL;
	}
	trim(&s, &len);
	memset(&spec, 0, sizeof spec);

	if (len == 0 || (len == 4 && prefix_ci(s, len, "none"))) {
		rc = 0;
	} else if (prefix_ci(s, len, "dns:") || prefix_ci(s, len, "srv:")) {
		bool srv = lower(s[0]) == 's';
		s += 4;
		len -= 4;
		trim(&s, &len);
		rc = srv ? parse_srv(s, len, &spec, why, whylen)
			 : parse_dns(s, len, default_port, &spec, why, whylen);
	} else if (!memchr(s, ',', len) && !memchr(s, '@', len) &&
		   !memchr(s, ':', len) && !memchr(s, '[', len)) {
		/* One bare word: an address is a one-entry list, a name is
		 * DNS discovery. */
		uint8_t ip[16];
		char reason[96];
		const char *problem;
		if (numeric(AF_INET, s, len, ip)) {
			rc = parse_list(s, len, default_port, &spec, why,
					whylen);
		} else if ((problem = name_problem(s, len, reason,
						   sizeof reason))) {
			int q = len > QUOTE_MAX ? QUOTE_MAX : (int)len;
			cl_why(why, whylen,
			    "\"%.*s%s\": neither an address nor a DNS name (%s)",
			    q, s, len > QUOTE_MAX ? "..." : "", problem);
			rc = CLOISTER_EINVAL;
		} else {
			rc = parse_dns(s, len, default_port, &spec, why,
				       whylen);
		}
	} else {
		rc = parse_list(s, len, default_port, &spec, why, whylen);
	}
	if (rc == 0)
		*out = spec;
	return rc;
}

int cl_sentry_spec_copy(cl_sentry_spec *dst, const cl_sentry_spec *src)
{
	cl_sentry_spec c = *src;

	if (src->n_peers) {
		c.peers = malloc(src->n_peers * sizeof *c.peers);
		if (!c.peers)
			return CLOISTER_ENOMEM;
		memcpy(c.peers, src->peers, src->n_peers * sizeof *c.peers);
	} else {
		c.peers = NULL;
	}
	*dst = c;
	return 0;
}

void cl_sentry_spec_free(cl_sentry_spec *spec)
{
	if (!spec)
		return;
	free(spec->peers);
	memset(spec, 0, sizeof *spec);
}

const char *cl_sentry_kind_name(cl_sentry_kind kind)
{
	switch (kind) {
	case CL_SENTRY_NONE:
		return "none";
	case CL_SENTRY_DNS:
		return "dns";
	case CL_SENTRY_SRV:
		return "srv";
	case CL_SENTRY_LIST:
		return "list";
	}
	return "?";
}
