/* why.c — see why.h. */
#include "why.h"

#include <stdarg.h>
#include <stdio.h>

void cl_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}
