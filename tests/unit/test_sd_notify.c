/*
 * test_sd_notify.c — systemd notifications without libsystemd, and
 * libevent's messages routed into the agent's log.
 *
 * cl_sd_notify: one datagram to $NOTIFY_SOCKET, a path or an abstract
 * "@name"; nothing sent (and no crash) for an unset, relative, empty or
 * too long name.  cl_sd_watchdog_usec: WATCHDOG_USEC only when
 * WATCHDOG_PID is unset or ours, only whole numbers.
 * cl_libevent_log_route: a libevent warning becomes one of our lines at
 * warn level with the text quoted; a fatal error (in a child, since
 * libevent then exits) gives the error line and the on_fatal call before
 * the exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

#include "agent/libevent_log.c"
#include "agent/sd_notify.c"

/* libevent's own reporting functions (log-internal.h; exported). */
void event_warnx(const char *fmt, ...);
void event_errx(int eval, const char *fmt, ...);

static int bind_dgram(const char *name, bool abstract)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sa.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				    (abstract ? 1 : 0));
	CHECK(bind(fd, (struct sockaddr *)&sa, len) == 0);
	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	return fd;
}

/* The next datagram, "" if none is waiting. */
static const char *next_datagram(int fd)
{
	static char buf[4096];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_notify_path(void)
{
	char dir[] = "/tmp/cloister-sdn-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof path, "%s/notify", dir);
	int fd = bind_dgram(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ_INT(cl_sd_notify("READY=1\nSTATUS=assembling: 1 of 3"), 0);
	CHECK_STR_EQ(next_datagram(fd), "READY=1\nSTATUS=assembling: 1 of 3");
	CHECK_EQ_INT(cl_sd_notify("WATCHDOG=1"), 0);
	CHECK_STR_EQ(next_datagram(fd), "WATCHDOG=1");
	CHECK_STR_EQ(next_datagram(fd), "");
	/* Gone: an error, not a crash. */
	close(fd);
	unlink(path);
	CHECK_EQ_INT(cl_sd_notify("WATCHDOG=1"), -1);
	rmdir(dir);
}

static void test_notify_abstract(void)
{
	char name[64];
	snprintf(name, sizeof name, "cloister-test-%d", (int)getpid());
	int fd = bind_dgram(name, true);
	char env[80];
	snprintf(env, sizeof env, "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	CHECK_EQ_INT(cl_sd_notify("STOPPING=1"), 0);
	CHECK_STR_EQ(next_datagram(fd), "STOPPING=1");
	close(fd);
}

static void test_notify_refused(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(cl_sd_notify("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ_INT(cl_sd_notify("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_EQ_INT(cl_sd_notify("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK_EQ_INT(cl_sd_notify("READY=1"), -1);
	char longpath[300];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	CHECK_EQ_INT(cl_sd_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_env(void)
{
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	CHECK_EQ_INT(cl_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "3000000", 1);
	CHECK_EQ_INT(cl_sd_watchdog_usec(), 3000000);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_EQ_INT(cl_sd_watchdog_usec(), 3000000);
	setenv("WATCHDOG_PID", "1", 1); /* another process's */
	CHECK_EQ_INT(cl_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	const char *bad[] = {"", "-5", "3s", "1e6", " 30", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		CHECK_EQ_INT(cl_sd_watchdog_usec(), 0);
	}
	unsetenv("WATCHDOG_USEC");
}

/* What the routed callbacks received. */
static char seen_line[4096];
static int seen_level = -1, seen_lines, fatal_calls, fatal_code;

static void capture_line(void *arg, int level, const char *fields)
{
	(void)arg;
	snprintf(seen_line, sizeof seen_line, "%s", fields);
	seen_level = level;
	seen_lines++;
}

static void capture_fatal(void *arg, int err)
{
	int out = *(int *)arg;
	fatal_calls++;
	fatal_code = err;
	/* The child tells its parent what it saw before libevent exits. */
	dprintf(out, "%d %d %s\n", seen_level, err, seen_line);
}

static void test_libevent_warning(void)
{
	int unused = -1;
	cl_libevent_log_route(capture_line, capture_fatal, &unused);
	event_warnx("odd \"peer\" name=x\nsecond line");
	CHECK_EQ_INT(seen_lines, 1);
	CHECK_EQ_INT(seen_level, CLOISTER_LOG_WARN);
	/* One logfmt line: the text quoted, its newline escaped. */
	CHECK_STR_EQ(seen_line,
		     "msg=\"libevent\" detail=\"odd \\\"peer\\\" name=x\\nsecond line\"");
	/* A libevent call that fails logs through the same route. */
	CHECK(evutil_make_socket_nonblocking(-1) != 0);
	CHECK_EQ_INT(seen_lines, 2);
	CHECK(strstr(seen_line, "fcntl(-1") != NULL);
	CHECK_EQ_INT(fatal_calls, 0);
}

static void test_libevent_fatal(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	fflush(stdout); /* the child's exit must not print our lines again */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		static int out;
		out = p[1];
		cl_libevent_log_route(capture_line, capture_fatal, &out);
		event_errx(1, "getnameinfo failed: %s", "Unrecognized address family");
		_exit(99); /* not reached: libevent exits after the callback */
	}
	close(p[1]);
	char buf[4096] = "";
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buf - 1 &&
	       (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(p[0]);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 1);
	char want[512];
	snprintf(want, sizeof want,
		 "%d 1 msg=\"libevent fatal error: the agent exits\" "
		 "detail=\"getnameinfo failed: Unrecognized address family\" code=1\n",
		 CLOISTER_LOG_ERROR);
	CHECK_STR_EQ(buf, want);
}

int main(void)
{
	RUN_TEST(test_notify_path);
	RUN_TEST(test_notify_abstract);
	RUN_TEST(test_notify_refused);
	RUN_TEST(test_watchdog_env);
	RUN_TEST(test_libevent_warning);
	RUN_TEST(test_libevent_fatal);
	return 0;
}
