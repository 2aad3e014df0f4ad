/*
 * Reset and exception entry for every Cortex-M target in QEMU (M3, M4F, M7, M33, M55).
 *
 * The vector table sits at the start of the FLASH region of the target's memory.ld, which is
 * where the machine's reset VTOR points, so QEMU reads the initial stack pointer and reset
 * address from it. Reset copies .data from flash, zeroes .bss, turns the FPU on where the core
 * has one (the compiler may emit FPU instructions anywhere, even in memcpy), then runs main().
 */
#include <stdint.h>

#include "hb_cortex_m.h"

extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;
extern uint32_t __StackTop;

int main(void);
void Reset_Handler(void);
void hb_timer_irq_handler(void);   /* the timer driver's overflow handler */
void hb_uart_rx_irq_handler(void); /* wakes hb_hal_getc() */

#ifndef HB_TIMER_IRQ
#error "HB_TIMER_IRQ must be defined by the target recipe (-1: the SysTick exception)"
#endif

/* Faults print one protocol-shaped line so that the host shows what happened instead of a
 * silent timeout, then stop the core. */
static void fatal(const char *what)
{
    hb_cortex_m_fatal(what);
}

static void NMI_Handler(void) { fatal("nmi"); }
static void HardFault_Handler(void) { fatal("hardfault"); }
static void MemManage_Handler(void) { fatal("memmanage"); }
static void BusFault_Handler(void) { fatal("busfault"); }
static void UsageFault_Handler(void) { fatal("usagefault"); }
static void SecureFault_Handler(void) { fatal("securefault"); }
static void Unexpected_Handler(void) { fatal("unexpected-interrupt"); }

typedef void (*vector_t)(void);

/* 16 system exceptions and HB_NUM_IRQS device interrupts (the largest machine, AN547, has 96).
 * The timer's overflow interrupt is SysTick (HB_TIMER_IRQ = -1) or a device interrupt; with the
 * UART's receive interrupt, every other source shares Unexpected_Handler. */
#ifndef HB_NUM_IRQS
#define HB_NUM_IRQS 96
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init" /* the timer and UART entries replace range ones */
__attribute__((section(".vectors"), used)) const vector_t hb_vector_table[16 + HB_NUM_IRQS] = {
    [0] = (vector_t)(uintptr_t)&__StackTop,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [7] = SecureFault_Handler,
    [11] = Unexpected_Handler, /* SVCall */
    [12] = Unexpected_Handler, /* DebugMonitor */
    [14] = Unexpected_Handler, /* PendSV */
#if HB_TIMER_IRQ < 0
    [15] = hb_timer_irq_handler,
#else
    [15] = Unexpected_Handler,
#endif
    [16 ... 16 + HB_NUM_IRQS - 1] = Unexpected_Handler,
#if HB_TIMER_IRQ >= 0
    [16 + HB_TIMER_IRQ] = hb_timer_irq_handler,
#endif
#ifdef HB_UART_RX_IRQ /* targets whose UART driver polls (the STM32 boards) have none */
    [16 + HB_UART_RX_IRQ] = hb_uart_rx_irq_handler,
#endif
};
#pragma GCC diagnostic pop

void Reset_Handler(void)
{
    uint32_t *src = &__data_load__;
    uint32_t *dst = &__data_start__;
    while (dst < &__data_end__) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__; ++dst) {
        *dst = 0;
    }

    /* The machine's reset VTOR already points here; set it anyway so a debugger-loaded image
     * at another address still takes its exceptions through this table. */
    HB_SCB_VTOR = (uint32_t)(uintptr_t)hb_vector_table;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to CP10/CP11 (FPU, and MVE on the M55). */
    HB_SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif

    main();
    for (;;) {
        __asm volatile("wfi");
    }
}
