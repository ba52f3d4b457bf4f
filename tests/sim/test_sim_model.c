/*
 * test_sim_model.c — the simulator's own machinery: its heap and hash map
 * against naive references, and the network model's knobs (loss rate,
 * partitions, one-way blocks, crashes, new addresses) doing what sim.c
 * says they do.
 */
#include "check.h"
#include "cloister.h"
#include "sim/sim.h"
#include "sim/sim_util.h"

/* ------------------------------------------------------------------ */
/* Building blocks                                                     */
/* ------------------------------------------------------------------ */

static void test_heap_orders_by_time_then_seq(void)
{
	check_seed = 11;
	sim_rng r;
	sim_rng_seed(&r, check_seed, 0, 0, 0);
	sim_heap h = {0};
	enum { N = 20000 };
	for (uint64_t i = 0; i < N; i++) {
		/* Few distinct times, so ties are common. */
		sim_event e = {.at = (int64_t)sim_rng_below(&r, 500),
			       .seq = i, .ref = (uint32_t)i};
		CHECK(sim_heap_push(&h, &e));
	}
	sim_event prev = {.at = -1}, e;
	size_t n = 0;
	while (sim_heap_pop(&h, &e)) {
		CHECK(e.at > prev.at || (e.at == prev.at && e.seq > prev.seq));
		prev = e;
		n++;
	}
	CHECK_EQ_INT(n, N);
	sim_heap_free(&h);
}

static void test_map_matches_reference(void)
{
	check_seed = 12;
	sim_rng r;
	sim_rng_seed(&r, check_seed, 0, 0, 0);
	enum { KEYS = 3000 };
	static uint64_t ref[KEYS]; /* 0 = absent */
	sim_map m = {0};
	for (int op = 0; op < 200000; op++) {
		uint64_t k = 1 + sim_rng_below(&r, KEYS - 1);
		uint64_t v = sim_rng_next(&r) | 1;
		switch (sim_rng_below(&r, 3)) {
		case 0:
			CHECK_EQ_INT(sim_map_put(&m, k, v), ref[k] == 0);
			ref[k] = v;
			break;
		case 1:
			CHECK_EQ_INT(sim_map_del(&m, k), ref[k] != 0);
			ref[k] = 0;
			break;
		default: {
			uint64_t *got = sim_map_get(&m, k);
			CHECK((got != NULL) == (ref[k] != 0));
			if (got)
				CHECK(*got == ref[k]);
		}
		}
	}
	size_t live = 0;
	for (int k = 1; k < KEYS; k++) {
		live += ref[k] != 0;
		uint64_t *got = sim_map_get(&m, (uint64_t)k);
		CHECK((got != NULL) == (ref[k] != 0));
	}
	CHECK_EQ_INT(m.len, live);
	sim_map_free(&m);
}

/* ------------------------------------------------------------------ */
/* Network model                                                       */
/* ------------------------------------------------------------------ */

static cl_sim *make(uint32_t nodes, uint64_t seed, double loss)
{
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = nodes;
	cfg.seed = seed;
	cfg.loss = loss;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	return sim;
}

static void test_bad_configs_refused(void)
{
	check_seed = 0;
	cl_sim_config cfg;
	int err = 0;
	cl_sim_config_default(&cfg);
	cfg.nodes = 0;
	CHECK(cl_sim_new(&cfg, &err) == NULL && err < 0);
	cl_sim_config_default(&cfg);
	cfg.loss = 1.5;
	CHECK(cl_sim_new(&cfg, &err) == NULL && err < 0);
	cl_sim_config_default(&cfg);
	cfg.jitter = cfg.latency + 1;
	CHECK(cl_sim_new(&cfg, &err) == NULL && err < 0);
	cl_sim_config_default(&cfg);
	cfg.alt_nodes = cfg.nodes;
	CHECK(cl_sim_new(&cfg, &err) == NULL && err < 0);
}

static void test_clock_and_addresses(void)
{
	check_seed = 13;
	cl_sim *sim = make(300, check_seed, 0);
	CHECK_EQ_INT(cl_sim_now(sim), 0);
	/* Node 299 boots at 299 ms with the default spread. */
	cl_sim_run_until(sim, 298 * CL_MSEC);
	CHECK_EQ_INT(cl_sim_node_state(sim, 299), CL_SIM_PENDING);
	cl_sim_run_until(sim, 299 * CL_MSEC);
	CHECK_EQ_INT(cl_sim_node_state(sim, 299), CL_SIM_UP);
	CHECK_EQ_INT(cl_sim_now(sim), 299 * CL_MSEC);
	cl_sim_run_until(sim, 12345678);
	CHECK_EQ_INT(cl_sim_now(sim), 12345678);
	for (uint32_t i = 0; i < 300; i++) {
		cl_addr a = cl_sim_node_addr(sim, i);
		CHECK_EQ_INT(a.port, 7946);
		CHECK_EQ_INT(a.ip[0], 10);
		CHECK_EQ_INT((a.ip[1] << 16 | a.ip[2] << 8 | a.ip[3]), i + 1);
		const char *name = cl_sim_node_name(sim, i);
		CHECK_EQ_INT(cl_sim_node_index(sim, name, strlen(name)), i);
	}
	CHECK_EQ_INT(cl_sim_node_index(sim, "n300", 4), -1);
	CHECK_EQ_INT(cl_sim_node_index(sim, "n01", 3), -1);
	cl_sim_free(sim);
}

