"""StyleGAN: its layers (AdaIN, noise, constant, pixel norm), the style-based nets, in-graph style mixing, the
mixing grid, w-space truncation, training, .keras round trip, ONNX/SavedModel export, XLA, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from ganapps import data, export, latent, nets
from ganapps.games.stylegan import StyleGAN, mix_styles, mixing_figure
from ganapps.layers import AdaIN, ConstantInput, NoiseInjection, PixelNorm, ScaledDense, SelectStyle

LATENT = 8


def tiny_game(image_shape=(8, 8, 1), seed=0, **kwargs) -> StyleGAN:
    keras.utils.set_random_seed(seed)
    generator = nets.style_generator(LATENT, image_shape, w_dim=8, depth=2, width=4, max_width=8, seed=seed)
    return StyleGAN(generator, nets.dcgan_discriminator(image_shape, width=4), seed=seed, **kwargs)


def _np(x):
    return ops.convert_to_numpy(x)


def _broadcast(w, num_layers):
    return np.repeat(np.asarray(w)[:, None], num_layers, axis=1)


def _noise_layers(generator):
    return [layer for layer in nets.style_parts(generator)[1].layers if isinstance(layer, NoiseInjection)]


def _pattern_images(n=64, seed=0):
    """Bright squares on a dark background at random places: tiny data with an obvious mean image."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, 8, 8, 1), "float32")
    for image, (r, c) in zip(x, rng.integers(0, 5, (n, 2))):
        image[r:r + 4, c:c + 4] = 1.0
    return x


# -- layers ---------------------------------------------------------------------------------------------------
def test_adain_output_statistics_are_the_styles_scale_and_bias():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (4, 8, 8, 3)).astype("float32")
    style = rng.standard_normal((4, 5)).astype("float32")
    adain = AdaIN()
    out = _np(adain(x, style))
    scale, bias = (_np(v) for v in adain.style_params(style))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), bias, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2)), np.abs(scale), rtol=1e-3)
    # The scale starts at 1: a zero style gives a plain instance normalisation.
    zero = _np(adain(x, np.zeros_like(style)))
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(zero, expected, atol=1e-4)
    np.testing.assert_array_equal(_np(adain.scale_bias), np.ones(3))


def test_noise_is_fixed_at_inference_and_fresh_in_training():
    x = np.zeros((2, 8, 8, 3), "float32")
    layer = NoiseInjection(seed=1)
    np.testing.assert_array_equal(_np(layer(x, training=True)), x)  # the weight starts at 0
    layer.noise_weight.assign([0.0, 1.0, 2.0])
    a, b = _np(layer(x, training=False)), _np(layer(x, training=False))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[..., 1], np.broadcast_to(_np(layer.noise_buffer)[..., 0], (2, 8, 8)))
    np.testing.assert_array_equal(a[..., 0], 0.0)
    np.testing.assert_allclose(a[..., 2], 2 * a[..., 1])
    t1, t2 = _np(layer(x, training=True)), _np(layer(x, training=True))
    assert not np.allclose(t1, t2) and not np.allclose(t1, a)
    assert not np.allclose(t1[0], t1[1])  # per-sample noise in training
    big = _np(layer(np.zeros((64, 8, 8, 3), "float32"), training=True))[..., 1]
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05


def test_pixel_norm_constant_input_and_select_style():
    z = np.random.default_rng(0).normal(0, 5, (4, 6)).astype("float32")
    np.testing.assert_allclose(np.sqrt(np.mean(_np(PixelNorm()(z)) ** 2, axis=-1)), 1.0, rtol=1e-5)
    const = ConstantInput(3, (4, 2))
    out = _np(const(np.zeros((5, 7), "float32")))
    assert out.shape == (5, 4, 2, 3)
    np.testing.assert_array_equal(out, np.broadcast_to(_np(const.constant), out.shape))
    ws = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_array_equal(_np(SelectStyle(2)(ws)), ws[:, 2])


