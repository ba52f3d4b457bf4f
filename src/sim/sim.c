/*
 * sim.c — the deterministic cluster simulator.
 *
 * How it works
 * ------------
 * A simulation is N protocol cores, a virtual clock in microseconds and a
 * priority queue of things that will happen: a packet arriving at a node,
 * a node's timer firing, a node booting.  The loop pops the earliest entry,
 * sets the clock to its time and hands it to the one core concerned
 * (cl_swim_feed or cl_swim_tick).  Whatever that core sends becomes new
 * entries in the queue.  The clock jumps from event to event; nothing runs
 * in fixed increments, so an idle second costs nothing and a busy one
 * costs only its packets.  Ties at one microsecond are broken by a global
 * sequence number, i.e. in the order the events were scheduled.
 *
 * After every feed or tick of a node the simulator drains its event queue
 * (JOIN, FAIL, ...), updates the metrics, asks cl_swim_next_deadline() and
 * schedules a tick for it.  Timers are invalidated lazily: a node carries a
 * generation number, and a queued tick whose generation is stale is
 * skipped when it comes up, so rescheduling is a push, never a search.
 *
 * Determinism: every random number comes from a xoshiro256** stream
 * seeded (through splitmix64) from the run's seed and a stream name: one
 * per node and restart (the core's io.rand), one for the network (loss,
 * jitter), one for scenarios (which nodes to kill).  No wall clock, no
 * global state, no hash of a pointer: one seed gives a bit-identical run,
 * and several simulations can live in one process.
 *
 * The network model
 * -----------------
 *  - Addresses: node i boots at 10.a.b.c:7946 where a.b.c is i+1; a node
 *    restarted with a new address takes the next unused one.  Addresses
 *    are never reused, so a packet for an old address goes nowhere.
 *  - Datagrams: one-way delay = latency + uniform jitter in [-jitter,
 *    +jitter] (defaults 1 ms +- 0.5 ms: a LAN with some queueing).
 *    Each datagram is lost with probability `loss`, or with a per-link
 *    override.  Independent draws, so datagrams reorder freely.
 *  - Streams (push-pull, fallback pings): reliable, and they pay a TCP
 *    handshake: delay = datagram delay + 2 * latency.  Under loss each
 *    attempt fails with 1 - (1 - loss)^2 and adds a retransmission
 *    timeout (200 ms, doubling); after STREAM_RETRIES failures the stream
 *    is lost, as a connect that times out.  There is no bandwidth model:
 *    a 400 KB state transfer takes as long as a 40-byte one.
 *  - Partitions: nodes are put in groups; a packet from one group to
 *    another is dropped when sent, stream or datagram.  Packets already in
 *    flight when a partition starts still arrive.  One-way blocks drop
 *    a -> b and leave b -> a alone.
 *  - Crash: the core is freed on the spot (no goodbye); packets to the
 *    node are dropped when sent and when they arrive.  The sender is not
 *    told, as with UDP or a TCP connect that times out.
 *  - Restart: a new core with the same name, optionally a new address,
 *    and an incarnation above anything its old self used (the larger of
 *    1 + boot second and the old incarnation + 1; a real process would use
 *    its start time and rely on refutation for the rest).  It joins
 *    through given seeds.
 *  - Graceful leave: cl_swim_leave(), then the core runs until
 *    cl_swim_left() and is freed.
 *  - Slow node: everything addressed to it is handled `delay` later than
 *    the network would deliver it, as if its receive path were stalled
 *    (a GC pause, an overloaded box).  Its timers fire on time, so it
 *    keeps probing and suspecting: what Lifeguard has to tolerate.
 *  - Boot: node i of N starts at i * join_spread / N (default spread: 1 ms
 *    per node, so a 10,000-node cluster boots over 10 s) and joins through
 *    its cluster's first node.
 *
 * Not modelled: bandwidth and queueing (a burst costs no extra delay),
 * MTU fragmentation, packet corruption or duplication, clock drift
 * between nodes (all share the virtual clock), CPU time (a core's step
 * takes no virtual time), and TCP connection failures being reported to
 * the sender.
 *
 * Metrics
 * -------
 * Convergence is tracked incrementally: after each step the node's
 * cl_swim_count(ALIVE) is compared with the number of running nodes of its
 * cluster, and a per-cluster counter of "full" nodes moves by one.  Only
 * when the set of running nodes changes (boot, crash, leave) is a
 * cluster's flags recomputed, from the cached counts.
 *
 * Crash detection keeps one bitmap over observers per crashed node: the
 * only observers x targets state in the simulator, and only for the few
 * nodes crashed.  False positives are a hash set of (observer, node)
 * pairs.  Nothing is per pair of running nodes, so a 10,000-node run adds
 * megabytes, not gigabytes, to what the cores themselves need.
 *
 * Packet buffers live in a pool of slots indexed by number; a slot keeps
 * a datagram-sized buffer for reuse, so the hot path never allocates.
 * Streams larger than that get a buffer of their own, freed on delivery.
 */
#include "sim.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloister.h"
#include "sim_util.h"

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

enum { EV_PKT = 0, EV_TIMER = 1, EV_START = 2 };
enum { RNG_NODE = 1, RNG_NET = 2, RNG_CTL = 3 };

#define SIM_PORT 7946
#define NO_PKT UINT32_MAX
#define NO_TRACK (-1)
/* Linux gives up on a connect after 6 SYN retries; data after ~15: 6
 * bounds the sim's cost and is already ~25 s of backoff. */
#define STREAM_RETRIES 6
/* Datagrams a paused node's socket buffer holds (Linux's default
 * 212,992-byte receive buffer of ~200-byte packets is about 1,000); more
 * are lost, as the kernel would drop them. */
#define PAUSE_BUFFER_DGRAMS 1000

struct sim_pkt {
	uint8_t *buf;
	uint32_t len, cap;
	uint32_t to;        /* node index */
	uint32_t next_free; /* free list link */
	uint64_t to_key;    /* destination address key, checked on arrival */
	cl_addr from;
	bool stream;
	uint32_t from_node; /* for the tracer */
	uint64_t id;        /* the send's number, for the tracer */
};

struct sim_node {
	cl_sim *sim;
	cl_swim *core;
	uint32_t idx;
	uint8_t state;
	uint8_t cluster;
	uint8_t group; /* partition group */
	bool full;     /* counts exactly its cluster's running nodes alive */
	uint32_t addr_id;
	uint64_t addr_key;
	uint32_t timer_gen;
	cl_usec timer_at; /* armed deadline, CL_NEVER if none */
	uint32_t life;    /* bumped on crash/restart: stale START entries */
	uint32_t alive;   /* last cl_swim_count(ALIVE) */
	uint32_t incarnation;
	uint32_t last_incarnation; /* of the last core, at its end */
	uint32_t restarts;
	uint64_t start_ms;
	cl_usec slow;
	/* Paused: no timers, arriving packets held (datagrams up to the
	 * socket buffer's worth) until resumed. */
	bool paused;
	uint32_t *held;
	uint32_t n_held, cap_held, held_dgrams;
	uint32_t fp_about;
	int32_t track;
	sim_rng rng;
	char name[16];
	uint8_t name_len;
	bool spare;        /* does not boot by itself */
	uint32_t name_of;  /* whose name it carries (itself, or a twin's) */
	uint8_t *tags;     /* tags of the current life, malloc'd */
	uint16_t tags_len;
};

