"""Rebalancing a dataset by generation: a conditional GAN makes extra samples of its under-represented groups.

Where group labels are known (skin tone, a device, a site), the rare groups can be topped up with synthetic
samples instead of being re-weighted. The game is a :class:`GroupConditionalGAN`, a
:class:`~ganapps.games.ConditionalGAN` whose condition is the one-hot group followed by the one-hot class label,
so a rare (group, class) cell borrows what the generator learns about the group from every class and what it
learns about the class from every group. Training batches are drawn with each (group, class) cell equally likely
(:func:`ganapps.debias.resampled_dataset`), so the rare group is half of what the game sees, not 5%.

    game = fit_rebalancer(x, groups, labels, steps=2000)
    extra = augment(x, groups, labels, game, target_balance=1.0)   # real + synthetic, with provenance
    write_folder("balanced/", extra.x, extra.groups, extra.labels, extra.synthetic)

:func:`rebalance_plan` says how many samples each (group, class) cell needs: every group of a class reaches
``target_balance`` times the largest group of that class (1.0: balanced; 0.5: half of it).
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ganapps import _checks
from ganapps.games.conditional import ConditionalGAN

__all__ = ["GroupConditionalGAN", "Rebalanced", "augment", "build_rebalancer", "fit_rebalancer",
           "rebalance_plan", "synthesize", "write_folder", "file_stems", "PROVENANCE_FILE",
           "SYNTHETIC_PREFIX"]

PROVENANCE_FILE = "provenance.csv"
"""What :func:`write_folder` writes beside the images: one row per image (file, group, label, synthetic)."""
SYNTHETIC_PREFIX = "synthetic_"
"""How the names of :func:`write_folder`'s synthetic images begin (``synthetic_00000.png``, ...); no real
sample's name may begin so."""


def _values(array: Any, argument: str, n: int | None = None) -> np.ndarray:
    values = np.asarray(array)
    if values.ndim != 1 or values.size == 0:
        raise _checks.fail(argument, "a non-empty 1-D sequence of group or class values, one per sample",
                           f"shape {values.shape}")
    if n is not None and len(values) != n:
        raise _checks.fail(argument, f"{n} values, one per sample of x", f"{len(values)}")
    if values.dtype.kind not in "iuUSb":
        raise _checks.fail(argument, "integer or string values", f"dtype {values.dtype}")
    return values


def _check_balance(target_balance: Any) -> float:
    if isinstance(target_balance, bool) or not isinstance(target_balance, (int, float, np.number)) \
            or not 0 < float(target_balance) <= 1:
        raise _checks.fail("target_balance", "a number in (0, 1]: each group's share of the largest group's count",
                           repr(target_balance))
    return float(target_balance)


# -- the plan ------------------------------------------------------------------------------------------------
def rebalance_plan(groups: Any, labels: Any = None, target_balance: float = 1.0) -> dict[tuple[Any, Any], int]:
    """How many synthetic samples each ``(group, label)`` cell needs: within each class (or over all samples when
    ``labels`` is None, the label then being None), every group is topped up to ``ceil(target_balance * the
    largest group's count)``. Cells already there get 0 and are left out; a group absent from a class gets the
    full count (the generator is asked for a combination it has never seen: check such samples by eye)."""
    groups = _values(groups, "groups")
    labels = None if labels is None else _values(labels, "labels", len(groups))
    balance = _check_balance(target_balance)
    group_values = sorted(set(groups.tolist()))
    label_values = [None] if labels is None else sorted(set(labels.tolist()))
    cells = Counter(zip(groups.tolist(), [None] * len(groups) if labels is None else labels.tolist()))
    plan = {}
    for label in label_values:
        target = math.ceil(balance * max(cells[(g, label)] for g in group_values))
        for group in group_values:
            if cells[(group, label)] < target:
                plan[(group, label)] = target - cells[(group, label)]
    return plan


