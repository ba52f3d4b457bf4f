/*
 * keyring.c — the keyring, sealing and key material (keyring.h).
 */
#include "runtime/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cloister.h"

_Static_assert(CL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "key size");
_Static_assert(CL_KEYRING_NONCE_BYTES ==
		       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "nonce size");
_Static_assert(CL_KEYRING_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "tag size");
_Static_assert(CL_KEYRING_OVERHEAD == 50, "the documented overhead");
_Static_assert(CL_KEYRING_NONCE_AT + CL_KEYRING_NONCE_BYTES + 8 ==
		       CL_KEYRING_HEADER,
	       "nonce (sender, time, random), then the recipient");
_Static_assert(crypto_pwhash_SALTBYTES == 16, "passphrase salt size");

/* The passphrase KDF's parameters are part of the key's definition: every
 * node must derive the same bytes whatever libsodium it links, so they are
 * pinned rather than taken from crypto_pwhash_*_INTERACTIVE (which a
 * libsodium release may raise).  These are 1.0.18's interactive values. */
#define PASSPHRASE_CONTEXT "cloister-passphrase-v1"
#define PASSPHRASE_OPSLIMIT 2ULL
#define PASSPHRASE_MEMLIMIT ((size_t)64 * 1024 * 1024)

struct cl_keyring {
	uint8_t keys[CL_KEYRING_MAX][CL_KEY_BYTES];
	size_t count;
	size_t primary; /* meaningful while count > 0 */
};

/* sodium_init() is idempotent and thread-safe; 1 means "already done". */
static bool sodium_ready(void)
{
	return sodium_init() >= 0;
}

/* Whether [a, a+alen) and [b, b+blen) share a byte.  Compared as integers:
 * the buffers are distinct objects, so pointer relations would be
 * undefined. */
static bool overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	if (alen == 0 || blen == 0)
		return false;
	return x < y + blen && y < x + alen;
}

/* What both openers check once the format is known (mlen: the plaintext's
 * length): a length seal() never makes, no key to open with, no room in
 * out, out overlapping in. */
static int open_room(const cl_keyring *kr, const uint8_t *in, size_t len,
		     const uint8_t *out, size_t cap, size_t mlen)
{
	if (mlen > (size_t)INT_MAX)
		return CLOISTER_EPROTO;
	if (kr->count == 0)
		return CLOISTER_ESTATE;
	if (cap < mlen)
		return CLOISTER_ENOSPC;
	if (overlaps(in, len, out, mlen))
		return CLOISTER_EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The keyring                                                         */
/* ------------------------------------------------------------------ */

cl_keyring *cl_keyring_new(void)
{
	if (!sodium_ready())
		return NULL;
	/* Guard pages and mlock() for the key bytes; sodium_free() wipes. */
	cl_keyring *kr = sodium_malloc(sizeof *kr);
	if (!kr)
		return NULL;
	sodium_memzero(kr, sizeof *kr);
	return kr;
}

void cl_keyring_free(cl_keyring *kr)
{
	if (!kr)
		return;
	sodium_memzero(kr, sizeof *kr);
	sodium_free(kr);
}

/* The slot holding key, or -1.  Compares in constant time and visits every
 * slot, so timing says nothing about the key or where it is. */
static int find(const cl_keyring *kr, const uint8_t key[CL_KEY_BYTES])
{
	int at = -1;
	for (size_t i = 0; i < kr->count; i++)
		if (sodium_memcmp(kr->keys[i], key, CL_KEY_BYTES) == 0)
			at = (int)i;
	return at;
}

int cl_keyring_install(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES])
{
	if (!kr || !key)
		return CLOISTER_EINVAL;
	if (find(kr, key) >= 0)
		return CLOISTER_EEXIST;
	if (kr->count == CL_KEYRING_MAX)
		return CLOISTER_ELIMIT;
	memcpy(kr->keys[kr->count], key, CL_KEY_BYTES);
	if (kr->count == 0)
		kr->primary = 0;
	kr->count++;
	return 0;
}

