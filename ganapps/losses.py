"""Adversarial losses, penalties and reconstruction losses.

Conventions:

* Adversarial losses are pure functions of discriminator **logits**: unbounded real scores, where a
  probability is meant it is ``D(x) = sigmoid(logit)``. Logits may have any shape (``[B, 1]``, or a PatchGAN's
  ``[B, h, w, 1]``); every element counts as one decision and the loss is the mean over all of them.
* Each loss is a pair ``discriminator_loss(real_logits, fake_logits)`` and
  ``generator_loss(real_logits, fake_logits)``. Both take both arguments so that every pair has one
  signature; most generator losses ignore ``real_logits``. Both are minimised by their player and return a
  float32 scalar: the mean over the batch.
* Scaling for ``tf.distribute`` (dividing by the global rather than the per-replica batch size) is the
  caller's job: a game multiplies these per-replica means by ``1 / num_replicas_in_sync``.
* Pairs are chosen by name from one registry (:data:`LOSSES`, see :func:`names`), or passed as an
  :class:`AdversarialLoss` or a ``(discriminator_loss, generator_loss)`` tuple; :func:`get` resolves all three.
* Penalties (:func:`gradient_penalty`, :func:`r1_penalty`) need the discriminator itself, not only its logits.
  They use ``tf.GradientTape`` (TensorFlow backend) and compile under ``tf.function(jit_compile=True)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Any, Callable, Union

import keras
import tensorflow as tf
from keras import ops

Tensor = Any
"""Anything ``keras.ops`` accepts: a backend tensor, a NumPy array, a Python number."""

LossFn = Callable[[Tensor, Tensor], Tensor]

_GP_NORM_EPSILON = 1e-12

__all__ = [
    "AdversarialLoss", "LOSSES", "get", "register", "names", "smoothed_discriminator_loss",
    "gradient_penalty", "r1_penalty", "r1", "reconstruction_loss",
]


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of adversarial losses, each ``fn(real_logits, fake_logits) -> scalar``.

    ``generator_uses_real`` says whether the generator's loss reads the real logits (relativistic losses do);
    a game recomputes D(real) in its generator step only when it does. It defaults to True, the safe choice
    for custom pairs.
    """

    name: str
    discriminator_loss: LossFn
    generator_loss: LossFn
    generator_uses_real: bool = True

    def __post_init__(self) -> None:
        for field in ("discriminator_loss", "generator_loss"):
            value = getattr(self, field)
            if not callable(value):
                raise ValueError(f"{field}: expected a callable (real_logits, fake_logits) -> scalar; "
                                 f"got {value!r}")


def _logits(x: Tensor) -> Tensor:
    return ops.cast(x, "float32")


# Minimax / non-saturating. With D = sigmoid(l): -log D = softplus(-l) and -log(1 - D) = softplus(l).

def _minimax_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    real, fake = _logits(real_logits), _logits(fake_logits)
    return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))


def _minimax_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    del real_logits
    return -ops.mean(ops.softplus(_logits(fake_logits)))


def _non_saturating_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    del real_logits
    return ops.mean(ops.softplus(-_logits(fake_logits)))


def _wasserstein_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return ops.mean(_logits(fake_logits)) - ops.mean(_logits(real_logits))


def _critic_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    del real_logits
    return -ops.mean(_logits(fake_logits))


def _hinge_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    real, fake = _logits(real_logits), _logits(fake_logits)
    return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))


# LSGAN with targets a=0 (fake), b=1 (real) for D and c=1 for G.

def _least_squares_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    real, fake = _logits(real_logits), _logits(fake_logits)
    return 0.5 * ops.mean(ops.square(real - 1.0)) + 0.5 * ops.mean(ops.square(fake))


def _least_squares_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    del real_logits
    return 0.5 * ops.mean(ops.square(_logits(fake_logits) - 1.0))


# Relativistic average GAN: each side is judged against the mean logit of the other side.

def _relativistic_logits(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    real, fake = _logits(real_logits), _logits(fake_logits)
    return real - ops.mean(fake), fake - ops.mean(real)


def _relativistic_average_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    c_real, c_fake = _relativistic_logits(real_logits, fake_logits)
    return ops.mean(ops.softplus(-c_real)) + ops.mean(ops.softplus(c_fake))


def _relativistic_average_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    c_real, c_fake = _relativistic_logits(real_logits, fake_logits)
    return ops.mean(ops.softplus(c_real)) + ops.mean(ops.softplus(-c_fake))


LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss for loss in (
        AdversarialLoss("minimax", _minimax_d, _minimax_g, generator_uses_real=False),
        AdversarialLoss("non_saturating", _minimax_d, _non_saturating_g, generator_uses_real=False),
        AdversarialLoss("wasserstein", _wasserstein_d, _critic_g, generator_uses_real=False),
        AdversarialLoss("hinge", _hinge_d, _critic_g, generator_uses_real=False),
        AdversarialLoss("least_squares", _least_squares_d, _least_squares_g, generator_uses_real=False),
        AdversarialLoss("relativistic_average", _relativistic_average_d, _relativistic_average_g),
    )
}
"""The registry: loss name -> :class:`AdversarialLoss`. Add to it with :func:`register`."""


