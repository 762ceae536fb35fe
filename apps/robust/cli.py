"""``ganapps robust``: train a classifier adversarially, attack classifiers, and look at what their units see.

    ganapps robust train --out runs/robust_pgd                           # offline digits, PGD training
    ganapps robust train --method standard --out runs/standard
    ganapps robust attack --model runs/standard/model.keras --model runs/robust_pgd/model.keras --out runs/attack
    ganapps robust visualize --model runs/robust_pgd/model.keras --out runs/units

``train`` fits a :class:`apps.robust.RobustClassifier` and writes the model, its history, its accuracy under FGSM
and PGD at several eps (table, JSON, plot), its training curves and an ONNX + SavedModel export; ``attack``
measures one or several saved classifiers under one attack on one plot, and writes a grid of adversarial examples;
``visualize`` writes the top-activating images and a synthetic image per hidden unit, and the same for random
directions (Szegedy et al. 2014).

Importing this module imports neither NumPy nor TensorFlow (argparse only), so ``ganapps --help`` is instant.
Each subcommand assembles its output in a folder beside ``--out`` and renames it into place when everything is
written: a crash part-way leaves the previous folder (or none), never half of one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from ganapps._argtypes import (
    jit_compile_value, non_negative_float, non_negative_int, positive_float, positive_int, verbose_level)

METHOD_CHOICES = ("standard", "pgd", "trades", "fast", "fgsm")
"""``--method`` choices: :data:`apps.robust.app.METHODS` (which imports TensorFlow), written out."""
ATTACK_CHOICES = ("fgsm", "pgd", "cw_l2")
MODEL_FILE = "model.keras"
EXPORT_DIR = "export"


def _eps_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(non_negative_float(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated budgets >= 0 such as 0,0.1,0.3; got {text!r}")
    return values


def _units(text: str) -> tuple[int, ...]:
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-"))
            values = tuple(range(low, high + 1))
        else:
            values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected unit indices such as 0-7 or 0,3,5; got {text!r}")
    return values


_EXAMPLES = """examples:
  ganapps robust train --out runs/robust_pgd
  ganapps robust train --method trades --eps 0.2 --epochs 20 --out runs/trades
  ganapps robust train --data mnist --image-size 28 --method fast --out runs/mnist_fast
  ganapps robust attack --model runs/standard/model.keras --model runs/robust_pgd/model.keras --out runs/attack
  ganapps robust visualize --model runs/robust_pgd/model.keras --units 0-7 --out runs/units
