/*
 * options.c — flags, environment and config file for `cloister agent`.
 *
 * One table describes every setting once: its name, whether it belongs to
 * the node or to the agent, its default and its help line.  --help is
 * printed from it, so the documentation cannot drift from the parser.
 */
#include <stddef.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "api_guard.h"
#include "options.h"

enum scope { NODE, AGENT };

struct setting {
	const char *name; /* flag without dashes; env CLOISTER_NAME_UPPER */
	enum scope scope;
	bool repeat;      /* may be given several times (tags) */
	bool is_flag;     /* takes no value on the command line */
	const char *def;  /* shown in --help */
	const char *help;
};

static const struct setting settings[] = {
	{"app", NODE, false, false, "cloister",
	 "cluster (application) name; the label in every packet"},
	{"name", NODE, false, false, "APP@ADDRESS",
	 "this node's name, unique in the cluster"},
	{"bind", NODE, false, false, "the advertise address",
	 "IP:PORT to listen on (UDP and TCP)"},
	{"advertise", NODE, false, false, "chosen by --naming",
	 "IP:PORT peers dial"},
	{"sentry", NODE, false, false, "none",
	 "how peers are found: dns:NAME or NAME (every A/AAAA answer), "
	 "srv:_svc._proto.NAME, or name@host[:port],host:port,..."},
	{"consensus", NODE, false, false, "1",
	 "members needed for ready: N, or majority:N"},
	{"naming", NODE, false, false, "auto",
	 "auto | shortnames | longnames | nonode"},
	{"profile", NODE, false, false, "lan", "timing: lan | local | wan"},
	{"tag", NODE, true, false, "none",
	 "KEY=VALUE member metadata, repeatable; groups=a,b puts this node on "
	 "rings a and b; weight=N multiplies its share"},
	{"ring", NODE, false, false, "default",
	 "placement: default | libring (Elixir libring 1.7 compatible)"},
	{"vnodes", NODE, false, false, "128", "virtual nodes per member"},
	{"discovery-interval", NODE, false, false, "5",
	 "seconds between re-resolutions of the sentry"},
	{"tcp-only", NODE, false, true, "false",
	 "no UDP: every packet over TCP (networks that block UDP)"},
	{"tcp-ping", NODE, false, false, "true",
	 "a probe unanswered in time is also sent over TCP (memberlist's "
	 "TCP ping fallback)"},
	{"key", NODE, false, false, "none",
	 "cluster key: 64 hex digits or base64 of 32 bytes (key-file or "
	 "CLOISTER_KEY: on the command line `ps` shows it)"},
	{"key-file", NODE, false, false, "none",
	 "file holding the cluster key (mode 0600)"},
	{"passphrase", NODE, false, false, "none",
	 "derive the cluster key from a passphrase (like an Erlang cookie); "
	 "give it in CLOISTER_PASSPHRASE or a private config file"},
	{"insecure", NODE, false, true, "false",
	 "allow plaintext gossip on a non-loopback address (no cluster key): "
	 "anyone who can reach the port can then join and drive the node"},
	{"max-members", NODE, false, false, "65536", "bound on the member table"},
	{"tags-max", NODE, false, false, "512", "bound on a member's tags, bytes"},
	{"user-queue-max", NODE, false, false, "1024",
	 "application messages queued each way"},
	{"max-connections", NODE, false, false, "256", "TCP streams open at once"},
	{"max-connections-per-address", NODE, false, false, "16",
	 "inbound TCP streams from one IP address (raise it behind a NAT that "
	 "shows many peers as one address)"},
	{"max-calls", NODE, false, false, "256", "multicalls pending at once"},
	{"protocol-min", NODE, false, false, "2",
	 "oldest protocol version spoken: 1 during a rolling upgrade from the "
	 "release before sealed v2 (deprecated, weaker: see SECURITY.md)"},
	{"http", AGENT, false, false, "127.0.0.1:7947",
	 "control API over HTTP (\"off\" to disable); every request needs the "
	 "token (see token-file); off loopback only with a token given"},
	{"token-file", AGENT, false, false, "generated",
	 "file holding the control API's token (mode 0600; or the token itself "
	 "in CLOISTER_TOKEN, never on the command line).  Without either, a "
	 "random token is written 0600 to $XDG_RUNTIME_DIR/cloister/, "
	 "/run/cloister/ (root) or /tmp/cloister-UID/, as "
	 "http-HOST-PORT.token, where the client commands find it"},
	{"ctl", AGENT, false, false, "off",
	 "control API over a Unix socket at this path: created 0600, serves "
	 "the agent's own user and root, no token"},
	{"probe", AGENT, false, false, "off",
	 "HOST:PORT of a read-only listener serving GET /ready, /health and "
	 "/metrics without a token (readiness and liveness probes, "
	 "Prometheus), with its own connections; e.g. 0.0.0.0:7948"},
	{"stdio", AGENT, false, false, "off",
	 "etf: serve the control API on stdin/stdout as an Erlang port "
	 "({packet,4} frames of external term format); end of input leaves "
	 "the cluster and exits"},
	{"data-dir", AGENT, false, false, "none",
	 "remember known peers here, to rejoin after a restart (created 0700; "
	 "files 0600, never written through a symlink)"},
	{"on-change", AGENT, false, false, "none",
	 "command run on each status change: JSON on stdin (from, to, node, "
	 "sentry, alive, members), CLOISTER_FROM, CLOISTER_TO, CLOISTER_NODE, "
	 "CLOISTER_SENTRY, CLOISTER_ALIVE; output to the log"},
	{"on-member", AGENT, false, false, "none",
	 "command run on each member event: JSON on stdin (event, node, "
	 "member with its tags), CLOISTER_EVENT, CLOISTER_MEMBER, "
	 "CLOISTER_MEMBER_ADDR, CLOISTER_MEMBER_STATUS, CLOISTER_NODE"},
	{"hook-timeout", AGENT, false, false, "10",
	 "seconds before a hook is killed"},
	{"log-level", AGENT, false, false, "info", "error | warn | info | debug"},
	{"log-format", AGENT, false, false, "logfmt", "logfmt | json"},
	{"config", AGENT, false, false, "none",
	 "a file of `setting = value` lines, or a JSON object when its name "
	 "ends in .json ({\"tag\": [\"groups=a,b\"], \"consensus\": 3}); "
	 "flags win, then the environment, then the files; refused if others "
	 "may write it, or read it when it holds a key or passphrase"},
	{"config-dir", AGENT, false, false, "none",
	 "a directory whose *.json and *.conf files are read in lexical order "
	 "after --config (later files win; repeatable settings add up), with "
	 "the same checks"},
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

void agent_usage(FILE *out)
{
	fprintf(out,
		"usage: cloister agent [--SETTING VALUE]...\n\n"
		"Runs a cluster node beside your service: membership, readiness,\n"
		"placement, messages and events over HTTP, a Unix socket and hooks.\n"
		"Each setting is also read from CLOISTER_SETTING (dashes become\n"
		"underscores; a repeatable one takes one value per line), from\n"
		"--config FILE (setting = value lines, or JSON for a .json file)\n"
		"and from --config-dir DIR.  Flags are --NAME V or --NAME=V.\n"
		"SIGTERM/SIGINT leave the cluster gracefully; SIGHUP re-reads\n"
		"every key source (installed beside the current keys) and the log\n"
		"level, flags still winning.  `cloister run` is the same agent as\n"
		"a container's entry point, supervising a service.\n\n"
		"The control API obeys holders of its token over HTTP: the token\n"
		"in CLOISTER_TOKEN (16 to 256 visible characters) or a token-file,\n"
		"else one generated at start (see --token-file), which the client\n"
		"commands find when run as the agent's user; over the Unix socket,\n"
		"its owner.  Requests from web pages (an Origin, a foreign Host, a\n"
		"POST that is not JSON) are refused.\n\n");
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		char flag[64];
		snprintf(flag, sizeof flag, "--%s%s", s->name,
			 s->is_flag ? "" : " V");
		fprintf(out, "  %-24s %s\n  %-24s [default: %s]%s\n", flag,
			s->help, "", s->def, s->repeat ? " (repeatable)" : "");
	}
}

