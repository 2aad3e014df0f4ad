/*
 * The host-file channel of the emulated twins (hb_hal.h: HB_HAL_HOST_FILE), through Arm
 * semihosting: QEMU, started with -semihosting-config enable=on,target=native, serves these
 * calls from its own working folder (hilbench/deploy/qemu.py). A byte over the emulated CMSDK
 * UART costs an interrupt and a WFI wake-up; a semihosting call moves a whole buffer at once.
 *
 * Only twins build this file: on a real core without a debugger attached, "bkpt 0xab" faults.
 */
#include <stdint.h>

#include "hb_hal.h"

/* Operation numbers and fopen modes of the Arm semihosting specification. */
#define SEMIHOST_SYS_OPEN 0x01
#define SEMIHOST_SYS_CLOSE 0x02
#define SEMIHOST_SYS_WRITE 0x05
#define SEMIHOST_SYS_READ 0x06
#define SEMIHOST_MODE_RB 1
#define SEMIHOST_MODE_WB 5

static int32_t semihost_call(int32_t operation, const uint32_t *arguments)
{
    register int32_t r0 __asm__("r0") = operation;
    register const uint32_t *r1 __asm__("r1") = arguments;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static int32_t open_file(const char *name, uint32_t name_length, uint32_t mode)
{
    const uint32_t arguments[3] = {(uint32_t)(uintptr_t)name, mode, name_length};
    return semihost_call(SEMIHOST_SYS_OPEN, arguments);
}

/* SYS_READ and SYS_WRITE both return the number of bytes NOT moved. */
static int move_bytes(int32_t handle, int32_t operation, const uint8_t *buf, uint32_t len)
{
    const uint32_t arguments[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, len};
    return semihost_call(operation, arguments) == 0 ? 0 : -1;
}

static void close_file(int32_t handle)
{
    const uint32_t arguments[1] = {(uint32_t)handle};
    semihost_call(SEMIHOST_SYS_CLOSE, arguments);
}

/* Each call opens its file anew: the host replaces the files between commands. */
int hb_hal_host_file_read(uint8_t *buf, uint32_t len)
{
    static const char name[] = HB_HAL_HOST_FILE_NAME;
    int32_t handle = open_file(name, sizeof name - 1u, SEMIHOST_MODE_RB);
    int status;
    if (handle == -1) {
        return -1;
    }
    status = move_bytes(handle, SEMIHOST_SYS_READ, buf, len);
    close_file(handle);
    return status;
}

int hb_hal_host_file_write(const uint8_t *const *parts, const uint32_t *lengths, uint32_t count)
{
    static const char name[] = HB_HAL_HOST_OUTPUT_FILE_NAME;
    int32_t handle = open_file(name, sizeof name - 1u, SEMIHOST_MODE_WB);
    int status = 0;
    uint32_t i;
    if (handle == -1) {
        return -1;
    }
    for (i = 0; i < count && status == 0; ++i) {
        status = move_bytes(handle, SEMIHOST_SYS_WRITE, parts[i], lengths[i]);
    }
    close_file(handle);
    return status;
}
