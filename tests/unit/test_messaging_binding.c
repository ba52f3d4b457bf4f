/*
 * test_messaging_binding.c — who may answer a multicall (messaging.h):
 * two nodes on a hand-driven network; the test holds back the callee's
 * genuine reply and first feeds the caller forgeries with the call's id
 * (seen on the wire): from a member that was not called, and from the
 * callee but with another id.  The caller takes neither (replies_refused
 * counts them) and then takes the genuine one.  Call ids are random: over
 * many calls, never 0, never repeated back to back, never consecutive.
 *
 * Calls answered later (cloister_call_defer): B's handler for "later"
 * keeps every call and returns; 20 calls from A all reach it while none
 * is answered (a handler that waited would hold the driving thread at the
 * first), only user_queue_max (16) are kept, the rest refused (answered at
 * once, with the handler's *reply: empty); the test's
 * own thread answers the kept ones out of order and each caller gets its
 * own answer, drops one (the caller sees B missing), and answers one after
 * B was freed (CLOISTER_ESTATE, nothing touched).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "cloister.h"
#include "core/wire.h"

#define NODES 2
#define QMAX 4096
#define APP "mb"
#define KEEP_MAX 16 /* user_queue_max */

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
	pthread_mutex_t lock; /* sends come from the driver and the caller */
	struct packet q[QMAX];
	size_t head, tail;
	bool hold_replies;     /* B's USER replies to A are held back */
	struct packet held[64];
	size_t n_held;
	atomic_uint call_ids[256]; /* CALL ids seen from A to B */
	atomic_size_t n_calls;
	int64_t now;
	atomic_int stop;
};

struct sendctx {
	struct net *net;
	int self;
};

/* The USER message of a packet, if it holds one. */
static bool user_of(const uint8_t *buf, size_t len, cl_wire_msg *out)
{
	cl_wire_msg msgs[CL_WIRE_MAX_MSGS];
	int n = cl_wire_parse(buf, len, APP, strlen(APP), CL_WIRE_STREAM_MAX,
			      true, msgs, CL_WIRE_MAX_MSGS);
	for (int i = 0; i < n; i++)
		if (msgs[i].type == CL_MSG_USER) {
			*out = msgs[i];
			return true;
		}
	return false;
}

static void enqueue(struct net *n, int to, const char *from, const void *buf,
		    size_t len, int stream)
{
	if (n->tail - n->head >= QMAX || len > sizeof n->q[0].buf)
		return;
	struct packet *p = &n->q[n->tail++ % QMAX];
	p->to = to;
	snprintf(p->from, sizeof p->from, "%s", from);
	p->stream = stream;
	p->len = len;
	memcpy(p->buf, buf, len);
}

static void net_send(void *arg, const char *to, const void *buf, size_t len,
		     int stream)
{
	struct sendctx *sc = arg;
	struct net *n = sc->net;
	pthread_mutex_lock(&n->lock);
	for (int i = 0; i < NODES; i++) {
		if (strcmp(n->addr[i], to) != 0)
			continue;
		cl_wire_msg m;
		if (user_of(buf, len, &m)) {
			if (sc->self == 0 && m.u.user.kind == CL_USER_CALL) {
				size_t k = atomic_fetch_add(&n->n_calls, 1);
				if (k < 256)
					atomic_store(&n->call_ids[k], m.u.user.id);
			}
			if (sc->self == 1 && m.u.user.kind == CL_USER_REPLY &&
			    n->hold_replies && n->n_held < 64 && len <= 2048) {
				struct packet *h = &n->held[n->n_held++];
				h->to = i;
				snprintf(h->from, sizeof h->from, "%s",
					 n->addr[1]);
				h->stream = stream;
				h->len = len;
				memcpy(h->buf, buf, len);
				break;
			}
		}
		enqueue(n, i, n->addr[sc->self], buf, len, stream);
		break;
	}
	pthread_mutex_unlock(&n->lock);
}

static void net_run(struct net *n, int64_t us)
{
	int64_t end = n->now + us;
	while (n->now < end) {
		n->now += 1000;
		for (;;) {
			pthread_mutex_lock(&n->lock);
			bool have = n->head < n->tail;
			struct packet p;
			if (have)
				p = n->q[n->head++ % QMAX];
			pthread_mutex_unlock(&n->lock);
			if (!have)
				break;
			cloister_feed(n->node[p.to], n->now, p.from, p.buf, p.len,
				      p.stream);
		}
		for (int i = 0; i < NODES; i++)
			if (cloister_next_deadline(n->node[i]) <= n->now)
				cloister_tick(n->node[i], n->now);
	}
}

static void *driver(void *arg)
{
	struct net *n = arg;
	for (int i = 0; i < 600000 && !atomic_load(&n->stop); i++) {
		net_run(n, 1000);
		usleep(100);
	}
	return NULL;
}

