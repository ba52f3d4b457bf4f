/*
 * http_api.c — the agent's control API on libevent's evhttp.
 *
 * Threads.  evhttp is not thread-safe, so everything HTTP happens on the
 * base's thread.  Three kinds of work come from elsewhere and are handed
 * over through api->lock and event_active() (safe from any thread once
 * evthread_use_pthreads() is in effect, which the runtime ensures):
 *   - events, published from the node's thread: queued per subscriber,
 *     then the "wake" event has the base thread write them out;
 *   - multicalls, which block for up to their timeout: each runs on a
 *     short-lived worker thread whose result comes back through "done";
 *   - calls on topics a subscriber answers: the handler runs on the
 *     node's thread, keeps the call (pending_calls.h) and returns; POST
 *     /v1/reply answers it from the base thread.
 * Lock order: api->lock is innermost, and no cloister_* function is ever
 * called with it held (they take the node's locks).
 *
 * Listeners ("fronts").  The TCP listener, the Unix socket and the probe
 * listener are three evhttp servers, each with its own connection records
 * and its own admission rules (api_guard.h), so one cannot starve another.
 *
 * Connections.  evhttp 2.1 has no connection limit (evhttp_set_max_
 * connections came in 2.2) and no callback at accept, but it asks us for
 * each accepted connection's bufferevent (evhttp_set_bevcb).  That is
 * where a connection takes its record: the record holds a reference on
 * the bufferevent until the "adopt" event, queued at that moment, runs in
 * the same loop iteration, after evhttp has finished setting the
 * connection up and before any byte is read from it.  Adopting finds the
 * evhttp connection (the bufferevent's callback argument), sets its close
 * callback (which frees the record) and arms the request deadline.  When
 * every record is taken the listener stops accepting (later connections
 * wait in the kernel's backlog) until one is freed.
 */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <sodium.h>

#include "api_guard.h"
#include "core/addr.h"
#include "json.h"
#include "metrics.h"
#include "pending_calls.h"
#include "query.h"
#include "runtime/ring_view.h"
#include "runtime/timings.h"
#include "ui.h"

/* ------------------------------------------------------------------ */
/* Bounds                                                              */
/* ------------------------------------------------------------------ */

/* A control API serves a handful of local clients; 64 connections per
 * listener is generous for them and caps what a runaway client can hold. */
#define CONN_MAX 64
/* Probes and scrapers come one at a time. */
#define PROBE_CONN_MAX 16
/* Past the served slots, this many more connections are taken only to be
 * told 503 and closed, so a client learns why; past those, the listener
 * stops accepting until a record frees. */
#define CONN_SPARE 16
/* Streams and multicalls hold their connection for long: each kind may
 * take 3/8 of them, so together they leave a quarter for quick requests. */
#define SUBS_MAX 24
/* Events held per subscriber before the oldest are dropped: a burst of a
 * few seconds of churn in a large cluster... */
#define SUB_QUEUE_MAX 1024
/* ...and their bytes: one event is at most ~6 MiB (a 1 MiB payload of
 * control characters, each escaped as \uXXXX), so one always fits. */
#define SUB_QUEUE_BYTES (8u << 20)
/* Events and bytes written per chunk: bounds what sits in a connection's
 * output buffer, so the per-subscriber queue is the only backlog. */
#define FLUSH_BATCH 256
#define FLUSH_BYTES (256u << 10)
/* Multicalls in flight, one worker thread each (see SUBS_MAX). */
#define MULTICALLS_MAX 24
#define WORKER_STACK (256 * 1024)
/* Request line plus headers: the query string's 8 KiB and room for the
 * usual headers. */
#define HEADERS_MAX (CL_REQ_QUERY_MAX + 8192)
/* evhttp refuses bodies past its limit with an HTML page; letting it read
 * up to twice ours means a body just over the limit still gets a JSON
 * error from us, at the cost of reading at most 2 MiB. */
#define EVHTTP_BODY_MAX (2 * CL_REQ_BODY_MAX)
/* Probes send no bodies. */
#define PROBE_BODY_MAX 4096
/* Read/write timeout of a connection; for a stream, only the write side
 * (a subscriber that stops reading is dropped after this long). */
#define TIMEOUT_S 30
/* A connection must deliver each complete request this long after it was
 * accepted or its previous request was taken: evhttp's own timeout starts
 * again with every byte, so without this a client sending one header byte
 * every 29 s keeps its descriptor for ever.  Our clients send a request
 * at once; 10 s is for a slow machine. */
#define REQUEST_DEADLINE_MS 10000
/* A spare connection only waits for its request to be told 503. */
#define SPARE_DEADLINE_MS 2000
/* After accept() fails (descriptors exhausted, say), a listener pauses
 * this long instead of retrying at once in a loop that floods the log. */
#define ACCEPT_BACKOFF_MS 100

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* One event, shared by every subscriber queue that holds it. */
struct line {
	unsigned refs; /* under api->lock */
	size_t len;
	char text[]; /* ends with '\n' */
};

struct conn;
struct front;

struct sub {
	struct sub *next;
	struct conn *conn;
	struct evhttp_request *req;
	uint64_t owner; /* of its topics in api->topics, and of its calls */
	/* Given to the subscriber in its "answering" event; a reply must
	 * carry it (hex, lowercase). */
	char secret[CL_REQ_SUBSCRIBER_HEX + 1];
	char **answer;
	size_t n_answer;
	bool in_flight; /* a chunk is being written (base thread) */
	/* Under api->lock: */
	struct line *q[SUB_QUEUE_MAX];
	size_t head, n, bytes;
	uint64_t dropped; /* since the last "dropped" event */
};

struct job {
	struct job *next;
	cl_http_api *api;
	struct evhttp_request *req;
	struct conn *conn; /* NULL once the connection closed */
	char *topic, *data;
	size_t data_len;
	int timeout_ms;
	int err;
	cloister_multicall_result *res;
};

enum conn_state { CONN_FREE, CONN_ADOPTING, CONN_OPEN };

struct conn {
	struct front *f;
	enum conn_state state;
	bool spare;    /* past the served slots: told 503, then closed */
	bool stranger; /* Unix socket: a peer of another uid, refused */
	struct bufferevent *bev;         /* while adopting (one reference) */
	struct evhttp_connection *evcon; /* once open */
	struct event *deadline;
	struct sub *sub;
	struct job *job;
};

/* Requests refused, by reason, for /metrics. */
enum refusal {
	REFUSED_TOKEN,
	REFUSED_HOST,
	REFUSED_ORIGIN,
	REFUSED_TYPE,
	REFUSED_MALFORMED,
	REFUSED_PEER,
	REFUSED_BUSY,
	REFUSED_DEADLINE,
	REFUSALS
};

static const char *const refusal_names[REFUSALS] = {
	"token", "host", "origin", "content_type", "malformed", "peer",
	"busy", "deadline",
};

struct front {
	cl_http_api *api;
	cl_front kind;
	const char *name; /* "http", "unix", "probe": for metrics */
	struct evhttp *http;
	struct evconnlistener *lis;
	bool full;    /* every record taken: not accepting */
	bool backoff; /* accept() failed: not accepting for a moment */
	struct event *adopt, *resume;
	struct conn *conns;
	size_t slots, n_conns, used;
	char host[128];
	cl_guard guard;
	int port;
};

struct cl_http_api {
	struct event_base *base;
	cloister_t *node;
	cl_topics *topics;
	struct front fronts[3]; /* by cl_front; .http NULL when not listening */
	char *token;
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
	struct event *wake, *done_ev;
	struct event *expire; /* kept calls whose time is up */
	uint64_t refused[REFUSALS]; /* base thread */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* workers */
	bool closing;
	bool serving; /* fully set up: free must undo handlers, listener */
	struct sub *subs; /* changed on the base thread, under the lock */
	size_t n_subs;
	struct line *status; /* a new subscriber's first line (one ref) */
	uint64_t dropped_total;
	int64_t members_changed_ms; /* Unix ms of the last member event; 0: none */
	cl_pending calls; /* kept for POST /v1/reply */
	struct job *done;
	size_t running;
};

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return code >= 500 ? "Internal Server Error" : "Error";
	}
}

static void reply_body(struct evhttp_request *req, int code, const char *type,
		       const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* evhttp 2.1 sends a HEAD response's body when the
		 * connection closes after it: give the length, not the
		 * bytes. */
		char n[32];
		snprintf(n, sizeof n, "%zu", len);
		evhttp_add_header(h, "Content-Length", n);
		evhttp_send_reply(req, code, reason(code), NULL);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason(code), b);
	if (b)
		evbuffer_free(b);
}

/* Sends v (consumed) as the response. */
static void reply_json(struct evhttp_request *req, int code, json_t *v)
{
	size_t len = 0;
	char *s = v ? cl_json_line(v, &len) : NULL;
	json_decref(v);
	if (!s) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		reply_body(req, 500, "application/json", oom, sizeof oom - 1);
		return;
	}
	reply_body(req, code, "application/json", s, len);
	free(s);
}

