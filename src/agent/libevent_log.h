/*
 * libevent_log.h — libevent's own messages into the agent's log.
 *
 * Left alone, libevent writes "[warn] ..." lines to stderr, outside the
 * agent's format (no timestamp, no level filter, not JSON with
 * --log-format json), and on an internal error ("[err] getnameinfo
 * failed") calls exit() with no word in the log.  Routed here, every such
 * message is one line of the agent's log (msg="libevent" detail="..."),
 * at the matching level, and a fatal one first gives the agent its last
 * say (on_fatal: remove its token file, tell systemd why).
 *
 * libevent 2.1 exits after the fatal callback returns, whatever it does:
 * that is the library's contract for a broken invariant, and nothing a
 * client sends may reach one.  The one a client could reach, getnameinfo
 * refusing an AF_UNIX peer under musl, is answered by musl_getnameinfo.c;
 * integration/test_agent_cli.sh drives the static binary over --ctl.
 */
#ifndef CLOISTER_AGENT_LIBEVENT_LOG_H
#define CLOISTER_AGENT_LIBEVENT_LOG_H

/* fields: logfmt fields without the timestamp and level
 * (msg="libevent" detail="..." fatal=true). */
typedef void (*cl_libevent_log_fn)(void *arg, int level, const char *fields);
typedef void (*cl_libevent_fatal_fn)(void *arg, int err);

/* Installs the callbacks for the whole process (libevent's are global);
 * call before any event base exists.  log and on_fatal run on whichever
 * thread libevent reports from. */
void cl_libevent_log_route(cl_libevent_log_fn log, cl_libevent_fatal_fn on_fatal,
			   void *arg);

#endif
