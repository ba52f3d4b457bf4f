/*
 * ring_view.h — a hash ring as arcs of a circle, for drawing it (the
 * agent's /v1/ring and web page).
 *
 * A point at hash h owns the keys in (previous point, h]; consecutive
 * points of one owner merge into one arc.  Up to `max_arcs` arcs the
 * picture is exact; a larger ring (1,000 members at 128 points each is
 * 128,000 arcs) is sampled instead: the circle is cut into `max_arcs`
 * equal steps, each drawn in the colour of whoever owns its middle, and
 * equal neighbours merge.  Shares (the fraction of the circle each owner
 * holds) are always exact.
 */
#ifndef CLOISTER_RUNTIME_RING_VIEW_H
#define CLOISTER_RUNTIME_RING_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"

typedef struct cl_ring_arc {
	double from, to; /* fractions of the circle, 0 <= from < to <= 1 */
	uint32_t owner;  /* index into owners */
} cl_ring_arc;

typedef struct cl_ring_arcs {
	char **owners; /* NUL-terminated names */
	double *share; /* per owner, sums to 1 */
	size_t n_owners;
	cl_ring_arc *arcs;
	size_t n_arcs;
	size_t points;
	bool exact;
	uint64_t checksum;
} cl_ring_arcs;

/* ring: "" or NULL is the default ring.  0, CLOISTER_ENOENT (no such ring
 * or no members) or CLOISTER_ENOMEM.  Free with cl_ring_arcs_free. */
int cl_node_ring_arcs(cloister_t *c, const char *ring, size_t max_arcs,
		      cl_ring_arcs **out);
void cl_ring_arcs_free(cl_ring_arcs *a);

/* The same for a ring at hand (libring: hashes run over [0, 2^32 - 1)
 * instead of [0, 2^64)); the caller keeps it from changing meanwhile. */
struct cl_ring;
int cl_ring_arcs_of(const struct cl_ring *r, bool libring, size_t max_arcs,
		    cl_ring_arcs **out);

#endif
