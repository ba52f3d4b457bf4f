/*
 * test_libring.c — phash2 and the CL_RING_LIBRING ring against vectors
 * produced by the unmodified libring 1.7.0 under OTP 25
 * (tests/vectors/libring.json; its "header" explains every part).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cloister.h"
#include "core/phash2.h"
#include "core/ring.h"

#define VECTORS CLOISTER_SOURCE_DIR "/tests/vectors/libring.json"

static json_t *root;

/* ---------------------------------------------------------------- helpers */

static json_t *get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		CHECK_FAIL("vectors: missing \"%s\"", key);
	return v;
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(get(obj, key));

	if (!s)
		CHECK_FAIL("vectors: \"%s\" is not a string", key);
	return s;
}

static long long num(const json_t *obj, const char *key)
{
	json_t *v = get(obj, key);

	if (!json_is_integer(v))
		CHECK_FAIL("vectors: \"%s\" is not an integer", key);
	return (long long)json_integer_value(v);
}

/* Decodes hex into buf; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		CHECK_FAIL("vectors: hex too long");
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			CHECK_FAIL("vectors: bad hex %s", hex);
		buf[i] = (uint8_t)v;
	}
	return n;
}

/* Steps make_hash2 through a vector term ({type, value|hex|elems}). */
static uint32_t step_term(uint32_t h, const json_t *t)
{
	const char *type = str(t, "type");
	uint8_t buf[1024];

	if (!strcmp(type, "binary")) {
		size_t n = unhex(str(t, "hex"), buf, sizeof buf);
		return cl_phash2_step_binary(h, buf, n);
	}
	if (!strcmp(type, "atom")) {
		const char *v = str(t, "value");
		return cl_phash2_step_atom(h, v, strlen(v));
	}
	if (!strcmp(type, "integer")) {
		const char *v = str(t, "value");
		uint32_t out;
		CHECK_EQ_INT(cl_phash2_step_int_text(h, v, strlen(v), &out), 0);
		return out;
	}
	if (!strcmp(type, "tuple2")) {
		json_t *elems = get(t, "elems");
		h = cl_phash2_step_tuple(h, (uint32_t)json_array_size(elems));
		for (size_t i = 0; i < json_array_size(elems); i++)
			h = step_term(h, json_array_get(elems, i));
		return h;
	}
	CHECK_FAIL("vectors: unknown term type %s", type);
	return 0;
}

static const json_t *scenario(const char *name)
{
	json_t *all = get(root, "scenarios");

	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *s = json_array_get(all, i);
		if (!strcmp(str(s, "name"), name))
			return s;
	}
	CHECK_FAIL("vectors: no scenario %s", name);
	return NULL;
}

/* A libring ring of a scenario's nodes, added one by one in order. */
static cl_ring *scenario_ring(const json_t *s)
{
	cl_ring *r = cl_ring_new(CL_RING_LIBRING, 0);
	json_t *nodes = get(s, "nodes_added_in_order");

	CHECK(r != NULL);
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		const char *name = str(n, "node");
		CHECK_EQ_INT(cl_ring_add_points(r, name, strlen(name),
						(unsigned)num(n, "weight")),
			     0);
	}
	return r;
}

/* The owner of a vector key under a key kind; checks its hash on the way. */
static const char *owner(cl_ring *r, enum cl_ring_key_kind kind,
			 const char *key, size_t len, long long want_hash)
{
	uint64_t h;
	size_t nlen;

	CHECK_EQ_INT(cl_ring_set_key_kind(r, kind), 0);
	CHECK_EQ_INT(cl_ring_key_hash(r, key, len, &h), 0);
	CHECK_EQ_INT(h, want_hash);
	const char *o = cl_ring_whois(r, key, len, &nlen);
	CHECK(o != NULL);
	CHECK_EQ_INT(nlen, strlen(o));
	CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_BINARY), 0);
	return o;
}

/* Checks every lookup of a list: binary, integer and atom keys (atoms
 * under both encodings).  Returns how many were checked. */
