"""Network builders: functions returning ``keras.Model`` objects for a given data shape (functional models,
except the progressive ones, which are subclassed models that grow).

The games take their networks as arguments and never hard-code an architecture; these builders give sensible
defaults.
"""

from ganapps.nets.conditional import (acgan_discriminator, conditional_discriminator, conditional_generator,
                                      infogan_code_dim, infogan_discriminator, mlp_acgan_discriminator,
                                      mlp_conditional_discriminator, mlp_conditional_generator,
                                      mlp_infogan_discriminator)
from ganapps.nets.classifier import small_classifier
from ganapps.nets.dcgan import dcgan_discriminator, dcgan_generator
from ganapps.nets.encoders import dcgan_encoder, mlp_encoder
from ganapps.nets.mlp import mlp_discriminator, mlp_generator
from ganapps.nets.patchgan import patchgan_discriminator, patchgan_receptive_field
from ganapps.nets.progressive import progressive_discriminator, progressive_generator
from ganapps.nets.resnet import resnet_generator
from ganapps.nets.srresnet import sr_discriminator, srresnet_generator
from ganapps.nets.style import (compose_style_generator, num_style_layers, style_generator, style_mapping,
                                 style_parts, style_synthesis)
from ganapps.nets.unet import min_size, pad_to_multiple, size_multiple, unet_generator, unet_multiple
from ganapps.nets.vgg import vgg19_features

__all__ = ["conditional_generator", "conditional_discriminator", "acgan_discriminator", "infogan_discriminator",
           "infogan_code_dim", "mlp_conditional_generator", "mlp_conditional_discriminator",
           "mlp_acgan_discriminator", "mlp_infogan_discriminator",
           "dcgan_generator", "dcgan_discriminator", "mlp_generator", "mlp_discriminator",
           "mlp_encoder", "dcgan_encoder",
           "progressive_generator", "progressive_discriminator",
           "style_generator", "style_mapping", "style_synthesis", "compose_style_generator", "style_parts",
           "num_style_layers", "srresnet_generator", "sr_discriminator", "vgg19_features",
           "unet_generator", "unet_multiple", "size_multiple", "min_size", "pad_to_multiple", "patchgan_discriminator",
           "patchgan_receptive_field",
           "resnet_generator", "small_classifier"]
