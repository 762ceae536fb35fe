"""Training throughput of ganapps.GAN against a plain hand-written GAN step, on digits 16x16.

Every variant trains the same DCGAN generator and discriminator (same widths, same initial weights), on the same
in-memory batches of 64, with the non-saturating loss and Adam(2e-4, beta_1=0.5) for each player:

  gan_fit       ganapps.GAN + fit, jit_compile=False
  gan_fit_xla   ganapps.GAN + fit, jit_compile=True
  plain_fit     a minimal keras.Model subclass whose train_step does one D and one G update with
                tf.GradientTape, tf.random.normal latents and BinaryCrossentropy(from_logits=True); fit, jit off
  plain_loop    the same step as a hand tf.function loop over the dataset (no fit machinery)

Every variant first runs one untimed warm-up epoch (tracing/compiling its train function, filling caches).
Then each timed run is one fit call of ``--epochs`` epochs, timed from the start of its first epoch to the end of
training: the per-epoch iterator start-up and epoch-end callbacks are in the time, the one-off work before the
first epoch (GAN.fit's check of the first batch, building the data adapter) is not. Variants run in
alternation, the order rotated every repeat, so that load from other processes on the machine falls on all of
them alike; the table reports the median over repeats and the median of the per-repeat ratios, the process
CPU time per step (less sensitive to other processes than wall time), and the time from the fit call to its
first epoch. tf.data autotuning is off for the cached pipeline unless ``--tf-data-autotune`` (see
``cached_dataset``).

    python benchmarks/bench_train.py --epochs 1 --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganapps  # noqa: E402
from ganapps import data, nets  # noqa: E402

LATENT_DIM = 64
IMAGE_SHAPE = (16, 16, 1)
BATCH = 64
WIDTH = 32
SEED = 0


def build_nets() -> tuple[keras.Model, keras.Model]:
    """The generator and discriminator, with the same initial weights every call."""
    keras.utils.set_random_seed(SEED)
    return (nets.dcgan_generator(LATENT_DIM, IMAGE_SHAPE, width=WIDTH),
            nets.dcgan_discriminator(IMAGE_SHAPE, width=WIDTH))


def adam() -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def cached_dataset(autotune: bool = False) -> tuple[tf.data.Dataset, int]:
    """The digits batches, read once and then served from memory; returns (dataset, steps per epoch).

    With ``autotune=False`` tf.data's autotuning is switched off for this pipeline: on this machine, with it on,
    releasing an epoch's iterator often stalls for about a second (see RESULTS.md), which would add a second
    of noise to runs of 1.5-3 s whatever the training step.
    """
    ds = data.load("digits", image_size=16, batch_size=BATCH, drop_remainder=True, seed=SEED)
    ds = ds.cache().prefetch(tf.data.AUTOTUNE)
    if not autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        ds = ds.with_options(options)
    steps = sum(1 for _ in ds)  # fills the cache
    return ds, steps


class PlainGAN(keras.Model):
    """The baseline: the shortest GAN train_step, in the manner of the keras-io examples."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real):
        d_loss, g_loss = plain_step(self, real)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def plain_step(m, real):
    """One discriminator update then one generator update; ``m`` holds the nets, optimizers and loss."""
    batch = tf.shape(real)[0]
    d_vars = m.discriminator.trainable_variables
    g_vars = m.generator.trainable_variables

    z = tf.random.normal((batch, m.latent_dim))
    with tf.GradientTape() as tape:
        fake = m.generator(z, training=True)
        real_logits = m.discriminator(real, training=True)
        fake_logits = m.discriminator(fake, training=True)
        d_loss = (m.bce(tf.ones_like(real_logits), real_logits)
                  + m.bce(tf.zeros_like(fake_logits), fake_logits))
    m.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

    z = tf.random.normal((batch, m.latent_dim))
    with tf.GradientTape() as tape:
        fake_logits = m.discriminator(m.generator(z, training=True), training=True)
        g_loss = m.bce(tf.ones_like(fake_logits), fake_logits)
    m.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
    return d_loss, g_loss


class _Timer(keras.callbacks.Callback):
    """Wall time from the start of the first epoch to the end of training."""

    def __init__(self):
        super().__init__()
        self.start = self.seconds = None
        self.called = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            self.start = time.perf_counter()
            self.startup = self.start - self.called
            self.cpu_start = time.process_time()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


class FitVariant:
    """A model trained with ``fit``; each ``run`` is one fit call of ``epochs`` epochs."""

    def __init__(self, model, ds, steps):
        self.model, self.ds, self.steps = model, ds, steps

    def run(self, epochs: int) -> float:
        timer = _Timer()
        self.model.fit(self.ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[timer])
        return epochs * self.steps * BATCH / timer.seconds, timer.cpu_seconds, timer.startup


