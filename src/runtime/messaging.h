/*
 * messaging.h — application messages: handlers by topic, multicast,
 * send-to-owner and multicall, on USER packets (wire.h).
 *
 * Two bounded queues keep application traffic from ever delaying
 * membership: inbound messages are copied out of the protocol step and
 * handled after it; outbound ones wait in a queue the loop drains at low
 * priority, a batch per turn.  Both hold at most user_queue_max messages;
 * past that, inbound ones are dropped and counted, outbound ones refused
 * with CLOISTER_ELIMIT.
 *
 * Who a message is from: with a key, every packet carries the sender's
 * authenticated id (keyring.h), and a USER message whose sender name does
 * not hash to it is dropped ("user_in_forged").  Every message goes out
 * bound to its recipient's id.  A multicall's id is 32 random bits, drawn
 * afresh for each call, and a reply counts only if its id is pending and
 * it comes from a member that call went to ("replies_refused" otherwise):
 * a reply cannot be forged by guessing the next id, nor answered for
 * another member.
 */
#ifndef CLOISTER_RUNTIME_MESSAGING_H
#define CLOISTER_RUNTIME_MESSAGING_H

#include "node_internal.h"

struct cl_messaging *cl_messaging_new(size_t queue_max, size_t max_calls);
void cl_messaging_free(struct cl_messaging *m);

/* The core's USER hook (node lock held): copies the message inbound. */
void cl_messaging_on_user(cloister_t *c, const cl_addr *from,
			  const cl_wire_msg *msg);
/* Runs handlers for queued inbound messages (no node lock held). */
void cl_messaging_deliver(cloister_t *c);
/* Sends a batch of the outbound queue (takes the node lock). */
void cl_messaging_drain(cloister_t *c);
/* Whether anything waits to go out (node lock held). */
bool cl_messaging_pending(const cloister_t *c);

struct cl_messaging_stats {
	uint64_t in, out, in_dropped, out_refused, calls, replies;
	/* Sealed messages whose sender name is not the authenticated
	 * sender's. */
	uint64_t forged;
	/* Replies to no pending call of ours, or not from a member called. */
	uint64_t replies_refused;
	/* Calls kept by a handler to answer later (cloister_call_defer);
	 * refused because user_queue_max were kept already; kept and then
	 * dropped unanswered. */
	uint64_t deferred, defer_refused, deferred_dropped;
};
void cl_messaging_stats(const cloister_t *c, struct cl_messaging_stats *out);

#endif
