/*
 * test_timings.c — the durations behind the agent's histograms
 * (src/runtime/timings.h): buckets, suspicions by outcome through a table
 * that grows and shrinks (5,000 suspects, half of them reaped while the
 * others are still open), join convergence only for members that started
 * after this node, and this node's own events ignored.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "runtime/timings.h"

static cl_swim_event ev(uint8_t type, uint8_t status, const char *name,
			uint64_t start_ms)
{
	cl_swim_event e;
	memset(&e, 0, sizeof e);
	e.type = type;
	e.status = status;
	e.start_ms = start_ms;
	e.name_len = (uint8_t)strlen(name);
	memcpy(e.name, name, e.name_len);
	return e;
}

static void buckets(void)
{
	static const double le[] = {0.1, 1, 10};
	cl_histogram h;
	cl_histogram_init(&h, le, 3);
	double xs[] = {0, 0.1, 0.100001, 1, 5, 10, 11, -3, NAN};
	for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
		cl_histogram_observe(&h, xs[i]);
	/* le is inclusive; negative and NaN count as 0. */
	CHECK_EQ_INT(h.bucket[0], 4); /* 0, 0.1, -3, NaN */
	CHECK_EQ_INT(h.bucket[1], 2); /* 0.100001, 1 */
	CHECK_EQ_INT(h.bucket[2], 2); /* 5, 10 */
	CHECK_EQ_INT(h.bucket[3], 1); /* 11: +Inf */
	CHECK_EQ_INT(h.count, 9);
	CHECK(fabs(h.sum - (0.1 + 0.100001 + 1 + 5 + 10 + 11)) < 1e-9);
}

static void suspicions(void)
{
	cl_timings *t = cl_timings_new("self", 1000);
	CHECK(t != NULL);
	enum { N = 5000 };
	char name[32];
	/* Suspect i at i ms. */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "m%d", i);
		cl_swim_event e = ev(CL_EV_UPDATE, CL_STATUS_SUSPECT, name, 0);
		cl_timings_event(t, &e, (int64_t)i * 1000, 0);
		/* A second accusation does not restart the clock. */
		cl_timings_event(t, &e, (int64_t)i * 1000 + 500, 0);
	}
	/* Odd ones left and were reaped: their entries go. */
	for (int i = 1; i < N; i += 2) {
		snprintf(name, sizeof name, "m%d", i);
		cl_swim_event e = ev(CL_EV_LEAVE, CL_STATUS_LEFT, name, 0);
		cl_timings_event(t, &e, 10000000, 0);
		e.type = CL_EV_REAP;
		cl_timings_event(t, &e, 10000001, 0);
	}
	/* Even ones: a quarter refuted after 2 s, the rest dead after 5 s. */
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof name, "m%d", i);
		bool refuted = i % 8 == 0;
		cl_swim_event e = refuted ? ev(CL_EV_UPDATE, CL_STATUS_ALIVE, name, 0)
					  : ev(CL_EV_FAIL, CL_STATUS_DEAD, name, 0);
		cl_timings_event(t, &e, (int64_t)i * 1000 + (refuted ? 2 : 5) * 1000000, 0);
		/* Ending it twice counts once. */
		cl_timings_event(t, &e, (int64_t)i * 1000 + 9000000, 0);
	}
	cl_timings_snapshot s;
	cl_timings_get(t, &s);
	const cl_histogram *ref = &s.suspicion[CL_SUSPICION_REFUTED];
	const cl_histogram *dead = &s.suspicion[CL_SUSPICION_DEAD];
	const cl_histogram *left = &s.suspicion[CL_SUSPICION_LEFT];
	CHECK_EQ_INT(ref->count, N / 8);
	CHECK_EQ_INT(dead->count, N / 2 - N / 8);
	CHECK_EQ_INT(left->count, N / 2);
	CHECK(fabs(ref->sum - 2.0 * ref->count) < 1e-6);
	CHECK(fabs(dead->sum - 5.0 * dead->count) < 1e-6);
	CHECK_EQ_INT(s.untracked, 0);
	cl_timings_free(t);
}

static void joins(void)
{
	cl_timings *t = cl_timings_new("self", 1000000);
	cl_swim_event before = ev(CL_EV_JOIN, CL_STATUS_ALIVE, "old", 999000);
	cl_swim_event after = ev(CL_EV_JOIN, CL_STATUS_ALIVE, "new", 1002000);
	cl_swim_event skewed = ev(CL_EV_JOIN, CL_STATUS_ALIVE, "ahead", 1009000);
	cl_swim_event self = ev(CL_EV_JOIN, CL_STATUS_ALIVE, "self", 1000000);
	cl_timings_event(t, &before, 0, 1003500);
	cl_timings_event(t, &after, 0, 1003500);
	cl_timings_event(t, &skewed, 0, 1003500); /* its clock is ahead */
	cl_timings_event(t, &self, 0, 1003500);
	cl_timings_snapshot s;
	cl_timings_get(t, &s);
	/* "old" started before us: not timed; "new": 1.5 s; "ahead": 0. */
	CHECK_EQ_INT(s.join.count, 2);
	CHECK(fabs(s.join.sum - 1.5) < 1e-9);
	/* Our own suspicion (a rumour about us) is not timed either. */
	cl_swim_event me = ev(CL_EV_UPDATE, CL_STATUS_SUSPECT, "self", 0);
	cl_timings_event(t, &me, 0, 0);
	me.type = CL_EV_FAIL;
	cl_timings_event(t, &me, 5000000, 0);
	cl_timings_get(t, &s);
	CHECK_EQ_INT(s.suspicion[CL_SUSPICION_DEAD].count, 0);
	CHECK(cl_timings_rtt(t, 12345) == -1);
	cl_timings_free(t);
}

int main(void)
{
	RUN_TEST(buckets);
	RUN_TEST(suspicions);
	RUN_TEST(joins);
	printf("%d checks passed\n", check_count);
	return 0;
}
