/*
 * Device time from SysTick on the processor clock (QEMU does not emulate DWT->CYCCNT).
 *
 * SysTick is a 24-bit down counter. It runs with the full reload (2^24 ticks per period) and its
 * interrupt counts the overflows in 32 bits, which makes a 56-bit tick count: at 32 MHz it wraps
 * after 71 years of device time. Under QEMU -icount shift=N one instruction is 2^N ns of virtual time, so the
 * host turns ticks back into instructions exactly (hilbench/deploy/qemu.py).
 */
#include <stdint.h>

#include "hb_cortex_m.h"
#include "hb_hal.h"
#include "hb_timer_cortex_m.h"

#ifndef HB_CPU_CLOCK_HZ
#error "HB_CPU_CLOCK_HZ must be defined by the target recipe (the clock that drives SysTick)"
#endif

#define SYSTICK_RELOAD 0x00FFFFFFu
#define SYSTICK_PERIOD_TICKS ((uint64_t)SYSTICK_RELOAD + 1u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

static volatile uint32_t s_overflows;

void hb_systick_handler(void)
{
    s_overflows = s_overflows + 1u;
}

void hb_timer_init(void)
{
    HB_SYST_CSR = 0u;
    HB_SYST_RVR = SYSTICK_RELOAD;
    HB_SYST_CVR = 0u; /* any write clears the counter; it reloads on the next clock */
    HB_SCB_SHPR3 = (HB_SCB_SHPR3 & 0x00FFFFFFu); /* SysTick at the highest priority */
    HB_SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

uint64_t hb_hal_ticks(void)
{
    for (;;) {
        uint32_t overflows = s_overflows;
        uint32_t value = HB_SYST_CVR;
        uint32_t pending = HB_SCB_ICSR & HB_SCB_ICSR_PENDSTSET;
        if (overflows != s_overflows) {
            continue; /* the interrupt ran between the reads: read again */
        }
        /* An overflow whose interrupt has not run yet (interrupts masked): the counter has
         * reloaded, so a high value means the pending overflow belongs before this reading. */
        if (pending != 0u && value > SYSTICK_RELOAD / 2u) {
            overflows += 1u;
        }
        return (uint64_t)overflows * SYSTICK_PERIOD_TICKS + (SYSTICK_RELOAD - value);
    }
}

uint32_t hb_hal_timer_hz(void)
{
    return HB_CPU_CLOCK_HZ;
}

const char *hb_hal_timer_name(void)
{
    return "systick";
}

void hb_timer_align_phase(void)
{
    uint32_t seen = s_overflows;
    while (s_overflows == seen) {
        __asm volatile("wfi");
    }
}
