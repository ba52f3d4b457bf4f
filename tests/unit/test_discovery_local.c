/*
 * test_discovery_local.c — the discovery thread against names any host
 * resolves the same way: static lists (numeric and "localhost"), DNS
 * discovery of localhost, and names under the reserved .invalid TLD
 * (RFC 6761), which never exist.  Checks ordering and deduplication, the
 * once-per-change `changed` flag, refresh waking the thread, and free not
 * waiting out the interval.
 *
 * RES_OPTIONS shortens the resolver's timeout so that a host without a
 * reachable name server fails .invalid in about a second (as a timeout
 * rather than NXDOMAIN; both are failures).
 *
 * With CLOISTER_NETNS_DNS set (tests/netns/test_dns_discovery.sh runs it
 * so, inside a namespace with dnsmasq) it also checks A, SRV, static DNS
 * hosts, real NXDOMAIN answers and the naming choice against known
 * records.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cloister.h"
#include "runtime/discovery.h"
#include "runtime/naming.h"

#define HOUR (3600 * CL_SEC)
#define WAIT_S 30

typedef struct seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int rounds;
	cl_discovery_status status;
	bool changed, peers_changed;
	char detail[CL_DISCOVERY_DETAIL_MAX];
	cl_addr peers[64];
	char nodes[64][CLOISTER_NAME_MAX + 1];
	size_t n;
	uint64_t round;
	/* Set by the self-free test. */
	cl_discovery *free_me_on;
	int free_at_round;
} seen;

static void seen_init(seen *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

static void seen_destroy(seen *s)
{
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static void on_result(void *arg, const cl_discovery_result *r)
{
	seen *s = arg;
	char a[CL_ADDR_STRLEN];

	printf("  round %llu: %s%s, %zu peers%s%s", (unsigned long long)r->round,
	       cl_discovery_status_name(r->status),
	       r->changed ? " (changed)" : "", r->n_peers,
	       r->detail[0] ? ": " : "", r->detail);
	for (size_t i = 0; i < r->n_peers; i++)
		printf(" %s%s%s", r->nodes[i], r->nodes[i][0] ? "=" : "",
		       cl_addr_format(&r->peers[i], a, sizeof a));
	printf("\n");

	pthread_mutex_lock(&s->mu);
	s->status = r->status;
	s->changed = r->changed;
	s->peers_changed = r->peers_changed;
	snprintf(s->detail, sizeof s->detail, "%s", r->detail);
	s->n = r->n_peers < 64 ? r->n_peers : 64;
	for (size_t i = 0; i < s->n; i++) {
		s->peers[i] = r->peers[i];
		snprintf(s->nodes[i], sizeof s->nodes[i], "%s", r->nodes[i]);
	}
	s->round = r->round;
	s->rounds++;
	cl_discovery *d = s->free_me_on;
	bool free_now = d && s->rounds == s->free_at_round;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (free_now)
		cl_discovery_free(d);
}

static void wait_rounds(seen *s, int rounds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_S;
	pthread_mutex_lock(&s->mu);
	while (s->rounds < rounds)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
			break;
	int got = s->rounds;
	pthread_mutex_unlock(&s->mu);
	if (got < rounds)
		CHECK_FAIL("waited %d s for round %d, saw %d", WAIT_S, rounds,
			   got);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static cl_sentry_spec spec_of(const char *text)
{
	cl_sentry_spec s;
	char why[256];
	if (cl_sentry_parse(text, 7946, &s, why, sizeof why) != 0)
		CHECK_FAIL("\"%s\": %s", text, why);
	return s;
}

static int addr_cmp(const cl_addr *a, const cl_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->ip, b->ip, 16);
	if (c)
		return c;
	return a->port < b->port ? -1 : a->port > b->port;
}

static bool has(const seen *s, const char *addr, const char *node)
{
	cl_addr a;
	CHECK_EQ_INT(cl_addr_parse(addr, 0, &a), 0);
	for (size_t i = 0; i < s->n; i++)
		if (cl_addr_equal(&s->peers[i], &a))
			return !strcmp(s->nodes[i], node);
	return false;
}

static bool loopback(const cl_addr *a)
{
	static const uint8_t v6[16] = {[15] = 1};
	return (a->family == CL_AF_INET4 && a->ip[0] == 127) ||
	       (a->family == CL_AF_INET6 && !memcmp(a->ip, v6, 16));
}

static void test_list(void)
{
	seen s;
	seen_init(&s);
	cl_sentry_spec spec = spec_of(
		"10.0.0.2:1, 10.0.0.1:1, n@10.0.0.2:1, [::1]:5, 10.0.0.1:1, "
		"localhost:7, m@localhost:8");
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, &s);
	/* The handle keeps its own copy. */
	cl_sentry_spec_free(&spec);
	CHECK(d != NULL);
	wait_rounds(&s, 1);

	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK_STR_EQ(s.detail, "");
	CHECK(s.changed);
	CHECK(s.peers_changed);
	CHECK_EQ_INT(s.round, 1);
	/* Sorted, one per address, and the named duplicate kept. */
	for (size_t i = 1; i < s.n; i++)
		CHECK(addr_cmp(&s.peers[i - 1], &s.peers[i]) < 0);
	CHECK(has(&s, "10.0.0.1:1", ""));
	CHECK(has(&s, "10.0.0.2:1", "n@10.0.0.2"));
	CHECK(has(&s, "[::1]:5", ""));
	CHECK(has(&s, "127.0.0.1:7", "") || has(&s, "[::1]:7", ""));
	CHECK(has(&s, "127.0.0.1:8", "m@localhost") ||
	      has(&s, "[::1]:8", "m@localhost"));
	for (size_t i = 0; i < s.n; i++)
		if (s.peers[i].port == 7 || s.peers[i].port == 8)
			CHECK(loopback(&s.peers[i]));

	/* A refresh gives the same list: neither flag set. */
	double t0 = now_s();
	cl_discovery_refresh(d);
	wait_rounds(&s, 2);
	CHECK(now_s() - t0 < 5);
	CHECK_EQ_INT(s.round, 2);
	CHECK(!s.changed);
	CHECK(!s.peers_changed);

	/* Free does not wait out the hour. */
	t0 = now_s();
	cl_discovery_free(d);
	CHECK(now_s() - t0 < 5);
	CHECK_EQ_INT(s.rounds, 2);
	seen_destroy(&s);
}

static void test_dns_localhost(void)
{
	seen s;
	seen_init(&s);
	cl_sentry_spec spec = spec_of("dns:localhost:4000");
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, &s);
	cl_sentry_spec_free(&spec);
	CHECK(d != NULL);
	wait_rounds(&s, 1);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK(s.n >= 1);
	for (size_t i = 0; i < s.n; i++) {
		CHECK(loopback(&s.peers[i]));
		CHECK_EQ_INT(s.peers[i].port, 4000);
		CHECK_STR_EQ(s.nodes[i], "");
	}
	cl_discovery_free(d);
	seen_destroy(&s);
}

