/*
 * port.c — `cloister agent --stdio etf`: the agent as an Erlang port.
 *
 * Frames: 4-byte big-endian length, then one term (version byte 131),
 * exactly what open_port(..., [{packet, 4}, binary]) reads and writes.
 *
 *   BEAM -> agent   {Ref, Command, Args}           (port_etf.h decodes)
 *   agent -> BEAM   {hello, Info}                  first frame: status, members
 *                   {reply, Ref, Result}           one per request
 *                   {error, Ref | undefined, Why}  a request that was refused
 *                   {event, Map}                   status, member, sentry, dropped
 *                   {message, Topic, From, Data}   a multicast on an answered topic
 *                   {call, Id, Topic, From, Data}  answer with {Ref, reply, {Id, Data}}
 *
 * Threads.  Requests are read and served on the agent's event base
 * (stdin is a bufferevent there, no thread of its own).  Writes come from
 * three threads: the base (replies), the node's thread (listener events,
 * messages, calls) and multicall workers (cloister_multicall blocks, so
 * each runs on a short-lived thread, at most MULTICALLS_MAX).  stdout is a
 * thread-safe bufferevent, so each frame is appended whole under its lock
 * and written by the base.  p->lock guards the calls waiting for replies
 * and the worker count; it is innermost: no cloister_* call and no write
 * happens with it held.
 *
 * Encoding is erl_interface's (ei_x_*); decoding is port_etf.c's, because
 * ei's decoders take no buffer length and trust the term.
 */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CLOISTER_HAVE_EI

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <ei.h>

#include "pending_calls.h"
#include "port_etf.h"

/* Output held for a BEAM that does not read: past this, frames are
 * dropped and counted (a {event, #{type => dropped}} says how many). */
#define OUT_MAX (32u * 1024u * 1024u)
/* Oversize frames are dropped in chunks of this as they arrive. */
#define SKIP_CHUNK (64u * 1024u)
#define MULTICALLS_MAX 24
#define WORKER_STACK (256 * 1024)
#define TOPICS_MAX CL_REQ_ANSWER_MAX

struct cl_port {
	struct event_base *base;
	cloister_t *node;
	struct bufferevent *in, *out;
	struct event *closed_ev;
	struct event *expire; /* kept calls whose time is up */
	void (*on_closed)(void *);
	void *arg;
	cl_port_framer framer;
	atomic_bool dead; /* the BEAM's side is gone: write nothing more */
	bool closed_fired;
	int in_fd, in_flags; /* restored: stdin's description is shared */
	uint64_t dropped; /* under the out bufferevent's lock */
	uint64_t bad;     /* refused requests (base thread) */
	cl_topics *topics; /* the agent's; the BEAM answers as owner */
	uint64_t owner;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool closing;
	cl_pending calls; /* kept for the BEAM's reply */
	size_t running;
};

struct job {
	cl_port *p;
	unsigned char *ref;
	size_t ref_len;
	char *topic, *data;
	size_t data_len;
	int timeout_ms;
};

