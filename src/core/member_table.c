/*
 * member_table.c — who we know: the member array (which is also the probe
 * order), the hash table by name, the suspect and tombstone lists, and the
 * formers, members reaped lately that a stale rumour must not bring back.
 *
 * Every status change goes through swim_set_state(), so counts, lists and
 * the membership checksum cannot drift apart.
 */
#include <stdlib.h>
#include <string.h>

#include "cloister.h"
#include "swim_internal.h"

/* Reaped members remembered, at most.  A former costs 24 bytes; 4,096 of
 * them cover every container a busy cluster replaces within a day, and a
 * rumour older than that is long dead. */
#define FORMERS_MAX 4096

/* A member's share of the membership checksum: live members only, by
 * name and incarnation (status is left out, so a suspicion does not look
 * like a disagreement that needs a full sync). */
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

/* In or out of the membership checksum, and of its bucket's (DIGEST). */
static inline void checksum_toggle(cl_swim *s, const struct member *m)
{
	uint64_t c = contrib(m);
	s->checksum ^= c;
	s->bsum[m->hash >> (64 - CL_WIRE_DIGEST_BITS_MAX)] ^= c;
}

/* ------------------------------------------------------------------ */
/* Hash table                                                          */
/* ------------------------------------------------------------------ */

/* Slots keep the name hash beside the pointer: a probe compares hashes in
 * the table itself and touches a member only on a likely match. */
