"""Tiled upscaling (ganapps.tiles) and the ONNX Runtime Upscaler (ganapps.runtime): tiled equals untiled once the
overlap covers the receptive field, seams without it, the Upscaler against Keras, channel conversion, files,
errors, and running with TensorFlow and Keras unimportable."""

import json
import re
import warnings

import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from _helpers import copy_with_metadata, run_python
from PIL import Image

from ganapps import export, images, nets, runtime, tiles
from ganapps.games.srgan import SRGAN

# srresnet_generator(scale=2, filters=8, blocks=1): radii in low-resolution pixels along the longest path are
# head 9x9 conv 4 + residual block's two 3x3 convs 2 + trunk 3x3 conv 1 + upsampling 3x3 conv 1 (all at low
# resolution) + the 9x9 tail conv at high resolution, 4 high-resolution pixels = 2 low-resolution ones: 10.
RADIUS = 10
SCALE = 2


def _rng(seed=0):
    return np.random.default_rng(seed)


def _uniform(shape, seed=0):
    return _rng(seed).uniform(-1, 1, shape).astype("float32")


def _max_abs(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


class Recorder:
    """Wraps a tile function and records the batch shapes it was called on."""

    def __init__(self, fn):
        self.fn = fn
        self.shapes = []

    def __call__(self, batch):
        self.shapes.append(batch.shape)
        return self.fn(batch)


@pytest.fixture(scope="module")
def nets_by_channels():
    keras.utils.set_random_seed(0)
    return {c: nets.srresnet_generator(scale=SCALE, channels=c, filters=8, blocks=1, input_skip=None)
            for c in (3, 1)}


def _keras_fn(net):
    return lambda x: keras.ops.convert_to_numpy(net(x, training=False))


def _nearest(x, scale=SCALE):
    return np.repeat(np.repeat(x, scale, axis=-3), scale, axis=-2)


# -- geometry ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length, tile, overlap", [(11, 5, 0), (32, 31, 10), (45, 24, 10), (24, 24, 10),
                                                   (25, 24, 10), (100, 21, 10), (7, 3, 1), (1, 3, 1)])
def test_spans_partition_the_axis_with_overlap_inside_inner_edges(length, tile, overlap):
    spans = tiles.spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[0][2] == 0 and spans[-1][1] == length and spans[-1][3] == length
    for (_, _, _, core_stop), (_, _, next_start, _) in zip(spans, spans[1:]):
        assert core_stop == next_start  # cores partition [0, length)
    for lo, hi, c0, c1 in spans:
        assert 0 <= lo <= c0 < c1 <= hi <= length and hi - lo <= tile
        assert lo == 0 or c0 - lo >= overlap
        assert hi == length or hi - c1 >= overlap
    if length <= tile:
        assert spans == [(0, length, 0, length)]


