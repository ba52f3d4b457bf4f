/*
 * node.c — the public handle: configuration, lifecycle, snapshots,
 * placement, the listener and manual driving (include/cloister.h).
 *
 * One mutex guards the core and the cluster layer.  A protocol step runs
 * under it; the listener events it produced are then taken out of the
 * cluster layer's queue and delivered with the mutex released, so a
 * callback may call back into the API.  A second, per-handle "delivery"
 * lock keeps two driving threads from interleaving their callbacks, which
 * preserves causal order.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloister.h"
#include "core/cluster.h"
#include "core/swim.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

struct cloister_config {
	char app[CL_WIRE_LABEL_MAX + 1];
	char name[CL_WIRE_NAME_MAX + 1];
	bool has_addr;
	cl_addr addr;
	cl_cluster_config cluster;
	enum cl_profile profile;
	uint8_t tags[CL_WIRE_TAGS_MAX];
	size_t tags_len;
	size_t tags_max;
	size_t max_members;
	char error[256];
};

cloister_config_t *cloister_config_new(void)
{
	cloister_config_t *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	strcpy(c->app, "cloister");
	c->cluster.consensus = 1;
	c->cluster.ring_algorithm = CL_RING_DEFAULT;
	c->profile = CL_PROFILE_LAN;
	c->tags_max = 512;
	return c;
}

void cloister_config_free(cloister_config_t *cfg)
{
	free(cfg);
}

const char *cloister_config_error(const cloister_config_t *cfg)
{
	return cfg ? cfg->error : "no configuration";
}

static int bad(cloister_config_t *c, const char *fmt, const char *a,
	       const char *b)
{
	snprintf(c->error, sizeof c->error, fmt, a, b);
	return CLOISTER_EINVAL;
}

static bool parse_size(const char *v, size_t min, size_t max, size_t *out)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || v[0] == '-' || x < min || x > max)
		return false;
	*out = (size_t)x;
	return true;
}

/* Appends or replaces KEY=VALUE in the encoded tag block. */
static int set_tag(cloister_config_t *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return bad(c, "tag \"%s\": expected KEY=VALUE%s", kv, "");
	size_t klen = (size_t)(eq - kv), vlen = strlen(eq + 1);
	if (klen > CL_WIRE_TAG_KEY_MAX || vlen > 255)
		return bad(c, "tag \"%s\": key over 64 or value over 255 bytes%s",
			   kv, "");
	uint8_t out[CL_WIRE_TAGS_MAX];
	size_t n = 0, pos = 0;
	cl_bytes all = {c->tags, c->tags_len}, k, v;
	while (cl_wire_tag_next(&all, &pos, &k, &v)) {
		if (k.len == klen && !memcmp(k.ptr, kv, klen))
			continue;
		out[n++] = (uint8_t)k.len;
		memcpy(out + n, k.ptr, k.len);
		n += k.len;
		out[n++] = (uint8_t)v.len;
		memcpy(out + n, v.ptr, v.len);
		n += v.len;
	}
	if (n + 2 + klen + vlen > c->tags_max)
		return bad(c, "tag \"%s\": tags exceed tags_max%s", kv, "");
	out[n++] = (uint8_t)klen;
	memcpy(out + n, kv, klen);
	n += klen;
	out[n++] = (uint8_t)vlen;
	memcpy(out + n, eq + 1, vlen);
	n += vlen;
	memcpy(c->tags, out, n);
	c->tags_len = n;
	return 0;
}

