/*
 * cluster.c — status machine, consensus, rings and sentry (see cluster.h).
 */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sort.h"

struct named_ring {
	char name[CL_WIRE_TAG_KEY_MAX + 1];
	cl_ring *ring;
};

/* Members one settle may place before rebuilding every ring from the
 * member table is the better deal.  Placing k members costs one pass over
 * the points plus a sort of their k x vnodes new ones, a rebuild sorts
 * every point: a few thousand members is where the two meet. */
#define DIRTY_MAX 4096

/*
 * Coalescing.  A settle that changes a ring walks every point of it about
 * three times (squeeze out, merge in, index): ~2 ns a point in cache, 0.3
 * to 1 ms at 1,000 members x 128 vnodes, and the sentry walk reads every
 * member.  A join storm changes membership on almost every packet, and
 * settling each one kept 1,000 agents on one machine from ever converging
 * (the rings' memmoves were 27% of all CPU).  With coalescing on, a settle
 * that comes less than an interval after the previous one waits for the
 * interval's end: SETTLE_NS_PER_UNIT per unit of work (a ring point, or
 * MEMBER_UNITS for a member the sentry walk reads), so ring upkeep costs a
 * node about 0.01% of a core however fast members churn.  The first
 * choice, 2 us a unit (0.1%), was still a whole core for 1,000 agents
 * sharing this 2-core machine through a join storm: they did not converge
 * within 300 s.  A lone change after a quiet interval settles at once, and
 * SETTLE_MAX bounds the wait (2.9 s at 1,000 x 128 would be the raw
 * figure): detection itself takes seconds there, and nodes learn of a
 * change seconds apart anyway.  A transition to ready never waits: ready
 * is announced with the rings already rebuilt.
 */
#define SETTLE_NS_PER_UNIT 20000
#define MEMBER_UNITS 16
#define SETTLE_MAX (3 * CL_SEC)

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
	/* Placement is settled in batches: the members events named since
	 * the last settle (names in one arena), or, past DIRTY_MAX of them,
	 * every ring rebuilt at once. */
	struct dirty {
		uint64_t hash;
		uint32_t off;
		uint8_t len;
		bool dup;
	} *dirty;
	size_t n_dirty, dirty_cap;
	char *dirty_names;
	size_t names_used, names_cap;
	bool rebuild;
	/* Coalescing: the earliest time the next settle may
	 * run, and a settle that must not wait (resync, stop). */
	bool coalesce;
	cl_usec settle_next;
	bool settle_now;

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

/* Members gathered for one ring: names, lengths and weights in the
 * parallel arrays cl_ring_add_many/remove_many take. */
struct batch {
	const void **names;
	size_t *lens;
	unsigned *weights;
	size_t n, cap;
};

static bool batch_push(struct batch *b, const char *name, size_t len,
		       unsigned weight)
{
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
		if (!nn || !nl || !nw)
			return false;
		b->cap = cap;
	}
	b->names[b->n] = name;
	b->lens[b->n] = len;
	b->weights[b->n] = weight;
	b->n++;
	return true;
}

static void batch_free(struct batch *b)
{
	free(b->names);
	free(b->lens);
	free(b->weights);
}

/* Applies one ring's batch: removals in one pass, additions in one merge.
 * If memory runs out for a batch, one member at a time (which keeps what
 * fits).  Duplicates cannot happen: names were made unique. */
static void batch_apply(cl_ring *r, struct batch *rm, struct batch *add)
{
	if (rm && rm->n &&
	    cl_ring_remove_many(r, rm->n, rm->names, rm->lens) != 0)
		for (size_t k = 0; k < rm->n; k++)
			cl_ring_remove(r, rm->names[k], rm->lens[k]);
	if (add && add->n &&
	    cl_ring_add_many(r, add->n, add->names, add->lens, add->weights) != 0)
		for (size_t k = 0; k < add->n; k++)
			cl_ring_add(r, add->names[k], add->lens[k],
				    add->weights[k]);
}

/* A full rebuild from the member table: every ring's members gathered,
 * then added in one merge each (cl_ring_add_many), which is linear where
 * adding a join burst one member at a time is quadratic. */
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

static void rebuild_push(struct rebuild *rb, size_t ring)
{
	size_t points = (size_t)rb->weight * rb->vnodes;
	if (!points_fit(rb->c, rb->points, points))
		return;
	if (!batch_push(&rb->b[ring], rb->m->name, rb->m->name_len,
			rb->weight)) {
		rb->failed = true;
		return;
	}
	rb->points += points;
}

static void rebuild_group(void *arg, const char *name, size_t len)
{
	struct rebuild *rb = arg;
	struct named_ring *nr = ring_get(rb->c, name, len, true);
	if (nr)
		rebuild_push(rb, (size_t)(nr - rb->c->rings));
}

static bool rebuild_visit(void *arg, const cl_swim_member_view *m)
{
	struct rebuild *rb = arg;
	if (m->status != CL_STATUS_ALIVE && m->status != CL_STATUS_SUSPECT)
		return true;
	rb->m = m;
	rb->weight = member_weight(rb->c, m->tags, m->tags_len);
	rebuild_push(rb, 0);
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
		batch_apply(c->rings[i].ring, NULL, &rb->b[i]);
		batch_free(&rb->b[i]);
	}
	free(rb);
	rings_prune(c);
}

