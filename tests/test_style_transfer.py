"""The style-transfer app: paired and unpaired translators learn (from arrays and from folders), translate images
of any size, evaluate, draw before/after grids, round-trip through .keras, and refuse bad settings and data with
errors naming the argument. (Their exports are checked in test_style_cli.py, on what ``ganapps style train``
exports.)"""

import json
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from _helpers import BLOCK_HEAVY_IMPORTS, run_python
from PIL import Image

from apps.style_transfer import PairedTranslator, UnpairedTranslator, before_after_grid
from apps.style_transfer import app as st_app
from ganapps import data
from ganapps.games.cyclegan import CycleGAN
from ganapps.games.pix2pix import Pix2Pix

PAIRED_TINY = dict(filters=8, depth=3, crop=16, batch_size=8, learning_rate=1e-3, jit_compile=False)
UNPAIRED_TINY = dict(filters=8, blocks=1, crop=16, batch_size=8, learning_rate=3e-3, pool_size=8, jit_compile=False)


def _photo_crops(split: str, n: int, size: int, seed: int) -> list[np.ndarray]:
    """n uint8 RGB crops of the bundled photos of ``split``, taken in turn from each photo."""
    rng = np.random.default_rng(seed)
    photos = data.load_photos(split, channels=3)
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        crops.append(np.ascontiguousarray(photo[y:y + size, x:x + size]))
    return crops


