/*
 * merge.h — the membership merge rules: what one word about a member
 * (ALIVE, SUSPECT, DEAD, LEFT) does to what we hold about it.
 *
 * Pure functions of two small values, no state, no I/O: the one place a
 * reader checks cloister's rules against the SWIM and Lifeguard papers and
 * memberlist's state.go, and the place test_merge_table.c walks
 * exhaustively (every held state x every word x lower / equal / higher
 * incarnation x self or other x same or other address x older or newer
 * process).  swim.c applies the decision; the decision never depends on
 * timers, queues or randomness.
 *
 * The table (i = held incarnation, j = the word's, "newer" in serial-number
 * order, see cl_inc_newer):
 *
 *   about another member     ALIVE@j        SUSPECT@j,DEAD@j  LEFT@j     own verdict@j
 *   -----------------------  -------------  ----------------  ---------  -------------
 *   unknown                  ADD            ignore            ignore     -
 *   reaped (former) at i     ADD if j > i   ignore            ignore     -
 *   alive@i                  TAKE if j > i  SUSPECT j>=i      LEFT j>=i  DEAD j>=i
 *   suspect@i                TAKE if j > i  CONFIRM j=i       LEFT j>=i  DEAD j>=i
 *   dead@i                   TAKE if j > i  ignore            LEFT j>=i  ignore
 *   left@i                   TAKE if j > i  ignore            ignore     ignore
 *
 *   TAKE if j > i; held alive@i, also if j = i and the word comes from a
 *   newer process than the one we hold (start_ms, then address:
 *   cl_merge_process_newer).  Held suspect@i, that newer process at j = i
 *   is a MOVE: its address, start and tags, under the running suspicion.
 *
 *   about ourselves (not leaving; leaving ignores everything)
 *   ALIVE@j, our address     REFUTE if j > i, or j = i with other tags or
 *                            another start (an older picture of us)
 *   ALIVE@j, other address   by process age (start_ms, then address):
 *                              the claimant is older: REFUTE if j >= i
 *                              the claimant is newer: VERIFY if j >= i
 *                              (ping it; an answer means we are the stale
 *                              process and yield the name, silence means
 *                              a ghost and we refute)
 *   SUSPECT/DEAD/LEFT@j      REFUTE if j >= i; but VERIFY if j > i and a
 *                            rival was checked before (a number we never
 *                            had: the rival taken for a ghost, its every
 *                            answer lost, most likely holds it; refuted
 *                            at once, the two outbid each other)
 *
 * Where these depart from memberlist, and why:
 *   - A doubt about another member below the incarnation we hold it
 *     alive at is ignored here, but swim.c answers its sender with our
 *     ALIVE: the sender missed a refutation (memberlist says nothing).
 *   - Only our own suspicion timer declares a member dead.  A failure
 *     verdict (DEAD) heard from another node starts a suspicion, or
 *     confirms the running one, like a SUSPECT; memberlist takes it as
 *     final at once.  Normally nothing changes: the SUSPECT spreads in a
 *     second or two and every node's timer, shortened by the confirmations
 *     (the verdicts among them), ends near the first one's.  But a verdict
 *     reached on the far side of a partition, or by a node that could
 *     reach nobody, arrives after the heal as news about a member that is
 *     alive and reachable; taken as final it would kill that member on
 *     every node and flap it back in on its refutation (the property
 *     simulator found it: seed 27, a one-node minority; a verdict counted
 *     final only on top of a suspicion was not enough, since the minority
 *     retransmits it, and a two-node minority corroborates itself).  As a
 *     suspicion it is refuted within a round trip.
 *   - SUSPECT (or a verdict heard) about a member already suspect never
 *     moves the running suspicion's number: moving it would let a
 *     suspicion raised after a refutation swallow that refutation, the
 *     ALIVE@j then losing to the SUSPECT@j we hold, with the old timer
 *     still running (issue 12, defect 1).  And it confirms the suspicion
 *     only at the same incarnation; memberlist confirms at any.  A doubt
 *     at a newer number says the member has refuted ours since; counted
 *     as a confirmation, it cut a suspicion that had run unconfirmed past
 *     its minimum to a deadline already passed, and a live member died on
 *     the spot while its refutation was on the way (the property checker:
 *     seeds 73692, 83297).  Ignored, our timer runs on unshortened, and
 *     the refutation, or our own probes' failures, end it.
 *   - LEFT outranks DEAD at one incarnation: a graceful leave racing a
 *     failure verdict must end as "left" everywhere, or hooks diverge.
 *   - A restart at another address supersedes its old self (memberlist
 *     refuses a conflicting address while the old entry lives), and two
 *     live processes with one name settle on the newer one instead of
 *     refuting each other forever.  Two processes that chose the same
 *     incarnation (started within one second) settle the same way: the
 *     newer is taken at an equal number, and the membership checksum
 *     counts the process (its start and its address, the order's two
 *     keys), so nodes that took different ones disagree and sync, the
 *     older process among them.  memberlist ignores an equal
 *     incarnation, and with it cloister's views stayed split for good
 *     (the property checker, seeds 759, 5535, 42863, 65287, 130827 under
 *     variants; 1091200, two processes started in one millisecond).
 *   - A suspicion follows its member to a newer process's address (MOVE).
 *     A SUSPECT at a number above ours carries no address; taken before
 *     the ALIVE at that number that carries a restarted member's new
 *     address, it left us probing and reminding the old address, where
 *     nobody answers, until our timer killed a live member (seed 102152).
 *     The status and the timer stay: only a refutation above the number
 *     ends a suspicion.
 *   - Incarnations compare as serial numbers (RFC 1982), and the core
 *     refuses words whose incarnation or start time its clock calls
 *     impossible (swim.c), so neither a wrap nor a forged maximum can
 *     evict or take over a member.
 *   - A reaped member is remembered compactly for a while (a "former"), so
 *     a stale ALIVE arriving after the reap cannot resurrect it.
 */
