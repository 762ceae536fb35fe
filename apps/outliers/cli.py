"""``ganapps outliers``: fit a GAN outlier detector, score data with its export, evaluate an export.

    ganapps outliers fit --data digits --normal-class 3 --out saved_models/outliers_digits_3
    ganapps outliers score --model saved_models/outliers_digits_3 --data images/ --out scores.csv \\
        --heatmaps top.png
    ganapps outliers evaluate --model saved_models/outliers_digits_3 --data digits --normal-class 3

Importing this module imports neither TensorFlow nor Keras. ``score`` runs the exported f-AnoGAN scorer through
:class:`ganapps.runtime.OutlierScorer` (ONNX Runtime, NumPy, Pillow) and draws its heat-maps with
:mod:`apps.outliers.plots` (matplotlib), so it never imports them; nor does ``evaluate``, which reads its labelled
data with :mod:`apps.outliers.data` (TensorFlow only to resize the digits, ``--image-size``). ``fit`` imports
TensorFlow once its arguments are parsed.

``fit`` builds everything in a temporary folder beside ``--out`` and moves its entries (:data:`FIT_ENTRIES`) in
at the end, so a rerun into the same folder leaves no file of the previous run beside the new ones (a
``--method discriminator`` run removes an earlier export; a run without ``--normal-class`` an earlier
evaluation), a crash part-way leaves the previous complete result, and other files in the folder are kept.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganapps._argtypes import finite_float as _finite_float
from ganapps._argtypes import jit_compile_value
from ganapps._argtypes import narrowed, positive_ints
from ganapps._argtypes import non_negative_float as _non_negative_float
from ganapps._argtypes import non_negative_int as _non_negative_int
from ganapps._argtypes import positive_float as _positive_float
from ganapps._argtypes import positive_int as _positive_int
from ganapps._argtypes import probability as _probability

DETECTOR_FILE = "detector.keras"
ROC_FILE = "roc_pr.png"
TOP_FILE = "top_outliers.png"
EVALUATION_FILE = "evaluation.json"
FIGURE_EXTENSIONS = (".png", ".pdf", ".svg")
EXPORT_ENTRIES = ("model.onnx", "saved_model", "metadata.json")
FIT_ENTRIES = (DETECTOR_FILE, *EXPORT_ENTRIES, EVALUATION_FILE, ROC_FILE, TOP_FILE)
"""What ``fit`` writes in ``--out``: each is replaced, or removed when a run does not write it; metadata.json,
which marks a complete export, comes last."""

if TYPE_CHECKING:  # NumPy is imported where it is used, so that ``ganapps --help`` stays instant
    import numpy as np


# -- argument types ------------------------------------------------------------------------------------------
_contamination = narrowed(_non_negative_float, "a share in (0, 0.5], such as 0.05",
                          reject=lambda value: not 0 < value <= 0.5)
_hidden = positive_ints("comma-separated positive layer widths such as 256,256")  # one width per hidden layer


def _figure_file(text: str) -> str:
    if Path(text).suffix.lower() not in FIGURE_EXTENSIONS:
        raise argparse.ArgumentTypeError(f"expected a figure file ending in {', '.join(FIGURE_EXTENSIONS)}; "
                                         f"got {text!r}")
    return text


# -- the parser ----------------------------------------------------------------------------------------------
def add_parser(commands: Any, epilog: str = "") -> argparse.ArgumentParser:
    """Register ``outliers`` and its subcommands on ``ganapps``'s subparsers action."""
    od = commands.add_parser("outliers", help="GAN outlier detection: fit, score, evaluate",
                             epilog=epilog or "Run 'ganapps outliers <subcommand> --help' for its options.",
                             description="Outlier detection with a GAN trained on normal data only (f-AnoGAN, "
                                         "AnoGAN, or the critic's score): fit a detector, score new data with "
                                         "its ONNX export, measure it on labelled data.")
    sub = od.add_subparsers(dest="outliers_command", metavar="SUBCOMMAND")
    sub.required = True

    fit = sub.add_parser("fit", help="fit a detector on normal data, export it, evaluate it",
                         description="Train a GAN (then, for f-AnoGAN, an encoder) on normal data, less the "
                                     "--calibration-fraction held out, and set the outlier threshold at the "
                                     "--contamination quantile of the held-out samples' scores. "
                                     "Writes OUT/detector.keras and, for fanogan, the scorer export "
                                     "(OUT/model.onnx, OUT/saved_model/, OUT/metadata.json). On labelled data "
                                     "('digits' with --normal-class) it also scores the held-out test split "
                                     "(the normal class against all others), prints AUROC/AUPRC and writes "
                                     "OUT/evaluation.json, OUT/roc_pr.png and OUT/top_outliers.png.")
    fit.add_argument("--data", default="digits",
                     help="'digits' (scikit-learn's 8x8 digits, offline, labelled), an image folder, a .npy file "
                          "of samples, or a .csv file of numeric columns (default: %(default)s)")
    fit.add_argument("--normal-class", type=_non_negative_int, default=None,
                     help="train on this class only and treat the other classes as outliers when evaluating "
                          "(labelled data; default: all the data is normal, nothing to evaluate)")
    fit.add_argument("--image-size", type=_positive_int, default=None,
                     help="resize images to this square size when loading (default: as stored)")
    fit.add_argument("--method", choices=("fanogan", "anogan", "discriminator"), default="fanogan",
                     help="fanogan: an encoder maps a sample to the latent, scored in one pass (exported to "
                          "ONNX); anogan: the latent is searched per sample by gradient descent (slow, no export); "
                          "discriminator: the critic's output (default: %(default)s)")
    fit.add_argument("--contamination", type=_contamination, default=0.05,
                     help="share of normal data the threshold flags, in (0, 0.5] (default: %(default)s)")
    fit.add_argument("--calibration-fraction", default=0.2, metavar="SHARE",
                     type=narrowed(_non_negative_float, "a share in [0, 0.5), such as 0.2",
                                   reject=lambda value: value >= 0.5),
                     help="share of the normal data held out of training to set the threshold on, in [0, 0.5); "
                          "0 sets it on the training data, which the GAN fits more closely than new data, so it "
                          "then flags more than --contamination of new normal data (default: %(default)s)")
    fit.add_argument("--steps", type=_positive_int, default=3000, help="GAN training steps (default: %(default)s)")
    fit.add_argument("--encoder-steps", type=_positive_int, default=2000,
                     help="encoder training steps, fanogan only (default: %(default)s)")
    fit.add_argument("--latent-dim", type=_positive_int, default=32, help="latent size (default: %(default)s)")
    fit.add_argument("--architecture", choices=("auto", "mlp", "dcgan"), default="auto",
                     help="networks: MLPs, or DCGAN convolutions for images; auto = MLPs for vectors and images of "
                          "at most 1024 values (default: %(default)s)")
    fit.add_argument("--hidden", type=_hidden, default=(256, 256), metavar="W1,W2,...",
                     help="hidden layer widths of the MLP nets (default: 256,256)")
    fit.add_argument("--width", type=_positive_int, default=64,
                     help="filters of the first DCGAN convolution (default: %(default)s)")
    fit.add_argument("--kappa", type=_non_negative_float, default=1.0,
                     help="fanogan: weight of the discriminator-feature residual in the score (default: "
                          "%(default)s)")
    fit.add_argument("--lam", type=_probability, default=0.1,
                     help="anogan: weight of the discriminator-feature loss, in [0, 1] (default: %(default)s)")
    fit.add_argument("--anogan-steps", type=_positive_int, default=200,
                     help="anogan: gradient steps per latent search (default: %(default)s)")
    fit.add_argument("--anogan-restarts", type=_positive_int, default=2,
                     help="anogan: random starts per sample (default: %(default)s)")
    fit.add_argument("--loss", default="non_saturating",
                     help="adversarial loss: minimax, non_saturating, wasserstein, hinge, least_squares, "
                          "relativistic_average (default: %(default)s)")
    fit.add_argument("--r1", type=_non_negative_float, default=1.0, help="R1 gamma, 0 = off (default: %(default)s)")
    fit.add_argument("--batch-size", type=_positive_int, default=64, help="batch size (default: %(default)s)")
    fit.add_argument("--lr", type=_positive_float, default=2e-4,
                     help="Adam learning rate of the GAN (default: %(default)s)")
    fit.add_argument("--encoder-lr", type=_positive_float, default=1e-3,
                     help="Adam learning rate of the encoder (default: %(default)s)")
    fit.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: %(default)s)")
    fit.add_argument("--jit-compile", choices=("auto", "true", "false"), default="true",
                     help="XLA compilation of the train steps (default: %(default)s)")
    fit.add_argument("--top", type=_positive_int, default=16,
                     help="samples shown in OUT/top_outliers.png (default: %(default)s)")
    fit.add_argument("--out", default=None,
                     help="output folder (default: saved_models/outliers_<data>[_<normal class>])")

    score = sub.add_parser("score", help="score data with an export (ONNX Runtime, no TensorFlow)",
                           description="Score samples with an exported f-AnoGAN scorer through ONNX Runtime "
                                       "(TensorFlow is not imported) and write one CSV row per sample: index (or "
                                       "file), score (higher = more abnormal), score_samples (= -score, "
                                       "scikit-learn's sign), outlier (1 when score > the export's threshold).")
    score.add_argument("--model", required=True, help="export folder (model.onnx + metadata.json)")
    score.add_argument("--data", required=True,
                       help="an image folder, an image file, a .npy file of samples or a .csv file of numeric "
                            "columns; samples of the shape the model was fitted on")
    score.add_argument("--out", default="scores.csv", help="CSV file to write (default: %(default)s)")
    score.add_argument("--threshold", type=_finite_float, default=None,
                       help="flag samples whose score exceeds this instead of the export's threshold (the "
                            "--contamination quantile of the scores of normal data held out when fitting)")
    score.add_argument("--heatmaps", type=_figure_file, default=None, metavar="FILE.png",
                       help="also draw the --top highest-scoring samples: input, reconstruction and residual "
                            "heat-map (default: no figure)")
    score.add_argument("--top", type=_positive_int, default=16,
                       help="samples in the --heatmaps figure (default: %(default)s)")

    ev = sub.add_parser("evaluate", help="AUROC/AUPRC of an export on labelled data",
                        description="Score labelled data with an export through ONNX Runtime, the normal class "
                                    "against all others, print AUROC/AUPRC and how many of each the threshold "
                                    "flags, and draw the ROC and precision-recall curves.")
    ev.add_argument("--model", required=True, help="export folder (model.onnx + metadata.json)")
    ev.add_argument("--data", default="digits", help="labelled data: 'digits' (default: %(default)s)")
    ev.add_argument("--split", choices=("train", "test", "all"), default="test",
                    help="which split of the data (default: %(default)s)")
    ev.add_argument("--normal-class", type=_non_negative_int, required=True,
                    help="the class that is normal; every other class is an outlier")
    ev.add_argument("--image-size", type=_positive_int, default=None,
                    help="resize images to this square size when loading (default: as stored)")
    ev.add_argument("--out", type=_figure_file, default=ROC_FILE,
                    help="ROC/PR figure file (default: %(default)s)")
    return od


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``outliers`` subcommand; ganapps's ``main`` turns errors into messages and exit codes."""
    return {"fit": _fit, "score": _score, "evaluate": _evaluate}[args.outliers_command](args)


