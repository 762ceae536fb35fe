"""Does InfoGAN's categorical code align with digit identity? Purity on digits 16x16.

Trains ``ganapps train infogan``'s game (one categorical code of 10 values, ``--continuous`` continuous codes)
on the digits for ``--epochs`` epochs, then, for each value of the categorical code, classifies 200 samples with
the project's digit classifier (``ganapps.metrics.digit_classifier``). It reports the purity (mean share of
each code value's majority digit) and the matched accuracy (code values paired one-to-one with digits by the
Hungarian algorithm: the unsupervised accuracy of the InfoGAN paper), over several seeds, and writes the code
grid of the first seed (rows: code values; columns: fixed z) to ``--grid``.

    python benchmarks/bench_infogan.py --epochs 60 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ganapps import data, metrics  # noqa: E402
from ganapps.games.conditional import categorical_purity  # noqa: E402
from ganapps.train import build_game  # noqa: E402


def digit_ids(images: np.ndarray) -> np.ndarray:
    return np.argmax(metrics.digit_classifier().predict(images, verbose=0), axis=-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--continuous", type=int, default=2)
    parser.add_argument("--info-weight", type=float, default=1.0)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--grid", default="benchmarks/infogan_code_grid.png")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# InfoGAN on digits 16x16: categorical code of 10, {args.continuous} continuous, info weight "
          f"{args.info_weight}, latent {args.latent_dim}, {args.epochs} epochs, lr 5e-4, EMA 0.99; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| seed | purity | matched accuracy | majority digit per code value | final info_loss | s |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        game = build_game("infogan", (16, 16, 1), latent_dim=args.latent_dim, width=32, ema=0.99, seed=seed,
                          categorical_codes=(10,), continuous_codes=args.continuous, info_weight=args.info_weight)
        game.compile(keras.optimizers.Adam(5e-4, beta_1=0.5), keras.optimizers.Adam(5e-4, beta_1=0.5),
                     jit_compile=True)
        ds = data.load("digits", image_size=16, batch_size=64, seed=seed, drop_remainder=True).cache()
        start = time.perf_counter()
        history = game.fit(ds, epochs=args.epochs, verbose=0).history
        seconds = time.perf_counter() - start
        result = categorical_purity(game, digit_ids, n_per_category=200, seed=seed)
        majority = " ".join(str(c["majority_class"]) for c in result["per_category"])
        print(f"| {seed} | {result['purity']:.3f} | {result['matched_accuracy']:.3f} | {majority} | "
              f"{history['info_loss'][-1]:.3f} | {seconds:.0f} |", flush=True)
        if seed == seeds[0] and args.grid:
            game.save_code_grid(args.grid, 0, columns=8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