def names() -> list[str]:
    """Return the registered loss names, sorted."""
    return sorted(LOSSES)


def register(name: str, discriminator_loss: LossFn, generator_loss: LossFn, *,
             overwrite: bool = False, generator_uses_real: bool = True) -> AdversarialLoss:
    """Add a loss pair to the registry so that ``get(name)`` (and ``loss=name`` in a game) finds it.

    Args:
        name: the name to register it under.
        discriminator_loss: ``fn(real_logits, fake_logits) -> scalar`` minimised by the discriminator.
        generator_loss: ``fn(real_logits, fake_logits) -> scalar`` minimised by the generator.
        overwrite: replace an existing entry of the same name instead of raising.
        generator_uses_real: whether ``generator_loss`` reads the real logits (False saves a forward pass).

    Returns:
        The registered :class:`AdversarialLoss`.

    Raises:
        ValueError: the name is empty or not a string, is already taken (and ``overwrite`` is false), or either
            loss is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string; got {name!r}")
    if name in LOSSES and not overwrite:
        raise ValueError(f"name: expected a name not yet registered (or overwrite=True to replace it); got "
                         f"{name!r}, which is taken")
    loss = AdversarialLoss(name, discriminator_loss, generator_loss, generator_uses_real)
    LOSSES[name] = loss
    return loss


def get(loss: Union[str, AdversarialLoss, tuple[LossFn, LossFn]]) -> AdversarialLoss:
    """Resolve ``loss`` to an :class:`AdversarialLoss`.

    Args:
        loss: a registered name (see :func:`names`), an :class:`AdversarialLoss` (returned as is), or a
            ``(discriminator_loss, generator_loss)`` pair of callables (named ``"custom"``).

    Raises:
        ValueError: ``loss`` is an unknown name or anything else; the message lists the known names.
    """
    if isinstance(loss, AdversarialLoss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]
    if (isinstance(loss, (tuple, list)) and len(loss) == 2
            and callable(loss[0]) and callable(loss[1])):
        return AdversarialLoss("custom", loss[0], loss[1])
    known = ", ".join(repr(n) for n in names())
    hint = ""
    if isinstance(loss, str):
        close = difflib.get_close_matches(loss, names(), n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    raise ValueError(f"loss: expected one of {known} or a (discriminator_loss, generator_loss) pair of "
                     f"callables; got {loss!r}{hint}")


# One-sided label smoothing (Salimans et al. 2016, section 3.4): the discriminator's real target becomes
# 1 - s while the fake target stays 0, which caps how confident D grows on real data without moving the
# optimum D towards regions the generator does not cover (smoothing the fake side too would).

def _smoothed_cross_entropy_d(smoothing: float) -> LossFn:
    def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real, fake = _logits(real_logits), _logits(fake_logits)
        real_term = (1.0 - smoothing) * ops.softplus(-real) + smoothing * ops.softplus(real)
        return ops.mean(real_term) + ops.mean(ops.softplus(fake))

    return discriminator_loss


def _smoothed_least_squares_d(smoothing: float) -> LossFn:
    def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real, fake = _logits(real_logits), _logits(fake_logits)
        return 0.5 * ops.mean(ops.square(real - (1.0 - smoothing))) + 0.5 * ops.mean(ops.square(fake))

    return discriminator_loss


_SMOOTHABLE = {_minimax_d: _smoothed_cross_entropy_d, _least_squares_d: _smoothed_least_squares_d}


def smoothed_discriminator_loss(loss: Union[str, AdversarialLoss, tuple[LossFn, LossFn]],
                                smoothing: float) -> LossFn:
    """The discriminator loss of ``loss`` with one-sided label smoothing: real targets ``1 - smoothing``.

    Defined where the loss has a real *target*: the cross-entropy losses (``"minimax"``, ``"non_saturating"``:
    ``-(1 - s) log D(x) - s log(1 - D(x))`` on real data) and ``"least_squares"`` (real target ``b = 1 - s``).
    Hinge, Wasserstein and relativistic losses have margins or no targets at all, so smoothing them raises.
    The generator's loss is unchanged. ``smoothing=0`` returns the loss's own discriminator loss.

    Raises:
        ValueError: ``smoothing`` is outside [0, 1), or is positive for a loss it has no meaning for.
    """
    loss = get(loss)
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"label_smoothing: expected a number in [0, 1) such as 0.1; got {smoothing!r}")
    if smoothing == 0:
        return loss.discriminator_loss
    make = _SMOOTHABLE.get(loss.discriminator_loss)
    if make is None:
        raise ValueError(f"label_smoothing: expected 0 for the {loss.name!r} loss (smoothing sets the real "
                         f"target of 'minimax', 'non_saturating' and 'least_squares'; other losses have none); "
                         f"got {smoothing!r}")
    return make(float(smoothing))


# Penalties.

def _call_discriminator(discriminator: Callable[..., Tensor], x: Tensor) -> Tensor:
    """Call ``discriminator(x, training=True)``, or ``discriminator(x)`` if it takes no ``training``."""
    if isinstance(discriminator, keras.layers.Layer):
        return discriminator(x, training=True)
    try:
        parameters = inspect.signature(discriminator).parameters.values()
    except (TypeError, ValueError):
        return discriminator(x)
    if any(p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return discriminator(x, training=True)
    return discriminator(x)


def _as_float(x: Tensor, name: str) -> tf.Tensor:
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, "float32")
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"{name}: expected a batch with a leading batch axis; got shape {x.shape}")
    return x


def _per_sample_input_gradient(discriminator: Callable[..., Tensor], x: tf.Tensor) -> tf.Tensor:
    """Gradient of the per-sample summed discriminator output w.r.t. ``x``, flattened to ``[B, -1]``."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.convert_to_tensor(_call_discriminator(discriminator, x))
        scores = tf.reduce_sum(tf.reshape(out, [tf.shape(out)[0], -1]), axis=1)
    grad = tape.gradient(scores, x)
    if grad is None:
        raise ValueError("discriminator: expected an output that depends on its input (a gradient to "
                         "penalise); got one that does not")
    return tf.cast(tf.reshape(grad, [tf.shape(grad)[0], -1]), "float32")


