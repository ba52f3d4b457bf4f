/*
 * fuzz_keyring.c — cl_keyring_peek(), cl_keyring_open(), the stream chunk
 * functions and cl_key_parse() on arbitrary bytes.
 *
 * The ring holds two fixed keys, 0x00..0x1f (primary) and 0x20..0x3f, so
 * the seed corpus can carry packets that really open.  Beyond "does not
 * crash", it aborts on any violation of:
 *   - peek and open classify by shape alone: shorter than
 *     CL_KEYRING_OVERHEAD, not version 2 or of an unknown kind is
 *     CLOISTER_EPROTO for both; anything else peeks to the header's fields
 *     and either opens to exactly len - CL_KEYRING_OVERHEAD bytes (with
 *     the same fields) or is CLOISTER_EIO;
 *   - whatever opens, reseals under the same header and opens again to the
 *     same bytes and fields, and one flipped bit (position picked by the
 *     input) makes it fail: malformed in the version byte or when the kind
 *     becomes unknown, forged anywhere else;
 *   - the input as plaintext survives seal + open under each key, under a
 *     header taken from the input, and so does a stream chunk of it, which
 *     opens under no other index;
 *   - the input as a chunk opens to len - 16 bytes or is CLOISTER_EIO
 *     (CLOISTER_EPROTO when shorter than a tag);
 *   - a too-small output buffer is CLOISTER_ENOSPC, never a write past it;
 *   - cl_key_parse() accepts only a canonical text form: the trimmed input
 *     is the key's 64 hex digits (either case) or exactly its base64, and
 *     a rejected parse leaves the key zeroed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "cloister.h"
#include "runtime/keyring.h"

static cl_keyring *ring, *second;

static void setup(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	for (int i = 0; i < CL_KEY_BYTES; i++) {
		k1[i] = (uint8_t)i;
		k2[i] = (uint8_t)(0x20 + i);
	}
	ring = cl_keyring_new();
	second = cl_keyring_new();
	REQUIRE(ring && second);
	REQUIRE(cl_keyring_install(ring, k1) == 0);
	REQUIRE(cl_keyring_install(ring, k2) == 0);
	/* The same keys, sealing with the other one. */
	REQUIRE(cl_keyring_install(second, k1) == 0);
	REQUIRE(cl_keyring_install(second, k2) == 0);
	REQUIRE(cl_keyring_use(second, k2) == 0);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool shape_ok(const uint8_t *data, size_t size)
{
	return size >= CL_KEYRING_OVERHEAD && data[0] == CL_KEYRING_VERSION &&
	       (data[1] == CL_SEAL_DATAGRAM || data[1] == CL_SEAL_STREAM);
}

static uint64_t u64_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool same_info(const cl_seal_info *a, const cl_seal_info *b)
{
	return a->kind == b->kind && a->sender == b->sender &&
	       a->time_us == b->time_us && a->recipient == b->recipient;
}

static void check_open(const uint8_t *data, size_t size, uint8_t *out,
		       uint8_t *buf)
{
	cl_seal_info peeked, opened;
	int prc = cl_keyring_peek(data, size, &peeked);
	int rc = cl_keyring_open(ring, data, size, out, size, &opened);
	if (!shape_ok(data, size)) {
		REQUIRE(prc == CLOISTER_EPROTO && rc == CLOISTER_EPROTO);
		return;
	}
	REQUIRE(prc == 0);
	REQUIRE(peeked.kind == data[1] && peeked.sender == u64_at(data + 2) &&
		peeked.time_us == u64_at(data + 10) &&
		peeked.recipient == u64_at(data + 26));
	size_t mlen = size - CL_KEYRING_OVERHEAD;
	REQUIRE(rc == CLOISTER_EIO || rc == (int)mlen);
	if (mlen > 0)
		REQUIRE(cl_keyring_open(ring, data, size, out, mlen - 1, NULL) ==
			CLOISTER_ENOSPC);
	if (rc < 0)
		return;
	REQUIRE(same_info(&peeked, &opened));

	/* Opened: reseal under each ring, same header, and open again. */
	const cl_keyring *rings[2] = {ring, second};
	for (int r = 0; r < 2; r++) {
		int n = cl_keyring_seal(rings[r], &opened, out, mlen, buf, size);
		REQUIRE(n == (int)size);
		cl_seal_info again;
		REQUIRE(cl_keyring_open(ring, buf, size, buf + size, mlen,
					&again) == (int)mlen);
		REQUIRE(memcmp(buf + size, out, mlen) == 0);
		REQUIRE(same_info(&again, &opened));
	}
	size_t at = data[size - 1] % size;
	memcpy(buf, data, size);
	buf[at] ^= (uint8_t)(1u << (data[size / 2] & 7));
	rc = cl_keyring_open(ring, buf, size, buf + size, mlen, NULL);
	REQUIRE(rc == (shape_ok(buf, size) ? CLOISTER_EIO : CLOISTER_EPROTO));
}

