/* Minimal test harness: CHECK records a failure with its location and keeps going, so one
 * run reports every broken case; main returns tt_test_report(). */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <stdio.h>
#include <string.h>

static int tt_test_failures;
static int tt_test_checks;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        tt_test_checks++;                                                             \
        if (!(cond)) {                                                                \
            tt_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* Compare two byte arrays; on mismatch print the first differing index and both values. */
static inline int tt_test_bytes_equal(const char *what, const unsigned char *got, size_t got_len,
                                      const unsigned char *want, size_t want_len)
{
    size_t n = got_len < want_len ? got_len : want_len;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr, "%s: first mismatch at byte %zu: got 0x%02x, want 0x%02x\n", what, i, got[i],
                    want[i]);
            return 0;
        }
    }
    if (got_len != want_len) {
        fprintf(stderr, "%s: length %zu, want %zu\n", what, got_len, want_len);
        return 0;
    }
    return 1;
}

static inline int tt_test_report(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, tt_test_checks, tt_test_failures);
    return tt_test_failures == 0 ? 0 : 1;
}

#endif /* TT_TEST_H */
