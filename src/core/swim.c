/*
 * swim.c — membership by SWIM gossip with the Lifeguard refinements.
 *
 * How it works
 * ============
 * Failure detection (SWIM, Das et al. 2002).  Every probe period a node
 * pings one member, walking a shuffled list so each member is probed once
 * per round and rounds differ.  No ack within the probe timeout: it asks k
 * other members to ping the target for it (PING_REQ) and, as memberlist
 * does, sends the same ping once more over the stream transport (TCP in
 * the runtime), whose retransmissions get through datagram loss that ate
 * the ping or its ack.  No ack, direct, relayed or streamed, by the end of
 * the period: the target becomes *suspect*, which
 * is gossiped; a suspect that hears of it refutes by gossiping an ALIVE
 * with a higher incarnation.  A suspicion nobody refutes in time becomes
 * *dead*.
 *
 * Dissemination.  Membership updates are not sent on their own: they ride
 * in the spare room of every ping, ack and gossip packet (piggybacking),
 * each retransmitted lambda*log10(N+1) times, newest and least-sent first,
 * so an update reaches everyone in O(log N) rounds while each node's load
 * stays constant.  Gossip rounds (every gossip interval, to a few random
 * members) carry updates when there are any; with none queued nothing is
 * sent.
 *
 * Lifeguard (Dadgar et al. 2018), three parts:
 *   - local health: a node whose probes fail while relays do not send the
 *     nacks they promised is probably the slow one itself, so it raises a
 *     health score that stretches its own probe interval and timeout
 *     ((score+1)x), and lowers it on each successful probe.  Being
 *     suspected also raises it.
 *   - dynamic suspicion: a suspicion timer starts at its maximum and
 *     shrinks, logarithmically, with each independent accuser that
 *     confirms it, down to a minimum of suspicion_mult*log10(N) periods.
 *   - buddy system: when we probe a member we hold as suspect, the
 *     SUSPECT message rides first in the ping, so it can refute at once
 *     instead of waiting for gossip to reach it.
 *
 * Anti-entropy.  Joining is a full-state exchange (push-pull) with each
 * seed over a stream, repeated periodically with a random member (scaled
 * up with log2(N/32) as memberlist does).  Every ping carries the sender's
 * membership checksum (XOR of a hash of name and incarnation over live
 * members); a receiver whose checksum differs and who has nothing left to
 * gossip starts a push-pull at once (at most one per sync_min_interval), so
 * a missed update is repaired in seconds, not at the next periodic sync.
 *
 * Where we depart from memberlist, and why
 * ========================================
 *   - Restarts supersede.  memberlist refuses an ALIVE for a known name
 *     with another address while the old one is alive ("conflicting
 *     address"), which locks a restarted container out until the old entry
 *     dies.  Here the higher incarnation simply wins: a restarted node
 *     passes a fresh incarnation (its start time in seconds) and, should
 *     the old one be higher, refutes past it the moment it hears of its
 *     old self, which the join's push-pull tells it at once.
 *   - Partition healing in the core.  Every dead_retry_interval a node
 *     pings one dead member and, if it answers, push-pulls with it (the
 *     ping keeps full states from going to members that really are
 *     dead).  If the partition is over, the
 *     exchange marks each side's members suspect on the other side (a
 *     remote "dead" merges as suspect), which makes them refute and the
 *     two views converge without an operator or a rejoin.
 *   - A node that pings us while we hold it dead gets its death notice
 *     piggybacked on our ack, so it refutes immediately.
 *   - Both the probe interval and the probe timeout scale with local
 *     health (the Lifeguard paper's LHA-Probe); memberlist scales only the
 *     interval.
 *   - A cluster label in every packet: other clusters' packets are dropped
 *     before any message is read.
 *   - The stream fallback ping rides in the probe's own state (same
 *     sequence number, answered on the same connection) instead of a
 *     separate channel that reports back; an ack that only the stream
 *     delivered ends the probe without a suspicion and without moving
 *     local health either way (memberlist logs it as a misconfigured
 *     network; we count it: stream_ping_rescues).
 *
 * Structure
 * =========
 * Members live in an array of pointers (index 0 is this node), which is
 * also the probe order, and in an open-addressing hash table by name.
 * Suspects and tombstones are additionally on small linked lists so timers
 * never scan the whole table.  Broadcasts are kept encoded, one per member
 * (a newer update replaces the queued one), in buckets by transmit count.
 * Events are serialised into a byte queue and handed out after the step.
 */
#include "swim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "cloister.h"

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

/* Seeds remembered for join retries. */
#define SEEDS_MAX 64
/* Indirect probes relayed for others at once; more requests are refused
 * (counted): a flood of PING_REQs must not turn us into an amplifier. */
#define RELAYS_MAX 64
/* Highest retransmit count a broadcast can reach: lambda*log10(N+1) with
 * lambda <= 8 and N <= 65536 stays below 48. */
#define TRANSMIT_BUCKETS 48
/* Periodic push-pulls skipped in a row while every ping agrees with our
 * checksum (which a missed update would break at once, triggering a sync
 * of its own).  3: a full exchange at least every 4 periods (2 to 4 min
 * by default) still catches the rare XOR collision and spreads tombstones;
 * at N = 100 it cuts the idle anti-entropy bytes by three quarters. */
#define PUSHPULL_MAX_SKIPS 3
/* Agreement is judged on the pings of this many probe intervals: a node is
 * pinged about once an interval by a random peer, so ten agreeing pings
 * sample ten views (a disagreeing one also triggers its own sync). */
#define AGREEMENT_PINGS 10
/* Piggyback scan: stop after this many queued updates that do not fit, so
 * filling a packet stays cheap when the queue is long. */
#define PIGGYBACK_MISFITS 32
/* Most updates queued for piggybacking.  A node sends ~17 packets a
 * second of ~40 updates each; a queue far longer than a few seconds of
 * that holds mostly stale news that push-pull will carry better.  Past
 * the bound, the most-retransmitted update (the one most likely already
 * everywhere) is dropped first (as Serf prunes its queues). */
#define BQ_MAX 1024
/* An event queue holding more than this many bytes has an owner that does
 * not drain it; beyond it events are counted and dropped. */
#define EVENT_QUEUE_MAX (64u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

struct bcast;

struct member {
	uint64_t hash; /* XXH3 of the name: table slot and checksum */
	uint32_t incarnation;
	uint32_t idx; /* position in s->members */
	uint64_t start_ms;
	cl_addr addr;
	uint8_t status;
	uint8_t name_len;
	uint16_t tags_len;
	/* Only members that are not alive need list links, a timestamp and a
	 * suspicion: keeping those aside keeps the common member at 64 bytes,
	 * which is what lets one process simulate 10,000 nodes that each
	 * know 10,000 members. */
	struct member_aux *aux;
	struct bcast *bc;
	char data[]; /* name, NUL, tags */
};

#define SUSPICION_ACCUSERS 8

struct suspicion {
	cl_usec start;
	cl_usec deadline;
	unsigned confirmations;
	unsigned k; /* confirmations that bring it to the minimum */
	cl_usec min, max;
	uint64_t accusers[SUSPICION_ACCUSERS]; /* name hashes seen */
	unsigned n_accusers;
};

struct member_aux {
	struct member *prev, *next; /* suspect list or tombstone list */
	cl_usec since;              /* entered its current status */
	struct suspicion susp;      /* while suspect */
};

struct bcast {
	struct bcast *prev, *next;
	struct member *m;
	uint8_t transmits;
	uint16_t len;
	uint8_t msg[];
};

struct relay {
	bool used;
	bool want_nack;
	uint32_t local_seq;
	uint32_t origin_seq;
	uint64_t origin_id;
	cl_addr origin;
	cl_usec deadline;
};

enum probe_phase { PROBE_IDLE, PROBE_DIRECT, PROBE_INDIRECT };

struct slot {
	uint64_t hash;
	struct member *m;
};

struct list {
	struct member *head;
	size_t n;
};

struct cl_swim {
	cl_swim_config cfg;
	cl_swim_io io;
	char label[CL_WIRE_LABEL_MAX + 1];
	size_t label_len;
	size_t tags_max;
	size_t max_members;

