"""The super-resolution app: :class:`SuperResolver` composes the library's pieces for the task.

Training data are random high-resolution crops (:func:`ganapps.data.random_crops`) turned into
``(low, high)`` pairs by bicubic downscaling (:func:`ganapps.data.sr_pairs`); the game is
:class:`ganapps.games.SRGAN` on an SRResNet generator (:func:`ganapps.nets.srresnet_generator`) and SRGAN's
discriminator; large images are upscaled tile by tile (:func:`ganapps.tiles.upscale_tiled`); quality is the
SRGAN protocol (:func:`ganapps.metrics.sr_quality`: PSNR/SSIM on the Y channel, a ``scale``-pixel border
cropped) against the bicubic baseline; exports go through :func:`ganapps.export.export_generator`.

A saved app is one ``.keras`` file: the SRGAN game as Keras writes it (loadable on its own with
``keras.models.load_model``), plus two members the app adds to the archive: ``superres/settings.json`` (the
constructor's settings, steps trained, history) and, after an adversarial phase, ``superres/psnr_generator.npz``
(the PSNR-phase weights that :meth:`SuperResolver.interpolate` blends with).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.common import FIGURE_SUFFIXES, ImageLike, as_image, epoch_schedule
from ganapps import _checks, metrics, nets, tiles
from ganapps import data as gdata
from ganapps import export as gexport
from ganapps.games.srgan import SRGAN, interpolate_networks
from ganapps.images import IMAGE_EXTENSIONS, from_uint8, image_files, to_uint8
from ganapps.callbacks import CosineDecay
from ganapps.nets.srresnet import BLOCKS, SKIPS, UPSAMPLINGS

SETTINGS_ENTRY = "superres/settings.json"
PSNR_WEIGHTS_ENTRY = "superres/psnr_generator.npz"
SETTINGS_VERSION = 1
LR_DECAYS = ("cosine", None)


# -- settings ------------------------------------------------------------------------------------------------
def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
    """Every constructor setting checked, in one place, so that ``load`` checks a file's settings the same way."""
    s = dict(s)
    if not _checks.is_int(s["scale"]) or s["scale"] not in (2, 4, 8):
        raise _checks.fail("scale", "2, 4 or 8", repr(s["scale"]))
    if not _checks.is_int(s["channels"]) or s["channels"] not in (1, 3):
        raise _checks.fail("channels", "1 (grayscale) or 3 (RGB)", repr(s["channels"]))
    for key in ("filters", "blocks", "batch_size", "discriminator_width"):
        s[key] = _checks.positive_int(s[key], key)
    if s["block"] not in BLOCKS:
        raise _checks.fail("block", f"one of {BLOCKS}", repr(s["block"]))
    if s["input_skip"] not in SKIPS:
        raise _checks.fail("input_skip", f"one of {SKIPS}", repr(s["input_skip"]))
    if s["upsampling"] not in UPSAMPLINGS:
        raise _checks.fail("upsampling", f"one of {UPSAMPLINGS}", repr(s["upsampling"]))
    if s["lr_decay"] not in LR_DECAYS:
        raise _checks.fail("lr_decay", f"one of {LR_DECAYS}", repr(s["lr_decay"]))
    patch = s["patch_size"]
    if not _checks.is_int(patch) or patch < 16 or patch % 16:
        raise _checks.fail("patch_size", "a multiple of 16 of at least 16 (the discriminator halves it four "
                           "times), such as 96", repr(patch))
    s["patch_size"] = int(patch)
    for key in ("learning_rate", "adversarial_learning_rate"):
        s[key] = _checks.positive_float(s[key], key)
    if s["seed"] is not None and not (_checks.is_int(s["seed"]) and s["seed"] >= 0):
        raise _checks.fail("seed", "None or a non-negative integer", repr(s["seed"]))
    if s["jit_compile"] not in (True, False, "auto"):
        raise _checks.fail("jit_compile", "True, False or 'auto'", repr(s["jit_compile"]))
    s["scale"], s["channels"] = int(s["scale"]), int(s["channels"])
    return s


def _adam(learning_rate: float) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.99)  # ESRGAN's betas


def _copy_network(net: keras.Model, frozen: bool = True) -> keras.Model:
    """A copy of ``net`` (same architecture, weights copied), frozen unless asked otherwise."""
    copy = keras.models.clone_model(net)
    copy.set_weights(net.get_weights())
    copy.trainable = not frozen
    return copy


