/*
 * fault.c — outbound latency injection (see fault.h).  Compiled to nothing
 * unless CLOISTER_FAULT_INJECTION is defined (a test build).
 */
#include "fault.h"

#ifdef CLOISTER_FAULT_INJECTION

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Enough for a 5-node cluster at several hundred datagrams a second held
 * for up to a second, small enough that a runaway sender cannot grow the
 * process without bound. */
#define FAULT_MAX_HELD 8192
#define FAULT_MAX_BYTES (8u << 20)
/* How often CLOISTER_FAULT_FILE is re-read. */
#define FAULT_REREAD_MS 250
/* A delay past this is a typo, not a test. */
#define FAULT_MAX_MS 60000u

struct held {
	struct cl_fault *f;
	struct event *ev;
	struct held *prev, *next;
	struct sockaddr_storage to;
	socklen_t tolen;
	/* A stream frame: handed back to the runtime instead of sendto(). */
	cl_fault_fire_fn fire;
	void *fire_arg;
	uint8_t tag[64];
	size_t len;
	uint8_t buf[];
};

struct cl_fault {
	struct event_base *base;
	evutil_socket_t fd;
	/* sendto() runs under the node's lock on any thread; timers fire on
	 * the loop thread: the queue and the settings need their own lock. */
	pthread_mutex_t lock;
	struct held *head;
	size_t n_held, bytes_held;
	unsigned delay_ms, jitter_ms;
	char *file;
	struct event *reread;
	uint64_t rng;
	uint64_t delayed, sent, dropped_full, send_errors;
};

static unsigned env_ms(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	unsigned long x = strtoul(v, NULL, 10);
	return x > FAULT_MAX_MS ? FAULT_MAX_MS : (unsigned)x;
}

/* xorshift64*: jitter needs to be uniform, not unpredictable. */
static uint64_t next_rand(struct cl_fault *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1Dull;
}

static void unlink_held(struct cl_fault *f, struct held *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		f->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	f->n_held--;
	f->bytes_held -= h->len;
}

static void on_fire(evutil_socket_t fd, short what, void *arg)
{
	struct held *h = arg;
	struct cl_fault *f = h->f;
	bool ok = true;
	if (h->fire)
		h->fire(h->fire_arg, h->buf, h->len, h->tag);
	else
		ok = sendto(f->fd, h->buf, h->len, 0, (struct sockaddr *)&h->to,
			    h->tolen) >= 0;
	pthread_mutex_lock(&f->lock);
	unlink_held(f, h);
	if (ok)
		f->sent++;
	else
		f->send_errors++;
	pthread_mutex_unlock(&f->lock);
	/* A fired, non-persistent event is neither pending nor active: it
	 * may be freed from its own callback. */
	event_free(h->ev);
	free(h);
}

static void reread(evutil_socket_t fd, short what, void *arg)
{
	struct cl_fault *f = arg;
	unsigned d = 0, j = 0;
	FILE *fp = fopen(f->file, "re") /* close-on-exec */;
	if (fp) {
		if (fscanf(fp, "%u %u", &d, &j) < 1)
			d = j = 0;
		fclose(fp);
	}
	d = d > FAULT_MAX_MS ? FAULT_MAX_MS : d;
	j = j > d ? d : j; /* never a negative delay */
	pthread_mutex_lock(&f->lock);
	bool changed = d != f->delay_ms || j != f->jitter_ms;
	f->delay_ms = d;
	f->jitter_ms = j;
	pthread_mutex_unlock(&f->lock);
	if (changed)
		fprintf(stderr, "fault injection: outbound delay now %u ± %u ms\n",
			d, j);
}

