"""Multi-layer perceptrons for vector (tabular) data and toy games."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import SNDense


def mlp_trunk(input_dim: int, input_name: str, hidden, activation: str, spectral_norm: bool = False):
    """(input, last hidden activations): Input -> Dense(hidden...), the layers spectrally normalised on request."""
    _checks.positive_int(input_dim, "input_dim")
    hidden = _checks.units(hidden, "hidden")
    if not isinstance(spectral_norm, bool):
        raise _checks.fail("spectral_norm", "True or False", repr(spectral_norm))
    dense = SNDense if spectral_norm else layers.Dense
    inputs = keras.Input((input_dim,), name=input_name)
    x = inputs
    for units in hidden:
        x = dense(units, activation=activation)(x)
    return inputs, x


def _mlp(input_dim: int, input_name: str, hidden, activation: str, output_dim: int,
         output_activation: str | None, output_name: str, name: str, spectral_norm: bool = False) -> keras.Model:
    """Input -> Dense(hidden...) -> a float32 output layer (float32 even under a mixed-precision policy)."""
    inputs, x = mlp_trunk(input_dim, input_name, hidden, activation, spectral_norm)
    dense = SNDense if spectral_norm else layers.Dense
    outputs = dense(output_dim, activation=output_activation, name=output_name, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def mlp_generator(latent_dim: int, output_dim: int, hidden: Sequence[int] = (128, 128),
                  activation: str = "relu", output_activation: str | None = None,
                  name: str = "generator") -> keras.Model:
    """Build an MLP generator ``z -> x`` with ``x`` of size ``output_dim``.

    ``output_activation="tanh"`` bounds outputs to [-1, 1] (data scaled to that range); None leaves them free.
    """
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(output_dim, "output_dim")
    return _mlp(latent_dim, "z", hidden, activation, output_dim, output_activation, "output", name)


def mlp_discriminator(input_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "leaky_relu",
                      spectral_norm: bool = False, name: str = "discriminator") -> keras.Model:
    """Build an MLP discriminator ``x -> logit`` for vectors of size ``input_dim`` (``spectral_norm``: every
    layer spectrally normalised, Miyato et al. 2018)."""
    return _mlp(input_dim, "x", hidden, activation, 1, None, "logit", name, spectral_norm)
