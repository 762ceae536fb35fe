"""The demo's digit check: a classifier's confidence on generated digits."""

import numpy as np
import pytest


def test_digit_confidence_separates_real_digits_from_noise():
    from ganapps import metrics

    ref = metrics.digit_confidence_reference(image_size=16, n=300)
    assert ref["real"]["mean_confidence"] > ref["noise"]["mean_confidence"] + 0.2
    assert min(ref["real"]["class_counts"]) > 0  # held-out digits cover every class
    with pytest.raises(ValueError, match=r"images: expected single-channel square images"):
        metrics.digit_confidence(np.zeros((2, 12, 12, 1), "float32"))


def test_digit_classifier_is_accurate_on_the_held_out_split():
    from ganapps import metrics

    images, labels = metrics._digits("test", 16)
    predicted = metrics._digit_classifier().predict(metrics._to_digit_features(images))
    assert (predicted == labels).mean() > 0.9
