"""Small games and utilities shared by the tests."""

import os
import subprocess
import sys

import keras
import numpy as np

from ganapps import nets
from ganapps.games.gan import GAN


@keras.saving.register_keras_serializable(package="ganapps_tests")
class Shift(keras.layers.Layer):
    """x = z + theta: the seeds' toy generator."""

    def build(self, input_shape):
        self.theta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="theta")

    def call(self, z):
        return z + self.theta


def toy_gan(loss="non_saturating", seed=0, **kwargs) -> GAN:
    z = keras.Input((1,))
    generator = keras.Model(z, Shift()(z), name="toy_generator")
    x = keras.Input((1,))
    discriminator = keras.Model(x, keras.layers.Dense(1)(x), name="logistic_regression")
    return GAN(generator, discriminator, loss=loss, seed=seed, **kwargs)


def mlp_gan(dim=4, latent_dim=3, seed=0, **kwargs) -> GAN:
    keras.utils.set_random_seed(seed)
    return GAN(nets.mlp_generator(latent_dim, dim, hidden=(16,)), nets.mlp_discriminator(dim, hidden=(16,)),
               seed=seed, **kwargs)


def vectors(n=256, dim=4, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.3, 0.2, (n, dim)), -1, 1).astype("float32")


def run_python(code: str, timeout: int = 240, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
