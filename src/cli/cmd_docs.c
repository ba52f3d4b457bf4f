/*
 * cmd_docs.c — `cloister manpage` and `cloister completion bash|zsh`.
 *
 * Both are generated from what --help prints, so neither can drift from
 * the parsers: the commands from main.c's table, the agent's settings
 * from options.c's table (the one `cloister agent --help` prints), and
 * every other command's options from its own --help text, captured here
 * by running the command's --help in this process.  The build runs these
 * to make docs/cloister.1 and the completion files it installs;
 * tests/cli/test_docs.sh checks every flag of every --help against them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/options.h"
#include "cli.h"
#include "cloister.h"

#define HELP_MAX (64 * 1024)
#define FLAGS_MAX 64
#define FLAG_LEN 40

/* The command's --help text, as it prints it; NULL if it printed none. */
static char *capture_help(const struct cli_command *c)
{
	FILE *tmp = tmpfile();
	if (!tmp)
		return NULL;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		fclose(tmp);
		return NULL;
	}
	char name[64], help[] = "--help";
	snprintf(name, sizeof name, "%s", c->name);
	char *argv[] = {name, help, NULL};
	c->run(2, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char *text = calloc(1, HELP_MAX + 1);
	if (text && fseek(tmp, 0, SEEK_SET) == 0) {
		size_t n = fread(text, 1, HELP_MAX, tmp);
		text[n] = '\0';
	}
	fclose(tmp);
	if (text && !*text) {
		free(text);
		return NULL;
	}
	return text;
}

/* The options a help text names: "--word" (lower case, digits, dashes)
 * and "-x" (one lower-case letter), each standing alone (after a space,
 * '[', '(' or ',' and before a space, ']', ')', ',', '=' or the end).
 * Upper-case placeholders (--SETTING) and quoted examples ("-x") are not
 * options.  tests/cli/test_docs.sh extracts them the same way. */
static size_t help_flags(const char *text, char out[][FLAG_LEN], size_t max)
{
	size_t n = 0;
	for (const char *p = text; *p && n < max; p++) {
		if (*p != '-')
			continue;
		char before = p == text ? ' ' : p[-1];
		if (!strchr(" \t\n[(,", before))
			continue;
		const char *q = p + 1;
		bool lng = *q == '-';
		if (lng)
			q++;
		if (!islower((unsigned char)*q))
			continue;
		const char *e = q + 1;
		if (lng)
			while (islower((unsigned char)*e) || isdigit((unsigned char)*e) ||
			       *e == '-')
				e++;
		if (*e && !strchr(" \t\n]),=", *e))
			continue;
		size_t len = (size_t)(e - p);
		if (len >= FLAG_LEN)
			continue;
		bool seen = false;
		for (size_t i = 0; i < n && !seen; i++)
			seen = strlen(out[i]) == len && !memcmp(out[i], p, len);
		if (!seen) {
			memcpy(out[n], p, len);
			out[n][len] = '\0';
			n++;
		}
		p = e - 1;
	}
	return n;
}

/* The words a command takes first, from its usage lines ("cloister
 * keys list", "cloister keys install|use|remove ...", "cloister wait
 * ready"): lower-case literals right after the command's name, in the
 * block that starts at "usage:" and ends at the first empty line. */
