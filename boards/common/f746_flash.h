/**
 * @file f746_flash.h
 * @brief The STM32F746's flash geometry and the checks both F746 boards apply before
 *        touching it (the real driver on f746-disco, the RAM-backed one on f746-qemu).
 *
 * Layout (RM0385 section 3.3.1, "Flash memory organization"): one bank of 1 MB in eight
 * sectors, 4 x 32 KB, 1 x 128 KB, 3 x 256 KB. The sectors that hold the running image
 * are refused: the port API can only erase or program the sectors after it. Where the
 * image ends is the board's to say (tt_f746_flash_image_bytes()), so that this file
 * needs no core: the host twin (boards/host) shares it too.
 */
#ifndef TT_BOARDS_F746_FLASH_H
#define TT_BOARDS_F746_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TT_F746_FLASH_BYTES (1024u * 1024u)
#define TT_F746_FLASH_SECTORS 8u

/**
 * Bytes at the start of flash that the running image occupies; implemented by each board
 * (a Cortex-M board: its linked image, tt_cm7_image_bytes()).
 */
uint32_t tt_f746_flash_image_bytes(void);

/** Offset of the first sector that holds no byte of the running image. */
uint32_t tt_f746_flash_free_offset(void);

/** Sector @p index exists and holds no part of the running image. */
bool tt_f746_flash_erase_ok(size_t index);

/** [offset, offset + len) is word aligned, inside the flash and past the running image. */
bool tt_f746_flash_program_ok(uint32_t offset, size_t len);

#endif /* TT_BOARDS_F746_FLASH_H */