static void answer(void *arg, const char *topic, const char *from,
		   const void *payload, size_t len, void **reply,
		   size_t *reply_len)
{
	if (reply) {
		*reply = strdup("genuine");
		*reply_len = 7;
	}
}

/* B's calls on "later": kept, in the order they came. */
static struct kept {
	pthread_mutex_t lock;
	cloister_call *calls[64];
	char payload[64][16];
	size_t n, refused, seen;
	bool cast_kept; /* cloister_call_defer gave a handle for a cast */
	bool twice_other; /* asked twice, it gave another handle */
} kept = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void keep(void *arg, const char *topic, const char *from,
		 const void *payload, size_t len, void **reply,
		 size_t *reply_len)
{
	(void)topic, (void)from, (void)reply_len;
	cloister_call *k = cloister_call_defer(arg);
	pthread_mutex_lock(&kept.lock);
	kept.seen++;
	if (!reply) {
		kept.cast_kept |= k != NULL;
	} else if (!k) {
		kept.refused++;
	} else {
		/* Checked on the test's thread (check.h counts unlocked). */
		kept.twice_other |= cloister_call_defer(arg) != k;
		if (kept.n < 64) {
			snprintf(kept.payload[kept.n], sizeof kept.payload[0],
				 "%.*s", (int)len, (const char *)payload);
			kept.calls[kept.n++] = k;
		}
	}
	pthread_mutex_unlock(&kept.lock);
}

struct call_arg {
	cloister_t *node;
	const char *topic;
	char payload[16];
	int timeout_ms;
	cloister_multicall_result *res;
	int rc;
};

static void *call(void *arg)
{
	struct call_arg *c = arg;
	c->rc = cloister_multicall(c->node, c->topic ? c->topic : "t",
				   c->topic ? c->payload : "q",
				   c->topic ? strlen(c->payload) : 1,
				   c->timeout_ms ? c->timeout_ms : 5000,
				   &c->res);
	return NULL;
}

/* B's reply in r, or NULL. */
static const cloister_reply *reply_of(const cloister_multicall_result *r,
				      const char *member)
{
	for (size_t i = 0; i < r->n_replies; i++)
		if (!strcmp(r->replies[i].member, member))
			return &r->replies[i];
	return NULL;
}

static uint64_t counter(cloister_t *c, const char *name)
{
	cloister_counter cs[128];
	size_t n = 0;
	CHECK_EQ_INT(cloister_counters(c, cs, 128, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].name, name))
			return cs[i].value;
	CHECK_FAIL("no counter %s", name);
	return 0;
}

/* A REPLY as `sender` would send it. */
static size_t forge_reply(uint8_t *buf, size_t cap, uint32_t id,
			  const char *sender, const char *payload)
{
	cl_wbuf w;
	CHECK(cl_wire_begin(&w, buf, cap, APP, strlen(APP)));
	CHECK(cl_wire_put_user(&w, CL_USER_REPLY, id,
			       (cl_bytes){(const uint8_t *)"t", 1},
			       (cl_bytes){(const uint8_t *)sender, strlen(sender)},
			       (cl_bytes){(const uint8_t *)payload,
					  strlen(payload)}));
	return w.len;
}

static struct net n;
static struct sendctx sc[NODES];

static void start(void)
{
	pthread_mutex_init(&n.lock, NULL);
	for (int i = 0; i < NODES; i++) {
		cloister_config_t *cfg = cloister_config_new();
		snprintf(n.addr[i], sizeof n.addr[i], "127.0.0.%d:7946", i + 1);
		CHECK_EQ_INT(cloister_config_set(cfg, "app", APP), 0);
		CHECK_EQ_INT(cloister_config_set(cfg, "advertise", n.addr[i]), 0);
		CHECK_EQ_INT(cloister_config_set(cfg, "consensus", "2"), 0);
		CHECK_EQ_INT(cloister_config_set(cfg, "user_queue_max", "16"), 0);
		int err = 0;
		n.node[i] = cloister_new(cfg, &err);
		CHECK(n.node[i] != NULL);
		cloister_config_free(cfg);
		sc[i] = (struct sendctx){&n, i};
		CHECK_EQ_INT(cloister_set_transport(n.node[i], net_send, &sc[i]), 0);
		CHECK_EQ_INT(cloister_start(n.node[i]), 0);
	}
	/* Both answer (a multicall includes the caller): calls end as soon
	 * as the replies are in. */
	for (int i = 0; i < NODES; i++)
		CHECK_EQ_INT(cloister_handle(n.node[i], "t", answer, NULL), 0);
	CHECK_EQ_INT(cloister_handle(n.node[0], "later", answer, NULL), 0);
	CHECK_EQ_INT(cloister_handle(n.node[1], "later", keep, n.node[1]), 0);
	n.now = cloister_now_us();
	const char *seed = n.addr[0];
	CHECK_EQ_INT(cloister_join(n.node[1], n.now, &seed, 1), 0);
}

