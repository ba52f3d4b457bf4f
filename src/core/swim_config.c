/*
 * swim_config.c — timing profiles and why each default has its value.
 *
 * The LAN profile matches memberlist's DefaultLANConfig wherever the two
 * protocols have the same knob, so a side-by-side run compares like with
 * like, except the suspicion multiplier (3, not 4: the comment says why);
 * where cloister has a knob memberlist lacks, the comment says how the
 * value was chosen.
 */
#include "swim.h"

void cl_swim_timing_profile(cl_swim_timing *t, enum cl_profile p)
{
	/* One probe per second per node: each member is probed by about one
	 * node per second, so a crash is noticed in ~1 s on average while the
	 * load stays one ping + one ack per node per second at any N. */
	t->probe_interval = 1 * CL_SEC;
	/* Half the interval leaves the other half for the indirect round;
	 * a LAN round trip is well under 1 ms, so 500 ms only trips on a
	 * node that is genuinely stalled. */
	t->probe_timeout = 500 * CL_MSEC;
	/* Gossip five times per probe period: updates travel mostly on these
	 * rounds, and log(N) rounds of fan-out 3 reach 10,000 nodes in ~2 s. */
	t->gossip_interval = 200 * CL_MSEC;
	t->gossip_nodes = 3;
	/* Three relays: the chance that all three paths fail at 10% loss is
	 * (1 - 0.9^4)^3 ~= 3%, against 34% for a direct probe alone. */
	t->indirect_checks = 3;
	/* lambda = 4: retransmitting each update 4*log10(N+1) times reaches
	 * every node with high probability (SWIM section 4.1, memberlist). */
	t->retransmit_mult = 4;
	/* Suspicion lasts at least 3*log10(N) intervals and at most 6x that
	 * while nobody confirms it (Lifeguard's alpha and beta; memberlist's
	 * SuspicionMaxTimeoutMult).  memberlist's SuspicionMult is 4: ours is
	 * 3 because the stream fallback ping and nacks stop most false
	 * suspicions before they start, and the simulator's curve
	 * (bench/detection_curve.py, BENCHMARKS.md) finds no false positive
	 * with 3 at loss up to 20%, a slow node or pauses up to 5 s, while a
	 * crash is declared 2 intervals sooner; 2 starts false deaths at 20%.
	 * K, the confirmations that bring it to the minimum, is
	 * suspicion_mult - 2 as in memberlist (detector.c). */
	t->suspicion_mult = 3;
	t->suspicion_max_mult = 6;
	/* Lifeguard's local health ceiling, as a multiplier (memberlist's
	 * AwarenessMaxMultiplier): a node that keeps failing probes stretches
	 * its own interval and timeout up to 8x. */
	t->awareness_max = 8;
	/* Full-state anti-entropy every 30 s (memberlist's LAN value); the core
	 * scales it with log2(N/32) so a 10,000-node cluster is not busy
	 * shipping full states. */
	t->pushpull_interval = 30 * CL_SEC;
	/* A checksum mismatch syncs at most every 10 s per node: enough to fix
	 * a missed update within one period, bounded cost at large N. */
	t->sync_min_interval = 10 * CL_SEC;
	/* Partition healing: every 15 s each node tries one dead member with a
	 * push-pull (Serf's reconnect is 30 s; healing faster than a typical
	 * container restart is worth one small stream per 15 s). */
	t->dead_retry_interval = 15 * CL_SEC;
	/* Keep members that left an hour: far beyond any rumour's lifetime
	 * (seconds), bounded by max_members anyway. */
	t->tombstone_timeout = 3600 * CL_SEC;
	/* Keep failed members, and retry them with backoff, for a day
	 * (Serf's reconnect_timeout): a partition shorter than that heals by
	 * itself, with or without a sentry to re-resolve. */
	t->reconnect_timeout = 24 * 3600 * CL_SEC;
	/* Keep gossiping our leave for a second: at 5 rounds/s and fan-out 3
	 * that is 15 direct sends, enough for the epidemic to take over. */
	t->leave_linger = 1 * CL_SEC;
	t->mtu = 1400;

	switch (p) {
	case CL_PROFILE_LAN:
		break;
	case CL_PROFILE_LOCAL:
		/* Loopback: memberlist's DefaultLocalConfig timing (probe
		 * timeout, gossip interval, suspicion, push-pull).  Unlike it we
		 * keep three indirect checks and lambda = 4 rather than 1 and
		 * 2: loopback loses nothing, but a test machine under
		 * sanitizers stalls processes for hundreds of milliseconds, and
		 * the extra relays and retransmissions cost a few packets a
		 * second. */
		t->probe_interval = 1 * CL_SEC;
		t->probe_timeout = 200 * CL_MSEC;
		t->gossip_interval = 100 * CL_MSEC;
		t->suspicion_mult = 3;
		t->pushpull_interval = 15 * CL_SEC;
		t->dead_retry_interval = 5 * CL_SEC;
		t->leave_linger = 500 * CL_MSEC;
		break;
	case CL_PROFILE_WAN:
		/* memberlist's DefaultWANConfig: slower, more patient. */
		t->probe_interval = 5 * CL_SEC;
		t->probe_timeout = 3 * CL_SEC;
		t->gossip_interval = 500 * CL_MSEC;
		t->gossip_nodes = 4;
		t->suspicion_mult = 6;
		t->pushpull_interval = 60 * CL_SEC;
		t->sync_min_interval = 30 * CL_SEC;
		t->dead_retry_interval = 30 * CL_SEC;
		t->leave_linger = 3 * CL_SEC;
		break;
	}
}
