/*
 * ring.c — the consistent hash ring (see ring.h for the contract).
 *
 * Layout: points are two parallel arrays sorted by (hash, owner name):
 * pts[] (the 64-bit hashes, what searches touch) and own[] (member slot of
 * each point).  Keeping the hashes dense makes both the bucket scan and the
 * benchmark's binary-search baseline walk 8-byte entries.  Members live in
 * slots that are reused after removal, so removing one member never
 * renumbers the others' points.
 *
 * The lookup index maps the top `bits` bits of a hash to the first point
 * with those (or higher) top bits: idx[b] .. idx[b+1] is bucket b.  The
 * successor of h is then in bucket h >> shift or, if every point there is
 * below h, exactly at idx[b+1] (the first point of the next non-empty
 * bucket), so a lookup never looks at more than one bucket.
 */
#include "ring.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cloister.h"
#include "phash2.h"
#include "sort.h"

/* ---------------------------------------------------------------- tuning */

/*
 * Index size: 2^bits buckets with bits = ceil(log2(points)), i.e. one to
 * two points per bucket on average, so the scan after the index load is
 * short (hashes are uniform: bucket sizes are Poisson, the largest of 2^17
 * buckets holds 7 or 8).  The table costs 4 bytes per bucket, half the
 * points array.  Bounds: below 16 buckets the table is noise; past 2^20
 * (4 MiB, about 1M points) a bigger table would only trade cache misses
 * on the table for shorter scans.
 */
#define INDEX_MIN_BITS 4
#define INDEX_MAX_BITS 20

/* A bucket longer than this (huge rings past INDEX_MAX_BITS, or unlucky
 * clustering) is binary-searched instead of scanned. */
#define SCAN_MAX 8

/* whois_n remembers members already returned in a small local array up
 * to this many answers (n is 2-5 in practice), then in a heap bitmap. */
#define SEEN_LOCAL 32

/* ---------------------------------------------------------------- types */

struct member {
	char *name;          /* copy, NUL-terminated after len bytes */
	uint64_t name_hash;  /* XXH3_64bits(name): quick compare, checksum */
	uint32_t want;       /* points asked for (vnodes x weight) */
	uint32_t npoints;    /* points on the ring now (libring drops dups) */
	uint8_t len;
	bool used;
};

struct cl_ring {
	enum cl_ring_algorithm alg;
	enum cl_ring_node_kind node_kind;
	enum cl_ring_key_kind key_kind;
	unsigned vnodes;
	unsigned space;       /* bits of the hash space: 64, libring 32 */

	struct member *m;     /* slots [0, m_top) in use or free */
	uint32_t m_cap;
	uint32_t m_top;
	uint32_t nmembers;    /* live members */
	uint32_t on_ring;     /* live members holding at least one point */

	uint64_t *pts;        /* sorted point hashes */
	uint32_t *own;        /* slot owning each point */
	size_t np, pcap;

	uint32_t *idx;        /* 2^bits + 1 bucket starts */
	size_t idx_cap;
	unsigned bits, shift;

	/* Checksum accumulators: sums commute, so the digest does not depend
	 * on insertion order, and they update in O(changed points). */
	uint64_t point_sum;
	uint64_t member_sum;
};

/* A point being added, before it is merged into the ring. */
struct newpt {
	uint64_t hash;
	const struct member *mem; /* the batch's copy, for name tie-breaks */
	uint32_t batch;           /* index in the batch */
	uint32_t seq;             /* insertion order within the batch */
};

/* ---------------------------------------------------------------- helpers */

static bool valid_name(const void *name, size_t len)
{
	return name && len >= 1 && len <= CL_RING_NAME_MAX;
}

static uint64_t name_hash(const void *name, size_t len)
{
	return XXH3_64bits(name, len);
}

/* Bytewise, then shorter first: the tie-break for equal points. */
static int name_cmp(const struct member *a, const struct member *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->name, b->name, n);

	if (c)
		return c;
	return (int)a->len - (int)b->len;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* One point's share of the checksum: its position and its owner. */
static uint64_t point_mix(uint64_t hash, uint64_t owner_hash)
{
	uint8_t b[8];

	put_le64(b, hash);
	return XXH3_64bits_withSeed(b, sizeof b, owner_hash);
}

static uint64_t member_mix(const struct member *m)
{
	return XXH3_64bits_withSeed(m->name, m->len, m->want);
}