static void test_forged_replies(void)
{
	pthread_t t;
	CHECK_EQ_INT(pthread_create(&t, NULL, driver, &n), 0);
	for (int i = 0; i < NODES; i++)
		CHECK_EQ_INT(cloister_wait_ready(n.node[i], 30000), 0);

	pthread_mutex_lock(&n.lock);
	n.hold_replies = true;
	pthread_mutex_unlock(&n.lock);
	size_t calls0 = atomic_load(&n.n_calls);
	struct call_arg ca = {.node = n.node[0], .rc = -1};
	pthread_t caller;
	CHECK_EQ_INT(pthread_create(&caller, NULL, call, &ca), 0);
	/* The call goes out and B answers it; its answer is held. */
	bool held = false;
	for (int i = 0; i < 500 && !held; i++) {
		usleep(10000);
		pthread_mutex_lock(&n.lock);
		held = n.n_held > 0;
		pthread_mutex_unlock(&n.lock);
	}
	CHECK(held);
	CHECK(atomic_load(&n.n_calls) > calls0);
	uint32_t id = atomic_load(&n.call_ids[calls0]);
	uint64_t refused0 = counter(n.node[0], "replies_refused");

	/* Forgeries, each fed to A as if from B's address. */
	uint8_t buf[512];
	const char *b = cloister_name(n.node[1]);
	pthread_mutex_lock(&n.lock);
	size_t len = forge_reply(buf, sizeof buf, id, "mb@127.0.0.9", "forged");
	enqueue(&n, 0, n.addr[1], buf, len, 0); /* not a member called */
	len = forge_reply(buf, sizeof buf, id + 1, b, "forged");
	enqueue(&n, 0, n.addr[1], buf, len, 0); /* the callee, another id */
	len = forge_reply(buf, sizeof buf, id ^ 0x80000000u, b, "forged");
	enqueue(&n, 0, n.addr[1], buf, len, 0);
	pthread_mutex_unlock(&n.lock);
	bool counted = false;
	for (int i = 0; i < 300 && !counted; i++) {
		usleep(10000);
		counted = counter(n.node[0], "replies_refused") >= refused0 + 3;
	}
	CHECK(counted);
	/* Now the genuine one. */
	pthread_mutex_lock(&n.lock);
	n.hold_replies = false;
	for (size_t i = 0; i < n.n_held; i++)
		enqueue(&n, n.held[i].to, n.held[i].from, n.held[i].buf,
			n.held[i].len, n.held[i].stream);
	n.n_held = 0;
	pthread_mutex_unlock(&n.lock);
	pthread_join(caller, NULL);
	CHECK_EQ_INT(ca.rc, 0);
	CHECK(ca.res != NULL);
	size_t from_b = 0;
	for (size_t i = 0; i < ca.res->n_replies; i++) {
		const cloister_reply *r = &ca.res->replies[i];
		CHECK(strcmp(r->member, "mb@127.0.0.9") != 0);
		if (!strcmp(r->member, b)) {
			from_b++;
			CHECK_EQ_INT(r->len, 7);
			CHECK(memcmp(r->payload, "genuine", 7) == 0);
		}
	}
	CHECK_EQ_INT(from_b, 1);
	cloister_multicall_free(ca.res);

	/* Ids: 40 more calls (B answers at once now). */
	for (int k = 0; k < 40; k++) {
		cloister_multicall_result *res = NULL;
		CHECK_EQ_INT(cloister_multicall(n.node[0], "t", "q", 1, 2000, &res),
			     0);
		cloister_multicall_free(res);
	}
	size_t total = atomic_load(&n.n_calls);
	CHECK(total >= calls0 + 41);
	size_t near = 0;
	for (size_t i = calls0; i < total && i < 256; i++) {
		uint32_t a = atomic_load(&n.call_ids[i]);
		CHECK(a != 0);
		if (i > calls0) {
			uint32_t p = atomic_load(&n.call_ids[i - 1]);
			CHECK(a != p);
			/* Sequential ids would all be 1 apart. */
			near += a - p == 1 || p - a == 1;
		}
	}
	CHECK_EQ_INT(near, 0);
	atomic_store(&n.stop, 1);
	pthread_join(t, NULL);
}

static size_t kept_count(size_t *seen, size_t *refused)
{
	pthread_mutex_lock(&kept.lock);
	size_t k = kept.n;
	*seen = kept.seen;
	*refused = kept.refused;
	pthread_mutex_unlock(&kept.lock);
	return k;
}

#define LATER_CALLS 20