	/* Members: array (probe order) + hash table of pointers. */
	struct member **members;
	size_t n, cap;
	struct slot *table;
	size_t table_mask;
	size_t counts[4];
	uint64_t checksum;
	struct list suspects;
	struct list tombstones;

	/* Probing. */
	size_t probe_idx;
	uint32_t seq;
	enum probe_phase phase;
	uint32_t probe_seq;
	uint64_t probe_target_hash;
	char probe_target[CL_WIRE_NAME_MAX + 1];
	uint8_t probe_target_len;
	cl_usec probe_sent, probe_phase_deadline;
	unsigned expected_nacks, nacks;
	unsigned health;
	struct relay relays[RELAYS_MAX];
	unsigned relays_used;
	/* Partition healing: the dead member pinged last, and its ping's
	 * sequence number; an ack turns into a full push-pull. */
	uint32_t retry_seq;
	uint64_t retry_id;
	cl_addr retry_addr;
	cl_usec retry_deadline;

	/* Timers. */
	cl_usec next_probe, next_gossip, next_pushpull, next_dead_retry;
	cl_usec next_reap, next_join_retry, last_sync, leave_deadline;
	/* Anti-entropy that agreement makes redundant: the last ping whose
	 * checksum differed from ours, and periodic syncs skipped since. */
	cl_usec last_mismatch;
	unsigned pushpull_skips;

	/* Broadcasts, bucketed by transmit count. */
	struct bcast *bq[TRANSMIT_BUCKETS];
	size_t bq_len;

	/* Join. */
	cl_addr seeds[SEEDS_MAX];
	size_t n_seeds;
	bool joined;

	bool leaving, left;

	/* Events, serialised. */
	uint8_t *evq;
	size_t evq_head, evq_tail, evq_cap;

	cl_swim_stats stats;
	/* Scratch for one packet, sized by the MTU. */
	uint8_t *pkt;
	cl_wire_msg *msgs;
	size_t max_msgs;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static inline const char *mname(const struct member *m)
{
	return m->data;
}

static inline const uint8_t *mtags(const struct member *m)
{
	return (const uint8_t *)m->data + m->name_len + 1;
}

static inline cl_bytes mname_bytes(const struct member *m)
{
	return (cl_bytes){(const uint8_t *)m->data, m->name_len};
}

static inline struct member *self(const cl_swim *s)
{
	return s->members[0];
}

static inline uint64_t rnd(cl_swim *s)
{
	return s->io.rand(s->io.ctx);
}

static inline size_t rnd_below(cl_swim *s, size_t n)
{
	return n ? (size_t)(rnd(s) % n) : 0;
}

static inline uint64_t name_hash(const uint8_t *name, size_t len)
{
	return XXH3_64bits(name, len);
}

static inline bool live(uint8_t status)
{
	return status == CL_STATUS_ALIVE || status == CL_STATUS_SUSPECT;
}

/* A member's share of the membership checksum. */
static inline uint64_t contrib(const struct member *m)
{
	if (!live(m->status))
		return 0;
	uint64_t x = m->hash ^ ((uint64_t)m->incarnation * 0x9E3779B97F4A7C15ull);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static size_t alive_estimate(const cl_swim *s)
{
	size_t n = s->counts[CL_STATUS_ALIVE] + s->counts[CL_STATUS_SUSPECT];
	return n ? n : 1;
}

/* lambda * ceil(log10(N + 1)) */
static unsigned retransmit_limit(const cl_swim *s)
{
	size_t n = alive_estimate(s) + 1;
	unsigned digits = 0;
	for (size_t v = n - 1; v > 0; v /= 10)
		digits++;
	if (digits == 0)
		digits = 1;
	unsigned lim = s->cfg.timing.retransmit_mult * digits;
	return lim < TRANSMIT_BUCKETS - 1 ? lim : TRANSMIT_BUCKETS - 1;
}

static cl_usec scaled(const cl_swim *s, cl_usec t)
{
	return t * (cl_usec)(s->health + 1);
}

static void health_delta(cl_swim *s, int d)
{
	int h = (int)s->health + d;
	if (h < 0)
		h = 0;
	if (h > (int)s->cfg.timing.awareness_max)
		h = (int)s->cfg.timing.awareness_max;
	s->health = (unsigned)h;
}

/* ------------------------------------------------------------------ */
/* Member table                                                        */
/* ------------------------------------------------------------------ */

/* Slots keep the name hash beside the pointer: a probe compares hashes in
 * the table itself and touches a member only on a likely match. */
static struct slot *table_slot(const cl_swim *s, uint64_t h,
			       const uint8_t *name, size_t len)
{
	size_t i = (size_t)h & s->table_mask;
	for (;;) {
		struct slot *sl = &s->table[i];
		if (!sl->m || (sl->hash == h && sl->m->name_len == len &&
			       memcmp(sl->m->data, name, len) == 0))
			return sl;
		i = (i + 1) & s->table_mask;
	}
}

static struct member *find(const cl_swim *s, const uint8_t *name, size_t len)
{
	return table_slot(s, name_hash(name, len), name, len)->m;
}

static void table_put(cl_swim *s, struct member *m)
{
	struct slot *sl = table_slot(s, m->hash, (uint8_t *)m->data, m->name_len);
	sl->hash = m->hash;
	sl->m = m;
}

static int table_grow(cl_swim *s)
{
	size_t ncap = (s->table_mask + 1) * 2;
	struct slot *nt = calloc(ncap, sizeof *nt);
	if (!nt)
		return CLOISTER_ENOMEM;
	struct slot *old = s->table;
	size_t ocap = s->table_mask + 1;
	s->table = nt;
	s->table_mask = ncap - 1;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].m)
			table_put(s, old[i].m);
	free(old);
	return 0;
}

/* Linear probing with backward-shift deletion: no tombstones in the table,
 * so lookups stay short however many members come and go. */
