/**
 * @file f746_flash.h
 * @brief The flashes of the F746 boards, their sectors and layout, and the checks every F746
 *        board applies before touching them (the real drivers on f746-disco, the RAM-backed
 *        twins on f746-qemu and host).
 *
 * Two flashes:
 * - the MCU's own (RM0385 section 3.3.1, "Flash memory organization"): one bank of 1 MB in
 *   eight sectors, 4 x 32 KB, 1 x 128 KB, 3 x 256 KB. It holds the image (sectors 0-3,
 *   128 KB) and the model area (sectors 4-7, 896 KB): frozen weights are read every
 *   training step, so they stay in the fast internal flash.
 * - the Discovery board's QSPI NOR flash (Micron N25Q128A, 16 MB; UM1907 "QSPI NOR Flash
 *   memory"), memory-mapped at 0x90000000. Its first 512 KB hold the A/B parameter store,
 *   as two 256 KB sectors of the port API (each erased as four of the chip's 64 KB
 *   sectors). The store is written at a COMMIT and read at boot and REVERT only, so the
 *   slower flash costs nothing per step. The rest of the chip is not exposed.
 *
 * Port sector indices: 0-7 are the internal sectors (the same numbers as RM0385's SNB), 8
 * and 9 the QSPI ones. Sectors that hold the running image are refused: the port API can
 * only erase or program past it. Where the image ends and where each flash reads are the
 * board's to say (tt_f746_flash_image_bytes(), tt_f746_flash_mapped()), so that this file
 * needs no core: the host twin (boards/host) shares it too.
 */
#ifndef TT_BOARDS_F746_FLASH_H
#define TT_BOARDS_F746_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The MCU's own flash. */
#define TT_F746_FLASH_BYTES (1024u * 1024u)
#define TT_F746_FLASH_SECTORS 8u

/** The external QSPI flash: the chip, and the part of it the port exposes. */
#define TT_F746_QSPI_CHIP_BYTES (16u * 1024u * 1024u)
#define TT_F746_QSPI_SECTOR_BYTES (256u * 1024u)
#define TT_F746_QSPI_SECTORS 2u
#define TT_F746_QSPI_BYTES (TT_F746_QSPI_SECTORS * TT_F746_QSPI_SECTOR_BYTES)

/** Sectors the port API lists: the internal ones, then the QSPI ones. */
#define TT_F746_SECTORS (TT_F746_FLASH_SECTORS + TT_F746_QSPI_SECTORS)

/** Which flash a sector is on. */
typedef enum {
    TT_F746_INTERNAL, /**< The MCU's 1 MB: the image and the model area. */
    TT_F746_QSPI,     /**< The external NOR flash: the parameter store. */
} tt_f746_flash_t;

/** Where a port sector, or a span to program, lies: its flash and the offset in it. */
typedef struct {
    tt_f746_flash_t flash;
    uint32_t offset; /**< Bytes from the start of that flash. */
    uint32_t size;   /**< Bytes (of the sector; of the span for tt_f746_flash_program_at()). */
} tt_f746_place_t;

/**
 * Bytes at the start of the internal flash that the running image occupies; implemented by
 * each board (a Cortex-M board: its linked image, tt_cm7_image_bytes()).
 */
uint32_t tt_f746_flash_image_bytes(void);

/** Where the bytes of @p flash read (its memory-mapped window); implemented by each board. */
const uint8_t *tt_f746_flash_mapped(tt_f746_flash_t flash);

/** Offset of the first internal sector that holds no byte of the running image. */
uint32_t tt_f746_flash_free_offset(void);

/**
 * Port sector @p index, if it may be erased: it exists and holds no part of the running
 * image. @return false (and *place untouched) otherwise.
 */
bool tt_f746_flash_erase_at(size_t index, tt_f746_place_t *place);

/**
 * Where [at, at + len) lies, if it may be programmed: @p at and @p len are word aligned, the
 * span is inside one flash's exposed sectors and past the running image.
 * @return false (and *place untouched) otherwise.
 */
bool tt_f746_flash_program_at(const uint8_t *at, size_t len, tt_f746_place_t *place);

#endif /* TT_BOARDS_F746_FLASH_H */
