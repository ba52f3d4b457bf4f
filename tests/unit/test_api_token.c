/*
 * test_api_token.c — the control API's token files: generated tokens, the
 * file name from the API's address, the candidate directories, writing
 * (0600 file, 0700 directory created, a directory others can write to or
 * a symlink refused, a symlink at the file's place replaced, not
 * followed), reading with its checks (private, ours, regular, size,
 * content), finding a client's token, and removal that spares a
 * successor's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* api_token.c and api_guard.c live with the agent: compiled in here. */
#include "agent/api_guard.c"
#include "agent/api_token.c"

static char root[64];

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_generate(void)
{
	char a[65], b[65];
	CHECK(cl_token_generate(a) == 0);
	CHECK(cl_token_generate(b) == 0);
	CHECK_EQ_INT(strlen(a), 64);
	CHECK(strspn(a, "0123456789abcdef") == 64);
	CHECK(strcmp(a, b) != 0);
	CHECK(cl_token_ok(a, strlen(a)));
}

static void test_names(void)
{
	char n[128];
	CHECK(cl_token_file_name("127.0.0.1:7947", n, sizeof n) == 0);
	CHECK_STR_EQ(n, "http-127.0.0.1-7947.token");
	CHECK(cl_token_file_name("[::1]:7947", n, sizeof n) == 0);
	CHECK_STR_EQ(n, "http-::1-7947.token");
	CHECK(cl_token_file_name("localhost:80", n, sizeof n) == 0);
	CHECK_STR_EQ(n, "http-localhost-80.token");
	/* Nothing that could climb out of the directory. */
	CHECK(cl_token_file_name("../../etc/x:1", n, sizeof n) == 0);
	CHECK(strchr(n, '/') == NULL);
	CHECK(cl_token_file_name("127.0.0.1", n, sizeof n) == -1);
	CHECK(cl_token_file_name("127.0.0.1:", n, sizeof n) == -1);
	CHECK(cl_token_file_name("127.0.0.1:7x", n, sizeof n) == -1);
	CHECK(cl_token_file_name(":7947", n, sizeof n) == -1);
	CHECK(cl_token_file_name("127.0.0.1:7947", n, 10) == -1);
	CHECK(cl_token_file_name(NULL, n, sizeof n) == -1);
}

static void test_dirs(void)
{
	char d[CL_TOKEN_DIRS_MAX][CL_TOKEN_PATH_MAX];
	setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	size_t n = cl_token_dirs(d, CL_TOKEN_DIRS_MAX);
	CHECK(n == 2);
	CHECK_STR_EQ(d[0], "/run/user/1234/cloister");
	if (geteuid() == 0)
		CHECK_STR_EQ(d[1], "/run/cloister");
	else
		CHECK(!strncmp(d[1], "/tmp/cloister-", 14));
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* not usable */
	n = cl_token_dirs(d, CL_TOKEN_DIRS_MAX);
	CHECK(n == 1 && d[0][0] == '/' && !strstr(d[0], "relative"));
	unsetenv("XDG_RUNTIME_DIR");
	CHECK(cl_token_dirs(d, 0) == 0);
}

