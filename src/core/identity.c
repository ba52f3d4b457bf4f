/*
 * identity.c — the store of interned names and identities (identity.h).
 *
 * Two open-addressing tables (linear probing, backward-shift deletion, so
 * no tombstones accumulate as members come and go), each slot one 64-bit
 * word: the entry's id + 1 and the low 32 bits of its hash, so a probe
 * compares in the table and touches an entry only on a likely match.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "identity.h"
#include "wire.h"

#define SLOT_ID(x) ((uint32_t)((x) >> 32) - 1)
#define SLOT_FRAG(x) ((uint32_t)(x))
#define SLOT(id, h) ((((uint64_t)(id) + 1) << 32) | (uint32_t)(h))

cl_swim_idents *cl_swim_idents_new(void)
{
	cl_swim_idents *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->name_slots = calloc(64, sizeof *st->name_slots);
	st->ident_slots = calloc(64, sizeof *st->ident_slots);
	if (!st->name_slots || !st->ident_slots) {
		free(st->name_slots);
		free(st->ident_slots);
		free(st);
		return NULL;
	}
	st->name_mask = st->ident_mask = 63;
	st->users = 1;
	return st;
}

static void store_free(cl_swim_idents *st)
{
	for (uint32_t i = 0; i < st->n_names; i++)
		free(st->names[i]);
	for (uint32_t i = 0; i < st->n_idents; i++)
		free(st->idents[i]);
	free(st->names);
	free(st->name_hashes);
	free(st->names_free);
	free(st->name_slots);
	free(st->idents);
	free(st->idents_free);
	free(st->ident_slots);
	free(st->msgs);
	free(st);
}

struct cl_wire_msg *idents_msgs(cl_swim_idents *st, size_t n)
{
	if (n > st->msgs_cap) {
		cl_wire_msg *m = realloc(st->msgs, n * sizeof *m);
		if (!m)
			return NULL;
		st->msgs = m;
		st->msgs_cap = n;
	}
	return st->msgs;
}

void idents_hold(cl_swim_idents *st)
{
	st->users++;
}

void idents_release(cl_swim_idents *st)
{
	if (st && --st->users == 0)
		store_free(st);
}

void cl_swim_idents_free(cl_swim_idents *st)
{
	idents_release(st);
}

size_t cl_swim_idents_bytes(const cl_swim_idents *st)
{
	return st ? st->bytes : 0;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

/* Grows a table at 3/4 full, rehashing with the fragment each slot keeps
 * (the table's size never passes 2^32, so the fragment's low bits are the
 * home position). */
static bool slots_grow(uint64_t **slots, size_t *mask, size_t live)
{
	if ((live + 1) * 4 <= (*mask + 1) * 3)
		return true;
	size_t ncap = (*mask + 1) * 2;
	uint64_t *nt = calloc(ncap, sizeof *nt);
	if (!nt)
		return false;
	for (size_t i = 0; i <= *mask; i++) {
		uint64_t x = (*slots)[i];
		if (!x)
			continue;
		size_t j = SLOT_FRAG(x) & (ncap - 1);
		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = x;
	}
	free(*slots);
	*slots = nt;
	*mask = ncap - 1;
	return true;
}

static void slots_put(uint64_t *slots, size_t mask, uint32_t id, uint64_t h)
{
	size_t i = (uint32_t)h & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = SLOT(id, h);
}

