/*
 * test_sim_heal.c — a partition that outlasts the tombstones still heals
 * (issue 12, defect 6).
 *
 * Without a sentry to re-resolve, the only bridge between two halves that
 * hold each other dead is the core's dead retry: every dead_retry_interval
 * a node pings one member it holds dead and push-pulls with it if it
 * answers.  Healing used to stop at tombstone_timeout, when the dead were
 * reaped with the left.  Dead members are now kept for reconnect_timeout
 * (here 120 s, against 60 s of tombstone_timeout, so the test covers the
 * gap); and once a member is reaped, a stale ALIVE arriving later must not
 * resurrect a member that really died.
 */
#include <string.h>

#include "check.h"
#include "sim/sim.h"

#define NODES 10
#define HALF 5

static cl_sim *boot(uint64_t seed, cl_swim_timing *t)
{
	check_seed = seed;
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	cl_swim_timing_profile(t, CL_PROFILE_LAN);
	t->tombstone_timeout = 60 * CL_SEC;
	t->reconnect_timeout = 120 * CL_SEC;
	cfg.timing = t;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 30 * CL_SEC));
	return sim;
}

/* Anti-entropy and suspicion bounds: a retry that crosses (2 intervals, as
 * each node picks one dead member at random), the refutations it triggers
 * racing the longest suspicion, and two push-pull periods for stragglers. */
static cl_usec heal_bound(const cl_swim_timing *t)
{
	cl_usec min_susp = (cl_usec)t->suspicion_mult * t->probe_interval;
	return 2 * t->dead_retry_interval + min_susp * t->suspicion_max_mult +
	       2 * t->pushpull_interval + 10 * CL_SEC;
}

static void test_partition_longer_than_tombstones(void)
{
	cl_swim_timing t;
	cl_sim *sim = boot(61, &t);
	uint8_t group[NODES];
	for (uint32_t i = 0; i < NODES; i++)
		group[i] = i >= HALF;
	cl_sim_partition(sim, group);
	/* Past the tombstone timeout, within the reconnect window. */
	cl_sim_run_until(sim, cl_sim_now(sim) + t.tombstone_timeout +
				      t.reconnect_timeout / 3);
	cl_swim_member_view v;
	const char *far = cl_sim_node_name(sim, NODES - 1);
	CHECK(cl_swim_lookup(cl_sim_core(sim, 0), far, strlen(far), &v));
	CHECK_EQ_INT(v.status, CL_STATUS_DEAD);
	cl_sim_partition(sim, NULL);
	cl_usec healed = cl_sim_now(sim);
	bool ok = cl_sim_run_until_converged(sim, healed + heal_bound(&t));
	printf("healed after %.1f s (bound %.1f s)\n",
	       (double)(cl_sim_now(sim) - healed) / 1e6,
	       (double)heal_bound(&t) / 1e6);
	CHECK(ok);
	cl_sim_free(sim);
}

/* A node that really died stays dead after it is reaped, even when a node
 * paused across the reap comes back holding it alive and push-pulls that
 * stale view; and the paused node itself, reaped meanwhile, gets back in
 * (it learns it was dropped from the ack to its first ping, and refutes). */
static void test_no_resurrection_after_reap(void)
{
	cl_swim_timing t;
	cl_sim *sim = boot(62, &t);
	cl_sim_pause(sim, 9);
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
	cl_sim_crash(sim, 5);
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * t.reconnect_timeout);
	const char *dead = cl_sim_node_name(sim, 5);
	const char *sleeper = cl_sim_node_name(sim, 9);
	cl_swim_member_view v;
	CHECK(!cl_swim_lookup(cl_sim_core(sim, 0), dead, strlen(dead), &v));
	CHECK(!cl_swim_lookup(cl_sim_core(sim, 0), sleeper, strlen(sleeper),
			      &v));
	/* The sleeper still holds the dead node alive. */
	CHECK(cl_swim_lookup(cl_sim_core(sim, 9), dead, strlen(dead), &v));
	CHECK_EQ_INT(v.status, CL_STATUS_ALIVE);
	cl_sim_metrics before;
	cl_sim_get_metrics(sim, &before);
	cl_sim_resume(sim, 9);
	cl_usec resumed = cl_sim_now(sim);
	bool ok = cl_sim_run_until_converged(sim, resumed + heal_bound(&t));
	printf("sleeper back in %.1f s\n",
	       (double)(cl_sim_now(sim) - resumed) / 1e6);
	CHECK(ok);
	/* The sleeper's stale picture of node 5 is a suspicion at most (the
	 * verdicts it finds queued on waking count as confirmations only),
	 * which its own timer finishes. */
	cl_sim_run_until(sim, cl_sim_now(sim) + heal_bound(&t));
	/* Node 5 absent or dead everywhere, and nobody but the sleeper (the
	 * eight others see it join, it sees them unchanged) announced a
	 * join. */
	for (uint32_t i = 0; i < NODES; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (!c)
			continue;
		bool known = cl_swim_lookup(c, dead, strlen(dead), &v);
		CHECK(!known || v.status == CL_STATUS_DEAD ||
		      v.status == CL_STATUS_LEFT);
	}
	cl_sim_metrics after;
	cl_sim_get_metrics(sim, &after);
	printf("joins after the resume: %llu\n",
	       (unsigned long long)(after.ev_join - before.ev_join));
	CHECK(after.ev_join - before.ev_join <= NODES - 2);
	CHECK(cl_sim_converged(sim));
	cl_sim_free(sim);
}

