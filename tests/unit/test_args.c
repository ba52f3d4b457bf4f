/*
 * test_args.c — the one command-line syntax (src/cli/args.c): --opt V and
 * --opt=V alike, flags refusing a value, a missing value, an unknown
 * option never taken for a positional, "--" ending options, "-" and
 * empty strings as positionals, and an option's value that looks like an
 * option (--token-file --x is the file "--x").
 */
#include <stdbool.h>
#include <string.h>

#include "check.h"

#include "cli/args.c"

static const struct cl_opt opts[] = {
	{"--seed", true}, {"--json", false}, {"-n", true}, {"--seeds", true}};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* Parses argv (NULL-terminated, argv[0] the command) into a trace like
 * "O--seed=5 P:x F--json E" and returns it; stops at the first error. */
static const char *trace(char **argv)
{
	static char out[512];
	int argc = 0;
	while (argv[argc])
		argc++;
	cl_args a;
	cl_args_init(&a, argc, argv);
	out[0] = '\0';
	for (int guard = 0; guard < 64; guard++) {
		enum cl_arg_kind k = cl_args_next(&a, opts, N_OPTS);
		size_t n = strlen(out);
		if (k == CL_ARG_END) {
			snprintf(out + n, sizeof out - n, "E");
			return out;
		}
		if (k == CL_ARG_ERROR) {
			snprintf(out + n, sizeof out - n, "!%s", a.error);
			return out;
		}
		if (k == CL_ARG_POS)
			snprintf(out + n, sizeof out - n, "P%s:%s ",
				 a.after_dashdash ? "-" : "", a.value);
		else if (a.value)
			snprintf(out + n, sizeof out - n, "O%s=%s ", a.opt->name,
				 a.value);
		else
			snprintf(out + n, sizeof out - n, "F%s ", a.opt->name);
	}
	return "no end";
}

#define T(want, ...)                                                            \
	do {                                                                   \
		char *argv_[] = {"cmd", __VA_ARGS__, NULL};                    \
		const char *got_ = trace(argv_);                               \
		check_count++;                                                 \
		if (strcmp(got_, want))                                        \
			CHECK_FAIL("got \"%s\", want \"%s\"", got_, want);     \
	} while (0)

int main(void)
{
	/* Both spellings of a value, everywhere. */
	T("O--seed=5 E", "--seed", "5");
	T("O--seed=5 E", "--seed=5");
	T("O-n=3 E", "-n", "3");
	T("O-n=3 E", "-n=3");
	/* An empty value is a value, given either way. */
	T("O--seed= E", "--seed=");
	T("O--seed= E", "--seed", "");
	/* A value may contain '=' and look like an option. */
	T("O--seed=a=b E", "--seed=a=b");
	T("O--seed=--json E", "--seed", "--json");
	/* Flags take none. */
	T("F--json E", "--json");
	T("!--json takes no value", "--json=1");
	/* A missing value, an unknown or a prefix option: errors. */
	T("!--seed needs a value", "--seed");
	T("!unknown option '--frob'", "--frob");
	T("!unknown option '--see'", "--see=1");
	T("!unknown option '--seedx'", "--seedx", "1");
	T("!unknown option '-x'", "-x");
	/* --seeds is not --seed, nor the reverse. */
	T("O--seeds=1-3 E", "--seeds", "1-3");
	/* Positionals mixed with options; "-" and "" are positionals. */
	T("P:a O--seed=1 P:b E", "a", "--seed", "1", "b");
	T("P:- P: E", "-", "");
	/* "--" ends options; a second "--" is then a positional. */
	T("F--json P-:--seed P-:-- P-:x E", "--json", "--", "--seed", "--", "x");
	T("E", "--");
	/* A long unknown option is reported cut, not past the buffer. */
	{
		static char longopt[4096];
		memset(longopt, 'x', sizeof longopt - 1);
		longopt[0] = longopt[1] = '-';
		char *argv[] = {"cmd", longopt, NULL};
		const char *got = trace(argv);
		CHECK(!strncmp(got, "!unknown option '--xxx", 22));
		CHECK(strlen(got) < 160);
	}
	/* The index after "--" lets a command take the rest as given. */
	{
		char *argv[] = {"run", "--json", "--", "sh", "-c", "exit 3", NULL};
		cl_args a;
		cl_args_init(&a, 6, argv);
		CHECK_EQ_INT(cl_args_next(&a, opts, N_OPTS), CL_ARG_OPT);
		CHECK(cl_args_is(&a, "--json"));
		CHECK_EQ_INT(cl_args_next(&a, opts, N_OPTS), CL_ARG_POS);
		CHECK(a.after_dashdash);
		CHECK(!strcmp(argv[a.i - 1], "sh"));
		CHECK_EQ_INT(a.i - 1, 3);
	}
	printf("test_args: %d checks passed\n", check_count);
	return 0;
}
