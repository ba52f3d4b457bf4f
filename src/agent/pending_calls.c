/*
 * pending_calls.c — calls on topics that a local subscriber answers: the
 * kept calls and the answered topics' handlers, shared by the HTTP API
 * and the Erlang port (pending_calls.h says why and the threading rules).
 */
#include "pending_calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* ------------------------------------------------------------------ */
/* Kept calls                                                          */
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
	cl_pending_release(cl_pending_take(pd, 0, true));
	pthread_cond_destroy(pd->cond);
	pthread_mutex_destroy(pd->lock);
}

uint64_t cl_pending_next_id(cl_pending *pd)
{
	return ++pd->next_id;
}

static bool kept(const cl_pending *pd, uint64_t id)
{
	for (const cl_pcall *pc = pd->calls; pc; pc = pc->next)
		if (pc->id == id)
			return true;
	return false;
}

uint64_t cl_pending_random_id(cl_pending *pd)
{
	uint64_t id;
	/* sodium_init() is idempotent; the runtime has called it already
	 * for the node's keyring in any agent with a key. */
	if (sodium_init() < 0)
		abort(); /* no randomness: nothing here may go on guessably */
	do
		randombytes_buf(&id, sizeof id);
	while (id == 0 || kept(pd, id));
	return id;
}

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int cl_pending_keep(cl_pending *pd, uint64_t id, uint64_t owner,
		    cloister_call *call)
{
	cl_pcall *pc = malloc(sizeof *pc);
	if (!pc)
		return CLOISTER_ENOMEM;
	*pc = (cl_pcall){pd->calls, id, owner, call,
			 monotonic_us() + (int64_t)CL_CALL_WAIT_MS * 1000};
	pd->calls = pc;
	return 0;
}

cl_pcall *cl_pending_take(cl_pending *pd, uint64_t owner, bool all)
{
	int64_t now = monotonic_us();
	cl_pcall *out = NULL;
	for (cl_pcall **pp = &pd->calls; *pp;) {
		cl_pcall *pc = *pp;
		if (all || pc->expires_us <= now ||
		    (owner && pc->owner == owner)) {
			*pp = pc->next;
			pc->next = out;
			out = pc;
		} else {
			pp = &pc->next;
		}
	}
	return out;
}

void cl_pending_release(cl_pcall *list)
{
	while (list) {
		cl_pcall *pc = list;
		list = pc->next;
		cloister_call_drop(pc->call);
		free(pc);
	}
}

cl_pcall *cl_pending_take_id(cl_pending *pd, uint64_t id, uint64_t owner)
{
	for (cl_pcall **pp = &pd->calls; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->owner == owner) {
			cl_pcall *pc = *pp;
			*pp = pc->next;
			pc->next = NULL;
			return pc;
		}
	return NULL;
}

void cl_pending_expire(cl_pending *pd)
{
	pthread_mutex_lock(pd->lock);
	cl_pcall *expired = cl_pending_take(pd, 0, false);
	pthread_mutex_unlock(pd->lock);
	cl_pending_release(expired);
}

int cl_pending_answer(cl_pending *pd, uint64_t id, uint64_t owner,
		      const void *data, size_t len)
{
	pthread_mutex_lock(pd->lock);
	cl_pcall *found = cl_pending_take_id(pd, id, owner);
	pthread_mutex_unlock(pd->lock);
	if (found && found->expires_us <= monotonic_us()) {
		cl_pending_release(found);
		found = NULL;
	}
	if (!found)
		return CLOISTER_ENOENT;
	int e = cloister_call_answer(found->call, data, len);
	free(found);
	return e;
}

/* ------------------------------------------------------------------ */
/* Answered topics                                                     */
/* ------------------------------------------------------------------ */

struct cl_topic {
	char *name;
	uint64_t owner;
	bool handled; /* the node has our handler for it */
};

void cl_topics_init(cl_topics *t, cloister_t *node)
{
	*t = (cl_topics){.node = node};
}

uint64_t cl_topics_new_owner(cl_topics *t)
{
	return ++t->next_owner;
}

static struct cl_topic *topic_find(const cl_topics *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

uint64_t cl_topics_owner(const cl_topics *t, const char *name)
{
	const struct cl_topic *tp = topic_find(t, name);
	return tp ? tp->owner : 0;
}

size_t cl_topics_count(const cl_topics *t, uint64_t owner)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += t->v[i].owner == owner;
	return n;
}

/* A new entry for name, not yet handled; NULL when out of memory. */
static struct cl_topic *topic_add(cl_topics *t, const char *name,
				  uint64_t owner)
{
	struct cl_topic *grown = realloc(t->v, (t->n + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	t->v = grown;
	char *copy = strdup(name);
	if (!copy)
		return NULL;
	t->v[t->n] = (struct cl_topic){copy, owner, false};
	return &t->v[t->n++];
}

static void topic_drop(cl_topics *t, struct cl_topic *tp)
{
	if (tp->handled)
		cloister_handle(t->node, tp->name, NULL, NULL);
	free(tp->name);
	*tp = t->v[--t->n];
}

int cl_topics_reserve(cl_topics *t, uint64_t owner, const char *name)
{
	struct cl_topic *tp = topic_find(t, name);
	if (tp)
		return tp->owner == owner ? 0 : CLOISTER_EEXIST;
	return topic_add(t, name, owner) ? 0 : CLOISTER_ENOMEM;
}

void cl_topics_release(cl_topics *t, uint64_t owner)
{
	for (size_t i = t->n; i-- > 0;)
		if (t->v[i].owner == owner)
			topic_drop(t, &t->v[i]);
}

int cl_topics_acquire(cl_topics *t, uint64_t owner, char *const *names,
		      size_t n, cloister_handler_fn fn, void *arg,
		      size_t *taken)
{
	/* Checked first, so a refusal changes nothing. */
	for (size_t i = 0; i < n; i++) {
		const struct cl_topic *tp = topic_find(t, names[i]);
		if (tp && tp->owner != owner) {
			if (taken)
				*taken = i;
			return CLOISTER_EEXIST;
		}
	}
	/* What this call changed, to undo on failure: names it added, and
	 * reserved names it started to handle. */
	struct {
		const char *name;
		bool added;
	} *done = calloc(n ? n : 1, sizeof *done);
	if (!done)
		return CLOISTER_ENOMEM;
	size_t nd = 0;
	int e = 0;
	for (size_t i = 0; i < n && !e; i++) {
		struct cl_topic *tp = topic_find(t, names[i]);
		if (tp && tp->handled)
			continue;
		bool added = !tp;
		if (added && !(tp = topic_add(t, names[i], owner))) {
			e = CLOISTER_ENOMEM;
			break;
		}
		done[nd].name = tp->name;
		done[nd++].added = added;
		e = cloister_handle(t->node, tp->name, fn, arg);
		tp->handled = e == 0;
	}
	for (size_t k = nd; e && k-- > 0;) {
		struct cl_topic *tp = topic_find(t, done[k].name);
		if (!tp)
			continue;
		if (done[k].added) {
			topic_drop(t, tp);
		} else if (tp->handled) {
			cloister_handle(t->node, tp->name, NULL, NULL);
			tp->handled = false;
		}
	}
	free(done);
	return e;
}

void cl_topics_clear(cl_topics *t)
{
	while (t->n)
		topic_drop(t, &t->v[t->n - 1]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
