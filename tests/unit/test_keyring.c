/*
 * test_keyring.c — keyring management, sealing (round trips, tampering,
 * truncation, wrong keys, rotation, the version 2 header and its binding,
 * version 1 refused, stream chunks), key text and key files, passphrase
 * derivation against a pinned vector, fingerprints against BLAKE2b values
 * computed outside libsodium (Python's hashlib).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "cloister.h"
#include "runtime/keyring.h"

#define BIG 65536

static uint8_t pt[BIG], sealed[BIG + CL_KEYRING_OVERHEAD], opened[BIG];
/* The header every test packet is sealed under (keyring.h). */
static const cl_seal_info INFO = {.kind = CL_SEAL_DATAGRAM,
				  .sender = 0x1122334455667788ull,
				  .time_us = 1764000000000000ull,
				  .recipient = 0x99aabbccddeeff00ull};

static void key_fill(uint8_t key[CL_KEY_BYTES], uint8_t first)
{
	for (int i = 0; i < CL_KEY_BYTES; i++)
		key[i] = (uint8_t)(first + i);
}

static cl_keyring *ring_with(const uint8_t key[CL_KEY_BYTES])
{
	cl_keyring *kr = cl_keyring_new();
	CHECK(kr != NULL);
	CHECK_EQ_INT(cl_keyring_install(kr, key), 0);
	return kr;
}

/* Seal pt[0..len) with a, open with b; returns open()'s result. */
static int seal_open(const cl_keyring *a, const cl_keyring *b, size_t len)
{
	int n = cl_keyring_seal(a, &INFO, pt, len, sealed, sizeof sealed);
	CHECK_EQ_INT(n, (int)(len + CL_KEYRING_OVERHEAD));
	return cl_keyring_open(b, sealed, (size_t)n, opened, sizeof opened, NULL);
}

static void test_round_trip(void)
{
	uint8_t k[CL_KEY_BYTES];
	key_fill(k, 1);
	cl_keyring *kr = ring_with(k);
	static const size_t sizes[] = {0, 1, 1400, BIG};

	for (size_t i = 0; i < BIG; i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t len = sizes[s];
		memset(opened, 0xee, sizeof opened);
		CHECK_EQ_INT(seal_open(kr, kr, len), (int)len);
		CHECK(len == 0 || memcmp(opened, pt, len) == 0);
		CHECK_EQ_INT(sealed[0], CL_KEYRING_VERSION);
		/* The plaintext does not appear in the clear. */
		CHECK(len < 16 || memcmp(sealed + CL_KEYRING_HEADER, pt, 16) != 0);
		/* Exactly enough room is enough; one byte less is not. */
		CHECK_EQ_INT(cl_keyring_open(kr, sealed, len + CL_KEYRING_OVERHEAD,
					     opened, len, NULL),
			     (int)len);
		if (len > 0)
			CHECK_EQ_INT(cl_keyring_open(kr, sealed,
						     len + CL_KEYRING_OVERHEAD,
						     opened, len - 1, NULL),
				     CLOISTER_ENOSPC);
		CHECK_EQ_INT(cl_keyring_seal(kr, &INFO, pt, len, sealed,
					     len + CL_KEYRING_OVERHEAD - 1),
			     CLOISTER_ENOSPC);
	}
	/* An empty packet opens with no output buffer at all. */
	int n = cl_keyring_seal(kr, &INFO, NULL, 0, sealed, sizeof sealed);
	CHECK_EQ_INT(n, CL_KEYRING_OVERHEAD);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, NULL, 0, NULL), 0);

	/* In place: the packet built at out + HEADER is sealed where it lies. */
	uint8_t *inplace = sealed + CL_KEYRING_HEADER;
	memcpy(inplace, pt, 1400);
	n = cl_keyring_seal(kr, &INFO, inplace, 1400, sealed, sizeof sealed);
	CHECK_EQ_INT(n, 1400 + CL_KEYRING_OVERHEAD);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, opened, sizeof opened, NULL),
		     1400);
	CHECK(memcmp(opened, pt, 1400) == 0);
	/* Other overlaps are refused, for seal and open alike. */
	CHECK_EQ_INT(cl_keyring_seal(kr, &INFO, sealed + 3, 100, sealed, sizeof sealed),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, sealed + 1, 1400, NULL),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n,
				     sealed + CL_KEYRING_HEADER, 1400, NULL),
		     CLOISTER_EINVAL);
	cl_keyring_free(kr);
}

