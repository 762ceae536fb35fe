"""The style-transfer app: :class:`PairedTranslator` (pix2pix) and :class:`UnpairedTranslator` (CycleGAN)
compose the library's pieces for image-to-image translation.

Paired training data are aligned ``(a, b)`` images (:func:`ganapps.data.translation_pairs` offline,
:func:`ganapps.data.paired_folders` for two folders matched by file name), served as aligned random crops
(:func:`ganapps.data.paired_crops`) to :class:`ganapps.games.Pix2Pix` on a U-Net and a PatchGAN. Unpaired data are
two unrelated sets of images (:func:`ganapps.data.unpaired_domains` offline, two folders, or a ``cycle_gan``
tensorflow-datasets name through :func:`ganapps.data.translation_tfds`), served as independent crops
(:func:`ganapps.data.unpaired_crops`) to :class:`ganapps.games.CycleGAN` on two ResNet generators and two
PatchGANs. The networks are fully convolutional: translation works at any image size (the games pad to the
generator's size multiple by reflection and crop back), and exports have a dynamic height and width.

Channels: the first ``fit`` takes them from its data (each side 1 if all its images are grayscale, else 3; an
unpaired translator with an identity loss gives both domains 3 channels when only one is colour, since that
loss feeds each generator images of its own output domain). Later fits must bring data of the same channels;
``translate``, ``evaluate`` and ``figure`` convert their inputs to the model's channels, as
:func:`ganapps.images.convert_channels` does everywhere in the library.

A saved translator is one ``.keras`` file: the game as Keras writes it (loadable on its own with
``keras.models.load_model``), plus a member ``style_transfer/settings.json`` holding the constructor's settings,
the steps trained and the training history.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.common import FIGURE_SUFFIXES, ImageLike, as_image, epoch_schedule
from ganapps import _checks, losses, metrics, nets
from ganapps import data as gdata
from ganapps import export as gexport
from ganapps.callbacks import LinearDecay
from ganapps.games.cyclegan import DIRECTIONS, CycleGAN
from ganapps.games.pix2pix import Pix2Pix
from ganapps.images import image_files, read_image, to_uint8
from ganapps.nets.patchgan import RECEPTIVE_FIELDS
from ganapps.nets.resnet import MULTIPLE as RESNET_MULTIPLE
from ganapps.nets.unet import NORMS

SETTINGS_ENTRY = "style_transfer/settings.json"
SETTINGS_VERSION = 1
RESNET_MINIMUM = 8  # a ResNet generator's two stride-2 levels leave too little for its reflection padding below


# -- settings ------------------------------------------------------------------------------------------------
def _check_shared(s: dict[str, Any], multiple: int, minimum: int, why: str) -> dict[str, Any]:
    """The settings both translators have, checked the same way; ``crop`` against the generator's size
    ``multiple`` and ``minimum`` (``why`` says where they come from)."""
    task = s["task"]
    if task is not None and not (isinstance(task, str) and task.strip()):
        raise _checks.fail("task", "None or a task name such as 'edges2photo'", repr(task))
    for key in ("filters", "batch_size"):
        s[key] = _checks.positive_int(s[key], key)
    crop = s["crop"]
    if not _checks.is_int(crop) or crop < max(multiple, minimum) or crop % multiple:
        raise _checks.fail("crop", f"a multiple of {multiple} of at least {max(multiple, minimum)} ({why}), "
                           f"such as {max(64, multiple)}", repr(crop))
    s["crop"] = int(crop)
    s["learning_rate"] = _checks.positive_float(s["learning_rate"], "learning_rate")
    if s["seed"] is not None and not (_checks.is_int(s["seed"]) and s["seed"] >= 0):
        raise _checks.fail("seed", "None or a non-negative integer", repr(s["seed"]))
    if s["seed"] is not None:
        s["seed"] = int(s["seed"])
    jit = s["jit_compile"]
    if not (isinstance(jit, (bool, np.bool_)) or (isinstance(jit, str) and jit == "auto")):
        raise _checks.fail("jit_compile", "True, False or 'auto'", repr(s["jit_compile"]))
    s["jit_compile"] = jit if isinstance(jit, str) else bool(jit)
    return s


def patch_field(receptive_field: int, crop: int) -> int:
    """The PatchGAN receptive field used on ``crop`` x ``crop`` training crops: the largest one available
    (1, 16, 34, 70, 142, 286) that is at most both ``receptive_field`` and ``crop``. A patch wider than the crop
    would judge the whole crop, padding included, and stop being a patch discriminator."""
    return max(field for field in RECEPTIVE_FIELDS if field <= min(receptive_field, crop))


def _adam(learning_rate: float) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)  # pix2pix's and CycleGAN's


def _renamed(err: ValueError, old: str, new: str) -> ValueError:
    """A library error about its argument ``old`` reworded to name the app's argument ``new``."""
    text = str(err)
    return ValueError(new + text[len(old):]) if text.startswith(old + ":") else err


# -- images in -----------------------------------------------------------------------------------------------
def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_folder_pair(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_path(v) for v in value)


def _read_source(source: Any, argument: str) -> tuple[list[Any], list[str]]:
    """``(images, names)`` of a folder (its image files, read), an NHWC array, one image, or a list of images
    (arrays kept as they are, paths read): raw pixels, checked later by whoever consumes them."""
    if _is_path(source):
        path = Path(source).expanduser()
        if path.is_dir():
            files = image_files(path, argument)
            return [read_image(f, argument=argument) for f in files], [f.name for f in files]
        if path.is_file():
            return [read_image(path, argument=argument)], [path.name]
        raise FileNotFoundError(f"{argument}: expected a folder of images, an image file, an array or a list of "
                                f"images; got {str(source)!r}, which does not exist")
    if isinstance(source, np.ndarray) and source.ndim in (2, 3):
        return [source], ["image 0"]
    if isinstance(source, np.ndarray) and source.ndim == 4:
        source = list(source)
    if not isinstance(source, (list, tuple)) or not source:
        raise _checks.fail(argument, "a folder of images, an NHWC array or a non-empty list of images",
                           f"{type(source).__name__} {_checks.short(source)}")
    images, names = [], []
    for i, item in enumerate(source):
        if _is_path(item):
            images.append(read_image(item, argument=f"{argument}[{i}]"))
            names.append(Path(item).name)
        else:
            images.append(item)
            names.append(f"image {i}")
    return images, names


