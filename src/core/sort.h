/*
 * sort.h — a typed in-place sort for the paths that run on every settle.
 *
 * Why not qsort: it calls the comparison through a pointer and moves each
 * element with memcpy; musl's (smoothsort, what the static binary links)
 * rotates elements through a 256-byte buffer, three memcpy calls per move.
 * In a 1,000-agent join the static build spent ~18% of all CPU in memcpy,
 * most of it under qsort (a duplicate check that sorted every ring member
 * for each batch added, the discovery pass sorting every member's address
 * every 5 s), and never converged where the glibc build did in 20 s.
 *
 * CL_SORT_DEFINE(name, T, less) defines `static void name(T *v, size_t n)`
 * sorting by `bool less(const T *a, const T *b)` (a strict weak order): an
 * introsort (median-of-three quicksort, heapsort past 2 log2 n levels so
 * no input costs more than O(n log n), insertion sort below 16 elements),
 * moving elements by assignment.  Not stable: every caller's order is total
 * or only looks for equal neighbours.  name##_intro is exposed so a test
 * can force the heapsort path (depth 0).  name##_find(v, n, key) is the
 * binary search that goes with it: an element equal to key, or NULL
 * (marked unused: clang warns about an unused static inline defined in a
 * .c file, and not every sort needs a search).
 */
#ifndef CLOISTER_CORE_SORT_H
#define CLOISTER_CORE_SORT_H

#include <stddef.h>

#define CL_SORT_INSERTION_MAX 16

#define CL_SORT_DEFINE(name, T, less)                                          \
	static inline void name##_sift(T *v, size_t root, size_t n)            \
	{                                                                      \
		T x = v[root];                                                 \
		for (size_t c; (c = 2 * root + 1) < n; root = c) {             \
			if (c + 1 < n && less(&v[c], &v[c + 1]))               \
				c++;                                           \
			if (!less(&x, &v[c]))                                  \
				break;                                         \
			v[root] = v[c];                                        \
		}                                                              \
		v[root] = x;                                                   \
	}                                                                      \
	static inline void name##_swap(T *a, T *b)                             \
	{                                                                      \
		T t = *a;                                                      \
		*a = *b;                                                       \
		*b = t;                                                        \
	}                                                                      \
	static void name##_intro(T *v, size_t n, unsigned depth)               \
	{                                                                      \
		while (n > CL_SORT_INSERTION_MAX) {                            \
			if (depth == 0) {                                      \
				for (size_t i = n / 2; i-- > 0;)               \
					name##_sift(v, i, n);                  \
				for (size_t i = n - 1; i > 0; i--) {           \
					name##_swap(&v[0], &v[i]);             \
					name##_sift(v, 0, i);                  \
				}                                              \
				return;                                        \
			}                                                      \
			depth--;                                               \
			/* v[0] <= v[mid] <= v[n-1]: the ends stop both       \
			 * scans, and both parts come out non-empty. */         \
			size_t mid = n / 2;                                    \
			if (less(&v[mid], &v[0]))                              \
				name##_swap(&v[mid], &v[0]);                   \
			if (less(&v[n - 1], &v[mid]))                          \
				name##_swap(&v[n - 1], &v[mid]);               \
			if (less(&v[mid], &v[0]))                              \
				name##_swap(&v[mid], &v[0]);                   \
			T p = v[mid];                                          \
			size_t i = 0, j = n - 1;                               \
			for (;;) {                                             \
				while (less(&v[i], &p))                        \
					i++;                                   \
				while (less(&p, &v[j]))                        \
					j--;                                   \
				if (i >= j)                                    \
					break;                                 \
				name##_swap(&v[i], &v[j]);                     \
				i++;                                           \
				j--;                                           \
			}                                                      \
			/* [0, j] <= p <= [j + 1, n): recurse into the        \
			 * smaller part, loop on the larger. */                \
			size_t left = j + 1;                                   \
			if (left < n - left) {                                 \
				name##_intro(v, left, depth);                  \
				v += left;                                     \
				n -= left;                                     \
			} else {                                               \
				name##_intro(v + left, n - left, depth);       \
				n = left;                                      \
			}                                                      \
		}                                                              \
		for (size_t i = 1; i < n; i++) {                               \
			T x = v[i];                                            \
			size_t k = i;                                          \
			for (; k > 0 && less(&x, &v[k - 1]); k--)              \
				v[k] = v[k - 1];                               \
			v[k] = x;                                              \
		}                                                              \
	}                                                                      \
	__attribute__((unused)) static inline T *name##_find(                  \
		T *v, size_t n, const T *key)                                  \
	{                                                                      \
		size_t lo = 0, hi = n;                                         \
		while (lo < hi) {                                              \
			size_t mid = lo + (hi - lo) / 2;                       \
			if (less(&v[mid], key))                                \
				lo = mid + 1;                                  \
			else                                                   \
				hi = mid;                                      \
		}                                                              \
		return lo < n && !less(key, &v[lo]) ? &v[lo] : NULL;           \
	}                                                                      \
	static inline void name(T *v, size_t n)                                \
	{                                                                      \
		unsigned depth = 0;                                            \
		for (size_t m = n; m > 1; m >>= 1)                             \
			depth += 2;                                            \
		name##_intro(v, n, depth);                                     \
	}

#endif
