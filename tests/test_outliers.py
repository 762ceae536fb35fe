"""The outlier-detection app: each method learns one digit class and ranks the others as outliers, the threshold
calibrated on held-out normal data, scikit-learn's signs, vectors of any scale, explanations, bad input,
save/load, ONNX export, data loading, figures.
"""

import json
import zipfile
from types import SimpleNamespace

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from _helpers import BLOCK_HEAVY_IMPORTS, run_python
from PIL import Image
from sklearn.metrics import roc_auc_score

from apps.outliers import Explanation, GANOutlierDetector, load_data, residual_figure, roc_pr_figure
from apps.outliers import app, data, plots
from apps.outliers.app import Standardize, _calibration_split, _from_dataset
from ganapps import runtime
from ganapps.data import _digits_split
from ganapps.images import to_uint8

NORMAL = 3
# Tiny nets, few steps: each fit takes a few seconds on a CPU. Measured test AUROCs with seed 0: fanogan 0.97,
# discriminator 0.93 (100 steps; the critic baseline gets worse, not better, with longer training), anogan 0.98.
TINY = dict(hidden=(64, 64), latent_dim=8, batch_size=32, contamination=0.1, jit_compile=False, seed=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_data("digits", split="train")
    Xt, yt = load_data("digits", split="test")
    return SimpleNamespace(normal=X[y == NORMAL], X=X, y=y, Xt=Xt, yt=yt, outlier=yt != NORMAL)


@pytest.fixture(scope="module")
def fanogan(digits):
    """f-AnoGAN fitted once on the 3s of the training split: 300 GAN steps, then 300 encoder steps."""
    return GANOutlierDetector(method="fanogan", steps=300, encoder_steps=300, **TINY).fit(digits.normal, verbose=0)


def _blob(n: int, seed: int = 0) -> np.ndarray:
    """Correlated Gaussian vectors in 6 features of wildly different scales (1e-3 to 1e4), around 5000."""
    rng = np.random.default_rng(seed)
    mix = 0.5 * np.eye(6) + 0.1 * np.random.default_rng(99).normal(size=(6, 6))
    return rng.normal(size=(n, 6)) @ mix


SCALE = np.array([1000.0, 1.0, 0.001, 50.0, 1e4, 3.0])


# -- each method learns --------------------------------------------------------------------------------------
def test_fanogan_ranks_other_digits_below_the_normal_class(fanogan, digits):
    result = fanogan.evaluate(digits.Xt, digits.outlier)
    assert result["auroc"] > 0.8, result
    assert result["auprc"] > digits.outlier.mean() + 0.05, result  # well above a random ranking's precision
    assert (result["n"], result["outliers"]) == (len(digits.yt), int(digits.outlier.sum()))
    assert set(fanogan.history_) == {"gan", "encoder"}
    assert {"d_loss", "g_loss"} <= set(fanogan.history_["gan"])
    assert {"izi_loss", "image_residual", "feature_residual"} <= set(fanogan.history_["encoder"])
    assert int(fanogan.game.e_optimizer.iterations) == 300 and int(fanogan.game.g_optimizer.iterations) == 300


def test_discriminator_method_ranks_other_digits_lower_and_has_no_reconstruction(digits, tmp_path):
    det = GANOutlierDetector(method="discriminator", steps=100, **TINY).fit(digits.normal, verbose=0)
    assert det.evaluate(digits.Xt, digits.outlier)["auroc"] > 0.8
    assert int(det.game.e_optimizer.iterations) == 0  # no encoder phase
    np.testing.assert_allclose(det.score_samples(digits.Xt[:20]),
                               det.game.discriminator_scores(digits.Xt[:20]), rtol=1e-6)  # realness: same sign
    with pytest.raises(ValueError, match="^method: expected 'fanogan' or 'anogan' to explain"):
        det.explain(digits.Xt[:2])
    with pytest.raises(ValueError, match="^method: expected 'fanogan' to export"):
        det.export(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_anogan_ranks_a_few_other_digits_lower(digits):
    det = GANOutlierDetector(method="anogan", steps=300, anogan_steps=100, anogan_restarts=1, **TINY)
    det.fit(digits.normal, verbose=0)
    pick = np.r_[np.flatnonzero(~digits.outlier)[:10], np.flatnonzero(digits.outlier)[:20]]
    x, is_outlier = digits.Xt[pick], digits.outlier[pick]
    scores = det.score_samples(x)
    assert roc_auc_score(is_outlier, -scores) > 0.8
    explanation = det.explain(x[:3])
    assert explanation.reconstructions.shape == explanation.residual_maps.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(explanation.scores, -scores[:3], rtol=1e-5)  # a fixed seed: the same search


# -- threshold and scikit-learn's signs ----------------------------------------------------------------------
def test_threshold_is_the_contamination_quantile_of_the_held_out_calibration_samples(fanogan, digits):
    fit_part, calibration = _calibration_split(len(digits.normal), 0.2, 32, 0)
    assert fanogan.calibration_size_ == len(calibration) == round(0.2 * len(digits.normal))
    assert len(np.intersect1d(fit_part, calibration)) == 0 and len(fit_part) + len(calibration) == len(digits.normal)
    calibration_scores = fanogan.score_samples(digits.normal[calibration])
    assert fanogan.threshold_ == pytest.approx(np.quantile(calibration_scores, 0.1))
    # held out: the other classes are flagged far more often than the normal class
    test_flags = fanogan.predict(digits.Xt) == -1
    assert test_flags[digits.outlier].mean() > test_flags[~digits.outlier].mean() + 0.3


def test_calibration_split_is_seeded_and_keeps_two_batches_to_train_on():
    a, b = _calibration_split(146, 0.2, 32, 5), _calibration_split(146, 0.2, 32, 5)
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    assert not np.array_equal(_calibration_split(146, 0.2, 32, 6)[1], a[1])
    assert [len(part) for part in _calibration_split(146, 0.2, 64, 0)] == [128, 18]  # the defaults on one digit
    assert [len(part) for part in _calibration_split(129, 0.001, 64, 0)] == [128, 1]  # at least one
    np.testing.assert_array_equal(_calibration_split(146, 0.0, 64, 0)[0], np.arange(146))
    with pytest.raises(ValueError, match=r"^X: expected at least 2 \* batch_size \+ 1 = 129 samples: 128 to train "
                                         r"on and 1 or more held out.*calibration_fraction=0.2.*; got 128 samples"):
        _calibration_split(128, 0.2, 64, 0)


def test_held_out_calibration_flags_about_contamination_of_new_normal_data_and_training_scores_far_more():
    """A GAN fits its training samples more closely than new ones: a threshold set on their scores flags several
    times ``contamination`` of new normal data, one set on held-out samples about ``contamination``."""
    X, y = load_data("digits", split="train")
    Xt, yt = load_data("digits", split="test")
    settings = dict(TINY, hidden=(128, 128), latent_dim=32, steps=300, encoder_steps=600)
    flagged = {}
    for fraction in (0.2, 0.0):
        det = GANOutlierDetector(calibration_fraction=fraction, **settings).fit(X[y == NORMAL], verbose=0)
        predicted = det.predict(Xt) == -1
        flagged[fraction] = predicted[yt == NORMAL].mean(), predicted[yt != NORMAL].mean()
    (calibrated, caught), (optimistic, _) = flagged[0.2], flagged[0.0]
    assert calibrated < 0.3 and caught > 0.7, flagged  # about contamination = 0.1 of new 3s; most other digits
    assert optimistic > calibrated + 0.15, flagged  # measured at seed 0: 0.03 calibrated, 0.27 optimistic


def test_predict_is_the_sign_of_decision_function(fanogan, digits):
    scores = fanogan.score_samples(digits.Xt)
    decision = fanogan.decision_function(digits.Xt)
    np.testing.assert_allclose(decision, scores - fanogan.threshold_)
    predicted = fanogan.predict(digits.Xt)
    assert set(np.unique(predicted)) == {-1, 1}
    np.testing.assert_array_equal(predicted, np.where(decision < 0, -1, 1))
    # scikit-learn's sign: lower = more abnormal = higher f-AnoGAN anomaly score
    np.testing.assert_allclose(scores, -fanogan.game.anomaly_scores(digits.Xt).scores, rtol=1e-6)


def test_uint8_images_grayscale_batches_datasets_and_folders_score_alike(fanogan, digits, tmp_path):
    pixels = to_uint8(digits.Xt[:6])
    as_float = pixels.astype(np.float32) / 127.5 - 1.0
    expected = fanogan.score_samples(as_float)
    np.testing.assert_allclose(fanogan.score_samples(pixels), expected, rtol=1e-6)
    np.testing.assert_allclose(fanogan.score_samples(as_float[..., 0]), expected, rtol=1e-6)  # (n, H, W)
    labelled = tf.data.Dataset.from_tensor_slices((as_float, np.arange(6))).batch(4)
    np.testing.assert_allclose(fanogan.score_samples(labelled), expected, rtol=1e-6)
    # gray datasets: single (8, 8) images, and batches (3, 8, 8) of a fixed size, told apart by the fitted shape
    gray = tf.data.Dataset.from_tensor_slices(as_float[..., 0])
    np.testing.assert_allclose(fanogan.score_samples(gray), expected, rtol=1e-6)
    np.testing.assert_allclose(fanogan.score_samples(gray.batch(3, drop_remainder=True)), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^X: expected dataset elements of samples of shape \(8, 8, 1\) or of "
                                         r"batches of them.*got elements of shape \(6,\)"):
        fanogan.score_samples(tf.data.Dataset.from_tensor_slices(np.zeros((4, 6), np.float32)))
    for i, image in enumerate(pixels):
        Image.fromarray(image[..., 0]).save(tmp_path / f"{i}.png")
    np.testing.assert_allclose(fanogan.score_samples(tmp_path), expected, rtol=1e-6)


def test_an_unfitted_detector_reads_a_dataset_by_its_element_spec_and_refuses_what_it_cannot_tell():
    images = np.zeros((10, 8, 8), np.float32)
    slices = tf.data.Dataset.from_tensor_slices
    cases = [
        (slices(images).batch(4), (10, 8, 8)),  # (None, 8, 8): batches with a remainder
        (slices(images).batch(5, drop_remainder=True), (10, 8, 8)),  # (5, 8, 8): a gray batch, 8 is no channel count
        (slices(images[..., None]), (10, 8, 8, 1)),  # (8, 8, 1): one image each
        (slices(images[..., None]).batch(5, drop_remainder=True), (10, 8, 8, 1)),
        (slices(np.zeros((10, 3), np.float32)), (10, 3)),  # (3,): one vector each
        (slices(np.zeros((10, 3), np.float32)).batch(4), (10, 3)),  # (None, 3)
    ]
    for ds, shape in cases:
        assert _from_dataset(ds, "X").shape == shape, ds.element_spec
    with pytest.raises(ValueError, match=r"^X: expected dataset elements whose shape tells one sample from a batch: "
                                         r"batch the dataset with \.batch\(n\).*channel axis.*got elements of shape "
                                         r"\(8, 8\), which could be one 8x8 gray image or a batch of 8 vectors"):
        GANOutlierDetector(**TINY).fit(slices(images), verbose=0)
    with pytest.raises(ValueError, match="^X: expected a dataset with at least one sample"):
        _from_dataset(slices(images[..., None]).take(0), "X")


# -- vectors -------------------------------------------------------------------------------------------------
def test_vectors_of_any_scale_are_standardised_and_export_standardises_in_graph(tmp_path):
    center = np.array([5000.0, -3.0, 0.0, 20.0, 1e5, 7.0])
    train = _blob(300) * SCALE + center
    train = np.c_[train, np.full(len(train), 42.0)]  # a constant feature
    inliers = np.c_[_blob(100, seed=1) * SCALE + center, np.full(100, 42.0)]
    directions = np.random.default_rng(2).normal(size=(100, 6))
    far = 4.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)  # 4 "sigmas" out, any direction
    outliers = np.c_[far * SCALE + center, np.full(100, 42.0)]

    det = GANOutlierDetector(steps=300, encoder_steps=300, **{**TINY, "latent_dim": 4}).fit(train, verbose=0)
    assert det.input_kind_ == "vectors" and det.sample_shape_ == (7,)
    fit_part = train[_calibration_split(len(train), 0.2, 32, 0)[0]]  # statistics of what the GAN trains on
    np.testing.assert_allclose(det.mean_, fit_part.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(det.std_[:6], fit_part.std(axis=0)[:6], rtol=1e-5)
    assert det.std_[6] == 1.0
    x = np.concatenate([inliers, outliers])
    is_outlier = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    assert det.evaluate(x, is_outlier)["auroc"] > 0.8
    explanation = det.explain(inliers)
    assert explanation.reconstructions.shape == explanation.residual_maps.shape == inliers.shape
    # reconstructions come back in the data's own units: within a training std of the inliers, on average
    error = np.abs(explanation.reconstructions - inliers).mean(axis=0)
    assert (error[:6] < det.std_[:6]).all(), error / det.std_

    loaded = GANOutlierDetector.load(det.save(tmp_path / "vectors.keras"))
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))
    np.testing.assert_array_equal(loaded.mean_, det.mean_)

    det.export(tmp_path / "export")
    scorer = runtime.OutlierScorer(tmp_path / "export")
    assert scorer.input_kind == "vectors" and scorer.sample_shape == (7,)
    np.testing.assert_allclose(scorer.score_samples(x), det.score_samples(x), rtol=1e-4, atol=1e-4)
    out = scorer.score(inliers)
    np.testing.assert_allclose(out["reconstruction"], explanation.reconstructions, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out["residual"], explanation.residual_maps, rtol=1e-4, atol=1e-4)