class LoopVariant:
    """The plain step as a tf.function, driven by a Python loop over the dataset."""

    def __init__(self, ds, steps):
        self.generator, self.discriminator = build_nets()
        self.latent_dim = LATENT_DIM
        self.d_optimizer, self.g_optimizer = adam(), adam()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.step = tf.function(lambda real: plain_step(self, real))
        self.ds, self.steps = ds, steps

    def _epoch(self):
        for real in self.ds:
            d_loss, g_loss = self.step(real)
        return float(d_loss) + float(g_loss)  # waits for the last step to finish

    def run(self, epochs: int) -> float:
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(epochs):
            self._epoch()
        rate = epochs * self.steps * BATCH / (time.perf_counter() - start)
        return rate, time.process_time() - cpu_start, float("nan")


def make_variants(ds, steps, names):
    variants = {}
    for name in names:
        if name in ("gan_fit", "gan_fit_xla"):
            g, d = build_nets()
            gan = ganapps.GAN(generator=g, discriminator=d, latent_dim=LATENT_DIM, loss="non_saturating",
                              seed=SEED)
            gan.compile(g_optimizer=adam(), d_optimizer=adam(), jit_compile=name == "gan_fit_xla")
            variants[name] = FitVariant(gan, ds, steps)
        elif name == "plain_fit":
            g, d = build_nets()
            plain = PlainGAN(g, d, LATENT_DIM)
            plain.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=False)
            variants[name] = FitVariant(plain, ds, steps)
        elif name == "plain_loop":
            variants[name] = LoopVariant(ds, steps)
        else:
            raise ValueError(f"--variants: unknown variant {name!r}")
    return variants


def _ms(values: list[float]) -> str:
    values = [v for v in values if v == v]  # drop NaN (variants without a fit call)
    return f"{statistics.median(values):.0f}" if values else "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per run (one fit call)")
    parser.add_argument("--repeats", type=int, default=15, help="alternating repeats of every variant")
    parser.add_argument("--tf-data-autotune", action="store_true",
                        help="leave tf.data autotuning on (tf.data's default; off here, see RESULTS.md)")
    parser.add_argument("--quick", action="store_true", help="1 timed epoch, 2 repeats (a smoke run)")
    parser.add_argument("--variants", default="gan_fit,gan_fit_xla,plain_fit,plain_loop",
                        help="comma-separated subset of gan_fit,gan_fit_xla,plain_fit,plain_loop")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 1, 2
    names = [n.strip() for n in args.variants.split(",") if n.strip()]

    ds, steps = cached_dataset(autotune=args.tf_data_autotune)
    variants = make_variants(ds, steps, names)
    print(f"digits 16x16, batch {BATCH}, {steps} steps/epoch, {args.epochs} timed epoch(s) per run, "
          f"{args.repeats} repeat(s), tf.data autotune {'on' if args.tf_data_autotune else 'off'}; keras {keras.__version__}, tensorflow {tf.__version__}", flush=True)

    # One untimed epoch each: traces/compiles every train function before any timing.
    for variant in variants.values():
        variant.run(1)

    results = {name: [] for name in names}
    cpu_ms = {name: [] for name in names}
    startup = {name: [] for name in names}
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            rate, cpu, before_first_epoch = variants[name].run(args.epochs)
            results[name].append(rate)
            startup[name].append(before_first_epoch * 1000.0)
            cpu_ms[name].append(cpu * 1000.0 / (args.epochs * steps))
        print(f"repeat {r + 1}: " + ", ".join(f"{n} {results[n][-1]:.0f}" for n in names), flush=True)

    medians = {n: statistics.median(v) for n, v in results.items()}
    base = "plain_fit" if "plain_fit" in names else None
    print()
    print("| variant | median images/s | min | max | median of per-repeat ratios vs plain_fit "
          "| process CPU ms/step | fit call to first epoch, ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    paired = {}
    for name in names:
        if base:
            ratios = [a / b for a, b in zip(results[name], results[base])]
            paired[name] = statistics.median(ratios)
            ratio = f"{paired[name]:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        else:
            ratio = "-"
        print(f"| {name} | {medians[name]:.0f} | {min(results[name]):.0f} | {max(results[name]):.0f} | {ratio} "
              f"| {statistics.median(cpu_ms[name]):.0f} | {_ms(startup[name])} |")
    if base and "gan_fit" in names:
        print(f"\ntarget GAN.fit (jit off) >= 1.00x plain_fit: {paired['gan_fit']:.2f}x (median of per-repeat "
              f"ratios), {medians['gan_fit'] / medians[base]:.2f}x (ratio of medians): "
              f"{'met' if paired['gan_fit'] >= 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
