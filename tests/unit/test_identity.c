/*
 * test_identity.c — the store of interned names and identities
 * (core/identity.c): interning, reference counts, dense ids that are
 * reused, and cores sharing one store without sharing what they know.
 */
#include "check.h"
#include "cloister.h"
#include "core/identity.h"
#include "core/swim.h"
#include "core/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_MS 1700000000000ull

static cl_addr addr_n(unsigned n)
{
	cl_addr a = {.family = CL_AF_INET4, .port = 7946};
	a.ip[0] = 10;
	a.ip[2] = (uint8_t)(n >> 8);
	a.ip[3] = (uint8_t)n;
	return a;
}

static uint32_t get(cl_swim_idents *st, const char *name, unsigned addr,
		    uint64_t start, const char *tags)
{
	size_t len = strlen(name);
	cl_addr a = addr_n(addr);
	return idents_get(st, (const uint8_t *)name, len,
			  cl_swim_name_id(name, len), &a, start,
			  (const uint8_t *)tags, tags ? strlen(tags) : 0);
}

static uint32_t name_id(cl_swim_idents *st, const char *name)
{
	size_t len = strlen(name);
	return idents_name_find(st, (const uint8_t *)name, len,
				cl_swim_name_id(name, len));
}

/* The same fields give the same identity; any field that differs gives
 * another one of the same name. */
static void test_interning(void)
{
	cl_swim_idents *st = cl_swim_idents_new();
	CHECK(st != NULL);
	uint32_t a = get(st, "n1", 1, EPOCH_MS, NULL);
	uint32_t b = get(st, "n1", 1, EPOCH_MS, NULL);
	CHECK_EQ_INT(a, b);
	CHECK_EQ_INT(idents_at(st, a)->refs, 2);
	uint32_t c = get(st, "n1", 1, EPOCH_MS, "k=v");
	uint32_t d = get(st, "n1", 2, EPOCH_MS, NULL);
	uint32_t e = get(st, "n1", 1, EPOCH_MS + 1, NULL);
	CHECK(c != a && d != a && e != a && c != d && d != e && c != e);
	uint32_t nid = name_id(st, "n1");
	CHECK(nid != IDENT_NONE);
	CHECK_EQ_INT(idents_at(st, c)->name, nid);
	CHECK_EQ_INT(idents_at(st, d)->name, nid);
	CHECK_EQ_INT(idents_name(st, nid)->refs, 4);
	CHECK_EQ_INT(idents_at(st, c)->tags_len, 3);
	CHECK(memcmp(ident_tags(idents_at(st, c)), "k=v", 3) == 0);
	CHECK_STR_EQ(ident_name(idents_at(st, c)), "n1");
	CHECK_STR_EQ(idents_name(st, nid)->bytes, "n1");
	CHECK_EQ_INT(idents_name_find_hash(st, cl_swim_name_id("n1", 2)), nid);
	/* The last reference takes the identity, then the name, with it. */
	idents_put(st, a);
	CHECK_EQ_INT(idents_at(st, a)->refs, 1);
	idents_put(st, a);
	idents_put(st, c);
	idents_put(st, d);
	CHECK(name_id(st, "n1") != IDENT_NONE);
	idents_put(st, e);
	CHECK_EQ_INT(name_id(st, "n1"), IDENT_NONE);
	CHECK_EQ_INT(cl_swim_idents_bytes(st), 0);
	cl_swim_idents_free(st);
}

/* Ids stay dense: freed ones are taken first, so the largest id never
 * passes the most names held at once (a table indexed by them stays the
 * size of the membership). */
static void test_dense_ids(void)
{
	cl_swim_idents *st = cl_swim_idents_new();
	enum { N = 5000 };
	static uint32_t ids[N];
	char name[32];
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, "node-%u", i);
		ids[i] = get(st, name, i, EPOCH_MS, NULL);
		CHECK(ids[i] != IDENT_NONE);
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, "node-%u", i);
		uint32_t nid = name_id(st, name);
		CHECK(nid < N);
		CHECK_EQ_INT(idents_at(st, ids[i])->name, nid);
	}
	/* Every other one goes; as many new names come. */
	for (unsigned i = 0; i < N; i += 2)
		idents_put(st, ids[i]);
	for (unsigned i = 0; i < N; i += 2) {
		snprintf(name, sizeof name, "node-%u", i);
		CHECK_EQ_INT(name_id(st, name), IDENT_NONE);
		snprintf(name, sizeof name, "new-%u", i);
		ids[i] = get(st, name, i, EPOCH_MS, NULL);
		CHECK(name_id(st, name) < N);
		CHECK(ids[i] < N);
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, i % 2 ? "node-%u" : "new-%u", i);
		CHECK(name_id(st, name) != IDENT_NONE);
		idents_put(st, ids[i]);
	}
	CHECK_EQ_INT(cl_swim_idents_bytes(st), 0);
	cl_swim_idents_free(st);
}

/* ------------------------------------------------------------------ */
/* Cores sharing a store                                               */
/* ------------------------------------------------------------------ */

static uint64_t rng_state = 12345;