"""


def _add_data_args(p: argparse.ArgumentParser, split: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="digits",
                   help="'digits' (scikit-learn's 8x8 digits, offline), a .npz file with arrays x (uint8 or floats "
                        "in [-1, 1]) and y (int labels), an image folder with a sub-folder per class, or a "
                        "tensorflow-datasets name such as 'mnist' (default: %(default)s)")
    g.add_argument("--split", default=split, help="the split to use (default: %(default)s)")
    g.add_argument("--image-size", type=positive_int, default=None,
                   help="resize images to this square size (default: as stored)")
    g.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir holding a prepared copy")
    g.add_argument("--limit", type=positive_int, default=None, help="use the first N samples only")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``robust`` and its subcommands to ganapps's parser."""
    robust = commands.add_parser("robust", help="adversarial training, attacks and feature visualisation",
                                 description=__doc__.split("\n\n")[0].split(": ", 1)[1], epilog=_EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = robust.add_subparsers(dest="robust_command", metavar="SUBCOMMAND", required=True)

    train = sub.add_parser("train", help="train a classifier adversarially and measure it under attack",
                           epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_data_args(train, "train")
    train.add_argument("--test-split", default="test",
                       help="split measured after training, and each epoch's validation (default: %(default)s)")
    g = train.add_argument_group("training")
    g.add_argument("--method", choices=METHOD_CHOICES, default="pgd",
                   help="pgd (Madry), trades, fast (FGSM from a random start), fgsm (Goodfellow's mix) or "
                        "standard, the baseline (default: %(default)s)")
    g.add_argument("--eps", type=non_negative_float, default=0.3,
                   help="training attack budget, Linf, in input units [-1, 1] (default: %(default)s)")
    g.add_argument("--steps", type=positive_int, default=7, help="attack steps of pgd/trades (default: %(default)s)")
    g.add_argument("--beta", type=non_negative_float, default=6.0, help="TRADES weight (default: %(default)s)")
    g.add_argument("--warmup-epochs", type=non_negative_float, default=2.0,
                   help="epochs over which the training eps ramps up from 0 (default: %(default)s)")
    g.add_argument("--epochs", type=positive_int, default=15, help="(default: %(default)s)")
    g.add_argument("--batch-size", type=positive_int, default=64, help="(default: %(default)s)")
    g.add_argument("--lr", type=positive_float, default=5e-3, help="Adam learning rate (default: %(default)s)")
    g.add_argument("--width", type=positive_int, default=16,
                   help="the small classifier's first convolution width (default: %(default)s)")
    g.add_argument("--hidden", type=positive_int, default=64, help="its hidden units (default: %(default)s)")
    g.add_argument("--eval-eps", type=_eps_list, default=(0.0, 0.05, 0.1, 0.2, 0.3),
                   help="budgets measured after training (default: 0,0.05,0.1,0.2,0.3)")
    g.add_argument("--no-export", action="store_true", help="skip the ONNX + SavedModel export")
    _add_common(train, "runs/robust", "seeds the network, the shuffling and the attacks", training=True)

    attack = sub.add_parser("attack", help="measure saved classifiers under an attack; grid of examples",
                            epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    attack.add_argument("--model", action="append", required=True, metavar="FILE.keras",
                        help="a saved classifier or robust game; repeat to compare several on one plot")
    _add_data_args(attack, "test")
    attack.add_argument("--attack", choices=ATTACK_CHOICES, default="pgd", help="(default: %(default)s)")
    attack.add_argument("--eps", type=_eps_list, default=(0.0, 0.05, 0.1, 0.2, 0.3),
                        help="budgets, comma-separated (default: 0,0.05,0.1,0.2,0.3; cw_l2 has none)")
    attack.add_argument("--steps", type=positive_int, default=20, help="PGD steps (default: %(default)s)")
    _add_common(attack, "runs/attack", "seeds PGD's random starts")

    vis = sub.add_parser("visualize", help="top-activating and synthetic images of hidden units",
                         epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    vis.add_argument("--model", required=True, metavar="FILE.keras", help="a saved classifier or robust game")
    _add_data_args(vis, "test")
    vis.add_argument("--layer", default=None, help="layer name (default: the last hidden layer)")
    vis.add_argument("--units", type=_units, default=None,
                     help="unit indices, 0-7 or 0,3,5 (default: the 8 units whose activation varies most)")
    vis.add_argument("--directions", type=non_negative_int, default=4,
                     help="random directions of the layer to show as well (default: %(default)s)")
    vis.add_argument("--k", type=positive_int, default=8, help="top images per unit (default: %(default)s)")
    vis.add_argument("--synthesis-steps", type=positive_int, default=200,
                     help="gradient-ascent steps of each synthetic image (default: %(default)s)")
    _add_common(vis, "runs/units", "seeds the synthetic images and the random directions")


def _add_common(p: argparse.ArgumentParser, out: str, seed_help: str, training: bool = False) -> None:
    p.add_argument("--out", default=out, help="output folder, replaced when complete (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=0, help=seed_help + " (default: %(default)s)")
    if training:
        p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                       help="XLA for training steps; auto: only with a GPU (default: %(default)s)")
        p.add_argument("--verbose", action="store_true",
                       help="progress bars (default: when writing to a terminal)")


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``robust`` subcommand; ganapps's ``main`` turns errors into messages and exit codes."""
    return {"train": _train, "attack": _attack, "visualize": _visualize}[args.robust_command](args)


# -- shared ----------------------------------------------------------------------------------------------------
def _load(args: argparse.Namespace, split: str) -> tuple[Any, Any]:
    from apps.robust.app import load_data

    try:
        x, y = load_data(args.data, split=split, image_size=args.image_size, data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as err:
        head, sep, rest = str(err).partition(":")
        if sep and head in ("data", "name", "split", "image_size"):
            raise type(err)(f"--{head.replace('name', 'data').replace('_', '-')}:{rest}") from err
        raise
    return (x[:args.limit], y[:args.limit]) if args.limit else (x, y)


def _staged(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: expected a folder path; got {str(out)!r}, which is a file")
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))


def _finish(stage: Path, out: Path) -> None:
    from ganapps._checks import replace_folder

    replace_folder(stage, out)


def _write_curves(results: list, stage: Path, stem: str, title: str) -> None:
    from ganapps import attacks

    (stage / f"{stem}.json").write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    (stage / f"{stem}.md").write_text(attacks.robust_accuracy_markdown(results))
    attacks.plot_robust_accuracy(results, stage / f"{stem}.png", title=title)


# -- subcommands -----------------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    import shutil

    from apps.robust.app import RobustClassifier

    x, y = _load(args, args.split)
    x_test, y_test = _load(args, args.test_split)
    robust = RobustClassifier(method=args.method, eps=args.eps, steps=args.steps, beta=args.beta, width=args.width,
                              hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size,
                              learning_rate=args.lr, warmup_epochs=args.warmup_epochs,
                              jit_compile=jit_compile_value(args.jit_compile), seed=args.seed)
    out = Path(args.out)
    stage = _staged(out)
    try:
        robust.fit(x, y, validation_data=(x_test, y_test), verbose=verbose_level(args.verbose))
        robust.save(stage / MODEL_FILE)
        (stage / "history.json").write_text(json.dumps(robust.history, indent=2) + "\n")
        _training_figure(robust.history, stage / "training.png", args.method)
        results = robust.evaluate(x_test, y_test, eps=args.eval_eps, name=args.method)
        _write_curves(results, stage, "robust_accuracy", f"{args.method} training, eps {args.eps:g}")
        if not args.no_export:
            robust.export(stage / EXPORT_DIR)
        _finish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    clean = results[0].accuracy[0]
    under = ", ".join(f"{r.attack} {r.accuracy[-1]:.3f}" for r in results)
    print(f"{args.method}: clean accuracy {clean:.3f}; at eps {results[0].eps[-1]:g}: {under}; wrote {out}/")
    return 0


def _training_figure(history: dict, path: Path, method: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ganapps._checks import write_atomically

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    loss_ax, acc_ax = figure.subplots(1, 2)
    epochs = range(1, len(history.get("loss", [])) + 1)
    loss_ax.plot(epochs, history.get("loss", []), marker="o")
    loss_ax.set(xlabel="epoch", ylabel="training loss", title=f"{method} training")
    for key, style in (("accuracy", "-"), ("adv_accuracy", "-"), ("val_accuracy", "--"), ("val_adv_accuracy", "--")):
        if key in history:
            acc_ax.plot(epochs, history[key], style, marker="o", label=key)
    acc_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="clean and adversarial accuracy")
    acc_ax.legend(fontsize=8)
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))


def _attack(args: argparse.Namespace) -> int:
    import shutil

    import numpy as np

    from apps.robust.app import RobustClassifier
    from ganapps import images

    x, y = _load(args, args.split)
    robust_models = [(Path(path).parent.name or Path(path).stem, RobustClassifier.load(path, "--model", args.seed))
                      for path in args.model]
    out = Path(args.out)
    stage = _staged(out)
    try:
        results, cw_examples = [], []
        for name, robust in robust_models:
            if args.attack == "cw_l2":
                x_adv = robust.attack(x, y, "cw_l2")
                cw_examples.append(x_adv)
                results.append(_cw_result(robust, x, x_adv, y, name))
            else:
                results.extend(robust.evaluate(x, y, eps=args.eps, attack_names=(args.attack,),
                                               pgd_steps=args.steps, name=name))
        _write_curves(results, stage, "robust_accuracy", f"{args.attack} on {args.data} ({args.split})")
        # examples against the first model at the largest budget: clean row over adversarial row
        first = robust_models[0][1]
        shown = slice(0, min(16, len(x)))
        eps = max(args.eps)
        x_adv = cw_examples[0][shown] if cw_examples else first.attack(x[shown], y[shown], args.attack, eps=eps)
        images.save_grid(np.concatenate([x[shown], x_adv]), stage / "examples.png", nrow=len(x[shown]))
        predictions = {"clean": first.classifier.predict(x[shown], verbose=0).argmax(-1).tolist(),
                       "adversarial": first.classifier.predict(x_adv, verbose=0).argmax(-1).tolist(),
                       "labels": y[shown].tolist(), "model": robust_models[0][0],
                       "eps": None if args.attack == "cw_l2" else eps}
        (stage / "examples.json").write_text(json.dumps(predictions) + "\n")
        _finish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(f"wrote {out}/ ({args.attack}, {len(x)} samples, {len(robust_models)} model(s))")
    return 0


def _cw_result(robust: Any, x: Any, x_adv: Any, y: Any, name: str) -> Any:
    """Carlini-Wagner has no budget: its curve is accuracy against the largest L2 perturbation allowed."""
    import numpy as np

    from ganapps import attacks

    distance = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
    fooled = robust.classifier.predict(x_adv, verbose=0).argmax(-1) != y
    budgets = [0.0, 0.25, 0.5, 1.0, 2.0]
    clean_right = robust.classifier.predict(x, verbose=0).argmax(-1) == y
    accuracy = [float(np.mean(clean_right & ~(fooled & (distance <= b)))) if b else float(clean_right.mean())
                for b in budgets]
    return attacks.RobustAccuracy(eps=budgets, accuracy=accuracy, n=int(len(x)), attack="cw_l2 (L2)", name=name)


def _visualize(args: argparse.Namespace) -> int:
    import shutil

    import numpy as np

    from apps.robust.app import load_model
    from ganapps import images, interpret

    x, _ = _load(args, args.split)
    model = load_model(args.model, "--model")
    out = Path(args.out)
    stage = _staged(out)
    try:
        units = args.units if args.units is not None else \
            tuple(int(u) for u in interpret.most_varied_units(model, x, args.layer, n=8))
        interpret.visualize_units(model, x, stage / "units.png", layer=args.layer, units=units, k=args.k,
                                  steps=args.synthesis_steps, seed=args.seed)
        rows = []
        for d in range(args.directions):
            direction = interpret.random_direction(model, args.layer, seed=args.seed + d)
            indices, _ = interpret.top_activating(model, x, args.layer, direction=direction, k=args.k)
            synthetic = interpret.synthesize(model, args.layer, direction=direction, shape=x.shape[1:],
                                             steps=args.synthesis_steps, seed=args.seed)
            rows.append(np.concatenate([x[indices], synthetic]))
        if rows:
            images.save_grid(np.concatenate(rows), stage / "directions.png", nrow=args.k + 1)
        _finish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(f"wrote {out}/units.png" + (" and directions.png" if args.directions else ""))
    return 0
