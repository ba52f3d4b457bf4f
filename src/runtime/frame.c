/*
 * frame.c — stream frames, written and read incrementally (frame.h).
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "cloister.h"

enum { ST_PREFIX = 0, ST_HEAD, ST_CHUNK, ST_BODY };

/* The packet's bytes that ride in the head unit, after u32 total. */
#define HEAD_DATA (CL_FRAME_UNIT - 4)
/* Unit buffers above this are given back once a frame is done. */
#define KEEP_UNIT 4096

_Static_assert(CL_FRAME_SCRATCH >= CL_FRAME_CHUNK_MAX, "scratch holds a chunk");

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool keyed(const cl_frame_ctx *ctx)
{
	return cl_keyring_enabled(ctx->keyring);
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------------ */
/* Buffers and the budget                                              */
/* ------------------------------------------------------------------ */

static bool charge(cl_frame_rx *rx, const cl_frame_ctx *ctx, size_t n)
{
	if (ctx->share_ok && !ctx->share_ok(ctx->share_arg, n))
		return false;
	if (ctx->budget_used) {
		if (n > ctx->budget_max ||
		    *ctx->budget_used > ctx->budget_max - n)
			return false;
		*ctx->budget_used += n;
	}
	rx->charged += n;
	return true;
}

static void release_pkt(cl_frame_rx *rx, const cl_frame_ctx *ctx)
{
	free(rx->pkt);
	rx->pkt = NULL;
	rx->pkt_cap = 0;
	if (ctx->budget_used)
		*ctx->budget_used -= rx->charged;
	rx->charged = 0;
}

/* Room in pkt for at least need bytes (need <= total), charged. */
static int pkt_reserve(cl_frame_rx *rx, const cl_frame_ctx *ctx, size_t need)
{
	if (need <= rx->pkt_cap)
		return 0;
	size_t cap = rx->pkt_cap ? rx->pkt_cap * 2 : 4096;
	if (cap < need)
		cap = need;
	if (cap > rx->total)
		cap = rx->total;
	if (!charge(rx, ctx, cap - rx->pkt_cap))
		return CLOISTER_ELIMIT;
	uint8_t *p = realloc(rx->pkt, cap);
	if (!p) {
		/* Undo this growth's charge only. */
		if (ctx->budget_used)
			*ctx->budget_used -= cap - rx->pkt_cap;
		rx->charged -= cap - rx->pkt_cap;
		return CLOISTER_ENOMEM;
	}
	rx->pkt = p;
	rx->pkt_cap = cap;
	return 0;
}

/* Room in unit for need bytes (need <= unit_want): grown as bytes come,
 * so a claimed length costs only what was sent. */
static int unit_reserve(cl_frame_rx *rx, size_t need)
{
	if (need <= rx->unit_cap)
		return 0;
	size_t cap = rx->unit_cap ? rx->unit_cap * 2 : KEEP_UNIT;
	if (cap < need)
		cap = need;
	if (cap > rx->unit_want)
		cap = rx->unit_want;
	uint8_t *p = realloc(rx->unit, cap);
	if (!p)
		return CLOISTER_ENOMEM;
	rx->unit = p;
	rx->unit_cap = cap;
	return 0;
}

/* After a packet was returned: ready for the next frame. */
static void reset(cl_frame_rx *rx, const cl_frame_ctx *ctx)
{
	release_pkt(rx, ctx);
	if (rx->unit_cap > KEEP_UNIT) {
		free(rx->unit);
		rx->unit = NULL;
		rx->unit_cap = 0;
	}
	rx->state = ST_PREFIX;
	rx->prefix_have = 0;
	rx->unit_have = rx->unit_want = 0;
	rx->total = rx->have = 0;
	rx->next_chunk = 0;
	rx->head_done = false;
	rx->delivered = false;
}

void cl_frame_rx_free(cl_frame_rx *rx, const cl_frame_ctx *ctx)
{
	release_pkt(rx, ctx);
	free(rx->unit);
	memset(rx, 0, sizeof *rx);
}

size_t cl_frame_rx_held(const cl_frame_rx *rx)
{
	return rx->unit_cap + rx->pkt_cap;
}

bool cl_frame_rx_in_frame(const cl_frame_rx *rx)
{
	return !rx->delivered && (rx->state != ST_PREFIX || rx->prefix_have > 0);
}

bool cl_frame_rx_head_done(const cl_frame_rx *rx)
{
	if (rx->state == ST_BODY)
		return rx->have >= min_size(rx->total, CL_FRAME_UNIT);
	return rx->head_done;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void deliver(cl_frame_rx *rx, const uint8_t *data, size_t len,
		    bool sealed, cl_frame_packet *out)
{
	out->data = data;
	out->len = len;
	out->sealed = sealed;
	out->v1 = false;
	out->info = rx->info;
	rx->delivered = true;
}

/* The length prefix is complete. */
static int on_prefix(cl_frame_rx *rx, const cl_frame_ctx *ctx)
{
	uint32_t n = get_u32(rx->prefix);
	if (keyed(ctx)) {
		/* A head holds at least the total (4 bytes). */
		if (n < CL_KEYRING_OVERHEAD + 4 || n > CL_FRAME_HEAD_MAX)
			return CLOISTER_EPROTO;
		rx->unit_want = n;
		rx->unit_have = 0;
		rx->state = ST_HEAD;
		return 0;
	}
	if (n == 0 || n > ctx->max_packet)
		return CLOISTER_EPROTO;
	rx->total = n;
	rx->have = 0;
	rx->state = ST_BODY;
	return 0;
}

/* The head unit is complete: admit, open, and either deliver or expect
 * chunks. */
static int on_head(cl_frame_rx *rx, const cl_frame_ctx *ctx,
		   cl_frame_packet *out)
{
	cl_seal_info info;
	if (ctx->accept_v1 && rx->unit[0] == CL_KEYRING_V1) {
		int m = cl_keyring_open_v1(ctx->keyring, rx->unit,
					   rx->unit_want, ctx->scratch,
					   CL_FRAME_SCRATCH);
		if (m <= 0)
			return m == CLOISTER_EIO ? CLOISTER_EIO : CLOISTER_EPROTO;
		memset(&rx->info, 0, sizeof rx->info);
		deliver(rx, ctx->scratch, (size_t)m, true, out);
		out->v1 = true;
		return 0;
	}
	if (cl_keyring_peek(rx->unit, rx->unit_want, &info) != 0 ||
	    info.kind != CL_SEAL_STREAM)
		return CLOISTER_EPROTO;
	if (ctx->admit) {
		int rc = ctx->admit(ctx->arg, &info);
		if (rc != 0)
			return rc;
	}
	int m = cl_keyring_open(ctx->keyring, rx->unit, rx->unit_want,
				ctx->scratch, CL_FRAME_UNIT, NULL);
	if (m < 0)
		return m == CLOISTER_EPROTO ? m : CLOISTER_EIO;
	if (m < 4)
		return CLOISTER_EPROTO;
	size_t total = get_u32(ctx->scratch);
	size_t first = min_size(total, HEAD_DATA);
	/* The sealed total must agree with what the head carries. */
	if (total == 0 || total > ctx->max_packet || (size_t)m != 4 + first)
		return CLOISTER_EPROTO;
	memcpy(rx->head, rx->unit, CL_KEYRING_HEADER);
	rx->info = info;
	rx->head_done = true;
	if (ctx->accepted)
		ctx->accepted(ctx->arg, &info);
	rx->total = total;
	if (total == first) {
		deliver(rx, ctx->scratch + 4, total, true, out);
		return 0;
	}
	/* Authenticated.  The packet's buffer grows with the chunks that
	 * open, charged as it grows: a head claiming 16 MiB holds what was
	 * sent, not what was claimed, until the frame deadline. */
	int e = pkt_reserve(rx, ctx, first);
	if (e)
		return e;
	memcpy(rx->pkt, ctx->scratch + 4, first);
	rx->have = first;
	rx->next_chunk = 1;
	rx->unit_want = min_size(CL_FRAME_UNIT, total - first) +
			CL_KEYRING_TAG_BYTES;
	rx->unit_have = 0;
	rx->state = ST_CHUNK;
	return 0;
}

static int on_chunk(cl_frame_rx *rx, const cl_frame_ctx *ctx,
		    cl_frame_packet *out)
{
	int e = pkt_reserve(rx, ctx,
			    rx->have + rx->unit_want - CL_KEYRING_TAG_BYTES);
	if (e)
		return e;
	int m = cl_keyring_open_chunk(ctx->keyring, rx->head, rx->next_chunk,
				      rx->unit, rx->unit_want,
				      rx->pkt + rx->have, rx->pkt_cap - rx->have);
	if (m < 0)
		return CLOISTER_EIO;
	rx->have += (size_t)m;
	rx->next_chunk++;
	if (rx->have == rx->total) {
		deliver(rx, rx->pkt, rx->total, true, out);
		return 0;
	}
	rx->unit_want = min_size(CL_FRAME_UNIT, rx->total - rx->have) +
			CL_KEYRING_TAG_BYTES;
	rx->unit_have = 0;
	return 0;
}

long cl_frame_rx_feed(cl_frame_rx *rx, const cl_frame_ctx *ctx,
		      const uint8_t *in, size_t len, cl_frame_packet *out)
{
	out->data = NULL;
	out->len = 0;
	if (rx->delivered)
		reset(rx, ctx);
	size_t used = 0;
	while (used < len && !rx->delivered) {
		const uint8_t *p = in + used;
		size_t left = len - used, take;
		int e = 0;
		switch (rx->state) {
		case ST_PREFIX:
			take = min_size(left, 4 - rx->prefix_have);
			memcpy(rx->prefix + rx->prefix_have, p, take);
			rx->prefix_have += take;
			if (rx->prefix_have == 4)
				e = on_prefix(rx, ctx);
			break;
		case ST_HEAD:
		case ST_CHUNK:
			take = min_size(left, rx->unit_want - rx->unit_have);
			e = unit_reserve(rx, rx->unit_have + take);
			if (e)
				break;
			memcpy(rx->unit + rx->unit_have, p, take);
			rx->unit_have += take;
			if (rx->unit_have == rx->unit_want)
				e = rx->state == ST_HEAD ? on_head(rx, ctx, out)
							 : on_chunk(rx, ctx, out);
			break;
		default: /* ST_BODY */
			take = min_size(left, rx->total - rx->have);
			e = pkt_reserve(rx, ctx, rx->have + take);
			if (e)
				break;
			memcpy(rx->pkt + rx->have, p, take);
			rx->have += take;
			if (rx->have == rx->total)
				deliver(rx, rx->pkt, rx->total, false, out);
			break;
		}
		if (e)
			return e;
		used += take;
	}
	return (long)used;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

int cl_frame_write_v1(const struct cl_keyring *kr, const uint8_t *pkt,
		      size_t len, cl_frame_emit_fn emit, void *arg)
{
	if (!pkt || len == 0 || len > UINT32_MAX - CL_KEYRING_V1_OVERHEAD)
		return CLOISTER_EINVAL;
	uint8_t *buf = malloc(4 + len + CL_KEYRING_V1_OVERHEAD);
	if (!buf)
		return CLOISTER_ENOMEM;
	int n = cl_keyring_seal_v1(kr, pkt, len, buf + 4,
				   len + CL_KEYRING_V1_OVERHEAD);
	int e = n;
	if (n > 0) {
		put_u32(buf, (uint32_t)n);
		e = emit(arg, buf, 4 + (size_t)n);
	}
	free(buf);
	return e;
}

size_t cl_frame_size(bool is_keyed, size_t len)
{
	if (!is_keyed)
		return 4 + len;
	size_t rest = len > HEAD_DATA ? len - HEAD_DATA : 0;
	size_t chunks = (rest + CL_FRAME_UNIT - 1) / CL_FRAME_UNIT;
	return 4 + CL_KEYRING_OVERHEAD + 4 + len + chunks * CL_KEYRING_TAG_BYTES;
}

int cl_frame_write(const struct cl_keyring *kr, const cl_seal_info *info,
		   const uint8_t *pkt, size_t len, uint8_t *scratch,
		   cl_frame_emit_fn emit, void *arg)
{
	if (!pkt || len == 0 || len > UINT32_MAX)
		return CLOISTER_EINVAL;
	if (!cl_keyring_enabled(kr)) {
		uint8_t prefix[4];
		put_u32(prefix, (uint32_t)len);
		int e = emit(arg, prefix, 4);
		return e ? e : emit(arg, pkt, len);
	}
	if (!info || !scratch)
		return CLOISTER_EINVAL;
	/* Head: u32 n | header | sealed(u32 total | first bytes), sealed in
	 * place behind the prefix. */
	size_t first = min_size(len, HEAD_DATA);
	uint8_t *body = scratch + 4 + CL_KEYRING_HEADER;
	put_u32(body, (uint32_t)len);
	memcpy(body + 4, pkt, first);
	cl_seal_info head_info = *info;
	head_info.kind = CL_SEAL_STREAM;
	int n = cl_keyring_seal(kr, &head_info, body, 4 + first, scratch + 4,
				CL_FRAME_SCRATCH - 4);
	if (n < 0)
		return n;
	put_u32(scratch, (uint32_t)n);
	uint8_t head[CL_KEYRING_HEADER];
	memcpy(head, scratch + 4, CL_KEYRING_HEADER);
	int e = emit(arg, scratch, 4 + (size_t)n);
	uint32_t index = 1;
	for (size_t off = first; e == 0 && off < len; index++) {
		size_t c = min_size(CL_FRAME_UNIT, len - off);
		n = cl_keyring_seal_chunk(kr, head, index, pkt + off, c, scratch,
					  CL_FRAME_SCRATCH);
		if (n < 0)
			return n;
		e = emit(arg, scratch, (size_t)n);
		off += c;
	}
	return e;
}
