"""Rank candidate sources by a transferability score; pick the best one."""

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
)

from sktransfer._base import SharedSourceCloneMixin, all_or_nothing, is_fitted_estimator
from sktransfer.transferability._scores import (
    h_score,
    leep_score,
    logme_score,
    nce_score,
)
from sktransfer.utils import seed_from
from sktransfer.utils._display import html_table
from sktransfer.utils._naming import distinct_names
from sktransfer.utils._warnings import caller_stacklevel
from sktransfer.vision import Backbone

METRICS = {
    "logme": (logme_score, "features"),
    "h_score": (h_score, "features"),
    "regularized_h_score": (functools.partial(h_score, shrinkage="auto"), "features"),
    "leep": (leep_score, "predict_proba"),
    "nce": (nce_score, "predict"),
}
"""``name -> (score function, what it needs from a candidate)``."""


def _metric(metric):
    """``(score function, need)`` of a metric's name, or of a callable: a
    score of features, ``metric(features, y) -> float``."""
    if callable(metric):
        return metric, "features"
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(
            f"metric={metric!r} is not a transferability score; choose one of "
            f"{sorted(METRICS)}."
        )
    return METRICS[metric]


def _is_text(X):
    """Whether ``X`` holds documents (its first item is a string)."""
    if sp.issparse(X):
        return False
    if hasattr(X, "iloc"):
        first = X.iloc[0]
    elif isinstance(X, (list, tuple)):
        first = X[0]
    else:
        first = np.asarray(X).ravel()[:1].tolist()  # none: 0 features
        first = first[0] if first else None
    return isinstance(first, str)


