"""f-AnoGAN: the GAN phase is GAN's step, the encoder phase learns izi_f with G and D frozen, scores rank held-out
outliers above normal samples (f-AnoGAN, AnoGAN, the critic), the scorer graph, features, .keras round trip,
bad arguments."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganapps
from ganapps import export, nets, runtime
from ganapps.games.fanogan import SCORE_DESCRIPTION, AnomalyScores, FAnoGAN, FAnoGANScore
from ganapps.games.gan import GAN
from ganapps.layers import MinibatchStdDev

DIM, LATENT = 8, 2
_RNG = np.random.default_rng(0)
_NORMAL_PLANE = np.linalg.qr(_RNG.standard_normal((DIM, LATENT)))[0].T  # (2, 8) orthonormal rows
_OTHER_PLANE = np.linalg.qr(_RNG.standard_normal((DIM, LATENT)))[0].T


def plane(n: int, seed: int, basis: np.ndarray = _NORMAL_PLANE) -> np.ndarray:
    """Points near a 2-d plane in 8-d: the normal data lie on one plane; outliers, as spread, on another."""
    rng = np.random.default_rng(seed)
    return (0.5 * rng.standard_normal((n, LATENT)) @ basis + 0.05 * rng.standard_normal((n, DIM))).astype("float32")


def vector_game(seed: int = 0, **kwargs) -> FAnoGAN:
    keras.utils.set_random_seed(seed)
    return FAnoGAN(nets.mlp_generator(LATENT, DIM, hidden=(32, 32)), nets.mlp_discriminator(DIM, hidden=(32, 32)),
                   nets.mlp_encoder(DIM, LATENT, hidden=(32, 32)), seed=seed, **kwargs)


def image_game(conv_features: bool = False, **kwargs) -> FAnoGAN:
    """MLP generator (reshaped to 4x4x1), DCGAN discriminator and encoder; ``conv_features``: the features are
    the output of the discriminator's last convolution, chosen by its layer name."""
    keras.utils.set_random_seed(1)
    discriminator = nets.dcgan_discriminator((4, 4, 1), width=4)
    if conv_features:
        kwargs["feature_layer"] = _last_conv(discriminator).name
    return FAnoGAN(nets.mlp_generator(4, 16, hidden=(16,), output_activation="tanh", sample_shape=(4, 4, 1)),
                   discriminator, nets.dcgan_encoder((4, 4, 1), 4, width=4, dense=8), seed=1, **kwargs)


def batch_norm_game(**kwargs) -> FAnoGAN:
    """A DCGAN generator with batch norm and a discriminator with dropout: both behave differently in training
    mode, which the encoder phase must not use for them."""
    keras.utils.set_random_seed(2)
    return FAnoGAN(nets.dcgan_generator(4, (4, 4, 1), width=4, norm="batch"),
                   nets.dcgan_discriminator((4, 4, 1), width=4, dropout=0.5),
                   nets.dcgan_encoder((4, 4, 1), 4, width=4, dense=8), seed=2, **kwargs)


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 4, 4, 1)).astype("float32")


def _logit_input(discriminator: keras.Model) -> keras.Model:
    """The features the logit is computed from, read off the discriminator by hand."""
    return keras.Model(discriminator.input, discriminator.get_layer("logit").input)


def _last_conv(discriminator: keras.Model) -> keras.layers.Layer:
    return [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)][-1]


def _dataset(x: np.ndarray, batch: int = 64) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).repeat().batch(batch, drop_remainder=True)


def _auroc(outlier_scores: np.ndarray, normal_scores: np.ndarray) -> float:
    return float(np.mean(outlier_scores[:, None] > normal_scores[None, :]))


@pytest.fixture(scope="module")
def trained():
    """A game trained on one plane: 300 GAN steps, then 200 encoder steps (about 3 s)."""
    game = vector_game(r1=1.0)
    adam = keras.optimizers.Adam
    game.compile(adam(2e-3, beta_1=0.5), adam(2e-3, beta_1=0.5), adam(3e-3), jit_compile=False)
    ds = _dataset(plane(1024, 1))
    game.fit(ds, steps_per_epoch=100, epochs=3, verbose=0)
    before = {"weights": [w.copy() for w in game.generator.get_weights() + game.discriminator.get_weights()],
              "g": int(game.g_optimizer.iterations), "d": int(game.d_optimizer.iterations)}
    game.phase = "encoder"
    history = game.fit(ds, steps_per_epoch=50, epochs=4, verbose=0).history
    return game, before, history


