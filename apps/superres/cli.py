"""``ganapps superres``: train, upscale, evaluate, compare.

    ganapps superres train --data photos --scale 4 --steps 2000 --out saved_models/superres_x4
    ganapps superres upscale in.png --model saved_models/superres_x4 --out out.png
    ganapps superres evaluate --model saved_models/superres_x4 --data photos
    ganapps superres compare in.png --model saved_models/superres_x4 --out figure.png

Importing this module imports neither TensorFlow nor Keras: ``upscale`` runs the ONNX export through
:class:`ganapps.runtime.Upscaler`; the other subcommands import TensorFlow once their arguments are parsed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganapps._argtypes import jit_compile_value, narrowed, non_negative_int, number, positive_float, positive_int

KERAS_FILE = "superres.keras"
FIGURE_FILE = "compare.png"
EVALUATION_FILE = "evaluation.json"
_scale = narrowed(positive_int, "2, 4 or 8", reject=lambda value: value not in (2, 4, 8))
_patch_size = narrowed(positive_int, "a multiple of 16 (16, 32, ..., 96, ...)", reject=lambda value: value % 16 != 0)
_tile_side = number(int, 0, "a non-negative integer, or 'none'")


def _tile(text: str) -> int:
    """A tile side; 0 (or 'none') for whole images."""
    return 0 if text.lower() == "none" else _tile_side(text)


def _add_tiling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tile", type=_tile, default=None,
                   help="tile side in low-resolution pixels, or 0 (or 'none') for whole images (default: the "
                        "tile side an export's metadata advises, else 128)")
    p.add_argument("--overlap", type=non_negative_int, default=None,
                   help="context pixels each tile borrows from its neighbours (default: the model's receptive-field "
                        "radius, from an export's metadata or measured on a .keras model, which makes tiling "
                        "seamless)")


def add_parser(commands: Any, epilog: str = "") -> argparse.ArgumentParser:
    """Register ``superres`` and its subcommands on ``ganapps``'s subparsers action."""
    sr = commands.add_parser("superres", help="super-resolution: train, upscale, evaluate, compare",
                             epilog="Run 'ganapps superres <subcommand> --help' for its options.",
                             description="Single-image super-resolution (SRGAN): train on photos, upscale images of "
                                         "any size with the ONNX export, score against bicubic.")
    sub = sr.add_subparsers(dest="superres_command", metavar="SUBCOMMAND")
    sub.required = True

    train = sub.add_parser("train", help="train an upscaler, export it, score it against bicubic",
                           description="Train an SRGAN on random crops (a PSNR phase, then optional adversarial "
                                       "steps), then write OUT/superres.keras, the export (OUT/model.onnx, "
                                       "OUT/saved_model/, OUT/metadata.json), OUT/evaluation.json and "
                                       "OUT/compare.png, and print PSNR/SSIM against bicubic on the held-out "
                                       "test photos.")
    train.add_argument("--data", default="photos",
                       help="'photos' (the bundled training photos, offline), an image folder, or a "
                            "tensorflow-datasets name such as 'div2k' (default: %(default)s)")
    train.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir holding a prepared copy")
    train.add_argument("--scale", type=_scale, default=4, help="upscaling factor: 2, 4 or 8 (default: %(default)s)")
    train.add_argument("--steps", type=positive_int, default=6000,
                       help="PSNR-phase training steps (default: %(default)s)")
    train.add_argument("--adversarial-steps", type=non_negative_int, default=0,
                       help="adversarial fine-tuning steps after the PSNR phase, 0 = none (default: %(default)s)")
    train.add_argument("--filters", type=positive_int, default=32,
                       help="generator feature channels (default: %(default)s)")
    train.add_argument("--blocks", type=positive_int, default=8,
                       help="generator residual blocks (default: %(default)s)")
    train.add_argument("--block", choices=("residual", "rrdb"), default="residual",
                       help="SRResNet residual blocks or ESRGAN's RRDBs (default: %(default)s)")
    train.add_argument("--input-skip", choices=("bicubic", "bilinear", "nearest", "none"), default="bicubic",
                       help="add the input upscaled this way to the output, so the network learns only the "
                            "missing detail; 'none' to learn it all (default: %(default)s)")
    train.add_argument("--upsampling", choices=("single", "stages"), default="single",
                       help="one conv + pixel shuffle by the scale (ESPCN, cheap) or SRResNet's x2 stages "
                            "(default: %(default)s)")
    train.add_argument("--channels", type=int, choices=(1, 3), default=3,
                       help="3 for RGB, 1 for grayscale (default: %(default)s)")
    train.add_argument("--patch-size", type=_patch_size, default=96,
                       help="side of the high-resolution training crops, a multiple of 16 (default: %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=16, help="crops per step (default: %(default)s)")
    train.add_argument("--lr", type=positive_float, default=1e-3,
                       help="Adam learning rate of the PSNR phase (default: %(default)s)")
    train.add_argument("--lr-decay", choices=("cosine", "none"), default="cosine",
                       help="decay the PSNR phase's rate along a cosine to 1%% of --lr (default: %(default)s)")
    train.add_argument("--adversarial-lr", type=positive_float, default=1e-4,
                       help="Adam learning rate of the adversarial phase (default: %(default)s)")
    train.add_argument("--d-width", type=positive_int, default=64,
                       help="filters of the discriminator's first convolution (default: %(default)s)")
    train.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--jit-compile", choices=("auto", "true", "false"), default="true",
                       help="XLA compilation of the train step (default: %(default)s)")
    train.add_argument("--out", default=None,
                       help="output folder (default: saved_models/superres_x<scale>)")

    up = sub.add_parser("upscale", help="upscale an image file with an export (ONNX Runtime, no TensorFlow)",
                        description="Upscale one image file (PNG, JPEG, BMP, GIF, ...) tile by tile with an exported "
                                    "model through ONNX Runtime; TensorFlow is not imported.")
    up.add_argument("input", help="the image file to upscale")
    up.add_argument("--model", required=True, help="export folder (model.onnx + metadata.json)")
    up.add_argument("--out", default=None, help="output file, .png/.jpg (default: <input>_x<scale>.png)")
    _add_tiling(up)

    ev = sub.add_parser("evaluate", help="PSNR/SSIM of a model and of bicubic on high-resolution images",
                        description="Shrink each high-resolution image, restore it with the model and with bicubic, "
                                    "and print PSNR/SSIM (Y channel, a scale-pixel border cropped: the SRGAN "
                                    "protocol) per image and their means.")
    ev.add_argument("--model", required=True,
                    help="export folder (model.onnx + metadata.json) or a superres .keras file")
    ev.add_argument("--data", default="photos",
                    help="'photos' (the held-out test photos), an image folder or an image file "
                         "(default: %(default)s)")
    ev.add_argument("--scale", type=_scale, default=None,
                    help="expected upscaling factor, checked against the model's (default: the model's, read "
                         "from its metadata)")
    ev.add_argument("--json", default=None, help="also write the results to this JSON file")
    _add_tiling(ev)

    cmp_ = sub.add_parser("compare", help="side-by-side figure: input, bicubic, model, original",
                          description="Shrink a high-resolution image, restore it with bicubic and with the model, "
                                      "and save the four panels (with PSNR/SSIM) as one figure.")
    cmp_.add_argument("input", help="the high-resolution image file")
    cmp_.add_argument("--model", required=True,
                      help="export folder (model.onnx + metadata.json) or a superres .keras file")
    cmp_.add_argument("--out", default="compare.png", help="figure file, .png/.pdf/.svg (default: %(default)s)")
    cmp_.add_argument("--crop", type=non_negative_int, nargs=3, metavar=("Y", "X", "SIZE"), default=None,
                      help="zoom every panel on this square of the original, in its pixels (default: whole image)")
    _add_tiling(cmp_)
    return sr


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``superres`` subcommand; ganapps's ``main`` turns errors into messages and exit codes."""
    return {"train": _train, "upscale": _upscale, "evaluate": _evaluate,
            "compare": _compare}[args.superres_command](args)


