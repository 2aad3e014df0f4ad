/*
 * Device time from DWT->CYCCNT, the core's 32-bit cycle counter: one tick per core cycle, so
 * hb_hal_timer_hz() is the core clock and a tick count is a cycle count (latency_source
 * device-timer).
 *
 * CYCCNT wraps after 2^32 cycles (35.8 s at 120 MHz, 15.3 s at 280 MHz). The high 32 bits are
 * kept in software (hb_cycle_extend.h), which only works if two readings are never a whole
 * wrap apart, so SysTick interrupts every 2^24 cycles (0.14 s at 120 MHz) just to take a
 * reading. The interrupt costs a few dozen cycles per 16.7 million, which is below the
 * counter's noise.
 */
#include <stdint.h>

#include "hb_cycle_extend.h"
#include "hb_hal.h"
#include "hb_stm32.h"

#ifndef HB_CPU_CLOCK_HZ
#error "HB_CPU_CLOCK_HZ must be defined by the target recipe (the core clock the board file sets)"
#endif

#define SYSTICK_RELOAD 0x00FFFFFFu
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define DWT_LAR_UNLOCK 0xC5ACCE55u

static hb_cycle_extender s_cycles;

void hb_dwt_timer_init(void)
{
    HB_DEMCR |= HB_DEMCR_TRCENA;
#ifdef HB_DWT_NEEDS_UNLOCK
    /* The Cortex-M7 ignores DWT writes until its lock access register is unlocked. */
    HB_DWT_LAR = DWT_LAR_UNLOCK;
#endif
    HB_DWT_CYCCNT = 0u;
    HB_DWT_CTRL |= HB_DWT_CTRL_CYCCNTENA;
    s_cycles.wraps = 0u;
    s_cycles.last_count = 0u;

    HB_SYST_CSR = 0u;
    HB_SYST_RVR = SYSTICK_RELOAD;
    HB_SYST_CVR = 0u;
    HB_SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

uint64_t hb_hal_ticks(void)
{
    uint32_t primask;
    uint64_t ticks;
    /* Interrupts off: the SysTick handler updates the same state. */
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    ticks = hb_cycle_extend(&s_cycles, HB_DWT_CYCCNT);
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return ticks;
}

/* Named for the vector table of cortex_m_common/hb_startup.c. */
void hb_timer_irq_handler(void)
{
    (void)hb_hal_ticks();
}

uint32_t hb_hal_timer_hz(void)
{
    return HB_CPU_CLOCK_HZ;
}

const char *hb_hal_timer_name(void)
{
    return "dwt-cyccnt";
}

void hb_dwt_delay_cycles(uint32_t cycles)
{
    uint32_t start = HB_DWT_CYCCNT;
    while ((uint32_t)(HB_DWT_CYCCNT - start) < cycles) {
    }
}
