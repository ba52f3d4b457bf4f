/*
 * cmd_sim.c — `cloister sim`: one deterministic simulation, reported as a
 * short summary or as one JSON object.
 *
 * The run: N nodes boot over --join-spread-ms and join through node 0;
 * optionally K random nodes (never node 0) crash at --kill-at; the clock
 * stops at --duration.  Everything but wall_s is a function of the flags.
 *
 * --spread fail|leave: instead of a kill, one random node crashes (or
 * leaves) and the output is a time series: the fraction of the other
 * running nodes that know of it (declared it dead, or saw its leave)
 * against the time since.  An observer on the simulation's events
 * records when each node learns; nothing in the run changes for it.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "cloister.h"
#include "sim/prop.h"
#include "sim/sim_trace.h"
#include "sim/sim.h"

#define MAX_NODES 100000u
/* --trace: node numbers one run prints the packets of. */
#define TRACE_NODES_MAX 64

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cloister sim [OPTIONS]\n"
		"       cloister sim demo [--seed S]   a narrated crash, restart and leave\n"
		"\n"
		"Runs a whole cluster in one process on a virtual clock and a virtual\n"
		"network, deterministically: the same flags and seed give the same run.\n"
		"\n"
		"options:\n"
		"  --nodes N           cluster size, 1..%u (default 100)\n"
		"  --duration SECONDS  virtual time to simulate, > 0 (default 60)\n"
		"  --loss P            datagram loss probability as a fraction 0..1,\n"
		"                      e.g. 0.1 for 10%% (default 0); streams\n"
		"                      retransmit as TCP does (see below)\n"
		"  --latency-ms L      base one-way latency in ms (default 1)\n"
		"  --jitter-ms J       uniform jitter of +-J ms around it, J <= L\n"
		"                      (default 0.5)\n"
		"  --kill K            crash K random nodes, never node 0, the seed\n"
		"                      (default 0)\n"
		"  --kill-at SECONDS   when to crash them (default: 5 s after every\n"
		"                      node first sees all nodes alive, or at 30 s if\n"
		"                      that has not happened by then)\n"
		"  --seed S            seed of every random choice (default 1)\n"
		"  --profile NAME      timing profile: lan, local or wan (default lan)\n"
		"  --join-spread-ms MS node i boots at i*MS/N ms (default: N, i.e.\n"
		"                      1 ms per node); every node joins through node 0\n"
		"  --spread EVENT      a time series instead: after convergence (or at\n"
		"                      --kill-at) one random node other than node 0\n"
		"                      crashes (EVENT fail) or leaves (EVENT leave);\n"
		"                      prints the fraction of the other running nodes\n"
		"                      that know it (declared it dead, or saw the\n"
		"                      leave) against the seconds since, every\n"
		"                      --spread-step-ms (default 100), until all know\n"
		"                      or --duration ends\n"
		"  --spread-step-ms MS the series' sampling step\n"
		"  --json              print one JSON object instead of a summary\n"
		"  --prop              property checking instead: random fault\n"
		"                      schedules with invariants checked all along\n"
		"                      (see below)\n"
		"  --seeds A[-B]       with --prop: the schedules to run (default 1)\n"
		"  --trace N[,N...]    print every packet sent by or to these node\n"
		"                      numbers to stderr, decoded, with its fate\n"
		"                      (arrival time, or why it was dropped) and\n"
		"                      each arrival; with --prop, one seed only\n"
		"                      (the first run, not the shrinking); the\n"
		"                      run is the same traced or not\n"
		"\n"
		"timing over the profile's (bench/detection_curve.py sweeps them):\n"
		"  --probe-interval-ms MS, --probe-timeout-ms MS, --indirect-checks K,\n"
		"  --suspicion-mult M, --suspicion-max-mult X, --no-stream-ping\n"
		"faults for the plain run (never the killed node, never node 0):\n"
		"  --slow-ms MS        one random node handles what it receives MS\n"
		"                      late, from the start\n"
		"  --pause-s S         from the kill time on (or 5 s after\n"
		"                      convergence) plus half a period, a random node\n"
		"                      is paused for S seconds every --pause-every-s\n"
		"                      (default 30)\n"
		"  -h, --help          this text\n"
		"\n"
		"The network: each datagram takes latency +- jitter and is lost with\n"
		"probability P; streams (push-pull) take latency +- jitter plus a\n"
		"2*latency handshake; under loss an attempt fails with\n"
		"1-(1-P)^2 and waits a retransmission timeout (200 ms, doubling)\n"
		"before the next, and the stream is lost after the 6th retry.\n"
		"\n"
		"JSON fields: nodes, seed, profile, sim_seconds, converged_s (first\n"
		"time every node had all nodes alive; null if never), killed,\n"
		"kill_at_s, detect_all_s (from the kill until every survivor saw\n"
		"every killed node dead; null without kills or if not reached),\n"
		"detect_pending, false_positives (distinct observer/node pairs where\n"
		"a running node was declared dead), msgs_per_node_s and\n"
		"bytes_per_node_s (every packet sent, datagrams and streams, per node\n"
		"per simulated second), packets, bytes, streams, stream_bytes,\n"
		"dropped {loss, partition, down, unroutable}, core_drops {reason:\n"
		"count}, core {the cores' counters summed: probes, pushpulls,\n"
		"checksum_syncs, digests, state_members_sent/_in, state_news,\n"
		"gossip_words_in, state_changes, ...}, events, ticks, wall_s,\n"
		"timing {probe_interval_ms, ...};\n"
		"with --slow-ms: slow_ms, false_positives_slow (pairs about the\n"
		"slow node); with --pause-s: pause_s, pauses, false_positives_paused\n"
		"(pairs about nodes that were paused).\n"
		"\n"
		"With --prop each seed draws a cluster of 4-16 nodes and up to 8\n"
		"faults (crashes, restarts at the same or a new address, with new\n"
		"tags or a clock stepped back; pauses; partitions, some longer than\n"
		"the tombstones; one-way and non-transitive cuts; loss, duplication,\n"
		"corruption, failing streams; a slow receiver; leaves and quick\n"
		"rejoins; two processes with one name; address reuse), heals them,\n"
		"and checks: no false death, no resurrection, bounded refutations,\n"
		"no address flip-flop, rings equal to each node's table, and every\n"
		"node settled on the truth within a bound from the timing.  A\n"
		"violation prints its seed, schedule and events, and the smallest\n"
		"failing schedule found.\n"
		"\n"
		"A run of 1000 nodes or more executes itself once more with glibc's\n"
		"transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1):\n"
		"its tables are read in random order, and 4 KiB pages make most of\n"
		"those reads TLB misses too.  Results are unchanged.\n"
		"\n"
		"Exit status: 0 on a completed run (with --prop: no violation), 1 if\n"
		"the simulation failed (a violation), 2 on bad usage.\n",
		MAX_NODES);
}

