"""Attack strength and speed of ``ganapps.attacks`` against the Adversarial Robustness Toolbox (ART).

Issue 5 asks that on the same model and eps our PGD leave accuracy no higher than ART's + 0.01 and run at least
as fast. Both sides attack the same trained :func:`ganapps.nets.small_classifier` (digits 8x8, inputs in
[-1, 1], logits, seeded training on the train split) on the test split, with the same settings: Linf, ``eps`` in
input units, the same ``step_size`` (``2.5 * eps / steps`` by default, ``eps / 4`` with ``--step-rule quarter``),
one uniform random start in the eps-cube, the clip range (-1, 1), the true labels, the same batch size. FGSM is one
step of ``eps`` with no random start on both sides.

ART runs on the Keras 3 model as it is: ``art.estimators.classification.TensorFlowV2Classifier(model=model, ...,
loss_object=keras.losses.CategoricalCrossentropy(from_logits=True), clip_values=(-1, 1))``; ART's
``ProjectedGradientDescent`` then dispatches to its TensorFlow-v2 implementation (an eager ``GradientTape`` per
step) and ``FastGradientMethod`` to its numpy one. ART is a benchmark-only dependency; install it outside the
project's environment and put it on ``PYTHONPATH``::

    .venv/bin/python -m pip install --target /tmp/artlib --no-deps adversarial-robustness-toolbox
    PYTHONPATH=/tmp/artlib .venv/bin/python benchmarks/bench_attacks_art.py --out /tmp/attacks_art.json

(ART's own dependencies numpy, scipy, scikit-learn and tqdm are already in the project's environment.)

Measurement: every variant runs once untimed (tracing, caches), then once per attack seed (``--attack-seeds``,
three by default) in turn, the order rotated each round; the times are medians over those rounds and the ratio is
the median of the per-round ratios ours / ART. Each round uses a different random start (ours: ``seed=``, ART:
``np.random.seed`` before ``generate``, which its ``random_sphere`` draws from), so the rounds also give the spread
of the accuracy over random starts. ``ours_logits`` is our call with ``loss_from="logits"``: the same attack
without the one eager forward pass that detects softmax outputs, to see what that pass costs. A consistency
check runs both PGDs without a random start, where the two should produce (nearly) the same examples.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganapps import attacks, data, nets  # noqa: E402

CLIP = (-1.0, 1.0)
NUM_CLASSES = 10


def _train(seed: int, epochs: int) -> tuple[keras.Model, np.ndarray, np.ndarray, float, float]:
    """The seeded classifier both sides attack, the test split, its clean accuracy and the training seconds."""
    x_train, y_train = data._digits_split("train", None, 1)
    x_test, y_test = data._digits_split("test", None, 1)
    keras.utils.set_random_seed(seed)
    model = nets.small_classifier(x_train.shape[1:], NUM_CLASSES, seed=seed)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    seconds = time.perf_counter() - t0
    x_test, y_test = np.array(x_test), np.asarray(y_test, np.int32)
    return model, x_test, y_test, _accuracy(model, x_test, y_test), seconds


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    logits = np.concatenate([np.asarray(model(x[i:i + 512], training=False)) for i in range(0, len(x), 512)])
    return float((logits.argmax(-1) == y).mean())


def _art_classifier(model: keras.Model, sample_shape: tuple[int, ...]):
    from art.estimators.classification import TensorFlowV2Classifier

    return TensorFlowV2Classifier(model=model, nb_classes=NUM_CLASSES, input_shape=tuple(sample_shape),
                                  loss_object=keras.losses.CategoricalCrossentropy(from_logits=True),
                                  clip_values=CLIP)


def _variants(model: keras.Model, classifier, x: np.ndarray, y: np.ndarray, eps: float, steps: int | None,
              step_rule: str, batch_size: int, jit_compile: bool) -> tuple[dict[str, Callable[[int], np.ndarray]],
                                                                          float | None]:
    """The three callables of one (eps, attack) cell, each of the attack seed; ``steps=None`` is FGSM."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    y_onehot = np.eye(NUM_CLASSES, dtype=np.float32)[y]
    if steps is None:
        art_attack = FastGradientMethod(classifier, norm=np.inf, eps=eps, eps_step=eps, targeted=False,
                                        num_random_init=0, batch_size=batch_size)

        def ours(seed: int, loss_from: str = "auto") -> np.ndarray:
            return attacks.fgsm(model, x, y, eps, clip_min=CLIP[0], clip_max=CLIP[1], loss_from=loss_from,
                                batch_size=batch_size, jit_compile=jit_compile)

        step_size = None
    else:
        step_size = eps / 4.0 if step_rule == "quarter" else 2.5 * eps / steps
        art_attack = ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=step_size, max_iter=steps,
                                              targeted=False, num_random_init=1, batch_size=batch_size,
                                              verbose=False)

        def ours(seed: int, loss_from: str = "auto") -> np.ndarray:
            return attacks.pgd(model, x, y, eps, step_size=step_size, steps=steps, norm="linf", random_start=True,
                               clip_min=CLIP[0], clip_max=CLIP[1], seed=seed, loss_from=loss_from,
                               batch_size=batch_size, jit_compile=jit_compile)

    def art(seed: int) -> np.ndarray:
        np.random.seed(seed)
        return art_attack.generate(x.copy(), y_onehot)

    return {"ours": ours, "ours_logits": lambda seed: ours(seed, "logits"), "art": art}, step_size


