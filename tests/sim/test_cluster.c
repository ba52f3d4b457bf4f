/*
 * test_cluster.c — Cloister's semantics in simulation: the status machine
 * under consensus and majority, the listener's sequence, rings and sentry
 * agreement across a converged cluster.
 *
 * Each simulated node gets a cl_cluster fed from the sim's observer: every
 * member event is applied and the cluster settled, and every listener event
 * is recorded per node so whole sequences can be asserted.
 */
#include "check.h"

#include "core/cluster.h"
#include "sim/sim.h"

#define MAX_NODES 256
#define MAX_LOG 4096

struct log_entry {
	cl_usec at;
	cloister_state from, to;
	size_t live; /* live members when the transition happened */
};

struct node_view {
	cl_swim *core; /* the core this cluster watches */
	cl_cluster *cluster;
	struct log_entry log[MAX_LOG];
	size_t n_log;
	unsigned sentry_changes;
};

struct world {
	cl_sim *sim;
	cl_cluster_config ccfg;
	struct node_view nodes[MAX_NODES];
	unsigned bad_edges; /* transitions the machine does not allow */
	unsigned ready_without_quorum;
};

static bool edge_allowed(cloister_state from, cloister_state to)
{
	if (to == CLOISTER_STOPPING)
		return from != CLOISTER_STOPPED;
	switch (from) {
	case CLOISTER_DOWN:
		return to == CLOISTER_ASSEMBLING;
	case CLOISTER_ASSEMBLING:
		return to == CLOISTER_REHASHING;
	case CLOISTER_REHASHING:
		return to == CLOISTER_READY;
	case CLOISTER_READY:
		return to == CLOISTER_REHASHING;
	case CLOISTER_STOPPING:
		return to == CLOISTER_STOPPED;
	default:
		return false;
	}
}

static void drain(struct world *w, uint32_t node, cl_usec now)
{
	struct node_view *v = &w->nodes[node];
	cl_cluster_event ev;
	while (cl_cluster_next_event(v->cluster, &ev)) {
		if (ev.type == CL_CEV_SENTRY)
			v->sentry_changes++;
		if (ev.type != CL_CEV_STATE)
			continue;
		if (!edge_allowed(ev.from, ev.to))
			w->bad_edges++;
		size_t live = cl_cluster_live(v->cluster);
		if (ev.to == CLOISTER_READY && !cl_cluster_quorum(v->cluster))
			w->ready_without_quorum++;
		if (v->n_log < MAX_LOG)
			v->log[v->n_log++] = (struct log_entry){now, ev.from,
								ev.to, live};
	}
}

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	struct world *w = arg;
	struct node_view *v = &w->nodes[node];
	cl_swim *core = cl_sim_core(sim, node);
	if (!core)
		return;
	if (v->core != core) {
		/* A new process (first start or restart): a fresh cluster,
		 * as a restarted program would have. */
		cl_cluster_free(v->cluster);
		int err = 0;
		v->cluster = cl_cluster_new(&w->ccfg, core, &err);
		CHECK(v->cluster != NULL);
		v->core = core;
		cl_cluster_start(v->cluster);
	}
	cl_cluster_apply(v->cluster, ev);
	cl_cluster_settle(v->cluster, now);
	drain(w, node, now);
}

static struct world *world_new(uint64_t seed, uint32_t n, const char *consensus,
			       cl_usec spread)
{
	struct world *w = calloc(1, sizeof *w);
	CHECK(w != NULL);
	check_seed = seed;
	CHECK_EQ_INT(cl_consensus_parse(consensus, &w->ccfg), 0);
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.seed = seed;
	cfg.nodes = n;
	cfg.join_spread = spread;
	cfg.observer = observe;
	cfg.observer_arg = w;
	int err = 0;
	w->sim = cl_sim_new(&cfg, &err);
	CHECK(w->sim != NULL);
	return w;
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < MAX_NODES; i++)
		cl_cluster_free(w->nodes[i].cluster);
	cl_sim_free(w->sim);
	free(w);
}

static cloister_state state_of(struct world *w, uint32_t node)
{
	return cl_cluster_state(w->nodes[node].cluster);
}

/* ------------------------------------------------------------------ */

