"""CycleGAN's ResNet generator (Zhu et al. 2017, after Johnson et al. 2016's style-transfer network).

A 7x7 convolution on the reflection-padded image, two stride-2 3x3 convolutions down to a quarter of the
resolution, ``blocks`` residual blocks there (9 for 256x256 images, 6 for 128x128 in the paper), two stride-2
transposed convolutions back up, and a 7x7 tanh convolution. The residual blocks let the net start close to an
identity of its features and change the image's appearance while keeping its layout, which is what translation
between domains needs; reflection padding keeps the borders free of the dark frame zero padding invites.

Fully convolutional: images of any height and width that are multiples of 4 and at least 8 (the residual
blocks reflect-pad their quarter-resolution maps by one pixel, which needs two), exported to ONNX with dynamic
height and width. A :class:`ganapps.layers.SizeMultiple` layer after the input refuses other sizes (and tells
:func:`ganapps.nets.size_multiple` and :func:`ganapps.nets.unet.min_size` the rule, to which the translation
games pad smaller images).
"""

from __future__ import annotations

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import ReflectionPadding2D, SizeMultiple
from ganapps.nets.unet import _check_norm, init, normalize

MULTIPLE = 4
MINIMUM = 8  # quarter-resolution maps of 2 x 2, the least that a 1-pixel reflection padding can mirror


def _conv_norm(x, filters: int, kernel: int, norm: str | None, name: str, strides: int = 1, relu: bool = True,
               reflect: bool = False):
    """[reflection pad] conv, norm, [ReLU]: the generator's unit; "same" zero padding unless ``reflect``."""
    if reflect:
        x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=strides, padding="valid" if reflect else "same",
                      use_bias=norm is None, kernel_initializer=init(), name=f"{name}_conv")(x)
    x = normalize(x, norm, f"{name}_norm")
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def resnet_generator(in_channels: int = 3, out_channels: int = 3, filters: int = 64, blocks: int = 9,
                     norm: str | None = "instance", name: str = "resnet_generator") -> keras.Model:
    """Build CycleGAN's ResNet generator from ``in_channels`` images to ``out_channels`` images in [-1, 1].

    Args:
        in_channels: channels of the input images.
        out_channels: channels of the output images.
        filters: filters at full resolution; the two downsampled levels have 2x and 4x as many.
        blocks: residual blocks at a quarter of the resolution (CycleGAN: 9 for 256x256, 6 for 128x128).
        norm: "instance" (CycleGAN), "batch" or None.
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from ``(batch, None, None, in_channels)`` to
        ``(batch, None, None, out_channels)`` of the same height and width (multiples of 4, at least 8), tanh,
        float32 under any policy.
    """
    in_channels = _checks.positive_int(in_channels, "in_channels")
    out_channels = _checks.positive_int(out_channels, "out_channels")
    filters = _checks.positive_int(filters, "filters")
    blocks = _checks.positive_int(blocks, "blocks")
    norm = _check_norm(norm)

    inputs = keras.Input((None, None, in_channels), name="image")
    x = SizeMultiple(MULTIPLE, minimum=MINIMUM, name="size_check")(inputs)
    x = _conv_norm(x, filters, 7, norm, "head", reflect=True)
    for i in range(2):
        x = _conv_norm(x, filters * 2 ** (i + 1), 3, norm, f"down{i}", strides=2)
    for i in range(blocks):
        skip = x
        x = _conv_norm(x, filters * 4, 3, norm, f"res{i}_a", reflect=True)
        x = _conv_norm(x, filters * 4, 3, norm, f"res{i}_b", relu=False, reflect=True)
        x = layers.Add(name=f"res{i}_add")([skip, x])
    for i in range(2):
        x = layers.Conv2DTranspose(filters * 2 ** (1 - i), 3, strides=2, padding="same", use_bias=norm is None,
                                   kernel_initializer=init(), name=f"up{i}_conv")(x)
        x = normalize(x, norm, f"up{i}_norm")
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = ReflectionPadding2D(3, name="tail_pad")(x)
    outputs = layers.Conv2D(out_channels, 7, activation="tanh", kernel_initializer=init(), dtype="float32",
                            name="to_image")(x)
    return keras.Model(inputs, outputs, name=name)
