/* cmd_ring.c — placeholder until the subcommand lands (work in progress). */
#include <stdio.h>

#include "cli.h"

int cmd_ring(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cloister ring: not built yet\n");
	return 1;
}