int cloister_config_set(cloister_config_t *c, const char *key,
			const char *value)
{
	if (!c || !key || !value)
		return CLOISTER_EINVAL;
	c->error[0] = '\0';
	size_t n;
	if (!strcmp(key, "app")) {
		if (!*value || strlen(value) > CL_WIRE_LABEL_MAX)
			return bad(c, "app \"%s\": 1 to 64 bytes%s", value, "");
		strcpy(c->app, value);
	} else if (!strcmp(key, "name")) {
		if (!cl_wire_name_valid((const uint8_t *)value, strlen(value)))
			return bad(c, "name \"%s\": 1 to 255 printable bytes%s",
				   value, "");
		strcpy(c->name, value);
	} else if (!strcmp(key, "advertise")) {
		if (!*value || !strcmp(value, "none")) {
			c->has_addr = false;
		} else if (cl_addr_parse(value, 0, &c->addr) != 0) {
			return bad(c, "advertise \"%s\": expected IP:PORT%s",
				   value, "");
		} else {
			c->has_addr = true;
		}
	} else if (!strcmp(key, "consensus")) {
		if (cl_consensus_parse(value, &c->cluster) != 0)
			return bad(c, "consensus \"%s\": expected N or "
				      "majority:N (N >= 1)%s", value, "");
	} else if (!strcmp(key, "profile")) {
		if (!strcmp(value, "lan"))
			c->profile = CL_PROFILE_LAN;
		else if (!strcmp(value, "local"))
			c->profile = CL_PROFILE_LOCAL;
		else if (!strcmp(value, "wan"))
			c->profile = CL_PROFILE_WAN;
		else
			return bad(c, "profile \"%s\": lan, local or wan%s",
				   value, "");
	} else if (!strcmp(key, "tag")) {
		return set_tag(c, value);
	} else if (!strcmp(key, "ring")) {
		if (!strcmp(value, "default"))
			c->cluster.ring_algorithm = CL_RING_DEFAULT;
		else if (!strcmp(value, "libring"))
			c->cluster.ring_algorithm = CL_RING_LIBRING;
		else
			return bad(c, "ring \"%s\": default or libring%s", value,
				   "");
	} else if (!strcmp(key, "vnodes")) {
		if (!parse_size(value, 1, CL_RING_MAX_VNODES, &n))
			return bad(c, "vnodes \"%s\": 1 to 65536%s", value, "");
		c->cluster.vnodes = (unsigned)n;
	} else if (!strcmp(key, "max_members")) {
		if (!parse_size(value, 1, 1u << 20, &n))
			return bad(c, "max_members \"%s\": 1 to 1048576%s", value,
				   "");
		c->max_members = n;
	} else if (!strcmp(key, "tags_max")) {
		if (!parse_size(value, 0, CL_WIRE_TAGS_MAX, &n) || n < c->tags_len)
			return bad(c, "tags_max \"%s\": 0 to 1024, and not below "
				      "the tags already set%s", value, "");
		c->tags_max = n;
	} else {
		return bad(c, "unknown setting \"%s\"%s", key, "");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The handle                                                          */
/* ------------------------------------------------------------------ */

struct cloister {
	pthread_mutex_t lock;
	pthread_mutex_t deliver;
	pthread_cond_t changed;
	cl_swim *core;
	cl_cluster *cluster;
	bool nonode;
	cloister_listener listener;
	cloister_send_fn send;
	void *send_arg;
	uint64_t rng;
	unsigned consensus, majority_of;
};

static uint64_t node_rand(void *ctx)
{
	/* splitmix64: the core needs uniform draws, not secrets. */
	cloister_t *c = ctx;
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void node_send(void *ctx, const cl_addr *to, const uint8_t *buf,
		      size_t len, bool stream)
{
	cloister_t *c = ctx;
	if (!c->send)
		return;
	char text[CL_ADDR_STRLEN];
	cl_addr_format(to, text, sizeof text);
	c->send(c->send_arg, text, buf, len, stream);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t cloister_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

cloister_t *cloister_new(const cloister_config_t *cfg, int *err)
{
	int e = CLOISTER_EINVAL;
	cloister_t *c = NULL;
	if (!cfg)
		goto fail;
	bool nonode = !cfg->has_addr;
	if (nonode && (cfg->cluster.consensus != 1 || cfg->cluster.majority_of))
		goto fail; /* alone forever: only consensus 1 can be ready */
	e = CLOISTER_ENOMEM;
	c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->deliver, NULL);
	pthread_cond_init(&c->changed, NULL);
	c->nonode = nonode;
	c->consensus = cfg->cluster.consensus;
	c->majority_of = cfg->cluster.majority_of;
	uint64_t start = wall_ms();
	c->rng = start ^ (uint64_t)cloister_now_us() ^ (uintptr_t)c;

	char name[CL_WIRE_NAME_MAX + 1];
	if (cfg->name[0]) {
		strcpy(name, cfg->name);
	} else if (nonode) {
		snprintf(name, sizeof name, "%s@nohost", cfg->app);
	} else {
		char a[CL_ADDR_STRLEN];
		cl_addr_format(&cfg->addr, a, sizeof a);
		snprintf(name, sizeof name, "%s@%s", cfg->app, a);
	}
	cl_swim_config sc = {
		.label = cfg->app,
		.name = name,
		.addr = nonode ? cl_addr_v4(127, 0, 0, 1, 1) : cfg->addr,
		.tags = cfg->tags,
		.tags_len = cfg->tags_len,
		.tags_max = cfg->tags_max,
		.start_ms = start,
		/* Seconds since the epoch: a restarted process starts above
		 * its old self, so peers take the new one at once. */
		.incarnation = (uint32_t)(start / 1000u),
		.max_members = cfg->max_members,
	};
	cl_swim_timing_profile(&sc.timing, cfg->profile);
	cl_swim_io io = {.ctx = c, .rand = node_rand, .send = node_send};
	c->core = cl_swim_new(&sc, &io, cloister_now_us(), &e);
	if (!c->core)
		goto fail;
	c->cluster = cl_cluster_new(&cfg->cluster, c->core, &e);
	if (!c->cluster)
		goto fail;
	/* The core's own join event founds the cluster's view. */
	cl_swim_event ev;
	while (cl_swim_next_event(c->core, &ev))
		cl_cluster_apply(c->cluster, &ev);
	return c;
fail:
	cloister_free(c);
	if (err)
		*err = e;
	return NULL;
}

void cloister_free(cloister_t *c)
{
	if (!c)
		return;
	cl_cluster_free(c->cluster);
	cl_swim_free(c->core);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->deliver);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/* One allocation holds the struct and every string it points to. */
static cloister_snapshot *snapshot_locked(cloister_t *c)
{
	size_t nr = cl_cluster_ring_count(c->cluster);
	size_t size = sizeof(cloister_snapshot) + nr * sizeof(cloister_ring_info) +
		      2 * (CL_WIRE_NAME_MAX + 1) + nr * (CL_WIRE_TAG_KEY_MAX + 1);
	cloister_snapshot *s = calloc(1, size);
	if (!s)
		return NULL;
	cloister_ring_info *rings = (cloister_ring_info *)(s + 1);
	char *p = (char *)(rings + nr);
	s->state = cl_cluster_state(c->cluster);
	s->consensus = c->consensus;
	s->majority_of = c->majority_of;
	s->alive = cl_cluster_live(c->cluster);
	s->node = strcpy(p, cl_swim_name(c->core));
	p += strlen(p) + 1;
	s->sentry = strcpy(p, cl_cluster_sentry(c->cluster));
	p += strlen(p) + 1;
	for (size_t i = 0; i < nr; i++) {
		const char *rn = cl_cluster_ring_name(c->cluster, i);
		const cl_ring *r = cl_cluster_ring(c->cluster, rn);
		rings[i].name = strcpy(p, rn);
		p += strlen(p) + 1;
		rings[i].checksum = cl_ring_checksum(r);
		rings[i].members = cl_ring_size(r);
	}
	s->rings = rings;
	s->n_rings = nr;
	return s;
}

int cloister_snapshot_get(cloister_t *c, cloister_snapshot **out)
{
	if (!c || !out)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	*out = snapshot_locked(c);
	pthread_mutex_unlock(&c->lock);
	return *out ? 0 : CLOISTER_ENOMEM;
}

void cloister_snapshot_free(cloister_snapshot *s)
{
	free(s);
}

cloister_state cloister_status(cloister_t *c)
{
	pthread_mutex_lock(&c->lock);
	cloister_state s = cl_cluster_state(c->cluster);
	pthread_mutex_unlock(&c->lock);
	return s;
}

const char *cloister_member_status_name(cloister_member_status s)
{
	static const char *const names[] = {"alive", "suspect", "dead", "left"};
	return (unsigned)s < 4 ? names[s] : "unknown";
}

/* A member copied into one allocation: strings, tag array and tags. */
static int member_copy(const char *name, size_t name_len, const cl_addr *addr,
		       uint8_t status, uint32_t inc, uint64_t start,
		       const uint8_t *tags, size_t tags_len, cloister_member *m)
{
	size_t n_tags = 0, pos = 0;
	cl_bytes all = {tags, tags_len}, k, v;
	while (cl_wire_tag_next(&all, &pos, &k, &v))
		n_tags++;
	size_t size = n_tags * sizeof(cloister_tag) + name_len + 1 +
		      CL_ADDR_STRLEN + tags_len + 2 * n_tags;
	char *blob = malloc(size);
	if (!blob)
		return CLOISTER_ENOMEM;
	cloister_tag *tv = (cloister_tag *)blob;
	char *p = blob + n_tags * sizeof(cloister_tag);
	m->tags = tv;
	m->n_tags = n_tags;
	m->name = memcpy(p, name, name_len);
	p[name_len] = '\0';
	p += name_len + 1;
	m->addr = cl_addr_format(addr, p, CL_ADDR_STRLEN);
	p += CL_ADDR_STRLEN;
	pos = 0;
	for (size_t i = 0; cl_wire_tag_next(&all, &pos, &k, &v); i++) {
		tv[i].key = memcpy(p, k.ptr, k.len);
		p[k.len] = '\0';
		p += k.len + 1;
		tv[i].value = memcpy(p, v.ptr, v.len);
		p[v.len] = '\0';
		p += v.len + 1;
	}
	m->status = (cloister_member_status)status;
	m->incarnation = inc;
	m->start_ms = start;
	return 0;
}

/* The blob of a member_copy() starts at its tags array, or its name. */
static void member_release(cloister_member *m)
{
	free(m->n_tags ? (void *)m->tags : (void *)m->name);
}

struct members_acc {
	cloister_member *out;
	size_t n, cap;
	int err;
};

static bool members_visit(void *arg, const cl_swim_member_view *v)
{
	struct members_acc *a = arg;
	if (a->n == a->cap) {
		a->err = CLOISTER_ENOMEM;
		return false;
	}
	a->err = member_copy(v->name, v->name_len, &v->addr, v->status,
			     v->incarnation, v->start_ms, v->tags, v->tags_len,
			     &a->out[a->n]);
	if (a->err)
		return false;
	a->n++;
	return true;
}

int cloister_members(cloister_t *c, cloister_member **out, size_t *n)
{
	if (!c || !out || !n)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	size_t total = 0;
	for (int st = 0; st < 4; st++)
		total += cl_swim_count(c->core, (enum cl_member_status)st);
	struct members_acc a = {calloc(total ? total : 1, sizeof *a.out), 0,
				total, 0};
	if (a.out)
		cl_swim_foreach(c->core, members_visit, &a);
	else
		a.err = CLOISTER_ENOMEM;
	pthread_mutex_unlock(&c->lock);
	if (a.err) {
		cloister_members_free(a.out, a.n);
		return a.err;
	}
	*out = a.out;
	*n = a.n;
	return 0;
}

void cloister_members_free(cloister_member *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		member_release(&m[i]);
	free(m);
}

/* ------------------------------------------------------------------ */
/* Placement                                                           */
/* ------------------------------------------------------------------ */

int cloister_whois_n(cloister_t *c, const char *ring, const void *key,
		     size_t len, size_t n, char (*out)[CLOISTER_NAME_MAX + 1])
{
	if (!c || (!key && len) || !out || n == 0)
		return CLOISTER_EINVAL;
	if (n > 64)
		n = 64;
	const char *names[64];
	size_t lens[64];
	pthread_mutex_lock(&c->lock);
	const cl_ring *r = cl_cluster_ring(c->cluster, ring);
	int got = r && cl_ring_size(r) ? cl_ring_whois_n(r, key, len, n, names, lens)
				       : CLOISTER_ENOENT;
	for (int i = 0; i < got; i++) {
		memcpy(out[i], names[i], lens[i]);
		out[i][lens[i]] = '\0';
	}
	pthread_mutex_unlock(&c->lock);
	return got;
}

int cloister_whois(cloister_t *c, const char *ring, const void *key, size_t len,
		   char out[CLOISTER_NAME_MAX + 1])
{
	int got = cloister_whois_n(c, ring, key, len, 1,
				   (char(*)[CLOISTER_NAME_MAX + 1])out);
	return got < 0 ? got : got == 1 ? 0 : CLOISTER_ENOENT;
}

int cloister_mine(cloister_t *c, const char *ring, const void *key, size_t len)
{
	char owner[CLOISTER_NAME_MAX + 1];
	int e = cloister_whois(c, ring, key, len, owner);
	if (e < 0)
		return e;
	pthread_mutex_lock(&c->lock);
	int mine = strcmp(owner, cl_swim_name(c->core)) == 0;
	pthread_mutex_unlock(&c->lock);
	return mine;
}

/* ------------------------------------------------------------------ */
/* Listener delivery                                                   */
/* ------------------------------------------------------------------ */

int cloister_set_listener(cloister_t *c, const cloister_listener *l)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->deliver);
	pthread_mutex_lock(&c->lock);
	if (l)
		c->listener = *l;
	else
		memset(&c->listener, 0, sizeof c->listener);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->deliver);
	return 0;
}

