/*
 * cmd_client.c — the commands that talk to a running agent: members,
 * status, whois, wait, join, leave, multicast, multicall, monitor, keys.
 *
 * Each finds the agent by --http HOST:PORT or --ctl PATH, else the
 * environment (CLOISTER_CTL, then CLOISTER_HTTP), else
 * 127.0.0.1:7947, and speaks HTTP/1.1 to its control API with a small
 * blocking client: one request per connection (Connection: close), every
 * wait bounded by poll().  Over HTTP it sends the agent's token: from
 * --token-file, CLOISTER_TOKEN or CLOISTER_TOKEN_FILE, else the file a
 * generated token is written to (api_token.h); over the Unix socket the
 * agent knows its peer's uid and needs none.
 *
 * Exit status, shared by all: 0 done; 1 the agent refused (its "error" is
 * printed), a wait timed out, or a multicall went partly unanswered;
 * 2 usage; 3 no agent could be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <sodium.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/api_token.h"
#include "args.h"
#include "cli.h"
#include "cloister.h"
#include "core/addr.h"
#include "http_client.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOAGENT = 3 };

#define DEFAULT_AGENT "127.0.0.1:7947"
/* A response as large as a 65536-member list with tags. */
#define RESP_MAX (16u << 20)
/* Status line and headers. */
#define HEAD_MAX (64u << 10)
/* Requests other than waits: the agent answers from memory, so ten
 * seconds means it is stuck. */
#define REQUEST_TIMEOUT_MS 10000
/* DATA read from stdin ("-"): a message's payload limit. */
#define DATA_MAX (1u << 20)
/* `wait` polls this often. */
#define WAIT_POLL_MS 200
/* join takes as many seeds as the API does. */
#define POS_MAX 64

/* ------------------------------------------------------------------ */
/* Agent address and options                                           */
/* ------------------------------------------------------------------ */

struct target {
	bool is_unix;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	char host[256], port[8];
	char label[300]; /* for messages */
	char token[CL_TOKEN_MAX + 1]; /* "" over the Unix socket or unknown */
	char token_from[CL_TOKEN_PATH_MAX + 64]; /* where it came or was looked for */
};

enum {
	OPT_JSON = 1 << 0,
	OPT_TIMEOUT = 1 << 1,
	OPT_RING = 1 << 2,
	OPT_N = 1 << 3,
	OPT_MEMBERS = 1 << 4,
	OPT_KEY_FILE = 1 << 5,
	OPT_FILTER = 1 << 6,
};

struct opts {
	const char *cmd;
	const char *http, *ctl, *timeout, *ring, *n, *members, *token_file,
		*key_file, *status, *tag;
	bool json, help;
	char *pos[POS_MAX];
	int npos;
	struct target t;
};

static int usage_error(const struct opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct opts *o, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cloister %s: ", o->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see `cloister %s --help`\n", o->cmd);
	return EXIT_USAGE;
}

static int target_http(struct opts *o, const char *spec)
{
	struct target *t = &o->t;
	const char *h, *port;
	size_t hlen;
	bool split = cl_split_host_port(spec, &h, &hlen, &port);
	size_t plen = split ? strlen(port) : 0;
	if (!split || hlen >= sizeof t->host || plen == 0 ||
	    plen >= sizeof t->port || strspn(port, "0123456789") != plen)
		return usage_error(o, "'%s' is not HOST:PORT (e.g. %s)", spec,
				   DEFAULT_AGENT);
	memset(t, 0, sizeof *t);
	memcpy(t->host, h, hlen);
	memcpy(t->port, port, plen);
	snprintf(t->label, sizeof t->label, "%s", spec);
	return 0;
}

static int target_ctl(struct opts *o, const char *path)
{
	struct target *t = &o->t;
	if (!*path || strlen(path) >= sizeof t->path)
		return usage_error(o, "'%s' is not a usable socket path (at most "
				      "%zu bytes)",
				   path, sizeof t->path - 1);
	memset(t, 0, sizeof *t);
	t->is_unix = true;
	memcpy(t->path, path, strlen(path) + 1);
	snprintf(t->label, sizeof t->label, "%s", path);
	return 0;
}

/* The token for an HTTP target (see the top of this file).  A token file
 * named explicitly that cannot be read is an error; a generated one not
 * found is not (the agent may run with another, and says so with 401). */
static int target_token(struct opts *o)
{
	struct target *t = &o->t;
	char why[CL_TOKEN_PATH_MAX + 200];
	const char *file = o->token_file ? o->token_file
					 : getenv("CLOISTER_TOKEN_FILE");
	const char *env = getenv("CLOISTER_TOKEN");
	if (t->is_unix && !o->token_file)
		return 0;
	if (!o->token_file && env && *env) {
		if (!cl_token_ok(env, strlen(env))) {
			fprintf(stderr, "cloister %s: CLOISTER_TOKEN is not a "
					"token (%u to %u visible characters)\n",
				o->cmd, CL_TOKEN_MIN, CL_TOKEN_MAX);
			return EXIT_USAGE;
		}
		snprintf(t->token, sizeof t->token, "%s", env);
		snprintf(t->token_from, sizeof t->token_from, "CLOISTER_TOKEN");
		return 0;
	}
	if (file && *file) {
		if (cl_token_read(file, CL_TOKEN_ANY, t->token, sizeof t->token,
				  NULL, why, sizeof why) != 0) {
			fprintf(stderr, "cloister %s: token file: %s\n", o->cmd,
				why);
			return EXIT_FAILED;
		}
		snprintf(t->token_from, sizeof t->token_from, "%s", file);
		return 0;
	}
	char hostport[300];
	snprintf(hostport, sizeof hostport, strchr(t->host, ':') ? "[%s]:%s"
								  : "%s:%s",
		 t->host, t->port);
	char looked[CL_TOKEN_PATH_MAX + 64];
	if (cl_token_find(hostport, t->token, sizeof t->token, looked,
			  sizeof looked) == 0)
		snprintf(t->token_from, sizeof t->token_from, "the agent's "
							      "token file");
	else
		snprintf(t->token_from, sizeof t->token_from, "%s", looked);
	return 0;
}

/* The agent's address from the environment: CLOISTER_HTTP, the name the
 * agent itself reads (one variable per setting), else the old
 * CLOISTER_HTTP_ADDR with a warning, else the default. */
static const char *http_from_env(void)
{
	const char *v = getenv("CLOISTER_HTTP");
	if (v && *v)
		return v;
	v = getenv("CLOISTER_HTTP_ADDR");
	if (v && *v) {
		fprintf(stderr, "cloister: warning: CLOISTER_HTTP_ADDR is "
				"deprecated; set CLOISTER_HTTP (the agent's own "
				"name for it)\n");
		return v;
	}
	return DEFAULT_AGENT;
}

/* Options first or mixed with positionals; "--" ends them.  allowed: the
 * OPT_* a command takes besides --http, --ctl and --help. */
