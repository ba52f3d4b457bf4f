/*
 * cmd_bench.c — `cloister bench ring`: the hash ring's micro-benchmark.
 *
 * Lookup cost of our indexed ring, of a plain binary search over the very
 * same sorted points, and of libmemcached's ketama, all in one run on the
 * same keys; the cost of adding a member; how many keys an addition moves;
 * how evenly keys spread.  libmemcached is loaded with dlopen() so the
 * binary has no hard dependency on it: without it, ketama is null.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <libmemcached-1.0/memcached.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "args.h"
#include "cli.h"
#include "cloister.h"
#include "core/ring.h"

/* ---------------------------------------------------------------- knobs */

/* Random keys per lookup measurement, and measurements per method: the
 * best round is reported, which filters out a neighbour's burst of CPU
 * use without hiding a slow method (every round is the same work). */
#define DEFAULT_LOOKUP_KEYS 2000000
#define LOOKUP_ROUNDS 3
/* Keys for the moved-fraction measurement. */
#define MOVE_KEYS 100000
/* Keys per member for the balance measurement (at least 100k keys): with
 * 1,000 keys a member, sampling noise alone adds about 3 % per member. */
#define BALANCE_KEYS_PER_NODE 1000
#define BALANCE_KEYS_MIN 100000
/* Single-member additions timed for rebuild_ms. */
#define REBUILD_REPS 20
/* libmemcached's continuum grows with servers; the comparison is made
 * where ketama is typically used (tens of servers). */
#define KETAMA_MAX_NODES 100

struct opts {
	unsigned long nodes;
	unsigned vnodes;
	unsigned long keys;
	uint64_t seed;
	bool json;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* splitmix64: keys are two outputs, 16 bytes. */
static inline uint64_t mix_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void make_key(uint64_t *s, uint64_t key[2])
{
	key[0] = mix_next(s);
	key[1] = mix_next(s);
}

static int node_name(char *buf, size_t cap, unsigned long i)
{
	return snprintf(buf, cap, "node-%lu", i);
}

/* Keeps results observable so the compiler cannot drop the loops. */
static volatile uint64_t sink;

/* ---------------------------------------------------------------- lookups */

enum method { M_RING, M_BSEARCH, M_HASH, M_KETAMA };

struct ketama {
	void *dl;
	memcached_st *mc;
	uint32_t (*generate_hash)(const memcached_st *, const char *, size_t);
	void (*free)(memcached_st *);
};

/* Mean ns per lookup of one method over `keys` keys from `seed`. */
static double lookup_round(const cl_ring *r, const struct ketama *k,
			   enum method m, unsigned long keys, uint64_t seed)
{
	uint64_t s = seed, acc = 0, key[2];
	size_t len = 0;
	double t0 = now_ns();

	switch (m) {
	case M_RING:
		for (unsigned long i = 0; i < keys; i++) {
			make_key(&s, key);
			acc += (uintptr_t)cl_ring_whois(r, key, sizeof key, &len) + len;
		}
		break;
	case M_BSEARCH:
		for (unsigned long i = 0; i < keys; i++) {
			make_key(&s, key);
			uint64_t h = XXH3_64bits(key, sizeof key);
			acc += (uintptr_t)cl_ring_whois_hash_bsearch(r, h, &len) + len;
		}
		break;
	case M_HASH:
		for (unsigned long i = 0; i < keys; i++) {
			make_key(&s, key);
			acc += XXH3_64bits(key, sizeof key);
		}
		break;
	case M_KETAMA:
		for (unsigned long i = 0; i < keys; i++) {
			make_key(&s, key);
			acc += k->generate_hash(k->mc, (const char *)key, sizeof key);
		}
		break;
	}
	double t = now_ns() - t0;
	sink += acc;
	return t / (double)keys;
}

static double lookup_best(const cl_ring *r, const struct ketama *k,
			  enum method m, unsigned long keys, uint64_t seed)
{
	double best = 0;

