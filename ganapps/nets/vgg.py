"""VGG19 feature extractor for perceptual losses (SRGAN, ESRGAN), on ImageNet weights.

The weights file is the one ``keras.applications.VGG19(include_top=False)`` downloads; offline it must already
be in ``~/.keras/models`` (:mod:`ganapps.pretrained` raises an error saying how to provide it otherwise).
"""

from __future__ import annotations

import functools

import keras

from ganapps import _checks, pretrained

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
_VGG19_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_WEIGHTS_FILE
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="ganapps")
class VGGPreprocess(keras.layers.Layer):
    """[-1, 1] RGB (or grayscale, repeated) images to VGG's input: 0..255 BGR minus the ImageNet mean."""

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        x = (x + 1.0) * 127.5
        x = keras.ops.flip(x, axis=-1)
        return x - keras.ops.reshape(keras.ops.convert_to_tensor(_CAFFE_BGR_MEAN, "float32"), (1, 1, 1, 3))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


@functools.lru_cache(maxsize=4)
def _vgg19(layer: str) -> keras.Model:
    base = pretrained.application("VGG19", VGG19_WEIGHTS_FILE, _VGG19_URL, "perceptual",
                                  "VGG19's ImageNet weights",
                                  "perceptual='discriminator' (the discriminator's features) or None works",
                                  include_top=False)
    try:
        out = base.get_layer(layer).output
    except ValueError as err:
        raise _checks.fail("layer", "a VGG19 layer name such as 'block5_conv4' or 'block2_conv2'",
                           repr(layer)) from err
    return keras.Model(base.input, out, name=f"vgg19_{layer}")


def vgg19_features(layer: str = "block5_conv4", channels: int = 3) -> keras.Model:
    """A frozen model from [-1, 1] images (any size, ``channels`` 1 or 3) to VGG19's ``layer`` activations.

    ``block5_conv4`` is SRGAN's VGG54 (after its ReLU; ESRGAN takes it before the activation).
    """
    if channels not in (1, 3):
        raise _checks.fail("channels", "1 or 3", repr(channels))
    vgg = _vgg19(layer)
    vgg.trainable = False
    inputs = keras.Input((None, None, channels), name="images")
    return keras.Model(inputs, vgg(VGGPreprocess(name="vgg_preprocess")(inputs)), name=f"vgg19_features_{layer}")
