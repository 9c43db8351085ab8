"""What data augmentation, and adversarial training, cost a training epoch (issue 22's
target: shifts and flips at most 1.3x a plain epoch of Fashion-MNIST).

    python benchmarks/bench_augmentation.py [--rounds 5] [--data-dir DIR] [--out FILE.md]

One process, interleaved rounds: each round trains one epoch of the 60,000 Fashion-MNIST
training images (or as many synthetic 28 x 28 images when the files are absent) without
augmentation and with each augmentation in turn, on the default recipe's network
(784-512-256-10, dropout 0.2, Adam, batches of 128, float32), and reports each one's
median epoch time over the plain epoch's. Also the augmentation alone, in ms per batch
of 128 images. ``adversarial=EPS`` is ``fit(adversarial=EPS)`` on the plain images (a second
forward and backward pass a step, nothing to time apart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import nlayer as nl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_bench.machine import _load1, machine_info, machine_line  # noqa: E402

TARGET = 1.3
CASES = ("none", "shift=2,flip", "shift=1", "rotate=10,zoom=0.1", "elastic=34:4",
         "shift=2,flip,elastic=34:4", "adversarial=0.01")
ADVERSARIAL = "adversarial="
FASHION = Path("/usr/share/datasets/fashion-mnist")


def images(data_dir):
    """(X, y, what): Fashion-MNIST's training images in [0, 1], or synthetic ones."""
    folder = Path(data_dir) if data_dir else FASHION
    if folder.is_dir():
        from nlayer.datasets import load_dataset
        ds = load_dataset("fashion-mnist", data_dir=folder, download=False)
        return ds.X_train.astype(np.float32), ds.y_train, f"Fashion-MNIST from {folder}"
    rng = np.random.default_rng(0)
    return (rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000),
            "60,000 synthetic 28 x 28 images (Fashion-MNIST not found)")


def epoch_seconds(X, y, spec):
    model = nl.MLP(hidden=(512, 256), dropout=0.2, n_outputs=10)
    model.compile(optimizer=nl.Adam(1e-3), normalize="global")
    adversarial = float(spec[len(ADVERSARIAL):]) if spec.startswith(ADVERSARIAL) else None
    augment = None if spec == "none" or adversarial else nl.Augmentation.parse(spec)
    start = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=128, seed=0, augment=augment, adversarial=adversarial)
    return time.perf_counter() - start


def batch_ms(X, spec, repeats=100):
    aug, rng = nl.Augmentation.parse(spec), np.random.default_rng(0)
    batch = X[:128].copy()
    aug(batch, rng)
    start = time.perf_counter()
    for _ in range(repeats):
        aug(batch, rng)
    return (time.perf_counter() - start) / repeats * 1e3


def measure(X, y, rounds, cases=CASES):
    seconds = {spec: [] for spec in cases}
    for _ in range(rounds):
        for spec in cases:
            seconds[spec].append(epoch_seconds(X, y, spec))
    return seconds


def report(seconds, per_batch, what, rounds, load):
    plain = statistics.median(seconds["none"])
    lines = ["# What augmentation and adversarial training cost an epoch", "",
             machine_line(machine_info()) + f"; 1-minute load average {load[1]:.2f} at the "
             "end.", "",
             f"Data: {what}. 784-512-256-10, dropout 0.2, Adam, batches of 128, float32, one "
             f"epoch per measurement; medians of {rounds} interleaved rounds "
             "(`python benchmarks/bench_augmentation.py`).", "",
             "| augmentation | epoch seconds (median) | range | x plain epoch | "
             "augmentation alone, ms per batch of 128 |", "|---|---:|---:|---:|---:|"]
    for spec, values in seconds.items():
        ratio = statistics.median(values) / plain
        mark = ""
        if spec == "shift=2,flip":
            mark = f" (target <= {TARGET}: {'PASS' if ratio <= TARGET else 'MISS'})"
        alone = f"{per_batch[spec]:.2f}" if spec in per_batch else "-"
        lines.append(f"| `{spec}` | {statistics.median(values):.2f} | {min(values):.2f}-"
                     f"{max(values):.2f} | {ratio:.2f}{mark} | {alone} |")
    return "\n".join(lines + [""])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--cases", default=";".join(CASES),
                   help="augmentations separated by ';' ('none' is the plain epoch)")
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    cases = tuple(dict.fromkeys(["none", *args.cases.split(";")]))
    X, y, what = images(args.data_dir)
    start = _load1()
    per_batch = {spec: batch_ms(X, spec) for spec in cases
                 if spec != "none" and not spec.startswith(ADVERSARIAL)}
    seconds = measure(X, y, args.rounds, cases)
    text = report(seconds, per_batch, what, args.rounds, (start, _load1()))
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
