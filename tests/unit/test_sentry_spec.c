/*
 * test_sentry_spec.c — the sentry setting grammar: every accepted form
 * with what it yields, and every class of error with a reason that names
 * the offending entry.
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "cloister.h"
#include "runtime/sentry_spec.h"

#define PORT 7946

static char why[512];

static int parse(const char *text, cl_sentry_spec *s)
{
	return cl_sentry_parse(text, PORT, s, why, sizeof why);
}

/* Parses text expecting an error whose reason contains fragment; the spec
 * must come back empty. */
static void expect_error(const char *text, uint16_t port,
			 const char *fragment)
{
	cl_sentry_spec s;
	int rc = cl_sentry_parse(text, port, &s, why, sizeof why);
	if (rc != CLOISTER_EINVAL)
		CHECK_FAIL("\"%s\" gave %d, not EINVAL", text, rc);
	if (!strstr(why, fragment))
		CHECK_FAIL("\"%s\": reason \"%s\" lacks \"%s\"", text, why,
			   fragment);
	CHECK_EQ_INT(s.kind, CL_SENTRY_NONE);
	CHECK(s.peers == NULL);
	CHECK_EQ_INT(s.n_peers, 0);
}

static void check_v4(const cl_addr *a, int b0, int b1, int b2, int b3,
		     int port)
{
	CHECK_EQ_INT(a->family, CL_AF_INET4);
	CHECK_EQ_INT(a->ip[0], b0);
	CHECK_EQ_INT(a->ip[1], b1);
	CHECK_EQ_INT(a->ip[2], b2);
	CHECK_EQ_INT(a->ip[3], b3);
	CHECK_EQ_INT(a->port, port);
}

static void test_none(void)
{
	const char *texts[] = {"", "none", "NONE", "  none\t", "   "};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		cl_sentry_spec s;
		CHECK_EQ_INT(parse(texts[i], &s), 0);
		CHECK_EQ_INT(s.kind, CL_SENTRY_NONE);
		CHECK_EQ_INT(s.n_peers, 0);
		cl_sentry_spec_free(&s);
	}
	CHECK_STR_EQ(cl_sentry_kind_name(CL_SENTRY_NONE), "none");
	CHECK_STR_EQ(cl_sentry_kind_name(CL_SENTRY_LIST), "list");
}