int cl_keyring_use(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES])
{
	if (!kr || !key)
		return CLOISTER_EINVAL;
	int at = find(kr, key);
	if (at < 0)
		return CLOISTER_ENOENT;
	kr->primary = (size_t)at;
	return 0;
}

int cl_keyring_remove(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES])
{
	if (!kr || !key)
		return CLOISTER_EINVAL;
	int at = find(kr, key);
	if (at < 0)
		return CLOISTER_ENOENT;
	size_t i = (size_t)at;
	if (i == kr->primary)
		return CLOISTER_ESTATE;
	memmove(kr->keys[i], kr->keys[i + 1],
		(kr->count - i - 1) * CL_KEY_BYTES);
	kr->count--;
	sodium_memzero(kr->keys[kr->count], CL_KEY_BYTES);
	if (kr->primary > i)
		kr->primary--;
	return 0;
}

size_t cl_keyring_count(const cl_keyring *kr)
{
	return kr ? kr->count : 0;
}

bool cl_keyring_enabled(const cl_keyring *kr)
{
	return kr && kr->count > 0;
}

int cl_keyring_list(const cl_keyring *kr, uint8_t (*out)[CL_KEY_BYTES],
		    size_t max, size_t *primary_index)
{
	if (!kr || (!out && max > 0))
		return CLOISTER_EINVAL;
	if (max < kr->count)
		return CLOISTER_ENOSPC;
	if (kr->count > 0)
		memcpy(out, kr->keys, kr->count * CL_KEY_BYTES);
	if (primary_index)
		*primary_index = kr->primary;
	return (int)kr->count;
}

/* ------------------------------------------------------------------ */
/* Sealing                                                             */
/* ------------------------------------------------------------------ */

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Header offsets (keyring.h's diagram). */
#define AT_KIND 1
#define AT_SENDER 2
#define AT_TIME 10
#define AT_RANDOM 18
#define AT_RECIPIENT 26

static bool kind_ok(uint8_t kind)
{
	return kind == CL_SEAL_DATAGRAM || kind == CL_SEAL_STREAM;
}

int cl_keyring_seal(const cl_keyring *kr, const cl_seal_info *info,
		    const uint8_t *pt, size_t len, uint8_t *out, size_t cap)
{
	static const uint8_t empty[1];

	if (!kr || !info || !out || (!pt && len > 0) || !kind_ok(info->kind))
		return CLOISTER_EINVAL;
	if (kr->count == 0)
		return CLOISTER_ESTATE;
	if (len > (size_t)INT_MAX - CL_KEYRING_OVERHEAD)
		return CLOISTER_EINVAL;
	size_t need = len + CL_KEYRING_OVERHEAD;
	if (cap < need)
		return CLOISTER_ENOSPC;
	/* libsodium encrypts in place when source and destination coincide
	 * exactly; any other overlap would read bytes already overwritten. */
	if (pt != out + CL_KEYRING_HEADER && overlaps(pt, len, out, need))
		return CLOISTER_EINVAL;

	out[0] = CL_KEYRING_VERSION;
	out[AT_KIND] = info->kind;
	put_u64(out + AT_SENDER, info->sender);
	put_u64(out + AT_TIME, info->time_us);
	randombytes_buf(out + AT_RANDOM, 8);
	put_u64(out + AT_RECIPIENT, info->recipient);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + CL_KEYRING_HEADER, NULL, len > 0 ? pt : empty, len, out,
		CL_KEYRING_HEADER, NULL, out + CL_KEYRING_NONCE_AT,
		kr->keys[kr->primary]);
	return (int)need;
}

int cl_keyring_peek(const uint8_t *in, size_t len, cl_seal_info *info)
{
	if (!in || len < CL_KEYRING_OVERHEAD || in[0] != CL_KEYRING_VERSION ||
	    !kind_ok(in[AT_KIND]))
		return CLOISTER_EPROTO;
	if (info) {
		info->kind = in[AT_KIND];
		info->sender = get_u64(in + AT_SENDER);
		info->time_us = get_u64(in + AT_TIME);
		info->recipient = get_u64(in + AT_RECIPIENT);
	}
	return 0;
}

