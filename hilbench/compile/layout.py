"""Filters laid out at compile time for the DSP inner loops (firmware_targets/runtime/hb_dot.h).

The packed loops walk a block of output channels with one pointer and word loads. The filter
rows go in blocks of `rows_per_block`; inside a block, group by group of four depth values,
row by row, either the four weight bytes, or the weights already sign-extended to int16 in the
halfword pairs SMLAD takes, (w0, w2) and (w1, w3), matching the input that SXTB16 unpacks from
four bytes: then no SXTB16 runs on a weight at run time, at the price of twice the filter's
bytes in flash (the compiler chooses, layer by layer: lowering.py). Rows are padded with zero
rows to a multiple of the block, depth with zeros to a multiple of four (zero weights add
nothing).

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


def pack_rows(rows: np.ndarray, rows_per_block: int, sign_extended: bool) -> PackedFilter:
    """[output channels, depth] int8 -> the packed layout described above: per block, per group
    of four depth values (w0, w1, w2, w3), per row, either the int16 pairs (w0, w2) and (w1, w3)
    (sign_extended) or the four bytes as they are (the loop runs SXTB16 on them)."""
    count, depth = rows.shape
    groups = -(-depth // 4)
    blocks = -(-count // rows_per_block)
    padded = np.zeros((blocks * rows_per_block, groups * 4), dtype=np.int16)
    padded[:count, :depth] = rows
    grouped = padded.reshape(blocks, rows_per_block, groups, 4)
    if sign_extended:
        data = _int16_bytes(grouped[..., [0, 2, 1, 3]].transpose(0, 2, 1, 3))
        form = "int16 pairs (w0, w2), (w1, w3)"
    else:
        data = np.ascontiguousarray(grouped.transpose(0, 2, 1, 3)).astype(np.int8).reshape(-1)
        form = "int8 bytes"
    return PackedFilter(data, f"packed for the DSP loops: blocks of {rows_per_block} rows, "
                              f"{groups} groups of 4 values as {form} ({count}x{depth} padded to "
                              f"{blocks * rows_per_block}x{groups * 4})")


def _int16_bytes(values: np.ndarray) -> np.ndarray:
    """int16 values as the int8 bytes of a little-endian core (every supported one)."""
    return np.ascontiguousarray(values).astype("<i2").view(np.int8).reshape(-1)


def pack_depthwise(taps: np.ndarray) -> PackedFilter:
    """[taps, channels] int8 depthwise filter (depth multiplier 1) -> per group of four channels,
    tap by tap, the weights sign-extended to int16 in the halfword pairs (c0, c2), (c1, c3) that
    SXTB16 makes of four input bytes (little-endian, as every supported core). Channels are
    padded with zeros to a multiple of four. Twice the bytes of the model's filter; depthwise
    filters are small, and the kernel saves two SXTB16 per tap and group."""
    count, channels = taps.shape
    groups = -(-channels // 4)
    padded = np.zeros((count, groups * 4), dtype=np.int16)
    padded[:, :channels] = taps
    lanes = padded.reshape(count, groups, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    return PackedFilter(_int16_bytes(lanes),
                        f"packed for the DSP loops: {groups} groups of 4 channels x {count} taps, "
                        "int16 pairs (c0, c2), (c1, c3)")


# Flash a model may spend on sign-extended (int16) filters, beyond their int8 bytes.
INT16_FILTER_BUDGET_BYTES = 256 * 1024


@dataclass(frozen=True)
class FilterUse:
    """A filter the DSP loops could read as int16: its tensor, its bytes, and how many times per
    inference each weight is used (output pixels of a conv, rows of a fully connected)."""

    tensor_index: int
    weight_bytes: int
    uses: int


def choose_int16_filters(candidates: list[FilterUse],
                         budget_bytes: int = INT16_FILTER_BUDGET_BYTES) -> set[int]:
    """The filters to store sign-extended: each extra byte saves a quarter instruction per use,
    so the most used filters first (the smaller first among equals), while their extra bytes
    (one per weight) fit in the budget. Keeps a model like the MLPerf Tiny autoencoder (270 KB
    of fully connected weights) inside a 512 KB flash."""
    chosen: set[int] = set()
    spent = 0
    for use in sorted(candidates, key=lambda u: (-u.uses, u.weight_bytes, u.tensor_index)):
        if use.tensor_index in chosen:
            continue
        if spent + use.weight_bytes <= budget_bytes:
            chosen.add(use.tensor_index)
            spent += use.weight_bytes
    return chosen
