/*
 * prop.c — random fault schedules and the invariants checked under them
 * (see prop.h for what is drawn and what must hold).
 *
 * A run is: boot N nodes and let them converge; apply the schedule's faults
 * over the fault window, each with its end; heal whatever is left; run
 * until every running node agrees with the ground truth or the bound
 * passes.  An observer sees every member event of every core as it
 * happens and checks the event-level invariants on the spot; the state
 * invariants are checked every CHECK_EVERY of virtual time.
 *
 * The ground truth comes from the runner itself: it knows which process
 * holds which name at which address, who is paused, cut off, slow or
 * leaving, and since when.  A FAIL about a running process is excused by
 * a fault active at some time in the window that could have produced it
 * (the suspicion bound plus a few probe periods before the FAIL), and by
 * nothing else.
 */
#include "prop.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cloister.h"
#include "core/cluster.h"
#include "core/merge.h"
#include "sim.h"
#include "sim_trace.h"
#include "sim_util.h"

#define SPARES 2
#define NODES_CAP CL_PROP_SLOTS_MAX
#define FAULTS_CAP 32
#define PARTS_CAP 32
#define SPANS_CAP 32
#define TRACE_CAP 8192
#define CHECK_EVERY (5 * CL_SEC)
/* Boot and first convergence. */
#define SETTLE (30 * CL_SEC)
/* A node that knows no one but itself retries its seeds (at most a
 * minute apart); once every seed it was given is gone for good (crashed,
 * left, moved) nothing in the protocol can find it again, only discovery:
 * an agent's sentry answers with the cluster's current addresses every
 * 5 s, and the agent joins each one it does not hold as a live member.
 * The same goes for an island of several nodes that joined only each
 * other.  The checker does what discovery does for nodes on an island
 * (cl_sim_rediscover) this long after the heal, and counts the runs that
 * needed it: seed 1017503, a node restarted at a new address inside a
 * partition's minority, its three seeds across the cut, all crashed or
 * left before the heal; seed 1593928, two nodes restarted inside a
 * minority, one of them moved, whose joins only each other answered.  A
 * node that has not learned a member its island knows is left to the
 * protocol. */
#define DISCOVERY_AFTER (90 * CL_SEC)
#define DISCOVERY_EVERY (5 * CL_SEC)

const char *cl_prop_fault_name(enum cl_prop_fault f)
{
	static const char *const names[CL_PF__COUNT] = {
		"crash",      "restart",	 "restart_moved",
		"restart_retag", "restart_clock", "pause",
		"pause_long", "partition",	 "partition_long",
		"one_way",    "non_transitive", "loss",
		"dup",	      "corrupt",	 "stream_fail",
		"slow",	      "leave",		 "leave_rejoin",
		"twin",	      "addr_reuse",
	};
	return (unsigned)f < CL_PF__COUNT ? names[f] : "?";
}

/* Relative weights of the fault classes in a schedule. */
static const unsigned WEIGHT[CL_PF__COUNT] = {
	[CL_PF_CRASH] = 4,	    [CL_PF_RESTART] = 3,
	[CL_PF_RESTART_MOVED] = 3,  [CL_PF_RESTART_RETAG] = 2,
	[CL_PF_RESTART_CLOCK] = 2,  [CL_PF_PAUSE] = 4,
	[CL_PF_PAUSE_LONG] = 3,	    [CL_PF_PARTITION] = 4,
	[CL_PF_PARTITION_LONG] = 2, [CL_PF_ONE_WAY] = 3,
	[CL_PF_NON_TRANSITIVE] = 3, [CL_PF_LOSS] = 4,
	[CL_PF_DUP] = 2,	    [CL_PF_CORRUPT] = 2,
	[CL_PF_STREAM_FAIL] = 2,    [CL_PF_SLOW] = 3,
	[CL_PF_LEAVE] = 2,	    [CL_PF_LEAVE_REJOIN] = 2,
	[CL_PF_TWIN] = 2,	    [CL_PF_ADDR_REUSE] = 2,
};

/* ------------------------------------------------------------------ */
/* Schedule                                                            */
/* ------------------------------------------------------------------ */

struct fault {
	uint8_t kind;
	bool dropped; /* left out while shrinking */
	cl_usec at, dur;
	uint32_t a, b;
	double p;
	cl_usec delay;
	uint8_t group[NODES_CAP]; /* partitions: 1 = the cut-off minority */
};

struct schedule {
	uint64_t seed;
	uint32_t n;
	unsigned n_faults;
	struct fault f[FAULTS_CAP];
};

struct span {
	cl_usec from, to; /* to = CL_NEVER while open */
	double level;     /* loss probability, slow delay (s), pause length */
};

struct part {
	cl_usec from, to;
	uint8_t group[NODES_CAP];
};

struct trace_rec {
	cl_usec t;
	uint32_t observer, about;
	uint8_t type, status;
	uint32_t inc;
	cl_addr addr;
};

struct prop {
	const cl_prop_config *cfg;
	cl_prop_result *res;
	const struct schedule *sch;
	cl_sim *sim;
	cl_swim_timing timing;
	uint32_t n, total;
	bool failed;
	cl_usec min_susp, max_susp, window;

	/* Ground truth, per node slot. */
	struct span pause[NODES_CAP][SPANS_CAP];
	unsigned n_pause[NODES_CAP];
	struct span slow[NODES_CAP][SPANS_CAP];
	unsigned n_slow[NODES_CAP];
	cl_usec left_at[NODES_CAP];    /* last leave began, -1 none */
	cl_usec twin_at[NODES_CAP];    /* name owner got a twin, -1 none */
	uint32_t boot_inc[NODES_CAP];  /* the running life's first */
	uint32_t prev_max[NODES_CAP];  /* highest of the name's earlier lives */
	bool had_prev[NODES_CAP];
	unsigned moves[NODES_CAP];     /* name owner: address changes caused */
	struct span loss[SPANS_CAP];
	unsigned n_loss;
	struct part parts[PARTS_CAP];
	unsigned n_parts;
	bool partitioned;
	unsigned blocks[NODES_CAP][NODES_CAP];
	bool param_on[CL_PF__COUNT];
	/* Pairs that could not probe each other, directly or through any
	 * relay (recomputed whenever the network changes): since when, -1 if
	 * they can; and when they last could not. */
	cl_usec cut_since[NODES_CAP][NODES_CAP];
	cl_usec cut_last[NODES_CAP][NODES_CAP];
	/* The same for the direct link alone (relays may still bridge), and
	 * for a direct cut with fewer than two relays (indirect probes then
	 * hang on one path of four lossy legs). */
	cl_usec direct_cut_since[NODES_CAP][NODES_CAP];
	cl_usec direct_cut_last[NODES_CAP][NODES_CAP];
	cl_usec thin_since[NODES_CAP][NODES_CAP];
	cl_usec thin_last[NODES_CAP][NODES_CAP];
	/* Seconds each node spent slow or under heavy loss: each such second
	 * may cost it a suspicion and so a refutation. */
	double rough_s[NODES_CAP];

	/* What each observer has seen, per name owner. */
	struct {
		bool dead;
		uint32_t dead_inc;
		bool has_addr;
		cl_addr addr;
		unsigned flips;
	} seen[NODES_CAP][NODES_CAP];

	/* Per node slot: a cluster layer fed by its core's events. */
	cl_cluster *cl[NODES_CAP];
	const cl_swim *cl_core[NODES_CAP];

	struct trace_rec trace[TRACE_CAP];
	uint64_t n_trace;
};