def _inverted_pairs(crops: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(photo, its negative): a fixed function of A that held-out photos follow too."""
    return [(crop, 255 - crop) for crop in crops]


def _spots(n: int, seed: int, colour: tuple[float, float, float], size: int = 24) -> list[np.ndarray]:
    """n uint8 images of one to three soft round spots of ``colour`` on a dark grey ground: two colours make two
    domains with the same kind of content, and different seeds make different content, so nothing is paired."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = []
    for _ in range(n):
        light = np.zeros((size, size))
        for _ in range(rng.integers(1, 4)):
            cy, cx, radius = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(2.5, 6)
            light = np.maximum(light, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2)))
        pixels = 60 + light[..., None] * (np.asarray(colour) - 60)
        images.append(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    return images


RED, BLUE = (230.0, 70.0, 70.0), (70.0, 70.0, 230.0)


def _write(folder: Path, images: list[np.ndarray], names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / name)
    return folder


def _float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 127.5 - 1.0


# Both translators' ``export`` (ONNX equal to translate, metadata, no temporary folder left) is checked in
# test_style_cli.py on the exports that ``ganapps style train`` writes with it: exporting here again would cost
# seconds per generator (a SavedModel and an ONNX graph, each with its parity check).


# -- paired --------------------------------------------------------------------------------------------------
def _seeded_once() -> dict:
    """Seed Python, NumPy and TensorFlow here, once, and return the setting that keeps the translator from seeding
    again: a translator with a seed reseeds TensorFlow at every ``fit``, which clears TensorFlow's caches, so its
    second fit would instantiate the already traced train step anew (seconds for a CycleGAN). Seeded here, the
    fixtures' runs are as repeatable; ``test_same_seed_same_run_and_the_offline_task...`` checks the translators'
    own seeding."""
    keras.utils.set_random_seed(0)
    return {"seed": None}


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    """A tiny pix2pix taught to invert photos: one step on a list of pairs, then 40 on the same pairs written to
    two folders (paired by file name), scored on pairs from the held-out photos after each."""
    train = _inverted_pairs(_photo_crops("train", 12, 40, seed=0))
    held = _inverted_pairs(_photo_crops("test", 6, 32, seed=1))
    root = tmp_path_factory.mktemp("paired")
    names = [f"p{i:02d}.png" for i in range(len(train))]
    folders = (_write(root / "a", [a for a, _ in train], names), _write(root / "b", [b for _, b in train], names))
    translator = PairedTranslator(**PAIRED_TINY, **_seeded_once())
    translator.fit(train, steps=1, verbose=0)
    start = translator.evaluate(held)
    translator.fit(folders, steps=40, verbose=0)
    return SimpleNamespace(p=translator, start=start, end=translator.evaluate(held), held=held, folders=folders)


def test_paired_fit_lowers_held_out_l1_below_identity_and_start(paired):
    identity = np.mean([np.abs(_float(a) - _float(b)).mean() for a, b in paired.held])
    assert paired.end["l1"] < 0.7 * paired.start["l1"], (paired.start["l1"], paired.end["l1"])
    assert paired.end["l1"] < 0.5 * identity
    assert paired.end["psnr"] > paired.start["psnr"] + 2.0
    p = paired.p
    assert p.steps_trained == 41 and int(p.game.g_optimizer.iterations) == 41 and p.channels == (3, 3)
    assert len(p.history["l1"]) == 2 and p.history["l1"][-1] < p.history["l1"][0]
    assert p.task is None and p.receptive_field == 16 and p.size_multiple == 8  # 70 capped to the 16-pixel crop


def test_paired_evaluate_rows_match_a_direct_computation(paired):
    result = paired.end
    assert [row["image"] for row in result["per_image"]] == [f"pair {i}" for i in range(6)]
    a, b = paired.held[2]
    out = paired.p.translate(_float(a))
    row = result["per_image"][2]
    assert row["l1"] == pytest.approx(np.abs(out - _float(b)).mean(), rel=1e-5)
    assert row["target_sharpness"] > 0 and -1 <= row["ssim"] <= 1
    assert result["sharpness"] == pytest.approx(np.mean([r["sharpness"] for r in result["per_image"]]))


def test_paired_translate_any_size_and_input_kind(paired, tmp_path):
    p = paired.p
    image = paired.held[0][0][:21, :27]  # no multiple of 8
    out = p.translate(image)
    assert out.shape == (21, 27, 3) and out.dtype == np.uint8
    as_float = p.translate(_float(image))
    assert as_float.dtype == np.float32 and as_float.shape == (21, 27, 3) and np.abs(as_float).max() <= 1
    assert np.abs(out.astype(int) - np.round((as_float + 1) * 127.5)).max() <= 1
    Image.fromarray(image).save(tmp_path / "x.png")
    np.testing.assert_array_equal(p.translate(tmp_path / "x.png"), out)
    assert p.translate(np.stack([image, image])).shape == (2, 21, 27, 3)
    gray = p.translate(image.mean(axis=-1).astype(np.uint8))  # converted to the model's 3 channels
    assert gray.shape == (21, 27, 3)
    by_name = p.translate(paired.folders[0])
    assert sorted(by_name) == sorted(path.name for path in paired.folders[0].iterdir())
    np.testing.assert_array_equal(by_name["p03.png"], p.translate(paired.folders[0] / "p03.png"))


def test_paired_save_load_round_trip(paired, tmp_path):
    p = paired.p
    loaded = PairedTranslator.load(p.save(tmp_path / "p.keras"))
    assert loaded.settings == p.settings and loaded.steps_trained == 41 and loaded.history == p.history
    assert isinstance(loaded.game, Pix2Pix) and int(loaded.game.g_optimizer.iterations) == 41
    for a, b in zip(loaded.game.get_weights(), p.game.get_weights()):
        np.testing.assert_array_equal(a, b)
    image = paired.held[3][0][:19, :30]
    np.testing.assert_array_equal(loaded.translate(image), p.translate(image))
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    with pytest.raises(ValueError, match=r"path: expected a \.keras file holding a CycleGAN game .*Pix2Pix"):
        UnpairedTranslator.load(tmp_path / "p.keras")
    p.game.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match=r"path: expected a file written by PairedTranslator.save .*plain Pix2Pix"):
        PairedTranslator.load(tmp_path / "plain.keras")


