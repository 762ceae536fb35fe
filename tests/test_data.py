"""Tests of ganapps.data: offline datasets, tensorflow-datasets (mocked), image folders, checks, conversions."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganapps import data


def _batches(ds):
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def _all_images_and_labels(ds):
    images, labels = zip(*_batches(ds))
    return np.concatenate(images), np.concatenate(labels)


# ---------------------------------------------------------------------------------------------------- digits


def test_digits_native_shape_range_dtype():
    batch = next(iter(data.load("digits", batch_size=32, seed=0)))
    assert batch.shape == (32, 8, 8, 1)
    assert batch.dtype == tf.float32
    values = batch.numpy()
    assert values.min() >= -1.0 and values.max() <= 1.0
    # x / 16 * 2 - 1 on integers 0..16: every value lies on that grid, and both ends occur.
    assert np.allclose((values + 1) / 2 * 16, np.round((values + 1) / 2 * 16), atol=1e-5)
    assert values.min() == -1.0 and values.max() == 1.0


@pytest.mark.parametrize("image_size, expected", [(16, (16, 16)), ((32, 24), (32, 24))])
def test_digits_resized_and_clipped(image_size, expected):
    images = next(iter(data.load("digits", image_size=image_size, batch_size=16, seed=0))).numpy()
    assert images.shape == (16, *expected, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.std() > 0.3  # still digits, not a constant


def test_digits_channels_3_repeats_gray():
    images = next(iter(data.load("digits", channels=3, batch_size=8, seed=0))).numpy()
    assert images.shape == (8, 8, 8, 3)
    assert np.array_equal(images[..., 0], images[..., 2])


def test_digits_labels_and_stratified_disjoint_splits():
    train_x, train_y = _all_images_and_labels(data.load("digits", split="train", with_labels=True, shuffle=False))
    test_x, test_y = _all_images_and_labels(data.load("digits", split="test", with_labels=True, shuffle=False))
    all_x, all_y = _all_images_and_labels(data.load("digits", split="all", with_labels=True, shuffle=False))
    assert train_y.dtype == np.int32
    assert len(all_y) == 1797 and len(train_y) + len(test_y) == len(all_y)
    # train + test is exactly "all" (as a multiset of (image, label) rows): a partition, nothing shared.
    def rows(x, y):
        return sorted(map(bytes, np.concatenate([x.reshape(len(x), -1), y[:, None].astype(np.float32)], 1)))
    assert rows(np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y])) == rows(all_x, all_y)
    # stratified: every class is 80/20 up to rounding
    for label in range(10):
        n_train, n_all = (train_y == label).sum(), (all_y == label).sum()
        assert abs(n_train - 0.8 * n_all) <= 1
    # the partition does not depend on `seed`
    other_x, other_y = _all_images_and_labels(data.load("digits", split="test", with_labels=True, seed=123))
    assert rows(other_x, other_y) == rows(test_x, test_y)
    assert abs(len(test_y) - 0.2 * 1797) <= 10


def test_digits_seed_repeats_and_epochs_reshuffle():
    first = _batches(data.load("digits", batch_size=100, seed=7).take(1))[0]
    again = data.load("digits", batch_size=100, seed=7)
    epoch1, epoch2 = _batches(again.take(1))[0], _batches(again.take(1))[0]
    assert np.array_equal(first, epoch1)
    assert not np.array_equal(epoch1, epoch2)
    unshuffled = _batches(data.load("digits", batch_size=100, shuffle=False).take(1))[0]
    assert not np.array_equal(first, unshuffled)


def test_digits_drop_remainder():
    ds = data.load("digits", split="test", batch_size=100, drop_remainder=True)
    assert all(b.shape[0] == 100 for b in _batches(ds))
    assert ds.element_spec.shape[0] == 100


# ---------------------------------------------------------------------------------------------------- photos


def test_photo_splits_are_disjoint_and_documented():
    train, test = data.photo_names("train"), data.photo_names("test")
    assert train and test and not set(train) & set(test)
    assert data.photo_names("all") == train + test
    photos = data.load_photos("test")
    assert len(photos) == len(test)
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[-1] in (1, 3) for p in photos)
    assert all(p.shape[-1] == 3 for p in data.load_photos("all", channels=3))
    assert all(p.shape[-1] == 1 for p in data.load_photos("train", channels=1))


def test_photo_crops_shape_range_and_count():
    ds = data.load("photos", image_size=(32, 40), num_crops=70, batch_size=32, seed=0)
    assert tuple(ds.element_spec.shape) == (None, 32, 40, 3)  # static: games build from it
    batches = _batches(ds)
    assert [len(b) for b in batches] == [32, 32, 6]
    crops = np.concatenate(batches)
    assert crops.shape[1:] == (32, 40, 3) and crops.dtype == np.float32
    assert crops.min() >= -1.0 and crops.max() <= 1.0
    gray = next(iter(data.load("photos", channels=1, num_crops=4, seed=0)))
    assert gray.shape == (4, 64, 64, 1)  # default crop 64


def test_photo_crops_come_from_the_labelled_photo_of_the_split():
    photos = data.load_photos("test", channels=3)
    ds = data.load("photos", split="test", image_size=24, num_crops=6, with_labels=True, seed=3)
    images, labels = _all_images_and_labels(ds)
    assert labels.dtype == np.int32 and set(labels) <= set(range(len(photos)))
    for crop, label in zip(data.to_uint8(images), labels):
        photo = photos[label]
        ys, xs = np.nonzero(np.all(photo[: -23, : -23] == crop[0, 0], axis=-1))
        assert any(np.array_equal(photo[y: y + 24, x: x + 24], crop) for y, x in zip(ys, xs))


def test_photo_crops_deterministic_with_seed_and_redrawn_each_epoch():
    def take(ds):
        return _batches(ds.take(1))[0]
    a = data.load("photos", image_size=16, num_crops=16, seed=5, flip=True)
    b = data.load("photos", image_size=16, num_crops=16, seed=5, flip=True)
    c = data.load("photos", image_size=16, num_crops=16, seed=6, flip=True)
    first = take(a)
    assert np.array_equal(first, take(b))
    assert not np.array_equal(first, take(c))
    assert not np.array_equal(first, take(a))  # the second epoch draws new crops


def test_photo_crop_larger_than_a_photo_is_refused():
    with pytest.raises(ValueError, match=r"image_size: .*\(400, 400\)"):
        data.load("photos", split="test", image_size=400)


# ---------------------------------------------------------------------------------------------------- tfds


@pytest.fixture
def mock_tfds(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data, "_network_available", lambda *args: True)  # mock_data never downloads
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        yield tfds


def test_tfds_mnist_via_mock(mock_tfds):
    images, labels = _all_images_and_labels(
        data.load("mnist", with_labels=True, batch_size=5, seed=0, data_dir="/nonexistent/never/read")
    )
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.1
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() <= 9


def test_tfds_resize_and_channels_via_mock(mock_tfds):
    images = next(iter(data.load("mnist", image_size=(16, 20), channels=3, batch_size=4)))
    assert images.shape == (4, 16, 20, 3)
    assert np.array_equal(images.numpy()[..., 0], images.numpy()[..., 1])
    cifar_gray = next(iter(data.load("cifar10", channels=1, batch_size=4)))
    assert cifar_gray.shape == (4, 32, 32, 1)


def test_tfds_offline_failure_says_how_to_provide_the_data(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'\n(Name or service not known)")

    monkeypatch.setattr(tfds, "load", offline)
    monkeypatch.setattr(data, "_network_available", lambda *args: True)  # the host resolves; the download fails
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "'mnist'" in message and "data_dir" in message and "tfds build mnist" in message
    assert "Failed to resolve" in message and "\n" not in message
    assert "image_folder" in message and "'digits'" in message


def test_tfds_offline_fails_fast_without_trying_to_download(monkeypatch, tmp_path):
    """Offline and not prepared in data_dir: an immediate error, not minutes of download retries."""
    import time

    tfds = pytest.importorskip("tensorflow_datasets")

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("tfds.load was called although the data cannot be fetched")

    monkeypatch.setattr(tfds, "load", must_not_be_called)
    monkeypatch.setattr(data, "_network_available", lambda *args: False)
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError, match=r"name: .*'mnist'.*not prepared.*no network.*data_dir"):
        data.load("mnist", data_dir=tmp_path)
    assert time.perf_counter() - start < 10


def test_network_probe_answers_quickly():
    import time

    start = time.perf_counter()
    assert data._network_available("no-such-host.invalid") is False  # .invalid never resolves (RFC 6761)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("name", ["/no/such/folder", "./missing_images", "~/no_such_pictures_dir", "pics/"])
def test_a_missing_folder_is_reported_as_a_missing_path_not_a_network_problem(name):
    with pytest.raises(FileNotFoundError, match=rf"^name: expected an existing folder.*got '{name}'"):
        data.load(name, image_size=8)


def test_tfds_unknown_name_is_a_value_error_naming_name():
    with pytest.raises(ValueError, match=r"^name: .*'digits'.*'photos'.*got 'no_such_dataset_xyz'"):
        data.load("no_such_dataset_xyz")


def test_tfds_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match=r"did you mean .*'digits'"):
        data.load("digit")


# ---------------------------------------------------------------------------------------------------- folders


def _save(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)


@pytest.fixture
def image_tree(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    _save(str(root / "cats" / "gray.png"), rng.integers(0, 256, (20, 30), dtype=np.uint8))
    _save(str(root / "cats" / "rgb.JPG"), rng.integers(0, 256, (40, 25, 3), dtype=np.uint8), quality=95)
    transparent = np.zeros((16, 16, 4), dtype=np.uint8)  # black and fully transparent: white on white
    _save(str(root / "dogs" / "clear.png"), transparent)
    _save(str(root / "dogs" / "deep" / "rgb.bmp"), rng.integers(0, 256, (12, 18, 3), dtype=np.uint8))
    _save(str(root / "dogs" / "frame.gif"), rng.integers(0, 256, (10, 10), dtype=np.uint8))
    _save(str(root / "loose.jpeg"), np.full((8, 8), 40, dtype=np.uint8))
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_mixed_modes(image_tree):
    ds = data.image_folder(image_tree, image_size=(16, 24), batch_size=4, shuffle=False)
    images = np.concatenate(_batches(ds))
    assert images.shape == (6, 16, 24, 3) and images.dtype == np.float32  # RGB present -> 3 channels
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert ds.class_names is None and len(ds.file_paths) == 6
    clear = images[[p.endswith("clear.png") for p in ds.file_paths].index(True)]
    assert np.allclose(clear, 1.0)  # transparent pixels become white
    loose = images[[p.endswith("loose.jpeg") for p in ds.file_paths].index(True)]
    assert np.allclose(loose, 40 / 127.5 - 1, atol=0.02) and np.allclose(loose[..., 0], loose[..., 2])


def test_image_folder_reads_transparency_and_luma_as_the_library_reader_does(tmp_path):
    """image_folder decodes in TensorFlow (streaming); its pixels agree with ganapps.images.read_image, the reader
    of random_crops, the super-resolution app and the ONNX Upscaler, up to the reader's rounding to uint8."""
    from ganapps import images

    assert data.IMAGE_EXTENSIONS is images.IMAGE_EXTENSIONS
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    _save(str(tmp_path / "rgba.png"), rgba)
    for channels in (3, 1):
        streamed = next(iter(data.image_folder(tmp_path, image_size=(9, 11), channels=channels)))[0].numpy()
        read = data.from_uint8(images.read_image(tmp_path / "rgba.png", channels=channels))
        assert streamed.shape == read.shape == (9, 11, channels)
        assert np.abs(streamed - read).max() <= 1.01 / 127.5  # at most the uint8 rounding steps apart
        assert np.abs(streamed - data.from_uint8(rgba[..., :channels])).max() > 0.1  # alpha was not ignored


