/*
 * metrics.c — the /metrics page (metrics.h).  Every family is written
 * here, from one table for the runtime's counters, so that a family's
 * samples are contiguous, its HELP says what it counts, and docs/metrics.md
 * can be checked against it.
 */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "json.h"
#include "runtime/timings.h"

/* ------------------------------------------------------------------ */
/* A growing buffer                                                    */
/* ------------------------------------------------------------------ */

struct out {
	char *s;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (o->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = o->cap - o->len;
		int n = vsnprintf(o->s ? o->s + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 16384;
		while (cap - o->len <= (size_t)n)
			cap *= 2;
		char *s = realloc(o->s, cap);
		if (!s) {
			o->oom = true;
			return;
		}
		o->s = s;
		o->cap = cap;
	}
}

static void family(struct out *o, const char *name, const char *type,
		   const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: UTF-8 (invalid bytes become U+FFFD) with \\, \" and \n
 * escaped, as the format requires. */
static void label_value(struct out *o, const char *v)
{
	json_t *t = cl_json_text(v, strlen(v));
	const char *s = t ? json_string_value(t) : "";
	size_t n = t ? json_string_length(t) : 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			put(o, "\\\\");
		else if (s[i] == '"')
			put(o, "\\\"");
		else if (s[i] == '\n')
			put(o, "\\n");
		else if (s[i] != '\0')
			put(o, "%c", s[i]);
	}
	json_decref(t);
}

/* ------------------------------------------------------------------ */
/* The runtime's counters                                              */
/* ------------------------------------------------------------------ */

struct fam {
	const char *name, *type, *label, *help;
};

/* Families fed by cloister_counters(), in page order. */
static const struct fam families[] = {
	{"cloister_packets_received_total", "counter", NULL,
	 "Datagrams of this cluster's protocol taken in for decoding (after "
	 "the seal was checked, when a key is set)."},
	{"cloister_packets_sent_total", "counter", NULL,
	 "Datagrams sent: pings, acks, relayed probes, gossip."},
	{"cloister_streams_received_total", "counter", NULL,
	 "Stream (TCP) payloads taken in for decoding: state exchanges, "
	 "fallback pings, large messages."},
	{"cloister_streams_sent_total", "counter", NULL,
	 "Stream (TCP) payloads sent."},
	{"cloister_received_bytes_total", "counter", NULL,
	 "Protocol bytes taken in, datagrams and streams (payload after "
	 "unsealing, without IP, UDP or TCP headers)."},
	{"cloister_sent_bytes_total", "counter", NULL,
	 "Protocol bytes sent, datagrams and streams (payload before "
	 "sealing, without IP, UDP or TCP headers)."},
	{"cloister_probes_total", "counter", NULL,
	 "Probes started: one member pinged per protocol period."},
	{"cloister_probe_failures_total", "counter", NULL,
	 "Probes that got no answer within their period, neither directly, "
	 "through relays nor over TCP."},
	{"cloister_indirect_probes_total", "counter", NULL,
	 "Indirect probe requests (ping-req) sent to relays after a direct "
	 "ping went unanswered."},
	{"cloister_stream_pings_total", "counter", NULL,
	 "Fallback pings sent over TCP after a direct ping went unanswered."},
	{"cloister_stream_ping_rescues_total", "counter", NULL,
	 "Probes that only the TCP fallback ping answered: the datagram path "
	 "lost the ping or its ack."},
	{"cloister_suspicions_total", "counter", NULL,
	 "Suspicions of a member started in this node's view (its own failed "
	 "probe, or another member's accusation)."},
	{"cloister_refutations_total", "counter", NULL,
	 "Times this node refuted a suspicion of itself by raising its "
	 "incarnation."},
	{"cloister_deaths_declared_total", "counter", NULL,
	 "Members this node declared dead when their suspicion ran out."},
	{"cloister_pushpulls_total", "counter", NULL,
	 "Full state exchanges (push-pull) this node started or answered."},
	{"cloister_checksum_syncs_total", "counter", NULL,
	 "State exchanges started because a peer's membership checksum "
	 "differed from ours."},
	{"cloister_pushpulls_skipped_total", "counter", NULL,
	 "Periodic state exchanges skipped because the checksums already "
	 "agreed."},
	{"cloister_members_refused_total", "counter", NULL,
	 "Members not added because the member table was full "
	 "(max_members)."},
	{"cloister_rival_checks_total", "counter", NULL,
	 "Pings to a newer process that claims this node's name."},
	{"cloister_stale_doubts_answered_total", "counter", NULL,
	 "Datagrams telling a node that doubted a member below the "
	 "incarnation it has refuted to since the member's newer ALIVE."},
	{"cloister_packets_dropped_total", "counter", "reason",
	 "Packets and stream frames dropped, by reason: truncated, magic, "
	 "version, label (another cluster), malformed, too_many, too_big, "
	 "unexpected, auth (failed authentication), clock (times out of "
	 "range), frame (bad stream framing), plaintext (unsealed where a "
	 "key is required), recipient (sealed for another node), stale and "
	 "too_old (sealed too long ago), replay (seen before)."},
	{"cloister_stream_connections_closed_total", "counter", "reason",
	 "Gossip TCP connections this node closed or refused, by reason: "
	 "refused (no slot at accept), evicted (the oldest inbound closed "
	 "for a newcomer), deadline (a frame not completed in time), "
	 "over_budget (frames past the shared memory budget), unread "
	 "(answers the peer left unread past its share), stalled (a frame "
	 "whose sender went quiet, closed for the room another needed)."},
	{"cloister_send_errors_total", "counter", NULL,
	 "Sends the operating system refused (no route, buffer full, "
	 "connection failed)."},
	{"cloister_sealed_v1_packets_total", "counter", "direction",
	 "Packets and stream frames sealed in the deprecated version 1, "
	 "exchanged with nodes of the release before sealed v2 while "
	 "protocol_min = 1 (a rolling upgrade): in, out."},
	{"cloister_messages_received_total", "counter", NULL,
	 "Application messages (casts and calls) queued for this node's "
	 "handlers."},
	{"cloister_messages_sent_total", "counter", NULL,
	 "Application messages sent to other members."},
	{"cloister_messages_dropped_total", "counter", "reason",
	 "Inbound application messages dropped, by reason: queue_full (the "
	 "inbound queue held user_queue_max), forged (the sender named in a "
	 "sealed message is not its authenticated sender), unexpected_reply "
	 "(a reply to no pending call)."},
	{"cloister_messages_refused_total", "counter", NULL,
	 "Outbound application messages refused because the outbound queue "
	 "was full (user_queue_max)."},
	{"cloister_multicalls_total", "counter", NULL,
	 "Multicalls started on this node."},
	{"cloister_ring_refusals_total", "counter", NULL,
	 "Members left off a hash ring because all rings together would pass "
	 "their point budget (2^22 points)."},
	{"cloister_calls_deferred_total", "counter", NULL,
	 "Calls a handler kept to answer later (the agent keeps every call "
	 "its HTTP and port clients answer)."},
	{"cloister_calls_defer_refused_total", "counter", NULL,
	 "Calls a handler could not keep because user_queue_max were kept "
	 "already (answered at once instead)."},
	{"cloister_calls_deferred_dropped_total", "counter", NULL,
	 "Kept calls given up unanswered (the agent: its client did not "
	 "answer within 2 s, or went away)."},
	{"cloister_superseded", "gauge", NULL,
	 "1 once another live process has shown it holds this node's name "
	 "(this node then stops for good), else 0."},
	{"cloister_health", "gauge", NULL,
	 "Lifeguard local health score: 0 is healthy; each step stretches "
	 "this node's probe timeouts by one more multiple (at most 7, the "
	 "LAN profile's awareness bound minus one)."},
	{"cloister_insecure", "gauge", NULL,
	 "1 when the node gossips in plaintext off loopback (asked for with "
	 "insecure), else 0."},
};

#define N_FAMILIES (sizeof families / sizeof *families)

/* Counter -> family (and label value).  "drops_*" go to
 * cloister_packets_dropped_total with the rest of the name as reason. */
static const struct {
	const char *counter, *family, *label;
} mapping[] = {
	{"packets_in", "cloister_packets_received_total", NULL},
	{"packets_out", "cloister_packets_sent_total", NULL},
	{"streams_in", "cloister_streams_received_total", NULL},
	{"streams_out", "cloister_streams_sent_total", NULL},
	{"bytes_in", "cloister_received_bytes_total", NULL},
	{"bytes_out", "cloister_sent_bytes_total", NULL},
	{"probes", "cloister_probes_total", NULL},
	{"probe_failures", "cloister_probe_failures_total", NULL},
	{"indirect_probes", "cloister_indirect_probes_total", NULL},
	{"stream_pings", "cloister_stream_pings_total", NULL},
	{"stream_ping_rescues", "cloister_stream_ping_rescues_total", NULL},
	{"suspicions", "cloister_suspicions_total", NULL},
	{"refutations", "cloister_refutations_total", NULL},
	{"deaths_declared", "cloister_deaths_declared_total", NULL},
	{"pushpulls", "cloister_pushpulls_total", NULL},
	{"checksum_syncs", "cloister_checksum_syncs_total", NULL},
	{"pushpulls_skipped", "cloister_pushpulls_skipped_total", NULL},
	{"members_refused", "cloister_members_refused_total", NULL},
	{"rival_checks", "cloister_rival_checks_total", NULL},
	{"stale_doubts_answered", "cloister_stale_doubts_answered_total", NULL},
	{"connections_refused", "cloister_stream_connections_closed_total",
	 "refused"},
	{"connections_evicted", "cloister_stream_connections_closed_total",
	 "evicted"},
	{"connections_deadline", "cloister_stream_connections_closed_total",
	 "deadline"},
	{"streams_over_budget", "cloister_stream_connections_closed_total",
	 "over_budget"},
	{"connections_unread", "cloister_stream_connections_closed_total",
	 "unread"},
	{"connections_stalled", "cloister_stream_connections_closed_total",
	 "stalled"},
	{"send_errors", "cloister_send_errors_total", NULL},
	{"sealed_v1_in", "cloister_sealed_v1_packets_total", "in"},
	{"sealed_v1_out", "cloister_sealed_v1_packets_total", "out"},
	{"user_in", "cloister_messages_received_total", NULL},
	{"user_out", "cloister_messages_sent_total", NULL},
	{"user_in_dropped", "cloister_messages_dropped_total", "queue_full"},
	{"user_in_forged", "cloister_messages_dropped_total", "forged"},
	{"replies_refused", "cloister_messages_dropped_total",
	 "unexpected_reply"},
	{"user_out_refused", "cloister_messages_refused_total", NULL},
	{"multicalls", "cloister_multicalls_total", NULL},
	{"ring_refusals", "cloister_ring_refusals_total", NULL},
	{"calls_deferred", "cloister_calls_deferred_total", NULL},
	{"calls_defer_refused", "cloister_calls_defer_refused_total", NULL},
	{"calls_deferred_dropped", "cloister_calls_deferred_dropped_total",
	 NULL},
	{"superseded", "cloister_superseded", NULL},
	{"health", "cloister_health", NULL},
	{"insecure", "cloister_insecure", NULL},
};

#define DROPS_FAMILY "cloister_packets_dropped_total"

/* The family of a counter and its label value (NULL: no label). */
static const char *family_of(const char *counter, const char **label)
{
	*label = NULL;
	if (!strncmp(counter, "drops_", 6) && counter[6]) {
		*label = counter + 6;
		return DROPS_FAMILY;
	}
	for (size_t i = 0; i < sizeof mapping / sizeof *mapping; i++)
		if (!strcmp(mapping[i].counter, counter)) {
			*label = mapping[i].label;
			return mapping[i].family;
		}
	return NULL;
}

const char *cl_metrics_family_of(const char *counter)
{
	const char *label;
	return counter ? family_of(counter, &label) : NULL;
}

static bool prom_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' ||
		      (p > s && *p >= '0' && *p <= '9')))
			return false;
	return true;
}

