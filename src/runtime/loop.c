/*
 * loop.c — the built-in runtime (see loop.h for what crosses which wire
 * and what a peer can hold).
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "fault.h"
#include "frame.h"
#include "keyring.h"
#include "messaging.h"
#include "replay.h"

/* Datagrams read per wake-up: enough to drain a busy second, few enough
 * that a flood still lets timers and other sockets run in between. */
#define UDP_BURST 256
/* A connection with nothing to say between frames for this long is
 * closed. */
#define IDLE_SECONDS 30
/* From a frame's first byte to its head authenticated (keyed), or to its
 * first 64 KiB (plaintext); also from an inbound connection's accept to
 * its first authenticated head.  64 KiB in 5 s is 105 kbit/s. */
#define HEAD_DEADLINE_US (5 * CL_SEC)
/* From a frame's first byte to its last. */
#define FRAME_DEADLINE_US (30 * CL_SEC)
/* Packets being assembled, across every connection. */
#define ASSEMBLY_BUDGET (4 * (size_t)CL_WIRE_STREAM_MAX)
/* ... and across the connections of one host: one full frame.  A member
 * sends one large state at a time; without this share one host, sending
 * four frames of all but their last bytes, held the whole budget for the
 * 30 s frame deadline and every other member's large push-pull was
 * refused meanwhile (test_assembly_hold). */
#define ASSEMBLY_HOST_SHARE ((size_t)CL_WIRE_STREAM_MAX)
/* A frame in progress whose sender has sent nothing for this long is
 * closed when a frame that is arriving needs its room in the budget: four
 * hosts' frames sent but for their last bytes held all 64 MiB until the
 * 30 s frame deadline (test_assembly_hold).  A second is many round trips
 * even on a WAN, and a peer sending steadily, however slowly, is never
 * taken for stalled. */
#define ASSEMBLY_STALL_US CL_SEC
/* Output a peer may leave unread before its connection is closed. */
#define OUTPUT_MAX (2 * (size_t)CL_WIRE_STREAM_MAX + 2 * CL_FRAME_UNIT)
/* ... and all peers together: without it, 16 source addresses of a key
 * holder, 16 streams each, could leave 256 x OUTPUT_MAX (8 GiB) unread.
 * Four full frames, as for the packets being assembled.  Only a peer
 * that has taken none of its output for OUTPUT_STALL_US is cut for it: a
 * seed answering a burst of joins of a large cluster may queue more than
 * that for an instant, and its readers are taking it in. */
#define OUTPUT_BUDGET (4 * (size_t)CL_WIRE_STREAM_MAX)
#define OUTPUT_STALL_US CL_SEC
#define PER_ADDRESS_DEFAULT 16
/* How long an authenticated inbound connection must have been quiet
 * before a newcomer to a full pool may take its place (inbound_room).
 * Without this, the streams that answered joins held the pool for their
 * whole idle time: a seed took max_connections joins per IDLE_SECONDS
 * and refused the rest, and 1,000 agents against the default 256 never
 * converged.  One second is past any exchange's round trip (a push-pull
 * is one frame each way; a WAN round trip is well under a second), so
 * the peer has read our answer before we close: closing while its next
 * bytes are unread would reset the connection and could lose what we
 * sent.  Shorter would also let connects churn streams that are about to
 * be used again; longer only delays joiners in a storm. */
#define IDLE_EVICT_MIN_US (1 * CL_SEC)
/* cl_frame_rx_feed() from the admit hook: refused and already counted. */
#define ADMIT_REFUSED (-1000)

struct conn {
	cl_loop *loop;
	struct bufferevent *bev;
	struct event *deadline;
	cl_addr peer;
	bool outbound;
	/* Authenticated a frame head (keyed) or delivered a frame (plaintext):
	 * evicted for newcomers only once quiet (inbound_room). */
	bool proven;
	/* The sender id of the last head that authenticated here: replies on
	 * this connection are bound to it. */
	uint64_t peer_id;
	/* The peer sent a protocol-1 frame here: replies go back in it. */
	bool v1;
	cl_usec accepted_at, frame_start;
	/* Last byte read: a frame whose sender went quiet may give up its
	 * room in the assembly budget (assembly_room). */
	cl_usec read_at;
	/* Last byte read, written or queued: how long it has been quiet,
	 * for eviction (inbound_room). */
	cl_usec last_active;
	/* When its peer last took any of its output (or it was made): a peer
	 * that stopped reading stops moving this (output_within_budget), one
	 * reading a large state slowly does not. */
	cl_usec taken_at;
	cl_frame_rx rx;
	/* Its unread answers passed OUTPUT_MAX while one of its packets was
	 * being read: nothing more is written to it, and it is closed once
	 * that packet is read (its bytes live in rx). */
	bool cut;
	struct conn *prev, *next;
};