def test_scaled_dense_is_he_initialised_at_run_time_and_its_steps_are_scaled():
    x = np.random.default_rng(0).standard_normal((4096, 64)).astype("float32")
    layer = ScaledDense(32, lr_multiplier=0.01)
    y = _np(layer(x))
    # Stored N(0, 1/0.01^2), used times 0.01 * sqrt(2 / 64): a He-initialised Dense (output variance 2).
    assert abs(_np(layer.kernel).std() - 100) < 5
    assert abs(y.var() - 2.0) < 0.3
    np.testing.assert_allclose(y, x @ (_np(layer.kernel) * 0.01 * np.sqrt(2 / 64)), rtol=1e-4, atol=1e-4)
    before = _np(layer.kernel).copy()
    optimizer = keras.optimizers.Adam(1e-3)
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(layer(x[:64]) - 1.0))
    optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights))
    # Adam moves the stored kernel by ~lr, so the kernel in use moves by ~lr * 0.01 * sqrt(2/64).
    step = np.abs(_np(layer.kernel) - before).max() * layer.runtime_scale
    assert 0.5e-3 * 0.01 * np.sqrt(2 / 64) < step < 1.5e-3 * 0.01 * np.sqrt(2 / 64)


# -- nets -----------------------------------------------------------------------------------------------------
def test_mapping_keeps_z_in_w_and_learns_100x_slower_than_synthesis():
    """Regression: with plain (Glorot) Dense layers at the full learning rate, the 4-layer mapping of
    ``ganapps train stylegan`` shrank z's spread ~6x (w std 0.16) and the generator collapsed to one digit
    (FID 1152 after 10 epochs). The mapping now passes z's spread on and its effective step is 1/100."""
    keras.utils.set_random_seed(0)
    generator = nets.style_generator(64, (16, 16, 1), depth=4, width=8, seed=0)
    mapping, synthesis = nets.style_parts(generator)
    z = np.random.default_rng(0).standard_normal((512, 64)).astype("float32")
    assert _np(mapping(z)).std(axis=0).mean() > 0.4
    runtime = [layer for layer in mapping.layers if isinstance(layer, ScaledDense)]
    assert len(runtime) == 4
    weights = [runtime[0].kernel, synthesis.get_layer("conv_1").kernel]
    before = [_np(w).copy() for w in weights]
    optimizer = keras.optimizers.Adam(1e-3)
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(generator(z[:32], training=True) - 0.5))
    grads = tape.gradient(loss, generator.trainable_weights)
    optimizer.apply_gradients(zip(grads, generator.trainable_weights))
    mapping_step = np.abs(_np(weights[0]) - before[0]).max() * runtime[0].runtime_scale
    synthesis_step = np.abs(_np(weights[1]) - before[1]).max()
    assert 0 < mapping_step < synthesis_step / 50, (mapping_step, synthesis_step)


