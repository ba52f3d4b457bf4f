/*
 * test_swim_dayops.c — the core's day-two operations, one core driven
 * packet by packet: tags changed at run time, force-leave of a failed
 * member, and protocol version negotiation (what a node speaks to a peer
 * that advertises a range, or none).
 */
#include "check.h"
#include "cloister.h"
#include "core/swim.h"
#include "core/wire.h"

#include <stdlib.h>

#define LABEL "t"
#define EPOCH_MS 1700000000000ull

struct sent {
	cl_addr to;
	uint64_t to_id;
	bool stream;
	size_t len;
	uint8_t *buf;
};

struct harness {
	cl_swim *s;
	cl_usec now;
	uint64_t rng;
	struct sent sent[4096];
	size_t n_sent;
};

static uint64_t h_rand(void *ctx)
{
	struct harness *h = ctx;
	uint64_t x = h->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static void h_send(void *ctx, const cl_addr *to, uint64_t to_id,
		   const uint8_t *buf, size_t len, bool stream)
{
	struct harness *h = ctx;
	if (h->n_sent == sizeof h->sent / sizeof h->sent[0])
		return;
	struct sent *p = &h->sent[h->n_sent++];
	p->to = *to;
	p->to_id = to_id;
	p->stream = stream;
	p->len = len;
	p->buf = malloc(len);
	CHECK(p->buf != NULL);
	memcpy(p->buf, buf, len);
}

static void h_clear(struct harness *h)
{
	for (size_t i = 0; i < h->n_sent; i++)
		free(h->sent[i].buf);
	h->n_sent = 0;
}

static cl_addr addr_n(unsigned n)
{
	return cl_addr_v4(10, 0, (uint8_t)(n >> 8), (uint8_t)n, 7946);
}

static struct harness *h_new(uint8_t proto_min)
{
	struct harness *h = calloc(1, sizeof *h);
	CHECK(h != NULL);
	h->rng = 7;
	h->now = 1000 * CL_SEC;
	cl_swim_config c;
	memset(&c, 0, sizeof c);
	c.label = LABEL;
	c.name = "me";
	c.addr = addr_n(1);
	c.start_ms = EPOCH_MS;
	c.incarnation = 100;
	c.proto_min = proto_min;
	cl_swim_timing_profile(&c.timing, CL_PROFILE_LAN);
	cl_swim_io io = {.ctx = h, .rand = h_rand, .send = h_send};
	int err = 0;
	h->s = cl_swim_new(&c, &io, h->now, &err);
	CHECK(h->s != NULL);
	return h;
}

static void h_free(struct harness *h)
{
	h_clear(h);
	cl_swim_free(h->s);
	free(h);
}

static void h_drain(struct harness *h)
{
	cl_swim_event ev;
	while (cl_swim_next_event(h->s, &ev))
		;
}

static void h_run(struct harness *h, cl_usec t)
{
	for (int i = 0; i < 1000000; i++) {
		cl_usec d = cl_swim_next_deadline(h->s);
		if (d > t)
			break;
		h->now = d > h->now ? d : h->now;
		cl_swim_tick(h->s, h->now);
	}
	if (t > h->now)
		h->now = t;
}

static cl_bytes B(const char *s)
{
	return (cl_bytes){(const uint8_t *)s, strlen(s)};
}

/* Tag pairs as wire.h encodes them. */
static size_t tags_of(uint8_t *out, const char *const *kv, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 2) {
		size_t kl = strlen(kv[i]), vl = strlen(kv[i + 1]);
		out[o++] = (uint8_t)kl;
		memcpy(out + o, kv[i], kl);
		o += kl;
		out[o++] = (uint8_t)vl;
		memcpy(out + o, kv[i + 1], vl);
		o += vl;
	}
	return o;
}

static uint8_t pkt_buf[1 << 16];

static void feed(struct harness *h, cl_wbuf *w, cl_addr from, bool stream)
{
	cl_swim_feed(h->s, h->now, &from, w->buf, w->len, stream);
}

