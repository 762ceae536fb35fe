"""Sample-quality metrics: each checked against its definition or a closed form, and the digit extractor."""

import os
import time

import numpy as np
import pytest

from ganapps import data, metrics, pretrained
from tests._helpers import run_python

# --------------------------------------------------------------------------------------------------------------
# The demo's digit check.


def test_digit_confidence_separates_real_digits_from_noise():
    ref = metrics.digit_confidence_reference(image_size=16, n=300)
    assert ref["real"]["mean_confidence"] > ref["noise"]["mean_confidence"] + 0.2
    assert min(ref["real"]["class_counts"]) > 0  # held-out digits cover every class
    with pytest.raises(ValueError, match=r"images: expected single-channel square images"):
        metrics.digit_confidence(np.zeros((2, 12, 12, 1), "float32"))


def test_logistic_digit_check_is_accurate_on_the_held_out_split():
    images, labels = metrics._digits("test", 16)
    predicted = metrics._digit_classifier().predict(metrics._to_digit_features(images))
    assert (predicted == labels).mean() > 0.9


def test_importing_metrics_stays_cheap():
    result = run_python("import sys, ganapps.metrics; "
                        "print(sorted(m for m in ('tensorflow', 'keras', 'scipy') if m in sys.modules))", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------------------------
# Fréchet distance and FID.


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2.0 * np.sqrt(var1 * var2))
    got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_the_eigenvalue_form_for_general_covariances():
    # tr((S1 S2)^(1/2)) = sum of the square roots of the eigenvalues of S1 S2 (real, non-negative for SPD).
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    root_trace = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * root_trace
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_is_zero_on_itself_and_grows_with_a_mean_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = rng.normal(size=(4000, 3))
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-8)
    shifts = [0.0, 0.5, 1.0, 2.0]
    values = [metrics.fid(x, y + [s, 0.0, 0.0]) for s in shifts]
    assert values == sorted(values) and values[0] < 0.02
    assert values[-1] == pytest.approx(4.0, rel=0.05)  # ||shift||^2 once the covariances agree


def test_fid_survives_singular_covariances():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 40)), rng.normal(size=(10, 40)) + 1.0  # fewer samples than dimensions
    value = metrics.fid(x, y)
    assert np.isfinite(value) and value > 30.0  # the mean shift alone is 40
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-3)


def test_fid_argument_errors_name_the_argument():
    x = np.zeros((10, 4))
    with pytest.raises(ValueError, match=r"real: expected a 2-D array of activations or NHWC images; "
                                         r"got shape \(3,\)"):
        metrics.fid(np.zeros(3), x)
    with pytest.raises(ValueError, match=r"fake: expected a 2-D array of activations when features is None.*"
                                         r"got shape \(2, 8, 8, 1\)"):
        metrics.fid(x, np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"fake: expected activations of the same width as real's \(4\)"):
        metrics.fid(x, np.zeros((10, 5)))
    with pytest.raises(ValueError, match=r"real: expected at least 2 rows"):
        metrics.fid(np.zeros((1, 4)), x)
    with pytest.raises(ValueError, match=r"real: expected finite values; got 1 NaN or Inf"):
        metrics.fid(np.array([[np.nan, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]), x)
    with pytest.raises(ValueError, match=r"sigma2: expected a \(2, 2\) covariance matrix matching the means"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match=r"features: expected 'digits', 'inception', a keras.Model or a callable"):
        metrics.fid(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)), features="vgg")


# --------------------------------------------------------------------------------------------------------------
# KID.


def _direct_unbiased_mmd2(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_a_direct_computation_of_the_unbiased_estimator():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3)) + 0.5
    mean, std = metrics.kid(x, y, subsets=3, subset_size=50)  # subsets hold every sample
    assert mean == pytest.approx(_direct_unbiased_mmd2(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same_mean, same_std = metrics.kid(x, y, subsets=20, subset_size=200, seed=1)
    shifted_mean, shifted_std = metrics.kid(x, y + 0.5, subsets=20, subset_size=200, seed=1)
    assert abs(same_mean) < 0.01 and abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 0.05 and shifted_mean > 5 * shifted_std
    assert metrics.kid(x, y, subsets=5, subset_size=100, seed=3) == metrics.kid(x, y, subsets=5, subset_size=100,
                                                                                 seed=3)
    with pytest.raises(ValueError, match=r"subset_size: expected an int >= 2; got 1"):
        metrics.kid(x, y, subset_size=1)


# --------------------------------------------------------------------------------------------------------------
# Inception Score.


def test_inception_score_is_one_for_uniform_and_k_for_confident_even_predictions():
    mean, std = metrics.inception_score(np.full((100, 10), 0.1))
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)
    for k in (2, 5):
        one_hot = np.eye(10)[np.arange(1000) % k]
        mean, _ = metrics.inception_score(one_hot, splits=10)
        assert mean == pytest.approx(k)
    collapsed, _ = metrics.inception_score(np.eye(10)[np.zeros(100, int)], splits=2)
    assert collapsed == pytest.approx(1.0)


def test_inception_score_reads_a_classifiers_logits_through_a_softmax():
    def logits(batch):  # confident and even over 4 classes: IS ~ 4
        return 50.0 * np.eye(4)[np.arange(len(batch)) % 4]

    mean, _ = metrics.inception_score(np.zeros((48, 3, 3, 1)), classifier=logits, splits=4, batch_size=8)
    assert mean == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match=r"x: expected rows of class probabilities"):
        metrics.inception_score(np.full((10, 4), 0.5))
    with pytest.raises(ValueError, match=r"splits: expected at most the number of samples \(5\); got 10"):
        metrics.inception_score(np.full((5, 4), 0.25))