/* Every single-bit flip fails: the version byte as malformed, the kind
 * byte as malformed unless it becomes the other kind, every other bit
 * (sender, time, random, recipient, ciphertext, tag) as an authentication
 * failure.  And out holds no plaintext after a failure. */
static void flips(const cl_keyring *kr, size_t len)
{
	int n = cl_keyring_seal(kr, &INFO, pt, len, sealed, sizeof sealed);
	CHECK_EQ_INT(n, (int)(len + CL_KEYRING_OVERHEAD));
	for (int byte = 0; byte < n; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			sealed[byte] ^= (uint8_t)(1u << bit);
			memcpy(opened, pt, len);
			int rc = cl_keyring_open(kr, sealed, (size_t)n, opened,
						 sizeof opened, NULL);
			sealed[byte] ^= (uint8_t)(1u << bit);
			if (byte == 0 || (byte == 1 && bit != 0)) {
				CHECK_EQ_INT(rc, CLOISTER_EPROTO);
				continue;
			}
			CHECK_EQ_INT(rc, CLOISTER_EIO);
			CHECK(len < 8 || memcmp(opened, pt, len) != 0);
		}
	}
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, opened, sizeof opened, NULL),
		     (int)len);
}

static void test_tamper(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	key_fill(k1, 1);
	key_fill(k2, 100);
	/* Two keys, so every failing packet is tried under both. */
	cl_keyring *kr = ring_with(k1);
	CHECK_EQ_INT(cl_keyring_install(kr, k2), 0);

	flips(kr, 0);
	flips(kr, 1);
	flips(kr, 200);
	CHECK_EQ_INT(cl_keyring_use(kr, k2), 0);
	flips(kr, 1400);

	/* Every truncation: too short to hold nonce and tag is malformed,
	 * anything longer fails authentication. */
	size_t len = 300;
	int n = cl_keyring_seal(kr, &INFO, pt, len, sealed, sizeof sealed);
	CHECK_EQ_INT(n, (int)(len + CL_KEYRING_OVERHEAD));
	for (int cut = 0; cut < n; cut++) {
		int rc = cl_keyring_open(kr, sealed, (size_t)cut, opened,
					 sizeof opened, NULL);
		CHECK_EQ_INT(rc, cut < CL_KEYRING_OVERHEAD ? CLOISTER_EPROTO
							   : CLOISTER_EIO);
	}
	/* ... and so does one byte too many. */
	sealed[n] = 0;
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n + 1, opened,
				     sizeof opened, NULL),
		     CLOISTER_EIO);
	/* A clear-text wire packet ('C' 'L' ...) is malformed, not forged. */
	memcpy(sealed, "CL\x01\x00", 4);
	memset(sealed + 4, 0, 60);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, 64, opened, sizeof opened, NULL),
		     CLOISTER_EPROTO);
	cl_keyring_free(kr);
}

static void test_wrong_key(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	key_fill(k1, 1);
	key_fill(k2, 2);
	cl_keyring *a = ring_with(k1), *b = ring_with(k2);

	memset(opened, 0x55, 100);
	CHECK_EQ_INT(seal_open(a, b, 100), CLOISTER_EIO);
	/* The failed attempt leaves no plaintext behind. */
	CHECK(memcmp(opened, pt, 100) != 0);
	CHECK_EQ_INT(seal_open(b, a, 0), CLOISTER_EIO);
	CHECK_EQ_INT(seal_open(a, a, 100), 100);

	/* No keys: sealing and opening are not available at all. */
	cl_keyring *none = cl_keyring_new();
	CHECK(!cl_keyring_enabled(none));
	CHECK_EQ_INT(cl_keyring_seal(none, &INFO, pt, 10, sealed, sizeof sealed),
		     CLOISTER_ESTATE);
	int n = cl_keyring_seal(a, &INFO, pt, 10, sealed, sizeof sealed);
	CHECK_EQ_INT(cl_keyring_open(none, sealed, (size_t)n, opened,
				     sizeof opened, NULL),
		     CLOISTER_ESTATE);
	/* Malformed stays malformed whatever the ring holds. */
	CHECK_EQ_INT(cl_keyring_open(none, sealed, 10, opened, sizeof opened, NULL),
		     CLOISTER_EPROTO);
	cl_keyring_free(none);
	cl_keyring_free(a);
	cl_keyring_free(b);
}

