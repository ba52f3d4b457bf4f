/*
 * test_ring.c — the consistent hash ring, CL_RING_DEFAULT (XXH3) mode:
 * determinism, minimal movement, replica sets, weights, the lookup index
 * against a plain binary search, argument checking.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cloister.h"
#include "core/ring.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void seed(uint64_t s)
{
	check_seed = s;
	rng_state = s;
}

static int node_name(char *buf, size_t cap, int i)
{
	return snprintf(buf, cap, "node-%03d", i);
}

static void add_node(cl_ring *r, int i, unsigned weight)
{
	char name[32];
	int n = node_name(name, sizeof name, i);

	CHECK_EQ_INT(cl_ring_add(r, name, (size_t)n, weight), 0);
}

static cl_ring *ring_of(int n, unsigned vnodes)
{
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, vnodes);

	CHECK(r != NULL);
	for (int i = 0; i < n; i++)
		add_node(r, i, 1);
	return r;
}

/* Random keys: 16 bytes each. */
#define KEYLEN 16
static uint8_t *make_keys(size_t n)
{
	uint8_t *k = malloc(n * KEYLEN);

	CHECK(k != NULL);
	for (size_t i = 0; i < n * KEYLEN; i += 8) {
		uint64_t v = rnd();
		memcpy(k + i, &v, 8);
	}
	return k;
}

/* Owners of every key (pointers into r: valid until r changes, so the
 * comparison helpers copy what they keep). */
static char **owners(const cl_ring *r, const uint8_t *keys, size_t n)
{
	char **o = malloc(n * sizeof *o);

	CHECK(o != NULL);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *name = cl_ring_whois(r, keys + i * KEYLEN, KEYLEN, &len);
		CHECK(name != NULL);
		CHECK_EQ_INT(strlen(name), len);
		o[i] = strdup(name);
		CHECK(o[i] != NULL);
	}
	return o;
}

static void free_owners(char **o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i]);
	free(o);
}

/* The same points, in the same order, with the same owners. */
static void check_same_ring(const cl_ring *a, const cl_ring *b)
{
	CHECK(cl_ring_checksum(a) == cl_ring_checksum(b));
	CHECK_EQ_INT(cl_ring_points(a), cl_ring_points(b));
	CHECK_EQ_INT(cl_ring_size(a), cl_ring_size(b));
	for (size_t k = 0; k < cl_ring_points(a); k++) {
		uint64_t h1, h2;
		const char *n1, *n2;
		CHECK_EQ_INT(cl_ring_point_at(a, k, &h1, &n1, NULL), 0);
		CHECK_EQ_INT(cl_ring_point_at(b, k, &h2, &n2, NULL), 0);
		CHECK(h1 == h2);
		CHECK_STR_EQ(n1, n2);
	}
}

/* ---------------------------------------------------------------- tests */

static void test_empty(void)
{
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, 0);
	const char *out[4];
	size_t len = 99;

	CHECK(r != NULL);
	CHECK_EQ_INT(cl_ring_size(r), 0);
	CHECK_EQ_INT(cl_ring_points(r), 0);
	CHECK(cl_ring_whois(r, "k", 1, &len) == NULL);
	CHECK_EQ_INT(len, 99);
	CHECK(cl_ring_whois_hash(r, 0, NULL) == NULL);
	CHECK(cl_ring_whois_hash_bsearch(r, 0, NULL) == NULL);
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, 4, out, NULL), 0);
	CHECK_EQ_INT(cl_ring_remove(r, "a", 1), CLOISTER_ENOENT);
	uint64_t empty = cl_ring_checksum(r);

	/* Emptied again, by remove and by clear: same as new. */
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 1), 0);
	CHECK(cl_ring_whois(r, "k", 1, NULL) != NULL);
	CHECK(cl_ring_checksum(r) != empty);
	CHECK_EQ_INT(cl_ring_remove(r, "a", 1), 0);
	CHECK(cl_ring_whois(r, "k", 1, NULL) == NULL);
	CHECK(cl_ring_checksum(r) == empty);
	add_node(r, 1, 1);
	add_node(r, 2, 3);
	cl_ring_clear(r);
	CHECK_EQ_INT(cl_ring_size(r), 0);
	CHECK_EQ_INT(cl_ring_points(r), 0);
	CHECK(cl_ring_whois(r, "k", 1, NULL) == NULL);
	CHECK(cl_ring_checksum(r) == empty);
	add_node(r, 1, 1); /* usable after clear */
	CHECK_EQ_INT(cl_ring_points(r), 128);
	cl_ring_free(r);
	cl_ring_free(NULL);
}

