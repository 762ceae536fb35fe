"""The ONNX Runtime outlier scorer: agreement with Keras, scikit-learn's signs and threshold, input conversion,
files, ``read_samples``, errors, and scoring with TensorFlow and Keras blocked."""

import json

import keras
import numpy as np
import pytest
from _helpers import BLOCK_HEAVY_IMPORTS, copy_with_metadata, run_python, scorer_model
from PIL import Image

from ganapps import export, images, runtime

TOL = 1e-4
NAMES = ("score", "reconstruction", "residual")


def _keras(model, x):
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=False).items()}


def _export(model, directory, threshold, **metadata):
    export.export_generator(model, directory, formats=("onnx",), value_range=metadata.pop("value_range", None),
                            extra_metadata={"task": "outlier_scoring", "threshold": threshold, **metadata})
    return directory


def _gray_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def image_scorer(tmp_path_factory):
    model = scorer_model((8, 8, 1))
    reference = images.from_uint8(_gray_images(40, seed=1))
    threshold = float(np.median(_keras(model, reference)["score"]))  # half the reference data are outliers
    directory = _export(model, tmp_path_factory.mktemp("images") / "scorer", threshold, input_kind="images",
                        sample_shape=[8, 8, 1], value_range=[-1, 1])
    return model, runtime.load_scorer(directory), threshold


@pytest.fixture(scope="module")
def vector_scorer(tmp_path_factory):
    mean, variance = [10.0, -3.0, 0.0, 5.0, 1.0], [4.0, 1.0, 0.25, 9.0, 1.0]
    model = scorer_model((5,), mean=mean, variance=variance, seed=1)
    reference = np.random.default_rng(2).normal(mean, np.sqrt(variance), (40, 5)).astype("float32")
    threshold = float(np.quantile(_keras(model, reference)["score"], 0.75))
    directory = _export(model, tmp_path_factory.mktemp("vectors") / "scorer", threshold, input_kind="vectors",
                        sample_shape=[5])
    return model, runtime.OutlierScorer(directory), reference


# -- agreement with Keras ------------------------------------------------------------------------------------
def test_image_scores_match_keras_and_batching_changes_nothing(image_scorer):
    model, scorer, _ = image_scorer
    assert scorer.input_kind == "images" and scorer.sample_shape == (8, 8, 1) and scorer.value_range == (-1.0, 1.0)
    assert "CPUExecutionProvider" in scorer.providers
    x = np.random.default_rng(3).uniform(-1, 1, (7, 8, 8, 1)).astype("float32")
    got, want = scorer.score(x, batch_size=3), _keras(model, x)
    assert set(got) == set(NAMES) and got["score"].shape == (7,) and got["residual"].shape == (7, 8, 8, 1)
    for name in NAMES:
        assert np.max(np.abs(got[name] - want[name])) < TOL, name
        np.testing.assert_allclose(scorer.score(x)[name], got[name], atol=1e-6)
    np.testing.assert_allclose(scorer.anomaly_score(x, batch_size=2), got["score"], atol=1e-6)


def test_uint8_images_are_mapped_to_the_value_range_and_shapes_are_completed(image_scorer):
    model, scorer, _ = image_scorer
    pixels = _gray_images(4, seed=4)
    want = _keras(model, images.from_uint8(pixels))["score"]
    assert np.max(np.abs(scorer.anomaly_score(pixels) - want)) < TOL
    assert np.max(np.abs(scorer.anomaly_score(pixels.astype(np.int64)) - want)) < TOL  # integers 0..255 too
    np.testing.assert_allclose(scorer.anomaly_score(pixels[:, :, :, 0]), scorer.anomaly_score(pixels), atol=1e-6)
    one = scorer.score(pixels[2])  # HxWxC: one sample
    assert one["score"].shape == (1,) and one["reconstruction"].shape == (1, 8, 8, 1)
    np.testing.assert_allclose(one["score"], want[2:3], atol=TOL)
    np.testing.assert_allclose(scorer.anomaly_score(pixels[2, :, :, 0]), want[2:3], atol=TOL)  # HxW gray


def test_scikit_learn_signs_and_the_threshold(image_scorer):
    model, scorer, threshold = image_scorer
    assert scorer.threshold == threshold
    x = images.from_uint8(_gray_images(40, seed=1))  # the reference batch: half its scores lie above threshold
    score = _keras(model, x)["score"]
    samples = scorer.score_samples(x)
    np.testing.assert_allclose(samples, -score, atol=TOL)
    decision = scorer.decision_function(x)
    np.testing.assert_allclose(decision, samples - (-threshold), atol=1e-6)
    predicted = scorer.predict(x)
    assert set(np.unique(predicted)) == {-1, 1}
    clear = np.abs(score - threshold) > 1e-4  # away from the boundary, where float noise could flip a sign
    np.testing.assert_array_equal(predicted[clear], np.where(score > threshold, -1, 1)[clear])
    np.testing.assert_array_equal(predicted, np.where(decision < 0, -1, 1))


