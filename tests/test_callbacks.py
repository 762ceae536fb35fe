"""SampleGrid writes comparable grids; NaNGuard stops on NaN and restores the last finite weights; CosineDecay
follows its cosine batch by batch and touches only the optimizer it names."""

import math

import keras
import numpy as np
import pytest
from _helpers import mlp_gan, toy_gan, vectors
from PIL import Image

from ganapps import callbacks, nets
from ganapps.games.gan import GAN


def test_sample_grid_writes_pngs_from_a_fixed_latent_batch(tmp_path):
    gan = GAN(nets.dcgan_generator(8, (8, 8, 1), width=4), nets.dcgan_discriminator((8, 8, 1), width=4), seed=0)
    gan.compile()
    grid = callbacks.SampleGrid(tmp_path / "samples", n=9, every=2, seed=1)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
    gan.fit(x, batch_size=16, epochs=3, verbose=0, callbacks=[grid])
    names = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert names == ["epoch_0002.png", "epoch_0003.png", "latest.png"]  # every 2, and after the last epoch
    image = np.asarray(Image.open(tmp_path / "samples" / "latest.png"))
    # 3x3 tiles of 8 px enlarged 8 times (to 64 px), with 1 px padding enlarged as well.
    assert image.shape == ((3 * 9 + 1) * 8, (3 * 9 + 1) * 8)
    assert image.std() > 0
    # The same fixed latents: a second callback with the same seed draws the same grid from the same model.
    again = callbacks.SampleGrid(tmp_path / "again", n=9, seed=1)
    again.set_model(gan)
    again.on_train_begin()
    again._write(0)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "again" / "latest.png")), image)


def test_sample_grid_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"every: expected a positive integer; got 0"):
        callbacks.SampleGrid("x", every=0)
    with pytest.raises(ValueError, match=r"n: expected a positive integer; got -3"):
        callbacks.SampleGrid("x", n=-3)