static void test_insertion_order(void)
{
	enum { N = 40, KEYS = 10000 };
	int order[N];
	unsigned weight[N];
	const void *names[N];
	size_t lens[N];
	char buf[N][32];

	seed(0x7269a001);
	for (int i = 0; i < N; i++) {
		order[i] = i;
		weight[i] = 1 + (unsigned)(i % 3);
		lens[i] = (size_t)node_name(buf[i], sizeof buf[i], i);
		names[i] = buf[i];
	}
	cl_ring *fwd = cl_ring_new(CL_RING_DEFAULT, 0);
	cl_ring *rev = cl_ring_new(CL_RING_DEFAULT, 0);
	cl_ring *shuf = cl_ring_new(CL_RING_DEFAULT, 0);
	cl_ring *batch = cl_ring_new(CL_RING_DEFAULT, 0);
	for (int i = 0; i < N; i++) {
		add_node(fwd, i, weight[i]);
		add_node(rev, N - 1 - i, weight[N - 1 - i]);
	}
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint64_t)(i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < N; i++)
		add_node(shuf, order[i], weight[order[i]]);
	CHECK_EQ_INT(cl_ring_add_many(batch, N, names, lens, weight), 0);

	cl_ring *rings[] = {rev, shuf, batch};
	CHECK_EQ_INT(cl_ring_points(fwd), 128 * (14 * 1 + 13 * 2 + 13 * 3));
	for (size_t k = 0; k < 3; k++)
		check_same_ring(rings[k], fwd);
	uint8_t *keys = make_keys(KEYS);
	for (size_t i = 0; i < KEYS; i++) {
		const char *o = cl_ring_whois(fwd, keys + i * KEYLEN, KEYLEN, NULL);
		for (size_t k = 0; k < 3; k++)
			CHECK_STR_EQ(cl_ring_whois(rings[k], keys + i * KEYLEN,
						   KEYLEN, NULL),
				     o);
	}

	/* A different member set or weight gives a different digest;
	 * putting it back restores it. */
	uint64_t sum = cl_ring_checksum(fwd);
	char name[32];
	int n = node_name(name, sizeof name, 7);
	CHECK_EQ_INT(cl_ring_remove(fwd, name, (size_t)n), 0);
	CHECK(cl_ring_checksum(fwd) != sum);
	CHECK_EQ_INT(cl_ring_add(fwd, name, (size_t)n, weight[7] + 1), 0);
	CHECK(cl_ring_checksum(fwd) != sum);
	CHECK_EQ_INT(cl_ring_remove(fwd, name, (size_t)n), 0);
	CHECK_EQ_INT(cl_ring_add(fwd, name, (size_t)n, weight[7]), 0);
	CHECK(cl_ring_checksum(fwd) == sum);
	/* Other vnodes, other algorithm: other rings. */
	cl_ring *v64 = cl_ring_new(CL_RING_DEFAULT, 64);
	cl_ring *lib = cl_ring_new(CL_RING_LIBRING, 0);
	CHECK_EQ_INT(cl_ring_add_many(v64, N, names, lens, weight), 0);
	CHECK_EQ_INT(cl_ring_add_many(lib, N, names, lens, weight), 0);
	CHECK(cl_ring_checksum(v64) != sum);
	CHECK(cl_ring_checksum(lib) != sum);

	free(keys);
	cl_ring_free(v64);
	cl_ring_free(lib);
	cl_ring_free(fwd);
	cl_ring_free(rev);
	cl_ring_free(shuf);
	cl_ring_free(batch);
	check_seed = 0;
}

