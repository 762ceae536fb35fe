"""Dataset debiasing: find the rare samples of a dataset without group labels, top up its rare groups with a
conditional GAN, and report how a classifier trained each way does per group.

    from apps.debias import DatasetDebiaser, load_data, train_classifier, predict_labels, write_report
    train = load_data("biased-digits", split="train")               # offline: bold digits are 5% of train
    test = load_data("biased-digits", split="test")                 # ... and half of test
    deb = DatasetDebiaser(latent_dim=8).fit(train.x)                # no groups needed
    model = train_classifier(train.x, train.labels, method="latent", debiaser=deb)
    write_report("report/", test.labels, predict_labels(model, test.x), test.groups,
                 train_groups=train.groups, train_rarity=deb.rarity(train.x), x_train=train.x)

On the command line: ``ganapps debias weights|augment|report`` (:mod:`apps.debias.cli`).

The names below are imported on first use (PEP 562), so that importing the package, as the command line does,
does not start TensorFlow; :func:`load_data` needs it only for the digits' resizing and tensorflow-datasets.
"""

from __future__ import annotations

from apps._lazy import lazy_exports

_HOMES = {"DatasetDebiaser": "app", "train_classifier": "app", "training_probabilities": "app", "predict_labels": "app",
          "METHODS": "app",
          "write_report": "report", "top_weighted_shares": "report", "rarity_figure": "report",
          "load_data": "data", "DebiasData": "data"}
__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