@pytest.mark.parametrize("shape, num_layers", [((8, 8, 1), 4), ((16, 16, 3), 6), ((8, 16, 1), 4)])
def test_style_generator_shapes(shape, num_layers):
    generator = nets.style_generator(LATENT, shape, w_dim=6, depth=2, width=4, max_width=8, seed=0)
    mapping, synthesis = nets.style_parts(generator)
    assert nets.num_style_layers(shape) == num_layers
    assert mapping.output_shape == (None, 6) and synthesis.input_shape == (None, num_layers, 6)
    images = _np(generator(np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")))
    assert images.shape == (3, *shape) and images.dtype == np.float32 and np.abs(images).max() <= 1
    upsampling = [layer for layer in synthesis.layers if isinstance(layer, keras.layers.UpSampling2D)]
    assert upsampling and all(layer.interpolation == "nearest" for layer in upsampling)


def test_generator_inference_is_a_deterministic_function_of_z():
    game = tiny_game()
    np.testing.assert_array_equal(game.generate(4, seed=3), game.generate(4, seed=3))
    assert not np.allclose(game.generate(4, seed=3), game.generate(4, seed=4))


# -- style mixing ---------------------------------------------------------------------------------------------
def test_style_mixing_in_graph_mixes_two_sources_at_a_crossover():
    game = tiny_game(style_mixing=1.0)
    layers_ = game.num_style_layers
    ws, w1, w2, crossover = (_np(v) for v in game._draw_styles(16))
    assert ws.shape == (16, layers_, game.w_dim)
    assert crossover.min() >= 1 and crossover.max() <= layers_ - 1 and len(set(crossover.tolist())) > 1
    for i, k in enumerate(crossover):
        np.testing.assert_array_equal(ws[i, :k], _broadcast(w1[i:i + 1], k)[0])
        np.testing.assert_array_equal(ws[i, k:], _broadcast(w2[i:i + 1], layers_ - k)[0])
    mixed = game.synthesize(ws)
    for source in (w1, w2):
        images = game.synthesize(_broadcast(source, layers_))
        assert np.all(np.abs(mixed - images).reshape(16, -1).max(axis=1) > 1e-6)
    # Crossover at 0: all styles from the second source; at num_layers: all from the first, exactly.
    np.testing.assert_array_equal(_np(mix_styles(w1, w2, 0, layers_)), _broadcast(w2, layers_))
    np.testing.assert_array_equal(_np(mix_styles(w1, w2, layers_, layers_)), _broadcast(w1, layers_))


@pytest.mark.parametrize("probability", [0.0, 0.5])
def test_style_mixing_probability(probability):
    game = tiny_game(style_mixing=probability)
    ws, w1, _, crossover = (_np(v) for v in game._draw_styles(2000))
    mixed = crossover < game.num_style_layers
    assert abs(mixed.mean() - probability) < 0.05
    np.testing.assert_array_equal(ws[~mixed], _broadcast(w1[~mixed], game.num_style_layers))


def test_mixing_grid_rows_give_coarse_styles_and_columns_fine_ones(tmp_path):
    game = tiny_game((16, 16, 1))
    k = 2
    rows, cols, mixed = game.mixing_grid(rows_seed=1, cols_seed=2, n_rows=2, n_cols=3, crossover=k)
    assert rows.shape == (2, 16, 16, 1) and cols.shape == (3, 16, 16, 1) and mixed.shape == (2, 3, 16, 16, 1)
    np.testing.assert_allclose(rows, game.generate(2, seed=1), atol=1e-6)
    np.testing.assert_allclose(cols, game.generate(3, seed=2), atol=1e-6)
    mapping, synthesis = nets.style_parts(game.generator)
    w_rows = _np(mapping(latent.sample_normal(2, LATENT, seed=1)))
    w_cols = _np(mapping(latent.sample_normal(3, LATENT, seed=2)))
    for i in range(2):
        for j in range(3):
            ws = np.concatenate([_broadcast(w_rows[i:i + 1], k), _broadcast(w_cols[j:j + 1], 6 - k)], axis=1)
            np.testing.assert_allclose(mixed[i, j], _np(synthesis(ws))[0], atol=1e-5)
    assert not np.allclose(mixed[0, 0], mixed[0, 1]) and not np.allclose(mixed[0, 0], mixed[1, 0])
    # The figure: column sources along the top, row sources down the left, a blank corner.
    picture = mixing_figure(rows, cols, mixed)
    assert picture.shape == (3 * 17 + 1, 4 * 17 + 1, 1) and picture.dtype == np.uint8

    def tile(r, c):
        return picture[1 + 17 * r:17 * (r + 1), 1 + 17 * c:17 * (c + 1)]

    from ganapps.images import to_uint8

    np.testing.assert_array_equal(tile(0, 0), 255)
    np.testing.assert_array_equal(tile(0, 2), to_uint8(cols[1]))
    np.testing.assert_array_equal(tile(2, 0), to_uint8(rows[1]))
    np.testing.assert_array_equal(tile(2, 3), to_uint8(mixed[1, 2]))
    path = game.save_mixing_grid(tmp_path / "mix.png", 1, 2, 2, 3, crossover=k)
    assert path.is_file() and path.stat().st_size > 0


def test_generate_mix_styles_at_and_psi_truncation():
    game = tiny_game()
    layers_ = game.num_style_layers
    both = game.generate(8, seed=5)  # latents 0..3 are the coarse sources, 4..7 the fine ones
    np.testing.assert_allclose(game.generate(4, seed=5, mix_styles_at=layers_), both[:4], atol=1e-5)
    np.testing.assert_allclose(game.generate(4, seed=5, mix_styles_at=0), both[4:], atol=1e-5)
    middle = game.generate(4, seed=5, mix_styles_at=2)
    assert not np.allclose(middle, both[:4]) and not np.allclose(middle, both[4:])
    game.w_avg.assign(np.linspace(-1, 1, game.w_dim).astype("float32"))
    np.testing.assert_allclose(game.generate(4, seed=5, psi=1.0), both[:4], atol=1e-5)
    at_average = game.generate(4, seed=5, psi=0.0)
    average_image = game.synthesize(_broadcast(_np(game.w_avg)[None], layers_))
    np.testing.assert_allclose(at_average, np.repeat(average_image, 4, axis=0), atol=1e-5)
    spread = [game.generate(64, seed=1, psi=psi).std(axis=0).mean() for psi in (0.2, 1.0)]
    assert spread[0] < spread[1]  # truncation trades variety for fidelity


# -- training -------------------------------------------------------------------------------------------------
def test_stylegan_learns_the_mean_image_of_digits():
    ds = data.load("digits", image_size=8, batch_size=32, seed=0).take(20)
    real = np.concatenate([x.numpy() for x in ds])
    keras.utils.set_random_seed(0)
    generator = nets.style_generator(16, (8, 8, 1), w_dim=16, depth=2, width=8, max_width=16, seed=0)
    game = StyleGAN(generator, nets.dcgan_discriminator((8, 8, 1), width=8), loss="hinge", ema=0.9, seed=0)
    game.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                 d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5), jit_compile=False)

    def distance():
        return np.abs(game.generate(len(real), seed=1).mean(axis=0) - real.mean(axis=0)).mean()

    before = distance()
    history = game.fit(ds, epochs=4, verbose=0).history
    after = distance()
    assert after < 0.85 * before, (before, after)
    assert all(np.isfinite(v).all() for v in history.values())
    assert np.abs(_np(game.w_avg)).max() > 0  # the average w is being tracked


