/*
 * test_sim_health.c — Lifeguard's local health must blame the prober only
 * when the prober is the slow one.
 *
 * A member that really died makes every node that probes it go through
 * the indirect round.  Its relays cannot reach it either and say so with
 * a nack; a nack that arrives in time tells the prober its own network is
 * fine.  So a healthy cluster probing a dead member must keep its health
 * at (almost) zero: at most one step, from a single unlucky probe.  If
 * the nacks came after the prober's indirect deadline, each prober would
 * count every relay as silent and slow itself down for seconds, exactly
 * what nacks exist to prevent (issue 12, defect 3).
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 100

static unsigned max_health(cl_sim *sim)
{
	unsigned worst = 0;
	for (uint32_t i = 0; i < NODES; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (c && cl_swim_health(c) > worst)
			worst = cl_swim_health(c);
	}
	return worst;
}

static void run_profile(enum cl_profile profile, uint64_t seed)
{
	check_seed = seed;
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	cfg.profile = profile;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	/* Let the join's own turbulence settle before measuring. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 30 * CL_SEC);
	unsigned before = max_health(sim);
	uint32_t victim;
	CHECK_EQ_INT(cl_sim_kill_random(sim, 1, &victim), 1);
	cl_usec kill_at = cl_sim_now(sim);
	unsigned worst = 0;
	/* Sample every 50 ms until everyone saw it dead, and 10 s beyond. */
	cl_usec end = kill_at + 120 * CL_SEC;
	for (cl_usec t = kill_at; t < end; t += 50 * CL_MSEC) {
		cl_sim_run_until(sim, t);
		unsigned h = max_health(sim);
		if (h > worst)
			worst = h;
		cl_usec d = cl_sim_detect_time(sim, victim);
		if (d >= 0 && t > d + 10 * CL_SEC)
			break;
	}
	cl_usec d = cl_sim_detect_time(sim, victim);
	printf("profile %d: health before %u, worst after the kill %u, "
	       "detected in %.1f s\n", (int)profile, before, worst,
	       d < 0 ? -1.0 : (double)(d - kill_at) / 1e6);
	CHECK(d >= 0);
	CHECK(worst <= 1);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	CHECK_EQ_INT(m.false_positives, 0);
	cl_sim_free(sim);
}

static void test_lan_kill_one_of_100(void)
{
	run_profile(CL_PROFILE_LAN, 31);
}

static void test_wan_kill_one_of_100(void)
{
	run_profile(CL_PROFILE_WAN, 32);
}

int main(void)
{
	RUN_TEST(test_lan_kill_one_of_100);
	RUN_TEST(test_wan_kill_one_of_100);
	return 0;
}
