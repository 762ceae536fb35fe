"""Discriminator tricks and upsampling layers: spectral normalisation, minibatch std-dev, pixel shuffle.

Each is checked against its definition, saved and loaded through ``.keras``, and exported to ONNX with the
library's export machinery (dynamic batch and spatial size) and compared with ONNX Runtime.
"""

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf

from ganapps import export
from ganapps.layers import MinibatchStdDev, PixelShuffle, SNConv2D, SNDense

TOL = 1e-4


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _top_singular_value(kernel) -> float:
    kernel = _np(kernel)
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


def _sn_layer(kind):
    keras.utils.set_random_seed(0)
    if kind == "dense":
        layer, x = SNDense(6), np.random.default_rng(0).standard_normal((4, 10)).astype("float32")
    else:
        layer, x = SNConv2D(6, 3, padding="same"), np.random.default_rng(0).standard_normal((2, 5, 5, 3))
        x = x.astype("float32")
    layer.build(x.shape)
    layer.kernel.assign(5.0 * layer.kernel)  # sigma(W) far from 1, so normalisation has work to do
    return layer, x


# -- spectral normalisation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_spectral_norm_makes_the_top_singular_value_one(kind):
    layer, x = _sn_layer(kind)
    assert _top_singular_value(layer.kernel) > 2.0
    for _ in range(30):  # one power iteration per training call
        layer(x, training=True)
    assert _top_singular_value(layer.normalized_kernel()) == pytest.approx(1.0, abs=1e-3)
    # The forward pass uses that kernel: the layer is the plain linear map W / sigma (+ bias, zero here).
    w = _np(layer.normalized_kernel())
    want = x @ w if kind == "dense" else _np(tf.nn.conv2d(x, w, 1, "SAME"))
    np.testing.assert_allclose(_np(layer(x)), want, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_u_advances_in_training_only(kind):
    layer, x = _sn_layer(kind)
    u0 = _np(layer.u).copy()
    layer(x, training=False)
    layer(x)
    np.testing.assert_array_equal(_np(layer.u), u0)
    layer(x, training=True)
    assert not np.allclose(_np(layer.u), u0)
    assert [w.path for w in layer.non_trainable_weights] == [layer.u.path]
    assert layer.u.path not in [w.path for w in layer.trainable_weights]


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_gradient_reaches_the_raw_kernel_through_sigma(kind):
    """W / sigma(W) does not change when W is scaled, so the true gradient w.r.t. W is orthogonal to W; that
    only holds when the gradient flows through sigma (an assigned, constant sigma gives <grad, W> != 0)."""
    layer, x = _sn_layer(kind)
    for _ in range(3):
        layer(x, training=True)
    target = np.random.default_rng(1).standard_normal(_np(layer(x)).shape).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum((layer(x, training=True) - target) ** 2)
    grad = _np(tape.gradient(loss, layer.kernel))
    kernel = _np(layer.kernel)
    assert np.isfinite(grad).all() and np.linalg.norm(grad) > 1e-3
    cosine = np.sum(grad * kernel) / (np.linalg.norm(grad) * np.linalg.norm(kernel))
    assert abs(cosine) < 1e-4, cosine


# -- minibatch standard deviation ------------------------------------------------------------------------------
def _reference_minibatch_std(x: np.ndarray, group_size: int = 4) -> np.ndarray:
    """Karras et al.'s definition, with the whole batch as one group when the group size does not divide it."""
    n = len(x)
    g = min(group_size, n)
    if n % g:
        g = n
    groups = x.reshape(g, n // g, -1).astype(np.float64)
    stat = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=-1)
    channel = np.broadcast_to(np.tile(stat, g).reshape((n,) + (1,) * (x.ndim - 1)), x.shape[:-1] + (1,))
    return np.concatenate([x, channel], axis=-1)


@pytest.mark.parametrize("batch", [8, 6, 3, 1])
def test_minibatch_std_matches_its_definition(batch):
    x = np.random.default_rng(batch).standard_normal((batch, 4, 4, 3)).astype("float32")
    out = _np(MinibatchStdDev(group_size=4)(x))
    assert out.shape == (batch, 4, 4, 4)
    np.testing.assert_allclose(out, _reference_minibatch_std(x), atol=1e-5)


def test_minibatch_std_is_zero_for_identical_images_and_grows_with_diversity():
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (1, 8, 8, 2)).astype("float32")
    layer = MinibatchStdDev()
    spreads = []
    for scale in (0.0, 0.1, 0.5):
        batch = image + scale * rng.standard_normal((8, 8, 8, 2)).astype("float32")
        extra = _np(layer(batch))[..., -1]
        assert np.ptp(extra.reshape(2, 4, -1)[:, 0], axis=-1).max() < 1e-6  # constant over pixels
        spreads.append(float(extra.mean()))
    assert spreads[0] < 1e-3
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] / spreads[1] == pytest.approx(5.0, rel=0.2)  # std scales with the noise


