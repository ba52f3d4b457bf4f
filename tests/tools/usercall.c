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
 */
#include <arpa/inet.h>
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

int main(int argc, char **argv)
{
	if (argc < 8 || argc > 9 ||
	    (strcmp(argv[6], "call") && strcmp(argv[6], "cast"))) {
		fprintf(stderr, "usage: usercall TARGET APP TO TOPIC SENDER "
				"call|cast PAYLOADFILE [keyfile:PATH|pass:TEXT]\n");
		return 2;
	}
	const char *app = argv[2], *to = argv[3], *topic = argv[4],
		   *sender = argv[5];
	bool call = !strcmp(argv[6], "call");
	cl_addr target;
	if (cl_addr_parse(argv[1], 0, &target) != 0 || target.family != CL_AF_INET4)
		return 2;
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
	uint32_t id = 0;
	if (call && getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		return 1;
	uint8_t pt[1400], out[1500];
	cl_wbuf w;
	if (!cl_wire_begin(&w, pt, sizeof pt, app, strlen(app)) ||
	    !cl_wire_put_user(&w, call ? CL_USER_CALL : CL_USER_CAST, id,
			      (cl_bytes){(const uint8_t *)topic, strlen(topic)},
			      (cl_bytes){(const uint8_t *)sender, strlen(sender)},
			      (cl_bytes){payload, plen})) {
		fprintf(stderr, "usercall: message too large\n");
		return 1;
	}
	const uint8_t *send_buf = pt;
	size_t send_len = w.len;
	const char *how = "in clear text";
	if (argc == 9) {
		uint8_t key[CL_KEY_BYTES];
		char why[256] = "";
		int e;
		if (!strncmp(argv[8], "keyfile:", 8))
			e = cl_key_from_file(argv[8] + 8, key, why, sizeof why);
		else if (!strncmp(argv[8], "pass:", 5))
			e = cl_key_from_passphrase(app, argv[8] + 5, key);
		else
			return 2;
		cl_keyring *kr = cl_keyring_new();
		if (e != 0 || !kr || cl_keyring_install(kr, key) != 0) {
			fprintf(stderr, "usercall: key: %s\n", why);
			return 1;
		}
		cl_seal_info info = {
			.kind = CL_SEAL_DATAGRAM,
			.sender = cl_swim_name_id(sender, strlen(sender)),
			.time_us = kh_wall_us(),
			.recipient = cl_swim_name_id(to, strlen(to))};
		int n = cl_keyring_seal(kr, &info, pt, w.len, out, sizeof out);
		cl_keyring_free(kr);
		if (n < 0)
			return 1;
		send_buf = out;
		send_len = (size_t)n;
		how = "sealed";
	}
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(target.port)};
	memcpy(&sa.sin_addr, target.ip, 4);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || sendto(s, send_buf, send_len, 0, (struct sockaddr *)&sa,
			    sizeof sa) != (ssize_t)send_len) {
		perror("usercall: send");
		return 1;
	}
	close(s);
	printf("usercall: %s %s on %s from %s to %s, %zu bytes, %s\n",
	       call ? "call" : "cast", topic, app, sender, argv[1], send_len, how);
	return 0;
}
