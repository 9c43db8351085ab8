"""Every system of a comparison trains with the same thread count, chosen once (never from the
machine's load), recorded in comparison.json with the load before and after."""

import json
import os

import pytest

from nlayer.cli.comparison import comparison_threads
from nlayer.compare.threads import same_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_same_threads_limits_blas_and_nlayers_own_choice_then_restores_them():
    before, env = _blas_threads(), os.environ.get("NLAYER_BLAS_THREADS")
    with same_threads("sklearn", 1) as notes:
        assert _blas_threads() == {1} and os.environ["NLAYER_BLAS_THREADS"] == "1"
    assert notes == [] and _blas_threads() == before
    assert os.environ.get("NLAYER_BLAS_THREADS") == env
    with same_threads("nlayer", None):  # None: as configured
        assert _blas_threads() == before


def test_the_count_follows_the_network_not_the_load():
    small = {"hidden": [64], "batch_size": 64}
    large = {"hidden": [256, 128], "batch_size": 128}
    cores = len(os.sched_getaffinity(0))
    assert comparison_threads(small, 64, 10) == 1
    assert comparison_threads(large, 784, 10) == cores
    assert comparison_threads(large, 784, 10, asked=3) == 3


def test_the_command_records_the_threads_and_the_load(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("rich")
    from cli_run import FAST, cli
    out = tmp_path / "cmp"
    result = cli("compare", "--dataset", "digits", *FAST, "--epochs", "2", "--peers", "sklearn",
                 "--threads", "2", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "comparison.json").read_text())
    assert summary["threads"] == 2
    assert set(summary["load"]) == {"before", "after"} and len(summary["load"]["before"]) == 3
    shown = cli("compare", "--dataset", "digits", *FAST, "--epochs", "1", "--peers", "sklearn",
                "--out", tmp_path / "cmp2")
    assert "every system ran with 1 thread(s); load average" in shown.stdout
