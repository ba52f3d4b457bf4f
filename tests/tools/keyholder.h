/*
 * keyholder.h — what the test-only key holders (in tests/tools) share:
 * the cluster key, the wall clock a sealed header carries, and one stream
 * to an agent that frames are written to as a real node writes them.
 * Header-only: each tool is one translation unit.
 */
#ifndef CLOISTER_TESTS_KEYHOLDER_H
#define CLOISTER_TESTS_KEYHOLDER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/swim.h"
#include "runtime/frame.h"
#include "runtime/keyring.h"

static inline uint64_t kh_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A keyring holding the key in PATH, or NULL (said on stderr as TOOL). */
static inline cl_keyring *kh_keyring(const char *tool, const char *path)
{
	uint8_t key[CL_KEY_BYTES];
	char why[256] = "";
	cl_keyring *kr = cl_keyring_new();
	if (!kr || cl_key_from_file(path, key, why, sizeof why) != 0 ||
	    cl_keyring_install(kr, key) != 0) {
		fprintf(stderr, "%s: key %s: %s\n", tool, path, why);
		cl_keyring_free(kr);
		return NULL;
	}
	return kr;
}

/* A TCP connection to an IPv4 agent, leaving from the IPv4 address FROM
 * when it is neither NULL nor empty (each tool's *_BIND variable), or -1
 * (said on stderr as TOOL). */
static inline int kh_connect_from(const char *tool, const char *from,
				  const cl_addr *to)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(to->port)};
	bool bind_from = from && *from;
	if (to->family != CL_AF_INET4 ||
	    (bind_from && inet_pton(AF_INET, from, &src.sin_addr) != 1)) {
		fprintf(stderr, "%s: %s: not an IPv4 address (or the target "
				"is not)\n", tool, bind_from ? from : "target");
		return -1;
	}
	memcpy(&sa.sin_addr, to->ip, 4);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 ||
	    (bind_from &&
	     bind(fd, (struct sockaddr *)&src, sizeof src) != 0) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "%s: connect%s%s: %s\n", tool,
			bind_from ? " from " : "", bind_from ? from : "",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A TCP connection to an IPv4 agent, or -1 (said on stderr as TOOL). */
static inline int kh_connect(const char *tool, const cl_addr *to)
{
	return kh_connect_from(tool, NULL, to);
}

/* cl_frame_write's emit: arg points to the descriptor. */
static inline int kh_emit(void *arg, const void *buf, size_t n)
{
	int fd = *(const int *)arg;
	const uint8_t *p = buf;
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Writes PKT as one stream frame sealed by SENDER (recipient 0: whoever
 * answers at the address), its time strictly after *last_us as a real
 * node's are.  0, or -1 once the stream refuses it. */
static inline int kh_send_stream(const cl_keyring *kr, int fd,
				 const char *sender, const uint8_t *pkt,
				 size_t len, uint8_t *scratch, uint64_t *last_us)
{
	uint64_t t = kh_wall_us();
	*last_us = t > *last_us ? t : *last_us + 1;
	cl_seal_info info = {.kind = CL_SEAL_STREAM,
			     .sender = cl_swim_name_id(sender, strlen(sender)),
			     .time_us = *last_us,
			     .recipient = 0};
	return cl_frame_write(kr, &info, pkt, len, scratch, kh_emit, &fd) == 0
		       ? 0
		       : -1;
}

/* Appends one tag pair (key length, key, value length, value) at t + at;
 * returns the new length. */
static inline size_t kh_put_tag(uint8_t *t, size_t at, const char *k,
				const char *v, size_t vlen)
{
	size_t kl = strlen(k);
	t[at++] = (uint8_t)kl;
	memcpy(t + at, k, kl);
	at += kl;
	t[at++] = (uint8_t)vlen;
	memcpy(t + at, v, vlen);
	return at + vlen;
}

#endif
