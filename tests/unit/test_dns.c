/*
 * test_dns.c — the DNS answer parser on hand-built responses: A, AAAA and
 * SRV answers with name compression and a CNAME chain, then every class of
 * malformed message (each truncation, pointer loops, forward pointers,
 * counts beyond the data, label 64, over-long names, rdlength mismatches)
 * and random damage.  Parsing is done on exact-size copies so ASan sees
 * any read past the end.
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "cloister.h"
#include "runtime/dns.h"

#define MAXREC 8

typedef struct msg {
	uint8_t b[2048];
	size_t n;
} msg;

static cl_dns_record rec[MAXREC];

static void put8(msg *m, unsigned v)
{
	if (m->n >= sizeof m->b)
		CHECK_FAIL("message buffer full");
	m->b[m->n++] = (uint8_t)v;
}

static void put16(msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put32(msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_bytes(msg *m, const void *p, size_t len)
{
	if (m->n + len > sizeof m->b)
		CHECK_FAIL("message buffer full");
	memcpy(m->b + m->n, p, len);
	m->n += len;
}

/* Labels of a dotted name, without the terminating zero (so a pointer
 * can follow). */
static void put_labels(msg *m, const char *dotted)
{
	while (*dotted) {
		size_t l = strcspn(dotted, ".");
		put8(m, (unsigned)l);
		put_bytes(m, dotted, l);
		dotted += l;
		if (*dotted == '.')
			dotted++;
	}
}

static void put_name(msg *m, const char *dotted)
{
	put_labels(m, dotted);
	put8(m, 0);
}

static void put_ptr(msg *m, size_t off)
{
	put16(m, 0xC000 | (unsigned)off);
}

static void header(msg *m, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

#define RESPONSE 0x8180 /* QR, RD, RA, rcode 0 */

/* Type, class IN, ttl, rdlength: returns the rdlength's offset. */
static size_t rr_fixed(msg *m, unsigned type, uint32_t ttl, unsigned rdlen)
{
	put16(m, type);
	put16(m, CL_DNS_C_IN);
	put32(m, ttl);
	size_t at = m->n;
	put16(m, rdlen);
	return at;
}

static void set16(msg *m, size_t at, unsigned v)
{
	m->b[at] = (uint8_t)(v >> 8);
	m->b[at + 1] = (uint8_t)v;
}

static int parse_len(const msg *m, size_t len, uint16_t qtype, size_t max,
		     size_t *n)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	memcpy(copy, m->b, len);
	int rc = cl_dns_parse_answer(copy, len, qtype, rec, max, n);
	free(copy);
	return rc;
}

static int parse(const msg *m, uint16_t qtype, size_t *n)
{
	return parse_len(m, m->n, qtype, MAXREC, n);
}

/* Every strict prefix of a message whose answers end at its last byte is
 * malformed. */
static void check_truncations(const msg *m, uint16_t qtype)
{
	for (size_t len = 0; len < m->n; len++) {
		size_t n = 99;
		int rc = parse_len(m, len, qtype, MAXREC, &n);
		if (rc != CLOISTER_EPROTO)
			CHECK_FAIL("prefix %zu of %zu gave %d", len, m->n, rc);
		CHECK_EQ_INT(n, 0);
	}
}

/* svc.cluster.test A: 198.18.0.1, 198.18.0.2 (owners compressed). */
static void build_a(msg *m)
{
	header(m, RESPONSE, 1, 2);
	put_name(m, "svc.cluster.test");
	put16(m, CL_DNS_T_A);
	put16(m, CL_DNS_C_IN);
	for (unsigned i = 1; i <= 2; i++) {
		put_ptr(m, 12);
		rr_fixed(m, CL_DNS_T_A, 300, 4);
		put8(m, 198);
		put8(m, 18);
		put8(m, 0);
		put8(m, i);
	}
}