static long find_member(const cl_ring *r, const void *name, size_t len,
			uint64_t nh)
{
	for (uint32_t s = 0; s < r->m_top; s++) {
		const struct member *m = &r->m[s];

		if (m->used && m->name_hash == nh && m->len == len &&
		    memcmp(m->name, name, len) == 0)
			return (long)s;
	}
	return -1;
}

static unsigned index_bits_for(size_t np)
{
	unsigned bits = INDEX_MIN_BITS;

	while (bits < INDEX_MAX_BITS && ((size_t)1 << bits) < np)
		bits++;
	return bits;
}

static int grow_index(cl_ring *r, size_t np)
{
	size_t need = ((size_t)1 << index_bits_for(np)) + 1;

	if (need <= r->idx_cap)
		return 0;
	uint32_t *p = realloc(r->idx, need * sizeof *p);
	if (!p)
		return CLOISTER_ENOMEM;
	r->idx = p;
	r->idx_cap = need;
	return 0;
}

static int grow_points(cl_ring *r, size_t np)
{
	if (np <= r->pcap)
		return 0;
	size_t cap = r->pcap ? r->pcap : 256;
	while (cap < np)
		cap *= 2;
	uint64_t *p = realloc(r->pts, cap * sizeof *p);
	if (!p)
		return CLOISTER_ENOMEM;
	r->pts = p;
	uint32_t *o = realloc(r->own, cap * sizeof *o);
	if (!o)
		return CLOISTER_ENOMEM; /* pts merely grew: harmless */
	r->own = o;
	r->pcap = cap;
	return 0;
}

static int grow_members(cl_ring *r, size_t n)
{
	if (n <= r->m_cap)
		return 0;
	size_t cap = r->m_cap ? r->m_cap : 16;
	while (cap < n)
		cap *= 2;
	if (cap > UINT32_MAX)
		return CLOISTER_ELIMIT;
	struct member *m = realloc(r->m, cap * sizeof *m);
	if (!m)
		return CLOISTER_ENOMEM;
	memset(m + r->m_cap, 0, (cap - r->m_cap) * sizeof *m);
	r->m = m;
	r->m_cap = (uint32_t)cap;
	return 0;
}

/* ---------------------------------------------------------------- index */

static void index_build(cl_ring *r)
{
	unsigned bits = index_bits_for(r->np);
	size_t nb = (size_t)1 << bits, j = 0;

	r->bits = bits;
	r->shift = r->space - bits;
	/* Count each bucket's points, then turn the counts into starts: two
	 * straight passes (a merge-style walk of buckets against points
	 * mispredicts a branch per step, ~1 ms at 128,000 points). */
	memset(r->idx, 0, (nb + 1) * sizeof *r->idx);
	for (; j < r->np; j++)
		r->idx[r->pts[j] >> r->shift]++;
	uint32_t sum = 0;
	for (size_t b = 0; b <= nb; b++) {
		uint32_t c = r->idx[b];
		r->idx[b] = sum;
		sum += c;
	}
}

