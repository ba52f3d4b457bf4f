/*
 * wire.c — the version 2 codec (reading version 1 too): a validating
 * parser and bounded encoders.
 *
 * The parser is on the hot path of the simulator (tens of millions of
 * packets), so it is one pass over the bytes with inline cursor helpers:
 * no allocation, no indirect calls, and every read bounded by the end of
 * the enclosing body before it happens.
 *
 * Drop reasons are split by where the fault lies.  A length that runs past
 * the end of the packet (header, label, message length) is TRUNCATED: the
 * transport lost bytes.  Inside a body whose length did fit, any field that
 * overruns the body, any byte left over and any value out of range are
 * MALFORMED: the sender wrote something that disagrees with itself.
 */
#include "wire.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Byte order                                                          */
/* ------------------------------------------------------------------ */

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline uint8_t *put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *put_be64(uint8_t *p, uint64_t v)
{
	p = put_be32(p, (uint32_t)(v >> 32));
	return put_be32(p, (uint32_t)v);
}

/* ------------------------------------------------------------------ */
/* Names and tags                                                      */
/* ------------------------------------------------------------------ */

const char *cl_drop_reason_name(enum cl_drop_reason r)
{
	switch (r) {
	case CL_DROP_NONE:
		return "none";
	case CL_DROP_TRUNCATED:
		return "truncated";
	case CL_DROP_MAGIC:
		return "magic";
	case CL_DROP_VERSION:
		return "version";
	case CL_DROP_LABEL:
		return "label";
	case CL_DROP_MALFORMED:
		return "malformed";
	case CL_DROP_TOO_MANY:
		return "too_many";
	case CL_DROP_TOO_BIG:
		return "too_big";
	case CL_DROP_UNEXPECTED:
		return "unexpected";
	case CL_DROP_AUTH:
		return "auth";
	case CL_DROP_CLOCK:
		return "clock";
	case CL_DROP__COUNT:
		break;
	}
	return "unknown";
}

