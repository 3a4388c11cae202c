#include "tt/arena.h"

#ifndef TT_ARENA_SECTION
#define TT_ARENA_SECTION
#endif

/* 8-byte alignment lets kernels use word and double-word loads anywhere a plan puts a
 * buffer; the planner keeps every offset aligned too. */
TT_ARENA_SECTION static uint8_t arena[TT_ARENA_BYTES] __attribute__((aligned(8)));

uint8_t *tt_arena(void) { return arena; }

uint32_t tt_arena_bytes(void) { return (uint32_t)sizeof arena; }
