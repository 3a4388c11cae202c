/*
 * The in-bounds part of a sliding window along one axis, private to the kernels: output index o
 * of a window of k taps at stride s starts at input index o * s - pad (negative in the padding);
 * taps [lo, hi) of it fall inside the input's n elements.
 */
#ifndef TT_KERNELS_WINDOW_H
#define TT_KERNELS_WINDOW_H

#include <stdint.h>

typedef struct {
    int32_t start; /* input index of tap 0 */
    int32_t lo, hi; /* the taps inside the input */
} tt_window_t;

static inline tt_window_t tt_window(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t n)
{
    tt_window_t w;
    w.start = o * stride - pad;
    w.lo = w.start < 0 ? -w.start : 0;
    w.hi = w.start + k > n ? n - w.start : k;
    return w;
}

#endif /* TT_KERNELS_WINDOW_H */
