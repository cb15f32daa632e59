import json
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import StrOptions

from sktransfer import FineTunedCNNClassifier
from sktransfer.model_selection import (
    GainCurve,
    plot_transfer_gain_curve,
    stratified_subsample,
    transfer_gain_curve,
)
from sktransfer.utils._testing import FAST_TRAINING


def test_subsampling_is_stratified_and_seeded():
    y = np.repeat(["a", "b", "c"], [10, 20, 30])
    idx = stratified_subsample(y, 4, random_state=1)
    assert sorted(np.unique(y[idx], return_counts=True)[1]) == [4, 4, 4]
    np.testing.assert_array_equal(idx, stratified_subsample(y, 4, random_state=1))
    assert not np.array_equal(idx, stratified_subsample(y, 4, random_state=2))
    np.testing.assert_array_equal(stratified_subsample(y, None, 0), np.arange(60))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 'a' has 10: enough for 10 per class
        assert len(stratified_subsample(y, 10, 0)) == 30
    with pytest.warns(UserWarning) as warned:
        assert len(stratified_subsample(y, 15, 0)) == 10 + 15 + 15
    # one warning naming every short class, not one per class
    assert [str(w.message) for w in warned] == [
        "n_per_class=15: these classes have fewer samples, all of which are "
        "used: 'a' (10)."
    ]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="integers >= 1 or None"):
            stratified_subsample(y, bad, 0)


def test_negative_transfer_is_flagged_for_a_shuffled_label_source(digits_split):
    y_shuffled = np.random.RandomState(0).permutation(digits_split["y_source"])
    bad_source = FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(
        digits_split["X_source"], y_shuffled
    )
    curve = transfer_gain_curve(
        FineTunedCNNClassifier(backbone=bad_source, **FAST_TRAINING),
        digits_split["X_pool"],
        digits_split["y_pool"],
        digits_split["X_test"],
        digits_split["y_test"],
        n_per_class=(20,),
        transfers=("feature_extraction",),
        baselines={"logreg": LogisticRegression(max_iter=2000)},
        n_repeats=2,
    )
    assert [r["model"] for r in curve.records] == [
        "feature_extraction",
        "structure",
        "logreg",
    ]
    assert all(len(r["scores"]) == 2 for r in curve.records)
    findings = curve.negative_transfer
    assert any("below training from scratch" in f for f in findings)
    assert any("below the best baseline logreg" in f for f in findings)
    text = str(curve)
    assert "negative transfer at 20: feature_extraction" in text
    # Jupyter shows the same table and findings, not the records
    html = curve._repr_html_()
    cells = curve.table().splitlines()[2].split(" | ")
    assert "<td>" + "</td><td>".join(c.strip() for c in cells) + "</td>" in html
    assert all(f"<p>{f}</p>" in html for f in findings) and "seconds" not in html


def test_a_good_source_is_not_flagged(digits_split, source_model):
    curve = transfer_gain_curve(
        FineTunedCNNClassifier(backbone=source_model, **FAST_TRAINING),
        digits_split["X_pool"],
        digits_split["y_pool"],
        digits_split["X_test"],
        digits_split["y_test"],
        n_per_class=(2,),
        transfers=("fine_tune",),
        n_repeats=3,
    )
    assert curve.negative_transfer == []
    assert "no negative transfer detected" in str(curve)


def _record(model, kind, mean, std):
    return {
        "n_per_class": 5,
        "model": model,
        "kind": kind,
        "scores": [mean],
        "mean": mean,
        "std": std,
        "seconds": 0.0,
    }


class _FirstRow(ClassifierMixin, BaseEstimator):
    """A stand-in with a ``transfer`` parameter whose score is the id in the
    first training row: which rows a fit got shows in the curve."""

    _parameter_constraints = {"transfer": [StrOptions({"copy", "structure"})]}

    def __init__(self, transfer="copy", random_state=None):
        self.transfer = transfer
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_, self.first_ = np.unique(y), float(X[0, 0])
        return self

    def score(self, X, y):
        return self.first_


class _NoOptions(_FirstRow):
    _parameter_constraints = {}


