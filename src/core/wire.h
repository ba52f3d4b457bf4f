/*
 * wire.h — cloister's wire format, version 1.
 *
 * Every datagram and every stream frame is one *packet*: a fixed header
 * naming the protocol, its version and the cluster label, then a run of
 * type-length-value messages.  Decoding never touches protocol state:
 * cl_wire_parse() checks the whole packet (every length, every enum, every
 * nested field) and only then hands back message views that point into the
 * caller's buffer.  A packet with one bad byte is rejected whole.
 *
 * All integers are big-endian.
 *
 * Packet
 * ------
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  'C'  |  'L'  |version| flags |   version = 2 (1 read), flags = 0
 *   +-------+-------+-------+-------+
 *   |lbl_len| label (lbl_len bytes, 0..64) ...
 *   +-------+-------------------------
 *   | msg type (u8) | body len (u16) | body (len bytes) |   repeated to the end
 *   +---------------+----------------+------------------+
 *
 *   (PUSHPULL and USER have a u32 body length: a full state or an
 *   application message outgrows 64 KiB.)
 *
 * The label is the cluster (application) name.  A packet whose label is
 * not ours is dropped and counted before any message is looked at, so two
 * clusters sharing addresses never merge.
 *
 * A stream frame (TCP, for push-pull and anything over the MTU) is the same
 * packet preceded by a u32 length; the framing belongs to the runtime and
 * the core sees only the packet, flagged as having come over a stream.
 *
 * Field types
 * -----------
 *   name   u8 len (1..255) + bytes; no byte below 0x20, no 0x7f
 *   addr   u8 family (4|6) + 4 or 16 bytes + u16 port
 *   tags   u16 len (0..CL_WIRE_TAGS_MAX) + that many bytes, made of pairs
 *          u8 klen (1..64) + key + u8 vlen (0..255) + value, keys unique
 *
 * Messages (body layouts)
 * -----------------------
 *   1 PING      u32 seq | name target | name source | addr source
 *               | u64 membership checksum | u32 member count
 *   2 PING_REQ  u32 seq | name target | addr target | name origin
 *               | addr origin | u8 flags (bit 0: origin wants a nack)
 *               | u16 nack_ms (version 2: how long the relay may wait
 *               for the target before it nacks; 0 = its own timeout)
 *   3 ACK       u32 seq
 *   4 NACK      u32 seq
 *   5 ALIVE     u32 incarnation | u64 start ms | name | addr | tags
 *   6 SUSPECT   u32 incarnation | name member | name accuser
 *   7 DEAD      u32 incarnation | name member | name accuser
 *               (accuser == member means the member left gracefully)
 *   8 PUSHPULL  u8 flags (bit 0 join, bit 1 reply, bit 2 more frames of
 *               this state follow; the answer comes after the last) | u32 count
 *               | count x member
 *               member = u8 status (0..3) | u32 incarnation | u64 start ms
 *                        | name | addr | tags
 *               Only in stream frames.
 *   9 USER      u8 kind (0 cast, 1 call, 2 reply) | u32 call id
 *               | name topic | name sender | u32 payload length | payload
 *               (payload <= CL_WIRE_USER_MAX).  Datagram or stream.
 *  10 DIGEST    u8 flags (bit 1 reply) | u8 bits (0..10)
 *               | 2^bits x u64 bucket checksum
 *               The membership checksum split by the top `bits` bits of
 *               each member's name hash: a sync sends this first, and
 *               only the members of buckets that differ follow (a
 *               PUSHPULL flagged delta).  Only in stream frames.
 *
 * Unknown message types are errors, not skipped: a peer speaking a newer
 * minor dialect must bump the version byte, so the drop is counted under
 * "version" rather than silently losing half a packet.
 */
