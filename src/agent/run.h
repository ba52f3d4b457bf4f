/*
 * run.h — `cloister run [agent settings] -- COMMAND...`: the agent as a
 * container's entry point (PID 1), supervising one service.
 *
 * The service starts once the agent serves (or, with --wait-ready, once
 * the cluster is first ready); SIGHUP, SIGINT, SIGUSR1, SIGUSR2 and
 * SIGWINCH reach it; every orphan the kernel hands to PID 1 is reaped.
 * SIGTERM (or SIGINT) makes the node leave while the service gets the
 * same signal, then SIGKILL after the grace period; the agent exits with
 * the service's status once both are done.  A service that exits by
 * itself makes the node leave, and the agent exits with its status.
 */
#ifndef CLOISTER_AGENT_RUN_H
#define CLOISTER_AGENT_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

typedef struct cl_run_options {
	char **command;  /* NULL-terminated; command[0] looked up in PATH */
	bool wait_ready; /* start the service once the cluster is ready */
	int grace_s;     /* SIGTERM to SIGKILL */
} cl_run_options;

#define CL_RUN_GRACE_DEFAULT_S 8

/* The agent itself (agent.c): run is NULL for `cloister agent`. */
int cl_agent_main(int argc, char **argv, const cl_run_options *run);

typedef struct cl_service cl_service;

/* on_exit runs on base's thread once the service has exited, with the
 * status the agent should exit with (its code, or 128 + its signal). */
cl_service *cl_service_new(struct event_base *base, const cl_run_options *run,
			   void (*on_exit)(void *arg, int code), void *arg);
void cl_service_free(cl_service *s);

/* Starts the command: 0, or -1 with why (it could not be executed). */
int cl_service_start(cl_service *s, char *why, size_t len);
bool cl_service_started(const cl_service *s);
bool cl_service_running(const cl_service *s);
/* Sends sig to the service (nothing once it has exited). */
void cl_service_signal(cl_service *s, int sig);
/* sig now, SIGKILL to its process group after the grace period. */
void cl_service_stop(cl_service *s, int sig);
/* Reaps every exited child that no one else waits for (PID 1's duty),
 * noting the service's status.  Call on SIGCHLD, after the hooks have
 * reaped their own. */
void cl_service_reap(cl_service *s);
/* The exit status to report: the service's, or 0 if it never ran. */
int cl_service_exit_code(const cl_service *s);

#endif
