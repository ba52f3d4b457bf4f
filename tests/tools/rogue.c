/*
 * rogue.c — a key holder that lies (test-only), for
 * tests/integration/test_rogue_member.sh.
 *
 *   rogue pushpull TARGET APP KEYFILE VICTIM N
 *
 * Connects to TARGET (IP:PORT) over TCP and sends, sealed under KEYFILE's
 * key as a join push-pull from "rogue", a full state of N invented members
 * at loopback addresses nobody answers (127.0.32.x, ports from 20000),
 * each with the largest tags a member may carry: a `groups` tag naming 31
 * rings and `weight=64`, padding to the tags bound.  Among them:
 *   - "ancient": a member claiming start_ms 0 (oldest, hence sentry, if
 *     anyone believed it);
 *   - VICTIM at another address with incarnation 0xFFFFFFFF (a takeover);
 *   - VICTIM DEAD at 0xFFFFFFFF, and SUSPECT at 0xFFFFFFFE (an eviction).
 * The state goes out in frames of about 1 MiB (PUSHPULL's "more" flag), as
 * a real node sends a large state.  The invented members are named
 * "rogue-000004" and on (ROGUE_PREFIX replaces "rogue").  Prints one line
 * with what it sent.
 *
 *   rogue accuse TARGET APP KEYFILE TO VICTIM INCARNATION KIND N
 *
 * For tests/integration/test_forged_accusations.sh: sends TARGET (member
 * TO) N datagrams, each from another accuser ("rogue-1" ... "rogue-N", so
 * that each counts as an independent confirmation), declaring VICTIM
 * suspect (KIND suspect) or dead (KIND dead) at INCARNATION, which the
 * caller reads from the victim itself: accusations a member cannot tell
 * from a real one but by its own state.  Sealed for TO, as a member would
 * send them.  Silent unless something fails.  INCARNATION "edge" is the
 * highest a receiver's clock takes (its wall clock in seconds plus 2^24,
 * INCARNATION_HEADROOM in swim.c), read from this host's clock at each
 * send, so that the victim's refutation, one above, is past it; with
 * ROGUE_SECONDS=S the rounds repeat for S seconds, ROGUE_INTERVAL_MS
 * (default 10) apart, and one line counts them.
 *
 *   rogue hold TARGET APP KEYFILE CONNS BYTES SECONDS
 *
 * For tests/integration/test_assembly_hold.sh: opens CONNS connections to
 * TARGET (from ROGUE_BIND, an IPv4 address, when set), and on each starts
 * a sealed stream frame claiming the largest packet (16 MiB), sends its
 * first BYTES (the head unit at least, so that it authenticates), then
 * sends nothing more for SECONDS: frames that hold whatever the receiver
 * set aside for them until its frame deadline.  Each connection seals as
 * its own sender ("holder-1", ...).  A frame the receiver refuses (its
 * connection closed) does not stop the others.  Prints one line.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/swim.h"
#include "core/wire.h"
#include "keyholder.h"
#include "runtime/frame.h"

#define FRAME_BYTES (1u << 20)

/* The largest tags a member may carry: 31 groups, weight 64, padding. */
static size_t big_tags(uint8_t *t, size_t max)
{
	char groups[256];
	size_t g = 0;
	for (int i = 0; i < 31 && g + 8 < sizeof groups; i++)
		g += (size_t)snprintf(groups + g, sizeof groups - g, "%sg%02d",
				      i ? "," : "", i);
	size_t at = kh_put_tag(t, 0, "groups", groups, g);
	at = kh_put_tag(t, at, "weight", "64", 2);
	char v[255];
	memset(v, 'p', sizeof v);
	for (unsigned i = 0; i < 100 && at + 2 + 3 + 1 <= max; i++) {
		char k[8];
		snprintf(k, sizeof k, "p%02u", i);
		size_t room = max - at - 2 - strlen(k);
		at = kh_put_tag(t, at, k, v, room < 255 ? room : 255);
	}
	return at;
}

/* One round of accuse: n datagrams, one per accuser; 0 or 1. */
static int accuse_round(const cl_keyring *kr, int fd,
			const struct sockaddr_in *sa, const char *app,
			const char *to, const char *victim, uint32_t inc,
			bool dead, long n)
{
	for (long i = 1; i <= n; i++) {
		char accuser[32];
		snprintf(accuser, sizeof accuser, "rogue-%ld", i);
		uint8_t pt[512], out[600];
		cl_wbuf w;
		cl_wire_begin(&w, pt, sizeof pt, app, strlen(app));
		cl_wire_put_accuse(
			&w, dead ? CL_MSG_DEAD : CL_MSG_SUSPECT, inc,
			(cl_bytes){(const uint8_t *)victim, strlen(victim)},
			(cl_bytes){(const uint8_t *)accuser, strlen(accuser)});
		cl_seal_info info = {
			.kind = CL_SEAL_DATAGRAM,
			.sender = cl_swim_name_id(accuser, strlen(accuser)),
			.time_us = kh_wall_us(),
			.recipient = cl_swim_name_id(to, strlen(to))};
		int k = cl_keyring_seal(kr, &info, pt, w.len, out, sizeof out);
		if (k < 0 || sendto(fd, out, (size_t)k, 0,
				    (const struct sockaddr *)sa,
				    sizeof *sa) != k) {
			perror("rogue: accuse");
			return 1;
		}
	}
	return 0;
}