/* Index of the first point >= h, or np if there is none (no wraparound). */
static size_t lower_bound(const cl_ring *r, uint64_t h)
{
	if (r->space < 64 && (h >> r->space))
		return r->np; /* above the whole (32-bit) space */
	size_t b = (size_t)(h >> r->shift);
	uint32_t lo = r->idx[b], hi = r->idx[b + 1];

	if (hi - lo <= SCAN_MAX) {
		while (lo < hi && r->pts[lo] < h)
			lo++;
		return lo;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (r->pts[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The owning point of h: the first point >= h, wrapping to 0.  np > 0. */
static size_t successor(const cl_ring *r, uint64_t h)
{
	size_t i = lower_bound(r, h);

	return i == r->np ? 0 : i;
}

/* ---------------------------------------------------------------- life */

cl_ring *cl_ring_new(enum cl_ring_algorithm alg, unsigned vnodes)
{
	if (alg != CL_RING_DEFAULT && alg != CL_RING_LIBRING)
		return NULL;
	if (vnodes == 0)
		vnodes = CL_RING_DEFAULT_VNODES;
	if (vnodes > CL_RING_MAX_VNODES)
		return NULL;
	cl_ring *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->alg = alg;
	r->vnodes = vnodes;
	r->space = alg == CL_RING_DEFAULT ? 64 : 32;
	r->node_kind = CL_RING_NODE_ATOM;
	r->key_kind = CL_RING_KEY_BINARY;
	if (grow_index(r, 0) < 0) {
		free(r);
		return NULL;
	}
	index_build(r);
	return r;
}

void cl_ring_clear(cl_ring *r)
{
	if (!r)
		return;
	for (uint32_t s = 0; s < r->m_top; s++)
		if (r->m[s].used)
			free(r->m[s].name);
	if (r->m)
		memset(r->m, 0, r->m_cap * sizeof *r->m);
	r->m_top = r->nmembers = r->on_ring = 0;
	r->np = 0;
	r->point_sum = r->member_sum = 0;
	index_build(r);
}

void cl_ring_free(cl_ring *r)
{
	if (!r)
		return;
	cl_ring_clear(r);
	free(r->m);
	free(r->pts);
	free(r->own);
	free(r->idx);
	free(r);
}

int cl_ring_set_node_kind(cl_ring *r, enum cl_ring_node_kind kind)
{
	if (!r || r->alg != CL_RING_LIBRING ||
	    (kind != CL_RING_NODE_ATOM && kind != CL_RING_NODE_BINARY))
		return CLOISTER_EINVAL;
	if (r->nmembers)
		return CLOISTER_ESTATE;
	r->node_kind = kind;
	return 0;
}

int cl_ring_set_key_kind(cl_ring *r, enum cl_ring_key_kind kind)
{
	if (!r)
		return CLOISTER_EINVAL;
	switch (kind) {
	case CL_RING_KEY_BINARY:
		break;
	case CL_RING_KEY_ATOM_OTP25:
	case CL_RING_KEY_ATOM_OTP26:
	case CL_RING_KEY_ATOM_RAW:
	case CL_RING_KEY_INTEGER:
		if (r->alg != CL_RING_LIBRING)
			return CLOISTER_EINVAL;
		break;
	default:
		return CLOISTER_EINVAL;
	}
	r->key_kind = kind;
	return 0;
}

/* ---------------------------------------------------------------- adding */

/* The points of one member, in vnode order. */
static void gen_points(const cl_ring *r, const struct member *m,
		       uint32_t batch, uint32_t *seq, struct newpt *out)
{
	if (r->alg == CL_RING_DEFAULT) {
		uint8_t buf[CL_RING_NAME_MAX + 4];

		memcpy(buf, m->name, m->len);
		for (uint32_t j = 0; j < m->want; j++) {
			uint8_t *p = buf + m->len;
			p[0] = (uint8_t)j;
			p[1] = (uint8_t)(j >> 8);
			p[2] = (uint8_t)(j >> 16);
			p[3] = (uint8_t)(j >> 24);
			out[j] = (struct newpt){XXH3_64bits(buf, m->len + 4u), m,
						batch, (*seq)++};
		}
		return;
	}
	/* libring: phash2({Node, I}, 2^32 - 1), I = 1..want.  The tuple
	 * header and the node are the same for every I, so hash that prefix
	 * once and step only the integer. */
	uint32_t pre = cl_phash2_step_tuple(0, 2);
	if (r->node_kind == CL_RING_NODE_ATOM)
		pre = cl_phash2_step_atom(pre, m->name, m->len);
	else
		pre = cl_phash2_step_binary(pre, m->name, m->len);
	for (uint32_t j = 0; j < m->want; j++) {
		uint32_t raw = cl_phash2_step_int(pre, (int64_t)j + 1);
		out[j] = (struct newpt){
			cl_phash2_range(raw, CL_RING_LIBRING_RANGE), m, batch,
			(*seq)++};
	}
}

static bool less_default(const struct newpt *a, const struct newpt *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash;
	if (a->mem != b->mem)
		return name_cmp(a->mem, b->mem) < 0;
	return a->seq < b->seq;
}

/* libring: equal points go to the first inserted. */
static bool less_libring(const struct newpt *a, const struct newpt *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash;
	return a->seq < b->seq;
}

CL_SORT_DEFINE(sort_default, struct newpt, less_default)
CL_SORT_DEFINE(sort_libring, struct newpt, less_libring)

struct nref {
	uint64_t hash;
	const char *name;
	size_t len;
};

static int cmp_nref(const struct nref *a, const struct nref *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->name, b->name, a->len);
}

static bool less_nref(const struct nref *a, const struct nref *b)
{
	return cmp_nref(a, b) < 0;
}

CL_SORT_DEFINE(sort_nrefs, struct nref, less_nref)

/* Whether any name of the batch is already present or repeated: the
 * batch sorted, then each ring member looked up in it, O(members x log
 * batch).  (Sorting the members too cost a settle O(N log N) for every
 * batch, and musl's qsort made each of those sorts slower still.) */
static int check_duplicates(const cl_ring *r, size_t n,
			    const struct member *nm)
{
	if (n == 1)
		return find_member(r, nm[0].name, nm[0].len, nm[0].name_hash) >= 0
			       ? CLOISTER_EEXIST
			       : 0;
	struct nref *v = malloc(n * sizeof *v);
	if (!v)
		return CLOISTER_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct nref){nm[i].name_hash, nm[i].name, nm[i].len};
	sort_nrefs(v, n);
	int rc = 0;
	for (size_t i = 1; i < n && !rc; i++)
		if (cmp_nref(&v[i - 1], &v[i]) == 0)
			rc = CLOISTER_EEXIST;
	for (uint32_t s = 0; s < r->m_top && !rc; s++) {
		if (!r->m[s].used)
			continue;
		struct nref key = {r->m[s].name_hash, r->m[s].name, r->m[s].len};
		if (sort_nrefs_find(v, n, &key))
			rc = CLOISTER_EEXIST;
	}
	free(v);
	return rc;
}

/*
 * Sorting a batch's points.  A join burst or a rebuild sorts every point
 * of every member (128,000 at 1,000 x 128): qsort with a comparison
 * callback took ~35 ms of a 50 ms build there.  An LSD radix sort on the
 * hash (11-bit digits, 6 passes for 64-bit points, 3 for libring's 32) is
 * stable, so points of equal hash stay in generation order, which is seq
 * order: exactly libring's tie rule.  The default ring also orders equal
 * hashes by owner name; such runs (a 64-bit collision) are re-sorted with
 * the comparison.  Small batches (one member) take the comparison sort
 * (sort.h): the counting arrays would cost more than they save.
 */
#define RADIX_BITS 11
#define RADIX_MIN 4096

static int sort_points(const cl_ring *r, struct newpt *v, size_t n)
{
	if (n < RADIX_MIN) {
		if (r->alg == CL_RING_DEFAULT)
			sort_default(v, n);
		else
			sort_libring(v, n);
		return 0;
	}
	struct newpt *buf = malloc(n * sizeof *buf);
	if (!buf)
		return CLOISTER_ENOMEM;
	struct newpt *from = v, *to = buf;
	size_t count[(size_t)1 << RADIX_BITS];
	const uint64_t mask = ((uint64_t)1 << RADIX_BITS) - 1;
	for (unsigned shift = 0; shift < r->space; shift += RADIX_BITS) {
		memset(count, 0, sizeof count);
		for (size_t i = 0; i < n; i++)
			count[(from[i].hash >> shift) & mask]++;
		/* A digit every point shares (high bits of a small libring
		 * space) orders nothing: skip the pass. */
		if (count[(from[0].hash >> shift) & mask] == n)
			continue;
		size_t sum = 0;
		for (size_t d = 0; d <= mask; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[(from[i].hash >> shift) & mask]++] = from[i];
		struct newpt *t = from;
		from = to;
		to = t;
	}
	if (from != v)
		memcpy(v, from, n * sizeof *v);
	free(buf);
	if (r->alg == CL_RING_DEFAULT)
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && v[j].hash == v[i].hash; j++)
				;
			if (j - i > 1)
				sort_default(v + i, j - i);
		}
	return 0;
}

