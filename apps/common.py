"""What the apps share: the images they accept from users, and how they split training steps into epochs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ganapps import _checks
from ganapps.images import convert_channels, from_uint8, read_image

__all__ = ["FIGURE_SUFFIXES", "ImageLike", "as_image", "epoch_schedule"]

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


def epoch_schedule(steps: int) -> tuple[int, int]:
    """(epochs, steps_per_epoch) multiplying to exactly ``steps``: epochs of 100-200 steps when ``steps`` has
    such a divisor (a progress bar per epoch, a History row per epoch), else one epoch of all of them."""
    if steps <= 200:
        return 1, steps
    for per_epoch in (*range(100, 201), *range(99, 19, -1)):
        if steps % per_epoch == 0:
            return steps // per_epoch, per_epoch
    return 1, steps