def test_vectors_on_their_own_scale(vector_scorer):
    model, scorer, reference = vector_scorer
    assert scorer.input_kind == "vectors" and scorer.sample_shape == (5,) and scorer.value_range is None
    got, want = scorer.score(reference), _keras(model, reference)
    assert all(np.max(np.abs(got[n] - want[n])) < TOL for n in NAMES)
    np.testing.assert_allclose(scorer.anomaly_score(reference[0]), want["score"][:1], atol=TOL)  # one (d,) vector
    integers = np.round(reference).astype(np.int32)  # integer vectors are values, not pixels: no uint8 mapping
    assert np.max(np.abs(scorer.anomaly_score(integers) - _keras(model, integers.astype("float32"))["score"])) < TOL
    far = reference + np.float32(30.0)  # far from the data the standardisation describes
    assert (scorer.predict(far) == -1).all() and (scorer.predict(reference) == 1).mean() > 0.5


# -- files ---------------------------------------------------------------------------------------------------
def _write_images(folder, pixels, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, pixels):
        Image.fromarray(image[..., 0]).save(folder / name)
    return folder


def test_score_files_and_read_samples_of_a_folder(image_scorer, tmp_path):
    model, scorer, _ = image_scorer
    pixels = _gray_images(3, seed=5)
    folder = _write_images(tmp_path / "imgs", pixels, ["b.png", "c.bmp", "a.png"])
    rgb = np.repeat(pixels[:1], 3, axis=-1)
    Image.fromarray(rgb[0]).save(folder / "d_rgb.png")  # converted to the model's one channel
    (folder / "notes.txt").write_text("skipped")
    array, names = runtime.read_samples(folder, scorer.sample_shape)
    assert names == ["a.png", "b.png", "c.bmp", "d_rgb.png"]
    assert array.dtype == np.uint8 and array.shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(array[:3], pixels[[2, 0, 1]])
    np.testing.assert_array_equal(array[3], pixels[0])  # gray repeated to RGB reads back as the same gray
    want = _keras(model, images.from_uint8(array))["score"]
    assert np.max(np.abs(scorer.anomaly_score(array) - want)) < TOL
    files = scorer.score_files([folder / n for n in names])
    assert np.max(np.abs(files["score"] - want)) < TOL and files["residual"].shape == (4, 8, 8, 1)
    single, single_names = runtime.read_samples(folder / "b.png", [8, 8, 1])
    assert single_names == ["b.png"] and single.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(scorer.score_files(str(folder / "b.png"))["score"], want[1:2], atol=TOL)


def test_read_samples_npy_and_csv(tmp_path):
    gray = _gray_images(3, seed=6)
    np.save(tmp_path / "gray.npy", gray[..., 0])  # NHW: the channel axis is added
    array, names = runtime.read_samples(tmp_path / "gray.npy", (8, 8, 1))
    np.testing.assert_array_equal(array, gray)
    assert names == ["0", "1", "2"] and array.dtype == np.uint8
    vectors = np.random.default_rng(7).normal(0, 2, (4, 3)).astype("float32")
    np.save(tmp_path / "one.npy", vectors[0])
    assert runtime.read_samples(tmp_path / "one.npy", [3])[0].shape == (1, 3)
    lines = [",".join(f"{v:.6f}" for v in row) for row in vectors]
    (tmp_path / "header.csv").write_text("a,b,c\n" + "\n".join(lines) + "\n\n")
    (tmp_path / "plain.csv").write_text("\n".join(lines))
    for name in ("header.csv", "plain.csv"):
        array, names = runtime.read_samples(tmp_path / name, [3])
        assert names == ["0", "1", "2", "3"]
        np.testing.assert_allclose(array, vectors, atol=1e-6)
    flat = np.arange(2 * 64, dtype=np.float32).reshape(2, 64) / 128 - 0.5  # flattened 8x8 images, one per row
    (tmp_path / "flat.csv").write_text("\n".join(",".join(map(str, row)) for row in flat))
    np.testing.assert_allclose(runtime.read_samples(tmp_path / "flat.csv", [8, 8, 1])[0], flat.reshape(2, 8, 8, 1))


