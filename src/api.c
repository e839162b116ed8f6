/*
 * api.c — public entry points that are not owned by a module of their own
 * (version queries). Context, device and build entry points live in runtime.c and
 * program.c next to what they wrap; every public function checks its arguments.
 */
#include "clsde.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *clsde_version(void)
{
    return STR(CLSDE_VERSION_MAJOR) "." STR(CLSDE_VERSION_MINOR) "." STR(CLSDE_VERSION_PATCH);
}

int32_t clsde_version_number(void)
{
    return CLSDE_VERSION_MAJOR * 10000 + CLSDE_VERSION_MINOR * 100 + CLSDE_VERSION_PATCH;
}
