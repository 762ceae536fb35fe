"""Data for the debiasing app: samples with their class labels and groups, from where a command line names them.

    from apps.debias import load_data
    d = load_data("biased-digits:thick", split="train")          # offline: rare bold digits, groups and labels
    d = load_data("faces/", groups="faces.csv")                   # a folder; a CSV of file,group[,label]
    d = load_data("x.npy", groups="groups.npy", labels="y.csv")  # arrays
    d = load_data("tfds:celeb_a", split="train[:2000]", group_key="attributes/Male",
                  label_key="attributes/Smiling", image_size=32)

Every source gives a :class:`DebiasData`: float32 samples (images NHWC in [-1, 1], or vectors), labels and groups
(or None where the source has none) and, for folders, each image's path relative to the folder, so that weights
and synthetic samples can be traced back to files. Folders and ``.npy`` files are read with NumPy and Pillow;
TensorFlow is imported only to resize the digits and to read tensorflow-datasets.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apps.common import image_size_pair, resize_uint8
from ganapps import _checks
from ganapps.images import IMAGE_EXTENSIONS, convert_channels, from_uint8, read_image

__all__ = ["DebiasData", "load_data", "DIGITS", "TFDS_PREFIX"]

DIGITS = "biased-digits"
"""The offline default: :func:`ganapps.data.biased_digits` (``"biased-digits:<attribute>"`` picks the attribute)."""
TFDS_PREFIX = "tfds:"
"""``"tfds:<name>"`` reads the tensorflow-datasets dataset ``<name>``."""
DIGITS_IMAGE_SIZE = 16
_SOURCES = f"{DIGITS!r} (or '{DIGITS}:<attribute>'), '{TFDS_PREFIX}<name>', an image folder or a .npy file"


@dataclass
class DebiasData:
    """Samples and what is known about them; ``labels``/``groups``/``names`` are None where the source lacks them.

    ``x`` is float32: images NHWC in [-1, 1] or vectors ``(n, d)``; ``names`` are the images' paths relative to
    their folder (folders only); ``source`` says where the data came from, for reports.
    """

    x: np.ndarray
    labels: np.ndarray | None
    groups: np.ndarray | None
    names: list[str] | None
    source: str

    @property
    def kind(self) -> str:
        """``"images"`` or ``"vectors"``: what the commands that need images check."""
        return "images" if self.x.ndim == 4 else "vectors"

    def __len__(self) -> int:
        return len(self.x)


# -- shared ----------------------------------------------------------------------------------------------------
def _typed(values: list[Any], argument: str, where: str, integer: bool = False) -> np.ndarray:
    """Cell values as int64 when every one is an integer, else as strings (groups may be names; labels, with
    ``integer``, must be class ids, which is what the downstream classifier trains on)."""
    texts = [v.decode() if isinstance(v, bytes) else v for v in values]
    if all(isinstance(v, (bool, np.bool_)) for v in texts):
        return np.asarray(texts, dtype=np.int64)
    try:
        numbers = [int(str(v).strip()) if not isinstance(v, (int, np.integer)) else int(v) for v in texts]
    except ValueError:
        numbers = None
    if numbers is not None:
        return np.asarray(numbers, dtype=np.int64)
    if integer:
        bad = next(v for v in texts if not str(v).strip().lstrip("-").isdecimal())
        raise _checks.fail(argument, "integer class labels (0, 1, 2, ...)", f"{str(bad)!r} in {where}")
    empty = [i for i, v in enumerate(texts) if not str(v).strip()]
    if empty:
        raise _checks.fail(argument, "a value for every sample", f"an empty value (entry {empty[0]}) in {where}")
    return np.asarray([str(v).strip() for v in texts])


def _column_values(array: np.ndarray, argument: str, where: str, n: int, integer: bool) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise _checks.fail(argument, "one value per sample (a 1-D array or a single column)",
                           f"shape {array.shape} in {where}")
    if len(array) != n:
        raise _checks.fail(argument, f"{n} values, one per sample of the data", f"{len(array)} in {where}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.all(array == np.round(array)):
            raise _checks.fail(argument, "integer values" if integer else "integer or string values",
                               f"non-integer floats in {where}")
        return array.astype(np.int64)
    if array.dtype.kind not in "biuUSO":
        raise _checks.fail(argument, "integer or string values", f"dtype {array.dtype} in {where}")
    return _typed(array.tolist(), argument, where, integer)


def _read_rows(path: Path, argument: str) -> list[list[str]]:
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{argument}: expected a .csv or .npy file; got {str(path)!r}, which {what}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [[cell.strip() for cell in row] for row in csv.reader(handle)]
    rows = [row for row in rows if any(row)]
    if not rows:
        raise _checks.fail(argument, "a .csv file with rows", f"{str(path)!r}, which is empty")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _values_file(path_text: str | os.PathLike, argument: str, column: str, n: int,
                 integer: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One value per sample from a ``.npy`` file or a ``.csv`` (one column, or a header naming ``column``);
    also the other named columns of such a CSV (``label`` beside ``group``), for the caller to use or not."""
    path = Path(path_text).expanduser()
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise FileNotFoundError(f"{argument}: expected a .npy or .csv file; got {str(path_text)!r}, which "
                                    f"does not exist")
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise _checks.fail(argument, "a .npy file of a numeric or string array (no pickled objects)",
                               f"{str(path)!r} ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})"
                               ) from err
        return _column_values(array, argument, path.name, n, integer), {}
    if path.suffix.lower() != ".csv":
        raise _checks.fail(argument, "a .npy or .csv file", repr(str(path_text)))
    rows = _read_rows(path, argument)
    header = [cell.lower() for cell in rows[0]]
    if column in header:
        body = rows[1:]
        widths = {len(row) for row in body}
        if widths - {len(header)}:
            raise _checks.fail(argument, f"rows of {len(header)} cells like the header", f"rows of "
                               f"{sorted(widths)} cells in {path.name}")
        columns = {name: [row[i] for row in body] for i, name in enumerate(header)}
        values = _column_values(np.asarray(columns[column]), argument, path.name, n, integer)
        others = {name: np.asarray(cells) for name, cells in columns.items() if name != column}
        return values, others
    if {len(row) for row in rows} != {1}:
        raise _checks.fail(argument, f"a .csv of one column, or with a header naming a {column!r} column",
                           f"{str(path)!r} with columns {rows[0]}")
    cells = [row[0] for row in rows]
    if len(cells) > 1 and not _is_number(cells[0]) and all(_is_number(c) for c in cells[1:]):
        cells = cells[1:]  # a header over numbers
    return _column_values(np.asarray(cells), argument, path.name, n, integer), {}


