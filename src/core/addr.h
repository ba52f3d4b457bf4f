/*
 * addr.h — a network address as the protocol core sees it.
 *
 * The core never opens a socket, so an address is only a value: a family,
 * 4 or 16 address bytes and a port.  The runtime converts to and from
 * sockaddr; the simulator invents them.
 */
#ifndef CLOISTER_CORE_ADDR_H
#define CLOISTER_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CL_AF_NONE = 0,
	CL_AF_INET4 = 4,
	CL_AF_INET6 = 6,
};

typedef struct cl_addr {
	uint8_t family; /* CL_AF_* */
	uint16_t port;  /* host byte order */
	uint8_t ip[16]; /* first 4 bytes used for CL_AF_INET4, rest zero */
} cl_addr;

/* Longest text cl_addr_format() writes, with the NUL: "[v6]:port". */
#define CL_ADDR_STRLEN 56

static inline bool cl_addr_equal(const cl_addr *a, const cl_addr *b)
{
	if (a->family != b->family || a->port != b->port)
		return false;
	size_t n = a->family == CL_AF_INET6 ? 16 : 4;
	for (size_t i = 0; i < n; i++)
		if (a->ip[i] != b->ip[i])
			return false;
	return true;
}

static inline cl_addr cl_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
				 uint16_t port)
{
	cl_addr r = {.family = CL_AF_INET4, .port = port};
	r.ip[0] = a;
	r.ip[1] = b;
	r.ip[2] = c;
	r.ip[3] = d;
	return r;
}

/* "1.2.3.4:7946" or "[::1]:7946"; returns buf. */
char *cl_addr_format(const cl_addr *a, char *buf, size_t size);

/* Parses the forms cl_addr_format writes (and "host" alone when
 * default_port != 0).  Numeric only: no name resolution here.
 * Returns 0 or a negative CLOISTER_E* code. */
int cl_addr_parse(const char *text, uint16_t default_port, cl_addr *out);

/* Splits "HOST:PORT" or "[V6]:PORT" (hosts may be names) at the last
 * colon: *host points at the host without brackets, *host_len bytes long
 * (not NUL-terminated), *port at the text after the colon, which the
 * caller validates.  false without a colon or with an empty host. */
bool cl_split_host_port(const char *spec, const char **host, size_t *host_len,
			const char **port);

#endif
