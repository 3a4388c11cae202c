/* GPIO alternate-function set-up shared by the Discovery board's drivers (RM0385 6.4). */
#include "f746_disco.h"
#include "stm32f746.h"

void tt_disco_pin_af(uint32_t port, uint32_t pin, uint32_t af, uint32_t speed, uint32_t pull)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (GPIO_MODE_AF << (2u * pin));
    GPIO_OSPEEDR(port) = (GPIO_OSPEEDR(port) & ~(3u << (2u * pin))) | (speed << (2u * pin));
    GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << (2u * pin))) | (pull << (2u * pin));
    if (pin < 8u) {
        GPIO_AFRL(port) = (GPIO_AFRL(port) & ~(0xFu << (4u * pin))) | (af << (4u * pin));
    } else {
        GPIO_AFRH(port) = (GPIO_AFRH(port) & ~(0xFu << (4u * (pin - 8u)))) | (af << (4u * (pin - 8u)));
    }
}