static int parse_opts(struct opts *o, const char *cmd, int argc, char **argv,
		      unsigned allowed)
{
	memset(o, 0, sizeof *o);
	o->cmd = cmd;
	static const struct {
		const char *name;
		unsigned bit; /* 0: always allowed */
		size_t off;   /* where the value goes; 0: a flag */
	} table[] = {
		{"--http", 0, offsetof(struct opts, http)},
		{"--ctl", 0, offsetof(struct opts, ctl)},
		{"--timeout", OPT_TIMEOUT, offsetof(struct opts, timeout)},
		{"--ring", OPT_RING, offsetof(struct opts, ring)},
		{"-n", OPT_N, offsetof(struct opts, n)},
		{"--members", OPT_MEMBERS, offsetof(struct opts, members)},
		{"--token-file", 0, offsetof(struct opts, token_file)},
		{"--key-file", OPT_KEY_FILE, offsetof(struct opts, key_file)},
		{"--status", OPT_FILTER, offsetof(struct opts, status)},
		{"--tag", OPT_FILTER, offsetof(struct opts, tag)},
		{"--json", OPT_JSON, 0},
		{"--help", 0, 0},
		{"-h", 0, 0},
	};
	size_t nt = sizeof table / sizeof *table;
	struct cl_opt copts[sizeof table / sizeof *table];
	for (size_t k = 0; k < nt; k++)
		copts[k] = (struct cl_opt){table[k].name, table[k].off != 0};
	cl_args args;
	cl_args_init(&args, argc, argv);
	for (;;) {
		enum cl_arg_kind kind = cl_args_next(&args, copts, nt);
		if (kind == CL_ARG_END)
			break;
		if (kind == CL_ARG_ERROR)
			return usage_error(o, "%s", args.error);
		if (kind == CL_ARG_POS) {
			if (o->npos == POS_MAX)
				return usage_error(o, "more than %d arguments",
						   POS_MAX);
			o->pos[o->npos++] = (char *)args.value;
			continue;
		}
		size_t k = (size_t)(args.opt - copts);
		if (table[k].bit && !(allowed & table[k].bit))
			return usage_error(o, "unknown option '%s'",
					   table[k].name);
		if (!table[k].off) {
			if (table[k].bit == OPT_JSON)
				o->json = true;
			else
				o->help = true;
			continue;
		}
		*(const char **)((char *)o + table[k].off) = args.value;
	}
	if (o->help)
		return 0;
	if (o->http && o->ctl)
		return usage_error(o, "give --http or --ctl, not both");
	int e;
	const char *env = getenv("CLOISTER_CTL");
	if (o->ctl)
		e = target_ctl(o, o->ctl);
	else if (o->http)
		e = target_http(o, o->http);
	else if (env && *env)
		e = target_ctl(o, env);
	else
		e = target_http(o, http_from_env());
	return e ? e : target_token(o);
}

/* Seconds ("2", "0.5") as milliseconds in [min_ms, max_ms], or -1. */
static int parse_seconds(const char *s, int min_ms, int max_ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v * 1000 >= min_ms) ||
	    !(v * 1000 <= max_ms))
		return -1;
	return (int)(v * 1000 + 0.5);
}

static const char common_help[] =
	"\n"
	"The agent is found by --http HOST:PORT or --ctl PATH (its Unix\n"
	"socket), else $CLOISTER_CTL, else $CLOISTER_HTTP, else " DEFAULT_AGENT
	".\n"
	"Over HTTP the agent's token is sent: --token-file FILE, else\n"
	"$CLOISTER_TOKEN, else $CLOISTER_TOKEN_FILE, else the token the agent\n"
	"generated (readable by its user: $XDG_RUNTIME_DIR/cloister/,\n"
	"/run/cloister/ for root, /tmp/cloister-UID/; http-HOST-PORT.token).\n"
	"\n"
	"Exit status: 0 done; 1 the agent refused or the wait failed;\n"
	"2 usage error; 3 no agent could be reached.\n";

static int help(const char *text)
{
	fputs(text, stdout);
	fputs(common_help, stdout);
	return EXIT_DONE;
}

/* ------------------------------------------------------------------ */
/* HTTP client                                                         */
/* ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Milliseconds left before deadline for poll(): -1 waits forever. */
static int left(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t l = deadline - now_ms();
	return l < 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int)l;
}

static volatile sig_atomic_t interrupted;

/* Waits for fd to be ready for ev: 1 ready, 0 timed out, -1 error or
 * interrupted (errno EINTR). */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {fd, ev, 0};
		int n = poll(&p, 1, left(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR || interrupted)
			return -1;
	}
}

/* A connected, non-blocking socket, or -1 with the reason in err (the
 * agent is unreachable). */
static int dial(const struct target *t, int64_t deadline, char *err,
		size_t errlen)
{
	if (t->is_unix) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, t->path, strlen(t->path) + 1);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		return fd;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV},
			*res, *ai;
	int e = getaddrinfo(t->host, t->port, &hints, &res);
	if (e) {
		snprintf(err, errlen, "%s", gai_strerror(e));
		return -1;
	}
	int fd = -1;
	snprintf(err, errlen, "no address");
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			int soerr = ETIMEDOUT;
			socklen_t sl = sizeof soerr;
			if (wait_fd(fd, POLLOUT, deadline) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			errno = soerr;
			r = soerr ? -1 : 0;
		}
		if (r == 0)
			break;
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 1)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

struct buf {
	char *p;
	size_t len, cap;
};

/* Reads a response: status and headers into a buffer, the body through a
 * sink as it arrives (so a stream never has to fit in memory). */
typedef int (*sink_fn)(void *arg, const char *data, size_t len);

struct rd {
	int fd;
	int64_t deadline;
	char buf[HEAD_MAX];
	size_t off, len;
	const char *why; /* set on failure */
};

/* More bytes into the buffer: 1, 0 at EOF, -1 on error or timeout. */
static int rd_more(struct rd *r)
{
	if (r->off == r->len) {
		r->off = r->len = 0;
	} else if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->len == sizeof r->buf) {
		r->why = "a response line is too long";
		return -1;
	}
	for (;;) {
		ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
		if (n > 0) {
			r->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR) {
			r->why = strerror(errno);
			return -1;
		}
		int w = wait_fd(r->fd, POLLIN, r->deadline);
		if (w != 1) {
			r->why = w == 0 ? "timed out waiting for the agent"
					: interrupted ? "interrupted"
						      : strerror(errno);
			return -1;
		}
	}
}

/* The next CRLF-terminated line (without it), NUL-terminated in place. */
static char *rd_line(struct rd *r)
{
	for (;;) {
		char *s = r->buf + r->off;
		char *nl = memchr(s, '\n', r->len - r->off);
		if (nl) {
			*nl = '\0';
			if (nl > s && nl[-1] == '\r')
				nl[-1] = '\0';
			r->off = (size_t)(nl - r->buf) + 1;
			return s;
		}
		int m = rd_more(r);
		if (m <= 0) {
			if (m == 0)
				r->why = "the agent closed the connection early";
			return NULL;
		}
	}
}

