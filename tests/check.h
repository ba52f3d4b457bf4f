/*
 * check.h — the test harness: assertions that report file, line, the
 * failing expression and the test's seed, then exit non-zero.
 */
#ifndef CLOISTER_TESTS_CHECK_H
#define CLOISTER_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by a test that uses randomness, printed with every failure. */
static uint64_t check_seed;
static int check_count;

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, " (seed %" PRIu64 ")\n", check_seed);          \
		exit(1);                                                       \
	} while (0)

#define CHECK(expr)                                                            \
	do {                                                                   \
		check_count++;                                                 \
		if (!(expr))                                                   \
			CHECK_FAIL("%s", #expr);                               \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                     \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		check_count++;                                                 \
		if (check_a_ != check_b_)                                      \
			CHECK_FAIL("%s == %s: %lld != %lld", #a, #b, check_a_,  \
				   check_b_);                                  \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                     \
	do {                                                                   \
		const char *check_a_ = (a), *check_b_ = (b);                   \
		check_count++;                                                 \
		if (strcmp(check_a_, check_b_) != 0)                           \
			CHECK_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,        \
				   check_a_, check_b_);                        \
	} while (0)

#define RUN_TEST(fn)                                                           \
	do {                                                                   \
		int check_before_ = check_count;                               \
		fn();                                                          \
		printf("ok %s (%d checks)\n", #fn, check_count - check_before_); \
	} while (0)

#endif
