/*
 * test_pending_calls.c — who may answer calls: the agent's table of
 * answered topics (one owner per topic, all-or-none acquisition undone
 * when the node's handler table is full, reservations, release) and the
 * kept calls (random ids, an answer taken only from the owner the call
 * was announced to, and only once; calls given up when their time is up
 * or their owner goes).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* pending_calls.c lives with the agent: compiled in here. */
#include "agent/pending_calls.c"

static void handler(void *arg, const char *topic, const char *from,
		    const void *payload, size_t len, void **reply,
		    size_t *reply_len)
{
}

/* Whether the node has a handler for topic; removes it (the public API
 * has no lookup, only removal, which says ENOENT when there is none). */
static bool handled_then_removed(cloister_t *node, const char *topic)
{
	return cloister_handle(node, topic, NULL, NULL) == 0;
}

static void test_topics(cloister_t *node)
{
	cl_topics t;
	cl_topics_init(&t, node);
	uint64_t a = cl_topics_new_owner(&t), b = cl_topics_new_owner(&t);
	CHECK(a != 0 && b != 0 && a != b);

	char *ab[] = {"jobs", "other"}, *jobs[] = {"jobs"}, *x[] = {"x", "jobs"};
	size_t taken = 99;
	CHECK_EQ_INT(cl_topics_acquire(&t, a, ab, 2, handler, NULL, &taken), 0);
	CHECK(cl_topics_owner(&t, "jobs") == a);
	CHECK(cl_topics_owner(&t, "nobody") == 0);
	CHECK_EQ_INT(cl_topics_count(&t, a), 2);
	/* Again by its owner: nothing changes. */
	CHECK_EQ_INT(cl_topics_acquire(&t, a, jobs, 1, handler, NULL, NULL), 0);
	CHECK_EQ_INT(cl_topics_count(&t, a), 2);
	/* Another owner cannot take it, nor anything listed with it. */
	CHECK_EQ_INT(cl_topics_acquire(&t, b, x, 2, handler, NULL, &taken),
		     CLOISTER_EEXIST);
	CHECK_EQ_INT(taken, 1);
	CHECK(cl_topics_owner(&t, "x") == 0);
	CHECK_EQ_INT(cl_topics_count(&t, b), 0);
	/* Free once its owner lets go. */
	cl_topics_release(&t, a);
	CHECK(cl_topics_owner(&t, "jobs") == 0);
	CHECK(!handled_then_removed(node, "jobs"));
	CHECK_EQ_INT(cl_topics_acquire(&t, b, x, 2, handler, NULL, NULL), 0);
	CHECK(cl_topics_owner(&t, "jobs") == b);

	/* A reservation holds a topic without a handler, for its owner. */
	uint64_t port = cl_topics_new_owner(&t);
	char *erl[] = {"erlang.cloister"};
	CHECK_EQ_INT(cl_topics_reserve(&t, port, "erlang.cloister"), 0);
	CHECK_EQ_INT(cl_topics_reserve(&t, port, "erlang.cloister"), 0);
	CHECK_EQ_INT(cl_topics_reserve(&t, a, "erlang.cloister"),
		     CLOISTER_EEXIST);
	CHECK_EQ_INT(cl_topics_acquire(&t, a, erl, 1, handler, NULL, NULL),
		     CLOISTER_EEXIST);
	CHECK_EQ_INT(cl_topics_acquire(&t, port, erl, 1, handler, NULL, NULL),
		     0);
	CHECK(cl_topics_owner(&t, "erlang.cloister") == port);
	cl_topics_release(&t, port);
	CHECK(!handled_then_removed(node, "erlang.cloister"));
	CHECK_EQ_INT(cl_topics_reserve(&t, a, "x"), CLOISTER_EEXIST);

	/* All or none when the node's handler table fills up midway. */
	cl_topics_clear(&t);
	CHECK(!handled_then_removed(node, "jobs"));
	uint64_t filler = cl_topics_new_owner(&t);
	char names[300][16], *ptrs[300];
	size_t n = 0;
	for (; n < 300; n++) {
		snprintf(names[n], sizeof names[n], "fill.%zu", n);
		ptrs[n] = names[n];
		if (cl_topics_acquire(&t, filler, &ptrs[n], 1, handler, NULL,
				      NULL) != 0)
			break;
	}
	CHECK(n > 0 && n < 300); /* the node's table is bounded */
	cl_topics_release(&t, filler);
	/* n - 1 fit now; two more topics past that fail together... */
	uint64_t big = cl_topics_new_owner(&t);
	CHECK_EQ_INT(cl_topics_acquire(&t, big, ptrs, n - 1, handler, NULL,
				       NULL),
		     0);
	uint64_t late = cl_topics_new_owner(&t);
	char *two[] = {"late.1", "late.2"};
	CHECK_EQ_INT(cl_topics_reserve(&t, late, "late.1"), 0);
	CHECK_EQ_INT(cl_topics_acquire(&t, late, two, 2, handler, NULL, NULL),
		     CLOISTER_ELIMIT);
	/* ...leaving the reservation as it was and nothing else behind. */
	CHECK(cl_topics_owner(&t, "late.1") == late);
	CHECK(cl_topics_owner(&t, "late.2") == 0);
	CHECK(!handled_then_removed(node, "late.1"));
	CHECK(!handled_then_removed(node, "late.2"));
	cl_topics_clear(&t);
	CHECK(!handled_then_removed(node, ptrs[0]));
	CHECK_EQ_INT(t.n, 0);
}