/* Up to want bytes of body to the sink; 1 delivered, 0 EOF, -1 error. */
static int rd_pass(struct rd *r, size_t want, size_t *got, sink_fn sink,
		   void *arg)
{
	if (r->off == r->len) {
		int m = rd_more(r);
		if (m <= 0)
			return m;
	}
	size_t n = r->len - r->off < want ? r->len - r->off : want;
	if (sink(arg, r->buf + r->off, n) != 0) {
		r->why = "the response is too large";
		return -1;
	}
	r->off += n;
	*got = n;
	return 1;
}

static int buf_sink(void *arg, const char *data, size_t len);

/* The body goes to sink, or to errbuf (when given) for an answer that is
 * not 2xx, so an error never reaches a stream's consumer. */
static int read_response(struct rd *r, int *status, sink_fn sink, void *arg,
			 struct buf *errbuf)
{
	char *line = rd_line(r);
	if (!line)
		return -1;
	int major, minor;
	if (sscanf(line, "HTTP/%d.%d %3d", &major, &minor, status) != 3) {
		r->why = "the answer is not HTTP: is this the agent's address?";
		return -1;
	}
	if (errbuf && (*status < 200 || *status > 299)) {
		sink = buf_sink;
		arg = errbuf;
	}
	long long clen = -1;
	bool chunked = false;
	while ((line = rd_line(r)) && *line) {
		if (!strncasecmp(line, "Content-Length:", 15))
			clen = atoll(line + 15);
		else if (!strncasecmp(line, "Transfer-Encoding:", 18) &&
			 strstr(line + 18, "chunked"))
			chunked = true;
	}
	if (!line)
		return -1;
	size_t got;
	if (chunked) {
		for (;;) {
			line = rd_line(r);
			if (!line)
				return -1;
			char *end;
			unsigned long long size = strtoull(line, &end, 16);
			if (end == line || size > RESP_MAX) {
				r->why = "a malformed chunk in the response";
				return -1;
			}
			if (size == 0)
				break;
			while (size) {
				if (rd_pass(r, (size_t)size, &got, sink, arg) <= 0) {
					if (!r->why)
						r->why = "the agent closed the "
							 "stream";
					return -1;
				}
				size -= got;
			}
			if (!(line = rd_line(r)) || *line) {
				r->why = "a malformed chunk in the response";
				return -1;
			}
		}
		/* Trailers, up to the empty line. */
		while ((line = rd_line(r)) && *line)
			;
		return 0;
	}
	if (clen >= 0) {
		if ((unsigned long long)clen > RESP_MAX) {
			r->why = "the response is too large";
			return -1;
		}
		for (size_t need = (size_t)clen; need; need -= got)
			if (rd_pass(r, need, &got, sink, arg) <= 0) {
				if (!r->why)
					r->why = "the response was cut short";
				return -1;
			}
		return 0;
	}
	int m;
	while ((m = rd_pass(r, SIZE_MAX, &got, sink, arg)) > 0)
		;
	return m;
}

static int buf_sink(void *arg, const char *data, size_t len)
{
	struct buf *b = arg;
	if (b->len + len > RESP_MAX)
		return -1;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

/*
 * One request.  EXIT_DONE with *status and the body (NUL-terminated,
 * caller frees); EXIT_NOAGENT when nothing answers at the address;
 * EXIT_FAILED when the exchange itself fails.  Failures are printed
 * unless quiet (wait retries).
 */
static int http_do(const struct opts *o, const char *method, const char *path,
		   const char *body, size_t blen, int timeout_ms, sink_fn sink,
		   void *sink_arg, struct buf *errbuf, int *status, bool quiet)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	char err[256];
	int fd = dial(&o->t, deadline, err, sizeof err);
	if (fd < 0) {
		if (!quiet)
			fprintf(stderr,
				"cloister %s: no agent at %s (%s): start one with "
				"`cloister agent` or pass --http/--ctl\n",
				o->cmd, o->t.label, err);
		return EXIT_NOAGENT;
	}
	char head[1024 + CL_TOKEN_MAX];
	char auth[CL_TOKEN_MAX + 32] = "";
	if (o->t.token[0])
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n",
			 o->t.token);
	int hl = snprintf(head, sizeof head,
			  "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cloister/%s\r\n"
			  "Accept: application/json\r\nConnection: close\r\n"
			  "%s%sContent-Length: %zu\r\n\r\n",
			  method, path, o->t.is_unix ? "localhost" : o->t.label,
			  cloister_version(), auth,
			  body ? "Content-Type: application/json\r\n" : "", blen);
	memset(auth, 0, sizeof auth);
	struct rd *r = calloc(1, sizeof *r);
	int e = EXIT_FAILED;
	if (!r || hl < 0 || (size_t)hl >= sizeof head) {
		fprintf(stderr, "cloister %s: out of memory\n", o->cmd);
	} else if (send_all(fd, head, (size_t)hl, deadline) != 0 ||
		   (blen && send_all(fd, body, blen, deadline) != 0)) {
		if (!quiet)
			fprintf(stderr, "cloister %s: cannot send to the agent at "
					"%s: %s\n",
				o->cmd, o->t.label,
				errno == EINTR || !errno ? "timed out"
							 : strerror(errno));
	} else {
		r->fd = fd;
		r->deadline = deadline;
		if (read_response(r, status, sink, sink_arg, errbuf) == 0)
			e = EXIT_DONE;
		else if (!quiet && !interrupted)
			fprintf(stderr, "cloister %s: %s: %s\n", o->cmd,
				o->t.label, r->why ? r->why : "no response");
	}
	free(r);
	sodium_memzero(head, sizeof head);
	close(fd);
	return e;
}

/* Prints the API's error for a failed request: its "error" field, else
 * the status; for 401, which token was sent, or where none was found. */
static void print_api_error(const struct opts *o, int status, const char *body)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "error"));
	if (msg)
		fprintf(stderr, "cloister %s: %s\n", o->cmd, msg);
	else
		fprintf(stderr, "cloister %s: the agent answered HTTP %d%s\n",
			o->cmd, status,
			status == 413 ? " (the request is too large)" : "");
	if (status == 401 && o->t.token[0])
		fprintf(stderr, "cloister %s: the token sent came from %s\n",
			o->cmd, o->t.token_from);
	else if (status == 401)
		fprintf(stderr,
			"cloister %s: no token was found for %s (a generated one "
			"would be %s, readable by the agent's user only)\n",
			o->cmd, o->t.label,
			o->t.token_from[0] ? o->t.token_from : "nowhere");
	json_decref(j);
}

