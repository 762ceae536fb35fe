"""CycleGAN: the history pool, the losses against their definitions, learning on unpaired toy domains, the
LinearDecay schedule, any-size translation, exports of both directions, the .keras round trip and bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps import callbacks, export, losses, nets
from ganapps.games.cyclegan import CycleGAN, ImagePool

SIZE = 16
RED, BLUE = np.array([1.0, 0.3, 0.3], "float32"), np.array([0.3, 0.3, 1.0], "float32")  # domain A's, B's blobs


def _blobs(n: int, seed: int, colour: np.ndarray, channels: int = 3) -> np.ndarray:
    """Smooth blobs (one to three Gaussians) of ``colour`` on a grey ground: the two domains share the kind of
    content and differ in colour; different seeds give different content, so no pairs exist."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images = np.zeros((n, SIZE, SIZE), "float32")
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0, SIZE, 2)
            sigma = rng.uniform(2, 5)
            images[i] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma * sigma))
    content = np.clip(images, 0, 1)[..., None]
    return (content * (colour if channels == 3 else 1.0) * 1.2 - 0.4).astype("float32")


HELD_A, HELD_B = _blobs(32, 3, RED), _blobs(32, 4, BLUE)  # real images of each domain, never trained on


def _redness(images: np.ndarray) -> np.ndarray:
    """The statistic that separates the domains: mean red minus mean blue, about +0.33 on A and -0.36 on B."""
    return (images[..., 0] - images[..., 2]).mean(axis=(1, 2))


def _judged_b(images: np.ndarray) -> float:
    """The share of ``images`` that a classifier of real A vs real B (a threshold on redness halfway between the
    domains' means on held-out real images) judges to be B."""
    threshold = (_redness(HELD_A).mean() + _redness(HELD_B).mean()) / 2
    return float(np.mean(_redness(images) < threshold))


def _game(a_channels: int = 3, b_channels: int = 3, filters: int = 8, seed: int = 0, **kwargs) -> CycleGAN:
    keras.utils.set_random_seed(seed)
    return CycleGAN(nets.resnet_generator(a_channels, b_channels, filters=filters, blocks=1),
                    nets.resnet_generator(b_channels, a_channels, filters=filters, blocks=1),
                    nets.patchgan_discriminator(a_channels, filters=filters, receptive_field=1, norm="instance"),
                    nets.patchgan_discriminator(b_channels, filters=filters, receptive_field=1, norm="instance"),
                    seed=seed, **kwargs)


# -- the history pool ---------------------------------------------------------------------------------------------
def _numbered(first: int, n: int) -> np.ndarray:
    """n 2x2x1 images, image k filled with the value k: the pool's traffic can be followed by value."""
    return np.broadcast_to(np.arange(first, first + n, dtype="float32")[:, None, None, None], (n, 2, 2, 1)).copy()


def _ids(images) -> list:
    return [int(v) for v in np.asarray(images)[:, 0, 0, 0]]


def _stored(pool: ImagePool) -> list:
    return _ids(pool.buffer.numpy())


def _run(net: keras.Model, x) -> np.ndarray:
    return keras.ops.convert_to_numpy(net(x, training=True)).astype("float64")


def test_pool_fills_then_swaps_half_of_the_time_with_uniform_slots():
    pool = ImagePool(pool_size=5, seed=1)
    query = tf.function(pool)
    assert _ids(query(_numbered(0, 3))) == [0, 1, 2]  # while filling, each fake is stored and returned
    assert _stored(pool)[:3] == [0, 1, 2] and int(pool.count.numpy()) == 3
    out = _ids(query(_numbered(3, 3)))
    assert out[:2] == [3, 4] and _stored(pool) == [0, 1, 2, 3, 4]  # the last two slots filled
    assert out[2] == 5 or out[2] in range(5)  # the pool was full for the third image
    swaps, slots = 0, np.zeros(5, int)
    for k in range(100, 1300):
        before = _stored(pool)
        (got,) = _ids(query(_numbered(k, 1)))
        after = _stored(pool)
        if got == k:
            assert after == before  # kept out of the pool
        else:
            slot = before.index(got)  # a stored image came back and the new one took its place
            assert after == before[:slot] + [k] + before[slot + 1:]
            swaps += 1
            slots[slot] += 1
    assert abs(swaps / 1200 - 0.5) < 0.06, swaps  # binomial sd 0.014
    assert slots.min() > 0.6 * swaps / 5 and slots.max() < 1.4 * swaps / 5, slots


