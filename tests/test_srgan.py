"""Super-resolution: the SRResNet/RRDB generator and SRGAN discriminator, the SRGAN game in both phases, network
interpolation, export, and the (low, high) pair pipeline of ganapps.data."""

import json
import time

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

from ganapps import data, export, nets, pretrained
from ganapps.games.srgan import SRGAN, check_pair, interpolate_networks
from ganapps.layers import PixelShuffle, ResizeBy, SNConv2D
from ganapps.nets import vgg
from ganapps.pretrained import WeightsUnavailableError

PATCH = 32  # high-resolution patch size of the tiny games
SCALE = 2


def _smooth_images(n: int = 8, size: int = PATCH, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Random low-frequency patterns (a few plane waves per image) in [-0.9, 0.9]: learnable detail that a
    bicubic downscale keeps most of, so a tiny net can learn to restore it in a few steps."""
    rng = np.random.default_rng(seed)
    u = np.linspace(0.0, 1.0, size)
    yy, xx = np.meshgrid(u, u, indexing="ij")
    images = np.zeros((n, size, size, channels))
    for i in range(n):
        for _ in range(3):
            fy, fx = rng.uniform(-2.5, 2.5, 2)
            phase = rng.uniform(0.0, 2 * np.pi, channels)
            images[i] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * (fy * yy + fx * xx)[..., None] + phase)
        images[i] *= 0.9 / np.abs(images[i]).max()
    return images.astype("float32")


def _generator(scale: int = SCALE, channels: int = 3, block: str = "residual", input_skip=None, seed: int = 0,
               filters: int = 8):
    keras.utils.set_random_seed(seed)
    return nets.srresnet_generator(scale=scale, channels=channels, filters=filters, blocks=1, block=block,
                                   growth=8, input_skip=input_skip)


def _tiny_discriminator(patch: int = PATCH, channels: int = 3) -> keras.Model:
    """One strided convolution, its activation named "features", one logit. SRGAN's discriminator makes a step
    trace several times slower, so only a few game tests use it."""
    x = keras.Input((patch, patch, channels))
    h = keras.layers.LeakyReLU(0.2, name="features")(keras.layers.Conv2D(4, 4, strides=4)(x))
    return keras.Model(x, keras.layers.Dense(1)(keras.layers.Flatten()(h)), name="tiny_discriminator")


def _game(channels: int = 3, input_skip=None, seed: int = 0, patch: int = PATCH, srgan_discriminator: bool = False,
          **kwargs) -> SRGAN:
    generator = _generator(channels=channels, input_skip=input_skip, seed=seed)
    if srgan_discriminator:
        discriminator = nets.sr_discriminator((patch, patch, channels), width=4, dense=8)
    else:
        discriminator = _tiny_discriminator(patch, channels)
    return SRGAN(generator, discriminator, seed=seed, **kwargs)


def _compile(game: SRGAN, lr: float = 2e-3, jit_compile: bool = False, d_lr: float | None = None) -> SRGAN:
    game.compile(g_optimizer=keras.optimizers.Adam(lr), d_optimizer=keras.optimizers.Adam(d_lr or lr),
                 jit_compile=jit_compile)
    return game


def _pairs(n: int = 8, channels: int = 3, batch: int = 4, seed: int = 0) -> tf.data.Dataset:
    images = tf.data.Dataset.from_tensor_slices(_smooth_images(n, channels=channels, seed=seed)).batch(batch)
    return data.sr_pairs(images, SCALE)


def _arrays(n: int = 8, channels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    high = _smooth_images(n, channels=channels, seed=seed)
    return keras.ops.convert_to_numpy(data.downscale(high, SCALE)), high


def _l1(game: SRGAN, low: np.ndarray, high: np.ndarray) -> float:
    return float(np.mean(np.abs(keras.ops.convert_to_numpy(game.generator(low, training=False)) - high)))


def _d_margin(game: SRGAN, low: np.ndarray, high: np.ndarray) -> float:
    """Mean discriminator logit on real patches minus that on the generator's: how well D tells them apart."""
    fake = game.generator(low, training=False)
    return float(np.mean(game.discriminator(high, training=False)) - np.mean(game.discriminator(fake, training=False)))


def _weights_equal(a: keras.Model, b: keras.Model) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb) > 0
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------------------------------------------
# Networks.