# -- the game ------------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="ganapps")
class GroupConditionalGAN(ConditionalGAN):
    """A conditional GAN conditioned on ``[one-hot group, one-hot class]``, which remembers the group and class
    values so that :meth:`generate_groups` takes them as given (strings or ints) and a ``.keras`` reload still
    knows them.

    Args:
        generator: a ``keras.Model`` of ``[z, condition]`` with a condition of ``len(group_values) +
            len(label_values)`` values (:func:`build_rebalancer` makes one).
        discriminator: a ``keras.Model`` of ``[x, condition]``.
        group_values: the groups, in the order of the condition's first one-hot block.
        label_values: the class labels, in the order of the second block; None when classes are not used.
        **kwargs: the :class:`~ganapps.games.ConditionalGAN` options (latent_dim, loss, penalties, ema, seed).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, group_values: Sequence[Any],
                 label_values: Sequence[Any] | None = None, **kwargs):
        self.group_values = self._vocabulary(group_values, "group_values")
        self.label_values = [] if label_values is None else self._vocabulary(label_values, "label_values")
        kwargs.pop("num_classes", None)
        kwargs.pop("condition_dim", None)
        super().__init__(generator, discriminator, condition_dim=len(self.group_values) + len(self.label_values),
                         **kwargs)

    @staticmethod
    def _vocabulary(values: Any, argument: str) -> list:
        values = [_checks.plain(v) for v in values] if isinstance(values, (list, tuple, np.ndarray)) else values
        if not isinstance(values, list) or not values or len(set(values)) != len(values) \
                or not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values):
            raise _checks.fail(argument, "a non-empty list of distinct ints or strings", _checks.short(values))
        return values

    def conditions(self, groups: Any, labels: Any = None) -> np.ndarray:
        """The ``(n, condition_dim)`` float32 condition vectors of these groups (and labels)."""
        groups = _values(groups, "groups")
        blocks = [self._one_hot(groups, self.group_values, "groups")]
        if self.label_values:
            if labels is None:
                raise _checks.fail("labels", f"one class label per group value (the game is conditioned on the "
                                   f"classes {_checks.short(self.label_values)})", "None")
            blocks.append(self._one_hot(_values(labels, "labels", len(groups)), self.label_values, "labels"))
        elif labels is not None:
            raise _checks.fail("labels", "None: this game is conditioned on groups alone", "labels")
        return np.concatenate(blocks, axis=1)

    @staticmethod
    def _one_hot(values: np.ndarray, vocabulary: list, argument: str) -> np.ndarray:
        index = {v: i for i, v in enumerate(vocabulary)}
        unknown = sorted({str(v) for v in values.tolist() if v not in index})
        if unknown:
            raise _checks.fail(argument, f"values the game was trained on ({_checks.short(vocabulary)})",
                               _checks.short(unknown))
        out = np.zeros((len(values), len(vocabulary)), np.float32)
        out[np.arange(len(values)), [index[v] for v in values.tolist()]] = 1.0
        return out

    def generate_groups(self, groups: Any, labels: Any = None, seed: int | None = None,
                        batch_size: int = 256) -> np.ndarray:
        """One sample per entry of ``groups`` (and ``labels``), in the game's value range."""
        condition = self.conditions(groups, labels)
        return self.generate(len(condition), labels=condition, seed=seed, batch_size=batch_size)

    def get_config(self) -> dict:
        """The conditional GAN's config plus the group and class values, so a ``.keras`` reload maps the same
        values to the same condition vectors."""
        config = super().get_config()
        config.update({"group_values": list(self.group_values),
                       "label_values": list(self.label_values) or None})
        return config


def build_rebalancer(sample_shape: Sequence[int], group_values: Sequence[Any],
                     label_values: Sequence[Any] | None = None, latent_dim: int = 32, width: int = 32,
                     hidden: Sequence[int] = (256, 256), loss: str = "non_saturating", seed: int | None = 0,
                     **kwargs: Any) -> GroupConditionalGAN:
    """A :class:`GroupConditionalGAN` with default networks: DCGAN convolutions for images whose sides are powers
    of two (``width`` filters at full resolution), MLPs (``hidden``) for vectors. ``kwargs`` go to the game."""
    from ganapps import nets

    shape = tuple(int(s) for s in sample_shape)
    condition_dim = len(group_values) + len(label_values or ())
    if len(shape) == 3:
        shape = _checks.image_shape(shape, "sample_shape")
        generator = nets.conditional_generator(latent_dim, condition_dim, shape, width=width)
        discriminator = nets.conditional_discriminator(shape, condition_dim, width=width)
    elif len(shape) == 1:
        generator = nets.mlp_conditional_generator(latent_dim, condition_dim, shape[0], hidden=hidden)
        discriminator = nets.mlp_conditional_discriminator(shape[0], condition_dim, hidden=hidden)
    else:
        raise _checks.fail("sample_shape", "(height, width, channels) for images or (features,) for vectors",
                           repr(shape))
    return GroupConditionalGAN(generator, discriminator, group_values, label_values, latent_dim=latent_dim,
                               loss=loss, seed=seed, **kwargs)