static void reply_error(struct evhttp_request *req, int code,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reply_error(struct evhttp_request *req, int code,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	if (o)
		json_object_set_new(o, "error", cl_json_text(msg, strlen(msg)));
	reply_json(req, code, o);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static void sub_close(struct sub *s, bool end_req);

static void timer_in(struct event *ev, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(ev, &tv);
}

/* The request deadline starts (again) now; see REQUEST_DEADLINE_MS. */
static void conn_arm(struct conn *c)
{
	if (c->state == CONN_OPEN && !c->sub && !c->job)
		timer_in(c->deadline, c->spare ? SPARE_DEADLINE_MS
					       : REQUEST_DEADLINE_MS);
}

/* Lets listeners accept again once a record is free. */
static void front_accept(struct front *f, bool on)
{
	if (!f->lis)
		return;
	if (on && !f->full && !f->backoff)
		evconnlistener_enable(f->lis);
	else if (!on)
		evconnlistener_disable(f->lis);
}

static void conn_release(struct conn *c)
{
	struct front *f = c->f;
	event_del(c->deadline);
	c->state = CONN_FREE;
	c->evcon = NULL;
	c->bev = NULL;
	c->sub = NULL;
	c->job = NULL;
	c->spare = c->stranger = false;
	f->used--;
	if (f->full) {
		f->full = false;
		front_accept(f, true);
	}
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	if (c->state != CONN_OPEN || c->evcon != evcon)
		return;
	if (c->sub)
		sub_close(c->sub, true);
	if (c->job)
		c->job->conn = NULL; /* it still owns its request */
	conn_release(c);
}

/* evhttp asks for an accepted connection's bufferevent: the connection
 * takes its record here (see the top of this file). */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
	struct front *f = arg;
	struct conn *c = NULL;
	size_t served = 0;
	for (size_t i = 0; i < f->n_conns; i++) {
		if (f->conns[i].state == CONN_FREE && !c)
			c = &f->conns[i];
		else if (f->conns[i].state != CONN_FREE && !f->conns[i].spare)
			served++;
	}
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
	/* Without a record (only when out of memory: the listener stops
	 * accepting when they are all taken) the request is told 503. */
	if (!c || !bev)
		return bev;
	c->state = CONN_ADOPTING;
	c->bev = bev;
	c->spare = served >= f->slots;
	bufferevent_incref(bev);
	if (++f->used == f->n_conns) {
		f->full = true;
		front_accept(f, false);
	}
	event_active(f->adopt, EV_READ, 0);
	return bev;
}

/* Whether the peer of a Unix socket connection may use the API: the
 * agent's own uid, or root (DESIGN.md's trust model: the socket's owner).
 * The file's mode keeps others from connecting; this holds even when an
 * operator loosened it. */
static bool peer_trusted(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	return cr.uid == geteuid() || cr.uid == 0;
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;
	for (size_t i = 0; i < f->n_conns; i++) {
		struct conn *c = &f->conns[i];
		if (c->state != CONN_ADOPTING)
			continue;
		struct bufferevent *bev = c->bev;
		bufferevent_data_cb rd, wr;
		bufferevent_event_cb ev;
		void *cbarg = NULL;
		bufferevent_getcb(bev, &rd, &wr, &ev, &cbarg);
		if (!cbarg) {
			/* evhttp gave up on it already (freeing cleared its
			 * callbacks): ours is the last reference. */
			bufferevent_decref(bev);
			conn_release(c);
			continue;
		}
		struct evhttp_connection *evcon = cbarg;
		/* A record still holding this address belongs to a connection
		 * that closed unseen: let it go. */
		for (size_t k = 0; k < f->n_conns; k++)
			if (k != i && f->conns[k].state == CONN_OPEN &&
			    f->conns[k].evcon == evcon)
				on_conn_close(evcon, &f->conns[k]);
		c->state = CONN_OPEN;
		c->evcon = evcon;
		c->bev = NULL;
		evhttp_connection_set_closecb(evcon, on_conn_close, c);
		if (f->kind == CL_FRONT_UNIX)
			c->stranger = !peer_trusted(bufferevent_getfd(bev));
		bufferevent_decref(bev);
		conn_arm(c);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->state != CONN_OPEN || c->sub || c->job)
		return;
	if (!c->spare)
		c->f->api->refused[REFUSED_DEADLINE]++;
	/* Its close callback frees the record. */
	evhttp_connection_free(c->evcon);
}

static struct conn *conn_of(struct front *f, struct evhttp_connection *evcon)
{
	for (size_t i = 0; i < f->n_conns; i++)
		if (f->conns[i].state == CONN_OPEN && f->conns[i].evcon == evcon)
			return &f->conns[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Event streams                                                       */
/* ------------------------------------------------------------------ */

static void line_unref(struct line *l)
{
	if (--l->refs == 0)
		free(l);
}

/* Drops s's oldest event, counted (api->lock held). */
static void sub_drop_oldest(cl_http_api *api, struct sub *s)
{
	struct line *old = s->q[s->head];
	s->head = (s->head + 1) % SUB_QUEUE_MAX;
	s->n--;
	s->bytes -= old->len;
	s->dropped++;
	api->dropped_total++;
	line_unref(old);
}

/* Queues l for s, dropping the oldest past either bound (api->lock held).
 * An event larger than the whole queue is dropped itself. */
static void sub_push(cl_http_api *api, struct sub *s, struct line *l)
{
	if (l->len > SUB_QUEUE_BYTES) {
		s->dropped++;
		api->dropped_total++;
		return;
	}
	while (s->n == SUB_QUEUE_MAX || s->bytes + l->len > SUB_QUEUE_BYTES)
		sub_drop_oldest(api, s);
	s->q[(s->head + s->n) % SUB_QUEUE_MAX] = l;
	s->n++;
	s->bytes += l->len;
	l->refs++;
}

static struct line *line_new(const char *text)
{
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	struct line *l = malloc(sizeof *l + len + 1);
	if (!l)
		return NULL;
	l->refs = 0;
	l->len = len + 1;
	/* Whitespace newlines of a pretty-printed object would split it;
	 * raw newlines cannot occur inside JSON strings, so spaces are
	 * equivalent. */
	for (size_t i = 0; i < len; i++)
		l->text[i] = text[i] == '\n' || text[i] == '\r' ? ' ' : text[i];
	l->text[len] = '\n';
	return l;
}

static bool answers(const struct sub *s, const char *topic)
{
	for (size_t i = 0; i < s->n_answer; i++)
		if (!strcmp(s->answer[i], topic))
			return true;
	return false;
}

void cl_http_api_publish_state(cl_http_api *api, const char *event_line,
			       const char *status_line)
{
	if (!api || !status_line)
		return;
	struct line *st = line_new(status_line);
	if (!st)
		return;
	st->refs = 1;
	struct line *ev = event_line ? line_new(event_line) : NULL;
	pthread_mutex_lock(&api->lock);
	/* One hold of the lock for both: a subscriber gets either the event
	 * (it was there before) or the status it leads to, never both. */
	if (ev)
		for (struct sub *s = api->closing ? NULL : api->subs; s; s = s->next)
			sub_push(api, s, ev);
	if (api->status)
		line_unref(api->status);
	api->status = st;
	if (ev && ev->refs == 0)
		free(ev);
	else if (ev)
		event_active(api->wake, EV_READ, 0);
	pthread_mutex_unlock(&api->lock);
}

bool cl_http_api_listened(cl_http_api *api)
{
	if (!api)
		return false;
	pthread_mutex_lock(&api->lock);
	bool any = api->subs && !api->closing;
	pthread_mutex_unlock(&api->lock);
	return any;
}

void cl_http_api_member_changed(cl_http_api *api)
{
	if (!api)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&api->lock);
	api->members_changed_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_unlock(&api->lock);
}

void cl_http_api_publish(cl_http_api *api, const char *json_line)
{
	if (!api || !json_line)
		return;
	struct line *l = line_new(json_line);
	if (!l)
		return;
	pthread_mutex_lock(&api->lock);
	for (struct sub *s = api->closing ? NULL : api->subs; s; s = s->next)
		sub_push(api, s, l);
	bool queued = l->refs > 0;
	if (!queued)
		free(l);
	else
		event_active(api->wake, EV_READ, 0);
	pthread_mutex_unlock(&api->lock);
}

static void on_chunk_sent(struct evhttp_connection *evcon, void *arg);

/* Writes the next batch of s's queue unless one is still going out. */
static void sub_flush(struct sub *s)
{
	cl_http_api *api = s->conn->f->api;
	if (s->in_flight || !s->req)
		return;
	if (!evhttp_request_get_connection(s->req)) {
		/* Detached by a failure evhttp has not told us about yet. */
		sub_close(s, true);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return;
	pthread_mutex_lock(&api->lock);
	if (s->dropped) {
		evbuffer_add_printf(b, "{\"type\":\"dropped\",\"count\":%" PRIu64
				       "}\n", s->dropped);
		s->dropped = 0;
	}
	size_t out = 0;
	for (int k = 0; k < FLUSH_BATCH && s->n; k++) {
		struct line *l = s->q[s->head];
		if (k > 0 && out + l->len > FLUSH_BYTES)
			break;
		s->head = (s->head + 1) % SUB_QUEUE_MAX;
		s->n--;
		s->bytes -= l->len;
		out += l->len;
		evbuffer_add(b, l->text, l->len);
		line_unref(l);
	}
	pthread_mutex_unlock(&api->lock);
	if (evbuffer_get_length(b)) {
		s->in_flight = true;
		evhttp_send_reply_chunk_with_cb(s->req, b, on_chunk_sent, s);
	}
	evbuffer_free(b);
}

static void on_chunk_sent(struct evhttp_connection *evcon, void *arg)
{
	struct sub *s = arg;
	s->in_flight = false;
	sub_flush(s);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	cl_http_api *api = arg;
	/* The list only changes on this thread, so walking it is safe;
	 * a flush may close its subscriber, hence the saved next. */
	for (struct sub *s = api->subs, *next; s; s = next) {
		next = s->next;
		sub_flush(s);
	}
}

/* Ends a subscription.  end_req: the request is ours to finish if evhttp
 * detached it (the client went away); while still attached, evhttp frees
 * it with its connection. */
static void sub_close(struct sub *s, bool end_req)
{
	cl_http_api *api = s->conn->f->api;
	pthread_mutex_lock(&api->lock);
	for (struct sub **pp = &api->subs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			api->n_subs--;
			break;
		}
	while (s->n) {
		line_unref(s->q[s->head]);
		s->head = (s->head + 1) % SUB_QUEUE_MAX;
		s->n--;
	}
	/* Calls kept for this subscriber have nobody left to answer. */
	cl_pcall *orphans = cl_pending_take(&api->calls, s->owner, false);
	pthread_mutex_unlock(&api->lock);
	cl_pending_release(orphans);
	cl_topics_release(api->topics, s->owner);
	if (end_req && s->req && !evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	if (s->conn->sub == s)
		s->conn->sub = NULL;
	for (size_t i = 0; i < s->n_answer; i++)
		free(s->answer[i]);
	free(s->answer);
	sodium_memzero(s->secret, sizeof s->secret);
	free(s);
}

/* {"type":"answering","topics":[...],"subscriber":SECRET}: what a
 * subscriber answering topics is told first. */
static struct line *answering_line(const struct sub *s)
{
	json_t *o = json_object(), *t = json_array();
	for (size_t i = 0; i < s->n_answer; i++)
		json_array_append_new(t, cl_json_text(s->answer[i],
						      strlen(s->answer[i])));
	json_object_set_new(o, "type", json_string("answering"));
	json_object_set_new(o, "topics", t);
	json_object_set_new(o, "subscriber", json_string(s->secret));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	struct line *l = text ? line_new(text) : NULL;
	free(text);
	return l;
}

static void on_message(void *arg, const char *topic, const char *from,
		       const void *payload, size_t len, void **reply,
		       size_t *reply_len);

static void serve_events(cl_http_api *api, struct conn *c,
			 struct evhttp_request *req, cl_request *r)
{
	if (api->n_subs >= SUBS_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", "5");
		reply_error(req, 503,
			    "too many event subscribers (%d): close a /v1/events "
			    "stream (or a `cloister monitor`) and retry",
			    SUBS_MAX);
		return;
	}
	struct sub *s = calloc(1, sizeof *s);
	if (!s) {
		reply_error(req, 500, "out of memory");
		return;
	}
	s->owner = cl_topics_new_owner(api->topics);
	size_t taken = 0;
	int e = cl_topics_acquire(api->topics, s->owner, r->answer, r->n_answer,
				  on_message, api, &taken);
	if (e) {
		free(s);
		if (e == CLOISTER_EEXIST)
			reply_error(req, 409,
				    "topic '%s' is already answered by another "
				    "subscriber (or the Erlang port): a topic has "
				    "one answerer, and it is free again when that "
				    "one's stream closes",
				    r->answer[taken]);
		else if (e == CLOISTER_ELIMIT)
			reply_error(req, 503,
				    "the node's handler table is full: answer "
				    "fewer topics");
		else
			reply_error(req, 500, "cannot answer those topics: %s",
				    cloister_strerror(e));
		return;
	}
	unsigned char secret[CL_REQ_SUBSCRIBER_HEX / 2];
	randombytes_buf(secret, sizeof secret);
	sodium_bin2hex(s->secret, sizeof s->secret, secret, sizeof secret);
	sodium_memzero(secret, sizeof secret);
	s->answer = r->answer;
	s->n_answer = r->n_answer;
	r->answer = NULL;
	r->n_answer = 0;
	s->conn = c;
	s->req = req;
	c->sub = s;
	event_del(c->deadline);
	struct line *hello = s->n_answer ? answering_line(s) : NULL;

	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/x-ndjson");
	evhttp_add_header(h, "Cache-Control", "no-store");
	/* An idle stream is normal: no read timeout.  A subscriber that does
	 * not take what is written is dropped after the write timeout. */
	struct bufferevent *bev =
		evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	struct timeval wt = {TIMEOUT_S, 0};
	bufferevent_set_timeouts(bev, NULL, &wt);

	pthread_mutex_lock(&api->lock);
	s->next = api->subs;
	api->subs = s;
	api->n_subs++;
	if (hello)
		sub_push(api, s, hello);
	if (api->status)
		sub_push(api, s, api->status);
	pthread_mutex_unlock(&api->lock);
	if (hello && hello->refs == 0)
		free(hello);
	evhttp_send_reply_start(req, 200, "OK");
	sub_flush(s);
}

/* ------------------------------------------------------------------ */
/* Calls answered by subscribers                                       */
/* ------------------------------------------------------------------ */

/* The subscriber answering topic: one at most, the topic table sees to
 * that (api->lock held). */
static struct sub *answerer(cl_http_api *api, const char *topic)
{
	for (struct sub *s = api->closing ? NULL : api->subs; s; s = s->next)
		if (answers(s, topic))
			return s;
	return NULL;
}

static struct sub *sub_by_owner(cl_http_api *api, uint64_t owner)
{
	for (struct sub *s = api->subs; s; s = s->next)
		if (s->owner == owner)
			return s;
	return NULL;
}

static char *call_event(uint64_t id, const char *topic, const char *from,
			const void *payload, size_t len)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	char hex[CL_REQ_CALL_ID_HEX + 1];
	snprintf(hex, sizeof hex, "%016" PRIx64, id);
	json_object_set_new(o, "type", json_string("call"));
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "topic", cl_json_text(topic, strlen(topic)));
	json_object_set_new(o, "from", cl_json_text(from, strlen(from)));
	char *s = cl_json_set_data(o, payload, len) == 0
			  ? json_dumps(o, JSON_COMPACT)
			  : NULL;
	json_decref(o);
	return s;
}

/*
 * Runs on the node's thread for every message on a topic a subscriber
 * answers.  A cast becomes a "message" event for every subscriber; a call
 * becomes a "call" event for the one answering the topic, under a random
 * id, and is kept for the POST /v1/reply with that id from that
 * subscriber (at most CL_CALL_WAIT_MS, see pending_calls.h).  Nothing here
 * waits for the subscriber.
 */
static void on_message(void *arg, const char *topic, const char *from,
		       const void *payload, size_t len, void **reply,
		       size_t *reply_len)
{
	cl_http_api *api = arg;
	(void)reply_len;
	if (!reply) {
		char *ev = cl_json_message_event(topic, from, payload, len);
		if (ev)
			cl_http_api_publish(api, ev);
		free(ev);
		return;
	}
	pthread_mutex_lock(&api->lock);
	struct sub *s = api->closing ? NULL : answerer(api, topic);
	uint64_t owner = s ? s->owner : 0;
	uint64_t id = s ? cl_pending_random_id(&api->calls) : 0;
	pthread_mutex_unlock(&api->lock);
	if (!s)
		return;
	char *text = call_event(id, topic, from, payload, len);
	struct line *l = text ? line_new(text) : NULL;
	free(text);
	cloister_call *call = l ? cloister_call_defer(api->node) : NULL;
	if (!call) {
		free(l);
		return;
	}
	pthread_mutex_lock(&api->lock);
	/* The subscriber may have gone while the event was made.  The event
	 * and the kept call appear together under the lock, so an answer
	 * at once finds the call. */
	s = api->closing ? NULL : sub_by_owner(api, owner);
	if (s)
		sub_push(api, s, l);
	if (l->refs && cl_pending_keep(&api->calls, id, owner, call) == 0)
		call = NULL;
	if (l->refs == 0)
		free(l);
	else
		event_active(api->wake, EV_READ, 0);
	pthread_mutex_unlock(&api->lock);
	cloister_call_drop(call);
}

/* Base thread, every CL_PENDING_EXPIRE_MS. */
static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	cl_http_api *api = arg;
	cl_pending_expire(&api->calls);
}

/* The open subscriber whose secret this is (base thread, where the list
 * changes): every secret is compared, in constant time. */
static struct sub *sub_by_secret(cl_http_api *api, const char *secret)
{
	struct sub *found = NULL;
	for (struct sub *s = api->subs; s; s = s->next)
		if (cl_token_equal(s->secret, strlen(s->secret), secret,
				   strlen(secret)))
			found = s;
	return found;
}

static void serve_reply(cl_http_api *api, struct evhttp_request *req,
			cl_request *r)
{
	struct sub *s = sub_by_secret(api, r->subscriber);
	int e = s ? cl_pending_answer(&api->calls, r->id, s->owner, r->data,
				      r->data_len)
		  : CLOISTER_ENOENT;
	if (e == CLOISTER_ENOMEM) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (e == CLOISTER_ELIMIT) {
		reply_error(req, 503,
			    "the node's outbound message queue is full "
			    "(user_queue_max): the answer to call %016" PRIx64
			    " could not be sent",
			    r->id);
		return;
	}
	if (e) {
		/* One answer for an id never issued, a call of another
		 * subscriber, a subscriber that does not exist: nothing to
		 * learn from the difference. */
		reply_error(req, 404,
			    "no call %016" PRIx64 " is waiting for a reply from "
			    "this subscriber: it was answered, timed out (calls "
			    "are kept %d ms), or was never sent to it",
			    r->id, CL_CALL_WAIT_MS);
		return;
	}
	char hex[CL_REQ_CALL_ID_HEX + 1];
	snprintf(hex, sizeof hex, "%016" PRIx64, r->id);
	reply_json(req, 200, json_pack("{s:s}", "id", hex));
}

/* ------------------------------------------------------------------ */
/* Multicalls                                                          */
/* ------------------------------------------------------------------ */

static void job_free(struct job *j)
{
	cloister_multicall_free(j->res);
	free(j->topic);
	free(j->data);
	free(j);
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	cl_http_api *api = j->api;
	j->err = cloister_multicall(api->node, j->topic, j->data, j->data_len,
				    j->timeout_ms, &j->res);
	pthread_mutex_lock(&api->lock);
	j->next = api->done;
	api->done = j;
	api->running--;
	event_active(api->done_ev, EV_READ, 0);
	pthread_cond_broadcast(&api->cond);
	/* Nothing of api is touched past this unlock: free waits for it. */
	pthread_mutex_unlock(&api->lock);
	return NULL;
}

static void job_reply(struct job *j)
{
	struct evhttp_request *req = j->req;
	if (j->err == CLOISTER_ELIMIT) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", "1");
		reply_error(req, 429,
			    "the node has too many multicalls pending "
			    "(max_calls): retry shortly");
		return;
	}
	if (j->err) {
		reply_error(req, j->err == CLOISTER_EINVAL ? 400 : 500,
			    "multicall failed: %s", cloister_strerror(j->err));
		return;
	}
	json_t *o = json_object(), *replies = json_array(),
	       *missing = json_array();
	for (size_t i = 0; i < j->res->n_replies; i++) {
		const cloister_reply *rp = &j->res->replies[i];
		json_t *e = json_object();
		json_object_set_new(e, "member",
				    cl_json_text(rp->member, strlen(rp->member)));
		cl_json_set_data(e, rp->payload, rp->len);
		json_array_append_new(replies, e);
	}
	for (size_t i = 0; i < j->res->n_missing; i++)
		json_array_append_new(missing,
				      cl_json_text(j->res->missing[i],
						   strlen(j->res->missing[i])));
	json_object_set_new(o, "replies", replies);
	json_object_set_new(o, "missing", missing);
	reply_json(req, 200, o);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	cl_http_api *api = arg;
	pthread_mutex_lock(&api->lock);
	struct job *list = api->done;
	api->done = NULL;
	pthread_mutex_unlock(&api->lock);
	while (list) {
		struct job *j = list;
		list = j->next;
		struct conn *c = j->conn;
		if (c)
			c->job = NULL;
		/* A request whose client left is detached; replying frees it. */
		if (j->req)
			job_reply(j);
		job_free(j);
		/* The connection may carry another request now. */
		if (c && !api->closing)
			conn_arm(c);
	}
}

