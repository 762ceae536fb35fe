"""Networks for the conditional games: conditional generators, projection / ACGAN / InfoGAN discriminators.

* Generators take ``[z, condition]`` and concatenate them before the DCGAN projection (Mirza & Osindero 2014):
  the condition is any vector (one-hot class, attribute vector, InfoGAN code).
* :func:`conditional_discriminator` is a projection discriminator (Miyato & Koyama 2018):
  ``logit = psi(phi(x)) + <embed(y), phi(x)>``. Concatenating y to the input gives the condition a weak,
  indirect path; the inner product makes the logit depend on how well x's features match y's embedding. A Dense
  embedding (no bias) makes it work for one-hot labels (a lookup) and real-valued attributes alike.
* :func:`acgan_discriminator` shares one trunk between the real/fake logit and class logits (Odena et al. 2017);
  :func:`infogan_discriminator` shares it between the logit and the Q head (Chen et al. 2016): logits per
  categorical code and means of the continuous ones (unit variance, fixed).

Each comes as a convolutional (image) builder, DCGAN-shaped like :mod:`ganapps.nets.dcgan`, and an MLP (vector)
builder for tabular data and toy problems. Output layers are float32 so logits stay float32 under a
mixed-precision policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks

__all__ = [
    "conditional_generator", "conditional_discriminator", "acgan_discriminator", "infogan_discriminator",
    "mlp_conditional_generator", "mlp_conditional_discriminator", "mlp_acgan_discriminator",
    "mlp_infogan_discriminator", "infogan_code_dim",
]


def check_codes(categorical_codes, continuous_codes) -> tuple[tuple[int, ...], int]:
    """Validate InfoGAN code counts: categories of each categorical code (each at least 2) and the number of
    continuous codes; at least one code in all."""
    ok = isinstance(categorical_codes, Sequence) and not isinstance(categorical_codes, str) and all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 2 for k in categorical_codes)
    if not ok:
        raise ValueError(f"categorical_codes: expected a list of category counts, each at least 2 (e.g. [10]); "
                         f"got {categorical_codes!r}")
    if isinstance(continuous_codes, bool) or not isinstance(continuous_codes, int) or continuous_codes < 0:
        raise ValueError(f"continuous_codes: expected a non-negative integer; got {continuous_codes!r}")
    if not categorical_codes and not continuous_codes:
        raise ValueError("categorical_codes: expected at least one code (categorical or continuous); got [] and "
                         "continuous_codes=0")
    return tuple(int(k) for k in categorical_codes), int(continuous_codes)


def infogan_code_dim(categorical_codes: Sequence[int], continuous_codes: int) -> int:
    """Width of InfoGAN's code vector: the one-hot categorical codes plus one column per continuous code."""
    categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
    return sum(categorical_codes) + continuous_codes


# -- trunks and heads ----------------------------------------------------------------------------------------
def _levels(h: int, w: int) -> int:
    return int(math.log2(min(h, w))) - 2


def _norm_layer(kind: str | None):
    if kind is None:
        return None
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9)
    if kind == "layer":
        return layers.LayerNormalization()
    raise ValueError(f"norm: expected None, 'batch' or 'layer'; got {kind!r}")


def _check_dropout(dropout) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a rate in [0, 1); got {dropout!r}")
    return float(dropout)


