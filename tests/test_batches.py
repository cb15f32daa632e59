"""Whole-array mini-batches: the same batches as skorch's DataLoader, cheaper."""

import threading

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from sktransfer import _batches
from sktransfer._batches import (
    BatchSlicer,
    PinnedBatchSlicer,
    batch_iterator,
    pipelined,
)
from sktransfer.text._tokenize import Tokenizer
from sktransfer.utils import seeded


@pytest.fixture
def arrays(digits):
    X, y = digits
    return X[:203].astype(np.float32), y[:203]


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_are_the_dataloaders(arrays, drop_last):
    X, y = arrays
    torch.manual_seed(7)
    expected = list(
        DataLoader(Dataset(X, y), batch_size=32, shuffle=True, drop_last=drop_last)
    )
    torch.manual_seed(7)
    slicer = batch_iterator(Dataset(X, y), 32, shuffle=True, drop_last=drop_last)
    got = list(slicer)
    assert isinstance(slicer, BatchSlicer)
    assert len(got) == len(expected) == len(slicer) == (6 if drop_last else 7)
    for (Xb, yb), (Xe, ye) in zip(got, expected, strict=True):
        assert torch.equal(Xb, Xe) and torch.equal(yb, ye)
    # the global RNG ends where the DataLoader left it: later draws agree too
    after = torch.rand(1)
    torch.manual_seed(7)
    list(DataLoader(Dataset(X, y), batch_size=32, shuffle=True, drop_last=drop_last))
    assert torch.equal(after, torch.rand(1))


def test_what_cannot_be_one_tensor_goes_through_skorchs_dataloader(arrays):
    X, y = arrays
    assert isinstance(batch_iterator(Dataset(X, y), 32), BatchSlicer)
    texts = np.array(["a text", "another"] * 3, dtype=object)  # no tensor dtype
    dicts = {"ids": X[:6]}  # skorch's dict input
    for data in (texts, dicts):
        batches = batch_iterator(Dataset(data, None), 4)
        assert isinstance(batches, DataLoader)
        assert len(list(batches)) == 2
    assert isinstance(batch_iterator(Dataset(X, y), 32, num_workers=0), DataLoader)


def test_an_unshuffled_pass_draws_only_inside_a_seeded_fit(arrays):
    X, y = arrays
    torch.manual_seed(7)
    list(batch_iterator(Dataset(X, y), 32))  # predicting: the RNG is untouched
    after = torch.rand(2)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(2))
    with seeded(7):  # a fit's validation pass draws as DataLoader does
        list(batch_iterator(Dataset(X, y), 32))
        ours = torch.rand(2)
    with seeded(7):
        list(DataLoader(Dataset(X, y), batch_size=32))
        assert torch.equal(ours, torch.rand(2))


def test_gpu_data_over_the_resident_limit_goes_through_pinned_buffers(
    arrays, monkeypatch
):
    X, y = arrays
    monkeypatch.setattr(_batches, "DEVICE_RESIDENT_BYTES", X.nbytes - 1)
    slicer = batch_iterator(Dataset(X, y), 32, shuffle=True, device="cuda")
    assert isinstance(slicer, PinnedBatchSlicer)
    assert slicer.device == torch.device("cuda")
    # on the CPU nothing is pinned or copied: plain slices
    assert type(batch_iterator(Dataset(X, y), 32, device="cpu")) is BatchSlicer


@pytest.fixture
def token_rows(news):
    """Real documents' token ids (every word known, a few kept of many)."""
    corpus = Tokenizer().corpus(news["X"] + ["", "..."])  # two without a token
    return corpus.token_rows(np.arange(1, len(corpus.words) + 1))


