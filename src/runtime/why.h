/* why.h — filling a caller's optional "why" buffer with a reason. */
#ifndef CLOISTER_RUNTIME_WHY_H
#define CLOISTER_RUNTIME_WHY_H

#include <stddef.h>

/* printf into why (whylen bytes); nothing when why is NULL or empty. */
void cl_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
