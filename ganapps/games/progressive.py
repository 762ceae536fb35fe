"""Progressive growing of GANs (Karras et al. 2018): train at 4x4, then fade in and stabilise each doubling.

:class:`ProgressiveGAN` is the base :class:`~ganapps.games.gan.GAN` game on the networks of
:mod:`ganapps.nets.progressive` plus a schedule. The schedule is a function of the number of generator updates
(``g_optimizer.iterations``): ``stable_steps`` at the base resolution, then for each new resolution a fade-in of
``fade_steps`` (alpha rising linearly from 0 towards 1) and a stabilisation of ``stable_steps`` (alpha = 1);
after the last stabilisation the game stays at full resolution. Because the step counter is optimizer state,
a ``.keras`` round trip or a ``BackupAndRestore`` resume continues at the right stage and alpha.

``fit`` adds a :class:`ProgressiveSchedule` callback unless one is given. It assigns alpha before each batch
(a variable: no retrace) and, when the stage changes, rebuilds the train function so the new blocks are traced
and trained. ``fit`` logs ``stage``, ``resolution`` (height) and ``alpha`` next to the losses. During a fade-in
the real images are blended between the two resolutions with the same alpha as the networks (the paper's
Fig. 2), so real and generated images are equally sharp (see
:meth:`~ganapps.nets.progressive.ProgressiveDiscriminator.blend_real`); the penalties see the blended reals.

With ``steps_per_execution`` > 1, stage and alpha move between executions, not inside one.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import keras
from keras import ops

from ganapps import _checks
from ganapps.games.gan import GAN
from ganapps.nets.progressive import ProgressiveDiscriminator, ProgressiveGenerator, check_stage


@keras.saving.register_keras_serializable(package="ganapps")
class ProgressiveGAN(GAN):
    """A GAN whose networks grow in resolution during training.

    Args:
        generator: a :class:`~ganapps.nets.progressive.ProgressiveGenerator`
            (:func:`~ganapps.nets.progressive_generator`).
        discriminator: a :class:`~ganapps.nets.progressive.ProgressiveDiscriminator` with the same image
            shape and stage.
        fade_steps: generator updates over which a new block's alpha rises from 0 to 1.
        stable_steps: generator updates at each resolution with alpha = 1 (the base resolution included).
        **kwargs: the :class:`~ganapps.games.gan.GAN` arguments (``loss``, ``gradient_penalty``, ``ema``, ...).
            The paper used the WGAN-GP loss (``loss="wasserstein", gradient_penalty=10``).
    """

    def __init__(self, generator: ProgressiveGenerator, discriminator: ProgressiveDiscriminator,
                 fade_steps: int = 1000, stable_steps: int = 1000, **kwargs):
        if not isinstance(generator, ProgressiveGenerator):
            raise _checks.fail("generator", "a ProgressiveGenerator (ganapps.nets.progressive_generator)",
                               type(generator).__name__)
        if not isinstance(discriminator, ProgressiveDiscriminator):
            raise _checks.fail("discriminator", "a ProgressiveDiscriminator (ganapps.nets.progressive_discriminator)",
                               type(discriminator).__name__)
        super().__init__(generator, discriminator, **kwargs)
        if discriminator.stage != generator.stage:
            raise _checks.fail("discriminator", f"the generator's stage {generator.stage}",
                               f"stage {discriminator.stage}")
        self.fade_steps = _checks.positive_int(fade_steps, "fade_steps")
        self.stable_steps = _checks.positive_int(stable_steps, "stable_steps")

    # -- the schedule ------------------------------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        """Number of resolutions, base to full."""
        return self.generator.num_stages

    @property
    def stage(self) -> int:
        """The current stage (0 = the base resolution)."""
        return self.generator.stage

    @property
    def total_steps(self) -> int:
        """Generator updates until the schedule reaches full resolution with alpha = 1 and stays there."""
        return self.stable_steps + (self.num_stages - 1) * (self.fade_steps + self.stable_steps)

    def progress_at(self, step: int) -> tuple[int, float]:
        """(stage, alpha) for the update after ``step`` generator updates."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise _checks.fail("step", "a non-negative int (generator updates so far)", repr(step))
        step = int(step)
        if step < self.stable_steps:
            return 0, 1.0
        period = self.fade_steps + self.stable_steps
        stage, within = divmod(step - self.stable_steps, period)
        stage += 1
        if stage >= self.num_stages:
            return self.num_stages - 1, 1.0
        return stage, (within / self.fade_steps if within < self.fade_steps else 1.0)

    def set_progress(self, stage: int, alpha: float = 1.0) -> None:
        """Put every network (the EMA generator too) at ``stage`` with fade-in weight ``alpha``.

        A stage change rebuilds the train function, since the new blocks must be traced; alpha is a variable
        and needs no retrace.
        """
        stage = check_stage(stage, self.num_stages)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
            raise _checks.fail("alpha", "a number in [0, 1]", repr(alpha))
        changed = stage != self.generator.stage
        for net in self._progressive_nets():
            net.stage = stage
            net.alpha.assign(float(alpha))
        if changed:
            if getattr(self, "train_function", None) is not None:
                self.make_train_function(force=True)
            self.test_function = None
            self.predict_function = None

    def _progressive_nets(self) -> list:
        nets = [self.generator, self.discriminator]
        return nets + ([self.ema_generator] if self.ema_generator is not None else [])

    # -- training ----------------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, **kwargs) -> keras.callbacks.History:
        """:meth:`GAN.fit <ganapps.games.gan.GAN.fit>` with a :class:`ProgressiveSchedule` callback added
        unless ``callbacks`` already holds one."""
        callbacks = kwargs.pop("callbacks", None)
        if isinstance(callbacks, keras.callbacks.CallbackList):
            if not any(isinstance(c, ProgressiveSchedule) for c in callbacks.callbacks):
                schedule = ProgressiveSchedule()
                schedule.set_model(self)
                callbacks.append(schedule)
        else:
            callbacks = list(callbacks or [])
            if not any(isinstance(c, ProgressiveSchedule) for c in callbacks):
                callbacks.append(ProgressiveSchedule())  # last: after a BackupAndRestore has restored the step
        return super().fit(x, y, callbacks=callbacks, **kwargs)

    def train_step(self, data: Any) -> dict[str, Any]:
        with warnings.catch_warnings():
            # The blocks of other stages get no gradient by design; Keras would warn about them at each trace.
            warnings.filterwarnings("ignore", message="Gradients do not exist for variables")
            logs = super().train_step(data)
        logs["stage"] = ops.convert_to_tensor(self.generator.stage, "int32")
        logs["resolution"] = ops.convert_to_tensor(self.generator.resolution()[0], "int32")
        logs["alpha"] = ops.convert_to_tensor(self.generator.alpha)
        return logs

    def _unpack(self, data: Any) -> tuple[Any, Any]:
        """The real batch faded between resolutions like the generator's output (nothing changes at alpha = 1
        or at stage 0)."""
        real, condition = super()._unpack(data)
        return self.discriminator.blend_real(real), condition

    def _update_ema(self) -> None:
        decay = self.ema_decay
        for averaged, current in zip(self.ema_generator.weights, self.generator.weights):
            if current is self.generator.alpha:  # set by set_progress, not averaged
                continue
            averaged.assign(decay * averaged + (1.0 - decay) * current)

    # -- sampling ----------------------------------------------------------------------------------------
    def call(self, z: Any, training: bool = False) -> Any:
        """Generate from latents ``z`` at the current stage (the EMA generator when there is one and not
        training)."""
        net = self.generator if training or self.ema_generator is None else self.ema_generator
        return net(z, training=training)

    @property
    def inference_generator(self) -> keras.Model:
        """A functional generator at the current stage sharing the (EMA) generator's layers: at alpha = 1 an
        ordinary fixed-size generator, which is what :func:`ganapps.export.export_generator` exports."""
        net = self.ema_generator if self.ema_generator is not None else self.generator
        return net.functional()

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"fade_steps": self.fade_steps, "stable_steps": self.stable_steps})
        return config


class ProgressiveSchedule(keras.callbacks.Callback):
    """Sets a :class:`ProgressiveGAN`'s stage and alpha before each batch from its generator update count.

    The count is read from ``g_optimizer.iterations`` at the start of training and of each epoch (so a
    restored optimizer resumes the schedule) and advanced locally in between (no device read per batch).
    """

    def set_model(self, model: keras.Model) -> None:
        if not isinstance(model, ProgressiveGAN):
            raise _checks.fail("model", "a ProgressiveGAN", type(model).__name__)
        super().set_model(model)

    def _sync(self) -> None:
        self._step = int(ops.convert_to_numpy(self.model.g_optimizer.iterations))
        self._progress = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._sync()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._sync()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._begin = batch
        progress = self.model.progress_at(self._step)
        if progress != self._progress:
            self.model.set_progress(*progress)
            self._progress = progress

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += batch - self._begin + 1  # more than one with steps_per_execution
