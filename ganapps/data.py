"""Datasets as ``tf.data`` pipelines of float32 NHWC images in [-1, 1].

Three sources, one convention:

* offline defaults that ship inside installed packages, so every tool runs without a network:
  ``"digits"`` (scikit-learn's 8x8 handwritten digits) and ``"photos"`` (the photographs bundled with
  scikit-learn and scikit-image, served as random crops);
* any image dataset of `tensorflow-datasets <https://www.tensorflow.org/datasets>`_ (``"mnist"``,
  ``"fashion_mnist"``, ``"cifar10"``, ...), prepared beforehand when this machine is offline;
* the user's own images in a folder (:func:`image_folder`).

For super-resolution, :func:`random_crops` serves random crops at native resolution (nothing resized) of the
bundled photographs, a tensorflow-datasets dataset, a folder or a list of arrays, and :func:`sr_pairs` turns
batches into ``(low, high)`` pairs by :func:`downscale`.

For image-to-image translation, :func:`translation_pairs` (edges -> photo, grayscale -> colour) and
:func:`unpaired_domains` (photographs vs cartoon renderings of other photographs) make offline tasks of the
bundled photographs; :func:`paired_folders` and :func:`translation_tfds` (``cycle_gan/horse2zebra`` ...) read the
user's; :func:`paired_crops` and :func:`unpaired_crops` serve them as batches of ``(a, b)`` crops.

Every pipeline yields batches of ``images`` (``float32``, shape ``(batch, height, width, channels)``, values in
[-1, 1]) or ``(images, labels)`` with ``int32`` labels::

    from ganapps import data
    images = data.load("digits", image_size=16, batch_size=64, seed=0)
    crops = data.load("photos", image_size=96, num_crops=1024, flip=True, seed=0)
    mnist = data.load("mnist", with_labels=True, data_dir="~/tensorflow_datasets")
    mine = data.image_folder("my_images/", image_size=64)
    patches = data.random_crops("div2k", size=96, data_dir="~/tensorflow_datasets")

Conversions at the edges are :func:`to_uint8` and :func:`from_uint8`; :func:`validate_images` and
:func:`validate_dataset` check data handed to the library and explain what is wrong with it.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganapps import _checks
from ganapps.images import IMAGE_EXTENSIONS, LUMA, convert_channels, from_uint8, image_files, read_image, to_uint8

if TYPE_CHECKING:  # TensorFlow is imported where it is used, so that to_uint8/from_uint8 work without it
    import tensorflow as tf

__all__ = [
    "BIAS_ATTRIBUTES",
    "DatasetUnavailableError",
    "IMAGE_EXTENSIONS",
    "OFFLINE_DATASETS",
    "PHOTO_SPLITS",
    "SPLITS",
    "biased_digits",
    "from_uint8",
    "gaussian_mixture",
    "image_folder",
    "load",
    "load_photos",
    "photo_names",
    "random_crops",
    "to_uint8",
    "validate_dataset",
    "validate_images",
    "downscale",
    "sr_pairs",
    "TRANSLATION_TASKS",
    "UNPAIRED_TASKS",
    "canny_edges",
    "cartoon",
    "paired_crops",
    "paired_folders",
    "translation_pairs",
    "translation_tfds",
    "unpaired_crops",
    "unpaired_domains",
]

OFFLINE_DATASETS = ("digits", "photos")
"""Dataset names that :func:`load` serves from installed packages, without a network."""

SPLITS = ("train", "test", "all")
"""Splits of the offline datasets."""

# IMAGE_EXTENSIONS (from ganapps.images): the file extensions, any case, that image_folder and random_crops read.

PHOTO_SPLITS = {
    "train": ("china", "astronaut", "coffee", "rocket", "coins", "moon", "hubble_deep_field", "motorcycle",
              "brick", "grass", "gravel", "immunohistochemistry", "retina"),
    "test": ("flower", "chelsea", "camera"),
}
"""Which bundled photograph belongs to which split of ``"photos"``; no photograph is in both.

``china`` and ``flower`` come from scikit-learn (``load_sample_images``); the others from ``skimage.data``
(``motorcycle`` is the left view of ``stereo_motorcycle``). ``coins``, ``moon``, ``brick``, ``grass``, ``gravel``
and ``camera`` are grayscale. The textures (brick, grass, gravel), the stained tissue (``immunohistochemistry``)
and the fundus photograph (``retina``) joined the training split for super-resolution, whose models overfit
the first eight (+2.3 dB over bicubic on them against +1.1 dB on the test photos). Only files that scikit-image
ships in its wheel are used: nothing is downloaded.
"""

_DIGITS_TRAIN_FRACTION = 0.8
_DIGITS_SPLIT_SEED = 20240601  # fixes the train/test partition of "digits" forever; independent of `seed`
_DEFAULT_CROP = 64
_DEFAULT_NUM_CROPS = 512
_DEFAULT_SHUFFLE_BUFFER = 10_000
_RANGE_TOLERANCE = 1e-6
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


class DatasetUnavailableError(FileNotFoundError):
    """A tensorflow-datasets dataset could not be fetched or prepared (typically: this machine is offline).

    The message says why, and how to provide the data (a prepared ``data_dir``, or an image folder).
    """


# --------------------------------------------------------------------------------------------------------------
# Argument checks shared by the loaders.


_fail = _checks.fail


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_image_size(image_size: Any, allow_none: bool) -> tuple[int, int] | None:
    """``int`` or ``(h, w)`` -> ``(h, w)``; ``None`` passes through when allowed."""
    if image_size is None and allow_none:
        return None
    expected = "a positive int or a (height, width) pair of positive ints"
    if not allow_none:
        expected += " (it is required)"
    if _is_int(image_size) and image_size > 0:
        return int(image_size), int(image_size)
    if (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(_is_int(v) and v > 0 for v in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise _fail("image_size", expected, repr(image_size))


def _check_batch_size(batch_size: Any) -> int:
    if not (_is_int(batch_size) and batch_size >= 1):
        raise _fail("batch_size", "an int >= 1", repr(batch_size))
    return int(batch_size)


def _check_channels(channels: Any) -> int | None:
    if channels is None or (_is_int(channels) and channels in (1, 3)):
        return None if channels is None else int(channels)
    raise _fail("channels", "None, 1 or 3", repr(channels))


def _check_split(split: Any) -> str:
    if split not in SPLITS:
        raise _fail("split", "one of " + ", ".join(repr(s) for s in SPLITS), repr(split))
    return split


def _check_no_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(
            f"load(): unexpected keyword argument(s) for dataset {name!r}: {', '.join(sorted(kwargs))}"
        )


def _finish(ds: tf.data.Dataset, batch_size: int, drop_remainder: bool, autotune: bool = True) -> tf.data.Dataset:
    """Batch and prefetch. ``autotune=False`` suits small in-memory datasets: with tf.data's autotuning on,
    releasing an epoch's iterator was measured to stall about half of the epochs by ~1 s here
    (benchmarks/RESULTS.md, probe_tfdata_stall.py), a quarter of a digits epoch."""
    import tensorflow as tf

    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if autotune:
        return ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def _resize(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Bilinear antialiased resize of [-1, 1] images, clipped back into [-1, 1]."""
    import tensorflow as tf

    resized = tf.image.resize(images, size, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, -1.0, 1.0)


# --------------------------------------------------------------------------------------------------------------
# The public loader.


def load(
    name: str,
    split: str = "train",
    image_size: int | tuple[int, int] | None = None,
    with_labels: bool = False,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    channels: int | None = None,
    drop_remainder: bool = False,
    **kwargs: Any,
) -> tf.data.Dataset:
    """A dataset by name, as batches of float32 NHWC images in [-1, 1].

    Args:
        name: ``"digits"`` or ``"photos"`` (offline, from installed packages), a tensorflow-datasets name
            (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``, ...), or the path of a folder of images (which
            is handed to :func:`image_folder`; it needs ``image_size``).
        split: ``"train"``, ``"test"`` or ``"all"`` for the offline datasets; any tensorflow-datasets split
            (``"train[:90%]"`` ...) otherwise.
        image_size: an int (square) or ``(height, width)``; ``None`` keeps the native size (64 for the crops
            of ``"photos"``).
        with_labels: yield ``(images, labels)`` with int32 labels instead of ``images``. For ``"photos"`` the
            label is the index of the source photograph in ``photo_names(split)``.
        batch_size: images per batch.
        shuffle: shuffle the examples (every epoch differently).
        seed: makes shuffling and the random crops/flips of ``"photos"`` repeatable.
        data_dir: where tensorflow-datasets finds prepared datasets (ignored by the offline datasets).
        channels: 1 or 3 to convert, ``None`` for the dataset's own (digits 1, photos 3).
        drop_remainder: drop the last, smaller batch.
        **kwargs: per dataset: ``"photos"`` takes ``num_crops`` (crops per epoch, default 512) and ``flip``
            (random horizontal flips, default False); tensorflow-datasets takes ``shuffle_buffer`` (default
            10000) and passes anything else to ``tfds.load``.

    Returns:
        A batched, prefetched ``tf.data.Dataset``.

    Raises:
        ValueError: an unknown ``name``, a bad ``split``, ``image_size``, ``batch_size`` or ``channels``.
        DatasetUnavailableError: a tensorflow-datasets dataset that cannot be fetched here (offline); the
            message says how to provide it.

    Example:
        >>> ds = load("digits", image_size=16, batch_size=32, seed=0)
        >>> images = next(iter(ds))
        >>> tuple(images.shape), images.dtype.name
        ((32, 16, 16, 1), 'float32')
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name):
        raise _fail("name", "a dataset name such as 'digits', 'photos' or 'mnist', or a folder", repr(name))
    batch_size = _check_batch_size(batch_size)
    size = _check_image_size(image_size, allow_none=True)
    channels = _check_channels(channels)
    name_str = os.fspath(name)
    if name_str == "digits":
        _check_no_kwargs(name_str, kwargs)
        return _load_digits(_check_split(split), size, with_labels, batch_size, shuffle, seed, channels,
                            drop_remainder)
    if name_str == "photos":
        num_crops = kwargs.pop("num_crops", _DEFAULT_NUM_CROPS)
        flip = kwargs.pop("flip", False)
        _check_no_kwargs(name_str, kwargs)
        return _load_photo_crops(_check_split(split), size or (_DEFAULT_CROP, _DEFAULT_CROP), with_labels,
                                 batch_size, shuffle, seed, channels, drop_remainder, num_crops, bool(flip))
    if _looks_like_path(name_str) and not _looks_like_folder(name_str):
        raise FileNotFoundError(f"name: expected an existing folder of images (or a dataset name such as "
                                f"'digits'); got {name_str!r}, which does not exist")
    if _looks_like_folder(name_str):
        _check_no_kwargs(name_str, kwargs)
        if size is None:
            raise _fail("image_size", f"a size to resize the images of folder {name_str!r} to", "None")
        return image_folder(name_str, size, batch_size=batch_size, shuffle=shuffle, seed=seed,
                            channels=channels, with_labels=with_labels, drop_remainder=drop_remainder)
    return _load_tfds(name_str, split, size, with_labels, batch_size, shuffle, seed, data_dir, channels,
                      drop_remainder, **kwargs)


def _looks_like_path(name: str) -> bool:
    """Absolute, relative-with-dot, home-relative or slash-terminated: a path, never a tfds name
    (tfds names may hold a slash in the middle, as in 'cycle_gan/horse2zebra')."""
    return name.startswith(("/", ".", "~")) or name.endswith(("/", os.sep))


def _looks_like_folder(name: str) -> bool:
    """An existing directory is the user's image folder (it wins over a tensorflow-datasets name)."""
    return os.path.isdir(os.path.expanduser(name))


