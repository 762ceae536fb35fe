"""``ganapps debias`` and its loader: every source kind loads with its groups and labels (mismatches named);
``weights`` finds the rare group without seeing it and reuses a saved debiaser; ``augment`` tops up the rare
group with samples that look like it; ``report`` writes the bias report; bad arguments fail in one line."""

import contextlib
import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _helpers import help_texts_without_heavy_imports
from PIL import Image

from apps.debias import cli as debias_cli
from apps.debias.data import DebiasData, load_data
from ganapps import cli
from ganapps import data as gdata

TINY_DEBIASER = ["--image-size", "8", "--steps", "40", "--latent-dim", "4", "--jit-compile", "false"]


def _main(argv: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def _rows(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _folder(root: Path, n: int = 40) -> tuple[Path, Path]:
    """``n`` 8x8 gray images, a fifth of them (group "b") inverted, half of each group with a vertical bar
    (label 0) and half with a horizontal one (label 1); ten in a sub-folder. The CSV names some images by their
    relative path and the others by file name."""
    rng = np.random.default_rng(0)
    folder = root / "images"
    (folder / "sub").mkdir(parents=True)
    rows = ["file,group,label"]
    for i in range(n):
        group, label = ("b" if i % 5 == 0 else "a"), i % 2
        image = np.zeros((8, 8), np.uint8)
        if label == 0:
            image[:, 2:4] = 200
        else:
            image[2:4, :] = 200
        if group == "b":
            image = 255 - image
        image = np.clip(image.astype(int) + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
        name = f"sub/img{i:02d}.png" if i < 10 else f"img{i:02d}.png"
        Image.fromarray(image).save(folder / name)
        rows.append(f"{name if i % 3 else Path(name).name},{group},{label}")
    table = root / "groups.csv"
    table.write_text("\n".join(rows) + "\n")
    return folder, table


# -- load_data -------------------------------------------------------------------------------------------------
def test_cli_choices_match_the_library():
    from apps.debias.app import METHODS

    assert debias_cli.ATTRIBUTES == gdata.BIAS_ATTRIBUTES
    assert debias_cli.METHOD_CHOICES == METHODS


def test_load_biased_digits_with_groups_and_labels():
    train = load_data("biased-digits:rotated", image_size=8, rare_share=0.1)
    x, y, groups = gdata.biased_digits("train", attribute="rotated", rare_share=0.1, image_size=8)
    assert isinstance(train, DebiasData) and train.kind == "images" and train.names is None
    np.testing.assert_array_equal(train.x, x)
    np.testing.assert_array_equal(train.labels, y)
    np.testing.assert_array_equal(train.groups, groups)
    assert "rotated" in train.source
    test = load_data("biased-digits", split="test", attribute="inverted", image_size=8)
    assert abs(test.groups.mean() - 0.5) < 0.01 and test.x.shape[1:] == (8, 8, 1)
    assert load_data().x.shape[1:] == (16, 16, 1)  # the default size
    with pytest.raises(ValueError, match=r"^groups: expected None for 'biased-digits'"):
        load_data("biased-digits", groups="g.csv")
    with pytest.raises(ValueError, match=r"^attribute: expected one of"):
        load_data("biased-digits:bold")


def test_load_folder_matches_the_csv_by_path_or_name(tmp_path):
    folder, table = _folder(tmp_path)
    d = load_data(folder, groups=table)
    assert d.x.shape == (40, 8, 8, 1) and d.x.dtype == np.float32 and -1 <= d.x.min() and d.x.max() <= 1
    assert d.names[:2] == ["img10.png", "img11.png"] and "sub/img00.png" in d.names
    by_name = dict(zip(d.names, zip(d.groups.tolist(), d.labels.tolist())))
    assert by_name["sub/img00.png"] == ("b", 0) and by_name["img13.png"] == ("a", 1)  # by name, by path
    assert d.groups.dtype.kind == "U" and d.labels.dtype == np.int64
    inverted = d.x[d.groups == "b"].mean()
    assert inverted > 0.4 > -0.4 > d.x[d.groups == "a"].mean()  # the rows went to the right images

    unlabelled = load_data(folder)
    assert unlabelled.groups is None and unlabelled.labels is None
    assert load_data(folder, image_size=4).x.shape == (40, 4, 4, 1)

    lines = table.read_text().splitlines()
    (tmp_path / "missing_row.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"^groups: .*missing_row\.csv.*no row for 'img39\.png'"):
        load_data(folder, groups=tmp_path / "missing_row.csv")
    (tmp_path / "extra_row.csv").write_text("\n".join(lines + ["ghost.png,a,0"]) + "\n")
    with pytest.raises(ValueError, match=r"^groups: .*extra_row\.csv.*'ghost\.png' \(row 42\), which is not an image"):
        load_data(folder, groups=tmp_path / "extra_row.csv")
    (tmp_path / "no_group.csv").write_text("file,kind\nimg10.png,a\n")
    with pytest.raises(ValueError, match=r"^groups: expected a CSV whose header holds 'file' and 'group'"):
        load_data(folder, groups=tmp_path / "no_group.csv")
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(folder / "small.png")
    with pytest.raises(ValueError, match=r"^data: expected images of one size.*small\.png of 6x6"):
        load_data(folder)
    with pytest.raises(FileNotFoundError, match=r"^groups: .*does not exist"):
        load_data(folder, groups=tmp_path / "nope.csv")


def test_load_npy_with_groups_and_labels_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "g.npy", np.arange(12) % 3)
    (tmp_path / "y.csv").write_text("label\n" + "\n".join(str(i % 2) for i in range(12)) + "\n")
    d = load_data(tmp_path / "x.npy", groups=tmp_path / "g.npy", labels=tmp_path / "y.csv")
    assert d.x.shape == (12, 8, 8, 1) and d.kind == "images"
    np.testing.assert_allclose(d.x[..., 0], images / 127.5 - 1, atol=1e-6)
    assert d.groups.tolist() == [i % 3 for i in range(12)] and d.labels.tolist() == [i % 2 for i in range(12)]

    (tmp_path / "both.csv").write_text("group,label\n" + "".join(f"g{i % 2},{i % 4}\n" for i in range(12)))
    both = load_data(tmp_path / "x.npy", groups=tmp_path / "both.csv")
    assert both.groups.tolist()[:2] == ["g0", "g1"] and both.labels.tolist()[:5] == [0, 1, 2, 3, 0]

    np.save(tmp_path / "v.npy", rng.normal(size=(12, 5)))
    vectors = load_data(tmp_path / "v.npy", groups=tmp_path / "g.npy")
    assert vectors.kind == "vectors" and vectors.x.shape == (12, 5) and vectors.labels is None

    np.save(tmp_path / "short.npy", np.zeros(11, int))
    with pytest.raises(ValueError, match=r"^groups: expected 12 values, one per sample of the data; got 11 in "
                                         r"short\.npy"):
        load_data(tmp_path / "x.npy", groups=tmp_path / "short.npy")
    (tmp_path / "words.csv").write_text("\n".join(["cat"] * 12) + "\n")
    with pytest.raises(ValueError, match=r"^labels: expected integer class labels .*'cat'"):
        load_data(tmp_path / "x.npy", labels=tmp_path / "words.csv")
    with pytest.raises(ValueError, match=r"^image_size: expected None for a \.npy file"):
        load_data(tmp_path / "x.npy", image_size=4)
    np.save(tmp_path / "loud.npy", np.full((3, 4, 4, 1), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"^data: expected images .*values in \[2, 2\]"):
        load_data(tmp_path / "loud.npy")
    with pytest.raises(FileNotFoundError, match=r"^data: expected 'biased-digits'.*'nowhere\.npy', which does not"):
        load_data("nowhere.npy")


def test_load_tfds_nested_group_and_label_keys(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(gdata, "_network_available", lambda *args: True)  # mock_data never downloads
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        d = load_data("tfds:celeb_a", split="train", group_key="attributes/Male", label_key="attributes/Smiling",
                      image_size=8, data_dir="/nonexistent/never/read")
        assert d.x.shape == (6, 8, 8, 3) and d.x.dtype == np.float32  # mock noise, averaged out by the resize
        assert -1 <= d.x.min() < d.x.max() <= 1
        assert set(d.groups.tolist()) <= {0, 1} and set(d.labels.tolist()) <= {0, 1}
        assert d.groups.dtype == np.int64 and d.names is None
        mnist = load_data("tfds:mnist", split="test", group_key="label")  # the default label key, and as group
        np.testing.assert_array_equal(mnist.labels, mnist.groups)
        assert mnist.x.shape == (6, 28, 28, 1)
        with pytest.raises(ValueError, match=r"^group_key: expected a feature of 'celeb_a' .*attributes has .*Male"):
            load_data("tfds:celeb_a", group_key="attributes/Tall", image_size=8)
        with pytest.raises(ValueError, match=r"^label_key: expected a feature of 'mnist'"):
            load_data("tfds:mnist", label_key="digit")


# -- weights ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    """One tiny ``ganapps debias weights`` on the biased digits (8x8), in-process."""
    out = tmp_path_factory.mktemp("debias") / "weights"
    code, printed, err = _main(["debias", "weights", *TINY_DEBIASER, "--out", str(out)])
    assert code == 0, err[-3000:]
    return SimpleNamespace(out=out, printed=printed)


def test_weights_find_the_rare_group_and_a_saved_debiaser_gives_the_same(weighted, tmp_path):
    out = weighted.out
    for name in ("debiaser.keras", "weights.csv", "summary.json", "rarity.png"):
        assert (out / name).is_file(), name
    rows = _rows(out / "weights.csv")
    assert list(rows[0]) == ["index", "file", "weight", "probability", "rarity", "group"]
    weights = np.array([float(r["weight"]) for r in rows])
    probabilities = np.array([float(r["probability"]) for r in rows])
    groups = np.array([int(r["group"]) for r in rows])
    assert len(rows) == 1438 and weights.mean() == pytest.approx(1.0, abs=1e-6)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(groups, load_data(image_size=8).groups)
    summary = json.loads((out / "summary.json").read_text())
    assert {"n", "alpha", "bins", "effective_sample_size", "top_weighted_shares"} <= set(summary)
    assert summary["per_class"] is True  # biased-digits has labels: rarity within each digit
    assert summary["effective_sample_size"] == pytest.approx(1 / np.sum(probabilities ** 2), rel=1e-4)
    rare = summary["top_weighted_shares"]["1"]
    # the debiaser never saw the groups, yet the bold digits (5% of the data) crowd its largest weights
    assert rare["share_of_data"] == pytest.approx(0.05, abs=0.001) and rare["share_of_top"] > 0.2, summary
    assert weights[groups == 1].mean() > 2 * weights[groups == 0].mean()  # alpha 1 (the default) bounds the ratio
    assert "effective sample size" in weighted.printed and "share of the top 5% weights" in weighted.printed
    with Image.open(out / "rarity.png") as image:
        assert image.format == "PNG" and min(image.size) > 100

    again = tmp_path / "again"
    code, printed, err = _main(["debias", "weights", "--image-size", "8", "--model", str(out / "debiaser.keras"),
                                "--out", str(again)])
    assert code == 0, err[-3000:]
    assert "loaded from" in printed and not (again / "debiaser.keras").exists()
    np.testing.assert_allclose([float(r["weight"]) for r in _rows(again / "weights.csv")], weights, rtol=1e-5)
    code, _, err = _main(["debias", "weights", "--image-size", "8", "--model", str(out / "debiaser.keras"),
                          "--steps", "5", "--out", str(again)])
    assert code == 2 and "--steps: expected no value with --model" in err


# -- augment ---------------------------------------------------------------------------------------------------
def test_augment_tops_up_the_rare_group_with_look_alikes(tmp_path):
    folder, table = _folder(tmp_path)
    out = tmp_path / "balanced"
    code, printed, err = _main(["debias", "augment", "--data", str(folder), "--groups", str(table), "--steps", "150",
                                "--lr", "2e-3", "--width", "16", "--latent-dim", "8", "--batch-size", "16",
                                "--jit-compile", "false", "--out", str(out)])
    assert code == 0, err[-3000:]
    for name in ("provenance.csv", "rebalancer.keras", "synthetic.png"):
        assert (out / name).is_file(), name
    rows = _rows(out / "provenance.csv")
    files = sorted(p.relative_to(out).as_posix() for p in (out / "images").iterdir())
    assert sorted(r["file"] for r in rows) == files
    synthetic = [r for r in rows if r["synthetic"] == "1"]
    assert {r["group"] for r in synthetic} == {"b"} and len(synthetic) == 24  # 16 - 4 per label
    assert len(rows) - len(synthetic) == 40 and "sub_img00.png" in " ".join(files)
    for label in ("0", "1"):
        counts = {g: sum(r["group"] == g and r["label"] == label for r in rows) for g in ("a", "b")}
        assert counts == {"a": 16, "b": 16}
    # group b's images are bright (inverted); the generator learned to draw its synthetic ones bright too
    brightness = [np.asarray(Image.open(out / r["file"]), np.float64).mean() for r in synthetic]
    real_a = [np.asarray(Image.open(out / r["file"]), np.float64).mean() for r in rows if r["group"] == "a"]
    assert np.mean(brightness) > np.mean(real_a) + 80, (np.mean(brightness), np.mean(real_a))
    assert "b           8         24" in printed

    code, _, err = _main(["debias", "augment", "--data", str(folder), "--groups", str(table), "--out", str(out)])
    assert code == 2 and "--out: expected a folder that does not exist yet (or --overwrite)" in err


# -- report ----------------------------------------------------------------------------------------------------
def test_report_of_a_plain_classifier(weighted, tmp_path):
    out = tmp_path / "report"
    code, printed, err = _main(["debias", "report", "--image-size", "8", "--epochs", "2", "--jit-compile", "false",
                                "--model", str(weighted.out / "debiaser.keras"), "--out", str(out)])
    assert code == 0, err[-3000:]
    for name in ("report.md", "report.json", "groups.png", "rarity.png"):
        assert (out / name).is_file(), name
    record = json.loads((out / "report.json").read_text())
    assert {"title", "test", "train_counts", "top_rarest", "method", "train_data", "test_data"} <= set(record)
    assert record["method"] == "plain" and record["train_counts"] == {"0": 1366, "1": 72}
    test = record["test"]
    assert set(test["groups"]) == {"0", "1"} and test["n"] == 359
    assert test["accuracy"] > 0.35  # two epochs on 8x8 digits: far above the 0.1 of chance
    assert test["groups"]["0"]["accuracy"] > test["groups"]["1"]["accuracy"]  # the bias the report exists for
    text = (out / "report.md").read_text()
    assert "| group | count | share | accuracy |" in text and "rarest 5%" in text
    assert "- worst group: 1" in printed and "demographic parity difference" in printed


def test_report_with_the_rebalance_method_keeps_steps_and_latent_dim_for_the_rebalancer(tmp_path, monkeypatch):
    # --steps and --latent-dim are the rebalancer's here; the debiaser (fitted for the rarity table) keeps its
    # defaults, made tiny for the test so that the two can be told apart
    monkeypatch.setitem(debias_cli.DEBIASER_DEFAULTS, "steps", 30)
    monkeypatch.setitem(debias_cli.DEBIASER_DEFAULTS, "latent_dim", 3)
    out = tmp_path / "report"
    code, printed, err = _main(["debias", "report", "--method", "rebalance", "--image-size", "8", "--steps", "40",
                                "--latent-dim", "8", "--epochs", "2", "--jit-compile", "false", "--out", str(out)])
    assert code == 0, err[-3000:]
    for name in ("report.md", "report.json", "groups.png", "rarity.png"):
        assert (out / name).is_file(), name
    record = json.loads((out / "report.json").read_text())
    settings = record["settings"]
    assert record["method"] == "rebalance" and settings["debiaser"] == "fitted"
    assert (settings["rebalancer_steps"], settings["rebalancer_latent_dim"]) == (40, 8)
    assert (settings["debiaser_steps"], settings["debiaser_latent_dim"]) == (30, 3)
    assert "debiaser: a VAE-GAN (latent 3) fitted on 1438 samples, 30 steps" in printed
    assert record["test"]["accuracy"] > 0.3, record["test"]  # chance is 0.1
    assert record["top_rarest"]["groups"]["1"]["share_of_data"] == pytest.approx(72 / 1438)


def test_augment_refuses_file_names_that_meet_once_flattened(tmp_path):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    rows = ["file,group,label"]
    for i, name in enumerate(["sub/x.png", "sub_x.png", "y.png", "z.png"]):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / name)
        rows.append(f"{name},{'ab'[i % 2]},0")
    (tmp_path / "groups.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, printed, err = _main(["debias", "augment", "--data", str(folder), "--groups", str(tmp_path / "groups.csv"),
                                "--steps", "1", "--width", "4", "--jit-compile", "false", "--out", str(out)])
    assert code == 2 and not out.exists() and "rebalancer:" not in printed  # refused before training
    assert err.startswith("ganapps debias augment: error: --data: expected distinct file names"), err
    assert "got 'sub_x' twice ('sub/x.png' and 'sub_x.png')" in err or \
        "got 'sub_x' twice ('sub_x.png' and 'sub/x.png')" in err, err


# -- errors and help -------------------------------------------------------------------------------------------
def test_errors_name_the_argument(tmp_path, capsys):
    folder, _ = _folder(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.uint8))
    cases = [
        (["debias", "augment", "--data", str(folder), "--out", str(tmp_path / "o")], "--groups: expected each"),
        (["debias", "report", "--data", str(folder), "--groups", str(tmp_path / "groups.csv"), "--out",
          str(tmp_path / "o")], "--test-data: expected labelled, grouped test data"),
        (["debias", "weights", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
         "--data: expected 'biased-digits'"),
        (["debias", "weights", "--data", str(tmp_path / "x.npy"), "--groups", str(tmp_path / "g.npy"), "--out",
          str(tmp_path / "o")], "--groups: expected a .npy or .csv file; got"),
        (["debias", "report", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o")],
         "--labels: expected the training data's class labels"),
        (["debias", "weights", "--data", str(tmp_path / "x.npy"), "--per-class", "--out", str(tmp_path / "o")],
         "--per-class: expected class labels"),
    ]
    for argv, message in cases:
        code, _, err = _main(argv)
        assert code == 2, argv
        assert err.startswith(f"ganapps debias {argv[1]}: error: {message}"), err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["debias", "weights", "--attribute", "bold", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "--attribute: invalid choice: 'bold'" in capsys.readouterr().err


def test_help_needs_no_tensorflow():
    texts = help_texts_without_heavy_imports(["debias"], ["debias", "weights"], ["debias", "augment"],
                                             ["debias", "report"])
    assert "ganapps debias weights --out runs/weights" in texts[0]
    assert "weights.csv" in texts[1] and "(default: biased-digits)" in texts[1]
    assert "provenance.csv" in texts[2] and "--target-balance" in texts[2]
    assert "--test-data" in texts[3] and "{plain,latent,rebalance,oracle}" in texts[3]
