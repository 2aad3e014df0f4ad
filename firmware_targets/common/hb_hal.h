/*
 * The hardware abstraction that the portable DUT core (hb_dut.c) needs from a target.
 * One implementation per folder in firmware_targets/ (host, mps2-an386, ...).
 */
#ifndef HB_HAL_H
#define HB_HAL_H

#include <stddef.h>
#include <stdint.h>

void hb_hal_init(void);

/* Serial line. hb_hal_getc blocks until a byte arrives and returns it (0..255). */
int hb_hal_getc(void);
void hb_hal_write(const uint8_t *buf, size_t len);

/* A free-running 64-bit tick counter, safe across hardware counter overflow.
 * hb_hal_timer_hz() says how many ticks make one second of device time.
 * hb_hal_timer_name() names the timer, e.g. "systick", "dwt-cyccnt", "clock_monotonic". */
uint64_t hb_hal_ticks(void);
uint32_t hb_hal_timer_hz(void);
const char *hb_hal_timer_name(void);

/* Energy mode: toggle the timestamp GPIO that the power probe watches (MLPerf Tiny style).
 * A no-op on emulated targets; the host target can log the edges to a file for tests
 * (HB_HOST_TIMESTAMP_PIN, see host/hb_hal_host.c). */
void hb_hal_timestamp_pulse(void);

/* Optional, emulated twins only: bulk data through files on the host computer instead of the
 * serial line, much faster than an emulated UART that moves one byte per interrupt. A target
 * that has it defines HB_HAL_HOST_FILE=1 in its recipe (the Cortex-M twins: QEMU semihosting,
 * cortex_m_common/hb_hal_semihost_file.c). The files live in the emulator's working folder:
 * the host writes an input to HB_HAL_HOST_FILE_NAME before it sends "hb file N C", and reads
 * the outputs from HB_HAL_HOST_OUTPUT_FILE_NAME after "hb raw file" (docs/protocol.md).
 * hb_hal_host_file_read reads the input file's first len bytes into buf; hb_hal_host_file_write
 * replaces the output file with count parts (parts[i]: lengths[i] bytes) back to back.
 * Both return 0 on success, -1 when the file cannot be opened or is short. */
#ifndef HB_HAL_HOST_FILE
#define HB_HAL_HOST_FILE 0
#endif
#define HB_HAL_HOST_FILE_NAME "hb_input.bin"
#define HB_HAL_HOST_OUTPUT_FILE_NAME "hb_output.bin"
#if HB_HAL_HOST_FILE
int hb_hal_host_file_read(uint8_t *buf, uint32_t len);
int hb_hal_host_file_write(const uint8_t *const *parts, const uint32_t *lengths, uint32_t count);
#endif

#endif
