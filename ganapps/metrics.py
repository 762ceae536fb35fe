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
    """Logistic regression on the 8x8 "train" split of ``ganapps.data``'s digits (96% accuracy on its
    "test" split, which it never sees; :func:`digit_confidence_reference` scores that split)."""
    from sklearn.linear_model import LogisticRegression

    images, labels = _digits("train", _DIGITS_SIZE)
    return LogisticRegression(max_iter=5000, C=1.0).fit(_to_digit_features(images), labels)


def _digits(split: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    from ganapps import data

    batches = list(data.load("digits", split=split, image_size=image_size, with_labels=True, batch_size=4096,
                             shuffle=False))
    return (np.concatenate([np.asarray(x) for x, _ in batches]),
            np.concatenate([np.asarray(y) for _, y in batches]))


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
    return _summary(_digit_classifier().predict_proba(_to_digit_features(images)))


def digit_confidence_reference(image_size: int = 16, n: int = 1000, seed: int = 0) -> dict:
    """The same scores on the held-out real digits (the "test" split, resized to ``image_size`` as training
    data is) and on ``n`` images of uniform noise, to read :func:`digit_confidence` against."""
    real, _ = _digits("test", image_size)
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, image_size, image_size, 1)).astype(np.float32)
    return {"real": digit_confidence(real), "noise": digit_confidence(noise)}
