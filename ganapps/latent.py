"""Latent-space tools: sampling (with the truncation trick).

The generator's prior is the standard normal N(0, I). ``truncation=t`` samples the normal restricted to
[-t, t] per coordinate (the truncation trick of BigGAN/StyleGAN: fidelity for variety), drawn exactly by
inverting the normal CDF on the truncated interval rather than by resampling.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def _check_truncation(truncation: float | None) -> None:
    if truncation is not None and not (isinstance(truncation, (int, float)) and truncation > 0):
        raise ValueError(f"truncation: expected None or a positive number of standard deviations; got {truncation!r}")


def sample(n: int, latent_dim: int, seed=None, truncation: float | None = None):
    """Draw ``n`` latent vectors of size ``latent_dim`` from N(0, I), optionally truncated to [-t, t].

    Args:
        n: number of vectors (a Python int or a scalar tensor inside a traced function).
        latent_dim: size of each vector.
        seed: a ``keras.random.SeedGenerator``, an int, or None (fresh randomness).
        truncation: None, or the threshold t > 0 in standard deviations.
    """
    _check_truncation(truncation)
    if truncation is None:
        return keras.random.normal((n, latent_dim), seed=seed)
    # Uniform on [Phi(-t), Phi(t)], mapped through Phi^-1(u) = sqrt(2) * erfinv(2u - 1).
    half = 0.5 * math.erf(truncation / math.sqrt(2.0))
    u = keras.random.uniform((n, latent_dim), minval=-half, maxval=half, seed=seed)
    return math.sqrt(2.0) * ops.erfinv(2.0 * u)
