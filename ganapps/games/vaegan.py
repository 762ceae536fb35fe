"""The VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric").

A variational autoencoder whose decoder is the GAN's generator G, trained together with a discriminator D whose
features serve as the reconstruction metric. Its encoder E gives every sample a Gaussian posterior q(z|x) in the
generator's latent space, where dataset tools (debiasing, as in Amini et al. 2019) can estimate how common each
training sample is.

One training step on a batch x (after ``d_steps`` discriminator updates, each on freshly drawn fakes):

* (mu, log_var) = E(x); z = mu + eps * exp(log_var / 2), eps ~ N(0, I) from the game's seed stream (the
  reparameterisation trick); x_rec = G(z); x_p = G(z_p) with z_p ~ N(0, I) from the prior.
* D: the game's adversarial loss with x as reals against both x_rec and x_p as fakes (the two fake batches are
  judged as one batch of twice the size, so each counts half), plus any GAN penalty.
* E: ``kl_weight * KL / values + feature + pixel_weight * pixel``.
* G: ``recon_weight * (feature + pixel_weight * pixel) + adversarial generator loss on x_rec and x_p``.

where ``feature`` is the mean squared difference between D's features (see ``feature_layer``) of x and of x_rec,
``pixel`` the mean squared difference of x and x_rec per value, and KL = KL(q(z|x) || N(0, I)) summed over the
latent dimensions and averaged over the batch.

The KL normalisation: ``values`` is the number of values in one sample (H * W * C for images). A VAE's loss
``sum_i (x_i - x_rec_i)^2 + KL`` divided by ``values`` is ``pixel + KL / values``, so with the reconstruction
terms taken as per-value means the KL is divided by ``values`` too, and ``kl_weight=1`` (with
``pixel_weight=1``) is that VAE (a Gaussian decoder of variance 1/2), whatever the image size. The ``kl``
metric reports the undivided KL, in nats per sample.

E and G are updated from one forward pass (one tape, each player differentiating its own loss), as in the
paper's Algorithm 1; D is updated first, as in :class:`~ganapps.games.gan.GAN`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks, latent
from ganapps.games._encoder import TrainsEncoder
from ganapps.games.gan import GAN, _fmt, _replica, _shapes_compatible

__all__ = ["VAEGAN"]


@keras.saving.register_keras_serializable(package="ganapps")
class VAEGAN(TrainsEncoder, GAN):
    """A VAE whose decoder is a GAN generator, with the discriminator's features as its reconstruction metric.

    Args:
        generator: a ``keras.Model`` from latents (batch, latent_dim) to samples: the VAE's decoder.
        discriminator: a functional or Sequential ``keras.Model`` from samples to logits (its features are read
            from inside it).
        encoder: a ``keras.Model`` from samples (the discriminator's input shape) to the posterior: one output of
            width ``2 * latent_dim`` (mean, then log-variance, concatenated), e.g.
            ``nets.dcgan_encoder(image_shape, 2 * latent_dim)``, or a list of two outputs (mean, log_variance) of
            width ``latent_dim`` each.
        latent_dim: size of the latent vector; inferred from the generator when None.
        loss: the adversarial loss pair (a name registered in :mod:`ganapps.losses`); Larsen et al. use the
            original GAN's, ``"minimax"``.
        kl_weight: beta, the weight of the prior term in the encoder's loss (see the module docstring for the
            normalisation).
        recon_weight: gamma, the weight of the reconstruction (feature + pixel) in the generator's loss against
            its adversarial loss.
        pixel_weight: weight of the per-value MSE beside the feature reconstruction, for both E and G; it keeps
            small runs stable while D's features are still poor. 0 gives the paper's objective.
        feature_layer: None (the input of the discriminator's last layer, or of its minibatch std-dev layer, as
            :class:`~ganapps.games.fanogan.FAnoGAN` picks it) or the name of a discriminator layer whose flattened
            output is the learned similarity's feature space.
        **gan_kwargs: the :class:`~ganapps.games.gan.GAN` options (d_steps, gradient_penalty, r1, ema, augment,
            label_smoothing, seed). ``augment`` applies to the adversarial logits only, never to the features;
            a gradient penalty interpolates between reals and prior samples G(z_p).
            With ``ema``, :meth:`reconstruct`, :meth:`generate` and exports use the averaged generator.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, encoder: keras.Model,
                 latent_dim: int | None = None, loss: Any = "minimax", kl_weight: float = 1.0,
                 recon_weight: float = 1.0, pixel_weight: float = 1.0, feature_layer: str | None = None,
                 **gan_kwargs):
        super().__init__(generator, discriminator, latent_dim=latent_dim, loss=loss, **gan_kwargs)
        self.kl_weight = _checks.finite_non_negative(kl_weight, "kl_weight")
        self.recon_weight = _checks.finite_non_negative(recon_weight, "recon_weight")
        self.pixel_weight = _checks.finite_non_negative(pixel_weight, "pixel_weight")
        self._set_encoder(encoder, feature_layer)
        self.e_loss_tracker = keras.metrics.Mean(name="e_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.feature_tracker = keras.metrics.Mean(name="feature_reconstruction")

    # -- checks ------------------------------------------------------------------------------------------
    def _check_encoder(self, encoder) -> None:
        n = self.latent_dim
        if not isinstance(encoder, keras.Model):
            raise _checks.fail("encoder", "a keras.Model from samples to the posterior's mean and log-variance",
                               type(encoder).__name__)
        sample = self._sample_shape()
        want = (f"a keras.Model from samples of shape {_fmt(sample)} to (batch, {2 * n}) (mean and log-variance "
                f"concatenated: 2 * latent_dim) or to two outputs (batch, {n}) (mean, log-variance)")
        try:
            output, e_in, e_out = encoder.output, encoder.input_shape, encoder.output_shape
        except (AttributeError, ValueError) as err:
            raise _checks.fail("encoder", want, f"{type(encoder).__name__} {encoder.name!r} without symbolic inputs "
                               "and outputs (build it with the functional API or as a Sequential with an Input)") \
                from err
        if isinstance(output, dict):
            raise _checks.fail("encoder", want, f"one with a dict output of keys {sorted(output)}")
        outs = e_out if isinstance(e_out, list) else [e_out]
        widths = [tuple(shape[1:]) for shape in outs]
        if isinstance(e_in, list) or not _shapes_compatible(tuple(e_in[1:]), sample):
            raise _checks.fail("encoder", want, f"one taking {e_in if isinstance(e_in, list) else _fmt(e_in[1:])}")
        if widths not in ([(2 * n,)], [(n,), (n,)]):
            got = ", ".join(f"(batch, {', '.join('None' if s is None else str(s) for s in w)})" for w in widths)
            raise _checks.fail("encoder", want, f"one with {len(widths)} output(s) {got}")

    # -- compile -----------------------------------------------------------------------------------------
    def compile(self, g_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
                d_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
                e_optimizer: keras.optimizers.Optimizer | str | dict | None = None, **kwargs) -> None:
        """Set the three players' optimizers (Adam(2e-4, beta_1=0.5) each by default), built here so that a
        reloaded game resumes all of their state. Other keyword arguments go to ``keras.Model.compile``."""
        super().compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer, **kwargs)
        self._compile_encoder(e_optimizer)

    # -- training ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The trackers ``fit`` reports and resets each epoch: d_loss (the adversarial loss, without penalties),
        g_loss and e_loss (the generator's and encoder's whole losses), kl (nats per sample), reconstruction (pixel
        MSE), feature_reconstruction (feature MSE), and gp or r1 when those penalties are on."""
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.e_loss_tracker, self.kl_tracker,
                    self.reconstruction_tracker, self.feature_tracker]
        return trackers + [t for t in (self.gp_tracker, self.r1_tracker) if t is not None]

    def _posterior(self, x, training: bool):
        """(mean, log-variance) of q(z|x), float32, from either encoder layout."""
        out = self.encoder(x, training=training)
        if isinstance(out, (list, tuple)):
            mean, log_variance = out
        else:
            mean, log_variance = out[:, :self.latent_dim], out[:, self.latent_dim:]
        return ops.cast(mean, "float32"), ops.cast(log_variance, "float32")

    def _reconstruction_batch(self, x, batch):
        """(G(z) with z drawn from q(z|x) by reparameterisation, mean, log-variance) for a training step."""
        mean, log_variance = self._posterior(x, training=True)
        eps = self._replica_draw(lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator),
                                 batch)
        z = mean + eps * ops.exp(0.5 * log_variance)
        return self.generator(z, training=True), mean, log_variance

    def train_step(self, data: Any) -> dict:
        """``d_steps`` discriminator updates, then one joint encoder and generator update (module docstring)."""
        real, _ = self._unpack(data)
        batch = ops.shape(real)[0]
        replicas, _ = _replica()
        d_vars = self._critic_variables()

        for _ in range(self.d_steps):
            reconstruction = self._reconstruction_batch(real, batch)[0]
            prior = self._fake_batch(batch)
            with tf.GradientTape() as tape:
                real_logits = self._discriminate(real)
                fake_logits = self._discriminate(ops.concatenate([reconstruction, prior], axis=0))
                d_loss = self.d_adversarial_loss(real_logits, fake_logits)
                penalty, gp, r1 = self._d_penalties(real, prior, None, batch)
                total = d_loss if penalty is None else d_loss + penalty
                scaled = self.d_optimizer.scale_loss(total / replicas)
            self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))

        e_vars, g_vars = self.encoder.trainable_variables, self._generator_variables()
        with tf.GradientTape(persistent=True) as tape:
            reconstruction, mean, log_variance = self._reconstruction_batch(real, batch)
            prior = self._fake_batch(batch)
            real32, reconstruction32 = ops.cast(real, "float32"), ops.cast(reconstruction, "float32")
            kl = ops.mean(0.5 * ops.sum(ops.exp(log_variance) + ops.square(mean) - 1.0 - log_variance, axis=-1))
            values = ops.cast(ops.size(real32) // batch, "float32")
            pixel = ops.mean(ops.square(reconstruction32 - real32))
            features = self.feature_model
            feature = ops.mean(ops.square(ops.cast(features(reconstruction, training=False), "float32")
                                          - ops.cast(features(real, training=False), "float32")))
            fake_logits = self._discriminate(ops.concatenate([reconstruction, prior], axis=0))
            real_logits_g = self._discriminate(real) if self.adversarial_loss.generator_uses_real else real_logits
            adversarial = self.adversarial_loss.generator_loss(real_logits_g, fake_logits)
            similarity = feature + self.pixel_weight * pixel
            e_loss = self.kl_weight * kl / values + similarity
            g_loss = self.recon_weight * similarity + adversarial
            e_scaled = self.e_optimizer.scale_loss(e_loss / replicas)
            g_scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        e_grads = tape.gradient(e_scaled, e_vars)
        g_grads = tape.gradient(g_scaled, g_vars)
        del tape
        self.e_optimizer.apply_gradients(zip(e_grads, e_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        if self.ema_generator is not None:
            self._update_ema()

        for tracker, value in ((self.d_loss_tracker, d_loss), (self.g_loss_tracker, g_loss),
                               (self.e_loss_tracker, e_loss), (self.kl_tracker, kl),
                               (self.reconstruction_tracker, pixel), (self.feature_tracker, feature),
                               (self.gp_tracker, gp), (self.r1_tracker, r1)):
            if tracker is not None:
                tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    # -- inference ---------------------------------------------------------------------------------------
    def encode_distribution(self, x: Any, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The posterior q(z|x) of each sample as ``(mean, log_variance)``, each (n, latent_dim) float32: what a
        density estimate over the dataset's latent codes needs beyond the means."""
        x = self._samples(x)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        means, log_variances = [], []
        for i in range(0, len(x), batch_size):
            mean, log_variance = self._posterior(x[i:i + batch_size], training=False)
            means.append(ops.convert_to_numpy(mean))
            log_variances.append(ops.convert_to_numpy(log_variance))
        return np.concatenate(means).astype(np.float32), np.concatenate(log_variances).astype(np.float32)

    def encode(self, x: Any, batch_size: int = 256, sample: bool = False, seed: int | None = None) -> np.ndarray:
        """Latent codes of samples ``x``, (n, latent_dim) float32: the posterior means, or with ``sample=True`` one
        draw from each posterior (``seed`` makes the draws repeatable; it is not the training seed stream)."""
        if not isinstance(sample, (bool, np.bool_)):
            raise _checks.fail("sample", "True or False", repr(sample))
        mean, log_variance = self.encode_distribution(x, batch_size)
        if not sample:
            return mean
        eps = latent.sample_normal(len(mean), self.latent_dim, seed=seed)
        return (mean + eps * np.exp(0.5 * log_variance)).astype(np.float32)

    def reconstruct(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """G(mean of q(z|x)) for samples ``x``, shaped like ``x``: the deterministic reconstruction, to judge
        what the latent code keeps of a sample (the EMA generator when there is one)."""
        mean = self.encode(x, batch_size)
        return self._predict([mean], batch_size).astype(np.float32, copy=False)

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The GAN's config (with the encoder and feature layer, from :class:`TrainsEncoder`) plus the VAE-GAN's
        loss weights, for ``.keras`` files."""
        config = super().get_config()
        config.update({
            "kl_weight": self.kl_weight,
            "recon_weight": self.recon_weight,
            "pixel_weight": self.pixel_weight,
        })
        return config
