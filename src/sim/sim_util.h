/*
 * sim_util.h — the simulator's private building blocks: a seedable PRNG,
 * an event heap and a u64 -> u64 hash map.  Internal to src/sim/.
 *
 * None of this touches global state, so any number of simulations can run
 * side by side in one process.
 */
#ifndef CLOISTER_SIM_UTIL_H
#define CLOISTER_SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* PRNG: splitmix64 to expand seeds, xoshiro256** for the streams      */
/* ------------------------------------------------------------------ */

static inline uint64_t sim_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A good 64-bit mixer for hashing keys (the splitmix64 finaliser). */
static inline uint64_t sim_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

typedef struct sim_rng {
	uint64_t s[4];
} sim_rng;

/* Streams are named by (seed, domain, a, b) so that adding a node or a
 * restart never shifts the numbers another stream sees. */
static inline void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t domain,
				uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	x ^= sim_mix64(domain + 0x632BE59BD9B4E019ull);
	x ^= sim_mix64(a * 0x9E3779B97F4A7C15ull + 1);
	x ^= sim_mix64(b * 0xD1B54A32D192ED03ull + 2);
	for (int i = 0; i < 4; i++)
		r->s[i] = sim_splitmix64(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_next(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0; Lemire's multiply-shift, unbiased enough for
 * a simulator (bias < n / 2^64). */
static inline uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)sim_rng_next(r) * n) >> 64);
}

/* ------------------------------------------------------------------ */
/* Event heap                                                          */
/* ------------------------------------------------------------------ */

/* Ordered by time, then by a global sequence number so that two events at
 * the same microsecond always come out in the order they were scheduled.
 * The low two bits of seq carry the event kind. */
typedef struct sim_event {
	int64_t at;
	uint64_t seq;
	uint32_t ref; /* packet index or node index */
	uint32_t gen; /* timer or life generation, for lazy invalidation */
} sim_event;

typedef struct sim_heap {
	sim_event *v;
	size_t len, cap;
} sim_heap;

bool sim_heap_push(sim_heap *h, const sim_event *e);
/* Removes the earliest event into *out; false when empty. */
bool sim_heap_pop(sim_heap *h, sim_event *out);
void sim_heap_free(sim_heap *h);

static inline const sim_event *sim_heap_top(const sim_heap *h)
{
	return h->len ? &h->v[0] : NULL;
}

/* ------------------------------------------------------------------ */
/* u64 -> u64 map, open addressing                                     */
/* ------------------------------------------------------------------ */

/* Linear probing with backward-shift deletion, so no tombstones pile up
 * across thousands of restarts.  Key 0 is reserved for "empty". */
typedef struct sim_map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap; /* power of two, or 0 */
	size_t len;
} sim_map;

/* 1 if the key was new, 0 if its value was replaced, -1 out of memory. */
int sim_map_put(sim_map *m, uint64_t key, uint64_t val);
/* Pointer to the value, or NULL when absent. */
uint64_t *sim_map_get(const sim_map *m, uint64_t key);
bool sim_map_del(sim_map *m, uint64_t key);
void sim_map_clear(sim_map *m);
void sim_map_free(sim_map *m);

#endif