def test_image_folder_labels_from_subfolders(image_tree):
    ds = data.image_folder(image_tree, image_size=12, with_labels=True, batch_size=3, seed=1, channels=1)
    images, labels = _all_images_and_labels(ds)
    assert ds.class_names == ["cats", "dogs"]
    assert images.shape == (5, 12, 12, 1)  # loose.jpeg lies outside any class folder
    assert labels.dtype == np.int32 and sorted(labels.tolist()) == [0, 0, 1, 1, 1]


def test_image_folder_all_gray_gives_one_channel(tmp_path):
    for i in range(3):
        _save(str(tmp_path / f"g{i}.png"), np.full((9, 7), 50 * i, dtype=np.uint8))
    images = next(iter(data.image_folder(tmp_path, image_size=8, shuffle=False)))
    assert images.shape == (3, 8, 8, 1)
    assert np.allclose(images.numpy()[2], 100 / 127.5 - 1, atol=1e-5)


def test_image_folder_not_recursive(image_tree):
    ds = data.image_folder(image_tree, image_size=8, recursive=False)
    assert ds.file_paths == [str(image_tree / "loose.jpeg")]


def test_image_folder_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"^path: .*nowhere"):
        data.image_folder(missing, image_size=8)


def test_image_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"^path: .*\.png.*\.jpg.*got .*1 \.txt"):
        data.image_folder(tmp_path, image_size=8)