@pytest.mark.parametrize("jit_compile", [False, True])
def test_pool_processes_a_batch_in_order_under_tf_function_and_xla(jit_compile):
    """Once full, every image that enters is one that leaves (the buffer and the returned batch together hold what
    the buffer and the incoming batch held); returned images come from the batch or from what was stored."""
    pool = ImagePool(pool_size=8, seed=2)
    query = tf.function(pool, jit_compile=jit_compile)
    np.testing.assert_array_equal(query(_numbered(0, 8)), _numbered(0, 8))
    swapped = 0
    for start in range(100, 500, 16):
        before = _stored(pool)
        out = _ids(query(_numbered(start, 16)))
        assert sorted(before + list(range(start, start + 16))) == sorted(_stored(pool) + out)
        assert all(v in before or start <= v < start + 16 for v in out)
        swapped += sum(v != start + i for i, v in enumerate(out))
    assert 0.35 < swapped / 400 < 0.65, swapped


def test_pool_is_seeded_and_size_zero_is_the_identity():
    def run(seed):
        pool = ImagePool(pool_size=4, seed=seed)
        return [_ids(pool(_numbered(k, 3))) for k in range(0, 30, 3)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    off = ImagePool(pool_size=0, seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (5, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(off(x), x)
    assert off.weights == []
    with pytest.raises(ValueError, match=r"pool_size: expected a non-negative integer; got -1"):
        ImagePool(pool_size=-1)
    with pytest.raises(ValueError, match=r"pool_image_shape: expected images of a static .*; got images of shape "
                                         r"\(None, None, 3\)"):
        ImagePool(pool_size=2).build((None, None, None, 3))


# -- the losses, against their definitions ------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["least_squares", "non_saturating"])
def test_one_step_reports_the_papers_losses(loss):
    """With frozen weights (learning rate 0) and no pool, one step's metrics are the paper's objectives computed
    here by hand: least squares without LSGAN's 1/2 factors, the critics' losses halved, the identity term weighted
    identity_weight * cycle_weight."""
    game = _game(filters=4, loss=loss, pool_size=0, cycle_weight=3.0, identity_weight=0.5)
    game.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.0), run_eagerly=True)
    a, b = _blobs(4, 0, RED), _blobs(4, 1, BLUE)
    logs = game.train_on_batch(a, b, return_dict=True)
    g_ab, g_ba, d_a, d_b = game.generator_ab, game.generator_ba, game.discriminator_a, game.discriminator_b
    fake_b, fake_a = _run(g_ab, a), _run(g_ba, b)
    cycle = np.abs(_run(g_ba, fake_b) - a).mean() + np.abs(_run(g_ab, fake_a) - b).mean()
    identity = np.abs(_run(g_ab, b) - b).mean() + np.abs(_run(g_ba, a) - a).mean()
    gen, crit = {  # the paper's generator objective, and its critic objective halved
        "least_squares": (lambda fake: np.mean((fake - 1) ** 2),
                          lambda real, fake: 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake ** 2))),
        "non_saturating": (lambda fake: np.mean(np.logaddexp(0, -fake)),  # softplus(-logit) = -log sigmoid
                           lambda real, fake: 0.5 * (np.mean(np.logaddexp(0, -real))
                                                     + np.mean(np.logaddexp(0, fake)))),
    }[loss]
    want = {"g_ab": gen(_run(d_b, fake_b)), "g_ba": gen(_run(d_a, fake_a)), "cycle": cycle, "identity": identity,
            "d_a": crit(_run(d_a, a), _run(d_a, fake_a)), "d_b": crit(_run(d_b, b), _run(d_b, fake_b))}
    want["g_loss"] = want["g_ab"] + want["g_ba"] + 3.0 * cycle + 1.5 * identity
    want["d_loss"] = want["d_a"] + want["d_b"]
    assert set(logs) == set(want)
    for key, value in want.items():
        assert logs[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # evaluate reports the cycle and identity terms (inference mode; instance normalisation has no moving state)
    evaluated = game.evaluate(a, b, batch_size=4, verbose=0, return_dict=True)
    assert evaluated == pytest.approx({"cycle": cycle, "identity": identity}, rel=1e-4)
    if loss == "least_squares":  # the registry's pair, scaled to the paper's
        registry = losses.get("least_squares")
        assert want["g_ab"] == pytest.approx(2 * float(registry.generator_loss(None, _run(d_b, fake_b))), rel=1e-5)


# -- learning on unpaired toy domains (one trained game shared by the tests below) ---------------------------------
STEPS = 24
SCHEDULE = dict(hold_steps=12, decay_steps=15, initial=3e-3)  # the rate ends at 3e-3 * 4 / 15


def _fit(game: CycleGAN, steps: int, callbacks_=()) -> dict:
    a, b = _blobs(128, 1, RED), _blobs(128, 2, BLUE)
    ds = tf.data.Dataset.from_tensor_slices((a, b)).shuffle(128, seed=0).batch(8, drop_remainder=True).repeat()
    return game.fit(ds, steps_per_epoch=steps // 4, epochs=4, verbose=0, callbacks=list(callbacks_)).history


@pytest.fixture(scope="module")
def trained():
    """A tiny CycleGAN with the paper's losses and weights, trained for 24 steps on red vs blue blobs under
    LinearDecay, with what it translated before training."""
    game = _game(pool_size=8)
    game.compile(jit_compile=False)
    before = {"a2b": game.translate(HELD_A), "cycle": _cycle_error(game, HELD_A)}
    decay = callbacks.LinearDecay(**SCHEDULE)
    rates = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: rates.append(
        (float(game.g_optimizer.learning_rate), float(game.d_optimizer.learning_rate))))
    history = _fit(game, STEPS, [decay, spy])
    return {"game": game, "history": history, "before": before, "rates": rates, "decay": decay}


def _cycle_error(game: CycleGAN, a: np.ndarray) -> float:
    return float(np.abs(game.translate(game.translate(a), "b2a") - a).mean())


def test_training_lowers_the_cycle_loss_and_translates_a_into_b(trained):
    game, history = trained["game"], trained["history"]
    assert set(history) == {"d_a", "d_b", "g_ab", "g_ba", "cycle", "identity", "g_loss", "d_loss"}
    assert history["cycle"][-1] < 0.7 * history["cycle"][0]
    assert history["d_loss"][-1] < history["d_loss"][0] and history["g_ab"][-1] < history["g_ab"][0]
    assert _cycle_error(game, HELD_A) < 0.6 * trained["before"]["cycle"]
    assert _judged_b(trained["before"]["a2b"]) < 0.5  # untrained: not yet B
    assert _judged_b(game.translate(HELD_A)) >= 0.9
    assert _judged_b(game.translate(HELD_B, direction="b2a")) <= 0.1  # judged A


def test_the_adversarial_terms_alone_move_translations_into_the_target_domain():
    """Cycle and identity weights 0: only the critics can teach G_AB what B looks like. (With them, colour domains
    are learnt even without critics: instance normalisation erases an input's colour, so reconstructing B through
    G_AB teaches G_AB to paint B's colour; this test shows the adversarial game itself works.)"""
    game = _game(pool_size=8, cycle_weight=0.0, identity_weight=0.0)
    game.compile(g_optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5),
                 d_optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5), jit_compile=False)
    assert _judged_b(game.translate(HELD_A)) < 0.5
    history = _fit(game, 24)
    assert history["g_ab"][-1] < 0.8 * history["g_ab"][0]
    assert _judged_b(game.translate(HELD_A)) >= 0.9


