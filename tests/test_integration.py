"""End to end on digits: fit a few steps, the losses move, the export runs in ONNX Runtime with parity."""

import keras
import numpy as np

import ganapps
from ganapps import data, nets


def test_digits_fit_export_and_onnx_runner_parity(tmp_path):
    keras.utils.set_random_seed(0)  # the nets' initial weights, whatever ran before
    images = data.load("digits", image_size=8, batch_size=32, seed=0, drop_remainder=True)
    gan = ganapps.GAN(nets.dcgan_generator(16, (8, 8, 1), width=8), nets.dcgan_discriminator((8, 8, 1), width=8),
                      loss="hinge", seed=0, ema=0.9)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    real_mean = np.concatenate([np.asarray(b) for b in images]).mean(axis=0)
    before = np.abs(gan.generator.predict(gan.sample_latents(256), verbose=0).mean(axis=0) - real_mean).mean()
    history = gan.fit(images, epochs=3, verbose=0).history
    after = np.abs(gan.generator.predict(gan.sample_latents(256), verbose=0).mean(axis=0) - real_mean).mean()
    assert len(set(history["d_loss"])) == 3 and len(set(history["g_loss"])) == 3  # the losses move
    assert after < 0.5 * before, (before, after)  # the generator's mean image moved towards the data's

    metadata = ganapps.export.export_generator(gan, tmp_path / "digits")
    assert metadata["latent_dim"] == 16 and metadata["outputs"][0]["shape"] == [None, 8, 8, 1]
    runner = ganapps.export.load(tmp_path / "digits")
    z = np.random.default_rng(1).standard_normal((5, 16)).astype("float32")
    want = keras.ops.convert_to_numpy(gan(z))  # the EMA generator, the one exported
    np.testing.assert_allclose(runner(z), want, atol=1e-4)
    # One seed, one set of latents: Keras and the ONNX export give the same samples.
    np.testing.assert_allclose(runner.sample(6, seed=9, truncation=1.5), gan.generate(6, seed=9, truncation=1.5),
                               atol=1e-4)
    samples = runner.sample(7, seed=2, output="uint8")
    assert samples.shape == (7, 8, 8, 1) and samples.dtype == np.uint8
