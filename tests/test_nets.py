"""Network builders: shapes for any power-of-two size and channel count, value range, discriminator options
(spectral normalisation, minibatch std-dev), argument errors."""

import keras
import numpy as np
import pytest

from ganapps import nets
from ganapps.games.gan import GAN
from ganapps.layers import MinibatchStdDev, SNConv2D, SNDense


@pytest.mark.parametrize("shape", [(4, 4, 1), (8, 8, 3), (16, 16, 1), (32, 16, 4), (64, 64, 3)])
def test_dcgan_shapes(shape):
    g = nets.dcgan_generator(8, shape, width=4)
    d = nets.dcgan_discriminator(shape, width=4)
    assert g.output_shape == (None, *shape)
    assert d.input_shape == (None, *shape) and d.output_shape == (None, 1)
    images = g(np.random.default_rng(0).standard_normal((2, 8)).astype("float32"), training=False)
    assert images.shape == (2, *shape)
    assert np.abs(np.asarray(images)).max() <= 1.0  # tanh output: the library's [-1, 1] range
    assert d(images).shape == (2, 1)


def test_dcgan_width_doubles_towards_low_resolution():
    g = nets.dcgan_generator(8, (32, 32, 1), width=4)
    transposed = [layer.filters for layer in g.layers if layer.__class__.__name__ == "Conv2DTranspose"]
    assert transposed == [16, 8, 4]  # 4x4 -> 8 -> 16 -> 32, halving the filters at each doubling
    first_dense = next(layer for layer in g.layers if layer.__class__.__name__ == "Dense")
    assert first_dense.units == 4 * 4 * 32  # a 4x4 start with width * 2**3 filters


def test_mlp_shapes():
    g = nets.mlp_generator(3, 5, hidden=(7,), output_activation="tanh")
    d = nets.mlp_discriminator(5, hidden=(7, 7))
    assert g.output_shape == (None, 5) and d.output_shape == (None, 1)
    assert len([layer for layer in d.layers if layer.__class__.__name__ == "Dense"]) == 3


@pytest.mark.parametrize("call, pattern", [
    (lambda: nets.dcgan_generator(8, (12, 12, 1)), r"image_shape: expected height and width to be powers of two"),
    (lambda: nets.dcgan_generator(8, (2, 2, 1)), r"image_shape: .*got 2x2"),
    (lambda: nets.dcgan_discriminator((16, 16)), r"image_shape: expected \(height, width, channels\)"),
    (lambda: nets.dcgan_generator(0, (8, 8, 1)), r"latent_dim: expected a positive integer; got 0"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), norm="group"),
     r"norm: expected None, 'batch' or 'layer'; got 'group'"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), dropout=1.0), r"dropout: expected a rate in \[0, 1\); got 1.0"),
    (lambda: nets.mlp_generator(4, 3, hidden=(0,)), r"hidden: expected a sequence of positive layer widths"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), spectral_norm="yes"),
     r"spectral_norm: expected True or False; got 'yes'"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), minibatch_std=1), r"minibatch_std: expected True or False; got 1"),
])
def test_builder_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# -- discriminator options ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4, 1), (16, 16, 3), (32, 16, 2)])
@pytest.mark.parametrize("spectral_norm, minibatch_std", [(True, False), (False, True), (True, True)])
def test_dcgan_discriminator_options_build(shape, spectral_norm, minibatch_std):
    d = nets.dcgan_discriminator(shape, width=4, spectral_norm=spectral_norm, minibatch_std=minibatch_std)
    assert d.input_shape == (None, *shape) and d.output_shape == (None, 1)
    kinds = [type(layer) for layer in d.layers]
    assert (SNConv2D in kinds and SNDense in kinds and keras.layers.Conv2D not in kinds) == spectral_norm
    assert (MinibatchStdDev in kinds) == minibatch_std
    x = np.random.default_rng(0).uniform(-1, 1, (6, *shape)).astype("float32")
    assert d(x, training=True).shape == (6, 1) and d(x).shape == (6, 1)


