"""Super-resolution quality and upscaling throughput.

``quality`` scores x4 and x2 models on the held-out bundled photos (flower, chelsea, camera; never trained on)
by the SRGAN protocol of ``apps.superres.evaluate_upscaler``: PSNR and SSIM on the Y channel with a
``scale``-pixel border cropped, next to bicubic. For each scale it reports the PSNR-oriented model and the
model after adversarial fine-tuning (SRGAN phase 2, started from that PSNR model), with a sharpness measure
(``ganapps.metrics.mean_gradient_magnitude`` of the luma) for bicubic, both models and the originals.

* the x4 PSNR model is the shipped one (``--x4``, default ``saved_models/superres_x4/superres.keras``, trained by
  ``ganapps superres train --data photos --scale 4 --out saved_models/superres_x4``); pass ``--x4-steps N`` to
  train one here instead;
* the x2 PSNR model is trained here for ``--x2-steps`` steps (patch 48, so a step costs what an x4 step does);
* each adversarial model continues its PSNR model for ``--gan-steps`` steps (discriminator width
  ``--d-width``).

``throughput`` times the x4 export through ONNX Runtime (``ganapps.runtime.Upscaler``, one untiled call)
against Keras (``generator.predict_on_batch``, a traced graph) on the same low-resolution image, in alternation
(one call of each per round, order swapped every round), and reports output megapixels per second and the ratio.

    python benchmarks/bench_superres.py quality --x2-steps 2000 --gan-steps 400 --figure benchmarks/superres_x4.png
    python benchmarks/bench_superres.py throughput --size 128 --rounds 10
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

from apps.superres import SuperResolver  # noqa: E402
from apps.superres.app import bicubic_upscale, evaluate_upscaler, load_hr_images, low_resolution  # noqa: E402
from ganapps import metrics  # noqa: E402
from ganapps.images import to_uint8  # noqa: E402

SHIPPED_X4 = "saved_models/superres_x4/superres.keras"


def _sharpness(images: list[np.ndarray]) -> float:
    return float(np.mean([metrics.mean_gradient_magnitude(img[None])[0] for img in images]))


def _outputs(upscale, scale: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(originals cut to the scale, bicubic outputs, model outputs) on the held-out photos."""
    _, images = load_hr_images("photos", 3)
    highs, bicubics, models = [], [], []
    for hr in images:
        h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
        hr = hr[:h, :w]
        low = low_resolution(hr, scale)
        highs.append(hr)
        bicubics.append(bicubic_upscale(low, scale))
        models.append(np.clip(upscale(low), -1.0, 1.0))
    return highs, bicubics, models


def _row(name: str, sr: SuperResolver, seconds: float | None) -> dict:
    result = evaluate_upscaler(lambda low: sr.upscale(low, tile=None), sr.scale, 3, "photos")
    highs, bicubics, models = _outputs(lambda low: sr.upscale(low, tile=None), sr.scale)
    return {"model": name, "scale": sr.scale, "steps": dict(sr.steps_trained), "train_seconds": seconds,
            "psnr": result["psnr"], "ssim": result["ssim"], "bicubic_psnr": result["bicubic_psnr"],
            "bicubic_ssim": result["bicubic_ssim"], "gain_db": result["psnr"] - result["bicubic_psnr"],
            "per_image": result["per_image"], "sharpness_model": _sharpness(models),
            "sharpness_bicubic": _sharpness(bicubics), "sharpness_original": _sharpness(highs)}


def _train(scale: int, steps: int, patch: int, seed: int) -> tuple[SuperResolver, float]:
    sr = SuperResolver(scale=scale, patch_size=patch, seed=seed)
    start = time.perf_counter()
    sr.fit("photos", steps=steps, verbose=2)
    return sr, time.perf_counter() - start


def _adversarial(sr: SuperResolver, steps: int, d_width: int, tmp: Path, name: str) -> tuple[SuperResolver, float]:
    """Continue a PSNR model adversarially (through save/load, so the PSNR model itself stays as it was)."""
    path = sr.save(tmp / f"{name}.keras")
    gan = SuperResolver.load(path)
    if d_width != gan.settings["discriminator_width"]:
        # A narrower discriminator than the app's default: rebuild the game around the same generator.
        from ganapps import nets

        settings = {**gan.settings, "discriminator_width": d_width}
        patch = settings["patch_size"]
        discriminator = nets.sr_discriminator((patch, patch, 3), width=d_width, dense=16 * d_width)
        gan = SuperResolver._wrap(SuperResolver._compiled_game(gan.game.generator, discriminator, settings),
                                  settings, None, gan.steps_trained, gan.history)
    start = time.perf_counter()
    gan.fit("photos", steps=0, adversarial_steps=steps, verbose=2)
    return gan, time.perf_counter() - start


