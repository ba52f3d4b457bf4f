/*
 * ring.h — consistent hashing: which member owns a key.
 *
 * A ring is a set of members (byte-string names, 1..255 bytes, copied).
 * Each member is placed on a circle of hash values at several points
 * ("virtual nodes": vnodes x weight of them, 128 x 1 by default), and a key
 * belongs to the member owning the first point at or after the key's hash,
 * wrapping past the largest point to the smallest.  Adding or removing a
 * member moves only the keys that land on its points: about 1/N of them.
 *
 * The ring knows nothing of clusters: named rings, or rings of members with
 * some tag, are built by the caller from membership events.
 *
 * Two placement algorithms
 * ------------------------
 * CL_RING_DEFAULT   point j (0 <= j < vnodes x weight) of member NAME is
 *                   XXH3_64bits(NAME || u32 little-endian j), a key's hash
 *                   is XXH3_64bits(key): 64-bit points, so collisions are
 *                   practically absent; equal points are ordered by name
 *                   (bytewise, shorter first), so every process holding the
 *                   same member set computes the same owners.
 *
 * CL_RING_LIBRING   Elixir libring 1.7.0 (HashRing), bit for bit, so a C
 *                   process agrees with a BEAM cluster's placement.  Point
 *                   i = 1..P (P = vnodes x weight; libring's "weight" is P,
 *                   128 by default) of node N is
 *                       :erlang.phash2({N, i}, 4294967295)
 *                   where N is the atom named NAME (default) or the binary
 *                   NAME (cl_ring_set_node_kind).  A point equal to one
 *                   already on the ring is dropped: the first inserted
 *                   keeps it, and removing that member does not give the
 *                   point back to the other (libring's gb_trees do the
 *                   same).  Placement can therefore depend on history when
 *                   32-bit points collide (P^2 / 2^33 pairs expected: about
 *                   two at 1,000 x 128); the checksum reflects the actual
 *                   points.
 *                   A key's hash is :erlang.phash2(Key, 4294967295) of the
 *                   term cl_ring_set_key_kind() says the key bytes stand for.
 *
 * Atom keys and OTP 26
 * --------------------
 * libring's key_to_node turns an atom key into :erlang.term_to_binary(Atom)
 * before hashing, and that binary changed with OTP 26: up to OTP 25 an atom
 * whose characters are all latin1 is written ATOM_EXT (131, 100, u16 len,
 * latin1 bytes), from OTP 26 every atom is SMALL_ATOM_UTF8_EXT (131, 119,
 * u8 len, UTF-8 bytes).  So the same ring gives different owners for atom
 * keys depending on the OTP release of the BEAM side; pick the one that
 * matches it: CL_RING_KEY_ATOM_OTP25 or CL_RING_KEY_ATOM_OTP26.  Binary and
 * integer keys, and the node points, are the same under every release.
 *
 * Cost
 * ----
 * Points live in one sorted array; an index over the top bits of the hash
 * (about one bucket per point) makes a lookup one index load plus a scan of
 * a bucket: about 30 ns at 1,000 x 128 points, a quarter of a plain binary
 * search.  A mutation merges the new member's points into the array (no
 * re-sort: one memmove per point) or squeezes the old one's out, and
 * shifts or recounts the index's bucket starts: O(points), about 0.1 ms
 * (add) and 0.3 ms (remove) at 1,000 x 128.  cl_ring_add_many() and
 * cl_ring_remove_many() take a batch for one such pass, so settling k
 * changes costs one walk, not k (the batch's own points are radix-sorted:
 * a 1,000 x 128 build takes 13 ms, 50 ms with qsort).
 *
 * Thread safety: none inside.  Lookups (const functions) never modify the
 * ring, so any number may run at once under the caller's read lock; every
 * mutation needs exclusive access.
 *
 * Lifetimes: a returned member name points into the ring (with a NUL after
 * its `len` bytes for convenience; names may contain NUL themselves) and is
 * valid until the next mutation of the ring (add, remove, clear, free).
 *
 * Errors are negative CLOISTER_E* codes (cloister.h).
 */
#ifndef CLOISTER_CORE_RING_H
#define CLOISTER_CORE_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct cl_ring cl_ring;

