"""Run exported generators (and the task models built on them) with ONNX Runtime: no TensorFlow, no Keras.

``load(directory)`` reads ``metadata.json`` and ``model.onnx`` written by :func:`ganapps.export.export_generator`
and returns a :class:`GeneratorRunner`. It uses the CUDA execution provider when onnxruntime offers it, else the
CPU. This module imports only NumPy and onnxruntime, so command-line sampling starts fast.

Conditional exports (a generator of ``(z, condition)``) carry a ``"conditioning"`` entry in their metadata that
says how a condition vector is made: ``{"kind": "class", "num_classes": K}`` (one-hot class ids),
``{"kind": "attributes", "condition_dim": k}`` (real-valued vectors, fed as given) or ``{"kind": "info_codes",
"categorical_codes": [...], "continuous_codes": c}`` (InfoGAN's latent codes). :func:`condition_vectors` turns
user-facing labels into those vectors; the games use it too, so a seed and labels give the same samples in
Keras and from an export.

Super-resolution exports (metadata ``"task": "super_resolution"``, with ``"scale"``) load into an
:class:`Upscaler` (:func:`load_upscaler`), which upscales images and image files of any size tile by tile.

Outlier-scoring exports (metadata ``"task": "outlier_scoring"``, with ``"threshold"``, ``"input_kind"``,
``"sample_shape"`` and, for images, ``"value_range"``; a model of one input ``x`` and the outputs ``score``,
``reconstruction`` and ``residual``) load into an :class:`OutlierScorer` (:func:`load_scorer`), which scores
arrays and image files with scikit-learn's outlier-detector methods (``score_samples``, ``decision_function``,
``predict``). :func:`read_samples` reads what command-line scoring is given: a folder of images, an image file,
a ``.npy`` or a ``.csv`` file.

Image-translation exports (metadata ``"task": "image_translation"``, with ``"direction"``, ``"in_channels"``,
``"out_channels"`` and ``"size_multiple"``: the pix2pix and CycleGAN generators) load into a :class:`Translator`
(:func:`load_translator`), which translates images and image files of any size, padding them by reflection to
the size multiple and cropping the result back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ganapps import _checks
from ganapps.images import (IMAGE_EXTENSIONS, WRITABLE_EXTENSIONS, convert_channels, image_files, read_image,
                             to_uint8)

METADATA = "metadata.json"
ONNX_FILE = "model.onnx"


def default_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, then CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    preferred = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return preferred or available


def read_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """Read an export's ``metadata.json`` with errors that say what is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"directory: expected an export folder holding {METADATA} and {ONNX_FILE}; "
                                f"got {str(directory)!r}, which does not exist")
    path = directory / METADATA
    if not path.is_file():
        raise FileNotFoundError(f"directory: expected a folder holding {METADATA} (written by "
                                f"ganapps.export.export_generator); got {str(directory)!r}, which has none")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"directory: expected a valid {METADATA}; got {str(path)!r}, which is not JSON "
                         f"({err})") from err


def session(path: str | os.PathLike, providers: list[str]):
    """An onnxruntime ``InferenceSession`` on ``path`` that logs only errors."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=providers)


def open_export(directory: str | os.PathLike, providers: list[str] | None = None):
    """The ``InferenceSession`` of an export folder's ``model.onnx``, with errors that name the folder."""
    directory = Path(directory)
    path = directory / ONNX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"directory: expected a folder holding {ONNX_FILE}; got "
                                f"{str(directory)!r}, which has none")
    try:
        return session(path, providers or default_providers())
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"directory: expected a loadable {ONNX_FILE}; got {str(path)!r}, which is not one "
                         f"(truncated or corrupt?): "
                         f"{str(err).splitlines()[0]}") from err


class GeneratorRunner:
    """A generator exported to ONNX, run by ONNX Runtime.

    Call it on inputs (``runner(z)``) or let it draw latents (``runner.sample(n, seed=0)``); both return
    NHWC images, float in the export's value range or ``uint8`` when ``output="uint8"``.
    """

    def __init__(self, directory: str | os.PathLike, providers: list[str] | None = None):
        self.directory = Path(directory)
        self.metadata = read_metadata(self.directory)
        self.session = open_export(self.directory, providers)
        self.inputs = self.session.get_inputs()
        self.output_name = self.session.get_outputs()[0].name

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    @property
    def latent_dim(self) -> int | None:
        return self.metadata.get("latent_dim")

    def __call__(self, *inputs: np.ndarray, output: str = "float") -> np.ndarray:
        """Run the generator on ``inputs`` (one array per model input, in the order of the metadata)."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"inputs: expected {len(self.inputs)} array(s) "
                             f"({', '.join(i.name for i in self.inputs)}); got {len(inputs)}")
        feed = {}
        for spec, value in zip(self.inputs, inputs):
            value = np.asarray(value, dtype=np.float32)
            if len(spec.shape) != value.ndim or any(
                    isinstance(s, int) and s != v for s, v in zip(spec.shape, value.shape)):
                raise ValueError(f"{spec.name}: expected shape {_fmt(spec.shape)}; got {value.shape}")
            feed[spec.name] = value
        images = self.session.run([self.output_name], feed)[0]
        return self._convert(images, output)

    @property
    def conditioning(self) -> dict[str, Any] | None:
        """How the condition input of a conditional export is encoded (see the module docstring); None for an
        unconditional export. Exports without the metadata entry get ``{"kind": "vector"}``: integer labels
        one-hot encoded to the input's width, float vectors fed as given."""
        if len(self.inputs) < 2:
            return None
        info = self.metadata.get("conditioning")
        if info:
            return info
        width = self.inputs[1].shape[-1]
        return {"kind": "vector", "condition_dim": width if isinstance(width, int) else None}

    def sample(self, n: int, seed: int | None = None, truncation: float | None = None, labels: Any = None,
               output: str = "float", batch_size: int = 256) -> np.ndarray:
        """Draw ``n`` latents from N(0, I) (truncated to [-t, t] when ``truncation=t``) and generate.

        ``labels`` conditions a conditional export: class ids (an int for all ``n``, or ``n`` ints), attribute
        vectors (``(n, k)`` or one ``(k,)`` for all), or InfoGAN codes (see :func:`condition_vectors`); for
        class exports None cycles through the classes, for InfoGAN exports it draws codes from their prior.
        """
        if self.latent_dim is None:
            raise ValueError(f"directory: expected an export with a latent input for sample(); got one with "
                             f"inputs {[i.name for i in self.inputs]}: call the runner on inputs instead")
        _checks.positive_int(batch_size, "batch_size")
        z = sample_normal(n, self.latent_dim, seed=seed, truncation=truncation)
        inputs = [z]
        if self.conditioning is None:
            if labels is not None:
                raise ValueError(f"labels: expected None for an unconditional export; got {_short(labels)}")
        else:
            inputs.append(condition_vectors(n, labels, self.conditioning, seed=seed))
        return np.concatenate([self(*[x[i:i + batch_size] for x in inputs], output=output)
                               for i in range(0, n, batch_size)])

    def _convert(self, images: np.ndarray, output: str) -> np.ndarray:
        if output == "float":
            return images
        if output == "uint8":
            return to_uint8(images, tuple(self.metadata.get("value_range", (-1.0, 1.0))))
        raise ValueError(f"output: expected 'float' or 'uint8'; got {output!r}")


