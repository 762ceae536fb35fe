"""Group fairness of a classifier's predictions: per-group accuracy and the disparity measures people report.

Used to judge dataset debiasing (:mod:`ganapps.debias`): a classifier trained on biased data does well on the
common group and badly on the rare one, and these numbers say by how much. NumPy only (matplotlib for the chart,
imported when it is drawn), so reports can be computed from saved predictions without TensorFlow.

Labels (``y_true``, ``y_pred``) and ``groups`` are 1-D arrays with one entry per sample; either may hold ints,
strings or any sortable NumPy values. Groups are always listed in sorted order.

* :func:`per_group_accuracy`, :func:`worst_group_accuracy`: how well each group is served.
* :func:`demographic_parity_difference`: do the groups receive each prediction at the same rate?
* :func:`equalized_odds_difference`: given the truth, are the groups' error rates the same?
* :func:`group_report`: all of the above as one JSON-serialisable dict, with :func:`group_report_markdown` and
  :func:`group_bar_chart` to show it.

Binary and multi-class predictions are handled alike: with ``positive`` given, that label is the positive class
and every other label the negative one; with ``positive=None``, labels that are all 0/1 make 1 the positive
class, and any other labels are compared one class against the rest, reporting the largest difference over the
classes. (For 0/1 labels both readings give the same number: the rates of class 0 mirror those of class 1.)
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganapps import _checks

CHART_SUFFIXES = (".png", ".pdf", ".svg")
"""File name endings :func:`group_bar_chart` writes (the format follows the suffix)."""

REPORT_KEYS = ("n", "accuracy", "groups", "worst_group", "worst_group_accuracy", "demographic_parity_difference",
               "equalized_odds_difference")
"""The keys of a :func:`group_report` dict, in their order."""


# -- argument checks ----------------------------------------------------------------------------------------
def _kind(array: np.ndarray) -> str:
    if array.dtype.kind in "biuf":
        return "numbers"
    if array.dtype.kind in "US":
        return "strings"
    return "objects"


def _column(values: Any, argument: str, n: int | None = None, per: str = "sample") -> np.ndarray:
    """``values`` as a non-empty 1-D array of finite entries, with ``n`` entries when ``n`` is given."""
    array = np.asarray(values)
    if array.ndim != 1:
        hint = " (take the argmax of class scores first)" if argument == "y_pred" and array.ndim == 2 else ""
        raise _checks.fail(argument, f"a 1-D array with one entry per {per}{hint}", f"shape {array.shape}")
    if len(array) == 0:
        raise _checks.fail(argument, "at least one sample", "an empty array")
    if n is not None and len(array) != n:
        raise _checks.fail(argument, f"one entry per {per} ({n})", f"{len(array)} entries")
    if array.dtype.kind == "c" or (array.dtype.kind == "f" and not np.isfinite(array).all()):
        bad = int((~np.isfinite(array)).sum()) if array.dtype.kind == "f" else len(array)
        raise _checks.fail(argument, "finite labels", f"{bad} NaN/Inf or complex entries")
    return array


def _same_kind(array: np.ndarray, argument: str, reference: np.ndarray, reference_name: str) -> None:
    """Refuse numbers against strings: NumPy would compare them as never equal, silently giving accuracy 0."""
    mine, theirs = _kind(array), _kind(reference)
    if "objects" not in (mine, theirs) and mine != theirs:
        raise _checks.fail(argument, f"labels of the same kind as {reference_name} ({theirs})",
                           f"{mine}: {_checks.short(array)}")


def _sorted_unique(array: np.ndarray, argument: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return np.unique(array, return_inverse=True)
    except TypeError as err:
        raise _checks.fail(argument, "values of one kind that sort (all numbers or all strings)",
                           _checks.short(array)) from err


def _group_index(groups: Any, n: int, at_least: int = 1) -> tuple[list[Hashable], np.ndarray]:
    """The sorted distinct groups as plain Python values, and each sample's index into them."""
    array = _column(groups, "groups", n, per="sample")
    keys, inverse = _sorted_unique(array, "groups")
    if len(keys) < at_least:
        raise _checks.fail("groups", f"at least {at_least} different groups to compare",
                           f"only one: {_checks.plain(keys[0])!r}")
    return [_checks.plain(k) for k in keys], inverse.reshape(-1)


