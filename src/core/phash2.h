/*
 * phash2.h — Erlang's erlang:phash2/1,2 (make_hash2 in the emulator) for
 * the few term types a hash ring needs, and term_to_binary/1 for atoms.
 *
 * Why: Elixir's libring places nodes and keys with :erlang.phash2, so a C
 * process that must agree with a BEAM cluster on "who owns this key" has
 * to reproduce make_hash2 bit for bit.  The function is portable across
 * architectures and endianness by design (Erlang distributes these hashes)
 * and has been stable since R13; tests/vectors/libring.json pins it.
 *
 * Model.  make_hash2 walks a term depth-first, left to right, folding every
 * node into one 32-bit state.  The step functions below do one node each,
 * taking and returning that state; a whole term's hash is the state after
 * stepping through it starting from 0.  For example phash2({'a@h', 7}):
 *
 *   uint32_t h = cl_phash2_step_tuple(0, 2);
 *   h = cl_phash2_step_atom(h, "a@h", 3);
 *   h = cl_phash2_step_int(h, 7);
 *
 * and erlang:phash2(Term, Range) is cl_phash2_range(h, Range).
 *
 * Supported: binaries (whole bytes, not bitstrings), atoms, integers of any
 * size, tuples.  Lists, maps, floats, pids... are not needed and absent.
 *
 * Atoms are given by their name as UTF-8 bytes (how the emulator stores
 * them since OTP 20).  An atom's hash is its atom-table hash value
 * (hashpjw over the name, with a "latin1 clutch" that folds each two-byte
 * UTF-8 sequence for U+0080..U+00FF back to its latin1 byte, so an atom
 * hashes as it did before UTF-8 atoms).
 *
 * Pure functions: no allocation, no global state, thread-safe.
 */
#ifndef CLOISTER_CORE_PHASH2_H
#define CLOISTER_CORE_PHASH2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ stepping */

/* A tuple of `arity` elements; step through the elements next, in order. */
uint32_t cl_phash2_step_tuple(uint32_t h, uint32_t arity);

/* A binary (<<Bytes>>).  Like the emulator, only the low 32 bits of the
 * size count: binaries over 4 GiB hash as their first size mod 2^32 bytes. */
uint32_t cl_phash2_step_binary(uint32_t h, const void *bytes, size_t len);

/* An atom named by `len` UTF-8 bytes.  The bytes are hashed as given (the
 * emulator would refuse invalid UTF-8 when creating the atom; we do not
 * check, the hash is defined on bytes). */
uint32_t cl_phash2_step_atom(uint32_t h, const void *name, size_t len);

/* An integer that fits int64_t. */
uint32_t cl_phash2_step_int(uint32_t h, int64_t v);

/* Any integer: sign and magnitude as little-endian 32-bit words (leading
 * zero words allowed).  Zero is zero whatever the sign. */
uint32_t cl_phash2_step_bigint(uint32_t h, bool negative, const uint32_t *mag,
			       size_t nwords);

/* Longest decimal integer cl_phash2_step_int_text() accepts, in digits. */
#define CL_PHASH2_INT_TEXT_MAX 1000

/* An integer written in decimal: optional '-', then 1..CL_PHASH2_INT_TEXT_MAX
 * digits, nothing else.  Stores the new state in *out and returns 0, or
 * CLOISTER_EINVAL (and leaves *out alone) for anything else. */
int cl_phash2_step_int_text(uint32_t h, const char *text, size_t len,
			    uint32_t *out);

/* --------------------------------------------------------- whole terms */

/* The atom-table hash value of an atom (what phash2(Atom) returns). */
uint32_t cl_phash2_atom_hvalue(const void *name, size_t len);

static inline uint32_t cl_phash2_binary(const void *bytes, size_t len)
{
	return cl_phash2_step_binary(0, bytes, len);
}

static inline uint32_t cl_phash2_atom(const void *name, size_t len)
{
	return cl_phash2_step_atom(0, name, len);
}

static inline uint32_t cl_phash2_int(int64_t v)
{
	return cl_phash2_step_int(0, v);
}

/* erlang:phash2(Term, Range) from the raw 32-bit make_hash2 value:
 * a power-of-two range masks, any other range takes the remainder (so
 * Range 4294967295, libring's, maps raw 4294967295 to 0).  Range must be
 * 1..2^32; 0 or anything above 2^32 returns raw unchanged (2^32 is the
 * identity anyway).  phash2/1 is cl_phash2_range(raw, 1 << 27). */
uint32_t cl_phash2_range(uint32_t raw, uint64_t range);

/* ------------------------------------------------- term_to_binary(Atom) */

/*
 * The external term format of an atom changed default in OTP 26:
 *
 *   OTP <= 25  term_to_binary(A) writes an atom whose characters are all
 *              below U+0100 as ATOM_EXT:  131, 100, u16 len, latin1 bytes
 *              (so 'héllo' is 5 bytes, é = 0xE9), and any other atom as
 *              SMALL_ATOM_UTF8_EXT (131, 119, u8 len, UTF-8) or, over 255
 *              bytes, ATOM_UTF8_EXT (131, 118, u16 len, UTF-8).
 *   OTP >= 26  (and term_to_binary(A, [{minor_version, 2}]) since OTP 23)
 *              always UTF-8: 131, 119, u8 len, bytes; 131, 118, u16 len
 *              over 255 bytes.
 *
 * So the bytes, and every hash of them, differ for nearly every atom.
 */
enum cl_atom_encoding {
	CL_ATOM_ENC_OTP25 = 0, /* ATOM_EXT (100) for latin1-expressible atoms */
	CL_ATOM_ENC_OTP26 = 1  /* SMALL_ATOM_UTF8_EXT (119) always */
};

/* Enough for any atom: version, tag, u16 length, 255 chars x 4 bytes. */
#define CL_ATOM_T2B_MAX (4 + 255 * 4)

/* Writes term_to_binary of the atom named by `len` UTF-8 bytes into out
 * (cap bytes) and returns the byte count, or CLOISTER_EINVAL (invalid
 * UTF-8, more than 255 characters: no such atom) or CLOISTER_ENOSPC. */
int cl_atom_term_to_binary(const void *name, size_t len,
			   enum cl_atom_encoding enc, uint8_t *out, size_t cap);

#endif
