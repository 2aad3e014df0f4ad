"""Footprint and cost of the hilbench int8 runtime on the MLPerf Tiny int8 models.

Prints one table per kernel set: flash (weights + model parameters and kernel code, compiled
for Cortex-M4 with arm-none-eabi-gcc -O2 when it is installed), arena bytes beside TFLM's, and
instructions per inference:
  - host: x86-64 instructions inside hb_model_invoke under valgrind --tool=callgrind
    (deterministic; wall time on the host clock if valgrind is missing). Not Cortex-M4 figures.
  - emulated (with --emulated-m4): Cortex-M4 instructions of one hb_model_invoke on QEMU
    mps2-an386 with -icount shift=0, timed with SysTick at 40 instructions per tick, the same
    method as the TFLM figures in the shared MLPerf Tiny README. The bare-metal harness
    (vector table, linker script, main) is written by this script into a temporary folder.

    python benchmarks/runtime_bench.py [--models kws_ref_model ...] [--kernels portable auto]
                                       [--emulated-m4]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hilbench.compile import CompiledModel, compile_model  # noqa: E402
from hilbench.paths import shared_models_root  # noqa: E402
from tests.support.host_runner import build_host_runner  # noqa: E402

MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
# From the shared MLPerf Tiny README: TFLM on emulated Cortex-M4 (QEMU mps2-an386, icount).
TFLM_REFERENCE = {
    "kws_ref_model": dict(arena=22740, ref_instr=197_829_387, cmsis_instr=7_944_293),
    "vww_96_int8": dict(arena=100596, ref_instr=549_582_027, cmsis_instr=24_948_867),
    "pretrainedResnet_quant": dict(arena=54292, ref_instr=823_909_800, cmsis_instr=31_923_307),
    "ad01_int8": dict(arena=2244, ref_instr=1_945_973, cmsis_instr=578_720),
}
CORTEX_M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
                   "-O2", "-std=c99", "-ffunction-sections", "-fdata-sections"]


def cortex_m4_flash_bytes(compiled: CompiledModel) -> tuple[int, int] | None:
    """(code bytes, weight bytes) of the model and its kernels compiled for Cortex-M4."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not gcc or not size:
        return None
    includes = [f"-I{d}" for d in compiled.include_dirs]
    defines = [f"-D{k}={v}" for k, v in compiled.compile_definitions.items()]
    code = weights = 0
    with tempfile.TemporaryDirectory() as tmp:
        for source in compiled.source_files + compiled.runtime_sources:
            obj = Path(tmp) / (source.stem + ".o")
            subprocess.run([gcc, *CORTEX_M4_FLAGS, *defines, *includes, "-c", str(source),
                            "-o", str(obj)], check=True)
            text, data = (int(v) for v in subprocess.run(
                [size, str(obj)], check=True, capture_output=True,
                text=True).stdout.splitlines()[1].split()[:2])
            if source.name == "hb_model_data.c":
                weights += text + data
            else:
                code += text + data
    return code, weights


def host_instructions_per_inference(compiled: CompiledModel, inferences: int = 2) -> int | None:
    """x86-64 instructions executed inside hb_model_invoke, per inference (callgrind)."""
    if not shutil.which("valgrind"):
        return None
    exe = build_host_runner(compiled)
    spec = compiled.inputs[0]
    data = np.random.default_rng(0).integers(-128, 128, size=(inferences,) + spec.shape,
                                             dtype=np.int8).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=hb_model_invoke",
                        f"--callgrind-out-file={out}", str(exe)], input=data, check=True,
                       capture_output=True)
        totals = re.search(r"^(?:totals|summary):\s+(\d+)", out.read_text(), re.MULTILINE)
    return int(totals.group(1)) // inferences


M4_STARTUP_C = r"""
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
M4_MAIN_C = r"""
#include <stdint.h>
#include "hb_model_api.h"
#include "hb_model_config.h"
void bench_puts(const char *s);
static uint8_t arena[HB_MODEL_ARENA_BYTES] __attribute__((aligned(16)));
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
int main(void) {
    char text[16];
    int i = 15;
    uint32_t state = 12345u;
    for (uint32_t b = 0; b < hb_model_inputs[0].bytes; b++) {
        state = state * 1103515245u + 12345u;
        arena[hb_model_inputs[0].arena_offset + b] = (uint8_t)(state >> 24);
    }
    SYST_RVR = 0xFFFFFF; SYST_CVR = 0; SYST_CSR = 5; /* core clock, no interrupt */
    const uint32_t start = SYST_CVR;
    hb_model_invoke(arena);
    uint32_t ticks = (start - SYST_CVR) & 0xFFFFFF; /* one 24-bit wrap = 671M instructions */
    text[i] = 0;
    do { text[--i] = (char)('0' + ticks % 10); ticks /= 10; } while (ticks);
    bench_puts("ticks ");
    bench_puts(&text[i]);
    bench_puts("\n");
    return 0;
}
"""
M4_LINKER_SCRIPT = """
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
INSTRUCTIONS_PER_SYSTICK = 40  # mps2-an386 SysTick runs at 25 MHz; icount shift=0 is 1 GHz