# -- shared --------------------------------------------------------------------------------------------------
def _flag(setting: str) -> str:
    """The ``fit`` option that sets a detector setting."""
    return {"learning_rate": "--lr", "encoder_learning_rate": "--encoder-lr"}.get(
        setting, "--" + setting.replace("_", "-"))


def _scorer(path_text: str) -> Any:
    """The :class:`ganapps.runtime.OutlierScorer` of an export folder, with errors that name ``--model``."""
    from ganapps.runtime import OutlierScorer

    path = Path(path_text).expanduser()
    if not (path / "metadata.json").is_file() or not (path / "model.onnx").is_file():
        what = ("does not exist" if not path.exists() else "is a file" if not path.is_dir()
                else f"holds {DETECTOR_FILE} but no export (only --method fanogan exports a scorer)"
                if (path / DETECTOR_FILE).is_file() else "holds no model.onnx and metadata.json")
        raise FileNotFoundError(f"--model: expected an export folder (model.onnx + metadata.json, written by "
                                f"'ganapps outliers fit'); got {path_text!r}, which {what}")
    try:
        return OutlierScorer(path)
    except ValueError as err:
        raise _as_argument(err, "--model", ("directory",)) from err


def _as_argument(err: Exception, argument: str, prefixes: tuple[str, ...]) -> Exception:
    """``err`` re-worded to name the command-line ``argument`` where a library function named its own
    parameter (``x: expected ...`` becomes ``--data: expected ...``)."""
    text = str(err)
    for prefix in prefixes:
        if text.startswith(prefix + ":"):
            return type(err)(f"{argument}:{text[len(prefix) + 1:]}")
    return err


