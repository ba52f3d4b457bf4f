/*
 * test_options.c — the agent's config file parsers (src/agent/options.c)
 * on good and malformed text: `key = value` and `key value` lines,
 * comments, flags without a value, JSON objects with strings, numbers,
 * booleans, arrays for repeatable settings and Serf's "tags" object;
 * refused: unknown settings, syntax errors, duplicates, nesting, arrays
 * where one value is wanted, NUL bytes, long lines, secrets in a file
 * others may read, "config" inside a config file.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#include "agent/api_guard.c"
#include "agent/options.c"

static agent_options o;

static int parse(const char *text, bool json, unsigned mode)
{
	memset(&o, 0, offsetof(agent_options, node));
	o.n_node = 0;
	return agent_options_parse_text(&o, text, strlen(text), "t", json, mode);
}

/* The node setting key's values in order, joined by '|'. */
static const char *values(const char *key)
{
	static char out[4096];
	out[0] = '\0';
	for (size_t i = 0; i < o.n_node; i++)
		if (!strcmp(o.node[i].key, key)) {
			size_t n = strlen(out);
			snprintf(out + n, sizeof out - n, "%s%s", n ? "|" : "",
				 o.node[i].value);
		}
	return out;
}

int main(void)
{
	const unsigned priv = 0100600, shared = 0100644;

	/* key = value, key value, comments, a flag alone. */
	CHECK_EQ_INT(parse("# c\n\napp = shop\nconsensus 3\n  tag=groups=a,b\n"
			   "tag = zone = x\ntcp-only\nhook-timeout = 7\n",
			   false, shared), 0);
	CHECK_STR_EQ(values("app"), "shop");
	CHECK_STR_EQ(values("consensus"), "3");
	CHECK_STR_EQ(values("tag"), "groups=a,b|zone = x");
	CHECK_STR_EQ(values("tcp_only"), "true");
	CHECK_EQ_INT(o.hook_timeout_s, 7);
	/* No final newline; CRLF is trimmed as space. */
	CHECK_EQ_INT(parse("app = a\r\nnaming = auto", false, shared), 0);
	CHECK_STR_EQ(values("app"), "a");
	CHECK_STR_EQ(values("naming"), "auto");

	/* Refused lines. */
	CHECK_EQ_INT(parse("bogus = 1\n", false, shared), 2);
	CHECK_EQ_INT(parse("config = other\n", false, shared), 2);
	CHECK_EQ_INT(parse("config-dir = d\n", false, shared), 2);
	CHECK_EQ_INT(parse("log-level = loud\n", false, shared), 2);
	CHECK_EQ_INT(parse("hook-timeout = 0\n", false, shared), 2);
	CHECK_EQ_INT(parse("passphrase = x\n", false, shared), 2);
	CHECK_EQ_INT(parse("passphrase = x\n", false, priv), 0);
	{
		char text[] = "app = a\0b\n";
		memset(&o, 0, offsetof(agent_options, node));
		o.n_node = 0;
		CHECK_EQ_INT(agent_options_parse_text(&o, text, sizeof text - 1,
						      "t", false, shared), 2);
	}
	{
		static char big[5000];
		memcpy(big, "app = ", 6);
		memset(big + 6, 'x', sizeof big - 8);
		big[sizeof big - 2] = '\n';
		CHECK_EQ_INT(parse(big, false, shared), 2);
	}
	{
		/* A value over the node table's 1023 bytes fits the line
		 * but not the table: refused, not cut. */
		static char v[1500];
		snprintf(v, sizeof v, "sentry = ");
		memset(v + 9, 'a', 1200);
		CHECK_EQ_INT(parse(v, false, shared), 2);
	}
	{
		/* More settings than the table holds: refused, not past it. */
		static char many[97 * 16];
		size_t n = 0;
		for (int i = 0; i < 97; i++)
			n += (size_t)snprintf(many + n, sizeof many - n,
					      "tag = k%d=v\n", i);
		CHECK_EQ_INT(parse(many, false, shared), 2);
		CHECK(o.n_node <= 96);
	}

	/* JSON: scalars, arrays for repeatable settings, "tags" object. */
	CHECK_EQ_INT(parse("{\"app\": \"shop\", \"consensus\": 3, \"tcp-only\": "
			   "true, \"tcp-ping\": false, \"tags\": {\"groups\": "
			   "\"a,b\", \"weight\": 2}, \"tag\": [\"zone=z\"], "
			   "\"log-format\": \"json\"}",
			   true, shared), 0);
	CHECK_STR_EQ(values("app"), "shop");
	CHECK_STR_EQ(values("consensus"), "3");
	CHECK_STR_EQ(values("tcp_only"), "true");
	CHECK_STR_EQ(values("tcp_ping"), "false");
	CHECK_STR_EQ(values("tag"), "groups=a,b|weight=2|zone=z");
	CHECK(o.log_json);
	CHECK_EQ_INT(parse("{}", true, shared), 0);
	CHECK_EQ_INT(o.n_node, 0);

	/* JSON refused. */
	CHECK_EQ_INT(parse("", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": \"x\",}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": \"x\"} trailing", true, shared), 2);
	CHECK_EQ_INT(parse("[\"app\", \"x\"]", true, shared), 2);
	CHECK_EQ_INT(parse("\"app\"", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": \"a\", \"app\": \"b\"}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": [\"a\"]}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": {\"a\": 1}}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": null}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"app\": 1.5}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"tag\": [[\"a=b\"]]}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"tags\": {\"k\": {\"n\": 1}}}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"tags\": {\"k\": null}}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"bogus\": 1}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"config\": \"x\"}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"key\": \"00\"}", true, shared), 2);
	CHECK_EQ_INT(parse("{\"passphrase\": \"x\"}", true, priv), 0);
	CHECK_EQ_INT(parse("{\"app\": \"a\\u0000b\"}", true, shared), 2);
	{
		/* A tag key and value over the pair buffer: refused. */
		static char t[3000];
		snprintf(t, sizeof t, "{\"tags\": {\"k\": \"%01100d\"}}", 0);
		CHECK_EQ_INT(parse(t, true, shared), 2);
	}

	/* The environment: one variable per setting, repeatable ones one
	 * per line (a value may hold commas). */
	setenv("CLOISTER_TAG", "groups=a,b\n\n  zone=x  \n", 1);
	memset(&o, 0, offsetof(agent_options, node));
	o.n_node = 0;
	CHECK_EQ_INT(load_env(&o), 0);
	CHECK_STR_EQ(values("tag"), "groups=a,b|zone=x");
	setenv("CLOISTER_TAG", "groups=a,b", 1);
	o.n_node = 0;
	CHECK_EQ_INT(load_env(&o), 0);
	CHECK_STR_EQ(values("tag"), "groups=a,b");
	unsetenv("CLOISTER_TAG");

	printf("test_options: %d checks passed\n", check_count);
	return 0;
}
