"""Mode collapse on 2-D Gaussian mixtures: every adversarial loss with the same nets and budget.

The data is the 25-Gaussian grid (or the ring of 8) of ``ganapps.data.gaussian_mixture``. Every configuration
trains the same MLP generator and discriminator (``--hidden`` units, ReLU / LeakyReLU) from the same initial
weights per seed, for the same number of generator updates and batch size, with Adam. It then draws 2,500
samples and scores them with ``ganapps.metrics.mode_coverage``: modes captured (a mode counts when at least one
sample lies within 3 standard deviations of its centre) and the share of high-quality samples (within 3 standard
deviations of some mode).

Configurations (``--configs``, comma-separated names):

  minimax          the original minimax loss (saturating generator loss), lr 1e-4
  non_saturating   Goodfellow et al.'s non-saturating generator loss
  wgan_gp          Wasserstein loss + gradient penalty 10, 5 critic steps per generator step, Adam(1e-4, 0.5, 0.9)
  hinge            hinge loss
  least_squares    least-squares loss (LSGAN)
  relativistic     relativistic average loss (non-saturating form)
  *_r1             the same loss with an R1 penalty (gamma 0.1) on the discriminator

    python benchmarks/bench_mixtures.py --kind grid --seeds 0,1,2 --steps 4000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganapps import data, metrics, nets  # noqa: E402
from ganapps.games.gan import GAN  # noqa: E402

# name -> (loss, d_steps, gradient penalty, r1 gamma, lr, beta_1, beta_2)
CONFIGS = {
    "minimax": ("minimax", 1, 0.0, 0.0, 1e-4, 0.5, 0.999),
    "non_saturating": ("non_saturating", 1, 0.0, 0.0, 1e-4, 0.5, 0.999),
    "wgan_gp": ("wasserstein", 5, 10.0, 0.0, 1e-4, 0.5, 0.9),
    "hinge": ("hinge", 1, 0.0, 0.0, 1e-4, 0.5, 0.999),
    "least_squares": ("least_squares", 1, 0.0, 0.0, 1e-4, 0.5, 0.999),
    "relativistic": ("relativistic_average", 1, 0.0, 0.0, 1e-4, 0.5, 0.999),
    "non_saturating_r1": ("non_saturating", 1, 0.0, 0.1, 1e-4, 0.5, 0.999),
    "hinge_r1": ("hinge", 1, 0.0, 0.1, 1e-4, 0.5, 0.999),
}
N_EVAL = 2500


def run(name: str, kind: str, seed: int, steps: int, batch: int, latent_dim: int, hidden: tuple[int, ...],
        lr_scale: float = 1.0, ema: float | None = None, plot_dir: str | None = None, lr_decay: bool = False) -> dict:
    loss, d_steps, gp, r1, lr, b1, b2 = CONFIGS[name]
    lr *= lr_scale
    samples, centers = data.gaussian_mixture(kind, steps * batch, seed=seed + 1000)
    dataset = tf.data.Dataset.from_tensor_slices(samples).batch(batch, drop_remainder=True)
    keras.utils.set_random_seed(seed)
    game = GAN(nets.mlp_generator(latent_dim, 2, hidden=hidden),
               nets.mlp_discriminator(2, hidden=hidden),
               loss=loss, d_steps=d_steps, gradient_penalty=gp, r1=r1, ema=ema, seed=seed)
    g_lr, d_lr = lr, lr
    if lr_decay:  # cosine decay to 0 over the run: late, small steps stop the players circling and sharpen samples
        g_lr = keras.optimizers.schedules.CosineDecay(lr, steps)
        d_lr = keras.optimizers.schedules.CosineDecay(lr, steps * d_steps)
    game.compile(keras.optimizers.Adam(g_lr, beta_1=b1, beta_2=b2),
                 keras.optimizers.Adam(d_lr, beta_1=b1, beta_2=b2), jit_compile=True, steps_per_execution=100)
    start = time.perf_counter()
    history = game.fit(dataset, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    fake = game.generate(N_EVAL, seed=seed)
    score = metrics.mode_coverage(fake, kind=kind)
    if plot_dir:
        scatter(fake, centers, f"{name}, seed {seed}: {score['modes_captured']}/{score['n_modes']} modes, "
                f"{100 * score['high_quality']:.1f}% HQ", os.path.join(plot_dir, f"{kind}_{name}_seed{seed}.png"))
    return {"config": name, "seed": seed, "modes": int(score["modes_captured"]), "n_modes": int(score["n_modes"]),
            "high_quality": float(score["high_quality"]), "seconds": seconds,
            "d_loss": float(history.history["d_loss"][-1])}


def scatter(samples: np.ndarray, centers: np.ndarray, title: str, path: str) -> None:
    """Samples (blue) over the mixture's centres (red): where a person sees collapse at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue")
    ax.scatter(centers[:, 0], centers[:, 1], s=12, marker="x", color="tab:red")
    lim = float(np.abs(centers).max()) * 1.5
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("grid", "ring"), default="grid")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=4000, help="generator updates (one epoch of that many batches)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--hidden", default="256,256,256")
    parser.add_argument("--lr-scale", type=float, default=1.0, help="multiply every configuration's learning rate")
    parser.add_argument("--ema", type=float, default=None, help="generator EMA decay for sampling (default: off)")
    parser.add_argument("--lr-decay", action="store_true", help="cosine-decay both learning rates to 0 over the run")
    parser.add_argument("--plot", default=None, metavar="DIR", help="save a scatter plot of every run's samples")
    parser.add_argument("--json", default=None, help="also write all runs to this JSON file")
    args = parser.parse_args(argv)
    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"--configs: expected names from {sorted(CONFIGS)}; got {unknown}")
    seeds = [int(s) for s in args.seeds.split(",")]
    hidden = tuple(int(h) for h in args.hidden.split(","))
    print(f"# {args.kind}: {args.steps} generator steps of batch {args.batch}, latent {args.latent_dim}, "
          f"MLP {hidden}, lr x{args.lr_scale}{' cosine-decayed' if args.lr_decay else ''}, seeds {seeds}, "
          f"{N_EVAL} samples scored; load average {os.getloadavg()[0]:.1f}\n")
    runs = []
    for name in names:
        for seed in seeds:
            result = run(name, args.kind, seed, args.steps, args.batch, args.latent_dim, hidden, args.lr_scale,
                         args.ema, args.plot, args.lr_decay)
            runs.append(result)
            print(f"  {name} seed {seed}: {result['modes']}/{result['n_modes']} modes, "
                  f"{100 * result['high_quality']:.1f}% high quality, {result['seconds']:.0f} s", file=sys.stderr)
    print("| config | modes captured (per seed) | mean modes | high quality % (per seed) | mean HQ % | s/run |")
    print("|---|---|---|---|---|---|")
    for name in names:
        rs = [r for r in runs if r["config"] == name]
        hq = ", ".join(f"{100 * r['high_quality']:.1f}" for r in rs)
        print(f"| {name} | {', '.join(str(r['modes']) for r in rs)} | "
              f"{statistics.mean(r['modes'] for r in rs):.1f} / {rs[0]['n_modes']} | "
              f"{hq} | "
              f"{100 * statistics.mean(r['high_quality'] for r in rs):.1f} | "
              f"{statistics.mean(r['seconds'] for r in rs):.0f} |")
    best = max(runs, key=lambda r: (r["modes"], r["high_quality"]))
    print(f"\nBest single run: {best['config']} seed {best['seed']}: {best['modes']}/{best['n_modes']} modes, "
          f"{100 * best['high_quality']:.1f}% high quality.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
