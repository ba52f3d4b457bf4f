/*
 * test_replay.c — what a node accepts of a sealed header (replay.h):
 * recipient, time against the clock, per-sender windows (seen, too old,
 * reordering within the window, datagrams and streams apart, big jumps),
 * and the bounded sender table (eviction keeps every other sender's
 * window findable).
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "runtime/replay.h"

#define ME 0x1111111111111111ull
#define NOW 1764000000000000ull /* a wall clock, microseconds */

static cl_seal_info hdr(uint64_t sender, uint64_t time_us, uint64_t to,
			uint8_t kind)
{
	return (cl_seal_info){.kind = kind,
			      .sender = sender,
			      .time_us = time_us,
			      .recipient = to};
}

/* Check, then commit what passed: the runtime's order. */
static enum cl_replay_verdict take(cl_replay *r, cl_seal_info h)
{
	enum cl_replay_verdict v = cl_replay_check(r, &h, ME, NOW);
	if (v == CL_REPLAY_OK)
		cl_replay_commit(r, &h, NOW);
	return v;
}

static void test_recipient(void)
{
	cl_replay *r = cl_replay_new(0);
	CHECK(r != NULL);
	CHECK_EQ_INT(take(r, hdr(7, NOW, ME, CL_SEAL_DATAGRAM)), CL_REPLAY_OK);
	/* 0: the sender did not know whom (a join to a seed address). */
	CHECK_EQ_INT(take(r, hdr(7, NOW + 1, 0, CL_SEAL_DATAGRAM)),
		     CL_REPLAY_OK);
	CHECK_EQ_INT(take(r, hdr(7, NOW + 2, ME + 1, CL_SEAL_DATAGRAM)),
		     CL_REPLAY_RECIPIENT);
	CHECK_EQ_INT(take(r, hdr(7, NOW + 3, ~ME, CL_SEAL_STREAM)),
		     CL_REPLAY_RECIPIENT);
	/* Refused packets moved nothing: that time is still fresh. */
	CHECK_EQ_INT(take(r, hdr(7, NOW + 2, ME, CL_SEAL_DATAGRAM)),
		     CL_REPLAY_OK);
	cl_replay_free(r);
}

static void test_stale(void)
{
	cl_replay *r = cl_replay_new(0);
	/* Exactly the skew either way is fine; a microsecond more is not. */
	CHECK_EQ_INT(take(r, hdr(1, NOW - CL_REPLAY_SKEW_US, ME, 0)),
		     CL_REPLAY_OK);
	CHECK_EQ_INT(take(r, hdr(2, NOW + CL_REPLAY_SKEW_US, ME, 0)),
		     CL_REPLAY_OK);
	CHECK_EQ_INT(take(r, hdr(3, NOW - CL_REPLAY_SKEW_US - 1, ME, 0)),
		     CL_REPLAY_STALE);
	CHECK_EQ_INT(take(r, hdr(3, NOW + CL_REPLAY_SKEW_US + 1, ME, 0)),
		     CL_REPLAY_STALE);
	CHECK_EQ_INT(take(r, hdr(3, 0, ME, 0)), CL_REPLAY_STALE);
	CHECK_EQ_INT(take(r, hdr(3, UINT64_MAX, ME, 0)), CL_REPLAY_STALE);
	/* Stale packets create no sender. */
	CHECK_EQ_INT(cl_replay_senders(r), 2);
	cl_replay_free(r);
}