# -- biased digits ---------------------------------------------------------------------------------------------
def _digits(data: str, split: str, attribute: str, rare_share: float, size: tuple[int, int] | None,
            seed: int) -> DebiasData:
    from ganapps.data import biased_digits

    if ":" in data:
        attribute = data.split(":", 1)[1]
    x, y, groups = biased_digits(split, attribute=attribute, rare_share=rare_share,
                                 image_size=size or DIGITS_IMAGE_SIZE, seed=seed)
    share = f", {rare_share:g} carrying it" if split == "train" else ", half carrying it"
    return DebiasData(x, y.astype(np.int64), groups.astype(np.int64), None,
                      f"{DIGITS}:{attribute} ({split} split{share})")


# -- image folders ---------------------------------------------------------------------------------------------
def _folder_files(folder: Path) -> list[Path]:
    """The images under ``folder`` and its sub-folders (hidden ones skipped), sorted by relative path."""
    found = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    if not found:
        raise _checks.fail("data", f"a folder holding images ({', '.join(IMAGE_EXTENSIONS)}), in it or in its "
                           "sub-folders", f"{str(folder)!r}, which holds none")
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _read_images(folder: Path, files: list[Path], size: tuple[int, int] | None) -> np.ndarray:
    images = [read_image(f, None, "data") for f in files]
    if len({img.shape[-1] for img in images}) > 1:  # gray when every file is, else RGB
        images = [convert_channels(img, 3, "data") for img in images]
    if size is not None:
        images = [resize_uint8(img, size) for img in images]
    first = images[0].shape
    for f, img in zip(files, images):
        if img.shape[:2] != first[:2]:
            raise _checks.fail("data", f"images of one size, like the first ({files[0].relative_to(folder)}, "
                               f"{first[0]}x{first[1]}): resize them, or pass --image-size",
                               f"{f.relative_to(folder).as_posix()} of {img.shape[0]}x{img.shape[1]}")
    return from_uint8(np.stack(images))