static void serve_multicall(cl_http_api *api, struct conn *c,
			    struct evhttp_request *req, cl_request *r)
{
	pthread_mutex_lock(&api->lock);
	bool full = api->running >= MULTICALLS_MAX;
	pthread_mutex_unlock(&api->lock);
	if (full) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", "1");
		reply_error(req, 429,
			    "%d multicalls are already running: retry when one "
			    "finishes",
			    MULTICALLS_MAX);
		return;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		reply_error(req, 500, "out of memory");
		return;
	}
	j->api = api;
	j->req = req;
	j->conn = c;
	j->topic = r->topic;
	j->data = r->data;
	j->data_len = r->data_len;
	j->timeout_ms = r->timeout_ms;
	r->topic = r->data = NULL;

	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	pthread_mutex_lock(&api->lock);
	api->running++;
	pthread_mutex_unlock(&api->lock);
	int e = pthread_create(&t, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (e) {
		pthread_mutex_lock(&api->lock);
		api->running--;
		pthread_mutex_unlock(&api->lock);
		job_free(j);
		reply_error(req, 503, "cannot start a worker thread (%s): retry "
				      "later", strerror(e));
		return;
	}
	c->job = j;
	event_del(c->deadline);
}

/* ------------------------------------------------------------------ */
/* Node state                                                          */
/* ------------------------------------------------------------------ */

