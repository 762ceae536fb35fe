"""Tests for ganapps.losses: each loss and penalty against its definition or a closed form."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps import losses

LOG2 = math.log(2.0)
LOG4 = math.log(4.0)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _value(x) -> float:
    return float(keras.ops.convert_to_numpy(x))


def _normal_pdf(x, mean):
    return np.exp(-0.5 * (x - mean) ** 2) / math.sqrt(2.0 * math.pi)


# Closed forms of the adversarial losses.

def test_minimax_value_at_half_is_minus_log4():
    zeros = np.zeros((8, 1), "float32")
    pair = losses.get("minimax")
    assert -_value(pair.discriminator_loss(zeros, zeros)) == pytest.approx(-LOG4, abs=1e-6)
    assert _value(pair.generator_loss(zeros, zeros)) == pytest.approx(-LOG2, abs=1e-6)


def test_non_saturating_generator_at_half_is_log2():
    zeros = np.zeros((8, 1), "float32")
    pair = losses.get("non_saturating")
    assert _value(pair.generator_loss(zeros, zeros)) == pytest.approx(LOG2, abs=1e-6)
    assert _value(pair.discriminator_loss(zeros, zeros)) == pytest.approx(LOG4, abs=1e-6)


def test_minimax_and_non_saturating_on_random_logits():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(16, 1)), rng.normal(size=(16, 1)) - 1.0
    d_expected = np.mean(-np.log(1 / (1 + np.exp(-real)))) + np.mean(-np.log(1 - 1 / (1 + np.exp(-fake))))
    for name in ("minimax", "non_saturating"):
        assert _value(losses.get(name).discriminator_loss(real, fake)) == pytest.approx(d_expected, rel=1e-5)
    d_fake = 1 / (1 + np.exp(-fake))
    assert _value(losses.get("minimax").generator_loss(real, fake)) == pytest.approx(
        np.mean(np.log(1 - d_fake)), rel=1e-5)
    assert _value(losses.get("non_saturating").generator_loss(real, fake)) == pytest.approx(
        np.mean(-np.log(d_fake)), rel=1e-5)


def test_hinge():
    pair = losses.get("hinge")
    zeros = np.zeros((4, 1), "float32")
    assert _value(pair.discriminator_loss(zeros, zeros)) == pytest.approx(2.0)
    beyond_margin_real, beyond_margin_fake = np.full((4, 1), 2.0), np.full((4, 1), -3.0)
    assert _value(pair.discriminator_loss(beyond_margin_real, beyond_margin_fake)) == pytest.approx(0.0)
    real, fake = np.array([[0.5], [3.0]]), np.array([[-0.5], [1.0]])
    # relu(1 - real) = [0.5, 0]; relu(1 + fake) = [0.5, 2]
    assert _value(pair.discriminator_loss(real, fake)) == pytest.approx(0.25 + 1.25)
    assert _value(pair.generator_loss(real, fake)) == pytest.approx(-0.25)


def test_least_squares_by_hand():
    pair = losses.get("least_squares")
    real, fake = np.array([[3.0], [1.0]]), np.array([[2.0], [0.0]])
    # 0.5 * mean([4, 0]) + 0.5 * mean([4, 0]) and 0.5 * mean([1, 1])
    assert _value(pair.discriminator_loss(real, fake)) == pytest.approx(2.0)
    assert _value(pair.generator_loss(real, fake)) == pytest.approx(0.5)


def test_wasserstein_is_mean_difference():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(10, 1)) + 2.0, rng.normal(size=(6, 1))
    pair = losses.get("wasserstein")
    assert _value(pair.discriminator_loss(real, fake)) == pytest.approx(fake.mean() - real.mean(), rel=1e-5)
    assert _value(pair.generator_loss(real, fake)) == pytest.approx(-fake.mean(), rel=1e-5)


def test_relativistic_average_by_hand():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(8, 3, 3, 1)) + 0.5, rng.normal(size=(8, 3, 3, 1)) * 2.0
    c_real, c_fake = real - fake.mean(), fake - real.mean()
    d_expected = np.mean(_softplus(-c_real)) + np.mean(_softplus(c_fake))
    g_expected = np.mean(_softplus(c_real)) + np.mean(_softplus(-c_fake))
    pair = losses.get("relativistic_average")
    assert _value(pair.discriminator_loss(real, fake)) == pytest.approx(d_expected, rel=1e-5)
    assert _value(pair.generator_loss(real, fake)) == pytest.approx(g_expected, rel=1e-5)
    assert d_expected != pytest.approx(g_expected, rel=1e-3)


@pytest.mark.parametrize("name", losses.names())
def test_scalar_float32_mean_over_any_logit_shape(name):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(4, 2, 2, 1)), rng.normal(size=(4, 2, 2, 1))
    pair = losses.get(name)
    for fn in (pair.discriminator_loss, pair.generator_loss):
        patch = fn(real.astype("float64"), fake.astype("float16"))
        flat = fn(real.reshape(16, 1).astype("float32"), fake.reshape(16, 1).astype("float32"))
        assert tuple(patch.shape) == () and patch.dtype == tf.float32
        assert _value(patch) == pytest.approx(_value(flat), rel=1e-3, abs=1e-3)


def test_optimal_discriminator_and_jensen_shannon():
    """Minimising the minimax d_loss over one free logit per grid point gives D* = p_data / (p_data + p_g),
    where the value -d_loss = -log 4 + 2 JSD(p_data || p_g)."""
    dx, total = 0.1, 20_000
    grid = np.arange(-3.0, 4.0 + dx / 2, dx)
    p_data, p_g = _normal_pdf(grid, 0.0), _normal_pdf(grid, 1.0)
    # The library takes plain batch means, so the density weighting enters as how often each grid point occurs.
    n_real = np.rint(total * p_data * dx).astype(int)
    n_fake = np.rint(total * p_g * dx).astype(int)
    real_index = tf.constant(np.repeat(np.arange(grid.size), n_real))
    fake_index = tf.constant(np.repeat(np.arange(grid.size), n_fake))

    d_loss = losses.get("minimax").discriminator_loss
    logits = tf.Variable(tf.zeros([grid.size]))
    optimizer = keras.optimizers.Adam(0.1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = d_loss(tf.gather(logits, real_index), tf.gather(logits, fake_index))
        optimizer.apply_gradients([(tape.gradient(loss, logits), logits)])
        return loss

    for _ in range(300):
        step()
    value = -_value(d_loss(tf.gather(logits, real_index), tf.gather(logits, fake_index)))

    d_star = 1.0 / (1.0 + np.exp(-logits.numpy()))
    supported = (n_real >= 50) & (n_fake >= 50)
    assert supported.sum() > 30
    np.testing.assert_allclose(d_star[supported], (p_data / (p_data + p_g))[supported], atol=0.02)

    p, q = n_real / n_real.sum(), n_fake / n_fake.sum()
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        jsd_grid = 0.5 * np.nansum(np.where(p > 0, p * np.log(p / m), 0.0)) \
            + 0.5 * np.nansum(np.where(q > 0, q * np.log(q / m), 0.0))
    assert value == pytest.approx(-LOG4 + 2.0 * jsd_grid, abs=1e-4)

    fine = np.linspace(-12.0, 13.0, 250_001)
    pf, qf = _normal_pdf(fine, 0.0), _normal_pdf(fine, 1.0)
    mf = 0.5 * (pf + qf)
    jsd = 0.5 * np.trapezoid(pf * np.log(pf / mf), fine) + 0.5 * np.trapezoid(qf * np.log(qf / mf), fine)
    assert 0.05 < jsd < LOG2
    assert value == pytest.approx(-LOG4 + 2.0 * jsd, abs=5e-3)
    assert value > -LOG4 + 0.1


def _fake_logit_gradient(name, fake_logits):
    fake = tf.Variable(fake_logits)
    with tf.GradientTape() as tape:
        loss = losses.get(name).generator_loss(tf.zeros_like(fake), fake)
    return tape.gradient(loss, fake).numpy() * fake_logits.size


def test_minimax_generator_saturates_where_non_saturating_does_not():
    confident_fake = np.full((8, 1), -10.0, "float32")  # D(G(z)) ~ 4.5e-5
    non_saturating = _fake_logit_gradient("non_saturating", confident_fake)
    minimax = _fake_logit_gradient("minimax", confident_fake)
    np.testing.assert_allclose(non_saturating, -1.0, atol=1e-3)
    assert np.all(np.abs(minimax) < 1e-4) and np.all(minimax < 0)

    fooled = np.full((8, 1), 10.0, "float32")  # D(G(z)) ~ 1: the roles swap
    assert np.all(np.abs(_fake_logit_gradient("non_saturating", fooled)) < 1e-4)
    np.testing.assert_allclose(_fake_logit_gradient("minimax", fooled), -1.0, atol=1e-3)


# Penalties.

def _linear_critic(input_shape, kernel):
    inputs = keras.Input(input_shape)
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([np.asarray(kernel, "float32").reshape(-1, 1)])
    return model


def test_gradient_penalty_on_linear_keras_critic_is_exact():
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=32) * 0.4
    critic = _linear_critic((4, 4, 2), kernel)
    real = rng.normal(size=(6, 4, 4, 2)).astype("float32")
    fake = rng.normal(size=(6, 4, 4, 2)).astype("float32")
    expected = (np.linalg.norm(kernel) - 1.0) ** 2
    assert abs(np.linalg.norm(kernel) - 1.0) > 0.1
    assert _value(losses.gradient_penalty(critic, real, fake, seed=0)) == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_sums_patch_outputs():
    scale, h, w = 0.2, 3, 5
    patch_critic = lambda x: scale * x[..., :1]  # noqa: E731  [B, h, w, 1] map
    real, fake = np.ones((4, h, w, 3), "float32"), np.zeros((4, h, w, 3), "float32")
    expected = (scale * math.sqrt(h * w) - 1.0) ** 2
    assert _value(losses.gradient_penalty(patch_critic, real, fake, seed=1)) == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_interpolation_weight_is_uniform():
    # D(x) = x^2 / 2 between real = 1 and fake = 0: x_hat = eps, gradient eps, penalty (1 - eps)^2.
    # E = 1/3 for eps ~ U[0, 1]; a standard-normal eps would give 2 - 2 sqrt(2/pi) ~ 0.40.
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1)  # noqa: E731
    n = 20_000
    penalty = losses.gradient_penalty(critic, np.ones((n, 1), "float32"), np.zeros((n, 1), "float32"),
                                      seed=keras.random.SeedGenerator(5))
    assert _value(penalty) == pytest.approx(1.0 / 3.0, abs=0.02)


def test_gradient_penalty_draws_one_weight_per_sample():
    seen = []

    def critic(x):
        seen.append(x.numpy())
        return tf.reduce_sum(x, axis=[1, 2, 3])

    real, fake = np.ones((2000, 2, 2, 3), "float32"), np.zeros((2000, 2, 2, 3), "float32")
    losses.gradient_penalty(critic, real, fake, seed=6)
    x_hat = seen[0].reshape(2000, -1)
    np.testing.assert_array_equal(x_hat, np.repeat(x_hat[:, :1], 12, axis=1))
    eps = x_hat[:, 0]
    assert eps.min() >= 0.0 and eps.max() <= 1.0
    assert eps.mean() == pytest.approx(0.5, abs=0.03)
    assert eps.var() == pytest.approx(1.0 / 12.0, abs=0.01)


def test_gradient_penalty_seeding():
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1)  # noqa: E731
    real, fake = np.ones((64, 1), "float32"), np.zeros((64, 1), "float32")
    first = _value(losses.gradient_penalty(critic, real, fake, seed=7))
    assert _value(losses.gradient_penalty(critic, real, fake, seed=7)) == first
    generator_a, generator_b = keras.random.SeedGenerator(8), keras.random.SeedGenerator(8)
    run_a = [_value(losses.gradient_penalty(critic, real, fake, seed=generator_a)) for _ in range(2)]
    run_b = [_value(losses.gradient_penalty(critic, real, fake, seed=generator_b)) for _ in range(2)]
    assert run_a == run_b and run_a[0] != run_a[1]


def test_gradient_penalty_is_differentiable_where_the_gradient_vanishes():
    critic = _linear_critic((3,), np.zeros(3))
    real, fake = np.ones((4, 3), "float32"), np.zeros((4, 3), "float32")
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(critic, real, fake, seed=0)
    grads = tape.gradient(penalty, critic.trainable_weights)
    assert _value(penalty) == pytest.approx(1.0, abs=1e-5)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_penalty_passes_training_when_the_callable_takes_it():
    flags = []

    def critic(x, training=False):
        flags.append(training)
        return tf.reduce_sum(x, axis=1)

    real = np.ones((2, 3), "float32")
    losses.gradient_penalty(critic, real, real * 0.0, seed=0)
    losses.r1_penalty(critic, real)
    assert flags == [True, True]


def test_penalties_reject_bad_inputs():
    critic = lambda x: tf.reduce_sum(x, axis=1)  # noqa: E731
    with pytest.raises(ValueError, match="fake"):
        losses.gradient_penalty(critic, np.ones((4, 3), "float32"), np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match="discriminator"):
        losses.r1_penalty(lambda x: tf.zeros([4, 1]), np.ones((4, 3), "float32"))


def test_r1_penalty_on_half_squared_norm_is_mean_squared_norm():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(5, 3, 3, 2)).astype("float32")
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])  # noqa: E731
    expected = np.mean(np.sum(real.reshape(5, -1) ** 2, axis=1))
    assert _value(losses.r1_penalty(critic, real)) == pytest.approx(expected, rel=1e-5)


def test_r1_penalty_on_linear_keras_critic():
    kernel = np.array([0.5, -1.0, 2.0])
    critic = _linear_critic((3,), kernel)
    real = np.random.default_rng(10).normal(size=(7, 3)).astype("float32")
    assert _value(losses.r1_penalty(critic, real)) == pytest.approx(float(kernel @ kernel), rel=1e-5)


def test_penalties_compile_with_xla():
    kernel = np.array([0.3, -0.4, 1.2, 0.1])
    critic = _linear_critic((2, 2), kernel)
    seed = keras.random.SeedGenerator(11)

    @tf.function(jit_compile=True)
    def penalties(real, fake):
        with tf.GradientTape() as tape:
            gp = losses.gradient_penalty(critic, real, fake, seed=seed)
            r1 = losses.r1_penalty(critic, real)
            total = gp + r1
        return gp, r1, tape.gradient(total, critic.trainable_weights)

    rng = np.random.default_rng(12)
    real, fake = rng.normal(size=(8, 2, 2)).astype("float32"), rng.normal(size=(8, 2, 2)).astype("float32")
    gp, r1, grads = penalties(real, fake)
    norm = np.linalg.norm(kernel)
    assert _value(gp) == pytest.approx((norm - 1.0) ** 2, rel=1e-5)
    assert _value(r1) == pytest.approx(norm ** 2, rel=1e-5)
    # d/dw [(|w| - 1)^2 + |w|^2] = 2 (|w| - 1) w / |w| + 2 w
    expected_grad = 2.0 * (norm - 1.0) * kernel / norm + 2.0 * kernel
    np.testing.assert_allclose(grads[0].numpy().ravel(), expected_grad, rtol=1e-4)


def test_uniform_weight_under_xla():
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1)  # noqa: E731
    seed = keras.random.SeedGenerator(13)
    penalty = tf.function(lambda r, f: losses.gradient_penalty(critic, r, f, seed=seed), jit_compile=True)
    n = 20_000
    values = [_value(penalty(tf.ones([n, 1]), tf.zeros([n, 1]))) for _ in range(2)]
    assert values[0] != values[1]
    assert values[0] == pytest.approx(1.0 / 3.0, abs=0.02)


# Reconstruction.

@pytest.mark.parametrize("kind, expected", [("l1", (0.5 + 2.0 + 0.0 + 1.5) / 4),
                                            ("l2", (0.25 + 4.0 + 0.0 + 2.25) / 4)])
def test_reconstruction_loss(kind, expected):
    a, b = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5, 0.0], [3.0, 0.5]])
    assert _value(losses.reconstruction_loss(a, b, kind=kind)) == pytest.approx(expected)


def test_reconstruction_loss_unknown_kind():
    with pytest.raises(ValueError, match=r"kind.*'l3'"):
        losses.reconstruction_loss(np.zeros(2), np.zeros(2), kind="l3")


def test_reconstruction_loss_defaults_to_l1():
    assert _value(losses.reconstruction_loss(np.zeros(2), np.array([1.0, -3.0]))) == pytest.approx(2.0)


# Registry.

@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))
    return losses.LOSSES


def test_names_lists_the_registry_sorted():
    assert losses.names() == ["hinge", "least_squares", "minimax", "non_saturating", "relativistic_average",
                              "wasserstein"]


def test_get_by_name_instance_and_pair():
    hinge = losses.get("hinge")
    assert isinstance(hinge, losses.AdversarialLoss) and hinge.name == "hinge"
    assert losses.get(hinge) is hinge

    def d_fn(real, fake):
        return keras.ops.mean(fake)

    def g_fn(real, fake):
        return -keras.ops.mean(fake)

    custom = losses.get((d_fn, g_fn))
    assert custom.name == "custom" and custom.discriminator_loss is d_fn and custom.generator_loss is g_fn


def test_adversarial_loss_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        losses.get("hinge").name = "other"


def test_get_unknown_name_says_what_was_expected_and_given():
    with pytest.raises(ValueError) as info:
        losses.get("hinje")
    message = str(info.value)
    assert message.startswith("loss:")
    assert "'hinje'" in message
    for name in losses.names():
        assert repr(name) in message


@pytest.mark.parametrize("bad", [42, None, ("hinge",), (1, 2), (abs, abs, abs)])
def test_get_wrong_type(bad):
    with pytest.raises(ValueError, match=r"^loss: expected one of .* got "):
        losses.get(bad)


def test_register(registry):
    def d_fn(real, fake):
        return keras.ops.mean(keras.ops.abs(fake - real))

    def g_fn(real, fake):
        return keras.ops.mean(fake)

    registered = losses.register("absolute", d_fn, g_fn)
    assert losses.get("absolute") is registered and "absolute" in losses.names()
    with pytest.raises(ValueError, match=r"name: expected a name not yet registered.*which is taken"):
        losses.register("absolute", g_fn, d_fn)
    with pytest.raises(ValueError, match=r"name: expected a name not yet registered.*which is taken"):
        losses.register("hinge", d_fn, g_fn)
    replaced = losses.register("absolute", g_fn, d_fn, overwrite=True)
    assert losses.get("absolute").discriminator_loss is g_fn and replaced.name == "absolute"
    with pytest.raises(ValueError, match="generator_loss"):
        losses.register("broken", d_fn, "not a function")
    with pytest.raises(ValueError, match="name"):
        losses.register("", d_fn, g_fn)


def test_generator_uses_real_flags():
    """Only the relativistic generator loss reads D(real); a game skips that forward pass for the others."""
    for name in losses.names():
        assert losses.get(name).generator_uses_real == (name == "relativistic_average"), name
    assert losses.get((lambda r, f: r, lambda r, f: f)).generator_uses_real is True
