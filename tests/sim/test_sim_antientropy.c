/*
 * test_sim_antientropy.c — periodic push-pull when the views agree.
 *
 * Every ping carries the sender's membership checksum, and a mismatch
 * triggers a sync of its own; so while every ping a node hears agrees
 * with it, the periodic full-state exchange repeats what both sides hold.
 * The core then skips up to three periodic rounds in a row.  Shown here:
 *   a. in a quiet cluster most periodic rounds are skipped, some still
 *      happen (the backstop), and the cluster stays converged;
 *   b. a node that missed an update (it heard nothing for a while, so a
 *      leave reached everyone else but not it) is repaired at once by the
 *      checksum mismatch its next pings reveal, skips or not.
 */
#include "check.h"
#include <string.h>

#include "sim/sim.h"

#define NODES 64

static double sec(cl_usec t)
{
	return (double)t / 1e6;
}

static cl_sim *make(uint64_t seed)
{
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	return sim;
}

struct sums {
	uint64_t pushpulls, skipped, syncs;
};

static struct sums sum_stats(cl_sim *sim)
{
	struct sums s = {0};
	for (uint32_t i = 0; i < NODES; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (!c)
			continue;
		const cl_swim_stats *st = cl_swim_get_stats(c);
		s.pushpulls += st->pushpulls;
		s.skipped += st->pushpulls_skipped;
		s.syncs += st->checksum_syncs;
	}
	return s;
}

static void test_quiet_cluster_skips(void)
{
	check_seed = 201;
	cl_sim *sim = make(check_seed);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_sim_run_until(sim, 120 * CL_SEC);
	struct sums a = sum_stats(sim);
	cl_sim_run_until(sim, 1320 * CL_SEC); /* 20 quiet minutes */
	struct sums b = sum_stats(sim);
	uint64_t skipped = b.skipped - a.skipped;
	/* pushpulls counts full states sent: a request and its reply. */
	uint64_t full = (b.pushpulls - a.pushpulls) / 2;
	printf("  %d nodes, 20 quiet minutes: %llu periodic rounds skipped, "
	       "%llu full exchanges, %llu checksum syncs\n", NODES,
	       (unsigned long long)skipped, (unsigned long long)full,
	       (unsigned long long)(b.syncs - a.syncs));
	/* 30 s periods (N <= 64 is not scaled past 2x): ~20-40 rounds per
	 * node, three of four skipped while nothing changes. */
	CHECK(skipped > 0);
	CHECK(full > 0);
	CHECK(skipped >= 2 * full);
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

static void test_missed_update_repaired(void)
{
	check_seed = 202;
	cl_sim *sim = make(check_seed);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	/* Let the skips start: views have agreed for several periods. */
	cl_sim_run_until(sim, 300 * CL_SEC);
	const uint32_t deaf = 7, leaver = 9;
	/* Node 7 hears nobody (one-way blocks into it) while node 9 leaves
	 * and the leave finishes spreading. */
	for (uint32_t i = 0; i < NODES; i++)
		if (i != deaf)
			cl_sim_block(sim, i, deaf, true);
	cl_sim_leave(sim, leaver);
	cl_sim_run_until(sim, 303 * CL_SEC);
	for (uint32_t i = 0; i < NODES; i++)
		if (i != deaf)
			cl_sim_block(sim, i, deaf, false);
	cl_usec healed = 303 * CL_SEC;
	cl_swim *c = cl_sim_core(sim, deaf);
	uint64_t syncs_before = cl_swim_get_stats(c)->checksum_syncs;
	uint64_t pushpulls_before = cl_swim_get_stats(c)->pushpulls;
	uint64_t digests_before = cl_swim_get_stats(c)->digests;
	uint64_t deltas_before = cl_swim_get_stats(c)->delta_syncs;
	cl_swim_member_view v;
	const char *name = cl_sim_node_name(sim, leaver);
	bool stale = cl_swim_lookup(c, name, strlen(name), &v) &&
		     v.status == CL_STATUS_ALIVE;
	/* Not a given (the deaf node may have suspected the silent others),
	 * but with 3 s of deafness the leave cannot have reached it. */
	CHECK(stale);
	cl_usec fixed = -1;
	for (cl_usec t = healed; t <= healed + 30 * CL_SEC; t += 100 * CL_MSEC) {
		cl_sim_run_until(sim, t);
		if (cl_swim_lookup(c, name, strlen(name), &v) &&
		    v.status == CL_STATUS_LEFT) {
			fixed = t - healed;
			break;
		}
	}
	printf("  node %u missed node %u's leave; learned it %.1f s after "
	       "hearing again\n", deaf, leaver, sec(fixed));
	CHECK(fixed >= 0);
	/* A sync needs a ping from a peer (about one per probe period) and
	 * its push-pull; far below the periodic cadence (30-120 s). */
	CHECK(fixed <= 10 * CL_SEC);
	/* ...and by a full state, not gossip (the leave's gossip had run
	 * out): a checksum sync, or the periodic push-pull that three silent
	 * seconds no longer count as agreement for (issue 12, defect 9). */
	CHECK(cl_swim_get_stats(c)->checksum_syncs > syncs_before ||
	      cl_swim_get_stats(c)->pushpulls > pushpulls_before ||
	      cl_swim_get_stats(c)->digests > digests_before ||
	      cl_swim_get_stats(c)->delta_syncs > deltas_before);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_quiet_cluster_skips);
	RUN_TEST(test_missed_update_repaired);
	return 0;
}
