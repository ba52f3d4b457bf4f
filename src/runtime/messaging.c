/*
 * messaging.c — handlers, multicast, send-to-owner, multicall (see
 * messaging.h for the queues and their bounds).
 */
#include "messaging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "loop.h"

#define HANDLERS_MAX 256
/* Messages sent per drain: a batch big enough to keep up with a busy
 * application, small enough that one turn of the loop stays short. */
#define DRAIN_BATCH 64

struct umsg {
	struct umsg *next;
	cl_addr to;   /* outbound: destination; inbound: sender's address */
	uint64_t to_id; /* outbound: the recipient's name id */
	uint8_t kind;
	uint32_t id;
	char topic[CL_WIRE_NAME_MAX + 1];
	char peer[CL_WIRE_NAME_MAX + 1]; /* inbound: the sender's name */
	bool local;   /* outbound to ourselves: loop back without a socket */
	size_t len;
	uint8_t payload[];
};

struct queue {
	struct umsg *head, *tail;
	size_t n;
};

struct handler {
	char topic[CL_WIRE_NAME_MAX + 1];
	cloister_handler_fn fn;
	void *arg;
};

struct call {
	uint32_t id;
	size_t n;          /* members called */
	char **names;
	void **payloads;   /* NULL until answered */
	size_t *lens;
	bool *answered;
	size_t answers;
	struct call *next;
};

/* A call a handler kept to answer later (cloister_call_defer).  It is on
 * its node's list until answered or dropped, so that cloister_free can cut
 * it loose (c = NULL) instead of leaving it a dangling node. */
struct cloister_call {
	struct cloister_call *next, *prev;
	cloister_t *c; /* NULL once the node is freed */
	cl_addr to;    /* where the call came from */
	uint32_t id;
	char peer[CL_WIRE_NAME_MAX + 1];
	char topic[CL_WIRE_NAME_MAX + 1];
};

struct cl_messaging {
	size_t queue_max, max_calls;
	struct queue in, out;
	struct handler handlers[HANDLERS_MAX];
	size_t n_handlers;
	struct call *calls;
	size_t n_calls;
	/* Calls kept by handlers, at most queue_max: each holds a caller's
	 * slot until answered, so a caller calling faster than the
	 * application answers meets the same bound as the inbound queue. */
	struct cloister_call *held;
	size_t n_held;
	struct cl_messaging_stats stats;
};

/* The message whose handler runs on this thread now, for
 * cloister_call_defer (NULL outside a handler). */
struct delivering {
	cloister_t *c;
	const struct umsg *u;
	cloister_call *kept;
};
static _Thread_local struct delivering *delivering_now;

struct cl_messaging *cl_messaging_new(size_t queue_max, size_t max_calls)
{
	struct cl_messaging *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->queue_max = queue_max ? queue_max : 1024;
	m->max_calls = max_calls ? max_calls : 256;
	return m;
}

static void queue_clear(struct queue *q)
{
	while (q->head) {
		struct umsg *u = q->head;
		q->head = u->next;
		free(u);
	}
	q->tail = NULL;
	q->n = 0;
}

void cl_messaging_free(struct cl_messaging *m)
{
	if (!m)
		return;
	/* Kept calls outlive the node: their holder may still answer or
	 * drop them, which then only frees them. */
	for (struct cloister_call *k = m->held; k; k = k->next)
		k->c = NULL;
	queue_clear(&m->in);
	queue_clear(&m->out);
	free(m);
}

static void push(struct queue *q, struct umsg *u)
{
	u->next = NULL;
	if (q->tail)
		q->tail->next = u;
	else
		q->head = u;
	q->tail = u;
	q->n++;
}

static struct umsg *pop(struct queue *q)
{
	struct umsg *u = q->head;
	if (u) {
		q->head = u->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
	}
	return u;
}

