/*
 * test_naming.c — choosing the node's address among invented interfaces
 * (sentry answers first, then the preference order), composing names from
 * invented host facts, and one pass over this host's real interfaces.
 */
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check.h"
#include "cloister.h"
#include "runtime/naming.h"

static char why[512];

static cl_naming_iface iface(const char *name, const char *ip, bool loop)
{
	cl_naming_iface f;
	memset(&f, 0, sizeof f);
	snprintf(f.name, sizeof f.name, "%s", name);
	if (strchr(ip, ':')) {
		f.addr.family = CL_AF_INET6;
		CHECK(inet_pton(AF_INET6, ip, f.addr.ip) == 1);
	} else {
		f.addr.family = CL_AF_INET4;
		CHECK(inet_pton(AF_INET, ip, f.addr.ip) == 1);
	}
	f.loopback = loop;
	return f;
}

static cl_addr answer(const char *text)
{
	cl_addr a;
	CHECK_EQ_INT(cl_addr_parse(text, 7946, &a), 0);
	return a;
}

static int pick(const cl_naming_iface *ifs, size_t n, const cl_addr *ans,
		size_t n_ans)
{
	return cl_naming_pick(ifs, n, ans, n_ans, why, sizeof why);
}

static void test_pick_answers(void)
{
	cl_naming_iface ifs[] = {
		iface("lo", "127.0.0.1", true),
		iface("eth0", "10.1.2.3", false),
		iface("eth1", "10.9.9.9", false),
		iface("eth1", "fd00::9", false),
	};
	cl_addr ans[] = {answer("10.1.2.4:7946"), answer("10.9.9.9:1234"),
			 answer("[fd00::9]:7946")};

	/* The interface among the answers wins over the first IPv4, and
	 * the answer's port does not matter. */
	CHECK_EQ_INT(pick(ifs, 4, ans, 3), 2);
	CHECK_STR_EQ(why, "address 10.9.9.9 of eth1 is among the sentry answers");
	/* With two matches, interface order decides. */
	cl_addr both[] = {answer("[fd00::9]:1"), answer("10.1.2.3:1")};
	CHECK_EQ_INT(pick(ifs, 4, both, 2), 1);
	CHECK_STR_EQ(why, "address 10.1.2.3 of eth0 is among the sentry answers");
	/* IPv6 matches too. */
	CHECK_EQ_INT(pick(ifs, 4, ans + 2, 1), 3);
	CHECK_STR_EQ(why, "address fd00::9 of eth1 is among the sentry answers");
	/* A loopback interface carrying the answer (a test namespace with
	 * 198.18.0.1 on lo) is still the right choice. */
	cl_naming_iface ns[] = {iface("lo", "127.0.0.1", true),
				iface("lo", "198.18.0.1", true)};
	cl_addr nsans[] = {answer("198.18.0.2:1"), answer("198.18.0.1:1")};
	CHECK_EQ_INT(pick(ns, 2, nsans, 2), 1);
	CHECK(strstr(why, "198.18.0.1 of lo is among") != NULL);
	/* Same bytes, other family: no match. */
	cl_naming_iface v6only[] = {iface("eth0", "a09:909::", false)};
	cl_addr v4ans[] = {answer("10.9.9.9:1")};
	CHECK_EQ_INT(pick(v6only, 1, v4ans, 1), 0);
	CHECK(strstr(why, "none of this host's addresses is among the "
			  "sentry answers") != NULL);

	/* No match: the preference order, said so. */
	cl_addr other[] = {answer("192.0.2.99:1")};
	CHECK_EQ_INT(pick(ifs, 4, other, 1), 1);
	CHECK_STR_EQ(why, "none of this host's addresses is among the sentry "
			  "answers; address 10.1.2.3 of eth0 is the first "
			  "non-loopback IPv4 address");
}

