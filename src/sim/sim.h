/*
 * sim.h — a deterministic, event-driven simulator for the membership core.
 *
 * A simulation runs N protocol cores (core/swim.h) in one thread against a
 * virtual network and a virtual clock.  One seed gives a bit-identical run:
 * every random choice, the cores' included, comes from streams derived from
 * it, and nothing reads the wall clock.  How the network is modelled, and
 * what is not, is explained at the top of sim.c.
 *
 * Typical use:
 *
 *     cl_sim_config cfg;
 *     cl_sim_config_default(&cfg);
 *     cfg.nodes = 1000;
 *     cfg.seed = 42;
 *     cl_sim *sim = cl_sim_new(&cfg, &err);
 *     cl_sim_run_until_converged(sim, 60 * CL_SEC);
 *     cl_sim_crash(sim, 17);
 *     cl_sim_run_until(sim, cl_sim_now(sim) + 30 * CL_SEC);
 *     cl_sim_get_metrics(sim, &m);
 *     cl_sim_free(sim);
 *
 * Nodes are numbered 0..nodes-1 for the whole run; a node that restarts
 * keeps its number and name ("n<number>") and gets a new core.
 */
#ifndef CLOISTER_SIM_SIM_H
#define CLOISTER_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/swim.h"

typedef struct cl_sim cl_sim;

/* Called for every event a core emits, right after the feed or tick that
 * produced it.  It may query the simulation (cores, lookups, metrics) but
 * must not change it (no crash, restart, partition, run). */
typedef void (*cl_sim_observer)(void *arg, cl_sim *sim, uint32_t node,
				cl_usec now, const cl_swim_event *ev);

/* Virtual boot times map to these wall-clock values in the cores' config
 * (start_ms is meant to be a wall-clock start time). */
#define CL_SIM_EPOCH_MS 1700000000000ull

/* What became of one packet, for a tracer (cl_sim_config.tracer).  A send
 * is reported once, when it is sent: on its way (SENT, with its arrival
 * time; a duplicated datagram twice), or the reason it never left.  Each
 * copy on its way is reported again when it arrives. */
enum cl_sim_fate {
	CL_SIM_SENT = 0,          /* on its way */
	CL_SIM_FED,               /* arrived, read by the receiver's core */
	CL_SIM_HELD,              /* arrived at a paused node, waits */
	CL_SIM_DROP_UNROUTABLE,   /* no node at that address */
	CL_SIM_DROP_DOWN,         /* the receiver crashed, left or moved */
	CL_SIM_DROP_PARTITION,
	CL_SIM_DROP_BLOCK,        /* a one-way block */
	CL_SIM_DROP_LOSS,         /* datagram lost, or a stream gave up */
	CL_SIM_DROP_CORRUPT,      /* damaged, dropped as a checksum would */
	CL_SIM_DROP_STREAM_FAIL,  /* the stream did not connect */
	CL_SIM_DROP_PAUSED,       /* past a paused receiver's buffer */
	CL_SIM_FATE__COUNT
};

const char *cl_sim_fate_name(enum cl_sim_fate f);

typedef struct cl_sim_packet {
	uint64_t id;        /* the send's number: its SENT and arrival share it */
	cl_usec now;
	cl_usec arrives;    /* SENT only */
	uint8_t fate;       /* enum cl_sim_fate */
	bool arrival;       /* a copy arriving, not a send */
	bool stream;
	bool cut;           /* SENT: damaged, cut short (len is what is left) */
	uint32_t from;      /* sender's node number */
	int64_t to;         /* receiver's node number, -1 if unroutable */
	cl_addr from_addr, to_addr;
	const char *label;  /* the sender's cluster label, to decode it with */
	const uint8_t *buf; /* valid during the call only */
	size_t len;
} cl_sim_packet;

/* Called for every packet when set; it must not change the simulation. */
typedef void (*cl_sim_tracer)(void *arg, const cl_sim *sim,
			      const cl_sim_packet *pkt);

/* Defaults are set by cl_sim_config_default() and explained there. */
typedef struct cl_sim_config {
	uint64_t seed;
	uint32_t nodes;              /* all clusters together, >= 1 */
	enum cl_profile profile;     /* timing when timing is NULL */
	const cl_swim_timing *timing;/* overrides the profile; copied */
	cl_usec latency;             /* base one-way datagram delay */
	cl_usec jitter;              /* uniform in [-jitter, +jitter] */
	double loss;                 /* datagram loss probability, 0..1 */
	cl_usec join_spread;         /* node i starts at i*spread/nodes;
					<0 = default (1 ms per node) */
	const char *label;           /* cluster label of cluster 0 */
	/* A second cluster: the last alt_nodes nodes use alt_label, join
	 * through the first of them, and (cross_seed) each cluster's nodes
	 * also get the other cluster's first node as a seed, so the two
	 * exchange packets that the label must keep apart. */
	const char *alt_label;
	uint32_t alt_nodes;
	bool cross_seed;
	size_t max_members;          /* per core, 0 = core default */
	/* The last `spares` nodes do not boot: they are slots for processes
	 * started later (cl_sim_start_twin, cl_sim_restart_ex). */
	uint32_t spares;
	bool no_stream_ping;         /* cores without the stream fallback */
	cl_sim_observer observer;
	void *observer_arg;
	/* Every packet's fate (sim_trace.h prints the chosen nodes'); the
	 * run is the same with or without it. */
	cl_sim_tracer tracer;
	void *tracer_arg;
} cl_sim_config;

