/* tt-bench-kernels: instruction counts of the training kernels on the emulated Cortex-M7.
 *
 * Under QEMU's -icount shift=0 every instruction advances virtual time by 1 ns and SysTick
 * counts the 25 MHz SYSCLK, so one tick is 40 instructions (tt_port_ticks()). Each row runs
 * its kernel once on random data laid out in the training arena, on a shape taken from the
 * shared models (MCUNet-5fps, MobileNetV2-w0.35, ProxylessNAS-w0.3 at 128x128), and prints
 *
 *     tt-bench op=<op> shape=<shape> macs=<N> ticks=<T>
 *
 * on the semihosting console; a first line calibrates the tick against a loop of a known
 * instruction count:
 *
 *     tt-bench calibrate instructions=<N> ticks=<T>
 *
 * bench/kernels.py builds this image, boots it and turns the lines into a table and JSON.
 * Rows are the table `rows` below: adding a shape (or a kernel with one of the runners'
 * signatures) is one entry. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "semihost.h"
#include "tt/arena.h"
#include "tt/kernels/kernels.h"
#include "tt/port.h"

int main(void);

typedef struct bench_row bench_row_t;

/* Runs row's kernel on buffers carved from the arena; returns the ticks it took and sets
 * *macs (for add and pooling: the input elements). */
typedef uint32_t (*bench_runner_t)(const bench_row_t *row, uint32_t *macs);

typedef void (*conv_kernel_t)(const tt_kernel_ctx_t *, const tt_conv_geom_t *, const tt_conv_quant_t *, const int8_t *,
                              const int8_t *, const int32_t *, int8_t *);
typedef uint32_t (*conv_scratch_t)(const tt_conv_geom_t *);
typedef void (*inplace_kernel_t)(const tt_kernel_ctx_t *, const tt_conv_geom_t *, const tt_conv_quant_t *,
                                 const int8_t *, const int32_t *, int8_t *);
typedef void (*bwd_input_kernel_t)(const tt_kernel_ctx_t *, const tt_conv_geom_t *, const tt_grad_quant_t *,
                                   const int16_t *, int32_t, const int8_t *, int16_t *, int32_t *);
typedef void (*bwd_weight_kernel_t)(const tt_conv_geom_t *, const tt_bwd_weight_params_t *, const int8_t *,
                                    const tt_grad_s16_t *, int32_t *, int32_t *);
typedef void (*bwd_weight_update_kernel_t)(const tt_conv_geom_t *, const tt_bwd_weight_params_t *, const int8_t *,
                                           const tt_grad_s16_t *, const tt_update_t *, int8_t *);

struct bench_row {
    const char *op;     /* the kernel's name without tt_ and the dtype: pw_conv2d_fwd, ... */
    bench_runner_t run;
    tt_conv_geom_t geom; /* for fc only in_c and out_c matter */
    int depthwise;       /* MACs per output: kernel_h * kernel_w, not times in_c */
    conv_kernel_t conv;  /* run_conv */
    conv_scratch_t scratch;
    bwd_input_kernel_t bwd_input; /* run_bwd_input */
    bwd_weight_kernel_t bwd_weight; /* run_bwd_weight */
    int32_t channel_step; /* run_bwd_weight(_update): trains input channels 0, step, 2 * step, ... */
    inplace_kernel_t inplace; /* run_inplace */
    bwd_weight_update_kernel_t bwd_weight_update; /* run_bwd_weight_update */
};

/* --- Arena and data ------------------------------------------------------------------------ */

static uint32_t arena_top;

static void *take(uint32_t bytes)
{
    uint8_t *p = tt_arena() + arena_top;
    arena_top += (bytes + 7u) & ~7u;
    if (arena_top > tt_arena_bytes()) {
        printf("tt-bench: FAILED: a row needs more than the %lu-byte arena\n", (unsigned long)tt_arena_bytes());
        tt_semihost_exit(1);
    }
    return p;
}

static uint32_t rng_state = 0x2545F491u;