static void test_a(void)
{
	msg m;
	size_t n;

	build_a(&m);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < 2; i++) {
		CHECK_EQ_INT(rec[i].type, CL_DNS_T_A);
		CHECK_EQ_INT(rec[i].ttl, 300);
		CHECK_EQ_INT(rec[i].addr.family, CL_AF_INET4);
		CHECK_EQ_INT(rec[i].addr.port, 0);
		CHECK(!memcmp(rec[i].addr.ip, "\xc6\x12\x00", 3));
		CHECK_EQ_INT(rec[i].addr.ip[3], i + 1);
	}
	/* The same message asked for AAAA or SRV has none of those. */
	CHECK_EQ_INT(parse(&m, CL_DNS_T_AAAA, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), 0);
	CHECK_EQ_INT(n, 0);
	/* max bounds what is stored, not what is checked. */
	CHECK_EQ_INT(parse_len(&m, m.n, CL_DNS_T_A, 1, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(rec[0].addr.ip[3], 1);
	CHECK_EQ_INT(cl_dns_parse_answer(m.b, m.n, CL_DNS_T_A, NULL, 0, &n), 0);
	CHECK_EQ_INT(n, 0);
	check_truncations(&m, CL_DNS_T_A);

	/* A TTL with the top bit set reads as 0 (RFC 2181 §8). */
	set16(&m, m.n - 10, 0x8000);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(rec[1].ttl, 0);
}

static void test_aaaa_and_cname(void)
{
	msg m;
	size_t n;
	static const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
				       0, 0, 0, 0, 0, 0, 0, 7};

	/* svc.cluster.test CNAME real.cluster.test (compressed against the
	 * question's "cluster.test"), then real AAAA fd00::7 with its owner a
	 * pointer into the CNAME's rdata. */
	header(&m, RESPONSE, 1, 2);
	put_name(&m, "svc.cluster.test");
	put16(&m, CL_DNS_T_AAAA);
	put16(&m, CL_DNS_C_IN);
	put_ptr(&m, 12);
	size_t rdl = rr_fixed(&m, CL_DNS_T_CNAME, 60, 0);
	size_t real = m.n;
	put_labels(&m, "real");
	put_ptr(&m, 12 + 4); /* "cluster.test" */
	set16(&m, rdl, (unsigned)(m.n - rdl - 2));
	put_ptr(&m, real);
	rr_fixed(&m, CL_DNS_T_AAAA, 60, 16);
	put_bytes(&m, v6, 16);

	CHECK_EQ_INT(parse(&m, CL_DNS_T_AAAA, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(rec[0].type, CL_DNS_T_AAAA);
	CHECK_EQ_INT(rec[0].addr.family, CL_AF_INET6);
	CHECK(!memcmp(rec[0].addr.ip, v6, 16));
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 0);
	check_truncations(&m, CL_DNS_T_AAAA);

	/* The CNAME rdlength one too long, then one too short. */
	set16(&m, rdl, (unsigned)(m.n - rdl - 2) + 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_AAAA, &n), CLOISTER_EPROTO);
	CHECK_EQ_INT(n, 0);
}

/* _cloister._udp.cluster.test SRV: node1 (compressed), "." and a binary
 * target (both skipped), node2 uncompressed. */
static void build_srv(msg *m, size_t *first_rdlen)
{
	header(m, RESPONSE, 1, 4);
	put_name(m, "_cloister._udp.cluster.test");
	put16(m, CL_DNS_T_SRV);
	put16(m, CL_DNS_C_IN);
	size_t suffix = 12 + 10 + 5; /* "cluster.test" in the question */

	put_ptr(m, 12);
	*first_rdlen = rr_fixed(m, CL_DNS_T_SRV, 30, 6 + 6 + 2);
	put16(m, 10);
	put16(m, 60);
	put16(m, 7946);
	put_labels(m, "node1");
	put_ptr(m, suffix);

	put_ptr(m, 12);
	rr_fixed(m, CL_DNS_T_SRV, 30, 6 + 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 1);
	put8(m, 0);

	put_ptr(m, 12);
	rr_fixed(m, CL_DNS_T_SRV, 30, 6 + 4 + 2);
	put16(m, 0);
	put16(m, 0);
	put16(m, 2);
	put8(m, 3);
	put_bytes(m, "a.b", 3); /* a dot inside a label */
	put_ptr(m, suffix);

	put_ptr(m, 12);
	rr_fixed(m, CL_DNS_T_SRV, 30, 6 + 20);
	put16(m, 20);
	put16(m, 5);
	put16(m, 8000);
	put_name(m, "node2.cluster.test");
}

