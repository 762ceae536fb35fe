"""Progressively grown networks (Karras et al. 2018, "Progressive Growing of GANs").

Both networks hold every resolution block from the start and run only those of their current ``stage``
(0 = the base resolution, 4x4 for square images; each stage doubles it). While a new block fades in, its
output is blended with the previous resolution's path as ``(1 - alpha) * old + alpha * new`` by a
:class:`FadeIn` layer whose ``alpha`` is a non-trainable weight, so a schedule can move alpha every batch
without retracing; changing ``stage`` changes the graph, so a train function must be rebuilt (the
:class:`~ganapps.games.progressive.ProgressiveGAN` game does that).

The interface does not change with the stage: the generator always returns full-resolution images (the
current stage's image upsampled by nearest neighbour) and the discriminator always takes full-resolution
images and average-pools them to its current resolution. The base :class:`~ganapps.games.gan.GAN` game, its
data pipeline and the exporter work unchanged, and real images are seen at the current resolution (the
average pool of a nearest-upsampled image is the low-resolution image). During a fade-in the real images
must fade too, or the discriminator could tell the generator's half-blended images from sharp real ones:
:meth:`ProgressiveDiscriminator.blend_real` blends them between the two resolutions with the same alpha.

Both are subclassed models; :meth:`ProgressiveGenerator.functional` gives a functional ``keras.Model`` that
shares the trained layers, which is what sampling and export use.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
from keras import layers, ops

from ganapps import _checks

_SLOPE = 0.2  # LeakyReLU slope of the paper


@keras.saving.register_keras_serializable(package="ganapps")
class FadeIn(layers.Layer):
    """``(1 - alpha) * old + alpha * new`` for inputs ``[old, new]``.

    ``alpha`` is a non-trainable scalar weight (initially 1): assigning it changes the blend of an
    already-traced function, and it is saved with the model's weights.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.alpha = self.add_weight(shape=(), initializer="ones", trainable=False, name="alpha")
        self.built = True

    def call(self, inputs: Any) -> Any:
        old, new = inputs
        alpha = ops.cast(self.alpha, old.dtype)
        return (1.0 - alpha) * old + alpha * new

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def upsample(x: Any, factor: int) -> Any:
    """Nearest-neighbour upsampling by an integer ``factor`` (each pixel becomes a factor x factor block)."""
    if factor == 1:
        return x
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = ops.tile(x[:, :, None, :, None, :], (1, 1, factor, 1, factor, 1))
    return ops.reshape(x, (-1, h * factor, w * factor, c))


