"""A run directory is never half-replaced or shared: nothing is written before the data load
and the model is built, an --overwrite leaves the earlier run whole until the new one has its
results, and a second run into a directory in use is refused, naming the holder."""

import csv
import hashlib
import subprocess
import sys
import time

import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")

from cli_run import ENV, FAST, assert_one_line_error, cli  # noqa: E402
from test_cli_outputs import small_disk  # noqa: E402,F401  (the tmpfs fixture)


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture
def finished_run(tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--dataset", "digits", *FAST, "--epochs", "2", "--quiet",
               "--out", out).returncode == 0
    return out


def bad_csv(path):
    path.write_text("a,b,y\n1,2,0\n3,\"4,1\n5,6,1\n")
    return path


def test_a_run_that_cannot_start_writes_nothing(tmp_path):
    out = tmp_path / "new"
    result = cli("train", "--csv", bad_csv(tmp_path / "bad.csv"), "--target", "y", "--out", out)
    assert_one_line_error(result, "an unbalanced quote?")
    assert not out.exists()


def test_a_failed_overwrite_leaves_the_earlier_run_whole_and_resumable(finished_run, tmp_path):
    before = digests(finished_run)
    result = cli("train", "--csv", bad_csv(tmp_path / "bad.csv"), "--target", "y",
                 "--out", finished_run, "--overwrite")
    assert_one_line_error(result, "an unbalanced quote?")
    assert digests(finished_run) == before
    resumed = cli("train", "--resume", finished_run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr


def test_an_overwrite_leaves_no_file_of_the_earlier_run(finished_run, tmp_path):
    rows = tmp_path / "reg.csv"
    with open(rows, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["a", "b", "y"])
        writer.writerows([i, i % 7, 0.5 * i] for i in range(80))
    assert (finished_run / "confusion_matrix.png").exists()
    result = cli("train", "--csv", rows, "--target", "y", "--epochs", "2", "--quiet",
                 "--out", finished_run, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (finished_run / "confusion_matrix.png").exists()  # a regression draws none
    assert 'csv = "' in (finished_run / "config.toml").read_text()
    assert not (finished_run / ".nlayer-next").exists()


def test_an_overwrite_on_a_full_disk_leaves_the_earlier_run_whole(small_disk):
    out = small_disk / "run"
    first = cli("train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--quiet",
                "--out", out)
    assert first.returncode == 0, first.stderr
    before = digests(out)
    free = (small_disk / "filler")
    free.write_bytes(b"\0" * 8192)
    while True:  # fill the disk to its last few KiB
        try:
            with open(free, "ab") as fh:
                fh.write(b"\0" * 4096)
        except OSError:
            break
    result = cli("train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--quiet",
                 "--out", out, "--overwrite")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert digests(out) == before
    assert not (out / ".nlayer-next").exists()


def test_a_second_run_into_a_directory_in_use_is_refused(tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen([sys.executable, "-m", "nlayer.cli", "train", "--dataset", "digits",
                              "--epochs", "400", "--patience", "0", "--quiet", "--out", str(out)],
                             env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock = out / ".nlayer.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().startswith("pid")):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.05)
        second = cli("train", "--dataset", "digits", *FAST, "--epochs", "1", "--out", out,
                     "--overwrite")
        assert_one_line_error(second, f"run directory {out} is in use by another nlayer run "
                                      f"(pid {first.pid},")
    finally:
        first.kill()
        first.wait()
    again = cli("train", "--dataset", "digits", *FAST, "--epochs", "1", "--quiet", "--out", out,
                "--overwrite")
    assert again.returncode == 0, again.stderr  # a killed holder's lock is gone with it
