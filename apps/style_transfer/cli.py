"""``ganapps style``: train a translator, translate images with its export.

    ganapps style train --paired --task edges2photo --steps 2000 --out saved_models/edges2photo
    ganapps style train --paired --a edges/ --b photos/ --out saved_models/my_pix2pix
    ganapps style train --unpaired --task photo2cartoon --out saved_models/photo2cartoon
    ganapps style train --unpaired --tfds cycle_gan/horse2zebra --out saved_models/horse2zebra
    ganapps style translate in.png --model saved_models/edges2photo --out out.png
    ganapps style translate photos/ --model saved_models/photo2cartoon --direction b2a --out photos_b2a/ \\
        --grid before_after.png

Importing this module imports neither TensorFlow nor Keras: ``translate`` runs the ONNX export through
:class:`ganapps.runtime.Translator`; ``train`` imports TensorFlow once its arguments are parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ganapps._argtypes import (
    jit_compile_value, narrowed, non_negative_float, non_negative_int, positive_float, positive_int)

KERAS_FILE = "translator.keras"
FIGURE_FILE = "before_after.png"
EVALUATION_FILE = "evaluation.json"
DIRECTIONS = ("a2b", "b2a")
PAIRED_TASKS = ("edges2photo", "gray2colour")
UNPAIRED_TASKS = ("photo2cartoon",)
FIGURE_IMAGES = 4  # held-out images (or, for folders, the first training images) in the train figure
EVALUATION_LIMIT = 64  # test images per domain of a tensorflow-datasets set that train evaluates
GRID_IMAGES = 8  # images in a translate --grid
GRID_TILE = 160  # side of the box each grid image is fitted into, in pixels
_crop = narrowed(positive_int, "a positive multiple of 4", reject=lambda value: value % 4 != 0)


def add_parser(commands: Any, epilog: str = "") -> argparse.ArgumentParser:
    """Register ``style`` and its subcommands on ``ganapps``'s subparsers action."""
    style = commands.add_parser("style", help="style transfer (pix2pix, CycleGAN): train, translate",
                                epilog=epilog or "Run 'ganapps style <subcommand> --help' for its options.",
                                description="Image-to-image translation: train pix2pix on paired images or CycleGAN "
                                            "on unpaired ones, then translate images of any size with the ONNX "
                                            "export.")
    sub = style.add_subparsers(dest="style_command", metavar="SUBCOMMAND")
    sub.required = True

    train = sub.add_parser(
        "train", help="train a translator, export it, draw before/after images",
        description="Train pix2pix (--paired: U-Net + PatchGAN + L1) or CycleGAN (--unpaired: two ResNet "
                    "generators, two PatchGANs, cycle and identity losses) on random crops, then write "
                    f"OUT/{KERAS_FILE}, the export (paired: OUT/model.onnx, OUT/saved_model/, OUT/metadata.json; "
                    f"unpaired: the same in OUT/a2b/ and OUT/b2a/), OUT/{EVALUATION_FILE} and OUT/{FIGURE_FILE} "
                    "(held-out images before and after), and print the evaluation and the training time.",
        epilog="Data: an offline --task (the default: edges2photo with --paired, photo2cartoon with --unpaired), "
               "two folders --a/--b (paired by file name with --paired), or a tensorflow-datasets cycle_gan set "
               "with --unpaired --tfds.")
    mode = train.add_mutually_exclusive_group(required=True)
    mode.add_argument("--paired", action="store_true", help="pix2pix on aligned (A, B) pairs")
    mode.add_argument("--unpaired", action="store_true", help="CycleGAN on two unpaired domains")
    train.add_argument("--task", choices=PAIRED_TASKS + UNPAIRED_TASKS, default=None,
                       help="offline task from the bundled photographs: edges2photo or gray2colour (paired), "
                            "photo2cartoon (unpaired) (default: edges2photo or photo2cartoon when no --a/--b or "
                            "--tfds is given)")
    train.add_argument("--a", default=None, metavar="DIR", help="folder of domain A images (the inputs)")
    train.add_argument("--b", default=None, metavar="DIR",
                       help="folder of domain B images (the targets; with --paired each named as its A image)")
    train.add_argument("--tfds", default=None, metavar="NAME",
                       help="a tensorflow-datasets cycle_gan set, e.g. cycle_gan/horse2zebra (--unpaired only)")
    train.add_argument("--data-dir", default=None, metavar="DIR",
                       help="tensorflow-datasets data_dir holding a prepared copy of --tfds")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--steps", type=positive_int, default=2000, help="training steps (default: %(default)s)")
    train.add_argument("--crop", type=_crop, default=None,
                       help="side of the square training crops, a multiple of the generator's size multiple "
                            "(default: 64)")
    train.add_argument("--batch-size", type=positive_int, default=None,
                       help="crops per step (default: 8 paired, 4 unpaired)")
    train.add_argument("--filters", type=positive_int, default=None,
                       help="filters of the generators' first layer (default: 32)")
    train.add_argument("--depth", type=positive_int, default=None,
                       help="U-Net levels (--paired; crops must be multiples of 2**depth) (default: 6)")
    train.add_argument("--blocks", type=positive_int, default=None,
                       help="residual blocks of the ResNet generators (--unpaired) (default: 6)")
    train.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default: 2e-4)")
    train.add_argument("--l1-weight", type=non_negative_float, default=None,
                       help="weight of the L1 loss (--paired) (default: 100)")
    train.add_argument("--adversarial-weight", type=non_negative_float, default=None,
                       help="weight of the adversarial loss; 0 trains the U-Net with L1 alone (--paired) "
                            "(default: 1)")
    train.add_argument("--cycle-weight", type=non_negative_float, default=None,
                       help="weight of the cycle-consistency loss (--unpaired) (default: 10)")
    train.add_argument("--identity-weight", type=non_negative_float, default=None,
                       help="weight of the identity loss, relative to the cycle weight (--unpaired) (default: 0.5)")
    train.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--jit-compile", choices=("auto", "true", "false"), default="true",
                       help="XLA compilation of the train step (default: %(default)s)")

    tr = sub.add_parser("translate", help="translate an image or a folder with an export (ONNX Runtime, no "
                                          "TensorFlow)",
                        description="Translate one image file, or every image of a folder, with an exported "
                                    "generator through ONNX Runtime; images of any size (padded by reflection to "
                                    "the generator's size multiple and cropped back). TensorFlow is not imported.")
    tr.add_argument("input", metavar="IN", help="an image file or a folder of images")
    tr.add_argument("--model", required=True, metavar="DIR",
                    help="export folder (model.onnx + metadata.json), or an unpaired export holding a2b/ and b2a/")
    tr.add_argument("--direction", choices=DIRECTIONS, default=None,
                    help="which generator of an unpaired export to run (default: a2b); for a one-generator export, "
                         "checked against its direction")
    tr.add_argument("--out", default=None, metavar="OUT",
                    help="output file (.png/.jpg/.bmp) for an image, output folder for a folder (default: "
                         "<IN>_<direction>.png beside an image, <IN>_<direction>/ beside a folder)")
    tr.add_argument("--grid", default=None, metavar="PNG",
                    help=f"also write a before/after grid of the first {GRID_IMAGES} images to this file")
    return style


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``style`` subcommand; ganapps's ``main`` turns errors into messages and exit codes."""
    return {"train": _train, "translate": _translate}[args.style_command](args)