static size_t check_lookups(cl_ring *r, const json_t *list)
{
	uint8_t buf[1024], t2b[CL_ATOM_T2B_MAX];

	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *l = json_array_get(list, i), *key = get(l, "key");
		const char *type = str(key, "type");

		if (!strcmp(type, "binary")) {
			size_t n = unhex(str(key, "hex"), buf, sizeof buf);
			CHECK_STR_EQ(owner(r, CL_RING_KEY_BINARY, (char *)buf, n,
					   num(l, "hash")),
				     str(l, "owner"));
		} else if (!strcmp(type, "integer")) {
			const char *v = str(key, "value");
			CHECK_STR_EQ(owner(r, CL_RING_KEY_INTEGER, v, strlen(v),
					   num(l, "hash")),
				     str(l, "owner"));
		} else if (!strcmp(type, "atom")) {
			const char *v = str(key, "value");
			size_t n;
			int tn;

			/* OTP 25 (this run) ... */
			n = unhex(str(l, "hashed_term_hex"), buf, sizeof buf);
			tn = cl_atom_term_to_binary(v, strlen(v), CL_ATOM_ENC_OTP25,
						    t2b, sizeof t2b);
			CHECK_EQ_INT(tn, n);
			CHECK(memcmp(t2b, buf, n) == 0);
			CHECK_STR_EQ(owner(r, CL_RING_KEY_ATOM_OTP25, v, strlen(v),
					   num(l, "hash")),
				     str(l, "owner"));
			/* ... and what OTP >= 26 gives. */
			n = unhex(str(l, "otp26_hashed_term_hex"), buf, sizeof buf);
			tn = cl_atom_term_to_binary(v, strlen(v), CL_ATOM_ENC_OTP26,
						    t2b, sizeof t2b);
			CHECK_EQ_INT(tn, n);
			CHECK(memcmp(t2b, buf, n) == 0);
			CHECK_STR_EQ(owner(r, CL_RING_KEY_ATOM_OTP26, v, strlen(v),
					   num(l, "otp26_hash")),
				     str(l, "otp26_owner"));
		} else {
			CHECK_FAIL("vectors: unknown key type %s", type);
		}
	}
	return json_array_size(list);
}

/* The ring's points in order equal a list of [point, node]. */
static void check_points(const cl_ring *r, const json_t *points)
{
	CHECK_EQ_INT(cl_ring_points(r), json_array_size(points));
	for (size_t i = 0; i < json_array_size(points); i++) {
		json_t *p = json_array_get(points, i);
		uint64_t h;
		const char *name;
		size_t len;

		CHECK_EQ_INT(cl_ring_point_at(r, i, &h, &name, &len), 0);
		CHECK_EQ_INT(h, json_integer_value(json_array_get(p, 0)));
		CHECK_STR_EQ(name, json_string_value(json_array_get(p, 1)));
	}
}

/* ---------------------------------------------------------------- tests */

static void test_phash2_vectors(void)
{
	json_t *list = get(root, "phash2");

	CHECK(json_array_size(list) > 0);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *v = json_array_get(list, i);
		uint32_t raw = step_term(0, get(v, "term"));

		CHECK_EQ_INT(raw, num(v, "raw_make_hash2"));
		CHECK_EQ_INT(cl_phash2_range(raw, 4294967295u),
			     num(v, "phash2_range_2pow32_minus1"));
		CHECK_EQ_INT(cl_phash2_range(raw, (uint64_t)1 << 32), raw);
	}
	/* The range reduction itself: libring's range sends 2^32-1 to 0. */
	CHECK_EQ_INT(cl_phash2_range(4294967295u, 4294967295u), 0);
	CHECK_EQ_INT(cl_phash2_range(0x12345678u, 1u << 27), 0x02345678);
	CHECK_EQ_INT(cl_phash2_range(10, 3), 1);
	/* int64 and decimal text agree, across the small/big boundaries. */
	const int64_t ints[] = {0, 1, -1, 134217727, 134217728, -134217728,
				-134217729, INT64_MAX, INT64_MIN, 4294967296LL};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		char text[32];
		uint32_t t;
		snprintf(text, sizeof text, "%lld", (long long)ints[i]);
		CHECK_EQ_INT(cl_phash2_step_int_text(0, text, strlen(text), &t), 0);
		CHECK_EQ_INT(t, cl_phash2_int(ints[i]));
	}
	uint32_t t;
	CHECK_EQ_INT(cl_phash2_step_int_text(0, "", 0, &t), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_phash2_step_int_text(0, "-", 1, &t), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_phash2_step_int_text(0, "1x", 2, &t), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_phash2_step_int_text(0, "+1", 2, &t), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_phash2_step_int_text(0, "-0", 2, &t), 0);
	CHECK_EQ_INT(t, cl_phash2_int(0));
}