def test_gan_phase_trains_exactly_as_gan():
    def nets_():
        keras.utils.set_random_seed(3)
        return nets.mlp_generator(LATENT, DIM, hidden=(16,)), nets.mlp_discriminator(DIM, hidden=(16,))

    x = plane(128, 5)
    plain = GAN(*nets_(), r1=1.0, seed=4)
    plain.compile(jit_compile=False)
    plain_history = plain.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    game = FAnoGAN(*nets_(), nets.mlp_encoder(DIM, LATENT, hidden=(16,)), r1=1.0, seed=4)
    game.compile(jit_compile=False)
    encoder_before = game.encoder.get_weights()
    history = game.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    assert set(history) == set(plain_history) == {"d_loss", "g_loss", "d_real", "d_fake", "r1"}
    for a, b in zip(plain.generator.get_weights() + plain.discriminator.get_weights(),
                    game.generator.get_weights() + game.discriminator.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(game.generator.get_weights()[0], nets_()[0].get_weights()[0])  # it did train
    for a, b in zip(encoder_before, game.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(game.g_optimizer.iterations) == 4 and int(game.e_optimizer.iterations) == 0


def test_encoder_phase_lowers_izi_loss_and_trains_the_encoder_alone(trained):
    game, before, history = trained
    assert set(history) == {"izi_loss", "image_residual", "feature_residual"}
    assert history["izi_loss"][-1] < 0.5 * history["izi_loss"][0]
    for a, b in zip(before["weights"], game.generator.get_weights() + game.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(game.g_optimizer.iterations) == before["g"] and int(game.d_optimizer.iterations) == before["d"]
    assert int(game.e_optimizer.iterations) == 200
    assert game.encode(plane(5, 9)).shape == (5, LATENT)


def test_encoder_phase_leaves_batch_norm_statistics_and_the_discriminator_alone():
    game = batch_norm_game()
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in game.generator.layers)
    game.compile(jit_compile=False)
    x = _images(64, 0)
    game.fit(x, batch_size=16, epochs=1, verbose=0)  # the GAN phase moves the statistics
    moving = [v for v in game.generator.non_trainable_variables if "moving" in v.path]
    assert moving and not np.allclose(keras.ops.convert_to_numpy(moving[0]), 0.0)
    g_before, d_before = game.generator.get_weights(), game.discriminator.get_weights()
    stats_before = [keras.ops.convert_to_numpy(v).copy() for v in moving]
    e_before = game.encoder.get_weights()
    game.phase = "encoder"
    game.fit(x, batch_size=16, epochs=2, verbose=0)
    for a, b in zip(stats_before, moving):
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))
    for a, b in zip(g_before + d_before, game.generator.get_weights() + game.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(e_before, game.encoder.get_weights()))
    assert [int(o.iterations) for o in (game.g_optimizer, game.d_optimizer, game.e_optimizer)] == [4, 4, 8]


def test_izi_metrics_match_a_computation_by_hand():
    """One encoder step's metrics against G(E(x)) and the discriminator's features computed here, with G (batch
    norm) and D (dropout) in inference mode: the numbers the encoder's first update descends."""
    game = batch_norm_game(kappa=0.5)
    game.compile(jit_compile=False)
    x = _images(16, 1)
    game.fit(x, batch_size=16, epochs=1, verbose=0)  # one GAN step: batch statistics away from their start
    reconstruction = keras.ops.convert_to_numpy(game.generator(game.encoder(x, training=False), training=False))
    features = _logit_input(game.discriminator)
    f_x, f_r = (keras.ops.convert_to_numpy(features(v, training=False)) for v in (x, reconstruction))
    image, feature = np.mean((reconstruction - x) ** 2), np.mean((f_r - f_x) ** 2)
    assert feature > 1e-4
    game.phase = "encoder"
    history = game.fit(x, batch_size=16, epochs=1, verbose=0).history
    np.testing.assert_allclose(history["image_residual"], [image], rtol=1e-4)
    np.testing.assert_allclose(history["feature_residual"], [feature], rtol=1e-4)
    np.testing.assert_allclose(history["izi_loss"], [image + 0.5 * feature], rtol=1e-4)


