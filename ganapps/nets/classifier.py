"""A small downstream classifier: what a debiasing method is judged by (see :mod:`ganapps.debias`)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from ganapps import _checks


def small_classifier(sample_shape: Sequence[int], num_classes: int, width: int = 16, hidden: int = 64,
                     dropout: float = 0.2, seed: int = 0, name: str = "classifier") -> keras.Model:
    """Two convolution blocks (``width`` then ``2 * width`` filters, each block two 3x3 convolutions and a 2x2
    max-pool) for images, or two dense layers for vectors, then a ``hidden``-unit layer and logits over
    ``num_classes`` (no softmax: train with ``from_logits=True``). Every initializer and the dropout are seeded
    by ``seed``, so the same seed gives the same network: the debiasing benchmark compares methods on it."""
    shape = tuple(int(s) for s in sample_shape)
    num_classes = _checks.positive_int(num_classes, "num_classes")
    if num_classes < 2:
        raise _checks.fail("num_classes", "at least 2 classes", str(num_classes))
    width = _checks.positive_int(width, "width")
    hidden = _checks.positive_int(hidden, "hidden")
    if not (_checks.is_int(dropout) or isinstance(dropout, (float, np.floating))) or not 0 <= dropout < 1:
        raise _checks.fail("dropout", "a rate in [0, 1)", repr(dropout))
    seed = _checks.non_negative_int(seed, "seed")
    counter = iter(range(1000))

    def init() -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=seed * 101 + next(counter))

    inputs = keras.Input(shape, name="x")
    x = inputs
    if len(shape) == 3:
        for block, filters in enumerate((width, 2 * width)):
            for i in range(2):
                x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init(),
                                  name=f"conv{block + 1}_{i + 1}")(x)
            x = layers.MaxPooling2D(name=f"pool{block + 1}")(x)
        x = layers.Flatten(name="flatten")(x)
    elif len(shape) == 1:
        x = layers.Dense(4 * width, activation="relu", kernel_initializer=init(), name="dense0")(x)
    else:
        raise _checks.fail("sample_shape", "(height, width, channels) or (features,)", repr(shape))
    x = layers.Dense(hidden, activation="relu", kernel_initializer=init(), name="features")(x)
    if dropout:
        x = layers.Dropout(float(dropout), seed=seed, name="dropout")(x)
    logits = layers.Dense(num_classes, kernel_initializer=init(), name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name=name)
