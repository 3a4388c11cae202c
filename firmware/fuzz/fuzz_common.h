/* Helpers the libFuzzer harnesses of this folder share: sealing a fuzzed package so that its
 * CRCs hold (the fuzzer then gets past them to the checks behind), checking that every byte
 * the device sends back decodes as intact frames, and tracking which flash the last input
 * dirtied so that the next one starts from erased flash without wiping 1.75 MB every time.
 *
 * Each harness is one file, fuzz_<target>.c, linked with this one and the host runtime
 * (firmware/tests/host_port.c is the port: flash in RAM, simulated power cuts). */
#ifndef TT_FUZZ_COMMON_H
#define TT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Abort with a message: a broken invariant is a finding, as a sanitizer report is. */
#define FUZZ_REQUIRE(cond, ...)                                                                                        \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                                         \
        }                                                                                                              \
    } while (0)

__attribute__((noreturn, format(printf, 4, 5))) void fuzz_fail(const char *file, int line, const char *cond,
                                                              const char *fmt, ...);

/**
 * Make a package (plan blob then weight blob, @p len bytes) self-consistent as
 * tt_protocol.plan.seal() would: the plan's total_bytes (clamped into the package), the weight
 * blob's total_bytes and CRC, the plan's weights_bytes/weights_crc32 and its own CRC. Fields
 * that do not fit in @p len are left alone.
 */
void fuzz_seal_package(uint8_t *package, uint32_t len);

/** Start checking a fresh response stream (see fuzz_check_response()). */
void fuzz_responses_reset(void);

/**
 * A tt_write_fn: decode the device's output byte by byte and abort unless every frame is
 * intact (CRC, COBS, a header whose length matches). @p ctx is unused.
 */
void fuzz_check_response(void *ctx, const uint8_t *data, size_t len);

/** Intact response frames seen since fuzz_responses_reset(). */
unsigned long fuzz_responses(void);

/** Erase the flash if anything programmed or erased it since the last call (or a power cut is armed). */
void fuzz_flash_clean(void);

/** Remember that the flash was written (tt_host_flash_cut_after() zeroes the step counter). */
void fuzz_flash_note_steps(void);

/** Little-endian reads from the fuzzer's bytes. */
static inline uint32_t fuzz_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static inline uint32_t fuzz_u32(const uint8_t *p) { return fuzz_u16(p) | (fuzz_u16(p + 2) << 16); }

#endif /* TT_FUZZ_COMMON_H */
