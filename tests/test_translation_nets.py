"""Image-to-image translation nets and their layers: U-Net, PatchGAN, ResNet generator, reflection padding and
instance normalisation.

Layers are checked against their definitions, the PatchGAN's receptive field is measured by gradients, the
generators are trained for a few steps, saved and loaded through ``.keras``, and exported to ONNX with dynamic
height and width.
"""

import math

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf

from ganapps import export, nets
from ganapps.layers import InstanceNormalization, ReflectionPadding2D, SizeMultiple
from ganapps.nets.unet import min_size, pad_to_multiple

TOL = 1e-4


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _images(n, h, w, c, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, c)).astype("float32")


def _smooth_images(n, size, channels, seed=0) -> np.ndarray:
    """Images of a few soft coloured blobs in [-1, 1]: content a small net learns to map in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size, channels))
    for i in range(n):
        for _ in range(4):
            cy, cx = rng.uniform(0, 1, 2)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
            out[i] += blob[..., None] * rng.uniform(-1, 1, channels)
    return np.clip(out, -1, 1).astype("float32")


def _tiny_unet(**kwargs) -> keras.Model:
    keras.utils.set_random_seed(0)
    return nets.unet_generator(**{"in_channels": 3, "out_channels": 3, "filters": 8, "depth": 3,
                                  "max_filters": 16, **kwargs})


def _tiny_resnet(**kwargs) -> keras.Model:
    keras.utils.set_random_seed(0)
    return nets.resnet_generator(**{"in_channels": 3, "out_channels": 3, "filters": 4, "blocks": 1, **kwargs})


# -- reflection padding -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding, pads", [(1, (1, 1)), (3, (3, 3)), ((2, 1), (2, 1))])
def test_reflection_padding_equals_numpy_reflect(padding, pads):
    x_in = keras.Input((None, None, 2))
    model = keras.Model(x_in, ReflectionPadding2D(padding)(x_in))
    for h, w in ((4, 5), (7, 4)):
        x = _images(2, h, w, 2, seed=h)
        want = np.pad(x, [(0, 0), (pads[0], pads[0]), (pads[1], pads[1]), (0, 0)], mode="reflect")
        np.testing.assert_array_equal(_np(model(x)), want)
    assert ReflectionPadding2D(padding).compute_output_shape((None, 6, None, 2)) == (None, 6 + 2 * pads[0], None, 2)


def test_reflection_padding_needs_a_side_larger_than_the_padding():
    with pytest.raises(ValueError, match=r"inputs: expected a width larger than the reflection padding 3; got 3"):
        ReflectionPadding2D(3)(np.zeros((1, 8, 3, 1), "float32"))


# -- instance normalisation -------------------------------------------------------------------------------------
def test_instance_norm_normalises_each_sample_and_channel_over_space():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 6, 5, 4)) * rng.uniform(0.5, 5, (3, 1, 1, 4)) + rng.uniform(-3, 3, (3, 1, 1, 4)))
    x = x.astype("float32")
    layer = InstanceNormalization()
    out = _np(layer(x))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1, atol=1e-3)
    gamma, beta = rng.uniform(0.5, 2, 4).astype("float32"), rng.uniform(-1, 1, 4).astype("float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(_np(layer(x)), want, atol=1e-4)
    np.testing.assert_allclose(_np(layer(x[1:2])), want[1:2], atol=1e-4)  # no batch statistics
    np.testing.assert_allclose(_np(InstanceNormalization(epsilon=np.float32(1e-5))(x)), _np(InstanceNormalization()(x)),
                               atol=1e-6)  # a NumPy scalar epsilon is a number too
    plain = InstanceNormalization(center=False, scale=False)
    np.testing.assert_allclose(_np(plain(x[:, :, :, :2].reshape(3, 15, 4))),
                               _np(InstanceNormalization()(x[:, :, :, :2].reshape(3, 15, 4))), atol=1e-6)
    assert not plain.weights


def test_instance_norm_computes_statistics_in_float32_under_mixed_precision():
    x = (1000.0 + 400.0 * _images(2, 8, 8, 3)).astype("float32")  # (x - mean)^2 overflows float16 (max 65504)
    want = _np(InstanceNormalization()(x))
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = InstanceNormalization()
        out = layer(x)
        assert layer.compute_dtype == "float16" and out.dtype == "float16"
        assert layer.gamma.dtype == "float32"
        np.testing.assert_allclose(_np(out).astype("float32"), want, atol=0.05)  # float16 input rounding
        generator = _tiny_resnet()
        images = _np(generator(_images(1, 8, 8, 3)))
        assert generator.output.dtype == "float32" and np.isfinite(images).all()
    finally:
        keras.config.set_dtype_policy("float32")


# -- U-Net --------------------------------------------------------------------------------------------------------
def test_unet_keeps_the_size_of_any_multiple_and_refuses_other_sizes():
    model = _tiny_unet(out_channels=1)
    assert nets.unet_multiple(3) == nets.size_multiple(model) == 8
    for h, w in ((8, 8), (16, 24), (32, 8)):
        out = _np(model(_images(2, h, w, 3)))
        assert out.shape == (2, h, w, 1) and np.abs(out).max() <= 1.0
    with pytest.raises(ValueError, match=r"inputs: expected a height and width divisible by 8; got 12x16"):
        model(_images(1, 12, 16, 3))


def test_unet_has_the_pix2pix_structure():
    model = nets.unet_generator(filters=4, depth=5, max_filters=16, dropout_blocks=3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Concatenate") == 4 and kinds.count("Dropout") == 3
    widths = [model.get_layer(f"down{i}_conv").filters for i in range(5)]
    assert widths == [4, 8, 16, 16, 16]
    assert [model.get_layer(f"up{j}_conv").filters for j in range(4)] == widths[-2::-1]
    names = {layer.name for layer in model.layers}
    assert "down0_norm" not in names and "down4_norm" not in names and "down1_norm" in names
    assert isinstance(model.get_layer("up3_norm"), keras.layers.BatchNormalization)
    assert model.get_layer("up0_dropout").rate == 0.5
    assert sum(k == "Dropout" for k in [type(la).__name__ for la in _tiny_unet(dropout_blocks=5).layers]) == 2
    instance = nets.unet_generator(filters=4, depth=2, norm="instance")
    assert isinstance(instance.get_layer("up0_norm"), InstanceNormalization)


def test_unet_dropout_is_its_noise_source():
    x = _images(2, 16, 16, 3)
    model = _tiny_unet(norm="instance")
    a, b = _np(model(x, training=True)), _np(model(x, training=True))
    assert np.abs(a - b).max() > 1e-3
    np.testing.assert_array_equal(_np(model(x)), _np(model(x)))
    quiet = _tiny_unet(norm="instance", dropout=0.0)
    assert "Dropout" not in [type(layer).__name__ for layer in quiet.layers]
    np.testing.assert_array_equal(_np(quiet(x, training=True)), _np(quiet(x, training=True)))


# -- the size rule ------------------------------------------------------------------------------------------------
def test_size_rule_takes_the_least_common_multiple_of_nested_declarations_and_the_largest_minimum():
    x = keras.Input((None, None, 3))
    inner = keras.Model(x, SizeMultiple(6, minimum=7)(x))
    outer = keras.Model(x, inner(SizeMultiple(4)(x)))
    assert nets.size_multiple(outer) == 12 and min_size(outer) == 12  # 7 rounded up to a multiple of 12
    assert nets.size_multiple(_tiny_unet()) == min_size(_tiny_unet()) == 8
    encoder = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, strides=2),
                                keras.layers.MaxPooling2D(3, strides=3)])
    assert nets.size_multiple(encoder) == min_size(encoder) == 6  # no declaration: the strides' product
    layer = SizeMultiple(4, minimum=8)
    assert SizeMultiple.from_config(layer.get_config()).minimum == 8


def test_pad_to_multiple_reflects_centred_and_returns_the_crop_window():
    x = _images(2, 5, 9, 3)
    padded, (rows, cols) = pad_to_multiple(x, 4)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)), mode="reflect"))
    np.testing.assert_array_equal(padded[:, rows, cols], x)
    small, (rows, cols) = pad_to_multiple(x[:, :2, :1], 4, minimum=8)  # up to the minimum, even from 1 pixel
    assert small.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(small[:, rows, cols], x[:, :2, :1])
    same, window = pad_to_multiple(x[:, :4, :8], 4)
    np.testing.assert_array_equal(same, x[:, :4, :8])
    assert window == (slice(0, 4), slice(0, 8))


# -- ResNet generator ---------------------------------------------------------------------------------------------
def test_resnet_generator_keeps_the_size_of_any_multiple_of_four():
    model = _tiny_resnet(in_channels=1, blocks=2)
    assert nets.size_multiple(model) == 4
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Add") == 2 and kinds.count("ReflectionPadding2D") == 6
    assert kinds.count("InstanceNormalization") == 2 * 2 + 5
    for h, w in ((8, 8), (12, 20), (32, 16)):
        out = _np(model(_images(2, h, w, 1)))
        assert out.shape == (2, h, w, 3) and np.abs(out).max() <= 1.0
    with pytest.raises(ValueError, match=r"divisible by 4; got 8x10"):
        model(_images(1, 8, 10, 1))
    assert min_size(model) == 8  # its residual blocks reflect-pad quarter-resolution maps
    with pytest.raises(ValueError, match=r"inputs: expected a height and width of at least 8 .*; got 4x8"):
        model(_images(1, 4, 8, 1))
    assert "BatchNormalization" in [type(la).__name__ for la in _tiny_resnet(norm="batch").layers]


def test_resnet_generator_and_its_gradients_compile_with_xla():
    """Reflection padding, instance normalisation and the size check inside an XLA-compiled training step."""
    model = _tiny_resnet()
    x, target = _images(2, 16, 16, 3), _images(2, 16, 16, 3, seed=1)

    def loss_and_grads(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(x, training=True) - target))
        return loss, tape.gradient(loss, model.trainable_weights)

    eager = loss_and_grads(x)
    compiled = tf.function(loss_and_grads, jit_compile=True)(tf.constant(x))
    np.testing.assert_allclose(_np(compiled[0]), _np(eager[0]), atol=1e-5)
    for got, want in zip(compiled[1], eager[1]):
        np.testing.assert_allclose(_np(got), _np(want), atol=1e-4)


# -- PatchGAN -----------------------------------------------------------------------------------------------------
def _field_of_layers(model: keras.Model) -> int:
    """The receptive field from the built model's own convolutions: each adds (kernel - 1) * jump."""
    field, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            field += (layer.kernel_size[0] - 1) * jump
            jump *= layer.strides[0]
    return field


