/*
 * cmd_local.c — `cloister local -n N`: a development cluster on loopback.
 *
 * Starts N agents (this same binary, `agent`), node i on 127.0.0.(B+i)
 * with its control API on port 7947 of that address, all seeded with
 * each other, and shows every node's status, member count, sentry and
 * ring checksum as they assemble.  Keys (on a terminal): k<n> kills node
 * n with SIGKILL, r<n> restarts it, q leaves gracefully and quits.
 * --script runs the same actions at given seconds, for demos and tests.
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
	int alive;
};

struct action {
	double at;
	char what; /* 'k' kill, 'r' restart, 's' SIGTERM (leave) */
	int node;
	bool done;
};

static struct {
	int n, consensus, base;
	char app[64], dir[64], exe[4096];
	char **extra;
	int n_extra;
	struct node nodes[LOCAL_MAX];
	struct action script[SCRIPT_MAX];
	int n_script;
	double exit_after;
	bool tty, json;
	struct termios saved;
	double t0;
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
		"                      [-- AGENT-SETTINGS...]\n\n"
		"Starts N agents on loopback (node i on 127.0.0.(B+i), control API "
		"on port 7947,\ncluster traffic on 7946) and shows them assemble.  "
		"Defaults: -n 3, consensus = n,\napp local, base 127.0.0.2.\n\n"
		"On a terminal: k<i> kills node i (SIGKILL), r<i> restarts it, "
		"l<i> makes it\nleave, q quits (every node leaves gracefully).\n"
		"--script runs the same actions at the given seconds; with "
		"--exit-after it\nquits then and exits 0 only if every running node "
		"is ready.\n");
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

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (L.tty)
		printf("\r\033[K");
	printf("%7.2fs  ", now_s() - L.t0);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
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
		const char *ring = json_string_value(
			json_object_get(json_object_get(j, "rings"), ""));
		if (st && strcmp(st, nd->status) != 0) {
			say("node %d  %-10s -> %-10s  %d alive, sentry %s, ring %.8s",
			    i + 1, nd->status[0] ? nd->status : "start", st, alive,
			    se && *se ? se : "none", ring ? ring : "-");
			snprintf(nd->status, sizeof nd->status, "%s", st);
		}
		nd->alive = alive;
		snprintf(nd->sentry, sizeof nd->sentry, "%s", se ? se : "");
		snprintf(nd->ring, sizeof nd->ring, "%s", ring ? ring : "");
		json_decref(j);
	}
	if (L.tty) {
		/* The live table, redrawn in place under the change log. */
		printf("\r\033[K  ");
		for (int i = 0; i < L.n; i++)
			printf("[%d %s %d %.6s] ", i + 1,
			       L.nodes[i].running ? L.nodes[i].status : "down",
			       L.nodes[i].alive, L.nodes[i].ring);
		printf(" keys: k<n> kill, r<n> restart, l<n> leave, q quit");
		fflush(stdout);
	}
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
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout, 0);
		if (!strcmp(a, "--")) {
			L.extra = argv + i + 1;
			L.n_extra = argc - i - 1;
			break;
		}
		if (!v)
			return usage(stderr, 2);
		if (!strcmp(a, "-n"))
			L.n = atoi(v);
		else if (!strcmp(a, "--consensus"))
			L.consensus = atoi(v);
		else if (!strcmp(a, "--app"))
			snprintf(L.app, sizeof L.app, "%s", v);
		else if (!strcmp(a, "--base-ip")) {
			int a1, b, c, d;
			if (sscanf(v, "%d.%d.%d.%d", &a1, &b, &c, &d) != 4 ||
			    a1 != 127 || d < 1 || d > 254) {
				fprintf(stderr, "cloister local: --base-ip must be a "
						"127.x.y.z address\n");
				return 2;
			}
			L.base = d;
		} else if (!strcmp(a, "--script")) {
			if (L.n < 1)
				return usage(stderr, 2);
			if (parse_script(v) != 0)
				return 2;
		} else if (!strcmp(a, "--exit-after"))
			L.exit_after = atof(v);
		else
			return usage(stderr, 2);
	}
	if (L.n < 1 || L.n > LOCAL_MAX || L.base + L.n > 255) {
		fprintf(stderr, "cloister local: -n must be 1..%d\n", LOCAL_MAX);
		return 2;
	}
	if (L.consensus <= 0)
		L.consensus = L.n;
	for (int i = 0; i < L.n; i++)
		snprintf(L.nodes[i].ip, sizeof L.nodes[i].ip, "127.0.0.%d",
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
	if (L.tty) {
		tcsetattr(0, TCSANOW, &L.saved);
		printf("\n");
	}
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
	if (L.exit_after > 0) {
		printf("%s\n", ok ? "all running nodes ready: ok"
				  : "not every running node was ready at the end");
		return ok ? 0 : 1;
	}
	return 0;
}
