/*
 * keys_remote.h — the agent's answer to "cloister.keys": the cluster-wide
 * key rotation of `cloister keys rotate`.
 *
 * The client calls every alive member (POST /v1/multicall, topic
 * "cloister.keys") with {"op":"install"|"use"|"retain","key":KEY}, one
 * phase at a time, and goes on only when every member answered "ok":
 * install the new key everywhere, make it primary everywhere, then keep
 * only it (the old keys removed).  Each step is the manual procedure of
 * keyring.h, so no step leaves two nodes unable to talk.
 *
 * Who can drive it: the call arrives as a sealed application message,
 * which only holders of an installed key can send and which is bound to
 * its sender (messaging.c), and the client that starts it holds the
 * local agent's control API token (or is its socket's owner).  A node
 * without keys refuses every key operation (cloister_keys_install).
 */
#ifndef CLOISTER_AGENT_KEYS_REMOTE_H
#define CLOISTER_AGENT_KEYS_REMOTE_H

#include <stddef.h>

#include "cloister.h"

#define CL_KEYS_TOPIC "cloister.keys"

/* A cloister_handler_fn; arg is the node (cloister_t *).  Replies "ok" or
 * "error: WHY". */
void cl_keys_remote_handle(void *arg, const char *topic, const char *from,
			   const void *payload, size_t len, void **reply,
			   size_t *reply_len);

#endif
