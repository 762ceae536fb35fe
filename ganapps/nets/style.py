"""The style-based generator (StyleGAN, Karras et al. 2019) for any power-of-two image size and channel count.

Two networks, composed into one ``z -> image`` model:

- the *mapping* network, an MLP ``z -> w`` (pixel-normalised z, LeakyReLU(0.2), equalized learning rate
  at 0.01x the optimizer's), which frees the styles from having to follow the latent prior's density;
- the *synthesis* network, which starts from a learned constant (4x4, or 4k x 4 for non-square images) and
  doubles the resolution with nearest-neighbour upsampling up to the image size. Every convolution (and the
  constant) is followed by noise injection, LeakyReLU(0.2) and AdaIN, each AdaIN taking its own style: the
  synthesis network's input is a stack of ``num_style_layers(image_shape)`` styles ``ws`` of shape
  (batch, num_layers, w_dim), two per resolution, coarse (low resolution) first. A 1x1 convolution with tanh
  gives float32 images in [-1, 1].

:func:`style_generator` broadcasts one ``w`` to every layer, so it is a plain one-input generator that
:class:`ganapps.GAN`, the exporters and the ONNX runner take as they are; :class:`ganapps.games.StyleGAN` reaches
inside it (see :func:`style_parts`) to mix styles and truncate in w-space.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from ganapps import _checks
from ganapps._state import derive_seed
from ganapps.layers import AdaIN, ConstantInput, NoiseInjection, PixelNorm, ScaledDense, SelectStyle


def _levels(h: int, w: int) -> int:
    return int(math.log2(min(h, w))) - 2


def num_style_layers(image_shape: tuple[int, int, int]) -> int:
    """How many styles (AdaIN layers) the synthesis network for ``image_shape`` takes: two per resolution."""
    h, w, _ = _checks.image_shape(image_shape)
    return 2 * (_levels(h, w) + 1)


def style_mapping(latent_dim: int, w_dim: int | None = None, depth: int = 8, lr_multiplier: float = 0.01,
                  name: str = "mapping") -> keras.Model:
    """Build the mapping network ``z -> w``: pixel norm, then ``depth`` dense layers of size w_dim, each followed
    by LeakyReLU(0.2).

    The dense layers are :class:`ganapps.layers.ScaledDense`: He-scaled at run time, so that w keeps the
    spread of z through the depth (plain Glorot Dense layers shrink it about 4x over 4 layers, and the
    styles then hardly depend on z), and learning ``lr_multiplier`` times slower than the synthesis network,
    as in StyleGAN. At the full learning rate the generator collapses to one image on small data.

    Args:
        latent_dim: size of z.
        w_dim: size of w (default: ``latent_dim``, as in the paper's 512 -> 512).
        depth: number of dense layers (8 in the paper; 2 to 4 is plenty for small images).
        lr_multiplier: the mapping network's learning rate relative to the optimizer's (0.01 in the paper).
    """
    latent_dim = _checks.positive_int(latent_dim, "latent_dim")
    if isinstance(lr_multiplier, bool) or not isinstance(lr_multiplier, (int, float)) \
            or not 0 < lr_multiplier < float("inf"):
        raise _checks.fail("lr_multiplier", "a positive number such as 0.01", repr(lr_multiplier))
    w_dim = latent_dim if w_dim is None else _checks.positive_int(w_dim, "w_dim")
    depth = _checks.positive_int(depth, "depth")
    z = keras.Input((latent_dim,), name="z")
    x = PixelNorm(name="pixel_norm")(z)
    for i in range(depth):
        x = ScaledDense(w_dim, lr_multiplier=lr_multiplier, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    return keras.Model(z, x, name=name)


def style_synthesis(w_dim: int, image_shape: tuple[int, int, int], width: int = 64, max_width: int = 512,
                    seed: int | None = None, name: str = "synthesis") -> keras.Model:
    """Build the synthesis network ``ws -> image`` taking ``ws`` of shape (batch, num_layers, w_dim).

    Args:
        w_dim: size of each style vector.
        image_shape: (H, W, C); H and W powers of two, at least 4.
        width: filters at full resolution; each lower resolution doubles it.
        max_width: cap on the number of filters.
        seed: seed of the noise layers (each derives its own stream from it, independent of a game seeded with
            the same int), for reproducible noise buffers and training noise; None draws them from Keras's global
            seed (``keras.utils.set_random_seed``).
    """
    w_dim = _checks.positive_int(w_dim, "w_dim")
    h, w, c = _checks.image_shape(image_shape)
    width = _checks.positive_int(width, "width")
    max_width = _checks.positive_int(max_width, "max_width")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _checks.fail("seed", "None or an int", repr(seed))
    levels = _levels(h, w)
    filters = [min(max_width, width * 2 ** (levels - i)) for i in range(levels + 1)]
    ws = keras.Input((num_style_layers((h, w, c)), w_dim), name="ws")

    def styled(x, index: int):
        noise_seed = derive_seed(seed, f"noise_{index}")
        x = NoiseInjection(seed=noise_seed, name=f"noise_{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{index}")(x)
        return AdaIN(name=f"adain_{index}")(x, SelectStyle(index, name=f"style_{index}")(ws))

    x = ConstantInput(filters[0], (h >> levels, w >> levels), name="constant")(ws)
    x = styled(x, 0)
    x = layers.Conv2D(filters[0], 3, padding="same", name="conv_1")(x)
    x = styled(x, 1)
    for level, f in enumerate(filters[1:], start=1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"upsample_{level}")(x)
        x = layers.Conv2D(f, 3, padding="same", name=f"conv_{2 * level}")(x)
        x = styled(x, 2 * level)
        x = layers.Conv2D(f, 3, padding="same", name=f"conv_{2 * level + 1}")(x)
        x = styled(x, 2 * level + 1)
    # A float32 output layer keeps images float32 under a mixed-precision policy.
    images = layers.Conv2D(c, 1, activation="tanh", name="to_image", dtype="float32")(x)
    return keras.Model(ws, images, name=name)


def compose_style_generator(mapping: keras.Model, synthesis: keras.Model, name: str = "generator") -> keras.Model:
    """Join a mapping and a synthesis network into one ``z -> image`` model that feeds one w to every layer."""
    for argument, net, rank in (("mapping", mapping, 2), ("synthesis", synthesis, 3)):
        shape = getattr(net, "input_shape", None) if isinstance(net, keras.Model) else None
        if not isinstance(shape, tuple) or len(shape) != rank:
            kind = "(batch, latent_dim)" if rank == 2 else "(batch, num_layers, w_dim)"
            raise _checks.fail(argument, f"a keras.Model with one input of shape {kind}",
                               f"{type(net).__name__} with input shape {shape}")
    w_dim, num_layers = mapping.output_shape[-1], synthesis.input_shape[1]
    if w_dim != synthesis.input_shape[-1]:
        raise _checks.fail("synthesis", f"styles of size {w_dim} (the mapping network's output)",
                           f"a synthesis network taking styles of size {synthesis.input_shape[-1]}")
    z = keras.Input(mapping.input_shape[1:], name="z")
    ws = layers.RepeatVector(num_layers, name="broadcast_w")(mapping(z))
    return keras.Model(z, synthesis(ws), name=name)


def style_generator(latent_dim: int, image_shape: tuple[int, int, int], w_dim: int | None = None,
                    depth: int = 8, width: int = 64, max_width: int = 512, seed: int | None = None,
                    lr_multiplier: float = 0.01, name: str = "generator") -> keras.Model:
    """Build a style-based generator ``z -> image`` (mapping -> one w per layer -> synthesis).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C); H and W powers of two, at least 4.
        w_dim: size of w (default: ``latent_dim``).
        depth: dense layers in the mapping network.
        width, max_width: filters of the synthesis network (see :func:`style_synthesis`).
        seed: seed of the noise layers.
        lr_multiplier: the mapping network's relative learning rate (see :func:`style_mapping`).
    """
    mapping = style_mapping(latent_dim, w_dim=w_dim, depth=depth, lr_multiplier=lr_multiplier)
    synthesis = style_synthesis(mapping.output_shape[-1], image_shape, width=width, max_width=max_width, seed=seed)
    return compose_style_generator(mapping, synthesis, name=name)


def style_parts(generator: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The (mapping, synthesis) sub-models of a generator built by :func:`style_generator`.

    They are found by their input shapes, (batch, latent_dim) and (batch, num_layers, w_dim), so any
    generator that nests one of each works.
    """
    subs = [layer for layer in getattr(generator, "layers", []) if isinstance(layer, keras.Model)]
    mappings = [m for m in subs if isinstance(m.input_shape, tuple) and len(m.input_shape) == 2]
    syntheses = [m for m in subs if isinstance(m.input_shape, tuple) and len(m.input_shape) == 3]
    if len(mappings) != 1 or len(syntheses) != 1:
        name = getattr(generator, "name", type(generator).__name__)
        raise _checks.fail("generator", "a style-based generator (nets.style_generator) nesting one mapping "
                           "network (z -> w) and one synthesis network (ws -> images)",
                           f"{name!r} with {len(mappings)} mapping-like and {len(syntheses)} synthesis-like "
                           f"sub-models")
    return mappings[0], syntheses[0]