bool cl_port_available(void)
{
	return true;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

static int x_text(ei_x_buff *x, const char *s)
{
	return ei_x_encode_binary(x, s, (int)strlen(s));
}

static int x_text_or_undefined(ei_x_buff *x, const char *s)
{
	return s && *s ? x_text(x, s) : ei_x_encode_atom(x, "undefined");
}

static int x_key(ei_x_buff *x, const char *k)
{
	return ei_x_encode_atom(x, k);
}

/* {event, #{type => Type, ...}}: the caller encodes the other fields - 1
 * pairs after this.  Nonzero: nothing to free. */
static int event_head(ei_x_buff *x, const char *type, long fields)
{
	int e = ei_x_new_with_version(x);
	if (e)
		return e;
	e |= ei_x_encode_tuple_header(x, 2);
	e |= ei_x_encode_atom(x, "event");
	e |= ei_x_encode_map_header(x, fields);
	e |= x_key(x, "type");
	e |= ei_x_encode_atom(x, type);
	if (e)
		ei_x_free(x);
	return e;
}

/* The 4-byte big-endian length, then the term. */
static void add_frame(struct evbuffer *o, const char *buf, size_t len)
{
	unsigned char hdr[4] = {(unsigned char)(len >> 24),
				(unsigned char)(len >> 16),
				(unsigned char)(len >> 8), (unsigned char)len};
	evbuffer_add(o, hdr, 4);
	evbuffer_add(o, buf, len);
}

/* Appends one frame: whole or not at all. */
static void send_frame(cl_port *p, const char *buf, size_t len)
{
	if (atomic_load(&p->dead))
		return;
	bufferevent_lock(p->out);
	struct evbuffer *o = bufferevent_get_output(p->out);
	if (evbuffer_get_length(o) + len + 64 > OUT_MAX) {
		p->dropped++;
	} else {
		ei_x_buff d;
		if (p->dropped && event_head(&d, "dropped", 2) == 0) {
			x_key(&d, "count");
			ei_x_encode_ulonglong(&d, p->dropped);
			add_frame(o, d.buff, (size_t)d.index);
			ei_x_free(&d);
			p->dropped = 0;
		}
		add_frame(o, buf, len);
	}
	bufferevent_unlock(p->out);
}

static void send_x(cl_port *p, ei_x_buff *x, int err)
{
	if (!err)
		send_frame(p, x->buff, (size_t)x->index);
	ei_x_free(x);
}

static const char *err_atom(int e)
{
	switch (e) {
	case CLOISTER_EINVAL:
		return "badarg";
	case CLOISTER_ENOMEM:
		return "enomem";
	case CLOISTER_ENOSPC:
		return "too_large";
	case CLOISTER_ENOENT:
		return "not_found";
	case CLOISTER_ELIMIT:
		return "limit";
	case CLOISTER_ESTATE:
		return "bad_state";
	case CLOISTER_ETIMEDOUT:
		return "timeout";
	case CLOISTER_EEXIST:
		return "exists";
	default:
		return "failed";
	}
}

/* {reply, Ref, ...}: the caller encodes Result after this.  Nonzero:
 * nothing to free. */
static int reply_head(ei_x_buff *x, const unsigned char *ref, size_t ref_len)
{
	int e = ei_x_new_with_version(x);
	if (e)
		return e;
	e |= ei_x_encode_tuple_header(x, 3);
	e |= ei_x_encode_atom(x, "reply");
	e |= ei_x_append_buf(x, (const char *)ref, (int)ref_len);
	if (e)
		ei_x_free(x);
	return e;
}

/* {reply, Ref, {ok, ...}}: the caller encodes the tuple's other arity - 1
 * elements after this.  Nonzero: nothing to free. */
static int ok_head(ei_x_buff *x, const unsigned char *ref, size_t ref_len,
		   int arity)
{
	int e = reply_head(x, ref, ref_len);
	if (e)
		return e;
	e |= ei_x_encode_tuple_header(x, arity);
	e |= ei_x_encode_atom(x, "ok");
	if (e)
		ei_x_free(x);
	return e;
}

static void reply_atom(cl_port *p, const unsigned char *ref, size_t ref_len,
		       const char *a)
{
	ei_x_buff x;
	int e = reply_head(&x, ref, ref_len);
	if (e)
		return;
	e |= ei_x_encode_atom(&x, a);
	send_x(p, &x, e);
}

/* {reply, Ref, {error, Reason}} */
static void reply_err(cl_port *p, const unsigned char *ref, size_t ref_len,
		      const char *reason)
{
	ei_x_buff x;
	int e = reply_head(&x, ref, ref_len);
	if (e)
		return;
	e |= ei_x_encode_tuple_header(&x, 2);
	e |= ei_x_encode_atom(&x, "error");
	e |= ei_x_encode_atom(&x, reason);
	send_x(p, &x, e);
}

/* {error, Ref | undefined, Why}: a request refused as malformed. */
static void send_refusal(cl_port *p, const unsigned char *ref, size_t ref_len,
			 const char *why)
{
	ei_x_buff x;
	int e = ei_x_new_with_version(&x);
	if (e)
		return;
	e |= ei_x_encode_tuple_header(&x, 3);
	e |= ei_x_encode_atom(&x, "error");
	if (ref)
		e |= ei_x_append_buf(&x, (const char *)ref, (int)ref_len);
	else
		e |= ei_x_encode_atom(&x, "undefined");
	e |= x_text(&x, why);
	send_x(p, &x, e);
}

/* {reply, Ref, ok}, or {reply, Ref, {error, Reason}} for a cloister error. */
static void reply_result(cl_port *p, const unsigned char *ref, size_t ref_len,
			 int e)
{
	if (e)
		reply_err(p, ref, ref_len, err_atom(e));
	else
		reply_atom(p, ref, ref_len, "ok");
}

/* ------------------------------------------------------------------ */
/* Terms for the node's state                                          */
/* ------------------------------------------------------------------ */

static int x_member_fields(ei_x_buff *x, const cloister_member *m)
{
	int e = 0;
	e |= x_key(x, "name");
	e |= x_text(x, m->name);
	e |= x_key(x, "addr");
	e |= x_text(x, m->addr);
	e |= x_key(x, "status");
	e |= ei_x_encode_atom(x, cloister_member_status_name(m->status));
	e |= x_key(x, "incarnation");
	e |= ei_x_encode_ulonglong(x, m->incarnation);
	e |= x_key(x, "start_ms");
	e |= ei_x_encode_ulonglong(x, m->start_ms);
	e |= x_key(x, "tags");
	e |= ei_x_encode_map_header(x, (long)m->n_tags);
	for (size_t i = 0; i < m->n_tags; i++) {
		e |= x_text(x, m->tags[i].key);
		e |= x_text(x, m->tags[i].value);
	}
	return e;
}
#define MEMBER_FIELDS 6

static int x_members(ei_x_buff *x, cloister_t *node)
{
	cloister_member *m;
	size_t n;
	int e = cloister_members(node, &m, &n);
	if (e)
		return ei_x_encode_empty_list(x);
	if (n)
		e |= ei_x_encode_list_header(x, (long)n);
	for (size_t i = 0; i < n; i++) {
		e |= ei_x_encode_map_header(x, MEMBER_FIELDS);
		e |= x_member_fields(x, &m[i]);
	}
	e |= ei_x_encode_empty_list(x);
	cloister_members_free(m, n);
	return e;
}

static int x_status(ei_x_buff *x, cloister_t *node, const cloister_snapshot *s)
{
	int e = ei_x_encode_map_header(x, 8);
	e |= x_key(x, "node");
	e |= x_text(x, s->node);
	e |= x_key(x, "address");
	e |= x_text(x, cloister_address(node));
	e |= x_key(x, "status");
	e |= ei_x_encode_atom(x, cloister_state_name(s->state));
	e |= x_key(x, "consensus");
	if (s->majority_of) {
		e |= ei_x_encode_tuple_header(x, 2);
		e |= ei_x_encode_atom(x, "majority");
		e |= ei_x_encode_ulong(x, s->majority_of);
	} else {
		e |= ei_x_encode_ulong(x, s->consensus);
	}
	e |= x_key(x, "alive");
	e |= ei_x_encode_ulonglong(x, s->alive);
	e |= x_key(x, "sentry");
	e |= x_text_or_undefined(x, s->sentry);
	e |= x_key(x, "rings");
	e |= ei_x_encode_map_header(x, (long)s->n_rings);
	for (size_t i = 0; i < s->n_rings; i++) {
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, s->rings[i].checksum);
		e |= x_text(x, s->rings[i].name);
		e |= x_text(x, hex);
	}
	e |= x_key(x, "version");
	e |= x_text(x, cloister_version());
	return e;
}

