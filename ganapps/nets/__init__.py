"""Network builders: functions returning functional ``keras.Model`` objects for a given data shape.

The games take their networks as arguments and never hard-code an architecture; these builders give sensible
defaults.
"""

from ganapps.nets.dcgan import dcgan_discriminator, dcgan_generator
from ganapps.nets.mlp import mlp_discriminator, mlp_generator

__all__ = ["dcgan_generator", "dcgan_discriminator", "mlp_generator", "mlp_discriminator"]
