/*
 * run.c — `cloister run`: the service a containerized agent supervises
 * (run.h), and the command's own arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run.h"

struct cl_service {
	struct event_base *base;
	cl_run_options run;
	void (*on_exit)(void *arg, int code);
	void *arg;
	pid_t pid;
	bool started, exited;
	int code;
	struct event *kill_timer;
};

cl_service *cl_service_new(struct event_base *base, const cl_run_options *run,
			   void (*on_exit)(void *arg, int code), void *arg)
{
	cl_service *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->run = *run;
	s->on_exit = on_exit;
	s->arg = arg;
	s->pid = -1;
	return s;
}

void cl_service_free(cl_service *s)
{
	if (!s)
		return;
	if (s->kill_timer)
		event_free(s->kill_timer);
	free(s);
}

bool cl_service_started(const cl_service *s)
{
	return s && s->started;
}

bool cl_service_running(const cl_service *s)
{
	return s && s->started && !s->exited;
}

int cl_service_exit_code(const cl_service *s)
{
	return s && s->exited ? s->code : 0;
}

int cl_service_start(cl_service *s, char *why, size_t len)
{
	/* A close-on-exec pipe tells an exec that failed (the child writes
	 * its errno) from one that worked (the pipe closes empty). */
	int p[2];
	if (pipe(p) != 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its own process group, so the final SIGKILL reaches what
		 * it started too; the agent's ignored SIGPIPE and signal mask
		 * are not the service's business. */
		setpgid(0, 0);
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigemptyset(&dfl.sa_mask);
		sigaction(SIGPIPE, &dfl, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(s->run.command[0], s->run.command);
		int e = errno;
		ssize_t w = write(p[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	close(p[1]);
	setpgid(pid, pid);
	int e = 0;
	ssize_t n;
	do
		n = read(p[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	s->pid = pid;
	s->started = true;
	if (n == (ssize_t)sizeof e) {
		/* Reaped later by cl_service_reap, which reports 127. */
		snprintf(why, len, "%s: %s", s->run.command[0], strerror(e));
		return -1;
	}
	return 0;
}

void cl_service_signal(cl_service *s, int sig)
{
	if (cl_service_running(s))
		kill(s->pid, sig);
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
	cl_service *s = arg;
	if (cl_service_running(s))
		kill(-s->pid, SIGKILL);
}

void cl_service_stop(cl_service *s, int sig)
{
	if (!cl_service_running(s))
		return;
	kill(s->pid, sig);
	if (!s->kill_timer) {
		s->kill_timer = evtimer_new(s->base, on_grace_over, s);
		struct timeval grace = {s->run.grace_s, 0};
		if (s->kill_timer)
			evtimer_add(s->kill_timer, &grace);
	}
}

void cl_service_reap(cl_service *s)
{
	for (int i = 0; i < 4096; i++) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		if (!s || pid != s->pid || s->exited)
			continue;
		s->exited = true;
		s->code = WIFEXITED(status)     ? WEXITSTATUS(status)
			  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						: 1;
		/* What the service started lives on in its group only if
		 * it left it behind: nothing holds it now. */
		kill(-s->pid, SIGKILL);
		if (s->kill_timer)
			evtimer_del(s->kill_timer);
		if (s->on_exit)
			s->on_exit(s->arg, s->code);
	}
}

/* ------------------------------------------------------------------ */

static int run_usage(FILE *out, int code)
{
	fprintf(out,
		"usage: cloister run [AGENT-SETTINGS...] [--wait-ready] "
		"[--stop-grace S] -- COMMAND [ARGS...]\n\n"
		"The agent as a container's entry point (PID 1): it joins the\n"
		"cluster and runs COMMAND beside it.  COMMAND starts once the agent\n"
		"serves, or with --wait-ready once the cluster is first ready.\n"
		"SIGHUP, SIGINT, SIGUSR1, SIGUSR2 and SIGWINCH are passed to it;\n"
		"orphaned processes are reaped.  On SIGTERM (docker stop, kubelet)\n"
		"the node leaves the cluster (peers see it left, not failed) while\n"
		"COMMAND gets SIGTERM, then SIGKILL after --stop-grace seconds\n"
		"(default %d, under docker's 10); the agent exits with COMMAND's\n"
		"status (128 + N if a signal N ended it, 127 if it could not be\n"
		"executed, 0 if it was never started).  If COMMAND exits by\n"
		"itself, the node leaves and the agent exits with its status.\n"
		"AGENT-SETTINGS are those of `cloister agent --help`.\n",
		CL_RUN_GRACE_DEFAULT_S);
	return code;
}

int cmd_run(int argc, char **argv)
{
	cl_run_options run = {.grace_s = CL_RUN_GRACE_DEFAULT_S};
	int dash = -1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	int end = dash < 0 ? argc : dash;
	/* The agent's own parser reads what is left; --wait-ready and
	 * --stop-grace are taken out here.  argv is rewritten in place: the
	 * agent keeps its argv for SIGHUP. */
	int n = 1;
	for (int i = 1; i < end; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return run_usage(stdout, 0);
		if (!strcmp(a, "--wait-ready")) {
			run.wait_ready = true;
			continue;
		}
		if (!strcmp(a, "--wait-ready=true") || !strcmp(a, "--wait-ready=false")) {
			run.wait_ready = a[13] == 't';
			continue;
		}
		const char *v = NULL;
		if (!strcmp(a, "--stop-grace")) {
			if (i + 1 >= end) {
				fprintf(stderr, "cloister run: --stop-grace needs a "
						"value\n");
				return 2;
			}
			v = argv[++i];
		} else if (!strncmp(a, "--stop-grace=", 13)) {
			v = a + 13;
		}
		if (v) {
			char *e;
			long g = strtol(v, &e, 10);
			if (!*v || *e || g < 0 || g > 3600) {
				fprintf(stderr, "cloister run: --stop-grace \"%s\": 0 "
						"to 3600 seconds\n", v);
				return 2;
			}
			run.grace_s = (int)g;
			continue;
		}
		argv[n++] = argv[i];
	}
	if (dash < 0 || dash + 1 >= argc) {
		fprintf(stderr, "cloister run: no COMMAND after \"--\"\n");
		return run_usage(stderr, 2);
	}
	run.command = argv + dash + 1;
	argv[n] = NULL;
	/* Orphans of the service come to us, as they would to PID 1, also
	 * when we are not PID 1 (a process tree in a shell or a test): one
	 * reaping rule wherever the agent runs. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return cl_agent_main(n, argv, &run);
}