/* ------------------------------------------------------------------ */
/* Events (node's thread)                                              */
/* ------------------------------------------------------------------ */

void cl_port_state(cl_port *p, cloister_state from, cloister_state to,
		   const cloister_snapshot *s)
{
	ei_x_buff x;
	if (!p || event_head(&x, "state", 5))
		return;
	int e = x_key(&x, "from");
	e |= ei_x_encode_atom(&x, cloister_state_name(from));
	e |= x_key(&x, "to");
	e |= ei_x_encode_atom(&x, cloister_state_name(to));
	e |= x_key(&x, "alive");
	e |= ei_x_encode_ulonglong(&x, s->alive);
	e |= x_key(&x, "sentry");
	e |= x_text_or_undefined(&x, s->sentry);
	send_x(p, &x, e);
}

void cl_port_member(cl_port *p, int event, const char *event_name,
		    const cloister_member *m)
{
	ei_x_buff x;
	if (!p || event_head(&x, "member", 2 + MEMBER_FIELDS))
		return;
	int e = x_key(&x, "event");
	e |= ei_x_encode_atom(&x, event_name);
	e |= x_member_fields(&x, m);
	send_x(p, &x, e);
}

void cl_port_sentry(cl_port *p, const char *sentry)
{
	ei_x_buff x;
	if (!p || event_head(&x, "sentry", 2))
		return;
	int e = x_key(&x, "sentry");
	e |= x_text_or_undefined(&x, sentry);
	send_x(p, &x, e);
}

