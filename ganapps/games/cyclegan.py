"""Unpaired image-to-image translation: CycleGAN (Zhu et al. 2017).

Two generators translate between domains A and B (``generator_ab``: A -> B, ``generator_ba``: B -> A) and two
critics judge each domain (``discriminator_a`` real A against translated B -> A, ``discriminator_b`` likewise).
Nothing pairs an ``a`` with a ``b``: the cycle-consistency loss stands in for the missing targets, asking that
a translation can be translated back. Per step, with L1 distances taken as means over pixels,

    G:   adv(D_B, G_AB(a)) + adv(D_A, G_BA(b))
         + cycle_weight * (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)
         + identity_weight * cycle_weight * (|G_AB(b) - b| + |G_BA(a) - a|)
    D_A: 1/2 * L_D(D_A(a), D_A(pool_A(G_BA(b))))        D_B: 1/2 * L_D(D_B(b), D_B(pool_B(G_AB(a))))

Both generators share one optimizer and one update, as do both critics; the generators update first and the
critics then learn on the same translations (detached), as in the reference implementation. The critics'
objective is halved as in the paper, which slows them relative to the generators. The identity term keeps
colours from drifting when an image already belongs to the target domain; it needs both domains to have the
same channels, and ``identity_weight=0`` drops it (then the channel counts may differ).

Adversarial scale: the paper's least-squares objectives are ``E[(D(y) - 1)^2] + E[D(G(x))^2]`` for the critic
(then halved) and ``E[(D(G(x)) - 1)^2]`` for the generator, without LSGAN's 1/2 factors that
:mod:`ganapps.losses`' ``"least_squares"`` pair carries; the game doubles that pair (so the critic's halved loss
is the registry's and the generator's term is twice the registry's), which keeps the paper's balance between the
adversarial and the ``cycle_weight`` terms. Other losses are used as registered, the critics' halved.

History pool (:class:`ImagePool`): each critic learns on a mix of the newest translations and up to
``pool_size`` earlier ones (Shrivastava et al. 2017), which damps the oscillation of a critic that only ever
sees the latest generator. The buffers need a static image size: they take it from the first batch ``fit`` sees
(fixed-size crops are the training norm), or from ``pool_image_shape``. They are saved with the game, so a
reloaded or resumed game continues with the same pool (50 translations of 256 x 256 x 3 float32 are 39 MB per
critic in the ``.keras`` file).

``fit`` takes unpaired ``(a, b)`` batches: a ``tf.data.Dataset`` of tuples (see
:func:`ganapps.data.unpaired_crops`) or ``fit(x=a, y=b)`` arrays of equal length, NHWC in [-1, 1];
``evaluate`` and ``fit(validation_data=...)`` report the cycle (and identity) loss.

Under ``tf.distribute`` each replica keeps its own pools (on-read variables; a saved game stores the first
replica's) and its losses are divided by the number of replicas, as in :class:`ganapps.GAN`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks
from ganapps import data as gdata
from ganapps._state import SavesSeedState, derive_seed
from ganapps.games.gan import GAN, _check_size_rule, _first_pair, _fmt, _l1, _replica, _translate
from ganapps.nets.unet import min_size, size_multiple

DIRECTIONS = ("a2b", "b2a")
NETWORKS = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")
_GAN_ONLY = ("latent_dim", "d_steps", "gradient_penalty", "r1", "ema", "augment", "label_smoothing")
_PAPER_SCALE = {"least_squares": 2.0}  # the registry's pair times this is the paper's objective


@keras.saving.register_keras_serializable(package="ganapps")
class ImagePool(SavesSeedState, keras.layers.Layer):
    """A history of generated images that a critic learns on (Shrivastava et al. 2017; CycleGAN's pool).

    Called on a batch of fakes it returns a batch for the critic, one image at a time, in batch order: while
    fewer than ``pool_size`` images are stored, each fake is stored and returned; then each fake, with
    probability 1/2, takes the place of a uniformly chosen stored image and that stored image is returned,
    else the fake itself is returned. ``pool_size=0`` returns the fakes as they are.

    The pass runs in the graph (a ``tf.while_loop`` over the batch; it compiles under XLA) and draws from its
    own ``SeedGenerator``, saved with the layer, so a seeded pool repeats itself and a reloaded one continues.
    The buffer has a static image shape, taken from the first input (or the ``input_shape`` of an explicit
    ``build``); later batches must have that shape. Under ``tf.distribute`` each replica keeps its own buffer.

    Args:
        pool_size: the number of earlier images kept (50 in CycleGAN); 0 disables the pool.
        seed: seed of the swap decisions and slot choices.
    """

    def __init__(self, pool_size: int = 50, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _checks.non_negative_int(pool_size, "pool_size")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="pool_seed")
        self.buffer = None
        self.count = None

    def build(self, input_shape) -> None:
        image_shape = tuple(input_shape[1:])
        if len(image_shape) != 3 or not all(isinstance(s, int) and s > 0 for s in image_shape):
            raise _checks.fail("pool_image_shape", "images of a static (height, width, channels) for the history "
                               "pool's buffer (train on fixed-size crops, or pass pool_image_shape)",
                               f"images of shape {_fmt(image_shape)}")
        if not self.pool_size:
            return
        per_replica = {"trainable": False, "synchronization": "on_read", "aggregation": "only_first_replica"}
        self.buffer = keras.Variable("zeros", shape=(self.pool_size,) + image_shape, dtype=self.variable_dtype,
                                     name="buffer", **per_replica)
        self.count = keras.Variable("zeros", shape=(), dtype="int32", name="count", **per_replica)

    def call(self, images):
        if not self.pool_size:
            return images
        images = ops.cast(images, self.buffer.dtype)
        batch = ops.shape(images)[0]
        swap_draws = keras.random.uniform((batch,), seed=self.seed_generator)
        slot_draws = keras.random.randint((batch,), 0, self.pool_size, seed=self.seed_generator)

        # tf.gather, not x[i]: XLA compiles a slice at a random index by making the index a compile-time
        # constant, which recompiles the step at every call.
        def step(i, buffer, count, out):
            image = tf.gather(images, i)
            filling = count < self.pool_size
            swap = tf.logical_and(tf.logical_not(filling), tf.gather(swap_draws, i) < 0.5)
            slot = tf.where(filling, count, tf.gather(slot_draws, i))
            stored = tf.gather(buffer, slot)
            kept = tf.where(tf.logical_or(filling, swap), image, stored)
            buffer = tf.tensor_scatter_nd_update(buffer, [[slot]], kept[None])
            out = tf.tensor_scatter_nd_update(out, [[i]], tf.where(swap, stored, image)[None])
            return i + 1, buffer, count + tf.cast(filling, count.dtype), out

        _, buffer, count, out = tf.while_loop(lambda i, *_: i < batch, step,
                                              (tf.constant(0), self.buffer.value, self.count.value, images))
        self.buffer.assign(buffer)
        self.count.assign(count)
        return out

    def load_own_variables(self, store) -> None:
        """Build the buffer from the saved one's shape first: a reloaded pool has seen no batch yet."""
        if self.pool_size and self.buffer is None and "0" in list(store.keys()):
            self.build((None,) + tuple(np.asarray(store["0"]).shape[1:]))
        super().load_own_variables(store)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "seed": self.seed}


