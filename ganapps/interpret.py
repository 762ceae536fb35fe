"""What a classifier's hidden layers respond to, and datasets that separate its robust from its non-robust features.

Feature visualisation after Szegedy et al. (2014, figures 1-4): a hidden unit (a direction of the natural basis)
or a random direction of a layer is read off either from the dataset images that activate it most
(:func:`top_activating`) or from synthetic images that maximise it by gradient ascent (:func:`synthesize`, with
jitter and a penalty on high-frequency energy so the ascent does not settle on pixel noise).
:func:`visualize_units` puts both in one PNG grid.

Robust and non-robust features after Ilyas et al. (2019): :func:`robust_dataset` (D_R) re-synthesises every image
so that a robust model's representation of it is unchanged, keeping only what that model perceives;
:func:`non_robust_dataset` (D_det) moves every image by a targeted attack and relabels it as the target, so its
label agrees with nothing a person sees in it, only with the non-robust features the attack planted.

Layers are given by name, as a ``keras.layers.Layer`` of the model, or ``None`` for the penultimate layer (the
input of the last one). Images are in ``[clip_min, clip_max]``, the library's ``[-1, 1]`` by default.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganapps import _checks, images
from ganapps.attacks import (_check_choice, _check_clip, _check_model, _check_xy, clip_range, input_loss_scale, pgd,
                             projected_ascent)

__all__ = ["activations", "high_frequency_energy", "layer_model", "most_varied_units", "non_robust_dataset",
           "random_direction", "robust_dataset", "synthesize", "top_activating", "visualize_units"]

_STARTS = ("shuffle", "noise")
_TARGETS = ("random", "shift")
_TINY = 1e-12

# model -> {layer key: feature model}; weak so that a dropped model frees its feature models.
_LAYER_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# model -> {settings: tf.function}: the compiled loops, one per settings, with an open batch dimension.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------------------------------------------
# layers


def _resolve_layer(model: keras.Model, layer: Any) -> keras.layers.Layer | None:
    """The model's layer that ``layer`` names (``None`` stays ``None``: the penultimate one)."""
    if layer is None:
        return None
    if isinstance(layer, str):
        for candidate in model.layers:
            if candidate.name == layer:
                return candidate
        names = [candidate.name for candidate in model.layers]
        raise _checks.fail("layer", "the name of one of the model's layers " + _checks.short(names, 200),
                           repr(layer))
    if isinstance(layer, keras.layers.Layer):
        if any(candidate is layer for candidate in model.layers):
            return layer
        raise _checks.fail("layer", f"a layer of the model {model.name!r}", f"layer {layer.name!r} of another model")
    raise _checks.fail("layer", "None, a layer name or a keras Layer of the model", _checks.short(layer))


def layer_model(model: keras.Model, layer: str | keras.layers.Layer | None = None) -> keras.Model:
    """A model from ``model``'s input to ``layer``'s output (``None``: the input of the last layer, the
    representation the classifier's head reads), the ``g`` every function here reads features from.

    Built once per (model, layer) and cached weakly on the model, so repeated calls share it (and the compiled
    loops built on it) and a dropped model frees it.
    """
    if not isinstance(model, keras.Model):
        raise _checks.fail("model", "a keras Model (functional or Sequential)", type(model).__name__)
    resolved = _resolve_layer(model, layer)
    key = None if resolved is None else resolved.name
    per_model = _LAYER_MODELS.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        if resolved is None:
            if len(model.layers) < 2:
                raise ValueError("no penultimate layer")
            output = model.layers[-1].input
            name = f"{model.name}_penultimate"
        else:
            output = resolved.output
            name = f"{model.name}_{resolved.name}"
        feature_model = keras.Model(inputs, output, name=name)
    except (AttributeError, ValueError, TypeError) as error:
        raise _checks.fail("model", "a functional or Sequential keras Model whose layer outputs can be reached",
                           f"{type(model).__name__} {model.name!r} ({error})") from None
    per_model[key] = feature_model
    return feature_model


def _layer_size(feature_model: keras.Model) -> int:
    shape = feature_model.output.shape[1:]
    if any(s is None for s in shape):
        raise _checks.fail("layer", "a layer with a fixed output shape (besides the batch)", repr(tuple(shape)))
    return int(np.prod(shape))


