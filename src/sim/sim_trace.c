/*
 * sim_trace.c — packets as text (sim_trace.h).
 */
#include "sim/sim_trace.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "core/wire.h"

/* Members of one push-pull listed before "... and N more". */
#define TRACE_STATE_SHOWN 8

const char *cl_sim_fate_name(enum cl_sim_fate f)
{
	static const char *const names[CL_SIM_FATE__COUNT] = {
		"sent",	   "fed",	 "held",      "unroutable",
		"down",	   "partition",	 "blocked",   "lost",
		"damaged", "stream failed", "buffer full",
	};
	return (unsigned)f < CL_SIM_FATE__COUNT ? names[f] : "?";
}

/* Appends to a text that stays NUL-terminated and stops growing at cap. */
struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	if (t->len + 1 >= t->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void put_addr(struct text *t, const cl_addr *a)
{
	char s[CL_ADDR_STRLEN];
	put(t, "%s", cl_addr_format(a, s, sizeof s));
}

/* Start times relative to the simulator's epoch: seconds of virtual time,
 * as the rest of a trace. */
static void put_start(struct text *t, uint64_t start_ms)
{
	if (start_ms >= CL_SIM_EPOCH_MS)
		put(t, " start=%.3f", (double)(start_ms - CL_SIM_EPOCH_MS) / 1e3);
	else
		put(t, " start=%" PRIu64 "ms", start_ms);
}

static void put_member(struct text *t, const cl_wire_member *m)
{
	static const char *const status[] = {"alive", "suspect", "dead",
					     "left"};
	put(t, "%.*s %s@%" PRIu32 " ", (int)m->name.len,
	    (const char *)m->name.ptr, m->status < 4 ? status[m->status] : "?",
	    m->incarnation);
	put_addr(t, &m->addr);
	put_start(t, m->start_ms);
}

static void put_msg(struct text *t, const cl_wire_msg *m)
{
	switch (m->type) {
	case CL_MSG_PING:
		put(t, "ping seq=%" PRIu32 " target=%.*s n=%" PRIu32
		       " sum=%016" PRIx64,
		    m->u.ping.seq, (int)m->u.ping.target.len,
		    (const char *)m->u.ping.target.ptr, m->u.ping.member_count,
		    m->u.ping.checksum);
		if (m->u.ping.source.len) {
			put(t, " from=%.*s ", (int)m->u.ping.source.len,
			    (const char *)m->u.ping.source.ptr);
			put_addr(t, &m->u.ping.source_addr);
		}
		break;
	case CL_MSG_PING_REQ:
		put(t, "ping-req seq=%" PRIu32 " target=%.*s ", m->u.ping_req.seq,
		    (int)m->u.ping_req.target.len,
		    (const char *)m->u.ping_req.target.ptr);
		put_addr(t, &m->u.ping_req.target_addr);
		put(t, " for=%.*s ", (int)m->u.ping_req.origin.len,
		    (const char *)m->u.ping_req.origin.ptr);
		put_addr(t, &m->u.ping_req.origin_addr);
		if (m->u.ping_req.flags & CL_PINGREQ_WANT_NACK)
			put(t, " nack-after=%ums", m->u.ping_req.nack_ms);
		break;
	case CL_MSG_ACK:
	case CL_MSG_NACK:
		put(t, "%s seq=%" PRIu32, m->type == CL_MSG_ACK ? "ack" : "nack",
		    m->u.ack.seq);
		break;
	case CL_MSG_ALIVE:
		put(t, "alive ");
		put_member(t, &m->u.alive);
		break;
	case CL_MSG_SUSPECT:
	case CL_MSG_DEAD:
		put(t, "%s %.*s@%" PRIu32 " by %.*s",
		    m->type == CL_MSG_SUSPECT ? "suspect" : "dead",
		    (int)m->u.accuse.member.len,
		    (const char *)m->u.accuse.member.ptr, m->u.accuse.incarnation,
		    (int)m->u.accuse.accuser.len,
		    (const char *)m->u.accuse.accuser.ptr);
		break;
	case CL_MSG_PUSHPULL: {
		uint8_t f = m->u.pushpull.flags;
		put(t, "state%s%s%s%s of %" PRIu32 ":",
		    f & CL_PUSHPULL_JOIN ? " join" : "",
		    f & CL_PUSHPULL_REPLY ? " reply" : "",
		    f & CL_PUSHPULL_DELTA ? " delta" : "",
		    f & CL_PUSHPULL_MORE ? " more" : "", m->u.pushpull.count);
		size_t pos = 0, shown = 0;
		cl_wire_member e;
		while (shown < TRACE_STATE_SHOWN &&
		       cl_wire_member_next(&m->u.pushpull.entries, &pos, &e)) {
			put(t, shown++ ? ", " : " ");
			put_member(t, &e);
		}
		if (m->u.pushpull.count > shown)
			put(t, ", and %" PRIu32 " more",
			    m->u.pushpull.count - (uint32_t)shown);
		break;
	}
	case CL_MSG_USER:
		put(t, "user kind=%u id=%" PRIu32 " topic=%.*s from=%.*s %zu B",
		    m->u.user.kind, m->u.user.id, (int)m->u.user.topic.len,
		    (const char *)m->u.user.topic.ptr, (int)m->u.user.sender.len,
		    (const char *)m->u.user.sender.ptr, m->u.user.payload.len);
		break;
	case CL_MSG_DIGEST:
		put(t, "digest%s of %u buckets",
		    m->u.digest.flags & CL_DIGEST_REPLY ? " reply" : "",
		    1u << m->u.digest.bits);
		break;
	default:
		put(t, "type %u", m->type);
		break;
	}
}

char *cl_sim_trace_describe(char *out, size_t cap, const uint8_t *buf,
			    size_t len, bool stream, const char *label)
{
	struct text t = {out, 0, cap};
	if (!cap)
		return out;
	out[0] = '\0';
	cl_wire_msg msgs[CL_WIRE_MAX_MSGS];
	int n = cl_wire_parse(buf, len, label, label ? strlen(label) : 0,
			      CL_WIRE_STREAM_MAX, stream, msgs, CL_WIRE_MAX_MSGS);
	if (n < 0) {
		put(&t, "undecodable: %s",
		    cl_drop_reason_name((enum cl_drop_reason)-n));
		return out;
	}
	for (int i = 0; i < n; i++) {
		if (i)
			put(&t, "; ");
		put_msg(&t, &msgs[i]);
	}
	return out;
}

static bool traced(const cl_sim_trace *tr, const cl_sim_packet *p)
{
	if (!tr->n_nodes)
		return true;
	for (size_t i = 0; i < tr->n_nodes; i++)
		if (tr->nodes[i] == p->from ||
		    (p->to >= 0 && tr->nodes[i] == (uint64_t)p->to))
			return true;
	return false;
}

static void put_node(struct text *t, const cl_sim *sim, int64_t node,
		     const cl_addr *addr)
{
	if (node >= 0)
		put(t, "%s[%" PRId64 "] ", cl_sim_node_name(sim, (uint32_t)node),
		    node);
	else
		put(t, "nobody ");
	put_addr(t, addr);
}

void cl_sim_trace_packet(void *arg, const cl_sim *sim,
			 const cl_sim_packet *p)
{
	cl_sim_trace *tr = arg;
	if (!tr->out || !traced(tr, p))
		return;
	char line[4096];
	struct text t = {line, 0, sizeof line};
	put(&t, "%11.6f #%" PRIu64 " ", (double)p->now / 1e6, p->id);
	if (p->arrival) {
		/* The send's line has the messages. */
		put_node(&t, sim, p->to, &p->to_addr);
		put(&t, " < ");
		put_node(&t, sim, p->from, &p->from_addr);
		put(&t, " %s", cl_sim_fate_name((enum cl_sim_fate)p->fate));
	} else {
		put_node(&t, sim, p->from, &p->from_addr);
		put(&t, " > ");
		put_node(&t, sim, p->to, &p->to_addr);
		put(&t, " %s %zu B ", p->stream ? "tcp" : "udp", p->len);
		if (p->fate == CL_SIM_SENT)
			put(&t, "arrives %.6f%s | ", (double)p->arrives / 1e6,
			    p->cut ? ", cut short" : "");
		else
			put(&t, "%s | ",
			    cl_sim_fate_name((enum cl_sim_fate)p->fate));
		cl_sim_trace_describe(line + t.len, sizeof line - t.len, p->buf,
				      p->len, p->stream, p->label);
	}
	fprintf(tr->out, "%s\n", line);
	tr->lines++;
}