/* Who still has to see a crashed node dead. */
struct sim_track {
	uint32_t node;
	bool open;
	uint64_t *need; /* one bit per observer */
	uint32_t pending;
	cl_usec crashed_at, detected_at;
};

struct cl_sim {
	cl_sim_config cfg;
	/* Every core's identities, interned once (identity.h): the 10,000
	 * names of a 10,000-node run are held once, not by every node. */
	cl_swim_idents *idents;
	char label[2][CL_WIRE_LABEL_MAX + 1];
	cl_swim_timing timing;
	cl_usec now;
	uint64_t seq;
	int err;
	sim_heap heap;

	struct sim_node *nodes;
	uint32_t n;
	uint32_t first[2], end[2]; /* node range of each cluster */
	uint32_t next_addr_id;
	sim_rng net, ctl;

	/* Network state. */
	sim_map addrs;     /* address key -> node index */
	sim_map link_loss; /* (from, to) -> double bits */
	sim_map blocks;    /* (from, to) -> 1 */
	bool partitioned;
	double loss;
	double dup, corrupt, stream_fail;

	/* Packet pool. */
	struct sim_pkt *pkts;
	uint32_t npkts, pkts_cap, free_pkt;
	uint32_t dgram_cap;

	/* Convergence. */
	uint32_t pending_starts;
	uint32_t running[2], full[2];
	bool converged;
	cl_usec converged_at;

	/* Crash detection and false positives. */
	struct sim_track *tracks;
	size_t ntracks, tracks_cap;
	uint64_t detect_pending;
	cl_usec first_crash_at, detect_all_at;
	sim_map fp_pairs;