size_t agent_settings_count(void)
{
	return N_SETTINGS;
}

void agent_setting_doc(size_t i, struct agent_setting_doc *out)
{
	const struct setting *s = &settings[i < N_SETTINGS ? i : 0];
	*out = (struct agent_setting_doc){s->name, s->def, s->help, s->is_flag,
					  s->repeat};
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].name, name))
			return &settings[i];
	return NULL;
}

static void node_key(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s", name);
	for (char *p = out; *p; p++)
		if (*p == '-')
			*p = '_';
}

static int set(agent_options *o, const struct setting *s, const char *value,
	       const char *origin)
{
	if (s->scope == NODE) {
		if (o->n_node == sizeof o->node / sizeof o->node[0]) {
			fprintf(stderr, "cloister agent: too many settings (%s)\n",
				origin);
			return 2;
		}
		if (strlen(value) >= sizeof o->node[0].value) {
			fprintf(stderr, "cloister agent: %s: value too long (%s)\n",
				s->name, origin);
			return 2;
		}
		node_key(s->name, o->node[o->n_node].key, sizeof o->node[0].key);
		strcpy(o->node[o->n_node].value, value);
		o->n_node++;
		return 0;
	}
	char *dst = NULL;
	size_t cap = 0;
	if (!strcmp(s->name, "http")) {
		dst = o->http;
		cap = sizeof o->http;
	} else if (!strcmp(s->name, "ctl")) {
		dst = o->ctl;
		cap = sizeof o->ctl;
	} else if (!strcmp(s->name, "probe")) {
		dst = o->probe;
		cap = sizeof o->probe;
	} else if (!strcmp(s->name, "token-file")) {
		dst = o->token_file;
		cap = sizeof o->token_file;
	} else if (!strcmp(s->name, "stdio")) {
		if (strcmp(value, "etf") && strcmp(value, "off")) {
			fprintf(stderr, "cloister agent: stdio \"%s\": etf or off "
					"(%s)\n", value, origin);
			return 2;
		}
		o->stdio_etf = !strcmp(value, "etf");
		return 0;
	} else if (!strcmp(s->name, "data-dir")) {
		dst = o->data_dir;
		cap = sizeof o->data_dir;
	} else if (!strcmp(s->name, "on-change")) {
		dst = o->on_change;
		cap = sizeof o->on_change;
	} else if (!strcmp(s->name, "on-member")) {
		dst = o->on_member;
		cap = sizeof o->on_member;
	} else if (!strcmp(s->name, "config")) {
		dst = o->config_file;
		cap = sizeof o->config_file;
	} else if (!strcmp(s->name, "config-dir")) {
		dst = o->config_dir;
		cap = sizeof o->config_dir;
	} else if (!strcmp(s->name, "hook-timeout")) {
		char *end;
		long v = strtol(value, &end, 10);
		if (!*value || *end || v < 1 || v > 3600) {
			fprintf(stderr, "cloister agent: hook-timeout \"%s\": 1 to "
					"3600 seconds (%s)\n", value, origin);
			return 2;
		}
		o->hook_timeout_s = (int)v;
		return 0;
	} else if (!strcmp(s->name, "log-level")) {
		static const char *const lv[] = {"error", "warn", "info", "debug"};
		for (int i = 0; i < 4; i++)
			if (!strcmp(value, lv[i])) {
				o->log_level = i;
				return 0;
			}
		fprintf(stderr, "cloister agent: log-level \"%s\": error, warn, "
				"info or debug (%s)\n", value, origin);
		return 2;
	} else if (!strcmp(s->name, "log-format")) {
		if (strcmp(value, "logfmt") && strcmp(value, "json")) {
			fprintf(stderr, "cloister agent: log-format \"%s\": logfmt "
					"or json (%s)\n", value, origin);
			return 2;
		}
		o->log_json = !strcmp(value, "json");
		return 0;
	}
	if (!dst || strlen(value) >= cap) {
		fprintf(stderr, "cloister agent: %s: value too long (%s)\n",
			s->name, origin);
		return 2;
	}
	strcpy(dst, !strcmp(value, "off") ? "" : value);
	return 0;
}

