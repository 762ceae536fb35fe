"""DiffAugment: identity at inference, each operation against its definition, gradients, XLA inside a GAN, saving,
and the point of it: a discriminator trained on a few images memorises them less."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps import nets
from ganapps.augment import DiffAugment
from ganapps.games.gan import GAN


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _images(n=4, size=8, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype("float32")


def test_identity_at_inference_and_changes_images_in_training():
    x = _images()
    layer = DiffAugment(seed=0)
    np.testing.assert_array_equal(_np(layer(x)), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    out = _np(layer(x, training=True))
    assert out.shape == x.shape and np.isfinite(out).all()
    assert np.abs(out - x).mean() > 0.1
    assert not np.allclose(out, _np(layer(x, training=True)))  # a fresh draw per call


def test_same_seed_same_augmentations():
    x = _images()
    a, b, c = DiffAugment(seed=3), DiffAugment(seed=3), DiffAugment(seed=4)
    np.testing.assert_array_equal(_np(a(x, training=True)), _np(b(x, training=True)))
    assert not np.allclose(_np(a(x, training=True)), _np(c(x, training=True)))


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_gradient_reaches_the_input(policy):
    x = tf.constant(_images(channels=3))
    weights = tf.constant(_images(channels=3, seed=1))
    layer = DiffAugment(policy, seed=0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * weights)
    grad = _np(tape.gradient(loss, x))
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 1.0


def test_translation_moves_content_by_whole_pixels_within_bounds():
    x = np.zeros((128, 16, 16, 1), "float32")
    x[:, 8, 5, 0] = 1.0
    out = _np(DiffAugment("translation", translation=0.125, seed=0)(x, training=True))
    most = 2  # round(0.125 * 16)
    shifts = set()
    for image in out[..., 0]:
        bright = np.argwhere(image != 0)
        assert len(bright) == 1 and image[tuple(bright[0])] == 1.0  # moved whole, not blurred
        dy, dx = bright[0] - (8, 5)
        assert abs(dy) <= most and abs(dx) <= most
        shifts.add((int(dy), int(dx)))
    assert len(shifts) == (2 * most + 1) ** 2  # every allowed shift occurs in 128 draws


def test_translation_fills_with_zeros():
    x = np.ones((64, 8, 8, 2), "float32")
    out = _np(DiffAugment("translation", translation=0.25, seed=1)(x, training=True))
    assert set(np.unique(out)) <= {0.0, 1.0}
    for image in out[..., 0]:  # what remains of a shifted all-ones image is one rectangle of ones
        rows, cols = np.nonzero(image)
        assert image[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
        assert rows.max() - rows.min() + 1 >= 6 and cols.max() - cols.min() + 1 >= 6
    assert (out == 0).any()


@pytest.mark.parametrize("size, fraction, side", [(8, 0.5, 4), (16, 0.25, 4), (10, 0.3, 3)])
def test_cutout_zeroes_one_square_of_the_expected_area(size, fraction, side):
    x = np.ones((32, size, size, 3), "float32")
    out = _np(DiffAugment("cutout", cutout=fraction, seed=0)(x, training=True))
    corners = set()
    for image in out:
        zero = image == 0
        assert (zero == zero[..., :1]).all()  # the same pixels in every channel
        rows, cols = np.nonzero(zero[..., 0])
        assert zero[..., 0].sum() == side * side
        assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
        corners.add((rows.min(), cols.min()))
    assert len(corners) > 8  # the square moves


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_color_works_for_any_channel_count(channels):
    x = _images(n=8, channels=channels)
    out = _np(DiffAugment("color", seed=0)(x, training=True))
    assert out.shape == x.shape and not np.allclose(out, x)
    if channels != 3:  # brightness and contrast only: out = a * x + b per image
        for xi, oi in zip(x, out):
            a, b = np.polyfit(xi.ravel(), oi.ravel(), 1)
            np.testing.assert_allclose(oi, a * xi + b, atol=1e-4)


def _tiny_gan(augment):
    """One layer a side: XLA compiles it in seconds on a busy CPU."""
    keras.utils.set_random_seed(0)
    z = keras.Input((4,))
    generator = keras.Model(z, keras.layers.Reshape((8, 8, 3))(keras.layers.Dense(192, activation="tanh")(z)))
    x = keras.Input((8, 8, 3))
    features = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x))
    return GAN(generator, keras.Model(x, keras.layers.Dense(1)(features)), augment=augment, seed=0)


def test_trains_in_a_jit_compiled_gan_and_round_trips(tmp_path):
    augment = DiffAugment(seed=0)
    assert augment.built  # weightless: an unbuilt layer would send Keras's distributed fit through GAN.call
    gan = _tiny_gan(augment)
    gan.compile(jit_compile=True)
    x = _images(n=16, channels=3)
    history = gan.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and int(gan.g_optimizer.iterations) == 2
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.augment, DiffAugment)
    assert loaded.augment.get_config() == gan.augment.get_config()
    for a, b in zip(gan.weights, loaded.weights):
        np.testing.assert_array_equal(_np(a), _np(b))
    assert int(loaded.g_optimizer.iterations) == 2 and int(loaded.d_optimizer.iterations) == 2
    np.testing.assert_array_equal(gan.generate(3, seed=1), loaded.generate(3, seed=1))
    # The layer's random stream is saved with it: the reloaded layer continues it instead of restarting.
    np.testing.assert_array_equal(_np(loaded.augment(x, training=True)), _np(gan.augment(x, training=True)))
    assert not np.array_equal(_np(loaded.augment(x, training=True)), _np(DiffAugment(seed=0)(x, training=True)))


def test_augmentation_slows_memorisation_of_a_small_dataset():
    """With fakes drawn from the same distribution as the reals, a discriminator can only tell 32 training
    digits apart by memorising them; the gap between its scores on them and on held-out digits measures that
    overfitting. DiffAugment keeps the gap several times smaller after the same training."""
    from sklearn.datasets import load_digits

    digits = (load_digits().images / 8.0 - 1.0).astype("float32")[..., None]
    digits = digits[np.random.default_rng(0).permutation(len(digits))]
    train, fakes, held_out = digits[:32], digits[32:544], digits[544:800]

    def gap(augment):
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        discriminator = nets.dcgan_discriminator((8, 8, 1), width=16)
        optimizer = keras.optimizers.Adam(2e-3)

        @tf.function
        def step(fake):
            with tf.GradientTape() as tape:
                real_logits = discriminator(augment(train, training=True), training=True)
                fake_logits = discriminator(augment(fake, training=True), training=True)
                loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            grads = tape.gradient(loss, discriminator.trainable_variables)
            optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))

        for _ in range(150):
            step(fakes[rng.integers(0, len(fakes), 32)])
        return float(np.mean(_np(discriminator(train))) - np.mean(_np(discriminator(held_out))))

    plain = gap(lambda x, training: x)
    augmented = gap(DiffAugment(seed=0))
    assert plain > 1.0  # the plain discriminator memorised its training digits ...
    assert augmented < plain / 3  # ... the augmented one far less


@pytest.mark.parametrize("kwargs, pattern", [
    ({"policy": "colour"}, r"policy: expected a comma-separated string of 'color', 'translation', 'cutout'; "
                           r"got 'colour', with unknown 'colour'"),
    ({"policy": ["color"]}, r"policy: expected a comma-separated string.*got \['color'\]"),
    ({"translation": 1.5}, r"translation: expected a fraction of the image size in \[0, 1\]; got 1.5"),
    ({"cutout": -0.1}, r"cutout: expected a fraction of the image size in \[0, 1\]; got -0.1"),
    ({"seed": "a"}, r"seed: expected None or an integer; got 'a'"),
])
def test_errors_name_the_argument(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        DiffAugment(**kwargs)


def test_error_on_non_image_input():
    with pytest.raises(ValueError, match=r"images: expected a batch of shape \(batch, height, width, channels\)"):
        DiffAugment()(np.zeros((2, 4), "float32"), training=True)
