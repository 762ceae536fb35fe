"""Rebalancing by generation: the plan, the group-conditional GAN, synthetic samples, the provenance folder
(and the folder swap it is written with)."""

import csv
import os

import keras
import numpy as np
import pytest

from ganapps import _checks, images, rebalance
from ganapps.rebalance import GroupConditionalGAN

# Four (group, label) cells in 2-D: the group moves a sample along x, the class along y.
CELL_MEANS = {(0, 0): (-0.5, -0.5), (0, 1): (-0.5, 0.5), (1, 0): (0.5, -0.5), (1, 1): (0.5, 0.5)}


def _cells(n=800, rare=0.05, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    groups = (rng.random(n) < rare).astype(int)
    groups[:4] = [1, 1, 0, 0]  # every cell present
    labels[:4] = [0, 1, 0, 1]
    means = np.array([CELL_MEANS[(g, y)] for g, y in zip(groups, labels)])
    return (means + rng.normal(0, 0.06, (n, 2))).astype("float32"), groups, labels


def _nearest_cell(x):
    keys = list(CELL_MEANS)
    centres = np.array([CELL_MEANS[k] for k in keys])
    return [keys[i] for i in ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)]


@pytest.fixture(scope="module")
def trained():
    x, groups, labels = _cells()
    game = rebalance.fit_rebalancer(x, groups, labels, steps=500, batch_size=64, lr=2e-3, latent_dim=4,
                                    hidden=(32, 32), seed=0, jit_compile=False)
    return game, x, groups, labels


def test_plan_tops_up_each_class_to_its_largest_group():
    groups = np.array([0] * 6 + [1] * 2 + [0] * 3 + [1] * 3)
    labels = np.array([0] * 8 + [1] * 6)
    # class 0: groups 6 and 2 -> group 1 needs 4; class 1: 3 and 3 -> nothing
    assert rebalance.rebalance_plan(groups, labels) == {(1, 0): 4}
    # half balance: ceil(0.5 * 6) = 3 -> one more of group 1 in class 0
    assert rebalance.rebalance_plan(groups, labels, target_balance=0.5) == {(1, 0): 1}
    # without classes: 9 against 5
    assert rebalance.rebalance_plan(groups) == {(1, None): 4}
    # a group missing from a class gets the whole count
    assert rebalance.rebalance_plan(np.array(["a", "a", "b"]), np.array([0, 0, 1])) == {("b", 0): 2, ("a", 1): 1}


@pytest.mark.parametrize("kwargs, match", [
    (dict(groups=np.zeros((2, 2))), "groups: expected a non-empty 1-D"),
    (dict(groups=[0, 1], labels=[0]), "labels: expected 2 values"),
    (dict(groups=[0, 1], target_balance=0), r"target_balance: expected a number in \(0, 1\]"),
    (dict(groups=[0.5, 1.0]), "groups: expected integer or string values"),
])
def test_plan_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rebalance.rebalance_plan(**kwargs)


def test_the_rare_group_is_generated_where_it_lies(trained):
    game, *_ = trained
    asked = [(1, 0), (1, 1), (0, 0), (0, 1)]
    groups = np.repeat([g for g, _ in asked], 100)
    labels = np.repeat([y for _, y in asked], 100)
    fake = game.generate_groups(groups, labels, seed=3)
    hits = np.mean([cell == (g, y) for cell, g, y in zip(_nearest_cell(fake), groups, labels)])
    rare = np.mean([cell == (g, y) for cell, g, y in zip(_nearest_cell(fake[:200]), groups[:200], labels[:200])])
    assert hits > 0.8 and rare > 0.7, (hits, rare)  # chance is 0.25
    assert np.array_equal(fake, game.generate_groups(groups, labels, seed=3))


def test_augment_balances_and_marks_the_synthetic_samples(trained):
    game, x, groups, labels = trained
    out = rebalance.augment(x, groups, labels, game, target_balance=1.0, seed=1)
    assert np.array_equal(out.x[:len(x)], x) and not out.synthetic[:len(x)].any() and out.synthetic[len(x):].all()
    for label in (0, 1):
        counts = [np.sum((out.groups == g) & (out.labels == label)) for g in (0, 1)]
        assert counts[0] == counts[1], (label, counts)
    assert out.counts()["1"]["synthetic"] == int(out.synthetic.sum())
    assert out.counts()["0"] == {"real": int(np.sum(groups == 0)), "synthetic": 0}
    with pytest.raises(ValueError, match="labels: expected the class labels"):
        rebalance.augment(x, groups, None, game)


def test_conditions_and_their_errors(trained):
    game, *_ = trained
    assert game.group_values == [0, 1] and game.label_values == [0, 1]
    np.testing.assert_array_equal(game.conditions([1, 0], [0, 1]), [[0, 1, 1, 0], [1, 0, 0, 1]])
    with pytest.raises(ValueError, match=r"groups: expected values the game was trained on \(\[0, 1\]\); got \['7'\]"):
        game.conditions([7], [0])
    with pytest.raises(ValueError, match="labels: expected one class label per group value"):
        game.conditions([0])
    with pytest.raises(ValueError, match="group_values: expected a non-empty list of distinct"):
        GroupConditionalGAN(game.generator, game.discriminator, [0, 0])