struct cl_fault *cl_fault_new(struct event_base *base, evutil_socket_t fd)
{
	const char *file = getenv("CLOISTER_FAULT_FILE");
	unsigned d = env_ms("CLOISTER_FAULT_DELAY_MS");
	unsigned j = env_ms("CLOISTER_FAULT_JITTER_MS");
	if (!(file && *file) && d == 0 && j == 0)
		return NULL;
	struct cl_fault *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->base = base;
	f->fd = fd;
	f->delay_ms = d;
	f->jitter_ms = j > d ? d : j;
	pthread_mutex_init(&f->lock, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)f;
	if (!f->rng)
		f->rng = 1;
	if (file && *file) {
		f->file = strdup(file);
		f->reread = event_new(base, -1, EV_PERSIST, reread, f);
		if (!f->file || !f->reread) {
			cl_fault_free(f);
			return NULL;
		}
		struct timeval tv = {0, FAULT_REREAD_MS * 1000};
		event_add(f->reread, &tv);
		reread(-1, 0, f);
	}
	fprintf(stderr,
		"fault injection: outbound delay %u ± %u ms%s%s "
		"(test build)\n",
		f->delay_ms, f->jitter_ms, f->file ? ", controlled by " : "",
		f->file ? f->file : "");
	return f;
}

/* Queues one datagram (to) or stream frame (fire); see fault.h. */
static bool hold(struct cl_fault *f, const uint8_t *buf, size_t len,
		 const struct sockaddr *to, socklen_t tolen, const void *tag,
		 size_t tag_len, cl_fault_fire_fn fire, void *fire_arg)
{
	if (!f)
		return false;
	pthread_mutex_lock(&f->lock);
	unsigned d = f->delay_ms, j = f->jitter_ms;
	if (d == 0 && j == 0) {
		pthread_mutex_unlock(&f->lock);
		return false;
	}
	if (f->n_held >= FAULT_MAX_HELD ||
	    f->bytes_held + len > FAULT_MAX_BYTES ||
	    tolen > (socklen_t)sizeof(struct sockaddr_storage) ||
	    tag_len > sizeof ((struct held *)0)->tag) {
		f->dropped_full++;
		pthread_mutex_unlock(&f->lock);
		return true;
	}
	/* Uniform in [d - j, d + j] milliseconds, at microsecond grain. */
	uint64_t span = (uint64_t)2 * j * 1000 + 1;
	int64_t us = (int64_t)d * 1000 - (int64_t)j * 1000 +
		     (int64_t)(next_rand(f) % span);
	pthread_mutex_unlock(&f->lock);

	struct held *h = malloc(sizeof *h + len);
	if (!h)
		goto drop;
	h->f = f;
	h->len = len;
	h->tolen = tolen;
	if (to)
		memcpy(&h->to, to, tolen);
	h->fire = fire;
	h->fire_arg = fire_arg;
	if (tag_len)
		memcpy(h->tag, tag, tag_len);
	memcpy(h->buf, buf, len);
	h->prev = NULL;
	h->ev = event_new(f->base, -1, 0, on_fire, h);
	if (!h->ev) {
		free(h);
		goto drop;
	}
	pthread_mutex_lock(&f->lock);
	h->next = f->head;
	if (f->head)
		f->head->prev = h;
	f->head = h;
	f->n_held++;
	f->bytes_held += len;
	f->delayed++;
	pthread_mutex_unlock(&f->lock);
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
	event_add(h->ev, &tv);
	return true;
drop:
	pthread_mutex_lock(&f->lock);
	f->dropped_full++;
	pthread_mutex_unlock(&f->lock);
	return true;
}

bool cl_fault_sendto(struct cl_fault *f, const uint8_t *buf, size_t len,
		     const struct sockaddr *to, socklen_t tolen)
{
	return hold(f, buf, len, to, tolen, NULL, 0, NULL, NULL);
}

bool cl_fault_defer(struct cl_fault *f, const uint8_t *buf, size_t len,
		    const void *tag, size_t tag_len, cl_fault_fire_fn fire,
		    void *arg)
{
	return hold(f, buf, len, NULL, 0, tag, tag_len, fire, arg);
}

void cl_fault_free(struct cl_fault *f)
{
	if (!f)
		return;
	size_t unsent = f->n_held;
	while (f->head) {
		struct held *h = f->head;
		unlink_held(f, h);
		event_free(h->ev);
		free(h);
	}
	if (f->reread)
		event_free(f->reread);
	fprintf(stderr,
		"fault injection: %llu datagrams and frames delayed, %llu sent, %llu "
		"dropped (queue full), %llu send errors, %zu unsent at exit\n",
		(unsigned long long)f->delayed, (unsigned long long)f->sent,
		(unsigned long long)f->dropped_full,
		(unsigned long long)f->send_errors, unsent);
	free(f->file);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int cl_fault_compiled_out;
#endif
