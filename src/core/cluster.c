/*
 * cluster.c — status machine, consensus, rings and sentry (see cluster.h).
 */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

struct named_ring {
	char name[CL_WIRE_TAG_KEY_MAX + 1];
	cl_ring *ring;
};

/* Members a step may touch before rebuilding every ring at once is
 * cheaper than placing them one by one (each placement moves the ring's
 * arrays: a join burst of N members placed singly costs N^2 vnodes). */
#define DIRTY_MAX 64

struct cl_cluster {
	cl_cluster_config cfg;
	cl_swim *core;
	cloister_state state;
	bool started, stopping;
	/* Another live process took our name (CL_EV_SUPERSEDED): stopped for
	 * good, and this is who has it. */
	bool superseded;
	cl_swim_event rival;
	uint64_t heard_gen; /* the core's, when the sentry was last picked */
	bool membership_changed; /* since the last settle */
	bool sentry_dirty;
	char sentry[CL_WIRE_NAME_MAX + 1];

	struct named_ring rings[CL_RINGS_MAX];
	size_t n_rings;
	/* Bounds on what members' tags can make us build. */
	unsigned max_weight, max_groups;
	size_t max_points;
	uint64_t ring_refusals;
	/* Placement is settled once per step: the members the step's events
	 * named, or, past DIRTY_MAX of them, every ring rebuilt at once. */
	struct {
		char name[CL_WIRE_NAME_MAX + 1];
		size_t len;
	} dirty[DIRTY_MAX];
	size_t n_dirty;
	bool rebuild;

	cl_cluster_event *q;
	size_t q_head, q_tail, q_cap;
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static bool parse_uint(const char *t, unsigned max, unsigned *out)
{
	if (!t || !*t)
		return false;
	unsigned long v = 0;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return false;
		v = v * 10 + (unsigned long)(*t - '0');
		if (v > max)
			return false;
	}
	*out = (unsigned)v;
	return true;
}

