"""Network builders: shapes for any power-of-two size and channel count, value range, argument errors."""

import numpy as np
import pytest

from ganapps import nets


@pytest.mark.parametrize("shape", [(4, 4, 1), (8, 8, 3), (16, 16, 1), (32, 16, 4), (64, 64, 3)])
def test_dcgan_shapes(shape):
    g = nets.dcgan_generator(8, shape, width=4)
    d = nets.dcgan_discriminator(shape, width=4)
    assert g.output_shape == (None, *shape)
    assert d.input_shape == (None, *shape) and d.output_shape == (None, 1)
    images = g(np.random.default_rng(0).standard_normal((2, 8)).astype("float32"), training=False)
    assert images.shape == (2, *shape)
    assert np.abs(np.asarray(images)).max() <= 1.0  # tanh output: the library's [-1, 1] range
    assert d(images).shape == (2, 1)


def test_dcgan_width_doubles_towards_low_resolution():
    g = nets.dcgan_generator(8, (32, 32, 1), width=4)
    transposed = [layer.filters for layer in g.layers if layer.__class__.__name__ == "Conv2DTranspose"]
    assert transposed == [16, 8, 4]  # 4x4 -> 8 -> 16 -> 32, halving the filters at each doubling
    first_dense = next(layer for layer in g.layers if layer.__class__.__name__ == "Dense")
    assert first_dense.units == 4 * 4 * 32  # a 4x4 start with width * 2**3 filters


def test_mlp_shapes():
    g = nets.mlp_generator(3, 5, hidden=(7,), output_activation="tanh")
    d = nets.mlp_discriminator(5, hidden=(7, 7))
    assert g.output_shape == (None, 5) and d.output_shape == (None, 1)
    assert len([layer for layer in d.layers if layer.__class__.__name__ == "Dense"]) == 3


@pytest.mark.parametrize("call, pattern", [
    (lambda: nets.dcgan_generator(8, (12, 12, 1)), r"image_shape: expected height and width to be powers of two"),
    (lambda: nets.dcgan_generator(8, (2, 2, 1)), r"image_shape: .*got 2x2"),
    (lambda: nets.dcgan_discriminator((16, 16)), r"image_shape: expected \(height, width, channels\)"),
    (lambda: nets.dcgan_generator(0, (8, 8, 1)), r"latent_dim: expected a positive integer; got 0"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), norm="group"), r"norm: expected None, 'batch' or 'layer'; got 'group'"),
    (lambda: nets.dcgan_discriminator((8, 8, 1), dropout=1.0), r"dropout: expected a rate in \[0, 1\); got 1.0"),
    (lambda: nets.mlp_generator(4, 3, hidden=(0,)), r"hidden: expected a sequence of positive layer widths"),
])
def test_builder_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
