/*
 * fuzz_dns.c — cl_dns_parse_answer() on arbitrary bytes as a DNS response,
 * asked for A, AAAA and SRV in turn.
 *
 * Beyond "does not crash" (ASan sees every read, since the input buffer is
 * exactly the message), it checks what discovery relies on, aborting on
 * any violation:
 *   - the outcome is one of the documented codes, and an error stores
 *     nothing;
 *   - every stored record has the type asked for: A holds an IPv4
 *     address, AAAA an IPv6 one, SRV a non-empty host-name target of at
 *     most 253 characters;
 *   - the outcome does not depend on how many records the caller has room
 *     for, and a smaller buffer gets a prefix of a larger one's records;
 *   - whether the message is well formed does not depend on the type
 *     asked for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cloister.h"
#include "runtime/dns.h"

#define MAXREC 16
#define FEW 2

static cl_dns_record many[MAXREC], few[FEW];

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool record_eq(const cl_dns_record *a, const cl_dns_record *b)
{
	return a->type == b->type && a->ttl == b->ttl &&
	       cl_addr_equal(&a->addr, &b->addr) &&
	       a->priority == b->priority && a->weight == b->weight &&
	       a->port == b->port && !strcmp(a->target, b->target);
}

static int check_type(const uint8_t *msg, size_t size, uint16_t qtype)
{
	size_t n = 99, nf = 99, n0 = 99;
	int rc = cl_dns_parse_answer(msg, size, qtype, many, MAXREC, &n);

	REQUIRE(rc == 0 || rc == CLOISTER_EPROTO || rc == CLOISTER_ENOENT ||
		rc == CLOISTER_EIO);
	REQUIRE(n <= MAXREC);
	if (rc != 0)
		REQUIRE(n == 0);
	for (size_t i = 0; i < n; i++) {
		const cl_dns_record *r = &many[i];
		REQUIRE(r->type == qtype);
		REQUIRE(r->ttl <= 0x7fffffffu);
		switch (qtype) {
		case CL_DNS_T_A:
			REQUIRE(r->addr.family == CL_AF_INET4);
			break;
		case CL_DNS_T_AAAA:
			REQUIRE(r->addr.family == CL_AF_INET6);
			break;
		case CL_DNS_T_SRV: {
			size_t tl = strnlen(r->target, sizeof r->target);
			REQUIRE(tl >= 1 && tl <= CL_DNS_NAME_MAX);
			REQUIRE(r->target[0] != '.' &&
				r->target[tl - 1] != '.');
			for (size_t k = 0; k < tl; k++)
				REQUIRE(host_char(r->target[k]));
			REQUIRE(r->addr.family == CL_AF_NONE);
			break;
		}
		}
	}

	REQUIRE(cl_dns_parse_answer(msg, size, qtype, few, FEW, &nf) == rc);
	REQUIRE(nf == (n < FEW ? n : FEW));
	for (size_t i = 0; i < nf; i++)
		REQUIRE(record_eq(&few[i], &many[i]));
	REQUIRE(cl_dns_parse_answer(msg, size, qtype, NULL, 0, &n0) == rc);
	REQUIRE(n0 == 0);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes: the replay driver's buffer
	 * may be larger than the input. */
	uint8_t *msg = malloc(size ? size : 1);
	REQUIRE(msg != NULL);
	if (size)
		memcpy(msg, data, size);

	int a = check_type(msg, size, CL_DNS_T_A);
	int aaaa = check_type(msg, size, CL_DNS_T_AAAA);
	int srv = check_type(msg, size, CL_DNS_T_SRV);
	REQUIRE(a == aaaa && aaaa == srv);
	free(msg);
	return 0;
}
