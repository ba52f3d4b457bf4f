/*
 * loop.c — the built-in runtime (see loop.h for what crosses which wire).
 */
#define _GNU_SOURCE /* recvmmsg */
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "fault.h"
#include "keyring.h"
#include "messaging.h"
#include "replay.h"

/* Datagrams read per wake-up: enough to drain a busy second, few enough
 * that a flood still lets timers and other sockets run in between. */
#define UDP_BURST 256
/* A connection with nothing to say for this long is closed. */
#define IDLE_SECONDS 30

struct conn {
	cl_loop *loop;
	struct bufferevent *bev;
	cl_addr peer;
	bool outbound;
	struct conn *prev, *next;
};

struct cl_loop {
	cloister_t *node;
	struct event_base *base;
	evutil_socket_t udp;
	struct evconnlistener *listener;
	struct event *udp_ev, *timer, *kick_ev, *join_ev;
	struct conn *conns;
	size_t n_conns, max_conns;
	/* The connection whose frame is being fed: replies go back on it. */
	struct conn *reply_conn;
	bool tcp_only;
	pthread_t thread;
	bool running;
	/* Joins asked for from other threads, run on the loop. */
	pthread_mutex_t join_lock;
	cl_addr pending_join[64];
	size_t n_pending_join;
	bool pending_leave;
	/* Written on the loop thread, read by any thread (metrics): atomic,
	 * since accepts and connection errors happen outside the node lock. */
	struct {
		_Atomic uint64_t drops_auth, drops_frame, conns_refused;
		_Atomic uint64_t send_errors, streams_open, discovery_runs;
		_Atomic uint64_t drops_replay;
	} stats;
#ifdef CLOISTER_FAULT_INJECTION
	struct cl_fault *fault; /* test builds only: see fault.h */
#endif
	/* Nonces of recently accepted sealed packets (replay.h). */
	cl_replay replay;
	uint8_t rx[65536];
	uint8_t plain[65536];
	uint8_t sealed[65536 + 64];
};

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

static socklen_t to_sockaddr(const cl_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == CL_AF_INET4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return sizeof *s4;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->port);
	memcpy(&s6->sin6_addr, a->ip, 16);
	return sizeof *s6;
}