/* Whether existing point i sorts after new point p (DEFAULT ties by name;
 * libring never has ties here: its duplicates were filtered). */
static bool existing_after(const cl_ring *r, size_t i, const struct newpt *p)
{
	if (r->pts[i] != p->hash)
		return r->pts[i] > p->hash;
	return name_cmp(&r->m[r->own[i]], p->mem) > 0;
}

static int add_batch(cl_ring *r, size_t n, const void *const names[],
		     const size_t lens[], const unsigned counts[], bool exact)
{
	struct member *nm = NULL;
	uint32_t *slot_of = NULL;
	struct newpt *tmp = NULL;
	size_t total = 0, made = 0;
	int rc;

	if (!r || (n && (!names || !lens)))
		return CLOISTER_EINVAL;
	if (n == 0)
		return 0;
	if (n > UINT32_MAX - (size_t)r->m_top)
		return CLOISTER_ELIMIT;

	/* Validate everything before touching the ring. */
	for (size_t i = 0; i < n; i++) {
		unsigned c = counts ? counts[i] : 1;
		uint64_t want = exact ? c : (uint64_t)c * r->vnodes;

		if (!valid_name(names[i], lens[i]) || c == 0)
			return CLOISTER_EINVAL;
		if (want > CL_RING_MAX_MEMBER_POINTS)
			return CLOISTER_ELIMIT;
		total += want;
	}
	if (total > (size_t)UINT32_MAX - 1 - r->np)
		return CLOISTER_ELIMIT;

	rc = CLOISTER_ENOMEM;
	nm = calloc(n, sizeof *nm);
	slot_of = malloc(n * sizeof *slot_of);
	tmp = malloc(total * sizeof *tmp);
	if (!nm || !slot_of || !tmp)
		goto fail;
	for (; made < n; made++) {
		struct member *m = &nm[made];
		unsigned c = counts ? counts[made] : 1;

		m->name = malloc(lens[made] + 1);
		if (!m->name)
			goto fail;
		memcpy(m->name, names[made], lens[made]);
		m->name[lens[made]] = '\0';
		m->len = (uint8_t)lens[made];
		m->want = exact ? c : c * r->vnodes;
		m->name_hash = name_hash(m->name, m->len);
		m->used = true;
	}
	rc = check_duplicates(r, n, nm);
	if (rc < 0)
		goto fail;

	uint32_t seq = 0;
	for (size_t i = 0, at = 0; i < n; at += nm[i].want, i++)
		gen_points(r, &nm[i], (uint32_t)i, &seq, tmp + at);
	if ((rc = sort_points(r, tmp, total)) < 0)
		goto fail;

	size_t kept = total;
	if (r->alg == CL_RING_LIBRING) {
		/* libring keeps the first point inserted at a position: drop
		 * later duplicates in the batch and any point already taken. */
		kept = 0;
		for (size_t j = 0; j < total; j++) {
			if (kept && tmp[kept - 1].hash == tmp[j].hash)
				continue;
			if (r->np) {
				size_t lb = lower_bound(r, tmp[j].hash);
				if (lb < r->np && r->pts[lb] == tmp[j].hash)
					continue;
			}
			tmp[kept++] = tmp[j];
		}
	}

	if ((rc = grow_points(r, r->np + kept)) < 0 ||
	    (rc = grow_index(r, r->np + kept)) < 0 ||
	    (rc = grow_members(r, (size_t)r->m_top + n)) < 0)
		goto fail;

	/* Commit: nothing below can fail. */
	uint32_t free_slot = 0;
	for (size_t i = 0; i < n; i++) {
		while (free_slot < r->m_top && r->m[free_slot].used)
			free_slot++;
		if (free_slot == r->m_top)
			r->m_top++;
		slot_of[i] = free_slot;
		r->m[free_slot] = nm[i];
		r->m[free_slot].npoints = 0;
		r->member_sum += member_mix(&nm[i]);
		r->nmembers++;
	}
	for (size_t j = 0; j < kept; j++)
		r->m[slot_of[tmp[j].batch]].npoints++;
	for (size_t i = 0; i < n; i++)
		if (r->m[slot_of[i]].npoints)
			r->on_ring++;

	/* Merge from the back: place each new point (largest first) after the
	 * existing points that sort before it, shifting the block above it
	 * with one memmove.  Every existing point moves once, by the number
	 * of new points below it: about one pass over the arrays. */
	size_t i = r->np;
	for (size_t j = kept; j-- > 0;) {
		const struct newpt *p = &tmp[j];
		size_t lo = 0, hi = i; /* [0, i) has not moved yet */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (existing_after(r, mid, p))
				hi = mid;
			else
				lo = mid + 1;
		}
		memmove(&r->pts[lo + j + 1], &r->pts[lo], (i - lo) * sizeof *r->pts);
		memmove(&r->own[lo + j + 1], &r->own[lo], (i - lo) * sizeof *r->own);
		r->pts[lo + j] = p->hash;
		r->own[lo + j] = slot_of[p->batch];
		r->point_sum += point_mix(p->hash, p->mem->name_hash);
		i = lo;
	}
	r->np += kept;
	if (index_bits_for(r->np) == r->bits) {
		/* Same table size: bucket starts only shift up by the number
		 * of new points in lower buckets (tmp is sorted by hash). */
		size_t nb = (size_t)1 << r->bits, b = 0;
		for (size_t j = 0; j <= kept; j++) {
			size_t end = j < kept ? (size_t)(tmp[j].hash >> r->shift) + 1
					      : nb + 1;
			for (; b < end; b++)
				r->idx[b] += (uint32_t)j;
		}
	} else {
		index_build(r);
	}

	free(tmp);
	free(slot_of);
	free(nm); /* the names now belong to the slots */
	return 0;

