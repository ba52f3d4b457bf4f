/*
 * discovery.h — resolving the sentry setting into peer addresses, on a
 * background thread.
 *
 * Resolution blocks (getaddrinfo, res_nquery), so it runs on a thread of
 * its own that resolves at once and then every interval, or sooner when
 * asked.  DNS names go through getaddrinfo (AF_UNSPEC, SOCK_DGRAM), which
 * honours /etc/hosts, nsswitch and the resolver configuration (and so
 * /etc/netns/NS/resolv.conf under `ip netns exec`); SRV names through
 * res_nquery and cl_dns_parse_answer, then getaddrinfo of each target.
 *
 * Each round ends with one callback carrying the peers found (sorted,
 * deduplicated) and an outcome.  A failing name does not hide the others:
 * the peers that did resolve are delivered with the failure.  `changed`
 * says the outcome differs from the previous round's, so the caller logs
 * "no such name" once when it starts and once when it ends, not at every
 * retry.
 */
#ifndef CLOISTER_RUNTIME_DISCOVERY_H
#define CLOISTER_RUNTIME_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/swim.h"
#include "runtime/sentry_spec.h"

/* Bound on the peers one round delivers (more are dropped): generous for
 * seeds, and it bounds the thread's memory. */
#define CL_DISCOVERY_MAX_PEERS 1024
/* Bound on SRV records read per round. */
#define CL_DISCOVERY_MAX_SRV 256
#define CL_DISCOVERY_DETAIL_MAX 400

typedef enum cl_discovery_status {
	CL_DISCOVERY_OK = 0,
	/* A name does not exist, or has no records of the type asked. */
	CL_DISCOVERY_NXDOMAIN,
	/* No answer in time, or the server said "try again" (SERVFAIL, and
	 * REFUSED from a server with nowhere to forward). */
	CL_DISCOVERY_TIMEOUT,
	/* Anything else: server failure, malformed answer, no memory. */
	CL_DISCOVERY_ERROR,
} cl_discovery_status;

typedef struct cl_discovery_result {
	/* The first failure in the order of the setting, or OK. */
	cl_discovery_status status;
	/* "" when OK, else e.g. "svc.cluster.test: no such name" (with
	 * "(and 2 more)" when several names failed). */
	const char *detail;
	/* status or detail differs from the previous round (true on the
	 * first round). */
	bool changed;
	/* The peer list differs from the previous round (true on the first
	 * round). */
	bool peers_changed;
	/* Sorted by family, address, port; no duplicate addresses. */
	const cl_addr *peers;
	/* nodes[i]: the node name a "name@host" entry expects at peers[i],
	 * or "". */
	const char *const *nodes;
	size_t n_peers;
	/* 1 for the first round, then counting. */
	uint64_t round;
} cl_discovery_result;

/* Called on the discovery thread after each round, with no lock held;
 * r and everything it points to is valid during the call only.  It may
 * call cl_discovery_refresh(), and cl_discovery_free() on its own handle
 * (the thread then ends after the callback returns). */
typedef void (*cl_discovery_cb)(void *arg, const cl_discovery_result *r);

typedef struct cl_discovery cl_discovery;

/*
 * Copies spec and starts the thread, which resolves now and then every
 * interval (> 0; 5 * CL_SEC is a good period).  NULL on a bad argument or
 * when out of memory or threads.
 */
cl_discovery *cl_discovery_new(const cl_sentry_spec *spec, cl_usec interval,
			       cl_discovery_cb on_result, void *arg);

/* Asks for a new round now (or right after the running one). */
void cl_discovery_refresh(cl_discovery *d);

/*
 * Stops the thread and joins it.  It does not wait out the interval; a
 * lookup already in progress cannot be interrupted and is waited for
 * (bounded by the resolver's timeout and attempts).  No callback runs
 * after it returns.  NULL is ignored.
 */
void cl_discovery_free(cl_discovery *d);

/* "ok", "nxdomain", "timeout", "error". */
const char *cl_discovery_status_name(cl_discovery_status s);

#endif
