"""``nlayer sweep --tensorboard`` (``nlayer.sweep.run(tensorboard=True)``): each finished trial's
settings and final metrics as a session of TensorBoard's HParams dashboard, read back with
TensorBoard's own reader; tracking keys in a sweep file are refused."""

import numpy as np
import pytest

import nlayer.sweep as sweep
from nlayer.sweep import SpecError

pytest.importorskip("tensorboardX", reason='--tensorboard needs "nlayer[tensorboard]"')
accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
plugin_data = pytest.importorskip("tensorboard.plugins.hparams.plugin_data_pb2")


def _session(folder):
    """(hparams, {metric: value}) of one HParams session as TensorBoard reads it."""
    acc = accumulator.EventAccumulator(str(folder))
    acc.Reload()
    start = plugin_data.HParamsPluginData.FromString(
        acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
               for k, v in start.hparams.items()}
    return hparams, {tag: acc.Scalars(tag)[-1].value for tag in acc.Tags()["scalars"]}


def test_each_ok_trial_is_an_hparams_session_with_its_record(dask_client, digits, tmp_path):
    X, y = np.concatenate([digits[0], digits[2]]), np.concatenate([digits[1], digits[3]])
    spec = {"hidden": [16], "epochs": 2, "batch_size": 64,
            "grid": {"lr": [0.05, 1e4]}, "sweep": {"seeds": 1}}
    out = tmp_path / "sw"
    sweep.run(spec, X, y, client=dask_client, out=out, tensorboard=True)
    records = {r["trial"]: r for r in sweep.runner.finished_records(out).values()}
    ok = sorted(t for t, r in records.items() if r["status"] == "ok")
    assert len(ok) == 1 and len(records) == 2  # lr 1e4 diverges: no session
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == ok
    rec = records[ok[0]]
    hparams, metrics = _session(out / "tensorboard" / ok[0])
    assert hparams == {"lr": 0.05, "seed": 0.0}
    expected = {f"{split}_{k}": np.float32(v) for split in ("dev", "test")
                for k, v in rec[split].items()}
    assert {"dev_accuracy", "dev_loss", "test_accuracy", "test_loss"} <= set(expected)
    assert metrics == {**expected, "epochs": 2.0}


@pytest.mark.parametrize("spec, words", [
    ({"tensorboard": True, "grid": {"lr": [0.1]}}, "pass --tensorboard to nlayer sweep"),
    ({"grid": {"mlflow": [True, False]}}, "mlflow is not a setting of sweep trials"),
])
def test_tracking_keys_in_a_sweep_file_are_refused(spec, words):
    with pytest.raises(SpecError, match=words):
        sweep.parse(spec)