fail:
	if (nm)
		for (size_t m = 0; m < made; m++)
			free(nm[m].name);
	free(nm);
	free(slot_of);
	free(tmp);
	return rc;
}

int cl_ring_add(cl_ring *r, const void *name, size_t len, unsigned weight)
{
	const void *names[1] = {name};

	return add_batch(r, 1, names, &len, &weight, false);
}

int cl_ring_add_points(cl_ring *r, const void *name, size_t len,
		       unsigned points)
{
	const void *names[1] = {name};

	return add_batch(r, 1, names, &len, &points, true);
}

int cl_ring_add_many(cl_ring *r, size_t n, const void *const names[],
		     const size_t lens[], const unsigned weights[])
{
	return add_batch(r, n, names, lens, weights, false);
}

/* ---------------------------------------------------------------- removing */

/*
 * Removing: every leaving member's points are squeezed out in one pass
 * over the arrays, and the index is rebuilt once, so a batch costs one
 * O(points) walk however many members leave (one at a time, a churn of k
 * members cost k walks).
 */
int cl_ring_remove_many(cl_ring *r, size_t n, const void *const names[],
			const size_t lens[])
{
	if (!r || (n && (!names || !lens)))
		return CLOISTER_EINVAL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!valid_name(names[i], lens[i]))
			return CLOISTER_EINVAL;
	uint8_t *gone = calloc(r->m_top ? r->m_top : 1, 1);
	if (!gone)
		return CLOISTER_ENOMEM;
	/* All or nothing: every name must be present, once. */
	for (size_t i = 0; i < n; i++) {
		long s = find_member(r, names[i], lens[i],
				     name_hash(names[i], lens[i]));
		if (s < 0 || gone[s]) {
			free(gone);
			return s < 0 ? CLOISTER_ENOENT : CLOISTER_EEXIST;
		}
		gone[s] = 1;
	}
	size_t w = 0;
	for (size_t i = 0; i < r->np; i++) {
		uint32_t o = r->own[i];
		if (gone[o]) {
			r->point_sum -= point_mix(r->pts[i], r->m[o].name_hash);
			continue;
		}
		r->pts[w] = r->pts[i];
		r->own[w] = o;
		w++;
	}
	r->np = w;
	for (uint32_t s = 0; s < r->m_top; s++) {
		if (!gone[s])
			continue;
		struct member *m = &r->m[s];
		r->member_sum -= member_mix(m);
		if (m->npoints)
			r->on_ring--;
		r->nmembers--;
		free(m->name);
		memset(m, 0, sizeof *m);
	}
	free(gone);
	while (r->m_top > 0 && !r->m[r->m_top - 1].used)
		r->m_top--;
	index_build(r); /* fewer points: the table never grows */
	return 0;
}