/*
 * Node's thread, for every message on an answered topic.  A cast becomes
 * {message, ...}; a call becomes {call, Id, ...} and is kept (at most
 * CL_CALL_WAIT_MS, see pending_calls.h) for {Ref, reply, {Id, Data}},
 * which the base thread answers: nothing here waits for the BEAM.  The
 * call is kept before it is written, so a reply that comes back at once
 * still finds it.
 */
static void on_message(void *arg, const char *topic, const char *from,
		       const void *payload, size_t len, void **reply,
		       size_t *reply_len)
{
	cl_port *p = arg;
	ei_x_buff x;
	(void)reply_len;
	if (atomic_load(&p->dead))
		return;
	if (!reply) {
		if (ei_x_new_with_version(&x))
			return;
		int e = ei_x_encode_tuple_header(&x, 4);
		e |= ei_x_encode_atom(&x, "message");
		e |= x_text(&x, topic);
		e |= x_text(&x, from);
		e |= ei_x_encode_binary(&x, payload, (int)len);
		send_x(p, &x, e);
		return;
	}
	cloister_call *call = cloister_call_defer(p->node);
	if (!call)
		return;
	pthread_mutex_lock(&p->lock);
	uint64_t id = cl_pending_next_id(&p->calls);
	if (!p->closing && cl_pending_keep(&p->calls, id, p->owner, call) == 0)
		call = NULL;
	pthread_mutex_unlock(&p->lock);
	if (call) {
		cloister_call_drop(call);
		return;
	}

	int e = ei_x_new_with_version(&x);
	if (!e) {
		e |= ei_x_encode_tuple_header(&x, 5);
		e |= ei_x_encode_atom(&x, "call");
		e |= ei_x_encode_ulonglong(&x, id);
		e |= x_text(&x, topic);
		e |= x_text(&x, from);
		e |= ei_x_encode_binary(&x, payload, (int)len);
		send_x(p, &x, e);
	}
	if (e) {
		/* Never announced: nobody will answer it. */
		pthread_mutex_lock(&p->lock);
		cl_pcall *lost = cl_pending_take_id(&p->calls, id, p->owner);
		pthread_mutex_unlock(&p->lock);
		cl_pending_release(lost);
	}
}

/* ------------------------------------------------------------------ */
/* Requests (base thread)                                              */
/* ------------------------------------------------------------------ */

static void do_status(cl_port *p, const cl_port_req *r)
{
	cloister_snapshot *s;
	int e = cloister_snapshot_get(p->node, &s);
	if (e) {
		reply_err(p, r->ref, r->ref_len, err_atom(e));
		return;
	}
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2) == 0)
		send_x(p, &x, x_status(&x, p->node, s));
	cloister_snapshot_free(s);
}

static void do_members(cl_port *p, const cl_port_req *r)
{
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2) == 0)
		send_x(p, &x, x_members(&x, p->node));
}