def _unit(image: np.ndarray) -> np.ndarray:
    """A [-1, 1] image with a batch axis, for the metrics."""
    return np.asarray(image, np.float32)[None]


def _l1(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))


# -- the figure ----------------------------------------------------------------------------------------------
def before_after_grid(inputs: Sequence[ImageLike], outputs: Sequence[ImageLike], path: str | os.PathLike,
                      targets: Sequence[ImageLike] | None = None,
                      labels: Sequence[str] = ("input", "output", "target"), title: str | None = None) -> Path:
    """Save the picture translations are judged by: one row per image, its input, the model's output and, when
    given, the target (or any third image, such as a cycle's reconstruction), side by side.

    Args:
        inputs: the images translated: HxWxC (or HxW) arrays, uint8 0..255 or float in [-1, 1], 1 or 3
            channels; the rows may differ in size.
        outputs: their translations, one per input.
        path: the figure file (.png, .jpg, .pdf or .svg); written atomically.
        targets: an image per input for a third column, or None for two columns.
        labels: the column titles (the first two, or three with ``targets``).
        title: an optional title over the grid.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise _checks.fail("path", f"a file name ending in one of {FIGURE_SUFFIXES}", repr(str(path)))
    columns = [("inputs", list(inputs)), ("outputs", list(outputs))]
    if targets is not None:
        columns.append(("targets", list(targets)))
    if not columns[0][1]:
        raise _checks.fail("inputs", "at least one image", "none")
    for argument, images in columns[1:]:
        if len(images) != len(columns[0][1]):
            raise _checks.fail(argument, f"one image per input ({len(columns[0][1])})", f"{len(images)} images")
    labels = list(labels)
    if len(labels) < len(columns) or not all(isinstance(label, str) for label in labels):
        raise _checks.fail("labels", f"{len(columns)} column titles", repr(labels))
    rows = len(columns[0][1])
    figure = Figure(figsize=(3.2 * len(columns), 3.0 * rows + (0.4 if title else 0.0)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.asarray(figure.subplots(rows, len(columns), squeeze=False))
    for c, (argument, images) in enumerate(columns):
        for r, image in enumerate(images):
            pixels, _ = as_image(image, None, f"{argument}[{r}]")
            pixels = to_uint8(pixels)
            ax = axes[r, c]
            if pixels.shape[-1] == 1:
                ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            else:
                ax.imshow(pixels, interpolation="nearest")
            ax.set_axis_off()
            if r == 0:
                ax.set_title(labels[c], fontsize=11)
    if title:
        figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".").replace("jpg", "jpeg")
    return _checks.write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=80, format=fmt))


# -- what both translators share -----------------------------------------------------------------------------
class _Translator:
    """Training, translation, saving and loading that the paired and unpaired translators share; subclasses
    name their game and kind and say how to read data, build the game and check settings."""

    _GAME: type = keras.Model
    _KIND = ""
    _DIRECTIONS: tuple[str, ...] = ("a2b",)
    _OFFLINE_TASKS: tuple[str, ...] = ()

    def _start(self, settings: dict[str, Any]) -> None:
        self._settings = self._check_settings(settings)
        self.game: keras.Model | None = None
        self.steps_trained = 0
        self.history: dict[str, list[float]] = {}

    @staticmethod
    def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """The constructor's default settings."""
        import inspect

        return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's arguments (a copy; ``task`` filled in by a fit on a named task): what ``save``
        stores and ``load`` rebuilds from."""
        return dict(self._settings)

    @property
    def task(self) -> str | None:
        """What the translator learns: an offline task's name, a tensorflow-datasets name, a name given to the
        constructor, or None (trained on folders or arrays without a name)."""
        return self._settings["task"]

    @property
    def trained(self) -> bool:
        """Whether the translator has a game (built by the first ``fit``, or loaded)."""
        return self.game is not None

    @property
    def channels(self) -> tuple[int, int] | None:
        """(channels of A, channels of B) of the trained model; None before the first fit."""
        return None if self.game is None else self._channels("a2b")

    def _game(self, method: str) -> keras.Model:
        if self.game is None:
            raise RuntimeError(f"{type(self).__name__}.{method}: the translator has no model yet (its channels "
                               "come from the data); call fit first, or load a saved one")
        return self.game

    def _channels(self, direction: str) -> tuple[int, int]:
        """(input channels, output channels) of the generator translating in ``direction``."""
        net = self._generator_for(direction)
        return int(net.input_shape[-1]), int(net.output_shape[-1])

    def generator_for(self, direction: str = "a2b") -> keras.Model:
        """The Keras network translating in ``direction`` (the one :meth:`export` writes for it)."""
        return self._generator_for(self._check_direction(direction))

    def _generator_for(self, direction: str) -> keras.Model:
        raise NotImplementedError

    def _check_direction(self, direction: Any) -> str:
        if direction not in self._DIRECTIONS:
            hint = " (a paired translator translates from A to B only)" if len(self._DIRECTIONS) == 1 else ""
            raise _checks.fail("direction", " or ".join(repr(d) for d in self._DIRECTIONS) + hint, repr(direction))
        return direction

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self._settings.items()
                          if key not in ("seed", "jit_compile"))
        return f"{type(self).__name__}({shown}, steps_trained={self.steps_trained})"

    # -- training --------------------------------------------------------------------------------------------
    @classmethod
    def _names_data(cls, task: str) -> bool:
        """Whether the task name ``task`` is also the name of data to read."""
        return task in cls._OFFLINE_TASKS

    def _task_data(self, data: Any, argument: str, default: bool) -> Any:
        """``data``, or for None the data the translator's task names (with ``default``, the first offline task
        when it has no task); data named by a task name (an offline task, a tfds name) must be the translator's
        own task's, so that a model is never silently trained on two tasks."""
        task = self._settings["task"]
        if data is not None:
            if isinstance(data, str) and self._names_data(data) and task is not None and data != task:
                raise _checks.fail(argument, f"the data of the translator's task {task!r} (or folders or images "
                                   "of it)", repr(data))
            return data
        if task is None and default:
            return self._OFFLINE_TASKS[0]
        if task is None or not self._names_data(task):
            raise _checks.fail(argument, f"data or images to read (the translator's task, {task!r}, names no bundled "
                               "or tensorflow-datasets data)", "None")
        return task

    def _dataset(self, data: Any, steps: int, seed: int | None,
                 data_dir: str | None) -> tuple[tf.data.Dataset, tuple[int, int], str | None]:
        """``(batches of crops for steps steps, (channels of A, channels of B), the task name data names)``."""
        raise NotImplementedError

    def _build(self, channels: tuple[int, int]) -> keras.Model:
        raise NotImplementedError

    def _callbacks(self, steps: int) -> list[keras.callbacks.Callback]:
        return []

    def fit(self, data: Any = None, steps: int = 2000, verbose: int | str = 1, data_dir: str | None = None,
            callbacks: list | None = None) -> _Translator:
        """Train for ``steps`` batches of random crops; calling it again continues training.

        The first call builds the networks for the data's channels; later calls need data of the same channels.

        Args:
            data: what to train on (see the class docstring); None: the translator's task, or the default
                offline task.
            steps: training steps (batches).
            verbose: Keras's progress display: 1 a progress bar, 2 a line per epoch, 0 silent.
            data_dir: tensorflow-datasets data_dir for a tfds ``data``.
            callbacks: more Keras callbacks.

        Returns:
            self, so that ``Translator().fit(...)`` chains.
        """
        steps = _checks.positive_int(steps, "steps")
        s = self._settings
        seed = None if s["seed"] is None else s["seed"] + self.steps_trained  # a resumed fit draws new crops
        if seed is not None:
            # Python, NumPy and TensorFlow seeded globally, before anything draws: the nets' initial weights, and
            # the crop pipelines, whose draws depend on TensorFlow's global seed besides their own.
            keras.utils.set_random_seed(seed)
        dataset, channels, task = self._dataset(self._task_data(data, "data", default=True), steps, seed, data_dir)
        if self.game is None:
            self.game = self._build(channels)
        else:
            have = self._channels("a2b")
            if channels != have:
                raise _checks.fail("data", f"images of the channels the translator was trained on ({have[0]} for A, "
                                   f"{have[1]} for B)", f"{channels[0]} for A and {channels[1]} for B")
        if task is not None and s["task"] is None:
            s["task"] = task
        epochs, per_epoch = epoch_schedule(steps)
        history = self.game.fit(dataset.prefetch(tf.data.AUTOTUNE), epochs=epochs, steps_per_epoch=per_epoch,
                                verbose=verbose, callbacks=list(callbacks or []) + self._callbacks(steps))
        for key, values in history.history.items():
            self.history.setdefault(key, []).extend(float(v) for v in values)
        self.steps_trained += steps
        return self

    # -- translation -----------------------------------------------------------------------------------------
    def _translate_batch(self, x: np.ndarray, direction: str) -> np.ndarray:
        """Float32 NHWC [-1, 1] images of the direction's input channels -> their translations."""
        raise NotImplementedError

    def _translate_any(self, image: Any, direction: str) -> Any:
        direction = self._check_direction(direction)
        self._game("translate")
        channels = self._channels(direction)[0]
        if _is_path(image) and Path(image).expanduser().is_dir():
            files = image_files(Path(image).expanduser(), "image")
            return {f.name: self._translate_any(f, direction) for f in files}
        if isinstance(image, np.ndarray) and image.ndim == 4:
            return np.stack([self._translate_any(img, direction) for img in image])
        array, as_uint8 = as_image(image, channels, "image")
        out = self._translate_batch(array[None], direction)[0]
        return to_uint8(out) if as_uint8 else out

    # -- files -----------------------------------------------------------------------------------------------
    def _export_extra(self, direction: str) -> dict[str, Any]:
        """What ``metadata.json`` records beside the game's keys (task "image_translation", direction, channels,
        size_multiple)."""
        return {
            "translation_task": self._settings["task"],
            "input": "image to translate, NHWC float32 in [-1, 1] (uint8 x: x / 127.5 - 1); height and width "
                     "multiples of size_multiple (pad by reflection and crop the output back)",
            "output": "the translation, NHWC float32 in [-1, 1] of the input's height and width",
            "training": {**self._settings, "steps_trained": self.steps_trained,
                         "app": f"apps.style_transfer.{type(self).__name__}"},
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Save the game and the app's settings and history in one ``.keras`` file, atomically."""
        path = Path(path)
        if path.suffix != ".keras":
            raise _checks.fail("path", "a file name ending in .keras", repr(str(path)))
        game = self._game("save")
        record = {"version": SETTINGS_VERSION, "kind": self._KIND, "settings": self._settings,
                  "steps_trained": self.steps_trained, "history": self.history}

        return gexport.save_keras_with(game, path, {SETTINGS_ENTRY: json.dumps(record, indent=2)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> _Translator:
        """Load a translator saved by :meth:`save` (optimizer state included, so ``fit`` continues where it
        stopped)."""
        game = gexport.load_keras(path, argument="path")
        writer = f"{cls.__name__}.save"
        if not isinstance(game, cls._GAME):
            raise _checks.fail("path", f"a .keras file holding a {cls._GAME.__name__} game (written by {writer})",
                               f"{str(path)!r}, which holds a {type(game).__name__}")
        with zipfile.ZipFile(path) as archive:
            if SETTINGS_ENTRY not in archive.namelist():
                raise _checks.fail("path", f"a file written by {writer} (with the app's settings)",
                                   f"{str(path)!r}, a plain {cls._GAME.__name__} file")
            record = json.loads(archive.read(SETTINGS_ENTRY))
        if record.get("kind") != cls._KIND:
            raise _checks.fail("path", f"a {cls._KIND} translator's file (written by {writer})",
                               f"{str(path)!r}, a {record.get('kind')!r} translator's")
        translator = cls.__new__(cls)
        translator._start({**cls._defaults(), **record["settings"]})
        translator.game = game
        translator.steps_trained = int(record.get("steps_trained", 0))
        translator.history = {key: [float(v) for v in values] for key, values in record.get("history", {}).items()}
        return translator


# -- paired --------------------------------------------------------------------------------------------------
class PairedTranslator(_Translator):
    """Paired image-to-image translation (pix2pix): learns A -> B from aligned ``(a, b)`` examples.

    A U-Net (:func:`ganapps.nets.unet_generator`, dropout its only noise) translates; a conditional PatchGAN
    (:func:`ganapps.nets.patchgan_discriminator`) judges ``(a, b)`` pairs patch by patch; the generator minimises
    ``adversarial_weight * adversarial + l1_weight * L1`` (:class:`ganapps.games.Pix2Pix`). The defaults suit a
    CPU; the paper's are ``filters=64, depth=8, crop=256, batch_size=1``.

    Data for :meth:`fit` and :meth:`evaluate`: ``"edges2photo"`` or ``"gray2colour"`` (offline pairs made from
    the bundled photographs, :func:`ganapps.data.translation_pairs`: the ``"train"`` split to fit, the ``"test"``
    split to evaluate), ``(folder_a, folder_b)`` (paired by file name, :func:`ganapps.data.paired_folders`), or a
    list of ``(a, b)`` images (HxWxC arrays, uint8 0..255 or float in [-1, 1], each pair of one height and
    width; the two sides may have different channels).

    Args:
        task: a name for what the translator learns (an offline task's name makes it that task's data's
            default); None takes the name of the offline task it is first fit on.
        filters: the first level's filters of the U-Net and of the PatchGAN.
        depth: U-Net levels; heights and widths must be multiples of ``2 ** depth`` (``translate`` pads).
        crop: side of the square training crops, a multiple of ``2 ** depth``.
        batch_size: crops per step.
        l1_weight: weight of the L1 distance to the target (100 in the paper).
        adversarial_weight: weight of the adversarial loss (1 in the paper); 0 trains with L1 alone.
        receptive_field: the PatchGAN's patch side (1, 16, 34, 70, 142 or 286); capped to the largest of these
            that fits in ``crop`` (:func:`patch_field`; see :attr:`receptive_field`).
        norm: "batch" (pix2pix), "instance" or None, in both networks.
        learning_rate: Adam's rate (beta_1 0.5) for both players.
        seed: seeds the initial weights, the game and the training crops: the same seed gives the same model.
            Every ``fit`` seeds Python, NumPy and TensorFlow globally (``keras.utils.set_random_seed``) with
            ``seed`` plus the steps trained before it; None: random.
        jit_compile: XLA compilation of the train step (True, False or "auto").
    """

    _GAME = Pix2Pix
    _KIND = "paired"
    _DIRECTIONS = ("a2b",)
    _OFFLINE_TASKS = gdata.TRANSLATION_TASKS

    def __init__(self, task: str | None = None, filters: int = 32, depth: int = 6, crop: int = 64,
                 batch_size: int = 8, l1_weight: float = 100.0, adversarial_weight: float = 1.0,
                 receptive_field: int = 70, norm: str | None = "batch", learning_rate: float = 2e-4,
                 seed: int | None = 0, jit_compile: bool | str = True):
        self._start(dict(task=task, filters=filters, depth=depth, crop=crop, batch_size=batch_size,
                         l1_weight=l1_weight, adversarial_weight=adversarial_weight,
                         receptive_field=receptive_field, norm=norm, learning_rate=learning_rate, seed=seed,
                         jit_compile=jit_compile))

    @staticmethod
    def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
        """Every constructor setting checked, in one place, so that ``load`` checks a file's settings the same way."""
        s = dict(s)
        s["depth"] = _checks.positive_int(s["depth"], "depth")
        if s["depth"] > 10:
            raise _checks.fail("depth", "at most 10 U-Net levels (inputs a multiple of 1024)", repr(s["depth"]))
        multiple = nets.unet_multiple(s["depth"])
        _check_shared(s, multiple, multiple, f"the U-Net's size multiple 2 ** depth at depth {s['depth']}")
        for key in ("l1_weight", "adversarial_weight"):
            s[key] = _checks.finite_non_negative(s[key], key)
        if not s["l1_weight"] and not s["adversarial_weight"]:
            raise _checks.fail("adversarial_weight", "a positive weight when l1_weight is 0", "0 for both")
        field = s["receptive_field"]
        if not _checks.is_int(field) or field not in RECEPTIVE_FIELDS:
            raise _checks.fail("receptive_field", f"one of {sorted(RECEPTIVE_FIELDS)}", repr(field))
        s["receptive_field"] = int(field)
        if s["norm"] not in NORMS:
            raise _checks.fail("norm", "'batch', 'instance' or None", repr(s["norm"]))
        return s

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def receptive_field(self) -> int:
        """The patch side the PatchGAN judges: ``receptive_field`` capped to the crop (:func:`patch_field`)."""
        return patch_field(self._settings["receptive_field"], self._settings["crop"])

    @property
    def size_multiple(self) -> int:
        """Heights and widths the generator takes are multiples of this (``translate`` pads other sizes)."""
        return nets.unet_multiple(self._settings["depth"])

    def _generator_for(self, direction: str) -> keras.Model:
        return self._game("generator_for").inference_generator

    # -- training --------------------------------------------------------------------------------------------
    def _pairs(self, data: Any, split: str, argument: str) -> tuple[list, list[str], str | None]:
        """``(pairs, their names, the offline task data names or None)`` of a task name, two folders or a list
        of pairs."""
        if isinstance(data, str) and data in gdata.TRANSLATION_TASKS:
            pairs = gdata.translation_pairs(data, split)
            names = [name for name, photo in zip(gdata.photo_names(split), gdata.load_photos(split))
                     if data == "edges2photo" or photo.shape[-1] == 3]  # gray2colour leaves gray photos out
            return pairs, names if len(names) == len(pairs) else _numbered(pairs, "pair"), data
        if _is_folder_pair(data):
            pairs = gdata.paired_folders(*data)
            stems = sorted(f.stem for f in image_files(Path(data[0]).expanduser(), "folder_a"))
            return pairs, stems, None
        if isinstance(data, (list, tuple)) and data and all(isinstance(p, (list, tuple)) and len(p) == 2
                                                             for p in data):
            return list(data), _numbered(data, "pair"), None
        tasks = ", ".join(repr(t) for t in gdata.TRANSLATION_TASKS)
        raise _checks.fail(argument, f"an offline task ({tasks}), (folder_a, folder_b) paired by file name, or a "
                           "non-empty list of (a, b) images", f"{type(data).__name__} {_checks.short(data)}")

    def _dataset(self, data: Any, steps: int, seed: int | None,
                 data_dir: str | None) -> tuple[tf.data.Dataset, tuple[int, int], str | None]:
        pairs, _, task = self._pairs(data, "train", "data")
        s = self._settings
        try:
            crops = gdata.paired_crops(pairs, size=s["crop"], batch_size=s["batch_size"],
                                       num_crops=steps * s["batch_size"], seed=seed)
        except ValueError as err:
            raise _renamed(err, "size", "crop") from err
        spec_a, spec_b = crops.element_spec
        return crops, (int(spec_a.shape[-1]), int(spec_b.shape[-1])), task

    def _build(self, channels: tuple[int, int]) -> Pix2Pix:
        s = self._settings
        generator = nets.unet_generator(channels[0], channels[1], filters=s["filters"], depth=s["depth"],
                                        norm=s["norm"])
        discriminator = nets.patchgan_discriminator(channels[0] + channels[1], filters=s["filters"],
                                                    receptive_field=self.receptive_field, norm=s["norm"])
        game = Pix2Pix(generator, discriminator, l1_weight=s["l1_weight"],
                       adversarial_weight=s["adversarial_weight"], seed=s["seed"])
        game.compile(g_optimizer=_adam(s["learning_rate"]), d_optimizer=_adam(s["learning_rate"]),
                     jit_compile=s["jit_compile"])
        return game

    # -- use -------------------------------------------------------------------------------------------------
    def _translate_batch(self, x: np.ndarray, direction: str) -> np.ndarray:
        return self._game("translate").translate(x)

    def translate(self, image: ImageLike, direction: str = "a2b") -> Any:
        """Translate an image of any size from A to B.

        Args:
            image: an HxWxC (or HxW) array, uint8 0..255 (gives uint8 back) or float in [-1, 1] (gives float32
                in [-1, 1]); an NHWC batch (translated image by image); an image file (gives uint8); or a folder
                (gives ``{file name: uint8 translation}``). Gray, RGB and RGBA are converted to A's channels.
            direction: "a2b", the only direction a paired translator knows.
        """
        return self._translate_any(image, direction)

    def evaluate(self, pairs: Any = None) -> dict[str, Any]:
        """Score the translations of held-out pairs against their targets, whole images at their own size.

        Args:
            pairs: None (the task's ``"test"`` split, photographs no training pair came from), ``(folder_a,
                folder_b)``, or a list of ``(a, b)`` images (each converted to the model's channels).

        Returns:
            ``"l1"`` (mean absolute difference in [-1, 1] units), ``"psnr"`` and ``"ssim"``
            (:func:`ganapps.metrics.psnr` / :func:`~ganapps.metrics.ssim` on [-1, 1], all channels),
            ``"sharpness"`` and ``"target_sharpness"`` (:func:`ganapps.metrics.mean_gradient_magnitude` of the
            outputs and of the targets: an output much smoother than its target is blurry): means over the
            images; ``"per_image"``: one row per pair with its ``"image"`` name and the same five numbers.
        """
        game = self._game("evaluate")
        raw, names, _ = self._pairs(self._task_data(pairs, "pairs", default=False), "test", "pairs")
        in_channels, out_channels = self._channels("a2b")
        rows = []
        for i, (pair, name) in enumerate(zip(raw, names)):
            a, _ = as_image(pair[0], in_channels, f"pairs[{i}] a")
            b, _ = as_image(pair[1], out_channels, f"pairs[{i}] b")
            if a.shape[:2] != b.shape[:2] or min(a.shape[:2]) < metrics.SSIM_WINDOW:
                raise _checks.fail(f"pairs[{i}]", f"an aligned pair, a and b of one height and width of at least "
                                   f"{metrics.SSIM_WINDOW} (SSIM's window)",
                                   f"a of {a.shape[0]}x{a.shape[1]} and b of {b.shape[0]}x{b.shape[1]}")
            out = game.translate(a[None])
            rows.append({"image": name, "l1": _l1(out[0], b), "psnr": float(metrics.psnr(out, _unit(b))[0]),
                         "ssim": float(metrics.ssim(out, _unit(b))[0]),
                         "sharpness": float(metrics.mean_gradient_magnitude(out)[0]),
                         "target_sharpness": float(metrics.mean_gradient_magnitude(_unit(b))[0])})
        means = {key: float(np.mean([row[key] for row in rows]))
                 for key in ("l1", "psnr", "ssim", "sharpness", "target_sharpness")}
        return {**means, "per_image": rows}

    def figure(self, images: Any, path: str | os.PathLike, limit: int = 4) -> Path:
        """Save a before/after grid (:func:`before_after_grid`): input | output, and | target for pairs.

        Args:
            images: None (the task's test pairs), ``(folder_a, folder_b)`` or a list of ``(a, b)`` pairs (three
                columns), or a folder, an image file, an NHWC array or a list of images (two columns).
            path: the figure file (.png, .jpg, .pdf or .svg).
            limit: at most this many rows (the first images).
        """
        limit = _checks.positive_int(limit, "limit")
        in_channels, out_channels = self._channels("a2b")
        pairs = images is None or (_is_folder_pair(images) and all(Path(p).expanduser().is_dir() for p in images)) \
            or (isinstance(images, (list, tuple)) and bool(images)
                and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in images))
        if pairs:
            raw, _, _ = self._pairs(self._task_data(images, "images", default=False), "test", "images")
            inputs = [as_image(a, in_channels, f"images[{i}] a")[0] for i, (a, _) in enumerate(raw[:limit])]
            targets = [as_image(b, out_channels, f"images[{i}] b")[0] for i, (_, b) in enumerate(raw[:limit])]
        else:
            raw, _ = _read_source(images, "images")
            inputs = [as_image(a, in_channels, f"images[{i}]")[0] for i, a in enumerate(raw[:limit])]
            targets = None
        outputs = [self._translate_batch(x[None], "a2b")[0] for x in inputs]
        return before_after_grid(inputs, outputs, path, targets=targets, title=self._settings["task"])

    def export(self, directory: str | os.PathLike) -> dict[str, Any]:
        """Write ``model.onnx``, ``saved_model/`` and ``metadata.json`` (dynamic height and width) for
        :class:`ganapps.runtime.Translator` or any ONNX/TF runtime; the metadata records the game's
        ``task`` ("image_translation"), ``direction``, channels and ``size_multiple``, and ``translation_task``
        and the training settings."""
        return gexport.export_generator(self._game("export"), directory, extra_metadata=self._export_extra("a2b"))


# -- unpaired ------------------------------------------------------------------------------------------------
class UnpairedTranslator(_Translator):
    """Unpaired image-to-image translation (CycleGAN): learns A -> B and B -> A from two unrelated image sets.

    Two ResNet generators (:func:`ganapps.nets.resnet_generator`, instance normalisation, reflection padding)
    translate each way; two PatchGANs (instance normalisation) judge each domain; the cycle-consistency loss (a
    translation translated back should give the original) stands in for the missing pairs
    (:class:`ganapps.games.CycleGAN`, with its history pool of earlier translations). The defaults suit a CPU;
    the paper's are ``filters=64, blocks=9, crop=256, batch_size=1``.

    Data for :meth:`fit` and :meth:`evaluate`: ``"photo2cartoon"`` (offline: photographs and cartoon renderings
    of other photographs, :func:`ganapps.data.unpaired_domains`), ``(folder_a, folder_b)``, a ``cycle_gan``
    tensorflow-datasets name such as ``"cycle_gan/horse2zebra"`` (:func:`ganapps.data.translation_tfds`; offline
    it raises :class:`ganapps.data.DatasetUnavailableError` at once), or ``(images_a, images_b)``: two lists of
    HxWxC images (uint8 0..255 or float in [-1, 1]) or NHWC arrays, of any sizes of at least ``crop``.

    Args:
        task: a name for what the translator learns; None takes the offline task or tfds name it is first fit
            on.
        filters: the generators' full-resolution filters and the PatchGANs' first-level filters.
        blocks: residual blocks per generator (6 for 128x128 in the paper, 9 for 256x256).
        crop: side of the square training crops: a multiple of 4 of at least 8.
        batch_size: crops of each domain per step.
        cycle_weight: weight of the cycle-consistency L1 terms (10 in the paper).
        identity_weight: weight of the identity terms relative to ``cycle_weight`` (0.5); 0 drops them.
        pool_size: earlier translations in each critic's history pool (50); 0 disables the pools.
        loss: the adversarial loss's name in :mod:`ganapps.losses` ("least_squares" in the paper).
        decay: the paper's schedule (:class:`ganapps.callbacks.LinearDecay`): each ``fit`` holds the rate for
            the first half of its steps, then decays it linearly to 0; False keeps it constant.
        learning_rate: Adam's rate (beta_1 0.5) for both generators and both critics.
        seed: seeds the initial weights, the game's pools and the training crops (globally at every ``fit``, as in
            :class:`PairedTranslator`).
        jit_compile: XLA compilation of the train step (True, False or "auto").
    """

    _GAME = CycleGAN
    _KIND = "unpaired"
    _DIRECTIONS = DIRECTIONS
    _OFFLINE_TASKS = gdata.UNPAIRED_TASKS

    def __init__(self, task: str | None = None, filters: int = 32, blocks: int = 6, crop: int = 64,
                 batch_size: int = 4, cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 pool_size: int = 50, loss: str = "least_squares", decay: bool = True,
                 learning_rate: float = 2e-4, seed: int | None = 0, jit_compile: bool | str = True):
        self._start(dict(task=task, filters=filters, blocks=blocks, crop=crop, batch_size=batch_size,
                         cycle_weight=cycle_weight, identity_weight=identity_weight, pool_size=pool_size,
                         loss=loss, decay=decay, learning_rate=learning_rate, seed=seed, jit_compile=jit_compile))

    @staticmethod
    def _check_settings(s: dict[str, Any]) -> dict[str, Any]:
        """Every constructor setting checked, in one place, so that ``load`` checks a file's settings the same way."""
        s = dict(s)
        _check_shared(s, RESNET_MULTIPLE, RESNET_MINIMUM, "the ResNet generator's two stride-2 levels")
        s["blocks"] = _checks.positive_int(s["blocks"], "blocks")
        for key in ("cycle_weight", "identity_weight"):
            s[key] = _checks.finite_non_negative(s[key], key)
        s["pool_size"] = _checks.non_negative_int(s["pool_size"], "pool_size")
        if s["loss"] not in losses.names():
            raise _checks.fail("loss", f"one of {losses.names()}", repr(s["loss"]))
        if not isinstance(s["decay"], (bool, np.bool_)):
            raise _checks.fail("decay", "True or False", repr(s["decay"]))
        s["decay"] = bool(s["decay"])
        return s

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def receptive_field(self) -> int:
        """The patch side the critics judge: CycleGAN's 70, capped to the crop (:func:`patch_field`)."""
        return patch_field(70, self._settings["crop"])

    @property
    def size_multiple(self) -> int:
        """Heights and widths the generators take are multiples of this (``translate`` pads other sizes)."""
        return RESNET_MULTIPLE

    def _generator_for(self, direction: str) -> keras.Model:
        return self._game("generator_for").generator_for(direction)

    # -- training --------------------------------------------------------------------------------------------
    def _domains(self, data: Any, split: str, data_dir: str | None,
                 argument: str) -> tuple[list, list, list[str], list[str], str | None]:
        """``(images_a, images_b, names_a, names_b, the task name data names or None)``."""
        if isinstance(data, str) and data in gdata.UNPAIRED_TASKS:
            images_a, images_b = gdata.unpaired_domains(data, split)
            return images_a, images_b, _numbered(images_a), _numbered(images_b), data
        if _is_folder_pair(data):
            (a, names_a), (b, names_b) = (_read_source(folder, f"{argument}[{i}]") for i, folder in enumerate(data))
            return a, b, names_a, names_b, None
        if isinstance(data, str):
            path = Path(data).expanduser()
            if path.exists() or data.startswith(("/", ".", "~")):
                raise _checks.fail(argument, "(folder_a, folder_b): two folders, one per domain",
                                   f"the single path {data!r}")
            images_a, images_b = gdata.translation_tfds(data, split, data_dir)
            return images_a, images_b, _numbered(images_a), _numbered(images_b), data
        if isinstance(data, (list, tuple)) and len(data) == 2:
            (a, names_a), (b, names_b) = (_read_source(side, f"{argument}[{i}]") for i, side in enumerate(data))
            return a, b, names_a, names_b, None
        tasks = ", ".join(repr(t) for t in gdata.UNPAIRED_TASKS)
        raise _checks.fail(argument, f"an offline task ({tasks}), a cycle_gan tensorflow-datasets name, "
                           "(folder_a, folder_b) or (images_a, images_b)", f"{type(data).__name__} "
                           f"{_checks.short(data)}")

    def _dataset(self, data: Any, steps: int, seed: int | None,
                 data_dir: str | None) -> tuple[tf.data.Dataset, tuple[int, int], str | None]:
        images_a, images_b, _, _, task = self._domains(data, "train", data_dir, "data")
        s = self._settings

        def crops(channels: int | None) -> tf.data.Dataset:
            try:
                return gdata.unpaired_crops(images_a, images_b, size=s["crop"], batch_size=s["batch_size"],
                                            num_crops=steps * s["batch_size"], seed=seed, channels=channels)
            except ValueError as err:
                raise _renamed(err, "size", "crop") from err

        dataset = crops(None)
        channels = tuple(int(spec.shape[-1]) for spec in dataset.element_spec)
        identity = s["identity_weight"] > 0
        if identity and channels[0] != channels[1]:  # the identity loss needs one channel count: colour for both
            dataset, channels = crops(3), (3, 3)
        return dataset, channels, task

    def _build(self, channels: tuple[int, int]) -> CycleGAN:
        s = self._settings
        a, b = channels
        generators = [nets.resnet_generator(i, o, filters=s["filters"], blocks=s["blocks"], name=f"generator_{d}")
                      for i, o, d in ((a, b, "ab"), (b, a, "ba"))]
        critics = [nets.patchgan_discriminator(c, filters=s["filters"], receptive_field=self.receptive_field,
                                               norm="instance", name=f"discriminator_{d}")
                   for c, d in ((a, "a"), (b, "b"))]
        game = CycleGAN(*generators, *critics, loss=s["loss"], cycle_weight=s["cycle_weight"],
                        identity_weight=s["identity_weight"], pool_size=s["pool_size"],
                        pool_image_shape=(s["crop"], s["crop"]), seed=s["seed"])
        game.compile(g_optimizer=_adam(s["learning_rate"]), d_optimizer=_adam(s["learning_rate"]),
                     jit_compile=s["jit_compile"])
        return game

    @classmethod
    def _names_data(cls, task: str) -> bool:
        return task in cls._OFFLINE_TASKS or "/" in task  # a tensorflow-datasets name: "cycle_gan/horse2zebra"

    def _callbacks(self, steps: int) -> list[keras.callbacks.Callback]:
        if not self._settings["decay"]:
            return []
        hold = steps // 2
        return [LinearDecay(hold, steps - hold, self._settings["learning_rate"])]

    # -- use -------------------------------------------------------------------------------------------------
    def _translate_batch(self, x: np.ndarray, direction: str) -> np.ndarray:
        return self._game("translate").translate(x, direction=direction)

    def translate(self, image: ImageLike, direction: str = "a2b") -> Any:
        """Translate an image of any size from A to B (``direction="a2b"``) or from B to A (``"b2a"``).

        Args:
            image: an HxWxC (or HxW) array, uint8 0..255 (gives uint8 back) or float in [-1, 1] (gives float32
                in [-1, 1]); an NHWC batch (translated image by image); an image file (gives uint8); or a folder
                (gives ``{file name: uint8 translation}``). Converted to the source domain's channels.
            direction: "a2b" or "b2a".
        """
        return self._translate_any(image, direction)

    def evaluate(self, images_a: Any = None, images_b: Any = None, data_dir: str | None = None) -> dict[str, Any]:
        """Cycle reconstruction and identity errors on held-out images of each domain, whole images.

        Args:
            images_a: images of A (a folder, an NHWC array, a list of images or paths); None with ``images_b``
                None: both domains of the task's ``"test"`` split.
            images_b: images of B, likewise; a domain left None (while the other is given) is not scored.
            data_dir: tensorflow-datasets data_dir for a tfds task.

        Returns:
            ``"cycle_a2b2a"``: mean L1 (in [-1, 1] units) between each image of A and its translation to B
            translated back; ``"cycle_b2a2b"`` likewise from B; ``"identity_a"``: mean L1 between an image of A
            and what the B -> A generator makes of it (0 for a generator that leaves its own domain alone),
            ``"identity_b"`` likewise (both only when A and B have the same channels); ``"per_image"``: a row
            per image with its ``"image"`` name, ``"domain"`` and ``"cycle"`` (and ``"identity"``).
        """
        self._game("evaluate")
        if images_a is None and images_b is None:
            task = self._task_data(None, "images_a", default=False)
            a, b, names_a, names_b, _ = self._domains(task, "test", data_dir, "images_a")
            sources = {"a": (a, names_a), "b": (b, names_b)}
        else:
            sources = {domain: _read_source(images, f"images_{domain}")
                       for domain, images in (("a", images_a), ("b", images_b)) if images is not None}
        a_channels, b_channels = self._channels("a2b")
        same = a_channels == b_channels
        rows, result = [], {}
        for domain, (images, names) in sources.items():
            there, back = ("a2b", "b2a") if domain == "a" else ("b2a", "a2b")
            channels = a_channels if domain == "a" else b_channels
            cycles, identities = [], []
            for i, (image, name) in enumerate(zip(images, names)):
                x = as_image(image, channels, f"images_{domain}[{i}]")[0][None]
                cycle = _l1(self._translate_batch(self._translate_batch(x, there), back), x)
                row = {"image": name, "domain": domain, "cycle": cycle}
                if same:
                    row["identity"] = _l1(self._translate_batch(x, back), x)
                    identities.append(row["identity"])
                cycles.append(cycle)
                rows.append(row)
            result[f"cycle_{there}2{domain}"] = float(np.mean(cycles))
            if same:
                result[f"identity_{domain}"] = float(np.mean(identities))
        return {**result, "per_image": rows}

    def figure(self, images: Any, path: str | os.PathLike, direction: str = "a2b", limit: int = 4) -> Path:
        """Save a before/after grid (:func:`before_after_grid`): the input, its translation, and the translation
        translated back (the cycle's reconstruction).

        Args:
            images: images of the source domain (a folder, an image file, an NHWC array, a list of images or
                paths); None: the task's test split.
            path: the figure file (.png, .jpg, .pdf or .svg).
            direction: "a2b" (images of A) or "b2a" (images of B).
            limit: at most this many rows (the first images).
        """
        direction = self._check_direction(direction)
        limit = _checks.positive_int(limit, "limit")
        self._game("figure")
        if images is None:
            a, b, _, _, _ = self._domains(self._task_data(None, "images", default=False), "test", None, "images")
            raw = a if direction == "a2b" else b
        else:
            raw, _ = _read_source(images, "images")
        source, target = direction[0].upper(), direction[-1].upper()
        back = "b2a" if direction == "a2b" else "a2b"
        inputs = [as_image(x, self._channels(direction)[0], f"images[{i}]")[0] for i, x in enumerate(raw[:limit])]
        outputs = [self._translate_batch(x[None], direction)[0] for x in inputs]
        cycled = [self._translate_batch(y[None], back)[0] for y in outputs]
        return before_after_grid(inputs, outputs, path, targets=cycled,
                                 labels=(source, f"{source} -> {target}", f"{source} -> {target} -> {source}"),
                                 title=self._settings["task"])

    def export(self, directory: str | os.PathLike) -> dict[str, dict[str, Any]]:
        """Write ``directory/a2b`` and ``directory/b2a``, each an export folder of one generator (``model.onnx``,
        ``saved_model/``, ``metadata.json`` with its ``direction``; dynamic height and width), for
        :class:`ganapps.runtime.Translator` or any ONNX/TF runtime.

        Both are written under a temporary folder first and moved into place only once both passed their parity
        checks, so a failure leaves the earlier export (or nothing) behind.

        Returns:
            ``{"a2b": metadata, "b2a": metadata}``.
        """
        game = self._game("export")
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise _checks.fail("directory", "a folder path", f"{str(directory)!r}, which is a file")
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.style-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            written = {d: gexport.export_generator(game.generator_for(d), tmp / d,
                                                   extra_metadata={**game.export_metadata(d), **self._export_extra(d)})
                       for d in DIRECTIONS}
            directory.mkdir(exist_ok=True)
            for d in DIRECTIONS:
                if (directory / d).exists():
                    os.replace(directory / d, tmp / f"old-{d}")
                os.replace(tmp / d, directory / d)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return written


def _numbered(items: Sequence[Any], what: str = "image") -> list[str]:
    """Names for unnamed images (or pairs): "image 0", "image 1", ..."""
    return [f"{what} {i}" for i in range(len(items))]
