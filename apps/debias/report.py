"""The bias report: per-group counts and accuracy, fairness gaps, and the latent space's rarest samples.

:func:`write_report` writes ``report.md`` (for people), ``report.json`` (for programs), ``groups.png`` (per-group
counts and accuracy) and, given images and their rarity, ``rarity.png`` (the most common and the rarest samples by
latent density) into one folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganapps import _checks, fairness

REPORT_FILES = ("report.md", "report.json", "groups.png", "rarity.png")
"""What :func:`write_report` writes (rarity.png only given images and their rarity)."""


def top_weighted_shares(weights: Any, groups: Any, top: float = 0.05) -> dict[str, dict[str, float]]:
    """Per group: its share of all samples and of the ``top`` share carrying the largest weights (or rarity).
    A debiasing weight that finds a rare group without seeing it puts far more of that group in its top 5% than
    the group's share of the data."""
    weights = np.asarray(weights, np.float64)
    groups = np.asarray(groups)
    if weights.ndim != 1 or len(weights) == 0 or not np.isfinite(weights).all():
        raise _checks.fail("weights", "a non-empty 1-D array of finite weights", f"shape {weights.shape}")
    if groups.shape != weights.shape:
        raise _checks.fail("groups", f"{len(weights)} group values, one per weight", f"shape {groups.shape}")
    if not 0 < top <= 1:
        raise _checks.fail("top", "a share in (0, 1]", repr(top))
    count = max(1, int(round(top * len(weights))))
    chosen = np.argsort(-weights, kind="stable")[:count]
    out = {}
    for group in sorted(set(groups.tolist())):
        mask = groups == group
        out[str(group)] = {"share_of_data": float(mask.mean()), "share_of_top": float(mask[chosen].mean())}
    return out


def rarity_figure(x: np.ndarray, rarity: Any, path: str | os.PathLike, n: int = 16, title: str | None = None,
                  groups: Any = None) -> Path:
    """Two rows of images from ``x`` (NHWC in [-1, 1]): the ``n`` most common (lowest ``rarity``) and the ``n``
    rarest. With ``groups``, each image is captioned with its group. PNG, PDF or SVG, written atomically. Drawn on
    a ``matplotlib.figure.Figure`` of its own, not through pyplot: no global backend switch, no figure left open."""
    from apps.common import FIGURE_SUFFIXES

    x = np.asarray(x)
    rarity = np.asarray(rarity, np.float64)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise _checks.fail("x", "images (n, H, W, 1 or 3) in [-1, 1]", f"shape {x.shape}")
    if rarity.shape != (len(x),):
        raise _checks.fail("rarity", f"{len(x)} values, one per image", f"shape {rarity.shape}")
    n = _checks.positive_int(n, "n")
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise _checks.fail("path", f"a figure file ending in {', '.join(FIGURE_SUFFIXES)}", repr(str(path)))
    order = np.argsort(rarity, kind="stable")
    n = max(1, min(n, len(x) // 2 if len(x) > 1 else 1))
    rows = {"most common": order[:n], "rarest": order[::-1][:n]}
    labels = None if groups is None else np.asarray(groups)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 0.9 * n), 2.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, n, squeeze=False)
    for r, (name, index) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(index):
                continue
            image = (x[index[c]] + 1.0) / 2.0
            ax.imshow(np.clip(image[..., 0] if image.shape[-1] == 1 else image, 0, 1),
                      cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(labels[index[c]]), fontsize=7)
        axes[r][0].text(-0.1, 0.5, name, transform=axes[r][0].transAxes, ha="right", va="center", fontsize=9)
    fig.suptitle(title or "Samples by latent density: most common (top) and rarest (bottom)", fontsize=10)
    fig.tight_layout()
    _checks.write_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=120))
    return path


def write_report(out: str | os.PathLike, y_true: Any, y_pred: Any, groups: Any, title: str = "Bias report",
                 train_groups: Any = None, train_rarity: Any = None, x_train: np.ndarray | None = None,
                 top: float = 0.05, notes: Sequence[str] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the bias report of one classifier's predictions into the folder ``out`` and return it as a dict.

    Args:
        out: the folder (created if missing); its report files are replaced one by one, atomically.
        y_true, y_pred, groups: the evaluation set's labels, the classifier's predictions and each sample's group.
        title: the markdown heading.
        train_groups: the training set's groups, for its per-group counts (the under-representation itself).
        train_rarity: the training samples' rarity (or weights) from a latent space: with ``train_groups`` the
            report gives each group's share of the ``top`` rarest; with ``x_train`` images it draws rarity.png.
        notes: extra markdown lines (how the classifier was trained, the data's source).
        extra: more JSON-ready entries for report.json.
    """
    out = Path(out)
    report = fairness.group_report(y_true, y_pred, groups)
    record: dict[str, Any] = {"title": title, "test": report}
    lines = [f"# {title}", ""]
    if notes:
        lines += [*notes, ""]
    if train_groups is not None:
        values, counts = np.unique(np.asarray(train_groups), return_counts=True)
        record["train_counts"] = {str(v): int(c) for v, c in zip(values.tolist(), counts)}
        lines += ["## Training data", "", "| group | count | share |", "|---|---:|---:|"]
        lines += [f"| {fairness.markdown_cell(v)} | {c} | {c / counts.sum():.3f} |"
                  for v, c in record["train_counts"].items()]
        lines.append("")
    lines += ["## Classifier on the evaluation data", "", fairness.group_report_markdown(report), ""]
    if train_rarity is not None and train_groups is not None:
        shares = top_weighted_shares(train_rarity, train_groups, top)
        record["top_rarest"] = {"top": top, "groups": shares}
        lines += [f"## Latent density: who is in the rarest {top:.0%} of the training data", "",
                  "| group | share of data | share of rarest |", "|---|---:|---:|"]
        lines += [f"| {fairness.markdown_cell(g)} | {s['share_of_data']:.3f} | {s['share_of_top']:.3f} |"
                  for g, s in shares.items()]
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    fairness.group_bar_chart(report, out / "groups.png", title=title)
    lines += ["![per-group counts and accuracy](groups.png)", ""]
    if train_rarity is not None and x_train is not None and np.asarray(x_train).ndim == 4:
        rarity_figure(np.asarray(x_train), train_rarity, out / "rarity.png", groups=train_groups)
        lines += ["![most common and rarest training samples by latent density](rarity.png)", ""]
    if extra:
        record.update(extra)
    text = "\n".join(lines)
    _checks.write_atomically(out / "report.json", lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))
    _checks.write_atomically(out / "report.md", lambda tmp: tmp.write_text(text))
    return record