def sample_normal(n: int, dim: int, seed: int | None = None, truncation: float | None = None) -> np.ndarray:
    """Latents from N(0, I) in NumPy (float32), the generators' prior; the same ``seed`` gives the same latents.

    With ``truncation=t`` each coordinate follows the normal restricted to [-t, t] (the truncation trick:
    fidelity for variety), drawn exactly by inverting the normal CDF on that interval.
    """
    _checks.positive_int(n, "n")
    _checks.positive_int(dim, "dim")
    rng = np.random.default_rng(seed)
    if truncation is None:
        return rng.standard_normal((n, dim)).astype(np.float32)
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not truncation > 0:
        raise ValueError(f"truncation: expected None or a positive number of standard deviations; got {truncation!r}")
    from scipy.special import ndtr, ndtri  # only here, so that plain sampling starts without SciPy

    lo = ndtr(-float(truncation))
    u = rng.uniform(lo, 1.0 - lo, (n, dim))
    return np.clip(ndtri(u), -truncation, truncation).astype(np.float32)


def condition_vectors(n: int, labels: Any, conditioning: dict[str, Any], seed: int | None = None,
                      argument: str = "labels") -> np.ndarray:
    """The ``(n, condition_dim)`` float32 condition vectors a conditional generator takes, from user labels.

    By ``conditioning["kind"]``:

    * ``"class"``: an int (all ``n`` samples), ``n`` ints in [0, num_classes), or ``(n, num_classes)`` vectors
      (one-hot or soft); None cycles ``0, 1, ..., K-1, 0, ...``.
    * ``"attributes"``: ``(n, k)`` vectors or one ``(k,)`` vector for all; None is an error.
    * ``"info_codes"``: ``(n, code_dim)`` vectors, one ``(code_dim,)`` vector, or a dict ``{code index: value}``
      where an index below ``len(categorical_codes)`` names a categorical code (value: a category id or ``n``
      of them) and the next ``continuous_codes`` indices the continuous ones (value: a number or ``n`` of
      them); codes left out, and all of them for None, are drawn from their prior (uniform categories,
      uniform [-1, 1]) with a stream derived from ``seed``.
    * ``"vector"`` (exports without conditioning metadata): ints are one-hot encoded, float vectors fed as is.
    """
    _checks.positive_int(n, "n")
    kind = conditioning.get("kind")
    if kind == "class":
        return _one_hot(_class_ids(labels, n, conditioning["num_classes"], argument, allow_vectors=True),
                        conditioning["num_classes"])
    if kind == "attributes":
        return _vectors(labels, n, conditioning["condition_dim"], argument, "attribute vectors")
    if kind == "info_codes":
        return _info_codes(labels, n, conditioning, seed, argument)
    if kind == "vector":
        width = conditioning.get("condition_dim")
        raw = labels if labels is None or isinstance(labels, dict) else np.asarray(labels)
        if raw is not None and not isinstance(raw, dict) and raw.dtype.kind in "iu":  # class ids
            return _one_hot(_class_ids(labels, n, width, argument), width)
        return _vectors(labels, n, width, argument, "condition vectors")
    raise ValueError(f"conditioning: expected a kind of 'class', 'attributes', 'info_codes' or 'vector'; "
                     f"got {kind!r}")


def code_layout(categorical_codes, continuous_codes: int) -> list[tuple[str, int, int]]:
    """(kind, start, width) of each InfoGAN code inside the code vector: one-hot categorical codes in order,
    then one column per continuous code."""
    layout, start = [], 0
    for k in categorical_codes:
        layout.append(("categorical", start, int(k)))
        start += int(k)
    for _ in range(int(continuous_codes)):
        layout.append(("continuous", start, 1))
        start += 1
    return layout


def _class_ids(labels: Any, n: int, num_classes: int, argument: str, allow_vectors: bool = False,
               broadcast: bool = True) -> np.ndarray:
    """Class ids (or, with ``allow_vectors``, ``(n, K)`` vectors returned as float32) checked against
    ``num_classes``; None cycles through the classes."""
    if labels is None:
        return np.arange(n) % num_classes
    values = np.asarray(labels)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{argument}: expected integer class ids in [0, {num_classes}); got {_short(labels)}")
    if allow_vectors and values.ndim == 2 and values.shape[1] == num_classes and num_classes > 1:
        if values.shape[0] != n:
            raise ValueError(f"{argument}: expected {n} class vectors (one per sample); got {values.shape[0]}")
        if not np.isfinite(values).all():
            raise ValueError(f"{argument}: expected finite class vectors; got NaN or Inf")
        return values.astype(np.float32)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 0 and broadcast:
        values = np.full(n, values)
    if values.ndim != 1:
        vectors = f" or ({n}, {num_classes}) class vectors" if allow_vectors else ""
        raise ValueError(f"{argument}: expected class ids of shape ({n},){vectors}; got shape {values.shape}")
    if len(values) != n:
        raise ValueError(f"{argument}: expected {n} class ids (one per sample); got {len(values)}")
    fractional = ~np.isfinite(values) | (values != np.round(values)) if values.dtype.kind == "f" else None
    if fractional is not None and fractional.any():
        raise ValueError(f"{argument}: expected integer class ids in [0, {num_classes}); got non-integer values "
                         f"such as {_short(values[fractional][:3])}")
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        shown = _short(np.unique(values[bad])[:5])
        raise ValueError(f"{argument}: expected class ids in [0, {num_classes}); got {shown}")
    return values.astype(np.int64)


