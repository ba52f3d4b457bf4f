/*
 * cmd_demo.c — `cloister sim demo`: a narrated simulation of a 50-node
 * cluster living through a crash, a restart at a new address and a
 * graceful leave.  It runs on the simulator's virtual clock, so it takes
 * a fraction of a second and says the same thing every time for a seed.
 * `cloister demo` (and `make demo`) is the demonstration with real agents
 * on loopback (cmd_local.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "cloister.h"
#include "sim/sim.h"

#define DEMO_NODES 50

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cloister sim demo [--seed S]\n"
		"\n"
		"A narrated simulation: %d nodes boot and join through one seed\n"
		"node, one crashes and is detected, restarts at a new address,\n"
		"another leaves gracefully.  Virtual time, deterministic for a\n"
		"seed (default 1); finishes in well under a second.\n"
		"`cloister demo` shows the same with real agents on loopback.\n",
		DEMO_NODES);
}

/* What the narration waits for, gathered by the observer. */
struct story {
	uint32_t victim, leaver;
	cl_usec first_suspect, first_fail;
	uint32_t suspecter, failer;
	cl_addr new_addr;
};

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	struct story *st = arg;
	int64_t who = cl_sim_node_index(sim, ev->name, ev->name_len);
	if (who != (int64_t)st->victim ||
	    cl_sim_node_state(sim, st->victim) != CL_SIM_CRASHED)
		return;
	if (st->first_suspect < 0 && ev->type == CL_EV_UPDATE &&
	    ev->status == CL_STATUS_SUSPECT) {
		st->first_suspect = now;
		st->suspecter = node;
	}
	if (st->first_fail < 0 && ev->type == CL_EV_FAIL) {
		st->first_fail = now;
		st->failer = node;
	}
}

/* Every running node (other than `who`) sees `who` in `status`, and, when
 * want_addr, at that address. */
struct seen {
	uint32_t who;
	uint8_t status;
	bool want_addr;
	cl_addr addr;
};

static bool all_see(void *arg, cl_sim *sim)
{
	const struct seen *w = arg;
	const char *name = cl_sim_node_name(sim, w->who);
	for (uint32_t i = 0; i < cl_sim_nodes(sim); i++) {
		cl_swim *c = cl_sim_core(sim, i);
		if (!c || i == w->who ||
		    cl_sim_node_state(sim, i) != CL_SIM_UP)
			continue;
		cl_swim_member_view v;
		if (!cl_swim_lookup(c, name, strlen(name), &v)) {
			if (w->status == CL_STATUS_ALIVE)
				return false;
			continue; /* forgotten: as good as dead */
		}
		if (v.status != w->status)
			return false;
		if (w->want_addr && !cl_addr_equal(&v.addr, &w->addr))
			return false;
	}
	return true;
}