def test_anomaly_scores_rank_held_out_outliers_above_normal_samples(trained):
    game = trained[0]
    normal, outliers = plane(200, 2), plane(200, 3, _OTHER_PLANE)
    s_normal, s_out = game.anomaly_scores(normal, batch_size=64), game.anomaly_scores(outliers)
    assert isinstance(s_normal, AnomalyScores)
    assert _auroc(s_out.scores, s_normal.scores) > 0.8
    assert s_normal.scores.shape == s_normal.image_residual.shape == s_normal.feature_residual.shape == (200,)
    assert s_normal.reconstructions.shape == s_normal.residual_maps.shape == normal.shape
    # By hand: the reconstruction is G(E(x)); the residuals are mean squared differences in values and features.
    reconstruction = keras.ops.convert_to_numpy(game.generator(game.encoder(normal)))
    features = keras.Model(game.discriminator.input, game.discriminator.layers[-1].input)
    f_x, f_r = (keras.ops.convert_to_numpy(features(v)) for v in (normal, reconstruction))
    np.testing.assert_allclose(s_normal.reconstructions, reconstruction, atol=1e-6)
    np.testing.assert_allclose(s_normal.residual_maps, (normal - reconstruction) ** 2, atol=1e-6)
    np.testing.assert_allclose(s_normal.image_residual, ((normal - reconstruction) ** 2).mean(axis=1), rtol=1e-4)
    np.testing.assert_allclose(s_normal.feature_residual, ((f_r - f_x) ** 2).mean(axis=1), rtol=1e-4)
    np.testing.assert_allclose(game.encode(normal[:4]), game.encoder(normal[:4]), atol=1e-6)


def test_anogan_scores_rank_outliers_and_fit_better_with_more_steps(trained):
    game = trained[0]
    normal, outliers = plane(48, 2), plane(48, 3, _OTHER_PLANE)
    kwargs = dict(steps=100, restarts=2, jit_compile=False)
    s_normal, s_out = game.anogan_scores(normal, **kwargs), game.anogan_scores(outliers, **kwargs)
    assert _auroc(s_out.scores, s_normal.scores) > 0.8
    # By hand from the reconstructions: AnoGAN's L1 residual and discrimination losses, averaged per element.
    reconstruction = s_normal.reconstructions
    features = keras.Model(game.discriminator.input, game.discriminator.layers[-1].input)
    residual = np.abs(normal - reconstruction).mean(axis=1)
    discrimination = np.abs(features(reconstruction).numpy() - features(normal).numpy()).mean(axis=1)
    np.testing.assert_allclose(s_normal.image_residual, residual, rtol=1e-4)
    np.testing.assert_allclose(s_normal.feature_residual, discrimination, rtol=1e-4)
    np.testing.assert_allclose(s_normal.scores, 0.9 * residual + 0.1 * discrimination, rtol=1e-4)
    np.testing.assert_allclose(s_normal.residual_maps, (normal - reconstruction) ** 2, rtol=1e-5)
    short = game.anogan_scores(normal, steps=5, restarts=2, jit_compile=False)
    assert s_normal.image_residual.mean() < 0.7 * short.image_residual.mean()
    lam32 = game.anogan_scores(normal[:4], lam=np.float32(0.25), steps=5, restarts=1, jit_compile=False)
    np.testing.assert_allclose(lam32.scores, 0.75 * lam32.image_residual + 0.25 * lam32.feature_residual, rtol=1e-4)
    for lam in (2, float("nan")):
        with pytest.raises(ValueError, match=rf"lam: expected a weight in \[0, 1\]; got {lam}"):
            game.anogan_scores(normal, lam=lam)
    with pytest.raises(ValueError, match=r"lam: expected a non-negative number; got -0.1"):
        game.anogan_scores(normal, lam=-0.1)


def test_discriminator_scores_are_the_critics_logits(trained):
    game = trained[0]
    x = plane(10, 4)
    scores = game.discriminator_scores(x, batch_size=4)
    assert scores.shape == (10,)
    np.testing.assert_allclose(scores, np.asarray(game.discriminator(x))[:, 0], atol=1e-6)