static uint32_t rng(void)
{
    /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static int8_t *random_s8(int32_t n)
{
    int8_t *p = take((uint32_t)n);
    for (int32_t i = 0; i < n; i++) {
        p[i] = (int8_t)rng();
    }
    return p;
}

/* Per-channel requantization as imported models have it: multipliers in [2^30, 2^31),
 * right shifts of 5 to 12, random biases of accumulator size. */
static tt_conv_quant_t random_quant(int32_t channels, const int32_t **bias)
{
    int32_t *multiplier = take((uint32_t)channels * 4u);
    int32_t *shift = take((uint32_t)channels * 4u);
    int32_t *b = take((uint32_t)channels * 4u);
    for (int32_t c = 0; c < channels; c++) {
        multiplier[c] = (int32_t)(0x40000000u | (rng() >> 2));
        shift[c] = -5 - (int32_t)(rng() % 8u);
        b[c] = (int32_t)(rng() % 20001u) - 10000;
    }
    *bias = b;
    const tt_conv_quant_t q = {-(int32_t)(rng() % 256u) + 128, -128, multiplier, shift, -128, 127};
    return q;
}

/* Ticks between two reads; the reads themselves (a few dozen instructions) are noise
 * against kernels of 10^5 and more instructions. */
#define TIMED(ticks, call)                          \
    do {                                            \
        const uint32_t t0_ = tt_port_ticks();       \
        call;                                       \
        (ticks) = tt_port_ticks() - t0_;            \
    } while (0)

/* --- Runners, one per kernel signature ------------------------------------------------------ */

static uint32_t run_conv(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t per_out = g->kernel_h * g->kernel_w * (row->depthwise ? 1 : g->in_c);
    const int8_t *input = random_s8(g->in_h * g->in_w * g->in_c);
    const int8_t *weights = random_s8(per_out * g->out_c);
    const int32_t *bias;
    const tt_conv_quant_t q = random_quant(g->out_c, &bias);
    int8_t *output = take((uint32_t)(g->out_h * g->out_w * g->out_c));
    const uint32_t scratch_bytes = row->scratch(g);
    const tt_kernel_ctx_t ctx = {scratch_bytes > 0 ? take(scratch_bytes) : NULL, scratch_bytes};
    uint32_t ticks;
    TIMED(ticks, row->conv(&ctx, g, &q, input, weights, bias, output));
    *macs = (uint32_t)(g->out_h * g->out_w * g->out_c * per_out);
    return ticks;
}

/* A forward kernel that writes its output over its input: one buffer of the larger size. */
static uint32_t run_inplace(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t per_out = g->kernel_h * g->kernel_w * (row->depthwise ? 1 : g->in_c);
    const int32_t in_n = g->in_h * g->in_w * g->in_c, out_n = g->out_h * g->out_w * g->out_c;
    int8_t *data = random_s8(in_n > out_n ? in_n : out_n);
    const int8_t *weights = random_s8(per_out * g->out_c);
    const int32_t *bias;
    const tt_conv_quant_t q = random_quant(g->out_c, &bias);
    const uint32_t scratch_bytes = row->scratch(g);
    const tt_kernel_ctx_t ctx = {scratch_bytes > 0 ? take(scratch_bytes) : NULL, scratch_bytes};
    uint32_t ticks;
    TIMED(ticks, row->inplace(&ctx, g, &q, weights, bias, data));
    *macs = (uint32_t)(out_n * per_out);
    return ticks;
}

static int16_t *random_s16(int32_t n)
{
    int16_t *p = take((uint32_t)n * 2u);
    for (int32_t i = 0; i < n; i++) {
        p[i] = (int16_t)((int32_t)rng() >> 20); /* 12-bit gradients */
    }
    return p;
}

static tt_grad_quant_t random_grad_quant(int32_t channels)
{
    int32_t *multiplier = take((uint32_t)channels * 4u);
    int32_t *shift = take((uint32_t)channels * 4u);
    for (int32_t c = 0; c < channels; c++) {
        multiplier[c] = (int32_t)(0x40000000u | (rng() >> 2));
        shift[c] = -(int32_t)(rng() % 3u);
    }
    const tt_grad_quant_t q = {multiplier, shift, (int32_t)(0x40000000u | (rng() >> 2)), -8};
    return q;
}

/* Input gradient: dY shaped like the forward output, dX like its input. */
static uint32_t run_bwd_input(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t per_out = g->kernel_h * g->kernel_w * (row->depthwise ? 1 : g->in_c);
    const int16_t *grad_output = random_s16(g->out_h * g->out_w * g->out_c);
    const int8_t *weights = random_s8(per_out * g->out_c);
    const tt_grad_quant_t q = random_grad_quant(g->out_c);
    int16_t *grad_input = take((uint32_t)(g->in_h * g->in_w * g->in_c) * 2u);
    const uint32_t scratch_bytes = row->scratch(g);
    const tt_kernel_ctx_t ctx = {scratch_bytes > 0 ? take(scratch_bytes) : NULL, scratch_bytes};
    int32_t exp;
    uint32_t ticks;
    TIMED(ticks, row->bwd_input(&ctx, g, &q, grad_output, -12, weights, grad_input, &exp));
    *macs = (uint32_t)(g->out_h * g->out_w * g->out_c * per_out);
    return ticks;
}

/* The depthwise input gradient written over dY (tt_dw_conv2d_bwd_input_inplace_s16). */
static uint32_t run_dw_bwd_input_inplace(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t taps = g->kernel_h * g->kernel_w;
    int16_t *grad = random_s16(g->out_h * g->out_w * g->out_c);
    const int8_t *weights = random_s8(taps * g->out_c);
    const tt_grad_quant_t q = random_grad_quant(g->out_c);
    const uint32_t scratch_bytes = tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(g);
    const tt_kernel_ctx_t ctx = {take(scratch_bytes), scratch_bytes};
    int32_t exp;
    uint32_t ticks;
    TIMED(ticks, tt_dw_conv2d_bwd_input_inplace_s16(&ctx, g, &q, -12, weights, grad, &exp));
    *macs = (uint32_t)(g->out_h * g->out_w * g->out_c * taps);
    return ticks;
}

/* Weight gradient of every channel_step-th input channel (a sparse update's slice). */
static uint32_t run_bwd_weight(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t n_channels = (g->in_c + row->channel_step - 1) / row->channel_step;
    int16_t *channels = take((uint32_t)n_channels * 2u);
    for (int32_t i = 0; i < n_channels; i++) {
        channels[i] = (int16_t)(i * row->channel_step);
    }
    const int8_t *input = random_s8(g->in_h * g->in_w * g->in_c);
    const int16_t *grad_output = random_s16(g->out_h * g->out_w * g->out_c);
    const int32_t per_out = g->kernel_h * g->kernel_w * (row->depthwise ? 1 : n_channels);
    const int32_t weights = row->depthwise ? g->kernel_h * g->kernel_w * n_channels : per_out * g->out_c;
    int32_t *grad_weights = take((uint32_t)weights * 4u);
    int32_t exp;
    uint32_t ticks;
    const tt_bwd_weight_params_t params = {-3, {channels, n_channels}};
    const tt_grad_s16_t dy = {grad_output, -12};
    TIMED(ticks, row->bwd_weight(g, &params, input, &dy, grad_weights, &exp));
    *macs = (uint32_t)(g->out_h * g->out_w * (row->depthwise ? weights : per_out * g->out_c));
    return ticks;
}

/* The fused weight gradient + SGD/QAS update of the same slice: the kernel reads the compact
 * input (the slice's channels of every pixel) and updates the int8 slice in place. */
static uint32_t run_bwd_weight_update(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t n_channels = (g->in_c + row->channel_step - 1) / row->channel_step;
    int16_t *channels = take((uint32_t)n_channels * 2u);
    for (int32_t i = 0; i < n_channels; i++) {
        channels[i] = (int16_t)(i * row->channel_step);
    }
    const int8_t *input = random_s8(g->in_h * g->in_w * n_channels);
    const int16_t *grad_output = random_s16(g->out_h * g->out_w * g->out_c);
    const int32_t weights_n = g->kernel_h * g->kernel_w * n_channels * (row->depthwise ? 1 : g->out_c);
    int8_t *weights = random_s8(weights_n);
    int32_t *multiplier = take((uint32_t)g->out_c * 4u);
    int32_t *shift = take((uint32_t)g->out_c * 4u);
    for (int32_t c = 0; c < g->out_c; c++) {
        multiplier[c] = (int32_t)(0x40000000u | (rng() >> 2));
        shift[c] = 10 + (int32_t)(rng() % 8u); /* s_W^-2: weight scales around 2^-6 */
    }
    const tt_qas_t qas = {multiplier, shift};
    const tt_sgd_t sgd = {1717986918, -9, 0, 0}; /* lr 0.0016 */
    tt_rng_t prng = {0x1234567u, 0};
    const tt_update_t update = {&sgd, &qas, &prng, 0};
    const tt_bwd_weight_params_t params = {-3, {channels, n_channels}};
    const tt_grad_s16_t dy = {grad_output, -12};
    uint32_t ticks;
    TIMED(ticks, row->bwd_weight_update(g, &params, input, &dy, &update, weights));
    *macs = (uint32_t)(g->out_h * g->out_w * weights_n);
    return ticks;
}

/* The forward of a partially trained layer: the frozen tensor with every channel_step-th input
 * channel's weights taken from the trained slice (tt_conv2d_fwd_overlay_s8). */
static uint32_t run_overlay(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int32_t n_channels = (g->in_c + row->channel_step - 1) / row->channel_step;
    int16_t *channels = take((uint32_t)n_channels * 2u);
    for (int32_t i = 0; i < n_channels; i++) {
        channels[i] = (int16_t)(i * row->channel_step);
    }
    const int32_t taps = g->kernel_h * g->kernel_w;
    const int8_t *input = random_s8(g->in_h * g->in_w * g->in_c);
    const int8_t *weights = random_s8(taps * g->in_c * g->out_c);
    const int8_t *trained = random_s8(taps * n_channels * g->out_c);
    const int32_t *bias;
    const tt_conv_quant_t q = random_quant(g->out_c, &bias);
    int8_t *output = take((uint32_t)(g->out_h * g->out_w * g->out_c));
    const uint32_t scratch_bytes = tt_conv2d_fwd_overlay_s8_scratch_size(g);
    const tt_kernel_ctx_t ctx = {take(scratch_bytes), scratch_bytes};
    uint32_t ticks;
    TIMED(ticks, tt_conv2d_fwd_overlay_s8(&ctx, g, &q, input, weights, channels, n_channels, trained, bias, output));
    *macs = (uint32_t)(g->out_h * g->out_w * g->out_c * taps * g->in_c);
    return ticks;
}

static uint32_t run_fc(const bench_row_t *row, uint32_t *macs)
{
    const tt_fc_geom_t g = {row->geom.in_c, row->geom.out_c};
    const int8_t *input = random_s8(g.in_c);
    const int8_t *weights = random_s8(g.in_c * g.out_c);
    const int32_t *bias;
    const tt_conv_quant_t q = random_quant(g.out_c, &bias);
    int8_t *output = take((uint32_t)g.out_c);
    const uint32_t scratch_bytes = tt_fc_fwd_s8_scratch_size(&g);
    const tt_kernel_ctx_t ctx = {scratch_bytes > 0 ? take(scratch_bytes) : NULL, scratch_bytes};
    uint32_t ticks;
    TIMED(ticks, tt_fc_fwd_s8(&ctx, &g, &q, input, weights, bias, output));
    *macs = (uint32_t)(g.in_c * g.out_c);
    return ticks;
}

static uint32_t run_add(const bench_row_t *row, uint32_t *macs)
{
    const int32_t n = row->geom.in_h * row->geom.in_w * row->geom.in_c;
    const int8_t *a = random_s8(n), *b = random_s8(n);
    int8_t *out = take((uint32_t)n);
    /* A typical residual: both inputs rescaled to twice the larger input scale. */
    const tt_add_quant_t q = {3, -5, -2, 20, 1073741824, 0, 1518500250, -1, 1250000000, -19, -128, 127};
    uint32_t ticks;
    TIMED(ticks, tt_add_fwd_s8(n, &q, a, b, out));
    *macs = (uint32_t)n;
    return ticks;
}

/* The gradient through a residual add: dY plus the other branch's gradient, exponents apart. */
static uint32_t run_add_bwd_input(const bench_row_t *row, uint32_t *macs)
{
    const int32_t n = row->geom.in_h * row->geom.in_w * row->geom.in_c;
    const int16_t *dy = random_s16(n), *other = random_s16(n);
    int16_t *dx = take((uint32_t)n * 2u);
    int32_t exp;
    uint32_t ticks;
    TIMED(ticks, tt_add_bwd_input_s16(n, dy, -12, other, -10, dx, &exp));
    *macs = (uint32_t)n;
    return ticks;
}

/* The ReLU6 mask of a trained block's saved activation, packed in the forward pass. */
static uint32_t run_mask_pack(const bench_row_t *row, uint32_t *macs)
{
    const int32_t n = row->geom.in_h * row->geom.in_w * row->geom.in_c;
    const int8_t *output = random_s8(n);
    uint8_t *mask = take((uint32_t)(n + 7) / 8u);
    uint32_t ticks;
    TIMED(ticks, tt_mask_pack_s8(n, -128, 100, output, mask));
    *macs = (uint32_t)n;
    return ticks;
}

/* The ReLU6 mask applied to dY, in place, as the backward of a clamped convolution runs it. */
static uint32_t run_mask_bwd(const bench_row_t *row, uint32_t *macs)
{
    const int32_t n = row->geom.in_h * row->geom.in_w * row->geom.in_c;
    int16_t *grad = random_s16(n);
    const uint8_t *mask = (const uint8_t *)random_s8((n + 7) / 8);
    uint32_t ticks;
    TIMED(ticks, tt_mask_bwd_s16(n, mask, grad, grad));
    *macs = (uint32_t)n;
    return ticks;
}

/* A trained bias's gradient: dY summed over the positions per channel. */
static uint32_t run_bias_bwd(const bench_row_t *row, uint32_t *macs)
{
    const int32_t positions = row->geom.in_h * row->geom.in_w, channels = row->geom.in_c;
    const int16_t *grad = random_s16(positions * channels);
    int32_t *grad_bias = take((uint32_t)channels * 4u);
    int32_t exp;
    uint32_t ticks;
    TIMED(ticks, tt_bias_bwd_s16(positions, channels, grad, -12, grad_bias, &exp));
    *macs = (uint32_t)(positions * channels);
    return ticks;
}

static uint32_t run_avgpool(const bench_row_t *row, uint32_t *macs)
{
    const tt_conv_geom_t *g = &row->geom;
    const int8_t *input = random_s8(g->in_h * g->in_w * g->in_c);
    int8_t *output = take((uint32_t)(g->out_h * g->out_w * g->out_c));
    const tt_pool_quant_t q = {-128, 127};
    uint32_t ticks;
    TIMED(ticks, tt_avgpool_fwd_s8(g, &q, input, output));
    *macs = (uint32_t)(g->in_h * g->in_w * g->in_c);
    return ticks;
}

/* --- The rows ------------------------------------------------------------------------------ */

/* in_h, in_w, in_c, out_h, out_w, out_c, k, stride, padding top, left, bottom, right */
#define GEOM(ih, iw, ic, oh, ow, oc, k, s, pt, pl, pb, pr) {ih, iw, ic, oh, ow, oc, k, k, s, s, pt, pl, pb, pr}
#define CONV(op, fn, g) {op, run_conv, g, 0, fn, fn##_scratch_size, 0, 0, 0, 0, 0}
#define DW(op, fn, g) {op, run_conv, g, 1, fn, fn##_scratch_size, 0, 0, 0, 0, 0}
#define BWD_INPUT(op, fn, g, dw) {op, run_bwd_input, g, dw, 0, fn##_scratch_size, fn, 0, 0, 0, 0}
#define INPLACE(op, fn, g, dw) {op, run_inplace, g, dw, 0, fn##_scratch_size, 0, 0, 0, fn, 0}
#define OTHER(op, runner, g) {op, runner, g, 0, 0, 0, 0, 0, 0, 0, 0}
#define BWD_WEIGHT(op, fn, g, dw, step) {op, run_bwd_weight, g, dw, 0, 0, 0, fn, step, 0, 0}
#define BWD_WEIGHT_UPDATE(op, fn, g, dw, step) {op, run_bwd_weight_update, g, dw, 0, 0, 0, 0, step, 0, fn}
#define OVERLAY(op, g, step) {op, run_overlay, g, 0, 0, 0, 0, 0, step, 0, 0}

static const bench_row_t rows[] = {
    /* The stem of all three models: 3x3 stride 2 on the RGB image, PAD folded. */
    CONV("conv2d_fwd", tt_conv2d_fwd_s8, GEOM(128, 128, 3, 64, 64, 16, 3, 2, 1, 1, 0, 0)),
    /* Pointwise, early to late (in_c 8 and 16 are the first blocks of every model). */
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(64, 64, 16, 64, 64, 8, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(32, 32, 8, 32, 32, 48, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(32, 32, 48, 32, 32, 16, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(16, 16, 24, 16, 16, 120, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(16, 16, 120, 16, 16, 24, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(8, 8, 160, 8, 8, 40, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(4, 4, 96, 4, 4, 384, 1, 1, 0, 0, 0, 0)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(4, 4, 576, 4, 4, 160, 1, 1, 0, 0, 0, 0)),
    /* Projections written over their input (MobileNetV2-w0.35's in-place blocks), and the
     * same shapes out of place for comparison. */
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(16, 16, 96, 16, 16, 24, 1, 1, 0, 0, 0, 0)),
    INPLACE("pw_conv2d_fwd_inplace", tt_pw_conv2d_fwd_inplace_s8, GEOM(16, 16, 96, 16, 16, 24, 1, 1, 0, 0, 0, 0), 0),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(8, 8, 192, 8, 8, 32, 1, 1, 0, 0, 0, 0)),
    INPLACE("pw_conv2d_fwd_inplace", tt_pw_conv2d_fwd_inplace_s8, GEOM(8, 8, 192, 8, 8, 32, 1, 1, 0, 0, 0, 0), 0),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(4, 4, 336, 4, 4, 56, 1, 1, 0, 0, 0, 0)),
    INPLACE("pw_conv2d_fwd_inplace", tt_pw_conv2d_fwd_inplace_s8, GEOM(4, 4, 336, 4, 4, 56, 1, 1, 0, 0, 0, 0), 0),
    /* Depthwise 3x3 / 5x5 / 7x7 at stride 1 and 2 (stride 2 with the folded PAD). */
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(64, 64, 16, 64, 64, 16, 3, 1, 1, 1, 1, 1)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(64, 64, 32, 32, 32, 32, 3, 2, 1, 1, 0, 0)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(16, 16, 120, 16, 16, 120, 3, 1, 1, 1, 1, 1)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(64, 64, 24, 32, 32, 24, 5, 2, 2, 2, 1, 1)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(8, 8, 160, 8, 8, 160, 5, 1, 2, 2, 2, 2)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(32, 32, 48, 16, 16, 48, 7, 2, 3, 3, 2, 2)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(8, 8, 160, 8, 8, 160, 7, 1, 3, 3, 3, 3)),
    /* Depthwise written over its input (MobileNetV2-w0.35's in-place blocks), and the same
     * shapes out of place for comparison. */
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(16, 16, 96, 16, 16, 96, 3, 1, 1, 1, 1, 1)),
    INPLACE("dw_conv2d_fwd_inplace", tt_dw_conv2d_fwd_inplace_s8, GEOM(16, 16, 96, 16, 16, 96, 3, 1, 1, 1, 1, 1), 1),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1)),
    INPLACE("dw_conv2d_fwd_inplace", tt_dw_conv2d_fwd_inplace_s8, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1), 1),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(16, 16, 144, 8, 8, 144, 3, 2, 1, 1, 0, 0)),
    INPLACE("dw_conv2d_fwd_inplace", tt_dw_conv2d_fwd_inplace_s8, GEOM(16, 16, 144, 8, 8, 144, 3, 2, 1, 1, 0, 0), 1),
    /* One-row calls, as tt_irb_fwd_s8() makes them in the fused high-resolution blocks of
     * MobileNetV2-w0.35 (stem, b0, b1, b4 and b5): each output row from the input rows under it. */
    CONV("conv2d_fwd", tt_conv2d_fwd_s8, GEOM(3, 128, 3, 1, 64, 16, 3, 2, 0, 1, 0, 0)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(3, 64, 16, 1, 64, 16, 3, 1, 0, 1, 0, 1)),
    CONV("pw_conv2d_fwd", tt_pw_conv2d_fwd_s8, GEOM(1, 64, 8, 1, 64, 48, 1, 1, 0, 0, 0, 0)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(3, 64, 48, 1, 32, 48, 3, 2, 0, 1, 0, 0)),
    DW("dw_conv2d_fwd", tt_dw_conv2d_fwd_s8, GEOM(3, 16, 96, 1, 16, 96, 3, 1, 0, 1, 0, 1)),
    /* The forward of the pointwise layers a sparse update trains (MobileNetV2-w0.35's b11.pw1 with
     * all of its input channels trained, b14.pw1 with one in eight), merged with their slices. */
    OVERLAY("conv2d_fwd_overlay", GEOM(8, 8, 32, 8, 8, 192, 1, 1, 0, 0, 0, 0), 1),
    OVERLAY("conv2d_fwd_overlay", GEOM(4, 4, 56, 4, 4, 336, 1, 1, 0, 0, 0, 0), 8),
    /* The classifier: MCUNet's 1000-class head and a 10-class transfer-learning head. */
    OTHER("fc_fwd", run_fc, GEOM(1, 1, 160, 1, 1, 1000, 1, 1, 0, 0, 0, 0)),
    OTHER("fc_fwd", run_fc, GEOM(1, 1, 160, 1, 1, 10, 1, 1, 0, 0, 0, 0)),
    /* A residual add and the global average pool (macs = input elements). */
    OTHER("add_fwd", run_add, GEOM(16, 16, 24, 16, 16, 24, 1, 1, 0, 0, 0, 0)),
    OTHER("avgpool_fwd", run_avgpool, GEOM(4, 4, 160, 1, 1, 160, 4, 1, 0, 0, 0, 0)),
    /* Backward through the late blocks a sparse update trains (MCUNet / ProxylessNAS):
     * input gradients through pointwise and depthwise convolutions, weight gradients of
     * the first pointwise conv of a block on half or all of its input channels. */
    BWD_INPUT("pw_conv2d_bwd_input", tt_pw_conv2d_bwd_input_s16, GEOM(8, 8, 160, 8, 8, 40, 1, 1, 0, 0, 0, 0), 0),
    BWD_INPUT("pw_conv2d_bwd_input", tt_pw_conv2d_bwd_input_s16, GEOM(4, 4, 96, 4, 4, 384, 1, 1, 0, 0, 0, 0), 0),
    BWD_INPUT("dw_conv2d_bwd_input", tt_dw_conv2d_bwd_input_s16, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1), 1),
    BWD_INPUT("dw_conv2d_bwd_input", tt_dw_conv2d_bwd_input_s16, GEOM(8, 8, 192, 4, 4, 192, 7, 2, 3, 3, 2, 2), 1),
    BWD_INPUT("dw_conv2d_bwd_input", tt_dw_conv2d_bwd_input_s16, GEOM(4, 4, 384, 4, 4, 384, 5, 1, 2, 2, 2, 2), 1),
    /* The same at stride 1, dX written over dY: what the planner runs where dY dies there. */
    OTHER("dw_conv2d_bwd_input_inplace", run_dw_bwd_input_inplace, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1)),
    OTHER("dw_conv2d_bwd_input_inplace", run_dw_bwd_input_inplace, GEOM(4, 4, 384, 4, 4, 384, 5, 1, 2, 2, 2, 2)),
    BWD_WEIGHT("pw_conv2d_bwd_weight", tt_pw_conv2d_bwd_weight_s16, GEOM(8, 8, 48, 8, 8, 192, 1, 1, 0, 0, 0, 0), 0, 2),
    BWD_WEIGHT("pw_conv2d_bwd_weight", tt_pw_conv2d_bwd_weight_s16, GEOM(4, 4, 96, 4, 4, 384, 1, 1, 0, 0, 0, 0), 0, 1),
    BWD_WEIGHT("dw_conv2d_bwd_weight", tt_dw_conv2d_bwd_weight_s16, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1), 1, 2),
    /* The published schemes train a layer's first n channels (one consecutive run), fused
     * with the update where the gradient dies at once. */
    BWD_WEIGHT("dw_conv2d_bwd_weight", tt_dw_conv2d_bwd_weight_s16, GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1), 1, 1),
    BWD_WEIGHT_UPDATE("dw_conv2d_bwd_weight_update", tt_dw_conv2d_bwd_weight_update_s8,
                      GEOM(8, 8, 192, 8, 8, 192, 3, 1, 1, 1, 1, 1), 1, 1),
    BWD_WEIGHT_UPDATE("pw_conv2d_bwd_weight_update", tt_pw_conv2d_bwd_weight_update_s8,
                      GEOM(8, 8, 48, 8, 8, 192, 1, 1, 0, 0, 0, 0), 0, 2),
    /* The gradient through the residual add above, and the elementwise steps of every trained
     * block (macs = elements): the ReLU6 mask packed forward and applied backward, the bias
     * gradient. */
    OTHER("add_bwd_input", run_add_bwd_input, GEOM(16, 16, 24, 16, 16, 24, 1, 1, 0, 0, 0, 0)),
    OTHER("mask_pack", run_mask_pack, GEOM(8, 8, 192, 8, 8, 192, 1, 1, 0, 0, 0, 0)),
    OTHER("mask_bwd", run_mask_bwd, GEOM(8, 8, 192, 8, 8, 192, 1, 1, 0, 0, 0, 0)),
    OTHER("bias_bwd", run_bias_bwd, GEOM(8, 8, 192, 8, 8, 192, 1, 1, 0, 0, 0, 0)),
};

