/* cli.h — the subcommands of the cloister binary, one file each. */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* The binary's commands, as `cloister --help` lists them (main.c). */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};
const struct cli_command *cli_commands(size_t *n);

/* The git commit the binary was built from, "" outside git (generated
 * by cmake/build_info.cmake). */
extern const char cloister_build_commit[];

/* Each takes the arguments after its own name (argv[0] is the command
 * name) and returns the process exit code. */
int cmd_sim(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);     /* real agents: cloister local, scripted */
int cmd_sim_demo(int argc, char **argv); /* cloister sim demo: narrated */
int cmd_run(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_local(int argc, char **argv);
/* The man page and shell completion, from the --help tables (cmd_docs.c). */
int cmd_manpage(int argc, char **argv);
int cmd_completion(int argc, char **argv);

/* Client commands: talk to a running agent's control API
 * (cmd_client.c). */
int cmd_members(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_whois(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_multicast(int argc, char **argv);
int cmd_multicall(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_tags(int argc, char **argv);
int cmd_force_leave(int argc, char **argv);

#endif