void cl_sim_config_default(cl_sim_config *cfg);

/* NULL with *err set (negative CLOISTER_E*) on a bad config or no memory. */
cl_sim *cl_sim_new(const cl_sim_config *cfg, int *err);
void cl_sim_free(cl_sim *sim);

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

cl_usec cl_sim_now(const cl_sim *sim);

/* Processes every event due at or before t, then sets the clock to t. */
void cl_sim_run_until(cl_sim *sim, cl_usec t);

/* Runs until cond() is true (checked before starting and after every
 * event) or the clock reaches limit.  Returns whether cond held; when it
 * did, the clock stays at the event that made it true. */
bool cl_sim_run_until_cond(cl_sim *sim, cl_usec limit,
			   bool (*cond)(void *arg, cl_sim *sim), void *arg);

/* The same with cond = cl_sim_converged(). */
bool cl_sim_run_until_converged(cl_sim *sim, cl_usec limit);

/* True when every node has started and every running node counts exactly
 * the running nodes of its cluster as alive (cl_swim_count), maintained
 * incrementally after each step. */
bool cl_sim_converged(const cl_sim *sim);

/* A fatal simulator error (a core refused its config, out of memory):
 * 0 or a negative CLOISTER_E*.  The run stops making progress after one. */
int cl_sim_error(const cl_sim *sim);

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

enum cl_sim_node_state {
	CL_SIM_PENDING = 0, /* not started yet */
	CL_SIM_UP,          /* running */
	CL_SIM_LEAVING,     /* running, cl_swim_leave() called */
	CL_SIM_LEFT,        /* left gracefully, core freed */
	CL_SIM_CRASHED,     /* crashed, core freed */
	CL_SIM_SUPERSEDED,  /* another live process took its name; the core
			       stopped claiming it and was freed */
};

uint32_t cl_sim_nodes(const cl_sim *sim);
enum cl_sim_node_state cl_sim_node_state(const cl_sim *sim, uint32_t node);
/* The running core, or NULL. */
cl_swim *cl_sim_core(cl_sim *sim, uint32_t node);
const char *cl_sim_node_name(const cl_sim *sim, uint32_t node);
cl_addr cl_sim_node_addr(const cl_sim *sim, uint32_t node);
/* 0, or 1 for the alt_label cluster. */
unsigned cl_sim_node_cluster(const cl_sim *sim, uint32_t node);
/* The incarnation the node's current core was created with. */
uint32_t cl_sim_node_incarnation(const cl_sim *sim, uint32_t node);
/* Node number for a name, or -1. */
int64_t cl_sim_node_index(const cl_sim *sim, const char *name, size_t len);

/* Stops a node dead: its core is freed, packets to it are dropped. */
void cl_sim_crash(cl_sim *sim, uint32_t node);
/* Crashes k random running nodes of cluster 0, never node 0 (the seed);
 * writes their numbers to out (room for k).  Returns how many. */
uint32_t cl_sim_kill_random(cl_sim *sim, uint32_t k, uint32_t *out);
/* Starts a crashed or departed node again now: a new core, the same name,
 * a new address if new_addr, an incarnation above any its old self used,
 * joining through the given nodes (NULL/0 = its cluster's first three
 * running nodes other than itself).  0 or a negative CLOISTER_E*. */
int cl_sim_restart(cl_sim *sim, uint32_t node, bool new_addr,
		   const uint32_t *seeds, size_t n_seeds);
/* Graceful leave: cl_swim_leave() now; the core keeps running until
 * cl_swim_left(), then it is freed. */
void cl_sim_leave(cl_sim *sim, uint32_t node);

/* A restart with more to it than cl_sim_restart(). */
typedef struct cl_sim_restart_opts {
	bool new_addr;
	/* Take over the address of this other node (crashed, left or not
	 * started), -1 for none: address reuse by a different name. */
	int64_t addr_of;
	/* The clock stepped back this many seconds: start time and
	 * incarnation are computed from the earlier clock, and not raised
	 * above the old self's (refutation has to do it). */
	uint32_t clock_back_s;
	/* New tags (NULL: none). */
	const uint8_t *tags;
	size_t tags_len;
	const uint32_t *seeds; /* NULL: the cluster's first running node */
	size_t n_seeds;
} cl_sim_restart_opts;
int cl_sim_restart_ex(cl_sim *sim, uint32_t node, const cl_sim_restart_opts *o);
/* Starts spare slot `spare` (never started) as a second live process with
 * `of`'s name, at an address of its own, started now: two processes, one
 * name.  0 or a negative CLOISTER_E*. */