int cl_ring_remove(cl_ring *r, const void *name, size_t len)
{
	const void *names[1] = {name};

	return cl_ring_remove_many(r, 1, names, &len);
}

/* ---------------------------------------------------------------- queries */

size_t cl_ring_size(const cl_ring *r)
{
	return r ? r->nmembers : 0;
}

size_t cl_ring_points(const cl_ring *r)
{
	return r ? r->np : 0;
}

long cl_ring_member_points(const cl_ring *r, const void *name, size_t len)
{
	if (!r || !valid_name(name, len))
		return CLOISTER_EINVAL;
	long s = find_member(r, name, len, name_hash(name, len));
	return s < 0 ? CLOISTER_ENOENT : (long)r->m[s].npoints;
}

long cl_ring_member_requested(const cl_ring *r, const void *name, size_t len)
{
	if (!r || !valid_name(name, len))
		return CLOISTER_EINVAL;
	long s = find_member(r, name, len, name_hash(name, len));
	return s < 0 ? CLOISTER_ENOENT : (long)r->m[s].want;
}

static int hash_key(const cl_ring *r, enum cl_ring_key_kind kind,
		    const void *key, size_t keylen, uint64_t *out)
{
	uint8_t buf[CL_ATOM_T2B_MAX];
	uint32_t raw;
	int n;

	if (!key && keylen)
		return CLOISTER_EINVAL;
	if (!key)
		key = "";
	if (r->alg == CL_RING_DEFAULT) {
		*out = XXH3_64bits(key, keylen);
		return 0;
	}
	switch (kind) {
	case CL_RING_KEY_BINARY:
		raw = cl_phash2_binary(key, keylen);
		break;
	case CL_RING_KEY_ATOM_OTP25:
	case CL_RING_KEY_ATOM_OTP26:
		n = cl_atom_term_to_binary(key, keylen,
					   kind == CL_RING_KEY_ATOM_OTP25
						   ? CL_ATOM_ENC_OTP25
						   : CL_ATOM_ENC_OTP26,
					   buf, sizeof buf);
		if (n < 0)
			return n;
		raw = cl_phash2_binary(buf, (size_t)n);
		break;
	case CL_RING_KEY_ATOM_RAW:
		/* Only to reject what could not be an atom. */
		n = cl_atom_term_to_binary(key, keylen, CL_ATOM_ENC_OTP26, buf,
					   sizeof buf);
		if (n < 0)
			return n;
		raw = cl_phash2_atom(key, keylen);
		break;
	case CL_RING_KEY_INTEGER:
		n = cl_phash2_step_int_text(0, key, keylen, &raw);
		if (n < 0)
			return n;
		break;
	default:
		return CLOISTER_EINVAL;
	}
	*out = cl_phash2_range(raw, CL_RING_LIBRING_RANGE);
	return 0;
}

