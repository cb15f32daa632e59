"""Transfer gain curves: transfer vs scratch vs baselines at N labels per class."""

import dataclasses
import html
import numbers
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_consistent_length

from sktransfer._base import IGNORED_PARAM_WARNING
from sktransfer.utils import seed_from
from sktransfer.utils._arrays import refuse_bad_labels
from sktransfer.utils._display import html_table
from sktransfer.utils._naming import distinct_names
from sktransfer.utils._warnings import caller_stacklevel


def stratified_subsample(
    y: ArrayLike,
    n_per_class: int | None,
    random_state: int | np.random.RandomState | None,
) -> np.ndarray:
    """Indices of ``n_per_class`` samples of every class (all when None).

    Seeded and stratified: the same ``random_state`` gives the same indices.
    Classes with fewer samples contribute all of them, with one warning that
    names them.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_per_class : int or None
        Samples drawn from every class; ``None`` keeps them all.
    random_state : int, RandomState instance or None
        Seeds the draw.

    Returns
    -------
    indices : ndarray of int
        Positions in ``y``, class by class.

    Examples
    --------
    >>> from sktransfer.model_selection import stratified_subsample
    >>> y = ["a", "a", "a", "b", "b", "b"]
    >>> picked = stratified_subsample(y, 2, random_state=0)
    >>> sorted(y[i] for i in picked)
    ['a', 'a', 'b', 'b']
    """
    y = np.asarray(y)
    if n_per_class is None:
        return np.arange(len(y))
    _check_size(n_per_class)
    rng = np.random.RandomState(seed_from(random_state))
    chosen, short = [], []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        if len(members) < n_per_class:
            label = cls.item() if isinstance(cls, np.generic) else cls
            short.append(f"{label!r} ({len(members)})")
        chosen.append(
            rng.choice(members, min(n_per_class, len(members)), replace=False)
        )
    if short:
        warnings.warn(
            f"n_per_class={n_per_class}: these classes have fewer samples, all "
            f"of which are used: {', '.join(short)}.",
            stacklevel=caller_stacklevel(),
        )
    return np.sort(np.concatenate(chosen))


