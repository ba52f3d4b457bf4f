/*
 * timings.c — see timings.h.
 *
 * The per-member table is open addressing on the member id (XXH3 of the
 * name, already well mixed), deleted with backward shifting so no
 * tombstones pile up.  It grows by doubling; when it cannot grow (out of
 * memory) a member is simply not timed, and counted.
 */
#include "timings.h"

#include <stdlib.h>
#include <string.h>

#include "core/probe_view.h"
#include "node_internal.h"

/* Bucket bounds, seconds.  Probes: a LAN answers in well under a
 * millisecond, the probe timeout is 500 ms and a probe period 1 s (WAN 5
 * s), so the buckets run from 250 us to 5 s.  Suspicions: the LAN minimum
 * is 4 log10(N) periods (2.4 s at N = 4) and the maximum six times that,
 * so up to two minutes.  Join convergence: discovery and gossip take from
 * a fraction of a second to a few periods; up to two minutes. */
static const double probe_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
				  0.01,    0.025,  0.05,  0.1,    0.25,
				  0.5,     1,      2.5,   5};
static const double suspicion_le[] = {0.5, 1, 2, 3, 4, 6, 8, 10,
				      15,  20, 30, 45, 60, 120};
static const double join_le[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 3,
				 5,    8,   13,   20,  30, 60, 120};

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define TABLE_MIN 64

struct entry {
	uint64_t id;         /* 0: free */
	int64_t rtt_us;      /* -1: none */
	int64_t suspect_us;  /* suspicion start, or -1 */
};

struct cl_timings {
	cl_timings_snapshot h;
	uint64_t self_id;
	uint64_t self_start_ms;
	struct entry *tab;
	size_t cap, used; /* cap: a power of two, or 0 */
	/* The probe seen in flight after the previous step. */
	bool probing;
	cl_swim_probe_view probe;
	uint64_t fails_then;
};

const char *cl_suspicion_end_name(enum cl_suspicion_end e)
{
	switch (e) {
	case CL_SUSPICION_REFUTED:
		return "refuted";
	case CL_SUSPICION_DEAD:
		return "dead";
	case CL_SUSPICION_LEFT:
		return "left";
	case CL_SUSPICION_ENDS:
		break;
	}
	return "unknown";
}

void cl_histogram_init(cl_histogram *h, const double *le, size_t n)
{
	memset(h, 0, sizeof *h);
	h->n = n < CL_HIST_MAX ? n : CL_HIST_MAX;
	memcpy(h->le, le, h->n * sizeof *le);
}