	cl_swim_stats retired; /* of the cores freed so far */
	cl_sim_metrics m;
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

void cl_sim_config_default(cl_sim_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->seed = 1;
	cfg->nodes = 100;
	cfg->profile = CL_PROFILE_LAN;
	/* 1 ms +- 0.5 ms: a switched LAN with some queueing; well under
	 * the LAN profile's probe timeout, as it should be. */
	cfg->latency = 1 * CL_MSEC;
	cfg->jitter = CL_MSEC / 2;
	cfg->join_spread = -1;
	cfg->label = "sim";
	cfg->alt_label = "sim-other";
}

static uint64_t addr_key(const cl_addr *a)
{
	if (a->family != CL_AF_INET4)
		return 0;
	uint64_t ip = (uint64_t)a->ip[0] << 24 | (uint64_t)a->ip[1] << 16 |
		      (uint64_t)a->ip[2] << 8 | a->ip[3];
	return ip << 16 | a->port;
}

static cl_addr addr_of_id(uint32_t id)
{
	return cl_addr_v4(10, (uint8_t)(id >> 16), (uint8_t)(id >> 8),
			  (uint8_t)id, SIM_PORT);
}

static cl_addr addr_of_key(uint64_t key)
{
	return cl_addr_v4((uint8_t)(key >> 40), (uint8_t)(key >> 32),
			  (uint8_t)(key >> 24), (uint8_t)(key >> 16),
			  (uint16_t)key);
}

static uint64_t pair_key(uint32_t a, uint32_t b)
{
	return ((uint64_t)a + 1) << 32 | ((uint64_t)b + 1);
}

/* ------------------------------------------------------------------ */
/* Scheduling                                                          */
/* ------------------------------------------------------------------ */

static void fail(cl_sim *s, int err)
{
	if (!s->err)
		s->err = err;
}

static void schedule(cl_sim *s, cl_usec at, int kind, uint32_t ref,
		     uint32_t gen)
{
	sim_event e = {.at = at, .seq = (s->seq++ << 2) | (uint64_t)kind,
		       .ref = ref, .gen = gen};
	if (!sim_heap_push(&s->heap, &e))
		fail(s, CLOISTER_ENOMEM);
}

/* ------------------------------------------------------------------ */
/* Packet pool                                                         */
/* ------------------------------------------------------------------ */

static uint32_t pkt_alloc(cl_sim *s, size_t len)
{
	uint32_t i = s->free_pkt;
	if (i != NO_PKT) {
		s->free_pkt = s->pkts[i].next_free;
	} else {
		if (s->npkts == s->pkts_cap) {
			uint32_t cap = s->pkts_cap ? s->pkts_cap * 2 : 1024;
			struct sim_pkt *p = realloc(s->pkts, cap * sizeof *p);
			if (!p)
				return NO_PKT;
			s->pkts = p;
			s->pkts_cap = cap;
		}
		i = s->npkts++;
		memset(&s->pkts[i], 0, sizeof s->pkts[i]);
	}
	struct sim_pkt *p = &s->pkts[i];
	if (p->cap < len) {
		size_t cap = len < s->dgram_cap ? s->dgram_cap : len;
		uint8_t *b = malloc(cap);
		if (!b) {
			p->next_free = s->free_pkt;
			s->free_pkt = i;
			return NO_PKT;
		}
		free(p->buf);
		p->buf = b;
		p->cap = (uint32_t)cap;
	}
	return i;
}

static void pkt_release(cl_sim *s, uint32_t i)
{
	struct sim_pkt *p = &s->pkts[i];
	/* Keep datagram-sized buffers; big stream buffers would otherwise
	 * accumulate one per slot. */
	if (p->cap > s->dgram_cap) {
		free(p->buf);
		p->buf = NULL;
		p->cap = 0;
	}
	p->next_free = s->free_pkt;
	s->free_pkt = i;
}

/* ------------------------------------------------------------------ */
/* Core io                                                             */
/* ------------------------------------------------------------------ */

static uint64_t node_rand(void *ctx)
{
	struct sim_node *nd = ctx;
	return sim_rng_next(&nd->rng);
}

static void enqueue(cl_sim *s, struct sim_node *src, struct sim_node *dst,
		    const uint8_t *buf, size_t len, bool stream, cl_usec extra,
		    bool cut);

/* A send that never left, for the tracer. */
static void trace_drop(cl_sim *s, const struct sim_node *src,
		       const struct sim_node *dst, const cl_addr *to,
		       const uint8_t *buf, size_t len, bool stream,
		       enum cl_sim_fate fate)
{
	if (!s->cfg.tracer)
		return;
	cl_sim_packet t = {
		.id = s->m.packets,
		.now = s->now,
		.fate = (uint8_t)fate,
		.stream = stream,
		.from = src->idx,
		.to = dst ? (int64_t)dst->idx : -1,
		.from_addr = addr_of_id(src->addr_id),
		.to_addr = *to,
		.label = s->label[src->cluster],
		.buf = buf,
		.len = len,
	};
	s->cfg.tracer(s->cfg.tracer_arg, s, &t);
}

/* A copy on its way (SENT, arriving at `arrives`) or arriving, for the
 * tracer. */
static void trace_copy(cl_sim *s, const struct sim_pkt *p,
		       enum cl_sim_fate fate, cl_usec arrives, bool cut)
{
	if (!s->cfg.tracer)
		return;
	const struct sim_node *src = &s->nodes[p->from_node];
	cl_sim_packet t = {
		.id = p->id,
		.now = s->now,
		.arrives = arrives,
		.fate = (uint8_t)fate,
		.arrival = fate != CL_SIM_SENT,
		.stream = p->stream,
		.cut = cut,
		.from = p->from_node,
		.to = p->to,
		.from_addr = p->from,
		.to_addr = addr_of_key(p->to_key),
		.label = s->label[src->cluster],
		.buf = p->buf,
		.len = p->len,
	};
	s->cfg.tracer(s->cfg.tracer_arg, s, &t);
}

static void trace_arrival(cl_sim *s, const struct sim_pkt *p,
			  enum cl_sim_fate fate)
{
	trace_copy(s, p, fate, 0, false);
}

static void node_send(void *ctx, const cl_addr *to, uint64_t to_id,
		      const uint8_t *buf, size_t len, bool stream)
{
	struct sim_node *src = ctx;
	cl_sim *s = src->sim;
	s->m.packets++;
	s->m.bytes += len;
	if (stream) {
		s->m.streams++;
		s->m.stream_bytes += len;
	}
	uint64_t key = addr_key(to);
	const uint64_t *v = key ? sim_map_get(&s->addrs, key) : NULL;
	if (!v) {
		s->m.drop_unroutable++;
		trace_drop(s, src, NULL, to, buf, len, stream,
			   CL_SIM_DROP_UNROUTABLE);
		return;
	}
	struct sim_node *dst = &s->nodes[*v];
	if (!dst->core) {
		s->m.drop_down++;
		trace_drop(s, src, dst, to, buf, len, stream, CL_SIM_DROP_DOWN);
		return;
	}
	if (s->partitioned && src->group != dst->group) {
		s->m.drop_partition++;
		trace_drop(s, src, dst, to, buf, len, stream,
			   CL_SIM_DROP_PARTITION);
		return;
	}
	if (s->blocks.len &&
	    sim_map_get(&s->blocks, pair_key(src->idx, dst->idx))) {
		s->m.drop_block++;
		trace_drop(s, src, dst, to, buf, len, stream, CL_SIM_DROP_BLOCK);
		return;
	}
	double loss = s->loss;
	if (s->link_loss.len) {
		const uint64_t *o = sim_map_get(&s->link_loss,
						pair_key(src->idx, dst->idx));
		if (o)
			memcpy(&loss, o, sizeof loss);
	}
	cl_usec retrans = 0;
	bool cut = false;
	if (!stream) {
		if (loss > 0 && sim_rng_unit(&s->net) < loss) {
			s->m.drop_loss++;
			trace_drop(s, src, dst, to, buf, len, stream,
				   CL_SIM_DROP_LOSS);
			return;
		}
		if (s->corrupt > 0 && sim_rng_unit(&s->net) < s->corrupt) {
			if (len < 2 || sim_rng_below(&s->net, 2) == 0) {
				s->m.drop_corrupt++;
				trace_drop(s, src, dst, to, buf, len, stream,
					   CL_SIM_DROP_CORRUPT);
				return;
			}
			len = 1 + (size_t)sim_rng_below(&s->net, len - 1);
			s->m.cut++;
			cut = true;
		}
		if (s->dup > 0 && sim_rng_unit(&s->net) < s->dup) {
			s->m.dup++;
			enqueue(s, src, dst, buf, len, false, 0, cut);
		}
	} else if (s->stream_fail > 0 &&
		   sim_rng_unit(&s->net) < s->stream_fail) {
		s->m.drop_stream_fail++;
		trace_drop(s, src, dst, to, buf, len, stream,
			   CL_SIM_DROP_STREAM_FAIL);
		return;
	} else if (loss > 0) {
		/* TCP under loss: an attempt (segment out, ack back) fails
		 * with 1 - (1-p)^2 and costs a retransmission timeout that
		 * doubles from Linux's 200 ms floor; after STREAM_RETRIES the
		 * connection gives up. */
		cl_usec rto = 200 * CL_MSEC;
		int tries = 0;
		while (sim_rng_unit(&s->net) >= (1 - loss) * (1 - loss)) {
			if (++tries > STREAM_RETRIES) {
				s->m.drop_loss++;
				trace_drop(s, src, dst, to, buf, len, stream,
					   CL_SIM_DROP_LOSS);
				return;
			}
			retrans += rto;
			rto *= 2;
		}
	}
	enqueue(s, src, dst, buf, len, stream, retrans, cut);
}

/* One copy of a packet on its way: latency, jitter, the TCP handshake for
 * streams, the receiver's slowness. */
static void enqueue(cl_sim *s, struct sim_node *src, struct sim_node *dst,
		    const uint8_t *buf, size_t len, bool stream, cl_usec extra,
		    bool cut)
{
	cl_usec delay = s->cfg.latency + extra;
	if (s->cfg.jitter > 0)
		delay += (cl_usec)sim_rng_below(&s->net,
						(uint64_t)(2 * s->cfg.jitter + 1)) -
			 s->cfg.jitter;
	if (stream)
		delay += 2 * s->cfg.latency;
	if (delay < 0)
		delay = 0;
	delay += dst->slow;

	uint32_t i = pkt_alloc(s, len);
	if (i == NO_PKT) {
		fail(s, CLOISTER_ENOMEM);
		return;
	}
	struct sim_pkt *p = &s->pkts[i];
	memcpy(p->buf, buf, len);
	p->len = (uint32_t)len;
	p->to = dst->idx;
	p->to_key = dst->addr_key;
	p->from = addr_of_id(src->addr_id);
	p->stream = stream;
	p->from_node = src->idx;
	p->id = s->m.packets;
	schedule(s, s->now + delay, EV_PKT, i, 0);
	trace_copy(s, p, CL_SIM_SENT, s->now + delay, cut);
}

/* ------------------------------------------------------------------ */
/* Convergence bookkeeping                                             */
/* ------------------------------------------------------------------ */

static void update_converged(cl_sim *s)
{
	bool c = s->pending_starts == 0 && s->full[0] == s->running[0] &&
		 s->full[1] == s->running[1];
	s->converged = c;
	if (c && s->converged_at < 0)
		s->converged_at = s->now;
}

static void set_full(cl_sim *s, struct sim_node *nd)
{
	bool f = nd->state == CL_SIM_UP &&
		 nd->alive == s->running[nd->cluster];
	if (f != nd->full) {
		nd->full = f;
		if (f)
			s->full[nd->cluster]++;
		else
			s->full[nd->cluster]--;
	}
}

/* The running set of a cluster changed: every node's target moved. */
static void recompute_cluster(cl_sim *s, unsigned c)
{
	if (s->pending_starts)
		return;
	for (uint32_t i = s->first[c]; i < s->end[c]; i++)
		set_full(s, &s->nodes[i]);
	update_converged(s);
}

/* ------------------------------------------------------------------ */
/* Detection tracking                                                  */
/* ------------------------------------------------------------------ */

static void track_mark(cl_sim *s, struct sim_track *t, uint32_t obs)
{
	uint64_t bit = 1ull << (obs & 63);
	if (!t->open || !(t->need[obs >> 6] & bit))
		return;
	t->need[obs >> 6] &= ~bit;
	t->pending--;
	s->detect_pending--;
	if (!t->pending)
		t->detected_at = s->now;
	if (!s->detect_pending)
		s->detect_all_at = s->now;
}

/* A node stopped running: it no longer owes anyone a detection. */
static void drop_observer(cl_sim *s, uint32_t obs)
{
	for (size_t i = 0; i < s->ntracks; i++)
		track_mark(s, &s->tracks[i], obs);
}

static void track_close(cl_sim *s, struct sim_node *nd)
{
	if (nd->track == NO_TRACK)
		return;
	struct sim_track *t = &s->tracks[nd->track];
	if (t->open) {
		s->detect_pending -= t->pending;
		t->pending = 0;
		t->open = false;
	}
}

static void track_open(cl_sim *s, struct sim_node *nd)
{
	struct sim_track *t;
	if (nd->track != NO_TRACK) {
		t = &s->tracks[nd->track];
	} else {
		if (s->ntracks == s->tracks_cap) {
			size_t cap = s->tracks_cap ? s->tracks_cap * 2 : 16;
			struct sim_track *v =
				realloc(s->tracks, cap * sizeof *v);
			if (!v) {
				fail(s, CLOISTER_ENOMEM);
				return;
			}
			s->tracks = v;
			s->tracks_cap = cap;
		}
		t = &s->tracks[s->ntracks];
		memset(t, 0, sizeof *t);
		t->need = calloc((s->n + 63) / 64, sizeof *t->need);
		if (!t->need) {
			fail(s, CLOISTER_ENOMEM);
			return;
		}
		nd->track = (int32_t)s->ntracks++;
	}
	memset(t->need, 0, (s->n + 63) / 64 * sizeof *t->need);
	t->node = nd->idx;
	t->open = true;
	t->pending = 0;
	t->crashed_at = s->now;
	t->detected_at = -1;
	for (uint32_t j = 0; j < s->n; j++) {
		struct sim_node *o = &s->nodes[j];
		if (o->state != CL_SIM_UP || o->cluster != nd->cluster)
			continue;
		cl_swim_member_view v;
		if (!cl_swim_lookup(o->core, nd->name, nd->name_len, &v) ||
		    v.status == CL_STATUS_DEAD || v.status == CL_STATUS_LEFT)
			continue;
		t->need[j >> 6] |= 1ull << (j & 63);
		t->pending++;
	}
	s->detect_pending += t->pending;
	if (t->pending)
		s->detect_all_at = -1;
	else
		t->detected_at = s->now;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static int64_t index_of_name(const cl_sim *s, const char *name, size_t len)
{
	if (len < 2 || len > 11 || name[0] != 'n')
		return -1;
	uint64_t v = 0;
	for (size_t i = 1; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v >= s->n || s->nodes[v].name_len != len)
		return -1;
	return (int64_t)v;
}

static void on_event(cl_sim *s, struct sim_node *obs, const cl_swim_event *ev)
{
	s->m.events++;
	switch (ev->type) {
	case CL_EV_JOIN:
		s->m.ev_join++;
		break;
	case CL_EV_UPDATE:
		s->m.ev_update++;
		break;
	case CL_EV_LEAVE:
		s->m.ev_leave++;
		break;
	case CL_EV_FAIL:
		s->m.ev_fail++;
		break;
	case CL_EV_REAP:
		s->m.ev_reap++;
		break;
	}
	if (ev->type == CL_EV_FAIL || ev->type == CL_EV_LEAVE ||
	    ev->type == CL_EV_REAP) {
		int64_t t = index_of_name(s, ev->name, ev->name_len);
		if (t >= 0) {
			struct sim_node *tg = &s->nodes[t];
			/* A FAIL about the running instance (not a stale one
			 * from before a restart) is a false positive. */
			if (ev->type == CL_EV_FAIL && tg->state == CL_SIM_UP &&
			    ev->incarnation >= tg->incarnation) {
				int r = sim_map_put(&s->fp_pairs,
						    pair_key(obs->idx, tg->idx), 1);
				if (r < 0)
					fail(s, CLOISTER_ENOMEM);
				if (r > 0) {
					s->m.false_positives++;
					tg->fp_about++;
				}
			}
			if (tg->track != NO_TRACK && !tg->core)
				track_mark(s, &s->tracks[tg->track], obs->idx);
		}
	}
	if (s->cfg.observer)
		s->cfg.observer(s->cfg.observer_arg, s, obs->idx, s->now, ev);
}

/* ------------------------------------------------------------------ */
/* Node lifecycle                                                      */
/* ------------------------------------------------------------------ */

static void release_held(cl_sim *s, struct sim_node *nd)
{
	for (uint32_t k = 0; k < nd->n_held; k++) {
		s->m.drop_down++;
		trace_arrival(s, &s->pkts[nd->held[k]], CL_SIM_DROP_DOWN);
		pkt_release(s, nd->held[k]);
	}
	nd->n_held = nd->held_dgrams = 0;
	nd->paused = false;
}

/* cl_swim_stats is counters only, every one a uint64_t. */
static_assert(sizeof(cl_swim_stats) % sizeof(uint64_t) == 0,
	      "cl_swim_stats holds only uint64_t counters");

static void stats_add(cl_swim_stats *sum, const cl_swim_stats *st)
{
	uint64_t *a = (uint64_t *)sum;
	const uint64_t *b = (const uint64_t *)st;
	for (size_t k = 0; k < sizeof *st / sizeof *b; k++)
		a[k] += b[k];
}

static void retire(cl_sim *s, struct sim_node *nd, uint8_t state)
{
	release_held(s, nd);
	stats_add(&s->retired, cl_swim_get_stats(nd->core));
	nd->last_incarnation = cl_swim_incarnation(nd->core);
	cl_swim_free(nd->core);
	nd->core = NULL;
	bool was_up = nd->state == CL_SIM_UP;
	nd->state = state;
	nd->timer_gen++;
	nd->timer_at = CL_NEVER;
	nd->life++;
	if (nd->full) {
		nd->full = false;
		s->full[nd->cluster]--;
	}
	if (was_up)
		s->running[nd->cluster]--;
	drop_observer(s, nd->idx);
	recompute_cluster(s, nd->cluster);
	update_converged(s);
}

/* Everything that follows a feed, tick, boot or leave of one node. */
static void after_step(cl_sim *s, struct sim_node *nd, bool ticked)
{
	cl_swim_event ev;
	while (cl_swim_next_event(nd->core, &ev))
		on_event(s, nd, &ev);
	if (nd->state == CL_SIM_LEAVING && cl_swim_left(nd->core)) {
		retire(s, nd, CL_SIM_LEFT);
		return;
	}
	if (cl_swim_superseded(nd->core, NULL)) {
		retire(s, nd, CL_SIM_SUPERSEDED);
		return;
	}
	nd->alive = (uint32_t)cl_swim_count(nd->core, CL_STATUS_ALIVE);
	if (!s->pending_starts) {
		set_full(s, nd);
		update_converged(s);
	}
	if (nd->paused)
		return;
	cl_usec d = cl_swim_next_deadline(nd->core);
	if (d == CL_NEVER) {
		if (nd->timer_at != CL_NEVER) {
			nd->timer_gen++;
			nd->timer_at = CL_NEVER;
		}
		return;
	}
	if (d <= s->now) {
		/* A deadline still due right after a tick would spin the
		 * clock in place; step past it. */
		if (ticked) {
			d = s->now + 1;
			s->m.tick_spins++;
		} else {
			d = s->now;
		}
	}
	if (d != nd->timer_at) {
		nd->timer_gen++;
		nd->timer_at = d;
		schedule(s, d, EV_TIMER, nd->idx, nd->timer_gen);
	}
}

static int boot(cl_sim *s, struct sim_node *nd, const cl_addr *seeds,
		size_t n_seeds)
{
	cl_swim_config c;
	memset(&c, 0, sizeof c);
	c.label = s->label[nd->cluster];
	c.name = nd->name;
	c.addr = addr_of_id(nd->addr_id);
	c.start_ms = nd->start_ms;
	c.incarnation = nd->incarnation;
	c.tags = nd->tags;
	c.tags_len = nd->tags_len;
	c.tags_max = CL_WIRE_TAGS_MAX;
	c.max_members = s->cfg.max_members;
	c.no_stream_ping = s->cfg.no_stream_ping;
	c.timing = s->timing;
	c.idents = s->idents;
	cl_swim_io io = {.ctx = nd, .rand = node_rand, .send = node_send};
	int err = 0;
	nd->core = cl_swim_new(&c, &io, s->now, &err);
	if (!nd->core) {
		nd->state = CL_SIM_CRASHED;
		err = err ? err : CLOISTER_EINVAL;
		fail(s, err);
		return err;
	}
	nd->state = CL_SIM_UP;
	nd->alive = 1;
	nd->timer_at = CL_NEVER;
	s->running[nd->cluster]++;
	recompute_cluster(s, nd->cluster);
	if (n_seeds) {
		err = cl_swim_join(nd->core, s->now, seeds, n_seeds);
		if (err)
			fail(s, err);
	}
	after_step(s, nd, false);
	return err;
}

static void initial_boot(cl_sim *s, struct sim_node *nd)
{
	cl_addr seeds[2];
	size_t n = 0;
	unsigned c = nd->cluster;
	if (nd->idx != s->first[c])
		seeds[n++] = addr_of_id(s->nodes[s->first[c]].addr_id);
	if (s->cfg.cross_seed && s->cfg.alt_nodes)
		seeds[n++] = addr_of_id(s->nodes[s->first[!c]].addr_id);
	s->pending_starts--;
	nd->start_ms = CL_SIM_EPOCH_MS + (uint64_t)(s->now / CL_MSEC);
	nd->incarnation = 1 + (uint32_t)(s->now / CL_SEC);
	boot(s, nd, seeds, n);
	if (!s->pending_starts) {
		recompute_cluster(s, 0);
		recompute_cluster(s, 1);
	}
}

/* ------------------------------------------------------------------ */
/* Lifecycle and running                                               */
/* ------------------------------------------------------------------ */

cl_sim *cl_sim_new(const cl_sim_config *cfg, int *err)
{
	int e = CLOISTER_EINVAL;
	cl_sim *s = NULL;
	if (!cfg || cfg->nodes < 1 || cfg->nodes > (1u << 23) ||
	    !(cfg->loss >= 0 && cfg->loss <= 1) || cfg->latency < 0 ||
	    cfg->jitter < 0 || cfg->jitter > cfg->latency || !cfg->label ||
	    strlen(cfg->label) > CL_WIRE_LABEL_MAX ||
	    cfg->alt_nodes >= cfg->nodes ||
	    cfg->spares >= cfg->nodes - cfg->alt_nodes ||
	    (cfg->alt_nodes &&
	     (!cfg->alt_label || strlen(cfg->alt_label) > CL_WIRE_LABEL_MAX)))
		goto out;
	e = CLOISTER_ENOMEM;
	s = calloc(1, sizeof *s);
	if (!s)
		goto out;
	s->cfg = *cfg;
	s->idents = cl_swim_idents_new();
	if (!s->idents)
		goto fail;
	strcpy(s->label[0], cfg->label);
	strcpy(s->label[1], cfg->alt_nodes ? cfg->alt_label : "");
	s->cfg.label = s->label[0];
	s->cfg.alt_label = s->label[1];
	if (cfg->timing)
		s->timing = *cfg->timing;
	else
		cl_swim_timing_profile(&s->timing, cfg->profile);
	s->cfg.timing = &s->timing;
	s->dgram_cap = s->timing.mtu > 1500 ? (uint32_t)s->timing.mtu : 1500;
	s->loss = cfg->loss;
	s->free_pkt = NO_PKT;
	s->converged_at = -1;
	s->first_crash_at = -1;
	s->detect_all_at = -1;
	s->n = cfg->nodes;
	s->first[0] = 0;
	s->end[0] = cfg->nodes - cfg->alt_nodes;
	s->first[1] = s->end[0];
	s->end[1] = cfg->nodes;
	sim_rng_seed(&s->net, cfg->seed, RNG_NET, 0, 0);
	sim_rng_seed(&s->ctl, cfg->seed, RNG_CTL, 0, 0);
	s->nodes = calloc(s->n, sizeof *s->nodes);
	if (!s->nodes)
		goto fail;
	cl_usec spread = cfg->join_spread >= 0 ? cfg->join_spread
					       : (cl_usec)s->n * CL_MSEC;
	for (uint32_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		nd->sim = s;
		nd->idx = i;
		nd->cluster = i >= s->first[1];
		nd->addr_id = ++s->next_addr_id;
		cl_addr a = addr_of_id(nd->addr_id);
		nd->addr_key = addr_key(&a);
		nd->timer_at = CL_NEVER;
		nd->track = NO_TRACK;
		nd->name_len = (uint8_t)snprintf(nd->name, sizeof nd->name,
						  "n%u", i);
		nd->name_of = i;
		/* Spares are the last nodes of cluster 0. */
		nd->spare = i >= s->end[0] - cfg->spares && i < s->end[0];
		sim_rng_seed(&nd->rng, cfg->seed, RNG_NODE, i, 0);
		if (sim_map_put(&s->addrs, nd->addr_key, i) < 0)
			goto fail;
		/* Multiply before dividing: exact for spreads up to hours
		 * and 2^23 nodes without overflow. */
		cl_usec at = (cl_usec)((__int128)spread * i / s->n);
		if (!nd->spare)
			schedule(s, at, EV_START, i, nd->life);
	}
	if (s->err)
		goto fail;
	s->pending_starts = s->n - cfg->spares;
	if (err)
		*err = 0;
	return s;
fail:
	cl_sim_free(s);
	s = NULL;
out:
	if (err)
		*err = e;
	return NULL;
}

void cl_sim_free(cl_sim *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n && s->nodes; i++) {
		cl_swim_free(s->nodes[i].core);
		free(s->nodes[i].held);
		free(s->nodes[i].tags);
	}
	free(s->nodes);
	for (uint32_t i = 0; i < s->npkts; i++)
		free(s->pkts[i].buf);
	free(s->pkts);
	for (size_t i = 0; i < s->ntracks; i++)
		free(s->tracks[i].need);
	free(s->tracks);
	sim_heap_free(&s->heap);
	sim_map_free(&s->addrs);
	sim_map_free(&s->link_loss);
	sim_map_free(&s->blocks);
	sim_map_free(&s->fp_pairs);
	cl_swim_idents_free(s->idents);
	free(s);
}

static bool hold(cl_sim *s, struct sim_node *nd, uint32_t i)
{
	if (!s->pkts[i].stream && nd->held_dgrams >= PAUSE_BUFFER_DGRAMS)
		return false;
	if (nd->n_held == nd->cap_held) {
		uint32_t cap = nd->cap_held ? 2 * nd->cap_held : 64;
		uint32_t *h = realloc(nd->held, cap * sizeof *h);
		if (!h) {
			fail(s, CLOISTER_ENOMEM);
			return false;
		}
		nd->held = h;
		nd->cap_held = cap;
	}
	nd->held[nd->n_held++] = i;
	nd->held_dgrams += !s->pkts[i].stream;
	return true;
}

static void deliver(cl_sim *s, uint32_t i)
{
	struct sim_pkt *p = &s->pkts[i];
	struct sim_node *nd = &s->nodes[p->to];
	if (!nd->core || nd->addr_key != p->to_key) {
		s->m.drop_down++;
		trace_arrival(s, p, CL_SIM_DROP_DOWN);
	} else if (nd->paused) {
		if (hold(s, nd, i)) {
			trace_arrival(s, p, CL_SIM_HELD);
			return;
		}
		s->m.drop_paused++;
		trace_arrival(s, p, CL_SIM_DROP_PAUSED);
	} else {
		s->m.delivered++;
		s->m.feeds++;
		trace_arrival(s, p, CL_SIM_FED);
		/* cl_swim_feed copies from before it sends anything that
		 * could grow the pool and move *p (the buffer is held apart). */
		cl_swim_feed(nd->core, s->now, &p->from, p->buf, p->len,
			     p->stream);
		after_step(s, nd, false);
	}
	pkt_release(s, i);
}

static bool step(cl_sim *s, cl_usec limit)
{
	const sim_event *top = sim_heap_top(&s->heap);
	if (!top || top->at > limit || s->err)
		return false;
	sim_event e;
	sim_heap_pop(&s->heap, &e);
	s->now = e.at;
	struct sim_node *nd;
	switch (e.seq & 3) {
	case EV_PKT:
		deliver(s, e.ref);
		break;
	case EV_TIMER:
		nd = &s->nodes[e.ref];
		if (e.gen != nd->timer_gen || !nd->core)
			break;
		nd->timer_at = CL_NEVER;
		s->m.ticks++;
		cl_swim_tick(nd->core, s->now);
		after_step(s, nd, true);
		break;
	case EV_START:
		nd = &s->nodes[e.ref];
		if (e.gen == nd->life && nd->state == CL_SIM_PENDING)
			initial_boot(s, nd);
		break;
	}
	return true;
}

cl_usec cl_sim_now(const cl_sim *s)
{
	return s->now;
}

void cl_sim_run_until(cl_sim *s, cl_usec t)
{
	while (step(s, t))
		;
	if (t > s->now)
		s->now = t;
}

bool cl_sim_run_until_cond(cl_sim *s, cl_usec limit,
			   bool (*cond)(void *arg, cl_sim *sim), void *arg)
{
	if (cond(arg, s))
		return true;
	while (step(s, limit))
		if (cond(arg, s))
			return true;
	if (limit > s->now)
		s->now = limit;
	return cond(arg, s);
}

static bool cond_converged(void *arg, cl_sim *s)
{
	(void)arg;
	return s->converged;
}

bool cl_sim_run_until_converged(cl_sim *s, cl_usec limit)
{
	return cl_sim_run_until_cond(s, limit, cond_converged, NULL);
}

bool cl_sim_converged(const cl_sim *s)
{
	return s->converged;
}

int cl_sim_error(const cl_sim *s)
{
	return s->err;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

uint32_t cl_sim_nodes(const cl_sim *s)
{
	return s->n;
}

enum cl_sim_node_state cl_sim_node_state(const cl_sim *s, uint32_t i)
{
	return i < s->n ? (enum cl_sim_node_state)s->nodes[i].state
			: CL_SIM_CRASHED;
}

cl_swim *cl_sim_core(cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].core : NULL;
}

const char *cl_sim_node_name(const cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].name : "";
}

