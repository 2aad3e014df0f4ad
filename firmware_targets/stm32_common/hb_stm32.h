/*
 * What the STM32 Nucleo targets share: GPIO and U(S)ART register layouts (identical on the
 * L4+, H7 and U5 families), the DWT cycle counter, and the interface between the shared HAL
 * (hb_hal_stm32.c) and each target's board file (clocks, power, pins).
 *
 * NOT VERIFIED ON HARDWARE: these targets are built and checked with the ELF reader only.
 * See docs/hardware.md.
 *
 * Per-target values come from the recipe's defines (firmware_targets/<target>/target.yaml):
 *   HB_CPU_CLOCK_HZ          core clock that the board file sets up (= DWT->CYCCNT rate)
 *   HB_UART_BASE             the U(S)ART wired to the ST-LINK virtual COM port
 *   HB_UART_KERNEL_HZ        the clock feeding that U(S)ART
 *   HB_UART_IS_LPUART        1 when it is an LPUART (its baud divider is scaled by 256)
 *   HB_UART_BAUD             [115200] bits per second, as the catalog's connection.baud
 *   HB_TIMESTAMP_GPIO_BASE   GPIO port of the energy-mode timestamp pin (Arduino D7)
 *   HB_TIMESTAMP_PIN         its pin number in that port
 *   HB_TIMESTAMP_PULSE_US    [100] how long the pin is held low per timestamp
 */
#ifndef HB_STM32_H
#define HB_STM32_H

#include <stdint.h>

#include "hb_cortex_m.h"

/* GPIO port registers (same offsets on every STM32 family with the "v2" GPIO). */
#define HB_GPIO_MODER(base) HB_REG32((base) + 0x00u)
#define HB_GPIO_OTYPER(base) HB_REG32((base) + 0x04u)
#define HB_GPIO_OSPEEDR(base) HB_REG32((base) + 0x08u)
#define HB_GPIO_PUPDR(base) HB_REG32((base) + 0x0Cu)
#define HB_GPIO_BSRR(base) HB_REG32((base) + 0x18u)
#define HB_GPIO_AFR(base, pin) HB_REG32((base) + ((pin) < 8u ? 0x20u : 0x24u))

/* U(S)ART registers (USART v2/v3 and LPUART share them). */
#define HB_USART_CR1(base) HB_REG32((base) + 0x00u)
#define HB_USART_BRR(base) HB_REG32((base) + 0x0Cu)
#define HB_USART_ISR(base) HB_REG32((base) + 0x1Cu)
#define HB_USART_ICR(base) HB_REG32((base) + 0x20u)
#define HB_USART_RDR(base) HB_REG32((base) + 0x24u)
#define HB_USART_TDR(base) HB_REG32((base) + 0x28u)
#define HB_USART_CR1_UE (1u << 0)
#define HB_USART_CR1_RE (1u << 2)
#define HB_USART_CR1_TE (1u << 3)
#define HB_USART_ISR_ORE (1u << 3)
#define HB_USART_ISR_RXNE (1u << 5)
#define HB_USART_ISR_TXE (1u << 7)
#define HB_USART_ICR_ORECF (1u << 3)

/* Debug and trace: DWT cycle counter (Cortex-M3/M4/M7/M33). */
#define HB_DEMCR HB_REG32(0xE000EDFCu)
#define HB_DEMCR_TRCENA (1u << 24)
#define HB_DWT_CTRL HB_REG32(0xE0001000u)
#define HB_DWT_CYCCNT HB_REG32(0xE0001004u)
#define HB_DWT_LAR HB_REG32(0xE0001FB0u) /* lock access register, Cortex-M7 only */
#define HB_DWT_CTRL_CYCCNTENA (1u << 0)

/* Sets one pin to alternate function af (push-pull, very high speed, no pull). */
void hb_gpio_alternate(uint32_t port_base, uint32_t pin, uint32_t af);
/* Sets one pin to push-pull output at level high (1) or low (0). */
void hb_gpio_output(uint32_t port_base, uint32_t pin, int high);
/* Busy-waits until the register at addr has (value & mask) == expected. */
void hb_wait_bits(volatile uint32_t *addr, uint32_t mask, uint32_t expected);

/* Board file (one per target): power, flash wait states, caches and clocks up to
 * HB_CPU_CLOCK_HZ, then the bus clocks of the UART and of both GPIO ports in use. */
void hb_board_init(void);
/* Board file: puts the UART's TX and RX pins on their alternate function. */
void hb_board_uart_pins(void);

/* DWT cycle counter as the 64-bit device timer (hb_timer_dwt.c). */
void hb_dwt_timer_init(void);
/* Busy-waits for at least `cycles` core cycles. */
void hb_dwt_delay_cycles(uint32_t cycles);

#endif
