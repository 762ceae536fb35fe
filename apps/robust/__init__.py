"""Robust classifiers: adversarial training on the user's labelled images, accuracy under attack, and what the
hidden units respond to.

    from apps.robust import RobustClassifier, load_data
    x, y = load_data("digits")                                       # offline; 8x8 digits in [-1, 1]
    x_test, y_test = load_data("digits", split="test")
    robust = RobustClassifier(method="pgd", eps=0.3).fit(x, y, validation_data=(x_test, y_test))
    results = robust.evaluate(x_test, y_test)                        # clean, FGSM and PGD accuracy at each eps
    robust.save("runs/robust/model.keras")
    robust.export("saved_models/digits_robust")                      # ONNX + SavedModel of the classifier

On the command line: ``ganapps robust train|attack|visualize`` (:mod:`apps.robust.cli`).

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow.
"""

from __future__ import annotations

from apps._lazy import lazy_exports

_HOMES = {"RobustClassifier": "app", "load_data": "app", "load_model": "app", "METHODS": "app", "ATTACKS": "app"}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