cl_addr cl_sim_node_addr(const cl_sim *s, uint32_t i)
{
	return i < s->n ? addr_of_id(s->nodes[i].addr_id) : (cl_addr){0};
}

unsigned cl_sim_node_cluster(const cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].cluster : 0;
}

uint32_t cl_sim_node_incarnation(const cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].incarnation : 0;
}

int64_t cl_sim_node_index(const cl_sim *s, const char *name, size_t len)
{
	return index_of_name(s, name, len);
}

void cl_sim_crash(cl_sim *s, uint32_t i)
{
	if (i >= s->n)
		return;
	struct sim_node *nd = &s->nodes[i];
	s->m.crashes++;
	if (s->first_crash_at < 0)
		s->first_crash_at = s->now;
	if (nd->core) {
		retire(s, nd, CL_SIM_CRASHED);
	} else if (nd->state == CL_SIM_PENDING && nd->spare) {
		return;
	} else if (nd->state == CL_SIM_PENDING) {
		nd->state = CL_SIM_CRASHED;
		nd->life++;
		s->pending_starts--;
		if (!s->pending_starts) {
			recompute_cluster(s, 0);
			recompute_cluster(s, 1);
		}
		return;
	} else {
		return;
	}
	track_open(s, nd);
}

uint32_t cl_sim_kill_random(cl_sim *s, uint32_t k, uint32_t *out)
{
	uint32_t *cand = malloc((size_t)s->n * sizeof *cand);
	if (!cand) {
		fail(s, CLOISTER_ENOMEM);
		return 0;
	}
	uint32_t n = 0;
	for (uint32_t i = 1; i < s->end[0]; i++)
		if (s->nodes[i].state == CL_SIM_UP)
			cand[n++] = i;
	if (k > n)
		k = n;
	/* Partial Fisher-Yates: the first k of a random permutation. */
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + (uint32_t)sim_rng_below(&s->ctl, n - i);
		uint32_t t = cand[i];
		cand[i] = cand[j];
		cand[j] = t;
		out[i] = cand[i];
	}
	free(cand);
	for (uint32_t i = 0; i < k; i++)
		cl_sim_crash(s, out[i]);
	return k;
}