/* ------------------------------------------------------------------ */
/* Flag parsing                                                        */
/* ------------------------------------------------------------------ */

static int bad(const char *flag, const char *val, const char *why)
{
	if (val)
		fprintf(stderr, "cloister sim: %s %s: %s\n", flag, val, why);
	else
		fprintf(stderr, "cloister sim: %s: %s\n", flag, why);
	fprintf(stderr, "see `cloister sim --help`\n");
	return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	if (!s || !*s)
		return false;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

enum spread_event { SPREAD_NONE, SPREAD_FAIL, SPREAD_LEAVE };

struct opts {
	uint64_t nodes, kill, seed, seeds_first, seeds_last;
	double duration, loss, latency_ms, jitter_ms, kill_at, spread_ms;
	double step_ms;
	enum spread_event spread;
	bool kill_at_set, spread_set, json, prop;
	enum cl_profile profile;
	const char *profile_name;
	/* Timing knobs over the profile's values (0: the profile's). */
	uint64_t probe_interval_ms, probe_timeout_ms, indirect_checks;
	uint64_t suspicion_mult, suspicion_max_mult;
	bool no_stream_ping;
	/* Faults for the detection/false-positive curve: one slow node, and
	 * pauses of pause_s seconds every pause_every_s seconds. */
	double slow_ms, pause_s, pause_every_s;
	/* --trace: node numbers whose packets are printed. */
	uint32_t trace[TRACE_NODES_MAX];
	size_t n_trace;
};

/* "3,7,12" into node numbers below max; false on anything else. */
static bool parse_nodes(const char *v, uint64_t max, uint32_t *out,
			size_t cap, size_t *n)
{
	*n = 0;
	while (*v) {
		const char *comma = strchr(v, ',');
		size_t len = comma ? (size_t)(comma - v) : strlen(v);
		char num[24];
		uint64_t x;
		if (len == 0 || len >= sizeof num || *n == cap)
			return false;
		memcpy(num, v, len);
		num[len] = 0;
		if (!parse_u64(num, &x) || x >= max)
			return false;
		out[(*n)++] = (uint32_t)x;
		if (!comma)
			break;
		v = comma + 1;
		if (!*v)
			return false;
	}
	return *n > 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	o->nodes = 100;
	o->duration = 60;
	o->loss = 0;
	o->latency_ms = 1;
	o->jitter_ms = 0.5;
	o->kill = 0;
	o->seed = 1;
	o->profile = CL_PROFILE_LAN;
	o->profile_name = "lan";
	static const struct cl_opt opts[] = {
		{"--help", false}, {"-h", false}, {"--json", false},
		{"--prop", false}, {"--nodes", true}, {"--duration", true},
		{"--loss", true}, {"--latency-ms", true}, {"--jitter-ms", true},
		{"--kill", true}, {"--kill-at", true}, {"--seed", true},
		{"--profile", true}, {"--join-spread-ms", true},
		{"--seeds", true}, {"--spread", true}, {"--spread-step-ms", true},
		{"--probe-interval-ms", true}, {"--probe-timeout-ms", true},
		{"--indirect-checks", true}, {"--suspicion-mult", true},
		{"--suspicion-max-mult", true}, {"--no-stream-ping", false},
		{"--slow-ms", true}, {"--pause-s", true},
		{"--pause-every-s", true}, {"--trace", true}};
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind kind =
			cl_args_next(&args, opts, sizeof opts / sizeof opts[0]);
		if (kind == CL_ARG_END)
			break;
		if (kind == CL_ARG_ERROR) {
			fprintf(stderr, "cloister sim: %s\nsee `cloister sim "
					"--help`\n", args.error);
			return 2;
		}
		if (kind == CL_ARG_POS)
			return bad(args.value, NULL, "unexpected argument");
		const char *name = args.opt->name, *v = args.value;
		if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(name, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(name, "--prop")) {
			o->prop = true;
			continue;
		}
		if (!strcmp(name, "--no-stream-ping")) {
			o->no_stream_ping = true;
			continue;
		}
		double d;
		/* The timing knobs: positive integers, checked again (with the
		 * relations between them) by the core's config validation. */
		static const struct {
			const char *flag;
			size_t off;
			uint64_t max;
		} knobs[] = {
			{"--probe-interval-ms",
			 offsetof(struct opts, probe_interval_ms), 600000},
			{"--probe-timeout-ms",
			 offsetof(struct opts, probe_timeout_ms), 600000},
			{"--indirect-checks",
			 offsetof(struct opts, indirect_checks), 16},
			{"--suspicion-mult", offsetof(struct opts, suspicion_mult),
			 100},
			{"--suspicion-max-mult",
			 offsetof(struct opts, suspicion_max_mult), 100},
		};
		bool knob = false;
		for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
			if (strcmp(name, knobs[k].flag))
				continue;
			uint64_t *dst = (uint64_t *)((char *)o + knobs[k].off);
			if (!parse_u64(v, dst) || *dst < 1 ||
			    *dst > knobs[k].max)
				return bad(name, v, "want a positive integer "
						    "within its range");
			knob = true;
		}
		if (knob)
			continue;
		if (!strcmp(name, "--slow-ms")) {
			if (!parse_double(v, &d) || d < 0 || d > 600000)
				return bad(name, v, "want milliseconds >= 0");
			o->slow_ms = d;
			continue;
		}
		if (!strcmp(name, "--pause-s")) {
			if (!parse_double(v, &d) || d < 0 || d > 3600)
				return bad(name, v, "want seconds >= 0");
			o->pause_s = d;
			continue;
		}
		if (!strcmp(name, "--pause-every-s")) {
			if (!parse_double(v, &d) || d <= 0 || d > 1e6)
				return bad(name, v, "want seconds > 0");
			o->pause_every_s = d;
			continue;
		}
		if (!strcmp(name, "--trace")) {
			/* Checked against --nodes (or the checker's slots)
			 * once every flag is read. */
			if (!parse_nodes(v, MAX_NODES, o->trace,
					 TRACE_NODES_MAX, &o->n_trace))
				return bad(name, v, "want node numbers, "
						    "comma-separated (at most "
						    "64)");
			continue;
		}
		if (!strcmp(name, "--seeds")) {
			char a[32];
			const char *dash = strchr(v, '-');
			size_t n = dash ? (size_t)(dash - v) : strlen(v);
			if (n >= sizeof a)
				return bad(name, v, "want A or A-B");
			memcpy(a, v, n);
			a[n] = 0;
			if (!parse_u64(a, &o->seeds_first) ||
			    !parse_u64(dash ? dash + 1 : a, &o->seeds_last) ||
			    o->seeds_last < o->seeds_first)
				return bad(name, v, "want A or A-B, A <= B");
		} else if (!strcmp(name, "--nodes")) {
			if (!parse_u64(v, &o->nodes) || o->nodes < 1 ||
			    o->nodes > MAX_NODES)
				return bad(name, v, "want an integer 1..100000");
		} else if (!strcmp(name, "--duration")) {
			if (!parse_double(v, &d) || d <= 0 || d > 1e6)
				return bad(name, v, "want seconds > 0");
			o->duration = d;
		} else if (!strcmp(name, "--loss")) {
			if (!parse_double(v, &d) || d < 0 || d > 1)
				return bad(name, v,
					   "want a fraction 0..1 (0.1 = 10%)");
			o->loss = d;
		} else if (!strcmp(name, "--latency-ms")) {
			if (!parse_double(v, &d) || d < 0 || d > 60000)
				return bad(name, v, "want milliseconds >= 0");
			o->latency_ms = d;
		} else if (!strcmp(name, "--jitter-ms")) {
			if (!parse_double(v, &d) || d < 0 || d > 60000)
				return bad(name, v, "want milliseconds >= 0");
			o->jitter_ms = d;
		} else if (!strcmp(name, "--kill")) {
			if (!parse_u64(v, &o->kill) || o->kill > MAX_NODES)
				return bad(name, v, "want an integer >= 0");
		} else if (!strcmp(name, "--kill-at")) {
			if (!parse_double(v, &d) || d < 0 || d > 1e6)
				return bad(name, v, "want seconds >= 0");
			o->kill_at = d;
			o->kill_at_set = true;
		} else if (!strcmp(name, "--seed")) {
			if (!parse_u64(v, &o->seed))
				return bad(name, v, "want an unsigned integer");
		} else if (!strcmp(name, "--profile")) {
			if (!strcmp(v, "lan"))
				o->profile = CL_PROFILE_LAN;
			else if (!strcmp(v, "local"))
				o->profile = CL_PROFILE_LOCAL;
			else if (!strcmp(v, "wan"))
				o->profile = CL_PROFILE_WAN;
			else
				return bad(name, v, "want lan, local or wan");
			o->profile_name = v;
		} else if (!strcmp(name, "--spread")) {
			if (!strcmp(v, "fail"))
				o->spread = SPREAD_FAIL;
			else if (!strcmp(v, "leave"))
				o->spread = SPREAD_LEAVE;
			else
				return bad(name, v, "want fail or leave");
		} else if (!strcmp(name, "--spread-step-ms")) {
			if (!parse_double(v, &d) || d < 1 || d > 1e6)
				return bad(name, v, "want milliseconds >= 1");
			o->step_ms = d;
		} else if (!strcmp(name, "--join-spread-ms")) {
			if (!parse_double(v, &d) || d < 0 || d > 1e9)
				return bad(name, v, "want milliseconds >= 0");
			o->spread_ms = d;
			o->spread_set = true;
		}
	}
	if (o->jitter_ms > o->latency_ms)
		return bad("--jitter-ms", NULL,
			   "jitter must not exceed --latency-ms");
	if (o->kill >= o->nodes && o->kill > 0)
		return bad("--kill", NULL,
			   "must be below --nodes (node 0 is never killed)");
	if (o->spread && o->kill)
		return bad("--spread", NULL, "takes no --kill: it picks its node");
	if (o->spread && o->nodes < 3)
		return bad("--spread", NULL, "needs --nodes 3 or more");
	if (!o->step_ms)
		o->step_ms = 100;
	if (!o->pause_every_s)
		o->pause_every_s = 30;
	if (o->pause_s >= o->pause_every_s)
		return bad("--pause-s", NULL,
			   "must be shorter than --pause-every-s");
	for (size_t i = 0; i < o->n_trace; i++)
		if (o->trace[i] >= (o->prop ? CL_PROP_SLOTS_MAX : o->nodes))
			return bad("--trace", NULL,
				   o->prop ? "node numbers of the checker's "
					     "clusters are below 64"
					   : "node numbers must be below "
					     "--nodes");
	if (o->n_trace && o->prop && o->seeds_first != o->seeds_last)
		return bad("--trace", NULL, "with --prop, takes one seed "
					    "(--seeds S)");
	if ((o->slow_ms > 0 || o->pause_s > 0) && (o->spread || o->prop))
		return bad("--slow-ms/--pause-s", NULL,
			   "are for the plain run (not --spread or --prop)");
	if ((o->slow_ms > 0 || o->pause_s > 0) && o->nodes < 3)
		return bad("--slow-ms/--pause-s", NULL, "need --nodes 3 or more");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static double secs(cl_usec t)
{
	return (double)t / 1e6;
}