/* Marks every repeat of a dirty member (only its first mention is
 * placed): a sort of name references, then equal neighbours. */
struct dref {
	uint64_t hash;
	const char *name;
	size_t at;
	uint8_t len;
};

static bool dref_less(const struct dref *a, const struct dref *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash;
	if (a->len != b->len)
		return a->len < b->len;
	int d = memcmp(a->name, b->name, a->len);
	if (d)
		return d < 0;
	return a->at < b->at;
}

CL_SORT_DEFINE(sort_drefs, struct dref, dref_less)

static bool dirty_unique(cl_cluster *c)
{
	struct dref *v = malloc(c->n_dirty * sizeof *v);
	if (!v)
		return false;
	for (size_t i = 0; i < c->n_dirty; i++) {
		const struct dirty *d = &c->dirty[i];
		v[i] = (struct dref){d->hash, c->dirty_names + d->off, i, d->len};
		c->dirty[i].dup = false;
	}
	sort_drefs(v, c->n_dirty);
	for (size_t i = 1; i < c->n_dirty; i++)
		if (v[i].hash == v[i - 1].hash && v[i].len == v[i - 1].len &&
		    !memcmp(v[i].name, v[i - 1].name, v[i].len))
			c->dirty[v[i].at].dup = true;
	free(v);
	return true;
}

/* What one settle does to the rings: per ring, who leaves and who
 * joins. */
struct plan {
	struct batch rm[CL_RINGS_MAX], add[CL_RINGS_MAX];
	bool failed;
};

/* Places the dirty members, each on exactly the rings its tags ask for,
 * with its weight, and off every ring while not live.  Removals are
 * planned first, so the points budget sees what they free. */
static bool rings_place_dirty(cl_cluster *c)
{
	unsigned vnodes = c->cfg.vnodes ? c->cfg.vnodes : CL_RING_DEFAULT_VNODES;
	struct plan *p = calloc(1, sizeof *p);
	/* Per dirty member: the rings it must be added to, and its weight. */
	uint32_t *add_to = calloc(c->n_dirty ? c->n_dirty : 1, sizeof *add_to);
	unsigned *weight = calloc(c->n_dirty ? c->n_dirty : 1, sizeof *weight);
	bool changed = false;
	if (!p || !add_to || !weight || !dirty_unique(c)) {
		free(p);
		free(add_to);
		free(weight);
		rings_rebuild(c); /* needs no plan; checksums tell the change */
		return true;
	}
	_Static_assert(CL_RINGS_MAX <= 32, "add_to is a 32-bit ring mask");
	size_t total = points_total(c);
	for (size_t d = 0; d < c->n_dirty; d++) {
		if (c->dirty[d].dup)
			continue;
		const char *name = c->dirty_names + c->dirty[d].off;
		size_t len = c->dirty[d].len;
		cl_swim_member_view v;
		bool live = cl_swim_lookup(c->core, name, len, &v) &&
			    (v.status == CL_STATUS_ALIVE ||
			     v.status == CL_STATUS_SUSPECT);
		cl_bytes groups = {NULL, 0};
		bool has_groups = live && tag_find(v.tags, v.tags_len,
						   CL_RING_GROUPS_TAG, &groups);
		weight[d] = live ? member_weight(c, v.tags, v.tags_len) : 1;
		/* Rings named by the member's groups must exist first. */
		if (has_groups)
			each_group(c, groups, ring_create, c);
		for (size_t i = 0; i < c->n_rings; i++) {
			struct named_ring *nr = &c->rings[i];
			bool want = live &&
				    (i == 0 || (has_groups &&
						groups_list(c, groups, nr->name,
							    strlen(nr->name))));
			/* Compare with the points requested, not those held:
			 * libring drops colliding points, which is no change
			 * of weight. */
			long have = cl_ring_member_requested(nr->ring, name, len);
			if (have >= 0 &&
			    (!want || (unsigned long)have !=
					      (unsigned long)weight[d] * vnodes)) {
				long held = cl_ring_member_points(nr->ring, name,
								  len);
				p->failed |= !batch_push(&p->rm[i], name, len, 0);
				total -= held > 0 ? (size_t)held : 0;
				have = -1;
			}
			if (want && have < 0)
				add_to[d] |= (uint32_t)1 << i;
		}
	}
	for (size_t d = 0; d < c->n_dirty && !p->failed; d++) {
		size_t points = (size_t)weight[d] * vnodes;
		for (size_t i = 0; i < c->n_rings; i++) {
			if (!(add_to[d] & ((uint32_t)1 << i)) ||
			    !points_fit(c, total, points))
				continue;
			p->failed |= !batch_push(&p->add[i],
						 c->dirty_names + c->dirty[d].off,
						 c->dirty[d].len, weight[d]);
			total += points;
		}
	}
	if (p->failed) {
		rings_rebuild(c);
		changed = true;
	} else {
		for (size_t i = 0; i < c->n_rings; i++) {
			changed |= p->rm[i].n || p->add[i].n;
			batch_apply(c->rings[i].ring, &p->rm[i], &p->add[i]);
		}
		if (changed)
			rings_prune(c);
	}
	for (size_t i = 0; i < CL_RINGS_MAX; i++) {
		batch_free(&p->rm[i]);
		batch_free(&p->add[i]);
	}
	free(p);
	free(add_to);
	free(weight);
	return changed;
}

