"""Differentiable augmentation for data-efficient GAN training (Zhao et al. 2020, "DiffAugment").

A discriminator trained on a small dataset memorises it; augmenting its inputs slows that down, but only if
the generator's samples are augmented the same way (else the augmentations leak into the generated images)
and the generator's gradient passes through the augmentation. :class:`DiffAugment` is such a layer: pass it
as ``GAN(..., augment=DiffAugment())`` and the game applies it to real and fake batches alike.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from ganapps import _checks
from ganapps._state import SavesSeedState, derive_seed

POLICIES = ("color", "translation", "cutout")
_DRAWS = {"color": 3, "translation": 2, "cutout": 2}  # uniform numbers per image


def _parse_policy(policy) -> tuple[str, ...]:
    if not isinstance(policy, str):
        raise _checks.fail("policy", f"a comma-separated string of {', '.join(map(repr, POLICIES))}", repr(policy))
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise _checks.fail("policy", f"a comma-separated string of {', '.join(map(repr, POLICIES))}",
                           f"{policy!r}, with unknown {', '.join(map(repr, unknown))}")
    return names


def _fraction(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise _checks.fail(argument, "a fraction of the image size in [0, 1]", repr(value))
    return float(value)


@keras.saving.register_keras_serializable(package="ganapps")
class DiffAugment(SavesSeedState, keras.layers.Layer):
    """Random colour, translation and cutout, differentiable with respect to the images, in training only.

    Each image of a batch gets its own draw. The operations follow Zhao et al. for images in [-1, 1]:

    - ``"color"``: brightness (add U(-0.5, 0.5)), saturation (scale the deviation from the pixel's channel mean
      by U(0, 2); RGB images only, skipped for other channel counts) and contrast (scale the deviation from
      the image mean by U(0.5, 1.5)).
    - ``"translation"``: shift by whole pixels, up to ``translation`` of the height/width each way, filling
      with zeros.
    - ``"cutout"``: zero one rectangle of ``cutout`` of the height by ``cutout`` of the width, placed wholly
      inside the image (Zhao et al. let it overhang the border; inside, each image loses the same area).

    At inference (``training`` false) the layer is the identity. Every op is a gather, a mask or arithmetic,
    so it compiles under XLA and the gradient reaches the input.

    Args:
        policy: comma-separated operations, applied in the given order.
        translation: largest shift as a fraction of the image size.
        cutout: side of the cut-out rectangle as a fraction of the image size.
        seed: seed of the layer's random stream: the same seed gives the same augmentations.
    """

    def __init__(self, policy: str = "color,translation,cutout", translation: float = 0.125,
                 cutout: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self._ops = _parse_policy(policy)
        self.policy = ",".join(self._ops)
        self.translation = _fraction(translation, "translation")
        self.cutout = _fraction(cutout, "cutout")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _checks.fail("seed", "None or an integer", repr(seed))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(derive_seed(seed, "diffaugment"), name="diffaugment_seed")
        # No weights to build; built from the start, because Keras's distributed fit traces a game through
        # its call() (with a data batch for latents) whenever one of its layers is still unbuilt.
        self.built = True

    def call(self, images, training=None):
        if len(images.shape) != 4:
            raise _checks.fail("images", "a batch of shape (batch, height, width, channels)",
                               f"shape {tuple(images.shape)}")
        if not training or not self._ops:
            return images
        # All the call's random numbers in one draw: each draw costs XLA compile time out of proportion.
        draws = keras.random.uniform((ops.shape(images)[0], sum(_DRAWS[op] for op in self._ops)),
                                     dtype="float32", seed=self.seed_generator)
        x, start = images, 0
        for op in self._ops:
            x = getattr(self, f"_{op}")(x, draws[:, start:start + _DRAWS[op]])
            start += _DRAWS[op]
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "policy": self.policy, "translation": self.translation,
                "cutout": self.cutout, "seed": self.seed}

    # -- operations: each takes the images and its columns of uniform [0, 1) draws, one row per image --------
    def _color(self, x, u):
        dtype = x.dtype
        brightness, saturation, contrast = (ops.cast(ops.reshape(u[:, i], (-1, 1, 1, 1)), dtype) for i in range(3))
        x = x + (brightness - 0.5)
        if x.shape[-1] == 3:
            mean = ops.mean(x, axis=-1, keepdims=True)
            x = (x - mean) * (2.0 * saturation) + mean
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) * (contrast + 0.5) + mean

    def _translation(self, x, u):
        for axis in (1, 2):
            size = ops.shape(x)[axis]
            most = ops.floor(ops.cast(size, "float32") * self.translation + 0.5)  # shifts in [-most, most]
            offsets = ops.cast(ops.floor(u[:, axis - 1:axis] * (2.0 * most + 1.0)) - most, "int32")
            x = self._shift(x, axis, offsets)
        return x

    @staticmethod
    def _shift(x, axis: int, offsets):
        """Move each image's content by ``offsets`` pixels along ``axis`` (1: down, 2: right), zero-filled."""
        size = ops.shape(x)[axis]
        source = ops.arange(size, dtype="int32")[None, :] - offsets  # (batch, size): where each pixel comes from
        inside = ops.logical_and(source >= 0, source < size)
        x = tf.gather(x, ops.clip(source, 0, size - 1), axis=axis, batch_dims=1)
        mask = ops.cast(inside, x.dtype)
        return x * (mask[:, :, None, None] if axis == 1 else mask[:, None, :, None])

    def _cutout(self, x, u):
        masks = []
        for axis in (1, 2):
            size = ops.cast(ops.shape(x)[axis], "float32")
            side = ops.floor(size * self.cutout + 0.5)
            start = ops.floor(u[:, axis - 1:axis] * (size - side + 1.0))
            position = ops.cast(ops.arange(ops.shape(x)[axis], dtype="int32"), "float32")[None, :]
            masks.append(ops.logical_and(position >= start, position < start + side))
        cut = ops.logical_and(masks[0][:, :, None], masks[1][:, None, :])
        return x * ops.cast(ops.logical_not(cut), x.dtype)[..., None]