static void do_whois(cl_port *p, const cl_port_req *r)
{
	char(*owners)[CLOISTER_NAME_MAX + 1] = calloc(r->n, sizeof *owners);
	if (!owners) {
		reply_err(p, r->ref, r->ref_len, "enomem");
		return;
	}
	int got = cloister_whois_n(p->node, r->ring, r->key, r->key_len, r->n,
				   owners);
	if (got <= 0) {
		reply_err(p, r->ref, r->ref_len,
			  got == 0 ? "not_found" : err_atom(got));
		free(owners);
		return;
	}
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2) == 0) {
		int e = ei_x_encode_list_header(&x, got);
		for (int i = 0; i < got; i++)
			e |= x_text(&x, owners[i]);
		e |= ei_x_encode_empty_list(&x);
		send_x(p, &x, e);
	}
	free(owners);
}

static void do_mine(cl_port *p, const cl_port_req *r)
{
	int m = cloister_mine(p->node, r->ring, r->key, r->key_len);
	if (m < 0) {
		reply_err(p, r->ref, r->ref_len, err_atom(m));
		return;
	}
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2) == 0)
		send_x(p, &x, ei_x_encode_boolean(&x, m == 1));
}

static void do_multicast(cl_port *p, const cl_port_req *r)
{
	int q = cloister_multicast(p->node, r->topic, r->data, r->data_len,
				   (const char *const *)r->names, r->n_names);
	if (q < 0) {
		reply_err(p, r->ref, r->ref_len, err_atom(q));
		return;
	}
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2) == 0)
		send_x(p, &x, ei_x_encode_long(&x, q));
}

static void job_free(struct job *j)
{
	free(j->ref);
	free(j->topic);
	free(j->data);
	free(j);
}

/* A multicall worker ended, or never started. */
static void worker_done(cl_port *p)
{
	pthread_mutex_lock(&p->lock);
	p->running--;
	pthread_cond_broadcast(&p->cond);
	/* Nothing of p is touched past this unlock: free waits for it. */
	pthread_mutex_unlock(&p->lock);
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	cl_port *p = j->p;
	cloister_multicall_result *res = NULL;
	int err = cloister_multicall(p->node, j->topic, j->data, j->data_len,
				     j->timeout_ms, &res);
	if (err) {
		reply_err(p, j->ref, j->ref_len, err_atom(err));
	} else {
		ei_x_buff x;
		if (ok_head(&x, j->ref, j->ref_len, 3) == 0) {
			int e = 0;
			if (res->n_replies)
				e |= ei_x_encode_list_header(&x, (long)res->n_replies);
			for (size_t i = 0; i < res->n_replies; i++) {
				e |= ei_x_encode_tuple_header(&x, 2);
				e |= x_text(&x, res->replies[i].member);
				e |= ei_x_encode_binary(&x, res->replies[i].payload,
							(int)res->replies[i].len);
			}
			e |= ei_x_encode_empty_list(&x);
			if (res->n_missing)
				e |= ei_x_encode_list_header(&x, (long)res->n_missing);
			for (size_t i = 0; i < res->n_missing; i++)
				e |= x_text(&x, res->missing[i]);
			e |= ei_x_encode_empty_list(&x);
			send_x(p, &x, e);
		}
	}
	cloister_multicall_free(res);
	job_free(j);
	worker_done(p); /* the last use of p: free waits for it */
	return NULL;
}

static void do_multicall(cl_port *p, cl_port_req *r)
{
	pthread_mutex_lock(&p->lock);
	bool full = p->running >= MULTICALLS_MAX;
	if (!full)
		p->running++;
	pthread_mutex_unlock(&p->lock);
	if (full) {
		reply_err(p, r->ref, r->ref_len, "limit");
		return;
	}
	struct job *j = calloc(1, sizeof *j);
	unsigned char *ref = malloc(r->ref_len);
	int e = j && ref ? 0 : ENOMEM;
	if (!e) {
		memcpy(ref, r->ref, r->ref_len);
		*j = (struct job){p, ref, r->ref_len, r->topic, r->data,
				  r->data_len, r->timeout_ms};
		pthread_attr_t attr;
		pthread_t t;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, WORKER_STACK);
		e = pthread_create(&t, &attr, job_main, j);
		pthread_attr_destroy(&attr);
		if (!e) {
			r->topic = r->data = NULL; /* the job's now */
			return;
		}
	}
	free(j);
	free(ref);
	worker_done(p);
	reply_err(p, r->ref, r->ref_len, e == ENOMEM ? "enomem" : "no_thread");
}