/* A JSON request and response: EXIT_DONE with *out (a 2xx answer,
 * parsed) and *raw (its text) when asked for; otherwise the error is
 * printed and the exit code returned.  body is consumed. */
static int api(const struct opts *o, const char *method, const char *path,
	       json_t *body, int timeout_ms, json_t **out, char **raw)
{
	char *text = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (!text) {
			fprintf(stderr, "cloister %s: out of memory\n", o->cmd);
			return EXIT_FAILED;
		}
	}
	struct buf b = {0};
	int status = 0;
	int e = http_do(o, method, path, text, text ? strlen(text) : 0,
			timeout_ms, buf_sink, &b, NULL, &status, false);
	free(text);
	if (e != EXIT_DONE) {
		free(b.p);
		return e;
	}
	if (status < 200 || status > 299) {
		print_api_error(o, status, b.p);
		free(b.p);
		return EXIT_FAILED;
	}
	json_error_t je;
	json_t *j = b.p ? json_loads(b.p, JSON_DECODE_ANY, &je) : NULL;
	if (!j) {
		fprintf(stderr, "cloister %s: the agent's answer is not JSON\n",
			o->cmd);
		free(b.p);
		return EXIT_FAILED;
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	if (raw)
		*raw = b.p;
	else
		free(b.p);
	return EXIT_DONE;
}

/* ------------------------------------------------------------------ */
/* Command helpers                                                     */
/* ------------------------------------------------------------------ */

/* The start of every command: its options, then --help.  True when the
 * command ends here, with *code (a usage error, or the help printed). */
static bool begin(struct opts *o, const char *cmd, int argc, char **argv,
		  unsigned allowed, const char *usage, int *code)
{
	*code = parse_opts(o, cmd, argc, argv, allowed);
	if (!*code && o->help)
		*code = help(usage);
	return *code || o->help;
}

/* Text from the network for a terminal: control characters become '?'. */
static void put_clean(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Prints a response body as the API gave it (one JSON document). */
static void put_raw(const char *raw)
{
	fputs(raw, stdout);
	size_t n = strlen(raw);
	if (n == 0 || raw[n - 1] != '\n')
		fputc('\n', stdout);
}

/* Prints a 2xx answer for a reader. */
typedef void (*print_fn)(const struct opts *o, json_t *r);

/* A request whose answer is printed: as the API gave it with --json,
 * else by print.  EXIT_DONE, with the parsed answer in *keep when asked
 * for (the caller frees it), or the request's failure (printed; see
 * api()).  body is consumed. */
static int api_print(const struct opts *o, const char *method,
		     const char *path, json_t *body, int timeout_ms,
		     print_fn print, json_t **keep)
{
	json_t *r;
	char *raw = NULL;
	int e = api(o, method, path, body, timeout_ms, &r,
		    o->json ? &raw : NULL);
	if (e)
		return e;
	if (o->json)
		put_raw(raw);
	else
		print(o, r);
	free(raw);
	if (keep)
		*keep = r;
	else
		json_decref(r);
	return EXIT_DONE;
}

/* DATA, or stdin for "-" (bounded like a message payload). */
static char *read_data(const struct opts *o, const char *arg, size_t *len)
{
	if (strcmp(arg, "-")) {
		*len = strlen(arg);
		return strdup(arg);
	}
	char *p = malloc(DATA_MAX + 1);
	size_t n = 0, r;
	while (p && n <= DATA_MAX &&
	       (r = fread(p + n, 1, DATA_MAX + 1 - n, stdin)) > 0)
		n += r;
	if (!p || n > DATA_MAX) {
		fprintf(stderr, "cloister %s: DATA from stdin is over %u bytes\n",
			o->cmd, DATA_MAX);
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

/* {"topic": TOPIC, "data": DATA} from the positionals TOPIC DATA, or NULL
 * with the exit code in *code (the failure printed). */
static json_t *topic_data_body(const struct opts *o, int *code)
{
	size_t len;
	char *data = read_data(o, o->pos[1], &len);
	if (!data) {
		*code = EXIT_FAILED;
		return NULL;
	}
	/* The API takes text: bytes that are not UTF-8 cannot be sent. */
	json_t *body = json_pack("{s:s,s:o}", "topic", o->pos[0], "data",
				 json_stringn(data, len));
	free(data);
	if (!body)
		*code = usage_error(o, "TOPIC and DATA must be UTF-8 text");
	return body;
}

/* ------------------------------------------------------------------ */
/* members, status, whois                                              */
/* ------------------------------------------------------------------ */

static void print_members(const struct opts *o, json_t *list)
{
	int w[4] = {4, 4, 6, 11};
	size_t i;
	json_t *m;
	char inc[24];
	json_array_foreach(list, i, m) {
		int l[3] = {(int)strlen(str(m, "name")),
			    (int)strlen(str(m, "addr")),
			    (int)strlen(str(m, "status"))};
		for (int k = 0; k < 3; k++)
			w[k] = l[k] > w[k] ? l[k] : w[k];
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", w[0], "NAME", w[1], "ADDR",
	       w[2], "STATUS", w[3], "INCARNATION", "TAGS");
	json_array_foreach(list, i, m) {
		const char *f[3] = {str(m, "name"), str(m, "addr"),
				    str(m, "status")};
		for (int k = 0; k < 3; k++) {
			put_clean(stdout, f[k]);
			printf("%*s  ", w[k] - (int)strlen(f[k]), "");
		}
		snprintf(inc, sizeof inc, "%lld",
			 (long long)json_integer_value(
				 json_object_get(m, "incarnation")));
		printf("%-*s  ", w[3], inc);
		const char *k;
		json_t *v;
		bool first = true;
		json_object_foreach(json_object_get(m, "tags"), k, v) {
			printf("%s", first ? "" : ",");
			put_clean(stdout, k);
			putchar('=');
			put_clean(stdout, json_string_value(v));
			first = false;
		}
		printf("%s\n", first ? "-" : "");
	}
}

static void url_encode(struct buf *b, const char *s);

int cmd_members(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "members", argc, argv, OPT_JSON | OPT_FILTER,
		  "usage: cloister members [--status S[,S...]] [--tag K=V] "
		  "[--json]\n\n"
		  "Lists every member the agent knows, itself first, "
		  "tombstones included:\nNAME ADDR STATUS INCARNATION "
		  "TAGS, or the API's JSON with --json.\n"
		  "--status keeps members in those statuses (alive, suspect, "
		  "dead, left);\n--tag keeps members whose tag K is exactly "
		  "V.\n",
		  &e))
		return e;
	if (o.npos)
		return usage_error(&o, "members takes no arguments");
	if (o.tag && (!strchr(o.tag, '=') || o.tag[0] == '='))
		return usage_error(&o, "--tag takes KEY=VALUE");
	struct buf path = {0};
	buf_sink(&path, "/v1/members", 11);
	if (o.status) {
		buf_sink(&path, "?status=", 8);
		url_encode(&path, o.status);
	}
	if (o.tag) {
		buf_sink(&path, o.status ? "&tag=" : "?tag=", 5);
		url_encode(&path, o.tag);
	}
	buf_sink(&path, "", 1);
	e = api_print(&o, "GET", path.p, NULL, REQUEST_TIMEOUT_MS,
		      print_members, NULL);
	free(path.p);
	return e;
}

static void print_status(const struct opts *o, json_t *s)
{
	json_t *c = json_object_get(s, "consensus");
	printf("node       ");
	put_clean(stdout, str(s, "node"));
	printf("\naddress    %s\n", *str(s, "address") ? str(s, "address")
						       : "(none: nonode)");
	printf("status     %s\n", str(s, "status"));
	if (json_is_integer(c))
		printf("consensus  %lld\n", (long long)json_integer_value(c));
	else
		printf("consensus  %s\n", json_string_value(c));
	printf("alive      %lld\n",
	       (long long)json_integer_value(json_object_get(s, "alive")));
	printf("sentry     ");
	put_clean(stdout, json_is_string(json_object_get(s, "sentry"))
				  ? str(s, "sentry")
				  : "(none)");
	printf("\nrings     ");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(s, "rings"), k, v) {
		printf(" ");
		put_clean(stdout, *k ? k : "(default)");
		printf("=%s", json_string_value(v));
	}
	printf("\nversion    %s\n", str(s, "version"));
}

