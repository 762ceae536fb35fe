"""Tests of ganapps.data.biased_digits: digits with a planted attribute, rare in train, half of test."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import ndimage

from ganapps import data


def _plain_digits(split: str, image_size=16) -> tuple[np.ndarray, np.ndarray]:
    ds = data.load("digits", split=split, image_size=image_size, with_labels=True, shuffle=False, batch_size=4096)
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(images), np.concatenate(labels)


def _group_accuracies(attribute: str, rare_share: float, seed: int = 0) -> tuple[float, float]:
    """Test accuracy on (group 0, group 1) of a small MLP trained on the train split."""
    x, y, _ = data.biased_digits("train", attribute, rare_share=rare_share, seed=seed)
    x_test, y_test, groups = data.biased_digits("test", attribute, seed=seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False, steps_per_execution=23)  # 23 steps: one epoch per call, less overhead
    model.fit(x, y, epochs=10, batch_size=64, verbose=0)
    predicted = model.predict(x_test, batch_size=512, verbose=0).argmax(-1)
    common, rare = ((predicted[groups == g] == y_test[groups == g]).mean() for g in (0, 1))
    return float(common), float(rare)


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("attribute", data.BIAS_ATTRIBUTES)
def test_format_and_group_zero_is_plain_digits(split, attribute):
    x, y, groups = data.biased_digits(split, attribute, seed=3)
    plain, labels = _plain_digits(split)
    assert x.shape == plain.shape and x.shape[1:] == (16, 16, 1)
    assert x.dtype == np.float32 and y.dtype == np.int32 and groups.dtype == np.int32
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_array_equal(y, labels)
    assert set(np.unique(groups).tolist()) == {0, 1}
    np.testing.assert_array_equal(x[groups == 0], plain[groups == 0])
    changed = np.abs(x[groups == 1] - plain[groups == 1]).max(axis=(1, 2, 3))
    assert (changed > 0.5).all()  # every carrier visibly differs from its plain digit
    x.flags.writeable = True  # a caller's own copy, not the loader's cached read-only array
    x[0] = 0.0


def test_train_carriers_are_rare_and_stratified_by_label():
    x, y, groups = data.biased_digits("train", rare_share=0.05, seed=0)
    assert groups.sum() == round(0.05 * len(y))
    sizes, carried = np.bincount(y), np.bincount(y[groups == 1], minlength=10)
    assert (carried >= np.floor(0.05 * sizes)).all() and (carried <= np.ceil(0.05 * sizes)).all()
    assert carried.min() >= 5  # every class has rare samples: the bias is in the attribute, not missing classes


def test_test_split_carries_the_attribute_on_half_of_every_class():
    _, y, groups = data.biased_digits("test", "rotated", rare_share=0.01, seed=1)  # rare_share: train only
    sizes, carried = np.bincount(y), np.bincount(y[groups == 1], minlength=10)
    assert (np.abs(carried - sizes / 2) <= 1).all()
    assert abs(groups.sum() - len(y) / 2) <= 1


def test_same_seed_same_data_other_seed_other_carriers():
    first, again, other = (data.biased_digits("train", "inverted", seed=s) for s in (7, 7, 8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert (first[2] != other[2]).any() and first[2].sum() == other[2].sum()
    thick = data.biased_digits("train", "thick", seed=7)[2]
    np.testing.assert_array_equal(thick, first[2])  # every attribute marks the same samples


def test_extreme_shares_and_other_sizes():
    assert data.biased_digits("train", rare_share=0.0)[2].sum() == 0
    assert data.biased_digits("train", rare_share=1)[2].all()
    x, _, groups = data.biased_digits("train", "rotated", rare_share=0.1, image_size=(24, 20))
    assert x.shape[1:] == (24, 20, 1) and groups.mean() == pytest.approx(0.1, abs=0.01)


def test_attributes_are_what_they_say():
    plain, _ = _plain_digits("test")
    x, _, groups = data.biased_digits("test", "inverted")
    np.testing.assert_allclose(x[groups == 1], -plain[groups == 1])

    x, _, groups = data.biased_digits("test", "thick")
    bold, thin = x[groups == 1], plain[groups == 1]
    assert (bold >= thin).all()  # a dilation only adds ink
    ink = lambda images: (images > 0).mean(axis=(1, 2, 3))  # noqa: E731
    assert (ink(bold) > 1.3 * ink(thin)).mean() > 0.95

    x, _, groups = data.biased_digits("test", "rotated")
    turned, upright = x[groups == 1], plain[groups == 1]
    back = ndimage.rotate(turned, -45.0, axes=(2, 1), reshape=False, order=1, mode="constant", cval=-1.0)

    def distance(a, b):
        return np.abs(a - b).mean(axis=(1, 2, 3))

    # Turning back by 45 degrees (the other way) recovers the digit: a wrong angle or direction would not.
    assert (distance(back, upright) < 0.6 * distance(turned, upright)).mean() > 0.95
    wrong_way = ndimage.rotate(turned, 45.0, axes=(2, 1), reshape=False, order=1, mode="constant", cval=-1.0)
    assert distance(back, upright).mean() < 0.5 * distance(wrong_way, upright).mean()


def test_the_bias_hurts_a_plain_classifier_and_balance_removes_the_gap():
    common, rare = _group_accuracies("thick", rare_share=0.05)
    assert common > 0.9  # it learned the digits ...
    assert common - rare > 0.08, (common, rare)  # ... but much less well in their rare bold look
    balanced_common, balanced_rare = _group_accuracies("thick", rare_share=0.5)
    assert balanced_rare > rare + 0.05  # the gap is bias: with the attribute common in training it closes
    assert abs(balanced_common - balanced_rare) < 0.5 * (common - rare)


def test_rotation_hurts_too():  # "inverted" does as well (~9 to 16 points), left out to keep the file fast
    common, rare = _group_accuracies("rotated", rare_share=0.05)
    assert common > 0.9 and common - rare > 0.1, (common, rare)


@pytest.mark.parametrize("kwargs, argument", [
    ({"split": "all"}, "split"),
    ({"split": "validation"}, "split"),
    ({"attribute": "bold"}, "attribute"),
    ({"attribute": None}, "attribute"),
    ({"rare_share": -0.1}, "rare_share"),
    ({"rare_share": 1.5}, "rare_share"),
    ({"rare_share": float("nan")}, "rare_share"),
    ({"rare_share": "0.05"}, "rare_share"),
    ({"rare_share": True}, "rare_share"),
    ({"image_size": 0}, "image_size"),
    ({"image_size": (16,)}, "image_size"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: expected .+; got "):
        data.biased_digits(**kwargs)
