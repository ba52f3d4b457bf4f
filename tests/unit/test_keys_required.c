/*
 * test_keys_required.c — the library refuses a node reachable off
 * loopback without a cluster key (cloister_new), says why and what to do,
 * and runs one with insecure = true, counting it ("insecure" = 1).
 * Loopback (127/8, ::1, ::ffff:127.x) and nonode need no key.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "cloister.h"

#define KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char logged[8192];

/* cloister_new() with these settings (NULL-terminated pairs); what it
 * wrote to stderr (its log before a logger can be set) lands in logged. */
static cloister_t *make(int *err, const char *const *kv)
{
	cloister_config_t *cfg = cloister_config_new();
	CHECK(cfg != NULL);
	for (; kv[0]; kv += 2)
		CHECK_EQ_INT(cloister_config_set(cfg, kv[0], kv[1]), 0);
	char path[] = "/tmp/cloister-keys-required.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	*err = 0;
	cloister_t *c = cloister_new(cfg, err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, logged, sizeof logged - 1, 0);
	logged[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	cloister_config_free(cfg);
	return c;
}

static uint64_t counter(cloister_t *c, const char *name)
{
	cloister_counter cs[128];
	size_t n = 0;
	CHECK_EQ_INT(cloister_counters(c, cs, 128, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].name, name))
			return cs[i].value;
	CHECK_FAIL("no counter %s", name);
	return 0;
}

static void refused(const char *const *kv)
{
	int err;
	cloister_t *c = make(&err, kv);
	CHECK(c == NULL);
	CHECK_EQ_INT(err, CLOISTER_EINVAL);
	/* Why, and the ways out. */
	CHECK(strstr(logged, "without a cluster key") != NULL);
	CHECK(strstr(logged, "cloister keygen") != NULL);
	CHECK(strstr(logged, "--insecure") != NULL);
}

static void test_refused_off_loopback(void)
{
	refused((const char *const[]){"advertise", "10.1.2.3:7946", NULL});
	refused((const char *const[]){"advertise", "[2001:db8::1]:7946", NULL});
	/* A wildcard bind listens everywhere. */
	refused((const char *const[]){"bind", "0.0.0.0:7946", "advertise",
				      "127.0.0.1:7946", NULL});
	refused((const char *const[]){"bind", "[::]:7946", "advertise",
				      "[::1]:7946", NULL});
	/* Loopback bind, but peers are told to dial elsewhere. */
	refused((const char *const[]){"bind", "127.0.0.1:7946", "advertise",
				      "192.0.2.1:7946", NULL});
	/* insecure = false is the default, said out loud. */
	refused((const char *const[]){"advertise", "10.1.2.3:7946", "insecure",
				      "false", NULL});
}

static void test_allowed(void)
{
	const char *const *const ok[] = {
		(const char *const[]){"advertise", "127.0.0.1:7946", NULL},
		(const char *const[]){"advertise", "127.200.3.4:7946", NULL},
		(const char *const[]){"advertise", "[::1]:7946", NULL},
		(const char *const[]){"advertise", "[::ffff:127.0.0.9]:7946",
				      NULL},
		(const char *const[]){"naming", "nonode", NULL},
		(const char *const[]){NULL},
		(const char *const[]){"advertise", "10.1.2.3:7946", "key", KEY,
				      NULL},
		(const char *const[]){"bind", "0.0.0.0:7946", "advertise",
				      "10.1.2.3:7946", "passphrase", "cookie",
				      NULL},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int err;
		cloister_t *c = make(&err, ok[i]);
		CHECK(c != NULL);
		CHECK_EQ_INT(counter(c, "insecure"), 0);
		CHECK(strstr(logged, "without a cluster key") == NULL);
		cloister_free(c);
	}
}

static void test_insecure(void)
{
	int err;
	cloister_t *c = make(&err, (const char *const[]){
		"bind", "0.0.0.0:7946", "advertise", "10.1.2.3:7946",
		"insecure", "true", NULL});
	CHECK(c != NULL);
	CHECK_EQ_INT(counter(c, "insecure"), 1);
	cloister_free(c);
	/* With a key, insecure changes nothing: the node is not. */
	c = make(&err, (const char *const[]){"advertise", "10.1.2.3:7946",
					     "insecure", "true", "key", KEY,
					     NULL});
	CHECK(c != NULL);
	CHECK_EQ_INT(counter(c, "insecure"), 0);
	cloister_free(c);
}

int main(void)
{
	RUN_TEST(test_refused_off_loopback);
	RUN_TEST(test_allowed);
	RUN_TEST(test_insecure);
	printf("test_keys_required: %d checks passed\n", check_count);
	return 0;
}
