"""Task tools built on the ganapps library: each app is a Python class plus a ``ganapps`` CLI subcommand that
trains a game on the user's data and exports what it learned for inference runtimes.

* :mod:`apps.superres`: single-image super-resolution (``SuperResolver``; ``ganapps superres ...``): an SRGAN
  trained on high-resolution crops, tiled upscaling of images of any size, PSNR/SSIM against bicubic on
  held-out photos, ONNX + SavedModel export served by :class:`ganapps.runtime.Upscaler` without TensorFlow.
* :mod:`apps.outliers`: outlier detection (``GANOutlierDetector``; ``ganapps outliers ...``): f-AnoGAN, AnoGAN
  and critic scores with scikit-learn conventions, a threshold calibrated on held-out normal data, and the
  f-AnoGAN scorer exported as one ONNX graph served by :class:`ganapps.runtime.OutlierScorer`.
* :mod:`apps.style_transfer`: image-to-image translation (``PairedTranslator``/``UnpairedTranslator``;
  ``ganapps style ...``): pix2pix on paired and CycleGAN on unpaired images, any image size, exports served by
  :class:`ganapps.runtime.Translator` (benchmarks: ``benchmarks/bench_style.py``, RESULTS.md section 9).
* :mod:`apps.debias`: dataset debiasing (``DatasetDebiaser``; ``ganapps debias ...``): latent-density weights
  from a VAE-GAN, conditional-GAN rebalancing of rare groups, per-group bias reports.
* :mod:`apps.robust`: robust classifiers (``RobustClassifier``; ``ganapps robust ...``): adversarial training,
  accuracy under FGSM/PGD/C&W at several budgets, feature visualisation, ONNX + SavedModel export.
* :mod:`apps.common`: what the apps share (the image argument they accept, how steps split into epochs).

Apps only compose library pieces (``ganapps.data``, ``ganapps.nets``, ``ganapps.games``, ``ganapps.metrics``,
``ganapps.export``) with defaults for their task; capabilities they need belong in ``ganapps/``.
"""