	for (int round = 0; round < LOOKUP_ROUNDS; round++) {
		double t = lookup_round(r, k, m, keys, seed);
		if (round == 0 || t < best)
			best = t;
	}
	return best;
}

/* libmemcached with nodes servers and ketama distribution, or false. */
static bool ketama_open(struct ketama *k, unsigned long nodes)
{
	memcached_st *(*create)(memcached_st *);
	memcached_return_t (*behavior_set)(memcached_st *, memcached_behavior_t,
					   uint64_t);
	memcached_return_t (*server_add)(memcached_st *, const char *, in_port_t);

	memset(k, 0, sizeof *k);
	k->dl = dlopen("libmemcached.so.11", RTLD_NOW | RTLD_LOCAL);
	if (!k->dl)
		return false;
	/* dlsym returns void *; POSIX guarantees it holds a function
	 * pointer, ISO C has no conversion, so copy the bits. */
#define SYM(var, name)                                                         \
	do {                                                                   \
		void *p_ = dlsym(k->dl, name);                                 \
		memcpy(&(var), &p_, sizeof p_);                                \
	} while (0)
	SYM(create, "memcached_create");
	SYM(behavior_set, "memcached_behavior_set");
	SYM(server_add, "memcached_server_add");
	SYM(k->generate_hash, "memcached_generate_hash");
	SYM(k->free, "memcached_free");
#undef SYM
	if (!create || !behavior_set || !server_add || !k->generate_hash ||
	    !k->free)
		goto fail;
	k->mc = create(NULL);
	if (!k->mc)
		goto fail;
	if (behavior_set(k->mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
			 MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) !=
	    MEMCACHED_SUCCESS)
		goto fail;
	for (unsigned long i = 0; i < nodes; i++) {
		char host[32];
		/* Numeric hosts: adding a server never resolves anything. */
		snprintf(host, sizeof host, "10.0.%lu.%lu", i / 250, 1 + i % 250);
		if (server_add(k->mc, host, 11211) != MEMCACHED_SUCCESS)
			goto fail;
	}
	return true;
fail:
	if (k->mc)
		k->free(k->mc);
	dlclose(k->dl);
	memset(k, 0, sizeof *k);
	return false;
}

static void ketama_close(struct ketama *k)
{
	if (k->mc)
		k->free(k->mc);
	if (k->dl)
		dlclose(k->dl);
}

/* ---------------------------------------------------------------- the run */

struct results {
	size_t points;
	unsigned index_bits;
	size_t max_bucket;
	double build_ms;
	double lookup_ns, binsearch_ns, hash_ns, ketama_ns;
	bool have_ketama;
	double rebuild_ms, rebuild_max_ms;
	double moved_fraction, ideal_fraction;
	bool moved_only_to_new;
	unsigned long balance_keys;
	double max_over_mean, max_arc_over_mean;
};

static uint64_t owner_id(const cl_ring *r, const uint64_t key[2])
{
	size_t len;
	const char *o = cl_ring_whois(r, key, 16, &len);

	return XXH3_64bits(o, len);
}

static int measure_moves(cl_ring *r, const struct opts *o, struct results *res)
{
	uint64_t *before = malloc(MOVE_KEYS * sizeof *before);
	uint64_t s, key[2];
	char name[64];
	int n = snprintf(name, sizeof name, "node-joining");
	uint64_t new_id = XXH3_64bits(name, (size_t)n);
	unsigned long moved = 0;

	if (!before)
		return CLOISTER_ENOMEM;
	s = o->seed ^ 0x6d6f766573ull;
	for (unsigned long i = 0; i < MOVE_KEYS; i++) {
		make_key(&s, key);
		before[i] = owner_id(r, key);
	}
	int rc = cl_ring_add(r, name, (size_t)n, 1);
	if (rc < 0) {
		free(before);
		return rc;
	}
	res->moved_only_to_new = true;
	s = o->seed ^ 0x6d6f766573ull;
	for (unsigned long i = 0; i < MOVE_KEYS; i++) {
		make_key(&s, key);
		uint64_t now = owner_id(r, key);
		if (now != before[i]) {
			moved++;
			if (now != new_id)
				res->moved_only_to_new = false;
		}
	}
	cl_ring_remove(r, name, (size_t)n);
	free(before);
	res->moved_fraction = (double)moved / MOVE_KEYS;
	res->ideal_fraction = 1.0 / (double)(o->nodes + 1);
	return 0;
}

static int measure_rebuild(cl_ring *r, struct results *res)
{
	double total = 0, worst = 0;

	for (int i = 0; i < REBUILD_REPS; i++) {
		char name[64];
		int n = snprintf(name, sizeof name, "node-rebuild-%d", i);
		double t0 = now_ns();
		int rc = cl_ring_add(r, name, (size_t)n, 1);
		double t = (now_ns() - t0) / 1e6;
		if (rc < 0)
			return rc;
		total += t;
		if (t > worst)
			worst = t;
		cl_ring_remove(r, name, (size_t)n);
	}
	res->rebuild_ms = total / REBUILD_REPS;
	res->rebuild_max_ms = worst;
	return 0;
}

static int measure_balance(const cl_ring *r, const struct opts *o,
			   struct results *res)
{
	unsigned long n = o->nodes, keys = n * BALANCE_KEYS_PER_NODE;
	unsigned long *count = calloc(n, sizeof *count);
	double *arc = calloc(n, sizeof *arc);
	uint64_t s = o->seed ^ 0x62616c616e6365ull, key[2];