static char *opt_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Settings whose value is a secret: a file holding one must be private. */
static bool secret_setting(const char *name)
{
	return !strcmp(name, "key") || !strcmp(name, "passphrase");
}

/* One setting from a file: the same checks for both formats. */
static int file_setting(agent_options *o, const char *name, const char *value,
			const char *path, int lineno, unsigned mode)
{
	const struct setting *s = find(name);
	if (!s || !strcmp(name, "config") || !strcmp(name, "config-dir")) {
		fprintf(stderr, "%s:%d: unknown setting \"%s\"; "
				"`cloister agent --help` lists them\n",
			path, lineno, name);
		return 2;
	}
	if (secret_setting(s->name) && (mode & 044)) {
		fprintf(stderr, "%s:%d: this file holds a %s and is readable "
				"by %s (mode %04o): anyone who reads it can "
				"join the cluster and read its traffic; "
				"refusing it.  Make it private (chmod 600 %s; "
				"in Kubernetes, defaultMode: 0400 on the "
				"volume) or move the key to key-file\n",
			path, lineno, s->name,
			mode & 004 ? "every user" : "its group", mode & 07777,
			path);
		return 2;
	}
	char origin[AGENT_PATH_MAX + 16];
	snprintf(origin, sizeof origin, "%s:%d", path, lineno);
	if (s->is_flag && !*value)
		value = "true";
	return set(o, s, value, origin);
}