static void table_remove(cl_swim *s, struct member *m)
{
	size_t i = (size_t)m->hash & s->table_mask;
	while (s->table[i].m != m)
		i = (i + 1) & s->table_mask;
	size_t j = i;
	for (;;) {
		j = (j + 1) & s->table_mask;
		struct slot x = s->table[j];
		if (!x.m)
			break;
		size_t home = (size_t)x.hash & s->table_mask;
		/* Move x back into the hole unless its home lies in (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j)
				       : (home > i || home <= j);
		if (!in_range) {
			s->table[i] = x;
			i = j;
		}
	}
	s->table[i] = (struct slot){0, NULL};
}

static void list_add(struct list *l, struct member *m)
{
	m->aux->prev = NULL;
	m->aux->next = l->head;
	if (l->head)
		l->head->aux->prev = m;
	l->head = m;
	l->n++;
}

static void list_del(struct list *l, struct member *m)
{
	if (m->aux->prev)
		m->aux->prev->aux->next = m->aux->next;
	else
		l->head = m->aux->next;
	if (m->aux->next)
		m->aux->next->aux->prev = m->aux->prev;
	m->aux->prev = m->aux->next = NULL;
	l->n--;
}

static inline struct member *lnext(const struct member *m)
{
	return m->aux->next;
}

/* The running suspicion of a suspect, NULL for anyone else. */
static inline struct suspicion *suspicion_of(struct member *m)
{
	return m->status == CL_STATUS_SUSPECT && m->aux ? &m->aux->susp : NULL;
}

static struct list *status_list(cl_swim *s, uint8_t status)
{
	switch (status) {
	case CL_STATUS_SUSPECT:
		return &s->suspects;
	case CL_STATUS_DEAD:
	case CL_STATUS_LEFT:
		return &s->tombstones;
	default:
		return NULL;
	}
}

/* Every status change goes through here, so counts, lists and the
 * checksum cannot drift apart. */
static void set_state(cl_swim *s, struct member *m, uint8_t status,
		      uint32_t incarnation, cl_usec now)
{
	struct list *from = status_list(s, m->status);
	struct list *to = status_list(s, status);
	if (to && !m->aux) {
		m->aux = calloc(1, sizeof *m->aux);
		if (!m->aux)
			return; /* out of memory: the member keeps its state */
	}
	s->checksum ^= contrib(m);
	if (from != to) {
		if (from)
			list_del(from, m);
		if (to)
			list_add(to, m);
	}
	s->counts[m->status]--;
	if (m->status != status && m->aux)
		m->aux->since = now;
	m->status = status;
	m->incarnation = incarnation;
	s->counts[status]++;
	s->checksum ^= contrib(m);
	if (!to && m->aux) {
		free(m->aux);
		m->aux = NULL;
	}
}

static struct member *member_alloc(const uint8_t *name, size_t name_len,
				   const uint8_t *tags, size_t tags_len)
{
	struct member *m =
		malloc(sizeof *m + name_len + 1 + (tags_len ? tags_len : 0));
	if (!m)
		return NULL;
	memset(m, 0, sizeof *m);
	m->name_len = (uint8_t)name_len;
	m->tags_len = (uint16_t)tags_len;
	memcpy(m->data, name, name_len);
	m->data[name_len] = '\0';
	if (tags_len)
		memcpy(m->data + name_len + 1, tags, tags_len);
	return m;
}

static struct member *member_add(cl_swim *s, const uint8_t *name,
				 size_t name_len, uint64_t h, const uint8_t *tags,
				 size_t tags_len, cl_usec now)
{
	if (s->n >= s->max_members) {
		s->stats.members_refused++;
		return NULL;
	}
	/* Grow at 3/4 full: with hashes inline, probe runs stay cheap. */
	if ((s->n + 1) * 4 > (s->table_mask + 1) * 3 && table_grow(s) != 0)
		return NULL;
	if (s->n == s->cap) {
		size_t ncap = s->cap * 2;
		struct member **nm = realloc(s->members, ncap * sizeof *nm);
		if (!nm)
			return NULL;
		s->members = nm;
		s->cap = ncap;
	}
	struct member *m = member_alloc(name, name_len, tags, tags_len);
	if (!m)
		return NULL;
	m->hash = h;
	/* A placeholder state (alive, incarnation 0) that the caller's
	 * set_state() replaces; counted and summed like any other. */
	m->status = CL_STATUS_ALIVE;
	s->counts[CL_STATUS_ALIVE]++;
	s->checksum ^= contrib(m);
	table_put(s, m);
	/* Insert at a random place in the probe order (not at the end, or a
	 * burst of joiners would all wait a full round to be probed). */
	size_t at = s->n;
	s->members[s->n++] = m;
	m->idx = (uint32_t)at;
	if (s->n > 2) {
		size_t j = 1 + rnd_below(s, s->n - 1);
		struct member *o = s->members[j];
		s->members[j] = m;
		s->members[at] = o;
		m->idx = (uint32_t)j;
		o->idx = (uint32_t)at;
	}
	return m;
}

/* Replaces a member's tags; the struct may move. */
static struct member *member_set_tags(cl_swim *s, struct member *m,
				      const uint8_t *tags, size_t len)
{
	if (m->tags_len == len && memcmp(mtags(m), tags, len) == 0)
		return m;
	struct member *n = realloc(m, sizeof *m + m->name_len + 1 + len);
	if (!n)
		return m;
	m = n;
	m->tags_len = (uint16_t)len;
	if (len)
		memcpy(m->data + m->name_len + 1, tags, len);
	/* Re-point everything that referenced the old allocation. */
	s->members[m->idx] = m;
	table_slot(s, m->hash, (uint8_t *)m->data, m->name_len)->m = m;
	if (m->aux) {
		if (m->aux->prev)
			m->aux->prev->aux->next = m;
		else
			status_list(s, m->status)->head = m;
		if (m->aux->next)
			m->aux->next->aux->prev = m;
	}
	if (m->bc)
		m->bc->m = m;
	return m;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

struct ev_rec {
	uint8_t type, status, name_len;
	uint16_t tags_len;
	uint32_t incarnation;
	uint64_t start_ms;
	cl_addr addr;
};

static void emit(cl_swim *s, uint8_t type, const struct member *m)
{
	struct ev_rec r = {
		.type = type,
		.status = m->status,
		.name_len = m->name_len,
		.tags_len = m->tags_len,
		.incarnation = m->incarnation,
		.start_ms = m->start_ms,
		.addr = m->addr,
	};
	size_t need = sizeof r + m->name_len + m->tags_len;
	if (s->evq_tail + need > s->evq_cap) {
		/* Compact first, grow only if that is not enough. */
		if (s->evq_head > 0) {
			memmove(s->evq, s->evq + s->evq_head,
				s->evq_tail - s->evq_head);
			s->evq_tail -= s->evq_head;
			s->evq_head = 0;
		}
		if (s->evq_tail + need > s->evq_cap) {
			size_t ncap = s->evq_cap ? s->evq_cap * 2 : 4096;
			while (ncap < s->evq_tail + need)
				ncap *= 2;
			uint8_t *nq = ncap <= EVENT_QUEUE_MAX
					      ? realloc(s->evq, ncap)
					      : NULL;
			if (!nq) {
				s->stats.events_dropped++;
				return;
			}
			s->evq = nq;
			s->evq_cap = ncap;
		}
	}
	memcpy(s->evq + s->evq_tail, &r, sizeof r);
	memcpy(s->evq + s->evq_tail + sizeof r, m->data, m->name_len);
	memcpy(s->evq + s->evq_tail + sizeof r + m->name_len, mtags(m),
	       m->tags_len);
	s->evq_tail += need;
}

bool cl_swim_next_event(cl_swim *s, cl_swim_event *ev)
{
	if (s->evq_head == s->evq_tail) {
		/* Drained: give back a queue a join burst blew up. */
		s->evq_head = s->evq_tail = 0;
		if (s->evq_cap > 65536) {
			free(s->evq);
			s->evq = NULL;
			s->evq_cap = 0;
		}
		return false;
	}
	struct ev_rec r;
	memcpy(&r, s->evq + s->evq_head, sizeof r);
	const uint8_t *p = s->evq + s->evq_head + sizeof r;
	ev->type = r.type;
	ev->status = r.status;
	ev->incarnation = r.incarnation;
	ev->start_ms = r.start_ms;
	ev->addr = r.addr;
	ev->name_len = r.name_len;
	ev->tags_len = r.tags_len;
	memcpy(ev->name, p, r.name_len);
	ev->name[r.name_len] = '\0';
	memcpy(ev->tags, p + r.name_len, r.tags_len);
	s->evq_head += sizeof r + r.name_len + r.tags_len;
	return true;
}

/* ------------------------------------------------------------------ */
/* Broadcast queue                                                     */
/* ------------------------------------------------------------------ */

static void bq_unlink(cl_swim *s, struct bcast *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		s->bq[b->transmits] = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = b->next = NULL;
}

static void bq_push_head(cl_swim *s, struct bcast *b)
{
	b->prev = NULL;
	b->next = s->bq[b->transmits];
	if (b->next)
		b->next->prev = b;
	s->bq[b->transmits] = b;
}

static void bq_drop(cl_swim *s, struct bcast *b)
{
	bq_unlink(s, b);
	if (b->m)
		b->m->bc = NULL;
	s->bq_len--;
	free(b);
}

/* Queues an encoded update about m, replacing any older one about m: only
 * the newest word about a member is worth retransmitting. */
static void enqueue(cl_swim *s, struct member *m, const cl_wbuf *w)
{
	if (m->bc)
		bq_drop(s, m->bc);
	struct bcast *b = malloc(sizeof *b + w->len);
	if (!b)
		return;
	b->m = m;
	b->transmits = 0;
	b->len = (uint16_t)w->len;
	memcpy(b->msg, w->buf, w->len);
	m->bc = b;
	bq_push_head(s, b);
	s->bq_len++;
	for (int t = TRANSMIT_BUCKETS - 1; s->bq_len > BQ_MAX && t > 0; t--)
		while (s->bq[t] && s->bq_len > BQ_MAX)
			bq_drop(s, s->bq[t]);
}

static void broadcast_alive(cl_swim *s, struct member *m)
{
	uint8_t buf[1400];
	cl_wbuf w = {buf, sizeof buf, 0, 0};
	if (cl_wire_put_alive(&w, m->incarnation, m->start_ms, mname_bytes(m),
			      &m->addr, (cl_bytes){mtags(m), m->tags_len}))
		enqueue(s, m, &w);
}

static void broadcast_accuse(cl_swim *s, struct member *m, uint8_t type,
			     cl_bytes accuser)
{
	uint8_t buf[600];
	cl_wbuf w = {buf, sizeof buf, 0, 0};
	if (cl_wire_put_accuse(&w, type, m->incarnation, mname_bytes(m),
			       accuser))
		enqueue(s, m, &w);
}

/* Appends queued updates to a packet: fewest transmits first, newest first
 * within a count; each one sent is moved up a bucket, and retired once it
 * has been sent retransmit_limit() times. */
static void piggyback(cl_swim *s, cl_wbuf *w)
{
	if (s->bq_len == 0)
		return;
	unsigned limit = retransmit_limit(s);
	struct bcast *sent = NULL;
	unsigned misfits = 0;
	for (unsigned t = 0; t < TRANSMIT_BUCKETS && misfits < PIGGYBACK_MISFITS;
	     t++) {
		struct bcast *b = s->bq[t];
		while (b && misfits < PIGGYBACK_MISFITS) {
			struct bcast *next = b->next;
			if (w->len + b->len <= w->cap) {
				memcpy(w->buf + w->len, b->msg, b->len);
				w->len += b->len;
				bq_unlink(s, b);
				b->next = sent;
				sent = b;
			} else if (++misfits, w->cap - w->len < 16) {
				misfits = PIGGYBACK_MISFITS;
			}
			b = next;
		}
	}
	/* Re-file after the scan, so one packet never carries a message twice. */
	while (sent) {
		struct bcast *b = sent;
		sent = b->next;
		b->transmits++;
		if (b->transmits >= limit) {
			b->prev = b->next = NULL;
			if (b->m)
				b->m->bc = NULL;
			s->bq_len--;
			free(b);
		} else {
			bq_push_head(s, b);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static void begin(cl_swim *s, cl_wbuf *w)
{
	cl_wire_begin(w, s->pkt, s->cfg.timing.mtu, s->label, s->label_len);
}

static void transmit(cl_swim *s, const cl_addr *to, uint64_t to_id,
		     cl_wbuf *w, bool stream)
{
	if (stream) {
		s->stats.streams_out++;
	} else {
		s->stats.packets_out++;
	}
	s->stats.bytes_out += w->len;
	s->io.send(s->io.ctx, to, to_id, w->buf, w->len, stream);
}

static void send_ack(cl_swim *s, const cl_addr *to, uint64_t to_id,
		     uint8_t type, uint32_t seq,
		     const struct member *dead_source, bool stream)
{
	cl_wbuf w;
	begin(s, &w);
	if (dead_source)
		cl_wire_put_accuse(&w, CL_MSG_DEAD, dead_source->incarnation,
				   mname_bytes(dead_source), mname_bytes(self(s)));
	cl_wire_put_ack(&w, type, seq);
	piggyback(s, &w);
	transmit(s, to, to_id, &w, stream);
}

static void send_ping(cl_swim *s, const cl_addr *to, uint32_t seq,
		      cl_bytes target, const struct member *suspect,
		      bool stream)
{
	cl_wbuf w;
	begin(s, &w);
	/* Buddy system: the suspicion rides first so the target can refute. */
	if (suspect)
		cl_wire_put_accuse(&w, CL_MSG_SUSPECT, suspect->incarnation,
				   mname_bytes(suspect), mname_bytes(self(s)));
	cl_wire_put_ping(&w, seq, target, mname_bytes(self(s)), &self(s)->addr,
			 s->checksum, (uint32_t)alive_estimate(s));
	piggyback(s, &w);
	transmit(s, to, name_hash(target.ptr, target.len), &w, stream);
}

/* Full state over a stream: every member, self included. */
static void send_pushpull(cl_swim *s, const cl_addr *to, uint64_t to_id,
			  uint8_t flags)
{
	/* Exact size: a member is 1+4+8 + 1+name + addr (<= 19) + 2+tags. */
	size_t cap = 16 + CL_WIRE_LABEL_MAX;
	for (size_t i = 0; i < s->n; i++)
		cap += 35 + s->members[i]->name_len + s->members[i]->tags_len;
	if (cap > CL_WIRE_STREAM_MAX)
		cap = CL_WIRE_STREAM_MAX;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return;
	cl_wbuf w;
	cl_wire_begin(&w, buf, cap, s->label, s->label_len);
	cl_wire_pushpull_begin(&w, flags);
	for (size_t i = 0; i < s->n; i++) {
		const struct member *m = s->members[i];
		cl_wire_member wm = {
			.status = m->status,
			.incarnation = m->incarnation,
			.start_ms = m->start_ms,
			.name = mname_bytes(m),
			.addr = m->addr,
			.tags = {mtags(m), m->tags_len},
		};
		if (!cl_wire_pushpull_add(&w, &wm))
			break;
	}
	cl_wire_pushpull_end(&w);
	s->stats.pushpulls++;
	transmit(s, to, to_id, &w, true);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* State transitions (the heart of SWIM)                               */
/* ------------------------------------------------------------------ */

static void refute(cl_swim *s, uint32_t accused_inc, cl_usec now)
{
	struct member *me = self(s);
	uint32_t inc = me->incarnation + 1;
	if (accused_inc >= inc)
		inc = accused_inc + 1;
	set_state(s, me, CL_STATUS_ALIVE, inc, now);
	s->stats.refutations++;
	health_delta(s, 1);
	broadcast_alive(s, me);
}

static cl_usec suspicion_timeout(const cl_swim *s, const struct suspicion *sp)
{
	if (sp->k == 0 || sp->confirmations >= sp->k)
		return sp->min;
	double frac = log((double)sp->confirmations + 1.0) /
		      log((double)sp->k + 1.0);
	cl_usec t = sp->max - (cl_usec)((double)(sp->max - sp->min) * frac);
	return t < sp->min ? sp->min : t;
}

static void on_alive(cl_swim *s, const cl_wire_member *a, cl_usec now)
{
	if (a->tags.len > s->tags_max) {
		s->stats.drops[CL_DROP_TOO_BIG]++;
		return;
	}
	uint64_t h = name_hash(a->name.ptr, a->name.len);
	struct member *m = table_slot(s, h, a->name.ptr, a->name.len)->m;

	if (m == self(s)) {
		if (s->leaving)
			return;
		/* Someone holds an older or different picture of us: refute
		 * so ours wins.  An exact echo of ourselves needs nothing. */
		bool same = a->incarnation == m->incarnation &&
			    cl_addr_equal(&a->addr, &m->addr) &&
			    a->tags.len == m->tags_len &&
			    memcmp(a->tags.ptr, mtags(m), m->tags_len) == 0;
		if (!same && a->incarnation >= m->incarnation)
			refute(s, a->incarnation, now);
		return;
	}
	if (!m) {
		m = member_add(s, a->name.ptr, a->name.len, h, a->tags.ptr,
			       a->tags.len, now);
		if (!m)
			return;
		m->addr = a->addr;
		m->start_ms = a->start_ms;
		set_state(s, m, CL_STATUS_ALIVE, a->incarnation, now);
		emit(s, CL_EV_JOIN, m);
		broadcast_alive(s, m);
		return;
	}
	if (a->incarnation <= m->incarnation)
		return; /* stale, or a rumour the tombstone outranks */

	uint8_t was = m->status;
	bool moved = !cl_addr_equal(&m->addr, &a->addr);
	bool retagged = m->tags_len != a->tags.len ||
			memcmp(mtags(m), a->tags.ptr, a->tags.len) != 0;
	m = member_set_tags(s, m, a->tags.ptr, a->tags.len);
	m->addr = a->addr;
	m->start_ms = a->start_ms;
	set_state(s, m, CL_STATUS_ALIVE, a->incarnation, now);
	if (was == CL_STATUS_DEAD || was == CL_STATUS_LEFT)
		emit(s, CL_EV_JOIN, m);
	else if (was != CL_STATUS_ALIVE || moved || retagged)
		emit(s, CL_EV_UPDATE, m);
	broadcast_alive(s, m);
}

static bool accuser_known(struct suspicion *sp, uint64_t h)
{
	for (unsigned i = 0; i < sp->n_accusers; i++)
		if (sp->accusers[i] == h)
			return true;
	if (sp->n_accusers < SUSPICION_ACCUSERS)
		sp->accusers[sp->n_accusers++] = h;
	return false;
}

static void on_suspect(cl_swim *s, uint32_t inc, cl_bytes name,
		       cl_bytes accuser, cl_usec now)
{
	struct member *m = find(s, name.ptr, name.len);
	if (!m || inc < m->incarnation)
		return;
	if (m == self(s)) {
		if (!s->leaving)
			refute(s, inc, now);
		return;
	}
	if (m->status == CL_STATUS_DEAD || m->status == CL_STATUS_LEFT)
		return;
	if (m->status == CL_STATUS_SUSPECT) {
		if (inc > m->incarnation) {
			/* A newer suspicion restarts nothing but the number. */
			set_state(s, m, CL_STATUS_SUSPECT, inc, now);
		}
		struct suspicion *sp = suspicion_of(m);
		uint64_t ah = name_hash(accuser.ptr, accuser.len);
		if (sp && !accuser_known(sp, ah)) {
			/* An independent confirmation shortens the timer
			 * (Lifeguard) and is worth re-gossiping. */
			sp->confirmations++;
			sp->deadline = sp->start + suspicion_timeout(s, sp);
			broadcast_accuse(s, m, CL_MSG_SUSPECT, accuser);
		}
		return;
	}
	/* Alive -> suspect. */
	set_state(s, m, CL_STATUS_SUSPECT, inc, now);
	struct suspicion *sp = suspicion_of(m);
	if (!sp)
		return;
	memset(sp, 0, sizeof *sp);
	size_t n = alive_estimate(s);
	double lg = n > 10 ? log10((double)n) : 1.0;
	sp->min = (cl_usec)((double)s->cfg.timing.suspicion_mult * lg *
			    (double)s->cfg.timing.probe_interval);
	sp->max = sp->min * (cl_usec)s->cfg.timing.suspicion_max_mult;
	sp->k = s->cfg.timing.suspicion_mult > 2
			? s->cfg.timing.suspicion_mult - 2
			: 0;
	if (n < sp->k + 2)
		sp->k = 0; /* too few members to expect confirmations */
	sp->start = now;
	accuser_known(sp, name_hash(accuser.ptr, accuser.len));
	sp->deadline = now + suspicion_timeout(s, sp);
	s->stats.suspicions++;
	emit(s, CL_EV_UPDATE, m);
	broadcast_accuse(s, m, CL_MSG_SUSPECT, accuser);
}

static void on_dead(cl_swim *s, uint32_t inc, cl_bytes name, cl_bytes accuser,
		    cl_usec now)
{
	struct member *m = find(s, name.ptr, name.len);
	if (!m || inc < m->incarnation)
		return;
	if (m->status == CL_STATUS_DEAD || m->status == CL_STATUS_LEFT)
		return;
	bool left = accuser.len == name.len &&
		    memcmp(accuser.ptr, name.ptr, name.len) == 0;
	if (m == self(s)) {
		if (!s->leaving)
			refute(s, inc, now);
		return;
	}
	set_state(s, m, left ? CL_STATUS_LEFT : CL_STATUS_DEAD, inc, now);
	emit(s, left ? CL_EV_LEAVE : CL_EV_FAIL, m);
	broadcast_accuse(s, m, CL_MSG_DEAD, accuser);
}

/* Our own verdict after a suspicion ran out. */
static void declare_dead(cl_swim *s, struct member *m, cl_usec now)
{
	s->stats.deaths_declared++;
	on_dead(s, m->incarnation, mname_bytes(m), mname_bytes(self(s)), now);
}

/* A member as seen in someone's full state.  As in memberlist, a remote
 * "dead" only makes us suspect (we may know better; if not, the timer
 * will finish the job), while "left" is final. */
static void merge_member(cl_swim *s, const cl_wire_member *wm, cl_usec now)
{
	switch (wm->status) {
	case CL_STATUS_ALIVE:
		on_alive(s, wm, now);
		break;
	case CL_STATUS_SUSPECT:
	case CL_STATUS_DEAD:
		on_suspect(s, wm->incarnation, wm->name, mname_bytes(self(s)),
			   now);
		break;
	case CL_STATUS_LEFT:
		on_dead(s, wm->incarnation, wm->name, wm->name, now);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Probing                                                             */
/* ------------------------------------------------------------------ */

/* Picks up to k distinct live members other than self and `not`. */
static size_t pick_random(cl_swim *s, struct member **out, size_t k,
			  const struct member *not)
{
	size_t got = 0;
	size_t candidates = s->counts[CL_STATUS_ALIVE] + s->counts[CL_STATUS_SUSPECT];
	candidates -= live(self(s)->status);
	if (not && not != self(s) && live(not->status))
		candidates--;
	if (k > candidates)
		k = candidates;
	/* Rejection sampling, bounded: tombstones can crowd the table. */
	for (size_t tries = 0; got < k && tries < 8 * k + 32; tries++) {
		struct member *m = s->members[rnd_below(s, s->n)];
		if (m == self(s) || m == not || !live(m->status))
			continue;
		bool dup = false;
		for (size_t i = 0; i < got; i++)
			dup |= out[i] == m;
		if (!dup)
			out[got++] = m;
	}
	return got;
}

static void shuffle_members(cl_swim *s)
{
	for (size_t i = s->n - 1; i > 1; i--) {
		size_t j = 1 + rnd_below(s, i);
		struct member *t = s->members[i];
		s->members[i] = s->members[j];
		s->members[j] = t;
		s->members[i]->idx = (uint32_t)i;
		s->members[j]->idx = (uint32_t)j;
	}
}

static struct member *next_probe_target(cl_swim *s)
{
	for (size_t tried = 0; tried < s->n; tried++) {
		if (s->probe_idx >= s->n) {
			shuffle_members(s);
			s->probe_idx = 1;
		}
		if (s->probe_idx >= s->n)
			return NULL;
		struct member *m = s->members[s->probe_idx++];
		if (m != self(s) && live(m->status))
			return m;
	}
	return NULL;
}

static void probe_start(cl_swim *s, cl_usec now)
{
	struct member *t = next_probe_target(s);
	if (!t)
		return;
	s->probe_seq = ++s->seq;
	s->probe_target_hash = t->hash;
	memcpy(s->probe_target, t->data, t->name_len);
	s->probe_target_len = t->name_len;
	s->probe_sent = now;
	s->probe_phase_deadline = now + scaled(s, s->cfg.timing.probe_timeout);
	s->phase = PROBE_DIRECT;
	s->nacks = 0;
	s->expected_nacks = 0;
	s->stats.probes++;
	send_ping(s, &t->addr, s->probe_seq, mname_bytes(t),
		  t->status == CL_STATUS_SUSPECT ? t : NULL, false);
}

static struct member *probe_target(cl_swim *s)
{
	struct member *m = find(s, (uint8_t *)s->probe_target,
				s->probe_target_len);
	return m && live(m->status) ? m : NULL;
}

static void probe_indirect(cl_swim *s, cl_usec now)
{
	struct member *t = probe_target(s);
	if (!t) {
		s->phase = PROBE_IDLE;
		return;
	}
	struct member *relays[16];
	size_t k = s->cfg.timing.indirect_checks;
	if (k > 16)
		k = 16;
	k = pick_random(s, relays, k, t);
	for (size_t i = 0; i < k; i++) {
		cl_wbuf w;
		begin(s, &w);
		cl_wire_put_ping_req(&w, s->probe_seq, mname_bytes(t), &t->addr,
				     mname_bytes(self(s)), &self(s)->addr,
				     CL_PINGREQ_WANT_NACK);
		piggyback(s, &w);
		transmit(s, &relays[i]->addr, relays[i]->hash, &w, false);
		s->stats.indirect_probes++;
	}
	/* Stream fallback (as memberlist's TCP ping): the same ping, same
	 * sequence number, over the reliable transport.  Datagram loss that
	 * ate the direct ping or its ack rarely defeats TCP's retransmission
	 * within the rest of the period, so under heavy loss this, not the
	 * relays, is what keeps a live member from being suspected. */
	if (!s->cfg.no_stream_ping) {
		send_ping(s, &t->addr, s->probe_seq, mname_bytes(t),
			  t->status == CL_STATUS_SUSPECT ? t : NULL, true);
		s->stats.stream_pings++;
	}
	s->expected_nacks = (unsigned)k;
	s->phase = PROBE_INDIRECT;
	s->probe_phase_deadline = s->probe_sent + scaled(s, s->cfg.timing.probe_interval);
}

static void probe_failed(cl_swim *s, cl_usec now)
{
	s->phase = PROBE_IDLE;
	s->stats.probe_fails++;
	/* Lifeguard: missing nacks mean our relays could not hear us either,
	 * so the fault is likely ours.  Without relays, any failure counts. */
	if (s->expected_nacks > 0) {
		if (s->nacks < s->expected_nacks)
			health_delta(s, (int)(s->expected_nacks - s->nacks));
	} else {
		health_delta(s, 1);
	}
	/* Also when already suspect: our failed probe is one more independent
	 * confirmation. */
	struct member *t = probe_target(s);
	if (t)
		on_suspect(s, t->incarnation, mname_bytes(t), mname_bytes(self(s)),
			   now);
}

static void probe_acked(cl_swim *s)
{
	s->phase = PROBE_IDLE;
	health_delta(s, -1);
}

/* ------------------------------------------------------------------ */
/* Incoming messages                                                   */
/* ------------------------------------------------------------------ */

static bool is_self_name(const cl_swim *s, cl_bytes n)
{
	const struct member *me = self(s);
	return n.len == me->name_len && memcmp(n.ptr, me->data, n.len) == 0;
}

static void on_ping(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from,
		    bool stream, cl_usec now)
{
	if (!is_self_name(s, msg->u.ping.target)) {
		/* Meant for whoever had this address before us. */
		s->stats.drops[CL_DROP_UNEXPECTED]++;
		return;
	}
	const struct member *src = find(s, msg->u.ping.source.ptr,
					msg->u.ping.source.len);
	const struct member *dead_src =
		src && !live(src->status) && src->status != CL_STATUS_LEFT
			? src
			: NULL;
	/* A stream ping is answered on its own connection. */
	send_ack(s, from,
		 name_hash(msg->u.ping.source.ptr, msg->u.ping.source.len),
		 CL_MSG_ACK, msg->u.ping.seq, dead_src, stream);

	/* Anti-entropy on disagreement: once gossip has nothing left to say,
	 * or at once when the peer knows clearly more members than we do (a
	 * node that joined early in a burst would otherwise learn the rest
	 * one piggybacked update at a time). */
	size_t ours = alive_estimate(s);
	bool behind = msg->u.ping.member_count > ours + ours / 64 + 2;
	if (msg->u.ping.checksum != s->checksum)
		s->last_mismatch = now;
	if (msg->u.ping.checksum != s->checksum &&
	    (s->bq_len == 0 || behind) &&
	    now - s->last_sync >=
		    s->cfg.timing.sync_min_interval &&
	    !s->leaving) {
		s->last_sync = now;
		s->stats.checksum_syncs++;
		send_pushpull(s, &msg->u.ping.source_addr,
			      name_hash(msg->u.ping.source.ptr,
					msg->u.ping.source.len),
			      0);
	}
}

static void on_ping_req(cl_swim *s, const cl_wire_msg *msg, cl_usec now)
{
	struct relay *r = NULL;
	for (size_t i = 0; i < RELAYS_MAX; i++) {
		if (!s->relays[i].used || s->relays[i].deadline <= now) {
			r = &s->relays[i];
			break;
		}
	}
	if (!r) {
		s->stats.drops[CL_DROP_TOO_MANY]++;
		return;
	}
	if (!r->used)
		s->relays_used++;
	r->used = true;
	r->local_seq = ++s->seq;
	r->origin_seq = msg->u.ping_req.seq;
	r->origin = msg->u.ping_req.origin_addr;
	r->origin_id = name_hash(msg->u.ping_req.origin.ptr,
				 msg->u.ping_req.origin.len);
	r->want_nack = msg->u.ping_req.flags & CL_PINGREQ_WANT_NACK;
	r->deadline = now + s->cfg.timing.probe_timeout;
	send_ping(s, &msg->u.ping_req.target_addr, r->local_seq,
		  msg->u.ping_req.target, NULL, false);
}

static void on_ack(cl_swim *s, uint8_t type, uint32_t seq, bool stream,
		   cl_usec now)
{
	if (s->phase != PROBE_IDLE && seq == s->probe_seq) {
		if (type != CL_MSG_ACK) {
			s->nacks++;
		} else if (stream) {
			/* Only the stream got through: the member lives, but
			 * the datagram path is lossy.  Neither a success nor a
			 * failure for our own health (the nacks that would
			 * tell which are still in flight). */
			s->phase = PROBE_IDLE;
			s->stats.stream_ping_rescues++;
		} else {
			probe_acked(s);
		}
		return;
	}
	if (type != CL_MSG_ACK)
		return;
	if (s->retry_seq && seq == s->retry_seq && now < s->retry_deadline) {
		/* A member we hold dead answers: the partition is over. */
		s->retry_seq = 0;
		send_pushpull(s, &s->retry_addr, s->retry_id, 0);
		return;
	}
	for (size_t i = 0; i < RELAYS_MAX; i++) {
		struct relay *r = &s->relays[i];
		if (r->used && r->local_seq == seq && r->deadline > now) {
			cl_wbuf w;
			begin(s, &w);
			cl_wire_put_ack(&w, CL_MSG_ACK, r->origin_seq);
			piggyback(s, &w);
			transmit(s, &r->origin, r->origin_id, &w, false);
			r->used = false;
			s->relays_used--;
			return;
		}
	}
}

static void on_pushpull(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from,
			cl_usec now)
{
	size_t pos = 0;
	cl_wire_member wm;
	bool first_contact = !s->joined;
	while (cl_wire_member_next(&msg->u.pushpull.entries, &pos, &wm))
		merge_member(s, &wm, now);
	s->joined = true;
	(void)first_contact;
	/* Answer after merging, so our reply already carries any refutation
	 * the merge caused. */
	if (!(msg->u.pushpull.flags & CL_PUSHPULL_REPLY))
		send_pushpull(s, from, 0, CL_PUSHPULL_REPLY);
}

void cl_swim_feed(cl_swim *s, cl_usec now, const cl_addr *from,
		  const uint8_t *buf, size_t len, bool stream)
{
	if (s->left)
		return;
	s->stats.bytes_in += len;
	if (stream)
		s->stats.streams_in++;
	else
		s->stats.packets_in++;
	int n = cl_wire_parse(buf, len, s->label, s->label_len,
			      stream ? CL_WIRE_STREAM_MAX : s->cfg.timing.mtu,
			      stream, s->msgs, s->max_msgs);
	if (n < 0) {
		int reason = -n;
		if (reason >= CL_DROP__COUNT)
			reason = CL_DROP_MALFORMED;
		s->stats.drops[reason]++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const cl_wire_msg *msg = &s->msgs[i];
		switch (msg->type) {
		case CL_MSG_PING:
			on_ping(s, msg, from, stream, now);
			break;
		case CL_MSG_PING_REQ:
			on_ping_req(s, msg, now);
			break;
		case CL_MSG_ACK:
		case CL_MSG_NACK:
			on_ack(s, msg->type, msg->u.ack.seq, stream, now);
			break;
		case CL_MSG_ALIVE:
			on_alive(s, &msg->u.alive, now);
			break;
		case CL_MSG_SUSPECT:
			on_suspect(s, msg->u.accuse.incarnation,
				   msg->u.accuse.member, msg->u.accuse.accuser,
				   now);
			break;
		case CL_MSG_DEAD:
			on_dead(s, msg->u.accuse.incarnation,
				msg->u.accuse.member, msg->u.accuse.accuser, now);
			break;
		case CL_MSG_PUSHPULL:
			on_pushpull(s, msg, from, now);
			break;
		case CL_MSG_USER:
			if (s->io.user && !s->leaving)
				s->io.user(s->io.ctx, from, msg, stream);
			else
				s->stats.drops[CL_DROP_UNEXPECTED]++;
			break;
		default:
			s->stats.drops[CL_DROP_UNEXPECTED]++;
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

static void gossip_round(cl_swim *s)
{
	if (s->bq_len == 0)
		return;
	struct member *to[16];
	size_t k = s->cfg.timing.gossip_nodes;
	if (k > 16)
		k = 16;
	k = pick_random(s, to, k, NULL);
	for (size_t i = 0; i < k && s->bq_len > 0; i++) {
		cl_wbuf w;
		begin(s, &w);
		piggyback(s, &w);
		transmit(s, &to[i]->addr, to[i]->hash, &w, false);
	}
}

/* memberlist's pushPullScale: above 32 members, one more period per
 * doubling, so full-state traffic grows like N*log N, not N^2.  (Spacing
 * checksum-triggered syncs the same way was measured and rejected: at
 * 3,000 nodes joining at once it delayed convergence past 60 s, and the
 * longer gossip stays busy the more the whole run costs.) */
static cl_usec scale_with_size(const cl_swim *s, cl_usec base)
{
	size_t n = alive_estimate(s);
	if (n <= 32)
		return base;
	double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
	return (cl_usec)(mult * (double)base);
}

static cl_usec pushpull_period(const cl_swim *s)
{
	return scale_with_size(s, s->cfg.timing.pushpull_interval);
}

static void reap(cl_swim *s, cl_usec now)
{
	struct member *m = s->tombstones.head;
	while (m) {
		struct member *next = lnext(m);
		if (m != self(s) &&
		    now - m->aux->since >= s->cfg.timing.tombstone_timeout) {
			emit(s, CL_EV_REAP, m);
			list_del(&s->tombstones, m);
			s->counts[m->status]--;
			if (m->bc)
				bq_drop(s, m->bc);
			table_remove(s, m);
			size_t i = m->idx;
			struct member *last = s->members[--s->n];
			s->members[i] = last;
			last->idx = (uint32_t)i;
			if (s->probe_idx > s->n)
				s->probe_idx = s->n;
			free(m->aux);
			free(m);
		}
		m = next;
	}
}

static void dead_retry(cl_swim *s, cl_usec now)
{
	size_t dead = 0;
	for (struct member *m = s->tombstones.head; m; m = lnext(m))
		dead += m->status == CL_STATUS_DEAD;
	if (dead == 0)
		return;
	size_t pick = rnd_below(s, dead);
	for (struct member *m = s->tombstones.head; m; m = lnext(m)) {
		if (m->status != CL_STATUS_DEAD)
			continue;
		if (pick-- == 0) {
			/* A ping first: a full state is only worth sending to a
			 * member that answers, and most dead members are. */
			s->stats.dead_retries++;
			s->retry_seq = ++s->seq;
			s->retry_addr = m->addr;
			s->retry_id = m->hash;
			s->retry_deadline = now + s->cfg.timing.probe_interval;
			send_ping(s, &m->addr, s->retry_seq, mname_bytes(m), NULL,
				  false);
			return;
		}
	}
}

void cl_swim_tick(cl_swim *s, cl_usec now)
{
	if (s->left)
		return;
	const cl_swim_timing *t = &s->cfg.timing;

	if (s->leaving) {
		if (now >= s->next_gossip) {
			gossip_round(s);
			s->next_gossip = now + t->gossip_interval;
		}
		if (now >= s->leave_deadline)
			s->left = true;
		return;
	}

	/* Relays whose target stayed silent: tell the origin (nack). */
	for (size_t i = 0; s->relays_used && i < RELAYS_MAX; i++) {
		struct relay *r = &s->relays[i];
		if (r->used && r->deadline <= now) {
			if (r->want_nack) {
				cl_wbuf w;
				begin(s, &w);
				cl_wire_put_ack(&w, CL_MSG_NACK, r->origin_seq);
				transmit(s, &r->origin, r->origin_id, &w, false);
				s->stats.nacks_sent++;
			}
			r->used = false;
			s->relays_used--;
		}
	}

	if (s->phase == PROBE_DIRECT && now >= s->probe_phase_deadline)
		probe_indirect(s, now);
	if (s->phase == PROBE_INDIRECT && now >= s->probe_phase_deadline)
		probe_failed(s, now);
	if (now >= s->next_probe) {
		if (s->phase != PROBE_IDLE)
			probe_failed(s, now);
		probe_start(s, now);
		s->next_probe = now + scaled(s, t->probe_interval);
	}

	/* Suspicions that ran out. */
	for (struct member *m = s->suspects.head; m;) {
		struct member *next = lnext(m);
		struct suspicion *sp = suspicion_of(m);
		if (sp && now >= sp->deadline)
			declare_dead(s, m, now);
		m = next;
	}

	if (now >= s->next_gossip && s->bq_len > 0) {
		gossip_round(s);
		s->next_gossip = now + t->gossip_interval;
	}
	if (now >= s->next_pushpull) {
		cl_usec period = pushpull_period(s);
		/* The last AGREEMENT_PINGS probe intervals' pings, from as many
		 * random peers, all carried our checksum: the views agree, and
		 * a full state would repeat what both hold.  Still sync every
		 * PUSHPULL_MAX_SKIPS+1 periods, against checksum collisions and
		 * for what the checksum leaves out (tombstones). */
		bool agreed = now - s->last_mismatch >=
				      AGREEMENT_PINGS * s->cfg.timing.probe_interval &&
			      s->pushpull_skips < PUSHPULL_MAX_SKIPS;
		struct member *peer;
		if (agreed) {
			s->pushpull_skips++;
			s->stats.pushpulls_skipped++;
		} else if (pick_random(s, &peer, 1, NULL) == 1) {
			s->pushpull_skips = 0;
			send_pushpull(s, &peer->addr, peer->hash, 0);
		}
		s->next_pushpull = now + period;
	}
	if (now >= s->next_join_retry) {
		s->next_join_retry = CL_NEVER;
		if (alive_estimate(s) <= 1 && s->n_seeds > 0) {
			for (size_t i = 0; i < s->n_seeds; i++)
				send_pushpull(s, &s->seeds[i], 0,
					      CL_PUSHPULL_JOIN);
			s->next_join_retry = now + t->dead_retry_interval / 3;
		}
	}
	if (now >= s->next_dead_retry) {
		dead_retry(s, now);
		s->next_dead_retry = now + t->dead_retry_interval;
	}
	if (now >= s->next_reap) {
		reap(s, now);
		cl_usec every = t->tombstone_timeout / 8;
		s->next_reap = now + (every > CL_SEC ? every : CL_SEC);
	}
}

cl_usec cl_swim_next_deadline(const cl_swim *s)
{
	if (s->left)
		return CL_NEVER;
	/* With nothing queued a gossip round sends nothing: no reason to
	 * wake up for it (an idle node wakes only for its probes).  Once
	 * something is queued, a past gossip deadline makes the owner tick
	 * at once. */
	cl_usec d = s->bq_len > 0 ? s->next_gossip : CL_NEVER;
	if (s->leaving)
		return d < s->leave_deadline ? d : s->leave_deadline;
#define EARLIER(x)                                                             \
	do {                                                                   \
		if ((x) < d)                                                   \
			d = (x);                                               \
	} while (0)
	EARLIER(s->next_probe);
	if (s->phase != PROBE_IDLE)
		EARLIER(s->probe_phase_deadline);
	EARLIER(s->next_pushpull);
	EARLIER(s->next_join_retry);
	EARLIER(s->next_dead_retry);
	EARLIER(s->next_reap);
	for (const struct member *m = s->suspects.head; m; m = lnext(m))
		EARLIER(m->aux->susp.deadline);
	for (size_t i = 0; s->relays_used && i < RELAYS_MAX; i++)
		if (s->relays[i].used)
			EARLIER(s->relays[i].deadline);
#undef EARLIER
	return d;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static bool timing_valid(const cl_swim_timing *t)
{
	return t->probe_interval > 0 && t->probe_timeout > 0 &&
	       t->probe_timeout <= t->probe_interval &&
	       t->gossip_interval > 0 && t->pushpull_interval > 0 &&
	       t->sync_min_interval >= 0 && t->dead_retry_interval > 0 &&
	       t->tombstone_timeout > 0 && t->leave_linger >= 0 &&
	       t->retransmit_mult >= 1 && t->retransmit_mult <= 8 &&
	       t->suspicion_mult >= 1 && t->suspicion_max_mult >= 1 &&
	       t->mtu >= CL_WIRE_MTU_MIN && t->mtu <= 65000;
}

cl_swim *cl_swim_new(const cl_swim_config *cfg, const cl_swim_io *io,
		     cl_usec now, int *err)
{
	int e = CLOISTER_EINVAL;
	cl_swim *s = NULL;
	if (!cfg || !io || !io->send || !io->rand || !cfg->label || !cfg->name)
		goto fail;
	size_t label_len = strlen(cfg->label);
	size_t name_len = strlen(cfg->name);
	size_t tags_max = cfg->tags_max ? cfg->tags_max : 512;
	if (label_len > CL_WIRE_LABEL_MAX ||
	    !cl_wire_name_valid((const uint8_t *)cfg->name, name_len) ||
	    tags_max > CL_WIRE_TAGS_MAX || cfg->tags_len > tags_max ||
	    (cfg->tags_len && !cl_wire_tags_valid(cfg->tags, cfg->tags_len,
						  tags_max)) ||
	    (cfg->addr.family != CL_AF_INET4 && cfg->addr.family != CL_AF_INET6) ||
	    !timing_valid(&cfg->timing))
		goto fail;

	e = CLOISTER_ENOMEM;
	s = calloc(1, sizeof *s);
	if (!s)
		goto fail;
	s->cfg = *cfg;
	s->io = *io;
	memcpy(s->label, cfg->label, label_len);
	s->label_len = label_len;
	s->tags_max = tags_max;
	s->max_members = cfg->max_members ? cfg->max_members : 65536;
	s->cap = 16;
	s->members = malloc(s->cap * sizeof *s->members);
	s->table = calloc(32, sizeof *s->table);
	s->table_mask = 31;
	/* The smallest message (ACK) is 7 bytes: no packet within the MTU
	 * holds more than mtu/7 of them.  Streams carry one PUSHPULL. */
	s->max_msgs = cfg->timing.mtu / 7 + 1;
	if (s->max_msgs > CL_WIRE_MAX_MSGS)
		s->max_msgs = CL_WIRE_MAX_MSGS;
	s->pkt = malloc(cfg->timing.mtu);
	s->msgs = malloc(s->max_msgs * sizeof *s->msgs);
	if (!s->members || !s->table || !s->pkt || !s->msgs)
		goto fail;

	struct member *me =
		member_add(s, (const uint8_t *)cfg->name, name_len,
			   name_hash((const uint8_t *)cfg->name, name_len),
			   cfg->tags, cfg->tags_len, now);
	if (!me)
		goto fail;
	me->addr = cfg->addr;
	me->start_ms = cfg->start_ms;
	set_state(s, me, CL_STATUS_ALIVE, cfg->incarnation, now);
	s->cfg.label = s->label;
	s->cfg.name = mname(me);
	s->cfg.tags = NULL;
	emit(s, CL_EV_JOIN, me);
	broadcast_alive(s, me);

	const cl_swim_timing *t = &cfg->timing;
	/* Spread the first timers over one period, so nodes started together
	 * do not probe and gossip in lockstep. */
	s->next_probe = now + (cl_usec)rnd_below(s, (size_t)t->probe_interval);
	s->next_gossip = now + (cl_usec)rnd_below(s, (size_t)t->gossip_interval);
	s->next_pushpull = now + t->pushpull_interval +
			   (cl_usec)rnd_below(s, (size_t)t->pushpull_interval);
	s->next_dead_retry = now + t->dead_retry_interval +
			     (cl_usec)rnd_below(s, (size_t)t->dead_retry_interval);
	s->next_reap = now + CL_SEC;
	s->next_join_retry = CL_NEVER;
	s->last_sync = now - t->sync_min_interval;
	s->last_mismatch = now; /* no evidence of agreement yet */
	s->leave_deadline = CL_NEVER;
	s->probe_idx = 1;
	return s;
fail:
	cl_swim_free(s);
	if (err)
		*err = e;
	return NULL;
}

void cl_swim_free(cl_swim *s)
{
	if (!s)
		return;
	for (unsigned t = 0; t < TRANSMIT_BUCKETS; t++) {
		struct bcast *b = s->bq[t];
		while (b) {
			struct bcast *n = b->next;
			free(b);
			b = n;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		free(s->members[i]->aux);
		free(s->members[i]);
	}
	free(s->members);
	free(s->table);
	free(s->pkt);
	free(s->msgs);
	free(s->evq);
	free(s);
}

int cl_swim_join(cl_swim *s, cl_usec now, const cl_addr *seeds, size_t n)
{
	if (s->leaving)
		return CLOISTER_ESTATE;
	if (n > SEEDS_MAX)
		n = SEEDS_MAX;
	for (size_t i = 0; i < n; i++) {
		if (cl_addr_equal(&seeds[i], &self(s)->addr))
			continue;
		bool dup = false;
		for (size_t j = 0; j < s->n_seeds; j++)
			dup |= cl_addr_equal(&s->seeds[j], &seeds[i]);
		if (!dup && s->n_seeds < SEEDS_MAX)
			s->seeds[s->n_seeds++] = seeds[i];
		send_pushpull(s, &seeds[i], 0, CL_PUSHPULL_JOIN);
	}
	s->next_join_retry = now + s->cfg.timing.dead_retry_interval / 3;
	return 0;
}

void cl_swim_leave(cl_swim *s, cl_usec now)
{
	if (s->leaving)
		return;
	struct member *me = self(s);
	s->leaving = true;
	set_state(s, me, CL_STATUS_LEFT, me->incarnation, now);
	broadcast_accuse(s, me, CL_MSG_DEAD, mname_bytes(me));
	s->leave_deadline = now + s->cfg.timing.leave_linger;
	gossip_round(s);
	s->next_gossip = now + s->cfg.timing.gossip_interval;
}

bool cl_swim_left(const cl_swim *s)
{
	return s->left;
}

int cl_swim_set_tags(cl_swim *s, cl_usec now, const uint8_t *tags, size_t len)
{
	if (s->leaving)
		return CLOISTER_ESTATE;
	if (len > s->tags_max || (len && !cl_wire_tags_valid(tags, len, s->tags_max)))
		return CLOISTER_EINVAL;
	struct member *me = member_set_tags(s, self(s), tags, len);
	if (me->tags_len != len)
		return CLOISTER_ENOMEM;
	set_state(s, me, CL_STATUS_ALIVE, me->incarnation + 1, now);
	broadcast_alive(s, me);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

const char *cl_swim_name(const cl_swim *s)
{
	return mname(self(s));
}

uint64_t cl_swim_name_id(const void *name, size_t len)
{
	return name_hash(name, len);
}

uint32_t cl_swim_incarnation(const cl_swim *s)
{
	return self(s)->incarnation;
}

size_t cl_swim_count(const cl_swim *s, enum cl_member_status st)
{
	return (unsigned)st < 4 ? s->counts[st] : 0;
}

uint64_t cl_swim_checksum(const cl_swim *s)
{
	return s->checksum;
}

unsigned cl_swim_health(const cl_swim *s)
{
	return s->health;
}

const cl_swim_stats *cl_swim_get_stats(const cl_swim *s)
{
	return &s->stats;
}

static void view_of(const struct member *m, cl_swim_member_view *v)
{
	v->name = mname(m);
	v->name_len = m->name_len;
	v->status = m->status;
	v->incarnation = m->incarnation;
	v->start_ms = m->start_ms;
	v->addr = m->addr;
	v->tags = mtags(m);
	v->tags_len = m->tags_len;
}

bool cl_swim_lookup(const cl_swim *s, const char *name, size_t len,
		    cl_swim_member_view *out)
{
	if (len == 0 || len > CL_WIRE_NAME_MAX)
		return false;
	const struct member *m = find(s, (const uint8_t *)name, len);
	if (!m)
		return false;
	if (out)
		view_of(m, out);
	return true;
}

void cl_swim_foreach(const cl_swim *s,
		     bool (*fn)(void *arg, const cl_swim_member_view *m),
		     void *arg)
{
	for (size_t i = 0; i < s->n; i++) {
		cl_swim_member_view v;
		view_of(s->members[i], &v);
		if (!fn(arg, &v))
			return;
	}
}