static json_t *secs_or_null(cl_usec t)
{
	return t >= 0 ? json_real(secs(t)) : json_null();
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result {
	cl_sim_metrics m;
	uint32_t killed;
	cl_usec kill_at;   /* -1 no kill */
	cl_usec detect;    /* from kill to all detected, -1 none */
	double wall;
	cl_swim_timing timing;
	int64_t slow_node;       /* -1 none */
	uint32_t fp_slow;        /* false positives about the slow node */
	uint32_t pauses;         /* pauses applied */
	uint32_t fp_paused;      /* false positives about nodes once paused */
};

static int print_json(const struct opts *o, const struct result *r)
{
	const cl_sim_metrics *m = &r->m;
	double node_s = (double)m->nodes * secs(m->now);
	json_t *j = json_object();
	json_object_set_new(j, "nodes", json_integer(m->nodes));
	json_object_set_new(j, "seed", json_integer((json_int_t)m->seed));
	json_object_set_new(j, "profile", json_string(o->profile_name));
	json_object_set_new(j, "loss", json_real(o->loss));
	json_object_set_new(j, "sim_seconds", json_real(secs(m->now)));
	json_object_set_new(j, "converged_s", secs_or_null(m->converged_at));
	json_object_set_new(j, "killed", json_integer(r->killed));
	json_object_set_new(j, "kill_at_s", secs_or_null(r->kill_at));
	json_object_set_new(j, "detect_all_s", secs_or_null(r->detect));
	json_object_set_new(j, "detect_pending",
			    json_integer((json_int_t)m->detect_pending));
	json_object_set_new(j, "false_positives",
			    json_integer((json_int_t)m->false_positives));
	json_t *tm = json_object();
	const cl_swim_timing *t = &r->timing;
	json_object_set_new(tm, "probe_interval_ms",
			    json_integer(t->probe_interval / 1000));
	json_object_set_new(tm, "probe_timeout_ms",
			    json_integer(t->probe_timeout / 1000));
	json_object_set_new(tm, "indirect_checks",
			    json_integer(t->indirect_checks));
	json_object_set_new(tm, "suspicion_mult",
			    json_integer(t->suspicion_mult));
	json_object_set_new(tm, "suspicion_max_mult",
			    json_integer(t->suspicion_max_mult));
	json_object_set_new(tm, "stream_ping", json_boolean(!o->no_stream_ping));
	json_object_set_new(j, "timing", tm);
	if (r->slow_node >= 0) {
		json_object_set_new(j, "slow_ms", json_real(o->slow_ms));
		json_object_set_new(j, "false_positives_slow",
				    json_integer(r->fp_slow));
	}
	if (o->pause_s > 0) {
		json_object_set_new(j, "pause_s", json_real(o->pause_s));
		json_object_set_new(j, "pauses", json_integer(r->pauses));
		json_object_set_new(j, "false_positives_paused",
				    json_integer(r->fp_paused));
	}
	json_object_set_new(j, "msgs_per_node_s",
			    json_real(node_s > 0 ? (double)m->packets / node_s : 0));
	json_object_set_new(j, "bytes_per_node_s",
			    json_real(node_s > 0 ? (double)m->bytes / node_s : 0));
	json_object_set_new(j, "packets", json_integer((json_int_t)m->packets));
	json_object_set_new(j, "bytes", json_integer((json_int_t)m->bytes));
	json_object_set_new(j, "streams", json_integer((json_int_t)m->streams));
	json_object_set_new(j, "stream_bytes",
			    json_integer((json_int_t)m->stream_bytes));
	json_t *d = json_object();
	json_object_set_new(d, "loss", json_integer((json_int_t)m->drop_loss));
	json_object_set_new(d, "partition",
			    json_integer((json_int_t)m->drop_partition));
	json_object_set_new(d, "down", json_integer((json_int_t)m->drop_down));
	json_object_set_new(d, "unroutable",
			    json_integer((json_int_t)m->drop_unroutable));
	json_object_set_new(j, "dropped", d);
	json_t *cd = json_object();
	for (int k = 1; k < CL_DROP__COUNT; k++)
		json_object_set_new(cd, cl_drop_reason_name((enum cl_drop_reason)k),
				    json_integer((json_int_t)m->core.drops[k]));
	json_object_set_new(j, "core_drops", cd);
	/* What the cores did, summed: where a run's traffic went. */
	const cl_swim_stats *cs = &m->core;
	json_t *cj = json_object();
	struct {
		const char *name;
		uint64_t v;
	} counters[] = {
		{"probes", cs->probes},
		{"suspicions", cs->suspicions},
		{"refutations", cs->refutations},
		{"stale_doubts_answered", cs->stale_doubts_answered},
		{"pushpulls", cs->pushpulls},
		{"checksum_syncs", cs->checksum_syncs},
		{"pushpulls_skipped", cs->pushpulls_skipped},
		{"digests", cs->digests},
		{"delta_syncs", cs->delta_syncs},
		{"state_members_sent", cs->state_members_sent},
		{"state_members_in", cs->state_members_in},
		{"state_news", cs->state_news},
		{"gossip_words_in", cs->gossip_words_in},
		{"state_changes", cs->state_changes},
	};
	for (size_t k = 0; k < sizeof counters / sizeof *counters; k++)
		json_object_set_new(cj, counters[k].name,
				    json_integer((json_int_t)counters[k].v));
	json_object_set_new(j, "core", cj);
	json_object_set_new(j, "events", json_integer((json_int_t)m->events));
	json_object_set_new(j, "ticks", json_integer((json_int_t)m->ticks));
	json_object_set_new(j, "wall_s", json_real(r->wall));
	int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					       JSON_REAL_PRECISION(12));
	fputc('\n', stdout);
	json_decref(j);
	return rc ? 1 : 0;
}

