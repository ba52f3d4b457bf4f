/*
 * pushmembers.c — a key holder announcing many members (test-only), for
 * tests/integration/test_hooks_security.sh.
 *
 *   pushmembers TARGET APP KEYFILE PREFIX FIRST N [NAME...]
 *
 * Connects to TARGET (IP:PORT) over TCP and sends, sealed under KEYFILE's
 * key as a join push-pull from "pushmembers", a full state of N alive
 * members named PREFIX%06d (FIRST .. FIRST+N-1) at loopback addresses
 * nobody answers (127.0.25.x, ports from 20000), each with a small tag, as
 * a real node with a large view would.  Each NAME after N is one more
 * member, written with C escapes (\n, \t, \\, \xNN) so a test can give
 * names with spaces, '=', quotes or bytes that are not UTF-8; those carry
 * the tag note="a,b=c" + newline + "d\"e" (what an ambiguous k=v,k=v
 * encoding cannot carry) and sit at 127.0.26.x.  A name the wire refuses
 * (a control byte) makes the receiver drop the whole frame, which is what
 * a test giving one alone wants to show.
 *
 * One exchange adds at most max(4096, members known) new members on the
 * receiver (src/core/antientropy.c): a test reaching 10,000 pushes in
 * several runs.  Prints one line with what it sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/swim.h"
#include "core/wire.h"
#include "keyholder.h"
#include "runtime/frame.h"

#define FRAME_BYTES (1u << 20)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* C escapes to bytes; the result is never longer than the input. */
static size_t unescape(const char *s, uint8_t *out)
{
	size_t n = 0;
	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = (uint8_t)*s++;
			continue;
		}
		s++;
		char c = *s++;
		if (c == 'n')
			out[n++] = '\n';
		else if (c == 't')
			out[n++] = '\t';
		else if (c == 'r')
			out[n++] = '\r';
		else if (c == 'x' && hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
			out[n++] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
			s += 2;
		} else
			out[n++] = (uint8_t)c;
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: pushmembers TARGET APP KEYFILE PREFIX "
				"FIRST N [NAME...]\n");
		return 2;
	}
	const char *app = argv[2], *prefix = argv[4];
	long first = atol(argv[5]), n = atol(argv[6]);
	int n_extra = argc - 7;
	cl_addr target;
	if (cl_addr_parse(argv[1], 0, &target) != 0 || n < 0 || first < 0)
		return 2;
	cl_keyring *kr = kh_keyring("pushmembers", argv[3]);
	int sock = kr ? kh_connect("pushmembers", &target) : -1;
	if (sock < 0)
		return 1;
	uint8_t small[64], odd[64];
	size_t small_len = kh_put_tag(small, 0, "role", "worker", 6);
	static const char note[] = "a,b=c\nd\"e";
	size_t odd_len = kh_put_tag(odd, 0, "note", note, sizeof note - 1);
	uint8_t *buf = malloc(FRAME_BYTES + 4096);
	uint8_t *scratch = malloc(CL_FRAME_SCRATCH);
	if (!buf || !scratch)
		return 1;
	uint64_t last_t = 0;
	long total = n + n_extra, sent = 0, frames = 0;
	while (sent < total) {
		cl_wbuf w;
		cl_wire_begin(&w, buf, FRAME_BYTES + 4096, app, strlen(app));
		cl_wire_pushpull_begin(&w, CL_PUSHPULL_JOIN);
		while (sent < total && w.len < FRAME_BYTES) {
			char name[300];
			uint8_t raw[300];
			cl_wire_member m = {.status = CL_STATUS_ALIVE,
					    .incarnation = 1,
					    .start_ms = kh_wall_us() / 1000 - 1000};
			if (sent < n) {
				long i = first + sent;
				snprintf(name, sizeof name, "%s%06ld", prefix, i);
				m.name = (cl_bytes){(const uint8_t *)name,
						    strlen(name)};
				m.addr = cl_addr_v4(127, 0, 25,
						    (uint8_t)(1 + i % 250),
						    (uint16_t)(20000 + i / 250));
				m.tags = (cl_bytes){small, small_len};
			} else {
				const char *e = argv[7 + (sent - n)];
				if (strlen(e) >= sizeof raw)
					return 2;
				size_t len = unescape(e, raw);
				m.name = (cl_bytes){raw, len};
				m.addr = cl_addr_v4(127, 0, 26,
						    (uint8_t)(1 + (sent - n) % 250),
						    20000);
				m.tags = (cl_bytes){odd, odd_len};
			}
			if (!cl_wire_pushpull_add(&w, &m))
				break;
			sent++;
		}
		bool more = sent < total;
		if (more) /* the flags byte follows the u32 body length */
			buf[5 + strlen(app) + 1 + 4] |= CL_PUSHPULL_MORE;
		cl_wire_pushpull_end(&w);
		if (kh_send_stream(kr, sock, "pushmembers", buf, w.len, scratch,
				   &last_t) != 0) {
			fprintf(stderr, "pushmembers: write failed after %ld "
					"frames\n", frames);
			return 1;
		}
		frames++;
	}
	printf("pushmembers: %ld members (%s%06ld..) and %d named in %ld "
	       "frames to %s\n", n, prefix, first, n_extra, frames, argv[1]);
	/* Let the agent read it all before the connection closes. */
	sleep(1);
	close(sock);
	cl_keyring_free(kr);
	free(buf);
	free(scratch);
	return 0;
}
