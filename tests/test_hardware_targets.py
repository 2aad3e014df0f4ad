"""The bare-metal firmware targets of the real STM32 Nucleo boards, checked as built ELF files.

No board is attached to the machines that run these tests, so the firmware is built for real
with arm-none-eabi-gcc and then read back: vector table at the start of flash with the initial
stack pointer at the top of SRAM and the reset vector at the ELF entry point, every load
segment inside the chip's flash and RAM, and the DUT core, HAL and model all linked in. None of
this proves the firmware runs on the chip (docs/hardware.md says what is and is not verified).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from hilbench.bench import compiled_model_dir
from hilbench.boards import load_boards
from hilbench.build import build_firmware
from hilbench.build.recipe import load_recipe
from hilbench.compile import compile_model
from hilbench.paths import firmware_root, zoo_root

AD = zoo_root() / "ad" / "int8.tflite"   # the zoo's anomaly detector: FC only, the quickest to build

# target -> (board, flash origin, flash bytes, RAM origin, RAM bytes, vector count), from the
# reference manuals (RM0432, RM0455, RM0456), not from the recipes under test.
MEMORY_MAPS = {
    "stm32l4r5": ("nucleo-l4r5zi", 0x08000000, 2 << 20, 0x20000000, 640 << 10, 16 + 95),
    "stm32h7a3": ("nucleo-h7a3zi", 0x08000000, 2 << 20, 0x24000000, 1 << 20, 16 + 155),
    "stm32u575": ("nucleo-u575zi", 0x08000000, 2 << 20, 0x20000000, 768 << 10, 16 + 125),
}
_PT_LOAD = "PT_LOAD"


@pytest.fixture(scope="module")
def ad():
    return compile_model(AD, compiled_model_dir(AD, "portable"))


def symbol(elf: ELFFile, name: str):
    found = elf.get_section_by_name(".symtab").get_symbol_by_name(name)
    assert found, f"symbol {name} is not in the firmware"
    return found[0]


def read_at(elf: ELFFile, address: int, size: int) -> bytes:
    for section in elf.iter_sections():
        start = section["sh_addr"]
        if section["sh_type"] != "SHT_NOBITS" and start <= address < start + section["sh_size"]:
            offset = address - start
            return section.data()[offset:offset + size]
    raise AssertionError(f"no section holds address {address:#x}")


@pytest.mark.parametrize("target", sorted(MEMORY_MAPS))
def test_target_builds_an_elf_that_fits_the_chip(target, ad):
    board_name, flash_origin, flash_bytes, ram_origin, ram_bytes, vectors = MEMORY_MAPS[target]
    firmware = build_firmware(target, ad)
    assert (firmware.mode, firmware.latency_source) == ("hardware", "device-timer")

    with open(firmware.elf_path, "rb") as handle:
        elf = ELFFile(handle)
        assert elf["e_machine"] == "EM_ARM" and elf.elfclass == 32

        # The vector table opens the flash: initial SP = top of SRAM, then the reset vector.
        table = symbol(elf, "hb_vector_table")
        assert table["st_value"] == flash_origin
        assert table["st_size"] == 4 * vectors
        initial_sp, reset_vector = struct.unpack("<II", read_at(elf, flash_origin, 8))
        assert initial_sp == ram_origin + ram_bytes
        reset = symbol(elf, "Reset_Handler")
        assert reset_vector == reset["st_value"] | 1 == elf["e_entry"] | 1  # Thumb bit set
        # SysTick (vector 15) keeps the DWT cycle counter's upper half current.
        systick = struct.unpack("<I", read_at(elf, flash_origin + 15 * 4, 4))[0]
        assert systick == symbol(elf, "hb_timer_irq_handler")["st_value"] | 1

        # Everything the loader writes lands in flash; everything that runs from RAM fits in it.
        for segment in elf.iter_segments():
            if segment["p_type"] != _PT_LOAD or segment["p_memsz"] == 0:
                continue
            if segment["p_filesz"]:
                assert flash_origin <= segment["p_paddr"]
                assert segment["p_paddr"] + segment["p_filesz"] <= flash_origin + flash_bytes
            if segment["p_vaddr"] >= ram_origin:
                assert segment["p_vaddr"] + segment["p_memsz"] <= ram_origin + ram_bytes

        # The protocol core, the STM32 HAL and the model are linked in.
        # (The timestamp pin's pulse is only linked into energy-mode builds: see below.)
        for name in ("hb_dut_run", "hb_hal_init", "hb_hal_getc", "hb_hal_ticks", "hb_board_init",
                     "hb_model_invoke"):
            assert symbol(elf, name)["st_value"] != 0
        rodata = b"".join(s.data() for s in elf.iter_sections()
                          if s["sh_type"] == "SHT_PROGBITS" and not s["sh_flags"] & 0x1)
        assert b"dwt-cyccnt\0" in rodata            # the timer the DUT reports in 'profile'
        assert f'{target}\0'.encode() in rodata     # its 'name' reply

    # The raw image pyOCD could also take starts with the same two words.
    assert firmware.bin_path is not None
    assert firmware.bin_path.read_bytes()[:8] == struct.pack("<II", initial_sp, reset_vector)

    # The catalog builds the board with this target and has at least this much memory.
    board = load_boards().get(board_name)
    assert board.build.firmware_target == target
    assert ram_bytes <= board.ram_bytes and flash_bytes <= board.flash_bytes


def test_energy_mode_build_drives_the_timestamp_pin(ad):
    """HB_DUT_ENERGY_MODE=1 makes every timestamp a pulse on the D7 pin, not a printed line."""
    firmware = build_firmware("stm32l4r5", ad, extra_defines=("HB_DUT_ENERGY_MODE=1",))
    with open(firmware.elf_path, "rb") as handle:
        elf = ELFFile(handle)
        rodata = b"".join(s.data() for s in elf.iter_sections() if s.name.startswith((".text", ".rodata")))
        assert b"m-timestamp-mode-energy" in rodata
        assert symbol(elf, "hb_hal_timestamp_pulse")["st_size"] > 0


def test_recipes_declare_the_clock_their_board_file_sets():
    """The core clock a recipe reports as the timer rate is the catalog's clock for the board;
    the board files refuse to build with any other (#error)."""
    catalog = load_boards()
    for target, (board_name, *_rest) in MEMORY_MAPS.items():
        recipe = load_recipe(target)
        assert recipe.defines["HB_CPU_CLOCK_HZ"] == f"{catalog.get(board_name).clock_hz}u"


def test_a_board_file_refuses_a_clock_it_does_not_set(ad, tmp_path):
    from hilbench.errors import BuildError

    with pytest.raises(BuildError, match="must be 120000000u"):
        build_firmware("stm32l4r5", ad, extra_defines=("HB_CPU_CLOCK_HZ=80000000u",),
                       cache_dir=tmp_path)


# Drives hb_cycle_extend.h (the DWT wrap counting of every cycle-counter target) through a
# counter that runs past 2^32 many times, read at steps from 1 cycle up to one cycle short of a
# whole wrap (the longest gap the periodic interrupt allows), and checks every 64-bit result
# against the true count.
CYCLE_EXTEND_CHECK = r"""
#include <inttypes.h>
#include <stdio.h>
#include "hb_cycle_extend.h"

int main(void)
{
    /* The edges first: to the last value before a wrap, across it by one, whole-wrap gaps. */
    static const uint64_t edges[] = {0xFFFFFFFFu, 1u, 0xFFFFFFFEu, 2u, 0xFFFFFFFFu, 0xFFFFFFFFu, 3u};
    hb_cycle_extender state = {0u, 0u};
    uint64_t truth = 0u, lcg = 1u;
    unsigned long readings;
    for (readings = 0; readings < 100000u; ++readings) {
        uint64_t step;
        uint64_t ticks = hb_cycle_extend(&state, (uint32_t)truth);
        if (ticks != truth) {
            printf("wrong at reading %lu: truth %" PRIu64 " ticks %" PRIu64 "\n", readings, truth, ticks);
            return 1;
        }
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        step = readings < sizeof edges / sizeof edges[0] ? edges[readings]
               : (readings % 2u ? (lcg >> 32) % 0xFFFFFFFFu + 1u : (lcg >> 33) % 1000u + 1u);
        truth += step;
    }
    printf("ok %" PRIu32 "\n", state.wraps);
    return 0;
}
"""


def test_cycle_counter_extension_counts_every_wrap(tmp_path):
    source = tmp_path / "check.c"
    source.write_text(CYCLE_EXTEND_CHECK)
    program = tmp_path / "check"
    compiler = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([compiler, "-std=c99", "-Wall", "-Wextra", "-Werror",
                    f"-I{firmware_root() / 'dwt_common'}", str(source), "-o", str(program)], check=True)
    result = subprocess.run([str(program)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    status, wraps = result.stdout.split()
    assert status == "ok" and int(wraps) > 1000   # it really went round many times
