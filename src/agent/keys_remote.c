/*
 * keys_remote.c — one phase of a cluster-wide key rotation, on this node
 * (keys_remote.h).
 */
#include "keys_remote.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/node_keys.h"

static void answer(void **reply, size_t *reply_len, const char *text)
{
	*reply = strdup(text);
	*reply_len = *reply ? strlen(text) : 0;
}

void cl_keys_remote_handle(void *arg, const char *topic, const char *from,
			   const void *payload, size_t len, void **reply,
			   size_t *reply_len)
{
	cloister_t *node = arg;
	if (!reply)
		return; /* a cast: nobody to tell how it went */
	json_error_t je;
	json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
	const char *op = json_string_value(json_object_get(j, "op"));
	const char *key = json_string_value(json_object_get(j, "key"));
	if (!json_is_object(j) || !op || !key || json_object_size(j) != 2) {
		json_decref(j);
		answer(reply, reply_len,
		       "error: expected {\"op\":...,\"key\":...}");
		return;
	}
	int e;
	if (!strcmp(op, "install")) {
		e = cloister_keys_install(node, key);
		if (e == CLOISTER_EEXIST)
			e = 0; /* a phase repeated after a partial failure */
	} else if (!strcmp(op, "use")) {
		e = cloister_keys_use(node, key);
	} else if (!strcmp(op, "retain")) {
		e = cl_node_keys_retain(node, key);
	} else {
		e = CLOISTER_EINVAL;
		op = "?";
	}
	/* The key text: wipe the parsed copy before it is freed. */
	sodium_memzero((char *)key, strlen(key));
	json_decref(j);
	if (e == 0) {
		answer(reply, reply_len, "ok");
		return;
	}
	char why[160];
	snprintf(why, sizeof why, "error: %s: %s", op,
		 e == CLOISTER_ESTATE && !strcmp(op, "install")
			 ? "this node runs without keys"
		 : e == CLOISTER_ENOENT ? "the key is not installed here"
		 : e == CLOISTER_ESTATE ? "the key is not primary here"
					: cloister_strerror(e));
	answer(reply, reply_len, why);
}
