/*
 * sd_notify.h — systemd's readiness protocol without libsystemd.
 *
 * The agent tells its service manager three things: READY=1 once it
 * serves (its listeners are up and the node runs; never "once the cluster
 * has its quorum", which would hold a node started alone in `systemctl
 * start` until a timeout and then into a restart loop), STATUS= with the
 * cluster's status as it changes, and WATCHDOG=1 pings while its loops
 * run, when the unit sets WatchdogSec=.  Services that need the cluster
 * ready wait for it themselves: `cloister wait ready`.
 */
#ifndef CLOISTER_AGENT_SD_NOTIFY_H
#define CLOISTER_AGENT_SD_NOTIFY_H

#include <stdint.h>

/* Sends text as one datagram to $NOTIFY_SOCKET (a path, or "@name" for an
 * abstract socket).  0 sent; -1 no socket given, or it cannot be sent
 * (systemd ignores a service that never reports; so does the agent). */
int cl_sd_notify(const char *text);

/* The watchdog interval systemd asks this process to keep, in
 * microseconds: WATCHDOG_USEC, if WATCHDOG_PID is unset or names this
 * process; 0 when there is no watchdog.  Pings go every half interval. */
uint64_t cl_sd_watchdog_usec(void);

#endif
