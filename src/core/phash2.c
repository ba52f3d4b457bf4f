/*
 * phash2.c — make_hash2 (erlang:phash2) and term_to_binary for atoms.
 *
 * Written from the description of the emulator's algorithm; the constants
 * and the order of operations are the contract, checked against values
 * produced by a real OTP 25 node (tests/vectors/libring.json).
 */
#include "phash2.h"

#include <string.h>

#include "cloister.h"

/* ------------------------------------------------------------ the mixer */

/*
 * make_hash2 folds every term node into the running state with Bob
 * Jenkins' 1996 lookup2 mix: two 32-bit inputs (a, b) and the state (c).
 * The inputs are offset by a per-type constant, a multiple of the golden
 * ratio 0x9e3779b9, so that e.g. the integer 5 and the tuple arity 5 mix
 * differently.  The multiples used (mod 2^32):
 */
#define GOLDEN 0x9e3779b9u
#define K_SMALL (GOLDEN * 1u)   /* integers in 28 bits */
#define K_ATOM (GOLDEN * 3u)    /* an atom inside a compound term */
#define K_TUPLE (GOLDEN * 9u)   /* tuple arity */
#define K_BIG_NEG (GOLDEN * 10u) /* other negative integers */
#define K_BIG_POS (GOLDEN * 11u) /* other non-negative integers */
#define K_BINARY (GOLDEN * 13u) /* binary: seeds the block hash */

_Static_assert(K_TUPLE == 0x8ff34781u, "HCONST_9");
_Static_assert(K_BIG_NEG == 0x2e2ac13au, "HCONST_10");
_Static_assert(K_BIG_POS == 0xcc623af3u, "HCONST_11");
_Static_assert(K_BINARY == 0x08d12e65u, "HCONST_13");

static inline void mix(uint32_t *pa, uint32_t *pb, uint32_t *pc)
{
	uint32_t a = *pa, b = *pb, c = *pc;

	a -= b; a -= c; a ^= c >> 13;
	b -= c; b -= a; b ^= a << 8;
	c -= a; c -= b; c ^= b >> 13;
	a -= b; a -= c; a ^= c >> 12;
	b -= c; b -= a; b ^= a << 16;
	c -= a; c -= b; c ^= b >> 5;
	a -= b; a -= c; a ^= c >> 3;
	b -= c; b -= a; b ^= a << 10;
	c -= a; c -= b; c ^= b >> 15;
	*pa = a;
	*pb = b;
	*pc = c;
}

