"""Super-resolution networks: the SRResNet generator (Ledig et al. 2017) with an RRDB option (Wang et al. 2018,
ESRGAN), and the VGG-style discriminator of SRGAN.

The generator is fully convolutional: it takes a low-resolution image of any height and width and returns one
``scale`` times larger. A shallow convolution extracts features; a trunk of residual blocks (``"residual"``:
conv-PReLU-conv with a skip, as in SRResNet without batch norm, which ESRGAN showed adds artefacts) or of
residual-in-residual dense blocks (``"rrdb"``) refines them, with a long skip around the trunk; sub-pixel
convolutions (:class:`ganapps.layers.PixelShuffle`) upsample by 2 per stage (x2, x4, x8) and a last convolution
maps to the image's channels, or (``upsampling="single"``, ESPCN's cheaper head) one convolution and one pixel
shuffle do it all. Outputs are linear (no tanh), the usual choice for PSNR-oriented training; clip them to
[-1, 1] for display. ``input_skip="bicubic"`` adds the bicubically upscaled input to the output, so the network
learns only the missing detail: a shortcut that makes short training runs converge much faster.

The discriminator is SRGAN's: eight 3x3 convolutions (64, 64, 128, 128, 256, 256, 512, 512 filters for
``width=64``, every second one strided) with LeakyReLU(0.2), then a dense layer and one logit. Its last conv
block is named ``"features"``, which is what :class:`ganapps.games.SRGAN` uses as the offline perceptual loss.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import PixelShuffle, ResizeBy, SNConv2D, SNDense

BLOCKS = ("residual", "rrdb")
SKIPS = (None, "bicubic", "bilinear", "nearest")
UPSAMPLINGS = ("stages", "single")


def _check_scale(scale) -> int:
    scale = _checks.positive_int(scale, "scale")
    if scale < 2 or scale & (scale - 1):
        raise _checks.fail("scale", "a power of two of at least 2 (2, 4 or 8)", repr(scale))
    return scale


def _conv(filters: int, kernel: int = 3, name: str | None = None, **kwargs) -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, padding="same", name=name, **kwargs)


def _residual_block(x, filters: int, index: int):
    skip = x
    x = _conv(filters, name=f"res{index}_conv1")(x)
    x = layers.PReLU(shared_axes=[1, 2], name=f"res{index}_prelu")(x)
    x = _conv(filters, name=f"res{index}_conv2")(x)
    return layers.Add(name=f"res{index}_add")([skip, x])


def _dense_block(x, filters: int, growth: int, residual_scale: float, prefix: str):
    features = [x]
    for i in range(4):
        inputs = features[0] if len(features) == 1 else layers.Concatenate(name=f"{prefix}_cat{i}")(features)
        y = _conv(growth, name=f"{prefix}_conv{i}")(inputs)
        features.append(layers.LeakyReLU(0.2, name=f"{prefix}_lrelu{i}")(y))
    y = _conv(filters, name=f"{prefix}_conv4")(layers.Concatenate(name=f"{prefix}_cat4")(features))
    y = layers.Rescaling(residual_scale, name=f"{prefix}_scale")(y)
    return layers.Add(name=f"{prefix}_add")([x, y])


def _rrdb(x, filters: int, growth: int, residual_scale: float, index: int):
    skip = x
    for j in range(3):
        x = _dense_block(x, filters, growth, residual_scale, f"rrdb{index}_dense{j}")
    x = layers.Rescaling(residual_scale, name=f"rrdb{index}_scale")(x)
    return layers.Add(name=f"rrdb{index}_add")([skip, x])


def srresnet_generator(scale: int = 4, channels: int = 3, filters: int = 64, blocks: int = 16,
                       block: str = "residual", growth: int = 32, residual_scale: float = 0.2,
                       input_skip: str | None = None, upsampling: str = "stages",
                       name: str = "generator") -> keras.Model:
    """Build an SRResNet (``block="residual"``) or ESRGAN RRDB-Net (``block="rrdb"``) generator.

    Args:
        scale: upscaling factor, a power of two (2, 4, 8).
        channels: image channels in and out (1 or 3).
        filters: feature channels of the trunk (64 in both papers).
        blocks: residual blocks (SRResNet: 16) or RRDBs (ESRGAN: 23).
        block: ``"residual"`` or ``"rrdb"``.
        growth: channels each dense-block convolution adds (RRDB only; 32 in ESRGAN).
        residual_scale: scaling of the residuals inside an RRDB (0.2 in ESRGAN).
        input_skip: ``None``, ``"bicubic"``, ``"bilinear"`` or ``"nearest"``: add the input upscaled this way
            to the output, whose last convolution then starts 10x smaller than usual (the network starts close
            to that interpolation and learns the residual detail; a zero start learns far slower, since no
            gradient reaches the trunk until the last layer has grown).
        upsampling: ``"stages"`` (SRResNet: a conv + x2 pixel shuffle per factor of 2, then a conv at full
            resolution) or ``"single"`` (ESPCN, Shi et al. 2016: one conv to ``channels * scale^2`` and one
            pixel shuffle by ``scale`` as the last layer; about 3x cheaper for a small trunk on a CPU).
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from ``(batch, None, None, channels)`` to
        ``(batch, None, None, channels)``, ``scale`` times larger.
    """
    scale = _check_scale(scale)
    channels = _checks.positive_int(channels, "channels")
    filters = _checks.positive_int(filters, "filters")
    blocks = _checks.positive_int(blocks, "blocks")
    growth = _checks.positive_int(growth, "growth")
    if block not in BLOCKS:
        raise _checks.fail("block", f"one of {BLOCKS}", repr(block))
    if upsampling not in UPSAMPLINGS:
        raise _checks.fail("upsampling", f"one of {UPSAMPLINGS}", repr(upsampling))
    if input_skip not in SKIPS:
        raise _checks.fail("input_skip", f"one of {SKIPS}", repr(input_skip))
    if not (isinstance(residual_scale, (int, float)) and residual_scale > 0):
        raise _checks.fail("residual_scale", "a positive number such as 0.2", repr(residual_scale))

    inputs = keras.Input((None, None, channels), name="low_resolution")
    head_kernel = 9 if block == "residual" else 3
    head = _conv(filters, head_kernel, name="head_conv")(inputs)
    if block == "residual":
        head = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(head)
    x = head
    for i in range(blocks):
        x = _residual_block(x, filters, i) if block == "residual" else _rrdb(x, filters, growth, residual_scale, i)
    x = _conv(filters, name="trunk_conv")(x)
    x = layers.Add(name="trunk_add")([head, x])
    tail_init = (keras.initializers.VarianceScaling(0.01, "fan_avg", "uniform") if input_skip is not None
                 else "glorot_uniform")
    if upsampling == "single":
        x = _conv(channels * scale * scale, name="tail_conv", kernel_initializer=tail_init)(x)
        outputs = PixelShuffle(scale, name="tail_shuffle")(x)
    else:
        for i in range(int(math.log2(scale))):
            x = _conv(filters * 4, name=f"up{i}_conv")(x)
            x = PixelShuffle(2, name=f"up{i}_shuffle")(x)
            if block == "residual":
                x = layers.PReLU(shared_axes=[1, 2], name=f"up{i}_prelu")(x)
            else:
                x = layers.LeakyReLU(0.2, name=f"up{i}_lrelu")(x)
        if block == "rrdb":
            x = layers.LeakyReLU(0.2, name="tail_lrelu")(_conv(filters, name="tail_conv0")(x))
        outputs = _conv(channels, head_kernel, name="tail_conv", kernel_initializer=tail_init)(x)
    if input_skip is not None:
        upscaled = ResizeBy(scale, interpolation=input_skip, name="input_skip")(inputs)
        outputs = layers.Add(name="output")([outputs, upscaled])
    return keras.Model(inputs, outputs, name=name)


def sr_discriminator(image_shape: tuple[int, int, int] = (96, 96, 3), width: int = 64, dense: int = 1024,
                     spectral_norm: bool = False, name: str = "discriminator") -> keras.Model:
    """Build SRGAN's VGG-style discriminator for high-resolution patches of ``image_shape``.

    Args:
        image_shape: (H, W, C) of the patches it judges; H and W divisible by 16.
        width: filters of the first convolution; doubled every two convolutions up to ``8 * width``.
        dense: units of the hidden dense layer (1024 in SRGAN).
        spectral_norm: spectrally normalise every convolution and dense layer (no batch norm then).
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from images to one logit per image. The output of its last
        convolution block is the layer named ``"features"``.
    """
    image_shape = _checks.image_shape(image_shape, "image_shape", power_of_two=False)
    width = _checks.positive_int(width, "width")
    dense = _checks.positive_int(dense, "dense")
    h, w, _ = image_shape
    if h % 16 or w % 16:
        raise _checks.fail("image_shape", "a height and width divisible by 16 (four stride-2 convolutions)",
                           repr(tuple(image_shape)))
    conv = SNConv2D if spectral_norm else layers.Conv2D
    inputs = keras.Input(image_shape, name="high_resolution")
    x = inputs
    for i in range(8):
        filters = width * 2 ** (i // 2)
        x = conv(filters, 3, strides=2 if i % 2 else 1, padding="same", name=f"conv{i}")(x)
        if i > 0 and not spectral_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.LeakyReLU(0.2, name="features" if i == 7 else f"lrelu{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = (SNDense if spectral_norm else layers.Dense)(dense, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    outputs = (SNDense if spectral_norm else layers.Dense)(1, name="logit")(x)
    return keras.Model(inputs, outputs, name=name)
