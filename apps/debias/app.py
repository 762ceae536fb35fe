"""The debiaser: a VAE-GAN of the data, and the per-sample weights that make its rare latent regions count.

    from apps.debias import DatasetDebiaser
    deb = DatasetDebiaser(latent_dim=16, alpha=1.0).fit(x_train)       # no group labels needed
    w = deb.sample_weights(x_train)                   # mean 1: model.fit(x, y, sample_weight=w)
    ds = deb.resampled_dataset(x_train, y_train, batch_size=64)   # or draw batches by the weights
    cb = deb.callback(x_train)                        # recompute them each epoch (Amini et al. 2019)
    deb.rarity_figure(x_train, "rarity.png")          # the most common and the rarest samples
    deb.save("debiaser.keras"); DatasetDebiaser.load("debiaser.keras")

Amini et al. learn the latent space jointly with the classifier; here it is learned first, by a
:class:`ganapps.VAEGAN` on the training data alone (no labels, no groups), and the classifier is trained after,
on the resampled data. ``callback(..., refine_steps=n)`` goes on training the VAE-GAN ``n`` steps before each
recomputation, for the joint flavour.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganapps import _checks, debias, nets
from ganapps import export as gexport
from ganapps.games.vaegan import VAEGAN
from ganapps.images import from_uint8

SETTINGS_ENTRY = "debiaser.json"
"""The zip member of a saved debiaser's ``.keras`` file that holds its settings."""
SETTINGS_VERSION = 1
ARCHITECTURES = ("auto", "mlp", "dcgan")
MLP_MAX_VALUES = 1024
"""``architecture="auto"`` picks MLP nets for samples of at most this many values."""

_DEFAULTS: dict[str, Any] = dict(latent_dim=16, alpha=1.0, bins=5, steps=1500, batch_size=64, learning_rate=1e-3,
                                 architecture="auto", hidden=(256, 256), width=32, kl_weight=1.0,
                                 pixel_weight=1.0, recon_weight=1.0, seed=0, jit_compile="auto")


def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
    s = dict(s)
    for key in ("latent_dim", "bins", "steps", "batch_size", "width"):
        s[key] = _checks.positive_int(s[key], key)
    for key in ("alpha", "learning_rate"):
        s[key] = _checks.positive_float(s[key], key)
    for key in ("kl_weight", "pixel_weight", "recon_weight"):
        s[key] = _checks.finite_non_negative(s[key], key)
    if s["architecture"] not in ARCHITECTURES:
        raise _checks.fail("architecture", f"one of {ARCHITECTURES}", repr(s["architecture"]))
    s["hidden"] = list(_checks.units(s["hidden"], "hidden"))
    if s["seed"] is not None:
        if not (_checks.is_int(s["seed"]) and s["seed"] >= 0):
            raise _checks.fail("seed", "None or a non-negative int", repr(s["seed"]))
        s["seed"] = int(s["seed"])  # a NumPy int would stop save's json.dumps
    if s["jit_compile"] not in (True, False, "auto"):
        raise _checks.fail("jit_compile", "True, False or 'auto'", repr(s["jit_compile"]))
    return s


def as_samples(x: Any, argument: str = "x", expected: Sequence[int] | None = None) -> tuple[np.ndarray, str]:
    """``x`` as float32 samples and their kind, ``"images"`` (NHWC in [-1, 1]; uint8 images are scaled, a gray
    (n, H, W) batch gets a channel axis) or ``"vectors"`` (n, d), refusing what cannot be either."""
    if isinstance(x, (tf.Tensor, tf.Variable)):
        x = x.numpy()
    array = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if array.dtype.kind not in "iuf" or array.ndim not in (2, 3, 4) or len(array) == 0:
        raise _checks.fail(argument, "a non-empty array of vectors (n, d) or images (n, H, W[, C]) (uint8, or "
                           "float in [-1, 1])", f"dtype {array.dtype}, shape {array.shape}")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim == 4:
        if array.shape[-1] not in (1, 3):
            raise _checks.fail(argument, "images with 1 or 3 channels", f"shape {array.shape}")
        if array.dtype == np.uint8:
            array = from_uint8(array)
        array = array.astype(np.float32)
        if not np.isfinite(array).all() or array.min() < -1.0001 or array.max() > 1.0001:
            raise _checks.fail(argument, "float images in [-1, 1] (or uint8 images)",
                               f"values in [{np.nanmin(array):.3g}, {np.nanmax(array):.3g}]")
        kind = "images"
    else:
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise _checks.fail(argument, "finite vectors", "NaN or infinite values")
        kind = "vectors"
    if expected is not None and tuple(array.shape[1:]) != tuple(expected):
        raise _checks.fail(argument, f"samples of shape {tuple(expected)} (what the debiaser was fitted on)",
                           f"{tuple(array.shape[1:])}")
    return array, kind


