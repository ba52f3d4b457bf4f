/*
 * test_sort.c — core/sort.h against qsort: random, sorted, reversed,
 * all-equal and organ-pipe inputs of every size up to 300, larger random
 * ones, records that differ only in a tie-breaking field, and the heapsort
 * path forced (depth 0) on the same inputs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/sort.h"

struct rec {
	uint64_t key;
	uint32_t tie;
	char pad[20]; /* wider than a word: moved as a struct */
};

static bool rec_less(const struct rec *a, const struct rec *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return a->tie < b->tie;
}

static int rec_cmp(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;
	return rec_less(a, b) ? -1 : rec_less(b, a) ? 1 : 0;
}

static bool u32_less(const uint32_t *a, const uint32_t *b)
{
	return *a < *b;
}

static int u32_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b;
}

CL_SORT_DEFINE(sort_recs, struct rec, rec_less)
CL_SORT_DEFINE(sort_u32, uint32_t, u32_less)

static uint64_t rng = 1;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

enum shape { RANDOM, FEW_KEYS, SORTED, REVERSED, EQUAL, ORGAN, SHAPES };

static void fill(uint32_t *v, size_t n, enum shape s)
{
	for (size_t i = 0; i < n; i++) {
		switch (s) {
		case RANDOM: v[i] = (uint32_t)next(); break;
		case FEW_KEYS: v[i] = (uint32_t)(next() % 4); break;
		case SORTED: v[i] = (uint32_t)i; break;
		case REVERSED: v[i] = (uint32_t)(n - i); break;
		case EQUAL: v[i] = 7; break;
		default: v[i] = (uint32_t)(i < n / 2 ? i : n - i); break;
		}
	}
}

/* Every shape and size through both the full sort and the heapsort path
 * must give qsort's order. */
static void test_matches_qsort(void)
{
	check_seed = rng = 0x50a7001;
	enum { MAX = 300 };
	uint32_t a[MAX], b[MAX], c[MAX];
	for (int s = 0; s < SHAPES; s++)
		for (size_t n = 0; n <= MAX; n++) {
			fill(a, n, (enum shape)s);
			memcpy(b, a, sizeof a);
			memcpy(c, a, sizeof a);
			qsort(a, n, sizeof *a, u32_cmp);
			sort_u32(b, n);
			sort_u32_intro(c, n, 0);
			if (memcmp(a, b, n * sizeof *a) || memcmp(a, c, n * sizeof *a))
				CHECK_FAIL("shape %d, n %zu: not qsort's order", s, n);
			check_count++;
		}
}

/* Large inputs, structs with a tie-breaking field (the callers' order is
 * total), every element kept. */
static void test_large_records(void)
{
	check_seed = rng = 0x50a7002;
	size_t sizes[] = {1000, 4095, 20000};
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		struct rec *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
		CHECK(a && b);
		for (size_t i = 0; i < n; i++) {
			a[i].key = next() % (n / 8 + 1); /* many ties on key */
			a[i].tie = (uint32_t)i;
			snprintf(a[i].pad, sizeof a[i].pad, "%u", (unsigned)i);
		}
		memcpy(b, a, n * sizeof *a);
		qsort(a, n, sizeof *a, rec_cmp);
		sort_recs(b, n);
		CHECK(memcmp(a, b, n * sizeof *a) == 0);
		free(a);
		free(b);
	}
}

/* The depth budget is what bounds the worst case: spent at once, the
 * heapsort alone must sort every shape. */
static void test_heapsort_path(void)
{
	check_seed = rng = 0x50a7003;
	enum { N = 5000 };
	static struct rec a[N], b[N];
	for (int s = 0; s < SHAPES; s++) {
		uint32_t keys[N];
		fill(keys, N, (enum shape)s);
		for (size_t i = 0; i < N; i++)
			a[i] = (struct rec){.key = keys[i], .tie = (uint32_t)(N - i)};
		memcpy(b, a, sizeof a);
		qsort(a, N, sizeof *a, rec_cmp);
		sort_recs_intro(b, N, 0);
		CHECK(memcmp(a, b, sizeof a) == 0);
	}
}

/* The binary search finds every element present and none absent. */
static void test_find(void)
{
	uint32_t v[101];
	for (uint32_t i = 0; i < 101; i++)
		v[i] = 2 * i; /* even numbers only */
	for (uint32_t k = 0; k <= 203; k++) {
		uint32_t *hit = sort_u32_find(v, 101, &k);
		CHECK(k % 2 == 0 && k <= 200 ? hit && *hit == k : hit == NULL);
	}
	uint32_t k = 0;
	CHECK(sort_u32_find(v, 0, &k) == NULL);
}

int main(void)
{
	RUN_TEST(test_matches_qsort);
	RUN_TEST(test_large_records);
	RUN_TEST(test_heapsort_path);
	RUN_TEST(test_find);
	printf("%d checks passed\n", check_count);
	return 0;
}