def test_linear_decay_sets_both_optimizers_every_batch(trained):
    decay = trained["decay"]
    want = [decay.rate(t) for t in range(STEPS)]
    assert [g for g, _ in trained["rates"]] == pytest.approx(want, rel=1e-6)
    assert [d for _, d in trained["rates"]] == pytest.approx(want, rel=1e-6)


def test_linear_decay_rates():
    decay = callbacks.LinearDecay(hold_steps=3, decay_steps=4, initial=0.2)
    assert [decay.rate(t) for t in range(9)] == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.15, 0.1, 0.05, 0.0, 0.0])
    assert callbacks.LinearDecay(0, 2, 1.0).rate(0) == 1.0
    for kwargs, match in [(dict(hold_steps=-1, decay_steps=2, initial=0.1), r"hold_steps: expected a non-negative"),
                          (dict(hold_steps=1, decay_steps=0, initial=0.1), r"decay_steps: expected a positive"),
                          (dict(hold_steps=1, decay_steps=2, initial=0), r"initial: expected a positive learning"),
                          (dict(hold_steps=1, decay_steps=2, initial=0.1, optimizers="g_optimizer"),
                           r"optimizers: expected a non-empty tuple .*; got 'g_optimizer'")]:
        with pytest.raises(ValueError, match=match):
            callbacks.LinearDecay(**kwargs)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", run_eagerly=True)
    x = np.zeros((4, 1), "float32")
    with pytest.raises(ValueError, match=r"optimizers: expected the name of the model's optimizer attribute; got "
                                         r"'g_optimizer', which is not an optimizer of Sequential"):
        model.fit(x, x, verbose=0, callbacks=[callbacks.LinearDecay(1, 2, 0.1)])
    history = model.fit(x[:3], x[:3], batch_size=1, epochs=1, verbose=0,  # rates 0.1, 0.1, 0.05
                        callbacks=[callbacks.LinearDecay(1, 2, 0.1, optimizers=("optimizer",))])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05) and len(history.history["loss"]) == 1