int cl_consensus_parse(const char *text, cl_cluster_config *cfg)
{
	unsigned v;
	if (!text)
		return CLOISTER_EINVAL;
	if (!strncmp(text, "majority:", 9)) {
		if (!parse_uint(text + 9, 65536, &v) || v == 0)
			return CLOISTER_EINVAL;
		cfg->majority_of = v;
		cfg->consensus = v / 2 + 1;
		return 0;
	}
	if (!parse_uint(text, 65536, &v) || v == 0)
		return CLOISTER_EINVAL;
	cfg->consensus = v;
	cfg->majority_of = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Event queue                                                         */
/* ------------------------------------------------------------------ */

static cl_cluster_event *push(cl_cluster *c)
{
	if (c->q_tail == c->q_cap) {
		if (c->q_head > 0) {
			memmove(c->q, c->q + c->q_head,
				(c->q_tail - c->q_head) * sizeof *c->q);
			c->q_tail -= c->q_head;
			c->q_head = 0;
		}
		if (c->q_tail == c->q_cap) {
			size_t ncap = c->q_cap ? c->q_cap * 2 : 16;
			cl_cluster_event *nq = realloc(c->q, ncap * sizeof *nq);
			if (!nq)
				return NULL;
			c->q = nq;
			c->q_cap = ncap;
		}
	}
	cl_cluster_event *e = &c->q[c->q_tail++];
	memset(e, 0, offsetof(cl_cluster_event, member));
	return e;
}

bool cl_cluster_next_event(cl_cluster *c, cl_cluster_event *ev)
{
	if (c->q_head == c->q_tail) {
		c->q_head = c->q_tail = 0;
		if (c->q_cap > 64) {
			free(c->q);
			c->q = NULL;
			c->q_cap = 0;
		}
		return false;
	}
	*ev = c->q[c->q_head++];
	return true;
}

static void transition(cl_cluster *c, cloister_state to)
{
	if (c->state == to)
		return;
	cl_cluster_event *e = push(c);
	if (e) {
		e->type = CL_CEV_STATE;
		e->from = c->state;
		e->to = to;
	}
	c->state = to;
}

/* ------------------------------------------------------------------ */
/* Rings                                                               */
/* ------------------------------------------------------------------ */

static bool tag_find(const uint8_t *tags, size_t len, const char *key,
		     cl_bytes *value)
{
	cl_bytes all = {tags, len}, k;
	size_t pos = 0, klen = strlen(key);
	while (cl_wire_tag_next(&all, &pos, &k, value))
		if (k.len == klen && memcmp(k.ptr, key, klen) == 0)
			return true;
	return false;
}

static unsigned member_weight(const cl_cluster *c, const uint8_t *tags,
			      size_t len)
{
	cl_bytes v;
	unsigned w = 1;
	if (tag_find(tags, len, CL_RING_WEIGHT_TAG, &v)) {
		char buf[8];
		if (v.len < sizeof buf) {
			memcpy(buf, v.ptr, v.len);
			buf[v.len] = '\0';
			if (!parse_uint(buf, CL_RING_WEIGHT_MAX, &w) || w == 0)
				w = 1;
		}
	}
	/* Above the operator's ceiling a weight is cut to it, not refused:
	 * the member still serves, with the largest share allowed. */
	return w < c->max_weight ? w : c->max_weight;
}

/* Calls fn for each ring name a groups tag lists, at most max_groups of
 * them (the rest are ignored: a member cannot make us build 31 rings). */
static void each_group(const cl_cluster *c, cl_bytes groups,
		       void (*fn)(void *arg, const char *name, size_t len),
		       void *arg)
{
	size_t i = 0, taken = 0;
	while (i <= groups.len && taken < c->max_groups) {
		size_t j = i;
		while (j < groups.len && groups.ptr[j] != ',')
			j++;
		if (j > i && j - i <= CL_WIRE_TAG_KEY_MAX) {
			fn(arg, (const char *)groups.ptr + i, j - i);
			taken++;
		}
		i = j + 1;
	}
}

/* Whether a groups tag value lists `name` among the ones honoured. */
struct group_find {
	const char *name;
	size_t len;
	bool found;
};

static void group_match(void *arg, const char *name, size_t len)
{
	struct group_find *g = arg;
	g->found |= len == g->len && memcmp(name, g->name, len) == 0;
}

static bool groups_list(const cl_cluster *c, cl_bytes groups, const char *name,
			size_t nlen)
{
	struct group_find g = {name, nlen, false};
	each_group(c, groups, group_match, &g);
	return g.found;
}

static struct named_ring *ring_get(cl_cluster *c, const char *name,
				   size_t nlen, bool create)
{
	for (size_t i = 0; i < c->n_rings; i++)
		if (strlen(c->rings[i].name) == nlen &&
		    memcmp(c->rings[i].name, name, nlen) == 0)
			return &c->rings[i];
	if (!create || c->n_rings == CL_RINGS_MAX || nlen > CL_WIRE_TAG_KEY_MAX)
		return NULL;
	cl_ring *r = cl_ring_new(c->cfg.ring_algorithm, c->cfg.vnodes);
	if (!r)
		return NULL;
	struct named_ring *nr = &c->rings[c->n_rings++];
	memcpy(nr->name, name, nlen);
	nr->name[nlen] = '\0';
	nr->ring = r;
	return nr;
}

static void ring_create(void *arg, const char *name, size_t len)
{
	ring_get(arg, name, len, true);
}

/* Named rings nobody is on any more are freed (the default ring stays),
 * so a member that advertised 31 groups once does not leave 31 rings. */
static void rings_prune(cl_cluster *c)
{
	size_t w = 1;
	for (size_t i = 1; i < c->n_rings; i++) {
		if (cl_ring_size(c->rings[i].ring) == 0) {
			cl_ring_free(c->rings[i].ring);
			continue;
		}
		c->rings[w++] = c->rings[i];
	}
	c->n_rings = w;
}

static size_t points_total(const cl_cluster *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_rings; i++)
		n += cl_ring_points(c->rings[i].ring);
	return n;
}

