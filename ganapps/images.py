"""Image helpers that need only NumPy and Pillow (no TensorFlow): value-range conversion and sample grids.

Inside the library images are float32 NHWC in [-1, 1]; these helpers convert at the edges.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map float images in ``value_range`` to uint8 0..255: ``round((x - lo) / (hi - lo) * 255)``, clipped.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 1.0])).tolist()
        [0, 128, 255]
    """
    lo, hi = value_range
    array = np.asarray(images, dtype=np.float32)
    if np.isnan(array).any():
        raise ValueError(f"images: expected values in [{lo:g}, {hi:g}]; got {int(np.isnan(array).sum())} NaN values")
    return np.clip(np.round((array - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def from_uint8(images: np.ndarray) -> np.ndarray:
    """Map images with values in 0..255 to float32 in [-1, 1]: ``x / 127.5 - 1``.

    Example:
        >>> from_uint8(np.array([0, 255], np.uint8)).tolist()
        [-1.0, 1.0]
    """
    array = np.asarray(images)
    if array.dtype != np.uint8 and array.size:
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 255:
            raise ValueError(f"images: expected values in [0, 255]; got values from {low:.6g} to {high:.6g}")
    return (array.astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def grid(images: np.ndarray, nrow: int | None = None, padding: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile a batch of uint8 NHWC images into one HWC image, ``nrow`` images per row (default: square-ish)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images: expected a batch of shape (N, H, W, C); got shape {images.shape}")
    n, h, w, c = images.shape
    if n == 0:
        raise ValueError("images: expected at least one image; got an empty batch")
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, images.dtype)
    for i, image in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y:y + h, x:x + w] = image
    return out


def save_image(image: np.ndarray, path: str | os.PathLike, scale: int = 1) -> Path:
    """Write one uint8 HWC image as PNG/JPEG (by extension), enlarged ``scale`` times with nearest neighbour.

    The file is written to a temporary name in the same folder and renamed, so a crash leaves no half file.
    """
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8; got {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    pil = Image.fromarray(image)
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        pil.save(tmp, format=_format_for(path))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_grid(images: np.ndarray, path: str | os.PathLike, nrow: int | None = None,
              value_range: tuple[float, float] | None = (-1.0, 1.0), scale: int | None = None) -> Path:
    """Save a batch of images as one PNG grid. Float images are mapped from ``value_range``; uint8 kept as is.

    ``scale`` enlarges small images (default: so that each tile is at least 64 pixels high).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = to_uint8(images, value_range or (-1.0, 1.0))
    if scale is None:
        scale = max(1, 64 // max(1, images.shape[1]))
    return save_image(grid(images, nrow=nrow), path, scale=scale)


def _format_for(path: Path) -> str:
    ext = path.suffix.lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
    if ext not in formats:
        raise ValueError(f"path: expected a file name ending in one of {sorted(formats)}; got {str(path)!r}")
    return formats[ext]
