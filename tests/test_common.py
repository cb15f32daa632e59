"""scikit-learn's full conformance suite over every numeric-input estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer.utils._testing import fast_instances


@parametrize_with_checks(fast_instances(), expected_failed_checks=lambda est: {})
def test_sklearn_conformance(estimator, check):
    check(estimator)
