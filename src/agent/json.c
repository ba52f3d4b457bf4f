/*
 * json.c — JSON helpers: lossy text for foreign bytes, payloads with an
 * exact base64 copy when they are not text, event lines.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "query.h"

json_t *cl_json_text(const void *s, size_t len)
{
	if (cl_utf8_valid(s, len))
		return json_stringn(s, len);
	/* Each bad byte becomes the 3-byte U+FFFD. */
	const unsigned char *b = s;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = 1;
		while (k <= 4 && i + k <= len && !cl_utf8_valid(b + i, k))
			k++;
		if (k <= 4 && i + k <= len) {
			memcpy(out + o, b + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

static char *base64(const unsigned char *s, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

int cl_json_set_data(json_t *obj, const void *s, size_t len)
{
	if (!s)
		s = "";
	if (json_object_set_new(obj, "data", cl_json_text(s, len)) != 0)
		return -1;
	if (cl_utf8_valid(s, len))
		return 0;
	char *b = base64(s, len);
	int e = b ? json_object_set_new(obj, "data_base64", json_string(b)) : -1;
	free(b);
	return e;
}

json_t *cl_json_tags(const cloister_member *m)
{
	json_t *t = json_object();
	for (size_t i = 0; t && i < m->n_tags; i++) {
		const char *k = m->tags[i].key, *v = m->tags[i].value;
		json_t *kv = cl_json_text(k, strlen(k));
		if (!kv)
			continue;
		json_object_set_new(t, json_string_value(kv),
				    cl_json_text(v, strlen(v)));
		json_decref(kv);
	}
	return t;
}

static char *dump_line(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

char *cl_json_member_event(cloister_member_event ev, const cloister_member *m)
{
	static const char *const names[] = {"", "joined", "updated", "left",
					    "failed", "reaped"};
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string("member"));
	json_object_set_new(o, "event",
			    json_string(ev >= 1 && ev <= 5 ? names[ev] : "updated"));
	json_object_set_new(o, "name", cl_json_text(m->name, strlen(m->name)));
	json_object_set_new(o, "addr", cl_json_text(m->addr, strlen(m->addr)));
	json_object_set_new(o, "status",
			    json_string(cloister_member_status_name(m->status)));
	json_object_set_new(o, "incarnation", json_integer(m->incarnation));
	json_object_set_new(o, "tags", cl_json_tags(m));
	return dump_line(o);
}

char *cl_json_message_event(const char *topic, const char *from,
			    const void *data, size_t len)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string("message"));
	json_object_set_new(o, "topic", cl_json_text(topic, strlen(topic)));
	json_object_set_new(o, "from", cl_json_text(from, strlen(from)));
	if (cl_json_set_data(o, data, len) != 0) {
		json_decref(o);
		return NULL;
	}
	return dump_line(o);
}

char *cl_json_line(const json_t *v, size_t *len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *out = realloc(s, n + 2);
	if (!out) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return out;
}
