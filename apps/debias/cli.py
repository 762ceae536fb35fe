"""``ganapps debias``: find a dataset's rare samples, top up its rare groups, and report a classifier's bias.

    ganapps debias weights --out runs/weights                        # offline: the digits with rare bold ones
    ganapps debias weights --data faces/ --groups faces.csv --out runs/faces_weights
    ganapps debias augment --data faces/ --groups faces.csv --steps 2000 --out runs/faces_balanced
    ganapps debias report --method latent --epochs 10 --out runs/report_latent
    ganapps debias report --data tfds:celeb_a --split 'train[:20000]' --test-split 'test[:5000]' \\
        --group-key attributes/Male --label-key attributes/Smiling --image-size 32 --out runs/celeb_a

``weights`` fits a :class:`apps.debias.DatasetDebiaser` (no groups needed) and writes each sample's weight;
``augment`` fits a group-conditional GAN and writes the data with synthetic samples of the rare groups (groups
needed); ``report`` trains a downstream classifier one of :data:`apps.debias.METHODS` ways and writes its bias
report. Data come from :func:`apps.debias.load_data`: the offline ``biased-digits`` (default), an image folder
(with a CSV of groups), ``.npy`` arrays, or ``tfds:<name>``.

Importing this module imports neither NumPy nor TensorFlow (argparse only), so ``ganapps --help`` is instant; a
subcommand imports the app once its arguments are parsed. Every file is written atomically (a crash part-way
leaves the previous file or none, never half of one); ``augment`` assembles its whole folder beside ``--out`` and
renames it into place.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ganapps._argtypes import (
    jit_compile_value, narrowed, non_negative_int, positive_float, positive_int, probability, verbose_level)

ATTRIBUTES = ("thick", "rotated", "inverted")
"""``--attribute`` choices: :data:`ganapps.data.BIAS_ATTRIBUTES`, written out so that building the parser imports
no NumPy (a test checks that the two agree)."""
METHOD_CHOICES = ("plain", "latent", "rebalance", "oracle")
"""``--method`` choices: :data:`apps.debias.app.METHODS` (which imports TensorFlow), written out likewise."""
DEBIASER_FILE = "debiaser.keras"
REBALANCER_FILE = "rebalancer.keras"
WEIGHTS_FILE = "weights.csv"
SUMMARY_FILE = "summary.json"
RARITY_FILE = "rarity.png"
SYNTHETIC_FILE = "synthetic.png"
TOP = 0.05
"""The share of the largest weights whose groups ``weights`` and ``report`` count."""
DEBIASER_DEFAULTS = {"latent_dim": 16, "alpha": 1.0, "bins": 5, "steps": 1500, "batch_size": 64,
                     "architecture": "auto"}
REBALANCER_DEFAULTS = {"latent_dim": 32, "steps": 2000, "batch_size": 64}


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, except that text holding line breaks (the examples) is printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


_target_balance = narrowed(positive_float, "a share in (0, 1], such as 1.0 (balanced)",
                           reject=lambda value: value > 1)
_EXAMPLES = """examples:
  ganapps debias weights --out runs/weights
  ganapps debias weights --data faces/ --groups faces.csv --out runs/faces_weights
  ganapps debias augment --data faces/ --groups faces.csv --steps 2000 --out runs/faces_balanced
  ganapps debias report --method latent --out runs/report_latent
  ganapps debias report --data x.npy --groups g.npy --labels y.npy --test-data x_test.npy \\
      --test-groups g_test.npy --test-labels y_test.npy --out runs/report
