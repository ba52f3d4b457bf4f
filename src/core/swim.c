/*
 * swim.c — membership by SWIM gossip with the Lifeguard refinements.
 *
 * How it works
 * ============
 * Failure detection (SWIM, Das et al. 2002; detector.c).  Every probe
 * period a node pings one member, walking a shuffled list so each member
 * is probed once per round and rounds differ.  No ack within the probe
 * timeout: it asks k alive members to ping the target for it (PING_REQ)
 * and, as memberlist does, sends the same ping once more over the stream
 * transport (TCP in the runtime), whose retransmissions get through
 * datagram loss that ate the ping or its ack.  No ack, direct, relayed or
 * streamed, by the end of the period: the target becomes *suspect*, which
 * is gossiped; a suspect that hears of it refutes by gossiping an ALIVE
 * with a higher incarnation.  A suspicion nobody refutes in time becomes
 * *dead*.
 *
 * Dissemination (dissemination.c).  Membership updates ride in the spare
 * room of every ping, ack and gossip packet, each retransmitted
 * lambda*log10(N+1) times, newest and least-sent first, so an update
 * reaches everyone in O(log N) rounds while each node's load stays
 * constant.
 *
 * Lifeguard (Dadgar et al. 2018), three parts:
 *   - local health: a node whose probes fail while relays do not send the
 *     nacks they promised is probably the slow one itself, so it raises a
 *     health score that stretches its own probe interval and timeout
 *     ((score+1)x, at most awareness_max x), and lowers it on each
 *     successful probe.  Being suspected also raises it.
 *   - dynamic suspicion: a suspicion timer starts at its maximum and
 *     shrinks, logarithmically, with each independent accuser that
 *     confirms it, down to a minimum of suspicion_mult*log10(N) periods
 *     after K confirmations.
 *   - buddy system: when we probe a member we hold as suspect, the
 *     SUSPECT message rides first in the ping, so it can refute at once
 *     instead of waiting for gossip to reach it.
 *
 * Anti-entropy (antientropy.c).  Joining is a full-state exchange
 * (push-pull) with each seed over a stream, repeated periodically with a
 * random alive member (scaled up with log2(N/32) as memberlist does).
 * Every ping carries the sender's membership checksum (XOR of a hash of
 * name, incarnation and process, its start and address, over live
 * members: member_table.c); a receiver whose checksum differs and who has
 * nothing left to gossip starts a push-pull at once (at most one per
 * sync_min_interval), so a missed update is repaired in seconds, not at
 * the next periodic sync.
 *
 * The merge rules (merge.h) decide what each ALIVE, SUSPECT, DEAD or LEFT
 * does to what we hold; this file applies the decision (state, events,
 * gossip, suspicion timers, refutation) and checks, before any rule runs,
 * that the word is possible at all: an incarnation the clock cannot have
 * reached, or a start time in the future or decades past, is a forgery or
 * a corruption and is dropped (CL_DROP_CLOCK).  Our clock is the start
 * time we were given plus the time the owner passes in, so the core still
 * reads none.
 *
 * Where we depart from memberlist, and why
 * ========================================
 *   - Restarts supersede.  memberlist refuses an ALIVE for a known name
 *     with another address while the old one is alive ("conflicting
 *     address"), which locks a restarted container out until the old entry
 *     dies.  Here the higher incarnation simply wins: a restarted node
 *     passes a fresh incarnation (its start time in seconds) and, should
 *     the old one be higher, refutes past it the moment it hears of its
 *     old self, which the join's push-pull tells it at once.  A suspicion
 *     follows the restart: the newer process's ALIVE at a suspect's
 *     number moves the member there (merge.h, MOVE), and a suspicion
 *     taken at a number above the one we held is not confirmed by our
 *     probes of the address we held.
 *   - Only a node's own suspicion timer declares a member dead; a DEAD
 *     heard from another node is one more accusation (merge.h says why:
 *     verdicts formed across a partition arrive after the heal).  Every
 *     new suspicion is told to the suspect at once and again halfway
 *     through its (possibly shortened) timer, in a ping carrying it (the
 *     buddy system, outside the probe round); halfway it is gossiped
 *     again too, and the ping-reqs of an indirect probe of a suspect
 *     carry it to the relays, so a suspect that the accuser cannot reach
 *     still hears of it.  An ack answering a stale accusation repeats our
 *     ALIVE, and once our refutation's gossip is spent, a stale
 *     accusation sends it round again with a fresh budget (memberlist
 *     ignores an accusation below our incarnation): the refutation has
 *     missed someone, and its first budget may have gone to members on
 *     the far side of a partition.
 *   - Two live processes with one name do not fight: the one started
 *     later keeps the name, the other checks that it is alive and stops
 *     claiming it (detector.c, "Two processes, one name").
 *   - Partition healing in the core.  Every dead_retry_interval a node
 *     pings one dead member (with a per-member backoff) and, if it
 *     answers, push-pulls with it.  If the partition is over, the
 *     exchange marks each side's members suspect on the other side (a
 *     remote "dead" merges as suspect), which makes them refute and the
 *     two views converge without an operator or a rejoin.  Dead members
 *     are kept for reconnect_timeout (as Serf), left ones for
 *     tombstone_timeout, and both are remembered compactly after that so
 *     a stale rumour cannot resurrect them.
 *   - A doubt about a member (us included) below the number it has
 *     refuted to since is answered: the datagram's sender missed the
 *     refutation, and is sent the member's ALIVE we hold, in one datagram
 *     however many stale doubts it carried (memberlist ignores them).  Refutation gossip is
 *     spent in a few rounds; a node behind a cut from the suspect, or
 *     whose streams fail, otherwise doubted on, re-gossiping its doubt to
 *     members that all knew better, until its own timer killed a live
 *     member.
 *   - Seeds are not forgotten.  memberlist joins once; here a join is
 *     retried until a seed answers, and a node that knows no member but
 *     itself (its only answer came from its own predecessor, which then
 *     stepped down; or it reaped everyone it knew) goes back to its seeds
 *     at the same backoff, at most one exchange a minute, since no
 *     tombstone is left for dead retry to try.
 *   - A node that pings us while we hold it dead or left gets the word
 *     piggybacked on our ack, so it refutes immediately.
 *   - Gossip goes first to a member heard from lately.  memberlist draws
 *     every gossip target at random; here the first of each round is one
 *     that answered a probe of ours or pinged us in the last three probe
 *     intervals, as local health stretches them.  Inside a partition's
 *     minority nearly every random target is across the cut, and a
 *     suspicion, or the refutation that would end it, never reached the
 *     one member that could pass it on.
 *   - The suspicion timer scales with the cluster as pings report it:
 *     each ping carries how many members its sender knows, and the
 *     largest count heard lately sets the timer's scale and K when it is
 *     larger than our own view (memberlist uses its own view only).  A
 *     node that sees a corner of the cluster (restarted, its join
 *     exchanges lost) would otherwise take K = 0, the shortest timer, and
 *     judge alone a member nobody could confirm or refute in time.
 *   - A confirmation that comes after the minimum has run does not end
 *     the suspicion on the spot, as Lifeguard's formula does (its
 *     deadline, start + the shortened timeout, is behind us): the
 *     suspect gets one probe timeout to answer.  The doubt that confirms
 *     late has most often reached the suspect at the same moment, and
 *     its refutation is a hop behind.
 *   - Both the probe interval and the probe timeout scale with local
 *     health (the Lifeguard paper's LHA-Probe); memberlist scales only the
 *     interval.
 *   - A relay nacks by a deadline the prober gives it in the PING_REQ,
 *     not by its own probe timeout: memberlist's relays nack after their
 *     ProbeTimeout, which with the default timing lands after the prober
 *     has already given up and counted the nack as missing.
 *   - A cluster label in every packet: other clusters' packets are dropped
 *     before any message is read.
 *   - The stream fallback ping rides in the probe's own state (same
 *     sequence number, answered on the same connection) instead of a
 *     separate channel that reports back; an ack that only the stream
 *     delivered ends the probe without a suspicion and without moving
 *     local health either way (memberlist logs it as a misconfigured
 *     network; we count it: stream_ping_rescues).
 *   - Sequence numbers start at random, so a late ack meant for the
 *     previous process at our address does not end one of our probes.
 *
 * Structure
 * =========
 * swim_internal.h lists the files and what each holds.  Members live in an
 * array of pointers (index 0 is this node), which is also the probe order,
 * and in an open-addressing hash table by name.  Suspects and tombstones
 * are additionally on small linked lists so timers never scan the whole
 * table.
 */