def candidate_outputs(
    candidate: Any,
    X: ArrayLike,
    need: str,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """What a metric needs from ``candidate`` on ``X``: features or predictions.

    ``candidate`` is a transformer (fitted or not: an unfitted one is fitted on
    ``X``), a fitted sktransfer classifier (its ``extract_features``,
    ``predict_proba`` or ``predict``), or a source that an sktransfer
    transformer resolves: a word-vector name, path, KeyedVectors or gensim
    model for text ``X``, a backbone for images. ``random_state`` seeds what
    such a backbone initializes at random (``"small_cnn"``, a structure-only
    source).

    Parameters
    ----------
    candidate : object
        A source, in any of the forms above.
    X : array-like or iterable of str
        Target inputs: images, or texts.
    need : {"features", "predict_proba", "predict"}
        What the metric scores (the second item of a :data:`METRICS` entry).
    random_state : int, RandomState instance or None, default=None
        Seeds a backbone built at random.

    Returns
    -------
    outputs : ndarray
        Features of shape (n_samples, n_features), class probabilities of
        shape (n_samples, n_source_classes), or labels of shape (n_samples,).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer.transferability import candidate_outputs
    >>> X, _ = load_digits(return_X_y=True)
    >>> candidate_outputs("small_cnn", X[:10], "features", random_state=0).shape
    (10, 64)
    """
    if need in ("predict_proba", "predict"):
        if not (is_fitted_estimator(candidate) and hasattr(candidate, need)):
            raise TypeError(
                f"this metric needs a fitted source classifier with {need}(); got "
                f"{type(candidate).__name__}."
            )
        return getattr(candidate, need)(X)
    if is_fitted_estimator(candidate):
        if hasattr(candidate, "extract_features"):
            return candidate.extract_features(X)
        if hasattr(candidate, "transform"):
            return candidate.transform(X)
    if hasattr(candidate, "transform") and hasattr(candidate, "fit"):
        return clone(candidate).fit(X).transform(X)
    if _is_text(X):
        from sktransfer.text import EmbeddingVectorizer

        return EmbeddingVectorizer(candidate).fit(X).transform(X)
    from sktransfer.vision import PretrainedFeatureExtractor

    extractor = PretrainedFeatureExtractor(candidate, random_state=random_state)
    return extractor.fit(X).transform(X)


def _metric_name(metric):
    """How progress lines and errors name ``metric``."""
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def _name(candidate):
    if isinstance(candidate, (str, os.PathLike)):
        return os.fspath(candidate)
    if isinstance(candidate, tuple):  # (architecture, weights path)
        return " ".join(os.fspath(part) for part in candidate)
    if isinstance(candidate, FrozenEstimator):
        return f"{_name(candidate.estimator)} (frozen)"
    if isinstance(candidate, Backbone):  # the name it declares, or its module's
        return candidate.name
    return type(candidate).__name__


def _names(candidates):
    """Display names, one per candidate and all different: objects of one type
    (two fitted estimators, two modules) are numbered in candidate order."""
    return distinct_names([_name(candidate) for candidate in candidates])


class Ranking(list):
    """Rows ``{"rank", "candidate", "name", "score", "seconds"}``, best first.

    ``name`` is the candidate's key when they were given as a dict, else the
    source's name or path, or its type; candidates that would share one are
    numbered in the order given (``"FineTunedCNNClassifier #2"``). A list;
    ``print`` shows it as a table.

    Parameters
    ----------
    iterable : iterable of dict, default=()
        The rows, as :func:`rank_sources` makes them.

    Examples
    --------
    >>> from sktransfer.transferability import Ranking
    >>> print(Ranking([{"rank": 1, "candidate": None, "name": "glove",
    ...                 "score": 0.5, "seconds": 1.25}]))
    rank       score   seconds  candidate
       1      0.5000      1.25  glove
    """

    def __str__(self):
        lines = [f"{'rank':>4}  {'score':>10}  {'seconds':>8}  candidate"]
        for rank, score, seconds, name in self._rows():
            lines.append(f"{rank:>4}  {score:>10}  {seconds:>8}  {name}")
        return "\n".join(lines)

    def _rows(self):
        return [
            [row["rank"], f"{row['score']:.4f}", f"{row['seconds']:.2f}", row["name"]]
            for row in self
        ]

    def _repr_html_(self):
        """The table ``print`` shows, as Jupyter shows the ranking (not the
        list of rows, each with its candidate)."""
        return html_table(["rank", "score", "seconds", "candidate"], self._rows())


def rank_sources(
    candidates: Iterable[Any] | Mapping[str, Any],
    X: ArrayLike,
    y: ArrayLike,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "logme",
    random_state: int | np.random.RandomState | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> Ranking:
    """Score each candidate source on ``(X, y)`` and sort them, best first.

    No classifier is trained on the target: the score reads the source's
    features (``logme``, ``h_score``, ``regularized_h_score``) or predictions
    (``leep``, ``nce``).

    Parameters
    ----------
    candidates : list or dict
        Sources (see :func:`candidate_outputs`); a dict names them
        (``{"digits 0-4": source_model, "random": "small_cnn"}``), and the
        ranking shows those names.
    X : array-like or iterable of str
        Target inputs, in whatever form the candidates take.
    y : array-like of shape (n_samples,)
        Target labels.
    metric : {"logme", "h_score", "regularized_h_score", "leep", "nce"} or \
callable, default="logme"
        The transferability score (:data:`METRICS`), or a score of your own:
        ``metric(features, y) -> float``, higher is better, given each
        candidate's features of ``X`` (a module-level function pickles, for
        scorers used with ``n_jobs > 1``).
    random_state : int or None, default=None
        Seeds the weights of a backbone candidate built at random
        (``"small_cnn"``): the same seed gives the same scores.
    log : callable or None, default=None
        Called with one progress line per candidate as it is scored
        (``log=print``).

    Returns
    -------
    Ranking
        A list of dict rows with the candidate, its name, its score and the
        seconds it took; ``print`` shows a table.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sktransfer.transferability import rank_sources
    >>> y = np.repeat([0, 1], 10)
    >>> X = np.c_[y, np.random.RandomState(0).randn(20)]
    >>> useful = FunctionTransformer(lambda Z: Z[:, :1])
    >>> noise = FunctionTransformer(lambda Z: Z[:, 1:])
    >>> rank_sources([noise, useful], X, y)[0]["candidate"] is useful
    True
    """
    score_fn, need = _metric(metric)
    if isinstance(candidates, str):  # its characters are no sources
        raise TypeError(
            "candidates must be a list of sources; got the string "
            f"{candidates!r} (write [{candidates!r}])."
        )
    if not isinstance(candidates, Mapping):  # a generator, a tuple
        candidates = list(candidates)
    if len(candidates) == 0:
        raise ValueError("rank_sources needs at least one candidate source.")
    if _num_samples(X) == 0:
        raise ValueError("rank_sources needs target samples; X is empty.")
    check_consistent_length(X, y)  # before any candidate runs over X
    if isinstance(candidates, Mapping):  # named: iterating it gives the names
        names = [str(name) for name in candidates]
        candidates = list(candidates.values())
    else:
        names = _names(candidates)
    rows = []
    for i, (candidate, name) in enumerate(zip(candidates, names, strict=True), 1):
        start = time.perf_counter()
        try:
            score = score_fn(candidate_outputs(candidate, X, need, random_state), y)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"Scoring candidate {name!r} with {_metric_name(metric)}: {exc}"
            ) from exc
        rows.append(
            {
                "candidate": candidate,
                "name": name,
                "score": score,
                "seconds": time.perf_counter() - start,
            }
        )
        if log is not None:
            log(
                f"[{i}/{len(candidates)}] {name:<24} {_metric_name(metric)}="
                f"{score:.4f} "
                f"({rows[-1]['seconds']:.1f}s)"
            )
    rows.sort(key=lambda row: (np.isnan(row["score"]), -row["score"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return Ranking(rows)


class TransferabilityScorer:
    """A scorer ``(estimator, X, y) -> float`` from a transferability metric.

    For the scores of features the estimator is a fitted transformer (or
    sktransfer classifier) whose features are scored; for ``leep``/``nce`` a
    fitted source classifier. Picklable, so it works with ``n_jobs > 1``.
    :func:`make_transferability_scorer` makes one.

    Parameters
    ----------
    metric : str or callable
        As :func:`rank_sources` takes it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> from sktransfer.transferability import TransferabilityScorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scorer = TransferabilityScorer("logme")
    >>> extractor = PretrainedFeatureExtractor(random_state=0).fit(X[:200])
    >>> isinstance(scorer(extractor, X[:200], y[:200]), float)
    True
    """

    def __init__(self, metric):
        self.metric = metric
        self._score, self._need = _metric(metric)

    def __call__(self, estimator, X, y):
        return self._score(candidate_outputs(estimator, X, self._need), y)

    def __repr__(self):
        return f"make_transferability_scorer({self.metric!r})"


def make_transferability_scorer(
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "logme",
) -> TransferabilityScorer:
    """Scorer for ``scoring=`` in ``cross_validate`` and ``GridSearchCV``.

    It scores a *transformer* (EmbeddingVectorizer, PretrainedFeatureExtractor)
    on held-out ``(X, y)`` without training a classifier.

    Parameters
    ----------
    metric : {"logme", "h_score", "regularized_h_score", "leep", "nce"} or \
callable, default="logme"
        As :func:`rank_sources` takes it.

    Returns
    -------
    scorer : TransferabilityScorer
        Called as ``scorer(estimator, X, y)``; higher is better.

    Examples
    --------
    >>> from sktransfer.transferability import make_transferability_scorer
    >>> scorer = make_transferability_scorer("h_score")
    >>> scorer
    make_transferability_scorer('h_score')
    """
    return TransferabilityScorer(metric)


SOURCE_PARAMS = ("backbone", "embeddings", "source")
"""The parameters that take the source, found by ``source_param=None``."""


def _source_param(estimator, source_param):
    """The parameter that takes the source: ``source_param``, or the first of
    :data:`SOURCE_PARAMS` that ``estimator`` has -- or, in a Pipeline, that
    a step has (``<step>__backbone``)."""
    if source_param is not None:
        return source_param
    params = estimator.get_params(deep=False)
    for name in SOURCE_PARAMS:
        if name in params:
            return name
    for step, inner in getattr(estimator, "steps", []):
        inner_params = getattr(inner, "get_params", dict)(deep=False)
        for name in SOURCE_PARAMS:
            if name in inner_params:
                return f"{step}__{name}"
    raise ValueError(
        f"{type(estimator).__name__} has no {' or '.join(map(repr, SOURCE_PARAMS))}"
        " parameter (nor a Pipeline step with one); pass source_param= naming "
        "the parameter that takes the source."
    )


def _scoring_inputs(estimator, param, X, y):
    """``(owner, X)``: the estimator that takes the source and the inputs it
    sees -- in a Pipeline, X through the steps before it, fitted on X."""
    step = param.rpartition("__")[0]
    steps = getattr(estimator, "named_steps", {})
    if step not in steps:  # not a step (set_params then names the problem)
        return estimator, X
    position = [name for name, _ in estimator.steps].index(step)
    if position:
        X = clone(estimator[:position]).fit_transform(X, y)
    return steps[step], X


def _scored_as(estimator, candidate):
    """What :func:`rank_sources` scores for ``candidate`` as ``estimator``'s
    source: a name or path is embedded as ``estimator`` would embed it where
    it says how (``_source_transformer``: a transformer model's name, which
    :func:`candidate_outputs` would read as word vectors)."""
    view = getattr(estimator, "_source_transformer", None)
    if view is None or not isinstance(candidate, (str, os.PathLike)):
        return candidate
    return view(candidate)


class SourceSelector(
    SharedSourceCloneMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator
):
    """Pick the best source for a target task, then fit the estimator with it.

    ``fit`` scores every candidate with a transferability ``metric`` on the
    training data (no fine-tuning), optionally fine-tunes the ``top_k`` best
    and keeps the one with the best held-out accuracy, and refits
    ``estimator`` with the winner on all the data.

    Parameters
    ----------
    estimator : sktransfer estimator
        The target model, e.g. ``FineTunedCNNClassifier(transfer="fine_tune")``.
    sources : list or dict
        Candidate sources for ``estimator``'s source parameter; a dict names
        them (as in :func:`rank_sources`).
    metric : {"logme", "h_score", "regularized_h_score", "leep", "nce"} or \
callable, default="logme"
        The transferability score the candidates are ranked by, as
        :func:`rank_sources` takes it.
    source_param : str or None, default=None
        The parameter that takes the source; ``None`` finds ``backbone``,
        ``embeddings`` or ``source``, of ``estimator`` or of a step of it when
        it is a Pipeline (whose earlier steps then prepare the data the
        sources are scored on). A name or path given for
        FineTunedTransformerClassifier's ``source`` is scored on the pooled
        embeddings that model computes.
    top_k : int, default=1
        Fine-tune the ``top_k`` best-scored sources on a holdout split and keep
        the best by accuracy, a tie going to the better-scored source (``1``:
        trust the score). More than there are sources warns, and compares
        them all.
    validation_fraction : float, default=0.2
        Holdout share for ``top_k > 1``.
    random_state : int or None, default=None
        Seeds the holdout split, the weights of a backbone candidate built at
        random (``"small_cnn"``) while it is scored, and the estimator's fits
        where its own ``random_state`` is None.
    verbose : int, default=0
        1 prints a line per candidate scored, per candidate fine-tuned on
        the holdout, and for the final fit.

    Attributes
    ----------
    scores_ : Ranking
        Every candidate's score, best first.
    validation_scores_ : dict
        Holdout accuracy of each fine-tuned candidate, by its name in
        ``scores_`` (``top_k > 1``).
    best_source_ : object
        The chosen source.
    best_estimator_ : estimator
        ``estimator`` refitted with ``best_source_``.
    classes_ : ndarray
        The class labels, as ``best_estimator_`` holds them.
    n_features_in_ : int
        Features of ``X`` seen in ``fit``, where ``best_estimator_`` has
        the attribute (image and tabular estimators; not text ones).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedCNNClassifier
    >>> from sktransfer.transferability import SourceSelector
    >>> X, y = load_digits(return_X_y=True)
    >>> source = FineTunedCNNClassifier(max_epochs=3, random_state=0)
    >>> source = source.fit(X[y < 5], y[y < 5])
    >>> selector = SourceSelector(
    ...     FineTunedCNNClassifier(transfer="feature_extraction", max_epochs=3),
    ...     {"digits 0-4": source, "untrained": "small_cnn"},
    ...     random_state=0,
    ... ).fit(X[y >= 5][:300], y[y >= 5][:300])
    >>> sorted(row["name"] for row in selector.scores_)
    ['digits 0-4', 'untrained']
    >>> selector.best_estimator_.backbone is selector.best_source_
    True
    """

    _source_params = ("sources",)

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "sources": ["array-like", dict],
        "metric": [StrOptions(set(METRICS)), callable],
        "source_param": [str, None],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        sources,
        *,
        metric="logme",
        source_param=None,
        top_k=1,
        validation_fraction=0.2,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.sources = sources
        self.metric = metric
        self.source_param = source_param
        self.top_k = top_k
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: ArrayLike) -> "SourceSelector":
        """Score the sources, choose one, fit ``estimator`` with it.

        Parameters
        ----------
        X : array-like or iterable of str
            Target inputs, as ``estimator`` takes them.
        y : array-like of shape (n_samples,)
            Target labels.

        Returns
        -------
        self : SourceSelector
            The fitted selector.
        """
        param = _source_param(self.estimator, self.source_param)
        sources = self.sources
        if isinstance(sources, Mapping):
            names, sources = [str(name) for name in sources], list(sources.values())
        else:
            sources = list(sources)
            names = _names(sources)
        log = print if self.verbose else None
        owner, X_scored = _scoring_inputs(self.estimator, param, X, y)
        views = {n: _scored_as(owner, s) for n, s in zip(names, sources, strict=True)}
        self.scores_ = rank_sources(
            views, X_scored, y, self.metric, self.random_state, log=log
        )
        for row in self.scores_:  # the source itself, not what was scored
            row["candidate"] = sources[names.index(row["name"])]
        best, best_name = self.scores_[0]["candidate"], self.scores_[0]["name"]
        self.validation_scores_ = {}
        if self.top_k > len(self.scores_):  # as SelectKBest's k > n_features
            warnings.warn(
                f"top_k={self.top_k} is more than the {len(self.scores_)} "
                f"candidate source(s): all of them are compared (top_k="
                f"{len(self.scores_)} does the same).",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        if self.top_k > 1 and len(self.scores_) > 1:
            y_arr = np.asarray(y)
            idx = np.arange(len(y_arr))
            try:
                train, valid = train_test_split(
                    idx,
                    test_size=self.validation_fraction,
                    stratify=y_arr,
                    random_state=self.random_state,
                )
            except ValueError as exc:
                raise ValueError(
                    f"top_k={self.top_k} compares sources on a stratified "
                    f"holdout of validation_fraction={self.validation_fraction}"
                    f" of the {len(y_arr)} samples, which cannot be drawn "
                    f"({exc}); raise validation_fraction, or use top_k=1."
                ) from None
            best_score = -np.inf
            top = self.scores_[: self.top_k]
            for i, row in enumerate(top, 1):
                start = time.perf_counter()
                model = self._with_source(param, row["candidate"])
                model.fit(_safe_indexing(X, train), y_arr[train])
                score = model.score(_safe_indexing(X, valid), y_arr[valid])
                self.validation_scores_[row["name"]] = score
                if score > best_score:
                    best, best_name, best_score = row["candidate"], row["name"], score
                if log is not None:
                    log(
                        f"fine-tuned [{i}/{len(top)}] {row['name']:<24} holdout "
                        f"accuracy={score:.4f} ({time.perf_counter() - start:.1f}s)"
                    )
        if log is not None:
            log(f"fitting {type(self.estimator).__name__} on {best_name!r}")
        self.best_source_ = best
        self.best_estimator_ = self._with_source(param, best).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        if hasattr(self.best_estimator_, "n_features_in_"):
            self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _with_source(self, param, source):
        """A clone of ``estimator`` with ``source``, seeded by ``random_state``
        where its own (that of the step taking the source) is None, as
        scikit-learn's ensembles seed theirs: the same seed, the same model."""
        model = clone(self.estimator).set_params(**{param: source})
        seed_param = param[: -len(param.rpartition("__")[2])] + "random_state"
        params = model.get_params()
        if self.random_state is not None and params.get(seed_param, 0) is None:
            model.set_params(**{seed_param: seed_from(self.random_state)})
        return model

    def predict(self, X: ArrayLike) -> np.ndarray:
        """``best_estimator_``'s predicted class labels.

        Parameters
        ----------
        X : array-like or iterable of str
            Inputs, as ``estimator`` takes them.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            One of ``classes_`` per sample.
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """``best_estimator_``'s class probabilities.

        Parameters
        ----------
        X : array-like or iterable of str
            Inputs, as ``estimator`` takes them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """``best_estimator_``'s log class probabilities.

        Parameters
        ----------
        X : array-like or iterable of str
            Inputs, as ``estimator`` takes them.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_log_proba(X)
