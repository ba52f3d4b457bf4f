/*
 * test_port_etf.c — the Erlang port's request decoder and framing:
 * well-formed requests of every command, then what comes from a broken or
 * hostile BEAM side: every truncation of valid frames, wrong types,
 * out-of-range values, lengths and counts past the bytes present, nesting
 * past the bound, unsupported term types, and {packet,4} frames split,
 * joined and oversize.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Both are pure and live with the agent, outside the library. */
#include "agent/query.c"
#include "agent/port_etf.c"

/* ------------------------------------------------------------------ */
/* A tiny ETF writer                                                   */
/* ------------------------------------------------------------------ */

typedef struct buf {
	unsigned char b[8192];
	size_t n;
} buf;

static void wput(buf *w, const void *p, size_t n)
{
	CHECK(w->n + n <= sizeof w->b);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}
static void wbyte(buf *w, unsigned v)
{
	unsigned char c = (unsigned char)v;
	wput(w, &c, 1);
}
static void be32(buf *w, uint32_t v)
{
	unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	wput(w, c, 4);
}
static void ver(buf *w)
{
	wbyte(w, 131);
}
static void tup(buf *w, unsigned n)
{
	wbyte(w, 'h');
	wbyte(w, n);
}
static void atm(buf *w, const char *s)
{
	wbyte(w, 'w');
	wbyte(w, (unsigned)strlen(s));
	wput(w, s, strlen(s));
}
static void wbin(buf *w, const char *s)
{
	wbyte(w, 'm');
	be32(w, (uint32_t)strlen(s));
	wput(w, s, strlen(s));
}
static void sint(buf *w, unsigned v)
{
	wbyte(w, 'a');
	wbyte(w, v);
}
static void i32(buf *w, int32_t v)
{
	wbyte(w, 'b');
	be32(w, (uint32_t)v);
}
static void wnil(buf *w)
{
	wbyte(w, 'j');
}
static void lst(buf *w, uint32_t n)
{
	wbyte(w, 'l');
	be32(w, n);
}
/* A reference as make_ref() encodes it (NEWER_REFERENCE_EXT). */
static void wref(buf *w)
{
	wbyte(w, 'Z');
	wbyte(w, 0);
	wbyte(w, 3);
	atm(w, "nonode@nohost");
	be32(w, 0);
	be32(w, 1);
	be32(w, 2);
	be32(w, 3);
}

static int dec(const buf *w, cl_port_req *r, char *why)
{
	return cl_port_decode(w->b, w->n, r, why, 320);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Decodes and expects a refusal with a message, naming Ref when given. */
static void refused(const buf *w, bool ref_known, const char *needle)
{
	cl_port_req r;
	char why[320] = "";
	CHECK(dec(w, &r, why) == -1);
	CHECK(why[0] && printable(why));
	if (needle && !strstr(why, needle))
		CHECK_FAIL("message '%s' lacks '%s'", why, needle);
	CHECK(ref_known == (r.ref != NULL));
	CHECK(!r.key && !r.topic && !r.data && !r.names && !r.ring);
	cl_port_req_free(&r);
}

/* ------------------------------------------------------------------ */

static void test_commands(void)
{
	cl_port_req r;
	char why[320];
	buf w = {0};
	ver(&w), tup(&w, 3), sint(&w, 7), atm(&w, "status"), wnil(&w);
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.cmd, CL_PCMD_STATUS);
	CHECK_EQ_INT(r.ref_len, 2);
	CHECK(r.ref[0] == 'a' && r.ref[1] == 7);
	cl_port_req_free(&r);

	w.n = 0; /* {Ref, whois, {<<"k\0x">>, default, 3}} */
	ver(&w), tup(&w, 3), wref(&w), atm(&w, "whois"), tup(&w, 3);
	wbyte(&w, 'm'), be32(&w, 3), wput(&w, "k\0x", 3);
	atm(&w, "default"), sint(&w, 3);
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.cmd, CL_PCMD_WHOIS);
	CHECK_EQ_INT(r.key_len, 3);
	CHECK(!memcmp(r.key, "k\0x", 3));
	CHECK_STR_EQ(r.ring, "");
	CHECK_EQ_INT(r.n, 3);
	CHECK(r.ref[0] == 'Z');
	cl_port_req_free(&r);

	w.n = 0; /* multicast to named members, ring by name in mine */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "multicast"), tup(&w, 3);
	wbin(&w, "jobs"), wbin(&w, "payload"), lst(&w, 2), wbin(&w, "a@h"),
		wbin(&w, "b@h"), wnil(&w);
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.cmd, CL_PCMD_MULTICAST);
	CHECK_STR_EQ(r.topic, "jobs");
	CHECK_EQ_INT(r.data_len, 7);
	CHECK_EQ_INT(r.n_names, 2);
	CHECK_STR_EQ(r.names[1], "b@h");
	cl_port_req_free(&r);

	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "multicall"), tup(&w, 3);
	wbin(&w, "jobs"), wbin(&w, ""), i32(&w, 60000);
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.timeout_ms, 60000);
	cl_port_req_free(&r);

	w.n = 0; /* reply with a 2^40 id as a small big */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "reply"), tup(&w, 2);
	wbyte(&w, 'n'), wbyte(&w, 6), wbyte(&w, 0);
	wput(&w, "\0\0\0\0\0\1", 6);
	wbin(&w, "ok");
	CHECK(dec(&w, &r, why) == 0);
	CHECK(r.id == (uint64_t)1 << 40);
	cl_port_req_free(&r);

	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "keys"), tup(&w, 2);
	atm(&w, "use"), wbin(&w, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(dec(&w, &r, why) == 0);
	CHECK(r.keys_op && r.op == CL_KEYS_USE && strlen(r.keytext) == 64);
	cl_port_req_free(&r);

	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "join"), lst(&w, 1);
	wbin(&w, "127.0.7.1:7946"), wnil(&w);
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.cmd, CL_PCMD_JOIN);
	CHECK_STR_EQ(r.names[0], "127.0.7.1:7946");
	cl_port_req_free(&r);

	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "answer"), wbin(&w, "erlang.cloister");
	CHECK(dec(&w, &r, why) == 0);
	CHECK_STR_EQ(r.topic, "erlang.cloister");
	cl_port_req_free(&r);
}