static bool from_sockaddr(const struct sockaddr *sa, cl_addr *a)
{
	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = CL_AF_INET4;
		a->port = ntohs(s4->sin_port);
		memcpy(a->ip, &s4->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		/* A v4 peer on a dual-stack socket: keep it a v4 address, so
		 * it compares equal to what the peer advertises. */
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0,
						   0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(&s6->sin6_addr, mapped, 12)) {
			a->family = CL_AF_INET4;
			memcpy(a->ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = CL_AF_INET6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
		a->port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

static cl_usec now_us(void)
{
	return cloister_now_us();
}

/* ------------------------------------------------------------------ */
/* Feeding the node                                                    */
/* ------------------------------------------------------------------ */

/* Opens (if keyed) and feeds one packet; returns false if it was dropped
 * for authentication. */
static void feed(cl_loop *l, const cl_addr *from, const uint8_t *buf,
		 size_t len, bool stream, struct conn *via)
{
	cloister_t *c = l->node;
	pthread_mutex_lock(&c->lock);
	const uint8_t *pkt = buf;
	size_t plen = len;
	uint8_t *big = NULL;
	if (cl_keyring_enabled(c->keyring)) {
		/* A replay is dropped before any cryptography (replay.h). */
		if (cl_replay_seen(&l->replay, buf, len)) {
			l->stats.drops_replay++;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		uint8_t *out = l->plain;
		size_t cap = sizeof l->plain;
		if (len > cap) {
			big = malloc(len);
			out = big;
			cap = len;
		}
		int n = out ? cl_keyring_open(c->keyring, buf, len, out, cap)
			    : CLOISTER_ENOMEM;
		if (n < 0) {
			l->stats.drops_auth++;
			free(big);
			pthread_mutex_unlock(&c->lock);
			return;
		}
		cl_replay_note(&l->replay, buf, len);
		pkt = out;
		plen = (size_t)n;
	}
	l->reply_conn = via;
	cl_swim_feed(c->core, now_us(), from, pkt, plen, stream || l->tcp_only);
	l->reply_conn = NULL;
	free(big);
	node_finish_step(c);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static void conn_free(struct conn *k)
{
	cl_loop *l = k->loop;
	if (k->prev)
		k->prev->next = k->next;
	else
		l->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	l->n_conns--;
	if (l->reply_conn == k)
		l->reply_conn = NULL;
	bufferevent_free(k->bev);
	free(k);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	cl_loop *l = k->loop;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail < 4)
			return;
		uint8_t hdr[4];
		evbuffer_copyout(in, hdr, 4);
		uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
			     (uint32_t)hdr[2] << 8 | hdr[3];
		if (n == 0 || n > CL_WIRE_STREAM_MAX + 64) {
			l->stats.drops_frame++;
			conn_free(k);
			return;
		}
		if (avail < 4 + (size_t)n)
			return;
		evbuffer_drain(in, 4);
		uint8_t *frame = evbuffer_pullup(in, n);
		if (!frame) {
			conn_free(k);
			return;
		}
		feed(l, &k->peer, frame, n, true, k);
		/* feed() may have closed k through a reply error: check. */
		bool alive = false;
		for (struct conn *x = l->conns; x; x = x->next)
			alive |= x == k;
		if (!alive)
			return;
		evbuffer_drain(in, n);
	}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_ERROR)
		k->loop->stats.send_errors += k->outbound;
	conn_free(k);
}

static struct conn *conn_new(cl_loop *l, evutil_socket_t fd,
			     const cl_addr *peer, bool outbound)
{
	if (l->n_conns >= l->max_conns) {
		l->stats.conns_refused++;
		if (fd >= 0)
			evutil_closesocket(fd);
		return NULL;
	}
	struct conn *k = calloc(1, sizeof *k);
	if (!k)
		goto fail;
	/* Not THREADSAFE on purpose: every protocol step runs on the loop
	 * thread (other threads post commands), so a bufferevent's lock is
	 * never needed, and holding one across a step would invert the
	 * order with the node's lock. */
	k->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!k->bev)
		goto fail;
	k->loop = l;
	k->peer = *peer;
	k->outbound = outbound;
	struct timeval idle = {IDLE_SECONDS, 0};
	bufferevent_set_timeouts(k->bev, &idle, &idle);
	bufferevent_setcb(k->bev, conn_read, NULL, conn_event, k);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
	k->next = l->conns;
	if (l->conns)
		l->conns->prev = k;
	l->conns = k;
	l->n_conns++;
	l->stats.streams_open++;
	return k;
fail:
	free(k);
	if (fd >= 0)
		evutil_closesocket(fd);
	return NULL;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	cl_loop *l = arg;
	cl_addr peer;
	if (!from_sockaddr(sa, &peer)) {
		evutil_closesocket(fd);
		return;
	}
	conn_new(l, fd, &peer, false);
}

static struct conn *conn_to(cl_loop *l, const cl_addr *to)
{
	for (struct conn *k = l->conns; k; k = k->next)
		if (k->outbound && cl_addr_equal(&k->peer, to))
			return k;
	struct conn *k = conn_new(l, -1, to, true);
	if (!k)
		return NULL;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(to, &ss);
	if (bufferevent_socket_connect(k->bev, (struct sockaddr *)&ss,
				       (int)sl) != 0) {
		l->stats.send_errors++;
		conn_free(k);
		return NULL;
	}
	return k;
}

static void conn_write(struct conn *k, const uint8_t *buf, size_t len)
{
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			  (uint8_t)(len >> 8), (uint8_t)len};
	bufferevent_write(k->bev, hdr, 4);
	bufferevent_write(k->bev, buf, len);
}

