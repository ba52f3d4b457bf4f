/*
 * test_sim_trace.c — the packet tracer (sim_trace.h): every packet's fate
 * is reported once per copy and agrees with the simulator's own counters,
 * a traced run is the same run as an untraced one, and the text decodes
 * what was sent.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/wire.h"
#include "sim/sim.h"
#include "sim/sim_trace.h"

#define NODES 8
#define MAX_ID (1u << 20)

/* What a tracer saw: per send id, copies sent and copies that reached an
 * end (fed, or dropped on arrival); per fate, how many records. */
struct tally {
	uint8_t *sent, *ended;
	cl_usec *arrives; /* of the send's last copy */
	uint64_t fates[CL_SIM_FATE__COUNT];
	uint64_t records, held, down_at_send, bad;
	uint64_t hash;
};

static void fnv(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

static void tally(void *arg, const cl_sim *sim, const cl_sim_packet *p)
{
	(void)sim;
	struct tally *t = arg;
	t->records++;
	if (p->fate >= CL_SIM_FATE__COUNT || p->id == 0 || p->id >= MAX_ID) {
		t->bad++;
		return;
	}
	t->fates[p->fate]++;
	fnv(&t->hash, &p->id, sizeof p->id);
	fnv(&t->hash, &p->now, sizeof p->now);
	fnv(&t->hash, &p->fate, 1);
	fnv(&t->hash, p->buf, p->len);
	if (p->fate == CL_SIM_SENT) {
		/* Sent copies must arrive later, at a node. */
		if (p->arrives < p->now || p->to < 0 || p->arrival)
			t->bad++;
		t->sent[p->id]++;
		t->arrives[p->id] = p->arrives;
	} else if (!p->arrival) {
		t->down_at_send += p->fate == CL_SIM_DROP_DOWN;
	} else {
		if (p->fate == CL_SIM_HELD)
			t->held++;
		else
			t->ended[p->id]++;
		if (p->fate != CL_SIM_FED && p->fate != CL_SIM_HELD &&
		    p->fate != CL_SIM_DROP_DOWN && p->fate != CL_SIM_DROP_PAUSED)
			t->bad++;
	}
}

struct event_hash {
	uint64_t hash, events;
};

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	(void)sim;
	struct event_hash *e = arg;
	e->events++;
	fnv(&e->hash, &node, sizeof node);
	fnv(&e->hash, &now, sizeof now);
	fnv(&e->hash, &ev->type, 1);
	fnv(&e->hash, &ev->incarnation, sizeof ev->incarnation);
	fnv(&e->hash, ev->name, ev->name_len);
}

/* A run with every kind of fate: loss, damage, duplicates, failing
 * streams, a partition, a one-way block, a pause, a crash (packets to a
 * node that is gone) and a restart at a new address (packets to the old
 * one, where nobody is). */
static void run(uint64_t seed, struct tally *t, struct event_hash *e,
		cl_sim_metrics *m)
{
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = NODES;
	cfg.seed = seed;
	cfg.observer = observe;
	cfg.observer_arg = e;
	if (t) {
		cfg.tracer = tally;
		cfg.tracer_arg = t;
	}
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	CHECK(sim != NULL);
	CHECK(cl_sim_run_until_converged(sim, 30 * CL_SEC));
	cl_usec now = cl_sim_now(sim);
	cl_sim_set_loss(sim, 0.2);
	cl_sim_set_corrupt(sim, 0.1);
	cl_sim_set_dup(sim, 0.1);
	cl_sim_set_stream_fail(sim, 0.3);
	cl_sim_run_until(sim, now += 10 * CL_SEC);
	cl_sim_set_loss(sim, 0);
	cl_sim_set_corrupt(sim, 0);
	cl_sim_set_dup(sim, 0);
	cl_sim_set_stream_fail(sim, 0);
	uint8_t group[NODES] = {0};
	group[1] = group[2] = 1;
	cl_sim_partition(sim, group);
	cl_sim_block(sim, 3, 4, true);
	cl_sim_pause(sim, 5);
	cl_sim_run_until(sim, now += 4 * CL_SEC);
	cl_sim_partition(sim, NULL);
	cl_sim_block(sim, 3, 4, false);
	cl_sim_resume(sim, 5);
	cl_sim_pause(sim, 6);
	cl_sim_run_until(sim, now += 2 * CL_SEC);
	cl_sim_crash(sim, 6); /* while paused: what it held is dropped */
	cl_sim_crash(sim, 7);
	cl_sim_run_until(sim, now += 3 * CL_SEC);
	CHECK_EQ_INT(cl_sim_restart(sim, 7, true, NULL, 0), 0);
	cl_sim_run_until(sim, now += 20 * CL_SEC);
	CHECK_EQ_INT(cl_sim_error(sim), 0);
	cl_sim_get_metrics(sim, m);
	cl_sim_free(sim);
}