static size_t sub_words(const char *help, const char *cmd, char out[][FLAG_LEN],
			size_t max)
{
	size_t n = 0;
	const char *line = strstr(help, "usage: cloister ");
	char prefix[80];
	snprintf(prefix, sizeof prefix, "cloister %s ", cmd);
	while (line && *line && *line != '\n' && n < max) {
		const char *p = line;
		while (*p == ' ')
			p++;
		if (!strncmp(p, "usage: ", 7))
			p += 7;
		if (!strncmp(p, prefix, strlen(prefix))) {
			p += strlen(prefix);
			const char *e = p;
			while (islower((unsigned char)*e) || *e == '-' || *e == '|')
				e++;
			bool literal = e > p && islower((unsigned char)*p) &&
				       (*e == ' ' || *e == '\n' || !*e);
			for (const char *w = p; literal && w < e && n < max;) {
				const char *we = w;
				while (we < e && *we != '|')
					we++;
				size_t len = (size_t)(we - w);
				bool seen = len == 0 || len >= FLAG_LEN;
				for (size_t i = 0; i < n && !seen; i++)
					seen = strlen(out[i]) == len && !memcmp(out[i], w, len);
				if (!seen) {
					memcpy(out[n], w, len);
					out[n++][len] = '\0';
				}
				w = we < e ? we + 1 : e;
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

/* The choices a setting's help lists as "a | b | c" (log levels,
 * profiles): written space-separated to out, "" when none. */
static void choices(const char *help, char *out, size_t cap)
{
	out[0] = '\0';
	const char *bar = strstr(help, " | ");
	if (!bar)
		return;
	const char *start = bar;
	while (start > help && (isalnum((unsigned char)start[-1]) || start[-1] == '-'))
		start--;
	size_t len = 0;
	for (const char *p = start; *p;) {
		const char *w = p;
		while (isalnum((unsigned char)*p) || *p == '-')
			p++;
		if (p == w || len + (size_t)(p - w) + 2 > cap)
			break;
		if (len)
			out[len++] = ' ';
		memcpy(out + len, w, (size_t)(p - w));
		len += (size_t)(p - w);
		out[len] = '\0';
		if (strncmp(p, " | ", 3) != 0)
			break;
		p += 3;
	}
}

/* Settings whose value is a path: config, ctl, *-file, *-dir. */
static bool takes_path(const char *name)
{
	size_t n = strlen(name);
	return !strcmp(name, "config") || !strcmp(name, "ctl") ||
	       (n > 5 && !strcmp(name + n - 5, "-file")) ||
	       (n > 4 && !strcmp(name + n - 4, "-dir"));
}

/* ------------------------------------------------------------------ */
/* roff                                                                */
/* ------------------------------------------------------------------ */

/* Text as roff: backslashes and dashes escaped, a leading '.' or '\''
 * made literal. */
static void roff(FILE *out, const char *s, bool line_start)
{
	for (; *s; s++) {
		if (line_start && (*s == '.' || *s == '\''))
			fputs("\\&", out);
		line_start = *s == '\n';
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

static const char man_description[] =
	"Services that scale out need their instances to find each other, "
	"agree that the cluster is up, and split work deterministically "
	"while containers come and go.  A cloister node does that by SWIM "
	"gossip with the Lifeguard refinements: membership, a consensus of "
	"N members that makes the cluster ready, consistent hash rings, "
	"named messages and an elected sentry.\n"
	"The agent (cloister agent) runs one node beside any service and "
	"serves a control API over HTTP (token required) and a Unix socket; "
	"the client commands talk to it.  C programs embed the node with "
	"libcloister (cloister.h, pkg-config cloister, or CMake "
	"find_package(cloister)).\n";

static const char man_tail[] =
	".SH ENVIRONMENT\n"
	"Every agent setting is also read from CLOISTER_\\fISETTING\\fR "
	"(upper case, dashes become underscores): flags win, then the "
	"environment, then the config file.  CLOISTER_TOKEN holds the "
	"control API's token (never a flag).  The client commands find the "
	"agent by CLOISTER_CTL or CLOISTER_HTTP and send CLOISTER_TOKEN "
	"or the token of CLOISTER_TOKEN_FILE.  Under systemd the agent "
	"reports to NOTIFY_SOCKET and pings the watchdog when WATCHDOG_USEC "
	"is set.\n"
	".SH SIGNALS\n"
	"SIGTERM and SIGINT make the agent leave gracefully (peers see "
	"\\fIleft\\fR, not \\fIfailed\\fR).  SIGHUP reads the settings "
	"again, installs every key source's key beside the installed ones "
	"and applies the log level.\n"
	".SH EXIT STATUS\n"
	"Client commands: 0 done; 1 the agent refused or the wait failed; 2 "
	"usage error; 3 no agent could be reached.\n"
	".SH FILES\n"
	".TP\n"
	".I $XDG_RUNTIME_DIR/cloister/http\\-HOST\\-PORT.token\n"
	"The control API's generated token (/run/cloister/ for root, "
	"/tmp/cloister\\-UID/ otherwise), where the client commands find "
	"it.\n"
	".TP\n"
	".I /etc/cloister/key\n"
	"The cluster key in the sample unit (cloister keygen; mode 0600).\n"
	".SH SEE ALSO\n"
	"The README, SECURITY.md and docs/ of the cloister sources; "
	"systemd.service(5) for the sample unit cloister.service.\n";

static int manpage(void)
{
	size_t n;
	const struct cli_command *cmds = cli_commands(&n);
	FILE *out = stdout;
	/* No date: the page is rebuilt with the binary and packaged
	 * reproducibly; the version says which one it is. */
	fprintf(out,
		".\\\" Generated by `cloister manpage` from the tables that "
		"`--help` prints; do not edit.\n"
		".TH CLOISTER 1 \"\" \"cloister %s\" \"User Commands\"\n"
		".SH NAME\n"
		"cloister \\- easy cluster management: membership, readiness "
		"and hash rings for services that scale out\n"
		".SH SYNOPSIS\n"
		".B cloister\n.I command\n.RI [ options ]\n.br\n"
		".B cloister agent\n.RB [ \\-\\-\\fISETTING\\fR\\ \\fIVALUE\\fR ]...\n"
		".br\n.B cloister \\-\\-version\n"
		".SH DESCRIPTION\n",
		cloister_version());
	for (const char *p = man_description; *p;) {
		const char *e = strchr(p, '\n');
		char para[2048];
		snprintf(para, sizeof para, "%.*s\n", (int)(e - p), p);
		fputs(".PP\n", out);
		roff(out, para, true);
		p = e + 1;
	}
	fputs(".SH COMMANDS\n", out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, ".TP\n.B ");
		roff(out, cmds[i].name, false);
		fputc('\n', out);
		roff(out, cmds[i].summary, true);
		fputc('\n', out);
	}
	fputs(".SH AGENT SETTINGS\n"
	      "Each setting is a flag, an environment variable or a line of "
	      "the config file.\n",
	      out);
	size_t ns = agent_settings_count();
	for (size_t i = 0; i < ns; i++) {
		struct agent_setting_doc d;
		agent_setting_doc(i, &d);
		fputs(".TP\n.B \\-\\-", out);
		roff(out, d.name, false);
		if (!d.is_flag)
			fputs(" \\fIVALUE\\fR", out);
		fputc('\n', out);
		roff(out, d.help, true);
		fputs("\n.br\nDefault: ", out);
		roff(out, d.def, false);
		fputs(d.repeat ? "; repeatable" : "", out);
		fputs(".  Environment: CLOISTER_", out);
		for (const char *p = d.name; *p; p++)
			fputc(*p == '-' ? '_' : toupper((unsigned char)*p), out);
		fputs(".\n", out);
	}
	fputs(".SH COMMAND OPTIONS\n"
	      "Each command's own help, as `cloister COMMAND \\-\\-help` "
	      "prints it.\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(cmds[i].name, "agent"))
			continue; /* its settings have their own section */
		char *help = capture_help(&cmds[i]);
		if (!help)
			continue;
		fputs(".SS ", out);
		roff(out, cmds[i].name, false);
		fputs("\n.nf\n", out);
		roff(out, help, true);
		fputs(".fi\n", out);
		free(help);
	}
	fputs(man_tail, out);
	return ferror(out) ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Completion                                                          */
/* ------------------------------------------------------------------ */

static void bash_words(FILE *out, char flags[][FLAG_LEN], size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? " " : "", flags[i]);
}

/* The words a command takes first (sub_words), "" separated by spaces. */
static void command_words(const struct cli_command *c, char *out, size_t cap)
{
	static char words[FLAGS_MAX][FLAG_LEN];
	out[0] = '\0';
	if (!strcmp(c->name, "agent"))
		return;
	char *help = capture_help(c);
	size_t n = help ? sub_words(help, c->name, words, FLAGS_MAX) : 0;
	free(help);
	size_t len = 0;
	for (size_t i = 0; i < n && len + strlen(words[i]) + 2 < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "",
					words[i]);
}

static size_t command_flags(const struct cli_command *c, char flags[][FLAG_LEN])
{
	size_t n = 0;
	if (!strcmp(c->name, "agent")) {
		size_t ns = agent_settings_count();
		for (size_t i = 0; i < ns && n < FLAGS_MAX - 1; i++) {
			struct agent_setting_doc d;
			agent_setting_doc(i, &d);
			snprintf(flags[n++], FLAG_LEN, "--%s", d.name);
		}
		snprintf(flags[n++], FLAG_LEN, "--help");
		return n;
	}
	char *help = capture_help(c);
	if (help)
		n = help_flags(help, flags, FLAGS_MAX - 1);
	free(help);
	bool has_help = false;
	for (size_t i = 0; i < n; i++)
		has_help |= !strcmp(flags[i], "--help");
	if (!has_help)
		snprintf(flags[n++], FLAG_LEN, "--help");
	return n;
}

static int completion_bash(void)
{
	size_t n;
	const struct cli_command *cmds = cli_commands(&n);
	FILE *out = stdout;
	static char flags[FLAGS_MAX][FLAG_LEN];
	fputs("# bash completion for cloister.  Generated by `cloister completion "
	      "bash`\n# from the tables that --help prints; do not edit.\n"
	      "_cloister()\n{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	      "prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tif ((COMP_CWORD == 1)); then\n"
	      "\t\tCOMPREPLY=($(compgen -W '--help --version",
	      out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s", cmds[i].name);
	fputs("' -- \"$cur\"))\n\t\treturn\n\tfi\n", out);
	/* Values: paths, and the choices a setting's help lists. */
	fputs("\tcase ${COMP_WORDS[1]}:$prev in\n", out);
	size_t ns = agent_settings_count();
	fputs("\t*:--config | *:--ctl | *:--token-file | *:--key-file", out);
	for (size_t i = 0; i < ns; i++) {
		struct agent_setting_doc d;
		agent_setting_doc(i, &d);
		if (takes_path(d.name) && strcmp(d.name, "config") &&
		    strcmp(d.name, "ctl") && strcmp(d.name, "token-file") &&
		    strcmp(d.name, "key-file"))
			fprintf(out, " | agent:--%s", d.name);
	}
	fputs(")\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\treturn ;;\n", out);
	for (size_t i = 0; i < ns; i++) {
		struct agent_setting_doc d;
		char ch[256];
		agent_setting_doc(i, &d);
		choices(d.help, ch, sizeof ch);
		if (ch[0])
			fprintf(out,
				"\tagent:--%s)\n\t\tCOMPREPLY=($(compgen -W '%s' -- "
				"\"$cur\"))\n\t\treturn ;;\n",
				d.name, ch);
	}
	fputs("\tesac\n\tlocal opts\n\tcase ${COMP_WORDS[1]} in\n", out);
	for (size_t i = 0; i < n; i++) {
		size_t nf = command_flags(&cmds[i], flags);
		fprintf(out, "\t%s) opts='", cmds[i].name);
		bash_words(out, flags, nf);
		fputs("' ;;\n", out);
	}
	fputs("\t*) return ;;\n\tesac\n"
	      "\tlocal words=\n\tcase ${COMP_WORDS[1]} in\n", out);
	for (size_t i = 0; i < n; i++) {
		char w[512];
		command_words(&cmds[i], w, sizeof w);
		if (w[0])
			fprintf(out, "\t%s) words='%s' ;;\n", cmds[i].name, w);
	}
	fputs("\tesac\n"
	      "\tif ((COMP_CWORD == 2)) && [[ -n $words && $cur != -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	      "\telif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	      "\tfi\n}\ncomplete -F _cloister cloister\n",
	      out);
	return ferror(out) ? 1 : 0;
}

/* A description inside a single-quoted zsh word: the first clause of
 * the help, at most 60 bytes; quotes closed and reopened, and no
 * brackets or colons (they delimit _arguments' fields). */
static void zsh_desc(FILE *out, const char *help)
{
	size_t n = 0;
	for (const char *p = help; *p && n < 60; p++, n++) {
		if (*p == ';' || *p == '(' || (*p == '.' && p[1] == ' '))
			break;
		if (*p == '\'')
			fputs("'\\''", out);
		else if (*p == ':')
			fputc(',', out);
		else if (*p == '[' || *p == ']' || *p == '\\' || *p == '`')
			fputc(' ', out);
		else
			fputc(*p, out);
	}
}

static int completion_zsh(void)
{
	size_t n;
	const struct cli_command *cmds = cli_commands(&n);
	FILE *out = stdout;
	static char flags[FLAGS_MAX][FLAG_LEN];
	fputs("#compdef cloister\n# zsh completion for cloister.  Generated by "
	      "`cloister completion zsh`\n# from the tables that --help prints; "
	      "do not edit.\n_cloister() {\n\tlocal -a commands\n"
	      "\tcommands=(\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "\t\t'%s:", cmds[i].name);
		zsh_desc(out, cmds[i].summary);
		fputs("'\n", out);
	}
	fputs("\t)\n\tif ((CURRENT == 2)); then\n"
	      "\t\t_describe command commands\n\t\treturn\n\tfi\n"
	      "\tcase $words[2] in\n\tagent)\n\t\t_arguments \\\n",
	      out);
	size_t ns = agent_settings_count();
	for (size_t i = 0; i < ns; i++) {
		struct agent_setting_doc d;
		char ch[256];
		agent_setting_doc(i, &d);
		choices(d.help, ch, sizeof ch);
		fprintf(out, "\t\t\t'%s--%s[", d.repeat ? "*" : "", d.name);
		zsh_desc(out, d.help);
		fputc(']', out);
		if (!d.is_flag) {
			if (ch[0])
				fprintf(out, ":%s:(%s)", d.name, ch);
			else if (takes_path(d.name))
				fprintf(out, ":%s:_files", d.name);
			else
				fprintf(out, ":%s: ", d.name);
		}
		fputs("' \\\n", out);
	}
	fputs("\t\t\t'--help[the settings]'\n\t\t;;\n", out);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(cmds[i].name, "agent"))
			continue;
		size_t nf = command_flags(&cmds[i], flags);
		char w[512];
		command_words(&cmds[i], w, sizeof w);
		fprintf(out, "\t%s)\n", cmds[i].name);
		if (w[0])
			fprintf(out, "\t\tif ((CURRENT == 3)) && [[ $PREFIX != -* ]]; then\n"
				     "\t\t\tcompadd -- %s\n\t\telif [[ $PREFIX == -* ]]; then\n",
				w);
		else
			fputs("\t\tif [[ $PREFIX == -* ]]; then\n", out);
		fputs("\t\t\tcompadd -- ", out);
		for (size_t k = 0; k < nf; k++)
			fprintf(out, "%s%s", k ? " " : "", flags[k]);
		fputs("\n\t\telse\n\t\t\t_files\n\t\tfi\n\t\t;;\n", out);
	}
	fputs("\tesac\n}\n_cloister \"$@\"\n", out);
	return ferror(out) ? 1 : 0;
}

int cmd_manpage(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: cloister manpage\n\n"
		       "Prints this program's manual page in roff, made from "
		       "the tables --help prints\n(man -l <(cloister manpage)).\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "cloister manpage: takes no arguments\n");
		return 2;
	}
	return manpage();
}

int cmd_completion(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "bash"))
		return completion_bash();
	if (argc == 2 && !strcmp(argv[1], "zsh"))
		return completion_zsh();
	bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
	fprintf(help ? stdout : stderr,
		"usage: cloister completion bash|zsh\n\n"
		"Prints a shell completion script for cloister's commands and "
		"options:\n"
		"  source <(cloister completion bash)\n"
		"  cloister completion zsh > \"${fpath[1]}/_cloister\"\n");
	return help ? 0 : 2;
}
