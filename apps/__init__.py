"""Task tools built on the ganapps library: each app is a Python class plus a ``ganapps`` CLI subcommand that
trains a game on the user's data and exports what it learned for inference runtimes.

* :mod:`apps.superres`: single-image super-resolution (``SuperResolver``; ``ganapps superres ...``): an SRGAN
  trained on high-resolution crops, tiled upscaling of images of any size, PSNR/SSIM against bicubic on
  held-out photos, ONNX + SavedModel export served by :class:`ganapps.runtime.Upscaler` without TensorFlow.

Apps only compose library pieces (``ganapps.data``, ``ganapps.nets``, ``ganapps.games``, ``ganapps.metrics``,
``ganapps.export``) with defaults for their task; capabilities they need belong in ``ganapps/``.
"""
