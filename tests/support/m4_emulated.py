"""Run a compiled model on an emulated Cortex-M4 (QEMU mps2-an386) and count its instructions.

A minimal bare-metal program (vector table, linker script, main) is written next to the build:
main copies one input vector into the arena, times one hb_model_invoke with SysTick and prints
the tick count and the output bytes over semihosting. With -icount shift=0 every instruction
advances virtual time by 1 ns and SysTick runs at 25 MHz, so one tick is 40 instructions: the
same method as the TFLM figures published with the MLPerf Tiny reference models.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hilbench.compile import CompiledModel
from hilbench.errors import BuildError, DeployError

CORTEX_M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
                   "-std=c99", "-ffunction-sections", "-fdata-sections")
INSTRUCTIONS_PER_SYSTICK = 40  # SysTick at 25 MHz; icount shift=0 is one instruction per ns

STARTUP_C = r"""
#include <stdint.h>
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
void bench_puts(const char *s) { semihost(0x04, s); }
void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20); /* enable the FPU */
    __asm__ volatile("dsb\n isb");
    main();
    semihost(0x18, (const void *)0x20026); /* ADP_Stopped_ApplicationExit */
    for (;;) {}
}
void Fault_Handler(void) { bench_puts("fault\n"); semihost(0x18, (const void *)0x20023); for (;;) {} }
__attribute__((section(".isr_vector"), used)) const void *vectors[16] = {
    &_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler};
"""

MAIN_C = r"""
#include <stdint.h>
#include "hb_model_api.h"
#include "hb_model_config.h"
#include "bench_input.h"
void bench_puts(const char *s);
static uint8_t arena[HB_MODEL_ARENA_BYTES] __attribute__((aligned(16)));
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
int main(void) {
    static const char hex[] = "0123456789abcdef";
    char text[16];
    int i = 15;
    for (uint32_t b = 0; b < hb_model_inputs[0].bytes; b++) {
        arena[hb_model_inputs[0].arena_offset + b] = bench_input[b];
    }
    SYST_RVR = 0xFFFFFF; SYST_CVR = 0; SYST_CSR = 5; /* core clock, no interrupt */
    const uint32_t start = SYST_CVR;
    hb_model_invoke(arena);
    uint32_t ticks = (start - SYST_CVR) & 0xFFFFFF; /* one 24-bit wrap = 671M instructions */
    SYST_CSR = 0;
    text[i] = 0;
    do { text[--i] = (char)('0' + ticks % 10); ticks /= 10; } while (ticks);
    bench_puts("ticks ");
    bench_puts(&text[i]);
    bench_puts("\nout ");
    for (uint32_t b = 0; b < hb_model_outputs[0].bytes; b++) {
        const uint8_t v = arena[hb_model_outputs[0].arena_offset + b];
        char pair[3] = {hex[v >> 4], hex[v & 15], 0};
        bench_puts(pair);
    }
    bench_puts("\n");
    return 0;
}
"""

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
ENTRY(Reset_Handler)
SECTIONS {
  .text : { KEEP(*(.isr_vector)) *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
  .data : { _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH
  _sidata = LOADADDR(.data);
  .bss (NOLOAD) : { _sbss = .; *(.bss*) *(COMMON) . = ALIGN(4); _ebss = .; } > RAM
  _estack = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def tools_available() -> bool:
    return bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def run_on_emulated_m4(compiled: CompiledModel, input_row: np.ndarray) -> tuple[int, np.ndarray]:
    """Run one input (the model's input shape and dtype) on QEMU mps2-an386.

    Returns (Cortex-M4 instructions of hb_model_invoke, output array)."""
    gcc, qemu = shutil.which("arm-none-eabi-gcc"), shutil.which("qemu-system-arm")
    if not gcc or not qemu:
        raise BuildError("arm-none-eabi-gcc and qemu-system-arm are needed "
                         "(Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")
    raw = np.ascontiguousarray(input_row).tobytes()
    with tempfile.TemporaryDirectory(prefix="hb-m4-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "startup.c").write_text(STARTUP_C)
        (tmp_path / "main.c").write_text(MAIN_C)
        (tmp_path / "link.ld").write_text(LINKER_SCRIPT)
        (tmp_path / "bench_input.h").write_text(
            "static const unsigned char bench_input[] = {" + ",".join(map(str, raw)) + "};\n")
        elf = tmp_path / "bench.elf"
        defines = [f"-D{k}={v}" for k, v in compiled.compile_definitions.items()]
        cmd = [gcc, *CORTEX_M4_FLAGS, *defines, f"-I{tmp_path}",
               *[f"-I{d}" for d in compiled.include_dirs], "-nostartfiles", "-nostdlib",
               "-T", str(tmp_path / "link.ld"), "-Wl,--gc-sections",
               str(tmp_path / "startup.c"), str(tmp_path / "main.c"),
               *map(str, compiled.source_files), *map(str, compiled.runtime_sources),
               "-lc", "-lm", "-lgcc", "-o", str(elf)]
        build = subprocess.run(cmd, capture_output=True, text=True)
        if build.returncode != 0:
            raise BuildError(f"Cortex-M4 build of {compiled.model_name} failed:\n{build.stderr}")
        result = subprocess.run([qemu, "-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
                                 "-semihosting", "-icount", "shift=0,align=off,sleep=off",
                                 "-kernel", str(elf)], capture_output=True, text=True,
                                timeout=900)
    text = result.stdout + result.stderr  # semihosting output lands on either, by QEMU version
    ticks = re.search(r"ticks (\d+)", text)
    out = re.search(r"out ([0-9a-f]*)", text)
    if not ticks or not out:
        raise DeployError(f"emulated {compiled.model_name} printed no result: {text[-2000:]}")
    spec = compiled.outputs[0]
    output = np.frombuffer(bytes.fromhex(out.group(1)), dtype=np.dtype(spec.dtype))
    return int(ticks.group(1)) * INSTRUCTIONS_PER_SYSTICK, output.reshape(spec.shape)