def test_same_seed_same_run():
    def run():
        game = tiny_game(seed=3, ema=0.9)
        game.compile(run_eagerly=True)  # no tracing: the two runs take a second
        game.fit(_pattern_images(32), batch_size=16, epochs=1, verbose=0, shuffle=False)
        return game.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_keras_round_trip_keeps_weights_optimizers_average_w_and_samples(tmp_path):
    keras.utils.set_random_seed(0)
    mapping = nets.style_mapping(LATENT, w_dim=8, depth=2)
    synthesis = nets.style_synthesis(8, (8, 8, 1), width=4, max_width=8, seed=0)
    game = StyleGAN(mapping=mapping, synthesis=synthesis, discriminator=nets.dcgan_discriminator((8, 8, 1), width=4),
                    loss="hinge", d_steps=2, r1=1.0, ema=0.9, style_mixing=0.5, w_avg_decay=0.9, seed=0)
    game.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.RMSprop(1e-3),
                 run_eagerly=True)
    history = game.fit(_pattern_images(32), batch_size=16, epochs=1, verbose=0).history
    assert history["r1"][0] > 0
    path = tmp_path / "stylegan.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, StyleGAN)
    assert (loaded.style_mixing, loaded.w_avg_decay, loaded.d_steps, loaded.r1_weight) == (0.5, 0.9, 2, 1.0)
    assert len(loaded.get_weights()) == len(game.get_weights())
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_np(loaded.w_avg), _np(game.w_avg))
    assert int(loaded.g_optimizer.iterations) == 2 and int(loaded.d_optimizer.iterations) == 4
    # The noise layers' training streams were saved: the reloaded ones continue where the trained ones stopped.
    noise = list(zip(_noise_layers(game.generator), _noise_layers(loaded.generator)))
    assert len(noise) == game.num_style_layers
    for a, b in noise:
        assert not np.array_equal(_np(a.seed_generator.state), _np(NoiseInjection(seed=a.seed).seed_generator.state))
        np.testing.assert_array_equal(_np(b.seed_generator.state), _np(a.seed_generator.state))
        np.testing.assert_array_equal(_np(keras.random.normal((2, 3), seed=b.seed_generator)),
                                      _np(keras.random.normal((2, 3), seed=a.seed_generator)))
    for kwargs in ({}, {"psi": 0.5}, {"mix_styles_at": 2}):
        np.testing.assert_array_equal(game.generate(4, seed=1, **kwargs), loaded.generate(4, seed=1, **kwargs))
    loaded.compile(g_optimizer=loaded.g_optimizer, d_optimizer=loaded.d_optimizer, run_eagerly=True)
    loaded.fit(_pattern_images(32), batch_size=16, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations) == 4


