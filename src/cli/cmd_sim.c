/* cmd_sim.c — placeholder until the subcommand lands (work in progress). */
#include <stdio.h>

#include "cli.h"

int cmd_sim(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cloister sim: not built yet\n");
	return 1;
}