def fit_rebalancer(x: np.ndarray, groups: Any, labels: Any = None, steps: int = 2000, batch_size: int = 64,
                   balanced: bool = True, lr: float = 2e-4, latent_dim: int = 32, width: int = 32,
                   hidden: Sequence[int] = (256, 256), seed: int | None = 0, jit_compile: bool | str = "auto",
                   callbacks: Sequence[keras.callbacks.Callback] | None = None, verbose: int | str = 0,
                   **game_kwargs: Any) -> GroupConditionalGAN:
    """Train a :class:`GroupConditionalGAN` on ``x`` (in [-1, 1]) for ``steps`` batches.

    With ``balanced`` (the default) every (group, class) cell is equally likely in a batch, so the generator
    learns the rare groups from as many draws as the common ones (it still sees only their few distinct samples:
    the fewer they are, the more it copies them). ``game_kwargs`` go to :func:`build_rebalancer`.
    """
    from ganapps import debias

    x = np.asarray(x, np.float32)
    groups = _values(groups, "groups", len(x))
    labels = None if labels is None else _values(labels, "labels", len(x))
    steps = _checks.positive_int(steps, "steps")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    group_values = sorted(set(groups.tolist()))
    label_values = None if labels is None else sorted(set(labels.tolist()))
    if seed is not None:
        keras.utils.set_random_seed(seed)
    game = build_rebalancer(x.shape[1:], group_values, label_values, latent_dim=latent_dim, width=width,
                            hidden=hidden, seed=seed, **game_kwargs)
    condition = game.conditions(groups, labels)
    if balanced:
        cells = Counter(map(tuple, condition.tolist()))
        probabilities = 1.0 / np.array([cells[tuple(c)] for c in condition.tolist()])
    else:
        probabilities = np.ones(len(x))
    probabilities = probabilities / probabilities.sum()
    dataset = debias.resampled_dataset(x, condition, probabilities=probabilities, batch_size=batch_size,
                                       steps=steps, seed=0 if seed is None else seed)
    game.compile(g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5), d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5),
                 jit_compile=jit_compile)
    game.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=list(callbacks or ()), verbose=verbose)
    return game


# -- synthetic samples ---------------------------------------------------------------------------------------
@dataclass
class Rebalanced:
    """A dataset topped up with synthetic samples: ``synthetic[i]`` says whether sample ``i`` was generated."""

    x: np.ndarray
    groups: np.ndarray
    labels: np.ndarray | None
    synthetic: np.ndarray

    def counts(self) -> dict[str, dict[str, int]]:
        """Per group: real and synthetic sample counts (JSON-ready: string keys)."""
        out: dict[str, dict[str, int]] = {}
        for group, fake in zip(self.groups.tolist(), self.synthetic.tolist()):
            cell = out.setdefault(str(group), {"real": 0, "synthetic": 0})
            cell["synthetic" if fake else "real"] += 1
        return dict(sorted(out.items()))