def test_w_avg_moves_once_per_step_through_the_ema_mapping_and_psi_0_samples_it():
    """With d_steps=2, w_avg takes one EMA step per train step, on w from the EMA mapping network (the one
    sampling truncates). The mappings here ignore z (their last layer's kernel is zero), so each step's w is
    known exactly: the training mapping gives 1 .. 2, the EMA one starts at 3 .. 4 and halves its distance to
    the training one per step (ema=0.5; the generator does not learn, with a learning rate of 0)."""
    game = tiny_game(ema=0.5, d_steps=2, w_avg_decay=0.6)
    mappings = [nets.style_parts(net)[0] for net in (game.generator, game.ema_generator)]
    for mapping, start in zip(mappings, (1.0, 3.0)):
        last = [layer for layer in mapping.layers if isinstance(layer, ScaledDense)][-1]
        last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
        last.bias.assign(np.linspace(start, start + 1, game.w_dim).astype("float32") / last.lr_multiplier)
    game.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    z = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
    ws = []  # the EMA mapping's w after each step: what that step's w_avg update saw

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ws.append(_np(mappings[1](z))[0])

    game.fit(_pattern_images(48), batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[Record()])
    assert len(ws) == 3 and int(game.d_optimizer.iterations) == 6
    np.testing.assert_array_equal(_np(mappings[0](z)), np.repeat(np.linspace(1, 2, game.w_dim, dtype="float32")[None],
                                                                  4, 0))
    assert np.abs(ws[0] - ws[-1]).min() > 0.5  # the EMA mapping moved between the updates

    def average(sources, per_step=1):
        w_avg = np.zeros(game.w_dim)
        for w in sources:
            for _ in range(per_step):
                w_avg = 0.6 * w_avg + 0.4 * w
        return w_avg

    np.testing.assert_allclose(_np(game.w_avg), average(ws), rtol=1e-5)
    assert np.abs(_np(game.w_avg) - average(ws, per_step=3)).max() > 0.1  # one update per fake batch: wrong
    assert np.abs(_np(game.w_avg) - average([_np(mappings[0](z))[0]] * 3)).max() > 0.1  # the training mapping
    # psi = 0: every sample is the image of w_avg through the sampled (EMA) synthesis network.
    synthesis = nets.style_parts(game.ema_generator)[1]
    synthesis.get_layer("to_image").bias.assign([0.3])  # now it differs from the training synthesis network
    want = _np(synthesis(_broadcast(_np(game.w_avg)[None], game.num_style_layers)))
    np.testing.assert_allclose(game.generate(3, seed=5, psi=0.0), np.repeat(want, 3, axis=0), atol=1e-5)
    assert np.abs(want - _np(game.synthesis(_broadcast(_np(game.w_avg)[None], game.num_style_layers)))).max() > 0.1


