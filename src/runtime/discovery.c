/* discovery.c — the resolution thread (see discovery.h). */
#include "discovery.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cloister.h"
#include "runtime/dns.h"

/* The largest DNS message (over TCP, which res_nquery falls back to). */
#define ANSWER_MAX 65535

typedef struct found_peer {
	cl_addr addr;
	const char *node; /* into the spec copy, or "" */
} found_peer;

struct cl_discovery {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	bool stop, refresh, self_free;

	cl_sentry_spec spec;
	cl_usec interval;
	cl_discovery_cb cb;
	void *arg;

	/* Thread-owned from here on. */
	uint64_t round;
	found_peer found[CL_DISCOVERY_MAX_PEERS];
	size_t n_found;
	cl_discovery_status status;
	char detail[CL_DISCOVERY_DETAIL_MAX];
	unsigned failures;
	/* The previous round, for `changed` and `peers_changed`. */
	cl_discovery_status prev_status;
	char prev_detail[CL_DISCOVERY_DETAIL_MAX];
	cl_addr prev_peers[CL_DISCOVERY_MAX_PEERS];
	size_t n_prev;
	/* What the callback sees. */
	cl_addr peers[CL_DISCOVERY_MAX_PEERS];
	const char *nodes[CL_DISCOVERY_MAX_PEERS];

#ifdef __GLIBC__
	struct __res_state res;
#endif
	uint8_t answer[ANSWER_MAX];
	cl_dns_record srv[CL_DISCOVERY_MAX_SRV];
};

const char *cl_discovery_status_name(cl_discovery_status s)
{
	switch (s) {
	case CL_DISCOVERY_OK:
		return "ok";
	case CL_DISCOVERY_NXDOMAIN:
		return "nxdomain";
	case CL_DISCOVERY_TIMEOUT:
		return "timeout";
	case CL_DISCOVERY_ERROR:
		return "error";
	}
	return "?";
}

/* The first failure names the outcome; later ones are only counted, so a
 * round's detail stays short and stable from one retry to the next. */
static void fail(cl_discovery *d, cl_discovery_status st, const char *name,
		 const char *what)
{
	if (d->failures++ == 0) {
		d->status = st;
		snprintf(d->detail, sizeof d->detail, "%s: %s", name, what);
	}
}

static void add(cl_discovery *d, const cl_addr *a, const char *node)
{
	if (d->n_found < CL_DISCOVERY_MAX_PEERS)
		d->found[d->n_found++] = (found_peer){*a, node};
}

/* getaddrinfo's addresses for name, each at port. */
static void resolve_name(cl_discovery *d, const char *name, uint16_t port,
			 const char *node)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		switch (rc) {
		case EAI_NONAME:
			fail(d, CL_DISCOVERY_NXDOMAIN, name,
			     "no such name or no addresses");
			break;
		case EAI_AGAIN:
			fail(d, CL_DISCOVERY_TIMEOUT, name,
			     "temporary failure: no answer in time, or the "
			     "server failed or refused");
			break;
		case EAI_SYSTEM:
			fail(d, CL_DISCOVERY_ERROR, name, strerror(errno));
			break;
		default:
			fail(d, CL_DISCOVERY_ERROR, name, gai_strerror(rc));
			break;
		}
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		cl_addr a = {.port = port};
		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			const struct sockaddr_in *sin =
				(const struct sockaddr_in *)ai->ai_addr;
			a.family = CL_AF_INET4;
			memcpy(a.ip, &sin->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6 &&
			   ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *sin6 =
				(const struct sockaddr_in6 *)ai->ai_addr;
			a.family = CL_AF_INET6;
			memcpy(a.ip, &sin6->sin6_addr, 16);
		} else {
			continue;
		}
		add(d, &a, node);
	}
	freeaddrinfo(res);
}

