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
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _norm(norm, "norm")
    levels = _levels(h, w)
    filters = [min(max_width, width * 2 ** (levels - i)) for i in range(levels + 1)]
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense((h >> levels) * (w >> levels) * filters[0], use_bias=norm is None)(z)
    x = layers.Reshape((h >> levels, w >> levels, filters[0]))(x)
    x = _block(x, norm)
    for f in filters[1:]:
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=norm is None)(x)
        x = _block(x, norm)
    # float32 output layers keep images and logits float32 under a mixed-precision policy.
    images = layers.Conv2D(c, 3, padding="same", activation="tanh", name="to_image", dtype="float32")(x)
    return keras.Model(z, images, name=name)


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
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _norm(norm, "norm")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a rate in [0, 1); got {dropout!r}")
    for argument, value in (("spectral_norm", spectral_norm), ("minibatch_std", minibatch_std)):
        if not isinstance(value, bool):
            raise _checks.fail(argument, "True or False", repr(value))
    conv = SNConv2D if spectral_norm else layers.Conv2D
    dense = SNDense if spectral_norm else layers.Dense
    images = keras.Input((h, w, c), name="images")
    x = images
    for i in range(max(1, _levels(h, w))):
        x = conv(min(max_width, width * 2 ** i), 4, strides=2 if _levels(h, w) else 1, padding="same")(x)
        n = _norm(norm, "norm") if i > 0 else None
        if n is not None:
            x = n(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    x = layers.Flatten()(x)
    logits = dense(1, name="logit", dtype="float32")(x)
    return keras.Model(images, logits, name=name)
