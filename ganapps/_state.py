"""Saving a ``keras.random.SeedGenerator``'s state with the layer or model that owns it.

Keras saves variables of layers, not the state of seed generators, so a reloaded game (or a run resumed by
``BackupAndRestore``) would restart its random stream from the seed and draw other latents, penalty weights
and augmentations than the uninterrupted run. Mixing :class:`SavesSeedState` into a class that keeps its
generator in ``self.seed_generator`` stores the state next to the class's own variables.
"""

from __future__ import annotations

import zlib

import numpy as np
from keras import ops

SEED_STATE = "seed_state"


class SavesSeedState:
    """Mixin for a Keras layer or model with a ``seed_generator`` attribute."""

    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        store[SEED_STATE] = ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store) -> None:
        keys = list(store.keys())
        if SEED_STATE in keys:  # files written before the state was saved lack it
            self.seed_generator.state.assign(np.asarray(store[SEED_STATE]))
        super().load_own_variables({k: store[k] for k in keys if k != SEED_STATE})


def derive_seed(seed: int | None, stream: str) -> int | None:
    """An independent seed for the random stream named ``stream`` of a component seeded with ``seed``.

    Two ``SeedGenerator`` objects built from the same int draw the same numbers, so a game, its augmentation
    and its noise layers all seeded with ``seed`` would share one stream (the noise would be a copy of the
    latents). Hashing the stream's name into the seed keeps one user-facing seed and separate streams.
    """
    if seed is None:
        return None
    tag = zlib.crc32(stream.encode("utf-8"))
    return int(np.random.SeedSequence([int(seed) % 2**63, tag]).generate_state(1)[0] % 2**31)