# --------------------------------------------------------------------------------------------------------------
# "digits": scikit-learn's 8x8 digits, held in memory.


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images in [-1, 1] of shape (n, 8, 8, 1), int32 labels, bool mask of the train split)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0 * 2.0 - 1.0)[..., None]
    labels = bunch.target.astype(np.int32)
    rng = np.random.default_rng(_DIGITS_SPLIT_SEED)
    train = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        train[members[: int(round(_DIGITS_TRAIN_FRACTION * len(members)))]] = True
    for array in (images, labels, train):
        array.setflags(write=False)
    return images, labels, train


@functools.lru_cache(maxsize=8)
def _digits_split(split: str, size: tuple[int, int] | None, channels: int) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    images, labels, train = _digits_arrays()
    keep = {"train": train, "test": ~train, "all": np.ones_like(train)}[split]
    images, labels = images[keep], labels[keep]
    if size is not None and size != images.shape[1:3]:
        images = _resize(tf.constant(images), size).numpy()
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    images = np.ascontiguousarray(images, dtype=np.float32)
    images.setflags(write=False)
    return images, labels


def _load_digits(split, size, with_labels, batch_size, shuffle, seed, channels, drop_remainder):
    import tensorflow as tf

    images, labels = _digits_split(split, size, channels or 1)
    ds = tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images)
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return _finish(ds, batch_size, drop_remainder, autotune=False)


# --------------------------------------------------------------------------------------------------------------
# "digits" with a planted bias: a visual attribute, not the label, that is rare in training.


BIAS_ATTRIBUTES = ("thick", "rotated", "inverted")
"""Attributes :func:`biased_digits` can plant: bold strokes, a 45 degree turn, black ink on white paper."""

_BIAS_SPLITS = ("train", "test")
_ROTATION_DEGREES = 45.0
_THICK_RADIUS_AT_16 = 2  # pixels at 16x16; scales with the image


def _disk(radius: int) -> np.ndarray:
    """A digital disk: the offsets (i, j) with i^2 + j^2 <= r^2 + r (r=1: the 3x3 square; r=2: 5x5 less its
    corners)."""
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius + radius


def _thicken(images: np.ndarray) -> np.ndarray:
    """Grey-level dilation by a disk of radius 1/8 of the image (2 pixels at 16x16): strokes gain about that
    much on each side and the digit reads as bold. A 3x3 square at 16x16 was tried first: a classifier
    trained on 5% bold digits lost only ~6 points of accuracy on them (noise across seeds), against ~16 with
    this disk; trained on a balanced split it loses ~1 point either way, so the shape still tells the label."""
    from scipy import ndimage

    radius = max(1, int(round(_THICK_RADIUS_AT_16 * min(images.shape[1:3]) / 16)))
    footprint = _disk(radius)[None, :, :, None]
    return ndimage.grey_dilation(images, footprint=footprint, mode="constant", cval=-1.0)


def _rotate(images: np.ndarray) -> np.ndarray:
    """Each digit turned 45 degrees counter-clockwise about the image centre (bilinear, paper filled in where the
    frame had none). The frame keeps its size, so ink in the source's corners may leave it: about 3% of the
    digits' ink lies outside the inscribed circle, the faint ends of strokes, too little to hide the digit."""
    from scipy import ndimage

    turned = ndimage.rotate(images, _ROTATION_DEGREES, axes=(2, 1), reshape=False, order=1, mode="constant",
                            cval=-1.0)
    return np.clip(turned, -1.0, 1.0)


def _invert(images: np.ndarray) -> np.ndarray:
    """Black ink on white paper: in [-1, 1] that is the negation."""
    return -images


_ATTRIBUTE_TRANSFORMS = {"thick": _thicken, "rotated": _rotate, "inverted": _invert}