static double secs(cl_usec t)
{
	return (double)t / 1e6;
}

static void violate(struct prop *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violate(struct prop *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	p->res->ok = false;
	int n = snprintf(p->res->violation, sizeof p->res->violation,
			 "t=%.3f ", secs(cl_sim_now(p->sim)));
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof p->res->violation)
		vsnprintf(p->res->violation + n,
			  sizeof p->res->violation - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Drawing a schedule                                                  */
/* ------------------------------------------------------------------ */

static cl_usec draw_between(sim_rng *r, cl_usec lo, cl_usec hi)
{
	return lo + (cl_usec)sim_rng_below(r, (uint64_t)(hi - lo + 1));
}

static uint8_t draw_kind(sim_rng *r)
{
	unsigned total = 0;
	for (int k = 0; k < CL_PF__COUNT; k++)
		total += WEIGHT[k];
	unsigned x = (unsigned)sim_rng_below(r, total);
	for (int k = 0; k < CL_PF__COUNT; k++) {
		if (x < WEIGHT[k])
			return (uint8_t)k;
		x -= WEIGHT[k];
	}
	return CL_PF_CRASH;
}

static cl_usec susp_min(const cl_swim_timing *t, uint32_t n)
{
	double lg = n > 10 ? log10((double)n) : 1.0;
	return (cl_usec)((double)t->suspicion_mult * lg *
			 (double)t->probe_interval);
}

static void draw_schedule(const cl_prop_config *cfg, const cl_swim_timing *t,
			  struct schedule *sch)
{
	sim_rng r;
	sim_rng_seed(&r, cfg->seed, 0x70726f70ull, 0, 0);
	uint32_t lo = cfg->min_nodes ? cfg->min_nodes : 4;
	uint32_t hi = cfg->max_nodes ? cfg->max_nodes : 16;
	if (hi > NODES_CAP - SPARES)
		hi = NODES_CAP - SPARES;
	if (lo < 3)
		lo = 3;
	if (hi < lo)
		hi = lo;
	memset(sch, 0, sizeof *sch);
	sch->seed = cfg->seed;
	sch->n = lo + (uint32_t)sim_rng_below(&r, hi - lo + 1);
	unsigned maxf = cfg->max_faults ? cfg->max_faults : 8;
	if (maxf > FAULTS_CAP)
		maxf = FAULTS_CAP;
	cl_usec window = cfg->fault_window ? cfg->fault_window : 150 * CL_SEC;
	cl_usec ms = susp_min(t, sch->n);
	/* Permanent losses (crash, leave, the crashed half of address
	 * reuse) stay below a third of the cluster. */
	unsigned losses = 0, max_losses = sch->n / 3;
	sch->n_faults = 1 + (unsigned)sim_rng_below(&r, maxf);
	for (unsigned i = 0; i < sch->n_faults; i++) {
		struct fault *f = &sch->f[i];
		f->kind = draw_kind(&r);
		bool permanent = f->kind == CL_PF_CRASH || f->kind == CL_PF_LEAVE ||
				 f->kind == CL_PF_ADDR_REUSE;
		if (permanent && losses >= max_losses)
			f->kind = CL_PF_RESTART;
		else if (permanent)
			losses++;
		f->at = SETTLE + draw_between(&r, 0, window - 10 * CL_SEC);
		f->a = (uint32_t)sim_rng_below(&r, sch->n);
		f->b = (uint32_t)sim_rng_below(&r, sch->n - 1);
		if (f->b >= f->a)
			f->b++;
		switch (f->kind) {
		case CL_PF_RESTART:
		case CL_PF_RESTART_MOVED:
		case CL_PF_RESTART_RETAG:
		case CL_PF_RESTART_CLOCK:
			f->dur = draw_between(&r, 500 * CL_MSEC, 30 * CL_SEC);
			break;
		case CL_PF_PAUSE:
			/* Shorter than the suspicion bound, with room for the
			 * refutation to spread: no death may follow. */
			f->dur = draw_between(&r, 200 * CL_MSEC, ms - 1500 * CL_MSEC);
			break;
		case CL_PF_PAUSE_LONG:
			f->dur = draw_between(&r, ms + CL_SEC, 40 * CL_SEC);
			break;
		case CL_PF_PARTITION:
		case CL_PF_PARTITION_LONG: {
			f->dur = f->kind == CL_PF_PARTITION
					 ? draw_between(&r, 3 * CL_SEC, 50 * CL_SEC)
					 : draw_between(&r, t->tombstone_timeout + 10 * CL_SEC,
							t->tombstone_timeout + 60 * CL_SEC);
			uint32_t minority = 1 + (uint32_t)sim_rng_below(
							&r, (sch->n - 1) / 2);
			for (uint32_t k = 0; k < minority; k++)
				f->group[sim_rng_below(&r, sch->n)] = 1;
			break;
		}
		case CL_PF_ONE_WAY:
		case CL_PF_NON_TRANSITIVE:
			f->dur = draw_between(&r, 3 * CL_SEC, 60 * CL_SEC);
			break;
		case CL_PF_LOSS: {
			static const double levels[] = {0.05, 0.1, 0.2, 0.3};
			f->p = levels[sim_rng_below(&r, 4)];
			f->dur = draw_between(&r, 5 * CL_SEC, 60 * CL_SEC);
			break;
		}
		case CL_PF_DUP:
			f->p = 0.1 + 0.4 * sim_rng_unit(&r);
			f->dur = draw_between(&r, 5 * CL_SEC, 60 * CL_SEC);
			break;
		case CL_PF_CORRUPT:
			f->p = 0.05 + 0.15 * sim_rng_unit(&r);
			f->dur = draw_between(&r, 5 * CL_SEC, 60 * CL_SEC);
			break;
		case CL_PF_STREAM_FAIL:
			f->p = 0.2 + 0.8 * sim_rng_unit(&r);
			f->dur = draw_between(&r, 5 * CL_SEC, 60 * CL_SEC);
			break;
		case CL_PF_SLOW:
			f->delay = draw_between(&r, 100 * CL_MSEC, 1500 * CL_MSEC);
			f->dur = draw_between(&r, 5 * CL_SEC, 60 * CL_SEC);
			break;
		case CL_PF_LEAVE_REJOIN:
			f->dur = draw_between(&r, 0, 900 * CL_MSEC);
			break;
		case CL_PF_ADDR_REUSE:
			f->dur = draw_between(&r, 500 * CL_MSEC, 10 * CL_SEC);
			break;
		default:
			break;
		}
	}
}

static void print_fault(FILE *out, const struct fault *f)
{
	fprintf(out, "  t=%7.3f %-15s a=n%u", secs(f->at),
		cl_prop_fault_name(f->kind), f->a);
	switch (f->kind) {
	case CL_PF_ONE_WAY:
	case CL_PF_NON_TRANSITIVE:
	case CL_PF_ADDR_REUSE:
		fprintf(out, " b=n%u", f->b);
		break;
	case CL_PF_PARTITION:
	case CL_PF_PARTITION_LONG:
		fprintf(out, " minority=");
		for (uint32_t k = 0; k < NODES_CAP; k++)
			if (f->group[k])
				fprintf(out, "n%u,", k);
		break;
	default:
		break;
	}
	if (f->dur)
		fprintf(out, " for %.3f s", secs(f->dur));
	if (f->p > 0)
		fprintf(out, " p=%.2f", f->p);
	if (f->delay)
		fprintf(out, " delay=%.3f s", secs(f->delay));
	fprintf(out, "%s\n", f->dropped ? " (dropped)" : "");
}

static void print_schedule(FILE *out, const struct schedule *sch)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < sch->n_faults; i++)
		kept += !sch->f[i].dropped;
	fprintf(out, "schedule: seed %" PRIu64 ", %u nodes, %u faults\n",
		sch->seed, sch->n, kept);
	for (unsigned i = 0; i < sch->n_faults; i++)
		if (!sch->f[i].dropped)
			print_fault(out, &sch->f[i]);
}

