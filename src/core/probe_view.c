/*
 * probe_view.c — see probe_view.h.  Kept apart from detector.c so that
 * reading the probe state never changes it.
 */
#include "probe_view.h"

#include "swim_internal.h"

bool cl_swim_probe_in_flight(const cl_swim *s, cl_swim_probe_view *out)
{
	if (!s || s->phase == PROBE_IDLE)
		return false;
	out->seq = s->probe_seq;
	out->target_hash = s->probe_target_hash;
	out->sent = s->probe_sent;
	out->indirect = s->phase == PROBE_INDIRECT;
	return true;
}
