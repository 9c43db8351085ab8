"""nlayer.errors: messages that suggest the fixes that apply, in the front end's own words."""

import nlayer as nl
from nlayer.errors import LIBRARY_FIXES


def test_divergence_lists_the_fixes_it_was_given_in_library_words():
    err = nl.TrainingDivergedError(3, 7, float("inf"), fixes=["scale_targets", "lr"])
    assert str(err) == (
        "training diverged: the loss became inf at epoch 3, batch 7. The model keeps the "
        "weights from the end of the last completed epoch. Try standardised regression "
        "targets (compile(..., scale_targets=True)) or a smaller learning rate (e.g. 10x "
        "smaller).")


def test_another_front_end_words_the_same_fixes_its_way():
    err = nl.TrainingDivergedError(1, 2, float("nan"), fixes=["lr", "normalize", "init"])
    text = err.message({"lr": "--lr", "normalize": "--normalize standard"})
    assert text.endswith("Try --lr, --normalize standard or " + LIBRARY_FIXES["init"] + ".")
    carried = nl.TrainingDivergedError(1, 2, 0.0, ["lr"], wording={"lr": "learning_rate/10"})
    assert str(carried).endswith("Try learning_rate/10.")


def test_model_too_large_is_a_memory_error_with_its_sizes():
    err = nl.ModelTooLargeError("the model needs 2 GB.", 2, 1, fixes=["batch_size"])
    assert isinstance(err, MemoryError) and (err.needed, err.available) == (2, 1)
    assert str(err) == "the model needs 2 GB. Use a smaller batch_size."