enum cl_ring_algorithm {
	CL_RING_DEFAULT = 0, /* XXH3, 64-bit points, indexed lookup */
	CL_RING_LIBRING = 1  /* Elixir libring 1.7.0 compatible */
};

/* libring only: which Erlang term a member name stands for. */
enum cl_ring_node_kind {
	CL_RING_NODE_ATOM = 0, /* 'a@host' (Erlang node names): the default */
	CL_RING_NODE_BINARY    /* <<"a">> (Elixir strings) */
};

/* What the key bytes passed to a lookup stand for. */
enum cl_ring_key_kind {
	CL_RING_KEY_BINARY = 0,   /* the bytes themselves (<<"...">> in libring) */
	CL_RING_KEY_ATOM_OTP25,   /* libring: atom named by UTF-8 bytes, hashed
				     as term_to_binary under OTP <= 25 */
	CL_RING_KEY_ATOM_OTP26,   /* libring: same, OTP >= 26 encoding */
	CL_RING_KEY_ATOM_RAW,     /* libring: phash2 of the atom itself, as
				     upstream key_to_nodes (not key_to_node)
				     does */
	CL_RING_KEY_INTEGER       /* libring: decimal text of an integer,
				     e.g. "42", "-18446744073709551616" */
};

#define CL_RING_DEFAULT_VNODES 128
#define CL_RING_NAME_MAX 255
/* Bounds that keep a ring's arrays addressable with 32-bit indexes and a
 * careless weight from allocating gigabytes. */
#define CL_RING_MAX_VNODES 65536u
#define CL_RING_MAX_MEMBER_POINTS (1u << 20)
/* libring's hash range: phash2(Term, 2^32 - 1). */
#define CL_RING_LIBRING_RANGE 4294967295u

/* A new empty ring; vnodes 0 means CL_RING_DEFAULT_VNODES.  NULL on an
 * unknown algorithm, vnodes > CL_RING_MAX_VNODES, or no memory. */
cl_ring *cl_ring_new(enum cl_ring_algorithm alg, unsigned vnodes);
void cl_ring_free(cl_ring *r);

/* libring only (CLOISTER_EINVAL otherwise); the node kind can change only
 * while the ring has no member (CLOISTER_ESTATE). */
int cl_ring_set_node_kind(cl_ring *r, enum cl_ring_node_kind kind);
/* The key kind of cl_ring_whois/_whois_n/_key_hash.  Only
 * CL_RING_KEY_BINARY is valid for CL_RING_DEFAULT. */
int cl_ring_set_key_kind(cl_ring *r, enum cl_ring_key_kind kind);

/* Adds a member with vnodes x weight points (weight >= 1: weight 2 gets
 * twice the points, so about twice the keys).  0 on success;
 * CLOISTER_EINVAL (NULL/empty/over-long name, weight 0), CLOISTER_EEXIST,
 * CLOISTER_ELIMIT (too many points), CLOISTER_ENOMEM.  On error the ring is
 * unchanged. */
int cl_ring_add(cl_ring *r, const void *name, size_t len, unsigned weight);
/* The same with an exact point count (libring's `weight`), 1..
 * CL_RING_MAX_MEMBER_POINTS. */
int cl_ring_add_points(cl_ring *r, const void *name, size_t len,
		       unsigned points);
/* Adds n members at once with a single merge and index build (weights NULL
 * means 1 each).  All or nothing: any invalid or duplicate name (within the
 * batch or already present) fails the whole call.  In libring mode the
 * batch is inserted in array order, as HashRing.add_nodes does. */
int cl_ring_add_many(cl_ring *r, size_t n, const void *const names[],
		     const size_t lens[], const unsigned weights[]);
/* 0, or CLOISTER_ENOENT if no such member (CLOISTER_EINVAL for a bad name). */
int cl_ring_remove(cl_ring *r, const void *name, size_t len);
/* Removes n members in one pass over the points.  All or nothing:
 * CLOISTER_ENOENT if any is absent, CLOISTER_EEXIST if one is named twice,
 * CLOISTER_EINVAL for a bad name, CLOISTER_ENOMEM; the ring is then
 * unchanged. */
