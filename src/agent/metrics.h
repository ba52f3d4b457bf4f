/*
 * metrics.h — the agent's /metrics page, by Prometheus's conventions
 * (text format 0.0.4):
 *   - every family has a HELP line that says what it counts and a TYPE;
 *   - counters end in _total, the unit comes last before it (_bytes,
 *     _seconds), in base units;
 *   - one family with a label where the runtime has a counter per case
 *     (drops by reason, connections closed by reason);
 *   - histograms for probe round trips, suspicion durations and join
 *     convergence (runtime/timings.h);
 *   - the standard process_* families.
 * docs/metrics.md describes each family; tests/tools/check_metrics.py
 * checks a live page against the conventions.
 */
#ifndef CLOISTER_AGENT_METRICS_H
#define CLOISTER_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cloister.h"

/* What only the control API knows. */
typedef struct cl_metrics_api {
	size_t subscribers, multicalls, queued_bytes;
	uint64_t events_dropped;
	size_t n_listeners;
	struct {
		const char *name;
		size_t open;
	} listeners[4];
	size_t n_refused;
	struct {
		const char *reason;
		uint64_t count;
	} refused[16];
} cl_metrics_api;

/* The whole page, malloc'd, NUL-terminated (length in *len); NULL when
 * the node's state cannot be read or memory runs out. */
char *cl_metrics_render(cloister_t *node, const cl_metrics_api *api,
			size_t *len);

/* The family a runtime counter is published in (NULL: none, so the
 * counter is not described yet: a test checks there is none). */
const char *cl_metrics_family_of(const char *counter);

#endif
