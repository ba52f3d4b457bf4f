/*
 * hooks.c — running --on-change and --on-member commands (see hooks.h).
 *
 * Started with fork and execve rather than posix_spawn: the child must
 * close every descriptor above 2 whatever opened it (libevent, libc, a
 * library's log file, the Erlang port's copy of stdout), which posix_spawn
 * can only do with a glibc extension the static musl build lacks.  Between
 * fork and exec the child makes system calls only (async-signal-safe).
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "json.h"
#include "runtime/logfmt.h"

extern char **environ;

#define HOOK_ENV_MAX 8

struct job {
	bool is_member;
	char *env[HOOK_ENV_MAX]; /* "K=V" strings added to the environment */
	char *doc;               /* on-member: the JSON, built when queued */
	/* on-change: the document is built when the hook starts. */
	cloister_state from, to;
	char *sentry;
	size_t alive;
};

struct running {
	bool used;
	pid_t pid;
	bool reaped;
	int64_t deadline;
	const char *what; /* "on-change" / "on-member" */
	hooks *h;
	int out;          /* our end of the hook's stdout/stderr, or -1 */
	size_t input;     /* bytes of its stdin file (memory until it exits) */
	struct event *ev;
	char line[HOOKS_LINE_MAX + 1];
	size_t line_len;
	bool line_cut;    /* the current line passed HOOKS_LINE_MAX */
	size_t logged;    /* output bytes logged so far */
	bool over;        /* HOOKS_OUTPUT_MAX reached: the rest is drained */
};

