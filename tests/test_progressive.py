"""Progressive growing: exact fade-in blends, a pooled-input discriminator, the schedule, growth through every
stage with the new blocks trained, .keras round trip and BackupAndRestore mid-stage, export, XLA."""

import keras
import numpy as np
import pytest

from ganapps import data, export, nets
from ganapps.games.gan import GAN
from ganapps.games.progressive import ProgressiveGAN, ProgressiveSchedule
from ganapps.nets.progressive import FadeIn, ProgressiveGenerator

LATENT = 8


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _game(size=16, seed=0, **kwargs) -> ProgressiveGAN:
    keras.utils.set_random_seed(seed)
    g = nets.progressive_generator(LATENT, (size, size, 1), width=4, max_width=8)
    d = nets.progressive_discriminator((size, size, 1), width=4, max_width=8)
    return ProgressiveGAN(g, d, seed=seed, **kwargs)


def _compile(gan, **kwargs) -> None:
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99),  # the paper's betas
                d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99), **kwargs)


def _at(net, stage: int, alpha: float):
    """Put ``net`` at ``stage`` with fade-in weight ``alpha``; return it."""
    net.stage = stage
    net.alpha.assign(alpha)
    return net


def _weights(net) -> dict:
    return {v.path: _np(v).copy() for v in net.weights}


class _Recorder(keras.callbacks.Callback):
    """Per batch: the logged stage/alpha/resolution/d_loss and both networks' weights after the step."""

    def __init__(self):
        super().__init__()
        self.logs, self.g, self.d = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(logs[k]) for k in ("stage", "alpha", "resolution", "d_loss")})
        self.g.append(_weights(self.model.generator))
        self.d.append(_weights(self.model.discriminator))


# -- the networks --------------------------------------------------------------------------------------------
def test_generator_fade_in_blends_the_upsampled_previous_stage_exactly():
    keras.utils.set_random_seed(0)
    g = nets.progressive_generator(LATENT, (16, 16, 1), width=4, max_width=8)
    z = np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")
    base = _np(g(z))
    assert base.shape == (3, 16, 16, 1) and np.abs(base).max() <= 1.0
    # stage 0 is a 4x4 image upsampled by nearest neighbour: constant on 4x4 blocks
    np.testing.assert_array_equal(base, np.repeat(np.repeat(base[:, ::4, ::4], 4, axis=1), 4, axis=2))
    for stage in (1, 2):
        previous = _np(_at(g, stage - 1, 1.0)(z))
        np.testing.assert_array_equal(_np(_at(g, stage, 0.0)(z)), previous)  # alpha = 0: the previous stage, upsampled
        g.alpha.assign(1.0)
        new = _np(g(z))
        np.testing.assert_array_equal(new, _np(g.functional(blend=False)(z)))  # alpha = 1: the new block only
        assert np.abs(new - previous).max() > 1e-3
        g.alpha.assign(0.25)
        np.testing.assert_allclose(_np(g(z)), 0.75 * previous + 0.25 * new, atol=1e-6)
        assert any(isinstance(layer, FadeIn) for layer in g.functional().layers)  # mid-fade views blend
    g.alpha.assign(1.0)
    assert not any(isinstance(layer, FadeIn) for layer in g.functional().layers)


