/*
 * test_sim_label.c — two clusters on one network never merge
 * (must-show g).
 *
 * Forty nodes labelled "alpha" and forty labelled "beta" share one address
 * space, and each cluster is given the other's first node as a seed, so
 * joins, retries and whatever follows cross between them.  The label in
 * every packet must keep them apart: no node ever learns a member of the
 * other cluster, each cluster converges on itself, and the refused packets
 * are counted under CL_DROP_LABEL.
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 80
#define BETA 40 /* nodes 40..79 */

struct watch {
	uint64_t foreign; /* events at a node about the other cluster */
	uint64_t unknown; /* events about a name the sim never made */
};

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	(void)now;
	struct watch *w = arg;
	int64_t t = cl_sim_node_index(sim, ev->name, ev->name_len);
	if (t < 0)
		w->unknown++;
	else if (cl_sim_node_cluster(sim, (uint32_t)t) !=
		 cl_sim_node_cluster(sim, node))
		w->foreign++;
}

struct scan {
	cl_sim *sim;
	unsigned cluster;
	unsigned foreign;
};

static bool scan_member(void *arg, const cl_swim_member_view *m)
{
	struct scan *sc = arg;
	int64_t t = cl_sim_node_index(sc->sim, m->name, m->name_len);
	if (t < 0 || cl_sim_node_cluster(sc->sim, (uint32_t)t) != sc->cluster)
		sc->foreign++;
	return true;
}

static void test_labels_keep_clusters_apart(void)
{
	check_seed = 4040;
	struct watch w = {0};
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = check_seed;
	cfg.label = "alpha";
	cfg.alt_label = "beta";
	cfg.alt_nodes = BETA;
	cfg.cross_seed = true;
	cfg.observer = observe;
	cfg.observer_arg = &w;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);

	/* Converged = every node sees exactly its own cluster's 40 alive. */
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	/* Churn makes the clusters talk more: a crash and a restart in
	 * each, rejoining through both seeds again. */
	cl_sim_crash(sim, 5);
	cl_sim_crash(sim, BETA + 5);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	uint32_t seeds_a[] = {0, BETA};
	uint32_t seeds_b[] = {BETA, 0};
	CHECK_EQ_INT(cl_sim_restart(sim, 5, true, seeds_a, 2), 0);
	CHECK_EQ_INT(cl_sim_restart(sim, BETA + 5, true, seeds_b, 2), 0);
	cl_sim_run_until(sim, cl_sim_now(sim) + 120 * CL_SEC);

	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	unsigned foreign_members = 0;
	for (uint32_t i = 0; i < NODES; i++) {
		struct scan sc = {.sim = sim,
				  .cluster = cl_sim_node_cluster(sim, i)};
		cl_swim_foreach(cl_sim_core(sim, i), scan_member, &sc);
		foreign_members += sc.foreign;
		CHECK_EQ_INT(cl_swim_count(cl_sim_core(sim, i), CL_STATUS_ALIVE),
			     NODES / 2);
	}
	printf("  alpha 40 + beta 40, cross-seeded: converged at %.3f s; "
	       "%llu packets dropped for their label; %llu foreign events, "
	       "%u foreign members\n",
	       (double)m.converged_at / 1e6,
	       (unsigned long long)m.core.drops[CL_DROP_LABEL],
	       (unsigned long long)w.foreign, foreign_members);
	CHECK_EQ_INT(w.foreign, 0);
	CHECK_EQ_INT(w.unknown, 0);
	CHECK_EQ_INT(foreign_members, 0);
	CHECK(m.core.drops[CL_DROP_LABEL] > 0);
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(m.false_positives, 0);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_labels_keep_clusters_apart);
	return 0;
}
