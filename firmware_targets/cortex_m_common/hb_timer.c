/*
 * 64-bit device time from a down counter and its overflow interrupt (see hb_timer_cortex_m.h).
 *
 * The overflow count has 32 bits and the counter up to 32, so hb_hal_ticks() does not wrap in
 * any realistic session. Device time stops while the firmware waits for the host (see
 * hb_hal_cmsdk_uart.c), so it counts only the firmware's own work. Under QEMU -icount shift=N one instruction is 2^N ns of virtual time,
 * so the host turns ticks back into instructions exactly (hilbench/deploy/qemu.py).
 */
#include <stdint.h>

#include "hb_hal.h"
#include "hb_timer_cortex_m.h"

#ifndef HB_TIMER_HZ
#error "HB_TIMER_HZ must be defined by the target recipe (the clock that drives the timer)"
#endif

static volatile uint32_t s_overflows;
static uint64_t s_base_ticks; /* device time accumulated before the last resume */

void hb_timer_count_overflow(void)
{
    s_overflows = s_overflows + 1u;
}

void hb_timer_init(void)
{
    s_base_ticks = 0u;
    s_overflows = 0u;
    hb_timer_start();
}

uint64_t hb_hal_ticks(void)
{
    const uint32_t reload = hb_timer_reload;
    for (;;) {
        uint32_t overflows = s_overflows;
        uint32_t value = hb_timer_counter();
        int pending = hb_timer_overflow_pending();
        if (overflows != s_overflows) {
            continue; /* the interrupt ran between the reads: read again */
        }
        /* An overflow whose interrupt has not run yet (interrupts masked): the counter has
         * reloaded, so a high value means the pending overflow belongs before this reading. */
        if (pending && value > reload / 2u) {
            overflows += 1u;
        }
        return s_base_ticks + (uint64_t)overflows * ((uint64_t)reload + 1u) + (reload - value);
    }
}

uint32_t hb_hal_timer_hz(void)
{
    return HB_TIMER_HZ;
}

void hb_timer_pause(void)
{
    s_base_ticks = hb_hal_ticks();
    hb_timer_stop();
}

void hb_timer_resume(void)
{
    s_overflows = 0u;
    hb_timer_start();
}
