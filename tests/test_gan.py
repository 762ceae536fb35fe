"""The GAN game: Algorithm 1, metrics, penalties, EMA, .keras round trip, XLA, distribution, bad input."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from _helpers import mlp_gan, run_python, toy_gan, vectors

from ganapps import latent, nets
from ganapps.games.gan import GAN


def test_toy_game_generator_shift_converges_to_data_mean():
    """The seeds' toy game: data N(mu, 1), G(z) = z + theta, logistic-regression D; theta ends near mu."""
    mu = 2.0
    real = np.random.default_rng(0).normal(mu, 1.0, (4096, 1)).astype("float32")
    gan = toy_gan(d_steps=3)  # k = 3 discriminator steps per generator step (Algorithm 1) damp the spiral
    gan.compile(g_optimizer=keras.optimizers.Adam(0.02, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(0.02, beta_1=0.5))
    gan.fit(real, batch_size=256, epochs=15, verbose=0)
    theta = float(gan.generator.layers[-1].theta.numpy()[0])
    assert abs(theta - mu) < 0.1, theta


def test_algorithm_1_d_steps_and_metrics():
    gan = mlp_gan(d_steps=3)
    gan.compile()
    history = gan.fit(vectors(), batch_size=32, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations) == 3 * int(gan.g_optimizer.iterations) == 3 * 8
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(history.history)


def test_losses_move_and_discriminator_learns_on_vectors():
    gan = mlp_gan(loss="hinge")
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    history = gan.fit(vectors(), batch_size=32, epochs=4, verbose=0).history
    assert history["d_loss"][-1] < history["d_loss"][0]
    assert all(np.isfinite(v).all() for v in history.values())


@pytest.mark.parametrize("loss", ["minimax", "wasserstein", "least_squares", "relativistic_average"])
def test_every_loss_trains(loss):
    gan = mlp_gan(loss=loss)
    gan.compile()
    history = gan.fit(vectors(64), batch_size=32, epochs=2, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()


def test_penalties_are_reported_and_positive():
    gan = mlp_gan(gradient_penalty=10.0, r1=1.0, loss="wasserstein")
    gan.compile()
    history = gan.fit(vectors(64), batch_size=32, epochs=1, verbose=0).history
    assert history["gp"][0] > 0 and history["r1"][0] > 0


def test_ema_is_the_exponential_average_of_generator_weights():
    decay = 0.9
    gan = mlp_gan(ema=decay)
    gan.compile()
    before = [w.copy() for w in gan.generator.get_weights()]
    gan.fit(vectors(32), batch_size=32, epochs=1, verbose=0)  # exactly one step
    after = gan.generator.get_weights()
    for w_ema, w0, w1 in zip(gan.ema_generator.get_weights(), before, after):
        np.testing.assert_allclose(w_ema, decay * w0 + (1 - decay) * w1, atol=1e-6)
    assert gan.inference_generator is gan.ema_generator


def test_generate_is_seeded_and_leaves_the_training_stream_alone():
    gan = mlp_gan()
    state = keras.ops.convert_to_numpy(gan.seed_generator.state).copy()
    a, b = gan.generate(8, seed=3), gan.generate(8, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, gan.generate(8, seed=4))
    gan.generate(4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gan.seed_generator.state), state)
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        gan.generate(4, batch_size=0)


@pytest.mark.parametrize("t", [0.01, 0.5, 2.0])
def test_truncated_latents_follow_the_truncated_normal(t):
    """Exact truncation: inside [-t, t], no mass piled at the bounds, the truncated normal's variance."""
    from math import erf, exp, pi, sqrt

    z = latent.sample_normal(20000, 4, seed=0, truncation=t)
    assert z.dtype == np.float32 and np.abs(z).max() <= t
    assert np.mean(np.abs(z) >= t * (1 - 1e-6)) < 1e-3
    var = 1 - 2 * t * exp(-t * t / 2) / sqrt(2 * pi) / erf(t / sqrt(2))  # of N(0, 1) restricted to [-t, t]
    assert abs(z.var() / var - 1) < 0.03
    with pytest.raises(ValueError, match=r"truncation: expected None or a positive number.*got -1"):
        latent.sample_normal(2, 2, truncation=-1)


def test_same_seed_same_run():
    def run():
        gan = mlp_gan(seed=7)
        gan.compile()
        gan.fit(vectors(64), batch_size=32, epochs=1, verbose=0, shuffle=False)
        return gan.generator.get_weights()

    for w1, w2 in zip(run(), run()):
        np.testing.assert_array_equal(w1, w2)


def test_keras_round_trip_keeps_weights_optimizers_and_can_keep_training(tmp_path):
    gan = mlp_gan(ema=0.99, loss="hinge", d_steps=2)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.RMSprop(1e-3))
    gan.fit(vectors(64), batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "gan.keras"
    gan.save(path)
    with _no_optimizer_skip_warning():
        loaded = keras.models.load_model(path)
    assert isinstance(loaded, GAN)
    assert loaded.adversarial_loss.name == "hinge" and loaded.d_steps == 2 and loaded.ema_decay == 0.99
    for a, b in zip(gan.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(gan.generate(4, seed=1), loaded.generate(4, seed=1), atol=1e-6)
    assert int(loaded.g_optimizer.iterations) == int(gan.g_optimizer.iterations) == 2
    assert int(loaded.d_optimizer.iterations) == 4
    assert isinstance(loaded.d_optimizer, keras.optimizers.RMSprop)
    for a, b in zip(gan.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # The random stream is saved too: the reloaded game continues exactly as the original does.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.seed_generator.state),
                                  keras.ops.convert_to_numpy(gan.seed_generator.state))
    loaded.fit(vectors(64), batch_size=32, epochs=1, verbose=0, shuffle=False)
    gan.fit(vectors(64), batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert int(loaded.g_optimizer.iterations) == 4
    for a, b in zip(gan.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


class _no_optimizer_skip_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.records = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        skipped = [str(r.message) for r in self.records if "Skipping variable loading" in str(r.message)]
        assert not skipped, skipped
        return False


def test_jit_compile_trains():
    gan = mlp_gan()
    gan.compile(jit_compile=True)
    assert gan.jit_compile is True
    history = gan.fit(vectors(128), batch_size=32, epochs=2, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
    assert history["d_loss"][0] != history["d_loss"][1]


def test_digits_dcgan_fits_a_few_steps():
    from ganapps import data

    ds = data.load("digits", image_size=8, batch_size=32, seed=0).take(6)
    gan = GAN(nets.dcgan_generator(16, (8, 8, 1), width=8), nets.dcgan_discriminator((8, 8, 1), width=8), seed=0)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    history = gan.fit(ds, epochs=3, verbose=0).history
    assert history["d_loss"][-1] < history["d_loss"][0]
    assert gan.generate(5).shape == (5, 8, 8, 1)


MIRRORED = r"""
import json, numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from ganapps import nets
from ganapps.games.gan import GAN
rng = np.random.default_rng(0)
x = np.clip(rng.normal(0.3, 0.2, (64, 4)), -1, 1).astype("float32")
keras.utils.set_random_seed(1)
init_g = nets.mlp_generator(3, 4, hidden=(16,)).get_weights()
init_d = nets.mlp_discriminator(4, hidden=(16,)).get_weights()

def run(strategy):
    with strategy.scope():
        gan = GAN(nets.mlp_generator(3, 4, hidden=(16,)), nets.mlp_discriminator(4, hidden=(16,)), seed=5,
                  loss="hinge", ema=0.9, gradient_penalty=1.0)
        gan.generator.set_weights(init_g); gan.discriminator.set_weights(init_d)
        gan.ema_generator.set_weights(init_g)
        gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(32)
    h = gan.fit(ds, epochs=2, verbose=0).history
    nets_ = (gan.generator, gan.discriminator, gan.ema_generator)
    return h, [w.tolist() for net in nets_ for w in net.get_weights()]

one = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"one": one, "two": two}))
"""


def test_mirrored_strategy_matches_one_device():
    """Two logical CPUs under MirroredStrategy give the losses, metrics and weights (EMA included) of one
    device on the same global batch: each replica takes its own slice of the latents and of the GP weights."""
    proc = run_python(MIRRORED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (h1, w1), (h2, w2) = out["one"], out["two"]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "gp"):
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-4, atol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-5)


# -- bad input ------------------------------------------------------------------------------------------------
def _image_gan():
    return GAN(nets.dcgan_generator(8, (8, 8, 1), width=4), nets.dcgan_discriminator((8, 8, 1), width=4))


def test_error_image_shape_the_discriminator_does_not_take():
    gan = _image_gan()
    gan.compile()
    with pytest.raises(ValueError, match=r"x: .*\(8, 8, 1\).*\(16, 16, 1\)"):
        gan.fit(np.zeros((4, 16, 16, 1), "float32"), verbose=0)


def test_error_generator_discriminator_mismatch():
    with pytest.raises(ValueError, match=r"discriminator: expected .*\(8, 8, 1\).*\(16, 16, 1\)"):
        GAN(nets.dcgan_generator(8, (8, 8, 1)), nets.dcgan_discriminator((16, 16, 1)))


def test_error_latent_dim_mismatch():
    with pytest.raises(ValueError, match=r"latent_dim: expected the generator's z size 8; got 16"):
        GAN(nets.dcgan_generator(8, (8, 8, 1)), nets.dcgan_discriminator((8, 8, 1)), latent_dim=16)


def test_error_unknown_loss():
    with pytest.raises(ValueError, match=r"loss.*'hinje'"):
        GAN(nets.dcgan_generator(8, (8, 8, 1)), nets.dcgan_discriminator((8, 8, 1)), loss="hinje")


@pytest.mark.parametrize("bad, pattern", [(np.nan, "NaN"), (np.inf, "Inf"), (3.0, r"\[-1, 1\]")])
def test_error_bad_values_in_data(bad, pattern):
    gan = _image_gan()
    gan.compile()
    x = np.zeros((4, 8, 8, 1), "float32")
    x[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match=rf"x: .*{pattern}"):
        gan.fit(x, verbose=0)
    with pytest.raises(ValueError, match=rf"x: .*{pattern}"):
        gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=0)


def test_error_empty_dataset():
    gan = _image_gan()
    gan.compile()
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 8, 8, 1), "float32")).batch(4)
    with pytest.raises(ValueError, match=r"x: .*empty"):
        gan.fit(empty, verbose=0)


