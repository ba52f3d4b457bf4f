/*
 * cmd_local.c — `cloister local -n N`: a development cluster on loopback.
 *
 * Starts N agents (this same binary, `agent`), node i on 127.x.y.(B+i)
 * with its control API on port 7947 of that address, all seeded with
 * each other, and shows every node's status, alive count, ring checksum,
 * sentry and local health: on a terminal as a table redrawn in place under
 * a log of changes, elsewhere as the log and a final table.  Keys (on a
 * terminal): k<n> kills node n with SIGKILL, r<n> restarts it, q leaves
 * gracefully and quits.  --script runs the same actions at given seconds,
 * for demos and tests.  --open opens node 1's web page (/ui).
 *
 * Every agent gets one token (CLOISTER_TOKEN, made here unless already
 * set), so this process and the page can talk to all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "args.h"
#include "cli.h"
#include "http_client.h"

#define LOCAL_MAX 32
#define SCRIPT_MAX 32

struct node {
	pid_t pid;
	char ip[32];
	bool running;
	/* Last observed, for the change log. */
	char status[32], sentry[300], ring[32];
	int alive, health;
	bool seen; /* answered at least once since (re)started */
};

struct action {
	double at;
	char what; /* 'k' kill, 'r' restart, 's' SIGTERM (leave) */
	int node;
	bool done;
};

static struct {
	int n, consensus, base;
	char prefix[16]; /* "127.x.y." of --base-ip */
	char app[64], dir[64], exe[4096];
	char **extra;
	int n_extra;
	struct node nodes[LOCAL_MAX];
	struct action script[SCRIPT_MAX];
	int n_script;
	double exit_after;
	bool tty, json, open;
	struct termios saved;
	double t0;
	int table_lines; /* lines of the live table now on screen */
} L;

static volatile sig_atomic_t quit;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: cloister local [-n N] [--consensus C] [--app NAME] "
		"[--base-ip 127.0.0.B]\n"
		"                      [--script \"kill 2 at 8, restart 2 at 15\"] "
		"[--exit-after S]\n"
		"                      [--open] [-- AGENT-SETTINGS...]\n\n"
		"Starts N agents on loopback (node i on 127.x.y.(B+i), control API "
		"on port 7947,\ncluster traffic on 7946) and shows them assemble.  "
		"Defaults: -n 3, consensus = n,\napp local, base 127.0.0.2.\n\n"
		"On a terminal: k<i> kills node i (SIGKILL), r<i> restarts it, "
		"l<i> makes it\nleave, q quits (every node leaves gracefully).\n"
		"--script runs the same actions at the given seconds; with "
		"--exit-after it\nquits then and exits 0 only if every running node "
		"is ready.\n"
		"--open opens node 1's web page (/ui) in the browser (xdg-open, or "
		"$BROWSER).\n");
	return code;
}

/* "kill 2 at 8, restart 2 at 15, leave 1 at 20" */
static int parse_script(const char *text)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", text);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",;", &save); item;
	     item = strtok_r(NULL, ",;", &save)) {
		char verb[16];
		int node;
		double at;
		if (sscanf(item, " %15s %d at %lf", verb, &node, &at) != 3 ||
		    L.n_script == SCRIPT_MAX) {
			fprintf(stderr, "cloister local: bad script item \"%s\" "
					"(expected \"kill|restart|leave N at SECONDS\")\n",
				item);
			return -1;
		}
		char what = !strcmp(verb, "kill")      ? 'k'
			    : !strcmp(verb, "restart") ? 'r'
			    : !strcmp(verb, "leave")   ? 's'
						       : 0;
		if (!what || node < 1 || node > L.n || at < 0) {
			fprintf(stderr, "cloister local: bad script item \"%s\"\n",
				item);
			return -1;
		}
		L.script[L.n_script++] = (struct action){at, what, node, false};
	}
	return 0;
}

/* Erases the live table (it is redrawn by the next poll), so that log
 * lines scroll above it. */
