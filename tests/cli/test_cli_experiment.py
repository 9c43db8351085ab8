"""``nlayer experiment``: files, the verdict table, and one-line errors."""

import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from cli_run import assert_one_line_error, cli  # noqa: E402


def test_experiment_quick_writes_report_and_prints_verdicts(tmp_path):
    out = tmp_path / "exp"
    result = cli("experiment", "normalize", "--quick", "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("report.md", "results.csv", "normalize.png"):
        assert (out / name).exists(), name
    report = (out / "report.md").read_text()
    assert "Reproduce: `nlayer experiment normalize --dataset digits --quick`" in report
    assert "raw pixels train worse than normalised ones" in result.stdout
    verdict = report.split("raw pixels train worse than normalised ones** — verdict: **")[1]
    assert verdict.split("**")[0] in result.stdout


def test_experiment_refuses_a_non_empty_out(tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    result = cli("experiment", "momentum", "--quick", "--out", tmp_path)
    assert_one_line_error(result, "already exists and is not empty", "--overwrite")
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_experiment_unknown_name():
    result = cli("experiment", "wide")
    assert_one_line_error(result, "argument NAME: invalid choice: 'wide'")