/* The seeds a restarted node joins through, as addresses. */
static size_t seed_addrs(cl_sim *s, uint32_t i, const uint32_t *seeds,
			 size_t n_seeds, cl_addr *addrs)
{
	size_t n = 0;
	if (n_seeds) {
		for (size_t k = 0; k < n_seeds && n < 16; k++)
			if (seeds[k] < s->n && seeds[k] != i)
				addrs[n++] = addr_of_id(s->nodes[seeds[k]].addr_id);
		return n;
	}
	/* Three seeds, as a deployment lists several sentry addresses: one
	 * seed that later leaves for good would strand the node. */
	unsigned c = s->nodes[i].cluster;
	for (uint32_t j = s->first[c]; j < s->end[c] && n < 3; j++)
		if (j != i && s->nodes[j].state == CL_SIM_UP)
			addrs[n++] = addr_of_id(s->nodes[j].addr_id);
	return n;
}

/* Moves node i to address id (a fresh one, or one another node gave up). */
static int take_addr(cl_sim *s, struct sim_node *nd, uint32_t id)
{
	sim_map_del(&s->addrs, nd->addr_key);
	nd->addr_id = id;
	cl_addr a = addr_of_id(id);
	nd->addr_key = addr_key(&a);
	if (sim_map_put(&s->addrs, nd->addr_key, nd->idx) < 0) {
		fail(s, CLOISTER_ENOMEM);
		return CLOISTER_ENOMEM;
	}
	return 0;
}