def _conv_trunk(image_shape, width: int, max_width: int, norm: str | None, dropout: float):
    """(images input, flat features): the DCGAN discriminator without its logit layer."""
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _checks.positive_int(max_width, "max_width")
    _norm_layer(norm)
    dropout = _check_dropout(dropout)
    images = keras.Input((h, w, c), name="images")
    x = images
    levels = _levels(h, w)
    for i in range(max(1, levels)):
        x = layers.Conv2D(min(max_width, width * 2 ** i), 4, strides=2 if levels else 1, padding="same")(x)
        n = _norm_layer(norm) if i > 0 else None
        if n is not None:
            x = n(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return images, layers.Flatten()(x)


def _mlp_trunk(input_dim: int, hidden, activation: str):
    _checks.positive_int(input_dim, "input_dim")
    hidden = _checks.units(hidden, "hidden")
    inputs = keras.Input((input_dim,), name="x")
    x = inputs
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    return inputs, x


def _projection_head(features, condition_dim: int):
    """(condition input, logit) with logit = psi(phi) + <embed(y), phi>."""
    condition = keras.Input((condition_dim,), name="condition")
    width = features.shape[-1]
    psi = layers.Dense(1, name="psi", dtype="float32")(features)
    embedded = layers.Dense(width, use_bias=False, name="embed_condition", dtype="float32")(condition)
    match = layers.Dot(axes=1, name="projection", dtype="float32")([embedded, features])
    return condition, layers.Add(name="logit", dtype="float32")([psi, match])


def _q_heads(features, categorical_codes, continuous_codes: int, q_units: int | None) -> list:
    """InfoGAN's Q: a hidden layer on the shared features, then logits per categorical code and the means of the
    continuous codes."""
    if q_units:
        features = layers.Dense(q_units, name="q_hidden")(features)
        features = layers.LeakyReLU(0.2)(features)
    heads = [layers.Dense(k, name=f"code_{i}_logits", dtype="float32")(features)
             for i, k in enumerate(categorical_codes)]
    if continuous_codes:
        heads.append(layers.Dense(continuous_codes, name="continuous_means", dtype="float32")(features))
    return heads


def _check_q_units(q_units) -> int | None:
    if q_units is None or q_units == 0:
        return None
    return _checks.positive_int(q_units, "q_units")


# -- image builders ------------------------------------------------------------------------------------------
def conditional_generator(latent_dim: int, condition_dim: int, image_shape: tuple[int, int, int], width: int = 64,
                          max_width: int = 512, norm: str | None = "batch", condition_name: str = "condition",
                          name: str = "generator") -> keras.Model:
    """Build a DCGAN generator of ``[z, condition]``: the two are concatenated, projected to a small feature
    map and upsampled by strided transposed convolutions to ``image_shape`` in [-1, 1].

    Args:
        latent_dim: size of z.
        condition_dim: size of the condition vector (number of classes for one-hot labels, attribute count, or
            InfoGAN's code width, see :func:`infogan_code_dim`).
        image_shape: (H, W, C); H and W powers of two, at least 4.
        width: filters of the last (full-resolution) block; each lower resolution doubles it.
        max_width: cap on the number of filters.
        norm: "batch" (DCGAN), "layer" or None.
        condition_name: name of the condition input (the export's input name): "condition", or "codes".
    """
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(condition_dim, "condition_dim")
    h, w, c = _checks.image_shape(image_shape)
    _checks.positive_int(width, "width")
    _checks.positive_int(max_width, "max_width")
    _norm_layer(norm)
    levels = _levels(h, w)
    filters = [min(max_width, width * 2 ** (levels - i)) for i in range(levels + 1)]
    z = keras.Input((latent_dim,), name="z")
    condition = keras.Input((condition_dim,), name=condition_name)
    x = layers.Concatenate()([z, condition])
    x = layers.Dense((h >> levels) * (w >> levels) * filters[0], use_bias=norm is None)(x)
    x = layers.Reshape((h >> levels, w >> levels, filters[0]))(x)
    for i, f in enumerate(filters):
        if i:
            x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=norm is None)(x)
        n = _norm_layer(norm)
        if n is not None:
            x = n(x)
        x = layers.ReLU()(x)
    images = layers.Conv2D(c, 3, padding="same", activation="tanh", name="to_image", dtype="float32")(x)
    return keras.Model([z, condition], images, name=name)


def conditional_discriminator(image_shape: tuple[int, int, int], condition_dim: int, width: int = 64,
                              max_width: int = 512, norm: str | None = None, dropout: float = 0.0,
                              name: str = "discriminator") -> keras.Model:
    """Build a projection discriminator of ``[images, condition]`` returning one logit per image.

    The trunk is the DCGAN discriminator's (strided convolutions, LeakyReLU 0.2); see the module docstring for
    the projection. Args as :func:`ganapps.nets.dcgan_discriminator`, plus ``condition_dim``.
    """
    _checks.positive_int(condition_dim, "condition_dim")
    images, features = _conv_trunk(image_shape, width, max_width, norm, dropout)
    condition, logit = _projection_head(features, condition_dim)
    return keras.Model([images, condition], logit, name=name)


