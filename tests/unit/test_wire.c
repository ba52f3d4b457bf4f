/*
 * test_wire.c — the v1 codec: round trips of every message, the byte
 * layout of wire.h checked against hand-built packets, every class of
 * malformed input with its drop reason, encoder refusal, and addr text.
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "cloister.h"
#include "core/addr.h"
#include "core/wire.h"

#define LABEL "test"
#define LABEL_LEN 4
#define MTU 1400

static cl_wire_msg msgs[CL_WIRE_MAX_MSGS];

static cl_bytes B(const char *s)
{
	return (cl_bytes){(const uint8_t *)s, strlen(s)};
}

static bool bytes_eq(cl_bytes a, cl_bytes b)
{
	return a.len == b.len &&
	       (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int parse_dgram(const uint8_t *buf, size_t len)
{
	return cl_wire_parse(buf, len, LABEL, LABEL_LEN, MTU, false, msgs,
			     CL_WIRE_MAX_MSGS);
}

static int parse_stream(const uint8_t *buf, size_t len)
{
	return cl_wire_parse(buf, len, LABEL, LABEL_LEN, CL_WIRE_STREAM_MAX, true,
			     msgs, CL_WIRE_MAX_MSGS);
}

/* Parses a copy in a buffer of exactly len bytes, so that ASan sees any
 * read past the end. */
static int parse_exact(const uint8_t *buf, size_t len, bool stream)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len)
		memcpy(copy, buf, len);
	int r = stream ? parse_stream(copy, len) : parse_dgram(copy, len);
	free(copy);
	return r;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static cl_addr addr6(uint16_t port)
{
	cl_addr a = {.family = CL_AF_INET6, .port = port};
	for (int i = 0; i < 16; i++)
		a.ip[i] = (uint8_t)(0x20 + i);
	return a;
}

/* ------------------------------------------------------------------ */
/* Raw packet builder, for bytes the encoders refuse to write          */
/* ------------------------------------------------------------------ */

struct raw {
	uint8_t b[1 << 17];
	size_t n;
	size_t msg;	/* offset of the open message's length field */
	bool wide;	/* its length is u32 */
};

static struct raw R;

static void r_u8(struct raw *r, uint8_t v)
{
	r->b[r->n++] = v;
}

static void r_u16(struct raw *r, uint16_t v)
{
	r_u8(r, (uint8_t)(v >> 8));
	r_u8(r, (uint8_t)v);
}

static void r_u32(struct raw *r, uint32_t v)
{
	r_u16(r, (uint16_t)(v >> 16));
	r_u16(r, (uint16_t)v);
}

static void r_u64(struct raw *r, uint64_t v)
{
	r_u32(r, (uint32_t)(v >> 32));
	r_u32(r, (uint32_t)v);
}

static void r_bytes(struct raw *r, const void *p, size_t n)
{
	if (n)
		memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void r_name(struct raw *r, const char *s)
{
	r_u8(r, (uint8_t)strlen(s));
	r_bytes(r, s, strlen(s));
}

static void r_addr4(struct raw *r, uint8_t last, uint16_t port)
{
	r_u8(r, 4);
	r_u8(r, 10);
	r_u8(r, 0);
	r_u8(r, 0);
	r_u8(r, last);
	r_u16(r, port);
}

static void r_tags(struct raw *r, const void *t, size_t n)
{
	r_u16(r, (uint16_t)n);
	r_bytes(r, t, n);
}

static void r_header(struct raw *r, const char *label)
{
	r->n = 0;
	r_bytes(r, "CL\x02\x00", 4);
	r_name(r, label);
}

static void r_begin(struct raw *r, uint8_t type)
{
	r_u8(r, type);
	r->msg = r->n;
	r->wide = type == CL_MSG_PUSHPULL;
	if (r->wide)
		r_u32(r, 0);
	else
		r_u16(r, 0);
}

static void r_end(struct raw *r)
{
	size_t hl = r->wide ? 4 : 2, body = r->n - r->msg - hl;
	for (size_t i = 0; i < hl; i++)
		r->b[r->msg + i] = (uint8_t)(body >> (8 * (hl - 1 - i)));
}

/* A PUSHPULL member, raw. */
static void r_member(struct raw *r, uint8_t status, const char *name,
		     const void *tags, size_t tags_len)
{
	r_u8(r, status);
	r_u32(r, 7);
	r_u64(r, 1000);
	r_name(r, name);
	r_addr4(r, 1, 7946);
	r_tags(r, tags, tags_len);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

static const uint8_t TAGS[] = "\x04role\x02" "db" "\x02" "dc\x05" "eu-w1";
#define TAGS_LEN (sizeof(TAGS) - 1)

static void test_roundtrip_each_type(void)
{
	uint8_t buf[MTU];
	cl_wbuf w;
	cl_addr a4 = cl_addr_v4(10, 1, 2, 3, 7946), a6 = addr6(65535);
	cl_bytes tags = {TAGS, TAGS_LEN};

	CHECK(cl_wire_tags_valid(TAGS, TAGS_LEN, CL_WIRE_TAGS_MAX));

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ping(&w, 0xdeadbeef, B("node-b"), B("node-a"), &a6,
			       0x0123456789abcdefull, 42));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_PING);
	CHECK_EQ_INT(msgs[0].u.ping.seq, 0xdeadbeef);
	CHECK(bytes_eq(msgs[0].u.ping.target, B("node-b")));
	CHECK(bytes_eq(msgs[0].u.ping.source, B("node-a")));
	CHECK(cl_addr_equal(&msgs[0].u.ping.source_addr, &a6));
	CHECK(msgs[0].u.ping.checksum == 0x0123456789abcdefull);
	CHECK_EQ_INT(msgs[0].u.ping.member_count, 42);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ping_req(&w, 9, B("t"), &a4, B("o"), &a6,
				   CL_PINGREQ_WANT_NACK, 375));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_PING_REQ);
	CHECK_EQ_INT(msgs[0].u.ping_req.seq, 9);
	CHECK(bytes_eq(msgs[0].u.ping_req.target, B("t")));
	CHECK(cl_addr_equal(&msgs[0].u.ping_req.target_addr, &a4));
	CHECK(bytes_eq(msgs[0].u.ping_req.origin, B("o")));
	CHECK(cl_addr_equal(&msgs[0].u.ping_req.origin_addr, &a6));
	CHECK_EQ_INT(msgs[0].u.ping_req.flags, CL_PINGREQ_WANT_NACK);
	CHECK_EQ_INT(msgs[0].u.ping_req.nack_ms, 375);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 0));
	CHECK(cl_wire_put_ack(&w, CL_MSG_NACK, UINT32_MAX));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 2);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_ACK);
	CHECK_EQ_INT(msgs[0].u.ack.seq, 0);
	CHECK_EQ_INT(msgs[1].type, CL_MSG_NACK);
	CHECK(msgs[1].u.ack.seq == UINT32_MAX);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_alive(&w, 3, UINT64_MAX, B("alpha"), &a4, tags));
	CHECK(cl_wire_put_alive(&w, 4, 5, B("beta"), &a6, (cl_bytes){0}));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 2);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_ALIVE);
	CHECK_EQ_INT(msgs[0].u.alive.status, CL_STATUS_ALIVE);
	CHECK_EQ_INT(msgs[0].u.alive.incarnation, 3);
	CHECK(msgs[0].u.alive.start_ms == UINT64_MAX);
	CHECK(bytes_eq(msgs[0].u.alive.name, B("alpha")));
	CHECK(cl_addr_equal(&msgs[0].u.alive.addr, &a4));
	CHECK(bytes_eq(msgs[0].u.alive.tags, tags));
	CHECK(bytes_eq(msgs[1].u.alive.name, B("beta")));
	CHECK(cl_addr_equal(&msgs[1].u.alive.addr, &a6));
	CHECK_EQ_INT(msgs[1].u.alive.tags.len, 0);

	/* Walk the tags back out. */
	cl_bytes k, v;
	size_t pos = 0;
	CHECK(cl_wire_tag_next(&msgs[0].u.alive.tags, &pos, &k, &v));
	CHECK(bytes_eq(k, B("role")) && bytes_eq(v, B("db")));
	CHECK(cl_wire_tag_next(&msgs[0].u.alive.tags, &pos, &k, &v));
	CHECK(bytes_eq(k, B("dc")) && bytes_eq(v, B("eu-w1")));
	CHECK(!cl_wire_tag_next(&msgs[0].u.alive.tags, &pos, &k, &v));
	pos = 0;
	CHECK(!cl_wire_tag_next(&msgs[1].u.alive.tags, &pos, &k, &v));

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_accuse(&w, CL_MSG_SUSPECT, 11, B("m"), B("acc")));
	CHECK(cl_wire_put_accuse(&w, CL_MSG_DEAD, 12, B("m"), B("m")));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 2);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_SUSPECT);
	CHECK_EQ_INT(msgs[0].u.accuse.incarnation, 11);
	CHECK(bytes_eq(msgs[0].u.accuse.member, B("m")));
	CHECK(bytes_eq(msgs[0].u.accuse.accuser, B("acc")));
	CHECK_EQ_INT(msgs[1].type, CL_MSG_DEAD);
	CHECK_EQ_INT(msgs[1].u.accuse.incarnation, 12);
	CHECK(bytes_eq(msgs[1].u.accuse.accuser, B("m")));

	/* An empty packet is a valid packet, with no messages. */
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK_EQ_INT(w.len, 5 + LABEL_LEN);
	CHECK_EQ_INT(parse_dgram(buf, w.len), 0);
	CHECK_EQ_INT(parse_stream(buf, w.len), 0);
}

