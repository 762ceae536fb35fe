"""apps.robust and ``ganapps robust``: a robust classifier trained for real on a slice of digits, evaluated,
saved, reloaded and exported; the CLI's three subcommands and their files; named errors that leave nothing behind."""

import json

import numpy as np
import pytest
from _helpers import help_texts_without_heavy_imports

from apps.robust import RobustClassifier, load_data, load_model
from ganapps import cli


@pytest.fixture(scope="module")
def digits():
    x, y = load_data("digits")
    x_test, y_test = load_data("digits", split="test")
    return x[:480], y[:480], x_test[:160], y_test[:160]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`ganapps robust train` twice (standard and PGD), as a user would run it."""
    root = tmp_path_factory.mktemp("robust")
    common = ["--limit", "480", "--epochs", "4", "--steps", "3", "--seed", "1"]
    assert cli.main(["robust", "train", "--method", "standard", "--no-export", "--out", str(root / "standard"),
                     *common]) == 0
    assert cli.main(["robust", "train", "--method", "pgd", "--eval-eps", "0,0.3", "--out", str(root / "pgd"),
                     *common]) == 0
    return root


def test_robust_classifier_learns_saves_and_exports(digits, tmp_path):
    x, y, x_test, y_test = digits
    robust = RobustClassifier(method="fast", eps=0.3, epochs=4, seed=2).fit(x, y, verbose=0)
    assert robust.overfitting is not None and robust.overfitting.triggered is None  # on for one-step methods
    assert robust.history["loss"][-1] < robust.history["loss"][0]
    fgsm_curve, pgd_curve = robust.evaluate(x_test, y_test, eps=[0, 0.3], pgd_steps=5)
    assert fgsm_curve.accuracy[0] == pgd_curve.accuracy[0] > 0.6
    assert pgd_curve.accuracy[1] <= fgsm_curve.accuracy[1] + 0.05
    x_adv = robust.attack(x_test[:32], y_test[:32], "pgd", eps=0.2, steps=5)
    assert np.abs(x_adv - x_test[:32]).max() <= 0.2 + 1e-6
    path = robust.save(tmp_path / "m.keras")
    again = RobustClassifier.load(path)
    assert again.method == "fast" and again.game is not None
    assert int(again.game.optimizer.iterations) == int(robust.game.optimizer.iterations)
    np.testing.assert_allclose(again.classifier.predict(x_test, verbose=0),
                               robust.classifier.predict(x_test, verbose=0), atol=1e-6)
    metadata = again.export(tmp_path / "export", formats=("onnx",))
    assert metadata["adversarial_training"]["method"] == "fast" and metadata["parity_max_abs_error"]["onnx"] < 1e-4


def test_train_writes_model_curves_and_export(runs):
    pgd = runs / "pgd"
    for name in ("model.keras", "history.json", "training.png", "robust_accuracy.json", "robust_accuracy.md",
                 "robust_accuracy.png", "export/model.onnx", "export/metadata.json"):
        assert (pgd / name).is_file(), name
    assert not (runs / "standard" / "export").exists()
    history = json.loads((pgd / "history.json").read_text())
    assert {"val_accuracy", "val_adv_accuracy"} <= set(history) and history["loss"][-1] < history["loss"][0]
    curves = {c["attack"]: c for c in json.loads((pgd / "robust_accuracy.json").read_text())}
    assert set(curves) == {"fgsm", "pgd"} and curves["pgd"]["eps"] == [0.0, 0.3]
    standard = {c["attack"]: c for c in json.loads((runs / "standard" / "robust_accuracy.json").read_text())}
    # robustness bought with PGD training shows at eps 0.3; standard training is fooled there
    assert curves["pgd"]["accuracy"][1] > standard["pgd"]["accuracy"][-1] + 0.1
    assert not list(runs.glob(".*partial"))


def test_attack_compares_models_on_one_plot(runs, tmp_path):
    out = tmp_path / "attack"
    code = cli.main(["robust", "attack", "--model", str(runs / "standard" / "model.keras"), "--model",
                     str(runs / "pgd" / "model.keras"), "--limit", "96", "--eps", "0,0.1,0.3", "--steps", "5",
                     "--out", str(out)])
    assert code == 0
    table = (out / "robust_accuracy.md").read_text().splitlines()
    assert table[0] == "| model | attack | eps 0 | eps 0.1 | eps 0.3 |"
    assert [row.split(" | ")[0] for row in table[2:]] == ["| standard", "| pgd"]
    examples = json.loads((out / "examples.json").read_text())
    assert (out / "examples.png").read_bytes()[:4] == b"\x89PNG" and examples["eps"] == 0.3
    assert np.mean(np.array(examples["adversarial"]) == examples["labels"]) < \
        np.mean(np.array(examples["clean"]) == examples["labels"])


def test_visualize_writes_grids_of_the_liveliest_units(runs, tmp_path):
    out = tmp_path / "units"
    assert cli.main(["robust", "visualize", "--model", str(runs / "pgd" / "model.keras"), "--limit", "200",
                     "--directions", "1", "--k", "4", "--synthesis-steps", "20", "--out", str(out)]) == 0
    assert (out / "units.png").read_bytes()[:4] == b"\x89PNG" and (out / "directions.png").is_file()
    assert load_model(runs / "pgd" / "model.keras").name == "classifier"


def test_errors_name_the_option_and_leave_nothing(runs, tmp_path, capsys):
    out = tmp_path / "never"
    assert cli.main(["robust", "attack", "--model", str(tmp_path / "missing.keras"), "--out", str(out)]) == 2
    assert "--model: expected an existing .keras file" in capsys.readouterr().err
    assert cli.main(["robust", "visualize", "--model", str(runs / "pgd" / "model.keras"), "--layer", "nope",
                     "--limit", "50", "--out", str(out)]) == 2
    assert "layer: expected" in capsys.readouterr().err
    assert cli.main(["robust", "train", "--data", str(tmp_path / "none.npz"), "--out", str(out)]) == 2
    assert "--data: expected a .npz file" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".never*"))
    with pytest.raises(SystemExit):
        cli.main(["robust", "train", "--eps", "0.1,x"])
    with pytest.raises(ValueError, match="^method: expected one of"):
        RobustClassifier(method="madry")
    loaded = RobustClassifier.load(runs / "pgd" / "model.keras", seed=3)
    assert loaded.seed == 3 and loaded.method == "pgd"
    with pytest.raises(ValueError, match="^attack_names: expected a sequence of 'fgsm' and/or 'pgd'"):
        loaded.evaluate(np.zeros((2, 8, 8, 1), "float32"), np.zeros(2, "int32"), attack_names=("cw_l2",))


def test_help_needs_no_tensorflow_and_choices_agree():
    from apps.robust import METHODS
    from apps.robust import cli as robust_cli

    assert robust_cli.METHOD_CHOICES == METHODS
    texts = help_texts_without_heavy_imports(["robust"], ["robust", "train"], ["robust", "attack"],
                                             ["robust", "visualize"])
    assert "ganapps robust train --out runs/robust_pgd" in texts[0]
    assert "{standard,pgd,trades,fast,fgsm}" in texts[1] and "--warmup-epochs" in texts[1]
    assert "{fgsm,pgd,cw_l2}" in texts[2] and "--jit-compile" not in texts[2]
    assert "the 8 units whose activation varies most" in " ".join(texts[3].split())
