"""The shared estimator base: parameters a transfer mode ignores, class weights."""

import pickle
import warnings

import numpy as np
import pytest
import torch

from sktransfer import (
    FineTunedCNNClassifier,
    FineTunedTransformerClassifier,
    PretrainedEmbeddingClassifier,
)
from sktransfer._base import TransferEstimatorBase
from sktransfer.model_selection import transfer_gain_curve


def test_a_parameter_the_mode_ignores_is_reported(digits, fast):
    X, y = digits[0][:60], digits[1][:60]
    clf = FineTunedCNNClassifier(transfer="fine_tune", trainable_blocks=2, **fast)
    with pytest.warns(UserWarning, match="trainable_blocks=2 has no effect with ") as w:
        clf.fit(X, y)
    assert "only transfer='partial' uses it" in str(w[0].message)
    assert w[0].filename == __file__  # points at the caller of fit
    clf = FineTunedCNNClassifier(transfer="structure", backbone_lr_scale=0.1, **fast)
    with pytest.warns(UserWarning, match=r"transfer in \('fine_tune', 'partial'"):
        clf.fit(X, y)


def test_defaults_and_the_modes_that_use_a_parameter_are_quiet(digits, fast):
    X, y = digits[0][:60], digits[1][:60]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FineTunedCNNClassifier(transfer="structure", **fast).fit(X, y)
        FineTunedCNNClassifier(
            transfer="partial", trainable_blocks=2, backbone_lr_scale=0.1, **fast
        ).fit(X, y)
        # an explicit default is a default: nothing to report
        FineTunedCNNClassifier(transfer="fine_tune", trainable_blocks=1, **fast).fit(
            X, y
        )