def padded(rows):
    """``rows`` in a matrix padded to the longest: how text fits held them."""
    out = np.zeros((len(rows), max(1, *map(len, rows))), np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def test_ragged_rows_give_the_padded_matrix_batches_cut_to_their_longest(
    token_rows, news
):
    rows = token_rows.tolist()
    assert len(token_rows) == len(news["X"]) + 2 and rows[-2:] == [[], []]
    lengths = list(map(len, rows))
    assert token_rows.max_length == max(lengths)
    assert token_rows.nbytes == 4 * sum(lengths) + 8 * (len(rows) + 1)
    matrix, y = padded(rows), np.arange(len(rows))
    for shuffle in (False, True):
        torch.manual_seed(3)
        expected = list(batch_iterator(Dataset(matrix, y), 8, shuffle=shuffle))
        torch.manual_seed(3)
        got = list(batch_iterator(Dataset(token_rows, y), 8, shuffle=shuffle))
        assert len(got) == len(expected) == 8
        for (Xb, yb), (Xe, ye) in zip(got, expected, strict=True):
            assert torch.equal(yb, ye) and Xb.dtype == torch.int32
            width = max(1, max(lengths[i] for i in yb.tolist()))
            assert torch.equal(Xb, Xe[:, :width])
    assert token_rows[slice(60, 62)].tolist() == [[0], [0]]  # one column at least
    # a part of the rows (a validation split), in any order
    index = [5, 61, 0, 5]
    assert token_rows.take(index).tolist() == [rows[i] for i in index]
    assert torch.equal(token_rows[np.array(index)], padded([rows[i] for i in index]))


def test_ragged_rows_one_at_a_time_collate_into_the_padded_matrix(token_rows):
    # skorch's per-sample DataLoader (as under Accelerate): rows one by one,
    # each as wide as the longest, stacked by the default collate
    matrix = padded(token_rows.tolist())
    y = np.arange(len(token_rows))
    loader = batch_iterator(Dataset(token_rows, y), 16, num_workers=0)
    assert isinstance(loader, DataLoader)
    assert torch.equal(torch.cat([Xb for Xb, _ in loader]), matrix)


def test_ragged_rows_are_padded_on_the_host_for_a_gpu(token_rows):
    # no copy of every row to the device: each padded batch is copied by skorch
    y = np.arange(len(token_rows))
    slicer = batch_iterator(Dataset(token_rows, y), 16, shuffle=True, device="cuda")
    assert type(slicer) is BatchSlicer and slicer.X is token_rows
    assert next(iter(slicer))[0].device.type == "cpu"


@pytest.mark.parametrize("on_cpu", [True, False])
def test_pipelined_prepares_the_next_item_while_this_one_computes(on_cpu):
    threads = torch.get_num_threads()
    started = [threading.Event() for _ in range(4)]
    preparing_threads, computing_threads = set(), []

    def prepare(item):
        preparing_threads.add(threading.current_thread().name)
        started[item].set()
        return item * 10

    def compute(prepared):
        item = prepared // 10
        if item < 3:  # done one at a time, the next preparation would not start
            assert started[item + 1].wait(timeout=30), "not prepared meanwhile"
        computing_threads.append(torch.get_num_threads())
        return prepared + 1

    assert pipelined(range(4), prepare, compute, on_cpu=on_cpu) == [1, 11, 21, 31]
    assert threading.current_thread().name not in preparing_threads
    assert computing_threads == [max(1, threads - 1) if on_cpu else threads] * 4
    assert torch.get_num_threads() == threads


def test_pipelined_workers_prepare_at_once_at_most_one_item_ahead_each():
    both = threading.Barrier(2, timeout=30)
    started, thread_of = set(), {}

    def prepare(item):
        started.add(item)
        if item < 2:
            both.wait()  # the first two are prepared at once, or this times out
        thread_of[item] = threading.current_thread().name
        return item

    def compute(item):
        assert max(started) <= item + 2, "prepared too far ahead"
        return item * 10

    outputs = pipelined(range(7), prepare, compute, on_cpu=True, workers=2)
    assert outputs == [0, 10, 20, 30, 40, 50, 60]  # in order
    assert thread_of[0] != thread_of[1]


def test_pipelined_one_item_stays_in_this_thread_and_errors_propagate():
    here = threading.current_thread().name
    assert pipelined(
        ["a"], lambda x: threading.current_thread().name, str, on_cpu=True
    ) == [here]
    assert pipelined([], str, str, on_cpu=True) == []
    threads = torch.get_num_threads()

    def fail_on_2(item):
        if item == 2:
            raise ValueError("item 2 is bad")
        return item

    for workers in (1, 2):
        with pytest.raises(ValueError, match="item 2 is bad"):
            pipelined(range(4), fail_on_2, float, on_cpu=True, workers=workers)
    with pytest.raises(ValueError, match="item 2 is bad"):
        pipelined(range(4), float, fail_on_2, on_cpu=True)
    assert torch.get_num_threads() == threads


def test_pipelined_in_two_threads_at_once_leaves_the_thread_count_as_it_was():
    # torch.set_num_threads also sets the count threads starting later take:
    # pipelines overlapping in two threads must not leave it one short
    threads = torch.get_num_threads()
    if threads < 2:
        pytest.skip("one torch thread: nothing to lower")
    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def compute_a(item):
        a_inside.set()
        assert b_inside.wait(timeout=30)
        return item

    def compute_b(item):
        seen["b"] = torch.get_num_threads()
        b_inside.set()
        assert a_done.wait(timeout=30)
        return item

    def run_a():
        pipelined(range(2), int, compute_a, on_cpu=True)
        a_done.set()

    def run_b():  # starts while a's pipeline holds the count lowered
        assert a_inside.wait(timeout=30)
        pipelined(range(2), int, compute_b, on_cpu=True)

    workers = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert seen["b"] == threads - 1
    assert torch.get_num_threads() == threads
    later = []
    worker = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    assert later == [threads]