static int set_tags(struct sim_node *nd, const uint8_t *tags, size_t len)
{
	free(nd->tags);
	nd->tags = NULL;
	nd->tags_len = 0;
	if (!len)
		return 0;
	if (len > CL_WIRE_TAGS_MAX)
		return CLOISTER_EINVAL;
	nd->tags = malloc(len);
	if (!nd->tags)
		return CLOISTER_ENOMEM;
	memcpy(nd->tags, tags, len);
	nd->tags_len = (uint16_t)len;
	return 0;
}

int cl_sim_restart_ex(cl_sim *s, uint32_t i, const cl_sim_restart_opts *o)
{
	if (i >= s->n)
		return CLOISTER_EINVAL;
	struct sim_node *nd = &s->nodes[i];
	if (nd->state != CL_SIM_CRASHED && nd->state != CL_SIM_LEFT &&
	    nd->state != CL_SIM_SUPERSEDED)
		return CLOISTER_ESTATE;
	cl_addr addrs[16];
	size_t n = seed_addrs(s, i, o->seeds, o->n_seeds, addrs);
	track_close(s, nd);
	int err = 0;
	if (o->addr_of >= 0) {
		if ((uint64_t)o->addr_of >= s->n || (uint32_t)o->addr_of == i ||
		    s->nodes[o->addr_of].core)
			return CLOISTER_ESTATE;
		err = take_addr(s, nd, s->nodes[o->addr_of].addr_id);
	} else if (o->new_addr) {
		uint32_t id = ++s->next_addr_id;
		if (id >= (1u << 24))
			return CLOISTER_ELIMIT;
		err = take_addr(s, nd, id);
	}
	if (!err)
		err = set_tags(nd, o->tags, o->tags_len);
	if (err)
		return err;
	nd->restarts++;
	nd->life++;
	sim_rng_seed(&nd->rng, s->cfg.seed, RNG_NODE, i, nd->restarts);
	/* The process's own clock, maybe stepped back. */
	cl_usec clock = s->now - (cl_usec)o->clock_back_s * CL_SEC;
	if (clock < 0)
		clock = 0;
	uint32_t inc = 1 + (uint32_t)(clock / CL_SEC);
	if (o->clock_back_s)
		nd->incarnation = inc;
	else
		nd->incarnation = inc > nd->last_incarnation
					  ? inc
					  : nd->last_incarnation + 1;
	nd->start_ms = CL_SIM_EPOCH_MS + (uint64_t)(clock / CL_MSEC);
	return boot(s, nd, addrs, n);
}

