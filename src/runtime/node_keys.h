/*
 * node_keys.h — key administration beyond the public API, for the agent's
 * cluster-wide rotation (agent/keys_remote.c).
 */
#ifndef CLOISTER_RUNTIME_NODE_KEYS_H
#define CLOISTER_RUNTIME_NODE_KEYS_H

#include "cloister.h"

/* Keeps only `key` (text, as cloister_keys_install takes it), which must
 * be installed and primary: every other key is removed.  0;
 * CLOISTER_EINVAL not a key; CLOISTER_ENOENT not installed;
 * CLOISTER_ESTATE not the primary, or a node without keys. */
int cl_node_keys_retain(cloister_t *c, const char *key);

#endif
