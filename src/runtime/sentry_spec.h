/*
 * sentry_spec.h — the `sentry` setting: how a node finds its first peers.
 *
 *   "" or "none"                 no discovery
 *   "dns:NAME" or "dns:NAME:PORT"  every A and AAAA answer for NAME is a
 *                                peer, at PORT or the default port
 *   NAME                         the same, when NAME is a DNS name (and
 *                                not an address)
 *   "srv:_service._proto.NAME"   SRV records give each peer's host and
 *                                port; A/AAAA of each target give addresses
 *   ENTRY[,ENTRY...]             static peers, up to 256, each one of
 *                                  name@host[:port]   an expected node
 *                                  host:port          host: an IPv4
 *                                  [v6]:port          address, [IPv6] or
 *                                  host               a DNS name
 *
 * "dns:" and "srv:" are always the scheme, never a host called "dns"; use
 * "dns:dns:53"-style spelling if such a host were ever needed.  A bare
 * address ("10.0.0.5", "::1") is a one-entry list at the default port.
 * Entries are trimmed of spaces and tabs; empty entries are errors, not
 * skipped, because "a,,b" is far more likely a typo than an intent.
 *
 * Parsing is pure: no resolution, no I/O.
 */
#ifndef CLOISTER_RUNTIME_SENTRY_SPEC_H
#define CLOISTER_RUNTIME_SENTRY_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloister.h"
#include "core/addr.h"
#include "runtime/dns.h"

/* Bound on list entries: a static seed list, not a membership table. */
#define CL_SENTRY_MAX_ENTRIES 256
/* Bound on the whole setting's text, which keeps the parser's work linear
 * in something small whatever it is handed. */
#define CL_SENTRY_TEXT_MAX (CL_SENTRY_MAX_ENTRIES * 520)

typedef enum cl_sentry_kind {
	CL_SENTRY_NONE = 0,
	CL_SENTRY_DNS,
	CL_SENTRY_SRV,
	CL_SENTRY_LIST,
} cl_sentry_kind;

typedef struct cl_sentry_peer {
	/* The node name a "name@host" entry expects to find there, in the
	 * "app@host" form node names take (host without brackets or port);
	 * "" when the entry gave none. */
	char node[CLOISTER_NAME_MAX + 1];
	/* A DNS name to resolve, or "" when the host is a numeric address. */
	char host[CL_DNS_NAME_BUF];
	/* The address when numeric (family CL_AF_NONE otherwise); the port
	 * in every case. */
	cl_addr addr;
} cl_sentry_peer;

typedef struct cl_sentry_spec {
	cl_sentry_kind kind;
	/* DNS: the name to resolve; SRV: the record name. */
	char name[CL_DNS_NAME_BUF];
	/* DNS: the port of every answer. */
	uint16_t port;
	/* LIST: n_peers entries, heap-allocated (cl_sentry_spec_free). */
	cl_sentry_peer *peers;
	size_t n_peers;
} cl_sentry_spec;

/*
 * Parses text into *out.  default_port (0: none) applies where an entry
 * gives no port; without one such entries are errors.  Returns 0;
 * CLOISTER_EINVAL with the reason in why (e.g. "entry 3 \"a:0\": port must
 * be 1..65535"); or CLOISTER_ENOMEM.  On error *out is left empty
 * (CL_SENTRY_NONE, no peers); on success release it with
 * cl_sentry_spec_free().  why may be NULL.
 */
int cl_sentry_parse(const char *text, uint16_t default_port,
		    cl_sentry_spec *out, char *why, size_t whylen);

/* Deep copy into *dst (which is overwritten, not freed): 0 or ENOMEM. */
int cl_sentry_spec_copy(cl_sentry_spec *dst, const cl_sentry_spec *src);

/* Releases the peers and resets *spec to CL_SENTRY_NONE. */
void cl_sentry_spec_free(cl_sentry_spec *spec);

/* "none", "dns", "srv", "list". */
const char *cl_sentry_kind_name(cl_sentry_kind kind);

/* Whether text (length len) is a DNS name this parser accepts: labels of
 * letters, digits, '-' and '_', 1..63 each, no label starting or ending
 * with '-', the last label not all digits (so "10.0.0" is not a name),
 * at most 253 characters, one optional trailing dot.  Exposed for the
 * naming code, which checks host names the same way. */
bool cl_dns_name_valid(const char *text, size_t len);

#endif