static struct umsg *umsg_new(uint8_t kind, uint32_t id, const char *topic,
			     size_t topic_len, const void *payload, size_t len)
{
	struct umsg *u = malloc(sizeof *u + len);
	if (!u)
		return NULL;
	memset(u, 0, sizeof *u);
	u->kind = kind;
	u->id = id;
	memcpy(u->topic, topic, topic_len);
	u->topic[topic_len] = '\0';
	u->len = len;
	if (len)
		memcpy(u->payload, payload, len);
	return u;
}

bool cl_messaging_pending(const cloister_t *c)
{
	return c->msg && c->msg->out.n > 0;
}

void cl_messaging_stats(const cloister_t *c, struct cl_messaging_stats *out)
{
	memset(out, 0, sizeof *out);
	if (c->msg)
		*out = c->msg->stats;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static void call_free(struct call *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->names[i]);
		free(k->payloads[i]);
	}
	free(k->names);
	free(k->payloads);
	free(k->lens);
	free(k->answered);
	free(k);
}

/* An id no pending call has: 32 random bits, so that nobody can answer a
 * call by guessing its id (0 is left for casts). */
static uint32_t fresh_call_id(const struct cl_messaging *m)
{
	for (;;) {
		uint32_t id = randombytes_random();
		bool taken = id == 0;
		for (const struct call *k = m->calls; k && !taken; k = k->next)
			taken = k->id == id;
		if (!taken)
			return id;
	}
}

/* A reply for one of our calls (node lock held). */
static void take_reply(cloister_t *c, uint32_t id, const char *from,
		       const void *payload, size_t len)
{
	struct cl_messaging *m = c->msg;
	for (struct call *k = m->calls; k; k = k->next) {
		if (k->id != id)
			continue;
		for (size_t i = 0; i < k->n; i++) {
			if (k->answered[i] || strcmp(k->names[i], from) != 0)
				continue;
			k->payloads[i] = malloc(len ? len : 1);
			if (!k->payloads[i])
				return;
			if (len)
				memcpy(k->payloads[i], payload, len);
			k->lens[i] = len;
			k->answered[i] = true;
			k->answers++;
			m->stats.replies++;
			pthread_cond_broadcast(&c->changed);
			return;
		}
	}
	m->stats.replies_refused++;
}

/* ------------------------------------------------------------------ */
/* Inbound                                                             */
/* ------------------------------------------------------------------ */

void cl_messaging_on_user(cloister_t *c, const cl_addr *from,
			  const cl_wire_msg *msg)
{
	struct cl_messaging *m = c->msg;
	if (!m)
		return;
	/* Sealed: the name must be the authenticated sender's own. */
	if (c->rx_authenticated &&
	    cl_swim_name_id(msg->u.user.sender.ptr, msg->u.user.sender.len) !=
		    c->rx_sender) {
		m->stats.forged++;
		return;
	}
	char sender[CL_WIRE_NAME_MAX + 1];
	memcpy(sender, msg->u.user.sender.ptr, msg->u.user.sender.len);
	sender[msg->u.user.sender.len] = '\0';
	if (msg->u.user.kind == CL_USER_REPLY) {
		take_reply(c, msg->u.user.id, sender, msg->u.user.payload.ptr,
			   msg->u.user.payload.len);
		return;
	}
	if (m->in.n >= m->queue_max) {
		m->stats.in_dropped++;
		return;
	}
	struct umsg *u = umsg_new(msg->u.user.kind, msg->u.user.id,
				  (const char *)msg->u.user.topic.ptr,
				  msg->u.user.topic.len, msg->u.user.payload.ptr,
				  msg->u.user.payload.len);
	if (!u) {
		m->stats.in_dropped++;
		return;
	}
	u->to = *from;
	memcpy(u->peer, sender, sizeof sender);
	push(&m->in, u);
	m->stats.in++;
}

static struct handler *handler_for(struct cl_messaging *m, const char *topic)
{
	for (size_t i = 0; i < m->n_handlers; i++)
		if (!strcmp(m->handlers[i].topic, topic))
			return &m->handlers[i];
	return NULL;
}

