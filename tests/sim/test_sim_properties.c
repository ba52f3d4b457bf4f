/*
 * test_sim_properties.c — the membership invariants under random fault
 * schedules (src/sim/prop.h).
 *
 *   test_sim_properties              the CI slice: seeds 1..PROP_CI_SEEDS
 *   test_sim_properties FIRST LAST   any range (`make prop` runs 10,000)
 *
 * A violation prints its seed, the schedule, the last events about the
 * member concerned and the smallest failing schedule found; `cloister sim
 * --prop --seeds S` replays one.
 */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "sim/prop.h"

/* Seeds in `make test`: a slice that stays well under a minute in the
 * slowest CI build (ASan); `make prop` runs the long batch. */
#define PROP_CI_SEEDS 300

/* Schedules that a long batch (seeds up to 1,600,000) once found failing,
 * replayed on every run: false deaths where a suspicion never reached a
 * node that could tell the suspect (one-way and non-transitive cuts inside
 * a partition's minority; 10 % loss eating the one ping of a suspicion
 * that confirmations had shortened past its halfway reminder; a suspect's
 * refutation lost on a path that damaged or lost a third of the datagrams,
 * until the reminder went over the stream too; a doubt at a newer
 * incarnation counted as a confirmation of an older suspicion, which it
 * ended on the spot; a suspicion at a newer number about a member restarted
 * at another address, confirmed by our failed probes of the old one; a
 * refutation whose whole budget went to a partition's far side; two that
 * did not settle: a node restarted at a reused address, an island nobody
 * learned of, and a twin whose only seed that answered was its own
 * predecessor, which stepped down and left it alone; a node behind
 * two one-way cuts, refuting each round's true suspicion, over a bound
 * that did not count such cuts; a restarted node that knew one member,
 * judged it alone on the shortest timer and killed it; a rival for a
 * name taken for a ghost when its every answer was lost, outbid by
 * refutations five times over; and, under failing streams with damage or
 * loss, nodes that missed a refutation and doubted on, their doubts
 * reaching members that all knew better and said nothing (the suspect
 * itself included); confirmations that came after the minimum and killed
 * on the spot, the refutation a millisecond behind them; and a node
 * restarted alone whose every seed was gone by the heal, which only
 * discovery finds, as the checker now models it; suspicions and
 * refutations inside a partition's minority whose gossip all went across
 * the cut, until the first target of a round was a member heard from
 * lately, counted in the probe periods local health stretches; a
 * node slowed past the probe timeout under loss; and two processes with
 * one name started in one millisecond, the older never told, its
 * checksum the same as everyone's until it counted the address; two
 * nodes restarted inside a partition's minority, one of them moved, who
 * joined each other and nobody else: an island of two that only
 * discovery finds, as it finds an island of one). */
static const uint64_t found[] = {
	8529, 12864, 29078, 31092, 35484, 36936, 46547, 52710, 53924,
	56014, 56706, 61591, 63396, 68362, 71745, 73692, 74408, 79311,
	83297, 90270, 90969, 91366, 99275, 102152, 116653, 117649,
	176205, 182232, 233998, 234546, 280239, 324453, 336991, 354324,
	367543, 376294, 413279, 458441, 513639, 566036, 569710, 578297,
	631765, 684749, 686924, 698400, 737301, 755508, 827402, 913348,
	1016068, 1017503, 1063943, 1078200, 1091170, 1091200, 1119938,
	1593928,
};

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
	cl_prop_config cfg = {.report = stderr, .shrink = true};
	cl_prop_summary sum;
	if (argc != 3) {
		for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
			CHECK_EQ_INT(cl_prop_batch(&cfg, found[i], found[i], &sum),
				     0);
			check_seed = found[i];
			CHECK_EQ_INT(sum.violations, 0);
		}
		printf("%zu found schedules replayed, 0 violations\n",
		       sizeof found / sizeof found[0]);
	}
	double t0 = wall();
	CHECK_EQ_INT(cl_prop_batch(&cfg, first, last, &sum), 0);
	cl_prop_summary_print(stdout, &sum, wall() - t0);
	check_seed = sum.first_violation;
	CHECK_EQ_INT(sum.violations, 0);
	CHECK_EQ_INT(sum.runs, last - first + 1);
	return 0;
}
