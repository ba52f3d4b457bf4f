/* naming.c — this node's name and address (see naming.h). */
#include "naming.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cloister.h"
#include "runtime/why.h"
#include "runtime/sentry_spec.h"

#define HOST_MAX 256


/* The address alone, as a node name carries it: "10.1.2.3", "fd00::2". */
static void ip_text(const cl_addr *a, char *buf, size_t size)
{
	if (!inet_ntop(a->family == CL_AF_INET6 ? AF_INET6 : AF_INET, a->ip,
		       buf, (socklen_t)size))
		snprintf(buf, size, "-");
}

static bool is_loopback(const cl_addr *a)
{
	static const uint8_t v6_loop[16] = {[15] = 1};

	if (a->family == CL_AF_INET4)
		return a->ip[0] == 127;
	return a->family == CL_AF_INET6 && !memcmp(a->ip, v6_loop, 16);
}

enum rank {
	RANK_V4 = 0,
	RANK_V6,
	RANK_V4_LINK,
	RANK_V4_LOOP,
	RANK_V6_LOOP,
	RANK_NONE, /* never chosen by preference */
};

static const char *const rank_text[] = {
	[RANK_V4] = "the first non-loopback IPv4 address",
	[RANK_V6] = "the first non-loopback IPv6 address (no IPv4 one)",
	[RANK_V4_LINK] = "the first IPv4 link-local address (no other)",
	[RANK_V4_LOOP] = "a loopback address (no other)",
	[RANK_V6_LOOP] = "a loopback address (no other)",
};

static enum rank rank_of(const cl_naming_iface *f)
{
	const cl_addr *a = &f->addr;
	bool loop = f->loopback || is_loopback(a);

	if (a->family == CL_AF_INET4) {
		if (loop)
			return RANK_V4_LOOP;
		if (a->ip[0] == 169 && a->ip[1] == 254)
			return RANK_V4_LINK;
		return RANK_V4;
	}
	if (a->family == CL_AF_INET6) {
		if (loop)
			return RANK_V6_LOOP;
		if (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80)
			return RANK_NONE;
		return RANK_V6;
	}
	return RANK_NONE;
}

static bool same_ip(const cl_addr *a, const cl_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->ip, b->ip, a->family == CL_AF_INET6 ? 16 : 4);
}

int cl_naming_pick(const cl_naming_iface *ifs, size_t n_ifs,
		   const cl_addr *answers, size_t n_answers, char *why,
		   size_t whylen)
{
	char ip[INET6_ADDRSTRLEN];
	int best = -1;
	enum rank best_rank = RANK_NONE;

	if (!ifs)
		n_ifs = 0;
	if (!answers)
		n_answers = 0;
	for (size_t i = 0; i < n_ifs; i++) {
		if (ifs[i].addr.family != CL_AF_INET4 &&
		    ifs[i].addr.family != CL_AF_INET6)
			continue;
		for (size_t j = 0; j < n_answers; j++) {
			if (same_ip(&ifs[i].addr, &answers[j])) {
				ip_text(&ifs[i].addr, ip, sizeof ip);
				cl_why(why, whylen,
				    "address %s of %s is among the sentry "
				    "answers",
				    ip, ifs[i].name);
				return (int)i;
			}
		}
	}
	for (size_t i = 0; i < n_ifs; i++) {
		enum rank r = rank_of(&ifs[i]);
		if (r < best_rank) {
			best_rank = r;
			best = (int)i;
		}
	}
	if (best < 0) {
		cl_why(why, whylen, "no usable interface address%s",
		    n_answers ? " (and none among the sentry answers)" : "");
		return -1;
	}
	ip_text(&ifs[best].addr, ip, sizeof ip);
	cl_why(why, whylen, "%saddress %s of %s is %s",
	    n_answers ? "none of this host's addresses is among the sentry "
			"answers; "
		      : "",
	    ip, ifs[best].name, rank_text[best_rank]);
	return best;
}

static bool app_ok(const char *app)
{
	return app && app[0] && !strchr(app, '@');
}

