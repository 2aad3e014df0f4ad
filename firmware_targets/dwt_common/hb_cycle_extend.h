/*
 * A 64-bit tick count from a free-running 32-bit up counter (DWT->CYCCNT), shared by every
 * target timed by the cycle counter: the STM32 Nucleo boards (stm32_common/hb_timer_dwt.c)
 * and the Nano 33 BLE sketch (platformio/nano33ble/hb_hal_arduino.cpp).
 *
 * Each reading is compared with the previous one: a smaller value means the counter wrapped,
 * which adds 2^32. That is right as long as two readings are less than one full wrap apart,
 * which the caller guarantees with a periodic interrupt that takes a reading. The caller also
 * keeps interrupts off around hb_cycle_extend() when that interrupt shares the state.
 * Pure C with no register access, so that host tests can drive it through wraps.
 */
#ifndef HB_CYCLE_EXTEND_H
#define HB_CYCLE_EXTEND_H

#include <stdint.h>

typedef struct {
    uint32_t wraps;      /* times the counter went past 2^32 - 1 */
    uint32_t last_count; /* the previous reading */
} hb_cycle_extender;

static inline uint64_t hb_cycle_extend(hb_cycle_extender *state, uint32_t count)
{
    if (count < state->last_count) {
        state->wraps += 1u;
    }
    state->last_count = count;
    return ((uint64_t)state->wraps << 32) | count;
}

#endif