static uint64_t t_rand(void *ctx)
{
	(void)ctx;
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void t_send(void *ctx, const cl_addr *to, uint64_t to_id,
		   const uint8_t *buf, size_t len, bool stream)
{
	(void)ctx, (void)to, (void)to_id, (void)buf, (void)len, (void)stream;
}

static cl_swim *core(const char *name, unsigned addr, cl_swim_idents *st)
{
	cl_swim_config c;
	memset(&c, 0, sizeof c);
	c.label = "t";
	c.name = name;
	c.addr = addr_n(addr);
	c.start_ms = EPOCH_MS;
	c.incarnation = 1;
	c.tags_max = 256;
	c.idents = st;
	cl_swim_timing_profile(&c.timing, CL_PROFILE_LAN);
	cl_swim_io io = {.rand = t_rand, .send = t_send};
	int err = 0;
	cl_swim *s = cl_swim_new(&c, &io, 1000 * CL_SEC, &err);
	CHECK(s != NULL);
	return s;
}

/* An ALIVE for name; tags "k=v" encoded as one pair (wire.h), or none. */
static void feed_alive(cl_swim *s, const char *name, unsigned addr,
		       uint32_t inc, const char *tags)
{
	uint8_t buf[512], enc[64];
	size_t enc_len = 0;
	if (tags) {
		const char *eq = strchr(tags, '=');
		CHECK(eq != NULL);
		cl_bytes k = {(const uint8_t *)tags, (size_t)(eq - tags)};
		cl_bytes v = {(const uint8_t *)eq + 1, strlen(eq + 1)};
		enc_len = cl_wire_tag_append(enc, 0, k, v);
	}
	cl_wbuf w;
	cl_wire_begin(&w, buf, sizeof buf, "t", 1);
	cl_addr a = addr_n(addr);
	cl_bytes nb = {(const uint8_t *)name, strlen(name)};
	CHECK(cl_wire_put_alive(&w, inc, EPOCH_MS, nb, &a,
				(cl_bytes){enc, enc_len}));
	cl_swim_feed(s, 1000 * CL_SEC, &a, w.buf, w.len, false);
}

/* Every member of one core's view is in the other's, the same. */
static bool same_in_other(void *arg, const cl_swim_member_view *v)
{
	const cl_swim *other = arg;
	cl_swim_member_view o;
	CHECK(cl_swim_lookup(other, v->name, v->name_len, &o));
	CHECK_EQ_INT(o.status, v->status);
	CHECK_EQ_INT(o.incarnation, v->incarnation);
	CHECK(cl_addr_equal(&o.addr, &v->addr));
	CHECK(o.start_ms == v->start_ms);
	CHECK_EQ_INT(o.tags_len, v->tags_len);
	CHECK(o.tags_len == 0 || memcmp(o.tags, v->tags, o.tags_len) == 0);
	return true;
}

/* Two cores share a store; a third has its own.  Each knows what it was
 * told, not what the store holds for the other; the shared pair and the
 * private one told the same things agree; the store outlives its creator's
 * handle while cores use it. */
static void test_shared_store(void)
{
	cl_swim_idents *st = cl_swim_idents_new();
	cl_swim *a = core("a", 1, st);
	cl_swim *b = core("b", 2, st);
	cl_swim_idents_free(st); /* the cores hold it now */
	cl_swim *p = core("a", 1, NULL);

	feed_alive(a, "m1", 11, 5, NULL);
	feed_alive(p, "m1", 11, 5, NULL);
	CHECK(cl_swim_lookup(a, "m1", 2, NULL));
	CHECK(!cl_swim_lookup(b, "m1", 2, NULL));
	CHECK(!cl_swim_lookup(b, "a", 1, NULL));

	/* b hears m1 with other tags: a's view must not move. */
	feed_alive(b, "m1", 11, 6, "role=db");
	cl_swim_member_view v;
	CHECK(cl_swim_lookup(a, "m1", 2, &v));
	CHECK_EQ_INT(v.tags_len, 0);
	CHECK_EQ_INT(v.incarnation, 5);
	CHECK(cl_swim_lookup(b, "m1", 2, &v));
	CHECK_EQ_INT(v.tags_len, 2 + 4 + 2); /* "role", "db" */

	/* The same news to a and p: same views, same checksums. */
	feed_alive(a, "m1", 12, 7, "x=1");
	feed_alive(p, "m1", 12, 7, "x=1");
	for (unsigned i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof name, "n%u", i);
		feed_alive(a, name, 100 + i, 1 + i % 3, i % 2 ? "k=v" : NULL);
		feed_alive(p, name, 100 + i, 1 + i % 3, i % 2 ? "k=v" : NULL);
	}
	cl_swim_foreach(a, same_in_other, p);
	CHECK_EQ_INT(cl_swim_count(p, CL_STATUS_ALIVE), 202);
	CHECK(cl_swim_checksum(a) == cl_swim_checksum(p));
	CHECK_EQ_INT(cl_swim_count(a, CL_STATUS_ALIVE), 202);
	CHECK_EQ_INT(cl_swim_count(b, CL_STATUS_ALIVE), 2);

	cl_swim_free(a);
	/* b still reads its names from the store a shared. */
	CHECK(cl_swim_lookup(b, "m1", 2, &v));
	CHECK_EQ_INT(v.tags_len, 2 + 4 + 2); /* "role", "db" */
	CHECK_STR_EQ(cl_swim_name(b), "b");
	cl_swim_free(b);
	cl_swim_free(p);
}

int main(void)
{
	RUN_TEST(test_interning);
	RUN_TEST(test_dense_ids);
	RUN_TEST(test_shared_store);
	return 0;
}