def acgan_discriminator(image_shape: tuple[int, int, int], num_classes: int, width: int = 64,
                        max_width: int = 512, norm: str | None = None, dropout: float = 0.0,
                        name: str = "discriminator") -> keras.Model:
    """Build an ACGAN discriminator: images -> ``[logit, class_logits]`` from one shared trunk."""
    _checks.positive_int(num_classes, "num_classes")
    images, features = _conv_trunk(image_shape, width, max_width, norm, dropout)
    logit = layers.Dense(1, name="logit", dtype="float32")(features)
    classes = layers.Dense(num_classes, name="class_logits", dtype="float32")(features)
    return keras.Model(images, [logit, classes], name=name)


def infogan_discriminator(image_shape: tuple[int, int, int], categorical_codes: Sequence[int] = (10,),
                          continuous_codes: int = 0, width: int = 64, max_width: int = 512,
                          norm: str | None = None, dropout: float = 0.0, q_units: int | None = 128,
                          name: str = "discriminator") -> keras.Model:
    """Build an InfoGAN discriminator: images -> ``[logit, code_0_logits, ..., continuous_means]``.

    The Q head (``q_units`` hidden units, or none for linear heads) shares D's trunk, as in the paper, so it
    costs little and trains with D's variables.
    """
    categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
    q_units = _check_q_units(q_units)
    images, features = _conv_trunk(image_shape, width, max_width, norm, dropout)
    logit = layers.Dense(1, name="logit", dtype="float32")(features)
    heads = _q_heads(features, categorical_codes, continuous_codes, q_units)
    return keras.Model(images, [logit] + heads, name=name)


# -- vector (MLP) builders -----------------------------------------------------------------------------------
def mlp_conditional_generator(latent_dim: int, condition_dim: int, output_dim: int,
                              hidden: Sequence[int] = (128, 128), activation: str = "relu",
                              output_activation: str | None = None, condition_name: str = "condition",
                              name: str = "generator") -> keras.Model:
    """Build an MLP generator of ``[z, condition]`` (concatenated) for vectors of size ``output_dim``."""
    _checks.positive_int(latent_dim, "latent_dim")
    _checks.positive_int(condition_dim, "condition_dim")
    _checks.positive_int(output_dim, "output_dim")
    hidden = _checks.units(hidden, "hidden")
    z = keras.Input((latent_dim,), name="z")
    condition = keras.Input((condition_dim,), name=condition_name)
    x = layers.Concatenate()([z, condition])
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    out = layers.Dense(output_dim, activation=output_activation, name="output", dtype="float32")(x)
    return keras.Model([z, condition], out, name=name)


def mlp_conditional_discriminator(input_dim: int, condition_dim: int, hidden: Sequence[int] = (128, 128),
                                  activation: str = "leaky_relu", name: str = "discriminator") -> keras.Model:
    """Build an MLP projection discriminator of ``[x, condition]`` returning one logit."""
    _checks.positive_int(condition_dim, "condition_dim")
    x, features = _mlp_trunk(input_dim, hidden, activation)
    condition, logit = _projection_head(features, condition_dim)
    return keras.Model([x, condition], logit, name=name)


def mlp_acgan_discriminator(input_dim: int, num_classes: int, hidden: Sequence[int] = (128, 128),
                            activation: str = "leaky_relu", name: str = "discriminator") -> keras.Model:
    """Build an MLP ACGAN discriminator: x -> ``[logit, class_logits]``."""
    _checks.positive_int(num_classes, "num_classes")
    x, features = _mlp_trunk(input_dim, hidden, activation)
    logit = layers.Dense(1, name="logit", dtype="float32")(features)
    classes = layers.Dense(num_classes, name="class_logits", dtype="float32")(features)
    return keras.Model(x, [logit, classes], name=name)


def mlp_infogan_discriminator(input_dim: int, categorical_codes: Sequence[int] = (10,), continuous_codes: int = 0,
                              hidden: Sequence[int] = (128, 128), activation: str = "leaky_relu",
                              q_units: int | None = None, name: str = "discriminator") -> keras.Model:
    """Build an MLP InfoGAN discriminator: x -> ``[logit, code_0_logits, ..., continuous_means]``."""
    categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
    q_units = _check_q_units(q_units)
    x, features = _mlp_trunk(input_dim, hidden, activation)
    logit = layers.Dense(1, name="logit", dtype="float32")(features)
    heads = _q_heads(features, categorical_codes, continuous_codes, q_units)
    return keras.Model(x, [logit] + heads, name=name)