/* Whether `points` more fit the budget; counts a refusal if not. */
static bool points_fit(cl_cluster *c, size_t have, size_t points)
{
	if (have + points <= c->max_points)
		return true;
	c->ring_refusals++;
	return false;
}

/* Puts one member on exactly the rings its tags ask for, with its weight;
 * removes it from all when it is not live.  True if any ring changed. */
static bool place(cl_cluster *c, const char *name, size_t name_len, bool live,
		  const uint8_t *tags, size_t tags_len)
{
	unsigned weight = member_weight(c, tags, tags_len);
	unsigned vnodes = c->cfg.vnodes ? c->cfg.vnodes : CL_RING_DEFAULT_VNODES;
	cl_bytes groups = {NULL, 0};
	bool has_groups = live && tag_find(tags, tags_len, CL_RING_GROUPS_TAG,
					   &groups);
	bool changed = false;

	/* Rings named by the member's groups must exist before the walk. */
	if (has_groups)
		each_group(c, groups, ring_create, c);
	for (size_t i = 0; i < c->n_rings; i++) {
		struct named_ring *nr = &c->rings[i];
		bool want = live && (i == 0 || (has_groups &&
						groups_list(c, groups, nr->name,
							    strlen(nr->name))));
		/* Compare with the points requested, not those held: libring
		 * drops colliding points, which is no change of weight. */
		long have = cl_ring_member_requested(nr->ring, name, name_len);
		if (have >= 0 && (!want || (unsigned long)have !=
						   (unsigned long)weight * vnodes)) {
			cl_ring_remove(nr->ring, name, name_len);
			changed = true;
			have = -1;
		}
		if (want && have < 0 &&
		    points_fit(c, points_total(c), (size_t)weight * vnodes)) {
			cl_ring_add(nr->ring, name, name_len, weight);
			changed = true;
		}
	}
	return changed;
}

/* The member as the core holds it now (whatever the events said on the
 * way), placed. */
static bool place_current(cl_cluster *c, const char *name, size_t len)
{
	cl_swim_member_view v;
	if (!cl_swim_lookup(c->core, name, len, &v))
		return place(c, name, len, false, NULL, 0);
	return place(c, name, len,
		     v.status == CL_STATUS_ALIVE || v.status == CL_STATUS_SUSPECT,
		     v.tags, v.tags_len);
}

/* A full rebuild from the member table: every ring's members gathered,
 * then added in one merge each (cl_ring_add_many), which is linear where
 * adding a join burst one member at a time is quadratic. */
struct batch {
	const void **names;
	size_t *lens;
	unsigned *weights;
	size_t n, cap;
};

struct rebuild {
	cl_cluster *c;
	struct batch b[CL_RINGS_MAX];
	size_t points;
	unsigned vnodes;
	bool failed;
	/* The member being gathered. */
	const cl_swim_member_view *m;
	unsigned weight;
};

static void batch_push(struct rebuild *rb, size_t ring)
{
	struct batch *b = &rb->b[ring];
	size_t points = (size_t)rb->weight * rb->vnodes;
	if (!points_fit(rb->c, rb->points, points))
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		const void **nn = realloc(b->names, cap * sizeof *nn);
		if (nn)
			b->names = nn;
		size_t *nl = realloc(b->lens, cap * sizeof *nl);
		if (nl)
			b->lens = nl;
		unsigned *nw = realloc(b->weights, cap * sizeof *nw);
		if (nw)
			b->weights = nw;
		if (!nn || !nl || !nw) {
			rb->failed = true;
			return;
		}
		b->cap = cap;
	}
	b->names[b->n] = rb->m->name;
	b->lens[b->n] = rb->m->name_len;
	b->weights[b->n] = rb->weight;
	b->n++;
	rb->points += points;
}