void cl_histogram_observe(cl_histogram *h, double seconds)
{
	if (!(seconds >= 0)) /* NaN too */
		seconds = 0;
	size_t i = 0;
	while (i < h->n && seconds > h->le[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}

cl_timings *cl_timings_new(const char *self, uint64_t self_start_ms)
{
	cl_timings *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	cl_histogram_init(&t->h.probe, probe_le, N_OF(probe_le));
	for (int e = 0; e < CL_SUSPICION_ENDS; e++)
		cl_histogram_init(&t->h.suspicion[e], suspicion_le,
				  N_OF(suspicion_le));
	cl_histogram_init(&t->h.join, join_le, N_OF(join_le));
	t->self_id = cl_swim_name_id(self, strlen(self));
	t->self_start_ms = self_start_ms;
	return t;
}

void cl_timings_free(cl_timings *t)
{
	if (!t)
		return;
	free(t->tab);
	free(t);
}

/* ------------------------------------------------------------------ */
/* The member table                                                    */
/* ------------------------------------------------------------------ */

static struct entry *find(const cl_timings *t, uint64_t id)
{
	if (!t->cap || !id)
		return NULL;
	for (size_t i = id & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->tab[i].id == id)
			return &t->tab[i];
		if (!t->tab[i].id)
			return NULL;
	}
}

static bool grow(cl_timings *t)
{
	size_t cap = t->cap ? t->cap * 2 : TABLE_MIN;
	struct entry *tab = calloc(cap, sizeof *tab);
	if (!tab)
		return false;
	for (size_t k = 0; k < t->cap; k++) {
		if (!t->tab[k].id)
			continue;
		size_t i = t->tab[k].id & (cap - 1);
		while (tab[i].id)
			i = (i + 1) & (cap - 1);
		tab[i] = t->tab[k];
	}
	free(t->tab);
	t->tab = tab;
	t->cap = cap;
	return true;
}

/* The entry for id, made if needed; NULL (counted) when out of memory. */
static struct entry *get(cl_timings *t, uint64_t id)
{
	struct entry *e = find(t, id);
	if (e || !id)
		return e;
	/* At most half full keeps probe sequences short. */
	if ((t->used + 1) * 2 > t->cap && !grow(t)) {
		t->h.untracked++;
		return NULL;
	}
	size_t i = id & (t->cap - 1);
	while (t->tab[i].id)
		i = (i + 1) & (t->cap - 1);
	t->tab[i] = (struct entry){.id = id, .rtt_us = -1, .suspect_us = -1};
	t->used++;
	return &t->tab[i];
}

/* Backward-shift deletion: later entries of the same run move up so that
 * every lookup still finds them. */
static void forget(cl_timings *t, uint64_t id)
{
	struct entry *e = find(t, id);
	if (!e)
		return;
	size_t mask = t->cap - 1, hole = (size_t)(e - t->tab);
	for (size_t i = (hole + 1) & mask; t->tab[i].id; i = (i + 1) & mask) {
		size_t home = t->tab[i].id & mask;
		/* Moves when its home is not in (hole, i], cyclically. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			t->tab[hole] = t->tab[i];
			hole = i;
		}
	}
	t->tab[hole].id = 0;
	t->used--;
}

/* ------------------------------------------------------------------ */
/* Observations                                                        */
/* ------------------------------------------------------------------ */

static void end_suspicion(cl_timings *t, struct entry *e,
			  enum cl_suspicion_end how, int64_t now_us)
{
	if (!e || e->suspect_us < 0)
		return;
	cl_histogram_observe(&t->h.suspicion[how],
			     (double)(now_us - e->suspect_us) / 1e6);
	e->suspect_us = -1;
}

void cl_timings_event(cl_timings *t, const cl_swim_event *ev, int64_t now_us,
		      uint64_t wall_ms)
{
	if (!t || ev->type == CL_EV_RESYNC || ev->type == CL_EV_SUPERSEDED)
		return;
	uint64_t id = cl_swim_name_id(ev->name, ev->name_len);
	if (id == t->self_id)
		return;
	switch (ev->type) {
	case CL_EV_JOIN:
		if (ev->start_ms >= t->self_start_ms)
			cl_histogram_observe(
				&t->h.join,
				wall_ms > ev->start_ms
					? (double)(wall_ms - ev->start_ms) / 1e3
					: 0);
		end_suspicion(t, find(t, id), CL_SUSPICION_REFUTED, now_us);
		break;
	case CL_EV_UPDATE:
		if (ev->status == CL_STATUS_SUSPECT) {
			struct entry *e = get(t, id);
			if (e && e->suspect_us < 0)
				e->suspect_us = now_us;
		} else if (ev->status == CL_STATUS_ALIVE) {
			end_suspicion(t, find(t, id), CL_SUSPICION_REFUTED,
				      now_us);
		}
		break;
	case CL_EV_FAIL:
		end_suspicion(t, find(t, id), CL_SUSPICION_DEAD, now_us);
		break;
	case CL_EV_LEAVE:
		end_suspicion(t, find(t, id), CL_SUSPICION_LEFT, now_us);
		break;
	case CL_EV_REAP:
		forget(t, id);
		break;
	}
}

void cl_timings_probe(cl_timings *t, const cl_swim *core, int64_t now_us)
{
	if (!t)
		return;
	cl_swim_probe_view now;
	bool flying = cl_swim_probe_in_flight(core, &now);
	uint64_t fails = cl_swim_get_stats(core)->probe_fails;
	/* The probe we saw last has ended (or been replaced by the next
	 * one) in this step: answered unless the failure count moved. */
	if (t->probing && (!flying || now.seq != t->probe.seq) &&
	    fails == t->fails_then) {
		int64_t rtt = now_us - t->probe.sent;
		if (rtt < 0)
			rtt = 0;
		cl_histogram_observe(&t->h.probe, (double)rtt / 1e6);
		struct entry *e = get(t, t->probe.target_hash);
		if (e)
			e->rtt_us = rtt;
	}
	t->probing = flying;
	if (flying) {
		t->probe = now;
		t->fails_then = fails;
	}
}

void cl_timings_get(const cl_timings *t, cl_timings_snapshot *out)
{
	*out = t->h;
}

int64_t cl_timings_rtt(const cl_timings *t, uint64_t member_id)
{
	const struct entry *e = find(t, member_id);
	return e ? e->rtt_us : -1;
}

/* ------------------------------------------------------------------ */
/* Through the handle                                                  */
/* ------------------------------------------------------------------ */

int cl_node_timings(cloister_t *c, cl_timings_snapshot *out)
{
	if (!c || !out)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	int e = c->timings ? 0 : CLOISTER_ESTATE;
	if (c->timings)
		cl_timings_get(c->timings, out);
	pthread_mutex_unlock(&c->lock);
	return e;
}

int cl_node_rtts(cloister_t *c, const char *const *names, size_t n,
		 int64_t *rtt_us)
{
	if (!c || (n && (!names || !rtt_us)))
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++)
		rtt_us[i] = c->timings ? cl_timings_rtt(c->timings,
							cl_swim_name_id(
								names[i],
								strlen(names[i])))
				       : -1;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int cl_node_health(cloister_t *c, unsigned *health, unsigned *health_max)
{
	if (!c || !health || !health_max)
		return CLOISTER_EINVAL;
	cl_swim_timing tm;
	cl_swim_timing_profile(&tm, c->cfg.profile);
	pthread_mutex_lock(&c->lock);
	*health = cl_swim_health(c->core);
	pthread_mutex_unlock(&c->lock);
	/* The score runs 0 .. awareness_max - 1 (memberlist's awareness). */
	*health_max = tm.awareness_max ? tm.awareness_max - 1 : 0;
	return 0;
}
