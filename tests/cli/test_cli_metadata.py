"""A model whose metadata the library filled freely (not as nlayer train records it) gets one
line naming the field from info, evaluate and predict, never a traceback."""

import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")

import nlayer as nl  # noqa: E402
from cli_run import assert_one_line_error, cli  # noqa: E402


@pytest.mark.parametrize("field, value, words", [
    ("csv_schema", "oops", "'csv_schema' is 'oops', not a CSV schema"),
    ("class_names", ["a"], "'class_names' is ['a'], not a list of 10 names"),
    ("feature_names", 5, "'feature_names' is 5, not a list of 64 names"),
    ("training", "x", "'training' is 'x', not a table"),
    ("task", 7, "'task' is 7, not 'classification' or 'regression'"),
    ("dataset", 5, "'dataset' is 5, not a dataset name"),
])
@pytest.mark.parametrize("command", ["info", "evaluate", "predict"])
def test_metadata_the_commands_cannot_read_is_named(digits_run, tmp_path, field, value, words,
                                                    command):
    run, _ = digits_run
    model = nl.load(run / "model.nlayer")
    model.metadata = {**model.metadata, field: value}
    path = tmp_path / "m.nlayer"
    model.save(path)
    extra = ["--csv", tmp_path / "rows.csv"] if command == "predict" else []
    (tmp_path / "rows.csv").write_text(",".join(f"pixel{i}" for i in range(64)) + "\n" +
                                       ",".join("0" for _ in range(64)) + "\n")
    assert_one_line_error(cli(command, path, *extra), str(path), words,
                          "fix or remove it (model.metadata)")


def test_a_model_without_metadata_still_predicts_and_shows_its_info(tmp_path, digits_run):
    run, _ = digits_run
    model = nl.load(run / "model.nlayer")
    model.metadata = {}
    model.save(tmp_path / "bare.nlayer")
    assert cli("info", tmp_path / "bare.nlayer").returncode == 0
    assert_one_line_error(cli("evaluate", tmp_path / "bare.nlayer"),
                          "does not record its dataset; pass --dataset NAME or --csv FILE")
