"""Games with an encoder as a third player: the encoder saved with the game, and its optimizer, ``e_optimizer``,
built, loss-scaled and saved like G's and D's, so a ``.keras`` reload resumes the encoder's training as well."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import layers

from ganapps import _checks
from ganapps import data as gdata
from ganapps.games.gan import _optimizer, _validate_vectors
from ganapps.games.srgan import _Untracked
from ganapps.layers import MinibatchStdDev


class TrainsEncoder:
    """Mixin for a :class:`~ganapps.games.gan.GAN` subclass with an encoder network, ``self.encoder``.

    The subclass's ``compile`` takes ``e_optimizer`` beside G's and D's and hands it to :meth:`_compile_encoder`
    after ``super().compile``; the compile config then carries it under the key ``"e_optimizer"``, and the game's
    config carries the encoder under ``"encoder"`` and the feature layer under ``"feature_layer"`` (so
    ``__init__`` must take both).
    """

    def _set_encoder(self, encoder: keras.Model, feature_layer: str | None) -> None:
        """Check and keep the encoder (the game's own ``_check_encoder``) and the discriminator layer whose output
        is the feature space, and build :attr:`feature_model` now, so that a bad ``feature_layer`` fails here."""
        self._check_encoder(encoder)
        self.encoder = encoder
        if feature_layer is not None and not isinstance(feature_layer, str):
            raise _checks.fail("feature_layer", "None or the name of a discriminator layer", repr(feature_layer))
        self.feature_layer = feature_layer
        self._features = _Untracked(None)  # (discriminator, feature model): rebuilt if the discriminator changes
        self.feature_model  # noqa: B018

    @property
    def feature_model(self) -> keras.Model:
        """A ``keras.Model`` from samples to the discriminator's flat features (batch, k); it shares the
        discriminator's layers and is not saved separately."""
        cached = self._features.value
        if cached is None or cached[0] is not self.discriminator:
            self._features.value = (self.discriminator, _feature_model(self.discriminator, self.feature_layer))
        return self._features.value[1]

    def _samples(self, x) -> np.ndarray:
        """``x`` as float32 samples of the game's sample shape, checked as ``fit`` checks its data: images
        (rank-3 samples) must lie in [-1, 1] (0..255 pixels would land far outside what the encoder learned)."""
        shape = self._sample_shape()
        if len(shape) == 3:
            x = np.asarray(x)
            gdata.validate_images(x, argument="x", expected_shape=shape)
            return x.astype(np.float32, copy=False)
        x = np.asarray(x, dtype=np.float32)
        _validate_vectors(x, shape)
        return x

    def _compile_encoder(self, e_optimizer: keras.optimizers.Optimizer | str | dict | None,
                         default: Callable[[], keras.optimizers.Optimizer] | None = None) -> None:
        """Set ``self.e_optimizer`` from ``e_optimizer`` (``default()`` when it is None, else the GAN's default
        optimizer) and build it now, so saved optimizer state loads into it instead of being skipped."""
        if e_optimizer is None and default is not None:
            e_optimizer = default()
        self.e_optimizer = self._encoder_loss_scaled(_optimizer(e_optimizer, "e_optimizer"))
        self.e_optimizer.build(self.encoder.trainable_variables)

    def _encoder_loss_scaled(self, optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
        """Loss-scaled when the game, G, D or the encoder itself computes in float16: the encoder's loss flows
        through all of them, and the game's own check looks at the game, G and D only."""
        optimizer = self._loss_scaled(optimizer)
        if self.encoder.dtype_policy.name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def get_compile_config(self) -> dict:
        """The three optimizers and compile options, so a ``.keras`` reload compiles the game as it was."""
        config = super().get_compile_config()
        if config:
            config["e_optimizer"] = keras.saving.serialize_keras_object(self.e_optimizer)
        return config

    def compile_from_config(self, config: dict) -> None:
        """Compile from :meth:`get_compile_config`'s output (Keras calls it when loading a ``.keras`` file)."""
        config = dict(config)
        if config.get("e_optimizer") is not None:
            config["e_optimizer"] = keras.saving.deserialize_keras_object(config["e_optimizer"])
        super().compile_from_config(config)

    def get_config(self) -> dict:
        """The game's config plus the serialised encoder and the feature layer (both set by :meth:`_set_encoder`),
        for ``.keras`` files."""
        config = super().get_config()
        config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        config["feature_layer"] = self.feature_layer
        return config

    @classmethod
    def from_config(cls, config: dict) -> Any:
        """The game :meth:`get_config` describes, its encoder deserialised (the base game does its other
        networks)."""
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return super().from_config(config)


def _feature_model(discriminator: keras.Model, feature_layer: str | None) -> keras.Model:
    """Samples -> flat (batch, k) features of ``discriminator``: its ``feature_layer``'s output, or the input of
    its last layer (what its logit is computed from), or, when that passes through a minibatch std-dev layer, the
    input of that layer."""
    inputs = getattr(discriminator, "inputs", None)
    if not inputs or not discriminator.layers:
        raise _checks.fail("discriminator", "a functional or Sequential keras.Model (its features are read from "
                           "its layers)", f"{type(discriminator).__name__} without symbolic inputs")
    inputs = inputs[0] if len(inputs) == 1 else inputs
    if feature_layer is None:
        try:
            features = discriminator.layers[-1].input
        except (AttributeError, ValueError) as err:
            raise _checks.fail("feature_layer", "the name of a discriminator layer (the last layer's input is "
                               "ambiguous)", "None") from err
    else:
        names = [layer.name for layer in discriminator.layers]
        if feature_layer not in names:
            raise _checks.fail("feature_layer", f"None or the name of a discriminator layer, one of {names}",
                               repr(feature_layer))
        try:
            features = discriminator.get_layer(feature_layer).output
        except (AttributeError, ValueError) as err:
            raise _checks.fail("feature_layer", "a layer used once in the discriminator", repr(feature_layer)) \
                from err
    if isinstance(features, (list, tuple)):
        raise _checks.fail("feature_layer", "a layer with one output tensor",
                           f"{feature_layer!r} with {len(features)} tensors")
    mixing = _batch_mixing(keras.Model(inputs, features))
    if mixing and feature_layer is None:
        features = _before_batch_mixing(discriminator, inputs, mixing)
    elif mixing:
        raise _checks.fail("feature_layer", f"a layer before the discriminator's MinibatchStdDev layer "
                           f"{mixing[0].name!r} (its output mixes each sample with the rest of the batch, so the "
                           f"features, and the scores, would depend on the batch): name an earlier layer",
                           f"{feature_layer!r}, whose output is computed through it")
    if len(features.shape) != 2:
        features = layers.Flatten(name="flat_features")(features)
    return keras.Model(inputs, features, name=f"{discriminator.name}_features")


def _batch_mixing(model: keras.Model) -> list:
    """The :class:`~ganapps.layers.MinibatchStdDev` layers of ``model``, nested models searched too: the layers
    whose output for a sample depends on the rest of its batch."""
    found = []
    for layer in model.layers:
        if isinstance(layer, MinibatchStdDev):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(_batch_mixing(layer))
    return found


def _before_batch_mixing(discriminator: keras.Model, inputs, mixing: list):
    """The default features of a discriminator whose logit sees a minibatch std-dev channel: the input of its one
    MinibatchStdDev layer (the same features without the batch statistic), when that is well defined."""
    layer = mixing[0]
    features = None
    if len(mixing) == 1 and any(own is layer for own in discriminator.layers):
        try:
            features = layer.input
        except (AttributeError, ValueError):
            features = None
    if features is None or isinstance(features, (list, tuple)) or _batch_mixing(keras.Model(inputs, features)):
        raise _checks.fail("feature_layer", "the name of a discriminator layer before its MinibatchStdDev layers "
                           f"{[m.name for m in mixing]} (they mix each sample with the rest of the batch, so "
                           "features after them, and the scores, would depend on the batch)",
                           "None (the logit layer's input, which comes after them)")
    return features
