/*
 * config.c — cloister_config_t: every setting by name, checked when set,
 * with an explanation on error (the agent maps flags, environment and
 * config file lines onto these same names).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"
#include "node_internal.h"
#include "sentry_spec.h"

cloister_config_t *cloister_config_new(void)
{
	cloister_config_t *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	strcpy(c->app, "cloister");
	c->cluster.consensus = 1;
	c->cluster.ring_algorithm = CL_RING_DEFAULT;
	c->profile = CL_PROFILE_LAN;
	c->tags_max = 512;
	c->naming = CL_NAME_AUTO;
	c->discovery_interval_us = 5 * CL_SEC;
	return c;
}

void cloister_config_free(cloister_config_t *cfg)
{
	if (cfg) {
		memset(cfg->key, 0, sizeof cfg->key);
		memset(cfg->passphrase, 0, sizeof cfg->passphrase);
	}
	free(cfg);
}

const char *cloister_config_error(const cloister_config_t *cfg)
{
	return cfg ? cfg->error : "no configuration";
}

static int bad(cloister_config_t *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(cloister_config_t *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof c->error, fmt, ap);
	va_end(ap);
	return CLOISTER_EINVAL;
}

static bool parse_size(const char *v, size_t min, size_t max, size_t *out)
{
	char *end;
	if (!*v || v[0] == '-' || v[0] == '+')
		return false;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end || x < min || x > max)
		return false;
	*out = (size_t)x;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return true;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return true;
	}
	return false;
}

/* Appends or replaces KEY=VALUE in the encoded tag block. */
static int set_tag(cloister_config_t *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return bad(c, "tag \"%s\": expected KEY=VALUE", kv);
	size_t klen = (size_t)(eq - kv), vlen = strlen(eq + 1);
	if (klen == strlen(CL_PROTO_TAG) && !memcmp(kv, CL_PROTO_TAG, klen))
		return bad(c, "tag \"%s\": the key " CL_PROTO_TAG " is the "
			      "node's own (the protocol versions it speaks)",
			   CL_PROTO_TAG);
	if (klen > CL_WIRE_TAG_KEY_MAX || vlen > 255)
		return bad(c, "tag \"%.40s%s\": key over 64 or value over 255 "
			      "bytes", kv, strlen(kv) > 40 ? "..." : "");
	uint8_t out[CL_WIRE_TAGS_MAX];
	cl_bytes key = {(const uint8_t *)kv, klen};
	size_t n = cl_wire_tags_drop(c->tags, c->tags_len, key, out);
	if (n + 2 + klen + vlen > c->tags_max)
		return bad(c, "tag \"%.40s%s\": tags would exceed tags_max (%zu "
			      "bytes)", kv, strlen(kv) > 40 ? "..." : "", c->tags_max);
	n = cl_wire_tag_append(out, n, key,
			       (cl_bytes){(const uint8_t *)eq + 1, vlen});
	memcpy(c->tags, out, n);
	c->tags_len = n;
	return 0;
}

