/*
 * cmd_ring.c — `cloister ring`: which node owns each key, for a node set.
 *
 * A window onto src/core/ring.c for operators and scripts: the same answer
 * every cloister process (or, with --algorithm libring, every Elixir node
 * using libring) computes for the same node set.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "cloister.h"
#include "core/ring.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cloister ring --nodes NAME[,NAME...] [--algorithm default|libring]\n"
		"                     [--vnodes V] [--json] [--] KEY...\n"
		"\n"
		"Prints the node owning each KEY on a consistent hash ring of the\n"
		"given nodes: \"KEY<TAB>NODE\" lines, or with --json one object\n"
		"{\"KEY\": \"NODE\", ...} (a repeated key appears once).\n"
		"\n"
		"  --nodes LIST      comma-separated node names (1..%d bytes each,\n"
		"                    no duplicates); required\n"
		"  --algorithm A     default: XXH3, 64-bit points (cloister's own);\n"
		"                    libring: Elixir libring 1.7.0 placement, nodes\n"
		"                    are atoms (e.g. a@127.0.0.1) and keys binaries\n"
		"  --vnodes V        points per node, 1..%u (default %d; libring's\n"
		"                    weight)\n"
		"  --json            JSON output\n"
		"  --                end of options: the rest are keys, even \"-x\"\n"
		"\n"
		"Exit status: 0, or 2 for a usage error.\n",
		CL_RING_NAME_MAX, CL_RING_MAX_VNODES, CL_RING_DEFAULT_VNODES);
}

/* A JSON string of arbitrary bytes: escapes what JSON requires, keeps
 * valid UTF-8, and turns each byte of invalid UTF-8 into U+FFFD (JSON text
 * must be Unicode). */
static void json_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc((int)c, out);
			i++;
		} else if (c < 0x20) {
			switch (c) {
			case '\b': fputs("\\b", out); break;
			case '\f': fputs("\\f", out); break;
			case '\n': fputs("\\n", out); break;
			case '\r': fputs("\\r", out); break;
			case '\t': fputs("\\t", out); break;
			default: fprintf(out, "\\u%04x", c); break;
			}
			i++;
		} else if (c < 0x80) {
			fputc((int)c, out);
			i++;
		} else {
			/* Length and validity of a UTF-8 sequence. */
			size_t n = c >= 0xF0 && c <= 0xF4 ? 4
				   : c >= 0xE0		  ? 3
				   : c >= 0xC2 && c <= 0xDF ? 2
							    : 0;
			uint32_t cp = n == 4 ? c & 0x07 : n == 3 ? c & 0x0F : c & 0x1F;
			bool ok = n > 0 && i + n <= len;
			for (size_t k = 1; ok && k < n; k++) {
				ok = (p[i + k] & 0xC0) == 0x80;
				cp = cp << 6 | (p[i + k] & 0x3F);
			}
			if (ok && ((n == 3 && (cp < 0x800 ||
					       (cp >= 0xD800 && cp <= 0xDFFF))) ||
				   (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
				ok = false;
			if (ok) {
				fwrite(p + i, 1, n, out);
				i += n;
			} else {
				fputs("\\ufffd", out);
				i++;
			}
		}
	}
	fputc('"', out);
}

/* Splits a comma-separated list into the names array (pointers into the
 * list, which is modified).  Returns the count, or -1 with a message. */
static long split_nodes(char *list, const void ***names, size_t **lens)
{
	size_t n = 1;

	for (const char *p = list; *p; p++)
		n += *p == ',';
	*names = calloc(n, sizeof **names);
	*lens = calloc(n, sizeof **lens);
	if (!*names || !*lens) {
		fprintf(stderr, "cloister ring: out of memory\n");
		return -1;
	}
	char *p = list;
	for (size_t i = 0; i < n; i++) {
		char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0 || len > CL_RING_NAME_MAX) {
			fprintf(stderr,
				"cloister ring: node names must be 1..%d bytes "
				"(node %zu of --nodes)\n",
				CL_RING_NAME_MAX, i + 1);
			return -1;
		}
		(*names)[i] = p;
		(*lens)[i] = len;
		if (comma)
			*comma = '\0';
		p = comma ? comma + 1 : p + len;
	}
	return (long)n;
}