def test_csv_of_whole_pixels_reads_as_uint8_for_an_image_scorer(image_scorer, tmp_path):
    """A CSV of 0..255 pixels (one flattened image per row) is scored as uint8 images are, not refused as floats
    outside [-1, 1]; values within [-1, 1], and vectors, stay floats."""
    model, scorer, _ = image_scorer
    pixels = _gray_images(3, seed=9)
    (tmp_path / "pixels.csv").write_text("\n".join(",".join(map(str, row)) for row in pixels.reshape(3, 64)))
    array, names = runtime.read_samples(tmp_path / "pixels.csv", scorer.sample_shape)
    assert array.dtype == np.uint8 and names == ["0", "1", "2"]
    np.testing.assert_array_equal(array, pixels)
    want = _keras(model, images.from_uint8(pixels))["score"]
    assert np.max(np.abs(scorer.anomaly_score(array) - want)) < TOL
    (tmp_path / "floats.csv").write_text("\n".join(",".join(f"{v:.1f}" for v in row) for row in pixels.reshape(3, 64)))
    np.testing.assert_array_equal(runtime.read_samples(tmp_path / "floats.csv", [8, 8, 1])[0], pixels)  # 12.0: whole
    signs = np.where(pixels.reshape(3, 64) > 127, 1, 0)  # whole numbers, all within [-1, 1]: float pixel values
    (tmp_path / "signs.csv").write_text("\n".join(",".join(map(str, row)) for row in signs))
    array = runtime.read_samples(tmp_path / "signs.csv", [8, 8, 1])[0]
    assert array.dtype == np.float32 and array.max() == 1.0
    (tmp_path / "vectors.csv").write_text("3,200,7\n0,1,255\n")  # vectors are values, never pixels
    assert runtime.read_samples(tmp_path / "vectors.csv", [3])[0].dtype == np.float32


@pytest.mark.parametrize("make, shape, error, pattern", [
    (lambda p: (p / "e").mkdir(), [8, 8, 1], ValueError, r"path: expected a folder holding images .*'.*e'"),
    (lambda p: None, [8, 8, 1], FileNotFoundError, r"path: expected a folder of images.*missing.npy'.*not exist"),
    (lambda p: (p / "x.txt").write_text("1"), [3], ValueError, r"path: expected a folder of images.*'.*x\.txt'"),
    (lambda p: (p / "bad.csv").write_text("a,b\n1,2\n3,oops\n"), [2], ValueError,
     r"path: expected numeric values in '.*bad\.csv'; got 'oops' on line 3"),
    (lambda p: (p / "ragged.csv").write_text("1,2\n3\n"), [2], ValueError,
     r"path: expected rows of 2 values in .*; got 1 on line 2"),
    (lambda p: (p / "empty.csv").write_text("a,b\n"), [2], ValueError, r"at least one row of numbers"),
    (lambda p: np.save(p / "wide.npy", np.zeros((2, 4))), [3], ValueError,
     r"path: expected samples of shape \(3,\) .*; got '.*wide\.npy', which holds an array of shape \(2, 4\)"),
    (lambda p: np.save(p / "text.npy", np.array(["a"])), [3], ValueError, r"path: expected a \.npy file of numbers"),
    (lambda p: Image.new("L", (8, 8)).save(p / "v.png"), [5], ValueError,
     r"path: expected no image files for samples of shape \(5,\)"),
    (lambda p: Image.new("L", (9, 8)).save(p / "big.png"), [8, 8, 1], ValueError,
     r"path: expected images of 8x8 pixels .*not resized.*'.*big\.png', which is 8x9"),
])
def test_error_read_samples(tmp_path, make, shape, error, pattern):
    make(tmp_path)
    path = next(tmp_path.iterdir(), tmp_path / "missing.npy")  # what ``make`` made, or nothing
    with pytest.raises(error, match=pattern):
        runtime.read_samples(path, shape)


def test_error_read_samples_bad_sample_shape(tmp_path):
    with pytest.raises(ValueError, match=r"sample_shape: expected a list of positive integers.*; got \[8, 0\]"):
        runtime.read_samples(tmp_path, [8, 0])


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, pattern", [
    (np.zeros((2, 16, 16, 1), np.uint8), r"x: expected samples of shape \(8, 8, 1\) .*; got shape \(2, 16, 16, 1\)"),
    (np.zeros((2, 8, 8, 3), np.uint8), r"x: expected samples of shape \(8, 8, 1\) .*; got shape \(2, 8, 8, 3\)"),
    (np.zeros((0, 8, 8, 1), np.float32), r"x: expected at least one sample; got an empty batch"),
    (np.full((1, 8, 8, 1), 300, np.int32), r"x: expected integer pixel values in 0\.\.255; got values from 300"),
    (np.full((1, 8, 8, 1), 2.5, np.float32), r"x: expected float pixel values in \[-1, 1\] \(or uint8 images\)"),
    (np.full((1, 8, 8, 1), np.nan, np.float32), r"x: expected finite values; got 64 NaN or Inf values"),
    (np.array(["a"]), r"x: expected numeric samples .*; got dtype <U1"),
])
def test_error_bad_samples(image_scorer, x, pattern):
    with pytest.raises(ValueError, match=pattern):
        image_scorer[1].score(x)


