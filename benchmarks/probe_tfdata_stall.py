"""Does tf.data autotuning stall the start of each epoch? A probe behind a note in RESULTS.md.

Fits ganapps.GAN on the cached digits pipeline of bench_train.py for several epochs per fit call, alternating
calls with tf.data autotuning on (tf.data's default) and off, and records for every epoch the time from
``on_epoch_begin`` to the end of its first batch. Keras makes a new iterator each epoch; with autotuning on,
releasing the previous one was seen to take about a second on this machine.

    python benchmarks/probe_tfdata_stall.py --epochs 8 --calls 3          # the cached pipeline of bench_train
    python benchmarks/probe_tfdata_stall.py --epochs 8 --calls 3 --raw    # ganapps.data.load's own dataset
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import bench_train  # noqa: E402
from ganapps import data  # noqa: E402


class FirstBatchTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.first_batch_ms, self.epoch_s = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin, self.seen = time.perf_counter(), False

    def on_train_batch_end(self, batch, logs=None):
        if not self.seen:
            self.first_batch_ms.append((time.perf_counter() - self.begin) * 1000.0)
            self.seen = True

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_s.append(time.perf_counter() - self.begin)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per fit call")
    parser.add_argument("--calls", type=int, default=2, help="fit calls per setting, alternated")
    parser.add_argument("--raw", action="store_true",
                        help="use ganapps.data.load's dataset as it comes (shuffled each epoch, no cache)")
    args = parser.parse_args(argv)

    if args.raw:
        raw = data.load("digits", image_size=16, batch_size=bench_train.BATCH, drop_remainder=True, seed=0)
        off = tf.data.Options()
        off.autotune.enabled = False
        steps = sum(1 for _ in raw)
        pipelines = {"on": raw, "off": raw.with_options(off)}
    else:
        (on, steps), (off, _) = bench_train.cached_dataset(autotune=True), bench_train.cached_dataset(autotune=False)
        pipelines = {"on": on, "off": off}
    gan = bench_train.make_variants(pipelines["on"], steps, ["gan_fit"])["gan_fit"].model
    gan.fit(pipelines["off"], epochs=1, verbose=0, shuffle=False)  # trace first

    timers = {"on": [], "off": []}
    for _ in range(args.calls):
        for setting in ("on", "off"):
            timer = FirstBatchTimer()
            gan.fit(pipelines[setting], epochs=args.epochs, verbose=0, shuffle=False, callbacks=[timer])
            timers[setting].append(timer)
            print(f"autotune {setting}: first batch ms per epoch "
                  + " ".join(f"{t:.0f}" for t in timer.first_batch_ms), flush=True)

    print()
    print("| tf.data autotune | epochs | first batch ms, median | epochs with first batch > 500 ms "
          "| epoch s, median |")
    print("|---|---:|---:|---:|---:|")
    for setting, runs in timers.items():
        first = [t for timer in runs for t in timer.first_batch_ms]
        epochs = [t for timer in runs for t in timer.epoch_s]
        slow = sum(t > 500 for t in first)
        print(f"| {setting} | {len(first)} | {statistics.median(first):.0f} | {slow} | "
              f"{statistics.median(epochs):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
