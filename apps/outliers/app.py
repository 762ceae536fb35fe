"""The outlier-detection app: :class:`GANOutlierDetector` composes the library's pieces for the task.

A GAN learns the normal data (:class:`ganapps.FAnoGAN`, phase ``"gan"``); how badly it explains a new sample is
that sample's anomaly score. The methods differ in how the sample's latent is found:

* ``"fanogan"`` (Schlegl et al. 2019): an encoder trained after the GAN (phase ``"encoder"``, the izi_f loss)
  maps a sample to its latent, so scoring is one forward pass; score = image residual + kappa * feature residual.
  Only this method exports, as one ONNX graph (:class:`ganapps.runtime.OutlierScorer` runs it).
* ``"anogan"`` (Schlegl et al. 2017): the latent is found by gradient descent per sample
  (:func:`ganapps.latent.invert`); score = (1 - lam) * L1 residual + lam * L1 feature residual. Slow.
* ``"discriminator"``: the critic's logit on the sample, a baseline with no reconstruction.

The detector follows scikit-learn's conventions for outlier detectors (IsolationForest, LocalOutlierFactor):
``score_samples`` is LOWER for MORE ABNORMAL samples (it is minus the anomaly score), ``threshold_`` is the
``contamination`` quantile of normal samples' ``score_samples``, ``decision_function`` is negative for outliers,
``predict`` gives +1 (inlier) or -1 (outlier).

The threshold is calibrated on normal data the GAN never saw: ``fit`` holds out ``calibration_fraction`` of it (a
seeded random split) and takes the quantile of those samples' scores. A GAN fits its few training samples much
more closely than new ones, so the training samples' own quantile (``calibration_fraction=0``, the optimistic
choice) flags far more than ``contamination`` of new normal data: fitted on the digit 3 with the defaults, it flags
89% of the held-out 3s where ``contamination`` asks for 5%; the calibrated threshold flags 5%.

Data are images, (n, H, W, C) or (n, H, W), uint8 0..255 or float in [-1, 1], or vectors (n, d) of any scale,
standardised per feature with the training mean and standard deviation (stored with the detector, and applied
inside the exported graph). A saved detector is one ``.keras`` file: the FAnoGAN game as Keras writes it, plus
the zip member ``outliers/settings.json`` (settings, threshold, sample shape, standardisation, history).
Besides arrays, ``fit`` and ``score_samples`` take ``tf.data`` datasets (batched or not: the dataset's
``element_spec`` tells which), image folders and ``.npy`` / ``.csv`` files (read by :mod:`apps.outliers.data`,
whose :func:`load_data` needs no TensorFlow).

The app and the exported scorer (:class:`ganapps.runtime.OutlierScorer`, ONNX Runtime) take samples a little
differently, and the runtime is the more lenient:

* one sample: the runtime scores a single vector ``(d,)`` as a batch of one; the app takes batches of vectors
  ``(n, d)`` only (pass ``X[None]`` for one) and refuses a lone vector. A single image ``(H, W, C)`` of the fitted
  shape is a batch of one in both.
* CSV files: for an image model the runtime's reader (:func:`ganapps.runtime.read_samples`, what
  ``ganapps outliers score`` uses) reads a ``.csv`` as images, one per row of ``H * W * C`` values (whole numbers
  in 0..255 as uint8 pixels); the app reads every ``.csv`` as float vectors ``(n, d)``, so an image detector
  refuses it: give it images as an array, a ``.npy`` file or a folder.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.exceptions import NotFittedError

from apps.outliers.data import DATA_SUFFIXES, _fmt, _read_array_file, _read_folder
from apps.outliers.data import load_data  # noqa: F401  (re-exported)
from apps.outliers.plots import _labels_and_scores, residual_figure, roc_pr_figure  # noqa: F401  (re-exported)
from ganapps import _checks, losses, nets
from ganapps import export as gexport
from ganapps.games.fanogan import FAnoGAN
from ganapps.images import IMAGE_EXTENSIONS, from_uint8, read_image

METHODS = ("fanogan", "anogan", "discriminator")
ARCHITECTURES = ("auto", "mlp", "dcgan")
MLP_MAX_VALUES = 1024
"""``architecture="auto"`` uses MLP nets for images of at most this many values per sample (8x8 digits: 64), DCGAN
conv nets above: at 8x8 the MLP was as good and faster, in the prototype that fixed the defaults."""
SETTINGS_ENTRY = "outliers/settings.json"
SETTINGS_VERSION = 1
_RANGE_TOLERANCE = 1e-6


@dataclass
class Explanation:
    """Where each sample is abnormal, as the detector sees it.

    Attributes:
        scores: (n,) anomaly scores, HIGHER = MORE ABNORMAL (``-score_samples``), the scale of the figures and
            of the exported scorer's ``"score"``.
        reconstructions: what the GAN makes of each sample, in the input's layout (images in [-1, 1]; vectors in
            their own units, de-standardised).
        residual_maps: ``(x - reconstruction) ** 2`` per value, in the input's layout; for vectors in standardised
            units (per feature in training standard deviations), so features of different scales compare.
    """

    scores: np.ndarray
    reconstructions: np.ndarray
    residual_maps: np.ndarray


# -- settings ------------------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(float(value))


def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
    """Every constructor setting checked in one place, so that ``load`` checks a file's settings the same way."""
    s = dict(s)
    if s["method"] not in METHODS:
        raise _checks.fail("method", f"one of {METHODS}", repr(s["method"]))
    c = s["contamination"]
    if not _is_number(c) or not 0.0 < c <= 0.5:
        raise _checks.fail("contamination", "the share of normal data the threshold flags, in (0, 0.5]", repr(c))
    s["contamination"] = float(c)
    f = s["calibration_fraction"]
    if not _is_number(f) or not 0.0 <= f < 0.5:
        raise _checks.fail("calibration_fraction", "the share of the normal data held out of training to set the "
                           "threshold on, in [0, 0.5) (0: the training samples' own scores, optimistic)", repr(f))
    s["calibration_fraction"] = float(f)
    if s["architecture"] not in ARCHITECTURES:
        raise _checks.fail("architecture", f"one of {ARCHITECTURES}", repr(s["architecture"]))
    for key in ("latent_dim", "width", "batch_size", "steps", "encoder_steps", "anogan_steps", "anogan_restarts"):
        s[key] = _checks.positive_int(s[key], key)
    if isinstance(s["hidden"], (str, bytes)) or not isinstance(s["hidden"], Sequence) or not s["hidden"]:
        raise _checks.fail("hidden", "a non-empty sequence of positive layer widths, such as (256, 256)",
                           repr(s["hidden"]))
    s["hidden"] = tuple(int(v) for v in _checks.units(s["hidden"], "hidden"))
    if not _is_number(s["kappa"]) or s["kappa"] < 0:
        raise _checks.fail("kappa", "a non-negative weight of the feature residual", repr(s["kappa"]))
    s["kappa"] = float(s["kappa"])
    if not _is_number(s["lam"]) or not 0.0 <= s["lam"] <= 1.0:
        raise _checks.fail("lam", "AnoGAN's weight of the feature loss, in [0, 1] (0.1 in the paper)", repr(s["lam"]))
    s["lam"] = float(s["lam"])
    if not isinstance(s["loss"], str) or s["loss"] not in losses.LOSSES:
        raise _checks.fail("loss", f"one of the registered losses {losses.names()}", repr(s["loss"]))
    if not _is_number(s["r1"]) or s["r1"] < 0:
        raise _checks.fail("r1", "a non-negative R1 penalty weight", repr(s["r1"]))
    s["r1"] = float(s["r1"])
    for key in ("learning_rate", "encoder_learning_rate"):
        s[key] = _checks.positive_float(s[key], key)
    if s["seed"] is not None and not (_checks.is_int(s["seed"]) and s["seed"] >= 0):
        raise _checks.fail("seed", "None or a non-negative integer", repr(s["seed"]))
    s["seed"] = None if s["seed"] is None else int(s["seed"])
    if s["jit_compile"] not in (True, False, "auto") or isinstance(s["jit_compile"], (int, np.integer)) \
            and not isinstance(s["jit_compile"], bool):
        raise _checks.fail("jit_compile", "True, False or 'auto'", repr(s["jit_compile"]))
    return s