/* A failing name is reported as changed once, then not again. */
static void check_failure_once(const char *text, const char *name,
			       size_t peers)
{
	seen s;
	seen_init(&s);
	cl_sentry_spec spec = spec_of(text);
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, &s);
	cl_sentry_spec_free(&spec);
	CHECK(d != NULL);
	wait_rounds(&s, 1);
	CHECK(s.status == CL_DISCOVERY_NXDOMAIN ||
	      s.status == CL_DISCOVERY_TIMEOUT);
	CHECK(s.changed);
	CHECK(!strncmp(s.detail, name, strlen(name)));
	CHECK_EQ_INT(s.n, peers);
	cl_discovery_status first = s.status;

	cl_discovery_refresh(d);
	wait_rounds(&s, 2);
	CHECK_EQ_INT(s.status, first);
	CHECK(!s.changed);
	CHECK(!s.peers_changed);
	cl_discovery_free(d);
	seen_destroy(&s);
}

static void test_nxdomain(void)
{
	check_failure_once("dns:cloister-test.invalid", "cloister-test.invalid",
			   0);
	check_failure_once("srv:_cloister._udp.cloister-test.invalid",
			   "_cloister._udp.cloister-test.invalid", 0);
}

/* One good and one failing entry: the good peer still comes through, with
 * the failure. */
static void test_partial(void)
{
	seen s;
	seen_init(&s);
	cl_sentry_spec spec = spec_of(
		"10.0.0.1:1,a.cloister-test.invalid:2,b.cloister-test.invalid:3");
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, &s);
	cl_sentry_spec_free(&spec);
	CHECK(d != NULL);
	wait_rounds(&s, 1);
	CHECK(s.status == CL_DISCOVERY_NXDOMAIN ||
	      s.status == CL_DISCOVERY_TIMEOUT);
	CHECK(!strncmp(s.detail, "a.cloister-test.invalid: ", 25));
	CHECK(strstr(s.detail, "(and 1 more)") != NULL);
	CHECK_EQ_INT(s.n, 1);
	CHECK(has(&s, "10.0.0.1:1", ""));
	cl_discovery_free(d);
	seen_destroy(&s);
}

/* The interval alone drives rounds; a callback may free its handle. */
static void test_interval_and_self_free(void)
{
	seen s;
	seen_init(&s);
	cl_sentry_spec spec = spec_of("127.0.0.1:1");
	pthread_mutex_lock(&s.mu);
	cl_discovery *d = cl_discovery_new(&spec, 20 * CL_MSEC, on_result, &s);
	CHECK(d != NULL);
	s.free_me_on = d;
	s.free_at_round = 3;
	pthread_mutex_unlock(&s.mu);
	cl_sentry_spec_free(&spec);
	wait_rounds(&s, 3);
	/* No round after the one that freed it. */
	usleep(200 * 1000);
	pthread_mutex_lock(&s.mu);
	int rounds = s.rounds;
	pthread_mutex_unlock(&s.mu);
	CHECK_EQ_INT(rounds, 3);
	seen_destroy(&s);
}