static const cl_wire_member *pp_members(size_t *n)
{
	static cl_wire_member m[4];
	static const uint8_t t1[] = "\x01k\x00";
	m[0] = (cl_wire_member){CL_STATUS_ALIVE, 1, 100, B("n0"),
				cl_addr_v4(1, 2, 3, 4, 1), {TAGS, TAGS_LEN}};
	m[1] = (cl_wire_member){CL_STATUS_SUSPECT, 2, 200, B("n1"), addr6(2),
				{0}};
	m[2] = (cl_wire_member){CL_STATUS_DEAD, 3, 300, B("n2"),
				cl_addr_v4(5, 6, 7, 8, 3), {t1, 3}};
	m[3] = (cl_wire_member){CL_STATUS_LEFT, UINT32_MAX, UINT64_MAX,
				B("n3"), addr6(4), {0}};
	*n = 4;
	return m;
}

static void check_member_eq(const cl_wire_member *a, const cl_wire_member *b)
{
	CHECK_EQ_INT(a->status, b->status);
	CHECK(a->incarnation == b->incarnation);
	CHECK(a->start_ms == b->start_ms);
	CHECK(bytes_eq(a->name, b->name));
	CHECK(cl_addr_equal(&a->addr, &b->addr));
	CHECK(bytes_eq(a->tags, b->tags));
}

static void test_roundtrip_pushpull(void)
{
	static uint8_t buf[1 << 20];
	cl_wbuf w;
	size_t n;
	const cl_wire_member *m = pp_members(&n);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	CHECK(cl_wire_pushpull_begin(&w, CL_PUSHPULL_JOIN | CL_PUSHPULL_REPLY));
	CHECK_EQ_INT(w.mark, 5 + LABEL_LEN + 7);
	for (size_t i = 0; i < n; i++)
		CHECK(cl_wire_pushpull_add(&w, &m[i]));
	cl_wire_pushpull_end(&w);
	CHECK_EQ_INT(w.mark, 0);
	CHECK(cl_wire_put_ack(&w, CL_MSG_NACK, 2));

	CHECK_EQ_INT(parse_stream(buf, w.len), 3);
	CHECK_EQ_INT(msgs[1].type, CL_MSG_PUSHPULL);
	CHECK_EQ_INT(msgs[1].u.pushpull.flags,
		     CL_PUSHPULL_JOIN | CL_PUSHPULL_REPLY);
	CHECK_EQ_INT(msgs[1].u.pushpull.count, n);
	cl_wire_member got;
	size_t pos = 0, i = 0;
	while (cl_wire_member_next(&msgs[1].u.pushpull.entries, &pos, &got)) {
		CHECK(i < n);
		check_member_eq(&got, &m[i]);
		i++;
	}
	CHECK_EQ_INT(i, n);
	CHECK_EQ_INT(pos, msgs[1].u.pushpull.entries.len);
	CHECK_EQ_INT(msgs[2].u.ack.seq, 2);

	/* An empty push-pull (a fresh node joining) is fine. */
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_pushpull_begin(&w, CL_PUSHPULL_JOIN));
	cl_wire_pushpull_end(&w);
	CHECK_EQ_INT(parse_stream(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].u.pushpull.count, 0);
	pos = 0;
	CHECK(!cl_wire_member_next(&msgs[0].u.pushpull.entries, &pos, &got));

	/* The u32 body length: a state well past 64 KiB. */
	static uint8_t big_tags[CL_WIRE_TAGS_MAX];
	size_t tl = 0;
	for (int k = 0; tl + 2 + 2 + 250 <= sizeof(big_tags); k++) {
		big_tags[tl++] = 2;
		big_tags[tl++] = (uint8_t)('a' + k);
		big_tags[tl++] = 'k';
		big_tags[tl++] = 250;
		memset(big_tags + tl, 'v', 250);
		tl += 250;
	}
	CHECK(cl_wire_tags_valid(big_tags, tl, CL_WIRE_TAGS_MAX));
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_pushpull_begin(&w, 0));
	char name[32];
	for (int k = 0; k < 200; k++) {
		snprintf(name, sizeof(name), "member-%03d", k);
		cl_wire_member bm = {CL_STATUS_ALIVE, (uint32_t)k, 1, B(name),
				     addr6((uint16_t)k), {big_tags, tl}};
		CHECK(cl_wire_pushpull_add(&w, &bm));
	}
	cl_wire_pushpull_end(&w);
	CHECK(w.len > 3 * 65536);
	CHECK_EQ_INT(parse_stream(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].u.pushpull.count, 200);
	pos = 0;
	i = 0;
	while (cl_wire_member_next(&msgs[0].u.pushpull.entries, &pos, &got)) {
		snprintf(name, sizeof(name), "member-%03d", (int)i);
		CHECK(bytes_eq(got.name, B(name)));
		CHECK_EQ_INT(got.addr.port, i);
		i++;
	}
	CHECK_EQ_INT(i, 200);
}

/* The encoders agree with the layout drawn in wire.h, not just with the
 * decoder. */
static void test_layout_matches_spec(void)
{
	uint8_t buf[MTU];
	cl_wbuf w;
	cl_addr a = cl_addr_v4(10, 0, 0, 9, 7946);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_alive(&w, 0x01020304, 0x05060708090a0b0cull,
				B("ab"), &a, (cl_bytes){TAGS, TAGS_LEN}));
	CHECK(cl_wire_put_accuse(&w, CL_MSG_DEAD, 5, B("x"), B("y")));
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_ALIVE);
	r_u32(&R, 0x01020304);
	r_u64(&R, 0x05060708090a0b0cull);
	r_name(&R, "ab");
	r_addr4(&R, 9, 7946);
	r_tags(&R, TAGS, TAGS_LEN);
	r_end(&R);
	r_begin(&R, CL_MSG_DEAD);
	r_u32(&R, 5);
	r_name(&R, "x");
	r_name(&R, "y");
	r_end(&R);
	CHECK_EQ_INT(w.len, R.n);
	CHECK(memcmp(buf, R.b, R.n) == 0);
	CHECK_EQ_INT(cl_wire_alive_size(2, &a, TAGS_LEN),
		     3 + 4 + 8 + 3 + 7 + 2 + TAGS_LEN);
	cl_addr a6 = addr6(1);
	CHECK_EQ_INT(cl_wire_alive_size(2, &a6, 0), 3 + 4 + 8 + 3 + 19 + 2);

	/* PUSHPULL: u32 body length, flags, count, members. */
	static const uint8_t t1[] = "\x01k\x00";
	cl_wire_member m = {CL_STATUS_DEAD, 7, 1000, B("nm"), a, {t1, 3}};
	m.addr.ip[3] = 1;
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_pushpull_begin(&w, CL_PUSHPULL_REPLY));
	CHECK(cl_wire_pushpull_add(&w, &m));
	CHECK(cl_wire_pushpull_add(&w, &m));
	cl_wire_pushpull_end(&w);
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PUSHPULL);
	r_u8(&R, CL_PUSHPULL_REPLY);
	r_u32(&R, 2);
	r_member(&R, CL_STATUS_DEAD, "nm", t1, 3);
	r_member(&R, CL_STATUS_DEAD, "nm", t1, 3);
	r_end(&R);
	CHECK_EQ_INT(w.len, R.n);
	CHECK(memcmp(buf, R.b, R.n) == 0);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                     */
