/* libevent_log.c — see libevent_log.h. */
#include "libevent_log.h"

#include <stdio.h>

#include <event2/event.h>

#include "cloister.h"
#include "runtime/logfmt.h"

static cl_libevent_log_fn log_fn;
static cl_libevent_fatal_fn fatal_fn;
static void *log_arg;
/* The text of the last message, for the fatal line: libevent logs the
 * reason at EVENT_LOG_ERR, then calls the fatal callback with a code. */
static _Thread_local char last_err[512];

static int level_of(int severity)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		return CLOISTER_LOG_DEBUG;
	case EVENT_LOG_MSG:
		return CLOISTER_LOG_INFO;
	case EVENT_LOG_WARN:
		return CLOISTER_LOG_WARN;
	default:
		return CLOISTER_LOG_ERROR;
	}
}

static void on_log(int severity, const char *msg)
{
	char q[CL_LOGFMT_QUOTED_MAX(sizeof last_err) + 1], fields[sizeof q + 64];
	if (severity >= EVENT_LOG_ERR)
		snprintf(last_err, sizeof last_err, "%s", msg ? msg : "");
	snprintf(fields, sizeof fields, "msg=\"libevent\" detail=%s",
		 cl_logfmt_quote(msg ? msg : "", q, sizeof q));
	if (log_fn)
		log_fn(log_arg, level_of(severity), fields);
}

static void on_fatal(int err)
{
	char q[CL_LOGFMT_QUOTED_MAX(sizeof last_err) + 1], fields[sizeof q + 96];
	snprintf(fields, sizeof fields,
		 "msg=\"libevent fatal error: the agent exits\" detail=%s code=%d",
		 cl_logfmt_quote(last_err, q, sizeof q), err);
	if (log_fn)
		log_fn(log_arg, CLOISTER_LOG_ERROR, fields);
	if (fatal_fn)
		fatal_fn(log_arg, err);
}

void cl_libevent_log_route(cl_libevent_log_fn log, cl_libevent_fatal_fn fatal,
			   void *arg)
{
	log_fn = log;
	fatal_fn = fatal;
	log_arg = arg;
	event_set_log_callback(on_log);
	event_set_fatal_callback(on_fatal);
}