/* One round of text, into s. */
static void resolve_once(const char *text, seen *s)
{
	seen_init(s);
	cl_sentry_spec spec = spec_of(text);
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, s);
	cl_sentry_spec_free(&spec);
	CHECK(d != NULL);
	wait_rounds(s, 1);
	cl_discovery_free(d);
}

/* Only under tests/netns/test_dns_discovery.sh: the namespace's resolver
 * is a dnsmasq serving svc.cluster.test (198.18.0.1, 198.18.0.2),
 * other.cluster.test (198.18.0.3) and SRV _cloister._udp.cluster.test
 * (svc:7946, other:7947), and lo holds 198.18.0.1. */
static void test_netns_dns(void)
{
	seen s;
	char name[CLOISTER_NAME_MAX + 1], why[300];

	resolve_once("svc.cluster.test", &s);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK_EQ_INT(s.n, 2);
	CHECK(has(&s, "198.18.0.1:7946", ""));
	CHECK(has(&s, "198.18.0.2:7946", ""));

	/* The naming magic: our own address is among the answers. */
	cl_addr chosen = {.port = 7946};
	CHECK_EQ_INT(cl_naming_choose(CL_NAMING_AUTO, "t", s.peers, s.n,
				      &chosen, name, sizeof name, why,
				      sizeof why),
		     0);
	printf("  naming: %s (%s)\n", name, why);
	CHECK_STR_EQ(name, "t@198.18.0.1");
	CHECK_STR_EQ(why, "address 198.18.0.1 of lo is among the sentry answers");
	CHECK_EQ_INT(chosen.port, 7946);
	seen_destroy(&s);

	resolve_once("srv:_cloister._udp.cluster.test", &s);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK_EQ_INT(s.n, 3);
	CHECK(has(&s, "198.18.0.1:7946", ""));
	CHECK(has(&s, "198.18.0.2:7946", ""));
	CHECK(has(&s, "198.18.0.3:7947", ""));
	seen_destroy(&s);

	resolve_once("orders@other.cluster.test:9000,svc.cluster.test:9001", &s);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK_EQ_INT(s.n, 3);
	CHECK(has(&s, "198.18.0.3:9000", "orders@other.cluster.test"));
	CHECK(has(&s, "198.18.0.1:9001", ""));
	seen_destroy(&s);

	/* Real NXDOMAIN answers, for A/AAAA and for SRV. */
	resolve_once("dns:nx.cluster.test", &s);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_NXDOMAIN);
	CHECK_STR_EQ(s.detail, "nx.cluster.test: no such name or no addresses");
	seen_destroy(&s);
	resolve_once("srv:_nope._udp.cluster.test", &s);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_NXDOMAIN);
	CHECK_STR_EQ(s.detail, "_nope._udp.cluster.test: no such name");
	seen_destroy(&s);
	check_failure_once("svc.cluster.test:1,nx.cluster.test:2",
			   "nx.cluster.test", 2);
}

static void test_arguments(void)
{
	cl_sentry_spec spec = spec_of("none");
	seen s;
	seen_init(&s);
	CHECK(cl_discovery_new(NULL, CL_SEC, on_result, &s) == NULL);
	CHECK(cl_discovery_new(&spec, CL_SEC, NULL, &s) == NULL);
	CHECK(cl_discovery_new(&spec, 0, on_result, &s) == NULL);
	cl_discovery_free(NULL);
	cl_discovery_refresh(NULL);
	/* "none" resolves to nothing, successfully. */
	cl_discovery *d = cl_discovery_new(&spec, HOUR, on_result, &s);
	CHECK(d != NULL);
	wait_rounds(&s, 1);
	CHECK_EQ_INT(s.status, CL_DISCOVERY_OK);
	CHECK_EQ_INT(s.n, 0);
	cl_discovery_free(d);
	seen_destroy(&s);
	CHECK_STR_EQ(cl_discovery_status_name(CL_DISCOVERY_NXDOMAIN),
		     "nxdomain");
	CHECK_STR_EQ(cl_discovery_status_name(CL_DISCOVERY_TIMEOUT), "timeout");
}

int main(void)
{
	/* Overwrite 0: the netns script sets its own. */
	setenv("RES_OPTIONS", "timeout:1 attempts:1", 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_TEST(test_arguments);
	RUN_TEST(test_list);
	RUN_TEST(test_dns_localhost);
	RUN_TEST(test_nxdomain);
	RUN_TEST(test_partial);
	RUN_TEST(test_interval_and_self_free);
	if (getenv("CLOISTER_NETNS_DNS"))
		RUN_TEST(test_netns_dns);
	printf("%d checks passed\n", check_count);
	return 0;
}