static void test_rotation(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	key_fill(k1, 1);
	key_fill(k2, 2);
	cl_keyring *a = ring_with(k1), *b = ring_with(k1);

	/* The old packet, sealed before anything changed. */
	uint8_t old[64 + CL_KEYRING_OVERHEAD];
	CHECK_EQ_INT(cl_keyring_seal(a, &INFO, pt, 64, old, sizeof old), (int)sizeof old);

	/* 1. install everywhere: k1 still seals, both open. */
	CHECK_EQ_INT(cl_keyring_install(a, k2), 0);
	CHECK_EQ_INT(cl_keyring_install(b, k2), 0);
	CHECK_EQ_INT(seal_open(a, b, 64), 64);
	CHECK_EQ_INT(seal_open(b, a, 64), 64);

	/* 2. A switches first: B opens A's k2 packets, A opens B's k1 ones. */
	CHECK_EQ_INT(cl_keyring_use(a, k2), 0);
	CHECK_EQ_INT(seal_open(a, b, 64), 64);
	CHECK(memcmp(opened, pt, 64) == 0);
	CHECK_EQ_INT(seal_open(b, a, 64), 64);
	CHECK(memcmp(opened, pt, 64) == 0);
	/* A's packet really is under k2: a k1-only ring cannot open it. */
	cl_keyring *only1 = ring_with(k1);
	CHECK_EQ_INT(seal_open(a, only1, 64), CLOISTER_EIO);
	cl_keyring_free(only1);

	/* k1 is still B's primary: it cannot go yet. */
	CHECK_EQ_INT(cl_keyring_remove(b, k1), CLOISTER_ESTATE);
	CHECK_EQ_INT(cl_keyring_use(b, k2), 0);

	/* 3. both use k2: k1 goes. */
	CHECK_EQ_INT(cl_keyring_remove(a, k1), 0);
	CHECK_EQ_INT(cl_keyring_remove(b, k1), 0);
	CHECK_EQ_INT(cl_keyring_count(a), 1);
	CHECK_EQ_INT(seal_open(a, b, 64), 64);
	CHECK_EQ_INT(seal_open(b, a, 64), 64);
	CHECK_EQ_INT(cl_keyring_open(a, old, sizeof old, opened, sizeof opened, NULL),
		     CLOISTER_EIO);
	CHECK_EQ_INT(cl_keyring_open(b, old, sizeof old, opened, sizeof opened, NULL),
		     CLOISTER_EIO);
	CHECK_EQ_INT(cl_keyring_remove(a, k1), CLOISTER_ENOENT);
	cl_keyring_free(a);
	cl_keyring_free(b);
}

static void test_management(void)
{
	uint8_t keys[CL_KEYRING_MAX + 1][CL_KEY_BYTES];
	uint8_t list[CL_KEYRING_MAX][CL_KEY_BYTES];
	size_t primary = 99;

	for (int i = 0; i <= CL_KEYRING_MAX; i++)
		key_fill(keys[i], (uint8_t)(10 * i));
	cl_keyring *kr = cl_keyring_new();
	CHECK(kr != NULL);
	CHECK_EQ_INT(cl_keyring_count(kr), 0);
	CHECK(!cl_keyring_enabled(kr));
	CHECK_EQ_INT(cl_keyring_list(kr, NULL, 0, NULL), 0);
	CHECK_EQ_INT(cl_keyring_use(kr, keys[0]), CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_keyring_remove(kr, keys[0]), CLOISTER_ENOENT);

	for (int i = 0; i < CL_KEYRING_MAX; i++) {
		CHECK_EQ_INT(cl_keyring_install(kr, keys[i]), 0);
		CHECK_EQ_INT(cl_keyring_install(kr, keys[i]), CLOISTER_EEXIST);
	}
	CHECK(cl_keyring_enabled(kr));
	CHECK_EQ_INT(cl_keyring_count(kr), CL_KEYRING_MAX);
	CHECK_EQ_INT(cl_keyring_install(kr, keys[CL_KEYRING_MAX]),
		     CLOISTER_ELIMIT);
	/* A duplicate is refused as a duplicate even when full. */
	CHECK_EQ_INT(cl_keyring_install(kr, keys[3]), CLOISTER_EEXIST);

	/* The first key is primary; list keeps installation order. */
	CHECK_EQ_INT(cl_keyring_list(kr, list, CL_KEYRING_MAX - 1, &primary),
		     CLOISTER_ENOSPC);
	CHECK_EQ_INT(cl_keyring_list(kr, list, CL_KEYRING_MAX, &primary),
		     CL_KEYRING_MAX);
	CHECK_EQ_INT(primary, 0);
	CHECK(memcmp(list, keys, sizeof list) == 0);
	CHECK_EQ_INT(cl_keyring_remove(kr, keys[0]), CLOISTER_ESTATE);

	/* Removing below the primary shifts its index, not its key. */
	CHECK_EQ_INT(cl_keyring_use(kr, keys[5]), 0);
	CHECK_EQ_INT(cl_keyring_remove(kr, keys[2]), 0);
	CHECK_EQ_INT(cl_keyring_remove(kr, keys[2]), CLOISTER_ENOENT);
	CHECK_EQ_INT(cl_keyring_list(kr, list, CL_KEYRING_MAX, &primary),
		     CL_KEYRING_MAX - 1);
	CHECK_EQ_INT(primary, 4);
	CHECK(memcmp(list[primary], keys[5], CL_KEY_BYTES) == 0);
	CHECK(memcmp(list[1], keys[1], CL_KEY_BYTES) == 0);
	CHECK(memcmp(list[2], keys[3], CL_KEY_BYTES) == 0);
	CHECK(memcmp(list[CL_KEYRING_MAX - 2], keys[CL_KEYRING_MAX - 1],
		     CL_KEY_BYTES) == 0);
	CHECK_EQ_INT(cl_keyring_remove(kr, keys[5]), CLOISTER_ESTATE);
	/* Room again. */
	CHECK_EQ_INT(cl_keyring_install(kr, keys[CL_KEYRING_MAX]), 0);
	CHECK_EQ_INT(cl_keyring_install(kr, keys[2]), CLOISTER_ELIMIT);

	/* Sealing follows the primary: only keys[5] opens it. */
	cl_keyring *five = ring_with(keys[5]);
	CHECK_EQ_INT(seal_open(kr, five, 10), 10);
	cl_keyring_free(five);
	sodium_memzero(list, sizeof list);
	cl_keyring_free(kr);
	cl_keyring_free(NULL);
}

