/*
 * merge.c — the merge rules of merge.h, as code that reads like the table.
 */
#include "merge.h"

#include <string.h>

#include "wire.h"

bool cl_merge_process_newer(uint64_t start_a, const cl_addr *addr_a,
			    uint64_t start_b, const cl_addr *addr_b)
{
	if (start_a != start_b)
		return start_a > start_b;
	if (addr_a->family != addr_b->family)
		return addr_a->family > addr_b->family;
	int c = memcmp(addr_a->ip, addr_b->ip, sizeof addr_a->ip);
	if (c != 0)
		return c > 0;
	return addr_a->port > addr_b->port;
}

static enum cl_merge_action about_self(const cl_merge_held *h,
				       const cl_merge_word *w)
{
	uint32_t i = h->incarnation, j = w->incarnation;
	if (h->leaving)
		return CL_MERGE_IGNORE;
	if (w->kind != CL_WORD_ALIVE) {
		if (h->rival_known && cl_inc_newer(j, i))
			return CL_MERGE_VERIFY;
		return cl_inc_at_least(j, i) ? CL_MERGE_REFUTE : CL_MERGE_IGNORE;
	}
	if (cl_addr_equal(&w->addr, &h->addr)) {
		/* A picture of us: the exact echo needs nothing, anything
		 * newer or different at our own number is stale and loses. */
		bool echo = j == i && h->same_tags && w->start_ms == h->start_ms;
		return cl_inc_at_least(j, i) && !echo ? CL_MERGE_REFUTE
						      : CL_MERGE_IGNORE;
	}
	/* Another process claims our name. */
	/* A newer claimant below our number has not contested us yet; once
	 * it refutes past us, we check it.  (This also keeps a ghost we
	 * already refuted from being pinged again on every stale echo.) */
	if (cl_merge_process_newer(w->start_ms, &w->addr, h->start_ms, &h->addr))
		return cl_inc_at_least(j, i) ? CL_MERGE_VERIFY : CL_MERGE_IGNORE;
	return cl_inc_at_least(j, i) ? CL_MERGE_REFUTE : CL_MERGE_IGNORE;
}

enum cl_merge_action cl_merge_decide(const cl_merge_held *h,
				     const cl_merge_word *w)
{
	if (h->self)
		return about_self(h, w);
	uint32_t i = h->incarnation, j = w->incarnation;
	if (!h->known) {
		if (w->kind != CL_WORD_ALIVE)
			return CL_MERGE_IGNORE;
		if (h->former && !cl_inc_newer(j, i))
			return CL_MERGE_IGNORE;
		return CL_MERGE_ADD;
	}
	switch (w->kind) {
	case CL_WORD_ALIVE:
		if (cl_inc_newer(j, i))
			return CL_MERGE_TAKE;
		/* Two live processes at one number: the newer wins, so views
		 * that took different ones meet at the next exchange.  Over a
		 * suspicion at that number, only its identity moves: the
		 * suspicion may be about the newer process itself, taken from
		 * a SUSPECT that carries no address, and only a refutation
		 * above it ends it.  Not over a death: that would resurrect
		 * without a refutation. */
		if (j != i || !h->process_known ||
		    !cl_merge_process_newer(w->start_ms, &w->addr, h->start_ms,
					    &h->addr))
			return CL_MERGE_IGNORE;
		if (h->status == CL_STATUS_ALIVE)
			return CL_MERGE_TAKE;
		return h->status == CL_STATUS_SUSPECT ? CL_MERGE_MOVE
						      : CL_MERGE_IGNORE;
	case CL_WORD_SUSPECT:
	case CL_WORD_DEAD:
		/* Someone else's verdict is one more doubt; only our own
		 * suspicion timer declares a member dead.  A doubt confirms
		 * ours only at our incarnation: one at a newer number is
		 * about a member that has refuted ours since. */
		if (!cl_inc_at_least(j, i))
			return CL_MERGE_IGNORE;
		if (h->status == CL_STATUS_ALIVE)
			return CL_MERGE_SUSPECT;
		return h->status == CL_STATUS_SUSPECT && j == i
			       ? CL_MERGE_CONFIRM
			       : CL_MERGE_IGNORE;
	case CL_WORD_VERDICT:
		if (!cl_inc_at_least(j, i))
			return CL_MERGE_IGNORE;
		return h->status == CL_STATUS_ALIVE ||
				       h->status == CL_STATUS_SUSPECT
			       ? CL_MERGE_DEAD
			       : CL_MERGE_IGNORE;
	case CL_WORD_LEFT:
		if (!cl_inc_at_least(j, i))
			return CL_MERGE_IGNORE;
		return h->status == CL_STATUS_LEFT ? CL_MERGE_IGNORE
						   : CL_MERGE_LEFT;
	}
	return CL_MERGE_IGNORE;
}

const char *cl_merge_action_name(enum cl_merge_action a)
{
	static const char *const names[CL_MERGE__COUNT] = {
		"ignore", "add",    "take",   "move",	"suspect",
		"confirm", "dead",  "left",   "refute", "verify",
	};
	return (unsigned)a < CL_MERGE__COUNT ? names[a] : "?";
}
