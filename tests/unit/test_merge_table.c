/*
 * test_merge_table.c — every (held state x incoming word) pair of the
 * merge rules, against a table written out by hand from merge.h.
 *
 * Rows: what we hold (unknown, reaped, alive, suspect, dead, left; or
 * ourselves, leaving or not).  Columns: the word (ALIVE, SUSPECT, DEAD,
 * LEFT) at a lower, equal and higher incarnation; for words about
 * ourselves also the address (ours or another), the claimant's age (older,
 * same, newer start) and the tags (same or other).  Each case runs at
 * three base incarnations, one of them across the 2^32 wrap, since the
 * rules compare incarnations as serial numbers.
 */
#include "check.h"
#include "core/merge.h"
#include "core/wire.h"

static const char *const W[] = {"ALIVE", "SUSPECT", "DEAD", "LEFT",
				"VERDICT"};
static const char *const REL[] = {"lower", "equal", "higher"};

/* Base incarnations: plain, just below 2^31, and at the wrap. */
static const uint32_t BASES[] = {5, 0x7fffffffu, 0xffffffffu};

static uint32_t rel_inc(uint32_t i, int rel)
{
	return i + (uint32_t)(rel - 1); /* rel 0: i-1, 1: i, 2: i+1 */
}

static enum cl_merge_action act(const char *s)
{
	for (int a = 0; a < CL_MERGE__COUNT; a++)
		if (!strcmp(cl_merge_action_name((enum cl_merge_action)a), s))
			return (enum cl_merge_action)a;
	CHECK_FAIL("no action %s", s);
	return CL_MERGE_IGNORE;
}

/* ------------------------------------------------------------------ */
/* About another member                                                */
/* ------------------------------------------------------------------ */

struct other_row {
	const char *held;
	/* [word][lower, equal, higher]; VERDICT is our own timer's */
	const char *expect[5][3];
};

