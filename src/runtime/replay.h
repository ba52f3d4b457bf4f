/*
 * replay.h — a bounded memory of the sealed packets a node accepted, so
 * that a replayed one is dropped before any cryptography runs.
 *
 * The keyring's nonce is 24 random bytes (keyring.h): two genuine packets
 * never share one, so a nonce seen again is a replay.  The filter keeps
 * the last nonce per slot (slot = nonce bytes 1..8 mod CL_REPLAY_SLOTS,
 * bytes 9..24 compared), noted only after a packet authenticated, so
 * garbage cannot evict anything.  A replay of a packet still remembered
 * costs one table lookup instead of an AEAD open, a parse and a sealed
 * reply: under a flood of captured packets the node spends its time on
 * real traffic.  What it does not do: a packet whose slot has been reused
 * since (after roughly CL_REPLAY_SLOTS accepted packets: minutes of gossip)
 * opens once more; SWIM tolerates that (stale gossip loses to newer
 * incarnations), as it always did.
 */
#ifndef CLOISTER_RUNTIME_REPLAY_H
#define CLOISTER_RUNTIME_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8192 x 16 bytes = 128 KiB a node. */
#define CL_REPLAY_SLOTS 8192

typedef struct cl_replay {
	uint8_t slot[CL_REPLAY_SLOTS][16];
} cl_replay;

/* Whether this sealed packet's nonce was accepted recently.  False for
 * anything too short to carry a nonce (the keyring rejects it). */
bool cl_replay_seen(const cl_replay *r, const uint8_t *sealed, size_t len);
/* Remembers an authenticated packet's nonce. */
void cl_replay_note(cl_replay *r, const uint8_t *sealed, size_t len);

#endif
