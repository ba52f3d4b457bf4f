/*
 * fuzz_logfmt.c — cl_logfmt_quote_n() on arbitrary bytes (names and
 * details from the network go through it into log lines).
 *
 * Beyond "does not crash", it checks what a log reader relies on,
 * aborting on any violation, for a buffer of the full size and for one cut
 * to a size the input's first byte chooses:
 *   - the value is NUL-terminated within its buffer, between double
 *     quotes, well-formed UTF-8, with no control byte, no DEL and no
 *     unescaped quote: one field on one line, whatever the input;
 *   - in the full buffer, reading the escapes back gives the input exactly;
 *   - in a cut buffer, what precedes the closing quote (and its "...",
 *     which a buffer of 6 bytes or more always has) reads back to a
 *     prefix of the input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "runtime/logfmt.h"

#define INPUT_MAX 1024

/* The bytes a value stands for, up to its closing quote (or its "..."
 * when cut); -1 if it is not a well-formed quoted value. */
static long unquote(const char *v, size_t n, bool may_cut, uint8_t *out,
		    bool *cut)
{
	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return -1;
	/* An input may itself end with "...": only a cut buffer's is read
	 * as the mark. */
	*cut = may_cut && n >= 5 && !memcmp(v + n - 4, "...", 3);
	long o = 0;
	size_t end = n - 1;
	for (size_t i = 1; i < end;) {
		size_t u = cl_utf8_seq_len((const unsigned char *)v + i, end - i);
		unsigned char c = (unsigned char)v[i];
		if (u == 0 || c < 0x20 || c == 0x7f || c == '"')
			return -1;
		if (*cut && i == end - 3)
			break;
		if (c != '\\') {
			memcpy(out + o, v + i, u);
			o += (long)u;
			i += u;
			continue;
		}
		if (i + 1 >= end)
			return -1;
		char e = v[i + 1];
		if (e == 'n' || e == 'r' || e == 't' || e == '"' || e == '\\') {
			out[o++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : (uint8_t)e;
			i += 2;
		} else if (e == 'x' && i + 3 < end) {
			unsigned x;
			if (sscanf(v + i + 2, "%2x", &x) != 1)
				return -1;
			out[o++] = (uint8_t)x;
			i += 4;
		} else {
			return -1;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char full[CL_LOGFMT_QUOTED_MAX(INPUT_MAX) + 1];
	static char small[CL_LOGFMT_QUOTED_MAX(INPUT_MAX) + 1];
	static uint8_t back[INPUT_MAX * 4];
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	const char *s = (const char *)data;

	cl_logfmt_quote_n(s, size, full, sizeof full);
	size_t n = strlen(full);
	REQUIRE(n < sizeof full);
	bool cut = false;
	long got = unquote(full, n, false, back, &cut);
	REQUIRE(got == (long)size);
	REQUIRE(size == 0 || memcmp(back, data, size) == 0);

	size_t cap = size ? 3 + data[0] % 64 : 3;
	memset(small, 'Z', sizeof small);
	cl_logfmt_quote_n(s, size, small, cap);
	n = strlen(small);
	REQUIRE(n < cap);
	got = unquote(small, n, true, back, &cut);
	REQUIRE(got >= 0 && (size_t)got <= size);
	REQUIRE(got == 0 || memcmp(back, data, (size_t)got) == 0);
	/* Below 6 bytes there is no room for the mark. */
	REQUIRE(cut || (size_t)got == size || cap < 6);
	REQUIRE(small[cap] == 'Z');
	return 0;
}