/* rogue accuse ...: 0, 1 (a send or the key failed), 2 (usage). */
static int accuse(char **argv)
{
	const char *app = argv[3], *to = argv[5], *victim = argv[6];
	char *end = "";
	bool edge = !strcmp(argv[7], "edge");
	unsigned long inc = edge ? 0 : strtoul(argv[7], &end, 10);
	bool dead = !strcmp(argv[8], "dead");
	long n = atol(argv[9]);
	const char *secs = getenv("ROGUE_SECONDS"), *gap = getenv("ROGUE_INTERVAL_MS");
	long seconds = secs ? atol(secs) : 0, interval_ms = gap ? atol(gap) : 10;
	cl_addr target;
	if (cl_addr_parse(argv[2], 0, &target) != 0 ||
	    target.family != CL_AF_INET4 || *end || inc > 0xFFFFFFFFul ||
	    (!dead && strcmp(argv[8], "suspect")) || n < 1 || n > 64 ||
	    seconds < 0 || seconds > 600 || interval_ms < 1 ||
	    interval_ms > 10000)
		return 2;
	cl_keyring *kr = kh_keyring("rogue", argv[4]);
	int fd = kr ? socket(AF_INET, SOCK_DGRAM, 0) : -1;
	if (fd < 0)
		return 1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(target.port)};
	memcpy(&sa.sin_addr, target.ip, 4);
	uint64_t until = kh_wall_us() + (uint64_t)seconds * 1000000u;
	long rounds = 0;
	int rc;
	for (;;) {
		if (edge)
			inc = (uint32_t)(kh_wall_us() / 1000000u) + (1u << 24);
		rc = accuse_round(kr, fd, &sa, app, to, victim, (uint32_t)inc,
				  dead, n);
		rounds++;
		if (rc != 0 || kh_wall_us() >= until)
			break;
		usleep((useconds_t)interval_ms * 1000);
	}
	if (seconds)
		printf("rogue: %ld rounds of %ld %s accusations of %s, last at "
		       "incarnation %lu\n", rounds, n, argv[8], victim, inc);
	close(fd);
	cl_keyring_free(kr);
	return rc;
}

/* cl_frame_write's emit for hold: writes until `left` runs out, then
 * stops the frame (1; -2: a write failed). */
struct partial {
	int fd;
	size_t left;
};

static int emit_partial(void *arg, const void *buf, size_t n)
{
	struct partial *p = arg;
	size_t k = n < p->left ? n : p->left;
	if (k && kh_emit(&p->fd, buf, k) != 0)
		return -2;
	p->left -= k;
	return p->left ? 0 : 1;
}

