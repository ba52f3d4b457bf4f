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

struct cl_cluster {
	cl_cluster_config cfg;
	cl_swim *core;
	cloister_state state;
	bool started, stopping;
	bool membership_changed; /* since the last settle */
	bool sentry_dirty;
	char sentry[CL_WIRE_NAME_MAX + 1];

	struct named_ring rings[CL_RINGS_MAX];
	size_t n_rings;

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

static unsigned member_weight(const uint8_t *tags, size_t len)
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
	return w;
}

/* Whether a groups tag value lists `name`. */
static bool groups_list(cl_bytes groups, const char *name, size_t nlen)
{
	size_t i = 0;
	while (i <= groups.len) {
		size_t j = i;
		while (j < groups.len && groups.ptr[j] != ',')
			j++;
		if (j - i == nlen && memcmp(groups.ptr + i, name, nlen) == 0)
			return true;
		i = j + 1;
	}
	return false;
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

/* Puts a member on exactly the rings its tags ask for, with its weight;
 * removes it from all when it is not live.  True if any ring changed. */
static bool place(cl_cluster *c, const cl_swim_event *ev)
{
	bool live = ev->status == CL_STATUS_ALIVE ||
		    ev->status == CL_STATUS_SUSPECT;
	unsigned weight = member_weight(ev->tags, ev->tags_len);
	unsigned vnodes = c->cfg.vnodes ? c->cfg.vnodes : CL_RING_DEFAULT_VNODES;
	cl_bytes groups = {NULL, 0};
	bool has_groups = live && tag_find(ev->tags, ev->tags_len,
					   CL_RING_GROUPS_TAG, &groups);
	bool changed = false;

	/* Rings named by the member's groups must exist before the walk. */
	if (has_groups) {
		size_t i = 0;
		while (i <= groups.len) {
			size_t j = i;
			while (j < groups.len && groups.ptr[j] != ',')
				j++;
			if (j > i)
				ring_get(c, (const char *)groups.ptr + i, j - i,
					 true);
			i = j + 1;
		}
	}
	for (size_t i = 0; i < c->n_rings; i++) {
		struct named_ring *nr = &c->rings[i];
		bool want = live && (i == 0 || (has_groups &&
						groups_list(groups, nr->name,
							    strlen(nr->name))));
		/* Compare with the points requested, not those held: libring
		 * drops colliding points, which is no change of weight. */
		long have = cl_ring_member_requested(nr->ring, ev->name,
						     ev->name_len);
		if (have >= 0 && (!want || (unsigned long)have !=
						   (unsigned long)weight * vnodes)) {
			cl_ring_remove(nr->ring, ev->name, ev->name_len);
			changed = true;
			have = -1;
		}
		if (want && have < 0) {
			cl_ring_add(nr->ring, ev->name, ev->name_len, weight);
			changed = true;
		}
	}
	return changed;
}

/* ------------------------------------------------------------------ */
/* Sentry                                                              */
/* ------------------------------------------------------------------ */

struct sentry_pick {
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
	struct sentry_pick p = {0};
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

void cl_cluster_apply(cl_cluster *c, const cl_swim_event *ev)
{
	if (place(c, ev))
		c->membership_changed = true;
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

bool cl_cluster_quorum(const cl_cluster *c)
{
	size_t live = cl_cluster_live(c);
	if (live < c->cfg.consensus)
		return false;
	return !c->cfg.majority_of || live * 2 > c->cfg.majority_of;
}

void cl_cluster_settle(cl_cluster *c)
{
	if (c->stopping) {
		if (c->state == CLOISTER_STOPPING && cl_swim_left(c->core))
			transition(c, CLOISTER_STOPPED);
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

const char *cl_cluster_ring_name(const cl_cluster *c, size_t i)
{
	return i < c->n_rings ? c->rings[i].name : NULL;
}