def test_round_trip_keeps_groups_weights_and_optimizers(trained, tmp_path):
    game, *_ = trained
    path = tmp_path / "rebalancer.keras"
    game.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, GroupConditionalGAN)
    assert loaded.group_values == [0, 1] and loaded.label_values == [0, 1]
    assert int(loaded.g_optimizer.iterations) == int(game.g_optimizer.iterations) == 500
    assert int(loaded.d_optimizer.iterations) == int(game.d_optimizer.iterations)
    np.testing.assert_array_equal(loaded.generate_groups([1, 1], [0, 1], seed=5),
                                  game.generate_groups([1, 1], [0, 1], seed=5))


def test_string_groups_and_images(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (12, 8, 8, 1)).astype("float32")
    groups = np.array(["common"] * 10 + ["rare"] * 2)
    game = rebalance.build_rebalancer(x.shape[1:], ["common", "rare"], width=8, latent_dim=4)
    assert game.generate_groups(np.array(["rare", "common"]), seed=0).shape == (2, 8, 8, 1)
    out = rebalance.augment(x, groups, None, game, target_balance=0.5)
    assert out.counts() == {"common": {"real": 10, "synthetic": 0}, "rare": {"real": 2, "synthetic": 3}}
    folder = rebalance.write_folder(tmp_path / "balanced", out.x, out.groups, synthetic=out.synthetic,
                                    names=[f"img{i}.png" for i in range(12)])
    with open(folder / rebalance.PROVENANCE_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and rows[0] == {"file": "images/img0.png", "group": "common", "label": "",
                                          "synthetic": "0"}
    assert [r["file"] for r in rows[-3:]] == [f"images/synthetic_0000{i}.png" for i in range(3)]
    assert all(r["synthetic"] == "1" and r["group"] == "rare" for r in rows[-3:])
    np.testing.assert_array_equal(images.read_image(folder / rows[1]["file"]), images.to_uint8(x[1]))


def test_write_folder_refuses_to_clobber_and_leaves_nothing_on_a_crash(tmp_path, monkeypatch):
    x = np.zeros((3, 4, 4, 1), "float32")
    (tmp_path / "kept").mkdir()
    with pytest.raises(ValueError, match="out: expected a folder that does not exist yet"):
        rebalance.write_folder(tmp_path / "kept", x, [0, 0, 1])
    calls = []

    def failing_save(image, path, scale=1):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_bytes(b"png")

    monkeypatch.setattr(images, "save_image", failing_save)
    with pytest.raises(OSError, match="disk full"):
        rebalance.write_folder(tmp_path / "new", x, [0, 0, 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    with pytest.raises(ValueError, match="synthetic: expected 3 booleans"):
        rebalance.write_folder(tmp_path / "new", x, [0, 0, 1], synthetic=[True])


def test_write_folder_refuses_names_that_would_overwrite_an_image(tmp_path):
    x = np.linspace(-1, 1, 3 * 16, dtype="float32").reshape(3, 4, 4, 1)
    synthetic = np.array([False, False, True])
    expected = r"^names: expected distinct file names \(compared without folder and suffix\) that do not start with "
    with pytest.raises(ValueError, match=expected + r"'synthetic_'; got 'img0' twice \('img0\.png' and "
                                                     r"'sub/img0\.jpg'\)$"):
        rebalance.write_folder(tmp_path / "a", x, [0, 0, 1], synthetic=synthetic, names=["img0.png", "sub/img0.jpg"])
    with pytest.raises(ValueError, match=expected + r"'synthetic_' \(the generated samples' names\); got "
                                                     r"'synthetic_00000\.png'$"):
        rebalance.write_folder(tmp_path / "b", x, [0, 0, 1], synthetic=synthetic,
                               names=["synthetic_00000.png", "img1.png"])
    with pytest.raises(ValueError, match=r"^names: expected 2 names, one per real sample; got 3 names$"):
        rebalance.write_folder(tmp_path / "c", x, [0, 0, 1], synthetic=synthetic, names=["a", "b", "c"])
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
    folder = rebalance.write_folder(tmp_path / "ok", x, [0, 0, 1], synthetic=synthetic,
                                    names=["img0.png", "sub/img1.jpg"])
    files = sorted(p.name for p in (folder / "images").iterdir())
    assert files == ["img0.png", "img1.png", "synthetic_00000.png"]
    for name, image in zip(files, x):
        np.testing.assert_array_equal(images.read_image(folder / "images" / name), images.to_uint8(image))
    assert rebalance.file_stems(["x/a.png", "b.jpg"]) == ["a", "b"]


def test_replace_folder_swaps_in_the_staged_folder_whole(tmp_path, monkeypatch):
    out, staged = tmp_path / "out", tmp_path / ".out.staged"
    (out / "images").mkdir(parents=True)
    (out / "images" / "old.png").write_bytes(b"old")
    (out / "old.csv").write_text("old")
    (staged / "images").mkdir(parents=True)
    (staged / "images" / "new.png").write_bytes(b"new")
    assert _checks.replace_folder(staged, out) == out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["images", "images/new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # staged gone, nothing of the old set aside
    fresh = tmp_path / "fresh"
    staged.mkdir()
    _checks.replace_folder(staged, fresh)
    assert fresh.is_dir() and not staged.exists()

    staged.mkdir()
    (staged / "newer.csv").write_text("newer")
    real_replace, calls = os.replace, []

    def second_rename_fails(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("device busy")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="device busy"):
        _checks.replace_folder(staged, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["images", "images/new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.staged", "fresh", "out"]