static json_t *text(const char *s)
{
	return cl_json_text(s, strlen(s));
}

/* Whether the node runs without a cluster key off loopback, because
 * plaintext was asked for: the runtime reports it as the counter
 * "insecure" (1), and a runtime that does not report it has no such
 * mode. */
static bool node_insecure(cl_http_api *api)
{
	cloister_counter cs[128];
	size_t n = 0;
	if (cloister_counters(api->node, cs, 128, &n) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].name, "insecure"))
			return cs[i].value != 0;
	return false;
}

static void serve_status(cl_http_api *api, struct evhttp_request *req)
{
	cloister_snapshot *s;
	int e = cloister_snapshot_get(api->node, &s);
	if (e) {
		reply_error(req, 500, "cannot read the node's state: %s",
			    cloister_strerror(e));
		return;
	}
	json_t *o = json_object(), *rings = json_object();
	json_object_set_new(o, "node", text(s->node));
	json_object_set_new(o, "address", text(cloister_address(api->node)));
	json_object_set_new(o, "status", json_string(cloister_state_name(s->state)));
	if (s->majority_of) {
		char m[32];
		snprintf(m, sizeof m, "majority:%u", s->majority_of);
		json_object_set_new(o, "consensus", json_string(m));
	} else {
		json_object_set_new(o, "consensus", json_integer(s->consensus));
	}
	json_object_set_new(o, "alive", json_integer((json_int_t)s->alive));
	json_object_set_new(o, "sentry", s->sentry[0] ? text(s->sentry)
						      : json_null());
	if (s->superseded_by[0])
		json_object_set_new(o, "superseded_by", text(s->superseded_by));
	for (size_t i = 0; i < s->n_rings; i++) {
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, s->rings[i].checksum);
		json_t *k = text(s->rings[i].name);
		if (k)
			json_object_set_new(rings, json_string_value(k),
					    json_string(hex));
		json_decref(k);
	}
	json_object_set_new(o, "rings", rings);
	json_object_set_new(o, "version", json_string(cloister_version()));
	json_object_set_new(o, "insecure", json_boolean(node_insecure(api)));
	unsigned health, health_max;
	if (cl_node_health(api->node, &health, &health_max) == 0) {
		json_object_set_new(o, "health", json_integer(health));
		json_object_set_new(o, "health_max", json_integer(health_max));
	}
	pthread_mutex_lock(&api->lock);
	int64_t changed = api->members_changed_ms;
	pthread_mutex_unlock(&api->lock);
	json_object_set_new(o, "members_changed_ms",
			    changed ? json_integer(changed) : json_null());
	cloister_snapshot_free(s);
	reply_json(req, 200, o);
}

/* Whether a member passes ?status= and ?tag= (every filter given). */
static bool member_matches(const cloister_member *m, const cl_request *r)
{
	if (r->status_mask && !(r->status_mask & (1u << m->status)))
		return false;
	for (size_t f = 0; f < r->n_tags; f++) {
		const char *eq = strchr(r->tags[f], '=');
		size_t klen = (size_t)(eq - r->tags[f]);
		bool hit = false;
		for (size_t i = 0; i < m->n_tags && !hit; i++)
			hit = strlen(m->tags[i].key) == klen &&
			      !memcmp(m->tags[i].key, r->tags[f], klen) &&
			      !strcmp(m->tags[i].value, eq + 1);
		if (!hit)
			return false;
	}
	return true;
}

