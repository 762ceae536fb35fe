"""The debiasing app's Python side: DatasetDebiaser, the downstream classifier's methods, the bias report."""

import json

import numpy as np
import pytest

from apps.debias.app import DatasetDebiaser, as_samples, predict_labels, train_classifier, training_probabilities
from apps.debias.report import rarity_figure, top_weighted_shares, write_report
from ganapps import nets, rebalance


def _planted(n=400, rare=0.05, seed=0):
    """Vectors: a common blob and a rare one far from it along the first axes; the label is the sign of x[2]."""
    rng = np.random.default_rng(seed)
    groups = (rng.random(n) < rare).astype(int)
    groups[:3] = 1
    x = rng.normal(0, 1, (n, 6)).astype("float32")
    x[groups == 1, :2] += 5.0
    y = (x[:, 2] > 0).astype(int)
    return x, y, groups


def _images(n=160, rare=0.1, seed=0):
    """8x8 images: a bright square top-left (common) or bottom-right (rare), with noise."""
    rng = np.random.default_rng(seed)
    groups = (rng.random(n) < rare).astype(int)
    x = rng.normal(-0.8, 0.05, (n, 8, 8, 1))
    for i, g in enumerate(groups):
        r = slice(4, 8) if g else slice(0, 4)
        x[i, r, r] = 0.8
    return np.clip(x, -1, 1).astype("float32"), groups


@pytest.fixture(scope="module")
def fitted():
    x, y, groups = _planted()
    deb = DatasetDebiaser(latent_dim=2, alpha=0.01, bins=10, steps=300, batch_size=64, hidden=(32, 32), seed=0,
                          jit_compile=False)
    return deb.fit(x), x, y, groups


def test_the_latent_weights_find_the_rare_group_without_seeing_it(fitted):
    deb, x, _, groups = fitted
    standardised = (x - x.mean(0)) / x.std(0)
    error = float(np.mean((deb.reconstruct(x) - standardised) ** 2))
    assert error < 0.8, error  # the data mean scores 1.0; a latent of 2 for 6 features cannot reach 0
    w = deb.sample_weights(x)
    assert w.shape == (len(x),) and abs(w.mean() - 1) < 1e-5
    assert w[groups == 1].mean() > 3 * w[groups == 0].mean()
    shares = top_weighted_shares(w, groups, top=0.05)
    assert shares["1"]["share_of_top"] > 0.5 > 0.1 > shares["1"]["share_of_data"], shares


def test_save_load_round_trip_keeps_the_weights(fitted, tmp_path):
    deb, x, _, _ = fitted
    path = deb.save(tmp_path / "debiaser.keras")
    loaded = DatasetDebiaser.load(path)
    np.testing.assert_allclose(loaded.sample_weights(x), deb.sample_weights(x), rtol=1e-5)
    assert int(loaded.game.e_optimizer.iterations) == int(deb.game.e_optimizer.iterations) == 300
    uniform = DatasetDebiaser.load(path, alpha=1e6).sample_weights(x)
    assert np.ptp(uniform) < 1e-3
    with pytest.raises(ValueError, match="path: expected a file written by DatasetDebiaser.save"):
        deb.game.save(tmp_path / "game.keras")
        DatasetDebiaser.load(tmp_path / "game.keras")


def test_resampling_and_callback_draw_the_rare_group_often(fitted):
    deb, x, y, groups = fitted
    ds = deb.resampled_dataset(x, groups, batch_size=50, steps=20, seed=1)
    drawn = np.concatenate([b[1].numpy() for b in ds.take(20)])
    assert drawn.mean() > 5 * groups.mean()
    callback = deb.callback(x)
    callback.on_epoch_begin(0)
    p = np.asarray(callback.probabilities.numpy())
    np.testing.assert_allclose(p, deb.sample_weights(x, normalize="probability"), rtol=1e-4)


def test_every_classifier_method_learns(fitted):
    deb, x, y, groups = fitted
    accuracy = {}
    for method in ("plain", "latent", "oracle"):
        model = train_classifier(x, y, method=method, groups=groups, debiaser=deb, epochs=4, batch_size=32)
        accuracy[method] = float(np.mean(predict_labels(model, x) == y))
    assert min(accuracy.values()) > 0.8, accuracy  # chance is about 0.5
    # what tells the methods apart: the share of the rare group (5% of x) in the batches each one draws
    share = groups.mean()
    mass = {method: float(training_probabilities(x, y, method, groups, deb)[groups == 1].sum())
            for method in ("plain", "latent", "oracle")}
    assert mass["plain"] == pytest.approx(share)
    assert mass["oracle"] == pytest.approx(0.5)  # each group half of the draws
    assert mass["latent"] > 4 * share, mass  # found without seeing the groups
    uniform = training_probabilities(x, y, "rebalance", groups)
    assert np.allclose(uniform, 1 / len(x)) and uniform.sum() == pytest.approx(1.0)
    whole = training_probabilities(x, y, "latent", groups, deb, per_class=False)
    np.testing.assert_allclose(whole, deb.sample_weights(x, normalize="probability"), rtol=1e-6)
    with pytest.raises(ValueError, match="groups: expected 400 group values, one per sample; got shape"):
        training_probabilities(x, y, "oracle", groups[:10])
    with pytest.raises(ValueError, match="groups: expected each sample's group for method 'oracle'"):
        train_classifier(x, y, method="oracle")
    with pytest.raises(ValueError, match="debiaser: expected a fitted DatasetDebiaser"):
        train_classifier(x, y, method="latent")
    with pytest.raises(ValueError, match="method: expected one of"):
        train_classifier(x, y, method="magic")
    with pytest.raises(ValueError, match="y: expected 400 integer class labels"):
        train_classifier(x, y[:10])
    groups_only = rebalance.build_rebalancer(x.shape[1:], [0, 1], latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match=r"^rebalancer: expected a GroupConditionalGAN conditioned on class labels "
                                         r"\(fit_rebalancer with labels\); got one conditioned on groups only$"):
        train_classifier(x, y, method="rebalance", groups=groups, rebalancer=groups_only)