def _load(args: argparse.Namespace, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``load_data`` of ``--data`` (TensorFlow-free), errors re-worded to name the options."""
    from apps.outliers.data import load_data

    try:
        return load_data(args.data, split=split, image_size=args.image_size)
    except (ValueError, FileNotFoundError) as err:
        raise _as_argument(_as_argument(err, "--data", ("source",)), "--image-size", ("image_size",)) from err


def _replace_entries(stage: Path, out: Path, names: tuple[str, ...]) -> None:
    """Make ``out``'s entries ``names`` those of ``stage``: each one ``stage`` lacks is removed from ``out``,
    other files in ``out`` are kept. The old entries are renamed aside before the new ones are renamed in, and
    put back if a rename fails, so ``out`` holds one run's entries, never a mixture."""
    out.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old: list[str] = []
    new: list[str] = []
    try:
        for name in names:
            if os.path.lexists(out / name):
                os.replace(out / name, aside / name)
                old.append(name)
        for name in names:
            if os.path.lexists(stage / name):
                os.replace(stage / name, out / name)
                new.append(name)
    except BaseException:
        for name in new:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        for name in old:
            os.replace(aside / name, out / name)
        aside.rmdir()  # only once everything is back: a failed restore leaves the old entries there
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _normal_only(X: np.ndarray, y: np.ndarray | None, normal_class: int | None, data: str) -> np.ndarray:
    """The samples of ``normal_class``: the normal data a detector is fitted on."""
    import numpy as np

    if normal_class is None:
        return X
    if y is None:
        raise ValueError(f"--normal-class: expected labelled data such as 'digits'; got --data {data!r}, which has "
                         f"no labels (leave --normal-class out: all of it is then normal)")
    _check_class(normal_class, y)
    return X[np.asarray(y) == normal_class]


def _check_class(normal_class: int, y: np.ndarray) -> None:
    import numpy as np

    classes = sorted(int(c) for c in np.unique(y))
    if normal_class not in classes:
        shown = ", ".join(map(str, classes)) if len(classes) <= 12 else f"{classes[0]}..{classes[-1]}"
        raise ValueError(f"--normal-class: expected one of the data's classes ({shown}); got {normal_class}")


def _default_out(data: str, normal_class: int | None) -> Path:
    name = data if data == "digits" else Path(data).stem or "data"
    return Path("saved_models") / f"outliers_{name}{'' if normal_class is None else f'_{normal_class}'}"


def _write_json(path: Path, content: dict[str, Any]) -> None:
    from ganapps._checks import write_atomically

    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(content, indent=2) + "\n"))


