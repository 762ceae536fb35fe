"""pix2pix's U-Net generator (Isola et al. 2017) and the normalisation choices the translation nets share.

The encoder halves the resolution ``depth`` times with 4x4 stride-2 convolutions (LeakyReLU 0.2); the decoder
doubles it back with 4x4 stride-2 transposed convolutions (ReLU), each concatenated with the encoder map of the
same resolution, so fine detail of the input reaches the output without squeezing through the bottleneck
(translation keeps the input's layout; only its appearance changes). Dropout on the first decoder blocks is the
generator's only noise source: pix2pix found that a latent z fed in beside the image is simply ignored.

The net is fully convolutional: it translates images of any height and width that are multiples of
``2 ** depth`` (:func:`unet_multiple`; 256 for the paper's depth 8 at 256x256), and exports to ONNX with dynamic
height and width (transposed convolutions, no bilinear resizing). A :class:`ganapps.layers.SizeMultiple` layer
after the input refuses other sizes with a ``ValueError`` and tells :func:`size_multiple` the multiple.
"""

from __future__ import annotations

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import InstanceNormalization, SizeMultiple

NORMS = ("batch", "instance", None)


def _check_norm(norm) -> str | None:
    if norm not in NORMS:
        raise _checks.fail("norm", "'batch', 'instance' or None", repr(norm))
    return norm


def _normalization(norm: str | None, name: str) -> layers.Layer | None:
    """A fresh normalisation layer of kind ``norm`` (None: none)."""
    if norm == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if norm == "instance":
        return InstanceNormalization(name=name)
    return None


def normalize(x, norm: str | None, name: str):
    """``x`` through a new normalisation layer of kind ``norm`` ("batch", "instance" or None: unchanged)."""
    layer = _normalization(norm, name)
    return x if layer is None else layer(x)


def init() -> keras.initializers.Initializer:
    """pix2pix's and CycleGAN's weight initialisation, N(0, 0.02); a new (unseeded) one per layer, since one
    unseeded initializer called twice gives the same weights twice."""
    return keras.initializers.RandomNormal(stddev=0.02)


def _all_layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def unet_multiple(depth: int) -> int:
    """The number that a U-Net of ``depth`` levels needs its input's height and width to be multiples of."""
    return 2 ** _checks.positive_int(depth, "depth")


def size_multiple(model: keras.Model) -> int:
    """The number that ``model``'s input height and width must be multiples of.

    Read from the model's :class:`ganapps.layers.SizeMultiple` layer (the U-Net and ResNet builders add one);
    for other models, the product of the strides of its strided convolutions and poolings, which is exact for
    a chain of downsamplings such as SRResNet (1) or an encoder, and an upper bound for branched nets.
    """
    if not isinstance(model, keras.Model):
        raise _checks.fail("model", "a keras.Model", type(model).__name__)
    multiples = [layer.multiple for layer in _all_layers(model) if isinstance(layer, SizeMultiple)]
    if multiples:
        return max(multiples)
    product = 1
    for layer in _all_layers(model):
        if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D)) \
                and not isinstance(layer, layers.Conv2DTranspose):
            strides = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides,) * 2
            product *= max(int(s) for s in strides)
    return product


def _check_rate(dropout) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise _checks.fail("dropout", "a rate in [0, 1)", repr(dropout))
    return float(dropout)


def unet_generator(in_channels: int = 3, out_channels: int = 3, filters: int = 64, depth: int = 8,
                   max_filters: int = 512, dropout: float = 0.5, dropout_blocks: int = 3,
                   norm: str | None = "batch", name: str = "unet") -> keras.Model:
    """Build pix2pix's U-Net generator from ``in_channels`` images to ``out_channels`` images in [-1, 1].

    Args:
        in_channels: channels of the input images.
        out_channels: channels of the output images.
        filters: filters of the first encoder level; each deeper level doubles them, up to ``max_filters``.
        depth: encoder levels, each halving the resolution (8 in pix2pix for 256x256, down to a 1x1
            bottleneck); input height and width must be multiples of ``2 ** depth``.
        max_filters: cap on the filters of any level.
        dropout: dropout rate of the first ``dropout_blocks`` decoder blocks (0: no dropout, a deterministic
            generator).
        dropout_blocks: how many decoder blocks, counted from the bottleneck, have dropout; a shallow net has
            only ``depth - 1`` decoder blocks before its output layer, and all of them get dropout when that
            is fewer.
        norm: "batch" (pix2pix), "instance" or None. The first encoder level has none (as in the paper), nor has
            the bottleneck, whose map is 1x1 at the native size, where a per-sample normalisation would zero it.
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from ``(batch, None, None, in_channels)`` to
        ``(batch, None, None, out_channels)`` of the same height and width, tanh, float32 under any policy.
    """
    in_channels = _checks.positive_int(in_channels, "in_channels")
    out_channels = _checks.positive_int(out_channels, "out_channels")
    filters = _checks.positive_int(filters, "filters")
    depth = _checks.positive_int(depth, "depth")
    max_filters = _checks.positive_int(max_filters, "max_filters")
    dropout = _check_rate(dropout)
    dropout_blocks = _checks.non_negative_int(dropout_blocks, "dropout_blocks")
    norm = _check_norm(norm)

    inputs = keras.Input((None, None, in_channels), name="image")
    x = SizeMultiple(unet_multiple(depth), name="size_check")(inputs)
    widths = [min(max_filters, filters * 2 ** i) for i in range(depth)]
    skips = []
    for i, width in enumerate(widths):
        level_norm = norm if 0 < i < depth - 1 else None
        x = layers.Conv2D(width, 4, strides=2, padding="same", use_bias=level_norm is None,
                          kernel_initializer=init(), name=f"down{i}_conv")(x)
        x = normalize(x, level_norm, f"down{i}_norm")
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        skips.append(x)
    for j, i in enumerate(range(depth - 2, -1, -1)):
        x = layers.Conv2DTranspose(widths[i], 4, strides=2, padding="same", use_bias=norm is None,
                                   kernel_initializer=init(), name=f"up{j}_conv")(x)
        x = normalize(x, norm, f"up{j}_norm")
        if j < dropout_blocks and dropout > 0:
            x = layers.Dropout(dropout, name=f"up{j}_dropout")(x)
        x = layers.ReLU(name=f"up{j}_relu")(x)
        x = layers.Concatenate(name=f"up{j}_skip")([x, skips[i]])
    outputs = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", activation="tanh",
                                     kernel_initializer=init(), dtype="float32", name="to_image")(x)
    return keras.Model(inputs, outputs, name=name)