/* One node of two 32-bit words under type constant k. */
static inline uint32_t step2(uint32_t h, uint32_t x, uint32_t y, uint32_t k)
{
	uint32_t a = k + x, b = k + y;

	mix(&a, &b, &h);
	return h;
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* lookup2 over a byte block, seeded with the running state: 12 bytes per
 * round, then the tail with the length folded into c (whose low byte the
 * tail never touches). */
static uint32_t block_hash(const uint8_t *k, uint32_t length, uint32_t seed)
{
	uint32_t a = GOLDEN, b = GOLDEN, c = seed;
	uint32_t len = length;

	while (len >= 12) {
		a += le32(k);
		b += le32(k + 4);
		c += le32(k + 8);
		mix(&a, &b, &c);
		k += 12;
		len -= 12;
	}
	c += length;
	switch (len) { /* every case falls through */
	case 11: c += (uint32_t)k[10] << 24; /* fall through */
	case 10: c += (uint32_t)k[9] << 16;  /* fall through */
	case 9: c += (uint32_t)k[8] << 8;    /* fall through */
	case 8: b += (uint32_t)k[7] << 24;   /* fall through */
	case 7: b += (uint32_t)k[6] << 16;   /* fall through */
	case 6: b += (uint32_t)k[5] << 8;    /* fall through */
	case 5: b += k[4];                   /* fall through */
	case 4: a += (uint32_t)k[3] << 24;   /* fall through */
	case 3: a += (uint32_t)k[2] << 16;   /* fall through */
	case 2: a += (uint32_t)k[1] << 8;    /* fall through */
	case 1: a += k[0];                   /* fall through */
	default: break;
	}
	mix(&a, &b, &c);
	return c;
}

/* ------------------------------------------------------------ stepping */

uint32_t cl_phash2_step_tuple(uint32_t h, uint32_t arity)
{
	return step2(h, arity, 0, K_TUPLE);
}

uint32_t cl_phash2_step_binary(uint32_t h, const void *bytes, size_t len)
{
	/* The emulator keeps only the low 32 bits of the size (an old
	 * compatibility promise), so do we. */
	uint32_t sz = (uint32_t)len;
	uint32_t seed = K_BINARY + h;

	if (sz == 0)
		return seed;
	return block_hash(bytes, sz, seed);
}

uint32_t cl_phash2_atom_hvalue(const void *name, size_t len)
{
	const uint8_t *p = name;
	uint32_t h = 0;

	while (len--) {
		uint8_t v = *p++;

		/* Latin1 clutch: C2/C3 + continuation is one latin1 char;
		 * the byte arithmetic truncates exactly as the emulator's. */
		if (len && (v & 0xFE) == 0xC2 && (*p & 0xC0) == 0x80) {
			v = (uint8_t)((v << 6) | (*p & 0x3F));
			p++;
			len--;
		}
		/* hashpjw.  The emulator's state may be 64 bits wide, but bits
		 * above 31 only ever shift further left, so the low 32 bits
		 * (all make_hash2 keeps) are the same as here. */
		h = (h << 4) + v;
		uint32_t g = h & 0xf0000000u;
		if (g) {
			h ^= g >> 24;
			h ^= g;
		}
	}
	return h;
}

uint32_t cl_phash2_step_atom(uint32_t h, const void *name, size_t len)
{
	uint32_t hv = cl_phash2_atom_hvalue(name, len);

	/* A fresh state (a bare atom, or one met before anything was mixed)
	 * takes the table hash value unmixed. */
	if (h == 0)
		return hv;
	return step2(h, hv, 0, K_ATOM);
}

/* Integers in [-2^27, 2^27) are "small" in the hash's eyes (the original
 * 32-bit tagging); negative ones are mixed twice, magnitude then value. */
#define SMALL28_MIN (-((int64_t)1 << 27))
#define SMALL28_MAX (((int64_t)1 << 27) - 1)

static uint32_t step_small28(uint32_t h, int32_t y)
{
	if (y < 0)
		h = step2(h, (uint32_t)-y, 0, K_SMALL);
	return step2(h, (uint32_t)y, 0, K_SMALL);
}

uint32_t cl_phash2_step_bigint(uint32_t h, bool negative, const uint32_t *mag,
			       size_t nwords)
{
	while (nwords > 0 && mag[nwords - 1] == 0)
		nwords--;
	if (nwords == 0)
		return step_small28(h, 0);
	if (nwords == 1) {
		int64_t v = negative ? -(int64_t)mag[0] : (int64_t)mag[0];

		if (v >= SMALL28_MIN && v <= SMALL28_MAX)
			return step_small28(h, (int32_t)v);
	}
	/* Anything else hashes as a bignum of 64-bit digits (whether the
	 * emulator holds it as a small or not): the magnitude's 32-bit words
	 * from the least significant, two per mix, a zero word padding the
	 * last pair. */
	uint32_t k = negative ? K_BIG_NEG : K_BIG_POS;
	for (size_t i = 0; i < nwords; i += 2)
		h = step2(h, mag[i], i + 1 < nwords ? mag[i + 1] : 0, k);
	return h;
}

uint32_t cl_phash2_step_int(uint32_t h, int64_t v)
{
	if (v >= SMALL28_MIN && v <= SMALL28_MAX)
		return step_small28(h, (int32_t)v);
	/* Magnitude without overflow, INT64_MIN included. */
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint32_t words[2] = {(uint32_t)m, (uint32_t)(m >> 32)};
	return cl_phash2_step_bigint(h, v < 0, words, 2);
}

int cl_phash2_step_int_text(uint32_t h, const char *text, size_t len,
			    uint32_t *out)
{
	/* 10^CL_PHASH2_INT_TEXT_MAX < 2^(3.33 * digits): room to spare. */
	enum { WORDS = CL_PHASH2_INT_TEXT_MAX * 10 / 96 + 2 };
	uint32_t mag[WORDS];
	size_t n = 0, i = 0;
	bool negative = false;

	if (!text || !out)
		return CLOISTER_EINVAL;
	if (len > 0 && text[0] == '-') {
		negative = true;
		i = 1;
	}
	if (len == i || len - i > CL_PHASH2_INT_TEXT_MAX)
		return CLOISTER_EINVAL;
	for (size_t j = i; j < len; j++)
		if (text[j] < '0' || text[j] > '9')
			return CLOISTER_EINVAL;

	/* Schoolbook base conversion, nine digits (< 2^32) at a time. */
	while (i < len) {
		uint32_t chunk = 0, scale = 1;

		for (int d = 0; d < 9 && i < len; d++, i++) {
			chunk = chunk * 10 + (uint32_t)(text[i] - '0');
			scale *= 10;
		}
		uint64_t carry = chunk;
		for (size_t w = 0; w < n; w++) {
			uint64_t t = (uint64_t)mag[w] * scale + carry;
			mag[w] = (uint32_t)t;
			carry = t >> 32;
		}
		if (carry)
			mag[n++] = (uint32_t)carry;
	}
	*out = cl_phash2_step_bigint(h, negative, mag, n);
	return 0;
}

uint32_t cl_phash2_range(uint32_t raw, uint64_t range)
{
	if (range == 0 || range > ((uint64_t)1 << 32))
		return raw;
	if ((range & (range - 1)) == 0)
		return (uint32_t)(raw & (range - 1));
	return (uint32_t)(raw % range);
}

/* ------------------------------------------------- term_to_binary(Atom) */

#define VERSION_MAGIC 131
#define ATOM_EXT 100
#define ATOM_UTF8_EXT 118
#define SMALL_ATOM_UTF8_EXT 119
#define ATOM_MAX_CHARS 255

/* Decodes one UTF-8 sequence at p (n bytes left); returns its length and
 * sets *cp, or 0 if it is not well-formed (overlong, surrogate, > U+10FFFF,
 * truncated): the emulator will not make an atom of such bytes. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t len;

	*cp = 0; /* defined on the failure paths too */
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

int cl_atom_term_to_binary(const void *name, size_t len,
			   enum cl_atom_encoding enc, uint8_t *out, size_t cap)
{
	const uint8_t *p = name;
	size_t chars = 0;
	bool latin1 = true;

	if ((!name && len) || !out ||
	    (enc != CL_ATOM_ENC_OTP25 && enc != CL_ATOM_ENC_OTP26))
		return CLOISTER_EINVAL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(p + i, len - i, &cp);

		if (n == 0)
			return CLOISTER_EINVAL;
		if (cp > 0xFF)
			latin1 = false;
		i += n;
		chars++;
	}
	if (chars > ATOM_MAX_CHARS)
		return CLOISTER_EINVAL;

	if (enc == CL_ATOM_ENC_OTP25 && latin1) {
		/* ATOM_EXT carries latin1: one byte per character. */
		if (cap < 4 + chars)
			return CLOISTER_ENOSPC;
		out[0] = VERSION_MAGIC;
		out[1] = ATOM_EXT;
		out[2] = (uint8_t)(chars >> 8);
		out[3] = (uint8_t)chars;
		size_t o = 4;
		for (size_t i = 0; i < len;) {
			uint32_t cp;
			i += utf8_next(p + i, len - i, &cp);
			out[o++] = (uint8_t)cp;
		}
		return (int)o;
	}
	if (len <= 255) {
		if (cap < 3 + len)
			return CLOISTER_ENOSPC;
		out[0] = VERSION_MAGIC;
		out[1] = SMALL_ATOM_UTF8_EXT;
		out[2] = (uint8_t)len;
		if (len)
			memcpy(out + 3, p, len);
		return (int)(3 + len);
	}
	if (cap < 4 + len)
		return CLOISTER_ENOSPC;
	out[0] = VERSION_MAGIC;
	out[1] = ATOM_UTF8_EXT;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memcpy(out + 4, p, len);
	return (int)(4 + len);
}