#define COUNTERS_MAX 128

static void counters(struct out *o, const cloister_counter *cs, size_t n)
{
	for (size_t f = 0; f < N_FAMILIES; f++) {
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			const char *label;
			const char *fam = family_of(cs[i].name, &label);
			if (!fam || strcmp(fam, families[f].name))
				continue;
			if (!any)
				family(o, families[f].name, families[f].type,
				       families[f].help);
			any = true;
			if (families[f].label && label && prom_name_ok(label))
				put(o, "%s{%s=\"%s\"} %" PRIu64 "\n",
				    families[f].name, families[f].label, label,
				    cs[i].value);
			else if (!families[f].label)
				put(o, "%s %" PRIu64 "\n", families[f].name,
				    cs[i].value);
		}
	}
	/* A counter added to the runtime without a family here is still
	 * published, under its own name; its HELP says it is undescribed,
	 * which the metrics checker (and its test) refuses, so it gets a
	 * description before it lands. */
	for (size_t i = 0; i < n; i++) {
		const char *label;
		if (family_of(cs[i].name, &label) || !prom_name_ok(cs[i].name))
			continue;
		char name[160];
		snprintf(name, sizeof name, "cloister_%s_total", cs[i].name);
		family(o, name, "counter",
		       "UNDESCRIBED runtime counter: add it to "
		       "src/agent/metrics.c and docs/metrics.md.");
		put(o, "%s %" PRIu64 "\n", name, cs[i].value);
	}
}

