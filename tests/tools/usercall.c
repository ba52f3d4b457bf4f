/*
 * usercall.c — one application message datagram (test-only), for the OTP
 * bindings' attack test (bindings/erlang/test/cloister_attack.erl).
 *
 *   usercall TARGET APP TO TOPIC SENDER call|cast PAYLOADFILE [KEY]
 *
 * Sends to TARGET (IPv4 "a.b.c.d:port") one UDP datagram of cluster APP:
 * a USER call (id random) or cast on TOPIC from member SENDER, carrying
 * PAYLOADFILE's bytes (at most 1 KiB: one datagram).  Without KEY it goes
 * in clear text, as a stranger (or a node without the key) would send it.
 * KEY is a key file (keyfile:PATH) or a passphrase (pass:TEXT, derived
 * for APP as the agent derives it): the datagram is then sealed by SENDER
 * for member TO at the current time, a valid packet exactly when the
 * target holds that key.  Prints one line.
 *
 * Environment, for a steady stream from one process (as
 * integration/test_hung_answerer.sh sends it): USERCALL_COUNT=N sends N
 * such datagrams (default 1), each made afresh (its own call id, sealed at
 * its own time), USERCALL_INTERVAL_MS=M apart (default 0); the line then
 * counts them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/swim.h"
#include "core/wire.h"
#include "keyholder.h"
#include "runtime/keyring.h"

struct usercall {
	const char *app, *to, *topic, *sender, *keyarg; /* keyarg: NULL, clear */
	bool call;
	const uint8_t *payload;
	size_t plen;
	int fd;
	struct sockaddr_in sa;
};

/* Makes and sends one datagram; its length in *len and how it went in
 * *how.  0, or 1 (2: a bad key argument) after printing why. */
static int send_one(const struct usercall *u, size_t *len, const char **how)
{
	uint32_t id = 0;
	if (u->call && getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		return 1;
	uint8_t pt[1400], out[1500];
	cl_wbuf w;
	if (!cl_wire_begin(&w, pt, sizeof pt, u->app, strlen(u->app)) ||
	    !cl_wire_put_user(&w, u->call ? CL_USER_CALL : CL_USER_CAST, id,
			      (cl_bytes){(const uint8_t *)u->topic, strlen(u->topic)},
			      (cl_bytes){(const uint8_t *)u->sender, strlen(u->sender)},
			      (cl_bytes){u->payload, u->plen})) {
		fprintf(stderr, "usercall: message too large\n");
		return 1;
	}
	const uint8_t *send_buf = pt;
	size_t send_len = w.len;
	*how = "in clear text";
	if (u->keyarg) {
		uint8_t key[CL_KEY_BYTES];
		char why[256] = "";
		int e;
		if (!strncmp(u->keyarg, "keyfile:", 8))
			e = cl_key_from_file(u->keyarg + 8, key, why, sizeof why);
		else if (!strncmp(u->keyarg, "pass:", 5))
			e = cl_key_from_passphrase(u->app, u->keyarg + 5, key);
		else
			return 2;
		cl_keyring *kr = cl_keyring_new();
		if (e != 0 || !kr || cl_keyring_install(kr, key) != 0) {
			fprintf(stderr, "usercall: key: %s\n", why);
			return 1;
		}
		cl_seal_info info = {
			.kind = CL_SEAL_DATAGRAM,
			.sender = cl_swim_name_id(u->sender, strlen(u->sender)),
			.time_us = kh_wall_us(),
			.recipient = cl_swim_name_id(u->to, strlen(u->to))};
		int n = cl_keyring_seal(kr, &info, pt, w.len, out, sizeof out);
		cl_keyring_free(kr);
		if (n < 0)
			return 1;
		send_buf = out;
		send_len = (size_t)n;
		*how = "sealed";
	}
	if (sendto(u->fd, send_buf, send_len, 0, (const struct sockaddr *)&u->sa,
		   sizeof u->sa) != (ssize_t)send_len) {
		perror("usercall: send");
		return 1;
	}
	*len = send_len;
	return 0;
}

/* A non-negative integer from the environment, at most max; def if unset,
 * -1 if not such a number. */
static long env_count(const char *name, long def, long max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	return errno || *end || n < 0 || n > max ? -1 : n;
}

int main(int argc, char **argv)
{
	if (argc < 8 || argc > 9 ||
	    (strcmp(argv[6], "call") && strcmp(argv[6], "cast"))) {
		fprintf(stderr, "usage: usercall TARGET APP TO TOPIC SENDER "
				"call|cast PAYLOADFILE [keyfile:PATH|pass:TEXT]\n");
		return 2;
	}
	cl_addr target;
	if (cl_addr_parse(argv[1], 0, &target) != 0 || target.family != CL_AF_INET4)
		return 2;
	long count = env_count("USERCALL_COUNT", 1, 1000000);
	long interval_ms = env_count("USERCALL_INTERVAL_MS", 0, 60000);
	if (count < 1 || interval_ms < 0) {
		fprintf(stderr, "usercall: bad USERCALL_COUNT or "
				"USERCALL_INTERVAL_MS\n");
		return 2;
	}
	uint8_t payload[1024];
	FILE *f = fopen(argv[7], "rb");
	if (!f) {
		perror("usercall: payload");
		return 1;
	}
	size_t plen = fread(payload, 1, sizeof payload, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		fprintf(stderr, "usercall: payload over %zu bytes\n", sizeof payload);
		return 1;
	}
	struct usercall u = {.app = argv[2], .to = argv[3], .topic = argv[4],
			     .sender = argv[5], .keyarg = argc == 9 ? argv[8] : NULL,
			     .call = !strcmp(argv[6], "call"), .payload = payload,
			     .plen = plen,
			     .sa = {.sin_family = AF_INET,
				    .sin_port = htons(target.port)}};
	memcpy(&u.sa.sin_addr, target.ip, 4);
	if ((u.fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
		perror("usercall: send");
		return 1;
	}
	size_t len = 0;
	const char *how = "";
	for (long k = 0; k < count; k++) {
		if (k > 0 && interval_ms > 0) {
			struct timespec ts = {interval_ms / 1000,
					      (interval_ms % 1000) * 1000000L};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		int rc = send_one(&u, &len, &how);
		if (rc != 0)
			return rc;
	}
	close(u.fd);
	if (count == 1)
		printf("usercall: %s %s on %s from %s to %s, %zu bytes, %s\n",
		       u.call ? "call" : "cast", u.topic, u.app, u.sender,
		       argv[1], len, how);
	else
		printf("usercall: %ld %ss %s on %s from %s to %s, %zu bytes "
		       "each, %s\n", count, u.call ? "call" : "cast", u.topic,
		       u.app, u.sender, argv[1], len, how);
	return 0;
}