#include "swim.h"

#include <stdlib.h>
#include <string.h>

#include "cloister.h"
#include "swim_internal.h"

/* How far past the wall clock (in seconds) an incarnation may be: a
 * process starts at its start time in seconds and adds one per
 * refutation, so 2^24 covers half a year of one refutation a second, and
 * hosts' clocks disagreeing by minutes. */
#define INCARNATION_HEADROOM (1u << 24)
/* A start time more than this far in our future is forged or a broken
 * clock: either would win every "newer process" comparison. */
#define START_SKEW_MAX_MS (10ull * 60 * 1000)
/* ... and more than this far in the past would make any member the
 * oldest, hence sentry. */
#define START_AGE_MAX_MS (10ull * 366 * 24 * 3600 * 1000)

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

void swim_begin(cl_swim *s, cl_wbuf *w)
{
	cl_wire_begin(w, s->pkt, s->cfg.timing.mtu, s->label, s->label_len);
}

void swim_transmit(cl_swim *s, const cl_addr *to, uint64_t to_id, cl_wbuf *w,
		   bool stream)
{
	if (stream)
		s->stats.streams_out++;
	else
		s->stats.packets_out++;
	s->stats.bytes_out += w->len;
	s->io.send(s->io.ctx, to, to_id, w->buf, w->len, stream);
}

/* ------------------------------------------------------------------ */
/* Clock                                                               */
/* ------------------------------------------------------------------ */

uint64_t swim_wall_ms(const cl_swim *s, cl_usec now)
{
	cl_usec since = now - s->created;
	return s->cfg.start_ms + (uint64_t)(since > 0 ? since / CL_MSEC : 0);
}

/* Whether an incarnation (and a start time, when the word has one) could
 * have been reached by now.  Without a start time of our own there is no
 * clock to judge by, and every word passes. */