static void resolve_srv(cl_discovery *d, const char *name)
{
	size_t n = 0;
	int len, rc;

	int herr;
#ifdef __GLIBC__
	/* A fresh resolver state per round picks up resolv.conf changes. */
	memset(&d->res, 0, sizeof d->res);
	if (res_ninit(&d->res) != 0) {
		fail(d, CL_DISCOVERY_ERROR, name,
		     "cannot initialise the resolver");
		return;
	}
	len = res_nquery(&d->res, name, ns_c_in, ns_t_srv, d->answer,
			 (int)sizeof d->answer);
	herr = d->res.res_h_errno;
	res_nclose(&d->res);
#else
	/* musl has no res_n*: its res_query keeps no state (it reads
	 * resolv.conf on every call) and reports through h_errno, which is
	 * thread-local there. */
	len = res_query(name, ns_c_in, ns_t_srv, d->answer,
			(int)sizeof d->answer);
	herr = h_errno;
#endif
	if (len < 0) {
		switch (herr) {
		case HOST_NOT_FOUND:
			fail(d, CL_DISCOVERY_NXDOMAIN, name, "no such name");
			break;
		case NO_DATA:
			fail(d, CL_DISCOVERY_NXDOMAIN, name, "no SRV records");
			break;
		case TRY_AGAIN:
			fail(d, CL_DISCOVERY_TIMEOUT, name,
			     "temporary failure: no answer in time, or the "
			     "server failed or refused");
			break;
		default:
			fail(d, CL_DISCOVERY_ERROR, name,
			     "the name server refused or failed");
			break;
		}
		return;
	}
	/* res_nquery returns the full length even when it did not fit. */
	if ((size_t)len > sizeof d->answer)
		len = (int)sizeof d->answer;
	rc = cl_dns_parse_answer(d->answer, (size_t)len, CL_DNS_T_SRV, d->srv,
				 CL_DISCOVERY_MAX_SRV, &n);
	if (rc == CLOISTER_ENOENT) {
		fail(d, CL_DISCOVERY_NXDOMAIN, name, "no such name");
		return;
	}
	if (rc != 0) {
		fail(d, CL_DISCOVERY_ERROR, name,
		     rc == CLOISTER_EPROTO ? "malformed answer"
					   : "the name server failed");
		return;
	}
	if (n == 0) {
		fail(d, CL_DISCOVERY_NXDOMAIN, name, "no usable SRV records");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (d->srv[i].port != 0)
			resolve_name(d, d->srv[i].target, d->srv[i].port, "");
}

/* Address order, then named entries before unnamed and by name, so the
 * duplicate kept is the same whatever the resolver's order. */
static int found_cmp(const void *pa, const void *pb)
{
	const found_peer *a = pa, *b = pb;
	int c;

	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	c = memcmp(a->addr.ip, b->addr.ip, sizeof a->addr.ip);
	if (c)
		return c;
	if (a->addr.port != b->addr.port)
		return a->addr.port < b->addr.port ? -1 : 1;
	if (!a->node[0] != !b->node[0])
		return a->node[0] ? -1 : 1;
	return strcmp(a->node, b->node);
}

static void resolve_round(cl_discovery *d)
{
	const cl_sentry_spec *s = &d->spec;
	size_t n = 0;

	d->n_found = 0;
	d->failures = 0;
	d->status = CL_DISCOVERY_OK;
	d->detail[0] = '\0';

	switch (s->kind) {
	case CL_SENTRY_NONE:
		break;
	case CL_SENTRY_DNS:
		resolve_name(d, s->name, s->port, "");
		break;
	case CL_SENTRY_SRV:
		resolve_srv(d, s->name);
		break;
	case CL_SENTRY_LIST:
		for (size_t i = 0; i < s->n_peers; i++) {
			const cl_sentry_peer *p = &s->peers[i];
			if (p->host[0])
				resolve_name(d, p->host, p->addr.port, p->node);
			else
				add(d, &p->addr, p->node);
		}
		break;
	}
	if (d->failures > 1) {
		size_t l = strlen(d->detail);
		snprintf(d->detail + l, sizeof d->detail - l, " (and %u more)",
			 d->failures - 1);
	}

	qsort(d->found, d->n_found, sizeof d->found[0], found_cmp);
	for (size_t i = 0; i < d->n_found; i++) {
		if (n && cl_addr_equal(&d->peers[n - 1], &d->found[i].addr))
			continue;
		d->peers[n] = d->found[i].addr;
		d->nodes[n] = d->found[i].node;
		n++;
	}

	cl_discovery_result r = {
		.status = d->status,
		.detail = d->detail,
		.peers = d->peers,
		.nodes = d->nodes,
		.n_peers = n,
		.round = ++d->round,
	};
	r.changed = d->round == 1 || d->status != d->prev_status ||
		    strcmp(d->detail, d->prev_detail) != 0;
	r.peers_changed = d->round == 1 || n != d->n_prev;
	for (size_t i = 0; !r.peers_changed && i < n; i++)
		r.peers_changed = !cl_addr_equal(&d->peers[i], &d->prev_peers[i]);
	d->prev_status = d->status;
	memcpy(d->prev_detail, d->detail, sizeof d->detail);
	memcpy(d->prev_peers, d->peers, n * sizeof d->peers[0]);
	d->n_prev = n;

	pthread_mutex_lock(&d->mu);
	bool stopping = d->stop;
	pthread_mutex_unlock(&d->mu);
	if (!stopping)
		d->cb(d->arg, &r);
}

static void destroy(cl_discovery *d)
{
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	cl_sentry_spec_free(&d->spec);
	free(d);
}

static struct timespec deadline_after(cl_usec us)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(us / CL_SEC);
	t.tv_nsec += (long)(us % CL_SEC) * 1000;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *run(void *arg)
{
	cl_discovery *d = arg;
	bool self_free;

	for (;;) {
		resolve_round(d);
		struct timespec until = deadline_after(d->interval);
		pthread_mutex_lock(&d->mu);
		while (!d->stop && !d->refresh &&
		       pthread_cond_timedwait(&d->cv, &d->mu, &until) !=
			       ETIMEDOUT)
			;
		bool stop = d->stop;
		d->refresh = false;
		self_free = d->self_free;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			break;
	}
	if (self_free) {
		pthread_detach(pthread_self());
		destroy(d);
	}
	return NULL;
}

cl_discovery *cl_discovery_new(const cl_sentry_spec *spec, cl_usec interval,
			       cl_discovery_cb on_result, void *arg)
{
	pthread_condattr_t ca;
	cl_discovery *d;

	if (!spec || !on_result || interval <= 0)
		return NULL;
	d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	if (cl_sentry_spec_copy(&d->spec, spec) != 0) {
		free(d);
		return NULL;
	}
	d->interval = interval;
	d->cb = on_result;
	d->arg = arg;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		destroy(d);
		return NULL;
	}
	return d;
}

void cl_discovery_refresh(cl_discovery *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->refresh = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void cl_discovery_free(cl_discovery *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	if (pthread_equal(pthread_self(), d->thread))
		d->self_free = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->self_free)
		return;
	pthread_join(d->thread, NULL);
	destroy(d);
}