static void test_nonces(void)
{
	uint8_t k[CL_KEY_BYTES];
	uint8_t one[32 + CL_KEYRING_OVERHEAD], two[32 + CL_KEYRING_OVERHEAD];
	key_fill(k, 9);
	cl_keyring *kr = ring_with(k);

	memset(pt, 0, 32);
	CHECK_EQ_INT(cl_keyring_seal(kr, &INFO, pt, 32, one, sizeof one), (int)sizeof one);
	CHECK_EQ_INT(cl_keyring_seal(kr, &INFO, pt, 32, two, sizeof two), (int)sizeof two);
	/* Same header fields, same plaintext: the random bytes still make
	 * every nonce and ciphertext differ. */
	CHECK(memcmp(one, two, 18) == 0);
	CHECK(memcmp(one + 18, two + 18, 8) != 0);
	CHECK(memcmp(one + CL_KEYRING_NONCE_AT, two + CL_KEYRING_NONCE_AT,
		     CL_KEYRING_NONCE_BYTES) != 0);
	CHECK(memcmp(one + CL_KEYRING_HEADER, two + CL_KEYRING_HEADER, 32) != 0);
	cl_keyring_free(kr);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The header's layout, byte for byte (keyring.h's diagram), what peek and
 * open report, and that no field can be rewritten. */
