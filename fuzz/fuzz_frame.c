/*
 * fuzz_frame.c — the stream frame reader (cl_frame_rx_feed) on arbitrary
 * bytes, keyed and plaintext.
 *
 * Input: byte 0 picks the mode (bit 0: keyed, with fuzz_keyring's two
 * fixed keys; bit 1: the admit hook refuses every head), byte 1 seeds how
 * the rest is cut into pieces; the rest is what a peer sent.  Beyond "does
 * not crash", it aborts on any violation of:
 *   - the outcome does not depend on how the bytes were cut: fed whole and
 *     fed in the seeded pieces, the same packets come out, then the same
 *     error or none;
 *   - before a keyed frame's head authenticates, the reader holds at most
 *     CL_FRAME_HEAD_MAX bytes; a plaintext reader holds at most what was
 *     sent (rounded up to a power of two, at least 4 KiB);
 *   - keyed, a refused head is never accepted and nothing comes out;
 *   - every packet is 1..max_packet bytes; a keyed one, written again as a
 *     frame with its header, reads back to the same bytes;
 *   - the shared budget is back to 0 once the reader is freed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cloister.h"
#include "runtime/frame.h"
#include "runtime/keyring.h"

#define MAX_PACKET (1u << 20)
#define MAX_PACKETS 64

static cl_keyring *keyed_ring, *plain_ring;
static uint8_t scratch[CL_FRAME_SCRATCH], scratch2[CL_FRAME_SCRATCH];
static size_t budget;

struct hooks {
	bool refuse;
	int admits, accepts;
};

static int admit(void *arg, const cl_seal_info *info)
{
	struct hooks *h = arg;
	h->admits++;
	return h->refuse ? -1000 : 0;
}

static void accepted(void *arg, const cl_seal_info *info)
{
	((struct hooks *)arg)->accepts++;
}

static void setup(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	for (int i = 0; i < CL_KEY_BYTES; i++) {
		k1[i] = (uint8_t)i;
		k2[i] = (uint8_t)(0x20 + i);
	}
	keyed_ring = cl_keyring_new();
	plain_ring = cl_keyring_new();
	REQUIRE(keyed_ring && plain_ring);
	REQUIRE(cl_keyring_install(keyed_ring, k1) == 0);
	REQUIRE(cl_keyring_install(keyed_ring, k2) == 0);
}

/* What one reading produced: a digest of each packet, and the end. */
struct result {
	size_t n;
	size_t len[MAX_PACKETS];
	uint64_t sum[MAX_PACKETS];
	long error;
};

static uint64_t digest(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

struct rebuilt {
	uint8_t *b;
	size_t n, cap;
};

static int emit(void *arg, const void *buf, size_t n)
{
	struct rebuilt *r = arg;
	if (r->n + n > r->cap) {
		r->cap = 2 * (r->n + n);
		r->b = realloc(r->b, r->cap);
		REQUIRE(r->b);
	}
	memcpy(r->b + r->n, buf, n);
	r->n += n;
	return 0;
}

/* A keyed packet, written again with its header, reads back the same. */
static void check_rewrite(const cl_frame_packet *p)
{
	struct rebuilt r = {0};
	REQUIRE(cl_frame_write(keyed_ring, &p->info, p->data, p->len, scratch2,
			       emit, &r) == 0);
	cl_frame_ctx ctx = {.keyring = keyed_ring,
			    .max_packet = MAX_PACKET,
			    .scratch = scratch2};
	cl_frame_rx rx = {0};
	cl_frame_packet q;
	long used = cl_frame_rx_feed(&rx, &ctx, r.b, r.n, &q);
	REQUIRE(used == (long)r.n && q.data && q.len == p->len);
	REQUIRE(memcmp(q.data, p->data, p->len) == 0);
	REQUIRE(q.info.sender == p->info.sender &&
		q.info.time_us == p->info.time_us &&
		q.info.recipient == p->info.recipient);
	cl_frame_rx_free(&rx, &ctx);
	free(r.b);
}

static void run(const uint8_t *in, size_t n, bool keyed, bool refuse,
		uint32_t seed, bool whole, struct result *res)
{
	struct hooks h = {.refuse = refuse};
	cl_frame_ctx ctx = {.keyring = keyed ? keyed_ring : plain_ring,
			    .max_packet = MAX_PACKET,
			    .budget_used = &budget,
			    .budget_max = 2 * MAX_PACKET,
			    .admit = admit,
			    .accepted = accepted,
			    .arg = &h,
			    .scratch = scratch};
	cl_frame_rx rx = {0};
	memset(res, 0, sizeof *res);
	size_t at = 0, sent = 0;
	while (at < n) {
		size_t piece = n - at;
		if (!whole) {
			seed = seed * 1103515245u + 12345u;
			size_t cut = 1 + (seed >> 8) % 2048;
			if (cut < piece)
				piece = cut;
		}
		sent = at + piece;
		cl_frame_packet p;
		long used = cl_frame_rx_feed(&rx, &ctx, in + at, piece, &p);
		if (used < 0) {
			res->error = used;
			break;
		}
		REQUIRE(used > 0 && (size_t)used <= piece);
		at += (size_t)used;
		/* Held before authentication, and by plaintext claims. */
		if (cl_frame_rx_in_frame(&rx) && !cl_frame_rx_head_done(&rx)) {
			if (keyed)
				REQUIRE(cl_frame_rx_held(&rx) <=
					CL_FRAME_HEAD_MAX);
			else
				REQUIRE(cl_frame_rx_held(&rx) <=
					(sent < 2048 ? 4096 : 2 * sent));
		}
		if (p.data) {
			REQUIRE(p.len >= 1 && p.len <= MAX_PACKET);
			REQUIRE(p.sealed == keyed);
			if (res->n < MAX_PACKETS) {
				res->len[res->n] = p.len;
				res->sum[res->n] = digest(p.data, p.len);
			}
			res->n++;
			if (keyed)
				check_rewrite(&p);
		}
	}
	/* (Plaintext frames have no head to admit.) */
	if (refuse && keyed)
		REQUIRE(h.accepts == 0 && res->n == 0);
	REQUIRE(h.accepts <= h.admits);
	cl_frame_rx_free(&rx, &ctx);
	REQUIRE(budget == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!keyed_ring)
		setup();
	if (size < 2)
		return 0;
	bool keyed = data[0] & 1, refuse = data[0] & 2;
	uint32_t seed = data[1];
	struct result a, b;
	run(data + 2, size - 2, keyed, refuse, seed, true, &a);
	run(data + 2, size - 2, keyed, refuse, seed, false, &b);
	REQUIRE(a.n == b.n && a.error == b.error);
	for (size_t i = 0; i < a.n && i < MAX_PACKETS; i++)
		REQUIRE(a.len[i] == b.len[i] && a.sum[i] == b.sum[i]);
	return 0;
}
