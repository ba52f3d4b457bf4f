/*
 * args.c — the one command-line syntax of every cloister command
 * (args.h).  Before it, five hand-written loops disagreed: `--seed=S`
 * worked in one command and not another, and `cloister local` read every
 * argument after a flag as that flag's value.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"

void cl_args_init(cl_args *a, int argc, char **argv)
{
	memset(a, 0, sizeof *a);
	a->argc = argc;
	a->argv = argv;
	a->i = 1;
}

bool cl_args_is(const cl_args *a, const char *name)
{
	return a->opt && !strcmp(a->opt->name, name);
}

enum cl_arg_kind cl_args_next(cl_args *a, const struct cl_opt *opts, size_t n)
{
	a->opt = NULL;
	a->value = NULL;
	a->error[0] = '\0';
	if (a->i >= a->argc || !a->argv[a->i])
		return CL_ARG_END;
	const char *arg = a->argv[a->i++];
	if (a->after_dashdash || arg[0] != '-' || arg[1] == '\0') {
		a->value = arg;
		return CL_ARG_POS;
	}
	if (!strcmp(arg, "--")) {
		a->after_dashdash = true;
		return cl_args_next(a, opts, n);
	}
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	for (size_t k = 0; k < n; k++) {
		if (strlen(opts[k].name) != len || strncmp(opts[k].name, arg, len))
			continue;
		a->opt = &opts[k];
		if (!opts[k].takes_value) {
			if (eq) {
				snprintf(a->error, sizeof a->error,
					 "%s takes no value", opts[k].name);
				return CL_ARG_ERROR;
			}
			return CL_ARG_OPT;
		}
		if (eq) {
			a->value = eq + 1;
		} else if (a->i < a->argc && a->argv[a->i]) {
			a->value = a->argv[a->i++];
		} else {
			snprintf(a->error, sizeof a->error, "%s needs a value",
				 opts[k].name);
			return CL_ARG_ERROR;
		}
		return CL_ARG_OPT;
	}
	snprintf(a->error, sizeof a->error, "unknown option '%.*s'",
		 len > 100 ? 100 : (int)len, arg);
	return CL_ARG_ERROR;
}
