/*
 * test_logfmt.c — quoting of outside values in log lines: names with
 * spaces, '=', quotes, backslashes, control bytes and bytes that are not
 * UTF-8 come out as one quoted, printable UTF-8 value; well-formed UTF-8
 * stays as it is; a value too long for its buffer is cut at a character
 * boundary with "..." and never past its end, however small; random byte
 * strings always give a value that reads back to the same bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/logfmt.h"

static const char *q(const char *s, size_t len)
{
	static char out[4096];
	return cl_logfmt_quote_n(s, len, out, sizeof out);
}
#define Q(lit) q(lit, sizeof lit - 1)

static void test_plain_and_forging(void)
{
	CHECK_STR_EQ(Q("a"), "\"a\"");
	CHECK_STR_EQ(Q(""), "\"\"");
	CHECK_STR_EQ(Q("odd name=x level=error"), "\"odd name=x level=error\"");
	CHECK_STR_EQ(Q("quo\"te\\back"), "\"quo\\\"te\\\\back\"");
	CHECK_STR_EQ(Q("new\nline\rret\ttab"), "\"new\\nline\\rret\\ttab\"");
	CHECK_STR_EQ(Q("nul\0bell\a del\x7f"), "\"nul\\x00bell\\x07 del\\x7f\"");
	char out[16];
	CHECK_STR_EQ(cl_logfmt_quote(NULL, out, sizeof out), "\"\"");
}

static void test_utf8(void)
{
	/* Well-formed: é (2 bytes), € (3), U+1D11E (4) kept. */
	CHECK_STR_EQ(Q("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"),
		     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\"");
	/* Stray bytes, overlong '/', a surrogate, past U+10FFFF, cut short. */
	CHECK_STR_EQ(Q("bad\xff\xfe"), "\"bad\\xff\\xfe\"");
	CHECK_STR_EQ(Q("\xc0\xaf"), "\"\\xc0\\xaf\"");
	CHECK_STR_EQ(Q("\xe0\x80\xaf"), "\"\\xe0\\x80\\xaf\"");
	CHECK_STR_EQ(Q("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
	CHECK_STR_EQ(Q("\xf4\x90\x80\x80"), "\"\\xf4\\x90\\x80\\x80\"");
	CHECK_STR_EQ(Q("\xe2\x82"), "\"\\xe2\\x82\"");
	CHECK_STR_EQ(Q("\xe2\x82x"), "\"\\xe2\\x82x\"");
	CHECK_EQ_INT(cl_utf8_seq_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4), 4);
	CHECK_EQ_INT(cl_utf8_seq_len((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
	CHECK_EQ_INT(cl_utf8_seq_len((const unsigned char *)"\xc3", 1), 0);
}

static void test_cut(void)
{
	char out[12];
	/* 9 bytes of room between the quotes: "abcdef..." */
	cl_logfmt_quote("abcdefghijklmnop", out, sizeof out);
	CHECK_STR_EQ(out, "\"abcdef...\"");
	CHECK(strlen(out) < sizeof out);
	/* Exactly fitting: not cut. */
	cl_logfmt_quote("abcdefghi", out, sizeof out);
	CHECK_STR_EQ(out, "\"abcdefghi\"");
	/* Never inside an escape or a multibyte character. */
	cl_logfmt_quote("abcde\xe2\x82\xac\xe2\x82\xac", out, sizeof out);
	CHECK_STR_EQ(out, "\"abcde...\"");
	cl_logfmt_quote("abcd\xff\xff", out, sizeof out);
	CHECK_STR_EQ(out, "\"abcd...\"");
	char tiny[3];
	CHECK_STR_EQ(cl_logfmt_quote("x", tiny, sizeof tiny), "\"\"");
	/* A 255-byte name of the worst bytes fits the name buffer whole. */
	char name[255], big[CL_LOGFMT_NAME_BUF];
	memset(name, 0xff, sizeof name);
	cl_logfmt_quote_n(name, sizeof name, big, sizeof big);
	CHECK_EQ_INT(strlen(big), CL_LOGFMT_QUOTED_MAX(255));
	CHECK(strstr(big, "...") == NULL);
}

static uint64_t rng;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Reads a quoted value back to bytes; -1 if it is not one. */
static long unquote(const char *v, unsigned char *out)
{
	size_t n = strlen(v);
	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return -1;
	long o = 0;
	for (size_t i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c < 0x20 || c == 0x7f)
			return -1;
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		char e = v[++i];
		if (e == 'n')
			out[o++] = '\n';
		else if (e == 'r')
			out[o++] = '\r';
		else if (e == 't')
			out[o++] = '\t';
		else if (e == '"' || e == '\\')
			out[o++] = (unsigned char)e;
		else if (e == 'x') {
			unsigned x;
			if (sscanf(v + i + 1, "%2x", &x) != 1)
				return -1;
			out[o++] = (unsigned char)x;
			i += 2;
		} else
			return -1;
	}
	return o;
}

static bool all_utf8(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = cl_utf8_seq_len((const unsigned char *)s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

static void test_random_bytes_round_trip(void)
{
	check_seed = rng = 0x9e3779b97f4a7c15ull;
	static char in[300], out[CL_LOGFMT_QUOTED_MAX(300) + 1];
	static unsigned char back[300];
	for (int round = 0; round < 20000; round++) {
		size_t len = next() % sizeof in;
		for (size_t i = 0; i < len; i++) {
			uint64_t r = next();
			/* Mostly bytes that matter: quotes, escapes, high bytes. */
			in[i] = (char)(r % 4 == 0 ? "\"\\\n=\xc3\xa9\xe2\x82\xac"[r / 4 % 9]
						  : (int)(r >> 8 & 0xff));
		}
		/* A small buffer: never written past, always one value. */
		size_t cap = 3 + next() % 40;
		memset(out, 'Z', sizeof out);
		cl_logfmt_quote_n(in, len, out, cap);
		CHECK(strlen(out) < cap && out[cap] == 'Z');
		CHECK(out[0] == '"' && out[strlen(out) - 1] == '"' && all_utf8(out));
		cl_logfmt_quote_n(in, len, out, sizeof out);
		CHECK(all_utf8(out));
		long got = unquote(out, back);
		CHECK_EQ_INT(got, (long)len);
		CHECK(memcmp(back, in, len) == 0);
	}
}

int main(void)
{
	RUN_TEST(test_plain_and_forging);
	RUN_TEST(test_utf8);
	RUN_TEST(test_cut);
	RUN_TEST(test_random_bytes_round_trip);
	return 0;
}
