"""Latent space tools: sampling, interpolation, and generator inversion.

:func:`sample` draws latents in-graph for training (Keras random ops, XLA-friendly);
:func:`ganapps.runtime.sample_normal` draws them in NumPy (optionally truncated, exactly) for sampling outside
training, so a seed gives the same latents to a Keras game and to its ONNX export.

:func:`lerp`, :func:`slerp` and :func:`interpolate` walk between latents; :func:`interpolation_grid` renders
such walks. Spherical interpolation keeps the path at the norm typical of Gaussian latents, where linear
interpolation cuts through the low-norm middle that the generator rarely saw in training.

:func:`invert` recovers z* = argmin_z ||G(z) - x||^2 by gradient descent from several random starts. The
reconstruction error it reports answers "could this generator have made this image?": small for the
generator's own images, larger for images off its manifold (the idea behind AnoGAN-style outlier scores).
With a feature model (a discriminator's features) and ``distance="l1"`` it is AnoGAN's search (Schlegl et al.
2017), whose residual and discrimination losses :meth:`ganapps.games.fanogan.FAnoGAN.anogan_scores` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from ganapps import _checks
from ganapps.runtime import sample_normal

__all__ = ["sample", "sample_normal", "lerp", "slerp", "interpolate", "interpolation_grid", "invert", "Inversion"]

_METHODS = ("lerp", "slerp")
DISTANCES = ("l2", "l1")


def sample(n, latent_dim: int, seed=None):
    """Draw ``n`` latent vectors of size ``latent_dim`` from N(0, I) with Keras random ops (XLA-friendly).

    Args:
        n: number of vectors (a Python int or a scalar tensor inside a traced function).
        latent_dim: size of each vector.
        seed: a ``keras.random.SeedGenerator``, an int, or None (fresh randomness).
    """
    return keras.random.normal((n, latent_dim), seed=seed)


# -- interpolation ---------------------------------------------------------------------------------------------
def lerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Linear interpolation ``(1 - t) a + t b``; ``t`` a scalar or an array broadcasting against the rows."""
    a, b = _pair(a, b)
    t = np.asarray(t, dtype=np.float64)
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation along the great circle from ``a`` to ``b`` (Shoemake 1985; White 2016 for GANs).

    The angle comes from the directions; the norm is interpolated linearly, so for Gaussian latents the path
    stays near the typical norm sqrt(d). Nearly parallel pairs fall back to :func:`lerp`.
    """
    a, b = _pair(a, b)
    t = np.asarray(t, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ua = a / np.maximum(na, 1e-12)
    ub = b / np.maximum(nb, 1e-12)
    cos = np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > 1e-6
    sin_safe = np.where(safe, sin, 1.0)
    direction = np.where(safe, (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / sin_safe,
                         (1.0 - t) * ua + t * ub)
    norm = (1.0 - t) * na + t * nb
    return np.where(safe, direction * norm, (1.0 - t) * a + t * b).astype(np.float32)


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp") -> np.ndarray:
    """``steps`` latents from ``a`` to ``b`` inclusive, shape (steps, d) for vectors or (steps, n, d) for batches."""
    steps = _checks.positive_int(steps, "steps")
    if steps < 2:
        raise _checks.fail("steps", "at least 2 (both end points)", repr(steps))
    fn = _method(method)
    return np.stack([fn(a, b, t) for t in np.linspace(0.0, 1.0, steps)])


def interpolation_grid(model, rows: int = 4, steps: int = 8, seed: int | None = 0, method: str = "slerp",
                       truncation: float | None = None) -> np.ndarray:
    """Generate ``rows`` interpolations of ``steps`` images each between random latent pairs.

    Args:
        model: a game (its inference generator is used) or a one-input generator ``keras.Model``.
        rows: number of latent pairs.
        steps: images per row, end points included.
        seed: seed of the latent pairs.
        method: "slerp" or "lerp".
        truncation: optional truncation of the end points, in standard deviations.

    Returns:
        Images of shape (rows * steps, ...) in row order; ``ganapps.images.save_grid(images, path, nrow=steps)``
        draws them as a grid.
    """
    generator, latent_dim = _generator(model)
    rows = _checks.positive_int(rows, "rows")
    ends = sample_normal(2 * rows, latent_dim, seed=seed, truncation=truncation)
    path = interpolate(ends[:rows], ends[rows:], steps, method)  # (steps, rows, d)
    z = np.transpose(path, (1, 0, 2)).reshape(rows * steps, latent_dim)
    return keras.ops.convert_to_numpy(generator(z, training=False))


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim == 0:
        raise _checks.fail("b", f"a latent array of the same shape as a {a.shape}", f"shape {b.shape}")
    return a, b


def _method(method: str):
    if method == "lerp":
        return lerp
    if method == "slerp":
        return slerp
    raise _checks.fail("method", f"one of {_METHODS}", repr(method))


# -- inversion -------------------------------------------------------------------------------------------------
@dataclass
class Inversion:
    """The result of :func:`invert`.

    Attributes:
        latents: the recovered z*, shape (n, latent_dim).
        reconstructions: G(z*), the same shape as the images.
        errors: per-image distance between G(z*) and the image (mean squared for ``distance="l2"``, mean absolute
            for ``"l1"``), of the best restart.
        history: the batch's mean objective (without the prior penalty) after each logged step (every
            ``steps // 10``), for a loss curve.
        feature_errors: per-image distance between the features of G(z*) and of the image, or None without a
            feature model.
        objective: per-image ``(1 - w) * errors + w * feature_errors`` (w the feature weight; ``errors`` alone
            without a feature model): what picked the best restart.
    """

    latents: np.ndarray
    reconstructions: np.ndarray
    errors: np.ndarray
    history: list[float]
    feature_errors: np.ndarray | None = None
    objective: np.ndarray | None = None


def invert(model, images, steps: int = 300, restarts: int = 4, learning_rate: float = 0.05,
           prior_weight: float = 0.0, batch_size: int = 256, seed: int | None = 0,
           jit_compile: bool = True, feature_model: keras.Model | None = None, feature_weight: float = 0.0,
           distance: str = "l2") -> Inversion:
    """Recover latents whose generated samples match ``images``: per image, z* minimises
    ``(1 - w) d(G(z), x) + w d(f(G(z)), f(x))`` (+ prior), d the mean squared (``"l2"``) or mean absolute
    (``"l1"``) difference, f a feature model and w its weight (w = 0: the plain pixel fit).

    Each image is fitted from ``restarts`` random starts drawn from N(0, I) by Adam on z (the generator's and
    the feature model's weights are frozen); the start with the lowest final objective wins. The optional
    ``prior_weight`` adds ``prior_weight * mean(z^2)``, which keeps z* where the prior has mass (Lipton & Tripathi
    2017 clip z instead; a soft penalty keeps gradients smooth). A feature term (AnoGAN's "discrimination loss",
    with f a discriminator's features) asks that G(z*) also look like x to the discriminator, which keeps z* on
    the data's side of the generator's manifold.

    Args:
        model: a game (its inference generator is used) or a one-input generator ``keras.Model``.
        images: samples shaped like the generator's output, in its value range ([-1, 1] for images).
        steps: gradient steps per restart.
        restarts: random starts per image.
        learning_rate: Adam's step size on z.
        prior_weight: weight of the Gaussian-prior penalty on z (0 disables it).
        batch_size: images inverted together (each with all its restarts).
        seed: seed of the starting latents.
        jit_compile: compile the optimisation step with XLA.
        feature_model: a ``keras.Model`` from samples to features (e.g. ``FAnoGAN.feature_model``), or None.
        feature_weight: w in [0, 1]; above 0 it needs a feature model.
        distance: ``"l2"`` (mean squared) or ``"l1"`` (mean absolute, AnoGAN's).

    Returns:
        An :class:`Inversion` with the latents, reconstructions, per-image errors and objective.
    """
    import tensorflow as tf

    generator, latent_dim = _generator(model)
    x = np.asarray(images, dtype=np.float32)
    expected = tuple(generator.output_shape[1:])
    if x.ndim != len(expected) + 1 or len(x) == 0 or any(
            e is not None and e != s for e, s in zip(expected, x.shape[1:])):
        raise _checks.fail("images", f"a non-empty batch of samples of shape (n, {', '.join(map(str, expected))}) "
                           f"(the generator's output)", f"shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise _checks.fail("images", "finite values", f"{int((~np.isfinite(x)).sum())} NaN/Inf values")
    steps = _checks.positive_int(steps, "steps")
    restarts = _checks.positive_int(restarts, "restarts")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    prior_weight = _checks.non_negative(prior_weight, "prior_weight")
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise _checks.fail("learning_rate", "a positive number", repr(learning_rate))
    if distance not in DISTANCES:
        raise _checks.fail("distance", f"one of {DISTANCES}", repr(distance))
    weight = _checks.non_negative(feature_weight, "feature_weight")
    if weight > 1.0:
        raise _checks.fail("feature_weight", "a weight in [0, 1]", repr(feature_weight))
    if feature_model is not None and not isinstance(feature_model, keras.Model):
        raise _checks.fail("feature_model", "None or a keras.Model from samples to features",
                           type(feature_model).__name__)
    if weight > 0 and feature_model is None:
        raise _checks.fail("feature_model", f"a keras.Model from samples to features for feature_weight={weight:g}",
                           "None")

    rng = np.random.default_rng(seed)
    log_every = max(1, steps // 10)
    search = _Search(tf, generator, feature_model if weight > 0 else None, weight, prior_weight, distance)
    latents, histories, objectives = [], [], []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        z0 = rng.standard_normal((restarts, len(chunk), latent_dim)).astype(np.float32)
        z, objective, hist = search.fit(chunk, z0, steps, learning_rate, log_every, jit_compile)
        best = np.argmin(objective, axis=0)  # (n,)
        latents.append(z[best, np.arange(len(chunk))])
        histories.append(np.asarray(hist) * len(chunk))
    latents = np.concatenate(latents)
    recon = _in_batches(generator, latents, batch_size)
    history = (np.sum(np.stack(histories), axis=0) / len(x)).tolist()
    per_image = _distance(recon.astype(np.float64) - x, distance).astype(np.float32)
    feature_errors = objective = None
    if feature_model is not None:
        f_recon = _in_batches(feature_model, recon, batch_size).reshape(len(x), -1)
        f_x = _in_batches(feature_model, x, batch_size).reshape(len(x), -1)
        feature_errors = _distance(f_recon.astype(np.float64) - f_x, distance).astype(np.float32)
        objective = ((1.0 - weight) * per_image.astype(np.float64)
                     + weight * feature_errors.astype(np.float64)).astype(np.float32)
    return Inversion(latents=latents, reconstructions=recon, errors=per_image, history=history,
                     feature_errors=feature_errors, objective=per_image if objective is None else objective)


def _distance(diff: np.ndarray, distance: str) -> np.ndarray:
    """Per-sample mean squared ("l2") or mean absolute ("l1") value of ``diff``."""
    values = np.square(diff) if distance == "l2" else np.abs(diff)
    return np.mean(values, axis=tuple(range(1, diff.ndim)))


def _in_batches(net: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([keras.ops.convert_to_numpy(net(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


class _Search:
    """Adam on all restarts of one chunk at once, for one generator, feature model and objective."""

    def __init__(self, tf, generator, feature_model, weight: float, prior_weight: float, distance: str):
        self.tf, self.generator, self.feature_model = tf, generator, feature_model
        self.weight, self.prior_weight = weight, prior_weight
        self.measure = tf.square if distance == "l2" else tf.abs

    def _features(self, samples):
        tf = self.tf
        features = tf.cast(self.feature_model(samples, training=False), tf.float32)
        return tf.reshape(features, (tf.shape(features)[0], -1))

    def _objective(self, z, target, target_features, axes):
        """Per-sample objective without the prior: the pixel distance, blended with the feature distance."""
        tf = self.tf
        generated = self.generator(z, training=False)
        err = tf.reduce_mean(self.measure(tf.cast(generated, tf.float32) - target), axis=axes)
        if self.feature_model is None:
            return err
        feature_err = tf.reduce_mean(self.measure(self._features(generated) - target_features), axis=1)
        return (1.0 - self.weight) * err + self.weight * feature_err

    def fit(self, chunk, z0, steps, learning_rate, log_every, jit_compile):
        """(final z, per-restart objective (restarts, n), the logged batch-mean objective)."""
        tf = self.tf
        restarts, n, latent_dim = z0.shape
        target = tf.constant(np.tile(chunk, (restarts,) + (1,) * (chunk.ndim - 1)))
        target_features = None if self.feature_model is None else tf.constant(self._features(target))
        z = tf.Variable(z0.reshape(restarts * n, latent_dim), name="z")
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build([z])
        axes = tuple(range(1, chunk.ndim))
        prior_weight = self.prior_weight

        @tf.function(jit_compile=jit_compile)
        def step():
            with tf.GradientTape() as tape:
                tape.watch(z)
                objective = self._objective(z, target, target_features, axes)
                # The sum over samples makes each latent's gradient independent of how many are optimised together.
                loss = tf.reduce_sum(objective) + prior_weight * tf.reduce_sum(tf.reduce_mean(tf.square(z), axis=1))
            optimizer.apply_gradients([(tape.gradient(loss, z), z)])
            return tf.reduce_mean(objective)

        history = []
        for i in range(steps):
            mean_objective = step()
            if (i + 1) % log_every == 0:
                history.append(float(mean_objective))
        objective = self._objective(z, target, target_features, axes).numpy().reshape(restarts, n)
        return z.numpy().reshape(restarts, n, latent_dim), objective, history


def _generator(model) -> tuple[keras.Model, int]:
    generator = getattr(model, "inference_generator", model)
    if not isinstance(generator, keras.Model):
        raise _checks.fail("model", "a ganapps game or a generator keras.Model", type(model).__name__)
    inputs = generator.inputs
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[-1] is None:
        raise _checks.fail("model", "a generator with one latent input of shape (batch, latent_dim)",
                           f"inputs {[tuple(i.shape) for i in inputs]}")
    return generator, int(inputs[0].shape[-1])