static void serve_members(cl_http_api *api, struct evhttp_request *req,
			  const cl_request *r)
{
	cloister_member *m;
	size_t n;
	int e = cloister_members(api->node, &m, &n);
	if (e) {
		reply_error(req, 500, "cannot list members: %s",
			    cloister_strerror(e));
		return;
	}
	/* This node's last probe round trip to each member, when timed. */
	const char **names = calloc(n ? n : 1, sizeof *names);
	int64_t *rtt = calloc(n ? n : 1, sizeof *rtt);
	for (size_t i = 0; names && rtt && i < n; i++)
		names[i] = m[i].name;
	if (!names || !rtt || cl_node_rtts(api->node, names, n, rtt) != 0)
		for (size_t i = 0; rtt && i < n; i++)
			rtt[i] = -1;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!member_matches(&m[i], r))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", text(m[i].name));
		json_object_set_new(o, "addr", text(m[i].addr));
		json_object_set_new(o, "status", json_string(
			cloister_member_status_name(m[i].status)));
		json_object_set_new(o, "incarnation",
				    json_integer(m[i].incarnation));
		json_object_set_new(o, "start_ms",
				    json_integer((json_int_t)m[i].start_ms));
		json_object_set_new(o, "tags", cl_json_tags(&m[i]));
		json_object_set_new(o, "rtt_us",
				    rtt && rtt[i] >= 0 ? json_integer(rtt[i])
						       : json_null());
		json_array_append_new(a, o);
	}
	free(names);
	free(rtt);
	cloister_members_free(m, n);
	reply_json(req, 200, a);
}

static void serve_whois(cl_http_api *api, struct evhttp_request *req,
			cl_request *r)
{
	char(*owners)[CLOISTER_NAME_MAX + 1] = calloc(r->n, sizeof *owners);
	if (!owners) {
		reply_error(req, 500, "out of memory");
		return;
	}
	int got = cloister_whois_n(api->node, r->ring, r->key, r->key_len, r->n,
				   owners);
	if (got == CLOISTER_ENOENT || got == 0) {
		free(owners);
		if (r->ring[0])
			reply_error(req, 404,
				    "ring '%s' is unknown or has no members: "
				    "members join it with the tag groups=%s",
				    r->ring, r->ring);
		else
			reply_error(req, 404, "the default ring has no members");
		return;
	}
	if (got < 0) {
		free(owners);
		reply_error(req, 500, "whois failed: %s", cloister_strerror(got));
		return;
	}
	json_t *o = json_object(), *a = json_array();
	json_object_set_new(o, "key", cl_json_text(r->key, r->key_len));
	json_object_set_new(o, "ring", text(r->ring));
	for (int i = 0; i < got; i++)
		json_array_append_new(a, text(owners[i]));
	json_object_set_new(o, "owners", a);
	free(owners);
	reply_json(req, 200, o);
}

/* Arcs per ring: 720 (half a degree each) draws a 1,000-member ring
 * faithfully at any size the page shows it, in ~20 KB of JSON. */
#define RING_ARCS_MAX 720

static json_t *ring_json(const char *name, const cl_ring_arcs *ra)
{
	json_t *o = json_object(), *owners = json_array(),
	       *share = json_array(), *arcs = json_array();
	for (size_t i = 0; i < ra->n_owners; i++) {
		json_array_append_new(owners, text(ra->owners[i]));
		json_array_append_new(share,
				      json_integer(llround(ra->share[i] * 1e6)));
	}
	for (size_t i = 0; i < ra->n_arcs; i++)
		json_array_append_new(
			arcs, json_pack("[I,I,I]",
					(json_int_t)llround(ra->arcs[i].from * 1e6),
					(json_int_t)llround(ra->arcs[i].to * 1e6),
					(json_int_t)ra->arcs[i].owner));
	char hex[17];
	snprintf(hex, sizeof hex, "%016" PRIx64, ra->checksum);
	json_object_set_new(o, "ring", text(name));
	json_object_set_new(o, "checksum", json_string(hex));
	json_object_set_new(o, "points", json_integer((json_int_t)ra->points));
	json_object_set_new(o, "exact", json_boolean(ra->exact));
	/* Positions and shares in millionths of the circle: exact integers
	 * in every JSON reader, and finer than any screen. */
	json_object_set_new(o, "scale", json_integer(1000000));
	json_object_set_new(o, "owners", owners);
	json_object_set_new(o, "share", share);
	json_object_set_new(o, "arcs", arcs);
	return o;
}

static void serve_ring(cl_http_api *api, struct evhttp_request *req,
		       cl_request *r)
{
	cloister_snapshot *s;
	int e = cloister_snapshot_get(api->node, &s);
	if (e) {
		reply_error(req, 500, "cannot read the node's state: %s",
			    cloister_strerror(e));
		return;
	}
	json_t *o = json_object(), *rings = json_array();
	bool found = false;
	for (size_t i = 0; i < s->n_rings; i++) {
		const char *name = s->rings[i].name;
		if (r->ring && strcmp(r->ring, name))
			continue;
		found = true;
		cl_ring_arcs *ra;
		e = cl_node_ring_arcs(api->node, name, RING_ARCS_MAX, &ra);
		if (e == CLOISTER_ENOENT)
			continue; /* emptied since the snapshot */
		if (e) {
			json_decref(o);
			json_decref(rings);
			cloister_snapshot_free(s);
			reply_error(req, 500, "cannot read ring '%s': %s", name,
				    cloister_strerror(e));
			return;
		}
		json_array_append_new(rings, ring_json(name, ra));
		cl_ring_arcs_free(ra);
	}
	cloister_snapshot_free(s);
	if (r->ring && !found) {
		json_decref(o);
		json_decref(rings);
		reply_error(req, 404,
			    "ring '%s' is unknown or has no members: members "
			    "join it with the tag groups=%s",
			    r->ring, r->ring);
		return;
	}
	json_object_set_new(o, "rings", rings);
	reply_json(req, 200, o);
}

/* The page's files (ui.h): GET and HEAD only; the shell is the same for
 * everyone, so it carries no token-dependent byte. */
static void serve_ui(struct evhttp_request *req, const char *path,
		     const char *method)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	for (size_t i = 0; cl_ui_headers[i]; i += 2)
		evhttp_add_header(h, cl_ui_headers[i], cl_ui_headers[i + 1]);
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		evhttp_add_header(h, "Allow", "GET, HEAD");
		reply_error(req, 405, "%s does not take %s: use GET, HEAD", path,
			    method);
		return;
	}
	const cl_ui_asset *a = cl_ui_find(path);
	if (!a) {
		reply_error(req, 404,
			    "no such file: the page is at /ui (index.html, "
			    "app.js, app.css)");
		return;
	}
	reply_body(req, 200, a->type, (const char *)a->data, a->len);
}

static void serve_ready(cl_http_api *api, struct evhttp_request *req)
{
	cloister_state s = cloister_status(api->node);
	char line[32];
	int n = snprintf(line, sizeof line, "%s\n", cloister_state_name(s));
	reply_body(req, s == CLOISTER_READY ? 200 : 503,
		   "text/plain; charset=utf-8", line, (size_t)n);
}

static void serve_health(cl_http_api *api, struct evhttp_request *req)
{
	cloister_state s = cloister_status(api->node);
	bool runs = s != CLOISTER_DOWN && s != CLOISTER_STOPPED;
	json_t *o = json_object();
	json_object_set_new(o, "status",
			    json_string(runs ? "ok" : cloister_state_name(s)));
	json_object_set_new(o, "node", text(cloister_name(api->node)));
	if (!runs)
		json_object_set_new(o, "error",
				    json_string(s == CLOISTER_DOWN
							? "the node has not started"
							: "the node has left the "
							  "cluster: restart the "
							  "agent to rejoin"));
	reply_json(req, runs ? 200 : 503, o);
}

/* ------------------------------------------------------------------ */
/* Metrics (Prometheus text format 0.0.4; the page is metrics.c's)      */
/* ------------------------------------------------------------------ */

static void serve_metrics(cl_http_api *api, struct evhttp_request *req)
{
	cl_metrics_api m = {0};
	pthread_mutex_lock(&api->lock);
	m.subscribers = api->n_subs;
	m.multicalls = api->running;
	for (struct sub *s = api->subs; s; s = s->next)
		m.queued_bytes += s->bytes;
	m.events_dropped = api->dropped_total;
	pthread_mutex_unlock(&api->lock);
	for (int k = 0; k < 3; k++)
		if (api->fronts[k].http) {
			m.listeners[m.n_listeners].name = api->fronts[k].name;
			m.listeners[m.n_listeners++].open = api->fronts[k].used;
		}
	for (int k = 0; k < REFUSALS; k++) {
		m.refused[m.n_refused].reason = refusal_names[k];
		m.refused[m.n_refused++].count = api->refused[k];
	}
	size_t len = 0;
	char *page = cl_metrics_render(api->node, &m, &len);
	if (!page) {
		reply_error(req, 500, "cannot read the node's state");
		return;
	}
	reply_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", page,
		   len);
	free(page);
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static void serve_join(cl_http_api *api, struct evhttp_request *req,
		       cl_request *r)
{
	int e = cloister_join_addrs(api->node, (const char *const *)r->addrs,
				    r->n_addrs);
	if (e == CLOISTER_ESTATE) {
		reply_error(req, 409,
			    "this node runs without a network (nonode) and "
			    "cannot join: start the agent with an advertise "
			    "address");
		return;
	}
	if (e) {
		reply_error(req, e == CLOISTER_EINVAL ? 400 : 500,
			    "cannot join: %s", cloister_strerror(e));
		return;
	}
	reply_json(req, 202, json_pack("{s:I}", "joining", (json_int_t)r->n_addrs));
}

