/*
 * cluster.h — Cloister's semantics over the membership core: the status
 * machine, consensus, hash rings and the sentry.
 *
 * A cl_cluster watches one cl_swim core.  Its owner passes it every member
 * event the core emitted during a protocol step (cl_cluster_apply), then
 * calls cl_cluster_settle() once: that is where rings are rebuilt, the
 * sentry is recomputed and status transitions happen (with coalescing on,
 * a settle during churn may be put off to cl_cluster_next_deadline()).  Everything the
 * listener should hear is queued, in causal order (the member events of the
 * step first, then the transitions they caused, then a sentry change), and
 * taken out with cl_cluster_next_event() after the step, never from inside
 * protocol processing.
 *
 * Status machine (Cloister's):
 *
 *   down -> assembling -> rehashing -> ready
 *   ready -> rehashing        membership changed, or quorum lost
 *   rehashing -> ready        ring rebuilt and quorum held
 *   any -> stopping -> stopped   graceful leave, or our name taken by a
 *                                newer live process (no leave announced)
 *
 * Quorum: at least `consensus` live members (alive or suspect, self
 * included) and, with majority:N, more than N/2 of them.  Suspects count:
 * a suspicion is an open question, and stepping down on every suspicion
 * would turn one lost packet into a cluster-wide rehash.
 *
 * Rings: the default ring (name "") holds every live member; a member
 * whose `groups` tag lists names (comma separated) is also on each of
 * those rings.  A `weight` tag (1..64) multiplies its virtual nodes.
 * Suspects stay on the rings; dead and left members leave them.
 *
 * Sentry: the live member with the earliest start time, name breaking
 * ties.  A joiner started later than the sentry cannot displace it; the
 * caveat is clock skew between hosts, which only matters if it exceeds the
 * age difference of the two oldest members.
 *
 * No I/O, no clock, no threads; not thread-safe.
 */
#ifndef CLOISTER_CORE_CLUSTER_H
#define CLOISTER_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"
#include "ring.h"
#include "swim.h"

typedef struct cl_cluster cl_cluster;

#define CL_RING_GROUPS_TAG "groups"
#define CL_RING_WEIGHT_TAG "weight"
#define CL_RING_WEIGHT_MAX 64
#define CL_RINGS_MAX 32
/* Groups of one member honoured by default: a member listing more is put
 * on the first 8 only. */
#define CL_RING_GROUPS_DEFAULT 8
/* Points on all rings together, by default: 2^22 (about 50 MB of ring
 * arrays at worst, and a rebuild of under a second): 32,768 members on the
 * default ring at 128 vnodes, or 500 members on 8 rings at weight 8.  A
 * member that would pass it is left off the ring and counted
 * (cl_cluster_ring_refusals), never allowed to exhaust memory; a larger
 * cluster raises it (cl_cluster_config.max_points). */
#define CL_RING_POINTS_DEFAULT (1u << 22)

typedef struct cl_cluster_config {
	unsigned consensus;   /* >= 1 */
	unsigned majority_of; /* 0, or N: quorum needs > N/2 live */
	enum cl_ring_algorithm ring_algorithm;
	unsigned vnodes;      /* 0 = CL_RING_DEFAULT_VNODES */
	unsigned max_weight;  /* 0 = CL_RING_WEIGHT_MAX; heavier is cut to it */
	unsigned max_groups;  /* 0 = CL_RING_GROUPS_DEFAULT, <= CL_RINGS_MAX-1 */
	size_t max_points;    /* 0 = CL_RING_POINTS_DEFAULT, all rings */
	/* Quorum and sentry count only members the core heard from directly
	 * (cl_swim_member_view.heard): a member known by hearsay alone, which
	 * a key holder can invent, neither makes the cluster ready nor
	 * becomes sentry.  The runtime sets it. */
	bool require_heard;
} cl_cluster_config;

/* Parses "3" or "majority:5".  0 or CLOISTER_EINVAL. */
int cl_consensus_parse(const char *text, cl_cluster_config *cfg);

enum cl_cluster_event_type {
	CL_CEV_STATE = 1, /* from -> to */
	CL_CEV_MEMBER,    /* member event: member.type is the cl_swim type */
	CL_CEV_SENTRY,    /* sentry changed: name (empty: none) */
};

typedef struct cl_cluster_event {
	uint8_t type;
	cloister_state from, to;   /* CL_CEV_STATE */
	cl_swim_event member;      /* CL_CEV_MEMBER; name for CL_CEV_SENTRY */
} cl_cluster_event;

cl_cluster *cl_cluster_new(const cl_cluster_config *cfg, cl_swim *core,
			   int *err);
void cl_cluster_free(cl_cluster *c);

/* down -> assembling (then whatever quorum allows at the next settle). */
void cl_cluster_start(cl_cluster *c);
/* any -> stopping; cl_cluster_settle() moves to stopped once the core has
 * left. */
void cl_cluster_stop(cl_cluster *c);

void cl_cluster_apply(cl_cluster *c, const cl_swim_event *ev);
/* now: the owner's clock, read only while coalescing. */
void cl_cluster_settle(cl_cluster *c, cl_usec now);
/* Coalescing (off until set; see cluster.c, "Coalescing"): while
 * membership churns, settle at most once per interval, so rings and
 * sentry trail the member table by up to that interval (at most 3 s).
 * Only for an owner whose clock is steady and who calls
 * cl_cluster_settle() again at cl_cluster_next_deadline(). */
void cl_cluster_set_coalesce(cl_cluster *c, bool on);
/* When a settle put off by coalescing is due; INT64_MAX if none waits. */
cl_usec cl_cluster_next_deadline(const cl_cluster *c);
bool cl_cluster_next_event(cl_cluster *c, cl_cluster_event *ev);

cloister_state cl_cluster_state(const cl_cluster *c);
size_t cl_cluster_live(const cl_cluster *c);
/* The live members that count for quorum (all, or those heard from). */
size_t cl_cluster_counted(const cl_cluster *c);
bool cl_cluster_quorum(const cl_cluster *c);
/* The sentry's name, "" while none; valid until the next settle. */
const char *cl_cluster_sentry(const cl_cluster *c);
/* Once another live process has taken our name (the core's
 * CL_EV_SUPERSEDED; the node is then stopped for good): that process's
 * address, start time and incarnation.  NULL otherwise. */
const cl_swim_event *cl_cluster_superseded(const cl_cluster *c);

/* A ring by name ("" or NULL: the default ring); NULL if no member is in
 * such a group. */
const cl_ring *cl_cluster_ring(const cl_cluster *c, const char *name);
size_t cl_cluster_ring_count(const cl_cluster *c);
/* Ring placements refused for the points budget, since creation. */
uint64_t cl_cluster_ring_refusals(const cl_cluster *c);
/* The i-th ring's name (the default ring is 0, named ""). */
const char *cl_cluster_ring_name(const cl_cluster *c, size_t i);

#endif