# -- images in -----------------------------------------------------------------------------------------------
def _listed(value: Any) -> Any:
    """An NHWC array as a list of its images, one image (HxW or HxWxC) as a list of one; anything else as is."""
    if isinstance(value, np.ndarray) and value.ndim == 4:
        return list(value)
    if isinstance(value, np.ndarray) and value.ndim in (2, 3):
        return [value]
    return value


def load_hr_images(source: Any = "photos", channels: int = 3,
                   argument: str = "hr_images") -> tuple[list[str], list[np.ndarray]]:
    """High-resolution evaluation images as ``(names, float32 HxWxC images in [-1, 1])``.

    ``source`` is ``"photos"`` or None (the bundled held-out test photos, never used in training), a folder of
    image files (PNG, JPEG, BMP, GIF), one image file, an NHWC array, or a list of images (arrays or paths);
    uint8 0..255 or float in [-1, 1]. Images are converted to ``channels``.
    """
    if source is None or (isinstance(source, str) and source == "photos"):
        photos = gdata.load_photos("test", channels=channels)
        return gdata.photo_names("test"), [from_uint8(p) for p in photos]
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            files = image_files(path, argument)
            return [f.name for f in files], [as_image(f, channels, argument)[0] for f in files]
        if not path.exists():
            raise FileNotFoundError(f"{argument}: expected 'photos', an image folder or an image file; got "
                                    f"{str(source)!r}, which does not exist")
        return [path.name], [as_image(path, channels, argument)[0]]
    source = _listed(source)
    if not isinstance(source, (list, tuple)) or not source:
        raise _checks.fail(argument, "'photos', a folder, an image file, an NHWC array or a non-empty list of "
                           "images", f"{type(source).__name__} {_checks.short(source)}")
    names, images = [], []
    for i, item in enumerate(source):
        images.append(as_image(item, channels, f"{argument}[{i}]")[0])
        names.append(Path(item).name if isinstance(item, (str, os.PathLike)) else f"image {i}")
    return names, images


# -- the degradation and the baseline ------------------------------------------------------------------------
def low_resolution(hr: np.ndarray, scale: int) -> np.ndarray:
    """The low-resolution input of the evaluation protocol: ``hr`` (float HxWxC in [-1, 1], its height and
    width multiples of ``scale``) shrunk by :func:`ganapps.data.downscale` (antialiased bicubic, clipped)."""
    return gdata.downscale(np.asarray(hr, np.float32)[None], scale).numpy()[0]


def bicubic_upscale(low: np.ndarray, scale: int) -> np.ndarray:
    """The baseline every super-resolution model must beat: bicubic interpolation, clipped to [-1, 1]."""
    h, w = low.shape[:2]
    up = tf.image.resize(np.asarray(low, np.float32)[None], (h * scale, w * scale), method="bicubic")
    return np.clip(up.numpy()[0], -1.0, 1.0)


def _cut(hr: np.ndarray, scale: int, argument: str) -> np.ndarray:
    """``hr`` cut to multiples of ``scale``, checked to leave room for SSIM after a ``scale``-pixel border."""
    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    need = metrics.SSIM_WINDOW + 2 * scale
    if min(h, w) < need:
        raise _checks.fail(argument, f"images of at least {need}x{need} pixels at scale {scale} (SSIM's "
                           f"{metrics.SSIM_WINDOW}-pixel window inside a {scale}-pixel border)",
                           f"an image of {hr.shape[0]}x{hr.shape[1]}")
    return hr[:h, :w]