static void test_loss_rate(void)
{
	check_seed = 14;
	cl_sim *sim = make(100, check_seed, 0.2);
	cl_sim_run_until(sim, 120 * CL_SEC);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	double datagrams = (double)(m.packets - m.streams - m.drop_down -
				    m.drop_unroutable);
	double rate = (double)m.drop_loss / datagrams;
	printf("  loss 0.2: %llu of %.0f datagrams dropped (%.4f)\n",
	       (unsigned long long)m.drop_loss, datagrams, rate);
	/* Tens of thousands of Bernoulli(0.2) draws: within 0.01 by a wide
	 * margin (the standard deviation is ~0.002). */
	CHECK(datagrams > 10000);
	CHECK(rate > 0.19 && rate < 0.21);
	cl_sim_free(sim);

	/* Loss 1 on one link only, loss 0 elsewhere. */
	sim = make(20, check_seed, 0);
	cl_sim_set_link_loss(sim, 3, 4, 1.0);
	cl_sim_run_until(sim, 60 * CL_SEC);
	cl_sim_get_metrics(sim, &m);
	CHECK(m.drop_loss > 0);
	cl_sim_set_link_loss(sim, 3, 4, -1);
	uint64_t before = m.drop_loss;
	cl_sim_run_until(sim, 120 * CL_SEC);
	cl_sim_get_metrics(sim, &m);
	CHECK_EQ_INT(m.drop_loss, before);
	cl_sim_free(sim);
}

static void test_partition_and_block(void)
{
	check_seed = 15;
	cl_sim *sim = make(40, check_seed, 0);
	CHECK(cl_sim_run_until_converged(sim, 30 * CL_SEC));
	uint8_t group[40];
	for (int i = 0; i < 40; i++)
		group[i] = i >= 20;
	cl_sim_partition(sim, group);
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	CHECK(m.drop_partition > 0);
	CHECK(!cl_sim_converged(sim));
	cl_sim_partition(sim, NULL);
	uint64_t during = m.drop_partition;
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);
	cl_sim_get_metrics(sim, &m);
	CHECK_EQ_INT(m.drop_partition, during);

	/* One way: 7 cannot reach 8; the other direction is untouched. */
	cl_sim_block(sim, 7, 8, true);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	cl_sim_get_metrics(sim, &m);
	CHECK(m.drop_block > 0);
	uint64_t blocked = m.drop_block;
	cl_sim_block(sim, 7, 8, false);
	cl_sim_run_until(sim, cl_sim_now(sim) + 10 * CL_SEC);
	cl_sim_get_metrics(sim, &m);
	CHECK_EQ_INT(m.drop_block, blocked);
	cl_sim_free(sim);
}

static void test_crash_and_new_address(void)
{
	check_seed = 16;
	cl_sim *sim = make(30, check_seed, 0);
	CHECK(cl_sim_run_until_converged(sim, 30 * CL_SEC));
	cl_addr old = cl_sim_node_addr(sim, 5);
	cl_sim_crash(sim, 5);
	CHECK(cl_sim_core(sim, 5) == NULL);
	CHECK_EQ_INT(cl_sim_node_state(sim, 5), CL_SIM_CRASHED);
	cl_sim_run_until(sim, cl_sim_now(sim) + 3 * CL_SEC);
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	CHECK(m.drop_down > 0); /* probes to the dead node */
	CHECK_EQ_INT(m.crashes, 1);

	uint32_t inc_before = cl_sim_node_incarnation(sim, 5);
	CHECK_EQ_INT(cl_sim_restart(sim, 5, true, NULL, 0), 0);
	CHECK(cl_sim_core(sim, 5) != NULL);
	CHECK(cl_sim_node_incarnation(sim, 5) > inc_before);
	cl_addr now_at = cl_sim_node_addr(sim, 5);
	CHECK(!cl_addr_equal(&old, &now_at));
	/* Unique: no other node has it. */
	for (uint32_t i = 0; i < 30; i++) {
		cl_addr a = cl_sim_node_addr(sim, i);
		CHECK(i == 5 || !cl_addr_equal(&a, &now_at));
	}
	CHECK_EQ_INT(cl_sim_restart(sim, 5, false, NULL, 0), CLOISTER_ESTATE);
	cl_sim_run_until(sim, cl_sim_now(sim) + 60 * CL_SEC);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	CHECK(cl_sim_converged(sim));
	cl_sim_get_metrics(sim, &m);
	CHECK_EQ_INT(m.tick_spins, 0);
	cl_sim_free(sim);
}

int main(void)
{
	RUN_TEST(test_heap_orders_by_time_then_seq);
	RUN_TEST(test_map_matches_reference);
	RUN_TEST(test_bad_configs_refused);
	RUN_TEST(test_clock_and_addresses);
	RUN_TEST(test_loss_rate);
	RUN_TEST(test_partition_and_block);
	RUN_TEST(test_crash_and_new_address);
	return 0;
}