static void test_pick_preference(void)
{
	cl_naming_iface ifs[] = {
		iface("lo", "127.0.0.1", true),
		iface("lo", "::1", true),
		iface("eth0", "fe80::1", false),
		iface("eth0", "fd00::2", false),
		iface("eth1", "169.254.3.4", false),
		iface("eth2", "192.0.2.2", false),
		iface("eth3", "192.0.2.3", false),
	};

	CHECK_EQ_INT(pick(ifs, 7, NULL, 0), 5);
	CHECK_STR_EQ(why, "address 192.0.2.2 of eth2 is the first non-loopback "
			  "IPv4 address");
	/* Without IPv4: the non-link-local IPv6 one. */
	CHECK_EQ_INT(pick(ifs, 5, NULL, 0), 3);
	CHECK(strstr(why, "fd00::2 of eth0") != NULL);
	/* Then IPv4 link-local. */
	cl_naming_iface ll[] = {ifs[0], ifs[2], ifs[4]};
	CHECK_EQ_INT(pick(ll, 3, NULL, 0), 2);
	CHECK(strstr(why, "169.254.3.4") != NULL);
	/* Then loopback, IPv4 first; IPv6 link-local never. */
	CHECK_EQ_INT(pick(ifs, 3, NULL, 0), 0);
	CHECK(strstr(why, "127.0.0.1 of lo is a loopback address") != NULL);
	cl_naming_iface v6lo[] = {ifs[2], ifs[1]};
	CHECK_EQ_INT(pick(v6lo, 2, NULL, 0), 1);
	CHECK_EQ_INT(pick(ifs + 2, 1, NULL, 0), -1);
	CHECK_STR_EQ(why, "no usable interface address");
	CHECK_EQ_INT(pick(NULL, 0, NULL, 0), -1);
	cl_addr a[] = {answer("10.0.0.1:1")};
	CHECK_EQ_INT(pick(NULL, 0, a, 1), -1);
	CHECK(strstr(why, "none among the sentry answers") != NULL);
	/* An address on a loopback interface ranks as loopback, whatever
	 * it is. */
	cl_naming_iface odd[] = {iface("lo", "198.18.0.1", true),
				 iface("eth0", "fd00::2", false)};
	CHECK_EQ_INT(pick(odd, 2, NULL, 0), 1);
	/* 127/8 without the flag is loopback too. */
	cl_naming_iface odd2[] = {iface("x", "127.0.0.2", false),
				  iface("y", "169.254.0.1", false)};
	CHECK_EQ_INT(pick(odd2, 2, NULL, 0), 1);
	/* A NULL why is fine. */
	CHECK_EQ_INT(cl_naming_pick(ifs, 7, NULL, 0, NULL, 0), 5);
}

static int compose(cl_naming_mode mode, const char *app, const char *host,
		   const char *fqdn, const cl_addr *a, char *name, size_t len)
{
	return cl_naming_compose(mode, app, host, fqdn, a, name, len, why,
				 sizeof why);
}

static void test_compose(void)
{
	char name[CLOISTER_NAME_MAX + 1];
	cl_addr v4 = answer("10.1.2.3:7946"), v6 = answer("[fd00::2]:1");

	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &v4, name,
			     sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@10.1.2.3");
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &v6, name,
			     sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@fd00::2");
	CHECK_EQ_INT(compose(CL_NAMING_NONODE, "orders", NULL, NULL, NULL,
			     name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@nohost");
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", "vm3.example.com",
			     NULL, &v4, name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@vm3");
	CHECK_STR_EQ(why, "shortnames: host name vm3");
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", "vm3", NULL, &v4,
			     name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@vm3");
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm3",
			     "vm3.example.com", &v4, name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@vm3.example.com");
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm3",
			     "vm3.example.com.", &v4, name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@vm3.example.com");
	/* No domain: the address. */
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm3", "vm3", &v4,
			     name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@10.1.2.3");
	CHECK(strstr(why, "has no domain") != NULL);
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm3", NULL, &v6,
			     name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@fd00::2");
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm3", "", &v4,
			     name, sizeof name),
		     0);
	CHECK_STR_EQ(name, "orders@10.1.2.3");

	/* Errors. */
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "", NULL, NULL, &v4, name,
			     sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, NULL, NULL, NULL, &v4, name,
			     sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "a@b", NULL, NULL, &v4, name,
			     sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, NULL, name,
			     sizeof name),
		     CLOISTER_EINVAL);
	cl_addr none = {0};
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &none, name,
			     sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_LONGNAMES, "orders", "vm", NULL, NULL,
			     name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", "", NULL, &v4,
			     name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", NULL, NULL, &v4,
			     name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", ".x", NULL, &v4,
			     name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_SHORTNAMES, "orders", "my host", NULL,
			     &v4, name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK(strstr(why, "not usable") != NULL);
	CHECK_EQ_INT(compose((cl_naming_mode)42, "orders", "vm", NULL, &v4,
			     name, sizeof name),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &v4, NULL,
			     0),
		     CLOISTER_EINVAL);
	/* Does not fit: the buffer, then the name bound. */
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &v4, name,
			     15),
		     CLOISTER_ENOSPC);
	CHECK_STR_EQ(name, "");
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, "orders", NULL, NULL, &v4, name,
			     16),
		     0);
	char longapp[260];
	memset(longapp, 'a', 250);
	longapp[250] = '\0';
	char bigname[600];
	CHECK_EQ_INT(compose(CL_NAMING_AUTO, longapp, NULL, NULL, &v4, bigname,
			     sizeof bigname),
		     CLOISTER_ENOSPC);
	CHECK(strstr(why, "does not fit") != NULL);
}