# -- train ---------------------------------------------------------------------------------------------------
_PAIRED_ONLY = ("depth", "l1_weight", "adversarial_weight")
_UNPAIRED_ONLY = ("blocks", "cycle_weight", "identity_weight", "tfds", "data_dir")
_NOT_SETTINGS = ("tfds", "data_dir")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def training_source(args: argparse.Namespace) -> tuple[str, Any, str | None]:
    """``(kind, data for fit, task)`` of ``train``'s arguments, kind "task", "folders" or "tfds"; checks that they
    name one source that suits the mode."""
    mode, other = ("--paired", "--unpaired") if args.paired else ("--unpaired", "--paired")
    for name in _UNPAIRED_ONLY if args.paired else _PAIRED_ONLY:
        if getattr(args, name) is not None:
            raise ValueError(f"{_option(name)}: expected only with {other}; got it with {mode}")
    if getattr(args, "data_dir", None) is not None and args.tfds is None:
        raise ValueError(f"--data-dir: expected only with --tfds; got {args.data_dir!r} without it")
    folders = args.a is not None or args.b is not None
    given = [option for option, used in (("--task", args.task), ("--a/--b", folders), ("--tfds", args.tfds)) if used]
    if len(given) > 1:
        raise ValueError(f"{given[1].split('/')[0]}: expected one data source (--task, --a and --b, or --tfds); "
                         f"got {' and '.join(given)}")
    if folders:
        for option, value in (("--a", args.a), ("--b", args.b)):
            if value is None:
                raise ValueError(f"{option}: expected a folder of domain {option[-1].upper()} images beside "
                                 f"{'--b' if option == '--a' else '--a'}; got none")
            folder = Path(value).expanduser()
            if not folder.is_dir():
                raise FileNotFoundError(f"{option}: expected a folder of images; got {value!r}, which "
                                        f"{'is a file' if folder.exists() else 'does not exist'}")
        return "folders", (str(Path(args.a).expanduser()), str(Path(args.b).expanduser())), None
    if args.tfds is not None:
        return "tfds", args.tfds, None
    tasks = PAIRED_TASKS if args.paired else UNPAIRED_TASKS
    task = args.task or tasks[0]
    if task not in tasks:
        raise ValueError(f"--task: expected {' or '.join(tasks)} with {mode}; got {task!r}")
    return "task", task, task


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The app's constructor arguments that were given on the command line (the app's defaults for the rest)."""
    names = {"crop": "crop", "batch_size": "batch_size", "filters": "filters", "lr": "learning_rate"}
    names.update({name: name for name in (_PAIRED_ONLY if args.paired else _UNPAIRED_ONLY)
                  if name not in _NOT_SETTINGS})
    settings = {target: getattr(args, name) for name, target in names.items() if getattr(args, name) is not None}
    settings["seed"] = args.seed
    settings["jit_compile"] = jit_compile_value(args.jit_compile)
    return settings


def held_out(paired: bool, kind: str, data: Any, data_dir: str | None = None) -> tuple[Any, str]:
    """What ``train`` evaluates and draws the trained model on, and a description of it: None for an offline
    task (the app then takes the task's test split), the first test images of a tensorflow-datasets set, or, for
    folders, which have no held-out split, their first few training images."""
    if kind == "task":
        return None, f"the held-out test {'pairs' if paired else 'images'} of {data!r}"
    from ganapps import data as gdata

    if paired:
        pairs = gdata.paired_folders(*data)[:FIGURE_IMAGES]
        return pairs, f"the first {len(pairs)} training pairs (folders have no held-out split)"
    if kind == "tfds":
        images_a, images_b = gdata.translation_tfds(data, "test", data_dir)
        domains = (images_a[:EVALUATION_LIMIT], images_b[:EVALUATION_LIMIT])
        return domains, f"the first {len(domains[0])} + {len(domains[1])} test images of {data!r}"
    from ganapps.images import image_files

    domains = tuple(image_files(folder, option)[:FIGURE_IMAGES] for folder, option in zip(data, ("--a", "--b")))
    return domains, (f"the first {len(domains[0])} + {len(domains[1])} training images (folders have no held-out "
                     "split)")


def format_evaluation(result: dict[str, Any]) -> str:
    """An evaluation as text: a row per image with its numbers, then their means (or the summary figures when
    they are not the rows' means, as the unpaired evaluation's per-direction errors)."""
    rows = list(result.get("per_image") or [])
    summary = {key: value for key, value in result.items() if _is_number(value)}
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key != "image" and key not in columns]
    lines = []
    if rows:
        names = [str(row.get("image", i)) for i, row in enumerate(rows)]
        width = max(5, *(len(name) for name in names))
        widths = [max(8, len(key)) for key in columns]
        header = f"{'image':<{width}}" + "".join(f"  {key:>{w}}" for key, w in zip(columns, widths))
        lines += [header, "-" * len(header)]
        table = list(zip(names, rows))
        numeric = [key for key in columns if all(_is_number(row.get(key)) for row in rows)]
        if numeric == columns and all(key in summary for key in columns):
            table.append(("mean", summary))
        for name, row in table:
            if name == "mean" and row is summary:
                lines.append("-" * len(header))
            cells = [f"{row[key]:>{w}.4f}" if _is_number(row.get(key)) else f"{str(row.get(key, '')):>{w}}"
                     for key, w in zip(columns, widths)]
            lines.append(f"{name:<{width}}" + "".join(f"  {cell}" for cell in cells))
        if table[-1][1] is summary:
            return "\n".join(lines)
    if summary:
        lines.append("means: " + ", ".join(f"{key} {value:.4f}" for key, value in summary.items()))
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SETTING_OPTIONS = {"learning_rate": "--lr", "batch_size": "--batch-size", "l1_weight": "--l1-weight",
                    "adversarial_weight": "--adversarial-weight", "cycle_weight": "--cycle-weight",
                    "identity_weight": "--identity-weight", "crop": "--crop", "filters": "--filters",
                    "depth": "--depth", "blocks": "--blocks"}


def _as_option(err: ValueError) -> ValueError:
    """The app's error about a setting, naming the command-line option instead ("crop: ..." -> "--crop: ...")."""
    setting, _, rest = str(err).partition(":")
    return ValueError(f"{_SETTING_OPTIONS[setting]}:{rest}") if setting in _SETTING_OPTIONS and rest else err


def _train(args: argparse.Namespace) -> int:
    kind, data, task = training_source(args)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: expected a folder; got {args.out!r}, which is a file")
    settings = _settings(args)
    start = time.perf_counter()
    from apps.style_transfer.app import PairedTranslator, UnpairedTranslator

    try:
        model = (PairedTranslator if args.paired else UnpairedTranslator)(task=task, **settings)
    except ValueError as err:
        raise _as_option(err) from err
    what = "pix2pix (paired)" if args.paired else "CycleGAN (unpaired)"
    source = {"task": f"the offline task {data!r}", "tfds": f"tensorflow-datasets {data!r}",
              "folders": f"the folders {data[0]!r} (A) and {data[1]!r} (B)"}[kind]
    print(f"training {what} on {source}: {args.steps} steps of {model.settings['batch_size']} crops of "
          f"{model.settings['crop']}x{model.settings['crop']}")
    fit_start = time.perf_counter()
    data_dir = getattr(args, "data_dir", None)
    model.fit(data, steps=args.steps, verbose=1 if sys.stdout.isatty() else 2, data_dir=data_dir)
    trained = time.perf_counter() - fit_start

    out.mkdir(parents=True, exist_ok=True)
    keras_path = model.save(out / KERAS_FILE)
    model.export(out)
    images, described = held_out(args.paired, kind, data, data_dir)
    if args.paired:
        result = model.evaluate(images)
        figures = [model.figure(images, out / FIGURE_FILE)]
    else:
        result = model.evaluate(*(images or (None, None)), data_dir=data_dir)
        figures = [model.figure(None if images is None else images[i], out / name, direction=direction)
                   for i, (direction, name) in enumerate((("a2b", FIGURE_FILE),
                                                          ("b2a", f"{Path(FIGURE_FILE).stem}_b2a.png")))]
    from ganapps._checks import write_atomically

    write_atomically(out / EVALUATION_FILE, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))

    print()
    print(f"evaluation on {described}:")
    print(format_evaluation(result))
    print(f"trained {args.steps} steps in {trained:.1f} s ({args.steps / trained:.2f} steps/s); everything took "
          f"{time.perf_counter() - start:.1f} s")
    print(f"game (continue training with {type(model).__name__}.load): {keras_path}")
    exports = [out] if args.paired else [out / direction for direction in DIRECTIONS]
    print(f"export{'s' if len(exports) > 1 else ''} (ganapps style translate IN --model {out}): "
          f"{', '.join(str(path / 'model.onnx') for path in exports)}")
    print(f"evaluation: {out / EVALUATION_FILE}")
    print(f"before/after: {', '.join(str(path) for path in figures)}")
    return 0


