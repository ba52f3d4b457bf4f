/*
 * fuzz_config.c — the agent's config file parsers (src/agent/options.c):
 * `key = value` lines and JSON objects, on arbitrary text.
 *
 * Input: one byte of format (even: key = value, odd: JSON), one byte of
 * file mode bits (its low 6 bits as the group/other permissions), then
 * the file's text.  Beyond "does not crash", aborts when:
 *   - the answer is neither 0 (accepted) nor 2 (refused);
 *   - an accepted file left a node setting without its terminating NUL
 *     or past its bounds, or more settings than the table holds;
 *   - a secret (key, passphrase) was accepted from a file others may read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "agent/api_guard.c"
#include "agent/options.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static agent_options o;
	static bool quiet;
	if (!quiet) {
		/* Every refusal prints a line; the fuzzer's speed is in the
		 * parsing, and crash reports go to stderr's copy (fd 2 kept). */
		setvbuf(stderr, NULL, _IOFBF, 1 << 16);
		quiet = true;
	}
	if (size < 2)
		return 0;
	bool json = data[0] & 1;
	unsigned mode = 0100600u | (unsigned)(data[1] & 077);
	memset(&o, 0, offsetof(agent_options, node));
	o.n_node = 0;
	int e = agent_options_parse_text(&o, (const char *)data + 2, size - 2,
					 "fuzz", json, mode);
	REQUIRE(e == 0 || e == 2);
	REQUIRE(o.n_node <= sizeof o.node / sizeof o.node[0]);
	for (size_t i = 0; i < o.n_node; i++) {
		REQUIRE(memchr(o.node[i].key, '\0', sizeof o.node[i].key));
		REQUIRE(memchr(o.node[i].value, '\0', sizeof o.node[i].value));
		if (e == 0 && (mode & 044))
			REQUIRE(strcmp(o.node[i].key, "key") &&
				strcmp(o.node[i].key, "passphrase"));
	}
	REQUIRE(memchr(o.http, '\0', sizeof o.http));
	REQUIRE(memchr(o.on_change, '\0', sizeof o.on_change));
	return 0;
}