"""


# -- the parser ----------------------------------------------------------------------------------------------
def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="biased-digits",
                   help="'biased-digits' (scikit-learn's digits with a rare visual attribute; offline, labelled, "
                        "grouped; 'biased-digits:rotated' picks the attribute), an image folder (read with its "
                        "sub-folders), a .npy file of images (NHWC, uint8 or floats in [-1, 1]) or vectors (n, d), "
                        "or 'tfds:NAME', a tensorflow-datasets dataset (default: %(default)s)")
    g.add_argument("--groups", default=None, metavar="FILE",
                   help="each sample's group: for a folder, a CSV with 'file' and 'group' columns (and optionally "
                        "'label'), a row per image by its path relative to the folder or its file name; for a .npy "
                        "file, a .npy or a one-column .csv (or a CSV with 'group'/'label' columns) "
                        "(default: none; biased-digits has its own)")
    g.add_argument("--labels", default=None, metavar="FILE",
                   help="class labels of a .npy file's samples: a .npy or a one-column .csv (default: none)")
    g.add_argument("--split", default="train",
                   help="split of biased-digits or of a tensorflow-datasets dataset, such as 'train[:5000]' "
                        "(default: %(default)s)")
    g.add_argument("--image-size", type=positive_int, default=None,
                   help="resize images to this square size (default: 16 for biased-digits, else as stored)")
    g.add_argument("--attribute", choices=ATTRIBUTES, default="thick",
                   help="biased-digits: the rare attribute (default: %(default)s)")
    g.add_argument("--rare-share", type=probability, default=0.05,
                   help="biased-digits: share of the train split carrying the attribute (default: %(default)s)")
    g.add_argument("--group-key", default=None,
                   help="tfds: the feature holding each example's group; 'a/b' for nested features, such as "
                        "'attributes/Male' for celeb_a (default: none)")
    g.add_argument("--label-key", default="label",
                   help="tfds: the feature holding the class label, 'a/b' for nested ones (default: %(default)s)")
    g.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir holding a prepared copy")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the data's attribute carriers and of every training run (default: %(default)s)")
    p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                   help="XLA compilation of the training steps; auto: only with a GPU (default: %(default)s)")
    p.add_argument("--verbose", action="store_true",
                   help="Keras progress bars (default: shown when the output is a terminal)")


def _add_debiaser_args(p: argparse.ArgumentParser, model_help: str, report: bool = False) -> None:
    g = p.add_argument_group("debiaser (a VAE-GAN's latent space)")
    g.add_argument("--model", default=None, metavar="FILE.keras", help=model_help)
    g.add_argument("--latent-dim", type=positive_int, default=None,
                   help="latent size of the debiaser (default: 16)" + (
                       "; with --method rebalance, of the rebalancer instead (default: 32; the debiaser keeps 16)"
                       if report else ""))
    g.add_argument("--alpha", type=positive_float, default=None,
                   help="debiasing strength: small alpha weighs rare latent regions much more, large alpha tends "
                        "to equal weights (default: 1.0, or --model's)")
    g.add_argument("--bins", type=positive_int, default=None,
                   help="histogram bins per latent dimension (default: 5, or --model's)")
    g.add_argument("--per-class", action=argparse.BooleanOptionalAction, default=None,
                   help="measure latent rarity within each class and keep the class balance (needs labels); "
                        "--no-per-class: over all samples at once (default: per class when labels are known)")
    g.add_argument("--steps", type=positive_int, default=None,
                   help="training steps of the debiaser's VAE-GAN (default: 1500)" + (
                       "; with --method rebalance, of the rebalancer's GAN instead (default: 2000; the debiaser "
                       "keeps 1500)" if report else ""))
    g.add_argument("--architecture", choices=("auto", "mlp", "dcgan"), default=None,
                   help="debiaser networks; auto: MLPs for vectors and samples of at most 1024 values "
                        "(default: auto)")
    if not report:
        g.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: 64)")


def add_parser(commands: Any, epilog: str = "") -> argparse.ArgumentParser:
    """Register ``debias`` and its subcommands on ``ganapps``'s subparsers action."""
    formatter = _Formatter
    db = commands.add_parser("debias", help="dataset debiasing: weights, augment, report",
                             formatter_class=formatter,
                             epilog=epilog or _EXAMPLES + "\nRun 'ganapps debias <subcommand> --help' for its "
                                                          "options.",
                             description="Find and correct a dataset's under-represented samples: latent-density "
                                         "weights that need no group labels (Amini et al. 2019), synthetic samples "
                                         "of the rare groups from a group-conditional GAN, and a bias report of a "
                                         "classifier trained each way.")
    sub = db.add_subparsers(dest="debias_command", metavar="SUBCOMMAND")
    sub.required = True

    weights = sub.add_parser("weights", help="per-sample weights from a debiaser's latent density",
                             formatter_class=formatter, epilog=_EXAMPLES,
                             description="Fit a DatasetDebiaser on the data (no groups needed), or load one with "
                                         "--model, and write into OUT: weights.csv (index, file, weight with mean "
                                         "one, sampling probability, rarity = log probability, and group when "
                                         "known), summary.json (n, alpha, bins, effective sample size, and with "
                                         "groups each group's share of the data and of the 5% largest weights), "
                                         "rarity.png (images: the most common and the rarest samples) and "
                                         "debiaser.keras (unless --model).")
    _add_data_args(weights)
    _add_debiaser_args(weights, "reuse a debiaser written by an earlier run instead of fitting one")
    weights.add_argument("--out", required=True, help="output folder")

    augment = sub.add_parser("augment", help="top up rare groups with a conditional GAN's samples (images)",
                             formatter_class=formatter, epilog=_EXAMPLES,
                             description="Fit a group-conditional GAN (conditioned on group and class label; "
                                         "batches balanced over the (group, class) cells) and write OUT: the real "
                                         "images and synthetic ones of the under-represented groups under "
                                         "OUT/images/, OUT/provenance.csv (file, group, label, synthetic), "
                                         "OUT/rebalancer.keras and OUT/synthetic.png (a row of samples per group). "
                                         "Needs groups; images only, of power-of-two sides (see --image-size).")
    _add_data_args(augment)
    g = augment.add_argument_group("rebalancer (a group-conditional GAN)")
    g.add_argument("--steps", type=positive_int, default=REBALANCER_DEFAULTS["steps"],
                   help="GAN training steps (default: %(default)s)")
    g.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default: %(default)s)")
    g.add_argument("--latent-dim", type=positive_int, default=REBALANCER_DEFAULTS["latent_dim"],
                   help="latent size (default: %(default)s)")
    g.add_argument("--lr", type=positive_float, default=2e-4,
                   help="Adam learning rate of both players (default: %(default)s)")
    g.add_argument("--width", type=positive_int, default=32,
                   help="filters of the full-resolution layers (default: %(default)s)")
    g.add_argument("--target-balance", type=_target_balance, default=1.0,
                   help="each group is topped up to this share of the largest group of its class, in (0, 1] "
                        "(default: %(default)s)")
    g.add_argument("--no-labels", action="store_true",
                   help="ignore the class labels: balance the groups over all samples")
    g.add_argument("--per-group", type=positive_int, default=8,
                   help="samples per group in synthetic.png (default: %(default)s)")
    augment.add_argument("--out", required=True, help="output folder; it must not exist unless --overwrite")
    augment.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")

    report = sub.add_parser("report", help="train a classifier, report its accuracy and fairness per group",
                            formatter_class=formatter, epilog=_EXAMPLES,
                            description="Train a small classifier on the data (labels and groups needed) by "
                                        "--method, evaluate it on test data, and write OUT/report.md, "
                                        "OUT/report.json, OUT/groups.png (per-group counts and accuracy) and "
                                        "OUT/rarity.png (the training data's most common and rarest samples by "
                                        "latent density, and which groups the rarest 5% hold). Methods: plain; "
                                        "latent (batches drawn by a debiaser's weights, no groups); rebalance "
                                        "(a conditional GAN's samples of the rare groups added); oracle "
                                        "(inverse group frequency).")
    _add_data_args(report)
    t = report.add_argument_group("test data")
    t.add_argument("--test-data", default=None,
                   help="labelled, grouped test data, as --data (default: the 'test' split of --data for "
                        "biased-digits and tfds; required for a folder or a .npy file)")
    t.add_argument("--test-groups", default=None, metavar="FILE", help="groups of --test-data, as --groups")
    t.add_argument("--test-labels", default=None, metavar="FILE", help="labels of --test-data, as --labels")
    t.add_argument("--test-split", default="test",
                   help="split of the test data (biased-digits, tfds) (default: %(default)s)")
    c = report.add_argument_group("classifier")
    c.add_argument("--method", choices=METHOD_CHOICES, default="plain",
                   help="how the classifier's training batches are balanced (default: %(default)s)")
    c.add_argument("--epochs", type=positive_int, default=10, help="classifier epochs (default: %(default)s)")
    c.add_argument("--batch-size", type=positive_int, default=64,
                   help="batch size of the classifier and of the GANs (default: %(default)s)")
    c.add_argument("--target-balance", type=_target_balance, default=1.0,
                   help="rebalance: each group's share of the largest group of its class (default: %(default)s)")
    _add_debiaser_args(report, "a debiaser written by 'weights' (for method latent and the rarity table) instead "
                               "of fitting one", report=True)
    report.add_argument("--no-rarity", action="store_true",
                        help="skip the training data's latent rarity (no debiaser is fitted unless --method latent)")
    report.add_argument("--out", required=True, help="output folder")
    return db


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``debias`` subcommand; ganapps's ``main`` turns errors into messages and exit codes."""
    return {"weights": _weights, "augment": _augment, "report": _report}[args.debias_command](args)


