/*
 * test_sim_determinism.c — one seed, one run (must-show h).
 *
 * The same configuration and seed twice must give the same metrics and the
 * same stream of events, to the microsecond, and a different seed must
 * give a different run.  The scenario exercises every source of
 * randomness: the cores' own choices, loss and jitter draws, the choice
 * of victims, a partition and a restart.
 */
#include "check.h"
#include "sim/sim.h"

#define NODES 200

struct trace {
	uint64_t hash;
	uint64_t events;
};

/* FNV-1a over every event with its node and time. */
static void fnv(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

static void record(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		   const cl_swim_event *ev)
{
	(void)sim;
	struct trace *t = arg;
	t->events++;
	fnv(&t->hash, &node, sizeof node);
	fnv(&t->hash, &now, sizeof now);
	fnv(&t->hash, &ev->type, 1);
	fnv(&t->hash, &ev->status, 1);
	fnv(&t->hash, &ev->incarnation, sizeof ev->incarnation);
	fnv(&t->hash, ev->name, ev->name_len);
	fnv(&t->hash, ev->addr.ip, 4);
}

static void run(uint64_t seed, cl_sim_metrics *m, struct trace *t)
{
	t->hash = 0xcbf29ce484222325ull;
	t->events = 0;
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	cfg.loss = 0.05;
	cfg.observer = record;
	cfg.observer_arg = t;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	cl_sim_run_until_converged(sim, 30 * CL_SEC);
	uint32_t victims[3];
	CHECK_EQ_INT(cl_sim_kill_random(sim, 3, victims), 3);
	cl_sim_run_until(sim, cl_sim_now(sim) + 20 * CL_SEC);

	uint8_t group[NODES];
	for (uint32_t i = 0; i < NODES; i++)
		group[i] = i % 3 == 0;
	cl_sim_partition(sim, group);
	cl_sim_run_until(sim, cl_sim_now(sim) + 10 * CL_SEC);
	cl_sim_partition(sim, NULL);
	CHECK_EQ_INT(cl_sim_restart(sim, victims[0], true, NULL, 0), 0);
	cl_sim_run_until(sim, cl_sim_now(sim) + 30 * CL_SEC);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_get_metrics(sim, m);
	cl_sim_free(sim);
}

/* Field by field: struct padding is not part of the result. */
static bool metrics_equal(const cl_sim_metrics *a, const cl_sim_metrics *b)
{
#define SAME(f) (a->f == b->f)
	bool eq = SAME(nodes) && SAME(seed) && SAME(now) &&
		  SAME(converged_at) && SAME(crashes) &&
		  SAME(first_crash_at) && SAME(detect_all_at) &&
		  SAME(detect_pending) && SAME(false_positives) &&
		  SAME(packets) && SAME(bytes) && SAME(streams) &&
		  SAME(stream_bytes) && SAME(delivered) && SAME(drop_loss) &&
		  SAME(drop_partition) && SAME(drop_block) &&
		  SAME(drop_down) && SAME(drop_unroutable) && SAME(ticks) &&
		  SAME(feeds) && SAME(events) && SAME(ev_join) &&
		  SAME(ev_update) && SAME(ev_leave) && SAME(ev_fail) &&
		  SAME(ev_reap) && SAME(tick_spins);
	eq = eq && memcmp(&a->core, &b->core, sizeof a->core) == 0;
#undef SAME
	return eq;
}

static void test_same_seed_same_run(void)
{
	check_seed = 20240601;
	cl_sim_metrics a, b;
	struct trace ta, tb;
	run(check_seed, &a, &ta);
	run(check_seed, &b, &tb);
	printf("  seed %llu: %llu packets, %llu events, trace %016llx\n",
	       (unsigned long long)check_seed, (unsigned long long)a.packets,
	       (unsigned long long)ta.events, (unsigned long long)ta.hash);
	CHECK(a.packets > 0);
	CHECK(a.drop_loss > 0);
	CHECK(a.drop_partition > 0);
	CHECK(metrics_equal(&a, &b));
	CHECK_EQ_INT(ta.events, tb.events);
	CHECK(ta.hash == tb.hash);
}

static void test_other_seed_other_run(void)
{
	check_seed = 20240601;
	cl_sim_metrics a, b;
	struct trace ta, tb;
	run(check_seed, &a, &ta);
	run(check_seed + 1, &b, &tb);
	/* Millions of random draws feed the trace: equal hashes for two
	 * seeds would mean the seed is ignored somewhere. */
	CHECK(ta.hash != tb.hash);
	CHECK(!metrics_equal(&a, &b));
}

/* Two simulations interleaved in one process give the same results as
 * each run alone: no hidden global state. */
static void test_independent_instances(void)
{
	check_seed = 7;
	cl_sim_metrics alone, m1, m2;
	struct trace t_alone, t1, t2;
	run(check_seed, &alone, &t_alone);

	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = 50;
	cfg.seed = check_seed;
	cfg.observer = record;
	t1.hash = t2.hash = 0xcbf29ce484222325ull;
	t1.events = t2.events = 0;
	cfg.observer_arg = &t1;
	int err;
	cl_sim *s1 = cl_sim_new(&cfg, &err);
	cfg.observer_arg = &t2;
	cl_sim *s2 = cl_sim_new(&cfg, &err);
	CHECK(s1 && s2);
	for (cl_usec t = CL_SEC; t <= 30 * CL_SEC; t += CL_SEC) {
		cl_sim_run_until(s1, t);
		cl_sim_run_until(s2, t);
	}
	cl_sim_get_metrics(s1, &m1);
	cl_sim_get_metrics(s2, &m2);
	CHECK(metrics_equal(&m1, &m2));
	CHECK(t1.hash == t2.hash);
	CHECK(m1.converged_at >= 0);
	cl_sim_free(s1);
	cl_sim_free(s2);

	cl_sim_metrics again;
	struct trace t_again;
	run(check_seed, &again, &t_again);
	CHECK(metrics_equal(&alone, &again));
	CHECK(t_alone.hash == t_again.hash);
}

int main(void)
{
	RUN_TEST(test_same_seed_same_run);
	RUN_TEST(test_other_seed_other_run);
	RUN_TEST(test_independent_instances);
	return 0;
}
