/*
 * timings.h — durations the node measures for its metrics and web page:
 * probe round trips (overall and the last one per member), how long
 * suspicions last and how they end, and how long after a member started
 * this node first saw it (join convergence).
 *
 * Measured in the runtime, not the core: the core has no clock and keeps
 * no durations.  After every protocol step (node_finish_step, node lock
 * held) the runtime shows this module the step's events and the probe in
 * flight (core/probe_view.h); everything here is O(1) per event.
 *
 * Memory: one small entry per member that has an answered probe or an
 * open suspicion, removed when the core reaps the member, so it is
 * bounded by the core's member table (max_members).
 */
#ifndef CLOISTER_RUNTIME_TIMINGS_H
#define CLOISTER_RUNTIME_TIMINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"
#include "core/swim.h"

/* A Prometheus-style histogram: per-bucket counts (not cumulative) for
 * the upper bounds in `le` (seconds, ascending), then +Inf. */
#define CL_HIST_MAX 16
typedef struct cl_histogram {
	size_t n;         /* finite bounds used */
	double le[CL_HIST_MAX];
	uint64_t bucket[CL_HIST_MAX + 1];
	uint64_t count;
	double sum; /* seconds */
} cl_histogram;

void cl_histogram_init(cl_histogram *h, const double *le, size_t n);
void cl_histogram_observe(cl_histogram *h, double seconds);

/* How a suspicion ended. */
enum cl_suspicion_end {
	CL_SUSPICION_REFUTED, /* back to alive */
	CL_SUSPICION_DEAD,    /* declared dead */
	CL_SUSPICION_LEFT,    /* it left gracefully meanwhile */
	CL_SUSPICION_ENDS
};
/* "refuted", "dead", "left". */
const char *cl_suspicion_end_name(enum cl_suspicion_end e);

typedef struct cl_timings_snapshot {
	cl_histogram probe;     /* answered probes: ping until the answer */
	cl_histogram suspicion[CL_SUSPICION_ENDS];
	cl_histogram join;      /* member start until first seen alive */
	uint64_t untracked;     /* suspicions or members past the table */
} cl_timings_snapshot;

typedef struct cl_timings cl_timings;

/* self_start_ms: this node's start (wall ms): only members that started
 * after it are timed for join convergence (the others were there before
 * this node could see anything). */
cl_timings *cl_timings_new(const char *self, uint64_t self_start_ms);
void cl_timings_free(cl_timings *t);

/* After a step: one call per member event, in order, then one for the
 * probe state.  now_us: the step's clock (cloister_now_us), wall_ms: the
 * wall clock (member start times are wall ms). */
void cl_timings_event(cl_timings *t, const cl_swim_event *ev, int64_t now_us,
		      uint64_t wall_ms);
void cl_timings_probe(cl_timings *t, const cl_swim *core, int64_t now_us);

void cl_timings_get(const cl_timings *t, cl_timings_snapshot *out);
/* The last answered probe's round trip to a member (by cl_swim_name_id),
 * in microseconds, or -1 if none was timed. */
int64_t cl_timings_rtt(const cl_timings *t, uint64_t member_id);

/* The same through a node handle, under its lock (the agent's view). */
int cl_node_timings(cloister_t *c, cl_timings_snapshot *out);
/* rtt_us[i] for names[i] (-1: none); this node's health score and its
 * maximum (Lifeguard's awareness bound). */
int cl_node_rtts(cloister_t *c, const char *const *names, size_t n,
		 int64_t *rtt_us);
int cl_node_health(cloister_t *c, unsigned *health, unsigned *health_max);

#endif