/* Called with c->lock held after a protocol step: applies the core's events
 * to the cluster layer and settles it. */
static void settle_locked(cloister_t *c)
{
	cl_swim_event ev;
	while (cl_swim_next_event(c->core, &ev))
		cl_cluster_apply(c->cluster, &ev);
	cl_cluster_settle(c->cluster);
	pthread_cond_broadcast(&c->changed);
}

static cloister_member_event member_event_of(uint8_t t)
{
	switch (t) {
	case CL_EV_JOIN:
		return CLOISTER_MEMBER_JOINED;
	case CL_EV_UPDATE:
		return CLOISTER_MEMBER_UPDATED;
	case CL_EV_LEAVE:
		return CLOISTER_MEMBER_LEFT_EVENT;
	case CL_EV_FAIL:
		return CLOISTER_MEMBER_FAILED;
	default:
		return CLOISTER_MEMBER_REAPED;
	}
}

/* Takes c->lock (held by the caller) and releases it; delivers queued
 * listener events one at a time with no lock but the delivery lock. */
static void deliver_and_unlock(cloister_t *c)
{
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->deliver);
	for (;;) {
		pthread_mutex_lock(&c->lock);
		cl_cluster_event ev;
		bool have = cl_cluster_next_event(c->cluster, &ev);
		cloister_listener l = c->listener;
		cloister_snapshot *snap = have && ev.type == CL_CEV_STATE &&
						  l.on_state_change
					  ? snapshot_locked(c)
					  : NULL;
		pthread_mutex_unlock(&c->lock);
		if (!have)
			break;
		if (ev.type == CL_CEV_STATE && l.on_state_change) {
			l.on_state_change(l.arg, ev.from, ev.to, snap);
		} else if (ev.type == CL_CEV_SENTRY && l.on_sentry) {
			l.on_sentry(l.arg, ev.member.name);
		} else if (ev.type == CL_CEV_MEMBER && l.on_member) {
			cloister_member m;
			const cl_swim_event *e = &ev.member;
			if (member_copy(e->name, e->name_len, &e->addr, e->status,
					e->incarnation, e->start_ms, e->tags,
					e->tags_len, &m) == 0) {
				l.on_member(l.arg, member_event_of(e->type), &m);
				member_release(&m);
			}
		}
		free(snap);
	}
	pthread_mutex_unlock(&c->deliver);
}

