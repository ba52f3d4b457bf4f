/*
 * port_etf.c — {packet,4} frames and the requests inside them.
 *
 * Two passes over a frame.  cl_etf_valid() walks the whole term once on a
 * (position, end) cursor: every length and count is checked against the
 * bytes left before anything is read, nesting stops at CL_PORT_DEPTH_MAX,
 * and only term types the BEAM's term_to_binary produces for data are
 * accepted (no funs, no compressed terms, no atom cache references).
 * Then the request is read field by field with the same checked cursor,
 * each field as its one expected type: wrong types, extra elements and
 * out-of-range values end the decode with a message, never a guess.
 */
#include "port_etf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_MAGIC 131

/* Atom names: 255 characters of up to 4 bytes in UTF-8. */
#define ATOM_BYTES_MAX (255u * 4u)

typedef struct cur {
	const unsigned char *p, *end;
} cur;

static size_t left(const cur *c)
{
	return (size_t)(c->end - c->p);
}

static bool take(cur *c, size_t n, const unsigned char **out)
{
	if (left(c) < n)
		return false;
	if (out)
		*out = c->p;
	c->p += n;
	return true;
}

static bool u8(cur *c, uint32_t *v)
{
	const unsigned char *b;
	if (!take(c, 1, &b))
		return false;
	*v = b[0];
	return true;
}

static bool u16(cur *c, uint32_t *v)
{
	const unsigned char *b;
	if (!take(c, 2, &b))
		return false;
	*v = (uint32_t)b[0] << 8 | b[1];
	return true;
}

static bool u32(cur *c, uint32_t *v)
{
	const unsigned char *b;
	if (!take(c, 4, &b))
		return false;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
	     b[3];
	return true;
}

/* ------------------------------------------------------------------ */
/* Validation: one walk over any accepted term                          */
/* ------------------------------------------------------------------ */

static bool skip(cur *c, unsigned depth);

static bool skip_atom(cur *c)
{
	uint32_t tag, n;
	if (!u8(c, &tag))
		return false;
	switch (tag) {
	case 'd': /* ATOM_EXT */
	case 'v': /* ATOM_UTF8_EXT */
		return u16(c, &n) && n <= ATOM_BYTES_MAX && take(c, n, NULL);
	case 's': /* SMALL_ATOM_EXT */
	case 'w': /* SMALL_ATOM_UTF8_EXT */
		return u8(c, &n) && take(c, n, NULL);
	default:
		return false;
	}
}

/* n elements, each at least one byte: a count past the bytes left is a
 * lie and is refused before looping over it. */
static bool skip_n(cur *c, uint64_t n, unsigned depth)
{
	if (n > left(c))
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (!skip(c, depth))
			return false;
	return true;
}

static bool skip(cur *c, unsigned depth)
{
	if (depth > CL_PORT_DEPTH_MAX)
		return false;
	uint32_t tag, n, bits;
	if (!u8(c, &tag))
		return false;
	switch (tag) {
	case 'a': /* SMALL_INTEGER_EXT */
		return take(c, 1, NULL);
	case 'b': /* INTEGER_EXT */
		return take(c, 4, NULL);
	case 'F': /* NEW_FLOAT_EXT */
		return take(c, 8, NULL);
	case 'c': /* FLOAT_EXT */
		return take(c, 31, NULL);
	case 'd':
	case 'v':
	case 's':
	case 'w':
		c->p--;
		return skip_atom(c);
	case 'h': /* SMALL_TUPLE_EXT */
		return u8(c, &n) && skip_n(c, n, depth + 1);
	case 'i': /* LARGE_TUPLE_EXT */
		return u32(c, &n) && skip_n(c, n, depth + 1);
	case 't': /* MAP_EXT */
		return u32(c, &n) && skip_n(c, 2 * (uint64_t)n, depth + 1);
	case 'j': /* NIL_EXT */
		return true;
	case 'k': /* STRING_EXT */
		return u16(c, &n) && take(c, n, NULL);
	case 'l': /* LIST_EXT: elements, then the tail */
		return u32(c, &n) && skip_n(c, n, depth + 1) &&
		       skip(c, depth + 1);
	case 'm': /* BINARY_EXT */
		return u32(c, &n) && take(c, n, NULL);
	case 'M': /* BIT_BINARY_EXT */
		return u32(c, &n) && u8(c, &bits) && bits >= 1 && bits <= 8 &&
		       n >= 1 && take(c, n, NULL);
	case 'n': /* SMALL_BIG_EXT */
		return u8(c, &n) && take(c, 1 + (size_t)n, NULL);
	case 'o': /* LARGE_BIG_EXT */
		return u32(c, &n) && take(c, 1 + (size_t)n, NULL);
	case 'X': /* NEW_PID_EXT */
		return skip_atom(c) && take(c, 12, NULL);
	case 'g': /* PID_EXT */
		return skip_atom(c) && take(c, 9, NULL);
	case 'Y': /* NEW_PORT_EXT */
		return skip_atom(c) && take(c, 8, NULL);
	case 'x': /* V4_PORT_EXT */
		return skip_atom(c) && take(c, 12, NULL);
	case 'f': /* PORT_EXT */
		return skip_atom(c) && take(c, 5, NULL);
	case 'e': /* REFERENCE_EXT */
		return skip_atom(c) && take(c, 5, NULL);
	case 'Z': /* NEWER_REFERENCE_EXT */
		return u16(c, &n) && n >= 1 && n <= 5 && skip_atom(c) &&
		       take(c, 4 + 4 * (size_t)n, NULL);
	case 'r': /* NEW_REFERENCE_EXT */
		return u16(c, &n) && n >= 1 && n <= 5 && skip_atom(c) &&
		       take(c, 1 + 4 * (size_t)n, NULL);
	default: /* funs, exports, compressed, atom cache refs, unknown */
		return false;
	}
}

