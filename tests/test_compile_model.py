"""Compiler internals: TFLM's multiplier arithmetic, the arena planner, generated sources."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.compile import compile_model, runtime_dir
from hilbench.compile.layout import (INT16_FILTER_BUDGET_BYTES, choose_int16_filters,
                                     pack_depthwise, pack_rows)
from hilbench.compile.lowering import int16_filter_candidates
from hilbench.compile.planner import ALIGNMENT, Buffer, plan_arena
from hilbench.compile.quantization import (activation_range, quantize_multiplier,
                                           tflite_round)
from hilbench.compile.reader import read_model

# TFLM's arenas for these models, from the MLPerf Tiny models' README (bytes).
TFLM_ARENA_BYTES = {"kws_ref_model": 22740, "vww_96_int8": 100596,
                    "pretrainedResnet_quant": 54292, "ad01_int8": 2244}


def test_tflite_round_is_half_away_from_zero():
    assert [tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999)] == [1, 2, 3, -1, -3, 2]


def test_quantize_multiplier_edge_cases():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    # frexp gives a fraction that rounds up to 2^31: TFLM halves it and bumps the shift.
    assert quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)
    # Below 2^-32 the multiplier underflows to zero.
    assert quantize_multiplier(2.0 ** -40) == (0, 0)


@given(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_quantize_multiplier_represents_the_real_value(real):
    multiplier, shift = quantize_multiplier(real)
    assert (1 << 30) <= multiplier < (1 << 31)
    assert math.isclose(multiplier * 2.0 ** (shift - 31), real, rel_tol=2.0 ** -30)


def test_activation_ranges():
    scale = np.float32(0.05)
    assert activation_range("NONE", scale, -3) == (-128, 127)
    assert activation_range("RELU", scale, -3) == (-3, 127)
    assert activation_range("RELU6", scale, -128) == (-128, -8)


buffers = st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 20), st.integers(0, 6)),
                   min_size=1, max_size=30)


@given(buffers)
@settings(max_examples=200, deadline=None)
def test_planner_never_overlaps_live_buffers(specs):
    plan = [Buffer(f"b{i}", size, first, first + length)
            for i, (size, first, length) in enumerate(specs)]
    arena = plan_arena(plan)
    assert arena % ALIGNMENT == 0
    assert arena <= sum(-(-b.size // ALIGNMENT) * ALIGNMENT for b in plan)
    for b in plan:
        assert b.offset % ALIGNMENT == 0 and b.offset + b.size <= arena
    for i, a in enumerate(plan):
        for b in plan[i + 1:]:
            if a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset


@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_mlperf_arenas_are_no_larger_than_tflm(tmp_path, kernels, mlperf_tiny):
    for name, tflm_bytes in TFLM_ARENA_BYTES.items():
        compiled = compile_model(mlperf_tiny(name), tmp_path / name, kernels=kernels)
        assert 0 < compiled.arena_bytes <= tflm_bytes, (name, compiled.arena_bytes)


def test_compiled_model_describes_its_sources(tmp_path, mlperf_tiny):
    compiled = compile_model(mlperf_tiny("kws_ref_model"), tmp_path / "kws")
    assert compiled.ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
                            "FULLY_CONNECTED", "SOFTMAX"]
    assert [p.name for p in compiled.runtime_sources] == [
        "conv_2d.c", "depthwise_conv_2d.c", "average_pool_2d.c", "reshape.c",
        "fully_connected.c", "softmax.c"]
    assert runtime_dir() in compiled.include_dirs
    assert all(p.exists() for p in compiled.source_files + compiled.runtime_sources)
    spec = compiled.inputs[0]
    assert (spec.shape, spec.dtype, spec.bytes) == ((1, 49, 10, 1), "int8", 490)
    assert compiled.outputs[0].shape == (1, 12)
    assert len(compiled.model_sha256) == len(compiled.runtime_sha256) == 64

    config = (compiled.out_dir / "hb_model_config.h").read_text()
    macros = dict(re.findall(r"#define (HB_MODEL_\w+) (\d+)u", config))
    assert macros == {"HB_MODEL_ARENA_BYTES": str(compiled.arena_bytes),
                      "HB_MODEL_INPUT_BYTES": "490", "HB_MODEL_OUTPUT_BYTES": "12",
                      "HB_MODEL_NUM_INPUTS": "1", "HB_MODEL_NUM_OUTPUTS": "1"}
    # Weights are const (flash) and aligned; invoke is straight-line kernel calls.
    data = (compiled.out_dir / "hb_model_data.c").read_text()
    assert data.count("HB_MODEL_CONST_ALIGNED const int8_t") >= 5
    model_c = (compiled.out_dir / "hb_model.c").read_text()
    body = model_c[model_c.index("int hb_model_invoke"):]
    assert body.count("hb_conv_2d_s8(") == 5 and "for (" not in body
    int8_values = sum(int(n) for n in re.findall(r"const int8_t hb_model_tensor_\d+\[(\d+)\]", data))
    int32_values = sum(int(n) for n in re.findall(r"const int32_t hb_model_tensor_\d+\[(\d+)\]", data))
    assert compiled.weight_bytes == int8_values + 4 * int32_values


def test_dsp_choices_are_visible_in_the_generated_c(tmp_path, mlperf_tiny):
    """With kernels="auto" the generator picks the variants, and the C says which: the 3x3
    depthwise entry point, the narrow requantization, the int16 filters, and both layouts of
    each packed filter behind HB_DOT_USE_DSP."""
    compiled = compile_model(mlperf_tiny("kws_ref_model"), tmp_path / "kws", kernels="auto")
    model_c = (compiled.out_dir / "hb_model.c").read_text()
    data = (compiled.out_dir / "hb_model_data.c").read_text()
    assert model_c.count("hb_depthwise_conv_2d_3x3_s8(") == 4
    assert model_c.count(".requantize = HB_REQUANTIZE_NARROW") == 10
    assert model_c.count(".filter_int16 = 1") == 6  # 5 convolutions and the classifier
    assert data.count("#if defined(HB_DOT_USE_DSP)") == 10
    assert data.count("int16 pairs (w0, w2), (w1, w3)") == 6
    assert data.count("int16 pairs (c0, c2), (c1, c3)") == 4
    portable = compile_model(mlperf_tiny("kws_ref_model"), tmp_path / "kws_portable")
    assert "HB_DOT_USE_DSP" not in (portable.out_dir / "hb_model_data.c").read_text()


def test_int16_filters_stay_within_the_flash_budget(mlperf_tiny):
    graph, _ = read_model(mlperf_tiny("ad01_int8"))
    candidates = int16_filter_candidates(graph)
    chosen = choose_int16_filters(candidates)
    assert sum(u.weight_bytes for u in candidates) > INT16_FILTER_BUDGET_BYTES
    assert 0 < sum(u.weight_bytes for u in candidates if u.tensor_index in chosen) \
        <= INT16_FILTER_BUDGET_BYTES
    # All of ad01's filters are used once per inference: the smaller ones go first.
    left_out = [u for u in candidates if u.tensor_index not in chosen]
    assert min(u.weight_bytes for u in left_out) >= max(
        u.weight_bytes for u in candidates if u.tensor_index in chosen)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), depth=st.integers(1, 11), block=st.sampled_from([2, 4]),
       sign_extended=st.booleans(), seed=st.integers(0, 99))
def test_packed_rows_hold_each_weight_where_the_loops_read_it(rows, depth, block, sign_extended,
                                                              seed):
    weights = np.random.default_rng(seed).integers(-128, 128, (rows, depth), dtype=np.int8)
    packed = pack_rows(weights, block, sign_extended).data
    groups = -(-depth // 4)
    values = packed.view("<i2") if sign_extended else packed
    # Per block, per group, per row: four values; int16 ones in the order (w0, w2, w1, w3).
    lanes = [0, 2, 1, 3] if sign_extended else [0, 1, 2, 3]
    assert values.size == -(-rows // block) * block * groups * 4
    for r in range(-(-rows // block) * block):
        for k in range(groups * 4):
            expected = weights[r, k] if r < rows and k < depth else 0
            g, lane = divmod(k, 4)
            index = (((r // block) * groups + g) * block + r % block) * 4 + lanes.index(lane)
            assert values[index] == expected


@settings(max_examples=30, deadline=None)
@given(taps=st.integers(1, 9), channels=st.integers(1, 11), seed=st.integers(0, 99))
def test_packed_depthwise_holds_each_weight_in_its_lane(taps, channels, seed):
    weights = np.random.default_rng(seed).integers(-128, 128, (taps, channels), dtype=np.int8)
    values = pack_depthwise(weights).data.view("<i2")
    groups = -(-channels // 4)
    assert values.size == groups * taps * 4
    for t in range(taps):
        for c in range(groups * 4):
            g, lane = divmod(c, 4)
            # Per group, per tap: the halfword pairs (c0, c2), (c1, c3).
            index = (g * taps + t) * 4 + 2 * (lane & 1) + (lane >> 1)
            assert values[index] == (weights[t, c] if c < channels else 0)
