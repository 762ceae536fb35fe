"""Multi-layer perceptrons for vector (tabular) data and toy games."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks


def mlp_generator(latent_dim: int, output_dim: int, hidden: Sequence[int] = (128, 128),
                  activation: str = "relu", output_activation: str | None = None,
                  name: str = "generator") -> keras.Model:
    """Build an MLP generator ``z -> x`` with ``x`` of size ``output_dim``.

    ``output_activation="tanh"`` bounds outputs to [-1, 1] (data scaled to that range); None leaves them free.
    """
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(output_dim, "output_dim")
    hidden = _checks.units(hidden, "hidden")
    z = keras.Input((latent_dim,), name="z")
    x = z
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    x = layers.Dense(output_dim, activation=output_activation, name="output", dtype="float32")(x)
    return keras.Model(z, x, name=name)


def mlp_discriminator(input_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "leaky_relu",
                      name: str = "discriminator") -> keras.Model:
    """Build an MLP discriminator ``x -> logit`` for vectors of size ``input_dim``."""
    _checks.positive_int(input_dim, "input_dim")
    hidden = _checks.units(hidden, "hidden")
    x_in = keras.Input((input_dim,), name="x")
    x = x_in
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    logits = layers.Dense(1, name="logit", dtype="float32")(x)
    return keras.Model(x_in, logits, name=name)