def test_error_bad_files_and_batch_size(image_scorer, vector_scorer, tmp_path):
    scorer = image_scorer[1]
    Image.new("L", (16, 8)).save(tmp_path / "wide.png")
    with pytest.raises(ValueError, match=r"paths: expected images of 8x8 pixels .*'.*wide\.png', which is 8x16"):
        scorer.score_files([tmp_path / "wide.png"])
    with pytest.raises(FileNotFoundError, match=r"paths\[0\]: expected an image file .*'.*nope\.png'"):
        scorer.score_files([tmp_path / "nope.png"])
    with pytest.raises(ValueError, match=r"paths: expected at least one image file; got none"):
        scorer.score_files([])
    with pytest.raises(ValueError, match=r"paths: expected no image files for a scorer of vectors"):
        vector_scorer[1].score_files([tmp_path / "wide.png"])
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        scorer.predict(np.zeros((1, 8, 8, 1), np.float32), batch_size=0)


@pytest.mark.parametrize("changes, pattern", [
    ({"task": None}, r"directory: expected an outlier-scoring export .*whose metadata has task None"),
    ({"task": "super_resolution"}, r"expected an outlier-scoring export .*task 'super_resolution'"),
    ({"threshold": None}, r"directory: expected metadata with a finite 'threshold' .*has threshold None"),
    ({"threshold": "high"}, r"a finite 'threshold'.*has threshold 'high'"),
    ({"input_kind": "audio"}, r"an 'input_kind' of 'images' or 'vectors'.*has input_kind 'audio'"),
    ({"sample_shape": [8, 8]}, r"a 'sample_shape' of images: \[height, width, channels\].*has sample_shape \[8, 8\]"),
    ({"sample_shape": [16, 16, 1]},
     r"expected a model of one input of samples of shape \(16, 16, 1\).*x \(None, 8, 8, 1\)"),
    ({"value_range": [1, -1]}, r"'value_range', if any, is \[low, high\]"),
])
def test_error_bad_metadata(image_scorer, tmp_path, changes, pattern):
    directory = copy_with_metadata(image_scorer[1].directory, tmp_path / "changed", **changes)
    with pytest.raises(ValueError, match=pattern):
        runtime.OutlierScorer(directory)


def test_error_a_model_without_the_scorer_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    x = keras.Input((4,), name="x")
    model = keras.Model(x, {"score": keras.layers.Dense(1)(x), "other": keras.layers.Dense(4)(x)})
    directory = _export(model, tmp_path / "e", 0.5, input_kind="vectors", sample_shape=[4])
    with pytest.raises(ValueError, match=r"expected a model with outputs \['score', 'reconstruction', 'residual'\]"
                                         r".*has outputs \['score', 'other'\]"):
        runtime.load_scorer(directory)


# -- no TensorFlow, no Keras ---------------------------------------------------------------------------------
SCORE_WITHOUT_TF = BLOCK_HEAVY_IMPORTS + r"""
from ganapps import runtime
scorer = runtime.load_scorer(MODEL)
array, names = runtime.read_samples(FOLDER, scorer.sample_shape)
out = scorer.score(array)
print(json.dumps({"names": names, "score": out["score"].tolist(), "predict": scorer.predict(array).tolist(),
                  "residual_shape": list(out["residual"].shape),
                  "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def test_scoring_runs_without_tensorflow_or_keras(image_scorer, tmp_path):
    model, scorer, threshold = image_scorer
    pixels = _gray_images(5, seed=8)
    folder = _write_images(tmp_path / "in", pixels, [f"{i}.png" for i in range(5)])
    code = SCORE_WITHOUT_TF.replace("MODEL", repr(str(scorer.directory))).replace("FOLDER", repr(str(folder)))
    proc = run_python(code, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["tensorflow"], result["keras"]) == (False, False)
    assert result["names"] == [f"{i}.png" for i in range(5)] and result["residual_shape"] == [5, 8, 8, 1]
    want = _keras(model, images.from_uint8(pixels))["score"]
    assert np.max(np.abs(np.array(result["score"]) - want)) < TOL
    clear = np.abs(want - threshold) > 1e-4
    np.testing.assert_array_equal(np.array(result["predict"])[clear], np.where(want > threshold, -1, 1)[clear])
