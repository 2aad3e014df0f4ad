/* The SysTick time base shared by the Cortex-M targets (hb_timer_systick.c). */
#ifndef HB_TIMER_CORTEX_M_H
#define HB_TIMER_CORTEX_M_H

/* Starts SysTick on the processor clock with its overflow interrupt. */
void hb_timer_init(void);

/* Sleeps until the next SysTick overflow. Under QEMU -icount with sleep=off the sleep costs
 * no host time: the virtual clock jumps straight to the overflow. Afterwards the timer phase
 * is the same on every run, whatever time the host took before. */
void hb_timer_align_phase(void);

#endif