struct cl_loop {
	cloister_t *node;
	struct event_base *base;
	evutil_socket_t udp;
	struct evconnlistener *listener;
	struct event *udp_ev, *timer, *kick_ev, *join_ev;
	struct conn *conns;
	size_t n_in, n_out, max_in, max_out, max_per_addr;
	/* Outbound streams leave from the address we listen on (port 0)
	 * when that is a specific address: peers cap connections per source
	 * address, and the kernel's own pick (127.0.0.1 for every loopback
	 * peer, the primary address on a multi-homed host) would lump
	 * together nodes that merely share a machine. */
	bool bind_out;
	cl_addr out_src;
	/* The connection whose frame is being fed: replies go back on it. */
	struct conn *reply_conn;
	bool tcp_only;
	/* protocol_min = 1: sealed v1 opened, and spoken to peers of
	 * protocol 1 (core/wire.h, keyring.h).  Off by default. */
	bool accept_v1;
	/* The sealed version last authenticated from each of the latest
	 * gossip addresses, for sends the core cannot name a member for
	 * (a seed being joined, a member not known yet). */
	struct {
		cl_addr addr;
		uint8_t version;
	} heard[64];
	unsigned heard_next;
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
		_Atomic uint64_t drops_auth, drops_frame, drops_truncated;
		_Atomic uint64_t drops_version, drops_plaintext, drops_unexpected;
		_Atomic uint64_t drops_recipient, drops_stale, drops_replay;
		_Atomic uint64_t drops_too_old, conns_refused, conns_evicted;
		_Atomic uint64_t conns_deadline, over_budget, conns_unread;
		_Atomic uint64_t conns_stalled;
		_Atomic uint64_t send_errors, streams_open, discovery_runs;
		_Atomic uint64_t v1_in, v1_out;
	} stats;
#ifdef CLOISTER_FAULT_INJECTION
	struct cl_fault *fault; /* test builds only: see fault.h */
#endif
	/* Sealed packets' binding (keyring.h): our id, our clock, and the
	 * windows of those who send to us (replay.h). */
	uint64_t self_id;
	uint64_t last_time_us;
	cl_replay *replay;
	/* Logged at most once a minute each. */
	cl_usec warned_version, warned_stale;
	size_t assembling; /* bytes of frames' packets, all connections */
	uint8_t rx[65536];
	uint8_t plain[65536];
	uint8_t sealed[65536 + 64];
	/* Where frames are opened: a one-unit packet is read by the core
	 * straight from here. */
	uint8_t scratch[CL_FRAME_SCRATCH];
	/* Where frames are sealed.  Not the same buffer: the core answers
	 * while it reads (a stream ping's ack goes out before the gossip
	 * after the ping is merged), and an answer sealed over the packet
	 * turned the rest of it into ciphertext, names and all. */
	uint8_t tx_scratch[CL_FRAME_SCRATCH];
};

/* ------------------------------------------------------------------ */
/* Addresses and clocks                                                */
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

static bool same_host(const cl_addr *a, const cl_addr *b)
{
	return a->family == b->family && !memcmp(a->ip, b->ip, 16);
}

static cl_usec now_us(void)
{
	return cloister_now_us();
}

/* The wall clock, in microseconds since the epoch: sealed packets carry
 * it, so that peers can bound how old a capture may be. */
static uint64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The time sealed into our next packet: the wall clock, but strictly
 * increasing, so that it is also a counter (a clock stepped back runs
 * ahead of itself until it catches up). */
static uint64_t next_time(cl_loop *l)
{
	uint64_t t = wall_us();
	if (t <= l->last_time_us)
		t = l->last_time_us + 1;
	l->last_time_us = t;
	return t;
}

