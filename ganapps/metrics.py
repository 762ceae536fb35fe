"""Sample-quality measures: how close generated samples are to real ones, and how much of the data they cover.

Distances between a real and a generated set, computed on activations of a feature extractor (``features``:
``"digits"``, ``"inception"``, any ``keras.Model`` or callable) or on precomputed ``(N, d)`` activations
(``features=None``):

* :func:`fid` (Fréchet Inception Distance, Heusel et al. 2017) and :func:`frechet_distance` on statistics;
* :func:`kid` (Kernel Inception Distance, Bińkowski et al. 2018): unbiased, so usable on small sets;
* :func:`precision_recall_density_coverage` (Naeem et al. 2020): fidelity and diversity measured apart.

One set alone: :func:`inception_score` (Salimans et al. 2016). Mode collapse on the 2-D mixtures of
:func:`ganapps.data.gaussian_mixture`: :func:`mode_coverage`. Paired images (super-resolution,
image-to-image): :func:`psnr` and :func:`ssim`; for super-resolution :func:`sr_quality` scores them by the
published protocol (luma from :func:`rgb_to_y`, border cropped) and :func:`mean_gradient_magnitude` measures
sharpness.

Feature extractors: :func:`digit_classifier` (a small CNN on 16x16 digits that the project trains and ships
in ``saved_models/digit_classifier/``; :func:`digit_features` and :func:`digit_feature_model` give its
penultimate layer; :func:`train_digit_classifier` reproduces it), :func:`inception_features` (InceptionV3's
2048-d pool features, the standard for FID/KID; needs the ImageNet weights file) and :func:`activations`
(any model or callable, run in batches).

The demo's digit check: :func:`digit_confidence` scores generated digits with a logistic regression and
:func:`digit_confidence_reference` gives the same scores on real digits and on noise to read them against.

Reproduce the shipped digit classifier with::

    python -m ganapps.metrics digit-classifier --out saved_models/digit_classifier/model.keras

Everything here returns NumPy values; TensorFlow is imported only when a model runs.
"""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ganapps import _checks, pretrained
from ganapps.images import LUMA

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = [
    "DIGIT_CLASSIFIER_EPOCHS",
    "DIGIT_IMAGE_SIZE",
    "INCEPTION_WEIGHTS_FILE",
    "SSIM_WINDOW",
    "WeightsUnavailableError",
    "activations",
    "digit_classifier",
    "digit_confidence",
    "digit_confidence_reference",
    "digit_feature_model",
    "digit_features",
    "fid",
    "frechet_distance",
    "inception_features",
    "inception_score",
    "kid",
    "main",
    "mean_gradient_magnitude",
    "mode_coverage",
    "precision_recall_density_coverage",
    "psnr",
    "rgb_to_y",
    "sr_quality",
    "ssim",
    "train_digit_classifier",
]

Features = Union[str, "keras.Model", Callable[[np.ndarray], Any], None]
"""What ``features`` may be: ``None`` (inputs are activations already), ``"digits"``, ``"inception"``, a
``keras.Model`` or a callable mapping a batch of images to one row of activations per image."""

_fail = _checks.fail

# --------------------------------------------------------------------------------------------------------------
# Argument checks.


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_int(value: Any, argument: str, minimum: int = 1) -> int:
    if not (_is_int(value) and value >= minimum):
        raise _fail(argument, f"an int >= {minimum}", repr(value))
    return int(value)