/* ------------------------------------------------------------------ */

/* Every prefix of a valid packet either ends exactly on a message
 * boundary (then it is a valid, shorter packet: the format has no
 * message count) or is rejected as truncated. */
static void check_truncations(const uint8_t *buf, size_t len, bool stream,
			      const size_t *bounds, size_t nbounds)
{
	for (size_t cut = 0; cut < len; cut++) {
		int want = -CL_DROP_TRUNCATED;
		for (size_t b = 0; b < nbounds; b++)
			if (bounds[b] == cut)
				want = (int)b;
		CHECK_EQ_INT(parse_exact(buf, cut, stream), want);
	}
	CHECK_EQ_INT(parse_exact(buf, len, stream), (int)nbounds);
}

/* PING_REQ is the one message versions 1 and 2 lay out differently: 2
 * ends with the relay's nack deadline.  Each version's layout is read
 * under its own number and refused under the other's. */
static void test_ping_req_versions(void)
{
	cl_addr a = cl_addr_v4(10, 0, 0, 9, 7946);
	for (int version = 1; version <= 2; version++) {
		R.n = 0;
		r_bytes(&R, version == 1 ? "CL\x01\x00" : "CL\x02\x00", 4);
		r_name(&R, LABEL);
		r_begin(&R, CL_MSG_PING_REQ);
		r_u32(&R, 77);
		r_name(&R, "t");
		r_addr4(&R, 9, 7946);
		r_name(&R, "o");
		r_addr4(&R, 9, 7946);
		r_u8(&R, CL_PINGREQ_WANT_NACK);
		if (version == 2)
			r_u16(&R, 375);
		r_end(&R);
		CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
		CHECK_EQ_INT(msgs[0].u.ping_req.seq, 77);
		CHECK(cl_addr_equal(&msgs[0].u.ping_req.target_addr, &a));
		CHECK_EQ_INT(msgs[0].u.ping_req.nack_ms, version == 2 ? 375 : 0);
		/* The other version's number on this layout. */
		R.b[2] = (uint8_t)(3 - version);
		CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	}
}

/* DIGEST: 2^bits sums, streams only, bits <= 12, the body exact. */
static void test_digest(void)
{
	static uint64_t sums[1u << CL_WIRE_DIGEST_BITS_MAX];
	static uint8_t big[16 + 8 * (1u << CL_WIRE_DIGEST_BITS_MAX) + 64];
	for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++)
		sums[i] = 0x0101010101010101ull * (i + 1);
	for (uint8_t bits = 0; bits <= CL_WIRE_DIGEST_BITS_MAX; bits++) {
		cl_wbuf w;
		CHECK(cl_wire_begin(&w, big, sizeof big, LABEL, LABEL_LEN));
		CHECK(cl_wire_put_digest(&w, CL_DIGEST_REPLY, bits, sums));
		cl_wire_msg m[2];
		CHECK_EQ_INT(cl_wire_parse(big, w.len, LABEL, LABEL_LEN,
					   CL_WIRE_STREAM_MAX, true, m, 2), 1);
		CHECK_EQ_INT(m[0].type, CL_MSG_DIGEST);
		CHECK_EQ_INT(m[0].u.digest.bits, bits);
		CHECK_EQ_INT(m[0].u.digest.flags, CL_DIGEST_REPLY);
		for (size_t i = 0; i < (size_t)1 << bits; i++)
			CHECK(cl_wire_digest_sum(&m[0], i) == sums[i]);
		CHECK(cl_wire_digest_sum(&m[0], (size_t)1 << bits) == 0);
		/* Never in a datagram. */
		CHECK_EQ_INT(cl_wire_parse(big, w.len, LABEL, LABEL_LEN, 65000,
					   false, m, 2),
			     -CL_DROP_UNEXPECTED);
	}
	cl_wbuf w;
	CHECK(cl_wire_begin(&w, big, sizeof big, LABEL, LABEL_LEN));
	CHECK(!cl_wire_put_digest(&w, 0, CL_WIRE_DIGEST_BITS_MAX + 1, sums));
	/* bits past the bound, and bodies a byte short or long. */
	for (int k = 0; k < 3; k++) {
		r_header(&R, LABEL);
		r_begin(&R, CL_MSG_DIGEST);
		r_u8(&R, 0);
		r_u8(&R, k == 0 ? CL_WIRE_DIGEST_BITS_MAX + 1 : 1);
		size_t n = k == 0 ? 1 : 2;
		for (size_t i = 0; i < n; i++)
			r_u64(&R, i);
		if (k == 2)
			r_u8(&R, 0);
		if (k == 1)
			R.n -= 1;
		r_end(&R);
		CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	}
}

static void test_truncation(void)
{
	static uint8_t buf[4096];
	cl_wbuf w;
	cl_addr a4 = cl_addr_v4(10, 1, 2, 3, 7946), a6 = addr6(1);
	size_t bounds[16], nb = 0;

	CHECK(cl_wire_begin(&w, buf, MTU, LABEL, LABEL_LEN));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_ping(&w, 1, B("b"), B("a"), &a6, 2, 3));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_ping_req(&w, 1, B("t"), &a4, B("o"), &a6, 1, 400));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_ack(&w, CL_MSG_NACK, 1));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_alive(&w, 1, 2, B("alpha"), &a4,
				(cl_bytes){TAGS, TAGS_LEN}));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_accuse(&w, CL_MSG_SUSPECT, 1, B("m"), B("a")));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_accuse(&w, CL_MSG_DEAD, 1, B("m"), B("m")));
	/* The last boundary is the full length: not a prefix. */
	check_truncations(buf, w.len, false, bounds, nb);
	check_truncations(buf, w.len, true, bounds, nb);

	size_t n;
	const cl_wire_member *m = pp_members(&n);
	nb = 0;
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	bounds[nb++] = w.len;
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	bounds[nb++] = w.len;
	CHECK(cl_wire_pushpull_begin(&w, 0));
	for (size_t i = 0; i < n; i++)
		CHECK(cl_wire_pushpull_add(&w, &m[i]));
	cl_wire_pushpull_end(&w);
	check_truncations(buf, w.len, true, bounds, nb);
}

static void test_header(void)
{
	uint8_t buf[64];
	cl_wbuf w;

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	size_t len = w.len;
	CHECK_EQ_INT(parse_dgram(buf, len), 1);

	buf[0] = 'X';
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_MAGIC);
	CHECK_EQ_INT(parse_dgram(buf, 1), -CL_DROP_MAGIC);
	buf[0] = 'C';
	buf[1] = 'l';
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_MAGIC);
	CHECK_EQ_INT(parse_dgram(buf, 2), -CL_DROP_MAGIC);
	buf[1] = 'L';
	CHECK_EQ_INT(parse_dgram(buf, 0), -CL_DROP_TRUNCATED);

	/* Version 2 is written, 1 still read, anything else refused. */
	CHECK_EQ_INT(buf[2], CL_WIRE_VERSION);
	buf[2] = 0;
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_VERSION);
	buf[2] = 1;
	CHECK_EQ_INT(parse_dgram(buf, len), 1);
	buf[2] = 3;
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_VERSION);
	buf[2] = 0xff;
	CHECK_EQ_INT(parse_dgram(buf, 3), -CL_DROP_VERSION);
	buf[2] = 2;

	buf[3] = 0x01;
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_VERSION);
	buf[3] = 0x80;
	CHECK_EQ_INT(parse_dgram(buf, len), -CL_DROP_VERSION);
	buf[3] = 0;
	CHECK_EQ_INT(parse_dgram(buf, len), 1);

	/* Another cluster: same length, other bytes; other lengths. */
	CHECK_EQ_INT(cl_wire_parse(buf, len, "tesu", 4, MTU, false, msgs, 8),
		     -CL_DROP_LABEL);
	CHECK_EQ_INT(cl_wire_parse(buf, len, "tes", 3, MTU, false, msgs, 8),
		     -CL_DROP_LABEL);
	CHECK_EQ_INT(cl_wire_parse(buf, len, "tests", 5, MTU, false, msgs, 8),
		     -CL_DROP_LABEL);
	CHECK_EQ_INT(cl_wire_parse(buf, len, "", 0, MTU, false, msgs, 8),
		     -CL_DROP_LABEL);

	/* The empty label is a label like any other. */
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), "", 0));
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, NULL, 0, MTU, false, msgs, 8), 1);
	CHECK_EQ_INT(parse_dgram(buf, w.len), -CL_DROP_LABEL);

	/* Longest label; then one over, which no encoder may write. */
	char lbl[CL_WIRE_LABEL_MAX + 2];
	memset(lbl, 'l', sizeof(lbl));
	uint8_t big[256];
	CHECK(cl_wire_begin(&w, big, sizeof(big), lbl, CL_WIRE_LABEL_MAX));
	CHECK_EQ_INT(cl_wire_parse(big, w.len, lbl, CL_WIRE_LABEL_MAX, MTU,
				   false, msgs, 8),
		     0);
	CHECK(!cl_wire_begin(&w, big, sizeof(big), lbl, CL_WIRE_LABEL_MAX + 1));
	lbl[CL_WIRE_LABEL_MAX + 1] = '\0';
	r_header(&R, lbl);
	CHECK_EQ_INT(R.b[4], CL_WIRE_LABEL_MAX + 1);
	CHECK_EQ_INT(cl_wire_parse(R.b, R.n, lbl, CL_WIRE_LABEL_MAX + 1, MTU,
				   false, msgs, 8),
		     -CL_DROP_LABEL);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_LABEL);
	/* A label length of 255 with 4 bytes behind it. */
	R.b[4] = 0xff;
	CHECK_EQ_INT(parse_dgram(R.b, 9), -CL_DROP_LABEL);
}