# --------------------------------------------------------------------------------------------------------------
# Precision, recall, density, coverage.


def _direct_prdc(real, fake, k):
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radii = np.sort(dist(real, real), axis=1)[:, k]
    fake_radii = np.sort(dist(fake, fake), axis=1)[:, k]
    rf = dist(real, fake)
    return {"precision": np.mean([(rf[:, j] < real_radii).any() for j in range(len(fake))]),
            "recall": np.mean([(rf[i, :] < fake_radii).any() for i in range(len(real))]),
            "density": sum((rf[:, j] < real_radii).sum() for j in range(len(fake))) / (k * len(fake)),
            "coverage": np.mean([rf[i].min() < real_radii[i] for i in range(len(real))])}


def test_prdc_matches_the_definitions_and_does_not_depend_on_chunking(monkeypatch):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 3)), rng.normal(size=(30, 3)) * 1.5 + 0.3
    expected = _direct_prdc(real, fake, k=3)
    got = metrics.precision_recall_density_coverage(real, fake, k=3)
    assert got == pytest.approx(expected, rel=1e-12)
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1  # a case that exercises each definition
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 7)
    assert metrics.precision_recall_density_coverage(real, fake, k=3) == got


def test_prdc_on_identical_far_and_half_covering_sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    same = metrics.precision_recall_density_coverage(real, real.copy(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(1.0, abs=0.02)
    far = metrics.precision_recall_density_coverage(real, rng.normal(size=(300, 4)) + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    centers = np.eye(4) * 10.0  # four well-separated modes; the fake set holds two of them
    two_modes = np.concatenate([c + rng.normal(size=(150, 4)) for c in centers])
    fake = np.concatenate([c + rng.normal(size=(300, 4)) for c in centers[:2]])
    half = metrics.precision_recall_density_coverage(two_modes, fake, k=5)
    assert half["precision"] > 0.9
    assert 0.4 < half["coverage"] < 0.55 and 0.4 < half["recall"] < 0.55
    with pytest.raises(ValueError, match=r"real_features: expected at least 6 rows"):
        metrics.precision_recall_density_coverage(real[:5], real, k=5)
    with pytest.raises(ValueError, match=r"k: expected an int >= 1; got 0"):
        metrics.precision_recall_density_coverage(real, real, k=0)


# --------------------------------------------------------------------------------------------------------------
# Gaussian mixtures and mode coverage.


def test_gaussian_mixture_is_the_ring_and_grid_benchmarks():
    x, centers = data.gaussian_mixture("ring", 1000, seed=0)
    assert x.dtype == np.float32 and x.shape == (1000, 2) and centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-6)
    _, grid = data.gaussian_mixture("grid", 10)
    assert sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4] and len({tuple(c) for c in grid.tolist()}) == 25
    np.testing.assert_array_equal(x, data.gaussian_mixture("ring", 1000, seed=0)[0])
    assert not np.array_equal(x, data.gaussian_mixture("ring", 1000, seed=1)[0])
    spread = x - centers[np.argmin(((x[:, None] - centers[None]) ** 2).sum(-1), axis=1)]
    assert spread.std() == pytest.approx(0.02, rel=0.1)
    with pytest.raises(ValueError, match=r"kind: expected one of 'ring', 'grid'; got 'spiral'"):
        data.gaussian_mixture("spiral", 10)
    with pytest.raises(ValueError, match=r"n: expected a positive int"):
        data.gaussian_mixture("ring", 0)
    with pytest.raises(ValueError, match=r"std: expected a finite non-negative number"):
        data.gaussian_mixture("grid", 10, std=-1.0)


@pytest.mark.parametrize("kind, modes", [("ring", 8), ("grid", 25)])
def test_mode_coverage_counts_modes_and_good_samples(kind, modes):
    x, centers = data.gaussian_mixture(kind, 2500, seed=0)
    real = metrics.mode_coverage(x, kind)
    assert real["modes_captured"] == real["n_modes"] == modes and real["high_quality"] > 0.99
    assert sum(real["counts"]) == pytest.approx(2500, abs=25) and min(real["counts"]) > 0
    collapsed = metrics.mode_coverage(np.repeat(centers[3:4], 500, axis=0), kind)
    assert collapsed["modes_captured"] == 1 and collapsed["counts"][3] == 500
    noise = np.random.default_rng(0).uniform(-5, 5, (2500, 2))
    assert metrics.mode_coverage(noise, kind)["high_quality"] < 0.1
    explicit = metrics.mode_coverage(x, centers, std=0.05 if kind == "grid" else 0.02)
    assert explicit == real


def test_mode_coverage_argument_errors():
    with pytest.raises(ValueError, match=r"std: expected the components' standard deviation"):
        metrics.mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"samples: expected an \(N, 2\) array of samples.*got shape \(3, 3\)"):
        metrics.mode_coverage(np.zeros((3, 3)), "ring")
    with pytest.raises(ValueError, match=r"kind: expected 'ring', 'grid' or a \(modes, d\) array"):
        metrics.mode_coverage(np.zeros((3, 2)), "spiral")