#ifdef CLOISTER_FAULT_INJECTION
/* A stream frame the fault hook held (test builds, fault.h): written if
 * its connection is still open to the same peer, else lost as a reset
 * would lose it. */
struct fault_tag {
	struct conn *k;
	cl_addr peer;
	bool outbound;
};
static void fault_stream_fire(void *arg, const uint8_t *buf, size_t len,
			      const void *tag)
{
	cl_loop *l = arg;
	struct fault_tag t;
	memcpy(&t, tag, sizeof t);
	for (struct conn *x = l->conns; x; x = x->next)
		if (x == t.k && x->outbound == t.outbound &&
		    cl_addr_equal(&x->peer, &t.peer)) {
			conn_write(x, buf, len);
			return;
		}
}
#endif

/* ------------------------------------------------------------------ */
/* Sending (called under the node's lock)                              */
/* ------------------------------------------------------------------ */

void cl_loop_send(cl_loop *l, const cl_addr *to, uint64_t to_id,
		  const uint8_t *buf, size_t len, bool stream)
{
	cloister_t *c = l->node;
	const uint8_t *out = buf;
	size_t olen = len;
	uint8_t *big = NULL;
	if (cl_keyring_enabled(c->keyring)) {
		uint8_t *dst = l->sealed;
		size_t cap = sizeof l->sealed;
		if (len + CL_KEYRING_OVERHEAD > cap) {
			cap = len + CL_KEYRING_OVERHEAD;
			big = malloc(cap);
			dst = big;
		}
		int n = dst ? cl_keyring_seal(c->keyring, buf, len, dst, cap)
			    : CLOISTER_ENOMEM;
		if (n < 0) {
			free(big);
			l->stats.send_errors++;
			return;
		}
		out = dst;
		olen = (size_t)n;
	}
	if (stream || l->tcp_only) {
		struct conn *k = l->reply_conn &&
					 cl_addr_equal(&l->reply_conn->peer, to)
				 ? l->reply_conn
				 : conn_to(l, to);
#ifdef CLOISTER_FAULT_INJECTION
		struct fault_tag t = {k, k ? k->peer : *to, k && k->outbound};
		if (k && cl_fault_defer(l->fault, out, olen, &t, sizeof t,
					fault_stream_fire, l))
			k = NULL;
#endif
		if (k)
			conn_write(k, out, olen);
	} else if (to->family == CL_AF_INET4 || to->family == CL_AF_INET6) {
		struct sockaddr_storage ss;
		socklen_t sl = to_sockaddr(to, &ss);
		bool held = false;
#ifdef CLOISTER_FAULT_INJECTION
		held = cl_fault_sendto(l->fault, out, olen,
				       (struct sockaddr *)&ss, sl);
#endif
		if (!held &&
		    sendto(l->udp, out, olen, 0, (struct sockaddr *)&ss, sl) < 0)
			l->stats.send_errors++;
	}
	free(big);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* Datagrams per recvmmsg(): under a flood the system call is most of
 * what a rejected datagram costs, so batching lets the node keep up with
 * more of it (and lose fewer real probes in a full socket buffer). */
#define UDP_BATCH 32

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	cl_loop *l = arg;
	/* rx is cut into slots of the MTU plus the keyring's overhead: a
	 * longer datagram is one the core would drop anyway (truncated, it
	 * fails authentication or parsing and is counted). */
	size_t slot = l->node->cfg_mtu + 64;
	if (slot > sizeof l->rx)
		slot = sizeof l->rx;
	unsigned batch = (unsigned)(sizeof l->rx / slot);
	if (batch > UDP_BATCH)
		batch = UDP_BATCH;
	if (batch == 0)
		batch = 1;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage ss[UDP_BATCH];
	for (int done = 0; done < UDP_BURST;) {
		for (unsigned i = 0; i < batch; i++) {
			iov[i].iov_base = l->rx + i * slot;
			iov[i].iov_len = slot;
			memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
			msgs[i].msg_hdr.msg_name = &ss[i];
			msgs[i].msg_hdr.msg_namelen = sizeof ss[i];
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, msgs, batch, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			cl_addr from;
			if (from_sockaddr((struct sockaddr *)&ss[i], &from))
				feed(l, &from, iov[i].iov_base, msgs[i].msg_len,
				     false, NULL);
		}
		done += n;
		if ((unsigned)n < batch)
			return;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	cl_loop *l = arg;
	cloister_t *c = l->node;
	pthread_mutex_lock(&c->lock);
	cl_swim_tick(c->core, now_us());
	node_finish_step(c);
}

void cl_loop_rearm(cl_loop *l)
{
	cl_usec next = cl_swim_next_deadline(l->node->core);
	cl_usec wait = next - now_us();
	if (wait < 0)
		wait = 0;
	if (wait > 60 * CL_SEC)
		wait = 60 * CL_SEC;
	struct timeval tv = {(time_t)(wait / CL_SEC),
			     (suseconds_t)(wait % CL_SEC)};
	evtimer_add(l->timer, &tv);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	cl_messaging_drain(((cl_loop *)arg)->node);
}

void cl_loop_kick(cl_loop *l)
{
	event_active(l->kick_ev, EV_READ, 0);
}

static void on_join(evutil_socket_t fd, short what, void *arg)
{
	cl_loop *l = arg;
	cl_addr addrs[64];
	pthread_mutex_lock(&l->join_lock);
	size_t n = l->n_pending_join;
	memcpy(addrs, l->pending_join, n * sizeof addrs[0]);
	l->n_pending_join = 0;
	bool leave = l->pending_leave;
	l->pending_leave = false;
	pthread_mutex_unlock(&l->join_lock);
	cloister_t *c = l->node;
	pthread_mutex_lock(&c->lock);
	if (n > 0)
		cl_swim_join(c->core, now_us(), addrs, n);
	if (leave) {
		cl_cluster_stop(c->cluster);
		cl_swim_leave(c->core, now_us());
	}
	node_finish_step(c);
}

void cl_loop_leave(cl_loop *l)
{
	pthread_mutex_lock(&l->join_lock);
	l->pending_leave = true;
	pthread_mutex_unlock(&l->join_lock);
	event_active(l->join_ev, EV_READ, 0);
}

void cl_loop_join(cl_loop *l, const cl_addr *addrs, size_t n)
{
	pthread_mutex_lock(&l->join_lock);
	for (size_t i = 0; i < n && l->n_pending_join < 64; i++)
		l->pending_join[l->n_pending_join++] = addrs[i];
	pthread_mutex_unlock(&l->join_lock);
	event_active(l->join_ev, EV_READ, 0);
}

void cl_loop_stats(const cl_loop *l, struct cl_loop_stats *out)
{
	out->drops_auth = atomic_load(&l->stats.drops_auth);
	out->drops_frame = atomic_load(&l->stats.drops_frame);
	out->conns_refused = atomic_load(&l->stats.conns_refused);
	out->send_errors = atomic_load(&l->stats.send_errors);
	out->streams_open = atomic_load(&l->stats.streams_open);
	out->discovery_runs = atomic_load(&l->stats.discovery_runs);
	out->drops_replay = atomic_load(&l->stats.drops_replay);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_setup(void)
{
	evthread_use_pthreads();
}

cl_loop *cl_loop_new(cloister_t *c, int *err)
{
	pthread_once(&evthread_once, evthread_setup);
	int e = CLOISTER_ENOMEM;
	cl_loop *l = calloc(1, sizeof *l);
	if (!l)
		goto fail;
	l->node = c;
	l->udp = -1;
	l->tcp_only = c->cfg.tcp_only;
	l->max_conns = c->cfg.max_connections ? c->cfg.max_connections : 256;
	pthread_mutex_init(&l->join_lock, NULL);
	l->base = event_base_new();
	if (!l->base)
		goto fail;
	/* Two priorities: membership first; the application queue drains in
	 * what time is left (priority 1). */
	event_base_priority_init(l->base, 2);

	const cl_addr *bind_addr = c->cfg.has_bind ? &c->cfg.bind : &c->cfg.addr;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(bind_addr, &ss);
	e = CLOISTER_EIO;
	if (!l->tcp_only) {
		l->udp = socket(ss.ss_family, SOCK_DGRAM, 0);
		if (l->udp < 0)
			goto fail;
		evutil_make_socket_nonblocking(l->udp);
		evutil_make_socket_closeonexec(l->udp);
		int one = 1;
		setsockopt(l->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		int bufsize = 4 << 20;
		setsockopt(l->udp, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
		if (bind(l->udp, (struct sockaddr *)&ss, sl) != 0) {
			node_log(c, CLOISTER_LOG_ERROR,
				 "msg=\"cannot bind UDP\" error=\"%s\"",
				 strerror(errno));
			goto fail;
		}
		l->udp_ev = event_new(l->base, l->udp, EV_READ | EV_PERSIST,
				      on_udp, l);
		if (!l->udp_ev)
			goto fail;
		event_priority_set(l->udp_ev, 0);
		event_add(l->udp_ev, NULL);
#ifdef CLOISTER_FAULT_INJECTION
		l->fault = cl_fault_new(l->base, l->udp);
#endif
	}
	l->listener = evconnlistener_new_bind(
		l->base, on_accept, l,
		LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
		64, (struct sockaddr *)&ss, (int)sl);
	if (!l->listener) {
		node_log(c, CLOISTER_LOG_ERROR,
			 "msg=\"cannot listen on TCP\" error=\"%s\"",
			 strerror(errno));
		goto fail;
	}
	e = CLOISTER_ENOMEM;
	l->timer = evtimer_new(l->base, on_timer, l);
	l->kick_ev = event_new(l->base, -1, 0, on_kick, l);
	l->join_ev = event_new(l->base, -1, 0, on_join, l);
	if (!l->timer || !l->kick_ev || !l->join_ev)
		goto fail;
	event_priority_set(l->timer, 0);
	event_priority_set(l->join_ev, 0);
	event_priority_set(l->kick_ev, 1);
	return l;
fail:
	cl_loop_free(l);
	if (err)
		*err = e;
	return NULL;
}

static void *loop_main(void *arg)
{
	cl_loop *l = arg;
	event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int cl_loop_start(cl_loop *l)
{
	cloister_t *c = l->node;
	pthread_mutex_lock(&c->lock);
	cl_loop_rearm(l);
	pthread_mutex_unlock(&c->lock);
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
		return CLOISTER_ENOMEM;
	l->running = true;
	return 0;
}

void cl_loop_free(cl_loop *l)
{
	if (!l)
		return;
	if (l->running) {
		event_base_loopbreak(l->base);
		pthread_join(l->thread, NULL);
	}
	while (l->conns)
		conn_free(l->conns);
	if (l->listener)
		evconnlistener_free(l->listener);
	if (l->udp_ev)
		event_free(l->udp_ev);
	if (l->timer)
		event_free(l->timer);
	if (l->kick_ev)
		event_free(l->kick_ev);
	if (l->join_ev)
		event_free(l->join_ev);
#ifdef CLOISTER_FAULT_INJECTION
	cl_fault_free(l->fault);
#endif
	if (l->udp >= 0)
		evutil_closesocket(l->udp);
	if (l->base)
		event_base_free(l->base);
	pthread_mutex_destroy(&l->join_lock);
	free(l);
}