# -- shared --------------------------------------------------------------------------------------------------
def format_table(result: dict[str, Any]) -> str:
    """The evaluation as a text table: one row per image, then the means."""
    rows = result["per_image"]
    width = max(10, *(len(str(r["image"])) for r in rows))
    header = f"{'image':<{width}}  {'PSNR':>7}  {'SSIM':>6}  {'bicubic PSNR':>12}  {'bicubic SSIM':>12}"
    lines = [f"x{result['scale']} super-resolution, Y channel, {result['scale']}-pixel border (PSNR in dB)",
             header, "-" * len(header)]
    for r in [*rows, {"image": "mean", **{k: result[k] for k in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}}]:
        if r["image"] == "mean":
            lines.append("-" * len(header))
        lines.append(f"{str(r['image']):<{width}}  {r['psnr']:>7.2f}  {r['ssim']:>6.4f}  {r['bicubic_psnr']:>12.2f}"
                     f"  {r['bicubic_ssim']:>12.4f}")
    return "\n".join(lines)


def _model(path_text: str, tile: int | None, overlap: int | None) -> tuple[Callable, int, int, str]:
    """``(upscale float HxWxC -> float, scale, channels, description)`` for an export folder or a .keras file."""
    path = Path(path_text).expanduser()
    keras_file = path if path.suffix == ".keras" else path / KERAS_FILE
    if path.is_dir() and (path / "metadata.json").is_file():
        from ganapps.runtime import Upscaler

        upscaler = Upscaler(path)
        return (lambda low: upscaler.upscale(low, tile=tile, overlap=overlap), upscaler.scale, upscaler.channels,
                f"the ONNX export in {path} ({upscaler.providers[0]})")  # tile None: the export's advice
    if keras_file.is_file():
        from apps.superres.app import SuperResolver
        from ganapps.runtime import DEFAULT_TILE

        sr = SuperResolver.load(keras_file)
        keras_tile = DEFAULT_TILE if tile is None else tile  # a .keras file advises no tile side
        return (lambda low: sr.upscale(low, tile=keras_tile, overlap=overlap), sr.scale, sr.channels,
                f"the Keras model in {keras_file}")
    what = "does not exist" if not path.exists() else "holds neither metadata.json nor " + KERAS_FILE
    raise FileNotFoundError(f"--model: expected an export folder (model.onnx + metadata.json) or a superres "
                            f".keras file; got {path_text!r}, which {what}")


