"""The ``ganapps`` command line.

    ganapps train gan --data digits --loss hinge --epochs 50 --out saved_models/digits_gan
    ganapps train conditional|acgan|infogan|progressive|stylegan --data digits ...
    ganapps generate saved_models/digits_gan --n 64 --out grid.png
    ganapps export model.keras --out saved_models/my_gan
    ganapps demo
    ganapps superres train|upscale|evaluate|compare ...   (apps/superres/cli.py)
    ganapps outliers fit|score|evaluate ...                (apps/outliers/cli.py)
    ganapps style train|translate ...                      (apps/style_transfer/cli.py)
    ganapps debias weights|augment|report ...              (apps/debias/cli.py)

``generate``, ``superres upscale``, ``outliers score`` and ``style translate`` run the ONNX export with ONNX
Runtime and never import TensorFlow; the other commands import it only once their arguments have been parsed, so
``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ganapps._argtypes import (
    jit_compile_value, narrowed, non_negative_float, non_negative_int, number, positive_int, probability)

EPILOG = "Run 'ganapps <command> --help' for the options of a command."


_image_size = narrowed(positive_int, "a power of two of at least 4 (4, 8, 16, 32, ...)",
                       reject=lambda value: value < 4 or value & (value - 1))


def _add_gan_training_args(p: argparse.ArgumentParser, epochs: int, out: str, lr: float = 2e-4,
                           ema: float | None = None) -> None:
    p.add_argument("--data", default="digits",
                   help="'digits' or 'photos' (offline), a tensorflow-datasets name such as 'mnist', or an "
                        "image folder (default: %(default)s)")
    p.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir holding a prepared copy")
    p.add_argument("--image-size", type=_image_size, default=16,
                   help="square image size, a power of two (default: %(default)s)")
    p.add_argument("--loss", default="non_saturating",
                   help="adversarial loss: minimax, non_saturating, wasserstein, hinge, least_squares, "
                        "relativistic_average (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=epochs, help="epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default: %(default)s)")
    p.add_argument("--latent-dim", type=positive_int, default=64, help="latent size (default: %(default)s)")
    p.add_argument("--width", type=positive_int, default=32,
                   help="filters of the full-resolution layers (default: %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--d-steps", type=positive_int, default=1,
                   help="discriminator steps per generator step (default: %(default)s)")
    p.add_argument("--gradient-penalty", type=non_negative_float, default=0.0,
                   help="WGAN-GP weight, 0 = off (default: %(default)s)")
    p.add_argument("--r1", type=non_negative_float, default=0.0, help="R1 gamma, 0 = off (default: %(default)s)")
    p.add_argument("--ema", type=float, default=ema,
                   help="decay of the generator's weight average used for sampling and export, such as 0.999 "
                        f"(default: {ema if ema is not None else 'off'})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="true",
                   help="XLA compilation of the train step (default: %(default)s; about 1.6x the throughput "
                        "on CPU, see benchmarks/RESULTS.md; 'auto' is Keras's choice: XLA only with a GPU)")
    p.add_argument("--samples-every", type=positive_int, default=5,
                   help="write a sample grid every N epochs (default: %(default)s)")
    p.add_argument("--label-smoothing", type=non_negative_float, default=0.0,
                   help="one-sided label smoothing s: real targets 1 - s for the discriminator (minimax, "
                        "non_saturating, least_squares losses; default: off)")
    p.add_argument("--augment", default=None, metavar="POLICY",
                   help="DiffAugment policy applied to real and fake images alike, e.g. "
                        "'color,translation,cutout' (default: off)")
    p.add_argument("--spectral-norm", action="store_true",
                   help="spectrally normalise the discriminator (every family but progressive)")
    p.add_argument("--minibatch-std", action="store_true",
                   help="add a minibatch standard-deviation channel to the discriminator (every family but "
                        "progressive)")
    p.add_argument("--out", default=out, help="output folder (default: %(default)s)")


_FAMILY_HELP = {
    "gan": ("unconditional DCGAN", "an unconditional DCGAN"),
    "conditional": ("class-conditional GAN (projection discriminator)",
                    "a class-conditional GAN (Mirza & Osindero) on labelled data; samples cycle through classes"),
    "acgan": ("auxiliary-classifier GAN", "an ACGAN (Odena et al.): the discriminator also predicts the class"),
    "infogan": ("InfoGAN with categorical and continuous codes",
                "an InfoGAN (Chen et al.): unlabelled data, latent codes learned through an auxiliary Q head"),
    "progressive": ("progressively grown GAN (4x4 upward, fade-in)",
                    "a progressively grown GAN (Karras et al. 2018): resolution doubles from 4x4 with fade-in"),
    "stylegan": ("style-based generator (mapping net, AdaIN, noise, style mixing)",
                 "a style-based generator (Karras et al. 2019) against a DCGAN discriminator"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganapps", description="Adversarial games for Keras 3: train GANs, "
                                     "export generators to ONNX and SavedModel, sample from exports.",
                                     epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ganapps {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser("train", help="train a game and export its generator", epilog=EPILOG,
                                description="Train an adversarial game on a dataset; save the game (.keras), "
                                            "sample grids, and the exported generator.")
    families = train.add_subparsers(dest="family", metavar="FAMILY")
    families.required = True
    for family, (summary, details) in _FAMILY_HELP.items():
        p = families.add_parser(family, help=summary,
                                description=f"Train {details}. Writes OUT/model.keras, OUT/samples/, "
                                            f"OUT/model.onnx, OUT/saved_model/ and OUT/metadata.json.")
        _add_gan_training_args(p, epochs=50, out=f"saved_models/{family}")
        p.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from OUT/backup (Keras BackupAndRestore)")
        p.add_argument("--no-export", action="store_true", help="skip the ONNX/SavedModel export")
        if family in ("conditional", "acgan"):
            p.add_argument("--num-classes", type=positive_int, default=None,
                           help="number of classes (default: the largest label in the data + 1)")
        if family == "acgan":
            p.add_argument("--class-weight", type=non_negative_float, default=1.0,
                           help="weight of the auxiliary class loss (default: %(default)s)")
        if family == "infogan":
            p.add_argument("--categorical", type=number(int, 2, "a category count of at least 2"), nargs="*",
                           default=[10],
                           help="category counts of the categorical codes (default: %(default)s)")
            p.add_argument("--continuous", type=non_negative_int, default=2,
                           help="number of continuous codes, uniform in [-1, 1] (default: %(default)s)")
            p.add_argument("--info-weight", type=non_negative_float, default=1.0,
                           help="weight of the mutual-information term (default: %(default)s)")
        if family == "stylegan":
            p.add_argument("--style-mixing", type=probability, default=0.9,
                           help="probability of style mixing per training batch (default: %(default)s)")
        if family == "progressive":
            p.add_argument("--fade-steps", type=positive_int, default=200,
                           help="generator updates of each fade-in (default: %(default)s)")
            p.add_argument("--stable-steps", type=positive_int, default=200,
                           help="generator updates at each resolution after its fade-in (default: %(default)s)")

    gen = commands.add_parser("generate", help="sample an exported generator with ONNX Runtime (no TensorFlow)",
                              description="Draw latents, run the exported ONNX generator and save a PNG grid.")
    gen.add_argument("model", help="export folder (holding model.onnx and metadata.json)")
    gen.add_argument("--n", type=positive_int, default=64, help="number of samples (default: %(default)s)")
    gen.add_argument("--seed", type=int, default=None, help="latent seed (default: random)")
    gen.add_argument("--truncation", type=float, default=None, help="truncation threshold in std devs")
    gen.add_argument("--labels", type=number(int, 0, "a class id (0 or more)"), nargs="+", default=None,
                     help="class ids for a conditional export: one for all samples, or one per sample "
                          "(default: the classes in turn)")
    gen.add_argument("--nrow", type=positive_int, default=None, help="images per row of the grid")
    gen.add_argument("--out", default="grid.png", help="PNG file to write (default: %(default)s)")
    gen.add_argument("--save-npy", default=None, help="also save the raw float samples to this .npy file")

    exp = commands.add_parser("export", help="export a .keras game or generator to ONNX + SavedModel",
                              description="Load a .keras file (a ganapps game or a generator), export the "
                                          "generator to ONNX and SavedModel, and check both against Keras.")
    exp.add_argument("model", help="the .keras file")
    exp.add_argument("--out", required=True, help="export folder")
    exp.add_argument("--formats", nargs="+", choices=("onnx", "saved_model"), default=["onnx", "saved_model"],
                     help="formats to write (default: both)")

    demo = commands.add_parser("demo", help="train a DCGAN on the bundled digits, export it, sample via ONNX",
                               description="The end-to-end demo, offline: trains a DCGAN on scikit-learn's "
                                           "digits, exports it, samples a grid through ONNX Runtime and scores "
                                           "the samples with a digit classifier.")
    _add_gan_training_args(demo, epochs=50, out="saved_models/digits_gan", lr=5e-4, ema=0.99)

    from apps.debias.cli import add_parser as add_debias  # argparse only: no TensorFlow
    from apps.outliers.cli import add_parser as add_outliers
    from apps.robust.cli import add_parser as add_robust
    from apps.style_transfer.cli import add_parser as add_style
    from apps.superres.cli import add_parser as add_superres

    add_superres(commands)
    add_outliers(commands)
    add_style(commands)
    add_debias(commands)
    add_robust(commands)
    return parser


def _version() -> str:
    from ganapps import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = " ".join(filter(None, (args.command, getattr(args, "superres_command", None),
                                     getattr(args, "outliers_command", None), getattr(args, "style_command", None),
                                     getattr(args, "debias_command", None),
                                     getattr(args, "robust_command", None))))
    try:
        return {"train": _train, "generate": _generate, "export": _export, "demo": _demo,
                "superres": _superres, "outliers": _outliers, "style": _style,
                "debias": _debias, "robust": _robust}[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        print(f"ganapps {command}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        from ganapps.export import ExportError  # an export that failed its parity check or its conversion

        if not isinstance(err, ExportError):
            raise
        print(f"ganapps {command}: failed: {err}", file=sys.stderr)
        return 1


def _training_kwargs(args) -> dict:
    jit = jit_compile_value(args.jit_compile)
    return dict(data=args.data, data_dir=args.data_dir, image_size=args.image_size, loss=args.loss,
                epochs=args.epochs, batch_size=args.batch_size, latent_dim=args.latent_dim, width=args.width,
                lr=args.lr, d_steps=args.d_steps, gradient_penalty=args.gradient_penalty, r1=args.r1,
                ema=args.ema, seed=args.seed, jit_compile=jit, samples_every=args.samples_every, out=args.out,
                label_smoothing=args.label_smoothing, augment=args.augment, spectral_norm=args.spectral_norm,
                minibatch_std=args.minibatch_std, verbose=1 if sys.stdout.isatty() else 2)


_FAMILY_OPTIONS = {"num_classes": "num_classes", "class_weight": "class_weight", "categorical": "categorical_codes",
                   "continuous": "continuous_codes", "info_weight": "info_weight", "style_mixing": "style_mixing",
                   "fade_steps": "fade_steps", "stable_steps": "stable_steps"}


def _train(args) -> int:
    from ganapps.train import train

    options = {name: getattr(args, attr) for attr, name in _FAMILY_OPTIONS.items() if hasattr(args, attr)}
    if "categorical_codes" in options:
        options["categorical_codes"] = tuple(options["categorical_codes"])
    result = train(args.family, resume=args.resume, export=not args.no_export, **_training_kwargs(args), **options)
    _report_training(result)
    return 1 if result.stopped_reason else 0


def _report_training(result) -> None:
    last = {k: round(v[-1], 4) for k, v in result.history.items() if v}
    print(f"trained {len(next(iter(result.history.values()), []))} epochs in {result.seconds:.1f} s; last: {last}")
    if result.stopped_reason:
        print(result.stopped_reason)
    print(f"game (continue training with keras.models.load_model): {result.keras_path}")
    print(f"sample grids: {result.out / 'samples'}")
    if result.metadata:
        print(f"export: {result.out / 'model.onnx'}, {result.out / 'saved_model'}, {result.out / 'metadata.json'}"
              f" (parity {result.metadata['parity_max_abs_error']})")


def _generate(args) -> int:
    from ganapps import runtime
    from ganapps.images import save_grid

    start = time.perf_counter()
    runner = runtime.load(args.model)
    labels = args.labels
    if labels is not None and len(labels) not in (1, args.n):
        raise ValueError(f"--labels: expected one class id or --n ({args.n}) of them; got {len(labels)}")
    if labels is not None and len(labels) == 1:
        labels = labels[0]
    images = runner.sample(args.n, seed=args.seed, truncation=args.truncation, labels=labels)
    path = save_grid(images, args.out, nrow=args.nrow, value_range=tuple(runner.metadata["value_range"]))
    if args.save_npy:
        import numpy as np

        from ganapps._checks import write_atomically

        npy = args.save_npy if args.save_npy.endswith(".npy") else args.save_npy + ".npy"  # as np.save names it
        write_atomically(npy, lambda tmp: np.save(tmp, images))
    print(f"wrote {path} ({args.n} samples, {images.shape[1]}x{images.shape[2]}, "
          f"{runner.providers[0]}, {time.perf_counter() - start:.2f} s)")
    return 0


def _export(args) -> int:
    from ganapps.export import export_keras_file

    metadata = export_keras_file(args.model, args.out, formats=args.formats)
    print(f"exported to {args.out}: {', '.join(f for f in metadata['files'].values() if f)}, metadata.json "
          f"(parity max abs error {metadata['parity_max_abs_error']})")
    return 0


def _superres(args) -> int:
    from apps.superres.cli import run

    return run(args)


def _outliers(args) -> int:
    from apps.outliers.cli import run

    return run(args)


def _style(args) -> int:
    from apps.style_transfer.cli import run

    return run(args)


def _debias(args) -> int:
    from apps.debias.cli import run

    return run(args)


def _robust(args) -> int:
    from apps.robust.cli import run

    return run(args)


def _demo(args) -> int:
    from ganapps import metrics, runtime
    from ganapps.images import save_grid
    from ganapps.train import train_gan

    start = time.perf_counter()
    result = train_gan(**_training_kwargs(args))
    runner = runtime.load(result.out)
    images = runner.sample(64, seed=0)
    grid_path = save_grid(images, result.out / "samples.png")
    score = metrics.digit_confidence(runner.sample(1000, seed=1))
    real = metrics.digit_confidence_reference(image_size=args.image_size)
    print()
    _report_training(result)
    print(f"samples drawn through ONNX Runtime ({runner.providers[0]}): {grid_path}")
    print(f"digit classifier on 1000 samples: mean confidence {score['mean_confidence']:.3f}, "
          f"{score['confident_fraction']:.0%} above 0.9, classes {score['class_counts']}")
    print(f"  for reference: real test digits {real['real']['mean_confidence']:.3f}, "
          f"uniform noise {real['noise']['mean_confidence']:.3f}")
    print(f"demo finished in {time.perf_counter() - start:.1f} s; everything is in {Path(result.out)}/")
    return 1 if result.stopped_reason else 0


if __name__ == "__main__":
    sys.exit(main())