def test_images_report_and_rarity_figure(tmp_path):
    x, groups = _images()
    deb = DatasetDebiaser(latent_dim=2, alpha=0.01, bins=10, steps=150, hidden=(32,), seed=0, jit_compile=False).fit(x)
    rarity = deb.rarity(x)
    assert rarity[groups == 1].mean() > rarity[groups == 0].mean()
    before = int(deb.game.g_optimizer.iterations)
    callback = deb.callback(x, refine_steps=3)  # the joint flavour: the VAE-GAN trains on before each recompute
    callback.on_epoch_begin(0)
    assert int(deb.game.g_optimizer.iterations) == before + 3
    np.testing.assert_allclose(callback.probabilities.numpy(), deb.sample_weights(x, normalize="probability"),
                               rtol=1e-4)
    path = deb.rarity_figure(x, tmp_path / "rarity.png", n=6)
    assert path.stat().st_size > 1000
    y_true = np.arange(len(x)) % 2
    y_pred = np.where(groups == 1, 1 - y_true, y_true)  # the rare group is always wrong
    record = write_report(tmp_path / "report", y_true, y_pred, groups, train_groups=groups, train_rarity=rarity,
                          x_train=x, notes=["made in a test"])
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["groups.png", "rarity.png", "report.json",
                                                                        "report.md"]
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["test"]["worst_group"] == "1" and saved["test"]["worst_group_accuracy"] == 0.0
    assert saved["train_counts"] == {"0": int((groups == 0).sum()), "1": int((groups == 1).sum())}
    assert saved["top_rarest"]["groups"]["1"]["share_of_top"] > saved["top_rarest"]["groups"]["1"]["share_of_data"]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "made in a test" in text and "rarest 5%" in text and "![per-group" in text
    with pytest.raises(ValueError, match="path: expected a figure file ending in"):
        rarity_figure(x, rarity, tmp_path / "r.txt")


def test_markdown_tables_escape_group_names(tmp_path):
    groups = np.array(["a|b"] * 6 + ["c"] * 4)
    y = np.arange(10) % 2
    write_report(tmp_path, y, y, groups, train_groups=groups, train_rarity=np.arange(10.0), top=0.2)
    text = (tmp_path / "report.md").read_text()
    assert "| a\\|b | 6 | 0.600 |" in text  # training counts
    assert "| a\\|b | 0.600 | 0.000 |" in text and "| c | 0.400 | 1.000 |" in text  # the rarest 20%: c's
    assert "| a|b" not in text


def test_inputs_are_checked():
    with pytest.raises(ValueError, match=r"x: expected float images in \[-1, 1\]"):
        as_samples(np.full((2, 4, 4, 1), 3.0))
    with pytest.raises(ValueError, match="x: expected a non-empty array"):
        as_samples(np.array(["a", "b"]))
    images, kind = as_samples(np.full((2, 4, 4), 255, np.uint8))
    assert kind == "images" and images.shape == (2, 4, 4, 1) and np.allclose(images, 1.0)
    with pytest.raises(ValueError, match="alpha: expected"):
        DatasetDebiaser(alpha=0)
    with pytest.raises(ValueError, match="self: expected a fitted debiaser"):
        DatasetDebiaser().encode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="architecture: expected 'mlp' or 'auto' for vectors"):
        DatasetDebiaser(architecture="dcgan").fit(np.zeros((4, 3)))
    params = DatasetDebiaser(seed=np.int64(3)).get_params()
    assert type(params["seed"]) is int and json.loads(json.dumps(params))["seed"] == 3  # save writes them as JSON
    for value in (1.0, -0.1, True, "0.2", float("nan")):
        with pytest.raises(ValueError, match=r"^dropout: expected a rate in \[0, 1\); got"):
            nets.small_classifier((6,), 2, dropout=value)
    for value in (-1, 1.5, None):
        with pytest.raises(ValueError, match=r"^seed: expected a non-negative integer; got"):
            nets.small_classifier((6,), 2, seed=value)