@keras.saving.register_keras_serializable(package="ganapps")
class CycleGAN(GAN):
    """Unpaired translation between two image domains with two generators, two critics and a cycle loss.

    Args:
        generator_ab: a ``keras.Model`` from images of A (batch, h, w, C_a) to images of B (batch, h, w, C_b),
            fully convolutional, e.g. :func:`ganapps.nets.resnet_generator`.
        generator_ba: the reverse, from C_b to C_a channels.
        discriminator_a: a critic of A images (C_a channels) returning logits of any shape, e.g.
            :func:`ganapps.nets.patchgan_discriminator` with ``channels=C_a, norm="instance"``.
        discriminator_b: a critic of B images (C_b channels).
        loss: the adversarial loss pair's name in :mod:`ganapps.losses` (the paper's is ``"least_squares"``).
        cycle_weight: weight of the two cycle-consistency L1 terms (lambda = 10 in the paper).
        identity_weight: weight of the identity terms relative to ``cycle_weight`` (0.5 in the paper); 0 drops
            them, which allows domains with different channel counts.
        pool_size: translations kept in each critic's history pool (50 in the paper); 0 disables the pools.
        pool_image_shape: (height, width) of the training images, to build the pools now; None builds them
            from the first batch ``fit`` sees.
        seed: seed of the game's random streams (the pools' draws).
    """

    def __init__(self, generator_ab: keras.Model, generator_ba: keras.Model, discriminator_a: keras.Model,
                 discriminator_b: keras.Model, loss: Any = "least_squares", cycle_weight: float = 10.0,
                 identity_weight: float = 0.5, pool_size: int = 50,
                 pool_image_shape: tuple[int, int] | None = None, seed: int | None = None, **kwargs):
        for key in _GAN_ONLY:
            if kwargs.get(key) is not None:
                raise _checks.fail(key, f"no {key} argument (CycleGAN keeps GAN's default)", f"{key}={kwargs[key]!r}")
            kwargs.pop(key, None)
        self.cycle_weight = _checks.non_negative(cycle_weight, "cycle_weight")
        self.identity_weight = _checks.non_negative(identity_weight, "identity_weight")
        self.a_channels, self.b_channels = _check_translators(generator_ab, generator_ba, discriminator_a,
                                                              discriminator_b, self.identity_weight)
        super().__init__(generator_ab, discriminator_b, loss=loss, seed=seed, **kwargs)
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        self.pool_image_shape = _check_pool_image_shape(pool_image_shape)
        self.pool_a = ImagePool(pool_size, seed=derive_seed(seed, "pool_a"), dtype="float32", name="pool_a")
        self.pool_b = ImagePool(pool_size, seed=derive_seed(seed, "pool_b"), dtype="float32", name="pool_b")
        if self.pool_image_shape is not None:
            self._build_pools(self.pool_image_shape, self.pool_image_shape)
        self._adversarial_scale = _PAPER_SCALE.get(self.adversarial_loss.name, 1.0)
        self.d_a_tracker = keras.metrics.Mean(name="d_a")
        self.d_b_tracker = keras.metrics.Mean(name="d_b")
        self.g_ab_tracker = keras.metrics.Mean(name="g_ab")
        self.g_ba_tracker = keras.metrics.Mean(name="g_ba")
        self.cycle_tracker = keras.metrics.Mean(name="cycle")
        self.identity_tracker = keras.metrics.Mean(name="identity")

    @property
    def generator_ab(self) -> keras.Model:
        """The A -> B generator (held as ``generator``, the one ``inference_generator`` and exports use)."""
        return self.generator

    @property
    def discriminator_b(self) -> keras.Model:
        """The critic of domain B (held as ``discriminator``)."""
        return self.discriminator

    # -- checks ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_networks(generator, discriminator) -> None:
        return None  # all four networks are checked together by _check_translators

    @staticmethod
    def _check_latent_dim(latent_dim, generator) -> None:
        return None

    # -- compile / fit -----------------------------------------------------------------------------------
    # GAN.compile builds g_optimizer over both generators and d_optimizer over both critics through these hooks.
    def _generator_variables(self) -> list:
        """Both generators' variables: one optimizer, one update, as in the paper."""
        return self.generator.trainable_variables + self.generator_ba.trainable_variables

    def _critic_variables(self) -> list:
        """Both critics' variables."""
        return self.discriminator_a.trainable_variables + self.discriminator.trainable_variables

    def _check_data(self, x, y) -> None:
        """Check the first batch of unpaired ``(a, b)`` images and build the pools from its image size."""
        a, b = _first_pair(x, y, "unpaired (a, b) image batches", "unpaired (a, b) batches, or arrays x=a and y=b")
        for argument, images, net in (("x (a)", a, self.generator), ("y (b)", b, self.generator_ba)):
            gdata.validate_images(images, argument=argument, expected_shape=tuple(net.input_shape[1:]))
            _check_size_rule(images, net, argument)
        self._build_pools(b.shape[1:3], a.shape[1:3])

    def _build_pools(self, a_fakes_size, b_fakes_size) -> None:
        """Build the pools, unless built: translations B -> A have B's size and A's channels, and vice versa.
        Built ones must hold images of the size given."""
        for pool, size, channels, argument in ((self.pool_a, a_fakes_size, self.a_channels, "y (b)"),
                                               (self.pool_b, b_fakes_size, self.b_channels, "x (a)")):
            size = (int(size[0]), int(size[1]))
            if not pool.built:
                pool.build((None,) + size + (channels,))
            elif pool.buffer is not None and tuple(pool.buffer.shape[1:3]) != size:
                held = tuple(pool.buffer.shape[1:3])
                raise _checks.fail(argument, f"images of {held[0]}x{held[1]}, the size the history pool holds (from "
                                   "pool_image_shape or the first batch trained on)", f"{size[0]}x{size[1]}")

    # -- the game ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        trackers = [self.d_a_tracker, self.d_b_tracker, self.g_ab_tracker, self.g_ba_tracker, self.cycle_tracker]
        if self.identity_weight:
            trackers.append(self.identity_tracker)
        return trackers + [self.g_loss_tracker, self.d_loss_tracker]

    @staticmethod
    def _domains(data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise _checks.fail("x", "unpaired (a, b) batches of images", "single tensors")
        return data[0], data[1]

    def _reconstruction(self, a, b, training: bool):
        """(cycle loss, identity loss or None, G_AB(a), G_BA(b)): the generators' non-adversarial terms."""
        fake_b = self.generator(a, training=training)
        fake_a = self.generator_ba(b, training=training)
        cycle = (_l1(self.generator_ba(fake_b, training=training), a)
                 + _l1(self.generator(fake_a, training=training), b))
        identity = None
        if self.identity_weight:
            identity = _l1(self.generator(b, training=training), b) + _l1(self.generator_ba(a, training=training), a)
        return cycle, identity, fake_b, fake_a

    def _generator_adversarial(self, critic, real, fake):
        real_logits = critic(real, training=True) if self.adversarial_loss.generator_uses_real else None
        return self._adversarial_scale * self.adversarial_loss.generator_loss(real_logits, critic(fake, training=True))

    def _critic_loss(self, critic, real, fake):
        loss = self.adversarial_loss.discriminator_loss(critic(real, training=True), critic(fake, training=True))
        return 0.5 * self._adversarial_scale * loss

    def train_step(self, data):
        a, b = self._domains(data)
        replicas, _ = _replica()
        g_vars, d_vars = self._generator_variables(), self._critic_variables()
        with tf.GradientTape() as tape:
            cycle, identity, fake_b, fake_a = self._reconstruction(a, b, training=True)
            g_ab = self._generator_adversarial(self.discriminator, b, fake_b)
            g_ba = self._generator_adversarial(self.discriminator_a, a, fake_a)
            g_loss = g_ab + g_ba + self.cycle_weight * cycle
            if identity is not None:
                g_loss = g_loss + self.identity_weight * self.cycle_weight * identity
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, g_vars), g_vars))

        with tf.GradientTape() as tape:
            d_a = self._critic_loss(self.discriminator_a, a, self.pool_a(ops.stop_gradient(fake_a)))
            d_b = self._critic_loss(self.discriminator, b, self.pool_b(ops.stop_gradient(fake_b)))
            d_loss = d_a + d_b
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))

        for tracker, value in ((self.d_a_tracker, d_a), (self.d_b_tracker, d_b), (self.g_ab_tracker, g_ab),
                               (self.g_ba_tracker, g_ba), (self.cycle_tracker, cycle),
                               (self.g_loss_tracker, g_loss), (self.d_loss_tracker, d_loss)):
            tracker.update_state(value)
        if identity is not None:
            self.identity_tracker.update_state(identity)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        """Cycle (and identity) loss of the generators in inference mode on ``(a, b)`` batches (``evaluate``,
        ``fit(validation_data=...)``)."""
        a, b = self._domains(data)
        cycle, identity, _, _ = self._reconstruction(a, b, training=False)
        self.cycle_tracker.update_state(cycle)
        results = {"cycle": self.cycle_tracker.result()}
        if identity is not None:
            self.identity_tracker.update_state(identity)
            results["identity"] = self.identity_tracker.result()
        return results

    # -- inference ---------------------------------------------------------------------------------------
    def call(self, a, training: bool = False):
        """Translate ``a`` from A to B."""
        return self.generator(a, training=training)

    def generator_for(self, direction: str = "a2b") -> keras.Model:
        """The generator translating in ``direction`` ("a2b" or "b2a"): e.g.
        ``export_generator(game.generator_for("b2a"), path, extra_metadata=game.export_metadata("b2a"))``
        exports the B -> A generator (exporting the game itself exports A -> B)."""
        if direction not in DIRECTIONS:
            raise _checks.fail("direction", f"one of {DIRECTIONS}", repr(direction))
        return self.generator if direction == "a2b" else self.generator_ba

    def translate(self, x: Any, direction: str = "a2b", batch_size: int = 16) -> np.ndarray:
        """Translate a batch of images in ``direction`` at any height and width: sizes that break the generator's
        size rule (a multiple of :func:`ganapps.nets.size_multiple`, at least :func:`ganapps.nets.unet.min_size`)
        are padded up to one by reflection, and the translations cropped back.

        Args:
            x: images (batch, height, width, channels of the source domain) in [-1, 1].
            direction: "a2b" or "b2a".
            batch_size: images per forward pass.

        Returns:
            float32 (batch, height, width, channels of the target domain) clipped to [-1, 1].
        """
        return _translate(self.generator_for(direction), x, batch_size, "x")

    def generate(self, n: int, *args, **kwargs):
        raise TypeError("CycleGAN.generate: a translation game does not sample from latents; "
                        "call game.translate(images, direction='a2b')")

    def export_metadata(self, direction: str = "a2b") -> dict:
        """Keys for ``metadata.json`` of an exported generator (A -> B for the game itself; pass "b2a" with
        :meth:`generator_for` ``("b2a")``): its direction, channels, and the multiple its input height and width
        must have and their minimum (runtimes pad to them, as :meth:`translate` does)."""
        net = self.generator_for(direction)
        return {"task": "image_translation", "direction": direction, "in_channels": int(net.input_shape[-1]),
                "out_channels": int(net.output_shape[-1]), "size_multiple": size_multiple(net),
                "min_size": min_size(net)}

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        for key in _GAN_ONLY:
            config.pop(key, None)
        config["generator_ab"] = config.pop("generator")
        config["discriminator_b"] = config.pop("discriminator")
        config.update({
            "generator_ba": keras.saving.serialize_keras_object(self.generator_ba),
            "discriminator_a": keras.saving.serialize_keras_object(self.discriminator_a),
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            "pool_size": self.pool_a.pool_size,
            "pool_image_shape": None if self.pool_image_shape is None else list(self.pool_image_shape),
        })
        return config

    @classmethod
    def from_config(cls, config: dict) -> CycleGAN:
        config = dict(config)
        for key in NETWORKS:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _image_channels(net, argument: str, what: str) -> int:
    """The channels of ``net``'s one image input (``what="input"``) or output, refusing anything else."""
    if not isinstance(net, keras.Model):
        raise _checks.fail(argument, "a keras.Model", type(net).__name__)
    shape = net.input_shape if what == "input" else net.output_shape
    if isinstance(shape, list) or len(shape) != 4 or shape[-1] is None:
        raise _checks.fail(argument, f"one image {what} of shape (batch, height, width, channels) with known "
                           "channels", f"{what} shape {shape}")
    return int(shape[-1])