/* Answering a topic again is a no-op: the topic stays answered until the
 * port ends.  A topic an HTTP subscriber answers is {error, taken}. */
static void do_answer(cl_port *p, const cl_port_req *r)
{
	int e = 0;
	if (cl_topics_owner(p->topics, r->topic) != p->owner &&
	    cl_topics_count(p->topics, p->owner) >= TOPICS_MAX)
		e = CLOISTER_ELIMIT;
	else
		e = cl_topics_acquire(p->topics, p->owner, &r->topic, 1,
				      on_message, p, NULL);
	if (e == CLOISTER_EEXIST)
		reply_err(p, r->ref, r->ref_len, "taken");
	else
		reply_result(p, r->ref, r->ref_len, e);
}

static void do_reply(cl_port *p, const cl_port_req *r)
{
	int e = cl_pending_answer(&p->calls, r->id, p->owner, r->data,
				  r->data_len);
	if (e == CLOISTER_ENOENT)
		reply_err(p, r->ref, r->ref_len, "not_waiting");
	else
		reply_result(p, r->ref, r->ref_len, e);
}

static void do_join(cl_port *p, const cl_port_req *r)
{
	int e = cloister_join_addrs(p->node, (const char *const *)r->names,
				    r->n_names);
	if (e == CLOISTER_ESTATE)
		reply_err(p, r->ref, r->ref_len, "nonode");
	else
		reply_result(p, r->ref, r->ref_len, e);
}

static void do_keys(cl_port *p, const cl_port_req *r)
{
	char fps[16][17];
	size_t n = 0;
	if (cloister_keys_list(p->node, fps, 16, &n) != 0) {
		reply_err(p, r->ref, r->ref_len, "no_keyring");
		return;
	}
	if (r->keys_op) {
		int e = r->op == CL_KEYS_INSTALL ? cloister_keys_install(p->node, r->keytext)
			: r->op == CL_KEYS_USE   ? cloister_keys_use(p->node, r->keytext)
						 : cloister_keys_remove(p->node, r->keytext);
		if (e) {
			reply_err(p, r->ref, r->ref_len,
				  e == CLOISTER_ESTATE ? "primary"
				  : e == CLOISTER_ELIMIT ? "full"
							 : err_atom(e));
			return;
		}
		if (cloister_keys_list(p->node, fps, 16, &n) != 0) {
			reply_err(p, r->ref, r->ref_len, "failed");
			return;
		}
	}
	ei_x_buff x;
	if (ok_head(&x, r->ref, r->ref_len, 2))
		return;
	int e = ei_x_encode_map_header(&x, 2);
	e |= x_key(&x, "keys");
	if (n)
		e |= ei_x_encode_list_header(&x, (long)n);
	for (size_t i = 0; i < n; i++)
		e |= x_text(&x, fps[i]);
	e |= ei_x_encode_empty_list(&x);
	e |= x_key(&x, "primary");
	e |= n ? x_text(&x, fps[0]) : ei_x_encode_atom(&x, "undefined");
	send_x(p, &x, e);
}

