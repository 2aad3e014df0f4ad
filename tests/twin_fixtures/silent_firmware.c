/* A firmware that boots and never says anything: for the "no m-ready in time" test. */
#include <stdint.h>

extern uint32_t __StackTop;
static void reset(void)
{
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) const uintptr_t vectors[2] = {(uintptr_t)&__StackTop, (uintptr_t)reset};