static void test_header(void)
{
	uint8_t k[CL_KEY_BYTES];
	key_fill(k, 3);
	cl_keyring *kr = ring_with(k);
	static const uint8_t want[CL_KEYRING_HEADER] = {
		2, 0,					/* version, kind */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* sender */
		0x00, 0x06, 0x44, 0x59, 0x41, 0x62, 0x40, 0x00, /* time */
		0, 0, 0, 0, 0, 0, 0, 0,			/* random: masked */
		0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00}; /* recipient */
	int n = cl_keyring_seal(kr, &INFO, pt, 100, sealed, sizeof sealed);
	CHECK_EQ_INT(n, 100 + CL_KEYRING_OVERHEAD);
	uint8_t got[CL_KEYRING_HEADER];
	memcpy(got, sealed, sizeof got);
	memset(got + 18, 0, 8);
	CHECK(memcmp(got, want, sizeof want) == 0);

	cl_seal_info info;
	memset(&info, 0xee, sizeof info);
	CHECK_EQ_INT(cl_keyring_peek(sealed, (size_t)n, &info), 0);
	CHECK_EQ_INT(info.kind, CL_SEAL_DATAGRAM);
	CHECK(info.sender == INFO.sender && info.time_us == INFO.time_us &&
	      info.recipient == INFO.recipient);
	memset(&info, 0, sizeof info);
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, opened,
				     sizeof opened, &info),
		     100);
	CHECK(info.sender == INFO.sender && info.time_us == INFO.time_us &&
	      info.recipient == INFO.recipient);

	/* A field rewritten to another value (sent to someone else, later,
	 * by someone else, as a stream head) no longer authenticates. */
	static const size_t at[] = {2, 10, 26};
	for (size_t f = 0; f < 3; f++) {
		memcpy(got, sealed + at[f], 8);
		put64(sealed + at[f], 0);
		CHECK_EQ_INT(cl_keyring_peek(sealed, (size_t)n, NULL), 0);
		CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, opened,
					     sizeof opened, NULL),
			     CLOISTER_EIO);
		memcpy(sealed + at[f], got, 8);
	}
	sealed[1] = CL_SEAL_STREAM;
	CHECK_EQ_INT(cl_keyring_open(kr, sealed, (size_t)n, opened, sizeof opened,
				     NULL),
		     CLOISTER_EIO);
	/* Unknown kinds: not sealed, not read. */
	for (int kind = 2; kind < 256; kind++) {
		sealed[1] = (uint8_t)kind;
		CHECK_EQ_INT(cl_keyring_peek(sealed, (size_t)n, NULL),
			     CLOISTER_EPROTO);
	}
	sealed[1] = CL_SEAL_DATAGRAM;
	cl_seal_info bad = INFO;
	bad.kind = 2;
	CHECK_EQ_INT(cl_keyring_seal(kr, &bad, pt, 10, sealed, sizeof sealed),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_keyring_seal(kr, NULL, pt, 10, sealed, sizeof sealed),
		     CLOISTER_EINVAL);
	/* Every truncation of the header is malformed for peek too. */
	n = cl_keyring_seal(kr, &INFO, pt, 0, sealed, sizeof sealed);
	for (int cut = 0; cut < n; cut++)
		CHECK_EQ_INT(cl_keyring_peek(sealed, (size_t)cut, &info),
			     CLOISTER_EPROTO);
	CHECK_EQ_INT(cl_keyring_peek(NULL, 100, &info), CLOISTER_EPROTO);
	cl_keyring_free(kr);
}

/* A packet in version 1's layout (random nonce, AD = the version byte),
 * sealed under an installed key: refused as another version, never
 * opened. */
