"""Export: ONNX and SavedModel parity with Keras, metadata, the ONNX runner, standalone loading, atomic writes."""

import json
import os
import shutil

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from _helpers import mlp_gan, run_python

import ganapps
from ganapps import export, images, nets, runtime

TOL = 1e-4


# -- shared models and exports -------------------------------------------------------------------------------
def _fully_convolutional() -> keras.Model:
    """Any-size image in, twice the size out: the export must keep height and width dynamic."""
    keras.utils.set_random_seed(0)
    x = keras.Input((None, None, 3), name="image")
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = keras.layers.UpSampling2D(2, interpolation="nearest")(y)
    y = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(y)
    return keras.Model(x, y, name="upsampler")


def _gan_with_distinct_ema():
    """A GAN whose EMA generator differs clearly from its generator, so an export shows which it took."""
    gan = mlp_gan(ema=0.9)
    gan.compile()
    gan.generator.set_weights([w + 0.5 for w in gan.generator.get_weights()])
    return gan


@pytest.fixture(scope="module")
def dcgan_export(tmp_path_factory):
    keras.utils.set_random_seed(0)
    generator = nets.dcgan_generator(8, (8, 8, 1), width=4)
    directory = tmp_path_factory.mktemp("dcgan") / "export"
    metadata = export.export_generator(generator, directory)
    return generator, directory, metadata


@pytest.fixture(scope="module")
def saved_gan(tmp_path_factory):
    gan = _gan_with_distinct_ema()
    path = tmp_path_factory.mktemp("game") / "gan.keras"
    gan.save(path)
    return gan, path


def _keras(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _onnx(directory, feed):
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def _saved_model(directory, feed):
    serve = tf.saved_model.load(str(directory / "saved_model")).signatures["serving_default"]
    return serve(**{k: tf.constant(v) for k, v in feed.items()})["images"].numpy()


def _max_abs(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _latents(n, dim, seed=1):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")


def _snapshot(directory):
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# -- parity --------------------------------------------------------------------------------------------------
def test_dense_generator_parity(tmp_path):
    keras.utils.set_random_seed(0)
    generator = nets.mlp_generator(3, 5, hidden=(8,))
    metadata = export.export_generator(generator, tmp_path / "mlp")
    z = _latents(7, 3)  # a batch size the parity check did not use
    want = _keras(generator, z)
    assert _max_abs(_onnx(tmp_path / "mlp", {"z": z}), want) < TOL
    assert _max_abs(_saved_model(tmp_path / "mlp", {"z": z}), want) < TOL
    assert metadata["latent_dim"] == 3 and metadata["layout"] == "NC" and metadata["dynamic_spatial"] is False


def test_dcgan_generator_parity(dcgan_export):
    generator, directory, _ = dcgan_export
    z = _latents(5, 8)
    want = _keras(generator, z)
    assert want.shape == (5, 8, 8, 1)
    assert _max_abs(_onnx(directory, {"z": z}), want) < TOL
    assert _max_abs(_saved_model(directory, {"z": z}), want) < TOL


def test_fully_convolutional_export_has_dynamic_height_and_width(tmp_path):
    model = _fully_convolutional()
    metadata = export.export_generator(model, tmp_path / "fcn")
    on_disk = json.loads((tmp_path / "fcn" / "metadata.json").read_text())
    assert on_disk["dynamic_spatial"] is True
    assert on_disk["inputs"] == [{"name": "image", "shape": [None, None, None, 3], "dtype": "float32"}]
    assert on_disk["outputs"][0]["shape"] == [None, None, None, 3]
    assert metadata["latent_dim"] is None
    rng = np.random.default_rng(2)
    runner = runtime.load(tmp_path / "fcn")
    for shape in ((2, 5, 7, 3), (1, 12, 4, 3)):
        x = rng.uniform(-1, 1, shape).astype("float32")
        want = _keras(model, x)
        assert want.shape == (shape[0], 2 * shape[1], 2 * shape[2], 3)
        assert _max_abs(_onnx(tmp_path / "fcn", {"image": x}), want) < TOL
        assert _max_abs(_saved_model(tmp_path / "fcn", {"image": x}), want) < TOL
        assert _max_abs(runner(x), want) < TOL
    with pytest.raises(ValueError, match=r"directory: expected an export with a latent input.*'image'"):
        runner.sample(2)


def test_parity_sizes_follow_the_nets_size_multiple(tmp_path):
    # A depth-6 U-Net takes only multiples of 64 (its SizeMultiple layer refuses 32x32): the parity check must
    # feed it sizes it accepts, as `ganapps style train` does with its default U-Net.
    unet = nets.unet_generator(1, 3, filters=4, depth=6, max_filters=8)
    assert export._parity_sizes(unet, export._input_specs(unet)) == (64, 128)
    assert export._parity_sizes(_fully_convolutional(), export._input_specs(_fully_convolutional())) == (32, 64)
    metadata = export.export_generator(unet, tmp_path / "unet", formats=("onnx",))
    assert metadata["parity_max_abs_error"]["onnx"] < TOL
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 128, 1)).astype("float32")
    assert _max_abs(runtime.load(tmp_path / "unet")(x), _keras(unet, x)) < TOL


