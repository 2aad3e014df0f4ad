"""Filters laid out at compile time for the DSP inner loops (firmware_targets/runtime/hb_dot.h).

The packed loops walk a block of output channels with one pointer and word loads: the filter
rows go in blocks of `rows_per_block`, and inside a block, group by group of four depth values,
the four bytes of row 0, then those of row 1, and so on. Rows are padded with zero rows to a
multiple of the block, depth with zeros to a multiple of four (zero weights add nothing).

The generated hb_model_data.c holds both layouts of such a filter under `#if HB_DOT_USE_DSP`
(hb_target.h), so the portable kernels of the same compiled model (a Cortex-M3, or a host
build) read the filter as the model stores it and only one copy is linked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PackedFilter:
    """A filter's DSP layout: the bytes, and a line for the generated C saying what they are."""

    data: np.ndarray
    description: str


def pack_rows(rows: np.ndarray, rows_per_block: int) -> PackedFilter:
    """[output channels, depth] int8 -> the packed layout described above."""
    count, depth = rows.shape
    groups = -(-depth // 4)
    blocks = -(-count // rows_per_block)
    padded = np.zeros((blocks * rows_per_block, groups * 4), dtype=np.int8)
    padded[:count, :depth] = rows
    packed = padded.reshape(blocks, rows_per_block, groups, 4).transpose(0, 2, 1, 3).reshape(-1)
    return PackedFilter(packed, f"packed for the DSP loops: blocks of {rows_per_block} rows, "
                                f"{groups} groups of 4 bytes per row ({count}x{depth} padded to "
                                f"{blocks * rows_per_block}x{groups * 4})")
