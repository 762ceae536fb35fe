"""GAN-based outlier detection: fit on normal data only, score how unlike it new samples are, export the scorer.

    from apps.outliers import GANOutlierDetector, load_data
    X, y = load_data("digits", split="train")                       # (n, 8, 8, 1) in [-1, 1], labels
    det = GANOutlierDetector(method="fanogan", contamination=0.05).fit(X[y == 3])
    det.score_samples(X)          # scikit-learn's sign: lower = more abnormal
    det.predict(X)                # +1 inlier / -1 outlier: the threshold flags `contamination` of normal data
                                  # (set on normal samples held out of training: calibration_fraction=0.2)
    det.explain(X[:8])            # reconstructions and residual maps: where each sample is abnormal
    det.save("det.keras"); GANOutlierDetector.load("det.keras")
    det.export("saved_models/outliers_digits")   # one ONNX graph for ganapps.runtime.OutlierScorer

Three methods share one GAN (:class:`ganapps.FAnoGAN`): ``"fanogan"`` (an encoder trained after the GAN maps a
sample to its latent, so scoring is one forward pass), ``"anogan"`` (the latent is found by gradient descent per
sample) and ``"discriminator"`` (the critic's realness, a baseline).

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow; neither the figures (:mod:`apps.outliers.plots`) nor :func:`load_data`
(:mod:`apps.outliers.data`) ever need it, except to resize the digits.
"""

from __future__ import annotations

from apps._lazy import lazy_exports

_HOMES = {"GANOutlierDetector": "app", "Explanation": "app", "load_data": "data", "roc_pr_figure": "plots",
          "residual_figure": "plots"}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