/* ------------------------------------------------------------------ */
/* Checking a sealed header (node lock held)                           */
/* ------------------------------------------------------------------ */

/* Counts a refusal; true if the packet may go on to the AEAD. */
static bool admit(cl_loop *l, const cl_seal_info *info)
{
	uint64_t now = wall_us();
	switch (cl_replay_check(l->replay, info, l->self_id, now)) {
	case CL_REPLAY_OK:
		return true;
	case CL_REPLAY_RECIPIENT:
		l->stats.drops_recipient++;
		return false;
	case CL_REPLAY_STALE: {
		l->stats.drops_stale++;
		cl_usec mono = now_us();
		if (!l->warned_stale || mono - l->warned_stale > 60 * CL_SEC) {
			l->warned_stale = mono ? mono : 1;
			double skew = ((double)info->time_us - (double)now) / 1e6;
			node_log(l->node, CLOISTER_LOG_WARN,
				 "msg=\"dropping sealed packets whose time is "
				 "too far from our clock: check that every host "
				 "runs NTP\" skew_s=%.1f allowed_s=%llu",
				 skew,
				 (unsigned long long)(CL_REPLAY_SKEW_US / 1000000u));
		}
		return false;
	}
	case CL_REPLAY_SEEN:
		l->stats.drops_replay++;
		return false;
	default:
		l->stats.drops_too_old++;
		return false;
	}
}

static int admit_frame(void *arg, const cl_seal_info *info)
{
	return admit(arg, info) ? 0 : ADMIT_REFUSED;
}

static void accepted_frame(void *arg, const cl_seal_info *info)
{
	cl_loop *l = arg;
	cl_replay_commit(l->replay, info, wall_us());
}

static void conn_free(struct conn *k);

/* Makes room for n more bytes in the assembly budget by closing frames
 * in progress whose sender has sent nothing for ASSEMBLY_STALL_US, those
 * holding the most first (never k, the connection asking); true once n
 * fits. */
static bool assembly_room(cl_loop *l, const struct conn *k, size_t n)
{
	cl_usec now = now_us();
	while (n > ASSEMBLY_BUDGET - l->assembling) {
		struct conn *worst = NULL;
		for (struct conn *x = l->conns; x; x = x->next)
			if (x != k && x != l->reply_conn && x->rx.charged &&
			    now - x->read_at >= ASSEMBLY_STALL_US &&
			    (!worst || x->rx.charged > worst->rx.charged))
				worst = x;
		if (!worst)
			return false;
		l->stats.conns_stalled++;
		conn_free(worst);
	}
	return true;
}

/* share_ok: whether the frames of k's host, k's included, may hold n
 * bytes more, and the budget has (or can be given) room for them (a pass
 * over the connections, at most twice max_connections; called only when
 * a packet's buffer grows, which doubles it). */
static bool assembly_ok(void *arg, size_t n)
{
	const struct conn *k = arg;
	size_t held = 0;
	for (const struct conn *x = k->loop->conns; x; x = x->next)
		if (same_host(&x->peer, &k->peer))
			held += x->rx.charged;
	if (n > ASSEMBLY_HOST_SHARE || held > ASSEMBLY_HOST_SHARE - n)
		return false;
	return assembly_room(k->loop, k, n);
}

static cl_frame_ctx frame_ctx(cl_loop *l)
{
	return (cl_frame_ctx){.keyring = l->node->keyring,
			      .max_packet = CL_WIRE_STREAM_MAX,
			      .budget_used = &l->assembling,
			      .budget_max = ASSEMBLY_BUDGET,
			      .admit = admit_frame,
			      .accepted = accepted_frame,
			      .arg = l,
			      .accept_v1 = l->accept_v1,
			      .scratch = l->scratch};
}