def downsample(x: Any, factor: int) -> Any:
    """Average pooling over non-overlapping ``factor`` x ``factor`` blocks (the inverse of :func:`upsample`)."""
    if factor == 1:
        return x
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = ops.reshape(x, (-1, h // factor, factor, w // factor, factor, c))
    return ops.mean(x, axis=(2, 4))


def _pixel_norm(x):
    """Each pixel's feature vector scaled to unit mean square (the paper's generator normalisation)."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-8)


class _ViewCache:
    """Functional views by (stage, blend). A plain object, not a dict: Keras's attribute tracking and its
    saving walk look inside dicts, and must not take the views' layers for more of the model's own."""

    def __init__(self):
        self.models: dict = {}


class _Progressive(keras.Model):
    """What both networks share: the image geometry, the stage and the fade-in weight."""

    def _setup(self, image_shape, width, max_width, stage) -> None:
        h, w, c = _checks.image_shape(image_shape)
        self.image_shape = (h, w, c)
        self.width = _checks.positive_int(width, "width")
        self.max_width = _checks.positive_int(max_width, "max_width")
        self.levels = int(math.log2(min(h, w))) - 2
        # filters per stage: `width` at full resolution, doubling towards the base, capped at max_width
        self.filters = [min(self.max_width, self.width * 2 ** (self.levels - i)) for i in range(self.levels + 1)]
        self.stage = stage

    @property
    def num_stages(self) -> int:
        """Number of resolutions, base to full."""
        return self.levels + 1

    @property
    def stage(self) -> int:
        """The current resolution index: 0 is the base (4x4 for square images), ``num_stages - 1`` full."""
        return self._stage

    @stage.setter
    def stage(self, value: int) -> None:
        self._stage = check_stage(value, self.num_stages)

    @property
    def alpha(self) -> keras.Variable:
        """The fade-in weight of the newest block (a non-trainable variable; 1 once faded in)."""
        return self.fade.alpha

    def resolution(self, stage: int | None = None) -> tuple[int, int]:
        """(height, width) of the images at ``stage`` (the current one when None)."""
        stage = self.stage if stage is None else check_stage(stage, self.num_stages)
        shift = self.levels - stage
        return self.image_shape[0] >> shift, self.image_shape[1] >> shift

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
                "image_shape": self.image_shape, "width": self.width, "max_width": self.max_width,
                "stage": self.stage}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)


def check_stage(value, num_stages: int) -> int:
    """A stage index in [0, num_stages - 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < num_stages:
        raise _checks.fail("stage", f"an int in [0, {num_stages - 1}]", repr(value))
    return int(value)


@keras.saving.register_keras_serializable(package="ganapps")
class ProgressiveGenerator(_Progressive):
    """A generator of Karras et al.: z -> 4x4 base -> (nearest upsample, two 3x3 convs) per stage.

    Each stage has its own 1x1 ``to_rgb`` convolution (tanh, so a blend of two stays in [-1, 1]). Features are
    LeakyReLU(0.2) activations, pixel-normalised when ``pixel_norm``. See :func:`progressive_generator`.
    """

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                 pixel_norm: bool = True, stage: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = _checks.positive_int(latent_dim, "latent_dim")
        if not isinstance(pixel_norm, bool):
            raise _checks.fail("pixel_norm", "True or False", repr(pixel_norm))
        self.pixel_norm = pixel_norm
        self._setup(image_shape, width, max_width, stage)
        f, c = self.filters, self.image_shape[2]
        h0, w0 = self.resolution(0)
        self.project = layers.Dense(h0 * w0 * f[0], name="project")
        self.base_conv = layers.Conv2D(f[0], 3, padding="same", name="conv_0")
        self.convs_a = [layers.Conv2D(f[i], 3, padding="same", name=f"conv_{i}a") for i in range(1, self.num_stages)]
        self.convs_b = [layers.Conv2D(f[i], 3, padding="same", name=f"conv_{i}b") for i in range(1, self.num_stages)]
        # float32 output layers keep images float32 under a mixed-precision policy
        self.to_rgb = [layers.Conv2D(c, 1, activation="tanh", dtype="float32", name=f"to_rgb_{i}")
                       for i in range(self.num_stages)]
        self.fade = FadeIn(dtype="float32", name="fade_in")
        self._views = _ViewCache()
        self.build((None, self.latent_dim))

    def build(self, input_shape=None) -> None:
        """Create every stage's weights now, so the weights (and an optimizer built on them) do not depend
        on the stage: saving, loading and resuming at any stage see the same variables."""
        f = self.filters
        h0, w0 = self.resolution(0)
        self.project.build((None, self.latent_dim))
        self.base_conv.build((None, h0, w0, f[0]))
        for i in range(1, self.num_stages):
            h, w = self.resolution(i)
            self.convs_a[i - 1].build((None, h, w, f[i - 1]))
            self.convs_b[i - 1].build((None, h, w, f[i]))
        for i, rgb in enumerate(self.to_rgb):
            rgb.build((None, *self.resolution(i), f[i]))
        self.built = True

    @property
    def input_shape(self) -> tuple:
        """(None, latent_dim): subclassed models lack it, and the GAN game checks its networks with it."""
        return (None, self.latent_dim)

    @property
    def output_shape(self) -> tuple:
        """(None, H, W, C) at every stage: the images are always full resolution."""
        return (None, *self.image_shape)

    def _act(self, x):
        x = ops.leaky_relu(x, _SLOPE)
        return _pixel_norm(x) if self.pixel_norm else x

    def _forward(self, z, stage: int, blend: bool):
        """Full-resolution images from ``z`` at ``stage``; with ``blend``, the newest block fades in."""
        h0, w0 = self.resolution(0)
        x = _pixel_norm(z) if self.pixel_norm else z
        x = ops.reshape(self.project(x), (-1, h0, w0, self.filters[0]))
        x = self._act(self.base_conv(self._act(x)))
        previous = x
        for i in range(1, stage + 1):
            previous = x
            x = upsample(x, 2)
            x = self._act(self.convs_a[i - 1](x))
            x = self._act(self.convs_b[i - 1](x))
        image = self.to_rgb[stage](x)
        if blend and stage > 0:
            image = self.fade([upsample(self.to_rgb[stage - 1](previous), 2), image])
        return upsample(image, 2 ** (self.levels - stage))

    def call(self, z: Any, training: bool | None = None) -> Any:
        return self._forward(z, self.stage, blend=self.stage > 0)

    def functional(self, blend: bool | None = None) -> keras.Model:
        """A functional ``keras.Model`` z -> images at the current stage, sharing this generator's layers.

        ``blend=None`` keeps the fade-in only while it is unfinished (alpha < 1, read now, so call this
        eagerly), so at alpha = 1 the model is an ordinary fixed-size generator: what exports should get.
        The model tracks later weight and alpha updates; a stage change needs a new call.
        """
        if blend is None:
            blend = self.stage > 0 and float(ops.convert_to_numpy(self.alpha)) != 1.0
        key = (self.stage, bool(blend))
        if key not in self._views.models:
            z = keras.Input((self.latent_dim,), name="z")
            self._views.models[key] = keras.Model(z, self._forward(z, self.stage, bool(blend)),
                                                  name=f"{self.name}_stage{self.stage}")
        return self._views.models[key]

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim, "pixel_norm": self.pixel_norm}


@keras.saving.register_keras_serializable(package="ganapps")
class ProgressiveDiscriminator(_Progressive):
    """A discriminator of Karras et al.: per stage a 1x1 ``from_rgb``, then (two 3x3 convs, 2x average pool)
    per resolution down to the base, a 3x3 conv, a dense layer and one logit. See
    :func:`progressive_discriminator`.
    """

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512, stage: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self._setup(image_shape, width, max_width, stage)
        f = self.filters
        self.from_rgb = [layers.Conv2D(f[i], 1, name=f"from_rgb_{i}") for i in range(self.num_stages)]
        self.convs_a = [layers.Conv2D(f[i], 3, padding="same", name=f"conv_{i}a") for i in range(1, self.num_stages)]
        self.convs_b = [layers.Conv2D(f[i - 1], 3, padding="same", name=f"conv_{i}b")
                        for i in range(1, self.num_stages)]
        self.base_conv = layers.Conv2D(f[0], 3, padding="same", name="conv_0")
        self.dense = layers.Dense(f[0], name="dense")
        self.logit = layers.Dense(1, dtype="float32", name="logit")
        self.fade = FadeIn(name="fade_in")
        self.build((None, *self.image_shape))

    def build(self, input_shape=None) -> None:
        """Create every stage's weights now (see :meth:`ProgressiveGenerator.build`)."""
        f, c = self.filters, self.image_shape[2]
        for i in range(self.num_stages):
            self.from_rgb[i].build((None, *self.resolution(i), c))
        for i in range(1, self.num_stages):
            h, w = self.resolution(i)
            self.convs_a[i - 1].build((None, h, w, f[i]))
            self.convs_b[i - 1].build((None, h, w, f[i]))
        h0, w0 = self.resolution(0)
        self.base_conv.build((None, h0, w0, f[0]))
        self.dense.build((None, h0 * w0 * f[0]))
        self.logit.build((None, f[0]))
        self.built = True

    @property
    def input_shape(self) -> tuple:
        """(None, H, W, C) at every stage: the input is pooled to the stage's resolution inside."""
        return (None, *self.image_shape)

    @property
    def output_shape(self) -> tuple:
        """(None, 1): one logit per image."""
        return (None, 1)

    def _block(self, x, i: int):
        """Stage ``i``'s block: two convolutions, then halve the resolution."""
        x = ops.leaky_relu(self.convs_a[i - 1](x), _SLOPE)
        x = ops.leaky_relu(self.convs_b[i - 1](x), _SLOPE)
        return downsample(x, 2)

    def _forward(self, images, stage: int, blend: bool):
        x = downsample(images, 2 ** (self.levels - stage))
        h = ops.leaky_relu(self.from_rgb[stage](x), _SLOPE)
        if stage > 0:
            h = self._block(h, stage)
            if blend:
                old = ops.leaky_relu(self.from_rgb[stage - 1](downsample(x, 2)), _SLOPE)
                h = self.fade([old, h])
        for i in range(stage - 1, 0, -1):
            h = self._block(h, i)
        h = ops.leaky_relu(self.base_conv(h), _SLOPE)
        h0, w0 = self.resolution(0)
        h = ops.leaky_relu(self.dense(ops.reshape(h, (-1, h0 * w0 * self.filters[0]))), _SLOPE)
        return self.logit(h)

    def call(self, images: Any, training: bool | None = None) -> Any:
        return self._forward(images, self.stage, blend=self.stage > 0)

    def blend_real(self, images: Any) -> Any:
        """Real full-resolution images as they must look at the current stage and alpha.

        Karras et al. (2018, Fig. 2) interpolate the real images between the two resolutions of a fade-in, as
        the generator's output is: ``(1 - alpha) * previous + alpha * current``, where ``current`` is the
        stage's resolution and ``previous`` the one below, nearest-upsampled to it. The blend is returned at full
        resolution (nearest upsampling), so this network's own average pool gives it back. alpha is read
        in-graph from the fade-in variable (no retrace); at stage 0 the images pass through unchanged.
        """
        if self.stage == 0:
            return images
        factor = 2 ** (self.levels - self.stage)
        current = downsample(images, factor)
        previous = upsample(downsample(current, 2), 2)
        alpha = ops.cast(self.alpha, current.dtype)
        return upsample((1.0 - alpha) * previous + alpha * current, factor)



def progressive_generator(latent_dim: int, image_shape: tuple[int, int, int], width: int = 64,
                          max_width: int = 512, pixel_norm: bool = True, stage: int = 0,
                          name: str = "generator") -> ProgressiveGenerator:
    """Build a progressively grown generator z -> full-resolution images in [-1, 1].

    Args:
        latent_dim: size of the latent vector.
        image_shape: (H, W, C) of the full-resolution images; H and W powers of two, at least 4. The stages
            run from (H, W) / 2**k (4 on the shorter side) up to (H, W).
        width: filters at full resolution; each lower resolution doubles them.
        max_width: cap on the number of filters.
        pixel_norm: normalise each pixel's features (and z) to unit mean square, as in the paper.
        stage: the stage to start at (0 = the base resolution).
    """
    return ProgressiveGenerator(latent_dim, image_shape, width=width, max_width=max_width, pixel_norm=pixel_norm,
                                stage=stage, name=name)


def progressive_discriminator(image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                              stage: int = 0, name: str = "discriminator") -> ProgressiveDiscriminator:
    """Build a progressively grown discriminator: full-resolution images -> one logit each.

    Args:
        image_shape: (H, W, C) of the full-resolution images; H and W powers of two, at least 4.
        width: filters at full resolution; each lower resolution doubles them.
        max_width: cap on the number of filters.
        stage: the stage to start at (0 = the base resolution).
    """
    return ProgressiveDiscriminator(image_shape, width=width, max_width=max_width, stage=stage, name=name)