@pytest.mark.parametrize("bad", [0, -3, 2.5, (8,), (8, 0), "64", True, None])
def test_image_folder_bad_image_size(image_tree, bad):
    with pytest.raises(ValueError, match=r"^image_size: expected .*; got " + repr(bad).replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.")):
        data.image_folder(image_tree, image_size=bad)


def test_load_accepts_a_folder_path(image_tree):
    images = next(iter(data.load(str(image_tree), image_size=8, batch_size=2)))
    assert images.shape == (2, 8, 8, 3)


# ---------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["digits", "photos"])
def test_bad_split(name):
    with pytest.raises(ValueError, match=r"^split: expected one of 'train', 'test', 'all'; got 'validation'"):
        data.load(name, split="validation")
    with pytest.raises(ValueError, match=r"^split: .*got 'nope'"):
        data.photo_names("nope")


@pytest.mark.parametrize("kwargs, argument", [
    ({"image_size": 0}, "image_size"),
    ({"image_size": (8, 8, 8)}, "image_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"channels": 2}, "channels"),
    ({"num_crops": 0}, "num_crops"),
])
def test_bad_arguments_name_themselves(kwargs, argument):
    name = "photos" if "num_crops" in kwargs else "digits"
    with pytest.raises(ValueError, match=rf"^{argument}: expected .*; got {list(kwargs.values())[0]!r}".replace(
            "(", r"\(").replace(")", r"\)")):
        data.load(name, **kwargs)


def test_unexpected_kwarg_for_offline_dataset():
    with pytest.raises(TypeError, match="num_crops"):
        data.load("digits", num_crops=10)


# ---------------------------------------------------------------------------------------------------- checks


def _good(n=2):
    return np.zeros((n, 8, 8, 1), dtype=np.float32)


def test_validate_images_accepts_good_images():
    assert data.validate_images(_good(), expected_shape=(8, 8, 1)) is None
    assert data.validate_images(tf.constant(_good()), expected_shape=(None, 8, 1)) is None


@pytest.mark.parametrize("x, pattern", [
    (np.zeros((8, 8, 1), np.float32), r"rank-4 .*got rank 3 .*x\[None\]"),
    (np.zeros((0, 8, 8, 1), np.float32), r"at least one image; got an empty batch"),
    (np.full((2, 8, 8, 1), 255.0, np.float32), r"\[-1, 1\] \(e\.g\. `x / 127\.5 - 1`.*from 255 to 255"),
    (np.full((2, 8, 8, 1), 255, np.uint8), r"from_uint8"),
])
def test_validate_images_rejects(x, pattern):
    with pytest.raises(ValueError, match=r"^real: expected .*" + pattern):
        data.validate_images(x, argument="real")


def test_validate_images_counts_nan_and_inf():
    x = _good(3)
    x[0, 0, 0, 0] = np.nan
    x[1, 2, 3, 0] = np.nan
    x[2, 1, 1, 0] = -np.inf
    with pytest.raises(ValueError, match=r"^x: expected finite values; got 2 NaN and 1 Inf"):
        data.validate_images(x)


def test_validate_images_out_of_range_reports_min_max():
    x = _good()
    x[0, 0, 0, 0], x[1, 0, 0, 0] = -1.5, 1.25
    with pytest.raises(ValueError, match=r"values from -1\.5 to 1\.25"):
        data.validate_images(x, argument="images")


def test_validate_images_wrong_shape():
    with pytest.raises(ValueError, match=r"^fake: expected .*\(16, 16, 1\); got \(8, 8, 1\)"):
        data.validate_images(_good(), argument="fake", expected_shape=(16, 16, 1))


def test_validate_dataset():
    ds = data.load("digits", batch_size=4, with_labels=True)
    data.validate_dataset(ds, expected_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"^x: expected .*\(16, 16, 1\); got a dataset of shape"):
        data.validate_dataset(ds, expected_shape=(16, 16, 1))
    with pytest.raises(ValueError, match=r"^train: expected .*; got the dataset is empty"):
        data.validate_dataset(ds.take(0), argument="train")
    unbatched = tf.data.Dataset.from_tensor_slices(_good(3))
    with pytest.raises(ValueError, match=r"\.batch\(batch_size\)"):
        data.validate_dataset(unbatched)
    scaled = tf.data.Dataset.from_tensor_slices(np.full((3, 4, 4, 1), 200.0, np.float32)).batch(2)
    with pytest.raises(ValueError, match=r"^real: .*127\.5"):
        data.validate_dataset(scaled, argument="real")
    with_nan = _good(3)
    with_nan[1, 4, 4, 0] = np.nan
    nan_ds = tf.data.Dataset.from_tensor_slices((with_nan, np.arange(3))).batch(3)
    with pytest.raises(ValueError, match=r"^real: expected finite values; got 1 NaN and 0 Inf"):
        data.validate_images(nan_ds, argument="real")  # a dataset is handed on to validate_dataset


# ---------------------------------------------------------------------------------------------------- uint8


def test_uint8_round_trip():
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    floats = data.from_uint8(values)
    assert floats.dtype == np.float32 and floats.min() == -1.0 and floats.max() == 1.0
    assert np.array_equal(data.to_uint8(floats), values)
    assert data.to_uint8(np.array([-3.0, -1.0, 0.0, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]
    assert data.to_uint8(np.zeros(1)).dtype == np.uint8
    with pytest.raises(ValueError, match=r"^images: .*got values from -5 to 10"):
        data.from_uint8(np.array([-5, 10]))


def test_digits_pipeline_runs_without_tf_data_autotuning():
    """In-memory digits turn tf.data autotuning off (it stalled epoch starts by ~1 s; see benchmarks)."""
    ds = data.load("digits", image_size=8, batch_size=64)
    assert ds.options().autotune.enabled is False
    assert sum(int(b.shape[0]) for b in ds) == sum(int(b.shape[0]) for b in ds) > 1000