@pytest.mark.parametrize("receptive_field", [1, 16, 34, 70, 142, 286])
def test_each_patchgan_logit_sees_exactly_its_receptive_field(receptive_field):
    keras.utils.set_random_seed(0)
    model = nets.patchgan_discriminator(channels=1, filters=2, receptive_field=receptive_field)
    n_layers = int(math.log2(nets.size_multiple(model)))
    assert nets.patchgan_receptive_field(n_layers) == receptive_field or receptive_field == 1
    assert _field_of_layers(model) == receptive_field
    step = 2 ** n_layers
    size = step * (math.ceil(receptive_field / step) + 4)
    x = tf.constant(_images(1, size, size, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x)
        centre = logits.shape[1] // 2
        logit = logits[0, centre, centre, 0]
    assert logits.shape == (1, size // step, size // step, 1) and logits.dtype == "float32"
    seen = np.argwhere(_np(tape.gradient(logit, x))[0, :, :, 0] != 0)
    (top, left), (bottom, right) = seen.min(axis=0), seen.max(axis=0)
    assert (bottom - top + 1, right - left + 1) == (receptive_field, receptive_field)
    assert len(seen) == receptive_field ** 2  # the whole window, nothing outside it
    assert top > 0 and left > 0 and bottom < size - 1 and right < size - 1  # not clipped by the border


def test_patchgan_receptive_field_formula():
    assert [nets.patchgan_receptive_field(n) for n in range(1, 6)] == [16, 34, 70, 142, 286]
    assert nets.patchgan_receptive_field(0) == 7


def test_spectral_patchgan_learns_to_tell_smooth_from_noisy_patches_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = nets.patchgan_discriminator(channels=3, filters=4, receptive_field=16, norm=None, spectral_norm=True)
    assert [type(la).__name__ for la in model.layers].count("SNConv2D") == 3
    smooth, noisy = _smooth_images(16, 16, 3), _images(16, 16, 16, 3, seed=1)
    x = np.concatenate([smooth, noisy])
    y = np.concatenate([np.ones((16, 8, 8, 1)), np.zeros((16, 8, 8, 1))]).astype("float32")
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=False)
    history = model.fit(x, y, batch_size=8, epochs=6, shuffle=True, verbose=0).history["loss"]
    assert history[-1] < 0.7 * history[0]
    held_out_smooth, held_out_noisy = _smooth_images(8, 16, 3, seed=5), _images(8, 16, 16, 3, seed=6)
    patch_accuracy = ((_np(model(held_out_smooth)) > 0).mean() + (_np(model(held_out_noisy)) < 0).mean()) / 2
    assert patch_accuracy > 0.85, patch_accuracy  # chance: 0.5
    _assert_round_trip(model, x[:4], tmp_path)


# -- training, saving and export ----------------------------------------------------------------------------------
def _assert_round_trip(model: keras.Model, x: np.ndarray, tmp_path) -> None:
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert len(loaded.weights) == len(model.weights)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(_np(a), _np(b))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))