def _one_hot(ids: np.ndarray, num_classes: int) -> np.ndarray:
    if ids.ndim == 2:  # already vectors
        return ids
    return np.eye(num_classes, dtype=np.float32)[ids]


def _vectors(labels: Any, n: int, width: int | None, argument: str, what: str) -> np.ndarray:
    if labels is None:
        raise ValueError(f"{argument}: expected {what} of shape ({n}, {width}) or ({width},); got None")
    values = _floats(labels, argument, what) if not isinstance(labels, dict) else None
    if values is None or values.ndim > 2:
        raise ValueError(f"{argument}: expected {what} of shape ({n}, {width}) or ({width},); got {_short(labels)}")
    if values.ndim == 0 and width == 1:
        values = values.reshape(1)
    if values.ndim == 1:
        values = np.broadcast_to(values, (n, values.shape[0]))
    if values.ndim != 2 or values.shape[0] != n or (width is not None and values.shape[1] != width):
        raise ValueError(f"{argument}: expected {what} of shape ({n}, {width}) or ({width},); "
                         f"got shape {np.shape(labels)}")
    if not np.isfinite(values).all():
        raise ValueError(f"{argument}: expected finite {what}; got NaN or Inf")
    return np.ascontiguousarray(values, dtype=np.float32)


def _info_codes(codes: Any, n: int, conditioning: dict[str, Any], seed: int | None, argument: str) -> np.ndarray:
    layout = code_layout(conditioning["categorical_codes"], conditioning["continuous_codes"])
    width = sum(w for _, _, w in layout)
    if codes is not None and not isinstance(codes, dict):
        return _vectors(codes, n, width, argument, "code vectors")
    given = dict(codes or {})
    for key in given:
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < len(layout):
            raise ValueError(f"{argument}: expected code indices in [0, {len(layout)}) as dict keys; got {key!r}")
    # A stream apart from the latents' (which sample_normal draws from ``seed`` itself). Every code is drawn
    # even when given, so fixing one code leaves the draws of the others as they were.
    rng = np.random.default_rng(None if seed is None else [int(seed), 1])
    out = np.zeros((n, width), np.float32)
    for index, (kind, start, size) in enumerate(layout):
        value = given.get(index)
        name = f"{argument}[{index}]"
        if kind == "categorical":
            ids = rng.integers(0, size, n)
            if value is not None:
                ids = _class_ids(value, n, size, name)
            out[np.arange(n), start + ids] = 1.0
        else:
            column = rng.uniform(-1.0, 1.0, n)
            if value is not None:
                column = _floats(value, name, "a number for a continuous code")
                if column.ndim == 0:
                    column = np.full(n, column)
                if column.shape != (n,) or not np.isfinite(column).all():
                    raise ValueError(f"{name}: expected a finite number or {n} of them for a continuous code; "
                                     f"got {_short(value)}")
            out[:, start] = column
    return out


