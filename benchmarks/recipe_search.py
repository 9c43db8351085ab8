"""Score candidate recipes on the development split only (never the test set).

    python benchmarks/recipe_search.py --dataset fashion-mnist --seed 0 \\
        'hidden=[1024, 1024]; dropout=0.3; augment="flip"; epochs=30' ...

Each candidate is a few settings in TOML (separated by ';') over the dataset's built-in
recipe, as ``nlayer train --config`` would take them. Every candidate trains exactly as
``nlayer train`` does (``config.resolve``, ``train.build_model``, ``train.fit`` with the
recipe's 10 % stratified development split), but the test images are never loaded:
``load_for_training``'s test split is dropped before training. One JSON line per candidate
(development accuracy per epoch, training seconds) goes to stdout and to ``--out``.
How the default recipes were chosen with it: ``benchmarks/results/fashion_recipe.md``.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

from nlayer.runs import config, data, train


def candidate(dataset, text, seed, data_dir):
    """The resolved settings of one candidate ('key=value; ...' in TOML)."""
    raw = tomllib.loads(text.replace(";", "\n"))
    explicit = {**config.normalise(raw, "candidate"), "dataset": dataset, "seed": seed}
    if data_dir:
        explicit.update(data_dir=str(data_dir), download=False)
    return config.resolve(explicit)


def score(cfg):
    """Train as ``nlayer train`` does on the training images; the dev split's accuracy."""
    ds = data.load_for_training(cfg)
    ds.X_test = ds.y_test = None  # never looked at while choosing
    model = train.build_model(cfg, ds.task, train.n_outputs(ds))
    history, _, _, seconds = train.fit(model, ds, cfg)
    dev = history.history["val_accuracy"]
    return {"dev_last": dev[-1], "dev_best": max(dev), "dev_curve": [round(a, 4) for a in dev],
            "seconds": round(seconds, 1), "epochs_run": len(dev)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("candidates", nargs="+", metavar="SETTINGS",
                   help="TOML settings separated by ';', e.g. 'epochs=30; augment=\"flip\"'")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir", help="folder of the dataset's IDX files")
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--out", help="append the JSON lines to this file")
    args = p.parse_args(argv)
    for text in args.candidates:
        for seed in args.seed:
            cfg = candidate(args.dataset, text, seed, args.data_dir)
            started = time.strftime("%H:%M:%S")
            line = json.dumps({"candidate": text, "seed": seed, "started": started,
                               **score(cfg)})
            print(line, flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")


if __name__ == "__main__":
    main()
