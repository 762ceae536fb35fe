"""DCGAN networks (Radford et al. 2016) for any power-of-two image size and channel count.

The generator projects z to a 4x4 (or 4k x 4) feature map and doubles the resolution with strided transposed
convolutions (batch norm + ReLU) up to the image size, ending in a tanh convolution so outputs lie in [-1, 1].
The discriminator mirrors it with strided convolutions and LeakyReLU(0.2) and returns one logit per image;
it can be spectrally normalised and given a minibatch standard deviation channel (:mod:`ganapps.layers`).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import MinibatchStdDev, SNConv2D, SNDense


def _levels(h: int, w: int) -> int:
    return int(math.log2(min(h, w))) - 2


def _norm(kind: str | None, argument: str):
    if kind is None:
        return None
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9)
    if kind == "layer":
        return layers.LayerNormalization()
    raise ValueError(f"{argument}: expected None, 'batch' or 'layer'; got {kind!r}")


def dcgan_generator(latent_dim: int, image_shape: tuple[int, int, int], width: int = 64,
                    max_width: int = 512, norm: str | None = "batch", name: str = "generator") -> keras.Model:
    """Build a DCGAN generator mapping ``z`` of size ``latent_dim`` to images of ``image_shape`` in [-1, 1].

    Args:
        latent_dim: size of the latent vector.
        image_shape: (H, W, C); H and W powers of two, at least 4.
        width: filters of the last (full-resolution) block; each lower resolution doubles it.
        max_width: cap on the number of filters.
        norm: "batch" (DCGAN), "layer" or None.
    """
    _checks.positive_int(latent_dim, "latent_dim")
    z = keras.Input((latent_dim,), name="z")
    return keras.Model(z, upsampling_body(z, image_shape, width, max_width, norm), name=name)


def upsampling_body(x, image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                    norm: str | None = "batch"):
    """The DCGAN generator after its input: project the vector ``x`` to a 4x4 (or 4k x 4) map, double it up to
    ``image_shape`` with strided transposed convolutions, end in tanh. Conditional generators share it."""
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _checks.positive_int(max_width, "max_width")
    _norm(norm, "norm")
    levels = _levels(h, w)
    filters = [min(max_width, width * 2 ** (levels - i)) for i in range(levels + 1)]
    x = layers.Dense((h >> levels) * (w >> levels) * filters[0], use_bias=norm is None)(x)
    x = layers.Reshape((h >> levels, w >> levels, filters[0]))(x)
    x = _block(x, norm)
    for f in filters[1:]:
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=norm is None)(x)
        x = _block(x, norm)
    # float32 output layers keep images and logits float32 under a mixed-precision policy.
    return layers.Conv2D(c, 3, padding="same", activation="tanh", name="to_image", dtype="float32")(x)


def _block(x, norm):
    n = _norm(norm, "norm")
    if n is not None:
        x = n(x)
    return layers.ReLU()(x)


def dcgan_discriminator(image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                        norm: str | None = None, dropout: float = 0.0, spectral_norm: bool = False,
                        minibatch_std: bool = False, name: str = "discriminator") -> keras.Model:
    """Build a DCGAN discriminator returning one logit per image (no sigmoid: losses take logits).

    Args:
        image_shape: (H, W, C); H and W powers of two, at least 4.
        width: filters of the first block; each halving of the resolution doubles it.
        norm: None (default; safe with gradient penalties), "batch" (DCGAN) or "layer".
        dropout: dropout rate after each block.
        spectral_norm: spectrally normalise every convolution and the logit layer (Miyato et al. 2018), which
            bounds each layer's Lipschitz constant by 1 and steadies training without a gradient penalty.
        minibatch_std: append a minibatch standard deviation channel (Karras et al. 2018, groups of 4) to the
            last feature map, so the discriminator can see a collapsed, low-variety batch.
    """
    images, features = downsampling_trunk(image_shape, width, max_width, norm, dropout, spectral_norm,
                                          minibatch_std)
    logits = (SNDense if spectral_norm else layers.Dense)(1, name="logit", dtype="float32")(features)
    return keras.Model(images, logits, name=name)


def downsampling_trunk(image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                       norm: str | None = None, dropout: float = 0.0, spectral_norm: bool = False,
                       minibatch_std: bool = False):
    """(images input, flat features): the DCGAN discriminator without its logit layer, so that conditional,
    ACGAN and InfoGAN discriminators put their own heads on the same trunk (with the same options)."""
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _checks.positive_int(max_width, "max_width")
    _norm(norm, "norm")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise _checks.fail("dropout", "a rate in [0, 1)", repr(dropout))
    for argument, value in (("spectral_norm", spectral_norm), ("minibatch_std", minibatch_std)):
        if not isinstance(value, bool):
            raise _checks.fail(argument, "True or False", repr(value))
    conv = SNConv2D if spectral_norm else layers.Conv2D
    images = keras.Input((h, w, c), name="images")
    x = images
    levels = _levels(h, w)
    for i in range(max(1, levels)):
        x = conv(min(max_width, width * 2 ** i), 4, strides=2 if levels else 1, padding="same")(x)
        n = _norm(norm, "norm") if i > 0 else None
        if n is not None:
            x = n(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    return images, layers.Flatten()(x)
