"""Games with an encoder as a third player: the encoder saved with the game, and its optimizer, ``e_optimizer``,
built, loss-scaled and saved like G's and D's, so a ``.keras`` reload resumes the encoder's training as well."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from ganapps.games.gan import _optimizer


class TrainsEncoder:
    """Mixin for a :class:`~ganapps.games.gan.GAN` subclass with an encoder network, ``self.encoder``.

    The subclass's ``compile`` takes ``e_optimizer`` beside G's and D's and hands it to :meth:`_compile_encoder`
    after ``super().compile``; the compile config then carries it under the key ``"e_optimizer"``, and the game's
    config carries the encoder under ``"encoder"`` (so ``__init__`` must take ``encoder``).
    """

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
        """The game's config plus the serialised encoder, for ``.keras`` files."""
        config = super().get_config()
        config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Any:
        """The game :meth:`get_config` describes, its encoder deserialised (the base game does its other
        networks)."""
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return super().from_config(config)