def test_error_fit_before_compile_and_bad_arguments():
    gan = _image_gan()
    with pytest.raises(ValueError, match=r"x: expected a compiled game.*gan.compile"):
        gan.fit(np.zeros((4, 8, 8, 1), "float32"), verbose=0)
    g, d = nets.dcgan_generator(8, (8, 8, 1)), nets.dcgan_discriminator((8, 8, 1))
    with pytest.raises(ValueError, match=r"d_steps: expected a positive integer; got 0"):
        GAN(g, d, d_steps=0)
    with pytest.raises(ValueError, match=r"ema: expected .*; got 1.5"):
        GAN(g, d, ema=1.5)
    with pytest.raises(ValueError, match=r"gradient_penalty: .*; got -1"):
        GAN(g, d, gradient_penalty=-1)
    with pytest.raises(ValueError, match=r"image_shape: expected height and width to be powers of two"):
        nets.dcgan_generator(8, (12, 12, 1))


def test_augment_layer_sees_real_and_fake_and_round_trips(tmp_path):
    @keras.saving.register_keras_serializable(package="ganapps_tests")
    class CountingNoise(keras.layers.Layer):
        """Adds small noise in training only."""

        def call(self, x, training=False):
            return x + 0.01 * keras.random.normal(keras.ops.shape(x)) if training else x

    gan = GAN(nets.dcgan_generator(8, (8, 8, 1), width=4), nets.dcgan_discriminator((8, 8, 1), width=4),
              augment=CountingNoise(), seed=0)
    calls = []
    original = gan._discriminate
    gan._discriminate = lambda x, training=True: (calls.append(x.shape), original(x, training))[1]
    gan.compile(run_eagerly=True)
    gan.fit(np.zeros((8, 8, 8, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    assert len(calls) == 3  # D step: real and fake; G step: fake
    del gan._discriminate
    gan.save(tmp_path / "aug.keras")
    loaded = keras.models.load_model(tmp_path / "aug.keras")
    assert isinstance(loaded.augment, CountingNoise)
    with pytest.raises(ValueError, match=r"augment: expected None or a Keras layer"):
        GAN(nets.dcgan_generator(8, (8, 8, 1)), nets.dcgan_discriminator((8, 8, 1)), augment="flip")


def test_mixed_float16_wraps_optimizers_in_loss_scaling_and_trains(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = GAN(nets.dcgan_generator(8, (8, 8, 1), width=4), nets.dcgan_discriminator((8, 8, 1), width=4),
                  seed=0)
        gan.compile()
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
        history = gan.fit(x, batch_size=16, epochs=2, verbose=0).history
        assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
        assert gan.generator.layers[1].compute_dtype == "float16"  # the body runs in float16 ...
        assert gan.generate(2).dtype == np.float32  # ... and the images come out float32
        assert int(gan.g_optimizer.iterations) == 4
        gan.save(tmp_path / "mixed.keras")
        loaded = keras.models.load_model(tmp_path / "mixed.keras")
        assert isinstance(loaded.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert int(loaded.g_optimizer.iterations) == 4
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _zero_d_loss(real_logits, fake_logits):
    return 0.0 * keras.ops.mean(real_logits) + 0.0 * keras.ops.mean(fake_logits)


def _critic_g(real_logits, fake_logits):
    return -keras.ops.mean(fake_logits)


def test_saving_stores_the_loss_by_its_registry_name(tmp_path):
    from ganapps import losses

    gan = mlp_gan(loss=losses.get("least_squares"))
    gan.compile()
    gan.save(tmp_path / "a.keras")
    assert keras.models.load_model(tmp_path / "a.keras").adversarial_loss.name == "least_squares"

    custom = mlp_gan(loss=(_zero_d_loss, _critic_g))
    custom.compile()
    with pytest.raises(ValueError, match=r"loss: expected a loss registered in ganapps.losses.*'custom'"):
        custom.save(tmp_path / "b.keras")
    assert not (tmp_path / "b.keras").exists()
    losses.register("zero_critic_for_tests", _zero_d_loss, _critic_g)
    try:
        named = mlp_gan(loss="zero_critic_for_tests")
        named.compile()
        named.save(tmp_path / "c.keras")
        assert keras.models.load_model(tmp_path / "c.keras").adversarial_loss.name == "zero_critic_for_tests"
    finally:
        del losses.LOSSES["zero_critic_for_tests"]  # leave the registry as the other tests expect it


@pytest.mark.parametrize("penalty", ["r1", "gradient_penalty"])
def test_penalties_enter_the_discriminator_update_with_their_weights(penalty):
    """With a zero adversarial loss, one SGD step moves a linear D = w.x + b by the penalty's gradient alone:
    R1 (gamma/2) ||w||^2 gives w(1 - lr gamma); WGAN-GP lambda (||w|| - 1)^2 gives
    w - lr lambda 2 (||w|| - 1) w / ||w||."""
    lr, weight = 0.1, 3.0
    x = keras.Input((4,))
    discriminator = keras.Model(x, keras.layers.Dense(1)(x))
    gan = GAN(nets.mlp_generator(3, 4, hidden=(8,)), discriminator, loss=(_zero_d_loss, _critic_g),
              **{penalty: weight}, seed=0)
    gan.compile(g_optimizer=keras.optimizers.SGD(lr), d_optimizer=keras.optimizers.SGD(lr))
    w = keras.ops.convert_to_numpy(discriminator.layers[-1].kernel)[:, 0].astype("float64")
    gan.fit(vectors(16), batch_size=16, epochs=1, verbose=0)
    got = keras.ops.convert_to_numpy(discriminator.layers[-1].kernel)[:, 0]
    norm = np.linalg.norm(w)
    want = w * (1 - lr * weight) if penalty == "r1" else w - lr * weight * 2 * (norm - 1) * w / norm
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
