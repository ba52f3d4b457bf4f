/*
 * replay.c — the replay filter (see replay.h).
 */
#include "replay.h"

#include <string.h>

/* keyring.h's version 1 layout: version byte, then the 24-byte nonce. */
#define NONCE_AT 1
#define NONCE_LEN 24

static size_t slot_of(const uint8_t *nonce)
{
	/* The nonce is uniformly random: its first bytes are a hash. */
	uint64_t h = 0;
	memcpy(&h, nonce, 8);
	return (size_t)(h % CL_REPLAY_SLOTS);
}

bool cl_replay_seen(const cl_replay *r, const uint8_t *sealed, size_t len)
{
	if (len < NONCE_AT + NONCE_LEN)
		return false;
	const uint8_t *nonce = sealed + NONCE_AT;
	return memcmp(r->slot[slot_of(nonce)], nonce + 8, 16) == 0;
}

void cl_replay_note(cl_replay *r, const uint8_t *sealed, size_t len)
{
	if (len < NONCE_AT + NONCE_LEN)
		return;
	const uint8_t *nonce = sealed + NONCE_AT;
	memcpy(r->slot[slot_of(nonce)], nonce + 8, 16);
}