/* One timeline line, stamped with the virtual time. */
__attribute__((format(printf, 2, 3))) static void say(cl_sim *sim,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  %8.3fs  ", (double)cl_sim_now(sim) / 1e6);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

int cmd_sim_demo(int argc, char **argv)
{
	static const struct cl_opt opts[] = {
		{"--seed", true}, {"--help", false}, {"-h", false}};
	uint64_t seed = 1;
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind k = cl_args_next(&args, opts, 3);
		if (k == CL_ARG_END)
			break;
		if (k == CL_ARG_ERROR || k == CL_ARG_POS) {
			fprintf(stderr, "cloister sim demo: %s (see `cloister sim "
					"demo --help`)\n",
				k == CL_ARG_ERROR ? args.error : "unexpected argument");
			return 2;
		}
		if (!cl_args_is(&args, "--seed")) {
			usage(stdout);
			return 0;
		}
		const char *v = args.value;
		char *end;
		errno = 0;
		seed = strtoull(v, &end, 10);
		if (errno || *end || v[0] == '-' || !v[0]) {
			fprintf(stderr, "cloister sim demo: --seed %s: want an "
					"unsigned integer\n",
				v);
			return 2;
		}
	}

	struct story st = {.first_suspect = -1, .first_fail = -1};
	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = DEMO_NODES;
	cfg.seed = seed;
	cfg.label = "demo";
	cfg.observer = observe;
	cfg.observer_arg = &st;
	int err;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	if (!sim) {
		fprintf(stderr, "cloister sim demo: %s\n", cloister_strerror(err));
		return 1;
	}
	cl_swim_timing t;
	cl_swim_timing_profile(&t, CL_PROFILE_LAN);
	char a[CL_ADDR_STRLEN], b[CL_ADDR_STRLEN];
	cl_addr seed_addr = cl_sim_node_addr(sim, 0);

	printf("cloister sim demo: %d simulated nodes on a virtual LAN "
	       "(1 ms +- 0.5 ms), seed %llu\n"
	       "(probe every %.1f s, ack timeout %.0f ms, %u indirect probes)"
	       "\n\n",
	       DEMO_NODES, (unsigned long long)seed,
	       (double)t.probe_interval / 1e6,
	       (double)t.probe_timeout / 1e3, t.indirect_checks);
	say(sim, "%d nodes boot, 1 ms apart; each joins through n0 at %s",
	    DEMO_NODES, cl_addr_format(&seed_addr, a, sizeof a));

	bool ok = true;
	if (!cl_sim_run_until_converged(sim, 60 * CL_SEC)) {
		say(sim, "the cluster did not converge in 60 s");
		ok = false;
		goto summary;
	}
	say(sim, "converged: every node sees all %d members alive",
	    DEMO_NODES);

	/* A crash. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 3 * CL_SEC);
	uint32_t victim;
	cl_sim_kill_random(sim, 1, &victim);
	st.victim = victim;
	cl_addr old_addr = cl_sim_node_addr(sim, victim);
	say(sim, "%s (%s) crashes: no goodbye, it just stops answering",
	    cl_sim_node_name(sim, victim),
	    cl_addr_format(&old_addr, a, sizeof a));
	cl_usec crash_at = cl_sim_now(sim);
	struct seen dead = {.who = victim, .status = CL_STATUS_DEAD};
	bool detected = cl_sim_run_until_cond(sim, crash_at + 120 * CL_SEC,
					       all_see, &dead);
	cl_usec all_dead_at = cl_sim_now(sim);
	if (st.first_suspect >= 0)
		printf("  %8.3fs  %s suspects %s: no ack, direct or "
		       "indirect\n",
		       (double)st.first_suspect / 1e6,
		       cl_sim_node_name(sim, st.suspecter),
		       cl_sim_node_name(sim, victim));
	if (st.first_fail >= 0)
		printf("  %8.3fs  %s declares %s dead: nobody refuted the "
		       "suspicion in time\n",
		       (double)st.first_fail / 1e6,
		       cl_sim_node_name(sim, st.failer),
		       cl_sim_node_name(sim, victim));
	if (!detected) {
		say(sim, "not every survivor learned of the crash");
		ok = false;
		goto summary;
	}
	say(sim, "all %d survivors know %s is dead, %.2f s after the crash",
	    DEMO_NODES - 1, cl_sim_node_name(sim, victim),
	    (double)(all_dead_at - crash_at) / 1e6);

	/* The restart, somewhere else. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);
	cl_sim_restart(sim, victim, true, NULL, 0);
	cl_addr new_addr = cl_sim_node_addr(sim, victim);
	say(sim, "%s restarts at a new address, %s, incarnation %u",
	    cl_sim_node_name(sim, victim),
	    cl_addr_format(&new_addr, b, sizeof b),
	    cl_sim_node_incarnation(sim, victim));
	cl_usec restart_at = cl_sim_now(sim);
	struct seen back = {.who = victim, .status = CL_STATUS_ALIVE,
			    .want_addr = true, .addr = new_addr};
	if (!cl_sim_run_until_cond(sim, restart_at + 60 * CL_SEC, all_see,
				   &back)) {
		say(sim, "not every node saw the restart");
		ok = false;
		goto summary;
	}
	say(sim, "every node sees %s alive at %s, %.2f s later",
	    cl_sim_node_name(sim, victim), b,
	    (double)(cl_sim_now(sim) - restart_at) / 1e6);

	/* A graceful leave. */
	cl_sim_run_until(sim, cl_sim_now(sim) + 3 * CL_SEC);
	uint32_t leaver = victim == DEMO_NODES - 1 ? DEMO_NODES - 2
						    : DEMO_NODES - 1;
	st.leaver = leaver;
	cl_sim_leave(sim, leaver);
	say(sim, "%s leaves gracefully: it announces its departure",
	    cl_sim_node_name(sim, leaver));
	cl_usec leave_at = cl_sim_now(sim);
	struct seen gone = {.who = leaver, .status = CL_STATUS_LEFT};
	if (!cl_sim_run_until_cond(sim, leave_at + 60 * CL_SEC, all_see,
				   &gone)) {
		say(sim, "not every node heard of the leave");
		ok = false;
		goto summary;
	}
	say(sim, "every node knows %s left, %.2f s later, without waiting "
		 "for a timeout",
	    cl_sim_node_name(sim, leaver),
	    (double)(cl_sim_now(sim) - leave_at) / 1e6);
	cl_sim_run_until(sim, cl_sim_now(sim) + 5 * CL_SEC);

summary:;
	cl_sim_metrics m;
	cl_sim_get_metrics(sim, &m);
	double node_s = (double)m.nodes * (double)m.now / 1e6;
	printf("\nsummary: %.1f s of cluster life, %llu packets (%.1f per node "
	       "per second, %.0f bytes),\n"
	       "         %llu membership events, %llu false positives\n",
	       (double)m.now / 1e6, (unsigned long long)m.packets,
	       node_s > 0 ? (double)m.packets / node_s : 0,
	       node_s > 0 ? (double)m.bytes / node_s : 0,
	       (unsigned long long)m.events,
	       (unsigned long long)m.false_positives);
	printf("try: cloister sim --nodes 1000 --kill 3 --loss 0.05\n");
	int sim_err = cl_sim_error(sim);
	cl_sim_free(sim);
	if (sim_err) {
		fprintf(stderr, "cloister sim demo: simulation failed: %s\n",
			cloister_strerror(sim_err));
		return 1;
	}
	return ok ? 0 : 1;
}