static void test_window(void)
{
	cl_replay *r = cl_replay_new(0);
	uint64_t t0 = NOW - 1000000;
	CHECK_EQ_INT(take(r, hdr(9, t0, ME, 0)), CL_REPLAY_OK);
	/* The same time again: a replay, however often. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(take(r, hdr(9, t0, ME, 0)), CL_REPLAY_SEEN);
	/* Addressed to 0 instead: same sender, same time, still seen. */
	CHECK_EQ_INT(take(r, hdr(9, t0, 0, 0)), CL_REPLAY_SEEN);
	/* Another sender's same time is its own. */
	CHECK_EQ_INT(take(r, hdr(10, t0, ME, 0)), CL_REPLAY_OK);
	/* The other kind has a window of its own. */
	CHECK_EQ_INT(take(r, hdr(9, t0, ME, CL_SEAL_STREAM)), CL_REPLAY_OK);
	CHECK_EQ_INT(take(r, hdr(9, t0, ME, CL_SEAL_STREAM)), CL_REPLAY_SEEN);

	/* Reordering within the window: later times first, then the earlier
	 * ones, all taken once. */
	uint64_t base = t0 + 1000;
	for (int i = CL_REPLAY_WINDOW - 2; i >= 0; i--)
		CHECK_EQ_INT(take(r, hdr(9, base + 10 * (uint64_t)i, ME, 0)),
			     CL_REPLAY_OK);
	for (int i = 0; i < CL_REPLAY_WINDOW - 1; i++)
		CHECK_EQ_INT(take(r, hdr(9, base + 10 * (uint64_t)i, ME, 0)),
			     CL_REPLAY_SEEN);
	/* The window is full (t0 and 31 more): the next pushes t0 out and
	 * t0 becomes the floor, refused as too old ... */
	CHECK_EQ_INT(take(r, hdr(9, base + 5000, ME, 0)), CL_REPLAY_OK);
	CHECK_EQ_INT(take(r, hdr(9, t0, ME, 0)), CL_REPLAY_TOO_OLD);
	/* ... with anything older, even never seen. */
	CHECK_EQ_INT(take(r, hdr(9, t0 - 1, ME, 0)), CL_REPLAY_TOO_OLD);
	/* A time between the floor and the window's lowest, never seen,
	 * is taken (one packet reordered by less than the window). */
	CHECK_EQ_INT(take(r, hdr(9, t0 + 1, ME, 0)), CL_REPLAY_OK);
	CHECK(take(r, hdr(9, t0 + 1, ME, 0)) != CL_REPLAY_OK);

	/* A long steady stream: every packet once, every replay refused,
	 * whether still in the window or pushed below it. */
	uint64_t t = base + 10000;
	for (int i = 0; i < 1000; i++, t += 7)
		CHECK_EQ_INT(take(r, hdr(9, t, ME, 0)), CL_REPLAY_OK);
	for (uint64_t u = base + 10000; u < t; u += 7)
		CHECK(take(r, hdr(9, u, ME, 0)) != CL_REPLAY_OK);
	cl_replay_free(r);
}

/* A jump of more than 2^32 us (71 minutes) restarts the offsets: what
 * came before is refused as too old, not forgotten. */
static void test_jump(void)
{
	cl_replay *r = cl_replay_new(0);
	uint64_t early = NOW - CL_REPLAY_SKEW_US;
	CHECK_EQ_INT(take(r, hdr(4, early, ME, 0)), CL_REPLAY_OK);
	/* Committed directly: a time the skew check would not let through,
	 * as a node whose clock jumped would commit. */
	cl_seal_info far = hdr(4, early + (5ull << 32), ME, 0);
	CHECK_EQ_INT(cl_replay_check(r, &far, ME, far.time_us), CL_REPLAY_OK);
	cl_replay_commit(r, &far, far.time_us);
	CHECK_EQ_INT(cl_replay_check(r, &far, ME, far.time_us), CL_REPLAY_SEEN);
	cl_seal_info back = hdr(4, early, ME, 0);
	CHECK_EQ_INT(cl_replay_check(r, &back, ME, early), CL_REPLAY_TOO_OLD);
	cl_replay_free(r);
}

/* A bounded table: past max senders the least recently heard go, and
 * every sender still held keeps refusing its replays (the index stays
 * consistent through evictions). */
static void test_bounded(void)
{
	enum { MAX = 50, SENDERS = 400 };
	cl_replay *r = cl_replay_new(MAX);
	uint64_t now = NOW;
	for (uint64_t s = 1; s <= SENDERS; s++) {
		/* Ids with shared low bits collide in the index. */
		uint64_t id = s * 0x100000000ull + (s % 3);
		cl_seal_info h = hdr(id, now, ME, 0);
		CHECK_EQ_INT(cl_replay_check(r, &h, ME, now), CL_REPLAY_OK);
		cl_replay_commit(r, &h, now);
		CHECK(cl_replay_senders(r) <= MAX);
		now += 1000000; /* a second apart: heard_s orders them */
	}
	CHECK_EQ_INT(cl_replay_senders(r), MAX);
	/* The most recent ones are all still there. */
	size_t held = 0;
	for (uint64_t s = 1; s <= SENDERS; s++) {
		uint64_t id = s * 0x100000000ull + (s % 3);
		cl_seal_info h = hdr(id, NOW + (s - 1) * 1000000, ME, 0);
		held += cl_replay_check(r, &h, ME, h.time_us) == CL_REPLAY_SEEN;
	}
	CHECK_EQ_INT(held, MAX);
	for (uint64_t s = SENDERS - 10; s <= SENDERS; s++) {
		uint64_t id = s * 0x100000000ull + (s % 3);
		cl_seal_info h = hdr(id, NOW + (s - 1) * 1000000, ME, 0);
		CHECK_EQ_INT(cl_replay_check(r, &h, ME, h.time_us),
			     CL_REPLAY_SEEN);
	}
	cl_replay_free(r);
	cl_replay_free(NULL);
}

int main(void)
{
	RUN_TEST(test_recipient);
	RUN_TEST(test_stale);
	RUN_TEST(test_window);
	RUN_TEST(test_jump);
	RUN_TEST(test_bounded);
	printf("test_replay: %d checks passed\n", check_count);
	return 0;
}
