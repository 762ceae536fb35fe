"""Adversarial attacks on classifiers: functions of ``(model, x, y, ...)`` that return perturbed copies of ``x``.

Every attack runs its gradient loop inside one compiled ``tf.function`` per (model, settings), batched, on
models that output logits or softmax probabilities. ``eps`` is in input units (the library's images are in
[-1, 1]); ``clip_min``/``clip_max`` keep the adversarial examples in the valid input range.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganapps import _checks

__all__ = ["RobustAccuracy", "cw_l2", "fgsm", "pgd", "plot_robust_accuracy", "robust_accuracy",
           "robust_accuracy_markdown", "transfer_rate"]

_LOSS_FROM = ("auto", "logits", "probabilities")
_NORMS = ("linf", "l2")
_TINY = 1e-12

# model -> {settings: tf.function}; weak so that a dropped model frees its compiled loops (the loops reach the
# model through a weak reference too).
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------------------------------------------
# argument checks


def _check_model(model: Any, argument: str = "model") -> keras.Model:
    if not callable(model):
        raise _checks.fail(argument, "a callable keras model", type(model).__name__)
    return model


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise _checks.fail("x", "an array of numbers", _checks.short(x)) from None
    if x.ndim < 2 or len(x) == 0:
        raise _checks.fail("x", "a non-empty batch of samples (at least 2 dimensions)", f"shape {x.shape}")
    y_array = np.asarray(y)
    if y_array.ndim != 1 or not np.issubdtype(y_array.dtype, np.integer):
        raise _checks.fail("y", "a 1-D array of integer class labels", _checks.short(y))
    if len(y_array) != len(x):
        raise _checks.fail("y", f"{len(x)} labels, one per sample of x", f"{len(y_array)} labels")
    return x, y_array.astype(np.int32)


def _check_clip(clip_min: Any, clip_max: Any) -> tuple[float | None, float | None]:
    values = []
    for value, argument in ((clip_min, "clip_min"), (clip_max, "clip_max")):
        if value is None:
            values.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise _checks.fail(argument, "a finite number or None", repr(value))
        values.append(float(value))
    if values[0] is not None and values[1] is not None and values[0] > values[1]:
        raise _checks.fail("clip_max", f"a number >= clip_min ({values[0]})", repr(clip_max))
    return values[0], values[1]


def _check_choice(value: Any, choices: tuple[str, ...], argument: str) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise _checks.fail(argument, "one of " + ", ".join(repr(c) for c in choices), repr(value))
    return value.lower()


def _check_bool(value: Any, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _checks.fail(argument, "True or False", repr(value))
    return bool(value)


# --------------------------------------------------------------------------------------------------------------
# helpers


def last_layer_is_softmax(model: keras.Model) -> bool:
    """Whether the model's last layer is a softmax (a ``Softmax`` layer or a softmax activation): its outputs are
    probabilities, which is all that can be told without running it."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    if isinstance(last, keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


def _outputs_probabilities(model: keras.Model, x: np.ndarray, loss_from: str) -> bool:
    """Whether the model's outputs are softmax probabilities: its last layer says so, or its outputs on the
    first batch look like a distribution (in [0, 1], rows summing to 1)."""
    if loss_from != "auto":
        return loss_from == "probabilities"
    if last_layer_is_softmax(model):
        return True
    out = np.asarray(model(x[:256], training=False), dtype=np.float64)
    return bool(out.ndim == 2 and out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(-1), 1, atol=1e-3))


def _as_logits(out: tf.Tensor, probabilities: bool) -> tf.Tensor:
    """Log-probabilities stand in for logits: the softmax cross-entropy of either is the same loss."""
    out = tf.cast(out, tf.float32)
    return tf.math.log(tf.clip_by_value(out, _TINY, 1.0)) if probabilities else out


def _per_sample_norm(t: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, len(t.shape)))
    return tf.sqrt(tf.reduce_sum(tf.square(t), axis=axes, keepdims=True))


