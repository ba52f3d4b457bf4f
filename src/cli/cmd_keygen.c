/* cmd_keygen.c — `cloister keygen`: a fresh cluster key, base64. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "runtime/keyring.h"

int cmd_keygen(int argc, char **argv)
{
	if (argc > 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
		fprintf(help ? stdout : stderr,
			"usage: cloister keygen\n\nPrints a new random cluster key "
			"(base64 of 32 bytes) for an agent's key-file\n(save it "
			"with mode 0600), CLOISTER_KEY or `cloister keys install`.\n");
		return help ? 0 : 2;
	}
	uint8_t key[CL_KEY_BYTES];
	char text[CL_KEY_BASE64_LEN + 1];
	if (cl_key_generate(key) != 0) {
		fprintf(stderr, "cloister keygen: no randomness available\n");
		return 1;
	}
	printf("%s\n", cl_key_format_base64(key, text));
	memset(key, 0, sizeof key);
	return 0;
}