static void test_add_moves_one_share(void)
{
	enum { N = 50, KEYS = 10000 };
	cl_ring *r = ring_of(N, 0);
	char name[32];

	seed(0x7269a002);
	uint8_t *keys = make_keys(KEYS);
	char **before = owners(r, keys, KEYS);
	int n = node_name(name, sizeof name, N);
	CHECK_EQ_INT(cl_ring_add(r, name, (size_t)n, 1), 0);
	char **after = owners(r, keys, KEYS);

	size_t moved = 0;
	for (size_t i = 0; i < KEYS; i++) {
		if (strcmp(before[i], after[i]) == 0)
			continue;
		moved++;
		CHECK_STR_EQ(after[i], name); /* only to the newcomer */
	}
	double ideal = (double)KEYS / (N + 1);
	printf("  add: %zu of %d keys moved (ideal %.0f)\n", moved, KEYS, ideal);
	CHECK(moved >= 0.75 * ideal && moved <= 1.25 * ideal);

	free_owners(before, KEYS);
	free_owners(after, KEYS);
	free(keys);
	cl_ring_free(r);
	check_seed = 0;
}

static void test_remove_moves_only_its_keys(void)
{
	enum { N = 50, KEYS = 10000 };
	cl_ring *r = ring_of(N, 0);
	char name[32];

	seed(0x7269a003);
	uint8_t *keys = make_keys(KEYS);
	char **before = owners(r, keys, KEYS);
	int n = node_name(name, sizeof name, 17);
	CHECK_EQ_INT(cl_ring_remove(r, name, (size_t)n), 0);
	CHECK_EQ_INT(cl_ring_size(r), N - 1);
	CHECK_EQ_INT(cl_ring_points(r), (N - 1) * 128);
	char **after = owners(r, keys, KEYS);

	size_t owned = 0;
	for (size_t i = 0; i < KEYS; i++) {
		if (strcmp(before[i], name) == 0) {
			owned++;
			CHECK(strcmp(after[i], name) != 0);
		} else {
			CHECK_STR_EQ(after[i], before[i]);
		}
	}
	CHECK(owned > 0);
	/* Its keys went to several members, not one neighbour. */
	size_t distinct = 0;
	for (size_t i = 0; i < KEYS; i++) {
		if (strcmp(before[i], name) != 0)
			continue;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(before[j], name) == 0 &&
			      strcmp(after[j], after[i]) == 0;
		distinct += !dup;
	}
	CHECK(distinct >= 10);

	/* Back again: back to the same owners. */
	CHECK_EQ_INT(cl_ring_add(r, name, (size_t)n, 1), 0);
	char **again = owners(r, keys, KEYS);
	for (size_t i = 0; i < KEYS; i++)
		CHECK_STR_EQ(again[i], before[i]);

	free_owners(before, KEYS);
	free_owners(after, KEYS);
	free_owners(again, KEYS);
	free(keys);
	cl_ring_free(r);
	check_seed = 0;
}