def _calibration_split(n: int, fraction: float, batch_size: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, calibration indices) of ``n`` normal samples, a seeded random split.

    The calibration set is ``fraction`` of them, at least one, but never so many that fewer than
    ``2 * batch_size`` samples are left to train on (a small data set gets a smaller calibration set rather than
    a refusal: 146 digits of one class and the default batch of 64 leave 18 to calibrate on). ``fraction`` 0: no
    calibration set; the threshold then comes from the training samples.
    """
    train_floor = 2 * batch_size
    needed = train_floor + (1 if fraction > 0 else 0)
    if n < needed:
        expected = (f"at least 2 * batch_size + 1 = {needed} samples: {train_floor} to train on and 1 or more held "
                    f"out to set the threshold on (calibration_fraction={fraction:g}; or a smaller batch_size)"
                    if fraction > 0 else
                    f"at least 2 * batch_size = {train_floor} samples to train on (or a smaller batch_size)")
        raise _checks.fail("X", expected, f"{n} samples")
    if fraction == 0:
        return np.arange(n), np.arange(0)
    size = min(max(1, int(round(fraction * n))), n - train_floor)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[size:]), np.sort(order[:size])


# -- data in -------------------------------------------------------------------------------------------------
CHANNEL_COUNTS = (1, 3, 4)
"""The channel counts a rank-3 dataset element (H, W, C) may end in to be read as one image, not a gray batch."""


def _is_batch(dims: tuple[int | None, ...], argument: str, shape: tuple[int, ...] | None) -> bool:
    """Whether a dataset's elements, of static shape ``dims``, are batches (their first axis) or single samples.

    Fitted on samples of ``shape``, the rank decides: one axis more than a sample is a batch, and so is
    (n, H, W) for gray images (H, W, 1) given without their channel axis. Unfitted (``shape`` None), a first axis
    of no fixed size is a batch (``.batch(n)`` keeps a remainder); else rank 1 is one vector, rank 3 one image
    when its last axis holds 1, 3 or 4 channels and a batch of gray images (n, H, W) otherwise, rank 4 a batch of
    images; rank 2 could be one gray image or a batch of vectors, and is refused."""
    rank = len(dims)
    if shape is not None:
        gray_batch = len(shape) == 3 and shape[-1] == 1 and rank == 3 and dims != shape and dims[1:] == shape[:2]
        if rank == len(shape) + 1 or gray_batch:
            return True
        if rank == len(shape) or (rank == 2 and len(shape) == 3 and shape[-1] == 1):
            return False
        raise _checks.fail(argument, f"dataset elements of samples of shape {_fmt(shape)} or of batches of them "
                           "(what the detector was fitted on)", f"elements of shape {tuple(dims)}")
    if rank == 0:
        raise _checks.fail(argument, "a dataset of samples or batches of samples", "scalar elements")
    if rank >= 2 and dims[0] is None:
        return True
    if rank == 2:
        raise _checks.fail(argument, "dataset elements whose shape tells one sample from a batch: batch the "
                           "dataset with .batch(n) (whose batch axis has no fixed size), or give gray images a "
                           "channel axis (ds.map(lambda x: x[..., None]))",
                           f"elements of shape {tuple(dims)}, which could be one {dims[0]}x{dims[1]} gray image or "
                           f"a batch of {dims[0]} vectors of {dims[1]} values")
    if rank == 3:
        return dims[-1] not in CHANNEL_COUNTS
    return rank >= 4


def _from_dataset(ds: tf.data.Dataset, argument: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Every sample of a dataset of samples or of (samples, labels), in one array; batches are concatenated.
    Whether an element is a batch or one sample comes from the dataset's ``element_spec`` (see
    :func:`_is_batch`; ``shape``: the fitted sample shape)."""
    spec = ds.element_spec
    if isinstance(spec, dict):
        raise _checks.fail(argument, "a dataset of samples or (samples, labels)",
                           f"dict elements with keys {sorted(spec)}")
    if isinstance(spec, (tuple, list)):
        if not spec:
            raise _checks.fail(argument, "a dataset of samples or (samples, labels)", "empty tuples")
        spec = spec[0]
    if not isinstance(spec, tf.TensorSpec):
        raise _checks.fail(argument, "a dataset of sample tensors", f"elements of {spec!r}")
    if spec.shape.rank is None:
        raise _checks.fail(argument, "a dataset whose elements have a known rank (set the shape in "
                           "from_generator's output_signature, or ds.map(lambda x: tf.ensure_shape(x, ...)))",
                           "elements of unknown rank")
    batched = _is_batch(tuple(spec.shape.as_list()), argument, shape)
    parts = []
    for element in ds:
        value = element[0] if isinstance(element, (tuple, list)) else element
        parts.append(np.asarray(value))
    if not parts:
        raise _checks.fail(argument, "a dataset with at least one sample", "an empty dataset")
    shapes = {part.shape[1:] if batched else part.shape for part in parts}
    if len(shapes) > 1:
        raise _checks.fail(argument, "dataset samples of one shape", f"samples of shapes {sorted(shapes)}")
    return np.concatenate(parts) if batched else np.stack(parts)


