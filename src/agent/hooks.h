/*
 * hooks.h — commands run on status changes and member events.
 *
 * The node's thread only queues a hook (bounded: HOOKS_QUEUE_MAX; past it
 * the event is dropped, counted, and logged once per burst); the agent's
 * main thread starts queued hooks (at most HOOKS_RUNNING_MAX at once) with
 * /bin/sh -c, in their own process group, and kills a group that outlives
 * the timeout.  So a hook that hangs costs a slot, never the protocol.
 *
 * What a hook gets (README "Hooks"):
 *   - stdin: one JSON document, from a memory file (memfd), read at the
 *     hook's own pace.  on-member: {"type":"member","event","node",
 *     "member":{name,addr,status,incarnation,start_ms,tags}};
 *     on-change: {"type":"state","from","to","node","sentry","alive",
 *     "members":[...],"members_omitted"}, the member list as it is when the
 *     hook starts (the same entries as /v1/members).  At most
 *     HOOKS_INPUT_MAX bytes: members past it are left out and counted in
 *     members_omitted.  Built on the main thread, linear in its size.
 *     While the running hooks' inputs hold HOOKS_INPUT_HELD_MAX bytes,
 *     queued hooks wait.
 *   - the scalar facts in the environment (CLOISTER_FROM, CLOISTER_TO,
 *     CLOISTER_NODE, CLOISTER_SENTRY, CLOISTER_ALIVE; CLOISTER_EVENT,
 *     CLOISTER_MEMBER, CLOISTER_MEMBER_ADDR, CLOISTER_MEMBER_STATUS), the
 *     agent's own CLOISTER_* variables (its token, key, passphrase)
 *     removed.  CLOISTER_MEMBERS (live names, comma separated: ambiguous
 *     when a name holds a comma; deprecated) only while it fits in
 *     HOOKS_MEMBERS_ENV_MAX bytes, far below the kernel's 128 KiB a
 *     string (E2BIG); over it, it is left out, never cut.
 *     CLOISTER_MEMBER_TAGS is gone (k=v,k=v could not carry ',' '=' or
 *     a newline): the tags are in the JSON;
 *   - stdout and stderr: a pipe the agent reads; each line becomes a
 *     quoted field of an agent log line (msg="hook output"), at most
 *     HOOKS_LINE_MAX bytes a line and HOOKS_OUTPUT_MAX bytes a run;
 *   - no other descriptor: every one above 2 is closed in the child before
 *     exec, whatever the agent or its libraries left open (sockets, the
 *     Erlang port's pipes, files).
 */
#ifndef CLOISTER_AGENT_HOOKS_H
#define CLOISTER_AGENT_HOOKS_H

#include <event2/event.h>

#include "cloister.h"

#define HOOKS_QUEUE_MAX 256
#define HOOKS_RUNNING_MAX 16
/* The JSON on a hook's stdin: 65,536 members (max_members' default) with
 * typical names and tags take ~10 MiB. */
#define HOOKS_INPUT_MAX ((size_t)32 << 20)
/* The running hooks' inputs together: past it, queued hooks wait for
 * running ones to exit (an input's memory is freed with its hook). */
#define HOOKS_INPUT_HELD_MAX ((size_t)64 << 20)
#define HOOKS_MEMBERS_ENV_MAX (32 << 10)
#define HOOKS_LINE_MAX 1024
#define HOOKS_OUTPUT_MAX ((size_t)64 << 10)

typedef struct hooks hooks;

/* Output lines and the runner's own messages go to log (the agent's
 * logger: logfmt, or JSON with --log-format json) when at or below
 * level.  base: the main thread's event base (hooks' output pipes). */
hooks *hooks_new(cloister_t *node, struct event_base *base,
		 const char *on_change, const char *on_member, int timeout_s);
void hooks_set_logger(hooks *h, cloister_log_fn log, void *arg, int level);
/* Only the level (any time, e.g. on SIGHUP): the logger itself is set
 * before the node starts. */
void hooks_set_log_level(hooks *h, int level);
void hooks_free(hooks *h);

/* From the node's listener (any thread). */
void hooks_state_change(hooks *h, cloister_state from, cloister_state to,
			const cloister_snapshot *s);
void hooks_member_event(hooks *h, const char *event, const cloister_member *m);

/* From the agent's main thread, often: start queued hooks, reap finished
 * ones, kill overdue ones. */
void hooks_reap(hooks *h);

#endif
