/*
 * test_sim_loss.c — no false verdicts under packet loss (must-show c) or
 * about healthy nodes when one node is slow (must-show d).
 *
 * A false positive is a FAIL event, at some node, about a node that was
 * running at that moment (sim.h counts distinct observer/node pairs).
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 100

static double sec(cl_usec t)
{
	return (double)t / 1e6;
}

static cl_sim *make_with(uint64_t seed, double loss, bool stream_ping)
{
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	cfg.loss = loss;
	cfg.no_stream_ping = !stream_ping;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	return sim;
}

static cl_sim *make(uint64_t seed, double loss)
{
	return make_with(seed, loss, true);
}

/* ------------------------------------------------------------------ */
/* c. Uniform loss, ten simulated minutes                              */
/* ------------------------------------------------------------------ */

static void test_loss_10_percent(void)
{
	check_seed = 101;
	cl_sim *sim = make(check_seed, 0.10);
	cl_sim_run_until(sim, 600 * CL_SEC);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	printf("  10%% loss, %d nodes, 600 s: %llu false positives, "
	       "converged at %.3f s, %llu datagrams lost, converged now: %s\n",
	       NODES, (unsigned long long)m.false_positives,
	       sec(m.converged_at), (unsigned long long)m.drop_loss,
	       cl_sim_converged(sim) ? "yes" : "no");
	CHECK(m.drop_loss > 0);
	CHECK_EQ_INT(m.false_positives, 0);
	CHECK(m.converged_at >= 0);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

/*
 * At 20% loss a datagram round trip (ping, ack) survives with probability
 * 0.64 and an indirect one (four legs) 0.41: suspicions are frequent.
 * Each is refuted before it times out: the stream fallback ping (TCP in
 * the runtime; here a stream that pays a 200 ms retransmission timeout per
 * lost attempt) answers many probes the datagrams lost, and a node that
 * starts a suspicion on another's word pings the suspect at once with it
 * (the buddy system), so the refutation starts from every node that can
 * reach it.  No verdict is taken on hearsay: only a node's own timer
 * declares a death.  Both with and without the fallback: no false death.
 */
static void test_loss_20_percent(void)
{
	check_seed = 102;
	for (int with = 0; with < 2; with++) {
		cl_sim *sim = make_with(check_seed, 0.20, with);
		cl_sim_run_until(sim, 600 * CL_SEC);
		cl_sim_metrics m;
		cl_sim_get_metrics(sim, &m);
		printf("  20%% loss, %d nodes, 600 s, %s stream ping: %llu "
		       "false positives\n", NODES, with ? "with" : "without",
		       (unsigned long long)m.false_positives);
		CHECK_EQ_INT(m.false_positives, 0);
		CHECK_EQ_INT(cl_sim_error(sim), 0);
		cl_sim_free(sim);
	}
}

/*
 * At 30% loss a direct round trip survives with probability 0.49 and an
 * indirect one 0.24, and a stream attempt fails half the time.  Before
 * verdicts were kept local and suspects told at once (issue 12), seed 103
 * gave 269 false-positive (observer, node) pairs in ten minutes with the
 * stream fallback and 604 without, and the cluster never converged; now
 * none with it.  Without it the control still shows what it earns.
 */
static void test_loss_30_percent(void)
{
	check_seed = 103;
	uint64_t fp[2];
	for (int with = 0; with < 2; with++) {
		cl_sim *sim = make_with(check_seed, 0.30, with);
		cl_sim_run_until(sim, 600 * CL_SEC);
		cl_sim_metrics m;
		cl_sim_get_metrics(sim, &m);
		fp[with] = m.false_positives;
		printf("  30%% loss, %d nodes, 600 s, %s stream ping: %llu "
		       "false positives, %llu datagrams lost, converged at "
		       "%.1f s\n", NODES, with ? "with" : "without",
		       (unsigned long long)m.false_positives,
		       (unsigned long long)m.drop_loss,
		       m.converged_at < 0 ? -1.0 : sec(m.converged_at));
		CHECK_EQ_INT(cl_sim_error(sim), 0);
		cl_sim_free(sim);
	}
	CHECK_EQ_INT(fp[1], 0);
}

/* ------------------------------------------------------------------ */
/* d. One slow node                                                    */
/* ------------------------------------------------------------------ */

/*
 * Node SLOW handles everything addressed to it twice the probe timeout
 * late: every probe of it misses its deadline, and every ack to its own
 * probes arrives after its own deadline, so it sees the whole cluster as
 * failing.  Lifeguard's local health (missing nacks raise it) must stretch
 * its timeouts instead of letting its suspicions kill healthy nodes.
 * Verdicts about the slow node itself are allowed; about anyone else, not.
 */
#define SLOW 42

static void test_slow_node(void)
{
	check_seed = 104;
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	cl_sim *sim = make(check_seed, 0);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_usec start = cl_sim_now(sim);
	cl_sim_set_slow(sim, SLOW, 2 * t.probe_timeout);
	cl_sim_run_until(sim, start + 300 * CL_SEC);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	uint32_t about_slow = cl_sim_false_positives_about(sim, SLOW);
	cl_swim_stats st = *cl_swim_get_stats(cl_sim_core(sim, SLOW));
	printf("  slow node %s (+%.0f ms) for 300 s: %llu false positives, "
	       "%u of them about the slow node; its health now %u, "
	       "%llu suspicions raised by it\n",
	       cl_sim_node_name(sim, SLOW), sec(2 * t.probe_timeout) * 1e3,
	       (unsigned long long)m.false_positives, about_slow,
	       cl_swim_health(cl_sim_core(sim, SLOW)),
	       (unsigned long long)st.suspicions);
	CHECK_EQ_INT(m.false_positives - about_slow, 0);
	/* The fast nodes never doubted each other for long: after the
	 * slow node's suspicions are refuted, all agree on all 100. */
	cl_sim_set_slow(sim, SLOW, 0);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_loss_10_percent);
	RUN_TEST(test_loss_20_percent);
	RUN_TEST(test_loss_30_percent);
	RUN_TEST(test_slow_node);
	return 0;
}
