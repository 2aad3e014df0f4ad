/*
 * Timer driver: SysTick on the processor clock (QEMU does not emulate DWT->CYCCNT). Used where
 * the machine has no 32-bit timer on the system clock (AN547). SysTick has 24 bits: one period
 * is 2^24 ticks, 4,194,304 instructions at 32 MHz and -icount shift=7.
 */
#include <stdint.h>

#include "hb_cortex_m.h"
#include "hb_hal.h"
#include "hb_timer_cortex_m.h"

#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

const uint32_t hb_timer_reload = 0x00FFFFFFu;

void hb_timer_start(void)
{
    HB_SYST_CSR = 0u;
    HB_SYST_RVR = hb_timer_reload;
    HB_SYST_CVR = 0u; /* any write clears the counter; it reloads on the next clock */
    HB_SCB_SHPR3 = (HB_SCB_SHPR3 & 0x00FFFFFFu); /* SysTick at the highest priority */
    HB_SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

void hb_timer_stop(void)
{
    HB_SYST_CSR = 0u;
    HB_SCB_ICSR = HB_SCB_ICSR_PENDSTCLR;
}

uint32_t hb_timer_counter(void)
{
    return HB_SYST_CVR;
}

int hb_timer_overflow_pending(void)
{
    return (HB_SCB_ICSR & HB_SCB_ICSR_PENDSTSET) != 0u;
}

void hb_timer_irq_handler(void)
{
    hb_timer_count_overflow();
}

const char *hb_hal_timer_name(void)
{
    return "systick";
}