int cmd_status(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "status", argc, argv, OPT_JSON,
		  "usage: cloister status [--json]\n\n"
		  "Shows the agent's node: name, address, status, "
		  "consensus, live members,\nsentry and ring "
		  "checksums (equal on nodes that agree).\n",
		  &e))
		return e;
	if (o.npos)
		return usage_error(&o, "status takes no arguments");
	return api_print(&o, "GET", "/v1/status", NULL, REQUEST_TIMEOUT_MS,
			 print_status, NULL);
}

/* RFC 3986 percent-encoding of everything but unreserved characters. */
static void url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			buf_sink(b, (const char *)&c, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_sink(b, e, 3);
		}
	}
}

static void print_owners(const struct opts *o, json_t *r)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(r, "owners"), i, v) {
		put_clean(stdout, json_string_value(v));
		putchar('\n');
	}
}

int cmd_whois(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "whois", argc, argv, OPT_JSON | OPT_RING | OPT_N,
		  "usage: cloister whois KEY [--ring R] [-n N] [--json]\n\n"
		  "Prints the member owning KEY on the default ring (or "
		  "ring R, from the\ngroups tag); with -n N, up to N "
		  "owners in ring order (replicas, 1..64).\n",
		  &e))
		return e;
	if (o.npos != 1)
		return usage_error(&o, "give exactly one KEY");
	if (o.n && (strspn(o.n, "0123456789") != strlen(o.n) || !*o.n ||
		    atoi(o.n) < 1 || atoi(o.n) > 64 || strlen(o.n) > 2))
		return usage_error(&o, "-n takes a whole number from 1 to 64");
	struct buf path = {0};
	buf_sink(&path, "/v1/whois?key=", 14);
	url_encode(&path, o.pos[0]);
	if (o.ring) {
		buf_sink(&path, "&ring=", 6);
		url_encode(&path, o.ring);
	}
	if (o.n) {
		buf_sink(&path, "&n=", 3);
		buf_sink(&path, o.n, strlen(o.n));
	}
	if (!path.p) {
		fprintf(stderr, "cloister whois: out of memory\n");
		return EXIT_FAILED;
	}
	e = api_print(&o, "GET", path.p, NULL, REQUEST_TIMEOUT_MS, print_owners,
		      NULL);
	free(path.p);
	return e;
}

/* ------------------------------------------------------------------ */
/* wait                                                                */
/* ------------------------------------------------------------------ */

int cmd_wait(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "wait", argc, argv, OPT_TIMEOUT,
		  "usage: cloister wait ready [--timeout S]\n\n"
		  "Waits until the agent's node is ready (its /ready "
		  "answers 200), checking\nevery 200 ms, for at most S "
		  "seconds (default 60; 0 checks once).  An agent\n"
		  "that is not listening yet is waited for too.  "
		  "Exit 1 on timeout.\n",
		  &e))
		return e;
	if (o.npos != 1 || strcmp(o.pos[0], "ready"))
		return usage_error(&o, "the only condition is `ready`: cloister "
				       "wait ready");
	int timeout_ms = 60000;
	if (o.timeout &&
	    (timeout_ms = parse_seconds(o.timeout, 0, 24 * 3600 * 1000)) < 0)
		return usage_error(&o, "--timeout takes seconds, from 0 to 86400");
	int64_t until = now_ms() + timeout_ms;
	int last = EXIT_NOAGENT;
	char state[64] = "";
	for (;;) {
		struct buf b = {0};
		int status = 0, budget = left(until);
		e = http_do(&o, "GET", "/ready", NULL, 0,
			    budget < 2000 ? (budget > 100 ? budget : 100) : 2000,
			    buf_sink, &b, NULL, &status, true);
		if (e == EXIT_DONE && status == 200) {
			free(b.p);
			return EXIT_DONE;
		}
		if (e == EXIT_DONE && status == 401 && !o.t.token[0] &&
		    target_token(&o) == 0 && o.t.token[0]) {
			/* Started with the agent, before it wrote the token
			 * it generated: there now, so ask again with it. */
			free(b.p);
			continue;
		}
		if (e == EXIT_DONE && (status == 401 || status == 403)) {
			/* Waiting longer will not make us welcome. */
			print_api_error(&o, status, b.p);
			free(b.p);
			return EXIT_FAILED;
		}
		if (e == EXIT_DONE) {
			snprintf(state, sizeof state, "%s", b.p ? b.p : "");
			state[strcspn(state, "\r\n")] = '\0';
		}
		last = e;
		free(b.p);
		if (now_ms() >= until || interrupted)
			break;
		int nap = left(until) < WAIT_POLL_MS ? left(until) : WAIT_POLL_MS;
		poll(NULL, 0, nap);
	}
	if (last == EXIT_NOAGENT) {
		fprintf(stderr,
			"cloister wait: no agent at %s after %.1f s: start one "
			"with `cloister agent` or pass --http/--ctl\n",
			o.t.label, timeout_ms / 1000.0);
		return EXIT_NOAGENT;
	}
	fprintf(stderr,
		"cloister wait: timed out after %.1f s: the node is not ready "
		"(status: %s)\n",
		timeout_ms / 1000.0, state[0] ? state : "unknown");
	return EXIT_FAILED;
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* join, leave, multicast, multicall                                   */
/* ------------------------------------------------------------------ */