static void test_dns(void)
{
	cl_sentry_spec s;

	CHECK_EQ_INT(parse("dns:svc.cluster.test", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_STR_EQ(s.name, "svc.cluster.test");
	CHECK_EQ_INT(s.port, PORT);
	cl_sentry_spec_free(&s);

	CHECK_EQ_INT(parse("dns:svc.cluster.test:4000", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_STR_EQ(s.name, "svc.cluster.test");
	CHECK_EQ_INT(s.port, 4000);
	cl_sentry_spec_free(&s);

	/* Prefix in any case, spaces after it, trailing dot kept. */
	CHECK_EQ_INT(parse("DNS: headless.default.svc.cluster.local.", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_STR_EQ(s.name, "headless.default.svc.cluster.local.");
	cl_sentry_spec_free(&s);

	/* A bare name is DNS discovery. */
	CHECK_EQ_INT(parse("orders-headless", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_STR_EQ(s.name, "orders-headless");
	CHECK_EQ_INT(s.port, PORT);
	cl_sentry_spec_free(&s);

	CHECK_EQ_INT(parse("  my_svc.example.  ", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_STR_EQ(s.name, "my_svc.example.");
	cl_sentry_spec_free(&s);

	/* Longest legal name: 63+1+63+1+63+1+61 = 253. */
	char name[300];
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	CHECK_EQ_INT(parse(name, &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_DNS);
	CHECK_EQ_INT(strlen(s.name), 253);
	cl_sentry_spec_free(&s);
	/* ... and with its trailing dot. */
	name[253] = '.';
	name[254] = '\0';
	CHECK_EQ_INT(parse(name, &s), 0);
	CHECK_EQ_INT(strlen(s.name), 254);
	cl_sentry_spec_free(&s);
}

static void test_srv(void)
{
	cl_sentry_spec s;

	CHECK_EQ_INT(parse("srv:_cloister._udp.cluster.test", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_SRV);
	CHECK_STR_EQ(s.name, "_cloister._udp.cluster.test");
	CHECK_EQ_INT(s.n_peers, 0);
	cl_sentry_spec_free(&s);

	CHECK_EQ_INT(parse("SRV:_x._tcp.example.", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_SRV);
	CHECK_STR_EQ(s.name, "_x._tcp.example.");
	cl_sentry_spec_free(&s);
}

static void test_list(void)
{
	cl_sentry_spec s;

	CHECK_EQ_INT(parse("10.0.0.1:7000, 10.0.0.2:7001 ,[fd00::5]:7002", &s),
		     0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_LIST);
	CHECK_EQ_INT(s.n_peers, 3);
	check_v4(&s.peers[0].addr, 10, 0, 0, 1, 7000);
	check_v4(&s.peers[1].addr, 10, 0, 0, 2, 7001);
	CHECK_EQ_INT(s.peers[2].addr.family, CL_AF_INET6);
	CHECK_EQ_INT(s.peers[2].addr.ip[0], 0xfd);
	CHECK_EQ_INT(s.peers[2].addr.ip[15], 5);
	CHECK_EQ_INT(s.peers[2].addr.port, 7002);
	for (size_t i = 0; i < 3; i++) {
		CHECK_STR_EQ(s.peers[i].host, "");
		CHECK_STR_EQ(s.peers[i].node, "");
	}
	cl_sentry_spec_free(&s);
	CHECK(s.peers == NULL);
	CHECK_EQ_INT(s.kind, CL_SENTRY_NONE);

	/* name@host entries keep the node name, hosts numeric or DNS. */
	CHECK_EQ_INT(parse("orders@10.0.0.5,orders@node2.example:8000,"
			   "orders@[::1]:9000,a.b@::2",
			   &s),
		     0);
	CHECK_EQ_INT(s.n_peers, 4);
	CHECK_STR_EQ(s.peers[0].node, "orders@10.0.0.5");
	check_v4(&s.peers[0].addr, 10, 0, 0, 5, PORT);
	CHECK_STR_EQ(s.peers[1].node, "orders@node2.example");
	CHECK_STR_EQ(s.peers[1].host, "node2.example");
	CHECK_EQ_INT(s.peers[1].addr.family, CL_AF_NONE);
	CHECK_EQ_INT(s.peers[1].addr.port, 8000);
	CHECK_STR_EQ(s.peers[2].node, "orders@::1");
	CHECK_EQ_INT(s.peers[2].addr.family, CL_AF_INET6);
	CHECK_EQ_INT(s.peers[2].addr.ip[15], 1);
	CHECK_EQ_INT(s.peers[2].addr.port, 9000);
	CHECK_STR_EQ(s.peers[3].node, "a.b@::2");
	CHECK_EQ_INT(s.peers[3].addr.port, PORT);
	cl_sentry_spec_free(&s);

	/* One host:port entry with a DNS host is a one-entry list. */
	CHECK_EQ_INT(parse("svc.cluster.test:7000", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_LIST);
	CHECK_EQ_INT(s.n_peers, 1);
	CHECK_STR_EQ(s.peers[0].host, "svc.cluster.test");
	CHECK_EQ_INT(s.peers[0].addr.port, 7000);
	cl_sentry_spec_free(&s);

	/* A bare address is a one-entry list at the default port. */
	CHECK_EQ_INT(parse("127.0.0.1", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_LIST);
	CHECK_EQ_INT(s.n_peers, 1);
	check_v4(&s.peers[0].addr, 127, 0, 0, 1, PORT);
	cl_sentry_spec_free(&s);
	CHECK_EQ_INT(parse("::1", &s), 0);
	CHECK_EQ_INT(s.kind, CL_SENTRY_LIST);
	CHECK_EQ_INT(s.peers[0].addr.family, CL_AF_INET6);
	CHECK_EQ_INT(s.peers[0].addr.port, PORT);
	cl_sentry_spec_free(&s);

	/* Ports at both ends of the range, with and without a default. */
	CHECK_EQ_INT(cl_sentry_parse("1.2.3.4:1,1.2.3.4:65535", 0, &s, why,
				     sizeof why),
		     0);
	CHECK_EQ_INT(s.peers[0].addr.port, 1);
	CHECK_EQ_INT(s.peers[1].addr.port, 65535);
	cl_sentry_spec_free(&s);

	/* Exactly 256 entries. */
	char *big = malloc(256 * 16 + 1);
	CHECK(big != NULL);
	size_t len = 0;
	for (int i = 0; i < 256; i++)
		len += (size_t)sprintf(big + len, "%s10.0.%d.%d:1",
				       i ? "," : "", i / 250, i % 250 + 1);
	CHECK_EQ_INT(parse(big, &s), 0);
	CHECK_EQ_INT(s.n_peers, 256);
	check_v4(&s.peers[255].addr, 10, 0, 1, 6, 1);

	/* Copies are deep. */
	cl_sentry_spec c;
	CHECK_EQ_INT(cl_sentry_spec_copy(&c, &s), 0);
	CHECK(c.peers != s.peers);
	CHECK_EQ_INT(c.n_peers, 256);
	cl_sentry_spec_free(&s);
	check_v4(&c.peers[0].addr, 10, 0, 0, 1, 1);
	cl_sentry_spec_free(&c);

	/* 257: one too many. */
	strcpy(big + len, ",10.9.9.9:1");
	expect_error(big, PORT, "more than 256 entries");
	free(big);

	/* No why buffer is fine. */
	CHECK_EQ_INT(cl_sentry_parse("a:1", PORT, &s, NULL, 0), 0);
	cl_sentry_spec_free(&s);
	CHECK_EQ_INT(cl_sentry_parse("a:0", PORT, &s, NULL, 0),
		     CLOISTER_EINVAL);
}

static void test_empty_entries(void)
{
	expect_error("10.0.0.1:1,,10.0.0.2:1", PORT, "entry 2 \"\": empty entry");
	expect_error("10.0.0.1:1,", PORT, "entry 2 \"\": empty entry");
	expect_error(",10.0.0.1:1", PORT, "entry 1 \"\": empty entry");
	expect_error("a:1, ,b:1", PORT, "entry 2 \"\": empty entry");
	expect_error(",", PORT, "empty entry");
	expect_error("@1.2.3.4", PORT, "empty name before '@'");
	expect_error("n@", PORT, "empty host");
	expect_error("n@:80", PORT, "empty host");
	expect_error(":80", PORT, "empty host");
	expect_error("[]:80", PORT, "not an IPv6 address");
}

static void test_bad_ports(void)
{
	expect_error("10.0.0.1:0", PORT, "port must be 1..65535");
	expect_error("10.0.0.1:65536", PORT, "port must be 1..65535");
	expect_error("10.0.0.1:100000", PORT, "port must be 1..65535");
	expect_error("10.0.0.1:", PORT, "empty port");
	expect_error("10.0.0.1:-1", PORT, "decimal digits");
	expect_error("10.0.0.1:+1", PORT, "decimal digits");
	expect_error("10.0.0.1:8o", PORT, "decimal digits");
	expect_error("10.0.0.1:1 2", PORT, "decimal digits");
	expect_error("a:1,10.0.0.1:99999", PORT,
		     "entry 2 \"10.0.0.1:99999\": port must be 1..65535");
	expect_error("[::1]:0", PORT, "port must be 1..65535");
	expect_error("[::1]x", PORT, "text after ']'");
	expect_error("[::1", PORT, "'[' without ']'");
	expect_error("dns:svc.test:0", PORT, "port must be 1..65535");
	expect_error("dns:svc.test:", PORT, "empty port");
	expect_error("dns:svc.test:70000", PORT, "port must be 1..65535");
	/* Without a default port, every entry needs one. */
	expect_error("10.0.0.1", 0, "no port given and no default port");
	expect_error("a@10.0.0.1", 0, "no port given and no default port");
	expect_error("svc.test", 0, "no port given and no default port");
	expect_error("dns:svc.test", 0, "dns:NAME:PORT");
	expect_error("srv:_a._udp.test:80", PORT, "SRV records carry it");
}

static void test_names(void)
{
	char text[400];

	/* Label of 64. */
	memset(text, 'a', 64);
	strcpy(text + 64, ".test");
	expect_error(text, PORT, "label longer than 63");
	snprintf(text, sizeof text, "dns:%.*s.test", 64,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_error(text, PORT, "label longer than 63");
	/* Name of 254 (without a trailing dot). */
	memset(text, 'a', 254);
	text[63] = text[127] = text[191] = '.';
	text[254] = '\0';
	expect_error(text, PORT, "longer than 253");
	/* Label of 64 as a list host. */
	memset(text, 'b', 64);
	strcpy(text + 64, ".test:80");
	expect_error(text, PORT, "label longer than 63");

	expect_error("a..b", PORT, "empty label");
	expect_error(".a", PORT, "empty label");
	expect_error("a.-b", PORT, "label starts with '-'");
	expect_error("a-.b", PORT, "label ends with '-'");
	expect_error("svc.123", PORT, "last label is all digits");
	expect_error("10.0.0", PORT, "neither an address nor a DNS name");
	expect_error("1.2.3.4.5", PORT, "neither an address nor a DNS name");
	expect_error("host name", PORT, "character ' ' not allowed");
	expect_error("h\x01st", PORT, "byte 0x01 not allowed");
	expect_error("sv!c", PORT, "character '!' not allowed");
	expect_error("n@h*st:1", PORT, "character '*' not allowed");
	expect_error("n m@host:1", PORT, "name before '@'");
	expect_error("a@b@c:1", PORT, "character '@' not allowed");
	expect_error("dns:10.0.0.1", PORT, "dns: wants a name");
	expect_error("dns:10.0.0.1:80", PORT, "dns: wants a name");
	expect_error("dns:", PORT, "empty name");
	expect_error("dns:.", PORT, "empty name");
	expect_error("dns:a..b", PORT, "empty label");
	expect_error("srv:", PORT, "empty name");
	expect_error("srv:cluster.test", PORT, "_service._proto.name");
	expect_error("srv:_cloister.cluster.test", PORT, "_service._proto.name");
	expect_error("srv:_cloister._udp", PORT, "_service._proto.name");
	expect_error("srv:_cloister._udp.", PORT, "_service._proto.name");
	expect_error("srv:_._udp.test", PORT, "_service._proto.name");
	expect_error("srv:_c._.test", PORT, "_service._proto.name");
	expect_error("srv:_c._udp..test", PORT, "empty label");
	expect_error("1:2:3", PORT, "more than one ':'");
	expect_error("n@1:2:3", PORT, "more than one ':'");
	expect_error("[10.0.0.1]:80", PORT, "not an IPv6 address");

	/* Node name over 255 bytes. */
	memset(text, 'n', 250);
	strcpy(text + 250, "@10.0.0.1:80");
	expect_error(text, PORT, "node name longer than 255");
}

static void test_junk(void)
{
	expect_error("!!!", PORT, "neither an address nor a DNS name");
	expect_error("dns", 0, "no port given");
	expect_error("http://x", PORT, "");
	expect_error("a:1;b:2", PORT, "");
	expect_error("\xff\xfe", PORT, "byte 0xff");
	expect_error("a:1,\xc3\xa9:2", PORT, "entry 2");

	/* Overlong entries are quoted, not copied whole. */
	char *text = malloc(2000);
	CHECK(text != NULL);
	memset(text, 'x', 1999);
	text[1999] = '\0';
	text[5] = ',';
	expect_error(text, PORT, "...");
	CHECK(strlen(why) < 200);
	free(text);

	/* Beyond the text bound. */
	size_t huge = CL_SENTRY_TEXT_MAX + 10;
	text = malloc(huge + 1);
	CHECK(text != NULL);
	memset(text, ' ', huge);
	text[huge] = '\0';
	expect_error(text, PORT, "longer than");
	free(text);

	/* NULL arguments. */
	cl_sentry_spec s;
	CHECK_EQ_INT(cl_sentry_parse(NULL, PORT, &s, why, sizeof why),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_sentry_parse("none", PORT, NULL, why, sizeof why),
		     CLOISTER_EINVAL);
	/* A one-byte why buffer still ends up a terminated string. */
	char tiny[1] = {'x'};
	CHECK_EQ_INT(cl_sentry_parse("a:0", PORT, &s, tiny, 1),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(tiny[0], '\0');
}

static void test_name_valid(void)
{
	CHECK(cl_dns_name_valid("a", 1));
	CHECK(cl_dns_name_valid("a.b.", 4));
	CHECK(cl_dns_name_valid("_srv._tcp.x", 11));
	CHECK(!cl_dns_name_valid("", 0));
	CHECK(!cl_dns_name_valid(".", 1));
	CHECK(!cl_dns_name_valid("1.2.3.4", 7));
	CHECK(!cl_dns_name_valid(NULL, 0));
	CHECK(!cl_dns_name_valid("a b", 3));
}

int main(void)
{
	RUN_TEST(test_none);
	RUN_TEST(test_dns);
	RUN_TEST(test_srv);
	RUN_TEST(test_list);
	RUN_TEST(test_empty_entries);
	RUN_TEST(test_bad_ports);
	RUN_TEST(test_names);
	RUN_TEST(test_junk);
	RUN_TEST(test_name_valid);
	printf("%d checks passed\n", check_count);
	return 0;
}