/* "key = value" or "key value" lines; '#' starts a comment line. */
static int parse_kv(agent_options *o, const char *text, size_t len,
		    const char *path, unsigned mode)
{
	char line[2048];
	int lineno = 0, e = 0;
	size_t pos = 0;
	while (!e && pos < len) {
		lineno++;
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl != NULL);
		if (n >= sizeof line - 1) {
			fprintf(stderr, "%s:%d: line too long (max %zu)\n", path,
				lineno, sizeof line - 2);
			e = 2;
			break;
		}
		if (memchr(start, '\0', n)) {
			fprintf(stderr, "%s:%d: a NUL byte in the line\n", path,
				lineno);
			e = 2;
			break;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		char *l = opt_trim(line);
		if (!*l || *l == '#')
			continue;
		char *sep = l + strcspn(l, "= \t");
		char *value = sep;
		if (*sep) {
			char c = *sep;
			*sep = '\0';
			value = opt_trim(sep + 1);
			if (c != '=' && *value == '=')
				value = opt_trim(value + 1);
		}
		e = file_setting(o, l, value, path, lineno, mode);
	}
	/* The line buffer held the secret. */
	sodium_memzero(line, sizeof line);
	return e;
}

/* A JSON scalar as the text a flag would carry. */
static bool json_scalar(const json_t *v, char *out, size_t cap)
{
	int n;
	if (json_is_string(v))
		n = snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		n = snprintf(out, cap, "%" JSON_INTEGER_FORMAT,
			     json_integer_value(v));
	else if (json_is_boolean(v))
		n = snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
	else
		return false;
	return n >= 0 && (size_t)n < cap;
}

/* {"setting": value, ...}: a string, integer or boolean; for a repeatable
 * setting also an array of them, and for "tag" an object of KEY: VALUE
 * (Serf's "tags" layout, accepted under both names).  No line numbers in
 * JSON: errors name the setting (the "line" is 1). */