static void print_joining(const struct opts *o, json_t *r)
{
	printf("joining through %d address%s\n", o->npos,
	       o->npos == 1 ? "" : "es");
}

int cmd_join(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "join", argc, argv, 0,
		  "usage: cloister join ADDR...\n\n"
		  "Has the agent's node join the cluster through "
		  "these members (IP:PORT,\nup to 64): it exchanges "
		  "state with each in the background.\n",
		  &e))
		return e;
	if (o.npos < 1)
		return usage_error(&o, "give at least one ADDR (IP:PORT)");
	json_t *addrs = json_array();
	for (int i = 0; i < o.npos; i++)
		json_array_append_new(addrs, json_string(o.pos[i]));
	return api_print(&o, "POST", "/v1/join",
			 json_pack("{s:o}", "addrs", addrs), REQUEST_TIMEOUT_MS,
			 print_joining, NULL);
}

static void print_leaving(const struct opts *o, json_t *r)
{
	printf("leaving the cluster (status: %s)\n", str(r, "status"));
}

int cmd_leave(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "leave", argc, argv, 0,
		  "usage: cloister leave\n\n"
		  "Has the agent's node leave the cluster gracefully: "
		  "peers learn it left\nrather than failed.  The agent "
		  "keeps running, stopped.\n",
		  &e))
		return e;
	if (o.npos)
		return usage_error(&o, "leave takes no arguments");
	return api_print(&o, "POST", "/v1/leave", json_object(),
			 REQUEST_TIMEOUT_MS, print_leaving, NULL);
}

static void print_queued(const struct opts *o, json_t *r)
{
	long long n = (long long)json_integer_value(json_object_get(r, "queued"));
	printf("queued for %lld member%s\n", n, n == 1 ? "" : "s");
}

int cmd_multicast(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "multicast", argc, argv, OPT_MEMBERS,
		  "usage: cloister multicast TOPIC DATA [--members A,B]\n\n"
		  "Sends DATA (text; - reads stdin) on TOPIC to every "
		  "other alive member,\nor to the named ones.  Prints "
		  "how many were queued.\n",
		  &e))
		return e;
	if (o.npos != 2)
		return usage_error(&o, "give TOPIC and DATA");
	json_t *body = topic_data_body(&o, &e);
	if (!body)
		return e;
	if (o.members) {
		json_t *m = json_array();
		char *copy = strdup(o.members), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p;
		     p = strtok_r(NULL, ",", &save))
			json_array_append_new(m, json_string(p));
		free(copy);
		json_object_set_new(body, "members", m);
	}
	return api_print(&o, "POST", "/v1/multicast", body, REQUEST_TIMEOUT_MS,
			 print_queued, NULL);
}

static void print_replies(const struct opts *o, json_t *r)
{
	json_t *missing = json_object_get(r, "missing");
	size_t i;
	json_t *v;
	int w = 6;
	json_array_foreach(json_object_get(r, "replies"), i, v)
		if ((int)strlen(str(v, "member")) > w)
			w = (int)strlen(str(v, "member"));
	json_array_foreach(missing, i, v)
		if ((int)strlen(json_string_value(v)) > w)
			w = (int)strlen(json_string_value(v));
	json_array_foreach(json_object_get(r, "replies"), i, v) {
		put_clean(stdout, str(v, "member"));
		printf("%*s  ", w - (int)strlen(str(v, "member")), "");
		put_clean(stdout, str(v, "data"));
		putchar('\n');
	}
	json_array_foreach(missing, i, v) {
		put_clean(stdout, json_string_value(v));
		printf("%*s  (no reply)\n",
		       w - (int)strlen(json_string_value(v)), "");
	}
}

int cmd_multicall(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "multicall", argc, argv, OPT_TIMEOUT | OPT_JSON,
		  "usage: cloister multicall TOPIC DATA [--timeout S] "
		  "[--json]\n\n"
		  "Calls every alive member (this one included) on "
		  "TOPIC with DATA (- reads\nstdin) and waits up to S "
		  "seconds (default 2, at most 60) for replies.\n"
		  "Prints MEMBER and reply per line, then those that "
		  "did not answer.\nExit 1 when some did not answer.\n",
		  &e))
		return e;
	if (o.npos != 2)
		return usage_error(&o, "give TOPIC and DATA");
	int timeout_ms = 2000;
	if (o.timeout && (timeout_ms = parse_seconds(o.timeout, 1, 60000)) < 0)
		return usage_error(&o, "--timeout takes seconds, from 0.001 to 60");
	json_t *body = topic_data_body(&o, &e);
	if (!body)
		return e;
	json_object_set_new(body, "timeout_ms", json_integer(timeout_ms));
	json_t *r;
	/* The agent answers when the call's own timeout ends. */
	if ((e = api_print(&o, "POST", "/v1/multicall", body,
			   timeout_ms + REQUEST_TIMEOUT_MS, print_replies, &r)))
		return e;
	size_t n_missing = json_array_size(json_object_get(r, "missing"));
	if (n_missing)
		fprintf(stderr, "cloister multicall: %zu member%s did not answer "
				"in %.3g s\n",
			n_missing, n_missing == 1 ? "" : "s", timeout_ms / 1000.0);
	json_decref(r);
	return n_missing ? EXIT_FAILED : EXIT_DONE;
}

/* ------------------------------------------------------------------ */
/* monitor                                                             */
/* ------------------------------------------------------------------ */

struct monitor {
	bool json;
	struct buf line;
};

static void print_event(json_t *ev)
{
	char when[16];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%H:%M:%S", localtime_r(&now, &tm));
	const char *type = str(ev, "type");
	printf("%s %-8s ", when, type);
	if (!strcmp(type, "state")) {
		printf("%s -> %s", str(ev, "from"), str(ev, "to"));
	} else if (!strcmp(type, "status")) {
		printf("%s, %lld alive, sentry ", str(ev, "status"),
		       (long long)json_integer_value(json_object_get(ev, "alive")));
		put_clean(stdout, *str(ev, "sentry") ? str(ev, "sentry") : "(none)");
	} else if (!strcmp(type, "member")) {
		printf("%s ", str(ev, "event"));
		put_clean(stdout, str(ev, "name"));
		printf(" %s %s", str(ev, "addr"), str(ev, "status"));
	} else if (!strcmp(type, "sentry")) {
		put_clean(stdout, *str(ev, "sentry") ? str(ev, "sentry") : "(none)");
	} else if (!strcmp(type, "message") || !strcmp(type, "call")) {
		if (json_is_string(json_object_get(ev, "id")))
			printf("id=%s ", str(ev, "id"));
		printf("topic=");
		put_clean(stdout, str(ev, "topic"));
		printf(" from=");
		put_clean(stdout, str(ev, "from"));
		printf(" data=");
		put_clean(stdout, str(ev, "data"));
	} else if (!strcmp(type, "dropped")) {
		printf("%lld events dropped: this monitor fell behind",
		       (long long)json_integer_value(json_object_get(ev, "count")));
	} else {
		char *s = json_dumps(ev, JSON_COMPACT);
		put_clean(stdout, s);
		free(s);
	}
	putchar('\n');
}