static void test_types(void)
{
	static const uint8_t bad[] = {0, CL_MSG_DIGEST + 1, 0x7f, 0xff};
	for (size_t i = 0; i < sizeof(bad); i++) {
		r_header(&R, LABEL);
		r_begin(&R, CL_MSG_ACK);
		r_u32(&R, 1);
		r_end(&R);
		r_begin(&R, bad[i]);
		r_u32(&R, 1);
		r_end(&R);
		CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_VERSION);
		CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_VERSION);
	}
	/* Even alone, with no length after it. */
	r_header(&R, LABEL);
	r_u8(&R, CL_MSG_DIGEST + 1);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_VERSION);
	/* A known type whose length is cut short. */
	r_header(&R, LABEL);
	r_u8(&R, CL_MSG_ACK);
	r_u8(&R, 0);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_TRUNCATED);
	/* A body length past the end. */
	r_header(&R, LABEL);
	r_u8(&R, CL_MSG_ACK);
	r_u16(&R, 5);
	r_u32(&R, 1);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_TRUNCATED);
}

/* ACK/NACK's four bytes, and every other fixed layout, must be exact. */
static void test_body_lengths(void)
{
	for (uint32_t blen = 0; blen < 9; blen++) {
		r_header(&R, LABEL);
		r_begin(&R, CL_MSG_NACK);
		for (uint32_t i = 0; i < blen; i++)
			r_u8(&R, 0);
		r_end(&R);
		CHECK_EQ_INT(parse_dgram(R.b, R.n),
			     blen == 4 ? 1 : -CL_DROP_MALFORMED);
	}

	/* One trailing byte inside each body type. */
	uint8_t buf[MTU];
	cl_wbuf w;
	cl_addr a = cl_addr_v4(1, 1, 1, 1, 1);
	size_t n;
	const cl_wire_member *m = pp_members(&n);
	for (int type = CL_MSG_PING; type <= CL_MSG_PUSHPULL; type++) {
		CHECK(cl_wire_begin(&w, buf, sizeof(buf) - 1, LABEL, LABEL_LEN));
		bool stream = type == CL_MSG_PUSHPULL;
		switch (type) {
		case CL_MSG_PING:
			CHECK(cl_wire_put_ping(&w, 1, B("a"), B("b"), &a, 1, 1));
			break;
		case CL_MSG_PING_REQ:
			CHECK(cl_wire_put_ping_req(&w, 1, B("a"), &a, B("b"),
						   &a, 0, 0));
			break;
		case CL_MSG_ACK:
		case CL_MSG_NACK:
			CHECK(cl_wire_put_ack(&w, (uint8_t)type, 1));
			break;
		case CL_MSG_ALIVE:
			CHECK(cl_wire_put_alive(&w, 1, 1, B("a"), &a,
						(cl_bytes){TAGS, TAGS_LEN}));
			break;
		case CL_MSG_SUSPECT:
		case CL_MSG_DEAD:
			CHECK(cl_wire_put_accuse(&w, (uint8_t)type, 1, B("a"),
						 B("b")));
			break;
		case CL_MSG_PUSHPULL:
			CHECK(cl_wire_pushpull_begin(&w, 0));
			CHECK(cl_wire_pushpull_add(&w, &m[0]));
			cl_wire_pushpull_end(&w);
			break;
		}
		size_t hdr = 5 + LABEL_LEN;
		CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, MTU,
					   stream, msgs, 8),
			     1);
		CHECK_EQ_INT(msgs[0].type, type);
		/* Grow the body by one byte: a trailing zero. */
		buf[w.len] = 0;
		size_t lenpos = hdr + 1, hl = stream ? 4 : 2;
		uint32_t blen = 0;
		for (size_t i = 0; i < hl; i++)
			blen = blen << 8 | buf[lenpos + i];
		blen++;
		for (size_t i = 0; i < hl; i++)
			buf[lenpos + i] = (uint8_t)(blen >> (8 * (hl - 1 - i)));
		CHECK_EQ_INT(cl_wire_parse(buf, w.len + 1, LABEL, LABEL_LEN,
					   MTU, stream, msgs, 8),
			     -CL_DROP_MALFORMED);
		/* And shrink it by one: the last field overruns. */
		blen -= 2;
		for (size_t i = 0; i < hl; i++)
			buf[lenpos + i] = (uint8_t)(blen >> (8 * (hl - 1 - i)));
		CHECK_EQ_INT(cl_wire_parse(buf, w.len - 1, LABEL, LABEL_LEN,
					   MTU, stream, msgs, 8),
			     -CL_DROP_MALFORMED);
	}
}

static void alive_named(const void *name, size_t len)
{
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_ALIVE);
	r_u32(&R, 1);
	r_u64(&R, 1);
	r_u8(&R, (uint8_t)len);
	r_bytes(&R, name, len);
	r_addr4(&R, 1, 1);
	r_u16(&R, 0);
	r_end(&R);
}

static void test_names(void)
{
	char name[CL_WIRE_NAME_MAX + 1];

	alive_named("ok", 2);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	alive_named("", 0);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named("a\0b", 3);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named("tab\there", 8);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named("nl\n", 3);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named("\x1f", 1);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named("del\x7f", 4);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_named(" ~", 2);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	/* UTF-8 is not a control byte. */
	alive_named("n\xc3\xa9\xff", 4);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);

	memset(name, 'n', sizeof(name));
	alive_named(name, CL_WIRE_NAME_MAX);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	CHECK_EQ_INT(msgs[0].u.alive.name.len, CL_WIRE_NAME_MAX);

	/* 256 bytes cannot be written: the u8 length would wrap to 0. */
	CHECK(!cl_wire_name_valid((const uint8_t *)name, 256));
	CHECK(cl_wire_name_valid((const uint8_t *)name, 255));
	CHECK(!cl_wire_name_valid((const uint8_t *)name, 0));
	CHECK(!cl_wire_name_valid((const uint8_t *)"a\x7f", 2));
	CHECK(!cl_wire_name_valid((const uint8_t *)"\x01", 1));
	CHECK(cl_wire_name_valid((const uint8_t *)"node-1.example", 14));

	/* A control byte in every name position. */
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PING);
	r_u32(&R, 1);
	r_name(&R, "t");
	r_name(&R, "s\x01");
	r_addr4(&R, 1, 1);
	r_u64(&R, 0);
	r_u32(&R, 0);
	r_end(&R);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PING_REQ);
	r_u32(&R, 1);
	r_name(&R, "t");
	r_addr4(&R, 1, 1);
	r_name(&R, "\x7f");
	r_addr4(&R, 1, 1);
	r_u8(&R, 0);
	r_end(&R);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_SUSPECT);
	r_u32(&R, 1);
	r_name(&R, "m");
	r_u8(&R, 0);
	r_end(&R);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PUSHPULL);
	r_u8(&R, 0);
	r_u32(&R, 1);
	r_member(&R, 0, "bad\x10", NULL, 0);
	r_end(&R);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
}

