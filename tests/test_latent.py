"""Latent tools: interpolation against its definition, inversion on a generator trained on digits."""

import keras
import numpy as np
import pytest

from ganapps import data, latent, nets
from ganapps.games.gan import GAN


@pytest.fixture(scope="module")
def digits_gan():
    """A DCGAN trained for 5 epochs on 8x8 digits (about 5 s)."""
    keras.utils.set_random_seed(0)
    ds = data.load("digits", image_size=8, batch_size=64, seed=0, drop_remainder=True)
    game = GAN(nets.dcgan_generator(8, (8, 8, 1), width=16), nets.dcgan_discriminator((8, 8, 1), width=16),
               seed=0)
    game.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5),
                 jit_compile=True)
    game.fit(ds, epochs=5, verbose=0)
    return game


def test_lerp_end_points_and_midpoint():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 3.0])
    np.testing.assert_allclose(latent.lerp(a, b, 0.0), a)
    np.testing.assert_allclose(latent.lerp(a, b, 1.0), b)
    np.testing.assert_allclose(latent.lerp(a, b, 0.5), [0.5, 1.5])


def test_slerp_follows_the_great_circle():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    for t in (0.0, 0.25, 0.5, 1.0):
        np.testing.assert_allclose(latent.slerp(a, b, t), [np.cos(t * np.pi / 2), np.sin(t * np.pi / 2)],
                                   atol=1e-6)
    # Norms are interpolated linearly; directions along the arc.
    mid = latent.slerp(2 * a, 4 * b, 0.5)
    assert np.linalg.norm(mid) == pytest.approx(3.0, rel=1e-5)
    assert np.arctan2(mid[1], mid[0]) == pytest.approx(np.pi / 4, abs=1e-6)


def test_slerp_keeps_gaussian_latents_at_typical_norm():
    z = latent.sample_normal(200, 128, seed=0)
    mid_s = latent.slerp(z[:100], z[100:], 0.5)
    mid_l = latent.lerp(z[:100], z[100:], 0.5)
    typical = np.sqrt(128)
    assert abs(np.linalg.norm(mid_s, axis=1).mean() - typical) / typical < 0.05
    # Linear midpoints of independent Gaussians shrink by about 1/sqrt(2).
    assert np.linalg.norm(mid_l, axis=1).mean() / typical == pytest.approx(1 / np.sqrt(2), rel=0.05)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = np.array([1.0, 1.0])
    np.testing.assert_allclose(latent.slerp(a, 3 * a, 0.5), 2 * a, rtol=1e-6)


def test_interpolate_shapes_and_errors():
    z = latent.sample_normal(6, 4, seed=0)
    path = latent.interpolate(z[:3], z[3:], steps=5, method="lerp")
    assert path.shape == (5, 3, 4)
    np.testing.assert_allclose(path[0], z[:3], atol=1e-6)
    np.testing.assert_allclose(path[-1], z[3:], atol=1e-6)
    with pytest.raises(ValueError, match="method: expected one of"):
        latent.interpolate(z[0], z[1], 3, method="cubic")
    with pytest.raises(ValueError, match="steps: expected at least 2"):
        latent.interpolate(z[0], z[1], 1)
    with pytest.raises(ValueError, match="b: expected a latent array of the same shape"):
        latent.lerp(z[0], z[:2], 0.5)


def test_interpolation_grid_rows_start_and_end_at_their_pairs(digits_gan):
    images = latent.interpolation_grid(digits_gan, rows=2, steps=4, seed=3)
    assert images.shape == (8, 8, 8, 1)
    ends = latent.sample_normal(4, 8, seed=3)
    expected = keras.ops.convert_to_numpy(digits_gan.inference_generator(ends, training=False))
    np.testing.assert_allclose(images[[0, 4, 3, 7]], expected[[0, 1, 2, 3]], atol=1e-5)


def test_invert_recovers_the_generators_own_images_and_flags_real_ones(digits_gan):
    own = digits_gan.generate(16, seed=1)
    real = np.concatenate([np.asarray(x) for x in data.load("digits", split="test", image_size=8,
                                                            batch_size=16, shuffle=False).take(1)])
    found = latent.invert(digits_gan, own, steps=200, restarts=3, seed=0)
    assert found.latents.shape == (16, 8)
    assert found.reconstructions.shape == own.shape
    # The recovered latents reproduce the generator's own images closely...
    assert np.median(found.errors) < 1e-3
    np.testing.assert_allclose(found.reconstructions, digits_gan.generate(16, seed=1), atol=0.5)
    # ...the optimisation made progress...
    assert found.history[-1] < 0.2 * found.history[0]
    # ...and the error separates them from real digits the generator never made.
    others = latent.invert(digits_gan, real, steps=200, restarts=3, seed=0)
    assert np.median(others.errors) > 20 * np.median(found.errors)
    auc = np.mean(others.errors[:, None] > found.errors[None, :])
    assert auc > 0.9