static void print_summary(const struct opts *o, const struct result *r)
{
	const cl_sim_metrics *m = &r->m;
	double node_s = (double)m->nodes * secs(m->now);
	printf("cloister sim: %u nodes, %s profile, seed %llu, loss %g: "
	       "%.1f s simulated in %.2f s\n",
	       m->nodes, o->profile_name, (unsigned long long)m->seed, o->loss,
	       secs(m->now), r->wall);
	if (m->converged_at >= 0)
		printf("  converged: every node saw all %u alive at %.3f s\n",
		       m->nodes, secs(m->converged_at));
	else
		printf("  not converged: some node never saw all %u alive\n",
		       m->nodes);
	if (o->kill && r->kill_at < 0)
		printf("  no kill: the run ended before the kill time\n");
	if (r->kill_at >= 0) {
		printf("  killed %u node%s at %.3f s: ", r->killed,
		       r->killed == 1 ? "" : "s", secs(r->kill_at));
		if (r->detect >= 0)
			printf("every survivor saw %s dead %.3f s later\n",
			       r->killed == 1 ? "it" : "them all",
			       secs(r->detect));
		else
			printf("%llu survivor/victim pairs still undetected\n",
			       (unsigned long long)m->detect_pending);
	}
	printf("  false positives: %llu\n",
	       (unsigned long long)m->false_positives);
	printf("  traffic: %.1f packets and %.0f bytes per node per second "
	       "(%llu packets, %llu streams)\n",
	       node_s > 0 ? (double)m->packets / node_s : 0,
	       node_s > 0 ? (double)m->bytes / node_s : 0,
	       (unsigned long long)m->packets,
	       (unsigned long long)m->streams);
	printf("  dropped: %llu by loss, %llu by partition, %llu to nodes "
	       "down; %llu by label check\n",
	       (unsigned long long)m->drop_loss,
	       (unsigned long long)m->drop_partition,
	       (unsigned long long)m->drop_down,
	       (unsigned long long)m->core.drops[CL_DROP_LABEL]);
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* --spread                                                            */
/* ------------------------------------------------------------------ */

struct spread {
	enum spread_event event;
	bool armed;
	uint32_t victim;
	char name[CL_WIRE_NAME_MAX + 1];
	size_t name_len;
	cl_usec at;        /* the crash or the leave */
	cl_usec *known;    /* per node: when it learned, -1 not yet */
	bool *counted;     /* per node: one of the nodes that should learn */
	uint32_t total, knowing;
};

/* The simulation's observer: who learns of the victim, and when. */
static void spread_observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
			   const cl_swim_event *ev)
{
	struct spread *sp = arg;
	uint8_t want = sp->event == SPREAD_FAIL ? CL_EV_FAIL : CL_EV_LEAVE;
	if (!sp->armed || ev->type != want || !sp->counted[node] ||
	    sp->known[node] >= 0 || ev->name_len != sp->name_len ||
	    memcmp(ev->name, sp->name, sp->name_len))
		return;
	sp->known[node] = now;
	sp->knowing++;
}