static void test_addr_family(void)
{
	static const uint8_t fams[] = {0, 1, 5, 7, 46, 0xff};
	for (size_t i = 0; i < sizeof(fams); i++) {
		r_header(&R, LABEL);
		r_begin(&R, CL_MSG_PING);
		r_u32(&R, 1);
		r_name(&R, "t");
		r_name(&R, "s");
		r_u8(&R, fams[i]);
		r_bytes(&R, "\x0a\x00\x00\x01\x1f\x0a", 6);
		r_u64(&R, 0);
		r_u32(&R, 0);
		r_end(&R);
		CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
		R.b[5 + LABEL_LEN + 3 + 4 + 2 + 2] = 4;
		CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	}
	/* A v6 family with only v4's bytes behind it. */
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_ALIVE);
	r_u32(&R, 1);
	r_u64(&R, 1);
	r_name(&R, "a");
	r_u8(&R, 6);
	r_bytes(&R, "\x0a\x00\x00\x01\x1f\x0a", 6);
	r_u16(&R, 0);
	r_end(&R);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);

	cl_addr bad = {.family = 5};
	uint8_t buf[64];
	cl_wbuf w;
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	CHECK(!cl_wire_put_alive(&w, 1, 1, B("a"), &bad, (cl_bytes){0}));
	CHECK_EQ_INT(w.len, 5 + LABEL_LEN);
}

static void pushpull_raw(uint32_t count, size_t members, uint8_t status)
{
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PUSHPULL);
	r_u8(&R, 0);
	r_u32(&R, count);
	for (size_t i = 0; i < members; i++)
		r_member(&R, i == members - 1 ? status : 0, "m", NULL, 0);
	r_end(&R);
}

static void test_pushpull_rules(void)
{
	pushpull_raw(2, 2, CL_STATUS_LEFT);
	CHECK_EQ_INT(parse_stream(R.b, R.n), 1);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_UNEXPECTED);

	pushpull_raw(2, 2, 4);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	pushpull_raw(2, 2, 0xff);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);

	pushpull_raw(3, 2, 0);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	pushpull_raw(1, 2, 0);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	pushpull_raw(0, 1, 0);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	pushpull_raw(UINT32_MAX, 1, 0);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
	pushpull_raw(0, 0, 0);
	CHECK_EQ_INT(parse_stream(R.b, R.n), 1);

	/* A partial member at the end of the body. */
	pushpull_raw(2, 2, 0);
	R.n -= 3;
	r_end(&R);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);

	/* Smuggled into a datagram after a valid message. */
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_ACK);
	r_u32(&R, 1);
	r_end(&R);
	r_u8(&R, CL_MSG_PUSHPULL);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_UNEXPECTED);
}

static void alive_tagged(const void *tags, size_t len)
{
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_ALIVE);
	r_u32(&R, 1);
	r_u64(&R, 1);
	r_name(&R, "a");
	r_addr4(&R, 1, 1);
	r_tags(&R, tags, len);
	r_end(&R);
}

#define TV(lit) cl_wire_tags_valid((const uint8_t *)(lit), sizeof(lit) - 1, \
				   CL_WIRE_TAGS_MAX)

static void test_tags(void)
{
	CHECK(cl_wire_tags_valid(NULL, 0, CL_WIRE_TAGS_MAX));
	CHECK(TV("\x01k\x00"));
	CHECK(TV("\x01k\x01v\x01j\x00"));
	CHECK(!TV("\x00\x01v"));		/* zero key length */
	CHECK(!TV("\x01k\x00\x00\x00"));	/* second key empty */
	CHECK(!TV("\x05k\x00"));		/* klen overruns */
	CHECK(!TV("\x01k"));			/* vlen missing */
	CHECK(!TV("\x01k\x03vv"));		/* vlen overruns */
	CHECK(!TV("\x01k\x00\x01"));		/* trailing pair start */
	CHECK(!TV("\x01k\x00\x01k\x01v"));	/* duplicate keys */
	CHECK(!TV("\x02ka\x00\x01k\x00\x02ka\x00"));
	CHECK(TV("\x02ka\x00\x01k\x00\x02kb\x00")); /* prefixes differ */

	uint8_t t[CL_WIRE_TAGS_MAX + 80];
	size_t n = 0;
	/* Longest key, then one over. */
	t[n++] = CL_WIRE_TAG_KEY_MAX;
	memset(t + n, 'k', CL_WIRE_TAG_KEY_MAX);
	n += CL_WIRE_TAG_KEY_MAX;
	t[n++] = 0;
	CHECK(cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));
	t[0] = CL_WIRE_TAG_KEY_MAX + 1;
	t[n++] = 0;
	CHECK(!cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));

	/* Many pairs (past the pairwise cutoff): unique, then a duplicate
	 * far from its twin, then exactly at and over the size cap. */
	n = 0;
	for (int i = 0; i < 200; i++) {
		t[n++] = 2;
		t[n++] = (uint8_t)('A' + i % 50);
		t[n++] = (uint8_t)('A' + i / 50);
		t[n++] = 0;
	}
	CHECK(cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));
	CHECK(!cl_wire_tags_valid(t, n, n - 1));
	t[n - 3] = 'A';
	t[n - 2] = 'A';
	CHECK(!cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));
	/* The same duplicate in a block over the wire cap (the pairwise
	 * path, for a caller's larger max). */
	CHECK(!cl_wire_tags_valid(t, n, 4096));
	t[n - 3] = 'z';
	CHECK(cl_wire_tags_valid(t, n, 4096));
	n = 0;
	for (unsigned k = 0; n + 4 <= CL_WIRE_TAGS_MAX - 6; k++) {
		t[n++] = 2;
		t[n++] = (uint8_t)(k >> 8);
		t[n++] = (uint8_t)k;
		t[n++] = 0;
	}
	t[n++] = 2;
	t[n++] = 0xfe;
	t[n++] = 0xfe;
	size_t last_vlen = n++;
	t[last_vlen] = (uint8_t)(CL_WIRE_TAGS_MAX - n);
	while (n < CL_WIRE_TAGS_MAX)
		t[n++] = 'v';
	CHECK_EQ_INT(n, CL_WIRE_TAGS_MAX);
	CHECK(cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));
	alive_tagged(t, n);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	CHECK_EQ_INT(parse_stream(R.b, R.n), 1);
	CHECK_EQ_INT(msgs[0].u.alive.tags.len, CL_WIRE_TAGS_MAX);
	/* The MTU floor holds a full ALIVE with full tags. */
	CHECK(R.n <= CL_WIRE_MTU_MIN);

	/* One byte over the cap, structurally sound: the last value grows. */
	t[last_vlen]++;
	t[n++] = 'v';
	CHECK(cl_wire_tags_valid(t, n, n));
	CHECK(!cl_wire_tags_valid(t, n, CL_WIRE_TAGS_MAX));
	alive_tagged(t, n);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);

	/* In the packet: each structural error is MALFORMED. */
	alive_tagged("\x00\x01v", 3);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_tagged("\x01k\x00\x01k\x00", 6);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_tagged("\x09k\x00", 3);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	alive_tagged("\x01k\x00", 3);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), 1);
	/* A tags length past the body. */
	R.b[R.n - 4] = 9;
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	/* Bad tags inside a PUSHPULL member. */
	r_header(&R, LABEL);
	r_begin(&R, CL_MSG_PUSHPULL);
	r_u8(&R, 0);
	r_u32(&R, 1);
	r_member(&R, 0, "m", "\x01k\x00\x01k\x00", 6);
	r_end(&R);
	CHECK_EQ_INT(parse_stream(R.b, R.n), -CL_DROP_MALFORMED);
}

