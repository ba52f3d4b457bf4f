/*
 * member_table.c — who we know: member records indexed by name id (the
 * identity store, identity.c, finds a name's id), the probe order, the
 * side maps of aux records and queued broadcasts, the suspect and
 * tombstone lists, and the formers, members reaped lately that a stale
 * rumour must not bring back.
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
 * name, incarnation and process, the process being its start and its
 * address, as the merge orders them (cl_merge_process_newer; status is
 * left out, so a suspicion does not look like a disagreement that needs a
 * full sync).  The process is in so that two views holding different
 * processes of one name at one incarnation disagree, and a sync settles
 * them (merge.h: the newer process wins).  Left out, such a split passed
 * for agreement for good, and the stale process itself never heard of its
 * successor: the start alone let two processes started in the same
 * millisecond pass for one (seed 1091200: what went to the name went to
 * the newer one's address, and the older never learnt it had a twin). */
static inline uint64_t contrib(const cl_swim *s, uint64_t h,
			       const struct member *m)
{
	if (!live(m->status))
		return 0;
	const cl_addr *a = maddr(s, m);
	uint64_t ip[2];
	memcpy(ip, a->ip, sizeof ip);
	uint64_t where = ip[0] ^ (ip[1] * 0x9E3779B97F4A7C15ull) ^
			 ((uint64_t)a->port << 8 | a->family);
	uint64_t x = h ^ ((uint64_t)m->incarnation * 0x9E3779B97F4A7C15ull) ^
		     (mstart(s, m) * 0xC2B2AE3D27D4EB4Full) ^
		     (where * 0x165667B19E3779F9ull);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* In or out of the membership checksum, and of its bucket's (DIGEST). */
static inline void checksum_toggle(cl_swim *s, uint64_t h,
				   const struct member *m)
{
	uint64_t c = contrib(s, h, m);
	s->checksum ^= c;
	s->bsum[h >> (64 - CL_WIRE_DIGEST_BITS_MAX)] ^= c;
}

/* ------------------------------------------------------------------ */
/* Side maps                                                           */
/* ------------------------------------------------------------------ */

static size_t idmap_home(const struct idmap *mp, uint32_t nid)
{
	return (size_t)(((uint64_t)nid * 0x9E3779B97F4A7C15ull) >> 32) &
	       mp->mask;
}

void *idmap_get(const struct idmap *mp, uint32_t nid)
{
	if (!mp->e)
		return NULL;
	for (size_t i = idmap_home(mp, nid);; i = (i + 1) & mp->mask) {
		const struct idmap_entry *e = &mp->e[i];
		if (e->key == nid + 1)
			return e->v;
		if (!e->key)
			return NULL;
	}
}

static bool idmap_put(struct idmap *mp, uint32_t nid, void *v)
{
	if (!mp->e || (mp->n + 1) * 4 > (mp->mask + 1) * 3) {
		size_t ncap = mp->e ? (mp->mask + 1) * 2 : 16;
		struct idmap_entry *ne = calloc(ncap, sizeof *ne);
		if (!ne)
			return false;
		struct idmap old = *mp;
		mp->e = ne;
		mp->mask = ncap - 1;
		for (size_t i = 0; old.e && i <= old.mask; i++) {
			if (!old.e[i].key)
				continue;
			size_t j = idmap_home(mp, old.e[i].key - 1);
			while (ne[j].key)
				j = (j + 1) & mp->mask;
			ne[j] = old.e[i];
		}
		free(old.e);
	}
	size_t i = idmap_home(mp, nid);
	while (mp->e[i].key)
		i = (i + 1) & mp->mask;
	mp->e[i] = (struct idmap_entry){nid + 1, v};
	mp->n++;
	return true;
}

/* Backward-shift deletion, as in identity.c; the map is given back when
 * it empties (a join burst's broadcasts come and go). */
static void idmap_del(struct idmap *mp, uint32_t nid)
{
	size_t i = idmap_home(mp, nid);
	while (mp->e[i].key != nid + 1)
		i = (i + 1) & mp->mask;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mp->mask;
		struct idmap_entry x = mp->e[j];
		if (!x.key)
			break;
		size_t home = idmap_home(mp, x.key - 1);
		bool in_range = i <= j ? (home > i && home <= j)
				       : (home > i || home <= j);
		if (!in_range) {
			mp->e[i] = x;
			i = j;
		}
	}
	mp->e[i] = (struct idmap_entry){0, NULL};
	if (--mp->n == 0) {
		free(mp->e);
		mp->e = NULL;
		mp->mask = 0;
	}
}

