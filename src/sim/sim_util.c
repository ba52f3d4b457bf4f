/*
 * sim_util.c — event heap and hash map for the simulator (sim_util.h).
 */
#include "sim_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Event heap                                                          */
/* ------------------------------------------------------------------ */

static inline bool ev_before(const sim_event *a, const sim_event *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

bool sim_heap_push(sim_heap *h, const sim_event *e)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		sim_event *v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return false;
		h->v = v;
		h->cap = cap;
	}
	/* Sift up with a hole instead of swaps: one write per level. */
	size_t i = h->len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ev_before(e, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = *e;
	return true;
}

bool sim_heap_pop(sim_heap *h, sim_event *out)
{
	if (!h->len)
		return false;
	*out = h->v[0];
	sim_event last = h->v[--h->len];
	size_t n = h->len, i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && ev_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!ev_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (n)
		h->v[i] = last;
	return true;
}

void sim_heap_free(sim_heap *h)
{
	free(h->v);
	memset(h, 0, sizeof *h);
}

/* ------------------------------------------------------------------ */
/* Hash map                                                            */
/* ------------------------------------------------------------------ */

static bool map_grow(sim_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint64_t *vals = malloc(cap * sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return false;
	}
	for (size_t i = 0; i < m->cap; i++) {
		uint64_t k = m->keys[i];
		if (!k)
			continue;
		size_t j = sim_mix64(k) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = k;
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return true;
}

int sim_map_put(sim_map *m, uint64_t key, uint64_t val)
{
	/* Load factor at most 1/2 keeps probe runs short. */
	if ((m->len + 1) * 2 > m->cap && !map_grow(m))
		return -1;
	size_t j = sim_mix64(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == key) {
			m->vals[j] = val;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->len++;
	return 1;
}

uint64_t *sim_map_get(const sim_map *m, uint64_t key)
{
	if (!m->len)
		return NULL;
	size_t j = sim_mix64(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == key)
			return &m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

bool sim_map_del(sim_map *m, uint64_t key)
{
	if (!m->len)
		return false;
	size_t mask = m->cap - 1;
	size_t j = sim_mix64(key) & mask;
	while (m->keys[j] != key) {
		if (!m->keys[j])
			return false;
		j = (j + 1) & mask;
	}
	/* Backward shift: pull later entries of the run into the hole unless
	 * that would move them before their home slot. */
	size_t hole = j;
	for (size_t k = (j + 1) & mask; m->keys[k]; k = (k + 1) & mask) {
		size_t home = sim_mix64(m->keys[k]) & mask;
		bool movable = hole <= k ? (home <= hole || home > k)
					 : (home <= hole && home > k);
		if (movable) {
			m->keys[hole] = m->keys[k];
			m->vals[hole] = m->vals[k];
			hole = k;
		}
	}
	m->keys[hole] = 0;
	m->len--;
	return true;
}

void sim_map_clear(sim_map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof *m->keys);
	m->len = 0;
}

void sim_map_free(sim_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}