/* Letters, digits, '-' and '_': what a host name label may hold. */
static bool label_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int put_name(char *name, size_t namelen, const char *app,
		    const char *host, size_t hlen, char *why, size_t whylen)
{
	size_t alen = strlen(app), total = alen + 1 + hlen;

	if (total > CLOISTER_NAME_MAX || total >= namelen) {
		cl_why(why, whylen, "the name %s@%.*s does not fit", app,
		    (int)(hlen > 64 ? 64 : hlen), host);
		return CLOISTER_ENOSPC;
	}
	memcpy(name, app, alen);
	name[alen] = '@';
	memcpy(name + alen + 1, host, hlen);
	name[total] = '\0';
	return 0;
}

int cl_naming_compose(cl_naming_mode mode, const char *app,
		      const char *hostname, const char *fqdn,
		      const cl_addr *addr, char *name, size_t namelen,
		      char *why, size_t whylen)
{
	char ip[INET6_ADDRSTRLEN];
	size_t flen;

	if (!name || namelen == 0) {
		cl_why(why, whylen, "no room for the name");
		return CLOISTER_EINVAL;
	}
	name[0] = '\0';
	if (!app_ok(app)) {
		cl_why(why, whylen, "the app name must be non-empty, without '@'");
		return CLOISTER_EINVAL;
	}
	switch (mode) {
	case CL_NAMING_NONODE:
		cl_why(why, whylen, "nonode: no network");
		return put_name(name, namelen, app, "nohost", 6, why, whylen);
	case CL_NAMING_SHORTNAMES: {
		size_t hlen;
		if (!hostname || !hostname[0]) {
			cl_why(why, whylen, "shortnames: this host has no name");
			return CLOISTER_EINVAL;
		}
		hlen = strcspn(hostname, ".");
		if (!label_ok(hostname, hlen)) {
			cl_why(why, whylen,
			    "shortnames: host name \"%.64s\" is not usable "
			    "in a node name",
			    hostname);
			return CLOISTER_EINVAL;
		}
		cl_why(why, whylen, "shortnames: host name %.*s", (int)hlen,
		    hostname);
		return put_name(name, namelen, app, hostname, hlen, why,
				whylen);
	}
	case CL_NAMING_LONGNAMES:
		flen = fqdn ? strlen(fqdn) : 0;
		if (flen && fqdn[flen - 1] == '.')
			flen--;
		if (flen && memchr(fqdn, '.', flen) &&
		    cl_dns_name_valid(fqdn, flen)) {
			cl_why(why, whylen, "longnames: canonical name %.*s",
			    (int)flen, fqdn);
			return put_name(name, namelen, app, fqdn, flen, why,
					whylen);
		}
		if (!addr || (addr->family != CL_AF_INET4 &&
			      addr->family != CL_AF_INET6)) {
			cl_why(why, whylen,
			    "longnames: no domain name and no address");
			return CLOISTER_EINVAL;
		}
		ip_text(addr, ip, sizeof ip);
		cl_why(why, whylen,
		    "longnames: host name \"%.64s\" has no domain, so the "
		    "name carries address %s",
		    hostname ? hostname : "", ip);
		return put_name(name, namelen, app, ip, strlen(ip), why,
				whylen);
	case CL_NAMING_AUTO:
		if (!addr || (addr->family != CL_AF_INET4 &&
			      addr->family != CL_AF_INET6)) {
			cl_why(why, whylen, "auto: no address");
			return CLOISTER_EINVAL;
		}
		ip_text(addr, ip, sizeof ip);
		cl_why(why, whylen, "auto: address %s", ip);
		return put_name(name, namelen, app, ip, strlen(ip), why,
				whylen);
	}
	cl_why(why, whylen, "unknown naming mode");
	return CLOISTER_EINVAL;
}