def emulated_m4_instructions(compiled: CompiledModel) -> int | None:
    """Cortex-M4 instructions of one hb_model_invoke on QEMU mps2-an386 (icount, SysTick)."""
    gcc, qemu = shutil.which("arm-none-eabi-gcc"), shutil.which("qemu-system-arm")
    if not gcc or not qemu:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "startup.c").write_text(M4_STARTUP_C)
        (tmp_path / "main.c").write_text(M4_MAIN_C)
        (tmp_path / "link.ld").write_text(M4_LINKER_SCRIPT)
        elf = tmp_path / "bench.elf"
        defines = [f"-D{k}={v}" for k, v in compiled.compile_definitions.items()]
        subprocess.run([gcc, *CORTEX_M4_FLAGS, *defines, *[f"-I{d}" for d in compiled.include_dirs],
                        "-nostartfiles", "-nostdlib", "-T", str(tmp_path / "link.ld"),
                        "-Wl,--gc-sections", str(tmp_path / "startup.c"), str(tmp_path / "main.c"),
                        *map(str, compiled.source_files), *map(str, compiled.runtime_sources),
                        "-lc", "-lm", "-lgcc", "-o", str(elf)], check=True)
        result = subprocess.run([qemu, "-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
                                 "-semihosting", "-icount", "shift=0,align=off,sleep=off",
                                 "-kernel", str(elf)], capture_output=True, text=True,
                                timeout=900)
    # QEMU prints semihosting output on stderr or stdout depending on its version.
    ticks = re.search(r"ticks (\d+)", result.stdout + result.stderr)
    if not ticks:
        raise RuntimeError(f"emulated run printed no tick count: {result.stdout} {result.stderr}")
    return int(ticks.group(1)) * INSTRUCTIONS_PER_SYSTICK


def host_wall_us_per_inference(compiled: CompiledModel, inferences: int = 20) -> float:
    exe = build_host_runner(compiled)
    spec = compiled.inputs[0]
    data = np.zeros((inferences,) + spec.shape, np.int8).tobytes()
    start = time.perf_counter()
    subprocess.run([str(exe)], input=data, check=True, capture_output=True)
    return (time.perf_counter() - start) / inferences * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--kernels", nargs="+", default=["portable"],
                        choices=["portable", "auto"])
    parser.add_argument("--emulated-m4", action="store_true",
                        help="also count Cortex-M4 instructions on QEMU mps2-an386 (slow)")
    args = parser.parse_args(argv)
    for kernels in args.kernels:
        print_table(args.models, kernels, args.emulated_m4)
    return 0


def print_table(models: list[str], kernels: str, emulated: bool) -> None:
    header = ["model", "flash B", "code+params B (M4)", "arena B", "TFLM arena B",
              "instr/inference [host x86-64, callgrind]"]
    if emulated:
        header.append("instr/inference [emulated M4, icount]")
    header += ["TFLM ref kernels [emulated M4]", "TFLM+CMSIS-NN [emulated M4]"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            compiled = compile_model(shared_models_root() / f"{name}.tflite", Path(tmp) / name,
                                     kernels=kernels)
            flash = cortex_m4_flash_bytes(compiled)
            instructions = host_instructions_per_inference(compiled)
            tflm = TFLM_REFERENCE.get(name, {})
            row = [
                name,
                f"{flash[0] + flash[1]:,}" if flash else f"{compiled.weight_bytes:,} + ?",
                f"{flash[0]:,}" if flash else "n/a (no arm-none-eabi-gcc)",
                f"{compiled.arena_bytes:,}",
                f"{tflm['arena']:,}" if tflm else "",
                f"{instructions:,}" if instructions is not None
                else f"{host_wall_us_per_inference(compiled):.0f} us [host-clock]",
            ]
            if emulated:
                m4 = emulated_m4_instructions(compiled)
                row.append(f"{m4:,}" if m4 is not None else "n/a (no qemu/arm gcc)")
            row += [f"{tflm['ref_instr']:,}" if tflm else "",
                    f"{tflm['cmsis_instr']:,}" if tflm else ""]
            rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(f"\nhilbench int8 runtime, kernels={kernels}. mode labels in brackets: host figures are "
          "x86-64 instructions, not Cortex-M4 ones; TFLM columns come from the shared README.")
    for row in [header, ["-" * w for w in widths]] + rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