def _collect(X: Any, argument: str, channels: int | None = None, expected: tuple[int, ...] | None = None,
             sample_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``X`` as one NumPy array, whatever form it came in (array, dataset, folder, .npy or .csv file); errors
    name ``argument``. ``sample_shape``: what a fitted detector takes (tells a dataset's batches from samples)."""
    if isinstance(X, tf.data.Dataset):
        return _from_dataset(X, argument, sample_shape)
    if isinstance(X, (str, os.PathLike)):
        path = Path(X).expanduser()
        if path.is_dir():
            return _read_folder(path, argument, channels, expected=expected)
        if path.is_file() and path.suffix.lower() in DATA_SUFFIXES:
            return _read_array_file(path, argument)
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            return read_image(path, channels, argument)[None]
        if path.is_file():
            raise _checks.fail(argument, f"a folder of images, an image file or a {' or '.join(DATA_SUFFIXES)} file",
                               repr(str(X)))
        raise FileNotFoundError(f"{argument}: expected an array, a tf.data.Dataset, a folder of images or a "
                                f"{' or '.join(DATA_SUFFIXES)} file; got {str(X)!r}, which does not exist")
    try:
        return np.asarray(X)
    except Exception as err:  # noqa: BLE001  (ragged lists and the like)
        raise _checks.fail(argument, "an array of samples", f"{type(X).__name__} that is not one ({err})") from err


def _convert(array: np.ndarray, argument: str, kind: str | None = None,
             shape: tuple[int, ...] | None = None) -> tuple[str, np.ndarray, bool]:
    """``(kind, samples, channel_added)``: images as float32 NHWC in [-1, 1], vectors as float64 (n, d).

    Unfitted (``kind`` None) the rank decides: 2 is vectors, 3 grayscale images (n, H, W), 4 images. Fitted, the
    samples must have the fitted ``shape``; one image without its batch axis is taken as a batch of one."""
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise _checks.fail(argument, "a numeric array of samples", f"dtype {array.dtype}")
    added = False
    if kind is None:
        if array.ndim == 2:
            kind = "vectors"
        elif array.ndim in (3, 4):
            kind = "images"
            if array.ndim == 3:
                array, added = array[..., None], True
        else:
            raise _checks.fail(argument, "vectors (n_samples, n_features) or images (n, height, width[, channels])",
                               f"an array of shape {array.shape}")
    elif kind == "images":
        if array.ndim == 3 and tuple(array.shape) == shape:
            array = array[None]
        elif array.ndim == 3 and shape[-1] == 1:
            array, added = array[..., None], True
        if array.ndim != 4 or tuple(array.shape[1:]) != shape:
            got = _fmt(array.shape[1:]) if array.ndim >= 2 else f"an array of shape {array.shape}"
            raise _checks.fail(argument, f"samples of shape {_fmt(shape)} (what the detector was fitted on)", got)
    else:
        if array.ndim != 2 or tuple(array.shape[1:]) != shape:
            got = _fmt(array.shape[1:]) if array.ndim >= 2 else f"an array of shape {array.shape}"
            hint = " (one sample? pass X[None])" if array.ndim == 1 and array.shape == shape else ""
            raise _checks.fail(argument, f"samples of shape {_fmt(shape)} (what the detector was fitted on)",
                               got + hint)
    if array.shape[0] == 0:
        raise _checks.fail(argument, "at least one sample", f"an empty array of shape {array.shape}")
    if kind == "vectors":
        values = array.astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise _checks.fail(argument, "finite values", f"{int(np.isnan(values).sum())} NaN and "
                               f"{int(np.isinf(values).sum())} Inf among {values.size} values")
        return kind, values, added
    if array.dtype == np.uint8:
        return kind, from_uint8(array), added
    if not np.issubdtype(array.dtype, np.floating):
        raise _checks.fail(argument, "images as uint8 (0..255) or float in [-1, 1]", f"dtype {array.dtype}")
    n_nan, n_inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    if n_nan or n_inf:
        raise _checks.fail(argument, "finite values", f"{n_nan} NaN and {n_inf} Inf among {array.size} values")
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise _checks.fail(argument, "float images in [-1, 1] (x / 127.5 - 1 for 0..255 pixels; or uint8 0..255)",
                           f"values from {low:.6g} to {high:.6g}")
    return kind, np.clip(array, -1.0, 1.0).astype(np.float32), added


# -- the detector --------------------------------------------------------------------------------------------
def _parity_tolerance(model: keras.Model, shape: tuple[int, ...], relative: float = 1e-5) -> float:
    """The export's parity tolerance for ``model``: 1e-4 absolute, or ``relative`` times the largest output
    value on standard-normal inputs (what the export's parity check feeds), if larger.

    The check compares absolute differences, but a scorer of vectors standardises inside its graph: a feature of
    std 0.01 turns a standard-normal input into values near 100 and squared residuals near 1e4 or more, where
    float32 rounding alone differs by more than 1e-4 between runtimes. A relative bound keeps the check meaningful
    (a wrong graph differs by about 100%, rounding by about 1e-7)."""
    probe = np.random.default_rng(0).standard_normal((16, *shape)).astype(np.float32)
    outputs = model(probe, training=False)
    values = outputs.values() if isinstance(outputs, dict) else outputs
    scale = max(float(np.max(np.abs(keras.ops.convert_to_numpy(v)))) for v in values)
    return max(1e-4, relative * scale)


@keras.saving.register_keras_serializable(package="ganapps")
class Standardize(keras.layers.Layer):
    """Per-feature ``(x - mean) / std`` (or, with ``invert``, ``x * std + mean``) inside a graph.

    The statistics are non-trainable weights: tf2onnx freezes weights into the ONNX graph, whereas the constant
    tensors of ``keras.layers.Normalization(mean=..., variance=...)`` are left as inputs the graph lacks. The
    arithmetic is the detector's own float32 standardisation, so the export and the app agree.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], invert: bool = False, **kwargs: Any):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self._stats = (np.asarray(mean, np.float32), np.asarray(std, np.float32))
        if self._stats[0].shape != self._stats[1].shape or not (self._stats[1] > 0).all():
            raise _checks.fail("std", f"positive values shaped like mean {self._stats[0].shape}",
                               _checks.short(self._stats[1]))
        self.invert = bool(invert)

    def build(self, input_shape: Any) -> None:
        mean, std = self._stats
        self.mean = self.add_weight(shape=mean.shape, initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=std.shape, initializer="ones", trainable=False, name="std")
        self.mean.assign(mean)
        self.std.assign(std)

    def call(self, x: Any) -> Any:
        x = keras.ops.cast(x, "float32")
        return x * self.std + self.mean if self.invert else (x - self.mean) / self.std

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(mean=self._stats[0].tolist(), std=self._stats[1].tolist(), invert=self.invert)
        return config


@dataclass
class _SavedRecord:
    """The checked contents of a saved detector's ``outliers/settings.json``."""

    settings: dict[str, Any]
    threshold: float
    kind: str
    sample_shape: tuple[int, ...]
    calibration_size: int
    mean: np.ndarray | None
    std: np.ndarray | None
    history: dict[str, Any]

    @classmethod
    def parse(cls, record: Any, where: str, defaults: dict[str, Any]) -> _SavedRecord:
        """``record`` checked key by key; an error names the key and ``where`` (the entry and its file).
        Settings a file lacks take ``defaults``: files older than the calibration set had their threshold set on
        the training samples, so theirs is ``calibration_fraction`` 0."""

        def bad(key: str, expected: str, got: Any) -> ValueError:
            return _checks.fail("path", f"{expected} under {key!r}", f"{got} in {where}")

        if not isinstance(record, dict):
            raise _checks.fail("path", "a JSON object of detector settings", f"{type(record).__name__} in {where}")
        for key in ("version", "settings", "threshold", "input_kind", "sample_shape"):
            if key not in record:
                raise _checks.fail("path", f"detector settings with the key {key!r}", f"none in {where}")
        if record["version"] != SETTINGS_VERSION:
            raise bad("version", f"settings version {SETTINGS_VERSION}", repr(record["version"]))
        given = record["settings"]
        if not isinstance(given, dict):
            raise bad("settings", "an object of the detector's settings", type(given).__name__)
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise bad("settings", f"the detector's settings ({', '.join(sorted(defaults))})",
                      f"the unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
        try:
            settings = _check_settings({**defaults, "calibration_fraction": 0.0, **given})
        except ValueError as err:
            raise bad("settings", "valid detector settings", f"{err}") from err
        threshold, kind, shape = record["threshold"], record["input_kind"], record["sample_shape"]
        if not _is_number(threshold):
            raise bad("threshold", "a finite number", repr(threshold))
        if kind not in ("images", "vectors"):
            raise bad("input_kind", "'images' or 'vectors'", repr(kind))
        if not isinstance(shape, list) or not shape or not all(_checks.is_int(v) and v > 0 for v in shape):
            raise bad("sample_shape", "a list of positive integers", _checks.short(shape))
        shape = tuple(int(v) for v in shape)
        calibration_size = record.get("calibration_size", 0)
        if not (_checks.is_int(calibration_size) and calibration_size >= 0):
            raise bad("calibration_size", "a non-negative integer", repr(calibration_size))
        stats: dict[str, np.ndarray | None] = {"mean": None, "std": None}
        if kind == "vectors":
            for key in stats:
                value = record.get(key)
                try:
                    stats[key] = np.asarray(value, dtype=np.float32)
                except (TypeError, ValueError):
                    stats[key] = None
                if stats[key] is None or stats[key].shape != shape or not np.isfinite(stats[key]).all() \
                        or (key == "std" and not (stats[key] > 0).all()):
                    expected = "positive numbers" if key == "std" else "finite numbers"
                    raise bad(key, f"{expected} of the sample shape {shape} (the standardisation of vectors)",
                              _checks.short(value) if key in record else "none")
        history = record.get("history") or {"gan": {}, "encoder": {}}
        if not isinstance(history, dict):
            raise bad("history", "an object of training histories", type(history).__name__)
        return cls(settings, float(threshold), kind, shape, int(calibration_size), stats["mean"], stats["std"],
                   history)


def _adam(learning_rate: float, beta_1: float = 0.9) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)


class GANOutlierDetector:
    """Outlier detection by a GAN of the normal data, with scikit-learn's conventions (see the module docstring).

    The defaults come from the prototype on 8x8 digits ("one class is the outlier"): MLP nets (256, 256), latent
    32, the non-saturating loss with R1 = 1, Adam(2e-4, 0.5), 3000 GAN steps of 64, then 2000 encoder steps with
    Adam(1e-3), kappa 1: f-AnoGAN beat PCA clearly there.

    Args:
        method: ``"fanogan"`` (encoder, one forward pass, exportable), ``"anogan"`` (per-sample latent search,
            slow) or ``"discriminator"`` (the critic's logit; a baseline with no reconstruction).
        contamination: the share of normal data to flag, in (0, 0.5]: ``threshold_`` is that quantile of the
            calibration samples' ``score_samples``, so about this share of new normal data is flagged.
        calibration_fraction: the share of the normal data ``fit`` holds out of training to set ``threshold_``
            on, in [0, 0.5): samples the GAN never saw score as new normal data do. At least one sample, and at
            most what leaves ``2 * batch_size`` to train on (``calibration_size_`` says how many it was). 0 sets
            the threshold on the training samples themselves, which the GAN fits more closely than new ones: an
            optimistic threshold that flags more than ``contamination`` of new normal data.
        latent_dim: size of the GAN's latent vector.
        architecture: ``"mlp"`` (vectors, small images), ``"dcgan"`` (images with power-of-two height and width
            of at least 4) or ``"auto"``: MLP for vectors and images of at most 1024 values per sample, else DCGAN.
        hidden: the MLP nets' layer widths (generator, discriminator and encoder alike).
        width: the DCGAN nets' filters at full resolution.
        kappa: f-AnoGAN's weight of the discriminator-feature residual (in the encoder's loss and the score).
        lam: AnoGAN's weight of the discriminator-feature loss (0.1 in the paper).
        loss: the adversarial loss, by its name in :mod:`ganapps.losses`.
        r1: the R1 penalty on the discriminator's gradient at real samples.
        batch_size: samples per training step; fitting needs at least twice as many samples to train on.
        learning_rate: Adam's rate (beta_1 0.5) for the generator and the discriminator.
        encoder_learning_rate: Adam's rate for the encoder (fanogan).
        steps: GAN training steps.
        encoder_steps: encoder training steps (fanogan only).
        anogan_steps, anogan_restarts: gradient steps and random starts of AnoGAN's per-sample latent search.
        seed: seeds the nets' initial weights (``keras.utils.set_random_seed``, global), the game's random stream,
            the data order and AnoGAN's starts: the same seed gives the same detector. None: random.
        jit_compile: XLA compilation of the training steps (True, False or "auto").
    """

    def __init__(self, method: str = "fanogan", contamination: float = 0.05, calibration_fraction: float = 0.2,
                 latent_dim: int = 32, architecture: str = "auto", hidden: Sequence[int] = (256, 256),
                 width: int = 64, kappa: float = 1.0, lam: float = 0.1, loss: str = "non_saturating",
                 r1: float = 1.0, batch_size: int = 64, learning_rate: float = 2e-4,
                 encoder_learning_rate: float = 1e-3, steps: int = 3000, encoder_steps: int = 2000,
                 anogan_steps: int = 200, anogan_restarts: int = 2, seed: int | None = 0,
                 jit_compile: bool | str = True):
        self._settings = _check_settings(dict(
            method=method, contamination=contamination, calibration_fraction=calibration_fraction,
            latent_dim=latent_dim, architecture=architecture, hidden=hidden, width=width, kappa=kappa, lam=lam,
            loss=loss, r1=r1, batch_size=batch_size, learning_rate=learning_rate,
            encoder_learning_rate=encoder_learning_rate, steps=steps, encoder_steps=encoder_steps,
            anogan_steps=anogan_steps, anogan_restarts=anogan_restarts, seed=seed, jit_compile=jit_compile))
        self.game: FAnoGAN | None = None
        self.threshold_: float | None = None
        self.calibration_size_: int | None = None
        self.sample_shape_: tuple[int, ...] | None = None
        self.input_kind_: str | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.history_: dict[str, dict[str, list[float]]] = {"gan": {}, "encoder": {}}

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's arguments (a copy): what ``save`` stores and ``load`` checks."""
        return dict(self._settings)

    @property
    def method(self) -> str:
        """How samples are scored: ``"fanogan"``, ``"anogan"`` or ``"discriminator"``."""
        return self._settings["method"]

    @property
    def contamination(self) -> float:
        """The share of normal data that ``threshold_`` flags (of the calibration samples, held out of training)."""
        return self._settings["contamination"]

    @property
    def is_fitted(self) -> bool:
        """Whether the detector can score: fitted, or loaded."""
        return self.game is not None and self.threshold_ is not None

    def __repr__(self) -> str:
        s = self._settings
        fitted = f", fitted on {_fmt(self.sample_shape_)} {self.input_kind_}" if self.is_fitted else ""
        return (f"GANOutlierDetector(method={s['method']!r}, contamination={s['contamination']}, "
                f"latent_dim={s['latent_dim']}, architecture={s['architecture']!r}{fitted})")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("detector: expected a fitted detector (call fit(X) first, or "
                                 "GANOutlierDetector.load(path)); got one that is not fitted")

    # -- nets ------------------------------------------------------------------------------------------------
    def _architecture(self, shape: tuple[int, ...], kind: str) -> str:
        arch = self._settings["architecture"]
        size = int(np.prod(shape))
        if arch == "auto":
            arch = "mlp" if kind == "vectors" or size <= MLP_MAX_VALUES else "dcgan"
        if arch == "dcgan":
            if kind == "vectors":
                raise _checks.fail("architecture", "'mlp' or 'auto' for vectors (DCGAN nets take images)",
                                   repr(self._settings["architecture"]))
            h, w = shape[:2]
            if not all(v >= 4 and v & (v - 1) == 0 for v in (h, w)):
                raise _checks.fail("X", "images whose height and width are powers of two of at least 4 for DCGAN "
                                   f"nets (architecture={self._settings['architecture']!r}; {size} values per "
                                   "sample): resize them (load_data(..., image_size=...)) or choose "
                                   "architecture='mlp'", f"{h}x{w} images")
        return arch

    def _networks(self, shape: tuple[int, ...], kind: str) -> tuple[keras.Model, keras.Model, keras.Model]:
        s = self._settings
        latent_dim = s["latent_dim"]
        if self._architecture(shape, kind) == "dcgan":
            return (nets.dcgan_generator(latent_dim, shape, width=s["width"]),
                    nets.dcgan_discriminator(shape, width=s["width"]),
                    nets.dcgan_encoder(shape, latent_dim, width=s["width"]))
        size = int(np.prod(shape))
        images = kind == "images"
        sample_shape = shape if images else None
        return (nets.mlp_generator(latent_dim, size, hidden=s["hidden"], output_activation="tanh" if images else None,
                                   sample_shape=sample_shape),
                nets.mlp_discriminator(size, hidden=s["hidden"], sample_shape=sample_shape),
                nets.mlp_encoder(size, latent_dim, hidden=s["hidden"], sample_shape=sample_shape))

    def _new_game(self, shape: tuple[int, ...], kind: str) -> FAnoGAN:
        s = self._settings
        if s["seed"] is not None:
            keras.utils.set_random_seed(s["seed"])  # the nets' initial weights
        generator, discriminator, encoder = self._networks(shape, kind)
        game = FAnoGAN(generator, discriminator, encoder, latent_dim=s["latent_dim"], kappa=s["kappa"],
                       loss=s["loss"], r1=s["r1"], seed=s["seed"])
        game.compile(g_optimizer=_adam(s["learning_rate"], 0.5), d_optimizer=_adam(s["learning_rate"], 0.5),
                     e_optimizer=_adam(s["encoder_learning_rate"]), jit_compile=s["jit_compile"])
        return game

    # -- data ------------------------------------------------------------------------------------------------
    def _standardize(self, x: np.ndarray) -> np.ndarray:
        """Vectors in the units the game works in; float32 arithmetic, as the exported graph's Standardize layer."""
        if self.input_kind_ != "vectors":
            return x
        return (x.astype(np.float32) - self.mean_) / self.std_

    def _samples(self, X: Any, argument: str = "X") -> tuple[np.ndarray, bool]:
        """(``X`` as the game's input, whether a channel axis was added) for a fitted detector."""
        self._check_fitted()
        channels = self.sample_shape_[-1] if self.input_kind_ == "images" else None
        expected = self.sample_shape_ if self.input_kind_ == "images" else None
        raw = _collect(X, argument, channels, expected, self.sample_shape_)
        _, x, added = _convert(raw, argument, self.input_kind_, self.sample_shape_)
        return self._standardize(x), added

    def _training_data(self, x: np.ndarray, seed_offset: int) -> tf.data.Dataset:
        s = self._settings
        seed = None if s["seed"] is None else s["seed"] + seed_offset
        return (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
                .repeat().batch(s["batch_size"], drop_remainder=True))

    # -- training --------------------------------------------------------------------------------------------
    def _run_phase(self, phase: str, x: np.ndarray, steps: int, verbose: int | str) -> None:
        self.game.phase = phase
        history = self.game.fit(self._training_data(x, 0 if phase == "gan" else 1), steps_per_epoch=steps,
                                epochs=1, verbose=verbose)
        self.history_[phase] = {key: [float(v) for v in values] for key, values in history.history.items()}

    def fit(self, X: Any, steps: int | None = None, encoder_steps: int | None = None, verbose: int | str = 1,
            y: Any = None) -> GANOutlierDetector:
        """Learn the normal data ``X`` from scratch: the GAN, then (fanogan) the encoder, on all of ``X`` but the
        ``calibration_fraction`` held out; then ``threshold_``, from the held-out samples' scores.

        Args:
            X: normal samples: an array of vectors (n, d) (any scale; standardised per feature with the training
                mean and standard deviation, constant features with 1) or images (n, H, W, C) / (n, H, W)
                (uint8 0..255, or float in [-1, 1]); a ``tf.data.Dataset`` of such batches (or of
                (batch, labels); unbatched samples too, told apart by its ``element_spec``: elements of a fixed
                shape (a, b) could be one gray image or a batch of vectors and are refused, so batch it with
                ``.batch(n)`` or give gray images a channel axis), collected into memory; a folder of images of
                one size; or a ``.npy`` / ``.csv`` file (see :func:`load_data`).
            steps: GAN training steps (default: the constructor's).
            encoder_steps: encoder training steps (default: the constructor's; fanogan only).
            verbose: Keras's progress display: 1 a progress bar, 2 a line per epoch, 0 silent.
            y: ignored; there for scikit-learn's ``fit(X, y=None)`` (pass it by keyword).

        Returns:
            self.
        """
        del y
        s = self._settings
        steps = s["steps"] if steps is None else _checks.positive_int(steps, "steps")
        encoder_steps = s["encoder_steps"] if encoder_steps is None else _checks.positive_int(encoder_steps,
                                                                                              "encoder_steps")
        kind, x, _ = _convert(_collect(X, "X"), "X")
        fit_part, calibration = _calibration_split(len(x), s["calibration_fraction"], s["batch_size"], s["seed"])
        x, x_calibration = x[fit_part], x[calibration]
        shape = tuple(int(v) for v in x.shape[1:])
        mean = std = None
        if kind == "vectors":  # the training part's statistics: the calibration samples stand for new data
            mean = x.mean(axis=0)
            std = x.std(axis=0)
            std[~(std > 0)] = 1.0
            mean, std = mean.astype(np.float32), std.astype(np.float32)
        game = self._new_game(shape, kind)  # checks the architecture before anything is changed
        self.game, self.threshold_, self.calibration_size_ = game, None, len(calibration)
        self.sample_shape_, self.input_kind_, self.mean_, self.std_ = shape, kind, mean, std
        self.history_ = {"gan": {}, "encoder": {}}
        x = self._standardize(x)
        self._run_phase("gan", x, steps, verbose)
        if s["method"] == "fanogan":
            self._run_phase("encoder", x, encoder_steps, verbose)
        reference = self._standardize(x_calibration) if len(x_calibration) else x
        self.threshold_ = float(np.quantile(self._score(reference), s["contamination"]))
        return self

    def fit_predict(self, X: Any, y: Any = None, **fit_kwargs: Any) -> np.ndarray:
        """``fit(X)`` then ``predict(X)``: which training samples the detector flags (scikit-learn's shortcut)."""
        return self.fit(X, y=y, **fit_kwargs).predict(X)

    # -- scoring ---------------------------------------------------------------------------------------------
    def _method_scores(self, x: np.ndarray) -> Any:
        s = self._settings
        if s["method"] == "fanogan":
            return self.game.anomaly_scores(x)
        return self.game.anogan_scores(x, lam=s["lam"], steps=s["anogan_steps"], restarts=s["anogan_restarts"],
                                       seed=s["seed"] or 0, jit_compile=s["jit_compile"] is not False)

    def _score(self, x: np.ndarray) -> np.ndarray:
        """score_samples of the game's input: lower = more abnormal."""
        if self.method == "discriminator":
            return np.asarray(self.game.discriminator_scores(x), dtype=np.float64)
        return -np.asarray(self._method_scores(x).scores, dtype=np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """(n,) normality scores, scikit-learn's sign: LOWER = MORE ABNORMAL (minus the anomaly score; for
        ``"discriminator"`` the critic's logit)."""
        x, _ = self._samples(X)
        return self._score(x)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - threshold_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def explain(self, X: Any) -> Explanation:
        """What the GAN makes of each sample and where it differs (see :class:`Explanation`): the encoder's
        reconstruction for fanogan, the searched latent's for anogan; images come back in the input's layout."""
        if self.method == "discriminator":
            raise _checks.fail("method", "'fanogan' or 'anogan' to explain (they reconstruct each sample; the "
                               "discriminator baseline only scores)", repr(self.method))
        x, added = self._samples(X)
        result = self._method_scores(x)
        recon = np.asarray(result.reconstructions, dtype=np.float32)
        maps = np.asarray(result.residual_maps, dtype=np.float32)
        if self.input_kind_ == "vectors":
            recon = recon * self.std_ + self.mean_
        elif added:
            recon, maps = recon[..., 0], maps[..., 0]
        return Explanation(scores=np.asarray(result.scores, dtype=np.float64), reconstructions=recon,
                           residual_maps=maps)

    def evaluate(self, X: Any, is_outlier: Any) -> dict[str, Any]:
        """AUROC and AUPRC (scikit-learn's ``roc_auc_score`` and ``average_precision_score``, outliers the
        positive class, ``-score_samples`` the score) on labelled data; ``"flagged"`` counts what ``predict``
        calls outliers there."""
        from sklearn.metrics import average_precision_score, roc_auc_score

        normality = self.score_samples(X)
        anomaly, y = _labels_and_scores(-normality, is_outlier)
        return {"auroc": float(roc_auc_score(y, anomaly)), "auprc": float(average_precision_score(y, anomaly)),
                "n": int(len(y)), "outliers": int(y.sum()), "flagged": int((normality < self.threshold_).sum())}

    # -- files -----------------------------------------------------------------------------------------------
    def _record(self) -> dict[str, Any]:
        s = dict(self._settings)
        s["hidden"] = list(s["hidden"])
        return {"version": SETTINGS_VERSION, "settings": s, "threshold": self.threshold_,
                "calibration_size": self.calibration_size_,
                "sample_shape": list(self.sample_shape_), "input_kind": self.input_kind_,
                "mean": None if self.mean_ is None else [float(v) for v in self.mean_],
                "std": None if self.std_ is None else [float(v) for v in self.std_],
                "history": self.history_, "app": "apps.outliers.GANOutlierDetector"}

    def save(self, path: str | os.PathLike) -> Path:
        """Save the game and the detector's state in one ``.keras`` file, atomically (a failure leaves no file,
        or the previous one). ``keras.models.load_model`` reads the game alone from it."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise _checks.fail("path", "a file name ending in .keras", repr(str(path)))
        record = self._record()

        return gexport.save_keras_with(self.game, path, {SETTINGS_ENTRY: json.dumps(record, indent=2)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> GANOutlierDetector:
        """Load a detector written by :meth:`save`: same scores, same threshold. A file whose settings are
        missing, unknown or invalid is refused with a ``path:`` error naming the file and the key."""
        file = Path(path)
        if not file.is_file() or file.suffix != ".keras" or not zipfile.is_zipfile(file):
            gexport.load_keras(file, argument="path")  # raises the error that says what is wrong with the file
        with zipfile.ZipFile(file) as archive:
            if SETTINGS_ENTRY not in archive.namelist():
                raise _checks.fail("path", f"a file written by GANOutlierDetector.save (holding {SETTINGS_ENTRY})",
                                   f"{str(path)!r}, without it")
            try:
                record = json.loads(archive.read(SETTINGS_ENTRY))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise _checks.fail("path", f"a valid {SETTINGS_ENTRY}", f"{str(path)!r} ({err})") from err
        saved = _SavedRecord.parse(record, f"{SETTINGS_ENTRY} of {str(path)!r}", cls().settings)
        game = gexport.load_keras(file, argument="path")
        if not isinstance(game, FAnoGAN):
            raise _checks.fail("path", "a .keras file holding a FAnoGAN game (written by GANOutlierDetector.save)",
                               f"{str(path)!r}, which holds a {type(game).__name__}")
        d_shape = game.discriminator.input_shape
        d_shape = tuple((d_shape[0] if isinstance(d_shape, list) else d_shape)[1:])
        if saved.sample_shape != d_shape:
            raise _checks.fail("path", "a saved detector whose settings match its game",
                               f"sample_shape {saved.sample_shape} in {SETTINGS_ENTRY} for a game taking {d_shape} "
                               f"in {str(path)!r}")
        det = cls(**saved.settings)
        det.game, det.threshold_, det.sample_shape_, det.input_kind_ = game, saved.threshold, d_shape, saved.kind
        det.calibration_size_, det.mean_, det.std_ = saved.calibration_size, saved.mean, saved.std
        det.history_ = saved.history
        return det

    def scorer_model(self) -> keras.Model:
        """The f-AnoGAN scorer as one Keras graph, input ``"x"`` in the user's units: vectors are standardised
        inside it (and reconstructions de-standardised), so an ONNX runtime needs nothing else. Outputs
        ``"score"`` (the anomaly score, higher = more abnormal), ``"reconstruction"`` and ``"residual"`` (as
        :meth:`explain` gives them)."""
        self._check_fitted()
        if self.method != "fanogan":
            raise _checks.fail("method", "'fanogan' to export a scorer (AnoGAN searches each sample's latent by "
                               "gradient descent, which is no single graph; the discriminator baseline has no "
                               "reconstruction)", repr(self.method))
        scorer = self.game.scorer()
        if self.input_kind_ == "images":
            return scorer
        x = keras.Input(self.sample_shape_, name="x")
        out = scorer(Standardize(self.mean_, self.std_, name="standardize")(x))
        if not isinstance(out, dict):
            out = dict(zip(scorer.output_names, out))
        reconstruction = Standardize(self.mean_, self.std_, invert=True, name="destandardize")(out["reconstruction"])
        outputs = {"score": out["score"], "reconstruction": reconstruction, "residual": out["residual"]}
        return keras.Model(x, outputs, name="outlier_scorer")

    def export(self, directory: str | os.PathLike) -> dict[str, Any]:
        """Write the f-AnoGAN scorer (:meth:`scorer_model`) as ``model.onnx``, ``saved_model/`` and
        ``metadata.json`` for :class:`ganapps.runtime.OutlierScorer`. The metadata's ``"threshold"`` is on the
        anomaly-score scale (``-threshold_``): score > threshold means outlier."""
        model = self.scorer_model()
        s = self._settings
        images = self.input_kind_ == "images"
        extra = self.game.scorer_metadata(-self.threshold_)
        extra.update({
            "task": "outlier_scoring",
            "method": "fanogan",
            "threshold": -self.threshold_,
            "input_kind": self.input_kind_,
            "sample_shape": list(self.sample_shape_),
            "contamination": s["contamination"],
            "calibration_fraction": s["calibration_fraction"],
            "calibration_size": self.calibration_size_,
            "kappa": s["kappa"],
            "score_sign": "higher score = more abnormal; score_samples = -score",
            "input": ("images NHWC float32 in [-1, 1] (uint8 x: x / 127.5 - 1)" if images else
                      "vectors (batch, d) float32 in their own units: standardised inside the graph"),
            "training": {**s, "hidden": list(s["hidden"]), "app": "apps.outliers.GANOutlierDetector"},
        })
        if not images:
            extra["standardization"] = {"mean": [float(v) for v in self.mean_], "std": [float(v) for v in self.std_],
                                        "where": "inside the graph: x is given in its own units"}
        return gexport.export_generator(model, directory, value_range=(-1.0, 1.0) if images else None,
                                        tolerance=_parity_tolerance(model, self.sample_shape_), extra_metadata=extra)
