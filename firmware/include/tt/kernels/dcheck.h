/**
 * @file dcheck.h
 * @brief Debug checks of what the step trusts, compiled into the host builds only.
 *
 * After the load check the step calls kernels without checks; TT_DCHECK() states what it
 * relies on (a kernel's scratch is at least its declared size) so that the host library,
 * the host twin and the sanitizer build (TT_DCHECKS, set by CMake for TT_BOARD=host) stop at
 * the first violation with its place, while a board image compiles them out entirely.
 */
#ifndef TT_KERNELS_DCHECK_H
#define TT_KERNELS_DCHECK_H

#ifdef TT_DCHECKS
/** Report a failed debug check on stderr and abort. */
void tt_dcheck_failed(const char *file, int line, const char *what);
#define TT_DCHECK(cond) ((cond) ? (void)0 : tt_dcheck_failed(__FILE__, __LINE__, #cond))
#else
#define TT_DCHECK(cond) ((void)0)
#endif

#endif /* TT_KERNELS_DCHECK_H */