static void table_erase(void)
{
	if (L.tty && L.table_lines > 0) {
		printf("\r\033[%dA\033[J", L.table_lines);
		L.table_lines = 0;
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	table_erase();
	printf("%7.2fs  ", now_s() - L.t0);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* One row per node: what `cloister status` would say of each. */
static void table_print(bool keys)
{
	int rows = 0;
	printf("  %-4s %-13s %-11s %5s  %-16s %6s  %s\n", "node", "address",
	       "status", "alive", "ring", "health", "sentry");
	rows++;
	for (int i = 0; i < L.n; i++) {
		const struct node *nd = &L.nodes[i];
		const char *st = !nd->running ? "down"
				 : nd->seen   ? nd->status
					      : "starting";
		char alive[16] = "-", health[16] = "-";
		if (nd->running && nd->seen) {
			snprintf(alive, sizeof alive, "%d", nd->alive);
			snprintf(health, sizeof health, "%d", nd->health);
		}
		printf("  %-4d %-13s %-11s %5s  %-16s %6s  %s\n", i + 1, nd->ip,
		       st, alive, nd->running && nd->seen ? nd->ring : "-",
		       health,
		       nd->running && nd->seen && nd->sentry[0] ? nd->sentry
								: "-");
		rows++;
	}
	if (keys) {
		printf("  keys: k<n> kill, r<n> restart, l<n> leave, q quit\n");
		rows++;
	}
	if (L.tty)
		L.table_lines = rows;
	fflush(stdout);
}

static void start_node(int i)
{
	struct node *nd = &L.nodes[i];
	char adv[48], http[48], sentry[LOCAL_MAX * 24] = "", cons[16], log[128];
	snprintf(adv, sizeof adv, "%s:7946", nd->ip);
	snprintf(http, sizeof http, "%s:7947", nd->ip);
	for (int j = 0; j < L.n; j++) {
		size_t l = strlen(sentry);
		snprintf(sentry + l, sizeof sentry - l, "%s%s:7946", j ? "," : "",
			 L.nodes[j].ip);
	}
	snprintf(cons, sizeof cons, "%d", L.consensus);
	snprintf(log, sizeof log, "%s/node%d.log", L.dir, i + 1);
	char *argv[64 + 24] = {L.exe, "agent", "--app", L.app, "--advertise", adv,
			       "--http", http, "--sentry", sentry, "--consensus",
			       cons, "--profile", "local"};
	int argc = 14;
	for (int k = 0; k < L.n_extra && argc < 64 + 23; k++)
		argv[argc++] = L.extra[k];
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		/* Its own process group: terminal keys reach us, not it. */
		setpgid(0, 0);
		execv(L.exe, argv);
		_exit(127);
	}
	if (pid > 0) {
		nd->pid = pid;
		nd->running = true;
		nd->seen = false;
		nd->status[0] = '\0';
	}
}

static void signal_node(int i, int sig)
{
	struct node *nd = &L.nodes[i];
	if (nd->running && nd->pid > 0)
		kill(nd->pid, sig);
}

static void reap(void)
{
	for (int i = 0; i < L.n; i++) {
		struct node *nd = &L.nodes[i];
		if (nd->running && waitpid(nd->pid, NULL, WNOHANG) == nd->pid) {
			nd->running = false;
			say("node %d (%s) exited", i + 1, nd->ip);
			snprintf(nd->status, sizeof nd->status, "down");
		}
	}
}

static void act(char what, int node)
{
	int i = node - 1;
	if (i < 0 || i >= L.n)
		return;
	switch (what) {
	case 'k':
		say("killing node %d with SIGKILL", node);
		signal_node(i, SIGKILL);
		break;
	case 's':
		say("node %d leaves (SIGTERM)", node);
		signal_node(i, SIGTERM);
		break;
	case 'r':
		if (L.nodes[i].running) {
			signal_node(i, SIGKILL);
			waitpid(L.nodes[i].pid, NULL, 0);
			L.nodes[i].running = false;
		}
		say("restarting node %d", node);
		start_node(i);
		break;
	}
}

/* Polls every node's status; prints what changed. */
static void poll_nodes(void)
{
	for (int i = 0; i < L.n; i++) {
		struct node *nd = &L.nodes[i];
		if (!nd->running)
			continue;
		char hp[48];
		snprintf(hp, sizeof hp, "%s:7947", nd->ip);
		char *body = NULL;
		int status = 0;
		if (cli_http_request(hp, NULL, "GET", "/v1/status", NULL, 0, 400,
				     &status, &body) != 0 || status != 200) {
			free(body);
			continue;
		}
		json_t *j = json_loads(body, 0, NULL);
		free(body);
		if (!j)
			continue;
		const char *st = json_string_value(json_object_get(j, "status"));
		const char *se = json_string_value(json_object_get(j, "sentry"));
		int alive = (int)json_integer_value(json_object_get(j, "alive"));
		nd->health = (int)json_integer_value(json_object_get(j, "health"));
		nd->seen = true;
		const char *ring = json_string_value(
			json_object_get(json_object_get(j, "rings"), ""));
		if (st && strcmp(st, nd->status) != 0) {
			say("node %d  %-10s -> %-10s  %d alive, sentry %s, ring %.8s",
			    i + 1, nd->status[0] ? nd->status : "start", st, alive,
			    se && *se ? se : "none", ring ? ring : "-");
			snprintf(nd->status, sizeof nd->status, "%s", st);
		} else if (st && (alive != nd->alive ||
				  strncmp(ring ? ring : "", nd->ring, 8))) {
			/* A change the status machine went through and back
			 * between two polls (ready -> rehashing -> ready). */
			say("node %d  %-10s    %-10s  %d alive, sentry %s, ring %.8s",
			    i + 1, st, "", alive, se && *se ? se : "none",
			    ring ? ring : "-");
		}
		nd->alive = alive;
		snprintf(nd->sentry, sizeof nd->sentry, "%s", se ? se : "");
		snprintf(nd->ring, sizeof nd->ring, "%s", ring ? ring : "");
		json_decref(j);
	}
	if (L.tty) {
		/* The live table, redrawn in place under the change log. */
		table_erase();
		table_print(true);
	}
}

/*
 * Opens node 1's page.  The link carries the token in its fragment
 * (docs/ui.md); handed to a browser on its command line it would show in
 * `ps` to every user of the machine, so the browser is given a file
 * instead: a 0600 page in our 0700 log directory that sends it on.
 */
static void open_page(const char *token)
{
	char url[512], path[sizeof L.dir + 32];
	snprintf(url, sizeof url, "http://%s:7947/ui#token=%s", L.nodes[0].ip,
		 token);
	snprintf(path, sizeof path, "%s/open.html", L.dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		say("cannot write %s: open http://%s:7947/ui and paste the token",
		    path, L.nodes[0].ip);
		return;
	}
	fprintf(f, "<!doctype html><meta charset=utf-8>"
		   "<meta name=referrer content=no-referrer>"
		   "<meta http-equiv=refresh content=\"0; url=%s\">"
		   "<title>cloister</title>\n",
		url);
	fclose(f);
	const char *browser = getenv("BROWSER");
	char *argv[] = {(char *)(browser && *browser ? browser : "xdg-open"),
			path, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	say("web page of node 1: http://%s:7947/ui (opened through %s with "
	    "%s)",
	    L.nodes[0].ip, path, argv[0]);
}

static bool all_ready(void)
{
	for (int i = 0; i < L.n; i++)
		if (L.nodes[i].running && strcmp(L.nodes[i].status, "ready") != 0)
			return false;
	return true;
}

int cmd_local(int argc, char **argv)
{
	L.n = 3;
	L.consensus = 0;
	L.base = 2;
	snprintf(L.app, sizeof L.app, "local");
	snprintf(L.prefix, sizeof L.prefix, "127.0.0.");
	static const struct cl_opt opts[] = {
		{"--help", false}, {"-h", false},	  {"--open", false},
		{"-n", true},	   {"--consensus", true}, {"--app", true},
		{"--base-ip", true}, {"--script", true},  {"--exit-after", true}};
	const char *scripts[8];
	size_t n_scripts = 0;
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind kind =
			cl_args_next(&args, opts, sizeof opts / sizeof opts[0]);
		if (kind == CL_ARG_END)
			break;
		if (kind == CL_ARG_POS && args.after_dashdash) {
			/* Everything after "--" goes to each agent. */
			L.extra = argv + args.i - 1;
			L.n_extra = argc - args.i + 1;
			break;
		}
		if (kind != CL_ARG_OPT) {
			fprintf(stderr, "cloister local: %s\n",
				kind == CL_ARG_ERROR ? args.error
						     : "unexpected argument");
			return usage(stderr, 2);
		}
		const char *a = args.opt->name, *v = args.value;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout, 0);
		if (!strcmp(a, "--open")) {
			L.open = true;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--consensus")) {
			char *end;
			long x = strtol(v, &end, 10);
			if (!*v || *end || x < 1 || x > LOCAL_MAX) {
				fprintf(stderr, "cloister local: %s \"%s\": 1..%d\n",
					a, v, LOCAL_MAX);
				return 2;
			}
			*(a[1] == 'n' ? &L.n : &L.consensus) = (int)x;
		} else if (!strcmp(a, "--app"))
			snprintf(L.app, sizeof L.app, "%s", v);
		else if (!strcmp(a, "--base-ip")) {
			int a1, b, c, d;
			if (sscanf(v, "%d.%d.%d.%d", &a1, &b, &c, &d) != 4 ||
			    a1 != 127 || b < 0 || b > 255 || c < 0 || c > 255 ||
			    d < 1 || d > 254) {
				fprintf(stderr, "cloister local: --base-ip must be a "
						"127.x.y.z address\n");
				return 2;
			}
			snprintf(L.prefix, sizeof L.prefix, "127.%d.%d.", b, c);
			L.base = d;
		} else if (!strcmp(a, "--script")) {
			/* Parsed once -n is known, wherever it was given. */
			if (n_scripts == sizeof scripts / sizeof scripts[0]) {
				fprintf(stderr, "cloister local: too many --script\n");
				return 2;
			}
			scripts[n_scripts++] = v;
		} else {
			char *end;
			L.exit_after = strtod(v, &end);
			if (!*v || *end || !(L.exit_after >= 0)) {
				fprintf(stderr, "cloister local: --exit-after \"%s\": "
						"seconds >= 0\n", v);
				return 2;
			}
		}
	}
	if (L.n < 1 || L.n > LOCAL_MAX || L.base + L.n > 255) {
		fprintf(stderr, "cloister local: -n must be 1..%d\n", LOCAL_MAX);
		return 2;
	}
	for (size_t k = 0; k < n_scripts; k++)
		if (parse_script(scripts[k]) != 0)
			return 2;
	if (L.consensus <= 0)
		L.consensus = L.n;
	for (int i = 0; i < L.n; i++)
		snprintf(L.nodes[i].ip, sizeof L.nodes[i].ip, "%s%d", L.prefix,
			 L.base + i);
	ssize_t len = readlink("/proc/self/exe", L.exe, sizeof L.exe - 1);
	if (len <= 0) {
		fprintf(stderr, "cloister local: cannot find my own binary\n");
		return 1;
	}
	L.exe[len] = '\0';
	snprintf(L.dir, sizeof L.dir, "/tmp/cloister-local.XXXXXX");
	if (!mkdtemp(L.dir)) {
		fprintf(stderr, "cloister local: cannot make a log directory\n");
		return 1;
	}
	L.tty = isatty(0) && isatty(1) && L.exit_after <= 0;
	/* One token for every agent, this process and the page. */
	const char *env = getenv("CLOISTER_TOKEN");
	char token[65];
	if (env && *env) {
		snprintf(token, sizeof token, "%s", env);
	} else {
		unsigned char raw[32];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2hex(token, sizeof token, raw, sizeof raw);
		setenv("CLOISTER_TOKEN", token, 1);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (L.tty) {
		struct termios raw;
		tcgetattr(0, &L.saved);
		raw = L.saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		tcsetattr(0, TCSANOW, &raw);
	}
	L.t0 = now_s();
	printf("cloister local: %d agents on %s..%s, consensus %d, logs in %s\n",
	       L.n, L.nodes[0].ip, L.nodes[L.n - 1].ip, L.consensus, L.dir);
	for (int i = 0; i < L.n; i++)
		start_node(i);

	bool opened = !L.open;
	char pending = 0;
	while (!quit) {
		double t = now_s() - L.t0;
		for (int k = 0; k < L.n_script; k++)
			if (!L.script[k].done && t >= L.script[k].at) {
				L.script[k].done = true;
				act(L.script[k].what, L.script[k].node);
			}
		if (L.exit_after > 0 && t >= L.exit_after)
			break;
		reap();
		poll_nodes();
		if (!opened && L.nodes[0].seen) {
			opened = true;
			open_page(getenv("CLOISTER_TOKEN"));
		}
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (L.tty && poll(&p, 1, 250) > 0) {
			char c;
			if (read(0, &c, 1) == 1) {
				if (c == 'q')
					break;
				if (c == 'k' || c == 'r' || c == 'l')
					pending = c == 'l' ? 's' : c;
				else if (pending && c >= '1' && c <= '9') {
					act(pending, c - '0');
					pending = 0;
				}
			}
		} else if (!L.tty) {
			usleep(250000);
		}
	}
	bool ok = all_ready();
	if (L.tty)
		tcsetattr(0, TCSANOW, &L.saved);
	table_erase();
	/* The state it ends in, as a table, also when not on a terminal. */
	table_print(false);
	L.table_lines = 0;
	say("stopping: every node leaves gracefully");
	for (int i = 0; i < L.n; i++)
		signal_node(i, SIGTERM);
	double deadline = now_s() + 5;
	for (int i = 0; i < L.n; i++) {
		while (L.nodes[i].running && now_s() < deadline) {
			if (waitpid(L.nodes[i].pid, NULL, WNOHANG) == L.nodes[i].pid)
				L.nodes[i].running = false;
			else
				usleep(50000);
		}
		if (L.nodes[i].running) {
			kill(L.nodes[i].pid, SIGKILL);
			waitpid(L.nodes[i].pid, NULL, 0);
		}
	}
	if (L.open) {
		/* The token's copy for the browser has served its purpose. */
		char path[sizeof L.dir + 32];
		snprintf(path, sizeof path, "%s/open.html", L.dir);
		unlink(path);
	}
	if (L.exit_after > 0) {
		printf("%s\n", ok ? "all running nodes ready: ok"
				  : "not every running node was ready at the end");
		return ok ? 0 : 1;
	}
	return 0;
}

/* `cloister demo` (and `make demo`): three real agents on loopback
 * assemble, lose a node, rehash and heal, then the demo exits by itself.
 * Options after the scripted ones win (-n, --exit-after 0 to keep it
 * running); `cloister sim demo` is the narrated simulation. */
int cmd_demo(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: cloister demo [LOCAL-OPTIONS...]\n\n"
			       "Three real agents on loopback (`cloister local -n 3 "
			       "--script \"kill 3 at 6,\nrestart 3 at 14\" "
			       "--exit-after 24`): they assemble, node 3 is killed\n"
			       "and detected, restarts, and the rings heal.  Options "
			       "of `cloister local`\nfollow and win.  `cloister sim "
			       "demo` narrates the same in a simulation.\n");
			return 0;
		}
	char *args[64] = {"local", "-n", "3", "--script",
			  "kill 3 at 6, restart 3 at 14", "--exit-after", "24"};
	int n = 7;
	if (argc - 1 > (int)(sizeof args / sizeof args[0]) - n - 1) {
		fprintf(stderr, "cloister demo: too many arguments\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return cmd_local(n, args);
}
