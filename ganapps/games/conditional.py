"""Conditional games: ConditionalGAN (Mirza & Osindero 2014), ACGAN (Odena et al. 2017), InfoGAN (Chen et al. 2016).

All three generators take ``[z, condition]``, where the condition is a vector: a one-hot class, an attribute
vector, or InfoGAN's latent codes. They differ in how the discriminator uses it:

* :class:`ConditionalGAN`: the discriminator takes ``[x, condition]`` and judges the pair (a projection
  discriminator is the builder default, :func:`ganapps.nets.conditional_discriminator`).
* :class:`ACGAN`: the discriminator takes x alone and also predicts its class; both players add the class
  cross-entropy (D on real and fake, G on fake).
* :class:`InfoGAN`: the data has no labels; the generator's codes are drawn from a prior and a Q head on the
  discriminator's trunk recovers them from G's output. Both players minimise that reconstruction loss, a lower
  bound on the mutual information between codes and samples, so the codes come to control factors of the data.

Fake conditions during training (ConditionalGAN, ACGAN) are, by default, a shuffled copy of the real batch's
conditions (``fake_labels="shuffle"``): fakes then follow the data's label distribution (class imbalance
included) and it works for attribute vectors, which have no "uniform" draw. ``fake_labels="uniform"`` draws
class ids uniformly instead. Under ``tf.distribute`` each replica shuffles its own slice of the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganapps import _checks, latent, runtime
from ganapps.games.gan import GAN, _check_models, _check_sample_input, _fmt, _latent_size
from ganapps.nets.conditional import check_codes

__all__ = ["ConditionalGAN", "ACGAN", "InfoGAN", "categorical_purity"]

_FAKE_LABELS = ("shuffle", "uniform")


def _latent_dim_of(latent_dim, generator: keras.Model, second: str) -> int:
    """latent_dim from (or checked against) the first input of a ``[z, <second>]`` generator."""
    shapes = generator.input_shape
    if not isinstance(shapes, list) or len(shapes) != 2 or any(len(s) != 2 for s in shapes):
        raise ValueError(f"generator: expected two vector inputs [z, {second}] of shapes (batch, latent_dim) and "
                         f"(batch, {second}_dim); got inputs of shape {shapes}")
    return _latent_size(latent_dim, shapes[0][-1])


def _output_shapes(model: keras.Model) -> list:
    shapes = model.output_shape
    return shapes if isinstance(shapes, list) else [shapes]


def _one_hot_cycle(batch, num_classes: int):
    """Class ids 0, 1, ..., K-1, 0, ... one-hot: a fixed, readable condition for sample grids."""
    return ops.one_hot(ops.mod(ops.arange(batch), num_classes), num_classes)


def _cross_entropy(one_hot, logits):
    return ops.mean(ops.categorical_crossentropy(one_hot, ops.cast(logits, "float32"), from_logits=True))


def _accuracy(one_hot, logits):
    hits = ops.equal(ops.argmax(logits, axis=-1), ops.argmax(one_hot, axis=-1))
    return ops.mean(ops.cast(hits, "float32"))


class _ExportsConditioning:
    """Mixin for games whose generator takes a condition vector described by their ``conditioning``."""

    def export_metadata(self) -> dict[str, Any]:
        """Keys for an export's ``metadata.json``, so the runner can build the condition input from labels or
        codes. :func:`ganapps.export.export_generator` calls this hook itself: there is nothing to pass."""
        return {"conditioning": self.conditioning}


@keras.saving.register_keras_serializable(package="ganapps")
class ConditionalGAN(_ExportsConditioning, GAN):
    """A GAN whose players both see a condition: class labels or attribute vectors (Mirza & Osindero 2014).

    The data yields ``(samples, labels)``: ``fit(images, labels)`` or a dataset of pairs (e.g.
    ``data.load("digits", with_labels=True)``).

    Args:
        generator: a ``keras.Model`` of ``[z, condition]`` (see :func:`ganapps.nets.conditional_generator`).
        discriminator: a ``keras.Model`` of ``[x, condition]`` returning logits (see
            :func:`ganapps.nets.conditional_discriminator`).
        num_classes: for integer class ids: the number of classes (labels are one-hot encoded inside).
        condition_dim: for real-valued attribute vectors ``(batch, k)``: k (leave ``num_classes`` None).
        latent_dim: size of z; inferred from the generator when None.
        fake_labels: how the training step conditions its fakes: "shuffle" (a shuffled copy of the real batch's
            labels; keeps the label distribution, works for attributes) or "uniform" (uniform class ids).
        **kwargs: the :class:`~ganapps.games.gan.GAN` options (loss, d_steps, penalties, ema, augment,
            label_smoothing, seed). Penalties are taken on the real batch's conditions.
    """

    _second_input = "condition"

    def __init__(self, generator: keras.Model, discriminator: keras.Model, num_classes: int | None = None,
                 condition_dim: int | None = None, latent_dim: int | None = None, fake_labels: str = "shuffle",
                 **kwargs):
        super().__init__(generator, discriminator, latent_dim=latent_dim, **kwargs)
        self.num_classes, self.condition_dim = self._check_condition(num_classes, condition_dim)
        if fake_labels not in _FAKE_LABELS:
            raise ValueError(f"fake_labels: expected one of {_FAKE_LABELS}; got {fake_labels!r}")
        if fake_labels == "uniform" and self.num_classes is None:
            raise ValueError("fake_labels: expected 'shuffle' for attribute vectors (they have no uniform "
                             "draw); got 'uniform'")
        self.fake_labels = fake_labels
        self._check_condition_networks()

    # -- checks ------------------------------------------------------------------------------------------
    _check_networks = staticmethod(_check_models)  # the shapes are checked once the condition is known

    def _check_latent_dim(self, latent_dim, generator) -> int:
        return _latent_dim_of(latent_dim, generator, self._second_input)

    @staticmethod
    def _check_condition(num_classes, condition_dim) -> tuple[int | None, int]:
        if num_classes is None and condition_dim is None:
            raise ValueError("num_classes: expected the number of classes (integer labels), or condition_dim for "
                             "attribute vectors; got neither")
        if num_classes is None:
            return None, _checks.positive_int(condition_dim, "condition_dim")
        num_classes = _checks.positive_int(num_classes, "num_classes")
        if num_classes < 2:
            raise ValueError(f"num_classes: expected at least 2 classes; got {num_classes}")
        if condition_dim is not None and condition_dim != num_classes:
            raise ValueError(f"condition_dim: expected None or num_classes ({num_classes}), since class ids are "
                             f"one-hot encoded; got {condition_dim!r}")
        return num_classes, num_classes

    def _check_generator_condition(self) -> None:
        width = self.generator.input_shape[1][-1]
        if width is not None and width != self.condition_dim:
            raise ValueError(f"generator: expected a {self._second_input} input of size {self.condition_dim} "
                             f"({self._describe_condition()}); got one of size {width}")

    def _check_condition_networks(self) -> None:
        self._check_generator_condition()
        shapes = self.discriminator.input_shape
        if not isinstance(shapes, list) or len(shapes) != 2:
            raise ValueError(f"discriminator: expected two inputs [x, condition] (e.g. "
                             f"ganapps.nets.conditional_discriminator); got inputs of shape {shapes}")
        _check_sample_input(self.generator, shapes[0])
        if len(shapes[1]) != 2 or shapes[1][-1] not in (None, self.condition_dim):
            raise ValueError(f"discriminator: expected a condition input of shape (batch, {self.condition_dim}); "
                             f"got {_fmt(tuple(shapes[1]))}")
        if len(_output_shapes(self.discriminator)) != 1:
            raise ValueError(f"discriminator: expected one output (the logits); got "
                             f"{len(_output_shapes(self.discriminator))}")

    def _describe_condition(self) -> str:
        if self.num_classes is not None:
            return f"one-hot labels of {self.num_classes} classes"
        return f"attribute vectors of size {self.condition_dim}"

    def _check_data(self, x, y) -> None:
        super()._check_data(x, y)
        if isinstance(x, tf.data.Dataset):
            first = next(iter(x.take(1)))
            if not isinstance(first, (tuple, list)) or len(first) < 2:
                raise ValueError("x: expected a dataset of (samples, labels) pairs for a conditional game (e.g. "
                                 "data.load(..., with_labels=True)); got a dataset of samples alone")
            self._check_labels(first[1], len(first[0]), "x")
        elif x is not None and not hasattr(x, "__next__") and not isinstance(x, keras.utils.PyDataset):
            if y is None:
                raise ValueError(f"y: expected the labels of x ({self._label_format()}); got None")
            self._check_labels(y, len(x), "y")

    def _label_format(self) -> str:
        if self.num_classes is not None:
            return f"class ids in [0, {self.num_classes}), one per sample"
        return f"attribute vectors of shape (n, {self.condition_dim})"

    def _check_labels(self, labels, n: int, argument: str) -> None:
        labels = np.asarray(labels)
        if self.num_classes is not None:
            runtime._class_ids(labels, n, self.num_classes, argument, allow_vectors=True, broadcast=False)
            return
        if labels.shape != (n, self.condition_dim):
            raise ValueError(f"{argument}: expected attribute vectors of shape ({n}, {self.condition_dim}), one per "
                             f"sample; got shape {labels.shape}")
        if labels.dtype.kind not in "iuf" or not np.isfinite(labels.astype(np.float64)).all():
            raise ValueError(f"{argument}: expected finite numeric attribute vectors; got dtype {labels.dtype} "
                             f"with non-finite or non-numeric values")

    # -- conditions --------------------------------------------------------------------------------------
    @property
    def conditioning(self) -> dict[str, Any]:
        """How a condition vector is made from labels; exports record it (see :mod:`ganapps.runtime`)."""
        if self.num_classes is not None:
            return {"kind": "class", "num_classes": self.num_classes, "condition_dim": self.condition_dim,
                    "encoding": "one_hot", "input": self.generator.inputs[1].name}
        return {"kind": "attributes", "condition_dim": self.condition_dim, "input": self.generator.inputs[1].name}

    def condition_vector(self, labels):
        """In-graph: class ids ``(batch,)``/``(batch, 1)`` (or ``(batch, K)`` class vectors) to one-hot float32;
        attribute vectors cast to float32."""
        labels = ops.convert_to_tensor(labels)
        if self.num_classes is None:
            return ops.cast(labels, "float32")
        if len(labels.shape) == 2 and labels.shape[-1] == self.num_classes:
            return ops.cast(labels, "float32")
        ids = ops.reshape(ops.cast(labels, "int32"), (-1,))
        return ops.one_hot(ids, self.num_classes)

    def _unpack(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("x: expected (samples, labels) batches for a conditional game: fit(x, labels) or a "
                             "dataset of pairs; got samples alone")
        return data[0], self.condition_vector(data[1])

    def _fake_conditions(self, condition, batch):
        if self.fake_labels == "uniform":
            def draw(n):
                return keras.random.randint((n,), 0, self.num_classes, seed=self.seed_generator)
            return ops.one_hot(self._replica_draw(draw, batch), self.num_classes)
        order = ops.argsort(keras.random.uniform((batch,), seed=self.seed_generator))
        return ops.take(condition, order, axis=0)

    def _generate_batch(self, batch, condition):
        fake_condition = self._fake_conditions(condition, batch)
        z = self._replica_draw(self.sample_latents, batch)
        return self.generator([z, fake_condition], training=True), fake_condition

    def _d_outputs(self, x, condition):
        if self.augment is not None:
            x = self.augment(x, training=True)
        return self.discriminator([x, condition], training=True), None

    def _penalty_critic(self, condition):
        def critic(x, training: bool = True):
            return self.discriminator([x, condition], training=training)
        return critic

    # -- sampling ----------------------------------------------------------------------------------------
    def call(self, inputs, training: bool = False):
        """Generate from ``[z, labels]``, or from ``z`` alone with classes cycling 0, 1, ..., K-1 (what a
        :class:`ganapps.callbacks.SampleGrid` shows)."""
        if isinstance(inputs, (list, tuple)):
            z, labels = inputs
            condition = self.condition_vector(labels)
        elif self.num_classes is not None:
            z = inputs
            condition = _one_hot_cycle(ops.shape(z)[0], self.num_classes)
        else:
            raise ValueError("inputs: expected [z, attribute_vectors] for a game conditioned on attributes; "
                             "got z alone")
        net = self.generator if training else self.inference_generator
        return net([z, condition], training=training)

    def generate(self, n: int, labels: Any = None, seed: int | None = None, truncation: float | None = None,
                 batch_size: int = 256) -> np.ndarray:
        """Generate ``n`` samples of the given labels as a NumPy array.

        Args:
            n: number of samples.
            labels: class ids (an int for all ``n``, or ``n`` of them; None cycles through the classes) or
                attribute vectors (``(n, k)``, or one ``(k,)`` for all).
            seed: an int for reproducible latents (the same as ``ganapps.export.load(dir).sample``'s).
            truncation: None, or the truncation threshold in standard deviations.
            batch_size: samples per forward pass.
        """
        z = latent.sample_normal(n, self.latent_dim, seed=seed, truncation=truncation)
        condition = runtime.condition_vectors(n, labels, self.conditioning, seed=seed, argument="labels")
        return self._predict([z, condition], batch_size)

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "condition_dim": self.condition_dim,
                       "fake_labels": self.fake_labels})
        return config


@keras.saving.register_keras_serializable(package="ganapps")
class ACGAN(ConditionalGAN):
    """Auxiliary-classifier GAN (Odena et al. 2017): the discriminator sees x alone and also classifies it.

    Both players add ``class_weight`` times the class cross-entropy: the discriminator on real and fake data, the
    generator on its fakes (with the labels it was asked for). Metrics add ``d_class_loss``, ``g_class_loss``
    and ``d_class_accuracy`` (on the real batch).

    Args:
        generator: a ``keras.Model`` of ``[z, condition]`` (one-hot labels).
        discriminator: a ``keras.Model`` of x returning ``[logits, class_logits]`` (see
            :func:`ganapps.nets.acgan_discriminator`).
        num_classes: number of classes; the data's labels are class ids in [0, num_classes).
        class_weight: weight of the class cross-entropy in both players' losses.
        **kwargs: as for :class:`ConditionalGAN` (latent_dim, fake_labels) and the GAN options.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, num_classes: int,
                 class_weight: float = 1.0, **kwargs):
        kwargs.pop("condition_dim", None)  # a saved config carries it; it is num_classes here
        if num_classes is None:
            raise ValueError("num_classes: expected the number of classes (ACGAN classifies integer labels); "
                             "got None")
        class_weight = _checks.non_negative(class_weight, "class_weight")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)
        self.class_weight = class_weight
        self.d_class_loss_tracker = keras.metrics.Mean(name="d_class_loss")
        self.g_class_loss_tracker = keras.metrics.Mean(name="g_class_loss")
        self.d_class_accuracy_tracker = keras.metrics.Mean(name="d_class_accuracy")

    def _check_condition_networks(self) -> None:
        self._check_generator_condition()
        shapes = self.discriminator.input_shape
        if isinstance(shapes, list):
            raise ValueError(f"discriminator: expected one input (samples; an ACGAN discriminator does not take "
                             f"the labels); got inputs of shape {shapes}")
        _check_sample_input(self.generator, shapes)
        outputs = _output_shapes(self.discriminator)
        if len(outputs) != 2 or outputs[1][-1] != self.num_classes:
            raise ValueError(f"discriminator: expected two outputs [logits, class_logits (batch, "
                             f"{self.num_classes})] (e.g. ganapps.nets.acgan_discriminator); got outputs of shape "
                             f"{outputs}")

    @property
    def metrics(self) -> list:
        return super().metrics + [self.d_class_loss_tracker, self.g_class_loss_tracker,
                                  self.d_class_accuracy_tracker]

    def _d_outputs(self, x, condition):
        logits, class_logits = self._discriminate(x)
        return logits, class_logits

    def _penalty_critic(self, condition):
        def critic(x, training: bool = True):
            return self.discriminator(x, training=training)[0]
        return critic

    def _d_auxiliary_loss(self, real_aux, fake_aux, condition, fake_condition):
        class_loss = _cross_entropy(condition, real_aux) + _cross_entropy(fake_condition, fake_aux)
        metrics = [(self.d_class_loss_tracker, class_loss),
                   (self.d_class_accuracy_tracker, _accuracy(condition, real_aux))]
        return self.class_weight * class_loss, metrics

    def _g_auxiliary_loss(self, fake_aux, fake_condition):
        class_loss = _cross_entropy(fake_condition, fake_aux)
        return self.class_weight * class_loss, [(self.g_class_loss_tracker, class_loss)]

    def classify(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The discriminator's class predictions (ids) for samples ``x``."""
        batch_size = _checks.positive_int(batch_size, "batch_size")
        x = np.asarray(x, dtype=np.float32)
        logits = [ops.convert_to_numpy(self.discriminator(x[i:i + batch_size], training=False)[1])
                  for i in range(0, len(x), batch_size)]
        return np.concatenate(logits).argmax(axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("condition_dim")
        config["class_weight"] = self.class_weight
        return config


@keras.saving.register_keras_serializable(package="ganapps")
class InfoGAN(_ExportsConditioning, GAN):
    """InfoGAN (Chen et al. 2016): latent codes that a Q head must recover from the generator's output.

    The generator takes ``[z, codes]``; codes are the one-hot categorical codes followed by the continuous
    ones, drawn uniformly (categories; [-1, 1] for continuous). The discriminator returns
    ``[logits, code_0_logits, ..., continuous_means]``: its trunk is shared with Q, so Q trains with D's
    variables. ``L_I`` = categorical cross-entropy + Gaussian NLL (unit variance, constants dropped:
    ``0.5 (c - mu)^2`` per continuous code) on generated samples; both players minimise ``info_weight * L_I``
    with their adversarial loss. Metrics add ``info_loss`` and ``info_accuracy`` (Q's accuracy on the
    categorical codes of the fakes). Labels in the data, if any, are ignored.

    Args:
        generator: a ``keras.Model`` of ``[z, codes]`` with codes of width ``sum(categorical_codes) +
            continuous_codes`` (see :func:`ganapps.nets.conditional_generator` with
            :func:`ganapps.nets.infogan_code_dim`).
        discriminator: see :func:`ganapps.nets.infogan_discriminator`.
        categorical_codes: category counts of the categorical codes (e.g. [10] for MNIST's digit identity).
        continuous_codes: number of continuous codes.
        info_weight: lambda, the weight of ``L_I``.
        **kwargs: the :class:`~ganapps.games.gan.GAN` options.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 categorical_codes: Sequence[int] = (10,), continuous_codes: int = 0, info_weight: float = 1.0,
                 latent_dim: int | None = None, **kwargs):
        categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
        super().__init__(generator, discriminator, latent_dim=latent_dim, **kwargs)
        self.categorical_codes = categorical_codes
        self.continuous_codes = continuous_codes
        self.info_weight = _checks.non_negative(info_weight, "info_weight")
        self.code_dim = sum(categorical_codes) + continuous_codes
        self._check_code_networks()
        self.info_loss_tracker = keras.metrics.Mean(name="info_loss")
        self.info_accuracy_tracker = keras.metrics.Mean(name="info_accuracy")

    def _check_latent_dim(self, latent_dim, generator) -> int:
        return _latent_dim_of(latent_dim, generator, "codes")

    def _check_code_networks(self) -> None:
        width = self.generator.input_shape[1][-1]
        if width is not None and width != self.code_dim:
            raise ValueError(f"generator: expected a codes input of size {self.code_dim} (categorical "
                             f"{list(self.categorical_codes)} one-hot, then {self.continuous_codes} continuous); "
                             f"got one of size {width}")
        want = [1] + list(self.categorical_codes) + ([self.continuous_codes] if self.continuous_codes else [])
        got = [s[-1] for s in _output_shapes(self.discriminator)]
        if got != want:
            raise ValueError(f"discriminator: expected outputs of widths {want} ([logits, one set of logits per "
                             f"categorical code, continuous means]; e.g. ganapps.nets.infogan_discriminator); got "
                             f"widths {got}")

    @property
    def metrics(self) -> list:
        return super().metrics + [self.info_loss_tracker, self.info_accuracy_tracker]

    @property
    def conditioning(self) -> dict[str, Any]:
        """The code layout; exports record it so the runner can build codes (see :mod:`ganapps.runtime`)."""
        return {"kind": "info_codes", "categorical_codes": list(self.categorical_codes),
                "continuous_codes": self.continuous_codes, "condition_dim": self.code_dim,
                "continuous_prior": "uniform(-1, 1)", "input": self.generator.inputs[1].name}

    # -- the game ----------------------------------------------------------------------------------------
    def sample_codes(self, n: Any, seed: int | keras.random.SeedGenerator | None = None) -> Any:
        """Draw ``n`` code vectors from their prior in-graph: from the game's seed stream when ``seed`` is None,
        else from a stream started at ``seed`` (an int, or a ``keras.random.SeedGenerator``).

        An int is wrapped in a ``SeedGenerator`` first: passed as it is to every draw, it would give two
        categorical codes of one size the same values, and the continuous codes values tied to them.
        """
        if seed is None:
            seed = self.seed_generator
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seed = keras.random.SeedGenerator(int(seed))
        parts = [ops.one_hot(keras.random.randint((n,), 0, k, seed=seed), k) for k in self.categorical_codes]
        if self.continuous_codes:
            parts.append(keras.random.uniform((n, self.continuous_codes), -1.0, 1.0, seed=seed))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def _generate_batch(self, batch, condition):
        del condition
        codes = self._replica_draw(self.sample_codes, batch)
        z = self._replica_draw(self.sample_latents, batch)
        return self.generator([z, codes], training=True), codes

    def _d_outputs(self, x, condition):
        outputs = self._discriminate(x)
        return outputs[0], list(outputs[1:])

    def _penalty_critic(self, condition):
        def critic(x, training: bool = True):
            return self.discriminator(x, training=training)[0]
        return critic

    def info_loss(self, q_outputs: list, codes) -> tuple[Any, Any]:
        """(L_I, accuracy on the categorical codes) of Q's outputs against the codes G was given."""
        total, hits, start = 0.0, [], 0
        for k, logits in zip(self.categorical_codes, q_outputs):
            target = codes[:, start:start + k]
            total = total + _cross_entropy(target, logits)
            hits.append(_accuracy(target, logits))
            start += k
        if self.continuous_codes:
            means = ops.cast(q_outputs[-1], "float32")
            nll = 0.5 * ops.sum(ops.square(codes[:, start:] - means), axis=-1)
            total = total + ops.mean(nll)
        accuracy = ops.mean(ops.stack(hits)) if hits else ops.convert_to_tensor(0.0)
        return total, accuracy

    def _d_auxiliary_loss(self, real_aux, fake_aux, condition, fake_condition):
        loss, accuracy = self.info_loss(fake_aux, fake_condition)
        return self.info_weight * loss, [(self.info_loss_tracker, loss), (self.info_accuracy_tracker, accuracy)]

    def _g_auxiliary_loss(self, fake_aux, fake_condition):
        loss, _ = self.info_loss(fake_aux, fake_condition)
        return self.info_weight * loss, []

    # -- sampling ----------------------------------------------------------------------------------------
    def call(self, inputs, training: bool = False):
        """Generate from ``[z, codes]``, or from ``z`` alone with each categorical code cycling through its
        values and the continuous codes at 0 (a fixed, readable choice for sample grids)."""
        if isinstance(inputs, (list, tuple)):
            z, codes = inputs
        else:
            z = inputs
            batch = ops.shape(z)[0]
            parts = [_one_hot_cycle(batch, k) for k in self.categorical_codes]
            if self.continuous_codes:
                parts.append(ops.zeros((batch, self.continuous_codes)))
            codes = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        net = self.generator if training else self.inference_generator
        return net([z, ops.cast(codes, "float32")], training=training)

    def generate(self, n: int, codes: Any = None, seed: int | None = None, truncation: float | None = None,
                 batch_size: int = 256) -> np.ndarray:
        """Generate ``n`` samples as a NumPy array.

        Args:
            n: number of samples.
            codes: None (all codes from their prior), a dict ``{code index: value}`` fixing some codes (indices
                count the categorical codes first, then the continuous ones; a value is one category id /
                number for all samples, or ``n`` of them; the rest are drawn), or code vectors ``(n, code_dim)``.
            seed: an int for reproducible latents and drawn codes (as ``ganapps.export.load(dir).sample``).
            truncation: None, or the truncation threshold of z in standard deviations.
            batch_size: samples per forward pass.
        """
        z = latent.sample_normal(n, self.latent_dim, seed=seed, truncation=truncation)
        code_vectors = runtime.condition_vectors(n, codes, self.conditioning, seed=seed, argument="codes")
        return self._predict([z, code_vectors], batch_size)

    def code_grid(self, code_index: int, columns: int = 8, values: Sequence[float] | None = None, seed: int = 0,
                  truncation: float | None = None, batch_size: int = 256) -> np.ndarray:
        """Samples that vary one code at a time: row r sets the code to ``values[r]``, column c keeps one z and
        one draw of the other codes. Returned row by row, ``(rows * columns, ...)``, ready for
        ``ganapps.images.save_grid(images, path, nrow=columns)`` (or use :meth:`save_code_grid`).

        Args:
            code_index: which code (categorical codes first, then continuous).
            columns: number of different z (and other-code draws).
            values: the code's values per row; default every category, or -2..2 in 5 steps for a continuous
                code (beyond its [-1, 1] prior, to show extrapolation as the paper does).
            seed: seed of z and the other codes.
        """
        layout = runtime.code_layout(self.categorical_codes, self.continuous_codes)
        if isinstance(code_index, bool) or not isinstance(code_index, (int, np.integer)) \
                or not 0 <= code_index < len(layout):
            raise ValueError(f"code_index: expected an index in [0, {len(layout)}) (categorical codes first, "
                             f"then continuous); got {code_index!r}")
        columns = _checks.positive_int(columns, "columns")
        kind, start, size = layout[code_index]
        if values is None:
            values = range(size) if kind == "categorical" else np.linspace(-2.0, 2.0, 5)
        values = list(values)
        if not values:
            raise ValueError("values: expected at least one value of the code; got none")
        z = latent.sample_normal(columns, self.latent_dim, seed=seed, truncation=truncation)
        base = runtime.condition_vectors(columns, None, self.conditioning, seed=seed)
        rows = []
        for value in values:
            codes = base.copy()
            if kind == "categorical":
                ids = runtime._class_ids(value, columns, size, "values")
                codes[:, start:start + size] = 0.0
                codes[np.arange(columns), start + ids] = 1.0
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                        or not np.isfinite(value):
                    raise ValueError(f"values: expected finite numbers for a continuous code; got {value!r}")
                codes[:, start] = value
            rows.append(codes)
        return self._predict([np.tile(z, (len(values), 1)), np.concatenate(rows)], batch_size)

    def save_code_grid(self, path, code_index: int, columns: int = 8, **kwargs):
        """Save :meth:`code_grid` as one PNG (rows: the code's values; columns: different z). Returns the path."""
        from ganapps.images import save_grid

        return save_grid(self.code_grid(code_index, columns=columns, **kwargs), path, nrow=columns)

    # -- serialisation -----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"categorical_codes": list(self.categorical_codes),
                       "continuous_codes": self.continuous_codes, "info_weight": self.info_weight})
        return config