/* ------------------------------------------------------------------ */
/* Histograms                                                          */
/* ------------------------------------------------------------------ */

static void bucket_bound(char *buf, size_t len, double le)
{
	/* Shortest text that reads back as the same bound: %g is enough for
	 * the table's bounds (e.g. 0.00025, 2.5, 120). */
	snprintf(buf, len, "%g", le);
}

/* One histogram's samples; label "k=\"v\"," prefix or "". */
static void histogram(struct out *o, const char *name, const char *label,
		      const cl_histogram *h)
{
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i < h->n; i++) {
		cum += h->bucket[i];
		bucket_bound(le, sizeof le, h->le[i]);
		put(o, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, label, le,
		    cum);
	}
	cum += h->bucket[h->n];
	put(o, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, label, cum);
	char lab[96] = "";
	if (*label) {
		/* "k=\"v\"," without the trailing comma, in braces. */
		snprintf(lab, sizeof lab, "{%.*s}", (int)strlen(label) - 1,
			 label);
	}
	put(o, "%s_sum%s %.9g\n", name, lab, h->sum);
	put(o, "%s_count%s %" PRIu64 "\n", name, lab, h->count);
}

static void histograms(struct out *o, cloister_t *node)
{
	cl_timings_snapshot t;
	if (cl_node_timings(node, &t) != 0)
		return;
	family(o, "cloister_probe_rtt_seconds", "histogram",
	       "Round trip of answered probes: from the direct ping until the "
	       "member's answer, directly, through relays or over TCP.");
	histogram(o, "cloister_probe_rtt_seconds", "", &t.probe);
	family(o, "cloister_suspicion_duration_seconds", "histogram",
	       "How long suspicions of members lasted, by outcome: refuted "
	       "(the member proved alive), dead (declared dead), left (it "
	       "left meanwhile).");
	for (int e = 0; e < CL_SUSPICION_ENDS; e++) {
		char label[48];
		snprintf(label, sizeof label, "outcome=\"%s\",",
			 cl_suspicion_end_name((enum cl_suspicion_end)e));
		histogram(o, "cloister_suspicion_duration_seconds", label,
			  &t.suspicion[e]);
	}
	family(o, "cloister_join_convergence_seconds", "histogram",
	       "Time from a member's start (by its host's clock) until this "
	       "node first saw it alive, for members that started after this "
	       "node.");
	histogram(o, "cloister_join_convergence_seconds", "", &t.join);
}