def _figure(rows: list[tuple[str, np.ndarray]], path: Path, crop: tuple[int, int, int]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(rows), 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    y, x, size = crop
    for ax, (title, image) in zip(figure.subplots(1, len(rows)), rows):
        ax.imshow(to_uint8(image[y:y + size, x:x + size]), interpolation="nearest")
        ax.set_title(title, fontsize=11)
        ax.set_axis_off()
    figure.savefig(path, dpi=100)


def quality(args) -> int:
    report = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.x4_steps:
            x4, seconds = _train(4, args.x4_steps, 96, args.seed)
        else:
            x4, seconds = SuperResolver.load(args.x4), None
        report.append(_row("x4 PSNR", x4, seconds))
        x4_gan, seconds = _adversarial(x4, args.gan_steps, args.d_width, tmp, "x4")
        report.append(_row("x4 GAN", x4_gan, seconds))
        if args.figure:
            hr = load_hr_images("photos", 3)[1][1]  # chelsea
            hr = hr[:hr.shape[0] // 4 * 4, :hr.shape[1] // 4 * 4]
            low = low_resolution(hr, 4)
            panels = [("low resolution (nearest)", np.repeat(np.repeat(low, 4, 0), 4, 1)),
                      ("bicubic", bicubic_upscale(low, 4)), ("PSNR model", x4.upscale(low, tile=None)),
                      ("GAN model", x4_gan.upscale(low, tile=None)), ("original", hr)]
            _figure(panels, Path(args.figure), (60, 150, 128))
        if args.x2_steps:
            x2, seconds = _train(2, args.x2_steps, 48, args.seed)
            report.append(_row("x2 PSNR", x2, seconds))
            x2_gan, seconds = _adversarial(x2, args.gan_steps, args.d_width, tmp, "x2")
            report.append(_row("x2 GAN", x2_gan, seconds))
    print("| model | steps (PSNR + adversarial) | train s | PSNR dB | bicubic PSNR | gain dB | SSIM | bicubic SSIM "
          "| sharpness model / bicubic / original |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in report:
        seconds = "shipped" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        print(f"| {r['model']} | {r['steps']['psnr']} + {r['steps']['adversarial']} | {seconds} | {r['psnr']:.2f} "
              f"| {r['bicubic_psnr']:.2f} | {r['gain_db']:+.2f} | {r['ssim']:.4f} | {r['bicubic_ssim']:.4f} | "
              f"{r['sharpness_model']:.2f} / {r['sharpness_bicubic']:.2f} / {r['sharpness_original']:.2f} |")
    print("\nper image (PSNR dB, model vs bicubic):")
    for r in report:
        cells = ", ".join(f"{p['image']} {p['psnr']:.2f} vs {p['bicubic_psnr']:.2f}" for p in r["per_image"])
        print(f"- {r['model']}: {cells}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def throughput(args) -> int:
    from ganapps.runtime import Upscaler

    sr = SuperResolver.load(Path(args.model) / "superres.keras")
    runner = Upscaler(args.model)
    rng = np.random.default_rng(0)
    low = rng.uniform(-1, 1, (1, args.size, args.size, 3)).astype(np.float32)
    net = sr.generator
    methods = {"onnx_runner": lambda: runner(low), "keras_predict_on_batch": lambda: net.predict_on_batch(low)}
    diff = float(np.abs(np.asarray(methods["onnx_runner"]()) - np.asarray(methods["keras_predict_on_batch"]())).max())
    for fn in methods.values():  # warm-up
        fn()
    times = {name: [] for name in methods}
    names = list(methods)
    for r in range(args.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            methods[name]()
            times[name].append(time.perf_counter() - start)
    megapixels = (args.size * sr.scale) ** 2 / 1e6
    print(f"x{sr.scale} on a {args.size}x{args.size} input ({megapixels:.2f} MP out), {args.rounds} rounds, "
          f"max |onnx - keras| = {diff:.2e}")
    print("| method | median s | output MP/s |")
    print("|---|---|---|")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"| {name} | {median:.3f} | {megapixels / median:.2f} |")
    print(f"\nONNX Runtime / Keras throughput ratio: {medians['keras_predict_on_batch'] / medians['onnx_runner']:.2f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--x4", default=SHIPPED_X4, help="the x4 PSNR model (.keras of SuperResolver.save)")
    q.add_argument("--x4-steps", type=int, default=0, help="train an x4 PSNR model here instead (steps)")
    q.add_argument("--x2-steps", type=int, default=2000, help="x2 PSNR training steps (0: skip x2)")
    q.add_argument("--gan-steps", type=int, default=400, help="adversarial fine-tuning steps per scale")
    q.add_argument("--d-width", type=int, default=32, help="discriminator width for the adversarial phase")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--figure", default=None, help="write an x4 crop comparison (PNG) here")
    q.add_argument("--json", default=None, help="write the full report here")
    t = sub.add_parser("throughput")
    t.add_argument("--model", default="saved_models/superres_x4")
    t.add_argument("--size", type=int, default=128, help="side of the low-resolution input")
    t.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    return quality(args) if args.mode == "quality" else throughput(args)


if __name__ == "__main__":
    sys.exit(main())