def clip_range(x: tf.Tensor, clip_min: float | None, clip_max: float | None) -> tf.Tensor:
    """``x`` clipped into the valid input range (either bound may be ``None``)."""
    if clip_min is not None:
        x = tf.maximum(x, tf.cast(clip_min, x.dtype))
    if clip_max is not None:
        x = tf.minimum(x, tf.cast(clip_max, x.dtype))
    return x


def project(delta: tf.Tensor, eps: tf.Tensor | float, norm: str) -> tf.Tensor:
    """``delta`` projected onto the ``norm`` ball of radius ``eps`` (per sample for ``"l2"``)."""
    if norm == "linf":
        return tf.clip_by_value(delta, -eps, eps)
    return delta * tf.minimum(1.0, eps / tf.maximum(_per_sample_norm(delta), _TINY))


def ball_start(x0: tf.Tensor, eps: tf.Tensor | float, norm: str, uniform: Callable, normal: Callable) -> tf.Tensor:
    """A random start inside the ``eps``-ball: uniform in the Linf cube, or for ``"l2"`` a uniform direction at a
    radius uniform in volume. ``uniform(shape, low, high)`` and ``normal(shape)`` draw the numbers, so callers
    choose stateless seeds (the attacks) or a ``keras.random.SeedGenerator`` (a training game)."""
    shape = tf.shape(x0)
    if norm == "linf":
        return uniform(shape, -1.0, 1.0) * eps
    dims = tf.cast(tf.reduce_prod(shape[1:]), tf.float32)
    direction = normal(shape)
    per_sample = tf.concat([shape[:1], tf.ones_like(shape[1:])], 0)
    radius = uniform(per_sample, 0.0, 1.0) ** (1.0 / dims)
    return direction / tf.maximum(_per_sample_norm(direction), _TINY) * radius * eps


def input_loss_scale(model: Any) -> float:
    """The factor an attack multiplies its objective by before differentiating: 2**12 for a model computing in
    float16 (``mixed_float16``), whose input gradients otherwise underflow to 0 so that signed steps never move;
    1 otherwise. Signed and normalised steps do not depend on the objective's scale."""
    policy = getattr(model, "dtype_policy", None)
    return 4096.0 if getattr(policy, "compute_dtype", "float32") == "float16" else 1.0


def input_gradient(objective: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor, loss_scale: float = 1.0) -> tf.Tensor:
    """The float32 gradient of the scalar ``objective`` at ``x``. With a ``loss_scale`` (a float16 model, see
    :func:`input_loss_scale`) it differentiates the objective both as is and scaled, from one forward pass, and
    takes per sample the scaled gradient divided back where it is finite (small gradients survive float16) and
    the plain one where scaling overflowed (large ones do not need it)."""
    if loss_scale == 1.0:
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.cast(objective(x), tf.float32)
        return tf.cast(tape.gradient(value, x), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        value = tf.cast(objective(x), tf.float32)
        scaled = value * loss_scale
    plain = tf.cast(tape.gradient(value, x), tf.float32)
    big = tf.cast(tape.gradient(scaled, x), tf.float32)
    del tape
    axes = list(range(1, len(x.shape)))
    finite = tf.reduce_all(tf.math.is_finite(big), axis=axes, keepdims=True)
    plain = tf.where(tf.math.is_finite(plain), plain, tf.zeros_like(plain))
    return tf.where(finite, big / loss_scale, plain)


def projected_ascent(objective: Callable[[tf.Tensor], tf.Tensor], x0: tf.Tensor, x: tf.Tensor,
                     eps: tf.Tensor | float, step_size: tf.Tensor | float, steps: int, norm: str,
                     clip_min: float | None, clip_max: float | None, loss_scale: float = 1.0) -> tf.Tensor:
    """``steps`` steps of projected gradient ascent of the scalar ``objective(x)`` from ``x``, kept in the
    ``eps``-ball around ``x0`` and the clip range: a signed step for ``"linf"``, a per-sample normalised one for
    ``"l2"``. The tensor core of :func:`pgd`, shared with :class:`ganapps.AdversarialTraining`'s train step; it
    runs as one ``tf.while_loop``, so it traces once whatever ``steps`` is. ``loss_scale`` is
    :func:`input_gradient`'s, for float16 models."""

    def body(i: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        grad = tf.stop_gradient(input_gradient(objective, x, loss_scale))
        if norm == "linf":
            x = x + step_size * tf.sign(grad)
        else:
            x = x + step_size * grad / tf.maximum(_per_sample_norm(grad), _TINY)
        return i + 1, clip_range(x0 + project(x - x0, eps, norm), clip_min, clip_max)

    _, x = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x), maximum_iterations=steps)
    return tf.stop_gradient(x)


