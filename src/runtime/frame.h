/*
 * frame.h — stream frames: the writer and an incremental reader that
 * holds at most one unit (64 KiB) of a frame before it authenticates.
 *
 * Keyed (the layout is in keyring.h, "Streams"):
 *     u32 n | head unit (n bytes, a sealed packet of kind stream whose
 *     plaintext is u32 total | the packet's first bytes) | chunk units
 * Plaintext (no key: loopback, or insecure):
 *     u32 total | packet
 *
 * The reader takes bytes as they come, in any split, and returns one
 * packet at a time.  Before a keyed frame's head has opened it holds the
 * length prefix and at most CL_FRAME_HEAD_MAX bytes, allocated as they
 * arrive; a longer prefix is refused at once (CLOISTER_EPROTO), a head
 * that fails the admit hook (recipient, time, replay: replay.h) is refused
 * before any cryptography, and one that fails to open is CLOISTER_EIO.
 * Once the head opened, the packet's buffer grows as its chunks open (each
 * opens before it is added), charged to a budget shared by all
 * connections (a key holder cannot make every connection assemble 16 MiB
 * at once) and to the share of it its sender's host may hold (share_ok).
 * A plaintext frame's buffer grows with the bytes received, charged the
 * same way.  Either way a claimed length costs nothing until it is sent.
 *
 * Every error is final: the caller closes the connection (a peer that
 * sends one bad frame gets no second try on that connection).
 *
 * The reader does not keep time: its caller arms deadlines from
 * cl_frame_rx_in_frame() and cl_frame_rx_head_done() (loop.c: a head must
 * open within seconds of its first byte, a whole frame within a bound).
 */
#ifndef CLOISTER_RUNTIME_FRAME_H
#define CLOISTER_RUNTIME_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

/* Plaintext bytes in one sealed unit. */
#define CL_FRAME_UNIT 65536u
/* The largest head unit (its length prefix is bounded by this). */
#define CL_FRAME_HEAD_MAX (CL_FRAME_UNIT + CL_KEYRING_OVERHEAD)
/* The largest chunk unit. */
#define CL_FRAME_CHUNK_MAX (CL_FRAME_UNIT + CL_KEYRING_TAG_BYTES)
/* Scratch the writer and the reader need (one unit, sealed or open). */
#define CL_FRAME_SCRATCH (CL_FRAME_HEAD_MAX + 4)

typedef struct cl_frame_ctx {
	/* NULL or without keys: plaintext frames. */
	const struct cl_keyring *keyring;
	/* The largest packet taken (CL_WIRE_STREAM_MAX). */
	size_t max_packet;
	/* Bytes of packet buffers held across every reader sharing it, and
	 * the most they may hold; a frame that would pass it is
	 * CLOISTER_ELIMIT.  budget_used NULL: no budget. */
	size_t *budget_used;
	size_t budget_max;
	/* Asked before the budget is charged n more bytes for this reader
	 * (share_arg: whatever identifies it to the caller); false refuses
	 * them (CLOISTER_ELIMIT).  NULL: no bound but the budget. */
	bool (*share_ok)(void *share_arg, size_t n);
	void *share_arg;
	/* Keyed: called with a head's clear header before cryptography;
	 * a non-zero return refuses the frame with that value (a negative
	 * number, passed back by cl_frame_rx_feed()).  NULL: admit all. */
	int (*admit)(void *arg, const cl_seal_info *info);
	/* Keyed: the head authenticated (a replay window moves).  May be
	 * NULL. */
	void (*accepted)(void *arg, const cl_seal_info *info);
	void *arg;
	/* Keyed: a head unit sealed in version 1 (keyring.h, deprecated) is
	 * the whole packet of a protocol-1 peer's frame, "u32 n | sealed v1
	 * packet": opened whole and delivered with v1 set.  Such frames are
	 * held to CL_FRAME_HEAD_MAX like any head (the old release sent up
	 * to 16 MiB; a state past 64 KiB, some 500 members, is refused). */
	bool accept_v1;
	/* CL_FRAME_SCRATCH bytes, shared by every reader of one thread: a
	 * packet returned from it is valid until the next feed of any of
	 * them. */
	uint8_t *scratch;
} cl_frame_ctx;