static bool open_with(const uint8_t key[CL_KEY_BYTES], const uint8_t *in,
		      size_t len, uint8_t *out)
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt(
		       out, NULL, NULL, in + CL_KEYRING_HEADER,
		       len - CL_KEYRING_HEADER, in, CL_KEYRING_HEADER,
		       in + CL_KEYRING_NONCE_AT, key) == 0;
}

int cl_keyring_open(const cl_keyring *kr, const uint8_t *in, size_t len,
		    uint8_t *out, size_t cap, cl_seal_info *info)
{
	uint8_t scratch[1];

	if (!kr || (!in && len > 0) || (!out && cap > 0))
		return CLOISTER_EINVAL;
	if (cl_keyring_peek(in, len, NULL) != 0)
		return CLOISTER_EPROTO;
	size_t mlen = len - CL_KEYRING_OVERHEAD;
	int e = open_room(kr, in, len, out, cap, mlen);
	if (e)
		return e;
	if (mlen == 0)
		out = scratch;

	bool opened = open_with(kr->keys[kr->primary], in, len, out);
	/* Primary first: in steady state it is the one that works. */
	for (size_t i = 0; !opened && i < kr->count; i++)
		if (i != kr->primary)
			opened = open_with(kr->keys[i], in, len, out);
	if (!opened)
		return CLOISTER_EIO;
	cl_keyring_peek(in, len, info);
	return (int)mlen;
}

/* ------------------------------------------------------------------ */
/* Stream chunks                                                       */
/* ------------------------------------------------------------------ */

/* Chunk index's nonce and additional data, from its frame's head. */
static void chunk_params(const uint8_t head[CL_KEYRING_HEADER],
			 uint32_t index,
			 uint8_t nonce[CL_KEYRING_NONCE_BYTES],
			 uint8_t ad[CL_KEYRING_HEADER + 4])
{
	memcpy(nonce, head + CL_KEYRING_NONCE_AT, CL_KEYRING_NONCE_BYTES);
	uint8_t ix[8];
	put_u64(ix, index);
	for (int i = 0; i < 8; i++)
		nonce[AT_RANDOM - CL_KEYRING_NONCE_AT + i] ^= ix[i];
	memcpy(ad, head, CL_KEYRING_HEADER);
	ad[CL_KEYRING_HEADER] = (uint8_t)(index >> 24);
	ad[CL_KEYRING_HEADER + 1] = (uint8_t)(index >> 16);
	ad[CL_KEYRING_HEADER + 2] = (uint8_t)(index >> 8);
	ad[CL_KEYRING_HEADER + 3] = (uint8_t)index;
}

int cl_keyring_seal_chunk(const cl_keyring *kr,
			  const uint8_t head[CL_KEYRING_HEADER], uint32_t index,
			  const uint8_t *pt, size_t len, uint8_t *out,
			  size_t cap)
{
	static const uint8_t empty[1];
	uint8_t nonce[CL_KEYRING_NONCE_BYTES], ad[CL_KEYRING_HEADER + 4];

	if (!kr || !head || !out || (!pt && len > 0) || index == 0)
		return CLOISTER_EINVAL;
	if (kr->count == 0)
		return CLOISTER_ESTATE;
	if (len > (size_t)INT_MAX - CL_KEYRING_TAG_BYTES)
		return CLOISTER_EINVAL;
	size_t need = len + CL_KEYRING_TAG_BYTES;
	if (cap < need)
		return CLOISTER_ENOSPC;
	if (pt != out && overlaps(pt, len, out, need))
		return CLOISTER_EINVAL;
	chunk_params(head, index, nonce, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out, NULL, len > 0 ? pt : empty, len, ad, sizeof ad, NULL,
		nonce, kr->keys[kr->primary]);
	return (int)need;
}

