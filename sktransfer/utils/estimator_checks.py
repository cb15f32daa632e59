"""Conformance checks for estimators that take raw text.

scikit-learn's ``check_estimator`` skips estimators whose input is text, so
sktransfer carries its own checks, mirroring sklearn's API checks where they
apply. Run them on your own text estimator::

    from sktransfer.utils.estimator_checks import check_text_estimator
    check_text_estimator(MyTextClassifier())

or one pytest test per check::

    @parametrize_text_checks([MyTextClassifier(random_state=0)])
    def test_text_conformance(estimator, check):
        check(estimator)

Each check takes the estimator (and optionally ``X``, ``y``: raw documents and
labels whose words the estimator knows) and raises ``AssertionError`` when the
estimator misbehaves. Set ``random_state`` (if the estimator has one) so that
fitting twice gives the same model.
"""

import functools
import importlib
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import NotFittedError

__all__ = ["check_text_estimator", "parametrize_text_checks", "text_estimator_checks"]

CORPUS = (
    ("the team won the hockey game with a late goal", "sport"),
    ("the players scored three goals in the final period", "sport"),
    ("fans cheered as the goalie stopped every shot", "sport"),
    ("the coach praised the defense after the match", "sport"),
    ("a strong season for the league champions", "sport"),
    ("the rookie skated fast and passed the puck", "sport"),
    ("the rocket launched the satellite into orbit", "space"),
    ("astronauts aboard the station studied the planet", "space"),
    ("the telescope observed a distant galaxy and stars", "space"),
    ("nasa plans a mission to the moon and mars", "space"),
    ("the shuttle crew returned from space", "space"),
    ("the probe sent images of the solar system", "space"),
)
"""A small two-class English corpus: the checks' default data."""


def default_data():
    """The default ``(X, y)``: list of str and an array of string labels."""
    X = [doc for doc, _ in CORPUS]
    y = np.array([label for _, label in CORPUS])
    return X, y


def _fit(estimator, X, y):
    return estimator.fit(X, y) if is_classifier(estimator) else estimator.fit(X)


