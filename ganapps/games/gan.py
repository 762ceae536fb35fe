"""The base adversarial game: a generator against a discriminator, fitted with ``model.fit``.

``train_step`` follows Goodfellow et al.'s Algorithm 1: ``d_steps`` discriminator updates on a real batch and
fresh latent samples, then one generator update. The loss pair is chosen by name from
:mod:`ganapps.losses`; a WGAN-GP gradient penalty and an R1 penalty can be added to the discriminator's loss;
an exponential moving average (EMA) of the generator's weights can be kept for sampling; an augmentation
layer, if given, is applied to real and generated images alike before the discriminator sees them; one-sided
label smoothing can soften the discriminator's real targets.

The step is written against a few hooks so that conditional games (:mod:`ganapps.games.conditional`) reuse it:
``_unpack`` splits a batch into (samples, condition), ``_generate_batch`` draws fakes with their conditions,
``_d_outputs`` returns the discriminator's adversarial logits and any auxiliary heads, and
``_d_auxiliary_loss``/``_g_auxiliary_loss`` add each player's extra terms (class or mutual-information losses).
Unconditional games keep the two older hooks, ``_fake_batch(batch)`` and ``_discriminate(x)``.

Under a ``tf.distribute`` strategy each replica's loss is divided by the number of replicas (the optimizers
sum gradients across replicas, so the update is the gradient of the global-batch mean), and each replica
takes its own slice of one global draw of latents and gradient-penalty weights, so replicas never share
samples and a run on R devices matches a run on one device with the same seed. Some things stay
per-replica: the batch means inside ``relativistic_average``, the label shuffle of ``ConditionalGAN``, and the
randomness of layers that draw from their own seed state, which replicas share (an ``augment`` layer, the
noise inputs of a style-based generator). Penalties (WGAN-GP, R1) are taken on the un-augmented samples.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks, latent, losses
from ganapps._state import SavesSeedState
from ganapps import data as gdata
from ganapps.nets.unet import _all_layers, min_size, pad_to_multiple, size_multiple

_DEFAULT_LR = 2e-4
_DEFAULT_BETA_1 = 0.5


def _default_optimizer(name: str) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(_DEFAULT_LR, beta_1=_DEFAULT_BETA_1, name=name)


def _replica() -> tuple[int, Any]:
    """(number of replicas in sync, this replica's id) in the current context."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context: behave as one replica
        return 1, 0
    return ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group


@keras.saving.register_keras_serializable(package="ganapps")
class GAN(SavesSeedState, keras.Model):
    """An unconditional GAN.

    Args:
        generator: a ``keras.Model`` mapping latents of shape (batch, latent_dim) to samples.
        discriminator: a ``keras.Model`` mapping samples to logits (any shape per sample; they are averaged).
        latent_dim: size of the latent vector; inferred from the generator's input when None and checked
            against it otherwise.
        loss: a name registered in :mod:`ganapps.losses` (``"non_saturating"``, ``"minimax"``, ``"hinge"``,
            ``"wasserstein"``, ``"least_squares"``, ``"relativistic_average"``) or a
            ``(discriminator_loss, generator_loss)`` pair of callables of (real_logits, fake_logits).
        d_steps: discriminator updates per generator update (k of Algorithm 1). Each of the k updates draws
            fresh latents but sees the same real batch (``fit`` hands a train step one batch); for a fresh real
            minibatch per update as in the paper, batch the data k times larger and split it yourself.
        gradient_penalty: weight of the WGAN-GP penalty (0 disables it; 10 is the paper's value).
        r1: gamma of the R1 penalty on real data, added as gamma/2 * E||grad D(x)||^2 (0 disables it).
        ema: decay of the exponential moving average of the generator's weights (e.g. 0.999), or None. When
            set, :meth:`generate` and exports use the averaged generator.
        augment: a Keras layer applied to real and generated samples before the discriminator (e.g. random
            translations), or None.
        label_smoothing: one-sided label smoothing s (Salimans et al. 2016): the discriminator's real target
            becomes 1 - s, fake targets stay 0; the generator's loss is unchanged. Defined for "minimax",
            "non_saturating" and "least_squares" (see :func:`ganapps.losses.smoothed_discriminator_loss`);
            other losses take only 0. 0.1 is a common value.
        seed: seed of the game's random stream (latent samples, penalties): the same seed gives the same run.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int | None = None,
                 loss: Any = "non_saturating", d_steps: int = 1, gradient_penalty: float = 0.0,
                 r1: float = 0.0, ema: float | None = None, augment: keras.layers.Layer | None = None,
                 label_smoothing: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self._check_networks(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = self._check_latent_dim(latent_dim, generator)
        self.adversarial_loss = losses.get(loss)
        self.d_adversarial_loss = losses.smoothed_discriminator_loss(self.adversarial_loss, label_smoothing)
        self.label_smoothing = float(label_smoothing)
        self.d_steps = _checks.positive_int(d_steps, "d_steps")
        self.gradient_penalty_weight = _checks.non_negative(gradient_penalty, "gradient_penalty")
        self.r1_weight = _checks.non_negative(r1, "r1")
        if ema is not None and not (isinstance(ema, float) and 0.0 < ema < 1.0):
            raise ValueError(f"ema: expected None or a decay in (0, 1) such as 0.999; got {ema!r}")
        self.ema_decay = ema
        self.ema_generator = None
        if ema is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        if augment is not None and not callable(augment):
            raise ValueError(f"augment: expected None or a Keras layer; got {augment!r}")
        self.augment = augment
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gp") if self.gradient_penalty_weight else None
        self.r1_tracker = keras.metrics.Mean(name="r1") if self.r1_weight else None
        self.built = True

    # -- checks ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_networks(generator, discriminator) -> None:
        _check_models(generator, discriminator)
        _check_sample_input(generator, discriminator.input_shape)

    @staticmethod
    def _check_latent_dim(latent_dim, generator) -> int:
        g_in = generator.input_shape
        if isinstance(g_in, list) or len(g_in) != 2:
            raise ValueError(f"generator: expected one input of shape (batch, latent_dim); got {g_in}")
        return _latent_size(latent_dim, g_in[-1])

    # -- compile / fit -----------------------------------------------------------------------------------
    def compile(self, g_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
                d_optimizer: keras.optimizers.Optimizer | str | dict | None = None, **kwargs) -> None:
        """Set each player's optimizer (default: Adam(2e-4, beta_1=0.5) each, as in DCGAN).

        ``g_optimizer`` updates :meth:`_generator_variables`, ``d_optimizer`` :meth:`_critic_variables` (a game
        with several generators or critics, such as CycleGAN, gives each optimizer all of them). Other keyword
        arguments (``jit_compile``, ``run_eagerly``, ``steps_per_execution``) go to ``keras.Model.compile``.
        """
        for argument in ("optimizer", "loss", "metrics"):
            if kwargs.get(argument) is not None:
                raise _checks.fail(argument, f"None ({type(self).__name__} takes g_optimizer and d_optimizer here "
                                   "and its loss in its constructor)", f"{argument}={kwargs[argument]!r}")
        self.g_optimizer = self._loss_scaled(_optimizer(g_optimizer, "g_optimizer"))
        self.d_optimizer = self._loss_scaled(_optimizer(d_optimizer, "d_optimizer"))
        kwargs.pop("optimizer", None)
        super().compile(optimizer=None, **kwargs)  # no third, unused optimizer
        # Build the optimizers now, so that saved optimizer state (a .keras file, a BackupAndRestore
        # checkpoint) loads into them instead of being skipped.
        self.g_optimizer.build(self._generator_variables())
        self.d_optimizer.build(self._critic_variables())

    def _generator_variables(self) -> list:
        """The variables ``g_optimizer`` updates (a hook for games with more than one generator)."""
        return self.generator.trainable_variables

    def _critic_variables(self) -> list:
        """The variables ``d_optimizer`` updates (a hook for games with more than one critic)."""
        return self.discriminator.trainable_variables

    def _loss_scaled(self, optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
        """Wrap in a LossScaleOptimizer under the mixed_float16 policy (float16 gradients underflow without
        it), as keras.Model.compile does for its single optimizer; bfloat16 needs no loss scaling."""
        policies = {net.dtype_policy.name for net in (self, self.generator, self.discriminator)}
        if "mixed_float16" in policies and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def get_compile_config(self) -> dict:
        if not self.compiled:
            return {}
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "jit_compile": self._jit_compile,
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        g_opt = keras.saving.deserialize_keras_object(config.pop("g_optimizer"))
        d_opt = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        self.compile(g_optimizer=g_opt, d_optimizer=d_opt, **config)

    def fit(self, x=None, y=None, **kwargs):
        """``keras.Model.fit`` after checking the data: shape, finiteness and the [-1, 1] range.

        ``x`` is a ``tf.data.Dataset`` of samples (or of (samples, labels), the labels ignored) or an array.
        """
        if not getattr(self, "compiled", False) or not hasattr(self, "g_optimizer"):
            raise ValueError("x: expected a compiled game to fit; got an uncompiled one: call "
                             "gan.compile(g_optimizer=..., d_optimizer=...) first")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a Dataset shuffles itself; Keras warns otherwise
        self._check_data(x, y)
        return super().fit(x, y, **kwargs)

    def _check_data(self, x, y) -> None:
        """Check what ``fit`` was given before Keras sees it (conditional games check the labels too)."""
        del y
        expected = self._sample_shape()
        if isinstance(x, tf.data.Dataset):
            if len(expected) == 3:
                gdata.validate_dataset(x, argument="x", expected_shape=expected)
            else:
                first = next(iter(x.take(1)), None)
                if first is None:
                    raise ValueError("x: expected a dataset with at least one batch; got an empty dataset")
                _validate_vectors(first[0] if isinstance(first, (tuple, list)) else first, expected)
        elif x is not None and not hasattr(x, "__next__") and not isinstance(x, keras.utils.PyDataset):
            if len(expected) == 3:
                gdata.validate_images(np.asarray(x), argument="x", expected_shape=expected)
            else:
                _validate_vectors(x, expected)

    def _sample_shape(self) -> tuple:
        """The per-sample shape the data must have: the discriminator's input (its first, if several)."""
        shape = self.discriminator.input_shape
        return tuple((shape[0] if isinstance(shape, list) else shape)[1:])

    # -- the game ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        return trackers + [t for t in (self.gp_tracker, self.r1_tracker) if t is not None]

    def call(self, z, training: bool = False):
        """Generate from latents ``z`` (the EMA generator when there is one and not training)."""
        net = self.generator if training else self.inference_generator
        return net(z, training=training)

    def sample_latents(self, n, seed=None):
        """Draw ``n`` latents from the prior in-graph (the game's own seed stream when ``seed`` is None)."""
        return latent.sample(n, self.latent_dim, seed=self.seed_generator if seed is None else seed)

    def _replica_draw(self, draw, batch):
        """This replica's slice of one global draw ``draw(batch * replicas)`` (see the module docstring): the
        seed state is mirrored, so replicas drawing on their own would all draw the same numbers."""
        replicas, replica_id = _replica()
        if replicas == 1:
            return draw(batch)
        values = draw(batch * replicas)
        return values[replica_id * batch:(replica_id + 1) * batch]

    def _fake_batch(self, batch):
        """One batch of generated samples for a training step (a hook: games that draw their latents
        differently, such as with style mixing, override it)."""
        z = self._replica_draw(self.sample_latents, batch)
        return self.generator(z, training=True)

    def _discriminate(self, x, training: bool = True):
        if self.augment is not None:
            x = self.augment(x, training=training)
        return self.discriminator(x, training=training)

    def _unpack(self, data):
        """(real samples, condition) of one batch; unconditional games ignore labels and give no condition."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def _generate_batch(self, batch, condition):
        """(generated samples, their condition) for one step; ``condition`` is the real batch's condition."""
        del condition
        return self._fake_batch(batch), None

    def _d_outputs(self, x, condition):
        """(adversarial logits, auxiliary outputs or None) of the discriminator on ``x`` under ``condition``."""
        del condition
        return self._discriminate(x), None

    def _d_auxiliary_loss(self, real_aux, fake_aux, condition, fake_condition):
        """(extra discriminator loss or None, [(metric tracker, value), ...]) from the auxiliary outputs."""
        return None, []

    def _g_auxiliary_loss(self, fake_aux, fake_condition):
        """(extra generator loss or None, [(metric tracker, value), ...]) from the auxiliary outputs."""
        return None, []

    def _penalty_critic(self, condition):
        """The function of samples alone whose input gradient the GP and R1 penalties constrain."""
        del condition
        return self.discriminator

    def _d_penalties(self, real, fake, condition, batch):
        """(weighted sum of the discriminator's penalties or None, raw GP or None, raw R1 or None)."""
        total = gp = r1 = None
        if self.gradient_penalty_weight:
            eps = self._replica_draw(lambda n: keras.random.uniform((n,), seed=self.seed_generator), batch)
            gp = losses.gradient_penalty(self._penalty_critic(condition), real, fake, eps=eps)
            total = self.gradient_penalty_weight * gp
        if self.r1_weight:
            r1 = losses.r1_penalty(self._penalty_critic(condition), real)
            total = 0.5 * self.r1_weight * r1 if total is None else total + 0.5 * self.r1_weight * r1
        return total, gp, r1

    def train_step(self, data):
        real, condition = self._unpack(data)
        batch = ops.shape(real)[0]
        replicas, _ = _replica()
        d_vars = self._critic_variables()

        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                fake, fake_condition = self._generate_batch(batch, condition)
                real_logits, real_aux = self._d_outputs(real, condition)
                fake_logits, fake_aux = self._d_outputs(fake, fake_condition)
                d_loss = self.d_adversarial_loss(real_logits, fake_logits)
                total = d_loss
                d_extra, d_extra_metrics = self._d_auxiliary_loss(real_aux, fake_aux, condition, fake_condition)
                if d_extra is not None:
                    total = total + d_extra
                penalty, gp, r1 = self._d_penalties(real, fake, condition, batch)
                if penalty is not None:
                    total = total + penalty
                scaled = self.d_optimizer.scale_loss(total / replicas)
            self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))

        with tf.GradientTape() as tape:
            fake, fake_condition = self._generate_batch(batch, condition)
            fake_logits_g, fake_aux_g = self._d_outputs(fake, fake_condition)
            if self.adversarial_loss.generator_uses_real:
                real_logits_g = self._d_outputs(real, condition)[0]
            else:
                real_logits_g = real_logits
            g_loss = self.adversarial_loss.generator_loss(real_logits_g, fake_logits_g)
            total = g_loss
            g_extra, g_extra_metrics = self._g_auxiliary_loss(fake_aux_g, fake_condition)
            if g_extra is not None:
                total = total + g_extra
            scaled = self.g_optimizer.scale_loss(total / replicas)
        self._apply_generator_gradients(tape, scaled)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        if self.gp_tracker is not None:
            self.gp_tracker.update_state(gp)
        if self.r1_tracker is not None:
            self.r1_tracker.update_state(r1)
        for tracker, value in d_extra_metrics + g_extra_metrics:
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def _apply_generator_gradients(self, tape, scaled_loss) -> None:
        """One generator update from ``tape``'s (loss-scaled) ``scaled_loss``, then the EMA update if any."""
        g_vars = self._generator_variables()
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled_loss, g_vars), g_vars))
        if self.ema_generator is not None:
            self._update_ema()

    def _update_ema(self) -> None:
        decay = self.ema_decay
        for averaged, current in zip(self.ema_generator.weights, self.generator.weights):
            averaged.assign(decay * averaged + (1.0 - decay) * current)

    # -- sampling ----------------------------------------------------------------------------------------
    def generate(self, n: int, seed: int | None = None, truncation: float | None = None,
                 batch_size: int = 256) -> np.ndarray:
        """Generate ``n`` samples as a NumPy array (images in [-1, 1]).

        Latents come from :func:`ganapps.runtime.sample_normal`, outside the training seed stream: the same
        ``seed`` gives the same latents here and in ``ganapps.export.load(dir).sample(n, seed=...)``.

        Args:
            n: number of samples.
            seed: an int for reproducible samples; None for fresh ones.
            truncation: None, or the truncation threshold t in standard deviations (fidelity for variety).
            batch_size: samples generated per forward pass.
        """
        z = latent.sample_normal(n, self.latent_dim, seed=seed, truncation=truncation)
        return self._predict([z], batch_size)

    def _predict(self, inputs: list[np.ndarray], batch_size: int) -> np.ndarray:
        """Run the inference generator over ``inputs`` (one array per generator input) in batches."""
        return _run_batches(self.inference_generator, inputs, batch_size)

    @property
    def inference_generator(self) -> keras.Model:
        """The generator to sample from and export: the EMA generator when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": self._loss_name(),
            "d_steps": self.d_steps,
            "gradient_penalty": self.gradient_penalty_weight,
            "r1": self.r1_weight,
            "ema": self.ema_decay,
            "augment": None if self.augment is None else keras.saving.serialize_keras_object(self.augment),
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        })
        return config

    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        """``keras.Model.save`` through a temporary file renamed into place: a failure (an unsaveable
        custom loss, a full disk) never leaves half a ``.keras`` file behind."""
        path = os.fspath(filepath)
        if not path.endswith(".keras"):
            return super().save(filepath, overwrite=overwrite, **kwargs)  # Keras explains what it accepts
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"filepath: expected a new file or overwrite=True; got {path!r}, which exists")
        directory, name = os.path.split(os.path.abspath(path))
        tmp = os.path.join(directory, f".{name[:-len('.keras')]}.tmp{os.getpid()}.keras")
        try:
            super().save(tmp, **kwargs)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def _loss_name(self) -> str:
        """The registry name of the loss, which is what a saved game stores."""
        loss = self.adversarial_loss
        if losses.LOSSES.get(loss.name) != loss:
            raise ValueError(f"loss: expected a loss registered in ganapps.losses to save this game; got the "
                             f"unregistered pair {loss.name!r}. Register it with ganapps.losses.register(name, "
                             f"discriminator_loss, generator_loss) and pass loss=name")
        return loss.name

    @classmethod
    def from_config(cls, config: dict) -> GAN:
        config = dict(config)
        for key in ("generator", "discriminator", "augment"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _run_batches(net: keras.Model, inputs: list[np.ndarray], batch_size: int, training: bool = False) -> np.ndarray:
    """``net`` over ``inputs`` (one array per input of the net) ``batch_size`` samples at a time, as NumPy."""
    batch_size = _checks.positive_int(batch_size, "batch_size")
    outs = []
    for i in range(0, len(inputs[0]), batch_size):
        chunk = [x[i:i + batch_size] for x in inputs]
        outs.append(ops.convert_to_numpy(net(chunk if len(chunk) > 1 else chunk[0], training=training)))
    return np.concatenate(outs, axis=0)


# -- helpers of the paired and image-to-image games (SRGAN, Pix2Pix, CycleGAN) -----------------------------------
def _first_pair(x, y, elements: str, arrays: str) -> tuple[np.ndarray, np.ndarray]:
    """The first batch of two-part data that ``fit`` was given: a dataset's first ``(first, second)`` element, or
    the arrays ``x`` and ``y``. ``elements`` and ``arrays`` say what the game takes, for the errors: a dataset of
    ``elements``, or a tf.data.Dataset of ``arrays``."""
    if isinstance(x, tf.data.Dataset):
        first = next(iter(x.take(1)), None)
        if first is None:
            raise _checks.fail("x", "a dataset with at least one batch", "an empty dataset")
        if not isinstance(first, (tuple, list)) or len(first) < 2:
            raise _checks.fail("x", f"a dataset of {elements}", f"elements {x.element_spec}")
        return np.asarray(first[0]), np.asarray(first[1])
    if x is not None and y is not None and not hasattr(x, "__next__"):
        return np.asarray(x), np.asarray(y)
    raise _checks.fail("x", f"a tf.data.Dataset of {arrays}",
                       f"x of type {type(x).__name__} and y={'None' if y is None else type(y).__name__}")


def _l1_and_psnr(fake, target):
    """(mean absolute error, mean per-image PSNR in dB) of images in [-1, 1], in float32; the PSNR clips ``fake`` to
    the range first, as a saved image would be."""
    fake32, target32 = ops.cast(fake, "float32"), ops.cast(target, "float32")
    mse = ops.mean(ops.square(ops.clip(fake32, -1.0, 1.0) - target32), axis=(1, 2, 3))
    psnr = ops.mean(10.0 * ops.log(4.0 / ops.maximum(mse, 1e-10)) / np.log(10.0))
    return _l1(fake32, target32), psnr


def _l1(x, y):
    """The mean absolute difference of ``x`` and ``y``, in float32."""
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


def _check_size_rule(images: np.ndarray, net: keras.Model, argument: str) -> None:
    """Refuse training images whose height or width breaks ``net``'s size rule (size multiple and minimum)."""
    multiple, minimum = size_multiple(net), min_size(net)
    h, w = images.shape[1:3]
    if h % multiple or w % multiple or min(h, w) < minimum:
        raise _checks.fail(argument, f"images whose height and width are multiples of {multiple}, at least {minimum} "
                           "(the generator's size rule; crop the training images to such a size)", f"{h}x{w}")


