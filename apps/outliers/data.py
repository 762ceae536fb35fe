"""Data for the outlier detector, read without TensorFlow: :func:`load_data` and its file readers.

``ganapps outliers evaluate`` scores with the ONNX export alone, so loading its labelled data must not start
TensorFlow: the digits come from :mod:`ganapps.data`'s in-memory arrays and the library's fixed train/test
partition (the very split its ``tf.data`` pipelines serve), image folders are read with Pillow, ``.npy`` and
``.csv`` files with NumPy and the ``csv`` module. Only resizing the digits (``image_size``) imports TensorFlow, so
that resized digits stay identical to the library's.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from apps.common import image_size_pair, resize_uint8
from ganapps import _checks
from ganapps import data as gdata
from ganapps.images import convert_channels, from_uint8, image_files, read_image

DATA_SUFFIXES = (".npy", ".csv")


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(v)) for v in shape) + (",)" if len(shape) == 1 else ")")


# -- image folders -------------------------------------------------------------------------------------------
def _read_folder(folder: Path, argument: str, channels: int | None = None,
                 size: tuple[int, int] | None = None, expected: tuple[int, ...] | None = None) -> np.ndarray:
    """The folder's images as one uint8 NHWC array: each read by :func:`ganapps.images.read_image`, as training
    folders and the ONNX runner read them. Without ``channels``: grayscale if every file is, else RGB."""
    files = image_files(folder, argument)
    images = [read_image(f, channels, argument) for f in files]
    if channels is None and len({img.shape[-1] for img in images}) > 1:
        images = [convert_channels(img, 3, argument) for img in images]
    if size is not None:
        images = [resize_uint8(img, size) for img in images]
    first = images[0].shape
    for f, img in zip(files, images):
        if expected is not None and img.shape != tuple(expected):
            raise _checks.fail(argument, f"samples of shape {_fmt(expected)} (what the detector was fitted on)",
                               f"{_fmt(img.shape)} in {f.name}")
        if img.shape != first:
            raise _checks.fail(argument, f"images of one size, like the first ({files[0].name}, "
                               f"{first[0]}x{first[1]}); resize them or pass image_size to load_data",
                               f"{f.name} of {img.shape[0]}x{img.shape[1]}")
    return np.stack(images)


# -- array files ---------------------------------------------------------------------------------------------
def _read_csv(path: Path, argument: str) -> np.ndarray:
    """Numeric columns of a CSV file as float64 (n, d); a first row that is not numeric is a header."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise _checks.fail(argument, "a .csv file with rows of numbers", f"{str(path)!r}, which is empty")

    def numbers(row: list[str]) -> list[float] | None:
        try:
            return [float(cell) for cell in row]
        except ValueError:
            return None

    header = numbers(rows[0]) is None
    values = []
    for line, row in enumerate(rows[1:] if header else rows, start=2 if header else 1):
        parsed = numbers(row)
        if parsed is None:
            bad = next(cell for cell in row if numbers([cell]) is None)
            raise _checks.fail(argument, "numeric columns (an optional header row, then numbers)",
                               f"{bad!r} in {path.name}, row {line}")
        values.append(parsed)
    if not values:
        raise _checks.fail(argument, "a .csv file with rows of numbers", f"{str(path)!r}, which has only a header")
    widths = {len(v) for v in values}
    if len(widths) > 1:
        raise _checks.fail(argument, "rows of equal length", f"rows of {sorted(widths)} values in {path.name}")
    return np.asarray(values, dtype=np.float64)


def _read_array_file(path: Path, argument: str) -> np.ndarray:
    """A ``.npy`` file's array as stored, or a ``.csv`` file's numeric columns; errors name ``argument``."""
    if path.suffix.lower() == ".csv":
        return _read_csv(path, argument)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise _checks.fail(argument, "a .npy file of a numeric array (no pickled objects)",
                           f"{str(path)!r} ({reason})") from err


# -- digits --------------------------------------------------------------------------------------------------
def _digits(split: str, size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """``split`` of the digits as writable copies, (n, 8, 8, 1) float32 in [-1, 1] and int32 labels: the samples
    and order of ``ganapps.data._digits_split(split, size, 1)``, without TensorFlow unless resizing."""
    if size is not None:  # resized as the library's pipelines resize them (TensorFlow's bilinear filter)
        images, labels = gdata._digits_split(split, size, 1)
        return np.array(images), np.array(labels)
    images, labels, train = gdata._digits_arrays()
    keep = {"train": train, "test": ~train, "all": np.ones_like(train)}[split]
    return np.array(images[keep], dtype=np.float32, order="C"), np.array(labels[keep])


def load_data(source: str | os.PathLike, split: str = "train", normal_class: int | None = None,
              image_size: int | tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Data for the detector, from where a command line names it, as ``(X, labels or None)``.

    Args:
        source: ``"digits"`` (scikit-learn's 8x8 digits, the library's fixed train/test split, float32
            (n, 8, 8, 1) in [-1, 1], with labels); a folder of images (all read, converted to grayscale if every
            file is gray else RGB, float32 NHWC in [-1, 1]; no labels); a ``.npy`` file (its array, as stored);
            or a ``.csv`` file of numeric columns (float64 vectors; a non-numeric first row is a header).
        split: ``"train"``, ``"test"`` or ``"all"`` (digits only; files have no split).
        normal_class: keep only the samples of this label (the normal data of a one-class experiment); needs
            labelled data (digits).
        image_size: an int or ``(height, width)`` to resize images to (digits, folders; resizing the digits
            imports TensorFlow); None keeps their size. Refused for ``.npy`` and ``.csv`` files, which are
            loaded as stored.

    Returns:
        ``(X, y)``; ``y`` is None for unlabelled sources.
    """
    if split not in gdata.SPLITS:
        raise _checks.fail("split", f"one of {gdata.SPLITS}", repr(split))
    size = image_size_pair(image_size)
    if normal_class is not None and not _checks.is_int(normal_class):
        raise _checks.fail("normal_class", "None or an integer label", repr(normal_class))
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source):
        raise _checks.fail("source", "'digits', a folder of images, a .npy or a .csv file", repr(source))
    labels: np.ndarray | None = None
    if os.fspath(source) == "digits":
        X, labels = _digits(split, size)
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            X = from_uint8(_read_folder(path, "source", size=size))
        elif path.is_file() and path.suffix.lower() in DATA_SUFFIXES:
            if size is not None:
                raise _checks.fail("image_size", "None for a .npy or .csv file (loaded as stored, never resized: "
                                   "resize the images before saving them, or load an image folder)",
                                   f"{image_size!r} for {str(source)!r}")
            X = _read_array_file(path, "source")
        elif path.is_file():
            raise _checks.fail("source", "'digits', a folder of images, a .npy or a .csv file", repr(str(source)))
        else:
            raise FileNotFoundError(f"source: expected 'digits', a folder of images, a .npy or a .csv file; got "
                                    f"{str(source)!r}, which does not exist")
    if normal_class is not None:
        if labels is None:
            raise _checks.fail("normal_class", "None for unlabelled data (only 'digits' has labels)",
                               f"{normal_class!r} for {str(source)!r}")
        known = sorted(int(v) for v in np.unique(labels))
        if int(normal_class) not in known:
            raise _checks.fail("normal_class", f"one of the labels {known}", repr(normal_class))
        keep = labels == int(normal_class)
        X, labels = X[keep], labels[keep]
    return X, labels