static void rebuild_group(void *arg, const char *name, size_t len)
{
	struct rebuild *rb = arg;
	struct named_ring *nr = ring_get(rb->c, name, len, true);
	if (nr)
		batch_push(rb, (size_t)(nr - rb->c->rings));
}

static bool rebuild_visit(void *arg, const cl_swim_member_view *m)
{
	struct rebuild *rb = arg;
	if (m->status != CL_STATUS_ALIVE && m->status != CL_STATUS_SUSPECT)
		return true;
	rb->m = m;
	rb->weight = member_weight(rb->c, m->tags, m->tags_len);
	batch_push(rb, 0);
	cl_bytes groups;
	if (tag_find(m->tags, m->tags_len, CL_RING_GROUPS_TAG, &groups))
		each_group(rb->c, groups, rebuild_group, rb);
	return true;
}

static void rings_rebuild(cl_cluster *c)
{
	for (size_t i = 1; i < c->n_rings; i++)
		cl_ring_free(c->rings[i].ring);
	c->n_rings = 1;
	cl_ring_clear(c->rings[0].ring);
	struct rebuild *rb = calloc(1, sizeof *rb);
	if (!rb)
		return;
	rb->c = c;
	rb->vnodes = c->cfg.vnodes ? c->cfg.vnodes : CL_RING_DEFAULT_VNODES;
	cl_swim_foreach(c->core, rebuild_visit, rb);
	for (size_t i = 0; i < c->n_rings; i++) {
		struct batch *b = &rb->b[i];
		if (b->n && cl_ring_add_many(c->rings[i].ring, b->n, b->names,
					     b->lens, b->weights) != 0) {
			/* Duplicates cannot happen (the table's names are
			 * unique); memory can run out: fall back to one at a
			 * time, which keeps what fits. */
			for (size_t k = 0; k < b->n; k++)
				cl_ring_add(c->rings[i].ring, b->names[k],
					    b->lens[k], b->weights[k]);
		}
		free(b->names);
		free(b->lens);
		free(b->weights);
	}
	free(rb);
	rings_prune(c);
}

/* Settles the rings: the members the step touched, one by one, or all of
 * them at once when many changed. */
static bool rings_settle(cl_cluster *c)
{
	bool changed = false;
	if (c->rebuild) {
		uint64_t before[CL_RINGS_MAX];
		size_t n_before = c->n_rings;
		for (size_t i = 0; i < n_before; i++)
			before[i] = cl_ring_checksum(c->rings[i].ring);
		rings_rebuild(c);
		changed = n_before != c->n_rings;
		for (size_t i = 0; i < c->n_rings && !changed; i++)
			changed = before[i] != cl_ring_checksum(c->rings[i].ring);
	} else {
		for (size_t i = 0; i < c->n_dirty; i++)
			changed |= place_current(c, c->dirty[i].name,
						 c->dirty[i].len);
		if (changed)
			rings_prune(c);
	}
	c->rebuild = false;
	c->n_dirty = 0;
	return changed;
}

static void mark_dirty(cl_cluster *c, const char *name, size_t len)
{
	if (c->rebuild)
		return;
	for (size_t i = 0; i < c->n_dirty; i++)
		if (c->dirty[i].len == len && !memcmp(c->dirty[i].name, name, len))
			return;
	if (c->n_dirty == DIRTY_MAX) {
		c->rebuild = true;
		return;
	}
	memcpy(c->dirty[c->n_dirty].name, name, len);
	c->dirty[c->n_dirty].len = len;
	c->n_dirty++;
}

/* ------------------------------------------------------------------ */
/* Sentry                                                              */
/* ------------------------------------------------------------------ */

struct sentry_pick {
	bool heard_only;
	bool found;
	uint64_t start_ms;
	char name[CL_WIRE_NAME_MAX + 1];
	size_t len;
};