@pytest.mark.parametrize("scale, block", [(2, "residual"), (4, "rrdb"), (8, "residual")])
def test_generator_upscales_any_input_size_by_its_scale(scale, block):
    generator = _generator(scale=scale, block=block)
    assert generator.input_shape == (None, None, None, 3) and generator.output_shape == (None, None, None, 3)
    assert sum(isinstance(layer, PixelShuffle) for layer in generator.layers) == int(np.log2(scale))
    for h, w in ((5, 7), (3, 3)):
        out = generator(np.zeros((2, h, w, 3), "float32"))
        assert tuple(out.shape) == (2, h * scale, w * scale, 3)


@pytest.mark.parametrize("input_skip, channels", [("bicubic", 3), ("bilinear", 1), ("nearest", 3)])
def test_input_skip_starts_as_the_interpolation_of_the_input(input_skip, channels):
    low = np.random.default_rng(1).uniform(-1, 1, (2, 5, 7, channels)).astype("float32")
    generator = _generator(scale=4, channels=channels, block="rrdb", input_skip=input_skip)
    want = tf.image.resize(low, (20, 28), method=input_skip).numpy()
    start = np.abs(generator(low).numpy() - want).mean()  # the tail starts small, not at zero
    assert 0 < start < 0.05
    tail = generator.get_layer("tail_conv")
    tail.kernel.assign(np.zeros(tail.kernel.shape, "float32"))  # without the learned part: the interpolation
    np.testing.assert_allclose(generator(low).numpy(), want, atol=1e-5)
    if input_skip == "nearest":  # integer-factor nearest neighbour repeats each pixel scale x scale times
        np.testing.assert_array_equal(want, low.repeat(4, axis=1).repeat(4, axis=2))
    plain = _generator(scale=4, channels=channels, block="rrdb")  # no skip: a random tail, not the interpolation
    assert np.abs(plain(low).numpy() - want).mean() > 2 * start


def test_generator_parameter_errors():
    with pytest.raises(ValueError, match=r"scale: expected a power of two of at least 2 .*; got 3"):
        nets.srresnet_generator(scale=3)
    with pytest.raises(ValueError, match=r"scale: expected a power of two .*; got 1"):
        nets.srresnet_generator(scale=1)
    with pytest.raises(ValueError, match=r"block: expected one of \('residual', 'rrdb'\); got 'x'"):
        nets.srresnet_generator(block="x")
    with pytest.raises(ValueError, match=r"input_skip: expected one of \(None, 'bicubic'.*; got 'lanczos'"):
        nets.srresnet_generator(input_skip="lanczos")
    with pytest.raises(ValueError, match=r"channels: expected a positive integer; got 0"):
        nets.srresnet_generator(channels=0)
    with pytest.raises(ValueError, match=r"residual_scale: expected a positive number .*; got -0.2"):
        nets.srresnet_generator(block="rrdb", residual_scale=-0.2)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_features_layer_and_logits(spectral_norm):
    d = nets.sr_discriminator((32, 48, 1), width=4, dense=8, spectral_norm=spectral_norm)
    assert d.output_shape == (None, 1)
    assert d.get_layer("features").output.shape[1:] == (2, 3, 32)  # four stride-2 convs, 8 x width filters
    has_bn = any(isinstance(layer, keras.layers.BatchNormalization) for layer in d.layers)
    has_sn = any(isinstance(layer, SNConv2D) for layer in d.layers)
    assert (has_bn, has_sn) == (not spectral_norm, spectral_norm)
    logits = d(np.random.default_rng(0).uniform(-1, 1, (3, 32, 48, 1)).astype("float32"), training=False)
    assert logits.shape == (3, 1) and np.isfinite(logits.numpy()).all()


def test_discriminator_shape_errors():
    with pytest.raises(ValueError, match=r"image_shape: expected a height and width divisible by 16 .*\(40, 32, 3\)"):
        nets.sr_discriminator((40, 32, 3))
    with pytest.raises(ValueError, match=r"image_shape: expected \(height, width, channels\)"):
        nets.sr_discriminator((32, 32))
    with pytest.raises(ValueError, match=r"width: expected a positive integer; got 0"):
        nets.sr_discriminator((32, 32, 3), width=0)