#ifndef CLOISTER_CORE_WIRE_H
#define CLOISTER_CORE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CL_WIRE_MAGIC0 'C'
#define CL_WIRE_MAGIC1 'L'
#define CL_WIRE_VERSION 2
/* The oldest version still read: version 1 lacks only PING_REQ's nack
 * deadline, which a relay then takes from its own probe timeout. */
#define CL_WIRE_VERSION_MIN 1
#define CL_WIRE_LABEL_MAX 64
/* Protocol versions: what a node speaks beyond one packet's layout (the
 * sealing, the stream frames, the messages a peer understands), as
 * memberlist's vsn fields.  Each node advertises the range it speaks in
 * the tag CL_PROTO_TAG ("MIN-MAX", e.g. "1-2"); toward a member the core
 * and the runtime use the highest version both speak.  A member that
 * advertises nothing predates negotiation and is taken to speak the
 * oldest version this node accepts (cl_swim_config.proto_min).
 *   1  before sealed packets v2 (commit a8b8815 and earlier): sealed v1
 *      (no sender, recipient or time binding), one sealed frame per
 *      stream packet, no DIGEST.  Deprecated: spoken only to let a
 *      cluster upgrade node by node, and only when asked for.
 *   2  sealed v2 (keyring.h), framed streams (frame.h), DIGEST. */
#define CL_PROTO_V1 1
#define CL_PROTO_MAX 2
#define CL_PROTO_TAG "cloister.proto"
#define CL_WIRE_NAME_MAX 255
#define CL_WIRE_TAG_KEY_MAX 64
#define CL_WIRE_TAGS_MAX 1024
/* Most messages one packet may carry: a 1400-byte packet of the smallest
 * message (ACK, 7 bytes) holds 200; larger MTUs are capped here so the
 * decoder's output array stays on the stack. */
#define CL_WIRE_MAX_MSGS 256
/* Largest stream frame accepted: 10,000 members with maximal tags fit
 * (about 1.3 KiB each); anything larger is hostile. */
#define CL_WIRE_STREAM_MAX (16u * 1024u * 1024u)
/* Smallest MTU we accept: header + label + one full ALIVE with full tags
 * must fit, or a member with big tags could never be gossiped. */
#define CL_WIRE_MTU_MIN 1400

enum cl_wire_type {
	CL_MSG_PING = 1,
	CL_MSG_PING_REQ = 2,
	CL_MSG_ACK = 3,
	CL_MSG_NACK = 4,
	CL_MSG_ALIVE = 5,
	CL_MSG_SUSPECT = 6,
	CL_MSG_DEAD = 7,
	CL_MSG_PUSHPULL = 8,
	CL_MSG_USER = 9,
	CL_MSG_DIGEST = 10,
};

/* DIGEST: at most 2^12 buckets (32 KiB; about two members a bucket up to
 * 8,192 members, antientropy.c). */
#define CL_WIRE_DIGEST_BITS_MAX 12

enum cl_member_status {
	CL_STATUS_ALIVE = 0,
	CL_STATUS_SUSPECT = 1,
	CL_STATUS_DEAD = 2,
	CL_STATUS_LEFT = 3,
};

/* Largest application payload (USER): beyond it, use your own transport. */
#define CL_WIRE_USER_MAX (1024u * 1024u)

enum cl_user_kind {
	CL_USER_CAST = 0,
	CL_USER_CALL = 1,
	CL_USER_REPLY = 2,
};

#define CL_PUSHPULL_JOIN 0x01
#define CL_PUSHPULL_REPLY 0x02
#define CL_PUSHPULL_MORE 0x04
/* Only the members of the buckets a DIGEST exchange found different. */
#define CL_PUSHPULL_DELTA 0x08
#define CL_DIGEST_REPLY 0x02
#define CL_PINGREQ_WANT_NACK 0x01