static void test_whois_n(void)
{
	enum { N = 50 };
	cl_ring *r = ring_of(N, 0);
	const char *out[N + 5];
	size_t lens[N + 5];

	seed(0x7269a004);
	for (int t = 0; t < 2000; t++) {
		uint8_t key[8];
		uint64_t v = rnd();
		memcpy(key, &v, sizeof key);
		size_t n = 1 + (size_t)(rnd() % 5);
		int got = cl_ring_whois_n(r, key, sizeof key, n, out, lens);
		CHECK_EQ_INT(got, n);
		CHECK_STR_EQ(out[0], cl_ring_whois(r, key, sizeof key, NULL));
		for (int i = 0; i < got; i++) {
			CHECK_EQ_INT(lens[i], strlen(out[i]));
			for (int j = 0; j < i; j++)
				CHECK(strcmp(out[i], out[j]) != 0);
		}
	}

	/* Ring order: the answer is the distinct owners of the points from
	 * the successor on, wrapping.  A hash past the last point starts at
	 * point 0; one on the last point walks off the end and wraps. */
	uint64_t last;
	size_t np = cl_ring_points(r);
	CHECK_EQ_INT(cl_ring_point_at(r, np - 1, &last, NULL, NULL), 0);
	uint64_t probes[] = {last, last + 1, UINT64_MAX, 0};
	for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
		size_t start = probes[p] == last ? np - 1 : 0;
		int got = cl_ring_whois_n_hash(r, probes[p], 5, out, NULL);
		CHECK_EQ_INT(got, 5);
		const char *walk[5];
		int w = 0;
		for (size_t s = 0; s < np && w < 5; s++) {
			const char *name;
			CHECK_EQ_INT(cl_ring_point_at(r, (start + s) % np, NULL,
						      &name, NULL),
				     0);
			bool dup = false;
			for (int j = 0; j < w; j++)
				dup |= strcmp(walk[j], name) == 0;
			if (!dup)
				walk[w++] = name;
		}
		for (int i = 0; i < 5; i++)
			CHECK_STR_EQ(out[i], walk[i]);
	}

	/* More than there are members: all of them, once (the bitmap path). */
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, N + 5, out, NULL), N);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < i; j++)
			CHECK(strcmp(out[i], out[j]) != 0);
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, 0, NULL, NULL), 0);

	/* Tiny rings. */
	cl_ring *one = ring_of(1, 1);
	CHECK_EQ_INT(cl_ring_whois_n(one, "k", 1, 3, out, NULL), 1);
	CHECK_STR_EQ(out[0], "node-000");
	cl_ring *two = ring_of(2, 1);
	CHECK_EQ_INT(cl_ring_whois_n_hash(two, UINT64_MAX, 3, out, NULL), 2);
	CHECK(strcmp(out[0], out[1]) != 0);
	cl_ring_free(one);
	cl_ring_free(two);
	cl_ring_free(r);
	check_seed = 0;
}

static void test_weight(void)
{
	enum { N = 10, KEYS = 100000 };
	cl_ring *r = ring_of(N, 0);
	char heavy[32];
	int hn = node_name(heavy, sizeof heavy, N);

	CHECK_EQ_INT(cl_ring_add(r, heavy, (size_t)hn, 2), 0);
	CHECK_EQ_INT(cl_ring_member_points(r, heavy, (size_t)hn), 256);
	CHECK_EQ_INT(cl_ring_member_requested(r, heavy, (size_t)hn), 256);
	CHECK_EQ_INT(cl_ring_member_points(r, "node-000", 8), 128);
	CHECK_EQ_INT(cl_ring_member_points(r, "nobody", 6), CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_ring_points(r), N * 128 + 256);

	seed(0x7269a005);
	size_t mine = 0;
	for (size_t i = 0; i < KEYS; i++) {
		uint64_t v = rnd();
		const char *o = cl_ring_whois(r, &v, sizeof v, NULL);
		mine += strcmp(o, heavy) == 0;
	}
	double share = (double)mine / KEYS, ideal = 2.0 / (N + 2);
	printf("  weight 2: %.3f of the keys (ideal %.3f)\n", share, ideal);
	CHECK(share > 0.75 * ideal && share < 1.25 * ideal);

	/* Weight scales vnodes: vnodes 32 x weight 4 = 128 points. */
	cl_ring *small = cl_ring_new(CL_RING_DEFAULT, 32);
	CHECK_EQ_INT(cl_ring_add(small, "x", 1, 4), 0);
	CHECK_EQ_INT(cl_ring_points(small), 128);
	CHECK_EQ_INT(cl_ring_add_points(small, "y", 1, 7), 0);
	CHECK_EQ_INT(cl_ring_member_points(small, "y", 1), 7);
	cl_ring_free(small);
	cl_ring_free(r);
	check_seed = 0;
}

