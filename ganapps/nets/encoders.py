"""Encoders: networks from samples back to latents, x -> z.

f-AnoGAN (:class:`ganapps.games.fanogan.FAnoGAN`) trains one after the GAN so that a sample's reconstruction
G(E(x)), and with it an outlier score, takes one forward pass instead of an optimisation per query. The
encoders mirror the discriminators: :func:`mlp_encoder` for vectors and small images, :func:`dcgan_encoder`
the DCGAN discriminator's convolutional trunk. The latent layer is linear (latents are unbounded Gaussians) and
float32 even under a mixed-precision policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks
from ganapps.nets.dcgan import downsampling_trunk
from ganapps.nets.mlp import mlp_trunk

LATENT_LAYER = "latent"


def mlp_encoder(input_dim: int, latent_dim: int, hidden: Sequence[int] = (256, 256),
                activation: str = "leaky_relu", name: str = "encoder",
                sample_shape: Sequence[int] | None = None) -> keras.Model:
    """Build an MLP encoder ``x -> z`` for vectors of size ``input_dim`` (or samples of ``sample_shape``, whose
    values must number ``input_dim``, flattened first) to latents of size ``latent_dim``."""
    _checks.positive_int(latent_dim, "latent_dim")
    inputs, x = mlp_trunk(input_dim, "x", hidden, activation, sample_shape=sample_shape)
    z = layers.Dense(latent_dim, name=LATENT_LAYER, dtype="float32")(x)
    return keras.Model(inputs, z, name=name)


def dcgan_encoder(image_shape: tuple[int, int, int], latent_dim: int, width: int = 64, max_width: int = 512,
                  norm: str | None = None, dense: int = 256, name: str = "encoder") -> keras.Model:
    """Build a convolutional encoder ``images -> z``: the DCGAN discriminator's trunk (strided convolutions,
    LeakyReLU(0.2), see :func:`ganapps.nets.dcgan_discriminator`), a ``dense``-unit hidden layer, then a
    linear layer of ``latent_dim`` units.

    Args:
        image_shape: (H, W, C); H and W powers of two, at least 4.
        latent_dim: size of the latent vector (the generator's input).
        width: filters of the first block; each halving of the resolution doubles it.
        max_width: cap on the number of filters.
        norm: None, "batch" or "layer" after each block but the first.
        dense: units of the hidden dense layer.
    """
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(dense, "dense")
    images, features = downsampling_trunk(image_shape, width, max_width, norm)
    x = layers.Dense(dense, activation="leaky_relu")(features)
    z = layers.Dense(latent_dim, name=LATENT_LAYER, dtype="float32")(x)
    return keras.Model(images, z, name=name)