def test_translate_pads_any_size_and_both_directions_export(trained, tmp_path):
    game = trained["game"]
    x = _blobs(3, 5, RED)[:, :13, :10]
    out = game.translate(x, batch_size=2)
    assert out.shape == (3, 13, 10, 3) and out.dtype == np.float32 and np.abs(out).max() <= 1
    padded = np.pad(x, ((0, 0), (1, 2), (1, 1), (0, 0)), mode="reflect")  # 13x10 -> 16x12, multiples of 4
    np.testing.assert_allclose(out, np.clip(keras.ops.convert_to_numpy(game.generator(padded))[:, 1:14, 1:11], -1, 1),
                               atol=1e-6)
    assert game.translate(x, "b2a").shape == (3, 13, 10, 3)
    tiny = x[:, :3, :6]  # below the ResNet generator's 8 x 8 minimum: padded up to it, cropped back
    padded = np.pad(tiny, ((0, 0), (2, 3), (1, 1), (0, 0)), mode="reflect")
    np.testing.assert_allclose(game.translate(tiny), np.clip(keras.ops.convert_to_numpy(
        game.generator(padded))[:, 2:5, 1:7], -1, 1), atol=1e-6)
    assert game.generator_for("a2b") is game.inference_generator is game.generator_ab
    assert game.generator_for("b2a") is game.generator_ba
    assert game.export_metadata("b2a") == {"task": "image_translation", "direction": "b2a", "in_channels": 3,
                                           "out_channels": 3, "size_multiple": 4, "min_size": 8}
    metadata = export.export_generator(game.generator_for("b2a"), tmp_path / "b2a", formats=("onnx",),
                                       extra_metadata=game.export_metadata("b2a"))
    assert metadata["direction"] == "b2a" and metadata["dynamic_spatial"] is True
    runner = export.load(tmp_path / "b2a")
    y = _blobs(2, 6, BLUE)[:, :12, :8]
    np.testing.assert_allclose(runner(y), keras.ops.convert_to_numpy(game.generator_ba(y)), atol=1e-4)


