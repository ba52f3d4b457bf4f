/*
 * ring_view.c — see ring_view.h.  Runs under the node's lock, O(points).
 */
#include "ring_view.h"

#include <stdlib.h>
#include <string.h>

#include "core/cluster.h"
#include "core/ring.h"
#include "node_internal.h"

/* Distinct owners, found by the name pointer the ring hands out (one
 * per member, stable while the ring is not mutated: we hold the lock). */
struct owners {
	const char **key;
	uint32_t *idx;
	size_t cap;
	const char **names;
	size_t n, max;
};

static size_t ptr_hash(const char *p, size_t mask)
{
	uintptr_t v = (uintptr_t)p;
	v ^= v >> 17;
	v *= 0x9E3779B97F4A7C15u;
	return (size_t)(v >> 7) & mask;
}

/* The owner index of a name pointer, added if new; -1 out of memory. */
static long owner_of(struct owners *o, const char *name)
{
	size_t mask = o->cap - 1;
	size_t i = ptr_hash(name, mask);
	while (o->key[i] && o->key[i] != name)
		i = (i + 1) & mask;
	if (o->key[i])
		return o->idx[i];
	if (o->n == o->max)
		return -1; /* more owners than members: not a ring we know */
	o->key[i] = name;
	o->idx[i] = (uint32_t)o->n;
	o->names[o->n] = name;
	return (long)o->n++;
}

void cl_ring_arcs_free(cl_ring_arcs *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_owners; i++)
		free(a->owners[i]);
	free(a->owners);
	free(a->share);
	free(a->arcs);
	free(a);
}

static bool push_arc(cl_ring_arcs *a, size_t cap, double from, double to,
		     uint32_t owner)
{
	if (to <= from)
		return true;
	if (a->n_arcs && a->arcs[a->n_arcs - 1].owner == owner &&
	    a->arcs[a->n_arcs - 1].to >= from) {
		a->arcs[a->n_arcs - 1].to = to;
		return true;
	}
	if (a->n_arcs == cap)
		return false;
	a->arcs[a->n_arcs++] = (cl_ring_arc){from, to, owner};
	return true;
}

static int build(const cl_ring *r, bool libring, size_t max_arcs,
		 cl_ring_arcs *a)
{
	size_t P = cl_ring_points(r);
	size_t members = cl_ring_size(r);
	if (!P || !members)
		return CLOISTER_ENOENT;
	/* Hashes run over [0, 2^64) or, for libring, [0, 2^32 - 1). */
	double range = libring ? (double)CL_RING_LIBRING_RANGE : 18446744073709551616.0;
	struct owners o = {0};
	o.cap = 16;
	o.max = members;
	while (o.cap < members * 2)
		o.cap *= 2;
	o.key = calloc(o.cap, sizeof *o.key);
	o.idx = calloc(o.cap, sizeof *o.idx);
	o.names = calloc(members, sizeof *o.names);
	a->share = calloc(members, sizeof *a->share);
	a->arcs = calloc(max_arcs ? max_arcs : 1, sizeof *a->arcs);
	int e = CLOISTER_ENOMEM;
	if (!o.key || !o.idx || !o.names || !a->share || !a->arcs)
		goto out;
	a->points = P;

	/* Exact shares, and exact arcs while they fit. */
	uint64_t prev = 0;
	bool fits = true;
	for (size_t i = 0; i < P; i++) {
		uint64_t h;
		const char *name;
		size_t len;
		if (cl_ring_point_at(r, i, &h, &name, &len) != 0)
			goto out;
		long k = owner_of(&o, name);
		if (k < 0)
			goto out;
		if (i == 0) {
			/* [0, h] belongs to the first point; the wrap from the
			 * last point is added after the loop. */
			a->share[k] += (double)h / range;
			fits = fits && push_arc(a, max_arcs, 0, (double)h / range,
						(uint32_t)k);
		} else {
			a->share[k] += (double)(h - prev) / range;
			fits = fits && push_arc(a, max_arcs, (double)prev / range,
						(double)h / range, (uint32_t)k);
		}
		prev = h;
	}
	{
		/* (last point, end of the circle) belongs to the first point. */
		uint64_t h0;
		const char *name0;
		size_t len0;
		cl_ring_point_at(r, 0, &h0, &name0, &len0);
		long k0 = owner_of(&o, name0);
		if (k0 < 0)
			goto out;
		double tail = libring ? ((double)CL_RING_LIBRING_RANGE - (double)prev)
				      : (double)(UINT64_MAX - prev) + 1.0;
		a->share[k0] += tail / range;
		fits = fits && push_arc(a, max_arcs, (double)prev / range, 1.0,
					(uint32_t)k0);
	}
	a->exact = fits;
	if (!fits) {
		a->n_arcs = 0;
		for (size_t s = 0; s < max_arcs; s++) {
			double mid = ((double)s + 0.5) / (double)max_arcs * range;
			size_t len;
			const char *name =
				cl_ring_whois_hash(r, (uint64_t)mid, &len);
			long k = name ? owner_of(&o, name) : -1;
			if (k < 0)
				goto out;
			push_arc(a, max_arcs, (double)s / (double)max_arcs,
				 (double)(s + 1) / (double)max_arcs, (uint32_t)k);
		}
	}
	a->owners = calloc(o.n, sizeof *a->owners);
	if (!a->owners)
		goto out;
	for (size_t i = 0; i < o.n; i++) {
		a->owners[i] = strdup(o.names[i]);
		if (!a->owners[i])
			goto out;
		a->n_owners = i + 1;
	}
	a->checksum = cl_ring_checksum(r);
	e = 0;
out:
	free(o.key);
	free(o.idx);
	free(o.names);
	return e;
}

int cl_ring_arcs_of(const cl_ring *r, bool libring, size_t max_arcs,
		    cl_ring_arcs **out)
{
	if (!r || !out || max_arcs < 1)
		return CLOISTER_EINVAL;
	*out = NULL;
	cl_ring_arcs *a = calloc(1, sizeof *a);
	if (!a)
		return CLOISTER_ENOMEM;
	int e = build(r, libring, max_arcs, a);
	if (e) {
		cl_ring_arcs_free(a);
		return e;
	}
	*out = a;
	return 0;
}

int cl_node_ring_arcs(cloister_t *c, const char *ring, size_t max_arcs,
		      cl_ring_arcs **out)
{
	if (!c || !out || max_arcs < 1)
		return CLOISTER_EINVAL;
	*out = NULL;
	cl_ring_arcs *a = calloc(1, sizeof *a);
	if (!a)
		return CLOISTER_ENOMEM;
	pthread_mutex_lock(&c->lock);
	const cl_ring *r = cl_cluster_ring(c->cluster, ring ? ring : "");
	int e = r ? build(r, c->cfg.cluster.ring_algorithm == CL_RING_LIBRING,
			  max_arcs, a)
		  : CLOISTER_ENOENT;
	pthread_mutex_unlock(&c->lock);
	if (e) {
		cl_ring_arcs_free(a);
		return e;
	}
	*out = a;
	return 0;
}