/* An independent lower bound over the ring's points, wrapping. */
static size_t ref_successor(const uint64_t *pts, size_t np, uint64_t h)
{
	size_t lo = 0, hi = np;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pts[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == np ? 0 : lo;
}

static void check_index(const cl_ring *r, const uint64_t *pts,
			const char **names, size_t np, uint64_t h)
{
	size_t want = ref_successor(pts, np, h), l1, l2;
	const char *a = cl_ring_whois_hash(r, h, &l1);
	const char *b = cl_ring_whois_hash_bsearch(r, h, &l2);

	CHECK(a == names[want]); /* the very same member copy */
	CHECK(b == names[want]);
	CHECK_EQ_INT(l1, l2);
}

static void test_index_matches_binary_search(void)
{
	const struct {
		int members;
		unsigned vnodes;
	} shapes[] = {{1, 1}, {2, 1}, {3, 5}, {7, 3}, {50, 128}, {1000, 128},
		      {40, 1024}};

	seed(0x7269a006);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		cl_ring *r = ring_of(shapes[s].members, shapes[s].vnodes);
		size_t np = cl_ring_points(r);
		uint64_t *pts = malloc(np * sizeof *pts);
		const char **names = malloc(np * sizeof *names);
		CHECK(pts && names);
		for (size_t i = 0; i < np; i++) {
			CHECK_EQ_INT(cl_ring_point_at(r, i, &pts[i], &names[i],
						      NULL),
				     0);
			if (i)
				CHECK(pts[i - 1] <= pts[i]);
		}
		/* Random hashes and random keys. */
		for (int i = 0; i < 100000; i++)
			check_index(r, pts, names, np, rnd());
		for (int i = 0; i < 20000; i++) {
			uint64_t v = rnd(), h;
			CHECK_EQ_INT(cl_ring_key_hash(r, &v, sizeof v, &h), 0);
			CHECK(cl_ring_whois(r, &v, sizeof v, NULL) ==
			      names[ref_successor(pts, np, h)]);
		}
		/* Exactly on points, just around them, the ends. */
		for (size_t i = 0; i < np; i++) {
			check_index(r, pts, names, np, pts[i]);
			check_index(r, pts, names, np, pts[i] - 1);
			check_index(r, pts, names, np, pts[i] + 1);
		}
		check_index(r, pts, names, np, 0);
		check_index(r, pts, names, np, UINT64_MAX);
		check_index(r, pts, names, np, pts[np - 1] + 1); /* wraps */
		CHECK(cl_ring_whois_hash(r, pts[np - 1] + 1, NULL) == names[0] ||
		      pts[np - 1] == UINT64_MAX);
		/* Each point's own hash belongs to the point's member. */
		for (size_t i = 0; i < np; i++)
			CHECK(strcmp(cl_ring_whois_hash(r, pts[i], NULL),
				     names[i]) == 0);

		struct cl_ring_stats st;
		cl_ring_stats(r, &st);
		CHECK_EQ_INT(st.points, np);
		CHECK(st.max_bucket <= 64);
		free(pts);
		free(names);
		cl_ring_free(r);
	}
	check_seed = 0;
}

/* Random joins and leaves: after every step the incrementally kept index
 * agrees with the binary search everywhere, and the ring equals one built
 * from scratch from the same members (same checksum, same points). */
