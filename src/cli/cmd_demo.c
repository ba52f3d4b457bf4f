/* cmd_demo.c — placeholder until the subcommand lands (work in progress). */
#include <stdio.h>

#include "cli.h"

int cmd_demo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cloister demo: not built yet\n");
	return 1;
}
