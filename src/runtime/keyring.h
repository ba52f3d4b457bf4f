/*
 * keyring.h — packet and stream encryption with a set of shared keys.
 *
 * Every datagram and every stream frame a node sends is one wire packet
 * (core/wire.h).  With a keyring enabled the runtime seals that packet
 * before it leaves and opens it before the core sees it; without keys the
 * packet goes out in the clear.  All members of a cluster hold the same
 * keys: the keyring authenticates "one of us", not a particular node.
 *
 * Sealed packet, version 2
 * ------------------------
 *    0      1      2              10             18             26             34
 *   +------+------+--------------+--------------+--------------+--------------+------------+-----------+
 *   | 0x02 | kind |  sender id   |  time (us)   |  random (8)  | recipient id | ciphertext | tag (16)  |
 *   +------+------+--------------+--------------+--------------+--------------+------------+-----------+
 *    version       \___________ nonce (24) ____________________/
 *                  u64 big endian fields        XChaCha20-Poly1305-IETF, AD = bytes 0..34
 *
 *   kind       0 a datagram, 1 the head of a stream frame (see "Streams")
 *   sender     cl_swim_name_id() of the sending node's name
 *   time       the sender's wall clock in microseconds since the Unix epoch,
 *              made strictly increasing per sending process: a counter that
 *              is also a time
 *   random     8 fresh random bytes
 *   recipient  cl_swim_name_id() of the member the packet is for, 0 when
 *              the sender does not know (below)
 *
 *   sealed length = plaintext length + CL_KEYRING_OVERHEAD (50)
 *
 * The whole 34-byte header is the AEAD's additional data, and bytes 2..26
 * are its nonce, so no header bit can change without failing
 * authentication.  The nonce is unique without coordination: a sender's
 * times never repeat within a process, and the 64 random bits separate two
 * processes of one name whose clocks overlap (a restart with the clock set
 * back).  The header is authenticated, not hidden: it says which node
 * (by a hash of its name, as its IP address already does) sent what to
 * whom, and when.  Keeping it in the clear lets a receiver drop a
 * misdirected, stale or replayed packet before any cryptography, so a
 * flood of captured packets costs a table lookup each.
 *
 * What the receiver checks (the runtime, replay.h), each counted apart:
 *   - recipient is 0 or its own id ("drops_recipient"): a packet captured
 *     on its way to one node does nothing at another;
 *   - time is within CL_REPLAY_SKEW_US (2 minutes) of its own clock
 *     ("drops_stale"): bounds how long a capture stays usable anywhere;
 *   - the sender's replay window has not seen that time ("drops_replay")
 *     and it is not older than the window ("drops_too_old");
 *   - then the AEAD ("drops_auth"), and only an authenticated packet moves
 *     the window.
 * Datagrams and stream frames have a window each per sender (kind
 * separates them, so neither can be replayed as the other).
 *
 * What remains (accepted on purpose):
 *   - recipient 0: a join's push-pull to a seed address (the seed's name
 *     is not known yet).  Replayed within the skew to another node it is
 *     taken once more; it carries membership state that newer
 *     incarnations override, never an application message.  A reply on an
 *     inbound stream is bound to the requester's sender id.
 *   - a node that restarted, or whose table dropped the sender (more than
 *     CL_REPLAY_SENDERS senders), has no window for it: a packet captured
 *     for it in the last 2 minutes opens there once.
 *   - any key holder can seal anything: binding stops outsiders replaying
 *     captures, not members lying.
 *   - a clock more than 2 minutes off makes a node's packets stale
 *     everywhere (counted): run NTP, as for TLS and Kerberos.
 *
 * Streams: a frame is "u32 length | head unit" and, for a packet too long
 * for one unit, the chunk units that follow:
 *
 *   +--------+-------------------------------------------------------+--------------+-----+
 *   | u32 n  | head unit: sealed packet, kind 1, n bytes               | chunk 1      | ... |
 *   |        | plaintext = u32 total | packet[0 .. min(total, U-4))    | ct | tag(16) |     |
 *   +--------+-------------------------------------------------------+--------------+-----+
 *
 *   U = CL_FRAME_UNIT (64 KiB) plaintext bytes a unit; n <= U + 50
 *   chunk i (1, 2, ...): the next min(U, left) bytes of the packet, sealed
 *   with the head's key, nonce = the head's with random XOR u64(i), AD = the
 *   head's 34-byte header | u32 i (big endian)
 *
 * A receiver holds at most one unit (64 KiB) of a frame before it
 * authenticates: the length prefix is bounded by the unit, the head opens
 * before anything else is read, and each chunk opens before it is added.
 * Chunks cannot be reordered, moved to another frame or dropped from the
 * end (the index and the head are in every chunk's AD; total is sealed in
 * the head).  Frames and their deadlines are in frame.h.
 *
 * What this does not do: it does not hide sizes or timing.  The cluster
 * label stays inside the sealed packet, so two clusters sharing a key
 * still drop each other's packets by label.
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
 *                    (CL_DROP_TRUNCATED), a version byte other than 2
 *                    (CL_DROP_VERSION; a clear-text wire packet starts
 *                    with 'C': "drops_plaintext") or an unknown kind
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
#define CL_KEYRING_VERSION 2
#define CL_KEYRING_NONCE_BYTES 24
#define CL_KEYRING_TAG_BYTES 16
/* The clear header: version, kind, sender, time, random, recipient; the
 * ciphertext starts here. */
#define CL_KEYRING_HEADER 34
/* Where the nonce (sender, time, random) lies in the header. */
#define CL_KEYRING_NONCE_AT 2
#define CL_KEYRING_OVERHEAD (CL_KEYRING_HEADER + CL_KEYRING_TAG_BYTES)
/* Kinds: what the packet travels as. */
#define CL_SEAL_DATAGRAM 0
#define CL_SEAL_STREAM 1
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

