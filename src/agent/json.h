/*
 * json.h — JSON helpers for the control API and the agent's events.
 *
 * Names, tags and payloads come off the network as bytes; jansson refuses
 * strings that are not UTF-8 (json_string() returns NULL), so everything
 * that may carry foreign bytes goes through these.
 */
#ifndef CLOISTER_AGENT_JSON_H
#define CLOISTER_AGENT_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "cloister.h"

/* A JSON string of the bytes, with each invalid UTF-8 sequence replaced
 * by U+FFFD.  NULL only when out of memory. */
json_t *cl_json_text(const void *s, size_t len);

/* Sets "data" on obj to the payload as text; when the payload is not
 * valid UTF-8, "data" is the lossy text and "data_base64" holds the exact
 * bytes.  0, or -1 when out of memory. */
int cl_json_set_data(json_t *obj, const void *s, size_t len);

/* {"k":"v",...} of a member's tags. */
json_t *cl_json_tags(const cloister_member *m);

/* One compact line (no newline) for cl_http_api_publish; malloc'd, NULL
 * when out of memory.  The objects are the /v1/events formats:
 *   {"type":"member","event":"joined|updated|left|failed|reaped","name",
 *    "addr","status","incarnation","tags"}
 *   {"type":"message","topic","from","data"[,"data_base64"]} */
char *cl_json_member_event(cloister_member_event ev, const cloister_member *m);
char *cl_json_message_event(const char *topic, const char *from,
			    const void *data, size_t len);

/* json_dumps() compact, with a trailing newline: one line per value for
 * responses and streams.  malloc'd; NULL when out of memory. */
char *cl_json_line(const json_t *v, size_t *len);

#endif