def _match_rows(folder: Path, names: list[str], path: Path) -> tuple[list[int], dict[str, list[str]]]:
    """For each image (by relative path), its row of the CSV ``path``: rows name an image by its path relative to
    ``folder`` or by its file name (when no other image has that name)."""
    rows = _read_rows(path, "groups")
    header = [cell.lower() for cell in rows[0]]
    if "file" not in header or "group" not in header:
        raise _checks.fail("groups", "a CSV whose header holds 'file' and 'group' columns (and optionally "
                           "'label')", f"{str(path)!r} with header {rows[0]}")
    body = rows[1:]
    if not body:
        raise _checks.fail("groups", "a CSV with a row per image", f"{str(path)!r}, which has only a header")
    by_path = {name: i for i, name in enumerate(names)}
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_name.setdefault(name.rsplit("/", 1)[-1], []).append(i)
    file_col = header.index("file")
    owner = [-1] * len(names)
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise _checks.fail("groups", f"rows of {len(header)} cells like the header",
                               f"{len(row)} cells in {path.name}, row {line}")
        key = row[file_col].replace("\\", "/").removeprefix("./")
        if key in by_path:
            image = by_path[key]
        else:
            candidates = by_name.get(key.rsplit("/", 1)[-1], [])
            if len(candidates) != 1:
                what = (f"names {len(candidates)} images of {str(folder)!r} by its file name "
                        f"({', '.join(names[c] for c in candidates[:3])}): give the path relative to the folder"
                        if candidates else f"is not an image of {str(folder)!r}")
                raise _checks.fail("groups", f"every row of {path.name} to name one image of the --data folder",
                                   f"{row[file_col]!r} (row {line}), which {what}")
            image = candidates[0]
        if owner[image] >= 0:
            raise _checks.fail("groups", "one row per image", f"rows {owner[image]} and {line} of {path.name} both "
                               f"name {names[image]!r}")
        owner[image] = line
    missing = [names[i] for i, line in enumerate(owner) if line < 0]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise _checks.fail("groups", f"a row of {path.name} for every image of {str(folder)!r}",
                           f"no row for {', '.join(repr(m) for m in missing[:3])}{more}")
    columns = {name: [body[line - 2][i] for line in owner] for i, name in enumerate(header)}
    return owner, columns


def _folder(folder: Path, groups: Any, labels: Any, size: tuple[int, int] | None) -> DebiasData:
    if labels is not None:
        raise _checks.fail("labels", "None for an image folder: give a 'label' column in the --groups CSV",
                           repr(str(labels)))
    files = _folder_files(folder)
    names = [f.relative_to(folder).as_posix() for f in files]
    found_groups = found_labels = None
    if groups is not None:
        path = Path(groups).expanduser()
        if path.suffix.lower() != ".csv":
            raise _checks.fail("groups", "a .csv file (header: file,group[,label]) for an image folder",
                               repr(str(groups)))
        if not path.is_file():
            raise FileNotFoundError(f"groups: expected a .csv file (header: file,group[,label]); got "
                                    f"{str(groups)!r}, which does not exist")
        _, columns = _match_rows(folder, names, path)
        found_groups = _typed(columns["group"], "groups", path.name)
        if "label" in columns:
            found_labels = _typed(columns["label"], "labels", f"the label column of {path.name}", integer=True)
    x = _read_images(folder, files, size)
    return DebiasData(x, found_labels, found_groups, names, f"folder {str(folder)!r} ({len(names)} images)")


# -- .npy files ------------------------------------------------------------------------------------------------
def _array(path: Path, groups: Any, labels: Any, size: tuple[int, int] | None) -> DebiasData:
    if size is not None:
        raise _checks.fail("image_size", "None for a .npy file (loaded as stored: resize the images before saving "
                           "them, or load an image folder)", f"{size[0]}x{size[1]} for {str(path)!r}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise _checks.fail("data", "a .npy file of a numeric array (no pickled objects)",
                           f"{str(path)!r} ({reason})") from err
    expected = "images (n, H, W[, 1 or 3]) as uint8 or floats in [-1, 1], or vectors (n, d)"
    if array.dtype.kind not in "iuf" or array.ndim not in (2, 3, 4) or len(array) == 0 \
            or (array.ndim == 4 and array.shape[-1] not in (1, 3)):
        raise _checks.fail("data", expected, f"{path.name} of dtype {array.dtype}, shape {array.shape}")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim == 4 and array.dtype == np.uint8:
        x = from_uint8(array)
    else:
        x = array.astype(np.float32)
        if not np.isfinite(x).all():
            raise _checks.fail("data", "finite values", f"NaN or infinite values in {path.name}")
        if x.ndim == 4 and (x.min() < -1.0001 or x.max() > 1.0001):
            raise _checks.fail("data", expected, f"{path.name} with values in [{x.min():.4g}, {x.max():.4g}]")
        if x.ndim == 4:
            x = np.clip(x, -1.0, 1.0)
    n = len(x)
    found_groups = found_labels = None
    if groups is not None:
        found_groups, others = _values_file(groups, "groups", "group", n, integer=False)
        if labels is None and "label" in others:
            found_labels = _typed(others["label"].tolist(), "labels", f"the label column of {Path(groups).name}",
                                  integer=True)
    if labels is not None:
        found_labels, _ = _values_file(labels, "labels", "label", n, integer=True)
    kind = "images" if x.ndim == 4 else "vectors"
    return DebiasData(x, found_labels, found_groups, None, f"{str(path)!r} ({n} {kind})")