def test_discriminator_sees_only_the_average_pooled_input():
    keras.utils.set_random_seed(0)
    d = nets.progressive_discriminator((16, 16, 1), width=4, max_width=8, stage=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (4, 16, 16, 1)).astype("float32")
    fine = np.tile(np.array([[1.0, -1.0], [-1.0, 1.0]], "float32"), (8, 8))[None, :, :, None]  # 0 on 2x2 means
    coarse = np.repeat(np.repeat(rng.choice([-1.0, 1.0], (1, 8, 8, 1)), 2, axis=1), 2, axis=2).astype("float32")
    d.alpha.assign(0.5)
    logits = _np(d(x))
    np.testing.assert_allclose(_np(d(x + 0.3 * fine)), logits, atol=1e-5)  # same 8x8 average pool
    assert np.abs(_np(d(x + 0.3 * coarse)) - logits).max() > 1e-3  # a different pool is seen
    _at(d, 2, 1.0)
    assert np.abs(_np(d(x + 0.3 * fine)) - _np(d(x))).max() > 1e-4  # at 16x16 the fine pattern is seen
    # alpha = 0 at stage s is the finished stage s - 1: the downsampled input through the old from_rgb
    for stage in (1, 2):
        faded_out = _np(_at(d, stage, 0.0)(x))
        np.testing.assert_allclose(faded_out, _np(_at(d, stage - 1, 1.0)(x)), atol=1e-5)