int cl_keyring_open_chunk(const cl_keyring *kr,
			  const uint8_t head[CL_KEYRING_HEADER], uint32_t index,
			  const uint8_t *in, size_t len, uint8_t *out,
			  size_t cap)
{
	uint8_t scratch[1];
	uint8_t nonce[CL_KEYRING_NONCE_BYTES], ad[CL_KEYRING_HEADER + 4];

	if (!kr || !head || (!in && len > 0) || (!out && cap > 0) ||
	    index == 0)
		return CLOISTER_EINVAL;
	if (len < CL_KEYRING_TAG_BYTES)
		return CLOISTER_EPROTO;
	size_t mlen = len - CL_KEYRING_TAG_BYTES;
	if (mlen > (size_t)INT_MAX)
		return CLOISTER_EPROTO;
	if (kr->count == 0)
		return CLOISTER_ESTATE;
	if (cap < mlen)
		return CLOISTER_ENOSPC;
	if (overlaps(in, len, out, mlen))
		return CLOISTER_EINVAL;
	if (mlen == 0)
		out = scratch;
	chunk_params(head, index, nonce, ad);
	bool opened = false;
	for (size_t n = 0; !opened && n < kr->count; n++) {
		/* Primary first, then the others in installation order. */
		size_t i = n == 0 ? kr->primary : n - 1 + (n - 1 >= kr->primary);
		opened = crypto_aead_xchacha20poly1305_ietf_decrypt(
				 out, NULL, NULL, in, len, ad, sizeof ad, nonce,
				 kr->keys[i]) == 0;
	}
	return opened ? (int)mlen : CLOISTER_EIO;
}

/* ------------------------------------------------------------------ */
/* Version 1 (deprecated, keyring.h)                                   */
/* ------------------------------------------------------------------ */

int cl_keyring_seal_v1(const cl_keyring *kr, const uint8_t *pt, size_t len,
		       uint8_t *out, size_t cap)
{
	static const uint8_t empty[1];
	if (!kr || !out || (!pt && len > 0))
		return CLOISTER_EINVAL;
	if (kr->count == 0)
		return CLOISTER_ESTATE;
	if (len > (size_t)INT_MAX - CL_KEYRING_V1_OVERHEAD)
		return CLOISTER_EINVAL;
	size_t need = len + CL_KEYRING_V1_OVERHEAD;
	if (cap < need)
		return CLOISTER_ENOSPC;
	if (overlaps(pt, len, out, need))
		return CLOISTER_EINVAL;
	out[0] = CL_KEYRING_V1;
	randombytes_buf(out + 1, CL_KEYRING_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + 1 + CL_KEYRING_NONCE_BYTES, NULL, len > 0 ? pt : empty,
		len, out, 1, NULL, out + 1, kr->keys[kr->primary]);
	return (int)need;
}

static bool open_v1_with(const uint8_t key[CL_KEY_BYTES], const uint8_t *in,
			 size_t len, uint8_t *out)
{
	size_t at = 1 + CL_KEYRING_NONCE_BYTES;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(
		       out, NULL, NULL, in + at, len - at, in, 1, in + 1,
		       key) == 0;
}

int cl_keyring_open_v1(const cl_keyring *kr, const uint8_t *in, size_t len,
		       uint8_t *out, size_t cap)
{
	uint8_t scratch[1];
	if (!kr || (!in && len > 0) || (!out && cap > 0))
		return CLOISTER_EINVAL;
	if (len < CL_KEYRING_V1_OVERHEAD || in[0] != CL_KEYRING_V1)
		return CLOISTER_EPROTO;
	size_t mlen = len - CL_KEYRING_V1_OVERHEAD;
	int e = open_room(kr, in, len, out, cap, mlen);
	if (e)
		return e;
	if (mlen == 0)
		out = scratch;
	if (open_v1_with(kr->keys[kr->primary], in, len, out))
		return (int)mlen;
	for (size_t i = 0; i < kr->count; i++)
		if (i != kr->primary && open_v1_with(kr->keys[i], in, len, out))
			return (int)mlen;
	return CLOISTER_EIO;
}