# -- explanations --------------------------------------------------------------------------------------------
def test_explain_shapes_follow_the_input_and_the_residual_finds_a_pasted_square(fanogan, digits):
    x = digits.Xt[~digits.outlier][:8]
    explanation = fanogan.explain(x)
    assert isinstance(explanation, Explanation)
    assert explanation.reconstructions.shape == explanation.residual_maps.shape == x.shape
    assert explanation.scores.shape == (8,)
    assert np.abs(explanation.reconstructions).max() <= 1.0
    np.testing.assert_allclose(explanation.scores, -fanogan.score_samples(x), rtol=1e-6)
    np.testing.assert_allclose(explanation.residual_maps, (x - explanation.reconstructions) ** 2, atol=1e-6)
    gray = fanogan.explain(x[..., 0])  # (n, H, W) in, (n, H, W) out
    assert gray.reconstructions.shape == gray.residual_maps.shape == (8, 8, 8)

    altered = x.copy()
    altered[:, 2:5, 0:3, :] = 1.0  # a bright square where a 3 is dark
    inside = np.zeros(x.shape[1:], bool)
    inside[2:5, 0:3] = True
    maps = fanogan.explain(altered).residual_maps
    for i in range(len(x)):
        assert maps[i][inside].mean() > 2 * maps[i][~inside].mean(), i
    assert (fanogan.score_samples(altered) < fanogan.score_samples(x)).all()


