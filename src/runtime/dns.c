/* dns.c — DNS response parsing (see dns.h). */
#include "dns.h"

#include <stdbool.h>
#include <string.h>

#include "cloister.h"

#define HEADER_LEN 12
/* type, class, ttl, rdlength */
#define RR_FIXED_LEN 10
#define RCODE_NXDOMAIN 3

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool host_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Reads the name at msg[off].  *end becomes the offset just past the name
 * as it sits at off (past the first pointer, if any).  With text, the name
 * is also written there in dotted form (at most CL_DNS_NAME_MAX characters,
 * "" for the root) and *hostlike tells whether every label byte was a host
 * name character.
 *
 * Loops are impossible, not merely bounded: each pointer must point before
 * the start of the run of labels it ends, so the segment starts strictly
 * decrease.  The jump limit is a second bound for the budget of work.
 */
static int read_name(const uint8_t *msg, size_t len, size_t off, size_t *end,
		     char *text, bool *hostlike)
{
	size_t pos = off, seg_start = off, wire = 0, tlen = 0;
	unsigned jumps = 0;
	bool jumped = false;

	if (hostlike)
		*hostlike = true;
	for (;;) {
		if (pos >= len)
			return CLOISTER_EPROTO;
		uint8_t c = msg[pos];
		if ((c & 0xC0) == 0xC0) {
			if (pos + 1 >= len)
				return CLOISTER_EPROTO;
			size_t target = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
			if (target < HEADER_LEN || target >= seg_start ||
			    ++jumps > CL_DNS_MAX_JUMPS)
				return CLOISTER_EPROTO;
			if (!jumped) {
				*end = pos + 2;
				jumped = true;
			}
			pos = seg_start = target;
			continue;
		}
		if (c & 0xC0) /* 0x40 and 0x80: extended and reserved types */
			return CLOISTER_EPROTO;
		if (c == 0) {
			if (wire + 1 > CL_DNS_WIRE_NAME_MAX)
				return CLOISTER_EPROTO;
			if (!jumped)
				*end = pos + 1;
			if (text)
				text[tlen] = '\0';
			return 0;
		}
		/* c <= 63 here: the two top bits are clear. */
		if (c > len - pos - 1)
			return CLOISTER_EPROTO;
		wire += 1u + c;
		/* The terminating zero still has to fit. */
		if (wire + 1 > CL_DNS_WIRE_NAME_MAX)
			return CLOISTER_EPROTO;
		if (text) {
			/* wire <= 254 keeps tlen + c + 1 <= 253 + 1. */
			if (tlen)
				text[tlen++] = '.';
			for (size_t i = 0; i < c; i++) {
				uint8_t b = msg[pos + 1 + i];
				if (!host_byte(b))
					*hostlike = false;
				text[tlen++] = (char)b;
			}
		}
		pos += 1u + c;
	}
}

int cl_dns_parse_answer(const uint8_t *msg, size_t len, uint16_t qtype,
			cl_dns_record *out, size_t max, size_t *n)
{
	size_t stored = 0, pos;
	int rc;

	if (!n)
		return CLOISTER_EINVAL;
	*n = 0;
	if ((!msg && len) || (!out && max) ||
	    (qtype != CL_DNS_T_A && qtype != CL_DNS_T_AAAA &&
	     qtype != CL_DNS_T_SRV))
		return CLOISTER_EINVAL;
	if (len < HEADER_LEN)
		return CLOISTER_EPROTO;
	if (!(msg[2] & 0x80)) /* QR: a query, not a response */
		return CLOISTER_EPROTO;
	switch (msg[3] & 0x0F) {
	case 0:
		break;
	case RCODE_NXDOMAIN:
		return CLOISTER_ENOENT;
	default:
		return CLOISTER_EIO;
	}
	unsigned qdcount = get16(msg + 4), ancount = get16(msg + 6);

	/* Each question takes at least 5 bytes and each answer at least 11,
	 * so the loops below end by running out of message long before
	 * 65535 iterations; the checks make that explicit. */
	pos = HEADER_LEN;
	for (unsigned i = 0; i < qdcount; i++) {
		rc = read_name(msg, len, pos, &pos, NULL, NULL);
		if (rc)
			return rc;
		if (len - pos < 4)
			return CLOISTER_EPROTO;
		pos += 4;
	}
	for (unsigned i = 0; i < ancount; i++) {
		rc = read_name(msg, len, pos, &pos, NULL, NULL);
		if (rc)
			return rc;
		if (len - pos < RR_FIXED_LEN)
			return CLOISTER_EPROTO;
		uint16_t type = get16(msg + pos), cls = get16(msg + pos + 2);
		uint32_t ttl = get32(msg + pos + 4);
		size_t rdlen = get16(msg + pos + 8);
		pos += RR_FIXED_LEN;
		if (rdlen > len - pos)
			return CLOISTER_EPROTO;
		const uint8_t *rd = msg + pos;
		size_t rd_end = pos + rdlen;
		cl_dns_record r;
		bool keep = false;

		memset(&r, 0, sizeof r);
		r.type = type;
		r.ttl = ttl & 0x80000000u ? 0 : ttl;
		if (cls == CL_DNS_C_IN && type == CL_DNS_T_A) {
			if (rdlen != 4)
				return CLOISTER_EPROTO;
			r.addr.family = CL_AF_INET4;
			memcpy(r.addr.ip, rd, 4);
			keep = true;
		} else if (cls == CL_DNS_C_IN && type == CL_DNS_T_AAAA) {
			if (rdlen != 16)
				return CLOISTER_EPROTO;
			r.addr.family = CL_AF_INET6;
			memcpy(r.addr.ip, rd, 16);
			keep = true;
		} else if (cls == CL_DNS_C_IN && type == CL_DNS_T_SRV) {
			size_t name_end;
			bool hostlike;
			/* 6 fixed bytes and a name of at least one byte. */
			if (rdlen < 7)
				return CLOISTER_EPROTO;
			r.priority = get16(rd);
			r.weight = get16(rd + 2);
			r.port = get16(rd + 4);
			/* The name may not run past the rdata, so parse it
			 * within the message cut at rd_end. */
			rc = read_name(msg, rd_end, pos + 6, &name_end,
				       r.target, &hostlike);
			if (rc)
				return rc;
			if (name_end != rd_end)
				return CLOISTER_EPROTO;
			keep = hostlike && r.target[0] != '\0';
		} else if (cls == CL_DNS_C_IN && type == CL_DNS_T_CNAME) {
			size_t name_end;
			rc = read_name(msg, rd_end, pos, &name_end, NULL, NULL);
			if (rc)
				return rc;
			if (name_end != rd_end)
				return CLOISTER_EPROTO;
		}
		if (keep && type == qtype && stored < max)
			out[stored++] = r;
		pos = rd_end;
	}
	*n = stored;
	return 0;
}
