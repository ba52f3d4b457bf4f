/*
 * test_api.c — the public API (include/cloister.h) used as a program
 * would: configuration errors, Cloister's nonode development mode, and
 * three nodes driven by hand over an in-test network, with a listener,
 * placement and cloister_wait_ready() across threads.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "cloister.h"

/* ------------------------------------------------------------------ */
/* Recording listener                                                  */
/* ------------------------------------------------------------------ */

struct rec {
	cloister_state from[64], to[64];
	size_t n_states;
	unsigned joined, failed, left;
	char sentry[CLOISTER_NAME_MAX + 1];
	size_t alive_at_ready;
};

static void on_state(void *arg, cloister_state from, cloister_state to,
		     const cloister_snapshot *s)
{
	struct rec *r = arg;
	if (r->n_states < 64) {
		r->from[r->n_states] = from;
		r->to[r->n_states] = to;
		r->n_states++;
	}
	if (to == CLOISTER_READY)
		r->alive_at_ready = s->alive;
}

static void on_member(void *arg, cloister_member_event ev,
		      const cloister_member *m)
{
	struct rec *r = arg;
	r->joined += ev == CLOISTER_MEMBER_JOINED;
	r->failed += ev == CLOISTER_MEMBER_FAILED;
	r->left += ev == CLOISTER_MEMBER_LEFT_EVENT;
	(void)m;
}

static void on_sentry(void *arg, const char *sentry)
{
	struct rec *r = arg;
	snprintf(r->sentry, sizeof r->sentry, "%s", sentry);
}

/* ------------------------------------------------------------------ */

static void test_config_errors(void)
{
	cloister_config_t *cfg = cloister_config_new();
	CHECK(cfg != NULL);
	CHECK_EQ_INT(cloister_config_set(cfg, "consensus", "0"), CLOISTER_EINVAL);
	CHECK(strstr(cloister_config_error(cfg), "consensus") != NULL);
	CHECK_EQ_INT(cloister_config_set(cfg, "consensus", "majority:"),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cloister_config_set(cfg, "consensus", "majority:5"), 0);
	CHECK_EQ_INT(cloister_config_set(cfg, "profile", "fast"), CLOISTER_EINVAL);
	CHECK_EQ_INT(cloister_config_set(cfg, "advertise", "nowhere"),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cloister_config_set(cfg, "tag", "novalue"), CLOISTER_EINVAL);
	CHECK_EQ_INT(cloister_config_set(cfg, "tag", "=x"), CLOISTER_EINVAL);
	CHECK_EQ_INT(cloister_config_set(cfg, "bogus", "1"), CLOISTER_EINVAL);
	CHECK(strstr(cloister_config_error(cfg), "bogus") != NULL);
	CHECK_EQ_INT(cloister_config_set(cfg, "name", "bad\nname"),
		     CLOISTER_EINVAL);
	/* nonode (no advertise) cannot wait for anyone: majority is refused. */
	int err = 0;
	CHECK(cloister_new(cfg, &err) == NULL);
	CHECK_EQ_INT(err, CLOISTER_EINVAL);
	CHECK_STR_EQ(cloister_strerror(CLOISTER_EINVAL), "invalid argument");
	CHECK_STR_EQ(cloister_strerror(12345), "unknown error");
	cloister_config_free(cfg);
}

