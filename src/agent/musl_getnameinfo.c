/*
 * musl_getnameinfo.c — getnameinfo() for the static musl binary (`make
 * static`), where the C library's own refuses AF_UNIX.
 *
 * Why: libevent's HTTP server names every accepted connection with
 * getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV) and, when that fails,
 * calls event_errx(), which exits the process.  glibc answers for a Unix
 * socket's address; musl says EAI_FAMILY.  So the first client of the
 * agent's Unix socket (--ctl) ended a musl-built agent.  Nothing in this
 * program asks getnameinfo() for names (libevent asks for numbers, and the
 * runtime resolves with its own DNS client), so this one gives numbers
 * only: a numeric host (AF_INET, AF_INET6 with its scope) or "localhost"
 * for AF_UNIX, and a numeric port.  Linked ahead of the C library's, it
 * replaces it; on glibc this file compiles to nothing.
 */
#include <features.h>

#ifndef __GLIBC__

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static int put(char *dst, socklen_t cap, const char *src)
{
	size_t n = strlen(src);
	if (!dst || cap == 0)
		return 0; /* not asked for */
	if (n >= cap)
		return EAI_OVERFLOW;
	memcpy(dst, src, n + 1);
	return 0;
}

int getnameinfo(const struct sockaddr *restrict sa, socklen_t salen,
		char *restrict host, socklen_t hostlen, char *restrict serv,
		socklen_t servlen, int flags)
{
	char h[INET6_ADDRSTRLEN + 16] = "", s[8] = "0";
	if (!sa)
		return EAI_FAIL;
	if (flags & NI_NAMEREQD)
		return EAI_NONAME; /* names are never looked up here */
	switch (sa->sa_family) {
	case AF_UNIX:
		snprintf(h, sizeof h, "localhost");
		break;
	case AF_INET: {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		if (salen < sizeof *a ||
		    !inet_ntop(AF_INET, &a->sin_addr, h, sizeof h))
			return EAI_FAMILY;
		snprintf(s, sizeof s, "%u", (unsigned)ntohs(a->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		if (salen < sizeof *a ||
		    !inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h))
			return EAI_FAMILY;
		if (a->sin6_scope_id) {
			size_t n = strlen(h);
			snprintf(h + n, sizeof h - n, "%%%u",
				 (unsigned)a->sin6_scope_id);
		}
		snprintf(s, sizeof s, "%u", (unsigned)ntohs(a->sin6_port));
		break;
	}
	default:
		return EAI_FAMILY;
	}
	int e = put(host, hostlen, h);
	return e ? e : put(serv, servlen, s);
}

#endif
