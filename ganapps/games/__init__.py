"""Adversarial games: each a ``keras.Model`` with its own ``train_step``."""

from ganapps.games.gan import GAN

__all__ = ["GAN"]
