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
 * bucket up and never sorts.
 */
#include <stdlib.h>
#include <string.h>

#include "swim_internal.h"

/* Piggyback scan: stop after this many queued updates that do not fit, so
 * filling a packet stays cheap when the queue is long. */
#define PIGGYBACK_MISFITS 32
/* Most updates queued for piggybacking.  A node sends ~17 packets a
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

void swim_bcast_drop(cl_swim *s, struct bcast *b)
{
	bq_unlink(s, b);
	if (b->m)
		b->m->bc = NULL;
	s->bq_len--;
	free(b);
}

void swim_bcast_free_all(cl_swim *s)
{
	for (unsigned t = 0; t < TRANSMIT_BUCKETS; t++) {
		struct bcast *b = s->bq[t];
		while (b) {
			struct bcast *n = b->next;
			free(b);
			b = n;
		}
		s->bq[t] = NULL;
	}
	s->bq_len = 0;
}

static void enqueue(cl_swim *s, struct member *m, const cl_wbuf *w)
{
	if (m->bc)
		swim_bcast_drop(s, m->bc);
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
			swim_bcast_drop(s, s->bq[t]);
}

void swim_broadcast_alive(cl_swim *s, struct member *m)
{
	uint8_t buf[1400];
	cl_wbuf w = {buf, sizeof buf, 0, 0};
	if (cl_wire_put_alive(&w, m->incarnation, m->start_ms, mname_bytes(m),
			      &m->addr, (cl_bytes){mtags(m), m->tags_len}))
		enqueue(s, m, &w);
}

void swim_broadcast_accuse(cl_swim *s, struct member *m, uint8_t type,
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
void swim_piggyback(cl_swim *s, cl_wbuf *w)
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

/* A round of gossip to a few random live members, suspects included: the
 * suspicion about them is news they need, to refute it. */
void swim_gossip_round(cl_swim *s)
{
	if (s->bq_len == 0)
		return;
	struct member *to[16];
	size_t k = s->cfg.timing.gossip_nodes;
	if (k > 16)
		k = 16;
	k = swim_pick_random(s, to, k, NULL, true);
	for (size_t i = 0; i < k && s->bq_len > 0; i++) {
		cl_wbuf w;
		swim_begin(s, &w);
		swim_piggyback(s, &w);
		swim_transmit(s, &to[i]->addr, to[i]->hash, &w, false);
	}
}