/* Every proper prefix of valid frames is refused, without reading past
 * it (ASan would see that: each prefix is copied to its own buffer). */
static void test_truncated(void)
{
	buf w = {0};
	ver(&w), tup(&w, 3), wref(&w), atm(&w, "multicast"), tup(&w, 3);
	wbin(&w, "jobs"), wbin(&w, "payload"), lst(&w, 2), wbin(&w, "a@h"),
		wbin(&w, "b@h"), wnil(&w);
	for (size_t n = 0; n < w.n; n++) {
		unsigned char *copy = malloc(n ? n : 1);
		memcpy(copy, w.b, n);
		cl_port_req r;
		char why[320] = "";
		CHECK(cl_port_decode(copy, n, &r, why, sizeof why) == -1);
		CHECK(why[0] && printable(why));
		CHECK(!r.topic && !r.data && !r.names);
		cl_port_req_free(&r);
		CHECK(!cl_etf_valid(copy, n));
		free(copy);
	}
	/* And a byte too many. */
	wbyte(&w, 'j');
	refused(&w, false, "not a term");
}

static void test_wrong_types(void)
{
	buf w = {0};
	ver(&w), sint(&w, 1); /* not a tuple */
	refused(&w, false, "3-tuple");
	w.n = 0;
	ver(&w), tup(&w, 2), sint(&w, 1), atm(&w, "status");
	refused(&w, false, "3-tuple");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), wbin(&w, "status"), wnil(&w);
	refused(&w, true, "Command must be an atom");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "status"), sint(&w, 0);
	refused(&w, true, "no arguments");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "launch"), wnil(&w);
	refused(&w, true, "unknown command 'launch'");
	w.n = 0; /* whois key as an atom */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "whois"), tup(&w, 3);
	atm(&w, "k"), atm(&w, "default"), sint(&w, 1);
	refused(&w, true, "Key must be a binary");
	w.n = 0; /* N = 0 and N = 65 */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "whois"), tup(&w, 3);
	wbin(&w, "k"), wbin(&w, ""), sint(&w, 0);
	refused(&w, true, "N must be");
	w.b[w.n - 1] = 65;
	refused(&w, true, "N must be");
	w.n = 0; /* ring name with a control character */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "mine"), tup(&w, 2);
	wbin(&w, "k"), wbin(&w, "a\nb");
	refused(&w, true, "Ring");
	w.n = 0; /* empty topic, reserved topic, bad UTF-8 */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "answer"), wbin(&w, "");
	refused(&w, true, "Topic");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "answer"), wbin(&w, "cloister.ping");
	refused(&w, true, "belong to the agent");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "answer"), wbin(&w, "\xc0\x80");
	refused(&w, true, "Topic");
	w.n = 0; /* timeout out of range, negative */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "multicall"), tup(&w, 3);
	wbin(&w, "t"), wbin(&w, "d"), i32(&w, -5);
	refused(&w, true, "TimeoutMs");
	w.n = 0; /* multicast members: empty list, improper list, non-binary */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "multicast"), tup(&w, 3);
	wbin(&w, "t"), wbin(&w, "d"), wnil(&w);
	refused(&w, true, "1 to");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "multicast"), tup(&w, 3);
	wbin(&w, "t"), wbin(&w, "d"), lst(&w, 1), wbin(&w, "a@h"), wbin(&w, "tail");
	refused(&w, true, "proper list");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "join"), lst(&w, 1), sint(&w, 1), wnil(&w);
	refused(&w, true, "must be a binary");
	w.n = 0; /* extra element in Args */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "mine"), tup(&w, 3);
	wbin(&w, "k"), wbin(&w, ""), wnil(&w);
	refused(&w, true, "{Key, Ring}");
	w.n = 0; /* keys with an unknown op */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "keys"), tup(&w, 2);
	atm(&w, "burn"), wbin(&w, "x");
	refused(&w, true, "install, use");
	w.n = 0; /* reply id past 2^53 (a small big of 8 bytes) */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "reply"), tup(&w, 2);
	wbyte(&w, 'n'), wbyte(&w, 8), wbyte(&w, 0);
	wput(&w, "\0\0\0\0\0\0\0\x7f", 8);
	wbin(&w, "");
	refused(&w, true, "CallId");
	w.n = 0; /* a 9-byte big is no int64 */
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "reply"), tup(&w, 2);
	wbyte(&w, 'n'), wbyte(&w, 9), wbyte(&w, 0);
	wput(&w, "\1\0\0\0\0\0\0\0\0", 9);
	wbin(&w, "");
	refused(&w, true, "CallId");
}