def _attribute_carriers(labels: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A bool mask of ``round(share * n)`` carriers, stratified by label so every class holds its share (the
    largest remainders, broken at random, place the carriers a proportional split leaves over); within a class
    the carriers are a uniform random subset, so the attribute says nothing about the label."""
    classes, sizes = np.unique(labels, return_counts=True)
    total = int(round(share * len(labels)))
    quotas = share * sizes
    counts = np.floor(quotas).astype(np.int64)
    left_over = total - int(counts.sum())
    if left_over > 0:
        order = np.lexsort((rng.random(len(classes)), -(quotas - counts)))
        counts[order[:left_over]] += 1
    carriers = np.zeros(len(labels), dtype=bool)
    for label, count in zip(classes, counts):
        members = np.flatnonzero(labels == label)
        carriers[rng.choice(members, size=int(count), replace=False)] = True
    return carriers


def biased_digits(
    split: str = "train",
    attribute: str = "thick",
    rare_share: float = 0.05,
    image_size: int | tuple[int, int] = 16,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits with a planted bias: a visual attribute that is rare in training and common in test.

    A classifier trained on ``split="train"`` sees the attribute on only ``rare_share`` of its samples, so it
    learns the common look and does worse on the rare one; ``split="test"`` carries the attribute on half of its
    samples (in every class), so the gap between the groups is measurable. It is the small offline task for
    dataset debiasing (:mod:`ganapps.debias`) and group metrics (:mod:`ganapps.fairness`).

    The train/test partition is that of ``load("digits")``; the images are resized to ``image_size`` first
    (bilinear, antialiased) and the attribute is applied at that size, where it is clearly visible (at the
    source 8x8 a dilation would fill the digit in):

    * ``"thick"``: a grey-level dilation by a disk of radius 1/8 of the image (2 pixels at 16x16): bold strokes.
    * ``"rotated"``: turned 45 degrees counter-clockwise about the centre (bilinear).
    * ``"inverted"``: black ink on white paper.

    Carriers are drawn with ``seed`` independently of the label but stratified by it: each class carries the
    attribute on its proportional share (as nearly as whole samples allow), so the bias is in the attribute and
    no class misses the rare group while ``rare_share`` times the class size is at least one. The carriers
    depend on ``split``, ``rare_share`` and ``seed`` only: every attribute marks the same samples, so attributes
    compare on equal terms.
    ``np.bincount(groups)`` gives the group sizes; ``np.bincount(y[groups == 1])`` the carriers per class.

    Args:
        split: ``"train"`` (``rare_share`` carry the attribute) or ``"test"`` (half carry it).
        attribute: one of :data:`BIAS_ATTRIBUTES`.
        rare_share: the share of the train split carrying the attribute, in [0, 1]; ignored by ``"test"``.
        image_size: an int (square) or ``(height, width)``.
        seed: picks the carriers; the same seed gives the same groups (and so the same images).

    Returns:
        ``(x, y, groups)``: float32 images NHWC in [-1, 1] with one channel, int32 labels 0..9, and int32 groups
        (1: carries the attribute, 0: does not). Group 0 images are exactly those of ``load("digits")``.

    Raises:
        ValueError: a bad ``split``, ``attribute``, ``rare_share``, ``image_size`` or ``seed``.

    Example:
        >>> x, y, groups = biased_digits("train", attribute="thick", rare_share=0.05, seed=0)
        >>> x.shape, np.bincount(groups).tolist()
        ((1438, 16, 16, 1), [1366, 72])
    """
    if split not in _BIAS_SPLITS:
        raise _fail("split", "'train' (the attribute is rare) or 'test' (half carry it)", repr(split))
    if not isinstance(attribute, str) or attribute not in BIAS_ATTRIBUTES:
        raise _fail("attribute", "one of " + ", ".join(repr(a) for a in BIAS_ATTRIBUTES), repr(attribute))
    share = _finite_number(rare_share, "rare_share", "a number in [0, 1] (the share of train carrying the "
                                                      "attribute)", positive=False)
    if share > 1:
        raise _fail("rare_share", "a number in [0, 1] (the share of train carrying the attribute)",
                    repr(rare_share))
    size = _check_image_size(image_size, allow_none=False)
    if not (_is_int(seed) and seed >= 0):
        raise _fail("seed", "a non-negative int", repr(seed))
    images, labels = _digits_split(split, size, 1)
    x, y = np.array(images, dtype=np.float32), np.array(labels, dtype=np.int32)
    rng = np.random.default_rng(int(seed))
    carriers = _attribute_carriers(y, share if split == "train" else 0.5, rng)
    if carriers.any():
        x[carriers] = _ATTRIBUTE_TRANSFORMS[attribute](x[carriers]).astype(np.float32)
    return x, y, carriers.astype(np.int32)


# --------------------------------------------------------------------------------------------------------------
# "photos": photographs bundled with scikit-learn and scikit-image, served as random crops.


def photo_names(split: str = "all") -> list[str]:
    """The names of the bundled photographs in ``split`` (``"train"``, ``"test"`` or ``"all"``).

    Example:
        >>> photo_names("test")
        ['flower', 'chelsea', 'camera']
    """
    split = _check_split(split)
    if split == "all":
        return list(PHOTO_SPLITS["train"] + PHOTO_SPLITS["test"])
    return list(PHOTO_SPLITS[split])


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    """One bundled photograph, uint8, (H, W, 3) for colour or (H, W, 1) for grayscale; read-only."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    image = np.ascontiguousarray(image)
    image.setflags(write=False)
    return image


def load_photos(split: str = "test", channels: int | None = None) -> list[np.ndarray]:
    """The whole bundled photographs of ``split`` as uint8 HWC arrays, in the order of :func:`photo_names`.

    Use it to evaluate on photographs a model never saw in training (e.g. super-resolution on ``"test"``).

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        channels: ``None`` keeps each photo's own (3 for colour, 1 for grayscale), 3 repeats grayscale to RGB,
            1 converts RGB to luma (ITU-R BT.601).

    Example:
        >>> [p.shape for p in load_photos("test")]
        [(427, 640, 3), (300, 451, 3), (512, 512, 1)]
    """
    channels = _check_channels(channels)
    return [convert_channels(_photo(n), channels, "channels").copy() for n in photo_names(split)]


def _load_photo_crops(split, size, with_labels, batch_size, shuffle, seed, channels, drop_remainder,
                      num_crops, flip):
    if not (_is_int(num_crops) and num_crops >= 1):
        raise _fail("num_crops", "an int >= 1 (random crops per epoch)", repr(num_crops))
    names = photo_names(split)
    photos = load_photos(split, channels=channels or 3)
    heights = np.array([p.shape[0] for p in photos], dtype=np.int32)
    widths = np.array([p.shape[1] for p in photos], dtype=np.int32)
    crop_h, crop_w = size
    if crop_h > heights.min() or crop_w > widths.min():
        smallest = names[int(np.argmin(np.minimum(heights, widths)))]
        raise _fail(
            "image_size",
            f"a crop that fits every photo of split {split!r} (at most {heights.min()}x{widths.min()}; "
            f"the smallest is {smallest!r})",
            repr(size),
        )
    # `shuffle=False` still draws random crops (that is what the dataset is); it only makes a given `seed`
    # replay the same crops every epoch instead of new ones.
    return _crop_pipeline(photos, size, batch_size, seed, flip, num_crops, rerandomize=shuffle,
                          with_labels=with_labels, drop_remainder=drop_remainder)


_TENSOR_ALIGNMENT = 64  # bytes: a CPU tensor can share a NumPy buffer only if it starts on such a boundary


def _aligned_empty(size: int, dtype: Any) -> np.ndarray:
    """An uninitialised 1-D array whose data starts on a :data:`_TENSOR_ALIGNMENT` boundary."""
    dtype = np.dtype(dtype)
    raw = np.empty(size * dtype.itemsize + _TENSOR_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % _TENSOR_ALIGNMENT
    return raw[start: start + size * dtype.itemsize].view(dtype)


def _shared_tensor(array: np.ndarray) -> tf.Tensor:
    """A tensor over the memory of ``array`` (from :func:`_aligned_empty`), through DLPack. TensorFlow's own
    conversion copies a large array, slowly and with two copies held at its peak: for 2.3 GB of pixels it was
    measured at 7 to 15 s and 7.4 GB here, against milliseconds and no copy this way."""
    import tensorflow as tf

    try:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    except Exception:  # noqa: BLE001 - an older NumPy/TensorFlow without DLPack support: copy instead
        return tf.convert_to_tensor(array)


def _crop_pipeline(images: list[np.ndarray], size: tuple[int, int], batch_size: int, seed: int | None, flip: bool,
                   num_crops: int, rerandomize: bool, with_labels: bool = False,
                   drop_remainder: bool = False) -> tf.data.Dataset:
    """Random ``size`` crops, drawn in the graph, of in-memory images of any sizes (each at least ``size``).

    ``images`` share one channel count and one dtype: uint8 (served as ``x / 127.5 - 1``) or float32 in [-1, 1]
    (served as they are). They are packed end to end into one flat buffer, so images of very different sizes
    cost only their own pixels (a canvas padded to the largest would cost the largest's pixels times their
    number); a crop gathers its rows from that buffer. Each crop picks an image uniformly at random, then a
    window uniformly at random, then (with ``flip``) a horizontal flip with probability 1/2: one stateless draw
    of four uniforms per crop, keyed by ``tf.data.Dataset.random(seed)``, so a seed replays the same crops.
    The list ``images`` is consumed: its entries are set to ``None`` as they are packed.
    """
    import tensorflow as tf

    depth, dtype, n_images = images[0].shape[-1], images[0].dtype, len(images)
    heights = np.array([image.shape[0] for image in images], dtype=np.int64)
    widths = np.array([image.shape[1] for image in images], dtype=np.int64)
    lengths = heights * widths * depth
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = _aligned_empty(int(lengths.sum()), dtype)
    for i, (offset, length) in enumerate(zip(offsets, lengths)):
        flat[offset: offset + length] = images[i].reshape(-1)
        images[i] = None  # released as it is packed: the peak is one copy of the images, not two
    buffer_t = _shared_tensor(flat)
    del flat
    offsets_t, heights_t, widths_t = tf.constant(offsets), tf.constant(heights), tf.constant(widths)
    crop_h, crop_w = size
    row = tf.range(crop_w * depth, dtype=tf.int64)
    rows = tf.range(crop_h, dtype=tf.int64)
    is_uint8 = dtype == np.uint8

    def crop(draw: tf.Tensor) -> Any:
        u = tf.random.stateless_uniform([4], seed=tf.stack([draw, tf.constant(0, tf.int64)]))
        index = tf.minimum(tf.cast(u[0] * n_images, tf.int32), n_images - 1)
        height, width = heights_t[index], widths_t[index]
        top = tf.cast(u[1] * tf.cast(height - crop_h + 1, tf.float32), tf.int64)
        left = tf.cast(u[2] * tf.cast(width - crop_w + 1, tf.float32), tf.int64)
        top = tf.minimum(top, height - crop_h)
        left = tf.minimum(left, width - crop_w)
        starts = offsets_t[index] + ((top + rows) * width + left) * depth
        patch = tf.reshape(tf.gather(buffer_t, starts[:, None] + row[None, :]), (crop_h, crop_w, depth))
        if flip:
            patch = tf.cond(u[3] < 0.5, lambda: tf.reverse(patch, axis=[1]), lambda: patch)
        patch = tf.cast(patch, tf.float32)
        if is_uint8:
            patch = patch / 127.5 - 1.0
        patch = tf.ensure_shape(patch, (crop_h, crop_w, depth))
        return (patch, index) if with_labels else patch

    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=rerandomize).take(num_crops)
    ds = draws.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds, batch_size, drop_remainder)


# --------------------------------------------------------------------------------------------------------------
# tensorflow-datasets.


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_DOWNLOAD_HOST = "storage.googleapis.com"  # where tensorflow-datasets fetches prepared data and most sources


def _network_available(host: str = _DOWNLOAD_HOST) -> bool:
    """Whether the download host resolves: a fast offline check (milliseconds when there is no network)."""
    import socket

    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _tfds_prepared(name: str, data_dir: str | None) -> bool:
    """Whether ``name`` is already prepared in ``data_dir`` (True for names tfds doesn't know: tfds.load then
    raises its own error, which :func:`_load_tfds` turns into one naming ``name``)."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir).is_prepared()
    except Exception:  # noqa: BLE001 - unknown names, bad configs: left to tfds.load's error handling
        return True


def _unavailable(name: str, split: str, data_dir: str | None, reason: str,
                 argument: str = "name") -> DatasetUnavailableError:
    where = f"data_dir={data_dir!r}" if data_dir else "the default data_dir (~/tensorflow_datasets)"
    return DatasetUnavailableError(
        f"{argument}: could not fetch the tensorflow-datasets dataset {name!r} (split {split!r}, {where}); "
        f"reason: {reason}. This machine may be offline. To provide it: on a connected machine "
        f"run `tfds build {name} --data_dir DIR` (or `tfds.load({name!r}, data_dir=DIR)`), copy DIR "
        f"here and pass data_dir=DIR (`--data-dir DIR` on the command line); or use a folder of your own "
        f"images (ganapps.data.image_folder(PATH, image_size), `--data PATH`); or an offline dataset: "
        + ", ".join(repr(n) for n in OFFLINE_DATASETS) + ".")


def _tfds_load(name: str, split: str, data_dir: str | os.PathLike | None, shuffle: bool, argument: str = "name",
               **kwargs: Any) -> tf.data.Dataset:
    """``tfds.load`` with the library's errors: an unknown name is a ``ValueError`` naming ``argument`` and
    suggesting close names, a bad split names ``split``, and data that cannot be fetched (offline) is a
    :class:`DatasetUnavailableError` saying how to provide it, raised at once when the download host does not
    resolve."""
    import tensorflow_datasets as tfds

    if data_dir is not None:
        data_dir = os.path.expanduser(os.fspath(data_dir))
    if not _tfds_prepared(name, data_dir) and not _network_available():
        # Fail now: tensorflow-datasets would spend minutes retrying downloads before giving up.
        raise _unavailable(name, split, data_dir, "it is not prepared in that data_dir, and this machine cannot "
                                                  "resolve the download host (no network)", argument)
    try:
        return tfds.load(name, split=split, data_dir=data_dir, shuffle_files=shuffle, **kwargs)
    except tfds.core.DatasetNotFoundError:
        offline = ", ".join(repr(n) for n in OFFLINE_DATASETS)
        close = difflib.get_close_matches(name, list(OFFLINE_DATASETS) + list(tfds.list_builders()), n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise _fail(
            argument,
            f"an offline dataset ({offline}), a tensorflow-datasets image dataset such as 'mnist', "
            f"'fashion_mnist' or 'cifar10', or an existing folder of images{hint}",
            f"{name!r}, which none of these knows",
        ) from None
    except TypeError:  # a wrong keyword argument for tfds.load: not a download problem
        raise
    except Exception as exc:  # noqa: BLE001 - tfds raises many kinds when it cannot download/prepare
        if "unknown split" in str(exc).lower():
            raise _fail("split", f"a split of {name!r} ({_one_line(exc)})", repr(split)) from exc
        raise _unavailable(name, split, data_dir, _one_line(exc), argument) from exc


def _load_tfds(name, split, size, with_labels, batch_size, shuffle, seed, data_dir, channels, drop_remainder,
               **kwargs):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    shuffle_buffer = kwargs.pop("shuffle_buffer", _DEFAULT_SHUFFLE_BUFFER)
    if not (_is_int(shuffle_buffer) and shuffle_buffer >= 1):
        raise _fail("shuffle_buffer", "an int >= 1", repr(shuffle_buffer))
    kwargs.setdefault("read_config", tfds.ReadConfig(shuffle_seed=seed))
    ds = _tfds_load(name, split, data_dir, shuffle, **kwargs)
    spec = ds.element_spec
    if not isinstance(spec, dict) or "image" not in spec:
        keys = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise _fail("name", "a tensorflow-datasets dataset with an 'image' feature", f"{name!r} with {keys}")
    if with_labels and "label" not in spec:
        raise _fail("with_labels", "a dataset with a 'label' feature", f"{name!r} with {sorted(spec)}")
    if spec["image"].shape.rank != 3:
        raise _fail("name", "a dataset of single images (height, width, channels)",
                    f"{name!r} with image shape {spec['image'].shape}")
    if size is None and not spec["image"].shape[:2].is_fully_defined():
        raise _fail("image_size", f"a size: the images of {name!r} differ in size, so they cannot be batched "
                                  "as they are", "None")
    native_channels = spec["image"].shape[-1]

    def prepare(example: dict[str, tf.Tensor]) -> Any:
        image = tf.image.convert_image_dtype(example["image"], tf.float32)
        if native_channels in (2, 4) or (channels is not None and native_channels != channels):
            image = _to_channels(image, channels or native_channels - 1)
        image = image * 2.0 - 1.0
        if size is not None:
            image = _resize(image, size)
        if with_labels:
            return image, tf.cast(example["label"], tf.int32)
        return image

    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds, batch_size, drop_remainder)


# --------------------------------------------------------------------------------------------------------------
# Folders of the user's own images.


def _find_images(root: str, recursive: bool) -> list[str]:
    found = []
    if recursive:
        for folder, subfolders, files in os.walk(root, followlinks=True):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            found += [os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
    else:
        found = [
            os.path.join(root, f)
            for f in sorted(os.listdir(root))
            if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(root, f))
        ]
    return found


def _describe_contents(root: str) -> str:
    entries = sorted(os.listdir(root))
    if not entries:
        return "an empty folder"
    extensions: dict[str, int] = {}
    for _, _, files in os.walk(root):
        for f in files:
            ext = os.path.splitext(f)[1].lower() or "(no extension)"
            extensions[ext] = extensions.get(ext, 0) + 1
    if not extensions:
        return f"a folder with no files ({len(entries)} entries: {', '.join(entries[:5])})"
    listing = ", ".join(f"{n} {ext}" for ext, n in sorted(extensions.items(), key=lambda kv: -kv[1])[:8])
    return f"a folder with files: {listing}"


def _all_grayscale(files: Sequence[str]) -> bool:
    from PIL import Image

    for path in files:
        with Image.open(path) as image:  # reads the header only
            if image.mode not in _GRAY_MODES:
                return False
    return True


def _to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """An image in [0, 1] with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels -> ``channels`` (1 or 3).

    Alpha is composited onto white: transparent pixels become white.
    """
    import tensorflow as tf

    n = tf.shape(image)[-1]
    has_alpha = tf.equal(n % 2, 0)
    colour = image[..., : n - tf.cast(has_alpha, tf.int32)]
    colour = tf.cond(has_alpha, lambda: colour * image[..., -1:] + (1.0 - image[..., -1:]), lambda: colour)
    if channels == 3:
        colour = tf.cond(tf.equal(tf.shape(colour)[-1], 1), lambda: tf.tile(colour, [1, 1, 3]), lambda: colour)
    else:
        colour = tf.cond(
            tf.equal(tf.shape(colour)[-1], 3),
            lambda: tf.reduce_sum(colour * tf.constant(LUMA, tf.float32), axis=-1, keepdims=True),
            lambda: colour,
        )
    return tf.ensure_shape(colour, [None, None, channels])


def image_folder(
    path: str | os.PathLike,
    image_size: int | tuple[int, int],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    channels: int | None = None,
    with_labels: bool = False,
    recursive: bool = True,
    *,
    crop_to_aspect_ratio: bool = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """The user's own images (PNG, JPEG, BMP, GIF first frame) as batches of float32 NHWC in [-1, 1].

    Images are decoded by TensorFlow as the pipeline runs (so a large folder is not held in memory) and resized
    to ``image_size`` (bilinear, antialiased). Grayscale, gray+alpha, RGB and RGBA files may be mixed:
    transparent pixels are composited onto white, grayscale is repeated to RGB when ``channels=3`` and RGB is
    reduced to luma (ITU-R BT.601) when ``channels=1``.

    Args:
        path: the folder.
        image_size: an int (square) or ``(height, width)``; required.
        batch_size: images per batch.
        shuffle: shuffle the files, every epoch differently.
        seed: makes the shuffling repeatable.
        channels: 1 or 3; ``None`` means 1 if every image is grayscale, else 3.
        with_labels: yield ``(images, labels)``: the label of an image is the index of its immediate sub-folder
            of ``path`` in the sorted list of sub-folders (hidden ones excluded), which the returned dataset
            carries as ``ds.class_names``. Images lying directly in ``path`` are then left out.
        recursive: also look into sub-folders (always true when ``with_labels``).
        crop_to_aspect_ratio: centre-crop each image to the aspect ratio of ``image_size`` before resizing,
            instead of stretching it.
        drop_remainder: drop the last, smaller batch.

    Returns:
        A batched, prefetched ``tf.data.Dataset`` with attributes ``class_names`` (a list of sub-folder names
        when ``with_labels``, else ``None``) and ``file_paths`` (the images, in label order before shuffling).

    Example:
        >>> ds = image_folder("pets/", image_size=64, with_labels=True)  # doctest: +SKIP
        >>> ds.class_names  # doctest: +SKIP
        ['cats', 'dogs']
    """
    import tensorflow as tf

    if not isinstance(path, (str, os.PathLike)):
        raise _fail("path", "a folder path (str or os.PathLike)", repr(path))
    root = os.path.expanduser(os.fspath(path))
    if not os.path.exists(root):
        raise FileNotFoundError(f"path: expected an existing folder of images; got {root!r}, which does not exist")
    if not os.path.isdir(root):
        raise _fail("path", "a folder of images", f"{root!r}, which is a file, not a folder")
    size = _check_image_size(image_size, allow_none=False)
    batch_size = _check_batch_size(batch_size)
    channels = _check_channels(channels)

    class_names: list[str] | None = None
    if with_labels:
        class_names = sorted(
            d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d))
        )
        files, labels = [], []
        for label, class_name in enumerate(class_names):
            found = _find_images(os.path.join(root, class_name), recursive=True)
            files += found
            labels += [label] * len(found)
    else:
        files = _find_images(root, recursive)
        labels = []
    if not files:
        what = "sub-folders (one per class) holding images" if with_labels else "images"
        raise _fail(
            "path",
            f"a folder with {what} ending in {', '.join(IMAGE_EXTENSIONS)} (any case)"
            + ("" if recursive or with_labels else ", directly inside it (recursive=False)"),
            f"{root!r}: {_describe_contents(root)}",
        )
    if channels is None:
        channels = 1 if _all_grayscale(files) else 3

    height, width = size

    def decode(file_path: tf.Tensor) -> tf.Tensor:
        raw = tf.io.read_file(file_path)
        image = tf.io.decode_image(raw, channels=0, dtype=tf.uint8, expand_animations=False)
        image = _to_channels(tf.cast(image, tf.float32) / 255.0, channels)
        if crop_to_aspect_ratio:
            shape = tf.shape(image)
            h, w = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
            target = height / width
            crop_h = tf.cast(tf.minimum(h, tf.round(w * target)), tf.int32)
            crop_w = tf.cast(tf.minimum(w, tf.round(h / target)), tf.int32)
            crop_h, crop_w = tf.maximum(crop_h, 1), tf.maximum(crop_w, 1)
            image = tf.image.crop_to_bounding_box(
                image, (shape[0] - crop_h) // 2, (shape[1] - crop_w) // 2, crop_h, crop_w
            )
        return _resize(image * 2.0 - 1.0, size)

    ds = tf.data.Dataset.from_tensor_slices(
        (files, np.asarray(labels, dtype=np.int32)) if with_labels else files
    )
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if with_labels:
        ds = ds.map(lambda f, y: (decode(f), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = _finish(ds, batch_size, drop_remainder)
    ds.class_names = class_names
    ds.file_paths = list(files)
    return ds


# --------------------------------------------------------------------------------------------------------------
# Checks and conversions at the edges.


def _shape_mismatch(expected: Sequence[int | None], given: Sequence[int | None]) -> bool:
    return len(expected) != len(given) or any(
        e is not None and g is not None and int(e) != int(g) for e, g in zip(expected, given)
    )


def _is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


def _check_expected_shape(expected_shape: Any) -> tuple[int | None, ...]:
    if hasattr(expected_shape, "as_list"):  # a tf.TensorShape
        expected_shape = expected_shape.as_list()
    if (
        isinstance(expected_shape, (tuple, list))
        and len(expected_shape) == 3
        and all(v is None or (_is_int(v) and v > 0) for v in expected_shape)
    ):
        return tuple(None if v is None else int(v) for v in expected_shape)
    raise _fail("expected_shape", "(height, width, channels) with positive ints or None", repr(expected_shape))


def validate_images(x: Any, argument: str = "x", expected_shape: Sequence[int | None] | None = None) -> None:
    """Raise a ``ValueError`` naming ``argument`` unless ``x`` is a non-empty batch of NHWC images in [-1, 1].

    Checks, in order: rank 4, at least one sample, ``expected_shape`` ``(height, width, channels)`` (``None``
    matches any size), no NaN or Inf, values within [-1, 1]. A ``tf.data.Dataset`` is handed to
    :func:`validate_dataset`.

    Example:
        >>> validate_images(np.zeros((2, 8, 8, 1), np.float32), expected_shape=(8, 8, 1))
        >>> validate_images(np.full((2, 8, 8, 1), 255.0), argument="real")
        Traceback (most recent call last):
        ...
        ValueError: real: expected images scaled to [-1, 1] (e.g. `x / 127.5 - 1`); got values from 255 to 255
    """
    if _is_dataset(x):
        validate_dataset(x, argument=argument, expected_shape=expected_shape)
        return
    try:
        array = np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise _fail(argument, "an array of images (batch, height, width, channels)", _one_line(exc)) from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise _fail(argument, "a numeric array of images", f"dtype {array.dtype}")
    if array.ndim != 4:
        hint = " (a single image? add a batch axis: x[None])" if array.ndim == 3 else ""
        raise _fail(argument, "a rank-4 array of images (batch, height, width, channels)",
                    f"rank {array.ndim} with shape {array.shape}{hint}")
    if array.shape[0] == 0:
        raise _fail(argument, "at least one image", f"an empty batch of shape {array.shape}")
    if expected_shape is not None:
        expected = _check_expected_shape(expected_shape)
        if _shape_mismatch(expected, array.shape[1:]):
            raise _fail(argument, f"images of shape (height, width, channels) = {expected}",
                        f"{tuple(array.shape[1:])} (batch shape {array.shape})")
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
        n_nan = int(np.isnan(array).sum())
        n_inf = int(np.isinf(array).sum())
        if n_nan or n_inf:
            raise _fail(argument, "finite values", f"{n_nan} NaN and {n_inf} Inf among {array.size} values")
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        hint = "; uint8 images: use ganapps.data.from_uint8" if array.dtype == np.uint8 else ""
        raise _fail(argument, f"images scaled to [-1, 1] (e.g. `x / 127.5 - 1`{hint})",
                    f"values from {low:.6g} to {high:.6g}")


def validate_dataset(
    ds: tf.data.Dataset, argument: str = "x", expected_shape: Sequence[int | None] | None = None
) -> None:
    """Check that ``ds`` yields batches of images (or ``(images, labels, ...)`` tuples) and validate its first.

    The element spec is checked without reading data (batched, rank 4, ``expected_shape``); then the first
    batch goes through :func:`validate_images`. An empty dataset raises a ``ValueError``.

    Example:
        >>> validate_dataset(load("digits", batch_size=8), expected_shape=(8, 8, 1))
    """
    import tensorflow as tf

    if not _is_dataset(ds):
        raise _fail(argument, "a tf.data.Dataset", type(ds).__name__)
    spec = ds.element_spec
    if isinstance(spec, (tuple, list)):
        if not spec:
            raise _fail(argument, "a dataset of images or (images, labels)", "elements that are empty tuples")
        spec = spec[0]
    elif isinstance(spec, dict):
        raise _fail(argument, "a dataset of images or (images, labels) tuples",
                    f"dict elements with keys {sorted(spec)} (map them to images first)")
    if not isinstance(spec, tf.TensorSpec):
        raise _fail(argument, "a dataset of image tensors", f"elements of {spec!r}")
    shape = spec.shape
    if shape.rank is not None and shape.rank != 4:
        hint = " (not batched? call .batch(batch_size))" if shape.rank == 3 else ""
        raise _fail(argument, "batches of images (batch, height, width, channels)",
                    f"elements of shape {shape}{hint}")
    if expected_shape is not None and shape.rank == 4:
        expected = _check_expected_shape(expected_shape)
        if _shape_mismatch(expected, shape.as_list()[1:]):
            raise _fail(argument, f"images of shape (height, width, channels) = {expected}",
                        f"a dataset of shape {shape}")
    first = next(iter(ds.take(1)), None)
    if first is None:
        raise _fail(argument, "a dataset with at least one batch", "the dataset is empty")
    images = first[0] if isinstance(first, (tuple, list)) else first
    validate_images(images, argument=argument, expected_shape=expected_shape)


# --------------------------------------------------------------------------------------------------------------
# 2-D Gaussian mixtures: the mode-collapse benchmarks.

_MIXTURE_STD = {"ring": 0.02, "grid": 0.05}
"""Default standard deviation of each component of :func:`gaussian_mixture`'s mixtures."""


def gaussian_mixture(kind: str, n: int, seed: int = 0, std: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Samples of a 2-D Gaussian mixture whose modes are easy to count, to see whether a GAN collapses.

    The two standard benchmarks of Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN), at their
    scale: ``"ring"`` is 8 Gaussians evenly spaced on a circle of radius 2 (the first on the positive x axis),
    std 0.02; ``"grid"`` is 25 Gaussians centred on {-4, -2, 0, 2, 4}^2, std 0.05. Both keep that original
    scale, so the modes lie far apart relative to their width (a GAN that covers them shows it unambiguously);
    the values are not in [-1, 1], so the generator needs a linear output layer (``nets.mlp_generator``'s
    default). Each sample picks its mode uniformly at random. Score a generator with
    :func:`ganapps.metrics.mode_coverage`.

    Args:
        kind: ``"ring"`` or ``"grid"``.
        n: number of samples.
        seed: the same seed gives the same samples.
        std: standard deviation of every component; ``None`` for the benchmark's (0.02 ring, 0.05 grid).

    Returns:
        ``(samples, centers)``: float32 arrays of shapes ``(n, 2)`` and ``(modes, 2)``.

    Example:
        >>> x, centers = gaussian_mixture("ring", 1000, seed=0)
        >>> x.shape, centers.shape
        ((1000, 2), (8, 2))
    """
    if kind not in _MIXTURE_STD:
        raise _fail("kind", "one of " + ", ".join(repr(k) for k in _MIXTURE_STD), repr(kind))
    if not (_is_int(n) and n >= 1):
        raise _fail("n", "a positive int (number of samples)", repr(n))
    if not (_is_int(seed) and seed >= 0):
        raise _fail("seed", "a non-negative int", repr(seed))
    if std is None:
        std = _MIXTURE_STD[kind]
    elif isinstance(std, bool) or not isinstance(std, (int, float, np.integer, np.floating)) \
            or not np.isfinite(std) or std < 0:
        raise _fail("std", "a finite non-negative number (or None for the benchmark's)", repr(std))
    if kind == "ring":
        angles = 2.0 * np.pi * np.arange(8) / 8
        centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        axis = np.arange(-4.0, 5.0, 2.0)
        centers = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    rng = np.random.default_rng(seed)
    modes = rng.integers(len(centers), size=int(n))
    samples = centers[modes] + float(std) * rng.standard_normal((int(n), 2))
    return samples.astype(np.float32), centers.astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# Random crops at native resolution, from any source (super-resolution training).

_CROP_SOURCES = ("'photos', a list of HxWxC images (uint8 0..255 or float [-1, 1]), a folder of images or a "
                 "tensorflow-datasets name such as 'div2k'")
_MAX_LISTED = 5


def random_crops(
    source: str | os.PathLike | Sequence[Any] | np.ndarray,
    size: int,
    batch_size: int = 16,
    num_crops: int = 512,
    seed: int | None = 0,
    flip: bool = True,
    channels: int | None = 3,
    image_key: str = "hr",
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
) -> tf.data.Dataset:
    """Random ``size`` x ``size`` crops of whole images at their own resolution, as batches in [-1, 1].

    Super-resolution learns from the original pixels, so nothing is resized: each crop is an exact window of
    one source image (mirrored left-right with ``flip``). Every crop picks a source image uniformly at random,
    then a window uniformly at random, and every epoch draws new crops; the same ``seed`` replays the same
    epochs. Images are decoded once and held in memory (packed end to end, so images of different sizes cost
    only their own pixels): DIV2K's 800 training images take about 7 GB as uint8, which a workstation holds.

    Args:
        source: ``"photos"`` (the bundled photographs of ``split``, offline; see :data:`PHOTO_SPLITS`), a list of
            HxWxC (or HxW) arrays of any sizes, uint8 0..255 or float in [-1, 1] (a 4-D array is a list of its
            images), the path of a folder of PNG/JPEG/BMP/GIF files (searched recursively), or a
            tensorflow-datasets name such as ``"div2k"`` or ``"div2k/bicubic_x4"``. Images with an alpha
            channel are composited onto white.
        size: side of the square crops; every image must be at least this large.
        batch_size: crops per batch (the last batch of an epoch may be smaller).
        num_crops: crops per epoch.
        seed: makes the crops and flips repeatable; ``None`` for different ones every run.
        flip: mirror half of the crops left-right, at random.
        channels: 3 (grayscale repeated), 1 (RGB reduced to ITU-R BT.601 luma) or ``None`` (1 if every image is
            grayscale, else 3).
        image_key: the feature of a tensorflow-datasets dataset that holds the high-resolution images
            (``"hr"`` in DIV2K); datasets without it fall back to their ``"image"`` feature.
        data_dir: where tensorflow-datasets finds prepared datasets (it downloads only when this machine is
            online).
        split: ``"train"``, ``"test"`` or ``"all"`` for ``"photos"``; any split of a tensorflow-datasets
            dataset (``"validation"``, ``"train[:100]"`` ...); ignored for lists and folders.

    Returns:
        A batched, prefetched ``tf.data.Dataset`` of float32 crops of shape ``(batch, size, size, channels)``.

    Raises:
        ValueError: a bad argument, an empty source, an image smaller than ``size`` (all such are named), an
            image that is neither uint8 nor float in [-1, 1], a tensorflow-datasets dataset without
            ``image_key`` or ``"image"`` (its features are listed).
        FileNotFoundError: a path that does not exist; :class:`DatasetUnavailableError` for a
            tensorflow-datasets dataset that cannot be fetched here (the message says how to provide it).

    Example:
        >>> crops = random_crops("photos", size=96, batch_size=16, num_crops=64, seed=0)
        >>> tuple(next(iter(crops)).shape)
        (16, 96, 96, 3)
    """
    size, batch_size, num_crops, seed, flip = _check_crop_arguments(size, batch_size, num_crops, seed, flip)
    channels = _check_channels(channels)
    if not isinstance(image_key, str) or not image_key:
        raise _fail("image_key", "the name of a dataset feature, such as 'hr' or 'image'", repr(image_key))
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise _fail("data_dir", "a folder path or None", repr(data_dir))
    return _source_crops(source, size, batch_size, num_crops, seed, flip, channels, image_key, data_dir, split,
                         argument="source")


def _check_crop_arguments(size: Any, batch_size: Any, num_crops: Any, seed: Any,
                          flip: Any) -> tuple[int, int, int, int | None, bool]:
    """The arguments every crop pipeline shares, checked and normalised to plain Python values."""
    if not (_is_int(size) and size >= 1):
        raise _fail("size", "a positive int (side of the square crops)", repr(size))
    batch_size = _check_batch_size(batch_size)
    if not (_is_int(num_crops) and num_crops >= 1):
        raise _fail("num_crops", "an int >= 1 (random crops per epoch)", repr(num_crops))
    if seed is not None and not _is_int(seed):
        raise _fail("seed", "an int or None", repr(seed))
    if not isinstance(flip, (bool, np.bool_)):
        raise _fail("flip", "True or False", repr(flip))
    return int(size), batch_size, int(num_crops), None if seed is None else int(seed), bool(flip)


def _check_crops_fit(images: list[np.ndarray], labels: list[str], size: int) -> None:
    """Refuse a crop ``size`` larger than any of ``images``, naming those (crops are never resized)."""
    small = [f"{label} ({image.shape[0]}x{image.shape[1]})" for image, label in zip(images, labels)
             if min(image.shape[:2]) < size]
    if small:
        raise _fail("size", f"a crop that fits every image of the source (crops are never resized; at most "
                            f"{min(min(image.shape[:2]) for image in images)})",
                    f"{size}, larger than {len(small)} of {len(images)} images: {_listed(small)}")


def _listed(items: list[str]) -> str:
    """The first few ``items`` joined, with how many more were left out."""
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _source_crops(source: Any, size: int, batch_size: int, num_crops: int, seed: int | None, flip: bool,
                  channels: int | None, image_key: str, data_dir: Any, split: Any,
                  argument: str) -> tf.data.Dataset:
    """:func:`random_crops` on checked arguments; errors about the images name ``argument``."""
    images, labels = _crop_sources(source, image_key, data_dir, split, argument)
    images = _common_format(images, labels, channels, argument)
    _check_crops_fit(images, labels, size)
    return _crop_pipeline(images, (size, size), batch_size, seed, flip, num_crops, rerandomize=True)


def _crop_sources(source: Any, image_key: str, data_dir: Any, split: Any,
                  argument: str = "source") -> tuple[list[Any], list[str]]:
    """The raw images of ``source`` and a label for each, to name an image in an error naming ``argument``."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text == "photos":
            split = _check_split(split)
            return load_photos(split), [f"photo {name!r}" for name in photo_names(split)]
        if _looks_like_folder(text):
            return _read_folder(os.path.expanduser(text), argument)
        if not text:
            raise _fail(argument, _CROP_SOURCES, "''")
        if text in OFFLINE_DATASETS:  # "digits": 8x8 images, nothing to crop
            raise _fail(argument, _CROP_SOURCES, f"{text!r}, whose images are too small to crop")
        if _looks_like_path(text):
            raise FileNotFoundError(f"{argument}: expected {_CROP_SOURCES}; got {text!r}, which is not an existing "
                                    f"folder")
        if not isinstance(split, str) or not split:
            raise _fail("split", "a split of the tensorflow-datasets dataset, such as 'train'", repr(split))
        return _read_tfds_images(text, split, image_key, data_dir, argument)
    if isinstance(source, (list, tuple)):
        images = list(source)
    elif isinstance(source, np.ndarray) or hasattr(source, "numpy"):
        array = np.asarray(source)
        if array.ndim != 4:
            hint = " (one image? pass [image])" if array.ndim in (2, 3) else ""
            raise _fail(argument, f"{_CROP_SOURCES}; an array must hold a batch (N, H, W, C)",
                        f"an array of shape {array.shape}{hint}")
        images = list(array)
    else:
        raise _fail(argument, _CROP_SOURCES, type(source).__name__)
    if not images:
        raise _fail(argument, "at least one image", "an empty list")
    return images, [f"image {i}" for i in range(len(images))]


def _read_folder(root: str, argument: str = "source") -> tuple[list[np.ndarray], list[str]]:
    files = _find_images(root, recursive=True)
    if not files:
        raise _fail(argument, f"a folder with images ending in {', '.join(IMAGE_EXTENSIONS)} (any case)",
                    f"{root!r}: {_describe_contents(root)}")
    # The library's one reader: EXIF orientation applied, transparency composited onto white, 16-bit gray
    # rounded to 8 bits, as the super-resolution app and the ONNX Upscaler read files too.
    images = [read_image(path, argument=argument) for path in files]
    return images, [repr(os.path.relpath(path, root)) for path in files]


def _read_tfds_images(name: str, split: str, image_key: str, data_dir: Any,
                      argument: str = "source") -> tuple[list[np.ndarray], list[str]]:
    import tensorflow_datasets as tfds

    ds = _tfds_load(name, split, data_dir, shuffle=False, argument=argument)
    spec = ds.element_spec
    if not isinstance(spec, dict):
        raise _fail(argument, "a tensorflow-datasets dataset with named features", f"{name!r} with {spec}")
    key = image_key if image_key in spec else "image" if "image" in spec else None
    if key is None:
        raise _fail("image_key", f"a feature of {name!r} holding images (it has {', '.join(sorted(spec))})",
                    repr(image_key))
    if getattr(spec[key], "shape", None) is None or spec[key].shape.rank != 3:
        raise _fail("image_key", f"a feature of {name!r} holding single images (height, width, channels)",
                    f"{key!r} of {spec[key]}")
    images = list(tfds.as_numpy(ds.map(lambda example: example[key])))
    if not images:
        raise _fail(argument, "a dataset split with at least one image", f"{name!r} split {split!r} is empty")
    return images, [f"{name!r} {split} example {i}" for i in range(len(images))]


def _source_image(image: Any, label: str, argument: str = "source") -> np.ndarray:
    """``image`` as uint8 or float32 [-1, 1] HxWxC with 1 or 3 channels (alpha composited onto white)."""
    try:
        array = np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - anything that is not array-like is the caller's mistake
        raise _fail(argument, "images as arrays (height, width, channels)", f"{label}: {_one_line(exc)}") from exc
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4) or 0 in array.shape:
        raise _fail(argument, "images of shape (height, width, channels) with 1 to 4 channels",
                    f"{label} of shape {array.shape}")
    if array.dtype == np.uint8:
        pass
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise _fail(argument, "finite values", f"NaN or Inf in {label}")
        low, high = float(array.min()), float(array.max())
        if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
            raise _fail(argument, "float images in [-1, 1] (or uint8 images in 0..255)",
                        f"{label} with values from {low:.6g} to {high:.6g}")
        array = np.clip(array, -1.0, 1.0)
    else:
        hint = " (uint8 values stored as another type? use .astype(np.uint8))" if \
            np.issubdtype(array.dtype, np.integer) else ""
        raise _fail(argument, "uint8 images (0..255) or float images in [-1, 1]",
                    f"{label} of dtype {array.dtype}{hint}")
    return convert_channels(array, None, argument)  # alpha composited onto white; colour kept


def _common_format(images: list[Any], labels: list[str], channels: int | None,
                   argument: str = "source") -> list[np.ndarray]:
    """One channel count and one dtype for all: uint8 if every image is uint8, else float32 in [-1, 1]."""
    arrays = [_source_image(image, label, argument) for image, label in zip(images, labels)]
    target = channels or (1 if all(array.shape[-1] == 1 for array in arrays) else 3)
    as_float = any(array.dtype != np.uint8 for array in arrays)
    out = []
    for array in arrays:
        array = convert_channels(array, target, argument)  # uint8 converted as uint8, as read_image does
        out.append(from_uint8(array) if as_float and array.dtype == np.uint8 else array)
    return out


# --------------------------------------------------------------------------------------------------------------
# Super-resolution pairs.


def downscale(images: Any, scale: int, method: str = "bicubic") -> tf.Tensor:
    """Shrink [-1, 1] NHWC images by ``scale`` with antialiasing (bicubic by default, as SRGAN and ESRGAN make
    their low-resolution inputs), clipped to [-1, 1]. Height and width are cut down to multiples of ``scale``
    first (the bottom and right edges are dropped)."""
    import tensorflow as tf

    scale = _checks.positive_int(scale, "scale")
    if method not in ("bicubic", "bilinear", "area"):
        raise _fail("method", "'bicubic', 'bilinear' or 'area'", repr(method))
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    h, w = shape[1] // scale, shape[2] // scale
    images = images[:, :h * scale, :w * scale]
    small = tf.image.resize(images, tf.stack([h, w]), method=method, antialias=True)
    return tf.clip_by_value(small, -1.0, 1.0)


def sr_pairs(images: Any, scale: int, method: str = "bicubic") -> tf.data.Dataset:
    """``(low_resolution, high_resolution)`` pairs for super-resolution training, made by :func:`downscale`.

    Args:
        images: a ``tf.data.Dataset`` of batches of [-1, 1] NHWC images (labels, if any, are dropped), or one
            array of them (served as one batch).
        scale: the downscaling factor; image height and width must be multiples of it.
        method: the degradation's kernel: ``"bicubic"`` (default), ``"bilinear"`` or ``"area"``.

    Example:
        >>> pairs = sr_pairs(load("photos", image_size=96, batch_size=16), scale=4)  # (16, 24, 24, 3), (16, 96, 96, 3)
    """
    import tensorflow as tf

    scale = _checks.positive_int(scale, "scale")
    if not _is_dataset(images):
        validate_images(images, argument="images")
        images = tf.data.Dataset.from_tensors(np.asarray(images, np.float32))
    spec = images.element_spec
    if isinstance(spec, (tuple, list)):
        images = images.map(lambda x, *rest: x)
        spec = images.element_spec
    shape = tuple(spec.shape)
    if len(shape) != 4:
        raise _fail("images", "batches of NHWC images", f"elements of shape {shape}")
    for size in shape[1:3]:
        if size is not None and size % scale:
            raise _fail("images", f"height and width that are multiples of scale={scale}",
                        f"images of {shape[1]}x{shape[2]}")
    return images.map(lambda x: (downscale(x, scale, method), x), num_parallel_calls=2)


# --------------------------------------------------------------------------------------------------------------
# Image-to-image translation: offline paired and unpaired tasks, aligned crops, folders and tensorflow-datasets.

TRANSLATION_TASKS = ("edges2photo", "gray2colour")
"""Paired tasks of :func:`translation_pairs`, made offline from the bundled photographs."""

UNPAIRED_TASKS = ("photo2cartoon",)
"""Unpaired tasks of :func:`unpaired_domains`, made offline from the bundled photographs."""

_EDGE_INK, _EDGE_PAPER = 0, 255  # pix2pix's edges2* datasets draw black lines on white


def _unit_image(image: Any, argument: str) -> np.ndarray:
    """``image`` (uint8 0..255 or float [-1, 1], HxW or HxWxC) as float64 HxWxC in [0, 1], 1 or 3 channels."""
    array = _source_image(image, "an array", argument)
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    return (array.astype(np.float64) + 1.0) / 2.0


def _luma(unit: np.ndarray) -> np.ndarray:
    """HxW luma (BT.601, as everywhere in the library) of a [0, 1] HxWxC image with 1 or 3 channels."""
    return unit @ LUMA if unit.shape[-1] == 3 else unit[..., 0]


def _finite_number(value: Any, argument: str, expected: str, positive: bool) -> float:
    """``value`` as a float, refused unless it is a finite number above 0 (``positive``) or at least 0."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating)) \
        and bool(np.isfinite(value)) and (value > 0 if positive else value >= 0)
    if not ok:
        raise _fail(argument, expected, repr(value))
    return float(value)


_SIGMA = "a finite positive number (a Gaussian's standard deviation in pixels)"


def canny_edges(image: Any, sigma: float = 2.0) -> np.ndarray:
    """The edge map of ``image`` as pix2pix's edges2* datasets draw it: black lines (0) on white (255).

    The Canny detector (``skimage.feature.canny``) runs on the image's luma, so colour and grayscale photographs
    give the same kind of sketch; a larger ``sigma`` keeps only coarser edges.

    Args:
        image: uint8 (0..255) or float ([-1, 1]) pixels, HxW or HxWxC with 1 to 4 channels (alpha composited
            onto white).
        sigma: the standard deviation, in pixels, of the Gaussian smoothing before edge detection.

    Returns:
        uint8 HxWx1.

    Example:
        >>> edges = canny_edges(load_photos("test")[1])
        >>> edges.shape, sorted(np.unique(edges).tolist())
        ((300, 451, 1), [0, 255])
    """
    from skimage.feature import canny

    sigma = _finite_number(sigma, "sigma", _SIGMA, positive=True)
    edges = canny(_luma(_unit_image(image, "image")), sigma=sigma)
    return np.where(edges, _EDGE_INK, _EDGE_PAPER).astype(np.uint8)[..., None]


_STRETCH_PERCENTILES = (1.0, 99.0)


def cartoon(image: Any, levels: int = 6, smoothing: float = 0.1, edge_sigma: float | None = 2.0) -> np.ndarray:
    """A deterministic cartoon rendering: flat regions of few colours with dark outlines.

    It gives the unpaired translation task a second domain that really differs from photographs, made offline
    and repeatably: total-variation denoising (Chambolle) flattens textures while keeping edges, the
    contrast is stretched (1st to 99th percentile over all channels, so hues stay), every channel is quantised
    to ``levels`` values, and the Canny edges of the flattened luma, thickened to 3 pixels, are inked black.

    Args:
        image: uint8 (0..255) or float ([-1, 1]) pixels, HxW or HxWxC with 1 to 4 channels.
        levels: values per channel after quantisation (2 to 256); fewer is flatter.
        smoothing: the weight of the total-variation denoising (0 to skip it); larger flattens more.
        edge_sigma: the Canny smoothing of the outlines in pixels; ``None`` draws no outlines.

    Returns:
        uint8 HxWxC with the image's colour channels (1 or 3).

    Example:
        >>> toon = cartoon(load_photos("test")[1])
        >>> toon.shape, len(np.unique(toon[..., 0])) <= 6
        ((300, 451, 3), True)
    """
    from scipy import ndimage
    from skimage.feature import canny
    from skimage.restoration import denoise_tv_chambolle

    if not (_is_int(levels) and 2 <= levels <= 256):
        raise _fail("levels", "an int from 2 to 256 (values per channel)", repr(levels))
    smoothing = _finite_number(smoothing, "smoothing", "a finite number >= 0 (the total-variation weight; 0 skips it)",
                               positive=False)
    edge_sigma = None if edge_sigma is None else _finite_number(edge_sigma, "edge_sigma", _SIGMA, positive=True)
    unit = _unit_image(image, "image")
    flat = denoise_tv_chambolle(unit, weight=smoothing, channel_axis=-1) if smoothing > 0 else unit
    low, high = np.percentile(flat, _STRETCH_PERCENTILES)
    if high > low:
        flat = (flat - low) / (high - low)
    steps = int(levels) - 1
    toon = np.round(np.clip(flat, 0.0, 1.0) * steps) / steps
    if edge_sigma is not None:
        outline = ndimage.binary_dilation(canny(_luma(flat), sigma=edge_sigma), ndimage.generate_binary_structure(2, 2))
        toon[outline] = 0.0
    return np.round(toon * 255.0).astype(np.uint8)


def _check_task(task: Any, tasks: tuple[str, ...]) -> str:
    if task not in tasks:
        close = difflib.get_close_matches(str(task), tasks, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail("task", "one of " + ", ".join(repr(t) for t in tasks) + hint, repr(task))
    return task


def translation_pairs(task: str = "edges2photo", split: str = "train") -> list[tuple[np.ndarray, np.ndarray]]:
    """Offline paired translation data: ``(A, B)`` uint8 whole images made from the bundled photographs.

    ``"edges2photo"``: A is :func:`canny_edges` of B (HxWx1, black on white), B every photograph of ``split``
    as RGB (grayscale ones repeated). ``"gray2colour"``: A is the luma of B (HxWx1), B every colour photograph
    of ``split`` (the grayscale ones have no colour to recover, so they are left out). Pairs are aligned pixel
    for pixel; serve them to a game with :func:`paired_crops`. The splits keep :data:`PHOTO_SPLITS`, so the
    ``"test"`` pairs come from photographs no ``"train"`` pair saw.

    Example:
        >>> [(a.shape, b.shape) for a, b in translation_pairs("gray2colour", "test")]
        [((427, 640, 1), (427, 640, 3)), ((300, 451, 1), (300, 451, 3))]
    """
    task = _check_task(task, TRANSLATION_TASKS)
    names = photo_names(_check_split(split))
    if task == "gray2colour":
        names = [name for name in names if _photo(name).shape[-1] == 3]
    pairs = []
    for name in names:
        photo = convert_channels(_photo(name), 3).copy()
        source = canny_edges(photo) if task == "edges2photo" else convert_channels(photo, 1)
        pairs.append((source, photo))
    return pairs


def _domain_halves(split: str) -> tuple[list[str], list[str]]:
    """The photographs of ``split`` dealt alternately, in :func:`photo_names` order, into two disjoint halves."""
    names = photo_names(split)
    return names[0::2], names[1::2]


@functools.lru_cache(maxsize=None)
def _cartoon_photo(name: str) -> np.ndarray:
    """:func:`cartoon` of one bundled photograph (as RGB), computed once (the largest takes seconds)."""
    toon = cartoon(convert_channels(_photo(name), 3))
    toon.setflags(write=False)
    return toon


def unpaired_domains(task: str = "photo2cartoon", split: str = "train") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Offline unpaired translation data: two lists of uint8 RGB images from two domains that really differ.

    ``"photo2cartoon"``: domain A holds photographs, domain B :func:`cartoon` renderings of *other*
    photographs. The photographs of ``split`` are dealt alternately (in :func:`photo_names` order) into two
    halves, the first half served as photographs and the second only as cartoons, so no (photo, cartoon) pair
    exists for a model to see. Serve them with :func:`unpaired_crops`.

    Returns:
        ``(images_a, images_b)``: lists of uint8 HxWx3 arrays (grayscale photographs repeated to RGB).

    Example:
        >>> photos, toons = unpaired_domains("photo2cartoon", "test")
        >>> len(photos), len(toons)
        (2, 1)
    """
    _check_task(task, UNPAIRED_TASKS)
    photo_half, cartoon_half = _domain_halves(_check_split(split))
    return ([convert_channels(_photo(name), 3).copy() for name in photo_half],
            [_cartoon_photo(name).copy() for name in cartoon_half])


def paired_crops(
    pairs: Sequence[tuple[Any, Any]],
    size: int,
    batch_size: int = 16,
    num_crops: int = 512,
    seed: int | None = 0,
    flip: bool = True,
) -> tf.data.Dataset:
    """Aligned random crops of image pairs, as batches of ``(a, b)`` in [-1, 1] for paired translation.

    Both images of a pair are cut by the same window and mirrored by the same flip, so the crops stay aligned
    pixel for pixel (the two are stacked along channels and cropped as one image by :func:`random_crops`'s
    pipeline). Each crop picks a pair uniformly at random; every epoch draws new crops and ``seed`` replays
    them.

    Args:
        pairs: ``(a, b)`` images of equal height and width, uint8 0..255 or float [-1, 1], HxW or HxWxC. The
            channel counts of the a side and the b side may differ (edges 1, photo 3): each side keeps its own,
            1 if all its images are grayscale, else 3.
        size: side of the square crops; every pair must be at least this large.
        batch_size: pairs per batch (the last batch of an epoch may be smaller).
        num_crops: crops per epoch.
        seed: makes the crops and flips repeatable; ``None`` for different ones every run.
        flip: mirror half of the pairs left-right, at random.

    Returns:
        A ``tf.data.Dataset`` of ``(a, b)`` float32 batches of shapes ``(batch, size, size, channels_a)`` and
        ``(batch, size, size, channels_b)``.

    Example:
        >>> ds = paired_crops(translation_pairs("edges2photo", "test"), size=64, batch_size=8, num_crops=32)
        >>> [tuple(t.shape) for t in next(iter(ds))]
        [(8, 64, 64, 1), (8, 64, 64, 3)]
    """
    size, batch_size, num_crops, seed, flip = _check_crop_arguments(size, batch_size, num_crops, seed, flip)
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise _fail("pairs", "a non-empty list of (a, b) image pairs",
                    "an empty list" if isinstance(pairs, (list, tuple)) else type(pairs).__name__)
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise _fail("pairs", "a list of (a, b) image pairs", f"pair {i}: {_checks.short(pair)}")
    labels = [f"pair {i}" for i in range(len(pairs))]
    images_a = _common_format([pair[0] for pair in pairs], [f"{label} a" for label in labels], None, "pairs")
    images_b = _common_format([pair[1] for pair in pairs], [f"{label} b" for label in labels], None, "pairs")
    unaligned = [f"{label} ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})"
                 for label, a, b in zip(labels, images_a, images_b) if a.shape[:2] != b.shape[:2]]
    if unaligned:
        raise _fail("pairs", "pairs whose two images have the same height and width (aligned pixel for pixel)",
                    _listed(unaligned))
    if images_a[0].dtype != images_b[0].dtype:  # one side uint8, the other float: both float
        images_a, images_b = ([from_uint8(x) if x.dtype == np.uint8 else x for x in side]
                              for side in (images_a, images_b))
    channels_a = images_a[0].shape[-1]
    stacked = [np.concatenate([a, b], axis=-1) for a, b in zip(images_a, images_b)]
    del images_a, images_b
    _check_crops_fit(stacked, labels, size)
    crops = _crop_pipeline(stacked, (size, size), batch_size, seed, flip, num_crops, rerandomize=True)
    return crops.map(lambda x: (x[..., :channels_a], x[..., channels_a:]))


def unpaired_crops(
    images_a: str | os.PathLike | Sequence[Any] | np.ndarray,
    images_b: str | os.PathLike | Sequence[Any] | np.ndarray,
    size: int,
    batch_size: int = 16,
    num_crops: int = 512,
    seed: int | None = 0,
    flip: bool = True,
    channels: int | None = None,
) -> tf.data.Dataset:
    """Independent random crops of two domains, as batches of ``(a, b)`` in [-1, 1] for unpaired translation.

    Each domain is served by :func:`random_crops` with its own stream of draws (both derived from ``seed``), so
    the crops of a batch are unrelated even when the two domains hold related images.

    Args:
        images_a: domain A: a list of HxWxC (or HxW) images, uint8 0..255 or float [-1, 1], of any sizes (a 4-D
            array is a list of its images), or a folder of images. No other strings: for the offline domains call
            :func:`unpaired_domains`, for tensorflow-datasets' ``cycle_gan`` ones :func:`translation_tfds`, and
            pass the lists they return.
        images_b: domain B, likewise.
        size: side of the square crops; every image must be at least this large.
        batch_size: crops of each domain per batch.
        num_crops: crops of each domain per epoch.
        seed: makes the crops and flips repeatable; ``None`` for different ones every run.
        flip: mirror half of the crops left-right, at random.
        channels: 1 or 3 for both domains, or ``None`` for each its own (1 if all its images are grayscale,
            else 3).

    Returns:
        A ``tf.data.Dataset`` of ``(a, b)`` float32 batches of shape ``(batch, size, size, channels)``.

    Example:
        >>> ds = unpaired_crops(*unpaired_domains("photo2cartoon", "test"), size=64, batch_size=8, num_crops=32)
        >>> [tuple(t.shape) for t in next(iter(ds))]
        [(8, 64, 64, 3), (8, 64, 64, 3)]
    """
    import tensorflow as tf

    size, batch_size, num_crops, seed, flip = _check_crop_arguments(size, batch_size, num_crops, seed, flip)
    channels = _check_channels(channels)
    for argument, images in (("images_a", images_a), ("images_b", images_b)):
        _check_domain_source(images, argument)
    seeds = [None, None] if seed is None else [int(s) for s in np.random.SeedSequence(seed).generate_state(2)]
    domains = [_source_crops(images, size, batch_size, num_crops, domain_seed, flip, channels, "image", None,
                             "train", argument) for images, domain_seed, argument in
               zip((images_a, images_b), seeds, ("images_a", "images_b"))]
    return tf.data.Dataset.zip(tuple(domains))


def _check_domain_source(source: Any, argument: str) -> None:
    """Refuse a string or path that is not a folder: :func:`random_crops` would read ``"photos"`` or a
    tensorflow-datasets name as a whole dataset, not as one translation domain."""
    if not isinstance(source, (str, os.PathLike)):
        return
    text = os.fspath(source)
    path = Path(text).expanduser()
    if text and path.is_dir():
        return
    if text and (path.exists() or _looks_like_path(text)):
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{argument}: expected a list of images or a folder of images; got {text!r}, which "
                                f"{what}")
    raise _fail(argument, "a list of images or a folder of images (for the offline domains call "
                          "unpaired_domains(task), for a tensorflow-datasets cycle_gan dataset translation_tfds(name), "
                          "and pass the two lists they return)", f"{text!r}, which is no folder")