static bool spread_done(void *arg, cl_sim *sim)
{
	const struct spread *sp = arg;
	return sp->knowing >= sp->total;
}

static int cmp_usec(const void *a, const void *b)
{
	cl_usec x = *(const cl_usec *)a, y = *(const cl_usec *)b;
	return (x > y) - (x < y);
}

/* The time by which a fraction q of the nodes knew, -1 if never. */
static cl_usec spread_quantile(const cl_usec *sorted, uint32_t n,
			       uint32_t total, double q)
{
	uint32_t need = (uint32_t)ceil(q * total);
	if (need < 1)
		need = 1;
	return need <= n ? sorted[need - 1] : -1;
}

static int run_spread(const struct opts *o, cl_sim_config *cfg)
{
	struct spread sp = {.event = o->spread};
	sp.known = malloc(o->nodes * sizeof *sp.known);
	sp.counted = calloc(o->nodes, sizeof *sp.counted);
	if (!sp.known || !sp.counted) {
		free(sp.known);
		free(sp.counted);
		fprintf(stderr, "cloister sim: out of memory\n");
		return 1;
	}
	for (uint64_t i = 0; i < o->nodes; i++)
		sp.known[i] = -1;
	cfg->observer = spread_observe;
	cfg->observer_arg = &sp;
	double t0 = wall_now();
	int err = 0;
	cl_sim *sim = cl_sim_new(cfg, &err);
	if (!sim) {
		free(sp.known);
		free(sp.counted);
		fprintf(stderr, "cloister sim: %s\n", cloister_strerror(err));
		return 1;
	}
	cl_usec end = (cl_usec)llround(o->duration * 1e6);
	cl_usec at;
	if (o->kill_at_set) {
		at = (cl_usec)llround(o->kill_at * 1e6);
	} else {
		cl_usec cap = 120 * CL_SEC < end ? 120 * CL_SEC : end;
		at = cl_sim_run_until_converged(sim, cap)
			     ? cl_sim_now(sim) + 5 * CL_SEC
			     : cap;
	}
	int rc = 0;
	if (at >= end) {
		fprintf(stderr, "cloister sim: --duration ends before the "
				"event (at %.1f s)\n", secs(at));
		rc = 1;
		goto out;
	}
	cl_sim_run_until(sim, at);
	/* The victim: a random running node other than node 0, the seed. */
	uint32_t up = 0;
	for (uint32_t i = 1; i < cfg->nodes; i++)
		up += cl_sim_node_state(sim, i) == CL_SIM_UP;
	if (!up) {
		fprintf(stderr, "cloister sim: no node to pick\n");
		rc = 1;
		goto out;
	}
	uint32_t pick = (uint32_t)(cl_sim_rand(sim) % up);
	for (uint32_t i = 1; i < cfg->nodes; i++)
		if (cl_sim_node_state(sim, i) == CL_SIM_UP && pick-- == 0) {
			sp.victim = i;
			break;
		}
	for (uint32_t i = 0; i < cfg->nodes; i++)
		if (i != sp.victim && cl_sim_node_state(sim, i) == CL_SIM_UP) {
			sp.counted[i] = true;
			sp.total++;
		}
	snprintf(sp.name, sizeof sp.name, "%s",
		 cl_sim_node_name(sim, sp.victim));
	sp.name_len = strlen(sp.name);
	sp.at = cl_sim_now(sim);
	sp.armed = true;
	if (o->spread == SPREAD_FAIL)
		cl_sim_crash(sim, sp.victim);
	else
		cl_sim_leave(sim, sp.victim);
	cl_sim_run_until_cond(sim, end, spread_done, &sp);
	err = cl_sim_error(sim);
	if (err) {
		fprintf(stderr, "cloister sim: simulation failed: %s\n",
			cloister_strerror(err));
		rc = 1;
		goto out;
	}
	/* Learning times since the event, sorted: the series is their
	 * empirical distribution, sampled every step. */
	cl_usec *t = malloc((sp.knowing ? sp.knowing : 1) * sizeof *t);
	if (!t) {
		rc = 1;
		goto out;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < cfg->nodes; i++)
		if (sp.counted[i] && sp.known[i] >= 0)
			t[n++] = sp.known[i] - sp.at;
	qsort(t, n, sizeof *t, cmp_usec);
	cl_usec step = (cl_usec)llround(o->step_ms * 1000);
	cl_usec last = n ? t[n - 1] : 0;
	const char *what = o->spread == SPREAD_FAIL ? "fail" : "leave";
	double q[] = {0.5, 0.9, 0.99, 1.0};
	if (o->json) {
		json_t *j = json_object(), *series = json_array();
		json_object_set_new(j, "nodes", json_integer((json_int_t)o->nodes));
		json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
		json_object_set_new(j, "profile", json_string(o->profile_name));
		json_object_set_new(j, "loss", json_real(o->loss));
		json_object_set_new(j, "event", json_string(what));
		json_object_set_new(j, "node", json_string(sp.name));
		json_object_set_new(j, "at_s", json_real(secs(sp.at)));
		json_object_set_new(j, "of", json_integer(sp.total));
		json_object_set_new(j, "knowing", json_integer(sp.knowing));
		static const char *const qn[] = {"t50_s", "t90_s", "t99_s",
						 "t100_s"};
		for (int k = 0; k < 4; k++)
			json_object_set_new(j, qn[k],
					    secs_or_null(spread_quantile(
						    t, n, sp.total, q[k])));
		uint32_t k = 0;
		for (cl_usec x = 0;; x += step) {
			while (k < n && t[k] <= x)
				k++;
			json_array_append_new(
				series, json_pack("[f,f]", secs(x),
						  (double)k / sp.total));
			if (x >= last || x >= end - sp.at)
				break;
		}
		json_object_set_new(j, "series", series);
		json_object_set_new(j, "wall_s", json_real(wall_now() - t0));
		json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER |
					      JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("# cloister sim --spread %s: %llu nodes, %s profile, "
		       "seed %llu, loss %g; %s %s at %.3f s; %u of %u knew\n",
		       what, (unsigned long long)o->nodes, o->profile_name,
		       (unsigned long long)o->seed, o->loss,
		       o->spread == SPREAD_FAIL ? "crashed" : "left", sp.name,
		       secs(sp.at), sp.knowing, sp.total);
		printf("# t50 %.3f s, t90 %.3f s, t99 %.3f s, t100 %.3f s "
		       "(-1: never)\n",
		       secs(spread_quantile(t, n, sp.total, 0.5)),
		       secs(spread_quantile(t, n, sp.total, 0.9)),
		       secs(spread_quantile(t, n, sp.total, 0.99)),
		       secs(spread_quantile(t, n, sp.total, 1.0)));
		printf("# seconds_since fraction_knowing\n");
		uint32_t k = 0;
		for (cl_usec x = 0;; x += step) {
			while (k < n && t[k] <= x)
				k++;
			printf("%.3f %.6f\n", secs(x), (double)k / sp.total);
			if (x >= last || x >= end - sp.at)
				break;
		}
	}
	free(t);
out:
	cl_sim_free(sim);
	free(sp.known);
	free(sp.counted);
	return rc;
}