bool swim_plausible(cl_swim *s, uint32_t inc, const uint64_t *start_ms,
		    cl_usec now)
{
	if (!s->cfg.start_ms)
		return true;
	uint64_t wall = swim_wall_ms(s, now);
	uint32_t inc_max = (uint32_t)(wall / 1000) + INCARNATION_HEADROOM;
	bool ok = !cl_inc_newer(inc, inc_max);
	if (start_ms)
		ok = ok && *start_ms <= wall + START_SKEW_MAX_MS &&
		     *start_ms + START_AGE_MAX_MS >= wall;
	if (!ok)
		s->stats.drops[CL_DROP_CLOCK]++;
	return ok;
}

/* ------------------------------------------------------------------ */
/* Applying the merge rules                                            */
/* ------------------------------------------------------------------ */

void swim_refute(cl_swim *s, uint32_t accused_inc, cl_usec now)
{
	struct member *me = self(s);
	uint32_t inc = me->incarnation + 1;
	if (cl_inc_at_least(accused_inc, inc))
		inc = accused_inc + 1;
	swim_set_state(s, me, CL_STATUS_ALIVE, inc, now);
	s->stats.refutations++;
	swim_health_delta(s, 1);
	swim_broadcast_alive(s, me);
}

/* Owes the sender of the datagram being read m's ALIVE, sent once the
 * datagram is read (cl_swim_feed): each member once, at most OWED_MAX. */
static void owe_alive(cl_swim *s, const struct member *m)
{
	uint32_t nid = mnid(s, m);
	for (unsigned i = 0; i < s->n_owed; i++)
		if (s->owed[i] == nid)
			return;
	if (s->n_owed < OWED_MAX)
		s->owed[s->n_owed++] = nid;
}

/* Tells a member we now suspect it at once, the suspicion riding in a
 * ping (the buddy system, without waiting for our next probe of it, which
 * the round and local health may put many seconds away), so it hears of
 * it from every node that can reach it, even when the SUSPECT's gossip is
 * spent on nodes a partition hides.  The ack needs no matching: the
 * refutation is what counts.  detector.c pings once more halfway
 * through. */
static void tell_suspect(cl_swim *s, struct member *m)
{
	if (!s->leaving)
		swim_send_ping(s, maddr(s, m), swim_next_seq(s),
			       mname_bytes(s, m), m, false);
}

/* The process we hold a member at, for the rules that compare two. */
static void hold_process(const cl_swim *s, const struct member *m,
			 cl_merge_held *held)
{
	held->process_known = true;
	held->start_ms = mstart(s, m);
	held->addr = *maddr(s, m);
}

static cl_merge_held held_of(const cl_swim *s, const struct member *m,
			     uint64_t h)
{
	cl_merge_held held = {0};
	if (!m) {
		held.former = swim_former(s, h, &held.incarnation);
		return held;
	}
	held.known = true;
	held.self = m == self(s);
	held.leaving = s->leaving;
	held.status = m->status;
	held.incarnation = m->incarnation;
	/* Only a word about ourselves always looks at who announced it:
	 * reading the identity for anyone else costs a cache miss, paid only
	 * by an ALIVE at the held incarnation (swim_merge_alive). */
	if (held.self) {
		hold_process(s, m, &held);
		held.rival_known = s->rival_start_ms != 0;
	}
	return held;
}

void swim_merge_alive(cl_swim *s, const cl_wire_member *a, cl_usec now)
{
	if (a->tags.len > s->tags_max) {
		s->stats.drops[CL_DROP_TOO_BIG]++;
		return;
	}
	if (!swim_plausible(s, a->incarnation, &a->start_ms, now))
		return;
	uint64_t h = name_hash(a->name.ptr, a->name.len);
	struct member *m = swim_find_h(s, h, a->name.ptr, a->name.len);
	cl_merge_held held = held_of(s, m, h);
	if (held.self)
		held.same_tags = a->tags.len == mtags_len(s, m) &&
				 (a->tags.len == 0 ||
				  memcmp(a->tags.ptr, mtags(s, m), a->tags.len) == 0);
	else if (m && a->incarnation == m->incarnation &&
		 (m->status == CL_STATUS_ALIVE || m->status == CL_STATUS_SUSPECT))
		hold_process(s, m, &held);
	cl_merge_word w = {CL_WORD_ALIVE, a->incarnation, a->start_ms, a->addr};
	switch (cl_merge_decide(&held, &w)) {
	case CL_MERGE_REFUTE:
		swim_refute(s, a->incarnation, now);
		return;
	case CL_MERGE_VERIFY:
		swim_rival_check(s, a, now);
		return;
	case CL_MERGE_ADD:
		m = swim_member_add(s, a->name.ptr, a->name.len, h, &a->addr,
				    a->start_ms, a->tags.ptr, a->tags.len);
		if (!m)
			return;
		if (held.former)
			swim_former_forget(s, h);
		swim_set_state(s, m, CL_STATUS_ALIVE, a->incarnation, now);
		swim_emit(s, CL_EV_JOIN, m);
		if (!s->quiet_adds)
			swim_broadcast_alive(s, m);
		return;
	case CL_MERGE_TAKE: {
		uint8_t was = m->status;
		bool moved = !cl_addr_equal(maddr(s, m), &a->addr);
		bool retagged = mtags_len(s, m) != a->tags.len ||
				(a->tags.len &&
				 memcmp(mtags(s, m), a->tags.ptr, a->tags.len) != 0);
		if (!swim_member_set_identity(s, m, &a->addr, a->start_ms,
					      a->tags.ptr, a->tags.len))
			return; /* out of memory: the news is not taken */
		if (moved)
			swim_set_heard(s, m, false);
		swim_set_state(s, m, CL_STATUS_ALIVE, a->incarnation, now);
		if (was == CL_STATUS_DEAD || was == CL_STATUS_LEFT)
			swim_emit(s, CL_EV_JOIN, m);
		else if (was != CL_STATUS_ALIVE || moved || retagged)
			swim_emit(s, CL_EV_UPDATE, m);
		swim_broadcast_alive(s, m);
		return;
	}
	case CL_MERGE_MOVE: {
		/* Not re-gossiped: the member's one broadcast slot carries the
		 * suspicion, which must go on spreading; the ALIVE spreads
		 * from where it came. */
		if (!swim_member_set_identity(s, m, &a->addr, a->start_ms,
					      a->tags.ptr, a->tags.len))
			return;
		swim_set_heard(s, m, false);
		struct suspicion *sp = suspicion_of(s, m);
		if (sp)
			sp->stale_address = false;
		tell_suspect(s, m);
		swim_emit(s, CL_EV_UPDATE, m);
		return;
	}
	default:
		return;
	}
}