/* Why a packet was dropped.  Decoders return the negated value. */
enum cl_drop_reason {
	CL_DROP_NONE = 0,
	CL_DROP_TRUNCATED,   /* a length runs past the end */
	CL_DROP_MAGIC,       /* not a cloister packet */
	CL_DROP_VERSION,     /* another wire version, or unknown message type */
	CL_DROP_LABEL,       /* another cluster's packet */
	CL_DROP_MALFORMED,   /* a field out of range: enum, length, name bytes */
	CL_DROP_TOO_MANY,    /* more than CL_WIRE_MAX_MSGS messages */
	CL_DROP_TOO_BIG,     /* larger than the MTU or CL_WIRE_STREAM_MAX */
	CL_DROP_UNEXPECTED,  /* well formed but not valid here (PUSHPULL in UDP) */
	CL_DROP_AUTH,        /* failed authentication (runtime) */
	/* A message whose incarnation or start time our clock says cannot
	 * be (counted per message, the rest of the packet is read). */
	CL_DROP_CLOCK,
	CL_DROP__COUNT
};

const char *cl_drop_reason_name(enum cl_drop_reason r);

/* A view into a decoded packet: valid as long as the packet buffer is. */
typedef struct cl_bytes {
	const uint8_t *ptr;
	size_t len;
} cl_bytes;

typedef struct cl_wire_member {
	uint8_t status; /* enum cl_member_status */
	uint32_t incarnation;
	uint64_t start_ms;
	cl_bytes name;
	cl_addr addr;
	cl_bytes tags; /* encoded pairs, already validated */
} cl_wire_member;

typedef struct cl_wire_msg {
	uint8_t type; /* enum cl_wire_type */
	union {
		struct {
			uint32_t seq;
			cl_bytes target;
			cl_bytes source;
			cl_addr source_addr;
			uint64_t checksum;
			uint32_t member_count;
		} ping;
		struct {
			uint32_t seq;
			cl_bytes target;
			cl_addr target_addr;
			cl_bytes origin;
			cl_addr origin_addr;
			uint8_t flags;
			uint16_t nack_ms;
		} ping_req;
		struct {
			uint32_t seq;
		} ack; /* ACK and NACK */
		cl_wire_member alive; /* status field is CL_STATUS_ALIVE */
		struct {
			uint32_t incarnation;
			cl_bytes member;
			cl_bytes accuser;
		} accuse; /* SUSPECT and DEAD */
		struct {
			uint8_t kind; /* enum cl_user_kind */
			uint32_t id;
			cl_bytes topic;
			cl_bytes sender;
			cl_bytes payload;
		} user;
		struct {
			uint8_t flags;
			uint32_t count;
			cl_bytes entries; /* count validated members, see
					     cl_wire_member_next() */
		} pushpull;
		struct {
			uint8_t flags;
			uint8_t bits;
			cl_bytes sums; /* 2^bits big-endian u64, see
					  cl_wire_digest_sum() */
		} digest;
	} u;
} cl_wire_msg;

/*
 * Checks a whole packet and returns its messages.
 *   label      our cluster label; a packet with another is CL_DROP_LABEL
 *   max_len    the MTU for datagrams, CL_WIRE_STREAM_MAX for streams
 *   stream     whether the packet came over a stream (PUSHPULL allowed)
 * Returns the number of messages (>= 0) written to out[0..max_msgs), or
 * -enum cl_drop_reason.  Nothing is returned for a packet with any error.
 */
int cl_wire_parse(const uint8_t *buf, size_t len, const char *label,
		  size_t label_len, size_t max_len, bool stream,
		  cl_wire_msg *out, size_t max_msgs);

/* Walks PUSHPULL entries that cl_wire_parse() already validated.  *pos is
 * the read offset into msg->u.pushpull.entries, starting at 0.  Returns
 * true with *m filled, false at the end. */
bool cl_wire_member_next(const cl_bytes *entries, size_t *pos,
			 cl_wire_member *m);

/* Tags: walks validated encoded pairs. */
bool cl_wire_tag_next(const cl_bytes *tags, size_t *pos, cl_bytes *key,
		      cl_bytes *value);
