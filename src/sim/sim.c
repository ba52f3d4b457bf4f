/* sim.c — placeholder until the simulator lands. */
int cl_sim_placeholder_(void);
int cl_sim_placeholder_(void) { return 0; }