static void test_version_one_refused(void)
{
	uint8_t k[CL_KEY_BYTES];
	key_fill(k, 4);
	cl_keyring *kr = ring_with(k);
	uint8_t v1[1 + 24 + 64 + 16];
	v1[0] = 1;
	randombytes_buf(v1 + 1, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(v1 + 25, NULL, pt, 64, v1, 1,
						   NULL, v1 + 1, k);
	CHECK_EQ_INT(cl_keyring_peek(v1, sizeof v1, NULL), CLOISTER_EPROTO);
	CHECK_EQ_INT(cl_keyring_open(kr, v1, sizeof v1, opened, sizeof opened,
				     NULL),
		     CLOISTER_EPROTO);
	/* ... and relabelled 2 it fails authentication. */
	v1[0] = 2;
	v1[1] = 0;
	CHECK_EQ_INT(cl_keyring_open(kr, v1, sizeof v1, opened, sizeof opened,
				     NULL),
		     CLOISTER_EIO);
	cl_keyring_free(kr);
}

/* Stream chunks: bound to their frame's head and their index. */
static void test_chunks(void)
{
	uint8_t k1[CL_KEY_BYTES], k2[CL_KEY_BYTES];
	key_fill(k1, 5);
	key_fill(k2, 6);
	cl_keyring *kr = ring_with(k1);
	cl_seal_info si = INFO;
	si.kind = CL_SEAL_STREAM;
	uint8_t head[CL_KEYRING_OVERHEAD + 4], other[CL_KEYRING_OVERHEAD + 4];
	CHECK_EQ_INT(cl_keyring_seal(kr, &si, pt, 4, head, sizeof head),
		     (int)sizeof head);
	CHECK_EQ_INT(cl_keyring_seal(kr, &si, pt, 4, other, sizeof other),
		     (int)sizeof other);
	static const size_t sizes[] = {0, 1, 1400, BIG};
	for (size_t s = 0; s < 4; s++) {
		size_t len = sizes[s];
		int n = cl_keyring_seal_chunk(kr, head, 1, pt, len, sealed,
					      sizeof sealed);
		CHECK_EQ_INT(n, (int)(len + CL_KEYRING_TAG_BYTES));
		CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, sealed,
						   (size_t)n, opened, len),
			     (int)len);
		CHECK(len == 0 || memcmp(opened, pt, len) == 0);
		if (len > 0)
			CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, sealed,
							   (size_t)n, opened,
							   len - 1),
				     CLOISTER_ENOSPC);
		/* Another index, another frame: refused. */
		CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 2, sealed,
						   (size_t)n, opened, BIG),
			     CLOISTER_EIO);
		CHECK_EQ_INT(cl_keyring_open_chunk(kr, other, 1, sealed,
						   (size_t)n, opened, BIG),
			     CLOISTER_EIO);
	}
	/* Chunk 1 and chunk 2 of one frame never share a keystream. */
	uint8_t c1[64 + 16], c2[64 + 16];
	memset(pt, 0, 64);
	CHECK_EQ_INT(cl_keyring_seal_chunk(kr, head, 1, pt, 64, c1, sizeof c1),
		     80);
	CHECK_EQ_INT(cl_keyring_seal_chunk(kr, head, 2, pt, 64, c2, sizeof c2),
		     80);
	CHECK(memcmp(c1, c2, 64) != 0);
	/* Every bit of the chunk, and every bit of its head, matters. */
	for (int byte = 0; byte < 80; byte++)
		for (int bit = 0; bit < 8; bit++) {
			c1[byte] ^= (uint8_t)(1u << bit);
			CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c1, 80,
							   opened, 64),
				     CLOISTER_EIO);
			c1[byte] ^= (uint8_t)(1u << bit);
		}
	for (int byte = 0; byte < CL_KEYRING_HEADER; byte++) {
		head[byte] ^= 0x10;
		CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c1, 80, opened,
						   64),
			     CLOISTER_EIO);
		head[byte] ^= 0x10;
	}
	/* Truncated: shorter than a tag is malformed, else forged. */
	for (int cut = 0; cut < 80; cut++)
		CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c1, (size_t)cut,
						   opened, 64),
			     cut < CL_KEYRING_TAG_BYTES ? CLOISTER_EPROTO
							: CLOISTER_EIO);
	CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c1, 80, opened, 64), 64);
	/* Index 0 is the head's; overlapping buffers are refused. */
	CHECK_EQ_INT(cl_keyring_seal_chunk(kr, head, 0, pt, 4, c1, sizeof c1),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 0, c1, 80, opened, 64),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c1, 80, c1 + 8, 64),
		     CLOISTER_EINVAL);
	/* In place sealing is fine. */
	memcpy(c2, pt, 64);
	CHECK_EQ_INT(cl_keyring_seal_chunk(kr, head, 1, c2, 64, c2, sizeof c2),
		     80);
	CHECK_EQ_INT(cl_keyring_open_chunk(kr, head, 1, c2, 80, opened, 64), 64);
	/* Rotation: a ring whose primary is k2 still opens k1's chunks; one
	 * without k1 cannot. */
	cl_keyring *rot = ring_with(k2), *only2 = ring_with(k2);
	CHECK_EQ_INT(cl_keyring_install(rot, k1), 0);
	CHECK_EQ_INT(cl_keyring_open_chunk(rot, head, 1, c2, 80, opened, 64), 64);
	CHECK_EQ_INT(cl_keyring_open_chunk(only2, head, 1, c2, 80, opened, 64),
		     CLOISTER_EIO);
	cl_keyring *none = cl_keyring_new();
	CHECK_EQ_INT(cl_keyring_open_chunk(none, head, 1, c2, 80, opened, 64),
		     CLOISTER_ESTATE);
	CHECK_EQ_INT(cl_keyring_seal_chunk(none, head, 1, pt, 4, c1, sizeof c1),
		     CLOISTER_ESTATE);
	cl_keyring_free(none);
	cl_keyring_free(rot);
	cl_keyring_free(only2);
	cl_keyring_free(kr);
}