def test_export_matches_keras_in_onnx_and_saved_model(tmp_path):
    game = tiny_game(ema=0.9)
    for layer in nets.style_parts(game.ema_generator)[1].layers:  # give the noise a visible part in the images
        if isinstance(layer, NoiseInjection):
            layer.noise_weight.assign(np.full(layer.noise_weight.shape, 0.5, "float32"))
    assert not np.allclose(_np(game.ema_generator(np.ones((1, LATENT)))), _np(game.generator(np.ones((1, LATENT)))))
    metadata = export.export_generator(game, tmp_path / "export")
    assert metadata["latent_dim"] == LATENT
    assert all(err <= 1e-4 for err in metadata["parity_max_abs_error"].values())
    runner = export.load(tmp_path / "export")
    np.testing.assert_allclose(runner.sample(4, seed=0), game.generate(4, seed=0), atol=1e-4)


def test_xla_fit_epoch():
    game = tiny_game()
    game.compile(jit_compile=True)
    assert game.jit_compile is True
    history = game.fit(_pattern_images(32), batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    assert int(game.g_optimizer.iterations) == 2 and np.abs(_np(game.w_avg)).max() > 0


# -- bad input ------------------------------------------------------------------------------------------------
def test_errors_name_the_argument():
    d = nets.dcgan_discriminator((8, 8, 1), width=4)
    with pytest.raises(ValueError, match=r"generator: expected a style-based generator .*'generator' with 0"):
        StyleGAN(nets.dcgan_generator(8, (8, 8, 1), width=4), d)
    with pytest.raises(ValueError, match=r"generator: expected a style-based generator, or both mapping"):
        StyleGAN(discriminator=d, mapping=nets.style_mapping(8, depth=1))
    game = tiny_game()
    with pytest.raises(ValueError, match=r"style_mixing: expected a probability in \[0, 1\]; got 1.5"):
        StyleGAN(game.generator, d, style_mixing=1.5)
    with pytest.raises(ValueError, match=r"w_avg_decay: expected a decay in \[0, 1\).*got 1.0"):
        StyleGAN(game.generator, d, w_avg_decay=1.0)
    with pytest.raises(ValueError, match=r"mix_styles_at: expected None or a layer index in 0 .. 4.*got 5"):
        game.generate(2, mix_styles_at=5)
    with pytest.raises(ValueError, match=r"psi: expected None or a finite number.*got nan"):
        game.generate(2, psi=float("nan"))
    with pytest.raises(ValueError, match=r"ws: expected styles of shape \(n, 4, 8\); got shape \(2, 3, 8\)"):
        game.synthesize(np.zeros((2, 3, 8), "float32"))
    with pytest.raises(ValueError, match=r"image_shape: expected height and width to be powers of two"):
        nets.style_generator(8, (12, 12, 1))
    with pytest.raises(ValueError, match=r"synthesis: expected styles of size 8 .*got a synthesis network taking "
                                         r"styles of size 4"):
        nets.compose_style_generator(nets.style_mapping(8, depth=1), nets.style_synthesis(4, (8, 8, 1), width=4))
    with pytest.raises(ValueError, match=r"inputs: expected feature maps .* known H, W and C; got shape"):
        NoiseInjection()(keras.Input((None, None, 3)))
    with pytest.raises(ValueError, match=r"epsilon: expected a positive number; got 0"):
        AdaIN(epsilon=0)
    with pytest.raises(ValueError, match=r"lr_multiplier: expected a positive number; got 0"):
        ScaledDense(4, lr_multiplier=0)
    with pytest.raises(ValueError, match=r"lr_multiplier: expected a positive number such as 0.01; got -1"):
        nets.style_mapping(8, lr_multiplier=-1)