def _translate(net: keras.Model, images: Any, batch_size: int, argument: str, stochastic: bool = False) -> np.ndarray:
    """``net``'s translations of ``images`` of any height and width, as float32 clipped to [-1, 1].

    The images are padded by reflection to the net's size rule (:func:`ganapps.nets.size_multiple`,
    :func:`ganapps.nets.unet.min_size`) with :func:`ganapps.nets.unet.pad_to_multiple`, translated in batches
    and cropped back. ``stochastic`` runs the net in training mode (dropout on) with its batch-normalisation layers
    frozen, so they use their moving statistics and leave them unchanged.
    """
    gdata.validate_images(images, argument=argument, expected_shape=(None, None, net.input_shape[-1]))
    images = np.asarray(images, dtype=np.float32)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    padded, (rows, cols) = pad_to_multiple(images, size_multiple(net), min_size(net))
    with _frozen_batch_norm(net) if stochastic else contextlib.nullcontext():
        out = _run_batches(net, [padded], batch_size, training=stochastic)
    if out.shape[1:3] != padded.shape[1:3]:
        raise _checks.fail("generator", "an image-to-image network that keeps its input's height and width",
                           f"one that maps {padded.shape[1]}x{padded.shape[2]} images to {out.shape[1]}x{out.shape[2]}")
    return np.clip(out[:, rows, cols], -1.0, 1.0).astype(np.float32)