static bool sentry_visit(void *arg, const cl_swim_member_view *m)
{
	struct sentry_pick *p = arg;
	if (m->status != CL_STATUS_ALIVE && m->status != CL_STATUS_SUSPECT)
		return true;
	if (p->heard_only && !m->heard)
		return true;
	bool better = !p->found || m->start_ms < p->start_ms;
	if (p->found && m->start_ms == p->start_ms) {
		size_t n = m->name_len < p->len ? m->name_len : p->len;
		int cmp = memcmp(m->name, p->name, n);
		better = cmp < 0 || (cmp == 0 && m->name_len < p->len);
	}
	if (better) {
		p->found = true;
		p->start_ms = m->start_ms;
		memcpy(p->name, m->name, m->name_len);
		p->name[m->name_len] = '\0';
		p->len = m->name_len;
	}
	return true;
}

static void sentry_update(cl_cluster *c)
{
	struct sentry_pick p = {.heard_only = c->cfg.require_heard};
	if (c->state != CLOISTER_STOPPING && c->state != CLOISTER_STOPPED)
		cl_swim_foreach(c->core, sentry_visit, &p);
	if (strcmp(p.name, c->sentry) == 0)
		return;
	memcpy(c->sentry, p.name, p.len + 1);
	cl_cluster_event *e = push(c);
	if (e) {
		e->type = CL_CEV_SENTRY;
		memset(&e->member, 0, offsetof(cl_swim_event, name));
		memcpy(e->member.name, p.name, p.len + 1);
		e->member.name_len = (uint8_t)p.len;
	}
}

/* ------------------------------------------------------------------ */
/* Driving                                                             */
/* ------------------------------------------------------------------ */

cl_cluster *cl_cluster_new(const cl_cluster_config *cfg, cl_swim *core,
			   int *err)
{
	if (!cfg || !core || cfg->consensus == 0 ||
	    cfg->max_weight > CL_RING_WEIGHT_MAX ||
	    cfg->max_groups > CL_RINGS_MAX - 1 ||
	    (cfg->majority_of && cfg->consensus < cfg->majority_of / 2 + 1)) {
		if (err)
			*err = CLOISTER_EINVAL;
		return NULL;
	}
	cl_cluster *c = calloc(1, sizeof *c);
	if (c)
		c->cfg = *cfg; /* before the default ring: it takes the algorithm */
	if (!c || !ring_get(c, "", 0, true)) {
		free(c);
		if (err)
			*err = CLOISTER_ENOMEM;
		return NULL;
	}
	c->core = core;
	c->state = CLOISTER_DOWN;
	c->max_weight = cfg->max_weight ? cfg->max_weight : CL_RING_WEIGHT_MAX;
	c->max_groups = cfg->max_groups ? cfg->max_groups : CL_RING_GROUPS_DEFAULT;
	c->max_points = cfg->max_points ? cfg->max_points
					: CL_RING_POINTS_DEFAULT;
	return c;
}

void cl_cluster_free(cl_cluster *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rings; i++)
		cl_ring_free(c->rings[i].ring);
	free(c->q);
	free(c);
}

void cl_cluster_start(cl_cluster *c)
{
	if (c->started)
		return;
	c->started = true;
	c->sentry_dirty = true;
	transition(c, CLOISTER_ASSEMBLING);
}

void cl_cluster_stop(cl_cluster *c)
{
	if (c->stopping)
		return;
	c->stopping = true;
	transition(c, CLOISTER_STOPPING);
}

/* The core dropped its event queue: every ring is rebuilt from the member
 * table itself, so no event the queue lost leaves a ring behind. */
static void resync(cl_cluster *c)
{
	c->rebuild = true;
	c->n_dirty = 0;
	c->membership_changed = true;
	c->sentry_dirty = true;
}

