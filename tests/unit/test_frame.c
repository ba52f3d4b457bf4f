/*
 * test_frame.c — stream frames (frame.h): written and read back, keyed and
 * plaintext, at every size boundary and in any split; and every way a
 * frame can be wrong: bad length prefixes (refused before buffering),
 * truncation, bit flips in the head and in chunks, chunks reordered or
 * spliced from another frame, a sealed total that disagrees, a head the
 * admit hook refuses (no cryptography tried), the shared budget, and how
 * much is held before a frame authenticates.
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "cloister.h"
#include "runtime/frame.h"
#include "runtime/keyring.h"

#define MAXPKT (1u << 20)

static uint8_t scratch_w[CL_FRAME_SCRATCH], scratch_r[CL_FRAME_SCRATCH];
static uint8_t pkt[3 * MAXPKT];

/* A growing byte string that emit() appends to. */
struct out {
	uint8_t *b;
	size_t n, cap;
};

static int emit(void *arg, const void *buf, size_t n)
{
	struct out *o = arg;
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2;
		o->b = realloc(o->b, o->cap);
		CHECK(o->b != NULL);
	}
	memcpy(o->b + o->n, buf, n);
	o->n += n;
	return 0;
}

static cl_keyring *ring(uint8_t first)
{
	uint8_t k[CL_KEY_BYTES];
	for (int i = 0; i < CL_KEY_BYTES; i++)
		k[i] = (uint8_t)(first + i);
	cl_keyring *kr = cl_keyring_new();
	CHECK(kr && cl_keyring_install(kr, k) == 0);
	return kr;
}

static cl_seal_info info_at(uint64_t t)
{
	return (cl_seal_info){.sender = 42, .time_us = t, .recipient = 7};
}

/* Hooks that record what they saw; admit refuses when told to. */
struct hooks {
	int admits, accepts;
	int refuse; /* returned by admit when non-zero */
	cl_seal_info last;
};

static int h_admit(void *arg, const cl_seal_info *i)
{
	struct hooks *h = arg;
	h->admits++;
	h->last = *i;
	return h->refuse;
}

static void h_accepted(void *arg, const cl_seal_info *i)
{
	((struct hooks *)arg)->accepts++;
}

static size_t budget;

static cl_frame_ctx ctx_for(const cl_keyring *kr, struct hooks *h)
{
	return (cl_frame_ctx){.keyring = kr,
			      .max_packet = 2 * MAXPKT,
			      .budget_used = &budget,
			      .budget_max = 4 * MAXPKT,
			      .admit = h_admit,
			      .accepted = h_accepted,
			      .arg = h,
			      .scratch = scratch_r};
}

/* Feeds in[0..n) in pieces of `step` bytes (0: random pieces) and
 * expects exactly one packet equal to want; returns the error if any. */
static long read_back(const cl_frame_ctx *ctx, const uint8_t *in, size_t n,
		      size_t step, const uint8_t *want, size_t want_len,
		      int *packets)
{
	cl_frame_rx rx = {0};
	size_t at = 0;
	long rc = 0;
	*packets = 0;
	while (at < n) {
		size_t piece = step ? step : 1 + (size_t)rand() % 9000;
		if (piece > n - at)
			piece = n - at;
		cl_frame_packet p;
		long used = cl_frame_rx_feed(&rx, ctx, in + at, piece, &p);
		if (used < 0) {
			rc = used;
			break;
		}
		CHECK(used > 0);
		at += (size_t)used;
		if (p.data) {
			(*packets)++;
			CHECK_EQ_INT(p.len, want_len);
			CHECK(memcmp(p.data, want, want_len) == 0);
			CHECK(!cl_frame_rx_in_frame(&rx));
		}
	}
	cl_frame_rx_free(&rx, ctx);
	CHECK_EQ_INT(budget, 0);
	return rc;
}