static void test_nonode(void)
{
	cloister_config_t *cfg = cloister_config_new();
	CHECK_EQ_INT(cloister_config_set(cfg, "app", "shop"), 0);
	CHECK_EQ_INT(cloister_config_set(cfg, "tag", "zone=a"), 0);
	CHECK_EQ_INT(cloister_config_set(cfg, "tag", "zone=b"), 0); /* replaces */
	int err = 0;
	cloister_t *c = cloister_new(cfg, &err);
	cloister_config_free(cfg);
	CHECK(c != NULL);
	struct rec r = {0};
	cloister_listener l = {&r, on_state, on_member, on_sentry};
	CHECK_EQ_INT(cloister_set_listener(c, &l), 0);
	CHECK_EQ_INT(cloister_status(c), CLOISTER_DOWN);
	CHECK_EQ_INT(cloister_wait_ready(c, 0), CLOISTER_ETIMEDOUT);
	CHECK_EQ_INT(cloister_start(c), 0);
	CHECK_EQ_INT(cloister_wait_ready(c, 0), 0);
	CHECK_EQ_INT(r.n_states, 3);
	CHECK_EQ_INT(r.to[0], CLOISTER_ASSEMBLING);
	CHECK_EQ_INT(r.to[1], CLOISTER_REHASHING);
	CHECK_EQ_INT(r.to[2], CLOISTER_READY);
	CHECK_EQ_INT(r.alive_at_ready, 1);
	CHECK_STR_EQ(r.sentry, "shop@nohost");

	cloister_snapshot *s;
	CHECK_EQ_INT(cloister_snapshot_get(c, &s), 0);
	CHECK_STR_EQ(s->node, "shop@nohost");
	CHECK_STR_EQ(s->sentry, "shop@nohost");
	CHECK_EQ_INT(s->state, CLOISTER_READY);
	CHECK_EQ_INT(s->n_rings, 1);
	CHECK_STR_EQ(s->rings[0].name, "");
	CHECK_EQ_INT(s->rings[0].members, 1);
	cloister_snapshot_free(s);

	char owner[CLOISTER_NAME_MAX + 1];
	CHECK_EQ_INT(cloister_whois(c, NULL, "order-1", 7, owner), 0);
	CHECK_STR_EQ(owner, "shop@nohost");
	CHECK_EQ_INT(cloister_mine(c, "", "order-1", 7), 1);
	CHECK_EQ_INT(cloister_whois(c, "nosuchring", "k", 1, owner),
		     CLOISTER_ENOENT);

	cloister_member *m;
	size_t n;
	CHECK_EQ_INT(cloister_members(c, &m, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_STR_EQ(m[0].name, "shop@nohost");
	CHECK_EQ_INT(m[0].n_tags, 1);
	CHECK_STR_EQ(m[0].tags[0].key, "zone");
	CHECK_STR_EQ(m[0].tags[0].value, "b");
	CHECK_EQ_INT(m[0].status, CLOISTER_MEMBER_ALIVE);
	cloister_members_free(m, n);

	CHECK_EQ_INT(cloister_join(c, 0, NULL, 0), CLOISTER_ESTATE);
	CHECK_EQ_INT(cloister_leave(c), 0);
	CHECK_EQ_INT(cloister_status(c), CLOISTER_STOPPED);
	CHECK_EQ_INT(r.to[r.n_states - 2], CLOISTER_STOPPING);
	CHECK_EQ_INT(r.to[r.n_states - 1], CLOISTER_STOPPED);
	cloister_free(c);
}

/* ------------------------------------------------------------------ */
/* Three nodes driven by hand                                          */
/* ------------------------------------------------------------------ */

#define NODES 3
#define QMAX 4096

struct packet {
	int to;
	char from[64];
	int stream;
	size_t len;
	uint8_t buf[2048];
};

struct net {
	cloister_t *node[NODES];
	char addr[NODES][32];
	struct packet q[QMAX];
	size_t head, tail;
	int sender; /* the node currently being driven */
	int64_t now;
	atomic_int stop; /* the driver thread's signal to end */
	atomic_int stop_reader; /* name_reader's */
};

struct sendctx {
	struct net *net;
	int self;
};

static void net_send(void *arg, const char *to, const void *buf, size_t len,
		     int stream)
{
	struct sendctx *sc = arg;
	struct net *n = sc->net;
	for (int i = 0; i < NODES; i++) {
		if (strcmp(n->addr[i], to) != 0)
			continue;
		if (n->tail - n->head >= QMAX || len > sizeof n->q[0].buf)
			return; /* a full network drops, like a real one */
		struct packet *p = &n->q[n->tail++ % QMAX];
		p->to = i;
		memcpy(p->from, n->addr[sc->self], sizeof n->addr[0]);
		p->stream = stream;
		p->len = len;
		memcpy(p->buf, buf, len);
		return;
	}
}

/* Runs the network for `us` virtual microseconds in 1 ms steps. */
static void net_run(struct net *n, int64_t us)
{
	int64_t end = n->now + us;
	while (n->now < end) {
		n->now += 1000;
		size_t stop = n->tail;
		while (n->head < stop) {
			struct packet *p = &n->q[n->head++ % QMAX];
			cloister_feed(n->node[p->to], n->now, p->from, p->buf,
				      p->len, p->stream);
		}
		for (int i = 0; i < NODES; i++)
			if (cloister_next_deadline(n->node[i]) <= n->now)
				cloister_tick(n->node[i], n->now);
	}
}

static void *driver(void *arg)
{
	struct net *n = arg;
	for (int i = 0; i < 60000 && !atomic_load(&n->stop); i++)
		net_run(n, 1000);
	return NULL;
}

/* Reads the third node's name while the nodes run and while it leaves:
 * the name is the caller's to read at any time (the agent's HTTP thread
 * serves it in /v1/status).  It came from the node's own member record,
 * whose bits the node thread rewrites as it gossips and leaves, and
 * ThreadSanitizer reported the read as a race (CI, test_api_security). */
static void *name_reader(void *arg)
{
	struct net *n = arg;
	long mismatches = 0;
	for (long i = 0; i < 100000000 && !atomic_load(&n->stop_reader); i++)
		if (strcmp(cloister_name(n->node[2]), "test@127.0.0.3") != 0)
			mismatches++;
	return (void *)mismatches;
}

static void test_three_nodes_by_hand(void)
{
	static struct net n;
	static struct sendctx sc[NODES];
	struct rec r[NODES];
	memset(r, 0, sizeof r);
	for (int i = 0; i < NODES; i++) {
		cloister_config_t *cfg = cloister_config_new();
		snprintf(n.addr[i], sizeof n.addr[i], "127.0.0.%d:7946", i + 1);
		CHECK_EQ_INT(cloister_config_set(cfg, "app", "test"), 0);
		CHECK_EQ_INT(cloister_config_set(cfg, "advertise", n.addr[i]), 0);
		CHECK_EQ_INT(cloister_config_set(cfg, "consensus", "3"), 0);
		if (i == 2)
			CHECK_EQ_INT(cloister_config_set(cfg, "tag", "groups=db"), 0);
		int err = 0;
		n.node[i] = cloister_new(cfg, &err);
		CHECK(n.node[i] != NULL);
		cloister_config_free(cfg);
		sc[i] = (struct sendctx){&n, i};
		CHECK_EQ_INT(cloister_set_transport(n.node[i], net_send, &sc[i]), 0);
		cloister_listener l = {&r[i], on_state, on_member, on_sentry};
		cloister_set_listener(n.node[i], &l);
		CHECK_EQ_INT(cloister_start(n.node[i]), 0);
	}
	/* Nobody joined yet: assembling, not ready. */
	for (int i = 0; i < NODES; i++)
		CHECK_EQ_INT(cloister_status(n.node[i]), CLOISTER_ASSEMBLING);
	/* Virtual time runs on from the library's clock, faster than it. */
	n.now = cloister_now_us();
	const char *seed = n.addr[0];
	for (int i = 1; i < NODES; i++)
		CHECK_EQ_INT(cloister_join(n.node[i], n.now, &seed, 1), 0);

	/* A driver thread runs the network; this thread waits for ready. */
	pthread_t t, reader;
	CHECK_EQ_INT(pthread_create(&t, NULL, driver, &n), 0);
	CHECK_EQ_INT(pthread_create(&reader, NULL, name_reader, &n), 0);
	for (int i = 0; i < NODES; i++)
		CHECK_EQ_INT(cloister_wait_ready(n.node[i], 30000), 0);
	atomic_store(&n.stop, 1);
	pthread_join(t, NULL);

	for (int i = 0; i < NODES; i++) {
		CHECK_EQ_INT(r[i].alive_at_ready, 3);
		CHECK_EQ_INT(r[i].to[0], CLOISTER_ASSEMBLING);
		CHECK_EQ_INT(r[i].joined, 3);
	}
	/* Same owner everywhere, for the default and the "db" ring. */
	for (int k = 0; k < 200; k++) {
		char key[16], o0[CLOISTER_NAME_MAX + 1], oi[CLOISTER_NAME_MAX + 1];
		int len = snprintf(key, sizeof key, "k%d", k);
		CHECK_EQ_INT(cloister_whois(n.node[0], NULL, key, (size_t)len, o0), 0);
		for (int i = 1; i < NODES; i++) {
			CHECK_EQ_INT(cloister_whois(n.node[i], NULL, key,
						    (size_t)len, oi), 0);
			CHECK_STR_EQ(o0, oi);
		}
		CHECK_EQ_INT(cloister_whois(n.node[0], "db", key, (size_t)len, o0), 0);
		CHECK_STR_EQ(o0, "test@127.0.0.3");
	}
	char reps[3][CLOISTER_NAME_MAX + 1];
	CHECK_EQ_INT(cloister_whois_n(n.node[1], NULL, "x", 1, 3, reps), 3);
	CHECK(strcmp(reps[0], reps[1]) && strcmp(reps[1], reps[2]) &&
	      strcmp(reps[0], reps[2]));

	/* Node 2 retags itself while name_reader reads its name: each new
	 * set of tags is a new identity in its own member record. */
	for (int i = 0; i < 40; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", i);
		cloister_tag tags[2] = {{"groups", "db"}, {"round", v}};
		CHECK_EQ_INT(cloister_set_tags(n.node[2], tags, 2), 0);
		net_run(&n, 10 * 1000);
	}

	/* Node 2 leaves: the others hear "left", never "failed", and drop
	 * below consensus. */
	CHECK_EQ_INT(cloister_leave(n.node[2]), 0);
	net_run(&n, 10 * 1000000);
	CHECK_EQ_INT(cloister_status(n.node[2]), CLOISTER_STOPPED);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(r[i].left, 1);
		CHECK_EQ_INT(r[i].failed, 0);
		CHECK_EQ_INT(cloister_status(n.node[i]), CLOISTER_REHASHING);
	}
	atomic_store(&n.stop_reader, 1);
	void *mismatches;
	pthread_join(reader, &mismatches);
	CHECK_EQ_INT((long)mismatches, 0);
	for (int i = 0; i < NODES; i++)
		cloister_free(n.node[i]);
}

int main(void)
{
	setenv("CLOISTER_QUIET", "1", 1); /* the nodes' log lines are not the test's */
	RUN_TEST(test_config_errors);
	RUN_TEST(test_nonode);
	RUN_TEST(test_three_nodes_by_hand);
	return 0;
}
