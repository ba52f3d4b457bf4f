/*
 * test_sim_scale.c — 1,000 nodes: joining through one seed (must-show a)
 * and detecting a crash (must-show b).
 *
 * The bounds below are computed from the LAN timing profile, not picked by
 * hand; each comment says which protocol mechanism the term stands for.
 */
#include <math.h>

#include "check.h"
#include "sim/sim.h"

#define NODES 1000

static cl_swim_timing timing(void)
{
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	return t;
}

static double sec(cl_usec t)
{
	return (double)t / 1e6;
}

/* lambda * ceil(log10(n + 1)): how many times each node retransmits an
 * update.  An epidemic with fan-out f reaches n nodes in about
 * log_{f+1}(n) + ln(n)/f rounds; for n = 1000, f = 3 that is ~7 rounds,
 * well inside one retransmit budget.  Twice the budget, in gossip rounds,
 * is the dissemination allowance used below. */
static cl_usec dissemination(const cl_swim_timing *t, unsigned n)
{
	unsigned digits = 0;
	for (unsigned v = n; v > 0; v /= 10)
		digits++;
	return 2 * (cl_usec)(t->retransmit_mult * digits) * t->gossip_interval;
}

/* ------------------------------------------------------------------ */
/* a. Joining                                                          */
/* ------------------------------------------------------------------ */

/*
 * Every node boots within the join spread (1 ms per node: 1 s) and
 * push-pulls with the seed, so it learns the seed's whole view at once and
 * the seed learns it.  The seed then gossips each newcomer's ALIVE; that
 * reaches everyone in the dissemination allowance.  A node that still
 * misses someone is repaired by a checksum-triggered push-pull (at most
 * one per sync_min_interval), or failing that by the periodic push-pull
 * (pushpull_interval, before size scaling).  Bound: spread + dissemination
 * + sync_min_interval + pushpull_interval.
 */
static cl_usec join_bound(const cl_swim_timing *t, cl_usec spread)
{
	return spread + dissemination(t, NODES) + t->sync_min_interval +
	       t->pushpull_interval;
}

/*
 * b. Crash detection.  After a crash, three things must happen:
 *
 *  1. Some node probes the victim.  Each of the N-1 survivors probes one
 *     member per probe interval, walking a shuffled list, so in any
 *     interval a given member is probed by each survivor with probability
 *     ~1/(N-1): the chance that nobody probes it for P intervals is
 *     ~(1 - 1/(N-1))^((N-1)P) ~= e^-P.  P = 21 makes that < 1e-9.  The probe
 *     itself then takes one more interval (direct timeout, then the
 *     indirect round until the end of the period).
 *  2. The suspicion times out.  Lifeguard starts the timer at its maximum,
 *     suspicion_max_mult * suspicion_mult * log10(N) * probe_interval, and
 *     only shortens it with confirmations; the maximum is the bound.
 *  3. The verdict (or the suspicion, which every node times out itself)
 *     spreads: the dissemination allowance.
 *
 * Bound: (21 + 1) * probe_interval + max suspicion + dissemination.  For
 * the LAN profile and N = 1000: 22 s + 72 s + 6.4 s.
 */
static cl_usec detect_bound(const cl_swim_timing *t, unsigned n)
{
	cl_usec susp_max = (cl_usec)((double)t->suspicion_max_mult *
				     t->suspicion_mult * log10((double)n) *
				     (double)t->probe_interval);
	return 22 * t->probe_interval + susp_max + dissemination(t, n);
}

static bool detected_all(void *arg, cl_sim *sim)
{
	return cl_sim_detect_time(sim, *(const uint32_t *)arg) >= 0;
}

static void test_join_and_detect_1000(void)
{
	check_seed = 1000;
	cl_swim_timing t = timing();
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = check_seed;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);

	cl_usec jb = join_bound(&t, NODES * CL_MSEC);
	bool converged = cl_sim_run_until_converged(sim, jb);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	printf("  a. %d nodes converged at %.3f s (bound %.1f s), "
	       "%llu packets so far\n",
	       NODES, sec(m.converged_at), sec(jb),
	       (unsigned long long)m.packets);
	CHECK(converged);
	CHECK(m.converged_at >= 0 && m.converged_at <= jb);
	/* Every node, one by one: all 1000 alive, nothing suspect. */
	for (uint32_t i = 0; i < NODES; i++) {
		CHECK_EQ_INT(cl_swim_count(cl_sim_core(sim, i), CL_STATUS_ALIVE),
			     NODES);
		CHECK_EQ_INT(cl_swim_count(cl_sim_core(sim, i),
					   CL_STATUS_SUSPECT),
			     0);
	}

	/* b. Kill one (not the seed) a few seconds later. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);
	uint32_t victim;
	CHECK_EQ_INT(cl_sim_kill_random(sim, 1, &victim), 1);
	cl_usec killed_at = cl_sim_now(sim);
	cl_usec db = detect_bound(&t, NODES);
	cl_sim_run_until_cond(sim, killed_at + db, detected_all, &victim);
	cl_usec detected = cl_sim_detect_time(sim, victim);
	cl_sim_get_metrics(sim, &m);
	printf("  b. killed %s at %.3f s; every survivor saw it dead after "
	       "%.3f s (bound %.1f s); %llu false positives\n",
	       cl_sim_node_name(sim, victim), sec(killed_at),
	       detected >= 0 ? sec(detected - killed_at) : -1.0, sec(db),
	       (unsigned long long)m.false_positives);
	CHECK(detected >= 0);
	CHECK(detected - killed_at <= db);
	CHECK_EQ_INT(m.detect_pending, 0);
	CHECK_EQ_INT(m.false_positives, 0);
	/* And the survivors agree on the rest: 999 alive everywhere. */
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_join_and_detect_1000);
	return 0;
}
