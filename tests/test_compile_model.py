"""Compiler internals: TFLM's multiplier arithmetic, the arena planner, generated sources."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.compile import compile_model, runtime_dir
from hilbench.compile.planner import ALIGNMENT, Buffer, plan_arena
from hilbench.compile.quantization import (activation_range, quantize_multiplier,
                                           tflite_round)

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