# --------------------------------------------------------------------------------------------------------------
# PSNR and SSIM.


def test_psnr_and_ssim_match_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 24, 19, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2, a.shape), -1, 1).astype(np.float32)
    got_psnr, got_ssim = metrics.psnr(a, b), metrics.ssim(a, b)
    assert got_psnr.shape == got_ssim.shape == (3,)
    for i in range(3):
        assert got_psnr[i] == pytest.approx(peak_signal_noise_ratio(a[i], b[i], data_range=2.0), abs=1e-3)
        assert got_ssim[i] == pytest.approx(structural_similarity(
            a[i], b[i], data_range=2.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False), abs=1e-3)
    gray = a[..., :1]
    assert metrics.ssim(gray, gray[:, ::-1])[0] == pytest.approx(structural_similarity(
        gray[0, ..., 0], gray[0, ::-1, :, 0], data_range=2.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False), abs=1e-3)
    assert np.isinf(metrics.psnr(a, a)).all() and metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.psnr(a, 0.5 * b)[0] < got_psnr[0]  # more distortion, lower score


def test_psnr_and_ssim_refuse_mismatched_or_tiny_images():
    a = np.zeros((2, 16, 16, 1))
    with pytest.raises(ValueError, match=r"b: expected images of the same shape as a \(2, 16, 16, 1\); "
                                         r"got shape \(2, 16, 16, 3\)"):
        metrics.psnr(a, np.zeros((2, 16, 16, 3)))
    with pytest.raises(ValueError, match=r"a: expected a non-empty batch of NHWC images; got shape \(16, 16, 1\)"):
        metrics.ssim(a[0], a[0])
    with pytest.raises(ValueError, match=r"a: expected images at least 11x11"):
        metrics.ssim(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"data_range: expected a finite positive number; got 0"):
        metrics.psnr(a, a, data_range=0)


# --------------------------------------------------------------------------------------------------------------
# Feature extractors.


def test_activations_runs_any_callable_in_batches_over_arrays_and_datasets():
    import tensorflow as tf

    calls = []

    def mean_and_max(batch):
        calls.append(len(batch))
        return np.stack([batch.mean(axis=(1, 2, 3)), batch.max(axis=(1, 2, 3))], axis=1)

    x = np.random.default_rng(0).uniform(-1, 1, (10, 4, 4, 1)).astype(np.float32)
    acts = metrics.activations(x, mean_and_max, batch_size=4)
    assert calls == [4, 4, 2] and acts.shape == (10, 2)
    labels = np.zeros(10, np.int32)
    from_dataset = metrics.activations(tf.data.Dataset.from_tensor_slices((x, labels)).batch(3), mean_and_max)
    np.testing.assert_allclose(from_dataset, acts, rtol=1e-6)
    with pytest.raises(ValueError, match=r"features: expected a model giving one row of activations per input"):
        metrics.activations(x, lambda batch: np.zeros(3))
    with pytest.raises(ValueError, match=r"features: expected 'digits', 'inception'.*got None"):
        metrics.activations(x, None)