def _images_by_stem(folder: Any, argument: str) -> dict[str, Any]:
    """The image files directly in ``folder``, keyed by file name without extension (which must be unique)."""
    if not isinstance(folder, (str, os.PathLike)):
        raise _fail(argument, "a folder path (str or os.PathLike)", repr(folder))
    path = Path(folder).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{argument}: expected a folder of images; got {str(path)!r}, which {what}")
    by_stem: dict[str, Any] = {}
    for file in image_files(path, argument):
        if file.stem in by_stem:
            raise _fail(argument, "one image per file name (pairs are matched by name without extension)",
                        f"{by_stem[file.stem].name!r} and {file.name!r} in {str(path)!r}")
        by_stem[file.stem] = file
    return by_stem


def paired_folders(folder_a: str | os.PathLike, folder_b: str | os.PathLike) -> list[tuple[np.ndarray, np.ndarray]]:
    """Paired translation data from two folders: ``a/x.png`` pairs with ``b/x.jpg`` (file names without
    extension match), as uint8 ``(A, B)`` whole images sorted by name.

    Every image must have its partner, of the same height and width: a pair that is missing or misaligned
    would teach the model wrong, so both are errors listing the names concerned. Files are read as every
    reader in the library reads them (:func:`ganapps.images.read_image`); only the folders' own files are
    read, not sub-folders.

    Raises:
        FileNotFoundError: a folder that does not exist.
        ValueError: a folder without images, two files of one name, unmatched names, pairs of different sizes.

    Example:
        >>> pairs = paired_folders("edges/", "photos/")  # doctest: +SKIP
    """
    files_a, files_b = _images_by_stem(folder_a, "folder_a"), _images_by_stem(folder_b, "folder_b")
    only_a, only_b = sorted(set(files_a) - set(files_b)), sorted(set(files_b) - set(files_a))
    if only_a or only_b:
        unmatched = [f"{len(names)} only in {where} ({_listed([repr(name) for name in names])})"
                     for names, where in ((only_a, "folder_a"), (only_b, "folder_b")) if names]
        raise _fail("folder_b", "an image in folder_b for each image in folder_a, matched by file name without "
                                "extension", "; ".join(unmatched))
    pairs, unaligned = [], []
    for stem in sorted(files_a):
        a, b = read_image(files_a[stem], argument="folder_a"), read_image(files_b[stem], argument="folder_b")
        if a.shape[:2] != b.shape[:2]:
            unaligned.append(f"{stem!r} ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")
        pairs.append((a, b))
    if unaligned:
        raise _fail("folder_b", "images of the same height and width as their partners in folder_a",
                    _listed(unaligned))
    return pairs