def _is_binary(labels: np.ndarray) -> bool:
    return _kind(labels) == "numbers" and bool(np.isin(labels, (0, 1)).all())


def _check_positive(positive: Any, labels: np.ndarray, reference_name: str) -> None:
    value = np.asarray(positive)
    if value.ndim != 0:
        raise _checks.fail("positive", "None or one label", _checks.short(positive))
    _same_kind(value.reshape(1), "positive", labels, reference_name)


def _classes(positive: Any, labels: np.ndarray) -> list[Any]:
    """The labels to treat as the positive class in turn (one-vs-rest)."""
    if positive is not None:
        return [positive]
    if _is_binary(labels):
        return [1]
    return [_checks.plain(c) for c in _sorted_unique(labels, "y_pred")[0]]


def _spread(rates: np.ndarray, defined: np.ndarray) -> float:
    """Largest minus smallest rate over the groups where it is defined; 0 when fewer than two groups have it."""
    usable = rates[defined]
    return float(usable.max() - usable.min()) if len(usable) >= 2 else 0.0


# -- metrics --------------------------------------------------------------------------------------------------
def per_group_accuracy(y_true: Any, y_pred: Any, groups: Any) -> dict[Hashable, float]:
    """Accuracy within each group, keys in sorted order: an overall accuracy can hide a group the model fails.

    Keys are the group values as plain Python values (ints, strings, ...).
    """
    truth = _column(y_true, "y_true")
    pred = _column(y_pred, "y_pred", len(truth))
    _same_kind(pred, "y_pred", truth, "y_true")
    keys, index = _group_index(groups, len(truth))
    counts = np.bincount(index, minlength=len(keys))
    correct = np.bincount(index, weights=(truth == pred).astype(np.float64), minlength=len(keys))
    return {key: float(c / n) for key, c, n in zip(keys, correct, counts)}


def worst_group_accuracy(y_true: Any, y_pred: Any, groups: Any) -> tuple[Hashable, float]:
    """``(group, accuracy)`` of the group served worst: the number debiasing should raise.

    Ties go to the group that sorts first.
    """
    accuracies = per_group_accuracy(y_true, y_pred, groups)
    worst = min(accuracies, key=accuracies.__getitem__)
    return worst, accuracies[worst]


def demographic_parity_difference(y_pred: Any, groups: Any, positive: Any = None) -> float:
    """How unequally the groups receive a prediction, regardless of the truth: 0 means parity.

    ``max_g P(pred = positive | g) - min_g P(pred = positive | g)``. With ``positive=None``, 0/1 predictions use
    1 as the positive label; other predictions (multi-class, or labels such as strings) give the largest such
    difference over the predicted classes, each class against the rest.

    Raises:
        ValueError: not 1-D, empty, mismatched lengths, fewer than two groups, ``positive`` of another kind.
    """
    pred = _column(y_pred, "y_pred")
    _, index = _group_index(groups, len(pred), at_least=2)
    if positive is not None:
        _check_positive(positive, pred, "y_pred")
    counts = np.bincount(index)
    worst = 0.0
    for label in _classes(positive, pred):
        selected = np.bincount(index, weights=(pred == label).astype(np.float64), minlength=len(counts))
        worst = max(worst, _spread(selected / counts, counts > 0))
    return worst


