/* header_test.c — include/clsde.h compiles alone, as C11 and as C++. */
#include "clsde.h"

int main(void)
{
    return clsde_version_number() > 0 ? 0 : 1;
}