# -- bad input -----------------------------------------------------------------------------------------------
def test_bad_data_raise_errors_naming_x(fanogan, digits, tmp_path):
    with pytest.raises(ValueError, match=r"^X: expected samples of shape \(8, 8, 1\) \(what the detector was "
                                         r"fitted on\); got \(16, 16, 1\)"):
        fanogan.score_samples(np.zeros((2, 16, 16, 1), np.float32))
    with pytest.raises(ValueError, match=r"^X: expected samples of shape \(8, 8, 1\).*got \(64,\)"):
        fanogan.score_samples(np.zeros((2, 64), np.float32))
    broken = digits.Xt[:4].copy()
    broken[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="^X: expected finite values; got 1 NaN"):
        fanogan.score_samples(broken)
    with pytest.raises(ValueError, match=r"^X: expected float images in \[-1, 1\].*got values from"):
        fanogan.score_samples(digits.Xt[:4] * 8.0 + 8.0)  # the 0..16 of the raw digits
    with pytest.raises(ValueError, match="^X: expected a numeric array"):
        fanogan.score_samples(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"^X: expected at least 2 \* batch_size \+ 1 = 65 samples.*got 40 samples"):
        GANOutlierDetector(**TINY).fit(digits.normal[:40], verbose=0)
    with pytest.raises(ValueError, match=r"^X: expected at least 2 \* batch_size = 64 samples to train on \(or a "
                                         r"smaller batch_size\); got 40 samples"):
        GANOutlierDetector(calibration_fraction=0, **TINY).fit(digits.normal[:40], verbose=0)
    with pytest.raises(ValueError, match=r"^X: expected vectors \(n_samples, n_features\) or images"):
        GANOutlierDetector(**TINY).fit(np.zeros(200), verbose=0)
    with pytest.raises(ValueError, match="^X: expected finite values"):
        GANOutlierDetector(**TINY).fit(np.full((100, 3), np.inf), verbose=0)
    with pytest.raises(ValueError, match="^X: expected images whose height and width are powers of two.*resize"):
        GANOutlierDetector(architecture="dcgan", **TINY).fit(np.zeros((100, 6, 6, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match="^architecture: expected 'mlp' or 'auto' for vectors"):
        GANOutlierDetector(architecture="dcgan", **TINY).fit(np.zeros((100, 3)), verbose=0)
    with pytest.raises(ValueError, match="^steps: expected a positive integer"):
        GANOutlierDetector(**TINY).fit(digits.normal, steps=0, verbose=0)
    with pytest.raises(FileNotFoundError, match="^X: expected an array.*which does not exist"):
        fanogan.score_samples("no/such/folder")
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match=r"^X: expected a \.npy file of a numeric array.*bad\.npy"):
        fanogan.score_samples(tmp_path / "bad.npy")
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(ValueError, match="^X: expected numeric columns.*'x' in bad.csv, row 2"):
        fanogan.score_samples(str(tmp_path / "bad.csv"))
    with pytest.raises(ValueError, match="^detector: expected a fitted detector"):
        GANOutlierDetector().score_samples(digits.Xt[:2])


@pytest.mark.parametrize("setting, value", [
    ("method", "pca"), ("contamination", 0.0), ("contamination", 0.6), ("calibration_fraction", 0.5),
    ("calibration_fraction", -0.1), ("calibration_fraction", None), ("architecture", "resnet"),
    ("latent_dim", 0), ("hidden", ()), ("hidden", (32, -1)), ("width", 1.5), ("kappa", -1.0), ("lam", 1.5),
    ("loss", "nope"), ("r1", float("nan")), ("batch_size", 0), ("learning_rate", 0.0),
    ("encoder_learning_rate", "fast"), ("steps", 0), ("encoder_steps", -5), ("anogan_steps", 2.5),
    ("anogan_restarts", 0), ("seed", -1), ("jit_compile", "yes"), ("jit_compile", 1),
])
def test_bad_settings_raise_errors_naming_them(setting, value):
    with pytest.raises(ValueError, match=f"^{setting}: expected .*; got "):
        GANOutlierDetector(**{setting: value})


def test_the_same_seed_gives_the_same_detector(digits):
    runs = []
    for _ in range(2):
        det = GANOutlierDetector(steps=5, encoder_steps=5, **{**TINY, "seed": 3}).fit(digits.normal, verbose=0)
        runs.append((det.threshold_, det.game.get_weights()))  # the calibration split is seeded too
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


# -- files ---------------------------------------------------------------------------------------------------
def test_save_load_round_trip_keeps_scores_threshold_and_optimizers(fanogan, digits, tmp_path):
    path = fanogan.save(tmp_path / "det.keras")
    loaded = GANOutlierDetector.load(path)
    assert loaded.settings == fanogan.settings and loaded.threshold_ == fanogan.threshold_
    assert loaded.settings["calibration_fraction"] == 0.2 and loaded.calibration_size_ == fanogan.calibration_size_
    assert (loaded.sample_shape_, loaded.input_kind_) == ((8, 8, 1), "images")
    np.testing.assert_array_equal(loaded.score_samples(digits.Xt), fanogan.score_samples(digits.Xt))
    np.testing.assert_array_equal(loaded.predict(digits.Xt), fanogan.predict(digits.Xt))
    for name in ("g_optimizer", "d_optimizer", "e_optimizer"):
        assert int(getattr(loaded.game, name).iterations) == 300, name
    for a, b in zip(loaded.game.get_weights(), fanogan.game.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.history_ == fanogan.history_

    # a file from before calibration: its threshold came from the training samples, and it says so once loaded
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(members["outliers/settings.json"])
    del record["settings"]["calibration_fraction"], record["calibration_size"]
    members["outliers/settings.json"] = json.dumps(record).encode()
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    old = GANOutlierDetector.load(tmp_path / "old.keras")
    assert (old.settings["calibration_fraction"], old.calibration_size_, old.threshold_) == \
        (0.0, 0, fanogan.threshold_)

    # settings missing, unknown or invalid: a path error naming the file and the key
    def broken(change) -> str:
        record = json.loads(members["outliers/settings.json"])
        change(record)
        with zipfile.ZipFile(tmp_path / "broken.keras", "w") as archive:
            for name, content in members.items():
                archive.writestr(name, json.dumps(record) if name == "outliers/settings.json" else content)
        with pytest.raises(ValueError) as info:
            GANOutlierDetector.load(tmp_path / "broken.keras")
        text = str(info.value)
        assert text.startswith("path: expected ") and "in outliers/settings.json of " in text, text
        assert str(tmp_path / "broken.keras") in text, text
        return text

    assert "the key 'threshold'; got none" in broken(lambda r: r.pop("threshold"))
    assert "under 'settings'; got the unknown key 'colour'" in broken(lambda r: r["settings"].update(colour="red"))
    assert "under 'settings'; got list" in broken(lambda r: r.update(settings=[1]))
    assert "under 'settings'; got latent_dim: expected a positive integer; got 0" in \
        broken(lambda r: r["settings"].update(latent_dim=0))
    assert "under 'sample_shape'; got 'abc'" in broken(lambda r: r.update(sample_shape="abc"))
    assert "under 'mean'; got None" in broken(lambda r: r.update(input_kind="vectors"))

    fanogan.game.save(tmp_path / "bare.keras")  # a game without the detector's settings
    with pytest.raises(ValueError, match="^path: expected a file written by GANOutlierDetector.save"):
        GANOutlierDetector.load(tmp_path / "bare.keras")
    with pytest.raises(ValueError, match="^path: expected a file name ending in .keras"):
        fanogan.save(tmp_path / "det.h5")
    with pytest.raises(ValueError, match="^detector: expected a fitted detector"):
        GANOutlierDetector().save(tmp_path / "unfitted.keras")


def test_a_crash_during_save_leaves_no_file(fanogan, tmp_path, monkeypatch):
    """The crash comes after Keras has written the game, as the detector adds its settings."""
    writestr = zipfile.ZipFile.writestr

    def crash(archive, name, *args, **kwargs):
        if str(getattr(name, "filename", name)).startswith("outliers/"):
            raise OSError("disk full")
        return writestr(archive, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        fanogan.save(tmp_path / "det.keras")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    before = fanogan.save(tmp_path / "det.keras").read_bytes()
    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        fanogan.save(tmp_path / "det.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["det.keras"]  # the earlier file, whole, and nothing else
    assert (tmp_path / "det.keras").read_bytes() == before


def test_export_scores_with_onnxruntime_as_score_samples(fanogan, digits, tmp_path):
    metadata = fanogan.export(tmp_path / "export")
    assert (tmp_path / "export" / "model.onnx").is_file() and (tmp_path / "export" / "saved_model").is_dir()
    assert metadata["task"] == "outlier_scoring" and metadata["method"] == "fanogan"
    assert metadata["threshold"] == pytest.approx(-fanogan.threshold_)  # the anomaly-score scale
    assert (metadata["calibration_fraction"], metadata["calibration_size"]) == (0.2, fanogan.calibration_size_)
    assert (metadata["input_kind"], metadata["sample_shape"], metadata["value_range"]) == \
        ("images", [8, 8, 1], [-1.0, 1.0])
    assert {o["name"] for o in metadata["outputs"]} == {"score", "reconstruction", "residual"}

    session = ort.InferenceSession(str(tmp_path / "export" / "model.onnx"), providers=["CPUExecutionProvider"])
    score, reconstruction = session.run(["score", "reconstruction"], {"x": digits.Xt})
    np.testing.assert_allclose(-score.reshape(-1), fanogan.score_samples(digits.Xt), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reconstruction, fanogan.explain(digits.Xt).reconstructions, atol=1e-5)
    scorer = runtime.OutlierScorer(tmp_path / "export")
    decision = fanogan.decision_function(digits.Xt)
    clear = np.abs(decision) > 1e-4  # away from the threshold, where rounding cannot flip a sample
    np.testing.assert_array_equal(scorer.predict(digits.Xt)[clear], fanogan.predict(digits.Xt)[clear])


# -- data ----------------------------------------------------------------------------------------------------
def test_load_data_digits_are_the_library_split_read_without_tensorflow():
    """apps.outliers.data reads the digits from ganapps.data's arrays, so that ``evaluate`` needs no TensorFlow;
    the samples, their order and the labels are those of the library's split."""
    for split in ("train", "test", "all"):
        X, y = load_data("digits", split=split)
        images, labels = _digits_split(split, None, 1)
        assert X.dtype == images.dtype and y.dtype == labels.dtype and X.flags.writeable
        np.testing.assert_array_equal(X, images)
        np.testing.assert_array_equal(y, labels)
    assert load_data is data.load_data is app.load_data


def test_load_data_digits_npy_csv_and_image_folders(tmp_path):
    X, y = load_data("digits", split="test")
    assert X.shape[1:] == (8, 8, 1) and X.dtype == np.float32 and len(y) == len(X)
    assert -1.0 <= X.min() and X.max() <= 1.0
    threes, labels = load_data("digits", normal_class=NORMAL)
    assert (labels == NORMAL).all() and len(threes) == int((load_data("digits")[1] == NORMAL).sum())
    assert load_data("digits", split="test", image_size=16)[0].shape == (len(X), 16, 16, 1)

    vectors = np.random.default_rng(0).normal(size=(20, 3)) * 100
    np.save(tmp_path / "x.npy", vectors)
    loaded, labels = load_data(tmp_path / "x.npy")
    np.testing.assert_array_equal(loaded, vectors)
    assert labels is None
    (tmp_path / "x.csv").write_text("a,b,c\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in vectors))
    np.testing.assert_array_equal(load_data(tmp_path / "x.csv")[0], vectors)
    for name in ("x.npy", "x.csv"):  # arrays are loaded as stored: a size to resize to is refused, not ignored
        with pytest.raises(ValueError, match=rf"^image_size: expected None for a \.npy or \.csv file.*got 16 for "
                                             rf"'.*{name}'"):
            load_data(tmp_path / name, image_size=16)

    folder = tmp_path / "images"
    folder.mkdir()
    pixels = to_uint8(X[:5])
    for i, image in enumerate(pixels):
        Image.fromarray(image[..., 0]).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    images, labels = load_data(folder)
    assert labels is None and images.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(images, pixels / 127.5 - 1.0, atol=1e-6)
    assert load_data(folder, image_size=(4, 6))[0].shape == (5, 4, 6, 1)

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / "9_big.png")
    with pytest.raises(ValueError, match="^source: expected images of one size.*got 9_big.png of 16x16"):
        load_data(folder)
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(ValueError, match="^source: expected numeric columns.*'x' in bad.csv, row 2"):
        load_data(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match="^source: expected 'digits'.*which does not exist"):
        load_data(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="^normal_class: expected None for unlabelled data"):
        load_data(tmp_path / "x.npy", normal_class=3)
    with pytest.raises(ValueError, match=r"^normal_class: expected one of the labels \[0, 1"):
        load_data("digits", normal_class=11)
    with pytest.raises(ValueError, match="^split: expected one of"):
        load_data("digits", split="validation")


# -- figures -------------------------------------------------------------------------------------------------
def test_figures_are_written_as_png(fanogan, digits, tmp_path):
    anomaly = -fanogan.score_samples(digits.Xt)
    roc = roc_pr_figure(anomaly, digits.outlier, tmp_path / "roc_pr.png")
    top = np.argsort(anomaly)[-6:]
    explanation = fanogan.explain(digits.Xt[top])
    heat = residual_figure(digits.Xt[top], explanation.reconstructions, explanation.residual_maps,
                           tmp_path / "top.png", scores=explanation.scores, names=[str(i) for i in top],
                           threshold=-fanogan.threshold_)
    rgba = np.concatenate([digits.Xt[:3]] * 3 + [np.ones_like(digits.Xt[:3])], axis=-1)  # drawn over white
    gray = residual_figure(rgba[..., 0], rgba[..., 1], rgba[..., 2] ** 2, tmp_path / "gray.png")  # (n, H, W)
    for path in (roc, heat, gray, residual_figure(rgba, rgba, rgba ** 2, tmp_path / "rgba.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as image:
            assert min(image.size) > 100
    vectors = np.random.default_rng(0).normal(size=(3, 5))
    assert residual_figure(vectors, vectors * 0.9, (vectors * 0.1) ** 2, tmp_path / "v.png").is_file()
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left
    with pytest.raises(ValueError, match="^path: expected a file name ending in one of"):
        roc_pr_figure(anomaly, digits.outlier, tmp_path / "roc.txt")
    with pytest.raises(ValueError, match="^is_outlier: expected one flag per sample"):
        roc_pr_figure(anomaly, digits.outlier[:5], tmp_path / "roc.png")
    with pytest.raises(ValueError, match="^is_outlier: expected both outliers and inliers"):
        roc_pr_figure(anomaly, np.zeros(len(anomaly), bool), tmp_path / "roc.png")
    with pytest.raises(ValueError, match="^reconstructions: expected the shape of images"):
        residual_figure(digits.Xt[:2], digits.Xt[:3], digits.Xt[:2], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"^names: expected None or one name per sample \(2\)"):
        residual_figure(digits.Xt[:2], digits.Xt[:2], digits.Xt[:2], tmp_path / "x.png", names=["a"])
    with pytest.raises(ValueError, match="^threshold: expected None, or a finite anomaly score given with scores"):
        residual_figure(digits.Xt[:2], digits.Xt[:2], digits.Xt[:2], tmp_path / "x.png", threshold=0.5)
    assert not (tmp_path / "x.png").exists()


def test_importing_the_app_package_drawing_figures_and_loading_data_does_not_start_tensorflow(tmp_path):
    """The figures live in apps.outliers.plots (NumPy, matplotlib, scikit-learn) and load_data in
    apps.outliers.data, so the ONNX-only CLI draws and loads with them; app.py and the package hand out the very
    same functions."""
    (tmp_path / "folder").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "folder" / name)
    proc = run_python(BLOCK_HEAVY_IMPORTS + f"""
import numpy as np, apps.outliers
from apps.outliers import residual_figure, roc_pr_figure
x = np.zeros((2, 8, 8, 1), np.float32)
residual_figure(x, x, x, {str(tmp_path / "r.png")!r}, scores=[1.0, 2.0], names=["a", "b"], threshold=1.5)
roc_pr_figure([0.1, 0.9, 0.4], [0, 1, 0], {str(tmp_path / "roc.png")!r})
from apps.outliers import load_data
X, y = load_data("digits", split="test", normal_class=3)
assert X.shape[1:] == (8, 8, 1) and (y == 3).all()
assert load_data({str(tmp_path / "folder")!r}, image_size=4)[0].shape == (2, 4, 4, 1)
assert 'tensorflow' not in sys.modules, 'tensorflow imported'
assert 'keras' not in sys.modules, 'keras imported'
print('ok')
""")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
    assert (tmp_path / "r.png").is_file() and (tmp_path / "roc.png").is_file()
    assert residual_figure is plots.residual_figure is app.residual_figure
    assert roc_pr_figure is plots.roc_pr_figure is app.roc_pr_figure


def test_auto_architecture_takes_conv_nets_for_large_images_and_they_train(digits):
    det = GANOutlierDetector(**TINY)
    assert det._architecture((32, 32, 1), "images") == "mlp" and det._architecture((100,), "vectors") == "mlp"
    assert det._architecture((64, 64, 3), "images") == "dcgan"
    big = load_data("digits", normal_class=NORMAL, image_size=16)[0]
    det = GANOutlierDetector(architecture="dcgan", width=8, steps=4, encoder_steps=4, **TINY).fit(big, verbose=0)
    assert any(type(layer).__name__ == "Conv2DTranspose" for layer in det.game.generator.layers)
    assert any(type(layer).__name__ == "Conv2D" for layer in det.game.encoder.layers)
    assert np.isfinite(det.score_samples(big[:5])).all()
    assert det.explain(big[:2]).residual_maps.shape == (2, 16, 16, 1)


def test_standardize_layer_inverts_and_round_trips_through_keras_files(tmp_path):
    mean, std = np.array([5000.0, -3.0, 0.5], np.float32), np.array([1000.0, 0.001, 1.0], np.float32)
    x = keras.Input((3,), name="x")
    model = keras.Model(x, Standardize(mean, std, invert=True)(Standardize(mean, std, name="forward")(x)))
    values = (np.random.default_rng(0).normal(size=(4, 3)) * std + mean).astype(np.float32)
    np.testing.assert_allclose(model.get_layer("forward")(values).numpy(), (values - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(model(values).numpy(), values, rtol=1e-5)
    model.save(tmp_path / "standardize.keras")
    loaded = keras.models.load_model(tmp_path / "standardize.keras")
    np.testing.assert_array_equal(loaded(values).numpy(), model(values).numpy())
    assert loaded.get_layer("forward").get_config()["std"] == pytest.approx(std.tolist())
    with pytest.raises(ValueError, match="^std: expected positive values"):
        Standardize(mean, np.zeros(3))