static int parse_json(agent_options *o, const char *text, size_t len,
		      const char *path, unsigned mode)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		fprintf(stderr, "%s:%d:%d: not valid JSON: %s\n", path, err.line,
			err.column, err.text);
		return 2;
	}
	if (!json_is_object(root)) {
		fprintf(stderr, "%s: a JSON config file is one object of "
				"settings ({\"app\": \"shop\", ...})\n", path);
		json_decref(root);
		return 2;
	}
	int e = 0;
	const char *key;
	json_t *v;
	char value[1100], pair[1100];
	json_object_foreach(root, key, v) {
		const char *name = !strcmp(key, "tags") ? "tag" : key;
		const struct setting *s = find(name);
		if (json_is_object(v) && s && !strcmp(s->name, "tag")) {
			const char *k;
			json_t *tv;
			json_object_foreach(v, k, tv) {
				if (!json_scalar(tv, value, sizeof value)) {
					fprintf(stderr, "%s: tag \"%s\": a string "
							"value\n", path, k);
					e = 2;
					break;
				}
				int n = snprintf(pair, sizeof pair, "%s=%s", k, value);
				e = n < 0 || (size_t)n >= sizeof pair
					    ? (fprintf(stderr, "%s: tag \"%.40s\": "
							       "too long\n", path, k), 2)
					    : file_setting(o, name, pair, path, 1, mode);
				if (e)
					break;
			}
		} else if (json_is_array(v) && s && s->repeat) {
			size_t i;
			json_t *item;
			json_array_foreach(v, i, item) {
				if (!json_scalar(item, value, sizeof value)) {
					fprintf(stderr, "%s: \"%s\"[%zu]: a string, "
							"number or boolean\n",
						path, key, i);
					e = 2;
					break;
				}
				e = file_setting(o, name, value, path, 1, mode);
				if (e)
					break;
			}
		} else if (json_scalar(v, value, sizeof value)) {
			e = file_setting(o, name, value, path, 1, mode);
		} else {
			fprintf(stderr, "%s: \"%s\": a string, number or boolean%s\n",
				path, key,
				s && s->repeat ? ", or an array of them" : "");
			e = 2;
		}
		if (e)
			break;
	}
	sodium_memzero(value, sizeof value);
	sodium_memzero(pair, sizeof pair);
	/* jansson's own copies of the strings are freed without being
	 * wiped: keep secrets in key-file rather than a JSON file. */
	json_decref(root);
	return e;
}

static bool is_json_name(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && !strcmp(path + n - 5, ".json");
}

int agent_options_parse_text(agent_options *o, const char *text, size_t len,
			     const char *path, bool json, unsigned mode)
{
	return json ? parse_json(o, text, len, path, mode)
		    : parse_kv(o, text, len, path, mode);
}

#define CONFIG_FILE_MAX (1 << 20)

static int load_file(agent_options *o, const char *path)
{
	/* Checked on the open descriptor, as ssh checks its files: a file
	 * others may write could set on-change to run their commands as this
	 * agent; one holding a key must be readable by its owner only.  Not
	 * a FIFO or device either (O_NONBLOCK: no hang in open). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "cloister agent: cannot read config file %s: %s\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "cloister agent: config file %s is not a regular "
				"file\n", path);
		close(fd);
		return 2;
	}
	if (st.st_mode & 022) {
		fprintf(stderr, "cloister agent: config file %s is writable by "
				"%s (mode %04o): they could make this agent run "
				"their commands (on-change) or join their cluster; "
				"refusing it (chmod go-w %s)\n",
			path, st.st_mode & 002 ? "every user" : "its group",
			(unsigned)(st.st_mode & 07777), path);
		close(fd);
		return 2;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		fprintf(stderr, "cloister agent: config file %s belongs to user "
				"%u, neither this agent's user nor root: that user "
				"could rewrite it; refusing it\n",
			path, (unsigned)st.st_uid);
		close(fd);
		return 2;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		fprintf(stderr, "cloister agent: config file %s is over %d "
				"bytes\n", path, CONFIG_FILE_MAX);
		close(fd);
		return 2;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *text = malloc(cap);
	if (!text) {
		close(fd);
		return 2;
	}
	/* Read to its end, bounded: the file may have grown since fstat. */
	for (;;) {
		ssize_t n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "cloister agent: cannot read config file "
					"%s: %s\n", path, strerror(errno));
			sodium_memzero(text, len);
			free(text);
			close(fd);
			return 2;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			fprintf(stderr, "cloister agent: config file %s changed "
					"while being read\n", path);
			sodium_memzero(text, len);
			free(text);
			close(fd);
			return 2;
		}
	}
	close(fd);
	int e = agent_options_parse_text(o, text, len, path, is_json_name(path),
					 (unsigned)st.st_mode);
	/* The text held any secret. */
	sodium_memzero(text, cap);
	free(text);
	return e;
}