/* ------------------------------------------------------------------ */
/* Key material                                                        */
/* ------------------------------------------------------------------ */

int cl_key_generate(uint8_t key[CL_KEY_BYTES])
{
	if (!key)
		return CLOISTER_EINVAL;
	if (!sodium_ready())
		return CLOISTER_EIO;
	randombytes_buf(key, CL_KEY_BYTES);
	return 0;
}

/* The locale-independent whitespace of isspace() in the "C" locale. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool is_hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static bool is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Whether p[0..n) uses only the form's alphabet.  libsodium's decoders do
 * not suffice alone: 1.0.18's base64 decoder takes some bytes >= 0x80 for
 * letters (found by fuzz_keyring), so one key would have many spellings. */
static bool text_alphabet_ok(const char *p, size_t n)
{
	if (n == CL_KEY_HEX_LEN) {
		for (size_t i = 0; i < n; i++)
			if (!is_hex_digit(p[i]))
				return false;
		return true;
	}
	/* 32 bytes are 43 base64 characters and one "=". */
	if (n == CL_KEY_BASE64_LEN) {
		for (size_t i = 0; i < n - 1; i++)
			if (!is_base64_char(p[i]))
				return false;
		return p[n - 1] == '=';
	}
	return false;
}

/* cl_key_parse() over n bytes that need not end in NUL. */
static int parse_span(const char *p, size_t n, uint8_t key[CL_KEY_BYTES])
{
	size_t got = 0;
	const char *end = NULL;
	int rc = -1;

	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;

	/* Each decoder stops at the first byte it cannot use and reports
	 * where; demanding that this is the very end, and that exactly 32
	 * bytes came out, refuses trailing garbage and short or long keys.
	 * The base64 decoder also refuses set bits past the 32nd byte, so
	 * every key has exactly one base64 spelling. */
	if (text_alphabet_ok(p, n) && n == CL_KEY_HEX_LEN)
		rc = sodium_hex2bin(key, CL_KEY_BYTES, p, n, NULL, &got, &end);
	else if (text_alphabet_ok(p, n))
		rc = sodium_base642bin(key, CL_KEY_BYTES, p, n, NULL, &got,
				       &end, sodium_base64_VARIANT_ORIGINAL);
	if (rc != 0 || got != CL_KEY_BYTES || end != p + n) {
		sodium_memzero(key, CL_KEY_BYTES);
		return CLOISTER_EINVAL;
	}
	return 0;
}

int cl_key_parse(const char *text, uint8_t key[CL_KEY_BYTES])
{
	if (!text || !key)
		return CLOISTER_EINVAL;
	if (!sodium_ready()) {
		sodium_memzero(key, CL_KEY_BYTES);
		return CLOISTER_EINVAL;
	}
	return parse_span(text, strlen(text), key);
}

static int refuse(char *why, size_t whylen, int rc, const char *path,
		  const char *detail)
{
	if (why && whylen > 0)
		snprintf(why, whylen, "%s: %s", path, detail);
	return rc;
}

