"""The few layers Keras lacks that the games and nets need.

Each layer is registered for ``.keras`` serialisation and exports to ONNX (opset 17) through tf2onnx.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from ganapps import _checks

# -- discriminator tricks and upsampling (spectral normalisation, minibatch std-dev, pixel shuffle) ------------


# -- style-based generator (AdaIN, noise injection) -------------------------------------------------------------