/* The list's length. */
static size_t count(const cl_pcall *l)
{
	size_t n = 0;
	for (; l; l = l->next)
		n++;
	return n;
}

/*
 * The kept calls hold no real call here (NULL: a node's calls exist only
 * inside its handlers; test_messaging_binding answers real ones): an
 * answer that finds its call hands it to cloister_call_answer, which says
 * CLOISTER_EINVAL for NULL, so "found" is any result but CLOISTER_ENOENT.
 */
static void test_calls(void)
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	cl_pending pd;
	cl_pending_init(&pd, &lock, &cond);

	/* Random ids: never 0, never repeated among those kept. */
	uint64_t ids[64];
	pthread_mutex_lock(&lock);
	for (int i = 0; i < 64; i++) {
		ids[i] = cl_pending_random_id(&pd);
		CHECK(ids[i] != 0);
		for (int k = 0; k < i; k++)
			CHECK(ids[i] != ids[k]);
		CHECK_EQ_INT(cl_pending_keep(&pd, ids[i], 7, NULL), 0);
	}
	/* Not a sequence: ids spread over the 64 bits. */
	int high = 0;
	for (int i = 0; i < 64; i++)
		high += ids[i] >> 63;
	CHECK(high > 8 && high < 56);
	pthread_mutex_unlock(&lock);

	/* An answer counts only from the call's owner, and only once. */
	CHECK_EQ_INT(cl_pending_answer(&pd, ids[3], 8, "evil", 4),
		     CLOISTER_ENOENT);
	CHECK(cl_pending_answer(&pd, ids[3], 7, "good", 4) != CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_pending_answer(&pd, ids[3], 7, "again", 5),
		     CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_pending_answer(&pd, 0, 7, "", 0), CLOISTER_ENOENT);

	/* A call whose time is up is given up, by the next answer too. */
	pthread_mutex_lock(&lock);
	cl_pcall *last = pd.calls; /* ids[63], kept last */
	CHECK(last && last->id == ids[63]);
	CHECK(last->expires_us > monotonic_us() + 1000000); /* ~2 s ahead */
	last->expires_us = monotonic_us() - 1;
	CHECK(cl_pending_take(&pd, 0, false) == last);
	CHECK(last->next == NULL);
	cl_pending_release(last);
	pd.calls->expires_us = monotonic_us() - 1; /* ids[62] */
	pthread_mutex_unlock(&lock);
	CHECK_EQ_INT(cl_pending_answer(&pd, ids[62], 7, "late", 4),
		     CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_pending_answer(&pd, ids[63], 7, "late", 4),
		     CLOISTER_ENOENT);

	/* An owner's calls go with it, and only its own. */
	pthread_mutex_lock(&lock);
	CHECK_EQ_INT(cl_pending_keep(&pd, 5, 9, NULL), 0);
	CHECK_EQ_INT(cl_pending_keep(&pd, 6, 9, NULL), 0);
	cl_pcall *gone = cl_pending_take(&pd, 9, false);
	CHECK_EQ_INT(count(gone), 2);
	CHECK_EQ_INT(count(pd.calls), 64 - 3);
	cl_pending_release(gone);
	/* One by id and owner. */
	CHECK(cl_pending_take_id(&pd, ids[10], 8) == NULL);
	cl_pcall *one = cl_pending_take_id(&pd, ids[10], 7);
	CHECK(one && one->id == ids[10] && !one->next);
	cl_pending_release(one);
	pthread_mutex_unlock(&lock);
	CHECK_EQ_INT(cl_pending_answer(&pd, ids[10], 7, "x", 1),
		     CLOISTER_ENOENT);

	/* The port's ids count. */
	pthread_mutex_lock(&lock);
	uint64_t first = cl_pending_next_id(&pd);
	CHECK(cl_pending_next_id(&pd) == first + 1);
	pthread_mutex_unlock(&lock);
	cl_pending_destroy(&pd); /* gives up the 60 left */
}

int main(void)
{
	cloister_config_t *cfg = cloister_config_new();
	int err = 0;
	cloister_t *node = cloister_new(cfg, &err); /* nonode: no network */
	cloister_config_free(cfg);
	if (!node) {
		fprintf(stderr, "cannot make a node: %s\n", cloister_strerror(err));
		return 1;
	}
	test_topics(node);
	printf("ok test_topics\n");
	RUN_TEST(test_calls);
	cloister_free(node);
	printf("test_pending_calls: %d checks passed\n", check_count);
	return 0;
}