/* Up to k random running nodes other than node 0 and `not`, crashed. */
static uint32_t crash_random(cl_sim *sim, uint32_t k, int64_t not,
			     uint32_t *cand)
{
	uint32_t n = 0, nodes = cl_sim_nodes(sim);
	for (uint32_t i = 1; i < nodes; i++)
		if (cl_sim_node_state(sim, i) == CL_SIM_UP && (int64_t)i != not &&
		    !cl_sim_paused(sim, i))
			cand[n++] = i;
	if (k > n)
		k = n;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + (uint32_t)(cl_sim_rand(sim) % (n - i));
		uint32_t t = cand[i];
		cand[i] = cand[j];
		cand[j] = t;
		cl_sim_crash(sim, cand[i]);
	}
	return k;
}

/* The plain run's schedule: the slow node from the start, the kill at
 * kill_at (or 5 s after convergence), pauses from the same moment plus
 * half a pause period, one random running node at a time.  The slow and
 * paused nodes are never the ones killed: the curve wants the detection
 * of a crash and the false positives about the others separately. */
static int run_faults(const struct opts *o, cl_sim *sim, cl_usec end,
		      struct result *r)
{
	uint32_t nodes = cl_sim_nodes(sim);
	bool faults = o->slow_ms > 0 || o->pause_s > 0;
	if (o->slow_ms > 0) {
		r->slow_node = 1 + (int64_t)(cl_sim_rand(sim) % (nodes - 1));
		cl_sim_set_slow(sim, (uint32_t)r->slow_node,
				(cl_usec)llround(o->slow_ms * 1000));
	}
	cl_usec base = CL_NEVER;
	if (o->kill || o->pause_s > 0) {
		if (o->kill_at_set) {
			base = (cl_usec)llround(o->kill_at * 1e6);
		} else {
			cl_usec cap = 30 * CL_SEC < end ? 30 * CL_SEC : end;
			base = cl_sim_run_until_converged(sim, cap)
				       ? cl_sim_now(sim) + 5 * CL_SEC
				       : 30 * CL_SEC;
		}
	}
	cl_usec every = (cl_usec)llround(o->pause_every_s * 1e6);
	cl_usec pause_len = (cl_usec)llround(o->pause_s * 1e6);
	cl_usec next_kill = o->kill ? base : CL_NEVER;
	cl_usec next_pause = o->pause_s > 0 ? base + every / 2 : CL_NEVER;
	cl_usec pause_end = CL_NEVER;
	uint32_t paused = 0;
	uint8_t *was_paused = o->pause_s > 0 ? calloc(nodes, 1) : NULL;
	uint32_t *cand = malloc((size_t)nodes * sizeof *cand);
	if (!cand || (o->pause_s > 0 && !was_paused)) {
		free(cand);
		free(was_paused);
		return -1;
	}
	for (;;) {
		cl_usec t = end;
		if (next_kill < t)
			t = next_kill;
		if (next_pause < t)
			t = next_pause;
		if (pause_end < t)
			t = pause_end;
		cl_sim_run_until(sim, t);
		if (t >= end)
			break;
		if (t == pause_end) {
			cl_sim_resume(sim, paused);
			pause_end = CL_NEVER;
		}
		if (t == next_kill) {
			r->killed = faults ? crash_random(sim, (uint32_t)o->kill,
							  r->slow_node, cand)
					   : cl_sim_kill_random(
						     sim, (uint32_t)o->kill, cand);
			r->kill_at = t;
			next_kill = CL_NEVER;
		}
		if (t == next_pause) {
			next_pause += every;
			/* A running node, not the slow one, not already down. */
			for (int tries = 0; tries < 64 && pause_end == CL_NEVER;
			     tries++) {
				uint32_t c = 1 + (uint32_t)(cl_sim_rand(sim) %
							    (nodes - 1));
				if (cl_sim_node_state(sim, c) != CL_SIM_UP ||
				    (int64_t)c == r->slow_node)
					continue;
				cl_sim_pause(sim, c);
				paused = c;
				was_paused[c] = 1;
				pause_end = t + pause_len;
				r->pauses++;
			}
		}
	}
	if (r->slow_node >= 0)
		r->fp_slow = cl_sim_false_positives_about(
			sim, (uint32_t)r->slow_node);
	for (uint32_t i = 0; was_paused && i < nodes; i++)
		if (was_paused[i])
			r->fp_paused += cl_sim_false_positives_about(sim, i);
	free(cand);
	free(was_paused);
	return 0;
}

