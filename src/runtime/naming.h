/*
 * naming.h — choosing this node's name and the address it advertises.
 *
 * Cloister's modes:
 *   nonode      "APP@nohost": no network
 *   shortnames  "APP@HOST", HOST the host name up to its first dot
 *   longnames   "APP@FQDN" (the canonical name of the host name), or
 *               "APP@IP" when the host has no domain
 *   auto        "APP@IP"
 *
 * Every mode but nonode also picks the address: one of this host's
 * interface addresses that appears among the sentry's answers if there
 * are any (the address the other nodes will find this one at), else the
 * first non-loopback IPv4 address, else a non-loopback, non-link-local
 * IPv6 one, else an IPv4 link-local one, else loopback.  IPv6 link-local
 * addresses are never chosen by preference: peers would need a scope id
 * to reach them.
 *
 * The choice itself (cl_naming_pick, cl_naming_compose) is pure, so tests
 * feed it invented interfaces and host names; cl_naming_choose gathers
 * the real ones (gethostname, getaddrinfo, getifaddrs) and calls them.
 */
#ifndef CLOISTER_RUNTIME_NAMING_H
#define CLOISTER_RUNTIME_NAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/addr.h"

typedef enum cl_naming_mode {
	CL_NAMING_AUTO = 0,
	CL_NAMING_NONODE,
	CL_NAMING_SHORTNAMES,
	CL_NAMING_LONGNAMES,
} cl_naming_mode;

/* Bound on interface addresses considered. */
#define CL_NAMING_MAX_IFACES 256
#define CL_NAMING_IFNAME_MAX 32

typedef struct cl_naming_iface {
	char name[CL_NAMING_IFNAME_MAX]; /* "eth0" */
	cl_addr addr;                    /* port ignored */
	bool loopback;                   /* a loopback interface */
} cl_naming_iface;

/*
 * Picks among ifs[0..n_ifs) (in that order of preference within a rank)
 * as described above, comparing family and address bytes with answers
 * (ports ignored).  Returns the index chosen, or -1 when there is no
 * usable address; why explains either way ("address 10.1.2.3 of eth0 is
 * among the sentry answers").  why may be NULL.
 */
int cl_naming_pick(const cl_naming_iface *ifs, size_t n_ifs,
		   const cl_addr *answers, size_t n_answers, char *why,
		   size_t whylen);

/*
 * Writes the name for mode from the given facts: hostname (for
 * shortnames), fqdn (canonical name, for longnames; NULL or without a dot
 * means none) and addr (for auto, and longnames without an FQDN).
 * Returns 0; CLOISTER_EINVAL for an empty app or one holding '@', or a
 * missing fact; CLOISTER_ENOSPC when the name does not fit namelen or
 * CLOISTER_NAME_MAX.  why tells what was used.
 */
int cl_naming_compose(cl_naming_mode mode, const char *app,
		      const char *hostname, const char *fqdn,
		      const cl_addr *addr, char *name, size_t namelen,
		      char *why, size_t whylen);

/* This host's addresses, from getifaddrs: interfaces that are up, IPv4
 * and IPv6, in the kernel's order.  0 or CLOISTER_EIO. */
int cl_naming_local_ifaces(cl_naming_iface *out, size_t max, size_t *n);

/*
 * The whole choice for this host.  sentry_answers (n of them, may be 0)
 * are the discovery results.  *chosen_addr gets the chosen address; its
 * port is kept (nonode leaves it untouched).  When the host reports no
 * usable interface address, auto falls back to 127.0.0.1.  Returns 0 or a
 * negative CLOISTER_E* code, with why filled either way.
 */
int cl_naming_choose(cl_naming_mode mode, const char *app,
		     const cl_addr *sentry_answers, size_t n,
		     cl_addr *chosen_addr, char *name, size_t namelen,
		     char *why, size_t whylen);

/* "auto", "nonode", "shortnames", "longnames": 0 or CLOISTER_EINVAL. */
int cl_naming_mode_parse(const char *text, cl_naming_mode *out);
const char *cl_naming_mode_name(cl_naming_mode mode);

#endif
