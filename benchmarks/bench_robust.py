"""Adversarial training on digits: robustness, clean-accuracy cost and compute cost of each method.

Every model is the same :func:`ganapps.nets.small_classifier` (8x8x1 digits in [-1, 1], width 16, hidden 64, no
dropout, seeded by the run's seed), trained with Adam(5e-3) on batches of 64 of the train split for the same
number of epochs (``--epochs``, 15 by default) by one of:

* ``standard``: plain ``keras.Model.fit`` with ``SparseCategoricalCrossentropy(from_logits=True)``;
* ``pgd``: :class:`ganapps.AdversarialTraining` ``method="pgd"``, 7 steps (Madry et al.);
* ``trades``: ``method="trades"``, beta 6, 7 steps (Zhang et al.);
* ``fast``: ``method="fast"``, FGSM from a random start with step 1.25 eps (Wong et al.);
* ``fgsm``: ``method="fgsm"``, half clean, half FGSM loss (Goodfellow et al.);

all adversarial methods at training eps 0.3 (Linf, clip range [-1, 1]), ramped up from 0 over the first 46
optimizer steps (two epochs, ``--eps-warmup``; without it PGD training stalled at chance for one seed in three).
Modes:

* ``methods``: per seed and method, :func:`ganapps.attacks.robust_accuracy` on the test split under FGSM and
  under PGD (20 steps, step 2.5 eps / 20, random start, clip [-1, 1]) at eps 0, 0.05, 0.1, 0.2, 0.3; a table of
  mean ± sd over seeds with the clean-accuracy cost (standard clean minus method clean) in its own column, and
  the PGD curves (mean over seeds) drawn by :func:`ganapps.attacks.plot_robust_accuracy`.
* ``cost``: steady-state seconds per epoch of each method relative to standard training. Each round trains a
  fresh model of every variant for ``--cost-epochs`` epochs, in an order rotated every round; a callback times
  each epoch and the first (tracing) is dropped; a variant's figure for the round is the median of the rest,
  and its ratio is the median over rounds of (variant / standard of the same round).
* ``overfit``: one-step training (``--overfit-method fast`` with a large step, or ``fgsm`` with
  ``--clean-weight 0``) at large eps, many epochs: per-epoch FGSM and PGD
  accuracy on a held-out batch, without and with :class:`ganapps.games.robust.CatastrophicOverfittingCheck`.
* ``features``: Ilyas et al. (2019) on digits with :mod:`ganapps.interpret`: (a) D_R, the train images
  re-synthesised to match a PGD-trained model's representation, against the original images as training data for
  a standard classifier; (b) D_det and D_rand, targeted PGD examples of a standard model relabelled as their
  targets ``(y + 1) % 10`` and random other classes.

    python benchmarks/bench_robust.py methods --seeds 0,1,2
    python benchmarks/bench_robust.py cost --rounds 3
    python benchmarks/bench_robust.py overfit
    python benchmarks/bench_robust.py features --seeds 0
    python benchmarks/bench_robust.py methods --quick                 # smoke run (any mode)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganapps  # noqa: E402
from ganapps import attacks, data, nets  # noqa: E402
from ganapps.games.robust import CatastrophicOverfittingCheck  # noqa: E402

HERE = Path(__file__).resolve().parent
CLIP = (-1.0, 1.0)
METHODS = ("standard", "pgd", "trades", "fast", "fgsm")
EVAL_EPS = (0.0, 0.05, 0.1, 0.2, 0.3)


# --------------------------------------------------------------------------------------------------------------
# shared pieces


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_train, y_train = data._digits_split("train", None, 1)
    x_test, y_test = data._digits_split("test", None, 1)
    return np.array(x_train), np.asarray(y_train, np.int32), np.array(x_test), np.asarray(y_test, np.int32)


def _net(seed: int) -> keras.Model:
    return nets.small_classifier((8, 8, 1), 10, width=16, hidden=64, dropout=0.0, seed=seed)


def _model(method: str, seed: int, args: argparse.Namespace, steps: int | None = None, eps: float | None = None,
           step_size: float | None = None, jit_compile: bool = False, steps_per_execution: int = 1) -> keras.Model:
    """A compiled, untrained model of ``method``: the classifier itself for ``standard``, else the game."""
    keras.utils.set_random_seed(seed)
    net = _net(seed)
    if method == "standard":
        net.compile(keras.optimizers.Adam(args.lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        return net
    kwargs: dict = {"eps": args.eps if eps is None else eps, "seed": seed, "clip_min": CLIP[0], "clip_max": CLIP[1],
                    "eps_warmup": args.eps_warmup}
    if method == "fgsm":
        kwargs["clean_weight"] = getattr(args, "clean_weight", 0.5)
    if method in ("pgd", "trades"):
        kwargs["steps"] = args.steps if steps is None else steps
    if method == "trades":
        kwargs["beta"] = args.beta
    if step_size is not None:
        kwargs["step_size"] = step_size
    game = ganapps.AdversarialTraining(net, method=method, **kwargs)
    game.compile(keras.optimizers.Adam(args.lr), jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return game


def _classifier(model: keras.Model) -> keras.Model:
    return model.classifier if isinstance(model, ganapps.AdversarialTraining) else model


def _train(method: str, seed: int, x: np.ndarray, y: np.ndarray, args: argparse.Namespace, epochs: int,
           callbacks: list | None = None, **kwargs) -> tuple[keras.Model, dict, float]:
    model = _model(method, seed, args, **kwargs)
    t0 = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=epochs, verbose=0, callbacks=callbacks or [])
    return model, history.history, time.perf_counter() - t0


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    logits = np.concatenate([np.asarray(model(x[i:i + 512], training=False)) for i in range(0, len(x), 512)])
    return float((logits.argmax(-1) == y).mean())


def _pgd(model: keras.Model, x: np.ndarray, y: np.ndarray, eps: float, steps: int, seed: int) -> np.ndarray:
    return attacks.pgd(model, x, y, eps, steps=steps, clip_min=CLIP[0], clip_max=CLIP[1], seed=seed,
                       loss_from="logits")


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)
    print(f"\nwrote {path}")


def _envelope(args: argparse.Namespace, load_start: tuple, started: float) -> dict:
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]),
            "settings": {k: v for k, v in vars(args).items() if k != "func"},
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "machine": {"nproc": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
            "wall_seconds": round(time.perf_counter() - started, 1)}


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch, so the tracing of the first can be told from the steady state."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t0)


class AttackMonitor(keras.callbacks.Callback):
    """FGSM and PGD accuracy of the classifier on a fixed held-out batch after every epoch: the two curves whose
    parting (FGSM up, PGD to zero) is catastrophic overfitting."""

    def __init__(self, x: np.ndarray, y: np.ndarray, eps: float, pgd_steps: int) -> None:
        super().__init__()
        self.x, self.y, self.eps, self.pgd_steps = x, y, eps, pgd_steps
        self.rows: list[dict] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        net = _classifier(self.model)
        x_fgsm = attacks.fgsm(net, self.x, self.y, self.eps, clip_min=CLIP[0], clip_max=CLIP[1], loss_from="logits")
        x_pgd = _pgd(net, self.x, self.y, self.eps, self.pgd_steps, seed=7)
        self.rows.append({"epoch": epoch + 1, "clean": _accuracy(net, self.x, self.y),
                          "fgsm": _accuracy(net, x_fgsm, self.y), "pgd": _accuracy(net, x_pgd, self.y),
                          "train_adv_accuracy": float((logs or {}).get("adv_accuracy", float("nan")))})


# --------------------------------------------------------------------------------------------------------------
# methods


def _methods(args: argparse.Namespace) -> dict:
    x_train, y_train, x_test, y_test = _digits()
    runs: dict[str, list[dict]] = {m: [] for m in args.methods}
    for seed in args.seeds:
        for method in args.methods:
            model, history, seconds = _train(method, seed, x_train, y_train, args, args.epochs)
            net = _classifier(model)
            fgsm = attacks.robust_accuracy(net, (x_test, y_test), attacks.fgsm, eps=args.eval_eps, name=method,
                                           clip_min=CLIP[0], clip_max=CLIP[1], loss_from="logits")
            pgd = attacks.robust_accuracy(net, (x_test, y_test), attacks.pgd, eps=args.eval_eps, name=method,
                                          steps=args.eval_steps, clip_min=CLIP[0], clip_max=CLIP[1], seed=seed,
                                          loss_from="logits")
            runs[method].append({"seed": seed, "train_seconds": round(seconds, 1), "fgsm": fgsm.as_dict(),
                                 "pgd": pgd.as_dict(), "final_loss": float(history["loss"][-1]),
                                 "first_loss": float(history["loss"][0])})
            print(f"seed {seed} {method:8s} {seconds:6.1f} s  clean {pgd.accuracy[0]:.3f}  FGSM "
                  f"{' '.join(f'{a:.3f}' for a in fgsm.accuracy[1:])}  PGD "
                  f"{' '.join(f'{a:.3f}' for a in pgd.accuracy[1:])}", flush=True)
    return {"runs": runs, **_summarize(runs, args, len(x_test))}


def _summarize(runs: dict[str, list[dict]], args: argparse.Namespace, n_test: int) -> dict:
    """Mean-and-sd table over seeds, and the PGD plot. A run whose clean test accuracy is at chance failed to
    train; it stays in the all-seeds row, and the method gets a second row (and its curve) without it."""
    standard_clean = {r["seed"]: r["pgd"]["accuracy"][0] for r in runs.get("standard", [])}
    summary, failed = {}, {}
    for method, rows in runs.items():
        trained = [r for r in rows if r["pgd"]["accuracy"][0] > args.failed_below]
        failed[method] = [r["seed"] for r in rows if r not in trained]
        groups = {method: rows}
        if failed[method] and trained:
            groups[f"{method} (seeds {','.join(str(r['seed']) for r in trained)}; not failed)"] = trained
        for label, group in groups.items():
            summary[label] = {a: [[r[a]["accuracy"][i] for r in group] for i in range(len(args.eval_eps))]
                              for a in ("fgsm", "pgd")}
            if standard_clean:
                summary[label]["clean_cost"] = [standard_clean[r["seed"]] - r["pgd"]["accuracy"][0] for r in group]
    curves = []
    for method, rows in runs.items():
        label = next((k for k in summary if k.startswith(f"{method} (")), method)
        n = len(summary[label]["pgd"][0])
        curves.append(attacks.RobustAccuracy(eps=list(args.eval_eps), n=n_test, attack=f"pgd{args.eval_steps}",
                                             accuracy=[statistics.fmean(v) for v in summary[label]["pgd"]],
                                             name=method if n == len(args.seeds) else f"{method}, {n} seeds"))
    title = f"digits, PGD-{args.eval_steps}, mean of {len(args.seeds)} seeds, trained at eps {args.eps:g}"
    attacks.plot_robust_accuracy(curves, args.plot, title=title)
    print(f"wrote {args.plot}")
    return {"summary": summary, "failed_seeds": failed, "n_test": n_test, "table": _methods_table(summary, args)}


def _methods_table(summary: dict, args: argparse.Namespace) -> str:
    budgets = [e for e in args.eval_eps if e > 0]
    head = ("| method | clean | clean cost vs standard | "
            + " | ".join(f"FGSM {e:g}" for e in budgets) + " | " + " | ".join(f"PGD {e:g}" for e in budgets) + " |")
    lines = [head, "|---|" + "---:|" * (2 + 2 * len(budgets))]
    for method, s in summary.items():
        index = [args.eval_eps.index(e) for e in budgets]
        cost = _ms(s["clean_cost"]) if "clean_cost" in s else "-"
        lines.append(f"| {method} | {_ms(s['pgd'][0])} | {cost} | "
                     + " | ".join(_ms(s["fgsm"][i]) for i in index) + " | "
                     + " | ".join(_ms(s["pgd"][i]) for i in index) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# cost


def _cost_variants(args: argparse.Namespace) -> dict[str, dict]:
    variants = {"standard": {"method": "standard"}}
    for k in args.pgd_steps:
        variants[f"pgd{k}"] = {"method": "pgd", "steps": k}
    variants[f"trades{args.steps}"] = {"method": "trades", "steps": args.steps}
    variants["fast"] = {"method": "fast"}
    variants["fgsm"] = {"method": "fgsm"}
    if args.xla:
        variants["standard_xla"] = {"method": "standard", "jit_compile": True}
        variants[f"pgd{args.steps}_xla"] = {"method": "pgd", "steps": args.steps, "jit_compile": True}
        variants["fast_xla"] = {"method": "fast", "jit_compile": True}
    return variants


def _cost(args: argparse.Namespace) -> dict:
    x_train, y_train, _, _ = _digits()
    variants = _cost_variants(args)
    names = list(variants)
    per_round: dict[str, list[float]] = {n: [] for n in names}
    first_epoch: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            timer = EpochTimer()
            _train(variants[name]["method"], args.seeds[0], x_train, y_train, args, args.cost_epochs,
                   callbacks=[timer], steps_per_execution=args.steps_per_execution,
                   **{k: v for k, v in variants[name].items() if k != "method"})
            per_round[name].append(statistics.median(timer.seconds[1:]))
            first_epoch[name].append(timer.seconds[0])
        print(f"round {r + 1}: " + ", ".join(f"{n} {per_round[n][-1]:.3f}" for n in names), flush=True)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    rows = {}
    for name in names:
        baseline = "standard_xla" if name.endswith("_xla") else "standard"
        ratios = [v / s for v, s in zip(per_round[name], per_round[baseline])]
        rows[name] = {"seconds_per_epoch": per_round[name], "median_seconds_per_epoch": statistics.median(
            per_round[name]), "ms_per_step": 1000 * statistics.median(per_round[name]) / steps_per_epoch,
            "first_epoch_seconds": first_epoch[name], "baseline": baseline, "ratios": ratios,
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
        if "standard" in per_round and name.endswith("_xla") and name != "standard_xla":
            rows[name]["ratio_to_standard_no_xla"] = statistics.median(
                v / s for v, s in zip(per_round[name], per_round["standard"]))
    lines = ["| variant | median s/epoch | ms/step | first epoch s (median) | ratio vs baseline, median (range) "
             "| baseline | expected |", "|---|---:|---:|---:|---:|---|---|"]
    for name, row in rows.items():
        method = variants[name]["method"]
        k = variants[name].get("steps", 1)
        expected = {"pgd": f"~{k + 1}x", "trades": f"~{k + 1}x", "fast": "<= 2.5x", "fgsm": "~2x"}.get(method, "1x")
        lines.append(f"| {name} | {row['median_seconds_per_epoch']:.3f} | {row['ms_per_step']:.1f} | "
                     f"{statistics.median(row['first_epoch_seconds']):.2f} | {row['ratio_median']:.2f}x "
                     f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) | {row['baseline']} | {expected} |")
    return {"variants": variants, "steps_per_epoch": steps_per_epoch, "rows": rows, "table": "\n".join(lines)}


# --------------------------------------------------------------------------------------------------------------
# catastrophic overfitting


def _overfit(args: argparse.Namespace) -> dict:
    x_train, y_train, x_test, y_test = _digits()
    half = len(x_test) // 2
    x_check, y_check = x_test[:half], y_test[:half]  # the callback's batch
    x_watch, y_watch = x_test[half:], y_test[half:]  # the per-epoch curves, never seen by the callback
    configs = []
    for item in args.overfit_configs:
        eps, factor = (float(v) for v in item.split(":"))
        configs.append({"eps": eps, "step_size": factor * eps, "step_factor": factor})
    runs = []
    lines = []
    for config in configs:
        for with_check in (False, True):
            monitor = AttackMonitor(x_watch, y_watch, config["eps"], args.eval_steps)
            callbacks: list = [monitor]
            check = None
            if with_check:
                check = CatastrophicOverfittingCheck(x_check, y_check, steps=10, drop=args.drop, stop=False,
                                                     verbose=1)
                callbacks.insert(0, check)
            _, history, seconds = _train(args.overfit_method, args.seeds[0], x_train, y_train, args,
                                         args.overfit_epochs,
                                         callbacks=callbacks, eps=config["eps"], step_size=config["step_size"])
            run = {**config, "with_check": with_check, "seconds": round(seconds, 1), "epochs": monitor.rows,
                   "train_adv_accuracy": [float(v) for v in history.get("adv_accuracy", [])]}
            if check is not None:
                run["check_history"] = check.history
                run["check_triggered_epoch"] = None if check.triggered is None else check.triggered + 1
            pgd_curve = [row["pgd"] for row in monitor.rows]
            best = int(np.argmax(pgd_curve))
            run["best_pgd"] = {"epoch": best + 1, "pgd": pgd_curve[best]}
            run["final"] = monitor.rows[-1]
            run["collapsed"] = bool(pgd_curve[best] - min(pgd_curve[best:]) > 0.2)
            runs.append(run)
            label = (f"eps {config['eps']:g} step {config['step_size']:g} "
                     + ("with check" if with_check else "no check"))
            print(f"{label}: {seconds:.1f} s; per epoch FGSM/PGD "
                  + " ".join(f"{row['fgsm']:.2f}/{row['pgd']:.2f}" for row in monitor.rows), flush=True)
            lines.append(f"| {config['eps']:g} | {config['step_size']:g} | {'yes' if with_check else 'no'} | "
                         f"{run['best_pgd']['pgd']:.3f} (epoch {run['best_pgd']['epoch']}) | "
                         f"{run['final']['clean']:.3f} | {run['final']['fgsm']:.3f} | {run['final']['pgd']:.3f} | "
                         f"{'yes' if run['collapsed'] else 'no'} | {run.get('check_triggered_epoch') or '-'} |")
    table = ("| eps | step | check | best PGD (epoch) | final clean | final FGSM | final PGD | PGD fell > 0.2 "
             "from its best | check restored at epoch |\n|---:|---:|---|---:|---:|---:|---:|---|---:|\n"
             + "\n".join(lines))
    return {"n_check": int(half), "n_watch": int(len(x_watch)), "method": args.overfit_method,
            "clean_weight": args.clean_weight, "runs": runs, "table": table}


# --------------------------------------------------------------------------------------------------------------
# robust and non-robust features


def _features(args: argparse.Namespace) -> dict:
    from ganapps import interpret

    x_train, y_train, x_test, y_test = _digits()
    eval_eps = [0.0, 0.1, 0.2, 0.3]
    runs = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        robust, _, _ = _train("pgd", seed, x_train, y_train, args, args.epochs)
        standard, _, _ = _train("standard", seed, x_train, y_train, args, args.epochs)
        x_r = interpret.robust_dataset(robust.classifier, x_train, steps=args.dr_steps, seed=seed)
        t_dr = time.perf_counter() - t0
        x_det, t_det = interpret.non_robust_dataset(standard, x_train, y_train, args.det_eps, steps=args.det_steps,
                                                    seed=seed, target="shift")
        x_rand, t_rand = interpret.non_robust_dataset(standard, x_train, y_train, args.det_eps, steps=args.det_steps,
                                                      seed=seed, target="random")
        target_hit = _accuracy(standard, x_det, t_det)
        run: dict = {"seed": seed, "dr_seconds": round(t_dr, 1), "det_eps": args.det_eps,
                     "det_target_success": target_hit, "rand_target_success": _accuracy(standard, x_rand, t_rand),
                     "robust_model_clean_test": _accuracy(robust.classifier, x_test, y_test),
                     "det_share_still_true_label": _accuracy(standard, x_det, y_train),
                     "dr_mean_abs_change": float(np.abs(x_r - x_train).mean())}
        for name, (xs, ys) in {"original": (x_train, y_train), "D_R": (x_r, y_train),
                               "D_det": (x_det, t_det), "D_rand": (x_rand, t_rand)}.items():
            model, history, _ = _train("standard", seed, xs, ys, args, args.epochs)
            pgd = attacks.robust_accuracy(model, (x_test, y_test), attacks.pgd, eps=eval_eps, name=name,
                                          steps=args.eval_steps, clip_min=CLIP[0], clip_max=CLIP[1], seed=seed,
                                          loss_from="logits")
            run[name] = {"pgd": pgd.as_dict(), "train_accuracy_on_own_labels": _accuracy(model, xs, ys)}
            print(f"seed {seed} trained on {name:8s}: clean test {pgd.accuracy[0]:.3f}  PGD "
                  + " ".join(f"{e:g}:{a:.3f}" for e, a in zip(eval_eps[1:], pgd.accuracy[1:])), flush=True)
        print(f"seed {seed}: D_det targeted success {target_hit:.3f} at eps {args.det_eps:g}", flush=True)
        runs.append(run)
    lines = ["| training data | clean test accuracy | PGD 0.1 | PGD 0.2 | PGD 0.3 |", "|---|---:|---:|---:|---:|"]
    for name in ("original", "D_R", "D_det", "D_rand"):
        columns = [[r[name]["pgd"]["accuracy"][i] for r in runs] for i in range(len(eval_eps))]
        lines.append(f"| {name} | " + " | ".join(_ms(c) for c in columns) + " |")
    return {"runs": runs, "eval_eps": eval_eps, "table": "\n".join(lines)}


# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("methods", "cost", "overfit", "features"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=",".join(METHODS), help="methods mode: which to train")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs of every method (methods, features)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--eps", type=float, default=0.3, help="training eps")
    parser.add_argument("--eps-warmup", type=int, default=46,
                        help="optimizer steps over which the training eps ramps up from 0 (46 = 2 epochs; 0: none)")
    parser.add_argument("--overfit-method", choices=("fast", "fgsm"), default="fast", help="overfit: the method")
    parser.add_argument("--clean-weight", type=float, default=0.5, help="fgsm's clean-loss weight")
    parser.add_argument("--steps", type=int, default=7, help="PGD and TRADES training steps")
    parser.add_argument("--beta", type=float, default=6.0)
    parser.add_argument("--eval-eps", default=",".join(map(str, EVAL_EPS)))
    parser.add_argument("--failed-below", type=float, default=0.2,
                        help="methods: a clean test accuracy at or below this means the run failed to train")
    parser.add_argument("--replot", default=None, help="methods: redo the table and plot from this JSON's runs")
    parser.add_argument("--eval-steps", type=int, default=20, help="PGD steps of the evaluation attack")
    parser.add_argument("--plot", default=str(HERE / "robust_accuracy_digits.png"))
    parser.add_argument("--rounds", type=int, default=3, help="cost: alternating rounds")
    parser.add_argument("--cost-epochs", type=int, default=5, help="cost: epochs per timed fit (first dropped)")
    parser.add_argument("--pgd-steps", default="1,3,7,10", help="cost: PGD step counts")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="cost: batches per compiled call (large values take fit's per-step overhead out)")
    parser.add_argument("--xla", action="store_true", help="cost: also standard, pgd and fast with XLA")
    parser.add_argument("--overfit-configs", default="0.3:2,0.5:2",
                        help="overfit: eps:step-factor pairs (fast's step = factor * eps)")
    parser.add_argument("--overfit-epochs", type=int, default=30)
    parser.add_argument("--drop", type=float, default=0.2, help="overfit: the check's PGD-accuracy drop")
    parser.add_argument("--dr-steps", type=int, default=200, help="features: robust_dataset steps")
    parser.add_argument("--det-eps", type=float, default=0.5, help="features: D_det's targeted-attack eps")
    parser.add_argument("--det-steps", type=int, default=20)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/robust_<mode>.json)")
    parser.add_argument("--quick", action="store_true", help="smoke run: one seed, few epochs, small settings")
    args = parser.parse_args(argv)
    args.seeds = [int(v) for v in args.seeds.split(",")]
    args.methods = args.methods.split(",")
    args.eval_eps = [float(v) for v in args.eval_eps.split(",")]
    args.pgd_steps = [int(v) for v in args.pgd_steps.split(",")]
    args.overfit_configs = args.overfit_configs.split(",")
    default_out = {"methods": "robust_methods.json", "cost": "robust_cost.json", "overfit": "robust_overfit.json",
                   "features": "robust_features.json"}[args.mode]
    if args.quick:
        args.seeds, args.epochs, args.rounds, args.cost_epochs = args.seeds[:1], 2, 1, 3
        args.pgd_steps, args.overfit_epochs, args.overfit_configs = [1, 3], 3, args.overfit_configs[:1]
        args.dr_steps, args.eval_steps = 20, 5
        args.plot = "/tmp/bench_robust_quick.png"
        default_out = "/tmp/bench_robust_quick.json"
    out = Path(args.out) if args.out else (Path(default_out) if args.quick else HERE / default_out)
    if args.mode == "features" and not (HERE.parent / "ganapps" / "interpret.py").exists():
        print("ganapps/interpret.py is absent: the features mode needs it", file=sys.stderr)
        return 2
    if args.mode == "methods" and args.replot:
        old = json.loads(Path(args.replot).read_text())
        for key in ("seeds", "eval_eps", "eps", "eval_steps"):
            setattr(args, key, old["settings"][key])
        old.update(_summarize(old["runs"], args, old["n_test"]))
        old["settings"]["failed_below"] = args.failed_below
        old["replot_command"] = " ".join([Path(sys.executable).name, *sys.argv])
        print(old["table"])
        _write(Path(args.replot), old)
        return 0
    load_start, started = os.getloadavg(), time.perf_counter()
    print(f"mode {args.mode}; load average {load_start}; nproc {os.cpu_count()}", flush=True)
    result = {"_methods": _methods, "_cost": _cost, "_overfit": _overfit, "_features": _features}[
        f"_{args.mode}"](args)
    result = {**_envelope(args, load_start, started), **result}
    print()
    print(result["table"])
    print(f"\nload average start {load_start}, end {result['machine']['loadavg_end']}; "
          f"{result['wall_seconds']:.0f} s")
    _write(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