typedef struct cl_frame_packet {
	const uint8_t *data; /* valid until the next feed or free */
	size_t len;
	bool sealed;         /* info is the head's authenticated header */
	bool v1;             /* sealed in version 1: info is all zero */
	cl_seal_info info;
} cl_frame_packet;

typedef struct cl_frame_rx {
	int state;
	uint8_t prefix[4];
	size_t prefix_have;
	/* The unit being received (keyed): want bytes, have so far. */
	uint8_t *unit;
	size_t unit_cap, unit_have, unit_want;
	/* The head's clear header (chunks are bound to it). */
	uint8_t head[CL_KEYRING_HEADER];
	cl_seal_info info;
	uint32_t next_chunk;
	/* The packet being assembled: total bytes, have so far. */
	uint8_t *pkt;
	size_t pkt_cap, total, have;
	size_t charged; /* of *budget_used */
	bool head_done;
	bool delivered; /* the last packet was returned: reset first */
} cl_frame_rx;

/* A reader starts zeroed (= {0}). */

/* Consumes bytes of in[0..len) and returns how many (> 0 whenever len > 0
 * and no error), stopping right after a packet completes: then out->data
 * is set (else NULL).  Errors (the connection must close):
 *   CLOISTER_EPROTO  a length prefix of 0, past max_packet (plaintext),
 *                    or not a head unit's size (keyed); a head that is not
 *                    version 2 of kind stream, or whose sealed total
 *                    disagrees with its length
 *   CLOISTER_EIO     a head or chunk that no installed key opens
 *   CLOISTER_ELIMIT  the shared budget is spent
 *   CLOISTER_ENOMEM
 *   admit's value    the admit hook refused the head */
long cl_frame_rx_feed(cl_frame_rx *rx, const cl_frame_ctx *ctx,
		      const uint8_t *in, size_t len, cl_frame_packet *out);
/* Whether some bytes of a frame arrived and the frame is not complete. */
bool cl_frame_rx_in_frame(const cl_frame_rx *rx);
/* Whether the frame in progress has passed its head: keyed, the head
 * authenticated; plaintext, its first CL_FRAME_UNIT bytes (or all of a
 * shorter frame) arrived. */
bool cl_frame_rx_head_done(const cl_frame_rx *rx);
/* Bytes this reader holds (for tests and metrics). */
size_t cl_frame_rx_held(const cl_frame_rx *rx);
/* Releases its buffers and its budget; it may be fed again afterwards as
 * a new reader. */
void cl_frame_rx_free(cl_frame_rx *rx, const cl_frame_ctx *ctx);

/* Writes one packet as a frame, through emit(arg, bytes, n) (called a few
 * times; a non-zero return stops and is returned).  Keyed when kr has a
 * key: info gives sender, time and recipient (its kind is ignored: stream),
 * and scratch holds CL_FRAME_SCRATCH bytes.  0, or CLOISTER_EINVAL (len 0
 * or over UINT32_MAX), a keyring error, or emit's value. */
typedef int (*cl_frame_emit_fn)(void *arg, const void *buf, size_t n);
int cl_frame_write(const struct cl_keyring *kr, const cl_seal_info *info,
		   const uint8_t *pkt, size_t len, uint8_t *scratch,
		   cl_frame_emit_fn emit, void *arg);
/* A protocol-1 frame: u32 n | the packet sealed in version 1 (keyring.h),
 * for peers that predate sealed v2.  0, CLOISTER_EINVAL, CLOISTER_ENOMEM,
 * a keyring error, or emit's value. */
int cl_frame_write_v1(const struct cl_keyring *kr, const uint8_t *pkt,
		      size_t len, cl_frame_emit_fn emit, void *arg);
/* The bytes cl_frame_write() produces for len bytes of packet. */
size_t cl_frame_size(bool keyed, size_t len);

#endif