static void test_atom_vectors(void)
{
	json_t *list = get(root, "atoms");
	uint8_t name[1024], want[CL_ATOM_T2B_MAX], got[CL_ATOM_T2B_MAX];

	CHECK(json_array_size(list) > 0);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *a = json_array_get(list, i);
		const char *atom = str(a, "atom");
		size_t len = unhex(str(a, "name_utf8_hex"), name, sizeof name);
		size_t n;

		CHECK_EQ_INT(len, strlen(atom));
		CHECK(memcmp(name, atom, len) == 0);
		CHECK_EQ_INT(cl_phash2_atom(name, len), num(a, "phash2_raw"));
		CHECK_EQ_INT(cl_phash2_atom_hvalue(name, len), num(a, "phash2_raw"));

		n = unhex(str(a, "term_to_binary_otp25_default_hex"), want,
			  sizeof want);
		CHECK_EQ_INT(cl_atom_term_to_binary(name, len, CL_ATOM_ENC_OTP25,
						    got, sizeof got),
			     n);
		CHECK(memcmp(got, want, n) == 0);
		n = unhex(str(a, "term_to_binary_minor_version2_hex"), want,
			  sizeof want);
		CHECK_EQ_INT(cl_atom_term_to_binary(name, len, CL_ATOM_ENC_OTP26,
						    got, sizeof got),
			     n);
		CHECK(memcmp(got, want, n) == 0);
	}
	/* No atom of invalid UTF-8 or over 255 characters; a short buffer. */
	CHECK_EQ_INT(cl_atom_term_to_binary("\xff", 1, CL_ATOM_ENC_OTP25, got,
					    sizeof got),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_atom_term_to_binary("\xc3", 1, CL_ATOM_ENC_OTP26, got,
					    sizeof got),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_atom_term_to_binary("\xc0\x80", 2, CL_ATOM_ENC_OTP26,
					    got, sizeof got),
		     CLOISTER_EINVAL);
	char long_atom[256];
	memset(long_atom, 'x', sizeof long_atom);
	CHECK_EQ_INT(cl_atom_term_to_binary(long_atom, 256, CL_ATOM_ENC_OTP25,
					    got, sizeof got),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_atom_term_to_binary(long_atom, 255, CL_ATOM_ENC_OTP25,
					    got, sizeof got),
		     259);
	CHECK_EQ_INT(got[1], 100);
	CHECK_EQ_INT(cl_atom_term_to_binary(long_atom, 255, CL_ATOM_ENC_OTP26,
					    got, sizeof got),
		     258);
	CHECK_EQ_INT(got[1], 119);
	CHECK_EQ_INT(cl_atom_term_to_binary("foo", 3, CL_ATOM_ENC_OTP26, got, 5),
		     CLOISTER_ENOSPC);
	/* 100 x U+00E9 'é' is 200 bytes, latin1: 100 bytes of ATOM_EXT under
	 * OTP 25.  100 x U+65E5 is 300 bytes: ATOM_UTF8_EXT (118) always. */
	char wide[300];
	for (int i = 0; i < 100; i++)
		memcpy(wide + 3 * i, "\xe6\x97\xa5", 3);
	CHECK_EQ_INT(cl_atom_term_to_binary(wide, 300, CL_ATOM_ENC_OTP25, got,
					    sizeof got),
		     304);
	CHECK_EQ_INT(got[1], 118);
	CHECK_EQ_INT(got[2] << 8 | got[3], 300);
	for (int i = 0; i < 100; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	CHECK_EQ_INT(cl_atom_term_to_binary(wide, 200, CL_ATOM_ENC_OTP25, got,
					    sizeof got),
		     104);
	CHECK_EQ_INT(got[4], 0xe9);
}

