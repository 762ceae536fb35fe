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

from collections.abc import Sequence

import keras
from keras import layers

from ganapps import _checks
from ganapps.layers import SNDense
from ganapps.nets.dcgan import downsampling_trunk, upsampling_body
from ganapps.nets.mlp import mlp_trunk

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
def _mlp_trunk(input_dim: int, hidden, activation: str, spectral_norm: bool = False):
    return mlp_trunk(input_dim, "x", hidden, activation, spectral_norm)


def _dense(spectral_norm: bool):
    """The head layer class: spectrally normalised with the trunk, so the whole discriminator is constrained."""
    return SNDense if spectral_norm else layers.Dense


def _projection_head(features, condition_dim: int, spectral_norm: bool = False):
    """(condition input, logit) with logit = psi(phi) + <embed(y), phi>."""
    condition = keras.Input((condition_dim,), name="condition")
    width = features.shape[-1]
    dense = _dense(spectral_norm)
    psi = dense(1, name="psi", dtype="float32")(features)
    embedded = dense(width, use_bias=False, name="embed_condition", dtype="float32")(condition)
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
    z = keras.Input((latent_dim,), name="z")
    condition = keras.Input((condition_dim,), name=condition_name)
    images = upsampling_body(layers.Concatenate()([z, condition]), image_shape, width, max_width, norm)
    return keras.Model([z, condition], images, name=name)


def conditional_discriminator(image_shape: tuple[int, int, int], condition_dim: int, width: int = 64,
                              max_width: int = 512, norm: str | None = None, dropout: float = 0.0,
                              spectral_norm: bool = False, minibatch_std: bool = False,
                              name: str = "discriminator") -> keras.Model:
    """Build a projection discriminator of ``[images, condition]`` returning one logit per image.

    The trunk is the DCGAN discriminator's (strided convolutions, LeakyReLU 0.2); see the module docstring for
    the projection. Args as :func:`ganapps.nets.dcgan_discriminator`, plus ``condition_dim``.
    """
    _checks.positive_int(condition_dim, "condition_dim")
    images, features = downsampling_trunk(image_shape, width, max_width, norm, dropout, spectral_norm,
                                          minibatch_std)
    condition, logit = _projection_head(features, condition_dim, spectral_norm)
    return keras.Model([images, condition], logit, name=name)


def acgan_discriminator(image_shape: tuple[int, int, int], num_classes: int, width: int = 64,
                        max_width: int = 512, norm: str | None = None, dropout: float = 0.0,
                       spectral_norm: bool = False, minibatch_std: bool = False,
                        name: str = "discriminator") -> keras.Model:
    """Build an ACGAN discriminator: images -> ``[logit, class_logits]`` from one shared trunk."""
    _checks.positive_int(num_classes, "num_classes")
    images, features = downsampling_trunk(image_shape, width, max_width, norm, dropout, spectral_norm,
                                          minibatch_std)
    logit = _dense(spectral_norm)(1, name="logit", dtype="float32")(features)
    classes = _dense(spectral_norm)(num_classes, name="class_logits", dtype="float32")(features)
    return keras.Model(images, [logit, classes], name=name)


def infogan_discriminator(image_shape: tuple[int, int, int], categorical_codes: Sequence[int] = (10,),
                          continuous_codes: int = 0, width: int = 64, max_width: int = 512,
                          norm: str | None = None, dropout: float = 0.0, q_units: int | None = 128,
                          spectral_norm: bool = False, minibatch_std: bool = False,
                          name: str = "discriminator") -> keras.Model:
    """Build an InfoGAN discriminator: images -> ``[logit, code_0_logits, ..., continuous_means]``.

    The Q head (``q_units`` hidden units, or none for linear heads) shares D's trunk, as in the paper, so it
    costs little and trains with D's variables.
    """
    categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
    q_units = _check_q_units(q_units)
    images, features = downsampling_trunk(image_shape, width, max_width, norm, dropout, spectral_norm,
                                          minibatch_std)
    logit = _dense(spectral_norm)(1, name="logit", dtype="float32")(features)
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
                                  activation: str = "leaky_relu", spectral_norm: bool = False,
                                  name: str = "discriminator") -> keras.Model:
    """Build an MLP projection discriminator of ``[x, condition]`` returning one logit."""
    _checks.positive_int(condition_dim, "condition_dim")
    x, features = _mlp_trunk(input_dim, hidden, activation, spectral_norm)
    condition, logit = _projection_head(features, condition_dim, spectral_norm)
    return keras.Model([x, condition], logit, name=name)


def mlp_acgan_discriminator(input_dim: int, num_classes: int, hidden: Sequence[int] = (128, 128),
                            activation: str = "leaky_relu", spectral_norm: bool = False,
                            name: str = "discriminator") -> keras.Model:
    """Build an MLP ACGAN discriminator: x -> ``[logit, class_logits]``."""
    _checks.positive_int(num_classes, "num_classes")
    x, features = _mlp_trunk(input_dim, hidden, activation, spectral_norm)
    logit = _dense(spectral_norm)(1, name="logit", dtype="float32")(features)
    classes = _dense(spectral_norm)(num_classes, name="class_logits", dtype="float32")(features)
    return keras.Model(x, [logit, classes], name=name)


def mlp_infogan_discriminator(input_dim: int, categorical_codes: Sequence[int] = (10,), continuous_codes: int = 0,
                              hidden: Sequence[int] = (128, 128), activation: str = "leaky_relu",
                              q_units: int | None = None, spectral_norm: bool = False,
                              name: str = "discriminator") -> keras.Model:
    """Build an MLP InfoGAN discriminator: x -> ``[logit, code_0_logits, ..., continuous_means]``."""
    categorical_codes, continuous_codes = check_codes(categorical_codes, continuous_codes)
    q_units = _check_q_units(q_units)
    x, features = _mlp_trunk(input_dim, hidden, activation, spectral_norm)
    logit = _dense(spectral_norm)(1, name="logit", dtype="float32")(features)
    heads = _q_heads(features, categorical_codes, continuous_codes, q_units)
    return keras.Model(x, [logit] + heads, name=name)
