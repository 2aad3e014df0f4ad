/*
 * Timer driver: a CMSDK APB timer (32-bit down counter on the system clock), present in the
 * MPS2 images and in the IoTKit of the AN505. Its period is 2^32 ticks: 1.3 billion
 * instructions at 25 MHz and -icount shift=7, so the overflow interrupt, which runs a few
 * instructions, never lands inside an inference: the period restarts with every command.
 */
#include <stdint.h>

#include "hb_cortex_m.h"
#include "hb_hal.h"
#include "hb_timer_cortex_m.h"

#if !defined(HB_TIMER_BASE) || !defined(HB_TIMER_IRQ)
#error "HB_TIMER_BASE and HB_TIMER_IRQ must be defined by the target recipe"
#endif

#define TIMER_CTRL HB_REG32(HB_TIMER_BASE + 0x00u)
#define TIMER_VALUE HB_REG32(HB_TIMER_BASE + 0x04u)
#define TIMER_RELOAD HB_REG32(HB_TIMER_BASE + 0x08u)
#define TIMER_INTSTATUS HB_REG32(HB_TIMER_BASE + 0x0Cu) /* write 1 to clear */

#define TIMER_CTRL_ENABLE (1u << 0)
#define TIMER_CTRL_IRQ_ENABLE (1u << 3)


const uint32_t hb_timer_reload = 0xFFFFFFFFu;

void hb_timer_start(void)
{
    TIMER_CTRL = 0u;
    TIMER_RELOAD = hb_timer_reload;
    TIMER_VALUE = hb_timer_reload;
    TIMER_INTSTATUS = 1u;
    HB_NVIC_ISER(HB_TIMER_IRQ / 32) = 1u << (HB_TIMER_IRQ % 32);
    TIMER_CTRL = TIMER_CTRL_ENABLE | TIMER_CTRL_IRQ_ENABLE;
}

void hb_timer_stop(void)
{
    TIMER_CTRL = 0u;
    TIMER_INTSTATUS = 1u;
    HB_NVIC_ICPR(HB_TIMER_IRQ / 32) = 1u << (HB_TIMER_IRQ % 32);
}

uint32_t hb_timer_counter(void)
{
    return TIMER_VALUE;
}

int hb_timer_overflow_pending(void)
{
    return (TIMER_INTSTATUS & 1u) != 0u;
}

void hb_timer_irq_handler(void)
{
    TIMER_INTSTATUS = 1u;
    hb_timer_count_overflow();
}

const char *hb_hal_timer_name(void)
{
    return "cmsdk-timer";
}
