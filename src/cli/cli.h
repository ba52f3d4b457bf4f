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

#endif