def test_scorer_gives_the_anomaly_scores_in_one_graph(trained):
    game = trained[0]
    x = np.concatenate([plane(20, 6), plane(20, 7, _OTHER_PLANE)])
    scorer = game.scorer()
    assert [t.name for t in scorer.inputs] == ["x"] and tuple(scorer.inputs[0].shape) == (None, DIM)
    out = scorer.predict(x, verbose=0)
    want = game.anomaly_scores(x)
    assert set(out) == {"score", "reconstruction", "residual"}
    np.testing.assert_allclose(out["score"], want.scores, atol=1e-5)
    np.testing.assert_allclose(out["reconstruction"], want.reconstructions, atol=1e-5)
    np.testing.assert_allclose(out["residual"], want.residual_maps, atol=1e-5)


def test_scorer_export_with_its_metadata_loads_in_the_runtime_and_scores_as_the_game(trained, tmp_path):
    game = trained[0]
    normal, outliers = plane(64, 10), plane(64, 11, _OTHER_PLANE)
    threshold = float(np.quantile(game.anomaly_scores(normal).scores, 0.9))
    metadata = game.scorer_metadata(threshold)
    assert metadata == {"task": "outlier_scoring", "threshold": threshold, "input_kind": "vectors",
                        "sample_shape": [DIM], "value_range": None, "kappa": 1.0, "score": SCORE_DESCRIPTION}
    export.export_generator(game.scorer(), tmp_path / "scorer", formats=("onnx",), extra_metadata=metadata,
                            value_range=metadata["value_range"])
    scorer = runtime.load_scorer(tmp_path / "scorer")
    assert (scorer.threshold, scorer.input_kind, scorer.sample_shape) == (threshold, "vectors", (DIM,))
    x = np.concatenate([normal, outliers])
    want = game.anomaly_scores(x).scores
    np.testing.assert_allclose(scorer.anomaly_score(x), want, atol=1e-4)
    predicted = scorer.predict(x)
    clear = np.abs(want - threshold) > 1e-3  # away from the boundary, where float noise could flip a sign
    np.testing.assert_array_equal(predicted[clear], np.where(want > threshold, -1, 1)[clear])
    assert (predicted[64:] == -1).mean() > 0.8 and (predicted[:64] == 1).mean() > 0.8
    images = image_game().scorer_metadata(np.float32(0.5))
    assert (images["input_kind"], images["sample_shape"], images["value_range"]) == ("images", [4, 4, 1], [-1, 1])
    assert images["threshold"] == 0.5 and isinstance(images["threshold"], float)
    for bad in (float("nan"), float("inf"), "0.5", True, None):
        with pytest.raises(ValueError, match=r"threshold: expected a finite number \(the anomaly score above"):
            game.scorer_metadata(bad)


def test_image_scorer_and_feature_layer_by_name():
    game = image_game(kappa=0.5)
    x = np.random.default_rng(0).uniform(-1, 1, (6, 4, 4, 1)).astype("float32")
    out = game.scorer()(x)
    want = game.anomaly_scores(x)
    assert out["residual"].shape == (6, 4, 4, 1) and out["score"].shape == (6,)
    np.testing.assert_allclose(np.asarray(out["score"]), want.scores, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["residual"]), want.residual_maps, atol=1e-5)
    # The default features: the input of the logit layer (the flattened trunk); kappa weighs their residual.
    by_hand = _logit_input(game.discriminator)(x).numpy()
    np.testing.assert_allclose(game.feature_model(x), by_hand, atol=1e-6)
    reconstruction = game.generator(game.encoder(x)).numpy()
    image = ((x - reconstruction) ** 2).mean(axis=(1, 2, 3))
    feature = ((_logit_input(game.discriminator)(reconstruction).numpy() - by_hand) ** 2).mean(axis=1)
    np.testing.assert_allclose(want.scores, image + 0.5 * feature, rtol=1e-4)
    # A named layer: its output, flattened.
    named = image_game(conv_features=True)
    conv = named.discriminator.get_layer(named.feature_layer)
    by_hand = keras.Model(named.discriminator.input, conv.output)(x).numpy().reshape(6, -1)
    assert isinstance(conv, keras.layers.Conv2D) and named.feature_model.output_shape == (None, by_hand.shape[1])
    np.testing.assert_allclose(named.feature_model(x), by_hand, atol=1e-6)
    assert not np.allclose(named.anomaly_scores(x).feature_residual, image_game().anomaly_scores(x).feature_residual)


