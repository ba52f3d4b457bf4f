/*
 * ui.h — the web page the agent serves at /ui (docs/ui.md).
 *
 * The page's files (ui/index.html, ui/app.js, ui/app.css) are compiled
 * into the binary (cmake/embed_ui.cmake): nothing to install, nothing
 * fetched from elsewhere, and a strict Content-Security-Policy can say
 * so ('self' only, no inline script).
 *
 * Who may see it.  The page is a static shell: it holds no data and no
 * secret, and every byte of cluster state it shows comes from the
 * token-protected API (/v1/status, /v1/members, /v1/ring, /v1/events),
 * fetched by its script with Authorization: Bearer.  So the shell is
 * served without the token (a browser cannot attach one to a
 * navigation), but with every other check of the listener: Host
 * (rebinding), Origin, and nothing but GET/HEAD.  The token reaches the
 * script in the URL's fragment (/ui#token=...), which browsers never
 * send to a server, never put in a Referer, and the script removes from
 * the address bar at once, keeping it in sessionStorage (per tab and per
 * origin, which includes the port); without one, the page asks for it.
 * A cookie would have been simpler, and wrong: cookies are shared by
 * every port of a host, so any other local service on 127.0.0.1 would
 * receive the agent's token, and a cookie is sent by the browser on its
 * own, which is what cross-site request forgery feeds on.  The API's
 * browser defences stay as they are: same-origin GETs from the page
 * carry no Origin header, and the page never POSTs.
 */
#ifndef CLOISTER_AGENT_UI_H
#define CLOISTER_AGENT_UI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cl_ui_asset {
	const char *path; /* "/ui/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
} cl_ui_asset;

/* The page's files, generated at build time. */
extern const cl_ui_asset cl_ui_assets[];
extern const size_t cl_ui_n_assets;

/* Whether path is under /ui ("/ui", "/ui/", "/ui/..."). */
bool cl_ui_path(const char *path);
/* The asset for a path under /ui ("/ui" and "/ui/" are index.html), or
 * NULL. */
const cl_ui_asset *cl_ui_find(const char *path);

/* Headers every /ui response carries: name, value pairs, NULL-ended. */
extern const char *const cl_ui_headers[];

#endif
