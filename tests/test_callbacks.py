"""SampleGrid writes comparable grids; NaNGuard stops on NaN and restores the last finite weights."""

import keras
import numpy as np
import pytest
from _helpers import mlp_gan, vectors
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

