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

This module also holds what every image-to-image net shares: the normalisation choices, the weight
initialisation, and the size rule (:func:`size_multiple`, :func:`min_size`, and :func:`pad_to_multiple`,
with which the translation games and runtimes bring images of any size to one the net accepts).
"""

from __future__ import annotations

import math
import weakref

import keras
import numpy as np
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


def _all_layers(model: keras.Model) -> list:
    """Every layer inside ``model``, nested models and their layers included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def unet_multiple(depth: int) -> int:
    """The number that a U-Net of ``depth`` levels needs its input's height and width to be multiples of."""
    return 2 ** _checks.positive_int(depth, "depth")


def size_multiple(model: keras.Model) -> int:
    """The number that ``model``'s input height and width must be multiples of.

    Read from the model's :class:`ganapps.layers.SizeMultiple` layers (the U-Net and ResNet builders add one):
    the least common multiple of those they hold, nested models' included. Otherwise, for a model built from
    layers (functional or ``Sequential``, nested ones too), the product of the strides of its strided
    convolutions and poolings, which is exact for a chain of downsamplings such as SRResNet (1), an encoder or a
    U-Net, and an upper bound for nets that branch into separately downsampled paths. A model whose strides
    cannot be read that way (a subclassed model with its own ``call``, a ``Lambda`` layer, nested ones too) is
    measured instead, once (the result is cached), with eager forward passes of zeros: the smallest power of two
    ``m`` (up to 1024) such that ``m x m`` and ``m x 2m`` images come back at their own size, then halved while
    ``3m/2 x 3m/2`` images do too; the halving finds the true multiple of a net that needs room at its bottleneck
    (reflection padding refuses 1-pixel maps: with two stride-2 convolutions such a net fails at 4 x 4, yet its
    multiple is 4, as 12 x 12 shows). A layer that resizes inside its own ``call`` is invisible to the stride
    count: give such a net a ``SizeMultiple`` layer.
    """
    return _size_rule(model)[0]


def min_size(model: keras.Model) -> int:
    """The smallest height and width ``model`` accepts, a multiple of :func:`size_multiple`.

    The largest ``minimum`` of its :class:`ganapps.layers.SizeMultiple` layers (the ResNet generator declares 8:
    its residual blocks reflect-pad quarter-resolution maps, which needs two pixels), rounded up to the multiple;
    for a measured model, the smallest power of two the measurement saw it accept; otherwise the multiple itself.
    The translation games record it in their export metadata as ``"min_size"``, where runtimes read it.
    """
    return _size_rule(model)[1]


def pad_to_multiple(images: np.ndarray, multiple: int, minimum: int = 1) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Pad a batch of NHWC images by reflection, centred, to the next height and width that are multiples of
    ``multiple`` and at least ``minimum``; with the (rows, columns) window where the originals lie, to crop a
    translation of the padded batch back to the input's size.

    Mirrored borders look like the image, so a translation net treats them as more of the scene, whereas zero
    padding would show it a dark frame (and bleed into the crop through its receptive field).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise _checks.fail("images", "a batch of shape (batch, height, width, channels)", f"shape {images.shape}")
    multiple = _checks.positive_int(multiple, "multiple")
    floor = _round_up(_checks.positive_int(minimum, "minimum"), multiple)
    sizes = images.shape[1:3]
    pads = [max(_round_up(size, multiple), floor) - size for size in sizes]
    before = [pad // 2 for pad in pads]
    padded = np.pad(images, [(0, 0)] + [(lo, pad - lo) for lo, pad in zip(before, pads)] + [(0, 0)], mode="reflect")
    return padded, (slice(before[0], before[0] + sizes[0]), slice(before[1], before[1] + sizes[1]))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


_MAX_MEASURED = 1024  # the largest size multiple measured: a U-Net of depth 10
_STRIDED = (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.DepthwiseConv2D, layers.SeparableConv2D,
            layers.MaxPooling2D, layers.AveragePooling2D)
_measured: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (multiple, minimum)


def _size_rule(model: keras.Model) -> tuple[int, int]:
    """(size multiple, size minimum) of ``model``: see :func:`size_multiple` and :func:`min_size`."""
    if not isinstance(model, keras.Model):
        raise _checks.fail("model", "a keras.Model", type(model).__name__)
    nested = _all_layers(model)
    declared = [layer for layer in nested if isinstance(layer, SizeMultiple)]
    if declared:
        multiple = math.lcm(*(layer.multiple for layer in declared))
        return multiple, _round_up(max(layer.minimum for layer in declared), multiple)
    if _layers_readable(model, nested):
        multiple = 1
        for layer in nested:
            if isinstance(layer, _STRIDED):  # transposed convolutions are no subclasses: they upsample
                strides = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides,)
                multiple *= max(int(s) for s in strides)
        return multiple, multiple
    if model not in _measured:
        _measured[model] = _measure(model)
    return _measured[model]


def _layers_readable(model: keras.Model, nested: list) -> bool:
    """Whether ``model`` computes only through the layers it lists: a functional or Sequential model, nested
    models likewise, no ``Lambda`` layers."""
    graphs = (keras.Function, keras.Sequential)
    return all(isinstance(net, graphs) for net in [model] + [la for la in nested if isinstance(la, keras.Model)]) \
        and not any(isinstance(layer, layers.Lambda) for layer in nested)


def _keeps_size(model: keras.Model, channels: int, h: int, w: int) -> bool:
    """Whether ``model`` maps an ``h x w`` image to one of the same size (False if it refuses the size)."""
    try:
        out = model(np.zeros((1, h, w, channels), np.float32), training=False)
    except Exception:  # noqa: BLE001  (a net refuses a size with whatever error its layers raise)
        return False
    return tuple(out.shape[1:3]) == (h, w)


def _measure(model: keras.Model) -> tuple[int, int]:
    """(multiple, minimum) measured with forward passes, as :func:`size_multiple` describes."""
    channels = int(model.input_shape[-1])
    minimum = 1
    while not (_keeps_size(model, channels, minimum, minimum) and _keeps_size(model, channels, minimum, 2 * minimum)):
        minimum *= 2
        if minimum > _MAX_MEASURED:
            raise _checks.fail("model", "a fully convolutional image-to-image network that keeps the size of "
                               f"images whose height and width are a power of two up to {_MAX_MEASURED}",
                               "a network that changes or refuses every such size")
    multiple = minimum
    while multiple > 1 and _keeps_size(model, channels, 3 * multiple // 2, 3 * multiple // 2):
        multiple //= 2
    return multiple, minimum


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

