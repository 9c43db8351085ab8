"""An epoch's order and a split's training rows: the values of the plain arrays, in memory
that does not grow with the data where it can."""

import numpy as np
import pytest

from nlayer.training import order as order_mod
from nlayer.training.order import BlockOrder, RowsBut, epoch_order


def listed_block_order(rng, n, run, window_runs):
    """shuffle="blocks" as one array: every run listed, then each window shuffled in turn
    (what BlockOrder must give, a window at a time)."""
    starts = rng.permutation(-(-n // run)) * run
    order = (starts[:, None] + np.arange(run)).ravel()
    order = order[order < n]
    ends = np.cumsum(np.minimum(run, n - starts))[window_runs - 1::window_runs]
    for a, b in zip([0, *ends], [*ends, n]):
        rng.shuffle(order[a:b])
    return order


def read_in_batches(order, n, size, first=0):
    return np.concatenate([order[a:a + size] for a in range(first, n, size)])


def test_an_exact_order_is_numpys_permutation_held_in_four_byte_positions():
    for n in (1, 1000, 1_000_003):
        rng, reference = np.random.default_rng(n), np.random.default_rng(n)
        order = epoch_order(rng, n)
        np.testing.assert_array_equal(order, reference.permutation(n))
        assert order.dtype == np.int32  # 4 bytes a row: the one per-row array of an epoch
        assert rng.bit_generator.state == reference.bit_generator.state  # same draws


@pytest.mark.parametrize("n, run, window_runs", [(1005, 10, 4), (1000, 10, 4), (7, 10, 4),
                                                 (100_000, 37, 64), (64 * 37, 37, 64)])
def test_a_block_order_made_a_window_at_a_time_equals_the_listed_order(n, run, window_runs,
                                                                       monkeypatch):
    monkeypatch.setattr(order_mod, "SHUFFLE_WINDOW_RUNS", window_runs)
    rng, reference = np.random.default_rng(n), np.random.default_rng(n)
    expected = listed_block_order(reference, n, run, window_runs)
    for size in (1, 128, 3 * run * window_runs + 5):  # batches within and across windows
        lazy = BlockOrder(np.random.default_rng(n), n, run)
        np.testing.assert_array_equal(read_in_batches(lazy, n, size), expected)
    lazy = BlockOrder(rng, n, run)
    np.testing.assert_array_equal(read_in_batches(lazy, n, 128), expected)
    assert rng.bit_generator.state == reference.bit_generator.state  # the next epoch's too
    assert lazy._rows.size <= run * window_runs  # one window held, whatever n


def test_a_resumed_block_order_starts_at_any_batch_with_the_same_positions(monkeypatch):
    monkeypatch.setattr(order_mod, "SHUFFLE_WINDOW_RUNS", 4)
    expected = listed_block_order(np.random.default_rng(0), 1005, 10, 4)
    for first in (0, 40, 130, 1000):
        lazy = BlockOrder(np.random.default_rng(0), 1005, 10)
        np.testing.assert_array_equal(read_in_batches(lazy, 1005, 30, first), expected[first:])
    with pytest.raises(IndexError, match="forwards"):
        lazy[0:5]  # its windows' draws are spent


def test_block_shuffling_reads_long_runs_and_is_a_permutation(monkeypatch):
    monkeypatch.setattr(order_mod, "SHUFFLE_RUN_BYTES", 800)  # runs of 10 rows of 80 bytes
    monkeypatch.setattr(order_mod, "SHUFFLE_WINDOW_RUNS", 4)  # windows of 40 rows
    short = epoch_order(np.random.default_rng(0), 1005, "blocks", row_bytes=80)
    assert sorted(short[0:1005]) == list(range(1005))  # a short last run, anywhere
    order = epoch_order(np.random.default_rng(0), 1000, "blocks", row_bytes=80)
    for w in range(0, 1000, 40):  # each window holds 4 whole runs, shuffled together
        window = order[w:w + 40]
        assert len({r // 10 for r in window}) <= 4
        assert list(window) != sorted(window)
    assert list(epoch_order(None, 5, "blocks")) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("removed", [[], [0], [2, 5], [9], [0, 1, 2, 7, 8, 9]])
def test_rows_but_some_are_the_rows_left_in_order(removed):
    rows = np.delete(np.arange(10), removed)
    but = RowsBut(10, np.array(removed, np.int32))
    assert len(but) == rows.size
    positions = np.random.default_rng(0).permutation(rows.size)
    np.testing.assert_array_equal(but.take(positions), rows[positions])
    np.testing.assert_array_equal(but[1:4], rows[1:4])
    values = np.arange(10) * 1.5
    np.testing.assert_array_equal(but.of(values), values[rows])
