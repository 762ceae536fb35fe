"""Small games and utilities shared by the tests."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def digit_classifier(x, y, seed, epochs=6, width=8, hidden=32) -> keras.Model:
    """A small_classifier trained plainly on 8x8 digits: the model the attack and interpretation tests probe."""
    keras.utils.set_random_seed(seed)
    model = nets.small_classifier((8, 8, 1), 10, width=width, hidden=hidden, dropout=0.0, seed=seed)
    model.compile(keras.optimizers.Adam(5e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return model


def accuracy(model, x, y) -> float:
    """Top-1 accuracy of a classifier of logits or probabilities."""
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


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


def scorer_model(sample_shape, mean=None, variance=None, seed=0) -> keras.Model:
    """A tiny reconstruction scorer with a dict output, as ``FAnoGAN.scorer()`` builds one: x -> code -> x_hat,
    residual (x - x_hat)^2, score its mean; with ``mean``/``variance`` vectors are standardised in the graph
    first, as the outliers app does. Exports and runtimes can be tested on it without training a game."""
    keras.utils.set_random_seed(seed)
    size = int(np.prod(sample_shape))
    x = keras.Input(sample_shape, name="x")
    inner = x if mean is None else keras.layers.Normalization(mean=mean, variance=variance)(x)
    code = keras.layers.Dense(4, activation="tanh")(keras.layers.Flatten()(inner))
    reconstruction = keras.layers.Reshape(sample_shape)(keras.layers.Dense(size, activation="tanh")(code))
    difference = keras.layers.Subtract()([inner, reconstruction])
    residual = keras.layers.Multiply()([difference, difference])
    mean_of = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(1.0 / size))
    score = keras.layers.Reshape(())(mean_of(keras.layers.Flatten()(residual)))
    return keras.Model(x, {"score": score, "reconstruction": reconstruction, "residual": residual}, name="scorer")


def copy_with_metadata(directory, target, **entries) -> Path:
    """A copy of the export folder ``directory`` at ``target`` with ``entries`` set in (None: removed from) its
    metadata.json: how the runtimes' metadata checks are tested on one real export."""
    target = Path(shutil.copytree(directory, target))
    metadata = json.loads((target / "metadata.json").read_text())
    for key, value in entries.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    (target / "metadata.json").write_text(json.dumps(metadata))
    return target


def run_python(code: str, timeout: int = 240, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)


# Prefix for ``run_python`` code that must run without TensorFlow, Keras or tf2onnx: importing any of them raises
# ImportError at once, where a check of ``sys.modules`` afterwards would only see that one was loaded. It leaves
# ``json`` and ``sys`` imported for the snippet to report with.
BLOCK_HEAVY_IMPORTS = r"""
import importlib.abc, json, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocked())
"""


def help_texts_without_heavy_imports(*argvs: list[str]) -> list[str]:
    """The text of ``ganapps <argv> --help`` for each argv, printed in a fresh interpreter where importing
    TensorFlow, Keras or tf2onnx fails: help must come at once, so building the parsers may import none of them."""
    code = BLOCK_HEAVY_IMPORTS + f"""
import contextlib, io
from ganapps import cli
texts = []
for argv in {[list(argv) for argv in argvs]!r}:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
        cli.main(argv + ["--help"])
    texts.append(buffer.getvalue())
print(json.dumps({{"texts": texts, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}}))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tensorflow"] is False and result["keras"] is False
    return result["texts"]