def test_invert_restarts_never_do_worse(digits_gan):
    own = digits_gan.generate(8, seed=5)
    one = latent.invert(digits_gan, own, steps=60, restarts=1, seed=0, jit_compile=False)
    many = latent.invert(digits_gan, own, steps=60, restarts=4, seed=0, jit_compile=False)
    # Restart 0 of the 4-restart run starts where the single run does; the best of four cannot be worse.
    assert np.all(many.errors <= one.errors + 1e-6)


def test_invert_checks_its_arguments(digits_gan):
    with pytest.raises(ValueError, match=r"images: expected a non-empty batch of samples of shape \(n, 8, 8, 1\)"):
        latent.invert(digits_gan, np.zeros((2, 16, 16, 1)))
    with pytest.raises(ValueError, match="images: expected finite values"):
        latent.invert(digits_gan, np.full((1, 8, 8, 1), np.nan))
    with pytest.raises(ValueError, match="restarts: expected a positive integer"):
        latent.invert(digits_gan, np.zeros((1, 8, 8, 1)), restarts=0)
    with pytest.raises(ValueError, match="model: expected a ganapps game or a generator"):
        latent.invert("not a model", np.zeros((1, 8, 8, 1)))


def _logit_features(game) -> keras.Model:
    """The discriminator's features its logit is computed from (AnoGAN's feature model)."""
    d = game.discriminator
    return keras.Model(d.input, d.layers[-1].input)


def test_invert_with_a_feature_term_lowers_its_combined_objective(digits_gan):
    real = data._digits_split("test", None, 1)[0][:12]
    features = _logit_features(digits_gan)
    found = latent.invert(digits_gan, real, steps=60, restarts=2, seed=0, jit_compile=False,
                          feature_model=features, feature_weight=0.3, distance="l1")
    assert found.history[-1] < 0.7 * found.history[0]
    # errors and feature_errors are the two L1 terms of the reported reconstructions; objective blends them.
    np.testing.assert_allclose(found.errors, np.abs(found.reconstructions - real).mean(axis=(1, 2, 3)), rtol=1e-5)
    f_recon = features(found.reconstructions).numpy()
    np.testing.assert_allclose(found.feature_errors, np.abs(f_recon - features(real).numpy()).mean(axis=1),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(found.objective, 0.7 * found.errors + 0.3 * found.feature_errors, rtol=1e-5)
    # The search lowered each image's objective from where its starting latents put it.
    z0 = np.random.default_rng(0).standard_normal((2, 12, 8)).astype("float32")[0]
    start = latent.invert(digits_gan, real, steps=1, restarts=1, learning_rate=1e-9, seed=0, jit_compile=False,
                          feature_model=features, feature_weight=0.3, distance="l1")
    np.testing.assert_allclose(start.latents, z0, atol=1e-6)
    assert np.mean(found.objective < start.objective) > 0.9


def test_invert_with_zero_feature_weight_is_the_plain_pixel_fit(digits_gan):
    own = digits_gan.generate(6, seed=2)
    plain = latent.invert(digits_gan, own, steps=30, restarts=2, seed=0, jit_compile=False)
    assert plain.feature_errors is None
    np.testing.assert_array_equal(plain.objective, plain.errors)
    weighted = latent.invert(digits_gan, own, steps=30, restarts=2, seed=0, jit_compile=False,
                             feature_model=_logit_features(digits_gan), feature_weight=0.0)
    np.testing.assert_array_equal(weighted.latents, plain.latents)
    np.testing.assert_array_equal(weighted.errors, plain.errors)
    assert weighted.history == plain.history
    assert weighted.feature_errors.shape == (6,) and np.all(weighted.feature_errors >= 0)
    l1 = latent.invert(digits_gan, own, steps=30, restarts=2, seed=0, jit_compile=False, distance="l1")
    np.testing.assert_allclose(l1.errors, np.abs(l1.reconstructions - own).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_invert_checks_its_feature_arguments(digits_gan):
    x = np.zeros((1, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match=r"distance: expected one of \('l2', 'l1'\); got 'cosine'"):
        latent.invert(digits_gan, x, steps=1, distance="cosine")
    with pytest.raises(ValueError, match=r"feature_model: expected a keras.Model from samples to features for "
                                         r"feature_weight=0.5; got None"):
        latent.invert(digits_gan, x, steps=1, feature_weight=0.5)
    with pytest.raises(ValueError, match=r"feature_weight: expected a weight in \[0, 1\]; got 1.5"):
        latent.invert(digits_gan, x, steps=1, feature_model=_logit_features(digits_gan), feature_weight=1.5)
    with pytest.raises(ValueError, match=r"feature_model: expected None or a keras.Model .*; got function"):
        latent.invert(digits_gan, x, steps=1, feature_model=lambda v: v, feature_weight=0.5)