def _floats(value: Any, argument: str, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{argument}: expected {what}; got {_short(value)}") from None


def _short(value: Any) -> str:
    return _checks.short(value, limit=80)


def load(directory: str | os.PathLike, providers: list[str] | None = None) -> GeneratorRunner:
    """Load an export folder (``model.onnx`` + ``metadata.json``) into a :class:`GeneratorRunner`."""
    return GeneratorRunner(directory, providers=providers)


SUPER_RESOLUTION = "super_resolution"
DEFAULT_OVERLAP = 16  # for exports whose metadata records no overlap (written before it measured one)
DEFAULT_TILE = 128  # for exports whose metadata advises no tile side


class Upscaler:
    """A super-resolution export (``metadata["task"] == "super_resolution"``) run by ONNX Runtime.

    Upscales images of any size tile by tile (see :func:`ganapps.tiles.upscale_tiled`), so memory stays bounded
    and, with an overlap covering the network's receptive field, the result has no seams. Takes uint8 images
    (returns uint8) or float images in the export's value range (returns float32, clipped to it); gray,
    gray+alpha, RGB and RGBA inputs are converted to the model's channels by
    :func:`ganapps.images.convert_channels` (transparency composited onto white, RGB reduced to BT.601 luma),
    and files are read by :func:`ganapps.images.read_image`, as training and the app read them.

    :attr:`tile` and :attr:`overlap` are what ``upscale`` uses when none is given: the export's
    ``metadata["tile"]`` (else 128) and ``metadata["overlap"]`` (the generator's measured receptive-field radius,
    for the app's exports). An export without an overlap gets 16 and a warning the first time it is tiled.
    The export must take images of any height and width (the library's SR exports do).
    """

    def __init__(self, directory: str | os.PathLike, providers: list[str] | None = None):
        self.directory = Path(directory)
        self.metadata = read_metadata(self.directory)
        task = self.metadata.get("task")
        if task != SUPER_RESOLUTION:
            hint = " (a generator export: load it with ganapps.runtime.load)" if task is None else ""
            raise ValueError(f"directory: expected a super-resolution export (metadata task "
                             f"{SUPER_RESOLUTION!r}); got {str(self.directory)!r}, whose metadata has task "
                             f"{task!r}{hint}")
        scale = self.metadata.get("scale")
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"directory: expected metadata with an integer 'scale' of at least 1; got "
                             f"{str(self.directory)!r}, whose metadata has scale {scale!r}")
        self.scale = scale
        self.tile = self._metadata_int("tile", "a positive integer", 1, DEFAULT_TILE)
        self.overlap = self._metadata_int("overlap", "a non-negative integer", 0, DEFAULT_OVERLAP)
        self._overlap_recorded = "overlap" in self.metadata
        self._warned = False
        self.value_range = self._metadata_range()
        if self.metadata.get("dynamic_spatial", True) is False:
            raise ValueError(f"directory: expected an export that takes images of any height and width; got "
                             f"{str(self.directory)!r}, whose metadata has dynamic_spatial false (re-export the "
                             f"generator built without a fixed input size)")
        self.session = open_export(self.directory, providers)
        inputs = self.session.get_inputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        if len(shape) != 4 or not isinstance(shape[3], int) or shape[3] not in (1, 3):
            raise ValueError(f"directory: expected a model of one image input (batch, height, width, 1 or 3); "
                             f"got {str(self.directory)!r}, whose model takes "
                             f"{', '.join(f'{i.name} {_fmt(i.shape)}' for i in inputs)}")
        if isinstance(shape[1], int) or isinstance(shape[2], int):
            raise ValueError(f"directory: expected a model that takes images of any height and width (tiles "
                             f"and whole images vary in size); got {str(self.directory)!r}, whose model takes "
                             f"{inputs[0].name} {_fmt(shape)} only (re-export the generator built without a "
                             f"fixed input size)")
        self.channels = shape[3]
        self.input_name = inputs[0].name
        self.output_name = self.session.get_outputs()[0].name

    def _metadata_int(self, key: str, what: str, minimum: int, default: int) -> int:
        """``metadata[key]``, checked to be an integer of at least ``minimum``; ``default`` when absent."""
        value = self.metadata.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"directory: expected metadata whose {key!r}, if any, is {what}; got "
                             f"{str(self.directory)!r}, whose metadata has {key} {value!r}")
        return value

    def _metadata_range(self) -> tuple[float, float]:
        return _metadata_value_range(self.metadata, self.directory)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __call__(self, low: np.ndarray) -> np.ndarray:
        """The model's raw output (float32, unclipped) on a float32 NHWC batch with the model's channels."""
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(low, np.float32)})[0]

    def upscale(self, image: np.ndarray, tile: int | None = None, overlap: int | None = None,
                batch_size: int = 4) -> np.ndarray:
        """Upscale one image (HxW, HxWxC) or an NHWC batch ``scale`` times.

        Args:
            image: uint8 (or integers in 0..255), or floats in the export's value range ([-1, 1]); 1 (or no),
                2, 3 or 4 channels.
            tile: tile side in low-resolution pixels, margins included. None: :attr:`tile`, from the export's
                metadata (else 128); 0: whole images at once.
            overlap: margin each tile reads beyond its core; at least the network's receptive-field radius
                for a seamless result. None: :attr:`overlap`, from the export's metadata.
            batch_size: tiles per ONNX Runtime call.

        Returns:
            uint8 for integer input, else float32 clipped to the value range; HxWxC (or NHWC) with the model's
            channels.
        """
        from ganapps.tiles import upscale_tiled

        tile = self._tile(tile)
        low, integer, single = self._prepare(image)
        if overlap is None:
            overlap = self.overlap
            tiled = tile is not None and max(low.shape[1:3]) > tile
            if tiled and not self._overlap_recorded:
                self._warn_no_overlap()
        lo, hi = self.value_range
        out = np.clip(upscale_tiled(self, low, self.scale, tile=tile, overlap=overlap, batch_size=batch_size),
                      lo, hi)
        if integer:
            out = to_uint8(out, self.value_range)
        return out[0] if single else out

    def upscale_file(self, in_path: str | os.PathLike, out_path: str | os.PathLike, tile: int | None = None,
                     overlap: int | None = None, batch_size: int = 4) -> Path:
        """Read an image file (anything Pillow opens, by :func:`ganapps.images.read_image`), upscale it and write
        ``out_path`` (PNG, JPEG or BMP, by extension; written atomically). Returns ``out_path``."""
        from ganapps.images import save_image

        out_path = Path(out_path)
        if out_path.suffix.lower() not in WRITABLE_EXTENSIONS:
            raise ValueError(f"out_path: expected a file name ending in one of {list(WRITABLE_EXTENSIONS)}; "
                             f"got {str(out_path)!r}")
        array = read_image(in_path, self.channels, argument="in_path")
        return save_image(self.upscale(array, tile=tile, overlap=overlap, batch_size=batch_size), out_path)

    def _tile(self, tile: int | None) -> int | None:
        """The tile side ``upscale_tiled`` takes: None for whole images."""
        if tile is None:
            return self.tile
        if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 0:
            raise ValueError(f"tile: expected None (the export's tile side, {self.tile}), 0 (whole images) or a "
                             f"positive integer; got {tile!r}")
        return int(tile) or None

    def _warn_no_overlap(self) -> None:
        """Warn, once per Upscaler, that an export without a recorded overlap is tiled with a guessed one."""
        if self._warned:
            return
        self._warned = True
        import warnings

        warnings.warn(f"{self.directory / METADATA} records no 'overlap' (the generator's receptive-field "
                      f"radius): tiling with an overlap of {DEFAULT_OVERLAP} pixels, so seams may show between "
                      f"tiles; re-export the model with ganapps (SuperResolver.export or export_generator on an "
                      f"SRGAN) to record it, or pass overlap=", UserWarning, stacklevel=3)

    def _prepare(self, image) -> tuple[np.ndarray, bool, bool]:
        """(float32 NHWC batch in the value range with the model's channels, integer input?, one image?)."""
        array = np.asarray(image)
        if array.dtype.kind not in "iuf":
            raise ValueError(f"image: expected a uint8 or float image; got dtype {array.dtype}")
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim not in (3, 4) or array.shape[-1] not in (1, 2, 3, 4) or 0 in array.shape:
            raise ValueError(f"image: expected an HxW, HxWxC or NHWC image with 1, 2, 3 or 4 channels; "
                             f"got shape {array.shape}")
        single = array.ndim == 3
        if single:
            array = array[None]
        integer = array.dtype.kind in "iu"
        return _model_pixels(array, integer, self.channels, self.value_range), integer, single


def _model_pixels(array: np.ndarray, integer: bool, channels: int | None,
                  value_range: tuple[float, float]) -> np.ndarray:
    """An image batch as the model's float32 input: integers 0..255 mapped onto ``value_range``, floats checked to
    lie in it (1 % slack) and finite; channels converted to ``channels`` (None keeps them)."""
    lo, hi = value_range
    if integer:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ValueError(f"image: expected integer values in 0..255; got values from {low} to {high}")
        pixels = array.astype(np.uint8, copy=False)
        if channels is not None:
            pixels = convert_channels(pixels, channels, "image")
        x = lo + pixels.astype(np.float32) * np.float32((hi - lo) / 255.0)
    else:
        x = array.astype(np.float32)
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise ValueError(f"image: expected finite values; got {bad} NaN or Inf values")
        slack = 0.01 * (hi - lo)
        if x.min() < lo - slack or x.max() > hi + slack:
            raise ValueError(f"image: expected float values in [{lo:g}, {hi:g}] (or a uint8 image); got "
                             f"values from {float(x.min()):.6g} to {float(x.max()):.6g}")
        if channels is not None:
            x = convert_channels(x, channels, "image", value_range=(lo, hi))
    return np.ascontiguousarray(x, np.float32)