@pytest.mark.parametrize("kind", ["rrdb_bicubic", "residual", "discriminator", "discriminator_sn"])
def test_nets_round_trip_through_keras_files(tmp_path, kind):
    if kind.startswith("discriminator"):
        net = nets.sr_discriminator((16, 16, 3), width=4, dense=8, spectral_norm=kind.endswith("_sn"))
        x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    else:
        block, skip = ("rrdb", "bicubic") if kind == "rrdb_bicubic" else ("residual", None)
        net = _generator(scale=4, block=block, input_skip=skip)
        x = np.random.default_rng(0).uniform(-1, 1, (2, 5, 6, 3)).astype("float32")
    path = tmp_path / f"{kind}.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    _weights_equal(net, loaded)
    np.testing.assert_array_equal(net(x, training=False).numpy(), loaded(x, training=False).numpy())
    if kind == "rrdb_bicubic":
        assert isinstance(loaded.get_layer("input_skip"), ResizeBy)


# --------------------------------------------------------------------------------------------------------------
# The game: the PSNR phase.


def test_psnr_phase_learns_and_leaves_the_discriminator_alone():
    low, high = _arrays()
    game = _compile(_game())
    untrained = _l1(game, low, high)
    d_before = [w.copy() for w in game.discriminator.get_weights()]
    history = game.fit(_pairs().repeat(), steps_per_epoch=10, epochs=3, verbose=0).history
    assert set(history) == {"pixel", "psnr"}
    assert history["pixel"][-1] < 0.7 * history["pixel"][0]
    assert history["psnr"][-1] > history["psnr"][0] + 3.0
    trained = _l1(game, low, high)
    assert trained < 0.6 * untrained, (untrained, trained)
    assert int(game.g_optimizer.iterations) == 30 and int(game.d_optimizer.iterations) == 0
    for before, after in zip(d_before, game.discriminator.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_psnr_phase_fits_arrays_and_one_channel_images():
    low, high = _arrays(channels=1)
    game = _compile(_game(channels=1))
    untrained = _l1(game, low, high)
    game.fit(x=low, y=high, batch_size=4, epochs=5, verbose=0)
    assert _l1(game, low, high) < 0.7 * untrained
    assert game.export_metadata() == {"task": "super_resolution", "scale": 2, "channel_order": "L",
                                      "receptive_radius": 10, "overlap": 10}  # 9x9 head and tail: 4 + 2 + 1 + 1 + 2


def test_upscale_clips_and_checks_its_input():
    game = _game(input_skip="nearest")
    low = np.full((1, 4, 5, 3), 0.5, "float32")
    tail = game.generator.get_layer("tail_conv")
    tail.kernel.assign(np.zeros(tail.kernel.shape, "float32"))  # the net is its nearest-neighbour skip alone
    out = game.upscale(low)
    assert out.shape == (1, 8, 10, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.5, atol=1e-6)
    for layer in (game.generator.get_layer("tail_conv"),):  # push the raw output out of range
        layer.bias.assign(np.full((3,), 5.0, "float32"))
    assert game.upscale(low).max() == 1.0
    with pytest.raises(ValueError, match=r"low: expected images of shape .*\(None, None, 3\)"):
        game.upscale(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"low: expected images scaled to \[-1, 1\]"):
        game.upscale(np.full((1, 4, 4, 3), 3.0, "float32"))


# --------------------------------------------------------------------------------------------------------------
# The adversarial phase.


def test_adversarial_phase_trains_both_players_and_the_discriminator_learns():
    low, high = _arrays()
    game = _compile(_game(perceptual="discriminator", srgan_discriminator=True, phase="adversarial"))
    before = _d_margin(game, low, high)
    g_before = [w.copy() for w in game.generator.get_weights()]
    history = game.fit(_pairs().repeat(), steps_per_epoch=8, epochs=2, verbose=0).history
    assert {"d_loss", "g_loss", "d_real", "d_fake", "pixel", "psnr", "adversarial", "perceptual"} == set(history)
    assert int(game.d_optimizer.iterations) == int(game.g_optimizer.iterations) == 16
    after = _d_margin(game, low, high)
    assert after > before + 0.25, (before, after)  # the discriminator tells the real patches apart
    assert history["d_loss"][-1] < history["d_loss"][0]
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, game.generator.get_weights()))
    assert all(np.isfinite(v).all() for v in history.values())