int cl_sim_start_twin(cl_sim *sim, uint32_t spare, uint32_t of);
/* The node whose name a twin took, or the node itself. */
uint32_t cl_sim_name_owner(const cl_sim *sim, uint32_t node);
/* What an agent's discovery (a sentry's current answer) does for a
 * running node on an island: it joins the running nodes of its cluster
 * (at most 16) outside the island, which is the node and every running
 * node linked to it, step by step, by one holding the other as a live
 * member at its own address.  A node that merely has not yet learned a
 * member its island knows is left to the protocol.  True if it joined. */
bool cl_sim_rediscover(cl_sim *sim, uint32_t node);
/* Running node `node` holds running node `other` as a live member at
 * other's own address: what an agent's discovery checks of each answer
 * before it joins it (node.c, mark_known). */
bool cl_sim_holds_live(const cl_sim *sim, uint32_t node, uint32_t other);

/* ------------------------------------------------------------------ */
/* Network                                                             */
/* ------------------------------------------------------------------ */

void cl_sim_set_loss(cl_sim *sim, double p);
/* Each datagram also arrives a second time (its own delay, so the copies
 * reorder) with probability p. */
void cl_sim_set_dup(cl_sim *sim, double p);
/* Each datagram is damaged with probability p: half of those lose their
 * tail (cut at a random length and delivered: the core's parser must
 * cope), half get a flipped bit (dropped, as the AEAD or the UDP checksum
 * would drop them; cloister's cores never see a forged-by-noise packet). */
void cl_sim_set_corrupt(cl_sim *sim, double p);
/* Streams fail to connect with probability p (lost; the sender is not
 * told, as the core is not by the runtime). */
void cl_sim_set_stream_fail(cl_sim *sim, double p);
/* Loss for datagrams from -> to only; p < 0 removes the override. */
void cl_sim_set_link_loss(cl_sim *sim, uint32_t from, uint32_t to, double p);
/* Two-way partition: group[i] for every node; packets between different
 * groups are dropped, datagrams and streams alike.  NULL heals. */
void cl_sim_partition(cl_sim *sim, const uint8_t *group);
/* One-way block: from -> to dropped while to -> from still flows. */
void cl_sim_block(cl_sim *sim, uint32_t from, uint32_t to, bool blocked);
/* A paused process (SIGSTOP, a long GC, a VM suspended): no timer fires
 * and arriving packets wait (datagrams up to a socket buffer's worth, the
 * rest dropped) until cl_sim_resume() delivers them and its overdue timers
 * fire at once. */
void cl_sim_pause(cl_sim *sim, uint32_t node);
void cl_sim_resume(cl_sim *sim, uint32_t node);
bool cl_sim_paused(const cl_sim *sim, uint32_t node);
/* A slow node: everything addressed to it is handled `delay` later than
 * the network would deliver it (0 = normal).  Its own timers fire on time. */
void cl_sim_set_slow(cl_sim *sim, uint32_t node, cl_usec delay);

/* ------------------------------------------------------------------ */
/* Randomness for scenarios                                            */
/* ------------------------------------------------------------------ */

/* A stream of its own (not the network's, not any node's), for tests and
 * the CLI to pick victims without disturbing the run's other streams. */
uint64_t cl_sim_rand(cl_sim *sim);

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

typedef struct cl_sim_metrics {
	uint32_t nodes;
	uint64_t seed;
	cl_usec now;
	cl_usec converged_at;   /* first time converged, -1 never */
	/* Crash detection: every running node at the time of a crash must
	 * see the crashed node dead (FAIL event, or dead/absent on lookup). */
	uint32_t crashes;       /* cl_sim_crash calls */
	cl_usec first_crash_at; /* -1 none */
	cl_usec detect_all_at;  /* when the last pending observer caught up;
				   -1 while any is pending or no crash */
	uint64_t detect_pending; /* (observer, crashed) pairs not yet seen */
	uint64_t false_positives; /* distinct (observer, node) pairs: FAIL
				     about a node running at that time */
	uint64_t packets, bytes;  /* sent, datagrams and streams */
	uint64_t streams, stream_bytes;
	uint64_t delivered;
	uint64_t drop_loss, drop_partition, drop_block;
	uint64_t drop_down;       /* destination crashed, left, or gone */
	uint64_t drop_unroutable; /* no node at that address */
	uint64_t drop_paused;     /* past a paused node's socket buffer */
	uint64_t dup, cut, drop_corrupt, drop_stream_fail;
	uint64_t ticks, feeds;
	uint64_t events, ev_join, ev_update, ev_leave, ev_fail, ev_reap;
	uint64_t tick_spins;      /* deadline not in the future after tick */
	/* The cores' own counters (drops among them), running and retired
	 * cores summed. */
	cl_swim_stats core;
} cl_sim_metrics;

void cl_sim_get_metrics(const cl_sim *sim, cl_sim_metrics *m);

/* When every observer of that crash saw the node dead, -1 if not yet or
 * the node is not tracked (not crashed, or restarted since). */
cl_usec cl_sim_detect_time(const cl_sim *sim, uint32_t node);
/* Distinct observers that declared this node dead while it was running. */
uint32_t cl_sim_false_positives_about(const cl_sim *sim, uint32_t node);

#endif