static void test_write_read(void)
{
	char dir[128], path[CL_TOKEN_PATH_MAX], why[512], out[CL_TOKEN_MAX + 1];
	dev_t dev;
	ino_t ino;
	struct stat st;
	const char *tok = "0123456789abcdef0123456789abcdef";
	snprintf(dir, sizeof dir, "%s/run", root);

	/* The directory is made 0700, the file 0600, whole. */
	CHECK(cl_token_write(dir, "t.token", tok, path, &dev, &ino, why,
			     sizeof why) == 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(st.st_ino == ino && st.st_dev == dev);
	bool missing = true;
	CHECK(cl_token_read(path, CL_TOKEN_OURS | CL_TOKEN_PRIVATE, out,
			    sizeof out, &missing, why, sizeof why) == 0);
	CHECK_STR_EQ(out, tok);
	CHECK(!missing);
	/* Written again (a restart): replaced, a new file. */
	CHECK(cl_token_write(dir, "t.token", "fedcba9876543210fedcba9876543210",
			     path, &dev, &ino, why, sizeof why) == 0);
	CHECK(cl_token_read(path, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == 0);
	CHECK_STR_EQ(out, "fedcba9876543210fedcba9876543210");

	/* A symlink put at the file's place is replaced, never followed. */
	char victim[160], link[CL_TOKEN_PATH_MAX + 16];
	snprintf(victim, sizeof victim, "%s/victim", root);
	put(victim, "untouched\n", 0644);
	snprintf(link, sizeof link, "%s/l.token", dir);
	CHECK(symlink(victim, link) == 0);
	CHECK(cl_token_write(dir, "l.token", tok, path, &dev, &ino, why,
			     sizeof why) == 0);
	CHECK(lstat(link, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(cl_token_read(victim, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) != 0); /* "untouched": not a token */
	CHECK(strstr(why, "not a token"));

	/* Directories others could write into, or a symlink, are refused. */
	char open_dir[160];
	snprintf(open_dir, sizeof open_dir, "%s/open", root);
	CHECK(mkdir(open_dir, 0777) == 0 && chmod(open_dir, 0777) == 0);
	CHECK(cl_token_write(open_dir, "t.token", tok, path, &dev, &ino, why,
			     sizeof why) == -1);
	CHECK(strstr(why, "nobody else can write"));
	char dir_link[160];
	snprintf(dir_link, sizeof dir_link, "%s/dirlink", root);
	CHECK(symlink(dir, dir_link) == 0);
	CHECK(cl_token_write(dir_link, "t.token", tok, path, &dev, &ino, why,
			     sizeof why) == -1);
	char nodir[160], unused[CL_TOKEN_PATH_MAX];
	snprintf(nodir, sizeof nodir, "%s/no/such/dir", root);
	CHECK(cl_token_write(nodir, "t.token", tok, unused, &dev, &ino, why,
			     sizeof why) == -1);
	CHECK(strstr(why, "cannot create"));

	/* Reading: each check. */
	char f[160];
	snprintf(f, sizeof f, "%s/read.token", root);
	put(f, "  " "0123456789abcdef0123456789abcdef" " \r\nsecond line\n", 0600);
	CHECK(cl_token_read(f, CL_TOKEN_OURS | CL_TOKEN_PRIVATE, out, sizeof out,
			    NULL, why, sizeof why) == 0);
	CHECK_STR_EQ(out, tok);
	CHECK(chmod(f, 0640) == 0);
	CHECK(cl_token_read(f, CL_TOKEN_PRIVATE, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	CHECK(strstr(why, "chmod 600"));
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == 0); /* a file the user named */
	put(f, "short\n", 0600);
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	put(f, "0123456789 abcdef0123456789abcdef\n", 0600);
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	put(f, "", 0600);
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	char big[5000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put(f, big, 0600);
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	CHECK(strstr(why, "larger than 4 KiB"));
	CHECK(cl_token_read(dir, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1);
	CHECK(strstr(why, "not a regular file"));
	char fifo[160];
	snprintf(fifo, sizeof fifo, "%s/fifo", root);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(cl_token_read(fifo, CL_TOKEN_ANY, out, sizeof out, NULL, why,
			    sizeof why) == -1); /* and does not hang */
	missing = false;
	snprintf(f, sizeof f, "%s/absent", root);
	CHECK(cl_token_read(f, CL_TOKEN_ANY, out, sizeof out, &missing, why,
			    sizeof why) == -1);
	CHECK(missing);
	/* CL_TOKEN_OURS does not follow a symlink. */
	CHECK(cl_token_read(link, CL_TOKEN_OURS, out, sizeof out, NULL, why,
			    sizeof why) == 0);
	CHECK(cl_token_read(dir_link, CL_TOKEN_OURS, out, sizeof out, NULL, why,
			    sizeof why) == -1);
}

static void test_find_remove(void)
{
	char xdg[128], path[CL_TOKEN_PATH_MAX], why[512], out[CL_TOKEN_MAX + 1];
	char looked[CL_TOKEN_PATH_MAX + 64], dirs[3][CL_TOKEN_PATH_MAX];
	dev_t dev, dev2;
	ino_t ino, ino2;
	snprintf(xdg, sizeof xdg, "%s/xdg", root);
	CHECK(mkdir(xdg, 0700) == 0);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	CHECK(cl_token_find("127.0.20.9:7947", out, sizeof out, looked,
			    sizeof looked) == -1);
	snprintf(path, sizeof path, "%s/cloister/http-127.0.20.9-7947.token", xdg);
	CHECK_STR_EQ(looked, path);
	CHECK(cl_token_dirs(dirs, 3) >= 1);
	CHECK(cl_token_write(dirs[0], "http-127.0.20.9-7947.token",
			     "abcdefabcdefabcdef", path, &dev, &ino, why,
			     sizeof why) == 0);
	CHECK(cl_token_find("127.0.20.9:7947", out, sizeof out, NULL, 0) == 0);
	CHECK_STR_EQ(out, "abcdefabcdefabcdef");
	CHECK(cl_token_find("127.0.20.9:7948", out, sizeof out, NULL, 0) == -1);
	/* A file others may read is not believed. */
	CHECK(chmod(path, 0644) == 0);
	CHECK(cl_token_find("127.0.20.9:7947", out, sizeof out, NULL, 0) == -1);
	CHECK(chmod(path, 0600) == 0);

	/* Removal spares a successor's file... */
	CHECK(cl_token_write(dirs[0], "http-127.0.20.9-7947.token",
			     "successor-successor", path, &dev2, &ino2, why,
			     sizeof why) == 0);
	cl_token_remove(path, dev, ino);
	CHECK(access(path, F_OK) == 0);
	/* ...and takes its own. */
	cl_token_remove(path, dev2, ino2);
	CHECK(access(path, F_OK) != 0);
	cl_token_remove("", 0, 0);
	cl_token_remove(NULL, 0, 0);
	unsetenv("XDG_RUNTIME_DIR");
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_api_token.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_generate);
	RUN_TEST(test_names);
	RUN_TEST(test_dirs);
	RUN_TEST(test_write_read);
	RUN_TEST(test_find_remove);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	printf("test_api_token: %d checks passed\n", check_count);
	return 0;
}
