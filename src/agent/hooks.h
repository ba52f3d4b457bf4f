/*
 * hooks.h — commands run on status changes and member events.
 *
 * The node's thread only queues a hook (bounded: HOOKS_QUEUE_MAX; past it
 * the hook is dropped and logged); the agent's main thread starts queued
 * hooks (at most HOOKS_RUNNING_MAX at once) with /bin/sh -c, in their own
 * process group, and kills a group that outlives the timeout.  So a hook
 * that hangs costs a slot, never the protocol.
 */
#ifndef CLOISTER_AGENT_HOOKS_H
#define CLOISTER_AGENT_HOOKS_H

#include "cloister.h"

#define HOOKS_QUEUE_MAX 256
#define HOOKS_RUNNING_MAX 16

typedef struct hooks hooks;

hooks *hooks_new(cloister_t *node, const char *on_change,
		 const char *on_member, int timeout_s);
void hooks_free(hooks *h);

/* From the node's listener (any thread). */
void hooks_state_change(hooks *h, cloister_state from, cloister_state to,
			const cloister_snapshot *s);
void hooks_member_event(hooks *h, const char *event, const cloister_member *m);

/* From the agent's main thread, often: start queued hooks, reap finished
 * ones, kill overdue ones. */
void hooks_reap(hooks *h);

#endif