static void handle(cl_port *p, const unsigned char *frame, size_t len)
{
	cl_port_req r;
	char why[320];
	if (cl_port_decode(frame, len, &r, why, sizeof why) != 0) {
		p->bad++;
		send_refusal(p, r.ref, r.ref_len, why);
		return;
	}
	switch (r.cmd) {
	case CL_PCMD_STATUS:
		do_status(p, &r);
		break;
	case CL_PCMD_MEMBERS:
		do_members(p, &r);
		break;
	case CL_PCMD_WHOIS:
		do_whois(p, &r);
		break;
	case CL_PCMD_MINE:
		do_mine(p, &r);
		break;
	case CL_PCMD_MULTICAST:
		do_multicast(p, &r);
		break;
	case CL_PCMD_MULTICALL:
		do_multicall(p, &r);
		break;
	case CL_PCMD_ANSWER:
		do_answer(p, &r);
		break;
	case CL_PCMD_REPLY:
		do_reply(p, &r);
		break;
	case CL_PCMD_JOIN:
		do_join(p, &r);
		break;
	case CL_PCMD_LEAVE:
		reply_result(p, r.ref, r.ref_len, cloister_leave(p->node));
		break;
	case CL_PCMD_KEYS:
		do_keys(p, &r);
		break;
	}
	cl_port_req_free(&r);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

static void on_read(struct bufferevent *bev, void *arg)
{
	cl_port *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in), want;
		if (p->framer.skip) {
			want = avail < SKIP_CHUNK ? avail : SKIP_CHUNK;
		} else {
			unsigned char h[4];
			if (avail < 4 || evbuffer_copyout(in, h, 4) != 4)
				break;
			uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
				     (uint32_t)h[2] << 8 | h[3];
			want = n > CL_PORT_FRAME_MAX ? 4 : 4 + (size_t)n;
			if (avail < want)
				break;
		}
		if (!want)
			break;
		const unsigned char *buf = evbuffer_pullup(in, (ev_ssize_t)want);
		if (!buf)
			break; /* out of memory: again on the next read */
		size_t used, flen;
		const unsigned char *frame;
		cl_frame_result fr = cl_port_frame_next(&p->framer, buf, want,
							&used, &frame, &flen);
		if (fr == CL_FRAME_OK) {
			handle(p, frame, flen);
		} else if (fr == CL_FRAME_OVERSIZE) {
			char why[128];
			p->bad++;
			snprintf(why, sizeof why,
				 "frame of %" PRIu64 " bytes; at most %u: dropped",
				 p->framer.skip, CL_PORT_FRAME_MAX);
			send_refusal(p, NULL, 0, why);
		}
		evbuffer_drain(in, used);
		if (!used)
			break;
	}
}

/* Base thread, every CL_PENDING_EXPIRE_MS. */
static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	cl_port *p = arg;
	cl_pending_expire(&p->calls);
}

static void on_closed_ev(evutil_socket_t fd, short what, void *arg)
{
	cl_port *p = arg;
	if (p->closed_fired)
		return;
	p->closed_fired = true;
	if (p->on_closed)
		p->on_closed(p->arg);
}