@pytest.mark.parametrize("build", [_tiny_unet, _tiny_resnet], ids=["unet", "resnet"])
def test_generators_learn_a_colour_mapping_and_round_trip(build, tmp_path):
    a = _smooth_images(32, 16, 3)
    b = -a[..., ::-1]  # colours inverted, channels reversed
    model = build()
    model.compile(keras.optimizers.Adam(5e-3), "mae", jit_compile=False)
    before = float(np.abs(_np(model(a)) - b).mean())
    model.fit(a, b, batch_size=8, epochs=10, verbose=0)
    after = float(np.abs(_np(model(a)) - b).mean())
    assert after < 0.5 * before, (before, after)
    assert after < 0.8 * float(np.abs(a - b).mean())  # clearly better than copying the input
    _assert_round_trip(model, a[:2], tmp_path)


@pytest.mark.parametrize("build", [_tiny_unet, _tiny_resnet], ids=["unet", "resnet"])
def test_generators_export_to_onnx_with_dynamic_height_and_width(build, tmp_path):
    model = build(in_channels=1)
    # export_generator checks parity at two sizes itself (32x32 and 64x64, batches of 3 and 2).
    metadata = export.export_generator(model, tmp_path / model.name, formats=("onnx",), tolerance=TOL)
    assert metadata["dynamic_spatial"] and metadata["parity_max_abs_error"]["onnx"] <= TOL
    path = str(tmp_path / model.name / "model.onnx")
    if build is _tiny_resnet:
        modes = [a.s.decode() for n in onnx.load(path).graph.node if n.op_type == "Pad"
                 for a in n.attribute if a.name == "mode"]
        assert modes and set(modes) == {"reflect"}, modes
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = _images(1, 24, 40, 1)
    np.testing.assert_allclose(session.run(None, {"image": feed})[0], _np(model(feed)), atol=TOL)


