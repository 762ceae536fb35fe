"""The super-resolution app: training learns, the adversarial phase and interpolation, tiled upscaling,
evaluation against bicubic, export parity with runtime.Upscaler, save/load, bad input, and the CLI."""

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from _helpers import BLOCK_HEAVY_IMPORTS, help_texts_without_heavy_imports, run_python
from PIL import Image

from apps.common import epoch_schedule
from apps.superres import SuperResolver
from apps.superres import app as superres_app
from ganapps import cli, data, images, metrics, nets, runtime, tiles
from ganapps.callbacks import CosineDecay
from ganapps.games.srgan import SRGAN

TINY = dict(scale=4, filters=8, blocks=1, patch_size=32, batch_size=8, discriminator_width=8, jit_compile=False)
CLI_TINY = ["--scale", "4", "--filters", "8", "--blocks", "1", "--patch-size", "32", "--batch-size", "8",
            "--d-width", "8", "--jit-compile", "false"]
# TINY's generator: head 9x9 conv 4 + the residual block's two 3x3 convs 2 + trunk conv 1 + tail conv 1 (ESPCN's
# single upsampling, at low resolution) low-resolution pixels.
TINY_RADIUS = 8


def _training_batch(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    low, high = next(iter(data.sr_pairs(data.random_crops("photos", 32, batch_size=16, num_crops=16, seed=seed), 4)))
    return low.numpy(), high.numpy()


def _psnr(sr: SuperResolver, low: np.ndarray, high: np.ndarray) -> float:
    return float(metrics.psnr(np.clip(sr.generator(low).numpy(), -1, 1), high).mean())


def _photo(name_index: int, size: tuple[int, int], split: str = "test") -> np.ndarray:
    """A uint8 crop of a bundled photo (tests keep images small)."""
    photo = data.load_photos(split, channels=3)[name_index]
    return np.ascontiguousarray(photo[40:40 + size[0], 60:60 + size[1]])


@pytest.fixture(scope="module")
def trained():
    """A tiny app that learns everything itself (no bicubic skip, so its start is far from the answer): 30 PSNR
    steps, then 3 adversarial steps."""
    sr = SuperResolver(input_skip=None, **TINY)
    low, high = _training_batch()
    before = _psnr(sr, low, high)
    sr.fit("photos", steps=30, verbose=0)
    after = _psnr(sr, low, high)
    psnr_weights = sr.game.generator.get_weights()
    psnr_rate = float(sr.game.g_optimizer.learning_rate)
    sr.fit("photos", steps=0, adversarial_steps=3, verbose=0)
    return SimpleNamespace(sr=sr, before=before, after=after, psnr_weights=psnr_weights, psnr_rate=psnr_rate,
                           low=low)


# -- training ------------------------------------------------------------------------------------------------
def test_fit_learns_on_the_training_pairs(trained):
    sr = trained.sr
    # +1.4 dB in 30 steps on the 13 training photos (+3.9 dB when the split held only the first 8, easier ones)
    assert trained.after > trained.before + 1.0, (trained.before, trained.after)
    assert sr.steps_trained == {"psnr": 30, "adversarial": 3}
    assert int(sr.game.g_optimizer.iterations) == 33 and int(sr.game.d_optimizer.iterations) == 3
    assert len(sr.history["psnr"]["psnr"]) == 1 and sr.history["psnr"]["pixel"][0] > 0
    assert np.isfinite(sr.history["adversarial"]["d_loss"]).all()


def test_schedule_covers_exactly_the_steps_with_progress_per_epoch():
    for steps in (1, 4, 200, 250, 2000, 1009, 4096):
        epochs, per_epoch = epoch_schedule(steps)
        assert epochs * per_epoch == steps
    assert epoch_schedule(2000) == (20, 100)


def test_cosine_lr_decay_ends_the_psnr_phase_near_one_percent(trained):
    """The default ``lr_decay="cosine"``: the rate at the fit's last batch, 30 steps into a 30-step decay."""
    sr = trained.sr
    assert sr.settings["lr_decay"] == "cosine" and sr.settings["upsampling"] == "single"
    rate = sr.settings["learning_rate"]
    assert trained.psnr_rate == pytest.approx(CosineDecay(30, rate).rate(29), rel=1e-5)
    assert 0.01 * rate < trained.psnr_rate < 0.015 * rate
    # the adversarial phase runs at its own, constant rate
    assert float(sr.game.g_optimizer.learning_rate) == pytest.approx(sr.settings["adversarial_learning_rate"])


def test_staged_upsampling_without_decay_learns_keeps_its_rate_and_round_trips(tmp_path):
    sr = SuperResolver(input_skip=None, **{**TINY, "seed": 1}, upsampling="stages", lr_decay=None)
    names = {layer.name for layer in sr.generator.layers}
    assert {"up0_conv", "up1_conv"} <= names and "tail_shuffle" not in names  # two x2 stages, not one x4
    low, high = _training_batch(seed=6)
    before = _psnr(sr, low, high)
    sr.fit("photos", steps=10, verbose=0)
    assert _psnr(sr, low, high) > before + 1.0
    assert float(sr.game.g_optimizer.learning_rate) == pytest.approx(sr.settings["learning_rate"])

    loaded = SuperResolver.load(sr.save(tmp_path / "stages.keras"))
    assert loaded.settings == sr.settings
    assert (loaded.settings["upsampling"], loaded.settings["lr_decay"]) == ("stages", None)
    np.testing.assert_array_equal(loaded.upscale(low[0], tile=None), sr.upscale(low[0], tile=None))


def test_a_plain_srgan_file_loads_with_the_settings_its_generator_shows(tmp_path):
    generator = nets.srresnet_generator(2, 3, filters=8, blocks=2, input_skip="nearest", upsampling="stages")
    game = SRGAN(generator, nets.sr_discriminator((32, 32, 3), width=4, dense=8), seed=0)
    game.compile(jit_compile=False)
    game.save(tmp_path / "plain.keras")
    settings = SuperResolver.load(tmp_path / "plain.keras").settings
    shown = dict(scale=2, channels=3, patch_size=32, filters=8, blocks=2, block="residual", input_skip="nearest",
                 upsampling="stages")
    assert {key: settings[key] for key in shown} == shown


def test_same_seed_same_run():
    runs = []
    for _ in range(2):
        sr = SuperResolver(**TINY, seed=3)
        sr.fit([_photo(0, (48, 48), "train")], steps=1, verbose=0)
        runs.append(sr.game.generator.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_adversarial_phase_keeps_the_psnr_generator_and_interpolates(trained):
    sr = trained.sr
    assert sr.game.phase == "adversarial"
    for kept, saved in zip(sr.psnr_generator.get_weights(), trained.psnr_weights):
        np.testing.assert_array_equal(kept, saved)
    moved = [np.abs(a - b).max() for a, b in zip(sr.game.generator.get_weights(), trained.psnr_weights)]
    assert max(moved) > 0, "the adversarial steps did not change the generator"

    low = trained.low[:2]
    at_zero, at_one = sr.interpolate(0.0), sr.interpolate(1.0)
    np.testing.assert_allclose(at_zero.generator(low).numpy(), sr.psnr_generator(low).numpy(), atol=1e-5)
    np.testing.assert_allclose(at_one.generator(low).numpy(), sr.generator(low).numpy(), atol=1e-5)
    half = sr.interpolate(0.5)
    for w, p, g in zip(half.generator.get_weights(), trained.psnr_weights, sr.game.generator.get_weights()):
        np.testing.assert_allclose(w, 0.5 * p + 0.5 * g, atol=1e-6)
    assert isinstance(half.game, SRGAN) and half.settings == sr.settings


# -- upscale, evaluate, figure -------------------------------------------------------------------------------
def test_upscale_tiled_equals_untiled_with_enough_overlap(trained, tmp_path):
    sr = trained.sr
    image = _photo(0, (70, 90))
    x = image.astype(np.float32) / 127.5 - 1.0
    whole = sr.upscale(x, tile=None)
    assert whole.shape == (280, 360, 3) and whole.dtype == np.float32
    np.testing.assert_allclose(whole, np.clip(sr.generator(x[None]).numpy()[0], -1, 1), atol=1e-5)
    tiled = sr.upscale(x, tile=32, overlap=12)  # the tiny net sees about 10 low-resolution pixels around
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    seams = sr.upscale(x, tile=32, overlap=0)
    assert np.abs(seams - whole).max() > 1e-3, "tiling without overlap should show seams"

    as_uint8 = sr.upscale(image, tile=32, overlap=12)
    assert as_uint8.dtype == np.uint8 and as_uint8.shape == (280, 360, 3)
    assert np.abs(as_uint8.astype(int) - np.round((tiled + 1) * 127.5)).max() <= 1
    Image.fromarray(image).save(tmp_path / "in.png")
    np.testing.assert_array_equal(sr.upscale(tmp_path / "in.png", tile=32, overlap=12), as_uint8)
    batch = sr.upscale(np.stack([x, x]), tile=None)
    assert batch.shape == (2, 280, 360, 3)


def test_default_overlap_is_the_measured_receptive_radius(trained):
    """``overlap=None`` tiles with the generator's measured receptive-field radius: seamless on an image many
    tiles wide, where no overlap, or one pixel less, leaves seams."""
    sr = trained.sr
    assert sr.receptive_radius == TINY_RADIUS
    x = _photo(0, (70, 230)).astype(np.float32) / 127.5 - 1.0  # 2 x 7 tiles of 48 pixels overlapping by 8
    whole = sr.upscale(x, tile=None)
    np.testing.assert_allclose(sr.upscale(x, tile=48), whole, atol=1e-5)
    assert np.abs(sr.upscale(x, tile=48, overlap=0) - whole).max() > 1e-3
    assert np.abs(sr.upscale(x, tile=48, overlap=TINY_RADIUS - 1) - whole).max() > 1e-3
    with pytest.raises(ValueError, match=r"tile: expected None or at least 2 \* overlap \+ 1 = 17 for this "
                                         r"generator's receptive-field radius of 8 \(overlap=None\).*; got 16"):
        sr.upscale(x, tile=16)
    assert sr.upscale(x[:16, :16], tile=16).shape == (64, 64, 3)  # one tile: no overlap needed
    np.testing.assert_array_equal(sr.upscale(x, tile=0), whole)  # 0, as for the Upscaler: whole images


def test_receptive_radius_is_remeasured_when_the_weights_change(trained, monkeypatch):
    sr = trained.sr.interpolate(1.0)  # a copy to change
    calls = []
    measure = tiles.receptive_radius  # what the game's cache calls
    monkeypatch.setattr(tiles, "receptive_radius", lambda *args: calls.append(args) or measure(*args))
    assert sr.receptive_radius == sr.receptive_radius == TINY_RADIUS and len(calls) == 1  # cached
    head = sr.generator.get_layer("head_conv")
    kernel, bias = head.get_weights()
    centre = np.zeros_like(kernel)
    centre[4, 4] = kernel[4, 4]
    head.set_weights([centre, bias])  # the 9x9 head now reaches no neighbour: 4 pixels less
    assert sr.receptive_radius == TINY_RADIUS - 4 and len(calls) == 2


def test_evaluate_keys_and_bicubic_equal_a_direct_computation(trained):
    sr = trained.sr
    images = [_photo(0, (62, 71)), _photo(1, (64, 64))]
    result = sr.evaluate(images)
    assert {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "per_image"} <= set(result)
    assert [row["image"] for row in result["per_image"]] == ["image 0", "image 1"]
    for image, row in zip(images, result["per_image"]):
        h, w = image.shape[0] // 4 * 4, image.shape[1] // 4 * 4
        hr = image[:h, :w].astype(np.float32) / 127.5 - 1.0  # cut to multiples of the scale
        low = tf.clip_by_value(tf.image.resize(hr[None], (h // 4, w // 4), "bicubic", antialias=True), -1, 1)
        bicubic = np.clip(tf.image.resize(low, (h, w), "bicubic").numpy(), -1, 1)
        direct = metrics.sr_quality(bicubic, hr[None], scale=4)
        assert row["bicubic_psnr"] == pytest.approx(direct["psnr"][0], abs=1e-6)
        assert row["bicubic_ssim"] == pytest.approx(direct["ssim"][0], abs=1e-6)
        model = metrics.sr_quality(sr.upscale(low.numpy()[0])[None], hr[None], scale=4)
        assert row["psnr"] == pytest.approx(model["psnr"][0], abs=1e-6)
    assert result["bicubic_psnr"] == pytest.approx(np.mean([r["bicubic_psnr"] for r in result["per_image"]]))
    held_out = sr.evaluate()
    assert [row["image"] for row in held_out["per_image"]] == data.photo_names("test")
    assert 15 < held_out["bicubic_psnr"] < 40


def test_figure_writes_four_titled_panels(trained, tmp_path):
    path = trained.sr.figure(_photo(1, (96, 96)), tmp_path / "fig.png", crop=(8, 8, 64))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1600, 480)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_a_file_is_the_same_image_to_training_the_app_and_the_upscaler(trained, cli_run, tmp_path):
    """A phone photo's EXIF turn and a PNG's transparency: training crops, the app and the ONNX Upscaler all
    read the picture a viewer shows (turned upright, composited onto white), through ganapps.images.read_image."""
    rng = np.random.default_rng(21)
    turned = Image.fromarray(_photo(0, (24, 24)))  # square: only the pixels show the turn
    exif = turned.getexif()
    exif[0x0112] = 6  # orientation "rotate 90 degrees clockwise to display"
    (tmp_path / "turned").mkdir()
    turned.save(tmp_path / "turned" / "photo.jpg", exif=exif, quality=95)
    rgba = np.concatenate([_photo(1, (24, 24)), rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)], axis=-1)
    (tmp_path / "clear").mkdir()
    Image.fromarray(rgba).save(tmp_path / "clear" / "photo.png")
    upscaler = runtime.Upscaler(cli_run[0])
    for folder in ("turned", "clear"):
        path = tmp_path / folder / "photo.png" if folder == "clear" else tmp_path / folder / "photo.jpg"
        with Image.open(path) as raw:
            stored = np.asarray(raw.convert("RGB"))
        seen = images.read_image(path)
        if folder == "turned":
            np.testing.assert_array_equal(seen, np.rot90(stored, k=-1))
        else:
            np.testing.assert_array_equal(seen, images.convert_channels(rgba, 3))
        assert not np.array_equal(seen, stored)
        crops = next(iter(data.random_crops(tmp_path / folder, size=24, num_crops=1, flip=False))).numpy()
        np.testing.assert_array_equal(crops[0], data.from_uint8(seen))  # training
        np.testing.assert_array_equal(superres_app.load_hr_images([path])[1][0], data.from_uint8(seen))  # the app
        np.testing.assert_array_equal(trained.sr.upscale(path, tile=0), trained.sr.upscale(seen, tile=0))
        upscaler.upscale_file(path, tmp_path / f"{folder}_x4.png")  # the Upscaler
        with Image.open(tmp_path / f"{folder}_x4.png") as written:
            np.testing.assert_array_equal(np.asarray(written), upscaler.upscale(seen))
    np.testing.assert_array_equal(trained.sr.upscale(rgba, tile=0),
                                  trained.sr.upscale(images.convert_channels(rgba, 3), tile=0))


# -- export, save/load ---------------------------------------------------------------------------------------
def test_export_runs_in_the_upscaler_like_upscale(trained, tmp_path):
    sr = trained.sr
    metadata = sr.export(tmp_path / "export")
    assert metadata["task"] == "super_resolution" and metadata["scale"] == 4
    assert metadata["value_range"] == [-1.0, 1.0] and metadata["channel_order"] == "RGB"
    assert "[-1, 1]" in metadata["input"] and metadata["training"]["filters"] == 8
    assert metadata["overlap"] == metadata["receptive_radius"] == TINY_RADIUS and metadata["tile"] == 128
    upscaler = runtime.Upscaler(tmp_path / "export")
    assert upscaler.overlap == TINY_RADIUS
    image = _photo(2, (50, 60))
    x = image.astype(np.float32) / 127.5 - 1.0
    untiled = sr.upscale(x, tile=None)
    np.testing.assert_allclose(upscaler.upscale(x, tile=24), untiled, atol=1e-4)  # the metadata's overlap
    assert np.abs(upscaler.upscale(x, tile=24, overlap=0) - untiled).max() > 1e-3
    np.testing.assert_allclose(upscaler.upscale(x, tile=32, overlap=12), sr.upscale(x, tile=32, overlap=12),
                               atol=1e-4)
    got, want = upscaler.upscale(image, tile=32, overlap=12), sr.upscale(image, tile=32, overlap=12)
    assert got.dtype == want.dtype == np.uint8 and np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_export_records_an_explicit_overlap_beside_the_radius(trained, tmp_path, monkeypatch):
    written = {}
    monkeypatch.setattr(superres_app.gexport, "export_generator",
                        lambda game, directory, extra_metadata: written.update(extra_metadata) or written)
    trained.sr.export(tmp_path / "e", tile=64, overlap=5)
    assert (written["tile"], written["overlap"]) == (64, 5)
    assert trained.sr.game.export_metadata()["receptive_radius"] == TINY_RADIUS  # the game records the radius


def test_save_load_round_trip(trained, tmp_path):
    sr = trained.sr
    path = sr.save(tmp_path / "sr.keras")
    loaded = SuperResolver.load(path)
    assert loaded.settings == sr.settings and loaded.steps_trained == sr.steps_trained
    assert loaded.history == sr.history and loaded.game.phase == "adversarial"
    for net in ("generator", "discriminator"):
        for a, b in zip(getattr(loaded.game, net).get_weights(), getattr(sr.game, net).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.psnr_generator.get_weights(), sr.psnr_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.game.g_optimizer.iterations) == 33 and int(loaded.game.d_optimizer.iterations) == 3
    x = trained.low[0]
    np.testing.assert_array_equal(loaded.upscale(x, tile=None), sr.upscale(x, tile=None))
    import keras  # the file is a plain SRGAN .keras for Keras too

    assert isinstance(keras.models.load_model(path), SRGAN)


def test_save_is_atomic(trained, tmp_path, monkeypatch):
    def broken(self, filepath, **kwargs):
        Path(filepath).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(SRGAN, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        trained.sr.save(tmp_path / "sr.keras")
    assert list(tmp_path.iterdir()) == []


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(scale=3), "scale: expected 2, 4 or 8; got 3"),
    (dict(patch_size=40), "patch_size: expected a multiple of 16"),
    (dict(channels=2), "channels: expected 1"),
    (dict(block="dense"), "block: expected one of"),
    (dict(learning_rate=0), "learning_rate: expected a positive number; got 0"),
    (dict(upsampling="bilinear"), r"upsampling: expected one of \('stages', 'single'\); got 'bilinear'"),
    (dict(upsampling=None), r"upsampling: expected one of .*; got None"),
    (dict(lr_decay="linear"), r"lr_decay: expected one of \('cosine', None\); got 'linear'"),
    (dict(lr_decay="none"), r"lr_decay: expected one of .*; got 'none'"),
])
def test_bad_settings_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SuperResolver(**{**TINY, **kwargs})


def test_bad_input_names_the_argument(trained, tmp_path):
    sr = trained.sr
    nan = np.full((40, 40, 3), np.nan, np.float32)
    cases = [
        (lambda: sr.fit(np.zeros(5), steps=1), ValueError, r"data: expected .*got ndarray"),
        (lambda: sr.fit([np.zeros((16, 20, 3), np.uint8)], steps=1), ValueError,
         r"data\[0\]: expected images of at least 32x32 .*got an image of 16x20"),
        (lambda: sr.fit([nan], steps=1), ValueError, r"data\[0\]: expected finite pixel values; got 4800 NaN"),
        (lambda: sr.fit([np.full((40, 40, 3), 200.0)], steps=1), ValueError, r"data\[0\]: expected float images"),
        (lambda: sr.fit(str(tmp_path / "missing") + "/", steps=1), FileNotFoundError, "data: expected .*missing"),
        (lambda: sr.fit("photos", steps=0), ValueError, "steps: expected steps or adversarial_steps above 0"),
        (lambda: sr.fit("photos", steps=-2), ValueError, "steps: expected a non-negative integer; got -2"),
        (lambda: sr.fit(tf.data.Dataset.from_tensor_slices(np.zeros((4, 16, 16, 3), np.float32)).batch(2),
                        steps=1), ValueError, r"data: expected images of shape .*\(32, 32, 3\)"),
        (lambda: sr.upscale(str(tmp_path / "missing.png")), FileNotFoundError,
         "image: expected an image file .*missing.png', which does not exist"),
        (lambda: sr.upscale(tmp_path), FileNotFoundError, "image: expected an image file .*, which is a folder"),
        (lambda: sr.upscale(nan), ValueError, "image: expected finite pixel values"),
        (lambda: sr.upscale(np.array([["a"]])), ValueError, "image: expected a numeric image array"),
        (lambda: sr.upscale(np.zeros((8, 8, 5), np.float32)), ValueError,
         r"image: expected images with 1 \(gray\), 2 \(gray\+alpha\), 3 \(RGB\) or 4 \(RGBA\) channels"),
        (lambda: sr.evaluate(str(tmp_path / "nowhere")), FileNotFoundError, "hr_images: expected 'photos'"),
        (lambda: sr.evaluate([np.zeros((12, 40, 3), np.uint8)]), ValueError,
         r"hr_images\[0\] \(image 0\): expected images of at least 19x19"),
        (lambda: sr.interpolate(1.5), ValueError, "alpha: expected a number in"),
        (lambda: sr.figure(_photo(0, (64, 64)), tmp_path / "f.gif"), ValueError, "path: expected a file name"),
        (lambda: sr.figure(_photo(0, (64, 64)), tmp_path / "f.png", crop=(0, 0, 65)), ValueError,
         r"crop: expected None or \(y, x, size\)"),
        (lambda: sr.save(tmp_path / "x.h5"), ValueError, "path: expected a file name ending in .keras"),
        (lambda: sr.export(tmp_path / "e", tile=16), ValueError,
         r"tile: expected at least 2 \* overlap \+ 1 = 17 \(overlap=8; the receptive-field radius is 8\); got 16"),
        (lambda: sr.export(tmp_path / "e", overlap=-1), ValueError, "overlap: expected a non-negative integer"),
        (lambda: sr.export(tmp_path / "e", tile=0), ValueError, "tile: expected a positive integer; got 0"),
        (lambda: SuperResolver.load(tmp_path / "none.keras"), FileNotFoundError, "path: expected an existing"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    assert not (tmp_path / "e").exists()  # nothing exported half
    with pytest.raises(ValueError, match="alpha: expected an app trained with adversarial_steps"):
        SuperResolver(**TINY).interpolate(0.5)


# -- the command line ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One tiny ``ganapps superres train`` in-process (TensorFlow is already loaded here)."""
    out = tmp_path_factory.mktemp("superres") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["superres", "train", *CLI_TINY, "--steps", "4", "--adversarial-steps", "2",
                         "--upsampling", "stages", "--lr-decay", "none", "--out", str(out)])
    assert code == 0, stderr.getvalue()[-3000:]
    return out, stdout.getvalue()


def test_cli_train_writes_game_export_evaluation_and_figure(cli_run):
    out, printed = cli_run
    for name in ("superres.keras", "model.onnx", "saved_model", "metadata.json", "evaluation.json", "compare.png"):
        assert (out / name).exists(), name
    assert "4/4" in printed and "2/2" in printed  # the progress of both phases
    assert "bicubic PSNR" in printed and "chelsea" in printed and "mean" in printed
    assert "trained in" in printed and str(out / "compare.png") in printed
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert [r["image"] for r in evaluation["per_image"]] == data.photo_names("test")
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["task"] == "super_resolution" and metadata["training"]["steps_trained"] == {
        "psnr": 4, "adversarial": 2}
    loaded = SuperResolver.load(out / "superres.keras")
    assert loaded.psnr_generator is not None
    # --upsampling and --lr-decay reached the app: its saved settings, its generator, the export's metadata
    assert (loaded.settings["upsampling"], loaded.settings["lr_decay"]) == ("stages", None)
    assert "up1_conv" in {layer.name for layer in loaded.generator.layers}
    assert (metadata["training"]["upsampling"], metadata["training"]["lr_decay"]) == ("stages", None)
    assert metadata["overlap"] == metadata["receptive_radius"] == loaded.receptive_radius
    assert f"{metadata['overlap']} pixels" in printed
    with Image.open(out / "compare.png") as image:
        assert image.size == (1600, 480)


UPSCALE_WITHOUT_TF = BLOCK_HEAVY_IMPORTS + r"""
from ganapps import cli
code = cli.main(["superres", "upscale", IN, "--model", MODEL, "--out", OUT, "--tile", "24"])
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def test_cli_upscale_runs_without_tensorflow(cli_run, tmp_path):
    out, _ = cli_run
    image = _photo(2, (40, 52))
    Image.fromarray(image).save(tmp_path / "in.png")
    code = (UPSCALE_WITHOUT_TF.replace("IN", repr(str(tmp_path / "in.png"))).replace("MODEL", repr(str(out)))
            .replace("OUT", repr(str(tmp_path / "out.png"))))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "tensorflow": False, "keras": False}
    assert "wrote" in proc.stdout and "52x40 -> 208x160" in proc.stdout  # width x height
    with Image.open(tmp_path / "out.png") as written:
        pixels = np.asarray(written)
    upscaler = runtime.Upscaler(out)  # no --overlap: the metadata's, the receptive radius, so no seams
    np.testing.assert_array_equal(pixels, upscaler.upscale(image, tile=24, overlap=upscaler.overlap))
    untiled = upscaler.upscale(image, tile=0).astype(int)
    assert np.abs(pixels.astype(int) - untiled).max() <= 1 and (pixels == untiled).mean() > 0.99  # rounding only


def test_cli_defaults():
    parser = cli.build_parser()
    train = parser.parse_args(["superres", "train"])
    assert (train.upsampling, train.lr_decay) == ("single", "cosine")
    for argv in (["upscale", "in.png", "--model", "m"], ["evaluate", "--model", "m"],
                 ["compare", "in.png", "--model", "m"]):
        parsed = parser.parse_args(["superres", *argv])
        assert parsed.overlap is None and parsed.tile is None, argv  # the model's receptive radius and tile side
        assert parser.parse_args(["superres", *argv, "--tile", "none"]).tile == 0  # whole images


def test_cli_evaluate_prints_the_table_and_matches_the_keras_model(cli_run, tmp_path, capsys):
    out, _ = cli_run
    folder = tmp_path / "hr"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.png")):
        Image.fromarray(_photo(i, (64, 80))).save(folder / name)
    assert cli.main(["superres", "evaluate", "--model", str(out), "--data", str(folder),
                     "--json", str(tmp_path / "e.json")]) == 0
    printed = capsys.readouterr().out
    assert "a.png" in printed and "b.png" in printed and "bicubic SSIM" in printed and "mean" in printed
    onnx = json.loads((tmp_path / "e.json").read_text())
    keras_result = SuperResolver.load(out / "superres.keras").evaluate(folder)
    for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"):
        assert onnx[key] == pytest.approx(keras_result[key], abs=1e-3), key


def test_cli_compare_writes_the_figure(cli_run, tmp_path, capsys):
    out, _ = cli_run
    Image.fromarray(_photo(1, (96, 96))).save(tmp_path / "hr.png")
    assert cli.main(["superres", "compare", str(tmp_path / "hr.png"), "--model", str(out),
                     "--out", str(tmp_path / "fig.png"), "--crop", "16", "16", "48"]) == 0
    assert "fig.png" in capsys.readouterr().out
    with Image.open(tmp_path / "fig.png") as image:
        assert image.format == "PNG"


@pytest.mark.parametrize("args, mentions", [
    (["train", "--scale", "3"], ["--scale", "2, 4 or 8", "'3'"]),
    (["train", "--patch-size", "40"], ["--patch-size", "multiple of 16", "'40'"]),
    (["train", "--steps", "0"], ["--steps", "positive integer", "'0'"]),
    (["train", "--lr", "0"], ["--lr", "positive number", "'0'"]),
    (["upscale", "in.png"], ["--model"]),
    (["upscale", "in.png", "--model", "m", "--overlap", "-1"], ["--overlap", "'-1'"]),
    (["train", "--upsampling", "bicubic"], ["--upsampling", "'bicubic'", "'single'", "'stages'"]),
    (["train", "--lr-decay", "linear"], ["--lr-decay", "'linear'", "'cosine'", "'none'"]),
    (["evaluate", "--model", "m", "--tile", "-1"], ["--tile", "'-1'", "non-negative integer, or 'none'"]),
    (["compare", "in.png", "--model", "m", "--crop", "1", "2"], ["--crop"]),
    (["resize"], ["SUBCOMMAND", "'resize'"]),
])
def test_cli_bad_arguments_exit_2_naming_them(args, mentions, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["superres", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for text in mentions:
        assert text in err, (text, err)


def test_cli_errors_in_the_handlers(cli_run, tmp_path, capsys):
    out, _ = cli_run
    Image.fromarray(_photo(0, (64, 64))).save(tmp_path / "in.png")
    cases = [
        (["upscale", str(tmp_path / "none.png"), "--model", str(out)], "superres upscale: error: input:"),
        (["upscale", str(tmp_path / "in.png"), "--model", str(tmp_path / "nomodel")], "--model: expected an export"),
        (["evaluate", "--model", str(out), "--scale", "2"], "--scale: expected the model's scale (4); got 2"),
        (["evaluate", "--model", str(out), "--data", str(tmp_path / "nowhere")], "--data: expected 'photos'"),
        (["compare", str(tmp_path / "in.png"), "--model", str(tmp_path)], "--model: expected an export folder"),
        (["compare", str(tmp_path / "in.png"), "--model", str(out), "--crop", "0", "0", "99"], "crop: expected"),
    ]
    for args, message in cases:
        assert cli.main(["superres", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "in_x4.png").exists()


def test_help_lists_superres_without_importing_tensorflow():
    top, group, train, upscale, evaluate, compare = help_texts_without_heavy_imports(
        [], ["superres"], ["superres", "train"], ["superres", "upscale"], ["superres", "evaluate"],
        ["superres", "compare"])
    assert "superres" in top
    assert all(name in group for name in ("train", "upscale", "evaluate", "compare"))
    assert all(opt in train for opt in ("--data", "--scale", "--steps", "--adversarial-steps", "--filters",
                                        "--blocks", "--patch-size", "--batch-size", "--lr", "--seed", "--out"))
    assert "--model" in upscale and "--tile" in upscale and "--overlap" in upscale and "TensorFlow" in upscale
    assert "--model" in evaluate and "--data" in evaluate and "--model" in compare and "--crop" in compare