/* Input ended or output failed: the BEAM is gone.  Runs with a
 * bufferevent's lock held, so the agent is told from its own event. */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
	cl_port *p = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	atomic_store(&p->dead, true);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	/* Nobody is left to answer the calls kept for the BEAM. */
	pthread_mutex_lock(&p->lock);
	cl_pcall *orphans = cl_pending_take(&p->calls, 0, true);
	pthread_mutex_unlock(&p->lock);
	cl_pending_release(orphans);
	event_active(p->closed_ev, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static void send_hello(cl_port *p)
{
	cloister_snapshot *s;
	if (cloister_snapshot_get(p->node, &s) != 0)
		return;
	ei_x_buff x;
	if (ei_x_new_with_version(&x) == 0) {
		int e = ei_x_encode_tuple_header(&x, 2);
		e |= ei_x_encode_atom(&x, "hello");
		e |= ei_x_encode_map_header(&x, 4);
		e |= x_key(&x, "protocol");
		e |= ei_x_encode_long(&x, CL_PORT_PROTOCOL);
		e |= x_key(&x, "frame_max");
		e |= ei_x_encode_ulong(&x, CL_PORT_FRAME_MAX);
		e |= x_key(&x, "status");
		e |= x_status(&x, p->node, s);
		e |= x_key(&x, "members");
		e |= x_members(&x, p->node);
		send_x(p, &x, e);
	}
	cloister_snapshot_free(s);
}

static void ei_setup(void)
{
	ei_init();
}

cl_port *cl_port_new(struct event_base *base, cloister_t *node,
		     cl_topics *topics, int in_fd, int out_fd,
		     void (*on_closed)(void *), void *arg, char *why,
		     size_t whylen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, ei_setup);
	cl_port *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(why, whylen, "out of memory");
		close(out_fd);
		return NULL;
	}
	p->base = base;
	p->node = node;
	p->on_closed = on_closed;
	p->arg = arg;
	atomic_init(&p->dead, false);
	cl_pending_init(&p->calls, &p->lock, &p->cond);
	p->topics = topics;
	p->owner = cl_topics_new_owner(topics);
	if (cl_topics_reserve(topics, p->owner, CL_PORT_TOPIC) != 0) {
		snprintf(why, whylen, "topic %s is answered by someone else",
			 CL_PORT_TOPIC);
		close(out_fd);
		cl_pending_destroy(&p->calls);
		free(p);
		return NULL;
	}
	p->in_fd = in_fd;
	p->in_flags = fcntl(in_fd, F_GETFL);
	if (evutil_make_socket_nonblocking(in_fd) != 0 ||
	    evutil_make_socket_nonblocking(out_fd) != 0) {
		snprintf(why, whylen, "cannot make stdin/stdout non-blocking: %s",
			 strerror(errno));
		close(out_fd);
		cl_port_free(p);
		return NULL;
	}
	p->in = bufferevent_socket_new(base, in_fd, 0);
	p->out = bufferevent_socket_new(base, out_fd,
					BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
	p->closed_ev = event_new(base, -1, 0, on_closed_ev, p);
	p->expire = event_new(base, -1, EV_PERSIST, on_expire, p);
	struct timeval every = {0, CL_PENDING_EXPIRE_MS * 1000};
	if (!p->in || !p->out || !p->closed_ev || !p->expire ||
	    event_add(p->expire, &every) != 0) {
		snprintf(why, whylen, "out of memory");
		if (!p->out)
			close(out_fd);
		cl_port_free(p);
		return NULL;
	}
	bufferevent_setcb(p->in, on_read, NULL, on_event, p);
	bufferevent_setcb(p->out, NULL, NULL, on_event, p);
	bufferevent_enable(p->in, EV_READ);
	bufferevent_enable(p->out, EV_WRITE);
	send_hello(p);
	return p;
}

void cl_port_free(cl_port *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* No handler of ours starts after this, and none nor any listener
	 * call is still running after cloister_set_listener (it waits for
	 * the node's delivery in progress). */
	cl_topics_release(p->topics, p->owner);
	if (p->out)
		cloister_set_listener(p->node, NULL);
	/* Multicalls cannot be cancelled: each ends within its timeout. */
	pthread_mutex_lock(&p->lock);
	while (p->running)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (p->in)
		bufferevent_free(p->in);
	if (p->in_flags >= 0 && p->in)
		fcntl(p->in_fd, F_SETFL, p->in_flags);
	if (p->out) {
		/* What is still queued goes out if the BEAM reads it now;
		 * never waiting for it (it may be hung). */
		struct evbuffer *o = bufferevent_get_output(p->out);
		int fd = bufferevent_getfd(p->out);
		while (!atomic_load(&p->dead) && fd >= 0 &&
		       evbuffer_get_length(o) && evbuffer_write(o, fd) > 0)
			;
		bufferevent_free(p->out);
	}
	if (p->closed_ev)
		event_free(p->closed_ev);
	if (p->expire)
		event_free(p->expire);
	cl_pending_destroy(&p->calls);
	free(p);
}

#else /* !CLOISTER_HAVE_EI */

bool cl_port_available(void)
{
	return false;
}

cl_port *cl_port_new(struct event_base *base, cloister_t *node,
		     cl_topics *topics, int in_fd, int out_fd,
		     void (*on_closed)(void *), void *arg, char *why,
		     size_t whylen)
{
	snprintf(why, whylen,
		 "this cloister was built without erl_interface (ei.h, libei "
		 "from erlang-dev), so --stdio etf is not available: install "
		 "erlang-dev and rebuild");
	close(out_fd);
	return NULL;
}

void cl_port_state(cl_port *p, cloister_state from, cloister_state to,
		   const cloister_snapshot *s)
{
}

void cl_port_member(cl_port *p, int event, const char *event_name,
		    const cloister_member *m)
{
}

void cl_port_sentry(cl_port *p, const char *sentry)
{
}

void cl_port_free(cl_port *p)
{
}

#endif
