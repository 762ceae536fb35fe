"""ganapps: adversarial games for Keras 3.

GANs and adversarial training as ``keras.Model`` subclasses fitted with ``model.fit``, and the tools to export
trained generators to ONNX and SavedModel.

Submodules are imported lazily so that light entry points (``ganapps generate``, the ONNX runner in
:mod:`ganapps.runtime`) start without importing TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "attacks", "augment", "callbacks", "data", "debias", "export", "fairness", "games", "images", "latent", "layers",
    "interpret", "losses", "metrics", "nets", "pretrained", "rebalance", "runtime", "tiles", "train",
}
_GAMES = {
    "GAN": "ganapps.games.gan",
    "ConditionalGAN": "ganapps.games.conditional",
    "ACGAN": "ganapps.games.conditional",
    "InfoGAN": "ganapps.games.conditional",
    "StyleGAN": "ganapps.games.stylegan",
    "ProgressiveGAN": "ganapps.games.progressive",
    "SRGAN": "ganapps.games.srgan",
    "CycleGAN": "ganapps.games.cyclegan",
    "ImagePool": "ganapps.games.cyclegan",
    "Pix2Pix": "ganapps.games.pix2pix",
    "FAnoGAN": "ganapps.games.fanogan",
    "AnomalyScores": "ganapps.games.fanogan",
    "FAnoGANScore": "ganapps.games.fanogan",
    "VAEGAN": "ganapps.games.vaegan",
    "AdversarialTraining": "ganapps.games.robust",
    "CatastrophicOverfittingCheck": "ganapps.games.robust",
}

__all__ = sorted(_SUBMODULES | set(_GAMES) | {"__version__"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"ganapps.{name}")
        globals()[name] = module
        return module
    if name in _GAMES:
        value = getattr(importlib.import_module(_GAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganapps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