def test_gan_export_uses_the_ema_generator(tmp_path):
    gan = _gan_with_distinct_ema()
    assert isinstance(gan, ganapps.GAN)
    metadata = export.export_generator(gan, tmp_path / "gan")
    assert metadata["latent_dim"] == gan.latent_dim == 3
    z = _latents(6, 3)
    got = runtime.load(tmp_path / "gan")(z)
    assert _max_abs(got, _keras(gan.ema_generator, z)) < TOL
    assert _max_abs(got, _keras(gan.generator, z)) > 0.1
    assert _max_abs(_saved_model(tmp_path / "gan", {"z": z}), _keras(gan.ema_generator, z)) < TOL


# -- metadata ------------------------------------------------------------------------------------------------
def test_metadata_json_describes_the_export(dcgan_export):
    import onnx
    import tf2onnx

    _, directory, returned = dcgan_export
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata == json.loads(json.dumps(returned))
    assert metadata["inputs"] == [{"name": "z", "shape": [None, 8], "dtype": "float32"}]
    assert metadata["outputs"] == [{"name": "images", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert metadata["latent_dim"] == 8 and metadata["latent_distribution"] == "standard_normal"
    assert metadata["value_range"] == [-1.0, 1.0]
    assert metadata["dynamic_batch"] is True and metadata["dynamic_spatial"] is False
    assert metadata["layout"] == "NHWC" and metadata["channel_order"] == "L"
    assert metadata["files"] == {"onnx": "model.onnx", "saved_model": "saved_model"}
    assert metadata["versions"] == {
        "ganapps": ganapps.__version__, "keras": keras.__version__, "tensorflow": tf.__version__,
        "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
        "python": metadata["versions"]["python"]}
    assert set(metadata["parity_max_abs_error"]) == {"onnx", "saved_model"}
    for err in metadata["parity_max_abs_error"].values():
        assert 0.0 <= err < metadata["parity_tolerance"] == TOL
    # The documented uint8 mapping is the one the library applies.
    x = np.array([-1.5, -1.0, -0.3, 0.0, 0.51, 1.0, 2.0], "float32")
    formula = metadata["to_uint8"].split("=", 1)[1]
    documented = eval(formula, {"clip": np.clip, "round": np.round, "x": x})  # noqa: S307 (our own file)
    np.testing.assert_array_equal(documented, images.to_uint8(x))


def test_metadata_records_value_range_and_extra_keys(tmp_path):
    keras.utils.set_random_seed(0)
    generator = nets.mlp_generator(2, 3, hidden=(4,), output_activation="sigmoid")
    metadata = export.export_generator(generator, tmp_path / "e", formats=("onnx",), value_range=(0.0, 1.0),
                                       extra_metadata={"training": {"epochs": 3}})
    assert metadata["value_range"] == [0.0, 1.0] and metadata["training"] == {"epochs": 3}
    assert metadata["files"] == {"onnx": "model.onnx", "saved_model": None}
    assert set(metadata["parity_max_abs_error"]) == {"onnx"}
    assert not (tmp_path / "e" / "saved_model").exists()
    runner = runtime.load(tmp_path / "e")
    floats = runner.sample(6, seed=0)
    np.testing.assert_array_equal(runner.sample(6, seed=0, output="uint8"), images.to_uint8(floats, (0.0, 1.0)))


# -- the runner ----------------------------------------------------------------------------------------------
def test_runner_matches_keras_and_samples_by_seed(dcgan_export):
    generator, directory, _ = dcgan_export
    assert export.load is runtime.load
    runner = export.load(directory)
    assert "CPUExecutionProvider" in runner.providers
    assert runner.latent_dim == 8
    z = _latents(4, 8, seed=5)
    assert _max_abs(runner(z), _keras(generator, z)) < TOL

    a, b = runner.sample(5, seed=3), runner.sample(5, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 8, 8, 1) and a.dtype == np.float32
    assert _max_abs(a, runner.sample(5, seed=4)) > 1e-3
    assert _max_abs(a, _keras(generator, runtime.sample_normal(5, 8, seed=3))) < TOL
    # Batching inside sample() does not change the result.
    np.testing.assert_allclose(runner.sample(5, seed=3, batch_size=2), a, atol=1e-6)

    as_uint8 = runner.sample(5, seed=3, output="uint8")
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(as_uint8, images.to_uint8(a))
    np.testing.assert_array_equal(runner(z, output="uint8"), images.to_uint8(runner(z)))


def test_runner_bad_input(dcgan_export):
    runner = runtime.load(dcgan_export[1])
    with pytest.raises(ValueError, match=r"z: expected shape \(None, 8\); got \(2, 7\)"):
        runner(np.zeros((2, 7), "float32"))
    with pytest.raises(ValueError, match=r"z: expected shape \(None, 8\); got \(8,\)"):
        runner(np.zeros(8, "float32"))
    with pytest.raises(ValueError, match=r"inputs: expected 1 array\(s\) \(z\); got 2"):
        runner(np.zeros((1, 8)), np.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"output: expected 'float' or 'uint8'; got 'png'"):
        runner.sample(2, seed=0, output="png")
    with pytest.raises(ValueError, match=r"n: expected a positive integer; got 0"):
        runner.sample(0)


STANDALONE = r"""
import sys
sys.modules["ganapps"] = None  # any import of ganapps now fails
import json
import numpy as np
import onnxruntime as ort
import tensorflow as tf
directory = DIRECTORY
z = np.load(directory + "/../z.npy")
try:
    import ganapps  # noqa: F401
    importable = True
except ImportError:
    importable = False
session = ort.InferenceSession(directory + "/model.onnx", providers=["CPUExecutionProvider"])
onnx_out = session.run(None, {"z": z})[0]
serve = tf.saved_model.load(directory + "/saved_model").signatures["serving_default"]
tf_out = serve(z=tf.constant(z))["images"].numpy()
print(json.dumps({"ganapps_importable": importable, "onnx": onnx_out.tolist(), "saved_model": tf_out.tolist()}))
"""


def test_exported_files_load_without_ganapps(dcgan_export):
    generator, directory, _ = dcgan_export
    z = _latents(3, 8, seed=9)
    np.save(directory.parent / "z.npy", z)
    proc = run_python(STANDALONE.replace("DIRECTORY", repr(str(directory))))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ganapps_importable"] is False
    want = _keras(generator, z)
    assert _max_abs(np.array(out["onnx"], "float32"), want) < TOL
    assert _max_abs(np.array(out["saved_model"], "float32"), want) < TOL


# -- nothing written half --------------------------------------------------------------------------------------
def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and (
        ".export-" in p.name or ".old-" in p.name))


@pytest.mark.parametrize("check", ["_check_onnx", "_check_saved_model"])
def test_failed_parity_check_writes_nothing(tmp_path, monkeypatch, check):
    monkeypatch.setattr(export, check, lambda *args, **kwargs: 1.0)
    generator = nets.mlp_generator(2, 3, hidden=(4,))
    target = tmp_path / "fresh"
    fmt = "onnx" if check == "_check_onnx" else "saved_model"
    with pytest.raises(export.ExportError, match=rf"{fmt} export differs from Keras by 1 .*tolerance is 0.0001"):
        export.export_generator(generator, target)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_failed_export_keeps_the_earlier_one(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    target = tmp_path / "kept"
    export.export_generator(nets.mlp_generator(2, 3, hidden=(4,)), target)
    (target / "README.txt").write_text("not part of the export")
    before = _snapshot(target)
    assert {"model.onnx", "metadata.json", "saved_model/saved_model.pb", "README.txt"} <= set(before)

    monkeypatch.setattr(export, "_check_onnx", lambda *args, **kwargs: 1.0)
    with pytest.raises(export.ExportError, match="onnx export differs"):
        export.export_generator(nets.mlp_generator(2, 5, hidden=(6,)), target)
    assert _snapshot(target) == before
    assert _leftovers(tmp_path) == []
    assert runtime.load(target).sample(2, seed=0).shape == (2, 3)


@pytest.mark.parametrize("fresh", [True, False])
def test_a_failing_rename_puts_the_earlier_export_back(tmp_path, monkeypatch, fresh):
    """Even the last step (renaming into place) leaves the old export, or nothing, when it fails."""
    keras.utils.set_random_seed(0)
    target = tmp_path / "target"
    if not fresh:
        export.export_generator(nets.mlp_generator(2, 3, hidden=(4,)), target)
    before = _snapshot(target) if not fresh else None
    real_replace = os.replace

    def failing_replace(src, dst):
        if ".export-" in str(src) and os.path.basename(str(src)) == "metadata.json":
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(export.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        export.export_generator(nets.mlp_generator(2, 5, hidden=(6,)), target)
    monkeypatch.undo()
    if fresh:
        assert not target.exists()
    else:
        assert _snapshot(target) == before
    assert _leftovers(tmp_path) == []


def test_export_over_an_earlier_one_replaces_it(tmp_path):
    keras.utils.set_random_seed(0)
    target = tmp_path / "e"
    export.export_generator(nets.mlp_generator(2, 3, hidden=(4,)), target)
    (target / "notes.txt").write_text("mine")
    export.export_generator(nets.mlp_generator(4, 5, hidden=(4,)), target)
    assert runtime.load(target).sample(2, seed=0).shape == (2, 5)
    assert json.loads((target / "metadata.json").read_text())["latent_dim"] == 4
    assert (target / "notes.txt").read_text() == "mine"
    assert _leftovers(tmp_path) == []


# -- .keras files --------------------------------------------------------------------------------------------
def test_export_keras_file_round_trips_a_saved_gan(saved_gan, tmp_path):
    gan, path = saved_gan
    metadata = export.export_keras_file(path, tmp_path / "from_file")
    assert metadata["latent_dim"] == 3
    assert all(err < TOL for err in metadata["parity_max_abs_error"].values())
    z = _latents(4, 3, seed=11)
    got = runtime.load(tmp_path / "from_file")(z)
    assert _max_abs(got, _keras(gan.ema_generator, z)) < TOL
    assert _max_abs(got, _keras(gan.generator, z)) > 0.1


# -- bad input -----------------------------------------------------------------------------------------------
def test_error_load_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"directory: .*'.*nowhere'.*does not exist"):
        export.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"directory: expected a folder holding metadata\.json.*got '.*empty', which has none"):
        runtime.load(tmp_path / "empty")


def test_error_load_truncated_onnx(dcgan_export, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dcgan_export[1], broken)
    data = (broken / "model.onnx").read_bytes()
    (broken / "model.onnx").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"directory: expected a loadable model.onnx; got '.*broken.model\.onnx'.*truncated or corrupt"):
        runtime.load(broken)


