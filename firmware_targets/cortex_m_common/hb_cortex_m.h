/*
 * Registers shared by all Cortex-M cores (System Control Block, SysTick) and the helpers that
 * the common startup and HAL files share. Per-target values come from the recipe's defines:
 *   HB_UART_BASE     base address of the CMSDK APB UART wired to QEMU's first serial port
 *   HB_UART_RX_IRQ   its receive interrupt (NVIC number)
 *   HB_TIMER_*       the time base, see hb_timer_cortex_m.h
 */
#ifndef HB_CORTEX_M_H
#define HB_CORTEX_M_H

#include <stdint.h>

#define HB_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define HB_SCB_ICSR HB_REG32(0xE000ED04u)
#define HB_SCB_VTOR HB_REG32(0xE000ED08u)
#define HB_SCB_SHPR3 HB_REG32(0xE000ED20u)
#define HB_SCB_CPACR HB_REG32(0xE000ED88u)
#define HB_SCB_ICSR_PENDSTSET (1u << 26)
#define HB_SCB_ICSR_PENDSTCLR (1u << 25)

#define HB_NVIC_ISER(n) HB_REG32(0xE000E100u + 4u * (n))
#define HB_NVIC_ICER(n) HB_REG32(0xE000E180u + 4u * (n))
#define HB_NVIC_ICPR(n) HB_REG32(0xE000E280u + 4u * (n))

#define HB_SYST_CSR HB_REG32(0xE000E010u)
#define HB_SYST_RVR HB_REG32(0xE000E014u)
#define HB_SYST_CVR HB_REG32(0xE000E018u)

/* Writes "m-fatal-<what>" on the serial line and stops the core for good. */
void hb_cortex_m_fatal(const char *what) __attribute__((noreturn));

#endif
