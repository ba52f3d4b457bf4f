/*
 * antientropy.c — full-state exchanges and what keeps a view whole when
 * gossip is not enough: push-pull (join, periodic, checksum-triggered),
 * the agreement that makes a periodic one redundant, dead retry (partition
 * healing), join retry, and reaping tombstones.
 *
 * Push-pull.  A node sends every member it knows, self included, over a
 * stream; the receiver merges each entry by the ordinary rules (a remote
 * "dead" only makes us suspect, as in memberlist: we may know better, and
 * if not our own timer finishes the job) and answers with its own state.
 * A state larger than PUSHPULL_FRAME_BYTES goes out as several frames, all
 * but the last flagged MORE; the answer follows the last.  Nothing is cut
 * short: 65,536 members with maximal names and tags (~86 MB) still go out
 * whole, a frame at a time, and a receiver never buffers more than one.
 *
 * Agreement.  Every ping carries the sender's checksum.  When the last
 * AGREEMENT_PINGS probe intervals brought at least AGREEMENT_PINGS pings
 * and all of them carried our checksum, a periodic push-pull would repeat
 * what both sides hold, and up to PUSHPULL_MAX_SKIPS in a row are skipped.
 * Silence is not agreement: a node nobody pings syncs every period.
 *
 * Partition healing.  A node holds the members it lost in a partition as
 * dead; nobody probes or gossips to the dead, so without help the halves
 * would never meet again.  Every dead_retry_interval a node pings one dead
 * member and push-pulls with it if it answers.  Each dead member backs off
 * (1, 2, then 4 intervals between retries), so members dead for long (the
 * departed containers of last week) do not crowd out those a partition
 * just cut off.  Dead members are kept for reconnect_timeout (Serf's
 * reconnect window, 24 h by default), far beyond tombstone_timeout, which
 * applies to members that left; a partition shorter than that heals with
 * no sentry and no operator.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "swim_internal.h"

/* Periodic push-pulls skipped in a row while every ping agrees with our
 * checksum (which a missed update would break at once, triggering a sync
 * of its own).  3: a full exchange at least every 4 periods (2 to 4 min
 * by default) still catches the rare XOR collision and spreads tombstones;
 * at N = 100 it cuts the idle anti-entropy bytes by three quarters. */
#define PUSHPULL_MAX_SKIPS 3
/* Agreement is judged on the pings of this many probe intervals, and needs
 * at least this many of them: a node is pinged about once an interval by
 * a random peer, so ten agreeing pings sample ten views. */
#define AGREEMENT_PINGS 10
/* One push-pull frame carries at most about this many bytes of members:
 * large enough that a 10,000-node state of short names is one frame, small
 * enough that a receiver holds little before it can merge. */
#define PUSHPULL_FRAME_BYTES (1u << 20)
/* Dead-retry backoff: at most this many intervals between two retries of
 * one dead member (2^4). */
#define RETRY_BACKOFF_MAX_SHIFT 2
/* See swim_on_pushpull. */
#define PUSHPULL_NEW_MIN 4096
/* Entries of a state whose members are being loaded while one merges:
 * enough to cover a memory latency (~100 ns) with merges of ~10 ns. */
#define PREFETCH_AHEAD 8
/* An exchange's frames arrive back to back (a 1 MiB frame takes well under
 * a second even on a slow link); one whose next frame has not come within
 * this long of our being done with the previous one is over, and the next
 * frame opens a new budget. */
#define PUSHPULL_EXCHANGE_IDLE (5 * CL_SEC)
/* Members a DIGEST bucket holds, about, until the digest has its most
 * buckets: 2.  A delta carries every member of each differing bucket, so
 * while a storm keeps two views apart by D members a delta moves about
 * N*(1 - e^(-D/buckets)) entries: at 8 members a bucket (as first built)
 * a 4,000-node join moved 24.0 M state entries, at 2 it moves 16.3 M, for
 * a digest of 8 bytes per 2 members (a state entry is ~35 bytes each). */
#define DIGEST_BUCKET_MEMBERS 2

/* ------------------------------------------------------------------ */
/* Push-pull                                                           */
/* ------------------------------------------------------------------ */