/* ------------------------------------------------------------------ */
/* process_* (the names every Prometheus client library uses)          */
/* ------------------------------------------------------------------ */

/* Fields of /proc/self/stat after the command name: utime (14), stime
 * (15), starttime (22), vsize (23), rss (24), counted from 1. */
static bool proc_stat(double *cpu_s, double *start_s, double *vsize,
		      double *rss)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start
	 * after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long v[24] = {0};
	int field = 3; /* the state, after ") " */
	p += 2;
	while (*p && field <= 24) {
		char *end;
		if (field >= 3 && field <= 24) {
			unsigned long long x = strtoull(p, &end, 10);
			if (end != p)
				v[field - 1] = x;
		}
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
		field++;
	}
	long tick = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	if (tick <= 0 || page <= 0)
		return false;
	*cpu_s = (double)(v[13] + v[14]) / (double)tick;
	*vsize = (double)v[22];
	*rss = (double)v[23] * (double)page;
	/* starttime is in ticks since boot; boot time is btime in
	 * /proc/stat. */
	*start_s = 0;
	f = fopen("/proc/stat", "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "btime ", 6)) {
				*start_s = (double)strtoull(line + 6, NULL, 10) +
					   (double)v[21] / (double)tick;
				break;
			}
		fclose(f);
	}
	return true;
}

