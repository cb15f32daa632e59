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