def _attack_loop(model: keras.Model, sample_shape: tuple[int, ...], norm: str, steps: int, random_start: bool,
                 targeted: bool, probabilities: bool, clip_min: float | None, clip_max: float | None,
                 jit_compile: bool) -> Callable:
    """The compiled projected-gradient loop for these settings, built once and reused for every batch (its
    batch dimension is left open, so a short last batch does not retrace it)."""
    key = (tuple(sample_shape), norm, steps, random_start, targeted, probabilities, clip_min, clip_max, jit_compile)
    per_model = _COMPILED.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    net = weakref.ref(model)  # the cache's value must not hold its own key, or the model is never freed
    direction = -1.0 if targeted else 1.0
    loss_scale = input_loss_scale(model)

    def loop(x0: tf.Tensor, y: tf.Tensor, eps: tf.Tensor, step_size: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        if random_start:
            x = clip_range(x0 + ball_start(
                x0, eps, norm,
                uniform=lambda shape, low, high: tf.random.stateless_uniform(shape, seed, low, high, alg="philox"),
                normal=lambda shape: tf.random.stateless_normal(shape, seed + 1, alg="philox")), clip_min, clip_max)
        else:
            x = x0

        def objective(x_adv: tf.Tensor) -> tf.Tensor:
            logits = _as_logits(net()(x_adv, training=False), probabilities)
            return direction * tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

        return projected_ascent(objective, x0, x, eps, step_size, steps, norm, clip_min, clip_max, loss_scale)

    spec = tf.TensorSpec((None, *sample_shape), tf.float32)
    compiled = tf.function(loop, jit_compile=jit_compile, reduce_retracing=True, autograph=False, input_signature=[
        spec, tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.float32),
        tf.TensorSpec((2,), tf.int32)])
    per_model[key] = compiled
    return compiled


def _run(model: keras.Model, x: np.ndarray, y: np.ndarray, eps: float, step_size: float, steps: int, norm: str,
         random_start: bool, targeted: bool, clip_min: float | None, clip_max: float | None, loss_from: str,
         seed: int, batch_size: int, jit_compile: bool) -> np.ndarray:
    probabilities = _outputs_probabilities(model, x, loss_from)
    loop = _attack_loop(model, x.shape[1:], norm, steps, random_start, targeted, probabilities, clip_min,
                        clip_max, jit_compile)
    out = np.empty_like(x)
    for index, start in enumerate(range(0, len(x), batch_size)):
        end = start + batch_size
        out[start:end] = loop(tf.constant(x[start:end]), tf.constant(y[start:end]), tf.constant(eps, tf.float32),
                              tf.constant(step_size, tf.float32),
                              tf.constant([seed % (2 ** 31 - 1), index], tf.int32)).numpy()
    return out


# --------------------------------------------------------------------------------------------------------------
# attacks


def fgsm(model: keras.Model, x: Any, y: Any, eps: float, targeted: bool = False, clip_min: float | None = None,
         clip_max: float | None = None, loss_from: str = "auto", batch_size: int = 256,
         jit_compile: bool = False) -> np.ndarray:
    """The fast gradient sign method (Goodfellow et al. 2015): one step of ``eps`` along the sign of the
    cross-entropy's gradient, the cheapest attack and the one adversarial training with ``"fgsm"`` uses.

    Args:
        model: a classifier whose outputs are logits or softmax probabilities.
        x: inputs, shape ``(n, ...)``.
        y: int labels, shape ``(n,)``; with ``targeted`` the classes to push each sample toward.
        eps: the step in input units (``|x_adv - x|_inf <= eps``); 0 returns ``x`` unchanged.
        targeted: step down the loss of ``y`` (toward the target) instead of up the loss of the true class.
        clip_min, clip_max: the valid input range, ``None`` for unbounded.
        loss_from: ``"auto"`` (detect a softmax output), ``"logits"`` or ``"probabilities"``.
        batch_size: samples per compiled call.
        jit_compile: compile the step with XLA.
    """
    model = _check_model(model)
    x, y = _check_xy(x, y)
    eps = _checks.finite_non_negative(eps, "eps")
    targeted = _check_bool(targeted, "targeted")
    clip_min, clip_max = _check_clip(clip_min, clip_max)
    loss_from = _check_choice(loss_from, _LOSS_FROM, "loss_from")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    jit_compile = _check_bool(jit_compile, "jit_compile")
    if eps == 0:
        return x.copy()
    return _run(model, x, y, eps, eps, 1, "linf", False, targeted, clip_min, clip_max, loss_from, 0, batch_size,
                jit_compile)