static cl_wbuf begin(void)
{
	cl_wbuf w;
	CHECK(cl_wire_begin(&w, pkt_buf, sizeof pkt_buf, LABEL, strlen(LABEL)));
	return w;
}

static void feed_alive(struct harness *h, const char *name, uint32_t inc,
		       cl_addr addr, cl_bytes tags)
{
	cl_wbuf w = begin();
	CHECK(cl_wire_put_alive(&w, inc, EPOCH_MS, B(name), &addr, tags));
	feed(h, &w, addr, false);
}

static void feed_accuse(struct harness *h, uint8_t type, const char *name,
			uint32_t inc, const char *accuser)
{
	cl_wbuf w = begin();
	CHECK(cl_wire_put_accuse(&w, type, inc, B(name), B(accuser)));
	feed(h, &w, addr_n(250), false);
}

static uint8_t status_of(struct harness *h, const char *name)
{
	cl_swim_member_view v;
	if (!cl_swim_lookup(h->s, name, strlen(name), &v))
		return 0xff;
	return v.status;
}

/* Every message of the given type the core sent (any destination) since
 * the last clear, passed to fn; returns how many. */
static size_t sent_msgs(struct harness *h, uint8_t type,
			void (*fn)(const cl_wire_msg *m, void *arg), void *arg)
{
	static cl_wire_msg msgs[CL_WIRE_MAX_MSGS];
	size_t n = 0;
	for (size_t i = 0; i < h->n_sent; i++) {
		const struct sent *p = &h->sent[i];
		int k = cl_wire_parse(p->buf, p->len, LABEL, strlen(LABEL),
				      p->stream ? CL_WIRE_STREAM_MAX : 65000,
				      p->stream, msgs, CL_WIRE_MAX_MSGS);
		for (int j = 0; j < k; j++)
			if (msgs[j].type == type) {
				n++;
				if (fn)
					fn(&msgs[j], arg);
			}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Tags at run time                                                    */
/* ------------------------------------------------------------------ */

struct alive_seen {
	uint32_t inc;
	bool new_tags;
};

static void on_alive_me(const cl_wire_msg *m, void *arg)
{
	struct alive_seen *a = arg;
	if (m->u.alive.name.len != 2 || memcmp(m->u.alive.name.ptr, "me", 2))
		return;
	a->inc = m->u.alive.incarnation;
	static const char want[] = "\x06groups\x01x";
	a->new_tags = m->u.alive.tags.len == sizeof want - 1 &&
		      !memcmp(m->u.alive.tags.ptr, want, sizeof want - 1);
}

/* A node's own tags change: an UPDATE event about itself (what the cluster
 * layer rebuilds rings on), a higher incarnation, and an ALIVE carrying the
 * new tags in the next gossip.  Before: no event, so a node's own rings
 * never followed its new groups. */
static void test_set_tags_announces(void)
{
	struct harness *h = h_new(0);
	feed_alive(h, "a", 5, addr_n(2), B(""));
	h_drain(h);
	h_clear(h);
	uint8_t tags[64];
	size_t len = tags_of(tags, (const char *[]){"groups", "x"}, 2);
	CHECK(cl_swim_set_tags(h->s, h->now, tags, len) == 0);
	cl_swim_event ev;
	bool self_update = false;
	while (cl_swim_next_event(h->s, &ev))
		if (ev.type == CL_EV_UPDATE && !strcmp(ev.name, "me") &&
		    ev.tags_len == len && !memcmp(ev.tags, tags, len))
			self_update = true;
	CHECK(self_update);
	CHECK(cl_swim_incarnation(h->s) == 101);
	h_run(h, h->now + 2 * CL_SEC);
	struct alive_seen a = {0, false};
	CHECK(sent_msgs(h, CL_MSG_ALIVE, on_alive_me, &a) > 0);
	CHECK(a.inc == 101 && a.new_tags);
	/* Invalid tags are refused and change nothing. */
	uint8_t bad[] = {0, 1, 'x'};
	CHECK(cl_swim_set_tags(h->s, h->now, bad, sizeof bad) == CLOISTER_EINVAL);
	CHECK(cl_swim_incarnation(h->s) == 101);
	h_free(h);
}

/* ------------------------------------------------------------------ */
/* Force-leave                                                         */
/* ------------------------------------------------------------------ */

struct left_seen {
	bool about_a;
};

static void on_dead_a(const cl_wire_msg *m, void *arg)
{
	struct left_seen *l = arg;
	if (m->u.accuse.member.len == 1 && m->u.accuse.member.ptr[0] == 'a' &&
	    m->u.accuse.accuser.len == 1 && m->u.accuse.accuser.ptr[0] == 'a' &&
	    m->u.accuse.incarnation == 5)
		l->about_a = true;
}

static void test_force_leave(void)
{
	struct harness *h = h_new(0);
	feed_alive(h, "a", 5, addr_n(2), B(""));
	feed_alive(h, "b", 5, addr_n(3), B(""));
	h_drain(h);
	/* Refused: unknown, ourselves, alive. */
	CHECK(cl_swim_force_leave(h->s, h->now, "zz", 2) == CLOISTER_ENOENT);
	CHECK(cl_swim_force_leave(h->s, h->now, "me", 2) == CLOISTER_ESTATE);
	CHECK(cl_swim_force_leave(h->s, h->now, "a", 1) == CLOISTER_ESTATE);
	CHECK(status_of(h, "a") == CL_STATUS_ALIVE);
	/* Suspect: taken to left, with the event, gossiped as its own leave. */
	feed_accuse(h, CL_MSG_SUSPECT, "a", 5, "b");
	CHECK(status_of(h, "a") == CL_STATUS_SUSPECT);
	h_drain(h);
	h_clear(h);
	CHECK(cl_swim_force_leave(h->s, h->now, "a", 1) == 0);
	CHECK(status_of(h, "a") == CL_STATUS_LEFT);
	cl_swim_event ev;
	bool leave_ev = false;
	while (cl_swim_next_event(h->s, &ev))
		leave_ev |= ev.type == CL_EV_LEAVE && !strcmp(ev.name, "a");
	CHECK(leave_ev);
	h_run(h, h->now + 2 * CL_SEC);
	struct left_seen l = {false};
	sent_msgs(h, CL_MSG_DEAD, on_dead_a, &l);
	CHECK(l.about_a);
	/* Left already: refused again; stale words do not bring it back. */
	CHECK(cl_swim_force_leave(h->s, h->now, "a", 1) == CLOISTER_ESTATE);
	feed_accuse(h, CL_MSG_DEAD, "a", 5, "b");
	feed_alive(h, "a", 5, addr_n(2), B(""));
	CHECK(status_of(h, "a") == CL_STATUS_LEFT);
	/* A push-pull from a node that still holds it dead at 5 neither. */
	cl_wbuf w = begin();
	CHECK(cl_wire_pushpull_begin(&w, CL_PUSHPULL_REPLY));
	cl_wire_member wm = {.status = CL_STATUS_DEAD, .incarnation = 5,
			     .start_ms = EPOCH_MS, .name = B("a"),
			     .addr = addr_n(2), .tags = B("")};
	CHECK(cl_wire_pushpull_add(&w, &wm));
	cl_wire_member wb = {.status = CL_STATUS_ALIVE, .incarnation = 5,
			     .start_ms = EPOCH_MS, .name = B("b"),
			     .addr = addr_n(3), .tags = B("")};
	CHECK(cl_wire_pushpull_add(&w, &wb));
	cl_wire_pushpull_end(&w);
	feed(h, &w, addr_n(3), true);
	CHECK(status_of(h, "a") == CL_STATUS_LEFT);
	/* A member that is in fact alive refutes: a higher ALIVE takes it. */
	feed_alive(h, "a", 6, addr_n(2), B(""));
	CHECK(status_of(h, "a") == CL_STATUS_ALIVE);
	/* Dead (our own verdict): allowed too. */
	h_free(h);
}

/* A failed member, as the detector leaves it (no acks), forced out. */
static void test_force_leave_dead(void)
{
	struct harness *h = h_new(0);
	feed_alive(h, "a", 5, addr_n(2), B(""));
	h_drain(h);
	/* Nobody answers: a is suspected, then declared dead. */
	h_run(h, h->now + 120 * CL_SEC);
	CHECK(status_of(h, "a") == CL_STATUS_DEAD);
	CHECK(cl_swim_force_leave(h->s, h->now, "a", 1) == 0);
	CHECK(status_of(h, "a") == CL_STATUS_LEFT);
	CHECK(cl_swim_count(h->s, CL_STATUS_DEAD) == 0);
	h_free(h);
}

/* ------------------------------------------------------------------ */
/* Protocol versions                                                   */
/* ------------------------------------------------------------------ */

static void test_tags_proto_parse(void)
{
	uint8_t t[128], lo, hi;
	size_t n = tags_of(t, (const char *[]){"role", "x", CL_PROTO_TAG, "1-2"}, 4);
	CHECK(cl_swim_tags_proto(t, n, &lo, &hi) && lo == 1 && hi == 2);
	n = tags_of(t, (const char *[]){CL_PROTO_TAG, "2-7"}, 2);
	CHECK(cl_swim_tags_proto(t, n, &lo, &hi) && lo == 2 && hi == 7);
	static const char *const bad[] = {"", "1", "-", "1-", "-2", "2-1",
					   "0-2", "1-2-3", "1-2 ", "a-b",
					   "1000-1001", "1-256"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = tags_of(t, (const char *[]){CL_PROTO_TAG, bad[i]}, 2);
		CHECK(!cl_swim_tags_proto(t, n, &lo, &hi));
	}
	n = tags_of(t, (const char *[]){"role", "x"}, 2);
	CHECK(!cl_swim_tags_proto(t, n, &lo, &hi));
	CHECK(!cl_swim_tags_proto(NULL, 0, &lo, &hi));
}

static uint64_t id_of(const char *name)
{
	return cl_swim_name_id(name, strlen(name));
}

/* The version spoken to each peer: the highest both advertise; a peer
 * advertising nothing gets the oldest this node accepts. */
static void test_peer_proto(void)
{
	uint8_t t[64];
	/* Default: version 2 only. */
	struct harness *h = h_new(0);
	CHECK(cl_swim_proto_min(h->s) == CL_PROTO_MAX);
	size_t n = tags_of(t, (const char *[]){CL_PROTO_TAG, "1-2"}, 2);
	feed_alive(h, "new", 5, addr_n(2), (cl_bytes){t, n});
	feed_alive(h, "old", 5, addr_n(3), B(""));
	n = tags_of(t, (const char *[]){CL_PROTO_TAG, "1-1"}, 2);
	feed_alive(h, "only1", 5, addr_n(4), (cl_bytes){t, n});
	n = tags_of(t, (const char *[]){CL_PROTO_TAG, "2-9"}, 2);
	feed_alive(h, "future", 5, addr_n(5), (cl_bytes){t, n});
	CHECK(cl_swim_peer_proto(h->s, id_of("new")) == 2);
	CHECK(cl_swim_peer_proto(h->s, id_of("old")) == 2);
	CHECK(cl_swim_peer_proto(h->s, id_of("only1")) == 0);
	CHECK(cl_swim_peer_proto(h->s, id_of("future")) == 2);
	CHECK(cl_swim_peer_proto(h->s, id_of("nobody")) == 0);
	h_free(h);
	/* Accepting version 1 (a rolling upgrade): silent peers get 1. */
	h = h_new(CL_PROTO_V1);
	n = tags_of(t, (const char *[]){CL_PROTO_TAG, "1-2"}, 2);
	feed_alive(h, "new", 5, addr_n(2), (cl_bytes){t, n});
	feed_alive(h, "old", 5, addr_n(3), B(""));
	n = tags_of(t, (const char *[]){CL_PROTO_TAG, "1-1"}, 2);
	feed_alive(h, "only1", 5, addr_n(4), (cl_bytes){t, n});
	CHECK(cl_swim_peer_proto(h->s, id_of("new")) == 2);
	CHECK(cl_swim_peer_proto(h->s, id_of("old")) == 1);
	CHECK(cl_swim_peer_proto(h->s, id_of("only1")) == 1);
	h_free(h);
	/* Out of range is refused at creation. */
	cl_swim_config c;
	memset(&c, 0, sizeof c);
	c.label = LABEL;
	c.name = "x";
	c.addr = addr_n(1);
	c.proto_min = CL_PROTO_MAX + 1;
	cl_swim_timing_profile(&c.timing, CL_PROFILE_LAN);
	struct harness dummy = {0};
	cl_swim_io io = {.ctx = &dummy, .rand = h_rand, .send = h_send};
	int err = 0;
	CHECK(cl_swim_new(&c, &io, 0, &err) == NULL && err == CLOISTER_EINVAL);
}

/* Anti-entropy toward a peer of version 1 is a full push-pull: it does not
 * know DIGEST (it would drop the packet, and the sync with it).  Toward a
 * version 2 peer, the delta sync's DIGEST. */
static size_t syncs_to(struct harness *h, uint8_t type)
{
	return sent_msgs(h, type, NULL, NULL);
}

static void test_no_digest_to_v1(void)
{
	for (int v1 = 0; v1 < 2; v1++) {
		struct harness *h = h_new(v1 ? CL_PROTO_V1 : 0);
		feed_alive(h, "peer", 5, addr_n(2), B(""));
		h_drain(h);
		h_clear(h);
		/* Acks for every ping, so the peer stays alive. */
		for (int step = 0; step < 400; step++) {
			h_run(h, h->now + 250 * CL_MSEC);
			static cl_wire_msg msgs[CL_WIRE_MAX_MSGS];
			for (size_t i = 0; i < h->n_sent; i++) {
				if (h->sent[i].stream)
					continue;
				int k = cl_wire_parse(h->sent[i].buf,
						      h->sent[i].len, LABEL, 1,
						      65000, false, msgs,
						      CL_WIRE_MAX_MSGS);
				for (int j = 0; j < k; j++)
					if (msgs[j].type == CL_MSG_PING) {
						cl_wbuf w = begin();
						CHECK(cl_wire_put_ack(
							&w, CL_MSG_ACK,
							msgs[j].u.ping.seq));
						feed(h, &w, addr_n(2), false);
					}
				h->sent[i].stream = true; /* answered */
			}
		}
		/* Restore the stream flags for counting: only real streams
		 * carry PUSHPULL and DIGEST, so parse everything as stream. */
		for (size_t i = 0; i < h->n_sent; i++)
			h->sent[i].stream = true;
		size_t digests = syncs_to(h, CL_MSG_DIGEST);
		size_t full = syncs_to(h, CL_MSG_PUSHPULL);
		CHECK(status_of(h, "peer") == CL_STATUS_ALIVE);
		if (v1) {
			CHECK(digests == 0 && full >= 1);
		} else {
			CHECK(digests >= 1);
		}
		h_drain(h);
		h_free(h);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"test_set_tags_announces", test_set_tags_announces},
		{"test_force_leave", test_force_leave},
		{"test_force_leave_dead", test_force_leave_dead},
		{"test_tags_proto_parse", test_tags_proto_parse},
		{"test_peer_proto", test_peer_proto},
		{"test_no_digest_to_v1", test_no_digest_to_v1},
	};
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		int before = check_count;
		tests[i].fn();
		printf("ok %s (%d checks)\n", tests[i].name,
		       check_count - before);
	}
	return 0;
}