/* Settles the rings: the members events named since the last settle, in
 * one batch per ring, or every member at once when too many changed. */
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
	} else if (c->n_dirty) {
		changed = rings_place_dirty(c);
	}
	c->rebuild = false;
	c->n_dirty = 0;
	c->names_used = 0;
	/* A storm's arrays are not kept for the quiet that follows. */
	if (c->dirty_cap > 64) {
		free(c->dirty);
		free(c->dirty_names);
		c->dirty = NULL;
		c->dirty_names = NULL;
		c->dirty_cap = c->names_cap = 0;
	}
	return changed;
}

static void mark_dirty(cl_cluster *c, const char *name, size_t len)
{
	if (c->rebuild)
		return;
	if (c->n_dirty == c->dirty_cap && c->n_dirty < DIRTY_MAX) {
		size_t cap = c->dirty_cap ? 2 * c->dirty_cap : 16;
		struct dirty *d = realloc(c->dirty, cap * sizeof *d);
		if (d) {
			c->dirty = d;
			c->dirty_cap = cap;
		}
	}
	if (c->names_used + len > c->names_cap) {
		size_t cap = c->names_cap ? 2 * c->names_cap : 1024;
		while (cap < c->names_used + len)
			cap *= 2;
		char *n = realloc(c->dirty_names, cap);
		if (n) {
			c->dirty_names = n;
			c->names_cap = cap;
		}
	}
	if (c->n_dirty == c->dirty_cap || c->names_used + len > c->names_cap) {
		/* Too many to place one by one, or no memory to list them:
		 * the table itself says where everyone goes. */
		c->rebuild = true;
		c->n_dirty = 0;
		c->names_used = 0;
		return;
	}
	memcpy(c->dirty_names + c->names_used, name, len);
	c->dirty[c->n_dirty++] = (struct dirty){
		XXH3_64bits(name, len), (uint32_t)c->names_used,
		(uint8_t)len, false};
	c->names_used += len;
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
	free(c->dirty);
	free(c->dirty_names);
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
	c->settle_now = true;
	transition(c, CLOISTER_STOPPING);
}

/* The core dropped its event queue: every ring is rebuilt from the member
 * table itself, so no event the queue lost leaves a ring behind. */
static void resync(cl_cluster *c)
{
	c->rebuild = true;
	c->n_dirty = 0;
	c->names_used = 0;
	c->membership_changed = true;
	c->sentry_dirty = true;
	c->settle_now = true;
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

static cl_usec settle_interval(const cl_cluster *c)
{
	if (!c->coalesce)
		return 0;
	uint64_t units = (uint64_t)points_total(c) +
			 (uint64_t)MEMBER_UNITS * cl_cluster_live(c);
	uint64_t us = units * SETTLE_NS_PER_UNIT / 1000;
	return us < (uint64_t)SETTLE_MAX ? (cl_usec)us : SETTLE_MAX;
}

/* Whether this settle would announce ready: then the rings must be
 * current, so it may not wait. */
static bool ready_ahead(cl_cluster *c)
{
	return c->started && !c->stopping &&
	       (c->state == CLOISTER_ASSEMBLING ||
		c->state == CLOISTER_REHASHING) &&
	       cl_cluster_quorum(c);
}

static bool settle_pending(const cl_cluster *c)
{
	return c->rebuild || c->n_dirty || c->sentry_dirty ||
	       c->membership_changed;
}

void cl_cluster_set_coalesce(cl_cluster *c, bool on)
{
	c->coalesce = on;
	c->settle_now = true; /* no stale interval from before */
}

cl_usec cl_cluster_next_deadline(const cl_cluster *c)
{
	if (!c->coalesce || !settle_pending(c))
		return INT64_MAX;
	return c->settle_next;
}

void cl_cluster_settle(cl_cluster *c, cl_usec now)
{
	if (c->cfg.require_heard &&
	    cl_swim_heard_generation(c->core) != c->heard_gen) {
		c->heard_gen = cl_swim_heard_generation(c->core);
		c->sentry_dirty = true;
	}
	if (c->coalesce && !c->settle_now && !c->stopping &&
	    now < c->settle_next && !ready_ahead(c)) {
		/* Quorum is the core's count, current every step: losing it
		 * is announced now, the rings follow at the interval. */
		if (c->state == CLOISTER_READY && c->started &&
		    !cl_cluster_quorum(c))
			transition(c, CLOISTER_REHASHING);
		return;
	}
	bool pending = settle_pending(c);
	c->settle_now = false;
	if (rings_settle(c))
		c->membership_changed = true;
	if (pending)
		c->settle_next = now + settle_interval(c);
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
			/* The rings were settled above, so the rehash is
			 * already done when we announce it. */
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