/* A sealed datagram that did not peek: why, counted. */
static void count_malformed(cl_loop *l, const uint8_t *buf, size_t len)
{
	if (len > 0 && buf[0] == CL_WIRE_MAGIC0) {
		l->stats.drops_plaintext++;
	} else if (len < CL_KEYRING_OVERHEAD) {
		l->stats.drops_truncated++;
	} else {
		l->stats.drops_version++;
		cl_usec mono = now_us();
		if (!l->warned_version ||
		    mono - l->warned_version > 60 * CL_SEC) {
			l->warned_version = mono ? mono : 1;
			node_log(l->node, CLOISTER_LOG_WARN,
				 "msg=\"dropping sealed packets of another "
				 "format (version %u, ours %u): does a peer run "
				 "another cloister release?\"",
				 buf[0], CL_KEYRING_VERSION);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Protocol versions (core/wire.h, CL_PROTO_*)                          */
/* ------------------------------------------------------------------ */

static void note_version(cl_loop *l, const cl_addr *from, uint8_t version)
{
	if (!l->accept_v1)
		return;
	size_t n = sizeof l->heard / sizeof l->heard[0];
	for (size_t i = 0; i < n; i++)
		if (l->heard[i].version && cl_addr_equal(&l->heard[i].addr, from)) {
			l->heard[i].version = version;
			return;
		}
	l->heard[l->heard_next].addr = *from;
	l->heard[l->heard_next].version = version;
	l->heard_next = (l->heard_next + 1) % (unsigned)n;
}

/* Whether a packet to `to` goes out sealed in version 1: only with
 * accept_v1, to a member whose advertised range (or silence) makes 1 the
 * highest version both speak, to the connection a v1 frame came in on,
 * or, for a destination the core names no member for, to an address
 * last heard speaking v1. */
static bool speak_v1(cl_loop *l, const cl_addr *to, uint64_t to_id,
		     const struct conn *reply)
{
	if (!l->accept_v1)
		return false;
	if (reply)
		return reply->v1;
	uint8_t v = to_id ? cl_swim_peer_proto(l->node->core, to_id) : 0;
	if (v)
		return v == CL_PROTO_V1;
	for (size_t i = 0; i < sizeof l->heard / sizeof l->heard[0]; i++)
		if (l->heard[i].version && cl_addr_equal(&l->heard[i].addr, to))
			return l->heard[i].version == CL_KEYRING_V1;
	return false;
}

/* ------------------------------------------------------------------ */
/* Feeding the node                                                    */
/* ------------------------------------------------------------------ */

static void conn_free(struct conn *k);
static bool conn_alive(const cl_loop *l, const struct conn *k);

/* Hands one packet to the core (node lock held; released on return).
 * sender: the authenticated sender id, when sealed. */
static void deliver(cl_loop *l, const cl_addr *from, const uint8_t *pkt,
		    size_t len, bool stream, struct conn *via, bool sealed,
		    uint64_t sender)
{
	cloister_t *c = l->node;
	c->rx_authenticated = sealed;
	c->rx_sender = sender;
	l->reply_conn = via;
	cl_swim_feed(c->core, now_us(), from, pkt, len, stream || l->tcp_only);
	l->reply_conn = NULL;
	c->rx_authenticated = false;
	c->rx_sender = 0;
	node_finish_step(c);
	if (via && via->cut && conn_alive(l, via))
		conn_free(via);
}

/* One datagram: checked, opened (if keyed) and fed. */
static void feed_datagram(cl_loop *l, const cl_addr *from, const uint8_t *buf,
			  size_t len)
{
	cloister_t *c = l->node;
	pthread_mutex_lock(&c->lock);
	if (!cl_keyring_enabled(c->keyring)) {
		deliver(l, from, buf, len, false, NULL, false, 0);
		return;
	}
	if (l->accept_v1 && len > 0 && buf[0] == CL_KEYRING_V1) {
		/* Deprecated (keyring.h): nothing to check before the AEAD,
		 * and no sender to bind application messages to. */
		int n = cl_keyring_open_v1(c->keyring, buf, len, l->plain,
					   sizeof l->plain);
		if (n < 0) {
			if (n == CLOISTER_EIO)
				l->stats.drops_auth++;
			else
				l->stats.drops_truncated++;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		l->stats.v1_in++;
		note_version(l, from, CL_KEYRING_V1);
		deliver(l, from, l->plain, (size_t)n, false, NULL, true, 0);
		return;
	}
	cl_seal_info info;
	if (cl_keyring_peek(buf, len, &info) != 0) {
		count_malformed(l, buf, len);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (info.kind != CL_SEAL_DATAGRAM) {
		l->stats.drops_unexpected++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (!admit(l, &info)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int n = cl_keyring_open(c->keyring, buf, len, l->plain,
				sizeof l->plain, NULL);
	if (n < 0) {
		l->stats.drops_auth++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	cl_replay_commit(l->replay, &info, wall_us());
	note_version(l, from, CL_KEYRING_VERSION);
	deliver(l, from, l->plain, (size_t)n, false, NULL, true, info.sender);
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
	if (k->outbound)
		l->n_out--;
	else
		l->n_in--;
	if (l->reply_conn == k)
		l->reply_conn = NULL;
	cl_frame_ctx ctx = frame_ctx(l);
	cl_frame_rx_free(&k->rx, &ctx);
	if (k->deadline)
		event_free(k->deadline);
	bufferevent_free(k->bev);
	free(k);
}

static bool conn_alive(const cl_loop *l, const struct conn *k)
{
	for (const struct conn *x = l->conns; x; x = x->next)
		if (x == k)
			return true;
	return false;
}

/* Arms the connection's deadline: the frame in progress must finish its
 * head, then itself, in time; an inbound connection that never
 * authenticated must do so soon after connecting. */
static void conn_rearm(struct conn *k)
{
	cl_usec at = 0;
	if (cl_frame_rx_in_frame(&k->rx))
		at = k->frame_start + (cl_frame_rx_head_done(&k->rx)
					       ? FRAME_DEADLINE_US
					       : HEAD_DEADLINE_US);
	else if (!k->outbound && !k->proven)
		at = k->accepted_at + HEAD_DEADLINE_US;
	if (!at) {
		evtimer_del(k->deadline);
		return;
	}
	cl_usec wait = at - now_us();
	if (wait < 0)
		wait = 0;
	struct timeval tv = {(time_t)(wait / CL_SEC),
			     (suseconds_t)(wait % CL_SEC)};
	evtimer_add(k->deadline, &tv);
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;
	k->loop->stats.conns_deadline++;
	conn_free(k);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	cl_loop *l = k->loop;
	cloister_t *c = l->node;
	struct evbuffer *in = bufferevent_get_input(bev);
	k->last_active = k->read_at = now_us();
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		if (!cl_frame_rx_in_frame(&k->rx))
			k->frame_start = now_us();
		pthread_mutex_lock(&c->lock);
		cl_frame_ctx ctx = frame_ctx(l);
		ctx.share_ok = assembly_ok;
		ctx.share_arg = k;
		cl_frame_packet pkt;
		long used = cl_frame_rx_feed(&k->rx, &ctx, v.iov_base,
					     v.iov_len, &pkt);
		if (used < 0) {
			/* One bad frame closes the connection. */
			if (used == CLOISTER_EIO)
				l->stats.drops_auth++;
			else if (used == CLOISTER_ELIMIT)
				l->stats.over_budget++;
			else if (used != ADMIT_REFUSED)
				l->stats.drops_frame++;
			pthread_mutex_unlock(&c->lock);
			conn_free(k);
			return;
		}
		evbuffer_drain(in, (size_t)used);
		if (cl_keyring_enabled(ctx.keyring) &&
		    cl_frame_rx_head_done(&k->rx)) {
			k->proven = true;
			k->peer_id = k->rx.info.sender;
		}
		if (!pkt.data) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		k->proven = true;
		if (pkt.v1) {
			k->v1 = true;
			l->stats.v1_in++;
		}
		deliver(l, &k->peer, pkt.data, pkt.len, true, k, pkt.sealed,
			pkt.info.sender);
		/* Delivery may have closed k through a reply error. */
		if (!conn_alive(l, k))
			return;
	}
	conn_rearm(k);
}

/* The output drained to the kernel. */
static void conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	k->last_active = now_us();
}

static void output_taken(struct evbuffer *out,
			 const struct evbuffer_cb_info *info, void *arg)
{
	(void)out;
	if (info->n_deleted)
		((struct conn *)arg)->taken_at = now_us();
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
	fd = -1; /* the bufferevent owns it now */
	k->deadline = evtimer_new(l->base, conn_deadline, k);
	if (!k->deadline) {
		bufferevent_free(k->bev);
		goto fail;
	}
	k->loop = l;
	k->peer = *peer;
	k->outbound = outbound;
	k->accepted_at = k->last_active = k->taken_at = now_us();
	struct timeval idle = {IDLE_SECONDS, 0};
	bufferevent_set_timeouts(k->bev, &idle, &idle);
	/* libevent reads at most this much ahead of us; we drain all of it
	 * into the frame reader at once. */
	bufferevent_setwatermark(k->bev, EV_READ, 0, CL_FRAME_SCRATCH);
	bufferevent_setcb(k->bev, conn_read, conn_write, conn_event, k);
	if (!evbuffer_add_cb(bufferevent_get_output(k->bev), output_taken, k)) {
		event_free(k->deadline);
		bufferevent_free(k->bev);
		goto fail;
	}
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
	k->next = l->conns;
	if (l->conns)
		l->conns->prev = k;
	l->conns = k;
	if (outbound)
		l->n_out++;
	else
		l->n_in++;
	l->stats.streams_open++;
	if (!outbound)
		conn_rearm(k);
	return k;
fail:
	free(k);
	if (fd >= 0)
		evutil_closesocket(fd);
	return NULL;
}

/* Whether an authenticated inbound connection is between exchanges: no
 * frame half read, nothing read but not yet fed, no output waiting, and
 * quiet for IDLE_EVICT_MIN_US.  One that is not must never be evicted:
 * its peer is waiting on it. */
static bool conn_quiet(const struct conn *k, cl_usec now)
{
	return !cl_frame_rx_in_frame(&k->rx) &&
	       evbuffer_get_length(bufferevent_get_input(k->bev)) == 0 &&
	       evbuffer_get_length(bufferevent_get_output(k->bev)) == 0 &&
	       now - k->last_active >= IDLE_EVICT_MIN_US;
}

/* Room in the inbound pool for one more from peer: false (refused) past
 * the per-address cap.  A full pool makes way with its oldest connection
 * that never authenticated; failing that, with the authenticated one
 * quiet the longest (conn_quiet); failing that, refuses.
 *
 * A stranger can therefore close an authenticated stream, but only a
 * quiet one, whose peer merely reconnects on its next exchange (the same
 * as after the idle timeout), and only while the pool holds no
 * unauthenticated connection: the stranger's own connection goes first
 * for the next newcomer, so each of its connects costs the cluster at
 * most one reconnect, and busy streams are never touched. */
static bool inbound_room(cl_loop *l, const cl_addr *peer)
{
	size_t same = 0;
	struct conn *oldest = NULL, *quietest = NULL;
	cl_usec now = now_us();
	for (struct conn *x = l->conns; x; x = x->next) {
		if (x->outbound)
			continue;
		same += same_host(&x->peer, peer);
		if (!x->proven)
			oldest = x; /* the list runs newest first */
		else if (conn_quiet(x, now) &&
			 (!quietest || x->last_active < quietest->last_active))
			quietest = x;
	}
	if (same >= l->max_per_addr)
		return false;
	if (l->n_in < l->max_in)
		return true;
	if (!oldest)
		oldest = quietest;
	if (!oldest)
		return false;
	l->stats.conns_evicted++;
	conn_free(oldest);
	return true;
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
	if (!inbound_room(l, &peer)) {
		l->stats.conns_refused++;
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
	if (l->n_out >= l->max_out) {
		l->stats.conns_refused++;
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(to, &ss);
	/* Made here rather than by libevent, which would leave out
	 * close-on-exec: hook commands must not inherit cluster sockets. */
	evutil_socket_t fd =
		socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		l->stats.send_errors++;
		return NULL;
	}
	if (l->bind_out && l->out_src.family == to->family) {
		struct sockaddr_storage src;
		socklen_t srclen = to_sockaddr(&l->out_src, &src);
		/* Best effort: where that source cannot be used, the kernel
		 * picks one as it would have. */
		(void)bind(fd, (struct sockaddr *)&src, srclen);
	}
	struct conn *k = conn_new(l, fd, to, true);
	if (!k)
		return NULL;
	if (bufferevent_socket_connect(k->bev, (struct sockaddr *)&ss,
				       (int)sl) != 0) {
		l->stats.send_errors++;
		conn_free(k);
		return NULL;
	}
	return k;
}

static int emit_evbuffer(void *arg, const void *buf, size_t n)
{
	return evbuffer_add(arg, buf, n) == 0 ? 0 : CLOISTER_ENOMEM;
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
			bufferevent_write(x->bev, buf, len);
			return;
		}
}
#endif

/* ------------------------------------------------------------------ */
/* Sending (called under the node's lock)                              */
/* ------------------------------------------------------------------ */

/* The peer does not read what it asked for.  The connection whose packet
 * is being read holds that packet: it goes once the core is done with it
 * (deliver), and nothing more is written to it meanwhile. */
static void conn_cut_unread(cl_loop *l, struct conn *k)
{
	l->stats.send_errors++;
	l->stats.conns_unread++;
	if (k == l->reply_conn)
		k->cut = true;
	else
		conn_free(k);
}

/* Cuts the stalled connections holding the most unread output until all
 * of them together hold at most OUTPUT_BUDGET, or none is left stalled
 * (one pass over the connections per cut; they number at most twice
 * max_connections). */
static void output_within_budget(cl_loop *l)
{
	cl_usec now = now_us();
	for (;;) {
		size_t total = 0, most = 0;
		struct conn *worst = NULL;
		for (struct conn *k = l->conns; k; k = k->next) {
			if (k->cut)
				continue;
			size_t n = evbuffer_get_length(bufferevent_get_output(k->bev));
			total += n;
			if (n > most && now - k->taken_at >= OUTPUT_STALL_US) {
				most = n;
				worst = k;
			}
		}
		if (total <= OUTPUT_BUDGET || !worst)
			return;
		conn_cut_unread(l, worst);
	}
}

static void send_frame(cl_loop *l, const cl_addr *to, uint64_t to_id,
		       const uint8_t *buf, size_t len)
{
	cloister_t *c = l->node;
	struct conn *k = l->reply_conn && cl_addr_equal(&l->reply_conn->peer, to)
				 ? l->reply_conn
				 : conn_to(l, to);
	if (!k)
		return;
	if (k->cut) {
		l->stats.send_errors++;
		return;
	}
	/* A reply on an inbound stream names nobody (to_id 0): bind it to
	 * the sender that authenticated there. */
	bool v1 = speak_v1(l, to, to_id, k == l->reply_conn ? k : NULL);
	if (!to_id && k == l->reply_conn)
		to_id = k->peer_id;
	cl_seal_info info = {.kind = CL_SEAL_STREAM,
			     .sender = l->self_id,
			     .time_us = next_time(l),
			     .recipient = to_id};
	struct evbuffer *out = bufferevent_get_output(k->bev);
#ifdef CLOISTER_FAULT_INJECTION
	struct evbuffer *held = l->fault ? evbuffer_new() : NULL;
	if (held)
		out = held;
#endif
	int e = v1 && cl_keyring_enabled(c->keyring)
			? cl_frame_write_v1(c->keyring, buf, len, emit_evbuffer, out)
			: cl_frame_write(c->keyring, &info, buf, len,
					 l->tx_scratch, emit_evbuffer, out);
	if (v1 && e == 0)
		l->stats.v1_out++;
#ifdef CLOISTER_FAULT_INJECTION
	if (held) {
		struct fault_tag t = {k, k->peer, k->outbound};
		size_t n = evbuffer_get_length(held);
		const uint8_t *flat = e == 0 ? evbuffer_pullup(held, -1) : NULL;
		if (flat && !cl_fault_defer(l->fault, flat, n, &t, sizeof t,
					    fault_stream_fire, l))
			bufferevent_write(k->bev, flat, n);
		evbuffer_free(held);
	}
#endif
	k->last_active = now_us();
	if (e != 0) {
		l->stats.send_errors++;
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(k->bev)) > OUTPUT_MAX)
		conn_cut_unread(l, k);
	output_within_budget(l);
}

void cl_loop_send(cl_loop *l, const cl_addr *to, uint64_t to_id,
		  const uint8_t *buf, size_t len, bool stream)
{
	cloister_t *c = l->node;
	if (stream || l->tcp_only) {
		send_frame(l, to, to_id, buf, len);
		return;
	}
	if (to->family != CL_AF_INET4 && to->family != CL_AF_INET6)
		return;
	const uint8_t *out = buf;
	size_t olen = len;
	if (cl_keyring_enabled(c->keyring)) {
		cl_seal_info info = {.kind = CL_SEAL_DATAGRAM,
				     .sender = l->self_id,
				     .time_us = next_time(l),
				     .recipient = to_id};
		bool v1 = speak_v1(l, to, to_id, NULL);
		int n = v1 ? cl_keyring_seal_v1(c->keyring, buf, len, l->sealed,
						sizeof l->sealed)
			   : cl_keyring_seal(c->keyring, &info, buf, len,
					     l->sealed, sizeof l->sealed);
		if (v1 && n > 0)
			l->stats.v1_out++;
		if (n < 0) {
			l->stats.send_errors++;
			return;
		}
		out = l->sealed;
		olen = (size_t)n;
	}
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(to, &ss);
	bool held = false;
#ifdef CLOISTER_FAULT_INJECTION
	held = cl_fault_sendto(l->fault, out, olen, (struct sockaddr *)&ss, sl);
#endif
	if (!held && sendto(l->udp, out, olen, 0, (struct sockaddr *)&ss, sl) < 0)
		l->stats.send_errors++;
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
				feed_datagram(l, &from, iov[i].iov_base,
					      msgs[i].msg_len);
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
	cl_usec next = node_next_deadline(l->node);
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
	out->v1_in = atomic_load(&l->stats.v1_in);
	out->v1_out = atomic_load(&l->stats.v1_out);
	out->drops_frame = atomic_load(&l->stats.drops_frame);
	out->drops_truncated = atomic_load(&l->stats.drops_truncated);
	out->drops_version = atomic_load(&l->stats.drops_version);
	out->drops_plaintext = atomic_load(&l->stats.drops_plaintext);
	out->drops_unexpected = atomic_load(&l->stats.drops_unexpected);
	out->drops_recipient = atomic_load(&l->stats.drops_recipient);
	out->drops_stale = atomic_load(&l->stats.drops_stale);
	out->drops_replay = atomic_load(&l->stats.drops_replay);
	out->drops_too_old = atomic_load(&l->stats.drops_too_old);
	out->conns_refused = atomic_load(&l->stats.conns_refused);
	out->conns_evicted = atomic_load(&l->stats.conns_evicted);
	out->conns_deadline = atomic_load(&l->stats.conns_deadline);
	out->over_budget = atomic_load(&l->stats.over_budget);
	out->conns_unread = atomic_load(&l->stats.conns_unread);
	out->conns_stalled = atomic_load(&l->stats.conns_stalled);
	out->send_errors = atomic_load(&l->stats.send_errors);
	out->streams_open = atomic_load(&l->stats.streams_open);
	out->discovery_runs = atomic_load(&l->stats.discovery_runs);
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
	l->accept_v1 = c->cfg.proto_min == CL_PROTO_V1;
	l->max_in = l->max_out =
		c->cfg.max_connections ? c->cfg.max_connections : 256;
	l->max_per_addr = c->cfg.max_connections_per_address
				  ? c->cfg.max_connections_per_address
				  : PER_ADDRESS_DEFAULT;
	const char *self = c->name_text;
	l->self_id = cl_swim_name_id(self, strlen(self));
	pthread_mutex_init(&l->join_lock, NULL);
	l->replay = cl_replay_new(0);
	if (!l->replay)
		goto fail;
	l->base = event_base_new();
	if (!l->base)
		goto fail;
	/* Two priorities: membership first; the application queue drains in
	 * what time is left (priority 1). */
	event_base_priority_init(l->base, 2);

	const cl_addr *bind_addr = c->cfg.has_bind ? &c->cfg.bind : &c->cfg.addr;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(bind_addr, &ss);
	static const uint8_t unspecified[16];
	l->bind_out = memcmp(bind_addr->ip, unspecified, 16) != 0;
	l->out_src = *bind_addr;
	l->out_src.port = 0;
	e = CLOISTER_EIO;
	if (!l->tcp_only) {
		/* Close-on-exec from the start: a hook started on another
		 * thread between socket() and fcntl() would inherit it. */
		l->udp = socket(ss.ss_family,
				SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (l->udp < 0)
			goto fail;
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
		/* Room for a burst of connects, so that the pools (not the
		 * kernel's queue) decide who is served. */
		256, (struct sockaddr *)&ss, (int)sl);
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
	cl_replay_free(l->replay);
	pthread_mutex_destroy(&l->join_lock);
	free(l);
}