struct slot *swim_table_slot(const cl_swim *s, uint64_t h,
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

/* The slot holding exactly this member (compared by pointer, so it works
 * while the member's own bytes are being replaced). */
static struct slot *slot_of(const cl_swim *s, const struct member *m)
{
	size_t i = (size_t)m->hash & s->table_mask;
	while (s->table[i].m != m)
		i = (i + 1) & s->table_mask;
	return &s->table[i];
}

struct member *swim_find(const cl_swim *s, const uint8_t *name, size_t len)
{
	return swim_table_slot(s, name_hash(name, len), name, len)->m;
}

static void table_put(cl_swim *s, struct member *m)
{
	struct slot *sl =
		swim_table_slot(s, m->hash, (uint8_t *)m->data, m->name_len);
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
	size_t i = (size_t)(slot_of(s, m) - s->table);
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

/* ------------------------------------------------------------------ */
/* Status lists                                                        */
/* ------------------------------------------------------------------ */

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

void swim_set_state(cl_swim *s, struct member *m, uint8_t status,
		    uint32_t incarnation, cl_usec now)
{
	struct list *from = status_list(s, m->status);
	struct list *to = status_list(s, status);
	if (to && !m->aux) {
		m->aux = calloc(1, sizeof *m->aux);
		if (!m->aux)
			return; /* out of memory: the member keeps its state */
	}
	checksum_toggle(s, m);
	if (m->heard && live(m->status))
		s->heard_live--;
	if (from != to) {
		if (from)
			list_del(from, m);
		if (to)
			list_add(to, m);
	}
	s->counts[m->status]--;
	if (m->status != status && m->aux) {
		m->aux->since = now;
		m->aux->retries = 0;
		m->aux->retry_at = now;
	}
	m->status = status;
	m->incarnation = incarnation;
	s->counts[status]++;
	checksum_toggle(s, m);
	if (m->heard && live(status))
		s->heard_live++;
	if (!to && m->aux) {
		free(m->aux);
		m->aux = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

static struct member *member_alloc(const uint8_t *name, size_t name_len,
				   const uint8_t *tags, size_t tags_len)
{
	struct member *m = malloc(sizeof *m + name_len + 1 + tags_len);
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

struct member *swim_member_add(cl_swim *s, const uint8_t *name,
			       size_t name_len, uint64_t h,
			       const uint8_t *tags, size_t tags_len)
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
	 * swim_set_state() replaces; counted and summed like any other. */
	m->status = CL_STATUS_ALIVE;
	s->counts[CL_STATUS_ALIVE]++;
	checksum_toggle(s, m);
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

/* Replaces a member's tags; the record may move, so everything that points
 * at it is re-pointed (the table slot is found by pointer, before the old
 * record is freed). */
struct member *swim_member_set_tags(cl_swim *s, struct member *m,
				    const uint8_t *tags, size_t len)
{
	if (m->tags_len == len && memcmp(mtags(m), tags, len) == 0)
		return m;
	struct slot *sl = slot_of(s, m);
	struct member *n = realloc(m, sizeof *m + m->name_len + 1 + len);
	if (!n)
		return m;
	m = n;
	m->tags_len = (uint16_t)len;
	if (len)
		memcpy(m->data + m->name_len + 1, tags, len);
	sl->m = m;
	s->members[m->idx] = m;
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

void swim_member_reap(cl_swim *s, struct member *m, cl_usec now)
{
	swim_emit(s, CL_EV_REAP, m);
	list_del(&s->tombstones, m);
	s->counts[m->status]--;
	if (m->bc)
		swim_bcast_drop(s, m->bc);
	table_remove(s, m);
	size_t i = m->idx;
	struct member *last = s->members[--s->n];
	s->members[i] = last;
	last->idx = (uint32_t)i;
	if (s->probe_idx > s->n)
		s->probe_idx = s->n;
	if (!s->formers)
		s->formers = calloc(FORMERS_MAX, sizeof *s->formers);
	if (s->formers) {
		s->formers[s->formers_next] =
			(struct former){m->hash, m->incarnation, now};
		s->formers_next = (s->formers_next + 1) % FORMERS_MAX;
		if (s->n_formers < FORMERS_MAX)
			s->n_formers++;
	}
	free(m->aux);
	free(m);
}

void swim_set_heard(cl_swim *s, struct member *m, bool heard)
{
	if (m == self(s) || (bool)m->heard == heard)
		return;
	if (live(m->status))
		s->heard_live += heard ? 1 : (size_t)-1;
	m->heard = heard;
	s->heard_gen++;
}

struct member *swim_find_hash(const cl_swim *s, uint64_t h)
{
	size_t i = (size_t)h & s->table_mask;
	for (; s->table[i].m; i = (i + 1) & s->table_mask)
		if (s->table[i].hash == h)
			return s->table[i].m;
	return NULL;
}

void swim_members_free(cl_swim *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->members[i]->aux);
		free(s->members[i]);
	}
	free(s->members);
	free(s->table);
	free(s->formers);
}

/* ------------------------------------------------------------------ */
/* Formers                                                             */
/* ------------------------------------------------------------------ */

/* The ring's live entries are the n_formers before formers_next. */
static struct former *former_at(const cl_swim *s, size_t age)
{
	return &s->formers[(s->formers_next + FORMERS_MAX - 1 - age) %
			   FORMERS_MAX];
}

bool swim_former(const cl_swim *s, uint64_t h, uint32_t *incarnation)
{
	for (size_t a = 0; a < s->n_formers; a++) {
		const struct former *f = former_at(s, a);
		if (f->hash == h) {
			*incarnation = f->incarnation;
			return true;
		}
	}
	return false;
}

void swim_former_forget(cl_swim *s, uint64_t h)
{
	for (size_t a = 0; a < s->n_formers; a++) {
		struct former *f = former_at(s, a);
		if (f->hash == h)
			f->hash = 0;
	}
}

/* Oldest first: drop the tail of the ring once it outlives the longer of
 * the tombstone and reconnect windows (a node paused for a day still finds
 * the dead it remembers forgotten by nobody), and the array with the
 * last one. */
void swim_formers_expire(cl_swim *s, cl_usec now)
{
	const cl_swim_timing *t = &s->cfg.timing;
	cl_usec keep = t->tombstone_timeout > t->reconnect_timeout
			       ? t->tombstone_timeout
			       : t->reconnect_timeout;
	while (s->n_formers > 0 &&
	       now - former_at(s, s->n_formers - 1)->reaped >= keep)
		s->n_formers--;
	if (s->n_formers == 0 && s->formers) {
		free(s->formers);
		s->formers = NULL;
		s->formers_next = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Random picks                                                        */
/* ------------------------------------------------------------------ */

size_t swim_pick_random(cl_swim *s, struct member **out, size_t k,
			const struct member *not, bool suspects_too)
{
	size_t got = 0;
	size_t candidates = s->counts[CL_STATUS_ALIVE] +
			    (suspects_too ? s->counts[CL_STATUS_SUSPECT] : 0);
	struct member *me = self(s);
	if (me->status == CL_STATUS_ALIVE ||
	    (suspects_too && me->status == CL_STATUS_SUSPECT))
		candidates--;
	if (not && not != me &&
	    (not->status == CL_STATUS_ALIVE ||
	     (suspects_too && not->status == CL_STATUS_SUSPECT)))
		candidates--;
	if (k > candidates)
		k = candidates;
	/* Rejection sampling, bounded: tombstones can crowd the table. */
	for (size_t tries = 0; got < k && tries < 8 * k + 32; tries++) {
		struct member *m = s->members[rnd_below(s, s->n)];
		if (m == me || m == not)
			continue;
		if (m->status != CL_STATUS_ALIVE &&
		    !(suspects_too && m->status == CL_STATUS_SUSPECT))
			continue;
		bool dup = false;
		for (size_t i = 0; i < got; i++)
			dup |= out[i] == m;
		if (!dup)
			out[got++] = m;
	}
	return got;
}