int cl_naming_local_ifaces(cl_naming_iface *out, size_t max, size_t *n)
{
	struct ifaddrs *list, *ifa;

	*n = 0;
	if (getifaddrs(&list) != 0)
		return CLOISTER_EIO;
	for (ifa = list; ifa && *n < max; ifa = ifa->ifa_next) {
		cl_naming_iface f;
		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP))
			continue;
		memset(&f, 0, sizeof f);
		if (ifa->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin =
				(const struct sockaddr_in *)ifa->ifa_addr;
			f.addr.family = CL_AF_INET4;
			memcpy(f.addr.ip, &sin->sin_addr, 4);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
				(const struct sockaddr_in6 *)ifa->ifa_addr;
			f.addr.family = CL_AF_INET6;
			memcpy(f.addr.ip, &sin6->sin6_addr, 16);
		} else {
			continue;
		}
		snprintf(f.name, sizeof f.name, "%s",
			 ifa->ifa_name ? ifa->ifa_name : "?");
		f.loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
		out[(*n)++] = f;
	}
	freeifaddrs(list);
	return 0;
}

/* The canonical name of host, or "" (no resolver answer, or no domain). */
static void canonical_name(const char *host, char *out, size_t size)
{
	struct addrinfo hints, *res = NULL;

	out[0] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return;
	if (res && res->ai_canonname)
		snprintf(out, size, "%s", res->ai_canonname);
	freeaddrinfo(res);
}

int cl_naming_choose(cl_naming_mode mode, const char *app,
		     const cl_addr *sentry_answers, size_t n,
		     cl_addr *chosen_addr, char *name, size_t namelen,
		     char *why, size_t whylen)
{
	cl_naming_iface ifs[CL_NAMING_MAX_IFACES];
	char host[HOST_MAX] = "", fqdn[HOST_MAX] = "";
	char pick_why[256], name_why[320];
	size_t n_ifs = 0;
	cl_addr a;
	int idx, rc;

	if (mode == CL_NAMING_NONODE)
		return cl_naming_compose(mode, app, NULL, NULL, NULL, name,
					 namelen, why, whylen);
	if (!chosen_addr) {
		cl_why(why, whylen, "no address to fill");
		return CLOISTER_EINVAL;
	}
	if (cl_naming_local_ifaces(ifs, CL_NAMING_MAX_IFACES, &n_ifs) != 0)
		n_ifs = 0;
	idx = cl_naming_pick(ifs, n_ifs, sentry_answers, n, pick_why,
			     sizeof pick_why);
	if (idx >= 0) {
		a = ifs[idx].addr;
	} else {
		a = cl_addr_v4(127, 0, 0, 1, 0);
		snprintf(pick_why, sizeof pick_why,
			 "no usable interface address; using 127.0.0.1");
	}
	a.port = chosen_addr->port;

	if (mode == CL_NAMING_SHORTNAMES || mode == CL_NAMING_LONGNAMES) {
		if (gethostname(host, sizeof host - 1) != 0)
			host[0] = '\0';
		host[sizeof host - 1] = '\0';
		if (mode == CL_NAMING_LONGNAMES && host[0])
			canonical_name(host, fqdn, sizeof fqdn);
	}
	rc = cl_naming_compose(mode, app, host, fqdn, &a, name, namelen,
			       name_why, sizeof name_why);
	if (rc != 0) {
		cl_why(why, whylen, "%s", name_why);
		return rc;
	}
	if (mode == CL_NAMING_AUTO)
		cl_why(why, whylen, "%s", pick_why);
	else
		cl_why(why, whylen, "%s; %s", name_why, pick_why);
	*chosen_addr = a;
	return 0;
}

int cl_naming_mode_parse(const char *text, cl_naming_mode *out)
{
	static const cl_naming_mode modes[] = {
		CL_NAMING_AUTO, CL_NAMING_NONODE, CL_NAMING_SHORTNAMES,
		CL_NAMING_LONGNAMES};

	if (!text || !out)
		return CLOISTER_EINVAL;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (!strcmp(text, cl_naming_mode_name(modes[i]))) {
			*out = modes[i];
			return 0;
		}
	return CLOISTER_EINVAL;
}

const char *cl_naming_mode_name(cl_naming_mode mode)
{
	switch (mode) {
	case CL_NAMING_AUTO:
		return "auto";
	case CL_NAMING_NONODE:
		return "nonode";
	case CL_NAMING_SHORTNAMES:
		return "shortnames";
	case CL_NAMING_LONGNAMES:
		return "longnames";
	}
	return "?";
}
