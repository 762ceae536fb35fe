"""pix2pix: the Pix2Pix game on tiny paired toy domains (its losses, the L1-only baseline, translation at any size,
the size multiple, saving, XLA, export) and its argument checks."""

import json

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import ganapps
from ganapps import export, losses, nets
from ganapps.games.pix2pix import Pix2Pix
from ganapps.layers import ReflectionPadding2D

SIZE = 16  # training crops
DEPTH = 3  # the tiny U-Net's levels: size multiple 8


def _smooth_images(n: int, size: int = SIZE, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth random images in [-0.9, 0.9]: uniform noise on a coarse 4 x 4 grid, bilinearly enlarged."""
    coarse = np.random.default_rng(seed).uniform(-0.9, 0.9, (n, 4, 4, channels)).astype("float32")
    return tf.image.resize(coarse, (size, size), method="bilinear").numpy()


def _inverted_pairs(n: int, seed: int = 0, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Domain B = domain A inverted with its colour channels reversed: a fixed per-pixel function of A that the
    identity mapping gets badly wrong."""
    a = _smooth_images(n, size=size, seed=seed)
    return a, -a[..., ::-1].copy()


def _gray_to_colour_pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One channel in, three out: B's channels are fixed functions of A's."""
    a = _smooth_images(n, channels=1, seed=seed)
    return a, np.concatenate([a, -a, 0.5 * a], axis=-1)


def _unet(in_channels: int = 3, out_channels: int = 3, depth: int = DEPTH, seed: int = 0, **kwargs) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return nets.unet_generator(in_channels, out_channels, filters=8, depth=depth, max_filters=32,
                               dropout_blocks=1, **kwargs)


def _patchgan(channels: int = 6) -> keras.Model:
    return nets.patchgan_discriminator(channels, filters=8, receptive_field=16)


def _game(in_channels: int = 3, out_channels: int = 3, seed: int = 0, **kwargs) -> Pix2Pix:
    return Pix2Pix(_unet(in_channels, out_channels, seed=seed), _patchgan(in_channels + out_channels), seed=seed,
                   **kwargs)


def _compile(game: Pix2Pix, lr: float = 2e-3, d_lr: float = 2e-4, jit_compile: bool = False) -> Pix2Pix:
    game.compile(g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5),
                 d_optimizer=keras.optimizers.Adam(d_lr, beta_1=0.5), jit_compile=jit_compile)
    return game


def _dataset(a: np.ndarray, b: np.ndarray, batch: int = 8) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((a, b)).shuffle(len(a), seed=0).batch(batch, drop_remainder=True)


def _l1(game: Pix2Pix, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(game.translate(a) - b)))


def _weights(net: keras.Model) -> list[np.ndarray]:
    return [w.copy() for w in net.get_weights()]


def _assert_weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _conv_net(in_channels: int, out_channels: int, name: str, activation=None, seed: int = 0) -> keras.Model:
    """One 3x3 convolution: a deterministic stand-in (no dropout, no batch statistics) for exact loss checks."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((None, None, in_channels))
    return keras.Model(x, keras.layers.Conv2D(out_channels, 3, padding="same", activation=activation)(x), name=name)


# --------------------------------------------------------------------------------------------------------------
# Training.


def test_pix2pix_learns_a_paired_mapping_and_reports_validation_l1_and_psnr():
    a, b = _inverted_pairs(64)
    held_a, held_b = _inverted_pairs(16, seed=1)
    game = _compile(_game())
    start = _l1(game, held_a, held_b)
    identity = float(np.mean(np.abs(held_a - held_b)))
    d_before = _weights(game.discriminator)
    history = game.fit(_dataset(a, b).repeat(), steps_per_epoch=20, epochs=3, verbose=0,
                       validation_data=(held_a, held_b)).history
    assert set(history) == {"d_loss", "g_loss", "adversarial", "l1", "psnr", "d_real", "d_fake", "val_l1", "val_psnr"}
    assert all(np.isfinite(v).all() for v in history.values())
    end = _l1(game, held_a, held_b)
    assert end < 0.5 * start and end < 0.25 * identity, (start, identity, end)
    assert history["l1"][-1] < 0.5 * history["l1"][0] and history["psnr"][-1] > history["psnr"][0] + 3.0
    assert int(game.g_optimizer.iterations) == int(game.d_optimizer.iterations) == 60
    assert any(not np.array_equal(x, y) for x, y in zip(d_before, game.discriminator.get_weights()))
    # validation reports the inference generator's (dropout off) L1 and PSNR on the held-out pairs
    np.testing.assert_allclose(history["val_l1"][-1], end, rtol=1e-4)
    mse = np.mean((game.translate(held_a) - held_b) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(history["val_psnr"][-1], np.mean(10 * np.log10(4.0 / mse)), rtol=1e-4)


def test_l1_only_baseline_trains_the_generator_and_leaves_the_discriminator_untouched():
    a, b = _gray_to_colour_pairs(32)  # one channel in, three out: the discriminator takes 4
    game = _compile(_game(in_channels=1, out_channels=3, adversarial_weight=0))
    d_before = _weights(game.discriminator)  # batch-norm moving statistics included: D is not even run
    start = _l1(game, a, b)
    history = game.fit(x=a, y=b, batch_size=8, epochs=12, verbose=0).history
    assert set(history) == {"g_loss", "l1", "psnr"}
    np.testing.assert_allclose(history["g_loss"], 100.0 * np.asarray(history["l1"]), rtol=1e-5)
    assert _l1(game, a, b) < 0.5 * start
    assert int(game.g_optimizer.iterations) == 48 and int(game.d_optimizer.iterations) == 0
    _assert_weights_equal(d_before, game.discriminator.get_weights())


@pytest.mark.parametrize("loss", ["non_saturating", "relativistic_average"])
def test_one_step_follows_the_definitions_of_the_losses(loss):
    """D judges concat([a, b]) (a first) as real and concat([a, G(a)]) as fake, its loss halved as in the paper's
    code; G's loss is adversarial_weight * adv + l1_weight * mean|G(a) - b|, with adv taken from the updated
    discriminator."""
    a, b = _inverted_pairs(4)
    generator = _conv_net(3, 3, "g", activation="tanh")
    discriminator = _conv_net(6, 1, "d", seed=1)
    game = _compile(Pix2Pix(generator, discriminator, l1_weight=7.0, adversarial_weight=2.0, loss=loss, seed=0))
    pair = losses.get(loss)
    fake = generator(a).numpy()
    real_pair, fake_pair = np.concatenate([a, b], -1), np.concatenate([a, fake], -1)
    real_logits, fake_logits = discriminator(real_pair).numpy(), discriminator(fake_pair).numpy()
    swapped = np.mean(keras.ops.sigmoid(discriminator(np.concatenate([b, a], -1))).numpy())
    want_d_real = np.mean(keras.ops.sigmoid(real_logits).numpy())
    assert abs(swapped - want_d_real) > 1e-3  # the check below tells the pair's order apart

    logs = game.fit(x=a, y=b, batch_size=4, epochs=1, verbose=0).history
    logs = {k: v[0] for k, v in logs.items()}
    np.testing.assert_allclose(logs["d_real"], want_d_real, rtol=1e-5)
    np.testing.assert_allclose(logs["d_fake"], np.mean(keras.ops.sigmoid(fake_logits).numpy()), rtol=1e-5)
    np.testing.assert_allclose(logs["d_loss"], 0.5 * float(pair.discriminator_loss(real_logits, fake_logits)),
                               rtol=1e-5)
    l1 = np.mean(np.abs(fake - b))
    np.testing.assert_allclose(logs["l1"], l1, rtol=1e-5)
    updated = game.discriminator  # the generator's loss uses the discriminator after its update
    adversarial = float(pair.generator_loss(updated(real_pair), updated(fake_pair)))
    np.testing.assert_allclose(logs["adversarial"], adversarial, rtol=1e-5)
    np.testing.assert_allclose(logs["g_loss"], 2.0 * adversarial + 7.0 * l1, rtol=1e-5)


def test_a_tiny_unet_step_compiles_with_xla_and_learns():
    a, b = _inverted_pairs(32)
    game = _compile(Pix2Pix(_unet(depth=2), _patchgan(), seed=0), jit_compile=True)
    history = game.fit(x=a, y=b, batch_size=8, epochs=4, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["l1"][-1] < 0.75 * history["l1"][0], history["l1"]
    assert int(game.g_optimizer.iterations) == int(game.d_optimizer.iterations) == 16


# --------------------------------------------------------------------------------------------------------------
# Translation at any size and the size multiple.


def test_translate_pads_by_reflection_to_the_multiple_and_crops_back():
    game = _game()
    assert game.size_multiple() == nets.unet_multiple(DEPTH) == 8
    a = _smooth_images(3, size=21, seed=2)[:, :, :13]  # 21 x 13: padded to 24 x 16
    out = game.translate(a, batch_size=2)
    assert out.shape == (3, 21, 13, 3) and out.dtype == np.float32
    padded = np.pad(a, ((0, 0), (1, 2), (1, 2), (0, 0)), mode="reflect")
    want = game.generator(padded, training=False).numpy()[:, 1:22, 1:14]
    np.testing.assert_allclose(out, want, atol=1e-6)
    np.testing.assert_array_equal(game.translate(a), out)  # dropout off: deterministic
    exact = _smooth_images(2, size=SIZE, seed=3)  # a multiple already: no padding
    np.testing.assert_allclose(game.translate(exact), game.generator(exact, training=False).numpy(), atol=1e-6)


def test_stochastic_translation_samples_dropout_and_changes_no_weights():
    game = _game()
    for weight in game.generator.trainable_weights:  # from N(0, 0.02) the dropped path barely reaches the output
        weight.assign(weight * 3.0)
    a = _smooth_images(2, seed=4)
    before = _weights(game.generator)  # batch-norm moving statistics included
    one, two = game.translate(a, stochastic=True), game.translate(a, stochastic=True)
    scale = np.abs(one).mean()
    assert np.abs(one - two).mean() > 0.1 * scale  # dropout samples anew on each call
    assert np.abs(one - game.translate(a)).mean() > 0.1 * scale
    _assert_weights_equal(before, game.generator.get_weights())
    assert all(layer.trainable for layer in game.generator.layers)


def _plain_unet(levels: int = 2) -> keras.Model:
    """A U-Net without a SizeMultiple layer: its multiple (2**levels) must be measured."""
    x = inputs = keras.Input((None, None, 3))
    skips = []
    for _ in range(levels):
        x = keras.layers.Conv2D(4, 4, strides=2, padding="same")(x)
        skips.append(x)
    for skip in reversed(skips[:-1]):
        x = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
        x = keras.layers.Concatenate()([x, skip])
    return keras.Model(inputs, keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x))


def _reflecting_net() -> keras.Model:
    """Two stride-2 convolutions, a reflection-padded convolution at a quarter resolution, two upsamplings: it
    refuses 4 x 4 images (a 1 x 1 map cannot be reflected) but its multiple is 4."""
    x = inputs = keras.Input((None, None, 3))
    for _ in range(2):
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = keras.layers.Conv2D(4, 3)(ReflectionPadding2D(1)(x))
    for _ in range(2):
        x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(x))


class _TwiceHalved(keras.Model):
    """A subclassed net that applies one stride-2 convolution twice and upsamples 4x: its layers list one stride
    of 2, but its multiple is 4, which only a measurement finds."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.down = keras.layers.Conv2D(3, 3, strides=2, padding="same")
        self.up = keras.layers.UpSampling2D(4)

    def call(self, x):
        return self.up(self.down(self.down(x)))


def test_size_multiple_is_read_from_the_nets_or_measured():
    resnet = nets.resnet_generator(3, 3, filters=4, blocks=1)
    game = Pix2Pix(resnet, _patchgan())
    assert game.size_multiple() == nets.size_multiple(resnet) == 4 and game.export_metadata()["min_size"] == 8
    tiny = _smooth_images(2, size=5, seed=7)[:, :3]  # 3 x 5: below the ResNet's 8 x 8, padded up to it
    out = game.translate(tiny)
    assert out.shape == (2, 3, 5, 3)
    padded = np.pad(tiny, ((0, 0), (2, 3), (1, 2), (0, 0)), mode="reflect")
    np.testing.assert_allclose(out, game.generator(padded, training=False).numpy()[:, 2:5, 1:6], atol=1e-6)
    assert Pix2Pix(_plain_unet(3), _patchgan()).size_multiple() == 8  # read from its strides
    reflecting = Pix2Pix(_reflecting_net(), _patchgan())
    assert reflecting.size_multiple() == 4
    assert reflecting.translate(_smooth_images(1, size=12)).shape == (1, 12, 12, 3)
    x = keras.Input((None, None, 3))
    measured = Pix2Pix(keras.Model(x, _TwiceHalved()(x)), _patchgan())
    assert measured.size_multiple() == 4 and measured.translate(_smooth_images(1, size=6)).shape == (1, 6, 6, 3)
    shrinking = Pix2Pix(keras.Model(x, keras.layers.Conv2D(3, 3, strides=2, padding="same")(x)), _patchgan())
    with pytest.raises(ValueError, match=r"generator: expected an image-to-image network that keeps its input's "
                                         r"height and width; got one that maps 16x16 images to 8x8"):
        shrinking.translate(_smooth_images(1))


# --------------------------------------------------------------------------------------------------------------
# Saving and export.


def test_keras_round_trip_keeps_weights_optimizers_and_translations(tmp_path):
    a, b = _inverted_pairs(16)
    game = _compile(_game(ema=0.9, seed=5, l1_weight=50.0, loss="least_squares"))
    # Eager steps: two steps each side cost less than tracing two train steps; graph-mode training is covered by
    # the learning tests above.
    game.run_eagerly = True
    game.fit(_dataset(a, b), epochs=1, verbose=0)
    path = tmp_path / "pix2pix.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, Pix2Pix)
    config = loaded.get_config()
    assert (config["l1_weight"], config["adversarial_weight"], config["loss"], config["ema"], config["seed"]) == (
        50.0, 1.0, "least_squares", 0.9, 5)
    assert not {"d_steps", "gradient_penalty", "r1", "augment", "label_smoothing"} & set(config)
    for net in ("generator", "discriminator", "ema_generator"):
        _assert_weights_equal(getattr(game, net).get_weights(), getattr(loaded, net).get_weights())
    for opt in ("g_optimizer", "d_optimizer"):
        assert int(getattr(loaded, opt).iterations) == int(getattr(game, opt).iterations) == 2
    sample = _smooth_images(2, size=12, seed=6)
    np.testing.assert_array_equal(loaded.translate(sample), game.translate(sample))
    loaded.run_eagerly = True
    loaded.fit(_dataset(a, b), epochs=1, verbose=0)  # a loaded game goes on training
    assert int(loaded.g_optimizer.iterations) == int(loaded.d_optimizer.iterations) == 4


def test_export_writes_translation_metadata_and_a_dynamic_size_onnx(tmp_path):
    game = _game(in_channels=1, out_channels=3)
    assert game.export_metadata() == {"task": "image_translation", "direction": "a2b", "in_channels": 1,
                                      "out_channels": 3, "size_multiple": 8, "min_size": 8}
    export.export_generator(game, tmp_path / "p2p", formats=("onnx",))
    metadata = json.loads((tmp_path / "p2p" / "metadata.json").read_text())
    assert metadata["task"] == "image_translation" and metadata["size_multiple"] == 8
    assert metadata["dynamic_spatial"] is True and metadata["latent_dim"] is None
    session = ort.InferenceSession(str(tmp_path / "p2p" / "model.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for h, w in ((8, 24), (16, 16)):
        a = _smooth_images(1, size=24, channels=1, seed=h)[:, :h, :w]
        np.testing.assert_allclose(session.run(None, {name: a})[0], game.translate(a), atol=1e-4)


# --------------------------------------------------------------------------------------------------------------
# Bad arguments.


def test_constructor_errors():
    g, d = _unet(), _patchgan()
    assert ganapps.Pix2Pix is Pix2Pix and ganapps.games.Pix2Pix is Pix2Pix
    with pytest.raises(ValueError, match=r"latent_dim: expected None .*; got 16"):
        Pix2Pix(g, d, latent_dim=16)
    for key, value in (("d_steps", 2), ("gradient_penalty", 10.0), ("r1", 1.0), ("label_smoothing", 0.1)):
        with pytest.raises(ValueError, match=rf"{key}: expected no {key} argument .*; got {key}={value}"):
            Pix2Pix(g, d, **{key: value})
    for weight in ("l1_weight", "adversarial_weight"):
        with pytest.raises(ValueError, match=rf"{weight}: expected a non-negative number; got -1"):
            Pix2Pix(g, d, **{weight: -1})
    with pytest.raises(ValueError, match=r"adversarial_weight: expected a positive weight when l1_weight is 0"):
        Pix2Pix(g, d, l1_weight=0, adversarial_weight=0)
    with pytest.raises(ValueError, match=r"loss: "):
        Pix2Pix(g, d, loss="nope")
    with pytest.raises(ValueError, match=r"discriminator: expected an input of 6 channels \(the pair \(a, b\) "
                                         r"stacked: the generator's 3 input \+ 3 output channels\); got a "
                                         r"discriminator taking \(None, None, 3\)"):
        Pix2Pix(g, _patchgan(3))
    with pytest.raises(ValueError, match=r"discriminator: expected an input of 4 channels"):
        Pix2Pix(_unet(1, 3), d)
    with pytest.raises(ValueError, match=r"generator: expected one image input"):
        Pix2Pix(nets.dcgan_generator(8, (16, 16, 3)), d)
    x = keras.Input((16, 16, 3))
    with pytest.raises(ValueError, match=r"generator: expected a fully convolutional network with a dynamic height "
                                         r"and width .*; got input shape \(16, 16, 3\)"):
        Pix2Pix(keras.Model(x, keras.layers.Conv2D(3, 3, padding="same")(x)), d)
    with pytest.raises(ValueError, match=r"discriminator: expected a keras.Model; got str"):
        Pix2Pix(g, "d")
    with pytest.raises(TypeError, match=r"call game.translate"):
        Pix2Pix(g, d).generate(4)


def test_fit_and_translate_errors():
    a, b = _inverted_pairs(8)
    game = _compile(_game())
    with pytest.raises(ValueError, match=r"x: expected a dataset of \(a, b\) image pairs"):
        game.fit(tf.data.Dataset.from_tensor_slices(a).batch(4), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a tf.data.Dataset of \(a, b\) pairs, or arrays x=a and y=b"):
        game.fit(a, verbose=0)
    with pytest.raises(ValueError, match=r"y \(b\): expected images of shape .*\(None, None, 3\)"):
        game.fit(x=a, y=b[..., :1], verbose=0)
    with pytest.raises(ValueError, match=r"x \(a\): expected images of shape .*\(None, None, 3\)"):
        game.fit(x=np.concatenate([a, a], -1), y=b, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a and b batches of the same number and size of images"):
        game.fit(x=a, y=_inverted_pairs(8, size=24)[1], verbose=0)
    with pytest.raises(ValueError, match=r"x: expected images whose height and width are multiples of 8, at least 8 "
                                         r".*; got 12x12"):
        game.fit(x=a[:, :12, :12], y=b[:, :12, :12], verbose=0)
    bad = a.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x \(a\): expected finite values; got 1 NaN"):
        game.fit(x=bad, y=b, verbose=0)
    with pytest.raises(ValueError, match=r"y \(b\): expected images scaled to \[-1, 1\]"):
        game.fit(x=a, y=b * 255, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a dataset with at least one batch; got an empty dataset"):
        game.fit(_dataset(a, b).take(0), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a compiled game"):
        _game().fit(_dataset(a, b), verbose=0)
    assert int(game.g_optimizer.iterations) == 0

    with pytest.raises(ValueError, match=r"a: expected images of shape .*\(None, None, 3\)"):
        game.translate(a[..., :1])
    with pytest.raises(ValueError, match=r"a: expected a rank-4 array .*add a batch axis"):
        game.translate(a[0])
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        game.translate(a, batch_size=0)
    with pytest.raises(ValueError, match=r"stochastic: expected True or False; got 'yes'"):
        game.translate(a, stochastic="yes")
