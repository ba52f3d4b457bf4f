/* sd_notify.c — see sd_notify.h. */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int cl_sd_notify(const char *text)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n < 2 || n >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: the name is the bytes */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t sent;
	do
		sent = sendto(fd, text, strlen(text), MSG_NOSIGNAL,
			      (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	while (sent < 0 && errno == EINTR);
	close(fd);
	return sent == (ssize_t)strlen(text) ? 0 : -1;
}

/* A whole decimal number, nothing else; 0 for anything else. */
static uint64_t decimal(const char *s)
{
	if (!s || !*s)
		return 0;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

uint64_t cl_sd_watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID");
	/* Set for another process (a parent that forked us): not ours. */
	if (pid && *pid && decimal(pid) != (uint64_t)getpid())
		return 0;
	return decimal(getenv("WATCHDOG_USEC"));
}