/* 0x00 0x01 ... 0x1f in the text forms. */
#define SEQ_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SEQ_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void test_parse(void)
{
	uint8_t want[CL_KEY_BYTES], key[CL_KEY_BYTES];
	char text[128], b64[CL_KEY_BASE64_LEN + 1];
	key_fill(want, 0);

	CHECK_EQ_INT(cl_key_parse(SEQ_HEX, key), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK_EQ_INT(cl_key_parse(
			     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			     key),
		     0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK_EQ_INT(cl_key_parse(SEQ_B64, key), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK_STR_EQ(cl_key_format_base64(want, b64), SEQ_B64);
	CHECK_EQ_INT(cl_key_parse(" \t\n" SEQ_HEX "\r\n", key), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK_EQ_INT(cl_key_parse("\n" SEQ_B64 "\n\n", key), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);

	static const char *const bad[] = {
		"",
		"   \n",
		/* 63 and 65 hex digits */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		(SEQ_HEX "0"),
		/* 62 digits of a 31-byte key */
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		/* a non-hex digit, a prefix, whitespace inside */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
		"0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"00010203040506070809 a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		/* base64: unpadded (43), extra padding, URL alphabet, bits set
		 * past the 32 bytes (non-canonical), 33 bytes, whitespace in */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-_8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
		"AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=",
		/* bytes >= 0x80, which libsodium 1.0.18's decoder takes for
		 * letters (found by fuzz_keyring) */
		("AAE\x90" "AwQFBgcICQoLDA0ODxARREhMUFRYXGBkaGxwdH8="),
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\xb8=",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\xb1",
		/* a 32-character passphrase is not a key */
		"correct horse battery staple!!!!",
		"cloister",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(key, 0xaa, sizeof key);
		int rc = cl_key_parse(bad[i], key);
		if (rc != CLOISTER_EINVAL)
			CHECK_FAIL("accepted \"%s\"", bad[i]);
		/* Nothing half-decoded is left behind. */
		uint8_t zero[CL_KEY_BYTES] = {0};
		CHECK(memcmp(key, zero, CL_KEY_BYTES) == 0);
	}
	CHECK_EQ_INT(cl_key_parse(NULL, key), CLOISTER_EINVAL);
	/* A NUL ends the text: what follows it is not read. */
	memcpy(text, SEQ_HEX, sizeof SEQ_HEX);
	text[10] = '\0';
	CHECK_EQ_INT(cl_key_parse(text, key), CLOISTER_EINVAL);

	/* Generated keys differ and survive a base64 round trip. */
	uint8_t g1[CL_KEY_BYTES], g2[CL_KEY_BYTES];
	CHECK_EQ_INT(cl_key_generate(g1), 0);
	CHECK_EQ_INT(cl_key_generate(g2), 0);
	CHECK(memcmp(g1, g2, CL_KEY_BYTES) != 0);
	CHECK_EQ_INT(strlen(cl_key_format_base64(g1, b64)), CL_KEY_BASE64_LEN);
	CHECK_EQ_INT(cl_key_parse(b64, key), 0);
	CHECK(memcmp(key, g1, CL_KEY_BYTES) == 0);
}

static void test_fingerprint(void)
{
	uint8_t k[CL_KEY_BYTES];
	char fp[CL_KEY_FINGERPRINT_LEN + 1];

	/* hashlib.blake2b(bytes(32), digest_size=32).hexdigest()[:16] */
	memset(k, 0, sizeof k);
	CHECK_STR_EQ(cl_key_fingerprint(k, fp), "89eb0d6a8a691dae");
	/* hashlib.blake2b(bytes(range(32)), digest_size=32).hexdigest()[:16] */
	key_fill(k, 0);
	CHECK_STR_EQ(cl_key_fingerprint(k, fp), "cb2f5160fc1f7e05");
}

static void write_file(const char *path, const void *data, size_t len,
		       mode_t mode)
{
	/* A fresh file: the last one may be read-only. */
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	/* fchmod, not the open mode: the umask must not decide the test. */
	CHECK(fchmod(fd, mode) == 0);
	CHECK(close(fd) == 0);
}

static void test_key_file(void)
{
	char dir[] = "/tmp/cloister-keyring-XXXXXX";
	char path[256], why[256];
	uint8_t want[CL_KEY_BYTES], key[CL_KEY_BYTES];
	key_fill(want, 0);

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/key", dir);

	write_file(path, SEQ_HEX "\n", strlen(SEQ_HEX "\n"), 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK_STR_EQ(why, "");

	write_file(path, SEQ_B64, strlen(SEQ_B64), 0400);
	CHECK_EQ_INT(cl_key_from_file(path, key, NULL, 0), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);

	/* Raw bytes, including what text would call NUL and newline. */
	uint8_t raw[CL_KEY_BYTES];
	key_fill(raw, 0xf0);
	raw[3] = '\n';
	write_file(path, raw, sizeof raw, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why), 0);
	CHECK(memcmp(key, raw, CL_KEY_BYTES) == 0);

	/* Too open, whatever the content. */
	static const mode_t open_modes[] = {0644, 0640, 0604, 0620, 0602, 0610};
	for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
		write_file(path, SEQ_HEX, strlen(SEQ_HEX), open_modes[i]);
		why[0] = '\0';
		CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
			     CLOISTER_EINVAL);
		CHECK(strstr(why, "too open") != NULL);
		CHECK(strstr(why, path) != NULL);
	}

	/* Not a key: garbage, 31 and 33 raw bytes, an oversized file. */
	write_file(path, "hello\n", 6, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_EINVAL);
	CHECK(strstr(why, "not a key") != NULL);
	write_file(path, raw, 31, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_EINVAL);
	uint8_t longer[CL_KEY_BYTES + 1];
	memcpy(longer, raw, CL_KEY_BYTES);
	longer[CL_KEY_BYTES] = '\n';
	write_file(path, longer, sizeof longer, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_EINVAL);
	/* Hex with a NUL after it is not text. */
	write_file(path, SEQ_HEX "\0", sizeof SEQ_HEX, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_EINVAL);
	static char huge[CL_KEY_FILE_MAX + 100];
	memset(huge, ' ', sizeof huge);
	memcpy(huge, SEQ_HEX, strlen(SEQ_HEX));
	write_file(path, huge, sizeof huge, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_EINVAL);
	CHECK(strstr(why, "4 KiB") != NULL);
	/* Exactly the limit is fine. */
	write_file(path, huge, CL_KEY_FILE_MAX, 0600);
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why), 0);
	CHECK(memcmp(key, want, CL_KEY_BYTES) == 0);
	CHECK(unlink(path) == 0);

	/* Missing, and not a regular file. */
	CHECK_EQ_INT(cl_key_from_file(path, key, why, sizeof why),
		     CLOISTER_ENOENT);
	CHECK(strstr(why, path) != NULL);
	CHECK(chmod(dir, 0700) == 0);
	CHECK_EQ_INT(cl_key_from_file(dir, key, why, sizeof why),
		     CLOISTER_EINVAL);
	CHECK(strstr(why, "regular") != NULL);
	CHECK_EQ_INT(cl_key_from_file(NULL, key, why, sizeof why),
		     CLOISTER_EINVAL);
	CHECK(rmdir(dir) == 0);
}

