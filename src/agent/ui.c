/*
 * ui.c — finding the page's files (ui.h says who may see them and why).
 */
#include "ui.h"

#include <string.h>

const char *const cl_ui_headers[] = {
	/* Only our own script, style and API; no frames, forms, plugins or
	 * other origins: an injected name or tag (they come off the network)
	 * cannot run or load anything, and the page cannot be framed for
	 * clickjacking. */
	"Content-Security-Policy",
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'",
	"X-Frame-Options", "DENY",
	"X-Content-Type-Options", "nosniff",
	"Referrer-Policy", "no-referrer",
	"Cross-Origin-Opener-Policy", "same-origin",
	"Cross-Origin-Resource-Policy", "same-origin",
	NULL,
};

bool cl_ui_path(const char *path)
{
	return path && !strncmp(path, "/ui", 3) &&
	       (path[3] == '\0' || path[3] == '/');
}

const cl_ui_asset *cl_ui_find(const char *path)
{
	if (!cl_ui_path(path))
		return NULL;
	if (!strcmp(path, "/ui") || !strcmp(path, "/ui/"))
		path = "/ui/index.html";
	for (size_t i = 0; i < cl_ui_n_assets; i++)
		if (!strcmp(cl_ui_assets[i].path, path))
			return &cl_ui_assets[i];
	return NULL;
}