def test_receptive_field_radius_is_as_stated(nets_by_channels):
    """The radius the overlap must cover: one low-resolution pixel changes outputs exactly RADIUS pixels away."""
    fn = _keras_fn(nets_by_channels[3])
    x = _uniform((1, 41, 41, 3))
    nudged = x.copy()
    nudged[0, 20, 20] += 1.0
    changed = np.abs(fn(nudged) - fn(x)).max(axis=-1)[0] > 0
    rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    for idx in (rows, cols):
        assert (idx.min() // SCALE, idx.max() // SCALE) == (20 - RADIUS, 20 + RADIUS)


def _box_blur(x):
    """A 3x3 mean with zero padding, then nearest upscaling: receptive radius 1."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = x.shape[1:3]
    return _nearest(sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9)


def test_receptive_radius_measures_the_radius(nets_by_channels):
    for channels, net in nets_by_channels.items():
        assert tiles.receptive_radius(_keras_fn(net), channels, SCALE) == RADIUS, channels
        assert tiles.receptive_radius(_keras_fn(net), channels, SCALE, probe=2 * RADIUS + 3) == RADIUS
    assert tiles.receptive_radius(_box_blur, 2, SCALE, probe=5) == 1
    assert tiles.receptive_radius(lambda x: _nearest(3 * x - 1), 1, SCALE, probe=3) == 0  # pixelwise


def _box(radius, scale=1):
    """A (2 radius + 1)-square box sum with zero padding, then nearest upscaling: receptive radius ``radius``,
    a contiguous field as convolutions have. Separable window sums, so each output reads only its window."""
    def fn(x):
        k = 2 * radius + 1
        padded = np.pad(np.asarray(x, np.float64), ((0, 0), (radius, radius), (radius, radius), (0, 0)))
        rows = sliding_window_view(padded, k, axis=1).sum(-1)
        return _nearest(sliding_window_view(rows, k, axis=2).sum(-1), scale)
    return fn


def test_receptive_radius_grows_the_probe_until_the_field_fits(nets_by_channels):
    for radius in (3, 60):
        np.testing.assert_allclose(_box(radius)(np.ones((1, 9, 9, 1)))[0, 4, 4, 0], min(9, 2 * radius + 1) ** 2)
    wide = Recorder(_box(60, SCALE))
    assert tiles.receptive_radius(wide, 2, SCALE) == 60
    # 97 (centre 48) is too small, seen at the first base already; 193 fits: three bases, two calls each
    assert [shape[1] for shape in wide.shapes] == [97] * 2 + [193] * 6
    assert all(shape == (1, shape[1], shape[1], 2) for shape in wide.shapes)
    fn = _keras_fn(nets_by_channels[3])
    assert tiles.receptive_radius(fn, 3, SCALE, probe=15) == RADIUS  # 15 -> 29
    too_wide = Recorder(_box(200))
    with pytest.raises(ValueError, match=r"probe: expected a probe larger than twice the receptive field \(the "
                                         r"field reached the edge of every probe tried: 97x97, 193x193, 385x385\); "
                                         r"pass a larger probe, or tile with an explicit overlap; got probe=97"):
        tiles.receptive_radius(too_wide, 1, 1)
    assert sorted({shape[1] for shape in too_wide.shapes}) == [97, 193, 385]
    assert tiles.receptive_radius(_box(200), 1, 1, probe=403) == 200  # a larger first probe measures it
    with pytest.raises(ValueError, match=r"probe: expected a probe larger .*5x5, 9x9, 17x17"):
        tiles.receptive_radius(_box(9, SCALE), 1, SCALE, probe=5)
    with pytest.raises(ValueError, match=r"probe: expected an odd size of at least 3; got 96"):
        tiles.receptive_radius(fn, 3, SCALE, probe=96)
    with pytest.raises(ValueError, match=r"probe: expected a positive integer; got 0"):
        tiles.receptive_radius(fn, 3, SCALE, probe=0)
    with pytest.raises(ValueError, match=r"fn: expected a function .*; got str 'net'"):
        tiles.receptive_radius("net", 3, SCALE)
    with pytest.raises(ValueError, match=r"channels: expected a positive integer; got 0"):
        tiles.receptive_radius(fn, 0, SCALE)


def _dead_at_zero(x):
    """x plus, 4 rows lower, a ReLU unit over each 3x3 window that is dead unless the window sums above 1.1:
    receptive radius 4 + 1 = 5. One pixel bumped by 1 on a zero image never wakes the unit."""
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    unit = np.maximum(sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) - 1.1, 0.0)
    below = np.zeros_like(unit)
    below[:, 4:] = unit[:, :-4]
    return _nearest(x + below)


def test_receptive_radius_sees_past_units_dead_at_zero():
    """Measured on a zero image alone (the old way) the field of ``_dead_at_zero`` looks like one pixel; the
    random bases wake the unit and find all of it."""
    probe, centre = 21, 10
    zero = np.zeros((1, probe, probe, 3), np.float32)
    bumped = zero.copy()
    bumped[0, centre, centre] = 1.0
    moved = np.nonzero(np.abs(_dead_at_zero(bumped) - _dead_at_zero(zero)).max(axis=(0, 3)) > 0)
    assert {(r // SCALE, c // SCALE) for r, c in zip(*moved)} == {(centre, centre)}  # only the pixel itself
    assert tiles.receptive_radius(_dead_at_zero, 3, SCALE, probe=probe) == 5
    assert tiles.receptive_radius(_dead_at_zero, 3, SCALE) == 5  # the same at the default probe: seeded bases


# -- tiled equals untiled ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, tile, overlap, batch_size", [
    ((37, 29, 3), 24, RADIUS, 4),          # tiles that do not divide the image; one HxWxC image
    ((1, 32, 32, 3), 31, RADIUS, 2),       # one pixel more than a tile each way: a 1-pixel remainder
    ((2, 30, 41, 3), 25, RADIUS + 2, 3),   # a batch, wider overlap than needed, batches across images
    ((23, 26, 1), 21, RADIUS, 5),          # grayscale, the smallest tile the overlap allows (1-pixel cores)
])
def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field(nets_by_channels, shape, tile, overlap,
                                                                      batch_size):
    image = _uniform(shape, seed=1)
    fn = _keras_fn(nets_by_channels[shape[-1]])
    whole = fn(image[None] if image.ndim == 3 else image)
    recorder = Recorder(fn)
    tiled = tiles.upscale_tiled(recorder, image, SCALE, tile=tile, overlap=overlap, batch_size=batch_size)
    assert tiled.dtype == np.float32
    assert tiled.shape == (whole[0] if image.ndim == 3 else whole).shape
    assert _max_abs(tiled, whole[0] if image.ndim == 3 else whole) < 1e-5
    assert sum(s[0] for s in recorder.shapes) > (1 if image.ndim == 3 else len(image))  # it did tile
    assert all(s[0] <= batch_size and s[1] <= tile and s[2] <= tile for s in recorder.shapes)


def test_seams_show_when_overlap_is_below_the_receptive_field(nets_by_channels):
    image = _uniform((37, 29, 3), seed=2)
    fn = _keras_fn(nets_by_channels[3])
    whole = fn(image[None])[0]
    assert _max_abs(tiles.upscale_tiled(fn, image, SCALE, tile=16, overlap=0), whole) > 0.05
    assert _max_abs(tiles.upscale_tiled(fn, image, SCALE, tile=24, overlap=RADIUS - 1), whole) > 1e-4
    assert _max_abs(tiles.upscale_tiled(fn, image, SCALE, tile=24, overlap=RADIUS), whole) < 1e-5


def test_pointwise_function_stitches_every_pixel_in_place():
    """A function of each pixel alone is exact for any tiling: a misplaced or missing core would show. The
    11 x 13 image in tiles of 5 without overlap leaves 1-pixel remainder tiles."""
    image = _uniform((2, 11, 13, 3), seed=3)
    recorder = Recorder(lambda x: _nearest(2 * x + 1)[..., :2])
    out = tiles.upscale_tiled(recorder, image, SCALE, tile=5, overlap=0, batch_size=4)
    np.testing.assert_array_equal(out, _nearest(2 * image + 1)[..., :2])
    # rows [0, 5), [5, 10), [10, 11); columns [0, 5), [5, 10), [10, 13); equal shapes batched across images
    assert sorted(recorder.shapes) == sorted([(4, 5, 5, 3)] * 2 + [(4, 5, 3, 3), (4, 1, 5, 3), (2, 1, 3, 3)])


def test_whole_images_when_tile_is_none_or_the_image_fits():
    image = _uniform((5, 9, 7, 1), seed=4)
    for tile, overlap in ((None, 2), (9, 2), (9, 30)):  # an image that fits in one tile ignores the overlap
        recorder = Recorder(lambda x: _nearest(x, 3))
        out = tiles.upscale_tiled(recorder, image, 3, tile=tile, overlap=overlap, batch_size=2)
        np.testing.assert_array_equal(out, _nearest(image, 3))
        assert recorder.shapes == [(2, 9, 7, 1), (2, 9, 7, 1), (1, 9, 7, 1)]
    with pytest.raises(ValueError, match=r"tile: expected None or an integer of at least 2 \* overlap \+ 1 = 61 "
                                         r"\(overlap=30\) to tile 10x7 images; got 9"):
        tiles.upscale_tiled(_nearest, _uniform((10, 7, 1)), 2, tile=9, overlap=30)  # one row too many


def test_bad_arguments():
    image = _uniform((8, 8, 3))
    up = _nearest
    with pytest.raises(ValueError, match=r"fn: expected a function .*; got int 3"):
        tiles.upscale_tiled(3, image, 2)
    with pytest.raises(ValueError, match=r"scale: expected a positive integer; got 0"):
        tiles.upscale_tiled(up, image, 0)
    with pytest.raises(ValueError, match=r"overlap: expected a non-negative integer; got -1"):
        tiles.upscale_tiled(up, image, 2, overlap=-1)
    with pytest.raises(ValueError, match=r"overlap: expected a non-negative integer; got 1.5"):
        tiles.upscale_tiled(up, image, 2, overlap=1.5)
    with pytest.raises(ValueError, match=r"tile: expected None or an integer of at least 2 \* overlap \+ 1 = 9 "
                                         r"\(overlap=4\) to tile 8x9 images; got 7"):
        tiles.upscale_tiled(up, _uniform((8, 9, 3)), 2, tile=7, overlap=4)
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=rf"tile: expected None or a positive integer; got {bad!r}"):
            tiles.upscale_tiled(up, image, 2, tile=bad)
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer; got 0"):
        tiles.upscale_tiled(up, image, 2, batch_size=0)
    with pytest.raises(ValueError, match=r"image: expected one HxWxC image or an NHWC batch; got shape \(8, 8\)"):
        tiles.upscale_tiled(up, image[..., 0], 2)
    with pytest.raises(ValueError, match=r"image: expected a non-empty image; got shape \(0, 8, 3\)"):
        tiles.upscale_tiled(up, image[:0], 2)
    with pytest.raises(ValueError, match=r"image: expected a numeric .*; got dtype <U1"):
        tiles.upscale_tiled(up, np.full((2, 2, 1), "a"), 2)
    bad = image.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"image: expected finite values; got 1 NaN or Inf values"):
        tiles.upscale_tiled(up, bad, 2)
    with pytest.raises(ValueError, match=r"fn: expected an output of shape \(1, 24, 24, C\) for input tiles of "
                                         r"shape \(1, 8, 8, 3\) at scale 3; got shape \(1, 16, 16, 3\)"):
        tiles.upscale_tiled(up, image, 3)
    with pytest.raises(ValueError, match=r"length: expected a positive integer; got 0"):
        tiles.spans(0, 4, 1)


# -- the ONNX Runtime Upscaler -------------------------------------------------------------------------------
def _sr_game(channels: int) -> SRGAN:
    """A tiny SRGAN whose generator has a bicubic input skip and a random (not zero) tail, so both the ONNX
    Resize and the network show in the output."""
    keras.utils.set_random_seed(channels)
    generator = nets.srresnet_generator(scale=SCALE, channels=channels, filters=8, blocks=1, input_skip="bicubic")
    tail = generator.get_layer("tail_conv")
    tail.set_weights([_uniform(w.shape, seed=5) * 0.05 for w in tail.get_weights()])
    discriminator = nets.sr_discriminator((16, 16, channels), width=4, dense=8)
    return SRGAN(generator, discriminator, seed=0)


@pytest.fixture(scope="module")
def sr_exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for channels, name in ((3, "sr"), (1, "sr_gray")):
        game = _sr_game(channels)
        export.export_generator(game, root / name, formats=("onnx",))
        out[channels] = (game.inference_generator, root / name)
    return out


def _keras_upscale(generator, x):
    return np.clip(keras.ops.convert_to_numpy(generator(x[None], training=False))[0], -1, 1)


def test_upscaler_reads_the_export(sr_exports):
    up = runtime.load_upscaler(sr_exports[3][1])
    assert (up.scale, up.channels, up.metadata["task"], up.metadata["channel_order"]) == (2, 3, "super_resolution",
                                                                                           "RGB")
    assert runtime.Upscaler(sr_exports[1][1]).channels == 1
    assert "CPUExecutionProvider" in up.providers


def test_upscale_equals_keras_whole_and_tiled(sr_exports):
    generator, directory = sr_exports[3]
    up = runtime.Upscaler(directory)
    image = _uniform((37, 45, 3), seed=6) * 0.9
    want = _keras_upscale(generator, image)
    whole = up.upscale(image, tile=0)
    assert whole.dtype == np.float32 and whole.shape == (74, 90, 3)
    assert _max_abs(whole, want) < 1e-4
    assert np.abs(whole).max() <= 1.0 and _max_abs(whole, _nearest(image)) > 0.05  # clipped, and not trivial
    tiled = up.upscale(image, tile=24, overlap=RADIUS, batch_size=3)
    assert _max_abs(tiled, whole) < 1e-5
    batch = up.upscale(np.stack([image, -image]), tile=24, overlap=RADIUS)
    assert batch.shape == (2, 74, 90, 3) and _max_abs(batch[0], whole) < 1e-5


def test_uint8_path(sr_exports):
    generator, directory = sr_exports[3]
    up = runtime.Upscaler(directory)
    image = _rng(7).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    out = up.upscale(image, tile=24, overlap=RADIUS)
    assert out.dtype == np.uint8 and out.shape == (38, 46, 3)
    want = images.to_uint8(_keras_upscale(generator, images.from_uint8(image)))
    diff = np.abs(out.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99  # at most a rounding step apart
    assert np.array_equal(up.upscale(image.astype(np.int64), tile=0), up.upscale(image, tile=0))


def test_channels_are_converted(sr_exports):
    rgb_up, gray_up = runtime.Upscaler(sr_exports[3][1]), runtime.Upscaler(sr_exports[1][1])
    rgb = _rng(8).integers(0, 256, (15, 17, 3), dtype=np.uint8)
    gray = _rng(9).integers(0, 256, (15, 17), dtype=np.uint8)
    alpha = _rng(10).integers(0, 256, (15, 17, 1), dtype=np.uint8)
    rgba = np.concatenate([rgb, alpha], axis=-1)
    # alpha composited onto white, as the library's reader does: a transparent pixel is white, an opaque one kept
    on_white = np.round(rgb * (alpha / 255.0) + 255.0 * (1 - alpha / 255.0)).astype(np.uint8)
    np.testing.assert_array_equal(images.convert_channels(rgba, 3), on_white)
    np.testing.assert_array_equal(rgb_up.upscale(rgba), rgb_up.upscale(on_white))
    assert not np.array_equal(rgb_up.upscale(rgba), rgb_up.upscale(rgb))  # not merely dropped
    as_float = rgb_up.upscale(images.from_uint8(rgba))  # float RGBA: the same compositing in the value range
    assert _max_abs(as_float, rgb_up.upscale(images.from_uint8(on_white))) < 0.02
    gray_alpha = np.concatenate([gray[..., None], alpha], axis=-1)
    gray_on_white = images.convert_channels(gray_alpha, None)
    assert gray_on_white.shape == (15, 17, 1)
    np.testing.assert_array_equal(rgb_up.upscale(gray_alpha), rgb_up.upscale(np.repeat(gray_on_white, 3, -1)))
    as_rgb = rgb_up.upscale(np.repeat(gray[..., None], 3, axis=-1))
    np.testing.assert_array_equal(rgb_up.upscale(gray), as_rgb)  # gray repeated to RGB
    np.testing.assert_array_equal(rgb_up.upscale(gray[..., None]), as_rgb)
    assert as_rgb.shape == (30, 34, 3)
    # RGB to an L model: BT.601 luma, as Pillow computes it (float here, so within a rounding step of Pillow's)
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    out = gray_up.upscale(rgb.astype(np.float32) / 127.5 - 1)
    assert out.shape == (30, 34, 1)
    assert _max_abs(out, gray_up.upscale(luma.astype(np.float32) / 127.5 - 1)) < 0.05
    assert _max_abs(gray_up.upscale(rgba), gray_up.upscale(on_white)) == 0


def test_upscale_file_writes_an_image_of_the_right_size(sr_exports, tmp_path):
    up = runtime.Upscaler(sr_exports[3][1])
    rgb = _rng(11).integers(0, 256, (21, 26, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    rgba = np.concatenate([rgb, np.full((21, 26, 1), 7, np.uint8)], -1)  # nearly transparent: nearly white
    Image.fromarray(rgba).save(tmp_path / "in_rgba.png")
    written = up.upscale_file(tmp_path / "in.png", tmp_path / "out.png", tile=24, overlap=RADIUS)
    assert written == tmp_path / "out.png"
    with Image.open(written) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (52, 42))
        np.testing.assert_array_equal(np.asarray(result), up.upscale(rgb, tile=24, overlap=RADIUS))
    up.upscale_file(tmp_path / "in_rgba.png", tmp_path / "out_rgba.png")
    with Image.open(tmp_path / "out_rgba.png") as result:
        np.testing.assert_array_equal(np.asarray(result), up.upscale(images.convert_channels(rgba, 3)))
        assert np.asarray(result).mean() > 200  # white showed through
    gif = Image.fromarray(rgb).convert("P")
    gif.save(tmp_path / "in.gif")
    up.upscale_file(tmp_path / "in.gif", tmp_path / "from_gif.png")
    with Image.open(tmp_path / "from_gif.png") as result:
        np.testing.assert_array_equal(np.asarray(result), up.upscale(np.asarray(gif.convert("RGB"))))
    with pytest.raises(FileNotFoundError, match=r"in_path: expected an image file .*; got .*missing.png'"
                                                r", which does not exist"):
        up.upscale_file(tmp_path / "missing.png", tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"out_path: expected a file name ending in one of .*; got .*out.gif"):
        up.upscale_file(tmp_path / "in.png", tmp_path / "out.gif")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"in_path: expected an image file Pillow can read .*junk.png', which "
                                         r"could not be read"):
        up.upscale_file(tmp_path / "junk.png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _with_metadata(directory, tmp_path, **entries):
    """A copy of an export folder with ``entries`` set in (None: removed from) its metadata."""
    return copy_with_metadata(directory, tmp_path / f"copy{len(list(tmp_path.iterdir()))}", **entries)


def test_default_overlap_comes_from_the_metadata(sr_exports, tmp_path):
    directory = sr_exports[3][1]
    image = _uniform((30, 47, 3), seed=13) * 0.9
    whole = runtime.Upscaler(directory).upscale(image, tile=0)
    unrecorded = runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=None))
    assert unrecorded.overlap == 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an image in one tile, an explicit overlap: nothing to warn about
        unrecorded.upscale(image)
        unrecorded.upscale(image, tile=24, overlap=RADIUS)
    with pytest.warns(UserWarning, match=r"copy\d+/metadata.json records no 'overlap' .*an overlap of 16 pixels, "
                                         r"so seams may show between tiles; re-export the model"):
        guessed = unrecorded.upscale(image, tile=40)
    assert _max_abs(guessed, unrecorded.upscale(image, tile=40, overlap=16)) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unrecorded.upscale(image, tile=40)
    assert caught == []  # once per Upscaler
    seamless = runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=RADIUS))
    assert seamless.overlap == RADIUS
    assert _max_abs(seamless.upscale(image, tile=24), whole) < 1e-5
    short = runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=3))
    assert short.overlap == 3
    tiled = short.upscale(image, tile=24)
    assert _max_abs(tiled, short.upscale(image, tile=24, overlap=3)) == 0 and _max_abs(tiled, whole) > 1e-3
    assert _max_abs(short.upscale(image, tile=24, overlap=RADIUS), whole) < 1e-5  # an explicit one wins
    Image.fromarray(images.to_uint8(image)).save(tmp_path / "in.png")
    short.upscale_file(tmp_path / "in.png", tmp_path / "short.png", tile=24)
    seamless.upscale_file(tmp_path / "in.png", tmp_path / "seamless.png", tile=24)
    with Image.open(tmp_path / "short.png") as a, Image.open(tmp_path / "seamless.png") as b:
        assert np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() > 1
    for bad in (-1, 2.5, "8", True):
        with pytest.raises(ValueError, match=rf"directory: expected metadata whose 'overlap', if any, is a "
                                             rf"non-negative integer; got .*, whose metadata has overlap "
                                             rf"{bad!r}"):
            runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=bad))


def test_default_tile_comes_from_the_metadata(sr_exports, tmp_path):
    directory = sr_exports[3][1]
    image = _uniform((30, 47, 3), seed=14) * 0.9
    short = runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=3))  # seams show where it tiles
    assert short.tile == 128
    whole = short.upscale(image, tile=0)
    np.testing.assert_array_equal(short.upscale(image), whole)  # 128: one tile
    advised = runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=3, tile=24))
    assert advised.tile == 24
    tiled = advised.upscale(image)
    np.testing.assert_array_equal(tiled, short.upscale(image, tile=24))
    assert _max_abs(tiled, whole) > 1e-3
    np.testing.assert_array_equal(advised.upscale(image, tile=0), whole)  # 0: whole images
    np.testing.assert_array_equal(advised.upscale(image, tile=128), whole)  # an explicit tile wins
    for bad in (0, -3, 2.5, "24", True):
        with pytest.raises(ValueError, match=rf"directory: expected metadata whose 'tile', if any, is a positive "
                                             rf"integer; got .*, whose metadata has tile {re.escape(repr(bad))}"):
            runtime.Upscaler(_with_metadata(directory, tmp_path, tile=bad))
    for bad in (-1, 2.5, "24"):
        with pytest.raises(ValueError, match=rf"tile: expected None \(the export's tile side, 24\), 0 \(whole "
                                             rf"images\) or a positive integer; got {re.escape(repr(bad))}"):
            advised.upscale(image, tile=bad)


def test_fixed_size_exports_and_bad_value_ranges_are_refused(sr_exports, tmp_path):
    import onnx

    directory = sr_exports[3][1]
    fixed = _with_metadata(directory, tmp_path)
    model = onnx.load(str(fixed / "model.onnx"))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = 24, 24  # as a generator built for 24x24 inputs exports
    onnx.save(model, str(fixed / "model.onnx"))
    with pytest.raises(ValueError, match=r"directory: expected a model that takes images of any height and width "
                                         r"\(tiles and whole images vary in size\); got .*copy\d+', whose model "
                                         r"takes \S+ \(None, 24, 24, 3\) only"):
        runtime.Upscaler(fixed)
    with pytest.raises(ValueError, match=r"directory: expected an export that takes images of any height and "
                                         r"width; got .*, whose metadata has dynamic_spatial false"):
        runtime.Upscaler(_with_metadata(directory, tmp_path, dynamic_spatial=False))
    assert runtime.Upscaler(_with_metadata(directory, tmp_path, value_range=[0, 1])).value_range == (0.0, 1.0)
    for bad in ([1, -1], [0, 0], [0], "01", [0, "1"], [0, float("inf")], [False, True]):
        with pytest.raises(ValueError, match=r"directory: expected metadata whose 'value_range', if any, is "
                                             r"\[low, high\] with finite low < high; got .*, whose metadata has "
                                             r"value_range"):
            runtime.Upscaler(_with_metadata(directory, tmp_path, value_range=bad))


def test_bad_images_and_non_sr_exports(sr_exports, tmp_path):
    up = runtime.Upscaler(sr_exports[3][1])
    with pytest.raises(ValueError, match=r"image: expected float values in \[-1, 1\] \(or a uint8 image\); got "
                                         r"values from 0 to 255"):
        up.upscale(np.linspace(0, 255, 48, dtype=np.float32).reshape(4, 4, 3))
    with pytest.raises(ValueError, match=r"image: expected integer values in 0..255; got values from -1 to 3"):
        up.upscale(np.array([[-1, 3]]))
    with pytest.raises(ValueError, match=r"image: expected an HxW, HxWxC or NHWC image with 1, 2, 3 or 4 "
                                         r"channels; got shape \(4, 4, 5\)"):
        up.upscale(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"image: expected finite values; got 1 NaN or Inf values"):
        up.upscale(np.array([[np.inf, 0.0]], np.float32))
    with pytest.raises(ValueError, match=r"tile: expected None or an integer of at least 2 \* overlap \+ 1 = 33 "
                                         r"\(overlap=16\) to tile 40x40 images; got 32"):
        up.upscale(np.zeros((40, 40, 3), np.uint8), tile=32, overlap=16)
    assert up.upscale(np.zeros((32, 32, 3), np.uint8), tile=32, overlap=16).shape == (64, 64, 3)  # one tile
    keras.utils.set_random_seed(0)
    export.export_generator(nets.dcgan_generator(8, (8, 8, 1), width=4), tmp_path / "gan", formats=("onnx",))
    with pytest.raises(ValueError, match=r"directory: expected a super-resolution export \(metadata task "
                                         r"'super_resolution'\); got .*gan', whose metadata has task None "
                                         r"\(a generator export: load it with ganapps.runtime.load\)"):
        runtime.load_upscaler(tmp_path / "gan")
    with pytest.raises(FileNotFoundError, match=r"directory: expected an export folder"):
        runtime.Upscaler(tmp_path / "nowhere")


UPSCALE_WITHOUT_TF = r"""
import json, sys
sys.modules["tensorflow"] = None  # any import of tensorflow or keras now fails
sys.modules["keras"] = None
import numpy as np
from ganapps import runtime
up = runtime.load_upscaler(DIRECTORY)
out = up.upscale(np.load(IMAGE), tile=24, overlap=10)
np.save(OUT, out)
up.upscale_file(PNG_IN, PNG_OUT)
print(json.dumps({"scale": up.scale, "providers": up.providers}))
"""


def test_upscaler_runs_with_tensorflow_and_keras_blocked(sr_exports, tmp_path):
    generator, directory = sr_exports[3]
    image = _uniform((30, 27, 3), seed=12) * 0.9
    np.save(tmp_path / "image.npy", image)
    Image.fromarray(images.to_uint8(image)).save(tmp_path / "in.png")
    code = UPSCALE_WITHOUT_TF
    for key, value in (("PNG_IN", tmp_path / "in.png"), ("PNG_OUT", tmp_path / "out.png"), ("DIRECTORY", directory),
                       ("IMAGE", tmp_path / "image.npy"), ("OUT", tmp_path / "out.npy")):
        code = code.replace(key, repr(str(value)))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["scale"] == SCALE  # imports of either would fail
    assert _max_abs(np.load(tmp_path / "out.npy"), _keras_upscale(generator, image)) < 1e-4
    with Image.open(tmp_path / "out.png") as result:
        assert result.size == (54, 60)