def test_features_never_pass_through_a_minibatch_std_dev_layer():
    """Its channel mixes each sample with its batch: the default features stop before it, so a sample's score
    does not depend on what it is scored with, and a feature layer after it is refused."""
    keras.utils.set_random_seed(4)
    discriminator = nets.dcgan_discriminator((4, 4, 1), width=4, minibatch_std=True)
    parts = dict(generator=nets.mlp_generator(4, 16, hidden=(16,), output_activation="tanh", sample_shape=(4, 4, 1)),
                 discriminator=discriminator, encoder=nets.dcgan_encoder((4, 4, 1), 4, width=4, dense=8))
    game = FAnoGAN(**parts, kappa=10.0)
    std = discriminator.get_layer("minibatch_std")
    x = _images(8, 5)
    by_hand = keras.Model(discriminator.input, std.input)(x).numpy().reshape(8, -1)
    np.testing.assert_allclose(game.feature_model(x), by_hand, atol=1e-6)
    whole = game.anomaly_scores(x)
    np.testing.assert_allclose(game.anomaly_scores(x, batch_size=1).scores, whole.scores, rtol=1e-5)
    mixed = game.anomaly_scores(np.concatenate([x[:3], np.ones_like(x[3:])]))
    np.testing.assert_allclose(mixed.scores[:3], whole.scores[:3], rtol=1e-5)
    np.testing.assert_allclose(game.scorer()(x[:2])["score"], whole.scores[:2], rtol=1e-5)
    after = [layer.name for layer in discriminator.layers if isinstance(layer, keras.layers.Flatten)][0]
    for name in (after, "minibatch_std"):
        with pytest.raises(ValueError, match=rf"feature_layer: expected a layer before the discriminator's "
                                             rf"MinibatchStdDev layer 'minibatch_std' .* depend on the batch\): "
                                             rf"name an earlier layer; got '{name}', whose output"):
            FAnoGAN(**parts, feature_layer=name)
    FAnoGAN(**parts, feature_layer=_last_conv(discriminator).name)  # before it: fine
    # Two of them on the logit's path: no one "layer before" to fall back on.
    v = keras.Input((DIM,), name="x")
    h = keras.layers.Dense(DIM)(MinibatchStdDev(name="std_a")(v))
    twice = keras.Model(v, keras.layers.Dense(1)(MinibatchStdDev(name="std_b")(h)))
    with pytest.raises(ValueError, match=r"feature_layer: expected the name of a discriminator layer before its "
                                         r"MinibatchStdDev layers \['std_a', 'std_b'\] .*; got None"):
        FAnoGAN(nets.mlp_generator(LATENT, DIM, hidden=(4,)), twice, nets.mlp_encoder(DIM, LATENT, hidden=(4,)))