int cl_key_from_file(const char *path, uint8_t key[CL_KEY_BYTES], char *why,
		     size_t whylen)
{
	/* One byte more than allowed, to notice a file that is too long. */
	uint8_t buf[CL_KEY_FILE_MAX + 1];
	struct stat st;
	size_t n = 0;
	int rc;

	if (why && whylen > 0)
		why[0] = '\0';
	if (!path || !key)
		return refuse(why, whylen, CLOISTER_EINVAL, "key file",
			      "none given");
	sodium_memzero(key, CL_KEY_BYTES);
	if (!sodium_ready())
		return refuse(why, whylen, CLOISTER_EIO, path,
			      "libsodium failed to initialise");

	/* O_NONBLOCK: a FIFO put in the key's place must not hang us in
	 * open(); fstat() then refuses it as not a regular file.  The checks
	 * are on the open descriptor, so the file cannot be swapped between
	 * check and read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		return refuse(why, whylen,
			      e == ENOENT ? CLOISTER_ENOENT : CLOISTER_EIO,
			      path, strerror(e));
	}
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return refuse(why, whylen, CLOISTER_EIO, path,
			      strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(why, whylen, CLOISTER_EINVAL, path,
			      "not a regular file");
	}
	if ((st.st_mode & 077) != 0) {
		char detail[128];
		snprintf(detail, sizeof detail,
			 "permissions %04o are too open: group and others "
			 "must have no access (chmod 600)",
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return refuse(why, whylen, CLOISTER_EINVAL, path,
			      detail);
	}
	for (;;) {
		ssize_t got = read(fd, buf + n, sizeof buf - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			sodium_memzero(buf, sizeof buf);
			return refuse(why, whylen, CLOISTER_EIO, path,
				      strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == sizeof buf)
			break;
	}
	close(fd);

	if (n > CL_KEY_FILE_MAX) {
		rc = refuse(why, whylen, CLOISTER_EINVAL, path,
			    "larger than 4 KiB: not a key file");
	} else if (n == CL_KEY_BYTES) {
		/* No text form is 32 bytes long (even trimmed), so a 32-byte
		 * file can only be a raw key. */
		memcpy(key, buf, CL_KEY_BYTES);
		rc = 0;
	} else if (memchr(buf, '\0', n) != NULL ||
		   parse_span((const char *)buf, n, key) != 0) {
		rc = refuse(why, whylen, CLOISTER_EINVAL, path,
			    "not a key: want 64 hex digits, 44 characters "
			    "of base64, or 32 raw bytes");
	} else {
		rc = 0;
	}
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int cl_key_from_passphrase(const char *app, const char *passphrase,
			   uint8_t key[CL_KEY_BYTES])
{
	uint8_t hash[crypto_generichash_BYTES];
	uint8_t salt[crypto_pwhash_SALTBYTES];
	crypto_generichash_state st;

	if (!app || !passphrase || !key)
		return CLOISTER_EINVAL;
	sodium_memzero(key, CL_KEY_BYTES);
	if (passphrase[0] == '\0')
		return CLOISTER_EINVAL;
	if (!sodium_ready())
		return CLOISTER_EIO;

	crypto_generichash_init(&st, NULL, 0, sizeof hash);
	crypto_generichash_update(&st, (const uint8_t *)PASSPHRASE_CONTEXT,
				  strlen(PASSPHRASE_CONTEXT));
	crypto_generichash_update(&st, (const uint8_t *)app, strlen(app));
	crypto_generichash_final(&st, hash, sizeof hash);
	memcpy(salt, hash, sizeof salt);

	if (crypto_pwhash(key, CL_KEY_BYTES, passphrase, strlen(passphrase),
			  salt, PASSPHRASE_OPSLIMIT, PASSPHRASE_MEMLIMIT,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_memzero(key, CL_KEY_BYTES);
		return CLOISTER_ENOMEM;
	}
	return 0;
}

const char *cl_key_fingerprint(const uint8_t key[CL_KEY_BYTES],
			       char out[CL_KEY_FINGERPRINT_LEN + 1])
{
	uint8_t hash[crypto_generichash_BYTES];

	if (!sodium_ready()) {
		out[0] = '\0';
		return out;
	}
	crypto_generichash(hash, sizeof hash, key, CL_KEY_BYTES, NULL, 0);
	sodium_bin2hex(out, CL_KEY_FINGERPRINT_LEN + 1, hash,
		       CL_KEY_FINGERPRINT_LEN / 2);
	return out;
}

const char *cl_key_format_base64(const uint8_t key[CL_KEY_BYTES],
				 char out[CL_KEY_BASE64_LEN + 1])
{
	if (!sodium_ready()) {
		out[0] = '\0';
		return out;
	}
	sodium_bin2base64(out, CL_KEY_BASE64_LEN + 1, key, CL_KEY_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	return out;
}
