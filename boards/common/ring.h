/**
 * @file ring.h
 * @brief Single-producer single-consumer byte ring between a receive interrupt and thread mode.
 *
 * The interrupt handler only advances @c head, thread mode only advances @c tail; both
 * indices run freely and wrap at 2^32, so head - tail is the fill level and no lock is
 * needed on a single core. The barriers keep the compiler from moving a data access
 * across the index update that publishes it.
 */
#ifndef TT_BOARDS_RING_H
#define TT_BOARDS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Ring capacity: a power of two larger than the largest frame on the wire (~1.05 KB). */
#define TT_RING_BYTES 2048u

typedef struct {
    volatile uint32_t head; /**< Written by the interrupt handler. */
    volatile uint32_t tail; /**< Written by thread mode. */
    uint8_t data[TT_RING_BYTES];
} tt_ring_t;

#define TT_COMPILER_BARRIER() __asm__ volatile("" ::: "memory")

static inline bool tt_ring_empty(const tt_ring_t *r) { return r->head == r->tail; }

static inline bool tt_ring_full(const tt_ring_t *r) { return r->head - r->tail >= TT_RING_BYTES; }

/** Producer side (interrupt handler); false when the ring is full. */
static inline bool tt_ring_put(tt_ring_t *r, uint8_t byte)
{
    const uint32_t head = r->head;
    if (head - r->tail >= TT_RING_BYTES) {
        return false;
    }
    r->data[head % TT_RING_BYTES] = byte;
    TT_COMPILER_BARRIER();
    r->head = head + 1u;
    return true;
}

/** Consumer side (thread mode): move up to @p cap bytes out; returns how many. */
static inline size_t tt_ring_get(tt_ring_t *r, uint8_t *buf, size_t cap)
{
    const uint32_t tail = r->tail;
    const uint32_t avail = r->head - tail;
    TT_COMPILER_BARRIER();
    const size_t n = avail < cap ? avail : cap;
    for (size_t i = 0; i < n; i++) {
        buf[i] = r->data[(tail + (uint32_t)i) % TT_RING_BYTES];
    }
    TT_COMPILER_BARRIER();
    r->tail = tail + (uint32_t)n;
    return n;
}

#endif /* TT_BOARDS_RING_H */