static void test_vnodes_three(void)
{
	json_t *list = get(root, "vnodes_three");

	CHECK_EQ_INT(json_array_size(list), 3);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *v = json_array_get(list, i);
		const char *node = str(v, "node");
		json_t *hashes = get(v, "vnode_hashes_i_1_to_128");

		CHECK_EQ_INT(json_array_size(hashes), 128);
		for (size_t j = 0; j < 128; j++) {
			uint32_t h = cl_phash2_step_tuple(0, 2);
			h = cl_phash2_step_atom(h, node, strlen(node));
			h = cl_phash2_step_int(h, (int64_t)j + 1);
			CHECK_EQ_INT(cl_phash2_range(h, CL_RING_LIBRING_RANGE),
				     json_integer_value(json_array_get(hashes, j)));
		}
	}
}

static void test_scenarios(void)
{
	json_t *all = get(root, "scenarios");

	CHECK(json_array_size(all) >= 2);
	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *s = json_array_get(all, i);
		cl_ring *r = scenario_ring(s);
		json_t *nodes = get(s, "ring_nodes_field");
		size_t checked = 0;

		CHECK_EQ_INT(cl_ring_points(r), num(s, "point_count"));
		CHECK_EQ_INT(cl_ring_size(r), json_array_size(nodes));
		for (size_t j = 0; j < json_array_size(nodes); j++) {
			const char *n = json_string_value(json_array_get(nodes, j));
			CHECK(cl_ring_member_points(r, n, strlen(n)) > 0);
		}
		if (json_object_get(s, "points_sorted"))
			check_points(r, get(s, "points_sorted"));

		/* The same ring built in one batch. */
		cl_ring *b = cl_ring_new(CL_RING_LIBRING, 128);
		json_t *added = get(s, "nodes_added_in_order");
		const void *names[16];
		size_t lens[16];
		CHECK(json_array_size(added) <= 16);
		for (size_t j = 0; j < json_array_size(added); j++) {
			names[j] = str(json_array_get(added, j), "node");
			lens[j] = strlen(names[j]);
		}
		CHECK_EQ_INT(cl_ring_add_many(b, json_array_size(added), names,
					      lens, NULL),
			     0);
		CHECK(cl_ring_checksum(b) == cl_ring_checksum(r));
		cl_ring_free(b);

		checked += check_lookups(r, get(s, "lookups"));

		/* Which keys the removal should move. */
		const char *gone = str(s, "removed_node");
		json_t *before = get(s, "lookups"),
		       *after = get(s, "lookups_after_removal");
		long long moved = 0, owned = 0;
		CHECK_EQ_INT(json_array_size(before), json_array_size(after));
		for (size_t j = 0; j < json_array_size(before); j++) {
			const char *o1 = str(json_array_get(before, j), "owner");
			const char *o2 = str(json_array_get(after, j), "owner");
			moved += strcmp(o1, o2) != 0;
			owned += strcmp(o1, gone) == 0;
			if (strcmp(o1, gone) != 0)
				CHECK_STR_EQ(o1, o2); /* only its keys move */
		}
		CHECK_EQ_INT(moved, num(s, "keys_moved_after_removal"));
		CHECK_EQ_INT(owned, num(s, "keys_owned_by_removed_before"));

		CHECK_EQ_INT(cl_ring_remove(r, gone, strlen(gone)), 0);
		CHECK_EQ_INT(cl_ring_points(r), num(s, "point_count_after_removal"));
		CHECK_EQ_INT(cl_ring_size(r), json_array_size(nodes) - 1);
		checked += check_lookups(r, after);
		CHECK(checked >= 2 * 244);
		cl_ring_free(r);
	}
}

