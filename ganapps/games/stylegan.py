"""StyleGAN (Karras et al. 2019): the base GAN game with style mixing and w-space truncation.

The game is :class:`ganapps.GAN` with a style-based generator (:func:`ganapps.nets.style_generator`); only the
way a training batch of fakes is drawn changes (the ``_fake_batch`` hook). With probability ``style_mixing`` a
sample is generated from two latents: its styles come from ``w1 = mapping(z1)`` below a random crossover layer
and from ``w2 = mapping(z2)`` from it on. This *mixing regularisation* keeps neighbouring styles from being
correlated, so that coarse styles (pose, shape) and fine ones (colour, texture) can be swapped at will. The
draw happens in-graph (a crossover index per sample and a mask over the layer axis), so it runs under XLA and
``tf.distribute`` like the rest of the train step.

The game also tracks the average ``w`` (an exponential moving average, as StyleGAN does) for the truncation
trick in w-space: ``w' = w_avg + psi * (w - w_avg)``. It is updated once per train step, after the generator
(and EMA) update, from a fresh batch of latents mapped by the network that sampling uses: the EMA generator's
mapping network when there is one, else the training one. The truncation centre is thus the average w of the
very network :meth:`StyleGAN.map_latents` truncates, not of a different (training) network's w.

Losses, ``d_steps``, R1, gradient penalty, EMA generator and augmentation all work as in :class:`GAN`; the
paper's setting is ``loss="non_saturating", r1=10``. Exports take the (EMA) generator ``z -> image``, which uses
one ``w`` for every layer, no truncation, and the fixed inference noise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from ganapps import _checks, images, latent
from ganapps.games.gan import GAN
from ganapps.nets.style import compose_style_generator, style_parts


def mix_styles(w_coarse, w_fine, crossover, num_layers: int):
    """Stack per-layer styles: ``w_coarse`` for layers below ``crossover``, ``w_fine`` from it on.

    Args:
        w_coarse, w_fine: (batch, w_dim) styles.
        crossover: an int, or one int per sample (batch,): 0 gives all layers ``w_fine``, ``num_layers`` gives
            all layers ``w_coarse``.
        num_layers: number of style layers of the synthesis network.

    Returns:
        ``ws`` of shape (batch, num_layers, w_dim).
    """
    layer = ops.expand_dims(ops.arange(num_layers, dtype="int32"), 0)
    coarse = layer < ops.reshape(ops.cast(crossover, "int32"), (-1, 1))
    return ops.where(ops.expand_dims(coarse, -1), ops.expand_dims(w_coarse, 1), ops.expand_dims(w_fine, 1))


@keras.saving.register_keras_serializable(package="ganapps")
class StyleGAN(GAN):
    """A GAN whose generator is style-based, trained with style mixing; samples with w-space truncation.

    Args:
        generator: a generator built by :func:`ganapps.nets.style_generator` (or any ``z -> image`` model that
            nests one mapping network and one synthesis network); or None when ``mapping`` and ``synthesis``
            are given.
        discriminator: a ``keras.Model`` mapping images to logits.
        latent_dim: see :class:`GAN`.
        mapping, synthesis: the two networks (from :func:`ganapps.nets.style_mapping` and
            :func:`ganapps.nets.style_synthesis`), joined into the generator; instead of ``generator``.
        style_mixing: probability that a training sample mixes the styles of two latents (0.9 in the paper).
        w_avg_decay: decay of the moving average of w kept for truncation (0.995 as in StyleGAN2), updated
            once per train step through the (EMA) mapping network that sampling uses.
        **kwargs: the other options of :class:`GAN` (``loss``, ``d_steps``, ``r1``, ``ema``, ``augment``,
            ``seed``, ...).
    """

    def __init__(self, generator: keras.Model | None = None, discriminator: keras.Model | None = None,
                 latent_dim: int | None = None, *, mapping: keras.Model | None = None,
                 synthesis: keras.Model | None = None, style_mixing: float = 0.9, w_avg_decay: float = 0.995,
                 **kwargs):
        if generator is None:
            if mapping is None or synthesis is None:
                raise _checks.fail("generator", "a style-based generator, or both mapping and synthesis",
                                   f"generator=None, mapping={_name(mapping)}, synthesis={_name(synthesis)}")
            generator = compose_style_generator(mapping, synthesis)
        elif mapping is not None or synthesis is not None:
            raise _checks.fail("mapping", "None when a generator is given (pass either generator or mapping and "
                               "synthesis)", f"mapping={_name(mapping)}, synthesis={_name(synthesis)}")
        if not isinstance(discriminator, keras.Model):
            raise _checks.fail("discriminator", "a keras.Model", type(discriminator).__name__)
        _, synthesis_net = style_parts(generator)  # fail early, with the generator named, before the base class
        super().__init__(generator, discriminator, latent_dim=latent_dim, **kwargs)
        if isinstance(style_mixing, bool) or not isinstance(style_mixing, (int, float)) \
                or not 0.0 <= style_mixing <= 1.0:
            raise _checks.fail("style_mixing", "a probability in [0, 1]", repr(style_mixing))
        if isinstance(w_avg_decay, bool) or not isinstance(w_avg_decay, (int, float)) \
                or not 0.0 <= w_avg_decay < 1.0:
            raise _checks.fail("w_avg_decay", "a decay in [0, 1) such as 0.995", repr(w_avg_decay))
        self.style_mixing = float(style_mixing)
        self.w_avg_decay = float(w_avg_decay)
        self.num_style_layers = int(synthesis_net.input_shape[1])
        self.w_dim = int(synthesis_net.input_shape[-1])
        # "mean": under tf.distribute each replica's batch mean is averaged into one global update.
        self.w_avg = self.add_weight(shape=(self.w_dim,), initializer="zeros", trainable=False, name="w_avg",
                                     aggregation="mean")

    # The sub-models are looked up rather than stored, so that they are not tracked (and saved) twice.
    @property
    def mapping(self) -> keras.Model:
        """The training generator's mapping network ``z -> w``."""
        return style_parts(self.generator)[0]

    @property
    def synthesis(self) -> keras.Model:
        """The training generator's synthesis network ``ws -> image``."""
        return style_parts(self.generator)[1]

    # -- training ----------------------------------------------------------------------------------------
    def _draw_styles(self, batch):
        """(ws, w1, w2, crossover) for one training batch: sample i takes w1[i] below crossover[i] and w2[i]
        from it on; crossover[i] is ``num_layers`` (no mixing) with probability 1 - style_mixing, else uniform
        over 1 .. num_layers - 1."""
        num_layers = self.num_style_layers
        mapping = self.mapping
        if not self.style_mixing:
            w = mapping(self._replica_draw(self.sample_latents, batch), training=True)
            crossover = ops.full((batch,), num_layers, dtype="int32")
            return mix_styles(w, w, crossover, num_layers), w, w, crossover
        z = self._replica_draw(lambda n: keras.random.normal((n, 2, self.latent_dim), seed=self.seed_generator),
                               batch)
        w = mapping(ops.reshape(z, (-1, self.latent_dim)), training=True)
        w = ops.reshape(w, (-1, 2, ops.shape(w)[-1]))
        w1, w2 = w[:, 0], w[:, 1]
        u = self._replica_draw(lambda n: keras.random.uniform((n, 2), seed=self.seed_generator), batch)
        crossover = 1 + ops.cast(ops.floor(u[:, 0] * (num_layers - 1)), "int32")
        crossover = ops.minimum(crossover, num_layers - 1)  # u may round up to 1.0 in float32
        crossover = ops.where(u[:, 1] < self.style_mixing, crossover, num_layers)
        return mix_styles(w1, w2, crossover, num_layers), w1, w2, crossover

    def _fake_batch(self, batch):
        ws, _, _, _ = self._draw_styles(batch)
        return self.synthesis(ws, training=True)

    def train_step(self, data: Any) -> dict[str, Any]:
        logs = super().train_step(data)
        real, _ = self._unpack(data)
        self._update_w_avg(ops.shape(real)[0])
        return logs

    def _update_w_avg(self, batch) -> None:
        """One step of the moving average of w, on fresh latents through the sampled (EMA) mapping network."""
        mapping, _ = self._inference_parts()
        w = mapping(self._replica_draw(self.sample_latents, batch), training=False)
        batch_mean = ops.mean(ops.cast(ops.stop_gradient(w), "float32"), axis=0)
        decay = self.w_avg_decay
        self.w_avg.assign(decay * self.w_avg + (1.0 - decay) * batch_mean)

    # -- sampling ----------------------------------------------------------------------------------------
    def _inference_parts(self) -> tuple[keras.Model, keras.Model]:
        return style_parts(self.inference_generator)

    def map_latents(self, z: np.ndarray, psi: float | None = None, batch_size: int = 256) -> np.ndarray:
        """``w = mapping(z)`` with the inference (EMA) generator, truncated toward the average w when ``psi``
        is set (``psi=1``: no truncation; ``psi=0``: every sample is the average). The average is measured
        through the same mapping network during training."""
        batch_size = _checks.positive_int(batch_size, "batch_size")
        psi = _check_psi(psi)
        mapping, _ = self._inference_parts()
        z = np.asarray(z, dtype=np.float32)
        w = np.concatenate([ops.convert_to_numpy(mapping(z[i:i + batch_size], training=False))
                            for i in range(0, len(z), batch_size)], axis=0)
        if psi is not None:
            w_avg = ops.convert_to_numpy(self.w_avg)
            w = w_avg + psi * (w - w_avg)
        return w.astype(np.float32)

    def synthesize(self, ws: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Images from per-layer styles ``ws`` of shape (n, num_style_layers, w_dim) with the inference
        (EMA) synthesis network and its fixed noise."""
        batch_size = _checks.positive_int(batch_size, "batch_size")
        ws = np.asarray(ws, dtype=np.float32)
        expected = (self.num_style_layers, self.w_dim)
        if ws.ndim != 3 or ws.shape[1:] != expected:
            raise _checks.fail("ws", f"styles of shape (n, {expected[0]}, {expected[1]})", f"shape {ws.shape}")
        _, synthesis = self._inference_parts()
        return np.concatenate([ops.convert_to_numpy(synthesis(ws[i:i + batch_size], training=False))
                               for i in range(0, len(ws), batch_size)], axis=0)

    def generate(self, n: int, seed: int | None = None, truncation: float | None = None, batch_size: int = 256,
                 psi: float | None = None, mix_styles_at: int | None = None) -> np.ndarray:
        """Generate ``n`` images (NumPy, in [-1, 1]); without ``psi`` and ``mix_styles_at``, exactly as
        :meth:`GAN.generate` and the exported model do for the same seed.

        Args:
            n: number of images.
            seed: an int for reproducible samples; None for fresh ones.
            truncation: None, or a truncation of the latents z in standard deviations (see :class:`GAN`).
            batch_size: samples per forward pass.
            psi: None, or the truncation of w toward the tracked average w (0.7 is a common choice).
            mix_styles_at: None, or a crossover layer k in 0 .. num_style_layers: then 2n latents are drawn
                from ``seed``, and image i takes its coarse styles (layers < k) from latent i and its fine
                styles (layers >= k) from latent n + i.
        """
        n = _checks.positive_int(n, "n")
        crossover = self._check_crossover(mix_styles_at, "mix_styles_at")
        if psi is None and crossover is None:
            return super().generate(n, seed=seed, truncation=truncation, batch_size=batch_size)
        z = latent.sample_normal(n if crossover is None else 2 * n, self.latent_dim, seed=seed,
                                 truncation=truncation)
        w = self.map_latents(z, psi=psi, batch_size=batch_size)
        if crossover is None:
            ws = np.repeat(w[:, None], self.num_style_layers, axis=1)
        else:
            ws = ops.convert_to_numpy(mix_styles(w[:n], w[n:], crossover, self.num_style_layers))
        return self.synthesize(ws, batch_size=batch_size)

    def mixing_grid(self, rows_seed: int | None, cols_seed: int | None, n_rows: int, n_cols: int,
                    crossover: int, psi: float | None = None,
                    truncation: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The style-mixing figure of the StyleGAN paper, as arrays.

        Row sources give the coarse styles (layers < ``crossover``) and column sources the fine ones
        (layers >= ``crossover``): a small crossover copies only the rows' overall layout, a large one all
        but the columns' finest details.

        Returns:
            (rows, cols, mixed): the row sources (n_rows, H, W, C), the column sources (n_cols, H, W, C), and
            ``mixed[i, j]`` (n_rows, n_cols, H, W, C), the image with row i's coarse and column j's fine styles.
            The sources are the images ``generate(n_rows, seed=rows_seed)`` and ``generate(n_cols,
            seed=cols_seed)`` (with the same ``psi`` and ``truncation``).
        """
        n_rows = _checks.positive_int(n_rows, "n_rows")
        n_cols = _checks.positive_int(n_cols, "n_cols")
        crossover = self._check_crossover(crossover, "crossover")
        if crossover is None:
            raise _checks.fail("crossover", f"an int in 0 .. {self.num_style_layers}", "None")
        w_rows = self.map_latents(latent.sample_normal(n_rows, self.latent_dim, seed=rows_seed, truncation=truncation),
                                  psi=psi)
        w_cols = self.map_latents(latent.sample_normal(n_cols, self.latent_dim, seed=cols_seed, truncation=truncation),
                                  psi=psi)
        layers_ = self.num_style_layers
        rows = self.synthesize(np.repeat(w_rows[:, None], layers_, axis=1))
        cols = self.synthesize(np.repeat(w_cols[:, None], layers_, axis=1))
        coarse = np.repeat(w_rows, n_cols, axis=0)  # row-major pairs (i, j)
        fine = np.tile(w_cols, (n_rows, 1))
        mixed = self.synthesize(ops.convert_to_numpy(mix_styles(coarse, fine, crossover, layers_)))
        return rows, cols, mixed.reshape(n_rows, n_cols, *mixed.shape[1:])

    def save_mixing_grid(self, path: str | os.PathLike, rows_seed: int | None, cols_seed: int | None,
                         n_rows: int, n_cols: int, crossover: int, psi: float | None = None,
                         scale: int | None = None) -> Path:
        """Write :meth:`mixing_grid` as one picture (see :func:`mixing_figure`); returns the path."""
        picture = mixing_figure(*self.mixing_grid(rows_seed, cols_seed, n_rows, n_cols, crossover, psi=psi))
        tile = picture.shape[0] // (n_rows + 1)
        scale = max(1, 64 // max(1, tile)) if scale is None else _checks.positive_int(scale, "scale")
        return images.save_image(picture, path, scale=scale)

    def _check_crossover(self, value, argument: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value <= self.num_style_layers:
            raise _checks.fail(argument, f"None or a layer index in 0 .. {self.num_style_layers} (the number of "
                               f"style layers)", repr(value))
        return int(value)

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"style_mixing": self.style_mixing, "w_avg_decay": self.w_avg_decay})
        return config


def mixing_figure(rows: np.ndarray, cols: np.ndarray, mixed: np.ndarray, padding: int = 1) -> np.ndarray:
    """Tile a style-mixing grid into one uint8 picture: column sources along the top, row sources down the
    left, ``mixed[i, j]`` at row i + 1, column j + 1, and a blank top-left corner.

    Args:
        rows, cols, mixed: as returned by :meth:`StyleGAN.mixing_grid` (images in [-1, 1]).
        padding: pixels between tiles.
    """
    rows, cols, mixed = np.asarray(rows), np.asarray(cols), np.asarray(mixed)
    if rows.ndim != 4 or cols.ndim != 4 or mixed.shape != (len(rows), len(cols), *rows.shape[1:]) \
            or cols.shape[1:] != rows.shape[1:]:
        raise _checks.fail("mixed", "rows (R, H, W, C), cols (K, H, W, C) and mixed (R, K, H, W, C)",
                           f"shapes {rows.shape}, {cols.shape} and {mixed.shape}")
    corner = np.full((1, *rows.shape[1:]), 255, np.uint8)
    top = np.concatenate([corner, images.to_uint8(cols)])
    body = [np.concatenate([images.to_uint8(rows[i:i + 1]), images.to_uint8(mixed[i])]) for i in range(len(rows))]
    return images.grid(np.concatenate([top, *body]), nrow=len(cols) + 1, padding=padding)


def _check_psi(psi) -> float | None:
    if psi is None:
        return None
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not np.isfinite(psi):
        raise _checks.fail("psi", "None or a finite number (1: no truncation, 0: the average w)", repr(psi))
    return float(psi)


def _name(net) -> str:
    return "None" if net is None else getattr(net, "name", type(net).__name__)
