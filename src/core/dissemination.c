/*
 * dissemination.c — membership updates piggybacked on every packet.
 *
 * Updates are not sent on their own: they ride in the spare room of every
 * ping, ack and gossip packet, each retransmitted lambda*log10(N+1) times,
 * newest and least-sent first, so an update reaches everyone in O(log N)
 * rounds while each node's load stays constant (SWIM section 4.1).  Gossip
 * rounds (every gossip interval, to a few random members) carry updates
 * when there are any; with none queued nothing is sent.
 *
 * Broadcasts are kept encoded, one per member (a newer word about a member
 * replaces the queued one: only the newest is worth retransmitting), in
 * buckets by transmit count, so filling a packet walks from the least-sent
 * bucket up and never sorts.  A bucket is an array of (broadcast, length)
 * rather than a list: the walk decides what fits without touching the
 * broadcasts, and loads only those it sends, several at once.
 */
#include <stdlib.h>
#include <string.h>

#include "swim_internal.h"

/* Piggyback scan: stop after this many queued updates that do not fit, so
 * filling a packet stays cheap when the queue is long. */
#define PIGGYBACK_MISFITS 32
/* Most updates queued for piggybacking (BSLOTS in swim_internal.h holds
 * them and the one that overflows the queue).  A node sends ~17 packets a
 * second of ~40 updates each; a queue far longer than a few seconds of
 * that holds mostly stale news that push-pull will carry better.  Past
 * the bound, the most-retransmitted update (the one most likely already
 * everywhere) is dropped first (as Serf prunes its queues). */
#define BQ_MAX 1024

/* lambda * ceil(log10(N + 1)); TRANSMIT_BUCKETS bounds it: with lambda <= 8
 * and N <= 65536 it stays below 48. */
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

bool swim_gossip_fresh(const cl_swim *s)
{
	unsigned half = retransmit_limit(s) / 2;
	for (unsigned i = 0; i < half; i++)
		if (s->bq[i].n > s->bq[i].holes)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Slots                                                               */
/* ------------------------------------------------------------------ */

/* Gives b a slot and makes it m's queued broadcast; false if out of
 * memory. */
static bool slot_take(cl_swim *s, struct member *m, struct bcast *b)
{
	if (!s->bslot) {
		s->bslot = malloc(BSLOTS * sizeof *s->bslot);
		s->bslot_free = malloc(BSLOTS * sizeof *s->bslot_free);
		if (!s->bslot || !s->bslot_free) {
			free(s->bslot);
			free(s->bslot_free);
			s->bslot = NULL;
			s->bslot_free = NULL;
			return false;
		}
	}
	uint16_t i;
	if (s->n_bslot_free)
		i = s->bslot_free[--s->n_bslot_free];
	else if (s->bslot_hw < BSLOTS)
		i = s->bslot_hw++;
	else
		return false; /* cannot happen: enqueue keeps BQ_MAX + 1 */
	s->bslot[i] = b;
	b->slot = i;
	b->m = m;
	m->bc = (i + 1u) & 0x7ffu;
	return true;
}

static void slot_release(cl_swim *s, struct bcast *b)
{
	if (b->m)
		b->m->bc = 0;
	s->bslot[b->slot] = NULL;
	s->bslot_free[s->n_bslot_free++] = b->slot;
}

/* ------------------------------------------------------------------ */
/* Buckets                                                             */
/* ------------------------------------------------------------------ */

/* Closes up a bucket's holes, keeping the order. */
static void bq_compact(cl_swim *s, struct bqueue *q)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < q->n; i++) {
		if (q->e[i].slot == BQ_HOLE)
			continue;
		q->e[k] = q->e[i];
		s->bslot[q->e[k].slot]->pos = (uint16_t)k;
		k++;
	}
	q->n = k;
	q->holes = 0;
}

/* Trailing holes go at once (packets take from the newest end, so that is
 * where most holes are); the rest when they are half the bucket. */
static void bq_tidy(cl_swim *s, struct bqueue *q)
{
	while (q->n > 0 && q->e[q->n - 1].slot == BQ_HOLE) {
		q->n--;
		q->holes--;
	}
	if (q->holes * 2 > q->n)
		bq_compact(s, q);
	if (q->n == 0 && q->cap > 64) {
		free(q->e);
		q->e = NULL;
		q->cap = 0;
	}
}

