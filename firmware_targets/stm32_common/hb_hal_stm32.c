/*
 * hb_hal.h for the STM32 Nucleo-144 boards: serial line on the U(S)ART that the on-board
 * ST-LINK exposes as a USB virtual COM port, DWT->CYCCNT as the timer (hb_timer_dwt.c), and the
 * energy-mode timestamp pin on Arduino header D7, as MLPerf Tiny's reference firmware uses.
 *
 * NOT VERIFIED ON HARDWARE (built and checked with the ELF reader only; docs/hardware.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "hb_hal.h"
#include "hb_stm32.h"

#if !defined(HB_UART_BASE) || !defined(HB_UART_KERNEL_HZ) || !defined(HB_UART_IS_LPUART)
#error "the target recipe must define HB_UART_BASE, HB_UART_KERNEL_HZ and HB_UART_IS_LPUART"
#endif
#if !defined(HB_TIMESTAMP_GPIO_BASE) || !defined(HB_TIMESTAMP_PIN)
#error "the target recipe must define HB_TIMESTAMP_GPIO_BASE and HB_TIMESTAMP_PIN"
#endif
#ifndef HB_UART_BAUD
#define HB_UART_BAUD 115200u
#endif
#ifndef HB_TIMESTAMP_PULSE_US
#define HB_TIMESTAMP_PULSE_US 100u
#endif

/* Baud divider, rounded to nearest: an LPUART counts in 1/256 of its kernel clock. */
#define UART_BRR                                                                                   \
    ((uint32_t)(((uint64_t)HB_UART_KERNEL_HZ * (HB_UART_IS_LPUART ? 256u : 1u) + HB_UART_BAUD / 2u) \
                / HB_UART_BAUD))

static void uart_init(void)
{
    hb_board_uart_pins();
    HB_USART_CR1(HB_UART_BASE) = 0u;
    HB_USART_BRR(HB_UART_BASE) = UART_BRR;
    HB_USART_CR1(HB_UART_BASE) = HB_USART_CR1_TE | HB_USART_CR1_RE | HB_USART_CR1_UE;
}

void hb_hal_init(void)
{
    hb_board_init();
    hb_dwt_timer_init();
    /* MLPerf Tiny's timestamp is a falling edge: the pin idles high. */
    hb_gpio_output(HB_TIMESTAMP_GPIO_BASE, HB_TIMESTAMP_PIN, 1);
    uart_init();
}

int hb_hal_getc(void)
{
    for (;;) {
        uint32_t status = HB_USART_ISR(HB_UART_BASE);
        if ((status & HB_USART_ISR_RXNE) != 0u) {
            return (int)(HB_USART_RDR(HB_UART_BASE) & 0xFFu);
        }
        if ((status & HB_USART_ISR_ORE) != 0u) {
            /* A lost byte stalls the receiver until the flag is cleared; the protocol's CRC
             * and command parser report the damage, so just clear it and go on. */
            HB_USART_ICR(HB_UART_BASE) = HB_USART_ICR_ORECF;
        }
    }
}

void hb_hal_write(const uint8_t *buf, size_t len)
{
    size_t i;
    for (i = 0; i < len; ++i) {
        while ((HB_USART_ISR(HB_UART_BASE) & HB_USART_ISR_TXE) == 0u) {
        }
        HB_USART_TDR(HB_UART_BASE) = buf[i];
    }
}

void hb_hal_timestamp_pulse(void)
{
    /* Held low long enough for the probe's GPI sampling (2 MS/s on a Joulescope JS220). */
    HB_GPIO_BSRR(HB_TIMESTAMP_GPIO_BASE) = 1u << (HB_TIMESTAMP_PIN + 16u);
    hb_dwt_delay_cycles((uint32_t)((uint64_t)HB_CPU_CLOCK_HZ * HB_TIMESTAMP_PULSE_US / 1000000u));
    HB_GPIO_BSRR(HB_TIMESTAMP_GPIO_BASE) = 1u << HB_TIMESTAMP_PIN;
}

void hb_cortex_m_fatal(const char *what)
{
    static const char prefix[] = "\r\nm-fatal-";
    static const char suffix[] = "\r\n";
    size_t len = 0;
    while (what[len] != '\0') {
        ++len;
    }
    hb_hal_write((const uint8_t *)prefix, sizeof prefix - 1u);
    hb_hal_write((const uint8_t *)what, len);
    hb_hal_write((const uint8_t *)suffix, sizeof suffix - 1u);
    for (;;) {
        __asm volatile("cpsid i\n\twfi");
    }
}
