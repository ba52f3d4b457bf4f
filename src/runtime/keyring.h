/*
 * keyring.h — packet and stream encryption with a set of shared keys.
 *
 * Every datagram and every stream frame a node sends is one wire packet
 * (core/wire.h).  With a keyring enabled the runtime seals that packet
 * before it leaves and opens it before the core sees it; without keys the
 * packet goes out in the clear.  All members of a cluster hold the same
 * keys: the keyring authenticates "one of us", not a particular node.
 *
 * Sealed packet, version 1
 * ------------------------
 *    0       1                              25
 *   +-------+------------------------------+--------------------------+-----------+
 *   |  0x01 |  nonce (24 random bytes)     |  ciphertext (len bytes)  | tag (16)  |
 *   +-------+------------------------------+--------------------------+-----------+
 *    version                                 XChaCha20-Poly1305-IETF, AD = byte 0
 *
 *   sealed length = plaintext length + CL_KEYRING_OVERHEAD (41)
 *
 * The AEAD is libsodium's crypto_aead_xchacha20poly1305_ietf with the
 * version byte as additional data, so a packet cannot be relabelled to
 * another version without failing authentication.  The nonce is random:
 * 192 bits make collisions negligible for any number of packets one key
 * will ever seal, so nodes need no nonce state, no clock and no
 * coordination.  Nothing says which key sealed a packet (no key id on the
 * wire): the receiver tries its keys, which keeps an observer from telling
 * rotations apart and costs one Poly1305 check per installed key at worst.
 *
 * Streams: a stream frame is "u32 length | packet" (wire.h); with keys the
 * runtime seals the packet and the length counts the sealed bytes.  Each
 * frame is sealed on its own with a fresh nonce.  Datagrams therefore carry
 * CL_KEYRING_OVERHEAD bytes fewer of plaintext than the MTU, and a stream
 * frame may be up to CL_WIRE_STREAM_MAX + CL_KEYRING_OVERHEAD long.
 *
 * What this does not do: it does not stop replays by itself (a captured
 * packet sealed with a still-installed key opens again; SWIM tolerates
 * duplicates, and stale gossip loses to newer incarnations; the runtime's
 * bounded filter, replay.h, drops a replay of any recently accepted packet
 * before opening it, so a replay flood costs a lookup, not an AEAD), and it
 * does not hide sizes or timing.  The cluster label stays inside the sealed packet, so two clusters
 * sharing a key still drop each other's packets by label.
 *
 * Key rotation
 * ------------
 * A node seals with its primary key and opens with any installed key, so a
 * key can be replaced with no packet lost:
 *
 *   1. install the new key on every node        (all still seal with old)
 *   2. make the new key primary on every node   (mixed senders: both open)
 *   3. remove the old key from every node       (only once step 2 is done
 *                                                everywhere)
 *
 * Skipping ahead (step 2 on a node before step 1 reached all the others)
 * makes that node's packets undecryptable where the key is missing: they are
 * dropped and counted as CL_DROP_AUTH, and the node looks failed to them.
 * The first key installed becomes primary; the primary cannot be removed.
 *
 * Errors
 * ------
 * cl_keyring_open() tells the two ways a packet fails apart, because the
 * runtime counts them under different drop reasons:
 *   CLOISTER_EPROTO  malformed: shorter than CL_KEYRING_OVERHEAD
 *                    (CL_DROP_TRUNCATED) or a version byte other than 1
 *                    (CL_DROP_VERSION; a clear-text wire packet starts
 *                    with 'C' and lands here too)
 *   CLOISTER_EIO     well formed, but no installed key authenticates it:
 *                    wrong key, tampered or cut short  -> CL_DROP_AUTH
 *
 * Threads
 * -------
 * A keyring has no lock of its own: the runtime owns it on its I/O thread.
 * Any number of concurrent seal/open/count/list calls are fine (they only
 * read), but install/use/remove must not run concurrently with anything
 * else on the same keyring; serialize them with the caller's own lock.
 *
 * Key material lives in one sodium_malloc() block (guard pages, mlock()ed
 * where the limit allows, so keys are not swapped out) and is wiped on
 * removal and on cl_keyring_free().  Never log a key: log
 * cl_key_fingerprint() instead.
 */
#ifndef CLOISTER_RUNTIME_KEYRING_H
#define CLOISTER_RUNTIME_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_KEY_BYTES 32
#define CL_KEYRING_MAX 16
#define CL_KEYRING_VERSION 1
#define CL_KEYRING_NONCE_BYTES 24
#define CL_KEYRING_TAG_BYTES 16
/* version + nonce: where the ciphertext starts. */
#define CL_KEYRING_HEADER (1 + CL_KEYRING_NONCE_BYTES)
#define CL_KEYRING_OVERHEAD (CL_KEYRING_HEADER + CL_KEYRING_TAG_BYTES)
/* Text forms of a key: 64 hex digits, or 44 base64 characters. */
#define CL_KEY_HEX_LEN (2 * CL_KEY_BYTES)
#define CL_KEY_BASE64_LEN 44
/* cl_key_fingerprint(): 16 hex digits. */
#define CL_KEY_FINGERPRINT_LEN 16
/* cl_key_from_file() reads no more than this. */
#define CL_KEY_FILE_MAX 4096

typedef struct cl_keyring cl_keyring;

/* ------------------------------------------------------------------ */
/* The keyring                                                         */
/* ------------------------------------------------------------------ */

