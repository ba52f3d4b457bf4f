/*
 * api_token.c — the control API's token: generated, written 0600 where
 * clients look, read back with checks (api_token.h says where and why).
 */
#include "api_token.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/addr.h"

/* A token file is one short line; anything larger is not one. */
#define FILE_MAX 4096

int cl_token_generate(char out[65])
{
	unsigned char raw[32];
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, 65, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

int cl_token_file_name(const char *hostport, char *out, size_t cap)
{
	const char *h, *port;
	size_t hlen;
	if (!hostport || !cl_split_host_port(hostport, &h, &hlen, &port) ||
	    !*port || strspn(port, "0123456789") != strlen(port))
		return -1;
	char host[256];
	if (hlen >= sizeof host)
		return -1;
	/* Only name-safe characters: a host is an address or a DNS name, and
	 * anything else must not make a path. */
	for (size_t i = 0; i < hlen; i++) {
		char c = h[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			  c == ':';
		host[i] = ok ? c : '_';
	}
	host[hlen] = '\0';
	int n = snprintf(out, cap, "http-%s-%s.token", host, port);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

size_t cl_token_dirs(char dirs[][CL_TOKEN_PATH_MAX], size_t max)
{
	size_t n = 0;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	uid_t uid = geteuid();
	if (n < max && xdg && xdg[0] == '/' &&
	    strlen(xdg) + sizeof "/cloister" <= CL_TOKEN_PATH_MAX)
		snprintf(dirs[n++], CL_TOKEN_PATH_MAX, "%s/cloister", xdg);
	if (n < max && uid == 0)
		snprintf(dirs[n++], CL_TOKEN_PATH_MAX, "/run/cloister");
	if (n < max && uid != 0)
		snprintf(dirs[n++], CL_TOKEN_PATH_MAX, "/tmp/cloister-%u",
			 (unsigned)uid);
	return n;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* dir, made 0700 if missing, opened; -1 unless it is a directory of ours
 * that only we can write to. */
static int open_private_dir(const char *dir, char *why, size_t whylen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail(why, whylen, "cannot create %s: %s", dir,
			    strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return fail(why, whylen, "cannot open %s: %s", dir,
			    strerror(errno));
	struct stat st;
	if (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(dfd);
		return fail(why, whylen,
			    "%s must be a directory owned by uid %u that "
			    "nobody else can write to (chmod 700 it, or set "
			    "XDG_RUNTIME_DIR)",
			    dir, (unsigned)geteuid());
	}
	return dfd;
}

int cl_token_write(const char *dir, const char *name, const char *token,
		   char path[CL_TOKEN_PATH_MAX], dev_t *dev, ino_t *ino,
		   char *why, size_t whylen)
{
	char tmp[CL_TOKEN_PATH_MAX];
	if ((size_t)snprintf(path, CL_TOKEN_PATH_MAX, "%s/%s", dir, name) >=
		    CL_TOKEN_PATH_MAX ||
	    (size_t)snprintf(tmp, sizeof tmp, ".%s.%ld", name,
			     (long)getpid()) >= sizeof tmp)
		return fail(why, whylen, "the path %s/%s is too long", dir,
			    name);
	mode_t old = umask(077);
	int dfd = open_private_dir(dir, why, whylen);
	if (dfd < 0) {
		umask(old);
		return -1;
	}
	/* A temporary file a crash left behind has our pid's name only if
	 * the pid came round again: it is ours to replace. */
	unlinkat(dfd, tmp, 0);
	int fd = openat(dfd, tmp,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	umask(old);
	if (fd < 0) {
		int e = errno;
		close(dfd);
		return fail(why, whylen, "cannot create a file in %s: %s", dir,
			    strerror(e));
	}
	size_t len = strlen(token);
	struct stat st;
	bool ok = fchmod(fd, 0600) == 0 && write(fd, token, len) == (ssize_t)len &&
		  write(fd, "\n", 1) == 1 && fsync(fd) == 0 && fstat(fd, &st) == 0;
	int e = errno;
	ok &= close(fd) == 0;
	if (ok && renameat(dfd, tmp, dfd, name) != 0) {
		e = errno;
		ok = false;
	}
	if (!ok) {
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return fail(why, whylen, "cannot write %s: %s", path,
			    strerror(e));
	}
	close(dfd);
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

void cl_token_remove(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;
	if (path && *path && lstat(path, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino)
		unlink(path);
}

int cl_token_read(const char *path, unsigned checks, char *out, size_t cap,
		  bool *missing, char *why, size_t whylen)
{
	if (missing)
		*missing = false;
	/* O_NONBLOCK: a FIFO in the file's place must not hang us; fstat
	 * then refuses it.  The checks are on the open descriptor. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				    (checks & CL_TOKEN_OURS ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (missing)
			*missing = errno == ENOENT;
		return fail(why, whylen, "cannot read %s: %s", path,
			    strerror(errno));
	}
	struct stat st;
	char buf[FILE_MAX + 1];
	ssize_t n = -1;
	const char *bad = NULL;
	if (fstat(fd, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else if ((checks & CL_TOKEN_OURS) && st.st_uid != geteuid())
		bad = "owned by another user";
	else if ((checks & CL_TOKEN_PRIVATE) && (st.st_mode & 077))
		bad = "group or others may read it (chmod 600)";
	else if ((n = read(fd, buf, sizeof buf - 1)) < 0)
		bad = strerror(errno);
	else if (n > FILE_MAX - 1)
		bad = "larger than 4 KiB: not a token file";
	close(fd);
	if (bad) {
		sodium_memzero(buf, sizeof buf);
		return fail(why, whylen, "%s: %s", path, bad);
	}
	buf[n] = '\0';
	char *b = buf + strspn(buf, " \t");
	size_t len = strcspn(b, "\r\n");
	while (len && (b[len - 1] == ' ' || b[len - 1] == '\t'))
		len--;
	int rc = 0;
	if (!cl_token_ok(b, len) || len >= cap)
		rc = fail(why, whylen,
			  "%s: not a token (its first line must be %u to %u "
			  "visible ASCII characters)",
			  path, CL_TOKEN_MIN, CL_TOKEN_MAX);
	else {
		memcpy(out, b, len);
		out[len] = '\0';
	}
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int cl_token_find(const char *hostport, char *out, size_t cap, char *looked,
		  size_t lookedlen)
{
	char name[300], dirs[CL_TOKEN_DIRS_MAX][CL_TOKEN_PATH_MAX];
	if (looked && lookedlen)
		looked[0] = '\0';
	if (cl_token_file_name(hostport, name, sizeof name) != 0)
		return -1;
	size_t n = cl_token_dirs(dirs, CL_TOKEN_DIRS_MAX);
	for (size_t i = 0; i < n; i++) {
		char path[CL_TOKEN_PATH_MAX + 300], why[CL_TOKEN_PATH_MAX + 400];
		snprintf(path, sizeof path, "%s/%s", dirs[i], name);
		if (i == 0 && looked)
			snprintf(looked, lookedlen, "%s", path);
		/* Ours and private: a file anyone else could have put or
		 * read there is not the agent's. */
		if (cl_token_read(path, CL_TOKEN_OURS | CL_TOKEN_PRIVATE, out,
				  cap, NULL, why, sizeof why) == 0)
			return 0;
	}
	return -1;
}
