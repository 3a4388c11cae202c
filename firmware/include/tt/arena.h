/**
 * @file arena.h
 * @brief The static training arena: one buffer whose every byte a plan assigns at compile time.
 *
 * On a board it lives in the NOLOAD section ".arena" so the link map shows it and an
 * arena that does not fit the part's SRAM fails the link. Its size is fixed per image by
 * the board (TT_ARENA_BYTES).
 */
#ifndef TT_ARENA_H
#define TT_ARENA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Start of the arena, aligned to 8 bytes. */
uint8_t *tt_arena(void);

/** Size of the arena in bytes. */
uint32_t tt_arena_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* TT_ARENA_H */
