/*
 * args.h — the one command-line syntax of every cloister command.
 *
 *   --opt VALUE  --opt=VALUE  -n VALUE  -n=VALUE   an option with a value
 *   --flag                                          a flag (--flag=x is an error)
 *   WORD, -                                         a positional argument
 *   --                                              the rest is positional
 *
 * Options and positionals may be mixed.  Each command lists its options
 * in a table; anything else starting with '-' is an error, so a typo is
 * never taken for a value or a key.
 */
#ifndef CLOISTER_CLI_ARGS_H
#define CLOISTER_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct cl_opt {
	const char *name;  /* with its dashes: "--seed", "-n" */
	bool takes_value;
};

enum cl_arg_kind {
	CL_ARG_END = 0,
	CL_ARG_OPT,   /* opt and value (NULL for a flag) set */
	CL_ARG_POS,   /* value set; after_dashdash if it followed "--" */
	CL_ARG_ERROR, /* error holds the reason */
};

typedef struct cl_args {
	int argc;
	char **argv;
	int i;                    /* index of the next argument to read */
	bool after_dashdash;
	const struct cl_opt *opt; /* the option just read */
	const char *value;
	char error[160];
} cl_args;

/* Reads argv[1..argc-1] (argv[0] is the command's name). */
void cl_args_init(cl_args *a, int argc, char **argv);

/* The next argument, classified against opts[0..n-1]. */
enum cl_arg_kind cl_args_next(cl_args *a, const struct cl_opt *opts, size_t n);

/* True when the option just read is name. */
bool cl_args_is(const cl_args *a, const char *name);

#endif