/* rogue hold ...: 0, 1 (no frame could be started), 2 (usage). */
static int hold(char **argv)
{
	const char *app = argv[3];
	long conns = atol(argv[5]), bytes = atol(argv[6]), seconds = atol(argv[7]);
	cl_addr target;
	if (cl_addr_parse(argv[2], 0, &target) != 0 ||
	    target.family != CL_AF_INET4 || conns < 1 || conns > 64 ||
	    bytes < (long)CL_FRAME_SCRATCH || bytes >= (long)CL_WIRE_STREAM_MAX ||
	    seconds < 0 || seconds > 120)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	cl_keyring *kr = kh_keyring("rogue", argv[4]);
	uint8_t *pkt = calloc(1, CL_WIRE_STREAM_MAX);
	uint8_t *scratch = malloc(CL_FRAME_SCRATCH);
	if (!kr || !pkt || !scratch)
		return 1;
	cl_wbuf w;
	cl_wire_begin(&w, pkt, CL_WIRE_STREAM_MAX, app, strlen(app));
	const char *from = getenv("ROGUE_BIND");
	int fds[64];
	long opened = 0, held = 0;
	for (long i = 0; i < conns; i++) {
		int fd = kh_connect_from("rogue: hold", from, &target);
		if (fd < 0)
			continue;
		fds[opened++] = fd;
		char sender[32];
		snprintf(sender, sizeof sender, "holder-%ld", i + 1);
		cl_seal_info info = {
			.kind = CL_SEAL_STREAM,
			.sender = cl_swim_name_id(sender, strlen(sender)),
			.time_us = kh_wall_us(),
			.recipient = 0};
		struct partial p = {fd, (size_t)bytes};
		/* The whole packet is claimed; the frame stops at BYTES.  A
		 * receiver that refuses it closes the connection: the write
		 * fails, and the others go on. */
		held += cl_frame_write(kr, &info, pkt, CL_WIRE_STREAM_MAX,
				       scratch, emit_partial, &p) == 1;
	}
	printf("rogue: holding %ld of %ld frames of %u bytes claimed, %ld "
	       "sent of each, for %ld s\n", held, conns,
	       (unsigned)CL_WIRE_STREAM_MAX, bytes, seconds);
	fflush(stdout);
	if (held)
		sleep((unsigned)seconds);
	for (long i = 0; i < opened; i++)
		close(fds[i]);
	cl_keyring_free(kr);
	free(pkt);
	free(scratch);
	return held ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 10 && !strcmp(argv[1], "accuse"))
		return accuse(argv);
	if (argc == 8 && !strcmp(argv[1], "hold"))
		return hold(argv);
	if (argc != 7 || strcmp(argv[1], "pushpull") != 0) {
		fprintf(stderr, "usage: rogue pushpull TARGET APP KEYFILE VICTIM N\n"
				"       rogue accuse TARGET APP KEYFILE TO VICTIM "
				"INCARNATION suspect|dead N\n"
				"       rogue hold TARGET APP KEYFILE CONNS BYTES "
				"SECONDS\n");
		return 2;
	}
	const char *app = argv[3], *victim = argv[5];
	long n = atol(argv[6]);
	cl_addr target;
	if (cl_addr_parse(argv[2], 0, &target) != 0 || n < 4)
		return 2;
	cl_keyring *kr = kh_keyring("rogue", argv[4]);
	int sock = kr ? kh_connect("rogue", &target) : -1;
	if (sock < 0)
		return 1;
	static uint8_t tags[CL_WIRE_TAGS_MAX];
	size_t tl = big_tags(tags, 512);
	uint8_t *buf = malloc(FRAME_BYTES + 4096);
	uint8_t *scratch = malloc(CL_FRAME_SCRATCH);
	if (!buf || !scratch)
		return 1;
	uint64_t last_t = 0;
	long sent = 0, frames = 0;
	const char *prefix = getenv("ROGUE_PREFIX");
	if (!prefix || !*prefix || strlen(prefix) > 32)
		prefix = "rogue";
	uint64_t bytes = 0;
	while (sent < n) {
		cl_wbuf w;
		cl_wire_begin(&w, buf, FRAME_BYTES + 4096, app, strlen(app));
		cl_wire_pushpull_begin(&w, CL_PUSHPULL_JOIN);
		while (sent < n && w.len < FRAME_BYTES) {
			char name[64];
			cl_wire_member m = {.status = CL_STATUS_ALIVE,
					    .incarnation = 5,
					    .start_ms = kh_wall_us() / 1000 - 1000};
			snprintf(name, sizeof name, "%s-%06ld", prefix, sent);
			if (sent == 0) {
				snprintf(name, sizeof name, "ancient");
				m.start_ms = 0;
			} else if (sent == 1 || sent == 2 || sent == 3) {
				snprintf(name, sizeof name, "%s", victim);
				m.status = sent == 1	 ? CL_STATUS_ALIVE
					   : sent == 2 ? CL_STATUS_DEAD
						       : CL_STATUS_SUSPECT;
				m.incarnation = sent == 3 ? 0xFFFFFFFEu
							  : 0xFFFFFFFFu;
			}
			m.name = (cl_bytes){(const uint8_t *)name, strlen(name)};
			/* Loopback addresses nobody listens on. */
			m.addr = cl_addr_v4(127, 0, 32, (uint8_t)(1 + sent % 250),
					    (uint16_t)(20000 + sent / 250));
			m.tags = (cl_bytes){tags, tl};
			if (!cl_wire_pushpull_add(&w, &m))
				break;
			sent++;
		}
		bool more = sent < n;
		if (more) /* the flags byte follows the u32 body length */
			buf[5 + strlen(app) + 1 + 4] |= CL_PUSHPULL_MORE;
		cl_wire_pushpull_end(&w);
		if (kh_send_stream(kr, sock, "rogue", buf, w.len, scratch,
				   &last_t) != 0) {
			fprintf(stderr, "rogue: write failed after %ld frames\n",
				frames);
			break;
		}
		frames++;
		bytes += w.len;
	}
	printf("rogue: %ld members (%zu bytes of tags each) in %ld frames, "
	       "%llu bytes, to %s\n", sent, tl, frames,
	       (unsigned long long)bytes, argv[2]);
	/* Let the agent read it all before the connection closes. */
	sleep(2);
	close(sock);
	cl_keyring_free(kr);
	free(buf);
	free(scratch);
	return 0;
}
