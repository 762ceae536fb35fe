"""The ``ganapps`` command line: help, bad arguments, train -> generate -> export, resume, generate without TF."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import run_python

from ganapps import cli, runtime

CONSOLE_SCRIPT = Path(sys.executable).parent / "ganapps"
TINY = ["--data", "digits", "--image-size", "8", "--batch-size", "64", "--width", "4", "--latent-dim", "8"]


def ganapps(*args, timeout=240, script=False) -> subprocess.CompletedProcess:
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "ganapps.cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run through the CLI, shared by the tests that read what it wrote."""
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = ganapps("train", "gan", *TINY, "--epochs", "1", "--out", out, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, proc


# -- help and argument errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("args, mentions", [
    ([], ["train", "generate", "export", "demo", "--version"]),
    (["train"], ["gan"]),
    (["train", "gan"], ["--data", "--image-size", "--loss", "--epochs", "--batch-size", "--latent-dim", "--ema",
                        "--resume", "--no-export", "--out", "hinge"]),
    (["generate"], ["model", "--n", "--seed", "--truncation", "--nrow", "--out", "--save-npy"]),
    (["export"], ["model", "--out", "--formats", "saved_model"]),
    (["demo"], ["--data", "--epochs", "--out"]),
])
def test_help_on_every_level(args, mentions):
    proc = ganapps(*args, "--help", script=not args)  # the top level through the installed console script
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: ganapps")
    for option in mentions:
        assert option in proc.stdout, (option, proc.stdout)