class _Poison(keras.callbacks.Callback):
    """Sets a discriminator weight to NaN at the start of the given epoch (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.discriminator.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_nan_guard_stops_and_restores_last_finite_weights(capsys):
    gan = mlp_gan()
    gan.compile()
    snapshots = []
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: snapshots.append(gan.get_weights()))
    guard = callbacks.NaNGuard()
    history = gan.fit(vectors(64), batch_size=32, epochs=5, verbose=0, callbacks=[guard, keep, _Poison(2)])
    assert guard.stopped_reason is not None and "d_loss=nan" in guard.stopped_reason
    assert "epoch 3" in guard.stopped_reason
    assert "NaNGuard" in capsys.readouterr().out
    assert len(history.history["d_loss"]) <= 3  # it stopped in epoch 3 of 5
    restored = gan.get_weights()
    assert all(np.isfinite(w).all() for w in restored)
    for a, b in zip(restored, snapshots[1]):  # the weights at the end of epoch 2, the last finite one
        np.testing.assert_array_equal(a, b)
    for optimizer in (gan.g_optimizer, gan.d_optimizer):  # the moments were restored too ...
        assert all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in optimizer.variables)
    again = gan.fit(vectors(64), batch_size=32, epochs=1, verbose=0).history  # ... so training can go on
    assert np.isfinite(again["d_loss"]).all() and np.isfinite(again["g_loss"]).all()


def test_nan_guard_stays_quiet_on_finite_training():
    gan = mlp_gan()
    gan.compile()
    guard = callbacks.NaNGuard()
    history = gan.fit(vectors(64), batch_size=32, epochs=2, verbose=0, callbacks=[guard])
    assert guard.stopped_reason is None and len(history.history["d_loss"]) == 2



# -- CosineDecay ---------------------------------------------------------------------------------------------
def test_cosine_decay_rate_follows_the_cosine():
    decay = callbacks.CosineDecay(steps=10, initial=0.3, final_fraction=0.1)
    final = 0.03
    assert decay.rate(0) == pytest.approx(0.3)
    assert decay.rate(5) == pytest.approx((0.3 + final) / 2)  # the midpoint halfway
    assert decay.rate(10) == pytest.approx(final)
    assert decay.rate(11) == decay.rate(1000) == pytest.approx(final)  # it stays there
    rates = [decay.rate(t) for t in range(11)]
    assert all(a > b for a, b in zip(rates, rates[1:]))  # falling all the way
    assert rates[2] == pytest.approx(final + (0.3 - final) * (1 + math.cos(math.pi * 0.2)) / 2)
    assert callbacks.CosineDecay(4, 1e-3).rate(4) == pytest.approx(1e-5)  # final_fraction 1% by default
    assert callbacks.CosineDecay(4, 1e-3, final_fraction=0.0).rate(4) == pytest.approx(0.0, abs=1e-12)


def _toy_data(n: int = 2048, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.5, 0.3, (n, 1)).astype("float32")


def test_cosine_decay_sets_the_generator_rate_every_batch_of_a_fit():
    """16 batches per epoch, 12 epochs, a 200-step decay: the generator's rate at each batch is the cosine's, the
    discriminator's stays; the toy generator's shift still converges to the data mean (0.5)."""
    gan = toy_gan(d_steps=3)
    gan.compile(g_optimizer=keras.optimizers.Adam(0.02, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(0.01, beta_1=0.5), jit_compile=False)
    decay = callbacks.CosineDecay(steps=200, initial=0.02)
    seen = []
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(gan.g_optimizer.learning_rate)))
    gan.fit(_toy_data(), batch_size=128, epochs=12, verbose=0, callbacks=[decay, spy])
    assert seen == pytest.approx([decay.rate(t) for t in range(192)], rel=1e-6)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(decay.rate(191), rel=1e-6)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(0.01)
    theta = float(gan.generator.layers[-1].theta.numpy()[0])
    assert abs(theta - 0.5) < 0.1, theta
    gan.fit(_toy_data(256), batch_size=128, epochs=1, verbose=0, callbacks=[decay, spy])
    assert seen[192:] == pytest.approx([decay.rate(0), decay.rate(1)], rel=1e-6)  # each fit decays afresh


def test_cosine_decay_of_a_plain_model_and_of_the_discriminator():
    """``optimizer="optimizer"`` for a plain Keras model: SGD on a linear regression that still converges."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
    y = x @ np.array([[2.0], [-1.0]], "float32") + 0.5
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=False)
    decay = callbacks.CosineDecay(steps=40, initial=0.1, optimizer="optimizer")
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0, callbacks=[decay])
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
    assert float(model.optimizer.learning_rate) == pytest.approx(decay.rate(39), rel=1e-6)

    gan = toy_gan()
    gan.compile(g_optimizer=keras.optimizers.Adam(0.01), d_optimizer=keras.optimizers.Adam(0.02),
                jit_compile=False)
    decay = callbacks.CosineDecay(steps=4, initial=0.02, optimizer="d_optimizer")
    gan.fit(_toy_data(128), batch_size=32, epochs=1, verbose=0, callbacks=[decay])
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(decay.rate(3), rel=1e-6)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(0.01)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0, initial=0.1), r"steps: expected a positive integer; got 0"),
    (dict(steps=2.5, initial=0.1), r"steps: expected a positive integer; got 2.5"),
    (dict(steps=10, initial=0), r"initial: expected a positive learning rate; got 0"),
    (dict(steps=10, initial=-1e-3), r"initial: expected a positive learning rate; got -0.001"),
    (dict(steps=10, initial=True), r"initial: expected a positive learning rate; got True"),
    (dict(steps=10, initial="1e-3"), r"initial: expected a positive learning rate; got '1e-3'"),
    (dict(steps=10, initial=0.1, final_fraction=1.5), r"final_fraction: expected a number in \[0, 1\]; got 1.5"),
    (dict(steps=10, initial=0.1, final_fraction=-0.1), r"final_fraction: expected a number in \[0, 1\]; got -0.1"),
])
def test_cosine_decay_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.CosineDecay(**kwargs)


def test_cosine_decay_names_an_optimizer_the_model_lacks():
    gan = toy_gan()
    gan.compile(jit_compile=False)
    with pytest.raises(ValueError, match=r"optimizer: expected the name of the model's optimizer attribute; got "
                                         r"'h_optimizer', which is not an optimizer of GAN"):
        gan.fit(_toy_data(32), batch_size=32, epochs=1, verbose=0,
                callbacks=[callbacks.CosineDecay(4, 0.1, optimizer="h_optimizer")])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=False)
    with pytest.raises(ValueError, match=r"optimizer: expected .*; got 'g_optimizer', which is not an optimizer "
                                         r"of Sequential"):
        model.fit(_toy_data(32), _toy_data(32), verbose=0, callbacks=[callbacks.CosineDecay(4, 0.1)])
    gan = toy_gan()
    gan.compile(jit_compile=False)
    with pytest.raises(ValueError, match=r"got 'generator', which is not an optimizer of GAN"):  # a model, not one
        gan.fit(_toy_data(32), batch_size=32, epochs=1, verbose=0,
                callbacks=[callbacks.CosineDecay(4, 0.1, optimizer="generator")])
    with pytest.raises(ValueError, match=r"optimizer: expected the name of the model's optimizer attribute, such as "
                                         r"'g_optimizer'; got 3"):
        callbacks.CosineDecay(4, 0.1, optimizer=3)


def test_cosine_decay_refuses_an_optimizer_that_already_has_a_schedule():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    model.compile(keras.optimizers.SGD(schedule), "mse", jit_compile=False)
    with pytest.raises(ValueError, match=r"optimizer: expected an optimizer with a fixed learning rate .*"
                                         r"ExponentialDecay schedule already"):
        model.fit(_toy_data(32), _toy_data(32), verbose=0,
                  callbacks=[callbacks.CosineDecay(4, 0.1, optimizer="optimizer")])
