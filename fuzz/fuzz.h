/*
 * fuzz.h — what every fuzz target shares: libFuzzer's entry point (also
 * called by replay_main.c, which replays a corpus without libFuzzer) and
 * REQUIRE, an invariant check that aborts so the fuzzer records the input.
 */
#ifndef CLOISTER_FUZZ_H
#define CLOISTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(x)                                                             \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

#endif