/* Lengths and counts that claim more than the frame holds. */
static void test_oversize_lengths(void)
{
	buf w = {0};
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "answer");
	wbyte(&w, 'm'), be32(&w, 0xffffffffu), wput(&w, "abc", 3);
	refused(&w, false, "not a term");
	w.n = 0;
	ver(&w), tup(&w, 3), sint(&w, 1), atm(&w, "join");
	lst(&w, 0x7fffffffu), wbin(&w, "a"), wnil(&w);
	refused(&w, false, "not a term");
	w.n = 0;
	ver(&w), wbyte(&w, 'i'), be32(&w, 0xffffffffu), sint(&w, 1);
	refused(&w, false, "not a term");
	w.n = 0; /* map arity * 2 overflowing 32 bits */
	ver(&w), tup(&w, 3), wbyte(&w, 't'), be32(&w, 0x80000000u), atm(&w, "status"), wnil(&w);
	refused(&w, false, "not a term");
	w.n = 0; /* atom longer than atoms are */
	ver(&w), wbyte(&w, 'v'), wbyte(&w, 0xff), wbyte(&w, 0xff);
	refused(&w, false, "not a term");
	w.n = 0; /* a reference claiming 6000 words */
	ver(&w), tup(&w, 3), wbyte(&w, 'Z'), wbyte(&w, 0x17), wbyte(&w, 0x70);
	atm(&w, "n@h"), be32(&w, 0), atm(&w, "status"), wnil(&w);
	refused(&w, false, "not a term");
	/* Payload past 1 MiB inside a frame within the frame limit. */
	size_t big = CL_REQ_BODY_MAX + 1;
	unsigned char *f = calloc(1, big + 64);
	size_t n = 0;
	f[n++] = 131, f[n++] = 'h', f[n++] = 3, f[n++] = 'a', f[n++] = 1;
	f[n++] = 'w', f[n++] = 9;
	memcpy(f + n, "multicast", 9), n += 9;
	f[n++] = 'h', f[n++] = 2, f[n++] = 'm', f[n++] = 0, f[n++] = 0, f[n++] = 0,
	f[n++] = 1, f[n++] = 't';
	f[n++] = 'm', f[n++] = (unsigned char)(big >> 24), f[n++] = (unsigned char)(big >> 16),
	f[n++] = (unsigned char)(big >> 8), f[n++] = (unsigned char)big;
	n += big;
	cl_port_req r;
	char why[320];
	CHECK(cl_port_decode(f, n, &r, why, sizeof why) == -1);
	CHECK(strstr(why, "Data is") != NULL && r.ref != NULL);
	CHECK(cl_port_decode(f, CL_PORT_FRAME_MAX + 1, &r, why, sizeof why) == -1);
	free(f);
}