def gradient_penalty(discriminator: Callable[..., Tensor], real: Tensor, fake: Tensor,
                     seed: Union[keras.random.SeedGenerator, int, None] = None,
                     eps: Tensor | None = None) -> tf.Tensor:
    """WGAN-GP penalty: ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` on random interpolates of real and fake.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ Uniform[0, 1]`` per sample. The discriminator
    output is summed over its non-batch axes (so PatchGAN maps work) and the gradient norm is taken over all
    non-batch axes of the input. A tiny epsilon inside the square root keeps the penalty differentiable where
    the gradient vanishes. The result is the mean over samples (unscaled: multiply by lambda, usually 10).

    Args:
        discriminator: a ``keras.Model`` or any callable ``discriminator(x, training=...)``; callables without
            a ``training`` argument are called as ``discriminator(x)``.
        real: a batch of real inputs ``[B, ...]``.
        fake: a batch of generated inputs of the same shape.
        seed: a ``keras.random.SeedGenerator`` (use one inside a ``train_step``: it advances on every call),
            an int (the same ``eps`` on every call: for reproducible one-off evaluations), or None (Keras's
            global seed generator).
        eps: the interpolation weights, shape ``[B]`` in [0, 1], instead of drawing them (a game under a
            distribution strategy passes each replica its own slice of one global draw).

    Returns:
        A float32 scalar.
    """
    real = _as_float(real, "real")
    fake = tf.cast(tf.convert_to_tensor(fake), real.dtype)
    if real.shape.is_fully_defined() and fake.shape.is_fully_defined() and real.shape != fake.shape:
        raise ValueError(f"fake: expected the shape of real, {tuple(real.shape)}; got {tuple(fake.shape)}")
    eps_shape = [tf.shape(real)[0]] + [1] * (real.shape.rank - 1)
    if eps is None:
        eps = keras.random.uniform(eps_shape, minval=0.0, maxval=1.0, dtype=real.dtype, seed=seed)
    else:
        eps = tf.reshape(tf.cast(eps, real.dtype), eps_shape)
    x_hat = eps * real + (1.0 - eps) * fake
    grad = _per_sample_input_gradient(discriminator, x_hat)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=1) + _GP_NORM_EPSILON)
    return tf.reduce_mean(tf.square(norm - 1.0))


def r1_penalty(discriminator: Callable[..., Tensor], real: Tensor) -> tf.Tensor:
    """R1 penalty: ``E[||grad_x D(x)||_2^2]`` on real data (unscaled: callers multiply by ``gamma / 2``).

    Args:
        discriminator: a ``keras.Model`` or any callable ``discriminator(x, training=...)``; its output is summed
            over non-batch axes before differentiating.
        real: a batch of real inputs ``[B, ...]``.

    Returns:
        A float32 scalar, the mean over samples.
    """
    grad = _per_sample_input_gradient(discriminator, _as_float(real, "real"))
    return tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=1))


r1 = r1_penalty
"""Alias of :func:`r1_penalty` (the name the R1 regulariser goes by)."""


_RECONSTRUCTION_KINDS = ("l1", "l2")


def reconstruction_loss(a: Tensor, b: Tensor, kind: str = "l1") -> Tensor:
    """Mean absolute (``"l1"``) or mean squared (``"l2"``) difference of ``a`` and ``b``, as a float32 scalar."""
    if kind not in _RECONSTRUCTION_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(map(repr, _RECONSTRUCTION_KINDS))}; got {kind!r}")
    diff = ops.cast(a, "float32") - ops.cast(b, "float32")
    return ops.mean(ops.abs(diff)) if kind == "l1" else ops.mean(ops.square(diff))