# -- translate -----------------------------------------------------------------------------------------------
def open_translator(model: str, direction: str | None):
    """The :class:`ganapps.runtime.Translator` of ``--model``: the export itself, or, for an unpaired export
    folder (``a2b/`` and ``b2a/``), the one of ``direction`` (default a2b)."""
    from ganapps.runtime import METADATA, Translator

    path = Path(model).expanduser()
    if (path / METADATA).is_file():
        translator = Translator(path)
        if direction is not None and direction != translator.direction:
            raise ValueError(f"--direction: expected {translator.direction!r} or none for {model!r}, an export of "
                             f"one generator ({translator.direction}); got {direction!r}")
        return translator
    if all((path / name / METADATA).is_file() for name in DIRECTIONS):
        return Translator(path / (direction or "a2b"))
    what = ("does not exist" if not path.exists() else "is a file" if not path.is_dir()
            else f"holds neither {METADATA} nor a2b/ and b2a/ exports")
    raise FileNotFoundError(f"--model: expected an export folder (model.onnx + {METADATA}) or an unpaired export "
                            f"holding a2b/ and b2a/; got {model!r}, which {what}")


def _targets(source: Path, out: str | None, direction: str) -> tuple[list[Path], list[Path]]:
    """(input files, output files) for ``IN`` and ``--out``."""
    from ganapps.images import IMAGE_EXTENSIONS, WRITABLE_EXTENSIONS, image_files

    if source.is_dir():
        target = Path(out).expanduser() if out else source.with_name(f"{source.name}_{direction}")
        if target.exists() and not target.is_dir():
            raise ValueError(f"--out: expected a folder for the translations of the folder {str(source)!r}; got "
                             f"{out!r}, which is a file")
        if target.resolve() == source.resolve():
            raise ValueError(f"--out: expected a folder other than IN (the inputs would be overwritten); got {out!r}")
        files = image_files(source, "IN")
        names = [f.name if f.suffix.lower() in WRITABLE_EXTENSIONS else f.name + ".png" for f in files]
        return files, [target / name for name in names]
    if not source.is_file():
        raise FileNotFoundError(f"IN: expected an image file or a folder of images; got {str(source)!r}, which "
                                "does not exist")
    if source.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"IN: expected an image file ({', '.join(IMAGE_EXTENSIONS)}) or a folder; got "
                         f"{str(source)!r}")
    target = Path(out).expanduser() if out else source.with_name(f"{source.stem}_{direction}.png")
    if target.is_dir():
        target = target / (source.stem + ".png")
    if target.suffix.lower() not in WRITABLE_EXTENSIONS:
        raise ValueError(f"--out: expected a file name ending in one of {list(WRITABLE_EXTENSIONS)} (or a folder); "
                         f"got {out!r}")
    return [source], [target]


