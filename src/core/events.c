/*
 * events.c — member events, queued during a protocol step and handed to
 * the owner after it (cl_swim_next_event), never from inside.
 *
 * Records are serialised back to back (a fixed header, then the name and
 * tags), so a join burst of thousands of members costs one buffer, not
 * thousands of allocations.
 *
 * An owner that does not drain the queue would make it grow without
 * bound.  Past evq_max bytes the queue is not cut short silently: it is
 * dropped whole and the next event handed out is CL_EV_RESYNC, which tells
 * the owner to re-read the member table (cl_swim_foreach) instead of
 * trusting the events it missed.  Until it has taken that event, nothing
 * more is queued: the table it will read already holds it.
 */
#include <stdlib.h>
#include <string.h>

#include "swim_internal.h"

/* A drained queue keeps at most this much room: enough for the events of
 * an ordinary step, while a join burst's megabytes go back (and 10,000
 * simulated cores do not each sit on a burst's worth). */
#define EVQ_KEEP 16384

struct ev_rec {
	uint8_t type, status, name_len;
	uint16_t tags_len;
	uint32_t incarnation;
	uint64_t start_ms;
	cl_addr addr;
};

static void overflow(cl_swim *s)
{
	s->stats.events_dropped += 1;
	free(s->evq);
	s->evq = NULL;
	s->evq_head = s->evq_tail = s->evq_cap = 0;
	s->evq_resync = true;
}

void swim_emit_as(cl_swim *s, uint8_t type, const struct member *m,
		  const cl_addr *addr, uint64_t start_ms, uint32_t incarnation)
{
	if (s->evq_resync) {
		s->stats.events_dropped++;
		return;
	}
	cl_bytes name = mname_bytes(s, m), tags = mtags_bytes(s, m);
	struct ev_rec r = {
		.type = type,
		.status = m->status,
		.name_len = (uint8_t)name.len,
		.tags_len = (uint16_t)tags.len,
		.incarnation = incarnation,
		.start_ms = start_ms,
		.addr = *addr,
	};
	size_t need = sizeof r + name.len + tags.len;
	if (s->evq_tail + need > s->evq_cap) {
		/* Compact first, grow only if that is not enough. */
		if (s->evq_head > 0) {
			memmove(s->evq, s->evq + s->evq_head,
				s->evq_tail - s->evq_head);
			s->evq_tail -= s->evq_head;
			s->evq_head = 0;
		}
		if (s->evq_tail + need > s->evq_cap) {
			size_t ncap = s->evq_cap ? s->evq_cap * 2 : 4096;
			while (ncap < s->evq_tail + need)
				ncap *= 2;
			if (ncap > s->evq_max)
				ncap = s->evq_max;
			uint8_t *nq = s->evq_tail + need <= ncap
					      ? realloc(s->evq, ncap)
					      : NULL;
			if (!nq) {
				overflow(s);
				return;
			}
			s->evq = nq;
			s->evq_cap = ncap;
		}
	}
	memcpy(s->evq + s->evq_tail, &r, sizeof r);
	memcpy(s->evq + s->evq_tail + sizeof r, name.ptr, name.len);
	if (tags.len)
		memcpy(s->evq + s->evq_tail + sizeof r + name.len, tags.ptr,
		       tags.len);
	s->evq_tail += need;
}

void swim_emit(cl_swim *s, uint8_t type, const struct member *m)
{
	swim_emit_as(s, type, m, maddr(s, m), mstart(s, m), m->incarnation);
}

bool cl_swim_next_event(cl_swim *s, cl_swim_event *ev)
{
	if (s->evq_resync) {
		s->evq_resync = false;
		memset(ev, 0, offsetof(cl_swim_event, name));
		ev->type = CL_EV_RESYNC;
		ev->name[0] = '\0';
		ev->name_len = 0;
		return true;
	}
	if (s->evq_head == s->evq_tail) {
		/* Drained: give back a queue a join burst blew up. */
		s->evq_head = s->evq_tail = 0;
		if (s->evq_cap > EVQ_KEEP) {
			free(s->evq);
			s->evq = NULL;
			s->evq_cap = 0;
		}
		return false;
	}
	struct ev_rec r;
	memcpy(&r, s->evq + s->evq_head, sizeof r);
	const uint8_t *p = s->evq + s->evq_head + sizeof r;
	ev->type = r.type;
	ev->status = r.status;
	ev->incarnation = r.incarnation;
	ev->start_ms = r.start_ms;
	ev->addr = r.addr;
	ev->name_len = r.name_len;
	ev->tags_len = r.tags_len;
	memcpy(ev->name, p, r.name_len);
	ev->name[r.name_len] = '\0';
	memcpy(ev->tags, p + r.name_len, r.tags_len);
	s->evq_head += sizeof r + r.name_len + r.tags_len;
	return true;
}