/* 5 nodes, consensus 3, started 4 s apart so quorum arrives with node 2. */
static void test_consensus_three_of_five(void)
{
	struct world *w = world_new(31, 5, "3", 20 * CL_SEC);
	cl_sim *sim = w->sim;
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);

	/* Node 0 alone, then with node 1: assembling.  Ready exactly when a
	 * third member was live, never before. */
	struct node_view *v0 = &w->nodes[0];
	CHECK(v0->n_log >= 3);
	CHECK_EQ_INT(v0->log[0].from, CLOISTER_DOWN);
	CHECK_EQ_INT(v0->log[0].to, CLOISTER_ASSEMBLING);
	CHECK_EQ_INT(v0->log[1].from, CLOISTER_ASSEMBLING);
	CHECK_EQ_INT(v0->log[1].to, CLOISTER_REHASHING);
	CHECK_EQ_INT(v0->log[2].to, CLOISTER_READY);
	CHECK_EQ_INT(v0->log[2].live, 3);
	/* Node 2 starts at 2 * 20 s / 5 = 8 s. */
	CHECK(v0->log[2].at >= 8 * CL_SEC);
	/* Every later join: ready -> rehashing -> ready, in pairs. */
	for (size_t i = 3; i < v0->n_log; i += 2) {
		CHECK_EQ_INT(v0->log[i].from, CLOISTER_READY);
		CHECK_EQ_INT(v0->log[i].to, CLOISTER_REHASHING);
		CHECK(i + 1 < v0->n_log);
		CHECK_EQ_INT(v0->log[i + 1].to, CLOISTER_READY);
	}
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_READY);

	/* Kill 3: the two survivors drop to rehashing and stay there. */
	size_t mark[5];
	for (uint32_t i = 0; i < 5; i++)
		mark[i] = w->nodes[i].n_log;
	cl_sim_crash(sim, 2);
	cl_sim_crash(sim, 3);
	cl_sim_crash(sim, 4);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	for (uint32_t i = 0; i < 2; i++) {
		struct node_view *v = &w->nodes[i];
		CHECK_EQ_INT(state_of(w, i), CLOISTER_REHASHING);
		CHECK(v->n_log > mark[i]);
		/* The last transition is the step down, made with 2 live. */
		CHECK_EQ_INT(v->log[v->n_log - 1].from, CLOISTER_READY);
		CHECK_EQ_INT(v->log[v->n_log - 1].to, CLOISTER_REHASHING);
		CHECK(v->log[v->n_log - 1].live < 3);
	}

	/* Restart them: ready again, everywhere, with the same names. */
	for (uint32_t i = 2; i < 5; i++)
		CHECK_EQ_INT(cl_sim_restart(sim, i, false, NULL, 0), 0);
	CHECK(cl_sim_run_until_converged(sim, cl_sim_now(sim) + 60 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_READY);
	CHECK_EQ_INT(w->bad_edges, 0);
	CHECK_EQ_INT(w->ready_without_quorum, 0);
	world_free(w);
}

