import pytest

from cli_run import FAST, cli  # tests/helpers


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """One small digits run whose files several tests inspect: (run directory, result)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "4", "--patience", "2",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result