def test_version():
    proc = ganapps("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "ganapps 0.1.0"


@pytest.mark.parametrize("args, mentions", [
    (["train", "gan", "--epochs", "0"], ["--epochs", "positive integer", "'0'"]),
    (["train", "gan", "--epochs", "abc"], ["--epochs", "'abc'"]),
    (["train", "gan", "--image-size", "12"], ["--image-size", "power of two", "'12'"]),
    (["train", "gan", "--lr", "-1"], ["--lr", "non-negative", "'-1'"]),
    (["train", "gan", "--jit-compile", "maybe"], ["--jit-compile", "'maybe'"]),
    (["train", "vae"], ["FAMILY", "'vae'"]),
    (["generate", "somewhere", "--n", "0"], ["--n", "'0'"]),
    (["export", "model.keras", "--out", "x", "--formats", "tflite"], ["--formats", "'tflite'"]),
    (["export", "model.keras"], ["--out"]),
    (["generate"], ["model"]),
])
def test_bad_argument_exits_nonzero_naming_it(args, mentions):
    proc = ganapps(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    for text in mentions:
        assert text in proc.stderr, (text, proc.stderr)


def test_unknown_loss_is_an_error_naming_it(tmp_path, capsys):
    """The loss is checked by the library (it knows the registry), and the CLI reports it without a traceback."""
    code = cli.main(["train", "gan", *TINY, "--epochs", "1", "--loss", "hinje", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ganapps train: error: loss")
    assert "'hinje'" in err and "Traceback" not in err


def test_generate_on_a_missing_folder(tmp_path):
    proc = ganapps("generate", tmp_path / "no_such_export", "--out", tmp_path / "g.png")
    assert proc.returncode == 2
    assert "ganapps generate: error: directory:" in proc.stderr and "no_such_export" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "g.png").exists()


# -- train, generate, export ---------------------------------------------------------------------------------
def test_train_writes_game_samples_export_and_history(trained):
    out, proc = trained
    assert (out / "model.keras").is_file()
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["epoch_0001.png", "latest.png"]
    assert (out / "model.onnx").is_file() and (out / "saved_model" / "saved_model.pb").is_file()
    assert not (out / "backup").exists()
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["latent_dim"] == 8 and metadata["outputs"][0]["shape"] == [None, 8, 8, 1]
    assert max(metadata["parity_max_abs_error"].values()) < 1e-4
    assert metadata["training"]["data"] == "digits" and metadata["training"]["epochs"] == 1
    history = json.loads((out / "history.json").read_text())["history"]
    assert {"d_loss", "g_loss"} <= set(history) and len(history["d_loss"]) == 1
    assert np.isfinite(history["d_loss"] + history["g_loss"]).all()
    assert "trained 1 epochs" in proc.stdout


def test_generate_writes_a_png_and_a_seed_fixes_the_samples(trained, tmp_path):
    from PIL import Image

    out, _ = trained
    runs = []
    for i in range(2):
        proc = ganapps("generate", out, "--n", "16", "--seed", "0", "--out", tmp_path / f"grid{i}.png",
                       "--save-npy", tmp_path / f"s{i}.npy")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"grid{i}.png (16 samples, 8x8" in proc.stdout
        runs.append(np.load(tmp_path / f"s{i}.npy"))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (16, 8, 8, 1) and runs[0].dtype == np.float32
    assert np.abs(runs[0]).max() <= 1.0 and runs[0].std() > 0
    np.testing.assert_allclose(runs[0], runtime.load(out).sample(16, seed=0), atol=1e-6)
    with Image.open(tmp_path / "grid0.png") as image:
        assert image.format == "PNG"
        assert image.size == ((4 * 9 + 1) * 8,) * 2  # 4 x 4 tiles of 8 px, 1 px padding, enlarged 8 times


GENERATE_WITHOUT_TF = r"""
import json, sys, time
start = time.perf_counter()
from ganapps import cli
code = cli.main(["generate", DIRECTORY, "--n", "4", "--seed", "1", "--out", PNG])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start,
                  "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def test_generate_does_not_import_tensorflow(trained, tmp_path):
    out, _ = trained
    code = GENERATE_WITHOUT_TF.replace("DIRECTORY", repr(str(out))).replace("PNG", repr(str(tmp_path / "g.png")))
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"ganapps generate (4 samples, in-process timing): {result['seconds']:.2f} s")
    assert result["code"] == 0 and (tmp_path / "g.png").is_file()
    assert result["tensorflow"] is False and result["keras"] is False
    assert result["seconds"] < 30


def test_export_command_writes_a_checked_export(trained, tmp_path, capsys):
    out, _ = trained
    other = tmp_path / "other"
    # In-process: the same code path as the console script (sys.exit(main())), without a second TF start-up.
    assert cli.main(["export", str(out / "model.keras"), "--out", str(other)]) == 0
    assert "exported to" in capsys.readouterr().out
    metadata = json.loads((other / "metadata.json").read_text())
    assert set(metadata["parity_max_abs_error"]) == {"onnx", "saved_model"}
    assert max(metadata["parity_max_abs_error"].values()) < 1e-4
    assert (other / "model.onnx").is_file() and (other / "saved_model" / "saved_model.pb").is_file()
    # The game saved by `train` exports to the same generator that `train` exported.
    np.testing.assert_allclose(runtime.load(other).sample(6, seed=2), runtime.load(out).sample(6, seed=2),
                               atol=1e-5)


def test_export_command_reports_a_failed_parity_check(trained, tmp_path, capsys, monkeypatch):
    from ganapps import export

    out, _ = trained
    monkeypatch.setattr(export, "_check_onnx", lambda *args: 1.0)
    assert cli.main(["export", str(out / "model.keras"), "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "ganapps export: failed: onnx export differs from Keras by 1" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_export_command_on_a_missing_file(tmp_path):
    proc = ganapps("export", tmp_path / "missing.keras", "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert "ganapps export: error: path:" in proc.stderr and "missing.keras" in proc.stderr
    assert not (tmp_path / "o").exists()


# -- resume --------------------------------------------------------------------------------------------------
def test_train_resume_continues_an_interrupted_run(tmp_path, monkeypatch, capsys):
    """Interrupt a run at the start of epoch 2, then `train gan --resume` runs only epochs 2-3 from the backup."""
    from ganapps import callbacks as gcallbacks
    from ganapps import export, train

    load_dataset = train.load_dataset
    monkeypatch.setattr(train, "load_dataset", lambda *args, **kwargs: load_dataset(*args, **kwargs).take(3))
    interruptions = []

    class InterruptedSampleGrid(gcallbacks.SampleGrid):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1 and not interruptions:
                interruptions.append(epoch)
                raise RuntimeError("interrupted")

    monkeypatch.setattr(gcallbacks, "SampleGrid", InterruptedSampleGrid)
    out = tmp_path / "run"
    args = ["train", "gan", *TINY[:4], "--batch-size", "16", "--width", "4", "--latent-dim", "8", "--epochs", "3",
            "--no-export", "--out", str(out)]
    with pytest.raises(RuntimeError, match="interrupted"):
        cli.main(args)
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert not (out / "model.keras").exists()

    assert cli.main(args + ["--resume"]) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())["history"]
    assert len(history["d_loss"]) == 2  # epochs 2 and 3 only
    game = export.load_keras(out / "model.keras")
    # 3 batches per epoch: the optimizers' step counts carried over from epoch 1 of the interrupted run.
    assert int(game.g_optimizer.iterations) == int(game.d_optimizer.iterations) == 9
    assert not (out / "backup").exists()
    assert not (out / "model.onnx").exists()  # --no-export


# -- the other families --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, extra, metric", [
    ("conditional", [], "d_loss"),
    ("acgan", ["--class-weight", "0.5"], "d_class_accuracy"),
    ("infogan", ["--categorical", "4", "--continuous", "1"], "info_loss"),
    ("stylegan", ["--style-mixing", "0.5", "--augment", "translation"], "g_loss"),
    ("progressive", ["--fade-steps", "2", "--stable-steps", "2"], "alpha"),
])
def test_train_each_family_writes_a_game_that_reloads(tmp_path, monkeypatch, capsys, family, extra, metric):
    from ganapps import export, train

    load_dataset = train.load_dataset
    monkeypatch.setattr(train, "load_dataset", lambda *args, **kwargs: load_dataset(*args, **kwargs).take(4))
    out = tmp_path / family
    export_it = family in ("acgan", "infogan")  # the other families' exports are tested in their own files
    assert cli.main(["train", family, *TINY, "--epochs", "2", "--jit-compile", "false", "--out", str(out), *extra]
                    + ([] if export_it else ["--no-export"])) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())["history"]
    assert metric in history and all(np.isfinite(history[metric]))
    game = export.load_keras(out / "model.keras")
    assert type(game).__name__.lower().startswith(family[:4])
    assert int(game.g_optimizer.iterations) == 8
    assert (out / "samples" / "latest.png").is_file()
    if export_it:  # the runner samples the exported [z, condition] generator as the game does
        runner = runtime.load(out)
        assert runner.metadata["conditioning"]["kind"] in ("class", "info_codes")
        np.testing.assert_allclose(runner.sample(6, seed=3), game.generate(6, seed=3), atol=1e-4)


def test_train_family_options_are_checked(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "infogan", "--continuous", "-1"])
    assert "--continuous: expected a non-negative integer; got '-1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "acgan", "--num-classes", "0"])
    assert "--num-classes: expected a positive integer; got '0'" in capsys.readouterr().err


def test_generate_conditions_a_conditional_export_on_labels(tmp_path, capsys):
    from ganapps import export, nets
    from ganapps.games import ConditionalGAN

    game = ConditionalGAN(nets.conditional_generator(4, 3, (8, 8, 1), width=4),
                          nets.conditional_discriminator((8, 8, 1), 3, width=4), num_classes=3, seed=0)
    export.export_generator(game, tmp_path / "cgan", formats=("onnx",))
    npy = tmp_path / "x.npy"
    assert cli.main(["generate", str(tmp_path / "cgan"), "--n", "4", "--seed", "1", "--labels", "2",
                     "--out", str(tmp_path / "g.png"), "--save-npy", str(npy)]) == 0
    want = game.generate(4, labels=2, seed=1)
    np.testing.assert_allclose(np.load(npy), want, atol=1e-5)
    assert not np.allclose(want, game.generate(4, labels=0, seed=1), atol=1e-5)
    assert cli.main(["generate", str(tmp_path / "cgan"), "--n", "4", "--labels", "1", "2",
                     "--out", str(tmp_path / "g.png")]) == 2
    assert "--labels: expected one class id or --n (4) of them; got 2" in capsys.readouterr().err