def _timed(fn: Callable[[int], np.ndarray], seed: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = fn(seed)
    return out, time.perf_counter() - t0


def _bounds(x: np.ndarray, x_adv: np.ndarray) -> dict[str, float]:
    return {"max_abs_delta": float(np.abs(x_adv - x).max()), "min": float(x_adv.min()), "max": float(x_adv.max())}


def _cell(model: keras.Model, classifier, x: np.ndarray, y: np.ndarray, eps: float, steps: int | None,
          args: argparse.Namespace) -> dict:
    variants, step_size = _variants(model, classifier, x, y, eps, steps, args.step_rule, args.batch_size,
                                    args.jit_compile)
    names = list(variants)
    warmup = {}
    for name in names:  # untimed first call: tracing, ART's first eager calls
        _, warmup[name] = _timed(variants[name], args.attack_seeds[0])
    times: dict[str, list[float]] = {name: [] for name in names}
    accuracy: dict[str, list[float]] = {name: [] for name in names}
    bounds: dict[str, dict] = {}
    for round_index, seed in enumerate(args.attack_seeds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            x_adv, seconds = _timed(variants[name], seed)
            times[name].append(seconds)
            accuracy[name].append(_accuracy(model, x_adv, y))
            if round_index == 0:
                bounds[name] = _bounds(x, x_adv)
    ratios = [o / a for o, a in zip(times["ours"], times["art"])]
    mean = {name: statistics.fmean(values) for name, values in accuracy.items()}
    cell = {
        "eps": eps, "attack": "fgsm" if steps is None else f"pgd{steps}", "steps": steps, "step_size": step_size,
        "accuracy": accuracy, "accuracy_mean": mean,
        "accuracy_sd": {name: statistics.stdev(v) if len(v) > 1 else 0.0 for name, v in accuracy.items()},
        "seconds": times, "seconds_median": {name: statistics.median(v) for name, v in times.items()},
        "warmup_seconds": warmup, "ratio_ours_over_art": ratios,
        "ratio_median": statistics.median(ratios),
        "ratio_logits_over_art": statistics.median(o / a for o, a in zip(times["ours_logits"], times["art"])),
        "bounds": bounds,
        "accuracy_ok": mean["ours"] <= mean["art"] + 0.01,
        "accuracy_ok_first_seed": accuracy["ours"][0] <= accuracy["art"][0] + 0.01,
        "speed_ok": statistics.median(ratios) <= 1.0,
    }
    return cell


def _consistency(model: keras.Model, classifier, x: np.ndarray, y: np.ndarray, eps: float, steps: int,
                 step_rule: str, batch_size: int) -> dict:
    """Both PGDs from the clean input (no random start): the same algorithm should give the same examples, up to
    the sign of gradients that are zero or at the rounding level."""
    from art.attacks.evasion import ProjectedGradientDescent

    step_size = eps / 4.0 if step_rule == "quarter" else 2.5 * eps / steps
    ours = attacks.pgd(model, x, y, eps, step_size=step_size, steps=steps, random_start=False, clip_min=CLIP[0],
                       clip_max=CLIP[1], loss_from="logits", batch_size=batch_size)
    art = ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=step_size, max_iter=steps,
                                   num_random_init=0, batch_size=batch_size, verbose=False)
    theirs = art.generate(x.copy(), np.eye(NUM_CLASSES, dtype=np.float32)[y])
    diff = np.abs(ours - theirs)
    return {"eps": eps, "steps": steps, "max_abs_diff": float(diff.max()),
            "share_pixels_differing": float((diff > 1e-5).mean()),
            "accuracy_ours": _accuracy(model, ours, y), "accuracy_art": _accuracy(model, theirs, y)}


def _table(result: dict) -> str:
    lines = ["| eps | attack | step | acc ours (seed %d) | acc ART | ours mean ± sd | ART mean ± sd | Δ mean |"
             " ours s | ours (logits) s | ART s | ours/ART | meets |" % result["settings"]["attack_seeds"][0],
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in result["cells"]:
        acc, mean, sd, sec = c["accuracy"], c["accuracy_mean"], c["accuracy_sd"], c["seconds_median"]
        step = "eps" if c["step_size"] is None else f"{c['step_size']:.4g}"
        meets = ("yes" if c["accuracy_ok"] else "ACC no") + (", fast" if c["speed_ok"] else ", SLOWER")
        lines.append(
            f"| {c['eps']} | {c['attack']} | {step} | {acc['ours'][0]:.3f} | {acc['art'][0]:.3f} | "
            f"{mean['ours']:.3f} ± {sd['ours']:.3f} | {mean['art']:.3f} ± {sd['art']:.3f} | "
            f"{mean['ours'] - mean['art']:+.3f} | {sec['ours']:.3f} | {sec['ours_logits']:.3f} | {sec['art']:.3f} | "
            f"{c['ratio_median']:.2f} | {meets} |")
    lines += ["", "| eps | PGD steps, no random start | max abs diff ours vs ART | pixels differing | acc ours "
              "| acc ART |", "|---|---|---|---|---|---|"]
    for c in result["consistency"]:
        lines.append(f"| {c['eps']} | {c['steps']} | {c['max_abs_diff']:.2e} | {c['share_pixels_differing']:.4f} | "
                     f"{c['accuracy_ours']:.3f} | {c['accuracy_art']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="training seed of the classifier")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eps", default="0.1,0.2,0.3")
    parser.add_argument("--steps", default="10,40", help="PGD step counts (FGSM is always run)")
    parser.add_argument("--step-rule", default="madry", choices=("madry", "quarter"),
                        help="madry: step 2.5 * eps / steps (our default); quarter: eps / 4")
    parser.add_argument("--attack-seeds", default="0,1,2", help="random starts; one timed round each")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--jit-compile", action="store_true", help="compile our attacks with XLA")
    parser.add_argument("--out", default=None, help="write the numbers here (JSON)")
    parser.add_argument("--quick", action="store_true", help="smoke run: eps 0.2, PGD-10, two rounds")
    args = parser.parse_args(argv)
    args.eps = [float(v) for v in args.eps.split(",")]
    args.steps = [int(v) for v in args.steps.split(",")]
    args.attack_seeds = [int(v) for v in args.attack_seeds.split(",")]
    if args.quick:
        args.eps, args.steps, args.attack_seeds, args.epochs = [0.2], [10], [0, 1], 3
    try:
        import art
    except ImportError:
        print("ART is not importable: install it with `.venv/bin/python -m pip install --target /tmp/artlib "
              "--no-deps adversarial-robustness-toolbox` and run with PYTHONPATH=/tmp/artlib", file=sys.stderr)
        return 2

    load_start = os.getloadavg()
    model, x, y, clean, train_seconds = _train(args.seed, args.epochs)
    classifier = _art_classifier(model, x.shape[1:])
    print(f"clean test accuracy {clean:.3f} on {len(x)} test digits (trained {train_seconds:.1f} s); "
          f"ART {art.__version__}, TF {tf.__version__}, Keras {keras.__version__}", flush=True)
    cells = []
    for eps in args.eps:
        for steps in [None, *args.steps]:
            cell = _cell(model, classifier, x, y, eps, steps, args)
            cells.append(cell)
            print(f"eps {eps} {cell['attack']}: acc ours {cell['accuracy_mean']['ours']:.3f} "
                  f"ART {cell['accuracy_mean']['art']:.3f}; s ours {cell['seconds_median']['ours']:.3f} "
                  f"ART {cell['seconds_median']['art']:.3f}", flush=True)
    consistency = [_consistency(model, classifier, x, y, eps, args.steps[0], args.step_rule, args.batch_size)
                   for eps in args.eps]
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {key: value for key, value in vars(args).items()},
        "versions": {"art": art.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "machine": {"nproc": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "clean_accuracy": clean, "n_test": int(len(x)), "train_seconds": train_seconds,
        "cells": cells, "consistency": consistency,
        "all_accuracy_ok": all(c["accuracy_ok"] for c in cells if c["steps"] is not None),
        "all_speed_ok": all(c["speed_ok"] for c in cells if c["steps"] is not None),
    }
    print()
    print(_table(result))
    print(f"\nload average start {load_start}, end {result['machine']['loadavg_end']}; nproc {os.cpu_count()}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
