"""Pretrained Keras application weights, found on disk or downloaded, with an error that says what to do when
neither works (these machines have no network).

Keras keeps downloaded weights in ``$KERAS_HOME/models`` (default ``~/.keras/models``, or ``/tmp/.keras/models``
when the home folder is read-only). :func:`application` builds a ``keras.applications`` model from the file
there, downloads it when there is a network, and otherwise raises :class:`WeightsUnavailableError` at once
instead of waiting out download retries.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights are neither on this machine nor downloadable; the message says how to provide them."""


def keras_weight_paths(filename: str) -> list[Path]:
    """Where Keras looks for the downloaded weights file ``filename``, in order."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [Path(home) / "models" / filename, Path("/tmp/.keras/models") / filename]


def unavailable(argument: str, what: str, filename: str, url: str, reason: str, offline: str) -> WeightsUnavailableError:
    """The error for weights that cannot be had: where they were looked for, how to get them, what works offline."""
    expected = keras_weight_paths(filename)[0]
    return WeightsUnavailableError(
        f"{argument}: expected {what} at {expected}; got {reason}. They are not available offline: download "
        f"{url} on a machine with a network and copy it to {expected} (or set KERAS_HOME to the folder holding "
        f"models/{filename}). Offline, {offline}.")


def application(builder: str, filename: str, url: str, argument: str, what: str, offline: str,
                **kwargs: Any):
    """``keras.applications.<builder>(weights=..., **kwargs)`` from the local weights file, or downloaded.

    Args:
        builder: the ``keras.applications`` function name, e.g. ``"VGG19"``.
        filename: the weights file Keras downloads for it.
        url: where that file is downloaded from (quoted in the error).
        argument, what, offline: for the error: the argument that asked for the weights, a description of
            them, and what works offline instead.
        **kwargs: more arguments of the builder (``include_top``, ``pooling``, ...).
    """
    import keras

    from ganapps import data

    build = getattr(keras.applications, builder)
    local = next((p for p in keras_weight_paths(filename) if p.is_file()), None)
    if local is not None:
        return build(weights=str(local), **kwargs)
    if not data._network_available():
        raise unavailable(argument, what, filename, url, "no such file, and no network to download it", offline)
    try:
        return build(weights="imagenet", **kwargs)
    except Exception as exc:  # noqa: BLE001 - every download failure reads the same to the user
        raise unavailable(argument, what, filename, url, f"a failed download ({data._one_line(exc)})",
                          offline) from exc
