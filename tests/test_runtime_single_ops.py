"""Property tests: single-operator int8 models built with TensorFlow, bit-exact with TFLM.

Each property draws an operator configuration, converts it with full-integer quantization
(int8 input and output unless noted), compiles it and compares every output byte against the
tflite-micro interpreter on random inputs.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.support.bitexact import assert_bit_exact
from tests.support.tf_models import apply_activation, convert, weights, with_int16_output

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
activations = st.sampled_from(["NONE", "RELU", "RELU6"])
paddings = st.sampled_from(["SAME", "VALID"])


def _spatial(draw, kernel_h, kernel_w, stride, dilation):
    """An input size at least as big as the effective kernel, so VALID has an output."""
    h = draw(st.integers((kernel_h - 1) * dilation + 1, 11))
    w = draw(st.integers((kernel_w - 1) * dilation + 1, 11))
    return h, w


@st.composite
def conv_configs(draw, depthwise: bool):
    kernel_h, kernel_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = draw(st.sampled_from([1, 1, 2]))
    stride = 1 if dilation > 1 else draw(st.integers(1, 3))
    h, w = _spatial(draw, kernel_h, kernel_w, stride, dilation)
    groups = 1 if depthwise else draw(st.sampled_from([1, 1, 2]))
    return dict(batch=draw(st.integers(1, 2)), h=h, w=w, groups=groups,
                in_c=groups * draw(st.integers(1, 6 // groups)),
                out_c=groups * draw(st.integers(1, 8 // groups)),
                multiplier=draw(st.integers(1, 3)),
                kernel=(kernel_h, kernel_w), stride=stride, dilation=dilation,
                padding=draw(paddings), activation=draw(activations),
                per_channel=draw(st.booleans()), seed=draw(st.integers(0, 1000)),
                depthwise=depthwise)


@SETTINGS
@given(conv_configs(depthwise=False))
@example(dict(batch=1, h=6, w=5, groups=2, in_c=4, out_c=6, multiplier=1, kernel=(3, 3), stride=1,
              dilation=1, padding="SAME", activation="RELU", per_channel=True, seed=5,
              depthwise=False))
def test_conv_2d(cfg):
    def build(tf, rng, x):
        # A filter with in_c / groups input channels makes a grouped convolution.
        w = tf.constant(weights(rng, cfg["kernel"] + (cfg["in_c"] // cfg["groups"],
                                                      cfg["out_c"])))
        b = tf.constant(rng.standard_normal(cfg["out_c"]).astype(np.float32))
        y = tf.nn.conv2d(x, w, strides=cfg["stride"], padding=cfg["padding"],
                         dilations=cfg["dilation"]) + b
        return apply_activation(tf, y, cfg["activation"])

    path = convert("conv", cfg, build, [(cfg["batch"], cfg["h"], cfg["w"], cfg["in_c"])],
                   per_channel=cfg["per_channel"])
    assert_bit_exact(path, seed=cfg["seed"], expect_ops={"CONV_2D"})


@SETTINGS
@given(conv_configs(depthwise=True))
def test_depthwise_conv_2d(cfg):
    def build(tf, rng, x):
        w = tf.constant(weights(rng, cfg["kernel"] + (cfg["in_c"], cfg["multiplier"])))
        b = tf.constant(rng.standard_normal(cfg["in_c"] * cfg["multiplier"]).astype(np.float32))
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, cfg["stride"], cfg["stride"], 1],
                                   padding=cfg["padding"],
                                   dilations=[cfg["dilation"], cfg["dilation"]]) + b
        return apply_activation(tf, y, cfg["activation"])

    path = convert("dwconv", cfg, build, [(1, cfg["h"], cfg["w"], cfg["in_c"])],
                   per_channel=cfg["per_channel"])
    assert_bit_exact(path, seed=cfg["seed"], expect_ops={"DEPTHWISE_CONV_2D"})


@SETTINGS
@given(batch=st.integers(1, 3), depth=st.integers(1, 48), units=st.integers(1, 24),
       activation=activations, per_channel=st.booleans(), seed=st.integers(0, 1000))
def test_fully_connected(batch, depth, units, activation, per_channel, seed):
    cfg = dict(batch=batch, depth=depth, units=units, activation=activation, seed=seed)

    def build(tf, rng, x):
        w = tf.constant(weights(rng, (depth, units)))
        b = tf.constant(rng.standard_normal(units).astype(np.float32))
        return apply_activation(tf, tf.matmul(x, w) + b, activation)

    path = convert("fc", cfg, build, [(batch, depth)], per_channel=per_channel)
    assert_bit_exact(path, seed=seed, expect_ops={"FULLY_CONNECTED"})


@SETTINGS
@given(kind=st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"]), kernel=st.integers(1, 4),
       stride=st.integers(1, 3), padding=paddings, c=st.integers(1, 5), data=st.data())
def test_pools(kind, kernel, stride, padding, c, data):
    h = data.draw(st.integers(kernel, 10))
    w = data.draw(st.integers(kernel, 10))
    cfg = dict(kind=kind, kernel=kernel, stride=stride, padding=padding, h=h, w=w, c=c)

    def build(tf, rng, x):
        pool = tf.nn.avg_pool2d if kind == "AVERAGE_POOL_2D" else tf.nn.max_pool2d
        return pool(x, ksize=kernel, strides=stride, padding=padding)

    path = convert("pool", cfg, build, [(1, h, w, c)])
    assert_bit_exact(path, expect_ops={kind})


@st.composite
def broadcast_shapes(draw):
    rank = draw(st.integers(1, 4))
    out = [draw(st.integers(1, 5)) for _ in range(rank)]
    shapes = []
    for _ in range(2):
        shape = [d if draw(st.booleans()) else 1 for d in out]
        shape = shape[draw(st.integers(0, rank - 1)):]  # maybe drop leading dims
        shapes.append(tuple(shape) if shape else (1,))
    return shapes


@SETTINGS
@given(shapes=broadcast_shapes(), activation=activations,
       ranges=st.tuples(st.floats(0.5, 8.0), st.floats(0.5, 8.0)))
def test_add_with_broadcast(shapes, activation, ranges):
    cfg = dict(shapes=shapes, activation=activation, ranges=ranges)

    def build(tf, rng, a, b):
        return apply_activation(tf, a + b, activation)

    # Different calibration ranges give the two inputs different scales.
    path = convert("add", cfg, build, [shapes[0], shapes[1]], input_ranges=ranges)
    assert_bit_exact(path, expect_ops={"ADD"})


@SETTINGS
@given(rows=st.integers(1, 4), depth=st.integers(1, 40), input_range=st.floats(0.5, 20.0))
def test_softmax(rows, depth, input_range):
    cfg = dict(rows=rows, depth=depth, input_range=input_range)
    path = convert("softmax", cfg, lambda tf, rng, x: tf.nn.softmax(x), [(rows, depth)],
                   input_range=input_range)
    assert_bit_exact(path, expect_ops={"SOFTMAX"})


@SETTINGS
@given(rows=st.integers(1, 3), depth=st.integers(2, 40), input_range=st.floats(0.5, 20.0))
def test_softmax_int16_output(rows, depth, input_range):
    """int8 in, int16 out (scale 1/65536, zero point -32768), as TFLM supports."""
    cfg = dict(rows=rows, depth=depth, input_range=input_range)
    path = convert("softmax", cfg, lambda tf, rng, x: tf.nn.softmax(x), [(rows, depth)],
                   input_range=input_range)
    compiled = assert_bit_exact(with_int16_output(path, 1.0 / 65536, -32768),
                                expect_ops={"SOFTMAX"})
    assert compiled.outputs[0].dtype == "int16"


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple),
       input_range=st.floats(0.5, 16.0))
def test_logistic(shape, input_range):
    cfg = dict(shape=shape, input_range=input_range)
    path = convert("logistic", cfg, lambda tf, rng, x: tf.sigmoid(x), [shape],
                   input_range=input_range)
    assert_bit_exact(path, expect_ops={"LOGISTIC"})


@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 7),
                       st.integers(1, 5)),
       axes=st.sets(st.integers(0, 3), min_size=1, max_size=3).map(sorted),
       keepdims=st.booleans())
def test_mean(shape, axes, keepdims):
    # A mean over size-1 axes is no-op that the converter removes.
    assume(np.prod([shape[a] for a in axes]) > 1)
    cfg = dict(shape=shape, axes=axes, keepdims=keepdims)
    path = convert("mean", cfg, lambda tf, rng, x: tf.reduce_mean(x, axis=axes, keepdims=keepdims),
                   [shape])
    assert_bit_exact(path, expect_ops={"MEAN"})


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), data=st.data(),
       constant=st.one_of(st.none(), st.floats(-2.0, 2.0)))
def test_pad(shape, data, constant):
    pads = [[data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))] for _ in shape]
    assume(any(any(p) for p in pads))  # all-zero padding is removed by the converter
    cfg = dict(shape=shape, pads=pads, constant=constant)

    def build(tf, rng, x):
        if constant is None:
            return tf.pad(x, pads)
        return tf.pad(x, pads, constant_values=constant)

    path = convert("pad", cfg, build, [shape])
    assert_bit_exact(path)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
       count=st.integers(2, 3), data=st.data())
def test_concatenation(shape, count, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [data.draw(st.integers(1, 4)) for _ in range(count)]
    shapes = []
    for size in sizes:
        s = list(shape)
        s[axis] = size
        shapes.append(tuple(s))
    cfg = dict(shapes=shapes, axis=axis)
    path = convert("concat", cfg, lambda tf, rng, *xs: tf.concat(xs, axis=axis), shapes)
    assert_bit_exact(path, expect_ops={"CONCATENATION"})


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple),
       offset=st.floats(-3.0, 3.0), input_range=st.floats(0.5, 10.0))
def test_quantize_and_dequantize_edges(shape, offset, input_range):
    """float32 in/out: QUANTIZE (float32 -> int8) at the input, DEQUANTIZE at the output."""
    cfg = dict(shape=shape, offset=offset, input_range=input_range)
    path = convert("qdq", cfg, lambda tf, rng, x: tf.concat([x, x + offset], axis=-1), [shape],
                   float_io=True, input_range=input_range)
    assert_bit_exact(path, expect_ops={"QUANTIZE", "DEQUANTIZE"})


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
       input_range=st.floats(0.5, 12.0))
def test_quantize_int8_to_int8(shape, input_range):
    """int8 -> int8 QUANTIZE (requantization): the converter inserts one to bring the input to
    the fixed 1/256 scale of LOGISTIC's output before they are concatenated."""
    cfg = dict(shape=shape, input_range=input_range)
    path = convert("requantize", cfg,
                   lambda tf, rng, x: tf.concat([x, tf.sigmoid(x)], axis=-1), [shape],
                   input_range=input_range)
    assert_bit_exact(path, expect_ops={"QUANTIZE", "LOGISTIC", "CONCATENATION"})
