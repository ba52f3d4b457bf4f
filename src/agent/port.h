/*
 * port.h — the agent as an Erlang port: requests on stdin, replies and
 * events on stdout, each a {packet,4} frame holding one term in the
 * external term format (`cloister agent --stdio etf`).
 *
 * The BEAM opens it with open_port({spawn_executable, Cloister},
 * [{packet, 4}, binary, exit_status, {args, ["agent", "--stdio", "etf" ...]}]).
 * End of input is the BEAM gone: the agent leaves gracefully and exits.
 * bindings/README.md has the protocol table.
 */
#ifndef CLOISTER_AGENT_PORT_H
#define CLOISTER_AGENT_PORT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "cloister.h"
#include "pending_calls.h"

/* The topic the OTP bindings answer (multicall and send-to-owner between
 * BEAM nodes): held for the port from its start, so no HTTP subscriber
 * can take it before the BEAM answers it. */
#define CL_PORT_TOPIC "erlang.cloister"

typedef struct cl_port cl_port;

/* Whether this binary was built with erl_interface (else --stdio etf is
 * refused at start with a message saying so). */
bool cl_port_available(void);

/* Serves requests from in_fd and writes to out_fd (owned: closed by
 * cl_port_free) on base's thread.  Sends the hello frame (status and
 * members) at once: create it before cloister_start() so that the first
 * transition the BEAM sees is the node's first.  Topics the BEAM answers
 * are taken in topics, the agent's table shared with the HTTP API (one
 * answerer per topic); CL_PORT_TOPIC is held from the start.  on_closed
 * runs on the base's thread, once, when the BEAM's side is gone.  NULL
 * with why filled on failure. */
cl_port *cl_port_new(struct event_base *base, cloister_t *node,
		     cl_topics *topics, int in_fd, int out_fd,
		     void (*on_closed)(void *), void *arg, char *why,
		     size_t whylen);

/* From the node's listener (any thread); NULL p does nothing. */
void cl_port_state(cl_port *p, cloister_state from, cloister_state to,
		   const cloister_snapshot *s);
void cl_port_member(cl_port *p, int event, const char *event_name,
		    const cloister_member *m);
void cl_port_sentry(cl_port *p, const char *sentry);

void cl_port_free(cl_port *p);

#endif