def _check_translators(generator_ab, generator_ba, discriminator_a, discriminator_b,
                       identity_weight: float) -> tuple[int, int]:
    """(channels of A, channels of B), after checking that the four networks fit together."""
    a = _image_channels(generator_ab, "generator_ab", "input")
    b = _image_channels(generator_ab, "generator_ab", "output")
    ba_in = _image_channels(generator_ba, "generator_ba", "input")
    ba_out = _image_channels(generator_ba, "generator_ba", "output")
    if (ba_in, ba_out) != (b, a):
        raise _checks.fail("generator_ba", f"a generator from B's {b} channels to A's {a} (the reverse of "
                           "generator_ab)", f"one from {ba_in} channels to {ba_out}")
    for argument, critic, channels, domain in (("discriminator_a", discriminator_a, a, "A"),
                                               ("discriminator_b", discriminator_b, b, "B")):
        taken = _image_channels(critic, argument, "input")
        if taken != channels:
            raise _checks.fail(argument, f"a critic of domain {domain}'s {channels}-channel images",
                               f"one taking {_fmt(tuple(critic.input_shape[1:]))}")
    if identity_weight and a != b:
        raise _checks.fail("identity_weight", f"0 for domains with different channels (the identity loss feeds "
                           f"B's images to generator_ab); A has {a} and B {b}", repr(identity_weight))
    return a, b


def _check_pool_image_shape(value) -> tuple[int, int] | None:
    if value is None:
        return None
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise _checks.fail("pool_image_shape", "None or the (height, width) of the training images",
                           repr(value))
    return int(value[0]), int(value[1])
