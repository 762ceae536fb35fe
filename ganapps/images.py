"""Image helpers that need only NumPy and Pillow (no TensorFlow): value-range conversion, reading image files,
channel conversion and sample grids.

Inside the library images are float32 NHWC in [-1, 1]; these helpers convert at the edges. Every reader of user
images (training folders, the super-resolution app, the ONNX Runtime ``Upscaler``) goes through
:func:`read_image` and :func:`convert_channels`, so a file or an array means the same image to all of them:
EXIF orientation applied, transparency composited onto white, RGB reduced to :data:`LUMA`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ganapps import _checks

LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R BT.601 luma weights (full range) of R, G, B: what Pillow's ``convert("L")`` uses; float64, read-only."""
LUMA.setflags(write=False)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""File extensions (case-insensitive) of the images the library reads; of a GIF only the first frame."""

WRITABLE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
"""File extensions :func:`save_image` writes."""

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_GRAY_MODES = frozenset({"1", "L", "F"})  # 8-bit gray once converted (16-bit gray is read apart)


def image_files(folder: str | os.PathLike, argument: str = "folder") -> list[Path]:
    """The image files directly in ``folder`` (by extension, sorted by name); a folder without any is an error
    naming ``argument``, since every caller would otherwise go on with nothing to read."""
    folder = Path(folder)
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: p.name)
    if not files:
        raise _checks.fail(argument, f"a folder holding images ({', '.join(IMAGE_EXTENSIONS)})",
                           f"{str(folder)!r}, which holds none")
    return files


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


def read_image(path: str | os.PathLike, channels: int | None = None, argument: str = "path") -> np.ndarray:
    """One image file as uint8 HxWxC, seen the same way by every reader in the library: EXIF orientation applied
    (a phone photo stands as it was shot, not as its sensor stored it), transparency composited onto white,
    16-bit grayscale rounded to 8 bits, palettes expanded; of an animated GIF only the first frame.

    Args:
        path: the file: anything Pillow opens (PNG, JPEG, BMP, GIF, TIFF, ...).
        channels: None keeps the file's colour (1 for grayscale files, else 3); 1 or 3 converts as
            :func:`convert_channels` does.
        argument: the name the errors give ``path``.

    Raises:
        FileNotFoundError: ``path`` does not exist or is a folder.
        ValueError: a file Pillow cannot read, or a bad ``channels``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    channels = _check_channels(channels)
    if not isinstance(path, (str, os.PathLike)):
        raise _checks.fail(argument, "the path of an image file", f"{type(path).__name__} {_checks.short(path)}")
    file = Path(path).expanduser()
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        raise FileNotFoundError(f"{argument}: expected an image file (PNG, JPEG, ...); got {str(file)!r}, "
                                f"which {what}")
    try:
        with Image.open(file) as image:
            array = _pixels(ImageOps.exif_transpose(image))
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _checks.fail(argument, "an image file Pillow can read (PNG, JPEG, BMP, GIF, ...)",
                           f"{str(file)!r}, which could not be read ({reason})") from err
    return convert_channels(array, channels, argument)


def _pixels(image) -> np.ndarray:
    """A Pillow image as uint8 HxWxC with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels."""
    if image.mode in _SIXTEEN_BIT_MODES:  # 16-bit grayscale: the nearest 8-bit value (65535 / 255 = 257)
        wide = np.asarray(image).astype(np.float64)
        return np.clip(np.round(wide / 257.0), 0, 255).astype(np.uint8)[..., None]
    if image.mode in ("P", "PA", "RGBa"):  # a palette may carry transparency; premultiplied alpha un-done
        image = image.convert("RGBA")
    elif image.mode == "La":
        image = image.convert("LA")
    elif image.mode in _GRAY_MODES:
        image = image.convert("L")
    elif image.mode not in ("LA", "RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def convert_channels(image: np.ndarray, channels: int | None, argument: str = "image",
                     value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """An image (HxWxC, or a batch ``...xHxWxC``) with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels as
    ``channels`` channels, by the library's one rule: transparency composited onto white (what a viewer shows),
    then gray repeated to RGB or RGB reduced to BT.601 luma (:data:`LUMA`).

    uint8 images stay uint8, rounded as :func:`read_image` rounds, so an array and the file it came from give the
    same pixels; float images are taken to lie in ``value_range`` (white is its top) and come back float32.

    Args:
        image: uint8 or float pixels, channels last.
        channels: 1, 3, or None to keep the colour channels (only the alpha channel is composited away).
        argument: the name the errors give ``image``.
        value_range: the range of float images.
    """
    channels = _check_channels(channels)
    array = np.asarray(image)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise _checks.fail(argument, "uint8 (0..255) or float pixels", f"dtype {array.dtype}")
    if array.ndim < 3 or array.shape[-1] not in (1, 2, 3, 4):
        raise _checks.fail(argument, "images with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, "
                                     "channels last", f"shape {array.shape}")
    lo, hi = (0.0, 255.0) if array.dtype == np.uint8 else (float(value_range[0]), float(value_range[1]))
    work = array.astype(np.float64) if array.dtype == np.uint8 else array
    changed = False
    if array.shape[-1] in (2, 4):
        alpha = np.clip((work[..., -1:] - lo) / (hi - lo), 0.0, 1.0)
        work = work[..., :-1] * alpha + hi * (1.0 - alpha)
        if array.dtype == np.uint8:  # round here as a file's pixels are, before any luma
            work = np.round(work)
        changed = True
    have = work.shape[-1]
    if channels == 3 and have == 1:
        work = np.repeat(work, 3, axis=-1)
        changed = True
    elif channels == 1 and have == 3:
        work = (work @ LUMA)[..., None]
        changed = True
    if array.dtype == np.uint8:
        return np.clip(np.round(work), 0, 255).astype(np.uint8) if changed else array
    return np.ascontiguousarray(work, dtype=np.float32)


def _check_channels(channels) -> int | None:
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, (int, np.integer))
                                 or channels not in (1, 3)):
        raise _checks.fail("channels", "None, 1 (grayscale) or 3 (RGB)", repr(channels))
    return None if channels is None else int(channels)


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
    if ext not in WRITABLE_EXTENSIONS:
        raise ValueError(f"path: expected a file name ending in one of {sorted(formats)}; got {str(path)!r}")
    return formats[ext]
