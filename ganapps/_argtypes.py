"""argparse ``type=`` functions shared by the ``ganapps`` command line and the apps' subcommands.

Each turns the text of an option into a value or raises ``argparse.ArgumentTypeError`` with
"``expected <what>; got '<text>'``", which argparse prefixes with the option's name, so every CLI reports a bad
value the way the library reports a bad argument. This module imports only the standard library: ``ganapps
--help`` builds every parser, and must stay instant and free of NumPy and TensorFlow.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
ArgType = Callable[[str], T]


def number(kind: type[T], minimum: float, what: str) -> ArgType[T]:
    """An argparse type: ``kind(text)`` no smaller than ``minimum``.

    A factory rather than one function per bound, so that options with their own floor (a category count of at
    least 2, say) say so in their message.
    """
    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value

    return parse


def narrowed(parse: ArgType[T], what: str, reject: Callable[[T], bool]) -> ArgType[T]:
    """An argparse type: ``parse``, then an error saying ``what`` was expected when ``reject(value)``.

    Text that ``parse`` itself refuses keeps ``parse``'s message (``'-1'`` for a positive number reads "expected
    a non-negative number"), so the narrower types build on the wider ones without repeating their checks.
    """
    def parse_narrowed(text: str) -> T:
        value = parse(text)
        if reject(value):
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value

    return parse_narrowed


positive_int = number(int, 1, "a positive integer")
non_negative_int = number(int, 0, "a non-negative integer")
non_negative_float = number(float, 0.0, "a non-negative number")
positive_float = narrowed(non_negative_float, "a positive number", reject=lambda value: value == 0)
probability = narrowed(non_negative_float, "a probability in [0, 1]", reject=lambda value: value > 1)


def finite_float(text: str) -> float:
    """An argparse type for values with no natural bound (thresholds): any number but NaN and infinities."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number; got {text!r}")
    return value


def positive_ints(what: str) -> ArgType[tuple[int, ...]]:
    """An argparse type for a tuple of positive integers written ``256,256``: one option rather than ``nargs``,
    so that the tuple reads as one value in help texts and scripts."""
    def parse(text: str) -> tuple[int, ...]:
        parts = [part.strip() for part in text.split(",")]
        if not all(part.isdecimal() and int(part) > 0 for part in parts):
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return tuple(int(part) for part in parts)

    return parse


def jit_compile_value(choice: str) -> bool | str:
    """The library's ``jit_compile`` argument for a ``--jit-compile`` choice: ``"auto"``, ``True`` or ``False``."""
    return {"auto": "auto", "true": True, "false": False}[choice]


def verbose_level(verbose: bool) -> int:
    """Keras's ``verbose`` for a ``--verbose`` flag: progress bars when asked for or when writing to a terminal."""
    return 1 if verbose or sys.stdout.isatty() else 0