def test_each_repeat_draws_its_own_subsample_for_every_model():
    X, y = np.arange(60.0)[:, None], np.repeat([0, 1, 2], 20)
    curve = transfer_gain_curve(_FirstRow(), X, y, X, y, n_per_class=2, n_repeats=4)
    copy, structure = (r["scores"] for r in curve.records)
    assert copy == structure  # the same rows for every model in a repeat
    assert len(set(copy)) > 1  # other rows in other repeats
    assert all(r["seconds"] > 0 for r in curve.records)
    with pytest.raises(TypeError, match="has no 'transfer' options; pass transfers="):
        transfer_gain_curve(_NoOptions(), X, y, X, y, n_per_class=2)
    curve = transfer_gain_curve(_NoOptions(), X, y, X, y, transfers="copy")
    assert curve.models == ["copy", "structure"]


def test_baselines_given_without_names_are_named_by_their_class():
    X, y = np.arange(60.0)[:, None], np.repeat([0, 1, 2], 20)

    def models(baselines):
        curve = transfer_gain_curve(
            _FirstRow(), X, y, X, y, n_per_class=2, n_repeats=1, baselines=baselines
        )
        return curve.models

    assert models(_NoOptions()) == ["copy", "structure", "_NoOptions"]
    assert models([_NoOptions(), ("mine", _NoOptions()), _NoOptions()]) == [
        "copy",
        "structure",
        "_NoOptions #1",
        "mine",
        "_NoOptions #2",
    ]
    assert models({"mine": _NoOptions()}) == ["copy", "structure", "mine"]
    for bad in (["logreg"], {"mine": "logreg"}, [(1, _NoOptions())], 5):
        with pytest.raises(TypeError, match="is none of these"):
            models(bad)


def test_a_test_set_of_mismatched_lengths_is_refused_before_any_fit(monkeypatch):
    fits = []
    monkeypatch.setattr(_FirstRow, "fit", lambda self, X, y: fits.append(1))
    X, y = np.arange(60.0)[:, None], np.repeat([0, 1, 2], 20)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        transfer_gain_curve(_FirstRow(), X, y, X[:10], y[:9], n_per_class=2)
    assert fits == []


def test_the_curve_sets_transfer_without_warning_about_other_modes(digits_split):
    # trainable_blocks is for transfer="partial": the curve fits other modes
    # on purpose, so the warning it would give each fit is left out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transfer_gain_curve(
            FineTunedCNNClassifier(trainable_blocks=2, **FAST_TRAINING),
            digits_split["X_pool"],
            digits_split["y_pool"],
            digits_split["X_test"][:20],
            digits_split["y_test"][:20],
            n_per_class=1,
            transfers="fine_tune",
            n_repeats=1,
        )


def test_transfer_is_compared_with_the_best_baseline():
    curve = GainCurve(
        [
            _record("fine_tune", "transfer", 0.80, 0.0),
            _record("structure", "scratch", 0.70, 0.0),
            _record("weak", "baseline", 0.50, 0.0),
            _record("a_strong_baseline_with_a_long_name", "baseline", 0.90, 0.0),
        ],
        n_repeats=1,
    )
    (finding,) = curve.negative_transfer
    assert "below the best baseline a_strong_baseline_with_a_long_name" in finding
    # a name longer than the column width widens every column alike
    lines = curve.table().splitlines()
    assert len({len(line) for line in lines}) == 1
    header, _, row = lines
    bars = [[i for i, c in enumerate(line) if c == "|"] for line in (header, row)]
    assert bars[0] == bars[1] and len(bars[0]) == 4


def test_the_plot_draws_each_kind_of_model_its_own_way():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    curve = GainCurve(
        [
            _record("fine_tune", "transfer", 0.8, 0.05),
            _record("structure", "scratch", 0.7, 0.05),
            _record("logreg", "baseline", 0.6, 0.05),
        ],
        n_repeats=3,
    )
    ax = plot_transfer_gain_curve(curve)
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--", ":"]
    assert len(ax.collections) == 3  # a band of +- one std per model
    assert [t.get_text() for t in ax.get_legend().get_texts()] == curve.models


def test_negative_transfer_is_a_loss_beyond_twice_the_standard_error():
    # 4 repeats, stds 0.02: the difference's standard error is 0.014
    curve = GainCurve(
        [
            _record("structure", "scratch", 0.80, 0.02),
            _record("within_noise", "transfer", 0.775, 0.02),  # gap 0.025
            _record("beyond_noise", "transfer", 0.77, 0.02),  # gap 0.030
        ],
        n_repeats=4,
    )
    assert [f.split(":")[1].split()[0] for f in curve.negative_transfer] == [
        "beyond_noise"
    ]
    assert "by 0.030, more than the noise (0.028)" in curve.negative_transfer[0]
    # one repeat has no spread: a loss counts from 0.005
    curve = GainCurve(
        [
            _record("structure", "scratch", 0.80, 0.0),
            _record("tiny_loss", "transfer", 0.797, 0.0),
            _record("real_loss", "transfer", 0.79, 0.0),
        ],
        n_repeats=1,
    )
    assert [f.split(":")[1].split()[0] for f in curve.negative_transfer] == [
        "real_loss"
    ]
    # ... and says so, not "more than the noise (0.000)"; its table shows the
    # accuracies alone, not "± 0.000"
    assert curve.negative_transfer[0].endswith(
        "by 0.010, on one subsample (n_repeats=1 measures no noise)."
    )
    assert "±" not in curve.table() and "0.797" in curve.table()


