/*
 * test_ring_view.c — rings as arcs (src/runtime/ring_view.h), for the web
 * page: the arcs tile the circle in order, each owned by whoever the ring
 * says owns its keys, shares sum to one and match each member's part, a
 * ring too fine to draw is sampled within the bound, and libring's 32-bit
 * range is scaled like the default's 64-bit one.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/ring.h"
#include "runtime/ring_view.h"

static cl_ring *ring_of(enum cl_ring_algorithm alg, unsigned vnodes, int n)
{
	cl_ring *r = cl_ring_new(alg, vnodes);
	CHECK(r != NULL);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof name, "app@10.0.0.%d", i + 1);
		CHECK(cl_ring_add(r, name, strlen(name), i == 0 ? 2 : 1) == 0);
	}
	return r;
}

static int owner_index(const cl_ring_arcs *a, const char *name, size_t len)
{
	for (size_t i = 0; i < a->n_owners; i++)
		if (strlen(a->owners[i]) == len && !memcmp(a->owners[i], name, len))
			return (int)i;
	return -1;
}

/* Arcs in order, no gap, no overlap, from 0 to 1; neighbours differ. */
static void tiles(const cl_ring_arcs *a)
{
	CHECK(a->n_arcs >= 1);
	CHECK(a->arcs[0].from == 0);
	CHECK(fabs(a->arcs[a->n_arcs - 1].to - 1.0) < 1e-12);
	for (size_t i = 0; i < a->n_arcs; i++) {
		CHECK(a->arcs[i].from < a->arcs[i].to);
		CHECK(a->arcs[i].owner < a->n_owners);
		if (i) {
			CHECK(a->arcs[i].from == a->arcs[i - 1].to);
			CHECK(a->arcs[i].owner != a->arcs[i - 1].owner);
		}
	}
	double sum = 0;
	for (size_t i = 0; i < a->n_owners; i++)
		sum += a->share[i];
	CHECK(fabs(sum - 1.0) < 1e-9);
}

/* At each arc's middle, the ring's own answer is the arc's owner. */
static void owners_agree(const cl_ring *r, const cl_ring_arcs *a, double range)
{
	for (size_t i = 0; i < a->n_arcs; i++) {
		double mid = (a->arcs[i].from + a->arcs[i].to) / 2 * range;
		size_t len;
		const char *who = cl_ring_whois_hash(r, (uint64_t)mid, &len);
		CHECK(who != NULL);
		CHECK(owner_index(a, who, len) == (int)a->arcs[i].owner);
	}
}

static void exact_default(void)
{
	cl_ring *r = ring_of(CL_RING_DEFAULT, 16, 3);
	cl_ring_arcs *a;
	CHECK(cl_ring_arcs_of(r, false, 4096, &a) == 0);
	CHECK(a->exact);
	CHECK(a->n_owners == 3 && a->points == 64);
	CHECK(a->checksum == cl_ring_checksum(r));
	tiles(a);
	owners_agree(r, a, 18446744073709551616.0);
	/* Each owner's share is the sum of its arcs. */
	for (size_t k = 0; k < a->n_owners; k++) {
		double s = 0;
		for (size_t i = 0; i < a->n_arcs; i++)
			if (a->arcs[i].owner == k)
				s += a->arcs[i].to - a->arcs[i].from;
		CHECK(fabs(s - a->share[k]) < 1e-9);
	}
	/* Weight 2: about twice the others' share. */
	int heavy = owner_index(a, "app@10.0.0.1", 12);
	CHECK(heavy >= 0 && a->share[heavy] > 0.35);
	cl_ring_arcs_free(a);
	cl_ring_free(r);
}

static void sampled_when_too_fine(void)
{
	cl_ring *r = ring_of(CL_RING_DEFAULT, 128, 200); /* 25,728 points */
	cl_ring_arcs *a;
	CHECK(cl_ring_arcs_of(r, false, 720, &a) == 0);
	CHECK(!a->exact);
	CHECK(a->n_arcs <= 720);
	CHECK(a->n_owners <= 200 && a->n_owners > 150);
	tiles(a);
	/* Steps are 1/720 wide: every boundary sits on one. */
	for (size_t i = 0; i < a->n_arcs; i++)
		CHECK(fabs(a->arcs[i].from * 720 - round(a->arcs[i].from * 720)) < 1e-6);
	/* A sampled arc is whoever owns the middle of each of its steps. */
	for (int st = 0; st < 720; st++) {
		double x = (st + 0.5) / 720;
		size_t i = 0;
		while (i < a->n_arcs && !(a->arcs[i].from <= x && x < a->arcs[i].to))
			i++;
		CHECK(i < a->n_arcs);
		size_t len;
		const char *who = cl_ring_whois_hash(
			r, (uint64_t)(x * 18446744073709551616.0), &len);
		CHECK(owner_index(a, who, len) == (int)a->arcs[i].owner);
	}
	cl_ring_arcs_free(a);
	cl_ring_free(r);
}

static void libring_range(void)
{
	cl_ring *r = ring_of(CL_RING_LIBRING, 32, 4);
	cl_ring_arcs *a;
	CHECK(cl_ring_arcs_of(r, true, 4096, &a) == 0);
	CHECK(a->exact && a->n_owners == 4);
	tiles(a);
	owners_agree(r, a, (double)CL_RING_LIBRING_RANGE);
	cl_ring_arcs_free(a);
	cl_ring_free(r);
}

static void edges(void)
{
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, 0);
	cl_ring_arcs *a = (cl_ring_arcs *)1;
	CHECK(cl_ring_arcs_of(r, false, 720, &a) == CLOISTER_ENOENT && a == NULL);
	CHECK(cl_ring_arcs_of(r, false, 0, &a) == CLOISTER_EINVAL);
	CHECK(cl_ring_add(r, "solo", 4, 1) == 0);
	CHECK(cl_ring_arcs_of(r, false, 720, &a) == 0);
	/* One member owns the whole circle: one arc. */
	CHECK(a->n_arcs == 1 && a->n_owners == 1);
	CHECK(fabs(a->share[0] - 1.0) < 1e-9);
	tiles(a);
	cl_ring_arcs_free(a);
	cl_ring_free(r);
}

int main(void)
{
	RUN_TEST(exact_default);
	RUN_TEST(sampled_when_too_fine);
	RUN_TEST(libring_range);
	RUN_TEST(edges);
	printf("%d checks passed\n", check_count);
	return 0;
}