def test_minibatch_std_lets_the_batch_change_each_logit():
    """With the std-dev channel an image's logit depends on the rest of its batch; without it, it does not."""
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (1, 8, 8, 1)).astype("float32")
    similar = np.repeat(image, 4, axis=0)
    varied = np.concatenate([image, rng.uniform(-1, 1, (3, 8, 8, 1)).astype("float32")])
    for minibatch_std in (False, True):
        keras.utils.set_random_seed(0)
        d = nets.dcgan_discriminator((8, 8, 1), width=4, minibatch_std=minibatch_std)
        delta = abs(float(d(similar)[0, 0]) - float(d(varied)[0, 0]))
        assert (delta > 1e-4) == minibatch_std, delta


def test_spectrally_normalised_dcgan_trains_and_each_layer_is_1_lipschitz():
    keras.utils.set_random_seed(0)
    discriminator = nets.dcgan_discriminator((8, 8, 1), width=8, spectral_norm=True)
    gan = GAN(nets.dcgan_generator(8, (8, 8, 1), width=8), discriminator, seed=0)
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    x = np.clip(0.5 + 0.1 * np.random.default_rng(0).standard_normal((64, 8, 8, 1)), -1, 1).astype("float32")
    before = abs(gan.generate(64, seed=0).mean() - 0.5)
    history = gan.fit(x, batch_size=16, epochs=10, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    after = abs(gan.generate(64, seed=0).mean() - 0.5)
    assert after < before / 3, (before, after)  # the generator moved towards the data's brightness
    normalised = [layer for layer in discriminator.layers if isinstance(layer, (SNConv2D, SNDense))]
    assert len(normalised) == 2
    for layer in normalised:
        raw = keras.ops.convert_to_numpy(layer.kernel)
        kernel = keras.ops.convert_to_numpy(layer.normalized_kernel())
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.02), (layer.name, sigma)
        assert abs(np.linalg.svd(raw.reshape(-1, raw.shape[-1]), compute_uv=False)[0] - 1.0) > 0.05


def test_conditional_discriminators_share_the_dcgan_trunk_and_its_options():
    from ganapps.layers import MinibatchStdDev, SNConv2D, SNDense

    def unnormalised(model):  # weight layers of D left out of the normalisation (InfoGAN's Q head is not D's)
        q_head = ("q_hidden", "continuous_means")
        return [layer.name for layer in model.layers if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
                and not isinstance(layer, (SNDense, SNConv2D)) and not layer.name.startswith(("code_", *q_head))]

    builders = [lambda **kw: nets.conditional_discriminator((8, 8, 1), 3, width=4, **kw),
                lambda **kw: nets.acgan_discriminator((8, 8, 1), 3, width=4, **kw),
                lambda **kw: nets.infogan_discriminator((8, 8, 1), (3,), 1, width=4, **kw)]
    for build in builders:
        plain = build()
        tricked = build(spectral_norm=True, minibatch_std=True)
        assert not any(isinstance(layer, (SNConv2D, SNDense, MinibatchStdDev)) for layer in plain.layers)
        assert unnormalised(tricked) == [], "the heads (logit, class, projection) are normalised with the trunk"
        assert any(isinstance(layer, MinibatchStdDev) for layer in tricked.layers)
        with pytest.raises(ValueError, match="spectral_norm: expected True or False; got 'yes'"):
            build(spectral_norm="yes")
    for build in (lambda **kw: nets.mlp_discriminator(2, hidden=(4,), **kw),
                  lambda **kw: nets.mlp_conditional_discriminator(2, 3, hidden=(4,), **kw),
                  lambda **kw: nets.mlp_acgan_discriminator(2, 3, hidden=(4,), **kw)):
        assert unnormalised(build(spectral_norm=True)) == [] and unnormalised(build()) != []


