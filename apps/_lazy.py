"""PEP 562 lazy exports for the app packages: ``from apps.x import Name`` imports ``apps.x.<module>`` (and with
it TensorFlow) only when ``Name`` is first used, so that the command line, which imports every app package to
build its parser, starts at once."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, homes: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public names live in its submodules as ``homes``
    (name -> submodule) says; ``namespace`` is the package's ``globals()``."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