def test_paired_figure_has_a_row_per_pair_and_three_columns(paired, tmp_path):
    path = paired.p.figure(paired.held[:2], tmp_path / "grid.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (768, 480)  # 3 columns x 2 rows of 3.2 x 3 inches at 80 dpi
    path = paired.p.figure([paired.held[0][0]], tmp_path / "inputs.png")
    with Image.open(path) as image:
        assert image.size == (512, 240)  # input | output


def test_same_seed_same_run_and_the_offline_task_with_its_test_split():
    """Two translators of one seed fit on the offline gray2colour task end with equal weights; the task names the
    translator, sets its channels and gives evaluate its test split."""
    settings = {**PAIRED_TINY, "depth": 2, "seed": 3, "adversarial_weight": 0}  # L1 alone: a quicker trace
    runs = [PairedTranslator(**settings).fit("gray2colour", steps=2, verbose=0) for _ in range(2)]
    for a, b in zip(runs[0].game.get_weights(), runs[1].game.get_weights()):
        np.testing.assert_array_equal(a, b)
    p = runs[0]
    assert p.task == "gray2colour" and p.channels == (1, 3)
    result = p.evaluate()
    assert [row["image"] for row in result["per_image"]] == ["flower", "chelsea"]  # camera is gray: left out
    assert np.isfinite([result["l1"], result["psnr"], result["ssim"]]).all()
    with pytest.raises(ValueError, match="data: expected the data of the translator's task 'gray2colour'.*"
                                         "got 'edges2photo'"):
        p.fit("edges2photo", steps=1)


def test_importing_the_package_starts_no_tensorflow():
    proc = run_python(BLOCK_HEAVY_IMPORTS + """
import apps.style_transfer as st
print(json.dumps({"names": dir(st), "tensorflow": "tensorflow" in sys.modules}))
""")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["tensorflow"] and {"PairedTranslator", "UnpairedTranslator"} <= set(result["names"])


# -- unpaired ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unpaired(tmp_path_factory):
    """A tiny CycleGAN between red spots (A) and blue spots (B): one step on two lists, then 15 on the same images
    in two folders, the cycle error measured on held-out spots after each."""
    train_a, train_b = _spots(48, 0, RED), _spots(48, 1, BLUE)
    held_a, held_b = _spots(4, 2, RED), _spots(4, 3, BLUE)  # 3 translations each per evaluate
    root = tmp_path_factory.mktemp("unpaired")
    folders = (_write(root / "a", train_a, [f"a{i}.png" for i in range(48)]),
               _write(root / "b", train_b, [f"b{i}.png" for i in range(48)]))
    translator = UnpairedTranslator(**UNPAIRED_TINY, **_seeded_once())
    translator.fit((train_a, train_b), steps=1, verbose=0)
    start = translator.evaluate(held_a, held_b)
    translator.fit(folders, steps=15, verbose=0)
    return SimpleNamespace(u=translator, start=start, end=translator.evaluate(held_a, held_b), held_a=held_a,
                           held_b=held_b)


def test_unpaired_fit_lowers_the_cycle_error_and_turns_red_to_blue(unpaired):
    start, end = unpaired.start, unpaired.end
    for key in ("cycle_a2b2a", "cycle_b2a2b"):
        assert end[key] < 0.6 * start[key], (key, start[key], end[key])
    assert {"identity_a", "identity_b"} <= set(end) and len(end["per_image"]) == 8
    translated = unpaired.u.translate(np.stack(unpaired.held_a)).astype(float)
    redness = lambda images: (images[..., 0] - images[..., 2]).mean()  # noqa: E731
    assert redness(np.stack(unpaired.held_a).astype(float)) > 20 and redness(translated) < 0
    u = unpaired.u
    assert u.steps_trained == 16 and int(u.game.g_optimizer.iterations) == 16 and u.channels == (3, 3)


def test_unpaired_linear_decay_ends_each_fit_near_zero(unpaired):
    rate = unpaired.u.settings["learning_rate"]
    # the last batch of the 15-step fit: 7 steps held, then 8 of decay
    assert float(unpaired.u.game.g_optimizer.learning_rate) == pytest.approx(rate / 8, rel=1e-5)
    assert float(unpaired.u.game.d_optimizer.learning_rate) == pytest.approx(rate / 8, rel=1e-5)


def test_unpaired_translate_both_directions_at_any_size(unpaired, tmp_path):
    u = unpaired.u
    image = unpaired.held_b[0][:13, :22]
    for direction in ("a2b", "b2a"):
        out = u.translate(image, direction=direction)
        assert out.shape == (13, 22, 3) and out.dtype == np.uint8
    assert not np.array_equal(u.translate(image, "a2b"), u.translate(image, "b2a"))
    _write(tmp_path / "in", [image, unpaired.held_b[1]], ["x.png", "y.png"])
    translated = u.translate(tmp_path / "in", direction="b2a")
    assert sorted(translated) == ["x.png", "y.png"] and translated["x.png"].shape == (13, 22, 3)


def test_unpaired_save_load_round_trip_and_figure(unpaired, tmp_path):
    u = unpaired.u
    loaded = UnpairedTranslator.load(u.save(tmp_path / "u.keras"))
    assert loaded.settings == u.settings and loaded.steps_trained == 16 and loaded.history == u.history
    assert isinstance(loaded.game, CycleGAN)
    assert int(loaded.game.g_optimizer.iterations) == int(loaded.game.d_optimizer.iterations) == 16
    image = unpaired.held_a[2][:18, :23]
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(loaded.translate(image, direction), u.translate(image, direction))
    with pytest.raises(ValueError, match=r"path: expected a \.keras file holding a Pix2Pix game .*CycleGAN"):
        PairedTranslator.load(tmp_path / "u.keras")
    path = u.figure(unpaired.held_b[:3], tmp_path / "cycle.png", direction="b2a")
    with Image.open(path) as image:
        assert image.size == (768, 720)  # B | B -> A | B -> A -> B, three rows


# -- the grid ------------------------------------------------------------------------------------------------
def test_before_after_grid_mixes_sizes_and_channels(tmp_path):
    gray, colour = np.zeros((20, 30, 1), np.uint8), np.ones((12, 12, 3), np.float32)
    path = before_after_grid([gray, colour], [colour, gray], tmp_path / "g.jpg", labels=("in", "out"))
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.size == (512, 480)
    with pytest.raises(ValueError, match=r"outputs: expected one image per input \(2\); got 1 images"):
        before_after_grid([gray, gray], [gray], tmp_path / "g.png")
    with pytest.raises(ValueError, match=r"path: expected a file name ending in one of"):
        before_after_grid([gray], [gray], tmp_path / "g.gif")


# -- bad settings and data -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs, match", [
    (PairedTranslator, dict(crop=20), r"crop: expected a multiple of 8 of at least 8 \(the U-Net's size multiple "
                                      r"2 \*\* depth at depth 3\), such as 64; got 20"),
    (PairedTranslator, dict(depth=0), "depth: expected a positive integer; got 0"),
    (PairedTranslator, dict(receptive_field=50), r"receptive_field: expected one of \[1, 16, 34, 70, 142, 286\]"),
    (PairedTranslator, dict(norm="layer"), "norm: expected 'batch', 'instance' or None; got 'layer'"),
    (PairedTranslator, dict(l1_weight=0, adversarial_weight=0), "adversarial_weight: expected a positive weight"),
    (PairedTranslator, dict(l1_weight=-1), "l1_weight: expected a finite number >= 0; got -1"),
    (PairedTranslator, dict(learning_rate=0), "learning_rate: expected a positive number; got 0"),
    (PairedTranslator, dict(seed=-1), "seed: expected None or a non-negative integer; got -1"),
    (PairedTranslator, dict(jit_compile="yes"), "jit_compile: expected True, False or 'auto'; got 'yes'"),
    (PairedTranslator, dict(task=""), "task: expected None or a task name"),
    (UnpairedTranslator, dict(crop=18), r"crop: expected a multiple of 4 of at least 8 .*; got 18"),
    (UnpairedTranslator, dict(crop=4), r"crop: expected a multiple of 4 of at least 8 .*; got 4"),
    (UnpairedTranslator, dict(loss="wgan"), r"loss: expected one of \[.*'least_squares'.*\]; got 'wgan'"),
    (UnpairedTranslator, dict(decay="yes"), "decay: expected True or False; got 'yes'"),
    (UnpairedTranslator, dict(pool_size=-1), "pool_size: expected a non-negative integer; got -1"),
    (UnpairedTranslator, dict(blocks=0), "blocks: expected a positive integer; got 0"),
    (UnpairedTranslator, dict(batch_size=0), "batch_size: expected a positive integer; got 0"),
])
def test_bad_settings_name_the_argument(cls, kwargs, match):
    tiny = PAIRED_TINY if cls is PairedTranslator else UNPAIRED_TINY
    with pytest.raises(ValueError, match=match):
        cls(**{**tiny, **kwargs})