/* --prop: a batch of property-checked schedules. */
static int run_prop(const struct opts *o)
{
	uint64_t first = o->seeds_first ? o->seeds_first : 1;
	uint64_t last = o->seeds_first ? o->seeds_last : first;
	cl_prop_config cfg = {.report = stderr, .shrink = true,
			      .trace = first == last,
			      .packets_of = o->trace,
			      .n_packets_of = o->n_trace};
	cl_prop_summary sum;
	double t0 = wall_now();
	int e = cl_prop_batch(&cfg, first, last, &sum);
	if (e) {
		fprintf(stderr, "cloister sim: %s\n", cloister_strerror(e));
		return 1;
	}
	cl_prop_summary_print(stdout, &sum, wall_now() - t0);
	return sum.violations ? 1 : 0;
}

/* Runs at or above this many nodes re-execute with huge pages (below). */
#define HUGEPAGE_NODES 1000

/*
 * A large simulation reads gigabytes of member tables in random order, and
 * with 4 KiB pages nearly every such read also misses the TLB.  glibc puts
 * its heap on transparent huge pages only when told so at startup (the
 * tunable glibc.malloc.hugetlb=1; a kernel whose THP mode is "madvise", as
 * Debian's is, gives none otherwise), so a large run executes itself again,
 * once, with that tunable: 10,000 nodes took 252 s before, 172 s after
 * (BENCHMARKS.md).  The run's results do not change, only its speed; if
 * the exec fails the run goes on as it is.  argv is main's, shifted by
 * one, so argv - 1 is the whole command line.
 */
