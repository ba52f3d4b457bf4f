/*
 * probe_view.h — a read-only look at the probe in flight, for timing.
 *
 * The core keeps no durations itself (no clock of its own, and nothing in
 * the protocol needs one kept).  Its owner reads this after each step: a
 * probe that was in flight and has ended without the failure counter
 * moving was answered, and the answer arrived in that step, so the step's
 * time minus `sent` is the probe's round trip.  That gives the runtime a
 * round-trip histogram and a per-member round trip without touching the
 * protocol path.
 */
#ifndef CLOISTER_CORE_PROBE_VIEW_H
#define CLOISTER_CORE_PROBE_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "swim.h"

typedef struct cl_swim_probe_view {
	uint32_t seq;          /* the probe's sequence number */
	uint64_t target_hash;  /* cl_swim_name_id() of its target */
	cl_usec sent;          /* `now` when the direct ping went out */
	bool indirect;         /* relays (and the stream ping) were asked */
} cl_swim_probe_view;

/* True with *out filled while a probe is waiting for its answer. */
bool cl_swim_probe_in_flight(const cl_swim *s, cl_swim_probe_view *out);

#endif
