/* errors.c — cloister_strerror and the library version string. */
#include "cloister.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *cloister_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CLOISTER_ERRNO_CASE(name, value, text)                                 \
	case value:                                                            \
		return text;
		CLOISTER_ERRNO_MAP(CLOISTER_ERRNO_CASE)
#undef CLOISTER_ERRNO_CASE
	default:
		return "unknown error";
	}
}

const char *cloister_version(void)
{
	return STR(CLOISTER_VERSION_MAJOR) "." STR(CLOISTER_VERSION_MINOR) "." STR(
		CLOISTER_VERSION_PATCH);
}

const char *cloister_state_name(cloister_state s)
{
	static const char *const names[] = {"down", "assembling", "rehashing",
					    "ready", "stopping", "stopped"};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s]
							     : "unknown";
}