/* Checks an encoded tag block (used for config as well as the wire):
 * structure, key lengths, unique keys, total <= max. */
bool cl_wire_tags_valid(const uint8_t *tags, size_t len, size_t max);
/* Copies the pairs of a valid tag block except those with key `key` into
 * out (at least len bytes); returns the bytes written. */
size_t cl_wire_tags_drop(const uint8_t *tags, size_t len, cl_bytes key,
			 uint8_t *out);
/* Appends one pair (key <= 255, value <= 255 bytes) at out + n; returns
 * the new length.  The caller checks the room: n + 2 + key + value. */
size_t cl_wire_tag_append(uint8_t *out, size_t n, cl_bytes key,
			  cl_bytes value);
/* Checks a node name: 1..255 bytes, no control bytes. */
bool cl_wire_name_valid(const uint8_t *name, size_t len);

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

/* A bounded output buffer.  Every cl_wire_put_* either appends a whole
 * message and returns true, or leaves the buffer unchanged and returns
 * false because the message does not fit: so a sender fills a packet with
 * piggybacked updates until the first false. */
typedef struct cl_wbuf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t mark; /* start of an open PUSHPULL, for cl_wire_pushpull_end */
} cl_wbuf;

/* Starts a packet: writes the header.  False if cap is too small. */
bool cl_wire_begin(cl_wbuf *w, uint8_t *buf, size_t cap, const char *label,
		   size_t label_len);

bool cl_wire_put_ping(cl_wbuf *w, uint32_t seq, cl_bytes target,
		      cl_bytes source, const cl_addr *source_addr,
		      uint64_t checksum, uint32_t member_count);
bool cl_wire_put_ping_req(cl_wbuf *w, uint32_t seq, cl_bytes target,
			  const cl_addr *target_addr, cl_bytes origin,
			  const cl_addr *origin_addr, uint8_t flags,
			  uint16_t nack_ms);
bool cl_wire_put_ack(cl_wbuf *w, uint8_t type /* ACK or NACK */,
		     uint32_t seq);
bool cl_wire_put_alive(cl_wbuf *w, uint32_t incarnation, uint64_t start_ms,
		       cl_bytes name, const cl_addr *addr, cl_bytes tags);
bool cl_wire_put_accuse(cl_wbuf *w, uint8_t type /* SUSPECT or DEAD */,
			uint32_t incarnation, cl_bytes member,
			cl_bytes accuser);

/* USER: appends one application message (u32 body length). */
bool cl_wire_put_user(cl_wbuf *w, uint8_t kind, uint32_t id, cl_bytes topic,
		      cl_bytes sender, cl_bytes payload);
size_t cl_wire_user_size(size_t topic_len, size_t sender_len,
			 size_t payload_len);

/* Size of one encoded ALIVE, for planning packets and queue budgets. */
size_t cl_wire_alive_size(size_t name_len, const cl_addr *addr,
			  size_t tags_len);

/* DIGEST: 2^bits sums. */
bool cl_wire_put_digest(cl_wbuf *w, uint8_t flags, uint8_t bits,
			const uint64_t *sums);
/* The i-th sum of a parsed DIGEST (i < 2^bits). */
uint64_t cl_wire_digest_sum(const cl_wire_msg *msg, size_t i);

/* PUSHPULL: begin, add members, end.  The count is patched by _end.
 * Members that do not fit are refused (false) and not counted. */
bool cl_wire_pushpull_begin(cl_wbuf *w, uint8_t flags);
bool cl_wire_pushpull_add(cl_wbuf *w, const cl_wire_member *m);
/* Sets a flag of the open PUSHPULL (MORE, once the sender finds the state
 * goes on past this frame). */
void cl_wire_pushpull_flag(cl_wbuf *w, uint8_t flag);
void cl_wire_pushpull_end(cl_wbuf *w);

#endif