@pytest.mark.parametrize("loss, perceptual, r1", [("non_saturating", None, 0.0),
                                                  ("relativistic_average", "discriminator", 1.0)])
def test_adversarial_losses_perceptual_off_and_r1(loss, perceptual, r1):
    low, high = _arrays()
    # the tiny discriminator learns only against a slower generator, which otherwise fools it at once
    game = _compile(_game(loss=loss, perceptual=perceptual, r1=r1, phase="adversarial"), lr=2e-4, d_lr=2e-3)
    before = _d_margin(game, low, high)
    history = game.fit(_pairs().repeat(), steps_per_epoch=10, epochs=1, verbose=0).history
    expected = {"d_loss", "g_loss", "d_real", "d_fake", "pixel", "psnr", "adversarial"}
    expected |= ({"perceptual"} if perceptual else set()) | ({"r1"} if r1 else set())
    assert set(history) == expected
    assert all(np.isfinite(v).all() for v in history.values())
    assert _d_margin(game, low, high) > before + 0.15  # the discriminator learned under this loss
    if r1:
        assert history["r1"][0] > 0


def test_perceptual_loss_definition_and_a_user_extractor_is_used_and_saved(tmp_path):
    keras.utils.set_random_seed(3)
    x = keras.Input((None, None, 3))
    extractor = keras.Model(x, keras.layers.Conv2D(5, 3, strides=2, name="user_conv")(x), name="extractor")
    game = _compile(_game(perceptual=extractor, phase="adversarial"))
    a, b = _smooth_images(2, seed=1), _smooth_images(2, seed=2)
    assert float(game.perceptual_loss(a, a)) == 0.0
    want = np.mean(np.abs(extractor(a).numpy() - extractor(b).numpy()))
    np.testing.assert_allclose(float(game.perceptual_loss(a, b)), want, rtol=1e-5)
    assert want > 0

    extractor_before = [w.copy() for w in extractor.get_weights()]
    history = game.fit(_pairs(), epochs=1, verbose=0).history
    assert history["perceptual"][0] > 0
    for before, after in zip(extractor_before, extractor.get_weights()):  # a fixed feature space, not trained
        np.testing.assert_array_equal(before, after)

    game.save(tmp_path / "user.keras")
    loaded = keras.models.load_model(tmp_path / "user.keras")
    assert isinstance(loaded.perceptual_model, keras.Model) and loaded.perceptual_model is not extractor
    _weights_equal(extractor, loaded.perceptual_model)
    np.testing.assert_allclose(float(loaded.perceptual_loss(a, b)), want, rtol=1e-5)


def test_discriminator_perceptual_loss_is_zero_for_identical_images():
    game = _game(perceptual="discriminator", srgan_discriminator=True)
    a, b = _smooth_images(2, seed=1), _smooth_images(2, seed=2)
    assert float(game.perceptual_loss(a, a)) == 0.0
    assert float(game.perceptual_loss(a, b)) > 0.0
    assert float(_game(perceptual=None).perceptual_loss(a, b)) == 0.0