@contextlib.contextmanager
def _frozen_batch_norm(net: keras.Model):
    """Hold ``net``'s trainable batch-normalisation layers in inference mode (frozen) for a training-mode call."""
    frozen = [layer for layer in _all_layers(net)
              if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    for layer in frozen:
        layer.trainable = False
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = True


def _check_models(generator, discriminator) -> None:
    for argument, net in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(net, keras.Model):
            raise ValueError(f"{argument}: expected a keras.Model; got {type(net).__name__}")


def _check_sample_input(generator: keras.Model, input_shape) -> None:
    """The discriminator's sample input (``input_shape``, batch first) must take what the generator makes."""
    g_out = tuple(generator.output_shape[1:])
    d_in = tuple(input_shape[1:])
    if not _shapes_compatible(g_out, d_in):
        raise ValueError(f"discriminator: expected an input shape matching the generator's output "
                         f"{_fmt(g_out)}; got a discriminator taking {_fmt(d_in)}")


def _latent_size(latent_dim, inferred: int | None) -> int:
    """``latent_dim`` checked against the size of the generator's z input (``inferred``), or taken from it."""
    if latent_dim is None:
        if inferred is None:
            raise ValueError("latent_dim: expected an int, since the generator's z size is unknown; got None")
        return int(inferred)
    latent_dim = _checks.positive_int(latent_dim, "latent_dim")
    if inferred is not None and inferred != latent_dim:
        raise ValueError(f"latent_dim: expected the generator's z size {inferred}; got {latent_dim}")
    return latent_dim


def _optimizer(value, argument: str) -> keras.optimizers.Optimizer:
    if value is None:
        return _default_optimizer(argument)
    try:
        return keras.optimizers.get(value)
    except ValueError as err:
        raise ValueError(f"{argument}: expected a keras optimizer, its name or its config; got {value!r}") from err


def _validate_vectors(x, expected: tuple) -> None:
    """Checks for non-image samples (vectors): the per-sample shape and finiteness; any value range."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty batch of samples of shape {_fmt(expected)}; got shape {x.shape}")
    if not _shapes_compatible(tuple(x.shape[1:]), expected):
        raise ValueError(f"x: expected samples of shape {_fmt(expected)} (the discriminator's input); "
                         f"got {_fmt(tuple(x.shape[1:]))}")
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"x: expected finite values; got {int(np.isnan(x).sum())} NaN and "
                         f"{int(np.isinf(x).sum())} Inf")


def _shapes_compatible(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"
