/*
 * mixed_member.c: a C service on libcloister in an Elixir cloister
 * (bindings/elixir/otp_test/run.sh, the mixed-cluster check).
 *
 *   mixed_member NAME IP:PORT SENTRY APP CONSENSUS
 *
 * The cluster key comes from CLOISTER_PASSPHRASE (the BEAMs' cookie: the
 * OTP binding derives its key from it the same way).  Prints "ready" once
 * the node is ready; then each line "whois N" on stdin is answered with
 * the owners of key-1..key-N on the libring ring, one per line, then
 * "end".  End of input: leave, exit.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cloister.h>

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s NAME IP:PORT SENTRY APP CONSENSUS\n", argv[0]);
		return 2;
	}
	const char *pass = getenv("CLOISTER_PASSPHRASE");
	cloister_config_t *cfg = cloister_config_new();
	if (!cfg || cloister_config_set(cfg, "name", argv[1]) ||
	    cloister_config_set(cfg, "advertise", argv[2]) ||
	    cloister_config_set(cfg, "sentry", argv[3]) ||
	    cloister_config_set(cfg, "app", argv[4]) ||
	    cloister_config_set(cfg, "consensus", argv[5]) ||
	    cloister_config_set(cfg, "ring", "libring") ||
	    cloister_config_set(cfg, "profile", "local") ||
	    (pass && cloister_config_set(cfg, "passphrase", pass))) {
		fprintf(stderr, "config: %s\n", cfg ? cloister_config_error(cfg) : "no memory");
		return 2;
	}
	int err;
	cloister_t *node = cloister_new(cfg, &err);
	cloister_config_free(cfg);
	if (!node) {
		fprintf(stderr, "cloister_new: %s\n", cloister_strerror(err));
		return 1;
	}
	if ((err = cloister_start(node)) != 0) {
		fprintf(stderr, "cloister_start: %s\n", cloister_strerror(err));
		return 1;
	}
	/* Bounded: the driver gives up long before 120 s. */
	if (cloister_wait_ready(node, 120000) != 0) {
		fprintf(stderr, "not ready\n");
		cloister_free(node);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		int n;
		if (sscanf(line, "whois %d", &n) != 1 || n < 0 || n > 100000)
			continue;
		for (int i = 1; i <= n; i++) {
			char key[32], owner[CLOISTER_NAME_MAX + 1];
			int len = snprintf(key, sizeof key, "key-%d", i);
			if (cloister_whois(node, NULL, key, (size_t)len, owner) != 0)
				strcpy(owner, "-");
			printf("%s\n", owner);
		}
		printf("end\n");
		fflush(stdout);
	}
	cloister_leave(node);
	for (int i = 0; i < 50 && cloister_status(node) != CLOISTER_STOPPED; i++)
		usleep(100000);
	cloister_free(node);
	return 0;
}
