"""GAN-based outlier detection: fit on normal data only, score how unlike it new samples are, export the scorer.

    from apps.outliers import GANOutlierDetector, load_data
    X, y = load_data("digits", split="train")                       # (n, 8, 8, 1) in [-1, 1], labels
    det = GANOutlierDetector(method="fanogan", contamination=0.05).fit(X[y == 3])
    det.score_samples(X)          # scikit-learn's sign: lower = more abnormal
    det.predict(X)                # +1 inlier / -1 outlier, by the contamination quantile of the training scores
    det.explain(X[:8])            # reconstructions and residual maps: where each sample is abnormal
    det.save("det.keras"); GANOutlierDetector.load("det.keras")
    det.export("saved_models/outliers_digits")   # one ONNX graph for ganapps.runtime.OutlierScorer

Three methods share one GAN (:class:`ganapps.FAnoGAN`): ``"fanogan"`` (an encoder trained after the GAN maps a
sample to its latent, so scoring is one forward pass), ``"anogan"`` (the latent is found by gradient descent per
sample) and ``"discriminator"`` (the critic's realness, a baseline).

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GANOutlierDetector", "Explanation", "load_data", "roc_pr_figure", "residual_figure"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from apps.outliers import app

        return getattr(app, name)
    raise AttributeError(f"module 'apps.outliers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
