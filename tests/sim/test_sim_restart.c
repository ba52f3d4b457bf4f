/*
 * test_sim_restart.c — a node restarting at a new address (must-show f),
 * and the graceful leave it is often confused with.
 *
 * After a restart no node may still hold the old address for the name, and
 * no ghost may remain: every node counts exactly N members alive.
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 100
#define VICTIM 17

static double sec(cl_usec t)
{
	return (double)t / 1e6;
}

static cl_usec dissemination(const cl_swim_timing *t)
{
	unsigned digits = 0;
	for (unsigned v = NODES; v > 0; v /= 10)
		digits++;
	return 2 * (cl_usec)(t->retransmit_mult * digits) * t->gossip_interval;
}

/*
 * The restarted node push-pulls with its seed on boot, so the seed holds
 * the new address (under a higher incarnation) one stream delay later and
 * gossips it; everyone has it within the dissemination allowance
 * (2 * lambda * ceil(log10(N+1)) gossip rounds).  Should the restarted
 * node's incarnation be lower than one its old self reached, it learns
 * that from the same push-pull and refutes at once.  A node that missed
 * the rumour is repaired by a checksum-triggered sync (sync_min_interval).
 * Bound: dissemination + sync_min_interval + 1 s for the boot exchange.
 */
static cl_usec restart_bound(const cl_swim_timing *t)
{
	return dissemination(t) + t->sync_min_interval + CL_SEC;
}

struct want {
	uint32_t who;
	cl_addr addr, old;
	uint32_t inc;
};

/* Everyone else holds `who` alive at its new address, nobody at the old
 * one, and counts exactly N alive. */
static bool settled(void *arg, cl_sim *sim)
{
	const struct want *w = arg;
	if (!cl_sim_converged(sim))
		return false;
	const char *name = cl_sim_node_name(sim, w->who);
	for (uint32_t i = 0; i < NODES; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (i == w->who || !c)
			continue;
		cl_swim_member_view v;
		if (!cl_swim_lookup(c, name, strlen(name), &v) ||
		    v.status != CL_STATUS_ALIVE ||
		    !cl_addr_equal(&v.addr, &w->addr) ||
		    cl_addr_equal(&v.addr, &w->old))
			return false;
		if (cl_swim_count(c, CL_STATUS_ALIVE) != NODES)
			return false;
	}
	return true;
}

static cl_sim *boot(uint64_t seed)
{
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	return sim;
}

/* down_for: how long the node stays down; new_addr: where it comes back. */
static void restart_case(const char *what, uint64_t seed, cl_usec down_for,
			 bool new_addr)
{
	check_seed = seed;
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	cl_sim *sim = boot(seed);
	struct want w = {.who = VICTIM, .old = cl_sim_node_addr(sim, VICTIM)};
	cl_sim_crash(sim, VICTIM);
	cl_sim_run_until(sim, cl_sim_now(sim) + down_for);
	bool was_detected = cl_sim_detect_time(sim, VICTIM) >= 0;
	CHECK_EQ_INT(cl_sim_restart(sim, VICTIM, new_addr, NULL, 0), 0);
	w.addr = cl_sim_node_addr(sim, VICTIM);
	CHECK_EQ_INT(cl_addr_equal(&w.addr, &w.old), !new_addr);
	if (!new_addr)
		w.old = (cl_addr){0}; /* nothing stale to look for */
	cl_usec at = cl_sim_now(sim);
	cl_usec bound = restart_bound(&t);
	bool ok = cl_sim_run_until_cond(sim, at + bound, settled, &w);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	printf("  %s (down %.0f s, %s when restarted): settled after %.3f s "
	       "(bound %.1f s), %llu false positives\n",
	       what, sec(down_for), was_detected ? "declared dead" : "not yet "
								     "detected",
	       ok ? sec(cl_sim_now(sim) - at) : -1.0, sec(bound),
	       (unsigned long long)m.false_positives);
	CHECK(ok);
	CHECK_EQ_INT(m.false_positives, 0);
	/* No ghost later either: nothing resurrects the old self. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	CHECK(settled(&w, sim));
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

static void test_restart_new_address_before_detection(void)
{
	/* Back in 2 s: most nodes still hold the old self alive, some may
	 * suspect it.  The new incarnation must supersede both. */
	restart_case("new address, quick", 1701, 2 * CL_SEC, true);
}

static void test_restart_new_address_after_detection(void)
{
	/* Back after 90 s: the old self is a tombstone everywhere. */
	restart_case("new address, late", 1702, 90 * CL_SEC, true);
}

static void test_restart_same_address(void)
{
	restart_case("same address, quick", 1703, 2 * CL_SEC, false);
}

/* ------------------------------------------------------------------ */
/* Graceful leave                                                      */
/* ------------------------------------------------------------------ */

struct leave_watch {
	uint32_t who;
	uint64_t fails, leaves;
};

static void count_leave(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
			const cl_swim_event *ev)
{
	(void)node;
	(void)now;
	struct leave_watch *lw = arg;
	if (cl_sim_node_index(sim, ev->name, ev->name_len) != lw->who)
		return;
	lw->fails += ev->type == CL_EV_FAIL;
	lw->leaves += ev->type == CL_EV_LEAVE;
}

static bool all_left(void *arg, cl_sim *sim)
{
	const struct leave_watch *lw = arg;
	return lw->leaves == NODES - 1 && cl_sim_converged(sim);
}

/*
 * A leave is gossiped for leave_linger before the node goes; the rumour
 * then spreads on its own.  Bound: leave_linger + dissemination.  Nobody
 * may mistake it for a failure (FAIL event).
 */