static void bq_unlink(cl_swim *s, struct bcast *b)
{
	struct bqueue *q = &s->bq[b->transmits];
	q->e[b->pos].slot = BQ_HOLE;
	q->holes++;
	bq_tidy(s, q);
}

/* Files b as the newest of its bucket; false if out of memory. */
static bool bq_append(cl_swim *s, struct bcast *b)
{
	struct bqueue *q = &s->bq[b->transmits];
	if (q->n == q->cap) {
		if (q->holes)
			bq_compact(s, q);
		if (q->n == q->cap) {
			uint32_t ncap = q->cap ? q->cap * 2 : 16;
			struct bq_entry *ne = realloc(q->e, ncap * sizeof *ne);
			if (!ne)
				return false;
			q->e = ne;
			q->cap = ncap;
		}
	}
	q->e[q->n] = (struct bq_entry){b->slot, b->len};
	b->pos = (uint16_t)q->n++;
	return true;
}

/* Forgets b, which is in no bucket. */
static void bcast_free(cl_swim *s, struct bcast *b)
{
	slot_release(s, b);
	s->bq_len--;
	free(b);
}

void swim_bcast_drop(cl_swim *s, struct bcast *b)
{
	bq_unlink(s, b);
	bcast_free(s, b);
}

void swim_bcast_free_all(cl_swim *s)
{
	for (unsigned t = 0; t < TRANSMIT_BUCKETS; t++) {
		struct bqueue *q = &s->bq[t];
		for (uint32_t i = 0; i < q->n; i++)
			if (q->e[i].slot != BQ_HOLE)
				free(s->bslot[q->e[i].slot]);
		free(q->e);
		*q = (struct bqueue){0};
	}
	free(s->bslot);
	free(s->bslot_free);
	s->bslot = NULL;
	s->bslot_free = NULL;
	s->n_bslot_free = s->bslot_hw = 0;
	s->bq_len = 0;
}

/* The newest broadcast of a bucket, NULL if it is empty. */
static struct bcast *bq_newest(cl_swim *s, struct bqueue *q)
{
	for (uint32_t i = q->n; i-- > 0;)
		if (q->e[i].slot != BQ_HOLE)
			return s->bslot[q->e[i].slot];
	return NULL;
}

static void enqueue(cl_swim *s, struct member *m, const cl_wbuf *w)
{
	struct bcast *old = mbc(s, m);
	if (old)
		swim_bcast_drop(s, old);
	struct bcast *b = malloc(sizeof *b + w->len);
	if (!b)
		return;
	b->transmits = 0;
	b->len = (uint16_t)w->len;
	memcpy(b->msg, w->buf, w->len);
	if (!slot_take(s, m, b)) {
		free(b);
		return;
	}
	s->bq_len++;
	if (!bq_append(s, b)) {
		bcast_free(s, b);
		return;
	}
	struct bcast *x;
	for (int t = TRANSMIT_BUCKETS - 1; s->bq_len > BQ_MAX && t > 0; t--)
		while (s->bq_len > BQ_MAX && (x = bq_newest(s, &s->bq[t])))
			swim_bcast_drop(s, x);
}

void swim_broadcast_alive(cl_swim *s, struct member *m)
{
	uint8_t buf[1400];
	cl_wbuf w = {buf, sizeof buf, 0, 0};
	if (cl_wire_put_alive(&w, m->incarnation, mstart(s, m),
			      mname_bytes(s, m), maddr(s, m), mtags_bytes(s, m)))
		enqueue(s, m, &w);
}

void swim_broadcast_accuse(cl_swim *s, struct member *m, uint8_t type,
			   cl_bytes accuser)
{
	uint8_t buf[600];
	cl_wbuf w = {buf, sizeof buf, 0, 0};
	if (cl_wire_put_accuse(&w, type, m->incarnation, mname_bytes(s, m),
			       accuser))
		enqueue(s, m, &w);
}