bool cl_etf_valid(const void *buf, size_t len)
{
	cur c = {buf, (const unsigned char *)buf + len};
	uint32_t v;
	if (!buf || !u8(&c, &v) || v != VERSION_MAGIC)
		return false;
	return skip(&c, 0) && left(&c) == 0;
}

/* ------------------------------------------------------------------ */
/* Typed readers (on a validated term, still checked)                  */
/* ------------------------------------------------------------------ */

static bool tuple(cur *c, uint32_t *arity)
{
	uint32_t tag;
	if (!u8(c, &tag))
		return false;
	if (tag == 'h')
		return u8(c, arity);
	if (tag == 'i')
		return u32(c, arity);
	c->p--;
	return false;
}

/* An atom's name, NUL-terminated, in out[256]: longer names are no
 * command and no option, so they are refused rather than cut. */
static bool atom(cur *c, char out[256])
{
	uint32_t tag, n;
	const unsigned char *b;
	const unsigned char *start = c->p;
	if (!u8(c, &tag))
		return false;
	bool ok;
	if (tag == 'd' || tag == 'v')
		ok = u16(c, &n);
	else if (tag == 's' || tag == 'w')
		ok = u8(c, &n);
	else
		ok = false;
	if (!ok || n > 255 || !take(c, n, &b)) {
		c->p = start;
		return false;
	}
	memcpy(out, b, n);
	out[n] = '\0';
	if (memchr(out, '\0', n)) {
		c->p = start;
		return false;
	}
	return true;
}

static bool is_atom(cur *c, const char *name)
{
	const unsigned char *start = c->p;
	char a[256];
	if (atom(c, a) && !strcmp(a, name))
		return true;
	c->p = start;
	return false;
}

static bool binary(cur *c, const unsigned char **b, size_t *len)
{
	uint32_t tag, n;
	const unsigned char *start = c->p;
	if (!u8(c, &tag) || tag != 'm' || !u32(c, &n) || !take(c, n, b)) {
		c->p = start;
		return false;
	}
	*len = n;
	return true;
}

/* Integers as term_to_binary writes them: small, 32-bit, or a small big
 * of up to 8 bytes; anything outside int64 is refused. */
static bool integer(cur *c, int64_t *v)
{
	uint32_t tag, n, sign;
	const unsigned char *b, *start = c->p;
	if (!u8(c, &tag))
		return false;
	if (tag == 'a' && take(c, 1, &b)) {
		*v = b[0];
		return true;
	}
	if (tag == 'b' && u32(c, &n)) {
		*v = (int32_t)n;
		return true;
	}
	if (tag == 'n' && u8(c, &n) && n <= 8 && u8(c, &sign) && sign <= 1 &&
	    take(c, n, &b)) {
		uint64_t m = 0;
		for (uint32_t i = n; i-- > 0;)
			m = m << 8 | b[i];
		if (sign ? m <= (uint64_t)INT64_MAX + 1 : m <= INT64_MAX) {
			*v = sign ? (int64_t)(0 - m) : (int64_t)m;
			return true;
		}
	}
	c->p = start;
	return false;
}

static bool nil(cur *c)
{
	if (left(c) >= 1 && c->p[0] == 'j') {
		c->p++;
		return true;
	}
	return false;
}

