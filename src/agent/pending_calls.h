/*
 * pending_calls.h — calls on topics that a local subscriber answers.
 *
 * Both of the agent's transports let a client answer calls: the HTTP API
 * (GET /v1/events?answer=T, then POST /v1/reply) and the Erlang port
 * ({answer, Topic}, then {reply, {Id, Data}}).  Each registers a handler
 * on the node for the answered topics, turns every call on them into an
 * event for its client, and blocks the node's thread until the client
 * answers by id, the wait runs out, or nobody is left to answer; every
 * wait comes out of one budget, so the waits take at most a tenth of the
 * node's time whoever calls and however fast.  This is
 * that machinery, once: the agent's table of answered topics (cl_topics),
 * the call ids, the list of waiting calls, handing an answer to its
 * waiter, and how long a call waits.  How a call is announced, and who
 * counts as still able to answer, stay with each transport.
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
 * owner's mutex and condition variable (set up by cl_pending_init),
 * because the owner's own state (subscribers, a closed output) decides how
 * long a call waits and is guarded by the same lock.  cl_pending_answer
 * takes the lock; every other cl_pending_* function after init is called
 * with it held.  The lock is innermost: no cloister_* call happens under
 * it.  The cl_topics table is used on one thread only (the agent's event
 * base, where both transports serve requests) and is not locked.
 */
#ifndef CLOISTER_AGENT_PENDING_CALLS_H
#define CLOISTER_AGENT_PENDING_CALLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"

/* How long a call on an answered topic waits for its answer.  The handler
 * runs on the node's event loop, which does nothing else while it waits
 * (no probes answered, no gossip): 2 s matches the default multicall
 * timeout, past which the caller has given up anyway, and stays well under
 * the LAN profile's suspicion timeout (4 probe periods), so a slow answer
 * costs at most a refuted suspicion.  All waits together are bounded too
 * (CL_CALL_WAIT_SHARE_MS). */
#define CL_CALL_WAIT_MS 2000
/* Once a subscriber let a call time out, its next calls wait only this
 * long until it answers one in time again: a hung subscriber must not
 * stall the node for 2 s per call. */
#define CL_CALL_WAIT_LATE_MS 100

/* The wait for a call whose answerers are late (or not). */
static inline int cl_call_wait_ms(bool late)
{
	return late ? CL_CALL_WAIT_LATE_MS : CL_CALL_WAIT_MS;
}
/* All the waits together take at most this much of the node's time, per
 * second: a budget of CL_CALL_WAIT_MS of waiting, refilled at this rate,
 * shared by every answerer of the node (cl_topics).  Without it the
 * caller sets the pace: a key holder calling a hung answerer 40 times a
 * second kept the loop waiting 4 s a second, and the node, acking no
 * pings, was taken for dead (test_hung_answerer).  With it a hung or slow
 * answerer costs the node one wait of at most CL_CALL_WAIT_MS when the
 * budget is full, then a tenth of its time, in waits of at most
 * CL_CALL_WAIT_LATE_MS once it is late: probes are answered at most that
 * late.  A call that finds the budget spent does not wait: its caller
 * gets no answer from this node, as from a late one. */
#define CL_CALL_WAIT_SHARE_MS 100

/* ------------------------------------------------------------------ */
/* Waiting calls                                                       */
/* ------------------------------------------------------------------ */

/* A call waiting for its answer; it lives on the waiting handler's stack. */
typedef struct cl_pcall {
	struct cl_pcall *next;
	uint64_t id;
	uint64_t owner; /* the answerer it was announced to */
	bool answered;
	void *reply; /* malloc'd, once answered: the handler's *reply */
	size_t reply_len;
} cl_pcall;

typedef struct cl_pending {
	pthread_mutex_t *lock; /* the owner's */
	pthread_cond_t *cond;
	cl_pcall *calls;
	uint64_t next_id;
} cl_pending;

/* Initializes the owner's *lock and *cond (the condition on
 * CLOCK_MONOTONIC, which the waits use) and an empty list under them.
 * The owner guards its own state with them too, wakes waits with
 * pthread_cond_broadcast(cond) when that state changes, and ends them with
 * cl_pending_destroy. */
void cl_pending_init(cl_pending *pd, pthread_mutex_t *lock,
		     pthread_cond_t *cond);
void cl_pending_destroy(cl_pending *pd);

/* A new call id: 1, 2, ... (lock held).  For the Erlang port, whose
 * only reader is the BEAM that started the agent. */
uint64_t cl_pending_next_id(cl_pending *pd);

/* A new call id that nobody can guess: 64 random bits, never 0, never one
 * already waiting (lock held).  For the HTTP API, where every holder of
 * the token could otherwise answer the calls announced to another. */
uint64_t cl_pending_random_id(cl_pending *pd);

/* Registers pc, its id set (lock held): an answer is taken from now on, so
 * register before the call is announced. */
void cl_pending_add(cl_pending *pd, cl_pcall *pc);

/* Waits (lock held) until pc is answered, still_wanted(arg) is false (it
 * is asked with the lock held, before each wait) or wait_ms have passed;
 * then withdraws pc.  True when answered: pc->reply is the caller's. */
bool cl_pending_wait(cl_pending *pd, cl_pcall *pc, int wait_ms,
		     bool (*still_wanted)(void *arg), void *arg);

struct cl_topics;
/* cl_pending_wait for as long as a call from an answerer late (or not)
 * may wait, within the node's waiting budget in t (lock held; the
 * budget's own lock is taken inside it). */
bool cl_pending_wait_budgeted(cl_pending *pd, cl_pcall *pc,
			      struct cl_topics *t, bool late,
			      bool (*still_wanted)(void *arg), void *arg);

/* Withdraws pc without waiting (lock held); true when it was answered. */
bool cl_pending_withdraw(cl_pending *pd, cl_pcall *pc);

/* Hands a copy of data to the call waiting under id, announced to owner,
 * and wakes it (takes the lock).  0; CLOISTER_ENOMEM; or CLOISTER_ENOENT
 * when no such call is waiting: answered already, timed out, never made,
 * or announced to another owner (the same answer for all, so a caller
 * learns nothing about other owners' calls). */
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
	/* The node's waiting budget (CL_CALL_WAIT_SHARE_MS): used by the
	 * handlers, on the node's thread, under a lock of its own (a leaf:
	 * taken under an answerer's lock, never the other way round). */
	pthread_mutex_t wait_lock;
	int64_t wait_left_us; /* may go below 0: a wait that overran */
	int64_t wait_at_us;   /* refilled up to then (CLOCK_MONOTONIC) */
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