/* The largest member entry: status, incarnation, start, name, IPv6
 * address, tags. */
#define MEMBER_WIRE_MAX                                                        \
	(1 + 4 + 8 + 1 + CL_WIRE_NAME_MAX + 19 + 2 + CL_WIRE_TAGS_MAX)

static size_t entry_wire_size(const cl_wire_member *wm)
{
	return 1 + 4 + 8 + 1 + wm->name.len +
	       (wm->addr.family == CL_AF_INET6 ? 19u : 7u) + 2 + wm->tags.len;
}

/* Which members a state carries: all of them, or (a delta) those whose
 * bucket at `bits` is set in want. */
struct state_filter {
	uint8_t bits;
	const uint64_t *want;
};

static bool wanted(const struct state_filter *f, uint64_t hash)
{
	if (!f)
		return true;
	size_t b = f->bits ? (size_t)(hash >> (64 - f->bits)) : 0;
	return f->want[b / 64] >> (b % 64) & 1;
}

/* The next member to send after position *pos, or NULL: the records in
 * name id order (deterministic, as the simulator needs, and sequential in
 * memory), all of them for a full state, those of the wanted buckets for a
 * delta, judged by the store's array of name hashes. */
static struct member *next_member(const cl_swim *s,
				  const struct state_filter *f, size_t *pos)
{
	size_t end = s->n_mchunks << MCHUNK_BITS;
	while (*pos < end) {
		size_t nid = *pos;
		struct member *c = s->mchunks[nid >> MCHUNK_BITS];
		if (!c) {
			*pos = (nid | MCHUNK_MASK) + 1;
			continue;
		}
		struct member *m = &c[nid & MCHUNK_MASK];
		(*pos)++;
		if (m->used &&
		    (!f || wanted(f, idents_name_hash(s->ids, (uint32_t)nid))))
			return m;
	}
	return NULL;
}

/* A state in frames of about PUSHPULL_FRAME_BYTES; the first may start
 * with a DIGEST of bits (digest non-NULL).  One walk: each frame's buffer
 * has room for a frame and one entry more, and a frame that stops short of
 * the state is flagged MORE once that is known. */
static void send_state(cl_swim *s, const cl_addr *to, uint64_t to_id,
		       uint8_t flags, const struct state_filter *f,
		       const uint64_t *digest, uint8_t digest_bits)
{
	size_t header = 16 + CL_WIRE_LABEL_MAX;
	if (digest)
		header += 5 + (8u << digest_bits);
	size_t room = s->n * (size_t)MEMBER_WIRE_MAX;
	if (room > PUSHPULL_FRAME_BYTES)
		room = PUSHPULL_FRAME_BYTES;
	size_t cap = header + room + MEMBER_WIRE_MAX;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return;
	size_t pos = 0;
	bool first = true, more = true;
	while (more) {
		cl_wbuf w;
		cl_wire_begin(&w, buf, cap, s->label, s->label_len);
		if (first && digest)
			cl_wire_put_digest(&w, CL_DIGEST_REPLY, digest_bits, digest);
		cl_wire_pushpull_begin(&w, flags);
		size_t nb = 0, bytes = 0, before = pos;
		struct member *x;
		more = false;
		while ((x = next_member(s, f, &pos))) {
			cl_wire_member wm = {
				.status = x->status,
				.incarnation = x->incarnation,
				.start_ms = mstart(s, x),
				.name = mname_bytes(s, x),
				.addr = *maddr(s, x),
				.tags = mtags_bytes(s, x),
			};
			size_t size = entry_wire_size(&wm);
			if (nb > 0 && bytes + size > PUSHPULL_FRAME_BYTES) {
				pos = before; /* x opens the next frame */
				more = true;
				break;
			}
			cl_wire_pushpull_add(&w, &wm);
			s->stats.state_members_sent++;
			bytes += size;
			nb++;
			before = pos;
		}
		if (nb == 0 && !first)
			break;
		if (more)
			cl_wire_pushpull_flag(&w, CL_PUSHPULL_MORE);
		cl_wire_pushpull_end(&w);
		swim_transmit(s, to, to_id, &w, true);
		first = false;
	}
	free(buf);
}

