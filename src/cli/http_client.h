/*
 * http_client.h — one blocking HTTP/1.1 request to an agent's control API
 * (the client of the `cloister` commands, in cmd_client.c), for other
 * subcommands such as `cloister local`.
 */
#ifndef CLOISTER_CLI_HTTP_CLIENT_H
#define CLOISTER_CLI_HTTP_CLIENT_H

#include <stddef.h>

/* hostport "127.0.0.1:7947" or, with hostport NULL, a Unix socket path.
 * 0 with *status and *resp (NUL-terminated, caller frees), or -1 when the
 * agent cannot be reached or the exchange fails.  Prints nothing. */
int cli_http_request(const char *hostport, const char *unix_path,
		     const char *method, const char *path, const char *body,
		     size_t body_len, int timeout_ms, int *status, char **resp);

#endif
