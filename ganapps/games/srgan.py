"""Super-resolution as an adversarial game: SRGAN (Ledig et al. 2017) and ESRGAN (Wang et al. 2018).

The generator maps a low-resolution image to one ``scale`` times larger; the discriminator judges
high-resolution patches. Training goes in the two phases users know:

1. ``phase="psnr"``: the generator alone minimises the L1 pixel loss (PSNR-oriented pre-training; the
   discriminator is not touched). The result is the sharpest-in-PSNR, somewhat smooth model.
2. ``phase="adversarial"``: both players train. The generator's loss is
   ``pixel_weight * L1 + perceptual_weight * L_percep + adversarial_weight * L_adv`` (ESRGAN's weights by
   default: 1e-2, 1, 5e-3) with the relativistic average loss by default (ESRGAN) or any loss of
   :mod:`ganapps.losses` (``"non_saturating"`` is SRGAN's).

Switch phases by assigning ``game.phase``; the next ``fit`` retraces its step. :func:`interpolate_networks` blends
the PSNR and adversarial generators' weights (ESRGAN's network interpolation), trading PSNR for detail.

The perceptual loss is an L1 distance between features of the generated and real high-resolution images:
``perceptual="vgg19"`` uses VGG19's ``block5_conv4`` on ImageNet weights (Keras downloads them once; offline
they must already be in ``~/.keras/models``), ``"discriminator"`` (the offline default) uses the
discriminator's own last convolution block (the layer named ``"features"``, a feature-matching loss), a
``keras.Model`` uses its output, and ``None`` turns the term off.

``fit`` takes ``(low_resolution, high_resolution)`` pairs: a ``tf.data.Dataset`` of pairs (see
:func:`ganapps.data.sr_pairs`) or ``fit(x=low, y=high)`` arrays, both in [-1, 1].
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks, losses
from ganapps import data as gdata
from ganapps.games._phases import Phased
from ganapps.games.gan import GAN, _check_models, _first_pair, _fmt, _l1_and_psnr, _replica
from ganapps.nets.vgg import vgg19_features

PHASES = ("psnr", "adversarial")
PERCEPTUAL = (None, "discriminator", "vgg19")
FEATURE_LAYER = "features"
_GAN_ONLY = ("d_steps", "gradient_penalty", "augment", "label_smoothing")  # GAN arguments SRGAN does not take


class _Untracked:
    """Holds a model out of Keras's attribute tracking, so its weights are not saved with the game."""

    def __init__(self, value: Any):
        self.value = value


