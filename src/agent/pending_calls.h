/*
 * pending_calls.h — calls on topics that a local subscriber answers.
 *
 * Both of the agent's transports let a client answer calls: the HTTP API
 * (GET /v1/events?answer=T, then POST /v1/reply) and the Erlang port
 * ({answer, Topic}, then {reply, {Id, Data}}).  Each registers a handler
 * on the node for the answered topics, turns every call on them into an
 * event for its client, and keeps the call (cloister_call_defer): the
 * handler returns at once, and the client's answer, found by id, is sent
 * from the thread that receives it.  The node's thread never waits for a
 * client, so a slow or hung one costs it nothing, and calls are answered
 * as fast as the client answers them, many at a time.  A kept call is
 * given up (the caller sees this node missing) once CL_CALL_WAIT_MS have
 * passed, or when its client goes away.  This is that machinery, once:
 * the agent's table of answered topics (cl_topics), the call ids, the
 * list of kept calls and handing an answer to its call.  How a call is
 * announced, and who counts as still able to answer, stay with each
 * transport.
 *
 * Who may answer.  Each answerer (an HTTP subscriber, the Erlang port, the
 * agent itself for "cloister.ping") is an owner, a number from
 * cl_topics_new_owner.  A topic has one owner at a time: the node keeps
 * one handler per topic, so a second answerer would silently take the
 * calls of the first (an HTTP client taking "erlang.cloister" from the
 * BEAM, say).  A call remembers the owner it was announced to, and only
 * an answer given as that owner is taken.
 *
 * Threads.  A cl_pending has no lock of its own: it lives under its
 * owner's mutex (set up by cl_pending_init, with a condition variable the
 * owner uses for its own waits), because the owner's own state
 * (subscribers, a closed output) decides whether a call is still wanted
 * and is guarded by the same lock.  The lock is innermost: no cloister_*
 * call happens under it, so calls taken out under it are answered or
 * given up (cl_pending_release) after it is released.  The cl_topics
 * table is used on one thread only (the agent's event base, where both
 * transports serve requests) and is not locked.
 */
#ifndef CLOISTER_AGENT_PENDING_CALLS_H
#define CLOISTER_AGENT_PENDING_CALLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"

/* How long a kept call waits for its client's answer: the default
 * multicall timeout, past which the caller has given up anyway.  The node
 * does not wait meanwhile; a call not answered by then is given up. */
#define CL_CALL_WAIT_MS 2000

/* ------------------------------------------------------------------ */
/* Kept calls                                                          */
/* ------------------------------------------------------------------ */

typedef struct cl_pcall {
	struct cl_pcall *next;
	uint64_t id;
	uint64_t owner;       /* the answerer it was announced to */
	cloister_call *call;  /* the node's, answered or dropped through it */
	int64_t expires_us;   /* CLOCK_MONOTONIC */
} cl_pcall;

typedef struct cl_pending {
	pthread_mutex_t *lock; /* the owner's */
	pthread_cond_t *cond;
	cl_pcall *calls;
	uint64_t next_id;
} cl_pending;

/* Initializes the owner's *lock and *cond (the condition on
 * CLOCK_MONOTONIC) and an empty list under them; cl_pending_destroy gives
 * up the calls still kept and destroys both. */
void cl_pending_init(cl_pending *pd, pthread_mutex_t *lock,
		     pthread_cond_t *cond);
void cl_pending_destroy(cl_pending *pd);

/* A new call id: 1, 2, ... (lock held).  For the Erlang port, whose
 * only reader is the BEAM that started the agent. */
uint64_t cl_pending_next_id(cl_pending *pd);

/* A new call id that nobody can guess: 64 random bits, never 0, never one
 * already kept (lock held).  For the HTTP API, where every holder of the
 * token could otherwise answer the calls announced to another. */
uint64_t cl_pending_random_id(cl_pending *pd);

/* Keeps call under id for owner, for CL_CALL_WAIT_MS (lock held): an
 * answer is taken from now on, so keep it before the call is announced.
 * 0, or CLOISTER_ENOMEM (the caller then drops call itself). */
int cl_pending_keep(cl_pending *pd, uint64_t id, uint64_t owner,
		    cloister_call *call);

/* Takes out (lock held) the calls whose time is up, those of owner
 * (owner 0: none), or every call (all): a list for cl_pending_release. */
cl_pcall *cl_pending_take(cl_pending *pd, uint64_t owner, bool all);

/* Gives up the calls whose time is up (takes the lock).  The owner calls
 * it from a timer, CL_PENDING_EXPIRE_MS apart: keeping a call, on the
 * node's thread, never walks the list. */
#define CL_PENDING_EXPIRE_MS 500
void cl_pending_expire(cl_pending *pd);

/* Takes out (lock held) the call kept under id for owner: a list of one
 * for cl_pending_release, or NULL. */
cl_pcall *cl_pending_take_id(cl_pending *pd, uint64_t id, uint64_t owner);

/* Gives up every call of the list and frees it (lock not held). */
void cl_pending_release(cl_pcall *list);

/* Answers with a copy of data the call kept under id for owner (takes the
 * lock; the answer goes out after it is released); a call whose time is
 * up is given up instead, as if the timer had come first.  0; CLOISTER_ENOENT when no such call is kept:
 * answered already, timed out, never made, or announced to another owner
 * (the same answer for all, so a caller learns nothing about other
 * owners' calls); or cloister_call_answer's error. */
int cl_pending_answer(cl_pending *pd, uint64_t id, uint64_t owner,
		      const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Answered topics                                                     */
/* ------------------------------------------------------------------ */

/* The agent's answered topics, each with its one owner and, once the
 * owner answers it, the node's handler for it. */
typedef struct cl_topics {
	cloister_t *node;
	struct cl_topic *v;
	size_t n;
	uint64_t next_owner;
} cl_topics;

void cl_topics_init(cl_topics *t, cloister_t *node);

/* A new owner number (never 0). */
uint64_t cl_topics_new_owner(cl_topics *t);

/* The owner of topic name, or 0 when nobody answers it. */
uint64_t cl_topics_owner(const cl_topics *t, const char *name);

/* How many topics owner holds. */
size_t cl_topics_count(const cl_topics *t, uint64_t owner);

/* Holds name for owner without answering it yet (no handler): the Erlang
 * port keeps its topic from others until the BEAM answers it.  0,
 * CLOISTER_EEXIST (another owner has it) or CLOISTER_ENOMEM. */
int cl_topics_reserve(cl_topics *t, uint64_t owner, const char *name);

/* Answers each of names as owner with fn(arg, ...): all or none.  A topic
 * the owner already answers is left as it is.  0; CLOISTER_EEXIST when
 * another owner holds one of them (its index in *taken when taken is not
 * NULL); the error of cloister_handle (CLOISTER_ELIMIT: the node's
 * handler table is full); or CLOISTER_ENOMEM. */
int cl_topics_acquire(cl_topics *t, uint64_t owner, char *const *names,
		      size_t n, cloister_handler_fn fn, void *arg,
		      size_t *taken);

/* Gives up every topic owner holds (their handlers removed first). */
void cl_topics_release(cl_topics *t, uint64_t owner);

/* Removes every handler; t is empty (and reusable) after. */
void cl_topics_clear(cl_topics *t);

#endif
