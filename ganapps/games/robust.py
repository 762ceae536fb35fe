"""Adversarial training: a classifier trained on its own adversarial examples, as a Keras game.

The game is a min-max one (Madry et al. 2018): an inner player, the attack, perturbs each batch within an
``eps``-ball to raise the loss; the outer player, the classifier, lowers the loss on what the attack made. The
methods differ in the inner player and the loss:

- ``"pgd"`` (Madry et al. 2018): ``steps`` of projected gradient ascent from a random start; the loss is the
  cross-entropy on the adversarial batch alone. Costs about ``steps + 1`` forward-backward passes a batch.
- ``"trades"`` (Zhang et al. 2019): the cross-entropy on the clean batch plus ``beta`` times the KL divergence
  from the clean prediction to the prediction on a point that maximises that divergence; ``beta`` trades clean
  accuracy for robustness.
- ``"fast"`` (Wong et al. 2020): one signed step of ``1.25 * eps`` from a random start (FGSM with a random
  start); about two passes a batch, but liable to catastrophic overfitting, which
  :class:`CatastrophicOverfittingCheck` catches.
- ``"fgsm"`` (Goodfellow et al. 2015): one FGSM step from the clean point; the loss mixes clean and
  adversarial cross-entropy, ``clean_weight`` on the clean part.

Each epoch ``fit`` reports ``loss``, ``accuracy`` (clean) and ``adv_accuracy`` (on the training attack's
examples); validation reports ``loss`` as the clean cross-entropy (not the method's objective), the clean
``accuracy`` and ``adv_accuracy`` under a PGD attack of ``eval_steps`` steps, the robust accuracy the methods are
compared by.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganapps import _checks, attacks
from ganapps._state import SavesSeedState
from ganapps.games.gan import _replica

__all__ = ["AdversarialTraining", "CatastrophicOverfittingCheck", "METHODS"]

METHODS = ("pgd", "trades", "fast", "fgsm")
_ONE_STEP = ("fast", "fgsm")
_TINY = 1e-12


@keras.saving.register_keras_serializable(package="ganapps")
class AdversarialTraining(SavesSeedState, keras.Model):
    """Train ``classifier`` on adversarial examples of its own, made inside the compiled train step.

    Args:
        classifier: a ``keras.Model`` from inputs to class logits (or softmax probabilities).
        method: ``"pgd"``, ``"trades"``, ``"fast"`` or ``"fgsm"`` (see the module docstring).
        eps: the attack's budget in input units (Linf, or L2 with ``norm="l2"``).
        steps: attack steps for ``"pgd"`` and ``"trades"`` (default 10); the one-step methods take 1.
        step_size: the attack's step; default ``2.5 * eps / steps`` for the iterative methods, ``1.25 * eps``
            for ``"fast"`` and ``eps`` for ``"fgsm"``.
        norm: ``"linf"`` or ``"l2"`` (``"fast"`` and ``"fgsm"`` are Linf methods).
        beta: TRADES's weight on the robustness term.
        clean_weight: ``"fgsm"``'s weight on the clean loss (Goodfellow et al. use 0.5).
        clip_min, clip_max: the valid input range (the library's images are in [-1, 1]); ``None`` for unbounded.
        eval_steps: steps of the PGD attack validation measures ``adv_accuracy`` with.
        eps_warmup: ramp the training attack's ``eps`` (and step) linearly from 0 over this many optimizer steps;
            0 for none. PGD training at a large ``eps`` from a fresh network can stall at chance (the loss pinned
            at ln(classes)); a warm-up of an epoch or two avoids it.
        loss_from: ``"auto"`` (a softmax last layer means probabilities), ``"logits"`` or ``"probabilities"``.
        seed: seeds the random starts; the same seed gives the same run.
    """

    def __init__(self, classifier: keras.Model, method: str = "pgd", eps: float = 0.3, steps: int | None = None,
                 step_size: float | None = None, norm: str = "linf", beta: float = 6.0, clean_weight: float = 0.5,
                 clip_min: float | None = -1.0, clip_max: float | None = 1.0, eval_steps: int = 10,
                 eps_warmup: int = 0, loss_from: str = "auto", seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(classifier, keras.Model):
            raise _checks.fail("classifier", "a keras.Model from inputs to class scores", type(classifier).__name__)
        if not classifier.built or not classifier.inputs:
            raise _checks.fail("classifier", "a built functional or Sequential model with known inputs",
                               f"{classifier.name!r} with no inputs yet (call it once or give it an Input)")
        self.classifier = classifier
        self.method = attacks._check_choice(method, METHODS, "method")
        self.eps = _checks.finite_non_negative(eps, "eps")
        self.norm = attacks._check_choice(norm, attacks._NORMS, "norm")
        if self.method in _ONE_STEP:
            if steps not in (None, 1):
                raise _checks.fail("steps", f"None or 1 (method {self.method!r} takes one step)", repr(steps))
            if self.norm != "linf":
                raise _checks.fail("norm", f"'linf' (method {self.method!r} is a signed-step method)", repr(norm))
            self.steps = 1
        else:
            self.steps = 10 if steps is None else _checks.positive_int(steps, "steps")
        self._step_size_given = None if step_size is None else _checks.positive_float(step_size, "step_size")
        if step_size is None:
            self.step_size = {"fast": 1.25 * self.eps, "fgsm": self.eps}.get(self.method, 2.5 * self.eps / self.steps)
        else:
            self.step_size = self._step_size_given
        self.beta = _checks.finite_non_negative(beta, "beta")
        if not isinstance(clean_weight, (int, float, np.floating)) or isinstance(clean_weight, bool) \
                or not 0 <= clean_weight <= 1:
            raise _checks.fail("clean_weight", "a number in [0, 1]", repr(clean_weight))
        self.clean_weight = float(clean_weight)
        self.clip_min, self.clip_max = attacks._check_clip(clip_min, clip_max)
        self.eval_steps = _checks.positive_int(eval_steps, "eval_steps")
        self.eps_warmup = _checks.non_negative_int(eps_warmup, "eps_warmup")
        self.loss_from = attacks._check_choice(loss_from, attacks._LOSS_FROM, "loss_from")
        self._probabilities = (self.loss_from == "probabilities"
                               or (self.loss_from == "auto" and attacks.last_layer_is_softmax(classifier)))
        self._loss_scale = attacks.input_loss_scale(classifier)
        self.seed = None if seed is None else _checks.non_negative_int(seed, "seed")
        self.seed_generator = keras.random.SeedGenerator(seed, name="adversarial_seed")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.adv_accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="adv_accuracy")
        self.built = True

    # ----------------------------------------------------------------------------------------------------------
    # keras.Model plumbing

    def call(self, x: Any, training: bool = False) -> Any:
        return self.classifier(x, training=training)

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.accuracy_tracker, self.adv_accuracy_tracker]

    def compile(self, optimizer: keras.optimizers.Optimizer | str = "adam", **kwargs: Any) -> None:
        """Set the classifier's optimizer, built here so that a ``.keras`` reload restores its state. The loss
        is the method's own (``loss`` and ``metrics`` are refused); other keyword arguments (``jit_compile``,
        ``steps_per_execution``) go to ``keras.Model.compile``."""
        for argument in ("loss", "metrics", "weighted_metrics"):
            if kwargs.get(argument) is not None:
                raise _checks.fail(argument, f"None (the loss is set by method={self.method!r}, and the metrics "
                                   "are loss, accuracy and adv_accuracy)", f"{argument}={kwargs[argument]!r}")
            kwargs.pop(argument, None)
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.classifier.trainable_variables)

    def get_compile_config(self) -> dict:
        if not self.compiled:
            return {}
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer), "jit_compile": self._jit_compile,
                "steps_per_execution": self.steps_per_execution}

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        self.compile(optimizer=keras.saving.deserialize_keras_object(config.pop("optimizer")), **config)

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit`` on ``(inputs, int labels)`` (arrays, or a ``tf.data.Dataset`` of pairs), after
        checking arrays for a shape the classifier takes, finite values, the clip range and integer labels."""
        if not getattr(self, "compiled", False):
            raise ValueError("model: expected a compiled AdversarialTraining to fit; got an uncompiled one: call "
                             "compile(optimizer=...) first")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        elif x is not None:
            self._check_arrays(x, y)
        return super().fit(x, y, **kwargs)

    def _check_arrays(self, x: Any, y: Any) -> None:
        x = np.asarray(x)
        expected = tuple(self.classifier.inputs[0].shape[1:])
        if x.ndim != len(expected) + 1 or any(e is not None and e != s for e, s in zip(expected, x.shape[1:])):
            raise _checks.fail("x", f"a batch of inputs of shape (n, {', '.join(map(str, expected))})",
                               f"shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise _checks.fail("x", "finite values", "NaN or infinity")
        low = -np.inf if self.clip_min is None else self.clip_min
        high = np.inf if self.clip_max is None else self.clip_max
        if x.size and (x.min() < low - 1e-6 or x.max() > high + 1e-6):
            raise _checks.fail("x", f"values in the clip range [{low:g}, {high:g}]",
                               f"values in [{x.min():.3g}, {x.max():.3g}]")
        labels = np.asarray(y) if y is not None else None
        sparse = labels is not None and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)
        one_hot = labels is not None and labels.ndim == 2 and labels.shape[1] > 1
        if not (sparse or one_hot) or len(labels) != len(x):
            raise _checks.fail("y", f"{len(x)} integer class labels, shape ({len(x)},), or one-hot rows",
                               "None" if labels is None else f"dtype {labels.dtype}, shape {labels.shape}")

    # ----------------------------------------------------------------------------------------------------------
    # the game

    def _logits(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return attacks._as_logits(self.classifier(x, training=training), self._probabilities)

    def _cross_entropy(self, y: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)

    def _draw(self, draw: Any, shape: tf.Tensor) -> tf.Tensor:
        """This replica's slice of one global draw: the seed state is mirrored, so replicas drawing on their own
        would all draw the same numbers (as :class:`ganapps.GAN` does for its latents)."""
        replicas, replica_id = _replica()
        if replicas == 1:
            return draw(shape)
        batch = shape[0]
        values = draw(tf.concat([[batch * replicas], shape[1:]], 0))
        return values[replica_id * batch:(replica_id + 1) * batch]

    def _uniform(self, shape: tf.Tensor, low: float, high: float) -> tf.Tensor:
        return self._draw(lambda s: keras.random.uniform(s, low, high, seed=self.seed_generator), shape)

    def _normal(self, shape: tf.Tensor) -> tf.Tensor:
        return self._draw(lambda s: keras.random.normal(s, seed=self.seed_generator), shape)

    def _random_start(self, x: tf.Tensor, eps: Any) -> tf.Tensor:
        delta = attacks.ball_start(x, eps, self.norm, uniform=self._uniform, normal=self._normal)
        return attacks.clip_range(x + delta, self.clip_min, self.clip_max)

    def _ascend_cross_entropy(self, x: tf.Tensor, y: tf.Tensor, start: tf.Tensor, eps: Any, step_size: Any,
                              steps: int) -> tf.Tensor:
        """``steps`` of projected ascent of the cross-entropy of ``y`` from ``start``, the classifier in
        inference mode: PGD, and the one-step methods with one step."""

        def objective(x_adv: tf.Tensor) -> tf.Tensor:
            return tf.reduce_sum(self._cross_entropy(y, self._logits(x_adv, training=False)))

        return attacks.projected_ascent(objective, x, start, eps, step_size, steps, self.norm, self.clip_min,
                                        self.clip_max, self._loss_scale)

    def _pgd(self, x: tf.Tensor, y: tf.Tensor, steps: int, step_size: Any, eps: Any) -> tf.Tensor:
        """Untargeted PGD from a random start in the ball."""
        return self._ascend_cross_entropy(x, y, self._random_start(x, eps), eps, step_size, steps)

    def _warmup(self) -> Any:
        """The share of ``eps`` (and of the step) the current training step attacks with: it ramps linearly
        over the first ``eps_warmup`` optimizer steps."""
        if not self.eps_warmup:
            return 1.0
        done = tf.cast(self.optimizer.iterations + 1, tf.float32) / float(self.eps_warmup)
        return tf.minimum(1.0, done)

    def _trades_point(self, x: tf.Tensor, share: Any = 1.0) -> tf.Tensor:
        """The point of the ball that maximises KL(clean prediction || prediction there), from a tiny Gaussian
        start (at x itself the divergence's gradient is zero)."""
        clean = tf.stop_gradient(tf.nn.softmax(self._logits(x, training=False)))

        def objective(x_adv: tf.Tensor) -> tf.Tensor:
            log_adv = tf.nn.log_softmax(self._logits(x_adv, training=False))
            return tf.reduce_sum(clean * (tf.math.log(clean + _TINY) - log_adv))

        start = x + 1e-3 * self._normal(tf.shape(x))
        return attacks.projected_ascent(objective, x, attacks.clip_range(start, self.clip_min, self.clip_max),
                                        self.eps * share, self.step_size * share, self.steps, self.norm,
                                        self.clip_min, self.clip_max, self._loss_scale)

    def _adversarial(self, x: tf.Tensor, y: tf.Tensor, share: Any = 1.0) -> tf.Tensor:
        """The training attack's examples; ``share`` scales eps and the step (the warm-up)."""
        eps, step_size = self.eps * share, self.step_size * share
        if self.method == "pgd":
            return self._pgd(x, y, self.steps, step_size, eps)
        if self.method == "trades":
            return self._trades_point(x, share)
        start = self._random_start(x, eps) if self.method == "fast" else x
        return self._ascend_cross_entropy(x, y, start, eps, step_size, 1)  # one-step methods are Linf

    def _loss(self, x: tf.Tensor, x_adv: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(loss, clean logits, adversarial logits). The methods whose loss has no clean term (``pgd``,
        ``fast``) read the clean logits for the accuracy metric in inference mode, outside the gradient."""
        adv = self._logits(x_adv, training=True)
        if self.method == "pgd" or self.method == "fast":
            clean = tf.stop_gradient(self._logits(x, training=False))
            return tf.reduce_mean(self._cross_entropy(y, adv)), clean, adv
        clean = self._logits(x, training=True)
        if self.method == "trades":
            p_clean = tf.nn.softmax(clean)
            kl = tf.reduce_sum(p_clean * (tf.nn.log_softmax(clean) - tf.nn.log_softmax(adv)), axis=-1)
            loss = tf.reduce_mean(self._cross_entropy(y, clean)) + self.beta * tf.reduce_mean(kl)
        else:
            loss = (self.clean_weight * tf.reduce_mean(self._cross_entropy(y, clean))
                    + (1.0 - self.clean_weight) * tf.reduce_mean(self._cross_entropy(y, adv)))
        return loss, clean, adv

    @staticmethod
    def _unpack(data: Any) -> tuple[tf.Tensor, tf.Tensor]:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("y: expected integer class labels with the inputs; got inputs alone")
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 2:  # one-hot labels
            y = tf.argmax(y, axis=-1)
        return tf.cast(x, tf.float32), tf.cast(tf.reshape(y, [-1]), tf.int32)

    def train_step(self, data: Any) -> dict:
        x, y = self._unpack(data)
        x_adv = self._adversarial(x, y, self._warmup())
        variables = self.classifier.trainable_variables
        with tf.GradientTape() as tape:
            loss, clean, adv = self._loss(x, x_adv, y)
            scaled = self.optimizer.scale_loss(loss / _replica()[0])
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, clean)
        self.adv_accuracy_tracker.update_state(y, adv)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: Any) -> dict:
        x, y = self._unpack(data)
        clean = self._logits(x, training=False)
        if self.eps > 0:
            adv = self._logits(self._pgd(x, y, self.eval_steps, 2.5 * self.eps / self.eval_steps, self.eps),
                               training=False)
        else:
            adv = clean
        self.loss_tracker.update_state(tf.reduce_mean(self._cross_entropy(y, clean)))
        self.accuracy_tracker.update_state(y, clean)
        self.adv_accuracy_tracker.update_state(y, adv)
        return {m.name: m.result() for m in self.metrics}

    # ----------------------------------------------------------------------------------------------------------
    # inference and export

    def predict_classes(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """The classifier's predicted class of each input."""
        return np.argmax(self.classifier.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0), -1)

    def export_classifier(self, directory: Any, formats: Any = ("onnx", "saved_model"),
                          extra_metadata: dict | None = None, **kwargs: Any) -> dict[str, Any]:
        """Export the wrapped classifier (not the game) to ONNX and/or SavedModel with a parity check, the
        training recipe recorded in ``metadata.json``; see :func:`ganapps.export.export_generator`."""
        from ganapps import export

        value_range = None if self.clip_min is None or self.clip_max is None else (self.clip_min, self.clip_max)
        metadata = {"task": "classifier", "latent_dim": None, "latent_distribution": None,
                    "classifier_outputs": "probabilities" if self._probabilities else "logits",
                    "adversarial_training": {k: v for k, v in self.get_config().items()
                                             if k in ("method", "eps", "steps", "step_size", "norm", "beta",
                                                      "clean_weight", "eval_steps")}}
        metadata.update(extra_metadata or {})
        return export.export_generator(self.classifier, directory, formats=formats, value_range=value_range,
                                       extra_metadata=metadata, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "method": self.method, "eps": self.eps, "steps": None if self.method in _ONE_STEP else self.steps,
            "step_size": self._step_size_given, "norm": self.norm, "beta": self.beta, "clean_weight": self.clean_weight,
            "clip_min": self.clip_min, "clip_max": self.clip_max, "eval_steps": self.eval_steps,
            "eps_warmup": self.eps_warmup,
            "loss_from": self.loss_from, "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config: dict) -> AdversarialTraining:
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**config)


class CatastrophicOverfittingCheck(keras.callbacks.Callback):
    """Catch catastrophic overfitting (Wong et al. 2020): one-step adversarial training can suddenly lose all
    robustness to PGD within an epoch while its FGSM accuracy soars. This callback attacks one fixed batch with
    PGD every epoch (or every ``every_batches`` batches); when the PGD accuracy falls more than ``drop`` below
    the last good check, it restores the weights of that check and, with ``stop``, ends training.

    ``pgd_check_accuracy`` goes into the epoch's logs (after a restore, that of the restored weights);
    ``history`` keeps every check, ``triggered`` says whether (and at which epoch) the weights were restored. The
    optimizer's state is not rewound. Check on training data (Wong et al. use a training batch), so that the
    weights kept are not chosen on the data the model is evaluated on.

    Args:
        x, y: the check batch (a few hundred samples is plenty) and its int labels.
        eps: the PGD budget; default the game's ``eps``.
        steps: PGD steps.
        drop: the fall in PGD accuracy, from the last good check, that counts as overfitting.
        every_batches: check every this many batches as well as at the end of each epoch; ``None`` for epochs
            only (collapse can happen within one epoch on a large dataset).
        stop: end training after restoring.
        seed: seeds the check's random start (fixed, so the checks compare like with like).
    """

    def __init__(self, x: Any, y: Any, eps: float | None = None, steps: int = 10, drop: float = 0.2,
                 every_batches: int | None = None, stop: bool = True, seed: int = 0, verbose: int = 1) -> None:
        super().__init__()
        self.x, self.y = attacks._check_xy(x, y)
        self.eps = None if eps is None else _checks.finite_non_negative(eps, "eps")
        self.steps = _checks.positive_int(steps, "steps")
        if not isinstance(drop, (int, float)) or isinstance(drop, bool) or not 0 < drop <= 1:
            raise _checks.fail("drop", "a fall in accuracy in (0, 1]", repr(drop))
        self.drop = float(drop)
        self.every_batches = None if every_batches is None else _checks.positive_int(every_batches, "every_batches")
        self.stop = attacks._check_bool(stop, "stop")
        self.seed = _checks.non_negative_int(seed, "seed")
        self.verbose = verbose
        self.history: list[float] = []
        self.triggered: int | None = None
        self._good_weights: list | None = None
        self._good_accuracy = -1.0
        self._epoch = 0

    def _game(self) -> AdversarialTraining:
        if not isinstance(self.model, AdversarialTraining):
            raise _checks.fail("model", "an AdversarialTraining game (the callback attacks its classifier)",
                               type(self.model).__name__)
        return self.model

    def pgd_accuracy(self) -> float:
        """The classifier's accuracy on the check batch under PGD, now."""
        game = self._game()
        eps = game.eps if self.eps is None else self.eps
        x_adv = attacks.pgd(game.classifier, self.x, self.y, eps, steps=self.steps, norm=game.norm,
                            clip_min=game.clip_min, clip_max=game.clip_max, seed=self.seed,
                            loss_from="probabilities" if game._probabilities else "logits")
        return float(np.mean(game.predict_classes(x_adv) == self.y))

    def _check(self) -> bool:
        accuracy = self.pgd_accuracy()
        self.history.append(accuracy)
        if self._good_weights is not None and accuracy < self._good_accuracy - self.drop:
            self.model.classifier.set_weights(self._good_weights)
            self.triggered = self._epoch
            if self.verbose:
                print(f"\nCatastrophicOverfittingCheck: PGD accuracy fell from {self._good_accuracy:.3f} to "
                      f"{accuracy:.3f} in epoch {self._epoch + 1}; restored the weights of the last good check"
                      + ("; stopping" if self.stop else ""))
            if self.stop:
                self.model.stop_training = True
            return True
        self._good_weights = self.model.classifier.get_weights()
        self._good_accuracy = accuracy
        return False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._game()
        self._check()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every_batches and (batch + 1) % self.every_batches == 0 and not self.model.stop_training:
            self._check()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not (self.model.stop_training and self.triggered == epoch):
            self._check()
        if logs is not None:  # after a restore, the accuracy of the weights the model now holds
            logs["pgd_check_accuracy"] = self._good_accuracy if self.triggered == epoch else self.history[-1]