	if (!count || !arc) {
		free(count);
		free(arc);
		return CLOISTER_ENOMEM;
	}
	if (keys < BALANCE_KEYS_MIN)
		keys = BALANCE_KEYS_MIN;
	for (unsigned long i = 0; i < keys; i++) {
		size_t len;
		make_key(&s, key);
		const char *name = cl_ring_whois(r, key, sizeof key, &len);
		/* "node-<i>" */
		count[strtoul(name + 5, NULL, 10)]++;
	}
	/* The exact share: each point owns the arc back to its predecessor
	 * (the first point also owns the wrap past the last). */
	size_t np = cl_ring_points(r);
	uint64_t prev;
	cl_ring_point_at(r, np - 1, &prev, NULL, NULL);
	for (size_t i = 0; i < np; i++) {
		uint64_t h;
		const char *name;
		cl_ring_point_at(r, i, &h, &name, NULL);
		arc[strtoul(name + 5, NULL, 10)] += (double)(uint64_t)(h - prev);
		prev = h;
	}
	if (np == 1)
		arc[0] = 18446744073709551616.0;
	unsigned long max = 0;
	double amax = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (count[i] > max)
			max = count[i];
		if (arc[i] > amax)
			amax = arc[i];
	}
	res->balance_keys = keys;
	res->max_over_mean = (double)max / ((double)keys / (double)n);
	res->max_arc_over_mean = amax / (18446744073709551616.0 / (double)n);
	free(count);
	free(arc);
	return 0;
}

