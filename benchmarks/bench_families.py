"""The GAN families on digits 16x16: FID after the same wall-clock budget, and training throughput.

Every family is built by ``ganapps.train.build_game`` with the same widths (32), latent size (64), loss
(non-saturating), Adam(5e-4, beta_1=0.5) per player, generator EMA 0.99 and batches of 64 from
``data.load("digits", image_size=16)``, with XLA. The labelled families (conditional, acgan) get the labels.

``--mode fid`` trains each family for ``--budget`` seconds of wall-clock time (compilation included: it is part
of what a user waits for), then draws as many samples as one half of the digits and computes the FID against
that half with the features of the project's digit classifier (``ganapps.metrics.fid(..., features="digits")``).
The floor is the FID between the two disjoint halves of the real digits; noise is the ceiling. Conditional
families sample classes in turn (0, 1, ..., 9, 0, ...), as the data has about equal class counts.

``--mode throughput`` measures training images per second per family: a fresh game per family, one untimed
warm-up epoch (tracing, XLA compilation), then ``--epochs`` timed epochs; families run in turn, ``--repeats``
rounds with the order rotated, and the table reports medians and the median ratio to the DCGAN family measured
in the same round.

    python benchmarks/bench_families.py --mode fid --budget 90
    python benchmarks/bench_families.py --mode throughput --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ganapps import data, metrics  # noqa: E402
from ganapps.train import FAMILIES, build_game  # noqa: E402

IMAGE_SIZE = 16
BATCH = 64
LABELLED = ("conditional", "acgan")


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` have passed since training began (checked after every batch)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.start = None
        self.steps = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def make_game(family: str, seed: int, stage_steps: int):
    keras.utils.set_random_seed(seed)
    options = dict(latent_dim=64, width=32, loss="non_saturating", ema=0.99, seed=seed)
    if family in LABELLED:
        options["num_classes"] = 10
    if family == "progressive":
        options.update(fade_steps=stage_steps, stable_steps=stage_steps)
    game = build_game(family, (IMAGE_SIZE, IMAGE_SIZE, 1), **options)
    game.compile(keras.optimizers.Adam(5e-4, beta_1=0.5), keras.optimizers.Adam(5e-4, beta_1=0.5), jit_compile=True)
    return game


def dataset(family: str, seed: int):
    return data.load("digits", image_size=IMAGE_SIZE, batch_size=BATCH, seed=seed, drop_remainder=True,
                     with_labels=family in LABELLED).cache()


def halves(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The digits (all splits) shuffled and cut into two disjoint halves."""
    images = np.concatenate([np.asarray(x) for x in data.load("digits", split="all", image_size=IMAGE_SIZE,
                                                              batch_size=4096, shuffle=False)])
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(images) // 2
    return images[order[:half]], images[order[half:2 * half]]


def run_fid(families: list[str], budget: float, seed: int, stage_steps: int) -> None:
    ref, other = halves(seed)
    noise = np.random.default_rng(seed).uniform(-1, 1, ref.shape).astype(np.float32)
    floor = metrics.fid(ref, other, features="digits")
    ceiling = metrics.fid(ref, noise, features="digits")
    print(f"# FID on digits {IMAGE_SIZE}x{IMAGE_SIZE}, digit-classifier features, {len(ref)} samples per set; "
          f"budget {budget:.0f} s per family; seed {seed}; load average {os.getloadavg()[0]:.1f}\n")
    print("| family | FID | generator updates in budget | images/s incl. compile | final d_loss | final g_loss |")
    print("|---|---|---|---|---|---|")
    print(f"| real vs real (floor) | {floor:.2f} | | | | |")
    print(f"| uniform noise | {ceiling:.1f} | | | | |")
    for family in families:
        game = make_game(family, seed, stage_steps)
        timer = TimeBudget(budget)
        history = game.fit(dataset(family, seed), epochs=10_000, callbacks=[timer], verbose=0).history
        seconds = time.perf_counter() - timer.start
        fake = game.generate(len(ref), seed=seed)
        score = metrics.fid(ref, fake, features="digits")
        updates = int(game.g_optimizer.iterations)
        print(f"| {family} | {score:.2f} | {updates} | {updates * BATCH / seconds:.0f} | "
              f"{history['d_loss'][-1]:.3f} | {history['g_loss'][-1]:.3f} |", flush=True)


def run_throughput(families: list[str], epochs: int, repeats: int, seed: int, stage_steps: int) -> None:
    games = {}
    for family in families:
        games[family] = (make_game(family, seed, stage_steps), dataset(family, seed))
        games[family][0].fit(games[family][1], epochs=1, verbose=0)  # warm-up: tracing and XLA compilation
    steps = sum(1 for _ in dataset("gan", seed))
    rates: dict[str, list[float]] = {f: [] for f in families}
    for r in range(repeats):
        order = families[r % len(families):] + families[:r % len(families)]
        for family in order:
            game, ds = games[family]
            start = time.perf_counter()
            game.fit(ds, epochs=epochs, verbose=0)
            rates[family].append(epochs * steps * BATCH / (time.perf_counter() - start))
    print(f"# Training throughput on digits {IMAGE_SIZE}x{IMAGE_SIZE}, batch {BATCH}, {steps} steps per epoch, "
          f"{epochs} timed epochs x {repeats} rounds after a warm-up epoch; XLA; load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| family | images/s (median) | range | vs gan (median of per-round ratios) |")
    print("|---|---|---|---|")
    base = rates.get("gan")
    for family in families:
        ratio = (f"{statistics.median(a / b for a, b in zip(rates[family], base)):.2f}x" if base else "-")
        print(f"| {family} | {statistics.median(rates[family]):.0f} | {min(rates[family]):.0f}-"
              f"{max(rates[family]):.0f} | {ratio} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("fid", "throughput"), default="fid")
    parser.add_argument("--families", default="gan,conditional,acgan,stylegan,infogan,progressive")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds of training per family (fid mode)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per round (throughput mode)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (throughput mode)")
    parser.add_argument("--stage-steps", type=int, default=250,
                        help="fade-in and stabilisation updates per stage of the progressive family")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    families = args.families.split(",")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"--families: expected names from {FAMILIES}; got {unknown}")
    if args.mode == "fid":
        run_fid(families, args.budget, args.seed, args.stage_steps)
    else:
        run_throughput(families, args.epochs, args.repeats, args.seed, args.stage_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
