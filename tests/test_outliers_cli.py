"""``ganapps outliers``: fit on one digit class writes the detector, the export, the evaluation and the figures;
``score`` runs the export without TensorFlow and flags a plausible share; bad arguments fail in one line."""

import contextlib
import csv
import io
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _helpers import BLOCK_HEAVY_IMPORTS, help_texts_without_heavy_imports, run_python
from PIL import Image

from apps.outliers.app import GANOutlierDetector
from ganapps import cli
from ganapps.data import _digits_split
from ganapps.export import ExportError

CONTAMINATION = 0.1
CLI_TINY = ["--steps", "300", "--encoder-steps", "300", "--hidden", "32,32", "--latent-dim", "8",
            "--batch-size", "32", "--contamination", str(CONTAMINATION), "--jit-compile", "false", "--top", "8"]

def _main(argv: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One tiny ``ganapps outliers fit`` on digit 3, in-process (TensorFlow is already loaded here)."""
    out = tmp_path_factory.mktemp("outliers") / "run"
    code, printed, err = _main(["outliers", "fit", "--data", "digits", "--normal-class", "3", *CLI_TINY,
                                "--out", str(out)])
    assert code == 0, err[-3000:]
    return SimpleNamespace(out=out, printed=printed)


def test_fit_writes_detector_export_evaluation_and_figures(fitted):
    out, printed = fitted.out, fitted.printed
    for name in ("detector.keras", "model.onnx", "saved_model", "metadata.json", "evaluation.json", "roc_pr.png",
                 "top_outliers.png"):
        assert (out / name).exists(), name
    assert "300/300" in printed  # the progress of both phases
    assert "trained in" in printed and "class 3 normal" in printed
    auroc = float(re.search(r"AUROC (\d\.\d+)", printed).group(1))
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["auroc"] == pytest.approx(auroc, abs=1e-3)
    assert auroc > 0.8, printed  # 300 + 300 tiny steps already tell a 3 from the other digits (0.9 at seed 0)
    assert evaluation["outliers"] > 0.8 * evaluation["n"]  # nine classes of ten are outliers
    # the threshold comes from held-out normal samples: it flags about --contamination of the held-out 3s (0.14
    # at seed 0) and several times that share of the other digits (0.68)
    assert evaluation["flagged_normal"] < 0.3 and evaluation["flagged_outliers"] > 0.5, evaluation
    assert "held_out_threshold" not in evaluation and "warning" not in printed
    assert "of the 29 normal samples held out of training" in printed  # --calibration-fraction 0.2 of 146
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["task"] == "outlier_scoring" and metadata["sample_shape"] == [8, 8, 1]
    assert metadata["contamination"] == pytest.approx(CONTAMINATION)
    assert (metadata["calibration_fraction"], metadata["calibration_size"]) == (0.2, 29)
    assert metadata["threshold"] == pytest.approx(evaluation["threshold"])
    for name in ("roc_pr.png", "top_outliers.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
    detector = GANOutlierDetector.load(out / "detector.keras")
    assert detector.settings["hidden"] in ((32, 32), [32, 32]) and detector.settings["latent_dim"] == 8


SCORE = BLOCK_HEAVY_IMPORTS + r"""
from ganapps import cli
codes = [cli.main(["outliers", "score", "--model", MODEL, "--data", DATA, "--out", OUT, "--heatmaps", FIGURE,
                   "--top", "6"])]
roc = ROC
if roc is not None:
    codes.append(cli.main(["outliers", "evaluate", "--model", MODEL, "--normal-class", "3", "--out", roc]))
print(json.dumps({"codes": codes, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def _score_without_tf(model, data, out, figure, roc=None) -> str:
    """``score`` (and, given ``roc``, ``evaluate`` on the digits' test split) in an interpreter where importing
    TensorFlow or Keras fails."""
    code = SCORE
    for key, value in (("MODEL", model), ("DATA", data), ("OUT", out), ("FIGURE", figure), ("ROC", roc)):
        code = code.replace(key, repr(None if value is None else str(value)))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"codes": [0] * (1 if roc is None else 2), "tensorflow": False, "keras": False}
    return proc.stdout


def _rows(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_score_and_evaluate_run_without_tensorflow_and_flag_a_plausible_share(fitted, tmp_path):
    test, test_labels = _digits_split("test", None, 1)
    normal = np.asarray(test[test_labels == 3])  # new normal samples, as the threshold was calibrated for
    others = np.asarray(test[test_labels != 3])
    np.save(tmp_path / "normal.npy", normal)
    np.save(tmp_path / "others.npy", others)
    printed = _score_without_tf(fitted.out, tmp_path / "normal.npy", tmp_path / "normal.csv", tmp_path / "n.png",
                                roc=tmp_path / "roc.png")
    evaluated = float(re.search(r"AUROC (\d\.\d+)", printed).group(1))  # evaluate, without TensorFlow too
    assert evaluated == pytest.approx(json.loads((fitted.out / "evaluation.json").read_text())["auroc"], abs=2e-3)
    assert (tmp_path / "roc.png").is_file()
    assert "flagged" in printed and "threshold" in printed and str(tmp_path / "normal.csv") in printed
    assert "held out of its training" in printed
    rows = _rows(tmp_path / "normal.csv")
    assert len(rows) == len(normal) and list(rows[0]) == ["index", "score", "score_samples", "outlier"]
    assert [row["index"] for row in rows] == [str(i) for i in range(len(normal))]
    scores = np.array([float(row["score"]) for row in rows])
    np.testing.assert_allclose([float(row["score_samples"]) for row in rows], -scores, rtol=1e-6)
    # the export's scores and threshold are the detector's: about --contamination of new 3s flagged, as in fit
    detector = GANOutlierDetector.load(fitted.out / "detector.keras")
    np.testing.assert_allclose(scores, -detector.score_samples(normal), rtol=1e-3, atol=1e-4)
    flagged = np.array([int(row["outlier"]) for row in rows])
    np.testing.assert_array_equal(flagged, detector.predict(normal) == -1)
    evaluation = json.loads((fitted.out / "evaluation.json").read_text())
    assert flagged.mean() == pytest.approx(evaluation["flagged_normal"]) and flagged.mean() < 0.3

    _score_without_tf(fitted.out, tmp_path / "others.npy", tmp_path / "others.csv", tmp_path / "o.png")
    other_flagged = np.array([int(row["outlier"]) for row in _rows(tmp_path / "others.csv")])
    assert len(other_flagged) == len(others)
    assert other_flagged.mean() > 2 * flagged.mean(), (other_flagged.mean(), flagged.mean())
    for name in ("n.png", "o.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG"


def test_score_an_image_folder_names_the_files(fitted, tmp_path, capsys):
    test, test_labels = _digits_split("test", None, 1)
    folder = tmp_path / "images"
    folder.mkdir()
    picks = [*np.flatnonzero(test_labels == 3)[:3], *np.flatnonzero(test_labels == 0)[:3]]
    for i, index in enumerate(picks):
        pixels = np.round((np.asarray(test[index, ..., 0]) + 1) * 127.5).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"digit_{i}.png")
    assert cli.main(["outliers", "score", "--model", str(fitted.out), "--data", str(folder),
                     "--out", str(tmp_path / "s.csv"), "--heatmaps", str(tmp_path / "h.png")]) == 0
    assert "scored 6 samples" in capsys.readouterr().out
    rows = _rows(tmp_path / "s.csv")
    assert list(rows[0])[0] == "file" and sorted(row["file"] for row in rows) == [f"digit_{i}.png" for i in range(6)]
    assert (tmp_path / "h.png").is_file()


def test_score_threshold_replaces_the_exports(fitted, tmp_path, capsys):
    """``score --threshold`` flags by the given anomaly score instead of the export's threshold."""
    test, test_labels = _digits_split("test", None, 1)
    normal = np.asarray(test[test_labels == 3])
    np.save(tmp_path / "normal.npy", normal)
    anomaly = -GANOutlierDetector.load(fitted.out / "detector.keras").score_samples(normal)
    threshold = float(np.quantile(anomaly, 0.75))  # flags the top quarter
    assert cli.main(["outliers", "score", "--model", str(fitted.out), "--data", str(tmp_path / "normal.npy"),
                     "--out", str(tmp_path / "s.csv"), "--threshold", repr(threshold)]) == 0
    assert "--threshold, the export's is" in capsys.readouterr().out
    flagged = np.array([int(row["outlier"]) for row in _rows(tmp_path / "s.csv")])
    assert len(flagged) == len(normal) and abs(flagged.mean() - 0.25) <= 1.5 / len(normal), flagged.mean()


def test_evaluate_an_export_on_labelled_digits(fitted, tmp_path, capsys):
    assert cli.main(["outliers", "evaluate", "--model", str(fitted.out), "--data", "digits", "--normal-class", "3",
                     "--out", str(tmp_path / "roc.png")]) == 0
    printed = capsys.readouterr().out
    onnx_auroc = float(re.search(r"AUROC (\d\.\d+)", printed).group(1))
    keras_auroc = json.loads((fitted.out / "evaluation.json").read_text())["auroc"]
    assert onnx_auroc == pytest.approx(keras_auroc, abs=2e-3)
    assert (tmp_path / "roc.png").is_file()


def test_fit_and_score_vectors_without_labels(fitted, tmp_path, capsys):
    """A .csv of vectors on wildly different scales: standardised in the export's graph, no labels to evaluate
    (fitted into the folder of an evaluated digits run, whose evaluation and ROC figure it removes); rows shifted
    along one feature are flagged far more often than rows like the training data."""
    rng = np.random.default_rng(0)
    train = rng.normal([100.0, 0.01, 5.0, -3.0], [10.0, 0.001, 1.0, 0.5], (300, 4))
    np.savetxt(tmp_path / "train.csv", train, delimiter=",", header="a,b,c,d", comments="")
    normal = rng.normal([100.0, 0.01, 5.0, -3.0], [10.0, 0.001, 1.0, 0.5], (40, 4))
    shifted = normal + [0.0, 0.0, 6.0, 0.0]
    np.savetxt(tmp_path / "new.csv", np.concatenate([normal, shifted]), delimiter=",")
    out = shutil.copytree(fitted.out, tmp_path / "run")  # rerun into a labelled run's folder: its evaluation goes
    assert cli.main(["outliers", "fit", "--data", str(tmp_path / "train.csv"), "--steps", "150", "--encoder-steps",
                     "150", "--hidden", "32,32", "--latent-dim", "4", "--batch-size", "32", "--jit-compile",
                     "false", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nothing to evaluate" in printed and "AUROC" not in printed
    assert "top_outliers.png: the 16 highest-scoring training samples" in printed
    assert (out / "model.onnx").is_file() and (out / "top_outliers.png").is_file()
    assert not (out / "roc_pr.png").exists() and not (out / "evaluation.json").exists()
    assert [p.name for p in tmp_path.glob(".*")] == []  # no staging folder left beside it
    assert json.loads((out / "metadata.json").read_text())["input_kind"] == "vectors"

    assert cli.main(["outliers", "score", "--model", str(out), "--data", str(tmp_path / "new.csv"),
                     "--out", str(tmp_path / "s.csv"), "--heatmaps", str(tmp_path / "h.png"), "--top", "8"]) == 0
    rows = _rows(tmp_path / "s.csv")
    assert [row["index"] for row in rows] == [str(i) for i in range(80)]
    flagged = np.array([int(row["outlier"]) for row in rows])
    assert flagged[40:].mean() > flagged[:40].mean() + 0.5, flagged
    assert (tmp_path / "h.png").is_file()


def test_fit_the_discriminator_baseline_into_an_fanogan_folder_leaves_no_export_of_it(fitted, tmp_path, capsys):
    """Rerun into a fanogan run's folder: its export and residual figure go (``score --model`` would otherwise
    score with the old model), a file of the user's there stays."""
    out = shutil.copytree(fitted.out, tmp_path / "critic")
    (out / "notes.txt").write_text("mine")
    assert cli.main(["outliers", "fit", "--normal-class", "3", "--method", "discriminator", *CLI_TINY,
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no export" in printed and "reconstructs nothing" in printed
    assert json.loads((out / "evaluation.json").read_text())["auroc"] > 0.8  # the critic alone tells 3s apart
    assert {p.name for p in out.iterdir()} == {"detector.keras", "evaluation.json", "roc_pr.png", "notes.txt"}
    assert (out / "notes.txt").read_text() == "mine"
    assert GANOutlierDetector.load(out / "detector.keras").method == "discriminator"
    assert [p.name for p in tmp_path.iterdir()] == ["critic"]  # no staging folder left beside it


def test_a_failed_export_leaves_the_previous_run_whole(fitted, tmp_path, monkeypatch):
    """The export fails after the detector is saved and part of the export written: the folder keeps the
    previous run's files, byte for byte, and nothing of the failed one."""
    out = shutil.copytree(fitted.out, tmp_path / "run")
    (out / "notes.txt").write_text("mine")

    def contents() -> dict:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    before = contents()

    def failing_export(self, directory):
        (Path(directory) / "model.onnx").write_bytes(b"half an export")
        raise ExportError("onnx export differs from Keras")

    monkeypatch.setattr(GANOutlierDetector, "export", failing_export)
    code, printed, err = _main(["outliers", "fit", "--data", "digits", "--steps", "2", "--encoder-steps", "2",
                                "--hidden", "8", "--latent-dim", "2", "--batch-size", "32", "--jit-compile", "false",
                                "--out", str(out)])
    assert code == 1 and "failed: onnx export differs from Keras" in err, err
    assert "izi_loss" in printed  # both phases trained: it got as far as the export
    assert contents() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left beside it


@pytest.mark.parametrize("args, mentions", [
    (["fit", "--hidden", "32,x"], ["--hidden", "'32,x'"]),
    (["fit", "--contamination", "0.7"], ["--contamination", "(0, 0.5]", "'0.7'"]),
    (["fit", "--calibration-fraction", "0.5"], ["--calibration-fraction", "[0, 0.5)", "'0.5'"]),
    (["fit", "--method", "pca"], ["--method", "'pca'", "'fanogan'"]),
    (["fit", "--steps", "0"], ["--steps", "positive integer"]),
    (["score", "--data", "x.npy"], ["--model"]),
    (["score", "--model", "m", "--data", "x.npy", "--heatmaps", "h.gif"], ["--heatmaps", "'h.gif'"]),
    (["score", "--model", "m", "--data", "x.npy", "--threshold", "nan"], ["--threshold", "finite", "'nan'"]),
    (["evaluate", "--model", "m"], ["--normal-class"]),
    (["detect"], ["SUBCOMMAND", "'detect'"]),
])
def test_bad_arguments_exit_2_naming_them(args, mentions, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["outliers", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for text in mentions:
        assert text in err, (text, err)


def test_errors_in_the_handlers_are_one_line_naming_the_argument(fitted, tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((5, 16, 16, 1), np.float32))
    (tmp_path / "sr").mkdir()  # another task's export
    (tmp_path / "sr" / "metadata.json").write_text(json.dumps({"task": "super_resolution", "scale": 4}))
    (tmp_path / "sr" / "model.onnx").write_bytes(b"")
    cases = [
        (["fit", "--data", "digits", "--normal-class", "11", *CLI_TINY, "--out", str(tmp_path / "f")],
         "outliers fit: error: --normal-class: expected one of the data's classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9); "
         "got 11"),
        (["fit", "--data", "digits", *CLI_TINY, "--loss", "nope", "--out", str(tmp_path / "f")], "--loss:"),
        (["fit", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "f")], "--data: expected 'digits'"),
        (["fit", "--data", str(tmp_path / "big.npy"), "--normal-class", "1", "--out", str(tmp_path / "f")],
         "--normal-class: expected labelled data"),
        (["fit", "--data", str(tmp_path / "big.npy"), "--image-size", "8", "--out", str(tmp_path / "f")],
         "outliers fit: error: --image-size: expected None for a .npy or .csv file (loaded as stored"),
        (["score", "--model", str(tmp_path / "nowhere"), "--data", str(tmp_path / "big.npy")],
         "outliers score: error: --model: expected an export folder"),
        (["score", "--model", str(fitted.out), "--data", str(tmp_path / "big.npy"), "--out", str(tmp_path / "s.csv")],
         "outliers score: error: --data: expected samples of shape (8, 8, 1)"),
        (["score", "--model", str(fitted.out), "--data", str(tmp_path / "none.npy")], "--data:"),
        (["evaluate", "--model", str(fitted.out), "--normal-class", "10"], "--normal-class: expected one of"),
        (["score", "--model", str(fitted.out), "--data", str(tmp_path / "big.npy"), "--out", str(tmp_path)],
         "--out: expected a file name"),
        (["score", "--model", str(tmp_path / "sr"), "--data", str(tmp_path / "big.npy")],
         "--model: expected an outlier-scoring export"),
    ]
    for args, message in cases:
        code, _, err = _main(["outliers", *args])
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, err)
    assert not (tmp_path / "f").exists() and not (tmp_path / "s.csv").exists()  # nothing written


def test_help_lists_the_subcommands_without_importing_tensorflow():
    top, group, fit, score, evaluate = help_texts_without_heavy_imports(
        [], ["outliers"], ["outliers", "fit"], ["outliers", "score"], ["outliers", "evaluate"])
    assert "outliers" in top
    assert all(name in group for name in ("fit", "score", "evaluate"))
    assert all(opt in fit for opt in ("--data", "--normal-class", "--method", "--contamination",
                                      "--calibration-fraction", "--steps",
                                      "--encoder-steps", "--latent-dim", "--hidden", "--seed", "--out"))
    assert all(opt in score for opt in ("--model", "--data", "--out", "--heatmaps", "--top", "TensorFlow"))
    assert "--normal-class" in evaluate