/* Queues an outbound message (node lock held). */
static int enqueue_out(cloister_t *c, const cl_addr *to, const char *to_name,
		       bool local, uint8_t kind, uint32_t id,
		       const char *topic, const void *payload, size_t len)
{
	struct cl_messaging *m = c->msg;
	if (m->out.n >= m->queue_max) {
		m->stats.out_refused++;
		return CLOISTER_ELIMIT;
	}
	struct umsg *u = umsg_new(kind, id, topic, strlen(topic), payload, len);
	if (!u)
		return CLOISTER_ENOMEM;
	if (to)
		u->to = *to;
	if (to_name)
		u->to_id = cl_swim_name_id(to_name, strlen(to_name));
	u->local = local;
	push(&m->out, u);
	return 0;
}

static int answer(cloister_t *c, const char *peer, const cl_addr *from,
		  uint32_t id, const char *topic, const void *reply,
		  size_t len);

void cl_messaging_deliver(cloister_t *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		struct cl_messaging *m = c->msg;
		struct umsg *u = m ? pop(&m->in) : NULL;
		struct handler h = {0};
		if (u) {
			struct handler *hp = handler_for(m, u->topic);
			if (hp)
				h = *hp;
		}
		pthread_mutex_unlock(&c->lock);
		if (!u)
			return;
		void *reply = NULL;
		size_t reply_len = 0;
		struct delivering now = {c, u, NULL};
		if (h.fn) {
			struct delivering *outer = delivering_now;
			delivering_now = &now;
			h.fn(h.arg, u->topic, u->peer, u->payload, u->len,
			     u->kind == CL_USER_CALL ? &reply : NULL, &reply_len);
			delivering_now = outer;
		}
		/* A kept call is answered later, through its handle. */
		if (u->kind == CL_USER_CALL && h.fn && !now.kept)
			answer(c, u->peer, &u->to, u->id, u->topic, reply,
			       reply_len);
		free(reply);
		free(u);
	}
}

/* Answers a call from peer (received from *from) with id: to ourselves
 * straight into the call, else at the address peer advertises (the
 * packet's source may be a connection's port).  Takes the node lock.
 * 0, or enqueue_out's error (the outbound queue is full: no answer). */
static int answer(cloister_t *c, const char *peer, const cl_addr *from,
		  uint32_t id, const char *topic, const void *reply,
		  size_t len)
{
	int e = 0;
	pthread_mutex_lock(&c->lock);
	const char *me = c->name_text;
	if (!strcmp(peer, me)) {
		take_reply(c, id, me, reply, len);
	} else {
		cl_swim_member_view v;
		cl_addr to = *from;
		if (cl_swim_lookup(c->core, peer, strlen(peer), &v))
			to = v.addr;
		e = enqueue_out(c, &to, peer, false, CL_USER_REPLY, id, topic,
				reply, len);
	}
	bool kick = cl_messaging_pending(c);
	pthread_mutex_unlock(&c->lock);
	if (kick && c->loop)
		cl_loop_kick(c->loop);
	else if (kick)
		cl_messaging_drain(c);
	return e;
}

/* ------------------------------------------------------------------ */
/* Outbound                                                            */
/* ------------------------------------------------------------------ */

/* Encodes and sends one message (node lock held). */
static void send_one(cloister_t *c, struct umsg *u)
{
	const char *me = c->name_text;
	cl_bytes topic = {(const uint8_t *)u->topic, strlen(u->topic)};
	cl_bytes sender = {(const uint8_t *)me, strlen(me)};
	size_t label_len = strlen(c->cfg.app);
	size_t need = 5 + label_len +
		      cl_wire_user_size(topic.len, sender.len, u->len);
	bool stream = need > c->cfg_mtu;
	uint8_t small[1500];
	uint8_t *buf = stream ? malloc(need) : small;
	if (!buf)
		return;
	cl_wbuf w;
	if (cl_wire_begin(&w, buf, need, c->cfg.app, label_len) &&
	    cl_wire_put_user(&w, u->kind, u->id, topic, sender,
			     (cl_bytes){u->payload, u->len})) {
		node_transmit(c, &u->to, u->to_id, buf, w.len, stream);
		c->msg->stats.out++;
	}
	if (stream)
		free(buf);
}

