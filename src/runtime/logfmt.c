/*
 * logfmt.c — quoting of outside values in log lines (see logfmt.h).
 */
#include "logfmt.h"

#include <stdbool.h>
#include <string.h>

size_t cl_utf8_seq_len(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* What the bytes take once escaped (the body of cl_logfmt_quote_n). */
static size_t quoted_len(const unsigned char *b, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = b[i];
		size_t u = cl_utf8_seq_len(b + i, len - i);
		if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			n += 2;
			i++;
		} else if (c < 0x20 || c == 0x7f || u == 0) {
			n += 4;
			i++;
		} else {
			n += u;
			i += u;
		}
	}
	return n;
}

char *cl_logfmt_quote_n(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = (const unsigned char *)s;
	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	/* Room kept for "...", the closing quote and the NUL. */
	size_t o = 0, end = cap - 1 - 1;
	bool rest_fits = false; /* then no room need be kept for "..." */
	out[o++] = '"';
	for (size_t i = 0; b && i < len;) {
		char esc[4];
		size_t el = 0, take = 1;
		unsigned char c = b[i];
		size_t u = cl_utf8_seq_len(b + i, len - i);
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			el = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			el = 2;
		} else if (c < 0x20 || c == 0x7f || u == 0) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			el = 4;
		} else {
			take = u;
		}
		size_t need = el ? el : take;
		/* The rest must fit too, else cut here with "...". */
		/* Sums, not differences: a small buffer must not wrap. */
		size_t keep = i + take == len ? 0 : 3;
		if (!rest_fits && o + need + keep > end)
			rest_fits = o + quoted_len(b + i, len - i) <= end;
		if (!rest_fits && o + need + keep > end) {
			/* No mark at all where a whole one does not fit: a
			 * lone "." would read as part of the value. */
			if (end - o >= 3) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (el)
			memcpy(out + o, esc, el);
		else
			memcpy(out + o, b + i, take);
		o += need;
		i += take;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

char *cl_logfmt_quote(const char *s, char *out, size_t cap)
{
	return cl_logfmt_quote_n(s, s ? strlen(s) : 0, out, cap);
}