def test_every_classifier_with_modes_reports_them(glove):
    text = PretrainedEmbeddingClassifier(glove, transfer="frozen", unfreeze_epoch=2)
    with pytest.warns(UserWarning, match="unfreeze_epoch=2 has no effect"):
        text.set_params(max_epochs=1, device="cpu").fit(["good", "bad"], [0, 1])
    # not only the transfer mode: min_df counts only where OOV words get vectors
    text = PretrainedEmbeddingClassifier(glove, min_df=3, max_epochs=1, device="cpu")
    with pytest.warns(UserWarning, match="min_df=3 has no effect with oov='ignore'"):
        text.fit(["good", "bad"], [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text.set_params(oov="zero").fit(["good", "bad"], [0, 1])
    # random vectors for every word: no pretrained one for unseen words either
    scratch = text.set_params(transfer="structure", unseen_words="ignore")
    with pytest.warns(UserWarning, match="unseen_words='ignore' has no effect"):
        scratch._warn_ignored_params()
    transformer = FineTunedTransformerClassifier(transfer="frozen", trainable_layers=4)
    with pytest.warns(UserWarning, match="trainable_layers=4 has no effect"):
        transformer._warn_ignored_params()
    fine = FineTunedTransformerClassifier(transfer="fine_tune", backbone_lr_scale=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine._warn_ignored_params()


def test_the_gain_curve_sets_transfer_itself_quietly(digits, fast):
    X, y = digits
    partial = FineTunedCNNClassifier(transfer="partial", trainable_blocks=2, **fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = transfer_gain_curve(
            partial,
            X[:300],
            y[:300],
            X[300:400],
            y[300:400],
            n_per_class=(3,),
            transfers=("partial", "fine_tune"),
        )
    assert [r["model"] for r in curve.records] == ["partial", "fine_tune", "structure"]
    assert all(np.isfinite(r["mean"]) for r in curve.records)


@pytest.fixture
def held_out(monkeypatch):
    """The validation labels of each fit, as it split them off."""
    labels = []
    split = TransferEstimatorBase._split_validation

    def recording(self, X, y, seed):
        X_train, y_train, valid = split(self, X, y, seed)
        labels.append(valid[1])
        return X_train, y_train, valid

    monkeypatch.setattr(TransferEstimatorBase, "_split_validation", recording)
    return labels


def test_early_stopping_never_holds_out_a_class_s_only_sample(digits, fast, held_out):
    # two labelled digits per class but one of a single sample: 2 of 19 held
    # out, too few to stratify; a random draw could take the single nine,
    # which the model then never learned
    X, y = digits
    idx = np.concatenate(
        [np.flatnonzero(y == c)[: 1 if c == 9 else 2] for c in range(10)]
    )
    settings = {**fast, "max_epochs": 1, "early_stopping": True}
    for seed in range(20):
        FineTunedCNNClassifier(**settings, random_state=seed).fit(X[idx], y[idx])
        valid = held_out[-1]
        assert len(valid) == 2 and 9 not in valid.tolist()
    # 90 % held out of 4 classes of 8: too few left to train to stratify (a
    # bare "train_size = 3 should be greater or equal to the number of
    # classes" from scikit-learn); training keeps one sample of each class
    idx = np.concatenate([np.flatnonzero(y == c)[:8] for c in range(4)])
    FineTunedCNNClassifier(**settings, validation_fraction=0.9, random_state=0).fit(
        X[idx], y[idx]
    )
    valid = held_out[-1]
    assert len(valid) == 28 and np.bincount(valid).tolist() == [7, 7, 7, 7]
    # one sample of every class: nothing can be held out
    with pytest.raises(ValueError, match="every class has a single sample"):
        FineTunedCNNClassifier(**settings).fit(X[:10], y[:10])


def _rare_nines(digits):
    """Digits as 'nine' vs 'other', with about one nine in seventy in training."""
    X, y = digits
    rng = np.random.RandomState(0)
    keep = (y != 9) | (rng.rand(len(y)) < 0.15)
    label = np.where(y == 9, "nine", "other")
    train = np.flatnonzero(keep)[:800]
    test = np.setdiff1d(np.arange(len(y)), train)
    return X[train], label[train], X[test], label[test]


def test_class_weight_balanced_finds_more_of_a_rare_class(digits):
    from sklearn.metrics import recall_score
    from sklearn.utils.class_weight import compute_class_weight

    X, y, X_test, y_test = _rare_nines(digits)
    assert (y == "nine").sum() < 20
    recalls = {}
    for class_weight in (None, "balanced", {"nine": 5.0}):
        clf = FineTunedCNNClassifier(
            class_weight=class_weight, max_epochs=10, device="cpu", random_state=0
        ).fit(X, y)
        weight = clf.net_.criterion_.weight
        recalls[str(class_weight)] = recall_score(
            y_test, clf.predict(X_test), pos_label="nine"
        )
        if class_weight is None:
            assert weight is None
        elif class_weight == "balanced":
            expected = compute_class_weight("balanced", classes=clf.classes_, y=y)
            np.testing.assert_allclose(weight.numpy(), expected, rtol=1e-6)
        else:
            assert weight.tolist() == [5.0, 1.0]  # classes sorted: nine, other
    # measured: 0.83 unweighted, 0.89 balanced, 0.86 with weight 5
    assert recalls["balanced"] > recalls["None"] + 0.03, recalls
    assert recalls["{'nine': 5.0}"] > recalls["None"], recalls


def test_class_weight_reaches_every_classifier(glove):
    text = PretrainedEmbeddingClassifier(
        glove, class_weight="balanced", max_epochs=1, device="cpu"
    ).fit(["good", "good film", "bad"], ["pos", "pos", "neg"])
    np.testing.assert_allclose(text.net_.criterion_.weight.numpy(), [1.5, 0.75])
    assert "class_weight" in FineTunedTransformerClassifier().get_params()


@pytest.mark.parametrize(
    "settings",
    [
        {"transfer": "fine_tune"},  # autograd
        {"transfer": "feature_extraction", "optimizer": "adamw"},  # closed form
    ],
)
def test_a_batch_of_classes_weighted_0_alone_leaves_the_weights(digits, settings):
    # their weighted mean loss is 0 / 0: torch's CrossEntropyLoss gives NaN,
    # and the fit ended as "diverged" (here 1 batch of 2 in 10 has no "other")
    X, y, X_test, y_test = _rare_nines(digits)
    label = np.where(y == "nine", "nine", np.where(X[:, 20] > 8, "other", "rest"))
    X, label = X[:200], label[:200]
    clf = FineTunedCNNClassifier(
        class_weight={"rest": 0.0},
        batch_size=2,
        max_epochs=2,
        device="cpu",
        random_state=0,
        **settings,
    ).fit(X, label)
    assert np.isfinite(clf.net_.history[:, "train_loss"]).all()
    # the weight-0 class taught nothing: its samples are called something else
    assert (clf.predict(X[label == "rest"]) != "rest").mean() > 0.8
    criterion = clf.net_.criterion_
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 1, 2, 0, 1])
    expected = torch.nn.functional.cross_entropy(
        logits, target, weight=criterion.weight
    )
    assert criterion(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    rest = list(clf.classes_).index("rest")
    assert criterion(logits, torch.full((6,), rest)).item() == 0.0


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({"nien": 2.0}, r"not classes of y: \['nien'\]; the classes are"),
        ({"nine": -1.0}, "finite numbers >= 0"),
        ({"nine": float("nan")}, "finite numbers >= 0"),
        ({"nine": float("inf")}, "finite numbers >= 0"),
        ({"nine": 0, "other": 0.0}, "every class weight 0"),
    ],
)
def test_class_weight_errors(digits, class_weight, match):
    X, y, _, _ = _rare_nines(digits)
    clf = FineTunedCNNClassifier(class_weight=class_weight, max_epochs=1, device="cpu")
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_a_failed_refit_of_a_transformer_or_zero_shot_keeps_the_previous_model(
    glove, digits
):
    from gensim.models import KeyedVectors

    from sktransfer import (
        EmbeddingVectorizer,
        PretrainedFeatureExtractor,
        ZeroShotClassifier,
    )

    texts = ["the film was good", "the plot was bad", "a good plot"]
    zero = ZeroShotClassifier(EmbeddingVectorizer(glove)).fit(None, ["good", "bad"])
    state = dict(vars(zero))
    with pytest.raises(ValueError, match="has no '{}'"):  # after classes_ is set
        zero.set_params(template="no slot").fit(None, ["cars", "guns", "food"])
    assert vars(zero).keys() == state.keys()
    assert all(vars(zero)[k] is v for k, v in state.items() if k != "template")

    broken = KeyedVectors(vector_size=50)
    broken.add_vectors(["the", "film"], np.full((2, 50), np.nan, dtype=np.float32))
    vectorizer = EmbeddingVectorizer(glove, weighting="sif").fit(texts)
    df = vectorizer.df_
    with pytest.raises(ValueError, match="NaN or infinite"):  # after df_ is set
        vectorizer.set_params(embeddings=broken).fit(texts)
    assert vectorizer.df_ is df

    X = digits[0][:20]
    extractor = PretrainedFeatureExtractor(device="cpu").fit(X)
    net = extractor.net_
    with pytest.raises(ValueError, match="must map images to one tensor"):
        extractor.set_params(backbone=torch.nn.Flatten(0)).fit(X)
    assert extractor.net_ is net


def test_log_probabilities_stay_finite_where_probabilities_underflow(digits, fast):
    """predict_log_proba comes from the logits: where a probability is 0.0 in
    float64 its log is a finite number, not -inf (as np.log(predict_proba))."""
    X, y = digits
    clf = FineTunedCNNClassifier(**fast).fit(X[:200], y[:200])
    with torch.no_grad():
        clf.net_.module_.head[-1].weight.mul_(1e4)  # logits ~1e4 apart
    proba, log_proba = clf.predict_proba(X[200:260]), clf.predict_log_proba(X[200:260])
    assert (proba == 0).any() and np.isfinite(log_proba).all()
    np.testing.assert_allclose(np.exp(log_proba), proba, atol=1e-12)
    np.testing.assert_array_equal(
        clf.predict(X[200:260]), clf.classes_[log_proba.argmax(axis=1)]
    )


def test_a_diverged_fit_is_refused_and_keeps_the_previous_model(tmp_path, digits):
    """SGD at lr=1e6 turns the weights into NaN: the model would answer NaN
    probabilities and one class for everything. fit says so, keeps the model
    it had, and leaves no checkpoint to resume."""
    X, y = digits[0][:100], digits[1][:100]
    clf = FineTunedCNNClassifier(
        optimizer="sgd",
        lr=0.01,
        max_epochs=2,
        device="cpu",
        random_state=0,
        checkpoint_dir=tmp_path,
    ).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(
        ValueError,
        match=r"training diverged: after 2 epoch\(s\) the weights \['backbone\.",
    ) as error:
        clf.set_params(lr=1e6).fit(X, y)
    assert "Lower lr (now 1000000.0)" in str(error.value)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("label, shown", [("a", "('a')"), (5, "(5)")])
def test_a_single_class_is_named_as_the_user_wrote_it(label, shown):
    from sktransfer._base import encode_labels

    y = np.array([label] * 3)  # numpy scalars: np.str_('a'), np.int64(5)
    with pytest.raises(ValueError, match="only one class") as info:
        encode_labels(FineTunedCNNClassifier(), y)
    assert str(info.value).endswith(f"only one class {shown}.")


def test_the_early_stopping_split_is_stratified(digits, fast, held_out):
    # 10 validation images of 100, 10 per class: each class once, so the
    # validation loss sees every class (a random draw would miss some)
    X, y = digits
    idx = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(10)])
    FineTunedCNNClassifier(
        early_stopping=True, validation_fraction=0.1, **{**fast, "max_epochs": 1}
    ).fit(X[idx], y[idx])
    assert sorted(held_out[-1].tolist()) == list(range(10))
    # ceil: 5 % of 10 samples is one validation sample, not none
    FineTunedCNNClassifier(
        early_stopping=True, validation_fraction=0.05, **{**fast, "max_epochs": 1}
    ).fit(X[:10], y[:10] % 2)
    assert len(held_out[-1]) == 1


