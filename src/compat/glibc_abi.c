/*
 * glibc_abi.c — the few glibc-only symbols that Debian's static archives
 * of libevent, libsodium and jansson reference, for a binary linked
 * against musl (`make static`).
 *
 * Debian builds those archives with _FORTIFY_SOURCE and against glibc
 * 2.36, so their objects call the checked variants (__memcpy_chk, ...)
 * and arc4random, which musl does not provide.  Each shim keeps the
 * fortify contract: a destination smaller than the write is a bug in the
 * caller and aborts, as glibc's would.  Compiled only when the C library
 * is not glibc (CMake adds this file in that case alone).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/select.h>

/* Declared here: nothing in musl's headers names them. */
int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		    const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		   const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen);
char *__strncpy_chk(char *dst, const char *src, size_t len, size_t dstlen);
void __explicit_bzero_chk(void *dst, size_t len, size_t dstlen);
long __fdelt_chk(long fd);
void arc4random_buf(void *buf, size_t len);
uint32_t arc4random(void);

int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		    const char *fmt, va_list ap)
{
	(void)flag;
	if (maxlen > slen)
		abort();
	return vsnprintf(s, maxlen, fmt, ap);
}

int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = __vsnprintf_chk(s, maxlen, flag, slen, fmt, ap);
	va_end(ap);
	return n;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	return memcpy(dst, src, len);
}

char *__strncpy_chk(char *dst, const char *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	return strncpy(dst, src, len);
}

void __explicit_bzero_chk(void *dst, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	explicit_bzero(dst, len);
}

/* FD_SET and friends on an fd outside the set are memory corruption. */
long __fdelt_chk(long fd)
{
	if (fd < 0 || fd >= FD_SETSIZE)
		abort();
	return fd / (8 * (long)sizeof(long));
}

/* libevent seeds its own generator from this; the kernel's CSPRNG is the
 * right source.  getrandom() on a booted system fails only when
 * interrupted (retried) or on a kernel without it (< 3.17: abort). */
void arc4random_buf(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* no entropy source: nothing safe to do */
		}
		p += n;
		len -= (size_t)n;
	}
}

uint32_t arc4random(void)
{
	uint32_t v;
	arc4random_buf(&v, sizeof v);
	return v;
}