static int name_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Serf's layout: every *.json and *.conf of the directory, in lexical
 * order, each as a --config file.  The directory itself must not be
 * writable by others: they could add a file. */
static int load_dir(agent_options *o, const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cloister agent: config-dir %s: %s\n", dir,
			errno && !S_ISDIR(st.st_mode) ? strerror(errno)
						      : "not a directory");
		return 2;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		fprintf(stderr, "cloister agent: config-dir %s is writable by "
				"other users (mode %04o), who could add settings; "
				"refusing it (chmod go-w %s)\n",
			dir, (unsigned)(st.st_mode & 07777), dir);
		return 2;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		fprintf(stderr, "cloister agent: config-dir %s belongs to user %u, "
				"neither this agent's user nor root; refusing it\n",
			dir, (unsigned)st.st_uid);
		return 2;
	}
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cloister agent: config-dir %s: %s\n", dir,
			strerror(errno));
		return 2;
	}
	char *names[256];
	size_t n = 0;
	int e = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' ||
		    !((len > 5 && !strcmp(de->d_name + len - 5, ".json")) ||
		      (len > 5 && !strcmp(de->d_name + len - 5, ".conf"))))
			continue;
		if (n == sizeof names / sizeof names[0]) {
			fprintf(stderr, "cloister agent: config-dir %s: over %zu "
					"files\n", dir, n);
			e = 2;
			break;
		}
		if (!(names[n] = strdup(de->d_name))) {
			e = 2;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_order);
	for (size_t i = 0; i < n; i++) {
		char path[AGENT_PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (!e)
			e = load_file(o, path);
		free(names[i]);
	}
	return e;
}