static bool set_aux(cl_swim *s, struct member *m, struct member_aux *a)
{
	uint32_t nid = mnid(s, m);
	if (m->has_aux)
		idmap_del(&s->auxes, nid);
	m->has_aux = false;
	if (a && !idmap_put(&s->auxes, nid, a))
		return false;
	m->has_aux = a != NULL;
	return true;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

static struct member *by_nid(const cl_swim *s, uint32_t nid)
{
	if (nid == IDENT_NONE)
		return NULL;
	struct member *m = mslot(s, nid);
	return m && m->used ? m : NULL;
}

struct member *swim_find_h(const cl_swim *s, uint64_t h, const uint8_t *name,
			   size_t len)
{
	return by_nid(s, idents_name_find(s->ids, name, len, h));
}

struct member *swim_find(const cl_swim *s, const uint8_t *name, size_t len)
{
	return swim_find_h(s, name_hash(name, len), name, len);
}

/* Members of a node are cold by the time its next packet comes (the
 * simulator runs thousands of nodes in between; an agent's table outgrows
 * the cache at a few thousand members): starting the loads of every member
 * a packet names before merging any overlaps their misses, where merging
 * one by one waits for each in turn. */
void swim_prefetch(const cl_swim *s, const uint8_t *name, size_t len)
{
	/* By the hash alone, from the dense arrays: the name's own record is
	 * only prefetched here (its bytes are compared at the merge), so the
	 * loads of a whole packet overlap instead of missing one by one. */
	uint32_t nid = idents_name_find_hash(s->ids, name_hash(name, len));
	if (nid == IDENT_NONE)
		return;
	__builtin_prefetch(idents_name(s->ids, nid));
	const struct member *m = mslot(s, nid);
	if (m)
		__builtin_prefetch(m);
}

struct member *swim_find_hash(const cl_swim *s, uint64_t h)
{
	return by_nid(s, idents_name_find_hash(s->ids, h));
}

/* ------------------------------------------------------------------ */
/* Status lists                                                        */
/* ------------------------------------------------------------------ */

static void list_add(cl_swim *s, struct list *l, struct member *m)
{
	struct member_aux *a = maux(s, m);
	a->prev = NULL;
	a->next = l->head;
	if (l->head)
		maux(s, l->head)->prev = m;
	l->head = m;
	l->n++;
}

static void list_del(cl_swim *s, struct list *l, struct member *m)
{
	struct member_aux *a = maux(s, m);
	if (a->prev)
		maux(s, a->prev)->next = a->next;
	else
		l->head = a->next;
	if (a->next)
		maux(s, a->next)->prev = a->prev;
	a->prev = a->next = NULL;
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
	struct member_aux *aux = maux(s, m);
	s->stats.state_changes++;
	if (to && !aux) {
		aux = calloc(1, sizeof *aux);
		if (!aux || !set_aux(s, m, aux)) {
			free(aux);
			return; /* out of memory: the member keeps its state */
		}
	}
	uint64_t h = mhash(s, m);
	checksum_toggle(s, h, m);
	if (m->heard && live(m->status))
		s->heard_live--;
	if (from != to) {
		if (from)
			list_del(s, from, m);
		if (to)
			list_add(s, to, m);
	}
	s->counts[m->status]--;
	if (m->status != status && aux) {
		aux->since = now;
		aux->retries = 0;
		aux->retry_at = now;
	}
	m->status = status & 3u;
	m->incarnation = incarnation;
	s->counts[status]++;
	checksum_toggle(s, h, m);
	if (m->heard && live(status))
		s->heard_live++;
	if (!to && aux) {
		set_aux(s, m, NULL);
		free(aux);
	}
}

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

/* The record for a name id, its chunk allocated if need be. */
static struct member *mslot_make(cl_swim *s, uint32_t nid)
{
	size_t c = nid >> MCHUNK_BITS;
	if (c >= s->n_mchunks) {
		size_t nn = c + 1 > s->n_mchunks * 2 ? c + 1 : s->n_mchunks * 2;
		struct member **nc = realloc(s->mchunks, nn * sizeof *nc);
		if (!nc)
			return NULL;
		memset(nc + s->n_mchunks, 0,
		       (nn - s->n_mchunks) * sizeof *nc);
		s->mchunks = nc;
		s->n_mchunks = nn;
	}
	if (!s->mchunks[c]) {
		s->mchunks[c] = calloc(MCHUNK_MASK + 1, sizeof **s->mchunks);
		if (!s->mchunks[c])
			return NULL;
	}
	return &s->mchunks[c][nid & MCHUNK_MASK];
}

struct member *swim_member_add(cl_swim *s, const uint8_t *name,
			       size_t name_len, uint64_t h, const cl_addr *addr,
			       uint64_t start_ms, const uint8_t *tags,
			       size_t tags_len)
{
	if (s->n >= s->max_members) {
		s->stats.members_refused++;
		return NULL;
	}
	if (s->n == s->cap) {
		/* By a quarter: 30,000 simulated nodes that each know 30,000
		 * members should not each reserve room for 60,000. */
		size_t ncap = s->cap + s->cap / 4 + 16;
		uint32_t *no = realloc(s->order, ncap * sizeof *no);
		if (!no)
			return NULL;
		s->order = no;
		s->cap = ncap;
	}
	uint32_t id = idents_get(s->ids, name, name_len, h, addr, start_ms,
				 tags, tags_len);
	if (id == IDENT_NONE)
		return NULL;
	uint32_t nid = idents_at(s->ids, id)->name;
	struct member *m = mslot_make(s, nid);
	if (!m) {
		idents_put(s->ids, id);
		return NULL;
	}
	*m = (struct member){.ident = id & 0xffffffu, .used = 1};
	/* The placeholder state (alive, incarnation 0), counted and summed
	 * like any other. */
	m->status = CL_STATUS_ALIVE;
	s->counts[CL_STATUS_ALIVE]++;
	checksum_toggle(s, h, m);
	/* Insert at a random place in the probe order (not at the end, or a
	 * burst of joiners would all wait a full round to be probed). */
	size_t at = s->n;
	s->order[s->n++] = nid;
	m->idx = (uint32_t)at & 0xfffffu;
	if (s->n > 2) {
		size_t j = 1 + rnd_below(s, s->n - 1);
		struct member *o = member_at(s, j);
		s->order[at] = s->order[j];
		s->order[j] = nid;
		m->idx = (uint32_t)j & 0xfffffu;
		o->idx = (uint32_t)at & 0xfffffu;
	}
	return m;
}

bool swim_member_set_identity(cl_swim *s, struct member *m,
			      const cl_addr *addr, uint64_t start_ms,
			      const uint8_t *tags, size_t tags_len)
{
	const struct ident *d = mident(s, m);
	if (d->start_ms == start_ms && cl_addr_equal(&d->addr, addr) &&
	    d->tags_len == tags_len &&
	    (tags_len == 0 || memcmp(ident_tags(d), tags, tags_len) == 0))
		return true;
	uint32_t id = idents_get(s->ids, d->data, d->name_len, d->hash, addr,
				 start_ms, tags, tags_len);
	if (id == IDENT_NONE)
		return false;
	/* The start is part of the member's checksum share (and d may go
	 * with its last reference). */
	uint64_t h = d->hash;
	checksum_toggle(s, h, m);
	idents_put(s->ids, m->ident);
	m->ident = id & 0xffffffu;
	checksum_toggle(s, h, m);
	return true;
}

void swim_member_reap(cl_swim *s, struct member *m, cl_usec now)
{
	swim_emit(s, CL_EV_REAP, m);
	list_del(s, &s->tombstones, m);
	s->counts[m->status]--;
	struct bcast *b = mbc(s, m);
	if (b)
		swim_bcast_drop(s, b);
	size_t i = m->idx;
	s->order[i] = s->order[--s->n];
	member_at(s, i)->idx = (uint32_t)i & 0xfffffu;
	if (s->probe_idx > s->n)
		s->probe_idx = s->n;
	if (!s->formers)
		s->formers = calloc(FORMERS_MAX, sizeof *s->formers);
	if (s->formers) {
		s->formers[s->formers_next] =
			(struct former){mhash(s, m), m->incarnation, now};
		s->formers_next = (s->formers_next + 1) % FORMERS_MAX;
		if (s->n_formers < FORMERS_MAX)
			s->n_formers++;
	}
	struct member_aux *a = maux(s, m);
	set_aux(s, m, NULL);
	free(a);
	idents_put(s->ids, m->ident);
	*m = (struct member){0};
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

void swim_heard_from(cl_swim *s, struct member *m, cl_usec now)
{
	swim_set_heard(s, m, true);
	if (m == self(s))
		return;
	uint32_t nid = mnid(s, m);
	struct heard_lately *last =
		&s->lately[(s->lately_next + LATELY_MAX - 1) % LATELY_MAX];
	if (last->set && last->nid == nid) {
		last->at = now;
		return;
	}
	s->lately[s->lately_next] = (struct heard_lately){nid, true, now};
	s->lately_next = (s->lately_next + 1) % LATELY_MAX;
}

void swim_members_free(cl_swim *s)
{
	if (s->ids) {
		for (size_t i = 0; s->order && i < s->n; i++) {
			struct member *m = member_at(s, i);
			free(maux(s, m));
			idents_put(s->ids, m->ident);
		}
		idents_release(s->ids);
	}
	for (size_t c = 0; c < s->n_mchunks; c++)
		free(s->mchunks[c]);
	free(s->mchunks);
	free(s->order);
	free(s->auxes.e);
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
		struct member *m = member_at(s, rnd_below(s, s->n));
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