@keras.saving.register_keras_serializable(package="ganapps")
class SRGAN(Phased, GAN):
    """Single-image super-resolution with a content, perceptual and adversarial loss.

    Args:
        generator: a ``keras.Model`` from low-resolution images (batch, h, w, C) to (batch, h*s, w*s, C), e.g.
            :func:`ganapps.nets.srresnet_generator`.
        discriminator: a ``keras.Model`` from high-resolution patches to logits, e.g.
            :func:`ganapps.nets.sr_discriminator`.
        phase: ``"psnr"`` (pixel loss only, generator only) or ``"adversarial"``.
        loss: the adversarial loss pair's name (default ``"relativistic_average"``, as in ESRGAN).
        pixel_weight: weight of the L1 pixel loss in the adversarial phase (the psnr phase uses it alone).
        perceptual_weight: weight of the perceptual loss in the adversarial phase.
        adversarial_weight: weight of the generator's adversarial loss.
        perceptual: ``"discriminator"``, ``"vgg19"``, a ``keras.Model`` feature extractor, or ``None``.
        ema: decay of an exponential moving average of the generator's weights, or None.
        r1: gamma of an R1 penalty on the discriminator (0 disables it).
        seed: seed of the game's random stream.
    """

    PHASES = PHASES

    def __init__(self, generator: keras.Model, discriminator: keras.Model, phase: str = "psnr",
                 loss: Any = "relativistic_average", pixel_weight: float = 1e-2, perceptual_weight: float = 1.0,
                 adversarial_weight: float = 5e-3, perceptual: Any = "discriminator", ema: float | None = None,
                 r1: float = 0.0, seed: int | None = None, latent_dim: None = None, **kwargs):
        if latent_dim is not None:
            raise _checks.fail("latent_dim", "None (a super-resolution generator takes images, not latents)",
                               repr(latent_dim))
        for key in _GAN_ONLY:
            if key in kwargs:
                raise _checks.fail(key, f"no {key} argument (SRGAN keeps GAN's default; it takes r1 as its "
                                   "discriminator penalty)", f"{key}={kwargs[key]!r}")
        super().__init__(generator, discriminator, loss=loss, ema=ema, r1=r1, seed=seed, **kwargs)
        self.scale = _scale_of(generator)
        self._phase = self._check_phase(phase)
        self.pixel_weight = _checks.non_negative(pixel_weight, "pixel_weight")
        self.perceptual_weight = _checks.non_negative(perceptual_weight, "perceptual_weight")
        self.adversarial_weight = _checks.non_negative(adversarial_weight, "adversarial_weight")
        self.perceptual_model = None
        self._perceptual_name = None
        if isinstance(perceptual, keras.Model):
            self.perceptual_model = perceptual  # tracked: a user's extractor is saved with the game
        elif perceptual in PERCEPTUAL:
            self._perceptual_name = perceptual
        else:
            raise _checks.fail("perceptual", "'discriminator', 'vgg19', a keras.Model or None", repr(perceptual))
        self._features = _Untracked(None)
        self._radius = _Untracked(None)  # (generator, weights digest, receptive radius)
        self.pixel_tracker = keras.metrics.Mean(name="pixel")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.perceptual_tracker = keras.metrics.Mean(name="perceptual")
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial")

    # -- checks ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_networks(generator, discriminator) -> None:
        _check_models(generator, discriminator)
        g_in, g_out = generator.input_shape, generator.output_shape
        if isinstance(g_in, list) or len(g_in) != 4:
            raise _checks.fail("generator", "one image input of shape (batch, height, width, channels)",
                               f"input shape {g_in}")
        d_in = discriminator.input_shape
        if isinstance(d_in, list) or len(d_in) != 4:
            raise _checks.fail("discriminator", "one image input of shape (batch, height, width, channels)",
                               f"input shape {d_in}")
        if g_in[-1] != g_out[-1]:
            raise _checks.fail("generator", "an upscaler whose output has its input's channels",
                               f"{g_in[-1]} channels in and {g_out[-1]} out")
        if g_out[-1] != d_in[-1]:
            raise _checks.fail("discriminator", f"images with the generator's {g_in[-1]} channels",
                               f"a discriminator taking {_fmt(tuple(d_in[1:]))} and a generator making "
                               f"{_fmt(tuple(g_out[1:]))}")

    @staticmethod
    def _check_latent_dim(latent_dim, generator) -> None:
        return None

    # -- phases ------------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        if self._phase == "psnr":
            return [self.pixel_tracker, self.psnr_tracker]
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker,
                    self.pixel_tracker, self.psnr_tracker, self.adversarial_tracker]
        if self._has_perceptual():
            trackers.append(self.perceptual_tracker)
        return trackers + ([self.r1_tracker] if self.r1_tracker is not None else [])

    # -- perceptual features -----------------------------------------------------------------------------
    def _has_perceptual(self) -> bool:
        """Whether there is a perceptual term, known without building its extractor (listing the metrics, which
        Keras does on every phase switch, must not load VGG19's weights or fail offline)."""
        return self.perceptual_model is not None or self._perceptual_name is not None

    def _feature_extractor(self):
        """The function of images whose outputs the perceptual loss compares, or None."""
        if self.perceptual_model is not None:
            return self.perceptual_model
        if self._perceptual_name is None:
            return None
        if self._features.value is None:
            if self._perceptual_name == "discriminator":
                try:
                    layer = self.discriminator.get_layer(FEATURE_LAYER)
                except ValueError as err:
                    raise _checks.fail("perceptual", f"a discriminator with a layer named {FEATURE_LAYER!r} for "
                                       "perceptual='discriminator' (pass a keras.Model or None otherwise)",
                                       f"layers {[lay.name for lay in self.discriminator.layers]}") from err
                self._features.value = keras.Model(self.discriminator.input, layer.output)
            else:
                self._features.value = vgg19_features(channels=self.generator.input_shape[-1])
        return self._features.value

    def perceptual_loss(self, fake, real):
        """L1 distance between the extractor's features of ``fake`` and ``real`` (0 without an extractor)."""
        extractor = self._feature_extractor()
        if extractor is None:
            return ops.zeros((), "float32")
        fake_features = ops.cast(extractor(fake, training=False), "float32")
        real_features = ops.cast(extractor(real, training=False), "float32")
        return ops.mean(ops.abs(fake_features - ops.stop_gradient(real_features)))

    # -- fit -----------------------------------------------------------------------------------------------
    def _unpack(self, data):
        """(high-resolution images, low-resolution images) of one ``(low, high)`` batch."""
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise _checks.fail("x", "(low_resolution, high_resolution) pairs", "single tensors")
        return data[1], data[0]

    def make_train_function(self, force: bool = False):
        """Keras's step function, after building the perceptual extractor eagerly: created inside the traced
        step, VGG19 would load its weights as graph ops (which fails) and an offline error would surface
        wrapped in a trace."""
        if self._phase == "adversarial":
            self._feature_extractor()
        return super().make_train_function(force)

    def _check_data(self, x, y) -> None:
        low, high = _first_pair(x, y, "(low_resolution, high_resolution) pairs",
                                "(low, high) pairs, or arrays x=low and y=high")
        check_pair(low, high, self.scale, self._sample_shape())

    def train_step(self, data):
        high, low = self._unpack(data)
        if self._phase == "psnr":
            return self._psnr_step(low, high)
        return self._adversarial_step(low, high)

    def _psnr_step(self, low, high):
        replicas, _ = _replica()
        with tf.GradientTape() as tape:
            fake = self.generator(low, training=True)
            pixel, psnr = _l1_and_psnr(fake, high)
            scaled = self.g_optimizer.scale_loss(pixel / replicas)
        self._apply_generator_gradients(tape, scaled)
        self.pixel_tracker.update_state(pixel)
        self.psnr_tracker.update_state(psnr)
        return {m.name: m.result() for m in self.metrics}

    def _adversarial_step(self, low, high):
        replicas, _ = _replica()
        batch = ops.shape(high)[0]
        d_vars = self._critic_variables()
        # One generator pass serves both players: the discriminator learns on it (without a path back into the
        # generator), then the updated discriminator judges it for the generator's loss.
        with tf.GradientTape() as g_tape:
            fake = self.generator(low, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as tape:
                    detached = ops.stop_gradient(fake)
                    real_logits = self.discriminator(high, training=True)
                    fake_logits = self.discriminator(detached, training=True)
                    d_loss = self.d_adversarial_loss(real_logits, fake_logits)
                    penalty, _, r1 = self._d_penalties(high, detached, None, batch)
                    total = d_loss if penalty is None else d_loss + penalty
                    scaled = self.d_optimizer.scale_loss(total / replicas)
                self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))
            fake_logits_g = self.discriminator(fake, training=False)
            real_logits_g = self.discriminator(high, training=False) if self.adversarial_loss.generator_uses_real \
                else real_logits
            adversarial = self.adversarial_loss.generator_loss(real_logits_g, fake_logits_g)
            pixel, psnr = _l1_and_psnr(fake, high)
            perceptual = self.perceptual_loss(fake, high)
            g_loss = (self.pixel_weight * pixel + self.perceptual_weight * perceptual
                      + self.adversarial_weight * adversarial)
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        self._apply_generator_gradients(g_tape, scaled)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))))
        self.pixel_tracker.update_state(pixel)
        self.psnr_tracker.update_state(psnr)
        self.adversarial_tracker.update_state(adversarial)
        if self._has_perceptual():
            self.perceptual_tracker.update_state(perceptual)
        if self.r1_tracker is not None:
            self.r1_tracker.update_state(r1)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        """Pixel loss and PSNR of the inference generator on ``(low, high)`` pairs (``evaluate``,
        ``fit(validation_data=...)``)."""
        high, low = self._unpack(data)
        pixel, psnr = _l1_and_psnr(self.inference_generator(low, training=False), high)
        self.pixel_tracker.update_state(pixel)
        self.psnr_tracker.update_state(psnr)
        return {"pixel": self.pixel_tracker.result(), "psnr": self.psnr_tracker.result()}

    # -- inference -----------------------------------------------------------------------------------------
    def call(self, low, training: bool = False):
        """Upscale ``low`` (the EMA generator when there is one and not training)."""
        net = self.generator if training else self.inference_generator
        return net(low, training=training)

    def upscale(self, low: Any, batch_size: int = 16) -> np.ndarray:
        """Upscale a batch of low-resolution images in [-1, 1] (whole images; see ``apps.superres`` for tiled
        upscaling of large ones). Returns float32 NHWC clipped to [-1, 1]."""
        low = np.asarray(low, dtype=np.float32)
        gdata.validate_images(low, argument="low", expected_shape=(None, None, self.generator.input_shape[-1]))
        return np.clip(self._predict([low], batch_size), -1.0, 1.0)

    def generate(self, n: int, *args, **kwargs):
        raise TypeError("SRGAN.generate: a super-resolution game does not sample from latents; "
                        "call game.upscale(low_resolution_images)")

    # -- serialisation -------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        for key in _GAN_ONLY:
            config.pop(key, None)
        config.update({
            "phase": self._phase,
            "pixel_weight": self.pixel_weight,
            "perceptual_weight": self.perceptual_weight,
            "adversarial_weight": self.adversarial_weight,
            "perceptual": (keras.saving.serialize_keras_object(self.perceptual_model)
                           if self.perceptual_model is not None else self._perceptual_name),
        })
        return config

    @classmethod
    def from_config(cls, config: dict) -> SRGAN:
        config = dict(config)
        if isinstance(config.get("perceptual"), dict):
            config["perceptual"] = keras.saving.deserialize_keras_object(config["perceptual"])
        return super().from_config(config)

    def receptive_radius(self) -> int:
        """Low-resolution pixels an input pixel reaches in the output, measured on the current weights: the tile
        overlap that makes tiled upscaling equal to untiled (:func:`ganapps.tiles.receptive_radius`). Cached until
        the inference generator or its weights change (training, ``set_weights``, loading)."""
        from ganapps import tiles

        net = self.inference_generator
        digest = _weights_digest(net)
        cached = self._radius.value
        if cached is None or cached[0] is not net or cached[1] != digest:
            radius = tiles.receptive_radius(lambda x: ops.convert_to_numpy(net(x, training=False)),
                                            int(net.input_shape[-1]), self.scale)
            self._radius.value = (net, digest, radius)
        return self._radius.value[2]

    def export_metadata(self) -> dict:
        """Keys for ``metadata.json`` when this game is exported, with the tiling overlap runtimes should use."""
        radius = self.receptive_radius()
        return {"task": "super_resolution", "scale": self.scale, "channel_order": _channel_order(self),
                "receptive_radius": radius, "overlap": radius}