# -- tensorflow-datasets ---------------------------------------------------------------------------------------
def _feature(spec: Any, key: str, argument: str, name: str) -> Any:
    """The feature ``key`` of a tfds element spec, where ``"a/b"`` reaches into nested features."""
    node = spec
    for i, part in enumerate(key.split("/")):
        if not isinstance(node, dict) or part not in node:
            where = "/".join(key.split("/")[:i]) or "the dataset"
            has = ", ".join(sorted(node)) if isinstance(node, dict) else "no nested features"
            raise _checks.fail(argument, f"a feature of {name!r} ('a/b' for nested ones; {where} has {has})",
                               repr(key))
        node = node[part]
    return node


def _tfds(data: str, split: str, groups: Any, labels: Any, size: tuple[int, int] | None, group_key: str | None,
          label_key: str | None, data_dir: Any) -> DebiasData:
    import tensorflow as tf

    from ganapps import data as gdata

    name = data[len(TFDS_PREFIX):]
    if not name:
        raise _checks.fail("data", f"'{TFDS_PREFIX}<name>' naming a tensorflow-datasets dataset", repr(data))
    for argument, value in (("groups", groups), ("labels", labels)):
        if value is not None:
            raise _checks.fail(argument, f"None for {data!r}: name its feature with "
                               f"{'group_key' if argument == 'groups' else 'label_key'}", repr(str(value)))
    ds = gdata._tfds_load(name, split, data_dir, shuffle=False, argument="data")
    spec = ds.element_spec
    image_spec = _feature(spec, "image", "data", name)
    if getattr(image_spec, "shape", None) is None or image_spec.shape.rank != 3 or image_spec.shape[-1] not in (1, 3):
        raise _checks.fail("data", "a dataset whose 'image' feature holds single images with 1 or 3 channels",
                           f"{name!r} with image {image_spec}")
    if size is None and not image_spec.shape[:2].is_fully_defined():
        raise _checks.fail("image_size", f"a size: the images of {name!r} differ in size", "None")
    if label_key:
        if label_key == "label" and not (isinstance(spec, dict) and "label" in spec):
            label_key = None  # the default key: a dataset without labels just has none
        else:
            label_spec = _feature(spec, label_key, "label_key", name)
            if getattr(label_spec, "shape", None) is None or label_spec.shape.rank != 0:
                raise _checks.fail("label_key", "a feature holding one class id per example",
                                   f"{label_key!r} of {label_spec}")
    if group_key:
        group_spec = _feature(spec, group_key, "group_key", name)
        if getattr(group_spec, "shape", None) is None or group_spec.shape.rank != 0:
            raise _checks.fail("group_key", "a feature holding one value per example",
                               f"{group_key!r} of {group_spec}")

    def pick(example: dict, key: str) -> Any:
        for part in key.split("/"):
            example = example[part]
        return example

    def prepare(example: dict) -> dict:
        image = tf.cast(example["image"], tf.float32) / 127.5 - 1.0
        if size is not None:
            image = gdata._resize(image, size)
        out = {"x": image}
        if label_key:
            out["label"] = pick(example, label_key)
        if group_key:
            out["group"] = pick(example, group_key)
        return out

    parts: dict[str, list[np.ndarray]] = {}
    for batch in ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(256):
        for key, value in batch.items():
            parts.setdefault(key, []).append(value.numpy())
    if not parts:
        raise _checks.fail("data", "a split with at least one example", f"{name!r} split {split!r}, which is empty")
    x = np.concatenate(parts["x"]).astype(np.float32)
    found_labels = found_groups = None
    if label_key:
        found_labels = _column_values(np.concatenate(parts["label"]), "label_key", f"{name}/{label_key}", len(x),
                                      integer=True)
    if group_key:
        found_groups = _column_values(np.concatenate(parts["group"]), "group_key", f"{name}/{group_key}", len(x),
                                      integer=False)
    return DebiasData(x, found_labels, found_groups, None, f"tfds {name!r} ({split} split, {len(x)} images)")