int cl_sim_restart(cl_sim *s, uint32_t i, bool new_addr,
		   const uint32_t *seeds, size_t n_seeds)
{
	cl_sim_restart_opts o = {.new_addr = new_addr, .addr_of = -1,
				 .seeds = seeds, .n_seeds = n_seeds};
	return cl_sim_restart_ex(s, i, &o);
}

int cl_sim_start_twin(cl_sim *s, uint32_t spare, uint32_t of)
{
	if (spare >= s->n || of >= s->n || spare == of)
		return CLOISTER_EINVAL;
	struct sim_node *nd = &s->nodes[spare];
	const struct sim_node *o = &s->nodes[of];
	if (!nd->spare || nd->state != CL_SIM_PENDING ||
	    nd->cluster != o->cluster)
		return CLOISTER_ESTATE;
	memcpy(nd->name, o->name, sizeof nd->name);
	nd->name_len = o->name_len;
	nd->name_of = of;
	cl_addr addrs[16];
	size_t n = seed_addrs(s, spare, NULL, 0, addrs);
	nd->life++;
	nd->incarnation = 1 + (uint32_t)(s->now / CL_SEC);
	nd->start_ms = CL_SIM_EPOCH_MS + (uint64_t)(s->now / CL_MSEC);
	return boot(s, nd, addrs, n);
}

uint32_t cl_sim_name_owner(const cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].name_of : i;
}

bool cl_sim_holds_live(const cl_sim *s, uint32_t i, uint32_t j)
{
	if (i >= s->n || j >= s->n || !s->nodes[i].core)
		return false;
	const struct sim_node *b = &s->nodes[j];
	cl_swim_member_view v;
	if (!cl_swim_lookup(s->nodes[i].core, b->name, b->name_len, &v))
		return false;
	cl_addr at = addr_of_id(b->addr_id);
	return (v.status == CL_STATUS_ALIVE || v.status == CL_STATUS_SUSPECT) &&
	       cl_addr_equal(&v.addr, &at);
}

