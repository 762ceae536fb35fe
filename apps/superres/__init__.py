"""Single-image super-resolution: train an SRGAN on your photos, upscale images of any size, export to ONNX.

    from apps.superres import SuperResolver
    sr = SuperResolver(scale=4).fit("photos", steps=2000)        # PSNR-oriented training on random crops
    sr.fit("photos", steps=0, adversarial_steps=500)              # optional adversarial fine-tuning
    sr.upscale("in.png")                                          # uint8 array, tiled: any image size
    sr.evaluate()                                                 # PSNR/SSIM vs bicubic on held-out photos
    sr.export("saved_models/superres_x4")                         # ONNX + SavedModel + metadata.json
    sr.save("superres.keras"); SuperResolver.load("superres.keras")

The command line (``ganapps superres train|upscale|evaluate|compare``) lives in :mod:`apps.superres.cli`;
its ``upscale`` runs the ONNX export through :class:`ganapps.runtime.Upscaler` without TensorFlow.

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow.
"""

from __future__ import annotations

from apps._lazy import lazy_exports

_HOMES = {name: "app" for name in ("SuperResolver", "evaluate_upscaler", "comparison_figure", "low_resolution",
                                   "bicubic_upscale", "load_hr_images")}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