def _metrics(anomaly: np.ndarray, is_outlier: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC/AUPRC (outliers are the positives, ranked by anomaly score) and the share the threshold flags of
    each kind; needs both kinds."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    flagged = anomaly > threshold
    return {"auroc": float(roc_auc_score(is_outlier, anomaly)),
            "auprc": float(average_precision_score(is_outlier, anomaly)),
            "n": int(len(anomaly)), "outliers": int(is_outlier.sum()), "threshold": float(threshold),
            "flagged_normal": float(flagged[~is_outlier].mean()),
            "flagged_outliers": float(flagged[is_outlier].mean())}


def _report_metrics(result: dict[str, Any], what: str, normal_class: int, contamination: float | None) -> None:
    """Print the metrics, with the share of normal samples the threshold was set to flag beside the share it
    does flag here."""
    normal = result["n"] - result["outliers"]
    print(f"{what}: class {normal_class} normal ({normal} samples) vs the other classes ({result['outliers']} "
          f"outliers): AUROC {result['auroc']:.3f}, AUPRC {result['auprc']:.3f}")
    aim = "" if contamination is None else f" (set to flag {contamination:.1%} of normal data)"
    print(f"  the threshold{aim} flags {result['flagged_normal']:.1%} of the normal samples and "
          f"{result['flagged_outliers']:.1%} of the outliers")


# -- fit -----------------------------------------------------------------------------------------------------
def _fit(args: argparse.Namespace) -> int:
    from apps.outliers.app import GANOutlierDetector

    start = time.perf_counter()
    out = Path(args.out) if args.out else _default_out(args.data, args.normal_class)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: expected a folder; got {str(out)!r}, which is a file")
    X, y = _load(args, "train")
    normal = _normal_only(X, y, args.normal_class, args.data)
    settings = dict(method=args.method, contamination=args.contamination,
                    calibration_fraction=args.calibration_fraction, latent_dim=args.latent_dim,
                    architecture=args.architecture, hidden=args.hidden, width=args.width, kappa=args.kappa,
                    lam=args.lam, loss=args.loss, r1=args.r1, batch_size=args.batch_size, learning_rate=args.lr,
                    encoder_learning_rate=args.encoder_lr, steps=args.steps, encoder_steps=args.encoder_steps,
                    anogan_steps=args.anogan_steps, anogan_restarts=args.anogan_restarts, seed=args.seed,
                    jit_compile=jit_compile_value(args.jit_compile))
    try:
        detector = GANOutlierDetector(**settings)
    except ValueError as err:  # a setting argparse cannot judge alone, such as an unknown --loss
        raise _as_argument(err, _flag(str(err).split(":")[0]), tuple(settings)) from err
    which = "" if args.normal_class is None else f", class {args.normal_class}"
    phases = f"{args.steps} GAN steps" + (f" + {args.encoder_steps} encoder steps" if args.method == "fanogan" else "")
    print(f"fitting {args.method} on {len(normal)} samples of shape {tuple(normal.shape[1:])} from "
          f"{args.data!r}{which}: {phases} of {args.batch_size}")
    fit_start = time.perf_counter()
    try:
        detector.fit(normal, verbose=1 if sys.stdout.isatty() else 2)
    except ValueError as err:
        raise _as_argument(err, "--data", ("X",)) from err
    print(f"\ntrained in {time.perf_counter() - fit_start:.1f} s")

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        metadata, written = _write_fit_outputs(args, detector, normal, stage)
        _replace_entries(stage, out, FIT_ENTRIES)
    finally:
        shutil.rmtree(stage, ignore_errors=True)

    print(f"detector (GANOutlierDetector.load): {out / DETECTOR_FILE}")
    if metadata is not None:
        parity = metadata.get("parity_max_abs_error")
        if isinstance(parity, dict):
            parity = ", ".join(f"{name} {error:.2g}" for name, error in parity.items())
        print(f"export (score with 'ganapps outliers score --model {out}'): {out / 'model.onnx'}, "
              f"{out / 'saved_model'}, {out / 'metadata.json'} (parity max abs error: {parity})")
    else:
        print(f"no export: only method 'fanogan' scores in one forward pass (--method {args.method})")
    figures = [str(out / name) for name in (ROC_FILE, TOP_FILE) if name in written]
    if figures:
        print(f"figures: {', '.join(figures)}")
    print(f"everything took {time.perf_counter() - start:.1f} s; it is in {out}/")
    return 0


def _write_fit_outputs(args: argparse.Namespace, detector: Any, normal: np.ndarray,
                       stage: Path) -> tuple[dict[str, Any] | None, set[str]]:
    """Write what ``fit`` leaves in ``--out`` into the folder ``stage``: the detector, the export (fanogan), and
    on labelled data the evaluation and its figures; returns the export's metadata (or None) and the entries
    written."""
    import numpy as np

    from apps.outliers.plots import residual_figure, roc_pr_figure

    detector.save(stage / DETECTOR_FILE)
    metadata = detector.export(stage) if args.method == "fanogan" else None
    if detector.calibration_size_:
        print(f"threshold: anomaly score > {-detector.threshold_:.6g} flags {args.contamination:.1%} "
              f"(--contamination) of the {detector.calibration_size_} normal samples held out of training "
              f"(--calibration-fraction): about that share of new normal data")
    else:
        print(f"threshold: anomaly score > {-detector.threshold_:.6g} flags {args.contamination:.1%} "
              f"(--contamination) of the training data (--calibration-fraction 0: optimistic, the GAN fits its "
              f"training data more closely than new data)")

    if args.normal_class is not None:
        X_test, y_test = _load(args, "test")
        is_outlier = np.asarray(y_test) != args.normal_class
        anomaly = -np.asarray(detector.score_samples(X_test))
        result = _metrics(anomaly, is_outlier, -detector.threshold_)
        _report_metrics(result, "held-out test split", args.normal_class, args.contamination)
        _write_json(stage / EVALUATION_FILE, {"data": args.data, "split": "test", "normal_class": args.normal_class,
                                              "method": args.method, **result})
        roc_pr_figure(anomaly, is_outlier, stage / ROC_FILE)
        shown, pool = X_test, "held-out test samples"
    else:
        print(f"no --normal-class: nothing in {args.data!r} is labelled an outlier, so there is nothing to "
              f"evaluate")
        shown, pool = None, "training samples"
    if args.method == "discriminator":
        print(f"no {TOP_FILE}: the discriminator method reconstructs nothing to draw residuals of")
    else:
        if shown is None:
            anomaly, shown = -np.asarray(detector.score_samples(normal)), normal
        top = np.argsort(-anomaly, kind="stable")[:args.top]
        explanation = detector.explain(shown[top])
        residual_figure(shown[top], explanation.reconstructions, explanation.residual_maps, stage / TOP_FILE,
                        scores=anomaly[top], names=[str(i) for i in top], threshold=-detector.threshold_)
        print(f"{TOP_FILE}: the {len(top)} highest-scoring {pool}")
    return metadata, {p.name for p in stage.iterdir()}


# -- score ---------------------------------------------------------------------------------------------------
def _score(args: argparse.Namespace) -> int:
    import numpy as np

    from apps.outliers.plots import residual_figure
    from ganapps import runtime
    from ganapps._checks import write_atomically

    start = time.perf_counter()
    for option, value in (("--out", args.out), ("--heatmaps", args.heatmaps)):
        if value is not None and Path(value).is_dir():
            raise ValueError(f"{option}: expected a file name; got {value!r}, which is a folder")
    scorer = _scorer(args.model)
    data = Path(args.data).expanduser()
    try:
        x, names = runtime.read_samples(data, scorer.sample_shape)
        x = scorer.prepare(x)  # float32 in the value range: what the heat-maps show beside the reconstructions
        result = scorer.score(x)
    except (ValueError, FileNotFoundError) as err:
        raise _as_argument(err, "--data", ("path", "x")) from err
    anomaly = result["score"].astype(np.float64)
    threshold = scorer.threshold if args.threshold is None else args.threshold
    flagged = anomaly > threshold
    key = "file" if data.is_dir() or data.suffix.lower() not in (".npy", ".csv") else "index"

    buffer = io.StringIO()
    table = csv.writer(buffer, lineterminator="\n")
    table.writerow([key, "score", "score_samples", "outlier"])
    for name, value, flag in zip(names, anomaly, flagged):
        table.writerow([name, f"{value:.9g}", f"{-value:.9g}", int(flag)])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: tmp.write_text(buffer.getvalue()))

    n = len(anomaly)
    contamination = scorer.metadata.get("contamination")
    if args.threshold is not None:
        expected = f"; --threshold, the export's is {scorer.threshold:.6g}"
    elif contamination is not None and scorer.metadata.get("calibration_size"):
        expected = (f"; the export's, which flags {contamination:.1%} of the "
                    f"{scorer.metadata['calibration_size']} normal samples held out of its training")
    elif contamination is not None:
        expected = f"; the export's, which flags {contamination:.1%} of its training data"
    else:
        expected = "; the export's"
    print(f"scored {n} samples of {args.data!r} with {args.model} ({scorer.providers[0]}) in "
          f"{time.perf_counter() - start:.2f} s")
    print(f"flagged {int(flagged.sum())} of {n} ({flagged.mean():.1%}) as outliers: score > threshold "
          f"{threshold:.6g} (higher scores are more abnormal{expected})")
    print(f"wrote {out}")
    if args.heatmaps:
        top = np.argsort(-anomaly, kind="stable")[:args.top]
        path = residual_figure(x[top], result["reconstruction"][top], result["residual"][top], args.heatmaps,
                               scores=anomaly[top], names=[names[i] for i in top], threshold=threshold,
                               value_range=scorer.value_range or (-1.0, 1.0))
        print(f"wrote {path} (the {len(top)} highest-scoring samples: input, reconstruction, residual)")
    return 0


# -- evaluate ------------------------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from apps.outliers.plots import roc_pr_figure

    start = time.perf_counter()
    scorer = _scorer(args.model)
    X, y = _load(args, args.split)
    if y is None:
        raise ValueError(f"--data: expected labelled data such as 'digits'; got {args.data!r}, which has no labels")
    _check_class(args.normal_class, y)
    try:
        anomaly = scorer.anomaly_score(X).astype(np.float64)
    except ValueError as err:
        raise _as_argument(err, "--data", ("x",)) from err
    is_outlier = np.asarray(y) != args.normal_class
    result = _metrics(anomaly, is_outlier, scorer.threshold)
    _report_metrics(result, f"{args.model} on the {args.split} split of {args.data!r}", args.normal_class,
                    scorer.metadata.get("contamination"))
    path = roc_pr_figure(anomaly, is_outlier, args.out)
    print(f"wrote {path}; took {time.perf_counter() - start:.1f} s")
    return 0