def pgd(model: keras.Model, x: Any, y: Any, eps: float, step_size: float | None = None, steps: int = 10,
        norm: str = "linf", random_start: bool = True, targeted: bool = False, clip_min: float | None = None,
        clip_max: float | None = None, seed: int = 0, loss_from: str = "auto", batch_size: int = 256,
        jit_compile: bool = False) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018): the strongest first-order attack of the family, and the
    one robust accuracy is measured and adversarial training is done with.

    Each of ``steps`` steps moves ``step_size`` along the gradient's sign (``"linf"``) or its per-sample
    normalised direction (``"l2"``), then projects back onto the ``eps``-ball around ``x`` and into the clip
    range. With ``random_start`` it starts from a point uniform in the Linf ball, or in a uniform direction at a
    radius uniform in volume in the L2 ball, drawn from ``seed`` (the same seed gives the same result; with
    ``jit_compile`` XLA draws other numbers from it, so XLA and plain runs differ in their random starts).

    Args:
        model: a classifier whose outputs are logits or softmax probabilities.
        x: inputs, shape ``(n, ...)``.
        y: int labels, shape ``(n,)``; with ``targeted`` the classes to push each sample toward.
        eps: the radius of the ball in input units; 0 returns ``x`` unchanged.
        step_size: the step length; ``None`` for ``2.5 * eps / steps``.
        steps: gradient steps.
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a random point of the ball rather than ``x``.
        targeted: descend the loss of ``y`` (toward the target) instead of ascending the true class's.
        clip_min, clip_max: the valid input range, ``None`` for unbounded.
        seed: seeds the random start.
        loss_from: ``"auto"`` (detect a softmax output), ``"logits"`` or ``"probabilities"``.
        batch_size: samples per compiled call.
        jit_compile: compile the loop with XLA (off by default: on CPU it rarely pays back its compile time).
    """
    model = _check_model(model)
    x, y = _check_xy(x, y)
    eps = _checks.finite_non_negative(eps, "eps")
    steps = _checks.positive_int(steps, "steps")
    step_size = 2.5 * eps / steps if step_size is None else _checks.positive_float(step_size, "step_size")
    norm = _check_choice(norm, _NORMS, "norm")
    random_start = _check_bool(random_start, "random_start")
    targeted = _check_bool(targeted, "targeted")
    clip_min, clip_max = _check_clip(clip_min, clip_max)
    seed = _checks.non_negative_int(seed, "seed")
    loss_from = _check_choice(loss_from, _LOSS_FROM, "loss_from")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    jit_compile = _check_bool(jit_compile, "jit_compile")
    if eps == 0:
        return x.copy()
    return _run(model, x, y, eps, step_size, steps, norm, random_start, targeted, clip_min, clip_max, loss_from,
                seed, batch_size, jit_compile)


def _cw_loop(model: keras.Model, sample_shape: tuple[int, ...], steps: int, targeted: bool, probabilities: bool,
             confidence: float, clip_min: float, clip_max: float, jit_compile: bool) -> Callable:
    """The compiled inner Adam loop of ``cw_l2`` for these settings (batch dimension open). It returns, per
    sample, the squared L2 distance of the closest successful point it met (``inf`` if none) and that point."""
    key = ("cw_l2", tuple(sample_shape), steps, targeted, probabilities, confidence, clip_min, clip_max, jit_compile)
    per_model = _COMPILED.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    net = weakref.ref(model)  # the cache's value must not hold its own key, or the model is never freed
    middle, half = (clip_max + clip_min) / 2.0, (clip_max - clip_min) / 2.0
    loss_scale = input_loss_scale(model)
    axes = list(range(1, len(sample_shape) + 1))
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8

    def to_input(w: tf.Tensor) -> tf.Tensor:
        return tf.tanh(w) * half + middle

    def margins(x_adv: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(label logit - best other logit, whether the attack's goal is met), per sample."""
        logits = _as_logits(net()(x_adv, training=False), probabilities)
        one_hot = tf.one_hot(y, tf.shape(logits)[-1], dtype=logits.dtype)
        label = tf.reduce_sum(logits * one_hot, axis=-1)
        other = tf.reduce_max(logits - one_hot * 1e9, axis=-1)
        margin = label - other
        top = tf.argmax(logits, axis=-1, output_type=tf.int32)
        if targeted:
            return -margin, (margin >= confidence) & tf.equal(top, y)
        return margin, (-margin >= confidence) & tf.not_equal(top, y)

    def loop(x0: tf.Tensor, y: tf.Tensor, c: tf.Tensor, learning_rate: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # the 0.999999 keeps arctanh finite for inputs sitting on the clip bounds
        w = tf.atanh(tf.clip_by_value((x0 - middle) / half, -1.0, 1.0) * 0.999999)
        m, v = tf.zeros_like(w), tf.zeros_like(w)
        best_l2 = tf.fill(tf.shape(x0)[:1], np.float32(np.inf))
        best_adv = tf.identity(x0)
        expand = tf.concat([tf.shape(x0)[:1], tf.ones_like(tf.shape(x0)[1:])], 0)
        for t in tf.range(1, steps + 1):
            seen = {}  # the forward pass's values, kept for the bookkeeping below

            def objective(w_now: tf.Tensor) -> tf.Tensor:
                seen["x"] = to_input(w_now)
                seen["l2"] = tf.reduce_sum(tf.square(seen["x"] - x0), axis=axes)
                margin, seen["success"] = margins(seen["x"], y)
                return tf.reduce_sum(seen["l2"] + c * tf.maximum(margin, -confidence))

            grad = input_gradient(objective, w, loss_scale)
            better = seen["success"] & (seen["l2"] < best_l2)
            best_l2 = tf.where(better, seen["l2"], best_l2)
            best_adv = tf.where(tf.reshape(better, expand), seen["x"], best_adv)
            m = beta1 * m + (1.0 - beta1) * grad
            v = beta2 * v + (1.0 - beta2) * tf.square(grad)
            step = tf.cast(t, tf.float32)
            m_hat = m / (1.0 - tf.pow(beta1, step))
            v_hat = v / (1.0 - tf.pow(beta2, step))
            w = w - learning_rate * m_hat / (tf.sqrt(v_hat) + adam_eps)
        x_adv = to_input(w)
        l2 = tf.reduce_sum(tf.square(x_adv - x0), axis=axes)
        better = margins(x_adv, y)[1] & (l2 < best_l2)
        best_l2 = tf.where(better, l2, best_l2)
        best_adv = tf.where(tf.reshape(better, expand), x_adv, best_adv)
        return best_l2, best_adv

    compiled = tf.function(loop, jit_compile=jit_compile, reduce_retracing=True, input_signature=[
        tf.TensorSpec((None, *sample_shape), tf.float32), tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.float32)])
    per_model[key] = compiled
    return compiled