def test_keras_round_trip_keeps_weights_optimizers_pools_and_continues_alike(trained, tmp_path):
    game = trained["game"]
    path = tmp_path / "cyclegan.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, CycleGAN)
    assert (loaded.cycle_weight, loaded.identity_weight, loaded.adversarial_loss.name) == (10.0, 0.5, "least_squares")
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.g_optimizer.iterations) == int(game.g_optimizer.iterations) == STEPS
    assert int(loaded.d_optimizer.iterations) == STEPS
    for a, b in zip(game.g_optimizer.variables + game.d_optimizer.variables,
                    loaded.g_optimizer.variables + loaded.d_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for name in ("pool_a", "pool_b"):
        original, reloaded = getattr(game, name), getattr(loaded, name)
        np.testing.assert_array_equal(original.buffer.numpy(), reloaded.buffer.numpy())
        assert int(reloaded.count.numpy()) == 8
        np.testing.assert_array_equal(original.seed_generator.state.numpy(), reloaded.seed_generator.state.numpy())
    held_a, held_b = HELD_A, HELD_B
    np.testing.assert_array_equal(game.translate(held_a[:4]), loaded.translate(held_a[:4]))
    np.testing.assert_array_equal(game.translate(held_b[:4], "b2a"), loaded.translate(held_b[:4], "b2a"))
    # One more (eager) step on each: the same pool draws, optimizer moments and weights give the same result.
    for model in (game, loaded):
        model.run_eagerly = True
        model.train_function = None
        model.train_on_batch(held_a[:8], held_b[:8])
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


# -- channels, arguments, data --------------------------------------------------------------------------------------
def test_identity_weight_zero_allows_domains_with_different_channels():
    with pytest.raises(ValueError, match=r"identity_weight: expected 0 for domains with different channels .*A has "
                                         r"1 and B 3; got 0.5"):
        _game(a_channels=1, b_channels=3, filters=4)
    game = _game(a_channels=1, b_channels=3, filters=4, identity_weight=0.0, pool_size=2)
    game.compile(run_eagerly=True)
    gray, colour = _blobs(4, 0, RED, channels=1), _blobs(4, 1, BLUE)
    history = game.fit(gray, colour, batch_size=4, epochs=1, verbose=0).history  # one (eager) step
    assert "identity" not in history and np.isfinite(history["g_loss"]).all() and np.isfinite(history["d_loss"]).all()
    assert game.pool_a.buffer.shape == (2, SIZE, SIZE, 1) and game.pool_b.buffer.shape == (2, SIZE, SIZE, 3)
    assert game.translate(gray).shape == (4, SIZE, SIZE, 3) and game.translate(colour, "b2a").shape[-1] == 1
    assert game.export_metadata() == {"task": "image_translation", "direction": "a2b", "in_channels": 1,
                                      "out_channels": 3, "size_multiple": 4, "min_size": 8}


def test_pool_image_shape_builds_the_pools_at_construction():
    game = _game(filters=4, pool_size=3, pool_image_shape=(12, 8))
    assert game.pool_a.buffer.shape == (3, 12, 8, 3) and game.pool_b.built
    assert game.get_config()["pool_image_shape"] == [12, 8]
    with pytest.raises(ValueError, match=r"pool_image_shape: expected None or the \(height, width\) .*; got \(12,\)"):
        _game(filters=4, pool_image_shape=(12,))
    game.compile(run_eagerly=True)
    with pytest.raises(ValueError, match=r"y \(b\): expected images of 12x8, the size the history pool holds .*; "
                                         r"got 16x16"):
        game.fit(_blobs(2, 0, RED), _blobs(2, 1, BLUE), verbose=0)


def test_errors_name_the_argument():
    g3 = nets.resnet_generator(3, 3, filters=4, blocks=1)
    g31 = nets.resnet_generator(3, 1, filters=4, blocks=1)
    d1 = nets.patchgan_discriminator(1, filters=4, receptive_field=1)
    d3 = nets.patchgan_discriminator(3, filters=4, receptive_field=1)
    with pytest.raises(ValueError, match=r"generator_ba: expected a generator from B's 3 channels to A's 3 .*; got "
                                         r"one from 3 channels to 1"):
        CycleGAN(g3, g31, d3, d3)
    with pytest.raises(ValueError, match=r"discriminator_a: expected a critic of domain A's 3-channel images; got "
                                         r"one taking \(None, None, 1\)"):
        CycleGAN(g3, g3, d1, d3)
    with pytest.raises(ValueError, match=r"discriminator_b: expected a keras.Model; got str"):
        CycleGAN(g3, g3, d3, "patchgan")
    for key, value in (("d_steps", 2), ("latent_dim", 8), ("ema", 0.99)):
        with pytest.raises(ValueError, match=rf"{key}: expected no {key} argument"):
            CycleGAN(g3, g3, d3, d3, **{key: value})
    with pytest.raises(ValueError, match=r"cycle_weight: expected a non-negative number; got -1"):
        CycleGAN(g3, g3, d3, d3, cycle_weight=-1)
    with pytest.raises(ValueError, match=r"loss: expected one of .*'hinje'"):
        CycleGAN(g3, g3, d3, d3, loss="hinje")
    game = CycleGAN(g3, g3, d3, d3, pool_size=2)
    with pytest.raises(ValueError, match=r"direction: expected one of \('a2b', 'b2a'\); got 'ab'"):
        game.translate(np.zeros((1, 8, 8, 3), "float32"), direction="ab")
    with pytest.raises(ValueError, match=r"x: expected images of shape .*\(None, None, 3\)"):
        game.translate(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(TypeError, match=r"translate"):
        game.generate(4)
    with pytest.raises(ValueError, match=r"optimizer: expected None"):
        game.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"x: expected a compiled game"):
        game.fit(np.zeros((2, 8, 8, 3), "float32"), np.zeros((2, 8, 8, 3), "float32"), verbose=0)
    game.compile(run_eagerly=True)
    zeros = np.zeros((2, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match=r"x: expected a tf.data.Dataset of unpaired \(a, b\) batches"):
        game.fit(zeros, verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a dataset of unpaired \(a, b\) image batches"):
        game.fit(tf.data.Dataset.from_tensor_slices(zeros).batch(2), verbose=0)
    with pytest.raises(ValueError, match=r"x \(a\): expected images whose height and width are multiples of 4, at "
                                         r"least 8 .*; got 10x10"):
        game.fit(np.zeros((2, 10, 10, 3), "float32"), np.zeros((2, 8, 8, 3), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"y \(b\): expected images whose height and width are multiples of 4, at "
                                         r"least 8 .*; got 4x4"):
        game.fit(zeros, np.zeros((2, 4, 4, 3), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"y \(b\): expected images scaled to \[-1, 1\]"):
        game.fit(zeros, zeros + 2, verbose=0)
    assert not game.pool_a.built  # nothing was built from refused data
