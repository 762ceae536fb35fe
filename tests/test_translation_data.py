"""Tests of ganapps.data's image-to-image translation data: edges, cartoons, offline paired and unpaired tasks,
aligned and independent crops, paired folders and tensorflow-datasets' cycle_gan (mocked or offline)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganapps import data
from ganapps.images import convert_channels


def _noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _square(size=32, lo=40, hi=200) -> np.ndarray:
    """A bright square on a dark ground: its edges are known exactly (rows and columns 8 and 23)."""
    image = np.full((size, size), lo, np.uint8)
    image[8:24, 8:24] = hi
    return image


def _batches(ds):
    return [tuple(t.numpy() for t in batch) for batch in ds]


def _found_in(crop: np.ndarray, image: np.ndarray) -> tuple[int, int, bool] | None:
    """Where ``crop`` is a window of ``image`` (top, left, mirrored), or None."""
    if crop.shape[-1] != image.shape[-1]:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(image, crop.shape, axis=(0, 1, 2))[:, :, 0]
    for mirrored, candidate in ((False, crop), (True, crop[:, ::-1])):
        hits = np.argwhere((windows == candidate).all(axis=(2, 3, 4)))
        if len(hits):
            return int(hits[0][0]), int(hits[0][1]), mirrored
    return None


# ------------------------------------------------------------------------------------------------- canny_edges


def test_canny_edges_draws_black_lines_on_white_where_the_edges_are():
    edges = data.canny_edges(_square(), sigma=1.0)
    assert edges.shape == (32, 32, 1) and edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    border = np.zeros((32, 32), bool)  # the square's outline, two pixels either side
    border[6:26, 6:26] = True
    border[10:22, 10:22] = False
    ink = edges[..., 0] == 0
    assert ink.any() and not (ink & ~border).any()  # every line pixel lies on the outline
    for rows, cols in ((slice(6, 10), slice(10, 22)), (slice(22, 26), slice(10, 22)),
                       (slice(10, 22), slice(6, 10)), (slice(10, 22), slice(22, 26))):
        assert (edges[rows, cols, 0] == 0).any()
    assert (edges[12:20, 12:20] == 255).all() and (edges[:4] == 255).all()  # flat areas stay white


def test_canny_edges_reads_luma_and_both_value_ranges_alike():
    gray = _square()
    colour = np.stack([gray] * 3, axis=-1)
    expected = data.canny_edges(gray)
    assert np.array_equal(data.canny_edges(colour), expected)
    assert np.array_equal(data.canny_edges(data.from_uint8(colour)), expected)
    # coarser smoothing keeps fewer edge pixels on a textured image
    noisy = _noise((48, 48))
    assert (data.canny_edges(noisy, sigma=3.0) == 0).sum() < (data.canny_edges(noisy, sigma=1.0) == 0).sum()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"sigma": 0}, r"^sigma: expected a finite positive number"),
    ({"sigma": float("nan")}, r"^sigma: expected"),
    ({"image": np.zeros((4, 4, 5), np.uint8)}, r"^image: expected images of shape .*\(4, 4, 5\)"),
    ({"image": np.full((4, 4), 2.0)}, r"^image: expected float images in \[-1, 1\]"),
])
def test_canny_edges_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.canny_edges(**{"image": _square(), **kwargs})


# ----------------------------------------------------------------------------------------------------- cartoon


def _photo_crop(size=64) -> np.ndarray:
    return data.load_photos("test")[1][100: 100 + size, 150: 150 + size]  # chelsea's eye


def test_cartoon_is_deterministic_quantised_and_outlined():
    photo = _photo_crop()
    toon = data.cartoon(photo, levels=4)
    assert toon.shape == photo.shape and toon.dtype == np.uint8
    assert np.array_equal(toon, data.cartoon(photo, levels=4))
    grid = {int(round(k * 255 / 3)) for k in range(4)}
    assert set(np.unique(toon)) <= grid
    black = (toon == 0).all(axis=-1)
    assert 0.01 < black.mean() < 0.5  # outlines drawn, not everything
    without_outlines = data.cartoon(photo, levels=4, edge_sigma=None)
    assert (without_outlines == 0).all(axis=-1).mean() < black.mean()


def test_cartoon_is_a_different_domain_from_the_photograph():
    photo = _photo_crop()
    toon = data.cartoon(photo)
    colours = {tuple(p) for p in photo.reshape(-1, 3)}
    toon_colours = {tuple(p) for p in toon.reshape(-1, 3)}
    assert len(toon_colours) <= 6 ** 3 and len(toon_colours) < len(colours) / 10

    def flat_share(image):  # share of pixels equal to their right neighbour: flat regions
        return (image[:, 1:] == image[:, :-1]).all(axis=-1).mean()
    assert flat_share(toon) > 0.6 > 3 * flat_share(photo)
    # smoothing flattens: without it the rendering keeps more small speckles (colour changes)
    assert flat_share(data.cartoon(photo, smoothing=0)) < flat_share(toon)


def test_cartoon_keeps_grayscale_gray_and_reads_floats():
    gray = data.load_photos("test")[2][200:248, 200:248]  # camera
    toon = data.cartoon(gray)
    assert toon.shape == (48, 48, 1)
    assert np.array_equal(data.cartoon(data.from_uint8(gray)), toon)


@pytest.mark.parametrize("kwargs, argument", [
    ({"levels": 1}, "levels"), ({"levels": 2.5}, "levels"), ({"levels": 300}, "levels"),
    ({"smoothing": -0.1}, "smoothing"), ({"smoothing": "much"}, "smoothing"),
    ({"edge_sigma": 0}, "edge_sigma"), ({"image": np.zeros((3,), np.uint8)}, "image"),
])
def test_cartoon_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: expected"):
        data.cartoon(**{"image": _square(), **kwargs})


# ----------------------------------------------------------------------------- translation_pairs, unpaired_domains


def test_edges2photo_pairs_every_photo_of_the_split_with_its_edges():
    pairs = data.translation_pairs("edges2photo", "test")
    photos = data.load_photos("test", channels=3)
    assert len(pairs) == len(photos) == 3
    for (edges, photo), expected in zip(pairs, photos):
        assert edges.dtype == photo.dtype == np.uint8
        assert photo.shape == expected.shape and np.array_equal(photo, expected)
        assert edges.shape == photo.shape[:2] + (1,)
        assert np.array_equal(edges, data.canny_edges(photo))
        assert 0.5 < (edges == 255).mean() < 0.99  # mostly white paper, some black lines


def test_gray2colour_pairs_only_colour_photos_with_their_luma():
    pairs = data.translation_pairs("gray2colour", "test")
    colour = [p for p in data.load_photos("test") if p.shape[-1] == 3]
    assert len(pairs) == len(colour) == 2  # camera is grayscale: nothing to colourise
    for (gray, photo), expected in zip(pairs, colour):
        assert np.array_equal(photo, expected)
        assert np.array_equal(gray, convert_channels(photo, 1))
        assert gray.shape == photo.shape[:2] + (1,)
    train = data.translation_pairs("gray2colour", "train")
    assert len(train) == sum(p.shape[-1] == 3 for p in data.load_photos("train"))


@pytest.mark.parametrize("call, pattern", [
    (lambda: data.translation_pairs("gray2color"), r"^task: expected one of .*did you mean 'gray2colour'"),
    (lambda: data.translation_pairs("edges2photo", "validation"), r"^split: expected"),
    (lambda: data.unpaired_domains("photo2monet"), r"^task: expected one of 'photo2cartoon'"),
    (lambda: data.unpaired_domains(split="val"), r"^split: expected"),
])
def test_offline_task_bad_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_photo2cartoon_domains_come_from_disjoint_photographs():
    photos, toons = data.unpaired_domains("photo2cartoon", "test")
    sources = dict(zip(data.photo_names("test"), data.load_photos("test", channels=3)))
    assert all(image.dtype == np.uint8 and image.shape[-1] == 3 for image in photos + toons)

    def source_of(image, render):
        matches = [name for name, photo in sources.items()
                   if photo.shape == image.shape and np.array_equal(render(photo), image)]
        assert len(matches) == 1
        return matches[0]
    photo_sources = [source_of(image, lambda p: p) for image in photos]
    toon_sources = [source_of(image, data.cartoon) for image in toons]
    assert not set(photo_sources) & set(toon_sources)  # no (photo, cartoon) pair exists
    assert sorted(photo_sources + toon_sources) == sorted(sources)
    assert abs(len(photos) - len(toons)) <= 1
    # the cartoon side really differs: far fewer colours than any photograph
    assert all(len(np.unique(t.reshape(-1, 3), axis=0)) * 20 < len(np.unique(p.reshape(-1, 3), axis=0))
               for t in toons for p in photos if p.std(axis=-1).mean() > 0)
    again_photos, again_toons = data.unpaired_domains("photo2cartoon", "test")
    again_toons[0][:] = 0  # callers get copies: the cached renderings stay intact
    assert np.array_equal(data.unpaired_domains("photo2cartoon", "test")[1][0], toons[0])


# ------------------------------------------------------------------------------------------------- paired_crops


def _colour_of(gray: np.ndarray) -> np.ndarray:
    """A fixed pixelwise colour mapping: the b side of the aligned toy pairs."""
    return np.concatenate([255 - gray, gray // 2, np.full_like(gray, 7)], axis=-1)


def test_paired_crops_stay_aligned_through_windows_and_flips():
    sources = [_noise((20, 26, 1), seed=1), _noise((17, 15, 1), seed=2)]
    pairs = [(a, _colour_of(a)) for a in sources]
    ds = data.paired_crops(pairs, size=8, batch_size=10, num_crops=30, seed=0, flip=True)
    assert [tuple(s.shape) for s in ds.element_spec] == [(None, 8, 8, 1), (None, 8, 8, 3)]
    batches = _batches(ds)
    assert [len(a) for a, _ in batches] == [10, 10, 10]
    a, b = (np.concatenate(side) for side in zip(*batches))
    assert a.dtype == b.dtype == np.float32 and a.min() >= -1 and b.max() <= 1
    a8, b8 = data.to_uint8(a), data.to_uint8(b)
    assert all(np.array_equal(_colour_of(x), y) for x, y in zip(a8, b8))  # aligned pixel for pixel
    where = [next(filter(None, (_found_in(crop, source) for source in sources))) for crop in a8]
    mirrored = [w[2] for w in where]
    assert 5 < sum(mirrored) < 25  # about half flipped, b with them (the mapping holds on every crop)
    again = _batches(data.paired_crops(pairs, size=8, batch_size=10, num_crops=30, seed=0, flip=True))
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(batches, again))
    other = _batches(data.paired_crops(pairs, size=8, batch_size=10, num_crops=30, seed=1, flip=True))
    assert not np.array_equal(other[0][0], batches[0][0])


def test_paired_crops_mix_uint8_and_float_sides():
    gray = _noise((12, 12, 1), seed=3)
    pairs = [(data.from_uint8(gray), _colour_of(gray))]  # a float in [-1, 1], b uint8
    a, b = next(iter(data.paired_crops(pairs, size=6, batch_size=4, num_crops=4, seed=0)))
    assert np.array_equal(_colour_of(data.to_uint8(a.numpy())[0]), data.to_uint8(b.numpy())[0])


@pytest.mark.parametrize("pairs, kwargs, pattern", [
    ([], {}, r"^pairs: expected a non-empty list"),
    ([(np.zeros((8, 8), np.uint8),)], {}, r"^pairs: expected a list of \(a, b\) image pairs; got pair 0"),
    ([(np.zeros((8, 8), np.uint8), np.zeros((8, 9, 3), np.uint8))], {},
     r"^pairs: expected pairs whose two images have the same height and width.*pair 0 \(8x8 and 8x9\)"),
    ([(np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.uint8))], {"size": 9}, r"^size: .*pair 0 \(8x8\)"),
    ([(np.zeros((8, 8), np.uint8), np.full((8, 8), 3.0))], {}, r"^pairs: expected float images in \[-1, 1\]"),
    ([(np.zeros((8, 8), np.uint8),) * 2], {"flip": 1}, r"^flip: expected True or False"),
    ([(np.zeros((8, 8), np.uint8),) * 2], {"num_crops": 0}, r"^num_crops: expected"),
])
def test_paired_crops_bad_arguments(pairs, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.paired_crops(pairs, **{"size": 4, **kwargs})


def test_paired_crops_of_the_offline_edges2photo_task():
    pairs = data.translation_pairs("edges2photo", "test")
    a, b = next(iter(data.paired_crops(pairs, size=32, batch_size=4, num_crops=4, seed=0)))
    assert a.shape == (4, 32, 32, 1) and b.shape == (4, 32, 32, 3)
    assert set(np.unique(a.numpy())) <= {-1.0, 1.0}  # black lines on white, nothing blended


# ----------------------------------------------------------------------------------------------- unpaired_crops


def test_unpaired_crops_draw_each_domain_independently():
    domain_a = [np.full((16, 16, 3), 30, np.uint8), _noise((18, 20, 3), seed=4)]
    domain_b = [_noise((16, 16, 1), seed=5)]
    ds = data.unpaired_crops(domain_a, domain_b, size=8, batch_size=6, num_crops=12, seed=0, flip=False)
    assert [tuple(s.shape) for s in ds.element_spec] == [(None, 8, 8, 3), (None, 8, 8, 1)]
    batches = _batches(ds)
    assert len(batches) == 2
    a, b = (data.to_uint8(np.concatenate(side)) for side in zip(*batches))
    assert all(_found_in(crop, domain_b[0]) for crop in b)
    assert all((crop == 30).all() or _found_in(crop, domain_a[1]) for crop in a)
    # the same images on both sides still give unrelated crops: each domain has its own draws
    same = _batches(data.unpaired_crops(domain_b, domain_b, size=8, batch_size=12, num_crops=12, seed=0))[0]
    assert sum(np.array_equal(x, y) for x, y in zip(*same)) <= 2
    again = _batches(data.unpaired_crops(domain_a, domain_b, size=8, batch_size=6, num_crops=12, seed=0,
                                         flip=False))
    assert all(np.array_equal(x[i], y[i]) for x, y in zip(batches, again) for i in range(2))
    rgb = next(iter(data.unpaired_crops(domain_a, domain_b, size=8, num_crops=2, channels=3)))
    assert rgb[1].shape == (2, 8, 8, 3)


def test_unpaired_crops_errors_name_the_domain(tmp_path):
    good = [_noise((8, 8, 3))]
    with pytest.raises(ValueError, match=r"^images_b: expected float images in \[-1, 1\]"):
        data.unpaired_crops(good, [np.full((8, 8, 3), 4.0)], size=4)
    with pytest.raises(ValueError, match=r"^images_a: expected at least one image"):
        data.unpaired_crops([], good, size=4)
    with pytest.raises(ValueError, match=r"^images_b: expected a folder with images"):
        data.unpaired_crops(good, tmp_path, size=4)
    # strings that random_crops would read as whole datasets are no domains here: the error names the loaders
    for name in ("photos", "cycle_gan/horse2zebra", ""):
        with pytest.raises(ValueError, match=r"^images_a: expected a list of images or a folder of images \(for "
                                             r"the offline domains call unpaired_domains\(task\), for a "
                                             r"tensorflow-datasets cycle_gan dataset translation_tfds\(name\).*; "
                                             r"got '.*', which is no folder"):
            data.unpaired_crops(name, good, size=4)
    with pytest.raises(FileNotFoundError, match=r"^images_b: expected .*; got '\./missing', which does not exist"):
        data.unpaired_crops(good, "./missing", size=4)
    (tmp_path / "image.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"^images_b: expected .*image.png', which is a file, not a folder"):
        data.unpaired_crops(good, tmp_path / "image.png", size=4)
    with pytest.raises(ValueError, match=r"^channels: expected"):
        data.unpaired_crops(good, good, size=4, channels=2)


# ----------------------------------------------------------------------------------------------- paired_folders


def _save(path, array):
    Image.fromarray(array.squeeze()).save(path)


def test_paired_folders_pairs_by_file_name(tmp_path):
    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    folder_a.mkdir(), folder_b.mkdir()
    expected = {}
    for i, stem in enumerate(["zebra", "apple", "horse"]):
        a, b = _noise((10 + i, 12, 1), seed=i), _noise((10 + i, 12, 3), seed=10 + i)
        _save(folder_a / f"{stem}.png", a)
        _save(folder_b / f"{stem}.bmp", b)  # another format: only the name without extension counts
        expected[stem] = (a, b)
    (folder_a / "notes.txt").write_text("not an image")
    pairs = data.paired_folders(folder_a, folder_b)
    assert len(pairs) == 3
    for (a, b), stem in zip(pairs, sorted(expected)):
        assert np.array_equal(a, expected[stem][0]) and np.array_equal(b, expected[stem][1])
    ds = data.paired_crops(pairs, size=8, batch_size=3, num_crops=3)
    assert [tuple(t.shape) for t in next(iter(ds))] == [(3, 8, 8, 1), (3, 8, 8, 3)]


def test_paired_folders_errors(tmp_path):
    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    folder_a.mkdir(), folder_b.mkdir()
    for stem in ("one", "two", "three"):
        _save(folder_a / f"{stem}.png", _noise((6, 6, 3)))
    for stem in ("one", "four"):
        _save(folder_b / f"{stem}.png", _noise((6, 6, 3)))
    with pytest.raises(ValueError, match=r"^folder_b: expected an image in folder_b for each image in folder_a.*"
                                         r"2 only in folder_a \('three', 'two'\); 1 only in folder_b \('four'\)"):
        data.paired_folders(folder_a, folder_b)
    (folder_b / "four.png").unlink()
    _save(folder_b / "two.png", _noise((6, 6, 3)))
    _save(folder_b / "three.png", _noise((6, 7, 3)))
    with pytest.raises(ValueError, match=r"^folder_b: expected images of the same height and width.*'three' "
                                         r"\(6x6 and 6x7\)"):
        data.paired_folders(folder_a, folder_b)
    _save(folder_a / "one.bmp", _noise((6, 6, 3)))
    with pytest.raises(ValueError, match=r"^folder_a: expected one image per file name.*'one.bmp' and 'one.png'"):
        data.paired_folders(folder_a, folder_b)
    (folder_a / "one.bmp").unlink()
    with pytest.raises(FileNotFoundError, match=r"^folder_b: expected a folder of images; got .*does not exist"):
        data.paired_folders(folder_a, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"^folder_a: expected a folder holding images"):
        data.paired_folders(tmp_path / "empty", folder_b)


# --------------------------------------------------------------------------------------------- translation_tfds


def test_translation_tfds_offline_fails_fast_and_says_how_to_provide_it(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data, "_network_available", lambda *args: False)

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("tfds.load was called although the data cannot be fetched")
    monkeypatch.setattr(tfds, "load", must_not_be_called)
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.translation_tfds("cycle_gan/horse2zebra", data_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("name: could not fetch the tensorflow-datasets dataset 'cycle_gan/horse2zebra'")
    assert "tfds build cycle_gan/horse2zebra" in message and str(tmp_path) in message


@pytest.mark.parametrize("kwargs, pattern", [
    ({"split": "trainA"}, r"^split: expected 'train' \(splits trainA and trainB\) or 'test'"),
    ({"name": ""}, r"^name: expected a tensorflow-datasets name"),
    ({"data_dir": 3}, r"^data_dir: expected a folder path or None"),
])
def test_translation_tfds_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.translation_tfds(**kwargs)


def test_translation_tfds_a_dataset_without_a_b_splits_is_named(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data, "_network_available", lambda *args: True)

    def no_such_split(name, split, **kwargs):
        raise ValueError(f"Unknown split '{split}'. Should be one of ['test', 'train'].")
    monkeypatch.setattr(tfds, "load", no_such_split)
    with pytest.raises(ValueError, match=r"^name: expected a dataset with the splits trainA, trainB.*'mnist'.*"
                                         r"Unknown split 'trainA'"):
        data.translation_tfds("mnist", data_dir=tmp_path)


def test_translation_tfds_reads_the_a_and_b_splits_via_mock(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data, "_network_available", lambda *args: True)  # mock_data never downloads
    requested = []
    real_load = data._tfds_load

    def recording_load(name, split, *args, **kwargs):
        requested.append((name, split))
        return real_load(name, split, *args, **kwargs)
    monkeypatch.setattr(data, "_tfds_load", recording_load)
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        horses, zebras = data.translation_tfds("cycle_gan/horse2zebra", split="test")
    assert requested[:2] == [("cycle_gan/horse2zebra", "testA"), ("cycle_gan/horse2zebra", "testB")]
    assert len(horses) == len(zebras) == 3
    assert all(image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3 for image in horses + zebras)
    size = min(min(image.shape[:2]) for image in horses + zebras)
    a, b = next(iter(data.unpaired_crops(horses, zebras, size=size, batch_size=2, num_crops=2)))
    assert a.shape == b.shape == (2, size, size, 3)