def test_a_fitted_model_does_not_keep_its_validation_samples(digits, fast):
    # pickled with them, a model carried a tenth of its training images
    X, y = digits
    sizes = {}
    for early_stopping in (False, True):
        clf = FineTunedCNNClassifier(
            early_stopping=early_stopping, **{**fast, "max_epochs": 2}
        ).fit(X[:600], y[:600])
        sizes[early_stopping] = len(pickle.dumps(clf))
    assert len(clf.net_.history) == 2 and "valid_loss" in clf.net_.history[-1]
    assert sizes[True] < sizes[False] + X[:60].nbytes / 4
    assert clf.score(X[600:], y[600:]) > 0.2


def test_epochs_and_losses_read_as_mlp_classifier_s(digits, stops_early, glove):
    X, y = digits[0][:300], digits[1][:300]
    clf = FineTunedCNNClassifier(**stops_early)
    assert not hasattr(clf, "n_iter_") and not hasattr(clf, "loss_curve_")
    clf.fit(X, y)
    history = clf.net_.history
    assert 1 < clf.n_iter_ == len(history) < stops_early["max_epochs"]
    np.testing.assert_allclose(clf.loss_curve_, history[:, "train_loss"])
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 2
    # the linear probe ends when L-BFGS converges; saved models keep both
    probe = FineTunedCNNClassifier(
        backbone=clf, transfer="feature_extraction", max_epochs=100, device="cpu"
    ).fit(X, y)
    assert 1 < probe.n_iter_ < 100
    back = pickle.loads(pickle.dumps(probe))
    assert (back.n_iter_, back.loss_curve_) == (probe.n_iter_, probe.loss_curve_)
    text = PretrainedEmbeddingClassifier(glove, max_epochs=3, device="cpu")
    text.fit(["good", "good film", "bad"], ["pos", "pos", "neg"])
    assert text.n_iter_ == 3 and len(text.loss_curve_) == 3


def test_sources_are_compared_by_name_or_identity_never_by_tensors():
    from sktransfer._base import _same_source

    weights = {"w": torch.zeros(3)}
    assert _same_source(("small_cnn", weights), ("small_cnn", weights))
    # an equal copy is another source (== on tensors would be ambiguous)
    assert not _same_source(("small_cnn", weights), ("small_cnn", dict(weights)))
    assert _same_source("glove.txt", "glove.txt")
    assert not _same_source("glove.txt", "other.txt")
