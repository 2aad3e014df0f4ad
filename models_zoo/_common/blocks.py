"""Keras building blocks shared by several architectures (batch norm folds away on conversion).

Batch norm uses momentum 0.9 rather than Keras' 0.99: with a few thousand steps of training,
the slower moving averages lag the weights and the converted (inference-mode) model loses
accuracy that the training-mode figures promise."""

from __future__ import annotations

import keras
from keras import layers

BN_MOMENTUM = 0.9


def conv_bn_relu(x, filters: int, kernel, strides=1, name: str = ""):
    """Conv2D without bias + BatchNorm + ReLU: one fused CONV_2D after conversion."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      kernel_regularizer=keras.regularizers.l2(1e-4), name=f"{name}conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}bn")(x)
    return layers.ReLU(name=f"{name}relu")(x)


def depthwise_separable(x, filters: int, strides=1, name: str = ""):
    """MobileNet / DS-CNN block: 3x3 depthwise + BN + ReLU, then 1x1 pointwise + BN + ReLU."""
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False,
                               name=f"{name}dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}dw_bn")(x)
    x = layers.ReLU(name=f"{name}dw_relu")(x)
    return conv_bn_relu(x, filters, 1, name=f"{name}pw_")


def pooled_classifier(x, n_classes: int):
    """Average pool over the whole feature map, flatten, dense, softmax: the MLPerf Tiny head
    (AVERAGE_POOL_2D + RESHAPE + FULLY_CONNECTED + SOFTMAX, no MEAN op)."""
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(n_classes, name="logits")(x)
    return layers.Softmax(name="softmax")(x)
