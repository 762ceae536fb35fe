"""Tiled upscaling: run a fully convolutional upscaler on images too large to process in one piece.

NumPy only (no TensorFlow), so the ONNX Runtime path of ``ganapps superres upscale`` starts fast and the same
code serves Keras models, ONNX sessions and anything else that maps a batch of tiles to a batch of upscaled tiles.

How a row (and likewise a column) of ``length`` pixels is cut, with ``tile`` T and ``overlap`` o:

* every tile is a window of at most T pixels; the first starts at 0, each next one starts ``T - 2o`` pixels later,
  and the last one ends at the image's edge (cut there, never padded);
* each tile contributes only its *core*: the window less ``o`` pixels on every side that is not the image's
  edge. Cores partition the image, and each output pixel comes from the tile where it lies farthest from an inner
  tile edge.

A network whose receptive field reaches ``r`` input pixels from an output pixel computes each core pixel from
inputs inside its window, and where a window ends at the image's edge it sees the same zero padding as the whole
image does. So with ``overlap >= r`` the tiled result equals the untiled one (up to float rounding); with a
smaller overlap the seams show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ganapps import _checks

# (window start, window stop, core start, core stop) along one axis, in low-resolution pixels.
Span = tuple[int, int, int, int]


def upscale_tiled(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, scale: int, tile: int | None = 128,
                  overlap: int = 16, batch_size: int = 4) -> np.ndarray:
    """Upscale ``image`` with ``fn`` tile by tile, in bounded memory, with no seams when ``overlap`` covers the
    network's receptive-field radius (in low-resolution pixels).

    Args:
        fn: maps a float32 NHWC batch of low-resolution tiles to the batch upscaled ``scale`` times (any number
            of output channels; NumPy arrays or anything ``np.asarray`` takes, such as TensorFlow tensors).
        image: one HxWxC image or an NHWC batch, float (values are passed to ``fn`` as float32).
        scale: the upscaling factor of ``fn``.
        tile: the largest tile side in low-resolution pixels, margins included; at least ``2 * overlap + 1``
            when an image is larger than one tile. ``None``, or an image no larger than one tile, runs whole
            images (whatever the overlap).
        overlap: the margin, in low-resolution pixels, that each tile reads beyond its core on inner sides.
        batch_size: tiles (or whole images) per call of ``fn``; at most this many outputs are held at once,
            besides the output image.

    Returns:
        float32, HxWxC' or NHWC' like ``image``, ``scale`` times larger, with ``fn``'s channels C'.
    """
    _check_fn(fn)
    scale = _checks.positive_int(scale, "scale")
    overlap = _checks.non_negative_int(overlap, "overlap")
    if tile is not None:
        if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 1:
            raise _checks.fail("tile", "None or a positive integer", repr(tile))
        tile = int(tile)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    images, single = _as_batch(image)
    n, height, width, _ = images.shape

    if tile is not None and (height > tile or width > tile) and tile < 2 * overlap + 1:
        raise _checks.fail("tile", f"None or an integer of at least 2 * overlap + 1 = {2 * overlap + 1} "
                                   f"(overlap={overlap}) to tile {height}x{width} images", repr(tile))
    if tile is None or (height <= tile and width <= tile):
        whole = [(i, (0, height, 0, height), (0, width, 0, width)) for i in range(n)]
        jobs = {(height, width): whole}
    else:
        jobs = {}
        for i in range(n):
            for rows in spans(height, tile, overlap):
                for cols in spans(width, tile, overlap):
                    jobs.setdefault((rows[1] - rows[0], cols[1] - cols[0]), []).append((i, rows, cols))

    out: np.ndarray | None = None
    for chunk in (group[k:k + batch_size] for group in jobs.values() for k in range(0, len(group), batch_size)):
        batch = np.stack([images[i, r0:r1, c0:c1] for i, (r0, r1, _, _), (c0, c1, _, _) in chunk])
        result = _call(fn, batch, scale, None if out is None else out.shape[-1])
        if out is None:
            out = np.empty((n, height * scale, width * scale, result.shape[-1]), np.float32)
        for k, (i, (r0, _, rc0, rc1), (c0, _, cc0, cc1)) in enumerate(chunk):
            out[i, rc0 * scale:rc1 * scale, cc0 * scale:cc1 * scale] = \
                result[k, (rc0 - r0) * scale:(rc1 - r0) * scale, (cc0 - c0) * scale:(cc1 - c0) * scale]
        del batch, result
    assert out is not None  # every image has at least one tile
    return out[0] if single else out


def spans(length: int, tile: int, overlap: int) -> list[Span]:
    """The tiles along one axis of ``length`` pixels as ``(window start, window stop, core start, core stop)``.

    Windows are at most ``tile`` wide and step by ``tile - 2 * overlap``; the last one is cut at the image's
    edge. Cores partition ``[0, length)`` and lie ``overlap`` pixels inside every window edge that is not the
    image's edge.
    """
    length = _checks.positive_int(length, "length")
    overlap = _checks.non_negative_int(overlap, "overlap")
    tile = _checks.positive_int(tile, "tile")
    if tile < 2 * overlap + 1:
        raise _checks.fail("tile", f"an integer of at least 2 * overlap + 1 = {2 * overlap + 1}", repr(tile))
    return list(_spans(length, tile, overlap))


def _spans(length: int, tile: int, overlap: int) -> Iterator[Span]:
    start = 0
    while True:
        low = max(0, start - overlap)
        if low + tile >= length:  # the rest fits in one window: the last tile, cut at the edge
            yield low, length, start, length
            return
        end = low + tile - overlap
        yield low, end + overlap, start, end
        start = end


def _call(fn: Callable, batch: np.ndarray, scale: int, channels: int | None) -> np.ndarray:
    """``fn(batch)`` as float32, checked to be the batch upscaled ``scale`` times."""
    result = np.asarray(fn(batch), dtype=np.float32)
    n, h, w, _ = batch.shape
    want = (n, h * scale, w * scale)
    if result.ndim != 4 or result.shape[:3] != want or (channels is not None and result.shape[-1] != channels):
        shape = ", ".join(map(str, want + ("C" if channels is None else channels,)))
        raise _checks.fail("fn", f"an output of shape ({shape}) for input tiles of shape {batch.shape} "
                                 f"at scale {scale}", f"shape {result.shape}")
    return result


def _as_batch(image) -> tuple[np.ndarray, bool]:
    """``image`` as a float32 NHWC batch, and whether it was one HxWxC image."""
    array = np.asarray(image)
    if array.dtype.kind not in "iuf":
        raise _checks.fail("image", "a numeric HxWxC image or NHWC batch", f"dtype {array.dtype}")
    if array.ndim not in (3, 4):
        raise _checks.fail("image", "one HxWxC image or an NHWC batch", f"shape {array.shape}")
    if 0 in array.shape:
        raise _checks.fail("image", "a non-empty image", f"shape {array.shape}")
    array = array.astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise _checks.fail("image", "finite values", f"{bad} NaN or Inf values")
    single = array.ndim == 3
    return (array[None] if single else array), single


def _check_fn(fn) -> None:
    if not callable(fn):
        raise _checks.fail("fn", "a function from a batch of low-resolution tiles to upscaled tiles",
                           f"{type(fn).__name__} {_checks.short(fn)}")


def receptive_radius(fn: Callable[[np.ndarray], np.ndarray], channels: int, scale: int, probe: int = 97) -> int:
    """How many low-resolution pixels away an input pixel still changes the output: the ``overlap`` at which
    :func:`upscale_tiled` equals running the whole image.

    Measured, not derived from the layers, so it holds for any network (and for ONNX sessions): one pixel at
    the centre of a ``probe`` x ``probe`` image is changed by 1 and every output pixel that moves at all lies
    in the field. The change is made on three base images, zeros and two seeded uniform images in [-1, 1]
    (bumped towards their other sign, so they stay in range), and the widest reach counts: a ReLU or PReLU unit
    dead at one base would otherwise hide the part of the field behind it. When the field reaches the probe's
    edge the probe grows to ``2 * probe - 1``, then ``4 * probe - 3`` (97, 193, 385 by default) before this
    gives up.

    Args:
        fn: maps a float32 NHWC batch to the batch upscaled ``scale`` times (NumPy or anything ``np.asarray``
            takes); called on batches of one image.
        channels: the input channels ``fn`` takes.
        scale: its upscaling factor.
        probe: the first probe's side, odd, at least 3.

    Raises:
        ValueError: a bad argument, ``fn``'s output of the wrong shape, or a field that reaches the edge of the
            largest probe (pass a larger ``probe``, or tile with an explicit overlap).
    """
    _check_fn(fn)
    channels = _checks.positive_int(channels, "channels")
    scale = _checks.positive_int(scale, "scale")
    probe = _checks.positive_int(probe, "probe")
    if probe % 2 == 0 or probe < 3:
        raise _checks.fail("probe", "an odd size of at least 3", repr(probe))
    sizes = [probe, 2 * probe - 1, 4 * probe - 3]
    for size in sizes:
        radius = _radius_within(fn, channels, scale, size)
        if radius is not None:
            return radius
    tried = ", ".join(f"{size}x{size}" for size in sizes)
    raise _checks.fail("probe", f"a probe larger than twice the receptive field (the field reached the edge of "
                                f"every probe tried: {tried}); pass a larger probe, or tile with an explicit "
                                f"overlap", f"probe={probe}")


_RADIUS_SEEDS = (1, 2)  # the random bases of receptive_radius: fixed, so a measurement repeats exactly


def _radius_bases(size: int, channels: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(base, base with its centre pixel changed by 1) pairs: zeros bumped up, then random images bumped
    towards their other sign."""
    centre = size // 2
    zero = np.zeros((1, size, size, channels), np.float32)
    bumped = zero.copy()
    bumped[0, centre, centre] = 1.0
    yield zero, bumped
    for seed in _RADIUS_SEEDS:
        base = np.random.default_rng(seed).uniform(-1.0, 1.0, zero.shape).astype(np.float32)
        bumped = base.copy()
        pixel = bumped[0, centre, centre]
        bumped[0, centre, centre] = np.where(pixel < 0, pixel + 1.0, pixel - 1.0)
        yield base, bumped


def _radius_within(fn: Callable, channels: int, scale: int, size: int) -> int | None:
    """The receptive radius measured on a ``size`` x ``size`` probe, or None when it reaches the probe's edge."""
    centre = size // 2
    radius = 0
    for base, bumped in _radius_bases(size, channels):
        change = np.abs(_call(fn, bumped, scale, None) - _call(fn, base, scale, None)).max(axis=(0, 3))
        rows, cols = np.nonzero(change > 0)  # outside the field the difference is exactly zero
        if rows.size:
            reach = np.concatenate([rows // scale, cols // scale])
            radius = max(radius, int(np.abs(reach - centre).max()))
        if radius >= centre:
            return None
    return radius


__all__ = ["upscale_tiled", "spans", "receptive_radius"]