static void test_calls_answered_later(void)
{
	atomic_store(&n.stop, 0);
	pthread_t t;
	CHECK_EQ_INT(pthread_create(&t, NULL, driver, &n), 0);
	const char *b = cloister_name(n.node[1]);
	CHECK(cloister_call_defer(n.node[1]) == NULL); /* not in a handler */

	/* 20 calls at once; B keeps each and answers none yet. */
	static struct call_arg ca[LATER_CALLS];
	pthread_t th[LATER_CALLS];
	for (int i = 0; i < LATER_CALLS; i++) {
		ca[i] = (struct call_arg){.node = n.node[0], .topic = "later",
					  .timeout_ms = 3000, .rc = -1};
		snprintf(ca[i].payload, sizeof ca[i].payload, "q%d", i);
		CHECK_EQ_INT(pthread_create(&th[i], NULL, call, &ca[i]), 0);
		usleep(2000); /* A's outbound queue holds 16 too */
	}
	size_t seen = 0, refused = 0, k = 0;
	for (int i = 0; i < 500 && seen < LATER_CALLS; i++) {
		usleep(10000);
		k = kept_count(&seen, &refused);
	}
	printf("    B's handler saw %zu calls with none answered: %zu kept, "
	       "%zu refused\n", seen, k, refused);
	CHECK_EQ_INT(seen, LATER_CALLS);
	CHECK_EQ_INT(k, KEEP_MAX);
	CHECK_EQ_INT(refused, LATER_CALLS - KEEP_MAX);
	CHECK_EQ_INT(counter(n.node[1], "calls_deferred"), KEEP_MAX);
	CHECK_EQ_INT(counter(n.node[1], "calls_defer_refused"),
		     LATER_CALLS - KEEP_MAX);
	/* A cast on the topic runs the handler too; no handle for it. */
	CHECK_EQ_INT(cloister_multicast(n.node[0], "later", "c", 1, NULL, 0), 1);
	for (int i = 0; i < 300; i++) {
		usleep(10000);
		if (kept_count(&seen, &refused) && seen > LATER_CALLS)
			break;
	}
	CHECK(seen > LATER_CALLS);
	pthread_mutex_lock(&kept.lock);
	bool cast_kept = kept.cast_kept, twice_other = kept.twice_other;
	pthread_mutex_unlock(&kept.lock);
	CHECK(!cast_kept);
	CHECK(!twice_other); /* asked twice in a handler: the same handle */

	/* From this thread, last kept first: each echoes its own payload.
	 * The first kept is dropped; the second is kept past B's end. */
	for (size_t i = KEEP_MAX; i-- > 2;) {
		char r[24];
		int len = snprintf(r, sizeof r, "re:%s", kept.payload[i]);
		CHECK_EQ_INT(cloister_call_answer(kept.calls[i], r, (size_t)len),
			     0);
	}
	cloister_call_drop(kept.calls[0]);
	CHECK_EQ_INT(counter(n.node[1], "calls_deferred_dropped"), 1);
	size_t answered = 0, empty = 0, missing = 0;
	for (int i = 0; i < LATER_CALLS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(ca[i].rc, 0);
		const cloister_reply *r = reply_of(ca[i].res, b);
		if (r && r->len == 0) {
			empty++; /* refused: the handler set no *reply */
		} else if (r) {
			char want[24];
			int len = snprintf(want, sizeof want, "re:%s",
					   ca[i].payload);
			CHECK_EQ_INT(r->len, (size_t)len);
			CHECK(!memcmp(r->payload, want, r->len));
			answered++;
		} else {
			missing++;
		}
		cloister_multicall_free(ca[i].res);
	}
	printf("    callers: %zu answered later by B, each with its own "
	       "payload; %zu answered at once, empty; %zu without B's answer\n",
	       answered, empty, missing);
	CHECK_EQ_INT(answered, KEEP_MAX - 2);
	CHECK_EQ_INT(empty, LATER_CALLS - KEEP_MAX);
	CHECK_EQ_INT(missing, 2);

	atomic_store(&n.stop, 1);
	pthread_join(t, NULL);
	for (int i = 0; i < NODES; i++)
		cloister_free(n.node[i]);
	/* B is gone: the handle is only freed (ASan sees any touch). */
	CHECK_EQ_INT(cloister_call_answer(kept.calls[1], "late", 4),
		     CLOISTER_ESTATE);
	CHECK_EQ_INT(cloister_call_answer(NULL, "x", 1), CLOISTER_EINVAL);
	cloister_call_drop(NULL);
}

int main(void)
{
	setenv("CLOISTER_QUIET", "1", 1);
	start();
	RUN_TEST(test_forged_replies);
	RUN_TEST(test_calls_answered_later);
	printf("test_messaging_binding: %d checks passed\n", check_count);
	return 0;
}