int cl_ring_remove_many(cl_ring *r, size_t n, const void *const names[],
			const size_t lens[]);
void cl_ring_clear(cl_ring *r);

/* Members, and points on the ring. */
size_t cl_ring_size(const cl_ring *r);
size_t cl_ring_points(const cl_ring *r);
/* Points a member holds (libring: after collisions), or CLOISTER_ENOENT. */
long cl_ring_member_points(const cl_ring *r, const void *name, size_t len);
/* Points it was added with (vnodes x weight, or add_points' count), which
 * libring collisions never lower: compare this, not the above, to detect a
 * changed weight.  CLOISTER_ENOENT if absent. */
long cl_ring_member_requested(const cl_ring *r, const void *name, size_t len);

/* The owner of a key: its name (length in *name_len if not NULL), or NULL
 * if the ring is empty or the key is not valid for the key kind. */
const char *cl_ring_whois(const cl_ring *r, const void *key, size_t keylen,
			  size_t *name_len);
/* Up to n distinct members for a key: the owner first, then the owners of
 * the following points in ring order (wrapping around), skipping members
 * already listed: the usual replica set.  Fills out_names[i] (and
 * out_lens[i] if out_lens is not NULL) and returns how many, which is
 * min(n, members on the ring); 0 on an empty ring.  CLOISTER_EINVAL for a
 * bad argument or key, CLOISTER_ENOMEM (large n needs a scratch bitmap). */
int cl_ring_whois_n(const cl_ring *r, const void *key, size_t keylen,
		    size_t n, const char *out_names[], size_t out_lens[]);

/* A key's position on the ring (0..2^64-1, or libring 0..2^32-2). */
int cl_ring_key_hash(const cl_ring *r, const void *key, size_t keylen,
		     uint64_t *out);
/* Lookups by position, for callers that hash keys themselves. */
const char *cl_ring_whois_hash(const cl_ring *r, uint64_t hash,
			       size_t *name_len);
int cl_ring_whois_n_hash(const cl_ring *r, uint64_t hash, size_t n,
			 const char *out_names[], size_t out_lens[]);
/* The reference lookup: a plain binary search over the sorted points, no
 * index.  Same answers as cl_ring_whois_hash; kept for tests and as the
 * benchmark's baseline. */
const char *cl_ring_whois_hash_bsearch(const cl_ring *r, uint64_t hash,
				       size_t *name_len);

/*
 * libring's HashRing.key_to_nodes(ring, key, count), quirks included, for
 * callers that must reproduce it exactly (prefer cl_ring_whois_n):
 *   - count is capped by the number of members;
 *   - the hash is phash2 of the key term itself: atom keys are NOT turned
 *     into binaries (use CL_RING_KEY_ATOM_RAW to match);
 *   - if no point is >= the hash, the answer is the smallest point's node
 *     alone, whatever the count;
 *   - the walk does not wrap: if it runs off the largest point before
 *     finding count nodes, the partial list comes back in reverse order.
 * Returns the count written, 0 on an empty ring, or a negative error.
 * CLOISTER_EINVAL on a CL_RING_DEFAULT ring.
 */
int cl_ring_libring_key_to_nodes(const cl_ring *r, const void *key,
				 size_t keylen, size_t n,
				 const char *out_names[], size_t out_lens[]);

/* A digest of the ring's points and members: equal for two rings holding
 * the same members with the same weights (and algorithm, vnodes), however
 * and in whatever order they were added.  Cheap: kept up to date by
 * mutations, O(1) here. */
uint64_t cl_ring_checksum(const cl_ring *r);

/* The i-th point in ring order (0 <= i < cl_ring_points): its hash and
 * owner.  CLOISTER_EINVAL past the end. */
int cl_ring_point_at(const cl_ring *r, size_t i, uint64_t *hash,
		     const char **name, size_t *name_len);

struct cl_ring_stats {
	size_t members;
	size_t points;
	unsigned index_bits;   /* the lookup index has 2^bits buckets */
	size_t index_bytes;
	size_t max_bucket;     /* most points in one bucket */
};
void cl_ring_stats(const cl_ring *r, struct cl_ring_stats *st);

#endif