def test_minibatch_std_on_vectors():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    np.testing.assert_allclose(_np(MinibatchStdDev()(x)), _reference_minibatch_std(x), atol=1e-5)


# -- pixel shuffle ---------------------------------------------------------------------------------------------
def _reference_pixel_shuffle(x: np.ndarray, s: int) -> np.ndarray:
    """out[h*s + i, w*s + j, c] = in[h, w, (i*s + j)*C + c] (DCR order)."""
    n, h, w, cs = x.shape
    c = cs // (s * s)
    out = np.zeros((n, h * s, w * s, c), x.dtype)
    for i in range(s):
        for j in range(s):
            out[:, i::s, j::s, :] = x[..., (i * s + j) * c:(i * s + j + 1) * c]
    return out


@pytest.mark.parametrize("scale, channels", [(2, 4), (2, 12), (3, 18)])
def test_pixel_shuffle_matches_dcr_order_for_any_size(scale, channels):
    x_in = keras.Input((None, None, channels))
    model = keras.Model(x_in, PixelShuffle(scale)(x_in))
    assert model.output_shape == (None, None, None, channels // scale ** 2)
    for h, w in ((3, 5), (4, 4)):
        x = np.random.default_rng(h).standard_normal((2, h, w, channels)).astype("float32")
        np.testing.assert_array_equal(_np(model(x)), _reference_pixel_shuffle(x, scale))


# -- saving and export -----------------------------------------------------------------------------------------
def _tricks_model() -> keras.Model:
    """A fully convolutional, discriminator-like net using every layer of this section."""
    keras.utils.set_random_seed(0)
    x = keras.Input((None, None, 3), name="image")
    y = SNConv2D(8, 3, padding="same", activation="relu")(x)
    y = PixelShuffle(2)(y)
    y = MinibatchStdDev(group_size=4)(y)
    y = SNDense(3)(y)  # a per-pixel linear map
    return keras.Model(x, y, name="tricks")


def test_layers_round_trip_through_keras_files(tmp_path):
    model = _tricks_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=False)
    x = np.random.default_rng(0).standard_normal((8, 4, 4, 3)).astype("float32")
    y = np.zeros((8, 8, 8, 3), "float32")
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    path = tmp_path / "tricks.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers[1:]] == ["SNConv2D", "PixelShuffle",
                                                                       "MinibatchStdDev", "SNDense"]
    assert len(loaded.weights) == len(model.weights)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(_np(a), _np(b))  # u included
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 6
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))


def test_onnx_export_matches_keras_with_dynamic_batch_and_size(tmp_path):
    model = _tricks_model()
    x = np.random.default_rng(0).standard_normal((8, 4, 4, 3)).astype("float32")
    for _ in range(5):
        model(x, training=True)  # u away from its initial value
    # export_generator checks parity itself (batches of 3 and 2, sizes 32 and 64) and fails beyond TOL.
    metadata = export.export_generator(model, tmp_path / "tricks", formats=("onnx",), tolerance=TOL)
    assert metadata["dynamic_spatial"] and metadata["parity_max_abs_error"]["onnx"] <= TOL
    graph = onnx.load(str(tmp_path / "tricks" / "model.onnx")).graph
    depth_to_space = [n for n in graph.node if n.op_type == "DepthToSpace"]
    assert depth_to_space, [n.op_type for n in graph.node]
    modes = [a.s.decode() for n in depth_to_space for a in n.attribute if a.name == "mode"]
    assert modes in ([], ["DCR"])  # DCR is ONNX's default and TensorFlow's order
    session = ort.InferenceSession(str(tmp_path / "tricks" / "model.onnx"), providers=["CPUExecutionProvider"])
    for shape in ((8, 5, 7, 3), (6, 3, 3, 3), (1, 2, 6, 3)):  # groups of 4, whole-batch fallback, one image
        feed = np.random.default_rng(len(shape)).standard_normal(shape).astype("float32")
        got = session.run(None, {"image": feed})[0]
        np.testing.assert_allclose(got, _np(model(feed)), atol=TOL)


# -- argument errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, pattern", [
    (lambda: SNDense(4, power_iterations=0), r"power_iterations: expected a positive integer; got 0"),
    (lambda: SNConv2D(4, 3, power_iterations=1.5), r"power_iterations: expected a positive integer; got 1.5"),
    (lambda: MinibatchStdDev(group_size=1), r"group_size: expected an integer of at least 2; got 1"),
    (lambda: MinibatchStdDev(epsilon=0), r"epsilon: expected a positive number; got 0"),
    (lambda: PixelShuffle(0), r"scale: expected a positive integer; got 0"),
    (lambda: PixelShuffle(2)(np.zeros((1, 2, 2, 6), "float32")),
     r"inputs: expected a channel count divisible by scale\*\*2 = 4; got 6 channels"),
    (lambda: PixelShuffle(2)(np.zeros((1, 4), "float32")), r"inputs: expected images of shape"),
])
def test_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
