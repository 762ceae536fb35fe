"""PatchGAN discriminators (Isola et al. 2017): a map of logits, each judging one patch of the image.

An image-level discriminator lets the generator's L1 (or cycle) loss handle the low frequencies and judges
only local texture and sharpness, which a patch-sized window is enough for; it has far fewer parameters than
a whole-image discriminator and runs on images of any size. Each logit of the output map sees a
``receptive_field`` x ``receptive_field`` window of the input: ``n_layers`` 4x4 stride-2 convolutions, then a
4x4 stride-1 convolution and the 4x4 logit convolution give 16, 34, 70 (the paper's default), 142 and 286 for
``n_layers`` 1 to 5; ``receptive_field=1`` is the PixelGAN of 1x1 convolutions, which judges colours alone.
Convolutions pad "same", so an H x W input gives an (H / 2**n_layers) x (W / 2**n_layers) map of logits
(rounded up); the losses average over it.
"""

from __future__ import annotations

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import SNConv2D
from ganapps.nets.unet import _check_norm, init, normalize

MAX_LAYERS = 5


def patchgan_receptive_field(n_layers: int) -> int:
    """The receptive field of a PatchGAN with ``n_layers`` stride-2 layers: 16, 34, 70, 142, 286 for 1 to 5.

    Going back from one logit, each 4x4 convolution of stride s widens a window of r pixels to
    ``(r - 1) * s + 4``: the two stride-1 convolutions make 1 -> 4 -> 7, each stride-2 one r -> 2r + 2.
    """
    n_layers = _checks.non_negative_int(n_layers, "n_layers")
    field = 1
    for stride in [1, 1] + [2] * n_layers:
        field = (field - 1) * stride + 4
    return field


RECEPTIVE_FIELDS = {1: None, **{patchgan_receptive_field(n): n for n in range(1, MAX_LAYERS + 1)}}


def patchgan_discriminator(channels: int = 6, filters: int = 64, receptive_field: int = 70,
                           norm: str | None = "batch", spectral_norm: bool = False,
                           name: str = "patchgan") -> keras.Model:
    """Build a PatchGAN discriminator returning a (batch, h, w, 1) map of logits (no sigmoid: losses take logits).

    Args:
        channels: input channels. For pix2pix, the conditioning image's plus the output image's (the pair is
            concatenated on the channel axis); for CycleGAN, the domain's channels.
        filters: filters of the first convolution; doubled by each further layer up to ``8 * filters``.
        receptive_field: the side of the patch each logit judges: one of 1, 16, 34, 70, 142, 286.
        norm: "batch" (pix2pix), "instance" (CycleGAN) or None; never on the first convolution.
        spectral_norm: spectrally normalise every convolution (:class:`ganapps.layers.SNConv2D`); ``norm``
            still applies, so pass ``norm=None`` for the usual spectrally normalised critic.
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from ``(batch, None, None, channels)`` to float32 logits of shape
        ``(batch, None, None, 1)``.
    """
    channels = _checks.positive_int(channels, "channels")
    filters = _checks.positive_int(filters, "filters")
    if isinstance(receptive_field, bool) or not isinstance(receptive_field, int) \
            or receptive_field not in RECEPTIVE_FIELDS:
        raise _checks.fail("receptive_field", f"one of {sorted(RECEPTIVE_FIELDS)}", repr(receptive_field))
    norm = _check_norm(norm)
    if not isinstance(spectral_norm, bool):
        raise _checks.fail("spectral_norm", "True or False", repr(spectral_norm))
    conv = SNConv2D if spectral_norm else layers.Conv2D
    n_layers = RECEPTIVE_FIELDS[receptive_field]

    inputs = keras.Input((None, None, channels), name="image")
    if n_layers is None:  # PixelGAN
        specs = [(filters, 1, 1), (filters * 2, 1, 1)]
        kernel = 1
    else:
        specs = [(filters * min(2 ** i, 8), 4, 2) for i in range(n_layers)]
        specs.append((filters * min(2 ** n_layers, 8), 4, 1))
        kernel = 4
    x = inputs
    for i, (width, size, stride) in enumerate(specs):
        layer_norm = norm if i > 0 else None
        x = conv(width, size, strides=stride, padding="same", use_bias=layer_norm is None,
                 kernel_initializer=init(), name=f"conv{i}")(x)
        x = normalize(x, layer_norm, f"norm{i}")
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    outputs = conv(1, kernel, padding="same", kernel_initializer=init(), dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