def test_shipped_digit_classifier_is_small_accurate_and_its_features_separate_real_from_noise():
    shipped = metrics._repo_digit_classifier_file()
    assert shipped.is_file() and shipped.stat().st_size < 500_000
    test_images, labels = metrics._digits("test", 16)
    predicted = np.asarray(metrics.digit_classifier()(test_images)).argmax(axis=1)
    assert (predicted == labels).mean() > 0.95
    train_images, _ = metrics._digits("train", 16)
    real = metrics.digit_features(test_images)
    assert real.shape == (len(test_images), 64)
    noise = np.random.default_rng(0).uniform(-1, 1, test_images.shape).astype(np.float32)
    blobs = np.clip(test_images.mean(axis=0, keepdims=True).repeat(len(test_images), 0), -1, 1)
    real_fid = metrics.fid(test_images, train_images[:len(test_images)], features="digits")
    assert real_fid * 5 < metrics.fid(test_images, blobs, features="digits")
    assert real_fid * 5 < metrics.fid(real, metrics.digit_features(noise))
    real_kid, _ = metrics.kid(test_images, train_images, features="digits", subsets=5, subset_size=200)
    noise_kid, _ = metrics.kid(real, metrics.digit_features(noise), subsets=5, subset_size=200)
    assert abs(real_kid) * 10 < noise_kid  # unbiased: about 0 for two real sets (it may dip below 0)
    score, _ = metrics.inception_score(test_images, classifier="digits", splits=2)
    assert score > 7.0  # confident and spread over the ten digits
    # Other sizes are resized the way data.load resizes, so a 32x32 set reads like the 16x16 one.
    big = np.concatenate([np.asarray(b) for b in data.load("digits", split="test", image_size=32, shuffle=False)])
    assert metrics.fid(real, metrics.digit_features(big)) < real_fid
    with pytest.raises(ValueError, match=r"images: expected single-channel digit images"):
        metrics.digit_features(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match=r"real: expected images scaled to \[-1, 1\]"):
        metrics.fid(test_images * 255, test_images, features="digits")


def test_digit_classifier_training_is_repeatable_and_cached_when_not_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "_repo_digit_classifier_file", lambda: tmp_path / "missing" / "model.keras")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(metrics, "DIGIT_CLASSIFIER_EPOCHS", 1)
    with pytest.warns(UserWarning, match=r"training the digit classifier once .* caching it at"):
        path = metrics._digit_classifier_file()
    assert path == tmp_path / "cache" / "ganapps" / "digit_classifier" / "model.keras" and path.is_file()
    assert metrics._digit_classifier_file() == path  # trained once: the cached file is used from now on
    import keras

    cached = keras.saving.load_model(path, compile=False)
    model, accuracy = metrics.train_digit_classifier(tmp_path / "again" / "model.keras", epochs=1, seed=0)
    assert accuracy > 0.5  # one epoch already beats chance (0.1) by far
    for a, b in zip(cached.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same seed gives the same weights
    assert sorted(os.listdir(tmp_path / "again")) == ["model.keras"]  # no temporary file left behind
    other = metrics._build_digit_classifier(1)
    assert not np.array_equal(other.get_weights()[0], metrics._build_digit_classifier(0).get_weights()[0])
    with pytest.raises(ValueError, match=r"out: expected a path ending in \.keras"):
        metrics.train_digit_classifier(tmp_path / "model.h5")
    with pytest.raises(SystemExit):
        metrics.main(["digit-classifier", "--epochs", "0", "--out", str(tmp_path / "x.keras")])


def test_inception_features_fail_fast_and_clearly_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(pretrained, "keras_weight_paths", lambda filename: [tmp_path / "keras" / "models" / filename])
    monkeypatch.setattr(data, "_network_available", lambda host=None: False)
    metrics._inception_model.cache_clear()
    images = np.zeros((2, 16, 16, 3), np.float32)
    start = time.perf_counter()
    with pytest.raises(metrics.WeightsUnavailableError) as offline:
        metrics.fid(images, images, features="inception")
    assert time.perf_counter() - start < 5.0
    message = str(offline.value)
    assert isinstance(offline.value, FileNotFoundError)
    assert str(tmp_path / "keras" / "models" / metrics.INCEPTION_WEIGHTS_FILE) in message
    assert "not available offline" in message and "features='digits'" in message and "https://" in message

    import keras

    def failing_download(**kwargs):
        raise ConnectionError("URL fetch failure")

    monkeypatch.setattr(data, "_network_available", lambda host=None: True)
    monkeypatch.setattr(keras.applications, "InceptionV3", failing_download)
    with pytest.raises(metrics.WeightsUnavailableError, match=r"a failed download .*URL fetch failure"):
        metrics.inception_features(images)
    metrics._inception_model.cache_clear()


def test_keras_weight_paths_follow_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert metrics._keras_weight_paths()[0] == tmp_path / "models" / metrics.INCEPTION_WEIGHTS_FILE
    monkeypatch.delenv("KERAS_HOME")
    assert str(metrics._keras_weight_paths()[0]).endswith(os.path.join(".keras", "models",
                                                                       metrics.INCEPTION_WEIGHTS_FILE))