static bool discoverable(const struct sim_node *nd)
{
	return nd->state == CL_SIM_UP && !nd->paused && nd->core;
}

bool cl_sim_rediscover(cl_sim *s, uint32_t i)
{
	if (i >= s->n || !discoverable(&s->nodes[i]))
		return false;
	unsigned c = s->nodes[i].cluster;
	uint32_t first = s->first[c], n = s->end[c] - first;
	/* i's island: the running nodes linked to it by "holds as live",
	 * either way, step by step (O(n^2) lookups: the property checker's
	 * clusters are a few nodes). */
	bool *in = calloc(n, sizeof *in);
	uint32_t *todo = malloc(n * sizeof *todo);
	if (!in || !todo) {
		free(in);
		free(todo);
		fail(s, CLOISTER_ENOMEM);
		return false;
	}
	size_t head = 0, tail = 0;
	in[i - first] = true;
	todo[tail++] = i;
	while (head < tail) {
		uint32_t a = todo[head++];
		for (uint32_t b = first; b < s->end[c]; b++)
			if (!in[b - first] && discoverable(&s->nodes[b]) &&
			    (cl_sim_holds_live(s, a, b) ||
			     cl_sim_holds_live(s, b, a))) {
				in[b - first] = true;
				todo[tail++] = b;
			}
	}
	cl_addr addrs[16];
	size_t k = 0;
	for (uint32_t b = first; b < s->end[c] && k < 16; b++)
		if (!in[b - first] && discoverable(&s->nodes[b]))
			addrs[k++] = addr_of_id(s->nodes[b].addr_id);
	free(in);
	free(todo);
	if (!k)
		return false;
	int err = cl_swim_join(s->nodes[i].core, s->now, addrs, k);
	if (err) {
		fail(s, err);
		return false;
	}
	after_step(s, &s->nodes[i], false);
	return true;
}

void cl_sim_leave(cl_sim *s, uint32_t i)
{
	if (i >= s->n || s->nodes[i].state != CL_SIM_UP)
		return;
	struct sim_node *nd = &s->nodes[i];
	nd->state = CL_SIM_LEAVING;
	s->running[nd->cluster]--;
	if (nd->full) {
		nd->full = false;
		s->full[nd->cluster]--;
	}
	recompute_cluster(s, nd->cluster);
	cl_swim_leave(nd->core, s->now);
	after_step(s, nd, false);
}

/* ------------------------------------------------------------------ */
/* Network                                                             */
/* ------------------------------------------------------------------ */

static double unit_clamp(double p)
{
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

void cl_sim_set_loss(cl_sim *s, double p)
{
	s->loss = unit_clamp(p);
}

void cl_sim_set_dup(cl_sim *s, double p)
{
	s->dup = unit_clamp(p);
}

void cl_sim_set_corrupt(cl_sim *s, double p)
{
	s->corrupt = unit_clamp(p);
}

void cl_sim_set_stream_fail(cl_sim *s, double p)
{
	s->stream_fail = unit_clamp(p);
}

void cl_sim_set_link_loss(cl_sim *s, uint32_t from, uint32_t to, double p)
{
	if (from >= s->n || to >= s->n)
		return;
	uint64_t k = pair_key(from, to);
	if (p < 0) {
		sim_map_del(&s->link_loss, k);
		return;
	}
	if (p > 1)
		p = 1;
	uint64_t bits;
	memcpy(&bits, &p, sizeof bits);
	if (sim_map_put(&s->link_loss, k, bits) < 0)
		fail(s, CLOISTER_ENOMEM);
}

void cl_sim_partition(cl_sim *s, const uint8_t *group)
{
	s->partitioned = group != NULL;
	for (uint32_t i = 0; i < s->n; i++)
		s->nodes[i].group = group ? group[i] : 0;
}

void cl_sim_block(cl_sim *s, uint32_t from, uint32_t to, bool blocked)
{
	if (from >= s->n || to >= s->n)
		return;
	if (!blocked)
		sim_map_del(&s->blocks, pair_key(from, to));
	else if (sim_map_put(&s->blocks, pair_key(from, to), 1) < 0)
		fail(s, CLOISTER_ENOMEM);
}

void cl_sim_pause(cl_sim *s, uint32_t i)
{
	if (i >= s->n || !s->nodes[i].core || s->nodes[i].paused)
		return;
	struct sim_node *nd = &s->nodes[i];
	nd->paused = true;
	nd->timer_gen++;
	nd->timer_at = CL_NEVER;
}

void cl_sim_resume(cl_sim *s, uint32_t i)
{
	if (i >= s->n || !s->nodes[i].paused)
		return;
	struct sim_node *nd = &s->nodes[i];
	nd->paused = false;
	/* What queued up while it slept, in arrival order, then its timers
	 * (all past due: the owner's loop would fire them at once). */
	uint32_t n = nd->n_held;
	nd->n_held = nd->held_dgrams = 0;
	for (uint32_t k = 0; k < n && nd->core; k++) {
		uint32_t pi = nd->held[k];
		struct sim_pkt *p = &s->pkts[pi];
		s->m.delivered++;
		s->m.feeds++;
		trace_arrival(s, p, CL_SIM_FED);
		cl_swim_feed(nd->core, s->now, &p->from, p->buf, p->len,
			     p->stream);
		pkt_release(s, pi);
		after_step(s, nd, false);
	}
	if (nd->core)
		after_step(s, nd, false);
}

bool cl_sim_paused(const cl_sim *s, uint32_t i)
{
	return i < s->n && s->nodes[i].paused;
}

void cl_sim_set_slow(cl_sim *s, uint32_t i, cl_usec delay)
{
	if (i < s->n)
		s->nodes[i].slow = delay > 0 ? delay : 0;
}

uint64_t cl_sim_rand(cl_sim *s)
{
	return sim_rng_next(&s->ctl);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

void cl_sim_get_metrics(const cl_sim *s, cl_sim_metrics *m)
{
	*m = s->m;
	m->nodes = s->n;
	m->seed = s->cfg.seed;
	m->now = s->now;
	m->converged_at = s->converged_at;
	m->first_crash_at = s->first_crash_at;
	m->detect_all_at = s->detect_pending ? -1 : s->detect_all_at;
	m->detect_pending = s->detect_pending;
	m->core = s->retired;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->nodes[i].core)
			stats_add(&m->core, cl_swim_get_stats(s->nodes[i].core));
}

cl_usec cl_sim_detect_time(const cl_sim *s, uint32_t i)
{
	if (i >= s->n || s->nodes[i].track == NO_TRACK)
		return -1;
	const struct sim_track *t = &s->tracks[s->nodes[i].track];
	return t->open ? t->detected_at : -1;
}

uint32_t cl_sim_false_positives_about(const cl_sim *s, uint32_t i)
{
	return i < s->n ? s->nodes[i].fp_about : 0;
}