int cl_ring_key_hash(const cl_ring *r, const void *key, size_t keylen,
		     uint64_t *out)
{
	if (!r || !out)
		return CLOISTER_EINVAL;
	return hash_key(r, r->key_kind, key, keylen, out);
}

static const char *owner_of(const cl_ring *r, size_t i, size_t *name_len)
{
	const struct member *m = &r->m[r->own[i]];

	if (name_len)
		*name_len = m->len;
	return m->name;
}

const char *cl_ring_whois_hash(const cl_ring *r, uint64_t hash,
			       size_t *name_len)
{
	if (!r || r->np == 0)
		return NULL;
	return owner_of(r, successor(r, hash), name_len);
}

const char *cl_ring_whois(const cl_ring *r, const void *key, size_t keylen,
			  size_t *name_len)
{
	uint64_t h;

	if (!r || r->np == 0 || hash_key(r, r->key_kind, key, keylen, &h) < 0)
		return NULL;
	return owner_of(r, successor(r, h), name_len);
}

const char *cl_ring_whois_hash_bsearch(const cl_ring *r, uint64_t hash,
				       size_t *name_len)
{
	if (!r || r->np == 0)
		return NULL;
	size_t lo = 0, hi = r->np;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->pts[mid] < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return owner_of(r, lo == r->np ? 0 : lo, name_len);
}

/* Tracks members already listed by a multi-owner walk. */
struct seen {
	uint32_t local[SEEN_LOCAL];
	size_t count;
	uint8_t *bitmap; /* one byte per slot, when more than SEEN_LOCAL */
};

static int seen_init(struct seen *s, const cl_ring *r, size_t want)
{
	s->count = 0;
	s->bitmap = NULL;
	if (want > SEEN_LOCAL) {
		s->bitmap = calloc(r->m_top, 1);
		if (!s->bitmap)
			return CLOISTER_ENOMEM;
	}
	return 0;
}

/* Marks slot as seen; false if it already was. */
static bool seen_add(struct seen *s, uint32_t slot)
{
	if (s->bitmap) {
		if (s->bitmap[slot])
			return false;
		s->bitmap[slot] = 1;
		return true;
	}
	for (size_t i = 0; i < s->count; i++)
		if (s->local[i] == slot)
			return false;
	s->local[s->count++] = slot;
	return true;
}