static void test_srv(void)
{
	msg m;
	size_t n, rdl;

	build_srv(&m, &rdl);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(rec[0].type, CL_DNS_T_SRV);
	CHECK_EQ_INT(rec[0].priority, 10);
	CHECK_EQ_INT(rec[0].weight, 60);
	CHECK_EQ_INT(rec[0].port, 7946);
	CHECK_STR_EQ(rec[0].target, "node1.cluster.test");
	CHECK_EQ_INT(rec[1].priority, 20);
	CHECK_EQ_INT(rec[1].weight, 5);
	CHECK_EQ_INT(rec[1].port, 8000);
	CHECK_STR_EQ(rec[1].target, "node2.cluster.test");
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 0);
	check_truncations(&m, CL_DNS_T_SRV);

	/* rdlength past the name, short of it, and below the fixed part. */
	set16(&m, rdl, 15);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), CLOISTER_EPROTO);
	set16(&m, rdl, 13);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), CLOISTER_EPROTO);
	set16(&m, rdl, 6);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), CLOISTER_EPROTO);
	set16(&m, rdl, 14);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), 0);

	/* Longest target: 255 wire bytes, 253 characters. */
	header(&m, RESPONSE, 0, 1);
	put_name(&m, "x");
	rr_fixed(&m, CL_DNS_T_SRV, 1, 6 + 255);
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 1);
	for (int l = 0; l < 4; l++) {
		int len = l < 3 ? 63 : 61;
		put8(&m, (unsigned)len);
		for (int i = 0; i < len; i++)
			put8(&m, 'a' + l);
	}
	put8(&m, 0);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(strlen(rec[0].target), 253);
	CHECK_EQ_INT(rec[0].target[63], '.');
	CHECK_EQ_INT(rec[0].target[252], 'd');
}

static void test_header(void)
{
	msg m;
	size_t n = 99;

	build_a(&m);
	/* A query, not a response. */
	m.b[2] &= 0x7f;
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	CHECK_EQ_INT(n, 0);
	build_a(&m);
	m.b[3] = (m.b[3] & 0xf0) | 3;
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_ENOENT);
	m.b[3] = (m.b[3] & 0xf0) | 2;
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EIO);
	m.b[3] = (m.b[3] & 0xf0) | 5;
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EIO);

	/* Counts larger than the data. */
	build_a(&m);
	set16(&m, 6, 3);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	set16(&m, 6, 0xffff);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	build_a(&m);
	set16(&m, 4, 2);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	/* Fewer answers than present is fine: the rest is not read. */
	build_a(&m);
	set16(&m, 6, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 1);
	/* An empty answer. */
	header(&m, RESPONSE, 0, 0);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 0);

	/* Arguments. */
	CHECK_EQ_INT(parse(&m, 15, &n), CLOISTER_EINVAL);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_CNAME, &n), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_dns_parse_answer(NULL, 12, CL_DNS_T_A, rec, 1, &n),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_dns_parse_answer(m.b, m.n, CL_DNS_T_A, NULL, 1, &n),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_dns_parse_answer(m.b, m.n, CL_DNS_T_A, rec, 1, NULL),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_dns_parse_answer(NULL, 0, CL_DNS_T_A, rec, 1, &n),
		     CLOISTER_EPROTO);
}

static void test_rdlength(void)
{
	msg m;
	size_t n;
	static const unsigned bad_a[] = {0, 3, 5, 16};
	static const unsigned bad_aaaa[] = {0, 4, 15, 17};

	for (size_t i = 0; i < 4; i++) {
		header(&m, RESPONSE, 0, 1);
		put_name(&m, "h");
		rr_fixed(&m, CL_DNS_T_A, 1, bad_a[i]);
		for (unsigned k = 0; k < bad_a[i]; k++)
			put8(&m, k);
		/* Whatever was asked: an A that is not 4 bytes is broken. */
		CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
		CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), CLOISTER_EPROTO);

		header(&m, RESPONSE, 0, 1);
		put_name(&m, "h");
		rr_fixed(&m, CL_DNS_T_AAAA, 1, bad_aaaa[i]);
		for (unsigned k = 0; k < bad_aaaa[i]; k++)
			put8(&m, k);
		CHECK_EQ_INT(parse(&m, CL_DNS_T_AAAA, &n), CLOISTER_EPROTO);
		CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	}
	/* rdlength beyond the message. */
	header(&m, RESPONSE, 0, 1);
	put_name(&m, "h");
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put8(&m, 1);
	put8(&m, 2);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	/* An unknown type is skipped whatever its rdata... */
	header(&m, RESPONSE, 0, 2);
	put_name(&m, "h");
	rr_fixed(&m, 99, 1, 3);
	put_bytes(&m, "\xc0\xff\x40", 3);
	put_name(&m, "h");
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 0x7f000001);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(rec[0].addr.ip[0], 127);
	/* ... and so is an A of another class (CH), whatever its length. */
	header(&m, RESPONSE, 0, 1);
	put_name(&m, "h");
	put16(&m, CL_DNS_T_A);
	put16(&m, 3);
	put32(&m, 1);
	put16(&m, 2);
	put16(&m, 0);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 0);
}

