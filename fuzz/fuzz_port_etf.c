/*
 * fuzz_port_etf.c — the Erlang port's input: cl_port_decode() on the
 * input as one frame, then the input as a {packet,4} stream through
 * cl_port_frame_next(), each frame decoded.
 *
 * Beyond "does not crash", it checks what port.c relies on, aborting on
 * any violation:
 *   - a refusal has a non-empty message of printable ASCII (it goes into
 *     a binary the BEAM logs) and leaves no field allocated; its Ref, when
 *     set, lies inside the frame and is a term on its own;
 *   - a success holds only in-range values (names 1..255 bytes without
 *     control characters, counts, numbers and sizes within their bounds),
 *     and its Ref is a whole term inside the frame;
 *   - the framer consumes something or asks for more, never a frame past
 *     the buffer or the limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "agent/port_etf.h"

static void check_name(const char *s)
{
	size_t n = strlen(s);
	REQUIRE(n >= 1 && n <= CL_REQ_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		REQUIRE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_ref(const cl_port_req *r, const uint8_t *f, size_t len)
{
	if (!r->ref)
		return;
	REQUIRE(r->ref > f && r->ref + r->ref_len <= f + len && r->ref_len);
	uint8_t *t = malloc(r->ref_len + 1);
	REQUIRE(t);
	t[0] = 131;
	memcpy(t + 1, r->ref, r->ref_len);
	REQUIRE(cl_etf_valid(t, r->ref_len + 1));
	free(t);
}

static void one(const uint8_t *f, size_t len)
{
	cl_port_req r;
	char why[320] = "";
	if (cl_port_decode(f, len, &r, why, sizeof why) != 0) {
		REQUIRE(why[0]);
		for (const char *p = why; *p; p++)
			REQUIRE(*p >= 0x20 && *p < 0x7f);
		REQUIRE(!r.key && !r.ring && !r.topic && !r.data && !r.names &&
			!r.keytext);
		check_ref(&r, f, len);
		return;
	}
	REQUIRE(cl_etf_valid(f, len));
	REQUIRE(r.ref);
	check_ref(&r, f, len);
	switch (r.cmd) {
	case CL_PCMD_WHOIS:
		REQUIRE(r.n >= 1 && r.n <= CL_REQ_OWNERS_MAX);
		/* fall through */
	case CL_PCMD_MINE:
		REQUIRE(r.key && r.key_len <= CL_REQ_KEY_MAX && r.ring);
		if (r.ring[0])
			check_name(r.ring);
		break;
	case CL_PCMD_MULTICALL:
		REQUIRE(r.timeout_ms >= 1 && r.timeout_ms <= CL_REQ_TIMEOUT_MAX_MS);
		/* fall through */
	case CL_PCMD_MULTICAST:
		check_name(r.topic);
		REQUIRE(r.data && r.data_len <= CL_REQ_BODY_MAX);
		REQUIRE(r.n_names <= CL_REQ_MEMBERS_MAX);
		for (size_t i = 0; i < r.n_names; i++)
			check_name(r.names[i]);
		break;
	case CL_PCMD_ANSWER:
		check_name(r.topic);
		REQUIRE(strncmp(r.topic, "cloister.", 9) != 0);
		break;
	case CL_PCMD_REPLY:
		REQUIRE(r.id >= 1 && r.id <= CL_REQ_ID_MAX && r.data);
		break;
	case CL_PCMD_JOIN:
		REQUIRE(r.n_names >= 1 && r.n_names <= CL_REQ_ADDRS_MAX);
		for (size_t i = 0; i < r.n_names; i++)
			REQUIRE(strlen(r.names[i]) >= 1 &&
				strlen(r.names[i]) <= CL_REQ_ADDR_MAX);
		break;
	case CL_PCMD_KEYS:
		REQUIRE(!r.keys_op || (r.keytext && strlen(r.keytext) <= CL_REQ_KEYTEXT_MAX));
		break;
	default:
		break;
	}
	cl_port_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	cl_port_framer f = {0};
	size_t at = 0;
	while (at < size) {
		size_t used, flen;
		const unsigned char *frame;
		cl_frame_result fr = cl_port_frame_next(&f, data + at, size - at,
							&used, &frame, &flen);
		REQUIRE(used <= size - at);
		if (fr == CL_FRAME_NEED)
			break;
		REQUIRE(used > 0);
		if (fr == CL_FRAME_OK) {
			REQUIRE(frame == data + at + 4 && flen + 4 == used &&
				flen <= CL_PORT_FRAME_MAX);
			one(frame, flen);
		}
		at += used;
	}
	return 0;
}