static inline bool name_bytes_ok(const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

bool cl_wire_name_valid(const uint8_t *name, size_t len)
{
	return len >= 1 && len <= CL_WIRE_NAME_MAX && name_bytes_ok(name, len);
}

/* Offset of the pair after the one at i; only on structurally valid tags. */
static inline size_t tag_skip(const uint8_t *t, size_t i)
{
	size_t klen = t[i];
	return i + 2 + klen + t[i + 1 + klen];
}

/* Whether the pairs at offsets i and j have the same key. */
static inline bool tag_key_eq(const uint8_t *t, size_t i, size_t j)
{
	return t[i] == t[j] && memcmp(t + i + 1, t + j + 1, t[i]) == 0;
}

/* Up to this many pairs a pairwise scan beats clearing a hash table, and
 * almost every real tag set is this small. */
#define TAGS_PAIRWISE_MAX 8
#define TAGS_HASH_SLOTS 1024

static bool tags_unique_pairwise(const uint8_t *t, size_t len)
{
	for (size_t i = 0; i < len; i = tag_skip(t, i))
		for (size_t j = tag_skip(t, i); j < len; j = tag_skip(t, j))
			if (tag_key_eq(t, i, j))
				return false;
	return true;
}

/* A hostile block of CL_WIRE_TAGS_MAX bytes holds 341 pairs; pairwise that
 * is 58,000 compares per member, which a 16 MiB PUSHPULL would multiply
 * into seconds of CPU.  Open addressing keeps it linear.  The table holds
 * offset + 1 (0 = empty), so blocks must fit a u16 offset and leave the
 * table at most a third full: len <= CL_WIRE_TAGS_MAX guarantees both. */
static bool tags_unique_hashed(const uint8_t *t, size_t len)
{
	uint16_t slot[TAGS_HASH_SLOTS];

	memset(slot, 0, sizeof(slot));
	for (size_t i = 0; i < len; i = tag_skip(t, i)) {
		size_t klen = t[i];
		uint32_t h = 2166136261u;
		for (size_t k = 0; k < klen; k++)
			h = (h ^ t[i + 1 + k]) * 16777619u;
		for (size_t s = h & (TAGS_HASH_SLOTS - 1);;
		     s = (s + 1) & (TAGS_HASH_SLOTS - 1)) {
			if (slot[s] == 0) {
				slot[s] = (uint16_t)(i + 1);
				break;
			}
			if (tag_key_eq(t, i, (size_t)slot[s] - 1))
				return false;
		}
	}
	return true;
}

bool cl_wire_tags_valid(const uint8_t *tags, size_t len, size_t max)
{
	size_t pairs = 0;

	if (len > max)
		return false;
	for (size_t i = 0; i < len; pairs++) {
		size_t klen = tags[i];
		if (klen < 1 || klen > CL_WIRE_TAG_KEY_MAX)
			return false;
		/* key, then the vlen byte */
		if (len - i - 1 < klen + 1)
			return false;
		size_t vlen = tags[i + 1 + klen];
		i += 2 + klen;
		if (len - i < vlen)
			return false;
		i += vlen;
	}
	if (pairs <= TAGS_PAIRWISE_MAX || len > CL_WIRE_TAGS_MAX)
		return tags_unique_pairwise(tags, len);
	return tags_unique_hashed(tags, len);
}

bool cl_wire_tag_next(const cl_bytes *tags, size_t *pos, cl_bytes *key,
		      cl_bytes *value)
{
	const uint8_t *t = tags->ptr;
	size_t len = tags->len, i = *pos;

	/* Validated already; the bounds only keep a misuse from reading
	 * past the block. */
	if (i >= len)
		return false;
	size_t klen = t[i];
	if (len - i - 1 < klen + 1)
		return false;
	size_t vlen = t[i + 1 + klen];
	if (len - i - 2 - klen < vlen)
		return false;
	key->ptr = t + i + 1;
	key->len = klen;
	value->ptr = t + i + 2 + klen;
	value->len = vlen;
	*pos = i + 2 + klen + vlen;
	return true;
}

size_t cl_wire_tags_drop(const uint8_t *tags, size_t len, cl_bytes key,
			 uint8_t *out)
{
	size_t n = 0, pos = 0;
	cl_bytes all = {tags, len}, k, v;
	while (cl_wire_tag_next(&all, &pos, &k, &v))
		if (k.len != key.len || memcmp(k.ptr, key.ptr, k.len) != 0)
			n = cl_wire_tag_append(out, n, k, v);
	return n;
}

size_t cl_wire_tag_append(uint8_t *out, size_t n, cl_bytes key,
			  cl_bytes value)
{
	out[n++] = (uint8_t)key.len;
	memcpy(out + n, key.ptr, key.len);
	n += key.len;
	out[n++] = (uint8_t)value.len;
	memcpy(out + n, value.ptr, value.len);
	return n + value.len;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* A read cursor over one body.  Every getter checks the bytes are there
 * before touching them and returns false otherwise. */
struct cur {
	const uint8_t *p;
	const uint8_t *end;
};

static inline size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

static inline bool get_u8(struct cur *c, uint8_t *v)
{
	if (c->p == c->end)
		return false;
	*v = *c->p++;
	return true;
}

static inline bool get_u32(struct cur *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return false;
	*v = get_be32(c->p);
	c->p += 4;
	return true;
}

static inline bool get_u64(struct cur *c, uint64_t *v)
{
	if (cur_left(c) < 8)
		return false;
	*v = get_be64(c->p);
	c->p += 8;
	return true;
}

/* check: validate the bytes too.  Walking entries that cl_wire_parse()
 * already validated skips the per-byte work but never the bounds. */
static inline bool get_name(struct cur *c, cl_bytes *n, bool check)
{
	uint8_t len;

	if (!get_u8(c, &len) || len == 0 || cur_left(c) < len)
		return false;
	if (check && !name_bytes_ok(c->p, len))
		return false;
	n->ptr = c->p;
	n->len = len;
	c->p += len;
	return true;
}

static inline bool get_addr(struct cur *c, cl_addr *a)
{
	uint8_t fam;
	size_t n;

	if (!get_u8(c, &fam))
		return false;
	if (fam == CL_AF_INET4)
		n = 4;
	else if (fam == CL_AF_INET6)
		n = 16;
	else
		return false;
	if (cur_left(c) < n + 2)
		return false;
	memset(a, 0, sizeof(*a));
	a->family = fam;
	for (size_t i = 0; i < n; i++)
		a->ip[i] = c->p[i];
	a->port = get_be16(c->p + n);
	c->p += n + 2;
	return true;
}

static inline bool get_tags(struct cur *c, cl_bytes *t, bool check)
{
	if (cur_left(c) < 2)
		return false;
	size_t len = get_be16(c->p);
	c->p += 2;
	if (len > CL_WIRE_TAGS_MAX || cur_left(c) < len)
		return false;
	if (check && !cl_wire_tags_valid(c->p, len, CL_WIRE_TAGS_MAX))
		return false;
	t->ptr = c->p;
	t->len = len;
	c->p += len;
	return true;
}

static inline bool get_member(struct cur *c, cl_wire_member *m, bool check)
{
	return get_u8(c, &m->status) && m->status <= CL_STATUS_LEFT &&
	       get_u32(c, &m->incarnation) && get_u64(c, &m->start_ms) &&
	       get_name(c, &m->name, check) && get_addr(c, &m->addr) &&
	       get_tags(c, &m->tags, check);
}

bool cl_wire_member_next(const cl_bytes *entries, size_t *pos,
			 cl_wire_member *m)
{
	if (*pos >= entries->len)
		return false;
	struct cur c = {entries->ptr + *pos, entries->ptr + entries->len};
	if (!get_member(&c, m, false))
		return false;
	*pos = (size_t)(c.p - entries->ptr);
	return true;
}

/* One body, which must be consumed exactly.  False means MALFORMED. */
static bool parse_body(uint8_t version, uint8_t type, const uint8_t *body,
		       size_t len, cl_wire_msg *msg)
{
	struct cur c = {body, body + len};

	msg->type = type;
	switch (type) {
	case CL_MSG_PING:
		if (!get_u32(&c, &msg->u.ping.seq) ||
		    !get_name(&c, &msg->u.ping.target, true) ||
		    !get_name(&c, &msg->u.ping.source, true) ||
		    !get_addr(&c, &msg->u.ping.source_addr) ||
		    !get_u64(&c, &msg->u.ping.checksum) ||
		    !get_u32(&c, &msg->u.ping.member_count))
			return false;
		break;
	case CL_MSG_PING_REQ:
		if (!get_u32(&c, &msg->u.ping_req.seq) ||
		    !get_name(&c, &msg->u.ping_req.target, true) ||
		    !get_addr(&c, &msg->u.ping_req.target_addr) ||
		    !get_name(&c, &msg->u.ping_req.origin, true) ||
		    !get_addr(&c, &msg->u.ping_req.origin_addr) ||
		    !get_u8(&c, &msg->u.ping_req.flags))
			return false;
		msg->u.ping_req.nack_ms = 0;
		if (version >= 2) {
			if (cur_left(&c) < 2)
				return false;
			msg->u.ping_req.nack_ms = get_be16(c.p);
			c.p += 2;
		}
		break;
	case CL_MSG_ACK:
	case CL_MSG_NACK:
		if (!get_u32(&c, &msg->u.ack.seq))
			return false;
		break;
	case CL_MSG_ALIVE: {
		cl_wire_member *m = &msg->u.alive;
		m->status = CL_STATUS_ALIVE;
		if (!get_u32(&c, &m->incarnation) ||
		    !get_u64(&c, &m->start_ms) ||
		    !get_name(&c, &m->name, true) || !get_addr(&c, &m->addr) ||
		    !get_tags(&c, &m->tags, true))
			return false;
		break;
	}
	case CL_MSG_SUSPECT:
	case CL_MSG_DEAD:
		if (!get_u32(&c, &msg->u.accuse.incarnation) ||
		    !get_name(&c, &msg->u.accuse.member, true) ||
		    !get_name(&c, &msg->u.accuse.accuser, true))
			return false;
		break;
	case CL_MSG_PUSHPULL: {
		cl_wire_member m;
		uint32_t n = 0;
		if (!get_u8(&c, &msg->u.pushpull.flags) ||
		    !get_u32(&c, &msg->u.pushpull.count))
			return false;
		msg->u.pushpull.entries.ptr = c.p;
		msg->u.pushpull.entries.len = cur_left(&c);
		/* Walk to the end of the body rather than to the claimed
		 * count: the work is bounded by bytes actually received,
		 * and a count off in either direction is one error. */
		while (c.p != c.end) {
			if (!get_member(&c, &m, true))
				return false;
			n++;
		}
		if (n != msg->u.pushpull.count)
			return false;
		break;
	}
	case CL_MSG_DIGEST:
		if (!get_u8(&c, &msg->u.digest.flags) ||
		    !get_u8(&c, &msg->u.digest.bits) ||
		    msg->u.digest.bits > CL_WIRE_DIGEST_BITS_MAX ||
		    cur_left(&c) != (size_t)8 << msg->u.digest.bits)
			return false;
		msg->u.digest.sums.ptr = c.p;
		msg->u.digest.sums.len = cur_left(&c);
		c.p = c.end;
		break;
	case CL_MSG_USER: {
		uint32_t plen;
		if (!get_u8(&c, &msg->u.user.kind) ||
		    msg->u.user.kind > CL_USER_REPLY ||
		    !get_u32(&c, &msg->u.user.id) ||
		    !get_name(&c, &msg->u.user.topic, true) ||
		    !get_name(&c, &msg->u.user.sender, true) ||
		    !get_u32(&c, &plen) || plen > CL_WIRE_USER_MAX ||
		    plen != cur_left(&c))
			return false;
		msg->u.user.payload.ptr = c.p;
		msg->u.user.payload.len = plen;
		c.p += plen;
		break;
	}
	default:
		return false;
	}
	return c.p == c.end;
}

int cl_wire_parse(const uint8_t *buf, size_t len, const char *label,
		  size_t label_len, size_t max_len, bool stream,
		  cl_wire_msg *out, size_t max_msgs)
{
	/* CL_DROP_TOO_MANY is defined against CL_WIRE_MAX_MSGS, so a larger
	 * output array does not raise the cap. */
	size_t limit = max_msgs < CL_WIRE_MAX_MSGS ? max_msgs
						   : CL_WIRE_MAX_MSGS;
	size_t pos, n = 0;

	if (len > max_len)
		return -CL_DROP_TOO_BIG;

	/* Header, field by field, so that garbage shorter than a header
	 * is still counted as "magic" rather than "truncated". */
	if ((len > 0 && buf[0] != CL_WIRE_MAGIC0) ||
	    (len > 1 && buf[1] != CL_WIRE_MAGIC1))
		return -CL_DROP_MAGIC;
	if (len < 3)
		return -CL_DROP_TRUNCATED;
	uint8_t version = buf[2];
	if (version < CL_WIRE_VERSION_MIN || version > CL_WIRE_VERSION)
		return -CL_DROP_VERSION;
	if (len < 4)
		return -CL_DROP_TRUNCATED;
	/* Header flags would announce a dialect (compression, encryption)
	 * that this version cannot read: a version mismatch in effect. */
	if (buf[3] != 0)
		return -CL_DROP_VERSION;
	if (len < 5)
		return -CL_DROP_TRUNCATED;
	size_t lbl_len = buf[4];
	if (lbl_len > CL_WIRE_LABEL_MAX || lbl_len != label_len)
		return -CL_DROP_LABEL;
	if (len - 5 < lbl_len)
		return -CL_DROP_TRUNCATED;
	if (lbl_len && memcmp(buf + 5, label, lbl_len) != 0)
		return -CL_DROP_LABEL;
	pos = 5 + lbl_len;

	while (pos < len) {
		/* Stopping at the first message over the limit bounds the
		 * work a flood of tiny messages can cost. */
		if (n == limit)
			return -CL_DROP_TOO_MANY;
		uint8_t type = buf[pos++];
		size_t blen;
		if (type < CL_MSG_PING || type > CL_MSG_DIGEST)
			return -CL_DROP_VERSION;
		if ((type == CL_MSG_PUSHPULL || type == CL_MSG_DIGEST) && !stream)
			return -CL_DROP_UNEXPECTED;
		if (type == CL_MSG_PUSHPULL || type == CL_MSG_USER) {
			if (len - pos < 4)
				return -CL_DROP_TRUNCATED;
			blen = get_be32(buf + pos);
			pos += 4;
		} else {
			if (len - pos < 2)
				return -CL_DROP_TRUNCATED;
			blen = get_be16(buf + pos);
			pos += 2;
		}
		if (len - pos < blen)
			return -CL_DROP_TRUNCATED;
		if (!parse_body(version, type, buf + pos, blen, &out[n]))
			return -CL_DROP_MALFORMED;
		pos += blen;
		n++;
	}
	return (int)n;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

/*
 * Encoders refuse, like a full buffer, anything the format cannot carry
 * (empty or over-long names, unknown address families, oversized tags, a
 * wrong message type), because one such message would get the whole packet
 * dropped by every receiver.  Name bytes and tag structure are checked once
 * where they enter the process (config, or cl_wire_parse()), not on every
 * send.
 *
 * w->mark == 0 means no PUSHPULL is open: an open one never starts at 0,
 * where the header is.
 */

static inline size_t addr_size(const cl_addr *a)
{
	return a->family == CL_AF_INET6 ? 1 + 16 + 2 : 1 + 4 + 2;
}

static inline bool addr_ok(const cl_addr *a)
{
	return a && (a->family == CL_AF_INET4 || a->family == CL_AF_INET6);
}

static inline bool name_ok(cl_bytes n)
{
	return n.len >= 1 && n.len <= CL_WIRE_NAME_MAX;
}

static inline uint8_t *put_name(uint8_t *p, cl_bytes n)
{
	*p++ = (uint8_t)n.len;
	memcpy(p, n.ptr, n.len);
	return p + n.len;
}

static inline uint8_t *put_addr(uint8_t *p, const cl_addr *a)
{
	size_t n = a->family == CL_AF_INET6 ? 16 : 4;

	*p++ = a->family;
	for (size_t i = 0; i < n; i++)
		p[i] = a->ip[i];
	return put_be16(p + n, a->port);
}

static inline uint8_t *put_tags(uint8_t *p, cl_bytes t)
{
	p = put_be16(p, (uint16_t)t.len);
	if (t.len)
		memcpy(p, t.ptr, t.len);
	return p + t.len;
}

/* Reserves a message of body length blen: returns where the body goes, or
 * NULL (buffer untouched) if it does not fit. */
static inline uint8_t *msg_start(cl_wbuf *w, uint8_t type, size_t blen)
{
	if (w->mark != 0 || blen > UINT16_MAX || w->cap - w->len < 3 + blen)
		return NULL;
	uint8_t *p = w->buf + w->len;
	*p++ = type;
	p = put_be16(p, (uint16_t)blen);
	w->len += 3 + blen;
	return p;
}

bool cl_wire_begin(cl_wbuf *w, uint8_t *buf, size_t cap, const char *label,
		   size_t label_len)
{
	if (label_len > CL_WIRE_LABEL_MAX || cap < 5 + label_len)
		return false;
	w->buf = buf;
	w->cap = cap;
	w->mark = 0;
	buf[0] = CL_WIRE_MAGIC0;
	buf[1] = CL_WIRE_MAGIC1;
	buf[2] = CL_WIRE_VERSION;
	buf[3] = 0;
	buf[4] = (uint8_t)label_len;
	if (label_len)
		memcpy(buf + 5, label, label_len);
	w->len = 5 + label_len;
	return true;
}

bool cl_wire_put_ping(cl_wbuf *w, uint32_t seq, cl_bytes target,
		      cl_bytes source, const cl_addr *source_addr,
		      uint64_t checksum, uint32_t member_count)
{
	if (!name_ok(target) || !name_ok(source) || !addr_ok(source_addr))
		return false;
	size_t blen = 4 + 1 + target.len + 1 + source.len +
		      addr_size(source_addr) + 8 + 4;
	uint8_t *p = msg_start(w, CL_MSG_PING, blen);
	if (!p)
		return false;
	p = put_be32(p, seq);
	p = put_name(p, target);
	p = put_name(p, source);
	p = put_addr(p, source_addr);
	p = put_be64(p, checksum);
	put_be32(p, member_count);
	return true;
}

bool cl_wire_put_ping_req(cl_wbuf *w, uint32_t seq, cl_bytes target,
			  const cl_addr *target_addr, cl_bytes origin,
			  const cl_addr *origin_addr, uint8_t flags,
			  uint16_t nack_ms)
{
	if (!name_ok(target) || !name_ok(origin) || !addr_ok(target_addr) ||
	    !addr_ok(origin_addr))
		return false;
	size_t blen = 4 + 1 + target.len + addr_size(target_addr) + 1 +
		      origin.len + addr_size(origin_addr) + 1 + 2;
	uint8_t *p = msg_start(w, CL_MSG_PING_REQ, blen);
	if (!p)
		return false;
	p = put_be32(p, seq);
	p = put_name(p, target);
	p = put_addr(p, target_addr);
	p = put_name(p, origin);
	p = put_addr(p, origin_addr);
	*p++ = flags;
	put_be16(p, nack_ms);
	return true;
}

bool cl_wire_put_ack(cl_wbuf *w, uint8_t type, uint32_t seq)
{
	if (type != CL_MSG_ACK && type != CL_MSG_NACK)
		return false;
	uint8_t *p = msg_start(w, type, 4);
	if (!p)
		return false;
	put_be32(p, seq);
	return true;
}

size_t cl_wire_alive_size(size_t name_len, const cl_addr *addr,
			  size_t tags_len)
{
	return 3 + 4 + 8 + 1 + name_len + addr_size(addr) + 2 + tags_len;
}

bool cl_wire_put_alive(cl_wbuf *w, uint32_t incarnation, uint64_t start_ms,
		       cl_bytes name, const cl_addr *addr, cl_bytes tags)
{
	if (!name_ok(name) || !addr_ok(addr) || tags.len > CL_WIRE_TAGS_MAX)
		return false;
	size_t blen = cl_wire_alive_size(name.len, addr, tags.len) - 3;
	uint8_t *p = msg_start(w, CL_MSG_ALIVE, blen);
	if (!p)
		return false;
	p = put_be32(p, incarnation);
	p = put_be64(p, start_ms);
	p = put_name(p, name);
	p = put_addr(p, addr);
	put_tags(p, tags);
	return true;
}

bool cl_wire_put_accuse(cl_wbuf *w, uint8_t type, uint32_t incarnation,
			cl_bytes member, cl_bytes accuser)
{
	if ((type != CL_MSG_SUSPECT && type != CL_MSG_DEAD) ||
	    !name_ok(member) || !name_ok(accuser))
		return false;
	size_t blen = 4 + 1 + member.len + 1 + accuser.len;
	uint8_t *p = msg_start(w, type, blen);
	if (!p)
		return false;
	p = put_be32(p, incarnation);
	p = put_name(p, member);
	put_name(p, accuser);
	return true;
}

/* PUSHPULL header: type, u32 body length, flags, u32 count. */
#define PP_HDR 10
#define PP_BODY_OFF 5
#define PP_COUNT_OFF 6

bool cl_wire_put_digest(cl_wbuf *w, uint8_t flags, uint8_t bits,
			const uint64_t *sums)
{
	if (bits > CL_WIRE_DIGEST_BITS_MAX)
		return false;
	size_t n = (size_t)1 << bits;
	uint8_t *p = msg_start(w, CL_MSG_DIGEST, 2 + 8 * n);
	if (!p)
		return false;
	*p++ = flags;
	*p++ = bits;
	for (size_t i = 0; i < n; i++)
		p = put_be64(p, sums[i]);
	return true;
}

uint64_t cl_wire_digest_sum(const cl_wire_msg *msg, size_t i)
{
	if (i >= (size_t)1 << msg->u.digest.bits)
		return 0;
	return get_be64(msg->u.digest.sums.ptr + 8 * i);
}

bool cl_wire_pushpull_begin(cl_wbuf *w, uint8_t flags)
{
	if (w->mark != 0 || w->cap - w->len < PP_HDR)
		return false;
	uint8_t *p = w->buf + w->len;
	*p++ = CL_MSG_PUSHPULL;
	p = put_be32(p, 0);
	*p++ = flags;
	put_be32(p, 0);
	w->mark = w->len;
	w->len += PP_HDR;
	return true;
}

bool cl_wire_pushpull_add(cl_wbuf *w, const cl_wire_member *m)
{
	if (w->mark == 0 || m->status > CL_STATUS_LEFT || !name_ok(m->name) ||
	    !addr_ok(&m->addr) || m->tags.len > CL_WIRE_TAGS_MAX)
		return false;
	size_t size = 1 + 4 + 8 + 1 + m->name.len + addr_size(&m->addr) + 2 +
		      m->tags.len;
	uint8_t *cnt = w->buf + w->mark + PP_COUNT_OFF;
	uint32_t count = get_be32(cnt);
	size_t body = w->len - (w->mark + PP_BODY_OFF);
	if (w->cap - w->len < size || count == UINT32_MAX ||
	    size > UINT32_MAX - body)
		return false;
	uint8_t *p = w->buf + w->len;
	*p++ = m->status;
	p = put_be32(p, m->incarnation);
	p = put_be64(p, m->start_ms);
	p = put_name(p, m->name);
	p = put_addr(p, &m->addr);
	put_tags(p, m->tags);
	w->len += size;
	/* The running count lives in the buffer, so _end needs no walk. */
	put_be32(cnt, count + 1);
	return true;
}

void cl_wire_pushpull_flag(cl_wbuf *w, uint8_t flag)
{
	if (w->mark != 0)
		w->buf[w->mark + 5] |= flag; /* type, body length, flags */
}

void cl_wire_pushpull_end(cl_wbuf *w)
{
	if (w->mark == 0)
		return;
	size_t body = w->len - (w->mark + PP_BODY_OFF);
	put_be32(w->buf + w->mark + 1, (uint32_t)body);
	w->mark = 0;
}

size_t cl_wire_user_size(size_t topic_len, size_t sender_len,
			 size_t payload_len)
{
	return 5 + 1 + 4 + 1 + topic_len + 1 + sender_len + 4 + payload_len;
}

bool cl_wire_put_user(cl_wbuf *w, uint8_t kind, uint32_t id, cl_bytes topic,
		      cl_bytes sender, cl_bytes payload)
{
	if (kind > CL_USER_REPLY || !name_ok(topic) || !name_ok(sender) ||
	    payload.len > CL_WIRE_USER_MAX || w->mark != 0)
		return false;
	size_t blen = 1 + 4 + 1 + topic.len + 1 + sender.len + 4 + payload.len;
	if (w->cap - w->len < 5 + blen)
		return false;
	uint8_t *p = w->buf + w->len;
	*p++ = CL_MSG_USER;
	p = put_be32(p, (uint32_t)blen);
	*p++ = kind;
	p = put_be32(p, id);
	p = put_name(p, topic);
	p = put_name(p, sender);
	p = put_be32(p, (uint32_t)payload.len);
	if (payload.len)
		memcpy(p, payload.ptr, payload.len);
	w->len += 5 + blen;
	return true;
}
