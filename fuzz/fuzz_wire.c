/*
 * fuzz_wire.c — cl_wire_parse() on arbitrary bytes, as a datagram and as a
 * stream frame, with label "fuzz".
 *
 * Beyond "does not crash", it checks the properties the rest of the core
 * relies on, aborting on any violation:
 *   - every view it returns walks cleanly (PUSHPULL entries match the
 *     count, tag blocks end exactly, names and statuses are in range);
 *   - the encoding is canonical: re-encoding an accepted packet of the
 *     current version gives back the input byte for byte, so parser and
 *     encoders agree on the layout (an older version's packet is read, and
 *     re-encodes to the current layout instead);
 *   - each ALIVE re-encoded on its own parses back to the same fields;
 *   - the message limit and the datagram/stream split are consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/wire.h"

#define LABEL "fuzz"
#define LABEL_LEN 4
/* The largest UDP payload: lets big inputs reach the message parsers
 * rather than stop at "too big". */
#define DGRAM_MAX 65507
#define SMALL_MAX_MSGS 3

static cl_wire_msg msgs[CL_WIRE_MAX_MSGS];
static cl_wire_msg again[CL_WIRE_MAX_MSGS];

static bool bytes_eq(cl_bytes a, cl_bytes b)
{
	return a.len == b.len &&
	       (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool member_eq(const cl_wire_member *a, const cl_wire_member *b)
{
	return a->status == b->status && a->incarnation == b->incarnation &&
	       a->start_ms == b->start_ms && bytes_eq(a->name, b->name) &&
	       cl_addr_equal(&a->addr, &b->addr) && bytes_eq(a->tags, b->tags);
}

static void walk_tags(cl_bytes tags)
{
	cl_bytes k, v;
	size_t pos = 0;

	REQUIRE(cl_wire_tags_valid(tags.ptr, tags.len, CL_WIRE_TAGS_MAX));
	while (cl_wire_tag_next(&tags, &pos, &k, &v)) {
		REQUIRE(k.len >= 1 && k.len <= CL_WIRE_TAG_KEY_MAX);
		REQUIRE(k.ptr > tags.ptr &&
			v.ptr + v.len <= tags.ptr + tags.len);
	}
	REQUIRE(pos == tags.len);
}

static void check_member(const cl_wire_member *m)
{
	REQUIRE(m->status <= CL_STATUS_LEFT);
	REQUIRE(cl_wire_name_valid(m->name.ptr, m->name.len));
	REQUIRE(m->addr.family == CL_AF_INET4 || m->addr.family == CL_AF_INET6);
	walk_tags(m->tags);
}

static void walk(const cl_wire_msg *m, int n)
{
	for (int i = 0; i < n; i++, m++) {
		switch (m->type) {
		case CL_MSG_PING:
			REQUIRE(cl_wire_name_valid(m->u.ping.target.ptr,
						   m->u.ping.target.len));
			REQUIRE(cl_wire_name_valid(m->u.ping.source.ptr,
						   m->u.ping.source.len));
			break;
		case CL_MSG_PING_REQ:
			REQUIRE(cl_wire_name_valid(m->u.ping_req.target.ptr,
						   m->u.ping_req.target.len));
			REQUIRE(cl_wire_name_valid(m->u.ping_req.origin.ptr,
						   m->u.ping_req.origin.len));
			break;
		case CL_MSG_ACK:
		case CL_MSG_NACK:
			break;
		case CL_MSG_ALIVE:
			REQUIRE(m->u.alive.status == CL_STATUS_ALIVE);
			check_member(&m->u.alive);
			break;
		case CL_MSG_SUSPECT:
		case CL_MSG_DEAD:
			REQUIRE(cl_wire_name_valid(m->u.accuse.member.ptr,
						   m->u.accuse.member.len));
			REQUIRE(cl_wire_name_valid(m->u.accuse.accuser.ptr,
						   m->u.accuse.accuser.len));
			break;
		case CL_MSG_PUSHPULL: {
			cl_wire_member mm;
			size_t pos = 0;
			uint32_t count = 0;
			while (cl_wire_member_next(&m->u.pushpull.entries, &pos,
						   &mm)) {
				check_member(&mm);
				count++;
			}
			REQUIRE(pos == m->u.pushpull.entries.len);
			REQUIRE(count == m->u.pushpull.count);
			break;
		}
		case CL_MSG_USER:
			REQUIRE(m->u.user.kind <= CL_USER_REPLY);
			REQUIRE(cl_wire_name_valid(m->u.user.topic.ptr,
						   m->u.user.topic.len));
			REQUIRE(cl_wire_name_valid(m->u.user.sender.ptr,
						   m->u.user.sender.len));
			REQUIRE(m->u.user.payload.len <= CL_WIRE_USER_MAX);
			break;
		case CL_MSG_DIGEST:
			REQUIRE(m->u.digest.bits <= CL_WIRE_DIGEST_BITS_MAX);
			REQUIRE(m->u.digest.sums.len ==
				(size_t)8 << m->u.digest.bits);
			break;
		default:
			abort();
		}
	}
}

/* Rebuilds the packet from its views; it must be the input again. */
static void reencode(const uint8_t *data, size_t size, const cl_wire_msg *m,
		     int n)
{
	uint8_t *buf = malloc(size);
	cl_wbuf w;

	REQUIRE(buf != NULL);
	REQUIRE(cl_wire_begin(&w, buf, size, LABEL, LABEL_LEN));
	for (int i = 0; i < n; i++, m++) {
		switch (m->type) {
		case CL_MSG_PING:
			REQUIRE(cl_wire_put_ping(&w, m->u.ping.seq,
						 m->u.ping.target,
						 m->u.ping.source,
						 &m->u.ping.source_addr,
						 m->u.ping.checksum,
						 m->u.ping.member_count));
			break;
		case CL_MSG_PING_REQ:
			REQUIRE(cl_wire_put_ping_req(
				&w, m->u.ping_req.seq, m->u.ping_req.target,
				&m->u.ping_req.target_addr,
				m->u.ping_req.origin,
				&m->u.ping_req.origin_addr,
				m->u.ping_req.flags, m->u.ping_req.nack_ms));
			break;
		case CL_MSG_ACK:
		case CL_MSG_NACK:
			REQUIRE(cl_wire_put_ack(&w, m->type, m->u.ack.seq));
			break;
		case CL_MSG_ALIVE:
			REQUIRE(cl_wire_put_alive(&w, m->u.alive.incarnation,
						  m->u.alive.start_ms,
						  m->u.alive.name,
						  &m->u.alive.addr,
						  m->u.alive.tags));
			break;
		case CL_MSG_SUSPECT:
		case CL_MSG_DEAD:
			REQUIRE(cl_wire_put_accuse(&w, m->type,
						   m->u.accuse.incarnation,
						   m->u.accuse.member,
						   m->u.accuse.accuser));
			break;
		case CL_MSG_PUSHPULL: {
			cl_wire_member mm;
			size_t pos = 0;
			REQUIRE(cl_wire_pushpull_begin(&w,
						       m->u.pushpull.flags));
			while (cl_wire_member_next(&m->u.pushpull.entries, &pos,
						   &mm))
				REQUIRE(cl_wire_pushpull_add(&w, &mm));
			cl_wire_pushpull_end(&w);
			break;
		}
		case CL_MSG_USER:
			REQUIRE(cl_wire_put_user(&w, m->u.user.kind, m->u.user.id,
						 m->u.user.topic,
						 m->u.user.sender,
						 m->u.user.payload));
			break;
		case CL_MSG_DIGEST: {
			size_t k = (size_t)1 << m->u.digest.bits;
			uint64_t *sums = malloc(k * sizeof *sums);
			REQUIRE(sums != NULL);
			for (size_t x = 0; x < k; x++)
				sums[x] = cl_wire_digest_sum(m, x);
			REQUIRE(cl_wire_put_digest(&w, m->u.digest.flags,
						   m->u.digest.bits, sums));
			free(sums);
			break;
		}
		default:
			abort();
		}
	}
	REQUIRE(w.len == size);
	REQUIRE(memcmp(buf, data, size) == 0);
	free(buf);
}

/* Each ALIVE alone, encoded and parsed again, keeps every field. */
static void alive_roundtrip(const cl_wire_msg *m, int n)
{
	uint8_t buf[CL_WIRE_MTU_MIN];
	cl_wbuf w;

	for (int i = 0; i < n; i++, m++) {
		if (m->type != CL_MSG_ALIVE)
			continue;
		const cl_wire_member *a = &m->u.alive;
		size_t need = cl_wire_alive_size(a->name.len, &a->addr,
						 a->tags.len);
		REQUIRE(cl_wire_begin(&w, buf, sizeof(buf), LABEL, LABEL_LEN));
		/* Anything valid fits the MTU floor: that is its purpose. */
		REQUIRE(cl_wire_put_alive(&w, a->incarnation, a->start_ms,
					  a->name, &a->addr, a->tags));
		REQUIRE(w.len == 5 + LABEL_LEN + need);
		REQUIRE(cl_wire_parse(buf, w.len, LABEL, LABEL_LEN,
				      CL_WIRE_MTU_MIN, false, again, 1) == 1);
		REQUIRE(again[0].type == CL_MSG_ALIVE);
		REQUIRE(member_eq(&again[0].u.alive, a));
	}
}

static int check_one(const uint8_t *data, size_t size, size_t max_len,
		     bool stream)
{
	int n = cl_wire_parse(data, size, LABEL, LABEL_LEN, max_len, stream,
			      msgs, CL_WIRE_MAX_MSGS);
	REQUIRE(n >= -CL_DROP_UNEXPECTED && n <= CL_WIRE_MAX_MSGS);

	/* A smaller output array changes nothing but the limit. */
	int small = cl_wire_parse(data, size, LABEL, LABEL_LEN, max_len,
				  stream, again, SMALL_MAX_MSGS);
	if (n > SMALL_MAX_MSGS)
		REQUIRE(small == -CL_DROP_TOO_MANY);
	else if (n >= 0)
		REQUIRE(small == n);

	if (n < 0)
		return n;
	walk(msgs, n);
	if (data[2] == CL_WIRE_VERSION)
		reencode(data, size, msgs, n);
	alive_roundtrip(msgs, n);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int d = check_one(data, size, DGRAM_MAX, false);
	int s = check_one(data, size, CL_WIRE_STREAM_MAX, true);

	/* A stream accepts everything a datagram does, and PUSHPULL too. */
	if (d >= 0)
		REQUIRE(s == d);
	if (d == -CL_DROP_MAGIC || d == -CL_DROP_LABEL)
		REQUIRE(s == d);
	return 0;
}
