/*
 * streampeer.c — a key holder whose stream packets make the agent answer
 * while it is still reading them (test-only), for
 * tests/integration/test_stream_reply.sh.
 *
 *   streampeer TARGET APP KEYFILE NAME ping WITNESS
 *       One sealed stream frame to TARGET (IP:PORT): a PING to NAME (the
 *       agent) and, after it in the same packet, an ALIVE of WITNESS at
 *       127.0.27.1:20000.  The agent acks the ping on this connection
 *       before it reads the ALIVE, as it does for every fallback ping a
 *       member sends with its gossip piggybacked.  Waits up to 3 s for the
 *       answer and prints "answered BYTES".
 *
 *   streampeer TARGET APP KEYFILE NAME noread FRAMES WITNESS
 *       FRAMES sealed frames on one connection whose answers are never
 *       read.  Each packet holds 200 PINGs to NAME (200 acks to write
 *       back) and then a PUSHPULL, sent as the answer to a join (so it
 *       asks for nothing), of 140 entries for WITNESS with 508 bytes of tags:
 *       more than one 64 KiB unit, so the agent reads it from the
 *       connection's own buffer.  The agent must cut the connection once
 *       its answers pile up, and must not free what it is reading.
 *       Prints "sent N frames" (fewer than FRAMES once cut).
 *
 * For many connections at once (tests/integration/test_unread_output.sh):
 *   STREAMPEER_BIND=IP (IPv4) the connection leaves from IP: the agent
 *       takes at most max_connections_per_address from one address;
 *   STREAMPEER_SENDER=NAME the sender the frames are sealed by and the
 *       pings come from (default "streampeer"): one sender's frames on
 *       dozens of connections at once would interleave their times past
 *       the agent's replay window (replay.h), and be refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/swim.h"
#include "core/wire.h"
#include "keyholder.h"
#include "runtime/frame.h"

#define PACKET_BYTES (256u * 1024u)
#define PINGS 200
#define ENTRIES 140

static cl_bytes text(const char *s)
{
	return (cl_bytes){(const uint8_t *)s, strlen(s)};
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: streampeer TARGET APP KEYFILE NAME "
				"ping WITNESS | noread FRAMES WITNESS\n");
		return 2;
	}
	const char *app = argv[2], *name = argv[4], *mode = argv[5];
	bool noread = strcmp(mode, "noread") == 0;
	if (!noread && strcmp(mode, "ping") != 0)
		return 2;
	if (noread && argc < 8)
		return 2;
	long frames = noread ? atol(argv[6]) : 1;
	const char *witness = noread ? argv[7] : argv[6];
	cl_addr target;
	if (cl_addr_parse(argv[1], 0, &target) != 0 || frames < 1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	cl_keyring *kr = kh_keyring("streampeer", argv[3]);
	const char *from = getenv("STREAMPEER_BIND");
	const char *sender = getenv("STREAMPEER_SENDER");
	if (!sender || !*sender)
		sender = "streampeer";
	int sock = -1;
	if (kr)
		sock = kh_connect_from("streampeer", from, &target);
	if (sock < 0)
		return 1;
	uint8_t *buf = malloc(PACKET_BYTES);
	uint8_t *scratch = malloc(CL_FRAME_SCRATCH);
	if (!buf || !scratch)
		return 1;
	const cl_addr me = cl_addr_v4(127, 0, 27, 2, 20000);
	const cl_addr at = cl_addr_v4(127, 0, 27, 1, 20000);
	/* Two pairs p0, p1 of 250 bytes each: 508 bytes of tags, under the
	 * agent's default bound (512). */
	uint8_t tag[2 * (1 + 2 + 1 + 250)];
	size_t tag_len = 0;
	for (int i = 0; i < 2; i++) {
		tag[tag_len++] = 2;
		tag[tag_len++] = 'p';
		tag[tag_len++] = (uint8_t)('0' + i);
		tag[tag_len++] = 250;
		memset(tag + tag_len, 'x', 250);
		tag_len += 250;
	}
	uint64_t start_ms = kh_wall_us() / 1000 - 1000, last_t = 0;
	uint32_t seq = 1;
	long sent = 0;
	for (; sent < frames; sent++) {
		cl_wbuf w;
		cl_wire_begin(&w, buf, PACKET_BYTES, app, strlen(app));
		for (int i = 0; i < (noread ? PINGS : 1); i++)
			cl_wire_put_ping(&w, seq++, text(name), text(sender),
					 &me, 0, 1);
		if (noread) {
			cl_wire_pushpull_begin(&w, CL_PUSHPULL_REPLY);
			for (int i = 0; i < ENTRIES; i++) {
				cl_wire_member m = {.status = CL_STATUS_ALIVE,
						    .incarnation = 1,
						    .start_ms = start_ms,
						    .name = text(witness),
						    .addr = at,
						    .tags = {tag, tag_len}};
				if (!cl_wire_pushpull_add(&w, &m))
					return 1;
			}
			cl_wire_pushpull_end(&w);
		} else {
			cl_wire_put_alive(&w, 1, start_ms, text(witness), &at,
					  (cl_bytes){NULL, 0});
		}
		if (kh_send_stream(kr, sock, sender, buf, w.len, scratch,
				   &last_t) != 0)
			break;
	}
	if (noread) {
		printf("sent %ld frames\n", sent);
	} else {
		struct timeval tv = {3, 0};
		setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		ssize_t k = read(sock, buf, PACKET_BYTES);
		printf("answered %zd\n", k > 0 ? k : 0);
	}
	/* Let the agent read it all before the connection closes. */
	sleep(1);
	close(sock);
	cl_keyring_free(kr);
	free(buf);
	free(scratch);
	return 0;
}
