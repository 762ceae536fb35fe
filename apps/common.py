"""What the apps share: the images they accept from users, the image size they resize them to (and how), and how
they split training steps into epochs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ganapps import _checks
from ganapps.images import convert_channels, from_uint8, read_image

__all__ = ["FIGURE_SUFFIXES", "ImageLike", "as_image", "epoch_schedule", "image_size_pair", "resize_uint8"]

FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")

ImageLike = Any
"""An image the apps accept: a path to an image file (read by :func:`ganapps.images.read_image`), or an HxWxC
(or HxW) array, uint8 0..255 or float in [-1, 1], with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels."""


def as_image(value: ImageLike, channels: int, argument: str) -> tuple[np.ndarray, bool]:
    """``(float32 HxWxC image in [-1, 1] with the model's channels, whether it came as uint8 or a file)``.

    Files and arrays go through the library's one reader and channel converter (:mod:`ganapps.images`), as
    training data and :class:`ganapps.runtime.Upscaler` do: the same file is the same image to all three."""
    if isinstance(value, (str, os.PathLike)):
        return from_uint8(read_image(value, channels, argument)), True
    try:
        array = np.asarray(value)
    except Exception as err:  # noqa: BLE001  (ragged lists and the like)
        raise _checks.fail(argument, "an image array (height, width, channels) or a file path",
                           f"{type(value).__name__} that is not an array ({err})") from err
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) and array.dtype != bool):
        raise _checks.fail(argument, "a numeric image array (uint8 0..255 or float in [-1, 1]) or a file path",
                           f"{type(value).__name__} of dtype {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise _checks.fail(argument, "one image of shape (height, width, channels)", f"shape {array.shape}")
    if array.dtype == np.uint8:
        return from_uint8(convert_channels(array, channels, argument)), True
    if not np.issubdtype(array.dtype, np.floating):
        raise _checks.fail(argument, "uint8 images (0..255) or float images in [-1, 1]", f"dtype {array.dtype}")
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise _checks.fail(argument, "finite pixel values", f"{bad} NaN or Inf among {array.size} values")
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        raise _checks.fail(argument, "float images in [-1, 1] (or uint8 0..255)",
                           f"values from {low:.6g} to {high:.6g}")
    return convert_channels(np.clip(array, -1.0, 1.0).astype(np.float32), channels, argument), False


def image_size_pair(image_size: Any, argument: str = "image_size") -> tuple[int, int] | None:
    """``image_size`` as (height, width), or None to keep the source's size: the apps' loaders take a side or a
    pair, so a command line's single ``--image-size 32`` and a caller's ``(32, 48)`` both work."""
    if image_size is None:
        return None
    if _checks.is_int(image_size) and image_size > 0:
        return int(image_size), int(image_size)
    if isinstance(image_size, (tuple, list)) and len(image_size) == 2 and all(_checks.is_int(v) and v > 0
                                                                              for v in image_size):
        return int(image_size[0]), int(image_size[1])
    raise _checks.fail(argument, "None, a positive int or a (height, width) pair", repr(image_size))


def resize_uint8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An HxWxC uint8 image resized to ``size`` (height, width) bilinearly with Pillow: the apps' folder readers
    resize without TensorFlow, so that scoring an export does not start it."""
    from PIL import Image

    h, w = size
    if image.shape[:2] == (h, w):
        return image
    plane = image[..., 0] if image.shape[-1] == 1 else image
    out = np.asarray(Image.fromarray(plane).resize((w, h), Image.BILINEAR), dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


def epoch_schedule(steps: int) -> tuple[int, int]:
    """(epochs, steps_per_epoch) multiplying to exactly ``steps``: epochs of 100-200 steps when ``steps`` has
    such a divisor (a progress bar per epoch, a History row per epoch), else one epoch of all of them."""
    if steps <= 200:
        return 1, steps
    for per_epoch in (*range(100, 201), *range(99, 19, -1)):
        if steps % per_epoch == 0:
            return steps // per_epoch, per_epoch
    return 1, steps