def test_vgg19_perceptual_offline_fails_fast_and_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "keras_weight_paths", lambda filename: [tmp_path / "keras" / "models" / filename])
    monkeypatch.setattr(data, "_network_available", lambda host=None: False)
    vgg._vgg19.cache_clear()
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as offline:
        nets.vgg19_features()
    assert time.perf_counter() - start < 5.0
    message = str(offline.value)
    assert str(tmp_path / "keras" / "models" / vgg.VGG19_WEIGHTS_FILE) in message
    assert "not available offline" in message and "https://" in message and "perceptual='discriminator'" in message

    game = _game(perceptual="vgg19")  # building the game and its psnr phase need no weights
    game.phase = "adversarial"
    assert "perceptual" in {m.name for m in game.metrics}
    with pytest.raises(WeightsUnavailableError, match=r"perceptual: expected VGG19's ImageNet weights"):
        game.perceptual_loss(_smooth_images(1), _smooth_images(1))
    _compile(game)
    with pytest.raises(WeightsUnavailableError):
        game.fit(_pairs(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"channels: expected 1 or 3; got 2"):
        nets.vgg19_features(channels=2)
    vgg._vgg19.cache_clear()


def test_vgg19_extractor_is_built_once_outside_the_traced_step_and_not_saved(tmp_path, monkeypatch):
    """VGG19 stands in as a small net whose weights are loaded with set_weights, as Keras loads VGG19's file:
    that works only eagerly, and the weights (80 MB for the real one) must not go into the game's file."""
    from ganapps.games import srgan

    built, channel_args = [], []

    def fake_vgg19_features(layer="block5_conv4", channels=3):
        built.append(tf.executing_eagerly())
        channel_args.append(channels)
        x = keras.Input((None, None, channels))
        model = keras.Model(x, keras.layers.Conv2D(4, 3, name="fake_vgg_conv")(x))
        model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
        model.trainable = False
        return model

    monkeypatch.setattr(srgan, "vgg19_features", fake_vgg19_features)
    game = _compile(_game(perceptual="vgg19", phase="adversarial"))
    history = game.fit(_pairs(), epochs=2, verbose=0).history
    assert built == [True] and history["perceptual"][0] > 0
    for w in game._features.value.get_weights():
        np.testing.assert_array_equal(w, np.float32(0.1))
    assert not any("fake_vgg_conv" in w.path for w in game.weights)
    game.save(tmp_path / "vgg.keras")
    loaded = keras.models.load_model(tmp_path / "vgg.keras")
    assert loaded.get_config()["perceptual"] == "vgg19" and loaded.perceptual_model is None
    assert len(loaded.weights) == len(game.weights) and built == [True]  # loading builds no extractor
    gray = _game(channels=1, perceptual="vgg19")
    gray.perceptual_loss(_smooth_images(1, channels=1), _smooth_images(1, channels=1))
    assert channel_args == [3, 1]  # VGG19 takes the game's channels (grayscale is repeated to RGB)


def test_vgg_preprocessing_maps_minus_one_one_rgb_to_caffe_bgr():
    rgb = np.array([[[[-1.0, 0.0, 1.0]]]], "float32")  # R = 0, G = 127.5, B = 255 on the 0..255 scale
    np.testing.assert_allclose(vgg.VGGPreprocess()(rgb).numpy()[0, 0, 0],
                               [255 - 103.939, 127.5 - 116.779, 0 - 123.68], rtol=1e-6)
    gray = vgg.VGGPreprocess()(np.ones((1, 2, 2, 1), "float32")).numpy()
    np.testing.assert_allclose(gray[0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68], rtol=1e-6)


# --------------------------------------------------------------------------------------------------------------
# Saving, XLA, export.


def test_keras_round_trip_in_both_phases(tmp_path):
    low, _ = _arrays(2)
    game = _compile(_game(input_skip="bicubic", ema=0.9, seed=5))
    for phase in ("psnr", "adversarial"):
        game.phase = phase  # switching phase retraces the step
        history = game.fit(_pairs(), epochs=1, verbose=0).history
        assert {"d_loss", "adversarial", "perceptual"} <= set(history) if phase == "adversarial" else \
            set(history) == {"pixel", "psnr"}
        path = tmp_path / f"{phase}.keras"
        game.save(path)
        loaded = keras.models.load_model(path)
        assert isinstance(loaded, SRGAN) and loaded.phase == phase and loaded.scale == SCALE
        for net in ("generator", "discriminator", "ema_generator"):
            _weights_equal(getattr(game, net), getattr(loaded, net))
        for opt in ("g_optimizer", "d_optimizer"):
            assert int(getattr(loaded, opt).iterations) == int(getattr(game, opt).iterations)
        assert int(loaded.d_optimizer.iterations) == (0 if phase == "psnr" else 2)  # psnr: d untouched
        assert ("d_loss" in {m.name for m in loaded.metrics}) == (phase == "adversarial")
        np.testing.assert_array_equal(loaded.upscale(low), game.upscale(low))
        assert loaded.get_config()["perceptual"] == "discriminator"
    loaded.fit(_pairs(), epochs=1, verbose=0)  # a loaded game goes on training
    assert int(loaded.g_optimizer.iterations) == 6


def test_jit_compiled_psnr_phase_learns():
    low, high = _arrays()
    game = _compile(_game(input_skip="bicubic"), lr=5e-4, jit_compile=True)  # bicubic resizing under XLA too
    bicubic = _l1(game, low, high)  # the untrained net is exactly the bicubic upscale
    history = game.fit(_pairs().repeat(), steps_per_epoch=15, epochs=2, verbose=0).history
    assert history["pixel"][-1] < history["pixel"][0]
    assert _l1(game, low, high) < 0.95 * bicubic  # it learned detail that bicubic interpolation misses


def _run_onnx_at_two_sizes(directory, net: keras.Model, scale: int, channels: int) -> None:
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for h, w in ((7, 9), (12, 5)):
        low = np.random.default_rng(h).uniform(-1, 1, (1, h, w, channels)).astype("float32")
        out = session.run(None, {name: low})[0]
        assert out.shape == (1, scale * h, scale * w, channels)
        np.testing.assert_allclose(out, net(low).numpy(), atol=1e-4)


def _nonzero_tail(net: keras.Model) -> None:
    """With an input skip the tail starts small; a larger one makes the export's parity check see the trunk."""
    kernel = net.get_layer("tail_conv").kernel
    kernel.assign(np.random.default_rng(0).normal(0, 0.05, kernel.shape))


def test_export_game_onnx_with_dynamic_size_and_metadata(tmp_path):
    game = _game(input_skip="bicubic")
    _nonzero_tail(game.generator)
    meta = game.export_metadata()
    assert {k: meta[k] for k in ("task", "scale", "channel_order")} == {
        "task": "super_resolution", "scale": 2, "channel_order": "RGB"}
    assert meta["overlap"] == meta["receptive_radius"] == 10
    metadata = export.export_generator(game, tmp_path / "sr", formats=("onnx",))
    on_disk = json.loads((tmp_path / "sr" / "metadata.json").read_text())
    assert on_disk["task"] == "super_resolution" and on_disk["scale"] == 2 and on_disk["channel_order"] == "RGB"
    assert on_disk["dynamic_spatial"] is True and metadata["latent_dim"] is None
    _run_onnx_at_two_sizes(tmp_path / "sr", game.generator, 2, 3)


def test_export_rrdb_generator_onnx_with_dynamic_size(tmp_path):
    net = _generator(scale=4, channels=1, block="rrdb", input_skip="nearest")
    _nonzero_tail(net)
    metadata = export.export_generator(net, tmp_path / "rrdb", formats=("onnx",))
    assert metadata["dynamic_spatial"] is True and metadata["channel_order"] == "L" and "task" not in metadata
    _run_onnx_at_two_sizes(tmp_path / "rrdb", net, 4, 1)


# --------------------------------------------------------------------------------------------------------------
# Bad input.


def test_fit_errors():
    low, high = _arrays(4)
    game = _compile(_game())
    with pytest.raises(ValueError, match=r"x: expected a dataset of \(low_resolution, high_resolution\) pairs"):
        game.fit(tf.data.Dataset.from_tensors(high), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a tf.data.Dataset of \(low, high\) pairs, or arrays"):
        game.fit(high, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected high-resolution images 2x the low-resolution ones"):
        game.fit(x=high, y=high, verbose=0)
    small = _smooth_images(4, size=16)
    with pytest.raises(ValueError, match=r"y: expected high-resolution patches of shape \(32, 32, 3\)"):
        game.fit(data.sr_pairs(small, 2), verbose=0)
    bad = low.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x \(low resolution\): expected finite values; got 1 NaN"):
        game.fit(x=bad, y=high, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a dataset with at least one batch; got an empty dataset"):
        game.fit(_pairs().take(0), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected low- and high-resolution batches of the same size"):
        game.fit(x=low[:2], y=high, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a compiled game"):
        _game().fit(_pairs(), verbose=0)
    assert int(game.g_optimizer.iterations) == 0


def test_constructor_errors():
    g, d = _generator(), nets.sr_discriminator((32, 32, 3), width=4, dense=8)
    with pytest.raises(ValueError, match=r"latent_dim: expected None .*; got 16"):
        SRGAN(g, d, latent_dim=16)
    with pytest.raises(ValueError, match=r"phase: expected one of \('psnr', 'adversarial'\); got 'gan'"):
        SRGAN(g, d, phase="gan")
    for weight in ("pixel_weight", "perceptual_weight", "adversarial_weight", "r1"):
        with pytest.raises(ValueError, match=rf"{weight}: expected a non-negative number; got -1"):
            SRGAN(g, d, **{weight: -1})
    with pytest.raises(ValueError, match=r"perceptual: expected 'discriminator', 'vgg19', a keras.Model or None"):
        SRGAN(g, d, perceptual="vgg16")
    with pytest.raises(ValueError, match=r"loss: "):
        SRGAN(g, d, loss="nope")
    with pytest.raises(ValueError, match=r"gradient_penalty: expected no gradient_penalty argument .*; got "
                                         r"gradient_penalty=10.0"):
        SRGAN(g, d, gradient_penalty=10.0)  # a GAN option SRGAN would otherwise ignore silently
    game = SRGAN(g, d)
    with pytest.raises(ValueError, match=r"phase: expected one of"):
        game.phase = "both"
    assert game.phase == "psnr"

    x = keras.Input((None, None, 3))
    same_size = keras.Model(x, keras.layers.Conv2D(3, 3, padding="same")(x))
    shrinking = keras.Model(x, keras.layers.Conv2D(3, 3, strides=2, padding="same")(x))
    for net in (same_size, shrinking):
        with pytest.raises(ValueError, match=r"generator: expected an upscaling network"):
            SRGAN(net, d)
    y = keras.Input((8, 16, 3))  # a fixed input size is probed at that size
    fixed = keras.Model(y, keras.layers.UpSampling2D(4)(y))
    assert SRGAN(fixed, nets.sr_discriminator((32, 64, 3), width=4, dense=8)).scale == 4
    with pytest.raises(ValueError, match=r"generator: expected one image input"):
        SRGAN(nets.dcgan_generator(8, (32, 32, 3)), d)
    with pytest.raises(ValueError, match=r"discriminator: expected images with the generator's 3 channels"):
        SRGAN(g, nets.sr_discriminator((32, 32, 1), width=4, dense=8))
    with pytest.raises(ValueError, match=r"discriminator: expected a keras.Model; got str"):
        SRGAN(g, "d")


def test_generate_is_not_for_super_resolution():
    with pytest.raises(TypeError, match=r"call game.upscale"):
        _game().generate(4)


def test_check_pair():
    low, high = _arrays(2)
    check_pair(low, high, 2, (32, 32, 3))
    check_pair(low, high, 2, (None, None, 3))
    with pytest.raises(ValueError, match=r"x: expected high-resolution images 4x"):
        check_pair(low, high, 4)
    with pytest.raises(ValueError, match=r"y \(high resolution\): expected images scaled to \[-1, 1\]"):
        check_pair(low, high * 3, 2)


# --------------------------------------------------------------------------------------------------------------
# Network interpolation.


def test_interpolate_networks_blends_weights():
    a, b = _generator(seed=1), _generator(seed=2)
    low = np.random.default_rng(0).uniform(-1, 1, (2, 6, 7, 3)).astype("float32")
    for alpha, want in ((0.0, a), (1, b)):
        blended = interpolate_networks(a, b, alpha)
        assert blended is not a and blended is not b
        np.testing.assert_allclose(blended(low).numpy(), want(low).numpy(), atol=1e-6)
    half = interpolate_networks(a, b, 0.5)
    for w, wa, wb in zip(half.get_weights(), a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(w, (wa + wb) / 2, atol=1e-7)
    assert not np.allclose(half(low).numpy(), a(low).numpy())
    game_a, game_b = (SRGAN(g, nets.sr_discriminator((32, 32, 3), width=4, dense=8)) for g in (a, b))
    np.testing.assert_allclose(interpolate_networks(game_a, game_b, 1.0)(low).numpy(), b(low).numpy(), atol=1e-6)

    with pytest.raises(ValueError, match=r"gan_model: expected a generator with the same architecture"):
        interpolate_networks(a, _generator(filters=4), 0.5)
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\]; got 1.5"):
        interpolate_networks(a, b, 1.5)
    with pytest.raises(ValueError, match=r"psnr_model: expected a keras.Model generator or an SRGAN game"):
        interpolate_networks("a", b, 0.5)


# --------------------------------------------------------------------------------------------------------------
# Data: downscale and sr_pairs.


def test_downscale_shapes_range_crop_and_definition():
    rng = np.random.default_rng(0)
    checker = np.where((np.indices((36, 36)).sum(0) // 2) % 2, 1.0, -1.0)[None, ..., None].astype("float32")
    for method in ("bicubic", "bilinear", "area"):
        small = data.downscale(np.repeat(checker, 3, axis=-1), 4, method=method).numpy()
        assert small.shape == (1, 9, 9, 3) and small.min() >= -1.0 and small.max() <= 1.0
    images = rng.uniform(-1, 1, (2, 35, 34, 3)).astype("float32")
    small = data.downscale(images, 4).numpy()
    assert small.shape == (2, 8, 8, 3)  # 35x34 cut to 32x32 first (the bottom and right edges dropped)
    np.testing.assert_allclose(small, data.downscale(images[:, :32, :32], 4).numpy())
    area = data.downscale(images[:, :32, :32], 4, method="area").numpy()  # area = the mean of each 4x4 block
    np.testing.assert_allclose(area, images[:, :32, :32].reshape(2, 8, 4, 8, 4, 3).mean(axis=(2, 4)), atol=1e-5)
    np.testing.assert_allclose(data.downscale(np.full((1, 8, 8, 1), 0.3, "float32"), 2).numpy(), 0.3, atol=1e-6)
    with pytest.raises(ValueError, match=r"scale: expected a positive integer; got 0"):
        data.downscale(images, 0)
    with pytest.raises(ValueError, match=r"method: expected 'bicubic', 'bilinear' or 'area'; got 'lanczos'"):
        data.downscale(images, 2, method="lanczos")


def test_sr_pairs_from_arrays_and_labelled_datasets():
    images = _smooth_images(6)
    low, high = next(iter(data.sr_pairs(images, 4)))
    assert low.shape == (6, 8, 8, 3) and high.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(high.numpy(), images)
    np.testing.assert_allclose(low.numpy(), data.downscale(images, 4).numpy())
    labelled = tf.data.Dataset.from_tensor_slices((images, np.arange(6))).batch(4)
    batches = list(data.sr_pairs(labelled, 2))
    assert [tuple(b[0].shape) for b in batches] == [(4, 16, 16, 3), (2, 16, 16, 3)]
    assert all(len(b) == 2 and b[1].shape[1:] == (32, 32, 3) for b in batches)
    with pytest.raises(ValueError, match=r"images: expected height and width that are multiples of scale=3"):
        data.sr_pairs(images, 3)
    with pytest.raises(ValueError, match=r"images: expected a rank-4 array"):
        data.sr_pairs(images[0], 2)
    with pytest.raises(ValueError, match=r"images: expected images scaled to \[-1, 1\]"):
        data.sr_pairs(images * 200, 2)
    with pytest.raises(ValueError, match=r"scale: expected a positive integer; got 0"):
        data.sr_pairs(images, 0)
    with pytest.raises(ValueError, match=r"images: expected batches of NHWC images"):
        data.sr_pairs(tf.data.Dataset.from_tensor_slices(images), 2)


def test_evaluate_reports_pixel_loss_and_psnr_of_the_inference_generator():
    low, high = _arrays(channels=3)
    game = _compile(_game(channels=3))
    before = game.evaluate(x=low, y=high, batch_size=4, verbose=0, return_dict=True)
    assert set(before) == {"pixel", "psnr"}
    np.testing.assert_allclose(before["pixel"], _l1(game, low, high), rtol=1e-4)
    game.fit(x=low, y=high, batch_size=4, epochs=5, verbose=0)
    after = game.evaluate(x=low, y=high, batch_size=4, verbose=0, return_dict=True)
    assert after["pixel"] < before["pixel"] and after["psnr"] > before["psnr"]


def test_interpolating_an_ema_game_gives_a_trainable_network():
    game = SRGAN(_generator(), _tiny_discriminator(), ema=0.9, seed=0)
    assert not game.inference_generator.trainable
    blended = interpolate_networks(game.generator, game, np.float32(0.5))
    assert blended.trainable and len(blended.trainable_variables) == len(game.generator.trainable_variables)
