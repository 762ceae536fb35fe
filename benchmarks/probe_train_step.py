"""GAN.train_step against the plain step of bench_train.py, without fit: graph contents and per-step time.

Two checks behind the training-throughput notes in RESULTS.md:

1. the op types of each traced train_step (one ``tf.function`` trace each, no XLA): the convolutions, matmuls
   and their gradients must be the same count in both, so that any speed difference is overhead;
2. the time of single steps, the two train_steps called in strict alternation (ABAB...) on the same batch, so
   that load from other processes falls on both alike; the median of the per-pair ratios is reported.

    python benchmarks/probe_train_step.py --steps 200
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

import bench_train  # noqa: E402

HEAVY = ("Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput", "Conv2DTranspose", "MatMul",
         "FusedBatchNormV3", "FusedBatchNormGradV3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each, alternated")
    args = parser.parse_args(argv)

    ds, steps = bench_train.cached_dataset()
    variants = bench_train.make_variants(ds, steps, ["gan_fit", "plain_fit"])
    batch = next(iter(ds))
    spec = tf.TensorSpec(batch.shape, batch.dtype)
    fns, counts = {}, {}
    for name in ("gan_fit", "plain_fit"):
        fn = tf.function(variants[name].model.train_step)
        graph = fn.get_concrete_function(spec).graph
        counts[name] = collections.Counter(op.type for op in graph.get_operations())
        fns[name] = fn

    print("| op type | GAN.train_step | plain step |")
    print("|---|---:|---:|")
    print(f"| all ops | {sum(counts['gan_fit'].values())} | {sum(counts['plain_fit'].values())} |")
    for op in sorted(set(counts["gan_fit"]) | set(counts["plain_fit"])):
        a, b = counts["gan_fit"][op], counts["plain_fit"][op]
        if op in HEAVY or a != b:
            print(f"| {op} | {a} | {b} |")

    for fn in fns.values():  # warm up
        for _ in range(5):
            out = fn(batch)
    times = {name: [] for name in fns}
    for i in range(args.steps):
        order = ("gan_fit", "plain_fit") if i % 2 == 0 else ("plain_fit", "gan_fit")
        for name in order:
            start = time.perf_counter()
            out = fns[name](batch)
            float(out["d_loss"])  # wait for the step
            times[name].append((time.perf_counter() - start) * 1000.0)
    ratios = [p / g for g, p in zip(times["gan_fit"], times["plain_fit"])]
    print()
    print("| step | median ms | p10 | p90 |")
    print("|---|---:|---:|---:|")
    for name, t in times.items():
        q = statistics.quantiles(t, n=10)
        print(f"| {name} train_step | {statistics.median(t):.1f} | {q[0]:.1f} | {q[-1]:.1f} |")
    print(f"\nspeed of GAN.train_step relative to the plain step (plain time / GAN time), median of {args.steps} "
          f"adjacent pairs: {statistics.median(ratios):.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