def load_upscaler(directory: str | os.PathLike, providers: list[str] | None = None) -> Upscaler:
    """Load a super-resolution export folder into an :class:`Upscaler`."""
    return Upscaler(directory, providers=providers)


def _metadata_value_range(metadata: dict[str, Any], directory: Path) -> tuple[float, float]:
    """``metadata["value_range"]`` (default [-1, 1]) checked to be [low, high] with finite low < high."""
    value = metadata.get("value_range", (-1.0, 1.0))
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    if not ok or not value[0] < value[1]:
        raise ValueError(f"directory: expected metadata whose 'value_range', if any, is [low, high] with "
                         f"finite low < high; got {str(directory)!r}, whose metadata has value_range "
                         f"{_short(value)}")
    return float(value[0]), float(value[1])


OUTLIER_SCORING = "outlier_scoring"
SCORER_OUTPUTS = ("score", "reconstruction", "residual")
INPUT_KINDS = ("images", "vectors")


class OutlierScorer:
    """An outlier-scoring export (``metadata["task"] == "outlier_scoring"``: the f-AnoGAN scorer that
    ``apps.outliers`` exports) run by ONNX Runtime, with scikit-learn's outlier-detector methods.

    One forward pass gives each sample's anomaly score (HIGHER = MORE ABNORMAL), its reconstruction and its squared
    residual map. The export's ``metadata["threshold"]``, on the anomaly-score scale, splits the two classes:
    ``score > threshold`` is an outlier. As in scikit-learn, :meth:`score_samples` is the negated score (lower =
    more abnormal), :meth:`decision_function` is negative for outliers and :meth:`predict` gives +1 (inlier) or
    -1 (outlier), so code written for a scikit-learn detector reads the same here.

    What it takes depends on ``metadata["input_kind"]``:

    * ``"images"`` of ``metadata["sample_shape"]`` (H, W, C): uint8 (or integers in 0..255), mapped to
      ``metadata["value_range"]``, or floats already in that range; one HxWxC image or an NHWC batch, and for
      gray models HxW or NHW too. Files (:meth:`score_files`, :func:`read_samples`) are read by
      :func:`ganapps.images.read_image` and converted to the model's channels, as the app reads its training
      images.
    * ``"vectors"`` of shape (d,): floats on the training data's own scale (the export standardises them in its
      graph); one (d,) vector or an (n, d) batch.

    Nothing is resized: samples of another shape are refused.
    """

    def __init__(self, directory: str | os.PathLike, providers: list[str] | None = None):
        self.directory = Path(directory)
        self.metadata = read_metadata(self.directory)
        task = self.metadata.get("task")
        if task != OUTLIER_SCORING:
            raise ValueError(f"directory: expected an outlier-scoring export (metadata task {OUTLIER_SCORING!r}, "
                             f"as GANOutlierDetector.export writes); got {str(self.directory)!r}, whose metadata "
                             f"has task {task!r}")
        self.threshold = self._threshold()
        self.input_kind = self._input_kind()
        self.sample_shape = self._sample_shape()
        self.value_range = (_metadata_value_range(self.metadata, self.directory) if self.input_kind == "images"
                            else None)
        self.session = open_export(self.directory, providers)
        inputs = self.session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        fits = len(shape) == 1 + len(self.sample_shape) and all(
            not isinstance(have, int) or have == want for have, want in zip(shape[1:], self.sample_shape))
        if not fits:
            raise ValueError(f"directory: expected a model of one input of samples of shape {self.sample_shape} "
                             f"(the metadata's sample_shape); got {str(self.directory)!r}, whose model takes "
                             f"{', '.join(f'{i.name} {_fmt(i.shape)}' for i in inputs)}")
        self.input_name = inputs[0].name
        names = [output.name for output in self.session.get_outputs()]
        missing = [name for name in SCORER_OUTPUTS if name not in names]
        if missing:
            raise ValueError(f"directory: expected a model with outputs {list(SCORER_OUTPUTS)}; got "
                             f"{str(self.directory)!r}, whose model has outputs {names}")

    def _bad_metadata(self, key: str, what: str) -> ValueError:
        return ValueError(f"directory: expected metadata with {what}; got {str(self.directory)!r}, whose metadata "
                          f"has {key} {_short(self.metadata.get(key))}")

    def _threshold(self) -> float:
        value = self.metadata.get("threshold")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self._bad_metadata("threshold", "a finite 'threshold' (the anomaly score above which a sample "
                                                  "is an outlier)")
        return float(value)

    def _input_kind(self) -> str:
        value = self.metadata.get("input_kind")
        if value not in INPUT_KINDS:
            raise self._bad_metadata("input_kind", f"an 'input_kind' of {' or '.join(map(repr, INPUT_KINDS))}")
        return value

    def _sample_shape(self) -> tuple[int, ...]:
        value = self.metadata.get("sample_shape")
        rank = 3 if self.input_kind == "images" else 1
        what = "[height, width, channels]" if rank == 3 else "[features]"
        ok = isinstance(value, (list, tuple)) and len(value) == rank and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        if not ok:
            raise self._bad_metadata("sample_shape", f"a 'sample_shape' of {self.input_kind}: {what} of positive "
                                                     f"integers")
        return tuple(value)

    @property
    def providers(self) -> list[str]:
        """The execution providers ONNX Runtime runs the scorer on (CUDA first when it has it)."""
        return self.session.get_providers()

    def prepare(self, x: Any) -> np.ndarray:
        """``x`` as the float32 batch the model takes, shape ``(n, *sample_shape)`` (see the class docstring for
        what is accepted and how images are mapped)."""
        array = np.asarray(x)
        if array.dtype.kind not in "iuf":
            raise ValueError(f"x: expected numeric samples (uint8 or float); got dtype {array.dtype}")
        batch = _as_batch(array, self.sample_shape, "x", f"shape {array.shape}")
        if len(batch) == 0:
            raise ValueError(f"x: expected at least one sample; got an empty batch of shape {array.shape}")
        if self.input_kind == "images" and batch.dtype.kind in "iu":
            low, high = int(batch.min()), int(batch.max())
            if low < 0 or high > 255:
                raise ValueError(f"x: expected integer pixel values in 0..255; got values from {low} to {high}")
            lo, hi = self.value_range
            return np.ascontiguousarray(lo + batch.astype(np.float32) * np.float32((hi - lo) / 255.0))
        batch = np.ascontiguousarray(batch, np.float32)
        bad = int(np.count_nonzero(~np.isfinite(batch)))
        if bad:
            raise ValueError(f"x: expected finite values; got {bad} NaN or Inf values")
        if self.input_kind == "images":
            lo, hi = self.value_range
            slack = 0.01 * (hi - lo)
            if batch.min() < lo - slack or batch.max() > hi + slack:
                raise ValueError(f"x: expected float pixel values in [{lo:g}, {hi:g}] (or uint8 images); got "
                                 f"values from {float(batch.min()):.6g} to {float(batch.max()):.6g}")
        return batch

    def score(self, x: Any, batch_size: int = 256) -> dict[str, np.ndarray]:
        """{"score": (n,), "reconstruction": (n, *sample_shape), "residual": (n, *sample_shape)} as float32: the
        anomaly score (higher = more abnormal), the model's reconstruction in its value range and the squared
        residual map that shows where a sample departs from it."""
        return self._run(self.prepare(x), SCORER_OUTPUTS, batch_size)

    def anomaly_score(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """(n,) anomaly scores: HIGHER = MORE ABNORMAL; above :attr:`threshold` is an outlier."""
        return self._run(self.prepare(x), ("score",), batch_size)["score"]

    def score_samples(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """(n,) negated anomaly scores, scikit-learn's sign: LOWER = MORE ABNORMAL."""
        return -self.anomaly_score(x, batch_size)

    def decision_function(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """(n,) ``score_samples - (-threshold)`` = ``threshold - score``: negative for outliers."""
        return self.score_samples(x, batch_size) + np.float32(self.threshold)

    def predict(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """(n,) +1 for inliers, -1 for outliers (anomaly score above :attr:`threshold`)."""
        return np.where(self.decision_function(x, batch_size) < 0, -1, 1)

    def score_files(self, paths: str | os.PathLike | list, batch_size: int = 256) -> dict[str, np.ndarray]:
        """:meth:`score` of image files (one path or a list), read by :func:`ganapps.images.read_image` and
        converted to the model's channels; files of another size than the sample shape are refused, not resized."""
        if self.input_kind != "images":
            raise ValueError(f"paths: expected no image files for a scorer of vectors (sample shape "
                             f"{self.sample_shape}): score arrays or read a .npy or .csv file with read_samples; "
                             f"got {_short(paths)}")
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        paths = list(paths)
        if not paths:
            raise ValueError("paths: expected at least one image file; got none")
        return self.score(_read_image_files(paths, self.sample_shape, "paths"), batch_size)

    def _run(self, batch: np.ndarray, names: tuple[str, ...], batch_size: int) -> dict[str, np.ndarray]:
        _checks.positive_int(batch_size, "batch_size")
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for start in range(0, len(batch), batch_size):
            chunk = batch[start:start + batch_size]
            for name, value in zip(names, self.session.run(list(names), {self.input_name: chunk})):
                parts[name].append(value.reshape(len(chunk)) if name == "score" else value)
        return {name: np.concatenate(values).astype(np.float32, copy=False) for name, values in parts.items()}


def load_scorer(directory: str | os.PathLike, providers: list[str] | None = None) -> OutlierScorer:
    """Load an outlier-scoring export folder into an :class:`OutlierScorer`."""
    return OutlierScorer(directory, providers=providers)


def read_samples(path: str | os.PathLike, sample_shape: Any) -> tuple[np.ndarray, list[str]]:
    """Read the samples to score from ``path``, with a name for each, for command-line scoring.

    * a folder: its image files (extensions :data:`ganapps.images.IMAGE_EXTENSIONS`, other files skipped), in
      sorted order, read by :func:`ganapps.images.read_image` and converted to the sample shape's channels;
      names are the file names. Every image must have the sample shape's height and width (none is resized).
    * an image file: one sample named after the file.
    * a ``.npy`` file: the array it holds (one sample or a batch), names "0", "1", ...
    * a ``.csv`` file: numeric columns, one sample per row (a header row is allowed and skipped); rows of
      prod(sample_shape) values are reshaped to the sample shape; names are the row indices "0", "1", ... For an
      image sample shape, whole numbers in 0..255 (not all within [-1, 1]) are read as uint8 pixels.

    Returns:
        (array of shape ``(n, *sample_shape)`` (uint8 from images, and from a ``.csv`` of whole numbers in 0..255
        for an image sample shape; else as stored; a gray NHW ``.npy`` gets its channel axis), names): pass the
        array to :meth:`OutlierScorer.score`, which maps and checks the values.
    """
    shape = _check_sample_shape(sample_shape)
    if not isinstance(path, (str, os.PathLike)):
        raise _checks.fail("path", "a folder of images, an image file, a .npy or a .csv file",
                           f"{type(path).__name__} {_short(path)}")
    file = Path(path).expanduser()
    if file.is_dir():
        files = image_files(file, "path")
        return _read_image_files(files, shape, "path"), [p.name for p in files]
    if not file.is_file():
        raise FileNotFoundError(f"path: expected a folder of images, an image file, a .npy or a .csv file; got "
                                f"{str(file)!r}, which does not exist")
    suffix = file.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return _read_image_files([file], shape, "path"), [file.name]
    if suffix == ".npy":
        try:
            array = np.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"path: expected a NumPy .npy file of numbers; got {str(file)!r}, which could not "
                             f"be read ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})") from err
        if array.dtype.kind not in "iuf":
            raise ValueError(f"path: expected a .npy file of numbers; got {str(file)!r}, of dtype {array.dtype}")
    elif suffix == ".csv":
        array = _read_csv(file, pixels=len(shape) == 3)
        if array.shape[1] != shape[-1] and array.shape[1] == int(np.prod(shape)) and len(shape) > 1:
            array = array.reshape((len(array), *shape))
    else:
        raise ValueError(f"path: expected a folder of images, an image file ({', '.join(IMAGE_EXTENSIONS)}), a "
                         f".npy or a .csv file; got {str(file)!r}")
    batch = _as_batch(array, shape, "path", f"{str(file)!r}, which holds an array of shape {array.shape}")
    return batch, [str(i) for i in range(len(batch))]


def _check_sample_shape(value: Any) -> tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and len(value) >= 1 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise _checks.fail("sample_shape", "a list of positive integers, e.g. [8, 8, 1] or [5]", _short(value))
    return tuple(int(v) for v in value)


def _as_batch(array: np.ndarray, shape: tuple[int, ...], argument: str, given: str) -> np.ndarray:
    """``array`` as a batch ``(n, *shape)``: one sample gets a batch axis, gray images without a channel axis get
    one; anything else is refused."""
    if array.shape == shape:
        return array[None]
    if array.ndim == len(shape) + 1 and array.shape[1:] == shape:
        return array
    if len(shape) == 3 and shape[2] == 1:  # gray images given without their channel axis
        if array.shape == shape[:2]:
            return array[None, ..., None]
        if array.ndim == 3 and array.shape[1:] == shape[:2]:
            return array[..., None]
    raise ValueError(f"{argument}: expected samples of shape {shape} (the scorer's sample shape), one or a batch "
                     f"of them; got {given}")


def _read_image_files(files: list, shape: tuple[int, ...], argument: str) -> np.ndarray:
    """uint8 NHWC images of ``shape`` (H, W, C) read from ``files``; a file of another size is an error naming it."""
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise ValueError(f"{argument}: expected no image files for samples of shape {shape} (images are read for "
                         f"gray or RGB image models); got {_short([str(f) for f in files])}")
    height, width, channels = shape
    images = []
    for i, file in enumerate(files):
        image = read_image(file, channels, argument=f"{argument}[{i}]" if argument == "paths" else argument)
        if image.shape[:2] != (height, width):
            raise ValueError(f"{argument}: expected images of {height}x{width} pixels (height x width, the scorer's "
                             f"sample shape; images are not resized); got {str(file)!r}, which is "
                             f"{image.shape[0]}x{image.shape[1]}")
        images.append(image)
    return np.stack(images)


def _read_csv(file: Path, pixels: bool = False) -> np.ndarray:
    """The numeric rows of a CSV file as float32 (n, columns); a first row that is not all numbers is a header.

    With ``pixels`` (the scorer takes images), a file of whole numbers in 0..255, not all within [-1, 1], is
    uint8 pixels and comes back as uint8, to be mapped to the model's value range as uint8 images are (as floats
    it would be refused for lying outside that range); a file of values all within [-1, 1] stays float.
    """
    import csv

    rows = []
    with open(file, newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    parsed = []
    for position, (line, row) in enumerate(rows):
        try:
            parsed.append([float(cell) for cell in row])
        except ValueError:
            if position == 0:
                continue  # the header
            bad = next(cell for cell in row if not _is_number(cell))
            raise ValueError(f"path: expected numeric values in {str(file)!r}; got {bad!r} on line {line}") from None
        if len(parsed[-1]) != len(parsed[0]):
            raise ValueError(f"path: expected rows of {len(parsed[0])} values in {str(file)!r} (as its first data "
                             f"row); got {len(parsed[-1])} on line {line}")
    if not parsed:
        raise ValueError(f"path: expected a .csv file with at least one row of numbers; got {str(file)!r}, which "
                         f"has none")
    values = np.asarray(parsed, dtype=np.float64)
    if pixels and np.all(values == np.round(values)) and values.min() >= 0 and 1 < values.max() <= 255:
        return values.astype(np.uint8)
    return values.astype(np.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


IMAGE_TRANSLATION = "image_translation"
DIRECTIONS = ("a2b", "b2a")
_PROBED_MULTIPLES = (1, 2, 3, 4)  # sides (times the size multiple) tried when measuring a model's smallest side


class Translator:
    """An image-translation export (``metadata["task"] == "image_translation"``: a pix2pix or CycleGAN generator,
    as :meth:`ganapps.Pix2Pix.export_metadata` and :meth:`ganapps.CycleGAN.export_metadata` describe it) run by
    ONNX Runtime.

    Translates images of any height and width: the generator takes sizes that are multiples of
    ``metadata["size_multiple"]`` (2**depth for a U-Net, 4 for a ResNet generator), so other sizes are padded up
    to one by reflection, split as the games split it (the extra row or column at the bottom and right), and the
    translation is cropped back. Some generators also need a smallest side beyond the multiple (a ResNet
    generator's residual blocks reflect-pad their quarter-resolution maps, so it needs 8 pixels, twice its
    multiple): that side is read from ``metadata["min_size"]`` when the export records one, else measured once,
    on the first image small enough to need it, as the smallest multiple the model runs on; smaller images are
    padded up to it. Takes uint8 images (returns uint8) or float images in the export's value range (returns
    float32 clipped to it); gray, gray+alpha, RGB and RGBA inputs are converted to the model's input channels by
    :func:`ganapps.images.convert_channels`, and files are read by :func:`ganapps.images.read_image`, as training
    reads them. One export translates one way: a CycleGAN app exports ``a2b`` and ``b2a`` in two folders.
    """

    def __init__(self, directory: str | os.PathLike, providers: list[str] | None = None):
        self.directory = Path(directory)
        self.metadata = read_metadata(self.directory)
        task = self.metadata.get("task")
        if task != IMAGE_TRANSLATION:
            hint = {None: " (a generator export: load it with ganapps.runtime.load)",
                    SUPER_RESOLUTION: " (load it with ganapps.runtime.Upscaler)",
                    OUTLIER_SCORING: " (load it with ganapps.runtime.OutlierScorer)"}.get(task, "")
            raise ValueError(f"directory: expected an image-translation export (metadata task "
                             f"{IMAGE_TRANSLATION!r}, as Pix2Pix and CycleGAN exports have); got "
                             f"{str(self.directory)!r}, whose metadata has task {_short(task)}{hint}")
        direction = self.metadata.get("direction", "a2b")
        if direction not in DIRECTIONS:
            raise self._bad_metadata("direction", "a 'direction' of 'a2b' or 'b2a'")
        self.direction: str = direction
        self.in_channels = self._metadata_int("in_channels")
        self.out_channels = self._metadata_int("out_channels")
        self.size_multiple = self._metadata_int("size_multiple")
        self._min_size: int | None = self._metadata_int("min_size") if "min_size" in self.metadata else None
        self.value_range = _metadata_value_range(self.metadata, self.directory)
        self.session = open_export(self.directory, providers)
        inputs = self.session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(shape) != 4 or shape[3] != self.in_channels:
            raise ValueError(f"directory: expected a model of one image input (batch, height, width, "
                             f"{self.in_channels}), as the metadata's in_channels says; got "
                             f"{str(self.directory)!r}, whose model takes "
                             f"{', '.join(f'{i.name} {_fmt(i.shape)}' for i in inputs)}")
        if isinstance(shape[1], int) or isinstance(shape[2], int):
            raise ValueError(f"directory: expected a model that takes images of any height and width; got "
                             f"{str(self.directory)!r}, whose model takes {inputs[0].name} {_fmt(shape)} only "
                             f"(re-export the generator built on keras.Input((None, None, channels)))")
        output = self.session.get_outputs()[0]
        if len(output.shape) != 4 or output.shape[3] != self.out_channels:
            raise ValueError(f"directory: expected a model whose output has {self.out_channels} channels, as the "
                             f"metadata's out_channels says; got {str(self.directory)!r}, whose model gives "
                             f"{output.name} {_fmt(output.shape)}")
        self.input_name = inputs[0].name
        self.output_name = output.name

    def _bad_metadata(self, key: str, what: str) -> ValueError:
        return ValueError(f"directory: expected metadata with {what}; got {str(self.directory)!r}, whose metadata "
                          f"has {key} {_short(self.metadata.get(key))}")

    def _metadata_int(self, key: str, default: int | None = None) -> int:
        value = self.metadata.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._bad_metadata(key, f"a positive integer {key!r}")
        return value

    @property
    def providers(self) -> list[str]:
        """The execution providers ONNX Runtime runs the generator on (CUDA first when it has it)."""
        return self.session.get_providers()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The model's raw output (float32, unclipped) on a float32 NHWC batch of a size the model takes."""
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]

    def translate(self, image: Any, batch_size: int = 4) -> np.ndarray:
        """Translate one image (HxW, HxWxC) or an NHWC batch, at any height and width.

        Args:
            image: uint8 (or integers in 0..255), or floats in the export's value range ([-1, 1]); 1 (or no), 2,
                3 or 4 channels, converted to the model's input channels.
            batch_size: images per ONNX Runtime call.

        Returns:
            uint8 for integer input, else float32 clipped to the value range; the input's height and width, the
            model's output channels, one image or a batch as given.
        """
        _checks.positive_int(batch_size, "batch_size")
        x, integer, single = self._prepare(image)
        h, w = x.shape[1:3]
        pad_h, pad_w = self._padding(h), self._padding(w)
        top, left = pad_h // 2, pad_w // 2
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (top, pad_h - top), (left, pad_w - left), (0, 0)), mode="reflect")
        out = np.concatenate([self(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
        lo, hi = self.value_range
        out = np.clip(out[:, top:top + h, left:left + w], lo, hi).astype(np.float32, copy=False)
        if integer:
            out = to_uint8(out, self.value_range)
        return out[0] if single else out

    def translate_file(self, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
        """Read an image file (anything Pillow opens, by :func:`ganapps.images.read_image`), translate it and write
        ``out_path`` (PNG, JPEG or BMP, by extension; written atomically). Returns ``out_path``."""
        from ganapps.images import save_image

        out_path = Path(out_path)
        if out_path.suffix.lower() not in WRITABLE_EXTENSIONS:
            raise ValueError(f"out_path: expected a file name ending in one of {list(WRITABLE_EXTENSIONS)}; "
                             f"got {str(out_path)!r}")
        if self.out_channels not in (1, 3):
            raise ValueError(f"out_path: expected a model of 1 or 3 output channels to write an image file; got "
                             f"{str(self.directory)!r}, whose model gives {self.out_channels}")
        channels = self.in_channels if self.in_channels in (1, 3) else None
        array = read_image(in_path, channels, argument="in_path")
        return save_image(self.translate(array), out_path)

    def _padding(self, size: int) -> int:
        """Rows (or columns) to add to ``size`` to reach a multiple of the size multiple, at least
        :attr:`min_size`."""
        multiple = self.size_multiple
        target = -(-size // multiple) * multiple
        if target < _PROBED_MULTIPLES[-1] * multiple or self._min_size is not None:
            target = max(target, self.min_size)
        return target - size

    @property
    def min_size(self) -> int:
        """The smallest height and width the model runs on: ``metadata["min_size"]``, else measured (once)."""
        if self._min_size is None:
            import onnxruntime as ort

            quiet = ort.RunOptions()
            quiet.log_severity_level = 4  # a refused size is expected here, not an error to log
            for k in _PROBED_MULTIPLES:
                side = k * self.size_multiple
                probe = np.zeros((1, side, side, self.in_channels), np.float32)
                try:
                    self.session.run([self.output_name], {self.input_name: probe}, quiet)
                except Exception:  # noqa: BLE001  (onnxruntime raises its own exception types)
                    continue
                self._min_size = side
                break
            else:
                raise ValueError(f"directory: expected a model that runs on square images of some multiple of its "
                                 f"size multiple {self.size_multiple} up to {side}; got {str(self.directory)!r}, "
                                 f"whose model refuses all of them")
        return self._min_size

    def _prepare(self, image: Any) -> tuple[np.ndarray, bool, bool]:
        """(float32 NHWC batch in the value range with the model's channels, integer input?, one image?)."""
        array = np.asarray(image)
        if array.dtype.kind not in "iuf":
            raise ValueError(f"image: expected a uint8 or float image; got dtype {array.dtype}")
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim not in (3, 4) or 0 in array.shape:
            raise ValueError(f"image: expected an HxW, HxWxC or NHWC image; got shape {array.shape}")
        channels = array.shape[-1]
        if channels != self.in_channels and not (self.in_channels in (1, 3) and channels in (1, 2, 3, 4)):
            accepted = "1, 2, 3 or 4" if self.in_channels in (1, 3) else str(self.in_channels)
            raise ValueError(f"image: expected an image of {accepted} channels (the model takes "
                             f"{self.in_channels}); got shape {array.shape}")
        single = array.ndim == 3
        if single:
            array = array[None]
        integer = array.dtype.kind in "iu"
        convert = channels != self.in_channels
        return _model_pixels(array, integer, self.in_channels if convert else None, self.value_range), integer, single


def load_translator(directory: str | os.PathLike, providers: list[str] | None = None) -> Translator:
    """Load an image-translation export folder into a :class:`Translator`."""
    return Translator(directory, providers=providers)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) if isinstance(s, int) else "None" for s in shape) + ")"


__all__ = ["GeneratorRunner", "load", "read_metadata", "sample_normal", "default_providers", "condition_vectors",
           "code_layout", "open_export", "Upscaler", "load_upscaler", "OutlierScorer", "load_scorer", "read_samples",
           "Translator", "load_translator"]