def equalized_odds_difference(y_true: Any, y_pred: Any, groups: Any, positive: Any = None) -> float:
    """How unequal the groups' error rates are given the truth: 0 means equalized odds.

    The larger of the between-group ranges (max minus min over groups) of the true-positive rate
    ``P(pred = positive | true = positive, g)`` and of the false-positive rate
    ``P(pred = positive | true != positive, g)``, as fairlearn defines it. Undefined rates are skipped here: a
    group with no positive samples has no true-positive rate and one with no negative samples no false-positive
    rate, so that group is left out of that rate's range (and a rate defined in fewer than two groups adds 0).
    fairlearn (``fairlearn.metrics.equalized_odds_difference``, through scikit-learn's normalised confusion
    matrix) counts such an undefined rate as 0 instead, so the two can differ when a group lacks positives or
    negatives: there, a group without positives has a true-positive rate of 0, which can widen the range.
    Otherwise they agree on 0/1 labels (fairlearn's rates take binary labels only).

    ``positive=None`` reads labels as :func:`demographic_parity_difference` does: 1 for 0/1 labels, otherwise the
    largest difference over the classes in ``y_true`` and ``y_pred``, each class against the rest.

    Raises:
        ValueError: not 1-D, empty, mismatched lengths, fewer than two groups, a ``positive`` found in neither
            ``y_true`` nor ``y_pred``.
    """
    truth = _column(y_true, "y_true")
    pred = _column(y_pred, "y_pred", len(truth))
    _same_kind(pred, "y_pred", truth, "y_true")
    _, index = _group_index(groups, len(truth), at_least=2)
    labels = np.concatenate([truth, pred])
    if positive is not None:
        _check_positive(positive, truth, "y_true")
        if not (labels == positive).any():
            raise _checks.fail("positive", f"a label found in y_true or y_pred ({_checks.short(np.unique(labels))})",
                               repr(positive))
    size = int(index.max()) + 1
    worst = 0.0
    for label in _classes(positive, labels):
        actual, predicted = truth == label, (pred == label).astype(np.float64)
        positives = np.bincount(index, weights=actual.astype(np.float64), minlength=size)
        negatives = np.bincount(index, weights=(~actual).astype(np.float64), minlength=size)
        hits = np.bincount(index, weights=predicted * actual, minlength=size)
        false_alarms = np.bincount(index, weights=predicted * ~actual, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr, fpr = hits / positives, false_alarms / negatives
        worst = max(worst, _spread(tpr, positives > 0), _spread(fpr, negatives > 0))
    return worst


# -- the report -----------------------------------------------------------------------------------------------
def group_report(y_true: Any, y_pred: Any, groups: Any) -> dict[str, Any]:
    """Every number of this module for one classifier on one labelled set, ready to write as JSON.

    Returns:
        ``{"n", "accuracy", "groups", "worst_group", "worst_group_accuracy", "demographic_parity_difference",
        "equalized_odds_difference"}`` where ``"groups"`` maps each group, as a string and in the groups' sorted
        order (2 before 10), to ``{"count", "share", "accuracy"}``, and ``"worst_group"`` is such a string. All
        values are plain Python ints, floats and strings. The two differences read labels as their functions do
        with ``positive=None``.

    Raises:
        ValueError: as the metrics do; a single group is refused, having nothing to compare with.
    """
    truth = _column(y_true, "y_true")
    pred = _column(y_pred, "y_pred", len(truth))
    keys, index = _group_index(groups, len(truth), at_least=2)
    accuracies = per_group_accuracy(truth, pred, groups)
    counts = np.bincount(index, minlength=len(keys))
    worst = min(accuracies, key=accuracies.__getitem__)
    return {
        "n": len(truth),
        "accuracy": float(np.mean(truth == pred)),
        "groups": {str(key): {"count": int(count), "share": float(count / len(truth)), "accuracy": accuracies[key]}
                   for key, count in zip(keys, counts)},
        "worst_group": str(worst),
        "worst_group_accuracy": accuracies[worst],
        "demographic_parity_difference": demographic_parity_difference(pred, groups),
        "equalized_odds_difference": equalized_odds_difference(truth, pred, groups),
    }


def _check_report(report: Any) -> Mapping[str, Any]:
    ok = isinstance(report, Mapping) and all(key in report for key in REPORT_KEYS) \
        and isinstance(report["groups"], Mapping) and len(report["groups"]) > 0 \
        and all(isinstance(row, Mapping) and {"count", "share", "accuracy"} <= set(row)
                for row in report["groups"].values())
    if not ok:
        given = (f"a dict with keys {_checks.short(list(report))}" if isinstance(report, Mapping)
                 else type(report).__name__)
        raise _checks.fail("report", f"a dict from group_report (keys {', '.join(REPORT_KEYS)})", given)
    return report


def markdown_cell(value: Any) -> str:
    """``value`` as text for a markdown table cell: a ``|`` in a group's name would otherwise end the cell."""
    return str(value).replace("|", "\\|")


def group_report_markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown table and summary lines, for a README, a pull request or a terminal."""
    report = _check_report(report)
    lines = ["| group | count | share | accuracy |", "|---|---:|---:|---:|"]
    for name, row in report["groups"].items():
        lines.append(f"| {markdown_cell(name)} | {row['count']} | {100 * row['share']:.1f}% "
                     f"| {row['accuracy']:.3f} |")
    lines += [
        "",
        f"- overall accuracy: {report['accuracy']:.3f} ({report['n']} samples)",
        f"- worst group: {report['worst_group']} (accuracy {report['worst_group_accuracy']:.3f})",
        f"- demographic parity difference: {report['demographic_parity_difference']:.3f}",
        f"- equalized odds difference: {report['equalized_odds_difference']:.3f}",
    ]
    return "\n".join(lines) + "\n"


def group_bar_chart(report: Mapping[str, Any], path: str | os.PathLike, title: str | None = None) -> Path:
    """Bar charts of each group's sample count and accuracy side by side, so a rare group that the model fails
    stands out; the worst group is highlighted and the overall accuracy drawn as a line.

    Args:
        report: a :func:`group_report` dict (or one read back from its JSON).
        path: the figure file, ending in .png, .pdf or .svg; written atomically, its folder created.
        title: an optional title over both panels.

    Returns:
        ``path`` as a ``Path``.
    """
    report = _check_report(report)
    path = Path(path)
    if path.suffix.lower() not in CHART_SUFFIXES:
        raise _checks.fail("path", f"a file name ending in one of {CHART_SUFFIXES}", repr(str(path)))
    if title is not None and not isinstance(title, str):
        raise _checks.fail("title", "None or a string", repr(title))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [str(name) for name in report["groups"]]
    rows = list(report["groups"].values())
    colours = ["tab:red" if name == str(report["worst_group"]) else "tab:blue" for name in names]
    positions = np.arange(len(names))
    figure = Figure(figsize=(max(8.0, 0.6 * len(names) + 4.0), 4.4 if title else 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    count_ax, accuracy_ax = figure.subplots(1, 2)
    count_ax.bar_label(count_ax.bar(positions, [row["count"] for row in rows], color="tab:gray"))
    count_ax.set(ylabel="samples", title=f"samples per group (n = {report['n']})")
    accuracy_ax.bar(positions, [row["accuracy"] for row in rows], color=colours)
    accuracy_ax.axhline(report["accuracy"], ls="--", color="black", lw=1, label=f"overall {report['accuracy']:.3f}")
    accuracy_ax.set(ylabel="accuracy", ylim=(0, 1.05),
                    title=f"accuracy (DP diff {report['demographic_parity_difference']:.3f}, "
                          f"EO diff {report['equalized_odds_difference']:.3f})")
    accuracy_ax.legend(loc="lower right")
    rotation = 45 if len(names) > 6 or max(len(name) for name in names) > 8 else 0
    for ax in (count_ax, accuracy_ax):
        ax.set_xticks(positions, names, rotation=rotation, ha="right" if rotation else "center")
        ax.set_xlabel("group")
    if title:
        figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    return _checks.write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, format=fmt))