def _outputs(estimator, X):
    """What ``estimator`` answers for ``X``, as a dense array (a vectorizer's
    sparse matrix too)."""
    if hasattr(estimator, "predict_proba"):
        out = estimator.predict_proba(X)
    elif hasattr(estimator, "transform"):
        out = estimator.transform(X)
    else:
        out = estimator.predict(X)
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def _same_param(a, b):
    """Whether ``clone`` kept parameter value ``a`` as ``b``: the same object,
    an equal value, or -- for estimators, also inside lists, tuples and dicts
    (a Pipeline's steps) -- an unfitted copy with the same parameters."""
    if a is b:
        return True
    if hasattr(a, "get_params") and not isinstance(a, type):
        return type(a) is type(b) and _same_params(
            a.get_params(deep=False), b.get_params(deep=False)
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_param, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and _same_params(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # values without a truth value
        return False


def _same_params(a, b):
    return a.keys() == b.keys() and all(_same_param(a[k], b[k]) for k in a)


def _assert_same(actual, expected, rtol=1e-6, atol=1e-7, err_msg=""):
    """Equal outputs: close numbers, or equal labels (a classifier without
    ``predict_proba`` answers with its predicted labels, strings perhaps)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.dtype.kind in "biufc" and expected.dtype.kind in "biufc":
        np.testing.assert_allclose(
            actual, expected, rtol=rtol, atol=atol, err_msg=err_msg
        )
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)


def _raises(exc_types, fn, what):
    try:
        fn()
    except exc_types:
        return
    except Exception as exc:  # noqa: BLE001 - reported as a check failure
        raise AssertionError(
            f"{what}: expected {exc_types}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: no error was raised")


def check_no_attributes_set_in_init(estimator, X=None, y=None):
    """``__init__`` stores exactly its parameters, nothing else."""
    params = estimator.get_params(deep=False)
    attrs = set(vars(estimator))
    assert attrs == set(params), (
        f"__init__ set {sorted(attrs - set(params))} / missed "
        f"{sorted(set(params) - attrs)}"
    )


def check_get_set_params_and_clone(estimator, X=None, y=None):
    """``get_params`` round-trips through ``set_params`` and ``clone``."""
    params = estimator.get_params(deep=False)
    twin = clone(estimator)
    for name, value in twin.get_params(deep=False).items():
        assert _same_param(params[name], value), f"clone changed parameter {name!r}"
    estimator.set_params(**params)
    assert estimator.get_params(deep=False).keys() == params.keys()


def check_not_fitted(estimator, X=None, y=None):
    """Using an unfitted estimator raises ``NotFittedError`` (unless its tags
    say it needs no fit: ``requires_fit=False``)."""
    if not estimator.__sklearn_tags__().requires_fit:
        return
    X, _ = default_data() if X is None else (X, y)
    _raises(NotFittedError, lambda: _outputs(clone(estimator), X), "before fit")


def check_fit_returns_self_and_is_idempotent(estimator, X=None, y=None):
    """``fit`` returns self; fitting twice gives the same outputs."""
    X, y = default_data() if X is None else (X, y)
    est = clone(estimator)
    assert _fit(est, X, y) is est, "fit must return self"
    first = _outputs(est, X)
    second = _outputs(_fit(est, X, y), X)
    _assert_same(first, second)


def check_refit_resets_state(estimator, X=None, y=None):
    """A second ``fit`` on other data forgets the first one."""
    X, y = default_data() if X is None else (X, y)
    est = _fit(clone(estimator), X, y)
    if is_classifier(est):
        renamed = np.array([f"new_{label}" for label in y])
        _fit(est, X, renamed)
        assert set(est.classes_) == set(renamed), "classes_ kept labels of an old fit"
    fresh = _fit(clone(estimator), X, y)
    _fit(est, X, y)
    _assert_same(_outputs(est, X), _outputs(fresh, X))


def check_pickle_round_trip(estimator, X=None, y=None):
    """A pickled and restored estimator gives equal outputs."""
    X, y = default_data() if X is None else (X, y)
    est = _fit(clone(estimator), X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(_outputs(restored, X), _outputs(est, X))


def check_sample_order_invariance(estimator, X=None, y=None):
    """Outputs for a sample do not depend on its position in ``X``."""
    X, y = default_data() if X is None else (X, y)
    est = _fit(clone(estimator), X, y)
    order = np.random.RandomState(0).permutation(len(X))
    _assert_same(
        _outputs(est, [X[i] for i in order]), _outputs(est, X)[order], 1e-5, 1e-6
    )


def check_subset_invariance(estimator, X=None, y=None):
    """Outputs for a sample do not depend on the other samples in the batch."""
    X, y = default_data() if X is None else (X, y)
    est = _fit(clone(estimator), X, y)
    full = _outputs(est, X)
    halves = np.concatenate(
        [_outputs(est, X[: len(X) // 2]), _outputs(est, X[len(X) // 2 :])]
    )
    _assert_same(halves, full, 1e-5, 1e-6)


def check_input_containers(estimator, X=None, y=None):
    """A list, a tuple, a 1-D numpy array, a Series and a one-column
    DataFrame (pandas and polars, where installed) give equal outputs
    (scikit-learn's vectorizers fail the last: they iterate over a
    DataFrame's column names)."""
    X, y = default_data() if X is None else (X, y)
    est = _fit(clone(estimator), X, y)
    expected = _outputs(est, X)
    containers = [tuple(X), np.array(X, dtype=object), np.array(X)]
    for library in ("pandas", "polars"):
        try:
            frames = importlib.import_module(library)
        except ImportError:
            continue
        containers += [frames.Series(X), frames.DataFrame({"text": X})]
    for container in containers:
        kind = type(container)
        library = kind.__module__.partition(".")[0]
        name = (
            kind.__name__
            if library in ("builtins", "numpy")
            else f"{library} {kind.__name__}"
        )
        outputs = _outputs(est, container)
        if len(outputs) != len(expected):
            hint = (
                ": it read the DataFrame's column names as the documents (as "
                "scikit-learn's vectorizers do), so df[['text']], what a "
                "ColumnTransformer gives for ['text'], is silently one "
                "document; take a one-column DataFrame as its column's texts"
                if kind.__name__ == "DataFrame"
                else ""
            )
            raise AssertionError(
                f"given the {len(X)} documents as a {name}, the estimator "
                f"answered {len(outputs)} rows{hint}."
            )
        _assert_same(outputs, expected, err_msg=name)


def check_string_and_integer_labels(estimator, X=None, y=None):
    """Classifiers accept string and integer labels and predict them back."""
    X, y = default_data() if X is None else (X, y)
    if not is_classifier(estimator):
        return
    _, as_int = np.unique(y, return_inverse=True)
    for labels in (np.asarray(y).astype(str), as_int * 7 + 3):
        est = _fit(clone(estimator), X, labels)
        assert set(est.classes_) == set(labels)
        assert set(est.predict(X)) <= set(labels)


def check_classifier_output_shapes(estimator, X=None, y=None):
    """A classifier's outputs agree and have scikit-learn's shapes:
    ``predict_proba`` ``(n, n_classes)`` rows summing to 1, ``predict`` its
    argmax, and ``decision_function`` ``(n,)`` for two classes (positive for
    ``classes_[1]``, what the ``roc_auc`` scorer reads), else ``(n, n_classes)``.
    """
    X, y = default_data() if X is None else (X, y)
    if not is_classifier(estimator):
        return
    est = _fit(clone(estimator), X, y)
    predicted = np.asarray(est.predict(X))
    n_classes = len(est.classes_)
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        assert proba.shape == (len(X), n_classes), proba.shape
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], predicted)
    if hasattr(est, "decision_function"):
        scores = np.asarray(est.decision_function(X))
        if n_classes == 2:
            assert scores.shape == (len(X),), (
                f"decision_function of a binary classifier has shape {scores.shape},"
                f" not ({len(X)},)"
            )
            chosen = est.classes_[(scores > 0).astype(int)]
        else:
            assert scores.shape == (len(X), n_classes), scores.shape
            chosen = est.classes_[scores.argmax(axis=1)]
        np.testing.assert_array_equal(chosen, predicted)


def check_bad_input(estimator, X=None, y=None):
    """Empty input, non-string items, a single class and X/y mismatch raise."""
    X, y = default_data() if X is None else (X, y)
    bad = (ValueError, TypeError)
    _raises(bad, lambda: _fit(clone(estimator), [], y[:0]), "empty X")
    _raises(bad, lambda: _fit(clone(estimator), [1, 2] * 3, y[:6]), "non-string items")
    _raises(bad, lambda: _fit(clone(estimator), X[0], y[:1]), "a single string as X")
    if is_classifier(estimator):
        _raises(bad, lambda: _fit(clone(estimator), X, [y[0]] * len(X)), "one class")
        _raises(bad, lambda: _fit(clone(estimator), X, y[:-1]), "X/y length mismatch")
    est = _fit(clone(estimator), X, y)
    _raises(bad, lambda: _outputs(est, [None, "text"]), "non-string item at predict")


def check_partial_fit(estimator, X=None, y=None):
    """A classifier with ``partial_fit`` behaves as scikit-learn's do: the
    first call needs ``classes=`` and may see only some of them; a later call
    goes on from the fitted model (``n_iter_`` grows, where the estimator
    has it) and refuses labels outside ``classes_``, other ``classes=`` and
    non-string items; each call returns the estimator."""
    X, y = default_data() if X is None else (X, y)
    if not (is_classifier(estimator) and hasattr(estimator, "partial_fit")):
        return
    X, y = list(X), np.asarray(y)
    classes = np.unique(y)
    bad = (ValueError, TypeError)
    _raises(bad, lambda: clone(estimator).partial_fit(X, y), "no classes= at first")
    est = clone(estimator)
    assert est.partial_fit(X, y, classes=classes) is est, "partial_fit returns self"
    np.testing.assert_array_equal(est.classes_, classes)
    epochs = getattr(est, "n_iter_", None)
    assert est.partial_fit(X, y) is est, "partial_fit returns self"
    if epochs is not None:
        assert est.n_iter_ > epochs, (est.n_iter_, epochs)
    first = y == classes[0]
    assert set(est.predict(X)) <= set(classes)
    _raises(bad, lambda: est.partial_fit(X, np.where(first, "unseen", y)), "new label")
    _raises(bad, lambda: est.partial_fit(X, y, classes=classes[:1]), "other classes=")
    _raises(bad, lambda: est.partial_fit([None] + X[1:], y), "non-string item")
    part = clone(estimator).partial_fit(
        [doc for doc, keep in zip(X, first, strict=True) if keep],
        y[first],
        classes=classes,
    )
    np.testing.assert_array_equal(part.classes_, classes)
    assert _outputs(part, X).shape[0] == len(X)


TEXT_CHECKS = (
    check_no_attributes_set_in_init,
    check_get_set_params_and_clone,
    check_not_fitted,
    check_fit_returns_self_and_is_idempotent,
    check_refit_resets_state,
    check_pickle_round_trip,
    check_sample_order_invariance,
    check_subset_invariance,
    check_input_containers,
    check_string_and_integer_labels,
    check_classifier_output_shapes,
    check_bad_input,
    check_partial_fit,
)


def text_estimator_checks(
    estimator: BaseEstimator,
    X: Sequence[str] | None = None,
    y: ArrayLike | None = None,
) -> Iterator[tuple[BaseEstimator, Callable]]:
    """Yield ``(estimator, check)`` pairs, as sklearn's ``estimator_checks`` does.

    Parameters
    ----------
    estimator : estimator instance
        A text estimator: it takes raw documents as ``X``.
    X : sequence of str or None, default=None
        Documents whose words the estimator knows; None uses a small built-in
        corpus of two topics.
    y : array-like or None, default=None
        Labels of ``X`` (for classifiers).

    Yields
    ------
    estimator : estimator instance
        ``estimator`` itself; each check clones it.
    check : callable
        ``check(estimator)`` raises ``AssertionError`` on a failure.

    Examples
    --------
    >>> from sktransfer import EmbeddingVectorizer
    >>> from sktransfer.utils.estimator_checks import text_estimator_checks
    >>> checks = list(text_estimator_checks(EmbeddingVectorizer()))
    >>> len(checks), checks[0][1].func.__name__
    (13, 'check_no_attributes_set_in_init')
    """
    for check in TEXT_CHECKS:
        yield estimator, functools.partial(check, X=X, y=y)


def check_text_estimator(
    estimator: BaseEstimator,
    X: Sequence[str] | None = None,
    y: ArrayLike | None = None,
) -> None:
    """Run every text check on ``estimator``; raise on the first failure.

    Parameters
    ----------
    estimator : estimator instance
        A text estimator: it takes raw documents as ``X``.
    X : sequence of str or None, default=None
        Documents whose words the estimator knows; None uses a small built-in
        corpus of two topics.
    y : array-like or None, default=None
        Labels of ``X`` (for classifiers).

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sktransfer import EmbeddingVectorizer
    >>> from sktransfer.utils.estimator_checks import check_text_estimator
    >>> check_text_estimator(EmbeddingVectorizer())  # passes: returns None
    >>> check_text_estimator(TfidfVectorizer())
    Traceback (most recent call last):
    ...
    AssertionError: given the 12 documents as a pandas DataFrame, ... 1 rows: ...
    """
    for est, check in text_estimator_checks(estimator, X, y):
        check(est)


def parametrize_text_checks(
    estimators: Iterable[BaseEstimator],
    X: Sequence[str] | None = None,
    y: ArrayLike | None = None,
) -> Callable:
    """pytest decorator: one test per (estimator, check), like sklearn's.

    Parameters
    ----------
    estimators : iterable of estimator instances
        Text estimators to check.
    X : sequence of str or None, default=None
        Documents whose words the estimators know; None uses a small built-in
        corpus of two topics.
    y : array-like or None, default=None
        Labels of ``X`` (for classifiers).

    Returns
    -------
    decorator : callable
        ``pytest.mark.parametrize("estimator, check", ...)``, with ids naming
        the estimator's class and the check.

    Examples
    --------
    >>> from sktransfer import EmbeddingVectorizer
    >>> from sktransfer.utils.estimator_checks import parametrize_text_checks
    >>> @parametrize_text_checks([EmbeddingVectorizer()])
    ... def test_text_conformance(estimator, check):
    ...     check(estimator)
    """
    import pytest

    cases = [pair for est in estimators for pair in text_estimator_checks(est, X, y)]
    ids = [f"{type(est).__name__}-{check.func.__name__}" for est, check in cases]
    return pytest.mark.parametrize("estimator, check", cases, ids=ids)