static int run(const struct opts *o, struct results *res)
{
	unsigned long n = o->nodes;
	const void **names = calloc(n, sizeof *names);
	size_t *lens = calloc(n, sizeof *lens);
	char *buf = calloc(n, 32);
	cl_ring *r = cl_ring_new(CL_RING_DEFAULT, o->vnodes);
	int rc = CLOISTER_ENOMEM;

	memset(res, 0, sizeof *res);
	if (!names || !lens || !buf || !r)
		goto out;
	for (unsigned long i = 0; i < n; i++) {
		lens[i] = (size_t)node_name(buf + 32 * i, 32, i);
		names[i] = buf + 32 * i;
	}
	double t0 = now_ns();
	if ((rc = cl_ring_add_many(r, n, names, lens, NULL)) < 0)
		goto out;
	res->build_ms = (now_ns() - t0) / 1e6;

	struct cl_ring_stats st;
	cl_ring_stats(r, &st);
	res->points = st.points;
	res->index_bits = st.index_bits;
	res->max_bucket = st.max_bucket;

	struct ketama k = {0};
	res->have_ketama = n <= KETAMA_MAX_NODES && ketama_open(&k, n);
	/* Interleave the methods round by round so a slow patch of time
	 * hurts all of them alike. */
	uint64_t seed = o->seed;
	res->hash_ns = lookup_best(r, &k, M_HASH, o->keys, seed);
	for (int round = 0; round < LOOKUP_ROUNDS; round++) {
		double a = lookup_round(r, &k, M_RING, o->keys, seed);
		double b = lookup_round(r, &k, M_BSEARCH, o->keys, seed);
		if (round == 0 || a < res->lookup_ns)
			res->lookup_ns = a;
		if (round == 0 || b < res->binsearch_ns)
			res->binsearch_ns = b;
		if (res->have_ketama) {
			double c = lookup_round(r, &k, M_KETAMA, o->keys, seed);
			if (round == 0 || c < res->ketama_ns)
				res->ketama_ns = c;
		}
	}
	if (res->have_ketama)
		ketama_close(&k);

	if ((rc = measure_rebuild(r, res)) < 0 ||
	    (rc = measure_moves(r, o, res)) < 0 ||
	    (rc = measure_balance(r, o, res)) < 0)
		goto out;
	rc = 0;
out:
	cl_ring_free(r);
	free(names);
	free(lens);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- output */

static void print_json(const struct opts *o, const struct results *res)
{
	printf("{\"bench\": \"ring\", \"algorithm\": \"default\", "
	       "\"nodes\": %lu, \"vnodes\": %u, \"points\": %zu, "
	       "\"index_bits\": %u, \"max_bucket\": %zu, "
	       "\"lookup_keys\": %lu, \"lookup_rounds\": %d, "
	       "\"lookup_ns\": %.1f, \"binsearch_lookup_ns\": %.1f, ",
	       o->nodes, o->vnodes, res->points, res->index_bits,
	       res->max_bucket, o->keys, LOOKUP_ROUNDS, res->lookup_ns,
	       res->binsearch_ns);
	printf("\"lookup_vs_binsearch\": %.3f, \"key_hash_ns\": %.1f, ",
	       res->lookup_ns / res->binsearch_ns, res->hash_ns);
	if (res->have_ketama)
		printf("\"ketama_lookup_ns\": %.1f, ", res->ketama_ns);
	else
		printf("\"ketama_lookup_ns\": null, ");
	printf("\"build_ms\": %.3f, \"rebuild_ms\": %.3f, "
	       "\"rebuild_max_ms\": %.3f, "
	       "\"moved_fraction\": %.5f, \"ideal_fraction\": %.5f, "
	       "\"moved_only_to_new\": %s, \"balance_keys\": %lu, "
	       "\"max_over_mean\": %.3f, \"max_arc_over_mean\": %.3f, "
	       "\"seed\": %" PRIu64 "}\n",
	       res->build_ms, res->rebuild_ms, res->rebuild_max_ms,
	       res->moved_fraction, res->ideal_fraction,
	       res->moved_only_to_new ? "true" : "false", res->balance_keys,
	       res->max_over_mean, res->max_arc_over_mean, o->seed);
}

static void print_text(const struct opts *o, const struct results *res)
{
	printf("ring: %lu nodes x %u vnodes = %zu points, index 2^%u buckets "
	       "(largest %zu)\n",
	       o->nodes, o->vnodes, res->points, res->index_bits,
	       res->max_bucket);
	printf("lookup (best of %d x %lu keys):\n", LOOKUP_ROUNDS, o->keys);
	printf("  indexed ring      %8.1f ns\n", res->lookup_ns);
	printf("  binary search     %8.1f ns  (ring takes %.0f %% of it)\n",
	       res->binsearch_ns, 100 * res->lookup_ns / res->binsearch_ns);
	printf("  key hash alone    %8.1f ns\n", res->hash_ns);
	if (res->have_ketama)
		printf("  libmemcached ketama %6.1f ns\n", res->ketama_ns);
	else
		printf("  libmemcached ketama    n/a (over %d nodes, or no "
		       "libmemcached.so.11)\n",
		       KETAMA_MAX_NODES);
	printf("build %.2f ms; add one member %.3f ms (worst %.3f)\n",
	       res->build_ms, res->rebuild_ms, res->rebuild_max_ms);
	printf("one join moved %.4f of keys (ideal %.4f)%s\n",
	       res->moved_fraction, res->ideal_fraction,
	       res->moved_only_to_new ? ", all to the new member"
				      : ", SOME NOT TO THE NEW MEMBER");
	printf("balance over %lu keys: max/mean %.3f (exact arcs %.3f)\n",
	       res->balance_keys, res->max_over_mean, res->max_arc_over_mean);
}

/* ---------------------------------------------------------------- command */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cloister bench ring --nodes N [--vnodes V] [--keys K]\n"
		"                           [--seed S] [--json]\n"
		"\n"
		"Measures the consistent hash ring (default algorithm) with N\n"
		"members of V virtual nodes (default %d):\n"
		"  lookup_ns            our lookup (key hash + index), best round\n"
		"                       of %d x K random 16-byte keys (K default %d)\n"
		"  binsearch_lookup_ns  key hash + plain binary search over the\n"
		"                       same sorted points, same keys\n"
		"  ketama_lookup_ns     libmemcached ketama (memcached_generate_hash)\n"
		"                       with N servers; null over %d nodes or\n"
		"                       without libmemcached.so.11\n"
		"  rebuild_ms           adding one member to the N-member ring\n"
		"  moved_fraction       keys (of %d) that one join moves; ideal 1/(N+1)\n"
		"  max_over_mean        most keys on one member / mean, over\n"
		"                       max(%d, %d N) keys\n",
		CL_RING_DEFAULT_VNODES, LOOKUP_ROUNDS, DEFAULT_LOOKUP_KEYS,
		KETAMA_MAX_NODES, MOVE_KEYS, BALANCE_KEYS_MIN,
		BALANCE_KEYS_PER_NODE);
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int bench_ring(int argc, char **argv)
{
	struct opts o = {.vnodes = CL_RING_DEFAULT_VNODES,
			 .keys = DEFAULT_LOOKUP_KEYS,
			 .seed = 0x62656e6368ull};
	bool have_nodes = false;

	static const struct cl_opt opts[] = {
		{"--help", false}, {"-h", false},	{"--json", false},
		{"--nodes", true}, {"--vnodes", true}, {"--keys", true},
		{"--seed", true}};
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind kind =
			cl_args_next(&args, opts, sizeof opts / sizeof opts[0]);
		if (kind == CL_ARG_END)
			break;
		if (kind != CL_ARG_OPT) {
			fprintf(stderr, "cloister bench ring: %s%s\n",
				kind == CL_ARG_ERROR ? args.error
						     : "unexpected argument ",
				kind == CL_ARG_ERROR ? "" : args.value);
			usage(stderr);
			return 2;
		}
		const char *a = args.opt->name, *val = args.value;
		unsigned long v;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			o.json = true;
		} else if (!strcmp(a, "--nodes")) {
			if (!parse_ulong(val, 1, 1000000, &o.nodes))
				goto bad_value;
			have_nodes = true;
		} else if (!strcmp(a, "--vnodes")) {
			if (!parse_ulong(val, 1, CL_RING_MAX_VNODES, &v))
				goto bad_value;
			o.vnodes = (unsigned)v;
		} else if (!strcmp(a, "--keys")) {
			if (!parse_ulong(val, 1000, 1000000000, &o.keys))
				goto bad_value;
		} else {
			if (!parse_ulong(val, 0, ULONG_MAX, &v))
				goto bad_value;
			o.seed = v;
		}
		continue;
bad_value:
		fprintf(stderr, "cloister bench ring: bad value for %s: %s\n",
			a, val);
		return 2;
	}
	if (!have_nodes) {
		fprintf(stderr, "cloister bench ring: --nodes is required\n");
		usage(stderr);
		return 2;
	}
	if ((unsigned long long)o.nodes * o.vnodes > 64ull * 1000 * 1000) {
		fprintf(stderr, "cloister bench ring: %lu x %u points is too many\n",
			o.nodes, o.vnodes);
		return 2;
	}

	struct results res;
	int rc = run(&o, &res);
	if (rc < 0) {
		fprintf(stderr, "cloister bench ring: %s\n", cloister_strerror(rc));
		return 1;
	}
	if (o.json)
		print_json(&o, &res);
	else
		print_text(&o, &res);
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		/* One benchmark so far: its usage is the command's. */
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "ring"))
		return bench_ring(argc - 1, argv + 1);
	fprintf(stderr, "cloister bench: unknown benchmark '%s' (try: ring)\n",
		argv[1]);
	return 2;
}