/* An answer whose owner name is given by the caller, then a valid A. */
static void owner_then_a(msg *m, const uint8_t *owner, size_t len)
{
	header(m, RESPONSE, 0, 1);
	put_bytes(m, owner, len);
	rr_fixed(m, CL_DNS_T_A, 1, 4);
	put32(m, 0x7f000001);
}

static void test_names(void)
{
	msg m;
	size_t n;

	/* Label 64 (0x40) and the reserved 0x80 type. */
	uint8_t l64[66] = {64};
	memset(l64 + 1, 'a', 64);
	owner_then_a(&m, l64, 66);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	owner_then_a(&m, (const uint8_t *)"\x80\x00", 2);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	/* Label 63 is fine. */
	uint8_t l63[65] = {63};
	memset(l63 + 1, 'a', 63);
	owner_then_a(&m, l63, 65);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 1);

	/* 255 wire bytes fit, 257 do not. */
	uint8_t big[300];
	size_t k = 0;
	for (int l = 0; l < 4; l++) {
		int len = l < 3 ? 63 : 61;
		big[k++] = (uint8_t)len;
		memset(big + k, 'x', (size_t)len);
		k += (size_t)len;
	}
	big[k++] = 0;
	CHECK_EQ_INT(k, 255);
	owner_then_a(&m, big, k);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	big[192] = 63; /* the last label grows by two */
	big[k - 1] = 'x';
	big[k++] = 'x';
	big[k++] = 0;
	owner_then_a(&m, big, k);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* Over 255 across a pointer: 3 x 64 in the question, 64 + pointer
	 * in the answer. */
	header(&m, RESPONSE, 1, 1);
	for (int l = 0; l < 3; l++) {
		put8(&m, 63);
		for (int i = 0; i < 63; i++)
			put8(&m, 'q');
	}
	put8(&m, 0);
	put16(&m, CL_DNS_T_A);
	put16(&m, CL_DNS_C_IN);
	put8(&m, 63);
	for (int i = 0; i < 63; i++)
		put8(&m, 'r');
	put_ptr(&m, 12);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 0x7f000001);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
}

static void test_pointers(void)
{
	msg m;
	size_t n;

	/* A pointer to itself. */
	header(&m, RESPONSE, 0, 1);
	put_ptr(&m, 12);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* A two-step loop: the question is "a" + pointer to the answer's
	 * owner, which points back at the question. */
	header(&m, RESPONSE, 1, 1);
	put_labels(&m, "a");
	put_ptr(&m, 12 + 2 + 2 + 4);
	put16(&m, CL_DNS_T_A);
	put16(&m, CL_DNS_C_IN);
	put_ptr(&m, 12);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* A loop within one name: label then a pointer to that label. */
	header(&m, RESPONSE, 0, 1);
	put_labels(&m, "a");
	put_ptr(&m, 12);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* A forward pointer, to a name that is itself fine. */
	header(&m, RESPONSE, 0, 2);
	put_ptr(&m, 12 + 2 + 10 + 4);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	put_name(&m, "h");
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 2);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* Into the header, and past the end. */
	header(&m, RESPONSE, 0, 1);
	put_ptr(&m, 4);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
	header(&m, RESPONSE, 0, 1);
	put_ptr(&m, 0x3fff);
	rr_fixed(&m, CL_DNS_T_A, 1, 4);
	put32(&m, 1);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);

	/* Pointer chains: an unknown record's rdata holds a name, then k
	 * pointers each to the one before; the A's owner points at the
	 * last.  16 jumps are allowed, 17 are not. */
	for (int k = 14; k <= 16; k++) {
		header(&m, RESPONSE, 0, 2);
		put_name(&m, "h");
		size_t rdl = rr_fixed(&m, 99, 1, 0);
		size_t prev = m.n;
		put_name(&m, "chain");
		for (int i = 0; i < k; i++) {
			size_t here = m.n;
			put_ptr(&m, prev);
			prev = here;
		}
		set16(&m, rdl, (unsigned)(m.n - rdl - 2));
		put_ptr(&m, prev);
		rr_fixed(&m, CL_DNS_T_A, 1, 4);
		put32(&m, 0x7f000001);
		int rc = parse(&m, CL_DNS_T_A, &n);
		CHECK_EQ_INT(rc, 1 + k <= CL_DNS_MAX_JUMPS ? 0 : CLOISTER_EPROTO);
	}

	/* A pointer whose second byte is missing. */
	header(&m, RESPONSE, 0, 1);
	put8(&m, 0xC0);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), CLOISTER_EPROTO);
}

