"""VAE-GAN: one step's losses against their definitions, learning to reconstruct, a latent space that separates two
kinds of images, same seed same run, .keras round trip, XLA, the DCGAN encoder, ONNX export, bad arguments."""

import keras
import numpy as np
import pytest

import ganapps
from ganapps import export, nets
from ganapps.games.vaegan import VAEGAN

S, L = 8, 4
SHAPE = (S, S, 1)


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(8x8 images, kind): kind 0 has a bright top half and a dark bottom half, kind 1 the reverse, each at a
    random contrast with pixel noise."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    level = rng.uniform(0.4, 0.9, (n, 1, 1, 1))
    top = np.zeros((n, *SHAPE))
    top[:, :S // 2] = 1.0
    mask = np.where(kind[:, None, None, None] == 0, top, 1.0 - top)
    x = level * (2.0 * mask - 1.0) + 0.1 * rng.standard_normal((n, *SHAPE))
    return np.clip(x, -1.0, 1.0).astype("float32"), kind


def mlp_parts(hidden: int = 32, seed: int = 0) -> dict:
    keras.utils.set_random_seed(seed)
    return dict(generator=nets.mlp_generator(L, S * S, hidden=(hidden,), output_activation="tanh", sample_shape=SHAPE),
                discriminator=nets.mlp_discriminator(S * S, hidden=(hidden,), sample_shape=SHAPE),
                encoder=nets.mlp_encoder(S * S, 2 * L, hidden=(hidden,), sample_shape=SHAPE))


def two_output_encoder() -> keras.Model:
    x = keras.Input(SHAPE)
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(x, [keras.layers.Dense(L, name="mean")(h), keras.layers.Dense(L, name="log_variance")(h)])


def _adam(lr: float = 2e-3, beta_1: float = 0.5) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(lr, beta_1=beta_1)


def _separation(game: VAEGAN, x: np.ndarray, kind: np.ndarray, centroids: np.ndarray) -> dict:
    """How far apart the two kinds lie in the latent space: the distance of their centroids against the spread of
    the posterior means within a kind and against the posteriors' own standard deviation, and how often a code
    drawn from a posterior is nearest its own kind's centroid."""
    mean, log_variance = game.encode_distribution(x)
    distance = float(np.linalg.norm(centroids[0] - centroids[1]))
    within = np.sqrt(np.mean(np.sum((mean - centroids[kind]) ** 2, axis=1)))
    codes = game.encode(x, sample=True, seed=3)
    nearest = np.argmin(np.sum((codes[:, None] - centroids[None]) ** 2, axis=-1), axis=1)
    return {"spread_ratio": distance / within, "posterior_ratio": distance / np.exp(0.5 * log_variance).mean(),
            "accuracy": float(np.mean(nearest == kind))}


def _centroids(game: VAEGAN, x: np.ndarray, kind: np.ndarray) -> np.ndarray:
    mean = game.encode(x, batch_size=100)
    return np.stack([mean[kind == 0].mean(axis=0), mean[kind == 1].mean(axis=0)])


@pytest.fixture(scope="module")
def trained():
    """A game of tiny MLPs trained 256 steps on the two kinds of images (about 5 s), with its untrained
    separation measured first as a baseline."""
    game = VAEGAN(**mlp_parts(), seed=0)
    held_out, held_kind = halves(256, 1)
    x, kind = halves(1024, 0)
    before = _separation(game, held_out, held_kind, _centroids(game, x, kind))
    game.compile(_adam(), _adam(), _adam(beta_1=0.9), jit_compile=False)
    history = game.fit(x, batch_size=32, epochs=8, verbose=0).history
    return game, history, before, (x, kind), (held_out, held_kind)


def test_training_learns_to_reconstruct_with_a_finite_positive_kl(trained):
    game, history, _, (x, _), (held_out, _) = trained
    assert set(history) == {"d_loss", "g_loss", "e_loss", "kl", "reconstruction", "feature_reconstruction"}
    assert history["reconstruction"][-1] < 0.25 * history["reconstruction"][0]
    assert history["e_loss"][-1] < 0.5 * history["e_loss"][0]
    kl = np.asarray(history["kl"])
    assert np.isfinite(kl).all() and (kl > 0).all()
    assert all(np.isfinite(history[k]).all() for k in history)
    reconstruction = game.reconstruct(held_out, batch_size=100)
    assert reconstruction.shape == held_out.shape and reconstruction.dtype == np.float32
    mean_image_mse = np.mean((held_out - x.mean(axis=0)) ** 2)
    assert np.mean((reconstruction - held_out) ** 2) < 0.2 * mean_image_mse
    assert [int(o.iterations) for o in (game.g_optimizer, game.d_optimizer, game.e_optimizer)] == [256] * 3


def test_latent_space_separates_the_two_kinds_of_images(trained):
    """The debiasing's need: codes drawn from the posteriors of held-out images fall nearest their own kind's
    centroid, and the kinds lie several posterior widths apart, much farther than before training."""
    game, _, before, (x, kind), (held_out, held_kind) = trained
    after = _separation(game, held_out, held_kind, _centroids(game, x, kind))
    assert after["accuracy"] > 0.95 and after["spread_ratio"] > 3.0 and after["posterior_ratio"] > 4.0
    assert after["posterior_ratio"] > 2.0 * before["posterior_ratio"] and before["accuracy"] < 0.9
    mean, log_variance = game.encode_distribution(held_out[:5], batch_size=2)
    assert mean.shape == log_variance.shape == (5, L) and mean.dtype == log_variance.dtype == np.float32
    np.testing.assert_array_equal(game.encode(held_out[:5], batch_size=2), mean)
    out = np.asarray(game.encoder(held_out[:5]))
    np.testing.assert_allclose(mean, out[:, :L], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_variance, out[:, L:], rtol=1e-5, atol=1e-5)
    drawn = game.encode(held_out[:5], sample=True, seed=7)
    np.testing.assert_array_equal(drawn, game.encode(held_out[:5], sample=True, seed=7))
    eps = ganapps.latent.sample_normal(5, L, seed=7)
    np.testing.assert_allclose(drawn, mean + eps * np.exp(0.5 * log_variance), rtol=1e-5, atol=1e-6)


def test_one_step_losses_match_their_definitions():
    """With the discriminator's learning rate 0, one step's metrics are the losses at the initial weights, computed
    here from the same draws of the game's seed stream: eps, z_prior for D's update, then eps, z_prior for E's
    and G's. The loss is hinge and the weights are not 1, so each term's place shows."""
    game = VAEGAN(**mlp_parts(hidden=16, seed=4), loss="hinge", kl_weight=0.5, recon_weight=2.0, pixel_weight=0.3,
                  seed=5)
    game.compile(_adam(), keras.optimizers.SGD(0.0), _adam(), run_eagerly=True)
    x = halves(16, 2)[0]
    stream = keras.random.SeedGenerator(0)
    stream.state.assign(game.seed_generator.state.value)
    eps_d, prior_d, eps, prior = (keras.random.normal((16, L), seed=stream).numpy() for _ in range(4))
    out = game.encoder(x).numpy()
    mean, log_variance = out[:, :L], out[:, L:]
    std = np.exp(0.5 * log_variance)
    g, d = game.generator, game.discriminator
    features = keras.Model(d.input, d.get_layer("logit").input)
    fakes_d = np.concatenate([g(mean + eps_d * std).numpy(), g(prior_d).numpy()])
    d_loss = np.mean(np.maximum(0, 1 - d(x).numpy())) + np.mean(np.maximum(0, 1 + d(fakes_d).numpy()))
    reconstruction = g(mean + eps * std).numpy()
    kl = np.mean(0.5 * np.sum(np.exp(log_variance) + mean ** 2 - 1 - log_variance, axis=1))
    pixel = np.mean((reconstruction - x) ** 2)
    feature = np.mean((features(reconstruction).numpy() - features(x).numpy()) ** 2)
    adversarial = -np.mean(d(np.concatenate([reconstruction, g(prior).numpy()])).numpy())
    history = game.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    want = {"d_loss": d_loss, "kl": kl, "reconstruction": pixel, "feature_reconstruction": feature,
            "e_loss": 0.5 * kl / (S * S) + feature + 0.3 * pixel,
            "g_loss": 2.0 * (feature + 0.3 * pixel) + adversarial}
    for name, value in want.items():
        np.testing.assert_allclose(history[name], [value], rtol=1e-4, atol=1e-6, err_msg=name)


def test_same_seed_gives_the_same_run():
    x = halves(64, 3)[0]

    def run(seed):
        game = VAEGAN(**mlp_parts(hidden=8, seed=1), seed=seed)
        game.compile(run_eagerly=True)
        history = game.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
        return game.get_weights(), history

    (w1, h1), (w2, h2), (w3, h3) = run(2), run(2), run(3)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
    assert h1["kl"] != h3["kl"] and not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_keras_round_trip_keeps_weights_optimizers_and_outputs(tmp_path):
    """A two-output encoder, a named feature layer and an EMA generator survive the round trip, and the loaded
    game resumes training with all three optimizers' state."""
    parts = mlp_parts(hidden=8, seed=2)
    parts["encoder"] = two_output_encoder()
    feature_layer = [layer.name for layer in parts["discriminator"].layers if isinstance(layer, keras.layers.Dense)][0]
    game = VAEGAN(**parts, kl_weight=0.5, recon_weight=2.0, pixel_weight=0.0, feature_layer=feature_layer,
                  ema=0.9, seed=3)
    game.compile(e_optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=False)
    x = halves(64, 4)[0]
    history = game.fit(x, batch_size=16, epochs=3, verbose=0).history
    assert history["e_loss"][-1] < history["e_loss"][0]
    path = tmp_path / "vaegan.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, VAEGAN) and isinstance(loaded, ganapps.VAEGAN)
    assert (loaded.kl_weight, loaded.recon_weight, loaded.pixel_weight, loaded.feature_layer, loaded.ema_decay) == (
        0.5, 2.0, 0.0, feature_layer, 0.9)
    assert loaded.adversarial_loss.name == "minimax"
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [int(o.iterations) for o in (loaded.g_optimizer, loaded.d_optimizer, loaded.e_optimizer)] == [12] * 3
    assert isinstance(loaded.e_optimizer, keras.optimizers.RMSprop)
    for a, b in zip(game.e_optimizer.variables, loaded.e_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for method in ("encode", "reconstruct"):
        np.testing.assert_array_equal(getattr(game, method)(x), getattr(loaded, method)(x))
    np.testing.assert_array_equal(game.encode_distribution(x)[1], loaded.encode_distribution(x)[1])
    np.testing.assert_array_equal(game.generate(5, seed=1), loaded.generate(5, seed=1))
    # With EMA, reconstructions come from the averaged generator.
    np.testing.assert_allclose(game.reconstruct(x[:3]), game.ema_generator(game.encode(x[:3])), atol=1e-6)
    assert not np.allclose(game.reconstruct(x[:3]), game.generator(game.encode(x[:3])), atol=1e-4)
    loaded.run_eagerly = True  # two steps: tracing would cost more than they do
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)
    assert [int(o.iterations) for o in (loaded.g_optimizer, loaded.d_optimizer, loaded.e_optimizer)] == [14] * 3


def test_trains_under_xla_on_vectors():
    """Vectors near a 2-d plane in 8-d, with MLPs: the step compiles with XLA, and the KL's normalisation
    counts the 8 values of a vector sample."""
    keras.utils.set_random_seed(5)
    game = VAEGAN(nets.mlp_generator(2, 8, hidden=(16,)), nets.mlp_discriminator(8, hidden=(16,)),
                  nets.mlp_encoder(8, 4, hidden=(16,)), seed=5)
    game.compile(_adam(5e-3), _adam(5e-3), _adam(5e-3, beta_1=0.9), jit_compile=True)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((128, 2)) @ rng.standard_normal((2, 8)) * 0.3).astype("float32")
    history = game.fit(x, batch_size=32, epochs=10, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["reconstruction"][-1] < 0.5 * history["reconstruction"][0]
    assert [int(o.iterations) for o in (game.g_optimizer, game.d_optimizer, game.e_optimizer)] == [40] * 3
    assert game.encode(x[:3]).shape == (3, 2) and game.reconstruct(x[:3]).shape == (3, 8)


def test_dcgan_networks_with_dcgan_encoder_train_in_mixed_precision():
    """``nets.dcgan_encoder(image_shape, 2 * latent_dim)`` is an encoder as it is; under the mixed_float16 policy
    every player's optimizer is loss-scaled and the losses stay finite and fall."""
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(6)
        parts = (nets.dcgan_generator(L, SHAPE, width=4), nets.dcgan_discriminator(SHAPE, width=4),
                 nets.dcgan_encoder(SHAPE, 2 * L, width=4, dense=16))
    finally:
        keras.config.set_dtype_policy(policy)
    game = VAEGAN(*parts, seed=6)
    game.compile(_adam(), _adam(), _adam(1e-2, beta_1=0.9), jit_compile=False)
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer)
               for o in (game.g_optimizer, game.d_optimizer, game.e_optimizer))
    x = halves(64, 6)[0]
    history = game.fit(x, batch_size=32, epochs=10, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["reconstruction"][-1] < 0.8 * history["reconstruction"][0]
    assert game.encode(x[:3]).shape == (3, L) and game.encode(x[:3]).dtype == np.float32
    assert game.reconstruct(x[:3]).shape == (3, *SHAPE) and game.generate(2, seed=0).shape == (2, *SHAPE)


def test_export_generator_exports_the_decoder(trained, tmp_path):
    game = trained[0]
    metadata = export.export_generator(game, tmp_path / "vaegan", formats=("onnx",))
    assert metadata["latent_dim"] == L
    runner = export.load(tmp_path / "vaegan")
    np.testing.assert_allclose(runner.sample(4, seed=2), game.generate(4, seed=2), atol=1e-4)


@pytest.mark.parametrize("change, pattern", [
    (dict(encoder=nets.mlp_encoder(S * S, L, hidden=(4,), sample_shape=SHAPE)),
     r"encoder: expected a keras.Model from samples of shape \(8, 8, 1\) to \(batch, 8\) \(mean and log-variance "
     r"concatenated: 2 \* latent_dim\) or to two outputs \(batch, 4\) \(mean, log-variance\); got one with 1 "
     r"output\(s\) \(batch, 4\)"),
    (dict(encoder=nets.mlp_encoder(16, 2 * L, hidden=(4,))), r"encoder: expected .*; got one taking \(16\)"),
    (dict(encoder="encoder"), r"encoder: expected a keras.Model from samples to the posterior's mean and "
                              r"log-variance; got str"),
    (dict(kl_weight=-1.0), r"kl_weight: expected a finite number >= 0; got -1.0"),
    (dict(recon_weight=-0.5), r"recon_weight: expected a finite number >= 0; got -0.5"),
    (dict(pixel_weight=float("nan")), r"pixel_weight: expected a finite number >= 0; got nan"),
    (dict(kl_weight="1"), r"kl_weight: expected a finite number >= 0; got '1'"),
    (dict(feature_layer="nope"), r"feature_layer: expected None or the name of a discriminator layer, one of "
                                 r"\[.*\]; got 'nope'"),
    (dict(feature_layer=3), r"feature_layer: expected None or the name of a discriminator layer; got 3"),
    (dict(latent_dim=5), r"latent_dim: expected the generator's z size 4; got 5"),
    (dict(loss="nope"), r"loss"),
])
def test_bad_arguments_name_the_argument(change, pattern):
    parts = mlp_parts(hidden=4)
    parts.update(change)
    with pytest.raises(ValueError, match=pattern):
        VAEGAN(**parts)


def test_encoders_of_three_or_named_outputs_or_no_graph_are_refused():
    x = keras.Input(SHAPE)
    h = keras.layers.Flatten()(x)
    heads = [keras.layers.Dense(L)(h) for _ in range(3)]
    parts = mlp_parts(hidden=4)
    parts["encoder"] = keras.Model(x, heads)
    with pytest.raises(ValueError, match=r"encoder: expected .*; got one with 3 output\(s\) \(batch, 4\), "
                                         r"\(batch, 4\), \(batch, 4\)"):
        VAEGAN(**parts)
    parts["encoder"] = keras.Model(x, {"mean": heads[0], "log_variance": heads[1]})
    with pytest.raises(ValueError, match=r"encoder: expected .*; got one with a dict output of keys "
                                         r"\['log_variance', 'mean'\]"):
        VAEGAN(**parts)

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    parts["encoder"] = Subclassed(name="mine")
    with pytest.raises(ValueError, match=r"encoder: expected .*; got Subclassed 'mine' without symbolic inputs"):
        VAEGAN(**parts)


@pytest.mark.parametrize("method", ["encode", "encode_distribution", "reconstruct"])
def test_bad_samples_to_encode_are_refused(method):
    game = VAEGAN(**mlp_parts(hidden=4))
    call = getattr(game, method)
    pixels = np.random.default_rng(0).integers(0, 256, (3, *SHAPE)).astype("uint8")
    with pytest.raises(ValueError, match=r"x: expected images scaled to \[-1, 1\] .*; got values from \d+ to \d+"):
        call(pixels)
    with pytest.raises(ValueError, match=r"x: expected images of shape .* = \(8, 8, 1\)"):
        call(np.zeros((3, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"x: expected finite values"):
        call(np.full((2, *SHAPE), np.nan, "float32"))
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        call(np.zeros((2, *SHAPE), "float32"), batch_size=0)


def test_bad_sample_flag_and_optimizer_are_refused():
    game = VAEGAN(**mlp_parts(hidden=4))
    with pytest.raises(ValueError, match=r"sample: expected True or False; got 'yes'"):
        game.encode(np.zeros((2, *SHAPE), "float32"), sample="yes")
    with pytest.raises(ValueError, match=r"e_optimizer: expected a keras optimizer"):
        game.compile(e_optimizer="no_such_optimizer")