def _check_input(path_text: str, argument: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{argument}: expected an image file; got {path_text!r}, which "
                                f"{'is a folder' if path.is_dir() else 'does not exist'}")
    return path


# -- subcommands ---------------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from apps.superres.app import SuperResolver
    from ganapps import data as gdata

    start = time.perf_counter()
    out = Path(args.out or f"saved_models/superres_x{args.scale}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: expected a folder; got {str(out)!r}, which is a file")
    jit = jit_compile_value(args.jit_compile)
    sr = SuperResolver(scale=args.scale, channels=args.channels, filters=args.filters, blocks=args.blocks,
                       block=args.block, input_skip=None if args.input_skip == "none" else args.input_skip,
                       upsampling=args.upsampling, patch_size=args.patch_size, batch_size=args.batch_size,
                       learning_rate=args.lr, lr_decay=None if args.lr_decay == "none" else args.lr_decay,
                       adversarial_learning_rate=args.adversarial_lr, discriminator_width=args.d_width,
                       seed=args.seed, jit_compile=jit)
    print(f"training x{args.scale} super-resolution on {args.data!r}: {args.steps} PSNR steps"
          f"{f' + {args.adversarial_steps} adversarial steps' if args.adversarial_steps else ''}, "
          f"{args.batch_size} crops of {args.patch_size}x{args.patch_size} per step")
    sr.fit(args.data, steps=args.steps, adversarial_steps=args.adversarial_steps,
           verbose=1 if sys.stdout.isatty() else 2, data_dir=args.data_dir)
    trained = time.perf_counter() - start

    out.mkdir(parents=True, exist_ok=True)
    keras_path = sr.save(out / KERAS_FILE)
    metadata = sr.export(out)
    result = sr.evaluate("photos")
    from ganapps._checks import write_atomically

    write_atomically(out / EVALUATION_FILE, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))
    name = gdata.photo_names("test")[1]  # "chelsea": a face and fur, where detail shows
    photo = gdata.load_photos("test", channels=args.channels)[1]
    h, w = photo.shape[:2]
    size = min(128, h, w)
    figure = sr.figure(photo, out / FIGURE_FILE, crop=((h - size) // 2, (w - size) // 2, size))

    print()
    print(format_table(result))
    gain = result["psnr"] - result["bicubic_psnr"]
    print(f"\nmodel vs bicubic on the held-out photos: {gain:+.2f} dB PSNR, "
          f"{result['ssim'] - result['bicubic_ssim']:+.4f} SSIM")
    print(f"trained in {trained:.1f} s; everything took {time.perf_counter() - start:.1f} s")
    print(f"game (SuperResolver.load continues training): {keras_path}")
    print(f"export: {out / 'model.onnx'}, {out / 'saved_model'}, {out / 'metadata.json'} "
          f"(parity {metadata['parity_max_abs_error']}; tiles overlap by the receptive-field radius, "
          f"{metadata['overlap']} pixels)")
    print(f"evaluation: {out / EVALUATION_FILE}")
    print(f"comparison figure ({name!r}, centre crop): {figure}")
    return 0


def _upscale(args: argparse.Namespace) -> int:
    from PIL import Image

    from ganapps.runtime import Upscaler

    start = time.perf_counter()
    source = _check_input(args.input, "input")
    model = Path(args.model).expanduser()
    if not model.is_dir():
        raise FileNotFoundError(f"--model: expected an export folder (model.onnx + metadata.json); got "
                                f"{args.model!r}, which {'is a file' if model.exists() else 'does not exist'}")
    upscaler = Upscaler(model)
    target = Path(args.out) if args.out else source.with_name(f"{source.stem}_x{upscaler.scale}.png")
    upscaler.upscale_file(source, target, tile=args.tile, overlap=args.overlap)
    with Image.open(target) as after:  # the input's size as read: upright, whatever its EXIF orientation
        sizes = f"{after.width // upscaler.scale}x{after.height // upscaler.scale} -> {after.width}x{after.height}"
    print(f"wrote {target} ({sizes}, x{upscaler.scale}, {upscaler.providers[0]}, "
          f"{time.perf_counter() - start:.2f} s)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from apps.superres.app import evaluate_upscaler

    start = time.perf_counter()
    upscale, scale, channels, what = _model(args.model, args.tile, args.overlap)
    if args.scale is not None and args.scale != scale:
        raise ValueError(f"--scale: expected the model's scale ({scale}); got {args.scale}")
    data = args.data
    if data != "photos" and not os.path.exists(os.path.expanduser(data)):
        raise FileNotFoundError(f"--data: expected 'photos', an image folder or an image file; got {data!r}, "
                                "which does not exist")
    result = evaluate_upscaler(upscale, scale, channels, data)
    print(f"evaluating {what} on {data!r}")
    print(format_table(result))
    if args.json:
        from ganapps._checks import write_atomically

        write_atomically(args.json, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
        print(f"results: {args.json}")
    print(f"took {time.perf_counter() - start:.1f} s")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from apps.superres.app import comparison_figure

    source = _check_input(args.input, "input")
    upscale, scale, channels, what = _model(args.model, args.tile, args.overlap)
    path = comparison_figure(upscale, scale, source, args.out, crop=args.crop, channels=channels,
                             title=f"{source.name}, x{scale}: {what}")
    print(f"wrote {path}")
    return 0
