/*
 * options.h — the agent's settings: flags, CLOISTER_* environment
 * variables and a config file, in that order of precedence.
 *
 * Every setting has one name, used everywhere: `--consensus 3`,
 * `CLOISTER_CONSENSUS=3`, `consensus = 3` in the file.  Node settings go
 * to cloister_config_set() under the same name (dashes become
 * underscores); agent settings (http, ctl, hooks, ...) stay here.
 */
#ifndef CLOISTER_AGENT_OPTIONS_H
#define CLOISTER_AGENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cloister.h"

#define AGENT_TAGS_MAX 64
#define AGENT_PATH_MAX 512

typedef struct agent_options {
	/* Agent-only settings. */
	char http[128];           /* "127.0.0.1:7947", "" = off */
	char ctl[AGENT_PATH_MAX]; /* Unix socket path, "" = off */
	char probe[128];          /* read-only /ready, /health, /metrics; "" = off */
	char token_file[AGENT_PATH_MAX]; /* the control API's token, from a file */
	char token[257];          /* ... or CLOISTER_TOKEN (never a flag) */
	bool stdio_etf;           /* --stdio etf: an Erlang port */
	char data_dir[AGENT_PATH_MAX];
	char on_change[1024];
	char on_member[1024];
	int hook_timeout_s;
	int log_level;            /* CLOISTER_LOG_* */
	bool log_json;
	char config_file[AGENT_PATH_MAX];
	char config_dir[AGENT_PATH_MAX];
	/* Node settings, as (key, value) pairs in the order they apply. */
	struct {
		char key[32];
		char value[1024];
	} node[96];
	size_t n_node;
} agent_options;

/* Reads defaults, then the config file (if --config or CLOISTER_CONFIG
 * names one), then the environment, then argv.  Returns 0, 1 when --help
 * was printed, or 2 on an error (message printed to stderr). */
int agent_options_load(agent_options *o, int argc, char **argv);

/* The same, for SIGHUP: with the command line the agent started with,
 * so flags keep winning; warnings given at start are not repeated. */
int agent_options_reload(agent_options *o, int argc, char **argv);

/* One config file's text: `key = value` lines, or a JSON object when
 * json.  mode is the file's st_mode (a secret in a file others may read
 * is refused).  0, or 2 with the error printed (path:line first). */
int agent_options_parse_text(agent_options *o, const char *text, size_t len,
			     const char *path, bool json, unsigned mode);

/* Applies the node settings to cfg: 0, or 2 with the error printed. */
int agent_options_apply(const agent_options *o, cloister_config_t *cfg);

/* A node setting's current value ("" if unset); last one wins. */
const char *agent_option(const agent_options *o, const char *key);

void agent_usage(FILE *out);

/* The settings table --help prints, for the man page and the shell
 * completion (src/cli/cmd_docs.c). */
struct agent_setting_doc {
	const char *name, *def, *help;
	bool is_flag, repeat;
};
size_t agent_settings_count(void);
void agent_setting_doc(size_t i, struct agent_setting_doc *out);

#endif
