"""Run exported generators with ONNX Runtime: no TensorFlow, no Keras.

``load(directory)`` reads ``metadata.json`` and ``model.onnx`` written by :func:`ganapps.export.export_generator`
and returns a :class:`GeneratorRunner`. It uses the CUDA execution provider when onnxruntime offers it, else the
CPU. This module imports only NumPy and onnxruntime, so command-line sampling starts fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ganapps import _checks
from ganapps.images import to_uint8

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


class GeneratorRunner:
    """A generator exported to ONNX, run by ONNX Runtime.

    Call it on inputs (``runner(z)``) or let it draw latents (``runner.sample(n, seed=0)``); both return
    NHWC images, float in the export's value range or ``uint8`` when ``output="uint8"``.
    """

    def __init__(self, directory: str | os.PathLike, providers: list[str] | None = None):
        import onnxruntime as ort

        self.directory = Path(directory)
        self.metadata = read_metadata(self.directory)
        path = self.directory / ONNX_FILE
        if not path.is_file():
            raise FileNotFoundError(f"directory: expected a folder holding {ONNX_FILE}; got "
                                    f"{str(self.directory)!r}, which has none")
        try:
            self.session = session(path, providers or default_providers())
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"directory: expected a loadable {ONNX_FILE}; got {str(path)!r}, which is not one "
                             f"(truncated or corrupt?): "
                             f"{str(err).splitlines()[0]}") from err
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

    def sample(self, n: int, seed: int | None = None, truncation: float | None = None,
               output: str = "float", batch_size: int = 256) -> np.ndarray:
        """Draw ``n`` latents from N(0, I) (truncated to [-t, t] when ``truncation=t``) and generate."""
        if self.latent_dim is None:
            raise ValueError(f"directory: expected an export with a latent input for sample(); got one with "
                             f"inputs {[i.name for i in self.inputs]}: call the runner on inputs instead")
        _checks.positive_int(batch_size, "batch_size")
        z = sample_normal(n, self.latent_dim, seed=seed, truncation=truncation)
        return np.concatenate([self(z[i:i + batch_size], output=output) for i in range(0, n, batch_size)])

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


def load(directory: str | os.PathLike, providers: list[str] | None = None) -> GeneratorRunner:
    """Load an export folder (``model.onnx`` + ``metadata.json``) into a :class:`GeneratorRunner`."""
    return GeneratorRunner(directory, providers=providers)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) if isinstance(s, int) else "None" for s in shape) + ")"


__all__ = ["GeneratorRunner", "load", "read_metadata", "sample_normal", "default_providers"]
