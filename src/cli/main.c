/*
 * main.c — the cloister binary: one executable, many subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cloister.h"

static const struct cli_command commands[] = {
	{"agent", cmd_agent, "run a cluster node beside your service"},
	{"run", cmd_run, "the agent as a container entry point, running a service"},
	{"sim", cmd_sim, "a deterministic cluster simulation (sim demo: narrated)"},
	{"ring", cmd_ring, "show key placement for a node set"},
	{"bench", cmd_bench, "micro-benchmarks (bench ring)"},
	{"demo", cmd_demo, "3 agents on loopback: crash, detect, restart, heal"},
	{"keygen", cmd_keygen, "print a new cluster key"},
	{"local", cmd_local, "a development cluster on loopback"},
	{"members", cmd_members, "list the agent's members"},
	{"status", cmd_status, "the agent's status"},
	{"whois", cmd_whois, "which member owns a key"},
	{"wait", cmd_wait, "wait until the agent is ready"},
	{"join", cmd_join, "join through given addresses"},
	{"leave", cmd_leave, "leave the cluster gracefully"},
	{"multicast", cmd_multicast, "send a named message to members"},
	{"multicall", cmd_multicall, "call members and gather replies"},
	{"monitor", cmd_monitor, "stream the agent's events"},
	{"keys", cmd_keys, "install, use, remove, list, rotate cluster keys"},
	{"tags", cmd_tags, "set or unset the agent's tags at run time"},
	{"force-leave", cmd_force_leave, "make a failed member left everywhere"},
	{"completion", cmd_completion, "print shell completion: bash or zsh"},
	{"manpage", cmd_manpage, "print the manual page (roff)"},
};

const struct cli_command *cli_commands(size_t *n)
{
	*n = sizeof commands / sizeof commands[0];
	return commands;
}

/* "0.1.0 (commit 1a2b3c4d5e6f)", or the version alone outside git. */
static void print_version(void)
{
	if (cloister_build_commit[0])
		printf("cloister %s (commit %s)\n", cloister_version(),
		       cloister_build_commit);
	else
		printf("cloister %s\n", cloister_version());
}

static void usage(FILE *out)
{
	fprintf(out, "cloister %s — easy cluster management\n\n"
		     "usage: cloister COMMAND [ARGS...]\n\ncommands:\n",
		cloister_version());
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n`cloister COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2) {
			char *sub[] = {argv[2], "--help", NULL};
			for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].run(2, sub);
		}
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		print_version();
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, argv[1]))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cloister: unknown command '%s'; try `cloister --help`\n",
		argv[1]);
	return 2;
}
