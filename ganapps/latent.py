"""Latent-space tools.

The generators' prior is the standard normal N(0, I). :func:`sample` draws it inside a traced train step from a
``keras.random.SeedGenerator``; :func:`ganapps.runtime.sample_normal` draws it in NumPy (optionally truncated,
exactly) for sampling outside training, so a seed gives the same latents to a Keras game and to its ONNX export.
"""

from __future__ import annotations

import keras

from ganapps.runtime import sample_normal

__all__ = ["sample", "sample_normal"]


def sample(n, latent_dim: int, seed=None):
    """Draw ``n`` latent vectors of size ``latent_dim`` from N(0, I) with Keras random ops (XLA-friendly).

    Args:
        n: number of vectors (a Python int or a scalar tensor inside a traced function).
        latent_dim: size of each vector.
        seed: a ``keras.random.SeedGenerator``, an int, or None (fresh randomness).
    """
    return keras.random.normal((n, latent_dim), seed=seed)
