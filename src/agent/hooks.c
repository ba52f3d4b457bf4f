/*
 * hooks.c — running --on-change and --on-member commands (see hooks.h).
 */
#include "hooks.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define HOOK_ENV_MAX 8

struct job {
	char *env[HOOK_ENV_MAX]; /* "K=V" strings added to our environment */
	bool is_member;
};

struct running {
	pid_t pid;
	int64_t deadline;
};

struct hooks {
	cloister_t *node;
	char *on_change, *on_member;
	int timeout_s;
	pthread_mutex_t lock;
	struct job queue[HOOKS_QUEUE_MAX];
	size_t head, n;
	struct running run[HOOKS_RUNNING_MAX];
	size_t n_run;
	unsigned long dropped;
};

hooks *hooks_new(cloister_t *node, const char *on_change,
		 const char *on_member, int timeout_s)
{
	hooks *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->node = node;
	h->on_change = on_change && *on_change ? strdup(on_change) : NULL;
	h->on_member = on_member && *on_member ? strdup(on_member) : NULL;
	h->timeout_s = timeout_s > 0 ? timeout_s : 10;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

static void job_free(struct job *j)
{
	for (int i = 0; i < HOOK_ENV_MAX; i++) {
		free(j->env[i]);
		j->env[i] = NULL;
	}
}

void hooks_free(hooks *h)
{
	if (!h)
		return;
	/* Hooks still running are left to finish: the agent is exiting and
	 * killing a half-done hook would be worse than letting it end. */
	for (size_t i = 0; i < h->n; i++)
		job_free(&h->queue[(h->head + i) % HOOKS_QUEUE_MAX]);
	free(h->on_change);
	free(h->on_member);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static char *kv(const char *k, const char *v)
{
	size_t n = strlen(k) + strlen(v) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s=%s", k, v);
	return s;
}

static void enqueue(hooks *h, struct job *j)
{
	pthread_mutex_lock(&h->lock);
	if (h->n == HOOKS_QUEUE_MAX) {
		h->dropped++;
		pthread_mutex_unlock(&h->lock);
		fprintf(stderr, "level=warn msg=\"hook queue full; event "
				"dropped\" dropped=%lu\n", h->dropped);
		job_free(j);
		return;
	}
	h->queue[(h->head + h->n) % HOOKS_QUEUE_MAX] = *j;
	h->n++;
	pthread_mutex_unlock(&h->lock);
}

void hooks_state_change(hooks *h, cloister_state from, cloister_state to,
			const cloister_snapshot *s)
{
	if (!h || !h->on_change)
		return;
	/* The alive members' names, comma separated. */
	cloister_member *m;
	size_t n;
	char *members = NULL;
	if (cloister_members(h->node, &m, &n) == 0) {
		size_t len = 1;
		for (size_t i = 0; i < n; i++)
			len += strlen(m[i].name) + 1;
		members = calloc(1, len);
		for (size_t i = 0; members && i < n; i++) {
			if (m[i].status != CLOISTER_MEMBER_ALIVE &&
			    m[i].status != CLOISTER_MEMBER_SUSPECT)
				continue;
			if (members[0])
				strcat(members, ",");
			strcat(members, m[i].name);
		}
		cloister_members_free(m, n);
	}
	struct job j = {.is_member = false};
	j.env[0] = kv("CLOISTER_FROM", cloister_state_name(from));
	j.env[1] = kv("CLOISTER_TO", cloister_state_name(to));
	j.env[2] = kv("CLOISTER_NODE", s->node);
	j.env[3] = kv("CLOISTER_MEMBERS", members ? members : "");
	j.env[4] = kv("CLOISTER_SENTRY", s->sentry);
	free(members);
	enqueue(h, &j);
}

void hooks_member_event(hooks *h, const char *event, const cloister_member *m)
{
	if (!h || !h->on_member)
		return;
	char tags[2048] = "";
	for (size_t i = 0; i < m->n_tags; i++) {
		size_t l = strlen(tags);
		snprintf(tags + l, sizeof tags - l, "%s%s=%s", i ? "," : "",
			 m->tags[i].key, m->tags[i].value);
	}
	struct job j = {.is_member = true};
	j.env[0] = kv("CLOISTER_EVENT", event);
	j.env[1] = kv("CLOISTER_MEMBER", m->name);
	j.env[2] = kv("CLOISTER_MEMBER_ADDR", m->addr);
	j.env[3] = kv("CLOISTER_MEMBER_STATUS",
		      cloister_member_status_name(m->status));
	j.env[4] = kv("CLOISTER_MEMBER_TAGS", tags);
	j.env[5] = kv("CLOISTER_NODE", cloister_name(h->node));
	enqueue(h, &j);
}

static void spawn(hooks *h, struct job *j)
{
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **env = calloc(n_env + HOOK_ENV_MAX + 1, sizeof *env);
	if (!env)
		return;
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "CLOISTER_", 9) != 0)
			env[k++] = environ[i];
	for (int i = 0; i < HOOK_ENV_MAX; i++)
		if (j->env[i])
			env[k++] = j->env[i];
	env[k] = NULL;
	char *cmd = j->is_member ? h->on_member : h->on_change;
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	/* Its own process group, so a timeout kills whatever it started. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	pid_t pid;
	int e = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (e != 0) {
		fprintf(stderr, "level=error msg=\"cannot run hook\" error=\"%s\"\n",
			strerror(e));
		return;
	}
	h->run[h->n_run].pid = pid;
	h->run[h->n_run].deadline =
		cloister_now_us() + (int64_t)h->timeout_s * 1000000;
	h->n_run++;
}

void hooks_reap(hooks *h)
{
	if (!h)
		return;
	int64_t now = cloister_now_us();
	for (size_t i = 0; i < h->n_run;) {
		int status;
		pid_t r = waitpid(h->run[i].pid, &status, WNOHANG);
		if (r == 0 && now > h->run[i].deadline) {
			kill(-h->run[i].pid, SIGKILL);
			fprintf(stderr, "level=warn msg=\"hook timed out; killed\" "
					"pid=%d timeout_s=%d\n",
				(int)h->run[i].pid, h->timeout_s);
			waitpid(h->run[i].pid, &status, 0);
			r = h->run[i].pid;
		}
		if (r == h->run[i].pid || (r < 0 && errno == ECHILD)) {
			if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
				fprintf(stderr, "level=warn msg=\"hook failed\" "
						"pid=%d exit=%d\n",
					(int)h->run[i].pid, WEXITSTATUS(status));
			h->run[i] = h->run[--h->n_run];
			continue;
		}
		i++;
	}
	/* Start what waits, in order, while slots are free. */
	while (h->n_run < HOOKS_RUNNING_MAX) {
		pthread_mutex_lock(&h->lock);
		if (h->n == 0) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		struct job j = h->queue[h->head];
		h->head = (h->head + 1) % HOOKS_QUEUE_MAX;
		h->n--;
		pthread_mutex_unlock(&h->lock);
		spawn(h, &j);
		job_free(&j);
	}
}