static void test_every_copy_has_one_end(void)
{
	check_seed = 4242;
	struct tally t = {.sent = calloc(MAX_ID, 1), .ended = calloc(MAX_ID, 1),
			  .arrives = calloc(MAX_ID, sizeof(cl_usec)),
			  .hash = 0xcbf29ce484222325ull};
	CHECK(t.sent && t.ended && t.arrives);
	struct event_hash e = {0xcbf29ce484222325ull, 0};
	cl_sim_metrics m;
	run(check_seed, &t, &e, &m);
	CHECK(m.packets < MAX_ID);
	/* A copy still on its way when the run stopped has no end yet. */
	uint64_t unmatched = 0, in_flight = 0;
	for (uint64_t id = 1; id <= m.packets; id++) {
		if (t.sent[id] == t.ended[id])
			continue;
		if (t.sent[id] == t.ended[id] + 1 && t.arrives[id] > m.now)
			in_flight++;
		else
			unmatched++;
	}
	printf("  %llu packets, %llu records: %llu fed, %llu lost, %llu "
	       "damaged, %llu partition, %llu blocked, %llu stream failed, "
	       "%llu down, %llu held; %llu in flight at the end, %llu "
	       "unmatched\n",
	       (unsigned long long)m.packets, (unsigned long long)t.records,
	       (unsigned long long)t.fates[CL_SIM_FED],
	       (unsigned long long)t.fates[CL_SIM_DROP_LOSS],
	       (unsigned long long)t.fates[CL_SIM_DROP_CORRUPT],
	       (unsigned long long)t.fates[CL_SIM_DROP_PARTITION],
	       (unsigned long long)t.fates[CL_SIM_DROP_BLOCK],
	       (unsigned long long)t.fates[CL_SIM_DROP_STREAM_FAIL],
	       (unsigned long long)t.fates[CL_SIM_DROP_DOWN],
	       (unsigned long long)t.held, (unsigned long long)in_flight,
	       (unsigned long long)unmatched);
	CHECK_EQ_INT(t.bad, 0);
	CHECK_EQ_INT(unmatched, 0);
	CHECK(in_flight <= 2 * NODES);
	/* The tracer's counts are the simulator's. */
	CHECK_EQ_INT(t.fates[CL_SIM_FED], m.delivered);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_LOSS], m.drop_loss);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_PARTITION], m.drop_partition);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_BLOCK], m.drop_block);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_DOWN], m.drop_down);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_UNROUTABLE], m.drop_unroutable);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_PAUSED], m.drop_paused);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_CORRUPT], m.drop_corrupt);
	CHECK_EQ_INT(t.fates[CL_SIM_DROP_STREAM_FAIL], m.drop_stream_fail);
	/* Sends: each is one SENT per copy (a duplicate adds one) or one
	 * drop when it never left. */
	uint64_t at_send = t.fates[CL_SIM_SENT] + m.drop_loss +
			   m.drop_partition + m.drop_block + m.drop_corrupt +
			   m.drop_stream_fail + m.drop_unroutable +
			   t.down_at_send;
	CHECK_EQ_INT(at_send, m.packets + m.dup);
	/* Every kind of fate the run was built to cause happened. */
	CHECK(t.fates[CL_SIM_DROP_LOSS] > 0 && t.fates[CL_SIM_DROP_CORRUPT] > 0);
	CHECK(t.fates[CL_SIM_DROP_PARTITION] > 0 && t.fates[CL_SIM_DROP_BLOCK] > 0);
	CHECK(t.fates[CL_SIM_DROP_STREAM_FAIL] > 0 && t.held > 0);
	CHECK(t.fates[CL_SIM_DROP_DOWN] > 0 && m.dup > 0 && m.cut > 0);
	free(t.sent);
	free(t.ended);
	free(t.arrives);
}