def test_error_load_keras_missing_truncated_and_wrong_suffix(saved_gan, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: expected an existing \.keras file; got '.*missing\.keras'"):
        export.load_keras(tmp_path / "missing.keras")
    data = saved_gan[1].read_bytes()
    (tmp_path / "half.keras").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"path: '.*half\.keras' .*truncated or corrupt"):
        export.load_keras(tmp_path / "half.keras")
    (tmp_path / "model.h5").write_bytes(data)
    with pytest.raises(ValueError, match=r"path: expected a file ending in \.keras; got '.*model\.h5'"):
        export.load_keras(tmp_path / "model.h5")
    with pytest.raises(FileNotFoundError, match=r"path: .*'.*missing\.keras'"):
        export.export_keras_file(tmp_path / "missing.keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"formats": ("tflite",)}, r"formats: expected .*'onnx'.*; got \('tflite',\)"),
    ({"formats": ()}, r"formats: expected a non-empty selection .*; got \(\)"),
    ({"tolerance": 0}, r"tolerance: expected a positive number; got 0"),
])
def test_error_bad_export_arguments(tmp_path, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        export.export_generator(nets.mlp_generator(2, 3, hidden=(4,)), tmp_path / "e", **kwargs)
    assert not (tmp_path / "e").exists()


def test_error_export_something_that_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match=r"model: expected a keras\.Model generator .*; got str 'not a model'"):
        export.export_generator("not a model", tmp_path / "e")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"directory: expected a folder path; got '.*file', which is a file"):
        export.export_generator(nets.mlp_generator(2, 3, hidden=(4,)), tmp_path / "file")
    assert not (tmp_path / "e").exists()
