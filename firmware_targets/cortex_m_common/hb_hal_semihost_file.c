/*
 * The host-file input channel of the emulated twins (hb_hal.h: HB_HAL_HOST_FILE), through ARM
 * semihosting: QEMU, started with -semihosting-config enable=on,target=native, serves these
 * calls from its own working folder (hilbench/deploy/qemu.py). A byte over the emulated CMSDK
 * UART costs an interrupt and a WFI wake-up; a semihosting read moves a whole input at once.
 *
 * Only twins build this file: on a real core without a debugger attached, "bkpt 0xab" faults.
 */
#include <stdint.h>

#include "hb_hal.h"

/* Operation numbers of the Arm semihosting specification. */
#define SEMIHOST_SYS_OPEN 0x01
#define SEMIHOST_SYS_CLOSE 0x02
#define SEMIHOST_SYS_READ 0x06
#define SEMIHOST_OPEN_MODE_RB 1 /* fopen mode "rb" */

static int32_t semihost_call(int32_t operation, const uint32_t *arguments)
{
    register int32_t r0 __asm__("r0") = operation;
    register const uint32_t *r1 __asm__("r1") = arguments;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int hb_hal_host_file_read(uint8_t *buf, uint32_t len)
{
    static const char name[] = HB_HAL_HOST_FILE_NAME;
    /* Opened per load: the host rewrites the file before every "hb file" command. */
    const uint32_t open_arguments[3] = {(uint32_t)(uintptr_t)name, SEMIHOST_OPEN_MODE_RB, sizeof name - 1u};
    int32_t handle = semihost_call(SEMIHOST_SYS_OPEN, open_arguments);
    uint32_t read_arguments[3];
    uint32_t close_arguments[1];
    int32_t not_read;

    if (handle == -1) {
        return -1;
    }
    read_arguments[0] = (uint32_t)handle;
    read_arguments[1] = (uint32_t)(uintptr_t)buf;
    read_arguments[2] = len;
    not_read = semihost_call(SEMIHOST_SYS_READ, read_arguments); /* returns the bytes NOT read */
    close_arguments[0] = (uint32_t)handle;
    semihost_call(SEMIHOST_SYS_CLOSE, close_arguments);
    return not_read == 0 ? 0 : -1;
}
