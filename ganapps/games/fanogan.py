"""GAN-based outlier detection: f-AnoGAN (Schlegl et al. 2019), with AnoGAN (Schlegl et al. 2017) and the critic
itself as alternative scores.

A GAN trained on normal data alone learns to make only normal samples, so a sample the generator cannot
reconstruct is suspect. Training goes in two phases, switched by assigning ``game.phase``:

1. ``phase="gan"``: the generator and the discriminator train exactly as in :class:`~ganapps.games.gan.GAN`.
2. ``phase="encoder"``: only the encoder E trains, with the "izi_f" loss of f-AnoGAN: the sample x goes to a
   latent and back through the frozen (inference) generator, x̂ = G(E(x)), and the loss is
   ``mean((x̂ - x)^2) + kappa * mean((f(x̂) - f(x))^2)``, f the discriminator's features. The feature term
   makes reconstructions agree with x in what the discriminator finds characteristic, not only pixel by pixel.

Scores (higher = more abnormal unless said otherwise):

* :meth:`FAnoGAN.anomaly_scores`: f-AnoGAN's ``image_residual + kappa * feature_residual``, one forward pass;
  :meth:`FAnoGAN.scorer` is the same computation as one Keras graph, ready for ONNX/SavedModel export.
* :meth:`FAnoGAN.anogan_scores`: AnoGAN's, which searches z for each query by gradient descent
  (:func:`ganapps.latent.invert`): slower, no encoder needed.
* :meth:`FAnoGAN.discriminator_scores`: the critic's logit, a baseline; higher means MORE NORMAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ganapps import _checks, latent
from ganapps.games._encoder import TrainsEncoder
from ganapps.games._phases import Phased
from ganapps.games.gan import GAN, _fmt, _replica, _shapes_compatible

__all__ = ["FAnoGAN", "AnomalyScores", "FAnoGANScore", "PHASES"]

PHASES = ("gan", "encoder")
_DEFAULT_E_LR = 1e-3
SCORE_DESCRIPTION = "image_residual + kappa * feature_residual; higher is more abnormal"


@dataclass
class AnomalyScores:
    """Per-sample outlier scores and where they come from.

    Attributes:
        scores: (n,) the anomaly score; higher is more abnormal.
        image_residual: (n,) the pixel (value) term of the score.
        feature_residual: (n,) the discriminator-feature term of the score.
        reconstructions: the samples the generator made for each input, shaped like the inputs.
        residual_maps: (x - reconstruction)^2, shaped like the inputs: where a sample differs.
    """

    scores: np.ndarray
    image_residual: np.ndarray
    feature_residual: np.ndarray
    reconstructions: np.ndarray
    residual_maps: np.ndarray


@keras.saving.register_keras_serializable(package="ganapps")
class FAnoGANScore(layers.Layer):
    """f-AnoGAN's score as a layer, so a scorer is one exportable graph without a Lambda.

    Called on ``[x, reconstruction, features_x, features_reconstruction]`` (features flat, (batch, k)); returns
    ``(score (batch,), residual map (x - reconstruction)^2 like x)`` with score = mean of the residual map +
    ``kappa`` * mean squared feature difference.
    """

    def __init__(self, kappa: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.kappa = _checks.non_negative(kappa, "kappa")

    def call(self, inputs):
        x, reconstruction, features_x, features_r = (ops.cast(t, "float32") for t in inputs)
        residual = ops.square(x - reconstruction)
        image_residual = ops.mean(ops.reshape(residual, (ops.shape(residual)[0], -1)), axis=1)
        feature_residual = ops.mean(ops.square(features_r - features_x), axis=1)
        return image_residual + self.kappa * feature_residual, residual

    def compute_output_spec(self, inputs):
        x = inputs[0]
        return (keras.KerasTensor((x.shape[0],), dtype="float32"), keras.KerasTensor(x.shape, dtype="float32"))

    def get_config(self) -> dict:
        config = super().get_config()
        config["kappa"] = self.kappa
        return config


@keras.saving.register_keras_serializable(package="ganapps")
class FAnoGAN(Phased, TrainsEncoder, GAN):
    """A GAN with an encoder trained after it, to score samples as outliers (f-AnoGAN).

    Args:
        generator: a ``keras.Model`` from latents (batch, latent_dim) to samples.
        discriminator: a functional or Sequential ``keras.Model`` from samples to logits (its features are read
            from inside it).
        encoder: a ``keras.Model`` from samples (the discriminator's input shape) to latents (batch, latent_dim),
            e.g. :func:`ganapps.nets.mlp_encoder` or :func:`ganapps.nets.dcgan_encoder`.
        latent_dim: size of the latent vector; inferred from the generator when None.
        phase: ``"gan"`` (train G and D) or ``"encoder"`` (train E alone with the izi_f loss).
        kappa: weight of the feature residual in the encoder's loss and in the anomaly score.
        feature_layer: None (the input of the discriminator's last layer: the features its logit is computed
            from) or the name of a discriminator layer whose output is used; features are flattened per sample.
            Features must not pass through a :class:`~ganapps.layers.MinibatchStdDev` layer, whose output for
            a sample depends on the rest of its batch (so would its score): with None, a discriminator that has
            one takes the input of that layer instead; a named layer after it is refused.
        **kwargs: the :class:`~ganapps.games.gan.GAN` options (loss, d_steps, penalties, ema, augment,
            label_smoothing, seed). With ``ema`` the encoder learns to invert the averaged generator, the one
            that generates and is exported.
    """

    PHASES = PHASES

    def __init__(self, generator: keras.Model, discriminator: keras.Model, encoder: keras.Model,
                 latent_dim: int | None = None, phase: str = "gan", kappa: float = 1.0,
                 feature_layer: str | None = None, **kwargs):
        super().__init__(generator, discriminator, latent_dim=latent_dim, **kwargs)
        self._phase = self._check_phase(phase)
        self.kappa = _checks.non_negative(kappa, "kappa")
        self._set_encoder(encoder, feature_layer)
        self.izi_tracker = keras.metrics.Mean(name="izi_loss")
        self.image_residual_tracker = keras.metrics.Mean(name="image_residual")
        self.feature_residual_tracker = keras.metrics.Mean(name="feature_residual")

    # -- checks ------------------------------------------------------------------------------------------
    def _check_encoder(self, encoder) -> None:
        if not isinstance(encoder, keras.Model):
            raise _checks.fail("encoder", "a keras.Model from samples to latents", type(encoder).__name__)
        sample = self._sample_shape()
        want = f"a keras.Model from samples of shape {_fmt(sample)} to latents (batch, {self.latent_dim})"
        e_in, e_out = encoder.input_shape, encoder.output_shape
        if isinstance(e_in, list) or isinstance(e_out, list):
            raise _checks.fail("encoder", want, f"one with inputs {e_in} and outputs {e_out}")
        if not _shapes_compatible(tuple(e_in[1:]), sample) or tuple(e_out[1:]) != (self.latent_dim,):
            raise _checks.fail("encoder", want, f"one from {_fmt(tuple(e_in[1:]))} to (batch, "
                               f"{', '.join('None' if s is None else str(s) for s in e_out[1:])})")

    # -- phases ------------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        if self._phase == "encoder":
            return [self.izi_tracker, self.image_residual_tracker, self.feature_residual_tracker]
        return super().metrics

    # -- features ----------------------------------------------------------------------------------------
    def _feature_pair(self, x, reconstruction):
        """Float32 features of ``x`` and of ``reconstruction``, in separate passes as in :meth:`scorer`."""
        features = self.feature_model
        return (ops.cast(features(x, training=False), "float32"),
                ops.cast(features(reconstruction, training=False), "float32"))

    # -- compile -----------------------------------------------------------------------------------------
    def compile(self, g_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
                d_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
                e_optimizer: keras.optimizers.Optimizer | str | dict | None = None, **kwargs) -> None:
        """Set the three optimizers: the generator's and discriminator's (Adam(2e-4, beta_1=0.5) each by
        default) and the encoder's (Adam(1e-3) by default). All are built here, so a reloaded game resumes
        their state. Other keyword arguments go to ``keras.Model.compile``."""
        super().compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer, **kwargs)
        self._compile_encoder(e_optimizer, lambda: keras.optimizers.Adam(_DEFAULT_E_LR, name="e_optimizer"))

    # -- training ----------------------------------------------------------------------------------------
    def train_step(self, data):
        if self._phase == "gan":
            return super().train_step(data)
        return self._encoder_step(self._unpack(data)[0])

    def _encoder_step(self, x):
        replicas, _ = _replica()
        e_vars = self.encoder.trainable_variables
        x = ops.cast(x, "float32")
        with tf.GradientTape() as tape:
            reconstruction = ops.cast(self.inference_generator(self.encoder(x, training=True), training=False),
                                      "float32")
            image_residual = ops.mean(ops.square(reconstruction - x))
            features_x, features_r = self._feature_pair(x, reconstruction)
            feature_residual = ops.mean(ops.square(features_r - ops.stop_gradient(features_x)))
            loss = image_residual + self.kappa * feature_residual
            scaled = self.e_optimizer.scale_loss(loss / replicas)
        self.e_optimizer.apply_gradients(zip(tape.gradient(scaled, e_vars), e_vars))
        self.izi_tracker.update_state(loss)
        self.image_residual_tracker.update_state(image_residual)
        self.feature_residual_tracker.update_state(feature_residual)
        return {m.name: m.result() for m in self.metrics}

    # -- scoring -----------------------------------------------------------------------------------------
    def encode(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """The encoder's latents of samples ``x`` (n, latent_dim): where in the generator's latent space each
        sample lies."""
        return self._encode(self._samples(x), batch_size)

    def _encode(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        return latent._in_batches(self.encoder, x, _checks.positive_int(batch_size, "batch_size"))

    def anomaly_scores(self, x: Any, batch_size: int = 256) -> AnomalyScores:
        """f-AnoGAN's scores of samples ``x``: ``image_residual + kappa * feature_residual`` (higher = more
        abnormal), both mean squared differences between x and G(E(x)), in values and in discriminator features.
        Meaningful after the encoder phase."""
        x = self._samples(x)
        recon = self._predict([self._encode(x, batch_size)], batch_size).astype(np.float32, copy=False)
        features_x, features_r = (latent._in_batches(self.feature_model, v, batch_size).astype(np.float32)
                                  for v in (x, recon))
        maps = np.square(x - recon)
        image = np.mean(maps.reshape(len(x), -1), axis=1)
        feature = np.mean(np.square(features_r - features_x), axis=1)
        return AnomalyScores(scores=(image + np.float32(self.kappa) * feature).astype(np.float32),
                             image_residual=image, feature_residual=feature, reconstructions=recon,
                             residual_maps=maps)

    def anogan_scores(self, x: Any, lam: float = 0.1, steps: int = 200, restarts: int = 2,
                      learning_rate: float = 0.05, batch_size: int = 256, seed: int | None = 0,
                      jit_compile: bool = True) -> AnomalyScores:
        """AnoGAN's scores of samples ``x`` (higher = more abnormal): G is inverted per query by gradient descent
        (:func:`ganapps.latent.invert` with the discriminator's features and L1 distances), and the score is
        ``(1 - lam) * mean|x - G(z*)| + lam * mean|f(x) - f(G(z*))|``, the residual and discrimination losses.
        Needs no encoder, but costs ``steps * restarts`` generator passes per sample.

        The paper sums its L1 terms; here each is averaged per element, which is the paper's sum with the feature
        term multiplied by (pixel count / feature count): the paper's λ = 0.1 and this ``lam=0.1`` weigh the
        feature term alike only when the discriminator has as many features as the sample has values."""
        weight = _checks.non_negative(lam, "lam")
        if not weight <= 1.0:
            raise _checks.fail("lam", "a weight in [0, 1]", repr(lam))
        x = self._samples(x)
        found = latent.invert(self, x, steps=steps, restarts=restarts, learning_rate=learning_rate,
                              batch_size=batch_size, seed=seed, jit_compile=jit_compile,
                              feature_model=self.feature_model, feature_weight=weight, distance="l1")
        recon = found.reconstructions.astype(np.float32)
        return AnomalyScores(scores=found.objective, image_residual=found.errors,
                             feature_residual=found.feature_errors, reconstructions=recon,
                             residual_maps=np.square(x - recon))

    def discriminator_scores(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """The critic's logit for each sample (mean over any extra output dims), (n,): its "realness", so
        HIGHER = MORE NORMAL, the opposite sign of the other scores."""
        x = self._samples(x)
        logits = latent._in_batches(self.discriminator, x, _checks.positive_int(batch_size, "batch_size"))
        return np.mean(logits.astype(np.float32).reshape(len(x), -1), axis=1)

    def scorer(self) -> keras.Model:
        """f-AnoGAN's scoring as one functional ``keras.Model``: input ``"x"`` (samples, dynamic batch), outputs
        ``{"score": (batch,), "reconstruction": like x, "residual": (x - x̂)^2 like x}``, the same numbers as
        :meth:`anomaly_scores`. It shares the game's networks; export it with
        :func:`ganapps.export.export_generator`."""
        x = keras.Input(self._sample_shape(), name="x")
        reconstruction = self.inference_generator(self.encoder(x))
        features = self.feature_model
        score, residual = FAnoGANScore(self.kappa, name="score")(
            [x, reconstruction, features(x), features(reconstruction)])
        return keras.Model(x, {"score": score, "reconstruction": reconstruction, "residual": residual},
                           name="fanogan_scorer")

    def scorer_metadata(self, threshold: float) -> dict:
        """The ``metadata.json`` keys that make a :meth:`scorer` export loadable by
        :func:`ganapps.runtime.load_scorer`: task, ``threshold`` (on the anomaly-score scale: a score above it is
        an outlier), input kind, sample shape, value range, kappa and what the score is. Pass them as
        ``extra_metadata``, with the same ``value_range`` ((-1, 1) for images, None for vectors)::

            export_generator(game.scorer(), directory, extra_metadata=game.scorer_metadata(t),
                             value_range=(-1.0, 1.0))

        Not named ``export_metadata`` on purpose: exporting the game itself exports its generator, which must not
        be labelled an outlier scorer."""
        finite = (isinstance(threshold, (int, float, np.integer, np.floating)) and not isinstance(threshold, bool)
                  and np.isfinite(threshold))
        if not finite:
            raise _checks.fail("threshold", "a finite number (the anomaly score above which a sample is an "
                               "outlier)", repr(threshold))
        shape = self._sample_shape()
        images = len(shape) == 3
        return {"task": "outlier_scoring", "threshold": float(threshold),
                "input_kind": "images" if images else "vectors", "sample_shape": list(shape),
                "value_range": [-1.0, 1.0] if images else None, "kappa": self.kappa, "score": SCORE_DESCRIPTION}

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The GAN's config (with the encoder and feature layer, from :class:`TrainsEncoder`) plus the phase and
        ``kappa``, for ``.keras`` files."""
        config = super().get_config()
        config.update({"phase": self._phase, "kappa": self.kappa})
        return config