int cloister_config_set(cloister_config_t *c, const char *key,
			const char *value)
{
	if (!c || !key || !value)
		return CLOISTER_EINVAL;
	c->error[0] = '\0';
	size_t n;
	bool b;
	if (!strcmp(key, "app")) {
		if (!*value || strlen(value) > CL_WIRE_LABEL_MAX ||
		    strchr(value, '@'))
			return bad(c, "app \"%s\": 1 to 64 bytes, no '@'", value);
		strcpy(c->app, value);
	} else if (!strcmp(key, "name")) {
		if (!cl_wire_name_valid((const uint8_t *)value, strlen(value)))
			return bad(c, "name \"%s\": 1 to 255 printable bytes",
				   value);
		strcpy(c->name, value);
	} else if (!strcmp(key, "advertise") || !strcmp(key, "bind")) {
		bool adv = key[0] == 'a';
		cl_addr a;
		if (!*value || !strcmp(value, "none")) {
			if (adv)
				c->has_addr = false;
			else
				c->has_bind = false;
			return 0;
		}
		if (cl_addr_parse(value, 7946, &a) != 0)
			return bad(c, "%s \"%s\": expected IP[:PORT] "
				      "(e.g. 10.0.0.5:7946 or [::1]:7946)",
				   key, value);
		if (adv) {
			c->addr = a;
			c->has_addr = true;
		} else {
			c->bind = a;
			c->has_bind = true;
		}
	} else if (!strcmp(key, "sentry")) {
		cl_sentry_spec spec;
		char why[200];
		if (strlen(value) >= sizeof c->sentry)
			return bad(c, "sentry: over %zu bytes", sizeof c->sentry - 1);
		if (cl_sentry_parse(value, 7946, &spec, why, sizeof why) != 0)
			return bad(c, "sentry \"%s\": %s", value, why);
		cl_sentry_spec_free(&spec);
		strcpy(c->sentry, value);
	} else if (!strcmp(key, "naming")) {
		if (!strcmp(value, "auto"))
			c->naming = CL_NAME_AUTO;
		else if (!strcmp(value, "nonode"))
			c->naming = CL_NAME_NONODE;
		else if (!strcmp(value, "shortnames"))
			c->naming = CL_NAME_SHORT;
		else if (!strcmp(value, "longnames"))
			c->naming = CL_NAME_LONG;
		else
			return bad(c, "naming \"%s\": auto, nonode, shortnames "
				      "or longnames", value);
	} else if (!strcmp(key, "discovery_interval")) {
		if (!parse_size(value, 1, 86400, &n))
			return bad(c, "discovery_interval \"%s\": 1 to 86400 "
				      "seconds", value);
		c->discovery_interval_us = (int64_t)n * CL_SEC;
	} else if (!strcmp(key, "tcp_only")) {
		if (!parse_bool(value, &b))
			return bad(c, "tcp_only \"%s\": true or false", value);
		c->tcp_only = b;
	} else if (!strcmp(key, "tcp_ping")) {
		if (!parse_bool(value, &b))
			return bad(c, "tcp_ping \"%s\": true or false", value);
		c->no_tcp_ping = !b;
	} else if (!strcmp(key, "key")) {
		if (cl_key_parse(value, c->key) != 0)
			return bad(c, "key: expected 64 hex digits or base64 of "
				      "32 bytes (`cloister keygen` makes one)");
		c->has_key = true;
	} else if (!strcmp(key, "key_file")) {
		char why[200];
		if (cl_key_from_file(value, c->key, why, sizeof why) != 0)
			return bad(c, "key_file \"%s\": %s", value, why);
		c->has_key = true;
	} else if (!strcmp(key, "insecure")) {
		if (!parse_bool(value, &b))
			return bad(c, "insecure \"%s\": true or false", value);
		c->insecure = b;
	} else if (!strcmp(key, "passphrase")) {
		/* Derived in cloister_new(), once app is known for certain. */
		if (!*value || strlen(value) >= sizeof c->passphrase)
			return bad(c, "passphrase: 1 to %zu bytes",
				   sizeof c->passphrase - 1);
		strcpy(c->passphrase, value);
	} else if (!strcmp(key, "consensus")) {
		if (cl_consensus_parse(value, &c->cluster) != 0)
			return bad(c, "consensus \"%s\": expected N or "
				      "majority:N (N >= 1)", value);
	} else if (!strcmp(key, "profile")) {
		if (!strcmp(value, "lan"))
			c->profile = CL_PROFILE_LAN;
		else if (!strcmp(value, "local"))
			c->profile = CL_PROFILE_LOCAL;
		else if (!strcmp(value, "wan"))
			c->profile = CL_PROFILE_WAN;
		else
			return bad(c, "profile \"%s\": lan, local or wan", value);
	} else if (!strcmp(key, "tag")) {
		return set_tag(c, value);
	} else if (!strcmp(key, "ring")) {
		if (!strcmp(value, "default"))
			c->cluster.ring_algorithm = CL_RING_DEFAULT;
		else if (!strcmp(value, "libring"))
			c->cluster.ring_algorithm = CL_RING_LIBRING;
		else
			return bad(c, "ring \"%s\": default or libring", value);
	} else if (!strcmp(key, "vnodes")) {
		if (!parse_size(value, 1, CL_RING_MAX_VNODES, &n))
			return bad(c, "vnodes \"%s\": 1 to 65536", value);
		c->cluster.vnodes = (unsigned)n;
	} else if (!strcmp(key, "max_members")) {
		if (!parse_size(value, 1, 1u << 20, &n))
			return bad(c, "max_members \"%s\": 1 to 1048576", value);
		c->max_members = n;
	} else if (!strcmp(key, "tags_max")) {
		if (!parse_size(value, 0, CL_WIRE_TAGS_MAX, &n) || n < c->tags_len)
			return bad(c, "tags_max \"%s\": 0 to 1024, and not below "
				      "the tags already set", value);
		c->tags_max = n;
	} else if (!strcmp(key, "user_queue_max")) {
		if (!parse_size(value, 1, 1u << 20, &n))
			return bad(c, "user_queue_max \"%s\": 1 to 1048576", value);
		c->user_queue_max = n;
	} else if (!strcmp(key, "max_connections")) {
		if (!parse_size(value, 1, 65536, &n))
			return bad(c, "max_connections \"%s\": 1 to 65536", value);
		c->max_connections = n;
	} else if (!strcmp(key, "max_connections_per_address")) {
		if (!parse_size(value, 1, 65536, &n))
			return bad(c, "max_connections_per_address \"%s\": 1 to "
				      "65536", value);
		c->max_connections_per_address = n;
	} else if (!strcmp(key, "protocol_min")) {
		if (!parse_size(value, CL_PROTO_V1, CL_PROTO_MAX, &n))
			return bad(c, "protocol_min \"%s\": %d (speak to nodes of "
				      "the release before sealed v2 too, during a "
				      "rolling upgrade) or %d", value, CL_PROTO_V1,
				   CL_PROTO_MAX);
		c->proto_min = (uint8_t)n;
	} else if (!strcmp(key, "max_calls")) {
		if (!parse_size(value, 1, 65536, &n))
			return bad(c, "max_calls \"%s\": 1 to 65536", value);
		c->max_calls = n;
	} else {
		return bad(c, "unknown setting \"%s\"", key);
	}
	return 0;
}
