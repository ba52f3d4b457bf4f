/*
 * api_token.h — the control API's token: made, stored, found.
 *
 * The HTTP listener obeys whoever sends its token.  The agent takes one
 * from token-file or CLOISTER_TOKEN; without either it makes one (256
 * random bits) and writes it, mode 0600, where the client commands look
 * for it without being told: a per-user runtime directory, named after
 * the --http address, so several agents on one host do not collide:
 *
 *   $XDG_RUNTIME_DIR/cloister/http-HOST-PORT.token   when XDG_RUNTIME_DIR is set
 *   /run/cloister/http-HOST-PORT.token               otherwise, for root
 *   /tmp/cloister-UID/http-HOST-PORT.token           otherwise
 *
 * Clients try those in that order (root also tries /run/cloister when it
 * has XDG_RUNTIME_DIR: a root shell then finds a root service's token).
 * Reading the file is the authentication: only the agent's user (and
 * root) can, which is the trust the Unix socket gives its owner.  The
 * runtime directory and not the data directory, because a client knows
 * the address it dials but not the agent's data directory; programs that
 * run as another user, or in another container, get the token the way the
 * agent did: a file (token-file) or the environment (CLOISTER_TOKEN).
 */
#ifndef CLOISTER_AGENT_API_TOKEN_H
#define CLOISTER_AGENT_API_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "api_guard.h"

#define CL_TOKEN_PATH_MAX 512
/* Directories a client tries, at most. */
#define CL_TOKEN_DIRS_MAX 3

/* 64 hex digits from the system's random generator, NUL-terminated.
 * 0, or -1 when no randomness could be had. */
int cl_token_generate(char out[65]);

/* The token file's name for the HTTP API at hostport ("127.0.0.1:7947",
 * "[::1]:7947"): "http-127.0.0.1-7947.token".  -1 when hostport is not
 * HOST:PORT or the name would not fit. */
int cl_token_file_name(const char *hostport, char *out, size_t cap);

/* The directories a generated token may be in, in the order a client
 * tries them; [0] is where the agent writes.  Returns how many. */
size_t cl_token_dirs(char dirs[][CL_TOKEN_PATH_MAX], size_t max);

/* Writes token to dir/name: dir is created 0700 when missing, and must be
 * a directory owned by this user that nobody else can write to; the file
 * is created O_EXCL|O_NOFOLLOW mode 0600 under a temporary name, then
 * renamed into place (a reader never sees half a token).  0, with the
 * full path in path and its identity in *dev and *ino (for
 * cl_token_remove), or -1 with the reason in why. */
int cl_token_write(const char *dir, const char *name, const char *token,
		   char path[CL_TOKEN_PATH_MAX], dev_t *dev, ino_t *ino,
		   char *why, size_t whylen);

/* Removes path if it is still the file written (a successor's is left). */
void cl_token_remove(const char *path, dev_t dev, ino_t ino);

/* How strictly a token file is checked before it is believed. */
enum cl_token_check {
	CL_TOKEN_ANY = 0,          /* a file the user named */
	CL_TOKEN_PRIVATE = 1 << 0, /* group and others have no access */
	CL_TOKEN_OURS = 1 << 1,    /* owned by this user */
};

/* Reads the token from path: a regular file of at most 4 KiB whose first
 * line (blanks around it ignored) is a token.  0 with the token in out
 * (cap > CL_TOKEN_MAX), or -1 with the reason in why (errno-like: *missing
 * is set when the file does not exist). */
int cl_token_read(const char *path, unsigned checks, char *out, size_t cap,
		  bool *missing, char *why, size_t whylen);

/* The token for a client of the HTTP API at hostport: the first of its
 * candidate files that exists.  0 with out filled; -1 when none exists
 * (looked, when not NULL, receives the first candidate for messages). */
int cl_token_find(const char *hostport, char *out, size_t cap, char *looked,
		  size_t lookedlen);

#endif