void cl_cluster_apply(cl_cluster *c, const cl_swim_event *ev)
{
	if (ev->type == CL_EV_RESYNC) {
		resync(c);
		return;
	}
	if (ev->type == CL_EV_SUPERSEDED) {
		/* Our name belongs to another process now: this node is out,
		 * as after a leave, without announcing one. */
		c->superseded = true;
		c->rival = *ev;
		if (!c->stopping) {
			c->stopping = true;
			transition(c, CLOISTER_STOPPING);
		}
		return;
	}
	mark_dirty(c, ev->name, ev->name_len);
	if (ev->type != CL_EV_UPDATE || ev->status == CL_STATUS_ALIVE)
		c->sentry_dirty = true;
	cl_cluster_event *e = push(c);
	if (e) {
		e->type = CL_CEV_MEMBER;
		e->member = *ev;
	}
}

size_t cl_cluster_live(const cl_cluster *c)
{
	size_t n = cl_swim_count(c->core, CL_STATUS_ALIVE) +
		   cl_swim_count(c->core, CL_STATUS_SUSPECT);
	return n;
}

size_t cl_cluster_counted(const cl_cluster *c)
{
	return c->cfg.require_heard ? cl_swim_count_heard(c->core)
				    : cl_cluster_live(c);
}

bool cl_cluster_quorum(const cl_cluster *c)
{
	size_t live = cl_cluster_counted(c);
	if (live < c->cfg.consensus)
		return false;
	return !c->cfg.majority_of || live * 2 > c->cfg.majority_of;
}

void cl_cluster_settle(cl_cluster *c)
{
	if (rings_settle(c))
		c->membership_changed = true;
	if (c->stopping) {
		if (c->state == CLOISTER_STOPPING &&
		    (cl_swim_left(c->core) || c->superseded))
			transition(c, CLOISTER_STOPPED);
		if (c->superseded && c->sentry[0]) {
			c->sentry_dirty = false;
			sentry_update(c);
		}
		c->membership_changed = false;
		return;
	}
	if (!c->started) {
		c->membership_changed = false;
		return;
	}
	bool quorum = cl_cluster_quorum(c);
	switch (c->state) {
	case CLOISTER_ASSEMBLING:
		if (quorum) {
			/* Rings are kept current on every event, so the rehash
			 * is already done when we announce it. */
			transition(c, CLOISTER_REHASHING);
			transition(c, CLOISTER_READY);
		}
		break;
	case CLOISTER_READY:
		if (c->membership_changed || !quorum) {
			transition(c, CLOISTER_REHASHING);
			if (quorum)
				transition(c, CLOISTER_READY);
		}
		break;
	case CLOISTER_REHASHING:
		if (quorum)
			transition(c, CLOISTER_READY);
		break;
	default:
		break;
	}
	c->membership_changed = false;
	if (c->cfg.require_heard &&
	    cl_swim_heard_generation(c->core) != c->heard_gen) {
		c->heard_gen = cl_swim_heard_generation(c->core);
		c->sentry_dirty = true;
	}
	if (c->sentry_dirty) {
		c->sentry_dirty = false;
		sentry_update(c);
	}
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

cloister_state cl_cluster_state(const cl_cluster *c)
{
	return c->state;
}

const char *cl_cluster_sentry(const cl_cluster *c)
{
	return c->sentry;
}

const cl_swim_event *cl_cluster_superseded(const cl_cluster *c)
{
	return c->superseded ? &c->rival : NULL;
}

const cl_ring *cl_cluster_ring(const cl_cluster *c, const char *name)
{
	size_t nlen = name ? strlen(name) : 0;
	for (size_t i = 0; i < c->n_rings; i++)
		if (strlen(c->rings[i].name) == nlen &&
		    memcmp(c->rings[i].name, name ? name : "", nlen) == 0)
			return c->rings[i].ring;
	return NULL;
}

size_t cl_cluster_ring_count(const cl_cluster *c)
{
	return c->n_rings;
}

uint64_t cl_cluster_ring_refusals(const cl_cluster *c)
{
	return c->ring_refusals;
}

const char *cl_cluster_ring_name(const cl_cluster *c, size_t i)
{
	return i < c->n_rings ? c->rings[i].name : NULL;
}
