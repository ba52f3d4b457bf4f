/*
 * node_log.h — the logger a node has from its creation on.
 *
 * cloister_new() logs the node's name (and why it was chosen) or why it
 * refuses to start, before cloister_set_logger() can be called on the
 * handle.  By default those lines go to stderr as logfmt; a program that
 * owns the process's stderr (the agent, with --log-format json) sets its
 * own here first, so that every line it writes has one format.  Not
 * thread-safe: set it before creating nodes.
 */
#ifndef CLOISTER_RUNTIME_NODE_LOG_H
#define CLOISTER_RUNTIME_NODE_LOG_H

#include "cloister.h"

/* fn NULL restores stderr. */
void cl_node_set_creation_logger(cloister_log_fn fn, void *arg, int max_level);

#endif
