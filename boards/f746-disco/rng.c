/* The F746's true random number generator (RM0385 22 "True random number generator"), for
 * authentication nonces. It runs from the 48 MHz PLL Q output that board.c configures; when
 * the clock setup fell back to the HSI, it has no clock and every read times out: the device
 * then refuses NONCE (INTERNAL) rather than issue a predictable one. */
#include <stdbool.h>

#include "stm32f746.h"
#include "tt/port.h"

/* A word takes 40 cycles of the 48 MHz clock (RM0385 22.3.2); this many polls is ample. */
#define RNG_POLLS 10000u

static bool next_word(uint32_t *word)
{
    for (uint32_t i = 0; i < RNG_POLLS; i++) {
        const uint32_t sr = RNG_SR;
        if (sr & (RNG_SR_SECS | RNG_SR_CECS)) {
            return false; /* a seed or clock error: the output cannot be trusted */
        }
        if (sr & RNG_SR_DRDY) {
            *word = RNG_DR;
            return true;
        }
    }
    return false;
}

int tt_port_random(uint8_t *out, size_t len)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_RNGEN;
    (void)RCC_AHB2ENR; /* the clock is on before the peripheral is touched */
    RNG_CR |= RNG_CR_RNGEN;
    for (size_t i = 0; i < len; i += 4u) {
        uint32_t word;
        if (!next_word(&word)) {
            return -1;
        }
        for (size_t b = 0; b < 4u && i + b < len; b++) {
            out[i + b] = (uint8_t)(word >> (8u * b));
        }
    }
    return 0;
}