static struct out write_frame(const cl_keyring *kr, size_t len, uint64_t t)
{
	struct out o = {0};
	cl_seal_info i = info_at(t);
	CHECK_EQ_INT(cl_frame_write(kr, &i, pkt, len, scratch_w, emit, &o), 0);
	CHECK_EQ_INT(o.n, cl_frame_size(cl_keyring_enabled(kr), len));
	return o;
}

static void test_round_trip(void)
{
	cl_keyring *kr = ring(1), *none = cl_keyring_new();
	for (size_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)(i * 31 + 7);
	const size_t U = CL_FRAME_UNIT;
	static size_t sizes[] = {1, 2, 100, 1400, 0, 0, 0, 0, 0, 0, 0,
				 3 * (size_t)CL_FRAME_UNIT + 17, MAXPKT};
	sizes[4] = U - 5;
	sizes[5] = U - 4; /* all of it in the head */
	sizes[6] = U - 3; /* one byte in chunk 1 */
	sizes[7] = U;
	sizes[8] = 2 * U - 4; /* exactly one full chunk */
	sizes[9] = 2 * U - 3;
	sizes[10] = 2 * U + 5000;
	for (int keyed = 0; keyed < 2; keyed++) {
		const cl_keyring *k = keyed ? kr : none;
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			struct hooks h = {0};
			cl_frame_ctx ctx = ctx_for(k, &h);
			struct out o = write_frame(k, sizes[s], 1000 + s);
			static const size_t steps[] = {0, 1, 7, 65536 + 54};
			for (size_t st = 0; st < 4; st++) {
				if (steps[st] == 1 && o.n > 300000)
					continue; /* byte by byte: small only */
				int packets;
				CHECK_EQ_INT(read_back(&ctx, o.b, o.n, steps[st],
						       pkt, sizes[s], &packets),
					     0);
				CHECK_EQ_INT(packets, 1);
			}
			if (keyed) {
				/* The hooks saw the head's header, once per read. */
				CHECK(h.admits > 0 && h.admits == h.accepts);
				CHECK(h.last.sender == 42 && h.last.recipient == 7 &&
				      h.last.time_us == 1000 + s &&
				      h.last.kind == CL_SEAL_STREAM);
				/* The packet never appears in the clear. */
				CHECK(sizes[s] < 16 ||
				      memmem(o.b, o.n, pkt, 16) == NULL);
			} else {
				CHECK_EQ_INT(h.admits, 0);
			}
			free(o.b);
		}
	}
	/* Frames back to back in one buffer: each comes out in turn. */
	struct out two = write_frame(kr, 5000, 1);
	struct out b = write_frame(kr, 3 * U, 2);
	emit(&two, b.b, b.n);
	struct hooks h = {0};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	cl_frame_rx rx = {0};
	size_t at = 0;
	int got = 0;
	while (at < two.n) {
		cl_frame_packet p;
		long used = cl_frame_rx_feed(&rx, &ctx, two.b + at, two.n - at, &p);
		CHECK(used > 0);
		at += (size_t)used;
		if (p.data) {
			CHECK_EQ_INT(p.len, got == 0 ? 5000 : 3 * U);
			CHECK(memcmp(p.data, pkt, p.len) == 0);
			got++;
		}
	}
	CHECK_EQ_INT(got, 2);
	cl_frame_rx_free(&rx, &ctx);
	free(two.b);
	free(b.b);
	/* Writing nothing, or without a header when keyed, is refused. */
	struct out o = {0};
	cl_seal_info i = info_at(1);
	CHECK_EQ_INT(cl_frame_write(kr, &i, pkt, 0, scratch_w, emit, &o),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_frame_write(kr, NULL, pkt, 10, scratch_w, emit, &o),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(o.n, 0);
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

/* Feeds a whole buffer; returns the first error, or 0. */
static long feed_all(const cl_frame_ctx *ctx, cl_frame_rx *rx,
		     const uint8_t *in, size_t n, int *packets)
{
	size_t at = 0;
	*packets = 0;
	while (at < n) {
		cl_frame_packet p;
		long used = cl_frame_rx_feed(rx, ctx, in + at, n - at, &p);
		if (used < 0)
			return used;
		at += (size_t)used;
		*packets += p.data != NULL;
	}
	return 0;
}

static void test_prefix(void)
{
	cl_keyring *kr = ring(2), *none = cl_keyring_new();
	struct hooks h = {0};
	cl_frame_ctx keyed = ctx_for(kr, &h), plain = ctx_for(none, &h);
	int packets;
	/* Refused as soon as the 4 bytes are in: nothing is buffered. */
	static const uint32_t bad_keyed[] = {
		0, 1, CL_KEYRING_OVERHEAD + 3, CL_FRAME_HEAD_MAX + 1,
		16u << 20, UINT32_MAX};
	for (size_t i = 0; i < 6; i++) {
		uint8_t b[4] = {(uint8_t)(bad_keyed[i] >> 24),
				(uint8_t)(bad_keyed[i] >> 16),
				(uint8_t)(bad_keyed[i] >> 8),
				(uint8_t)bad_keyed[i]};
		cl_frame_rx rx = {0};
		CHECK_EQ_INT(feed_all(&keyed, &rx, b, 4, &packets),
			     CLOISTER_EPROTO);
		CHECK(cl_frame_rx_held(&rx) == 0);
		cl_frame_rx_free(&rx, &keyed);
	}
	static const uint32_t bad_plain[] = {0, 2 * MAXPKT + 1, UINT32_MAX};
	for (size_t i = 0; i < 3; i++) {
		uint8_t b[4] = {(uint8_t)(bad_plain[i] >> 24),
				(uint8_t)(bad_plain[i] >> 16),
				(uint8_t)(bad_plain[i] >> 8),
				(uint8_t)bad_plain[i]};
		cl_frame_rx rx = {0};
		CHECK_EQ_INT(feed_all(&plain, &rx, b, 4, &packets),
			     CLOISTER_EPROTO);
		cl_frame_rx_free(&rx, &plain);
	}
	CHECK_EQ_INT(h.admits, 0);
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

/* What a stranger can make a reader hold: keyed, at most one head unit
 * whatever the claim; plaintext, what was really sent (rounded up). */
static void test_held_before_auth(void)
{
	cl_keyring *kr = ring(3), *none = cl_keyring_new();
	struct hooks h = {0};
	cl_frame_ctx keyed = ctx_for(kr, &h), plain = ctx_for(none, &h);
	uint8_t junk[CL_FRAME_HEAD_MAX + 4];
	memset(junk, 0x5a, sizeof junk);
	uint32_t n = CL_FRAME_HEAD_MAX;
	junk[0] = (uint8_t)(n >> 24);
	junk[1] = (uint8_t)(n >> 16);
	junk[2] = (uint8_t)(n >> 8);
	junk[3] = (uint8_t)n;
	cl_frame_rx rx = {0};
	cl_frame_packet p;
	CHECK_EQ_INT(cl_frame_rx_feed(&rx, &keyed, junk, 4 + 100, &p), 104);
	CHECK(cl_frame_rx_in_frame(&rx) && !cl_frame_rx_head_done(&rx));
	CHECK(cl_frame_rx_held(&rx) <= 4096);
	CHECK_EQ_INT(cl_frame_rx_feed(&rx, &keyed, junk + 104,
				      sizeof junk - 105, &p),
		     (long)(sizeof junk - 105));
	CHECK(cl_frame_rx_held(&rx) <= CL_FRAME_HEAD_MAX);
	CHECK(p.data == NULL && cl_frame_rx_in_frame(&rx));
	/* The last byte completes the unit: junk does not authenticate, and
	 * a peer cannot make us hold more than the unit. */
	CHECK_EQ_INT(cl_frame_rx_feed(&rx, &keyed, junk + sizeof junk - 1, 1, &p),
		     CLOISTER_EPROTO);
	cl_frame_rx_free(&rx, &keyed);

	/* Plaintext: claims 1 MiB, sends 10 bytes: holds a few KiB. */
	uint8_t claim[14] = {0, 0x10, 0, 0};
	CHECK_EQ_INT(cl_frame_rx_feed(&rx, &plain, claim, sizeof claim, &p), 14);
	CHECK(cl_frame_rx_held(&rx) <= 4096 && budget <= 4096);
	CHECK(cl_frame_rx_in_frame(&rx) && !cl_frame_rx_head_done(&rx));
	cl_frame_rx_free(&rx, &plain);
	CHECK_EQ_INT(budget, 0);
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

/* Every bit of a keyed frame matters: in the prefix (bad length, or a
 * unit boundary that no longer fits), the head (malformed or forged) and
 * the chunks (forged). */
static void test_flips(void)
{
	cl_keyring *kr = ring(4);
	struct hooks h = {0};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	/* A head and two chunks, the last one short. */
	size_t len = 2 * CL_FRAME_UNIT + 100;
	struct out o = write_frame(kr, len, 77);
	size_t positions[64], np = 0;
	for (size_t i = 0; i < 40; i++) /* prefix and the clear header */
		positions[np++] = i;
	size_t head_end = 4 + CL_FRAME_HEAD_MAX;
	positions[np++] = 60;			 /* head ciphertext */
	positions[np++] = head_end - 1;		 /* head tag */
	positions[np++] = head_end + 10;	 /* chunk 1 */
	positions[np++] = head_end + CL_FRAME_CHUNK_MAX - 1; /* its tag */
	positions[np++] = o.n - 1;		 /* chunk 2's tag */
	positions[np++] = o.n - 120;		 /* chunk 2 */
	for (size_t k = 0; k < np; k++) {
		for (int bit = 0; bit < 8; bit += 3) {
			o.b[positions[k]] ^= (uint8_t)(1u << bit);
			int packets;
			cl_frame_rx rx = {0};
			long rc = feed_all(&ctx, &rx, o.b, o.n, &packets);
			cl_frame_rx_free(&rx, &ctx);
			o.b[positions[k]] ^= (uint8_t)(1u << bit);
			/* A prefix that still fits reads a shifted unit,
			 * which then fails; nothing is ever delivered. */
			CHECK(rc < 0 || packets == 0);
			CHECK_EQ_INT(packets, 0);
			if (positions[k] >= 4 + CL_KEYRING_HEADER)
				CHECK_EQ_INT(rc, CLOISTER_EIO);
		}
	}
	CHECK_EQ_INT(budget, 0);
	free(o.b);
	cl_keyring_free(kr);
}

static void test_splice_and_reorder(void)
{
	cl_keyring *kr = ring(5);
	struct hooks h = {0};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	size_t len = 3 * CL_FRAME_UNIT;
	struct out a = write_frame(kr, len, 100), b = write_frame(kr, len, 101);
	CHECK_EQ_INT(a.n, b.n);
	size_t c1 = 4 + CL_FRAME_HEAD_MAX, cs = CL_FRAME_CHUNK_MAX;
	int packets;
	cl_frame_rx rx = {0};
	/* Chunks 1 and 2 swapped. */
	uint8_t *tmp = malloc(cs);
	memcpy(tmp, a.b + c1, cs);
	memcpy(a.b + c1, a.b + c1 + cs, cs);
	memcpy(a.b + c1 + cs, tmp, cs);
	CHECK_EQ_INT(feed_all(&ctx, &rx, a.b, a.n, &packets), CLOISTER_EIO);
	cl_frame_rx_free(&rx, &ctx);
	memcpy(a.b + c1 + cs, a.b + c1, cs);
	memcpy(a.b + c1, tmp, cs);
	/* b's chunk 1 after a's head. */
	memcpy(tmp, a.b + c1, cs);
	memcpy(a.b + c1, b.b + c1, cs);
	CHECK_EQ_INT(feed_all(&ctx, &rx, a.b, a.n, &packets), CLOISTER_EIO);
	cl_frame_rx_free(&rx, &ctx);
	memcpy(a.b + c1, tmp, cs);
	/* Restored, it reads; cut anywhere, it is simply not complete. */
	CHECK_EQ_INT(feed_all(&ctx, &rx, a.b, a.n, &packets), 0);
	CHECK_EQ_INT(packets, 1);
	cl_frame_rx_free(&rx, &ctx);
	static const size_t cuts[] = {1, 4, 5, 100, 4 + CL_FRAME_HEAD_MAX - 1,
				      4 + CL_FRAME_HEAD_MAX + 1};
	for (size_t i = 0; i < 6; i++) {
		CHECK_EQ_INT(feed_all(&ctx, &rx, a.b, cuts[i], &packets), 0);
		CHECK_EQ_INT(packets, 0);
		CHECK(cl_frame_rx_in_frame(&rx));
		cl_frame_rx_free(&rx, &ctx);
	}
	CHECK_EQ_INT(feed_all(&ctx, &rx, a.b, a.n - 1, &packets), 0);
	CHECK_EQ_INT(packets, 0);
	cl_frame_rx_free(&rx, &ctx);
	CHECK_EQ_INT(budget, 0);
	free(tmp);
	free(a.b);
	free(b.b);
	cl_keyring_free(kr);
}

/* A head that opens but lies: a datagram's kind, or a total that does not
 * match what it carries, or more than max_packet. */
static void test_lying_head(void)
{
	cl_keyring *kr = ring(6);
	struct hooks h = {0};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	uint8_t body[4 + 100], unit[4 + 200];
	cl_seal_info si = info_at(5);
	static const struct {
		uint32_t total;
		size_t carried;
		uint8_t kind;
	} cases[] = {
		{100, 100, CL_SEAL_DATAGRAM}, /* kind: not a stream head */
		{0, 0, CL_SEAL_STREAM},	      /* empty */
		{100, 99, CL_SEAL_STREAM},    /* says more than it carries */
		{99, 100, CL_SEAL_STREAM},    /* carries more than it says */
		{2 * MAXPKT + 1, 100, CL_SEAL_STREAM}, /* past max_packet */
	};
	for (size_t i = 0; i < 5; i++) {
		body[0] = (uint8_t)(cases[i].total >> 24);
		body[1] = (uint8_t)(cases[i].total >> 16);
		body[2] = (uint8_t)(cases[i].total >> 8);
		body[3] = (uint8_t)cases[i].total;
		memset(body + 4, 1, 100);
		si.kind = cases[i].kind;
		int n = cl_keyring_seal(kr, &si, body, 4 + cases[i].carried,
					unit + 4, sizeof unit - 4);
		CHECK(n > 0);
		unit[0] = 0;
		unit[1] = 0;
		unit[2] = (uint8_t)(n >> 8);
		unit[3] = (uint8_t)n;
		cl_frame_rx rx = {0};
		int packets;
		CHECK_EQ_INT(feed_all(&ctx, &rx, unit, 4 + (size_t)n, &packets),
			     CLOISTER_EPROTO);
		CHECK_EQ_INT(packets, 0);
		cl_frame_rx_free(&rx, &ctx);
	}
	/* Only the honest one was accepted by the hooks: none of these. */
	CHECK_EQ_INT(h.accepts, 0);
	cl_keyring_free(kr);
}

/* The admit hook refuses before any cryptography: a head under an
 * unknown key is refused with the hook's value, not as a forgery, and
 * nothing is accepted. */
static void test_admit(void)
{
	cl_keyring *kr = ring(7), *other = ring(8);
	struct hooks h = {.refuse = -1000};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	struct out o = write_frame(other, 300, 9);
	cl_frame_rx rx = {0};
	int packets;
	CHECK_EQ_INT(feed_all(&ctx, &rx, o.b, o.n, &packets), -1000);
	CHECK_EQ_INT(h.admits, 1);
	CHECK_EQ_INT(h.accepts, 0);
	cl_frame_rx_free(&rx, &ctx);
	/* Admitted, the wrong key is a forgery. */
	h.refuse = 0;
	CHECK_EQ_INT(feed_all(&ctx, &rx, o.b, o.n, &packets), CLOISTER_EIO);
	CHECK_EQ_INT(h.accepts, 0);
	cl_frame_rx_free(&rx, &ctx);
	free(o.b);
	cl_keyring_free(kr);
	cl_keyring_free(other);
}

/* A frame is charged for what arrived, not what its head claims: a
 * keyed head claiming 2 MiB, with one chunk after it, holds about two
 * units (it held the whole 2 MiB, and four such heads from one key holder
 * held a node's whole budget for the frame deadline: test_assembly_hold).
 * The rest of the frame still arrives whole. */
static void test_claim_costs_what_arrived(void)
{
	cl_keyring *kr = ring(10), *none = cl_keyring_new();
	struct hooks h = {0};
	for (int keyed = 0; keyed < 2; keyed++) {
		cl_frame_ctx ctx = ctx_for(keyed ? kr : none, &h);
		struct out o = write_frame(ctx.keyring, 2 * MAXPKT, 3);
		size_t part = 4 + CL_FRAME_HEAD_MAX + CL_FRAME_CHUNK_MAX;
		cl_frame_rx rx = {0};
		int packets;
		CHECK_EQ_INT(feed_all(&ctx, &rx, o.b, part, &packets), 0);
		CHECK_EQ_INT(packets, 0);
		CHECK(budget >= CL_FRAME_UNIT && budget <= 4 * CL_FRAME_UNIT);
		CHECK_EQ_INT(feed_all(&ctx, &rx, o.b + part, o.n - part,
				      &packets),
			     0);
		CHECK_EQ_INT(packets, 1);
		cl_frame_rx_free(&rx, &ctx);
		CHECK_EQ_INT(budget, 0);
		free(o.b);
	}
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

/* share_ok bounds what one reader (for the loop: one host's connections)
 * may hold: a frame growing past it is refused, and its charge given
 * back. */
struct share {
	size_t held, max, asked;
};

static bool share_ok(void *arg, size_t n)
{
	struct share *sh = arg;
	sh->asked++;
	if (sh->held + n > sh->max)
		return false;
	sh->held += n;
	return true;
}

static void test_host_share(void)
{
	cl_keyring *kr = ring(11);
	struct hooks h = {0};
	cl_frame_ctx ctx = ctx_for(kr, &h);
	struct share sh = {0, MAXPKT / 2, 0};
	ctx.share_ok = share_ok;
	ctx.share_arg = &sh;
	struct out small = write_frame(kr, MAXPKT / 4, 4);
	struct out big = write_frame(kr, MAXPKT, 5);
	cl_frame_rx rx = {0};
	int packets;
	CHECK_EQ_INT(feed_all(&ctx, &rx, small.b, small.n, &packets), 0);
	CHECK_EQ_INT(packets, 1);
	CHECK(sh.asked > 0 && sh.held <= MAXPKT / 4);
	cl_frame_rx_free(&rx, &ctx);
	sh.held = 0;
	CHECK_EQ_INT(feed_all(&ctx, &rx, big.b, big.n, &packets),
		     CLOISTER_ELIMIT);
	CHECK(sh.held <= MAXPKT / 2);
	cl_frame_rx_free(&rx, &ctx);
	CHECK_EQ_INT(budget, 0);
	free(small.b);
	free(big.b);
	cl_keyring_free(kr);
}

static void test_budget(void)
{
	cl_keyring *kr = ring(9), *none = cl_keyring_new();
	struct hooks h = {0};
	for (int keyed = 0; keyed < 2; keyed++) {
		cl_frame_ctx ctx = ctx_for(keyed ? kr : none, &h);
		ctx.budget_max = MAXPKT;
		struct out big = write_frame(ctx.keyring, MAXPKT + 1, 1);
		struct out ok = write_frame(ctx.keyring, MAXPKT / 2, 2);
		cl_frame_rx a = {0}, b = {0};
		int packets;
		/* Alone, a frame past the budget is refused ... */
		CHECK_EQ_INT(feed_all(&ctx, &a, big.b, big.n, &packets),
			     CLOISTER_ELIMIT);
		cl_frame_rx_free(&a, &ctx);
		CHECK_EQ_INT(budget, 0);
		/* ... and two halves in flight at once fit, a third not.
		 * (Cut before their last byte, so both stay held.) */
		CHECK_EQ_INT(feed_all(&ctx, &a, ok.b, ok.n - 1, &packets), 0);
		CHECK_EQ_INT(feed_all(&ctx, &b, ok.b, ok.n - 1, &packets), 0);
		CHECK(budget <= MAXPKT);
		cl_frame_rx c = {0};
		CHECK_EQ_INT(feed_all(&ctx, &c, ok.b, ok.n, &packets),
			     CLOISTER_ELIMIT);
		cl_frame_rx_free(&c, &ctx);
		/* Finishing one gives its share back. */
		cl_frame_packet p;
		CHECK_EQ_INT(cl_frame_rx_feed(&a, &ctx, ok.b + ok.n - 1, 1, &p), 1);
		CHECK(p.data != NULL && p.len == MAXPKT / 2);
		cl_frame_rx_free(&a, &ctx);
		CHECK_EQ_INT(feed_all(&ctx, &c, ok.b, ok.n, &packets), 0);
		CHECK_EQ_INT(packets, 1);
		cl_frame_rx_free(&c, &ctx);
		cl_frame_rx_free(&b, &ctx);
		CHECK_EQ_INT(budget, 0);
		free(big.b);
		free(ok.b);
	}
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

static void test_head_done(void)
{
	cl_keyring *kr = ring(10), *none = cl_keyring_new();
	struct hooks h = {0};
	for (int keyed = 0; keyed < 2; keyed++) {
		cl_frame_ctx ctx = ctx_for(keyed ? kr : none, &h);
		struct out o = write_frame(ctx.keyring, 3 * CL_FRAME_UNIT, 3);
		size_t head = keyed ? 4 + CL_FRAME_HEAD_MAX : 4 + CL_FRAME_UNIT;
		cl_frame_rx rx = {0};
		int packets;
		CHECK(!cl_frame_rx_in_frame(&rx));
		CHECK_EQ_INT(feed_all(&ctx, &rx, o.b, head - 1, &packets), 0);
		CHECK(cl_frame_rx_in_frame(&rx) && !cl_frame_rx_head_done(&rx));
		CHECK_EQ_INT(feed_all(&ctx, &rx, o.b + head - 1, 1, &packets), 0);
		CHECK(cl_frame_rx_in_frame(&rx) && cl_frame_rx_head_done(&rx));
		CHECK_EQ_INT(feed_all(&ctx, &rx, o.b + head, o.n - head,
				      &packets),
			     0);
		CHECK_EQ_INT(packets, 1);
		CHECK(!cl_frame_rx_in_frame(&rx));
		cl_frame_rx_free(&rx, &ctx);
		free(o.b);
	}
	cl_keyring_free(kr);
	cl_keyring_free(none);
}

int main(void)
{
	check_seed = 13;
	srand((unsigned)check_seed);
	RUN_TEST(test_round_trip);
	RUN_TEST(test_prefix);
	RUN_TEST(test_held_before_auth);
	RUN_TEST(test_flips);
	RUN_TEST(test_splice_and_reorder);
	RUN_TEST(test_lying_head);
	RUN_TEST(test_admit);
	RUN_TEST(test_budget);
	RUN_TEST(test_claim_costs_what_arrived);
	RUN_TEST(test_host_share);
	RUN_TEST(test_head_done);
	printf("test_frame: %d checks passed\n", check_count);
	return 0;
}
