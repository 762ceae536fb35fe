"""Export of models with several outputs (an outlier scorer's dict output): each output by name in ONNX and the
SavedModel, every output in the metadata and in the parity check, ONNX output names made sure of."""

import json

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

from _helpers import scorer_model

from ganapps import export

TOL = 1e-4
NAMES = ["score", "reconstruction", "residual"]
OUTLIER_METADATA = {"task": "outlier_scoring", "threshold": 0.25, "input_kind": "images", "sample_shape": [8, 8, 1],
                    "value_range": [-1, 1]}


def scorer(sample_shape=(8, 8, 1), seed=0) -> keras.Model:
    return scorer_model(sample_shape, seed=seed)


def _keras(model, x):
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=False).items()}


def _onnx(directory, x):
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return names, dict(zip(names, session.run(None, {"x": x})))


def _saved_model(directory, x):
    serve = tf.saved_model.load(str(directory / "saved_model")).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(x=tf.constant(x)).items()}


def _max_abs(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="module")
def image_export(tmp_path_factory):
    model = scorer()
    directory = tmp_path_factory.mktemp("multi") / "scorer"
    metadata = export.export_generator(model, directory, extra_metadata=OUTLIER_METADATA)
    return model, directory, metadata


def test_each_output_is_exposed_by_name_in_onnx_and_saved_model(image_export):
    model, directory, _ = image_export
    x = np.random.default_rng(1).uniform(-1, 1, (5, 8, 8, 1)).astype("float32")  # a batch parity did not use
    want = _keras(model, x)
    assert want["score"].shape == (5,) and want["residual"].shape == (5, 8, 8, 1)
    names, onnx_out = _onnx(directory, x)
    assert names == NAMES  # the model's own order, not tf2onnx's sorted one
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape[1:]) for i in session.get_inputs()] == [("x", [8, 8, 1])]  # static sample dims
    saved = _saved_model(directory, x)
    assert sorted(saved) == sorted(NAMES)
    for name in NAMES:
        assert _max_abs(onnx_out[name], want[name]) < TOL, name
        assert _max_abs(saved[name], want[name]) < TOL, name
    # The outputs are what they claim to be: the residual of the reconstruction, the score its mean.
    np.testing.assert_allclose(onnx_out["residual"], (x - onnx_out["reconstruction"]) ** 2, atol=1e-5)
    np.testing.assert_allclose(onnx_out["score"], onnx_out["residual"].mean(axis=(1, 2, 3)), atol=1e-5)


