/*
 * sim_trace.h — a simulation's packets as text: who sent what to whom,
 * decoded message by message, and what became of each copy.
 *
 * The simulator reports every packet to a tracer (cl_sim_config.tracer);
 * cl_sim_trace_packet is one that prints the packets sent by or to chosen
 * nodes, one line each.  It is how a property checker's failing seed is
 * followed message by message (`cloister sim --prop --seeds S --trace
 * 0,5`): printing reads the simulation and changes nothing, so the traced
 * run is the run that failed.
 */
#ifndef CLOISTER_SIM_TRACE_H
#define CLOISTER_SIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim.h"

typedef struct cl_sim_trace {
	FILE *out;
	/* Nodes whose packets are printed (sent or received); NULL with
	 * n_nodes 0 prints every packet. */
	const uint32_t *nodes;
	size_t n_nodes;
	uint64_t lines; /* printed so far */
} cl_sim_trace;

/* A cl_sim_tracer; arg is a cl_sim_trace.  A send prints its messages:
 *   12.345678 #812 n5[5] 10.0.0.6:7946 > n0[0] 10.0.0.1:7946 udp 96 B
 *       arrives 12.346201 | ping seq=7 target=n0 n=7 sum=...; alive ...
 * and each arrival one short line naming the send (#812): fed, held (the
 * receiver is paused) or dropped. */
void cl_sim_trace_packet(void *arg, const cl_sim *sim,
			 const cl_sim_packet *pkt);

/* A packet's messages as text, "; " between them, truncated to fit cap
 * (always NUL-terminated).  A packet that does not parse is described by
 * why.  Returns out. */
char *cl_sim_trace_describe(char *out, size_t cap, const uint8_t *buf,
			    size_t len, bool stream, const char *label);

#endif