static void test_ten_points_sorted(void)
{
	cl_ring *r = scenario_ring(scenario("ten"));
	json_t *points = get(root, "ten_points_sorted");
	json_t *largest = get(root, "largest_point");
	uint64_t h;

	check_points(r, points);
	CHECK_EQ_INT(cl_ring_point_at(r, cl_ring_points(r) - 1, &h, NULL, NULL), 0);
	CHECK_EQ_INT(h, num(largest, "ten"));

	/* Reverse insertion order: identical points (no collision here). */
	json_t *nodes = get(scenario("ten"), "nodes_added_in_order");
	cl_ring *rev = cl_ring_new(CL_RING_LIBRING, 128);
	for (size_t i = json_array_size(nodes); i-- > 0;) {
		const char *n = str(json_array_get(nodes, i), "node");
		CHECK_EQ_INT(cl_ring_add(rev, n, strlen(n), 1), 0);
	}
	bool same = json_is_true(get(get(root, "insertion_order_check"),
				     "ten_forward_vs_reverse_identical_points"));
	CHECK(same);
	check_points(rev, points);
	CHECK(cl_ring_checksum(rev) == cl_ring_checksum(r));
	cl_ring_free(rev);

	cl_ring *three = scenario_ring(scenario("three"));
	CHECK_EQ_INT(cl_ring_point_at(three, cl_ring_points(three) - 1, &h,
				      NULL, NULL),
		     0);
	CHECK_EQ_INT(h, num(largest, "three"));
	cl_ring_free(three);
	cl_ring_free(r);
}

static void test_weighted(void)
{
	json_t *w = get(root, "weighted"), *nodes = get(w, "nodes");
	cl_ring *r = cl_ring_new(CL_RING_LIBRING, 0);
	/* The same weights as vnodes 64 x {1, 2, 4}: the API's weight. */
	cl_ring *r64 = cl_ring_new(CL_RING_LIBRING, 64);

	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		const char *name = str(n, "node");
		unsigned weight = (unsigned)num(n, "weight");
		CHECK_EQ_INT(cl_ring_add_points(r, name, strlen(name), weight), 0);
		CHECK_EQ_INT(cl_ring_add(r64, name, strlen(name), weight / 64), 0);
		CHECK_EQ_INT(cl_ring_member_points(r, name, strlen(name)), weight);
	}
	CHECK_EQ_INT(cl_ring_points(r), num(w, "point_count"));
	CHECK(cl_ring_checksum(r) == cl_ring_checksum(r64));
	check_lookups(r, get(w, "lookups"));
	check_lookups(r64, get(w, "lookups"));

	/* Owner counts of key-0..key-199. */
	json_t *counts = get(w, "owner_counts_key0_199");
	const char *key_name;
	json_t *want;
	json_object_foreach(counts, key_name, want) {
		long long c = 0;
		for (int k = 0; k < 200; k++) {
			char key[16];
			int n = snprintf(key, sizeof key, "key-%d", k);
			const char *o = cl_ring_whois(r, key, (size_t)n, NULL);
			c += o && !strcmp(o, key_name);
		}
		CHECK_EQ_INT(c, json_integer_value(want));
	}
	cl_ring_free(r);
	cl_ring_free(r64);
}

