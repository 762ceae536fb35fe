"""Tiled upscaling (ganapps.tiles) and the ONNX Runtime Upscaler (ganapps.runtime): tiled equals untiled once the
overlap covers the receptive field, seams without it, the Upscaler against Keras, channel conversion, files,
errors, and running with TensorFlow and Keras unimportable."""

import json
import shutil

import keras
import numpy as np
import pytest
from _helpers import run_python
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


def test_receptive_radius_rejects_a_probe_the_field_reaches_across(nets_by_channels):
    fn = _keras_fn(nets_by_channels[3])
    for probe in (2 * RADIUS + 1, 15):  # the field reaches (or passes) the probe's edge
        with pytest.raises(ValueError, match=rf"probe: expected a probe larger than twice the receptive field "
                                             rf"\(it reached the edge of {probe}x{probe}\); got probe={probe}"):
            tiles.receptive_radius(fn, 3, SCALE, probe=probe)
    with pytest.raises(ValueError, match=r"probe: expected a probe larger .*3x3"):
        tiles.receptive_radius(_box_blur, 1, SCALE, probe=3)
    with pytest.raises(ValueError, match=r"probe: expected an odd size of at least 3; got 96"):
        tiles.receptive_radius(fn, 3, SCALE, probe=96)
    with pytest.raises(ValueError, match=r"probe: expected a positive integer; got 0"):
        tiles.receptive_radius(fn, 3, SCALE, probe=0)


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
    for tile in (None, 9):
        recorder = Recorder(lambda x: _nearest(x, 3))
        out = tiles.upscale_tiled(recorder, image, 3, tile=tile, overlap=2, batch_size=2)
        np.testing.assert_array_equal(out, _nearest(image, 3))
        assert recorder.shapes == [(2, 9, 7, 1), (2, 9, 7, 1), (1, 9, 7, 1)]


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
                                         r"\(overlap=4\); got 8"):
        tiles.upscale_tiled(up, image, 2, tile=8, overlap=4)
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
    whole = up.upscale(image, tile=None)
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
    assert np.array_equal(up.upscale(image.astype(np.int64), tile=None), up.upscale(image, tile=None))


def test_channels_are_converted(sr_exports):
    rgb_up, gray_up = runtime.Upscaler(sr_exports[3][1]), runtime.Upscaler(sr_exports[1][1])
    rgb = _rng(8).integers(0, 256, (15, 17, 3), dtype=np.uint8)
    gray = _rng(9).integers(0, 256, (15, 17), dtype=np.uint8)
    rgba = np.concatenate([rgb, _rng(10).integers(0, 256, (15, 17, 1), dtype=np.uint8)], axis=-1)
    np.testing.assert_array_equal(rgb_up.upscale(rgba), rgb_up.upscale(rgb))  # alpha dropped
    as_rgb = rgb_up.upscale(np.repeat(gray[..., None], 3, axis=-1))
    np.testing.assert_array_equal(rgb_up.upscale(gray), as_rgb)  # gray repeated to RGB
    np.testing.assert_array_equal(rgb_up.upscale(gray[..., None]), as_rgb)
    assert as_rgb.shape == (30, 34, 3)
    # RGB to an L model: BT.601 luma, as Pillow computes it (float here, so within a rounding step of Pillow's)
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    out = gray_up.upscale(rgb.astype(np.float32) / 127.5 - 1)
    assert out.shape == (30, 34, 1)
    assert _max_abs(out, gray_up.upscale(luma.astype(np.float32) / 127.5 - 1)) < 0.05
    assert _max_abs(gray_up.upscale(rgba), gray_up.upscale(rgb)) == 0


def test_upscale_file_writes_an_image_of_the_right_size(sr_exports, tmp_path):
    up = runtime.Upscaler(sr_exports[3][1])
    rgb = _rng(11).integers(0, 256, (21, 26, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray(np.concatenate([rgb, np.full((21, 26, 1), 7, np.uint8)], -1)).save(tmp_path / "in_rgba.png")
    written = up.upscale_file(tmp_path / "in.png", tmp_path / "out.png", tile=24, overlap=RADIUS)
    assert written == tmp_path / "out.png"
    with Image.open(written) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (52, 42))
        np.testing.assert_array_equal(np.asarray(result), up.upscale(rgb, tile=24, overlap=RADIUS))
    up.upscale_file(tmp_path / "in_rgba.png", tmp_path / "out_rgba.png")
    with Image.open(tmp_path / "out_rgba.png") as result:
        np.testing.assert_array_equal(np.asarray(result), np.asarray(Image.open(written)))
    with pytest.raises(FileNotFoundError, match=r"in_path: expected an existing image file; got .*missing.png"):
        up.upscale_file(tmp_path / "missing.png", tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"out_path: expected a file name ending in one of .*; got .*out.gif"):
        up.upscale_file(tmp_path / "in.png", tmp_path / "out.gif")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"in_path: expected an image file Pillow can read .*junk.png"):
        up.upscale_file(tmp_path / "junk.png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _with_metadata(directory, tmp_path, **entries):
    """A copy of an export folder with ``entries`` set in (None: removed from) its metadata."""
    copy = shutil.copytree(directory, tmp_path / f"copy{len(list(tmp_path.iterdir()))}")
    metadata = json.loads((copy / "metadata.json").read_text())
    for key, value in entries.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    (copy / "metadata.json").write_text(json.dumps(metadata))
    return copy


def test_default_overlap_comes_from_the_metadata(sr_exports, tmp_path):
    directory = sr_exports[3][1]
    image = _uniform((30, 47, 3), seed=13) * 0.9
    whole = runtime.Upscaler(directory).upscale(image, tile=None)
    assert runtime.Upscaler(_with_metadata(directory, tmp_path, overlap=None)).overlap == 16  # none recorded
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


def test_bad_images_and_non_sr_exports(sr_exports, tmp_path):
    up = runtime.Upscaler(sr_exports[3][1])
    with pytest.raises(ValueError, match=r"image: expected float values in \[-1, 1\] \(or a uint8 image\); got "
                                         r"values from 0 to 255"):
        up.upscale(np.linspace(0, 255, 48, dtype=np.float32).reshape(4, 4, 3))
    with pytest.raises(ValueError, match=r"image: expected integer values in 0..255; got values from -1 to 3"):
        up.upscale(np.array([[-1, 3]]))
    with pytest.raises(ValueError, match=r"image: expected an HxW, HxWxC or NHWC image with 1, 3 or 4 channels; "
                                         r"got shape \(4, 4, 2\)"):
        up.upscale(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match=r"image: expected finite values; got 1 NaN or Inf values"):
        up.upscale(np.array([[np.inf, 0.0]], np.float32))
    with pytest.raises(ValueError, match=r"tile: expected None or an integer of at least 2 \* overlap \+ 1 = 33"):
        up.upscale(np.zeros((4, 4, 3), np.uint8), tile=32)
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
