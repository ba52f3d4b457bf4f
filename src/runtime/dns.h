/*
 * dns.h — a parser for DNS response messages (RFC 1035 §4), enough to read
 * the A, AAAA and SRV answers res_nquery() returns.
 *
 * It walks the header, the question section and the answer section,
 * following name compression pointers; authority and additional sections
 * are not read.  Every length is checked against the message: a name is
 * at most 255 wire bytes with labels of at most 63, a pointer must point
 * back before the name (segment) it continues, into the message past the
 * header, and at most 16 pointers are followed per name, so no input can
 * loop or read out of bounds.  Pure: no I/O, no allocation.
 */
#ifndef CLOISTER_RUNTIME_DNS_H
#define CLOISTER_RUNTIME_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

/* A DNS name in text form, without a trailing dot (255 wire bytes are 253
 * characters of text). */
#define CL_DNS_NAME_MAX 253
/* Room for such a name with an optional trailing dot and the NUL. */
#define CL_DNS_NAME_BUF (CL_DNS_NAME_MAX + 2)

/* Bounds of the wire format. */
#define CL_DNS_WIRE_NAME_MAX 255
#define CL_DNS_LABEL_MAX 63
#define CL_DNS_MAX_JUMPS 16

enum {
	CL_DNS_T_A = 1,
	CL_DNS_T_CNAME = 5,
	CL_DNS_T_AAAA = 28,
	CL_DNS_T_SRV = 33,
	CL_DNS_C_IN = 1,
};

typedef struct cl_dns_record {
	uint16_t type; /* CL_DNS_T_A, _AAAA or _SRV */
	uint32_t ttl;  /* seconds; values with the top bit set read as 0 */
	/* A/AAAA: the address (port 0). */
	cl_addr addr;
	/* SRV (RFC 2782). */
	uint16_t priority, weight, port;
	char target[CL_DNS_NAME_BUF]; /* "host.example", no trailing dot */
} cl_dns_record;

/*
 * Parses the response msg[0..len) and stores the class-IN answers of type
 * qtype (CL_DNS_T_A, _AAAA or _SRV) into out[0..max), setting *n to how
 * many were stored.  Answers beyond max are still checked but dropped.
 * Other answer types (a CNAME chain, say) are checked and skipped.  An SRV
 * answer whose target is "." (RFC 2782: no service) or is not a host name
 * (bytes other than letters, digits, '-' and '_') is skipped: it could not
 * be resolved anyway.
 *
 * Returns 0; CLOISTER_EPROTO when the message is malformed (truncated, a
 * count larger than its data, a bad pointer or label, an A rdata that is
 * not 4 bytes or an AAAA that is not 16, an SRV or CNAME rdata whose name
 * does not end exactly at its rdlength, not a response); CLOISTER_ENOENT
 * when the response says NXDOMAIN; CLOISTER_EIO for any other error rcode;
 * CLOISTER_EINVAL for a qtype it does not read or NULL arguments.  On
 * error *n is 0.
 */
int cl_dns_parse_answer(const uint8_t *msg, size_t len, uint16_t qtype,
			cl_dns_record *out, size_t max, size_t *n);

#endif
