/*
 * The device time base of the Cortex-M targets: a hardware down counter (SysTick, or a CMSDK
 * APB timer where the machine has one on the system clock) whose overflows an interrupt counts.
 *
 * hb_timer.c turns counter + overflow count into the 64-bit hb_hal_ticks(); one driver file
 * (hb_timer_systick.c or hb_timer_cmsdk.c, chosen by the recipe) provides the hardware part.
 * Recipe defines: HB_TIMER_HZ (counter clock), HB_TIMER_IRQ (device IRQ number, or -1 for the
 * SysTick exception), HB_TIMER_BASE (CMSDK timer only).
 */
#ifndef HB_TIMER_CORTEX_M_H
#define HB_TIMER_CORTEX_M_H

#include <stdint.h>

/* ---- provided by the driver (hb_timer_systick.c / hb_timer_cmsdk.c) */

/* Reload value: the counter counts reload, reload-1, ..., 0, so a period is reload + 1 ticks. */
extern const uint32_t hb_timer_reload;

/* Starts the counter at hb_timer_reload with its overflow interrupt enabled. */
void hb_timer_start(void);

/* Stops the counter (no interrupt, no QEMU timer event while stopped). */
void hb_timer_stop(void);

/* The current counter value. */
uint32_t hb_timer_counter(void);

/* Nonzero if an overflow happened whose interrupt has not run yet (interrupts masked). */
int hb_timer_overflow_pending(void);

/* The overflow interrupt handler, placed in the vector table by hb_startup.c. */
void hb_timer_irq_handler(void);

/* ---- provided by hb_timer.c */

/* Called by the driver's interrupt handler once per overflow. */
void hb_timer_count_overflow(void);

/* Starts the time base. */
void hb_timer_init(void);

/* Stops device time while the firmware waits for the host (hb_hal_ticks() keeps its value). */
void hb_timer_pause(void);

/* Restarts device time from a fresh counter period. Everything the firmware does until the next
 * pause then runs from the same timer phase on every run, whatever time the host took. */
void hb_timer_resume(void);

#endif
