"""Sample-quality measures.

This first module holds the digit check the demo uses: a small classifier trained on scikit-learn's 8x8
digits scores generated digit images. Confident predictions spread over all ten classes mean the samples look
like digits of every kind; noise or blobs get low confidence or collapse onto few classes.
"""

from __future__ import annotations

import functools

import numpy as np

_DIGITS_SIZE = 8


@functools.lru_cache(maxsize=1)
def _digit_classifier():
    """A logistic-regression classifier on 80% of scikit-learn's digits (about 97% held-out accuracy)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, _, y_train, _ = train_test_split(digits.data, digits.target, test_size=0.2,
                                                        random_state=0, stratify=digits.target)
    model = LogisticRegression(max_iter=5000, C=1.0).fit(x_train / 16.0, y_train)
    return model


def _to_digit_features(images: np.ndarray) -> np.ndarray:
    """NHWC images in [-1, 1] (H = W, a multiple of 8, one channel) -> (N, 64) features in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1 or images.shape[1] != images.shape[2] \
            or images.shape[1] % _DIGITS_SIZE:
        raise ValueError(f"images: expected single-channel square images whose side is a multiple of 8, "
                         f"shape (N, 8k, 8k, 1); got {images.shape}")
    k = images.shape[1] // _DIGITS_SIZE
    pooled = images.reshape(len(images), _DIGITS_SIZE, k, _DIGITS_SIZE, k).mean(axis=(2, 4))
    return ((pooled + 1.0) / 2.0).reshape(len(images), -1)


def _summary(probabilities: np.ndarray) -> dict:
    confidence = probabilities.max(axis=1)
    classes = probabilities.argmax(axis=1)
    return {"mean_confidence": float(confidence.mean()),
            "confident_fraction": float((confidence > 0.9).mean()),
            "class_counts": np.bincount(classes, minlength=10).tolist()}


def digit_confidence(images: np.ndarray) -> dict:
    """Score digit images (in [-1, 1], single channel, side a multiple of 8) with the bundled classifier.

    Returns ``mean_confidence`` (mean max class probability), ``confident_fraction`` (share above 0.9) and
    ``class_counts`` (predicted classes: a collapsed generator fills few of them).
    """
    model = _digit_classifier()
    return _summary(model.predict_proba(_to_digit_features(images)))


def digit_confidence_reference(image_size: int = 16, n: int = 1000, seed: int = 0) -> dict:
    """The same scores on held-out real digits (through the same resize as training data, ``image_size``) and
    on uniform noise, to read :func:`digit_confidence` against."""
    from ganapps import data

    real = np.concatenate([np.asarray(b) for b in data.load("digits", split="test", image_size=image_size,
                                                           batch_size=512, shuffle=False)])
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, image_size, image_size, 1)).astype(np.float32)
    return {"real": digit_confidence(real), "noise": digit_confidence(noise)}
