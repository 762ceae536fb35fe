"""Multi-layer perceptrons for vector (tabular) data, toy games and small images.

With ``sample_shape`` (e.g. ``(8, 8, 1)``) the generator reshapes its output to that shape and the discriminator
flattens such samples first, so an MLP game can work on small images, where dense nets are often faster and no
worse than convolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import SNDense


def sample_shape_of(sample_shape, size: int, size_argument: str) -> tuple[int, ...] | None:
    """``sample_shape`` checked: None, or a tuple of positive ints whose product is ``size`` (the flat width
    given as ``size_argument``)."""
    if sample_shape is None:
        return None
    ok = isinstance(sample_shape, Sequence) and not isinstance(sample_shape, str) and len(sample_shape) > 0 and all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sample_shape)
    if not ok:
        raise _checks.fail("sample_shape", "None or a tuple of positive integers such as (8, 8, 1)",
                           repr(sample_shape))
    shape = tuple(int(s) for s in sample_shape)
    if math.prod(shape) != size:
        raise _checks.fail(size_argument, f"the number of values in sample_shape {shape} ({math.prod(shape)})",
                           repr(size))
    return shape


def mlp_trunk(input_dim: int, input_name: str, hidden, activation: str, spectral_norm: bool = False,
              sample_shape: Sequence[int] | None = None):
    """(input, last hidden activations): Input -> Dense(hidden...), the layers spectrally normalised on request.

    With ``sample_shape`` the input takes samples of that shape (``input_dim`` values each) and flattens them.
    """
    _checks.positive_int(input_dim, "input_dim")
    shape = sample_shape_of(sample_shape, input_dim, "input_dim")
    hidden = _checks.units(hidden, "hidden")
    if not isinstance(spectral_norm, bool):
        raise _checks.fail("spectral_norm", "True or False", repr(spectral_norm))
    dense = SNDense if spectral_norm else layers.Dense
    if shape is None:
        inputs = keras.Input((input_dim,), name=input_name)
        x = inputs
    else:
        inputs = keras.Input(shape, name=input_name)
        x = layers.Flatten(name="flatten")(inputs)
    for units in hidden:
        x = dense(units, activation=activation)(x)
    return inputs, x


def _mlp(input_dim: int, input_name: str, hidden, activation: str, output_dim: int,
         output_activation: str | None, output_name: str, name: str, spectral_norm: bool = False,
         input_shape: tuple[int, ...] | None = None, output_shape: tuple[int, ...] | None = None) -> keras.Model:
    """Input -> Dense(hidden...) -> a float32 output layer (float32 even under a mixed-precision policy), reshaped
    to ``output_shape`` (a layer named "sample") when given."""
    inputs, x = mlp_trunk(input_dim, input_name, hidden, activation, spectral_norm, input_shape)
    dense = SNDense if spectral_norm else layers.Dense
    outputs = dense(output_dim, activation=output_activation, name=output_name, dtype="float32")(x)
    if output_shape is not None:
        outputs = layers.Reshape(output_shape, name="sample", dtype="float32")(outputs)
    return keras.Model(inputs, outputs, name=name)


def mlp_generator(latent_dim: int, output_dim: int, hidden: Sequence[int] = (128, 128),
                  activation: str = "relu", output_activation: str | None = None,
                  name: str = "generator", sample_shape: Sequence[int] | None = None) -> keras.Model:
    """Build an MLP generator ``z -> x`` with ``x`` of size ``output_dim`` (reshaped to ``sample_shape`` when
    given, whose values must number ``output_dim``).

    ``output_activation="tanh"`` bounds outputs to [-1, 1] (data scaled to that range); None leaves them free.
    """
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(output_dim, "output_dim")
    shape = sample_shape_of(sample_shape, output_dim, "output_dim")
    return _mlp(latent_dim, "z", hidden, activation, output_dim, output_activation, "output", name,
                output_shape=shape)


def mlp_discriminator(input_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "leaky_relu",
                      spectral_norm: bool = False, name: str = "discriminator",
                      sample_shape: Sequence[int] | None = None) -> keras.Model:
    """Build an MLP discriminator ``x -> logit`` for vectors of size ``input_dim`` (``spectral_norm``: every
    layer spectrally normalised, Miyato et al. 2018); with ``sample_shape`` it takes samples of that shape
    (``input_dim`` values each) and flattens them first."""
    _checks.positive_int(input_dim, "input_dim")
    shape = sample_shape_of(sample_shape, input_dim, "input_dim")
    return _mlp(input_dim, "x", hidden, activation, 1, None, "logit", name, spectral_norm, shape)
