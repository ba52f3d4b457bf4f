/*
 * identity.h — interned member names and identities.
 *
 * What a node knows about a member splits in two.  Its view (status,
 * incarnation, whether we heard from it) belongs to the node.  Its
 * identity (name, address, start time, tags) is what the member itself
 * announced, the same bytes in every node that heard the same ALIVE.
 * Identities are interned here, reference counted, and a member record
 * keeps only the index of its identity.
 *
 * A store is private to one core (the agent's case: then it holds what the
 * member records used to hold inline), or shared by many cores in one
 * thread (the simulator's: 10,000 simulated nodes that each know 10,000
 * members then hold the 10,000 names once, not 100 million times, and a
 * node's member table is an array indexed by name id: no hash table per
 * node at all).
 *
 * Name ids are dense (a freed one is reused first), which is what makes
 * them usable as array indexes.  Nothing here depends on an address or on
 * the order of anything but the calls, so a shared store keeps the
 * simulator deterministic.
 */
#ifndef CLOISTER_CORE_IDENTITY_H
#define CLOISTER_CORE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "swim.h"

#define IDENT_NONE UINT32_MAX
#define NAME_MEMO 256
/* Identities held at once, at most (a member record keeps 24 bits). */
#define IDENTS_MAX ((1u << 24) - 1)

struct id_name {
	uint64_t hash; /* XXH3 of the name: the member's id on the wire */
	uint32_t refs; /* identities using it */
	uint32_t last; /* 1 + its identity interned last, 0 if gone: what the
			  next member record of this name most likely takes */
	uint8_t len;
	char bytes[]; /* the name, NUL */
};

struct ident {
	uint64_t start_ms;
	uint64_t key;  /* hash of the fields below, for the intern table */
	uint64_t hash; /* the name's (as in struct id_name) */
	cl_addr addr;
	uint32_t name; /* name id */
	uint32_t refs; /* member records using it */
	uint16_t tags_len;
	uint8_t name_len;
	/* The name (a copy: everything a member's entry on the wire needs is
	 * here, one cache line or two), NUL, then the tags. */
	uint8_t data[];
};

static inline const char *ident_name(const struct ident *d)
{
	return (const char *)d->data;
}

static inline const uint8_t *ident_tags(const struct ident *d)
{
	return d->data + d->name_len + 1;
}
struct cl_swim_idents {
	struct id_name **names;
	uint32_t n_names, names_cap;
	/* Each name's hash again, by id, in one array: what a walk over a
	 * member table by name id reads (a delta sync's bucket filter). */
	uint64_t *name_hashes;
	uint32_t name_hashes_cap;
	uint32_t *names_free; /* ids to reuse, a stack */
	uint32_t n_names_free;
	/* The names found lately, by the top bits of their hash (id + 1):
	 * a packet's names are looked up once to start loading their
	 * members, again to merge them, and a third time when one is
	 * added. */
	struct {
		uint64_t hash;
		uint32_t id1;
	} memo[NAME_MEMO];
	/* Name table: (id + 1, low 32 bits of the hash) per slot. */
	uint64_t *name_slots;
	size_t name_mask, names_live;

	struct ident **idents;
	uint32_t n_idents, idents_cap;
	uint32_t *idents_free;
	uint32_t n_idents_free;
	uint64_t *ident_slots; /* (id + 1, low 32 bits of the key) */
	size_t ident_mask, idents_live;

	/* Scratch for the messages of one packet, lent to whichever core of
	 * the thread is reading one (cl_swim_feed is not re-entered). */
	struct cl_wire_msg *msgs;
	size_t msgs_cap;

	unsigned users; /* cores holding it (and its creator) */
	size_t bytes;   /* held by names and identities */
};

static inline const struct id_name *idents_name(const cl_swim_idents *st,
						uint32_t id)
{
	return st->names[id];
}

static inline uint64_t idents_name_hash(const cl_swim_idents *st,
					uint32_t id)
{
	return st->name_hashes[id];
}

static inline const struct ident *idents_at(const cl_swim_idents *st,
					    uint32_t id)
{
	return st->idents[id];
}

/* The id of a name, IDENT_NONE if nobody holds it. */
uint32_t idents_name_find(cl_swim_idents *st, const uint8_t *name,
			  size_t len, uint64_t hash);
/* A name by its hash alone (64 bits: first match). */
uint32_t idents_name_find_hash(const cl_swim_idents *st, uint64_t hash);

/* The identity with exactly these fields, one reference more (created if
 * new); IDENT_NONE when out of memory. */
uint32_t idents_get(cl_swim_idents *st, const uint8_t *name, size_t len,
		    uint64_t hash, const cl_addr *addr, uint64_t start_ms,
		    const uint8_t *tags, size_t tags_len);
/* One reference less; the last frees it (and its name, if unused). */
void idents_put(cl_swim_idents *st, uint32_t id);

/* Room for n parsed messages, shared by the store's cores; NULL if out of
 * memory. */
struct cl_wire_msg *idents_msgs(cl_swim_idents *st, size_t n);

/* A core starts or stops using a store. */
void idents_hold(cl_swim_idents *st);
void idents_release(cl_swim_idents *st);

#endif
