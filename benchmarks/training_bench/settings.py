"""What the training benchmark measures: hyperparameters, run sizes, cases, systems, tolerances."""

from __future__ import annotations

SEED = 0
LR = 0.05
MOMENTUM = 0.9
N_CLASSES = 10
MAIN = (256, 128)
DEEP = (128,) * 10

#: (timed epochs, training rows, prediction repeats, worker timeout in s)
SETTINGS = {
    "full": {"epochs": 7, "rows": 60000, "predict_repeats": 9, "timeout": 900},
    "quick": {"epochs": 2, "rows": 12000, "predict_repeats": 5, "timeout": 300},
}

CASES = [
    {"key": "b32", "label": "784-256-128-10, batch 32", "hidden": MAIN, "batch": 32},
    {"key": "b128", "label": "784-256-128-10, batch 128", "hidden": MAIN, "batch": 128,
     "predict": True},
    {"key": "b512", "label": "784-256-128-10, batch 512", "hidden": MAIN, "batch": 512},
    {"key": "deep", "label": "784-10x128-10 (deep, narrow), batch 128", "hidden": DEEP,
     "batch": 128},
    {"key": "bn_dropout", "label": "784-256-128-10 + batch norm + dropout 0.2, batch 128",
     "hidden": MAIN, "batch": 128, "batchnorm": True, "dropout": 0.2},
    {"key": "f64", "label": "784-256-128-10 float64, batch 128", "hidden": MAIN, "batch": 128,
     "dtype": "float64"},
]
SYSTEMS = ["floor", "nlayer", "torch", "sklearn", "keras"]
SYSTEM_NAMES = {"floor": "GEMM floor (NumPy)", "nlayer": "nlayer", "torch": "PyTorch",
                "sklearn": "scikit-learn", "keras": "Keras 3 (TensorFlow)"}
PEER_MODULES = {"torch": "torch", "sklearn": "sklearn", "keras": "keras"}

MEMORY_TOLERANCE_MB = 100.0       # allowed growth beyond the training data
EPOCH_GROWTH_TOLERANCE_MB = 2.0   # "no growth" between epochs 2 and 3 (allocator noise)
LINEAR_TOLERANCE = 0.15           # time per row within +-15 %
QUIET = 0.15                      # a pair whose state probe is within 15 % of the fastest: quiet
MIN_QUIET_PAIRS = 3               # the floor targets use the quiet pairs when there are this many


def _case_defaults(case):
    return {"batchnorm": False, "dropout": 0.0, "dtype": "float32", "predict": False, **case}
