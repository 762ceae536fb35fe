"""Training recipes behind ``ganapps train``: data by name, default nets for its shape, fit, save, export.

A run writes into one output folder::

    out/
      model.keras        the whole game (both players, both optimizers): keras.models.load_model continues it
      samples/           SampleGrid PNGs, one per --samples-every epochs, and latest.png
      model.onnx, saved_model/, metadata.json     the exported generator (ganapps.export)
      history.json       the per-epoch metrics

While training, ``out/backup/`` holds a Keras ``BackupAndRestore`` checkpoint; ``resume=True`` continues an
interrupted run from it. It is removed when the run ends normally.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ganapps import callbacks as gcallbacks
from ganapps import data as gdata
from ganapps import export as gexport
from ganapps import nets
from ganapps.games.gan import GAN


@dataclass
class TrainResult:
    """What a training run produced."""

    game: GAN
    out: Path
    history: dict[str, list[float]]
    seconds: float
    stopped_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def keras_path(self) -> Path:
        return self.out / "model.keras"


def load_dataset(data: str, image_size: int | None, batch_size: int, seed: int | None,
                 data_dir: str | None = None) -> tf.data.Dataset:
    """A dataset by offline name, tensorflow-datasets name, or image-folder path (see ``ganapps.data.load``)."""
    return gdata.load(data, image_size=image_size, batch_size=batch_size, seed=seed, data_dir=data_dir,
                      drop_remainder=True)


def train_gan(data: str = "digits", out: str | os.PathLike = "saved_models/digits_gan", image_size: int | None = 16,
              loss: str = "non_saturating", epochs: int = 50, batch_size: int = 64, latent_dim: int = 64,
              width: int = 32, lr: float = 2e-4, beta_1: float = 0.5, d_steps: int = 1,
              gradient_penalty: float = 0.0, r1: float = 0.0, ema: float | None = None, seed: int | None = 0,
              jit_compile: bool | str = True, samples_every: int = 5, resume: bool = False,
              data_dir: str | None = None, export: bool = True, verbose: int | str = "auto") -> TrainResult:
    """Train a DCGAN on ``data`` and write the game, sample grids and the export to ``out``."""
    out = Path(out)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    dataset = load_dataset(data, image_size, batch_size, seed, data_dir)
    image_shape = tuple(int(s) for s in _element_images(dataset).shape[1:])
    game = GAN(generator=nets.dcgan_generator(latent_dim, image_shape, width=width),
               discriminator=nets.dcgan_discriminator(image_shape, width=width),
               latent_dim=latent_dim, loss=loss, d_steps=d_steps, gradient_penalty=gradient_penalty, r1=r1,
               ema=ema, seed=seed)
    game.compile(g_optimizer=keras.optimizers.Adam(lr, beta_1=beta_1),
                 d_optimizer=keras.optimizers.Adam(lr, beta_1=beta_1), jit_compile=jit_compile)

    backup = out / "backup"
    if not resume:
        shutil.rmtree(backup, ignore_errors=True)
    guard = gcallbacks.NaNGuard()
    grid = gcallbacks.SampleGrid(out / "samples", every=samples_every)
    cbs = [keras.callbacks.BackupAndRestore(str(backup)), guard, grid]
    start = time.perf_counter()
    history = game.fit(dataset, epochs=epochs, callbacks=cbs, verbose=verbose)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    game.save(out / "model.keras")  # written to a temporary name and renamed
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    (out / "history.json").write_text(json.dumps({"seconds": seconds, "history": hist}, indent=1) + "\n")
    metadata = {}
    if export:
        metadata = gexport.export_generator(game, out, extra_metadata={
            "training": {"data": data, "image_size": image_size, "loss": loss, "epochs": epochs,
                         "batch_size": batch_size, "seed": seed, "seconds": round(seconds, 1)}})
    shutil.rmtree(backup, ignore_errors=True)
    return TrainResult(game, out, hist, seconds, guard.stopped_reason, metadata)


def _element_images(dataset: tf.data.Dataset):
    spec = dataset.element_spec
    return spec[0] if isinstance(spec, tuple) else spec
