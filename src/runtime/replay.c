/*
 * replay.c — recipient, time and per-sender replay windows (replay.h).
 *
 * A window remembers times as 32-bit offsets above its floor (a sender's
 * times in one window lie within minutes of each other; a jump of more
 * than 2^31 us raises the floor instead, which only refuses more).
 * Senders live in an open-addressing index (linear probing, ids are
 * hashes already) of pointers to individually allocated entries, grown by
 * doubling up to twice max_senders slots.
 */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

struct window {
	uint64_t floor;                 /* times <= floor are too old */
	uint32_t off[CL_REPLAY_WINDOW]; /* floor + off; 0 = empty */
};

struct sender {
	uint64_t id;
	uint32_t heard_s; /* when last committed, for eviction */
	struct window win[2]; /* by kind */
};

struct cl_replay {
	struct sender **slot;
	size_t cap;   /* slots, a power of two */
	size_t n;     /* senders */
	size_t max;   /* senders at most */
	size_t hand;  /* where the next eviction looks */
};

#define MIN_SLOTS 16
/* A jump this far above the floor restarts the window. */
#define REBASE (1ull << 31)
/* Senders compared when one must go. */
#define EVICT_SAMPLE 32

cl_replay *cl_replay_new(size_t max_senders)
{
	cl_replay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->max = max_senders ? max_senders : CL_REPLAY_SENDERS;
	r->cap = MIN_SLOTS;
	r->slot = calloc(r->cap, sizeof *r->slot);
	if (!r->slot) {
		free(r);
		return NULL;
	}
	return r;
}

void cl_replay_free(cl_replay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		free(r->slot[i]);
	free(r->slot);
	free(r);
}

