/*
 * test_sim_properties.c — the membership invariants under random fault
 * schedules (src/sim/prop.h).
 *
 *   test_sim_properties              the CI slice: seeds 1..PROP_CI_SEEDS
 *   test_sim_properties FIRST LAST   any range (make prop runs 10,000)
 *
 * Every schedule's seed is printed with its violation, its schedule, the
 * last events about the member concerned and the smallest failing schedule
 * found; `cloister sim --prop --seeds S-S` replays one.
 */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "sim/prop.h"

/* Seeds in `make test`: a slice well under a minute in the slowest CI
 * build (ASan); `make prop` runs the long batch. */
#define PROP_CI_SEEDS 60

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, last = PROP_CI_SEEDS;
	if (argc == 3) {
		first = strtoull(argv[1], NULL, 10);
		last = strtoull(argv[2], NULL, 10);
	}
	unsigned faults[CL_PF__COUNT] = {0}, excused[CL_PF__COUNT] = {0};
	uint64_t runs = 0, bad = 0, events = 0;
	double sim_s = 0, worst_settle = 0, t0 = wall();
	for (uint64_t seed = first; seed <= last; seed++) {
		cl_prop_config cfg = {.seed = seed, .report = stderr,
				      .shrink = true};
		cl_prop_result r;
		check_seed = seed;
		CHECK_EQ_INT(cl_prop_run(&cfg, &r), 0);
		runs++;
		events += r.events;
		sim_s += r.sim_seconds;
		for (int k = 0; k < CL_PF__COUNT; k++) {
			faults[k] += r.faults[k];
			excused[k] += r.excused[k];
		}
		if (!r.ok) {
			bad++;
			fprintf(stderr, "seed %llu: %s\n",
				(unsigned long long)seed, r.violation);
		} else if ((double)r.converged_after / 1e6 > worst_settle) {
			worst_settle = (double)r.converged_after / 1e6;
		}
	}
	double el = wall() - t0;
	printf("%llu schedules (seeds %llu-%llu), %llu violations, %.1f s wall, "
	       "%.1f schedules/s, %.0f simulated s, %llu member events; "
	       "slowest settle after the heal %.1f s\n",
	       (unsigned long long)runs, (unsigned long long)first,
	       (unsigned long long)last, (unsigned long long)bad, el,
	       (double)runs / el, sim_s, (unsigned long long)events,
	       worst_settle);
	printf("fault mix (applied) and deaths of running processes each "
	       "class explained:\n");
	for (int k = 0; k < CL_PF__COUNT; k++)
		printf("  %-15s %6u applied, %5u excused deaths\n",
		       cl_prop_fault_name((enum cl_prop_fault)k), faults[k],
		       excused[k]);
	CHECK_EQ_INT(bad, 0);
	return 0;
}
