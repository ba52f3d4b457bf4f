/*
 * prop.h — property checking: the membership core under random fault
 * schedules, with its invariants checked all along.
 *
 * One run is one seed.  The seed draws a cluster size, then a schedule of
 * faults over a fault window: crashes, restarts (same address, a new one,
 * new tags, a clock stepped back), pauses short and long, partitions
 * (minority, and longer than the tombstone timeout), one-way and
 * non-transitive cuts, loss, duplication, corruption, failing streams, a
 * slow receiver, leaves (during a suspicion or a partition, and rejoining
 * within the second), a second live process with a node's name, and an
 * address reused by a different name.  Then every fault is healed and the
 * cluster must settle within a bound computed from the timing.
 *
 * Invariants, checked on every event and periodically:
 *   - no false death: a FAIL about a process that is running is excused
 *     only by a fault that explains it (it was paused past the suspicion
 *     bound, cut off from the observer by a partition, the observer itself
 *     was frozen, heavy loss, a slow receive path, its own leave, a rival
 *     process with its name); any other is a violation, and the excused
 *     ones are counted per fault class;
 *   - no resurrection: an observer never takes an ALIVE at or below an
 *     incarnation it already saw dead or left (across reaps too);
 *   - bounded incarnations and no address flip-flop;
 *   - every node's rings hold exactly its live members;
 *   - once the faults stop, every running node holds exactly the running
 *     nodes alive, at their addresses and incarnations, and nothing else
 *     live (no ghost), with equal checksums, within the bound.
 *
 * On a violation the run reports the seed, the schedule, the violation and
 * the last events about the member concerned, then (if asked) searches a
 * smaller schedule that still fails, by dropping faults one at a time.
 */
#ifndef CLOISTER_SIM_PROP_H
#define CLOISTER_SIM_PROP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/swim.h"

enum cl_prop_fault {
	CL_PF_CRASH = 0,       /* for good */
	CL_PF_RESTART,         /* crash, back at the same address */
	CL_PF_RESTART_MOVED,   /* ... at a new address */
	CL_PF_RESTART_RETAG,   /* ... with other tags */
	CL_PF_RESTART_CLOCK,   /* ... its clock stepped back (lower incarnation) */
	CL_PF_PAUSE,           /* frozen shorter than a suspicion */
	CL_PF_PAUSE_LONG,      /* frozen past it */
	CL_PF_PARTITION,       /* a minority cut off both ways */
	CL_PF_PARTITION_LONG,  /* ... for longer than the tombstone timeout */
	CL_PF_ONE_WAY,         /* a -> b dropped, b -> a flows */
	CL_PF_NON_TRANSITIVE,  /* a and b cut, both reach everyone else */
	CL_PF_LOSS,            /* uniform datagram loss */
	CL_PF_DUP,             /* datagrams duplicated (and reordered) */
	CL_PF_CORRUPT,         /* datagrams cut short or bit-flipped */
	CL_PF_STREAM_FAIL,     /* streams fail to connect */
	CL_PF_SLOW,            /* a node's receive path lags */
	CL_PF_LEAVE,           /* graceful leave, for good */
	CL_PF_LEAVE_REJOIN,    /* leave, back within the second */
	CL_PF_TWIN,            /* a second live process with a node's name */
	CL_PF_ADDR_REUSE,      /* a crashed node's address, another name */
	CL_PF__COUNT
};

const char *cl_prop_fault_name(enum cl_prop_fault f);

typedef struct cl_prop_config {
	uint64_t seed;
	uint32_t min_nodes, max_nodes; /* cluster size range, 0 = 4..16 */
	cl_usec fault_window;          /* 0 = 150 s */
	unsigned max_faults;           /* 0 = 8 */
	FILE *report;                  /* violations and traces; NULL: quiet */
	bool shrink;                   /* look for a smaller failing schedule */
	bool trace;                    /* print the schedule before running */
	/* Print the packets sent by or to these node numbers (below
	 * CL_PROP_SLOTS_MAX) to report, in the first run of a seed (not the
	 * runs that look for a smaller schedule): sim_trace.h. */
	const uint32_t *packets_of;
	size_t n_packets_of;
} cl_prop_config;

/* Node numbers a schedule's cluster and its spare slots stay below. */
#define CL_PROP_SLOTS_MAX 64

typedef struct cl_prop_result {
	bool ok;
	uint64_t seed;
	uint32_t nodes;
	unsigned n_faults;
	unsigned faults[CL_PF__COUNT];     /* injected (applied) per class */
	unsigned excused[CL_PF__COUNT];    /* FAILs about running processes
					      that a fault of that class
					      explained */
	cl_usec converged_after;           /* after the heal; -1 never */
	unsigned rediscovered;             /* joins a discovery made for
					      nodes on an island (prop.c) */
	cl_usec bound;                     /* allowed for that */
	double sim_seconds;
	uint64_t events;
	char violation[600];
} cl_prop_result;

/* Runs one schedule.  0 (see res->ok), or a negative CLOISTER_E* if the
 * simulation itself could not run. */
int cl_prop_run(const cl_prop_config *cfg, cl_prop_result *res);

/* A range of seeds, cfg as the template (its seed is replaced). */
typedef struct cl_prop_summary {
	uint64_t first, last, runs, violations, events;
	uint64_t first_violation; /* seed, or 0 */
	double sim_seconds, slowest_settle;
	unsigned faults[CL_PF__COUNT], excused[CL_PF__COUNT];
	uint64_t rediscovered; /* runs where an island was rejoined */
} cl_prop_summary;

int cl_prop_batch(const cl_prop_config *cfg, uint64_t first, uint64_t last,
		  cl_prop_summary *sum);
/* The summary's text: counts, the fault mix, the excused deaths; the
 * caller adds its own wall-clock figures (the simulator reads no clock). */
void cl_prop_summary_print(FILE *out, const cl_prop_summary *sum,
			   double wall_s);

#endif