void swim_send_pushpull(cl_swim *s, const cl_addr *to, uint64_t to_id,
			uint8_t flags)
{
	s->stats.pushpulls++;
	send_state(s, to, to_id, flags, NULL, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Delta syncs                                                         */
/* ------------------------------------------------------------------ */

/*
 * A sync between two nodes that nearly agree should not move two full
 * states: a join burst of N nodes would make every sync carry N members,
 * and the simulator's 10,000-node join spent most of its time merging
 * members both sides already held.  So a sync starts with a DIGEST, the
 * membership checksum split into buckets by the top bits of each name's
 * hash (about DIGEST_BUCKET_MEMBERS a bucket, at most 2^12 buckets); the peer
 * answers with its own DIGEST and the members of the buckets that differ,
 * and we send ours of those buckets.  Bucket sums are kept up to date with
 * the checksum (member_table.c), at the finest resolution; coarser ones
 * fold by XOR.  What the checksum leaves out (dead and left members) the
 * periodic full exchange still carries.
 */
static uint8_t digest_bits(const cl_swim *s)
{
	uint8_t bits = 0;
	while (bits < CL_WIRE_DIGEST_BITS_MAX &&
	       ((size_t)DIGEST_BUCKET_MEMBERS << bits) < s->n)
		bits++;
	return bits;
}

static void fold_sums(const cl_swim *s, uint8_t bits, uint64_t *out)
{
	size_t n = (size_t)1 << bits;
	size_t per = (size_t)1 << (CL_WIRE_DIGEST_BITS_MAX - bits);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = 0;
		for (size_t k = 0; k < per; k++)
			x ^= s->bsum[i * per + k];
		out[i] = x;
	}
}

void swim_send_digest(cl_swim *s, const cl_addr *to, uint64_t to_id)
{
	uint64_t sums[1u << CL_WIRE_DIGEST_BITS_MAX]; /* per call: cores may
							 run in threads */
	uint8_t bits = digest_bits(s);
	fold_sums(s, bits, sums);
	uint8_t buf[16 + CL_WIRE_LABEL_MAX + 8 * (1u << CL_WIRE_DIGEST_BITS_MAX)];
	cl_wbuf w;
	cl_wire_begin(&w, buf, sizeof buf, s->label, s->label_len);
	cl_wire_put_digest(&w, 0, bits, sums);
	s->stats.digests++;
	swim_transmit(s, to, to_id, &w, true);
}

void swim_on_digest(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from)
{
	uint8_t bits = msg->u.digest.bits;
	uint64_t sums[1u << CL_WIRE_DIGEST_BITS_MAX];
	uint64_t want[(1u << CL_WIRE_DIGEST_BITS_MAX) / 64];
	fold_sums(s, bits, sums);
	memset(want, 0, sizeof want);
	size_t n = (size_t)1 << bits, differ = 0;
	for (size_t i = 0; i < n; i++)
		if (sums[i] != cl_wire_digest_sum(msg, i)) {
			want[i / 64] |= 1ull << (i % 64);
			differ++;
		}
	if (msg->u.digest.flags & CL_DIGEST_REPLY) {
		/* Our own digest's answer: its delta follows in this stream;
		 * ours goes back once it is read (swim_on_pushpull). */
		s->delta_due = true;
		s->delta_bits = bits;
		s->delta_to = *from;
		memcpy(s->delta_want, want, sizeof want);
		return;
	}
	if (s->leaving)
		return;
	struct state_filter f = {bits, want};
	s->stats.delta_syncs++;
	send_state(s, from, 0, CL_PUSHPULL_REPLY | CL_PUSHPULL_DELTA, &f, sums,
		   bits);
	(void)differ;
}

/* A dead member we never knew: kept as a tombstone (no event: we never saw
 * it alive), so that dead retry can try it.  A node that joins through the
 * minority side of a partition learns the majority only this way, as
 * members that side holds dead; ignoring them (memberlist does) leaves it
 * an island after the heal, with nobody to retry. */
static bool learn_tombstone(cl_swim *s, const cl_wire_member *wm, cl_usec now)
{
	uint64_t h = name_hash(wm->name.ptr, wm->name.len);
	if (swim_find_h(s, h, wm->name.ptr, wm->name.len))
		return false;
	uint32_t former;
	if (swim_former(s, h, &former) &&
	    cl_inc_at_least(former, wm->incarnation))
		return true;
	if (wm->tags.len > s->tags_max) {
		s->stats.drops[CL_DROP_TOO_BIG]++;
		return true;
	}
	if (!swim_plausible(s, wm->incarnation, &wm->start_ms, now))
		return true;
	struct member *m =
		swim_member_add(s, wm->name.ptr, wm->name.len, h, &wm->addr,
				wm->start_ms, wm->tags.ptr, wm->tags.len);
	if (!m)
		return true;
	swim_set_state(s, m, CL_STATUS_DEAD, wm->incarnation, now);
	return true;
}

/* A member as seen in someone's full state. */
static void merge_entry(cl_swim *s, const cl_wire_member *wm, cl_usec now)
{
	if (wm->status == CL_STATUS_DEAD && learn_tombstone(s, wm, now))
		return;
	if (wm->status == CL_STATUS_SUSPECT &&
	    !swim_find(s, wm->name.ptr, wm->name.len)) {
		/* A member we never knew, that the peer only doubts: it
		 * exists; our own probes will judge it.  (Ignored, a node
		 * that joined through a partition's minority side, whose
		 * view of the rest was all doubts, stayed an island.) */
		cl_wire_member alive = *wm;
		alive.status = CL_STATUS_ALIVE;
		swim_merge_alive(s, &alive, now);
		return;
	}
	switch (wm->status) {
	case CL_STATUS_ALIVE:
		swim_merge_alive(s, wm, now);
		break;
	case CL_STATUS_SUSPECT:
	case CL_STATUS_DEAD:
		swim_merge_accuse(s, CL_WORD_SUSPECT, wm->incarnation, wm->name,
				  mname_bytes(s, self(s)), false, now);
		break;
	case CL_STATUS_LEFT:
		swim_merge_accuse(s, CL_WORD_LEFT, wm->incarnation, wm->name,
				  wm->name, false, now);
		break;
	}
}

void swim_on_pushpull(cl_swim *s, const cl_wire_msg *msg, const cl_addr *from,
		      bool more_expected, cl_usec now)
{
	size_t pos = 0;
	cl_wire_member wm;
	/* New members one exchange may add: as many as we know, at least
	 * PUSHPULL_NEW_MIN.  A joiner still learns a cluster of any size in a
	 * few exchanges (the budget doubles with each), while one key holder's
	 * state cannot balloon the table in one go.  The budget belongs to the
	 * exchange that opened it; another peer's complete exchange read
	 * between two of its frames (the checksum-triggered sync its first
	 * frames cause, typically) spends from it rather than closing it, or
	 * every interleaving would hand the long state a fresh budget. */
	if (s->pp_open && now - s->pp_last > PUSHPULL_EXCHANGE_IDLE)
		s->pp_open = false;
	if (!s->pp_open) {
		s->pp_open = true;
		s->pp_from = *from;
		s->pp_added = 0;
		s->pp_budget =
			s->n > PUSHPULL_NEW_MIN ? s->n : PUSHPULL_NEW_MIN;
	}
	bool own = cl_addr_equal(from, &s->pp_from);
	if (own)
		s->pp_last = now;
	size_t budget = s->pp_budget;
	/* Loads started PREFETCH_AHEAD entries before their merge (see
	 * swim_prefetch). */
	size_t ahead = pos;
	cl_wire_member wa;
	for (int k = 0; k < PREFETCH_AHEAD &&
			cl_wire_member_next(&msg->u.pushpull.entries, &ahead, &wa);
	     k++)
		swim_prefetch(s, wa.name.ptr, wa.name.len);
	/* The answer to our join: every member in it is known to its sender,
	 * who spreads it; gossiping the whole cluster again would fill our
	 * queue, and every packet we send in a join storm, with old news. */
	s->quiet_adds = !s->joined &&
			(msg->u.pushpull.flags & CL_PUSHPULL_REPLY);
	uint64_t changes = s->stats.state_changes;
	while (cl_wire_member_next(&msg->u.pushpull.entries, &pos, &wm)) {
		if (cl_wire_member_next(&msg->u.pushpull.entries, &ahead, &wa))
			swim_prefetch(s, wa.name.ptr, wa.name.len);
		if (s->pp_added >= budget &&
		    !swim_find(s, wm.name.ptr, wm.name.len)) {
			s->stats.members_refused++;
			continue;
		}
		size_t before = s->n;
		s->stats.state_members_in++;
		merge_entry(s, &wm, now);
		s->pp_added += s->n > before;
	}
	s->quiet_adds = false;
	s->stats.state_news += s->stats.state_changes - changes;
	if (own && !(msg->u.pushpull.flags & CL_PUSHPULL_MORE))
		s->pp_open = false;
	/* Our merge took time the sender did not spend quiet: its idle
	 * clock starts at the next event we see (swim_pushpull_clock). */
	s->pp_stamp = s->pp_open && own;
	if ((msg->u.pushpull.flags & CL_PUSHPULL_DELTA) &&
	    !(msg->u.pushpull.flags & CL_PUSHPULL_MORE) && s->delta_due &&
	    cl_addr_equal(from, &s->delta_to)) {
		s->delta_due = false;
		if (!s->leaving) {
			struct state_filter f = {s->delta_bits, s->delta_want};
			send_state(s, from, 0,
				   CL_PUSHPULL_REPLY | CL_PUSHPULL_DELTA, &f,
				   NULL, 0);
		}
	}
	s->joined = true;
	if (msg->u.pushpull.flags & CL_PUSHPULL_REPLY)
		for (size_t i = 0; i < s->n_seeds && !s->seed_answered; i++)
			s->seed_answered = cl_addr_equal(&s->seeds[i], from);
	(void)more_expected;
	/* Answer after the last frame, so our reply already carries any
	 * refutation the merge caused. */
	if (!(msg->u.pushpull.flags & (CL_PUSHPULL_REPLY | CL_PUSHPULL_MORE)) &&
	    !s->leaving)
		swim_send_pushpull(s, from, 0, CL_PUSHPULL_REPLY);
}

/* memberlist's pushPullScale: above 32 members, one more period per
 * doubling, so full-state traffic grows like N*log N, not N^2.  (Spacing
 * checksum-triggered syncs the same way was measured and rejected: at
 * 3,000 nodes joining at once it delayed convergence past 60 s, and the
 * longer gossip stays busy the more the whole run costs.) */
cl_usec swim_pushpull_period(const cl_swim *s)
{
	cl_usec base = s->cfg.timing.pushpull_interval;
	size_t n = alive_estimate(s);
	if (n <= 32)
		return base;
	double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
	return (cl_usec)(mult * (double)base);
}

void swim_note_checksum(cl_swim *s, uint64_t checksum, cl_usec now)
{
	if (checksum != s->checksum) {
		s->last_mismatch = now;
		s->agreeing_pings = 0;
	} else if (s->agreeing_pings < UINT32_MAX) {
		s->agreeing_pings++;
	}
}

static void periodic_pushpull(cl_swim *s, cl_usec now)
{
	bool agreed = now - s->last_mismatch >=
			      AGREEMENT_PINGS * s->cfg.timing.probe_interval &&
		      s->agreeing_pings >= AGREEMENT_PINGS &&
		      s->pushpull_skips < PUSHPULL_MAX_SKIPS;
	s->agreeing_pings = 0;
	struct member *peer;
	if (agreed) {
		s->pushpull_skips++;
		s->stats.pushpulls_skipped++;
	} else if (swim_pick_random(s, &peer, 1, NULL, false) == 1) {
		/* A full exchange when the skips ran out (what the checksum
		 * leaves out: tombstones, and the rare collision), a delta when
		 * some ping disagreed. */
		if (s->pushpull_skips >= PUSHPULL_MAX_SKIPS ||
		    swim_proto_of(s, peer) < 2) /* DIGEST came with 2 */
			swim_send_pushpull(s, maddr(s, peer), mhash(s, peer), 0);
		else
			swim_send_digest(s, maddr(s, peer), mhash(s, peer));
		s->pushpull_skips = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Dead retry, join retry, reaping                                     */
/* ------------------------------------------------------------------ */

static void dead_retry(cl_swim *s, cl_usec now)
{
	size_t due = 0;
	for (struct member *m = s->tombstones.head; m; m = lnext(s, m))
		due += m->status == CL_STATUS_DEAD &&
		       maux(s, m)->retry_at <= now;
	if (due == 0 || s->retry.pending)
		return;
	/* Uniform among the due ones, so nodes that lost the same members
	 * try different ones. */
	size_t pick = rnd_below(s, due);
	for (struct member *m = s->tombstones.head; m; m = lnext(s, m)) {
		struct member_aux *a = maux(s, m);
		if (m->status != CL_STATUS_DEAD || a->retry_at > now)
			continue;
		if (pick-- != 0)
			continue;
		/* A ping first: a full state is only worth sending to a
		 * member that answers, and most dead members are dead. */
		unsigned shift = a->retries < RETRY_BACKOFF_MAX_SHIFT
					 ? a->retries
					 : RETRY_BACKOFF_MAX_SHIFT;
		a->retries++;
		a->retry_at =
			now + (s->cfg.timing.dead_retry_interval << shift);
		s->stats.dead_retries++;
		s->retry.pending = true;
		s->retry.seq = swim_next_seq(s);
		s->retry.addr = *maddr(s, m);
		s->retry.id = mhash(s, m);
		s->retry.deadline = now + s->cfg.timing.probe_interval;
		swim_send_ping(s, maddr(s, m), s->retry.seq, mname_bytes(s, m), NULL,
			       false);
		return;
	}
}

static void reap(cl_swim *s, cl_usec now)
{
	const cl_swim_timing *t = &s->cfg.timing;
	struct member *m = s->tombstones.head;
	while (m) {
		struct member *next = lnext(s, m);
		cl_usec keep = m->status == CL_STATUS_DEAD ? t->reconnect_timeout
							   : t->tombstone_timeout;
		if (m != self(s) && now - maux(s, m)->since >= keep)
			swim_member_reap(s, m, now);
		m = next;
	}
	if (s->n == 1 && s->n_seeds > 0 && s->next_join_retry == CL_NEVER)
		s->next_join_retry = now;
	swim_formers_expire(s, now);
}

void swim_antientropy_tick(cl_swim *s, cl_usec now)
{
	const cl_swim_timing *t = &s->cfg.timing;
	if (now >= s->next_pushpull) {
		periodic_pushpull(s, now);
		s->next_pushpull = now + swim_pushpull_period(s);
	}
	if (now >= s->next_join_retry) {
		s->next_join_retry = CL_NEVER;
		/* Alone (no member but us, not even a tombstone for dead
		 * retry), an answered join is as good as none: the seeds are
		 * the only way back (reap re-arms this). */
		if ((!s->seed_answered || s->n == 1) && s->n_seeds > 0) {
			for (size_t i = 0; i < s->n_seeds; i++)
				swim_send_pushpull(s, &s->seeds[i], 0,
						   CL_PUSHPULL_JOIN);
			/* Every dead_retry/3 at first (5 s), backing off to 4
			 * dead-retry intervals (1 min): an unreachable seed
			 * list costs one push-pull a minute. */
			unsigned shift = s->join_retries < 4 ? s->join_retries : 4;
			s->join_retries++;
			cl_usec next = (t->dead_retry_interval / 3) << shift;
			if (next > 4 * t->dead_retry_interval)
				next = 4 * t->dead_retry_interval;
			s->next_join_retry = now + next;
		}
	}
	if (now >= s->next_dead_retry) {
		dead_retry(s, now);
		s->next_dead_retry = now + t->dead_retry_interval;
	}
	if (now >= s->next_reap) {
		reap(s, now);
		cl_usec shortest = t->tombstone_timeout < t->reconnect_timeout
					   ? t->tombstone_timeout
					   : t->reconnect_timeout;
		cl_usec every = shortest / 8;
		s->next_reap = now + (every > CL_SEC ? every : CL_SEC);
	}
}