#ifndef CLOISTER_CORE_MERGE_H
#define CLOISTER_CORE_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* a is newer than b in serial-number arithmetic: correct across the
 * 2^32 wrap while the two are within 2^31 of each other, which the clock
 * checks on incoming incarnations keep true. */
static inline bool cl_inc_newer(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool cl_inc_at_least(uint32_t a, uint32_t b)
{
	return a == b || cl_inc_newer(a, b);
}

enum cl_merge_word_kind {
	CL_WORD_ALIVE = 0,
	CL_WORD_SUSPECT,
	CL_WORD_DEAD,  /* a failure verdict heard (accuser != member) */
	CL_WORD_LEFT,  /* the member's own leave (accuser == member) */
	CL_WORD_VERDICT, /* our own suspicion timer ran out */
};

/* What we hold about the member the word is about. */
typedef struct cl_merge_held {
	bool known;      /* an entry in the member table */
	bool former;     /* no entry, but reaped at `incarnation` lately */
	bool self;       /* the member is this node */
	bool leaving;    /* self only: this node is leaving */
	uint8_t status;  /* CL_STATUS_*, when known */
	uint32_t incarnation;
	/* The process we hold it at (start time, address): always for
	 * ourselves; for another member only when process_known (an ALIVE
	 * at the held incarnation about a member held alive or suspect, the
	 * one word that needs it). */
	bool process_known;
	uint64_t start_ms;
	cl_addr addr;
	bool same_tags;    /* self only: the word's tags equal ours */
	/* Self only: a newer process claiming our name was checked before
	 * and taken for a ghost (detector.c keeps its address). */
	bool rival_known;
} cl_merge_held;

typedef struct cl_merge_word {
	uint8_t kind; /* enum cl_merge_word_kind */
	uint32_t incarnation;
	uint64_t start_ms; /* ALIVE */
	cl_addr addr;      /* ALIVE */
} cl_merge_word;

enum cl_merge_action {
	CL_MERGE_IGNORE = 0, /* stale, redundant, or outranked */
	CL_MERGE_ADD,        /* a new member, alive at j */
	CL_MERGE_TAKE,       /* alive at j, with the word's address, start, tags */
	CL_MERGE_MOVE,       /* the word's address, start, tags; status kept */
	CL_MERGE_SUSPECT,    /* start a suspicion at j */
	CL_MERGE_CONFIRM,    /* count the accuser on the running suspicion */
	CL_MERGE_DEAD,       /* dead at j */
	CL_MERGE_LEFT,       /* left at j */
	CL_MERGE_REFUTE,     /* about us: announce ourselves above j */
	CL_MERGE_VERIFY,     /* about us, from a newer process elsewhere */
	CL_MERGE__COUNT
};

enum cl_merge_action cl_merge_decide(const cl_merge_held *h,
				     const cl_merge_word *w);

/* Whether process (start_a, addr_a) started after (start_b, addr_b): the
 * later start wins; equal starts are ordered by address bytes, so two
 * processes always agree on which of them is newer. */
bool cl_merge_process_newer(uint64_t start_a, const cl_addr *addr_a,
			    uint64_t start_b, const cl_addr *addr_b);

const char *cl_merge_action_name(enum cl_merge_action a);

#endif
