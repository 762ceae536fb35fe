"""Training recipes behind ``ganapps train <family>``: data by name, default nets for its shape, fit, save, export.

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

from ganapps import _checks
from ganapps import callbacks as gcallbacks
from ganapps import data as gdata
from ganapps import export as gexport
from ganapps import nets
from ganapps.games.gan import GAN

__all__ = ["FAMILIES", "TrainResult", "build_game", "load_dataset", "train", "train_gan"]


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
                 data_dir: str | None = None, with_labels: bool = False) -> tf.data.Dataset:
    """A dataset by offline name, tensorflow-datasets name, or image-folder path (see ``ganapps.data.load``)."""
    return gdata.load(data, image_size=image_size, batch_size=batch_size, seed=seed, data_dir=data_dir,
                      drop_remainder=True, with_labels=with_labels)


FAMILIES = ("gan", "conditional", "acgan", "infogan", "progressive", "stylegan")
_LABELLED = ("conditional", "acgan")


def build_game(family: str, image_shape: tuple[int, int, int], latent_dim: int = 64, width: int = 32,
               num_classes: int | None = None, loss: str = "non_saturating", d_steps: int = 1,
               gradient_penalty: float = 0.0, r1: float = 0.0, ema: float | None = None,
               label_smoothing: float = 0.0, augment: str | None = None, spectral_norm: bool = False,
               minibatch_std: bool = False, seed: int | None = 0, class_weight: float = 1.0,
               categorical_codes: tuple[int, ...] = (10,), continuous_codes: int = 2, info_weight: float = 1.0,
               style_mixing: float = 0.9, fade_steps: int = 200, stable_steps: int = 200) -> GAN:
    """A game of ``family`` with the default networks for ``image_shape`` (see :data:`FAMILIES`).

    ``augment`` is a DiffAugment policy such as ``"color,translation,cutout"`` (None: no augmentation);
    ``spectral_norm`` and ``minibatch_std`` apply to the discriminators of every family but progressive.
    The remaining arguments belong to one family each: ``num_classes``/``class_weight`` (conditional, acgan),
    ``categorical_codes``/``continuous_codes``/``info_weight`` (infogan), ``style_mixing`` (stylegan),
    ``fade_steps``/``stable_steps`` (progressive, in generator updates).
    """
    from ganapps import games
    from ganapps.augment import DiffAugment

    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {FAMILIES}; got {family!r}")
    common = dict(loss=loss, d_steps=d_steps, gradient_penalty=gradient_penalty, r1=r1, ema=ema,
                  label_smoothing=label_smoothing, augment=DiffAugment(augment, seed=seed) if augment else None,
                  seed=seed)
    if family in _LABELLED and not num_classes:
        raise ValueError(f"num_classes: expected the number of classes for the {family!r} family; got {num_classes!r}")
    if family == "progressive" and (spectral_norm or minibatch_std):
        raise ValueError("spectral_norm: expected False (and minibatch_std False) for the 'progressive' family, "
                         "whose discriminator grows block by block; got "
                         f"spectral_norm={spectral_norm}, minibatch_std={minibatch_std}")
    tricks = dict(width=width, spectral_norm=spectral_norm, minibatch_std=minibatch_std)
    if family in ("gan", "stylegan"):
        d = nets.dcgan_discriminator(image_shape, **tricks)
        if family == "gan":
            return GAN(nets.dcgan_generator(latent_dim, image_shape, width=width), d, latent_dim=latent_dim,
                       **common)
        return games.StyleGAN(nets.style_generator(latent_dim, image_shape, depth=4, width=width, seed=seed), d,
                              style_mixing=style_mixing, **common)
    if family == "conditional":
        return games.ConditionalGAN(nets.conditional_generator(latent_dim, num_classes, image_shape, width=width),
                                    nets.conditional_discriminator(image_shape, num_classes, **tricks),
                                    num_classes=num_classes, **common)
    if family == "acgan":
        return games.ACGAN(nets.conditional_generator(latent_dim, num_classes, image_shape, width=width),
                           nets.acgan_discriminator(image_shape, num_classes, **tricks),
                           num_classes=num_classes, class_weight=class_weight, **common)
    if family == "infogan":
        code_dim = nets.infogan_code_dim(categorical_codes, continuous_codes)
        return games.InfoGAN(nets.conditional_generator(latent_dim, code_dim, image_shape, width=width,
                                                        condition_name="codes"),
                             nets.infogan_discriminator(image_shape, categorical_codes, continuous_codes,
                                                        **tricks),
                             categorical_codes=categorical_codes, continuous_codes=continuous_codes,
                             info_weight=info_weight, **common)
    return games.ProgressiveGAN(nets.progressive_generator(latent_dim, image_shape, width=width),
                                nets.progressive_discriminator(image_shape, width=width),
                                fade_steps=fade_steps, stable_steps=stable_steps, **common)


def train(family: str = "gan", data: str = "digits", out: str | os.PathLike = "saved_models/gan",
          image_size: int | None = 16, epochs: int = 50, batch_size: int = 64, lr: float = 2e-4, beta_1: float = 0.5,
          seed: int | None = 0, jit_compile: bool | str = True, samples_every: int = 5, resume: bool = False,
          data_dir: str | None = None, export: bool = True, verbose: int | str = "auto",
          **options: Any) -> TrainResult:
    """Train a game of ``family`` on ``data`` and write the game, sample grids and the export to ``out``.

    ``options`` go to :func:`build_game` (loss, latent_dim, width, penalties, tricks, family options). The
    conditional and acgan families read integer labels from the data; ``num_classes`` defaults to the
    largest label + 1.
    """
    out = Path(out)
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {FAMILIES}; got {family!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    labelled = family in _LABELLED
    dataset = load_dataset(data, image_size, batch_size, seed, data_dir, with_labels=labelled)
    image_shape = tuple(int(s) for s in _element_images(dataset).shape[1:])
    if labelled and not options.get("num_classes"):
        options["num_classes"] = _num_classes(dataset)
    game = build_game(family, image_shape, seed=seed, **options)
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
    record = json.dumps({"seconds": seconds, "history": hist}, indent=1) + "\n"
    _checks.write_atomically(out / "history.json", lambda tmp: tmp.write_text(record))
    metadata = {}
    if export:
        settings = {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool, type(None)))}
        metadata = gexport.export_generator(game, out, extra_metadata={
            "training": {"family": family, "data": data, "image_size": image_size, "epochs": epochs,
                         "batch_size": batch_size, "lr": lr, "seed": seed, "seconds": round(seconds, 1),
                         **settings}})
    shutil.rmtree(backup, ignore_errors=True)
    return TrainResult(game, out, hist, seconds, guard.stopped_reason, metadata)


def train_gan(data: str = "digits", out: str | os.PathLike = "saved_models/digits_gan", **kwargs) -> TrainResult:
    """:func:`train` of the unconditional DCGAN family (the demo's recipe)."""
    return train("gan", data=data, out=out, **kwargs)


def _num_classes(dataset: tf.data.Dataset) -> int:
    """Largest integer label + 1, over one pass of the labels."""
    largest = -1
    for _, labels in dataset:
        largest = max(largest, int(tf.reduce_max(labels)))
    if largest < 0:
        raise ValueError("data: expected integer class labels from 0 upward for a labelled family; got none")
    return largest + 1


def _element_images(dataset: tf.data.Dataset):
    spec = dataset.element_spec
    return spec[0] if isinstance(spec, tuple) else spec
