"""sktransfer's own conformance checks over every text estimator."""

import pytest

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
    check(estimator)


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