static void test_string_nodes(void)
{
	json_t *sn = get(root, "string_nodes");
	const char *key_name;
	json_t *ring;
	size_t rings = 0;

	json_object_foreach(sn, key_name, ring) {
		cl_ring *r = cl_ring_new(CL_RING_LIBRING, 0);
		json_t *nodes = get(ring, "nodes");
		const char *o;

		CHECK_EQ_INT(cl_ring_set_node_kind(r, CL_RING_NODE_BINARY), 0);
		for (size_t i = 0; i < json_array_size(nodes); i++) {
			json_t *n = json_array_get(nodes, i);
			if (json_is_string(n)) {
				const char *name = json_string_value(n);
				CHECK_EQ_INT(cl_ring_add(r, name, strlen(name), 1), 0);
			} else {
				const char *name = str(n, "node");
				CHECK_EQ_INT(cl_ring_add_points(r, name, strlen(name),
								(unsigned)num(n, "weight")),
					     0);
			}
		}
		/* Node kind is fixed once there are members. */
		CHECK_EQ_INT(cl_ring_set_node_kind(r, CL_RING_NODE_ATOM),
			     CLOISTER_ESTATE);
		check_lookups(r, get(ring, "lookups"));

		/* key_to_node(ring, :foo), both encodings. */
		CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_ATOM_OTP25), 0);
		o = cl_ring_whois(r, "foo", 3, NULL);
		CHECK(o != NULL);
		CHECK_STR_EQ(o, str(ring, "foo_owner"));
		if (json_object_get(ring, "foo_owner_otp26")) {
			CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_ATOM_OTP26), 0);
			o = cl_ring_whois(r, "foo", 3, NULL);
			CHECK(o != NULL);
			CHECK_STR_EQ(o, str(ring, "foo_owner_otp26"));
		}
		/* key_to_nodes(ring, :foo, 2): the atom hashed as itself. */
		if (json_object_get(ring, "key_to_nodes_foo_2")) {
			json_t *want = get(ring, "key_to_nodes_foo_2");
			const char *out[4];
			CHECK_EQ_INT(cl_ring_set_key_kind(r, CL_RING_KEY_ATOM_RAW), 0);
			CHECK_EQ_INT(cl_ring_libring_key_to_nodes(r, "foo", 3, 2,
								  out, NULL),
				     json_array_size(want));
			for (size_t i = 0; i < json_array_size(want); i++)
				CHECK_STR_EQ(out[i], json_string_value(
							     json_array_get(want, i)));
		}
		cl_ring_free(r);
		rings++;
	}
	CHECK_EQ_INT(rings, 2);
}

static void test_key_to_nodes(void)
{
	json_t *list = get(root, "key_to_nodes");
	cl_ring *three = scenario_ring(scenario("three"));
	cl_ring *ten = scenario_ring(scenario("ten"));
	uint8_t buf[1024];

	CHECK(json_array_size(list) > 0);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *v = json_array_get(list, i), *key = get(v, "key");
		json_t *want = get(v, "result");
		cl_ring *r = !strcmp(str(v, "ring"), "three") ? three : ten;
		const char *type = str(key, "type");
		const void *k;
		size_t klen;
		enum cl_ring_key_kind kind;

		if (!strcmp(type, "binary")) {
			klen = unhex(str(key, "hex"), buf, sizeof buf);
			k = buf;
			kind = CL_RING_KEY_BINARY;
		} else if (!strcmp(type, "integer")) {
			k = str(key, "value");
			klen = strlen(k);
			kind = CL_RING_KEY_INTEGER;
		} else {
			k = str(key, "value");
			klen = strlen(k);
			kind = CL_RING_KEY_ATOM_RAW;
		}
		CHECK_EQ_INT(cl_ring_set_key_kind(r, kind), 0);
		uint64_t h;
		CHECK_EQ_INT(cl_ring_key_hash(r, k, klen, &h), 0);
		CHECK_EQ_INT(h, num(v, "hash_of_key_term_directly"));

		const char *out[16];
		size_t lens[16], count = (size_t)num(v, "count");
		CHECK(count <= 16);
		int n = cl_ring_libring_key_to_nodes(r, k, klen, count, out, lens);
		CHECK_EQ_INT(n, json_array_size(want));
		for (size_t j = 0; j < (size_t)n; j++) {
			CHECK_STR_EQ(out[j], json_string_value(json_array_get(want, j)));
			CHECK_EQ_INT(lens[j], strlen(out[j]));
		}
	}

	/* Keys past the largest point: key_to_node wraps, key_to_nodes
	 * answers the smallest point's node alone. */
	json_t *wrap = get(root, "key_to_nodes_wrap_quirk_examples");
	CHECK(json_array_size(wrap) > 0);
	CHECK_EQ_INT(cl_ring_set_key_kind(three, CL_RING_KEY_BINARY), 0);
	for (size_t i = 0; i < json_array_size(wrap); i++) {
		json_t *v = json_array_get(wrap, i), *key = get(v, "key");
		size_t klen = unhex(str(key, "hex"), buf, sizeof buf);
		const char *out[3];
		uint64_t h, last;

		CHECK_EQ_INT(cl_ring_key_hash(three, buf, klen, &h), 0);
		CHECK_EQ_INT(h, num(v, "hash"));
		CHECK_EQ_INT(cl_ring_point_at(three, cl_ring_points(three) - 1,
					      &last, NULL, NULL),
			     0);
		CHECK_EQ_INT(last, num(v, "largest_point"));
		CHECK(h > last);
		CHECK_STR_EQ(cl_ring_whois(three, buf, klen, NULL),
			     str(v, "key_to_node"));
		json_t *want = get(v, "key_to_nodes_3");
		CHECK_EQ_INT(cl_ring_libring_key_to_nodes(three, buf, klen, 3, out,
							  NULL),
			     json_array_size(want));
		CHECK_STR_EQ(out[0], json_string_value(json_array_get(want, 0)));
		/* Our own whois_n wraps and gives three distinct nodes. */
		CHECK_EQ_INT(cl_ring_whois_n(three, buf, klen, 3, out, NULL), 3);
		CHECK_STR_EQ(out[0], str(v, "key_to_node"));
		CHECK(strcmp(out[0], out[1]) && strcmp(out[1], out[2]) &&
		      strcmp(out[0], out[2]));
	}
	cl_ring_free(three);
	cl_ring_free(ten);
}

