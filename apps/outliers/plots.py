"""Figures of an outlier detector's results, drawn with NumPy, matplotlib and scikit-learn alone.

Neither TensorFlow nor Keras is imported here, so the ONNX-only ``ganapps outliers score`` draws the same figures
as :class:`apps.outliers.GANOutlierDetector` users do. Every figure is written atomically (a failure leaves the
previous file, or none); matplotlib and scikit-learn are imported when a figure is drawn.

* :func:`roc_pr_figure`: ROC and precision-recall curves of anomaly scores against known outliers.
* :func:`residual_figure`: where each sample departs from its reconstruction (images as input / reconstruction /
  residual heat-map columns, vectors as one residual row per sample).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganapps import _checks
from ganapps.images import convert_channels

FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
DPI = 100


def _figure_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise _checks.fail("path", f"a file name ending in one of {FIGURE_SUFFIXES}", repr(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _save_figure(figure: Any, path: Path) -> Path:
    fmt = path.suffix.lower().lstrip(".").replace("jpg", "jpeg")
    return _checks.write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=DPI, format=fmt))


def _labels_and_scores(scores: Any, is_outlier: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(scores as float64 (n,), is_outlier as bool (n,))``, refused unless both kinds are present: what AUROC,
    AUPRC and their curves need."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(is_outlier)
    if y.ndim != 1 or len(y) != len(s):
        raise _checks.fail("is_outlier", f"one flag per sample ({len(s)})", f"shape {y.shape}")
    if not (y.dtype == bool or (np.issubdtype(y.dtype, np.number) and np.isin(y, (0, 1)).all())):
        raise _checks.fail("is_outlier", "booleans or 0/1 flags (1 = outlier)", _checks.short(y))
    y = y.astype(bool)
    if y.all() or not y.any():
        raise _checks.fail("is_outlier", "both outliers and inliers (AUROC needs both)",
                           f"{int(y.sum())} outliers among {len(y)}")
    if not np.isfinite(s).all():
        raise _checks.fail("scores", "finite values", f"{int((~np.isfinite(s)).sum())} NaN/Inf")
    return s, y


def roc_pr_figure(scores: Any, is_outlier: Any, path: str | os.PathLike) -> Path:
    """ROC and precision-recall curves side by side, AUROC and AUPRC in the titles, written atomically.

    ``scores`` are anomaly scores (HIGHER = MORE ABNORMAL: ``-score_samples``, or an exported scorer's
    ``"score"``); ``is_outlier`` flags the true outliers.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    s, y = _labels_and_scores(scores, is_outlier)
    path = _figure_path(path)
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    figure = Figure(figsize=(10, 4.4), layout="constrained")
    roc_ax, pr_ax = figure.subplots(1, 2)
    roc_ax.plot(fpr, tpr, lw=2)
    roc_ax.plot([0, 1], [0, 1], ls="--", color="gray", lw=1)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
               title=f"ROC: AUROC {roc_auc_score(y, s):.3f}")
    pr_ax.step(recall, precision, where="post", lw=2)
    pr_ax.axhline(y.mean(), ls="--", color="gray", lw=1)
    pr_ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01),
              title=f"precision-recall: AUPRC {average_precision_score(y, s):.3f}")
    figure.suptitle(f"{int(y.sum())} outliers among {len(y)} samples")
    return _save_figure(figure, path)


def _labels(n: int, scores: np.ndarray | None, names: Sequence[str] | None, threshold: float | None,
            separator: str) -> list[str]:
    """Per sample: its name and its score, starred when the score is above ``threshold``."""
    labels = []
    for i in range(n):
        parts = [] if names is None else [str(names[i])]
        if scores is not None:
            flagged = threshold is not None and scores[i] > threshold
            parts.append(f"{scores[i]:.3g}{'*' if flagged else ''}")
        labels.append(separator.join(parts))
    return labels


