"""Flash/RAM footprint and stack estimate of ELFs built here with the real compilers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hilbench.errors import MeasurementError
from hilbench.measure.footprint import elf_footprint, estimate_stack

FIRMWARE_C = r"""
#include <stdint.h>
const uint8_t model_weights[4096] = {1, 2, 3};           /* rodata: flash only */
uint32_t lookup_table[100] = {1, 2, 3};                  /* data: flash and RAM */
uint8_t tensor_arena[8192] __attribute__((aligned(16)));  /* bss: RAM only */

static int __attribute__((noinline)) leaf(const uint8_t *p, int n) {
    volatile uint8_t scratch[96];
    for (int i = 0; i < n; i++) scratch[i % 96] = p[i];
    return scratch[3];
}
int __attribute__((noinline)) layer(int n) {
    uint32_t partial[40];
    for (int i = 0; i < 40; i++) partial[i] = lookup_table[(i + n) % 100] + model_weights[i];
    return leaf(tensor_arena, n) + (int)partial[n % 40];
}
int __attribute__((noinline)) small(int n) { return n + 1; }
int main(void) {
    volatile int n = 7;
    return layer(n) + small(n);
}
void _start(void) { main(); for (;;) {} }
"""

RECURSIVE_C = r"""
int __attribute__((noinline)) walk(int n) { volatile int pad[8]; pad[0] = n; return n ? walk(n - 1) + pad[0] : 0; }
int __attribute__((noinline)) grow(int n) { char *p = __builtin_alloca(n); p[0] = 1; return p[n - 1]; }
int main(void) { volatile int n = 3; return walk(n) + grow(n); }
void _start(void) { main(); for (;;) {} }
"""


def compile_elf(tmp_path: Path, compiler: str, source: str, extra: list[str]) -> Path:
    if shutil.which(compiler) is None:
        pytest.fail(f"{compiler} is not installed (it is part of the project's set-up)")
    c_file = tmp_path / "firmware.c"
    c_file.write_text(source)
    elf = tmp_path / "firmware.elf"
    subprocess.run([compiler, "-O1", "-fstack-usage", "-fcallgraph-info=su", *extra,
                    "-o", str(elf), str(c_file)], check=True, cwd=tmp_path)
    return elf


def berkeley_size(tool: str, elf: Path) -> dict[str, int]:
    """text (code + constants), data, bss as the binutils ``size`` tool counts them."""
    lines = subprocess.run([tool, str(elf)], check=True, capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(v) for v in lines[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def su_frames(folder: Path) -> dict[str, int]:
    frames = {}
    for file in folder.glob("*.su"):
        for line in file.read_text().splitlines():
            where, size, _ = line.split("\t")
            frames[where.rsplit(":", 1)[1]] = int(size)
    return frames


ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles", "-Wl,-e,_start"]


def test_arm_elf_flash_and_ram_match_binutils_size(tmp_path):
    elf = compile_elf(tmp_path, "arm-none-eabi-gcc", FIRMWARE_C, ARM_FLAGS)
    footprint = elf_footprint(elf, arena_symbol="tensor_arena", stack_files=[tmp_path])
    size = berkeley_size("arm-none-eabi-size", elf)
    assert footprint.flash_bytes == size["text"] + size["data"]
    assert footprint.ram_bytes == size["data"] + size["bss"]
    assert footprint.rodata_bytes >= 4096 and footprint.data_bytes >= 400
    assert footprint.bss_bytes >= 8192
    assert footprint.arena_bytes == 8192
    assert footprint.result_columns() == {"flash_bytes": footprint.flash_bytes,
                                          "ram_bytes": footprint.ram_bytes}

    frames = su_frames(tmp_path)
    stack = footprint.stack
    assert stack.stack_method == "call-graph" and stack.stack_bounded, stack.stack_caveats
    assert stack.worst_path == ("main", "layer", "firmware.c:leaf")  # leaf is static
    assert stack.stack_bytes == frames["main"] + frames["layer"] + frames["leaf"]


def test_host_elf_footprint_matches_binutils_size(tmp_path):
    elf = compile_elf(tmp_path, "cc", FIRMWARE_C.replace("void _start(void) { main(); for (;;) {} }", ""), [])
    footprint = elf_footprint(elf, arena_symbol="tensor_arena")
    size = berkeley_size("size", elf)
    assert footprint.flash_bytes == size["text"] + size["data"]
    assert footprint.ram_bytes == size["data"] + size["bss"]
    assert footprint.stack is None


def test_recursion_and_dynamic_frames_make_the_stack_a_lower_bound(tmp_path):
    compile_elf(tmp_path, "arm-none-eabi-gcc", RECURSIVE_C, ARM_FLAGS)
    stack = estimate_stack([tmp_path])
    assert not stack.stack_bounded
    caveats = " ".join(stack.stack_caveats)
    assert "recursion: walk -> walk" in caveats
    assert re.search(r"grow has a dynamic\S* frame", caveats)


def test_su_files_alone_give_the_largest_frame_as_a_lower_bound(tmp_path):
    compile_elf(tmp_path, "arm-none-eabi-gcc", FIRMWARE_C, ARM_FLAGS)
    for ci in tmp_path.glob("*.ci"):
        ci.unlink()
    stack = estimate_stack([tmp_path])
    frames = su_frames(tmp_path)
    assert stack.stack_method == "largest-frame" and not stack.stack_bounded
    assert stack.stack_bytes == max(frames.values())


def test_footprint_errors_name_the_problem(tmp_path):
    with pytest.raises(MeasurementError, match="does not exist; build the firmware first"):
        elf_footprint(tmp_path / "missing.elf")
    not_elf = tmp_path / "firmware.bin"
    not_elf.write_bytes(b"\x00" * 64)
    with pytest.raises(MeasurementError, match="is not an ELF file"):
        elf_footprint(not_elf)
    elf = compile_elf(tmp_path, "arm-none-eabi-gcc", FIRMWARE_C, ARM_FLAGS)
    with pytest.raises(MeasurementError, match="arena symbol 'hb_arena' is not in firmware.elf"):
        elf_footprint(elf, arena_symbol="hb_arena")
    with pytest.raises(MeasurementError, match="entry function 'reset_handler' is not in the call graph"):
        estimate_stack([tmp_path], entry="reset_handler")
    with pytest.raises(MeasurementError, match="no .ci or .su files"):
        estimate_stack([tmp_path / "firmware.elf"])