def _weights_digest(net: keras.Model) -> bytes:
    """A fingerprint of ``net``'s weights (about a millisecond for the default generator)."""
    digest = hashlib.blake2b(digest_size=16)
    for weight in net.weights:
        value = ops.convert_to_numpy(weight)
        digest.update(str(value.shape).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.digest()


def _channel_order(game: SRGAN) -> str:
    return "RGB" if game.generator.input_shape[-1] == 3 else ("L" if game.generator.input_shape[-1] == 1 else "any")


def _scale_of(generator: keras.Model) -> int:
    """The generator's upscaling factor, read from its output on an input of its own size (8x8 when dynamic)."""
    _, h_in, w_in, channels = generator.input_shape
    h_in, w_in = h_in or 8, w_in or 8
    out = generator(np.zeros((1, h_in, w_in, channels), np.float32), training=False)
    h, w = int(out.shape[1]), int(out.shape[2])
    if h % h_in or w % w_in or h // h_in != w // w_in or h // h_in < 2:
        raise _checks.fail("generator", "an upscaling network (outputs an integer multiple, at least 2, of its "
                           "input's height and width)", f"{h}x{w} outputs from {h_in}x{w_in} inputs")
    return h // h_in


def check_pair(low: np.ndarray, high: np.ndarray, scale: int, high_shape: tuple | None = None) -> None:
    """Check one batch of (low, high) pairs: NHWC, finite, the same batch and channels, ``high`` = ``scale`` x
    ``low`` in height and width, and ``high`` of ``high_shape`` (the discriminator's input) when given."""
    gdata.validate_images(low, argument="x (low resolution)")
    gdata.validate_images(high, argument="y (high resolution)")
    if low.shape[0] != high.shape[0] or low.shape[-1] != high.shape[-1]:
        raise _checks.fail("x", "low- and high-resolution batches of the same size and channels",
                           f"shapes {low.shape} and {high.shape}")
    if high.shape[1] != low.shape[1] * scale or high.shape[2] != low.shape[2] * scale:
        raise _checks.fail("x", f"high-resolution images {scale}x the low-resolution ones (the generator's scale)",
                           f"low {low.shape[1]}x{low.shape[2]} and high {high.shape[1]}x{high.shape[2]}")
    if high_shape is not None and not all(e is None or e == g for e, g in zip(high_shape, high.shape[1:])):
        raise _checks.fail("y", f"high-resolution patches of shape {_fmt(tuple(high_shape))} (the "
                           "discriminator's input)", f"{_fmt(tuple(high.shape[1:]))}")


def interpolate_networks(psnr_model: Any, gan_model: Any, alpha: float) -> keras.Model:
    """ESRGAN's network interpolation: a generator with weights ``(1 - alpha) * psnr + alpha * gan``.

    ``alpha=0`` gives the PSNR-oriented generator, ``alpha=1`` the adversarial one; values in between trade
    PSNR for detail without the artefacts of either extreme. Both must share one architecture.

    Args:
        psnr_model, gan_model: generators (``keras.Model``) or SRGAN games (their inference generators are used).
        alpha: the blend, in [0, 1].
    """
    a, b = (m.inference_generator if isinstance(m, SRGAN) else m for m in (psnr_model, gan_model))
    for argument, net in (("psnr_model", a), ("gan_model", b)):
        if not isinstance(net, keras.Model):
            raise _checks.fail(argument, "a keras.Model generator or an SRGAN game", type(net).__name__)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
        raise _checks.fail("alpha", "a number in [0, 1]", repr(alpha))
    wa, wb = a.get_weights(), b.get_weights()
    if [w.shape for w in wa] != [w.shape for w in wb]:
        raise _checks.fail("gan_model", "a generator with the same architecture as psnr_model",
                           f"{len(wb)} weights of shapes differing from psnr_model's {len(wa)}")
    blended = keras.models.clone_model(b)
    blended.set_weights([(1.0 - alpha) * x + alpha * y for x, y in zip(wa, wb)])
    blended.trainable = True  # a game's EMA generator is frozen; the blend is a network to use or fine-tune
    for layer in blended.layers:
        layer.trainable = True
    return blended
