/*
 * The portable device-under-test core: the MLPerf Tiny (EEMBC) serial protocol plus the
 * hilbench extensions (raw output bytes, per-inference ticks, bulk load with CRC-32).
 * docs/protocol.md describes every command and reply.
 *
 * It uses only hb_hal.h (serial line, timer, timestamp pin) and hb_model_api.h (the compiled
 * model), and no heap: the arena, the loaded input and the tick log are static buffers sized
 * at compile time from hb_model_config.h.
 *
 * Compile-time options (defaults in brackets):
 *   HB_DUT_ENERGY_MODE   [0]   1: timestamps pulse the timestamp pin instead of printing m-lap-us
 *   HB_DUT_CMD_SIZE      [80]  longest command in characters, as the MLPerf Tiny reference
 *   HB_DUT_MAX_TICKS     [128] per-inference tick counts kept for "hb ticks"
 *   HB_DUT_TARGET_NAME   ["unspecified"] shown in the reply to "name"
 *   HB_DUT_PLAIN_MLPERF  [0]   1: behave as the MLPerf Tiny reference firmware (no extensions,
 *                              truncating %0.3f, input copied once per "infer"; hb_dut.c)
 */
#ifndef HB_DUT_H
#define HB_DUT_H

/* Prints the boot banner, then reads and answers commands forever.
 * The target calls hb_hal_init() before this (common/hb_main.c does both). */
void hb_dut_run(void);

#endif