def _check_size(n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(
            f"n_per_class sizes must be integers >= 1 or None (all); got {n!r}."
        )


def _transfer_param(estimator):
    """``(name, owner)``: the parameter that sets the transfer mode --
    ``transfer``, or ``<step>__transfer`` of an estimator in a Pipeline (the
    shallowest one: a fitted source's own ``backbone__transfer`` is not it)
    -- and the estimator that has it."""
    params = estimator.get_params() if hasattr(estimator, "set_params") else {}
    names = [k for k in params if k == "transfer" or k.endswith("__transfer")]
    if not names:
        raise TypeError(
            "transfer_gain_curve needs an estimator with a 'transfer' parameter "
            "(or a Pipeline holding one)."
        )
    depth = min(name.count("__") for name in names)
    shallowest = [name for name in names if name.count("__") == depth]
    if len(shallowest) > 1:
        raise ValueError(
            f"{type(estimator).__name__} holds several transfer parameters "
            f"({shallowest}); the curve sets one."
        )
    name = shallowest[0]
    return name, params[name[: -len("__transfer")]] if "__" in name else estimator


def _transfer_options(estimator):
    """The estimator's declared ``transfer`` values (None: not declared)."""
    constraints = getattr(estimator, "_parameter_constraints", {})
    constraint = constraints.get("transfer", [None])[0]
    return getattr(constraint, "options", None)


def _checked_transfers(estimator, transfers):
    """The transfer modes to fit: ``transfers`` (a str is one mode) or every
    declared mode but structure."""
    options = _transfer_options(estimator)
    if transfers is None:
        if options is None:
            raise TypeError(
                f"{type(estimator).__name__} has no 'transfer' options; pass "
                "transfers=."
            )
        return tuple(sorted(m for m in options if m != "structure"))
    transfers = (transfers,) if isinstance(transfers, str) else tuple(transfers)
    if not transfers:
        raise ValueError("transfers is empty; pass at least one transfer mode.")
    if "structure" in transfers:
        raise ValueError(
            "transfers lists 'structure', which the curve always fits as the "
            "scratch baseline; leave it out."
        )
    unknown = [t for t in transfers if options is not None and t not in options]
    if unknown:
        raise ValueError(
            f"Unknown transfer modes {unknown} for {type(estimator).__name__}; "
            f"the modes are {sorted(options)}."
        )
    return transfers


def _checked_sizes(n_per_class):
    """``n_per_class`` as a tuple of distinct sizes (an int or None is one),
    Python ints (numpy's, of an array, would follow into the records, which
    ``json`` then could not write)."""
    if n_per_class is None or isinstance(n_per_class, numbers.Integral):
        n_per_class = (n_per_class,)
    sizes = tuple(n_per_class)
    if not sizes:
        raise ValueError("n_per_class is empty; pass at least one size.")
    for n in sizes:
        if n is not None:
            _check_size(n)
    _check_unique("n_per_class sizes", [(n,) for n in sizes])
    return tuple(None if n is None else int(n) for n in sizes)


def _checked_baselines(baselines):
    """``baselines`` as ``(name, estimator)`` pairs: from a dict, from pairs,
    or from estimators alone (one, or a list), named by their class
    (``LogisticRegression``; ``#1``, ``#2`` for a class given twice)."""
    if baselines is None:
        return []
    if isinstance(baselines, Mapping):
        items = list(baselines.items())
    elif hasattr(baselines, "fit"):
        items = [baselines]
    elif isinstance(baselines, (list, tuple)):
        items = list(baselines)
    else:
        items = [baselines]  # refused below
    for item in items:
        name, estimator = item if _is_pair(item) else ("", item)
        if not (isinstance(name, str) and hasattr(estimator, "fit")):
            raise TypeError(
                "baselines must be a dict {name: estimator}, (name, estimator) "
                f"pairs or estimators; {item!r:.60} is none of these."
            )
    unnamed = [item for item in items if not _is_pair(item)]
    names = iter(distinct_names([type(item).__name__ for item in unnamed]))
    return [item if _is_pair(item) else (next(names), item) for item in items]


def _is_pair(item):
    return isinstance(item, tuple) and len(item) == 2


def _check_unique(what, rows):
    """Refuse repeated first items: each names a row or column of the curve."""
    names = [row[0] for row in rows]
    repeated = list(dict.fromkeys(repr(n) for n in names if names.count(n) > 1))
    if repeated:
        raise ValueError(
            f"The {what} must be distinct; repeated: {', '.join(repeated)}."
        )


@dataclasses.dataclass
class GainCurve:
    """The result of :func:`transfer_gain_curve`.

    Attributes
    ----------
    records : list of dict
        ``{"n_per_class", "model", "kind", "scores", "mean", "std", "seconds"}``
        per model and size; ``kind`` is ``"transfer"``, ``"scratch"`` or
        ``"baseline"``.
    n_repeats : int
        Subsamples per size that each mean and std summarise.

    Parameters
    ----------
    records : list of dict
        As the attribute.
    n_repeats : int
        As the attribute.

    Examples
    --------
    >>> from sktransfer.model_selection import GainCurve
    >>> curve = GainCurve(
    ...     [
    ...         {"n_per_class": 5, "model": "fine_tune", "kind": "transfer",
    ...          "scores": [0.9], "mean": 0.9, "std": 0.0, "seconds": 1.0},
    ...         {"n_per_class": 5, "model": "structure", "kind": "scratch",
    ...          "scores": [0.6], "mean": 0.6, "std": 0.0, "seconds": 1.0},
    ...     ],
    ...     n_repeats=1,
    ... )
    >>> curve.sizes, curve.models, curve.negative_transfer
    ([5], ['fine_tune', 'structure'], [])
    """

    records: list
    n_repeats: int

    def _by(self, n, model):
        return next(
            r for r in self.records if r["n_per_class"] == n and r["model"] == model
        )

    @property
    def sizes(self) -> list[int | None]:
        """The labelled samples per class measured, in order (None: all)."""
        return list(dict.fromkeys(r["n_per_class"] for r in self.records))

    @property
    def models(self) -> list[str]:
        """The models measured: transfer modes, ``"structure"``, baselines."""
        return list(dict.fromkeys(r["model"] for r in self.records))

    @property
    def negative_transfer(self) -> list[str]:
        """Findings, in words, where a transfer mode lost beyond noise.

        A transfer mode is flagged at a size when its mean accuracy is below
        scratch (or below the best baseline) by more than twice the standard
        error of the difference (with one repeat: by more than 0.005).
        """
        findings = []
        for n in self.sizes:
            rows = [r for r in self.records if r["n_per_class"] == n]
            scratch = [r for r in rows if r["kind"] == "scratch"]
            baselines = [r for r in rows if r["kind"] == "baseline"]
            best_baseline = max(baselines, key=lambda r: r["mean"], default=None)
            for row in (r for r in rows if r["kind"] == "transfer"):
                for other, label in (
                    (scratch[0] if scratch else None, "training from scratch"),
                    (best_baseline, "the best baseline"),
                ):
                    if other is None:
                        continue
                    gap = row["mean"] - other["mean"]
                    noise = 2 * np.sqrt(
                        (row["std"] ** 2 + other["std"] ** 2) / self.n_repeats
                    )
                    if gap < -max(noise, 0.005):
                        beyond = (
                            f"more than the noise ({noise:.3f})"
                            if self.n_repeats > 1
                            else "on one subsample (n_repeats=1 measures no noise)"
                        )
                        findings.append(
                            f"negative transfer at {_size(n)}: {row['model']} "
                            f"({row['mean']:.3f}) is below {label} "
                            f"{other['model']} ({other['mean']:.3f}) by "
                            f"{-gap:.3f}, {beyond}."
                        )
        return findings

    def table(self) -> str:
        """Mean ± std accuracy (the accuracy, with one repeat): one row per
        size, one column per model.

        Returns
        -------
        table : str
            Lines of fixed-width text, ready to print.
        """
        models = self.models
        width = max(18, *(len(m) for m in models))
        lines = [
            f"{'labels/class':>12} | " + " | ".join(f"{m:>{width}}" for m in models)
        ]
        lines.append("-" * len(lines[0]))
        for size, *cells in self._rows():
            lines.append(f"{size:>12} | " + " | ".join(c.rjust(width) for c in cells))
        return "\n".join(lines)

    def _rows(self):
        """Per size: its label, then each model's accuracy as the table
        shows it."""
        models = self.models
        return [
            [_size(n)] + [_accuracy(self._by(n, m), self.n_repeats) for m in models]
            for n in self.sizes
        ]

    def _verdict(self):
        return self.negative_transfer or ["no negative transfer detected."]

    def __str__(self):
        return self.table() + "\n\n" + "\n".join(self._verdict())

    def _repr_html_(self):
        """The table and the findings, as Jupyter shows the curve."""
        findings = "".join(f"<p>{html.escape(line)}</p>" for line in self._verdict())
        return html_table(["labels/class", *self.models], self._rows()) + findings


def _size(n):
    return "all" if n is None else str(n)


def _accuracy(record, n_repeats):
    """``mean ± std``, or the one accuracy of a single repeat (whose spread
    is not 0 but unmeasured)."""
    if np.isnan(record["mean"]):
        return "failed"
    if n_repeats == 1:
        return f"{record['mean']:.3f}"
    return f"{record['mean']:.3f} ± {record['std']:.3f}"


def transfer_gain_curve(
    estimator: BaseEstimator,
    X: ArrayLike,
    y: ArrayLike,
    X_test: ArrayLike,
    y_test: ArrayLike,
    *,
    n_per_class: int | None | Sequence[int | None] = (1, 5, 10, 20, None),
    transfers: str | Sequence[str] | None = None,
    baselines: Mapping[str, BaseEstimator]
    | Sequence[BaseEstimator | tuple[str, BaseEstimator]]
    | BaseEstimator
    | None = None,
    n_repeats: int = 3,
    random_state: int | np.random.RandomState | None = 0,
    log: Callable[[str], None] | None = None,
    n_jobs: int | None = None,
    error_score: float | Literal["raise"] = np.nan,
) -> GainCurve:
    """Accuracy of transfer vs scratch vs baselines as labelled data grows.

    For each size in ``n_per_class`` and each repeat, a stratified, seeded
    subsample of ``(X, y)`` trains: ``estimator`` with each transfer mode,
    ``estimator`` with ``transfer="structure"`` (scratch: same architecture, no
    transferred weights), and each baseline; all are scored on ``(X_test,
    y_test)``.

    Parameters
    ----------
    estimator : sktransfer estimator with a ``transfer`` parameter
        Or a Pipeline holding one (its ``<step>__transfer`` is set, and
        ``<step>__random_state``).
    X : array-like of shape (n_samples, ...) or iterable of str
        The pool of labelled training data the subsamples are drawn from, in
        whatever form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        Labels of ``X``.
    X_test : array-like or iterable of str
        Held-out data every fit is scored on.
    y_test : array-like of shape (n_test_samples,)
        Labels of ``X_test``.
    n_per_class : tuple of int or None, default=(1, 5, 10, 20, None)
        Distinct labelled samples per class; ``None`` uses the whole pool. A
        single int (or None) is one size.
    transfers : str, tuple of str or None, default=None
        Transfer modes; ``None`` is every mode of ``estimator`` but structure
        (which the curve always fits, as scratch).
    baselines : dict, list of (name, estimator) or of estimators, or an \
estimator, default=None
        Other models, e.g. ``{"tfidf_logreg": make_pipeline(...)}``; their
        names must differ from the transfer modes' and ``"structure"``. An
        estimator given without a name is named by its class
        (``LogisticRegression``, numbered if the class comes twice).
    n_repeats : int, default=3
        Subsamples per size (the seed of repeat ``r`` is ``random_state + r``,
        also given to the estimators).
    random_state : int, RandomState instance or None, default=0
        Seeds the subsamples and the fits; repeat ``r`` uses the seed plus
        ``r``. ``None`` or a ``RandomState`` draws that seed.
    log : callable or None
        Called with one progress line per model and size (``log=print``).
    n_jobs : int or None, default=None
        Fits to run in parallel, as in scikit-learn's ``learning_curve``
        (joblib; ``-1``: all cores). Every fit is seeded, so the curve is the
        same whatever ``n_jobs``, up to float rounding: joblib's workers give
        torch fewer threads, which can sum in another order (a 2-fold
        ``cross_validate`` of SmallCNN on 200 digits: 0.84 with 2 threads,
        0.83 with 1).
    error_score : "raise" or float, default=np.nan
        The score of a fit that fails, as in scikit-learn's
        ``learning_curve``: the curve goes on, warns once
        (``FitFailedWarning``) with each distinct error, and shows the point
        as failed (with NaN, its ``mean`` is NaN; ``scores`` hold each
        repeat's). When every fit fails the curve raises, naming the errors.
        ``"raise"`` stops at the first failure. So a curve of hours is not
        lost to one size that cannot be fitted (``early_stopping=True`` at
        one sample per class).

    Returns
    -------
    GainCurve
        ``records``, ``table()``, ``negative_transfer`` and ``print``-able.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedCNNClassifier
    >>> from sktransfer.model_selection import transfer_gain_curve
    >>> X, y = load_digits(return_X_y=True)
    >>> source = FineTunedCNNClassifier(max_epochs=3, random_state=0)
    >>> source = source.fit(X[y < 5], y[y < 5])
    >>> X5, y5 = X[y >= 5], y[y >= 5]
    >>> curve = transfer_gain_curve(
    ...     FineTunedCNNClassifier(source, max_epochs=3),
    ...     X5[:400], y5[:400], X5[400:], y5[400:],
    ...     n_per_class=5, transfers="feature_extraction", n_repeats=1,
    ... )
    >>> curve.models
    ['feature_extraction', 'structure']
    >>> print(curve.table())  # doctest: +SKIP
    labels/class | feature_extraction |          structure
    ------------------------------------------------------
               5 |              0.726 |              0.204
    """
    param, owner = _transfer_param(estimator)
    if not (
        (isinstance(error_score, str) and error_score == "raise")
        or (isinstance(error_score, numbers.Real) and not isinstance(error_score, bool))
    ):
        raise ValueError(
            f"error_score must be 'raise' or a number; got {error_score!r}."
        )
    if (
        isinstance(n_repeats, bool)
        or not isinstance(n_repeats, numbers.Integral)
        or n_repeats < 1
    ):
        raise ValueError(f"n_repeats must be an integer >= 1; got {n_repeats!r}.")
    check_consistent_length(X, y)  # else the subsamples would pair them wrongly
    check_consistent_length(X_test, y_test)
    refuse_bad_labels(y, "transfer_gain_curve")  # before the subsamples
    refuse_bad_labels(y_test, "transfer_gain_curve (y_test)")
    n_per_class = _checked_sizes(n_per_class)
    transfers = _checked_transfers(owner, transfers)
    baselines = _checked_baselines(baselines)
    seed_param = param[: -len("transfer")] + "random_state"  # of the same step
    has_seed = seed_param in estimator.get_params()
    models = [(t, "transfer", estimator, {param: t}) for t in transfers]
    models.append(("structure", "scratch", estimator, {param: "structure"}))
    models += [(name, "baseline", base, {}) for name, base in baselines]
    _check_unique("model names (transfer modes, structure, baselines)", models)
    random_state = seed_from(random_state)
    groups = []  # one per (size, model): the fits of its repeats
    for n in n_per_class:
        subsamples = [
            stratified_subsample(y, n, random_state + r) for r in range(n_repeats)
        ]
        for name, kind, template, params in models:
            fits = []
            for r, idx in enumerate(subsamples):
                seed = {seed_param: random_state + r}
                own = {**params, **(seed if has_seed and kind != "baseline" else {})}
                fits.append((template, own, idx))
            groups.append((n, name, kind, fits))
    log = log or (lambda line: None)
    y = np.asarray(y)
    jobs = (  # each job gets its subsample, not the whole pool
        delayed(_fit_and_score)(
            template,
            params,
            _safe_indexing(X, idx),
            y[idx],
            X_test,
            y_test,
            error_score,
        )
        for *_, fits in groups
        for template, params, idx in fits
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    records, failures = [], []
    for done, (n, name, kind, fits) in enumerate(groups, start=1):
        scores, seconds, errors = zip(*(next(results) for _ in fits), strict=True)
        failures += [error for error in errors if error is not None]
        record = {
            "n_per_class": n,
            "model": name,
            "kind": kind,
            "scores": list(scores),
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "seconds": float(np.sum(seconds)),
        }
        records.append(record)
        log(
            f"[{done}/{len(groups)}] N={_size(n):>3} {name:<20} "
            f"accuracy={_accuracy(record, n_repeats)} "
            f"({record['seconds']:.1f}s)"
        )
    _report_failures(failures, sum(len(fits) for *_, fits in groups), error_score)
    return GainCurve(records, n_repeats)


def _fit_and_score(template, params, X, y, X_test, y_test, error_score="raise"):
    """Fit a clone of ``template`` with ``params`` on ``(X, y)``; return its
    test accuracy, the seconds fit and score took, and the error that failed
    it (``error_score`` then being the accuracy), or None."""
    start = time.perf_counter()
    model = clone(template).set_params(**params)
    try:
        with warnings.catch_warnings():
            # the curve sets transfer itself: a parameter the user set for one
            # mode is ignored by the others on purpose
            warnings.filterwarnings("ignore", IGNORED_PARAM_WARNING)
            model.fit(X, y)
        score, error = float(model.score(X_test, y_test)), None
    except Exception as exc:
        if isinstance(error_score, str):  # "raise"
            raise
        score, error = float(error_score), f"{type(exc).__name__}: {exc}"
    return score, time.perf_counter() - start, error


def _report_failures(failures, n_fits, error_score):
    """As scikit-learn's searches: raise when every fit failed, else warn
    once, each distinct error with its count."""
    if not failures:
        return
    counts = Counter(failures)
    details = "\n".join(
        f"{count} fit(s) failed with: {error}" for error, count in counts.items()
    )
    if len(failures) == n_fits:
        raise ValueError(f"All the {n_fits} fits of the curve failed.\n{details}")
    warnings.warn(
        f"{len(failures)} of the {n_fits} fits of the curve failed; their "
        f"accuracy is error_score={error_score!r}.\n{details}",
        FitFailedWarning,
        stacklevel=caller_stacklevel(),
    )


def plot_transfer_gain_curve(curve: GainCurve, ax: Any = None) -> Any:
    """Plot mean accuracy (± std) against labelled samples per class.

    Needs matplotlib (``pip install "sktransfer[plot]"``).

    Parameters
    ----------
    curve : GainCurve
        What :func:`transfer_gain_curve` returned.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on: one line per model (dashed: scratch, dotted:
        baselines), a band of ± one std.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktransfer.model_selection import GainCurve, plot_transfer_gain_curve
    >>> curve = GainCurve(
    ...     [{"n_per_class": n, "model": "fine_tune", "kind": "transfer",
    ...       "scores": [m], "mean": m, "std": 0.0, "seconds": 1.0}
    ...      for n, m in [(1, 0.5), (5, 0.8)]],
    ...     n_repeats=1,
    ... )
    >>> ax = plot_transfer_gain_curve(curve)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '5']
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'plot_transfer_gain_curve needs matplotlib: pip install "sktransfer[plot]"'
        ) from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    sizes = curve.sizes
    positions = np.arange(len(sizes))
    for model in curve.models:
        rows = [curve._by(n, model) for n in sizes]
        means = np.array([r["mean"] for r in rows])
        stds = np.array([r["std"] for r in rows])
        style = {"scratch": "--", "baseline": ":"}.get(rows[0]["kind"], "-")
        ax.plot(positions, means, style, marker="o", label=model)
        ax.fill_between(positions, means - stds, means + stds, alpha=0.15)
    ax.set_xticks(positions, [_size(n) for n in sizes])
    ax.set_xlabel("labelled samples per class")
    ax.set_ylabel("test accuracy")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