void cl_messaging_drain(cloister_t *c)
{
	struct umsg *local = NULL, **tail = &local;
	pthread_mutex_lock(&c->lock);
	struct cl_messaging *m = c->msg;
	for (int i = 0; m && i < DRAIN_BATCH; i++) {
		struct umsg *u = pop(&m->out);
		if (!u)
			break;
		if (u->local) {
			/* To ourselves: straight to the inbound queue. */
			strcpy(u->peer, c->name_text);
			*tail = u;
			tail = &u->next;
			u->next = NULL;
			continue;
		}
		send_one(c, u);
		free(u);
	}
	while (local) {
		struct umsg *u = local;
		local = u->next;
		if (m->in.n < m->queue_max) {
			push(&m->in, u);
			m->stats.in++;
		} else {
			m->stats.in_dropped++;
			free(u);
		}
	}
	bool more = m && m->out.n > 0;
	bool inbound = m && m->in.n > 0;
	pthread_mutex_unlock(&c->lock);
	if (inbound) {
		pthread_mutex_lock(&c->deliver);
		cl_messaging_deliver(c);
		pthread_mutex_unlock(&c->deliver);
	}
	if (more && c->loop)
		cl_loop_kick(c->loop);
}

static void kick(cloister_t *c)
{
	if (c->loop)
		cl_loop_kick(c->loop);
	else
		cl_messaging_drain(c);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static bool topic_ok(const char *topic)
{
	return topic && cl_wire_name_valid((const uint8_t *)topic,
					   strlen(topic));
}

int cloister_handle(cloister_t *c, const char *topic, cloister_handler_fn fn,
		    void *arg)
{
	if (!c || !topic_ok(topic))
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	struct cl_messaging *m = c->msg;
	int e = 0;
	struct handler *h = handler_for(m, topic);
	if (!fn) {
		if (h)
			*h = m->handlers[--m->n_handlers];
		else
			e = CLOISTER_ENOENT;
	} else if (h) {
		h->fn = fn;
		h->arg = arg;
	} else if (m->n_handlers == HANDLERS_MAX) {
		e = CLOISTER_ELIMIT;
	} else {
		h = &m->handlers[m->n_handlers++];
		strcpy(h->topic, topic);
		h->fn = fn;
		h->arg = arg;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

struct targets {
	cl_addr *addrs;
	char **names;
	size_t n, cap;
	bool include_self;
	const char *self;
};

static bool collect_alive(void *arg, const cl_swim_member_view *v)
{
	struct targets *t = arg;
	if (v->status != CL_STATUS_ALIVE && v->status != CL_STATUS_SUSPECT)
		return true;
	bool is_self = v->name_len == strlen(t->self) &&
		       !memcmp(v->name, t->self, v->name_len);
	if (is_self && !t->include_self)
		return true;
	if (t->n == t->cap)
		return false;
	t->addrs[t->n] = v->addr;
	t->names[t->n] = strndup(v->name, v->name_len);
	if (!t->names[t->n])
		return false;
	t->n++;
	return true;
}

static void targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	free(t->addrs);
}

/* Alive members (node lock held). */
static int alive_targets(cloister_t *c, bool include_self, struct targets *t)
{
	memset(t, 0, sizeof *t);
	t->cap = cl_swim_count(c->core, CL_STATUS_ALIVE) +
		 cl_swim_count(c->core, CL_STATUS_SUSPECT) + 1;
	t->addrs = calloc(t->cap, sizeof *t->addrs);
	t->names = calloc(t->cap, sizeof *t->names);
	t->include_self = include_self;
	t->self = c->name_text;
	if (!t->addrs || !t->names) {
		targets_free(t);
		return CLOISTER_ENOMEM;
	}
	cl_swim_foreach(c->core, collect_alive, t);
	return 0;
}

int cloister_multicast(cloister_t *c, const char *topic, const void *payload,
		       size_t len, const char *const *members, size_t n)
{
	if (!c || !c->msg || !topic_ok(topic) || (!payload && len) ||
	    len > CL_WIRE_USER_MAX || (!members && n))
		return CLOISTER_EINVAL;
	pthread_mutex_lock(&c->lock);
	int sent = 0, e = 0;
	if (!members) {
		struct targets t;
		e = alive_targets(c, false, &t);
		for (size_t i = 0; e == 0 && i < t.n; i++) {
			e = enqueue_out(c, &t.addrs[i], t.names[i], false,
					CL_USER_CAST, 0, topic, payload, len);
			sent += e == 0;
		}
		targets_free(&t);
	} else {
		const char *me = c->name_text;
		for (size_t i = 0; e == 0 && i < n; i++) {
			cl_swim_member_view v;
			bool self = !strcmp(members[i], me);
			if (!self && !cl_swim_lookup(c->core, members[i],
						     strlen(members[i]), &v))
				continue;
			e = enqueue_out(c, self ? NULL : &v.addr, members[i],
					self, CL_USER_CAST, 0, topic, payload,
					len);
			sent += e == 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (sent)
		kick(c);
	return e ? e : sent;
}

int cloister_send(cloister_t *c, const char *ring, const void *key,
		  size_t keylen, const char *topic, const void *payload,
		  size_t len)
{
	char owner[CLOISTER_NAME_MAX + 1];
	int e = cloister_whois(c, ring, key, keylen, owner);
	if (e < 0)
		return e;
	const char *to[1] = {owner};
	e = cloister_multicast(c, topic, payload, len, to, 1);
	return e < 0 ? e : e == 1 ? 0 : CLOISTER_ENOENT;
}

int cloister_multicall(cloister_t *c, const char *topic, const void *payload,
		       size_t len, int timeout_ms,
		       cloister_multicall_result **out)
{
	if (!c || !c->msg || !topic_ok(topic) || (!payload && len) ||
	    len > CL_WIRE_USER_MAX || !out || timeout_ms < 0)
		return CLOISTER_EINVAL;
	struct cl_messaging *m = c->msg;
	pthread_mutex_lock(&c->lock);
	if (m->n_calls >= m->max_calls) {
		pthread_mutex_unlock(&c->lock);
		return CLOISTER_ELIMIT;
	}
	struct targets t;
	int e = alive_targets(c, true, &t);
	struct call *k = e ? NULL : calloc(1, sizeof *k);
	if (!k) {
		if (!e)
			targets_free(&t);
		pthread_mutex_unlock(&c->lock);
		return CLOISTER_ENOMEM;
	}
	k->id = fresh_call_id(m);
	k->n = t.n;
	k->names = t.names; /* the call owns them now */
	k->payloads = calloc(t.n ? t.n : 1, sizeof *k->payloads);
	k->lens = calloc(t.n ? t.n : 1, sizeof *k->lens);
	k->answered = calloc(t.n ? t.n : 1, sizeof *k->answered);
	if (!k->payloads || !k->lens || !k->answered) {
		t.names = NULL;
		t.n = 0;
		targets_free(&t);
		call_free(k);
		pthread_mutex_unlock(&c->lock);
		return CLOISTER_ENOMEM;
	}
	const char *me = c->name_text;
	for (size_t i = 0; i < t.n && e == 0; i++) {
		bool self = !strcmp(t.names[i], me);
		e = enqueue_out(c, self ? NULL : &t.addrs[i], t.names[i], self,
				CL_USER_CALL, k->id, topic, payload, len);
	}
	free(t.addrs);
	k->next = m->calls;
	m->calls = k;
	m->n_calls++;
	m->stats.calls++;
	pthread_mutex_unlock(&c->lock);
	kick(c);

	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	int w = 0;
	while (k->answers < k->n && w != ETIMEDOUT)
		w = pthread_cond_timedwait(&c->changed, &c->lock, &until);
	/* Unlink, then build the result from what came in. */
	for (struct call **pp = &m->calls; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	m->n_calls--;
	pthread_mutex_unlock(&c->lock);

	cloister_multicall_result *r = calloc(1, sizeof *r);
	if (r) {
		r->replies = calloc(k->answers ? k->answers : 1,
				    sizeof *r->replies);
		r->missing = calloc(k->n - k->answers + 1, sizeof *r->missing);
	}
	if (!r || !r->replies || !r->missing) {
		if (r) {
			free(r->replies);
			free(r->missing);
			free(r);
		}
		call_free(k);
		return CLOISTER_ENOMEM;
	}
	for (size_t i = 0; i < k->n; i++) {
		if (k->answered[i]) {
			cloister_reply *rp = &r->replies[r->n_replies++];
			rp->member = k->names[i];
			rp->payload = k->payloads[i];
			rp->len = k->lens[i];
		} else {
			r->missing[r->n_missing++] = k->names[i];
		}
		k->names[i] = NULL;
		k->payloads[i] = NULL;
	}
	call_free(k);
	*out = r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Calls answered later                                                */
/* ------------------------------------------------------------------ */

cloister_call *cloister_call_defer(cloister_t *c)
{
	struct delivering *d = delivering_now;
	if (!c || !d || d->c != c || d->u->kind != CL_USER_CALL)
		return NULL;
	if (d->kept)
		return d->kept;
	struct cl_messaging *m = c->msg;
	cloister_call *k = NULL;
	pthread_mutex_lock(&c->lock);
	if (m->n_held >= m->queue_max) {
		m->stats.defer_refused++;
	} else if ((k = calloc(1, sizeof *k))) {
		k->c = c;
		k->to = d->u->to;
		k->id = d->u->id;
		memcpy(k->peer, d->u->peer, sizeof k->peer);
		memcpy(k->topic, d->u->topic, sizeof k->topic);
		k->next = m->held;
		if (m->held)
			m->held->prev = k;
		m->held = k;
		m->n_held++;
		m->stats.deferred++;
	}
	pthread_mutex_unlock(&c->lock);
	d->kept = k;
	return k;
}

/* Takes k off its node's list (node lock held). */
static void unhold(struct cl_messaging *m, cloister_call *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		m->held = k->next;
	if (k->next)
		k->next->prev = k->prev;
	m->n_held--;
}

int cloister_call_answer(cloister_call *k, const void *payload, size_t len)
{
	if (!k)
		return CLOISTER_EINVAL;
	cloister_t *c = k->c;
	bool valid = (payload || !len) && len <= CL_WIRE_USER_MAX;
	int e = !c ? CLOISTER_ESTATE : !valid ? CLOISTER_EINVAL : 0;
	if (c) {
		pthread_mutex_lock(&c->lock);
		unhold(c->msg, k);
		if (!valid)
			c->msg->stats.deferred_dropped++;
		pthread_mutex_unlock(&c->lock);
		if (valid)
			e = answer(c, k->peer, &k->to, k->id, k->topic,
				   payload, len);
	}
	free(k);
	return e;
}

void cloister_call_drop(cloister_call *k)
{
	if (!k)
		return;
	cloister_t *c = k->c;
	if (c) {
		pthread_mutex_lock(&c->lock);
		unhold(c->msg, k);
		c->msg->stats.deferred_dropped++;
		pthread_mutex_unlock(&c->lock);
	}
	free(k);
}

void cloister_multicall_free(cloister_multicall_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_replies; i++) {
		free((void *)r->replies[i].member);
		free((void *)r->replies[i].payload);
	}
	for (size_t i = 0; i < r->n_missing; i++)
		free((void *)r->missing[i]);
	free(r->replies);
	free(r->missing);
	free(r);
}