static void hugepages_reexec(char **argv, long nodes)
{
#ifdef __GLIBC__
	static const char tunable[] = "glibc.malloc.hugetlb=1";
	const char *cur = getenv("GLIBC_TUNABLES");
	if (nodes < HUGEPAGE_NODES || getenv("CLOISTER_SIM_REEXECUTED") ||
	    (cur && strstr(cur, "glibc.malloc.hugetlb")))
		return;
	char val[512];
	int n = cur && *cur ? snprintf(val, sizeof val, "%s:%s", cur, tunable)
			    : snprintf(val, sizeof val, "%s", tunable);
	if (n < 0 || (size_t)n >= sizeof val)
		return;
	if (setenv("GLIBC_TUNABLES", val, 1) ||
	    setenv("CLOISTER_SIM_REEXECUTED", "1", 1))
		return;
	fflush(NULL);
	execv("/proc/self/exe", argv - 1);
#else
	(void)argv;
	(void)nodes;
#endif
}

int cmd_sim(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "demo"))
		return cmd_sim_demo(argc - 1, argv + 1);
	struct opts o;
	memset(&o, 0, sizeof o);
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	hugepages_reexec(argv, (long)o.nodes);
	if (o.prop)
		return run_prop(&o);

	cl_sim_config cfg;
	cl_sim_config_default(&cfg);
	cfg.nodes = (uint32_t)o.nodes;
	cfg.seed = o.seed;
	cl_sim_trace trace = {stderr, o.trace, o.n_trace, 0};
	if (o.n_trace) {
		cfg.tracer = cl_sim_trace_packet;
		cfg.tracer_arg = &trace;
	}
	cfg.profile = o.profile;
	cfg.loss = o.loss;
	cfg.latency = (cl_usec)llround(o.latency_ms * 1000);
	cfg.jitter = (cl_usec)llround(o.jitter_ms * 1000);
	if (o.spread_set)
		cfg.join_spread = (cl_usec)llround(o.spread_ms * 1000);
	cl_swim_timing timing;
	cl_swim_timing_profile(&timing, o.profile);
	if (o.probe_interval_ms)
		timing.probe_interval = (cl_usec)o.probe_interval_ms * 1000;
	if (o.probe_timeout_ms)
		timing.probe_timeout = (cl_usec)o.probe_timeout_ms * 1000;
	if (o.indirect_checks)
		timing.indirect_checks = (unsigned)o.indirect_checks;
	if (o.suspicion_mult)
		timing.suspicion_mult = (unsigned)o.suspicion_mult;
	if (o.suspicion_max_mult)
		timing.suspicion_max_mult = (unsigned)o.suspicion_max_mult;
	cfg.timing = &timing;
	cfg.no_stream_ping = o.no_stream_ping;
	if (o.spread)
		return run_spread(&o, &cfg);

	double t0 = wall_now();
	int err = 0;
	cl_sim *sim = cl_sim_new(&cfg, &err);
	if (!sim) {
		fprintf(stderr, "cloister sim: %s\n", cloister_strerror(err));
		return 1;
	}
	cl_usec end = (cl_usec)llround(o.duration * 1e6);
	struct result r = {.kill_at = -1, .detect = -1, .timing = timing,
			   .slow_node = -1};
	if (run_faults(&o, sim, end, &r)) {
		cl_sim_free(sim);
		fprintf(stderr, "cloister sim: out of memory\n");
		return 1;
	}
	err = cl_sim_error(sim);
	cl_sim_get_metrics(sim, &r.m);
	if (r.kill_at >= 0 && r.m.detect_all_at >= 0)
		r.detect = r.m.detect_all_at - r.kill_at;
	cl_sim_free(sim);
	r.wall = wall_now() - t0;
	if (err) {
		fprintf(stderr, "cloister sim: simulation failed: %s\n",
			cloister_strerror(err));
		return 1;
	}
	if (o.json)
		return print_json(&o, &r);
	print_summary(&o, &r);
	return 0;
}