static int walk_n(const cl_ring *r, size_t start, size_t n,
		  const char *out_names[], size_t out_lens[])
{
	size_t want = n < r->on_ring ? n : r->on_ring;
	size_t got = 0;
	struct seen seen;

	if (want > INT_MAX)
		want = INT_MAX;
	if (want == 0)
		return 0;
	if (seen_init(&seen, r, want) < 0)
		return CLOISTER_ENOMEM;
	for (size_t step = 0; step < r->np && got < want; step++) {
		size_t i = start + step;
		if (i >= r->np)
			i -= r->np;
		if (!seen_add(&seen, r->own[i]))
			continue;
		out_names[got] = owner_of(r, i, out_lens ? &out_lens[got] : NULL);
		got++;
	}
	free(seen.bitmap);
	return (int)got;
}

int cl_ring_whois_n_hash(const cl_ring *r, uint64_t hash, size_t n,
			 const char *out_names[], size_t out_lens[])
{
	if (!r || (n && !out_names))
		return CLOISTER_EINVAL;
	if (r->np == 0 || n == 0)
		return 0;
	return walk_n(r, successor(r, hash), n, out_names, out_lens);
}

int cl_ring_whois_n(const cl_ring *r, const void *key, size_t keylen,
		    size_t n, const char *out_names[], size_t out_lens[])
{
	uint64_t h;
	int rc;

	if (!r || (n && !out_names))
		return CLOISTER_EINVAL;
	if ((rc = hash_key(r, r->key_kind, key, keylen, &h)) < 0)
		return rc;
	return cl_ring_whois_n_hash(r, h, n, out_names, out_lens);
}

int cl_ring_libring_key_to_nodes(const cl_ring *r, const void *key,
				 size_t keylen, size_t n,
				 const char *out_names[], size_t out_lens[])
{
	uint64_t h;
	int rc;

	if (!r || r->alg != CL_RING_LIBRING || (n && !out_names))
		return CLOISTER_EINVAL;
	if ((rc = hash_key(r, r->key_kind, key, keylen, &h)) < 0)
		return rc;
	/* Upstream caps by its node list, which counts every member. */
	size_t count = n < r->nmembers ? n : r->nmembers;
	if (count > INT_MAX)
		count = INT_MAX;
	if (r->np == 0 || count == 0)
		return 0;

	size_t i = lower_bound(r, h);
	if (i == r->np) {
		/* No point >= hash: the smallest point's node, alone. */
		out_names[0] = owner_of(r, 0, out_lens ? &out_lens[0] : NULL);
		return 1;
	}
	struct seen seen;
	if (seen_init(&seen, r, count) < 0)
		return CLOISTER_ENOMEM;
	size_t got = 0;
	for (; i < r->np && got < count; i++) {
		if (!seen_add(&seen, r->own[i]))
			continue;
		out_names[got] = owner_of(r, i, out_lens ? &out_lens[got] : NULL);
		got++;
	}
	free(seen.bitmap);
	if (got < count) {
		/* Ran off the end: upstream returns its accumulator, which
		 * it builds newest first. */
		for (size_t a = 0, b = got - 1; a < b; a++, b--) {
			const char *t = out_names[a];
			out_names[a] = out_names[b];
			out_names[b] = t;
			if (out_lens) {
				size_t tl = out_lens[a];
				out_lens[a] = out_lens[b];
				out_lens[b] = tl;
			}
		}
	}
	return (int)got;
}

uint64_t cl_ring_checksum(const cl_ring *r)
{
	uint8_t b[40];

	if (!r)
		return 0;
	put_le64(b, (uint64_t)r->alg);
	put_le64(b + 8, r->nmembers);
	put_le64(b + 16, r->member_sum);
	put_le64(b + 24, r->np);
	put_le64(b + 32, r->point_sum);
	return XXH3_64bits(b, sizeof b);
}

int cl_ring_point_at(const cl_ring *r, size_t i, uint64_t *hash,
		     const char **name, size_t *name_len)
{
	if (!r || i >= r->np)
		return CLOISTER_EINVAL;
	if (hash)
		*hash = r->pts[i];
	const char *nm = owner_of(r, i, name_len);
	if (name)
		*name = nm;
	return 0;
}

void cl_ring_stats(const cl_ring *r, struct cl_ring_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof *st);
	if (!r)
		return;
	st->members = r->nmembers;
	st->points = r->np;
	st->index_bits = r->bits;
	st->index_bytes = (((size_t)1 << r->bits) + 1) * sizeof *r->idx;
	for (size_t b = 0; b < ((size_t)1 << r->bits); b++) {
		size_t len = r->idx[b + 1] - r->idx[b];
		if (len > st->max_bucket)
			st->max_bucket = len;
	}
}
