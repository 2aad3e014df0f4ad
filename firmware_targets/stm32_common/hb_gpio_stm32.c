/* GPIO and register helpers shared by the STM32 targets (see hb_stm32.h). */
#include "hb_stm32.h"

void hb_gpio_alternate(uint32_t port_base, uint32_t pin, uint32_t af)
{
    uint32_t shift2 = pin * 2u;
    uint32_t shift4 = (pin % 8u) * 4u;
    HB_GPIO_AFR(port_base, pin) = (HB_GPIO_AFR(port_base, pin) & ~(0xFu << shift4)) | (af << shift4);
    HB_GPIO_OTYPER(port_base) &= ~(1u << pin);
    HB_GPIO_OSPEEDR(port_base) |= (3u << shift2);
    HB_GPIO_PUPDR(port_base) &= ~(3u << shift2);
    HB_GPIO_MODER(port_base) = (HB_GPIO_MODER(port_base) & ~(3u << shift2)) | (2u << shift2);
}

void hb_gpio_output(uint32_t port_base, uint32_t pin, int high)
{
    uint32_t shift2 = pin * 2u;
    /* Set the level first, so that the pin never glitches low when it becomes an output. */
    HB_GPIO_BSRR(port_base) = high ? (1u << pin) : (1u << (pin + 16u));
    HB_GPIO_OTYPER(port_base) &= ~(1u << pin);
    HB_GPIO_OSPEEDR(port_base) |= (3u << shift2);
    HB_GPIO_PUPDR(port_base) &= ~(3u << shift2);
    HB_GPIO_MODER(port_base) = (HB_GPIO_MODER(port_base) & ~(3u << shift2)) | (1u << shift2);
}

void hb_wait_bits(volatile uint32_t *addr, uint32_t mask, uint32_t expected)
{
    while ((*addr & mask) != expected) {
    }
}
