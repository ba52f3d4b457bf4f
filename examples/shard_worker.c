/*
 * shard_worker.c — a worker that owns a share of the jobs and follows the
 * cluster as it changes.
 *
 *   shard_worker IP:PORT [SENTRY] [CONSENSUS]
 *
 * Every second it walks jobs 0..99 and processes the ones this node owns
 * (cloister_mine).  While the cluster is rehashing it pauses: ownership is
 * about to move, and two nodes must not work on the same job.  Start three:
 *
 *   shard_worker 127.0.0.1:7001 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 3 &
 *   shard_worker 127.0.0.1:7002 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 3 &
 *   shard_worker 127.0.0.1:7003 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 3 &
 *
 * and kill one: the others take over its jobs after the rehash.  Off
 * loopback every node needs the cluster key: CLOISTER_KEY_FILE=FILE (made
 * with `cloister keygen`), read from the environment, never the command
 * line.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cloister.h>

static atomic_int ready;
static volatile sig_atomic_t stop;

static void on_change(void *arg, cloister_state from, cloister_state to,
		      const cloister_snapshot *s)
{
	(void)arg;
	/* Called on the node's thread after the change: keep it short. */
	atomic_store(&ready, to == CLOISTER_READY);
	printf("status %s -> %s (%zu alive, sentry %s)\n",
	       cloister_state_name(from), cloister_state_name(to), s->alive,
	       s->sentry);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s IP:PORT [SENTRY] [CONSENSUS]\n", argv[0]);
		return 2;
	}
	cloister_config_t *cfg = cloister_config_new();
	if (cloister_config_set(cfg, "app", "shards") ||
	    cloister_config_set(cfg, "advertise", argv[1]) ||
	    (argc > 2 && cloister_config_set(cfg, "sentry", argv[2])) ||
	    (argc > 3 && cloister_config_set(cfg, "consensus", argv[3])) ||
	    (getenv("CLOISTER_KEY_FILE") &&
	     cloister_config_set(cfg, "key_file", getenv("CLOISTER_KEY_FILE")))) {
		fprintf(stderr, "%s\n", cloister_config_error(cfg));
		return 2;
	}
	int err;
	cloister_t *node = cloister_new(cfg, &err);
	cloister_config_free(cfg);
	if (!node) {
		fprintf(stderr, "cloister_new: %s\n", cloister_strerror(err));
		return 1;
	}
	cloister_listener l = {.on_state_change = on_change};
	cloister_set_listener(node, &l);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((err = cloister_start(node)) != 0) {
		fprintf(stderr, "cloister_start: %s\n", cloister_strerror(err));
		return 1;
	}
	/* Cloister's start phase: hold until the cluster is ready. */
	while (!stop && cloister_wait_ready(node, 1000) != 0)
		;
	while (!stop) {
		if (atomic_load(&ready)) {
			int mine = 0;
			for (int job = 0; job < 100; job++) {
				char key[16];
				int n = snprintf(key, sizeof key, "job-%d", job);
				mine += cloister_mine(node, NULL, key, (size_t)n) == 1;
			}
			printf("%s: %d of 100 jobs are mine\n", cloister_name(node),
			       mine);
		}
		sleep(1);
	}
	cloister_leave(node);
	for (int i = 0; i < 50 && cloister_status(node) != CLOISTER_STOPPED; i++)
		usleep(100000);
	cloister_free(node);
	return 0;
}
