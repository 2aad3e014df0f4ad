/*
 * Serial line on the CMSDK APB UART, the UART of every MPS2/MPS3 FPGA image. QEMU connects its
 * first serial port (-serial ...) to UART0, whose address the recipe passes as HB_UART_BASE.
 * QEMU does not model baud rate timing, so bytes move as fast as the host reads them.
 */
#include <stddef.h>
#include <stdint.h>

#include "hb_cortex_m.h"
#include "hb_hal.h"
#include "hb_timer_cortex_m.h"

#ifndef HB_UART_BASE
#error "HB_UART_BASE must be defined by the target recipe (the CMSDK UART0 address)"
#endif

#define UART_DATA HB_REG32(HB_UART_BASE + 0x00u)
#define UART_STATE HB_REG32(HB_UART_BASE + 0x04u)
#define UART_CTRL HB_REG32(HB_UART_BASE + 0x08u)
#define UART_BAUDDIV HB_REG32(HB_UART_BASE + 0x10u)

#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)

static void uart_init(void)
{
    /* 16 is the smallest divider the UART accepts; the value is irrelevant under QEMU. */
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
}

void hb_hal_init(void)
{
    uart_init();
    hb_timer_init();
}

int hb_hal_getc(void)
{
    while ((UART_STATE & UART_STATE_RX_FULL) == 0u) {
    }
    /* How long the host took to send this byte is not deterministic, so neither is the timer
     * phase at this point. Re-align it before the byte is handed over: everything the DUT does
     * until its next read (a whole command, an inference) then runs from the same timer phase
     * on every run and its tick count is the same. */
    hb_timer_align_phase();
    return (int)(UART_DATA & 0xFFu);
}

void hb_hal_write(const uint8_t *buf, size_t len)
{
    size_t i;
    for (i = 0; i < len; ++i) {
        while ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
        }
        UART_DATA = buf[i];
    }
}

void hb_hal_timestamp_pulse(void)
{
    /* No timestamp pin on an emulated board: energy is never measured here. */
}

void hb_cortex_m_fatal(const char *what)
{
    static const char prefix[] = "\r\nm-fatal-";
    static const char suffix[] = "\r\n";
    size_t len = 0;
    uart_init();
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