static void test_graceful_leave(void)
{
	check_seed = 1704;
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	struct leave_watch lw = {.who = VICTIM};
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = check_seed;
	cfg.observer = count_leave;
	cfg.observer_arg = &lw;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
	cl_usec at = cl_sim_now(sim);
	cl_sim_leave(sim, VICTIM);
	cl_usec bound = t.leave_linger + dissemination(&t);
	bool ok = cl_sim_run_until_cond(sim, at + bound, all_left, &lw);
	printf("  leave: %llu of %d nodes saw it after %.3f s (bound %.1f s), "
	       "%llu FAIL events\n",
	       (unsigned long long)lw.leaves, NODES - 1,
	       sec(cl_sim_now(sim) - at), sec(bound),
	       (unsigned long long)lw.fails);
	CHECK(ok);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	CHECK_EQ_INT(cl_sim_node_state(sim, VICTIM), CL_SIM_LEFT);
	CHECK_EQ_INT(lw.fails, 0);
	CHECK(cl_sim_converged(sim));
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_free(sim);
}

/* ------------------------------------------------------------------ */
/* Two processes, one name, one millisecond                            */
/* ------------------------------------------------------------------ */

#define TWIN_NODES 6
#define TWIN_OF 3
#define TWIN_SLOT TWIN_NODES /* the spare */

/* One of the two processes gave the name up, and every running node holds
 * the name alive at the other's address and incarnation. */
static bool twins_settled(void *arg, cl_sim *sim)
{
	(void)arg;
	bool a = cl_sim_node_state(sim, TWIN_OF) == CL_SIM_UP;
	bool b = cl_sim_node_state(sim, TWIN_SLOT) == CL_SIM_UP;
	if (a == b)
		return false;
	uint32_t keeper = a ? TWIN_OF : TWIN_SLOT;
	cl_addr at = cl_sim_node_addr(sim, keeper);
	uint32_t inc = cl_swim_incarnation(cl_sim_core(sim, keeper));
	const char *name = cl_sim_node_name(sim, TWIN_OF);
	for (uint32_t i = 0; i <= TWIN_SLOT; i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (!c || cl_sim_node_state(sim, i) != CL_SIM_UP)
			continue;
		cl_swim_member_view v;
		if (!cl_swim_lookup(c, name, strlen(name), &v) ||
		    v.status != CL_STATUS_ALIVE || !cl_addr_equal(&v.addr, &at) ||
		    v.incarnation != inc ||
		    cl_swim_count(c, CL_STATUS_ALIVE) != TWIN_NODES)
			return false;
	}
	return true;
}

/*
 * A node restarts while a second process with its name starts elsewhere,
 * in the same millisecond: one start time, one incarnation, two
 * addresses.  Both join through the same seeds.  The seeds take the newer
 * process (merge.h: equal starts are ordered by address), and so does
 * everyone they gossip to; what goes to the name goes to that process's
 * address, so the other one is never told, and it stays up claiming a
 * name that every view gives to its twin (the property checker, seed
 * 1091200).  Its pings and digests must still show it the difference,
 * so that it checks its rival and yields.
 */
static void test_twins_started_in_one_millisecond(void)
{
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	/* The restart at a new address (allocated after the twin's: the
	 * restarted process is the newer) and at its own (the twin is). */
	for (uint64_t k = 0; k < 16; k++) {
		uint64_t seed = 1801 + k % 8;
		bool new_addr = k < 8;
		check_seed = seed;
		cl_sim_config cfg;
		cl_sim_config_default(&cfg);
		cfg.nodes = TWIN_NODES + 1;
		cfg.spares = 1;
		cfg.seed = seed;
		int err;
		cl_sim *sim = cl_sim_new(&cfg, &err);
		CHECK(sim != NULL);
		CHECK(cl_sim_run_until_converged(sim, 60 * CL_SEC));
		cl_sim_crash(sim, TWIN_OF);
		cl_sim_run_until(sim, cl_sim_now(sim) + 2 * CL_SEC);
		CHECK_EQ_INT(cl_sim_restart(sim, TWIN_OF, new_addr, NULL, 0),
			     0);
		CHECK_EQ_INT(cl_sim_start_twin(sim, TWIN_SLOT, TWIN_OF), 0);
		CHECK_EQ_INT(cl_sim_node_incarnation(sim, TWIN_OF),
			     cl_sim_node_incarnation(sim, TWIN_SLOT));
		cl_usec at = cl_sim_now(sim);
		/* A periodic sync (at most pushpull_interval apart at this
		 * size, skips aside: 4 of them) and a rival check. */
		cl_usec bound = 4 * t.pushpull_interval + 10 * CL_SEC;
		bool ok = cl_sim_run_until_cond(sim, at + bound, twins_settled,
						NULL);
		printf("  seed %llu, restarted at %s address: %s after %.3f s "
		       "(bound %.0f s)\n",
		       (unsigned long long)seed, new_addr ? "a new" : "its own",
		       ok ? (cl_sim_node_state(sim, TWIN_OF) == CL_SIM_UP
				     ? "the restarted node kept the name"
				     : "the twin kept the name")
			  : "not settled",
		       sec(cl_sim_now(sim) - at), sec(bound));
		CHECK(ok);
		CHECK_EQ_INT(cl_sim_error(sim), 0);
		cl_sim_free(sim);
	}
}

int main(void)
{
	RUN_TEST(test_restart_new_address_before_detection);
	RUN_TEST(test_restart_new_address_after_detection);
	RUN_TEST(test_restart_same_address);
	RUN_TEST(test_graceful_leave);
	RUN_TEST(test_twins_started_in_one_millisecond);
	return 0;
}