/* --- Calibration and main ------------------------------------------------------------------ */

#define CALIBRATION_LOOPS (1u << 20)

/* SUBS + BNE per iteration: 2 * CALIBRATION_LOOPS instructions (plus one MOV). */
static uint32_t calibrate(void)
{
    uint32_t n = CALIBRATION_LOOPS, ticks;
    TIMED(ticks, __asm__ volatile("1:\n\tsubs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc"));
    return ticks;
}

static void shape_text(const bench_row_t *row, char *buf, size_t cap)
{
    const tt_conv_geom_t *g = &row->geom;
    if (row->run == run_fc) {
        snprintf(buf, cap, "%ldx%ld", (long)g->in_c, (long)g->out_c);
    } else if (row->run == run_add || row->run == run_add_bwd_input || row->run == run_mask_pack ||
               row->run == run_mask_bwd || row->run == run_bias_bwd) {
        snprintf(buf, cap, "%ldx%ldx%ld", (long)g->in_h, (long)g->in_w, (long)g->in_c);
    } else {
        const int n = snprintf(buf, cap, "%ldx%ldx%ld->%ldx%ldx%ld,k%ld,s%ld", (long)g->in_h, (long)g->in_w,
                               (long)g->in_c, (long)g->out_h, (long)g->out_w, (long)g->out_c, (long)g->kernel_h,
                               (long)g->stride_h);
        if ((row->run == run_bwd_weight || row->run == run_bwd_weight_update || row->run == run_overlay) && n > 0 &&
            (size_t)n < cap) {
            /* The trained input channels: 0, step, 2 step, ... (a step of 1 is one run). */
            const int32_t step = row->channel_step;
            snprintf(buf + n, cap - (size_t)n, ",ch%ld,step%ld", (long)((g->in_c + step - 1) / step), (long)step);
        }
    }
}

int main(void)
{
    tt_port_init();
    printf("tt-bench calibrate instructions=%lu ticks=%lu\n", (unsigned long)(2u * CALIBRATION_LOOPS),
           (unsigned long)calibrate());
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char shape[64];
        uint32_t macs = 0;
        arena_top = 0;
        const uint32_t ticks = rows[i].run(&rows[i], &macs);
        shape_text(&rows[i], shape, sizeof shape);
        printf("tt-bench op=%s shape=%s macs=%lu ticks=%lu\n", rows[i].op, shape, (unsigned long)macs,
               (unsigned long)ticks);
    }
    printf("tt-bench done\n");
    return 0;
}