/* A proper list's header: *n elements follow, then NIL. */
static bool list(cur *c, uint32_t *n)
{
	uint32_t tag;
	const unsigned char *start = c->p;
	if (nil(c)) {
		*n = 0;
		return true;
	}
	if (u8(c, &tag) && tag == 'l' && u32(c, n))
		return true;
	c->p = start;
	return false;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* Echoed client text: enough to recognise it, printable ASCII only. */
#define PE_ECHO_MAX 40

static int pe_fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pe_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *pe_echo(char out[PE_ECHO_MAX + 4], const char *s)
{
	size_t n = strlen(s), o = 0;
	for (size_t i = 0; i < n && i < PE_ECHO_MAX; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n > PE_ECHO_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static char *dup_bytes(const unsigned char *b, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, b, n);
		s[n] = '\0';
	}
	return s;
}

static bool pe_name_ok(const unsigned char *s, size_t len)
{
	if (len < 1 || len > CL_REQ_NAME_MAX || !cl_utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A name as a binary: topics, rings, members. */
static int name(cur *c, const char *what, char **out, char *why, size_t whylen)
{
	const unsigned char *b;
	size_t n;
	if (!binary(c, &b, &n))
		return pe_fail(why, whylen, "%s must be a binary", what);
	if (!pe_name_ok(b, n))
		return pe_fail(why, whylen,
			    "%s must be 1..%u bytes of UTF-8 without control "
			    "characters",
			    what, CL_REQ_NAME_MAX);
	*out = dup_bytes(b, n);
	return *out ? 0 : pe_fail(why, whylen, "out of memory");
}

/* A binary of at most max bytes, copied: Data and Key. */
static int bounded_binary(cur *c, const char *what, size_t max,
			  char **out, size_t *len, char *why,
			  size_t whylen)
{
	const unsigned char *b;
	size_t n;
	if (!binary(c, &b, &n))
		return pe_fail(why, whylen, "%s must be a binary", what);
	if (n > max)
		return pe_fail(why, whylen, "%s is %zu bytes; at most %zu", what,
			    n, max);
	*out = dup_bytes(b, n);
	*len = n;
	return *out ? 0 : pe_fail(why, whylen, "out of memory");
}

static int data(cur *c, cl_port_req *r, char *why, size_t whylen)
{
	return bounded_binary(c, "Data", CL_REQ_BODY_MAX, &r->data,
			      &r->data_len, why, whylen);
}

/* The ring: <<>> or the atom default for the default ring, else a name. */
static int ring(cur *c, cl_port_req *r, char *why, size_t whylen)
{
	const unsigned char *b;
	size_t n;
	const unsigned char *start = c->p;
	if (is_atom(c, "default") || (binary(c, &b, &n) && n == 0)) {
		r->ring = dup_bytes((const unsigned char *)"", 0);
		return r->ring ? 0 : pe_fail(why, whylen, "out of memory");
	}
	c->p = start;
	return name(c, "Ring (default, <<>> or a ring's name)", &r->ring, why,
		    whylen);
}

static int key(cur *c, cl_port_req *r, char *why, size_t whylen)
{
	return bounded_binary(c, "Key", CL_REQ_KEY_MAX, &r->key, &r->key_len,
			      why, whylen);
}

/* Integer within [lo, hi]. */
static int bounded(cur *c, const char *what, int64_t lo, int64_t hi,
		   int64_t *v, char *why, size_t whylen)
{
	if (!integer(c, v) || *v < lo || *v > hi)
		return pe_fail(why, whylen, "%s must be an integer from %lld to %lld",
			    what, (long long)lo, (long long)hi);
	return 0;
}

/* A proper list of 1..max binaries, each checked by ok. */
static int names(cur *c, const char *what, size_t max, size_t len_max,
		 bool (*ok)(const unsigned char *, size_t), cl_port_req *r,
		 char *why, size_t whylen)
{
	uint32_t n;
	if (!list(c, &n))
		return pe_fail(why, whylen, "%s must be a list of binaries", what);
	if (n < 1 || n > max)
		return pe_fail(why, whylen, "%s must hold 1 to %zu entries, not %u",
			    what, max, n);
	r->names = calloc(n, sizeof *r->names);
	if (!r->names)
		return pe_fail(why, whylen, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *b;
		size_t len;
		if (!binary(c, &b, &len))
			return pe_fail(why, whylen, "%s[%u] must be a binary", what,
				    i);
		if (len > len_max || !ok(b, len))
			return pe_fail(why, whylen, "%s[%u] is not valid", what, i);
		r->names[i] = dup_bytes(b, len);
		if (!r->names[i])
			return pe_fail(why, whylen, "out of memory");
		r->n_names++;
	}
	if (!nil(c))
		return pe_fail(why, whylen, "%s must be a proper list", what);
	return 0;
}

/* Addresses: printable, no spaces; cloister_join_addrs() parses them. */
static bool pe_addr_ok(const unsigned char *s, size_t len)
{
	if (len < 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static bool keytext_ok(const unsigned char *s, size_t len)
{
	return pe_addr_ok(s, len);
}

/* Args of a command taking none: []. */
static int no_args(cur *c, const char *cmd, char *why, size_t whylen)
{
	if (!nil(c))
		return pe_fail(why, whylen, "%s takes no arguments: send {Ref, %s, []}",
			    cmd, cmd);
	return 0;
}

static int args_tuple(cur *c, const char *shape, uint32_t lo, uint32_t hi,
		      uint32_t *arity, char *why, size_t whylen)
{
	if (!tuple(c, arity) || *arity < lo || *arity > hi)
		return pe_fail(why, whylen, "Args must be %s", shape);
	return 0;
}

static int command(cur *c, cl_port_req *r, const char *cmd, char *why,
		   size_t whylen)
{
	uint32_t ar;
	int64_t v;
	if (!strcmp(cmd, "status")) {
		r->cmd = CL_PCMD_STATUS;
		return no_args(c, cmd, why, whylen);
	}
	if (!strcmp(cmd, "members")) {
		r->cmd = CL_PCMD_MEMBERS;
		return no_args(c, cmd, why, whylen);
	}
	if (!strcmp(cmd, "leave")) {
		r->cmd = CL_PCMD_LEAVE;
		return no_args(c, cmd, why, whylen);
	}
	if (!strcmp(cmd, "whois")) {
		r->cmd = CL_PCMD_WHOIS;
		if (args_tuple(c, "{Key, Ring, N}", 3, 3, &ar, why, whylen) ||
		    key(c, r, why, whylen) || ring(c, r, why, whylen) ||
		    bounded(c, "N", 1, CL_REQ_OWNERS_MAX, &v, why, whylen))
			return -1;
		r->n = (unsigned)v;
		return 0;
	}
	if (!strcmp(cmd, "mine")) {
		r->cmd = CL_PCMD_MINE;
		return args_tuple(c, "{Key, Ring}", 2, 2, &ar, why, whylen) ||
				       key(c, r, why, whylen) ||
				       ring(c, r, why, whylen)
			       ? -1
			       : 0;
	}
	if (!strcmp(cmd, "multicast")) {
		r->cmd = CL_PCMD_MULTICAST;
		if (args_tuple(c, "{Topic, Data} or {Topic, Data, [Member]}", 2,
			       3, &ar, why, whylen) ||
		    name(c, "Topic", &r->topic, why, whylen) ||
		    data(c, r, why, whylen))
			return -1;
		return ar == 3 ? names(c, "Members", CL_REQ_MEMBERS_MAX,
				       CL_REQ_NAME_MAX, pe_name_ok, r, why, whylen)
			       : 0;
	}
	if (!strcmp(cmd, "multicall")) {
		r->cmd = CL_PCMD_MULTICALL;
		if (args_tuple(c, "{Topic, Data, TimeoutMs}", 3, 3, &ar, why,
			       whylen) ||
		    name(c, "Topic", &r->topic, why, whylen) ||
		    data(c, r, why, whylen) ||
		    bounded(c, "TimeoutMs", 1, CL_REQ_TIMEOUT_MAX_MS, &v, why,
			    whylen))
			return -1;
		r->timeout_ms = (int)v;
		return 0;
	}
	if (!strcmp(cmd, "answer")) {
		r->cmd = CL_PCMD_ANSWER;
		if (name(c, "Topic", &r->topic, why, whylen))
			return -1;
		if (!strncmp(r->topic, "cloister.", 9))
			return pe_fail(why, whylen,
				    "topics beginning with \"cloister.\" belong "
				    "to the agent");
		return 0;
	}
	if (!strcmp(cmd, "reply")) {
		r->cmd = CL_PCMD_REPLY;
		if (args_tuple(c, "{CallId, Data}", 2, 2, &ar, why, whylen) ||
		    bounded(c, "CallId", 1, (int64_t)CL_REQ_ID_MAX, &v, why,
			    whylen) ||
		    data(c, r, why, whylen))
			return -1;
		r->id = (uint64_t)v;
		return 0;
	}
	if (!strcmp(cmd, "join")) {
		r->cmd = CL_PCMD_JOIN;
		return names(c, "Addrs", CL_REQ_ADDRS_MAX, CL_REQ_ADDR_MAX,
			     pe_addr_ok, r, why, whylen);
	}
	if (!strcmp(cmd, "keys")) {
		r->cmd = CL_PCMD_KEYS;
		if (nil(c))
			return 0;
		char op[256];
		const unsigned char *b;
		size_t n;
		if (args_tuple(c, "[] or {install | use | remove, KeyText}", 2,
			       2, &ar, why, whylen))
			return -1;
		if (!atom(c, op) || (strcmp(op, "install") && strcmp(op, "use") &&
				     strcmp(op, "remove")))
			return pe_fail(why, whylen,
				    "the keys operation must be install, use "
				    "or remove");
		r->keys_op = true;
		r->op = !strcmp(op, "install") ? CL_KEYS_INSTALL
			: !strcmp(op, "use")   ? CL_KEYS_USE
					       : CL_KEYS_REMOVE;
		if (!binary(c, &b, &n) || n > CL_REQ_KEYTEXT_MAX ||
		    !keytext_ok(b, n))
			return pe_fail(why, whylen,
				    "KeyText must be a binary: 64 hex digits "
				    "or the base64 of 32 bytes");
		r->keytext = dup_bytes(b, n);
		return r->keytext ? 0 : pe_fail(why, whylen, "out of memory");
	}
	char e[PE_ECHO_MAX + 4];
	return pe_fail(why, whylen,
		    "unknown command '%s': status, members, whois, mine, "
		    "multicast, multicall, answer, reply, join, leave or keys",
		    pe_echo(e, cmd));
}

int cl_port_decode(const void *frame, size_t len, cl_port_req *out,
		   char *why, size_t whylen)
{
	char dummy[8];
	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof dummy;
	}
	memset(out, 0, sizeof *out);
	if (len > CL_PORT_FRAME_MAX)
		return pe_fail(why, whylen, "frame of %zu bytes; at most %u", len,
			    CL_PORT_FRAME_MAX);
	if (!frame || !cl_etf_valid(frame, len))
		return pe_fail(why, whylen,
			    "not a term this port reads (external term format "
			    "version 131, uncompressed, no funs, nesting at most "
			    "%u)",
			    CL_PORT_DEPTH_MAX);
	cur c = {(const unsigned char *)frame + 1,
		 (const unsigned char *)frame + len};
	uint32_t arity;
	if (!tuple(&c, &arity) || arity != 3)
		return pe_fail(why, whylen,
			    "a request is a 3-tuple {Ref, Command, Args}");
	const unsigned char *ref = c.p;
	if (!skip(&c, 1))
		return pe_fail(why, whylen, "bad Ref"); /* validated: unreachable */
	out->ref = ref;
	out->ref_len = (size_t)(c.p - ref);
	char cmd[256];
	if (!atom(&c, cmd)) {
		pe_fail(why, whylen, "Command must be an atom");
	} else if (command(&c, out, cmd, why, whylen) == 0) {
		if (left(&c) == 0)
			return 0;
		pe_fail(why, whylen, "extra elements in %s's Args", cmd);
	}
	const unsigned char *r = out->ref;
	size_t rl = out->ref_len;
	cl_port_req_free(out);
	out->ref = r;
	out->ref_len = rl;
	return -1;
}

void cl_port_req_free(cl_port_req *r)
{
	if (!r)
		return;
	free(r->key);
	free(r->ring);
	free(r->topic);
	free(r->data);
	for (size_t i = 0; i < r->n_names; i++)
		free(r->names[i]);
	free(r->names);
	free(r->keytext);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ */
/* Framing                                                             */
/* ------------------------------------------------------------------ */

cl_frame_result cl_port_frame_next(cl_port_framer *f, const unsigned char *buf,
				   size_t len, size_t *consumed,
				   const unsigned char **frame, size_t *flen)
{
	*consumed = 0;
	*frame = NULL;
	*flen = 0;
	if (f->skip) {
		size_t n = len < f->skip ? len : (size_t)f->skip;
		f->skip -= n;
		*consumed = n;
		return n ? CL_FRAME_DROPPED : CL_FRAME_NEED;
	}
	if (len < 4)
		return CL_FRAME_NEED;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
		     (uint32_t)buf[2] << 8 | buf[3];
	if (n > CL_PORT_FRAME_MAX) {
		/* Dropped as it arrives: never buffered, and the stream
		 * stays in step for the frames after it. */
		f->skip = n;
		f->oversize++;
		*consumed = 4;
		return CL_FRAME_OVERSIZE;
	}
	if (len - 4 < n)
		return CL_FRAME_NEED;
	*frame = buf + 4;
	*flen = n;
	*consumed = 4 + (size_t)n;
	return CL_FRAME_OK;
}