size_t cl_replay_senders(const cl_replay *r)
{
	return r ? r->n : 0;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t find(const cl_replay *r, uint64_t id)
{
	size_t mask = r->cap - 1, i = (size_t)id & mask;
	while (r->slot[i] && r->slot[i]->id != id)
		i = (i + 1) & mask;
	return i;
}

static const struct sender *lookup(const cl_replay *r, uint64_t id)
{
	return r->slot[find(r, id)];
}

static enum cl_replay_verdict window_check(const struct window *w,
					   uint64_t t)
{
	if (t <= w->floor)
		return CL_REPLAY_TOO_OLD;
	uint64_t d = t - w->floor;
	if (d > UINT32_MAX)
		return CL_REPLAY_OK;
	for (size_t i = 0; i < CL_REPLAY_WINDOW; i++)
		if (w->off[i] == (uint32_t)d)
			return CL_REPLAY_SEEN;
	return CL_REPLAY_OK;
}

static void window_add(struct window *w, uint64_t t)
{
	if (t <= w->floor)
		return;
	if (t - w->floor > UINT32_MAX) {
		/* Everything remembered is far below t: forget it, keeping
		 * the refusal of all of it by raising the floor. */
		uint64_t top = w->floor;
		for (size_t i = 0; i < CL_REPLAY_WINDOW; i++)
			if (w->floor + w->off[i] > top)
				top = w->floor + w->off[i];
		w->floor = t - REBASE > top ? t - REBASE : top;
		memset(w->off, 0, sizeof w->off);
	}
	uint32_t d = (uint32_t)(t - w->floor);
	size_t at = CL_REPLAY_WINDOW, low = 0;
	for (size_t i = 0; i < CL_REPLAY_WINDOW; i++) {
		if (w->off[i] == 0 && at == CL_REPLAY_WINDOW)
			at = i;
		if (w->off[i] != 0 &&
		    (w->off[low] == 0 || w->off[i] < w->off[low]))
			low = i;
	}
	if (at == CL_REPLAY_WINDOW && d < w->off[low]) {
		/* Full, and this is the lowest time of all: it becomes the
		 * floor itself. */
		w->floor = t;
		for (size_t i = 0; i < CL_REPLAY_WINDOW; i++)
			w->off[i] -= d;
		return;
	}
	if (at == CL_REPLAY_WINDOW) {
		/* Full: the lowest time leaves and becomes the floor. */
		uint32_t m = w->off[low];
		w->floor += m;
		for (size_t i = 0; i < CL_REPLAY_WINDOW; i++)
			w->off[i] -= m;
		at = low;
		d -= m;
	}
	w->off[at] = d;
}

enum cl_replay_verdict cl_replay_check(const cl_replay *r,
				       const cl_seal_info *info,
				       uint64_t self_id, uint64_t now_us)
{
	if (info->recipient != 0 && info->recipient != self_id)
		return CL_REPLAY_RECIPIENT;
	uint64_t skew = info->time_us > now_us ? info->time_us - now_us
					       : now_us - info->time_us;
	if (skew > CL_REPLAY_SKEW_US)
		return CL_REPLAY_STALE;
	const struct sender *s = lookup(r, info->sender);
	if (!s)
		return CL_REPLAY_OK;
	return window_check(&s->win[info->kind == CL_SEAL_STREAM],
			    info->time_us);
}

/* Removes the sender in slot i, shifting back the run after it so that
 * every later lookup still finds its id. */
static void remove_at(cl_replay *r, size_t i)
{
	size_t mask = r->cap - 1;
	free(r->slot[i]);
	r->slot[i] = NULL;
	r->n--;
	for (size_t j = (i + 1) & mask; r->slot[j]; j = (j + 1) & mask) {
		size_t home = (size_t)r->slot[j]->id & mask;
		/* Moves back unless its home lies in (i, j]. */
		bool stays = i <= j ? (i < home && home <= j)
				    : (i < home || home <= j);
		if (!stays) {
			r->slot[i] = r->slot[j];
			r->slot[j] = NULL;
			i = j;
		}
	}
}

static void evict_one(cl_replay *r)
{
	size_t victim = r->cap, seen = 0;
	for (size_t k = 0; k < r->cap && seen < EVICT_SAMPLE; k++) {
		size_t i = (r->hand + k) & (r->cap - 1);
		if (!r->slot[i])
			continue;
		seen++;
		if (victim == r->cap ||
		    r->slot[i]->heard_s < r->slot[victim]->heard_s)
			victim = i;
	}
	r->hand = (victim + 1) & (r->cap - 1);
	if (victim < r->cap)
		remove_at(r, victim);
}

static bool grow(cl_replay *r)
{
	size_t cap = r->cap * 2;
	struct sender **slot = calloc(cap, sizeof *slot);
	if (!slot)
		return false;
	for (size_t i = 0; i < r->cap; i++) {
		struct sender *s = r->slot[i];
		if (!s)
			continue;
		size_t j = (size_t)s->id & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = s;
	}
	free(r->slot);
	r->slot = slot;
	r->cap = cap;
	return true;
}

void cl_replay_commit(cl_replay *r, const cl_seal_info *info, uint64_t now_us)
{
	size_t i = find(r, info->sender);
	struct sender *s = r->slot[i];
	if (!s) {
		if (r->n >= r->max)
			evict_one(r);
		/* Load at most one half: probes stay short. */
		if (2 * (r->n + 1) > r->cap && r->cap < 2 * r->max)
			grow(r);
		if (2 * (r->n + 1) > r->cap)
			evict_one(r);
		s = calloc(1, sizeof *s);
		if (!s)
			return; /* unremembered: the time bound still holds */
		s->id = info->sender;
		/* A new sender's windows start just below this time: older
		 * packets within the skew are still taken (replay.h). */
		for (int k = 0; k < 2; k++)
			s->win[k].floor = info->time_us > REBASE
						  ? info->time_us - REBASE
						  : 0;
		i = find(r, info->sender);
		r->slot[i] = s;
		r->n++;
	}
	s->heard_s = (uint32_t)(now_us / 1000000u);
	window_add(&s->win[info->kind == CL_SEAL_STREAM], info->time_us);
}