/* What a sealed packet's header binds (all of it authenticated). */
typedef struct cl_seal_info {
	uint8_t kind;       /* CL_SEAL_DATAGRAM or CL_SEAL_STREAM */
	uint64_t sender;    /* cl_swim_name_id() of the sender's name */
	uint64_t time_us;   /* the sender's strictly increasing clock */
	uint64_t recipient; /* cl_swim_name_id() of the recipient, or 0 */
} cl_seal_info;

/* Seals len bytes of pt with the primary key into out (cap bytes), under a
 * header made of info and 8 fresh random bytes.  Returns
 * len + CL_KEYRING_OVERHEAD, or: CLOISTER_ESTATE with no key,
 * CLOISTER_ENOSPC if cap is too small, CLOISTER_EINVAL for an unknown kind,
 * a result that would not fit an int, or buffers that overlap other than
 * in place.  In place: pt == out + CL_KEYRING_HEADER is allowed (build the
 * packet there, then seal it where it lies). */
int cl_keyring_seal(const cl_keyring *kr, const cl_seal_info *info,
		    const uint8_t *pt, size_t len, uint8_t *out, size_t cap);
/* Reads a sealed packet's clear header, without cryptography (nothing in
 * it is trusted until cl_keyring_open() succeeds).  0, or CLOISTER_EPROTO:
 * shorter than CL_KEYRING_OVERHEAD, another version, or an unknown kind. */
int cl_keyring_peek(const uint8_t *in, size_t len, cl_seal_info *info);
/* Opens a sealed packet into out (cap bytes; len - CL_KEYRING_OVERHEAD are
 * needed).  Tries the primary key, then the others in installation order;
 * allocates nothing.  Returns the plaintext length, with the header in
 * *info (may be NULL), or:
 *   CLOISTER_EPROTO  malformed (as cl_keyring_peek())
 *   CLOISTER_EIO     no installed key authenticates it
 *   CLOISTER_ESTATE  no key installed
 *   CLOISTER_ENOSPC  cap too small
 *   CLOISTER_EINVAL  out overlaps in
 * On failure out holds no plaintext.  out must not overlap in at all: a
 * failed attempt under one key wipes out before the next key is tried. */
int cl_keyring_open(const cl_keyring *kr, const uint8_t *in, size_t len,
		    uint8_t *out, size_t cap, cl_seal_info *info);

/* Stream chunks (see "Streams" above): chunk index (>= 1) of the frame
 * whose head unit starts with head (its CL_KEYRING_HEADER bytes).
 * seal_chunk uses the primary key, as the head did (a frame is sealed in
 * one call under the node's lock, so the primary cannot change between).
 * Returns len + CL_KEYRING_TAG_BYTES, or CLOISTER_ESTATE / ENOSPC / EINVAL
 * as seal (index 0 is EINVAL; pt == out is allowed).  open_chunk returns
 * the plaintext length or CLOISTER_EPROTO (shorter than a tag), CLOISTER_EIO
 * (no key authenticates it here: another frame, index or key, tampered),
 * CLOISTER_ESTATE, CLOISTER_ENOSPC, CLOISTER_EINVAL (index 0, or out
 * overlapping in: as for open, a failed key wipes out). */
int cl_keyring_seal_chunk(const cl_keyring *kr,
			  const uint8_t head[CL_KEYRING_HEADER], uint32_t index,
			  const uint8_t *pt, size_t len, uint8_t *out,
			  size_t cap);
int cl_keyring_open_chunk(const cl_keyring *kr,
			  const uint8_t head[CL_KEYRING_HEADER], uint32_t index,
			  const uint8_t *in, size_t len, uint8_t *out,
			  size_t cap);

/* ------------------------------------------------------------------ */
/* Sealed packets version 1 (deprecated)                               */
/* ------------------------------------------------------------------ */

/*
 * The format of protocol version 1 (core/wire.h, CL_PROTO_*), spoken only
 * to peers that predate sealed v2, while the node runs with
 * protocol_min = 1 for a rolling upgrade:
 *
 *   | 0x01 | nonce (24 random bytes) | ciphertext | tag (16) |
 *   XChaCha20-Poly1305-IETF, AD = byte 0; 41 bytes of overhead.
 *
 * Nothing binds it to a sender, a recipient or a time: a captured v1
 * packet opens again anywhere, for as long as its key is installed (the
 * runtime checks nothing before the AEAD for it and gives it no sender,
 * so application messages in it are refused: messaging.c).  That is why
 * it is off by default and meant only for the length of an upgrade.
 */
#define CL_KEYRING_V1 1
#define CL_KEYRING_V1_OVERHEAD (1 + CL_KEYRING_NONCE_BYTES + CL_KEYRING_TAG_BYTES)

/* Seals with the primary key: len + CL_KEYRING_V1_OVERHEAD, or
 * CLOISTER_ESTATE (no key), CLOISTER_ENOSPC, CLOISTER_EINVAL. */
int cl_keyring_seal_v1(const cl_keyring *kr, const uint8_t *pt, size_t len,
		       uint8_t *out, size_t cap);
/* Opens with any installed key: the plaintext length, or CLOISTER_EPROTO
 * (shorter than the overhead, or not version 1), CLOISTER_EIO (no key
 * opens it), CLOISTER_ESTATE, CLOISTER_ENOSPC, CLOISTER_EINVAL. */
int cl_keyring_open_v1(const cl_keyring *kr, const uint8_t *in, size_t len,
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