def test_default_transfers_and_plot(digits_split, source_model):
    curve = transfer_gain_curve(
        FineTunedCNNClassifier(
            backbone=source_model, **{**FAST_TRAINING, "max_epochs": 1}
        ),
        digits_split["X_pool"],
        digits_split["y_pool"],
        digits_split["X_test"][:50],
        digits_split["y_test"][:50],
        n_per_class=(1,),
        n_repeats=1,
    )
    assert curve.models == [
        "feature_extraction",
        "fine_tune",
        "gradual",
        "partial",
        "structure",
    ]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = plot_transfer_gain_curve(curve)
    assert len(ax.lines) == 5 and ax.get_xlabel() == "labelled samples per class"


def test_a_size_that_cannot_be_fitted_fails_alone(digits_split, source_model):
    # early stopping cannot hold out one of a single sample per class: the
    # whole curve used to stop there; now that size shows as failed, warned,
    # as in scikit-learn's learning_curve (error_score=np.nan)
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    estimator = FineTunedCNNClassifier(
        source_model, early_stopping=True, **{**FAST_TRAINING, "max_epochs": 2}
    )
    arguments = {
        "n_per_class": (1, 3),
        "transfers": "fine_tune",
        "baselines": {"logreg": LogisticRegression(max_iter=200)},
        "n_repeats": 2,
    }
    X_test, y_test = digits_split["X_test"][:100], digits_split["y_test"][:100]
    with pytest.warns(FitFailedWarning, match="4 of the 12 fits") as caught:
        curve = transfer_gain_curve(estimator, X, y, X_test, y_test, **arguments)
    (warning,) = [w for w in caught if w.category is FitFailedWarning]
    assert warning.filename == __file__
    assert "4 fit(s) failed with: ValueError: early_stopping holds out" in str(
        warning.message
    )
    one = {r["model"]: r for r in curve.records if r["n_per_class"] == 1}
    assert np.isnan(one["fine_tune"]["scores"]).all()
    assert np.isnan(one["structure"]["mean"])
    assert one["logreg"]["mean"] > 0.5  # a baseline without early stopping fits
    three = [r for r in curve.records if r["n_per_class"] == 3]
    assert all(np.isfinite(r["scores"]).all() for r in three)
    assert curve.table().splitlines()[2].split("|")[1].strip() == "failed"
    with pytest.raises(ValueError, match="early_stopping holds out"):
        transfer_gain_curve(
            estimator, X, y, X_test, y_test, error_score="raise", **arguments
        )
    with pytest.raises(ValueError, match="All the 4 fits of the curve failed"):
        transfer_gain_curve(
            estimator,
            X,
            y,
            X_test,
            y_test,
            **{**arguments, "n_per_class": 1, "baselines": None},
        )
    with pytest.raises(ValueError, match="error_score must be 'raise' or a number"):
        transfer_gain_curve(estimator, X, y, X_test, y_test, error_score="nan")


def test_bad_arguments(digits_split):
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    with pytest.raises(TypeError, match="'transfer' parameter"):
        transfer_gain_curve(LogisticRegression(), X, y, X, y)
    named = y.astype(str).astype(object)
    named[7] = None  # before any subsample is drawn, whose np.unique fails
    with pytest.raises(ValueError, match=r"curve: y holds 1 missing label\(s\)"):
        transfer_gain_curve(FineTunedCNNClassifier(), X, named, X, y)
    with pytest.raises(ValueError, match="n_repeats"):
        transfer_gain_curve(FineTunedCNNClassifier(), X, y, X, y, n_repeats=0)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"n_repeats": 1.5}, "n_repeats must be an integer >= 1; got 1.5"),
        ({"n_per_class": ()}, "n_per_class is empty"),
        ({"n_per_class": (5, 5)}, "sizes must be distinct; repeated: 5"),
        ({"transfers": ()}, "transfers is empty"),
        ({"transfers": ("fine_tune", "structure")}, "always fits as the scratch"),
        ({"transfers": ("fine-tune",)}, r"Unknown transfer modes \['fine-tune'\]"),
        (
            {"baselines": {"fine_tune": LogisticRegression()}},
            "names .* must be distinct; repeated: 'fine_tune'",
        ),
    ],
)
def test_arguments_that_would_lose_a_row_or_column(digits_split, arguments, match):
    """Repeated sizes or names overwrote each other in the table; now refused,
    before any fit."""
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    with pytest.raises(ValueError, match=match):
        transfer_gain_curve(
            FineTunedCNNClassifier(),
            X,
            y,
            X,
            y,
            **{"transfers": "fine_tune", **arguments},
        )