_TFDS_TRANSLATION_SPLITS = ("train", "test")


def translation_tfds(
    name: str = "cycle_gan/horse2zebra",
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Unpaired translation data from tensorflow-datasets: the two domains of a ``cycle_gan`` dataset.

    ``split="train"`` reads the splits ``trainA`` and ``trainB``, ``"test"`` reads ``testA`` and ``testB``
    (``cycle_gan/horse2zebra``, ``cycle_gan/monet2photo``, ``cycle_gan/summer2winter_yosemite``, ...). Serve
    them with :func:`unpaired_crops`.

    Returns:
        ``(images_a, images_b)``: lists of uint8 HxWxC arrays, in the dataset's order.

    Raises:
        DatasetUnavailableError: the dataset is not prepared in ``data_dir`` and cannot be fetched (offline);
            the message says how to provide it. ValueError: a bad argument, a dataset without A/B splits.

    Example:
        >>> horses, zebras = translation_tfds(data_dir="~/tensorflow_datasets")  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise _fail("name", "a tensorflow-datasets name such as 'cycle_gan/horse2zebra'", repr(name))
    if split not in _TFDS_TRANSLATION_SPLITS:
        raise _fail("split", "'train' (splits trainA and trainB) or 'test' (testA and testB)", repr(split))
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise _fail("data_dir", "a folder path or None", repr(data_dir))
    domains = []
    for domain in "AB":
        try:
            images, _ = _read_tfds_images(name, split + domain, "image", data_dir, argument="name")
        except ValueError as exc:
            if not str(exc).startswith("split:"):
                raise
            raise _fail("name", "a dataset with the splits trainA, trainB, testA and testB, as the cycle_gan "
                                "datasets have", f"{name!r} ({exc})") from exc
        domains.append([np.asarray(image) for image in images])
    return domains[0], domains[1]