/* POST /v1/tags: this node's tags, set and unset at run time; answers
 * with the tags now announced. */
static void serve_tags(cl_http_api *api, struct evhttp_request *req,
		       const cl_request *r)
{
	cloister_member *m;
	size_t n;
	int e = cloister_members(api->node, &m, &n);
	if (e || n == 0) {
		reply_error(req, 500, "cannot read this node's tags: %s",
			    cloister_strerror(e));
		return;
	}
	/* Self first: its tags, minus unset, with set replacing or added. */
	size_t cap = m[0].n_tags + r->n_tags;
	cloister_tag *t = calloc(cap ? cap : 1, sizeof *t);
	char **keys = calloc(r->n_tags ? r->n_tags : 1, sizeof *keys);
	size_t k = 0;
	bool ok = t && keys;
	for (size_t i = 0; ok && i < r->n_tags; i++) {
		const char *eq = strchr(r->tags[i], '=');
		ok = (keys[i] = strndup(r->tags[i], (size_t)(eq - r->tags[i])));
	}
	for (size_t i = 0; ok && i < m[0].n_tags; i++) {
		bool drop = false;
		for (size_t u = 0; u < r->n_unset; u++)
			drop |= !strcmp(r->unset[u], m[0].tags[i].key);
		for (size_t s = 0; s < r->n_tags; s++)
			drop |= !strcmp(keys[s], m[0].tags[i].key);
		if (!drop)
			t[k++] = m[0].tags[i];
	}
	for (size_t s = 0; ok && s < r->n_tags; s++) {
		bool later = false; /* the last of a key given twice wins */
		for (size_t x = s + 1; x < r->n_tags; x++)
			later |= !strcmp(keys[s], keys[x]);
		if (!later)
			t[k++] = (cloister_tag){keys[s], strchr(r->tags[s], '=') + 1};
	}
	e = ok ? cloister_set_tags(api->node, t, k) : CLOISTER_ENOMEM;
	for (size_t i = 0; keys && i < r->n_tags; i++)
		free(keys[i]);
	free(keys);
	free(t);
	cloister_members_free(m, n);
	if (e == CLOISTER_EINVAL || e == CLOISTER_ELIMIT) {
		reply_error(req, 400,
			    e == CLOISTER_ELIMIT
				    ? "the tags would exceed tags_max: unset some"
				    : "not valid tags (the key cloister.proto is "
				      "reserved)");
		return;
	}
	if (e == CLOISTER_ESTATE) {
		reply_error(req, 409, "this node is leaving or runs without a "
				      "network: its tags cannot change");
		return;
	}
	if (e) {
		reply_error(req, 500, "cannot set tags: %s", cloister_strerror(e));
		return;
	}
	if (cloister_members(api->node, &m, &n) != 0 || n == 0) {
		reply_error(req, 500, "cannot read this node's tags");
		return;
	}
	json_t *o = json_pack("{s:o}", "tags", cl_json_tags(&m[0]));
	cloister_members_free(m, n);
	reply_json(req, 200, o);
}

/* POST /v1/force-leave: a failed member made left everywhere. */
static void serve_force_leave(cl_http_api *api, struct evhttp_request *req,
			      const cl_request *r)
{
	int e = cloister_force_leave(api->node, r->name);
	if (e == CLOISTER_ENOENT) {
		reply_error(req, 404, "no member of that name");
		return;
	}
	if (e == CLOISTER_ESTATE) {
		reply_error(req, 409,
			    "that member is not failed or suspect here (alive, "
			    "left already, or this node): force-leave only "
			    "removes failed members");
		return;
	}
	if (e) {
		reply_error(req, 500, "cannot force-leave: %s",
			    cloister_strerror(e));
		return;
	}
	reply_json(req, 200, json_pack("{s:s,s:s}", "member", r->name,
				       "status", "left"));
}

static void serve_leave(cl_http_api *api, struct evhttp_request *req)
{
	int e = cloister_leave(api->node);
	if (e) {
		reply_error(req, 500, "cannot leave: %s", cloister_strerror(e));
		return;
	}
	/* With its own loop the node leaves there, a moment later. */
	cloister_state st = cloister_status(api->node);
	if (st < CLOISTER_STOPPING)
		st = CLOISTER_STOPPING;
	reply_json(req, 202, json_pack("{s:s}", "status", cloister_state_name(st)));
}

static void serve_multicast(cl_http_api *api, struct evhttp_request *req,
			    cl_request *r)
{
	int e = cloister_multicast(api->node, r->topic, r->data, r->data_len,
				   (const char *const *)r->members,
				   r->n_members);
	if (e == CLOISTER_ELIMIT) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", "1");
		reply_error(req, 429,
			    "the node's outbound message queue is full "
			    "(user_queue_max): retry shortly");
		return;
	}
	if (e < 0) {
		reply_error(req, e == CLOISTER_EINVAL ? 400 : 500,
			    "cannot multicast: %s", cloister_strerror(e));
		return;
	}
	reply_json(req, 200, json_pack("{s:i}", "queued", e));
}

/* Key fingerprints, primary first; NULL with *e set on failure. */
static json_t *keys_json(cl_http_api *api, int *e)
{
	char fps[16][17];
	size_t n = 0;
	*e = cloister_keys_list(api->node, fps, 16, &n);
	if (*e)
		return NULL;
	json_t *o = json_object(), *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(fps[i]));
	json_object_set_new(o, "keys", a);
	json_object_set_new(o, "primary", n ? json_string(fps[0]) : json_null());
	return o;
}

static void serve_keys(cl_http_api *api, struct evhttp_request *req,
		       cl_request *r)
{
	int e;
	json_t *before = keys_json(api, &e);
	if (!before) {
		/* The public API says EINVAL both for a bad key and for a
		 * node without a keyring; listing tells them apart. */
		reply_error(req, 409,
			    "this node has no keyring: start the agent with a "
			    "cluster key (key, key_file or passphrase)");
		return;
	}
	json_decref(before);
	if (r->route == CL_ROUTE_KEYS_OP) {
		static const char *const names[] = {"install", "use", "remove"};
		switch (r->op) {
		case CL_KEYS_INSTALL:
			e = cloister_keys_install(api->node, r->keytext);
			break;
		case CL_KEYS_USE:
			e = cloister_keys_use(api->node, r->keytext);
			break;
		default:
			e = cloister_keys_remove(api->node, r->keytext);
			break;
		}
		switch (e) {
		case 0:
			break;
		case CLOISTER_EINVAL:
			reply_error(req, 400,
				    "not a key: give 64 hex digits or the base64 "
				    "of 32 bytes");
			return;
		case CLOISTER_EEXIST:
			reply_error(req, 409, "that key is already installed");
			return;
		case CLOISTER_ENOENT:
			reply_error(req, 404,
				    "that key is not installed: install it "
				    "first");
			return;
		case CLOISTER_ESTATE:
			reply_error(req, 409,
				    "that key is the primary: `use` another "
				    "key first, then remove this one");
			return;
		case CLOISTER_ELIMIT:
			reply_error(req, 409,
				    "the keyring is full: remove an old key "
				    "first");
			return;
		default:
			reply_error(req, 500, "cannot %s the key: %s",
				    names[r->op], cloister_strerror(e));
			return;
		}
	}
	json_t *o = keys_json(api, &e);
	if (!o) {
		reply_error(req, 500, "cannot list keys: %s",
			    cloister_strerror(e));
		return;
	}
	reply_json(req, 200, o);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}


/* evhttp calls the request callback a second time, without a URI, when a
 * connection fails in some ways while we still hold its request; it
 * expects that request to be finished. */
static bool finish_owned(cl_http_api *api, struct evhttp_request *req)
{
	for (int k = 0; k < 3; k++) {
		struct front *f = &api->fronts[k];
		for (size_t i = 0; f->http && i < f->n_conns; i++) {
			struct conn *c = &f->conns[i];
			if (c->sub && c->sub->req == req) {
				struct sub *s = c->sub;
				s->req = NULL;
				sub_close(s, false);
				evhttp_send_reply_end(req);
				return true;
			}
			if (c->job && c->job->req == req) {
				c->job->req = NULL;
				c->job->conn = NULL;
				c->job = NULL;
				evhttp_send_error(req, 400, NULL);
				return true;
			}
		}
	}
	return false;
}