static void test_nesting_and_types(void)
{
	for (unsigned depth = 14; depth <= 40; depth++) {
		buf w = {0};
		ver(&w), tup(&w, 3);
		for (unsigned i = 0; i < depth; i++)
			tup(&w, 1);
		sint(&w, 1);
		atm(&w, "status"), wnil(&w);
		cl_port_req r;
		char why[320];
		/* The Ref sits at depth 1; its innermost integer at depth+1. */
		int got = dec(&w, &r, why);
		CHECK_EQ_INT(got, depth + 1 <= CL_PORT_DEPTH_MAX ? 0 : -1);
		cl_port_req_free(&r);
	}
	/* Deep through list tails, the other way to nest. */
	buf w = {0};
	ver(&w);
	for (int i = 0; i < 1000; i++)
		lst(&w, 0);
	wnil(&w);
	CHECK(!cl_etf_valid(w.b, w.n));
	/* Funs, exports, compressed terms, atom cache refs: refused. */
	static const unsigned char bad[][4] = {{131, 'p', 0, 0}, {131, 'q', 0, 0},
					       {131, 'P', 0, 0}, {131, 'R', 0, 0},
					       {130, 'j', 0, 0}, {131, 'M', 0, 0}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!cl_etf_valid(bad[i], 4) && !cl_etf_valid(bad[i], 2));
	/* Accepted shapes a Ref may take: floats, pids, maps, strings. */
	w.n = 0;
	ver(&w), tup(&w, 3), tup(&w, 4);
	wbyte(&w, 'F'), wput(&w, "\x3f\xf0\0\0\0\0\0\0", 8);
	wbyte(&w, 'X'), atm(&w, "n@h"), be32(&w, 1), be32(&w, 2), be32(&w, 3);
	wbyte(&w, 't'), be32(&w, 1), atm(&w, "k"), wbin(&w, "v");
	wbyte(&w, 'k'), wbyte(&w, 0), wbyte(&w, 2), wput(&w, "hi", 2);
	atm(&w, "members"), wnil(&w);
	cl_port_req r;
	char why[320];
	CHECK(dec(&w, &r, why) == 0);
	CHECK_EQ_INT(r.cmd, CL_PCMD_MEMBERS);
	cl_port_req_free(&r);
	CHECK(cl_port_decode(NULL, 0, &r, why, sizeof why) == -1);
}

static void test_framer(void)
{
	cl_port_framer f = {0};
	size_t used, flen;
	const unsigned char *frame;
	unsigned char s[64] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0};
	CHECK_EQ_INT(cl_port_frame_next(&f, s, 3, &used, &frame, &flen), CL_FRAME_NEED);
	CHECK_EQ_INT(cl_port_frame_next(&f, s, 6, &used, &frame, &flen), CL_FRAME_NEED);
	CHECK_EQ_INT(cl_port_frame_next(&f, s, 11, &used, &frame, &flen), CL_FRAME_OK);
	CHECK(used == 7 && flen == 3 && frame == s + 4);
	/* An empty frame is a frame (then refused by the decoder). */
	CHECK_EQ_INT(cl_port_frame_next(&f, s + 7, 4, &used, &frame, &flen), CL_FRAME_OK);
	CHECK(used == 4 && flen == 0);
	/* Oversize: the header is consumed, then its bytes in any chunks,
	 * and the stream is back in step for the next frame. */
	unsigned char big[4] = {0, 0x40, 0, 1}; /* 4 MiB + 1 */
	CHECK_EQ_INT(cl_port_frame_next(&f, big, 4, &used, &frame, &flen), CL_FRAME_OVERSIZE);
	CHECK(used == 4 && f.skip == CL_PORT_FRAME_MAX + 1 && f.oversize == 1);
	static unsigned char chunk[65536];
	size_t dropped = 0;
	while (f.skip) {
		CHECK_EQ_INT(cl_port_frame_next(&f, chunk, sizeof chunk, &used, &frame, &flen),
			     CL_FRAME_DROPPED);
		dropped += used;
	}
	CHECK_EQ_INT(dropped, CL_PORT_FRAME_MAX + 1);
	CHECK_EQ_INT(cl_port_frame_next(&f, s, 7, &used, &frame, &flen), CL_FRAME_OK);
	unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(cl_port_frame_next(&f, huge, 4, &used, &frame, &flen), CL_FRAME_OVERSIZE);
	CHECK(f.skip == 0xffffffffu);
}

int main(void)
{
	RUN_TEST(test_commands);
	RUN_TEST(test_truncated);
	RUN_TEST(test_wrong_types);
	RUN_TEST(test_oversize_lengths);
	RUN_TEST(test_nesting_and_types);
	RUN_TEST(test_framer);
	return 0;
}