/* Appends queued updates to a packet: fewest transmits first, newest first
 * within a count; each one sent is moved up a bucket, and retired once it
 * has been sent retransmit_limit() times.  The walk reads lengths from the
 * bucket arrays and loads a broadcast only to copy it, a few ahead (their
 * loads overlap: with thousands of nodes per process, or a long queue,
 * each is a cache miss). */
void swim_piggyback(cl_swim *s, cl_wbuf *w)
{
	if (s->bq_len == 0)
		return;
	unsigned limit = retransmit_limit(s);
	struct bcast *sent[256];
	size_t n_sent = 0;
	unsigned misfits = 0;
	for (unsigned t = 0; t < TRANSMIT_BUCKETS && misfits < PIGGYBACK_MISFITS &&
			     n_sent < sizeof sent / sizeof sent[0];
	     t++) {
		struct bqueue *q = &s->bq[t];
		for (uint32_t i = q->n; i-- > 0 && misfits < PIGGYBACK_MISFITS &&
					 n_sent < sizeof sent / sizeof sent[0];) {
			struct bq_entry *e = &q->e[i];
			if (e->slot == BQ_HOLE)
				continue;
			if (i >= 4 && q->e[i - 4].slot != BQ_HOLE)
				__builtin_prefetch(s->bslot[q->e[i - 4].slot]);
			if (w->len + e->len <= w->cap) {
				struct bcast *b = s->bslot[e->slot];
				memcpy(w->buf + w->len, b->msg, e->len);
				w->len += e->len;
				sent[n_sent++] = b;
				e->slot = BQ_HOLE;
				q->holes++;
			} else if (++misfits, w->cap - w->len < 16) {
				misfits = PIGGYBACK_MISFITS;
			}
		}
		bq_tidy(s, q);
	}
	/* Re-file after the scan, so one packet never carries a message twice. */
	for (size_t i = 0; i < n_sent; i++) {
		struct bcast *b = sent[i];
		b->transmits++;
		if (b->transmits >= limit || !bq_append(s, b))
			bcast_free(s, b);
	}
}

/* A live member heard from in the last LATELY_PERIODS probe intervals
 * (stretched by local health, as probing is), drawn from the ring (each
 * counted once), or NULL. */
static struct member *heard_lately(cl_swim *s, cl_usec now)
{
	struct member *c[LATELY_MAX];
	size_t n = 0;
	cl_usec since =
		now - LATELY_PERIODS * scaled(s, s->cfg.timing.probe_interval);
	for (unsigned i = 0; i < LATELY_MAX; i++) {
		const struct heard_lately *e = &s->lately[i];
		if (!e->set || e->at < since)
			continue;
		struct member *m = mslot(s, e->nid);
		if (!m || !m->used || m == self(s) ||
		    (m->status != CL_STATUS_ALIVE &&
		     m->status != CL_STATUS_SUSPECT))
			continue;
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= c[j] == m;
		if (!dup)
			c[n++] = m;
	}
	return n ? c[rnd_below(s, n)] : NULL;
}

/* A round of gossip to a few live members, suspects included: the
 * suspicion about them is news they need, to refute it.  The first is
 * one heard from of late, the others random (memberlist's are all
 * random).  In a partition's minority, random targets are almost all
 * across the cut: a suspicion, or the refutation that would end it,
 * never reached the one member that could pass it on (seeds 116653,
 * 280239, 737301).  Members heard from lately are those that can be
 * reached; in a whole cluster they are the probe targets and probers of
 * the last periods, themselves random, so the epidemic stays one. */
void swim_gossip_round(cl_swim *s, cl_usec now)
{
	if (s->bq_len == 0)
		return;
	struct member *to[16];
	size_t k = s->cfg.timing.gossip_nodes;
	if (k > 16)
		k = 16;
	struct member *near = k ? heard_lately(s, now) : NULL;
	size_t got = 0;
	if (near)
		to[got++] = near;
	k = got + swim_pick_random(s, to + got, k - got, near, true);
	for (size_t i = 0; i < k && s->bq_len > 0; i++) {
		cl_wbuf w;
		swim_begin(s, &w);
		swim_piggyback(s, &w);
		swim_transmit(s, maddr(s, to[i]), mhash(s, to[i]), &w, false);
	}
}
