/*
 * logfmt.h — values of logfmt lines that come from outside.
 *
 * Member names, sentry names and resolver details come off the network:
 * printed bare, a name holding a space or '=' forges fields ("member=x
 * level=error"), a quote ends the value early, and bytes that are not
 * UTF-8 make the line unreadable to log pipelines.  Every such value is
 * written through cl_logfmt_quote.
 */
#ifndef CLOISTER_RUNTIME_LOGFMT_H
#define CLOISTER_RUNTIME_LOGFMT_H

#include <stddef.h>

/* The largest quoted form of n input bytes, without the NUL. */
#define CL_LOGFMT_QUOTED_MAX(n) (4 * (n) + 2)

/* Room for a quoted node name (255 bytes), with its NUL. */
#define CL_LOGFMT_NAME_BUF (CL_LOGFMT_QUOTED_MAX(255) + 1)

/* Writes the first len bytes of s as one logfmt value into out (cap
 * bytes, cap >= 3): always between double quotes; '"' and '\' get a
 * backslash; newline, carriage return and tab are \n, \r, \t; every other
 * byte below 0x20, 0x7f, and every byte that is not part of a well-formed
 * UTF-8 sequence is \xNN (two lowercase hex digits).  The result is
 * printable UTF-8 on one line.  A value that does not fit is cut at a
 * character boundary and ends with "..." inside the quotes (when cap
 * leaves room for it: 6 bytes or more).  Returns out. */
char *cl_logfmt_quote_n(const char *s, size_t len, char *out, size_t cap);

/* The same for a NUL-terminated string (NULL is written as ""). */
char *cl_logfmt_quote(const char *s, char *out, size_t cap);

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the
 * bytes there are not one (overlong forms, surrogates, past U+10FFFF,
 * truncated).  n is how many bytes are available. */
size_t cl_utf8_seq_len(const unsigned char *s, size_t n);

#endif