/* An empty keyring (not enabled: the runtime sends in the clear).  NULL if
 * memory or libsodium's initialisation fails. */
cl_keyring *cl_keyring_new(void);
/* Wipes every key and frees; NULL is fine. */
void cl_keyring_free(cl_keyring *kr);

/* 0; CLOISTER_EEXIST if the key is installed already, CLOISTER_ELIMIT with
 * CL_KEYRING_MAX keys.  The first key installed becomes primary. */
int cl_keyring_install(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES]);
/* Make an installed key the one seal() uses: 0, or CLOISTER_ENOENT. */
int cl_keyring_use(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES]);
/* 0; CLOISTER_ESTATE for the primary key (use() another first),
 * CLOISTER_ENOENT if not installed.  The order of the others is kept. */
int cl_keyring_remove(cl_keyring *kr, const uint8_t key[CL_KEY_BYTES]);

size_t cl_keyring_count(const cl_keyring *kr);
/* Whether any key is installed, i.e. whether traffic is sealed. */
bool cl_keyring_enabled(const cl_keyring *kr);
/* Copies the keys, in installation order, into out[0..count) and the
 * primary's position into *primary_index (may be NULL).  Returns the count,
 * or CLOISTER_ENOSPC if max is smaller (nothing copied).  The copies are
 * key material: wipe them (sodium_memzero) when done. */
int cl_keyring_list(const cl_keyring *kr, uint8_t (*out)[CL_KEY_BYTES],
		    size_t max, size_t *primary_index);

/* Seals len bytes of pt with the primary key into out (cap bytes).
 * Returns len + CL_KEYRING_OVERHEAD, or: CLOISTER_ESTATE with no key,
 * CLOISTER_ENOSPC if cap is too small, CLOISTER_EINVAL if the result would
 * not fit an int or the buffers overlap other than in place.  In place:
 * pt == out + CL_KEYRING_HEADER is allowed (build the packet there, then
 * seal it where it lies). */
int cl_keyring_seal(const cl_keyring *kr, const uint8_t *pt, size_t len,
		    uint8_t *out, size_t cap);
/* Opens a sealed packet into out (cap bytes; len - CL_KEYRING_OVERHEAD are
 * needed).  Tries the primary key, then the others in installation order;
 * allocates nothing.  Returns the plaintext length, or:
 *   CLOISTER_EPROTO  malformed (too short, unknown version)
 *   CLOISTER_EIO     no installed key authenticates it
 *   CLOISTER_ESTATE  no key installed
 *   CLOISTER_ENOSPC  cap too small
 *   CLOISTER_EINVAL  out overlaps in
 * On failure out holds no plaintext.  out must not overlap in at all: a
 * failed attempt under one key wipes out before the next key is tried. */
int cl_keyring_open(const cl_keyring *kr, const uint8_t *in, size_t len,
		    uint8_t *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Key material                                                        */
/* ------------------------------------------------------------------ */

/* A fresh random key: 0, or CLOISTER_EIO if libsodium cannot start. */
int cl_key_generate(uint8_t key[CL_KEY_BYTES]);

/* Text to key: exactly 64 hex digits (either case), or standard base64
 * (RFC 4648 alphabet, "=" padding, 44 characters, canonical) of 32 bytes;
 * whitespace before and after is ignored, none inside.  0, or
 * CLOISTER_EINVAL (key then zeroed). */
int cl_key_parse(const char *text, uint8_t key[CL_KEY_BYTES]);

/* Reads a key file: the text forms above, or exactly 32 raw bytes.  Like
 * ssh with private keys, a file that group or others may access at all
 * (mode & 077) is refused, as is anything but a regular file or a file over
 * CL_KEY_FILE_MAX bytes.  0, or CLOISTER_ENOENT (no such file),
 * CLOISTER_EIO (cannot read), CLOISTER_EINVAL (refused or not a key), with
 * the reason in why (whylen bytes, may be NULL/0). */
int cl_key_from_file(const char *path, uint8_t key[CL_KEY_BYTES], char *why,
		     size_t whylen);

/* The key every node of cluster app derives from one passphrase (an Erlang
 * cookie with a real KDF):
 *   salt = BLAKE2b-256("cloister-passphrase-v1" || app)[0..16)
 *   key  = Argon2id v1.3(passphrase, salt, ops 2, mem 64 MiB, 32 bytes)
 * (crypto_generichash with its default 32-byte output, then crypto_pwhash
 * with libsodium's Argon2id "interactive" limits, pinned here as numbers so
 * a libsodium upgrade cannot change the key).  Takes about 0.1 s and 64 MiB.
 * 0; CLOISTER_EINVAL for an empty passphrase, CLOISTER_ENOMEM if the
 * memory is not available. */
int cl_key_from_passphrase(const char *app, const char *passphrase,
			   uint8_t key[CL_KEY_BYTES]);

/* The first 8 bytes of BLAKE2b-256(key) as 16 lowercase hex digits: names a
 * key in logs and "keys list" without revealing it.  Returns out. */
const char *cl_key_fingerprint(const uint8_t key[CL_KEY_BYTES],
			       char out[CL_KEY_FINGERPRINT_LEN + 1]);

/* The key as 44 characters of padded standard base64 (cl_key_parse()
 * reads it back).  Returns out. */
const char *cl_key_format_base64(const uint8_t key[CL_KEY_BYTES],
				 char out[CL_KEY_BASE64_LEN + 1]);

#endif