def cw_l2(model: keras.Model, x: Any, y: Any, targeted: bool = False, confidence: float = 0.0,
          c_init: float = 1e-2, binary_search_steps: int = 5, steps: int = 100, learning_rate: float = 0.01,
          clip_min: float = -1.0, clip_max: float = 1.0, loss_from: str = "auto", batch_size: int = 256,
          jit_compile: bool = False) -> np.ndarray:
    """Carlini & Wagner's L2 attack (2017): looks for the *smallest* perturbation that fools, rather than the
    strongest one within a budget, so it measures how close each sample sits to the decision boundary.

    With ``x_adv = tanh(w) * (clip_max - clip_min) / 2 + (clip_max + clip_min) / 2`` (so the clip range holds
    without projection), Adam on ``w`` minimises ``||x_adv - x||_2^2 + c * f(x_adv)``, where ``f`` is the
    logit margin ``max(z_y - max_{i != y} z_i, -confidence)`` (targeted: ``max(max_{i != y} z_i - z_y,
    -confidence)``). Per sample, ``c`` is raised 10x while no success was found and bisected between the
    largest failing and smallest succeeding value otherwise. Each sample returns its smallest-L2 successful
    example over all runs; a sample never fooled comes back unchanged.

    Args:
        model: a classifier whose outputs are logits or softmax probabilities (log-probabilities have the same
            margins as logits).
        x: inputs in ``[clip_min, clip_max]`` (values outside are clipped into it), shape ``(n, ...)``.
        y: int labels, shape ``(n,)``; with ``targeted`` the classes to reach.
        targeted: reach class ``y`` instead of leaving the true class ``y``.
        confidence: the margin (kappa) a success must have; larger gives examples that transfer better.
        c_init: the first loss constant of every sample.
        binary_search_steps: Adam runs per batch, each with updated constants.
        steps: Adam steps per run.
        learning_rate: Adam's step size on ``w``.
        clip_min, clip_max: the valid input range (both finite, ``clip_min < clip_max``).
        loss_from: ``"auto"`` (detect a softmax output), ``"logits"`` or ``"probabilities"``.
        batch_size: samples per compiled call.
        jit_compile: compile the loop with XLA.
    """
    model = _check_model(model)
    x, y = _check_xy(x, y)
    targeted = _check_bool(targeted, "targeted")
    confidence = _checks.finite_non_negative(confidence, "confidence")
    c_init = _checks.positive_float(c_init, "c_init")
    binary_search_steps = _checks.positive_int(binary_search_steps, "binary_search_steps")
    steps = _checks.positive_int(steps, "steps")
    learning_rate = _checks.positive_float(learning_rate, "learning_rate")
    for value, argument in ((clip_min, "clip_min"), (clip_max, "clip_max")):
        if value is None:
            raise _checks.fail(argument, "a finite number (cw_l2 needs a bounded input range)", "None")
    clip_min, clip_max = _check_clip(clip_min, clip_max)
    if clip_min >= clip_max:
        raise _checks.fail("clip_max", f"a number > clip_min ({clip_min})", repr(clip_max))
    loss_from = _check_choice(loss_from, _LOSS_FROM, "loss_from")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    jit_compile = _check_bool(jit_compile, "jit_compile")
    probabilities = _outputs_probabilities(model, x, loss_from)
    loop = _cw_loop(model, x.shape[1:], steps, targeted, probabilities, confidence, clip_min, clip_max,
                    jit_compile)
    out = x.copy()
    for start in range(0, len(x), batch_size):
        x_batch = x[start:start + batch_size]
        n = len(x_batch)
        x_tensor, y_tensor = tf.constant(x_batch), tf.constant(y[start:start + batch_size])
        c = np.full(n, c_init, np.float64)
        lower, upper = np.zeros(n), np.full(n, np.inf)
        best_l2 = np.full(n, np.inf)
        best_adv = x_batch.copy()
        for _ in range(binary_search_steps):
            l2, adv = loop(x_tensor, y_tensor, tf.constant(c, tf.float32), tf.constant(learning_rate, tf.float32))
            l2, adv = l2.numpy(), adv.numpy()
            better = l2 < best_l2
            best_l2[better], best_adv[better] = l2[better], adv[better]
            found = np.isfinite(l2)
            upper[found] = np.minimum(upper[found], c[found])
            lower[~found] = np.maximum(lower[~found], c[~found])
            bounded = np.isfinite(upper)
            c = np.where(bounded, (lower + upper) / 2.0, c * 10.0)
        out[start:start + n] = best_adv
    return out


