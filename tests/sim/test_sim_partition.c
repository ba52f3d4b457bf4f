/*
 * test_sim_partition.c — a 50/50 partition for 60 s, then healed
 * (must-show e).
 *
 * During the partition each half must declare the other dead (nobody on
 * the far side can answer a probe or a refutation).  After healing, the
 * halves must find each other again without any operator action: only the
 * core's dead-retry push-pulls cross the gap, since nobody probes or
 * gossips to a member it holds dead.
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 100
#define HALF 50

static double sec(cl_usec t)
{
	return (double)t / 1e6;
}

static unsigned side(uint32_t node)
{
	return node >= HALF;
}

/* FAIL events by a node about a running node of its own half: a real
 * false positive, unlike the verdicts across the gap. */
struct watch {
	uint64_t same_side_fails;
	uint64_t cross_fails;
};

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	(void)now;
	struct watch *w = arg;
	if (ev->type != CL_EV_FAIL)
		return;
	int64_t t = cl_sim_node_index(sim, ev->name, ev->name_len);
	if (t < 0)
		return;
	if (side((uint32_t)t) == side(node))
		w->same_side_fails +=
			cl_sim_node_state(sim, (uint32_t)t) == CL_SIM_UP;
	else
		w->cross_fails++;
}

/* Pairs (observer, member of the other half) not seen dead. */
static unsigned cross_not_dead(cl_sim *sim)
{
	unsigned bad = 0;
	for (uint32_t i = 0; i < NODES; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		for (uint32_t j = 0; j < NODES; j++) {
			if (side(i) == side(j))
				continue;
			const char *name = cl_sim_node_name(sim, j);
			cl_swim_member_view v;
			if (cl_swim_lookup(c, name, strlen(name), &v) &&
			    v.status != CL_STATUS_DEAD)
				bad++;
		}
	}
	return bad;
}

/*
 * Healing, step by step:
 *  1. Every dead_retry_interval each node push-pulls with one member it
 *     holds dead: within one interval of the heal, nodes on both sides
 *     have crossed the gap.
 *  2. Such an exchange carries "dead" verdicts about the receiver's own
 *     half; they merge as suspicions, which the accused refute with a
 *     higher incarnation, gossiped in their half (dissemination).
 *  3. The refuted, higher incarnations outrank the tombstones on the
 *     other side at the next crossing: a second dead-retry interval.
 *     From then on the sides probe and gossip to each other, and any
 *     straggler is fixed by a checksum-triggered sync (sync_min_interval).
 * Bound: 2 * dead_retry_interval + dissemination + sync_min_interval,
 * where dissemination = 2 * lambda * ceil(log10(N+1)) gossip rounds.
 */
static cl_usec heal_bound(const cl_swim_timing *t)
{
	unsigned digits = 0;
	for (unsigned v = NODES; v > 0; v /= 10)
		digits++;
	cl_usec dissem =
		2 * (cl_usec)(t->retransmit_mult * digits) * t->gossip_interval;
	return 2 * t->dead_retry_interval + dissem + t->sync_min_interval;
}

static void test_partition_and_heal(void)
{
	check_seed = 5050;
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	struct watch w = {0};
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = check_seed;
	cfg.observer = observe;
	cfg.observer_arg = &w;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));

	uint8_t group[NODES];
	for (uint32_t i = 0; i < NODES; i++)
		group[i] = (uint8_t)side(i);
	cl_usec cut = cl_sim_now(sim);
	cl_sim_partition(sim, group);
	cl_sim_run_until(sim, cut + 60 * CL_SEC);
	unsigned undetected = cross_not_dead(sim);
	printf("  partition at %.3f s for 60 s: %llu cross-gap FAIL events, "
	       "%u of %d cross pairs not dead at the end\n",
	       sec(cut), (unsigned long long)w.cross_fails, undetected,
	       NODES * HALF);
	CHECK_EQ_INT(undetected, 0);
	/* Each half agrees on itself: 50 alive everywhere. */
	for (uint32_t i = 0; i < NODES; i++)
		CHECK_EQ_INT(cl_swim_count(cl_sim_core(sim, i), CL_STATUS_ALIVE),
			     HALF);

	cl_usec healed = cl_sim_now(sim);
	cl_sim_partition(sim, NULL);
	cl_usec hb = heal_bound(&t);
	bool ok = cl_sim_run_until_converged(sim, healed + hb);
	printf("  healed at %.3f s: full membership everywhere after %.3f s "
	       "(bound %.1f s); %llu same-side false positives\n",
	       sec(healed), ok ? sec(cl_sim_now(sim) - healed) : -1.0,
	       sec(hb), (unsigned long long)w.same_side_fails);
	CHECK(ok);
	CHECK_EQ_INT(w.same_side_fails, 0);
	/* And it stays that way. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 30 * CL_SEC);
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(w.same_side_fails, 0);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_partition_and_heal);
	return 0;
}
