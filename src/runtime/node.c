/*
 * node.c — the public handle: identity, lifecycle, snapshots, placement,
 * the listener, keys, counters and manual driving (include/cloister.h).
 * Locking is described in node_internal.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <sodium.h>
#include <sys/socket.h>

#include "cloister.h"
#include "core/cluster.h"
#include "core/swim.h"
#include "discovery.h"
#include "keyring.h"
#include "logfmt.h"
#include "loop.h"
#include "messaging.h"
#include "naming.h"
#include "node_internal.h"
#include "node_keys.h"
#include "node_log.h"
#include "timings.h"
#include "sentry_spec.h"
#include "core/sort.h"

/* ------------------------------------------------------------------ */
/* Plumbing for the core                                               */
/* ------------------------------------------------------------------ */

static uint64_t node_rand(void *ctx)
{
	/* splitmix64: the core needs uniform draws, not secrets. */
	cloister_t *c = ctx;
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void node_transmit(cloister_t *c, const cl_addr *to, uint64_t to_id,
		   const uint8_t *buf, size_t len, bool stream)
{
	if (c->loop) {
		cl_loop_send(c->loop, to, to_id, buf, len, stream);
	} else if (c->send) {
		char text[CL_ADDR_STRLEN];
		cl_addr_format(to, text, sizeof text);
		c->send(c->send_arg, text, buf, len, stream);
	}
}

static void node_send(void *ctx, const cl_addr *to, uint64_t to_id,
		      const uint8_t *buf, size_t len, bool stream)
{
	node_transmit(ctx, to, to_id, buf, len, stream);
}

static void node_user(void *ctx, const cl_addr *from, const cl_wire_msg *msg,
		      bool stream)
{
	cl_messaging_on_user(ctx, from, msg);
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

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void log_stderr(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	fprintf(stderr, "%s\n", line);
}

void node_log(cloister_t *c, int level, const char *fmt, ...)
{
	if (level > c->log_level || !c->log)
		return;
	/* Room for a line holding a quoted 255-byte name (up to 1,022
	 * bytes escaped) beside its message. */
	char line[2048];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	c->log(c->log_arg, level, line);
}

/* See node_log.h.  Read by cloister_new. */
static struct {
	cloister_log_fn fn;
	void *arg;
	int level;
} creation_log = {log_stderr, NULL, CLOISTER_LOG_INFO};

void cl_node_set_creation_logger(cloister_log_fn fn, void *arg, int max_level)
{
	creation_log.fn = fn ? fn : log_stderr;
	creation_log.arg = fn ? arg : NULL;
	creation_log.level = max_level;
}

int cloister_set_logger(cloister_t *c, cloister_log_fn fn, void *arg,
			int max_level)
{
	if (!c || max_level < CLOISTER_LOG_ERROR || max_level > CLOISTER_LOG_DEBUG)
		return CLOISTER_EINVAL;
	c->log = fn;
	c->log_arg = arg;
	c->log_level = max_level;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Identity: which address and name this node takes                    */
/* ------------------------------------------------------------------ */

/* A DNS sentry's answers, resolved once, synchronously, to pick our own
 * address among them (Cloister's naming "magic"). */
static size_t sentry_answers(const cl_sentry_spec *spec, cl_addr *out,
			     size_t max)
{
	if (spec->kind != CL_SENTRY_DNS)
		return 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	if (getaddrinfo(spec->name, NULL, &hints, &res) != 0)
		return 0;
	size_t n = 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		cl_addr a = {0};
		if (ai->ai_family == AF_INET) {
			a.family = CL_AF_INET4;
			memcpy(a.ip, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.family = CL_AF_INET6;
			memcpy(a.ip, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
			       16);
		} else {
			continue;
		}
		a.port = spec->port;
		out[n++] = a;
	}
	freeaddrinfo(res);
	return n;
}

static cl_naming_mode naming_of(enum cl_naming_mode_setting m)
{
	switch (m) {
	case CL_NAME_NONODE:
		return CL_NAMING_NONODE;
	case CL_NAME_SHORT:
		return CL_NAMING_SHORTNAMES;
	case CL_NAME_LONG:
		return CL_NAMING_LONGNAMES;
	default:
		return CL_NAMING_AUTO;
	}
}

/* Fills c->cfg.addr/has_addr and name; logs the choice and why, once. */
static int choose_identity(cloister_t *c, const cl_sentry_spec *spec,
			   char *name, size_t namelen)
{
	cloister_config_t *cfg = &c->cfg;
	char why[300] = "";
	/* Nothing about the network configured: Cloister's development
	 * mode, a node alone. */
	if (cfg->naming == CL_NAME_NONODE ||
	    (!cfg->has_addr && !cfg->has_bind && spec->kind == CL_SENTRY_NONE)) {
		c->nonode = true;
		if (cfg->name[0])
			snprintf(name, namelen, "%s", cfg->name);
		else
			snprintf(name, namelen, "%s@nohost", cfg->app);
		snprintf(why, sizeof why, "no network configured (nonode)");
	} else {
		if (!cfg->has_addr && cfg->has_bind &&
		    !sodium_is_zero(cfg->bind.ip, 16)) {
			cfg->addr = cfg->bind; /* a specific bind address */
			cfg->has_addr = true;
		}
		cl_addr answers[64];
		size_t n = cfg->has_addr ? 0 : sentry_answers(spec, answers, 64);
		cl_addr chosen = cfg->has_addr ? cfg->addr : (cl_addr){0};
		if (!cfg->has_addr)
			chosen.port = cfg->has_bind ? cfg->bind.port
				      : spec->port ? spec->port : 7946;
		char auto_name[CL_WIRE_NAME_MAX + 1];
		int e;
		if (cfg->has_addr && cfg->naming == CL_NAME_AUTO) {
			/* app@IP as Cloister names nodes; the port joins in only
			 * when it is not the default, so that several nodes on
			 * one address still get distinct names. */
			char a[CL_ADDR_STRLEN];
			cl_addr host = chosen;
			host.port = 0;
			cl_addr_format(&chosen, a, sizeof a);
			if (chosen.port == 7946) {
				cl_addr_format(&host, a, sizeof a);
				char *colon = strrchr(a, ':');
				if (colon)
					*colon = '\0';
				if (a[0] == '[') {
					memmove(a, a + 1, strlen(a));
					a[strlen(a) - 1] = '\0';
				}
			}
			snprintf(auto_name, sizeof auto_name, "%s@%s", cfg->app, a);
			snprintf(why, sizeof why, "the advertise address");
			e = 0;
		} else {
			e = cl_naming_choose(naming_of(cfg->naming), cfg->app,
					     answers, n, &chosen, auto_name,
					     sizeof auto_name, why, sizeof why);
		}
		if (e != 0) {
			node_log(c, CLOISTER_LOG_ERROR,
				 "msg=\"cannot choose a node name\" reason=\"%s\"",
				 why);
			return e;
		}
		if (!cfg->has_addr) {
			cfg->addr = chosen;
			cfg->has_addr = true;
		}
		snprintf(name, namelen, "%s", cfg->name[0] ? cfg->name : auto_name);
		if (cfg->name[0])
			snprintf(why, sizeof why, "configured");
		cl_addr_format(&cfg->addr, c->addr_text, sizeof c->addr_text);
	}
	char qname[CL_LOGFMT_NAME_BUF];
	node_log(c, CLOISTER_LOG_INFO, "msg=\"node named\" name=%s addr=%s "
		 "reason=\"%s\"", cl_logfmt_quote(name, qname, sizeof qname),
		 c->nonode ? "none" : c->addr_text, why);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Keys required                                                       */
/* ------------------------------------------------------------------ */

/* 127.0.0.0/8, ::1, and 127/8 mapped into IPv6.  A wildcard (0.0.0.0,
 * ::) is not: it listens on every interface. */
static bool addr_is_loopback(const cl_addr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
	if (a->family == CL_AF_INET4)
		return a->ip[0] == 127;
	if (!memcmp(a->ip, v6_loopback, 16))
		return true;
	return !memcmp(a->ip, v4_mapped, 12) && a->ip[12] == 127;
}

/* A node reachable from other hosts carries a cluster key, unless
 * plaintext was asked for (insecure): without one, anyone who reaches the
 * port can join, read every message and send members their own.
 * Loopback-only nodes (cloister local, the demo, tests) need none. */
static int require_key(cloister_t *c)
{
	const cloister_config_t *cfg = &c->cfg;
	const cl_addr *exposed = NULL;
	if (c->nonode || cfg->has_key)
		return 0;
	if (cfg->has_bind && !addr_is_loopback(&cfg->bind))
		exposed = &cfg->bind;
	else if (cfg->has_addr && !addr_is_loopback(&cfg->addr))
		exposed = &cfg->addr;
	if (!exposed)
		return 0;
	char a[CL_ADDR_STRLEN];
	cl_addr_format(exposed, a, sizeof a);
	if (cfg->insecure) {
		c->insecure = true;
		return 0;
	}
	node_log(c, CLOISTER_LOG_ERROR,
		 "msg=\"refusing to start without a cluster key on a "
		 "non-loopback address: anyone reaching it could join the "
		 "cluster, read its messages and send its members their own\" "
		 "addr=%s fix=\"give every node the same key (key_file / "
		 "--key-file FILE, made with `cloister keygen > FILE`; or "
		 "passphrase), or set insecure = true (--insecure) to run in "
		 "plaintext anyway\"",
		 a);
	return CLOISTER_EINVAL;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

/* This node's tags as gossiped: the user's, then the protocol versions
 * it speaks (CL_PROTO_TAG, core/wire.h) when they fit within tags_max
 * (a node that cannot advertise is taken by its peers to speak their
 * oldest version).  Returns the length written to out. */
static size_t advertised_tags(uint8_t proto_min, const uint8_t *tags,
			      size_t len, size_t max, uint8_t *out)
{
	cl_bytes key = {(const uint8_t *)CL_PROTO_TAG, strlen(CL_PROTO_TAG)};
	size_t n = cl_wire_tags_drop(tags, len, key, out);
	char range[16];
	int rl = snprintf(range, sizeof range, "%u-%u",
			  proto_min ? proto_min : CL_PROTO_MAX, CL_PROTO_MAX);
	if (n + 2 + key.len + (size_t)rl > max)
		return n;
	return cl_wire_tag_append(out, n, key,
				  (cl_bytes){(const uint8_t *)range, (size_t)rl});
}

cloister_t *cloister_new(const cloister_config_t *cfg, int *err)
{
	int e = CLOISTER_EINVAL;
	cloister_t *c = NULL;
	cl_sentry_spec spec = {0};
	if (!cfg)
		goto fail;
	e = CLOISTER_ENOMEM;
	c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	pthread_mutexattr_t rec;
	pthread_mutexattr_init(&rec);
	/* Recursive: a handler may send, and sending may deliver locally. */
	pthread_mutexattr_settype(&rec, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->deliver, &rec);
	pthread_mutexattr_destroy(&rec);
	pthread_cond_init(&c->changed, NULL);
	c->cfg = *cfg;
	c->log = creation_log.fn;
	c->log_arg = creation_log.arg;
	c->log_level = creation_log.level;
	if (getenv("CLOISTER_QUIET"))
		c->log = NULL;
	c->consensus = cfg->cluster.consensus;
	c->majority_of = cfg->cluster.majority_of;
	uint64_t start = wall_ms();
	c->rng = start ^ (uint64_t)cloister_now_us() ^ (uintptr_t)c;

	e = cl_sentry_parse(cfg->sentry, 7946, &spec, NULL, 0);
	if (e != 0)
		goto fail;
	char name[CL_WIRE_NAME_MAX + 1];
	e = choose_identity(c, &spec, name, sizeof name);
	cl_sentry_spec_free(&spec);
	if (e != 0)
		goto fail;
	e = CLOISTER_EINVAL;
	if (c->nonode && (cfg->cluster.consensus != 1 || cfg->cluster.majority_of)) {
		node_log(c, CLOISTER_LOG_ERROR,
			 "msg=\"nonode needs consensus 1: alone it can never "
			 "see more members\" consensus=%u", cfg->cluster.consensus);
		goto fail; /* alone forever: only consensus 1 can be ready */
	}

	e = CLOISTER_ENOMEM;
	c->keyring = cl_keyring_new();
	c->msg = cl_messaging_new(cfg->user_queue_max, cfg->max_calls);
	if (!c->keyring || !c->msg)
		goto fail;
	if (!cfg->has_key && cfg->passphrase[0]) {
		e = cl_key_from_passphrase(cfg->app, cfg->passphrase, c->cfg.key);
		if (e != 0)
			goto fail;
		c->cfg.has_key = true;
	}
	memset(c->cfg.passphrase, 0, sizeof c->cfg.passphrase);
	if (c->cfg.has_key) {
		e = cl_keyring_install(c->keyring, c->cfg.key);
		if (e != 0)
			goto fail;
	}
	memset(c->cfg.key, 0, sizeof c->cfg.key);
	e = require_key(c);
	if (e != 0)
		goto fail;

	uint8_t tags[CL_WIRE_TAGS_MAX];
	size_t tags_len = advertised_tags(cfg->proto_min, cfg->tags,
					  cfg->tags_len, cfg->tags_max, tags);
	cl_swim_config sc = {
		.label = cfg->app,
		.name = name,
		.addr = c->nonode ? cl_addr_v4(127, 0, 0, 1, 1) : c->cfg.addr,
		.tags = tags,
		.tags_len = tags_len,
		.proto_min = cfg->proto_min,
		.tags_max = cfg->tags_max,
		.start_ms = start,
		/* Seconds since the epoch: a restarted process starts above
		 * its old self, so peers take the new one at once. */
		.incarnation = (uint32_t)(start / 1000u),
		.max_members = cfg->max_members,
		.no_stream_ping = cfg->no_tcp_ping,
		/* Quorum and sentry count only members heard from directly;
		 * eight verification pings a period make a join of 100 count
		 * in seconds rather than a probe round. */
		.verify_pings = 8,
	};
	cl_swim_timing_profile(&sc.timing, cfg->profile);
	c->cfg_mtu = sc.timing.mtu;
	cl_swim_io io = {.ctx = c,
			 .rand = node_rand,
			 .send = node_send,
			 .user = node_user};
	c->core = cl_swim_new(&sc, &io, cloister_now_us(), &e);
	if (!c->core)
		goto fail;
	snprintf(c->name_text, sizeof c->name_text, "%s", cl_swim_name(c->core));
	cl_cluster_config cc = cfg->cluster;
	cc.require_heard = true;
	c->cluster = cl_cluster_new(&cc, c->core, &e);
	if (!c->cluster)
		goto fail;
	e = CLOISTER_ENOMEM;
	c->timings = cl_timings_new(name, start);
	if (!c->timings)
		goto fail;
	/* The core's own join event founds the cluster's view. */
	cl_swim_event ev;
	while (cl_swim_next_event(c->core, &ev))
		cl_cluster_apply(c->cluster, &ev);
	return c;
fail:
	cl_sentry_spec_free(&spec);
	cloister_free(c);
	if (err)
		*err = e;
	return NULL;
}

void cloister_free(cloister_t *c)
{
	if (!c)
		return;
	/* Stop the threads first: nothing may touch the core after this. */
	cl_discovery_free(c->discovery);
	cl_loop_free(c->loop);
	cl_messaging_free(c->msg);
	cl_keyring_free(c->keyring);
	cl_cluster_free(c->cluster);
	cl_swim_free(c->core);
	cl_timings_free(c->timings);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->deliver);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *cloister_name(cloister_t *c)
{
	return c ? c->name_text : "";
}

const char *cloister_address(cloister_t *c)
{
	return c ? c->addr_text : "";
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/* One allocation holds the struct and every string it points to. */
static cloister_snapshot *snapshot_locked(cloister_t *c)
{
	size_t nr = cl_cluster_ring_count(c->cluster);
	size_t size = sizeof(cloister_snapshot) + nr * sizeof(cloister_ring_info) +
		      2 * (CL_WIRE_NAME_MAX + 1) + nr * (CL_WIRE_TAG_KEY_MAX + 1) +
		      CL_ADDR_STRLEN;
	cloister_snapshot *s = calloc(1, size);
	if (!s)
		return NULL;
	cloister_ring_info *rings = (cloister_ring_info *)(s + 1);
	char *p = (char *)(rings + nr);
	s->state = cl_cluster_state(c->cluster);
	s->consensus = c->consensus;
	s->majority_of = c->majority_of;
	s->alive = cl_cluster_live(c->cluster);
	s->node = strcpy(p, c->name_text);
	p += strlen(p) + 1;
	s->sentry = strcpy(p, cl_cluster_sentry(c->cluster));
	p += strlen(p) + 1;
	const cl_swim_event *rival = cl_cluster_superseded(c->cluster);
	if (rival)
		cl_addr_format(&rival->addr, p, CL_ADDR_STRLEN);
	else
		p[0] = '\0';
	s->superseded_by = p;
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
	size_t n_tags = 0, pos = 0, proto_klen = strlen(CL_PROTO_TAG);
	cl_bytes all = {tags, tags_len}, k, v;
	/* The protocol range is the runtime's business, not the user's. */
#define PROTO_KEY(k) ((k).len == proto_klen && !memcmp((k).ptr, CL_PROTO_TAG, proto_klen))
	while (cl_wire_tag_next(&all, &pos, &k, &v))
		n_tags += !PROTO_KEY(k);
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
		if (PROTO_KEY(k)) {
			i--;
			continue;
		}
		tv[i].key = memcpy(p, k.ptr, k.len);
		p[k.len] = '\0';
		p += k.len + 1;
		tv[i].value = memcpy(p, v.ptr, v.len);
		p[v.len] = '\0';
		p += v.len + 1;
	}
#undef PROTO_KEY
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
	return strcmp(owner, c->name_text) == 0;
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

/* Logs what a member event is worth a line for (node lock held). */
static void log_member(cloister_t *c, const cl_swim_event *ev)
{
	static const char *const what[] = {"", "joined", "updated", "left",
					   "failed", "reaped"};
	if (ev->type == CL_EV_UPDATE || ev->type > CL_EV_REAP)
		return;
	char a[CL_ADDR_STRLEN], qname[CL_LOGFMT_NAME_BUF];
	/* The name comes from the network: quoted and escaped, so a space,
	 * '=' or a byte that is not UTF-8 cannot forge fields. */
	node_log(c, ev->type == CL_EV_FAIL ? CLOISTER_LOG_WARN : CLOISTER_LOG_INFO,
		 "msg=\"member %s\" member=%s addr=%s incarnation=%u",
		 what[ev->type], cl_logfmt_quote(ev->name, qname, sizeof qname),
		 cl_addr_format(&ev->addr, a, sizeof a), ev->incarnation);
}

cl_usec node_next_deadline(cloister_t *c)
{
	cl_usec core = cl_swim_next_deadline(c->core);
	cl_usec cluster = cl_cluster_next_deadline(c->cluster);
	return core < cluster ? core : cluster;
}

void node_finish_step(cloister_t *c)
{
	cl_swim_event sev;
	int64_t now = cloister_now_us();
	uint64_t wall = wall_ms();
	while (cl_swim_next_event(c->core, &sev)) {
		cl_timings_event(c->timings, &sev, now, wall);
		if (sev.type == CL_EV_SUPERSEDED) {
			char a[CL_ADDR_STRLEN], qname[CL_LOGFMT_NAME_BUF];
			node_log(c, CLOISTER_LOG_ERROR,
				 "msg=\"another live process holds this node's "
				 "name: it started later and answered at its "
				 "address, so this process has stopped claiming "
				 "the name and is out of the cluster (no leave "
				 "announced); stop it, or give one of the two "
				 "another name\" name=%s other=%s "
				 "other_start_ms=%llu other_incarnation=%u",
				 cl_logfmt_quote(sev.name, qname, sizeof qname),
				 cl_addr_format(&sev.addr, a, sizeof a),
				 (unsigned long long)sev.start_ms,
				 sev.incarnation);
		} else if (strcmp(sev.name, c->name_text) != 0) {
			log_member(c, &sev);
		}
		cl_cluster_apply(c->cluster, &sev);
	}
	/* Probes are timed only on the built-in runtime's clock: a program
	 * driving the node itself may pass times of its own. */
	if (c->loop)
		cl_timings_probe(c->timings, c->core, now);
	cl_cluster_settle(c->cluster, now);
	pthread_cond_broadcast(&c->changed);
	if (c->loop)
		cl_loop_rearm(c->loop);
	bool outbound = cl_messaging_pending(c);
	pthread_mutex_unlock(&c->lock);

	/* Deliver, in order, with only the delivery lock held. */
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
		if (ev.type == CL_CEV_STATE)
			node_log(c, CLOISTER_LOG_INFO,
				 "msg=\"status changed\" from=%s to=%s",
				 cloister_state_name(ev.from),
				 cloister_state_name(ev.to));
		else if (ev.type == CL_CEV_SENTRY && ev.member.name[0]) {
			char qname[CL_LOGFMT_NAME_BUF];
			node_log(c, CLOISTER_LOG_INFO,
				 "msg=\"sentry changed\" sentry=%s",
				 cl_logfmt_quote(ev.member.name, qname, sizeof qname));
		} else if (ev.type == CL_CEV_SENTRY)
			node_log(c, CLOISTER_LOG_INFO,
				 "msg=\"sentry changed\" sentry=none");
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
	cl_messaging_deliver(c);
	pthread_mutex_unlock(&c->deliver);
	if (outbound) {
		if (c->loop)
			cl_loop_kick(c->loop);
		else
			cl_messaging_drain(c);
	}
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
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

static bool addr_less(const cl_addr *a, const cl_addr *b)
{
	return memcmp(a, b, sizeof *a) < 0;
}

CL_SORT_DEFINE(sort_addrs, cl_addr, addr_less)

/* Discovery's answers (up to 64, sorted), each marked once a live member
 * holds it: one pass over the members, a binary search each, instead of
 * sorting every member's address every interval. */
struct answers {
	cl_addr a[64];
	bool known[64];
	size_t n;
};

static bool mark_known(void *arg, const cl_swim_member_view *v)
{
	struct answers *w = arg;
	if (v->status != CL_STATUS_ALIVE && v->status != CL_STATUS_SUSPECT)
		return true;
	cl_addr a;
	memset(&a, 0, sizeof a);
	a.family = v->addr.family;
	a.port = v->addr.port;
	memcpy(a.ip, v->addr.ip, 16);
	cl_addr *hit = sort_addrs_find(w->a, w->n, &a);
	if (hit)
		w->known[hit - w->a] = true;
	return true;
}

/* On the discovery thread: log a change of outcome once, then join every
 * answer not already a live member (new containers, and the other half
 * of a healed partition). */
static void on_discovery(void *arg, const cl_discovery_result *r)
{
	cloister_t *c = arg;
	if (r->changed) {
		if (r->status == CL_DISCOVERY_OK)
			node_log(c, CLOISTER_LOG_INFO,
				 "msg=\"discovery ok\" peers=%zu", r->n_peers);
		else {
			/* The detail may quote DNS answers: escaped. */
			char qd[CL_LOGFMT_QUOTED_MAX(256) + 1];
			node_log(c, CLOISTER_LOG_WARN,
				 "msg=\"discovery failed; retrying quietly\" "
				 "status=%s detail=%s",
				 cl_discovery_status_name(r->status),
				 cl_logfmt_quote(r->detail, qd, sizeof qd));
		}
	}
	if (r->n_peers == 0)
		return;
	struct answers w = {.n = 0};
	for (size_t i = 0; i < r->n_peers && w.n < 64; i++) {
		cl_addr *a = &w.a[w.n++];
		memset(a, 0, sizeof *a);
		a->family = r->peers[i].family;
		a->port = r->peers[i].port;
		memcpy(a->ip, r->peers[i].ip, 16);
	}
	sort_addrs(w.a, w.n);
	size_t u = 0; /* repeated answers once */
	for (size_t i = 0; i < w.n; i++)
		if (u == 0 || memcmp(&w.a[i], &w.a[u - 1], sizeof w.a[i]))
			w.a[u++] = w.a[i];
	w.n = u;
	pthread_mutex_lock(&c->lock);
	cl_swim_foreach(c->core, mark_known, &w);
	pthread_mutex_unlock(&c->lock);
	cl_addr fresh[64];
	size_t nf = 0;
	for (size_t i = 0; i < w.n; i++)
		if (!w.known[i])
			fresh[nf++] = w.a[i];
	if (nf && c->loop)
		cl_loop_join(c->loop, fresh, nf);
}

/* ------------------------------------------------------------------ */
/* Starting, leaving, joining                                          */
/* ------------------------------------------------------------------ */

int cloister_start(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	int e = 0;
	if (!c->nonode && !c->send && !c->loop) {
		c->loop = cl_loop_new(c, &e);
		if (!c->loop)
			return e;
		if (c->insecure)
			node_log(c, CLOISTER_LOG_WARN,
				 "msg=\"insecure: no cluster key on a "
				 "non-loopback address, as asked; traffic is "
				 "plaintext and anyone reaching %s can join\"",
				 c->addr_text);
		else if (!cl_keyring_enabled(c->keyring))
			node_log(c, CLOISTER_LOG_INFO,
				 "msg=\"no cluster key: plaintext, on loopback "
				 "only\"");
		e = cl_loop_start(c->loop);
		if (e != 0)
			return e;
		/* The loop keeps a steady clock and wakes at the cluster's
		 * deadline: churn may be settled in batches. */
		pthread_mutex_lock(&c->lock);
		cl_cluster_set_coalesce(c->cluster, true);
		pthread_mutex_unlock(&c->lock);
		cl_sentry_spec spec;
		if (cl_sentry_parse(c->cfg.sentry, c->cfg.addr.port, &spec, NULL,
				    0) == 0 &&
		    spec.kind != CL_SENTRY_NONE) {
			c->discovery = cl_discovery_new(
				&spec, c->cfg.discovery_interval_us,
				on_discovery, c);
			if (!c->discovery)
				e = CLOISTER_ENOMEM;
		}
		cl_sentry_spec_free(&spec);
	}
	pthread_mutex_lock(&c->lock);
	cl_cluster_start(c->cluster);
	node_finish_step(c);
	return e;
}

int cloister_leave(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	if (c->loop) {
		cl_loop_leave(c->loop);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	cl_cluster_stop(c->cluster);
	int64_t now = cloister_now_us();
	cl_swim_leave(c->core, now);
	if (c->nonode) /* nobody to tell: skip the linger */
		cl_swim_tick(c->core, now + 3600 * CL_SEC);
	node_finish_step(c);
	return 0;
}

int cloister_set_tags(cloister_t *c, const cloister_tag *tags, size_t n)
{
	if (!c || (!tags && n) || n > CL_WIRE_TAGS_MAX / 2)
		return CLOISTER_EINVAL;
	uint8_t enc[CL_WIRE_TAGS_MAX], out[CL_WIRE_TAGS_MAX];
	size_t len = 0, klen_proto = strlen(CL_PROTO_TAG);
	for (size_t i = 0; i < n; i++) {
		if (!tags[i].key || !tags[i].value)
			return CLOISTER_EINVAL;
		size_t kl = strlen(tags[i].key), vl = strlen(tags[i].value);
		if (kl == 0 || kl > CL_WIRE_TAG_KEY_MAX || vl > 255 ||
		    (kl == klen_proto && !memcmp(tags[i].key, CL_PROTO_TAG, kl)))
			return CLOISTER_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(tags[j].key, tags[i].key))
				return CLOISTER_EINVAL;
		if (len + 2 + kl + vl > c->cfg.tags_max)
			return CLOISTER_ELIMIT;
		enc[len++] = (uint8_t)kl;
		memcpy(enc + len, tags[i].key, kl);
		len += kl;
		enc[len++] = (uint8_t)vl;
		memcpy(enc + len, tags[i].value, vl);
		len += vl;
	}
	size_t olen = advertised_tags(c->cfg.proto_min, enc, len,
				      c->cfg.tags_max, out);
	pthread_mutex_lock(&c->lock);
	int e = c->nonode ? CLOISTER_ESTATE
			  : cl_swim_set_tags(c->core, cloister_now_us(), out, olen);
	node_finish_step(c);
	if (e == 0)
		node_log(c, CLOISTER_LOG_INFO, "msg=\"tags changed\" tags=%zu",
			 n);
	return e;
}

int cloister_force_leave(cloister_t *c, const char *name)
{
	if (!c || !name)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	int e = c->nonode ? CLOISTER_ESTATE
			  : cl_swim_force_leave(c->core, cloister_now_us(),
						name, strlen(name));
	node_finish_step(c);
	if (e == 0) {
		char q[CL_LOGFMT_NAME_BUF];
		node_log(c, CLOISTER_LOG_INFO,
			 "msg=\"forced a failed member out\" member=%s",
			 cl_logfmt_quote(name, q, sizeof q));
	}
	return e;
}

int cloister_join_addrs(cloister_t *c, const char *const *addrs, size_t n)
{
	if (!c || (!addrs && n) || n > 64)
		return CLOISTER_EINVAL;
	if (c->nonode)
		return CLOISTER_ESTATE;
	cl_addr seeds[64];
	for (size_t i = 0; i < n; i++)
		if (cl_addr_parse(addrs[i], 7946, &seeds[i]) != 0)
			return CLOISTER_EINVAL;
	if (c->loop) {
		cl_loop_join(c->loop, seeds, n);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	int e = cl_swim_join(c->core, cloister_now_us(), seeds, n);
	node_finish_step(c);
	return e;
}

/* ------------------------------------------------------------------ */
/* Driving it yourself                                                 */
/* ------------------------------------------------------------------ */

int cloister_set_transport(cloister_t *c, cloister_send_fn send, void *arg)
{
	if (!c)
		return CLOISTER_EINVAL;
	if (c->nonode || c->loop)
		return CLOISTER_ESTATE;
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
	if (c->nonode || c->loop)
		return CLOISTER_ESTATE;
	cl_addr seeds[64];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 64; i++) {
		if (cl_addr_parse(addrs[i], 7946, &seeds[k]) != 0)
			return CLOISTER_EINVAL;
		k++;
	}
	pthread_mutex_lock(&c->lock);
	int e = cl_swim_join(c->core, now_us, seeds, k);
	node_finish_step(c);
	return e;
}

int cloister_feed(cloister_t *c, int64_t now_us, const char *from,
		  const void *buf, size_t len, int stream)
{
	cl_addr a;
	if (!c || !from || (!buf && len) || cl_addr_parse(from, 0, &a) != 0)
		return CLOISTER_EINVAL;
	if (c->loop)
		return CLOISTER_ESTATE;
	pthread_mutex_lock(&c->lock);
	cl_swim_feed(c->core, now_us, &a, buf, len, stream != 0);
	node_finish_step(c);
	return 0;
}

int cloister_tick(cloister_t *c, int64_t now_us)
{
	if (!c)
		return CLOISTER_EINVAL;
	if (c->loop)
		return CLOISTER_ESTATE;
	pthread_mutex_lock(&c->lock);
	cl_swim_tick(c->core, now_us);
	node_finish_step(c);
	return 0;
}

int64_t cloister_next_deadline(cloister_t *c)
{
	if (!c)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	int64_t d = c->nonode ? INT64_MAX : node_next_deadline(c);
	pthread_mutex_unlock(&c->lock);
	return d;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

static int keys_op(cloister_t *c, const char *text,
		   int (*op)(cl_keyring *, const uint8_t *))
{
	uint8_t key[CL_KEY_BYTES];
	if (!c || !text || cl_key_parse(text, key) != 0)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	/* A node started without a key runs in plaintext; a key installed
	 * over the control API would turn encryption on for it alone (and
	 * cut it off from its cluster) or, with a stolen token, let a
	 * stranger's key in.  Keys start with the node or not at all. */
	int e = cl_keyring_enabled(c->keyring) ? op(c->keyring, key)
					       : CLOISTER_ESTATE;
	pthread_mutex_unlock(&c->lock);
	char fp[CL_KEY_FINGERPRINT_LEN + 1];
	if (e == 0)
		node_log(c, CLOISTER_LOG_INFO, "msg=\"keyring changed\" key=%s "
			 "op=%s", cl_key_fingerprint(key, fp),
			 op == cl_keyring_install ? "install"
			 : op == cl_keyring_use	  ? "use"
						  : "remove");
	sodium_memzero(key, sizeof key);
	return e;
}

int cloister_keys_install(cloister_t *c, const char *key)
{
	return keys_op(c, key, cl_keyring_install);
}

int cloister_keys_use(cloister_t *c, const char *key)
{
	return keys_op(c, key, cl_keyring_use);
}

int cloister_keys_remove(cloister_t *c, const char *key)
{
	return keys_op(c, key, cl_keyring_remove);
}

int cl_node_keys_retain(cloister_t *c, const char *text)
{
	uint8_t key[CL_KEY_BYTES], all[CL_KEYRING_MAX][CL_KEY_BYTES];
	if (!c || !text || cl_key_parse(text, key) != 0)
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	size_t primary = 0;
	int n = cl_keyring_enabled(c->keyring)
			? cl_keyring_list(c->keyring, all, CL_KEYRING_MAX, &primary)
			: CLOISTER_ESTATE;
	int e = n < 0 ? n : CLOISTER_ENOENT, removed = 0;
	for (int i = 0; n > 0 && i < n; i++)
		if (!memcmp(all[i], key, CL_KEY_BYTES))
			e = (size_t)i == primary ? 0 : CLOISTER_ESTATE;
	for (int i = 0; e == 0 && i < n; i++)
		if ((size_t)i != primary && cl_keyring_remove(c->keyring, all[i]) == 0)
			removed++;
	pthread_mutex_unlock(&c->lock);
	char fp[CL_KEY_FINGERPRINT_LEN + 1];
	if (e == 0)
		node_log(c, CLOISTER_LOG_INFO, "msg=\"keyring changed\" key=%s "
			 "op=retain removed=%d", cl_key_fingerprint(key, fp),
			 removed);
	sodium_memzero(all, sizeof all);
	sodium_memzero(key, sizeof key);
	return e;
}

int cloister_keys_list(cloister_t *c, char (*out)[17], size_t max, size_t *n)
{
	if (!c || !n || (!out && max))
		return CLOISTER_EINVAL;
	uint8_t keys[16][CL_KEY_BYTES];
	size_t primary = 0;
	pthread_mutex_lock(&c->lock);
	int got = cl_keyring_list(c->keyring, keys, 16, &primary);
	pthread_mutex_unlock(&c->lock);
	if (got < 0)
		return got;
	*n = 0;
	/* Primary first, then the others in installation order. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < got; i++)
			if ((pass == 0) == ((size_t)i == primary) && *n < max)
				cl_key_fingerprint(keys[i], out[(*n)++]);
	sodium_memzero(keys, sizeof keys);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

int cloister_counters(cloister_t *c, cloister_counter *out, size_t max,
		      size_t *n)
{
	if (!c || !n || (!out && max))
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	const cl_swim_stats *st = cl_swim_get_stats(c->core);
	struct cl_loop_stats ls = {0};
	if (c->loop)
		cl_loop_stats(c->loop, &ls);
	struct cl_messaging_stats ms;
	cl_messaging_stats(c, &ms);
	cloister_counter all[96];
	size_t k = 0;
#define COUNTER(n_, v_) all[k++] = (cloister_counter){n_, (uint64_t)(v_)}
	COUNTER("packets_in", st->packets_in);
	COUNTER("packets_out", st->packets_out);
	COUNTER("bytes_in", st->bytes_in);
	COUNTER("bytes_out", st->bytes_out);
	COUNTER("streams_in", st->streams_in);
	COUNTER("streams_out", st->streams_out);
	COUNTER("probes", st->probes);
	COUNTER("probe_failures", st->probe_fails);
	COUNTER("indirect_probes", st->indirect_probes);
	COUNTER("stream_pings", st->stream_pings);
	COUNTER("stream_ping_rescues", st->stream_ping_rescues);
	COUNTER("suspicions", st->suspicions);
	COUNTER("refutations", st->refutations);
	COUNTER("deaths_declared", st->deaths_declared);
	COUNTER("pushpulls", st->pushpulls);
	COUNTER("checksum_syncs", st->checksum_syncs);
	COUNTER("pushpulls_skipped", st->pushpulls_skipped);
	COUNTER("members_refused", st->members_refused);
	COUNTER("rival_checks", st->rival_checks);
	COUNTER("stale_doubts_answered", st->stale_doubts_answered);
	COUNTER("superseded", st->superseded);
	for (int r = 1; r < CL_DROP__COUNT; r++) {
		static char names[CL_DROP__COUNT][32];
		snprintf(names[r], sizeof names[r], "drops_%s",
			 cl_drop_reason_name((enum cl_drop_reason)r));
		uint64_t v = st->drops[r];
		/* The runtime's drops of sealed packets, by the same reasons. */
		if (r == CL_DROP_AUTH)
			v += ls.drops_auth;
		else if (r == CL_DROP_TRUNCATED)
			v += ls.drops_truncated;
		else if (r == CL_DROP_VERSION)
			v += ls.drops_version;
		else if (r == CL_DROP_UNEXPECTED)
			v += ls.drops_unexpected;
		COUNTER(names[r], v);
	}
	COUNTER("drops_frame", ls.drops_frame);
	COUNTER("drops_plaintext", ls.drops_plaintext);
	COUNTER("drops_recipient", ls.drops_recipient);
	COUNTER("drops_stale", ls.drops_stale);
	COUNTER("drops_replay", ls.drops_replay);
	COUNTER("drops_too_old", ls.drops_too_old);
	COUNTER("connections_refused", ls.conns_refused);
	COUNTER("connections_evicted", ls.conns_evicted);
	COUNTER("connections_deadline", ls.conns_deadline);
	COUNTER("streams_over_budget", ls.over_budget);
	COUNTER("connections_unread", ls.conns_unread);
	COUNTER("connections_stalled", ls.conns_stalled);
	COUNTER("send_errors", ls.send_errors);
	COUNTER("sealed_v1_in", ls.v1_in);
	COUNTER("sealed_v1_out", ls.v1_out);
	COUNTER("user_in", ms.in);
	COUNTER("user_out", ms.out);
	COUNTER("user_in_dropped", ms.in_dropped);
	COUNTER("user_out_refused", ms.out_refused);
	COUNTER("user_in_forged", ms.forged);
	COUNTER("replies_refused", ms.replies_refused);
	COUNTER("multicalls", ms.calls);
	COUNTER("ring_refusals", cl_cluster_ring_refusals(c->cluster));
	COUNTER("calls_deferred", ms.deferred);
	COUNTER("calls_defer_refused", ms.defer_refused);
	COUNTER("calls_deferred_dropped", ms.deferred_dropped);
	COUNTER("health", cl_swim_health(c->core));
	/* A level, not a total: 1 while this node runs plaintext off
	 * loopback because insecure was asked for. */
	COUNTER("insecure", c->insecure);
#undef COUNTER
	pthread_mutex_unlock(&c->lock);
	*n = k < max ? k : max;
	memcpy(out, all, *n * sizeof *out);
	return 0;
}