# -- shared --------------------------------------------------------------------------------------------------
_LOAD_ARGUMENTS = {"data": "--data", "groups": "--groups", "labels": "--labels", "split": "--split",
                   "image_size": "--image-size", "attribute": "--attribute", "rare_share": "--rare-share",
                   "seed": "--seed", "group_key": "--group-key", "label_key": "--label-key", "data_dir": "--data-dir"}
_TEST_ARGUMENTS = {**_LOAD_ARGUMENTS, "data": "--test-data", "groups": "--test-groups", "labels": "--test-labels",
                   "split": "--test-split"}


def _renamed(err: Exception, names: dict[str, str]) -> Exception:
    """``err`` re-worded to name the command-line option where a library function named its own parameter
    (``data: expected ...`` becomes ``--data: expected ...``)."""
    text = str(err)
    head, sep, rest = text.partition(":")
    if sep and head in names:
        renamed = type(err)(f"{names[head]}:{rest}")
        return renamed
    return err


def _is_digits(source: str) -> bool:
    return source == "biased-digits" or source.startswith("biased-digits:")


def _load(args: argparse.Namespace, data: str, split: str, groups: str | None, labels: str | None,
          names: dict[str, str]) -> Any:
    from apps.debias.data import load_data

    try:
        return load_data(data, split=split, groups=groups, labels=labels, image_size=args.image_size,
                         attribute=args.attribute, rare_share=args.rare_share, seed=args.seed,
                         group_key=args.group_key, label_key=args.label_key, data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as err:
        raise _renamed(err, names) from err


def _out_folder(text: str) -> Path:
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise FileNotFoundError(f"--out: expected a folder; got {text!r}, which is a file")
    return out


def _debiaser(args: argparse.Namespace, x: Any, verbose: int, batch_size: int | None,
              training_only: tuple[str, ...]) -> tuple[Any, str]:
    """A fitted debiaser: ``--model``'s, or a new one fitted on ``x``; and a line saying which. The options in
    ``training_only`` are the debiaser's own and only train it, so giving one with ``--model`` is an error rather
    than ignored; of ``--latent-dim``, ``--steps`` and ``--architecture``, those not in it belong to another model
    (the rebalancer's, for ``report --method rebalance``) and the debiaser takes :data:`DEBIASER_DEFAULTS`."""
    from apps.debias.app import DatasetDebiaser

    training = {key: getattr(args, key) if key in training_only else None
                for key in ("latent_dim", "steps", "architecture")}
    if args.model:
        given = [f"--{key.replace('_', '-')}" for key in training_only if getattr(args, key) is not None]
        if given:
            raise ValueError(f"{given[0]}: expected no value with --model (the saved debiaser is already trained); "
                             f"got {getattr(args, given[0][2:].replace('-', '_'))!r}")
        try:
            debiaser = DatasetDebiaser.load(args.model, alpha=args.alpha, bins=args.bins)
        except (ValueError, FileNotFoundError) as err:
            raise _renamed(err, {"path": "--model", "alpha": "--alpha", "bins": "--bins"}) from err
        return debiaser, f"debiaser: loaded from {args.model}"
    settings = {key: DEBIASER_DEFAULTS[key] if value is None else value for key, value in
                {**training, "alpha": args.alpha, "bins": args.bins, "batch_size": batch_size}.items()}
    debiaser = DatasetDebiaser(**settings, seed=args.seed, jit_compile=jit_compile_value(args.jit_compile))
    start = time.perf_counter()
    try:
        debiaser.fit(x, verbose=verbose)
    except ValueError as err:
        raise _renamed(err, {"x": "--data", "architecture": "--architecture"}) from err
    return debiaser, (f"debiaser: a VAE-GAN (latent {settings['latent_dim']}) fitted on {len(x)} samples, "
                      f"{settings['steps']} steps, in {time.perf_counter() - start:.1f} s")


def _shares_table(shares: dict[str, dict[str, float]], what: str) -> list[str]:
    width = max(5, *(len(g) for g in shares))
    lines = [f"{'group':<{width}}  share of data  share of {what}"]
    lines += [f"{g:<{width}}  {s['share_of_data']:>13.1%}  {s['share_of_top']:>{len(what) + 9}.1%}"
              for g, s in shares.items()]
    return lines


def _csv_text(rows: list[list[Any]]) -> str:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


# -- weights -------------------------------------------------------------------------------------------------
def _per_class(args: argparse.Namespace, labels: Any) -> bool:
    """``--per-class``: as given (refused without labels), else on exactly when the data has labels."""
    if args.per_class and labels is None:
        raise ValueError("--per-class: expected class labels to measure rarity within (--labels, a 'label' column "
                         "or --label-key); got none")
    return labels is not None if args.per_class is None else args.per_class


def _weights(args: argparse.Namespace) -> int:
    import numpy as np

    from apps.debias.report import rarity_figure, top_weighted_shares
    from ganapps import debias
    from ganapps._checks import plain, write_atomically

    out = _out_folder(args.out)
    data = _load(args, args.data, args.split, args.groups, args.labels, _LOAD_ARGUMENTS)
    strata = data.labels if _per_class(args, data.labels) else None  # checked before the debiaser trains
    debiaser, how = _debiaser(args, data.x, verbose_level(args.verbose), args.batch_size,
                              ("latent_dim", "steps", "architecture", "batch_size"))
    try:
        weights = debiaser.sample_weights(data.x, strata=strata)
    except ValueError as err:
        raise _renamed(err, {"x": "--data"}) from err
    probabilities = weights / weights.sum()
    rarity = np.log(probabilities)
    ess = float(debias.effective_sample_size(probabilities))

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if not args.model:
        written.append(debiaser.save(out / DEBIASER_FILE))
    header = ["index", "file", "weight", "probability", "rarity"] + (["group"] if data.groups is not None else [])
    rows: list[list[Any]] = [header]
    for i in range(len(weights)):
        row = [i, data.names[i] if data.names else "", f"{weights[i]:.9g}", f"{probabilities[i]:.9g}",
               f"{rarity[i]:.9g}"]
        rows.append(row + ([plain(data.groups[i])] if data.groups is not None else []))
    text = _csv_text(rows)
    written.append(write_atomically(out / WEIGHTS_FILE, lambda tmp: tmp.write_text(text)))

    summary: dict[str, Any] = {"n": len(weights), "data": data.source, "alpha": debiaser.alpha,
                               "bins": debiaser.bins, "latent_dim": debiaser.get_params()["latent_dim"],
                               "model": str(args.model) if args.model else DEBIASER_FILE,
                               "effective_sample_size": ess, "effective_sample_share": ess / len(weights),
                               "per_class": strata is not None}
    shares = None
    if data.groups is not None:
        shares = top_weighted_shares(weights, data.groups, TOP)
        summary["top"] = TOP
        summary["top_weighted_shares"] = shares
        summary["mean_weight_by_group"] = {str(g): float(weights[data.groups == g].mean())
                                           for g in sorted(set(data.groups.tolist()))}
    body = json.dumps(summary, indent=1) + "\n"
    written.append(write_atomically(out / SUMMARY_FILE, lambda tmp: tmp.write_text(body)))
    if data.kind == "images":
        written.append(rarity_figure(data.x, rarity, out / RARITY_FILE, groups=data.groups,
                                     title="Samples by latent density: most common (top) and rarest (bottom)"))
    else:
        (out / RARITY_FILE).unlink(missing_ok=True)  # an earlier run's figure would belong to other data

    print(how)
    print(f"{len(weights)} samples of {data.source}: effective sample size of the sampling probabilities {ess:.1f} "
          f"({ess / len(weights):.1%} of the samples; alpha {debiaser.alpha:g}, {debiaser.bins} bins)")
    if shares is not None:
        print("\n".join(_shares_table(shares, f"the top {TOP:.0%} weights")))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


# -- augment -------------------------------------------------------------------------------------------------
def _flat_names(names: list[str] | None) -> list[str] | None:
    """Folder-relative paths as single file names (``a/b.png`` -> ``a_b.png``) for the augmented folder, refused
    (naming both paths) where two of them meet (``a/b.png`` and ``a_b.png``) or one would pass for a synthetic
    sample's: the second image would overwrite the first."""
    from ganapps import rebalance

    if names is None:
        return None
    flat = [name.replace("/", "_") for name in names]
    rebalance.file_stems(flat, argument="--data", shown=names)
    return flat


def _augment(args: argparse.Namespace) -> int:
    import numpy as np

    from ganapps import rebalance
    from ganapps._checks import plain, replace_folder
    from ganapps.images import save_grid

    out = _out_folder(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out: expected a folder that does not exist yet (or --overwrite); got {args.out!r}, "
                         f"which exists")
    data = _load(args, args.data, args.split, args.groups, args.labels, _LOAD_ARGUMENTS)
    if data.groups is None:
        raise ValueError("--groups: expected each sample's group for augment (for a folder a CSV of "
                         "file,group[,label]; for a .npy file a .npy or .csv; for tfds --group-key); got none")
    if data.kind != "images":
        raise ValueError(f"--data: expected images for augment; got vectors of shape {data.x.shape}")
    h, w = data.x.shape[1:3]
    if not all(v >= 4 and v & (v - 1) == 0 for v in (h, w)):
        raise ValueError(f"--image-size: expected images whose sides are powers of two of at least 4 (the GAN's "
                         f"convolutions halve them), such as --image-size 16; got {h}x{w} images")
    if len(set(data.groups.tolist())) < 2:
        raise ValueError(f"--groups: expected at least two groups to balance; got only "
                         f"{plain(data.groups[0])!r}")
    names = _flat_names(data.names)  # before training: a clash found after it would waste the GAN
    labels = None if args.no_labels else data.labels
    start = time.perf_counter()
    game = rebalance.fit_rebalancer(data.x, data.groups, labels, steps=args.steps, batch_size=args.batch_size,
                                    lr=args.lr, latent_dim=args.latent_dim, width=args.width, seed=args.seed,
                                    jit_compile=jit_compile_value(args.jit_compile),
                                    verbose=verbose_level(args.verbose))
    seconds = time.perf_counter() - start
    extra = rebalance.augment(data.x, data.groups, labels, game, target_balance=args.target_balance, seed=args.seed)

    groups = list(game.group_values)
    shown = np.repeat(np.asarray(groups), args.per_group)
    shown_labels = None
    if game.label_values:
        shown_labels = np.asarray([game.label_values[i % len(game.label_values)] for i in range(len(shown))])
    grid = game.generate_groups(shown, shown_labels, seed=args.seed)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = rebalance.write_folder(staging / out.name, extra.x, extra.groups, extra.labels, extra.synthetic,
                                        names=names)
        game.save(folder / REBALANCER_FILE)
        save_grid(grid, folder / SYNTHETIC_FILE, nrow=args.per_group)
        replace_folder(folder, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    print(f"rebalancer: a group-conditional GAN fitted on {len(data)} images of {data.source}, {args.steps} steps, "
          f"in {seconds:.1f} s ({'groups only' if labels is None else 'groups and class labels'})")
    counts = extra.counts()
    width = max(5, *(len(g) for g in counts))
    print(f"{'group':<{width}}  {'real':>6}  {'synthetic':>9}")
    for group, cell in counts.items():
        print(f"{group:<{width}}  {cell['real']:>6}  {cell['synthetic']:>9}")
    print(f"wrote {out}/ ({len(extra.x)} images under images/, {rebalance.PROVENANCE_FILE}, {REBALANCER_FILE}, "
          f"{SYNTHETIC_FILE}: a row of {args.per_group} samples per group)")
    return 0


# -- report --------------------------------------------------------------------------------------------------
def _test_data(args: argparse.Namespace, train: Any) -> Any:
    if args.test_data is None:
        if not (_is_digits(args.data) or args.data.startswith("tfds:")):
            raise ValueError(f"--test-data: expected labelled, grouped test data (with --test-groups and "
                             f"--test-labels as needed) for {args.data!r}: only biased-digits and tfds data have a "
                             f"test split of their own; got none")
        for option, value in (("--test-groups", args.test_groups), ("--test-labels", args.test_labels)):
            if value is not None:
                raise ValueError(f"{option}: expected no value without --test-data (the test split of --data "
                                 f"brings its own); got {value!r}")
        test = _load(args, args.data, args.test_split, None, None, _TEST_ARGUMENTS)
    else:
        test = _load(args, args.test_data, args.test_split, args.test_groups, args.test_labels, _TEST_ARGUMENTS)
    if test.x.shape[1:] != train.x.shape[1:]:
        raise ValueError(f"--test-data: expected samples of the training data's shape {train.x.shape[1:]}; got "
                         f"{test.x.shape[1:]} from {test.source}")
    for option, value, what in (("--test-labels", test.labels, "class labels"), ("--test-groups", test.groups,
                                                                                  "groups")):
        if value is None:
            raise ValueError(f"{option}: expected the test data's {what}; got none for {test.source}")
    return test


def _report(args: argparse.Namespace) -> int:
    from apps.debias.app import predict_labels, train_classifier
    from apps.debias.report import REPORT_FILES, write_report
    from ganapps import rebalance

    out = _out_folder(args.out)
    train = _load(args, args.data, args.split, args.groups, args.labels, _LOAD_ARGUMENTS)
    for option, value, what in (("--labels", train.labels, "class labels (for a folder a 'label' column in the "
                                 "--groups CSV; for tfds --label-key)"),
                                ("--groups", train.groups, "groups (for a folder a CSV of file,group,label; for "
                                 "tfds --group-key)")):
        if value is None:
            raise ValueError(f"{option}: expected the training data's {what}; got none for {train.source}")
    test = _test_data(args, train)
    per_class = _per_class(args, train.labels)
    verbose = verbose_level(args.verbose)
    lines, settings = [], {"method": args.method, "epochs": args.epochs, "batch_size": args.batch_size,
                           "seed": args.seed}

    debiaser = None
    if args.method == "latent" or args.model or not args.no_rarity:
        shared = () if args.method == "rebalance" else ("latent_dim", "steps")  # else the rebalancer's
        debiaser, how = _debiaser(args, train.x, verbose, args.batch_size, ("architecture", *shared))
        lines.append(how)
        params = debiaser.get_params()
        settings.update(alpha=debiaser.alpha, bins=debiaser.bins, debiaser=args.model or "fitted",
                        debiaser_steps=params["steps"], debiaser_latent_dim=params["latent_dim"])
    rebalancer = None
    if args.method == "rebalance":
        start = time.perf_counter()
        steps = args.steps or REBALANCER_DEFAULTS["steps"]
        latent = args.latent_dim or REBALANCER_DEFAULTS["latent_dim"]
        rebalancer = rebalance.fit_rebalancer(train.x, train.groups, train.labels, steps=steps,
                                              batch_size=args.batch_size, latent_dim=latent, seed=args.seed,
                                              jit_compile=jit_compile_value(args.jit_compile), verbose=verbose)
        lines.append(f"rebalancer: a group-conditional GAN fitted in {time.perf_counter() - start:.1f} s")
        settings.update(rebalancer_steps=steps, rebalancer_latent_dim=latent, target_balance=args.target_balance)

    start = time.perf_counter()
    model = train_classifier(train.x, train.labels, method=args.method, groups=train.groups, debiaser=debiaser,
                             rebalancer=rebalancer, target_balance=args.target_balance, epochs=args.epochs,
                             batch_size=args.batch_size, per_class=per_class, seed=args.seed,
                             verbose=verbose)
    lines.append(f"classifier: method {args.method}, {args.epochs} epochs, in {time.perf_counter() - start:.1f} s")
    predicted = predict_labels(model, test.x)
    rarity = None
    if debiaser is not None and not args.no_rarity:
        try:
            rarity = debiaser.rarity(train.x, strata=train.labels if per_class else None)
        except ValueError as err:
            raise _renamed(err, {"x": "--data"}) from err
    notes = [f"- method: **{args.method}** ({args.epochs} epochs, batch size {args.batch_size}, seed {args.seed})",
             f"- training data: {train.source}", f"- evaluation data: {test.source}"]
    try:
        record = write_report(out, test.labels, predicted, test.groups, title=f"Bias report: {args.method} classifier",
                              train_groups=train.groups, train_rarity=rarity,
                              x_train=train.x if rarity is not None else None, top=TOP, notes=notes,
                              extra={"method": args.method, "train_data": train.source, "test_data": test.source,
                                     "settings": settings})
    except ValueError as err:
        raise _renamed(err, {"groups": "--test-groups", "y_true": "--test-labels"}) from err
    if rarity is None or train.x.ndim != 4:
        (out / REPORT_FILES[3]).unlink(missing_ok=True)  # an earlier run's figure would not match this report

    from ganapps.fairness import group_report_markdown

    print("\n".join(lines))
    print(group_report_markdown(record["test"]))
    if "top_rarest" in record:
        print("\n".join(_shares_table(record["top_rarest"]["groups"], f"the rarest {TOP:.0%}")))
    print(f"wrote {out}/ ({', '.join(name for name in REPORT_FILES if (out / name).exists())})")
    return 0