def synthesize(game: GroupConditionalGAN, plan: dict[tuple[Any, Any], int], seed: int | None = 0,
               batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The samples a :func:`rebalance_plan` asks for: ``(x, groups, labels)`` (labels None for a plan without
    classes), the cells in the plan's order."""
    if not isinstance(game, GroupConditionalGAN):
        raise _checks.fail("game", "a GroupConditionalGAN (fit_rebalancer returns one)", type(game).__name__)
    if not isinstance(plan, dict) or not plan:
        raise _checks.fail("plan", "a non-empty dict {(group, label): count} from rebalance_plan", _checks.short(plan))
    groups, labels = [], []
    for (group, label), count in plan.items():
        groups += [group] * _checks.positive_int(count, f"plan[{(group, label)!r}]")
        labels += [label] * count
    with_labels = bool(game.label_values)
    x = game.generate_groups(np.asarray(groups), np.asarray(labels) if with_labels else None, seed=seed,
                             batch_size=batch_size)
    return x, np.asarray(groups), (np.asarray(labels) if with_labels else None)


def augment(x: np.ndarray, groups: Any, labels: Any, game: GroupConditionalGAN, target_balance: float = 1.0,
            seed: int | None = 0) -> Rebalanced:
    """``x`` with synthetic samples appended by :func:`rebalance_plan` (within classes when ``labels`` is not
    None), each marked in :attr:`Rebalanced.synthetic`; the real samples come first, unchanged."""
    x = np.asarray(x)
    groups = _values(groups, "groups", len(x))
    labels = None if labels is None else _values(labels, "labels", len(x))
    if labels is None and game.label_values:
        raise _checks.fail("labels", "the class labels of x: the game is conditioned on classes", "None")
    plan = rebalance_plan(groups, labels, target_balance)
    if not plan:
        return Rebalanced(x, groups, labels, np.zeros(len(x), bool))
    fake_x, fake_groups, fake_labels = synthesize(game, plan, seed=seed)
    return Rebalanced(np.concatenate([x, fake_x.astype(x.dtype)]), np.concatenate([groups, fake_groups]),
                      None if labels is None else np.concatenate([labels, fake_labels]),
                      np.concatenate([np.zeros(len(x), bool), np.ones(len(fake_x), bool)]))


def write_folder(out: str | os.PathLike, x: np.ndarray, groups: Any, labels: Any = None, synthetic: Any = None,
                 names: Sequence[str] | None = None, overwrite: bool = False) -> Path:
    """Write images (in [-1, 1]) as PNG files under ``out/images/`` and ``out/provenance.csv`` (file, group,
    label, synthetic) with one row each, so a later reader knows which samples were generated.

    The folder is assembled beside ``out`` and renamed into place: a crash leaves no half-written folder. An
    existing ``out`` is an error unless ``overwrite``. ``names`` are the real samples' file names, kept without
    folder and suffix, so they must stay distinct and not start with ``synthetic_`` (:func:`file_stems`): synthetic
    samples are called ``synthetic_<i>.png``; real ones by default ``sample_<i>.png``.
    """
    from ganapps.images import save_image, to_uint8

    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise _checks.fail("x", "images (n, height, width, 1 or 3) in [-1, 1]", f"shape {x.shape}")
    groups = _values(groups, "groups", len(x))
    labels = None if labels is None else _values(labels, "labels", len(x))
    synthetic = np.zeros(len(x), bool) if synthetic is None else np.asarray(synthetic, bool)
    if synthetic.shape != (len(x),):
        raise _checks.fail("synthetic", f"{len(x)} booleans, one per sample", f"shape {synthetic.shape}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise _checks.fail("out", "a folder that does not exist yet (or overwrite=True)", f"{str(out)!r}, which exists")
    files = _file_names(names, synthetic)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "images").mkdir()
        pixels = to_uint8(x)
        for name, image in zip(files, pixels):
            save_image(image, tmp / "images" / name)
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["file", "group", "label", "synthetic"])
        for i, name in enumerate(files):
            label = "" if labels is None else _checks.plain(labels[i])
            writer.writerow([f"images/{name}", _checks.plain(groups[i]), label, int(synthetic[i])])
        (tmp / PROVENANCE_FILE).write_text(table.getvalue())
        _checks.replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def file_stems(names: Sequence[str], argument: str = "names", shown: Sequence[str] | None = None) -> list[str]:
    """The file names, without suffix, that :func:`write_folder` gives real samples called ``names``
    (``Path(name).stem``), refused when two coincide (``a.png`` and ``b/a.jpg`` are both ``a``) or one starts
    with ``synthetic_``: either would overwrite an image without a word, or pass a real one off as generated.
    ``shown``: what the error quotes for each name (the names as the user gave them, where ``names`` were derived
    from those)."""
    stems = [Path(str(n)).stem for n in names]
    shown = list(names) if shown is None else list(shown)
    if len(shown) != len(stems):
        raise _checks.fail("shown", f"None or {len(stems)} names, one per entry of names", f"{len(shown)} names")
    expected = f"distinct file names (compared without folder and suffix) that do not start with {SYNTHETIC_PREFIX!r}"
    first: dict[str, int] = {}
    for i, stem in enumerate(stems):
        if stem.startswith(SYNTHETIC_PREFIX):
            raise _checks.fail(argument, expected + " (the generated samples' names)", repr(str(shown[i])))
        if stem in first:
            raise _checks.fail(argument, expected, f"{stem!r} twice ({str(shown[first[stem]])!r} and "
                                                   f"{str(shown[i])!r})")
        first[stem] = i
    return stems


def _file_names(names: Sequence[str] | None, synthetic: np.ndarray) -> list[str]:
    real = int((~synthetic).sum())
    if names is not None:
        if len(names) != real:
            raise _checks.fail("names", f"{real} names, one per real sample", f"{len(names)} names")
        names = file_stems(names)
    files, r, s = [], 0, 0
    for fake in synthetic.tolist():
        if fake:
            files.append(f"{SYNTHETIC_PREFIX}{s:05d}.png")
            s += 1
        else:
            files.append(f"{names[r]}.png" if names is not None else f"sample_{r:05d}.png")
            r += 1
    return files