/* Collisions: the first inserted keeps the point, and removal does not
 * hand it back (libring's gb_trees insert/filter).  The colliding pair is
 * found by sorting the single points of 300,000 names: about ten 32-bit
 * collisions are expected among them, and the names are fixed, so the
 * search is deterministic. */
struct cand {
	uint32_t point;
	uint32_t i;
};

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->point != b->point)
		return a->point < b->point ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static void test_collision_semantics(void)
{
	enum { CAND = 300000 };
	struct cand *c = malloc(CAND * sizeof *c);
	long a = -1, b = -1;

	CHECK(c != NULL);
	for (uint32_t i = 0; i < CAND; i++) {
		char name[16];
		int n = snprintf(name, sizeof name, "n%u@h", i);
		uint32_t h = cl_phash2_step_tuple(0, 2);
		h = cl_phash2_step_atom(h, name, (size_t)n);
		c[i].point = cl_phash2_range(cl_phash2_step_int(h, 1),
					     CL_RING_LIBRING_RANGE);
		c[i].i = i;
	}
	qsort(c, CAND, sizeof *c, cmp_cand);
	for (size_t i = 1; i < CAND && a < 0; i++)
		if (c[i].point == c[i - 1].point) {
			a = c[i - 1].i;
			b = c[i].i;
		}
	free(c);
	CHECK(a >= 0);

	char na[16], nb[16], nc[16];
	snprintf(na, sizeof na, "n%ld@h", a);
	snprintf(nb, sizeof nb, "n%ld@h", b);
	snprintf(nc, sizeof nc, "n%ld@h", a == 0 ? 1L : 0L);
	cl_ring *r = cl_ring_new(CL_RING_LIBRING, 1);
	CHECK_EQ_INT(cl_ring_add(r, nb, strlen(nb), 1), 0);
	CHECK_EQ_INT(cl_ring_add(r, na, strlen(na), 1), 0);
	CHECK_EQ_INT(cl_ring_points(r), 1);
	CHECK_EQ_INT(cl_ring_member_points(r, nb, strlen(nb)), 1);
	CHECK_EQ_INT(cl_ring_member_points(r, na, strlen(na)), 0);
	CHECK_EQ_INT(cl_ring_member_requested(r, na, strlen(na)), 1);
	CHECK_EQ_INT(cl_ring_member_requested(r, "zz", 2), CLOISTER_ENOENT);
	CHECK_STR_EQ(cl_ring_whois(r, "k", 1, NULL), nb);
	const char *out[2];
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, 2, out, NULL), 1);

	/* The same pair in one batch: batch order decides. */
	cl_ring *batch = cl_ring_new(CL_RING_LIBRING, 1);
	const void *names[2] = {na, nb};
	size_t lens[2] = {strlen(na), strlen(nb)};
	CHECK_EQ_INT(cl_ring_add_many(batch, 2, names, lens, NULL), 0);
	CHECK_EQ_INT(cl_ring_member_points(batch, na, strlen(na)), 1);
	CHECK_EQ_INT(cl_ring_member_points(batch, nb, strlen(nb)), 0);
	CHECK(cl_ring_checksum(batch) != cl_ring_checksum(r));
	cl_ring_free(batch);

	/* Removing the holder leaves the other member pointless. */
	CHECK_EQ_INT(cl_ring_add(r, nc, strlen(nc), 1), 0);
	CHECK_EQ_INT(cl_ring_remove(r, nb, strlen(nb)), 0);
	CHECK_EQ_INT(cl_ring_points(r), 1);
	CHECK_EQ_INT(cl_ring_size(r), 2);
	CHECK_STR_EQ(cl_ring_whois(r, "k", 1, NULL), nc);
	CHECK_EQ_INT(cl_ring_whois_n(r, "k", 1, 2, out, NULL), 1);
	cl_ring_free(r);
}

