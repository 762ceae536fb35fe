"""Paired image-to-image translation as a conditional adversarial game: pix2pix (Isola et al. 2017).

The generator maps an image ``a`` of domain A to its counterpart in domain B (a U-Net, e.g.
:func:`ganapps.nets.unet_generator`, whose dropout is the only noise source). The discriminator is conditional:
it sees the pair stacked on the channel axis, ``concat([a, b])`` as real and ``concat([a, G(a)])`` as fake, and
may answer with one logit or a map of them (a PatchGAN, :func:`ganapps.nets.patchgan_discriminator`, judging
each receptive field on its own); every logit counts as one decision in the loss. The generator minimises

    adversarial_weight * L_adv(D(a, G(a))) + l1_weight * mean |G(a) - b|

(1 and 100 in the paper); the discriminator minimises ``0.5 * L_D(D(a, b), D(a, G(a)))``, halved as in the
paper's code (and CycleGAN), which slows it relative to the generator. ``adversarial_weight=0`` is the L1-only
baseline: the discriminator is neither run nor updated. Each step runs the generator once; the discriminator
learns on that output (detached), then the updated discriminator judges it for the generator's loss, as the
reference implementation does.

``fit`` takes ``(a, b)`` pairs: a ``tf.data.Dataset`` of pairs (see :func:`ganapps.data.paired_crops`) or
``fit(x=a, y=b)`` arrays, both NHWC in [-1, 1] with the same height and width; ``evaluate`` and
``fit(validation_data=...)`` report the L1 distance and PSNR of the translations.

Size rule: a U-Net of depth d takes heights and widths that are multiples of 2**d (``nets.unet_multiple(d)``),
a CycleGAN ResNet generator multiples of 4 of at least 8. The game assumes no architecture: it reads the rule off
its generator (:func:`ganapps.nets.size_multiple`, :func:`ganapps.nets.unet.min_size`), and
:meth:`Pix2Pix.translate` pads other sizes up to it by reflection and crops the result back, so images of any
size can be translated. The generator must therefore be fully convolutional, with a dynamic height and width
(``keras.Input((None, None, channels))``).

Batch normalisation (the paper's U-Net and PatchGAN) normalises each training batch by its own statistics, while
:meth:`Pix2Pix.translate`, ``evaluate`` and exports use the moving averages. With the paper's batch size of 1
those two differ most: a batch's statistics are one image's, which the averages over many images need not match,
so translations can come out with shifted contrast or colour (the reference implementation sidesteps this by
translating in training mode). ``norm="instance"`` in :func:`ganapps.nets.unet_generator` (and
:func:`ganapps.nets.patchgan_discriminator`) is the remedy: per-image statistics, the same in training and at
inference. Batches of 8 or more keep batch normalisation's averages close to what training saw.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks
from ganapps import data as gdata
from ganapps.games.gan import (GAN, _check_models, _check_size_rule, _first_pair, _fmt, _l1_and_psnr, _replica,
                               _translate)
from ganapps.nets.unet import min_size, size_multiple

_GAN_ONLY = ("d_steps", "gradient_penalty", "r1", "augment", "label_smoothing")  # GAN arguments Pix2Pix refuses


@keras.saving.register_keras_serializable(package="ganapps")
class Pix2Pix(GAN):
    """Paired image-to-image translation: a generator from A to B against a conditional discriminator.

    Args:
        generator: a ``keras.Model`` from images (batch, h, w, C_a) to images (batch, h, w, C_b), fully
            convolutional (dynamic height and width), e.g. :func:`ganapps.nets.unet_generator`.
        discriminator: a ``keras.Model`` from pairs stacked on the channel axis, (batch, h, w, C_a + C_b), to
            logits of any shape, e.g. :func:`ganapps.nets.patchgan_discriminator` with ``channels=C_a + C_b``.
        l1_weight: weight of the L1 distance between the translation and the target (lambda = 100 in the paper).
        adversarial_weight: weight of the generator's adversarial loss; 0 trains with L1 alone and leaves the
            discriminator untouched.
        loss: the adversarial loss pair's name in :mod:`ganapps.losses` (the paper's is ``"non_saturating"``).
        ema: decay of an exponential moving average of the generator's weights (used to translate and export),
            or None.
        seed: seed of the game's random stream.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, l1_weight: float = 100.0,
                 adversarial_weight: float = 1.0, loss: Any = "non_saturating", ema: float | None = None,
                 seed: int | None = None, latent_dim: None = None, **kwargs):
        if latent_dim is not None:
            raise _checks.fail("latent_dim", "None (a translation generator takes images, not latents)",
                               repr(latent_dim))
        for key in _GAN_ONLY:
            if key in kwargs:
                raise _checks.fail(key, f"no {key} argument (Pix2Pix keeps GAN's default)",
                                   f"{key}={kwargs[key]!r}")
        l1_weight = _checks.non_negative(l1_weight, "l1_weight")
        adversarial_weight = _checks.non_negative(adversarial_weight, "adversarial_weight")
        if not l1_weight and not adversarial_weight:
            raise _checks.fail("adversarial_weight", "a positive weight when l1_weight is 0 (else the generator "
                               "has no loss)", "0 for both")
        super().__init__(generator, discriminator, loss=loss, ema=ema, seed=seed, **kwargs)
        self.l1_weight = l1_weight
        self.adversarial_weight = adversarial_weight
        self.in_channels = int(generator.input_shape[-1])
        self.out_channels = int(generator.output_shape[-1])
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    # -- checks ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_networks(generator, discriminator) -> None:
        _check_models(generator, discriminator)
        g_in, g_out, d_in = generator.input_shape, generator.output_shape, discriminator.input_shape
        for argument, shape, what in (("generator", g_in, "input"), ("generator", g_out, "output"),
                                      ("discriminator", d_in, "input")):
            if isinstance(shape, list) or len(shape) != 4 or shape[-1] is None:
                raise _checks.fail(argument, f"one image {what} of shape (batch, height, width, channels) with "
                                   "known channels", f"{what} shape {shape}")
        if g_in[1] is not None or g_in[2] is not None:
            raise _checks.fail("generator", "a fully convolutional network with a dynamic height and width (built "
                               "on keras.Input((None, None, channels)))", f"input shape {_fmt(tuple(g_in[1:]))}")
        pair = g_in[-1] + g_out[-1]
        if d_in[-1] != pair:
            raise _checks.fail("discriminator", f"an input of {pair} channels (the pair (a, b) stacked: the "
                               f"generator's {g_in[-1]} input + {g_out[-1]} output channels)",
                               f"a discriminator taking {_fmt(tuple(d_in[1:]))}")

    @staticmethod
    def _check_latent_dim(latent_dim, generator) -> None:
        return None

    def size_multiple(self) -> int:
        """The generator's size multiple: the heights and widths it translates are its multiples
        (:func:`ganapps.nets.size_multiple`: declared by a ``SizeMultiple`` layer, read from the strides, or
        measured)."""
        return size_multiple(self.generator)

    # -- fit -----------------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        trackers = [self.g_loss_tracker, self.l1_tracker, self.psnr_tracker]
        if self.adversarial_weight:
            trackers = [self.d_loss_tracker] + trackers + [self.adversarial_tracker, self.d_real_tracker,
                                                           self.d_fake_tracker]
        return trackers

    @staticmethod
    def _pair(data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise _checks.fail("x", "(a, b) pairs of images", "single tensors")
        return data[0], data[1]

    def _check_data(self, x, y) -> None:
        self.check_pair(*_first_pair(x, y, "(a, b) image pairs", "(a, b) pairs, or arrays x=a and y=b"))

    def check_pair(self, a: np.ndarray, b: np.ndarray) -> None:
        """Check one batch of (a, b) pairs for this game: NHWC in [-1, 1], finite, the generator's input and
        output channels, one batch size and image size, and a size that keeps the generator's size rule (a
        multiple of :meth:`size_multiple`, at least its minimum)."""
        gdata.validate_images(a, argument="x (a)", expected_shape=(None, None, self.in_channels))
        gdata.validate_images(b, argument="y (b)", expected_shape=(None, None, self.out_channels))
        if a.shape[:3] != b.shape[:3]:
            raise _checks.fail("x", "a and b batches of the same number and size of images",
                               f"shapes {a.shape} and {b.shape}")
        d_size = tuple(self.discriminator.input_shape[1:3])
        if any(d is not None and d != s for d, s in zip(d_size, a.shape[1:3])):
            raise _checks.fail("x", f"images of the discriminator's size {_fmt(d_size)}",
                               f"{a.shape[1]}x{a.shape[2]}")
        _check_size_rule(a, self.generator, "x")

    def _pair_logits(self, a, b):
        """The discriminator's logits on the pairs (a, b), stacked on the channel axis with ``a`` first. Always in
        training mode, the generator's pass too, as in the reference implementation: a PatchGAN's batch norm
        normalises each batch it judges by that batch's statistics."""
        return self.discriminator(ops.concatenate([ops.cast(a, b.dtype), b], axis=-1), training=True)

    def train_step(self, data):
        a, b = self._pair(data)
        if not self.adversarial_weight:
            return self._l1_step(a, b)
        replicas, _ = _replica()
        d_vars = self._critic_variables()
        with tf.GradientTape() as g_tape:
            fake = self.generator(a, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as tape:
                    real_logits = self._pair_logits(a, b)
                    fake_logits = self._pair_logits(a, ops.stop_gradient(fake))
                    d_loss = 0.5 * self.d_adversarial_loss(real_logits, fake_logits)
                    scaled = self.d_optimizer.scale_loss(d_loss / replicas)
                self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))
            fake_logits_g = self._pair_logits(a, fake)
            real_logits_g = self._pair_logits(a, b) if self.adversarial_loss.generator_uses_real else real_logits
            adversarial = self.adversarial_loss.generator_loss(real_logits_g, fake_logits_g)
            l1, psnr = _l1_and_psnr(fake, b)
            g_loss = self.adversarial_weight * adversarial + self.l1_weight * l1
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        self._apply_generator_gradients(g_tape, scaled)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.l1_tracker.update_state(l1)
        self.psnr_tracker.update_state(psnr)
        self.adversarial_tracker.update_state(adversarial)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))))
        return {m.name: m.result() for m in self.metrics}

    def _l1_step(self, a, b):
        """The L1-only baseline's step: the discriminator is not run (its batch statistics stay as they are)."""
        replicas, _ = _replica()
        with tf.GradientTape() as tape:
            l1, psnr = _l1_and_psnr(self.generator(a, training=True), b)
            g_loss = self.l1_weight * l1
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        self._apply_generator_gradients(tape, scaled)
        self.g_loss_tracker.update_state(g_loss)
        self.l1_tracker.update_state(l1)
        self.psnr_tracker.update_state(psnr)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        """L1 distance and PSNR of the inference generator's translations of ``(a, b)`` pairs (``evaluate``,
        ``fit(validation_data=...)``), with dropout off."""
        a, b = self._pair(data)
        l1, psnr = _l1_and_psnr(self.inference_generator(a, training=False), b)
        self.l1_tracker.update_state(l1)
        self.psnr_tracker.update_state(psnr)
        return {"l1": self.l1_tracker.result(), "psnr": self.psnr_tracker.result()}

    # -- inference -----------------------------------------------------------------------------------------
    def translate(self, a: Any, batch_size: int = 16, stochastic: bool = False) -> np.ndarray:
        """Translate a batch of images from A to B, at any height and width.

        Images whose size breaks the generator's size rule (a multiple of :meth:`size_multiple`, at least its
        minimum) are padded by reflection up to one and the translation is cropped back, so the output has the
        input's height and width.

        Args:
            a: images (batch, height, width, C_a) in [-1, 1].
            batch_size: images per forward pass.
            stochastic: keep the generator's dropout on, as pix2pix does at test time, so repeated calls give
                different translations (the generator's only noise); normalisation layers still use their
                moving statistics, which stay unchanged.

        Returns:
            float32 (batch, height, width, C_b) clipped to [-1, 1].
        """
        if not isinstance(stochastic, bool):
            raise _checks.fail("stochastic", "True or False", repr(stochastic))
        return _translate(self.inference_generator, a, batch_size, "a", stochastic=stochastic)

    def generate(self, n: int, *args, **kwargs):
        raise TypeError("Pix2Pix.generate: a translation game does not sample from latents; "
                        "call game.translate(images)")

    def export_metadata(self) -> dict:
        """Keys for ``metadata.json`` when this game is exported: what the exported generator translates, the
        multiple its input height and width must have and their minimum (runtimes pad to them, as
        :meth:`translate` does)."""
        return {"task": "image_translation", "direction": "a2b", "in_channels": self.in_channels,
                "out_channels": self.out_channels, "size_multiple": self.size_multiple(),
                "min_size": min_size(self.generator)}

    # -- serialisation -------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        for key in _GAN_ONLY:
            config.pop(key, None)
        config.update({"l1_weight": self.l1_weight, "adversarial_weight": self.adversarial_weight})
        return config
