/*
 * test_agent_view.c — the agent's parts for looking at the cluster: the
 * web page's paths (src/agent/ui.c) and headers, GET /v1/ring's query
 * (query.c), and the metrics page (metrics.c): every counter the runtime
 * reports has a described family, and a rendered page has no undescribed
 * one.  The page's real files are embedded at build time; a stand-in table
 * serves here.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "agent/json.c"
#include "agent/metrics.c"
#include "agent/query.c"
#include "agent/ui.c"

static const unsigned char page[] = "<!doctype html>", js[] = "start();";
const cl_ui_asset cl_ui_assets[] = {
	{"/ui/index.html", "text/html; charset=utf-8", page, sizeof page - 1},
	{"/ui/app.js", "text/javascript; charset=utf-8", js, sizeof js - 1},
};
const size_t cl_ui_n_assets = 2;

static void ui_paths(void)
{
	CHECK(cl_ui_path("/ui") && cl_ui_path("/ui/") && cl_ui_path("/ui/app.js"));
	CHECK(!cl_ui_path("/uix") && !cl_ui_path("/u") && !cl_ui_path("/v1/ui") &&
	      !cl_ui_path("") && !cl_ui_path(NULL));
	CHECK(cl_ui_find("/ui") == &cl_ui_assets[0]);
	CHECK(cl_ui_find("/ui/") == &cl_ui_assets[0]);
	CHECK(cl_ui_find("/ui/app.js") == &cl_ui_assets[1]);
	/* Only the files themselves: no climbing out, no other names. */
	CHECK(cl_ui_find("/ui/../v1/members") == NULL);
	CHECK(cl_ui_find("/ui/app.js/") == NULL);
	CHECK(cl_ui_find("/ui//app.js") == NULL);
	CHECK(cl_ui_find("/ui/nope") == NULL);
	CHECK(cl_ui_find("/uiapp.js") == NULL);
	bool csp = false, frames = false;
	for (size_t i = 0; cl_ui_headers[i]; i += 2) {
		CHECK(cl_ui_headers[i + 1] != NULL);
		if (!strcmp(cl_ui_headers[i], "Content-Security-Policy"))
			csp = strstr(cl_ui_headers[i + 1], "default-src 'none'") &&
			      strstr(cl_ui_headers[i + 1], "script-src 'self'") &&
			      strstr(cl_ui_headers[i + 1], "frame-ancestors 'none'") &&
			      !strstr(cl_ui_headers[i + 1], "unsafe");
		if (!strcmp(cl_ui_headers[i], "X-Frame-Options"))
			frames = !strcmp(cl_ui_headers[i + 1], "DENY");
	}
	CHECK(csp && frames);
}

static void ring_query(void)
{
	cl_request r;
	cl_req_error e;
	CHECK(cl_request_parse("GET", "/v1/ring", NULL, NULL, 0, &r, &e) == 0);
	CHECK(r.route == CL_ROUTE_RING && r.ring == NULL);
	cl_request_free(&r);
	CHECK(cl_request_parse("HEAD", "/v1/ring", "ring=web", NULL, 0, &r, &e) == 0);
	CHECK(r.route == CL_ROUTE_RING && r.head && !strcmp(r.ring, "web"));
	cl_request_free(&r);
	CHECK(cl_request_parse("GET", "/v1/ring", "ring=", NULL, 0, &r, &e) == 0);
	CHECK(r.ring && r.ring[0] == '\0'); /* the default ring */
	cl_request_free(&r);
	CHECK(cl_request_parse("GET", "/v1/ring", "ring=%01", NULL, 0, &r, &e) != 0);
	CHECK_EQ_INT(e.status, 400);
	CHECK(cl_request_parse("GET", "/v1/ring", "n=3", NULL, 0, &r, &e) != 0);
	CHECK_EQ_INT(e.status, 400);
	CHECK(strstr(e.msg, "ring") != NULL);
	CHECK(cl_request_parse("POST", "/v1/ring", NULL, "{}", 2, &r, &e) != 0);
	CHECK_EQ_INT(e.status, 405);
	CHECK(e.allow && !strcmp(e.allow, "GET, HEAD"));
	CHECK(cl_request_parse("GET", "/v1/rings", NULL, NULL, 0, &r, &e) != 0);
	CHECK_EQ_INT(e.status, 404);
	CHECK(strstr(e.msg, "/v1/ring") && strstr(e.msg, "/ui"));
}

static void metrics_page(void)
{
	cloister_config_t *cfg = cloister_config_new();
	CHECK(cloister_config_set(cfg, "naming", "nonode") == 0);
	int err;
	cloister_t *node = cloister_new(cfg, &err);
	cloister_config_free(cfg);
	CHECK(node != NULL);
	cloister_counter cs[128];
	size_t n = 0;
	CHECK(cloister_counters(node, cs, 128, &n) == 0 && n > 30);
	for (size_t i = 0; i < n; i++) {
		if (!cl_metrics_family_of(cs[i].name))
			CHECK_FAIL("counter %s has no family in metrics.c", cs[i].name);
	}
	CHECK(cl_metrics_family_of("drops_auth") &&
	      !strcmp(cl_metrics_family_of("drops_auth"),
		      "cloister_packets_dropped_total"));
	CHECK(cl_metrics_family_of("no_such_counter") == NULL);
	cl_metrics_api api = {.n_listeners = 1, .n_refused = 1};
	api.listeners[0].name = "http";
	api.refused[0].reason = "token";
	size_t len = 0;
	char *p = cl_metrics_render(node, &api, &len);
	CHECK(p && len == strlen(p));
	CHECK(strstr(p, "UNDESCRIBED") == NULL);
	CHECK(strstr(p, "# TYPE cloister_probe_rtt_seconds histogram\n"));
	CHECK(strstr(p, "cloister_probe_rtt_seconds_bucket{le=\"+Inf\"} 0\n"));
	CHECK(strstr(p, "cloister_suspicion_duration_seconds_count{outcome=\"dead\"} 0\n"));
	CHECK(strstr(p, "# TYPE process_resident_memory_bytes gauge\n"));
	CHECK(strstr(p, "cloister_status{status=\"ready\"} 0\n"));
	CHECK(strstr(p, "cloister_api_refused_total{reason=\"token\"} 0\n"));
	CHECK(strstr(p, "cloister_drops_") == NULL);
	/* Every sample line's family had its HELP and TYPE first. */
	for (char *line = p; *line;) {
		char *nl = strchr(line, '\n');
		CHECK(nl != NULL);
		if (*line != '#') {
			char fam[128];
			size_t k = strcspn(line, "{ ");
			CHECK(k < sizeof fam);
			memcpy(fam, line, k);
			fam[k] = '\0';
			char *suffix;
			if ((suffix = strstr(fam, "_bucket")) || (suffix = strstr(fam, "_sum")) ||
			    (suffix = strstr(fam, "_count")))
				if (strstr(fam, "_seconds"))
					*suffix = '\0';
			char help[160];
			snprintf(help, sizeof help, "# HELP %s ", fam);
			CHECK(strstr(p, help) && strstr(p, help) < line);
		}
		line = nl + 1;
	}
	free(p);
	cloister_free(node);
}

int main(void)
{
	RUN_TEST(ui_paths);
	RUN_TEST(ring_query);
	RUN_TEST(metrics_page);
	printf("%d checks passed\n", check_count);
	return 0;
}