# -- the entry point -------------------------------------------------------------------------------------------
def load_data(data: str | os.PathLike = DIGITS, split: str = "train", groups: str | os.PathLike | None = None,
              labels: str | os.PathLike | None = None, image_size: int | tuple[int, int] | None = None,
              attribute: str = "thick", rare_share: float = 0.05, seed: int = 0, group_key: str | None = None,
              label_key: str | None = "label", data_dir: str | os.PathLike | None = None) -> DebiasData:
    """Samples, labels and groups for debiasing, from one of four sources.

    Args:
        data: ``"biased-digits"`` or ``"biased-digits:<attribute>"`` (offline; :func:`ganapps.data.biased_digits`,
            groups and labels included; the suffix wins over ``attribute``); an image folder (read with its
            sub-folders, gray if every file is, else RGB); a ``.npy`` file of images (NHWC or NHW, uint8 or
            float in [-1, 1]) or vectors ``(n, d)``; or ``"tfds:<name>"``, a tensorflow-datasets dataset with an
            ``image`` feature, read whole into memory (slice big ones: ``split="train[:5000]"``).
        split: the split of the digits (``"train"``: the attribute is rare; ``"test"``: half carry it) and of a
            tensorflow-datasets dataset (any split expression); files have no split.
        groups: the samples' groups. For a folder: a CSV whose header holds ``file`` and ``group`` (and optionally
            ``label``) columns, a row per image naming it by its path relative to the folder or by its file name;
            an image without a row, or a row without an image, is an error. For a ``.npy`` file: a ``.npy`` file,
            a one-column ``.csv``, or a ``.csv`` with a ``group`` column (and a ``label`` column, used when
            ``labels`` is None). Values that are all integers become int64, others strings.
        labels: the class labels of a ``.npy`` file's samples (as ``groups``; integers).
        image_size: an int or ``(height, width)`` to resize images to (digits: default 16; folders and
            tensorflow-datasets: default as stored, which must then be one size). Refused for ``.npy`` files.
        attribute, rare_share, seed: the digits' planted attribute, its share of the train split, and the seed
            that picks its carriers.
        group_key, label_key: tensorflow-datasets features holding the group and the class label; ``"a/b"`` reaches
            into nested features (celeb_a's ``"attributes/Male"``; booleans become 0/1). A dataset without the
            default ``"label"`` has no labels; any other missing key is an error.
        data_dir: tensorflow-datasets' data_dir holding a prepared copy (this machine may be offline).

    Returns:
        A :class:`DebiasData`.

    Raises:
        ValueError: a bad argument, named (``data:``, ``groups:``, ``labels:``, ...).
        FileNotFoundError: a missing file or folder, or a tensorflow-datasets dataset that cannot be fetched.
    """
    if not isinstance(data, (str, os.PathLike)) or not os.fspath(data):
        raise _checks.fail("data", _SOURCES, repr(data))
    if not isinstance(split, str) or not split:
        raise _checks.fail("split", "a split name such as 'train' or 'test'", repr(split))
    size = image_size_pair(image_size)
    for argument, value in (("groups", groups), ("labels", labels), ("data_dir", data_dir)):
        if value is not None and (not isinstance(value, (str, os.PathLike)) or not os.fspath(value)):
            raise _checks.fail(argument, "None or a file path", repr(value))
    for argument, value in (("group_key", group_key), ("label_key", label_key)):
        if value is not None and (not isinstance(value, str) or not value.strip("/")):
            raise _checks.fail(argument, "None or a feature name such as 'label' or 'attributes/Male'", repr(value))
    text = os.fspath(data)
    if text == DIGITS or text.startswith(DIGITS + ":"):
        for argument, value in (("groups", groups), ("labels", labels)):
            if value is not None:
                raise _checks.fail(argument, f"None for {text!r}, which has its own {argument}", repr(str(value)))
        return _digits(text, split, attribute, rare_share, size, seed)
    if text.startswith(TFDS_PREFIX):
        return _tfds(text, split, groups, labels, size, group_key, label_key, data_dir)
    path = Path(text).expanduser()
    if path.is_dir():
        return _folder(path, groups, labels, size)
    if path.is_file() and path.suffix.lower() == ".npy":
        return _array(path, groups, labels, size)
    if path.is_file():
        raise _checks.fail("data", _SOURCES, f"{text!r}, a file that is not .npy")
    raise FileNotFoundError(f"data: expected {_SOURCES}; got {text!r}, which does not exist")
