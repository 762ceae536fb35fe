"""Robust classifiers: train one adversarially on labelled images, measure it under attack, look inside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganapps import _checks, attacks, data, export, nets
from ganapps.games.robust import METHODS as GAME_METHODS
from ganapps.games.robust import AdversarialTraining, CatastrophicOverfittingCheck

__all__ = ["ATTACKS", "METHODS", "RobustClassifier", "load_data", "load_model"]

METHODS = ("standard", *GAME_METHODS)
"""``standard`` is plain cross-entropy training (the baseline robustness is measured against); the rest are
:class:`ganapps.AdversarialTraining`'s methods."""
ATTACKS = {"fgsm": attacks.fgsm, "pgd": attacks.pgd, "cw_l2": attacks.cw_l2}
DEFAULT_EPS = (0.0, 0.05, 0.1, 0.2, 0.3)


def load_data(source: str | os.PathLike = "digits", split: str = "train", image_size: int | None = None,
              data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images in [-1, 1] NHWC, int labels)`` from the offline ``"digits"`` (8x8, scikit-learn's), a ``.npz``
    file with arrays ``x`` (uint8 0..255 or floats in [-1, 1]) and ``y``, an image folder with a sub-folder per
    class, or a tensorflow-datasets name (``"mnist"``, ``"tfds:cifar10"``) with a ``split``."""
    text = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    if not text:
        raise _checks.fail("data", "'digits', a .npz file, an image folder or a tensorflow-datasets name",
                           repr(source))
    if text.endswith(".npz"):
        return _npz(Path(text), image_size)
    name = text[len("tfds:"):] if text.startswith("tfds:") else text
    ds = data.load(name, split=split, image_size=image_size, with_labels=True, batch_size=512, shuffle=False,
                   data_dir=data_dir)
    xs, ys = [], []
    for x, y in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise _checks.fail("data", "a dataset with at least one labelled image", f"{text!r} split {split!r}: none")
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int32)


def _npz(path: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"data: expected a .npz file with arrays 'x' and 'y'; got {str(path)!r}, "
                                "which does not exist")
    with np.load(path) as arrays:
        if "x" not in arrays or "y" not in arrays:
            raise _checks.fail("data", "a .npz file with arrays 'x' and 'y'", f"arrays {sorted(arrays)}")
        x, y = arrays["x"], arrays["y"]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise _checks.fail("data", "images 'x' of shape (n, height, width[, channels])", f"shape {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 127.5 - 1.0
    elif not np.issubdtype(x.dtype, np.floating) or x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6:
        raise _checks.fail("data", "'x' as uint8 0..255 or floats in [-1, 1]",
                           f"dtype {x.dtype}, values {x.min():.3g}..{x.max():.3g}")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise _checks.fail("data", f"'y' of {len(x)} integer labels", f"dtype {y.dtype}, shape {y.shape}")
    x = x.astype(np.float32)
    if image_size is not None:
        x = tf.image.resize(x, (image_size, image_size)).numpy()
    return x, y.astype(np.int32)


def load_model(path: str | os.PathLike, argument: str = "path") -> keras.Model:
    """The classifier in a ``.keras`` file: a plain classifier of logits or probabilities, or the one an
    :class:`AdversarialTraining` game wraps (:meth:`RobustClassifier.load` keeps the game too)."""
    model = export.load_keras(path, argument)
    if isinstance(model, AdversarialTraining):
        return model.classifier
    if not isinstance(model, keras.Model) or not model.inputs:
        raise _checks.fail(argument, "a .keras classifier or AdversarialTraining game", type(model).__name__)
    return model


class RobustClassifier:
    """Train a classifier with adversarial training (or plainly, for a baseline) and evaluate it under attack.

    Args:
        method: one of :data:`METHODS`.
        eps: the training attack's budget in input units (the images are in [-1, 1]).
        steps: attack steps of ``pgd`` and ``trades``.
        beta: TRADES's robustness weight.
        width, hidden: the :func:`ganapps.nets.small_classifier` made for the data's shape (width 16 or more:
            narrower nets do not leave chance under PGD training at eps 0.3 on digits).
        epochs, batch_size, learning_rate: training (Adam).
        warmup_epochs: ramp the training attack's eps up from 0 over this many epochs (PGD training at eps 0.3
            from a fresh net stalled at chance for one seed in three on digits without it); 0 for none.
        overfit_check: watch one-step training (``fast``, ``fgsm``) for catastrophic overfitting with
            :class:`ganapps.CatastrophicOverfittingCheck`; ``None`` for on with those methods only.
        jit_compile: XLA for the train step; ``"auto"`` uses it only on a GPU.
        seed: seeds the network, the shuffling and the attacks.
        classifier: train this ``keras.Model`` (logits or probabilities) instead of a new small classifier.
    """

    def __init__(self, method: str = "pgd", eps: float = 0.3, steps: int = 7, beta: float = 6.0, width: int = 16,
                 hidden: int = 64, epochs: int = 15, batch_size: int = 64, learning_rate: float = 5e-3,
                 warmup_epochs: float = 2.0,
                 overfit_check: bool | None = None, jit_compile: bool | str = "auto", seed: int = 0,
                 classifier: keras.Model | None = None) -> None:
        self.method = attacks._check_choice(method, METHODS, "method")
        self.eps = _checks.finite_non_negative(eps, "eps")
        self.steps = _checks.positive_int(steps, "steps")
        self.beta = _checks.finite_non_negative(beta, "beta")
        self.width = _checks.positive_int(width, "width")
        self.hidden = _checks.positive_int(hidden, "hidden")
        self.epochs = _checks.positive_int(epochs, "epochs")
        self.batch_size = _checks.positive_int(batch_size, "batch_size")
        self.learning_rate = _checks.positive_float(learning_rate, "learning_rate")
        self.warmup_epochs = _checks.finite_non_negative(warmup_epochs, "warmup_epochs")
        if overfit_check is not None and not isinstance(overfit_check, bool):
            raise _checks.fail("overfit_check", "True, False or None", repr(overfit_check))
        self.overfit_check = self.method in ("fast", "fgsm") if overfit_check is None else overfit_check
        if jit_compile not in ("auto", True, False):
            raise _checks.fail("jit_compile", "'auto', True or False", repr(jit_compile))
        self.jit_compile = bool(tf.config.list_physical_devices("GPU")) if jit_compile == "auto" else jit_compile
        self.seed = _checks.non_negative_int(seed, "seed")
        if classifier is not None and not isinstance(classifier, keras.Model):
            raise _checks.fail("classifier", "a keras.Model or None", type(classifier).__name__)
        self.classifier: keras.Model | None = classifier
        self.game: AdversarialTraining | None = None
        self.history: dict[str, list[float]] = {}
        self.overfitting: CatastrophicOverfittingCheck | None = None

    # -- training -----------------------------------------------------------------------------------------------
    def fit(self, x: Any, y: Any, validation_data: tuple[Any, Any] | None = None,
            verbose: int | str = "auto") -> RobustClassifier:
        """Train on images ``x`` in [-1, 1] and int labels ``y``; ``validation_data`` adds ``val_accuracy`` and
        ``val_adv_accuracy`` (under PGD) to :attr:`history` each epoch."""
        x, y = attacks._check_xy(x, y)
        if x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6:
            raise _checks.fail("x", "images in [-1, 1]", f"values from {x.min():.3g} to {x.max():.3g}")
        if validation_data is not None:
            validation_data = attacks._check_xy(*validation_data)
        num_classes = int(y.max()) + 1
        if num_classes < 2:
            raise _checks.fail("y", "labels of at least 2 classes", f"only class {int(y.max())}")
        keras.utils.set_random_seed(self.seed)
        if self.classifier is None:
            self.classifier = nets.small_classifier(x.shape[1:], num_classes, width=self.width, hidden=self.hidden,
                                                    dropout=0.0, seed=self.seed)
        optimizer = keras.optimizers.Adam(self.learning_rate)
        callbacks = []
        if self.method == "standard":
            model = self.classifier
            probabilities = attacks._outputs_probabilities(model, x, "auto")
            model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
                          metrics=["accuracy"], jit_compile=self.jit_compile)
        else:
            kwargs = {"steps": self.steps, "beta": self.beta} if self.method in ("pgd", "trades") else {}
            kwargs["eps_warmup"] = int(round(self.warmup_epochs * -(-len(x) // self.batch_size)))
            model = self.game = AdversarialTraining(self.classifier, method=self.method, eps=self.eps,
                                                    seed=self.seed, **kwargs)
            model.compile(optimizer, jit_compile=self.jit_compile)
            if self.overfit_check:  # on training data: the weights it keeps must not be chosen on the test data
                self.overfitting = CatastrophicOverfittingCheck(x[:256], y[:256], verbose=1)
                callbacks.append(self.overfitting)
        history = model.fit(x, y, batch_size=self.batch_size, epochs=self.epochs, validation_data=validation_data,
                            callbacks=callbacks, verbose=verbose, shuffle=True)
        self.history = {k: [float(v) for v in values] for k, values in history.history.items()}
        return self

    def _require(self) -> keras.Model:
        if self.classifier is None:
            raise ValueError("model: expected a trained or loaded classifier; got none: call fit() or load() first")
        return self.classifier

    # -- evaluation ---------------------------------------------------------------------------------------------
    def evaluate(self, x: Any, y: Any, eps: Any = DEFAULT_EPS, attack_names: Any = ("fgsm", "pgd"),
                 pgd_steps: int = 20, name: str | None = None) -> list[attacks.RobustAccuracy]:
        """Accuracy under each attack at each budget (eps 0 is clean accuracy): a list of
        :class:`ganapps.attacks.RobustAccuracy`, for :func:`ganapps.attacks.robust_accuracy_markdown` and
        :func:`ganapps.attacks.plot_robust_accuracy`."""
        model = self._require()
        if isinstance(attack_names, str) or not attack_names or any(a not in ("fgsm", "pgd") for a in attack_names):
            raise _checks.fail("attack_names", "a sequence of 'fgsm' and/or 'pgd' (cw_l2 has no eps budget)",
                               repr(attack_names))
        results = []
        for attack_name in attack_names:
            attack = _attack(attack_name)
            kwargs = {"steps": _checks.positive_int(pgd_steps, "pgd_steps"), "seed": self.seed} \
                if attack_name == "pgd" else {}
            results.append(attacks.robust_accuracy(model, (x, y), attack=attack, eps=eps, clip_min=-1.0,
                                                   clip_max=1.0, name=name or self.method, **kwargs))
        return results

    def attack(self, x: Any, y: Any, attack_name: str = "pgd", eps: float | None = None,
               **kwargs: Any) -> np.ndarray:
        """Adversarial examples of ``x`` for this classifier (``eps`` defaults to the training budget;
        ``cw_l2`` takes no ``eps``)."""
        model = self._require()
        attack = _attack(attack_name)
        if attack_name != "cw_l2":
            kwargs["eps"] = self.eps if eps is None else eps
        return attack(model, x, y, clip_min=-1.0, clip_max=1.0, **kwargs)

    # -- files --------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the game (or, for ``standard``, the classifier) as one ``.keras`` file, atomically."""
        path = Path(path)
        if path.suffix != ".keras":
            raise _checks.fail("path", "a file name ending in .keras", repr(str(path)))
        model = self.game if self.game is not None else self._require()
        path.parent.mkdir(parents=True, exist_ok=True)
        return _checks.write_atomically(path, lambda tmp: model.save(tmp))

    @classmethod
    def load(cls, path: str | os.PathLike, argument: str = "path", seed: int = 0) -> RobustClassifier:
        """A :class:`RobustClassifier` around a saved game or classifier (``.keras``), ready to evaluate,
        attack, export or train further; ``seed`` seeds its attacks' random starts."""
        model = export.load_keras(path, argument)
        if isinstance(model, AdversarialTraining):
            robust = cls(method=model.method, eps=model.eps, steps=model.steps, beta=model.beta,
                         classifier=model.classifier, seed=seed)
            robust.game = model
            return robust
        if not isinstance(model, keras.Model) or not model.inputs:
            raise _checks.fail(argument, "a .keras classifier or AdversarialTraining game", type(model).__name__)
        return cls(method="standard", eps=0.0, classifier=model, seed=seed)

    def export(self, directory: str | os.PathLike, formats: Any = ("onnx", "saved_model")) -> dict[str, Any]:
        """Export the classifier to ONNX and/or SavedModel with a parity check (``metadata.json`` records the
        training recipe)."""
        if self.game is not None:
            return self.game.export_classifier(directory, formats=formats)
        return export.export_generator(self._require(), directory, formats=formats, value_range=(-1.0, 1.0),
                                       extra_metadata={"task": "classifier", "latent_dim": None,
                                                       "latent_distribution": None,
                                                       "adversarial_training": {"method": "standard"}})


def _attack(name: Any) -> Any:
    if name not in ATTACKS:
        raise _checks.fail("attack", "one of " + ", ".join(repr(a) for a in ATTACKS), repr(name))
    return ATTACKS[name]