static void test_churn(void)
{
	enum { POOL = 60, STEPS = 400 };
	bool in[POOL] = {false};
	unsigned weight[POOL];
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, 16);

	seed(0x7269a007);
	for (int step = 0; step < STEPS; step++) {
		int i = (int)(rnd() % POOL);
		char name[32];
		int n = node_name(name, sizeof name, i);

		if (in[i]) {
			CHECK_EQ_INT(cl_ring_remove(r, name, (size_t)n), 0);
		} else {
			weight[i] = 1 + (unsigned)(rnd() % 4);
			CHECK_EQ_INT(cl_ring_add(r, name, (size_t)n, weight[i]), 0);
		}
		in[i] = !in[i];

		size_t np = cl_ring_points(r);
		for (size_t k = 0; k < np; k++) {
			uint64_t h;
			CHECK_EQ_INT(cl_ring_point_at(r, k, &h, NULL, NULL), 0);
			CHECK(cl_ring_whois_hash(r, h, NULL) ==
			      cl_ring_whois_hash_bsearch(r, h, NULL));
			CHECK(cl_ring_whois_hash(r, h + 1, NULL) ==
			      cl_ring_whois_hash_bsearch(r, h + 1, NULL));
		}
		for (int k = 0; k < 200; k++) {
			uint64_t h = rnd();
			CHECK(cl_ring_whois_hash(r, h, NULL) ==
			      cl_ring_whois_hash_bsearch(r, h, NULL));
		}

		cl_ring *fresh = cl_ring_new(CL_RING_DEFAULT, 16);
		for (int k = 0; k < POOL; k++)
			if (in[k])
				add_node(fresh, k, weight[k]);
		check_same_ring(r, fresh);
		cl_ring_free(fresh);
	}
	cl_ring_free(r);
	check_seed = 0;
}

/* Batches as the cluster settles them: each step removes some members in
 * one cl_ring_remove_many and adds others in one cl_ring_add_many, big
 * enough that the batch sort is the radix sort (>= 4,096 points).  After
 * every step the ring must equal one built member by member, for both
 * algorithms (libring's 32-bit points collide, and the first inserted
 * keeps the point: batch order must be insertion order). */
static void test_batches_equal_single_steps(void)
{
	enum { POOL = 300, STEPS = 12 };
	const enum cl_ring_algorithm algs[] = {CL_RING_DEFAULT, CL_RING_LIBRING};
	char buf[POOL][32];
	size_t lens[POOL];
	for (int i = 0; i < POOL; i++)
		lens[i] = (size_t)node_name(buf[i], sizeof buf[i], i);

	for (size_t a = 0; a < 2; a++) {
		bool in[POOL] = {false};
		int order[POOL], n_order = 0; /* insertion order of members in */
		unsigned weight[POOL];
		cl_ring *r = cl_ring_new(algs[a], 64);
		CHECK(r != NULL);
		seed(0x7269a00b + a);
		for (int step = 0; step < STEPS; step++) {
			const void *add[POOL], *del[POOL];
			size_t add_len[POOL], del_len[POOL];
			unsigned add_w[POOL];
			int add_i[POOL];
			size_t n_add = 0, n_del = 0;
			for (int i = 0; i < POOL; i++) {
				if (rnd() % 3)
					continue;
				if (in[i]) {
					del[n_del] = buf[i];
					del_len[n_del++] = lens[i];
					in[i] = false;
				} else {
					weight[i] = 1 + (unsigned)(rnd() % 3);
					add[n_add] = buf[i];
					add_len[n_add] = lens[i];
					add_w[n_add] = weight[i];
					add_i[n_add++] = i;
				}
			}
			CHECK_EQ_INT(cl_ring_remove_many(r, n_del, del, del_len), 0);
			CHECK_EQ_INT(cl_ring_add_many(r, n_add, add, add_len, add_w), 0);
			/* The single-step ring: survivors in their order, then
			 * this step's additions in batch order. */
			int kept = 0;
			for (int k = 0; k < n_order; k++)
				if (in[order[k]])
					order[kept++] = order[k];
			n_order = kept;
			for (size_t k = 0; k < n_add; k++) {
				in[add_i[k]] = true;
				order[n_order++] = add_i[k];
			}
			CHECK(cl_ring_points(r) >= 4096 || step == 0);
			cl_ring *single = cl_ring_new(algs[a], 64);
			CHECK(single != NULL);
			for (int k = 0; k < n_order; k++)
				CHECK_EQ_INT(cl_ring_add(single, buf[order[k]],
							 lens[order[k]],
							 weight[order[k]]),
					     0);
			check_same_ring(r, single);
			cl_ring_free(single);
		}

		/* All or nothing: an absent name or a name given twice
		 * leaves the ring as it was. */
		uint64_t sum = cl_ring_checksum(r);
		size_t np = cl_ring_points(r);
		int present = -1, absent = -1;
		for (int i = 0; i < POOL; i++) {
			if (in[i] && present < 0)
				present = i;
			if (!in[i] && absent < 0)
				absent = i;
		}
		CHECK(present >= 0 && absent >= 0);
		const void *two[2] = {buf[present], buf[absent]};
		size_t two_len[2] = {lens[present], lens[absent]};
		CHECK_EQ_INT(cl_ring_remove_many(r, 2, two, two_len),
			     CLOISTER_ENOENT);
		two[1] = buf[present];
		two_len[1] = lens[present];
		CHECK_EQ_INT(cl_ring_remove_many(r, 2, two, two_len),
			     CLOISTER_EEXIST);
		size_t bad_len = 0;
		CHECK_EQ_INT(cl_ring_remove_many(r, 1, two, &bad_len),
			     CLOISTER_EINVAL);
		CHECK_EQ_INT(cl_ring_remove_many(r, 0, NULL, NULL), 0);
		CHECK(cl_ring_checksum(r) == sum);
		CHECK_EQ_INT(cl_ring_points(r), np);
		cl_ring_free(r);
	}
	check_seed = 0;
}