struct hooks {
	cloister_t *node;
	struct event_base *base;
	char *on_change, *on_member;
	int timeout_s;
	cloister_log_fn log;     /* set before the node runs, then fixed */
	void *log_arg;
	_Atomic int log_level;   /* SIGHUP changes it; the node thread reads */
	pthread_mutex_t lock; /* the queue and the drop counters */
	struct job queue[HOOKS_QUEUE_MAX];
	size_t head, n;
	unsigned long dropped, dropped_unreported;
	struct running run[HOOKS_RUNNING_MAX];
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static void stderr_log(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	fprintf(stderr, "%s\n", line);
}

static void hook_log(hooks *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void hook_log(hooks *h, int level, const char *fmt, ...)
{
	if (level > atomic_load(&h->log_level))
		return;
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[2048];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	h->log(h->log_arg, level, line);
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

hooks *hooks_new(cloister_t *node, struct event_base *base,
		 const char *on_change, const char *on_member, int timeout_s)
{
	hooks *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->node = node;
	h->base = base;
	h->on_change = on_change && *on_change ? strdup(on_change) : NULL;
	h->on_member = on_member && *on_member ? strdup(on_member) : NULL;
	h->timeout_s = timeout_s > 0 ? timeout_s : 10;
	h->log = stderr_log;
	atomic_store(&h->log_level, CLOISTER_LOG_INFO);
	for (size_t i = 0; i < HOOKS_RUNNING_MAX; i++)
		h->run[i].out = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void hooks_set_logger(hooks *h, cloister_log_fn log, void *arg, int level)
{
	if (!h)
		return;
	h->log = log ? log : stderr_log;
	h->log_arg = arg;
	atomic_store(&h->log_level, level);
}

void hooks_set_log_level(hooks *h, int level)
{
	if (h)
		atomic_store(&h->log_level, level);
}

static void job_free(struct job *j)
{
	for (int i = 0; i < HOOK_ENV_MAX; i++) {
		free(j->env[i]);
		j->env[i] = NULL;
	}
	free(j->doc);
	free(j->sentry);
	j->doc = j->sentry = NULL;
}

static void output_close(struct running *r);

void hooks_free(hooks *h)
{
	if (!h)
		return;
	/* Hooks still running are left to finish: the agent is exiting and
	 * killing a half-done hook would be worse than letting it end. */
	for (size_t i = 0; i < h->n; i++)
		job_free(&h->queue[(h->head + i) % HOOKS_QUEUE_MAX]);
	for (size_t i = 0; i < HOOKS_RUNNING_MAX; i++)
		output_close(&h->run[i]);
	free(h->on_change);
	free(h->on_member);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ------------------------------------------------------------------ */
/* Queueing (node thread)                                              */
/* ------------------------------------------------------------------ */

/* Environment values never hold a NUL, and names cannot (the wire
 * refuses control bytes); "K=V" as one string. */
static char *kv(const char *k, const char *v)
{
	size_t n = strlen(k) + strlen(v) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s=%s", k, v);
	return s;
}

static void enqueue(hooks *h, struct job *j)
{
	pthread_mutex_lock(&h->lock);
	if (h->n == HOOKS_QUEUE_MAX) {
		h->dropped++;
		/* Once per burst: a flood of member events would otherwise
		 * write a line each; the total comes when the queue drains. */
		bool first = h->dropped_unreported++ == 0;
		pthread_mutex_unlock(&h->lock);
		if (first)
			hook_log(h, CLOISTER_LOG_WARN,
				 "msg=\"hook queue full (%d waiting): events are "
				 "dropped until it drains\"",
				 HOOKS_QUEUE_MAX);
		job_free(j);
		return;
	}
	h->queue[(h->head + h->n) % HOOKS_QUEUE_MAX] = *j;
	h->n++;
	pthread_mutex_unlock(&h->lock);
}

/* A member as /v1/members shows it. */
static json_t *member_json(const cloister_member *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", cl_json_text(m->name, strlen(m->name)));
	json_object_set_new(o, "addr", cl_json_text(m->addr, strlen(m->addr)));
	json_object_set_new(o, "status",
			    json_string(cloister_member_status_name(m->status)));
	json_object_set_new(o, "incarnation", json_integer(m->incarnation));
	json_object_set_new(o, "start_ms", json_integer((json_int_t)m->start_ms));
	json_object_set_new(o, "tags", cl_json_tags(m));
	return o;
}

void hooks_state_change(hooks *h, cloister_state from, cloister_state to,
			const cloister_snapshot *s)
{
	if (!h || !h->on_change)
		return;
	/* Only scalars here: the member list is read and written out when
	 * the hook starts, on the main thread, so neither the node's thread
	 * nor a full queue ever holds 256 copies of a large list. */
	char alive[32];
	snprintf(alive, sizeof alive, "%zu", s->alive);
	struct job j = {.is_member = false, .from = from, .to = to,
			.alive = s->alive};
	j.sentry = strdup(s->sentry);
	j.env[0] = kv("CLOISTER_FROM", cloister_state_name(from));
	j.env[1] = kv("CLOISTER_TO", cloister_state_name(to));
	j.env[2] = kv("CLOISTER_NODE", s->node);
	j.env[3] = kv("CLOISTER_SENTRY", s->sentry);
	j.env[4] = kv("CLOISTER_ALIVE", alive);
	enqueue(h, &j);
}

void hooks_member_event(hooks *h, const char *event, const cloister_member *m)
{
	if (!h || !h->on_member)
		return;
	/* One member: a few KiB at most (a 255-byte name, 1 KiB of tags). */
	json_t *o = json_object();
	const char *node = cloister_name(h->node);
	if (o) {
		json_object_set_new(o, "type", json_string("member"));
		json_object_set_new(o, "event", json_string(event));
		json_object_set_new(o, "node", cl_json_text(node, strlen(node)));
		json_object_set_new(o, "member", member_json(m));
	}
	struct job j = {.is_member = true};
	j.doc = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	j.env[0] = kv("CLOISTER_EVENT", event);
	j.env[1] = kv("CLOISTER_MEMBER", m->name);
	j.env[2] = kv("CLOISTER_MEMBER_ADDR", m->addr);
	j.env[3] = kv("CLOISTER_MEMBER_STATUS",
		      cloister_member_status_name(m->status));
	j.env[4] = kv("CLOISTER_NODE", node);
	enqueue(h, &j);
}

/* ------------------------------------------------------------------ */
/* The hook's stdin                                                    */
/* ------------------------------------------------------------------ */

/* A file only this process and the hook can see, removed with its last
 * descriptor: the hook reads it at its own pace and the agent never
 * blocks on a pipe.  O_TMPFILE where memfd is missing. */
static int input_file(void)
{
	int fd = memfd_create("cloister-hook-input", MFD_CLOEXEC);
	if (fd >= 0)
		return fd;
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

/* The deprecated CLOISTER_MEMBERS=a,b of live names, bounded. */
struct members_env {
	char *s; /* NULL once over HOOKS_MEMBERS_ENV_MAX: a partial list
		  * would be a wrong one, so there is none */
	size_t len, n;
};

static void members_env_init(struct members_env *e)
{
	static const char prefix[] = "CLOISTER_MEMBERS=";
	e->s = malloc(HOOKS_MEMBERS_ENV_MAX + 1);
	e->len = sizeof prefix - 1;
	e->n = 0;
	if (e->s)
		memcpy(e->s, prefix, sizeof prefix);
}

static void members_env_add(struct members_env *e, const char *name)
{
	if (!e->s)
		return;
	size_t nl = strlen(name);
	if (e->len + (e->n ? 1 : 0) + nl > HOOKS_MEMBERS_ENV_MAX) {
		free(e->s);
		e->s = NULL;
		return;
	}
	if (e->n++)
		e->s[e->len++] = ',';
	memcpy(e->s + e->len, name, nl + 1);
	e->len += nl;
}

/* Writes the on-change document to f: linear in the member list, which
 * is read once; members past HOOKS_INPUT_MAX bytes are counted only.
 * *members_env: the deprecated CLOISTER_MEMBERS, or NULL when over its
 * bound. */
static void write_state_doc(hooks *h, const struct job *j, FILE *f,
			    char **members_env)
{
	const char *node = cloister_name(h->node);
	json_t *head = json_object();
	*members_env = NULL;
	if (!head)
		return;
	json_object_set_new(head, "type", json_string("state"));
	json_object_set_new(head, "from", json_string(cloister_state_name(j->from)));
	json_object_set_new(head, "to", json_string(cloister_state_name(j->to)));
	json_object_set_new(head, "node", cl_json_text(node, strlen(node)));
	json_object_set_new(head, "sentry", cl_json_text(j->sentry ? j->sentry : "",
							 j->sentry ? strlen(j->sentry) : 0));
	json_object_set_new(head, "alive", json_integer((json_int_t)j->alive));
	char *hs = json_dumps(head, JSON_COMPACT);
	json_decref(head);
	if (!hs)
		return;
	/* {"type":...,"alive":N} -> {"type":...,"alive":N,"members":[...]} */
	hs[strlen(hs) - 1] = '\0';
	fputs(hs, f);
	free(hs);
	fputs(",\"members\":[", f);
	cloister_member *m;
	size_t n = 0, written = 0, omitted = 0;
	if (cloister_members(h->node, &m, &n) != 0)
		n = 0;
	struct members_env env;
	members_env_init(&env);
	for (size_t i = 0; i < n; i++) {
		if (m[i].status == CLOISTER_MEMBER_ALIVE ||
		    m[i].status == CLOISTER_MEMBER_SUSPECT)
			members_env_add(&env, m[i].name);
		long at = ftell(f);
		if (at < 0 || (size_t)at > HOOKS_INPUT_MAX) {
			omitted = n - i;
			break;
		}
		json_t *o = member_json(&m[i]);
		if (!o) {
			omitted = n - i;
			break;
		}
		if (written++)
			fputc(',', f);
		json_dumpf(o, f, JSON_COMPACT);
		json_decref(o);
	}
	if (n)
		cloister_members_free(m, n);
	if (omitted) {
		free(env.s);
		env.s = NULL;
	}
	*members_env = env.s;
	fprintf(f, "],\"members_omitted\":%zu}\n", omitted);
	if (omitted)
		hook_log(h, CLOISTER_LOG_WARN,
			 "msg=\"on-change input over its bound: members left "
			 "out\" bound_bytes=%zu omitted=%zu",
			 HOOKS_INPUT_MAX, omitted);
}

/* The hook's stdin, positioned at its start, or -1 (logged);
 * *members_env as write_state_doc sets it (NULL for on-member). */
static int make_input(hooks *h, const struct job *j, char **members_env)
{
	*members_env = NULL;
	int fd = input_file();
	if (fd < 0) {
		hook_log(h, CLOISTER_LOG_ERROR,
			 "msg=\"cannot make the hook's input file\" error=\"%s\"",
			 strerror(errno));
		return -1;
	}
	int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	FILE *f = dupfd >= 0 ? fdopen(dupfd, "w") : NULL;
	if (!f) {
		if (dupfd >= 0)
			close(dupfd);
		close(fd);
		return -1;
	}
	if (j->is_member) {
		if (j->doc)
			fprintf(f, "%s\n", j->doc);
	} else {
		write_state_doc(h, j, f, members_env);
	}
	bool ok = !ferror(f);
	if (fclose(f) != 0 || !ok || lseek(fd, 0, SEEK_SET) != 0) {
		hook_log(h, CLOISTER_LOG_ERROR,
			 "msg=\"cannot write the hook's input\" error=\"%s\"",
			 strerror(errno));
		free(*members_env);
		*members_env = NULL;
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* The hook's output                                                   */
/* ------------------------------------------------------------------ */

static void output_line(struct running *r)
{
	char q[CL_LOGFMT_QUOTED_MAX(HOOKS_LINE_MAX) + 1];
	if (r->line_len == 0 && !r->line_cut)
		return;
	if (!r->over)
		hook_log(r->h, CLOISTER_LOG_INFO,
			 "msg=\"hook output\" hook=%s pid=%d line=%s%s", r->what,
			 (int)r->pid,
			 cl_logfmt_quote_n(r->line, r->line_len, q, sizeof q),
			 r->line_cut ? " cut=true" : "");
	r->line_len = 0;
	r->line_cut = false;
}

/* Lines of what was read; the budget spent, one line says so and the
 * rest is read and dropped (the hook must not block on a full pipe). */
static void output_bytes(struct running *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!r->over && r->logged >= HOOKS_OUTPUT_MAX) {
			output_line(r);
			hook_log(r->h, CLOISTER_LOG_WARN,
				 "msg=\"hook output over its bound: the rest is "
				 "discarded\" hook=%s pid=%d bound_bytes=%zu",
				 r->what, (int)r->pid, HOOKS_OUTPUT_MAX);
			r->over = true;
		}
		if (r->over)
			return;
		r->logged++;
		if (p[i] == '\n') {
			output_line(r);
		} else if (r->line_len < HOOKS_LINE_MAX) {
			r->line[r->line_len++] = p[i];
		} else {
			r->line_cut = true;
		}
	}
}

/* Reads what is there; true at end of output (or an error). */
static bool output_read(struct running *r)
{
	char buf[16384];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t k = read(r->out, buf, sizeof buf);
		if (k > 0) {
			output_bytes(r, buf, (size_t)k);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		return true;
	}
	return false;
}

static void output_close(struct running *r)
{
	if (r->ev) {
		event_free(r->ev);
		r->ev = NULL;
	}
	if (r->out >= 0) {
		output_line(r);
		close(r->out);
		r->out = -1;
	}
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct running *r = arg;
	if (output_read(r))
		output_close(r);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */
/* ------------------------------------------------------------------ */

/* getdents64's record, spelled out: libcs disagree on dirent64. */
struct kernel_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* In the child: every descriptor above 2 closed.  close_range (Linux
 * 5.9), else the entries of /proc/self/fd read with getdents64, else
 * every number up to a bound. */
static void close_above_stderr(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0) {
		/* Closing while listing can skip entries: list again until a
		 * pass closes nothing. */
		for (int pass = 0; pass < 64; pass++) {
			bool closed = false;
			lseek(dir, 0, SEEK_SET);
			/* Records are 8-byte aligned within an aligned buffer. */
			uint64_t words[512];
			char *buf = (char *)words;
			long k;
			while ((k = syscall(SYS_getdents64, dir, buf,
					    sizeof words)) > 0) {
				for (long off = 0; off < k;) {
					struct kernel_dirent64 *d =
						(struct kernel_dirent64 *)(buf + off);
					int fd = 0;
					const char *c = d->d_name;
					for (; *c >= '0' && *c <= '9'; c++)
						fd = fd * 10 + (*c - '0');
					if (!*c && c != d->d_name && fd > 2 && fd != dir) {
						close(fd);
						closed = true;
					}
					off += d->d_reclen;
				}
			}
			if (k < 0 || !closed)
				break;
		}
		close(dir);
		return;
	}
	for (int fd = 3; fd < 65536; fd++)
		close(fd);
}

static void start(hooks *h, struct job *j)
{
	struct running *r = NULL;
	for (size_t i = 0; i < HOOKS_RUNNING_MAX && !r; i++)
		if (!h->run[i].used)
			r = &h->run[i];
	if (!r)
		return;
	const char *cmd = j->is_member ? h->on_member : h->on_change;
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **env = calloc(n_env + HOOK_ENV_MAX + 2, sizeof *env);
	char *members_env = NULL;
	int in = env ? make_input(h, j, &members_env) : -1;
	off_t input_size = in >= 0 ? lseek(in, 0, SEEK_END) : 0;
	if (in >= 0)
		lseek(in, 0, SEEK_SET);
	int pipefd[2] = {-1, -1};
	if (in < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
		hook_log(h, CLOISTER_LOG_ERROR,
			 "msg=\"cannot run hook\" hook=%s error=\"%s\"",
			 j->is_member ? "on-member" : "on-change",
			 env && in >= 0 ? strerror(errno) : "no input");
		if (in >= 0)
			close(in);
		free(env);
		free(members_env);
		return;
	}
	static bool members_env_warned;
	if (!j->is_member && !members_env && !members_env_warned) {
		members_env_warned = true;
		hook_log(h, CLOISTER_LOG_WARN,
			 "msg=\"CLOISTER_MEMBERS left out of the on-change "
			 "hook's environment: the member list is over its bound; "
			 "the hook has every member in the JSON on its stdin\" "
			 "bound_bytes=%d",
			 HOOKS_MEMBERS_ENV_MAX);
	}
	/* The agent's own CLOISTER_* settings (token, key, passphrase) are
	 * not the hook's business; its facts replace them. */
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "CLOISTER_", 9) != 0)
			env[k++] = environ[i];
	for (int i = 0; i < HOOK_ENV_MAX; i++)
		if (j->env[i])
			env[k++] = j->env[i];
	if (members_env)
		env[k++] = members_env;
	env[k] = NULL;
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	sigset_t all, old;
	sigfillset(&all);
	/* No signal handler of ours may run in the child. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		/* Above 2 first, so the dup2s below never meet their own
		 * targets (the agent may run with 0, 1 or 2 closed). */
		int in_hi = fcntl(in, F_DUPFD, 3);
		int out_hi = fcntl(pipefd[1], F_DUPFD, 3);
		if (in_hi < 0 || out_hi < 0 || dup2(in_hi, 0) < 0 ||
		    dup2(out_hi, 1) < 0 || dup2(out_hi, 2) < 0)
			_exit(127);
		close_above_stderr();
		/* Dispositions the agent set to ignore (SIGPIPE) survive
		 * exec: back to the defaults a command expects. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		for (int s = 1; s < 32; s++)
			if (s != SIGKILL && s != SIGSTOP)
				sigaction(s, &dfl, NULL);
		/* Its own process group, so a timeout kills what it started. */
		setpgid(0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(in);
	close(pipefd[1]);
	free(env);
	free(members_env);
	if (pid < 0) {
		close(pipefd[0]);
		hook_log(h, CLOISTER_LOG_ERROR,
			 "msg=\"cannot run hook\" hook=%s error=\"%s\"",
			 j->is_member ? "on-member" : "on-change",
			 strerror(fork_errno));
		return;
	}
	/* Also here: a timeout may come before the child ran setpgid. */
	setpgid(pid, pid);
	memset(r, 0, sizeof *r);
	r->used = true;
	r->pid = pid;
	r->h = h;
	r->what = j->is_member ? "on-member" : "on-change";
	r->deadline = cloister_now_us() + (int64_t)h->timeout_s * 1000000;
	r->out = pipefd[0];
	r->input = input_size > 0 ? (size_t)input_size : 0;
	fcntl(r->out, F_SETFL, fcntl(r->out, F_GETFL) | O_NONBLOCK);
	r->ev = h->base ? event_new(h->base, r->out, EV_READ | EV_PERSIST,
				    on_output, r)
			: NULL;
	if (r->ev)
		event_add(r->ev, NULL);
}

/* ------------------------------------------------------------------ */
/* Reaping                                                             */
/* ------------------------------------------------------------------ */

static size_t running(const hooks *h)
{
	size_t n = 0;
	for (size_t i = 0; i < HOOKS_RUNNING_MAX; i++)
		n += h->run[i].used;
	return n;
}

/* The memory the running hooks' stdin files hold. */
static size_t input_held(const hooks *h)
{
	size_t n = 0;
	for (size_t i = 0; i < HOOKS_RUNNING_MAX; i++)
		if (h->run[i].used)
			n += h->run[i].input;
	return n;
}

void hooks_reap(hooks *h)
{
	if (!h)
		return;
	int64_t now = cloister_now_us();
	for (size_t i = 0; i < HOOKS_RUNNING_MAX; i++) {
		struct running *r = &h->run[i];
		if (!r->used)
			continue;
		int status = 0;
		pid_t got = waitpid(r->pid, &status, WNOHANG);
		if (got == 0 && now > r->deadline) {
			kill(-r->pid, SIGKILL);
			hook_log(h, CLOISTER_LOG_WARN,
				 "msg=\"hook timed out; killed\" hook=%s pid=%d "
				 "timeout_s=%d",
				 r->what, (int)r->pid, h->timeout_s);
			waitpid(r->pid, &status, 0);
			got = r->pid;
		}
		if (got == 0)
			continue;
		if (got == r->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
			hook_log(h, CLOISTER_LOG_WARN,
				 "msg=\"hook failed\" hook=%s pid=%d exit=%d",
				 r->what, (int)r->pid, WEXITSTATUS(status));
		/* What it wrote before exiting; a background process it left
		 * holding the pipe does not keep the slot. */
		if (r->out >= 0)
			output_read(r);
		output_close(r);
		r->used = false;
	}
	pthread_mutex_lock(&h->lock);
	unsigned long lost = h->n < HOOKS_QUEUE_MAX ? h->dropped_unreported : 0;
	if (lost)
		h->dropped_unreported = 0;
	unsigned long total = h->dropped;
	pthread_mutex_unlock(&h->lock);
	if (lost)
		hook_log(h, CLOISTER_LOG_WARN,
			 "msg=\"hook events were dropped while the queue was "
			 "full\" dropped=%lu dropped_total=%lu",
			 lost, total);
	/* Start what waits, in order, while slots are free and the inputs
	 * already handed out stay under their bound (16 hooks of a large
	 * cluster would otherwise hold 16 member lists at once). */
	while (running(h) < HOOKS_RUNNING_MAX &&
	       input_held(h) < HOOKS_INPUT_HELD_MAX) {
		pthread_mutex_lock(&h->lock);
		if (h->n == 0) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		struct job j = h->queue[h->head];
		h->head = (h->head + 1) % HOOKS_QUEUE_MAX;
		h->n--;
		pthread_mutex_unlock(&h->lock);
		start(h, &j);
		job_free(&j);
	}
}
