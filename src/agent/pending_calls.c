/*
 * pending_calls.c — calls on topics that a local subscriber answers: the
 * waiting calls and the answered topics' handlers, shared by the HTTP API
 * and the Erlang port (pending_calls.h says why and the threading rules).
 */
#include "pending_calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Waiting calls                                                       */
/* ------------------------------------------------------------------ */

void cl_pending_init(cl_pending *pd, pthread_mutex_t *lock,
		     pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(lock, NULL);
	*pd = (cl_pending){.lock = lock, .cond = cond};
}

void cl_pending_destroy(cl_pending *pd)
{
	pthread_cond_destroy(pd->cond);
	pthread_mutex_destroy(pd->lock);
}

uint64_t cl_pending_next_id(cl_pending *pd)
{
	return ++pd->next_id;
}

void cl_pending_add(cl_pending *pd, cl_pcall *pc)
{
	pc->next = pd->calls;
	pd->calls = pc;
}

bool cl_pending_withdraw(cl_pending *pd, cl_pcall *pc)
{
	for (cl_pcall **pp = &pd->calls; *pp; pp = &(*pp)->next)
		if (*pp == pc) {
			*pp = pc->next;
			break;
		}
	return pc->answered;
}

static struct timespec deadline_in(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

bool cl_pending_wait(cl_pending *pd, cl_pcall *pc, int wait_ms,
		     bool (*still_wanted)(void *arg), void *arg)
{
	struct timespec until = deadline_in(wait_ms);
	while (!pc->answered && still_wanted(arg) &&
	       pthread_cond_timedwait(pd->cond, pd->lock, &until) != ETIMEDOUT)
		;
	return cl_pending_withdraw(pd, pc);
}

int cl_pending_answer(cl_pending *pd, uint64_t id, const void *data,
		      size_t len)
{
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return CLOISTER_ENOMEM;
	memcpy(copy, data, len);
	bool taken = false;
	pthread_mutex_lock(pd->lock);
	for (cl_pcall *pc = pd->calls; pc; pc = pc->next)
		if (pc->id == id && !pc->answered) {
			pc->reply = copy;
			pc->reply_len = len;
			pc->answered = true;
			taken = true;
			pthread_cond_broadcast(pd->cond);
			break;
		}
	pthread_mutex_unlock(pd->lock);
	if (!taken) {
		free(copy);
		return CLOISTER_ENOENT;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Answered topics                                                     */
/* ------------------------------------------------------------------ */

struct cl_topic {
	char *name;
	unsigned refs; /* answerers */
};

void cl_topics_init(cl_topics *t, cloister_t *node, cloister_handler_fn fn,
		    void *arg)
{
	*t = (cl_topics){.node = node, .fn = fn, .arg = arg};
}

static struct cl_topic *topic_find(const cl_topics *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

bool cl_topics_has(const cl_topics *t, const char *name)
{
	return topic_find(t, name) != NULL;
}

void cl_topics_release(cl_topics *t, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cl_topic *tp = topic_find(t, names[i]);
		if (!tp || --tp->refs > 0)
			continue;
		cloister_handle(t->node, tp->name, NULL, NULL);
		free(tp->name);
		*tp = t->v[--t->n];
	}
}

int cl_topics_acquire(cl_topics *t, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cl_topic *tp = topic_find(t, names[i]);
		if (tp) {
			tp->refs++;
			continue;
		}
		struct cl_topic *grown = realloc(t->v, (t->n + 1) * sizeof *grown);
		char *name = strdup(names[i]);
		int e = grown && name ? 0 : CLOISTER_ENOMEM;
		if (grown)
			t->v = grown;
		if (!e)
			e = cloister_handle(t->node, name, t->fn, t->arg);
		if (e) {
			free(name);
			cl_topics_release(t, names, i);
			return e;
		}
		t->v[t->n++] = (struct cl_topic){name, 1};
	}
	return 0;
}

void cl_topics_clear(cl_topics *t)
{
	for (size_t i = 0; i < t->n; i++) {
		cloister_handle(t->node, t->v[i].name, NULL, NULL);
		free(t->v[i].name);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
