/* cli.h — the subcommands of the cloister binary, one file each. */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

#include <stdbool.h>

/* Each takes the arguments after its own name (argv[0] is the command
 * name) and returns the process exit code. */
int cmd_sim(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_local(int argc, char **argv);

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

#endif
