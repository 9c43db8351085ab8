"""What users import keeps working: every public name of 0.1.0 (before the package was grouped
into sub-packages) at its old path, and ``nl.__all__`` complete."""

import importlib

import pytest

import nlayer as nl

# each module's __all__ in nlayer 0.1.0 (commit d50e286), frozen here
OLD_PUBLIC_NAMES = {
    "nlayer": ["Activation", "Adam", "AdamW", "BatchNorm", "Callback", "CheckpointMismatchError",
               "Dense", "Dropout", "EarlyStopping", "History", "LRFinderResult", "Layer",
               "LayerMonitor", "MLP", "MinMaxScaler", "ModelCheckpoint", "ModelFileError",
               "ModelTooLargeError", "NotFittedError", "Optimizer", "RMSprop",
               "ReduceLROnPlateau", "SGD", "Sequential", "Standardizer", "TrainingDivergedError",
               "__version__", "check_gradients", "load", "lr_find", "plot_layer_stats",
               "schedules"],
    "nlayer.callbacks": ["Callback", "CallbackList", "EarlyStopping", "History",
                         "ReduceLROnPlateau"],
    "nlayer.optimizers": ["Adam", "AdamW", "NAMES", "Optimizer", "RMSprop", "SGD", "get",
                          "from_settings"],
    "nlayer.schedules": ["CosineDecay", "ExponentialDecay", "OneCycle", "Schedule", "StepDecay",
                         "get", "from_settings", "NAMES", "CHOICES"],
    "nlayer.layers": ["Activation", "BatchNorm", "Dense", "Dropout", "Layer", "from_config"],
    "nlayer.io": ["FORMAT_VERSION", "SUPPORTED_VERSIONS", "load", "save"],
    "nlayer.sklearn": ["NLayerClassifier", "NLayerRegressor"],
    "nlayer.datasets": ["CsvSchema", "DATASETS", "Dataset", "DatasetError",
                        "DatasetNotFoundError", "encode_csv_rows", "load_csv", "load_dataset",
                        "read_idx"],
    "nlayer.onnx": ["DEFAULT_OPSET", "MIN_OPSET", "export_onnx", "to_onnx_model"],
    "nlayer.sweep": ["Spec", "SpecError", "Trial", "arrays_dataset", "expand", "load", "parse",
                     "run"],
    "nlayer.model": ["MLP", "Sequential", "batch_orders"],
}


@pytest.mark.parametrize("module", sorted(OLD_PUBLIC_NAMES))
def test_old_paths_keep_their_public_names(module):
    if module in ("nlayer.sklearn",):
        pytest.importorskip("sklearn")
    mod = importlib.import_module(module)
    missing = [name for name in OLD_PUBLIC_NAMES[module] if not hasattr(mod, name)]
    assert missing == []


def test_old_paths_give_the_same_objects_as_the_new_ones():
    from nlayer import io, schedules
    from nlayer.optimizers import schedules as new_schedules
    from nlayer.saving import modelfile
    assert schedules.OneCycle is new_schedules.OneCycle and nl.schedules is schedules
    assert io.save is modelfile.save and io.load is nl.load
    assert nl.callbacks.ModelCheckpoint is nl.ModelCheckpoint


#: public names added since 0.1.0
AUGMENTATION = ["Augmentation", "RandomTranslation", "RandomFlip", "RandomRotation",
                "RandomZoom", "ElasticDistortion"]
NEW_PUBLIC_NAMES = {"nlayer": ["LivePlot", "TensorBoard", "MLflowLogger", "ensemble",
                               *AUGMENTATION],
                    "nlayer.model": ["ensemble"],
                    "nlayer.callbacks": ["LivePlot", "TensorBoard", "MLflowLogger"],
                    "nlayer.training.augmentation": AUGMENTATION,
                    "nlayer.preprocessing": ["GlobalStandardizer"]}


def test_all_lists_every_public_name_and_nothing_else():
    assert set(nl.__all__) == set(OLD_PUBLIC_NAMES["nlayer"]) | set(NEW_PUBLIC_NAMES["nlayer"])
    assert all(hasattr(nl, name) for name in nl.__all__)


@pytest.mark.parametrize("module", sorted(NEW_PUBLIC_NAMES))
def test_new_names_are_exported(module):
    mod = importlib.import_module(module)
    assert all(name in mod.__all__ and hasattr(mod, name) for name in NEW_PUBLIC_NAMES[module])


def test_the_new_callbacks_are_the_same_objects_everywhere():
    assert nl.LivePlot is nl.callbacks.LivePlot
    assert nl.TensorBoard is nl.callbacks.TensorBoard
    assert nl.MLflowLogger is nl.callbacks.MLflowLogger