static void slots_del(uint64_t *slots, size_t mask, uint32_t id, uint64_t h)
{
	size_t i = (uint32_t)h & mask;
	while (SLOT_ID(slots[i]) != id)
		i = (i + 1) & mask;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		uint64_t x = slots[j];
		if (!x)
			break;
		size_t home = SLOT_FRAG(x) & mask;
		/* Move x back into the hole unless its home lies in (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j)
				       : (home > i || home <= j);
		if (!in_range) {
			slots[i] = x;
			i = j;
		}
	}
	slots[i] = 0;
}

/* A free id from the stack, or the next new one; the pointer array grows
 * by half (not double: a store sized for 30,000 members should not hold
 * room for 60,000). */
static bool id_take(void ***arr, uint32_t *n, uint32_t *cap,
		    uint32_t **freel, uint32_t *n_free, uint32_t *out)
{
	if (*n_free) {
		*out = (*freel)[--*n_free];
		return true;
	}
	if (*n == *cap) {
		/* The free stack grows with the array, so it can always take
		 * every id back. */
		uint32_t ncap = *cap ? *cap + *cap / 2 : 64;
		uint32_t *nf = realloc(*freel, (size_t)ncap * sizeof *nf);
		if (!nf)
			return false;
		*freel = nf;
		void **na = realloc(*arr, (size_t)ncap * sizeof *na);
		if (!na)
			return false;
		*arr = na;
		*cap = ncap;
	}
	*out = (*n)++;
	return true;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static bool name_is(const struct id_name *n, const uint8_t *name, size_t len,
		    uint64_t hash)
{
	return n && n->hash == hash && n->len == len &&
	       memcmp(n->bytes, name, len) == 0;
}

uint32_t idents_name_find(cl_swim_idents *st, const uint8_t *name,
			  size_t len, uint64_t hash)
{
	uint32_t *memo = &st->memo[hash >> 56].id1;
	if (st->memo[hash >> 56].hash == hash && *memo &&
	    *memo - 1 < st->n_names &&
	    name_is(st->names[*memo - 1], name, len, hash))
		return *memo - 1;
	for (size_t i = (uint32_t)hash & st->name_mask;;
	     i = (i + 1) & st->name_mask) {
		uint64_t x = st->name_slots[i];
		if (!x)
			return IDENT_NONE;
		if (SLOT_FRAG(x) == (uint32_t)hash &&
		    name_is(st->names[SLOT_ID(x)], name, len, hash)) {
			st->memo[hash >> 56].hash = hash;
			*memo = SLOT_ID(x) + 1;
			return SLOT_ID(x);
		}
	}
}

uint32_t idents_name_find_hash(const cl_swim_idents *st, uint64_t hash)
{
	for (size_t i = (uint32_t)hash & st->name_mask;;
	     i = (i + 1) & st->name_mask) {
		uint64_t x = st->name_slots[i];
		if (!x)
			return IDENT_NONE;
		if (SLOT_FRAG(x) == (uint32_t)hash &&
		    st->name_hashes[SLOT_ID(x)] == hash)
			return SLOT_ID(x);
	}
}

/* The name's id, created with no reference if new. */
static uint32_t name_get(cl_swim_idents *st, const uint8_t *name, size_t len,
			 uint64_t hash)
{
	uint32_t id = idents_name_find(st, name, len, hash);
	if (id != IDENT_NONE)
		return id;
	if (!slots_grow(&st->name_slots, &st->name_mask, st->names_live))
		return IDENT_NONE;
	struct id_name *n = malloc(sizeof *n + len + 1);
	if (!n || !id_take((void ***)&st->names, &st->n_names, &st->names_cap,
			   &st->names_free, &st->n_names_free, &id)) {
		free(n);
		return IDENT_NONE;
	}
	if (id >= st->name_hashes_cap) {
		uint64_t *nh = realloc(st->name_hashes,
				       st->names_cap * sizeof *nh);
		if (!nh) {
			/* The id stays taken but unused: back on the stack. */
			st->names[id] = NULL;
			st->names_free[st->n_names_free++] = id;
			free(n);
			return IDENT_NONE;
		}
		st->name_hashes = nh;
		st->name_hashes_cap = st->names_cap;
	}
	st->name_hashes[id] = hash;
	n->hash = hash;
	n->refs = 0;
	n->last = 0;
	n->len = (uint8_t)len;
	memcpy(n->bytes, name, len);
	n->bytes[len] = '\0';
	st->names[id] = n;
	slots_put(st->name_slots, st->name_mask, id, hash);
	st->names_live++;
	st->bytes += sizeof *n + len + 1;
	return id;
}

static void name_unref(cl_swim_idents *st, uint32_t id)
{
	struct id_name *n = st->names[id];
	if (--n->refs)
		return;
	slots_del(st->name_slots, st->name_mask, id, n->hash);
	st->names_live--;
	st->bytes -= sizeof *n + n->len + 1;
	free(n);
	st->names[id] = NULL;
	st->names_free[st->n_names_free++] = id;
}

/* ------------------------------------------------------------------ */
/* Identities                                                          */
/* ------------------------------------------------------------------ */

static uint64_t ident_key(uint32_t name, const cl_addr *addr,
			  uint64_t start_ms, const uint8_t *tags,
			  size_t tags_len)
{
	uint8_t head[4 + 1 + 2 + 16 + 8];
	memcpy(head, &name, 4);
	head[4] = addr->family;
	memcpy(head + 5, &addr->port, 2);
	memcpy(head + 7, addr->ip, 16);
	memcpy(head + 23, &start_ms, 8);
	return XXH3_64bits_withSeed(tags, tags_len, XXH3_64bits(head, sizeof head));
}

static bool ident_same(const struct ident *d, uint32_t name,
		       const cl_addr *addr, uint64_t start_ms,
		       const uint8_t *tags, size_t tags_len)
{
	return d->name == name && d->start_ms == start_ms &&
	       cl_addr_equal(&d->addr, addr) && d->tags_len == tags_len &&
	       (tags_len == 0 || memcmp(ident_tags(d), tags, tags_len) == 0);
}

uint32_t idents_get(cl_swim_idents *st, const uint8_t *name, size_t len,
		    uint64_t hash, const cl_addr *addr, uint64_t start_ms,
		    const uint8_t *tags, size_t tags_len)
{
	uint32_t nid = name_get(st, name, len, hash);
	if (nid == IDENT_NONE)
		return IDENT_NONE;
	struct id_name *nm = st->names[nid];
	if (nm->last) {
		struct ident *d = st->idents[nm->last - 1];
		if (ident_same(d, nid, addr, start_ms, tags, tags_len)) {
			d->refs++;
			return nm->last - 1;
		}
	}
	uint64_t key = ident_key(nid, addr, start_ms, tags, tags_len);
	for (size_t i = (uint32_t)key & st->ident_mask;;
	     i = (i + 1) & st->ident_mask) {
		uint64_t x = st->ident_slots[i];
		if (!x)
			break;
		struct ident *d = st->idents[SLOT_ID(x)];
		if (SLOT_FRAG(x) == (uint32_t)key && d->key == key &&
		    ident_same(d, nid, addr, start_ms, tags, tags_len)) {
			d->refs++;
			nm->last = SLOT_ID(x) + 1;
			return SLOT_ID(x);
		}
	}
	uint32_t id = IDENT_NONE;
	/* Member records keep an identity id in 24 bits. */
	if (st->idents_live >= IDENTS_MAX ||
	    !slots_grow(&st->ident_slots, &st->ident_mask, st->idents_live))
		goto unused;
	struct ident *d = malloc(sizeof *d + len + 1 + tags_len);
	if (!d || !id_take((void ***)&st->idents, &st->n_idents,
			   &st->idents_cap, &st->idents_free,
			   &st->n_idents_free, &id)) {
		free(d);
		id = IDENT_NONE;
		goto unused;
	}
	memset(d, 0, sizeof *d);
	d->start_ms = start_ms;
	d->key = key;
	d->addr = *addr;
	d->name = nid;
	d->refs = 1;
	d->hash = hash;
	d->tags_len = (uint16_t)tags_len;
	d->name_len = (uint8_t)len;
	memcpy(d->data, name, len);
	d->data[len] = '\0';
	if (tags_len)
		memcpy(d->data + len + 1, tags, tags_len);
	st->idents[id] = d;
	slots_put(st->ident_slots, st->ident_mask, id, key);
	st->idents_live++;
	st->bytes += sizeof *d + len + 1 + tags_len;
	nm->refs++;
	nm->last = id + 1;
	return id;
unused:
	/* A name created for this identity and left unused goes again. */
	st->names[nid]->refs++;
	name_unref(st, nid);
	return IDENT_NONE;
}

void idents_put(cl_swim_idents *st, uint32_t id)
{
	struct ident *d = st->idents[id];
	if (--d->refs)
		return;
	uint32_t nid = d->name;
	if (st->names[nid]->last == id + 1)
		st->names[nid]->last = 0;
	slots_del(st->ident_slots, st->ident_mask, id, d->key);
	st->idents_live--;
	st->bytes -= sizeof *d + d->name_len + 1 + d->tags_len;
	free(d);
	st->idents[id] = NULL;
	st->idents_free[st->n_idents_free++] = id;
	name_unref(st, nid);
}
