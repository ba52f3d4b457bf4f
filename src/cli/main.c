/*
 * main.c — the cloister binary: one executable, many subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cloister.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"agent", cmd_agent, "run a cluster node beside your service"},
	{"sim", cmd_sim, "run a deterministic cluster simulation"},
	{"ring", cmd_ring, "show key placement for a node set"},
	{"bench", cmd_bench, "micro-benchmarks (bench ring)"},
	{"demo", cmd_demo, "a narrated simulation: crash, restart, leave"},
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
	{"keys", cmd_keys, "install, use, remove, list cluster keys"},
};

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
		printf("cloister %s\n", cloister_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, argv[1]))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cloister: unknown command '%s'; try `cloister --help`\n",
		argv[1]);
	return 2;
}