/* Two nodes that crashed and came back at new addresses, each joining
 * through the other only, are an island nothing in the protocol finds
 * (the others retry their old addresses).  The checker's model of an
 * agent's discovery (cl_sim_rediscover) joins across for a node on either
 * side of such a split, the island of two included (seed 1593928; it used
 * to act only for a node that knew nobody), and for nobody whose island
 * already holds every running node, even a node that has not learned of
 * all of them yet: that is the protocol's to finish. */
/* Nodes 8 and 9 crash and come back at new addresses, each joining
 * through the other. */
static cl_sim *split(cl_swim_timing *t)
{
	cl_sim *sim = boot(63, t);
	cl_sim_crash(sim, 8);
	cl_sim_crash(sim, 9);
	cl_sim_run_until(sim, cl_sim_now(sim) + 30 * CL_SEC);
	const uint32_t via8 = 8, via9 = 9;
	CHECK_EQ_INT(cl_sim_restart(sim, 9, true, &via8, 1), 0);
	CHECK_EQ_INT(cl_sim_restart(sim, 8, true, &via9, 1), 0);
	cl_sim_run_until(sim, cl_sim_now(sim) + 10 * CL_SEC);
	CHECK(cl_sim_holds_live(sim, 8, 9) && cl_sim_holds_live(sim, 9, 8));
	for (uint32_t i = 0; i < 8; i++)
		CHECK(!cl_sim_holds_live(sim, i, 9) && !cl_sim_holds_live(sim, 9, i) &&
		      !cl_sim_holds_live(sim, i, 8) && !cl_sim_holds_live(sim, 8, i));
	return sim;
}

static void test_discovery_joins_islands_only(void)
{
	cl_swim_timing t;
	/* From the island of two: node 9 knows a member, and the old rule
	 * left it alone. */
	cl_sim *sim = split(&t);
	CHECK(cl_sim_rediscover(sim, 9));
	CHECK(cl_sim_run_until_converged(sim, cl_sim_now(sim) + 30 * CL_SEC));
	for (uint32_t i = 0; i < NODES; i++)
		CHECK(!cl_sim_rediscover(sim, i));
	cl_sim_free(sim);
	/* From the other side: once node 0's exchanges with 8 and 9 are
	 * done, node 0 links the two sides, and a node that has yet to hear
	 * of them is left to the protocol. */
	sim = split(&t);
	CHECK(cl_sim_rediscover(sim, 0));
	bool linked = false;
	for (int step = 0; step < 2000 && !linked; step++) {
		cl_sim_run_until(sim, cl_sim_now(sim) + CL_MSEC);
		linked = cl_sim_holds_live(sim, 0, 8) && cl_sim_holds_live(sim, 0, 9);
	}
	CHECK(linked);
	int behind = -1;
	for (uint32_t i = 1; i < 8 && behind < 0; i++)
		if (!cl_sim_holds_live(sim, i, 8) && !cl_sim_holds_live(sim, i, 9))
			behind = (int)i;
	CHECK(behind >= 0);
	if (behind >= 0)
		CHECK(!cl_sim_rediscover(sim, (uint32_t)behind));
	CHECK(cl_sim_run_until_converged(sim, cl_sim_now(sim) + 30 * CL_SEC));
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_partition_longer_than_tombstones);
	RUN_TEST(test_no_resurrection_after_reap);
	RUN_TEST(test_discovery_joins_islands_only);
	return 0;
}