void swim_merge_accuse(cl_swim *s, uint8_t kind, uint32_t inc, cl_bytes name,
		       cl_bytes accuser, bool own, cl_usec now)
{
	if (!swim_plausible(s, inc, NULL, now))
		return;
	uint64_t h = name_hash(name.ptr, name.len);
	struct member *m = swim_find_h(s, h, name.ptr, name.len);
	cl_merge_held held = held_of(s, m, h);
	cl_merge_word w = {kind, inc, 0, {0}};
	struct suspicion *sp;
	enum cl_merge_action act = cl_merge_decide(&held, &w);
	bool self_doubted = act == CL_MERGE_IGNORE && held.self &&
			    !held.leaving && kind != CL_WORD_LEFT;
	if (self_doubted) {
		/* A doubt about an older incarnation of ours: the sender
		 * gets our ALIVE (in the ack, or owed, below), and once our
		 * refutation's gossip is spent it goes round again with a
		 * fresh budget, since it missed someone (a one-way cut may
		 * keep the answer from the accuser; seed 234546).  One
		 * budget at a time bounds what a burst of stale doubts
		 * costs. */
		s->reassert = true;
		if (!mbc(s, m))
			swim_broadcast_alive(s, m);
	}
	if (act == CL_MERGE_IGNORE && s->owing && m && !held.leaving &&
	    (self_doubted || (!held.self && m->status == CL_STATUS_ALIVE)) &&
	    cl_inc_newer(m->incarnation, inc)) {
		/* A doubt about a member (us too) that has refuted it since:
		 * the sender missed the refutation, whose gossip may be
		 * spent or gone to members it cannot reach, and would go on
		 * doubting until its own timer declares a live member dead
		 * (seeds 176205, 566036).  It is told the ALIVE we hold
		 * (memberlist ignores such a doubt). */
		owe_alive(s, m);
	}
	switch (act) {
	case CL_MERGE_REFUTE:
		swim_refute(s, inc, now);
		return;
	case CL_MERGE_VERIFY:
		swim_rival_recheck(s, inc, now);
		return;
	case CL_MERGE_SUSPECT:
		swim_set_state(s, m, CL_STATUS_SUSPECT, inc, now);
		swim_suspicion_start(s, m, accuser, now);
		sp = suspicion_of(s, m);
		if (sp)
			sp->stale_address = cl_inc_newer(inc, held.incarnation);
		tell_suspect(s, m);
		swim_emit(s, CL_EV_UPDATE, m);
		swim_broadcast_accuse(s, m, CL_MSG_SUSPECT, accuser);
		return;
	case CL_MERGE_CONFIRM:
		/* An independent confirmation shortens the timer (Lifeguard)
		 * and is worth re-gossiping (as a doubt: a verdict we heard is
		 * not ours to announce). */
		sp = suspicion_of(s, m);
		if (sp && own && sp->stale_address)
			return;
		if (sp && swim_suspicion_confirm(s, sp, accuser, now))
			swim_broadcast_accuse(s, m, CL_MSG_SUSPECT, accuser);
		return;
	case CL_MERGE_DEAD:
		swim_set_state(s, m, CL_STATUS_DEAD, inc, now);
		swim_emit(s, CL_EV_FAIL, m);
		swim_broadcast_accuse(s, m, CL_MSG_DEAD, accuser);
		return;
	case CL_MERGE_LEFT:
		swim_set_state(s, m, CL_STATUS_LEFT, inc, now);
		swim_emit(s, CL_EV_LEAVE, m);
		swim_broadcast_accuse(s, m, CL_MSG_DEAD, name);
		return;
	default:
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Driving                                                             */
/* ------------------------------------------------------------------ */

/* The ALIVEs owed to a datagram's sender (swim_merge_accuse), in one
 * datagram of their own; ours not again if the ack to its ping carried
 * it.  The sender's name is not known here, so the datagram is addressed
 * to any recipient (id 0). */
static void send_owed(cl_swim *s, const cl_addr *to)
{
	cl_wbuf w;
	swim_begin(s, &w);
	bool any = false;
	for (unsigned i = 0; i < s->n_owed; i++) {
		const struct member *m = mslot(s, s->owed[i]);
		if (m == self(s) && s->reasserted)
			continue;
		if (m && m->used && m->status == CL_STATUS_ALIVE)
			any |= cl_wire_put_alive(&w, m->incarnation,
						 mstart(s, m), mname_bytes(s, m),
						 maddr(s, m), mtags_bytes(s, m));
	}
	s->n_owed = 0;
	if (!any)
		return;
	s->stats.stale_doubts_answered++;
	swim_transmit(s, to, 0, &w, false);
}

void cl_swim_feed(cl_swim *s, cl_usec now, const cl_addr *sender,
		  const uint8_t *buf, size_t len, bool stream)
{
	if (s->left || s->superseded)
		return;
	swim_pushpull_clock(s, now);
	/* A copy: what we send while reading may move the owner's record
	 * of the sender (the simulator's packet pool grows). */
	const cl_addr from_copy = *sender;
	const cl_addr *from = &from_copy;
	s->stats.bytes_in += len;
	if (stream)
		s->stats.streams_in++;
	else
		s->stats.packets_in++;
	cl_wire_msg *msgs = idents_msgs(s->ids, s->max_msgs);
	if (!msgs) {
		s->stats.drops[CL_DROP_MALFORMED]++;
		return;
	}
	int n = cl_wire_parse(buf, len, s->label, s->label_len,
			      stream ? CL_WIRE_STREAM_MAX : s->cfg.timing.mtu,
			      stream, msgs, s->max_msgs);
	if (n < 0) {
		int reason = -n;
		if (reason >= CL_DROP__COUNT)
			reason = CL_DROP_MALFORMED;
		s->stats.drops[reason]++;
		return;
	}
	s->reassert = false;
	s->reasserted = false;
	s->owing = !stream;
	s->n_owed = 0;
	for (int i = 0; i < n; i++) {
		const cl_wire_msg *msg = &msgs[i];
		if (msg->type == CL_MSG_ALIVE)
			swim_prefetch(s, msg->u.alive.name.ptr,
				      msg->u.alive.name.len);
		else if (msg->type == CL_MSG_SUSPECT || msg->type == CL_MSG_DEAD)
			swim_prefetch(s, msg->u.accuse.member.ptr,
				      msg->u.accuse.member.len);
	}
	for (int i = 0; i < n && !s->superseded; i++) {
		const cl_wire_msg *msg = &msgs[i];
		switch (msg->type) {
		case CL_MSG_PING:
			swim_on_ping(s, msg, from, stream, now);
			break;
		case CL_MSG_PING_REQ:
			swim_on_ping_req(s, msg, now);
			break;
		case CL_MSG_ACK:
		case CL_MSG_NACK:
			swim_on_ack(s, msg->type, msg->u.ack.seq, from, stream,
				    now);
			break;
		case CL_MSG_ALIVE:
			s->stats.gossip_words_in++;
			swim_merge_alive(s, &msg->u.alive, now);
			break;
		case CL_MSG_SUSPECT:
			s->stats.gossip_words_in++;
			swim_merge_accuse(s, CL_WORD_SUSPECT,
					  msg->u.accuse.incarnation,
					  msg->u.accuse.member,
					  msg->u.accuse.accuser, false, now);
			break;
		case CL_MSG_DEAD: {
			/* A member accusing itself is announcing its leave. */
			cl_bytes mb = msg->u.accuse.member;
			cl_bytes ab = msg->u.accuse.accuser;
			s->stats.gossip_words_in++;
			bool left = mb.len == ab.len &&
				    memcmp(mb.ptr, ab.ptr, mb.len) == 0;
			swim_merge_accuse(s, left ? CL_WORD_LEFT : CL_WORD_DEAD,
					  msg->u.accuse.incarnation, mb, ab,
					  false, now);
			break;
		}
		case CL_MSG_PUSHPULL:
			swim_on_pushpull(s, msg, from, false, now);
			break;
		case CL_MSG_DIGEST:
			swim_on_digest(s, msg, from);
			break;
		case CL_MSG_USER:
			if (s->io.user && !s->leaving)
				s->io.user(s->io.ctx, from, msg, stream);
			else
				s->stats.drops[CL_DROP_UNEXPECTED]++;
			break;
		default:
			s->stats.drops[CL_DROP_UNEXPECTED]++;
			break;
		}
	}
	s->owing = false;
	if (s->n_owed && !s->superseded && !s->leaving)
		send_owed(s, from);
	s->n_owed = 0;
}

void cl_swim_tick(cl_swim *s, cl_usec now)
{
	if (s->left || s->superseded)
		return;
	swim_pushpull_clock(s, now);
	const cl_swim_timing *t = &s->cfg.timing;
	if (s->leaving) {
		if (now >= s->next_gossip) {
			swim_gossip_round(s, now);
			s->next_gossip = now + t->gossip_interval;
		}
		if (now >= s->leave_deadline)
			s->left = true;
		return;
	}
	swim_detector_tick(s, now);
	if (s->superseded)
		return;
	if (now >= s->next_gossip && s->bq_len > 0) {
		swim_gossip_round(s, now);
		s->next_gossip = now + t->gossip_interval;
	}
	swim_antientropy_tick(s, now);
}

cl_usec cl_swim_next_deadline(const cl_swim *s)
{
	if (s->left || s->superseded)
		return CL_NEVER;
	/* With nothing queued a gossip round sends nothing: no reason to
	 * wake up for it (an idle node wakes only for its probes).  Once
	 * something is queued, a past gossip deadline makes the owner tick
	 * at once. */
	cl_usec d = s->bq_len > 0 ? s->next_gossip : CL_NEVER;
	if (s->leaving)
		return d < s->leave_deadline ? d : s->leave_deadline;
	d = swim_detector_deadline(s, d);
	cl_usec others[] = {s->next_pushpull, s->next_join_retry,
			    s->next_dead_retry, s->next_reap};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (others[i] < d)
			d = others[i];
	return d;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static bool timing_valid(const cl_swim_timing *t)
{
	/* The indirect phase is what is left of the interval after the
	 * timeout: it must not be empty. */
	return t->probe_interval > 0 && t->probe_timeout > 0 &&
	       t->probe_timeout < t->probe_interval &&
	       t->gossip_interval > 0 && t->pushpull_interval > 0 &&
	       t->sync_min_interval >= 0 && t->dead_retry_interval > 0 &&
	       t->tombstone_timeout > 0 && t->reconnect_timeout > 0 &&
	       t->leave_linger >= 0 && t->retransmit_mult >= 1 &&
	       t->retransmit_mult <= 8 && t->suspicion_mult >= 1 &&
	       t->suspicion_max_mult >= 1 && t->awareness_max >= 1 &&
	       t->mtu >= CL_WIRE_MTU_MIN && t->mtu <= 65000;
}

cl_swim *cl_swim_new(const cl_swim_config *cfg, const cl_swim_io *io,
		     cl_usec now, int *err)
{
	int e = CLOISTER_EINVAL;
	cl_swim *s = NULL;
	if (!cfg || !io || !io->send || !io->rand || !cfg->label || !cfg->name)
		goto fail;
	size_t label_len = strlen(cfg->label);
	size_t name_len = strlen(cfg->name);
	size_t tags_max = cfg->tags_max ? cfg->tags_max : 512;
	if (label_len > CL_WIRE_LABEL_MAX ||
	    !cl_wire_name_valid((const uint8_t *)cfg->name, name_len) ||
	    tags_max > CL_WIRE_TAGS_MAX || cfg->tags_len > tags_max ||
	    (cfg->tags_len && !cl_wire_tags_valid(cfg->tags, cfg->tags_len,
						  tags_max)) ||
	    (cfg->addr.family != CL_AF_INET4 && cfg->addr.family != CL_AF_INET6) ||
	    cfg->proto_min > CL_PROTO_MAX || !timing_valid(&cfg->timing))
		goto fail;

	e = CLOISTER_ENOMEM;
	s = calloc(1, sizeof *s);
	if (!s)
		goto fail;
	s->cfg = *cfg;
	s->io = *io;
	s->created = now;
	s->susp_next = CL_NEVER;
	memcpy(s->label, cfg->label, label_len);
	s->label_len = label_len;
	s->tags_max = tags_max;
	s->max_members = cfg->max_members ? cfg->max_members : 65536;
	if (s->max_members > MEMBERS_MAX)
		s->max_members = MEMBERS_MAX;
	s->evq_max = cfg->event_queue_max ? cfg->event_queue_max
					  : EVENT_QUEUE_DEFAULT;
	if (cfg->idents) {
		s->ids = cfg->idents;
		idents_hold(s->ids);
	} else {
		s->ids = cl_swim_idents_new();
	}
	s->cfg.idents = NULL;
	s->cap = 16;
	s->order = malloc(s->cap * sizeof *s->order);
	/* The smallest message (ACK) is 7 bytes: no packet within the MTU
	 * holds more than mtu/7 of them.  Streams carry one PUSHPULL. */
	s->max_msgs = cfg->timing.mtu / 7 + 1;
	if (s->max_msgs > CL_WIRE_MAX_MSGS)
		s->max_msgs = CL_WIRE_MAX_MSGS;
	s->pkt = malloc(cfg->timing.mtu);
	if (!s->ids || !s->order || !s->pkt ||
	    !idents_msgs(s->ids, s->max_msgs))
		goto fail;
	/* Random, so acks meant for a previous process at this address
	 * (late, or replayed) do not match our probes. */
	s->seq = (uint32_t)rnd(s);

	struct member *me =
		swim_member_add(s, (const uint8_t *)cfg->name, name_len,
				name_hash((const uint8_t *)cfg->name, name_len),
				&cfg->addr, cfg->start_ms, cfg->tags,
				cfg->tags_len);
	if (!me)
		goto fail;
	swim_set_state(s, me, CL_STATUS_ALIVE, cfg->incarnation, now);
	s->cfg.label = s->label;
	s->cfg.name = mname(s, me);
	s->cfg.tags = NULL;
	swim_emit(s, CL_EV_JOIN, me);
	swim_broadcast_alive(s, me);

	const cl_swim_timing *t = &cfg->timing;
	/* Spread the first timers over one period, so nodes started together
	 * do not probe and gossip in lockstep. */
	s->next_probe = now + (cl_usec)rnd_below(s, (size_t)t->probe_interval);
	s->next_gossip = now + (cl_usec)rnd_below(s, (size_t)t->gossip_interval);
	s->next_pushpull = now + t->pushpull_interval +
			   (cl_usec)rnd_below(s, (size_t)t->pushpull_interval);
	s->next_dead_retry = now + t->dead_retry_interval +
			     (cl_usec)rnd_below(s, (size_t)t->dead_retry_interval);
	s->next_reap = now + CL_SEC;
	s->next_join_retry = CL_NEVER;
	s->last_sync = now - t->sync_min_interval;
	s->last_mismatch = now; /* no evidence of agreement yet */
	s->leave_deadline = CL_NEVER;
	s->probe_idx = 1;
	return s;
fail:
	cl_swim_free(s);
	if (err)
		*err = e;
	return NULL;
}

void cl_swim_free(cl_swim *s)
{
	if (!s)
		return;
	swim_bcast_free_all(s);
	swim_members_free(s);
	free(s->pkt);
	free(s->evq);
	free(s);
}

int cl_swim_join(cl_swim *s, cl_usec now, const cl_addr *seeds, size_t n)
{
	if (s->leaving || s->superseded)
		return CLOISTER_ESTATE;
	if (n > SEEDS_MAX)
		n = SEEDS_MAX;
	for (size_t i = 0; i < n; i++) {
		if (cl_addr_equal(&seeds[i], maddr(s, self(s))))
			continue;
		bool dup = false;
		for (size_t j = 0; j < s->n_seeds; j++)
			dup |= cl_addr_equal(&s->seeds[j], &seeds[i]);
		if (!dup && s->n_seeds < SEEDS_MAX)
			s->seeds[s->n_seeds++] = seeds[i];
		swim_send_pushpull(s, &seeds[i], 0, CL_PUSHPULL_JOIN);
	}
	/* The first retry comes after one probe interval, well before the
	 * backoff's dead_retry/3: an answer takes milliseconds, and a
	 * connection caught in TCP retransmission under datagram loss (200 ms,
	 * 400 ms, 800 ms, ... before it gets through) is better raced by a
	 * fresh one.  The simulator at 10% loss: join convergence's upper
	 * quartile 3.0 s with the retry at 5 s, 1.75 s with it at 1 s. */
	s->next_join_retry = now + s->cfg.timing.probe_interval;
	return 0;
}

void cl_swim_leave(cl_swim *s, cl_usec now)
{
	if (s->leaving)
		return;
	struct member *me = self(s);
	s->leaving = true;
	if (s->superseded) {
		/* The name is someone else's now: say nothing about it. */
		s->left = true;
		return;
	}
	swim_set_state(s, me, CL_STATUS_LEFT, me->incarnation, now);
	swim_broadcast_accuse(s, me, CL_MSG_DEAD, mname_bytes(s, me));
	s->leave_deadline = now + s->cfg.timing.leave_linger;
	swim_gossip_round(s, now);
	s->next_gossip = now + s->cfg.timing.gossip_interval;
}

bool cl_swim_left(const cl_swim *s)
{
	return s->left;
}

int cl_swim_set_tags(cl_swim *s, cl_usec now, const uint8_t *tags, size_t len)
{
	if (s->leaving || s->superseded)
		return CLOISTER_ESTATE;
	if (len > s->tags_max || (len && !cl_wire_tags_valid(tags, len, s->tags_max)))
		return CLOISTER_EINVAL;
	struct member *me = self(s);
	if (!swim_member_set_identity(s, me, maddr(s, me), mstart(s, me), tags,
				      len))
		return CLOISTER_ENOMEM;
	swim_set_state(s, me, CL_STATUS_ALIVE, me->incarnation + 1, now);
	swim_emit(s, CL_EV_UPDATE, me);
	swim_broadcast_alive(s, me);
	return 0;
}

int cl_swim_force_leave(cl_swim *s, cl_usec now, const char *name, size_t len)
{
	if (len == 0 || len > CL_WIRE_NAME_MAX)
		return CLOISTER_ENOENT;
	struct member *m = swim_find(s, (const uint8_t *)name, len);
	if (!m)
		return CLOISTER_ENOENT;
	if (m == self(s) || s->leaving || s->superseded ||
	    (m->status != CL_STATUS_DEAD && m->status != CL_STATUS_SUSPECT))
		return CLOISTER_ESTATE;
	/* The member's own leave at the incarnation we hold: LEFT outranks
	 * DEAD and SUSPECT at one incarnation everywhere (merge.h), and a
	 * live member refutes it like any accusation. */
	swim_set_state(s, m, CL_STATUS_LEFT, m->incarnation, now);
	swim_emit(s, CL_EV_LEAVE, m);
	swim_broadcast_accuse(s, m, CL_MSG_DEAD, mname_bytes(s, m));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Protocol versions                                                   */
/* ------------------------------------------------------------------ */

bool cl_swim_tags_proto(const uint8_t *tags, size_t len, uint8_t *min,
			uint8_t *max)
{
	cl_bytes all = {tags, len}, k, v;
	size_t pos = 0, klen = strlen(CL_PROTO_TAG);
	while (cl_wire_tag_next(&all, &pos, &k, &v)) {
		if (k.len != klen || memcmp(k.ptr, CL_PROTO_TAG, klen) != 0)
			continue;
		/* "A-B", each one to three digits, A <= B, A >= 1. */
		unsigned x[2] = {0, 0};
		size_t i = 0;
		for (int part = 0; part < 2; part++) {
			size_t start = i;
			while (i < v.len && i - start < 3 && v.ptr[i] >= '0' &&
			       v.ptr[i] <= '9')
				x[part] = x[part] * 10 + (unsigned)(v.ptr[i++] - '0');
			if (i == start)
				return false;
			if (part == 0 && (i >= v.len || v.ptr[i++] != '-'))
				return false;
		}
		if (i != v.len || x[0] < 1 || x[0] > x[1] || x[1] > 255)
			return false;
		*min = (uint8_t)x[0];
		*max = (uint8_t)x[1];
		return true;
	}
	return false;
}

uint8_t cl_swim_proto_min(const cl_swim *s)
{
	return s->cfg.proto_min ? s->cfg.proto_min : CL_PROTO_MAX;
}

uint8_t swim_proto_of(const cl_swim *s, const struct member *m)
{
	uint8_t lo = cl_swim_proto_min(s), pmin, pmax;
	if (!cl_swim_tags_proto(mtags(s, m), mtags_len(s, m), &pmin, &pmax))
		return lo; /* predates negotiation: the oldest we speak */
	uint8_t best = pmax < CL_PROTO_MAX ? pmax : CL_PROTO_MAX;
	return best >= lo && best >= pmin ? best : 0;
}

uint8_t cl_swim_peer_proto(const cl_swim *s, uint64_t id)
{
	const struct member *m = swim_find_hash(s, id);
	return m ? swim_proto_of(s, m) : 0;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

const char *cl_swim_name(const cl_swim *s)
{
	return mname(s, self(s));
}

uint64_t cl_swim_name_id(const void *name, size_t len)
{
	return name_hash(name, len);
}

uint32_t cl_swim_incarnation(const cl_swim *s)
{
	return self(s)->incarnation;
}

size_t cl_swim_count(const cl_swim *s, enum cl_member_status st)
{
	return (unsigned)st < 4 ? s->counts[st] : 0;
}

uint64_t cl_swim_checksum(const cl_swim *s)
{
	return s->checksum;
}

size_t cl_swim_count_heard(const cl_swim *s)
{
	return s->heard_live + live(self(s)->status);
}

uint64_t cl_swim_heard_generation(const cl_swim *s)
{
	return s->heard_gen;
}

unsigned cl_swim_health(const cl_swim *s)
{
	return s->health;
}

const cl_swim_stats *cl_swim_get_stats(const cl_swim *s)
{
	return &s->stats;
}

static void view_of(const cl_swim *s, const struct member *m,
		    cl_swim_member_view *v)
{
	v->name = mname(s, m);
	v->name_len = mname_len(s, m);
	v->status = m->status;
	v->incarnation = m->incarnation;
	v->start_ms = mstart(s, m);
	v->addr = *maddr(s, m);
	v->tags = mtags(s, m);
	v->tags_len = mtags_len(s, m);
	v->heard = m->heard || m == self(s);
}

bool cl_swim_lookup(const cl_swim *s, const char *name, size_t len,
		    cl_swim_member_view *out)
{
	if (len == 0 || len > CL_WIRE_NAME_MAX)
		return false;
	const struct member *m = swim_find(s, (const uint8_t *)name, len);
	if (!m)
		return false;
	if (out)
		view_of(s, m, out);
	return true;
}

bool cl_swim_superseded(const cl_swim *s, cl_swim_member_view *claimant)
{
	if (!s->superseded)
		return false;
	if (claimant) {
		view_of(s, self(s), claimant);
		claimant->addr = s->rival_addr;
		claimant->start_ms = s->rival_start_ms;
		claimant->incarnation = s->rival_incarnation;
	}
	return true;
}

bool cl_swim_suspicion(const cl_swim *s, const char *name, size_t len,
		       cl_swim_suspicion_view *out)
{
	if (len == 0 || len > CL_WIRE_NAME_MAX)
		return false;
	struct member *m = swim_find(s, (const uint8_t *)name, len);
	const struct suspicion *sp = m ? suspicion_of(s, m) : NULL;
	if (!sp)
		return false;
	*out = (cl_swim_suspicion_view){sp->start, sp->deadline,
					sp->confirmations, sp->k};
	return true;
}

void cl_swim_foreach(const cl_swim *s,
		     bool (*fn)(void *arg, const cl_swim_member_view *m),
		     void *arg)
{
	for (size_t i = 0; i < s->n; i++) {
		cl_swim_member_view v;
		view_of(s, member_at(s, i), &v);
		if (!fn(arg, &v))
			return;
	}
}
