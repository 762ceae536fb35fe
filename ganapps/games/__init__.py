"""Adversarial games: each a ``keras.Model`` with its own ``train_step``."""

# Registers the layers a saved game may hold (spectral norm, DiffAugment, ...) before any .keras file loads.
import ganapps.augment  # noqa: F401
import ganapps.layers  # noqa: F401

from ganapps.games.conditional import ACGAN, ConditionalGAN, InfoGAN, categorical_purity
from ganapps.games.cyclegan import CycleGAN, ImagePool
from ganapps.games.fanogan import AnomalyScores, FAnoGAN, FAnoGANScore
from ganapps.games.gan import GAN
from ganapps.games.pix2pix import Pix2Pix
from ganapps.games.robust import AdversarialTraining, CatastrophicOverfittingCheck
from ganapps.games.progressive import ProgressiveGAN, ProgressiveSchedule
from ganapps.games.srgan import SRGAN, interpolate_networks
from ganapps.games.stylegan import StyleGAN
from ganapps.games.vaegan import VAEGAN

__all__ = ["ACGAN", "ConditionalGAN", "InfoGAN", "categorical_purity", "AnomalyScores", "FAnoGAN", "FAnoGANScore",
           "GAN", "Pix2Pix", "ProgressiveGAN", "ProgressiveSchedule", "SRGAN", "StyleGAN", "interpolate_networks",
           "CycleGAN", "ImagePool", "VAEGAN",
           "AdversarialTraining", "CatastrophicOverfittingCheck"]
