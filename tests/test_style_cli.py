"""``ganapps style``: train (paired and unpaired) writes the game, the exports (the translators' ``export``: ONNX
equal to the Keras translation, metadata), the evaluation and the before/after figures and learns; translate runs
those exports on images and folders of any size without TensorFlow; bad arguments are errors that name them."""

import contextlib
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
from _helpers import BLOCK_HEAVY_IMPORTS, help_texts_without_heavy_imports, run_python
from PIL import Image

from apps.style_transfer import PairedTranslator, UnpairedTranslator
from apps.style_transfer import cli as style_cli
from ganapps import cli, data, images, runtime

# Tiny settings; a high rate so that 20 steps show learning.
TINY = ["--filters", "4", "--crop", "16", "--steps", "20", "--batch-size", "2", "--jit-compile", "false",
        "--lr", "1e-2"]


def _pixels(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _read(path):
    with Image.open(path) as image:
        return np.asarray(image)


def _onnx(directory, x):
    """The raw ONNX graph of an export run on float NHWC ``x``, without the runtime's padding or conversions."""
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def test_help_is_instant_and_tensorflow_free():
    top, style, train, translate = help_texts_without_heavy_imports([], ["style"], ["style", "train"],
                                                                    ["style", "translate"])
    assert "style" in top
    assert "train" in style and "translate" in style
    for option in ("--paired", "--unpaired", "--task", "--a", "--b", "--tfds", "--depth", "--blocks", "--crop"):
        assert option in train, option
    for option in ("--model", "--direction", "--out", "--grid"):
        assert option in translate, option


@pytest.fixture(scope="module")
def exports(paired_run, unpaired_run):
    """The exports the two train runs below wrote: gray -> RGB U-Net (paired, size multiple 8) and an unpaired
    layout (a2b/ and b2a/ ResNet generators): translate needs only their ONNX graphs, and the runs are trained
    once for the whole module."""
    return paired_run[0], unpaired_run[1]


def test_translate_an_image_of_any_size(exports, tmp_path, capsys):
    paired, _ = exports
    image = _pixels(13, 10)  # not a multiple of the U-Net's 8
    Image.fromarray(image).save(tmp_path / "in.png")
    assert cli.main(["style", "translate", str(tmp_path / "in.png"), "--model", str(paired),
                     "--out", str(tmp_path / "out.png")]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "10x13" in printed and "a2b" in printed  # width x height
    written = _read(tmp_path / "out.png")
    assert written.shape == (13, 10, 3)
    np.testing.assert_array_equal(written, runtime.Translator(paired).translate(image))
    assert cli.main(["style", "translate", str(tmp_path / "in.png"), "--model", str(paired)]) == 0  # default --out
    np.testing.assert_array_equal(_read(tmp_path / "in_a2b.png"), written)


def test_translate_a_folder_with_a_grid_and_a_direction(exports, tmp_path, capsys):
    _, unpaired = exports
    folder = tmp_path / "photos"
    folder.mkdir()
    sources = {"a.png": _pixels(12, 20, seed=1), "b.jpg": _pixels(7, 9, seed=2), "c.gif": _pixels(16, 16, seed=3)}
    for name, pixels in sources.items():
        Image.fromarray(pixels).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    assert cli.main(["style", "translate", str(folder), "--model", str(unpaired), "--direction", "b2a",
                     "--out", str(tmp_path / "out"), "--grid", str(tmp_path / "grid.png")]) == 0
    printed = capsys.readouterr().out
    assert "translated 3 images" in printed and "b2a" in printed and "grid.png" in printed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg", "c.gif.png"]
    b2a, a2b = runtime.Translator(unpaired / "b2a"), runtime.Translator(unpaired / "a2b")
    seen = images.read_image(folder / "a.png")
    np.testing.assert_array_equal(_read(tmp_path / "out" / "a.png"), b2a.translate(seen))
    assert np.abs(b2a.translate(seen).astype(int) - a2b.translate(seen).astype(int)).max() > 0
    assert _read(tmp_path / "out" / "b.jpg").shape == (7, 9, 3)  # smaller than the ResNet's smallest side, 8
    grid = _read(tmp_path / "grid.png")
    assert grid.shape[1] < 2 * grid.shape[0] and grid.shape[0] > 3 * 100  # three rows, two columns of boxes
    assert cli.main(["style", "translate", str(folder / "a.png"), "--model", str(unpaired),
                     "--out", str(tmp_path / "a2b.png")]) == 0  # no --direction: a2b
    np.testing.assert_array_equal(_read(tmp_path / "a2b.png"), a2b.translate(seen))


TRANSLATE_WITHOUT_TF = BLOCK_HEAVY_IMPORTS + r"""
from ganapps import cli
code = cli.main(["style", "translate", IN, "--model", MODEL, "--direction", "b2a", "--out", OUT, "--grid", GRID])
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def test_translate_runs_without_tensorflow(exports, tmp_path):
    _, unpaired = exports
    image = _pixels(10, 14, seed=4)
    Image.fromarray(image).save(tmp_path / "in.png")
    code = (TRANSLATE_WITHOUT_TF.replace("IN", repr(str(tmp_path / "in.png"))).replace("MODEL", repr(str(unpaired)))
            .replace("OUT", repr(str(tmp_path / "out.png"))).replace("GRID", repr(str(tmp_path / "grid.png"))))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"code": 0, "tensorflow": False, "keras": False}
    np.testing.assert_array_equal(_read(tmp_path / "out.png"),
                                  runtime.Translator(unpaired / "b2a").translate(image))
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.parametrize("args, mentions", [
    (["train", "--out", "o"], ["one of the arguments --paired --unpaired is required"]),
    (["train", "--paired", "--unpaired", "--out", "o"], ["--unpaired", "not allowed with argument --paired"]),
    (["train", "--paired"], ["--out"]),
    (["train", "--paired", "--out", "o", "--crop", "18"], ["--crop", "multiple of 4", "'18'"]),
    (["train", "--paired", "--out", "o", "--steps", "0"], ["--steps", "positive integer", "'0'"]),
    (["train", "--paired", "--out", "o", "--task", "horse2zebra"], ["--task", "'horse2zebra'"]),
    (["train", "--paired", "--out", "o", "--lr", "0"], ["--lr", "positive number", "'0'"]),
    (["train", "--paired", "--out", "o", "--jit-compile", "yes"], ["--jit-compile", "'yes'"]),
    (["translate", "in.png"], ["--model"]),
    (["translate", "in.png", "--model", "m", "--direction", "up"], ["--direction", "'up'", "'a2b'", "'b2a'"]),
    (["paint"], ["SUBCOMMAND", "'paint'"]),
])
def test_bad_arguments_exit_2_naming_them(args, mentions, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["style", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for text in mentions:
        assert text in err, (text, err)


def test_errors_in_the_handlers_name_the_option(exports, tmp_path, capsys):
    paired, unpaired = exports
    Image.fromarray(_pixels(8, 8)).save(tmp_path / "in.png")
    (tmp_path / "a").mkdir()
    (tmp_path / "empty").mkdir()
    out = ["--out", str(tmp_path / "run")]
    cases = [
        (["train", "--unpaired", "--depth", "3", *out], "style train: error: --depth: expected only with --paired"),
        (["train", "--paired", "--blocks", "2", *out], "--blocks: expected only with --unpaired; got it with --paired"),
        (["train", "--paired", "--tfds", "cycle_gan/horse2zebra", *out], "--tfds: expected only with --unpaired"),
        (["train", "--paired", "--task", "photo2cartoon", *out],
         "--task: expected edges2photo or gray2colour with --paired; got 'photo2cartoon'"),
        (["train", "--unpaired", "--task", "edges2photo", *out], "--task: expected photo2cartoon with --unpaired"),
        (["train", "--paired", "--a", str(tmp_path / "a"), *out], "--b: expected a folder of domain B images"),
        (["train", "--paired", "--a", str(tmp_path / "nowhere"), "--b", str(tmp_path / "a"), *out],
         "--a: expected a folder of images; got"),
        (["train", "--paired", "--task", "edges2photo", "--a", str(tmp_path / "a"), "--b", str(tmp_path / "a"), *out],
         "--a: expected one data source (--task, --a and --b, or --tfds); got --task and --a/--b"),
        (["train", "--paired", "--out", str(tmp_path / "in.png")], "--out: expected a folder; got"),
        (["translate", str(tmp_path / "none.png"), "--model", str(paired)], "style translate: error: IN: expected"),
        (["translate", str(tmp_path / "in.png"), "--model", str(tmp_path / "nomodel")],
         "--model: expected an export folder (model.onnx + metadata.json) or an unpaired export"),
        (["translate", str(tmp_path / "in.png"), "--model", str(tmp_path)], "which holds neither metadata.json"),
        (["translate", str(tmp_path / "in.png"), "--model", str(paired), "--direction", "b2a"],
         "--direction: expected 'a2b' or none"),
        (["translate", str(tmp_path / "in.png"), "--model", str(paired), "--out", str(tmp_path / "o.tif")],
         "--out: expected a file name ending in one of"),
        (["translate", str(tmp_path / "in.png"), "--model", str(paired), "--grid", str(tmp_path / "g.jpg")],
         "--grid: expected a .png file name"),
        (["translate", str(tmp_path / "empty"), "--model", str(unpaired)], "IN: expected a folder holding images"),
        (["translate", str(tmp_path / "a"), "--model", str(unpaired), "--out", str(tmp_path / "in.png")],
         "--out: expected a folder for the translations"),
    ]
    for args, message in cases:
        assert cli.main(["style", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "empty", "in.png"]


# -- train ---------------------------------------------------------------------------------------------------
def _train(args, out):
    """One ``ganapps style train`` in-process (TensorFlow is already loaded here): (out, what it printed)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["style", "train", *args, "--out", str(out)])
    assert code == 0, stderr.getvalue()[-3000:]
    return out, stdout.getvalue()


def _blobs(rng, size=24):
    """Dark colour blobs on white: domain A of the unpaired toy task (B: the same kind, colours inverted)."""
    yy, xx = np.mgrid[:size, :size] / size
    image = np.ones((size, size, 3))
    for _ in range(2):
        (cy, cx), s = rng.uniform(0.2, 0.8, 2), rng.uniform(0.08, 0.2)
        weight = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))[..., None]
        image = image * (1 - weight) + rng.uniform(0, 0.6, 3) * weight
    return np.round(image * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    """pix2pix on the offline gray -> colour pairs."""
    out = tmp_path_factory.mktemp("paired") / "run"
    return _train(["--paired", "--task", "gray2colour", "--depth", "3", *TINY], out)


@pytest.fixture(scope="module")
def unpaired_run(tmp_path_factory):
    """CycleGAN on two folders of unrelated images: A dark blobs on white, B light blobs on black."""
    root = tmp_path_factory.mktemp("unpaired")
    rng = np.random.default_rng(0)
    for domain in ("a", "b"):
        (root / domain).mkdir()
        for i in range(6):
            image = _blobs(rng)
            Image.fromarray(image if domain == "a" else 255 - image).save(root / domain / f"{domain}{i}.png")
    out, printed = _train(["--unpaired", "--a", str(root / "a"), "--b", str(root / "b"), "--blocks", "1", *TINY],
                          root / "run")
    return root, out, printed


def test_train_paired_writes_game_export_evaluation_and_figure_and_learns(paired_run, tmp_path, capsys):
    out, printed = paired_run
    for name in ("translator.keras", "model.onnx", "saved_model", "metadata.json", "evaluation.json",
                 "before_after.png"):
        assert (out / name).exists(), name
    assert "20/20" in printed and "evaluation on the held-out test pairs of 'gray2colour'" in printed
    assert "flower" in printed and "mean" in printed and "target_sharpness" in printed
    assert "trained 20 steps in" in printed and "steps/s" in printed
    metadata = json.loads((out / "metadata.json").read_text())
    assert (metadata["task"], metadata["direction"], metadata["in_channels"], metadata["out_channels"]) == (
        "image_translation", "a2b", 1, 3)
    assert metadata["size_multiple"] == 8 and metadata["translation_task"] == "gray2colour"
    assert metadata["dynamic_spatial"] is True and (out / "saved_model").is_dir()
    training = metadata["training"]
    assert (training["filters"], training["depth"], training["crop"], training["batch_size"]) == (4, 3, 16, 2)
    assert training["learning_rate"] == 1e-2 and training["jit_compile"] is False and training["steps_trained"] == 20
    evaluation = json.loads((out / "evaluation.json").read_text())
    test_pairs = data.translation_pairs("gray2colour", "test")
    assert len(evaluation["per_image"]) == len(test_pairs)
    # The untrained U-Net's N(0, 0.02) weights give outputs near 0: a blank image's L1 is where training starts.
    blank = np.mean([np.abs(images.from_uint8(b)).mean() for _, b in test_pairs])
    assert evaluation["l1"] < 0.75 * blank, (evaluation["l1"], blank)

    photo = test_pairs[1][1][:45, :61]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert cli.main(["style", "translate", str(tmp_path / "photo.png"), "--model", str(out),
                     "--out", str(tmp_path / "colour.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    keras_model = PairedTranslator.load(out / "translator.keras")
    assert keras_model.steps_trained == 20
    got, want = _read(tmp_path / "colour.png").astype(int), keras_model.translate(photo).astype(int)
    assert got.shape == (45, 61, 3) and np.abs(got - want).max() <= 1
    # The export is PairedTranslator.export's: its ONNX graph is the translation, at multiples of 8 (no padding).
    for h, w in ((24, 32), (40, 16)):
        x = images.from_uint8(test_pairs[0][0][:h, :w])  # gray, the model's input
        np.testing.assert_allclose(_onnx(out, x[None])[0], keras_model.translate(x), atol=1e-4)
    assert not list(out.glob(".*"))  # no temporary file or folder left


def test_train_unpaired_writes_both_exports_and_figures_and_learns_the_cycle(unpaired_run, tmp_path, capsys):
    root, out, printed = unpaired_run
    for name in ("translator.keras", "evaluation.json", "before_after.png", "before_after_b2a.png"):
        assert (out / name).exists(), name
    for direction in ("a2b", "b2a"):
        metadata = json.loads((out / direction / "metadata.json").read_text())
        assert (metadata["task"], metadata["direction"], metadata["size_multiple"]) == (
            "image_translation", direction, 4)
        assert metadata["dynamic_spatial"] is True and metadata["translation_task"] is None  # folders: no task
        assert metadata["training"]["blocks"] == 1 and metadata["training"]["steps_trained"] == 20
        assert (out / direction / "model.onnx").is_file() and (out / direction / "saved_model").is_dir()
    assert "the first 4 + 4 training images (folders have no held-out split)" in printed
    assert "a0.png" in printed and "b3.png" in printed and "means: cycle_a2b2a" in printed
    evaluation = json.loads((out / "evaluation.json").read_text())
    # Untrained generators give outputs near 0, so a cycle starts at mean |x|, near 1 on these white images.
    for domain, key in (("a", "cycle_a2b2a"), ("b", "cycle_b2a2b")):
        start = np.mean([np.abs(images.from_uint8(images.read_image(root / domain / f"{domain}{i}.png"))).mean()
                         for i in range(4)])
        assert evaluation[key] < 0.5 * start, (key, evaluation[key], start)
    loaded = UnpairedTranslator.load(out / "translator.keras")
    assert (loaded.settings["blocks"], loaded.settings["filters"], loaded.settings["crop"]) == (1, 4, 16)
    image = images.read_image(root / "b" / "b0.png")[:21, :19]
    Image.fromarray(image).save(tmp_path / "b.png")
    assert cli.main(["style", "translate", str(tmp_path / "b.png"), "--model", str(out), "--direction", "b2a",
                     "--out", str(tmp_path / "a.png")]) == 0
    assert "b2a" in capsys.readouterr().out
    got, want = _read(tmp_path / "a.png").astype(int), loaded.translate(image, direction="b2a").astype(int)
    assert got.shape == (21, 19, 3) and np.abs(got - want).max() <= 1
    # The exports are UnpairedTranslator.export's: each ONNX graph is its direction's translation at multiples of 4.
    x = images.from_uint8(images.read_image(root / "a" / "a1.png")[:16, :24])
    for direction in ("a2b", "b2a"):
        np.testing.assert_allclose(_onnx(out / direction, x[None])[0], loaded.translate(x, direction=direction),
                                   atol=1e-4)
    assert not list(out.glob(".*"))  # the export's temporary folder is gone


def test_the_apps_setting_errors_name_the_options(tmp_path, capsys):
    cases = [(["--paired", "--depth", "3", "--crop", "20"], "style train: error: --crop: expected a multiple of 8"),
             (["--paired", "--l1-weight", "0", "--adversarial-weight", "0"], "--adversarial-weight: expected a "
                                                                             "positive weight when l1_weight is 0")]
    for args, message in cases:
        assert cli.main(["style", "train", *args, "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_held_out_images_of_folders_are_their_first_training_images(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        for i in range(6):
            pixels = _pixels(9, 9, seed=i)
            Image.fromarray(pixels[..., 0] if side == "a" else pixels).save(tmp_path / side / f"{i}.png")
    folders = (str(tmp_path / "a"), str(tmp_path / "b"))
    pairs, described = style_cli.held_out(True, "folders", folders)
    assert len(pairs) == 4 and "the first 4 training pairs" in described
    np.testing.assert_array_equal(pairs[3][1], _pixels(9, 9, seed=3))
    domains, described = style_cli.held_out(False, "folders", folders)
    assert [p.name for p in domains[0]] == ["0.png", "1.png", "2.png", "3.png"] and "4 + 4" in described
    assert style_cli.held_out(True, "task", "edges2photo") == (None, "the held-out test pairs of 'edges2photo'")


def test_format_evaluation_tables_paired_and_unpaired_results():
    paired = {"l1": 0.25, "psnr": 17.0, "per_image": [{"image": "flower", "l1": 0.2, "psnr": 18.0},
                                                      {"image": "chelsea", "l1": 0.3, "psnr": 16.0}]}
    lines = style_cli.format_evaluation(paired).splitlines()
    assert lines[0].split() == ["image", "l1", "psnr"] and lines[2].split() == ["flower", "0.2000", "18.0000"]
    assert lines[-1].split() == ["mean", "0.2500", "17.0000"]
    unpaired = {"cycle_a2b2a": 0.1, "cycle_b2a2b": 0.2, "per_image": [
        {"image": "a0.png", "domain": "a", "cycle": 0.1}, {"image": "b0.png", "domain": "b", "cycle": 0.2}]}
    lines = style_cli.format_evaluation(unpaired).splitlines()
    assert lines[0].split() == ["image", "domain", "cycle"] and lines[3].split() == ["b0.png", "b", "0.2000"]
    assert lines[-1] == "means: cycle_a2b2a 0.1000, cycle_b2a2b 0.2000"
