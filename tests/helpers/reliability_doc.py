"""Renders docs/reliability.md from the fuzz test's outcome table (see saving/test_modelfile_fuzz.py)."""

import platform

import numpy as np

import model_file_attacks as attacks

OUTCOMES = ("loaded", "ModelFileError", "other exception", "non-finite predictions",
            "different predictions", "timeout", "crashed")


CHECKPOINTS = "## Checkpoints and resume"


def render(table, slowest, n_variants, n_random, seconds, previous=""):
    """The page; ``previous`` is the page as it was: whatever follows its "Checkpoints and
    resume" heading (written elsewhere) is kept."""
    lines = [
        "# Reliability",
        "",
        "This page is written by the test suite: `NLAYER_WRITE_RELIABILITY=1 NLAYER_FUZZ_N="
        f"{n_random} python -m pytest tests/saving/test_modelfile_fuzz.py` (the default run uses "
        "`NLAYER_FUZZ_N=800`).",
        "",
        "## Model files that cannot hurt",
        "",
        "`nl.load` either returns a model whose predictions are finite or raises "
        "`nl.ModelFileError` naming the file, what is wrong and what to do. It reads the zip "
        "archive itself (only stored or deflated members, no encryption, only nlayer's member "
        "names, declared sizes within the file), parses every `.npy` header with a size cap and "
        "checks its dtype and shape against the JSON header and against the shapes the "
        "architecture implies before any array is allocated; the JSON header's size (16 MiB) and "
        "nesting depth (64) are capped before it is parsed, then every field's type and range is "
        "checked (a file with a recomputed digest can still be hostile); the values are checked "
        "for what keeps predictions finite (batch-norm variance >= 0, normaliser scales > 0).",
        "",
        "Memory: arrays are allocated only at the sizes the architecture implies, each filled "
        "by bounded reads; the JSON header is at most 16 MiB and 500,000 lists and objects, "
        "which as Python objects is at most about 200 MB (measured: 16 MiB of short strings "
        "took 189 MiB, 16 MiB of floats 129 MiB). Running out of memory while loading a "
        "consistent but huge model is a `ModelFileError` naming the size.",
        "",
        f"The fuzz test made {n_variants:,} variants of five real saved models (plain Dense; "
        "Dense + BatchNorm + Dropout with a standard normaliser and SGD momentum state; Adam "
        "state with a min-max normaliser; float64 with RMSprop; a regression model with "
        "Nesterov momentum) and loaded each in a forked child limited to 768 MiB of extra "
        "address space (`RLIMIT_AS`) and 20 s. *loaded* means the model predicted finite values "
        "(and, for random damage, exactly the saved model's predictions); every other column "
        "except *ModelFileError* is a failure.",
        f"The run took {seconds:.0f} s (Python {platform.python_version()}, NumPy "
        f"{np.__version__}; the machine's 2 cores were shared with other work, so the slowest "
        "load per class is an upper bound, not a benchmark).",
        "",
        "| class | what | tried | " + " | ".join(OUTCOMES) + " | slowest load (s) |",
        "|---|---|---:|" + "---:|" * (len(OUTCOMES) + 1),
    ]
    for cls, counts in table.items():
        cells = [f"{counts.get(o, 0):,}" for o in OUTCOMES]
        lines.append(f"| {cls} | {attacks.NOTES.get(cls, '')} | {sum(counts.values()):,} | "
                     + " | ".join(cells) + f" | {slowest[cls]:.2f} |")
    total = {o: sum(c.get(o, 0) for c in table.values()) for o in OUTCOMES}
    lines.append(f"| **all** | | **{n_variants:,}** | "
                 + " | ".join(f"**{total[o]:,}**" for o in OUTCOMES)
                 + f" | **{max(slowest.values()):.2f}** |")
    lines += [
        "",
        "Random damage that loads changed only bytes nothing reads (zip timestamps, unused "
        "fields); the digest and the zip CRC catch the rest. Re-signed changes that load made "
        "another valid model (a new name, metadata or history value, an added Dropout or "
        "Activation layer), and it predicts finite values. A pickled payload is never "
        "unpickled: its unpickling would create a file, and the test checks that it never "
        "exists.",
        "",
        "Not covered: a file whose every value is valid can still describe a model whose "
        "arithmetic overflows for some inputs (say float32 weights of 1e38); that is the model, "
        "not the file.",
        "",
        CHECKPOINTS,
    ]
    kept = previous.split(CHECKPOINTS, 1)[1] if CHECKPOINTS in previous else "\n"
    return "\n".join(lines) + kept


RESUME_HEADING = CHECKPOINTS  # what follows it is written by tests/training/test_resume.py


def write_section(doc, body):
    """Put ``body`` under the resume heading of ``doc``, keeping the fuzz part as it is."""
    text = doc.read_text() if doc.exists() else "# Reliability\n"
    text = text.split(RESUME_HEADING)[0].rstrip() + "\n\n"
    doc.write_text(text + RESUME_HEADING + "\n\n" + body.strip() + "\n")


def resume_section(kills, per_optimizer, optimizers, stops, settings_refused, damaged):
    return f"""
`fit(resume_from=checkpoint)` and `nlayer train --resume RUN_DIR` end with the weights and
history (the seconds per epoch aside) of the run that was never interrupted, to the bit. This part
is written by `NLAYER_WRITE_RELIABILITY=1 python -m pytest tests/training/test_resume.py`.

| fault | how it was made | tried | outcome |
|---|---|---:|---|
| SIGKILL at a random moment | a real training process ({", ".join(optimizers)}; batch norm, dropout, early stopping; a checkpoint after every batch, so most kills land inside a save) killed a random 1-10 batches plus 0-15 ms into each run, restarted with resume, {per_optimizer} kills per optimiser | {kills} | every run ended bit-identical to the uninterrupted one; no temporary file left |
| stop inside an epoch, at its last batch and at epochs' ends | `model.stop_training` from a callback at 4 positions x 4 optimisers (plus, separately, a resume from every 4th checkpoint of a run that saved every 3 batches) | {stops} | bit-identical |
| Ctrl-C, SIGKILL and a second Ctrl-C of `nlayer train` | real CLI processes, then `nlayer train --resume` | 3 | same `model.nlayer` weights and `history.csv` as the whole run; the aborted run still has a summary.json |
| other data or fit settings | batch size, development split, shuffling, other X, other features, other sample weights, other model, optimiser or callbacks | {settings_refused} | refused, naming what differs |
| damaged checkpoint section (re-signed) | position, generator states, running totals, callback list retyped or removed | {damaged} | `ModelFileError` before any training |
| failed write | file-size limit (as a full disk) in a real process; a folder that is a file | 2 | an `OSError` saying so; the previous file loads unchanged |
| temporaries of killed writes | stale `.<name>.*.tmp` files beside the target | 1 | removed by the next successful save, other files untouched |

A save is: temporary file beside the target, flush, `fsync`, `os.replace`, `fsync` of the folder.
"""