/* The headers the guard reads: each one's first value and its count. */
static void guard_request(struct evhttp_request *req, cl_guard_req *g)
{
	memset(g, 0, sizeof *g);
	g->method = method_name(evhttp_request_get_command(req));
	g->http11 = req->major > 1 || (req->major == 1 && req->minor >= 1);
	struct evkeyvalq *hs = evhttp_request_get_input_headers(req);
	for (struct evkeyval *kv = hs->tqh_first; kv; kv = kv->next.tqe_next) {
		const char **v = NULL;
		unsigned *n = NULL;
		if (!strcasecmp(kv->key, "Host")) {
			v = &g->host;
			n = &g->n_host;
		} else if (!strcasecmp(kv->key, "Origin")) {
			v = &g->origin;
			n = &g->n_origin;
		} else if (!strcasecmp(kv->key, "Authorization")) {
			v = &g->authorization;
			n = &g->n_authorization;
		} else if (!strcasecmp(kv->key, "Content-Type")) {
			v = &g->content_type;
			n = &g->n_content_type;
		}
		if (n && (*n)++ == 0)
			*v = kv->value;
	}
}

/* Answers and closes: for requests a connection may not make. */
static void refuse_and_close(struct evhttp_request *req, int code,
			     const char *msg)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
			  "close");
	reply_error(req, code, "%s", msg);
}

static bool probe_route(cl_route r)
{
	return r == CL_ROUTE_READY || r == CL_ROUTE_HEALTH ||
	       r == CL_ROUTE_METRICS;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct front *f = arg;
	cl_http_api *api = f->api;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	if (!uri || !evcon) {
		if (!finish_owned(api, req))
			evhttp_send_error(req, 400, NULL);
		return;
	}
	struct conn *c = conn_of(f, evcon);
	if (!c || c->spare) {
		char msg[128];
		api->refused[REFUSED_BUSY]++;
		snprintf(msg, sizeof msg,
			 "too many connections (%zu): close idle ones and retry",
			 f->slots);
		refuse_and_close(req, 503, msg);
		return;
	}
	if (c->stranger) {
		char msg[160];
		api->refused[REFUSED_PEER]++;
		snprintf(msg, sizeof msg,
			 "this agent's Unix socket serves its own user (uid %u) "
			 "and root only: run the client as one of them",
			 (unsigned)geteuid());
		refuse_and_close(req, 403, msg);
		return;
	}
	event_del(c->deadline);

	cl_guard_req gr;
	cl_req_error err;
	guard_request(req, &gr);
	cl_guard_why why = cl_guard_check(&f->guard, &gr, &err);
	/* The page's static files need no token (ui.h says why); Host and
	 * Origin were checked before the token, so a request refused only
	 * for its token passed them. */
	bool ui = f->kind != CL_FRONT_PROBE &&
		  cl_ui_path(evhttp_uri_get_path(uri));
	if (why == CL_GUARD_TOKEN && ui)
		why = CL_GUARD_OK;
	if (why != CL_GUARD_OK) {
		static const enum refusal counted[] = {
			[CL_GUARD_MALFORMED] = REFUSED_MALFORMED,
			[CL_GUARD_HOST] = REFUSED_HOST,
			[CL_GUARD_ORIGIN] = REFUSED_ORIGIN,
			[CL_GUARD_TOKEN] = REFUSED_TOKEN,
			[CL_GUARD_TYPE] = REFUSED_TYPE,
		};
		api->refused[counted[why]]++;
		if (err.status == 401)
			evhttp_add_header(evhttp_request_get_output_headers(req),
					  "WWW-Authenticate",
					  "Bearer realm=\"cloister\"");
		reply_error(req, err.status, "%s", err.msg);
		conn_arm(c);
		return;
	}

	if (ui) {
		serve_ui(req, evhttp_uri_get_path(uri), gr.method);
		conn_arm(c);
		return;
	}

	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *body = len ? evbuffer_pullup(in, -1) : NULL;
	if (len && !body) {
		reply_error(req, 500, "out of memory reading the body");
		conn_arm(c);
		return;
	}
	cl_request r;
	if (cl_request_parse(gr.method, evhttp_uri_get_path(uri),
			     evhttp_uri_get_query(uri), body, len, &r,
			     &err) != 0) {
		if (err.status == 405 && err.allow)
			evhttp_add_header(evhttp_request_get_output_headers(req),
					  "Allow", err.allow);
		reply_error(req, err.status, "%s", err.msg);
		conn_arm(c);
		return;
	}
	if (f->kind == CL_FRONT_PROBE && !probe_route(r.route)) {
		reply_error(req, 404,
			    "the probe listener serves only /ready, /health and "
			    "/metrics: the rest of the API is on the main "
			    "listener, with its token");
		cl_request_free(&r);
		conn_arm(c);
		return;
	}
	switch (r.route) {
	case CL_ROUTE_STATUS:
		serve_status(api, req);
		break;
	case CL_ROUTE_MEMBERS:
		serve_members(api, req, &r);
		break;
	case CL_ROUTE_TAGS:
		serve_tags(api, req, &r);
		break;
	case CL_ROUTE_FORCE_LEAVE:
		serve_force_leave(api, req, &r);
		break;
	case CL_ROUTE_WHOIS:
		serve_whois(api, req, &r);
		break;
	case CL_ROUTE_EVENTS:
		serve_events(api, c, req, &r);
		break;
	case CL_ROUTE_JOIN:
		serve_join(api, req, &r);
		break;
	case CL_ROUTE_LEAVE:
		serve_leave(api, req);
		break;
	case CL_ROUTE_MULTICAST:
		serve_multicast(api, req, &r);
		break;
	case CL_ROUTE_MULTICALL:
		serve_multicall(api, c, req, &r);
		break;
	case CL_ROUTE_REPLY:
		serve_reply(api, req, &r);
		break;
	case CL_ROUTE_KEYS_LIST:
	case CL_ROUTE_KEYS_OP:
		serve_keys(api, req, &r);
		break;
	case CL_ROUTE_READY:
		serve_ready(api, req);
		break;
	case CL_ROUTE_HEALTH:
		serve_health(api, req);
		break;
	case CL_ROUTE_METRICS:
		serve_metrics(api, req);
		break;
	case CL_ROUTE_RING:
		serve_ring(api, req, &r);
		break;
	}
	cl_request_free(&r);
	if (c->state == CONN_OPEN && c->evcon == evcon)
		conn_arm(c);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

/* When accept() fails (out of file descriptors, say, because clients hold
 * idle connections), libevent's listener is called again at once and logs
 * each failure: a busy loop that floods the log.  Instead the listener
 * pauses, so the loop keeps serving the connections it has and tries
 * again when some may have closed.  libevent gives the error callback the
 * listener and the evhttp, not our front, hence this table (base thread). */
static struct front *listening[8];

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;
	f->backoff = false;
	front_accept(f, true);
}

static void listener_error(struct evconnlistener *lis, void *arg)
{
	for (size_t i = 0; i < sizeof listening / sizeof *listening; i++) {
		struct front *f = listening[i];
		if (f && f->lis == lis) {
			f->backoff = true;
			front_accept(f, false);
			timer_in(f->resume, ACCEPT_BACKOFF_MS);
			return;
		}
	}
	/* Not in the table (it has room for every front of one API): left
	 * as libevent leaves it, accepting again at once. */
}

static void front_listening(struct front *f, struct evhttp_bound_socket *bs,
			    bool on)
{
	for (size_t i = 0; i < sizeof listening / sizeof *listening; i++)
		if (on ? !listening[i] : listening[i] == f) {
			listening[i] = on ? f : NULL;
			if (on)
				break;
		}
	if (!on)
		return;
	f->lis = evhttp_bound_socket_get_listener(bs);
	if (f->lis)
		evconnlistener_set_error_cb(f->lis, listener_error);
}

static int front_init(cl_http_api *api, cl_front kind, size_t slots,
		      size_t body_max, char *why, size_t whylen)
{
	static const char *const names[] = {"http", "unix", "probe"};
	struct front *f = &api->fronts[kind];
	f->api = api;
	f->kind = kind;
	f->name = names[kind];
	f->slots = slots;
	f->n_conns = slots + CONN_SPARE;
	f->http = evhttp_new(api->base);
	f->adopt = event_new(api->base, -1, 0, on_adopt, f);
	f->resume = evtimer_new(api->base, on_resume, f);
	f->conns = calloc(f->n_conns, sizeof *f->conns);
	bool ok = f->http && f->adopt && f->resume && f->conns;
	for (size_t i = 0; ok && i < f->n_conns; i++) {
		f->conns[i].f = f;
		f->conns[i].deadline =
			evtimer_new(api->base, on_deadline, &f->conns[i]);
		ok = f->conns[i].deadline != NULL;
	}
	if (!ok) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	f->guard = (cl_guard){.front = kind, .host = f->host,
			      .token = api->token};
	evhttp_set_timeout(f->http, TIMEOUT_S);
	evhttp_set_max_headers_size(f->http, HEADERS_MAX);
	evhttp_set_max_body_size(f->http, body_max);
	/* Every method reaches us, so the wrong one gets 405 with Allow
	 * rather than evhttp's bare 501. */
	evhttp_set_allowed_methods(f->http,
				   EVHTTP_REQ_GET | EVHTTP_REQ_POST |
					   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
					   EVHTTP_REQ_DELETE |
					   EVHTTP_REQ_OPTIONS |
					   EVHTTP_REQ_TRACE |
					   EVHTTP_REQ_CONNECT |
					   EVHTTP_REQ_PATCH);
	evhttp_set_gencb(f->http, on_request, f);
	evhttp_set_bevcb(f->http, on_accept, f);
	return 0;
}

