/*
 * node_internal.h — what the runtime's files share about a cloister_t.
 *
 * Locking: `lock` guards the core, the cluster layer, the keyring and the
 * messaging tables.  A protocol step (feed, tick, join, leave) runs under
 * it; its listener events and application messages are then delivered by
 * node_finish_step() with `lock` released and `deliver` held, so callbacks
 * may call back into the API while causal order is kept.
 */
#ifndef CLOISTER_RUNTIME_NODE_INTERNAL_H
#define CLOISTER_RUNTIME_NODE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "cloister.h"
#include "core/cluster.h"
#include "core/swim.h"

struct cl_loop;
struct cl_keyring;
struct cl_messaging;
struct cl_timings;

/* How a node names itself (Cloister's modes). */
enum cl_naming_mode_setting {
	CL_NAME_AUTO = 0,
	CL_NAME_NONODE,
	CL_NAME_SHORT,
	CL_NAME_LONG,
};

struct cloister_config {
	char app[CL_WIRE_LABEL_MAX + 1];
	char name[CL_WIRE_NAME_MAX + 1];
	bool has_addr;
	cl_addr addr;      /* advertise */
	bool has_bind;
	cl_addr bind;      /* bind; default: advertise */
	char sentry[1024]; /* the sentry setting, parsed by the runtime */
	enum cl_naming_mode_setting naming;
	bool tcp_only;
	bool no_tcp_ping; /* tcp_ping=false */
	int64_t discovery_interval_us;
	uint8_t key[32];
	bool has_key;
	bool insecure;     /* plaintext allowed off loopback, asked for */
	char passphrase[256];
	cl_cluster_config cluster;
	enum cl_profile profile;
	uint8_t tags[CL_WIRE_TAGS_MAX];
	size_t tags_len;
	size_t tags_max;
	size_t max_members;
	size_t user_queue_max;   /* queued application messages, each way */
	size_t max_connections;  /* TCP streams open at once, per direction */
	size_t max_connections_per_address; /* inbound from one IP */
	size_t max_calls;        /* multicalls pending at once */
	uint8_t proto_min;       /* oldest protocol version spoken, 0 = newest */
	char error[256];
};

struct cloister {
	pthread_mutex_t lock;
	pthread_mutex_t deliver;
	pthread_cond_t changed;
	cl_swim *core;
	cl_cluster *cluster;
	bool nonode;
	cloister_listener listener;
	/* Manual driving. */
	cloister_send_fn send;
	void *send_arg;
	/* The built-in runtime, when started with one. */
	struct cl_loop *loop;
	struct cl_keyring *keyring;
	struct cl_messaging *msg;
	cloister_log_fn log;
	void *log_arg;
	int log_level;
	uint64_t rng;
	unsigned consensus, majority_of;
	cloister_config_t cfg; /* a copy, for the runtime */
	size_t cfg_mtu;
	char addr_text[CL_ADDR_STRLEN];
	/* The node's name, copied once: any thread may read it, and the
	 * core's copy lives in the node's identity record, which the node
	 * thread replaces (and frees) when the node is retagged. */
	char name_text[CLOISTER_NAME_MAX + 1];
	struct cl_discovery *discovery;
	bool warned_plaintext;
	/* Off loopback without a key, because insecure was asked for. */
	bool insecure;
	/* While the runtime feeds a sealed packet: its authenticated sender
	 * id (keyring.h), for checks on what the packet claims (messaging). */
	bool rx_authenticated;
	uint64_t rx_sender;
	/* Durations for metrics (timings.h), fed by node_finish_step. */
	struct cl_timings *timings;
};

/* Sends a packet the way this node sends: its runtime, or the program's
 * own transport (node lock held). */
void node_transmit(cloister_t *c, const cl_addr *to, uint64_t to_id,
		   const uint8_t *buf, size_t len, bool stream);

/* Logging, logfmt: "level=info msg=... k=v". */
void node_log(cloister_t *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* With c->lock held: hand the core's events to the cluster layer and
 * settle; then release the lock and deliver what the step produced. */
void node_finish_step(cloister_t *c);
/* When the node needs a step even if nothing arrives: the core's next
 * timer or a ring settle put off by coalescing (lock held). */
cl_usec node_next_deadline(cloister_t *c);

/* The core's send hook goes here when a runtime is attached. */
void cl_loop_send(struct cl_loop *l, const cl_addr *to, uint64_t to_id,
		  const uint8_t *buf, size_t len, bool stream);
/* After any step: the core's next deadline may have moved. */
void cl_loop_rearm(struct cl_loop *l);

#endif