class DatasetDebiaser:
    """Latent-density debiasing without group labels (see the module docstring).

    Args:
        latent_dim: size of the VAE-GAN's latent space, whose per-dimension histograms give the densities.
        alpha: the debiasing strength: a sample's weight is ``prod_i 1 / (Q_i + alpha)`` over the latent
            dimensions, ``Q_i`` the share of samples in its histogram bin; small alpha (0.001-0.01) weighs rare
            regions much more, large alpha tends to equal weights (see :func:`ganapps.debias.sampling_weights`).
            On a small dataset a small alpha puts most of the weight on a few outliers (the effective sample size
            falls to a few percent) and the classifier then forgets the common samples.
        bins: histogram bins per latent dimension.

    The defaults (16 dimensions, alpha 1, 5 bins) were chosen on the biased digits (1438 images) on a
    development seed, where a latent size of 4 did not see the rare attribute and alpha 0.01 left an effective
    sample size of 1-4 % (``benchmarks/RESULTS.md``, section 10); datasets of many thousands of samples afford
    more bins and a smaller alpha (0.001-0.01).
        steps, batch_size, learning_rate: the VAE-GAN's training (Adam, beta_1 0.5, the same rate for its three
            players).
        architecture: ``"mlp"``, ``"dcgan"`` (images with power-of-two sides of at least 4) or ``"auto"`` (MLP
            for vectors and samples of at most 1024 values).
        hidden: the MLP nets' layer widths; width: the DCGAN nets' filters at full resolution.
        kl_weight, pixel_weight, recon_weight: the VAE-GAN's loss weights (see :class:`ganapps.VAEGAN`).
        seed: seeds the nets, the game's draws and the data order; None: random.
        jit_compile: XLA for the training step (True, False or "auto").
    """

    def __init__(self, latent_dim: int = 16, alpha: float = 1.0, bins: int = 5, steps: int = 1500,
                 batch_size: int = 64, learning_rate: float = 1e-3, architecture: str = "auto",
                 hidden: Sequence[int] = (256, 256), width: int = 32, kl_weight: float = 1.0,
                 pixel_weight: float = 1.0, recon_weight: float = 1.0, seed: int | None = 0,
                 jit_compile: bool | str = "auto"):
        self._settings = _check_settings(dict(
            latent_dim=latent_dim, alpha=alpha, bins=bins, steps=steps, batch_size=batch_size,
            learning_rate=learning_rate, architecture=architecture, hidden=hidden, width=width,
            kl_weight=kl_weight, pixel_weight=pixel_weight, recon_weight=recon_weight, seed=seed,
            jit_compile=jit_compile))
        self.game: VAEGAN | None = None
        self.sample_shape_: tuple[int, ...] | None = None
        self.input_kind_: str | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.history_: dict[str, list[float]] = {}

    @property
    def alpha(self) -> float:
        """The debiasing strength the weights use (``load(..., alpha=...)`` may change it without refitting)."""
        return self._settings["alpha"]

    @property
    def bins(self) -> int:
        """Histogram bins per latent dimension the weights use (``load`` may change them, as ``alpha``)."""
        return self._settings["bins"]

    def get_params(self) -> dict[str, Any]:
        """The constructor's settings (scikit-learn's name)."""
        return dict(self._settings)

    # -- networks ------------------------------------------------------------------------------------------------
    def _architecture(self, shape: tuple[int, ...], kind: str) -> str:
        arch = self._settings["architecture"]
        if arch == "auto":
            arch = "mlp" if kind == "vectors" or int(np.prod(shape)) <= MLP_MAX_VALUES else "dcgan"
        if arch == "dcgan":
            if kind == "vectors":
                raise _checks.fail("architecture", "'mlp' or 'auto' for vectors (DCGAN nets take images)", "'dcgan'")
            if not all(v >= 4 and v & (v - 1) == 0 for v in shape[:2]):
                raise _checks.fail("x", "images whose sides are powers of two of at least 4 for DCGAN nets: resize "
                                   "them or choose architecture='mlp'", f"{shape[0]}x{shape[1]} images")
        return arch

    def _new_game(self, shape: tuple[int, ...], kind: str) -> VAEGAN:
        s = self._settings
        if s["seed"] is not None:
            keras.utils.set_random_seed(s["seed"])
        latent = s["latent_dim"]
        if self._architecture(shape, kind) == "dcgan":
            generator = nets.dcgan_generator(latent, shape, width=s["width"])
            discriminator = nets.dcgan_discriminator(shape, width=s["width"])
            encoder = nets.dcgan_encoder(shape, 2 * latent, width=s["width"])
        else:
            size = int(np.prod(shape))
            sample_shape = shape if kind == "images" else None
            generator = nets.mlp_generator(latent, size, hidden=s["hidden"], sample_shape=sample_shape,
                                           output_activation="tanh" if kind == "images" else None)
            discriminator = nets.mlp_discriminator(size, hidden=s["hidden"], sample_shape=sample_shape)
            encoder = nets.mlp_encoder(size, 2 * latent, hidden=s["hidden"], sample_shape=sample_shape)
        game = VAEGAN(generator, discriminator, encoder, latent_dim=latent, kl_weight=s["kl_weight"],
                      pixel_weight=s["pixel_weight"], recon_weight=s["recon_weight"], seed=s["seed"])
        rate = s["learning_rate"]
        game.compile(g_optimizer=keras.optimizers.Adam(rate, beta_1=0.5),
                     d_optimizer=keras.optimizers.Adam(rate, beta_1=0.5),
                     e_optimizer=keras.optimizers.Adam(rate, beta_1=0.5), jit_compile=s["jit_compile"])
        return game

    # -- data ----------------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.game is None:
            raise _checks.fail("self", "a fitted debiaser: call fit(x) or DatasetDebiaser.load(path) first",
                               "an unfitted one")

    def _samples(self, x: Any, argument: str = "x") -> np.ndarray:
        self._check_fitted()
        samples, kind = as_samples(x, argument, self.sample_shape_)
        if kind != self.input_kind_:
            raise _checks.fail(argument, f"{self.input_kind_} (what the debiaser was fitted on)", kind)
        if kind == "vectors":
            samples = (samples - self.mean_) / self.std_
        return samples

    def _batches(self, x: np.ndarray, seed_offset: int = 0) -> tf.data.Dataset:
        s = self._settings
        seed = None if s["seed"] is None else s["seed"] + seed_offset
        batch = min(s["batch_size"], len(x))
        return (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
                .repeat().batch(batch, drop_remainder=True).prefetch(2))

    # -- training ------------------------------------------------------------------------------------------------
    def fit(self, x: Any, steps: int | None = None, verbose: int | str = 0) -> DatasetDebiaser:
        """Learn the latent space of ``x`` (images in [-1, 1] or uint8, or vectors, standardised per feature) with
        a fresh VAE-GAN trained for ``steps`` batches (default: the constructor's). No labels, no groups."""
        steps = self._settings["steps"] if steps is None else _checks.positive_int(steps, "steps")
        samples, kind = as_samples(x, "x")
        if len(samples) < 2:
            raise _checks.fail("x", "at least 2 samples", str(len(samples)))
        shape = tuple(int(v) for v in samples.shape[1:])
        mean = std = None
        if kind == "vectors":
            mean = samples.mean(axis=0).astype(np.float32)
            std = samples.std(axis=0).astype(np.float32)
            std[~(std > 0)] = 1.0
            samples = (samples - mean) / std  # what _samples does to later inputs, without checking x again
        game = self._new_game(shape, kind)
        self.game, self.sample_shape_, self.input_kind_, self.mean_, self.std_ = game, shape, kind, mean, std
        history = game.fit(self._batches(samples), steps_per_epoch=steps, epochs=1, verbose=verbose)
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        return self

    def refine(self, x: Any, steps: int, verbose: int | str = 0) -> DatasetDebiaser:
        """Train the fitted VAE-GAN ``steps`` more batches of ``x`` (its optimizers' state goes on)."""
        steps = _checks.positive_int(steps, "steps")
        samples = self._samples(x)
        self.game.fit(self._batches(samples, seed_offset=int(self.game.g_optimizer.iterations)),
                      steps_per_epoch=steps, epochs=1, verbose=verbose)
        return self

    # -- the latent space and its weights -------------------------------------------------------------------------
    def encode(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """The posterior means of ``x``: ``(n, latent_dim)``."""
        samples = self._samples(x)
        return self.game.encode(samples, batch_size=batch_size)

    def reconstruct(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """The generator's image of each sample's posterior mean (a check that the latent space holds the data)."""
        samples = self._samples(x)
        return self.game.reconstruct(samples, batch_size=batch_size)

    def sample_weights(self, x: Any, normalize: str = "mean_one", strata: Any = None) -> np.ndarray:
        """Per-sample weights of ``x`` against ``x``'s own latent histograms: mean 1 (``model.fit``'s
        ``sample_weight``) or, with ``normalize="probability"``, sampling probabilities summing to 1. With
        ``strata`` (the class labels), rarity is measured within each class and the class balance is kept (see
        :func:`ganapps.debias.sampling_weights`)."""
        return debias.sampling_weights(self.encode(x), alpha=self.alpha, bins=self.bins, normalize=normalize,
                                       strata=strata)

    def rarity(self, x: Any, strata: Any = None) -> np.ndarray:
        """``log`` of each sample's sampling probability, up to a constant: higher is rarer in ``x``."""
        return np.log(self.sample_weights(x, normalize="probability", strata=strata))

    def resampled_dataset(self, x: Any, y: Any = None, batch_size: int = 32, steps: int | None = None,
                          seed: int = 0, strata: Any = None) -> tf.data.Dataset:
        """Batches of ``(x, y)`` (or ``x``) drawn with replacement by the weights: rare samples more often.
        ``x`` is passed through as given (the weights come from its latent codes)."""
        probabilities = self.sample_weights(x, normalize="probability", strata=strata)
        return debias.resampled_dataset(np.asarray(x), None if y is None else np.asarray(y),
                                        probabilities=probabilities, batch_size=batch_size, steps=steps, seed=seed)

    def callback(self, x: Any, every: int = 1, refine_steps: int = 0, batch_size: int = 256,
                 strata: Any = None) -> debias.LatentResampling:
        """A :class:`ganapps.debias.LatentResampling` over ``x`` whose ``probabilities`` a
        :func:`ganapps.debias.resampled_dataset` reads: recomputed at the start of every ``every``-th epoch, after
        ``refine_steps`` more VAE-GAN steps (0: the latent space stays as fitted, and so do the weights)."""
        refine_steps = _checks.non_negative_int(refine_steps, "refine_steps")
        samples = np.asarray(x)
        self._samples(samples)  # checks x now, not at the first epoch

        def encode(batch: np.ndarray) -> np.ndarray:
            if refine_steps:
                self.refine(samples, refine_steps)
            return self.encode(batch, batch_size=batch_size)

        return debias.LatentResampling(encode, samples, alpha=self.alpha, bins=self.bins, batch_size=len(samples),
                                       every=every, strata=strata)

    def rarity_figure(self, x: Any, path: str | os.PathLike, n: int = 16, title: str | None = None) -> Path:
        """The ``n`` most common and the ``n`` rarest samples of ``x`` by latent density, one row of images each
        (images only), written atomically as PNG, PDF or SVG."""
        from apps.debias.report import rarity_figure

        if self.input_kind_ != "images":
            raise _checks.fail("x", "images (a rarity figure shows samples)", "vectors")
        samples = self._samples(x)
        return rarity_figure(samples, self.rarity(samples), path, n=n, title=title)

    # -- saving --------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """The VAE-GAN and the debiaser's settings in one ``.keras`` file, atomically."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise _checks.fail("path", "a file name ending in .keras", repr(str(path)))
        record = {"version": SETTINGS_VERSION, "settings": self._settings, "input_kind": self.input_kind_,
                  "sample_shape": list(self.sample_shape_), "history": self.history_,
                  "mean": None if self.mean_ is None else self.mean_.tolist(),
                  "std": None if self.std_ is None else self.std_.tolist()}
        return gexport.save_keras_with(self.game, path, {SETTINGS_ENTRY: json.dumps(record, indent=1)})

    @classmethod
    def load(cls, path: str | os.PathLike, alpha: float | None = None, bins: int | None = None) -> DatasetDebiaser:
        """A debiaser written by :meth:`save`; ``alpha`` and ``bins`` may be changed (they only weigh)."""
        file = Path(path)
        game = gexport.load_keras(file, argument="path")
        with zipfile.ZipFile(file) as archive:
            if SETTINGS_ENTRY not in archive.namelist():
                raise _checks.fail("path", f"a file written by DatasetDebiaser.save (holding {SETTINGS_ENTRY})",
                                   f"{str(path)!r}, without it")
            record = json.loads(archive.read(SETTINGS_ENTRY))
        if not isinstance(record, dict) or record.get("version") != SETTINGS_VERSION:
            raise _checks.fail("path", f"debiaser settings of version {SETTINGS_VERSION}", f"{str(path)!r}")
        if not isinstance(game, VAEGAN):
            raise _checks.fail("path", "a saved DatasetDebiaser (a VAEGAN inside)", type(game).__name__)
        settings = dict(record["settings"])
        if alpha is not None:
            settings["alpha"] = alpha
        if bins is not None:
            settings["bins"] = bins
        debiaser = cls(**_check_settings({**_DEFAULTS, **settings}))
        debiaser.game = game
        debiaser.sample_shape_ = tuple(int(v) for v in record["sample_shape"])
        debiaser.input_kind_ = record["input_kind"]
        if record.get("mean") is not None:
            debiaser.mean_ = np.asarray(record["mean"], np.float32)
            debiaser.std_ = np.asarray(record["std"], np.float32)
        debiaser.history_ = record.get("history", {})
        return debiaser


# -- the downstream classifier ---------------------------------------------------------------------------------------
METHODS = ("plain", "latent", "rebalance", "oracle")
"""How :func:`train_classifier` balances its training data: not at all; by latent density (no groups); with a
conditional GAN's synthetic samples of the rare groups (groups needed); by inverse group frequency (groups
needed: the oracle that latent resampling tries to match without them)."""


def _check_labels(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise _checks.fail("y", f"{n} integer class labels", f"dtype {labels.dtype}, shape {labels.shape}")
    return labels


def _check_method(method: Any, groups: Any, debiaser: Any) -> None:
    if method not in METHODS:
        raise _checks.fail("method", f"one of {METHODS}", repr(method))
    if method in ("rebalance", "oracle") and groups is None:
        raise _checks.fail("groups", f"each sample's group for method {method!r}", "None")
    if method == "latent" and not isinstance(debiaser, DatasetDebiaser):
        raise _checks.fail("debiaser", "a fitted DatasetDebiaser for method 'latent'", type(debiaser).__name__)


def training_probabilities(x: Any, y: Any, method: str = "plain", groups: Any = None,
                           debiaser: DatasetDebiaser | None = None, per_class: bool = True) -> np.ndarray:
    """Each sample's chance of being drawn into one of :func:`train_classifier`'s batches under ``method``: as
    every method trains for the same number of batches, these probabilities are what tells the methods apart.

    Uniform for "plain" and for "rebalance" (whose ``x`` already holds the synthetic samples); the
    ``debiaser``'s latent-density probabilities for "latent" (within each class of ``y`` when ``per_class``,
    keeping the class balance); inverse group frequency for "oracle" (each group gets an equal share of the
    mass). Sums to 1.
    """
    _check_method(method, groups, debiaser)
    samples, _ = as_samples(x, "x")
    labels = _check_labels(y, len(samples))
    if method in ("plain", "rebalance"):
        return np.full(len(samples), 1.0 / len(samples))
    if method == "latent":
        return debiaser.sample_weights(samples, normalize="probability", strata=labels if per_class else None)
    values = np.asarray(groups)
    if values.shape != (len(samples),):
        raise _checks.fail("groups", f"{len(samples)} group values, one per sample", f"shape {values.shape}")
    _, index, counts = np.unique(values, return_inverse=True, return_counts=True)
    probabilities = 1.0 / counts[index.reshape(-1)]
    return probabilities / probabilities.sum()


def train_classifier(x: Any, y: Any, method: str = "plain", groups: Any = None,
                     debiaser: DatasetDebiaser | None = None, rebalancer: Any = None, target_balance: float = 1.0,
                     epochs: int = 10, batch_size: int = 64, learning_rate: float = 1e-3, width: int = 16,
                     per_class: bool = True, seed: int = 0, verbose: int | str = 0) -> keras.Model:
    """Train :func:`ganapps.nets.small_classifier` on ``(x, y)`` the way ``method`` says (:data:`METHODS`); every
    method sees the same number of batches (``epochs`` times ``len(x) // batch_size``), so only what the batches
    hold differs (:func:`training_probabilities`). Returns the classifier (logits).

    ``debiaser``: a fitted :class:`DatasetDebiaser` (method "latent"; ``per_class``: latent rarity within each
    class, keeping the class balance); ``rebalancer``: a fitted :class:`ganapps.rebalance.GroupConditionalGAN`
    conditioned on groups and class labels (method "rebalance", with ``target_balance``), as
    ``fit_rebalancer(x, groups, y)`` makes: the synthetic samples need class labels to train on.
    """
    from ganapps import rebalance as grebalance

    _check_method(method, groups, debiaser)
    samples, _ = as_samples(x, "x")
    labels = _check_labels(y, len(samples))
    if method == "rebalance":
        if not isinstance(rebalancer, grebalance.GroupConditionalGAN):
            raise _checks.fail("rebalancer", "a fitted GroupConditionalGAN for method 'rebalance' "
                               "(ganapps.rebalance.fit_rebalancer)", type(rebalancer).__name__)
        if not rebalancer.label_values:
            raise _checks.fail("rebalancer", "a GroupConditionalGAN conditioned on class labels (fit_rebalancer "
                               "with labels)", "one conditioned on groups only")
    epochs = _checks.positive_int(epochs, "epochs")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    steps = max(1, len(samples) // batch_size)
    keras.utils.set_random_seed(seed)
    model = nets.small_classifier(samples.shape[1:], int(labels.max()) + 1, width=width, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if method == "rebalance":
        extra = grebalance.augment(samples, groups, labels, rebalancer, target_balance=target_balance, seed=seed)
        samples, labels = extra.x, extra.labels
    probabilities = training_probabilities(samples, labels, method, groups, debiaser, per_class)
    dataset = debias.resampled_dataset(samples, labels.astype(np.int32), probabilities=probabilities,
                                       batch_size=batch_size, steps=steps, seed=seed)
    model.fit(dataset, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=verbose)
    return model


def predict_labels(model: keras.Model, x: Any, batch_size: int = 256) -> np.ndarray:
    """The classifier's class ids for ``x``."""
    samples, _ = as_samples(x, "x")
    return np.argmax(model.predict(samples, batch_size=batch_size, verbose=0), axis=-1)