static void process(struct out *o)
{
	double cpu, start, vsize, rss;
	if (proc_stat(&cpu, &start, &vsize, &rss)) {
		family(o, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		put(o, "process_cpu_seconds_total %.2f\n", cpu);
		family(o, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
		put(o, "process_resident_memory_bytes %.0f\n", rss);
		family(o, "process_virtual_memory_bytes", "gauge",
		       "Virtual memory size in bytes.");
		put(o, "process_virtual_memory_bytes %.0f\n", vsize);
		if (start > 0) {
			family(o, "process_start_time_seconds", "gauge",
			       "Start time of the process since unix epoch in "
			       "seconds.");
			put(o, "process_start_time_seconds %.2f\n", start);
		}
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		size_t fds = 0;
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		family(o, "process_open_fds", "gauge",
		       "Number of open file descriptors.");
		/* The directory's own descriptor is one of them. */
		put(o, "process_open_fds %zu\n", fds ? fds - 1 : 0);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family(o, "process_max_fds", "gauge",
		       "Maximum number of open file descriptors.");
		if (rl.rlim_cur == RLIM_INFINITY)
			put(o, "process_max_fds +Inf\n");
		else
			put(o, "process_max_fds %llu\n",
			    (unsigned long long)rl.rlim_cur);
	}
}

/* ------------------------------------------------------------------ */
/* The page                                                            */
/* ------------------------------------------------------------------ */

char *cl_metrics_render(cloister_t *node, const cl_metrics_api *api,
			size_t *len)
{
	cloister_counter cs[COUNTERS_MAX];
	size_t n = 0;
	cloister_snapshot *snap = NULL;
	cloister_member *m = NULL;
	size_t nm = 0;
	if (cloister_counters(node, cs, COUNTERS_MAX, &n) != 0 ||
	    cloister_snapshot_get(node, &snap) != 0)
		return NULL;
	if (cloister_members(node, &m, &nm) != 0) {
		cloister_snapshot_free(snap);
		return NULL;
	}
	struct out o = {0};
	/* A counter repeated by the runtime would be a duplicate series. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(cs[j].name, cs[i].name);
		if (!dup)
			cs[k++] = cs[i];
	}
	counters(&o, cs, k);

	size_t by_status[4] = {0};
	for (size_t i = 0; i < nm; i++)
		if ((unsigned)m[i].status < 4)
			by_status[m[i].status]++;
	cloister_members_free(m, nm);
	family(&o, "cloister_members", "gauge",
	       "Known members by status, this node and tombstones included.");
	for (unsigned s = 0; s < 4; s++)
		put(&o, "cloister_members{status=\"%s\"} %zu\n",
		    cloister_member_status_name((cloister_member_status)s),
		    by_status[s]);
	family(&o, "cloister_status", "gauge",
	       "1 for the node's current status in the status machine, 0 for "
	       "the others.");
	for (int s = CLOISTER_DOWN; s <= CLOISTER_STOPPED; s++)
		put(&o, "cloister_status{status=\"%s\"} %d\n",
		    cloister_state_name((cloister_state)s),
		    snap->state == (cloister_state)s);
	family(&o, "cloister_alive_members", "gauge",
	       "Live members (alive and suspect, this node included) as the "
	       "status machine counts them for consensus.");
	put(&o, "cloister_alive_members %zu\n", snap->alive);
	family(&o, "cloister_consensus_members", "gauge",
	       "Live members needed for the cluster to be ready (the "
	       "consensus setting).");
	put(&o, "cloister_consensus_members %u\n", snap->consensus);
	family(&o, "cloister_sentry", "gauge",
	       "1 on the node that is the cluster's sentry in its own view, "
	       "else 0.");
	put(&o, "cloister_sentry %d\n", !strcmp(snap->sentry, snap->node));

	family(&o, "cloister_ring_checksum", "gauge",
	       "Checksum of each hash ring (low 52 bits, exact in a float; "
	       "equal on every node that sees the same ring).");
	for (size_t i = 0; i < snap->n_rings; i++) {
		put(&o, "cloister_ring_checksum{ring=\"");
		label_value(&o, snap->rings[i].name);
		put(&o, "\"} %" PRIu64 "\n",
		    snap->rings[i].checksum & (((uint64_t)1 << 52) - 1));
	}
	family(&o, "cloister_ring_members", "gauge",
	       "Members placed on each hash ring.");
	for (size_t i = 0; i < snap->n_rings; i++) {
		put(&o, "cloister_ring_members{ring=\"");
		label_value(&o, snap->rings[i].name);
		put(&o, "\"} %zu\n", snap->rings[i].members);
	}

	histograms(&o, node);

	family(&o, "cloister_api_subscribers", "gauge",
	       "Open /v1/events streams.");
	put(&o, "cloister_api_subscribers %zu\n", api->subscribers);
	family(&o, "cloister_api_events_queued_bytes", "gauge",
	       "Bytes of events waiting in subscriber queues (each queue holds "
	       "at most 8 MiB; queues share events, counted here once each).");
	put(&o, "cloister_api_events_queued_bytes %zu\n", api->queued_bytes);
	family(&o, "cloister_api_events_dropped_total", "counter",
	       "Events dropped because a subscriber fell 1024 events or 8 MiB "
	       "behind.");
	put(&o, "cloister_api_events_dropped_total %" PRIu64 "\n",
	    api->events_dropped);
	family(&o, "cloister_api_multicalls", "gauge",
	       "Multicalls running for API clients.");
	put(&o, "cloister_api_multicalls %zu\n", api->multicalls);
	family(&o, "cloister_api_connections", "gauge",
	       "Open control API connections, by listener (http, unix, "
	       "probe).");
	for (size_t i = 0; i < api->n_listeners; i++)
		put(&o, "cloister_api_connections{listener=\"%s\"} %zu\n",
		    api->listeners[i].name, api->listeners[i].open);
	family(&o, "cloister_api_refused_total", "counter",
	       "Control API requests and connections refused, by reason "
	       "(token, host, origin, content_type, malformed, peer: another "
	       "uid on the Unix socket, busy: every connection slot taken, "
	       "deadline: no complete request in time).");
	for (size_t i = 0; i < api->n_refused; i++)
		put(&o, "cloister_api_refused_total{reason=\"%s\"} %" PRIu64 "\n",
		    api->refused[i].reason, api->refused[i].count);

	family(&o, "cloister_info", "gauge",
	       "Always 1; the labels name the node and the cloister version.");
	put(&o, "cloister_info{node=\"");
	label_value(&o, snap->node);
	put(&o, "\",version=\"");
	label_value(&o, cloister_version());
	put(&o, "\"} 1\n");
	cloister_snapshot_free(snap);

	process(&o);

	if (o.oom) {
		free(o.s);
		return NULL;
	}
	*len = o.len;
	return o.s;
}