# -- argument errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, pattern", [
    (lambda: ReflectionPadding2D(-1), r"padding: expected an integer of at least 0 or an \(h, w\) pair"),
    (lambda: ReflectionPadding2D((1, 2, 3)), r"padding: expected .*; got \(1, 2, 3\)"),
    (lambda: ReflectionPadding2D()(np.zeros((2, 4), "float32")), r"inputs: expected images of shape"),
    (lambda: InstanceNormalization(epsilon=0), r"epsilon: expected a positive number; got 0"),
    (lambda: InstanceNormalization(center=1), r"center: expected True or False; got 1"),
    (lambda: InstanceNormalization()(np.zeros((2, 4), "float32")), r"inputs: expected a batch of rank >= 3"),
    (lambda: SizeMultiple(0), r"multiple: expected a positive integer; got 0"),
    (lambda: SizeMultiple(4, minimum=0), r"minimum: expected a positive integer; got 0"),
    (lambda: InstanceNormalization(epsilon=np.float32("nan")), r"epsilon: expected a positive number; got .*nan"),
    (lambda: pad_to_multiple(np.zeros((4, 4, 3)), 4),
     r"images: expected a batch of shape .*; got shape \(4, 4, 3\)"),
    (lambda: nets.unet_generator(depth=0), r"depth: expected a positive integer; got 0"),
    (lambda: nets.unet_generator(dropout=1.0), r"dropout: expected a rate in \[0, 1\); got 1.0"),
    (lambda: nets.unet_generator(dropout_blocks=-1), r"dropout_blocks: expected a non-negative integer; got -1"),
    (lambda: nets.unet_generator(norm="layer"), r"norm: expected 'batch', 'instance' or None; got 'layer'"),
    (lambda: nets.unet_multiple(1.5), r"depth: expected a positive integer; got 1.5"),
    (lambda: nets.resnet_generator(blocks=0), r"blocks: expected a positive integer; got 0"),
    (lambda: nets.resnet_generator(in_channels=0), r"in_channels: expected a positive integer; got 0"),
    (lambda: nets.patchgan_discriminator(receptive_field=64),
     r"receptive_field: expected one of \[1, 16, 34, 70, 142, 286\]; got 64"),
    (lambda: nets.patchgan_discriminator(spectral_norm="yes"), r"spectral_norm: expected True or False; got 'yes'"),
    (lambda: nets.patchgan_receptive_field(-1), r"n_layers: expected a non-negative integer; got -1"),
    (lambda: nets.size_multiple("unet"), r"model: expected a keras.Model; got str"),
])
def test_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
