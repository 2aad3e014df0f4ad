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

#if !defined(HB_UART_BASE) || !defined(HB_UART_RX_IRQ)
#error "HB_UART_BASE and HB_UART_RX_IRQ must be defined by the target recipe (CMSDK UART0)"
#endif

#define UART_DATA HB_REG32(HB_UART_BASE + 0x00u)
#define UART_STATE HB_REG32(HB_UART_BASE + 0x04u)
#define UART_CTRL HB_REG32(HB_UART_BASE + 0x08u)
#define UART_INTSTATUS HB_REG32(HB_UART_BASE + 0x0Cu) /* write 1 to clear */
#define UART_BAUDDIV HB_REG32(HB_UART_BASE + 0x10u)

#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_INT_EN (1u << 3)
#define UART_INT_RX (1u << 1)

static void uart_init(void)
{
    /* 16 is the smallest divider the UART accepts; the value is irrelevant under QEMU. */
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
    UART_INTSTATUS = UART_INT_RX;
    HB_NVIC_ISER(HB_UART_RX_IRQ / 32) = 1u << (HB_UART_RX_IRQ % 32);
}

/* The receive interrupt only wakes the core from WFI in hb_hal_getc(). */
void hb_uart_rx_irq_handler(void)
{
    UART_INTSTATUS = UART_INT_RX;
}

void hb_hal_init(void)
{
    uart_init();
    hb_timer_init();
}

int hb_hal_getc(void)
{
    /* Device time stands still while we wait for the host: how long the host takes is not the
     * firmware's work, and with no timer running an idle QEMU sleeps instead of spinning. */
    hb_timer_pause();
    for (;;) {
        /* Masked, so that a byte arriving between the test and WFI still wakes the WFI (a
         * pending interrupt does, masked or not) instead of being handled just before it. */
        __asm volatile("cpsid i" ::: "memory");
        if ((UART_STATE & UART_STATE_RX_FULL) != 0u) {
            __asm volatile("cpsie i" ::: "memory");
            break;
        }
        __asm volatile("wfi");
        __asm volatile("cpsie i" ::: "memory"); /* the receive handler runs here */
    }
    /* A fresh timer period from here: everything the DUT does until its next read (a whole
     * command, an inference) runs from the same timer phase on every run, so its tick count
     * is the same, and no overflow interrupt lands in it. */
    hb_timer_resume();
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
    hb_timer_stop();
    for (;;) {
        __asm volatile("cpsid i\n\twfi");
    }
}