static int listen_tcp(struct front *f, const char *spec, const char *flag,
		      char *why, size_t whylen)
{
	const char *h, *ptext;
	size_t hlen;
	bool split = cl_split_host_port(spec, &h, &hlen, &ptext);
	char *end = NULL;
	long port = split ? strtol(ptext, &end, 10) : -1;
	if (!split || hlen >= sizeof f->host || !*ptext || *end || port < 0 ||
	    port > 65535) {
		snprintf(why, whylen,
			 "'%s' is not HOST:PORT (e.g. 127.0.0.1:7947 or "
			 "[::1]:7947)",
			 spec);
		return -1;
	}
	memcpy(f->host, h, hlen);
	f->host[hlen] = '\0';
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(
		f->http, f->host, (ev_uint16_t)port);
	if (!bs) {
		snprintf(why, whylen,
			 "cannot listen on %s: %s (is another agent running? "
			 "pick another address with --%s)",
			 spec, strerror(errno), flag);
		return -1;
	}
	front_listening(f, bs, true);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
			&sl) == 0)
		f->port = ntohs(ss.ss_family == AF_INET6
					? ((struct sockaddr_in6 *)&ss)->sin6_port
					: ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/*
 * The Unix socket: a stale file from a dead agent is replaced, a live
 * socket or a non-socket is left alone.  Permissions: the file is created
 * 0600 by bind() itself, under umask 0177 (and, on Linux, from the
 * socket's own mode, set first), so there is no moment, before listen()
 * or after it, when it carries a looser mode: nothing is chmod-ed by path
 * after the fact, which a swapped path could redirect.
 */
static int listen_unix(cl_http_api *api, const char *path, char *why,
		       size_t whylen)
{
	struct front *f = &api->fronts[CL_FRONT_UNIX];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(why, whylen,
			 "socket path '%s' is longer than %zu bytes: pick a "
			 "shorter --ctl path",
			 path, sizeof sa.sun_path - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen,
				 "%s exists and is not a socket: remove it or "
				 "pick another --ctl path",
				 path);
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int e = probe < 0 ? errno
			: connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0
				? 0
				: errno;
		if (probe >= 0)
			close(probe);
		if (e == 0) {
			snprintf(why, whylen,
				 "another agent is listening on %s: stop it or "
				 "pick another --ctl path",
				 path);
			return -1;
		}
		if (e != ECONNREFUSED || unlink(path) != 0) {
			snprintf(why, whylen, "cannot replace %s: %s", path,
				 strerror(e != ECONNREFUSED ? e : errno));
			return -1;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);
	bool bound = fd >= 0 && fchmod(fd, 0600) == 0 &&
		     bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	int e = errno;
	umask(old);
	if (!bound || listen(fd, 128) != 0 || stat(path, &st) != 0) {
		snprintf(why, whylen, "cannot listen on %s: %s", path,
			 strerror(bound ? errno : e));
		if (fd >= 0)
			close(fd);
		if (bound)
			unlink(path);
		return -1;
	}
	struct evhttp_bound_socket *ubs =
		evhttp_accept_socket_with_handle(f->http, fd);
	if (!ubs) {
		snprintf(why, whylen, "cannot serve on %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	front_listening(f, ubs, true);
	api->unix_path = strdup(path);
	api->unix_dev = st.st_dev;
	api->unix_ino = st.st_ino;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

cl_http_api *cl_http_api_new(struct event_base *base, cloister_t *node,
			     const cl_http_api_config *cfg, char *why,
			     size_t whylen)
{
	char dummy[8];
	if (!why) {
		why = dummy;
		whylen = sizeof dummy;
	}
	if (!base || !node || !cfg || !cfg->topics) {
		snprintf(why, whylen, "no event base, node or topic table");
		return NULL;
	}
	if (cfg->tcp_listen && !cl_token_ok(cfg->token, cfg->token ? strlen(cfg->token) : 0)) {
		snprintf(why, whylen, "the HTTP listener needs a token");
		return NULL;
	}
	cl_http_api *api = calloc(1, sizeof *api);
	if (!api) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	api->base = base;
	api->node = node;
	api->topics = cfg->topics;
	cl_pending_init(&api->calls, &api->lock, &api->cond);
	api->wake = event_new(base, -1, 0, on_wake, api);
	api->done_ev = event_new(base, -1, 0, on_done, api);
	api->expire = event_new(base, -1, EV_PERSIST, on_expire, api);
	api->token = cfg->token ? strdup(cfg->token) : NULL;
	struct timeval every = {0, CL_PENDING_EXPIRE_MS * 1000};
	if (!api->wake || !api->done_ev || !api->expire ||
	    event_add(api->expire, &every) != 0 ||
	    (cfg->token && !api->token)) {
		snprintf(why, whylen, "out of memory");
		cl_http_api_free(api);
		return NULL;
	}
	if ((cfg->tcp_listen &&
	     (front_init(api, CL_FRONT_HTTP, CONN_MAX, EVHTTP_BODY_MAX, why,
			 whylen) != 0 ||
	      listen_tcp(&api->fronts[CL_FRONT_HTTP], cfg->tcp_listen, "http",
			 why, whylen) != 0)) ||
	    (cfg->unix_path &&
	     (front_init(api, CL_FRONT_UNIX, CONN_MAX, EVHTTP_BODY_MAX, why,
			 whylen) != 0 ||
	      listen_unix(api, cfg->unix_path, why, whylen) != 0)) ||
	    (cfg->probe_listen &&
	     (front_init(api, CL_FRONT_PROBE, PROBE_CONN_MAX, PROBE_BODY_MAX,
			 why, whylen) != 0 ||
	      listen_tcp(&api->fronts[CL_FRONT_PROBE], cfg->probe_listen,
			 "probe", why, whylen) != 0))) {
		cl_http_api_free(api);
		return NULL;
	}
	api->serving = true;
	return api;
}

int cl_http_api_tcp_port(const cl_http_api *api)
{
	return api ? api->fronts[CL_FRONT_HTTP].port : 0;
}

int cl_http_api_probe_port(const cl_http_api *api)
{
	return api ? api->fronts[CL_FRONT_PROBE].port : 0;
}

static void front_free(struct front *f)
{
	front_listening(f, NULL, false);
	/* evhttp_free frees the listener first: nothing may enable it after. */
	f->lis = NULL;
	if (f->http)
		evhttp_free(f->http); /* close callbacks free the records */
	for (size_t i = 0; f->conns && i < f->n_conns; i++) {
		if (f->conns[i].state == CONN_ADOPTING)
			bufferevent_decref(f->conns[i].bev);
		if (f->conns[i].deadline)
			event_free(f->conns[i].deadline);
	}
	free(f->conns);
	if (f->adopt)
		event_free(f->adopt);
	if (f->resume)
		event_free(f->resume);
	memset(f, 0, sizeof *f);
}

void cl_http_api_free(cl_http_api *api)
{
	if (!api)
		return;
	pthread_mutex_lock(&api->lock);
	api->closing = true;
	pthread_cond_broadcast(&api->cond);
	pthread_mutex_unlock(&api->lock);

	/* No handler of ours may start after this... */
	for (struct sub *s = api->subs; s; s = s->next)
		cl_topics_release(api->topics, s->owner);
	/* ...and none, nor any listener call (the listener publishes
	 * here), is still running after this: it waits for the node's
	 * delivery in progress.  Clearing the listener is the price. */
	if (api->serving)
		cloister_set_listener(api->node, NULL);

	/* Streams end with their last chunk. */
	while (api->subs) {
		struct sub *s = api->subs;
		struct evhttp_request *req = s->req;
		s->req = NULL;
		sub_close(s, false);
		if (req)
			evhttp_send_reply_end(req);
	}
	/* Multicalls cannot be cancelled: wait for each (bounded by its
	 * timeout), then answer what is still connected. */
	pthread_mutex_lock(&api->lock);
	while (api->running)
		pthread_cond_wait(&api->cond, &api->lock);
	pthread_mutex_unlock(&api->lock);
	on_done(-1, 0, api);
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < api->fronts[k].n_conns; i++) {
			api->fronts[k].conns[i].sub = NULL;
			api->fronts[k].conns[i].job = NULL;
		}
		front_free(&api->fronts[k]);
	}
	if (api->wake)
		event_free(api->wake);
	if (api->done_ev)
		event_free(api->done_ev);
	if (api->expire)
		event_free(api->expire);
	struct stat st;
	if (api->unix_path && lstat(api->unix_path, &st) == 0 &&
	    st.st_dev == api->unix_dev && st.st_ino == api->unix_ino)
		unlink(api->unix_path); /* still ours, not a successor's */
	free(api->unix_path);
	cl_pending_destroy(&api->calls);
	if (api->status)
		line_unref(api->status);
	if (api->token) {
		sodium_memzero(api->token, strlen(api->token));
		free(api->token);
	}
	free(api);
}