static void test_modes(void)
{
	cl_naming_mode m;
	CHECK_EQ_INT(cl_naming_mode_parse("auto", &m), 0);
	CHECK_EQ_INT(m, CL_NAMING_AUTO);
	CHECK_EQ_INT(cl_naming_mode_parse("nonode", &m), 0);
	CHECK_EQ_INT(m, CL_NAMING_NONODE);
	CHECK_EQ_INT(cl_naming_mode_parse("shortnames", &m), 0);
	CHECK_EQ_INT(m, CL_NAMING_SHORTNAMES);
	CHECK_EQ_INT(cl_naming_mode_parse("longnames", &m), 0);
	CHECK_EQ_INT(m, CL_NAMING_LONGNAMES);
	CHECK_EQ_INT(cl_naming_mode_parse("long", &m), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_naming_mode_parse(NULL, &m), CLOISTER_EINVAL);
	CHECK_STR_EQ(cl_naming_mode_name(CL_NAMING_LONGNAMES), "longnames");
}

/* This host, whatever it is: every mode gives a well-formed answer. */
static void test_real_host(void)
{
	char name[CLOISTER_NAME_MAX + 1];
	cl_naming_iface ifs[CL_NAMING_MAX_IFACES];
	size_t n = 0;

	CHECK_EQ_INT(cl_naming_local_ifaces(ifs, CL_NAMING_MAX_IFACES, &n), 0);
	printf("  %zu interface addresses\n", n);

	cl_addr a = {.port = 7946};
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_AUTO, "t", NULL, 0, &a, name,
				      sizeof name, why, sizeof why),
		     0);
	printf("  auto: %s (%s)\n", name, why);
	CHECK(!strncmp(name, "t@", 2));
	CHECK(a.family == CL_AF_INET4 || a.family == CL_AF_INET6);
	CHECK_EQ_INT(a.port, 7946);

	/* 127.0.0.1 as the only answer: lo carries it. */
	bool has_lo = false;
	for (size_t i = 0; i < n; i++)
		has_lo |= ifs[i].addr.family == CL_AF_INET4 &&
			  ifs[i].addr.ip[0] == 127 && ifs[i].addr.ip[3] == 1;
	cl_addr ans[] = {answer("127.0.0.1:7946")};
	a.port = 1;
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_AUTO, "t", ans, 1, &a, name,
				      sizeof name, why, sizeof why),
		     0);
	if (has_lo) {
		CHECK_STR_EQ(name, "t@127.0.0.1");
		CHECK(strstr(why, "127.0.0.1") && strstr(why, "among the "
							   "sentry answers"));
	}
	CHECK_EQ_INT(a.port, 1);

	char host[256] = "";
	CHECK_EQ_INT(gethostname(host, sizeof host - 1), 0);
	host[strcspn(host, ".")] = '\0';
	if (cl_naming_choose(CL_NAMING_SHORTNAMES, "t", NULL, 0, &a, name,
			     sizeof name, why, sizeof why) == 0) {
		printf("  shortnames: %s (%s)\n", name, why);
		CHECK(!strcmp(name + 2, host));
	}
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_LONGNAMES, "t", NULL, 0, &a,
				      name, sizeof name, why, sizeof why),
		     0);
	printf("  longnames: %s (%s)\n", name, why);
	CHECK(!strncmp(name, "t@", 2));

	cl_addr untouched = {.family = CL_AF_INET4, .port = 5};
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_NONODE, "t", NULL, 0,
				      &untouched, name, sizeof name, why,
				      sizeof why),
		     0);
	CHECK_STR_EQ(name, "t@nohost");
	CHECK_EQ_INT(untouched.port, 5);
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_AUTO, "t", NULL, 0, NULL, name,
				      sizeof name, why, sizeof why),
		     CLOISTER_EINVAL);
}

int main(void)
{
	RUN_TEST(test_pick_answers);
	RUN_TEST(test_pick_preference);
	RUN_TEST(test_compose);
	RUN_TEST(test_modes);
	RUN_TEST(test_real_host);
	printf("%d checks passed\n", check_count);
	return 0;
}