static void test_limits(void)
{
	static uint8_t buf[4096];
	cl_wbuf w;

	/* Too many: the cap of the array, and the caller's smaller one. */
	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	for (uint32_t i = 0; i < CL_WIRE_MAX_MSGS; i++)
		CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, i));
	CHECK_EQ_INT(parse_stream(buf, w.len), CL_WIRE_MAX_MSGS);
	CHECK_EQ_INT(msgs[CL_WIRE_MAX_MSGS - 1].u.ack.seq, CL_WIRE_MAX_MSGS - 1);
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 0));
	CHECK_EQ_INT(parse_stream(buf, w.len), -CL_DROP_TOO_MANY);

	CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
	for (int i = 0; i < 3; i++)
		CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	cl_wire_msg few[2];
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, MTU, false,
				   few, 2),
		     -CL_DROP_TOO_MANY);
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, MTU, false,
				   msgs, 3),
		     3);
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, MTU, false,
				   NULL, 0),
		     -CL_DROP_TOO_MANY);
	CHECK_EQ_INT(cl_wire_parse(buf, 5 + LABEL_LEN, LABEL, LABEL_LEN, MTU,
				   false, NULL, 0),
		     0);

	/* Too big: over max_len by one byte, whatever the content. */
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, w.len, false,
				   msgs, 8),
		     3);
	CHECK_EQ_INT(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN, w.len - 1,
				   false, msgs, 8),
		     -CL_DROP_TOO_BIG);
	memset(buf, 0xee, MTU + 1);
	CHECK_EQ_INT(parse_dgram(buf, MTU + 1), -CL_DROP_TOO_BIG);
	CHECK_EQ_INT(parse_dgram(buf, MTU), -CL_DROP_MAGIC);
}

static void test_reason_names(void)
{
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_NONE), "none");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_TRUNCATED), "truncated");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_MAGIC), "magic");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_VERSION), "version");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_LABEL), "label");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_MALFORMED), "malformed");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_TOO_MANY), "too_many");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_TOO_BIG), "too_big");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_UNEXPECTED), "unexpected");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP_AUTH), "auth");
	CHECK_STR_EQ(cl_drop_reason_name(CL_DROP__COUNT), "unknown");
	CHECK_STR_EQ(cl_drop_reason_name((enum cl_drop_reason)99), "unknown");
}

/* ------------------------------------------------------------------ */
/* Encoder refusal                                                     */
/* ------------------------------------------------------------------ */

enum {
	ENC_PING,
	ENC_PING_REQ,
	ENC_ACK,
	ENC_ALIVE,
	ENC_ACCUSE,
	ENC_PP,
	ENC__COUNT
};

static bool encode_one(cl_wbuf *w, int which)
{
	cl_addr a4 = cl_addr_v4(10, 1, 2, 3, 7946), a6 = addr6(7946);
	size_t n;
	const cl_wire_member *m = pp_members(&n);

	switch (which) {
	case ENC_PING:
		return cl_wire_put_ping(w, 1, B("target"), B("src"), &a6, 2, 3);
	case ENC_PING_REQ:
		return cl_wire_put_ping_req(w, 1, B("t"), &a4, B("o"), &a6, 1, 400);
	case ENC_ACK:
		return cl_wire_put_ack(w, CL_MSG_ACK, 1);
	case ENC_ALIVE:
		return cl_wire_put_alive(w, 1, 2, B("alive"), &a4,
					 (cl_bytes){TAGS, TAGS_LEN});
	case ENC_ACCUSE:
		return cl_wire_put_accuse(w, CL_MSG_DEAD, 1, B("mem"), B("acc"));
	case ENC_PP:
		return cl_wire_pushpull_add(w, &m[0]);
	}
	return false;
}