static void test_names(void)
{
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, 4);
	char big[255], nul[3] = {'a', '\0', 'b'};
	size_t len;

	memset(big, 'z', sizeof big);
	CHECK_EQ_INT(cl_ring_add(r, big, sizeof big, 1), 0);
	CHECK_EQ_INT(cl_ring_add(r, nul, sizeof nul, 1), 0);
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 1), 0); /* a prefix of nul */
	CHECK_EQ_INT(cl_ring_member_points(r, nul, sizeof nul), 4);
	CHECK_EQ_INT(cl_ring_member_points(r, big, sizeof big), 4);
	char zs[255];
	memcpy(zs, big, sizeof zs);
	memset(big, 'y', sizeof big); /* the ring kept its own copy */
	bool seen_nul = false, seen_big = false;
	for (size_t i = 0; i < cl_ring_points(r); i++) {
		const char *name;
		CHECK_EQ_INT(cl_ring_point_at(r, i, NULL, &name, &len), 0);
		CHECK_EQ_INT(name[len], '\0');
		if (len == 3) {
			CHECK(memcmp(name, nul, 3) == 0);
			seen_nul = true;
		} else if (len == 255) {
			CHECK(memcmp(name, zs, 255) == 0);
			seen_big = true;
		} else {
			CHECK_EQ_INT(len, 1);
		}
	}
	CHECK(seen_nul && seen_big);
	CHECK_EQ_INT(cl_ring_remove(r, "a", 1), 0);
	CHECK_EQ_INT(cl_ring_member_points(r, nul, sizeof nul), 4);
	CHECK_EQ_INT(cl_ring_size(r), 2);
	/* The freed slot is reused. */
	CHECK_EQ_INT(cl_ring_add(r, "c", 1, 1), 0);
	CHECK_EQ_INT(cl_ring_size(r), 3);
	/* Empty and NULL keys are keys too. */
	CHECK(cl_ring_whois(r, NULL, 0, NULL) != NULL);
	CHECK(cl_ring_whois(r, "", 0, NULL) == cl_ring_whois(r, NULL, 0, NULL));
	cl_ring_free(r);
}