def test_fade_in_blends_the_real_images_the_discriminator_receives():
    """Karras et al. 2018, Fig. 2: during a fade-in the real images are interpolated between the two resolutions
    with the networks' alpha. At alpha = 0 the discriminator receives the previous resolution's version, at
    alpha = 1 the current one's (nearest-upsampled to full size, which its average pool gives back)."""
    gan = _game()
    _compile(gan)
    x = keras.ops.convert_to_tensor(np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32"))
    seen = []
    discriminate = gan._discriminate

    def recording(images, training=True):
        seen.append(_np(images))
        return discriminate(images, training=training)

    gan._discriminate = recording  # what the train step hands the discriminator: the reals and two fake batches

    def at(size):  # x averaged over size x size blocks, at full resolution
        pooled = _np(x).reshape(4, 16 // size, size, 16 // size, size, 1).mean(axis=(2, 4))
        return np.repeat(np.repeat(pooled, size, axis=1), size, axis=2)

    cases = [(0, 1.0, _np(x))]
    for stage in (1, 2):
        current, previous = at(2 ** (2 - stage)), at(2 ** (3 - stage))
        cases += [(stage, 0.0, previous), (stage, 1.0, current), (stage, 0.25, 0.75 * previous + 0.25 * current)]
    for stage, alpha, want in cases:
        gan.set_progress(stage, alpha)
        seen.clear()
        gan.train_step(x)  # eagerly: one step
        assert len(seen) == 3 and sum(np.allclose(s, want, atol=1e-6) for s in seen) == 1, (stage, alpha)
    assert np.abs(at(2) - at(4)).max() > 0.1 and np.abs(at(1) - at(2)).max() > 0.1  # the resolutions differ


def test_networks_round_trip_their_stage_and_reject_bad_arguments():
    g = nets.progressive_generator(LATENT, (8, 16, 3), width=4, stage=1)
    d = nets.progressive_discriminator((8, 16, 3), width=4)
    assert g.num_stages == 2 and g.resolution(0) == (4, 8) and g.output_shape == (None, 8, 16, 3)
    z = np.zeros((2, LATENT), "float32")
    for stage in (0, 1):
        assert _at(g, stage, 0.5)(z).shape == (2, 8, 16, 3) and _at(d, stage, 0.5)(g(z)).shape == (2, 1)
    clone = ProgressiveGenerator.from_config(g.get_config())
    assert clone.stage == 1 and len(clone.weights) == len(g.weights)
    with pytest.raises(ValueError, match=r"image_shape: expected height and width to be powers of two"):
        nets.progressive_generator(LATENT, (12, 12, 1))
    with pytest.raises(ValueError, match=r"stage: expected an int in \[0, 1\]; got 2"):
        nets.progressive_discriminator((8, 8, 1), stage=2)
    with pytest.raises(ValueError, match=r"pixel_norm: expected True or False; got 'yes'"):
        nets.progressive_generator(LATENT, (8, 8, 1), pixel_norm="yes")
    with pytest.raises(ValueError, match=r"width: expected a positive integer; got 0"):
        nets.progressive_discriminator((8, 8, 1), width=0)


# -- the schedule --------------------------------------------------------------------------------------------
def test_schedule_stabilises_then_fades_in_linearly_then_stays_at_full_resolution():
    gan = _game(stable_steps=3, fade_steps=2)
    got = [gan.progress_at(step) for step in range(16)]
    want = ([(0, 1.0)] * 3 + [(1, 0.0), (1, 0.5)] + [(1, 1.0)] * 3 + [(2, 0.0), (2, 0.5)] + [(2, 1.0)] * 6)
    assert got == want
    assert gan.total_steps == 13 and gan.progress_at(10 ** 6) == (2, 1.0)
    with pytest.raises(ValueError, match=r"step: expected a non-negative int.*; got -1"):
        gan.progress_at(-1)


def test_game_errors():
    gan = _game()
    with pytest.raises(ValueError, match=r"stage: expected an int in \[0, 2\]; got 3"):
        gan.set_progress(3)
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\]; got 1.5"):
        gan.set_progress(1, alpha=1.5)
    g, d = gan.generator, gan.discriminator
    with pytest.raises(ValueError, match=r"fade_steps: expected a positive integer; got 0"):
        ProgressiveGAN(g, d, fade_steps=0)
    with pytest.raises(ValueError, match=r"generator: expected a ProgressiveGenerator.*; got Functional"):
        ProgressiveGAN(nets.dcgan_generator(LATENT, (16, 16, 1), width=4), d)
    with pytest.raises(ValueError, match=r"discriminator: expected the generator's stage 0; got stage 1"):
        ProgressiveGAN(g, nets.progressive_discriminator((16, 16, 1), width=4, stage=1))
    with pytest.raises(ValueError, match=r"discriminator: expected an input shape matching.*\(8, 8, 1\)"):
        ProgressiveGAN(g, nets.progressive_discriminator((8, 8, 1), width=4))
    plain = GAN(nets.mlp_generator(2, 2, hidden=(4,)), nets.mlp_discriminator(2, hidden=(4,)))
    with pytest.raises(ValueError, match=r"model: expected a ProgressiveGAN; got GAN"):
        ProgressiveSchedule().set_model(plain)
    gan.set_progress(np.int64(1), np.float32(0.5))  # NumPy scalars are numbers too
    assert gan.stage == gan.discriminator.stage == 1 and float(_np(gan.discriminator.alpha)) == 0.5


# -- growing on digits ---------------------------------------------------------------------------------------
STABLE, FADE, SAVE_AT = 4, 4, 6  # 16x16: stage 0 for 4 steps, then 4 fade-in + 4 stable steps per stage


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A 16x16 game fitted for 32 steps through 4 -> 8 -> 16, saved as .keras mid-way (after step 6)."""
    images = np.concatenate([b.numpy() for b in data.load("digits", image_size=16, batch_size=256, seed=0)])
    x = images[:256]
    gan = _game(stable_steps=STABLE, fade_steps=FADE, ema=0.8)
    _compile(gan, jit_compile=False)
    path = tmp_path_factory.mktemp("progressive") / "mid.keras"
    saved = {}

    class SaveMidway(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.g_optimizer.iterations) == SAVE_AT:
                self.model.save(path)
                saved.update(stage=self.model.stage, alpha=float(_np(self.model.generator.alpha)),
                             samples=self.model.generate(4, seed=1),
                             seed_state=_np(self.model.seed_generator.state).copy())

    initial = {"g": _weights(gan.generator), "d": _weights(gan.discriminator),
               "distance": _distance_to_mean(gan, images)}
    recorder = _Recorder()
    gan.fit(x, batch_size=32, epochs=4, shuffle=False, verbose=0, callbacks=[recorder, SaveMidway()])
    return {"gan": gan, "x": x, "images": images, "initial": initial, "recorder": recorder, "path": path,
            "saved": saved}


def _distance_to_mean(gan, images) -> float:
    """RMS distance of generated samples to the data's mean image (far for an untrained generator)."""
    return float(np.sqrt(np.mean((gan.generate(128, seed=1) - images.mean(axis=0)) ** 2)))


def _new_weights(stage: int) -> tuple[list[str], list[str]]:
    """Paths of the weights that a stage adds to the generator and to the discriminator."""
    if stage == 0:
        return (["project", "conv_0/", "to_rgb_0"], ["from_rgb_0", "conv_0/", "dense", "logit"])
    return ([f"conv_{stage}a", f"conv_{stage}b", f"to_rgb_{stage}"],
            [f"from_rgb_{stage}", f"conv_{stage}a", f"conv_{stage}b"])


def test_fit_grows_through_every_stage_with_the_fade_in_schedule(grown):
    gan, logs = grown["gan"], grown["recorder"].logs
    assert len(logs) == 32
    want = [gan.progress_at(step) for step in range(32)]
    assert [(int(r["stage"]), r["alpha"]) for r in logs] == want
    assert [int(r["resolution"]) for r in logs] == [4 * 2 ** stage for stage, _ in want]
    assert {stage for stage, _ in want} == {0, 1, 2} and logs[-1]["alpha"] == 1.0
    assert [r["alpha"] for r in logs[12:17]] == [0.0, 0.25, 0.5, 0.75, 1.0]  # linear from 0 to 1 in the fade
    assert gan.stage == gan.discriminator.stage == gan.ema_generator.stage == 2
    assert float(_np(gan.ema_generator.alpha)) == 1.0  # set, not averaged
    assert np.isfinite([r["d_loss"] for r in logs]).all()


def test_each_stage_trains_only_its_blocks_and_every_new_block_learns(grown):
    """Each stage's new weights stay at their initial values until the stage starts (no gradient reaches
    inactive blocks) and change after it (the rebuilt train function traced and trained them)."""
    gan, rec, initial = grown["gan"], grown["recorder"], grown["initial"]
    first_step = {0: 0, 1: STABLE, 2: 2 * STABLE + FADE}
    for stage, start in first_step.items():
        g_new, d_new = _new_weights(stage)
        for key, before, history, names in (("g", initial["g"], rec.g, g_new), ("d", initial["d"], rec.d, d_new)):
            paths = [p for p in before if any(n in p for n in names)]
            assert paths, (key, names)
            for path in paths:
                if start > 0:
                    np.testing.assert_array_equal(history[start - 1][path], before[path], err_msg=path)
                assert np.abs(history[-1][path] - before[path]).max() > 1e-4, path
    assert gan.generate(4).shape == (4, 16, 16, 1)


def test_fit_learns_samples_move_towards_the_data(grown):
    """After growing, samples (of the EMA generator) are much closer to the digits' mean image than at the
    start: the generator learnt the data's dark background and bright strokes through all stages."""
    final = _distance_to_mean(grown["gan"], grown["images"])
    assert final < 0.7 * grown["initial"]["distance"], (final, grown["initial"]["distance"])


def test_keras_round_trip_mid_stage_keeps_stage_alpha_and_optimizers_and_resumes(grown):
    path, saved, rec, x = grown["path"], grown["saved"], grown["recorder"], grown["x"]
    assert (saved["stage"], saved["alpha"]) == (1, 0.25)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ProgressiveGAN) and (loaded.fade_steps, loaded.stable_steps) == (FADE, STABLE)
    assert loaded.stage == loaded.discriminator.stage == loaded.ema_generator.stage == 1
    assert float(_np(loaded.generator.alpha)) == float(_np(loaded.discriminator.alpha)) == 0.25
    assert int(loaded.g_optimizer.iterations) == int(loaded.d_optimizer.iterations) == SAVE_AT
    for net, history in ((loaded.generator, rec.g), (loaded.discriminator, rec.d)):
        for v in net.weights:
            np.testing.assert_array_equal(_np(v), history[SAVE_AT - 1][v.path], err_msg=v.path)
    np.testing.assert_array_equal(loaded.generate(4, seed=1), saved["samples"])
    # One more step on the batch the original took next: the schedule, the optimizers and the random stream
    # (saved with the game) continue.
    np.testing.assert_array_equal(_np(loaded.seed_generator.state), saved["seed_state"])
    loaded.run_eagerly = True  # one step: cheaper than tracing one
    batch = SAVE_AT % (len(x) // 32)
    resumed = _Recorder()
    loaded.fit(x[32 * batch:32 * (batch + 1)], batch_size=32, epochs=1, shuffle=False, verbose=0,
               callbacks=[resumed])
    assert (int(resumed.logs[0]["stage"]), resumed.logs[0]["alpha"]) == (1, 0.5)
    for key in ("g", "d"):
        for p, value in getattr(resumed, key)[0].items():
            np.testing.assert_allclose(value, getattr(rec, key)[SAVE_AT][p], rtol=1e-5, atol=1e-6, err_msg=p)


def test_export_at_full_resolution_is_an_ordinary_generator_and_passes_parity(grown, tmp_path):
    gan = grown["gan"]
    view = gan.inference_generator
    assert isinstance(view, keras.Model) and not isinstance(view, ProgressiveGenerator)
    assert not any(isinstance(layer, FadeIn) for layer in view.layers)
    metadata = export.export_generator(gan, tmp_path / "pggan")  # raises if a format misses parity
    assert metadata["latent_dim"] == LATENT and metadata["outputs"][0]["shape"] == [None, 16, 16, 1]
    assert max(metadata["parity_max_abs_error"].values()) <= 1e-4
    runner = export.load(tmp_path / "pggan")
    np.testing.assert_allclose(runner.sample(4, seed=3), gan.generate(4, seed=3), atol=1e-4)


# -- resuming and XLA ----------------------------------------------------------------------------------------
def test_backup_and_restore_resumes_mid_fade_in(tmp_path):
    """An interrupted run restarted in a fresh game (built at stage 0) continues at the stage and alpha of
    its step count."""
    x = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype("float32")

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    def run(*callbacks):
        gan = _game(size=8, stable_steps=1, fade_steps=4)
        _compile(gan, run_eagerly=True)
        backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
        gan.fit(x, batch_size=32, epochs=3, shuffle=False, verbose=0, callbacks=[backup, *callbacks])
        return gan

    first = _Recorder()
    with pytest.raises(RuntimeError, match="interrupted"):
        run(first, Interrupt())
    assert [(r["stage"], r["alpha"]) for r in first.logs] == [(0, 1.0), (1, 0.0), (1, 0.25), (1, 0.5)]
    second = _Recorder()
    gan = run(second)
    assert [(r["stage"], r["alpha"]) for r in second.logs] == [(1, 0.75), (1, 1.0)]
    assert int(gan.g_optimizer.iterations) == 6 and gan.stage == 1


def test_jit_compiled_fit_across_a_stage_change():
    gan = _game(size=8, stable_steps=2, fade_steps=2)
    _compile(gan, jit_compile=True)
    x = np.random.default_rng(0).uniform(-1, 1, (96, 8, 8, 1)).astype("float32")  # 6 steps of 16
    before = _weights(gan.generator)
    functions = []

    class Functions(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if self.model.train_function not in functions:
                functions.append(self.model.train_function)

    rec = _Recorder()
    gan.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[rec, Functions()])
    assert gan.jit_compile is True and len(functions) == 2  # rebuilt once, at the stage change
    assert [int(r["stage"]) for r in rec.logs] == [0, 0, 1, 1, 1, 1]
    assert np.isfinite([r["d_loss"] for r in rec.logs]).all()
    for path in before:
        if "conv_1a" in path or "to_rgb_1" in path:
            assert np.abs(rec.g[-1][path] - before[path]).max() > 1e-4, path