static void test_encoder_refusal(void)
{
	uint8_t buf[512], snap[512];
	cl_wbuf w, before;

	for (int which = 0; which < ENC__COUNT; which++) {
		/* The size it needs, measured with room to spare. */
		CHECK(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
		if (which == ENC_PP)
			CHECK(cl_wire_pushpull_begin(&w, 0));
		size_t start = w.len;
		CHECK(encode_one(&w, which));
		size_t need = w.len - start;

		for (size_t cap = start; cap <= start + need; cap++) {
			memset(buf, 0xa5, sizeof(buf));
			CHECK(cl_wire_begin(&w, buf, cap, LABEL, LABEL_LEN));
			if (which == ENC_PP)
				CHECK(cl_wire_pushpull_begin(&w, 0));
			memcpy(snap, buf, sizeof(buf));
			before = w;
			bool ok = encode_one(&w, which);
			CHECK_EQ_INT(ok, cap == start + need);
			if (!ok) {
				CHECK(memcmp(buf, snap, sizeof(buf)) == 0);
				CHECK_EQ_INT(w.len, before.len);
				CHECK_EQ_INT(w.mark, before.mark);
			} else {
				CHECK_EQ_INT(w.len, cap);
			}
		}
	}

	/* The header, and a PUSHPULL header. */
	CHECK(!cl_wire_begin(&w, buf, 5 + LABEL_LEN - 1, LABEL, LABEL_LEN));
	CHECK(cl_wire_begin(&w, buf, 5 + LABEL_LEN, LABEL, LABEL_LEN));
	CHECK(cl_wire_begin(&w, buf, 5 + LABEL_LEN + 9, LABEL, LABEL_LEN));
	CHECK(!cl_wire_pushpull_begin(&w, 0));
	CHECK_EQ_INT(w.len, 5 + LABEL_LEN);
	CHECK_EQ_INT(w.mark, 0);

	/* A refused member is not counted. */
	size_t n;
	const cl_wire_member *m = pp_members(&n);
	CHECK(cl_wire_begin(&w, buf, 5 + LABEL_LEN + 10 + 60, LABEL, LABEL_LEN));
	CHECK(cl_wire_pushpull_begin(&w, 0));
	CHECK(cl_wire_pushpull_add(&w, &m[1]));  /* 1+4+8+3+19+2 = 37 */
	CHECK(!cl_wire_pushpull_add(&w, &m[1]));
	CHECK(!cl_wire_pushpull_add(&w, &m[0]));
	cl_wire_pushpull_end(&w);
	CHECK_EQ_INT(parse_stream(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].u.pushpull.count, 1);

	/* What the format cannot carry is refused too. */
	static char longname[CL_WIRE_NAME_MAX + 1];
	memset(longname, 'x', sizeof(longname));
	cl_bytes n256 = {(const uint8_t *)longname, 256};
	cl_bytes n255 = {(const uint8_t *)longname, 255};
	cl_bytes empty = {(const uint8_t *)"", 0};
	cl_bytes bigtags = {buf, CL_WIRE_TAGS_MAX + 1};
	cl_addr a = cl_addr_v4(1, 2, 3, 4, 5), none = {0};
	static uint8_t big[4096];
	CHECK(cl_wire_begin(&w, big, sizeof(big), LABEL, LABEL_LEN));
	size_t base = w.len;
	CHECK(!cl_wire_put_alive(&w, 1, 1, n256, &a, (cl_bytes){0}));
	CHECK(!cl_wire_put_alive(&w, 1, 1, empty, &a, (cl_bytes){0}));
	CHECK(!cl_wire_put_alive(&w, 1, 1, n255, &none, (cl_bytes){0}));
	CHECK(!cl_wire_put_alive(&w, 1, 1, n255, &a, bigtags));
	CHECK(!cl_wire_put_ping(&w, 1, n256, n255, &a, 1, 1));
	CHECK(!cl_wire_put_ping(&w, 1, n255, empty, &a, 1, 1));
	CHECK(!cl_wire_put_ping_req(&w, 1, n255, &a, n256, &a, 0, 0));
	CHECK(!cl_wire_put_ping_req(&w, 1, n255, &none, n255, &a, 0, 0));
	CHECK(!cl_wire_put_accuse(&w, CL_MSG_DEAD, 1, n256, n255));
	CHECK(!cl_wire_put_accuse(&w, CL_MSG_ALIVE, 1, n255, n255));
	CHECK(!cl_wire_put_ack(&w, CL_MSG_PING, 1));
	CHECK(!cl_wire_put_ack(&w, CL_MSG_USER, 1));
	CHECK_EQ_INT(w.len, base);
	CHECK(cl_wire_put_alive(&w, 1, 1, n255, &a, (cl_bytes){0}));
	CHECK(cl_wire_put_ping(&w, 1, n255, n255, &a, 1, 1));

	/* No other message inside an open PUSHPULL, and no second one;
	 * no member outside one. */
	CHECK(cl_wire_begin(&w, big, sizeof(big), LABEL, LABEL_LEN));
	CHECK(!cl_wire_pushpull_add(&w, &m[0]));
	CHECK(cl_wire_pushpull_begin(&w, 0));
	base = w.len;
	CHECK(!cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	CHECK(!cl_wire_pushpull_begin(&w, 0));
	cl_wire_member bad = m[0];
	bad.status = 4;
	CHECK(!cl_wire_pushpull_add(&w, &bad));
	bad = m[0];
	bad.name = n256;
	CHECK(!cl_wire_pushpull_add(&w, &bad));
	CHECK_EQ_INT(w.len, base);
	cl_wire_pushpull_end(&w);
	cl_wire_pushpull_end(&w); /* a second end is harmless */
	CHECK(cl_wire_put_ack(&w, CL_MSG_ACK, 1));
	CHECK_EQ_INT(parse_stream(big, w.len), 2);
}

/* Random packets from the encoders parse back to what was written. */
static void test_random_roundtrip(void)
{
	static uint8_t buf[8192];
	static uint8_t tags[CL_WIRE_TAGS_MAX];
	char names[CL_WIRE_MAX_MSGS][40];
	uint32_t incs[CL_WIRE_MAX_MSGS];
	cl_wbuf w;

	check_seed = 0x5eed0001;
	rng_state = check_seed;
	for (int iter = 0; iter < 2000; iter++) {
		size_t tl = 0;
		int npairs = (int)(rnd() % 6);
		for (int p = 0; p < npairs; p++) {
			tags[tl++] = 2;
			tags[tl++] = 'k';
			tags[tl++] = (uint8_t)('0' + p);
			uint8_t vl = (uint8_t)(rnd() % 20);
			tags[tl++] = vl;
			for (int b = 0; b < vl; b++)
				tags[tl++] = (uint8_t)rnd();
		}
		CHECK(cl_wire_begin(&w, buf, 64 + rnd() % (MTU - 63), LABEL,
				    LABEL_LEN));
		size_t n = 0;
		for (;;) {
			cl_addr a = (rnd() & 1) ? addr6((uint16_t)rnd())
						: cl_addr_v4(10, 0, (uint8_t)rnd(),
							     (uint8_t)rnd(),
							     (uint16_t)rnd());
			snprintf(names[n], sizeof(names[n]), "node-%u",
				 (unsigned)(rnd() % 100000));
			incs[n] = (uint32_t)rnd();
			if (!cl_wire_put_alive(&w, incs[n], n, B(names[n]), &a,
					       (cl_bytes){tags, tl}))
				break;
			n++;
		}
		int got = parse_dgram(buf, w.len);
		CHECK_EQ_INT(got, n);
		for (size_t i = 0; i < n; i++) {
			CHECK(bytes_eq(msgs[i].u.alive.name, B(names[i])));
			CHECK(msgs[i].u.alive.incarnation == incs[i]);
			CHECK(msgs[i].u.alive.start_ms == i);
			CHECK(bytes_eq(msgs[i].u.alive.tags,
				       (cl_bytes){tags, tl}));
		}
	}
	check_seed = 0;
}

/* Random byte damage to a valid packet never crashes the parser, and a
 * packet that still parses walks cleanly. */
static void test_random_damage(void)
{
	static uint8_t base[2048], buf[2048];
	cl_wbuf w;
	size_t n;
	const cl_wire_member *m = pp_members(&n);
	cl_addr a = cl_addr_v4(1, 2, 3, 4, 5);

	CHECK(cl_wire_begin(&w, base, sizeof(base), LABEL, LABEL_LEN));
	CHECK(cl_wire_put_ping(&w, 1, B("b"), B("a"), &a, 2, 3));
	CHECK(cl_wire_put_alive(&w, 1, 2, B("alpha"), &a,
				(cl_bytes){TAGS, TAGS_LEN}));
	CHECK(cl_wire_pushpull_begin(&w, 0));
	for (size_t i = 0; i < n; i++)
		CHECK(cl_wire_pushpull_add(&w, &m[i]));
	cl_wire_pushpull_end(&w);
	size_t len = w.len;

	check_seed = 0x5eed0002;
	rng_state = check_seed;
	int ok = 0;
	for (int iter = 0; iter < 50000; iter++) {
		memcpy(buf, base, len);
		int flips = 1 + (int)(rnd() % 3);
		for (int f = 0; f < flips; f++)
			buf[5 + LABEL_LEN + rnd() % (len - 5 - LABEL_LEN)] =
				(uint8_t)rnd();
		size_t l = len - (rnd() % 4 == 0 ? rnd() % 8 : 0);
		/* An exact-size copy, kept while its views are walked. */
		uint8_t *copy = malloc(l);
		CHECK(copy != NULL);
		memcpy(copy, buf, l);
		int r = parse_stream(copy, l);
		CHECK(r >= -CL_DROP_UNEXPECTED && r <= 3);
		if (r >= 0)
			ok++;
		for (int i = 0; i < r; i++) {
			cl_bytes k, v, tg = {0};
			size_t pos = 0, cnt = 0;
			cl_wire_member mm;
			if (msgs[i].type == CL_MSG_ALIVE)
				tg = msgs[i].u.alive.tags;
			if (msgs[i].type == CL_MSG_PUSHPULL) {
				while (cl_wire_member_next(
					&msgs[i].u.pushpull.entries, &pos, &mm)) {
					CHECK(cl_wire_name_valid(mm.name.ptr,
								 mm.name.len));
					CHECK(mm.status <= CL_STATUS_LEFT);
					cnt++;
				}
				CHECK_EQ_INT(cnt, msgs[i].u.pushpull.count);
			}
			pos = 0;
			while (cl_wire_tag_next(&tg, &pos, &k, &v))
				CHECK(k.len >= 1);
			CHECK_EQ_INT(pos, tg.len);
		}
		free(copy);
	}
	CHECK(ok > 0);
	check_seed = 0;
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

static void check_parse_fails(const char *text, uint16_t def)
{
	cl_addr a = cl_addr_v4(9, 9, 9, 9, 9), keep = a;
	int r = cl_addr_parse(text, def, &a);
	if (r != CLOISTER_EINVAL)
		CHECK_FAIL("cl_addr_parse(\"%s\", %u) = %d, want EINVAL",
			   text ? text : "(null)", def, r);
	CHECK(cl_addr_equal(&a, &keep));
}

/* USER: round trip in both transports, and its own malformations. */
static void test_user(void)
{
	uint8_t buf[4096];
	cl_wbuf w;
	static uint8_t payload[3000];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	CHECK(cl_wire_begin(&w, buf, MTU, LABEL, LABEL_LEN));
	CHECK(cl_wire_put_user(&w, CL_USER_CALL, 77, B("jobs"), B("n1"),
			       (cl_bytes){payload, 100}));
	CHECK(cl_wire_put_user(&w, CL_USER_CAST, 0, B("t"), B("n1"),
			       (cl_bytes){NULL, 0}));
	CHECK_EQ_INT(parse_dgram(buf, w.len), 2);
	CHECK_EQ_INT(msgs[0].type, CL_MSG_USER);
	CHECK_EQ_INT(msgs[0].u.user.kind, CL_USER_CALL);
	CHECK_EQ_INT(msgs[0].u.user.id, 77);
	CHECK(bytes_eq(msgs[0].u.user.topic, B("jobs")));
	CHECK(bytes_eq(msgs[0].u.user.sender, B("n1")));
	CHECK_EQ_INT(msgs[0].u.user.payload.len, 100);
	CHECK(memcmp(msgs[0].u.user.payload.ptr, payload, 100) == 0);
	CHECK_EQ_INT(msgs[1].u.user.payload.len, 0);
	CHECK_EQ_INT(w.len - (5 + LABEL_LEN),
		     cl_wire_user_size(4, 2, 100) + cl_wire_user_size(1, 2, 0));
	/* Too big for a datagram's MTU: refused whole; a stream takes it. */
	size_t before = w.len;
	CHECK(!cl_wire_put_user(&w, CL_USER_CAST, 1, B("t"), B("n1"),
				(cl_bytes){payload, sizeof payload}));
	CHECK_EQ_INT(w.len, before);
	CHECK(cl_wire_begin(&w, buf, sizeof buf, LABEL, LABEL_LEN));
	CHECK(cl_wire_put_user(&w, CL_USER_REPLY, 9, B("t"), B("n1"),
			       (cl_bytes){payload, sizeof payload}));
	CHECK_EQ_INT(parse_stream(buf, w.len), 1);
	CHECK_EQ_INT(msgs[0].u.user.payload.len, sizeof payload);
	/* Encoders refuse what the format cannot carry. */
	CHECK(!cl_wire_put_user(&w, 3, 1, B("t"), B("n1"), (cl_bytes){0}));
	CHECK(!cl_wire_put_user(&w, CL_USER_CAST, 1, B(""), B("n1"),
				(cl_bytes){0}));
	/* Decoder: bad kind, payload length off by one either way, a length
	 * past the maximum. */
	for (int variant = 0; variant < 4; variant++) {
		r_header(&R, LABEL);
		r_u8(&R, CL_MSG_USER);
		size_t at = R.n;
		r_u32(&R, 0); /* body length, patched below */
		r_u8(&R, variant == 0 ? 3 : CL_USER_CAST);
		r_u32(&R, 1);
		r_u8(&R, 1);
		r_u8(&R, 't');
		r_u8(&R, 2);
		r_u8(&R, 'n');
		r_u8(&R, '1');
		uint32_t plen = variant == 1 ? 3 : variant == 2 ? 5
				: variant == 3 ? CL_WIRE_USER_MAX + 1 : 4;
		r_u32(&R, plen);
		r_u32(&R, 0xdeadbeef); /* 4 bytes of payload */
		uint32_t blen = (uint32_t)(R.n - at - 4);
		R.b[at] = (uint8_t)(blen >> 24);
		R.b[at + 1] = (uint8_t)(blen >> 16);
		R.b[at + 2] = (uint8_t)(blen >> 8);
		R.b[at + 3] = (uint8_t)blen;
		CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_MALFORMED);
	}
	/* A body length running past the packet. */
	r_header(&R, LABEL);
	r_u8(&R, CL_MSG_USER);
	r_u32(&R, 1000);
	r_u8(&R, 0);
	CHECK_EQ_INT(parse_dgram(R.b, R.n), -CL_DROP_TRUNCATED);
}

static void test_addr(void)
{
	char s[CL_ADDR_STRLEN];
	cl_addr a;

	a = cl_addr_v4(1, 2, 3, 4, 7946);
	CHECK_STR_EQ(cl_addr_format(&a, s, sizeof(s)), "1.2.3.4:7946");
	a = (cl_addr){.family = CL_AF_INET6, .port = 7946};
	a.ip[15] = 1;
	CHECK_STR_EQ(cl_addr_format(&a, s, sizeof(s)), "[::1]:7946");
	a = addr6(65535);
	CHECK_STR_EQ(cl_addr_format(&a, s, sizeof(s)),
		     "[2021:2223:2425:2627:2829:2a2b:2c2d:2e2f]:65535");
	memset(a.ip, 0xff, 16);
	CHECK_STR_EQ(cl_addr_format(&a, s, sizeof(s)),
		     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	CHECK(strlen(s) < CL_ADDR_STRLEN);
	/* A short buffer is cut, never overrun. */
	a = cl_addr_v4(255, 255, 255, 255, 65535);
	char tiny[6];
	CHECK_STR_EQ(cl_addr_format(&a, tiny, sizeof(tiny)), "255.2");
	/* IPv4 is formatted by hand: every octet value and port digit
	 * count against printf's text. */
	for (unsigned v = 0; v < 256; v++) {
		static const uint16_t ports[] = {0, 7, 80, 443, 7946, 65535};
		char want[CL_ADDR_STRLEN];
		uint16_t port = ports[v % 6];
		a = cl_addr_v4((uint8_t)v, (uint8_t)(255 - v), 0, (uint8_t)(v / 3),
			       port);
		snprintf(want, sizeof want, "%u.%u.%u.%u:%u", v, 255 - v, 0u,
			 v / 3, (unsigned)port);
		CHECK_STR_EQ(cl_addr_format(&a, s, sizeof(s)), want);
	}

	CHECK_EQ_INT(cl_addr_parse("1.2.3.4:7946", 0, &a), 0);
	CHECK(cl_addr_equal(&a, &(cl_addr){.family = 4, .port = 7946,
					   .ip = {1, 2, 3, 4}}));
	CHECK_EQ_INT(cl_addr_parse("10.0.0.1", 7000, &a), 0);
	CHECK_EQ_INT(a.port, 7000);
	CHECK_EQ_INT(a.family, CL_AF_INET4);
	CHECK_EQ_INT(cl_addr_parse("[::1]:1", 0, &a), 0);
	CHECK_EQ_INT(a.family, CL_AF_INET6);
	CHECK_EQ_INT(a.port, 1);
	CHECK_EQ_INT(a.ip[15], 1);
	CHECK_EQ_INT(cl_addr_parse("fe80::2", 7946, &a), 0);
	CHECK_EQ_INT(a.family, CL_AF_INET6);
	CHECK_EQ_INT(a.ip[0], 0xfe);
	CHECK_EQ_INT(a.port, 7946);
	CHECK_EQ_INT(cl_addr_parse("[::ffff:1.2.3.4]:65535", 0, &a), 0);
	CHECK_EQ_INT(a.family, CL_AF_INET6);
	CHECK_EQ_INT(a.port, 65535);
	CHECK_EQ_INT(cl_addr_parse("[::]", 80, &a), 0);
	CHECK_EQ_INT(a.port, 80);

	check_parse_fails(NULL, 1);
	check_parse_fails("", 1);
	check_parse_fails(":80", 1);
	check_parse_fails("1.2.3.4", 0);
	check_parse_fails("1.2.3.4:", 1);
	check_parse_fails("1.2.3.4:0", 1);
	check_parse_fails("1.2.3.4:65536", 1);
	check_parse_fails("1.2.3.4:100000", 1);
	check_parse_fails("1.2.3.4:-1", 1);
	check_parse_fails("1.2.3.4:+1", 1);
	check_parse_fails("1.2.3.4: 80", 1);
	check_parse_fails("1.2.3.4:80 ", 1);
	check_parse_fails("1.2.3.4:80x", 1);
	check_parse_fails("1.2.3.4:8:0", 1);
	check_parse_fails("1.2.3", 1);
	check_parse_fails("1.2.3.4.5", 1);
	check_parse_fails("256.1.1.1", 1);
	check_parse_fails(" 1.2.3.4", 1);
	check_parse_fails("localhost:80", 1);
	check_parse_fails("node.example.com", 1);
	check_parse_fails("::1", 0);
	check_parse_fails("[::1]", 0);
	check_parse_fails("[::1]:0", 1);
	check_parse_fails("[::1", 1);
	check_parse_fails("[::1]80", 1);
	check_parse_fails("[::1]:", 1);
	check_parse_fails("[]:80", 1);
	check_parse_fails("[1.2.3.4]:80", 1);
	check_parse_fails("[::1]:80]", 1);
	check_parse_fails("fe80::1%eth0", 1);
	check_parse_fails("1::2::3", 1);
	check_parse_fails("[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1", 1);

	/* format then parse is the identity, for random addresses. */
	check_seed = 0x5eed0003;
	rng_state = check_seed;
	for (int i = 0; i < 5000; i++) {
		cl_addr x = {.family = (i & 1) ? CL_AF_INET6 : CL_AF_INET4,
			     .port = (uint16_t)(1 + rnd() % 65535)};
		uint64_t r1 = rnd(), r2 = rnd();
		for (int b = 0; b < (x.family == CL_AF_INET6 ? 16 : 4); b++)
			x.ip[b] = (uint8_t)((b < 8 ? r1 : r2) >> (8 * (b % 8)));
		/* Zero runs exercise "::". */
		if (i % 3 == 0)
			memset(x.ip + 2, 0, 6);
		cl_addr y;
		cl_addr_format(&x, s, sizeof(s));
		CHECK_EQ_INT(cl_addr_parse(s, 0, &y), 0);
		if (!cl_addr_equal(&x, &y))
			CHECK_FAIL("round trip of %s", s);
	}
	check_seed = 0;
}

int main(void)
{
	RUN_TEST(test_roundtrip_each_type);
	RUN_TEST(test_roundtrip_pushpull);
	RUN_TEST(test_layout_matches_spec);
	RUN_TEST(test_ping_req_versions);
	RUN_TEST(test_digest);
	RUN_TEST(test_truncation);
	RUN_TEST(test_header);
	RUN_TEST(test_types);
	RUN_TEST(test_body_lengths);
	RUN_TEST(test_names);
	RUN_TEST(test_addr_family);
	RUN_TEST(test_pushpull_rules);
	RUN_TEST(test_tags);
	RUN_TEST(test_limits);
	RUN_TEST(test_reason_names);
	RUN_TEST(test_encoder_refusal);
	RUN_TEST(test_random_roundtrip);
	RUN_TEST(test_random_damage);
	RUN_TEST(test_user);
	RUN_TEST(test_addr);
	printf("%d checks passed\n", check_count);
	return 0;
}