def _check_x(x: Any, model: keras.Model) -> np.ndarray:
    """``x`` as float32, refused unless it is a non-empty batch of samples of the model's input shape."""
    try:
        count = np.shape(x)[:1]
    except ValueError:  # ragged
        count = ()
    x, _ = _check_xy(x, np.zeros(count or (0,), np.int32))  # dummy labels: only x is checked
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and (len(expected) != x.ndim - 1
                                 or any(e is not None and e != s for e, s in zip(expected, x.shape[1:]))):
        raise _checks.fail("x", f"samples of the model's input shape {expected}", f"shape {x.shape}")
    return x


def _features(feature_model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The layer's outputs on ``x``, flattened to ``(n, d)``, in inference mode."""
    out = []
    for start in range(0, len(x), batch_size):
        batch = feature_model(tf.constant(x[start:start + batch_size]), training=False)
        out.append(np.asarray(batch, dtype=np.float32).reshape(len(batch), -1))
    return np.concatenate(out)


def _direction(feature_model: keras.Model, unit: Any, direction: Any) -> np.ndarray:
    """The direction to read off the flattened layer: the ``unit``-th basis vector or ``direction`` itself."""
    size = _layer_size(feature_model)
    if (unit is None) == (direction is None):
        raise _checks.fail("unit", "exactly one of unit or direction", f"unit={unit!r}, direction="
                           + ("None" if direction is None else "an array"))
    if unit is not None:
        if not _checks.is_int(unit) or not 0 <= unit < size:
            raise _checks.fail("unit", f"an integer in [0, {size}) (a unit of the flattened layer)", repr(unit))
        vector = np.zeros(size, np.float32)
        vector[int(unit)] = 1.0
        return vector
    try:
        vector = np.asarray(direction, dtype=np.float32)
    except (TypeError, ValueError):
        raise _checks.fail("direction", "an array of numbers", _checks.short(direction)) from None
    if vector.size != size or not np.all(np.isfinite(vector)) or not np.any(vector):
        raise _checks.fail("direction", f"a finite non-zero vector of the layer's {size} (flattened) values",
                           f"shape {vector.shape}" if vector.size != size else _checks.short(vector))
    return vector.reshape(size)


# --------------------------------------------------------------------------------------------------------------
# feature visualisation


def random_direction(model: keras.Model, layer: str | keras.layers.Layer | None = None, seed: int = 0) -> np.ndarray:
    """A unit vector uniform on the sphere of the layer's flattened space: Szegedy et al.'s control, whose top
    images look as coherent as a single unit's, so units are no more special than random directions."""
    feature_model = layer_model(model, layer)
    seed = _checks.non_negative_int(seed, "seed")
    vector = np.random.default_rng(seed).standard_normal(_layer_size(feature_model))
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def activations(model: keras.Model, x: Any, layer: str | keras.layers.Layer | None = None, unit: int | None = None,
                direction: Any = None, batch_size: int = 256) -> np.ndarray:
    """Per sample, the layer's value at ``unit`` (of the flattened layer) or its projection on ``direction``
    (exactly one of them), shape ``(n,)``: the score images are ranked by."""
    feature_model = layer_model(model, layer)
    vector = _direction(feature_model, unit, direction)
    x = _check_x(x, model)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    features = _features(feature_model, x, batch_size)
    if unit is not None:
        return features[:, int(unit)].copy()
    return features @ vector


def most_varied_units(model: keras.Model, x: Any, layer: str | keras.layers.Layer | None = None, n: int = 8,
                      batch_size: int = 256) -> np.ndarray:
    """The ``n`` units of the (flattened) layer whose activation varies most over ``x``, most varied first: the
    units worth looking at, since a dead ReLU unit's top images are just the first ``k`` of the data."""
    x = _check_x(x, model)
    n = _checks.positive_int(n, "n")
    spread = _features(layer_model(model, layer), x, _checks.positive_int(batch_size, "batch_size")).std(axis=0)
    return np.argsort(-spread, kind="stable")[:n]


def top_activating(model: keras.Model, x: Any, layer: str | keras.layers.Layer | None = None,
                   unit: int | None = None, direction: Any = None, k: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples of ``x`` that activate ``unit`` or ``direction`` most, as (indices, scores) best first
    (ties by index): the dataset half of a feature visualisation."""
    k = _checks.positive_int(k, "k")
    scores = activations(model, x, layer, unit, direction)
    if k > len(scores):
        raise _checks.fail("k", f"at most the {len(scores)} samples of x", repr(k))
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def _high_frequency(x: tf.Tensor) -> tf.Tensor:
    """Per image, the sum of squared differences between vertically and horizontally neighbouring pixels."""
    vertical = tf.reduce_sum(tf.square(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3])
    horizontal = tf.reduce_sum(tf.square(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3])
    return vertical + horizontal


def high_frequency_energy(x: Any) -> np.ndarray:
    """Per image (NHWC), the penalty :func:`synthesize` puts on high frequencies: the squared total variation,
    the sum of squared differences between vertically and horizontally neighbouring pixels."""
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise _checks.fail("x", "an array of numbers", _checks.short(x)) from None
    if x.ndim != 4:
        raise _checks.fail("x", "a batch of images of shape (n, height, width, channels)", f"shape {x.shape}")
    return _high_frequency(tf.constant(x)).numpy()


def _synthesis_loop(model: keras.Model, feature_model: keras.Model, key_layer: str | None,
                    shape: tuple[int, ...], steps: int, jitter: int, clip_min: float | None,
                    clip_max: float | None) -> Callable:
    """The compiled ascent loop for these settings; the direction, step and penalty are inputs, so every unit of
    a layer shares one trace."""
    key = ("synthesize", key_layer, shape, steps, jitter, clip_min, clip_max)
    per_model = _COMPILED.setdefault(model, {})
    if key in per_model:
        return per_model[key]

    def loop(x0: tf.Tensor, vector: tf.Tensor, learning_rate: tf.Tensor, penalty: tf.Tensor,
             seed: tf.Tensor) -> tf.Tensor:
        axes = list(range(1, len(shape) + 1))

        def unit_rms(grad: tf.Tensor) -> tf.Tensor:
            return grad / tf.maximum(tf.sqrt(tf.reduce_mean(tf.square(grad), axis=axes, keepdims=True)), _TINY)

        def body(i: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            shifts = tf.random.stateless_uniform((2,), tf.stack([seed[0], seed[1] + i]), -jitter, jitter + 1,
                                                 dtype=tf.int32, alg="philox")
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x)
                moved = tf.roll(x, shifts, axis=[1, 2]) if jitter else x
                features = tf.reshape(feature_model(moved, training=False), (tf.shape(x)[0], -1))
                score = tf.reduce_sum(tf.linalg.matvec(tf.cast(features, tf.float32), vector))
                energy = tf.reduce_sum(_high_frequency(x))
            ascent, smoothing = unit_rms(tape.gradient(score, x)), unit_rms(tape.gradient(energy, x))
            del tape
            x = x + learning_rate * (ascent - penalty * smoothing)
            return i + 1, clip_range(x, clip_min, clip_max)

        _, x = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x0), maximum_iterations=steps)
        return x

    compiled = tf.function(loop, reduce_retracing=True, autograph=False, input_signature=[
        tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.float32),
        tf.TensorSpec((), tf.float32), tf.TensorSpec((2,), tf.int32)])
    per_model[key] = compiled
    return compiled


def _synthesis_start(feature_model: keras.Model, vector: np.ndarray, shape: tuple[int, ...],
                     clip_min: float | None, clip_max: float | None, seed: int) -> np.ndarray:
    """Small seeded noise around the middle of the clip range, widened (10x at a time, up to the whole range, then
    redrawn) for each sample whose score it leaves exactly 0: a silent ReLU has no gradient, so the ascent would
    never start. A unit silent on every draw keeps its noise."""
    low = -1.0 if clip_min is None else clip_min
    high = 1.0 if clip_max is None else clip_max
    middle, half = (low + high) / 2.0, (high - low) / 2.0
    rng = np.random.default_rng(seed)

    def silent(images: np.ndarray) -> np.ndarray:
        features = np.asarray(feature_model(tf.constant(images), training=False), np.float32)
        return features.reshape(len(images), -1) @ vector == 0

    noise = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    x0 = (middle + 0.01 * half * noise).astype(np.float32)
    for scale in (0.1, 1.0):
        quiet = silent(x0)
        if not quiet.any():
            return x0
        x0[quiet] = middle + scale * half * noise[quiet]
    draws = 32
    for index in np.flatnonzero(silent(x0)):
        candidates = (middle + half * rng.uniform(-1.0, 1.0, (draws, *shape[1:]))).astype(np.float32)
        awake = np.flatnonzero(~silent(candidates))
        if awake.size:
            x0[index] = candidates[awake[0]]
    return x0


def synthesize(model: keras.Model, layer: str | keras.layers.Layer | None = None, unit: int | None = None,
               direction: Any = None, shape: Sequence[int] | None = None, n: int = 1, steps: int = 200,
               learning_rate: float = 0.05, jitter: int = 1, frequency_penalty: float = 0.3,
               clip_min: float | None = -1.0, clip_max: float | None = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` images that maximise ``unit`` or ``direction`` of ``layer``: the synthetic half of a feature
    visualisation, what the unit would most like to see rather than what the data offers it.

    From small seeded noise (wider where it leaves the unit silent), each of ``steps`` steps rolls the image by
    up to ``jitter`` pixels (so no single pixel alignment is rewarded), moves ``learning_rate`` per pixel along
    the activation's gradient minus ``frequency_penalty`` times the gradient of the high-frequency energy
    (:func:`high_frequency_energy`), each first scaled to unit root-mean-square so neither term's scale matters,
    and clips to ``[clip_min, clip_max]``. With ``frequency_penalty < 1`` every step raises the activation to
    first order, so the penalty smooths the image without silencing a weakly driven unit. One compiled loop per
    (layer, shape, steps, jitter, clip range).

    Args:
        model: a functional or Sequential classifier.
        layer: the layer's name, the layer, or ``None`` for the penultimate one.
        unit, direction: what to maximise; exactly one of them (see :func:`activations`).
        shape: one image's shape; ``None`` for the model's input shape.
        n: images to synthesise, each from its own noise.
        steps: ascent steps.
        learning_rate: the root-mean-square step per pixel.
        jitter: the largest roll in pixels per step (0: none).
        frequency_penalty: the weight of the smoothing direction against the ascent one (0: none).
        clip_min, clip_max: the valid input range, ``None`` for unbounded.
        seed: seeds the start noise and the jitter.
    """
    feature_model = layer_model(model, layer)
    vector = _direction(feature_model, unit, direction)
    if shape is None:
        shape = tuple(model.inputs[0].shape[1:])
    if not isinstance(shape, Sequence) or not all(_checks.is_int(s) and s > 0 for s in shape):
        raise _checks.fail("shape", "one sample's shape of positive integers (None: the model's input shape)",
                           repr(shape))
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise _checks.fail("shape", "an image shape (height, width, channels)", repr(shape))
    n = _checks.positive_int(n, "n")
    steps = _checks.positive_int(steps, "steps")
    learning_rate = _checks.positive_float(learning_rate, "learning_rate")
    jitter = _checks.non_negative_int(jitter, "jitter")
    frequency_penalty = _checks.finite_non_negative(frequency_penalty, "frequency_penalty")
    clip_min, clip_max = _check_clip(clip_min, clip_max)
    seed = _checks.non_negative_int(seed, "seed")
    x0 = _synthesis_start(feature_model, vector, (n, *shape), clip_min, clip_max, seed)
    loop = _synthesis_loop(model, feature_model, None if layer is None else feature_model.name, shape, steps,
                           jitter, clip_min, clip_max)
    out = loop(tf.constant(x0), tf.constant(vector), tf.constant(learning_rate, tf.float32),
               tf.constant(frequency_penalty, tf.float32), tf.constant([seed % (2 ** 31 - 1), 0], tf.int32))
    return out.numpy()


def visualize_units(model: keras.Model, x: Any, path: str | os.PathLike,
                    layer: str | keras.layers.Layer | None = None, units: Sequence[int] = tuple(range(8)),
                    k: int = 8, synthesize_too: bool = True, steps: int = 200, seed: int = 0) -> Path:
    """One PNG to look at a layer by: per unit a row of its ``k`` top-activating images of ``x``, best first,
    then (with ``synthesize_too``) the image :func:`synthesize` makes for it. Images are read as ``[-1, 1]``."""
    if not isinstance(units, Sequence) or len(units) == 0 or not all(_checks.is_int(u) for u in units):
        raise _checks.fail("units", "a non-empty sequence of unit indices", _checks.short(units))
    if not isinstance(synthesize_too, (bool, np.bool_)):
        raise _checks.fail("synthesize_too", "True or False", repr(synthesize_too))
    x = _check_x(x, model)
    k = _checks.positive_int(k, "k")
    if Path(path).suffix.lower() != ".png":
        raise _checks.fail("path", "a file name ending in .png", repr(str(path)))
    rows = []
    for unit in units:
        indices, _ = top_activating(model, x, layer, unit=unit, k=k)
        row = [x[indices]]
        if synthesize_too:
            row.append(synthesize(model, layer, unit=unit, shape=x.shape[1:], steps=steps, seed=seed))
        rows.append(np.concatenate(row))
    return images.save_grid(np.concatenate(rows), path, nrow=k + int(bool(synthesize_too)))


# --------------------------------------------------------------------------------------------------------------
# robust and non-robust datasets (Ilyas et al. 2019)


def _robust_loop(model: keras.Model, feature_model: keras.Model, key_layer: str | None, sample_shape: tuple,
                 steps: int, clip_min: float | None, clip_max: float | None, jit_compile: bool) -> Callable:
    """The compiled representation-matching loop for these settings (batch dimension open)."""
    key = ("robust_dataset", key_layer, sample_shape, steps, clip_min, clip_max, jit_compile)
    per_model = _COMPILED.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    loss_scale = input_loss_scale(model)

    def loop(start: tf.Tensor, target: tf.Tensor, step_size: tf.Tensor) -> tf.Tensor:
        def objective(x: tf.Tensor) -> tf.Tensor:
            features = tf.reshape(feature_model(x, training=False), (tf.shape(x)[0], -1))
            return -tf.reduce_sum(tf.square(tf.cast(features, tf.float32) - target))

        # an unbounded L2 ball: normalised gradient steps, kept only in the clip range
        return projected_ascent(objective, start, start, np.float32(np.inf), step_size, steps, "l2", clip_min,
                                clip_max, loss_scale)

    compiled = tf.function(loop, jit_compile=jit_compile, reduce_retracing=True, autograph=False, input_signature=[
        tf.TensorSpec((None, *sample_shape), tf.float32),
        tf.TensorSpec((None, _layer_size(feature_model)), tf.float32), tf.TensorSpec((), tf.float32)])
    per_model[key] = compiled
    return compiled


def _robust_start(x: np.ndarray, start: str, clip_min: float | None, clip_max: float | None,
                  rng: np.random.Generator) -> np.ndarray:
    if start == "noise":
        if clip_min is None or clip_max is None:
            raise _checks.fail("start", "'shuffle' when the clip range is unbounded ('noise' is uniform in it)",
                               repr(start))
        return rng.uniform(clip_min, clip_max, x.shape).astype(np.float32)
    if len(x) < 2:
        raise _checks.fail("x", "at least 2 samples for start='shuffle' (each starts from another one)",
                           f"{len(x)} sample")
    # one random cycle through all samples: every sample starts from a different image, never itself
    order = rng.permutation(len(x))
    source = np.empty(len(x), np.int64)
    source[order] = np.roll(order, -1)
    return x[source].copy()


def robust_dataset(robust_model: keras.Model, x: Any, layer: str | keras.layers.Layer | None = None,
                   start: str = "shuffle", steps: int = 200, step_size: float = 0.1, clip_min: float | None = -1.0,
                   clip_max: float | None = 1.0, seed: int = 0, batch_size: int = 256,
                   jit_compile: bool = False) -> np.ndarray:
    """Ilyas et al.'s D_R: each image of ``x`` re-synthesised from an unrelated start so that ``robust_model``'s
    representation ``g`` (the output of ``layer``) of it matches that of the original. What survives is what a
    robust model perceives, so a standard classifier trained on ``(robust_dataset(...), y)`` picks up robustness.

    From another image of ``x`` (``start="shuffle"``: a seeded random cycle, no image starts from itself) or
    uniform noise in the clip range (``"noise"``), ``steps`` gradient steps of L2 length ``step_size`` minimise
    ``||g(x_r) - g(x)||_2``, each clipped to ``[clip_min, clip_max]``. One compiled loop per settings serves every
    batch. Returns the images; the labels stay those of ``x``.
    """
    robust_model = _check_model(robust_model, "robust_model")
    feature_model = layer_model(robust_model, layer)
    x = _check_x(x, robust_model)
    start = _check_choice(start, _STARTS, "start")
    steps = _checks.positive_int(steps, "steps")
    step_size = _checks.positive_float(step_size, "step_size")
    clip_min, clip_max = _check_clip(clip_min, clip_max)
    seed = _checks.non_negative_int(seed, "seed")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    if not isinstance(jit_compile, (bool, np.bool_)):
        raise _checks.fail("jit_compile", "True or False", repr(jit_compile))
    starts = _robust_start(x, start, clip_min, clip_max, np.random.default_rng(seed))
    targets = _features(feature_model, x, batch_size)
    loop = _robust_loop(robust_model, feature_model, None if layer is None else feature_model.name, x.shape[1:],
                        steps, clip_min, clip_max, bool(jit_compile))
    out = np.empty_like(x)
    for begin in range(0, len(x), batch_size):
        end = begin + batch_size
        out[begin:end] = loop(tf.constant(starts[begin:end]), tf.constant(targets[begin:end]),
                              tf.constant(step_size, tf.float32)).numpy()
    return out


def _num_classes(model: keras.Model, x: np.ndarray, num_classes: Any) -> int:
    if num_classes is None:
        shape = getattr(model, "outputs", None) and model.outputs[0].shape
        num_classes = shape[-1] if shape and shape[-1] is not None else np.asarray(model(x[:1])).shape[-1]
    if not _checks.is_int(num_classes) or num_classes < 2:
        raise _checks.fail("num_classes", "an integer of at least 2 (None: the model's output width)",
                           repr(num_classes))
    return int(num_classes)


def non_robust_dataset(model: keras.Model, x: Any, y: Any, eps: float, steps: int = 20,
                       step_size: float | None = None, norm: str = "linf", target: str = "shift",
                       num_classes: int | None = None, clip_min: float | None = -1.0, clip_max: float | None = 1.0,
                       seed: int = 0, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Ilyas et al.'s D_det: each image moved by a targeted :func:`ganapps.attacks.pgd` toward a class ``t != y``
    and relabelled ``t``. To a person the pairs look mislabelled; that a classifier trained on them still scores
    well above chance on the real test set shows the attack's non-robust features generalise.

    ``target="shift"`` takes ``t = (y + 1) % C``: Ilyas et al.'s D_det, where the robust features (those of
    ``y``) point consistently to the wrong label, so only the planted non-robust features can explain the labels.
    ``"random"`` draws ``t`` uniformly from the other classes (seeded): their D_rand, where the robust features
    are merely uninformative.
    The attack settings are :func:`ganapps.attacks.pgd`'s. Returns ``(x_adv, t)``.
    """
    model = _check_model(model)
    x, y = _check_xy(x, y)
    target = _check_choice(target, _TARGETS, "target")
    seed = _checks.non_negative_int(seed, "seed")
    classes = _num_classes(model, x, num_classes)
    if y.min() < 0 or y.max() >= classes:
        raise _checks.fail("y", f"labels in [0, {classes})", f"labels in [{y.min()}, {y.max()}]")
    if target == "shift":
        t = (y + 1) % classes
    else:
        t = (y + np.random.default_rng(seed).integers(1, classes, len(y))) % classes
    t = t.astype(np.int32)
    x_adv = pgd(model, x, t, eps, step_size=step_size, steps=steps, norm=norm, targeted=True, clip_min=clip_min,
                clip_max=clip_max, seed=seed, batch_size=batch_size)
    return x_adv, t
