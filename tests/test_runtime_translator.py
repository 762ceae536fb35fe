"""The ONNX Runtime image translator: agreement with Keras on padded-and-cropped images of any size, the smallest
side a generator needs, channel and uint8 conversion, files, errors, and translation with TensorFlow and Keras
blocked."""

import json

import keras
import numpy as np
import pytest
from _helpers import BLOCK_HEAVY_IMPORTS, copy_with_metadata, run_python
from PIL import Image

from ganapps import export, images, nets, runtime

TOL = 1e-4


def _export(generator, directory, direction="a2b", multiple=4):
    metadata = {"task": "image_translation", "direction": direction, "in_channels": int(generator.input_shape[-1]),
                "out_channels": int(generator.output_shape[-1]), "size_multiple": multiple}
    export.export_generator(generator, directory, formats=("onnx",), extra_metadata=metadata)
    return directory


def _keras_padded(generator, x, padded_hw):
    """Keras's translation of ``x`` (NHWC float) padded by reflection to ``padded_hw`` as the games pad (the odd
    row or column at the bottom and right), cropped back."""
    h, w = x.shape[1:3]
    ph, pw = padded_hw[0] - h, padded_hw[1] - w
    padded = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="reflect")
    out = keras.ops.convert_to_numpy(generator(padded, training=False))
    return np.clip(out[:, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w], -1, 1)


