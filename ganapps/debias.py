"""Dataset debiasing by latent density, in the spirit of Amini et al. 2019 ("Uncovering and Mitigating
Algorithmic Bias through Learned Latent Structure").

A dataset under-represents some kinds of samples without saying which. Learn a latent space of the data (a
VAE-GAN's or f-AnoGAN's encoder, any encoder), estimate how crowded each sample's region of that space is, and
draw the sparse regions more often while a downstream classifier trains:

- :func:`latent_density`: per-dimension histogram densities Q_i(z_ni) of the latent codes.
- :func:`sampling_weights` (and :func:`sample_weights`): w_n = prod_i 1 / (Q_i(z_ni) + alpha), as sampling
  probabilities or as Keras ``sample_weight`` values of mean 1.
- :func:`resampled_dataset`: a ``tf.data`` pipeline of batches drawn with replacement by such probabilities,
  read from a ``tf.Variable`` at draw time so they can change between epochs.
- :class:`LatentResampling`: the callback that re-encodes the data and refreshes those probabilities every few
  epochs, as the debiasing VAE does while its latent space trains.
- :func:`effective_sample_size`: how many equally weighted samples a weighting is worth, for reports.

Typical use::

    resampler = debias.LatentResampling(vaegan, x_train, alpha=0.01)
    classifier.fit(debias.resampled_dataset(x_train, y_train, resampler.probabilities, batch_size=64),
                   epochs=10, callbacks=[resampler])

The functions here keep the defaults after Amini et al., alpha 0.01 and 10 bins, meant for datasets of many
thousands of samples; :class:`apps.debias.DatasetDebiaser` defaults to alpha 1 and 5 bins instead, chosen on small
data (the 1438 biased digits), where alpha 0.01 left an effective sample size of 1-4 % (see its docstring).

Nothing heavy happens at import: TensorFlow is imported by the functions that build pipelines and variables.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from ganapps import _checks

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["latent_density", "sampling_weights", "sample_weights", "resampled_dataset", "effective_sample_size",
           "LatentResampling"]

_NORMALIZE = ("probability", "mean_one")


def _latents(z: Any, argument: str = "z") -> np.ndarray:
    try:
        z = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError):
        raise _checks.fail(argument, "a 2-D array of numbers (samples, latent dimensions)",
                           type(z).__name__) from None
    if z.ndim != 2:
        raise _checks.fail(argument, "a 2-D array (samples, latent dimensions)", f"shape {z.shape}")
    if len(z) < 2:
        raise _checks.fail(argument, "at least 2 samples to build histograms from", f"{len(z)}")
    if z.shape[1] < 1:
        raise _checks.fail(argument, "at least 1 latent dimension", f"shape {z.shape}")
    bad = int(np.count_nonzero(~np.isfinite(z)))
    if bad:
        raise _checks.fail(argument, "finite values", f"{bad} NaN or infinite entries")
    return z


def latent_density(z: Any, bins: int = 10, smoothing: float = 1e-3) -> np.ndarray:
    """How crowded each sample's neighbourhood is along each latent dimension, the density the debiasing VAE
    weighs by: for dimension i, a histogram of ``z[:, i]`` over ``bins`` equal bins spanning its min..max, and
    Q_i(z_ni) the share of all samples in the bin where sample n falls.

    Args:
        z: latent codes, (N, D), finite, N >= 2.
        bins: bins per dimension. Bins are half-open ``[a, b)`` except the last, which holds the maximum (NumPy's
            ``np.histogram`` convention); a constant dimension puts every sample in one bin.
        smoothing: pulls every bin's share towards ``1 / bins``, ``Q = (share + smoothing) / (1 + bins *
            smoothing)``, a prior against trusting small counts; each dimension's histogram still sums to 1.

    Returns:
        (N, D) float64: Q_i(z_ni), in (0, 1].
    """
    z = _latents(z)
    bins = _checks.positive_int(bins, "bins")
    smoothing = _checks.finite_non_negative(smoothing, "smoothing")
    n, dims = z.shape
    lows, highs = z.min(axis=0), z.max(axis=0)
    density = np.empty_like(z)
    for i in range(dims):
        edges = np.linspace(lows[i], highs[i], bins + 1)
        which = np.clip(np.searchsorted(edges, z[:, i], side="right") - 1, 0, bins - 1)
        share = np.bincount(which, minlength=bins) / n
        density[:, i] = ((share + smoothing) / (1.0 + bins * smoothing))[which]
    return density


def sampling_weights(z: Any, alpha: float = 0.01, bins: int = 10, normalize: str = "probability",
                     smoothing: float = 1e-3, strata: Any = None) -> np.ndarray:
    """Per-sample weights that favour sparse regions of latent space: w_n = prod_i 1 / (Q_i(z_ni) + alpha) with Q
    from :func:`latent_density`, computed in log space (a product over many dimensions overflows).

    ``alpha`` sets the debiasing strength. Small alpha debiases more: a sample in a bin holding 1% of the data
    then weighs nearly 1 / 0.01 per dimension against a few units for the crowded bins, so rare regions are drawn
    far more often. Large alpha tends to uniform weights (every factor approaches 1 / alpha; alpha -> inf gives
    equal weights). ``alpha=0`` is allowed (Q is never 0: every sample's own bin holds it).

    Args:
        z: latent codes, (N, D), finite, N >= 2 (an encoder's means).
        alpha: finite, >= 0.
        bins: histogram bins per latent dimension.
        normalize: ``"probability"``: the weights sum to 1 (sampling probabilities, e.g. for
            :func:`resampled_dataset`); ``"mean_one"``: their mean is 1 (Keras ``sample_weight``, which keeps
            the loss on the scale of unweighted training).
        smoothing: see :func:`latent_density`.
        strata: None, or one value per sample (the class labels, typically): the histograms are then taken
            within each stratum, and each stratum keeps its share of the total weight. Rarity then means rare
            *for its class*: the classes' own variety (digit shapes, face vs not) no longer crowds the histograms,
            and the class balance is left as it was. Amini et al. debias within the positive class this way. A
            stratum of one sample keeps its share.

    Returns:
        (N,) float64, positive.
    """
    alpha = _checks.finite_non_negative(alpha, "alpha")
    if not isinstance(normalize, str) or normalize not in _NORMALIZE:
        raise _checks.fail("normalize", " or ".join(repr(v) for v in _NORMALIZE), repr(normalize))
    if strata is None:
        weights = _latent_weights(z, alpha, bins, smoothing)
    else:
        z = np.asarray(z)
        labels = np.asarray(strata)
        if labels.shape != (len(z),):
            raise _checks.fail("strata", f"None or {len(z)} values, one per row of z", f"shape {labels.shape}")
        weights = np.empty(len(z))
        for value in np.unique(labels):
            index = np.flatnonzero(labels == value)
            share = len(index) / len(z)
            weights[index] = share if len(index) == 1 else _latent_weights(z[index], alpha, bins, smoothing) * share
    scale = 1.0 if normalize == "probability" else float(len(weights))
    return weights * (scale / weights.sum())


def _latent_weights(z: Any, alpha: float, bins: int, smoothing: float) -> np.ndarray:
    """The weights of :func:`sampling_weights` over one set of samples, summing to 1."""
    density = latent_density(z, bins=bins, smoothing=smoothing)
    log_weights = -np.sum(np.log(density + alpha), axis=1)
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def sample_weights(z: Any, alpha: float = 0.01, bins: int = 10, smoothing: float = 1e-3,
                   strata: Any = None) -> np.ndarray:
    """:func:`sampling_weights` with mean 1, ready for ``model.fit(..., sample_weight=...)``: the debiasing
    applied by weighting the loss instead of by resampling (every sample still seen once per epoch)."""
    return sampling_weights(z, alpha=alpha, bins=bins, normalize="mean_one", smoothing=smoothing, strata=strata)


def _weight_vector(values: Any, argument: str, n: int | None = None) -> np.ndarray:
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise _checks.fail(argument, "a 1-D array of numbers", type(values).__name__) from None
    if values.ndim != 1 or len(values) < 1 or (n is not None and len(values) != n):
        wanted = "a non-empty 1-D array" if n is None else f"a 1-D array of {n} values (one per sample)"
        raise _checks.fail(argument, wanted, f"shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or not values.sum() > 0:
        raise _checks.fail(argument, "finite values >= 0 with a positive sum", _checks.short(values))
    return values


def effective_sample_size(probabilities: Any) -> float:
    """How many equally weighted samples a weighting is worth, 1 / sum p^2 (Kish's effective sample size): N for
    uniform probabilities, 1 when one sample takes everything. Weights that do not sum to 1 (``"mean_one"``
    ones) are normalised first, so this is ``(sum w)^2 / sum w^2``."""
    p = _weight_vector(probabilities, "probabilities")
    p = p / p.sum()
    return float(1.0 / np.sum(np.square(p)))


def _entropy(probabilities: np.ndarray) -> float:
    p = probabilities / probabilities.sum()
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def _samples(x: Any, argument: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 1 or len(x) < 1 or x.dtype == object:
        raise _checks.fail(argument, "a non-empty NumPy array of samples (samples first)",
                           f"shape {x.shape}, dtype {x.dtype}")
    return x


def resampled_dataset(x: Any, y: Any = None, probabilities: Any = None, batch_size: int = 32,
                      steps: int | None = None, seed: int = 0, prefetch: int = 2) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of batches drawn with replacement by ``probabilities``: debiasing by resampling,
    where the rare samples are seen more often rather than weighted more.

    Each pass over the dataset (one ``fit`` epoch) yields ``steps`` batches of ``x[idx]`` (or ``(x[idx],
    y[idx])``), ``idx`` drawn from the categorical distribution ``probabilities`` (they need not sum to 1, only
    be proportional). Pass it to ``model.fit(dataset, epochs=...)``, with or without ``steps_per_epoch=steps``.

    The draws read ``probabilities`` at draw time: given a ``tf.Variable`` (:attr:`LatentResampling.probabilities`)
    a callback may reassign it between epochs and the next epoch's batches follow the new values. A pass starts
    drawing when its first batch is requested (Keras's ``fit`` asks after ``on_epoch_begin``), then keeps up to
    ``prefetch`` batches ready; so a change made in the middle of an epoch reaches the batches from about
    ``prefetch`` on. The variable must keep holding finite values >= 0 with a positive sum (a draw fails
    otherwise).

    Reproducibility: batch s of the e-th pass over this dataset is drawn with the stateless key ``(seed, e * steps
    + s)``, e counted by a variable inside the pipeline when a pass starts drawing; so successive epochs differ, a
    new dataset with the same seed replays the same sequence (given the same probabilities), and how fast the
    pipeline runs ahead changes nothing.

    Args:
        x: samples, a NumPy array (N, ...) held in memory (the batches are gathered by index inside ``tf.data``).
        y: optional targets (N, ...).
        probabilities: (N,) NumPy array or ``tf.Variable`` of values >= 0 with a positive sum; None: uniform.
        batch_size: samples per batch.
        steps: batches per pass (default ``max(1, N // batch_size)``: an epoch's worth of samples).
        seed: the integer key of the draws.
        prefetch: batches kept ready ahead of the training step (0: none, every batch drawn when asked for).

    Returns:
        The dataset, of known cardinality ``steps``.
    """
    import tensorflow as tf

    x = _samples(x, "x")
    n = len(x)
    if y is not None:
        y = _samples(y, "y")
        if len(y) != n:
            raise _checks.fail("y", f"{n} targets (one per sample of x)", f"{len(y)}")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    steps = max(1, n // batch_size) if steps is None else _checks.positive_int(steps, "steps")
    if not _checks.is_int(seed):
        raise _checks.fail("seed", "an integer", repr(seed))
    prefetch = _checks.non_negative_int(prefetch, "prefetch")
    if isinstance(probabilities, tf.Variable):
        if not probabilities.dtype.is_floating or tuple(probabilities.shape) != (n,):
            raise _checks.fail("probabilities", f"a floating-point tf.Variable of shape ({n},)",
                               f"{probabilities.dtype.name} of shape {tuple(probabilities.shape)}")
        _weight_vector(probabilities.numpy(), "probabilities", n)
        weights = probabilities
    else:
        weights = tf.constant(np.ones(n) if probabilities is None else _weight_vector(probabilities,
                                                                                       "probabilities", n))

    x_all = tf.constant(x)
    y_all = None if y is None else tf.constant(y)
    passes = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="resampled_passes")
    seed_t = tf.constant(int(seed), tf.int64)

    def start_pass(_):
        return passes.assign_add(1) - 1

    def draw(key):
        p = tf.cast(tf.convert_to_tensor(weights), tf.float64)
        valid = tf.logical_and(tf.reduce_all(tf.math.is_finite(p)), tf.reduce_all(p >= 0.0))
        check = tf.debugging.Assert(tf.logical_and(valid, tf.reduce_sum(p) > 0.0),
                                    ["probabilities: expected finite values >= 0 with a positive sum at draw time"])
        with tf.control_dependencies([check]):
            logits = tf.math.log(tf.reshape(p, (1, n)))
        idx = tf.random.stateless_categorical(logits, batch_size, seed=tf.stack([seed_t, key]), dtype=tf.int64)
        idx = tf.reshape(idx, (batch_size,))
        xb = tf.gather(x_all, idx)
        return xb if y_all is None else (xb, tf.gather(y_all, idx))

    dataset = (tf.data.Dataset.range(1).map(start_pass)
               .flat_map(lambda e: tf.data.Dataset.range(steps).map(lambda s: e * steps + s))
               .apply(tf.data.experimental.assert_cardinality(steps))
               .map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    return dataset.prefetch(prefetch) if prefetch else dataset


def _first_output(out: Any) -> Any:
    if isinstance(out, dict):
        out = next(iter(out.values())) if out else out
    elif isinstance(out, (tuple, list)):
        out = out[0] if out else out
    return out


def _accepts_batch_size(method: Callable) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "batch_size" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


class LatentResampling(keras.callbacks.Callback):
    """Keep sampling probabilities in step with a learned latent space: at the start of every ``every``-th epoch
    (epoch 0 included), encode ``x`` and set :attr:`probabilities` to :func:`sampling_weights` of the codes, so a
    :func:`resampled_dataset` reading that variable draws the currently rare samples more often. This is the
    debiasing VAE's loop when the encoder trains alongside (the probabilities follow its latent space), and
    plain reweighting when the encoder is fixed.

    Args:
        encoder: what turns samples into latent codes, one of:
            - an object with an ``encode(x)`` method (``FAnoGAN``, ``VAEGAN``: their ``encode(x, batch_size=...)``
              returns the posterior means as NumPy); called once on all of ``x``, with ``batch_size`` when the
              method takes it;
            - a ``keras.Model`` (or Layer), called on batches of ``batch_size`` with ``training=False``;
            - any callable ``x -> z``, called on batches of ``batch_size``.
            An output that is a tuple or list (a VAE encoder's ``(mean, log_variance)``) gives its first element;
            a dict its first value. Codes with more than one axis after the samples are flattened.
        x: the training samples, a NumPy array (N, ...), N >= 2, in the order the dataset indexes them.
        alpha, bins, smoothing, strata: see :func:`sampling_weights` (strata: e.g. the class labels of ``x``).
        batch_size: samples per encoder call.
        every: recompute every ``every`` epochs.

    Attributes:
        probabilities: a float64 ``tf.Variable`` (N,), uniform until the first update; pass it to
            :func:`resampled_dataset` (or use :meth:`dataset`).
        history: per update, ``epoch`` (None for a direct :meth:`update`), ``effective_sample_size`` and
            ``entropy`` (nats) of the probabilities: how far the sampling moved from uniform (``N`` and
            ``log N``).
    """

    def __init__(self, encoder: Any, x: Any, alpha: float = 0.01, bins: int = 10, batch_size: int = 256,
                 every: int = 1, smoothing: float = 1e-3, strata: Any = None):
        super().__init__()
        import tensorflow as tf

        if not (callable(getattr(encoder, "encode", None)) or callable(encoder)):
            raise _checks.fail("encoder", "a keras Model, a callable x -> z, or an object with an encode(x) method",
                               type(encoder).__name__)
        x = _samples(x, "x")
        if len(x) < 2:
            raise _checks.fail("x", "at least 2 samples", f"{len(x)}")
        self.encoder, self.x = encoder, x
        self.alpha = _checks.finite_non_negative(alpha, "alpha")
        self.bins = _checks.positive_int(bins, "bins")
        self.smoothing = _checks.finite_non_negative(smoothing, "smoothing")
        self.batch_size = _checks.positive_int(batch_size, "batch_size")
        self.every = _checks.positive_int(every, "every")
        n = len(x)
        self.strata = None if strata is None else np.asarray(strata)
        if self.strata is not None and self.strata.shape != (n,):
            raise _checks.fail("strata", f"None or {n} values, one per sample of x", f"shape {self.strata.shape}")
        self.probabilities = tf.Variable(np.full(n, 1.0 / n), dtype=tf.float64, trainable=False,
                                         name="debias_probabilities")
        self.history: dict[str, list] = {"epoch": [], "effective_sample_size": [], "entropy": []}

    def encode(self) -> np.ndarray:
        """The latent codes of ``x`` under the encoder as it is now, (N, D) float64."""
        encoder, x, n = self.encoder, self.x, len(self.x)
        method = getattr(encoder, "encode", None)
        if callable(method):
            kwargs = {"batch_size": self.batch_size} if _accepts_batch_size(method) else {}
            parts = [_first_output(method(x, **kwargs))]
        else:
            call: Callable = ((lambda b: encoder(b, training=False)) if isinstance(encoder, keras.layers.Layer)
                              else encoder)
            parts = [_first_output(call(x[i:i + self.batch_size])) for i in range(0, n, self.batch_size)]
        try:
            z = np.concatenate([np.asarray(keras.ops.convert_to_numpy(p), dtype=np.float64).reshape(len(p), -1)
                                for p in parts])
        except (TypeError, ValueError):
            raise _checks.fail("encoder", "array outputs, one row of latent codes per sample",
                               type(parts[0]).__name__) from None
        if len(z) != n:
            raise _checks.fail("encoder", f"{n} rows of latent codes (one per sample of x)", f"{len(z)}")
        return _latents(z, "encoder")

    def update(self, epoch: int | None = None) -> np.ndarray:
        """Re-encode ``x`` and reset :attr:`probabilities` now (also what each scheduled epoch does); returns
        them as NumPy."""
        p = sampling_weights(self.encode(), alpha=self.alpha, bins=self.bins, normalize="probability",
                             smoothing=self.smoothing, strata=self.strata)
        self.probabilities.assign(p)
        self.history["epoch"].append(epoch)
        self.history["effective_sample_size"].append(effective_sample_size(p))
        self.history["entropy"].append(_entropy(p))
        return p

    def current_probabilities(self) -> np.ndarray:
        """A NumPy copy of the latest sampling probabilities (uniform before the first update)."""
        return np.array(self.probabilities.numpy(), copy=True)

    def dataset(self, y: Any = None, batch_size: int = 32, steps: int | None = None, seed: int = 0,
                prefetch: int = 2) -> tf.data.Dataset:
        """:func:`resampled_dataset` of this callback's ``x`` (and ``y``) drawn by its :attr:`probabilities`."""
        return resampled_dataset(self.x, y, self.probabilities, batch_size=batch_size, steps=steps, seed=seed,
                                 prefetch=prefetch)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Refresh before the epoch's first batch is drawn, so the whole epoch samples by the new values."""
        if epoch % self.every == 0:
            self.update(epoch)