static void test_bad_arguments(void)
{
	cl_ring *d = cl_ring_new(CL_RING_DEFAULT, 0);
	cl_ring *l = cl_ring_new(CL_RING_LIBRING, 0);

	CHECK_EQ_INT(cl_ring_set_node_kind(d, CL_RING_NODE_BINARY),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(d, CL_RING_KEY_ATOM_OTP25),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(l, (enum cl_ring_key_kind)99),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_libring_key_to_nodes(d, "k", 1, 1, NULL, NULL),
		     CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_add(l, "a@h", 3, 1), 0);
	CHECK_EQ_INT(cl_ring_set_key_kind(l, CL_RING_KEY_INTEGER), 0);
	CHECK(cl_ring_whois(l, "12x", 3, NULL) == NULL);
	CHECK(cl_ring_whois(l, "-12", 3, NULL) != NULL);
	const char *out[2];
	CHECK_EQ_INT(cl_ring_whois_n(l, "", 0, 1, out, NULL), CLOISTER_EINVAL);
	CHECK_EQ_INT(cl_ring_set_key_kind(l, CL_RING_KEY_ATOM_OTP26), 0);
	CHECK(cl_ring_whois(l, "\xff", 1, NULL) == NULL);
	CHECK_EQ_INT(cl_ring_set_key_kind(l, CL_RING_KEY_ATOM_RAW), 0);
	CHECK(cl_ring_whois(l, "\xff", 1, NULL) == NULL);
	CHECK(cl_ring_whois(l, "ok", 2, NULL) != NULL);
	cl_ring_free(d);
	cl_ring_free(l);
}

int main(void)
{
	json_error_t err;

	root = json_load_file(VECTORS, 0, &err);
	if (!root) {
		fprintf(stderr, "%s:%d: %s\n", VECTORS, err.line, err.text);
		return 1;
	}
	CHECK_STR_EQ(json_string_value(json_object_get(
			     json_object_get(root, "header"), "libring_version")),
		     "1.7.0");
	RUN_TEST(test_phash2_vectors);
	RUN_TEST(test_atom_vectors);
	RUN_TEST(test_vnodes_three);
	RUN_TEST(test_scenarios);
	RUN_TEST(test_ten_points_sorted);
	RUN_TEST(test_weighted);
	RUN_TEST(test_string_nodes);
	RUN_TEST(test_key_to_nodes);
	RUN_TEST(test_collision_semantics);
	RUN_TEST(test_bad_arguments);
	json_decref(root);
	printf("%d checks passed\n", check_count);
	return 0;
}