# -- MLPs on small images; encoders --------------------------------------------------------------------------
def test_mlp_sample_shape_reshapes_generator_outputs_and_flattens_discriminator_inputs():
    keras.utils.set_random_seed(0)
    g = nets.mlp_generator(3, 16, hidden=(8,), output_activation="tanh", sample_shape=(4, 4, 1))
    flat_g = nets.mlp_generator(3, 16, hidden=(8,), output_activation="tanh")
    flat_g.set_weights(g.get_weights())
    z = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    assert g.output_shape == (None, 4, 4, 1)
    np.testing.assert_allclose(g(z).numpy(), flat_g(z).numpy().reshape(5, 4, 4, 1), atol=1e-6)
    d = nets.mlp_discriminator(16, hidden=(8,), sample_shape=(4, 4, 1))
    flat_d = nets.mlp_discriminator(16, hidden=(8,))
    flat_d.set_weights(d.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (5, 4, 4, 1)).astype("float32")
    assert d.input_shape == (None, 4, 4, 1) and d.output_shape == (None, 1)
    np.testing.assert_allclose(d(x).numpy(), flat_d(x.reshape(5, 16)).numpy(), atol=1e-6)
    # An MLP game on small images trains: the generator moves towards the images' brightness.
    gan = GAN(g, d, seed=0, r1=1.0)
    gan.compile(keras.optimizers.Adam(5e-3, beta_1=0.5), keras.optimizers.Adam(5e-3, beta_1=0.5), jit_compile=False)
    data = np.clip(0.5 + 0.1 * np.random.default_rng(2).standard_normal((128, 4, 4, 1)), -1, 1).astype("float32")
    before = abs(gan.generate(64, seed=0).mean() - 0.5)
    gan.fit(data, batch_size=32, epochs=16, verbose=0)
    assert abs(gan.generate(64, seed=0).mean() - 0.5) < before / 3


def test_encoders_map_samples_to_linear_float32_latents():
    e = nets.mlp_encoder(16, 5, hidden=(8, 8), sample_shape=(4, 4, 1))
    assert e.input_shape == (None, 4, 4, 1) and e.output_shape == (None, 5)
    assert nets.mlp_encoder(6, 2, hidden=(4,)).input_shape == (None, 6)
    c = nets.dcgan_encoder((8, 8, 3), 5, width=4, dense=16)
    assert c.input_shape == (None, 8, 8, 3) and c.output_shape == (None, 5)
    assert [layer.units for layer in c.layers if isinstance(layer, keras.layers.Dense)] == [16, 5]
    for encoder in (e, c):
        head = encoder.get_layer("latent")
        assert head is encoder.layers[-1] and head.activation is keras.activations.linear
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 3)).astype("float32")
    assert c(x).shape == (3, 5) and float(np.abs(c(x)).max()) > 0
    keras.config.set_dtype_policy("mixed_float16")
    try:
        for encoder in (nets.mlp_encoder(4, 2, hidden=(4,)), nets.dcgan_encoder((4, 4, 1), 2, width=4, dense=4)):
            assert encoder.output.dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("call, pattern", [
    (lambda: nets.mlp_generator(3, 15, sample_shape=(4, 4, 1)),
     r"output_dim: expected the number of values in sample_shape \(4, 4, 1\) \(16\); got 15"),
    (lambda: nets.mlp_discriminator(10, sample_shape=(4, 4)),
     r"input_dim: expected the number of values in sample_shape \(4, 4\) \(16\); got 10"),
    (lambda: nets.mlp_discriminator(16, sample_shape=(4, 0, 4)),
     r"sample_shape: expected None or a tuple of positive integers such as \(8, 8, 1\); got \(4, 0, 4\)"),
    (lambda: nets.mlp_encoder(16, 4, sample_shape=(8, 8)), r"input_dim: expected the number of values"),
    (lambda: nets.mlp_encoder(16, 0), r"latent_dim: expected a positive integer; got 0"),
    (lambda: nets.dcgan_encoder((12, 12, 1), 4), r"image_shape: expected height and width to be powers of two"),
    (lambda: nets.dcgan_encoder((8, 8, 1), 4, dense=0), r"dense: expected a positive integer; got 0"),
    (lambda: nets.dcgan_encoder((8, 8, 1), 4, norm="group"), r"norm: expected None, 'batch' or 'layer'"),
])
def test_sample_shape_and_encoder_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_small_classifier_is_seeded_and_checks_its_arguments():
    a = nets.small_classifier((16, 16, 1), 10, seed=3)
    b = nets.small_classifier((16, 16, 1), 10, seed=3)
    c = nets.small_classifier((16, 16, 1), 10, seed=4)
    assert a.output_shape == (None, 10) and nets.small_classifier((5,), 3).output_shape == (None, 3)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))
    with pytest.raises(ValueError, match="num_classes: expected at least 2 classes"):
        nets.small_classifier((5,), 1)
    with pytest.raises(ValueError, match="sample_shape: expected"):
        nets.small_classifier((4, 4), 2)