def test_scalar_arguments_and_any_random_state(digits_split):
    """A single size and a single mode need no tuple; random_state is any
    scikit-learn seed, as in learning_curve."""
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    for random_state in (None, np.random.RandomState(0), np.int64(3)):
        curve = transfer_gain_curve(
            FineTunedCNNClassifier(**{**FAST_TRAINING, "max_epochs": 1}),
            X,
            y,
            X[:50],
            y[:50],
            n_per_class=2,
            transfers="fine_tune",
            n_repeats=1,
            random_state=random_state,
        )
        assert curve.sizes == [2] and curve.models == ["fine_tune", "structure"]


def test_sizes_given_as_an_array_give_records_json_can_write(digits_split):
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    curve = transfer_gain_curve(
        FineTunedCNNClassifier(**{**FAST_TRAINING, "max_epochs": 1}),
        X,
        y,
        X[:50],
        y[:50],
        n_per_class=np.array([1, 2]),  # as np.arange or a grid would give them
        transfers="fine_tune",
        n_repeats=1,
    )
    assert curve.sizes == [1, 2] and all(type(n) is int for n in curve.sizes)
    assert json.loads(json.dumps(curve.records))[0]["n_per_class"] == 1


def test_parallel_fits_give_the_same_curve(digits_split, source_model):
    def curve(n_jobs, lines):
        return transfer_gain_curve(
            FineTunedCNNClassifier(backbone=source_model, **FAST_TRAINING),
            digits_split["X_pool"],
            digits_split["y_pool"],
            digits_split["X_test"][:200],
            digits_split["y_test"][:200],
            n_per_class=(2, 5),
            transfers=("fine_tune",),
            baselines={"logreg": LogisticRegression(max_iter=500)},
            n_repeats=2,
            log=lines.append,
            n_jobs=n_jobs,
        )

    lines_1, lines_2 = [], []
    one, two = curve(None, lines_1), curve(2, lines_2)
    assert [r["model"] for r in two.records] == ["fine_tune", "structure", "logreg"] * 2
    for a, b in zip(one.records, two.records, strict=True):
        assert (a["n_per_class"], a["model"]) == (b["n_per_class"], b["model"])
        assert a["scores"] == b["scores"]  # seeded fits: the same in a worker
    # progress: one line per model and size, in order
    assert [line.split("]")[0] for line in lines_2] == [f"[{i}/6" for i in range(1, 7)]
    assert "N=  5 logreg" in lines_2[-1]


def test_a_pipeline_holding_the_transfer_estimator(digits_split, source_model):
    # a preprocessing step before the estimator: the curve sets its step's
    # transfer (not the fitted source's own backbone__transfer) and seed
    X, y = digits_split["X_pool"], digits_split["y_pool"]
    X_test, y_test = digits_split["X_test"][:200], digits_split["y_test"][:200]
    estimator = FineTunedCNNClassifier(backbone=source_model, **FAST_TRAINING)
    pipeline = make_pipeline(FunctionTransformer(), clone(estimator))
    arguments = dict(n_per_class=(3,), transfers=("fine_tune",), n_repeats=2)
    piped = transfer_gain_curve(pipeline, X, y, X_test, y_test, **arguments)
    plain = transfer_gain_curve(estimator, X, y, X_test, y_test, **arguments)
    assert [r["model"] for r in piped.records] == ["fine_tune", "structure"]
    for a, b in zip(piped.records, plain.records, strict=True):
        assert a["scores"] == b["scores"]  # the same seeded fits
    assert piped.records[0]["scores"] != piped.records[1]["scores"]
    with pytest.raises(TypeError, match="or a Pipeline holding one"):
        transfer_gain_curve(make_pipeline(LogisticRegression()), X, y, X, y)