/* ------------------------------------------------------------------ */
/* Ground truth                                                        */
/* ------------------------------------------------------------------ */

static void span_open(struct span *v, unsigned *n, cl_usec now, double level)
{
	if (*n < SPANS_CAP)
		v[(*n)++] = (struct span){now, CL_NEVER, level};
}

static void span_close(struct span *v, unsigned n, cl_usec now)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].to == CL_NEVER)
			v[i].to = now;
}

/* A span overlapping [from, to] whose level is at least `level`. */
static bool span_hit(const struct span *v, unsigned n, cl_usec from,
		     cl_usec to, double level, cl_usec now)
{
	for (unsigned i = 0; i < n; i++) {
		cl_usec end = v[i].to == CL_NEVER ? now : v[i].to;
		double lvl = v[i].level;
		/* A pause still open counts for as long as it has lasted. */
		if (v[i].to == CL_NEVER && level > 0 && lvl < 0)
			lvl = secs(now - v[i].from);
		if (v[i].from <= to && end >= from && lvl >= level)
			return true;
	}
	return false;
}

static bool separated(const struct prop *p, uint32_t a, uint32_t b,
		      cl_usec from, cl_usec to, cl_usec now)
{
	for (unsigned i = 0; i < p->n_parts; i++) {
		const struct part *pt = &p->parts[i];
		cl_usec end = pt->to == CL_NEVER ? now : pt->to;
		if (pt->from <= to && end >= from && pt->group[a] != pt->group[b])
			return true;
	}
	return false;
}

/* Whether datagrams flow a -> b now (both running, not paused). */
static bool link_ok(const struct prop *p, uint32_t a, uint32_t b)
{
	if (cl_sim_node_state(p->sim, a) != CL_SIM_UP ||
	    cl_sim_node_state(p->sim, b) != CL_SIM_UP ||
	    cl_sim_paused(p->sim, a) || cl_sim_paused(p->sim, b))
		return false;
	if (p->partitioned &&
	    p->parts[p->n_parts - 1].group[a] != p->parts[p->n_parts - 1].group[b])
		return false;
	return p->blocks[a][b] == 0;
}

static bool both_ways(const struct prop *p, uint32_t a, uint32_t b)
{
	return link_ok(p, a, b) && link_ok(p, b, a);
}

/* SWIM's reach: a probe and its ack directly, or through one relay that
 * both ends reach both ways. */
static unsigned relays_between(const struct prop *p, uint32_t o, uint32_t x)
{
	unsigned n = 0;
	for (uint32_t r = 0; r < p->total; r++)
		n += r != o && r != x && both_ways(p, o, r) && both_ways(p, r, x);
	return n;
}

static bool can_probe(const struct prop *p, uint32_t o, uint32_t x)
{
	return both_ways(p, o, x) || relays_between(p, o, x) > 0;
}

/* An interval flag: since when it holds (-1 if not), when it last held. */
static void track(cl_usec *since, cl_usec *last, bool on, cl_usec now)
{
	if (on) {
		if (*since < 0)
			*since = now;
		*last = now;
	} else if (*since >= 0) {
		*since = -1;
		*last = now;
	}
}

/* Whether the direct link a-b was cut at any time since `from`. */
static bool cut_lately(const struct prop *p, uint32_t a, uint32_t b,
		       cl_usec from)
{
	return p->direct_cut_since[a][b] >= 0 || p->direct_cut_last[a][b] >= from;
}

/* Relays a prober would have: reachable both ways from both ends now and
 * through the whole window (a relay cut off a moment ago is still dead
 * or suspect in the prober's view, however healthy the network is now). */
static unsigned settled_relays(const struct prop *p, uint32_t o, uint32_t x,
			       cl_usec from)
{
	unsigned n = 0;
	for (uint32_t r = 0; r < p->total; r++)
		n += r != o && r != x && both_ways(p, o, r) &&
		     both_ways(p, r, x) && !cut_lately(p, o, r, from) &&
		     !cut_lately(p, r, x, from);
	return n;
}

static void recompute_reach(struct prop *p)
{
	cl_usec now = cl_sim_now(p->sim);
	for (uint32_t o = 0; o < p->total; o++)
		for (uint32_t x = 0; x < p->total; x++) {
			if (o == x)
				continue;
			bool up_both = cl_sim_node_state(p->sim, o) == CL_SIM_UP &&
				       cl_sim_node_state(p->sim, x) == CL_SIM_UP;
			track(&p->direct_cut_since[o][x], &p->direct_cut_last[o][x],
			      up_both && !both_ways(p, o, x), now);
			track(&p->cut_since[o][x], &p->cut_last[o][x],
			      up_both && !can_probe(p, o, x), now);
		}
	for (uint32_t o = 0; o < p->total; o++)
		for (uint32_t x = 0; x < p->total; x++) {
			if (o == x)
				continue;
			bool thin = p->direct_cut_since[o][x] >= 0 &&
				    settled_relays(p, o, x, now - p->window) < 2;
			track(&p->thin_since[o][x], &p->thin_last[o][x], thin, now);
		}
}

static bool was_cut(const struct prop *p, uint32_t o, uint32_t x, cl_usec from)
{
	return p->cut_since[o][x] >= 0 || p->cut_since[x][o] >= 0 ||
	       p->cut_last[o][x] >= from || p->cut_last[x][o] >= from;
}

/* The class of fault that explains observer slot o declaring slot x's
 * process dead at now, or -1. */
static int excuse_slot(const struct prop *p, uint32_t o, uint32_t x,
		       cl_usec now)
{
	cl_usec from = now - p->window;
	/* A pause counts once it outlasted the shortest suspicion less the
	 * time a refutation needs to spread. */
	double long_pause = secs(p->min_susp) - 1.0;
	if (span_hit(p->pause[x], p->n_pause[x], from, now, long_pause, now))
		return CL_PF_PAUSE_LONG;
	if (span_hit(p->pause[o], p->n_pause[o], from, now, long_pause, now))
		return CL_PF_PAUSE_LONG;
	if (separated(p, o, x, from, now, now))
		return CL_PF_PARTITION;
	/* Cut off by a mix of blocks, partitions, crashes and pauses that
	 * left no relay between the two. */
	if (was_cut(p, o, x, from) || p->thin_since[o][x] >= 0 ||
	    p->thin_since[x][o] >= 0 || p->thin_last[o][x] >= from ||
	    p->thin_last[x][o] >= from)
		return CL_PF_NON_TRANSITIVE;
	/* Lifeguard keeps 10% loss clean; past that suspicions can outlast
	 * the refutations that loss eats. */
	if (span_hit(p->loss, p->n_loss, from, now, 0.15, now))
		return CL_PF_LOSS;
	/* A receive path slower than half the shortest suspicion cannot
	 * refute in time; one slower than the probe timeout never answers a
	 * probe in time, and lives on refutations alone, which a cut between
	 * it and the observer leaves to gossip through third nodes. */
	if (span_hit(p->slow[x], p->n_slow[x], from, now,
		     secs(p->min_susp) / 2, now))
		return CL_PF_SLOW;
	if (span_hit(p->slow[x], p->n_slow[x], from, now,
		     secs(p->timing.probe_timeout), now) &&
	    (cut_lately(p, o, x, from) || cut_lately(p, x, o, from) ||
	     span_hit(p->loss, p->n_loss, from, now, 0.01, now)))
		return CL_PF_SLOW;
	if (p->left_at[x] >= 0 && p->left_at[x] >= from)
		return CL_PF_LEAVE;
	if (p->twin_at[x] >= 0 && p->twin_at[x] >= from)
		return CL_PF_TWIN;
	return -1;
}

