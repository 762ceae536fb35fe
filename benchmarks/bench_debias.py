"""Debiasing with a known bias: biased digits, four ways to train the same classifier, worst-group accuracy.

The data is :func:`ganapps.data.biased_digits`: an attribute that is not the label (``--attribute``, e.g. thick
strokes) is carried by ``--rare-share`` (5 %) of the training digits and half of the test digits. The same
downstream classifier (:func:`ganapps.nets.small_classifier`, the same seed, the same number of batches) is
trained four ways by :func:`apps.debias.train_classifier`:

* (a) ``plain``: batches drawn uniformly;
* (b) ``latent``: batches drawn by latent-density weights from a VAE-GAN of the training images
  (:class:`apps.debias.DatasetDebiaser`); it never sees the attribute;
* (c) ``rebalance``: the training set topped up with a (group, class)-conditional GAN's samples of the rare
  group until each class is balanced (:mod:`ganapps.rebalance`); it sees the attribute;
* (d) ``oracle``: batches drawn with each group equally likely (inverse group frequency); it sees the attribute.

For each seed (which also picks the rare training digits) the generative models are refitted. Reported per
method: overall accuracy, per-group test accuracy, worst-group accuracy (mean and standard deviation over seeds);
for (b) the share of the rare group among the top 5 % weights, against its 5 % share of the data; and the share
of the (a)->(d) worst-group gap that (b) and (c) close.

    python benchmarks/bench_debias.py --attribute rotated --seeds 0,1,2
    python benchmarks/bench_debias.py --quick                       # smoke run
    python benchmarks/bench_debias.py --summarize a.json b.json     # the seeds of several runs together
    python benchmarks/bench_debias.py --sweep --seeds 9 --latent-dims 4,8 --alphas 0.01,0.1,1 --bins-list 5,10

``--sweep`` chooses the latent-resampling settings on a development seed (not one of the reported seeds): one
VAE-GAN per latent size, then the latent-resampled classifier for every (alpha, bins), with the plain classifier
as the reference; it reports worst-group accuracy, the weights' effective sample size and the rare group's share of
the top 5 %.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from apps.debias.app import METHODS, DatasetDebiaser, predict_labels, train_classifier  # noqa: E402
from apps.debias.report import rarity_figure, top_weighted_shares  # noqa: E402
from ganapps import data, fairness, rebalance  # noqa: E402


def _run_seed(args: argparse.Namespace, seed: int) -> dict:
    x_tr, y_tr, g_tr = data.biased_digits("train", attribute=args.attribute, rare_share=args.rare_share,
                                          image_size=args.image_size, seed=seed)
    x_te, y_te, g_te = data.biased_digits("test", attribute=args.attribute, image_size=args.image_size, seed=seed)
    out: dict = {"seed": seed, "train_counts": {str(g): int((g_tr == g).sum()) for g in (0, 1)}, "methods": {}}
    debiaser = rebalancer = None
    t0 = time.perf_counter()
    if "latent" in args.methods:
        debiaser = DatasetDebiaser(latent_dim=args.latent_dim, alpha=args.alpha, bins=args.bins, steps=args.vae_steps,
                                   seed=seed, architecture=args.architecture).fit(x_tr)
        weights = debiaser.sample_weights(x_tr, strata=y_tr if args.per_class else None)
        out["vae_seconds"] = round(time.perf_counter() - t0, 1)
        out["top5"] = top_weighted_shares(weights, g_tr, 0.05)["1"]
        out["top5"]["rare_mean_weight_ratio"] = float(weights[g_tr == 1].mean() / weights[g_tr == 0].mean())
        if args.figure and seed == args.seeds[0]:
            rarity_figure(x_tr, np.log(weights), args.figure, n=12, groups=g_tr,
                          title=f"biased digits ({args.attribute}): most common (top) and rarest (bottom) by "
                                "latent density; captions: 1 = carries the attribute")
    t0 = time.perf_counter()
    if "rebalance" in args.methods:
        rebalancer = rebalance.fit_rebalancer(x_tr, g_tr, y_tr, steps=args.cgan_steps, seed=seed,
                                              width=args.cgan_width)
        out["cgan_seconds"] = round(time.perf_counter() - t0, 1)
    for method in args.methods:
        t0 = time.perf_counter()
        model = train_classifier(x_tr, y_tr, method=method, groups=g_tr, debiaser=debiaser, rebalancer=rebalancer,
                                 epochs=args.epochs, batch_size=args.batch_size, per_class=args.per_class, seed=seed)
        report = fairness.group_report(y_te, predict_labels(model, x_te), g_te)
        out["methods"][method] = {"accuracy": report["accuracy"],
                                  "group_accuracy": {g: r["accuracy"] for g, r in report["groups"].items()},
                                  "worst_group_accuracy": report["worst_group_accuracy"],
                                  "equalized_odds_difference": report["equalized_odds_difference"],
                                  "seconds": round(time.perf_counter() - t0, 1)}
        print(f"seed {seed} {method:9s} acc {report['accuracy']:.3f} groups "
              f"{[round(r['accuracy'], 3) for r in report['groups'].values()]} "
              f"worst {report['worst_group_accuracy']:.3f}", flush=True)
    return out


def _sweep(args: argparse.Namespace) -> None:
    from ganapps import debias

    seed = args.seeds[0]
    x_tr, y_tr, g_tr = data.biased_digits("train", attribute=args.attribute, rare_share=args.rare_share,
                                          image_size=args.image_size, seed=seed)
    x_te, y_te, g_te = data.biased_digits("test", attribute=args.attribute, image_size=args.image_size, seed=seed)

    def score(model) -> dict:
        return fairness.group_report(y_te, predict_labels(model, x_te), g_te)

    plain = score(train_classifier(x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, seed=seed))
    print(f"seed {seed}: plain worst group {plain['worst_group_accuracy']:.3f}, accuracy {plain['accuracy']:.3f}")
    print()
    print(f"per-class latent rarity: {args.per_class}")
    print("| latent | alpha | bins | ESS / n | rare share of top 5% | group 0 | group 1 | worst group |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for latent_dim in args.latent_dims:
        deb = DatasetDebiaser(latent_dim=latent_dim, steps=args.vae_steps, seed=seed,
                              architecture=args.architecture).fit(x_tr)
        for alpha in args.alphas:
            for bins in args.bins_list:
                deb._settings.update(alpha=alpha, bins=bins)
                weights = deb.sample_weights(x_tr, strata=y_tr if args.per_class else None)
                ess = debias.effective_sample_size(weights) / len(weights)
                top = top_weighted_shares(weights, g_tr, 0.05)["1"]["share_of_top"]
                report = score(train_classifier(x_tr, y_tr, method="latent", debiaser=deb, epochs=args.epochs,
                                                batch_size=args.batch_size, per_class=args.per_class, seed=seed))
                acc = [r["accuracy"] for r in report["groups"].values()]
                print(f"| {latent_dim} | {alpha:g} | {bins} | {ess:.3f} | {top:.3f} | {acc[0]:.3f} | {acc[1]:.3f} | "
                      f"{report['worst_group_accuracy']:.3f} |", flush=True)


def _summary(runs: list[dict], methods: list[str]) -> list[str]:
    def stat(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    lines = ["| method | accuracy | group 0 (common) | group 1 (rare attribute) | worst group | EO difference |",
             "|---|---:|---:|---:|---:|---:|"]
    for m in methods:
        rows = [r["methods"][m] for r in runs]
        lines.append(f"| {m} | {stat([r['accuracy'] for r in rows])} | "
                     f"{stat([r['group_accuracy']['0'] for r in rows])} | "
                     f"{stat([r['group_accuracy']['1'] for r in rows])} | "
                     f"{stat([r['worst_group_accuracy'] for r in rows])} | "
                     f"{stat([r['equalized_odds_difference'] for r in rows])} |")
    if "plain" in methods and "oracle" in methods:
        worst = {m: [r["methods"][m]["worst_group_accuracy"] for r in runs] for m in methods}
        gap = statistics.mean(worst["oracle"]) - statistics.mean(worst["plain"])
        lines.append("")
        lines.append(f"(a)->(d) worst-group gap: {gap:+.3f}")
        for m in ("latent", "rebalance"):
            if m in methods and gap:
                closed = (statistics.mean(worst[m]) - statistics.mean(worst["plain"])) / gap
                per_seed = [(w - p) / (o - p) if o != p else float("nan")
                            for w, p, o in zip(worst[m], worst["plain"], worst["oracle"])]
                lines.append(f"share of the gap closed by {m}: {closed:.2f} (per seed: "
                             f"{', '.join(f'{v:.2f}' for v in per_seed)})")
    if all("top5" in r for r in runs):
        lines.append("")
        lines.append("rare group in the top 5% latent weights: " + ", ".join(
            f"seed {r['seed']}: {r['top5']['share_of_top']:.3f} (data {r['top5']['share_of_data']:.3f}, mean weight "
            f"x{r['top5']['rare_mean_weight_ratio']:.2f})" for r in runs))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attribute", default="thick", choices=data.BIAS_ATTRIBUTES)
    parser.add_argument("--rare-share", type=float, default=0.05)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--architecture", default="auto", choices=("auto", "mlp", "dcgan"))
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--cgan-steps", type=int, default=2000)
    parser.add_argument("--cgan-width", type=int, default=32)
    parser.add_argument("--figure", default=None, help="rarity figure of the first seed (PNG)")
    parser.add_argument("--json", default=None, help="write every run's numbers here")
    parser.add_argument("--quick", action="store_true", help="smoke run: one seed, few steps")
    parser.add_argument("--per-class", action=argparse.BooleanOptionalAction, default=True,
                        help="latent rarity within each class (the labels as strata; default) or over all samples")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="JSON",
                        help="print the summary of earlier runs' --json files together (no training)")
    parser.add_argument("--sweep", action="store_true", help="choose latent settings on the first seed")
    parser.add_argument("--latent-dims", default="4,8")
    parser.add_argument("--alphas", default="0.001,0.01,0.1,1")
    parser.add_argument("--bins-list", default="5,10")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.methods = [m for m in args.methods.split(",") if m]
    args.latent_dims = [int(v) for v in args.latent_dims.split(",")]
    args.alphas = [float(v) for v in args.alphas.split(",")]
    args.bins_list = [int(v) for v in args.bins_list.split(",")]
    if args.sweep:
        _sweep(args)
        return 0
    if args.summarize:
        runs = [run for path in args.summarize for run in json.loads(Path(path).read_text())["runs"]]
        print(f"{len(runs)} seeds: {', '.join(str(r['seed']) for r in runs)}")
        print("\n".join(_summary(runs, args.methods)))
        return 0
    if args.quick:
        args.seeds, args.epochs, args.vae_steps, args.cgan_steps = args.seeds[:1], 2, 50, 50
    start = time.perf_counter()
    runs = [_run_seed(args, seed) for seed in args.seeds]
    print()
    print(f"biased digits, attribute {args.attribute!r}, rare share {args.rare_share}, {len(args.seeds)} seeds, "
          f"{args.epochs} epochs, VAE-GAN {args.vae_steps} steps (latent {args.latent_dim}, alpha {args.alpha}, "
          f"bins {args.bins}, per class {args.per_class}), cGAN {args.cgan_steps} steps; "
          f"{time.perf_counter() - start:.0f} s")
    print()
    print("\n".join(_summary(runs, args.methods)))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items()}, "runs": runs},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
