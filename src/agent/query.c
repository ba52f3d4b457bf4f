/*
 * query.c — control API requests: routing, query strings, JSON bodies.
 *
 * The JSON reader is schema-driven rather than a general parser: a body
 * is one object whose fields are known in advance, each read straight
 * into the request as its expected type.  Unknown fields and wrong types
 * end the parse with a message, so nothing is ever skipped and there is
 * no recursion: a hostile body costs one linear pass and allocations
 * bounded by its own size.
 */
#include "query.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Client text echoed in a message: enough to recognise it. */
#define ECHO_MAX 40

static int fail(cl_req_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(cl_req_error *e, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->status = status;
	return -1;
}

/* Client bytes as printable ASCII, shortened: messages go into JSON and
 * terminals, and must not carry what they complain about verbatim. */
static const char *echo(char out[ECHO_MAX + 4], const void *s, size_t len)
{
	const unsigned char *b = s;
	size_t n = len < ECHO_MAX ? len : ECHO_MAX, o = 0;
	for (size_t i = 0; i < n; i++)
		out[o++] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\''
				   ? (char)b[i] : '?';
	if (len > ECHO_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* Text checks                                                         */
/* ------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s, or 0 (RFC 3629's
 * table: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	size_t k = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return k;
}

bool cl_utf8_valid(const void *s, size_t len)
{
	const unsigned char *b = s;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(b + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Topics, rings and member names: what the wire accepts as a name, and
 * valid UTF-8 so it can be echoed back in JSON. */
static bool name_ok(const char *s, size_t len)
{
	if (len < 1 || len > CL_REQ_NAME_MAX || !cl_utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* IP:PORT, [IPv6]:PORT, or either without the port (7946 then): the
 * forms cloister_join_addrs() takes, checked here so the error can say
 * which address is wrong. */
static bool addr_ok(const char *s, size_t len)
{
	char host[CL_REQ_ADDR_MAX + 1];
	const char *port = NULL;
	unsigned char ip[16];
	int family = AF_INET;
	size_t hlen;
	if (len == 0 || len > CL_REQ_ADDR_MAX || memchr(s, '\0', len))
		return false;
	const char *colon = strchr(s, ':');
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return false;
		hlen = (size_t)(close - s - 1);
		memcpy(host, s + 1, hlen);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return false;
		family = AF_INET6;
	} else if (colon && strchr(colon + 1, ':')) {
		hlen = len;
		memcpy(host, s, hlen);
		family = AF_INET6;
	} else {
		hlen = colon ? (size_t)(colon - s) : len;
		memcpy(host, s, hlen);
		if (colon)
			port = colon + 1;
	}
	host[hlen] = '\0';
	if (hlen == 0 || inet_pton(family, host, ip) != 1)
		return false;
	if (port) {
		unsigned long v = 0;
		size_t i = 0;
		for (; port[i] >= '0' && port[i] <= '9' && i < 6; i++)
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (i == 0 || port[i] || v < 1 || v > 65535)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Query strings                                                       */
/* ------------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into out (never longer than the input). */
static int form_decode(const char *s, size_t len, char *out, size_t *olen,
		       cl_req_error *err)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				char e[ECHO_MAX + 4];
				size_t n = len - i < 3 ? len - i : 3;
				return fail(err, 400,
					    "bad escape '%s' in the query string: "
					    "write a byte as %%XX with two hex "
					    "digits (a space as + or %%20, a %% "
					    "as %%25)",
					    echo(e, s + i, n));
			}
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*olen = o;
	return 0;
}

int cl_query_parse(const char *text, size_t len, cl_query *q,
		   cl_req_error *err)
{
	memset(q, 0, sizeof *q);
	if (len > CL_REQ_QUERY_MAX)
		return fail(err, 414,
			    "the query string is %zu bytes, over the %u-byte "
			    "limit: send large values in a POST body",
			    len, CL_REQ_QUERY_MAX);
	/* Each pair decodes to at most its own length plus two NULs. */
	q->buf = malloc(len + 2 * CL_REQ_PARAMS_MAX + 1);
	if (!q->buf)
		return fail(err, 500, "out of memory decoding the query string");
	size_t o = 0;
	for (size_t i = 0; i <= len;) {
		size_t j = i;
		while (j < len && text[j] != '&')
			j++;
		if (j > i) {
			if (q->n == CL_REQ_PARAMS_MAX) {
				cl_query_free(q);
				return fail(err, 400,
					    "more than %u query parameters: no "
					    "endpoint takes that many",
					    CL_REQ_PARAMS_MAX);
			}
			const char *eq = memchr(text + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - text - i) : j - i;
			char *k = q->buf + o, *v;
			size_t kd, vd;
			if (form_decode(text + i, klen, k, &kd, err) != 0)
				goto bad;
			v = k + kd + 1;
			if (form_decode(eq ? eq + 1 : text + j,
					eq ? (size_t)(text + j - eq - 1) : 0, v,
					&vd, err) != 0)
				goto bad;
			o += kd + vd + 2;
			for (size_t p = 0; p < q->n; p++)
				if (q->p[p].key_len == kd &&
				    !memcmp(q->p[p].key, k, kd)) {
					char e[ECHO_MAX + 4];
					fail(err, 400,
					     "query parameter '%s' is given twice: "
					     "give it once (a list is comma "
					     "separated)",
					     echo(e, k, kd));
					goto bad;
				}
			q->p[q->n].key = k;
			q->p[q->n].key_len = kd;
			q->p[q->n].val = v;
			q->p[q->n].val_len = vd;
			q->n++;
		}
		i = j + 1;
	}
	return 0;
bad:
	cl_query_free(q);
	return -1;
}

const char *cl_query_get(const cl_query *q, const char *key, size_t *len)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < q->n; i++)
		if (q->p[i].key_len == kl && !memcmp(q->p[i].key, key, kl)) {
			if (len)
				*len = q->p[i].val_len;
			return q->p[i].val;
		}
	return NULL;
}

void cl_query_free(cl_query *q)
{
	free(q->buf);
	memset(q, 0, sizeof *q);
}

/* ------------------------------------------------------------------ */
/* JSON bodies                                                         */
/* ------------------------------------------------------------------ */

typedef struct jp {
	const unsigned char *s;
	size_t len, pos;
	cl_req_error *err;
	const char *where; /* "POST /v1/join", for messages */
} jp;

static int bad_json(jp *p, size_t at, const char *what)
{
	return fail(p->err, 400,
		    "the body of %s is not valid JSON: %s at byte %zu",
		    p->where, what, at);
}

static void ws(jp *p)
{
	while (p->pos < p->len &&
	       (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
		p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool number_here(const jp *p)
{
	return p->pos < p->len && (p->s[p->pos] == '-' ||
				   (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'));
}

/* What the value at the cursor is, for "must be X, not Y" messages. */
static const char *kind_here(const jp *p)
{
	if (p->pos >= p->len)
		return "nothing";
	switch (p->s[p->pos]) {
	case '"':
		return "a string";
	case '{':
		return "an object";
	case '[':
		return "an array";
	case 't':
	case 'f':
		return "a boolean";
	case 'n':
		return "null";
	default:
		return number_here(p) ? "a number" : "not a JSON value";
	}
}

static bool literal(jp *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return false;
	p->pos += n;
	return true;
}

static int hex4(const unsigned char *s, size_t avail, unsigned *out)
{
	if (avail < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval((char)s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(unsigned cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The string starting at the cursor (a '"'): with out NULL, checks it and
 * measures its decoded length; with out, decodes it.  The cursor moves
 * past it only when decoding. */
static int jstr_pass(jp *p, unsigned char *out, size_t *dlen)
{
	const unsigned char *s = p->s;
	size_t i = p->pos + 1, n = 0;
	unsigned char tmp[4];
	for (;;) {
		if (i >= p->len)
			return bad_json(p, p->pos, "unterminated string");
		unsigned char c = s[i];
		if (c == '"') {
			i++;
			break;
		}
		if (c < 0x20)
			return bad_json(p, i, "raw control character in a "
					      "string (escape it, e.g. \\n)");
		if (c != '\\') {
			size_t k = utf8_seq(s + i, p->len - i);
			if (!k)
				return bad_json(p, i, "invalid UTF-8 in a string");
			if (out)
				memcpy(out + n, s + i, k);
			n += k;
			i += k;
			continue;
		}
		if (i + 1 >= p->len)
			return bad_json(p, p->pos, "unterminated string");
		unsigned char e = s[i + 1], b = 0;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			b = e;
			break;
		case 'b':
			b = '\b';
			break;
		case 'f':
			b = '\f';
			break;
		case 'n':
			b = '\n';
			break;
		case 'r':
			b = '\r';
			break;
		case 't':
			b = '\t';
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(s + i + 2, p->len - i - 2, &cp) != 0)
				return bad_json(p, i, "\\u needs four hex digits");
			i += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return bad_json(p, i - 6, "unpaired surrogate "
							  "\\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->len - i < 6 || s[i] != '\\' ||
				    s[i + 1] != 'u' ||
				    hex4(s + i + 2, p->len - i - 2, &lo) != 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return bad_json(p, i - 6,
							"unpaired surrogate "
							"\\u escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			}
			size_t k = put_utf8(cp, tmp);
			if (out)
				memcpy(out + n, tmp, k);
			n += k;
			continue;
		}
		default:
			return bad_json(p, i, "unknown escape (use \\\" \\\\ \\/ "
					      "\\b \\f \\n \\r \\t or \\uXXXX)");
		}
		if (out)
			out[n] = b;
		n++;
		i += 2;
	}
	if (out)
		p->pos = i;
	*dlen = n;
	return 0;
}

/* A string value of at most max decoded bytes, NUL-terminated in *out. */
static int jstr(jp *p, const char *field, size_t max, char **out,
		size_t *len)
{
	size_t n;
	if (jstr_pass(p, NULL, &n) != 0)
		return -1;
	if (n > max)
		return fail(p->err, 400,
			    "field '%s' of %s is %zu bytes long, over the "
			    "limit of %zu",
			    field, p->where, n, max);
	char *buf = malloc(n + 1);
	if (!buf)
		return fail(p->err, 500, "out of memory reading the body");
	jstr_pass(p, (unsigned char *)buf, &n);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Field names: longer than any known one means unknown, so a short
 * buffer suffices; it holds what a message echoes of an unknown one. */
#define FIELD_NAME_MAX (ECHO_MAX + 1)

static int jkey(jp *p, char out[FIELD_NAME_MAX + 1], size_t *len)
{
	size_t n;
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return bad_json(p, p->pos, "expected a field name in quotes");
	if (jstr_pass(p, NULL, &n) != 0)
		return -1;
	unsigned char *tmp = malloc(n + 1);
	if (!tmp)
		return fail(p->err, 500, "out of memory reading the body");
	jstr_pass(p, tmp, &n);
	size_t k = n < FIELD_NAME_MAX ? n : FIELD_NAME_MAX;
	memcpy(out, tmp, k);
	out[k] = '\0';
	*len = n;
	free(tmp);
	return 0;
}

/* A whole number in [min, max]: JSON number syntax, no fraction or
 * exponent. */
static int jint(jp *p, const char *field, uint64_t min, uint64_t max,
		uint64_t *out)
{
	size_t i = p->pos;
	bool neg = false, big = false, whole = true;
	uint64_t v = 0;
	if (i < p->len && p->s[i] == '-') {
		neg = true;
		i++;
	}
	if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
		return bad_json(p, i, "expected a digit");
	if (p->s[i] == '0') {
		i++;
		if (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			return bad_json(p, i, "a number with a leading zero");
	} else {
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') {
			unsigned d = (unsigned)(p->s[i] - '0');
			if (v > (UINT64_MAX - d) / 10)
				big = true;
			else
				v = v * 10 + d;
			i++;
		}
	}
	if (i < p->len && p->s[i] == '.') {
		whole = false;
		i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
			return bad_json(p, i, "expected a digit after '.'");
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		whole = false;
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
			return bad_json(p, i, "expected a digit in the exponent");
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	p->pos = i;
	if (!whole)
		return fail(p->err, 400,
			    "field '%s' of %s must be a whole number "
			    "(no fraction or exponent)",
			    field, p->where);
	if ((neg && v != 0) || big || v < min || v > max)
		return fail(p->err, 400,
			    "field '%s' of %s must be from %llu to %llu",
			    field, p->where, (unsigned long long)min,
			    (unsigned long long)max);
	*out = v;
	return 0;
}

static int wrong_type(jp *p, const char *field, const char *want)
{
	return fail(p->err, 400, "field '%s' of %s must be %s, not %s", field,
		    p->where, want, kind_here(p));
}

/* A string of exactly digits hex digits: the value in *v (digits <= 16,
 * never 0) or the lowercase text in text (digits + 1 bytes). */
static int jhex(jp *p, const char *field, size_t digits, uint64_t *v,
		char *text)
{
	char *s;
	size_t len;
	if (jstr(p, field, 2 * digits, &s, &len) != 0)
		return -1;
	uint64_t n = 0;
	bool ok = len == digits;
	for (size_t i = 0; ok && i < len; i++) {
		int d = hexval(s[i]);
		ok = d >= 0;
		n = n << 4 | (uint64_t)(d < 0 ? 0 : d);
		if (text)
			text[i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	}
	free(s);
	if (text)
		text[ok ? digits : 0] = '\0';
	if (!ok || (v && n == 0))
		return fail(p->err, 400,
			    "field '%s' of %s must be the %zu hex digits the "
			    "agent gave",
			    field, p->where, digits);
	if (v)
		*v = n;
	return 0;
}

enum item_kind { ITEM_NAME, ITEM_ADDR };

/* An array of 1..max strings, each a name or an address. */
static int jlist(jp *p, const char *field, enum item_kind kind, size_t max,
		 char ***out, size_t *count)
{
	const char *want = kind == ITEM_ADDR ? "an array of \"IP:PORT\" strings"
					     : "an array of names";
	if (p->pos >= p->len || p->s[p->pos] != '[')
		return wrong_type(p, field, want);
	p->pos++;
	size_t n = 0, cap = 0;
	char **v = NULL;
	ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return fail(p->err, 400,
			    kind == ITEM_ADDR
				    ? "field '%s' of %s is empty: list at least "
				      "one IP:PORT"
				    : "field '%s' of %s is empty: omit it to "
				      "reach every alive member",
			    field, p->where);
	}
	for (;;) {
		ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"') {
			if (p->pos >= p->len || p->s[p->pos] == ']' ||
			    p->s[p->pos] == ',')
				goto syntax;
			fail(p->err, 400,
			     "field '%s' of %s must be %s: item %zu is %s",
			     field, p->where, want, n + 1, kind_here(p));
			goto out;
		}
		if (n == max) {
			fail(p->err, 400,
			     "field '%s' of %s holds more than %zu items",
			     field, p->where, max);
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **nv = realloc(v, nc * sizeof *nv);
			if (!nv) {
				fail(p->err, 500, "out of memory reading the body");
				goto out;
			}
			v = nv;
			cap = nc;
		}
		size_t len;
		if (jstr(p, field,
			 kind == ITEM_ADDR ? CL_REQ_ADDR_MAX : CL_REQ_NAME_MAX,
			 &v[n], &len) != 0)
			goto out;
		n++;
		bool ok = kind == ITEM_ADDR ? addr_ok(v[n - 1], len)
					    : name_ok(v[n - 1], len);
		if (!ok) {
			char e[ECHO_MAX + 4];
			fail(p->err, 400,
			     kind == ITEM_ADDR
				     ? "field '%s' of %s: item %zu ('%s') is not "
				       "a numeric IP:PORT (e.g. 10.0.0.5:7946 or "
				       "[fd00::5]:7946)"
				     : "field '%s' of %s: item %zu ('%s') is not "
				       "a member name (1 to 255 bytes, no "
				       "control characters)",
			     field, p->where, n, echo(e, v[n - 1], len));
			goto out;
		}
		ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			*out = v;
			*count = n;
			return 0;
		}
		goto syntax;
	}
syntax:
	bad_json(p, p->pos, "expected a string, ',' or ']' in an array");
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Body schemas                                                        */
/* ------------------------------------------------------------------ */

enum field_id {
	FLD_ADDRS,
	FLD_TOPIC,
	FLD_DATA,
	FLD_MEMBERS,
	FLD_TIMEOUT,
	FLD_ID,
	FLD_OP,
	FLD_KEY,
	FLD_SUBSCRIBER,
	FLD_SET,
	FLD_UNSET,
	FLD_NAME,
};

static const char *const field_names[] = {
	[FLD_ADDRS] = "addrs",	    [FLD_TOPIC] = "topic", [FLD_DATA] = "data",
	[FLD_MEMBERS] = "members", [FLD_TIMEOUT] = "timeout_ms",
	[FLD_ID] = "id",	    [FLD_OP] = "op",	   [FLD_KEY] = "key",
	[FLD_SUBSCRIBER] = "subscriber", [FLD_SET] = "set",
	[FLD_UNSET] = "unset", [FLD_NAME] = "name",
};

struct schema {
	unsigned fields;   /* bit per field_id */
	unsigned required; /* bit per field_id */
	const char *example;
};

static const struct schema *schema_for(cl_route r)
{
#define BIT(f) (1u << (f))
	static const struct schema join = {
		BIT(FLD_ADDRS), BIT(FLD_ADDRS),
		"{\"addrs\":[\"10.0.0.5:7946\"]}"};
	static const struct schema leave = {0, 0, "{}"};
	static const struct schema multicast = {
		BIT(FLD_TOPIC) | BIT(FLD_DATA) | BIT(FLD_MEMBERS),
		BIT(FLD_TOPIC), "{\"topic\":\"jobs\",\"data\":\"run 42\"}"};
	static const struct schema multicall = {
		BIT(FLD_TOPIC) | BIT(FLD_DATA) | BIT(FLD_TIMEOUT),
		BIT(FLD_TOPIC),
		"{\"topic\":\"jobs\",\"data\":\"status\",\"timeout_ms\":2000}"};
	static const struct schema reply = {
		BIT(FLD_ID) | BIT(FLD_SUBSCRIBER) | BIT(FLD_DATA),
		BIT(FLD_ID) | BIT(FLD_SUBSCRIBER),
		"{\"id\":\"<id of the call event>\",\"subscriber\":\"<from "
		"the answering event>\",\"data\":\"done\"}"};
	static const struct schema keys = {
		BIT(FLD_OP) | BIT(FLD_KEY), BIT(FLD_OP) | BIT(FLD_KEY),
		"{\"op\":\"install\",\"key\":\"<64 hex digits>\"}"};
	static const struct schema tags = {
		BIT(FLD_SET) | BIT(FLD_UNSET), 0,
		"{\"set\":[\"groups=a,b\"],\"unset\":[\"role\"]}"};
	static const struct schema force_leave = {
		BIT(FLD_NAME), BIT(FLD_NAME), "{\"name\":\"app@10.0.0.5\"}"};
#undef BIT
	switch (r) {
	case CL_ROUTE_TAGS:
		return &tags;
	case CL_ROUTE_FORCE_LEAVE:
		return &force_leave;
	case CL_ROUTE_JOIN:
		return &join;
	case CL_ROUTE_LEAVE:
		return &leave;
	case CL_ROUTE_MULTICAST:
		return &multicast;
	case CL_ROUTE_MULTICALL:
		return &multicall;
	case CL_ROUTE_REPLY:
		return &reply;
	case CL_ROUTE_KEYS_OP:
		return &keys;
	default:
		return NULL;
	}
}

/* "addrs" or "topic, data, members": the fields a schema takes. */
static void field_list(const struct schema *s, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t f = 0; f < sizeof field_names / sizeof *field_names; f++)
		if (s->fields & (1u << f)) {
			int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "",
					 field_names[f]);
			if (w < 0 || (size_t)w >= cap - o)
				return;
			o += (size_t)w;
		}
}

static int read_field(jp *p, cl_request *r, enum field_id f)
{
	const char *name = field_names[f];
	uint64_t v = 0;
	size_t len;
	switch (f) {
	case FLD_ADDRS:
		return jlist(p, name, ITEM_ADDR, CL_REQ_ADDRS_MAX, &r->addrs,
			     &r->n_addrs);
	case FLD_MEMBERS:
		return jlist(p, name, ITEM_NAME, CL_REQ_MEMBERS_MAX, &r->members,
			     &r->n_members);
	case FLD_SET:
	case FLD_UNSET: {
		char ***list = f == FLD_SET ? &r->tags : &r->unset;
		size_t *nl = f == FLD_SET ? &r->n_tags : &r->n_unset;
		if (jlist(p, name, ITEM_NAME, CL_REQ_TAGS_SET_MAX, list, nl) != 0)
			return -1;
		for (size_t i = 0; i < *nl; i++) {
			const char *t = (*list)[i], *eq = strchr(t, '=');
			size_t klen = f == FLD_SET ? (eq ? (size_t)(eq - t) : 0)
						   : strlen(t);
			bool ok = klen >= 1 && klen <= CL_REQ_TAG_KEY_MAX &&
				  (f == FLD_SET ? strlen(eq + 1) <= 255
						: !strchr(t, '='));
			if (!ok)
				return fail(p->err, 400,
					    "field '%s' of %s takes %s",
					    name, p->where,
					    f == FLD_SET
						    ? "\"KEY=VALUE\" strings (a "
						      "key of 1 to 64 bytes, a "
						      "value up to 255)"
						    : "tag keys (1 to 64 bytes, "
						      "no '=')");
		}
		return 0;
	}
	case FLD_NAME:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name, "a member's name");
		if (jstr(p, name, CL_REQ_NAME_MAX, &r->name, &len) != 0)
			return -1;
		if (!name_ok(r->name, len))
			return fail(p->err, 400,
				    "field 'name' of %s must be a member's name "
				    "(1 to 255 bytes, no control characters)",
				    p->where);
		return 0;
	case FLD_TOPIC:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name, "a string");
		if (jstr(p, name, CL_REQ_NAME_MAX, &r->topic, &len) != 0)
			return -1;
		if (!name_ok(r->topic, len))
			return fail(p->err, 400,
				    "field 'topic' of %s must be 1 to 255 bytes "
				    "without control characters",
				    p->where);
		return 0;
	case FLD_DATA:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name, "a string");
		free(r->data); /* the "" default */
		r->data = NULL;
		return jstr(p, name, CL_REQ_BODY_MAX, &r->data, &r->data_len);
	case FLD_KEY:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name, "a string");
		if (jstr(p, name, CL_REQ_KEYTEXT_MAX, &r->keytext, &len) != 0)
			return -1;
		if (len == 0 || memchr(r->keytext, '\0', len)) {
			memset(r->keytext, 0, len);
			return fail(p->err, 400,
				    "field 'key' of %s must be a key: 64 hex "
				    "digits or base64 of 32 bytes",
				    p->where);
		}
		return 0;
	case FLD_OP: {
		char *op;
		if (p->s[p->pos] != '"')
			return wrong_type(p, name, "a string");
		if (jstr(p, name, 16, &op, &len) != 0)
			return -1;
		int e = 0;
		if (!strcmp(op, "install"))
			r->op = CL_KEYS_INSTALL;
		else if (!strcmp(op, "use"))
			r->op = CL_KEYS_USE;
		else if (!strcmp(op, "remove"))
			r->op = CL_KEYS_REMOVE;
		else
			e = fail(p->err, 400,
				 "field 'op' of %s must be \"install\", \"use\" "
				 "or \"remove\"",
				 p->where);
		free(op);
		return e;
	}
	case FLD_TIMEOUT:
		if (!number_here(p))
			return wrong_type(p, name, "a number of milliseconds");
		if (jint(p, name, 1, CL_REQ_TIMEOUT_MAX_MS, &v) != 0)
			return -1;
		r->timeout_ms = (int)v;
		return 0;
	case FLD_ID:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name,
					  "the string from the \"call\" event");
		return jhex(p, name, CL_REQ_CALL_ID_HEX, &r->id, NULL);
	case FLD_SUBSCRIBER:
		if (p->s[p->pos] != '"')
			return wrong_type(p, name,
					  "the string from the \"answering\" "
					  "event");
		return jhex(p, name, CL_REQ_SUBSCRIBER_HEX, NULL,
			    r->subscriber);
	}
	return -1;
}

static int parse_body(const char *where, cl_route route, const void *body,
		      size_t len, cl_request *r, cl_req_error *err)
{
	const struct schema *s = schema_for(route);
	jp p = {body, len, 0, err, where};
	ws(&p);
	if (p.pos == p.len) {
		if (s->required)
			return fail(err, 400, "%s needs a JSON body, e.g. %s",
				    where, s->example);
		return 0;
	}
	if (p.s[p.pos] != '{')
		return fail(err, 400,
			    "the body of %s must be a JSON object, e.g. %s; "
			    "got %s",
			    where, s->example, kind_here(&p));
	p.pos++;
	unsigned seen = 0, given = 0;
	ws(&p);
	if (p.pos < p.len && p.s[p.pos] == '}') {
		p.pos++;
	} else {
		for (;;) {
			char key[FIELD_NAME_MAX + 1], e[ECHO_MAX + 4];
			size_t klen = 0;
			ws(&p);
			if (jkey(&p, key, &klen) != 0)
				return -1;
			size_t f = 0, nf = sizeof field_names / sizeof *field_names;
			while (f < nf && (klen != strlen(field_names[f]) ||
					  strcmp(key, field_names[f])))
				f++;
			if (f == nf || !(s->fields & (1u << f))) {
				/* Only the start of a long name was kept. */
				size_t shown = klen < FIELD_NAME_MAX ? klen
								     : FIELD_NAME_MAX;
				char list[96];
				field_list(s, list, sizeof list);
				if (!list[0])
					return fail(err, 400,
						    "%s takes no body fields (got "
						    "'%s'): send {} or nothing",
						    where, echo(e, key, shown));
				return fail(err, 400,
					    "unknown field '%s' in the body of "
					    "%s: it takes %s",
					    echo(e, key, shown), where, list);
			}
			if (given & (1u << f))
				return fail(err, 400,
					    "field '%s' is given twice in the body "
					    "of %s",
					    field_names[f], where);
			given |= 1u << f;
			ws(&p);
			if (p.pos >= p.len || p.s[p.pos] != ':')
				return bad_json(&p, p.pos,
						"expected ':' after a field name");
			p.pos++;
			ws(&p);
			if (p.pos >= p.len)
				return bad_json(&p, p.pos, "expected a value");
			/* An explicit null is the field left out. */
			if (!literal(&p, "null")) {
				if (read_field(&p, r, (enum field_id)f) != 0)
					return -1;
				seen |= 1u << f;
			}
			ws(&p);
			if (p.pos < p.len && p.s[p.pos] == ',') {
				p.pos++;
				continue;
			}
			if (p.pos < p.len && p.s[p.pos] == '}') {
				p.pos++;
				break;
			}
			return bad_json(&p, p.pos, "expected ',' or '}' after a "
						   "value");
		}
	}
	ws(&p);
	if (p.pos != p.len)
		return bad_json(&p, p.pos,
				"unexpected data after the JSON object");
	unsigned missing = s->required & ~seen;
	for (size_t f = 0; missing; f++)
		if (missing & (1u << f))
			return fail(err, 400,
				    "field '%s' is missing from the body of %s, "
				    "e.g. %s",
				    field_names[f], where, s->example);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Query parameters per endpoint                                       */
/* ------------------------------------------------------------------ */

static int check_params(const char *where, const cl_query *q,
			const char *const *allowed, const char *list,
			cl_req_error *err)
{
	for (size_t i = 0; i < q->n; i++) {
		bool ok = false;
		for (size_t a = 0; allowed && allowed[a]; a++)
			if (q->p[i].key_len == strlen(allowed[a]) &&
			    !memcmp(q->p[i].key, allowed[a], q->p[i].key_len))
				ok = true;
		if (!ok) {
			char e[ECHO_MAX + 4];
			if (!list)
				return fail(err, 400,
					    "%s takes no query parameters (got "
					    "'%s')",
					    where, echo(e, q->p[i].key,
							q->p[i].key_len));
			return fail(err, 400,
				    "unknown query parameter '%s' for %s: it "
				    "takes %s",
				    echo(e, q->p[i].key, q->p[i].key_len), where,
				    list);
		}
	}
	return 0;
}

static int whois_params(const cl_query *q, cl_request *r, cl_req_error *err)
{
	static const char *const allowed[] = {"key", "ring", "n", NULL};
	const char *where = "GET /v1/whois";
	if (check_params(where, q, allowed, "key, ring, n", err) != 0)
		return -1;
	size_t len;
	const char *v = cl_query_get(q, "key", &len);
	if (!v)
		return fail(err, 400,
			    "GET /v1/whois needs ?key=K (URL-encoded), e.g. "
			    "/v1/whois?key=user%%3A42");
	if (len > CL_REQ_KEY_MAX)
		return fail(err, 400, "key is %zu bytes, over the limit of %u",
			    len, CL_REQ_KEY_MAX);
	r->key = malloc(len + 1);
	if (!r->key)
		return fail(err, 500, "out of memory");
	memcpy(r->key, v, len + 1);
	r->key_len = len;

	v = cl_query_get(q, "ring", &len);
	if (v && len && !name_ok(v, len))
		return fail(err, 400,
			    "ring must be a ring name (1 to 255 bytes of UTF-8, "
			    "no control characters); leave it out for the "
			    "default ring");
	r->ring = strdup(v ? v : "");
	if (!r->ring)
		return fail(err, 500, "out of memory");

	r->n = 1;
	v = cl_query_get(q, "n", &len);
	if (v) {
		unsigned n = 0;
		size_t i = 0;
		for (; i < len && i < 3 && v[i] >= '0' && v[i] <= '9'; i++)
			n = n * 10 + (unsigned)(v[i] - '0');
		if (i == 0 || i != len || n < 1 || n > CL_REQ_OWNERS_MAX)
			return fail(err, 400,
				    "n must be a whole number from 1 to %u (how "
				    "many owners, in ring order)",
				    CL_REQ_OWNERS_MAX);
		r->n = n;
	}
	return 0;
}

/* /v1/members: ?status=S[,S...] and ?tag=K=V (repeatable, all match). */
static int members_params(const cl_query *q, cl_request *r, cl_req_error *err)
{
	static const char *const allowed[] = {"status", "tag", NULL};
	static const char *const statuses[] = {"alive", "suspect", "dead",
					       "left"};
	if (check_params("GET /v1/members", q, allowed, "status, tag", err) != 0)
		return -1;
	char e[ECHO_MAX + 4];
	bool seen_status = false;
	for (size_t i = 0; i < q->n; i++) {
		const char *v = q->p[i].val;
		size_t len = q->p[i].val_len;
		if (q->p[i].key_len == 6) { /* status */
			if (seen_status)
				return fail(err, 400,
					    "status is given twice: list the "
					    "statuses comma separated, e.g. "
					    "?status=alive,suspect");
			seen_status = true;
			for (size_t a = 0; a <= len;) {
				const char *comma = memchr(v + a, ',', len - a);
				size_t b = comma ? (size_t)(comma - v) : len, s = 0;
				while (s < 4 && (strlen(statuses[s]) != b - a ||
						 memcmp(statuses[s], v + a, b - a)))
					s++;
				if (s == 4)
					return fail(err, 400,
						    "status: '%s' is not alive, "
						    "suspect, dead or left",
						    echo(e, v + a, b - a));
				r->status_mask |= 1u << s;
				a = b + 1;
			}
			continue;
		}
		const char *eq = memchr(v, '=', len);
		if (!eq || eq == v || (size_t)(eq - v) > CL_REQ_TAG_KEY_MAX ||
		    len - (size_t)(eq - v) - 1 > 255 || !name_ok(v, len))
			return fail(err, 400,
				    "tag: '%s' is not KEY=VALUE (a key of 1 to "
				    "64 bytes, a value up to 255, no control "
				    "characters)",
				    echo(e, v, len));
		if (r->n_tags == CL_REQ_TAG_FILTERS_MAX)
			return fail(err, 400, "more than %u tag filters",
				    CL_REQ_TAG_FILTERS_MAX);
		if (!r->tags &&
		    !(r->tags = calloc(CL_REQ_TAG_FILTERS_MAX, sizeof *r->tags)))
			return fail(err, 500, "out of memory");
		if (!(r->tags[r->n_tags] = strndup(v, len)))
			return fail(err, 500, "out of memory");
		r->n_tags++;
	}
	return 0;
}

/* /v1/ring: every ring, or the one named. */
static int ring_params(const cl_query *q, cl_request *r, cl_req_error *err)
{
	static const char *const allowed[] = {"ring", NULL};
	if (check_params("GET /v1/ring", q, allowed, "ring", err) != 0)
		return -1;
	size_t len;
	const char *v = cl_query_get(q, "ring", &len);
	if (v && len && !name_ok(v, len))
		return fail(err, 400,
			    "ring must be a ring name (1 to 255 bytes of UTF-8, "
			    "no control characters); leave it out for every "
			    "ring");
	if (v) {
		r->ring = strdup(v);
		if (!r->ring)
			return fail(err, 500, "out of memory");
	}
	return 0;
}

/* Topics beginning with this belong to the agent, which answers them
 * itself ("cloister.ping"): a subscriber must not displace its handler. */
#define RESERVED_PREFIX "cloister."

static int events_params(const cl_query *q, cl_request *r, cl_req_error *err)
{
	static const char *const allowed[] = {"answer", NULL};
	if (check_params("GET /v1/events", q, allowed, "answer", err) != 0)
		return -1;
	size_t len;
	const char *v = cl_query_get(q, "answer", &len);
	if (!v)
		return 0;
	if (len == 0)
		return fail(err, 400,
			    "answer is empty: list the topics to answer, comma "
			    "separated, e.g. ?answer=jobs.run,jobs.stop");
	r->answer = calloc(CL_REQ_ANSWER_MAX, sizeof *r->answer);
	if (!r->answer)
		return fail(err, 500, "out of memory");
	for (size_t i = 0; i <= len;) {
		const char *comma = memchr(v + i, ',', len - i);
		size_t j = comma ? (size_t)(comma - v) : len;
		char e[ECHO_MAX + 4];
		if (!name_ok(v + i, j - i))
			return fail(err, 400,
				    "answer: '%s' is not a topic (1 to 255 bytes, "
				    "no control characters, comma separated)",
				    echo(e, v + i, j - i));
		if (j - i >= strlen(RESERVED_PREFIX) &&
		    !memcmp(v + i, RESERVED_PREFIX, strlen(RESERVED_PREFIX)))
			return fail(err, 403,
				    "answer: topic '%s' is answered by the agent "
				    "itself; pick a topic outside cloister.*",
				    echo(e, v + i, j - i));
		for (size_t k = 0; k < r->n_answer; k++)
			if (strlen(r->answer[k]) == j - i &&
			    !memcmp(r->answer[k], v + i, j - i))
				return fail(err, 400,
					    "answer: topic '%s' is listed twice",
					    echo(e, v + i, j - i));
		if (r->n_answer == CL_REQ_ANSWER_MAX)
			return fail(err, 400,
				    "answer lists more than %u topics: open "
				    "another /v1/events stream for the rest",
				    CL_REQ_ANSWER_MAX);
		r->answer[r->n_answer] = strndup(v + i, j - i);
		if (!r->answer[r->n_answer])
			return fail(err, 500, "out of memory");
		r->n_answer++;
		i = j + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

#define NONE (-1)

static const struct route_def {
	const char *path;
	int get, post; /* the route for GET (and HEAD), for POST */
	bool no_head;  /* a stream has no meaningful HEAD */
	const char *allow;
} routes[] = {
	{"/v1/status", CL_ROUTE_STATUS, NONE, false, "GET, HEAD"},
	{"/v1/members", CL_ROUTE_MEMBERS, NONE, false, "GET, HEAD"},
	{"/v1/whois", CL_ROUTE_WHOIS, NONE, false, "GET, HEAD"},
	{"/v1/events", CL_ROUTE_EVENTS, NONE, true, "GET"},
	{"/v1/join", NONE, CL_ROUTE_JOIN, false, "POST"},
	{"/v1/leave", NONE, CL_ROUTE_LEAVE, false, "POST"},
	{"/v1/multicast", NONE, CL_ROUTE_MULTICAST, false, "POST"},
	{"/v1/multicall", NONE, CL_ROUTE_MULTICALL, false, "POST"},
	{"/v1/reply", NONE, CL_ROUTE_REPLY, false, "POST"},
	{"/v1/keys", CL_ROUTE_KEYS_LIST, CL_ROUTE_KEYS_OP, false,
	 "GET, HEAD, POST"},
	{"/ready", CL_ROUTE_READY, NONE, false, "GET, HEAD"},
	{"/health", CL_ROUTE_HEALTH, NONE, false, "GET, HEAD"},
	{"/metrics", CL_ROUTE_METRICS, NONE, false, "GET, HEAD"},
	{"/v1/ring", CL_ROUTE_RING, NONE, false, "GET, HEAD"},
	{"/v1/tags", NONE, CL_ROUTE_TAGS, false, "POST"},
	{"/v1/force-leave", NONE, CL_ROUTE_FORCE_LEAVE, false, "POST"},
};

int cl_request_parse(const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, cl_request *out,
		     cl_req_error *err)
{
	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	if (!path || !*path)
		path = "/";
	if (!method)
		method = "";
	const struct route_def *rd = NULL;
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
		if (!strcmp(path, routes[i].path))
			rd = &routes[i];
	char e[ECHO_MAX + 4];
	if (!rd)
		return fail(err, 404,
			    "no endpoint at '%s': the API serves /v1/status, "
			    "/v1/members, /v1/whois, /v1/ring, /v1/events, "
			    "/v1/join, /v1/leave, /v1/multicast, /v1/multicall, "
			    "/v1/reply, /v1/keys, /v1/tags, /v1/force-leave, "
			    "/ready, /health, /metrics "
			    "and the web page at /ui",
			    echo(e, path, strlen(path)));
	bool get = !strcmp(method, "GET"), head = !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");
	int route = get || (head && !rd->no_head) ? rd->get
		    : post			   ? rd->post
						   : NONE;
	if (route == NONE) {
		err->allow = rd->allow;
		return fail(err, 405, "%s does not take %s: use %s", rd->path,
			    echo(e, method, strlen(method)), rd->allow);
	}
	out->route = (cl_route)route;
	out->head = head;
	out->timeout_ms = CL_REQ_TIMEOUT_DEFAULT_MS;
	out->data = strdup("");
	if (!out->data)
		return fail(err, 500, "out of memory");

	char where[32];
	snprintf(where, sizeof where, "%s %s", post ? "POST" : "GET", rd->path);
	cl_query q;
	if (cl_query_parse(query, query ? strlen(query) : 0, &q, err) != 0)
		goto bad;
	int e2;
	switch (out->route) {
	case CL_ROUTE_WHOIS:
		e2 = whois_params(&q, out, err);
		break;
	case CL_ROUTE_EVENTS:
		e2 = events_params(&q, out, err);
		break;
	case CL_ROUTE_RING:
		e2 = ring_params(&q, out, err);
		break;
	case CL_ROUTE_MEMBERS:
		e2 = members_params(&q, out, err);
		break;
	default:
		e2 = check_params(where, &q, NULL, NULL, err);
		break;
	}
	cl_query_free(&q);
	if (e2 != 0)
		goto bad;
	if (post) {
		if (body_len > CL_REQ_BODY_MAX) {
			fail(err, 413,
			     "the body is %zu bytes, over the limit of %u",
			     body_len, CL_REQ_BODY_MAX);
			goto bad;
		}
		if (parse_body(where, out->route, body, body_len, out, err) != 0)
			goto bad;
	}
	return 0;
bad:
	cl_request_free(out);
	return -1;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void cl_request_free(cl_request *r)
{
	free(r->key);
	free(r->ring);
	free_list(r->answer, r->n_answer);
	free_list(r->addrs, r->n_addrs);
	free(r->topic);
	free(r->data);
	free_list(r->members, r->n_members);
	free_list(r->tags, r->n_tags);
	free_list(r->unset, r->n_unset);
	free(r->name);
	if (r->keytext) {
		/* Key material: do not leave it in freed memory. */
		volatile char *k = r->keytext;
		while (*k)
			*k++ = 0;
		free(r->keytext);
	}
	memset(r, 0, sizeof *r);
}
