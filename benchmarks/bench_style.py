"""Style transfer: paired quality against an L1-only U-Net, unpaired domain transfer, and throughput.

``paired`` scores two paired translators saved by ``ganapps style train --paired`` on the held-out pairs of the
task (photographs no training pair came from), whole images: pix2pix (adversarial + 100 L1) against the same
U-Net trained with L1 alone (``--adversarial-weight 0``, same seed, steps and crops). It reports L1, PSNR and
SSIM against the targets (and the same on the whole training photographs, to tell under-fitting from failing to
generalise) and the sharpness (``ganapps.metrics.mean_gradient_magnitude``) of outputs and
targets: an L1-trained net averages the plausible outputs and blurs, which the adversarial term should undo at
a similar L1.

``unpaired`` scores a CycleGAN saved by ``ganapps style train --unpaired`` (photo2cartoon): the cycle
reconstruction errors on held-out images of both domains, and a judge: a small CNN trained here, on real images
only, to tell photographs (A) from cartoon renderings (B). It is trained on random crops of the 13 training
photographs and of their cartoons, then judges random crops of the 3 held-out photographs and of their cartoons
(its accuracy on real images), of the held-out photographs translated A -> B (the share judged B) and of the
held-out cartoons translated B -> A (the share judged A). The untranslated inputs are the baseline: a
translator that did nothing would score the judge's error rate on real images.

``throughput`` times training steps (images per second; one step of pix2pix is ``batch_size`` pairs, one step
of CycleGAN ``batch_size`` crops of each domain) of pix2pix against the L1-only U-Net and of each game with and
without XLA, in alternation (a chunk of steps of each variant per round, order rotated every round), and
translation through ONNX Runtime (``ganapps.runtime.Translator``) against Keras on one image.

    python benchmarks/bench_style.py paired --pix2pix saved_models/edges2photo --l1 runs/style/edges2photo_l1 \\
        --figure benchmarks/style_edges2photo.png
    python benchmarks/bench_style.py unpaired --model saved_models/photo2cartoon --figure benchmarks/style_cartoon.png
    python benchmarks/bench_style.py throughput --rounds 4 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from apps.style_transfer import PairedTranslator, UnpairedTranslator  # noqa: E402
from ganapps import data as gdata  # noqa: E402
from ganapps.images import convert_channels, to_uint8  # noqa: E402

KERAS_FILE = "translator.keras"


def _keras_file(folder: str) -> Path:
    path = Path(folder)
    return path / KERAS_FILE if path.is_dir() else path


def _unit(image: np.ndarray) -> np.ndarray:
    """uint8 image as float32 in [-1, 1]."""
    return image.astype(np.float32) / 127.5 - 1.0


def _figure(columns: list[tuple[str, list[np.ndarray]]], path: Path, crop: int = 128) -> None:
    """A grid: one row per image, one column per method, each panel the same centre crop of ``crop`` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = len(columns[0][1])
    figure = Figure(figsize=(2.6 * len(columns), 2.7 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, len(columns), squeeze=False)
    for c, (title, images) in enumerate(columns):
        for r, image in enumerate(images):
            image = to_uint8(image) if image.dtype != np.uint8 else image
            h, w = image.shape[:2]
            y, x = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
            panel = image[y:y + crop, x:x + crop]
            axes[r, c].imshow(panel[..., 0] if panel.shape[-1] == 1 else panel, cmap="gray", vmin=0, vmax=255,
                              interpolation="nearest")
            axes[r, c].set_axis_off()
            if r == 0:
                axes[r, c].set_title(title, fontsize=10)
    figure.savefig(path, dpi=100)


# -- paired ----------------------------------------------------------------------------------------------------
def _scores(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The paired metrics of ``evaluate`` for the input itself (in the target's channels) as the output."""
    from ganapps import metrics

    rows = []
    for a, b in pairs:
        out, target = _unit(convert_channels(a, b.shape[-1]))[None], _unit(b)[None]
        rows.append({"l1": float(np.abs(out - target).mean()), "psnr": float(metrics.psnr(out, target)[0]),
                     "ssim": float(metrics.ssim(out, target)[0]),
                     "sharpness": float(metrics.mean_gradient_magnitude(out)[0]),
                     "target_sharpness": float(metrics.mean_gradient_magnitude(target)[0])})
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def _input_baseline(test_pairs: list, train_pairs: list) -> dict:
    held_out = _scores(test_pairs)
    return {"model": "the input itself (no model)", "steps": 0, **held_out, "train": _scores(train_pairs),
            "per_image": []}


def paired(args) -> int:
    models = {"pix2pix (adversarial + L1)": PairedTranslator.load(_keras_file(args.pix2pix)),
              "U-Net, L1 alone": PairedTranslator.load(_keras_file(args.l1))}
    task = next(iter(models.values())).task
    rows = []
    for name, model in models.items():
        result = model.evaluate(task)
        seen = model.evaluate(gdata.translation_pairs(task, "train"))  # the training photographs, whole
        rows.append({"model": name, "steps": model.steps_trained, "settings": model.settings, **result,
                     "train": {key: seen[key] for key in ("l1", "psnr", "ssim", "sharpness", "target_sharpness")}})
    pairs = gdata.translation_pairs(task, "test")
    rows.append(_input_baseline(pairs, gdata.translation_pairs(task, "train")))
    names = [row["image"] for row in rows[0]["per_image"]]
    print(f"{task}, held-out pairs ({', '.join(names)}), whole images; steps: "
          f"{', '.join(str(r['steps']) for r in rows[:2])}")
    print("| model | pairs | L1 | PSNR dB | SSIM | sharpness (target) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for split, m in (("held-out", r), ("training photographs", r["train"])):
            print(f"| {r['model']} | {split} | {m['l1']:.4f} | {m['psnr']:.2f} | {m['ssim']:.4f} | "
                  f"{m['sharpness']:.2f} ({m['target_sharpness']:.2f}) |")
    print("\nper image (L1 / PSNR / SSIM / sharpness):")
    for r in rows[:2]:
        cells = "; ".join(f"{p['image']} {p['l1']:.3f} / {p['psnr']:.2f} / {p['ssim']:.3f} / {p['sharpness']:.1f}"
                          for p in r["per_image"])
        print(f"- {r['model']}: {cells}")
    if args.figure:
        columns = [("input", [a for a, _ in pairs])]
        for name, model in models.items():
            columns.append((name, [model.translate(a) for a, _ in pairs]))
        columns.append(("target", [b for _, b in pairs]))
        _figure(columns, Path(args.figure))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


# -- unpaired --------------------------------------------------------------------------------------------------
def _crops(images: list[np.ndarray], size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random ``size`` crops, images drawn uniformly, as float32 NHWC in [-1, 1]."""
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        image = images[rng.integers(len(images))]
        y = rng.integers(image.shape[0] - size + 1)
        x = rng.integers(image.shape[1] - size + 1)
        out[i] = _unit(image[y:y + size, x:x + size]) if image.dtype == np.uint8 else image[y:y + size, x:x + size]
    return out


def _judge(size: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    x = inputs
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs, name="domain_judge")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _share_b(judge, x: np.ndarray) -> float:
    return float(np.mean(judge.predict(x, batch_size=256, verbose=0)[:, 0] > 0))


def unpaired(args) -> int:
    model = UnpairedTranslator.load(_keras_file(args.model))
    rng = np.random.default_rng(args.seed)
    rgb = {split: [convert_channels(p, 3) for p in gdata.load_photos(split)] for split in ("train", "test")}
    toons = {split: [gdata.cartoon(p) for p in photos] for split, photos in rgb.items()}
    size = args.crop
    x = np.concatenate([_crops(rgb["train"], size, args.judge_crops, rng),
                        _crops(toons["train"], size, args.judge_crops, rng)])
    y = np.concatenate([np.zeros(args.judge_crops), np.ones(args.judge_crops)]).astype(np.float32)
    judge = _judge(size, args.seed)
    judge.fit(x, y, batch_size=64, epochs=args.judge_epochs, shuffle=True, verbose=0)
    start = time.perf_counter()
    a2b = [model.translate(p) for p in rgb["test"]]
    b2a = [model.translate(t, direction="b2a") for t in toons["test"]]
    seconds = time.perf_counter() - start
    n = args.test_crops
    sets = {"real photographs (A)": rgb["test"], "real cartoons (B)": toons["test"],
            "photographs translated A -> B": a2b, "cartoons translated B -> A": b2a}
    shares = {name: _share_b(judge, _crops(images, size, n, np.random.default_rng(args.seed + 1)))
              for name, images in sets.items()}
    held_out = model.evaluate(rgb["test"], toons["test"])
    distance = float(np.mean([np.abs(_unit(p) - _unit(t)).mean() for p, t in zip(rgb["test"], toons["test"])]))
    print(f"CycleGAN {model.task}, {model.steps_trained} steps; judge: {args.judge_crops} crops of {size}x{size} "
          f"per domain, {args.judge_epochs} epochs; {n} held-out crops per row; held-out photographs: "
          f"{', '.join(gdata.photo_names('test'))}")
    print("| images judged | share judged B (cartoon) |")
    print("|---|---|")
    for name, share in shares.items():
        print(f"| {name} | {share:.3f} |")
    accuracy = (1 - shares["real photographs (A)"] + shares["real cartoons (B)"]) / 2
    print(f"\njudge accuracy on held-out real crops: {accuracy:.3f}")
    print(f"A -> B judged B: {shares['photographs translated A -> B']:.3f} (untranslated photographs: "
          f"{shares['real photographs (A)']:.3f}); B -> A judged A: {1 - shares['cartoons translated B -> A']:.3f} "
          f"(untranslated cartoons: {1 - shares['real cartoons (B)']:.3f})")
    print(f"cycle L1 A->B->A {held_out['cycle_a2b2a']:.4f}, B->A->B {held_out['cycle_b2a2b']:.4f}; identity L1 "
          f"A {held_out.get('identity_a', float('nan')):.4f}, B {held_out.get('identity_b', float('nan')):.4f}; "
          f"L1 between each held-out photograph and its cartoon: {distance:.4f}")
    print(f"translating the 6 held-out images both ways took {seconds:.1f} s")
    if args.figure:
        _figure([("photograph (A)", rgb["test"]), ("A -> B", a2b), ("cartoon of it (B)", toons["test"]),
                 ("B -> A", b2a)], Path(args.figure))
    if args.json:
        Path(args.json).write_text(json.dumps({"shares": shares, "judge_accuracy": accuracy, "evaluate": held_out,
                                               "photo_cartoon_l1": distance}, indent=2))
    return 0


# -- throughput ------------------------------------------------------------------------------------------------
def _alternate(fits: dict, rounds: int, steps: int) -> dict[str, list[float]]:
    """Seconds per step of each variant: one untimed warm-up fit each, then ``rounds`` fits of ``steps`` each."""
    for fit in fits.values():
        fit(2)
    times = {name: [] for name in fits}
    names = list(fits)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            start = time.perf_counter()
            fits[name](steps)
            times[name].append((time.perf_counter() - start) / steps)
    return times


def _table(title: str, times: dict[str, list[float]], images_per_step: dict[str, int], base: str) -> None:
    print(f"\n{title}")
    print(f"| variant | median s/step | images/s | ratio to {base} (median of rounds) |")
    print("|---|---|---|---|")
    for name, t in times.items():
        ratio = statistics.median(b / v for b, v in zip(times[base], t))
        print(f"| {name} | {statistics.median(t):.3f} | {images_per_step[name] / statistics.median(t):.1f} | "
              f"{ratio:.2f}x |")


def throughput(args) -> int:
    from ganapps.runtime import Translator

    def fitter(model):
        return lambda steps: model.fit(steps=steps, verbose=0)

    # seed=None: a seeded translator reseeds TensorFlow at every fit, which clears its caches and retraces the
    # train step (seconds) inside each timed chunk; one global seed here keeps the runs repeatable instead.
    import keras

    keras.utils.set_random_seed(0)
    paired_models = {"pix2pix, XLA": PairedTranslator("edges2photo", jit_compile=True, seed=None),
                     "pix2pix, no XLA": PairedTranslator("edges2photo", jit_compile=False, seed=None),
                     "L1 alone, XLA": PairedTranslator("edges2photo", adversarial_weight=0.0, jit_compile=True,
                                                       seed=None)}
    times = _alternate({name: fitter(m) for name, m in paired_models.items()}, args.rounds, args.steps)
    batch = next(iter(paired_models.values())).settings["batch_size"]
    _table("pix2pix training (edges2photo, crops 64, default nets)", times, dict.fromkeys(times, batch),
           "pix2pix, XLA")
    unpaired_models = {"CycleGAN, XLA": UnpairedTranslator("photo2cartoon", jit_compile=True, seed=None),
                       "CycleGAN, no XLA": UnpairedTranslator("photo2cartoon", jit_compile=False, seed=None)}
    times = _alternate({name: fitter(m) for name, m in unpaired_models.items()}, args.rounds, args.steps)
    batch = next(iter(unpaired_models.values())).settings["batch_size"]
    _table("CycleGAN training (photo2cartoon, crops 64, default nets; images = crops of both domains)", times,
           dict.fromkeys(times, 2 * batch), "CycleGAN, XLA")

    model = paired_models["pix2pix, XLA"]
    image = gdata.translation_pairs("edges2photo", "test")[1][0]  # chelsea's edges, 300x451
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp)
        runner = Translator(tmp)
        methods = {"onnx_runtime": lambda: runner.translate(image), "keras": lambda: model.translate(image)}
        diff = int(np.abs(methods["onnx_runtime"]().astype(int) - methods["keras"]().astype(int)).max())
        for fn in methods.values():
            fn()
        timed = {name: [] for name in methods}
        names = list(methods)
        for r in range(args.translate_rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                methods[name]()
                timed[name].append(time.perf_counter() - start)
    megapixels = image.shape[0] * image.shape[1] / 1e6
    print(f"\npix2pix translation of one {image.shape[0]}x{image.shape[1]} image ({megapixels:.2f} MP), "
          f"{args.translate_rounds} rounds, max |onnx - keras| = {diff} (uint8 levels)")
    print("| method | median s | MP/s |")
    print("|---|---|---|")
    medians = {name: statistics.median(t) for name, t in timed.items()}
    for name, median in medians.items():
        print(f"| {name} | {median:.3f} | {megapixels / median:.2f} |")
    print(f"\nONNX Runtime / Keras throughput ratio: {medians['keras'] / medians['onnx_runtime']:.2f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("paired")
    p.add_argument("--pix2pix", default="saved_models/edges2photo", help="folder (or .keras) of the pix2pix model")
    p.add_argument("--l1", default="runs/style/edges2photo_l1", help="folder (or .keras) of the L1-only model")
    p.add_argument("--figure", default=None, help="write a PNG grid of centre crops here")
    p.add_argument("--json", default=None, help="write the full report here")
    u = sub.add_parser("unpaired")
    u.add_argument("--model", default="saved_models/photo2cartoon", help="folder (or .keras) of the CycleGAN")
    u.add_argument("--crop", type=int, default=48, help="side of the judge's crops")
    u.add_argument("--judge-crops", type=int, default=6000, help="training crops per domain for the judge")
    u.add_argument("--judge-epochs", type=int, default=10)
    u.add_argument("--test-crops", type=int, default=2000, help="held-out crops judged per row")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--figure", default=None, help="write a PNG grid of centre crops here")
    u.add_argument("--json", default=None, help="write the full report here")
    t = sub.add_parser("throughput")
    t.add_argument("--rounds", type=int, default=4)
    t.add_argument("--steps", type=int, default=10, help="training steps per variant per round")
    t.add_argument("--translate-rounds", type=int, default=10)
    args = parser.parse_args(argv)
    return {"paired": paired, "unpaired": unpaired, "throughput": throughput}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