static int load_env(agent_options *o)
{
	/* The token itself comes from the environment only: not a setting,
	 * so never on a command line (where `ps` shows it) nor in a config
	 * file by mistake. */
	const char *tok = getenv("CLOISTER_TOKEN");
	if (tok && *tok) {
		if (!cl_token_ok(tok, strlen(tok))) {
			fprintf(stderr, "cloister agent: CLOISTER_TOKEN is not a "
					"usable token: %u to %u visible ASCII "
					"characters, no spaces (cloister keygen "
					"makes one)\n",
				CL_TOKEN_MIN, CL_TOKEN_MAX);
			return 2;
		}
		snprintf(o->token, sizeof o->token, "%s", tok);
	}
	for (size_t i = 0; i < N_SETTINGS; i++) {
		char env[64] = "CLOISTER_";
		size_t n = strlen(env);
		for (const char *p = settings[i].name; *p && n < sizeof env - 1; p++)
			env[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		env[n] = '\0';
		const char *v = getenv(env);
		if (!v || !strcmp(settings[i].name, "config"))
			continue;
		if (!strcmp(settings[i].name, "config-dir"))
			continue;
		if (settings[i].repeat) {
			/* Repeatable settings: one per line, since a value may
			 * hold commas (CLOISTER_TAG=$'groups=a,b\nzone=x'). */
			for (const char *p = v; *p;) {
				size_t len = strcspn(p, "\n");
				char one[1100];
				if (len >= sizeof one) {
					fprintf(stderr, "cloister agent: %s: a line "
							"over %zu bytes\n",
						env, sizeof one - 1);
					return 2;
				}
				memcpy(one, p, len);
				one[len] = '\0';
				char *t = opt_trim(one);
				if (*t) {
					int e = set(o, &settings[i], t, env);
					if (e)
						return e;
				}
				p += len + (p[len] == '\n');
			}
			continue;
		}
		int e = set(o, &settings[i], v, env);
		if (e)
			return e;
	}
	return 0;
}

static int load(agent_options *o, int argc, char **argv, bool warn)
{
	/* Entries of node[] past n_node are never read; leaving them
	 * untouched keeps ~100 KB of pages out of an idle agent's RSS. */
	memset(o, 0, offsetof(agent_options, node));
	o->n_node = 0;
	strcpy(o->http, "127.0.0.1:7947");
	o->hook_timeout_s = 10;
	o->log_level = CLOISTER_LOG_INFO;

	/* --config and --config-dir (or CLOISTER_CONFIG, CLOISTER_CONFIG_DIR)
	 * first: the files are the lowest layer. */
	const char *file = getenv("CLOISTER_CONFIG");
	const char *dir = getenv("CLOISTER_CONFIG_DIR");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			agent_usage(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			file = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
		else if (!strcmp(argv[i], "--config-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strncmp(argv[i], "--config-dir=", 13))
			dir = argv[i] + 13;
	}
	int e = 0;
	if (file && *file) {
		snprintf(o->config_file, sizeof o->config_file, "%s", file);
		e = load_file(o, file);
	}
	if (!e && dir && *dir) {
		snprintf(o->config_dir, sizeof o->config_dir, "%s", dir);
		e = load_dir(o, dir);
	}
	if (!e)
		e = load_env(o);
	for (int i = 1; !e && i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "cloister agent: unexpected argument \"%s\"; "
					"settings are --NAME VALUE\n", a);
			return 2;
		}
		char name[64];
		const char *value = NULL;
		const char *eq = strchr(a + 2, '=');
		size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nlen >= sizeof name) {
			fprintf(stderr, "cloister agent: unknown setting %s\n", a);
			return 2;
		}
		memcpy(name, a + 2, nlen);
		name[nlen] = '\0';
		const struct setting *s = find(name);
		if (!s) {
			fprintf(stderr, "cloister agent: unknown setting --%s; "
					"`cloister agent --help` lists them\n", name);
			return 2;
		}
		if (eq) {
			value = eq + 1;
		} else if (s->is_flag) {
			value = "true";
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			fprintf(stderr, "cloister agent: --%s needs a value\n", name);
			return 2;
		}
		if (!strcmp(name, "config") || !strcmp(name, "config-dir"))
			continue; /* already loaded */
		if (warn && secret_setting(name))
			fprintf(stderr,
				"cloister agent: warning: --%s on the command line "
				"is visible to every user of this machine (ps, "
				"/proc/PID/cmdline) and may stay in shell "
				"history; give it as %s, or a line of a private "
				"--config file\n",
				name,
				!strcmp(name, "key")
					? "key-file FILE (mode 0600) or CLOISTER_KEY"
					: "CLOISTER_PASSPHRASE");
		e = set(o, s, value, "command line");
	}
	return e;
}

int agent_options_load(agent_options *o, int argc, char **argv)
{
	return load(o, argc, argv, true);
}

int agent_options_reload(agent_options *o, int argc, char **argv)
{
	return load(o, argc, argv, false);
}

const char *agent_option(const agent_options *o, const char *key)
{
	const char *v = "";
	for (size_t i = 0; i < o->n_node; i++)
		if (!strcmp(o->node[i].key, key))
			v = o->node[i].value;
	return v;
}

int agent_options_apply(const agent_options *o, cloister_config_t *cfg)
{
	/* app first: a passphrase is salted with it, wherever it was set. */
	const char *app = agent_option(o, "app");
	if (*app && cloister_config_set(cfg, "app", app) != 0) {
		fprintf(stderr, "cloister agent: %s\n", cloister_config_error(cfg));
		return 2;
	}
	for (size_t i = 0; i < o->n_node; i++) {
		if (cloister_config_set(cfg, o->node[i].key, o->node[i].value) != 0) {
			fprintf(stderr, "cloister agent: %s\n",
				cloister_config_error(cfg));
			return 2;
		}
	}
	return 0;
}
