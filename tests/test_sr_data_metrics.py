"""Tests of the super-resolution data and metrics: data.random_crops, the library's one image reader and channel
converter (images.read_image, images.convert_channels), metrics.rgb_to_y, metrics.sr_quality and
metrics.mean_gradient_magnitude."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganapps import data, images, metrics


def _crops(ds) -> np.ndarray:
    return np.concatenate([batch.numpy() for batch in ds])


def _window_of(crop: np.ndarray, sources: list[np.ndarray]) -> int | None:
    """Index of a source holding ``crop`` as an exact window, or None; candidates found by the first pixel."""
    h, w = crop.shape[:2]
    for index, source in enumerate(sources):
        if source.shape[-1] != crop.shape[-1] or source.shape[0] < h or source.shape[1] < w:
            continue
        head = source[: source.shape[0] - h + 1, : source.shape[1] - w + 1]
        ys, xs = np.nonzero(np.all(head == crop[0, 0], axis=-1))
        if any(np.array_equal(source[y: y + h, x: x + w], crop) for y, x in zip(ys, xs)):
            return index
    return None


def _noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ random_crops


def test_crops_of_a_list_are_exact_windows_of_its_images():
    sources = [_noise((20, 30, 3), 1), _noise((25, 17, 3), 2), _noise((12, 12, 3), 3)]
    ds = data.random_crops(sources, size=8, batch_size=16, num_crops=40, seed=0, flip=False)
    assert tuple(ds.element_spec.shape) == (None, 8, 8, 3)
    crops = _crops(ds)
    assert crops.shape == (40, 8, 8, 3) and crops.dtype == np.float32
    expected = [data.from_uint8(s) for s in sources]  # the [-1, 1] mapping of the uint8 values, nothing resized
    found = [_window_of(crop, expected) for crop in crops]
    assert None not in found
    assert set(found) == {0, 1, 2}  # every image is drawn from


def test_float_images_are_cropped_as_they_are():
    rng = np.random.default_rng(4)
    sources = [rng.uniform(-1, 1, (14, 19, 3)).astype(np.float32), rng.uniform(-1, 1, (16, 11, 3))]
    crops = _crops(data.random_crops(sources, size=9, num_crops=12, seed=1, flip=False))
    expected = [s.astype(np.float32) for s in sources]
    assert all(_window_of(crop, expected) is not None for crop in crops)


def test_flip_mirrors_about_half_of_the_crops():
    image = _noise((8, 8, 3), 5)
    whole, mirrored = data.from_uint8(image), data.from_uint8(image[:, ::-1])
    flipped = _crops(data.random_crops([image], size=8, num_crops=40, seed=0, flip=True))
    is_whole = [np.array_equal(c, whole) for c in flipped]
    is_mirrored = [np.array_equal(c, mirrored) for c in flipped]
    assert all(a or b for a, b in zip(is_whole, is_mirrored))
    assert 8 <= sum(is_mirrored) <= 32
    plain = _crops(data.random_crops([image], size=8, num_crops=8, seed=0, flip=False))
    assert all(np.array_equal(c, whole) for c in plain)


def test_same_seed_same_crops_and_each_epoch_draws_new_ones():
    sources = [_noise((40, 40, 3), 6)]

    def first_epoch(seed):
        return _crops(data.random_crops(sources, size=6, num_crops=8, seed=seed))

    a = data.random_crops(sources, size=6, num_crops=8, seed=3)
    epoch1, epoch2 = _crops(a), _crops(a)
    assert np.array_equal(epoch1, first_epoch(3))
    assert not np.array_equal(epoch1, epoch2)
    assert not np.array_equal(epoch1, first_epoch(4))
    repeated = iter(data.random_crops(sources, size=6, batch_size=8, num_crops=8, seed=3).repeat())
    assert np.array_equal(next(repeated).numpy(), epoch1)  # .repeat() draws new crops too (how games fit on it)
    assert np.array_equal(next(repeated).numpy(), epoch2)


def test_channels_gray_to_rgb_and_rgb_to_luma():
    gray = [_noise((10, 12, 1), 7), _noise((9, 9), 8)]  # HxWx1 and HxW both count as grayscale
    rgb_crops = _crops(data.random_crops(gray, size=5, num_crops=6, seed=0, channels=3))
    assert rgb_crops.shape == (6, 5, 5, 3)
    assert np.array_equal(rgb_crops[..., 0], rgb_crops[..., 1]) and np.array_equal(rgb_crops[..., 0],
                                                                                    rgb_crops[..., 2])
    assert _crops(data.random_crops(gray, size=5, num_crops=2, channels=None)).shape[-1] == 1
    colour = _noise((12, 12, 3), 9)
    luma_crops = _crops(data.random_crops([colour], size=6, num_crops=6, seed=0, channels=1, flip=False))
    luma = np.clip(np.round(colour.astype(np.float64) @ np.array([0.299, 0.587, 0.114])), 0, 255)
    expected = data.from_uint8(luma.astype(np.uint8)[..., None])
    assert luma_crops.shape == (6, 6, 6, 1)
    assert all(_window_of(crop, [expected]) is not None for crop in luma_crops)


def test_photos_gives_crops_of_the_photos_of_the_split():
    photos = [data.from_uint8(p) for p in data.load_photos("test", channels=3)]
    crops = _crops(data.random_crops("photos", size=16, num_crops=4, seed=2, split="test", flip=False))
    assert crops.shape == (4, 16, 16, 3)
    assert all(_window_of(crop, photos) is not None for crop in crops)
    with pytest.raises(ValueError, match=r"^split: "):
        data.random_crops("photos", size=16, split="validation")


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_images_are_decoded_once_and_cropped(tmp_path):
    rgb, gray = _noise((14, 16, 3), 10), _noise((12, 13), 11)
    _save(tmp_path / "a" / "rgb.png", rgb)
    _save(tmp_path / "gray.PNG", gray)
    clear = np.zeros((10, 10, 4), np.uint8)  # black and fully transparent: white once composited
    _save(tmp_path / "clear.png", clear)
    deep = np.random.default_rng(12).integers(0, 65536, (11, 11), dtype=np.uint16)  # 16-bit grayscale PNG
    _save(tmp_path / "deep.png", deep)
    (tmp_path / "notes.txt").write_text("not an image")
    crops = _crops(data.random_crops(tmp_path, size=10, num_crops=40, seed=0, flip=False))
    eight_bit = np.round(deep / 257.0).astype(np.uint8)[..., None]
    expected = [data.from_uint8(rgb), data.from_uint8(np.repeat(gray[..., None], 3, -1)),
                np.ones((10, 10, 3), np.float32), data.from_uint8(np.repeat(eight_bit, 3, -1))]
    found = [_window_of(crop, expected) for crop in crops]
    assert None not in found and set(found) == {0, 1, 2, 3}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"^source: expected a folder with images.*empty folder"):
        data.random_crops(empty, size=4)


def test_images_smaller_than_the_crop_are_named():
    sources = [_noise((20, 20, 3)), _noise((6, 30, 3)), _noise((5, 5, 3))]
    with pytest.raises(ValueError, match=r"^size: .*at most 5\).*got 8, .*2 of 3 images: image 1 \(6x30\), "
                                         r"image 2 \(5x5\)"):
        data.random_crops(sources, size=8)


@pytest.mark.parametrize("source, pattern", [
    ([], r"^source: expected at least one image; got an empty list"),
    (np.zeros((8, 8, 3), np.uint8), r"^source: .*one image\? pass \[image\]"),
    ([np.zeros((8, 8, 3), np.int64)], r"^source: expected uint8 .*image 0 of dtype int64 .*astype"),
    ([np.full((8, 8, 3), 2.0)], r"^source: expected float images in \[-1, 1\].*image 0 with values from 2"),
    ([np.zeros((8, 8, 5), np.uint8)], r"^source: .*1 to 4 channels; got image 0 of shape \(8, 8, 5\)"),
    (42, r"^source: expected 'photos', .*got int"),
    ("digits", r"^source: .*got 'digits', whose images are too small to crop"),
    ("no_such_dataset_xyz", r"^source: .*tensorflow-datasets .*got 'no_such_dataset_xyz'"),
])
def test_bad_sources_are_explained(source, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.random_crops(source, size=4)


@pytest.mark.parametrize("kwargs, argument", [
    ({"size": 0}, "size"), ({"size": 2.5}, "size"), ({"size": True}, "size"), ({"batch_size": 0}, "batch_size"),
    ({"num_crops": 0}, "num_crops"), ({"seed": "x"}, "seed"), ({"flip": "yes"}, "flip"),
    ({"channels": 2}, "channels"), ({"image_key": ""}, "image_key"),
])
def test_bad_arguments_name_themselves(kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: expected "):
        data.random_crops([_noise((8, 8, 3))], **{"size": 4, **kwargs})


def test_a_missing_folder_is_a_missing_path():
    with pytest.raises(FileNotFoundError, match=r"^source: .*'./no_such_images'"):
        data.random_crops("./no_such_images", size=4)


@pytest.fixture
def mock_tfds(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(data, "_network_available", lambda *args: True)  # mock_data never downloads
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        yield tfds


def test_tfds_div2k_crops_come_from_its_hr_images(mock_tfds):
    hr = [data.from_uint8(ex["hr"]) for ex in mock_tfds.as_numpy(mock_tfds.load("div2k/bicubic_x4", split="train"))]
    crops = _crops(data.random_crops("div2k/bicubic_x4", size=5, num_crops=12, seed=0, flip=False,
                                     data_dir="/nonexistent/never/read"))
    assert crops.shape == (12, 5, 5, 3)
    assert all(_window_of(crop, hr) is not None for crop in crops)


def test_tfds_falls_back_to_image_and_lists_the_features_otherwise(mock_tfds):
    crops = _crops(data.random_crops("mnist", size=5, num_crops=3, channels=3))  # no "hr": its "image"
    assert crops.shape == (3, 5, 5, 3) and np.array_equal(crops[..., 0], crops[..., 2])
    with pytest.raises(ValueError, match=r"^image_key: .*'div2k'.*hr, lr\); got 'nope'"):
        data.random_crops("div2k", size=5, image_key="nope")


def test_tfds_offline_fails_fast_and_says_how_to_provide_it(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("tfds.load was called although the data cannot be fetched")

    monkeypatch.setattr(tfds, "load", must_not_be_called)
    monkeypatch.setattr(data, "_network_available", lambda *args: False)
    with pytest.raises(data.DatasetUnavailableError, match=r"^source: .*'div2k'.*no network.*tfds build div2k"):
        data.random_crops("div2k", size=96, data_dir=tmp_path)


# ------------------------------------------------------------------------------------- read_image, convert_channels


def _with_orientation(path, array, orientation):
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)


def test_read_image_turns_by_exif_orientation_and_the_folder_reader_uses_it(tmp_path):
    stored = _noise((6, 10, 3), 20)
    for orientation, turned in ((1, stored), (3, np.rot90(stored, 2)), (6, np.rot90(stored, -1)),
                                (8, np.rot90(stored, 1)), (2, stored[:, ::-1])):
        _with_orientation(tmp_path / f"o{orientation}.png", stored, orientation)
        np.testing.assert_array_equal(images.read_image(tmp_path / f"o{orientation}.png"), turned)
    folder = tmp_path / "folder"
    folder.mkdir()
    _with_orientation(folder / "turned.png", stored, 6)
    crops = _crops(data.random_crops(folder, size=6, num_crops=8, seed=0, flip=False))
    assert crops.shape == (8, 6, 6, 3)
    turned = data.from_uint8(np.rot90(stored, -1))  # 10 x 6 now: crops are windows of the upright picture
    assert all(_window_of(crop, [turned]) is not None for crop in crops)
    assert not all(_window_of(crop, [data.from_uint8(stored)]) is not None for crop in crops)


def test_read_image_composites_transparency_onto_white_and_converts_channels(tmp_path):
    gray, alpha = _noise((5, 7), 21), _noise((5, 7), 22)
    Image.fromarray(np.stack([gray, alpha], -1), "LA").save(tmp_path / "la.png")
    on_white = np.round(gray * (alpha / 255) + 255 * (1 - alpha / 255)).astype(np.uint8)[..., None]
    np.testing.assert_array_equal(images.read_image(tmp_path / "la.png"), on_white)
    np.testing.assert_array_equal(images.read_image(tmp_path / "la.png", channels=3), np.repeat(on_white, 3, -1))
    rgb = _noise((5, 7, 3), 23)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    as_luma = images.read_image(tmp_path / "rgb.png", channels=1)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"))[..., None]  # Pillow's own BT.601, in integers
    assert as_luma.shape == (5, 7, 1) and np.abs(as_luma.astype(int) - pillow).max() <= 1
    palette = Image.fromarray(rgb).convert("P")
    palette.save(tmp_path / "palette.png", transparency=int(np.asarray(palette)[0, 0]))  # one colour see-through
    read = images.read_image(tmp_path / "palette.png")
    assert read.shape == (5, 7, 3) and (read[0, 0] == 255).all()
    opaque = np.asarray(palette.convert("RGB"))
    kept = np.asarray(palette) != np.asarray(palette)[0, 0]
    np.testing.assert_array_equal(read[kept], opaque[kept])


def test_read_image_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^photo: expected an image file .*nope.png', which does not "
                                                r"exist$"):
        images.read_image(tmp_path / "nope.png", argument="photo")
    with pytest.raises(FileNotFoundError, match=r"^path: expected an image file .*, which is a folder$"):
        images.read_image(tmp_path)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError, match=r"^path: expected an image file Pillow can read .*junk.png', which could "
                                         r"not be read \("):
        images.read_image(tmp_path / "junk.png")
    with pytest.raises(ValueError, match=r"^path: expected the path of an image file; got int 3"):
        images.read_image(3)
    with pytest.raises(ValueError, match=r"^channels: expected None, 1 \(grayscale\) or 3 \(RGB\); got 4"):
        images.read_image(tmp_path / "nope.png", channels=4)


def test_convert_channels_treats_uint8_and_float_alike():
    rgba = _noise((2, 6, 5, 4), 24)  # a batch: any leading axes
    as_uint8 = images.convert_channels(rgba, 3)
    assert as_uint8.dtype == np.uint8 and as_uint8.shape == (2, 6, 5, 3)
    as_float = images.convert_channels(data.from_uint8(rgba), 3)
    assert as_float.dtype == np.float32 and np.abs(data.to_uint8(as_float).astype(int) - as_uint8).max() <= 1
    unit = images.convert_channels(rgba.astype(np.float32) / 255, 3, value_range=(0.0, 1.0))  # white is 1 here
    assert np.abs(np.round(unit * 255).astype(int) - as_uint8).max() <= 1
    luma = images.convert_channels(rgba, 1)
    expected = np.round(np.round(as_uint8.astype(np.float64)) @ images.LUMA).astype(np.uint8)[..., None]
    np.testing.assert_array_equal(luma, expected)  # composited first, then BT.601 luma
    assert images.LUMA.tolist() == [0.299, 0.587, 0.114] and sum(images.LUMA) == pytest.approx(1.0)
    gray = _noise((4, 4, 1), 25)
    assert images.convert_channels(gray, 1) is gray and images.convert_channels(gray, None) is gray
    np.testing.assert_array_equal(images.convert_channels(gray, 3), np.repeat(gray, 3, -1))
    with pytest.raises(ValueError, match=r"^x: expected images with 1 \(gray\), 2 \(gray\+alpha\), 3 \(RGB\) "
                                         r"or 4 \(RGBA\) channels, channels last; got shape \(4, 4, 5\)"):
        images.convert_channels(np.zeros((4, 4, 5), np.uint8), 3, argument="x")
    with pytest.raises(ValueError, match=r"^image: expected uint8 \(0..255\) or float pixels; got dtype int64"):
        images.convert_channels(np.zeros((4, 4, 3), np.int64), 1)


# ------------------------------------------------------------------------------------------------ rgb_to_y


def test_rgb_to_y_matches_skimage_bt601():
    from skimage.color import rgb2ycbcr

    rgb = _noise((2, 7, 9, 3), 12)
    expected = rgb2ycbcr(rgb)[..., 0]
    y = metrics.rgb_to_y(rgb, data_range=255)
    assert y.shape == (2, 7, 9, 1) and y.dtype == np.float64
    assert np.allclose(y[..., 0], expected, atol=1e-9)
    assert np.allclose(metrics.rgb_to_y(data.from_uint8(rgb))[..., 0], expected, atol=1e-4)  # [-1, 1] input
    gray = rgb[..., :1]
    assert np.allclose(metrics.rgb_to_y(gray, 255)[..., 0], rgb2ycbcr(np.repeat(gray, 3, -1))[..., 0], atol=1e-9)
    assert metrics.rgb_to_y(np.zeros((1, 2, 2, 3)), 1).min() == 16.0
    assert np.allclose(metrics.rgb_to_y(np.ones((1, 2, 2, 3)), 1), 235.0)


def test_rgb_to_y_rejects_a_wrong_range_or_shape():
    with pytest.raises(ValueError, match=r"^images: expected values in \[-1, 1\].*data_range=255"):
        metrics.rgb_to_y(_noise((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"^images: .*add a batch axis"):
        metrics.rgb_to_y(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"^images: expected images with 1 or 3 channels"):
        metrics.rgb_to_y(np.zeros((1, 4, 4, 2)))


# ------------------------------------------------------------------------------------------------ sr_quality


def test_identical_images_score_infinite_psnr_and_ssim_one():
    rng = np.random.default_rng(13)
    batch = rng.uniform(-1, 1, (2, 24, 24, 3))
    scores = metrics.sr_quality(batch, batch, scale=4)
    assert np.all(np.isinf(scores["psnr"])) and np.allclose(scores["ssim"], 1.0)
    images = [rng.uniform(-1, 1, (20, 28, 3)), rng.uniform(-1, 1, (32, 17, 1))]  # different sizes, a list
    scores = metrics.sr_quality(images, images, scale=2)
    assert scores["psnr"].shape == (2,) and np.all(np.isinf(scores["psnr"])) and np.allclose(scores["ssim"], 1)


def test_psnr_of_a_known_noise_level_is_the_closed_form():
    rng = np.random.default_rng(14)
    hr = np.full((2, 30, 30, 3), 100.0)
    sr = hr + 5.0 * rng.choice([-1.0, 1.0], size=(2, 30, 30, 1))  # the same +-5 on R, G and B: MSE 25
    rgb = metrics.sr_quality(sr, hr, scale=3, y_channel=False, data_range=255)
    assert np.allclose(rgb["psnr"], 10 * np.log10(255 ** 2 / 25.0))
    y = metrics.sr_quality(sr, hr, scale=3, data_range=255)  # luma moves by 5 * 219 / 255
    assert np.allclose(y["psnr"], 10 * np.log10(255 ** 2 / (5.0 * 219 / 255) ** 2))
    assert np.all(y["ssim"] < 1.0) and np.all(y["ssim"] > 0.0)
    in_unit = metrics.sr_quality(sr / 127.5 - 1, hr / 127.5 - 1, scale=3)  # [-1, 1]: the same numbers
    assert np.allclose(in_unit["psnr"], y["psnr"]) and np.allclose(in_unit["ssim"], y["ssim"])


def test_the_border_is_left_out():
    rng = np.random.default_rng(15)
    hr = rng.uniform(-1, 1, (1, 24, 24, 3))
    sr = hr.copy()
    sr[:, :4], sr[:, -4:], sr[:, :, :4], sr[:, :, -4:] = 1.0, -1.0, 0.0, 0.5  # every error in a 4-pixel border
    assert np.isinf(metrics.sr_quality(sr, hr, scale=4)["psnr"][0])
    assert np.isfinite(metrics.sr_quality(sr, hr, scale=2)["psnr"][0])
    assert np.isfinite(metrics.sr_quality(sr, hr, scale=4, border=0)["psnr"][0])
    assert np.isinf(metrics.sr_quality(sr, hr, scale=1, border=4)["psnr"][0])


def test_originals_a_little_larger_than_a_multiple_of_scale_are_cut_down():
    rng = np.random.default_rng(16)
    hr = rng.uniform(-1, 1, (35, 34, 3))
    scores = metrics.sr_quality([hr[:32, :32]], [hr], scale=4)
    assert np.isinf(scores["psnr"][0])
    with pytest.raises(ValueError, match=r"^hr\[0\]: expected the shape of sr\[0\]"):
        metrics.sr_quality([hr[:28, :32]], [hr], scale=4)


def test_sr_overshoot_is_clipped_but_a_wrong_range_is_refused():
    hr = np.random.default_rng(17).uniform(-1, 1, (1, 20, 20, 3))
    assert np.isinf(metrics.sr_quality(np.where(hr > 0.9, 1.05, hr), np.where(hr > 0.9, 1.0, hr), 2)["psnr"][0])
    with pytest.raises(ValueError, match=r"^sr\[0\]: expected values in \[-1, 1\].*data_range=255"):
        metrics.sr_quality(hr * 127.5 + 127.5, hr, scale=2)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"scale": 0}, r"^scale: "), ({"border": -1}, r"^border: expected an int >= 0"),
    ({"border": 5}, r"^border: .*11x11"), ({"y_channel": "yes"}, r"^y_channel: "),
    ({"data_range": 0}, r"^data_range: "), ({"hr": np.zeros((3, 20, 20, 3))}, r"^hr: expected one original"),
    ({"sr": np.zeros((20, 20, 3))}, r"^sr: .*add a batch axis"),
])
def test_sr_quality_bad_arguments(kwargs, pattern):
    arguments = {"sr": np.zeros((2, 20, 20, 3)), "hr": np.zeros((2, 20, 20, 3)), "scale": 2, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        metrics.sr_quality(**arguments)


# ------------------------------------------------------------------------------------------------ sharpness


def test_mean_gradient_magnitude_is_zero_when_flat_and_falls_with_blur():
    from scipy.ndimage import gaussian_filter

    assert np.array_equal(metrics.mean_gradient_magnitude(np.full((2, 9, 9, 3), 0.3)), [0.0, 0.0])
    image = data.from_uint8(_noise((1, 32, 32, 3), 18)).astype(np.float64)
    blurred = gaussian_filter(image, sigma=(0, 1.5, 1.5, 0))
    sharp, soft = metrics.mean_gradient_magnitude(np.concatenate([image, blurred]))
    assert soft < 0.5 * sharp


def test_mean_gradient_magnitude_of_a_ramp_is_its_slope():
    ramp = np.tile(3.0 * np.arange(20.0), (10, 1))[..., None]  # luma rising 3 levels per pixel to the right
    rows, cols = np.mgrid[0:10, 0:12]
    diagonal = (3.0 * rows + 3.0 * cols)[..., None]  # 3 right and 3 down: length 3 * sqrt(2)
    scores = metrics.mean_gradient_magnitude([ramp, diagonal], data_range=255)
    assert np.allclose(scores, [3.0, 3.0 * np.sqrt(2)])
    with pytest.raises(ValueError, match=r"^images\[0\]: expected an image of at least 2x2"):
        metrics.mean_gradient_magnitude([np.zeros((1, 5, 3))])