def test_metadata_lists_every_output_and_the_outlier_keys(image_export):
    _, directory, returned = image_export
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata == json.loads(json.dumps(returned))
    assert metadata["inputs"] == [{"name": "x", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert metadata["outputs"] == [{"name": "score", "shape": [None], "dtype": "float32"},
                                   {"name": "reconstruction", "shape": [None, 8, 8, 1], "dtype": "float32"},
                                   {"name": "residual", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert metadata["latent_dim"] is None and metadata["latent_distribution"] is None  # samples in, not latents
    assert metadata["layout"] == "NHWC" and metadata["channel_order"] == "L"
    assert metadata["dynamic_spatial"] is False
    for key, value in OUTLIER_METADATA.items():
        assert metadata[key] == value
    assert set(metadata["parity_max_abs_error"]) == {"onnx", "saved_model"}
    assert all(0.0 <= err < TOL for err in metadata["parity_max_abs_error"].values())


def test_vector_scorer_keeps_its_width_and_may_have_no_value_range(tmp_path):
    model = scorer((5,), seed=1)
    metadata = export.export_generator(model, tmp_path / "vectors", value_range=None,
                                       extra_metadata={"task": "outlier_scoring", "input_kind": "vectors"})
    assert metadata["inputs"] == [{"name": "x", "shape": [None, 5], "dtype": "float32"}]
    assert [o["name"] for o in metadata["outputs"]] == NAMES and metadata["outputs"][1]["shape"] == [None, 5]
    assert metadata["latent_dim"] is None and metadata["layout"] == "NC"
    assert metadata["value_range"] is None and metadata["to_uint8"] is None
    x = np.random.default_rng(2).normal(0, 3, (4, 5)).astype("float32")
    names, got = _onnx(tmp_path / "vectors", x)
    want = _keras(model, x)
    assert names == NAMES and all(_max_abs(got[n], want[n]) < TOL for n in NAMES)


def test_parity_check_covers_every_output(tmp_path, monkeypatch):
    """An ONNX graph whose reconstruction and residual came out swapped (same shapes) must fail the check."""
    real = export._name_onnx_outputs

    def swapped(proto, names):
        proto = real(proto, names)
        swap = {"reconstruction": "residual", "residual": "reconstruction"}  # tensor names, graph-wide
        for node in proto.graph.node:
            node.input[:] = [swap.get(t, t) for t in node.input]
            node.output[:] = [swap.get(t, t) for t in node.output]
        return proto

    monkeypatch.setattr(export, "_name_onnx_outputs", swapped)
    with pytest.raises(export.ExportError, match=r"onnx export differs from Keras by .*tolerance is 0.0001"):
        export.export_generator(scorer(), tmp_path / "bad", formats=("onnx",))
    assert not (tmp_path / "bad").exists()


def _fake_onnx_names(monkeypatch, keep=()) -> list:
    """Make tf2onnx name each graph output ``Identity_<i>:0`` instead of its dict key, except those in ``keep``;
    returns the list the names it gave are recorded in."""
    import tf2onnx

    real = tf2onnx.convert.from_function
    seen = []

    def generic_names(*args, **kwargs):
        proto, storage = real(*args, **kwargs)
        for i, output in enumerate(proto.graph.output):
            old, new = output.name, f"Identity_{i}:0"
            if old in keep:
                continue
            for node in proto.graph.node:
                node.output[:] = [new if t == old else t for t in node.output]
                node.input[:] = [new if t == old else t for t in node.input]
            output.name = new
        seen.append([o.name for o in proto.graph.output])
        return proto, storage

    monkeypatch.setattr(tf2onnx.convert, "from_function", generic_names)
    return seen


@pytest.mark.parametrize("keep", [(), ("residual", "score")])
def test_generic_onnx_output_names_are_renamed(tmp_path, monkeypatch, keep):
    """Should tf2onnx not keep the dict keys, or keep only some, the export names every output itself (no name
    twice in the graph), and the parity check agrees."""
    seen = _fake_onnx_names(monkeypatch, keep)
    model = scorer(seed=3)
    metadata = export.export_generator(model, tmp_path / "renamed", formats=("onnx",))
    assert len(seen) == 1 and [name for name in seen[0] if not name.startswith("Identity_")] == list(keep)
    assert len([name for name in seen[0] if name.startswith("Identity_")]) == 3 - len(keep)
    assert metadata["parity_max_abs_error"]["onnx"] < TOL
    x = np.random.default_rng(4).uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    names, got = _onnx(tmp_path / "renamed", x)
    want = _keras(model, x)
    assert names == NAMES and all(_max_abs(got[n], want[n]) < TOL for n in NAMES)
    import onnx

    produced = [t for node in onnx.load(str(tmp_path / "renamed" / "model.onnx")).graph.node for t in node.output]
    assert len(produced) == len(set(produced))  # every tensor has one producer


def test_list_outputs_are_named_after_their_layers_and_shared_tensors_stay_apart(tmp_path):
    keras.utils.set_random_seed(0)
    x = keras.Input((3,), name="x")
    doubled = keras.layers.Dense(3, name="doubled")(x)
    total = keras.layers.Dense(1, name="total")(doubled)
    listed = keras.Model(x, [doubled, total])
    metadata = export.export_generator(listed, tmp_path / "list", formats=("onnx",), value_range=None)
    assert [o["name"] for o in metadata["outputs"]] == ["doubled", "total"]
    assert metadata["latent_dim"] is None
    shared = keras.Model(x, {"first": doubled, "second": doubled})  # one tensor, two outputs
    export.export_generator(shared, tmp_path / "shared", formats=("onnx",))
    sample = np.ones((2, 3), "float32")
    names, got = _onnx(tmp_path / "shared", sample)
    assert names == ["first", "second"]
    np.testing.assert_array_equal(got["first"], got["second"])


def test_constants_a_layer_holds_are_embedded_not_left_as_onnx_inputs(tmp_path):
    """``Normalization(mean=, variance=)`` (the app's in-graph standardisation) holds constant tensors, which
    tf2onnx would leave as extra graph inputs; with one output or several, the ONNX model takes ``x`` alone."""
    keras.utils.set_random_seed(0)
    x = keras.Input((4,), name="x")
    standardised = keras.layers.Normalization(mean=[10.0, 0.0, -5.0, 1.0], variance=[4.0, 1.0, 9.0, 0.25])(x)
    single = keras.Model(x, keras.layers.Dense(2)(standardised))
    several = keras.Model(x, {"score": keras.layers.Dense(1)(standardised), "standardised": standardised})
    sample = np.random.default_rng(5).normal(3.0, 4.0, (6, 4)).astype("float32")
    for name, model in (("single", single), ("several", several)):
        export.export_generator(model, tmp_path / name, formats=("onnx",), value_range=None)
        session = ort.InferenceSession(str(tmp_path / name / "model.onnx"), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["x"], name
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": sample})))
        want = model(sample)
        want = {"images": want} if name == "single" else want
        assert set(got) == set(want)
        assert all(_max_abs(got[k], keras.ops.convert_to_numpy(want[k])) < TOL for k in want)
    np.testing.assert_allclose(got["standardised"], (sample - [10.0, 0.0, -5.0, 1.0]) / [2.0, 1.0, 3.0, 0.5],
                               atol=1e-5)


@pytest.mark.parametrize("outputs, pattern", [
    ({"my score": 0}, r"model: expected output names of letters, digits.*got 'my score'"),
    ({"1st": 0}, r"model: expected output names .*start with a letter; got '1st'"),
])
def test_error_unusable_output_names(tmp_path, outputs, pattern):
    x = keras.Input((3,), name="x")
    y = keras.layers.Dense(2)(x)
    model = keras.Model(x, {name: y for name in outputs} | {"other": keras.layers.Dense(1)(x)})
    with pytest.raises(ValueError, match=pattern):
        export.export_generator(model, tmp_path / "e")
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("value_range", [(1.0, -1.0), (0, float("nan")), "0..1", (0,)])
def test_error_bad_value_range(tmp_path, value_range):
    with pytest.raises(ValueError, match=r"value_range: expected None or \(low, high\) with finite low < high"):
        export.export_generator(scorer(), tmp_path / "e", value_range=value_range)
    assert not (tmp_path / "e").exists()