def _displayable(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """NHWC images as imshow draws them: float in [0, 1], NHW for gray or NHWx3 for colour (transparency is
    composited onto white; other channel counts are averaged to gray)."""
    low, high = value_range
    if images.shape[-1] in (2, 4):
        images = convert_channels(images, None, "images", value_range)
    elif images.shape[-1] != 3:
        images = images.mean(axis=-1, keepdims=True)
    shown = np.clip((images - low) / (high - low), 0.0, 1.0)
    return shown[..., 0] if shown.shape[-1] == 1 else shown


def _image_grid(figure: Any, x: np.ndarray, r: np.ndarray, m: np.ndarray, labels: list[str],
                value_range: tuple[float, float]) -> None:
    n = len(x)
    heat = m.mean(axis=-1)
    vmax = float(heat.max()) or 1.0
    axes = np.asarray(figure.subplots(3, n, squeeze=False))
    inputs, reconstructions = _displayable(x, value_range), _displayable(r, value_range)
    for j in range(n):
        for row, panel in enumerate((inputs[j], reconstructions[j])):
            axes[row, j].imshow(panel, cmap="gray" if panel.ndim == 2 else None, vmin=0.0, vmax=1.0,
                                interpolation="nearest")
        image = axes[2, j].imshow(heat[j], cmap="inferno", vmin=0.0, vmax=vmax, interpolation="nearest")
        if labels[j]:
            axes[0, j].set_title(labels[j], fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for row, label in enumerate(("input", "reconstruction", "residual")):
        axes[row, 0].set_ylabel(label, fontsize=9)
    figure.colorbar(image, ax=axes[2, :].tolist(), shrink=0.9, label="(x - x̂)²")


def _vector_rows(figure: Any, m: np.ndarray, labels: list[str]) -> None:
    ax = figure.subplots()
    image = ax.imshow(m, cmap="inferno", vmin=0.0, vmax=float(m.max()) or 1.0, aspect="auto",
                      interpolation="nearest")
    ax.set_yticks(range(len(m)), labels, fontsize=7)
    ax.set_xlabel("feature")
    figure.colorbar(image, ax=ax, label="(x - x̂)², standardised units")


def residual_figure(images: Any, reconstructions: Any, residual_maps: Any, path: str | os.PathLike,
                    scores: Any = None, names: Sequence[str] | None = None, threshold: float | None = None,
                    value_range: tuple[float, float] = (-1.0, 1.0)) -> Path:
    """Draw where each sample departs from its reconstruction, one colour scale for all so that samples compare;
    written atomically.

    Images (NHWC or NHW, in ``value_range``) get a column each with three rows: the input, its reconstruction and
    the squared residual (its mean over channels). Vectors (n, d) get a row each of per-feature squared residuals
    (their inputs and reconstructions are in units of their own, which no one colour scale shows); the residuals
    of :meth:`GANOutlierDetector.explain` and of an exported scorer are in training standard deviations.

    Args:
        images, reconstructions, residual_maps: as :class:`apps.outliers.Explanation` or
            :meth:`ganapps.runtime.OutlierScorer.score` give them, all of one shape.
        path: the figure file (.png, .jpg, .pdf or .svg).
        scores: anomaly scores (higher = more abnormal), one per sample, shown with it.
        names: a name per sample (file names, indices), shown with it.
        threshold: the anomaly score above which a sample is an outlier: such scores are starred (needs scores).
        value_range: the range of the images' values.
    """
    from matplotlib.figure import Figure

    x, r, m = (np.asarray(v, dtype=np.float32) for v in (images, reconstructions, residual_maps))
    if x.ndim not in (2, 3, 4) or len(x) == 0:
        raise _checks.fail("images", "a non-empty batch of images (n, H, W[, C]) or vectors (n, d)",
                           f"shape {x.shape}")
    for argument, value in (("reconstructions", r), ("residual_maps", m)):
        if value.shape != x.shape:
            raise _checks.fail(argument, f"the shape of images {x.shape}", f"{value.shape}")
    n = len(x)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != n:
            raise _checks.fail("scores", f"None or one score per sample ({n})", f"{len(scores)} scores")
    if names is not None and (isinstance(names, (str, bytes)) or len(names) != n):
        raise _checks.fail("names", f"None or one name per sample ({n})", _checks.short(names))
    if threshold is not None and (scores is None or isinstance(threshold, bool)
                                  or not isinstance(threshold, (int, float, np.integer, np.floating))
                                  or not math.isfinite(threshold)):
        raise _checks.fail("threshold", "None, or a finite anomaly score given with scores (it stars the scores "
                           "above it)", repr(threshold))
    low, high = value_range
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise _checks.fail("value_range", "(low, high) with low < high", repr(value_range))
    path = _figure_path(path)
    if x.ndim == 2:
        labels = _labels(n, scores, [str(i) for i in range(n)] if names is None else names, threshold, "  score ")
        figure = Figure(figsize=(min(16.0, 3.0 + 0.3 * x.shape[1]), 1.4 + 0.3 * n), layout="constrained")
        _vector_rows(figure, m, labels)
    else:
        if x.ndim == 3:
            x, r, m = x[..., None], r[..., None], m[..., None]
        figure = Figure(figsize=(max(4.0, 1.2 * n + 1.2), 4.4), layout="constrained")
        _image_grid(figure, x, r, m, _labels(n, scores, names, threshold, "\n"), value_range)
    if scores is not None:
        flagged = f"; * = above the threshold {threshold:.4g}" if threshold is not None else ""
        figure.suptitle(f"anomaly score (higher = more abnormal{flagged})", fontsize=9)
    return _save_figure(figure, path)