static void test_passphrase(void)
{
	uint8_t a[CL_KEY_BYTES], again[CL_KEY_BYTES], other[CL_KEY_BYTES];
	char hex[2 * CL_KEY_BYTES + 1];
	const char *pw = "correct horse battery staple";

	/* Pinned: salt = blake2b("cloister-passphrase-v1orders", 32)[:16] =
	 * f209dfecff5655dd5a13c034a82944c1 (hashlib), then crypto_pwhash
	 * Argon2id13 ops 2 mem 64 MiB.  If this changes, every deployed
	 * passphrase stops working. */
	CHECK_EQ_INT(cl_key_from_passphrase("orders", pw, a), 0);
	sodium_bin2hex(hex, sizeof hex, a, sizeof a);
	CHECK_STR_EQ(hex, "ee03168a3e6ece7d29e4d842e5036ae6"
			  "9f623688f5be50a8ac62b7e8f5ee690d");
	CHECK_EQ_INT(cl_key_from_passphrase("orders", pw, again), 0);
	CHECK(memcmp(a, again, CL_KEY_BYTES) == 0);
	CHECK_EQ_INT(cl_key_from_passphrase("billing", pw, other), 0);
	CHECK(memcmp(a, other, CL_KEY_BYTES) != 0);

	CHECK_EQ_INT(cl_key_from_passphrase("orders", "", other),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_key_from_passphrase(NULL, pw, other), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_key_from_passphrase("orders", NULL, other),
		     CLOISTER_EINVAL);
}

int main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_tamper);
	RUN_TEST(test_wrong_key);
	RUN_TEST(test_rotation);
	RUN_TEST(test_management);
	RUN_TEST(test_nonces);
	RUN_TEST(test_header);
	RUN_TEST(test_version_one_refused);
	RUN_TEST(test_chunks);
	RUN_TEST(test_parse);
	RUN_TEST(test_fingerprint);
	RUN_TEST(test_key_file);
	RUN_TEST(test_passphrase);
	printf("test_keyring: %d checks passed\n", check_count);
	return 0;
}
