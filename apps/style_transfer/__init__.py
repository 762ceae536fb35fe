"""Style transfer: image-to-image translation trained on your images, paired (pix2pix) or unpaired (CycleGAN).

    from apps.style_transfer import PairedTranslator, UnpairedTranslator
    p = PairedTranslator().fit("edges2photo", steps=2000)       # (edges, photo) pairs made from bundled photos
    p.translate("sketch.png")                                    # uint8 array, any image size
    p.evaluate()                                                 # L1, PSNR, SSIM, sharpness on held-out pairs
    p.figure(None, "before_after.png")                           # input | output | target
    p.export("saved_models/edges2photo")                         # ONNX + SavedModel + metadata.json

    u = UnpairedTranslator().fit("photo2cartoon", steps=2000)   # photos and cartoons of other photos
    u.translate("photo.png", direction="a2b")                   # or "b2a"
    u.export("saved_models/photo2cartoon")                       # .../a2b and .../b2a

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow.
"""

from __future__ import annotations

from apps._lazy import lazy_exports

_HOMES = {name: "app" for name in ("PairedTranslator", "UnpairedTranslator", "before_after_grid")}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