def evaluate_upscaler(upscale: Callable[[np.ndarray], np.ndarray], scale: int, channels: int = 3,
                      hr_images: Any = "photos") -> dict[str, Any]:
    """Score any upscaler against bicubic on high-resolution images, by the SRGAN protocol.

    Each image is cut to a multiple of ``scale`` and shrunk (:func:`low_resolution`); ``upscale`` (float32
    HxWxC low-resolution image in [-1, 1] to the image ``scale`` times larger) and :func:`bicubic_upscale`
    restore it; :func:`ganapps.metrics.sr_quality` compares both with the original (Y channel, ``scale``-pixel
    border). One function for Keras models and ONNX exports alike, so their numbers are comparable.

    Returns:
        ``{"psnr", "ssim", "bicubic_psnr", "bicubic_ssim"}`` means over the images, ``"per_image"``: one row
        per image with its ``"image"`` name and the same four numbers, and ``"scale"``.
    """
    names, images = load_hr_images(hr_images, channels)
    highs, models, bicubics = [], [], []
    for i, hr in enumerate(images):
        hr = _cut(hr, scale, f"hr_images[{i}] ({names[i]})")
        low = low_resolution(hr, scale)
        out = np.asarray(upscale(low), np.float32)
        if out.shape != hr.shape:
            raise _checks.fail("upscale", f"an image of shape {hr.shape} from a {low.shape} input (scale {scale})",
                               f"shape {out.shape}")
        highs.append(hr)
        models.append(np.clip(out, -1.0, 1.0))
        bicubics.append(bicubic_upscale(low, scale))
    model_q = metrics.sr_quality(models, highs, scale)
    bicubic_q = metrics.sr_quality(bicubics, highs, scale)
    rows = [{"image": name, "psnr": float(model_q["psnr"][i]), "ssim": float(model_q["ssim"][i]),
             "bicubic_psnr": float(bicubic_q["psnr"][i]), "bicubic_ssim": float(bicubic_q["ssim"][i])}
            for i, name in enumerate(names)]
    means = {key: float(np.mean([row[key] for row in rows]))
             for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    return {**means, "per_image": rows, "scale": scale}


# -- the figure ----------------------------------------------------------------------------------------------
def _check_crop(crop: Any, height: int, width: int) -> tuple[int, int, int] | None:
    if crop is None:
        return None
    ok = isinstance(crop, (tuple, list)) and len(crop) == 3 and all(_checks.is_int(v) for v in crop)
    if ok:
        y, x, size = (int(v) for v in crop)
        ok = y >= 0 and x >= 0 and size >= 1 and y + size <= height and x + size <= width
    if not ok:
        raise _checks.fail("crop", f"None or (y, x, size) of a square inside the {height}x{width} high-resolution "
                           "image", repr(crop))
    return y, x, size


def comparison_figure(upscale: Callable[[np.ndarray], np.ndarray], scale: int, hr_image: ImageLike,
                      path: str | os.PathLike, crop: Sequence[int] | None = None, channels: int = 3,
                      title: str | None = None) -> Path:
    """Save the side-by-side picture people judge super-resolution by: the low-resolution input
    (nearest-upscaled, so its pixels show), bicubic, the model and the original, titled with PSNR/SSIM.

    Args:
        upscale: float32 HxWxC low-resolution image in [-1, 1] -> the image ``scale`` times larger.
        scale: the upscaling factor.
        hr_image: the original (a path, or an HxWxC uint8/float array); it is shrunk to make the input.
        path: the figure file (.png, .jpg, .pdf or .svg); written atomically.
        crop: ``(y, x, size)``, a square of the original in its pixels to zoom every panel on; None shows all.
        channels: the model's channels.
        title: an optional title over the panels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise _checks.fail("path", f"a file name ending in one of {FIGURE_SUFFIXES}", repr(str(path)))
    hr = _cut(as_image(hr_image, channels, "hr_image")[0], scale, "hr_image")
    low = low_resolution(hr, scale)
    model = np.clip(np.asarray(upscale(low), np.float32), -1.0, 1.0)
    bicubic = bicubic_upscale(low, scale)
    quality = {name: metrics.sr_quality([img], [hr], scale) for name, img in (("bicubic", bicubic), ("model", model))}
    nearest = np.repeat(np.repeat(low, scale, axis=0), scale, axis=1)
    h, w = hr.shape[:2]
    box = _check_crop(crop, h, w)
    panels = [(f"low resolution {low.shape[1]}x{low.shape[0]} (nearest)", nearest),
              *((f"{name}\nPSNR {q['psnr'][0]:.2f} dB, SSIM {q['ssim'][0]:.3f}",
                 bicubic if name == "bicubic" else model) for name, q in quality.items()),
              (f"original {w}x{h}" + ("" if box is None else f", crop {box[2]} px at ({box[0]}, {box[1]})"), hr)]
    figure = Figure(figsize=(16, 4.8 if title else 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, (label, image) in zip(figure.subplots(1, 4), panels):
        if box is not None:
            y, x, size = box
            image = image[y:y + size, x:x + size]
        pixels = to_uint8(image)
        if channels == 1:
            ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(pixels, interpolation="nearest")
        ax.set_title(label, fontsize=11)
        ax.set_axis_off()
    if title:
        figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".").replace("jpg", "jpeg")
    return _checks.write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, format=fmt))


# -- the receptive field ------------------------------------------------------------------------------------
def _run_keras(net: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``net`` as a NumPy function of a float32 NHWC batch, in inference mode."""
    return lambda batch: keras.ops.convert_to_numpy(net(np.asarray(batch, np.float32), training=False))


# -- the app -------------------------------------------------------------------------------------------------
class SuperResolver:
    """Single-image super-resolution: an SRGAN trained on your images, used on images of any size.

    The defaults suit a CPU (a 32-filter, 8-block SRResNet that adds its learned detail to a bicubic upscale,
    so it starts as good as bicubic and improves from there); a GPU affords ``filters=64, blocks=16`` or
    ``block="rrdb"``. Training runs in two phases: ``steps`` of PSNR-oriented L1 training, then optionally
    ``adversarial_steps`` of SRGAN's adversarial fine-tuning, which trades PSNR for sharper texture; the PSNR
    weights are kept (``psnr_generator``) so that :meth:`interpolate` can pick a point in between.

    Args:
        scale: upscaling factor, 2, 4 or 8.
        channels: 3 for RGB, 1 for grayscale.
        filters, blocks, block, input_skip, upsampling: the generator (see
            :func:`ganapps.nets.srresnet_generator`).
        patch_size: side of the high-resolution training crops (a multiple of 16; the discriminator's input).
        batch_size: crops per step.
        learning_rate: Adam's rate in the PSNR phase.
        lr_decay: ``"cosine"``: the PSNR phase's rate decays along a cosine to 1% of ``learning_rate`` over each
            ``fit``'s steps (worth a few tenths of a dB over a constant rate); None keeps it constant.
        adversarial_learning_rate: Adam's rate for both players in the adversarial phase.
        discriminator_width: filters of the discriminator's first convolution (its dense layer has 16 times as
            many units; 64 is SRGAN's).
        seed: seeds the initial weights (through ``keras.utils.set_random_seed``, which seeds Python, NumPy and
            TensorFlow globally) and the training crops: the same seed gives the same model. None: random.
        jit_compile: XLA compilation of the train step (True, False or "auto").
    """

    def __init__(self, scale: int = 4, channels: int = 3, filters: int = 32, blocks: int = 8,
                 block: str = "residual", input_skip: str | None = "bicubic", upsampling: str = "single",
                 patch_size: int = 96, batch_size: int = 16, learning_rate: float = 1e-3,
                 lr_decay: str | None = "cosine", adversarial_learning_rate: float = 1e-4,
                 discriminator_width: int = 64, seed: int | None = 0, jit_compile: bool | str = True):
        self._settings = _check_settings(dict(
            scale=scale, channels=channels, filters=filters, blocks=blocks, block=block, input_skip=input_skip,
            upsampling=upsampling, patch_size=patch_size, batch_size=batch_size, learning_rate=learning_rate,
            lr_decay=lr_decay,
            adversarial_learning_rate=adversarial_learning_rate, discriminator_width=discriminator_width,
            seed=seed, jit_compile=jit_compile))
        s = self._settings
        if seed is not None:
            keras.utils.set_random_seed(seed)  # the nets' initial weights
        generator = nets.srresnet_generator(s["scale"], s["channels"], filters=s["filters"], blocks=s["blocks"],
                                            block=s["block"], input_skip=s["input_skip"],
                                            upsampling=s["upsampling"])
        discriminator = nets.sr_discriminator((s["patch_size"], s["patch_size"], s["channels"]),
                                              width=s["discriminator_width"], dense=16 * s["discriminator_width"])
        self.game = self._compiled_game(generator, discriminator, s)
        self.psnr_generator: keras.Model | None = None
        self.steps_trained = {"psnr": 0, "adversarial": 0}
        self.history: dict[str, dict[str, list[float]]] = {"psnr": {}, "adversarial": {}}

    @staticmethod
    def _compiled_game(generator: keras.Model, discriminator: keras.Model, s: dict[str, Any],
                       phase: str = "psnr") -> SRGAN:
        game = SRGAN(generator, discriminator, phase=phase, seed=s["seed"])
        rate = s["learning_rate"] if phase == "psnr" else s["adversarial_learning_rate"]
        game.compile(g_optimizer=_adam(rate), d_optimizer=_adam(s["adversarial_learning_rate"]),
                     jit_compile=s["jit_compile"])
        return game

    @classmethod
    def _wrap(cls, game: SRGAN, settings: dict[str, Any], psnr_generator: keras.Model | None,
              steps_trained: dict[str, int], history: dict[str, dict[str, list[float]]]) -> SuperResolver:
        sr = cls.__new__(cls)
        sr._settings, sr.game, sr.psnr_generator = settings, game, psnr_generator
        sr.steps_trained, sr.history = dict(steps_trained), history
        return sr

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's arguments (a copy): what ``save`` stores and ``load`` rebuilds from."""
        return dict(self._settings)

    @property
    def scale(self) -> int:
        """How many times larger the output is than the input, in height and width."""
        return self._settings["scale"]

    @property
    def channels(self) -> int:
        """3 (RGB) or 1 (grayscale): what inputs are converted to."""
        return self._settings["channels"]

    @property
    def generator(self) -> keras.Model:
        """The network that upscales (the game's inference generator)."""
        return self.game.inference_generator

    @property
    def receptive_radius(self) -> int:
        """How far, in low-resolution pixels, an input pixel reaches into the output: the tile overlap at which
        tiled upscaling equals upscaling the whole image (what ``overlap=None`` uses). Measured on the current
        weights (a fraction of a second for the default generator) and cached by the game until they change."""
        return self.game.receptive_radius()

    def _overlap(self, overlap: int | None, tile: int | None, height: int, width: int) -> int:
        """``overlap``, or for None the receptive radius where the image is tiled at all (0 where it is not)."""
        if overlap is not None:
            return overlap
        if not (_checks.is_int(tile) and tile > 0) or (height <= tile and width <= tile):
            return 0  # nothing is tiled (or upscale_tiled rejects the tile)
        radius = self.receptive_radius
        if tile < 2 * radius + 1:
            raise _checks.fail("tile", f"None or at least 2 * overlap + 1 = {2 * radius + 1} for this generator's "
                               f"receptive-field radius of {radius} (overlap=None), or an explicit overlap",
                               repr(tile))
        return radius

    def __repr__(self) -> str:
        s = self._settings
        return (f"SuperResolver(scale={s['scale']}, channels={s['channels']}, filters={s['filters']}, "
                f"blocks={s['blocks']}, block={s['block']!r}, steps_trained={self.steps_trained})")

    # -- training --------------------------------------------------------------------------------------------
    def _training_source(self, data: Any, argument: str = "data") -> Any:
        """What :func:`ganapps.data.random_crops` takes, with the app's checks on arrays and paths first."""
        patch = self._settings["patch_size"]
        if isinstance(data, (str, os.PathLike)):
            text = os.fspath(data)
            path = Path(text).expanduser()
            if path.is_dir():
                return str(path)
            if path.is_file():
                return self._training_source([path], argument)
            if text == "photos":
                return text
            if text.startswith(("/", ".", "~")) or text.endswith(("/", os.sep)) or \
                    path.suffix.lower() in IMAGE_EXTENSIONS:
                raise FileNotFoundError(f"{argument}: expected 'photos', an image folder, an image file or a "
                                        f"tensorflow-datasets name; got {text!r}, which does not exist")
            return text  # a tensorflow-datasets name; random_crops says how to get it when it is missing
        data = _listed(data)
        if not isinstance(data, (list, tuple)) or not data:
            raise _checks.fail(argument, "'photos', a folder, a tensorflow-datasets name, a tf.data.Dataset of "
                               "high-resolution batches, an NHWC array or a non-empty list of images",
                               f"{type(data).__name__} {_checks.short(data)}")
        images = []
        for i, item in enumerate(data):
            image = as_image(item, self.channels, f"{argument}[{i}]")[0]
            if min(image.shape[:2]) < patch:
                raise _checks.fail(f"{argument}[{i}]", f"images of at least {patch}x{patch} pixels (patch_size; "
                                   "crops are never resized)", f"an image of {image.shape[0]}x{image.shape[1]}")
            images.append(image)
        return images

    def _pairs(self, data: Any, steps: int, data_dir: str | None) -> tuple[tf.data.Dataset, int, int]:
        epochs, per_epoch = epoch_schedule(steps)
        s = self._settings
        patch, channels = s["patch_size"], s["channels"]
        if isinstance(data, tf.data.Dataset):
            gdata.validate_dataset(data, argument="data", expected_shape=(patch, patch, channels))
            high = data.repeat()
        else:
            source = self._training_source(data)
            done = sum(self.steps_trained.values())
            seed = None if s["seed"] is None else s["seed"] + done  # a resumed fit draws new crops
            # All the steps' crops in one pass: a repeated, re-randomising crop dataset would draw its next pass's
            # seed whenever prefetching reaches it, which makes runs irreproducible.
            high = gdata.random_crops(source, size=patch, batch_size=s["batch_size"],
                                      num_crops=steps * s["batch_size"], seed=seed, channels=channels,
                                      data_dir=data_dir, split="train")
        return gdata.sr_pairs(high, self.scale).prefetch(tf.data.AUTOTUNE), epochs, per_epoch

    def _run_phase(self, phase: str, data: Any, steps: int, verbose: int, data_dir: str | None,
                   callbacks: list | None) -> None:
        pairs, epochs, per_epoch = self._pairs(data, steps, data_dir)
        self.game.phase = phase
        rate = "learning_rate" if phase == "psnr" else "adversarial_learning_rate"
        self.game.g_optimizer.learning_rate = self._settings[rate]
        callbacks = list(callbacks or [])
        if phase == "psnr" and self._settings["lr_decay"] == "cosine":
            callbacks.append(CosineDecay(steps, self._settings[rate]))
        history = self.game.fit(pairs, epochs=epochs, steps_per_epoch=per_epoch, verbose=verbose,
                                callbacks=callbacks)
        for key, values in history.history.items():
            self.history[phase].setdefault(key, []).extend(float(v) for v in values)
        self.steps_trained[phase] += steps

    def fit(self, data: Any = "photos", steps: int = 6000, adversarial_steps: int = 0, verbose: int | str = 1,
            data_dir: str | None = None, callbacks: list | None = None) -> SuperResolver:
        """Train: ``steps`` of the PSNR phase, then ``adversarial_steps`` of the adversarial phase.

        Calling it again continues training. Entering the adversarial phase right after PSNR steps (or for the
        first time) keeps a frozen copy of the generator as ``psnr_generator``.

        Args:
            data: where the high-resolution crops come from: ``"photos"`` (the bundled training photos), an
                image folder, a tensorflow-datasets name such as ``"div2k"``, a list of images (HxWxC uint8 or
                float in [-1, 1], each at least ``patch_size`` on a side), an NHWC array, or a
                ``tf.data.Dataset`` of batches of ``patch_size`` x ``patch_size`` crops in [-1, 1].
            steps: PSNR-phase training steps (0 to skip it).
            adversarial_steps: adversarial-phase steps after it (0 to skip it).
            verbose: Keras's progress display: 1 a progress bar, 2 a line per epoch, 0 silent.
            data_dir: tensorflow-datasets data_dir for a tfds ``data``.
            callbacks: Keras callbacks for both phases.

        Returns:
            self, so that ``SuperResolver().fit(...)`` chains.
        """
        steps = _checks.non_negative_int(steps, "steps")
        adversarial_steps = _checks.non_negative_int(adversarial_steps, "adversarial_steps")
        if not steps and not adversarial_steps:
            raise _checks.fail("steps", "steps or adversarial_steps above 0", "0 of each")
        if steps:
            self._run_phase("psnr", data, steps, verbose, data_dir, callbacks)
        if adversarial_steps:
            if steps or self.psnr_generator is None:
                self.psnr_generator = _copy_network(self.game.generator)
            self._run_phase("adversarial", data, adversarial_steps, verbose, data_dir, callbacks)
        return self

    def interpolate(self, alpha: float) -> SuperResolver:
        """A new app whose generator blends the PSNR-phase and adversarial weights (ESRGAN's network
        interpolation): ``alpha=0`` the PSNR model (smooth, best PSNR), ``alpha=1`` the adversarial one
        (sharper texture), in between a trade-off without the artefacts of either extreme."""
        if self.psnr_generator is None:
            raise _checks.fail("alpha", "an app trained with adversarial_steps > 0 (interpolation blends the PSNR "
                               "and adversarial generators)", f"alpha={alpha!r} on an app without a PSNR generator")
        blended = interpolate_networks(self.psnr_generator, self.game, alpha)
        game = self._compiled_game(blended, _copy_network(self.game.discriminator, frozen=False), self._settings,
                                   phase="adversarial")
        history = {phase: {k: list(v) for k, v in rows.items()} for phase, rows in self.history.items()}
        return self._wrap(game, dict(self._settings), _copy_network(self.psnr_generator), self.steps_trained,
                          history)

    # -- use -------------------------------------------------------------------------------------------------
    def _upscale_float(self, image: np.ndarray, tile: int | None, overlap: int | None,
                       batch_size: int) -> np.ndarray:
        if _checks.is_int(tile) and tile == 0:  # 0, like None, is no tiling: the Upscaler's spelling of it
            tile = None
        overlap = self._overlap(overlap, tile, *image.shape[-3:-1])
        out = tiles.upscale_tiled(_run_keras(self.generator), image, self.scale, tile=tile, overlap=overlap,
                                  batch_size=batch_size)
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def upscale(self, image: ImageLike, tile: int | None = 128, overlap: int | None = None,
                batch_size: int = 4) -> np.ndarray:
        """Upscale one image of any size, ``tile`` x ``tile`` low-resolution pixels at a time.

        Args:
            image: a PNG/JPEG path or an HxWxC array (an NHWC batch is upscaled image by image). uint8 and files
                give uint8 back; float in [-1, 1] gives float32 in [-1, 1]. Gray, RGB and RGBA are converted to
                the model's channels.
            tile: tile side in low-resolution pixels; None (or 0) runs the whole image at once.
            overlap: context each tile borrows from its neighbours; at least the generator's receptive-field
                radius makes tiling invisible (the result equals ``tile=None``). None: that radius, measured
                (:attr:`receptive_radius`).
            batch_size: tiles per forward pass.
        """
        if isinstance(image, np.ndarray) and image.ndim == 4:
            return np.stack([self.upscale(img, tile, overlap, batch_size) for img in image])
        array, as_uint8 = as_image(image, self.channels, "image")
        out = self._upscale_float(array, tile, overlap, batch_size)
        return to_uint8(out) if as_uint8 else out

    def evaluate(self, hr_images: Any = "photos", tile: int | None = 128,
                 overlap: int | None = None) -> dict[str, Any]:
        """PSNR/SSIM of the model and of bicubic on high-resolution images (default: the held-out test photos),
        by :func:`evaluate_upscaler`'s protocol. ``hr_images``: ``"photos"``, a folder, an NHWC array or a list
        of HxWxC uint8/float arrays or paths; ``tile`` and ``overlap`` as in :meth:`upscale`."""
        return evaluate_upscaler(lambda low: self._upscale_float(low, tile, overlap, 4), self.scale,
                                 self.channels, hr_images)

    def figure(self, hr_image: ImageLike, path: str | os.PathLike, crop: Sequence[int] | None = None,
               tile: int | None = 128, overlap: int | None = None) -> Path:
        """Save :func:`comparison_figure` for this model: input, bicubic, model, original (``crop=(y, x, size)``
        zooms on a region of the original); ``tile`` and ``overlap`` as in :meth:`upscale`."""
        return comparison_figure(lambda low: self._upscale_float(low, tile, overlap, 4), self.scale, hr_image,
                                 path, crop=crop, channels=self.channels,
                                 title=f"x{self.scale} super-resolution")

    # -- files -----------------------------------------------------------------------------------------------
    def export(self, directory: str | os.PathLike, tile: int = 128, overlap: int | None = None) -> dict[str, Any]:
        """Write ``model.onnx``, ``saved_model/`` and ``metadata.json`` for :class:`ganapps.runtime.Upscaler`
        (or any ONNX/TF runtime). The metadata records ``receptive_radius`` (measured) and ``overlap`` (that
        radius unless given), which the Upscaler tiles with by default, and ``tile``, the tile side advised."""
        s = self._settings
        tile = _checks.positive_int(tile, "tile")
        radius = self.receptive_radius
        overlap = radius if overlap is None else _checks.non_negative_int(overlap, "overlap")
        if tile < 2 * overlap + 1:
            raise _checks.fail("tile", f"at least 2 * overlap + 1 = {2 * overlap + 1} (overlap={overlap}; the "
                               f"receptive-field radius is {radius})", repr(tile))
        # The game's export_metadata() records task, scale, channel order and the receptive radius.
        extra = {
            "input": "low-resolution image, NHWC float32 in [-1, 1] (uint8 x: x / 127.5 - 1)",
            "output": f"the image {s['scale']}x larger, NHWC float32; clip to [-1, 1]",
            "tile": tile,
            "overlap": overlap,
            "training": {**s, "steps_trained": dict(self.steps_trained), "app": "apps.superres.SuperResolver"},
        }
        return gexport.export_generator(self.game, directory, extra_metadata=extra)

    def save(self, path: str | os.PathLike) -> Path:
        """Save the game and the app's settings (and the PSNR generator) in one ``.keras`` file, atomically."""
        path = Path(path)
        if path.suffix != ".keras":
            raise _checks.fail("path", "a file name ending in .keras", repr(str(path)))
        record = {"version": SETTINGS_VERSION, "settings": self._settings, "steps_trained": self.steps_trained,
                  "history": self.history, "psnr_generator": self.psnr_generator is not None}

        members: dict[str, str | bytes] = {SETTINGS_ENTRY: json.dumps(record, indent=2)}
        if self.psnr_generator is not None:
            buffer = io.BytesIO()
            np.savez(buffer, *self.psnr_generator.get_weights())
            members[PSNR_WEIGHTS_ENTRY] = buffer.getvalue()
        return gexport.save_keras_with(self.game, path, members)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SuperResolver:
        """Load an app saved by :meth:`save` (optimizer state included, so ``fit`` continues where it stopped);
        a plain SRGAN ``.keras`` file loads too, its generator settings read from its layers and defaults for the
        rest."""
        game = gexport.load_keras(path, argument="path")
        if not isinstance(game, SRGAN):
            raise _checks.fail("path", "a .keras file holding an SRGAN game (written by SuperResolver.save)",
                               f"{str(path)!r}, which holds a {type(game).__name__}")
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            record = json.loads(archive.read(SETTINGS_ENTRY)) if SETTINGS_ENTRY in names else None
            weights = None
            if PSNR_WEIGHTS_ENTRY in names:
                with np.load(io.BytesIO(archive.read(PSNR_WEIGHTS_ENTRY))) as npz:
                    weights = [npz[f"arr_{i}"] for i in range(len(npz.files))]
        channels = int(game.generator.input_shape[-1])
        patch = int(game.discriminator.input_shape[1])
        if record is None:
            record = {"settings": {"scale": game.scale, "channels": channels, "patch_size": patch}}
        settings = _check_settings({**_defaults(), **_generator_settings(game.generator), **record["settings"]})
        if (settings["scale"], settings["channels"], settings["patch_size"]) != (game.scale, channels, patch):
            raise _checks.fail("path", "settings that match the saved game",
                               f"scale/channels/patch {settings['scale']}/{settings['channels']}/"
                               f"{settings['patch_size']} for a game of {game.scale}/{channels}/{patch}")
        psnr_generator = None
        if weights is not None:
            psnr_generator = keras.models.clone_model(game.generator)
            psnr_generator.set_weights(weights)
            psnr_generator.trainable = False
        steps = {"psnr": 0, "adversarial": 0, **record.get("steps_trained", {})}
        history = record.get("history") or {"psnr": {}, "adversarial": {}}
        return cls._wrap(game, settings, psnr_generator, steps, history)


def _generator_settings(generator: keras.Model) -> dict[str, Any]:
    """The generator settings that an SRResNet's layer names show, for files that do not record them (a plain
    SRGAN ``.keras`` file): without them, ``upsampling`` and the rest would read as the constructor's defaults."""
    names = {layer.name for layer in generator.layers}
    if "head_conv" not in names:  # not built by srresnet_generator: nothing to read
        return {}
    found: dict[str, Any] = {"filters": int(generator.get_layer("head_conv").filters)}
    for block, prefix in (("residual", "res"), ("rrdb", "rrdb")):
        count = sum(1 for name in names if name.startswith(prefix) and name.endswith("_add")
                    and name[len(prefix):-len("_add")].isdigit())
        if count:
            found.update(block=block, blocks=count)
    if "tail_shuffle" in names:
        found["upsampling"] = "single"
    elif "up0_conv" in names:
        found["upsampling"] = "stages"
    found["input_skip"] = generator.get_layer("input_skip").interpolation if "input_skip" in names else None
    return found


def _defaults() -> dict[str, Any]:
    """The constructor's default settings."""
    import inspect

    return {name: p.default for name, p in inspect.signature(SuperResolver.__init__).parameters.items()
            if name != "self"}
