/* tt_dcheck_failed() for the host builds (tt/kernels/dcheck.h); nothing on a board. */
#include "tt/kernels/dcheck.h"

#ifdef TT_DCHECKS
#include <stdio.h>
#include <stdlib.h>

void tt_dcheck_failed(const char *file, int line, const char *what)
{
    fprintf(stderr, "tt: debug check failed at %s:%d: %s\n", file, line, what);
    abort();
}
#else
typedef int tt_dcheck_unused_t; /* ISO C wants a declaration in every translation unit */
#endif
