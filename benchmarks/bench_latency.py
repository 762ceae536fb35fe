"""Generator inference latency: the ONNX runner against Keras, and the start-up of ``ganapps generate``.

The DCGAN generator of bench_train.py (latent 64, 16x16x1, width 32; initial weights, which do not change the
cost) is exported once with ``ganapps.export.export_generator`` to a temporary folder. Then, at batch 1 and
batch 256, four ways of running it are timed on the same latents:

  onnx_runner   ganapps.runtime.load(dir)(z)            ONNX Runtime, CPU provider here
  predict       model.predict(z, verbose=0)             Keras's batch-inference loop
  call          model(z, training=False)                a direct (eager) call
  tf_function   tf.function(lambda z: model(z, training=False))(z)   a traced call

After a warm-up, the methods are called in alternation (one call of each per round, the order rotated every
round) so that load from other processes falls on all of them alike; the table gives the median ms per call.
The CLI start-up is the wall time of ``ganapps generate DIR --n 64 --out FILE`` as a subprocess, against
``python -c "import tensorflow"`` and an empty ``python -c pass`` for contrast.

    python benchmarks/bench_latency.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganapps  # noqa: E402
from ganapps import nets  # noqa: E402

LATENT_DIM = 64
IMAGE_SHAPE = (16, 16, 1)
WIDTH = 32
VENV_BIN = Path(sys.executable).parent


def build_generator() -> keras.Model:
    keras.utils.set_random_seed(0)
    return nets.dcgan_generator(LATENT_DIM, IMAGE_SHAPE, width=WIDTH)


def methods(model: keras.Model, runner) -> dict:
    traced = tf.function(lambda z: model(z, training=False))
    return {
        "onnx_runner": lambda z: runner(z),
        "predict": lambda z: model.predict(z, verbose=0),
        "call": lambda z: keras.ops.convert_to_numpy(model(z, training=False)),
        "tf_function": lambda z: traced(tf.constant(z)).numpy(),
    }


def time_calls(fns: dict, z: np.ndarray, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per call of each function, called in rotated alternation ``repeats`` times."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name](z)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name](z)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def check_outputs(fns: dict, z: np.ndarray) -> float:
    """Largest difference between any method's output and predict's (they must compute the same thing)."""
    want = np.asarray(fns["predict"](z))
    return max(float(np.max(np.abs(np.asarray(fn(z)) - want))) for fn in fns.values())


def wall(cmd: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats-1", type=int, default=200, help="timed calls per method at batch 1")
    parser.add_argument("--repeats-256", type=int, default=20, help="timed calls per method at batch 256")
    parser.add_argument("--cli-repeats", type=int, default=3, help="runs of each start-up command")
    parser.add_argument("--quick", action="store_true", help="20 / 5 / 1 repeats (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats_1, args.repeats_256, args.cli_repeats = 20, 5, 1

    print(f"keras {keras.__version__}, tensorflow {tf.__version__}, onnxruntime {onnxruntime.__version__}",
          flush=True)
    model = build_generator()
    with tempfile.TemporaryDirectory(prefix="ganapps-bench-") as tmp:
        export_dir = Path(tmp) / "gen"
        ganapps.export.export_generator(model, export_dir)
        runner = ganapps.runtime.load(export_dir)
        print(f"exported to {export_dir}; runner providers {runner.providers}", flush=True)
        fns = methods(model, runner)
        rng = np.random.default_rng(0)

        rows = []
        for batch, repeats in ((1, args.repeats_1), (256, args.repeats_256)):
            z = rng.standard_normal((batch, LATENT_DIM)).astype(np.float32)
            err = check_outputs(fns, z)
            times = time_calls(fns, z, repeats, warmup=max(3, repeats // 10))
            med = {name: statistics.median(t) for name, t in times.items()}
            for name, t in times.items():
                rows.append((batch, name, med[name], np.percentile(t, 10), np.percentile(t, 90),
                             med["predict"] / med[name], repeats))
            print(f"batch {batch}: {repeats} calls per method; max |output - predict's| = {err:.2g}", flush=True)

        out_png = Path(tmp) / "grid.png"
        generate = [str(VENV_BIN / "ganapps"), "generate", str(export_dir), "--n", "64", "--out", str(out_png)]
        import_tf = [sys.executable, "-c", "import tensorflow"]
        empty = [sys.executable, "-c", "pass"]
        # Whether `ganapps generate` keeps TensorFlow out, checked in a fresh interpreter.
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sys; from ganapps import cli; cli.main(sys.argv[1:]); "
             "print('TF_IMPORTED', 'tensorflow' in sys.modules, 'KERAS_IMPORTED', 'keras' in sys.modules)",
             *generate[1:]],
            check=True, capture_output=True, text=True)
        tf_line = [line for line in probe.stdout.splitlines() if line.startswith("TF_IMPORTED")][0]
        startup = {}
        for r in range(args.cli_repeats):  # alternated, like the calls above
            for label, cmd in (("ganapps generate DIR --n 64", generate), ('python -c "import tensorflow"',
                                                                          import_tf), ('python -c "pass"', empty)):
                startup.setdefault(label, []).extend(wall(cmd, 1))

    print()
    print("| batch | method | median ms/call | p10 | p90 | speed-up vs predict | calls |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for batch, name, med, p10, p90, ratio, repeats in rows:
        print(f"| {batch} | {name} | {med:.3f} | {p10:.3f} | {p90:.3f} | {ratio:.1f}x | {repeats} |")
    print()
    print("| command | median wall s | runs (s) |")
    print("|---|---:|---|")
    for label, t in startup.items():
        print(f"| `{label}` | {statistics.median(t):.2f} | {', '.join(f'{x:.2f}' for x in t)} |")
    print(f"\nin `ganapps generate`: {tf_line}")
    onnx_b1 = next(r for r in rows if r[0] == 1 and r[1] == "onnx_runner")
    print(f"\ntarget: ONNX runner >= 100x faster than predict at batch 1: {onnx_b1[5]:.0f}x, "
          f"{'met' if onnx_b1[5] >= 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