def categorical_purity(game: InfoGAN, classifier: Callable[[np.ndarray], np.ndarray] | tuple,
                       code_index: int = 0, n_per_category: int = 100, seed: int = 0) -> dict[str, Any]:
    """How well a categorical InfoGAN code matches a known labelling (e.g. digit identity).

    For each value of the code, ``n_per_category`` samples (the same z and other codes for every value) are
    classified; each value's majority class and its share are reported. ``purity`` is the mean majority share
    (1 when every value gives one class; two values may share a class). ``matched_accuracy`` pairs values and
    classes one-to-one (Hungarian matching), so it also penalises two values mapping to one class: it is the
    unsupervised-clustering accuracy the InfoGAN paper reports for MNIST (5% error).

    Args:
        game: a trained :class:`InfoGAN`.
        classifier: a callable of images returning class ids ``(n,)`` or class scores ``(n, classes)``, e.g.
            ``lambda x: clf.predict(features(x))``; or an ``(images, labels)`` pair of labelled real data, on
            which a logistic regression over the flattened samples is fitted.
        code_index: which categorical code.
        n_per_category: samples per code value.
        seed: seed of the samples.

    Returns:
        ``{"purity", "matched_accuracy", "per_category": [{"category", "majority_class", "share"}, ...],
        "counts": [[count of class c among value v's samples, ...], ...]}``.
    """
    categorical = getattr(game, "categorical_codes", None)
    if categorical is None or not hasattr(game, "generate"):
        raise ValueError(f"game: expected an InfoGAN; got {type(game).__name__}")
    if isinstance(code_index, bool) or not isinstance(code_index, (int, np.integer)) \
            or not 0 <= code_index < len(categorical):
        raise ValueError(f"code_index: expected the index of a categorical code in [0, {len(categorical)}); "
                         f"got {code_index!r}")
    n_per_category = _checks.positive_int(n_per_category, "n_per_category")
    classify = _classifier(classifier)
    predictions = []
    for value in range(categorical[code_index]):
        samples = game.generate(n_per_category, codes={int(code_index): value}, seed=seed)
        predictions.append(_predicted_ids(classify(samples), n_per_category))
    classes = max(int(p.max()) for p in predictions) + 1
    counts = np.stack([np.bincount(p, minlength=classes) for p in predictions])
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-counts)
    total = counts.sum()
    return {
        "purity": float(counts.max(axis=1).sum() / total),
        "matched_accuracy": float(counts[rows, cols].sum() / total),
        "per_category": [{"category": v, "majority_class": int(row.argmax()), "share": float(row.max() / row.sum())}
                         for v, row in enumerate(counts)],
        "counts": counts.tolist(),
    }


def _classifier(classifier) -> Callable[[np.ndarray], np.ndarray]:
    if callable(classifier):
        return classifier
    if isinstance(classifier, (tuple, list)) and len(classifier) == 2:
        images, labels = np.asarray(classifier[0], dtype=np.float32), np.asarray(classifier[1])
        if len(images) != len(labels) or len(images) < 2 or labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"classifier: expected an (images, labels) pair with one integer label per image; "
                             f"got {len(images)} images and labels of shape {labels.shape}, dtype {labels.dtype}")
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=2000).fit(images.reshape(len(images), -1), labels)
        return lambda x: model.predict(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    raise ValueError(f"classifier: expected a callable of images returning class ids, or an (images, labels) "
                     f"pair; got {type(classifier).__name__}")


def _predicted_ids(predicted, n: int) -> np.ndarray:
    predicted = np.asarray(predicted)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=-1)
    if predicted.shape != (n,) or predicted.dtype.kind not in "iu" or (predicted < 0).any():
        raise ValueError(f"classifier: expected {n} non-negative integer class ids (or ({n}, classes) scores) "
                         f"for {n} samples; got an array of shape {predicted.shape}, dtype {predicted.dtype}")
    return predicted.astype(np.int64)