/* Tracing reads and changes nothing: the same seed gives the same run,
 * traced or not, and the same trace twice. */
static void test_tracing_changes_nothing(void)
{
	check_seed = 4243;
	struct event_hash e1 = {0xcbf29ce484222325ull, 0}, e2 = e1, e3 = e1;
	struct tally t1 = {.sent = calloc(MAX_ID, 1), .ended = calloc(MAX_ID, 1),
			   .arrives = calloc(MAX_ID, sizeof(cl_usec)),
			   .hash = 0xcbf29ce484222325ull};
	struct tally t2 = {.sent = calloc(MAX_ID, 1), .ended = calloc(MAX_ID, 1),
			   .arrives = calloc(MAX_ID, sizeof(cl_usec)),
			   .hash = 0xcbf29ce484222325ull};
	CHECK(t1.sent && t1.ended && t1.arrives && t2.sent && t2.ended &&
	      t2.arrives);
	cl_sim_metrics m1, m2, m3;
	run(check_seed, &t1, &e1, &m1);
	run(check_seed, &t2, &e2, &m2);
	run(check_seed, NULL, &e3, &m3);
	CHECK(e1.events > 0);
	CHECK(e1.hash == e3.hash && e1.events == e3.events);
	CHECK(m1.packets == m3.packets && m1.bytes == m3.bytes &&
	      m1.delivered == m3.delivered && m1.drop_loss == m3.drop_loss);
	CHECK(t1.hash == t2.hash && t1.records == t2.records);
	CHECK(e1.hash == e2.hash);
	free(t1.sent);
	free(t1.ended);
	free(t1.arrives);
	free(t2.sent);
	free(t2.ended);
	free(t2.arrives);
}

static void test_describe(void)
{
	check_seed = 0;
	uint8_t buf[512];
	char text[512];
	cl_wbuf w;
	cl_addr a = cl_addr_v4(10, 0, 0, 8, 7946);
	CHECK(cl_wire_begin(&w, buf, sizeof buf, "", 0));
	CHECK(cl_wire_put_ping(&w, 7, (cl_bytes){(const uint8_t *)"n5", 2},
			       (cl_bytes){(const uint8_t *)"n0", 2}, &a, 0x1234,
			       6));
	CHECK(cl_wire_put_alive(&w, 43, CL_SIM_EPOCH_MS + 42873,
				(cl_bytes){(const uint8_t *)"n5", 2}, &a,
				(cl_bytes){NULL, 0}));
	CHECK(cl_wire_put_accuse(&w, CL_MSG_SUSPECT, 9,
				 (cl_bytes){(const uint8_t *)"n3", 2},
				 (cl_bytes){(const uint8_t *)"n1", 2}));
	size_t len = w.len;
	cl_sim_trace_describe(text, sizeof text, buf, len, false, "");
	printf("  %s\n", text);
	CHECK(strstr(text, "ping seq=7 target=n5 n=6") != NULL);
	CHECK(strstr(text, "from=n0 10.0.0.8:7946") != NULL);
	CHECK(strstr(text, "alive n5 alive@43 10.0.0.8:7946 start=42.873") !=
	      NULL);
	CHECK(strstr(text, "suspect n3@9 by n1") != NULL);
	/* Cut short: said so, nothing invented. */
	cl_sim_trace_describe(text, sizeof text, buf, len - 3, false, "");
	CHECK(strncmp(text, "undecodable: ", 13) == 0);
	/* Another cluster's label. */
	cl_sim_trace_describe(text, sizeof text, buf, len, false, "other");
	CHECK(strncmp(text, "undecodable: ", 13) == 0);
	/* A small buffer: truncated, terminated. */
	memset(text, 'x', sizeof text);
	cl_sim_trace_describe(text, 16, buf, len, false, "");
	CHECK(strlen(text) == 15);
	for (int f = 0; f < CL_SIM_FATE__COUNT; f++)
		CHECK(cl_sim_fate_name((enum cl_sim_fate)f) != NULL &&
		      strcmp(cl_sim_fate_name((enum cl_sim_fate)f), "?") != 0);
}

int main(void)
{
	RUN_TEST(test_every_copy_has_one_end);
	RUN_TEST(test_tracing_changes_nothing);
	RUN_TEST(test_describe);
	return 0;
}