static const struct other_row OTHER[] = {
	{"unknown",
	 {{"add", "add", "add"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"}}},
	{"former",
	 {{"ignore", "ignore", "add"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"}}},
	{"alive",
	 {{"ignore", "ignore", "take"},
	  {"ignore", "suspect", "suspect"},
	  {"ignore", "suspect", "suspect"},
	  {"ignore", "left", "left"},
	  {"ignore", "dead", "dead"}}},
	{"suspect",
	 {{"ignore", "ignore", "take"},
	  {"ignore", "confirm", "ignore"},
	  {"ignore", "confirm", "ignore"},
	  {"ignore", "left", "left"},
	  {"ignore", "dead", "dead"}}},
	{"dead",
	 {{"ignore", "ignore", "take"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "left", "left"},
	  {"ignore", "ignore", "ignore"}}},
	{"left",
	 {{"ignore", "ignore", "take"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"},
	  {"ignore", "ignore", "ignore"}}},
};

static cl_merge_held other_held(const char *name, uint32_t i)
{
	cl_merge_held h = {0};
	h.incarnation = i;
	if (!strcmp(name, "unknown"))
		return h;
	if (!strcmp(name, "former")) {
		h.former = true;
		return h;
	}
	h.known = true;
	h.status = !strcmp(name, "alive")     ? CL_STATUS_ALIVE
		   : !strcmp(name, "suspect") ? CL_STATUS_SUSPECT
		   : !strcmp(name, "dead")    ? CL_STATUS_DEAD
					      : CL_STATUS_LEFT;
	return h;
}

static void test_other_members(void)
{
	unsigned cases = 0;
	for (size_t r = 0; r < sizeof OTHER / sizeof OTHER[0]; r++)
		for (size_t b = 0; b < 3; b++)
			for (int w = 0; w < 5; w++)
				for (int rel = 0; rel < 3; rel++) {
					uint32_t i = BASES[b];
					cl_merge_held h = other_held(OTHER[r].held, i);
					cl_merge_word wd = {(uint8_t)w, rel_inc(i, rel),
							    1700000000000ull,
							    cl_addr_v4(10, 0, 0, 2, 7946)};
					enum cl_merge_action got =
						cl_merge_decide(&h, &wd);
					enum cl_merge_action want =
						act(OTHER[r].expect[w][rel]);
					check_seed = i;
					if (got != want)
						CHECK_FAIL("held %s@%u, %s@%s: %s, "
							   "want %s",
							   OTHER[r].held, i, W[w],
							   REL[rel],
							   cl_merge_action_name(got),
							   cl_merge_action_name(want));
					check_count++;
					cases++;
				}
	CHECK_EQ_INT(cases, 6 * 3 * 5 * 3);
}

/* ------------------------------------------------------------------ */
/* About ourselves                                                     */
/* ------------------------------------------------------------------ */

#define OUR_START 1700000000000ull

static cl_merge_held self_held(uint32_t i, bool leaving)
{
	cl_merge_held h = {0};
	h.known = true;
	h.self = true;
	h.leaving = leaving;
	h.status = leaving ? CL_STATUS_LEFT : CL_STATUS_ALIVE;
	h.incarnation = i;
	h.start_ms = OUR_START;
	h.addr = cl_addr_v4(10, 0, 0, 1, 7946);
	return h;
}

/* ALIVE about us.  [addr same/other][start older/same/newer][tags
 * same/other][lower/equal/higher]. */
static const char *const SELF_ALIVE[2][3][2][3] = {
	/* our address: a picture of us; only an exact echo is left alone */
	{{{"ignore", "refute", "refute"}, {"ignore", "refute", "refute"}},
	 {{"ignore", "ignore", "refute"}, {"ignore", "refute", "refute"}},
	 {{"ignore", "refute", "refute"}, {"ignore", "refute", "refute"}}},
	/* another address: another process; the older one loses */
	{{{"ignore", "refute", "refute"}, {"ignore", "refute", "refute"}},
	 /* same start: ordered by address; 10.0.0.2 > 10.0.0.1, newer */
	 {{"ignore", "verify", "verify"}, {"ignore", "verify", "verify"}},
	 {{"ignore", "verify", "verify"}, {"ignore", "verify", "verify"}}},
};

static void test_self(void)
{
	unsigned cases = 0;
	static const int64_t start_delta[3] = {-5000, 0, 5000};
	for (size_t b = 0; b < 3; b++) {
		uint32_t i = BASES[b];
		check_seed = i;
		for (int leaving = 0; leaving < 2; leaving++) {
			cl_merge_held h = self_held(i, leaving);
			for (int a = 0; a < 2; a++)
				for (int st = 0; st < 3; st++)
					for (int tg = 0; tg < 2; tg++)
						for (int rel = 0; rel < 3; rel++) {
							h.same_tags = tg == 0;
							cl_merge_word w = {
								CL_WORD_ALIVE,
								rel_inc(i, rel),
								OUR_START + (uint64_t)start_delta[st],
								a ? cl_addr_v4(10, 0, 0, 2, 7946)
								  : h.addr};
							enum cl_merge_action got =
								cl_merge_decide(&h, &w);
							enum cl_merge_action want =
								leaving ? CL_MERGE_IGNORE
									: act(SELF_ALIVE[a][st][tg][rel]);
							if (got != want)
								CHECK_FAIL("self%s ALIVE addr %d start %d tags %d %s: %s, want %s",
									   leaving ? " leaving" : "", a, st, tg, REL[rel],
									   cl_merge_action_name(got),
									   cl_merge_action_name(want));
							check_count++;
							cases++;
						}
			/* Accusations: refuted at our number or above; above
			 * it, once a rival was checked and taken for a ghost,
			 * that rival is checked again first. */
			for (int rival = 0; rival < 2; rival++)
				for (int w = CL_WORD_SUSPECT; w <= CL_WORD_LEFT; w++)
					for (int rel = 0; rel < 3; rel++) {
						h.rival_known = rival;
						cl_merge_word wd = {(uint8_t)w,
								    rel_inc(i, rel), 0, {0}};
						enum cl_merge_action got =
							cl_merge_decide(&h, &wd);
						enum cl_merge_action want =
							leaving || rel == 0 ? CL_MERGE_IGNORE
							: rival && rel == 2 ? CL_MERGE_VERIFY
									    : CL_MERGE_REFUTE;
						if (got != want)
							CHECK_FAIL("self%s%s %s@%s: %s, want %s",
								   leaving ? " leaving" : "",
								   rival ? " rival" : "",
								   W[w], REL[rel],
								   cl_merge_action_name(got),
								   cl_merge_action_name(want));
						check_count++;
						cases++;
					}
			h.rival_known = false;
		}
	}
	CHECK_EQ_INT(cases, 3 * 2 * (2 * 3 * 2 * 3 + 2 * 3 * 3));
}

/* ------------------------------------------------------------------ */
/* Serial numbers and process order                                    */
/* ------------------------------------------------------------------ */

static void test_serial_numbers(void)
{
	CHECK(cl_inc_newer(1, 0));
	CHECK(!cl_inc_newer(0, 1));
	CHECK(!cl_inc_newer(7, 7));
	CHECK(cl_inc_at_least(7, 7));
	/* Across the wrap. */
	CHECK(cl_inc_newer(0, 0xffffffffu));
	CHECK(cl_inc_newer(5, 0xfffffff0u));
	CHECK(!cl_inc_newer(0xffffffffu, 0));
	/* Half the circle away is "older" both ways round: the clock checks
	 * keep real incarnations far closer than that. */
	CHECK(!cl_inc_newer(0x80000000u, 0));
	/* 0xFFFFFFFF is far older than a start-time incarnation. */
	CHECK(!cl_inc_newer(0xffffffffu, 1700000000u));
}

static void test_process_order(void)
{
	cl_addr a = cl_addr_v4(10, 0, 0, 1, 7946), b = cl_addr_v4(10, 0, 0, 2, 7946);
	cl_addr c = cl_addr_v4(10, 0, 0, 1, 7947);
	CHECK(cl_merge_process_newer(2, &a, 1, &b));
	CHECK(!cl_merge_process_newer(1, &b, 2, &a));
	CHECK(cl_merge_process_newer(1, &b, 1, &a));
	CHECK(!cl_merge_process_newer(1, &a, 1, &b));
	CHECK(cl_merge_process_newer(1, &c, 1, &a));
	CHECK(!cl_merge_process_newer(1, &a, 1, &a));
	/* Exactly one of two distinct processes is the newer. */
	for (uint64_t s1 = 0; s1 < 3; s1++)
		for (uint64_t s2 = 0; s2 < 3; s2++) {
			bool x = cl_merge_process_newer(s1, &a, s2, &b);
			bool y = cl_merge_process_newer(s2, &b, s1, &a);
			CHECK(x != y);
		}
}

/*
 * ALIVE about another member at the incarnation we hold, from another
 * process (another start time or address): the newer process wins over
 * the one we hold alive.  Two processes of one name that chose the
 * same incarnation (started within one second) otherwise split the
 * cluster's views for good: an ALIVE at an equal incarnation was ignored
 * whoever sent it, so nodes that had taken one process kept it, probes
 * answered on both sides, and the checksum (names and incarnations)
 * agreed.  The property checker showed it (seeds 759, 42863, 65287 and
 * 130827 with a gossip-target variant; 65287 with a relay variant).
 * Held suspect at that number, the newer process's identity is moved
 * under the running suspicion ("move": address, start and tags taken,
 * status and timer kept): a SUSPECT at a number above ours carries no
 * address, so we may hold the suspicion about a restarted process under
 * its old address, and probe and remind the old address until the timer
 * kills a live member (seed 102152: n10 took SUSPECT@48 before the
 * ALIVE@48 that carried n8's new address, and declared it dead 3 s
 * later).  Held without its process (held_of reads it only for an ALIVE
 * at the held incarnation), the word is ignored, as the table above says.
 */
static void test_other_equal_incarnation_process(void)
{
	static const char *const held_states[] = {"alive", "suspect", "dead",
						  "left"};
	const uint64_t start = 1700000000000ull;
	const cl_addr a = cl_addr_v4(10, 0, 0, 1, 7946);
	const cl_addr b = cl_addr_v4(10, 0, 0, 2, 7946);
	/* Held alive: the newer process is taken.  Held suspect: moved
	 * under the suspicion, which stands until a refutation above it.
	 * Held dead or left at that number: ignored, since the verdict may be
	 * about the newer process itself, moved to our number by a SUSPECT
	 * that carried no address (seed 91109: a node paused through a
	 * leave and rejoin took the rejoined process's ALIVE@84 after seeing
	 * it dead at 84: a resurrection without a refutation). */
	struct {
		uint64_t start;
		cl_addr addr;
		const char *want;
	} words[] = {
		{start, a, "ignore"},	     /* the process we hold */
		{start - 1000, b, "ignore"}, /* an older one */
		{start + 1000, b, "take"},   /* a newer one */
		{start, b, "take"},	     /* same start, higher address */
		{start + 1000, a, "take"},   /* restarted at our address */
	};
	for (size_t r = 0; r < 4; r++)
		for (size_t b_i = 0; b_i < 3; b_i++)
			for (size_t k = 0; k < sizeof words / sizeof words[0];
			     k++) {
				uint32_t i = BASES[b_i];
				cl_merge_held h = other_held(held_states[r], i);
				h.process_known = true;
				h.start_ms = start;
				h.addr = a;
				cl_merge_word w = {CL_WORD_ALIVE, i,
						   words[k].start,
						   words[k].addr};
				enum cl_merge_action got =
					cl_merge_decide(&h, &w);
				check_seed = i;
				const char *want = words[k].want;
				if (r == 1 && !strcmp(want, "take"))
					want = "move";
				else if (r > 1)
					want = "ignore";
				if (got != act(want))
					CHECK_FAIL("held %s@%u, ALIVE@equal from "
						   "word %zu: %s, want %s",
						   held_states[r], i, k,
						   cl_merge_action_name(got),
						   want);
				check_count++;
				/* Lower stays ignored, higher taken, with
				 * or without the process. */
				w.incarnation = i - 1;
				CHECK_EQ_INT(cl_merge_decide(&h, &w),
					     CL_MERGE_IGNORE);
				w.incarnation = i + 1;
				CHECK_EQ_INT(cl_merge_decide(&h, &w),
					     CL_MERGE_TAKE);
			}
}

int main(void)
{
	RUN_TEST(test_other_members);
	RUN_TEST(test_self);
	RUN_TEST(test_serial_numbers);
	RUN_TEST(test_process_order);
	RUN_TEST(test_other_equal_incarnation_process);
	return 0;
}