static int monitor_sink(void *arg, const char *data, size_t len)
{
	struct monitor *m = arg;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (buf_sink(&m->line, &data[i], 1) != 0)
				return -1;
			continue;
		}
		if (m->line.len) {
			if (m->json) {
				fwrite(m->line.p, 1, m->line.len, stdout);
				putchar('\n');
			} else {
				json_t *ev = json_loadb(m->line.p, m->line.len, 0,
							NULL);
				if (ev)
					print_event(ev);
				json_decref(ev);
			}
			fflush(stdout);
		}
		m->line.len = 0;
	}
	return 0;
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

int cmd_monitor(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "monitor", argc, argv, OPT_JSON,
		  "usage: cloister monitor [--json]\n\n"
		  "Streams the agent's events until interrupted (Ctrl-C "
		  "ends it with exit 0):\nstatus changes, member events, "
		  "sentry changes, messages; one readable line\neach, "
		  "or the raw JSON lines with --json.\n",
		  &e))
		return e;
	if (o.npos)
		return usage_error(&o, "monitor takes no arguments");
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct monitor m = {.json = o.json};
	struct buf err = {0};
	int status = 0;
	e = http_do(&o, "GET", "/v1/events", NULL, 0, -1, monitor_sink, &m,
		    &err, &status, false);
	free(m.line.p);
	if (e == EXIT_DONE && (status < 200 || status > 299)) {
		print_api_error(&o, status, err.p);
		e = EXIT_FAILED;
	} else if (e == EXIT_DONE && !interrupted) {
		fprintf(stderr, "cloister monitor: the agent closed the stream\n");
		e = EXIT_FAILED;
	}
	free(err.p);
	return interrupted ? EXIT_DONE : e;
}

/* ------------------------------------------------------------------ */
/* keys                                                                */
/* ------------------------------------------------------------------ */

static void print_keys(const struct opts *o, json_t *r)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(r, "keys"), i, v)
		printf("%s%s\n", json_string_value(v),
		       i == 0 ? "  (primary)" : "");
	if (!json_array_size(json_object_get(r, "keys")))
		printf("no keys: traffic is not encrypted\n");
}

static int keys_rotate(struct opts *o);

int cmd_keys(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "keys", argc, argv, OPT_JSON | OPT_KEY_FILE | OPT_TIMEOUT,
		  "usage: cloister keys list [--json]\n"
		  "       cloister keys install|use|remove --key-file FILE\n"
		  "       cloister keys install|use|remove - < FILE\n"
		  "       cloister keys rotate [--key-file FILE | -] "
		  "[--timeout S]\n\n"
		  "rotate does it across the cluster in one command: every "
		  "alive member\ninstalls the new key, then uses it, then "
		  "keeps only it (cloister.keys\ncalls, sealed with the "
		  "cluster key), each phase only once all answered ok\n"
		  "(per member: ok or failed).  Without a key file a new "
		  "key is made and\nprinted once on stderr.\n\n"
		  "Key rotation without downtime: install the new key "
		  "on every agent, `use`\nit on every agent, then remove "
		  "the old one.  The key (64 hex digits or base64\nof 32 "
		  "bytes) is read from FILE or, with -, from stdin; a KEY "
		  "given on the\ncommand line still works but is visible "
		  "to every user in `ps`.  Prints\nthe fingerprints of the "
		  "installed keys, primary first.\n",
		  &e))
		return e;
	if (o.npos < 1)
		return usage_error(&o, "give list, install, use, remove or rotate");
	const char *op = o.pos[0];
	if (!strcmp(op, "rotate"))
		return keys_rotate(&o);
	bool list = !strcmp(op, "list");
	if (!list && strcmp(op, "install") && strcmp(op, "use") &&
	    strcmp(op, "remove"))
		return usage_error(&o, "'%s' is not list, install, use or remove",
				   op);
	if (list && (o.npos != 1 || o.key_file))
		return usage_error(&o, "keys list takes no KEY");
	if (!list && o.npos != (o.key_file ? 1 : 2))
		return usage_error(&o, "give the key once: --key-file FILE, - "
				       "(stdin) or KEY");
	if (list)
		return api_print(&o, "GET", "/v1/keys", NULL, REQUEST_TIMEOUT_MS,
				 print_keys, NULL);
	char key[512] = "";
	const char *k = o.key_file ? NULL : o.pos[1];
	if (o.key_file || !strcmp(k, "-")) {
		FILE *f = o.key_file ? fopen(o.key_file, "r") : stdin;
		bool got = f && fgets(key, sizeof key, f);
		if (f && f != stdin)
			fclose(f);
		if (!got) {
			fprintf(stderr, "cloister keys: no key in %s%s%s\n",
				o.key_file ? o.key_file : "stdin",
				o.key_file && !f ? ": " : "",
				o.key_file && !f ? strerror(errno) : "");
			return EXIT_FAILED;
		}
		key[strcspn(key, "\r\n")] = '\0';
		k = key;
	} else {
		fprintf(stderr,
			"cloister keys: warning: a key on the command line is "
			"visible to every user in `ps` and may stay in your "
			"shell's history; use --key-file FILE or - (stdin)\n");
	}
	e = api_print(&o, "POST", "/v1/keys",
		      json_pack("{s:s,s:s}", "op", op, "key", k),
		      REQUEST_TIMEOUT_MS, print_keys, NULL);
	sodium_memzero(key, sizeof key);
	return e;
}

/* ------------------------------------------------------------------ */
/* Day-two operations: tags, force-leave, keys rotate                  */
/* ------------------------------------------------------------------ */

static void print_tags(const struct opts *o, json_t *r)
{
	const char *k;
	json_t *v;
	bool any = false;
	json_object_foreach(json_object_get(r, "tags"), k, v) {
		put_clean(stdout, k);
		putchar('=');
		put_clean(stdout, json_string_value(v));
		putchar('\n');
		any = true;
	}
	if (!any)
		printf("no tags\n");
}

int cmd_tags(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "tags", argc, argv, OPT_JSON,
		  "usage: cloister tags set KEY=VALUE... [--json]\n"
		  "       cloister tags unset KEY... [--json]\n\n"
		  "Changes the agent's own tags at run time: the node "
		  "announces itself again\n(a higher incarnation), every "
		  "member sees the new tags, and the rings\nfollow a "
		  "changed groups or weight.  Prints the node's tags.\n",
		  &e))
		return e;
	if (o.npos < 2 || (strcmp(o.pos[0], "set") && strcmp(o.pos[0], "unset")))
		return usage_error(&o, "give set KEY=VALUE... or unset KEY...");
	bool set = !strcmp(o.pos[0], "set");
	json_t *list = json_array();
	for (int i = 1; i < o.npos; i++) {
		const char *eq = strchr(o.pos[i], '=');
		if (set ? (!eq || eq == o.pos[i]) : eq != NULL) {
			json_decref(list);
			return usage_error(&o, set ? "'%s' is not KEY=VALUE"
						   : "'%s': unset takes keys",
					   o.pos[i]);
		}
		json_array_append_new(list, json_string(o.pos[i]));
	}
	return api_print(&o, "POST", "/v1/tags",
			 json_pack("{s:o}", set ? "set" : "unset", list),
			 REQUEST_TIMEOUT_MS, print_tags, NULL);
}