/* majority:5 split 3/2: the 3-side stays ready, the 2-side steps down. */
static void test_majority_partition(void)
{
	struct world *w = world_new(47, 5, "majority:5", -1);
	cl_sim *sim = w->sim;
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_READY);

	uint8_t group[5] = {0, 0, 0, 1, 1};
	cl_sim_partition(sim, group);
	cl_sim_run_until(sim, cl_sim_now(sim) + 90 * CL_SEC);
	for (uint32_t i = 0; i < 3; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_READY);
	for (uint32_t i = 3; i < 5; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_REHASHING);

	cl_sim_partition(sim, NULL);
	/* Healing takes a dead-member retry (15 s, randomised up to 2x at
	 * start) plus the refutation round: 60 s is ample. */
	CHECK(cl_sim_run_until_converged(sim, cl_sim_now(sim) + 60 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ_INT(state_of(w, i), CLOISTER_READY);
	CHECK_EQ_INT(w->bad_edges, 0);
	CHECK_EQ_INT(w->ready_without_quorum, 0);
	world_free(w);
}

/* 200 nodes: one ring checksum, one sentry, one owner per key. */
static void test_agreement_200(void)
{
	const uint32_t n = 200;
	struct world *w = world_new(53, n, "1", -1);
	cl_sim *sim = w->sim;
	CHECK(cl_sim_run_until_converged(sim, 120 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);

	const cl_ring *r0 = cl_cluster_ring(w->nodes[0].cluster, "");
	CHECK(r0 != NULL);
	CHECK_EQ_INT(cl_ring_size(r0), n);
	uint64_t sum = cl_ring_checksum(r0);
	const char *sentry = cl_cluster_sentry(w->nodes[0].cluster);
	CHECK(sentry[0] != '\0');
	for (uint32_t i = 1; i < n; i++) {
		const cl_ring *r = cl_cluster_ring(w->nodes[i].cluster, "");
		CHECK(cl_ring_checksum(r) == sum);
		CHECK_STR_EQ(cl_cluster_sentry(w->nodes[i].cluster), sentry);
	}
	/* Node 0 started first, so it is the oldest: the sentry. */
	CHECK_STR_EQ(sentry, cl_sim_node_name(sim, 0));
	for (int k = 0; k < 10000; k++) {
		char key[32];
		int len = snprintf(key, sizeof key, "key-%d", k);
		size_t l0;
		const char *o0 = cl_ring_whois(r0, key, (size_t)len, &l0);
		CHECK(o0 != NULL);
		for (uint32_t i = 1; i < n; i += 13) {
			const cl_ring *r = cl_cluster_ring(w->nodes[i].cluster, "");
			size_t li;
			const char *oi = cl_ring_whois(r, key, (size_t)len, &li);
			CHECK(li == l0 && memcmp(oi, o0, l0) == 0);
		}
	}
	world_free(w);
}

/* The sentry survives 10 joins; after its death all agree on the next. */
static void test_sentry_stability(void)
{
	const uint32_t n = 15;
	/* Nodes 5..14 start late: 10 joins after the first five settled. */
	struct world *w = world_new(61, n, "1", 45 * CL_SEC);
	cl_sim *sim = w->sim;
	cl_sim_run_until(sim, 14 * CL_SEC); /* nodes 0..4 up (3 s apart) */
	const char *first = cl_sim_node_name(sim, 0);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_STR_EQ(cl_cluster_sentry(w->nodes[i].cluster), first);
	unsigned changes_before = w->nodes[0].sentry_changes;
	CHECK(cl_sim_run_until_converged(sim, 120 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);
	for (uint32_t i = 0; i < n; i++)
		CHECK_STR_EQ(cl_cluster_sentry(w->nodes[i].cluster), first);
	CHECK_EQ_INT(w->nodes[0].sentry_changes, changes_before);

	/* Its death: within the detection bound everyone names node 1, the
	 * next oldest.  Bound: probe round (< N periods, but in practice the
	 * first of 14 probers reaches it in a few) + indirect + the maximal
	 * suspicion (suspicion_max_mult * suspicion_mult * 1 s = 24 s at
	 * N < 10... log10 floors at 1) + dissemination: 60 s. */
	cl_sim_crash(sim, 0);
	cl_usec t0 = cl_sim_now(sim);
	cl_sim_run_until(sim, t0 + 60 * CL_SEC);
	const char *second = cl_sim_node_name(sim, 1);
	for (uint32_t i = 1; i < n; i++)
		CHECK_STR_EQ(cl_cluster_sentry(w->nodes[i].cluster), second);
	world_free(w);
}

/* ring = libring: the default ring places keys exactly as libring does for
 * the same member names (a regression: the default ring once ignored the
 * algorithm and always used XXH3). */
static void test_libring_option(void)
{
	struct world *w = world_new(67, 5, "1", -1);
	w->ccfg.ring_algorithm = CL_RING_LIBRING;
	cl_sim *sim = w->sim;
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
	cl_ring *ref = cl_ring_new(CL_RING_LIBRING, 0);
	for (uint32_t i = 0; i < 5; i++) {
		const char *n = cl_sim_node_name(sim, i);
		CHECK_EQ_INT(cl_ring_add(ref, n, strlen(n), 1), 0);
	}
	for (uint32_t i = 0; i < 5; i++)
		CHECK(cl_ring_checksum(cl_cluster_ring(w->nodes[i].cluster, "")) ==
		      cl_ring_checksum(ref));
	for (int k = 0; k < 1000; k++) {
		char key[32];
		int len = snprintf(key, sizeof key, "order:%d", k);
		size_t l0, l1;
		const char *want = cl_ring_whois(ref, key, (size_t)len, &l0);
		const char *got = cl_ring_whois(cl_cluster_ring(w->nodes[k % 5].cluster, ""),
						key, (size_t)len, &l1);
		CHECK(l0 == l1 && memcmp(want, got, l0) == 0);
	}
	cl_ring_free(ref);
	world_free(w);
}

int main(void)
{
	RUN_TEST(test_libring_option);
	RUN_TEST(test_consensus_three_of_five);
	RUN_TEST(test_majority_partition);
	RUN_TEST(test_agreement_200);
	RUN_TEST(test_sentry_stability);
	return 0;
}