def _positive_number(value: Any, argument: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise _fail(argument, "a finite positive number", repr(value))
    return float(value)


def _numeric(x: Any, argument: str, expected: str) -> np.ndarray:
    try:
        array = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - anything that is not array-like is the caller's mistake
        raise _fail(argument, expected, f"{type(x).__name__} ({exc})") from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise _fail(argument, expected, f"dtype {array.dtype} with shape {array.shape}")
    return array


def _finite(array: np.ndarray, argument: str) -> np.ndarray:
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        raise _fail(argument, "finite values", f"{int(bad.sum())} NaN or Inf among {array.size} values")
    return array


def _activation_matrix(x: Any, argument: str, min_rows: int) -> np.ndarray:
    """Precomputed activations: a finite float64 (N, d) array with at least ``min_rows`` rows."""
    if _is_dataset(x):
        raise _fail(argument, "a 2-D array of activations when features is None (a dataset of images needs "
                              "features='digits', 'inception', a keras.Model or a callable)", "a tf.data.Dataset")
    array = _numeric(x, argument, "a 2-D array of activations or NHWC images")
    if array.ndim == 4:
        raise _fail(argument, "a 2-D array of activations when features is None (NHWC images need "
                              "features='digits', 'inception', a keras.Model or a callable)", f"shape {array.shape}")
    if array.ndim != 2:
        raise _fail(argument, "a 2-D array of activations or NHWC images", f"shape {array.shape}")
    if array.shape[0] < min_rows or array.shape[1] < 1:
        raise _fail(argument, f"at least {min_rows} rows of at least one activation", f"shape {array.shape}")
    return _finite(array, argument)


def _same_width(real: np.ndarray, fake: np.ndarray, argument: str = "fake") -> None:
    if real.shape[1] != fake.shape[1]:
        raise _fail(argument, f"activations of the same width as real's ({real.shape[1]})",
                    f"width {fake.shape[1]} (shape {fake.shape})")


def _is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


# --------------------------------------------------------------------------------------------------------------
# Running feature extractors.


def _resolve_features(features: Any, argument: str) -> Callable[[np.ndarray], Any]:
    """A per-batch function for ``features``; the named extractors check and resize each batch themselves."""
    if isinstance(features, str):
        if features == "digits":
            return functools.partial(_digit_batch, argument=argument)
        if features == "inception":
            return functools.partial(_inception_batch, argument=argument)
    elif features is not None:
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(features, keras.Model):
            return lambda batch: features(batch, training=False)
        if callable(features):
            return features
    raise _fail("features", "'digits', 'inception', a keras.Model or a callable mapping a batch of images to "
                            "(batch, d) activations", repr(features))


def _batches(x: Any, batch_size: int, argument: str) -> Iterable[np.ndarray]:
    """Batches of ``x``: slices of an array, or the batches a ``tf.data.Dataset`` yields (first element of
    tuples, so ``(images, labels)`` datasets work as they are)."""
    if _is_dataset(x):
        for element in x:
            batch = element[0] if isinstance(element, (tuple, list)) else element
            yield np.asarray(batch)
        return
    array = _numeric(x, argument, "an array of inputs (NHWC images) or a tf.data.Dataset of them")
    if array.ndim < 2 or array.shape[0] == 0:
        raise _fail(argument, "a non-empty batch of inputs, e.g. NHWC images", f"shape {array.shape}")
    for start in range(0, len(array), batch_size):
        yield array[start:start + batch_size]


def _activations(x: Any, features: Any, batch_size: int, argument: str, min_rows: int = 1) -> np.ndarray:
    if features is None:
        return _activation_matrix(x, argument, min_rows)
    fn = _resolve_features(features, argument)
    batch_size = _positive_int(batch_size, "batch_size")
    rows = []
    for batch in _batches(x, batch_size, argument):
        out = np.asarray(fn(batch))
        if out.ndim < 1 or out.shape[0] != len(batch):
            raise _fail("features", f"a model giving one row of activations per input ({len(batch)} for a batch "
                                    f"of shape {batch.shape})", f"output of shape {out.shape}")
        rows.append(out.reshape(len(batch), -1))
    if not rows:
        raise _fail(argument, "at least one batch of inputs", "an empty dataset")
    result = np.concatenate(rows)
    if len(result) < min_rows:
        raise _fail(argument, f"at least {min_rows} inputs", f"{len(result)}")
    return _finite(result, f"activations of {argument}")


def activations(images: Any, features: Features, batch_size: int = 64) -> np.ndarray:
    """Run a feature extractor over ``images`` in batches, so large sets fit in memory, and return ``(N, d)``
    activations (outputs with more axes are flattened per input).

    Args:
        images: an array of inputs (NHWC images in [-1, 1] for the named extractors) or a ``tf.data.Dataset``
            of them (of ``(images, labels)`` tuples too; its own batches are used).
        features: ``"digits"`` (:func:`digit_features`), ``"inception"`` (:func:`inception_features`), a
            ``keras.Model`` (called with ``training=False``) or any callable of a batch.
        batch_size: inputs per call.
    """
    if features is None:
        raise _fail("features", "'digits', 'inception', a keras.Model or a callable", "None")
    return _activations(images, features, batch_size, "images")


# --------------------------------------------------------------------------------------------------------------
# Fréchet distance.


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """The Fréchet (2-Wasserstein) distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2):
    ``||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, the formula behind FID.

    When the product of the covariances is singular (fewer samples than dimensions) its square root is taken
    of ``(sigma1 + eps I)(sigma2 + eps I)`` instead; a numerically complex root has its imaginary part, which
    is rounding noise for covariance matrices, dropped.
    """
    mu1 = _finite(_numeric(mu1, "mu1", "a 1-D mean vector"), "mu1")
    mu2 = _finite(_numeric(mu2, "mu2", "a 1-D mean vector"), "mu2")
    if mu1.ndim != 1 or mu1.size == 0:
        raise _fail("mu1", "a non-empty 1-D mean vector", f"shape {mu1.shape}")
    d = mu1.size
    if mu2.shape != (d,):
        raise _fail("mu2", f"a mean vector of shape ({d},) like mu1", f"shape {mu2.shape}")
    sigma1 = _finite(_numeric(sigma1, "sigma1", f"a ({d}, {d}) covariance matrix"), "sigma1")
    sigma2 = _finite(_numeric(sigma2, "sigma2", f"a ({d}, {d}) covariance matrix"), "sigma2")
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise _fail(name, f"a ({d}, {d}) covariance matrix matching the means", f"shape {sigma.shape}")
    eps = _positive_number(eps, "eps")
    from scipy import linalg

    def root(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's "singular matrix" notes: handled below
            covmean = linalg.sqrtm(a @ b)
        if not np.isfinite(covmean).all():
            return None
        if np.iscomplexobj(covmean):
            if np.abs(covmean.imag).max() > 1e-3 * max(1.0, np.abs(covmean.real).max()):
                return None
            covmean = covmean.real
        return covmean

    covmean = root(sigma1, sigma2)
    if covmean is None:
        offset = eps * np.eye(d)
        covmean = root(sigma1 + offset, sigma2 + offset)
        if covmean is None:
            raise _fail("sigma1, sigma2", "covariance matrices (symmetric, positive semi-definite) whose product "
                                          "has a square root", "a product whose square root is not real")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _statistics(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return acts.mean(axis=0), np.atleast_2d(np.cov(acts, rowvar=False))


def fid(real: Any, fake: Any, features: Features = None, batch_size: int = 64) -> float:
    """Fréchet distance between Gaussians fitted to the activations of two sets (lower is better; 0 for
    sets with equal mean and covariance).

    FID is biased upwards for small sets and depends on the extractor: compare values computed with the same
    ``features`` and the same numbers of samples (thousands for Inception's 2048-d features).

    Args:
        real, fake: ``(N, d)`` activations when ``features`` is None, else inputs of ``features`` (NHWC images
            in [-1, 1], or a ``tf.data.Dataset`` of them). At least two each.
        features: ``None``, ``"digits"``, ``"inception"``, a ``keras.Model`` or a callable (see
            :func:`activations`).
        batch_size: images per call of ``features``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(fid(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + [3.0, 0.0]))
        9
    """
    real_acts = _activations(real, features, batch_size, "real", min_rows=2)
    fake_acts = _activations(fake, features, batch_size, "fake", min_rows=2)
    _same_width(real_acts, fake_acts)
    return frechet_distance(*_statistics(real_acts), *_statistics(fake_acts))


# --------------------------------------------------------------------------------------------------------------
# Kernel Inception Distance.


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, n = len(x), len(y)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kid(real: Any, fake: Any, features: Features = None, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0, batch_size: int = 64) -> tuple[float, float]:
    """Kernel Inception Distance: the unbiased estimate of the squared MMD between the activations of two
    sets under the kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.

    Unlike FID its estimator is unbiased, so values from small sets are comparable to values from large ones
    (only noisier); it can come out slightly negative when the sets match.

    Args:
        real, fake: as in :func:`fid`. At least two each.
        features: as in :func:`fid`.
        subsets: random subsets to average over.
        subset_size: samples drawn (without replacement) from each set per subset; clamped to each set's size.
        seed: the same seed draws the same subsets.
        batch_size: images per call of ``features``.

    Returns:
        ``(mean, std)`` over the subsets.
    """
    subsets = _positive_int(subsets, "subsets")
    subset_size = _positive_int(subset_size, "subset_size", minimum=2)
    if not (_is_int(seed) and seed >= 0):
        raise _fail("seed", "a non-negative int", repr(seed))
    real_acts = _activations(real, features, batch_size, "real", min_rows=2)
    fake_acts = _activations(fake, features, batch_size, "fake", min_rows=2)
    _same_width(real_acts, fake_acts)
    rng = np.random.default_rng(seed)
    m, n = min(subset_size, len(real_acts)), min(subset_size, len(fake_acts))
    values = [_unbiased_mmd2(real_acts[rng.choice(len(real_acts), m, replace=False)],
                             fake_acts[rng.choice(len(fake_acts), n, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# --------------------------------------------------------------------------------------------------------------
# Inception Score.


def _as_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Classifier outputs as probabilities: kept when they already are, else read as logits (softmax)."""
    if (outputs >= 0).all() and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        return outputs
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def inception_score(x: Any, classifier: Features = None, splits: int = 10,
                    batch_size: int = 64) -> tuple[float, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``: high when each sample is classified confidently and
    the classes are spread evenly, from 1 (uninformative) to the number of classes.

    Args:
        x: class probabilities ``(N, K)`` when ``classifier`` is None, else the classifier's inputs (NHWC images
            or a ``tf.data.Dataset``).
        classifier: ``None``, ``"digits"`` (:func:`digit_classifier`), a ``keras.Model`` or a callable giving
            ``(batch, K)`` probabilities or logits (outputs that are not probabilities go through a softmax).
        splits: the score is computed on this many equal parts of the set (N >= splits).
        batch_size: images per call of the classifier.

    Returns:
        ``(mean, std)`` over the splits.
    """
    splits = _positive_int(splits, "splits")
    if classifier is None:
        probs = _activation_matrix(x, "x", min_rows=1)
        if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
            sums = probs.sum(axis=1)
            raise _fail("x", "rows of class probabilities (non-negative, summing to 1) when classifier is None",
                        f"values from {probs.min():.4g} to {probs.max():.4g}, row sums from {sums.min():.4g} "
                        f"to {sums.max():.4g}")
    else:
        if isinstance(classifier, str):
            if classifier != "digits":
                raise _fail("classifier", "None, 'digits', a keras.Model or a callable", repr(classifier))
            model = digit_classifier()
            classifier = functools.partial(_digit_batch, argument="x", model=model)
        probs = _as_probabilities(_activations(x, classifier, batch_size, "x"))
    if len(probs) < splits:
        raise _fail("splits", f"at most the number of samples ({len(probs)})", repr(splits))
    from scipy.special import rel_entr

    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(rel_entr(part, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------------------------------------------
# Precision, recall, density and coverage.

_CHUNK_ELEMENTS = 1 << 22  # distance-matrix entries held at once (32 MiB of float64)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def _chunks(n_rows: int, other: int) -> Iterable[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(other, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in ``x``, itself excluded."""
    radii = np.empty(len(x))
    for rows in _chunks(len(x), len(x)):
        radii[rows] = np.partition(_distances(x[rows], x), k, axis=1)[:, k]
    return radii


def precision_recall_density_coverage(real_features: Any, fake_features: Any, k: int = 5,
                                      features: Features = None, batch_size: int = 64) -> dict[str, float]:
    """Fidelity and diversity measured separately (Naeem et al. 2020, "Reliable Fidelity and Diversity
    Metrics for Generative Models"), from k-nearest-neighbour balls around real and fake samples.

    With ``B(x, r)`` the open ball and ``r_i`` the distance of real sample ``i`` to its k-th nearest real
    neighbour:

    * ``precision``: share of fake samples inside some real ball (fidelity);
    * ``recall``: share of real samples inside some fake ball (radii from the fake set; diversity);
    * ``density``: real balls containing each fake sample, averaged and divided by k: about 1 when the fake
      samples are distributed like the real ones, above 1 where they crowd dense real regions; unlike
      precision it is robust to real outliers;
    * ``coverage``: share of real samples whose ball holds at least one fake sample (diversity, robust to
      fake outliers).

    Args:
        real_features, fake_features: ``(N, d)`` activations when ``features`` is None, else images (as in
            :func:`fid`). More than ``k`` each.
        k: the neighbour that sets the radii (5 in the paper).
        features: as in :func:`fid`.
        batch_size: images per call of ``features``.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats.
    """
    k = _positive_int(k, "k")
    real = _activations(real_features, features, batch_size, "real_features", min_rows=k + 1)
    fake = _activations(fake_features, features, batch_size, "fake_features", min_rows=k + 1)
    _same_width(real, fake, "fake_features")
    real_radii, fake_radii = _knn_radii(real, k), _knn_radii(fake, k)

    in_real_ball = np.zeros(len(fake), dtype=bool)
    real_balls_per_fake = np.zeros(len(fake))
    nearest_fake = np.full(len(real), np.inf)
    for cols in _chunks(len(fake), len(real)):
        d = _distances(real, fake[cols])
        inside = d < real_radii[:, None]
        in_real_ball[cols] = inside.any(axis=0)
        real_balls_per_fake[cols] = inside.sum(axis=0)
        nearest_fake = np.minimum(nearest_fake, d.min(axis=1))

    in_fake_ball = np.zeros(len(real), dtype=bool)
    for rows in _chunks(len(real), len(fake)):
        in_fake_ball[rows] = (_distances(real[rows], fake) < fake_radii[None, :]).any(axis=1)

    return {"precision": float(in_real_ball.mean()),
            "recall": float(in_fake_ball.mean()),
            "density": float(real_balls_per_fake.sum() / (k * len(fake))),
            "coverage": float((nearest_fake < real_radii).mean())}


# --------------------------------------------------------------------------------------------------------------
# Mode coverage on Gaussian mixtures.


def mode_coverage(samples: Any, kind: str | Any = "ring", std: float | None = None,
                  min_samples: int = 1) -> dict[str, Any]:
    """How many modes of a Gaussian mixture a generator reproduces, and how many of its samples are good,
    as counted by Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN).

    Each sample is assigned to its nearest mode; it is of high quality if it lies within 3 standard
    deviations of that mode's centre, and a mode is captured if at least ``min_samples`` high-quality
    samples are assigned to it.

    Args:
        samples: ``(N, d)`` generated samples.
        kind: ``"ring"`` or ``"grid"`` (the mixtures of :func:`ganapps.data.gaussian_mixture`), or the
            centres themselves as a ``(modes, d)`` array.
        std: the components' standard deviation; ``None`` for the benchmark's (required with explicit
            centres).
        min_samples: high-quality samples a mode needs to count as captured.

    Returns:
        ``{"modes_captured": int, "n_modes": int, "high_quality": float (share of samples),
        "counts": list of high-quality samples per mode}``.
    """
    min_samples = _positive_int(min_samples, "min_samples")
    if isinstance(kind, str):
        from ganapps import data

        if kind not in data._MIXTURE_STD:
            raise _fail("kind", "'ring', 'grid' or a (modes, d) array of centres", repr(kind))
        centers = data.gaussian_mixture(kind, 1)[1].astype(np.float64)
        std = data._MIXTURE_STD[kind] if std is None else std
    else:
        centers = _numeric(kind, "kind", "'ring', 'grid' or a (modes, d) array of centres")
        if centers.ndim != 2 or centers.shape[0] == 0 or centers.shape[1] == 0:
            raise _fail("kind", "'ring', 'grid' or a (modes, d) array of centres", f"shape {centers.shape}")
        centers = _finite(centers, "kind")
        if std is None:
            raise _fail("std", "the components' standard deviation when kind gives the centres", "None")
    std = _positive_number(std, "std")
    samples = _numeric(samples, "samples", f"an (N, {centers.shape[1]}) array of samples")
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1] or samples.shape[0] == 0:
        raise _fail("samples", f"an (N, {centers.shape[1]}) array of samples matching the centres",
                    f"shape {samples.shape}")
    samples = _finite(samples, "samples")

    nearest = np.empty(len(samples), dtype=np.int64)
    distance = np.empty(len(samples))
    for rows in _chunks(len(samples), len(centers)):
        d = _distances(samples[rows], centers)
        nearest[rows] = d.argmin(axis=1)
        distance[rows] = d.min(axis=1)
    good = distance <= 3.0 * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return {"modes_captured": int((counts >= min_samples).sum()),
            "n_modes": int(len(centers)),
            "high_quality": float(good.mean()),
            "counts": counts.tolist()}


# --------------------------------------------------------------------------------------------------------------
# PSNR and SSIM.


def _image_pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a = _numeric(a, "a", "a batch of NHWC images")
    b = _numeric(b, "b", "a batch of NHWC images")
    if a.ndim != 4 or a.shape[0] == 0:
        hint = " (a single image? add a batch axis: x[None])" if a.ndim == 3 else ""
        raise _fail("a", "a non-empty batch of NHWC images", f"shape {a.shape}{hint}")
    if b.shape != a.shape:
        raise _fail("b", f"images of the same shape as a {a.shape}", f"shape {b.shape}")
    return _finite(a, "a"), _finite(b, "b")


def psnr(a: Any, b: Any, data_range: float = 2.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of each image pair: ``10 log10(data_range^2 / MSE)`` (``inf`` for
    identical images). Per image, so a batch's mean and spread can both be reported.

    Args:
        a, b: batches of NHWC images of the same shape.
        data_range: max minus min of the value range: 2 for the library's [-1, 1], 255 for uint8.

    Returns:
        float64 array of shape ``(N,)``.
    """
    a, b = _image_pair(a, b)
    data_range = _positive_number(data_range, "data_range")
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window: images (after any border crop) must be at least this large."""
_SSIM_SIGMA = 1.5
_SSIM_K1, _SSIM_K2 = 0.01, 0.03


def _gaussian_window() -> np.ndarray:
    offsets = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    window = np.exp(-0.5 * (offsets / _SSIM_SIGMA) ** 2)
    return window / window.sum()


def _filter_valid(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter over the H and W axes of NHWC ``x``, keeping only fully covered pixels."""
    w = len(window)
    h_out, w_out = x.shape[1] - w + 1, x.shape[2] - w + 1
    rows = sum(window[i] * x[:, i:i + h_out] for i in range(w))
    return sum(window[i] * rows[:, :, i:i + w_out] for i in range(w))


def ssim(a: Any, b: Any, data_range: float = 2.0) -> np.ndarray:
    """Structural similarity (Wang et al. 2004) of each image pair, in [-1, 1] (1 for identical images).

    The standard settings: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
    (co)variances, computed per channel over the pixels the window fully covers and averaged; the same numbers
    as ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, channel_axis=-1)``.

    Args:
        a, b: batches of NHWC images of the same shape, at least 11x11.
        data_range: max minus min of the value range: 2 for the library's [-1, 1], 255 for uint8.

    Returns:
        float64 array of shape ``(N,)``.
    """
    a, b = _image_pair(a, b)
    data_range = _positive_number(data_range, "data_range")
    if min(a.shape[1:3]) < SSIM_WINDOW:
        raise _fail("a", f"images at least {SSIM_WINDOW}x{SSIM_WINDOW} (SSIM's window)",
                    f"{a.shape[1]}x{a.shape[2]} (shape {a.shape})")
    window = _gaussian_window()
    mu_a, mu_b = _filter_valid(a, window), _filter_valid(b, window)
    var_a = _filter_valid(a * a, window) - mu_a ** 2
    var_b = _filter_valid(b * b, window) - mu_b ** 2
    cov = _filter_valid(a * b, window) - mu_a * mu_b
    c1, c2 = (_SSIM_K1 * data_range) ** 2, (_SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(axis=(1, 2, 3))


# --------------------------------------------------------------------------------------------------------------
# Super-resolution evaluation: luma, the SRGAN protocol, sharpness.

_Y_OFFSET = 16.0
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # ITU-R BT.601 studio range: Y in [16, 235] for RGB in [0, 1]
_RANGE_SLACK = 1e-6


def _value_range(data_range: float) -> tuple[float, float]:
    """The value range a ``data_range`` stands for: [-1, 1] for 2 (the library's images), else [0, data_range]
    (255 for uint8, 1 for floats in [0, 1])."""
    return (-1.0, 1.0) if data_range == 2.0 else (0.0, data_range)


def _to_unit(x: np.ndarray, data_range: float, argument: str, slack: float = _RANGE_SLACK) -> np.ndarray:
    """Images of ``data_range``'s value range -> float64 in [0, 1]; values beyond the range by more than
    ``slack`` (a fraction of the range) are a wrong ``data_range``, less is clipped."""
    low, high = _value_range(data_range)
    x = _finite(x, argument)
    lo, hi = float(x.min()), float(x.max())
    if lo < low - slack * data_range or hi > high + slack * data_range:
        hint = " (uint8 or 0..255 images: pass data_range=255)" if hi > 1.5 and data_range == 2.0 else ""
        raise _fail(argument, f"values in [{low:g}, {high:g}] for data_range={data_range:g}{hint}",
                    f"values from {lo:.6g} to {hi:.6g}")
    return np.clip((x - low) / data_range, 0.0, 1.0)


def _image_batch(x: Any, argument: str, channels: tuple[int, ...] | None = (1, 3)) -> np.ndarray:
    array = _numeric(x, argument, "a batch of NHWC images")
    if array.ndim != 4 or array.shape[0] == 0:
        hint = " (a single image? add a batch axis: x[None])" if array.ndim == 3 else ""
        raise _fail(argument, "a non-empty batch of NHWC images", f"shape {array.shape}{hint}")
    if channels is not None and array.shape[-1] not in channels:
        raise _fail(argument, f"images with {' or '.join(map(str, channels))} channels",
                    f"{array.shape[-1]} channels (shape {array.shape})")
    return array


def _image_list(x: Any, argument: str) -> list[np.ndarray]:
    """A NHWC batch or a list of HxWxC images -> a list of HxWxC arrays (for pairs of different sizes)."""
    if isinstance(x, (list, tuple)):
        if not x:
            raise _fail(argument, "at least one image", "an empty list")
        images = []
        for i, image in enumerate(x):
            array = _numeric(image, f"{argument}[{i}]", "an HxWxC image")
            if array.ndim == 2:
                array = array[..., None]
            if array.ndim != 3:
                raise _fail(f"{argument}[{i}]", "an HxWxC image", f"shape {array.shape}")
            images.append(array)
        return images
    return list(_image_batch(x, argument, channels=None))


def rgb_to_y(images: Any, data_range: float = 2.0) -> np.ndarray:
    """ITU-R BT.601 luma Y in [16, 235] on the 0..255 scale, the channel super-resolution papers score on.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in 0..255 (SRGAN's, EDSR's and MATLAB's
    ``rgb2ycbcr`` convention; the same as ``skimage.color.rgb2ycbcr(...)[..., 0]``). A grayscale image is read as
    R = G = B, so gray and colour images land on the same luma scale.

    Args:
        images: a batch of NHWC images with 1 or 3 channels.
        data_range: 2 for the library's [-1, 1] images, 255 for uint8 (values 0..255), 1 for floats in [0, 1].

    Returns:
        float64 array of shape ``(N, H, W, 1)``.
    """
    data_range = _positive_number(data_range, "data_range")
    return _luma_y(_to_unit(_image_batch(images, "images"), data_range, "images"))


def _luma_y(unit: np.ndarray) -> np.ndarray:
    """Studio-range Y (0..255 scale) of [0, 1] images with 1 or 3 channels, keeping a channel axis of 1."""
    weights = _Y_WEIGHTS if unit.shape[-1] == 3 else np.array([_Y_WEIGHTS.sum()])
    return _Y_OFFSET + (unit @ weights)[..., None]


def _to_255(image: np.ndarray, data_range: float, y_channel: bool, argument: str, slack: float) -> np.ndarray:
    """One HxWxC image -> a (1, H, W, C') batch on the 0..255 scale: Y when ``y_channel``, else every channel."""
    unit = _to_unit(image, data_range, argument, slack=slack)
    return (_luma_y(unit) if y_channel else 255.0 * unit)[None]


def sr_quality(sr: Any, hr: Any, scale: int, border: int | None = None, y_channel: bool = True,
               data_range: float = 2.0) -> dict[str, np.ndarray]:
    """PSNR and SSIM of super-resolved images against the originals, by the protocol of SRGAN and its successors.

    Both are computed on the luma Y (:func:`rgb_to_y`, 0..255 scale, data range 255) after cropping ``border``
    pixels (default: ``scale``) from every side, where upscalers have too little context; so the numbers
    compare with the published ones. Floating-point outputs are scored as they are (not rounded to 8 bits).

    Args:
        sr: the super-resolved images: a NHWC batch or a list of HxWxC images (of different sizes).
        hr: the originals, paired with ``sr`` one to one. An original may be up to ``scale - 1`` pixels taller or
            wider than its ``sr`` (an image whose size is not a multiple of ``scale``, cut down before
            downscaling, as :func:`ganapps.data.downscale` does): its bottom and right edges are then dropped.
        scale: the upscaling factor.
        border: pixels cropped from each side; ``None`` for ``scale``.
        y_channel: score the luma (the protocol); ``False`` scores all channels (RGB PSNR/SSIM).
        data_range: 2 for [-1, 1] images (the library's), 255 for 0..255, 1 for [0, 1]. ``sr`` is clipped to
            the range first, as saving it to a file would.

    Returns:
        ``{"psnr": ..., "ssim": ...}``: float64 arrays with one value per image (PSNR in dB, ``inf`` for an
        exact match).

    Example:
        >>> hr = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3))
        >>> sr_quality(hr, hr, scale=4)["psnr"]
        array([inf, inf])
    """
    scale = _positive_int(scale, "scale")
    border = scale if border is None else border
    if not (_is_int(border) and border >= 0):
        raise _fail("border", "an int >= 0 (pixels cropped from each side) or None", repr(border))
    if not isinstance(y_channel, (bool, np.bool_)):
        raise _fail("y_channel", "True or False", repr(y_channel))
    data_range = _positive_number(data_range, "data_range")
    srs, hrs = _image_list(sr, "sr"), _image_list(hr, "hr")
    if len(srs) != len(hrs):
        raise _fail("hr", f"one original per super-resolved image ({len(srs)})", f"{len(hrs)} images")
    psnrs, ssims = [], []
    for i, (s, h) in enumerate(zip(srs, hrs)):
        (sh, sw, sc), (hh, hw, hc) = s.shape, h.shape
        if sc != hc or not (0 <= hh - sh < scale and 0 <= hw - sw < scale):
            raise _fail(f"hr[{i}]", f"the shape of sr[{i}] {s.shape} (or up to scale - 1 = {scale - 1} pixels "
                                    "taller or wider)", f"shape {h.shape}")
        h = h[:sh, :sw]
        if sc not in (1, 3) and y_channel:
            raise _fail(f"sr[{i}]", "1 or 3 channels for y_channel=True", f"{sc} channels")
        if min(sh, sw) - 2 * border < SSIM_WINDOW:
            raise _fail("border", f"a border that leaves at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels of sr[{i}] "
                                  f"({sh}x{sw}) for SSIM", repr(border))
        # A linear output layer overshoots the range a little: clip it, as writing the image to a file would;
        # beyond half the range the data_range is wrong.
        a = _to_255(s, data_range, y_channel, f"sr[{i}]", slack=0.5)
        b = _to_255(h, data_range, y_channel, f"hr[{i}]", slack=_RANGE_SLACK)
        if border:
            a, b = a[:, border:-border, border:-border], b[:, border:-border, border:-border]
        psnrs.append(psnr(a, b, data_range=255.0)[0])
        ssims.append(ssim(a, b, data_range=255.0)[0])
    return {"psnr": np.array(psnrs, dtype=np.float64), "ssim": np.array(ssims, dtype=np.float64)}


def mean_gradient_magnitude(images: Any, data_range: float = 2.0) -> np.ndarray:
    """Sharpness of each image: the mean length of the luma's gradient, in luma levels (0..255) per pixel.

    The gradient is taken by forward differences, ``(L[y, x+1] - L[y, x], L[y+1, x] - L[y, x])``, over every
    pixel that has a right and a lower neighbour; the luma is ITU-R BT.601 full range (``0.299 R + 0.587 G +
    0.114 B`` on 0..255). A constant image scores 0 and blurring lowers the score, so it tells an upscaler that
    invents texture from one that smooths; it rewards noise too, so read it beside PSNR, never alone.

    Args:
        images: a NHWC batch or a list of HxWxC images (1 or 3 channels, at least 2x2).
        data_range: 2 for [-1, 1] images (the library's), 255 for 0..255, 1 for [0, 1].

    Returns:
        float64 array with one value per image.
    """
    data_range = _positive_number(data_range, "data_range")
    scores = []
    for i, image in enumerate(_image_list(images, "images")):
        if image.shape[-1] not in (1, 3) or min(image.shape[:2]) < 2:
            raise _fail(f"images[{i}]", "an image of at least 2x2 pixels with 1 or 3 channels",
                        f"shape {image.shape}")
        unit = _to_unit(image, data_range, f"images[{i}]")
        luma = 255.0 * (unit @ LUMA if unit.shape[-1] == 3 else unit[..., 0])  # BT.601 full range
        dx = luma[:-1, 1:] - luma[:-1, :-1]
        dy = luma[1:, :-1] - luma[:-1, :-1]
        scores.append(float(np.sqrt(dx ** 2 + dy ** 2).mean()))
    return np.array(scores, dtype=np.float64)


# --------------------------------------------------------------------------------------------------------------
# The digit classifier: features for digits, offline.

DIGIT_IMAGE_SIZE = 16
"""Side of the images the digit classifier takes; other single-channel images are resized to it."""

DIGIT_CLASSIFIER_EPOCHS = 15
"""Epochs the shipped digit classifier was trained for."""

_DIGIT_FEATURES_LAYER = "features"
_DIGIT_CLASSIFIER_FILE = Path("saved_models") / "digit_classifier" / "model.keras"


def _build_digit_classifier(seed: int) -> keras.Model:
    """The untrained architecture: two conv blocks, a 64-unit feature layer, a softmax over 10 digits (~50k
    parameters, a 0.2 MB file). Every initializer and the dropout are seeded, so training is repeatable."""
    import keras
    from keras import layers

    def init(i: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=seed * 97 + i)

    images = keras.Input((DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE, 1), name="images")
    x = images
    for i, filters in enumerate((16, 16, 32, 32)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init(i),
                          name=f"conv{i + 1}")(x)
        if i % 2:
            x = layers.MaxPooling2D(name=f"pool{i // 2 + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", kernel_initializer=init(10), name=_DIGIT_FEATURES_LAYER)(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(x)
    probabilities = layers.Dense(10, activation="softmax", kernel_initializer=init(11), name="probabilities")(x)
    return keras.Model(images, probabilities, name="digit_classifier")


def train_digit_classifier(out: str | os.PathLike | None = _DIGIT_CLASSIFIER_FILE,
                           epochs: int = DIGIT_CLASSIFIER_EPOCHS, seed: int = 0) -> tuple[keras.Model, float]:
    """Train the digit classifier on the "train" split of ``data.load("digits", image_size=16)`` and measure
    it on the "test" split, which it never sees. The same seed gives the same weights.

    Args:
        out: where to save it (``.keras``, written to a temporary file and renamed, so a crash leaves no
            half-written model); ``None`` to skip saving.
        epochs: passes over the training split.
        seed: seeds the initial weights, dropout and the shuffling.

    Returns:
        ``(model, test_accuracy)``; the model is saved without optimizer state, uncompiled.
    """
    epochs = _positive_int(epochs, "epochs")
    if not _is_int(seed) or seed < 0:
        raise _fail("seed", "a non-negative int", repr(seed))
    if out is not None and not (isinstance(out, (str, os.PathLike)) and os.fspath(out).endswith(".keras")):
        raise _fail("out", "a path ending in .keras, or None", repr(out))
    import keras

    from ganapps import data

    train = data.load("digits", split="train", image_size=DIGIT_IMAGE_SIZE, with_labels=True, batch_size=32,
                      shuffle=True, seed=seed)
    model = _build_digit_classifier(seed)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  jit_compile=False)
    model.fit(train, epochs=epochs, verbose=0, shuffle=False)  # the dataset shuffles, seeded
    # A fresh, uncompiled copy: the shipped file holds weights only, no optimizer state.
    trained = _build_digit_classifier(seed)
    trained.set_weights(model.get_weights())
    images, labels = _digits("test", DIGIT_IMAGE_SIZE)
    predicted = np.asarray(trained(images, training=False)).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    if out is not None:
        _save_atomically(trained, Path(out))
    return trained, accuracy


def _save_atomically(model: keras.Model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _repo_digit_classifier_file() -> Path:
    import ganapps

    return Path(ganapps.__file__).resolve().parents[1] / _DIGIT_CLASSIFIER_FILE


def _cached_digit_classifier_file() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "ganapps" / "digit_classifier" / "model.keras"


def _digit_classifier_file() -> Path:
    """The shipped model; without it (a non-editable install) a copy trained once into the user's cache."""
    shipped = _repo_digit_classifier_file()
    if shipped.is_file():
        return shipped
    cached = _cached_digit_classifier_file()
    if not cached.is_file():
        warnings.warn(f"ganapps.metrics: {shipped} is not installed; training the digit classifier once (seconds) "
                      f"and caching it at {cached}", stacklevel=3)
        train_digit_classifier(cached, epochs=DIGIT_CLASSIFIER_EPOCHS)
    return cached


@functools.lru_cache(maxsize=1)
def digit_classifier() -> keras.Model:
    """The project's digit classifier: a small CNN mapping 16x16x1 digits in [-1, 1] to 10 class
    probabilities (about 98% accurate on the held-out digits; saved_models/digit_classifier/README.md).

    Its penultimate layer (:func:`digit_feature_model`) is an offline stand-in for Inception features when the
    data are digits: FID/KID on it compare like with like without ImageNet weights. Loaded once per process.
    """
    import keras

    return keras.saving.load_model(_digit_classifier_file(), compile=False)


@functools.lru_cache(maxsize=1)
def digit_feature_model() -> keras.Model:
    """The digit classifier up to its 64-unit ReLU feature layer, the activations ``features="digits"`` uses."""
    import keras

    model = digit_classifier()
    return keras.Model(model.input, model.get_layer(_DIGIT_FEATURES_LAYER).output, name="digit_features")


def _digit_batch(batch: np.ndarray, argument: str, model: keras.Model | None = None) -> np.ndarray:
    """One batch through the digit model (features unless ``model`` is given), resized to 16x16 if needed."""
    from ganapps import data

    data.validate_images(batch, argument=argument)
    if batch.shape[-1] != 1:
        raise _fail(argument, "single-channel digit images (N, H, W, 1) for the digit classifier",
                    f"shape {batch.shape}")
    if batch.shape[1:3] != (DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE):
        import tensorflow as tf

        batch = data._resize(tf.constant(batch, tf.float32), (DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE)).numpy()
    model = digit_feature_model() if model is None else model
    return np.asarray(model(batch.astype(np.float32), training=False))


def digit_features(images: Any, batch_size: int = 256) -> np.ndarray:
    """Penultimate-layer activations ``(N, 64)`` of :func:`digit_classifier` for single-channel images in
    [-1, 1] (an array or a ``tf.data.Dataset``); images of another size are resized to 16x16 (bilinear,
    antialiased, as ``data.load(..., image_size=16)`` does), so real and generated sets match."""
    return _activations(images, "digits", batch_size, "images")


# --------------------------------------------------------------------------------------------------------------
# InceptionV3 features.

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
"""The file Keras loads InceptionV3's ImageNet weights (without the classifier top) from."""

_INCEPTION_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_WEIGHTS_FILE
_INCEPTION_SIZE = 299


WeightsUnavailableError = pretrained.WeightsUnavailableError


def _keras_weight_paths() -> list[Path]:
    """Where Keras looks for InceptionV3's downloaded weights."""
    return pretrained.keras_weight_paths(INCEPTION_WEIGHTS_FILE)


@functools.lru_cache(maxsize=1)
def _inception_model() -> keras.Model:
    return pretrained.application("InceptionV3", INCEPTION_WEIGHTS_FILE, _INCEPTION_URL, "features",
                                  "InceptionV3's ImageNet weights", "features='digits' or any keras.Model works",
                                  include_top=False, pooling="avg")


def _inception_batch(batch: np.ndarray, argument: str) -> np.ndarray:
    import tensorflow as tf

    from ganapps import data

    data.validate_images(batch, argument=argument)
    if batch.shape[-1] not in (1, 3):
        raise _fail(argument, "grayscale or RGB images (N, H, W, 1 or 3) for InceptionV3", f"shape {batch.shape}")
    model = _inception_model()
    x = tf.constant(batch, tf.float32)
    if batch.shape[-1] == 1:
        x = tf.repeat(x, 3, axis=-1)
    # InceptionV3 takes [-1, 1] inputs (its preprocess_input maps 0..255 there), which the images already are.
    x = data._resize(x, (_INCEPTION_SIZE, _INCEPTION_SIZE))
    return np.asarray(model(x, training=False))


def inception_features(images: Any, batch_size: int = 32) -> np.ndarray:
    """InceptionV3's 2048-d average-pool activations, the features FID and KID are usually reported on.

    Images (NHWC in [-1, 1], grayscale repeated to RGB) are resized to 299x299 batch by batch. The ImageNet
    weights come from the Keras cache (``~/.keras/models/``); without them and without a network this raises
    :class:`WeightsUnavailableError` at once, saying how to provide the file.
    """
    return _activations(images, "inception", batch_size, "images")


# --------------------------------------------------------------------------------------------------------------
# The demo's digit check (a logistic regression on 8x8 pooled digits; needs no TensorFlow model).

_DIGITS_SIZE = 8


@functools.lru_cache(maxsize=1)
def _digit_classifier():
    """Logistic regression on the 8x8 "train" split of ``ganapps.data``'s digits (96% accuracy on its
    "test" split, which it never sees; :func:`digit_confidence_reference` scores that split)."""
    from sklearn.linear_model import LogisticRegression

    images, labels = _digits("train", _DIGITS_SIZE)
    return LogisticRegression(max_iter=5000, C=1.0).fit(_to_digit_features(images), labels)


def _digits(split: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    from ganapps import data

    batches = list(data.load("digits", split=split, image_size=image_size, with_labels=True, batch_size=4096,
                             shuffle=False))
    return (np.concatenate([np.asarray(x) for x, _ in batches]),
            np.concatenate([np.asarray(y) for _, y in batches]))


def _to_digit_features(images: np.ndarray) -> np.ndarray:
    """NHWC images in [-1, 1] (H = W, a multiple of 8, one channel) -> (N, 64) features in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1 or images.shape[1] != images.shape[2] \
            or images.shape[1] % _DIGITS_SIZE:
        raise ValueError(f"images: expected single-channel square images whose side is a multiple of 8, "
                         f"shape (N, 8k, 8k, 1); got {images.shape}")
    k = images.shape[1] // _DIGITS_SIZE
    pooled = images.reshape(len(images), _DIGITS_SIZE, k, _DIGITS_SIZE, k).mean(axis=(2, 4))
    return ((pooled + 1.0) / 2.0).reshape(len(images), -1)


def _summary(probabilities: np.ndarray) -> dict:
    confidence = probabilities.max(axis=1)
    classes = probabilities.argmax(axis=1)
    return {"mean_confidence": float(confidence.mean()),
            "confident_fraction": float((confidence > 0.9).mean()),
            "class_counts": np.bincount(classes, minlength=10).tolist()}


def digit_confidence(images: np.ndarray) -> dict:
    """Score digit images (in [-1, 1], single channel, side a multiple of 8) with the bundled classifier.

    Returns ``mean_confidence`` (mean max class probability), ``confident_fraction`` (share above 0.9) and
    ``class_counts`` (predicted classes: a collapsed generator fills few of them).
    """
    return _summary(_digit_classifier().predict_proba(_to_digit_features(images)))


def digit_confidence_reference(image_size: int = 16, n: int = 1000, seed: int = 0) -> dict:
    """The same scores on the held-out real digits (the "test" split, resized to ``image_size`` as training
    data is) and on ``n`` images of uniform noise, to read :func:`digit_confidence` against."""
    real, _ = _digits("test", image_size)
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, image_size, image_size, 1)).astype(np.float32)
    return {"real": digit_confidence(real), "noise": digit_confidence(noise)}


# --------------------------------------------------------------------------------------------------------------
# Command line.


def main(argv: list[str] | None = None) -> int:
    """``python -m ganapps.metrics digit-classifier --out PATH``: retrain the shipped digit classifier."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ganapps.metrics", description="Models behind the metrics.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("digit-classifier", help="train the digit classifier behind features='digits'")
    train.add_argument("--out", default=str(_DIGIT_CLASSIFIER_FILE), help="where to save it (.keras)")
    train.add_argument("--epochs", type=int, default=DIGIT_CLASSIFIER_EPOCHS)
    train.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        _, accuracy = train_digit_classifier(args.out, epochs=args.epochs, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"digit classifier: test accuracy {accuracy:.4f}, trained in {time.perf_counter() - start:.1f} s, "
          f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