static void print_forced(const struct opts *o, json_t *r)
{
	put_clean(stdout, str(r, "member"));
	printf(": %s\n", str(r, "status"));
}

int cmd_force_leave(int argc, char **argv)
{
	struct opts o;
	int e;
	if (begin(&o, "force-leave", argc, argv, OPT_JSON,
		  "usage: cloister force-leave NAME [--json]\n\n"
		  "Makes a failed (dead) or suspect member left on every "
		  "node, as Serf's\nforce-leave: it is reaped like a member "
		  "that left, and no node brings it\nback.  Refused for a "
		  "member this agent holds alive; a member that is in\nfact "
		  "alive refutes it.\n",
		  &e))
		return e;
	if (o.npos != 1)
		return usage_error(&o, "give exactly one member NAME");
	return api_print(&o, "POST", "/v1/force-leave",
			 json_pack("{s:s}", "name", o.pos[0]),
			 REQUEST_TIMEOUT_MS, print_forced, NULL);
}

/* One phase of a rotation: every alive member called on cloister.keys;
 * prints "member: ok|failed (why)" and returns how many failed. */
static int rotate_phase(const struct opts *o, const char *op, const char *key,
			int timeout_ms, int *members)
{
	json_t *data = json_pack("{s:s,s:s}", "op", op, "key", key);
	char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
	json_decref(data);
	if (!text)
		return -1;
	json_t *body = json_pack("{s:s,s:s,s:i}", "topic", "cloister.keys",
				 "data", text, "timeout_ms", timeout_ms);
	sodium_memzero(text, strlen(text));
	free(text);
	json_t *r = NULL;
	int e = api(o, "POST", "/v1/multicall", body,
		    timeout_ms + REQUEST_TIMEOUT_MS, &r, NULL);
	if (e)
		return -1;
	int failed = 0;
	size_t i;
	json_t *v;
	*members = 0;
	printf("%s:\n", op);
	json_array_foreach(json_object_get(r, "replies"), i, v) {
		bool ok = !strcmp(str(v, "data"), "ok");
		printf("  ");
		put_clean(stdout, str(v, "member"));
		printf(": %s", ok ? "ok" : "failed (");
		if (!ok) {
			put_clean(stdout, str(v, "data"));
			putchar(')');
		}
		putchar('\n');
		failed += !ok;
		(*members)++;
	}
	json_array_foreach(json_object_get(r, "missing"), i, v) {
		printf("  ");
		put_clean(stdout, json_string_value(v));
		printf(": failed (no answer)\n");
		failed++;
		(*members)++;
	}
	json_decref(r);
	return failed;
}

static int keys_rotate(struct opts *o)
{
	char key[512] = "";
	if (o->npos > 2)
		return usage_error(o, "keys rotate takes --key-file FILE, - "
				      "(stdin) or nothing (a new key)");
	bool generated = !o->key_file && o->npos == 1;
	if (generated) {
		uint8_t raw[32];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2base64(key, sizeof key, raw, sizeof raw,
				  sodium_base64_VARIANT_ORIGINAL);
		sodium_memzero(raw, sizeof raw);
	} else {
		FILE *f = o->key_file ? fopen(o->key_file, "r")
			  : !strcmp(o->pos[1], "-") ? stdin : NULL;
		if (!o->key_file && !f)
			return usage_error(o, "give the new key with --key-file "
					      "FILE or - (stdin)");
		bool got = f && fgets(key, sizeof key, f);
		if (f && f != stdin)
			fclose(f);
		if (!got) {
			fprintf(stderr, "cloister keys: no key in %s\n",
				o->key_file ? o->key_file : "stdin");
			return EXIT_FAILED;
		}
		key[strcspn(key, "\r\n")] = '\0';
	}
	int timeout_ms = 5000;
	if (o->timeout && (timeout_ms = parse_seconds(o->timeout, 1, 60000)) < 0)
		return usage_error(o, "--timeout takes seconds, from 0.001 to 60");
	static const char *const phases[] = {"install", "use", "retain"};
	int rc = EXIT_DONE, members = 0;
	for (size_t p = 0; p < 3; p++) {
		int failed = rotate_phase(o, phases[p], key, timeout_ms, &members);
		if (failed != 0) {
			fprintf(stderr,
				"cloister keys rotate: %s failed on %d of %d "
				"member%s; stopped before the next phase (run "
				"it again once they are back: each phase can "
				"be repeated)\n",
				phases[p], failed < 0 ? members : failed,
				members, members == 1 ? "" : "s");
			rc = EXIT_FAILED;
			break;
		}
	}
	if (rc == EXIT_DONE)
		printf("rotated on %d member%s: the new key is the only one\n",
		       members, members == 1 ? "" : "s");
	if (generated && rc == EXIT_DONE)
		fprintf(stderr, "cloister keys rotate: the new key (keep it for "
				"nodes that join later; it is shown once):\n%s\n",
			key);
	sodium_memzero(key, sizeof key);
	return rc;
}

/* ------------------------------------------------------------------ */
/* For other subcommands (http_client.h)                               */
/* ------------------------------------------------------------------ */

int cli_http_request(const char *hostport, const char *unix_path,
		     const char *method, const char *path, const char *body,
		     size_t body_len, int timeout_ms, int *status, char **resp)
{
	struct opts o = {.cmd = "request"};
	*resp = NULL;
	/* target_* print only on a malformed address: check it quietly. */
	if (hostport) {
		const char *colon = strrchr(hostport, ':');
		if (!colon || colon == hostport || !colon[1] ||
		    strlen(hostport) >= sizeof o.t.host)
			return -1;
		if (target_http(&o, hostport) != 0)
			return -1;
	} else if (!unix_path || target_ctl(&o, unix_path) != 0) {
		return -1;
	}
	/* The same token as the commands; nothing printed on failure. */
	if (target_token(&o) != 0)
		return -1;
	struct buf b = {0}, errb = {0};
	int e = http_do(&o, method, path, body, body_len, timeout_ms, buf_sink,
			&b, &errb, status, true);
	free(errb.p);
	if (e != EXIT_DONE) {
		free(b.p);
		return -1;
	}
	*resp = b.p ? b.p : strdup("");
	return *resp ? 0 : -1;
}