def _floats(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    """gray -> RGB (as gray2colour): a U-Net of depth 2, size multiple 4."""
    keras.utils.set_random_seed(0)
    generator = nets.unet_generator(in_channels=1, out_channels=3, depth=2, filters=4)
    directory = _export(generator, tmp_path_factory.mktemp("unet") / "export")
    return generator, runtime.load_translator(directory)


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """RGB -> RGB, exported as the b2a generator: one residual block, size multiple 4, smallest side 8."""
    keras.utils.set_random_seed(1)
    generator = nets.resnet_generator(in_channels=3, out_channels=3, blocks=1, filters=4)
    directory = _export(generator, tmp_path_factory.mktemp("resnet") / "export", direction="b2a")
    return generator, runtime.Translator(directory)


def test_unet_translations_match_keras_at_any_size(unet):
    generator, translator = unet
    assert (translator.direction, translator.in_channels, translator.out_channels) == ("a2b", 1, 3)
    assert translator.size_multiple == 4 and translator.value_range == (-1.0, 1.0)
    assert "CPUExecutionProvider" in translator.providers
    x = _floats((5, 12, 8, 1))  # a multiple: no padding
    got = translator.translate(x, batch_size=2)
    assert got.shape == (5, 12, 8, 3) and got.dtype == np.float32
    want = np.clip(keras.ops.convert_to_numpy(generator(x, training=False)), -1, 1)
    assert np.abs(got - want).max() < TOL
    odd = _floats((2, 13, 10, 1), seed=1)  # padded to 16 x 12 by reflection, cropped back
    got = translator.translate(odd)
    assert got.shape == (2, 13, 10, 3)
    assert np.abs(got - _keras_padded(generator, odd, (16, 12))).max() < TOL
    unpadded = np.clip(translator(np.pad(odd, ((0, 0), (0, 3), (0, 2), (0, 0)), mode="edge")), -1, 1)
    assert np.abs(got - unpadded[:, :13, :10]).max() > 1e-3, "padding should be reflection, split top and bottom"
    one = translator.translate(odd[1])  # HxWxC: one image in, one out
    assert one.shape == (13, 10, 3) and np.abs(one - got[1]).max() < 1e-6
    assert np.abs(translator.translate(odd[1, :, :, 0]) - one).max() < 1e-6  # HxW gray


def test_small_images_are_padded_to_the_smallest_side_the_model_runs_on(resnet, tmp_path):
    generator, translator = resnet
    assert translator.direction == "b2a"
    big = _floats((1, 36, 42, 3), seed=2)  # sides of 4 multiples or more never need the smallest side
    got = translator.translate(big)
    assert translator._min_size is None
    assert np.abs(got - _keras_padded(generator, big, (36, 44))).max() < TOL
    tiny = _floats((2, 3, 5, 3), seed=3)
    got = translator.translate(tiny)  # 4 x 8 would fail in the residual blocks' reflection padding
    assert got.shape == (2, 3, 5, 3) and translator.min_size == 8
    assert np.abs(got - _keras_padded(generator, tiny, (8, 8))).max() < TOL
    recorded = runtime.Translator(copy_with_metadata(translator.directory, tmp_path / "min12", min_size=12))
    assert recorded.min_size == 12
    assert np.abs(recorded.translate(tiny) - _keras_padded(generator, tiny, (12, 12))).max() < TOL


def test_uint8_and_channel_conversion(unet, resnet):
    _, gray = unet
    _, rgb = resnet
    pixels = np.random.default_rng(4).integers(0, 256, (10, 14, 3), dtype=np.uint8)
    out = gray.translate(pixels)  # RGB into a gray model: BT.601 luma, as files are read
    assert out.dtype == np.uint8 and out.shape == (10, 14, 3)
    luma = images.convert_channels(pixels, 1)
    np.testing.assert_array_equal(out, gray.translate(luma))
    floats = gray.translate(images.from_uint8(luma))
    assert np.abs(out.astype(int) - images.to_uint8(floats).astype(int)).max() <= 1
    np.testing.assert_array_equal(gray.translate(luma.astype(np.int64)), out)  # integers 0..255 too
    rgba = np.concatenate([pixels, np.full((10, 14, 1), 255, np.uint8)], axis=-1)  # opaque: the same image
    np.testing.assert_array_equal(rgb.translate(rgba), rgb.translate(pixels))
    np.testing.assert_array_equal(rgb.translate(luma), rgb.translate(np.repeat(luma, 3, axis=-1)))  # gray to RGB


def test_translate_file_writes_what_translate_gives(unet, tmp_path):
    _, translator = unet
    pixels = np.random.default_rng(5).integers(0, 256, (11, 9, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    path = translator.translate_file(tmp_path / "in.png", tmp_path / "out" / "translated.png")
    assert path == tmp_path / "out" / "translated.png"
    with Image.open(path) as written:
        assert written.size == (9, 11) and written.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(written), translator.translate(images.read_image(tmp_path / "in.png")))
    with pytest.raises(ValueError, match="out_path: expected a file name ending in one of"):
        translator.translate_file(tmp_path / "in.png", tmp_path / "out.tif")
    with pytest.raises(FileNotFoundError, match="in_path: expected an image file"):
        translator.translate_file(tmp_path / "missing.png", tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_exports_of_other_tasks_and_bad_metadata_are_refused(unet, tmp_path):
    _, translator = unet
    source = translator.directory
    cases = [
        (dict(task=None), "metadata task 'image_translation'.*task None.*ganapps.runtime.load"),
        (dict(task="super_resolution"), "task 'super_resolution'.*runtime.Upscaler"),
        (dict(direction="sideways"), "a 'direction' of 'a2b' or 'b2a'.*'sideways'"),
        (dict(size_multiple=0), "a positive integer 'size_multiple'.*size_multiple 0"),
        (dict(size_multiple=None), "a positive integer 'size_multiple'.*size_multiple None"),
        (dict(in_channels=3), r"one image input \(batch, height, width, 3\).*image \(None, None, None, 1\)"),
        (dict(out_channels=1), r"output has 1 channels.*\(None, None, None, 3\)"),
        (dict(value_range=[1, -1]), "'value_range', if any, is \\[low, high\\]"),
    ]
    for i, (entries, message) in enumerate(cases):
        with pytest.raises(ValueError, match=message):
            runtime.Translator(copy_with_metadata(source, tmp_path / f"case{i}", **entries))
    with pytest.raises(FileNotFoundError, match="directory: expected an export folder"):
        runtime.Translator(tmp_path / "nowhere")


def test_bad_images_are_refused(unet):
    _, translator = unet
    cases = [
        (np.zeros((8, 8, 1), bool), "image: expected a uint8 or float image; got dtype bool"),
        (np.zeros((8,), np.float32), r"image: expected an HxW, HxWxC or NHWC image; got shape \(8,\)"),
        (np.zeros((0, 8, 8, 1), np.float32), r"got shape \(0, 8, 8, 1\)"),
        (np.zeros((8, 8, 5), np.float32), r"image: expected an image of 1, 2, 3 or 4 channels .* \(8, 8, 5\)"),
        (np.full((8, 8, 1), 300), "integer values in 0..255; got values from 300 to 300"),
        (np.full((8, 8, 1), 2.0, np.float32), r"float values in \[-1, 1\] \(or a uint8 image\)"),
        (np.full((8, 8, 1), np.nan, np.float32), "expected finite values; got 64 NaN or Inf values"),
    ]
    for image, message in cases:
        with pytest.raises(ValueError, match=message):
            translator.translate(image)
    with pytest.raises(ValueError, match="batch_size: expected a positive integer"):
        translator.translate(np.zeros((8, 8, 1), np.float32), batch_size=0)


TRANSLATE_WITHOUT_TF = BLOCK_HEAVY_IMPORTS + r"""
from ganapps import runtime
translator = runtime.load_translator(MODEL)
translator.translate_file(IN, OUT)
print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "min_size": translator.min_size}))
"""


def test_translation_runs_without_tensorflow(resnet, tmp_path):
    _, translator = resnet
    pixels = np.random.default_rng(6).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    code = (TRANSLATE_WITHOUT_TF.replace("MODEL", repr(str(translator.directory)))
            .replace("IN", repr(str(tmp_path / "in.png"))).replace("OUT", repr(str(tmp_path / "out.png"))))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"tensorflow": False, "keras": False, "min_size": 8}
    with Image.open(tmp_path / "out.png") as written:
        np.testing.assert_array_equal(np.asarray(written), translator.translate(pixels))