def test_patch_field_is_capped_by_the_crop():
    assert [st_app.patch_field(70, crop) for crop in (8, 16, 32, 64, 128, 256)] == [1, 16, 16, 34, 70, 70]
    assert st_app.patch_field(1, 256) == 1 and st_app.patch_field(286, 512) == 286


def test_an_untrained_translator_says_to_fit_first(tmp_path):
    for translator in (PairedTranslator(**PAIRED_TINY), UnpairedTranslator(**UNPAIRED_TINY)):
        for call in (lambda: translator.translate(np.zeros((8, 8, 3), np.uint8)),
                     lambda: translator.save(tmp_path / "t.keras"), lambda: translator.export(tmp_path / "e")):
            with pytest.raises(RuntimeError, match="has no model yet .* call fit first"):
                call()
    assert not list(tmp_path.iterdir())


def test_bad_paired_data_and_calls_name_the_argument(paired, tmp_path):
    p = paired.p
    (tmp_path / "empty").mkdir()
    gray_pairs = [(np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8))] * 2
    cases = [
        (lambda: p.fit((tmp_path / "empty", paired.folders[1]), steps=1), ValueError,
         "folder_a: expected a folder holding images"),
        (lambda: p.fit(gray_pairs, steps=1), ValueError,
         r"data: expected images of the channels the translator was trained on \(3 for A, 3 for B\); "
         r"got 1 for A and 1 for B"),
        (lambda: p.fit([(np.zeros((12, 12, 3), np.uint8),) * 2], steps=1), ValueError,
         "crop: expected a crop that fits every image"),
        (lambda: p.fit("maps", steps=1), ValueError, "data: expected an offline task .*got str 'maps'"),
        (lambda: p.fit(paired.held, steps=0), ValueError, "steps: expected a positive integer; got 0"),
        (lambda: p.evaluate(), ValueError, r"pairs: expected data or images to read \(the translator's task, None"),
        (lambda: p.evaluate([(np.zeros((8, 8, 3), np.uint8),) * 2]), ValueError,
         r"pairs\[0\]: expected an aligned pair, .* at least 11"),
        (lambda: p.translate(paired.held[0][0], direction="b2a"), ValueError,
         r"direction: expected 'a2b' \(a paired translator translates from A to B only\); got 'b2a'"),
        (lambda: p.translate(np.zeros((8, 8, 5), np.uint8)), ValueError, "image: expected images with 1"),
        (lambda: p.translate(tmp_path / "missing.png"), FileNotFoundError, "image: expected an image file"),
        (lambda: p.translate(tmp_path / "empty"), ValueError, "image: expected a folder holding images"),
        (lambda: p.figure(None, tmp_path / "f.png"), ValueError, "images: expected data or images to read"),
        (lambda: p.figure(paired.held[:1], tmp_path / "f.gif"), ValueError, "path: expected a file name ending"),
        (lambda: p.save(tmp_path / "p.h5"), ValueError, "path: expected a file name ending in .keras"),
        (lambda: PairedTranslator.load(tmp_path / "none.keras"), FileNotFoundError, "path: expected an existing"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    assert p.steps_trained == 41 and sorted(path.name for path in tmp_path.iterdir()) == ["empty"]


def test_bad_unpaired_data_and_calls_name_the_argument(unpaired, tmp_path):
    u = unpaired.u
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    cases = [
        (lambda: u.fit((tmp_path / "empty", tmp_path / "empty"), steps=1), ValueError,
         r"data\[0\]: expected a folder holding images"),
        (lambda: u.fit(str(tmp_path), steps=1), ValueError, r"data: expected \(folder_a, folder_b\)"),
        (lambda: u.fit("cycle_gan/horse2zebra", steps=1, data_dir=str(tmp_path / "tfds")),
         data.DatasetUnavailableError, "could not fetch the tensorflow-datasets dataset 'cycle_gan/horse2zebra'"),
        (lambda: u.fit(([np.zeros((16, 16), np.uint8)],) * 2, steps=1), ValueError,
         r"data: expected images of the channels .*\(3 for A, 3 for B\)"),
        (lambda: u.fit(5, steps=1), ValueError, r"data: expected an offline task \('photo2cartoon'\)"),
        (lambda: u.evaluate(), ValueError, r"images_a: expected data or images to read"),
        (lambda: u.evaluate(images_b=[np.zeros((8, 8, 3), np.float32) + 2]), ValueError,
         r"images_b\[0\]: expected float images in \[-1, 1\]"),
        (lambda: u.translate(unpaired.held_a[0], direction="a2a"), ValueError,
         r"direction: expected 'a2b' or 'b2a'; got 'a2a'"),
        (lambda: u.figure(unpaired.held_a[:1], tmp_path / "f.png", direction="ab"), ValueError, "direction:"),
        (lambda: u.export(tmp_path / "file"), ValueError, "directory: expected a folder path"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    assert u.steps_trained == 16


def test_unpaired_identity_loss_makes_gray_and_colour_domains_both_colour():
    """With the identity loss both generators see images of their own output domain, so a gray domain is made
    RGB; without it each domain keeps its channels. Only the data pipeline runs here (no training)."""
    gray, colour = [np.full((16, 16), 90, np.uint8)] * 2, _spots(2, 0, RED, size=16)
    u = UnpairedTranslator(**UNPAIRED_TINY)
    _, channels, task = u._dataset((gray, colour), 1, 0, None)
    assert channels == (3, 3) and task is None
    _, channels, _ = UnpairedTranslator(**{**UNPAIRED_TINY, "identity_weight": 0})._dataset((gray, colour), 1, 0, None)
    assert channels == (1, 3)