# --------------------------------------------------------------------------------------------------------------
# transferability


def _predict(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return np.concatenate([np.argmax(np.asarray(model(x[i:i + batch_size], training=False)), axis=-1)
                           for i in range(0, len(x), batch_size)])


def transfer_rate(source_model: keras.Model, target_model: keras.Model, x: Any, y: Any,
                  attack: Callable[..., np.ndarray] = pgd, **attack_kwargs: Any) -> dict[str, float | int]:
    """How often adversarial examples made on one network fool another (Szegedy et al. 2014: the same
    perturbation often fools a network with a different architecture or trained on a different subset).

    ``attack(source_model, x, y, **attack_kwargs)`` (untargeted) makes the examples on the source alone; then

    - ``source_fooled``: the share of the samples the source classified correctly that it now gets wrong;
    - ``target_fooled``: the share of the samples *both* models classified correctly that the target now gets
      wrong (so the target's own clean errors do not count as transfer);
    - ``transfer_rate``: ``target_fooled``, the headline number;
    - ``n``: the samples attacked; ``n_source_correct`` and ``n_both_correct``: the denominators of the two
      shares (a share is NaN when its denominator is 0).

    Args:
        source_model, target_model: classifiers outputting logits or probabilities, on the same inputs.
        x: inputs, shape ``(n, ...)``.
        y: true int labels, shape ``(n,)``.
        attack: an attack of this module (or any function of ``(model, x, y, **kwargs)`` returning ``x_adv``).
        attack_kwargs: passed to ``attack`` (``eps`` at least).
    """
    source_model = _check_model(source_model, "source_model")
    target_model = _check_model(target_model, "target_model")
    if not callable(attack):
        raise _checks.fail("attack", "a function of (model, x, y, **kwargs)", repr(attack))
    if attack_kwargs.get("targeted"):
        raise _checks.fail("targeted", "False (transfer is measured for untargeted attacks)", "True")
    x, y = _check_xy(x, y)
    x_adv = np.asarray(attack(source_model, x, y, **attack_kwargs), dtype=np.float32)
    if x_adv.shape != x.shape:
        raise _checks.fail("attack", f"a function returning an array of shape {x.shape}", f"shape {x_adv.shape}")
    source_right = _predict(source_model, x) == y
    both_right = source_right & (_predict(target_model, x) == y)
    source_wrong_adv = _predict(source_model, x_adv) != y
    target_wrong_adv = _predict(target_model, x_adv) != y

    def share(hits: np.ndarray, among: np.ndarray) -> float:
        return float(hits[among].mean()) if among.any() else float("nan")

    target_fooled = share(target_wrong_adv, both_right)
    return {"source_fooled": share(source_wrong_adv, source_right), "target_fooled": target_fooled,
            "transfer_rate": target_fooled, "n": int(len(x)), "n_source_correct": int(source_right.sum()),
            "n_both_correct": int(both_right.sum())}


# --------------------------------------------------------------------------------------------------------------
# evaluation


@dataclasses.dataclass
class RobustAccuracy:
    """Accuracy under one attack at each budget: ``accuracy[i]`` at ``eps[i]`` (``eps`` 0 is clean accuracy),
    on ``n`` samples. ``name`` labels the model in tables and plots."""

    eps: list[float]
    accuracy: list[float]
    n: int
    attack: str
    name: str = "model"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_markdown(self) -> str:
        """One row per budget; see :func:`robust_accuracy_markdown` for several models side by side."""
        return robust_accuracy_markdown([self])


def _batches(data: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) arrays from an ``(x, y)`` pair or a ``tf.data.Dataset`` of (x, y) batches or samples."""
    if isinstance(data, tf.data.Dataset):
        xs, ys = [], []
        for element in data.as_numpy_iterator():
            if not isinstance(element, tuple) or len(element) < 2:
                raise _checks.fail("data", "a tf.data.Dataset of (inputs, labels)", "elements without labels")
            x, y = np.asarray(element[0]), np.asarray(element[1])
            batched = y.ndim >= 1
            xs.append(x if batched else x[None])
            ys.append(y if batched else y[None])
        if not xs:
            raise _checks.fail("data", "a non-empty dataset", "an empty one")
        return _check_xy(np.concatenate(xs), np.concatenate(ys))
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise _checks.fail("data", "an (x, y) pair of arrays or a tf.data.Dataset of (x, y)", _checks.short(data))
    return _check_xy(*data)


def robust_accuracy(model: keras.Model, data: Any, attack: Callable[..., np.ndarray] = pgd,
                    eps: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3), name: str | None = None,
                    batch_size: int = 256, **attack_kwargs: Any) -> RobustAccuracy:
    """The model's accuracy on ``data`` under ``attack`` at each budget in ``eps``: the curve whose left end,
    eps 0, is clean accuracy, so a robust model's clean-accuracy cost shows next to its gain under attack.

    Args:
        model: a classifier outputting logits or probabilities.
        data: an ``(x, y)`` pair (int labels) or a ``tf.data.Dataset`` of ``(x, y)``.
        attack: :func:`pgd` (default), :func:`fgsm`, or any function of ``(model, x, y, eps=..., **kwargs)``.
        eps: the budgets, in input units.
        name: the model's label in tables and plots (default its ``name``).
        batch_size: samples per attack and prediction call.
        attack_kwargs: passed to ``attack`` (``clip_min``, ``clip_max``, ``steps``, ``norm`` ...).
    """
    model = _check_model(model)
    if not callable(attack):
        raise _checks.fail("attack", "a function of (model, x, y, eps=..., **kwargs)", repr(attack))
    if attack is cw_l2:
        raise _checks.fail("attack", "an attack with an eps budget (fgsm, pgd, or your own)",
                           "cw_l2, which has none: run it and compare the L2 norms of its perturbations")
    try:
        budgets = np.asarray(eps, dtype=np.float64).ravel().tolist() if not isinstance(eps, (str, bytes)) else []
    except (TypeError, ValueError):
        budgets = []
    if not budgets:
        raise _checks.fail("eps", "a budget or a non-empty sequence of budgets", _checks.short(eps))
    budgets = [_checks.finite_non_negative(e, "eps") for e in budgets]
    batch_size = _checks.positive_int(batch_size, "batch_size")
    x, y = _batches(data, batch_size)
    accuracies = []
    for budget in budgets:
        x_adv = x if budget == 0 else np.asarray(attack(model, x, y, eps=budget, batch_size=batch_size,
                                                         **attack_kwargs), dtype=np.float32)
        accuracies.append(float(np.mean(_predict(model, x_adv, batch_size) == y)))
    return RobustAccuracy(eps=budgets, accuracy=accuracies, n=int(len(x)),
                          attack=getattr(attack, "__name__", type(attack).__name__),
                          name=name if name is not None else getattr(model, "name", "model"))


def _named(results: Any) -> list[RobustAccuracy]:
    if isinstance(results, RobustAccuracy):
        results = [results]
    elif isinstance(results, dict):
        results = [dataclasses.replace(r, name=str(k)) for k, r in results.items()]
    results = list(results) if isinstance(results, (list, tuple)) else None
    if not results or not all(isinstance(r, RobustAccuracy) for r in results):
        raise _checks.fail("results", "RobustAccuracy results (one, a list, or a dict of name to result)",
                           "something else")
    return results


def robust_accuracy_markdown(results: Any) -> str:
    """A markdown table: a row per model, a column per budget (the union of all models' budgets)."""
    results = _named(results)
    budgets = sorted({e for r in results for e in r.eps})
    lines = ["| model | attack | " + " | ".join(f"eps {e:g}" for e in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for r in results:
        cells = dict(zip(r.eps, r.accuracy))
        lines.append(f"| {r.name} | {r.attack} | "
                     + " | ".join(f"{cells[e]:.3f}" if e in cells else "" for e in budgets) + " |")
    return "\n".join(lines) + "\n"


def plot_robust_accuracy(results: Any, path: str | os.PathLike | None = None, title: str | None = None) -> Any:
    """Accuracy against eps, a line per model; written to ``path`` (PNG, atomically) when given. Returns the
    matplotlib ``Figure`` (drawn without pyplot, so it is safe in threads and headless)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = _named(results)
    figure = Figure(figsize=(5.5, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for r in results:
        axes.plot(r.eps, r.accuracy, marker="o", label=f"{r.name} ({r.attack})")
    axes.set_xlabel("eps (input units)")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    if title:
        axes.set_title(title)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _checks.write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    return figure
