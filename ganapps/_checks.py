"""Argument checks shared across the library; each error names the argument, what was expected and what was given."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def fail(argument: str, expected: str, given: str) -> ValueError:
    """The library's error: ``"<argument>: expected <what>; got <what was given>"``."""
    return ValueError(f"{argument}: expected {expected}; got {given}")


def positive_int(value, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument}: expected a positive integer; got {value!r}")
    return int(value)


def non_negative_int(value, argument: str) -> int:
    """``value`` as an int, refused unless it is an integer of at least 0 (booleans are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise fail(argument, "a non-negative integer", repr(value))
    return int(value)


def short(value, limit: int = 60) -> str:
    """``repr(value)`` (of its list, for an array) cut to ``limit`` characters, to quote a bad value in an error
    without flooding it."""
    listable = isinstance(value, np.ndarray) and value.size <= 10_000  # larger ones: NumPy's summarising repr
    text = repr(value.tolist() if listable else value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_int(value) -> bool:
    """Whether ``value`` is a Python or NumPy integer (booleans are not integers here)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (anything else unchanged), so that configs, CSV rows and
    reports built from array entries serialise to JSON and print without ``np.int64(...)``."""
    return value.item() if isinstance(value, np.generic) else value


def _finite_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and bool(np.isfinite(value))


def positive_float(value, argument: str) -> float:
    """``value`` as a float, refused unless it is a finite number above 0."""
    if not _finite_number(value) or value <= 0:
        raise fail(argument, "a positive number", repr(value))
    return float(value)


def finite_non_negative(value, argument: str) -> float:
    """``value`` as a float, refused unless it is a finite number of at least 0."""
    if not _finite_number(value) or value < 0:
        raise fail(argument, "a finite number >= 0", repr(value))
    return float(value)


def non_negative(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0:
        raise ValueError(f"{argument}: expected a non-negative number; got {value!r}")
    return float(value)


def image_shape(value, argument: str = "image_shape", power_of_two: bool = True) -> tuple[int, int, int]:
    """Check an (H, W, C) image shape; with ``power_of_two``, H and W must be powers of two and at least 4."""
    ok = isinstance(value, Sequence) and len(value) == 3 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise ValueError(f"{argument}: expected (height, width, channels) of positive integers; got {value!r}")
    h, w, c = value
    if power_of_two and not all(s >= 4 and s & (s - 1) == 0 for s in (h, w)):
        raise ValueError(f"{argument}: expected height and width to be powers of two of at least 4 "
                         f"(4, 8, 16, 32, ...); got {h}x{w}")
    return int(h), int(w), int(c)


def units(value, argument: str) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"{argument}: expected a sequence of positive layer widths; got {value!r}")
    return tuple(value)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place: a crash part-way
    leaves the old file (or none), never half of a new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def replace_folder(staged: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Rename the finished folder ``staged`` (beside ``out``, on its file system) to ``out``, replacing any folder
    there: the old one is renamed aside first and removed after, so a crash part-way leaves the old folder complete
    (at ``out``, or as ``.<name>.old<pid>`` beside it) or the new one, never a mix of the two."""
    staged, out = Path(staged), Path(out)
    if not out.exists():
        os.replace(staged, out)
        return out
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(staged, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out
