/* addr.c — numeric address text: "1.2.3.4:7946" and "[::1]:7946". */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cloister.h"

static char *put_decimal(char *p, unsigned v)
{
	char d[5];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 5);
	while (n)
		*p++ = d[--n];
	return p;
}

/* IPv4 without printf: every member listing and member event formats one
 * per member (snprintf was most of /v1/members' cost at 1,000 members). */
char *cl_addr_format(const cl_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (size == 0)
		return buf;
	if (a->family == CL_AF_INET4) {
		char t[sizeof "255.255.255.255:65535"], *p = t;
		for (int i = 0; i < 4; i++) {
			p = put_decimal(p, a->ip[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		p = put_decimal(p, a->port);
		size_t n = (size_t)(p - t);
		if (n >= size)
			n = size - 1; /* truncated as snprintf would */
		memcpy(buf, t, n);
		buf[n] = '\0';
	} else if (a->family == CL_AF_INET6 &&
		   inet_ntop(AF_INET6, a->ip, ip, sizeof(ip))) {
		snprintf(buf, size, "[%s]:%u", ip, a->port);
	} else {
		snprintf(buf, size, "-");
	}
	return buf;
}

/* Decimal 1..65535, digits only: strtoul would take signs and spaces. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 5)
			return CLOISTER_EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v == 0 || v > 65535)
		return CLOISTER_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int cl_addr_parse(const char *text, uint16_t default_port, cl_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_text = NULL, *h, *colon;
	size_t hlen;
	cl_addr a = {0};

	if (!text || !out)
		return CLOISTER_EINVAL;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close)
			return CLOISTER_EINVAL;
		h = text + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return CLOISTER_EINVAL;
		a.family = CL_AF_INET6;
	} else if ((colon = strchr(text, ':')) && strchr(colon + 1, ':')) {
		/* Two colons: a bare IPv6 address, which cannot carry a
		 * port without brackets. */
		h = text;
		hlen = strlen(text);
		a.family = CL_AF_INET6;
	} else {
		h = text;
		hlen = colon ? (size_t)(colon - text) : strlen(text);
		if (colon)
			port_text = colon + 1;
		a.family = CL_AF_INET4;
	}

	if (hlen == 0 || hlen >= sizeof(host))
		return CLOISTER_EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(a.family == CL_AF_INET6 ? AF_INET6 : AF_INET, host,
		      a.ip) != 1)
		return CLOISTER_EINVAL;

	if (port_text) {
		if (parse_port(port_text, &a.port) != 0)
			return CLOISTER_EINVAL;
	} else if (default_port != 0) {
		a.port = default_port;
	} else {
		return CLOISTER_EINVAL;
	}
	*out = a;
	return 0;
}

bool cl_split_host_port(const char *spec, const char **host, size_t *host_len,
			const char **port)
{
	const char *colon = strrchr(spec, ':');
	if (!colon)
		return false;
	const char *h = spec;
	size_t hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	*host = h;
	*host_len = hlen;
	*port = colon + 1;
	return hlen > 0;
}