def test_a_mixed_float16_encoder_gets_a_loss_scaled_optimizer_and_trains():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(6)
        encoder = nets.mlp_encoder(DIM, LATENT, hidden=(16,))
    finally:
        keras.config.set_dtype_policy(policy)
    game = FAnoGAN(nets.mlp_generator(LATENT, DIM, hidden=(16,)), nets.mlp_discriminator(DIM, hidden=(16,)),
                   encoder, phase="encoder", seed=6)
    game.compile(e_optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    assert encoder.dtype_policy.name == "mixed_float16"
    assert isinstance(game.e_optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(game.g_optimizer, keras.optimizers.LossScaleOptimizer)
    history = game.fit(_dataset(plane(256, 0), 32), steps_per_epoch=15, epochs=2, verbose=0).history
    assert np.isfinite(history["izi_loss"]).all() and history["izi_loss"][-1] < history["izi_loss"][0]
    plain = vector_game()
    plain.compile(jit_compile=False)
    assert not isinstance(plain.e_optimizer, keras.optimizers.LossScaleOptimizer)


def test_keras_round_trip_keeps_phase_kappa_weights_optimizers_and_scores(tmp_path):
    game = image_game(conv_features=True, kappa=0.5, r1=1.0)
    game.compile(e_optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=False)
    x = np.random.default_rng(2).uniform(-1, 1, (64, 4, 4, 1)).astype("float32")
    game.fit(x, batch_size=16, epochs=1, verbose=0)
    game.phase = "encoder"
    game.fit(x, batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "fanogan.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, FAnoGAN) and isinstance(loaded, ganapps.FAnoGAN)
    assert (loaded.phase, loaded.kappa, loaded.feature_layer) == ("encoder", 0.5, game.feature_layer)
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [int(o.iterations) for o in (loaded.g_optimizer, loaded.d_optimizer, loaded.e_optimizer)] == [4, 4, 2]
    assert isinstance(loaded.e_optimizer, keras.optimizers.RMSprop)
    for a, b in zip(game.e_optimizer.variables, loaded.e_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for field in ("scores", "image_residual", "feature_residual", "reconstructions"):
        np.testing.assert_array_equal(getattr(game.anomaly_scores(x), field), getattr(loaded.anomaly_scores(x), field))
    np.testing.assert_array_equal(game.generate(3, seed=1), loaded.generate(3, seed=1))
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)  # it resumes in its phase
    assert int(loaded.e_optimizer.iterations) == 4 and int(loaded.g_optimizer.iterations) == 4


def test_switching_phase_retraces_and_switches_metrics():
    game = vector_game()
    game.compile(jit_compile=False)
    x = plane(64, 0)
    game.fit(x, batch_size=32, epochs=1, verbose=0)
    game.phase = "encoder"
    assert game.train_function is None
    assert [m.name for m in game.metrics] == ["izi_loss", "image_residual", "feature_residual"]
    history = game.fit(x, batch_size=32, epochs=1, verbose=0).history
    assert set(history) == {"izi_loss", "image_residual", "feature_residual"}
    game.phase = "gan"
    assert "d_loss" in game.fit(x, batch_size=32, epochs=1, verbose=0).history
    assert [int(game.g_optimizer.iterations), int(game.e_optimizer.iterations)] == [4, 2]


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(phase="train"), r"phase: expected one of \('gan', 'encoder'\); got 'train'"),
    (dict(kappa=-1.0), r"kappa: expected a non-negative number; got -1.0"),
    (dict(feature_layer="nope"), r"feature_layer: expected None or the name of a discriminator layer, one of "
                                 r"\[.*\]; got 'nope'"),
    (dict(feature_layer=3), r"feature_layer: expected None or the name of a discriminator layer; got 3"),
    (dict(encoder=nets.mlp_encoder(DIM + 1, LATENT, hidden=(4,))),
     r"encoder: expected a keras.Model from samples of shape \(8\) to latents \(batch, 2\); got one from \(9\)"),
    (dict(encoder=nets.mlp_encoder(DIM, LATENT + 1, hidden=(4,))),
     r"encoder: expected a keras.Model .* to latents \(batch, 2\); got one from \(8\) to \(batch, 3\)"),
    (dict(encoder="encoder"), r"encoder: expected a keras.Model from samples to latents; got str"),
])
def test_bad_arguments_name_the_argument(kwargs, pattern):
    parts = dict(generator=nets.mlp_generator(LATENT, DIM, hidden=(4,)),
                 discriminator=nets.mlp_discriminator(DIM, hidden=(4,)),
                 encoder=nets.mlp_encoder(DIM, LATENT, hidden=(4,)))
    parts.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        FAnoGAN(**parts)


def test_bad_phase_optimizer_and_samples_are_refused():
    game = vector_game()
    with pytest.raises(ValueError, match=r"phase: expected one of .*got 'adversarial'"):
        game.phase = "adversarial"
    assert game.phase == "gan"
    with pytest.raises(ValueError, match=r"e_optimizer: expected a keras optimizer"):
        game.compile(e_optimizer="no_such_optimizer")
    with pytest.raises(ValueError, match=r"x: expected samples of shape \(8\)"):
        game.anomaly_scores(np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match=r"x: expected finite values"):
        game.discriminator_scores(np.full((2, DIM), np.nan, "float32"))
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        game.encode(np.zeros((2, DIM), "float32"), batch_size=0)
    with pytest.raises(ValueError, match=r"kappa: expected a non-negative number"):
        FAnoGANScore(kappa=-2)


@pytest.mark.parametrize("method", ["anomaly_scores", "anogan_scores", "discriminator_scores", "encode"])
def test_images_to_score_must_be_in_the_range_fit_takes(method):
    """0..255 pixels would get huge scores: every scoring method checks images as ``fit`` does."""
    game = image_game()
    pixels = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 1)).astype("uint8")
    with pytest.raises(ValueError, match=r"x: expected images scaled to \[-1, 1\] .*; got values from \d+ to \d+"):
        getattr(game, method)(pixels)
    with pytest.raises(ValueError, match=r"x: expected images of shape .* = \(4, 4, 1\)"):
        getattr(game, method)(np.zeros((3, 8, 8, 1), "float32"))