static void test_bad_arguments(void)
{
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, 0);
	char big[256];
	const char *out[2];
	uint64_t h;

	memset(big, 'x', sizeof big);
	CHECK(cl_ring_new((enum cl_ring_algorithm)7, 0) == NULL);
	CHECK(cl_ring_new(CL_RING_DEFAULT, CL_RING_MAX_VNODES + 1) == NULL);
	CHECK_EQ_INT(cl_ring_add(NULL, "a", 1, 1), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(r, NULL, 1, 1), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(r, "a", 0, 1), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(r, big, 256, 1), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 0), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 1u << 20), CLOISTER_ELIMIT);
	CHECK_EQ_INT(cl_ring_add_points(r, "a", 1, 0), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add_points(r, "a", 1, CL_RING_MAX_MEMBER_POINTS + 1),
		     CLOISTER_ELIMIT);
	CHECK_EQ_INT(cl_ring_size(r), 0);
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 1), 0);
	CHECK_EQ_INT(cl_ring_add(r, "a", 1, 2), CLOISTER_EEXIST);
	CHECK_EQ_INT(cl_ring_member_points(r, "a", 1), 128);
	CHECK_EQ_INT(cl_ring_remove(r, "b", 1), CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_ring_remove(r, NULL, 1), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_remove(r, big, 256), CLOISTER_EINVAL);

	/* Batches are all or nothing. */
	uint64_t sum = cl_ring_checksum(r);
	const void *names[3] = {"b", "c", "b"};
	size_t lens[3] = {1, 1, 1};
	unsigned weights[3] = {1, 0, 1};
	CHECK_EQ_INT(cl_ring_add_many(r, 3, names, lens, NULL), CLOISTER_EEXIST);
	names[2] = "a";
	CHECK_EQ_INT(cl_ring_add_many(r, 3, names, lens, NULL), CLOISTER_EEXIST);
	names[2] = "d";
	CHECK_EQ_INT(cl_ring_add_many(r, 3, names, lens, weights),
		     CLOISTER_EINVAL);
	lens[1] = 0;
	CHECK_EQ_INT(cl_ring_add_many(r, 3, names, lens, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add_many(r, 3, NULL, lens, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_size(r), 1);
	CHECK(cl_ring_checksum(r) == sum);
	lens[1] = 1;
	CHECK_EQ_INT(cl_ring_add_many(r, 3, names, lens, NULL), 0);
	CHECK_EQ_INT(cl_ring_add_many(r, 0, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(cl_ring_size(r), 4);

	CHECK(cl_ring_whois(NULL, "k", 1, NULL) == NULL);
	CHECK(cl_ring_whois(r, NULL, 1, NULL) == NULL);
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, 2, NULL, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_whois_n(r, NULL, 1, 2, out, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_whois_n(NULL, "k", 1, 2, out, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_key_hash(r, "k", 1, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_key_hash(r, NULL, 1, &h), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_point_at(r, cl_ring_points(r), NULL, NULL, NULL),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(NULL, CL_RING_KEY_BINARY),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_INTEGER), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_BINARY), 0);
	CHECK_EQ_INT(cl_ring_size(NULL), 0);
	CHECK_EQ_INT(cl_ring_points(NULL), 0);
	CHECK(cl_ring_checksum(NULL) == 0);
	cl_ring_clear(NULL);
	cl_ring_free(r);
}

int main(void)
{
	RUN_TEST(test_empty);
	RUN_TEST(test_insertion_order);
	RUN_TEST(test_add_moves_one_share);
	RUN_TEST(test_remove_moves_only_its_keys);
	RUN_TEST(test_whois_n);
	RUN_TEST(test_weight);
	RUN_TEST(test_index_matches_binary_search);
	RUN_TEST(test_churn);
	RUN_TEST(test_batches_equal_single_steps);
	RUN_TEST(test_names);
	RUN_TEST(test_bad_arguments);
	printf("%d checks passed\n", check_count);
	return 0;
}
