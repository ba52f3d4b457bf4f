/*
 * port_etf.h — requests of the agent's Erlang port mode (`cloister agent
 * --stdio etf`): {packet,4} framing and a bounded reader of Erlang's
 * external term format.
 *
 * Pure (no I/O, no globals, no libevent, no erl_interface) so it is unit
 * tested and fuzzed on its own (fuzz/fuzz_port_etf.c).  The replies and
 * events the agent writes are encoded with erl_interface in port.c; the
 * requests are read here because ei's decoders take no buffer length
 * (they trust the term), and the frames come from outside.
 *
 * A request is {Ref, Command, Args}; Ref is any term (echoed back as the
 * same bytes), Command an atom and Args the command's shape (port.c's
 * header and bindings/README.md list them).  Bounds are the HTTP API's
 * (query.h): names, keys, payloads, lists, timeouts and ids.
 */
#ifndef CLOISTER_AGENT_PORT_ETF_H
#define CLOISTER_AGENT_PORT_ETF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query.h"

/* A payload is at most 1 MiB and a multicast may name 4096 members of
 * up to 255 bytes: 4 MiB holds the largest valid request with room. */
#define CL_PORT_FRAME_MAX (4u * 1024u * 1024u)
/* Requests nest three levels; a Ref may be a small structure.  Past this
 * the term is refused without recursing further. */
#define CL_PORT_DEPTH_MAX 16u
/* The version of this protocol, sent in the hello frame. */
#define CL_PORT_PROTOCOL 1

typedef enum cl_port_cmd {
	CL_PCMD_STATUS,
	CL_PCMD_MEMBERS,
	CL_PCMD_WHOIS,
	CL_PCMD_MINE,
	CL_PCMD_MULTICAST,
	CL_PCMD_MULTICALL,
	CL_PCMD_ANSWER,
	CL_PCMD_REPLY,
	CL_PCMD_JOIN,
	CL_PCMD_LEAVE,
	CL_PCMD_KEYS,
} cl_port_cmd;

/* Strings are NUL-terminated copies owned by the request; names are
 * 1..CL_REQ_NAME_MAX bytes of UTF-8 without control characters. */
typedef struct cl_port_req {
	/* The Ref term's encoding (no version byte), pointing into the
	 * frame: valid while the frame is.  NULL when the frame was not a
	 * 3-tuple. */
	const unsigned char *ref;
	size_t ref_len;
	cl_port_cmd cmd;
	char *key; /* whois, mine: bytes, may hold NULs */
	size_t key_len;
	char *ring; /* whois, mine: "" is the default ring */
	unsigned n; /* whois: 1..CL_REQ_OWNERS_MAX */
	char *topic; /* multicast, multicall, answer */
	char *data;  /* multicast, multicall, reply: bytes */
	size_t data_len;
	char **names; /* multicast: members (NULL = all); join: addresses */
	size_t n_names;
	int timeout_ms; /* multicall */
	uint64_t id;    /* reply: 1..CL_REQ_ID_MAX */
	bool keys_op;   /* keys: false = list */
	cl_keys_op op;
	char *keytext;
} cl_port_req;

/* 0 with *out filled (release with cl_port_req_free), or -1 with a
 * message of printable ASCII in why; out->ref is set even then when the
 * frame was a well-formed {Ref, _, _}, so the error can name the request. */
int cl_port_decode(const void *frame, size_t len, cl_port_req *out,
		   char *why, size_t whylen);
void cl_port_req_free(cl_port_req *r);

/* Whether buf is a version byte (131) and exactly one term this reader
 * accepts: depth, lengths and counts within bounds. */
bool cl_etf_valid(const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* {packet,4} framing                                                  */
/* ------------------------------------------------------------------ */

typedef struct cl_port_framer {
	uint64_t skip;      /* bytes of an oversize frame still to drop */
	uint64_t oversize;  /* oversize frames seen */
} cl_port_framer;

typedef enum cl_frame_result {
	CL_FRAME_NEED,     /* incomplete: wait for more bytes */
	CL_FRAME_OK,       /* *frame, *flen: one frame */
	CL_FRAME_DROPPED,  /* bytes of an oversize frame were consumed */
	CL_FRAME_OVERSIZE, /* a header past CL_PORT_FRAME_MAX: its bytes
			      will be dropped as they come */
} cl_frame_result;

/* Looks at buf[0..len) (what is buffered); *consumed is how many bytes
 * the caller removes afterwards (with CL_FRAME_OK, only once done with
 * *frame, which points into buf). */
cl_frame_result cl_port_frame_next(cl_port_framer *f, const unsigned char *buf,
				   size_t len, size_t *consumed,
				   const unsigned char **frame, size_t *flen);

#endif