/* The same for name x, whichever slot carries it (a twin's too). */
static int excuse(const struct prop *p, uint32_t o, uint32_t x, cl_usec now)
{
	for (uint32_t y = 0; y < p->total; y++) {
		if (cl_sim_name_owner(p->sim, y) != x)
			continue;
		int why = excuse_slot(p, o, y, now);
		if (why >= 0)
			return why;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Observer: event-level invariants                                    */
/* ------------------------------------------------------------------ */

static void trace_add(struct prop *p, uint32_t o, uint32_t x,
		      const cl_swim_event *ev, cl_usec now)
{
	struct trace_rec *t = &p->trace[p->n_trace++ % TRACE_CAP];
	*t = (struct trace_rec){now, o, x, ev->type, ev->status,
				ev->incarnation, ev->addr};
}

static void forget_cluster(struct prop *p, uint32_t i)
{
	cl_cluster_free(p->cl[i]);
	p->cl[i] = NULL;
	p->cl_core[i] = NULL;
}

/* Whether a running process is the one holding name x at incarnation inc:
 * a life of the name that is up, whose incarnations reach inc, and not an
 * incarnation an earlier life of the name may have held (a life restarted
 * with its clock stepped back starts below its predecessor). */
static bool about_running(struct prop *p, uint32_t x, uint32_t inc)
{
	for (uint32_t i = 0; i < p->total; i++) {
		if (cl_sim_name_owner(p->sim, i) != x ||
		    cl_sim_node_state(p->sim, i) != CL_SIM_UP)
			continue;
		if (!cl_inc_at_least(inc, p->boot_inc[i]))
			continue;
		if (p->had_prev[x] && !cl_inc_newer(inc, p->prev_max[x]) &&
		    !cl_inc_newer(p->boot_inc[i], p->prev_max[x]))
			continue;
		return true;
	}
	return false;
}

static void observe(void *arg, cl_sim *sim, uint32_t node, cl_usec now,
		    const cl_swim_event *ev)
{
	struct prop *p = arg;
	p->res->events++;
	cl_swim *core = cl_sim_core(sim, node);
	if (core && p->cl_core[node] != core) {
		cl_cluster_free(p->cl[node]);
		cl_cluster_config cc = {.consensus = 1};
		p->cl[node] = cl_cluster_new(&cc, core, NULL);
		p->cl_core[node] = core;
	}
	if (p->cl[node])
		cl_cluster_apply(p->cl[node], ev);
	if (ev->type == CL_EV_RESYNC || ev->type == CL_EV_SUPERSEDED)
		return;
	int64_t xi = cl_sim_node_index(sim, ev->name, ev->name_len);
	if (xi < 0 || (uint64_t)xi >= p->total)
		return;
	uint32_t x = (uint32_t)xi;
	trace_add(p, node, x, ev, now);
	if (x == node || cl_sim_name_owner(sim, node) == x)
		return;
	__typeof__(p->seen[0][0]) *s = &p->seen[node][x];
	switch (ev->type) {
	case CL_EV_JOIN:
	case CL_EV_UPDATE:
		if (ev->status != CL_STATUS_ALIVE && ev->status != CL_STATUS_SUSPECT)
			break;
		if (ev->type == CL_EV_JOIN && s->dead &&
		    !cl_inc_newer(ev->incarnation, s->dead_inc))
			violate(p, "resurrection: n%u took n%u alive at "
				   "incarnation %u after seeing it dead at %u",
				node, x, ev->incarnation, s->dead_inc);
		if (s->has_addr && !cl_addr_equal(&s->addr, &ev->addr)) {
			s->flips++;
			unsigned bound = 2 + 2 * p->moves[x];
			if (s->flips > bound)
				violate(p, "address flip-flop: n%u saw n%u move "
					   "%u times (bound %u)",
					node, x, s->flips, bound);
		}
		s->has_addr = true;
		s->addr = ev->addr;
		break;
	case CL_EV_FAIL:
	case CL_EV_LEAVE:
		if (!s->dead || cl_inc_newer(ev->incarnation, s->dead_inc))
			s->dead_inc = ev->incarnation;
		s->dead = true;
		if (ev->type == CL_EV_FAIL && about_running(p, x, ev->incarnation)) {
			int why = excuse(p, node, x, now);
			if (why < 0)
				violate(p, "false death: n%u declared n%u dead "
					   "(incarnation %u) while it ran "
					   "unhindered", node, x,
					ev->incarnation);
			else
				p->res->excused[why]++;
		}
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* State invariants                                                    */
/* ------------------------------------------------------------------ */

static bool running(const struct prop *p, uint32_t i)
{
	return cl_sim_node_state(p->sim, i) == CL_SIM_UP &&
	       !cl_sim_paused(p->sim, i);
}

struct ring_check {
	const cl_ring *ring;
	size_t live;
	bool missing;
};

static bool ring_visit(void *arg, const cl_swim_member_view *m)
{
	struct ring_check *rc = arg;
	if (m->status != CL_STATUS_ALIVE && m->status != CL_STATUS_SUSPECT)
		return true;
	rc->live++;
	if (cl_ring_member_points(rc->ring, m->name, m->name_len) < 0)
		rc->missing = true;
	return true;
}

static void check_state(struct prop *p)
{
	/* Incarnations move by refutations (a refutation may jump: to pass a
	 * rival's or a predecessor's number); a process refutes once per
	 * suspicion of it and once per stale picture of itself, which the
	 * faults bound.  A fight over a name would refute without end. */
	for (uint32_t i = 0; i < p->total && !p->failed; i++) {
		if (!running(p, i))
			continue;
		cl_swim *c = cl_sim_core(p->sim, i);
		unsigned refute_bound = 10 + 4 * p->sch->n_faults +
					(unsigned)p->rough_s[i];
		uint64_t refuted = cl_swim_get_stats(c)->refutations;
		if (!cl_inc_at_least(cl_swim_incarnation(c), p->boot_inc[i]) ||
		    refuted > refute_bound)
			violate(p, "n%u (slot %u) refuted %llu times (bound %u), "
				   "incarnation %u from %u",
				cl_sim_name_owner(p->sim, i), i,
				(unsigned long long)refuted, refute_bound,
				cl_swim_incarnation(c), p->boot_inc[i]);
		if (!p->cl[i] || p->cl_core[i] != c)
			continue;
		cl_cluster_settle(p->cl[i], 0);
		cl_cluster_event ce;
		while (cl_cluster_next_event(p->cl[i], &ce))
			;
		struct ring_check rc = {cl_cluster_ring(p->cl[i], ""), 0, false};
		cl_swim_foreach(c, ring_visit, &rc);
		if (rc.missing || cl_ring_size(rc.ring) != rc.live)
			violate(p, "rings of n%u disagree with its table: ring "
				   "%zu members, %zu live", i,
				cl_ring_size(rc.ring), rc.live);
	}
}

/* Every running node holds exactly the running processes alive, at their
 * addresses and incarnations, nothing else live, and one checksum. */
static bool settled(struct prop *p)
{
	uint32_t live = 0;
	uint64_t sum = 0;
	bool first = true;
	for (uint32_t j = 0; j < p->total; j++)
		live += running(p, j);
	for (uint32_t i = 0; i < p->total; i++) {
		if (!running(p, i))
			continue;
		cl_swim *c = cl_sim_core(p->sim, i);
		if (cl_swim_count(c, CL_STATUS_ALIVE) != live ||
		    cl_swim_count(c, CL_STATUS_SUSPECT) != 0)
			return false;
		if (first)
			sum = cl_swim_checksum(c);
		else if (sum != cl_swim_checksum(c))
			return false;
		first = false;
		for (uint32_t j = 0; j < p->total; j++) {
			if (!running(p, j))
				continue;
			const char *name = cl_sim_node_name(p->sim, j);
			cl_swim_member_view v;
			cl_addr a = cl_sim_node_addr(p->sim, j);
			if (!cl_swim_lookup(c, name, strlen(name), &v) ||
			    v.status != CL_STATUS_ALIVE ||
			    !cl_addr_equal(&v.addr, &a) ||
			    v.incarnation !=
				    cl_swim_incarnation(cl_sim_core(p->sim, j)))
				return false;
		}
	}
	return true;
}

static bool dump_visit(void *arg, const cl_swim_member_view *m)
{
	FILE *out = arg;
	char a[CL_ADDR_STRLEN];
	fprintf(out, "    %.*s %s@%u at %s\n", m->name_len, m->name,
		cloister_member_status_name(m->status), m->incarnation,
		cl_addr_format(&m->addr, a, sizeof a));
	return true;
}

/* A node's table and counters, for the report of a run that did not
 * settle. */
static void dump_node(struct prop *p, FILE *out, uint32_t i)
{
	cl_swim *c = cl_sim_core(p->sim, i);
	if (!c)
		return;
	const cl_swim_stats *st = cl_swim_get_stats(c);
	fprintf(out, "  slot %u (%s, incarnation %u, health %u): pushpulls %llu, "
		"skipped %llu, checksum syncs %llu, probes %llu, failed %llu, "
		"dead retries %llu\n",
		i, cl_swim_name(c), cl_swim_incarnation(c), cl_swim_health(c),
		(unsigned long long)st->pushpulls,
		(unsigned long long)st->pushpulls_skipped,
		(unsigned long long)st->checksum_syncs,
		(unsigned long long)st->probes,
		(unsigned long long)st->probe_fails,
		(unsigned long long)st->dead_retries);
	cl_swim_foreach(c, dump_visit, out);
}

/* Why not settled, for the report. */
static void describe_unsettled(struct prop *p, char *out, size_t len)
{
	uint32_t live = 0;
	for (uint32_t j = 0; j < p->total; j++)
		live += running(p, j);
	for (uint32_t i = 0; i < p->total; i++) {
		if (!running(p, i))
			continue;
		cl_swim *c = cl_sim_core(p->sim, i);
		for (uint32_t j = 0; j < p->total; j++) {
			if (!running(p, j))
				continue;
			const char *name = cl_sim_node_name(p->sim, j);
			cl_swim_member_view v;
			if (!cl_swim_lookup(c, name, strlen(name), &v)) {
				snprintf(out, len, "slot %u does not know %s "
					 "(slot %u)", i, name, j);
				return;
			}
			cl_addr a = cl_sim_node_addr(p->sim, j);
			uint32_t inc = cl_swim_incarnation(cl_sim_core(p->sim, j));
			if (v.status != CL_STATUS_ALIVE ||
			    !cl_addr_equal(&v.addr, &a) || v.incarnation != inc) {
				char h[CL_ADDR_STRLEN], w[CL_ADDR_STRLEN];
				snprintf(out, len, "slot %u holds %s %s@%u at %s, "
					 "it runs at %s with %u", i, name,
					 cloister_member_status_name(v.status),
					 v.incarnation,
					 cl_addr_format(&v.addr, h, sizeof h),
					 cl_addr_format(&a, w, sizeof w), inc);
				return;
			}
		}
		size_t held = cl_swim_count(c, CL_STATUS_ALIVE) +
			      cl_swim_count(c, CL_STATUS_SUSPECT);
		if (held != live) {
			snprintf(out, len, "slot %u holds %zu live, %u run (a "
				 "ghost)", i, held, live);
			return;
		}
	}
	snprintf(out, len, "checksums differ");
}

/* ------------------------------------------------------------------ */
/* Applying faults                                                     */
/* ------------------------------------------------------------------ */

enum step_kind { START, END };

struct action {
	cl_usec at;
	uint8_t step;
	unsigned fault;
};

static int action_cmp(const void *a, const void *b)
{
	const struct action *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->fault != y->fault)
		return x->fault < y->fault ? -1 : 1;
	return (int)x->step - (int)y->step;
}

/* A new life in slot i: its first incarnation, and a fresh memory. */
static void note_life(struct prop *p, uint32_t i)
{
	cl_swim *c = cl_sim_core(p->sim, i);
	if (c)
		p->boot_inc[i] = cl_swim_incarnation(c);
	memset(p->seen[i], 0, sizeof p->seen[i]);
}

static void note_death(struct prop *p, uint32_t i)
{
	cl_swim *c = cl_sim_core(p->sim, i);
	uint32_t owner = cl_sim_name_owner(p->sim, i);
	if (!c)
		return;
	uint32_t inc = cl_swim_incarnation(c);
	if (!p->had_prev[owner] || cl_inc_newer(inc, p->prev_max[owner]))
		p->prev_max[owner] = inc;
	p->had_prev[owner] = true;
}

static void pause_end(struct prop *p, uint32_t a, cl_usec now)
{
	for (unsigned i = 0; i < p->n_pause[a]; i++)
		if (p->pause[a][i].to == CL_NEVER)
			p->pause[a][i].level = secs(now - p->pause[a][i].from);
	span_close(p->pause[a], p->n_pause[a], now);
	cl_sim_resume(p->sim, a);
}

static void crash(struct prop *p, uint32_t i)
{
	note_death(p, i);
	cl_sim_crash(p->sim, i);
	forget_cluster(p, i);
}

static int restart(struct prop *p, uint32_t i, const cl_sim_restart_opts *o)
{
	forget_cluster(p, i);
	int e = cl_sim_restart_ex(p->sim, i, o);
	if (e == 0)
		note_life(p, i);
	return e;
}

static void block(struct prop *p, uint32_t a, uint32_t b, bool on)
{
	if (on) {
		if (p->blocks[a][b]++ == 0)
			cl_sim_block(p->sim, a, b, true);
	} else if (p->blocks[a][b] > 0 && --p->blocks[a][b] == 0) {
		cl_sim_block(p->sim, a, b, false);
	}
}

static bool up(struct prop *p, uint32_t i)
{
	return cl_sim_node_state(p->sim, i) == CL_SIM_UP;
}

/* A spare slot not yet used, or -1. */
static int64_t free_spare(struct prop *p)
{
	for (uint32_t i = p->n; i < p->total; i++)
		if (cl_sim_node_state(p->sim, i) == CL_SIM_PENDING)
			return i;
	return -1;
}

static const uint8_t RETAG[] = {6, 'g', 'r', 'o', 'u', 'p', 's', 3, 'a',
				',', 'b', 6, 'w', 'e', 'i', 'g', 'h', 't',
				1, '2'};

/* Returns whether the fault was applied. */
static bool fault_start(struct prop *p, struct fault *f)
{
	cl_sim *sim = p->sim;
	cl_usec now = cl_sim_now(sim);
	uint32_t a = f->a, b = f->b;
	cl_sim_restart_opts o = {.addr_of = -1};
	switch (f->kind) {
	case CL_PF_CRASH:
	case CL_PF_RESTART:
	case CL_PF_RESTART_MOVED:
	case CL_PF_RESTART_RETAG:
	case CL_PF_RESTART_CLOCK:
		if (!up(p, a) || cl_sim_paused(sim, a))
			return false;
		crash(p, a);
		return true;
	case CL_PF_PAUSE:
	case CL_PF_PAUSE_LONG:
		if (!up(p, a) || cl_sim_paused(sim, a))
			return false;
		cl_sim_pause(sim, a);
		/* Level -1: an open pause counts for as long as it lasts. */
		span_open(p->pause[a], &p->n_pause[a], now, -1);
		return true;
	case CL_PF_PARTITION:
	case CL_PF_PARTITION_LONG:
		if (p->partitioned || p->n_parts == PARTS_CAP)
			return false;
		cl_sim_partition(sim, f->group);
		p->partitioned = true;
		p->parts[p->n_parts].from = now;
		p->parts[p->n_parts].to = CL_NEVER;
		memcpy(p->parts[p->n_parts].group, f->group, NODES_CAP);
		p->n_parts++;
		return true;
	case CL_PF_ONE_WAY:
		block(p, a, b, true);
		return true;
	case CL_PF_NON_TRANSITIVE:
		block(p, a, b, true);
		block(p, b, a, true);
		return true;
	case CL_PF_LOSS:
		if (p->param_on[f->kind])
			return false;
		cl_sim_set_loss(sim, f->p);
		span_open(p->loss, &p->n_loss, now, f->p);
		p->param_on[f->kind] = true;
		return true;
	case CL_PF_DUP:
	case CL_PF_CORRUPT:
	case CL_PF_STREAM_FAIL:
		if (p->param_on[f->kind])
			return false;
		if (f->kind == CL_PF_DUP) {
			cl_sim_set_dup(sim, f->p);
		} else if (f->kind == CL_PF_CORRUPT) {
			/* Half the damaged datagrams are dropped: loss. */
			cl_sim_set_corrupt(sim, f->p);
			span_open(p->loss, &p->n_loss, now, f->p / 2);
		}
		else
			cl_sim_set_stream_fail(sim, f->p);
		p->param_on[f->kind] = true;
		return true;
	case CL_PF_SLOW:
		if (!up(p, a) || (p->n_slow[a] &&
				  p->slow[a][p->n_slow[a] - 1].to == CL_NEVER))
			return false;
		cl_sim_set_slow(sim, a, f->delay);
		span_open(p->slow[a], &p->n_slow[a], now, secs(f->delay));
		return true;
	case CL_PF_LEAVE:
	case CL_PF_LEAVE_REJOIN:
		if (!up(p, a) || cl_sim_paused(sim, a))
			return false;
		note_death(p, a);
		p->left_at[cl_sim_name_owner(sim, a)] = now;
		cl_sim_leave(sim, a);
		return true;
	case CL_PF_TWIN: {
		int64_t s = free_spare(p);
		if (s < 0 || !up(p, a) || cl_sim_name_owner(sim, a) != a)
			return false;
		forget_cluster(p, (uint32_t)s);
		if (cl_sim_start_twin(sim, (uint32_t)s, a) != 0)
			return false;
		note_life(p, (uint32_t)s);
		p->twin_at[a] = now;
		p->moves[a]++;
		return true;
	}
	case CL_PF_ADDR_REUSE:
		if (!up(p, a) || !up(p, b) || cl_sim_paused(sim, a) ||
		    cl_sim_paused(sim, b))
			return false;
		crash(p, a);
		crash(p, b);
		return true;
	}
	(void)o;
	return false;
}

static void fault_end(struct prop *p, struct fault *f)
{
	cl_sim *sim = p->sim;
	cl_usec now = cl_sim_now(sim);
	uint32_t a = f->a, b = f->b;
	cl_sim_restart_opts o = {.addr_of = -1};
	switch (f->kind) {
	case CL_PF_RESTART_MOVED:
		o.new_addr = true;
		p->moves[a]++;
		/* fall through */
	case CL_PF_RESTART:
	case CL_PF_RESTART_RETAG:
	case CL_PF_RESTART_CLOCK:
		if (f->kind == CL_PF_RESTART_RETAG) {
			o.tags = RETAG;
			o.tags_len = sizeof RETAG;
		}
		if (f->kind == CL_PF_RESTART_CLOCK)
			o.clock_back_s = 5;
		if (cl_sim_node_state(sim, a) == CL_SIM_CRASHED)
			restart(p, a, &o);
		break;
	case CL_PF_PAUSE:
	case CL_PF_PAUSE_LONG:
		if (cl_sim_paused(sim, a))
			pause_end(p, a, now);
		break;
	case CL_PF_PARTITION:
	case CL_PF_PARTITION_LONG:
		cl_sim_partition(sim, NULL);
		p->partitioned = false;
		p->parts[p->n_parts - 1].to = now;
		break;
	case CL_PF_ONE_WAY:
		block(p, a, b, false);
		break;
	case CL_PF_NON_TRANSITIVE:
		block(p, a, b, false);
		block(p, b, a, false);
		break;
	case CL_PF_LOSS:
		cl_sim_set_loss(sim, 0);
		span_close(p->loss, p->n_loss, now);
		p->param_on[f->kind] = false;
		break;
	case CL_PF_DUP:
		cl_sim_set_dup(sim, 0);
		p->param_on[f->kind] = false;
		break;
	case CL_PF_CORRUPT:
		cl_sim_set_corrupt(sim, 0);
		span_close(p->loss, p->n_loss, now);
		p->param_on[f->kind] = false;
		break;
	case CL_PF_STREAM_FAIL:
		cl_sim_set_stream_fail(sim, 0);
		p->param_on[f->kind] = false;
		break;
	case CL_PF_SLOW:
		cl_sim_set_slow(sim, a, 0);
		span_close(p->slow[a], p->n_slow[a], now);
		break;
	case CL_PF_LEAVE_REJOIN:
		/* Back as soon as the leave is done (within the second). */
		if (cl_sim_node_state(sim, a) == CL_SIM_LEFT)
			restart(p, a, &o);
		break;
	case CL_PF_ADDR_REUSE:
		/* b comes back under its own name at a's old address. */
		o.addr_of = a;
		if (cl_sim_node_state(sim, b) == CL_SIM_CRASHED &&
		    cl_sim_node_state(sim, a) == CL_SIM_CRASHED &&
		    restart(p, b, &o) == 0)
			p->moves[b]++;
		break;
	default:
		break;
	}
}

/* When a fault's end happens: its duration after the start, except for a
 * leave-and-rejoin, which waits for the leave to finish. */
static cl_usec end_time(const struct prop *p, const struct fault *f)
{
	if (f->kind == CL_PF_LEAVE_REJOIN)
		return f->at + p->timing.leave_linger + 100 * CL_MSEC + f->dur;
	return f->at + f->dur;
}

static bool has_end(const struct fault *f)
{
	return f->kind != CL_PF_CRASH && f->kind != CL_PF_LEAVE &&
	       f->kind != CL_PF_TWIN;
}

/* A slow receive path or heavy loss may get a node suspected (and make it
 * refute) about once a second for as long as it lasts.  So may a one-way
 * cut, for either end, once another fault leaves no relay for it: with
 * a -> b lost, b's pings reach a but a's acks do not come back, and a's
 * pings of b never arrive (seed 684749: n2 behind two one-way cuts in a
 * cluster of three, suspected by both others each round, refuted 41 times
 * in 50 s, every refutation a true answer to a new suspicion). */
static void rough(struct prop *p, const struct fault *f)
{
	double s = secs(f->dur);
	if (f->kind == CL_PF_SLOW)
		p->rough_s[f->a] += s;
	else if (f->kind == CL_PF_ONE_WAY) {
		p->rough_s[f->a] += s;
		p->rough_s[f->b] += s;
	} else if ((f->kind == CL_PF_LOSS && f->p >= 0.15) ||
		 f->kind == CL_PF_CORRUPT)
		for (uint32_t i = 0; i < p->total; i++)
			p->rough_s[i] += s;
}

/* Heals everything still in force. */
static void heal(struct prop *p)
{
	cl_sim *sim = p->sim;
	cl_usec now = cl_sim_now(sim);
	if (p->partitioned) {
		cl_sim_partition(sim, NULL);
		p->partitioned = false;
		p->parts[p->n_parts - 1].to = now;
	}
	for (uint32_t a = 0; a < p->total; a++) {
		for (uint32_t b = 0; b < p->total; b++)
			if (p->blocks[a][b]) {
				p->blocks[a][b] = 0;
				cl_sim_block(sim, a, b, false);
			}
		if (cl_sim_paused(sim, a))
			pause_end(p, a, now);
		cl_sim_set_slow(sim, a, 0);
		span_close(p->slow[a], p->n_slow[a], now);
	}
	cl_sim_set_loss(sim, 0);
	span_close(p->loss, p->n_loss, now);
	cl_sim_set_dup(sim, 0);
	cl_sim_set_corrupt(sim, 0);
	cl_sim_set_stream_fail(sim, 0);
	memset(p->param_on, 0, sizeof p->param_on);
}

/* Runs to t, checking the state invariants every CHECK_EVERY. */
static void advance(struct prop *p, cl_usec t, cl_usec *next_check)
{
	while (!p->failed && cl_sim_now(p->sim) < t) {
		cl_usec to = *next_check < t ? *next_check : t;
		cl_sim_run_until(p->sim, to);
		if (cl_sim_error(p->sim))
			return;
		if (cl_sim_now(p->sim) >= *next_check) {
			check_state(p);
			*next_check += CHECK_EVERY;
		}
	}
}

/* ------------------------------------------------------------------ */
/* One run                                                             */
/* ------------------------------------------------------------------ */

static void prop_timing(cl_swim_timing *t)
{
	cl_swim_timing_profile(t, CL_PROFILE_LAN);
	/* Short tombstones, so that partitions outlast them within a run,
	 * and a reconnect window that still covers the longest partition. */
	t->tombstone_timeout = 60 * CL_SEC;
	t->reconnect_timeout = 240 * CL_SEC;
}

/* The settling bound after the heal, from the timing: a dead retry that
 * crosses a healed partition (at most 4 dead-retry intervals, the retry
 * backoff's ceiling), the longest suspicion (a crash detected), two
 * push-pull periods for whatever gossip missed, a leave's linger, and 30 s
 * for the refutations and the spread. */
static cl_usec settle_bound(const cl_swim_timing *t, uint32_t n)
{
	cl_usec ms = susp_min(t, n);
	return 4 * t->dead_retry_interval + ms * t->suspicion_max_mult +
	       2 * t->pushpull_interval * 2 + t->leave_linger + 30 * CL_SEC;
}

static void print_trace(struct prop *p, FILE *out, int64_t about,
			int64_t observer)
{
	static const char *const ev[] = {"?",	   "join", "update", "leave",
					 "fail", "reap", "resync", "superseded"};
	uint64_t start = p->n_trace > TRACE_CAP ? p->n_trace - TRACE_CAP : 0;
	/* The last 40 records about the subject, oldest first. */
	uint64_t first = p->n_trace;
	unsigned shown = 0;
	while (first > start && shown < 60) {
		const struct trace_rec *t = &p->trace[(first - 1) % TRACE_CAP];
		first--;
		shown += about < 0 || t->about == (uint32_t)about ||
			 t->observer == (uint64_t)observer;
	}
	fprintf(out, "last events about that node, or seen by the observer:\n");
	for (uint64_t k = first; k < p->n_trace; k++) {
		const struct trace_rec *t = &p->trace[k % TRACE_CAP];
		if (about >= 0 && t->about != (uint32_t)about &&
		    t->observer != (uint64_t)observer)
			continue;
		char a[CL_ADDR_STRLEN];
		fprintf(out, "  t=%8.3f slot %2u: n%u %s, %s@%u at %s\n",
			secs(t->t), t->observer, t->about,
			t->type < 8 ? ev[t->type] : "?",
			cloister_member_status_name(t->status), t->inc,
			cl_addr_format(&t->addr, a, sizeof a));
	}
}

/* The first node a violation message names (the observer of a death). */
static int64_t observer_of(const char *v)
{
	const char *q = strstr(v, " n");
	unsigned x;
	return q && sscanf(q, " n%u", &x) == 1 ? (int64_t)x : -1;
}

/* The node a violation message is about ("... n7 ..."), or -1. */
static int64_t subject_of(const char *v)
{
	const char *q = strstr(v, " n");
	while (q) {
		const char *r = strstr(q + 2, " n");
		unsigned x;
		/* The second node named is the subject of most messages. */
		if (r && sscanf(r, " n%u", &x) == 1)
			return x;
		if (sscanf(q, " n%u", &x) == 1)
			return x;
		q = r;
	}
	return -1;
}

static int run_schedule(const cl_prop_config *cfg, const struct schedule *sch,
			cl_prop_result *res, bool report, bool packets)
{
	struct prop *p = calloc(1, sizeof *p);
	if (!p)
		return CLOISTER_ENOMEM;
	memset(res, 0, sizeof *res);
	res->ok = true;
	res->seed = sch->seed;
	res->nodes = sch->n;
	res->converged_after = -1;
	p->cfg = cfg;
	p->res = res;
	p->sch = sch;
	p->n = sch->n;
	p->total = sch->n + SPARES;
	prop_timing(&p->timing);
	p->min_susp = susp_min(&p->timing, p->n);
	p->max_susp = p->min_susp * p->timing.suspicion_max_mult;
	p->window = p->max_susp + 3 * p->timing.probe_interval + 5 * CL_SEC;
	for (uint32_t i = 0; i < NODES_CAP; i++) {
		p->left_at[i] = -1;
		p->twin_at[i] = -1;
		for (uint32_t j = 0; j < NODES_CAP; j++) {
			p->cut_since[i][j] = -1;
			p->cut_last[i][j] = -1;
			p->direct_cut_since[i][j] = -1;
			p->direct_cut_last[i][j] = -1;
			p->thin_since[i][j] = -1;
			p->thin_last[i][j] = -1;
		}
	}
	cl_sim_config sc;
	cl_sim_config_default(&sc);
	sc.seed = sch->seed;
	sc.nodes = p->total;
	sc.spares = SPARES;
	sc.timing = &p->timing;
	sc.observer = observe;
	sc.observer_arg = p;
	cl_sim_trace trace = {cfg->report, cfg->packets_of, cfg->n_packets_of,
			      0};
	if (packets && cfg->report && cfg->n_packets_of) {
		sc.tracer = cl_sim_trace_packet;
		sc.tracer_arg = &trace;
	}
	int err = 0;
	p->sim = cl_sim_new(&sc, &err);
	if (!p->sim) {
		free(p);
		return err;
	}
	cl_usec next_check = SETTLE;
	cl_sim_run_until(p->sim, 1 * CL_SEC);
	for (uint32_t i = 0; i < p->n; i++)
		note_life(p, i);
	if (!cl_sim_run_until_converged(p->sim, SETTLE)) {
		violate(p, "the cluster did not form within %.0f s", secs(SETTLE));
	}

	/* The schedule, as start and end actions in time order. */
	struct action acts[2 * FAULTS_CAP];
	unsigned na = 0;
	for (unsigned i = 0; i < sch->n_faults; i++) {
		const struct fault *f = &sch->f[i];
		if (f->dropped)
			continue;
		acts[na++] = (struct action){f->at, START, i};
		if (has_end(f))
			acts[na++] = (struct action){end_time(p, f), END, i};
	}
	qsort(acts, na, sizeof acts[0], action_cmp);
	bool applied[FAULTS_CAP] = {0};
	cl_usec faults_end = SETTLE;
	for (unsigned k = 0; k < na && !p->failed; k++) {
		advance(p, acts[k].at, &next_check);
		if (p->failed || cl_sim_error(p->sim))
			break;
		struct fault *f = (struct fault *)&sch->f[acts[k].fault];
		if (acts[k].step == START) {
			applied[acts[k].fault] = fault_start(p, f);
			if (applied[acts[k].fault]) {
				res->faults[f->kind]++;
				res->n_faults++;
				rough(p, f);
			}
		} else if (applied[acts[k].fault]) {
			fault_end(p, f);
		}
		recompute_reach(p);
		if (acts[k].at > faults_end)
			faults_end = acts[k].at;
	}
	if (!p->failed && !cl_sim_error(p->sim)) {
		heal(p);
		recompute_reach(p);
		cl_usec healed = cl_sim_now(p->sim);
		res->bound = settle_bound(&p->timing, p->n);
		cl_usec deadline = healed + res->bound;
		cl_usec discover_at = healed + DISCOVERY_AFTER;
		while (!p->failed && !settled(p) && cl_sim_now(p->sim) < deadline) {
			if (cl_sim_now(p->sim) >= discover_at) {
				for (uint32_t i = 0; i < p->total; i++)
					if (running(p, i))
						res->rediscovered +=
							cl_sim_rediscover(p->sim, i);
				discover_at += DISCOVERY_EVERY;
			}
			advance(p, cl_sim_now(p->sim) + 500 * CL_MSEC, &next_check);
		}
		if (!p->failed && settled(p)) {
			res->converged_after = cl_sim_now(p->sim) - healed;
			check_state(p);
		} else if (!p->failed) {
			char why[300];
			describe_unsettled(p, why, sizeof why);
			violate(p, "not settled %.0f s after the heal: %s",
				secs(res->bound), why);
		}
	}
	if (cl_sim_error(p->sim) && !p->failed)
		violate(p, "simulator error %d", cl_sim_error(p->sim));
	res->sim_seconds = secs(cl_sim_now(p->sim));
	if (!res->ok && report && cfg->report) {
		FILE *out = cfg->report;
		fprintf(out, "VIOLATION (seed %" PRIu64 "): %s\n", sch->seed,
			res->violation);
		print_schedule(out, sch);
		print_trace(p, out, subject_of(res->violation),
			    observer_of(res->violation));
		unsigned slot;
		const char *q = strstr(res->violation, "slot ");
		if (q && sscanf(q, "slot %u", &slot) == 1 && slot < p->total)
			dump_node(p, out, slot);
	}
	for (uint32_t i = 0; i < NODES_CAP; i++)
		cl_cluster_free(p->cl[i]);
	cl_sim_free(p->sim);
	free(p);
	return 0;
}

int cl_prop_run(const cl_prop_config *cfg, cl_prop_result *res)
{
	cl_swim_timing t;
	prop_timing(&t);
	struct schedule *sch = malloc(sizeof *sch);
	if (!sch)
		return CLOISTER_ENOMEM;
	draw_schedule(cfg, &t, sch);
	if (cfg->trace && cfg->report)
		print_schedule(cfg->report, sch);
	int e = run_schedule(cfg, sch, res, true, true);
	if (e == 0 && !res->ok && cfg->shrink && cfg->report) {
		/* Drop faults one at a time while the run still fails. */
		cl_prop_result r2;
		for (unsigned i = 0; i < sch->n_faults; i++) {
			sch->f[i].dropped = true;
			if (run_schedule(cfg, sch, &r2, false, false) != 0 ||
			    r2.ok)
				sch->f[i].dropped = false;
		}
		fprintf(cfg->report, "smallest failing schedule found:\n");
		run_schedule(cfg, sch, &r2, true, false);
	}
	free(sch);
	return e;
}

int cl_prop_batch(const cl_prop_config *cfg, uint64_t first, uint64_t last,
		  cl_prop_summary *sum)
{
	memset(sum, 0, sizeof *sum);
	sum->first = first;
	sum->last = last;
	for (uint64_t seed = first; seed >= first && seed <= last; seed++) {
		cl_prop_config c = *cfg;
		c.seed = seed;
		cl_prop_result r;
		int e = cl_prop_run(&c, &r);
		if (e)
			return e;
		sum->runs++;
		sum->events += r.events;
		sum->sim_seconds += r.sim_seconds;
		for (int k = 0; k < CL_PF__COUNT; k++) {
			sum->faults[k] += r.faults[k];
			sum->excused[k] += r.excused[k];
		}
		if (!r.ok) {
			sum->violations++;
			if (!sum->first_violation)
				sum->first_violation = seed;
			if (cfg->report)
				fprintf(cfg->report, "seed %" PRIu64 ": %s\n", seed,
					r.violation);
		}
		sum->rediscovered += r.rediscovered > 0;
		if (r.ok && secs(r.converged_after) > sum->slowest_settle) {
			sum->slowest_settle = secs(r.converged_after);
		}
	}
	return 0;
}

void cl_prop_summary_print(FILE *out, const cl_prop_summary *sum,
			   double wall_s)
{
	fprintf(out,
		"%" PRIu64 " schedules (seeds %" PRIu64 "-%" PRIu64 "), %" PRIu64
		" violations, %.1f s wall, %.1f schedules/s, %.0f simulated s, "
		"%" PRIu64 " member events; slowest settle after the heal %.1f s; "
		"%" PRIu64 " runs rejoined an island by discovery\n",
		sum->runs, sum->first, sum->last, sum->violations, wall_s,
		wall_s > 0 ? (double)sum->runs / wall_s : 0.0, sum->sim_seconds,
		sum->events, sum->slowest_settle, sum->rediscovered);
	fprintf(out, "fault mix (applied) and deaths of running processes each "
		     "class explained:\n");
	for (int k = 0; k < CL_PF__COUNT; k++)
		fprintf(out, "  %-15s %7u applied, %7u excused deaths\n",
			cl_prop_fault_name((enum cl_prop_fault)k), sum->faults[k],
			sum->excused[k]);
}