/* Answers dnsmasq 2.90 gave res_nquery in the namespace test, kept as
 * fuzz seeds: uncompressed SRV targets followed by additional records. */
static size_t read_seed(const char *name, msg *m)
{
	char path[512];
	snprintf(path, sizeof path, "%s/fuzz/corpus/fuzz_dns/%s",
		 CLOISTER_SOURCE_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		CHECK_FAIL("cannot open %s", path);
	m->n = fread(m->b, 1, sizeof m->b, f);
	fclose(f);
	return m->n;
}

static void test_real_answers(void)
{
	msg m;
	size_t n;

	CHECK(read_seed("srv_dnsmasq", &m) > 12);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_SRV, &n), 0);
	CHECK_EQ_INT(n, 2);
	bool svc = false, other = false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(rec[i].target, "svc.cluster.test"))
			svc = rec[i].port == 7946;
		if (!strcmp(rec[i].target, "other.cluster.test"))
			other = rec[i].port == 7947;
	}
	CHECK(svc && other);

	CHECK(read_seed("a_dnsmasq", &m) > 12);
	CHECK_EQ_INT(parse(&m, CL_DNS_T_A, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(rec[0].addr.ip[0], 198);
	CHECK_EQ_INT(rec[0].addr.ip[3] + rec[1].addr.ip[3], 3);
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

/* Random damage to valid messages: whatever comes back, nothing reads
 * out of bounds (ASan) and what is stored is well formed. */
static void test_random_damage(void)
{
	msg base[3], m;
	size_t rdl, n;
	static const uint16_t types[] = {CL_DNS_T_A, CL_DNS_T_AAAA,
					 CL_DNS_T_SRV};

	check_seed = rng_state = 0xd15c0;
	build_a(&base[0]);
	build_srv(&base[1], &rdl);
	header(&base[2], RESPONSE, 0, 0);
	for (int iter = 0; iter < 20000; iter++) {
		m = base[rnd() % 3];
		int flips = 1 + (int)(rnd() % 4);
		for (int f = 0; f < flips && m.n; f++)
			m.b[rnd() % m.n] = (uint8_t)rnd();
		if (rnd() % 4 == 0)
			m.n = rnd() % (m.n + 1);
		int rc = parse(&m, types[rnd() % 3], &n);
		CHECK(rc == 0 || rc == CLOISTER_EPROTO ||
		      rc == CLOISTER_ENOENT || rc == CLOISTER_EIO);
		CHECK(n <= MAXREC);
		CHECK(rc == 0 || n == 0);
		for (size_t i = 0; i < n; i++)
			if (rec[i].type == CL_DNS_T_SRV)
				CHECK(strlen(rec[i].target) <= CL_DNS_NAME_MAX);
			else
				CHECK(rec[i].addr.family == CL_AF_INET4 ||
				      rec[i].addr.family == CL_AF_INET6);
	}
}

int main(void)
{
	RUN_TEST(test_a);
	RUN_TEST(test_aaaa_and_cname);
	RUN_TEST(test_srv);
	RUN_TEST(test_header);
	RUN_TEST(test_rdlength);
	RUN_TEST(test_names);
	RUN_TEST(test_pointers);
	RUN_TEST(test_real_answers);
	RUN_TEST(test_random_damage);
	printf("%d checks passed\n", check_count);
	return 0;
}
