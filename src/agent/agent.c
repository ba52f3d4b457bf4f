/*
 * agent.c — `cloister agent`: a node beside your service.
 *
 * Threads: the node runs its own (the runtime's event loop); this main
 * thread runs a second event base for the control API, signals, hooks'
 * reaping and the data directory.  The node's listener runs on the node's
 * thread and only queues: events go to the API's subscribers and to the
 * hook runner, both of which hand work to this thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <sodium.h>

#include "api_guard.h"
#include "api_token.h"
#include "cli/cli.h"
#include "cloister.h"
#include "core/addr.h"
#include "hooks.h"
#include "http_api.h"
#include "json.h"
#include "keys_remote.h"
#include "libevent_log.h"
#include "options.h"
#include "pending_calls.h"
#include "port.h"
#include "run.h"
#include "sd_notify.h"
#include "runtime/node_log.h"
#include "runtime/keyring.h"
#include "runtime/logfmt.h"

/* A node that cannot finish leaving in this long (its peers unreachable)
 * exits anyway. */
#define LEAVE_TIMEOUT_S 10
/* The data directory's peer list is rewritten this often at most. */
#define PEERS_SAVE_S 10

struct agent {
	agent_options opt;
	/* The command line, kept for SIGHUP: flags win over the file and
	 * the environment on a reload as at start. */
	int argc;
	char **argv;
	cloister_t *node;
	struct event_base *base;
	cl_http_api *api;
	cl_port *port; /* --stdio etf */
	cl_topics topics; /* answered topics: the API's, the port's, ours */
	hooks *hooks;
	/* The control API's token; a generated one's file, removed at exit. */
	char token[CL_TOKEN_MAX + 1];
	char token_path[CL_TOKEN_PATH_MAX];
	dev_t token_dev;
	ino_t token_ino;
	struct event *sigterm, *sigint, *sighup, *tick, *watchdog;
	bool leaving;
	int64_t leave_started;
	/* cloister run: the service, and the signals passed on to it. */
	const cl_run_options *run;
	cl_service *svc;
	struct event *sigchld, *sigusr1, *sigusr2, *sigwinch;
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static void log_line(void *arg, int level, const char *line)
{
	struct agent *a = arg;
	if (!a->opt.log_json) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	/* logfmt -> one JSON object: k=v and k="quoted v" pairs. */
	json_t *o = json_object();
	const char *p = line;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if (*p != '=')
			break;
		char key[64];
		size_t kl = (size_t)(p - k) < sizeof key - 1 ? (size_t)(p - k)
							     : sizeof key - 1;
		memcpy(key, k, kl);
		key[kl] = '\0';
		p++;
		char val[2048];
		size_t vl = 0;
		if (*p == '"') {
			/* Values are quoted by cl_logfmt_quote: \" \\ \n \r \t
			 * are read back; \xNN (a byte that was not UTF-8 or a
			 * control byte) stays as those four characters, which
			 * says more than U+FFFD would. */
			/* A value longer than val is cut, but read to its
			 * end: its tail must not be taken for fields. */
			p++;
			while (*p && *p != '"') {
				char c = *p++;
				if (c == '\\' && *p) {
					char e = *p++;
					c = e == 'n'   ? '\n'
					    : e == 'r' ? '\r'
					    : e == 't' ? '\t'
					    : e == '"' || e == '\\' ? e
								    : 0;
					if (!c) { /* \xNN and the like: as written */
						if (vl < sizeof val - 1)
							val[vl++] = '\\';
						c = e;
					}
				}
				if (vl < sizeof val - 1)
					val[vl++] = c;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ' ') {
				if (vl < sizeof val - 1)
					val[vl++] = *p;
				p++;
			}
		}
		val[vl] = '\0';
		/* Names from the network may hold bytes that are not UTF-8:
		 * jansson refuses those, and the line would lose the field. */
		json_object_set_new(o, key, cl_json_text(val, vl));
	}
	char *s = json_dumps(o, JSON_COMPACT);
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

/* The agent's own lines, through the same logger as the node's (level,
 * timestamp, JSON with --log-format json).  AGENT_LOG_ALWAYS: printed at
 * any level, as info (what an operator asked for, e.g. a SIGHUP). */
#define AGENT_LOG_ALWAYS (-1)
static void agent_log(struct agent *a, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void agent_log(struct agent *a, int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	if (level > a->opt.log_level)
		return;
	if (level == AGENT_LOG_ALWAYS)
		level = CLOISTER_LOG_INFO;
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
	log_line(a, level, line);
}

/* Why the agent cannot go on, once its options are read: an error line
 * in the log format asked for (JSON too), the reason as msg. */
static void agent_fail(struct agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void agent_fail(struct agent *a, const char *fmt, ...)
{
	char text[1024], q[CL_LOGFMT_QUOTED_MAX(sizeof text) + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	agent_log(a, CLOISTER_LOG_ERROR, "msg=%s",
		  cl_logfmt_quote(text, q, sizeof q));
}

/* ------------------------------------------------------------------ */
/* systemd                                                             */
/* ------------------------------------------------------------------ */

/* STATUS= for `systemctl status`: the cluster's status against its
 * quorum ("assembling: 1 of 3 members alive, sentry none"). */
static void notify_status(cloister_state st, size_t alive, unsigned consensus,
			  const char *sentry, bool ready_too)
{
	char text[CLOISTER_NAME_MAX + 160];
	snprintf(text, sizeof text, "%sSTATUS=%s: %zu of %u members alive, sentry %s",
		 ready_too ? "READY=1\n" : "", cloister_state_name(st), alive,
		 consensus, sentry[0] ? sentry : "none");
	cl_sd_notify(text);
}

/* The watchdog's ping, every half WATCHDOG_USEC: this thread's loop runs
 * and the node answers for its status. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)cloister_status(a->node);
	cl_sd_notify("WATCHDOG=1");
}

/* libevent's messages as the agent's lines (libevent_log.h). */
static void libevent_line(void *arg, int level, const char *fields)
{
	agent_log(arg, level, "%s", fields);
}

static void libevent_fatal(void *arg, int err)
{
	struct agent *a = arg;
	cl_token_remove(a->token_path, a->token_dev, a->token_ino);
	char text[64];
	snprintf(text, sizeof text, "STATUS=libevent fatal error %d", err);
	cl_sd_notify(text);
}

/* ------------------------------------------------------------------ */
/* Listener: runs on the node's thread, only queues                    */
/* ------------------------------------------------------------------ */

/* Names, addresses and tags come from the network and may hold bytes
 * that are not UTF-8: json_pack("s") refuses them, and the event would
 * vanish.  Every such text goes through cl_json_text, which writes each
 * bad byte as U+FFFD, the same way /v1/members does. */
static json_t *text(const char *s)
{
	return cl_json_text(s, strlen(s));
}

static void publish(struct agent *a, json_t *ev)
{
	char *s = ev && cl_http_api_listened(a->api) ? json_dumps(ev, JSON_COMPACT)
						      : NULL;
	if (s && a->api)
		cl_http_api_publish(a->api, s);
	free(s);
	json_decref(ev);
}

/* The status line a new /v1/events subscriber starts with. */
static void publish_status(struct agent *a, json_t *ev, cloister_state now,
			   size_t alive, const char *sentry)
{
	json_t *st = json_pack("{s:s,s:s,s:I,s:o}", "type", "status", "status",
			       cloister_state_name(now), "alive",
			       (json_int_t)alive, "sentry", text(sentry));
	char *evs = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	char *sts = st ? json_dumps(st, JSON_COMPACT) : NULL;
	if (a->api && sts)
		cl_http_api_publish_state(a->api, evs, sts);
	free(evs);
	free(sts);
	json_decref(st);
	json_decref(ev);
}

static void on_state(void *arg, cloister_state from, cloister_state to,
		     const cloister_snapshot *s)
{
	struct agent *a = arg;
	publish_status(a, json_pack("{s:s,s:s,s:s,s:I,s:o}", "type", "state",
				    "from", cloister_state_name(from), "to",
				    cloister_state_name(to), "alive",
				    (json_int_t)s->alive, "sentry",
				    text(s->sentry)),
		       to, s->alive, s->sentry);
	notify_status(to, s->alive, s->consensus, s->sentry, false);
	cl_port_state(a->port, from, to, s);
	hooks_state_change(a->hooks, from, to, s);
	/* cloister run --wait-ready: the tick (this thread may not touch the
	 * service) starts it if it waits. */
	if (a->opt.on_change[0] || (a->svc && to == CLOISTER_READY))
		event_active(a->tick, EV_TIMEOUT, 0); /* start it now */
}

static void on_member(void *arg, cloister_member_event ev,
		      const cloister_member *m)
{
	static const char *const names[] = {"", "joined", "updated", "left",
					    "failed", "reaped"};
	struct agent *a = arg;
	cl_http_api_member_changed(a->api);
	if (cl_http_api_listened(a->api)) {
		char *line = cl_json_member_event(ev, m);
		if (line)
			cl_http_api_publish(a->api, line);
		free(line);
	}
	cl_port_member(a->port, (int)ev, names[ev], m);
	hooks_member_event(a->hooks, names[ev], m);
	if (a->opt.on_member[0])
		event_active(a->tick, EV_TIMEOUT, 0); /* start it now */
}

static void on_sentry(void *arg, const char *sentry)
{
	struct agent *a = arg;
	publish(a, json_pack("{s:s,s:o}", "type", "sentry", "sentry", text(sentry)));
	cl_port_sentry(a->port, sentry);
}

/* Every agent answers "cloister.ping" with its name: `cloister multicall
 * cloister.ping x` is a reachability check across the cluster. */
static void on_ping(void *arg, const char *topic, const char *from,
		    const void *payload, size_t len, void **reply,
		    size_t *reply_len)
{
	struct agent *a = arg;
	if (!reply)
		return;
	const char *me = cloister_name(a->node);
	*reply = strdup(me);
	*reply_len = *reply ? strlen(me) : 0;
}

/* ------------------------------------------------------------------ */
/* Data directory: the peers we knew, to rejoin after a restart         */
/* ------------------------------------------------------------------ */

static void peers_path(const struct agent *a, char *out, size_t len)
{
	snprintf(out, len, "%s/peers", a->opt.data_dir);
}

/* A new file of ours in dir: a random name, created by this call
 * (O_EXCL) and never through a link (O_NOFOLLOW), mode 0600.  A fixed
 * name would let whoever can write the directory plant a symlink there
 * and have us truncate its target, or keep us from saving at all. */
static int private_temp(const char *dir, char *tmp, size_t len)
{
	for (int tries = 0; tries < 8; tries++) {
		uint8_t r[8];
		randombytes_buf(r, sizeof r);
		snprintf(tmp, len, "%s/.peers.%02x%02x%02x%02x%02x%02x%02x%02x.tmp",
			 dir, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static void save_peers(struct agent *a)
{
	static bool warned;
	if (!a->opt.data_dir[0])
		return;
	cloister_member *m;
	size_t n;
	if (cloister_members(a->node, &m, &n) != 0)
		return;
	char path[AGENT_PATH_MAX + 16], tmp[AGENT_PATH_MAX + 48];
	char q[CL_LOGFMT_QUOTED_MAX(AGENT_PATH_MAX) + 1];
	peers_path(a, path, sizeof path);
	int fd = private_temp(a->opt.data_dir, tmp, sizeof tmp);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		if (!warned)
			agent_log(a, CLOISTER_LOG_WARN,
				  "msg=\"cannot save peers in data-dir\" dir=%s "
				  "error=\"%s\"",
				  cl_logfmt_quote(a->opt.data_dir, q, sizeof q),
				  strerror(errno));
		warned = true;
		cloister_members_free(m, n);
		return;
	}
	for (size_t i = 1; i < n; i++) /* [0] is ourselves */
		if (m[i].status == CLOISTER_MEMBER_ALIVE ||
		    m[i].status == CLOISTER_MEMBER_SUSPECT)
			fprintf(f, "%s\n", m[i].addr);
	cloister_members_free(m, n);
	/* Written aside, flushed, then renamed over the old list: a crash
	 * never leaves half a list, and rename replaces a symlink planted
	 * at the final name instead of writing through it. */
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		if (!warned)
			agent_log(a, CLOISTER_LOG_WARN,
				  "msg=\"cannot save peers in data-dir\" dir=%s "
				  "error=\"%s\"",
				  cl_logfmt_quote(a->opt.data_dir, q, sizeof q),
				  strerror(errno));
		warned = true;
		unlink(tmp);
	}
}

/* The data directory exists (made 0700 if not) and no other user may
 * write in it: whoever can would choose the peers we rejoin. */
static void data_dir_check(struct agent *a)
{
	const char *dir = a->opt.data_dir;
	char q[CL_LOGFMT_QUOTED_MAX(AGENT_PATH_MAX) + 1];
	struct stat st;
	if (!dir[0])
		return;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		agent_log(a, CLOISTER_LOG_WARN,
			  "msg=\"cannot create data-dir\" dir=%s error=\"%s\"",
			  cl_logfmt_quote(dir, q, sizeof q), strerror(errno));
		return;
	}
	if (stat(dir, &st) == 0 && (st.st_mode & 022) &&
	    !(st.st_mode & S_ISVTX))
		agent_log(a, CLOISTER_LOG_WARN,
			  "msg=\"data-dir is writable by other users, who could "
			  "replace the peers this agent rejoins (chmod 700)\" "
			  "dir=%s mode=%04o",
			  cl_logfmt_quote(dir, q, sizeof q),
			  (unsigned)(st.st_mode & 07777));
}

static void load_peers(struct agent *a)
{
	if (!a->opt.data_dir[0])
		return;
	char path[AGENT_PATH_MAX + 16];
	peers_path(a, path, sizeof path);
	/* Never through a symlink, never a FIFO or device put there. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		char q[CL_LOGFMT_QUOTED_MAX(AGENT_PATH_MAX + 16) + 1];
		agent_log(a, CLOISTER_LOG_WARN,
			  "msg=\"peers file in data-dir is not a regular file "
			  "(a symlink?): ignored, and replaced at the next "
			  "save\" path=%s error=\"%s\"",
			  cl_logfmt_quote(path, q, sizeof q),
			  fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	char line[128];
	char addrs[64][128];
	const char *ptrs[64];
	size_t n = 0;
	while (n < 64 && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(addrs[n], sizeof addrs[n], "%s", line);
		ptrs[n] = addrs[n];
		n++;
	}
	fclose(f);
	if (n && cloister_join_addrs(a->node, ptrs, n) == 0)
		agent_log(a, CLOISTER_LOG_INFO,
			  "msg=\"rejoining peers remembered in data-dir\" "
			  "peers=%zu", n);
}

/* ------------------------------------------------------------------ */
/* Signals and the periodic tick                                       */
/* ------------------------------------------------------------------ */

static void on_term(evutil_socket_t sig, short what, void *arg);

/* The BEAM's end of the port closed (it exited, or was killed): leave as
 * on SIGTERM, then exit. */
static void on_port_closed(void *arg)
{
	struct agent *a = arg;
	agent_log(a, CLOISTER_LOG_INFO,
		  "msg=\"the Erlang port closed (end of stdin): leaving\"");
	if (!a->leaving)
		on_term(SIGTERM, 0, a);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	if (a->leaving) {
		/* A second signal: stop waiting for the leave to spread (and
		 * for the service: it is killed on the way out). */
		event_base_loopbreak(a->base);
		return;
	}
	a->leaving = true;
	a->leave_started = cloister_now_us();
	agent_log(a, CLOISTER_LOG_INFO, "msg=\"leaving the cluster\" signal=%d",
		  (int)sig);
	/* The service stops while the node leaves: peers move its share
	 * away at once, whatever the service takes to shut down. */
	if (sig > 0 && cl_service_running(a->svc)) {
		agent_log(a, CLOISTER_LOG_INFO,
			  "msg=\"stopping the service\" signal=%d grace_s=%d",
			  (int)sig, a->run->grace_s);
		cl_service_stop(a->svc, (int)sig);
	}
	cl_sd_notify("STOPPING=1\nSTATUS=leaving the cluster");
	cloister_leave(a->node);
}

/* Installs one key source's key beside the current ones; logs the
 * outcome (cloister_keys_install logs a new key's fingerprint). */
static void reinstall_key(struct agent *a, const char *source,
			  const uint8_t key[CL_KEY_BYTES])
{
	char hex[CL_KEY_HEX_LEN + 1];
	for (size_t i = 0; i < CL_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	int e = cloister_keys_install(a->node, hex);
	sodium_memzero(hex, sizeof hex);
	agent_log(a, e == 0 || e == CLOISTER_EEXIST ? AGENT_LOG_ALWAYS
						     : CLOISTER_LOG_ERROR,
		  "msg=\"SIGHUP: key re-read\" source=%s result=\"%s\"", source,
		  e == CLOISTER_EEXIST ? "already installed"
		: e == 0	     ? "installed"
				     : cloister_strerror(e));
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	/* cloister run: the service may reload on SIGHUP too. */
	cl_service_signal(a->svc, SIGHUP);
	/* Reloadable: every key source (key-file, key, passphrase; each key
	 * installed beside the current ones, so rotation can be driven by
	 * replacing a file) and the log level.  The settings are read again
	 * from the file, the environment and the original command line, in
	 * the same order as at start: a --key-file or --log-level given as a
	 * flag keeps winning.  Everything else needs a restart (it is the
	 * node's identity). */
	static agent_options fresh;
	if (agent_options_reload(&fresh, a->argc, a->argv) != 0) {
		agent_log(a, CLOISTER_LOG_ERROR,
			  "msg=\"SIGHUP: configuration not reloaded (see "
			  "above); keys and log level unchanged\"");
		return;
	}
	uint8_t key[CL_KEY_BYTES];
	char why[300], qwhy[CL_LOGFMT_QUOTED_MAX(300) + 1];
	const char *key_file = agent_option(&fresh, "key_file");
	if (*key_file) {
		/* The same checks as at start (a regular file, not readable
		 * by others, one key). */
		if (cl_key_from_file(key_file, key, why, sizeof why) == 0)
			reinstall_key(a, "key_file", key);
		else
			agent_log(a, CLOISTER_LOG_ERROR,
				  "msg=\"SIGHUP: key file not read\" reason=%s",
				  cl_logfmt_quote(why, qwhy, sizeof qwhy));
	}
	const char *key_text = agent_option(&fresh, "key");
	if (*key_text) {
		if (cl_key_parse(key_text, key) == 0)
			reinstall_key(a, "key", key);
		else
			agent_log(a, CLOISTER_LOG_ERROR,
				  "msg=\"SIGHUP: key is not 64 hex digits or "
				  "base64 of 32 bytes\"");
	}
	const char *pass = agent_option(&fresh, "passphrase");
	if (*pass) {
		const char *app = agent_option(&fresh, "app");
		if (cl_key_from_passphrase(*app ? app : "cloister", pass, key) == 0)
			reinstall_key(a, "passphrase", key);
		else
			agent_log(a, CLOISTER_LOG_ERROR,
				  "msg=\"SIGHUP: cannot derive the passphrase's "
				  "key\"");
	}
	sodium_memzero(key, sizeof key);
	cloister_set_logger(a->node, log_line, a, fresh.log_level);
	hooks_set_log_level(a->hooks, fresh.log_level);
	a->opt.log_level = fresh.log_level;
	/* The secrets of the copy are not kept. */
	sodium_memzero(&fresh, sizeof fresh);
	static const char *const lv[] = {"error", "warn", "info", "debug"};
	agent_log(a, AGENT_LOG_ALWAYS,
		  "msg=\"SIGHUP: configuration reloaded\" log_level=%s",
		  lv[a->opt.log_level]);
}

/* cloister run: the service's start, once the agent serves or (with
 * --wait-ready) once the cluster is ready. */
static void service_start(struct agent *a)
{
	if (!a->svc || cl_service_started(a->svc) || a->leaving ||
	    (a->run->wait_ready && cloister_status(a->node) != CLOISTER_READY))
		return;
	char why[300], q[CL_LOGFMT_QUOTED_MAX(300) + 1];
	if (cl_service_start(a->svc, why, sizeof why) != 0) {
		agent_fail(a, "cannot run the service: %s", why);
		return; /* reaped as exit 127: the node leaves */
	}
	agent_log(a, CLOISTER_LOG_INFO, "msg=\"service started\" command=%s",
		  cl_logfmt_quote(a->run->command[0], q, sizeof q));
}

static void on_service_exit(void *arg, int code)
{
	struct agent *a = arg;
	agent_log(a, CLOISTER_LOG_INFO, "msg=\"service exited\" status=%d%s",
		  code, a->leaving ? "" : " next=\"leaving the cluster\"");
	if (!a->leaving)
		on_term(0, 0, a);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	/* The hooks first, so they see their own children's status. */
	hooks_reap(a->hooks);
	cl_service_reap(a->svc);
}

static void on_forward(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	cl_service_signal(a->svc, (int)sig);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	hooks_reap(a->hooks);
	service_start(a);
	static int64_t last_save;
	int64_t now = cloister_now_us();
	if (now - last_save >= (int64_t)PEERS_SAVE_S * 1000000) {
		last_save = now;
		save_peers(a);
	}
	if (a->leaving && !cl_service_running(a->svc)) {
		if (cloister_status(a->node) == CLOISTER_STOPPED ||
		    now - a->leave_started > (int64_t)LEAVE_TIMEOUT_S * 1000000)
			event_base_loopbreak(a->base);
	}
}

/* ------------------------------------------------------------------ */
/* The control API's token                                             */
/* ------------------------------------------------------------------ */

/* The token the HTTP listener will require, into a->token: given
 * (CLOISTER_TOKEN or token-file, not both) or generated.  0, or -1 with the
 * reason printed.  *generated: it is to be written for the clients once
 * the listener is up. */
static int token_setup(struct agent *a, bool *generated)
{
	char why[CL_TOKEN_PATH_MAX + 200];
	*generated = false;
	if (a->opt.token[0] && a->opt.token_file[0]) {
		agent_fail(a, "both CLOISTER_TOKEN and token-file give the "
			      "control API's token: keep one");
		return -1;
	}
	if (a->opt.token[0]) {
		snprintf(a->token, sizeof a->token, "%s", a->opt.token);
		return 0;
	}
	if (a->opt.token_file[0]) {
		bool missing;
		/* Private like a key file: the token is the agent. */
		if (cl_token_read(a->opt.token_file, CL_TOKEN_PRIVATE, a->token,
				  sizeof a->token, &missing, why,
				  sizeof why) != 0) {
			agent_fail(a, "token-file: %s", why);
			return -1;
		}
		return 0;
	}
	const char *h, *port;
	size_t hlen;
	char host[128] = "";
	if (cl_split_host_port(a->opt.http, &h, &hlen, &port) &&
	    hlen < sizeof host) {
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	if (!cl_host_is_loopback(host)) {
		agent_fail(a,
			"the control API would listen on %s, "
			"off loopback, where other machines reach it: give it a "
			"token its clients also hold, with token-file (mode 0600, "
			"e.g. a mounted secret) or CLOISTER_TOKEN, or keep --http "
			"on a loopback address (the default 127.0.0.1:7947); "
			"--probe serves /ready, /health and /metrics without "
			"one",
			a->opt.http);
		return -1;
	}
	if (cl_token_generate(a->token) != 0) {
		agent_fail(a, "cannot generate the control API's token: no "
			      "randomness available");
		return -1;
	}
	*generated = true;
	return 0;
}

/* Writes a generated token where the client commands look (api_token.h).
 * 0, or -1 with the reason printed: without it no client could use the
 * API. */
static int token_publish(struct agent *a)
{
	char name[300], dirs[CL_TOKEN_DIRS_MAX][CL_TOKEN_PATH_MAX];
	char why[CL_TOKEN_PATH_MAX + 200];
	size_t n = cl_token_dirs(dirs, CL_TOKEN_DIRS_MAX);
	if (cl_token_file_name(a->opt.http, name, sizeof name) != 0 || n == 0) {
		agent_fail(a, "no place to write the control API's token for %s",
			   a->opt.http);
		return -1;
	}
	if (cl_token_write(dirs[0], name, a->token, a->token_path,
			   &a->token_dev, &a->token_ino, why,
			   sizeof why) != 0) {
		agent_fail(a,
			   "cannot write the control API's token: %s; give the "
			   "agent one with token-file or CLOISTER_TOKEN, or set "
			   "XDG_RUNTIME_DIR to a private directory",
			   why);
		return -1;
	}
	char q[CL_LOGFMT_QUOTED_MAX(CL_TOKEN_PATH_MAX) + 1];
	agent_log(a, CLOISTER_LOG_INFO,
		  "msg=\"control API token written for the client commands\" "
		  "path=%s",
		  cl_logfmt_quote(a->token_path, q, sizeof q));
	return 0;
}

/* ------------------------------------------------------------------ */

int cmd_agent(int argc, char **argv)
{
	return cl_agent_main(argc, argv, NULL);
}

int cl_agent_main(int argc, char **argv, const cl_run_options *run)
{
	static struct agent a; /* zeroed once, by being static */
	int e = agent_options_load(&a.opt, argc, argv);
	if (e)
		return e == 1 ? 0 : 2;
	if (run && a.opt.stdio_etf) {
		fprintf(stderr, "cloister run: --stdio etf is for an Erlang port, "
				"not a container's entry point\n");
		return 2;
	}
	a.argc = argc;
	a.argv = argv;
	a.run = run;
	cl_libevent_log_route(libevent_line, libevent_fatal, &a);
	cloister_config_t *cfg = cloister_config_new();
	if (!cfg || agent_options_apply(&a.opt, cfg) != 0) {
		cloister_config_free(cfg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	/* Connections are bounded by the agent's own limits, not by a low
	 * default descriptor limit: take what the hard limit allows. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	int err = 0;
	/* The node's own log lines during creation (its name, and why it
	 * refuses) in the agent's format too. */
	cl_node_set_creation_logger(log_line, &a, a.opt.log_level);
	a.node = cloister_new(cfg, &err);
	cloister_config_free(cfg);
	if (!a.node) {
		agent_fail(&a, "cannot start the node: %s",
			   cloister_strerror(err));
		return 1;
	}
	cloister_set_logger(a.node, log_line, &a, a.opt.log_level);
	a.base = event_base_new();
	a.tick = a.base ? event_new(a.base, -1, EV_PERSIST, on_tick, &a) : NULL;
	a.hooks = hooks_new(a.node, a.base, a.opt.on_change, a.opt.on_member,
			    a.opt.hook_timeout_s);
	hooks_set_logger(a.hooks, log_line, &a, a.opt.log_level);
	if (run)
		a.svc = a.base ? cl_service_new(a.base, run, on_service_exit, &a)
			       : NULL;
	if (!a.base || !a.tick || !a.hooks || (run && !a.svc)) {
		agent_fail(&a, "out of memory");
		return 1;
	}
	cl_topics_init(&a.topics, a.node);
	char why[256] = "";
	bool generated = false;
	if (a.opt.http[0] && token_setup(&a, &generated) != 0)
		return 1;
	if (a.opt.http[0] || a.opt.ctl[0] || a.opt.probe[0]) {
		cl_http_api_config api = {
			.tcp_listen = a.opt.http[0] ? a.opt.http : NULL,
			.unix_path = a.opt.ctl[0] ? a.opt.ctl : NULL,
			.probe_listen = a.opt.probe[0] ? a.opt.probe : NULL,
			.token = a.opt.http[0] ? a.token : NULL,
			.topics = &a.topics,
		};
		a.api = cl_http_api_new(a.base, a.node, &api, why, sizeof why);
		if (!a.api) {
			agent_fail(&a, "control API: %s", why);
			return 1;
		}
		/* Only once listening: an agent that cannot have the address
		 * must not replace the token of the one that has it. */
		if (generated && token_publish(&a) != 0) {
			cl_http_api_free(a.api);
			return 1;
		}
		/* Before the node starts: the status until its first change. */
		publish_status(&a, NULL, cloister_status(a.node), 0, "");
	}
	if (a.opt.stdio_etf) {
		/* Frames own stdout: anything else printed there (by us or a
		 * library) would corrupt the stream, so fd 1 becomes stderr
		 * and the port writes to a copy of the original. */
		int out = dup(STDOUT_FILENO);
		if (out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
			agent_fail(&a, "--stdio etf: %s", strerror(errno));
			return 1;
		}
		a.port = cl_port_new(a.base, a.node, &a.topics, STDIN_FILENO,
				     out, on_port_closed, &a, why, sizeof why);
		if (!a.port) {
			agent_fail(&a, "--stdio etf: %s", why);
			return 1;
		}
	}
	cloister_listener l = {&a, on_state, on_member, on_sentry};
	cloister_set_listener(a.node, &l);
	char *ping[] = {"cloister.ping"}, *keys[] = {CL_KEYS_TOPIC};
	cl_topics_acquire(&a.topics, cl_topics_new_owner(&a.topics), ping, 1,
			  on_ping, &a, NULL);
	cl_topics_acquire(&a.topics, cl_topics_new_owner(&a.topics), keys, 1,
			  cl_keys_remote_handle, a.node, NULL);
	e = cloister_start(a.node);
	if (e != 0) {
		agent_fail(&a, "cannot start: %s (is the address in use, or not "
			       "on this host?)",
			   cloister_strerror(e));
		return 1;
	}
	data_dir_check(&a);
	load_peers(&a);
	/* Ready for systemd once serving, whatever the quorum: a node started
	 * alone must not hold `systemctl start` (services that need the
	 * cluster run `cloister wait ready`).  STATUS= follows the quorum. */
	cloister_snapshot *snap = NULL;
	if (cloister_snapshot_get(a.node, &snap) != 0)
		snap = NULL;
	notify_status(cloister_status(a.node), snap ? snap->alive : 1,
		      snap ? snap->consensus : 1, snap ? snap->sentry : "", true);
	cloister_snapshot_free(snap);
	uint64_t wd = cl_sd_watchdog_usec();
	if (wd) {
		struct timeval half = {(time_t)(wd / 2000000),
				       (suseconds_t)(wd / 2 % 1000000)};
		a.watchdog = event_new(a.base, -1, EV_PERSIST, on_watchdog, &a);
		if (a.watchdog)
			event_add(a.watchdog, &half);
		cl_sd_notify("WATCHDOG=1");
	}

	a.sigterm = evsignal_new(a.base, SIGTERM, on_term, &a);
	a.sigint = evsignal_new(a.base, SIGINT, on_term, &a);
	a.sighup = evsignal_new(a.base, SIGHUP, on_hup, &a);
	/* Once a second: hooks are started at once (the listener wakes this
	 * event), so the period only bounds reaping, hook timeouts and the
	 * end of a leave; an idle agent should not wake more than it must. */
	struct timeval every = {1, 0};
	event_add(a.sigterm, NULL);
	event_add(a.sigint, NULL);
	event_add(a.sighup, NULL);
	event_add(a.tick, &every);
	if (a.svc) {
		a.sigchld = evsignal_new(a.base, SIGCHLD, on_sigchld, &a);
		a.sigusr1 = evsignal_new(a.base, SIGUSR1, on_forward, &a);
		a.sigusr2 = evsignal_new(a.base, SIGUSR2, on_forward, &a);
		a.sigwinch = evsignal_new(a.base, SIGWINCH, on_forward, &a);
		struct event *evs[] = {a.sigchld, a.sigusr1, a.sigusr2, a.sigwinch};
		for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
			if (evs[i])
				event_add(evs[i], NULL);
		service_start(&a);
	}
	event_base_dispatch(a.base);
	if (cl_service_running(a.svc)) {
		/* Out before the service (a second SIGTERM): nothing of it
		 * stays behind. */
		cl_service_stop(a.svc, SIGKILL);
		for (int i = 0; i < 100 && cl_service_running(a.svc); i++) {
			cl_service_reap(a.svc);
			if (cl_service_running(a.svc))
				usleep(10000);
		}
	}
	int code = cl_service_exit_code(a.svc);

	save_peers(&a);
	cl_http_api_free(a.api);
	cl_port_free(a.port);
	cl_topics_clear(&a.topics);
	cl_token_remove(a.token_path, a.token_dev, a.token_ino);
	sodium_memzero(a.token, sizeof a.token);
	hooks_free(a.hooks);
	cloister_free(a.node);
	event_free(a.sigterm);
	event_free(a.sigint);
	event_free(a.sighup);
	event_free(a.tick);
	if (a.watchdog)
		event_free(a.watchdog);
	struct event *evs[] = {a.sigchld, a.sigusr1, a.sigusr2, a.sigwinch};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	cl_service_free(a.svc);
	event_base_free(a.base);
	return code;
}