int cloister_wait_ready(cloister_t *c, int timeout_ms)
{
	if (!c)
		return CLOISTER_EINVAL;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if (timeout_ms >= 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	int e = 0;
	pthread_mutex_lock(&c->lock);
	while (cl_cluster_state(c->cluster) != CLOISTER_READY && e == 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&c->changed, &c->lock);
		else
			e = pthread_cond_timedwait(&c->changed, &c->lock, &until);
	}
	bool ready = cl_cluster_state(c->cluster) == CLOISTER_READY;
	pthread_mutex_unlock(&c->lock);
	return ready ? 0 : CLOISTER_ETIMEDOUT;
}

/* ------------------------------------------------------------------ */
/* Lifecycle and driving                                               */
/* ------------------------------------------------------------------ */

int cloister_start(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	cl_cluster_start(c->cluster);
	settle_locked(c);
	deliver_and_unlock(c);
	return 0;
}

int cloister_leave(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	cl_cluster_stop(c->cluster);
	int64_t now = cloister_now_us();
	cl_swim_leave(c->core, now);
	if (c->nonode) /* nobody to tell: skip the linger */
		cl_swim_tick(c->core, now + 3600 * CL_SEC);
	settle_locked(c);
	deliver_and_unlock(c);
	return 0;
}

int cloister_set_transport(cloister_t *c, cloister_send_fn send, void *arg)
{
	if (!c || c->nonode)
		return c ? CLOISTER_ESTATE : CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	c->send = send;
	c->send_arg = arg;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int cloister_join(cloister_t *c, int64_t now_us, const char *const *addrs,
		  size_t n)
{
	if (!c || (!addrs && n))
		return CLOISTER_EINVAL;
	if (c->nonode)
		return CLOISTER_ESTATE;
	cl_addr seeds[64];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 64; i++) {
		if (cl_addr_parse(addrs[i], 0, &seeds[k]) != 0)
			return CLOISTER_EINVAL;
		k++;
	}
	pthread_mutex_lock(&c->lock);
	int e = cl_swim_join(c->core, now_us, seeds, k);
	settle_locked(c);
	deliver_and_unlock(c);
	return e;
}

int cloister_feed(cloister_t *c, int64_t now_us, const char *from,
		  const void *buf, size_t len, int stream)
{
	cl_addr a;
	if (!c || !from || (!buf && len) || cl_addr_parse(from, 0, &a) != 0)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	cl_swim_feed(c->core, now_us, &a, buf, len, stream != 0);
	settle_locked(c);
	deliver_and_unlock(c);
	return 0;
}

int cloister_tick(cloister_t *c, int64_t now_us)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	cl_swim_tick(c->core, now_us);
	settle_locked(c);
	deliver_and_unlock(c);
	return 0;
}

int64_t cloister_next_deadline(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	int64_t d = c->nonode ? INT64_MAX : cl_swim_next_deadline(c->core);
	pthread_mutex_unlock(&c->lock);
	return d;
}
