"""Export trained generators (and other Keras models, such as outlier scorers) to ONNX and SavedModel, checked
against Keras, with a metadata file.

``export_generator(model, directory)`` writes::

    directory/
      model.onnx        ONNX (opset 17), dynamic batch; dynamic height/width for fully convolutional nets
      saved_model/      TensorFlow SavedModel, signature "serving_default"
      metadata.json     input/output names, shapes and dtypes, latent_dim, value range and its uint8 mapping,
                        library versions, the measured parity error of each format

A model with one output exposes it as ``"images"``. A model with several outputs (a dict output such as
``{"score": ..., "reconstruction": ..., "residual": ...}``, or a list, named after its output layers) exposes each
under its own name, in the model's order, in the SavedModel signature and the ONNX graph alike, and
``metadata["outputs"]`` lists them all.

Every format is run on random inputs and compared with the Keras model, output by output; an export whose max
abs difference exceeds ``tolerance`` (1e-4) fails. Everything is written under a temporary folder first and moved
into place only once all checks pass, so a failure leaves an earlier export (or nothing) behind, never half of one.

The exported files need neither ganapps nor Keras: ``onnxruntime.InferenceSession("model.onnx")`` or
``tf.saved_model.load("saved_model").signatures["serving_default"]`` is enough. :func:`load` (from
:mod:`ganapps.runtime`) wraps the ONNX file for sampling; :func:`ganapps.runtime.load_scorer` wraps an outlier
scorer's.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import reprlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganapps.runtime import METADATA, ONNX_FILE, GeneratorRunner, load, session  # noqa: F401  (re-exported)

SAVED_MODEL_DIR = "saved_model"
FORMATS = ("onnx", "saved_model")
OPSET = 17
OUTPUT_NAME = "images"


class ExportError(RuntimeError):
    """An export that failed its parity check or could not be converted."""


def export_generator(model: Any, directory: str | os.PathLike, formats: Sequence[str] = FORMATS,
                     tolerance: float = 1e-4, value_range: tuple[float, float] | None = (-1.0, 1.0),
                     extra_metadata: dict | None = None, seed: int = 0) -> dict[str, Any]:
    """Export a generator (or a game that has one) to ONNX and/or SavedModel with a parity check.

    Args:
        model: a game (its EMA generator is exported when it has one, else its generator) or a
            ``keras.Model``: a generator, or any model with one or several outputs (a dict output keeps its keys
            as output names; see the module docstring).
        directory: the export folder; created, or its export files replaced.
        formats: any of "onnx" and "saved_model".
        tolerance: largest allowed max abs difference between an export and Keras on random inputs.
        value_range: the range of the generator's outputs (or of a scorer's image inputs), recorded with its
            mapping to uint8; None for models whose values are not images.
        extra_metadata: more keys for ``metadata.json``.
        seed: seed of the random parity inputs.

    Returns:
        The metadata written.
    """
    import keras

    generator, latent_dim = _resolve(model)
    names = _output_names(generator)
    formats = _check_formats(formats)
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance: expected a positive number; got {tolerance!r}")
    value_range = _check_value_range(value_range)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"directory: expected a folder path; got {str(directory)!r}, which is a file")

    specs = _input_specs(generator)
    parity_inputs = _parity_inputs(specs, seed)
    try:
        expected = [_keras_outputs(keras, generator, x, names) for x in parity_inputs]
    except Exception:  # noqa: BLE001  (a net that refuses 32 and 64, such as a deep U-Net: sizes it takes)
        parity_inputs = _parity_inputs(specs, seed, _parity_sizes(generator, specs))
        expected = [_keras_outputs(keras, generator, x, names) for x in parity_inputs]

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.export-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        parity: dict[str, float] = {}
        if "saved_model" in formats:
            _write_saved_model(generator, specs, tmp / SAVED_MODEL_DIR, names)
            parity["saved_model"] = _check_saved_model(tmp / SAVED_MODEL_DIR, specs, parity_inputs, expected)
        if "onnx" in formats:
            _write_onnx(generator, specs, tmp / ONNX_FILE, names)
            parity["onnx"] = _check_onnx(tmp / ONNX_FILE, specs, parity_inputs, expected)
        for fmt, err in parity.items():
            if not err <= tolerance:
                raise ExportError(f"{fmt} export differs from Keras by {err:.3g} (max abs) on random inputs; "
                                  f"the tolerance is {tolerance:g}. Nothing was written to {str(directory)!r}.")
        metadata = _metadata(generator, latent_dim, specs, names, formats, parity, tolerance, value_range)
        hook = getattr(model, "export_metadata", None)  # games with conditions describe their inputs
        if callable(hook):
            metadata.update(hook())
        metadata.update(extra_metadata or {})
        (tmp / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        _move_into_place(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return metadata


def export_keras_file(path: str | os.PathLike, directory: str | os.PathLike, **kwargs) -> dict[str, Any]:
    """Load a ``.keras`` file (a game or a generator) and export it with :func:`export_generator`."""
    return export_generator(load_keras(path, argument="path"), directory, **kwargs)


def save_keras_with(game: Any, path: str | os.PathLike, members: dict[str, str | bytes]) -> Path:
    """Write ``game`` to the ``.keras`` file ``path`` with extra zip ``members`` (name -> text or bytes) beside what
    Keras writes, atomically: a failure leaves no file, or the previous one. The apps keep their settings this
    way; ``keras.models.load_model`` still reads the game alone from the file."""
    import zipfile

    from ganapps import _checks

    def write(tmp: Path) -> None:
        game.save(tmp)
        with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in members.items():
                archive.writestr(name, content)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _checks.write_atomically(path, write)


def load_keras(path: str | os.PathLike, argument: str = "path"):
    """``keras.models.load_model`` with errors that name the argument and say what is wrong with the file."""
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{argument}: expected an existing .keras file; got {str(path)!r}, "
                                f"which does not exist")
    if path.suffix != ".keras":
        raise ValueError(f"{argument}: expected a file ending in .keras; got {str(path)!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{argument}: {str(path)!r} is not a valid .keras archive (truncated or corrupt?)")
    import keras  # after the checks above, so that a wrong path is reported without starting TensorFlow

    import ganapps.games  # noqa: F401  (registers the games for deserialisation)

    try:
        return keras.models.load_model(path)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
        raise ValueError(f"{argument}: could not read {str(path)!r} as a .keras model "
                         f"(truncated or corrupt?): {err}") from err


# -- helpers -------------------------------------------------------------------------------------------------
def _resolve(model) -> tuple[Any, int | None]:
    import keras

    generator = getattr(model, "inference_generator", None)
    if generator is None:
        generator = model
    if not isinstance(generator, keras.Model):
        raise ValueError(f"model: expected a keras.Model generator or a ganapps game; "
                         f"got {type(model).__name__} {reprlib.repr(model)}")
    latent_dim = getattr(model, "latent_dim", None)
    first = generator.inputs[0]
    # A model of several outputs (a scorer) takes samples, not latents, unless its input says otherwise.
    several = _output_names(generator) is not None
    is_latent = (len(generator.inputs) == 1 and not several) or getattr(first, "name", "").split(":")[0] == "z"
    if latent_dim is None and is_latent and len(first.shape) == 2:
        latent_dim = first.shape[-1]  # a bare generator of z, or of [z, condition...]
    return generator, latent_dim


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats: expected a non-empty selection of {FORMATS}; got {formats!r}")
    return formats


def _check_value_range(value_range) -> tuple[float, float] | None:
    if value_range is None:
        return None
    ok = isinstance(value_range, (list, tuple)) and len(value_range) == 2 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)
        for v in value_range)
    if not ok or not value_range[0] < value_range[1]:
        raise ValueError(f"value_range: expected None or (low, high) with finite low < high; "
                         f"got {reprlib.repr(value_range)}")
    lo, hi = (float(v) if isinstance(v, np.generic) else v for v in value_range)  # as given, JSON-ready
    return lo, hi


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _output_names(generator) -> list[str] | None:
    """The names of a model's outputs when it has several (a dict output: its keys, in order; a list or tuple:
    its output layers' names); None for a model of one output, exported as :data:`OUTPUT_NAME`."""
    structure = generator.output
    if isinstance(structure, dict):
        names = list(structure)
    elif isinstance(structure, (list, tuple)) and len(structure) > 1:
        names = list(generator.output_names)
    else:
        return None
    for name in names:
        # The names become TensorFlow op names and SavedModel signature keys: keep to the characters both take.
        if not (isinstance(name, str) and name and name[0].isalpha() and set(name) <= _NAME_CHARS):
            raise ValueError(f"model: expected output names of letters, digits, '_', '.' or '-' that start "
                             f"with a letter; got {name!r} among {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"model: expected distinct output names; got {names!r}")
    return names


def _output_tensors(generator, names: list[str] | None) -> list[Any]:
    """The symbolic outputs in the order of ``names`` (just the one output without names)."""
    structure = generator.output
    if names is None:
        return [generator.outputs[0]]
    if isinstance(structure, dict):
        return [structure[name] for name in names]
    return list(structure)


def _keras_outputs(keras, generator, inputs: list[np.ndarray], names: list[str] | None) -> dict[str, np.ndarray]:
    """{output name: NumPy array} of the Keras model on one parity batch."""
    outputs = generator(inputs if len(inputs) > 1 else inputs[0], training=False)
    if names is None:
        return {OUTPUT_NAME: keras.ops.convert_to_numpy(outputs)}
    values = [outputs[name] for name in names] if isinstance(outputs, dict) else list(outputs)
    return {name: keras.ops.convert_to_numpy(value) for name, value in zip(names, values)}


def _input_specs(generator) -> list[dict[str, Any]]:
    specs = []
    for i, tensor in enumerate(generator.inputs):
        name = tensor.name.split(":")[0] if getattr(tensor, "name", None) else f"input_{i}"
        specs.append({"name": name, "shape": [None] + list(tensor.shape[1:]), "dtype": str(tensor.dtype)})
    return specs


def _parity_sizes(generator, specs) -> tuple[int, int]:
    """Two heights/widths for the parity batches of a net with dynamic spatial dims that refuses 32 and 64: the
    two smallest sizes it takes (``nets.size_multiple`` and ``nets.min_size``) from 32 up, so a depth-6 U-Net
    gets 64 and 128."""
    if not any(None in spec["shape"][1:] for spec in specs):
        return 32, 64
    import math

    from ganapps.nets.unet import min_size, size_multiple

    multiple = math.lcm(32, size_multiple(generator))
    first = -(-max(32, min_size(generator)) // multiple) * multiple
    return first, first + multiple


def _parity_inputs(specs, seed: int, sizes: tuple[int, int] = (32, 64)) -> list[list[np.ndarray]]:
    """Two batches of random inputs, the second larger, with dynamic spatial dims filled by ``sizes``."""
    rng = np.random.default_rng(seed)
    batches = []
    for batch, fill in zip((3, 2), sizes):
        arrays = []
        for spec in specs:
            shape = [batch] + [fill if s is None else s for s in spec["shape"][1:]]
            arrays.append(rng.standard_normal(shape).astype(spec["dtype"]))
        batches.append(arrays)
    return batches


def _tf_signature(specs):
    import tensorflow as tf

    return [tf.TensorSpec(s["shape"], tf.as_dtype(s["dtype"]), name=s["name"]) for s in specs]


def _serving_fn(generator, specs, names: list[str] | None = None):
    import tensorflow as tf

    @tf.function(input_signature=_tf_signature(specs))
    def serve(*inputs):
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        if names is None:
            return {OUTPUT_NAME: generator(x, training=False)}
        outputs = generator(x, training=False)
        values = [outputs[name] for name in names] if isinstance(outputs, dict) else list(outputs)
        # An op of each output's own name, so that converters (tf2onnx) see the name, and two outputs that are
        # one tensor in the graph still come out as two.
        return {name: tf.identity(value, name=name) for name, value in zip(names, values)}

    return serve


def _write_saved_model(generator, specs, path: Path, names: list[str] | None = None) -> None:
    import keras

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("serving_default", _serving_fn(generator, specs, names))
    archive.write_out(str(path), verbose=False)


def _check_saved_model(path: Path, specs, parity_inputs, expected) -> float:
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(feed):
        outputs = serve(**{k: tf.constant(v) for k, v in feed.items()})
        return {name: value.numpy() for name, value in outputs.items()}

    return _parity_error(run, specs, parity_inputs, expected)


def _write_onnx(generator, specs, path: Path, names: list[str] | None = None) -> None:
    import onnx
    import tf2onnx

    serve = _serving_fn(generator, specs, names)
    signature = _tf_signature(specs)
    try:
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET)
    except Exception as err:  # tf2onnx raises many types; say which model failed and why
        raise ExportError(f"ONNX conversion of {generator.name!r} failed: {err}") from err
    proto = _embed_captured_constants(proto, serve.get_concrete_function(*signature))
    if names is not None:
        proto = _name_onnx_outputs(proto, names)
    onnx.save_model(proto, str(path))


def _embed_captured_constants(proto, concrete):
    """The ONNX model with the constant tensors the function captured moved from its inputs into its weights.

    tf2onnx's ``from_function`` freezes captured variables but leaves captured constant tensors (e.g. the mean
    and variance a ``keras.layers.Normalization(mean=, variance=)`` holds) as graph inputs that every caller
    would have to feed; their values are known here, so they become initializers.
    """
    from onnx import numpy_helper

    captured = list(concrete.captured_inputs)
    internal = list(concrete.inputs)[len(concrete.inputs) - len(captured):]
    constants = {placeholder.name: value.numpy() for placeholder, value in zip(internal, captured)
                 if value.dtype.name != "resource" and hasattr(value, "numpy")}
    graph = proto.graph
    embedded = [tensor for tensor in graph.input if tensor.name in constants]
    if not embedded:
        return proto
    for tensor in embedded:
        graph.initializer.append(numpy_helper.from_array(constants[tensor.name], tensor.name))
    _replace_repeated(graph.input, [tensor for tensor in graph.input if tensor.name not in constants])
    return proto


def _replace_repeated(field, messages) -> None:
    """Make a repeated protobuf field hold copies of ``messages`` (taken before the field is cleared)."""
    copies = []
    for message in messages:
        copy = type(message)()
        copy.CopyFrom(message)
        copies.append(copy)
    del field[:]
    field.extend(copies)


def _name_onnx_outputs(proto, names: list[str]):
    """The ONNX model with its graph outputs named ``names`` and listed in that order.

    tf2onnx names the outputs of a function that returns a dict after its keys; should a version not (for all of
    them or for some), its outputs come in the order TensorFlow flattens the dict (sorted keys) and every output
    gets an Identity node of the right name. Outputs that kept one of the names are renamed out of the way first,
    since an Identity of that name would otherwise duplicate them. The parity check, which compares output by
    output by name, catches a wrong guess.
    """
    graph = proto.graph
    current = [output.name for output in graph.output]
    if len(current) != len(names):
        raise ExportError(f"ONNX conversion gave {len(current)} outputs ({current}); the model has "
                          f"{len(names)} ({names})")
    if set(current) != set(names):
        import onnx

        taken = {t for node in graph.node for t in (*node.input, *node.output)}
        taken |= {t.name for t in (*graph.input, *graph.initializer, *graph.output)}
        for output in graph.output:
            if output.name in names:
                fresh = f"{output.name}_unnamed"
                while fresh in taken or fresh in names:
                    fresh += "_"
                _rename_tensor(graph, output.name, fresh)
                taken.add(fresh)
        taken = {t for node in graph.node for t in (*node.input, *node.output)}
        taken |= {t.name for t in (*graph.input, *graph.initializer)}
        clash = sorted(set(names) & taken)
        if clash:
            raise ExportError(f"ONNX conversion named its outputs {current}, and the model's output names "
                              f"{clash} are taken by other tensors of the graph")
        for output, name in zip(graph.output, sorted(names)):
            graph.node.append(onnx.helper.make_node("Identity", [output.name], [name], name=f"{name}_output"))
            output.name = name
    by_name = {output.name: output for output in graph.output}
    _replace_repeated(graph.output, [by_name[name] for name in names])
    return proto


def _rename_tensor(graph, old: str, new: str) -> None:
    """Rename the tensor ``old`` to ``new`` wherever ``graph`` produces, uses, describes or outputs it."""
    for node in graph.node:
        node.input[:] = [new if t == old else t for t in node.input]
        node.output[:] = [new if t == old else t for t in node.output]
    for info in (*graph.value_info, *graph.output):
        if info.name == old:
            info.name = new


def _check_onnx(path: Path, specs, parity_inputs, expected) -> float:
    onnx_session = session(path, ["CPUExecutionProvider"])
    names = list(expected[0])
    return _parity_error(lambda feed: dict(zip(names, onnx_session.run(names, feed))), specs, parity_inputs,
                         expected)


def _parity_error(run, specs, parity_inputs, expected) -> float:
    """The largest max abs difference between ``run({input name: array})`` (a dict of named outputs) and Keras,
    over every output and the parity batches; a missing output counts as an infinite difference."""
    errors = []
    for arrays, want in zip(parity_inputs, expected):
        got = run({s["name"]: a for s, a in zip(specs, arrays)})
        errors.extend(_max_abs(got[name], value) if name in got else float("inf") for name, value in want.items())
    return max(errors)


def _max_abs(got: np.ndarray, want: np.ndarray) -> float:
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0


def _metadata(generator, latent_dim, specs, names, formats, parity, tolerance, value_range) -> dict[str, Any]:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    import ganapps

    outputs = [{"name": name, "shape": [None] + list(tensor.shape[1:]), "dtype": str(tensor.dtype)}
               for name, tensor in zip(names or [OUTPUT_NAME], _output_tensors(generator, names))]
    # The layout of the images the model makes, or for a model of several outputs (a scorer) of the images it
    # makes or takes: the first NHWC tensor among its outputs, then its inputs.
    shapes = [o["shape"] for o in outputs] + ([s["shape"] for s in specs] if names else [])
    out_shape = next((shape for shape in shapes if len(shape) == 4), outputs[0]["shape"])
    channels = out_shape[-1] if len(out_shape) == 4 else None
    spatial_dynamic = any(s is None for spec in specs for s in spec["shape"][1:])
    if value_range is None:
        value_range_entries = {"value_range": None, "to_uint8": None}
    else:
        lo, hi = value_range
        value_range_entries = {"value_range": [lo, hi],
                               "to_uint8": f"uint8 = clip(round((x - ({lo:g})) * 255 / {hi - lo:g}), 0, 255)"}
    return {
        "format_version": 1,
        "model_name": generator.name,
        "files": {"onnx": ONNX_FILE if "onnx" in formats else None,
                  "saved_model": SAVED_MODEL_DIR if "saved_model" in formats else None},
        "inputs": specs,
        "outputs": outputs,
        "latent_dim": latent_dim,
        "latent_distribution": "standard_normal" if latent_dim is not None else None,
        "dynamic_batch": True,
        "dynamic_spatial": spatial_dynamic,
        "layout": "NHWC" if len(out_shape) == 4 else "NC",
        "channel_order": {1: "L", 3: "RGB", 4: "RGBA"}.get(channels),
        **value_range_entries,
        "saved_model_signature": "serving_default",
        "onnx_opset": OPSET,
        "parity_max_abs_error": parity,
        "parity_tolerance": tolerance,
        "versions": {"ganapps": ganapps.__version__, "keras": keras.__version__, "tensorflow": tf.__version__,
                     "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                     "onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _move_into_place(tmp: Path, directory: Path) -> None:
    """Replace the export entries of ``directory`` with those of ``tmp``; other files there are kept.

    Each entry is renamed into place (a rename within one file system is atomic); the old entries are moved
    aside first and deleted only after the new ones are in. If a rename fails, the new entries are taken out
    again and the old ones put back.
    """
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    trash = directory.parent / f".{directory.name}.old-{os.getpid()}"
    shutil.rmtree(trash, ignore_errors=True)
    trash.mkdir()
    placed: list[str] = []
    try:
        for name in (ONNX_FILE, SAVED_MODEL_DIR, METADATA):
            if (directory / name).exists():
                os.replace(directory / name, trash / name)
        # metadata.json last: an export folder with metadata is a complete one.
        for name in (ONNX_FILE, SAVED_MODEL_DIR, METADATA):
            if (tmp / name).exists():
                os.replace(tmp / name, directory / name)
                placed.append(name)
    except BaseException:
        for name in placed:
            _remove(directory / name)
        for name in (ONNX_FILE, SAVED_MODEL_DIR, METADATA):
            if (trash / name).exists():
                os.replace(trash / name, directory / name)
        if created and not any(directory.iterdir()):
            directory.rmdir()
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
