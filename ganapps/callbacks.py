"""Callbacks for adversarial training beyond Keras's own.

- :class:`SampleGrid`: a PNG grid of samples from one fixed latent batch every N epochs, so progress is
  comparable from grid to grid.
- :class:`NaNGuard`: stops training when any reported metric becomes NaN or infinite, restores the weights of
  the last epoch that ended finite, and says why.
- :class:`CosineDecay` and :class:`LinearDecay` (CycleGAN's hold-then-decay): learning-rate schedules set on
  a game's optimizers before every batch of one ``fit``.

For resumable training use Keras's own ``keras.callbacks.BackupAndRestore(backup_dir)``: the games build their
optimizers at ``compile``, so the optimizer state is restored with the weights (``ganapps train --resume``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import keras
import numpy as np

from ganapps import _checks
from ganapps.images import save_grid
from ganapps.runtime import sample_normal


class SampleGrid(keras.callbacks.Callback):
    """Save ``epoch_XXXX.png`` (and ``latest.png``) grids of samples from a fixed latent batch.

    Args:
        directory: where the PNG files go.
        n: samples per grid.
        every: write a grid every ``every`` epochs (and always after the last one).
        seed: seed of the fixed latent batch.
        truncation: optional truncation threshold for the latents.
        nrow: images per row (default: square-ish).
        verbose: print the path of each grid written.
    """

    def __init__(self, directory: str | os.PathLike, n: int = 64, every: int = 1, seed: int = 0,
                 truncation: float | None = None, nrow: int | None = None, verbose: bool = False):
        super().__init__()
        _checks.positive_int(every, "every")
        _checks.positive_int(n, "n")
        self.directory = Path(directory)
        self.n, self.every, self.seed, self.truncation, self.nrow = n, every, seed, truncation, nrow
        self.verbose = verbose
        self.written: list[Path] = []
        self._z = None
        self._last_epoch = -1

    def on_train_begin(self, logs=None):
        latent_dim = getattr(self.model, "latent_dim", None)
        if latent_dim is None:
            raise ValueError(f"model: expected a ganapps game with a latent_dim for SampleGrid; got "
                             f"{type(self.model).__name__}")
        self._z = sample_normal(self.n, latent_dim, seed=self.seed, truncation=self.truncation)

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if (epoch + 1) % self.every == 0:
            self._write(epoch)

    def on_train_end(self, logs=None):
        if self._last_epoch >= 0 and (self._last_epoch + 1) % self.every != 0:
            self._write(self._last_epoch)

    def _write(self, epoch: int) -> None:
        images = keras.ops.convert_to_numpy(self.model(self._z, training=False))
        path = save_grid(images, self.directory / f"epoch_{epoch + 1:04d}.png", nrow=self.nrow)
        save_grid(images, self.directory / "latest.png", nrow=self.nrow)
        self.written.append(path)
        if self.verbose:
            print(f"SampleGrid: wrote {path}")


class NaNGuard(keras.callbacks.Callback):
    """Stop training on a NaN/Inf metric and restore the state of the last finite epoch.

    The state is the model's weights and its optimizers' variables (a NaN gradient poisons the moments too),
    so training can continue from the restored model, e.g. with a lower learning rate.

    After a stop, ``stopped_reason`` says which metric went bad at which epoch and batch.

    Args:
        verbose: print the reason when it stops training.
    """

    def __init__(self, verbose: bool = True):
        super().__init__()
        self.verbose = verbose
        self.stopped_reason: str | None = None
        self._good_state: list[np.ndarray] | None = None
        self._epoch = 0

    def _variables(self) -> list:
        """The model's variables and those of every optimizer it holds (one, or a game's two)."""
        found = list(self.model.variables)
        for name in ("optimizer", "g_optimizer", "d_optimizer"):
            optimizer = getattr(self.model, name, None)
            if isinstance(optimizer, keras.optimizers.Optimizer):
                found.extend(optimizer.variables)
        return found

    def on_train_begin(self, logs=None):
        self.stopped_reason = None
        self._good_state = [keras.ops.convert_to_numpy(v) for v in self._variables()]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        if self._check(logs, f"the end of epoch {epoch + 1}"):
            self._good_state = [keras.ops.convert_to_numpy(v) for v in self._variables()]

    def _check(self, logs, where: str) -> bool:
        if self.stopped_reason is not None:
            return False
        bad = {k: v for k, v in (logs or {}).items() if _is_number(v) and not math.isfinite(float(v))}
        if not bad:
            return True
        self.stopped_reason = (f"NaNGuard: {', '.join(f'{k}={float(v)}' for k, v in bad.items())} at {where}; "
                               f"training stopped and the weights and optimizer state of the last finite "
                               f"epoch restored")
        self.model.stop_training = True
        if self._good_state is not None:
            for variable, value in zip(self._variables(), self._good_state):
                variable.assign(value)
        if self.verbose:
            print("\n" + self.stopped_reason)
        return False


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class _RateSchedule(keras.callbacks.Callback):
    """Sets the learning rate of some of the model's optimizers to ``rate(step)`` before every batch of a fit.

    Keras's schedules live inside an optimizer and count its lifetime iterations; a game trained in phases (an
    SRGAN's PSNR phase, then its adversarial phase) needs a schedule to span one ``fit``, and a game with two
    optimizers (a CycleGAN's) one schedule for both, so the rate is set from outside, the step counted from 0 at
    the start of each fit. With ``steps_per_execution > 1`` the batch hooks run once per execution: count steps
    in executions then. Subclasses define :meth:`rate`.
    """

    def __init__(self, initial: float, optimizers: tuple[str, ...], argument: str):
        super().__init__()
        if isinstance(initial, bool) or not isinstance(initial, (int, float)) or not initial > 0:
            raise _checks.fail("initial", "a positive learning rate", repr(initial))
        self.initial = float(initial)
        self._attributes = optimizers
        self._argument = argument
        self._optimizers: list = []
        self._step = 0

    def rate(self, step: int) -> float:
        """The learning rate at batch ``step`` (0-based) of the fit."""
        raise NotImplementedError

    def on_train_begin(self, logs=None) -> None:
        self._optimizers = [self._resolve(attribute) for attribute in self._attributes]
        self._step = 0

    def _resolve(self, attribute: str) -> keras.optimizers.Optimizer:
        optimizer = getattr(self.model, attribute, None)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise _checks.fail(self._argument, "the name of the model's optimizer attribute",
                               f"{attribute!r}, which is not an optimizer of {type(self.model).__name__}")
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's wrapped optimizer
        if isinstance(inner._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise _checks.fail(self._argument, f"an optimizer with a fixed learning rate for {type(self).__name__} "
                               f"to set", f"{attribute!r}, whose rate is a {type(inner._learning_rate).__name__} "
                               "schedule already")
        return optimizer

    def on_train_batch_begin(self, batch, logs=None) -> None:
        rate = self.rate(self._step)
        for optimizer in self._optimizers:
            optimizer.learning_rate = rate
        self._step += 1


class CosineDecay(_RateSchedule):
    """Cosine learning-rate decay of one of a game's optimizers, step by step, over one ``fit``.

    The rate before batch t is ``final + (initial - final) * (1 + cos(pi * t / steps)) / 2``.

    Args:
        steps: batches the decay spans (the rate stays at ``final`` after them).
        initial: the rate at the first batch.
        final_fraction: the final rate as a fraction of ``initial``.
        optimizer: the game's attribute holding the optimizer (``"g_optimizer"``, ``"d_optimizer"``, or
            ``"optimizer"`` for a plain model).
    """

    def __init__(self, steps: int, initial: float, final_fraction: float = 0.01, optimizer: str = "g_optimizer"):
        self.steps = _checks.positive_int(steps, "steps")
        super().__init__(initial, (optimizer,), "optimizer")
        if isinstance(final_fraction, bool) or not isinstance(final_fraction, (int, float)) \
                or not 0.0 <= final_fraction <= 1.0:
            raise _checks.fail("final_fraction", "a number in [0, 1]", repr(final_fraction))
        self.final = self.initial * float(final_fraction)
        if not isinstance(optimizer, str):
            raise _checks.fail("optimizer", "the name of the model's optimizer attribute, such as 'g_optimizer'",
                               repr(optimizer))
        self.optimizer_attribute = optimizer

    def rate(self, step: int) -> float:
        """The learning rate at batch ``step`` (0-based) of the fit."""
        t = min(step, self.steps) / self.steps
        return self.final + (self.initial - self.final) * 0.5 * (1.0 + math.cos(math.pi * t))


class LinearDecay(_RateSchedule):
    """CycleGAN's schedule: the rate holds at ``initial`` for ``hold_steps`` batches, then falls linearly to 0
    over ``decay_steps`` batches (the paper: 100 epochs at 2e-4, then 100 epochs of decay), set on each named
    optimizer before every batch of a ``fit``.

    The rate before batch t is ``initial * min(1, max(0, 1 - (t - hold_steps) / decay_steps))``: ``initial`` up to
    batch ``hold_steps``, ``initial / decay_steps`` at the last batch of the decay, 0 after it.

    Args:
        hold_steps: batches at the initial rate (0 starts the decay at once).
        decay_steps: batches the decay to 0 spans.
        initial: the rate while it holds.
        optimizers: the model's attributes holding the optimizers to set (a game's ``"g_optimizer"`` and
            ``"d_optimizer"`` by default; ``("optimizer",)`` for a plain model).
    """

    def __init__(self, hold_steps: int, decay_steps: int, initial: float,
                 optimizers: tuple[str, ...] = ("g_optimizer", "d_optimizer")):
        self.hold_steps = _checks.non_negative_int(hold_steps, "hold_steps")
        self.decay_steps = _checks.positive_int(decay_steps, "decay_steps")
        if isinstance(optimizers, str) or not isinstance(optimizers, (tuple, list)) or not optimizers \
                or not all(isinstance(name, str) for name in optimizers):
            raise _checks.fail("optimizers", "a non-empty tuple of the model's optimizer attribute names, such as "
                               "('g_optimizer', 'd_optimizer')", repr(optimizers))
        super().__init__(initial, tuple(optimizers), "optimizers")

    def rate(self, step: int) -> float:
        """The learning rate at batch ``step`` (0-based) of the fit."""
        remaining = 1.0 - (step - self.hold_steps) / self.decay_steps
        return self.initial * min(1.0, max(0.0, remaining))