static void check_round_trip(const uint8_t *data, size_t size, uint8_t *buf)
{
	const cl_keyring *rings[2] = {ring, second};
	size_t sealed = size + CL_KEYRING_OVERHEAD;
	cl_seal_info info = {.kind = size > 0 ? data[0] & 1 : 0,
			     .sender = size >= 8 ? u64_at(data) : size,
			     .time_us = size >= 16 ? u64_at(data + 8) : 0,
			     .recipient = size >= 24 ? u64_at(data + 16) : 0};
	for (int r = 0; r < 2; r++) {
		REQUIRE(cl_keyring_seal(rings[r], &info, data, size, buf,
					sealed) == (int)sealed);
		REQUIRE(buf[0] == CL_KEYRING_VERSION);
		cl_seal_info got;
		REQUIRE(cl_keyring_open(rings[1 - r], buf, sealed, buf + sealed,
					size, &got) == (int)size);
		REQUIRE(size == 0 || memcmp(buf + sealed, data, size) == 0);
		REQUIRE(same_info(&got, &info));
	}
	/* The input as a chunk of that frame: opens under its index only. */
	uint8_t head[CL_KEYRING_HEADER];
	memcpy(head, buf, sizeof head);
	uint32_t index = size > 0 ? 1u + data[size - 1] : 1;
	size_t clen = size + CL_KEYRING_TAG_BYTES;
	REQUIRE(cl_keyring_seal_chunk(second, head, index, data, size, buf,
				      clen) == (int)clen);
	REQUIRE(cl_keyring_open_chunk(ring, head, index, buf, clen, buf + clen,
				      size) == (int)size);
	REQUIRE(size == 0 || memcmp(buf + clen, data, size) == 0);
	REQUIRE(cl_keyring_open_chunk(ring, head, index + 1, buf, clen,
				      buf + clen, size) == CLOISTER_EIO);
}

/* The input as a chunk of a fixed frame: forged (or too short), never
 * anything else, since nobody sealed it. */
static void check_chunk(const uint8_t *data, size_t size, uint8_t *out)
{
	static const uint8_t head[CL_KEYRING_HEADER] = {2, 1};
	int rc = cl_keyring_open_chunk(ring, head, 1, data, size, out, size);
	if (size < CL_KEYRING_TAG_BYTES)
		REQUIRE(rc == CLOISTER_EPROTO);
	else
		REQUIRE(rc == CLOISTER_EIO || rc == (int)(size - 16));
}

static void check_parse(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	uint8_t key[CL_KEY_BYTES], again[CL_KEY_BYTES];
	char b64[CL_KEY_BASE64_LEN + 1];
	char hex[CL_KEY_HEX_LEN + 1];
	static const char hexdigits[] = "0123456789abcdef";

	REQUIRE(text);
	memcpy(text, data, size);
	text[size] = '\0';
	memset(key, 0x5a, sizeof key);
	int rc = cl_key_parse(text, key);
	if (rc != 0) {
		REQUIRE(rc == CLOISTER_EINVAL);
		for (int i = 0; i < CL_KEY_BYTES; i++)
			REQUIRE(key[i] == 0);
		free(text);
		return;
	}
	REQUIRE(rc == 0);

	const char *p = text;
	size_t n = strlen(text);
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	cl_key_format_base64(key, b64);
	for (int i = 0; i < CL_KEY_BYTES; i++) {
		hex[2 * i] = hexdigits[key[i] >> 4];
		hex[2 * i + 1] = hexdigits[key[i] & 15];
	}
	hex[CL_KEY_HEX_LEN] = '\0';
	if (n == CL_KEY_HEX_LEN)
		REQUIRE(strncasecmp(p, hex, n) == 0);
	else
		REQUIRE(n == CL_KEY_BASE64_LEN && memcmp(p, b64, n) == 0);

	REQUIRE(cl_key_parse(b64, again) == 0);
	REQUIRE(memcmp(key, again, CL_KEY_BYTES) == 0);
	REQUIRE(cl_key_parse(hex, again) == 0);
	REQUIRE(memcmp(key, again, CL_KEY_BYTES) == 0);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ring)
		setup();
	/* Room for: the opened text, then a resealed copy and its opening
	 * (open's own checks) or one sealed input and its opening. */
	uint8_t *out = malloc(size + 1);
	uint8_t *buf = malloc(2 * size + 2 * CL_KEYRING_OVERHEAD + 1);
	/* (A chunk needs less: size + 16, twice.) */
	REQUIRE(out && buf);

	check_open(data, size, out, buf);
	check_round_trip(data, size, buf);
	check_chunk(data, size, out);
	check_parse(data, size);

	free(out);
	free(buf);
	return 0;
}