def _translate(args: argparse.Namespace) -> int:
    from ganapps.images import read_image, save_image

    start = time.perf_counter()
    translator = open_translator(args.model, args.direction)
    if args.grid is not None and Path(args.grid).suffix.lower() != ".png":
        raise ValueError(f"--grid: expected a .png file name; got {args.grid!r}")
    source = Path(args.input).expanduser()
    files, targets = _targets(source, args.out, translator.direction)
    shown = []
    for file, target in zip(files, targets):
        before = read_image(file, argument="IN")
        after = translator.translate(before)
        save_image(after, target)
        if len(shown) < GRID_IMAGES:
            shown.append((before, after))
    seconds = time.perf_counter() - start
    how = f"{translator.direction}, {translator.providers[0]}, {seconds:.2f} s"
    if source.is_dir():
        print(f"translated {len(files)} images of {str(source)!r} into {targets[0].parent} ({how})")
    else:
        height, width = shown[0][0].shape[:2]
        print(f"wrote {targets[0]} ({width}x{height}, {how})")
    if args.grid is not None:
        print(f"before/after grid of {len(shown)} image{'s' if len(shown) > 1 else ''}: "
              f"{before_after_png(shown, args.grid)}")
    return 0


def before_after_png(rows: list[tuple[Any, Any]], path: str | Path, tile: int = GRID_TILE) -> Path:
    """A PNG of one row per image, before | after, each fitted into a ``tile`` x ``tile`` box (aspect kept),
    drawn with Pillow alone so that ``translate`` stays free of TensorFlow and matplotlib."""
    import numpy as np
    from PIL import Image

    from ganapps.images import convert_channels, save_image

    pad = 4
    fitted = []
    for row in rows:
        cells = []
        for image in row:
            pil = Image.fromarray(convert_channels(np.asarray(image), 3))
            scale = min(tile / pil.width, tile / pil.height)
            size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
            cells.append(pil.resize(size, Image.NEAREST if scale > 1 else Image.LANCZOS))
        fitted.append(cells)
    widths = [max(cells[i].width for cells in fitted) for i in range(2)]
    heights = [max(cell.height for cell in cells) for cells in fitted]
    canvas = Image.new("RGB", (sum(widths) + 3 * pad, sum(heights) + (len(fitted) + 1) * pad), "white")
    y = pad
    for cells, height in zip(fitted, heights):
        x = pad
        for cell, width in zip(cells, widths):
            canvas.paste(cell, (x + (width - cell.width) // 2, y + (height - cell.height) // 2))
            x += width + pad
        y += height + pad
    return save_image(np.asarray(canvas), Path(path).expanduser())
