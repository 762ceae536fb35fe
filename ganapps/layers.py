"""The few layers Keras lacks that the games and nets need.

Each layer is registered for ``.keras`` serialisation and exports to ONNX (opset 17) through tf2onnx.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ganapps import _checks
from ganapps._state import SavesSeedState

# -- discriminator tricks and upsampling (spectral normalisation, minibatch std-dev, pixel shuffle) ------------
def _unit(x, epsilon: float = 1e-12):
    return x / ops.sqrt(ops.sum(ops.square(x)) + epsilon)


class _SpectralNorm:
    """W / sigma(W) for layers with a ``kernel`` (Miyato et al. 2018), sigma estimated by power iteration.

    The kernel is read as a matrix of shape (everything else, output units); for a convolution this is the
    reshaped kernel, whose spectral norm is the paper's (cheap) estimate of the layer's Lipschitz constant.
    Unlike ``keras.layers.SpectralNormalization``, the normalised kernel is computed in the forward pass, so
    the gradient flows through sigma; the power-iteration vector ``u`` is a non-trainable weight, advanced
    ``power_iterations`` times by each training call and used as it is at inference.
    """

    def build(self, input_shape) -> None:
        super().build(input_shape)  # the wrapped layer's kernel and bias
        self._build_u()

    def _build_u(self) -> None:
        self.u = self.add_weight(name="u", shape=(self._kernel.shape[-1],),
                                 initializer=keras.initializers.RandomNormal(), trainable=False, autocast=False,
                                 aggregation="only_first_replica")  # u is the same on every replica

    def normalized_kernel(self, training: bool = False):
        """The kernel divided by its estimated largest singular value (advancing ``u`` when ``training``)."""
        kernel = self.kernel
        shape = tuple(kernel.shape)
        w = ops.reshape(ops.cast(kernel, "float32"), (-1, shape[-1]))
        u = ops.reshape(ops.convert_to_tensor(self.u), (-1, 1))
        v = _unit(ops.matmul(w, u))
        if training:
            for _ in range(self.power_iterations):
                u = _unit(ops.matmul(ops.transpose(w), v))
                v = _unit(ops.matmul(w, u))
            u, v = ops.stop_gradient(u), ops.stop_gradient(v)
            self.u.assign(ops.reshape(u, (-1,)))
        else:
            u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(v * ops.matmul(w, u))  # v^T W u; its gradient v u^T is sigma's at convergence
        return ops.cast(ops.reshape(w / sigma, shape), self.compute_dtype)

    def _check_power_iterations(self, power_iterations) -> int:
        return _checks.positive_int(power_iterations, "power_iterations")

    # Dense and Conv save a fixed list of variables (for quantisation) that leaves ``u`` out; the generic
    # Layer scheme saves every variable in order.
    def save_own_variables(self, store) -> None:
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store) -> None:
        layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="ganapps")
class SNDense(_SpectralNorm, layers.Dense):
    """A spectrally normalised ``Dense`` layer: a 1-Lipschitz linear map (before the bias) for discriminators.

    Args:
        units: output size.
        power_iterations: power-iteration steps per training call (1, as in the paper, is enough because ``u``
            persists across calls and the kernel changes slowly).
        **kwargs: the other ``keras.layers.Dense`` arguments.
    """

    def __init__(self, units: int, power_iterations: int = 1, **kwargs):
        super().__init__(units, **kwargs)
        self.power_iterations = self._check_power_iterations(power_iterations)

    def call(self, inputs, training=None):
        x = ops.matmul(inputs, self.normalized_kernel(bool(training)))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x) if self.activation is not None else x

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations}


@keras.saving.register_keras_serializable(package="ganapps")
class SNConv2D(_SpectralNorm, layers.Conv2D):
    """A spectrally normalised ``Conv2D`` layer (the kernel reshaped to (kh * kw * c_in, c_out) has norm 1).

    Args:
        filters: output channels.
        kernel_size: as for ``keras.layers.Conv2D``.
        power_iterations: power-iteration steps per training call.
        **kwargs: the other ``keras.layers.Conv2D`` arguments.
    """

    def __init__(self, filters: int, kernel_size, power_iterations: int = 1, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.power_iterations = self._check_power_iterations(power_iterations)

    def call(self, inputs, training=None):
        x = self.convolution_op(inputs, self.normalized_kernel(bool(training)))
        if self.use_bias:
            shape = (1, 1, 1, self.filters) if self.data_format == "channels_last" else (1, self.filters, 1, 1)
            x = ops.add(x, ops.reshape(self.bias, shape))
        return self.activation(x) if self.activation is not None else x

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations}


@keras.saving.register_keras_serializable(package="ganapps")
class MinibatchStdDev(layers.Layer):
    """Minibatch standard deviation (Karras et al. 2018): one extra channel telling D how varied the batch is.

    A generator that collapses to a few modes makes batches whose samples barely differ; this layer hands the
    discriminator that statistic directly, so it can punish the collapse. The batch is split into groups of
    ``min(group_size, batch)`` samples (samples ``i`` and ``i + batch / groups`` share a group); the standard
    deviation of each feature over its group, averaged over all features and positions, becomes a constant
    channel appended to each sample of the group. When the batch is not a multiple of the group size (a last
    partial batch), the whole batch forms one group instead, so any batch size works, dynamic ones included.

    Works on any channels-last input of rank >= 2 (images or feature vectors).

    Args:
        group_size: samples per group (at least 2; Karras et al. use 4).
        epsilon: added to the variance before the square root, for a finite gradient at zero spread.
    """

    def __init__(self, group_size: int = 4, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
            raise _checks.fail("group_size", "an integer of at least 2", repr(group_size))
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon <= 0:
            raise _checks.fail("epsilon", "a positive number", repr(epsilon))
        self.group_size = group_size
        self.epsilon = float(epsilon)

    def build(self, input_shape) -> None:
        if len(input_shape) < 2:
            raise _checks.fail("inputs", "a batch of rank >= 2 (batch, ..., channels)", f"shape {input_shape}")

    def call(self, inputs):
        n = ops.shape(inputs)[0]
        group = ops.minimum(self.group_size, n)
        group = ops.where(ops.equal(ops.mod(n, group), 0), group, n)
        x = ops.reshape(inputs, (group, -1, _prod_of_rest(inputs)))
        x = ops.cast(x, "float32")
        variance = ops.mean(ops.square(x - ops.mean(x, axis=0, keepdims=True)), axis=0)
        spread = ops.mean(ops.sqrt(variance + self.epsilon), axis=-1)  # one value per group position
        spread = ops.cast(ops.tile(spread, [group]), inputs.dtype)
        spread = ops.reshape(spread, (-1,) + (1,) * (len(inputs.shape) - 1))
        return ops.concatenate([inputs, ops.ones_like(inputs[..., :1]) * spread], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels + 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


def _prod_of_rest(x):
    """Number of values per sample, static when the shape is, else a tensor."""
    dims = x.shape[1:]
    if all(d is not None for d in dims):
        return int(np.prod(dims))
    return ops.prod(ops.shape(x)[1:])


@keras.saving.register_keras_serializable(package="ganapps")
class PixelShuffle(layers.Layer):
    """Sub-pixel upsampling (Shi et al. 2016): (H, W, C * s^2) -> (H * s, W * s, C), any H and W.

    Upsampling by rearranging channels a convolution computed at low resolution costs s^2 times less than a
    transposed convolution and has no overlap, hence no checkerboard from uneven overlap. The channel order is
    TensorFlow's ``depth_to_space`` (ONNX ``DepthToSpace`` mode "DCR"): output pixel (h * s + i, w * s + j)
    channel c is input pixel (h, w) channel (i * s + j) * C + c. PyTorch's ``nn.PixelShuffle`` uses
    (c * s + i) * s + j ("CRD"): weights ported from it need their output channels permuted.

    Args:
        scale: the upsampling factor s.
    """

    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.scale = _checks.positive_int(scale, "scale")

    def build(self, input_shape) -> None:
        if len(input_shape) != 4:
            raise _checks.fail("inputs", "images of shape (batch, height, width, channels)", f"shape {input_shape}")
        channels = input_shape[-1]
        if channels is not None and channels % (self.scale ** 2):
            raise _checks.fail("inputs", f"a channel count divisible by scale**2 = {self.scale ** 2}",
                               f"{channels} channels")

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.scale)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, None if c is None else c // s ** 2)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


def _keys_cubic(t: float, a: float = -0.5) -> float:
    t = abs(t)
    if t <= 1.0:
        return (a + 2.0) * t ** 3 - (a + 3.0) * t ** 2 + 1.0
    if t < 2.0:
        return a * t ** 3 - 5.0 * a * t ** 2 + 8.0 * a * t - 4.0 * a
    return 0.0


def _bicubic_kernel(scale: int) -> np.ndarray:
    """(5, 5, 1, scale^2) weights: output phase (i, j) of input pixel (h, w) reads inputs h-2..h+2, w-2..w+2."""
    taps = np.array([[_keys_cubic((p + 0.5) / scale - 0.5 - offset) for offset in range(-2, 3)]
                     for p in range(scale)])
    return np.einsum("pi,qj->ijpq", taps, taps).reshape(5, 5, 1, scale * scale).astype(np.float32)


def _bicubic_upsample(x, scale: int):
    """``tf.image.resize(x, scale * size, "bicubic")`` (half-pixel centres, out-of-image taps dropped and the
    rest renormalised) as a fixed convolution plus depth-to-space, which XLA compiles and ONNX exports; XLA has
    no ResizeBicubic kernel."""
    shape = tf.shape(x)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    kernel = tf.constant(_bicubic_kernel(scale))
    planes = tf.reshape(tf.transpose(x, (0, 3, 1, 2)), (n * c, h, w, 1))
    padding = [[0, 0], [2, 2], [2, 2], [0, 0]]
    weighted = tf.nn.conv2d(tf.pad(planes, padding), kernel, 1, "VALID")
    coverage = tf.nn.conv2d(tf.pad(tf.ones_like(planes[:1]), padding), kernel, 1, "VALID")
    up = tf.nn.depth_to_space(weighted / coverage, scale)
    return tf.transpose(tf.reshape(up, (n, c, h * scale, w * scale)), (0, 2, 3, 1))


@keras.saving.register_keras_serializable(package="ganapps")
class ResizeBy(layers.Layer):
    """Resize images by an integer factor, reading height and width from the tensor at run time.

    ``UpSampling2D(interpolation="bilinear")`` fails ONNX export when height and width are dynamic; resizing to
    ``tf.shape(x)[1:3] * scale`` exports as an ONNX ``Resize`` that takes any size.

    Args:
        scale: the upsampling factor.
        interpolation: ``"bilinear"``, ``"bicubic"`` (Keys' kernel, a = -0.5) or ``"nearest"`` (half-pixel
            centres, no antialiasing).
    """

    def __init__(self, scale: int = 2, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.scale = _checks.positive_int(scale, "scale")
        if interpolation not in ("bilinear", "bicubic", "nearest"):
            raise _checks.fail("interpolation", "'bilinear', 'bicubic' or 'nearest'", repr(interpolation))
        self.interpolation = interpolation

    def call(self, inputs):
        if self.interpolation == "bicubic":
            return tf.cast(_bicubic_upsample(tf.cast(inputs, tf.float32), self.scale), inputs.dtype)
        size = tf.shape(inputs)[1:3] * self.scale
        return tf.cast(tf.image.resize(inputs, size, method=self.interpolation), inputs.dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "interpolation": self.interpolation}



# -- style-based generator (AdaIN, noise injection) -------------------------------------------------------------
@keras.saving.register_keras_serializable(package="ganapps")
class PixelNorm(layers.Layer):
    """Scale each vector to unit root-mean-square over its last axis (StyleGAN's normalisation of z).

    Keeps the mapping network's input on a sphere, so the scale of z carries no information the network could
    come to rely on.
    """

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(epsilon) and epsilon > 0):
            raise _checks.fail("epsilon", "a positive number", repr(epsilon))
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ganapps")
class ScaledDense(layers.Layer):
    """A dense layer with an equalized, optionally reduced, learning rate (StyleGAN's mapping-network layers).

    The stored kernel ``v`` is drawn from N(0, 1 / lr_multiplier^2) and used as ``c * v`` with
    ``c = lr_multiplier * gain / sqrt(fan_in)`` (the bias likewise, as ``lr_multiplier * b``). The layer thus
    starts like a He-initialised Dense, but an optimizer step on ``v`` moves the kernel actually used by
    ``c`` times that step: with Adam, whose steps have a size independent of the gradient's scale, every
    layer learns at the same relative speed whatever its fan-in (equalized learning rate), and
    ``lr_multiplier=0.01`` makes the mapping network learn 100x slower than the rest, which keeps it from
    collapsing all latents onto one w before the synthesis network has learned to use them.
    """

    def __init__(self, units: int, lr_multiplier: float = 1.0, gain: float = 2 ** 0.5, use_bias: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int(units, "units")
        for argument, value in (("lr_multiplier", lr_multiplier), ("gain", gain)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise _checks.fail(argument, "a positive number", repr(value))
        if not isinstance(use_bias, bool):
            raise _checks.fail("use_bias", "a bool", repr(use_bias))
        self.lr_multiplier = float(lr_multiplier)
        self.gain = float(gain)
        self.use_bias = use_bias

    def build(self, input_shape):
        fan_in = input_shape[-1]
        if fan_in is None:
            raise _checks.fail("inputs", "a known last dimension", f"shape {input_shape}")
        self.runtime_scale = self.lr_multiplier * self.gain / float(fan_in) ** 0.5
        self.kernel = self.add_weight(shape=(fan_in, self.units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, x):
        y = ops.matmul(x, ops.cast(self.kernel, self.compute_dtype) * self.runtime_scale)
        if self.bias is not None:
            y = y + ops.cast(self.bias, self.compute_dtype) * self.lr_multiplier
        return y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "lr_multiplier": self.lr_multiplier,
                "gain": self.gain, "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="ganapps")
class ConstantInput(layers.Layer):
    """A learned (height, width, channels) tensor repeated over the batch: the synthesis network's start.

    StyleGAN starts from a learned constant rather than from z, because every variation reaches the image
    through the styles and the noise. The layer's input only supplies the batch size.
    """

    def __init__(self, channels: int, size: int | tuple[int, int] = 4, **kwargs):
        super().__init__(**kwargs)
        self.channels = _checks.positive_int(channels, "channels")
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (size, size)
        if not (isinstance(size, (tuple, list)) and len(size) == 2):
            raise _checks.fail("size", "a positive int or a (height, width) pair", repr(size))
        self.size = (_checks.positive_int(size[0], "size"), _checks.positive_int(size[1], "size"))

    def build(self, input_shape):
        self.constant = self.add_weight(shape=(1, *self.size, self.channels), initializer="random_normal",
                                        name="constant")

    def call(self, x):
        batch = ops.shape(x)[0]
        return ops.broadcast_to(ops.cast(self.constant, self.compute_dtype), (batch, *self.size, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels, "size": list(self.size)}


@keras.saving.register_keras_serializable(package="ganapps")
class SelectStyle(layers.Layer):
    """Take style ``index`` out of a (batch, num_layers, w_dim) stack of styles: one AdaIN layer's w."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise _checks.fail("index", "a non-negative integer", repr(index))
        self.index = int(index)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise _checks.fail("inputs", "styles of shape (batch, num_layers, w_dim)", f"shape {input_shape}")
        if input_shape[1] is not None and self.index >= input_shape[1]:
            raise _checks.fail("index", f"an index below the number of styles {input_shape[1]}", str(self.index))

    def call(self, ws):
        return ws[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="ganapps")
class AdaIN(layers.Layer):
    """Adaptive instance normalisation: ``scale(w) * (x - mean) / std + bias(w)`` per sample and channel.

    Normalising each feature map erases the statistics the previous style put there, so each style controls
    only its own layer (what makes style mixing work). ``scale`` and ``bias`` are learned affine maps of the
    style vector. The scale's bias starts at 1 and the kernels are random (Glorot uniform), as StyleGAN
    initialises its style affines: a zero style gives a plain instance normalisation, and different styles
    give different images from the first step, which training with style mixing relies on.

    Call it as ``AdaIN()(x, style)`` with ``x`` of shape (batch, H, W, C) and ``style`` of shape (batch, w_dim).
    """

    def __init__(self, epsilon: float = 1e-5, kernel_initializer: str | dict = "glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(epsilon) and epsilon > 0):
            raise _checks.fail("epsilon", "a positive number", repr(epsilon))
        self.epsilon = float(epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, x_shape, style_shape):
        if len(x_shape) != 4 or x_shape[-1] is None:
            raise _checks.fail("x", "feature maps of shape (batch, H, W, C) with known C", f"shape {x_shape}")
        if len(style_shape) != 2 or style_shape[-1] is None:
            raise _checks.fail("style", "styles of shape (batch, w_dim) with known w_dim", f"shape {style_shape}")
        channels, w_dim = x_shape[-1], style_shape[-1]
        self.scale_kernel = self.add_weight(shape=(w_dim, channels), initializer=self.kernel_initializer,
                                            name="scale_kernel")
        self.scale_bias = self.add_weight(shape=(channels,), initializer="ones", name="scale_bias")
        self.bias_kernel = self.add_weight(shape=(w_dim, channels), initializer=self.kernel_initializer,
                                           name="bias_kernel")
        self.bias_bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias_bias")

    def style_params(self, style):
        """The (scale, bias) pair, each (batch, C), that ``style`` imposes on the normalised feature maps."""
        scale = ops.matmul(style, self.scale_kernel) + self.scale_bias
        bias = ops.matmul(style, self.bias_kernel) + self.bias_bias
        return scale, bias

    def call(self, x, style):
        mean, variance = ops.moments(x, axes=[1, 2], keepdims=True)
        normalised = (x - mean) * ops.rsqrt(variance + self.epsilon)
        scale, bias = self.style_params(style)
        return normalised * scale[:, None, None, :] + bias[:, None, None, :]

    def compute_output_shape(self, x_shape, style_shape):
        return x_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="ganapps")
class NoiseInjection(SavesSeedState, layers.Layer):
    """Add per-pixel Gaussian noise scaled by a learned per-channel weight (initialised to 0).

    The noise gives the generator a source of stochastic detail (hair, pores) that it need not make up from
    the styles. In training the noise is fresh each call (from the layer's own seed); at inference it is a
    fixed buffer drawn once and stored as a non-trainable weight (StyleGAN2's "const" noise mode), so that
    sampling is a deterministic function of z and exports (ONNX, SavedModel) match Keras exactly. The state
    of the training-noise stream is saved with the layer, so a reloaded or resumed model continues it.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise _checks.fail("seed", "None or an int", repr(seed))
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")

    def build(self, input_shape):
        if len(input_shape) != 4 or any(s is None for s in input_shape[1:]):
            raise _checks.fail("inputs", "feature maps of shape (batch, H, W, C) with known H, W and C",
                               f"shape {input_shape}")
        _, height, width, channels = input_shape
        self.noise_weight = self.add_weight(shape=(channels,), initializer="zeros", name="noise_weight")
        self.noise_buffer = self.add_weight(shape=(1, height, width, 1), trainable=False, name="noise_buffer",
                                            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))

    def call(self, x, training: bool | None = None):
        if training:
            shape = ops.shape(x)
            noise = keras.random.normal((shape[0], shape[1], shape[2], 1), seed=self.seed_generator,
                                        dtype=self.compute_dtype)
        else:
            noise = ops.cast(self.noise_buffer, self.compute_dtype)
        return x + ops.cast(self.noise_weight, self.compute_dtype) * noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


# -- image-to-image translation (reflection padding, instance normalisation, size multiple) ---------------------
def _pair(value, argument: str, minimum: int = 0) -> tuple[int, int]:
    """An int or an (h, w) pair of ints of at least ``minimum``, as an (h, w) tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in value)
    if not ok:
        raise _checks.fail(argument, f"an integer of at least {minimum} or an (h, w) pair of them", repr(value))
    return int(value[0]), int(value[1])


def _check_images(input_shape) -> None:
    if len(input_shape) != 4:
        raise _checks.fail("inputs", "images of shape (batch, height, width, channels)", f"shape {input_shape}")


@keras.saving.register_keras_serializable(package="ganapps")
class ReflectionPadding2D(layers.Layer):
    """Pad images by mirroring them about their edges (without repeating the edge pixel).

    Zero padding shows a convolution a dark frame that a generator learns to draw as border artefacts;
    mirrored content looks like the image, which is why CycleGAN's generators pad this way. Exports to ONNX as
    ``Pad`` in "reflect" mode, for any height and width larger than the padding.

    Args:
        padding: rows added above and below, and columns left and right: an int or an (h, w) pair.
    """

    def __init__(self, padding: int | tuple[int, int] = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair(padding, "padding")

    def build(self, input_shape) -> None:
        _check_images(input_shape)

    def call(self, inputs):
        # Checked here, not in build: a functional model is built once, with its input's (dynamic) shape.
        for size, pad, axis in zip(inputs.shape[1:3], self.padding, ("height", "width")):
            if size is not None and size <= pad:
                raise _checks.fail("inputs", f"a {axis} larger than the reflection padding {pad}", f"{size}")
        h, w = self.padding
        return ops.pad(inputs, [[0, 0], [h, h], [w, w], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, height, width, c = input_shape
        h, w = self.padding
        return (n, None if height is None else height + 2 * h, None if width is None else width + 2 * w, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": list(self.padding)}


@keras.saving.register_keras_serializable(package="ganapps")
class InstanceNormalization(layers.Layer):
    """Normalise each sample's channels over their spatial positions, then scale and shift them per channel.

    Unlike batch normalisation it needs no batch statistics, so an image is translated the same way alone or in
    a batch, at training and at inference (Ulyanov et al. 2016; CycleGAN's choice). Mean and variance are
    computed in float32 under a mixed-precision policy (float16 squares overflow), and the affine weights are
    kept in float32 too. Works on any channels-last input of rank >= 3, normalising over every axis but the
    first and the last.

    Args:
        epsilon: added to the variance, for a finite result on constant feature maps.
        center: learn a per-channel offset (initialised to 0).
        scale: learn a per-channel gain (initialised to 1).
    """

    def __init__(self, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(epsilon) and epsilon > 0):
            raise _checks.fail("epsilon", "a positive number", repr(epsilon))
        for argument, value in (("center", center), ("scale", scale)):
            if not isinstance(value, bool):
                raise _checks.fail(argument, "True or False", repr(value))
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale

    def build(self, input_shape) -> None:
        if len(input_shape) < 3 or input_shape[-1] is None:
            raise _checks.fail("inputs", "a batch of rank >= 3 (batch, ..., channels) with known channels",
                               f"shape {input_shape}")
        channels = (input_shape[-1],)
        self.gamma = (self.add_weight(shape=channels, initializer="ones", name="gamma", autocast=False)
                      if self.scale else None)
        self.beta = (self.add_weight(shape=channels, initializer="zeros", name="beta", autocast=False)
                     if self.center else None)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        axes = list(range(1, len(inputs.shape) - 1))
        mean = ops.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)
        x = centred * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            x = x * self.gamma
        if self.beta is not None:
            x = x + self.beta
        return ops.cast(x, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


@keras.saving.register_keras_serializable(package="ganapps")
class SizeMultiple(layers.Layer):
    """Pass images through unchanged, refusing (with a ``ValueError``) a height or width that is not a multiple
    of ``multiple`` or is below ``minimum``.

    A U-Net's skip concatenations and a ResNet generator's output size need H and W divisible by the product of
    their strides, and a net that reflect-pads its downsampled maps needs them large enough to mirror; without
    this layer a wrong size surfaces as a shape error deep inside the net, or silently as an output of another
    size. The check runs wherever the size is known when the layer is called (eager calls, ``fit`` on fixed-size
    crops); a graph traced with dynamic H and W (an ONNX or SavedModel export) contains no check at all. The
    layer also records the rule in the model, where :func:`ganapps.nets.size_multiple` and
    :func:`ganapps.nets.unet.min_size` read it (and translations pad to it).

    Args:
        multiple: the required divisor of the height and the width.
        minimum: the smallest height and width accepted (1: any multiple).
    """

    def __init__(self, multiple: int, minimum: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.multiple = _checks.positive_int(multiple, "multiple")
        self.minimum = _checks.positive_int(minimum, "minimum")

    def build(self, input_shape) -> None:
        _check_images(input_shape)

    def call(self, inputs):
        height, width = inputs.shape[1:3]
        sizes = [size for size in (height, width) if size is not None]
        if any(size % self.multiple for size in sizes):
            raise _checks.fail("inputs", f"a height and width divisible by {self.multiple}", f"{height}x{width}")
        if any(size < self.minimum for size in sizes):
            raise _checks.fail("inputs", f"a height and width of at least {self.minimum} (and divisible by "
                               f"{self.multiple}; pad smaller images, as the translation games do)",
                               f"{height}x{width}")
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "multiple": self.multiple, "minimum": self.minimum}