int cmd_ring(int argc, char **argv)
{
	const char *nodes = NULL;
	enum cl_ring_algorithm alg = CL_RING_DEFAULT;
	unsigned vnodes = CL_RING_DEFAULT_VNODES;
	bool json = false;
	char **keys = calloc((size_t)argc + 1, sizeof *keys);
	size_t nkeys = 0;
	int rc = 2;
	char *list = NULL;
	const void **names = NULL;
	size_t *lens = NULL;
	cl_ring *r = NULL;

	if (!keys) {
		fprintf(stderr, "cloister ring: out of memory\n");
		return 1;
	}
	static const struct cl_opt opts[] = {
		{"--help", false},   {"-h", false},	    {"--json", false},
		{"--nodes", true}, {"--algorithm", true}, {"--vnodes", true}};
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind kind =
			cl_args_next(&args, opts, sizeof opts / sizeof opts[0]);
		if (kind == CL_ARG_END)
			break;
		if (kind == CL_ARG_POS) {
			keys[nkeys++] = (char *)args.value;
			continue;
		}
		if (kind == CL_ARG_ERROR) {
			fprintf(stderr, "cloister ring: %s; try `cloister ring "
					"--help`\n", args.error);
			goto out;
		}
		const char *a = args.opt->name, *val = args.value;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--nodes")) {
			nodes = val;
		} else if (!strcmp(a, "--algorithm")) {
			if (!strcmp(val, "default")) {
				alg = CL_RING_DEFAULT;
			} else if (!strcmp(val, "libring")) {
				alg = CL_RING_LIBRING;
			} else {
				fprintf(stderr, "cloister ring: unknown algorithm "
						"'%s' (default or libring)\n",
					val);
				goto out;
			}
		} else {
			char *end;
			errno = 0;
			unsigned long v = strtoul(val, &end, 10);
			if (errno || *end || val[0] == '-' || v < 1 ||
			    v > CL_RING_MAX_VNODES) {
				fprintf(stderr, "cloister ring: --vnodes wants 1..%u\n",
					CL_RING_MAX_VNODES);
				goto out;
			}
			vnodes = (unsigned)v;
		}
	}
	if (!nodes) {
		fprintf(stderr, "cloister ring: --nodes is required; "
				"try `cloister ring --help`\n");
		goto out;
	}
	if (nkeys == 0) {
		fprintf(stderr, "cloister ring: no KEY given\n");
		goto out;
	}

	list = strdup(nodes);
	if (!list) {
		fprintf(stderr, "cloister ring: out of memory\n");
		rc = 1;
		goto out;
	}
	long n = split_nodes(list, &names, &lens);
	if (n < 0)
		goto out;
	r = cl_ring_new(alg, vnodes);
	int err = r ? cl_ring_add_many(r, (size_t)n, names, lens, NULL)
		    : CLOISTER_ENOMEM;
	if (err == CLOISTER_EEXIST) {
		fprintf(stderr, "cloister ring: a node is listed twice\n");
		goto out;
	} else if (err < 0) {
		fprintf(stderr, "cloister ring: %s\n", cloister_strerror(err));
		rc = err == CLOISTER_ENOMEM ? 1 : 2;
		goto out;
	}

	if (json)
		fputc('{', stdout);
	bool first = true;
	for (size_t k = 0; k < nkeys; k++) {
		size_t klen = strlen(keys[k]), olen;
		const char *owner = cl_ring_whois(r, keys[k], klen, &olen);

		if (!owner) { /* a non-empty ring always answers */
			fprintf(stderr, "cloister ring: no owner for '%s'\n", keys[k]);
			rc = 1;
			goto out;
		}
		if (!json) {
			fwrite(keys[k], 1, klen, stdout);
			fputc('\t', stdout);
			fwrite(owner, 1, olen, stdout);
			fputc('\n', stdout);
			continue;
		}
		bool repeat = false;
		for (size_t j = 0; j < k && !repeat; j++)
			repeat = !strcmp(keys[j], keys[k]);
		if (repeat)
			continue;
		fputs(first ? "" : ", ", stdout);
		first = false;
		json_string(stdout, keys[k], klen);
		fputs(": ", stdout);
		json_string(stdout, owner, olen);
	}
	if (json)
		fputs("}\n", stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	cl_ring_free(r);
	free(names);
	free(lens);
	free(list);
	free(keys);
	return rc;
}
