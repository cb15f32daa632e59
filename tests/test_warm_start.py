"""warm_start=True: a second fit goes on from the fitted model's weights."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer._nn import Standardize
from sktransfer.model_selection import stratified_subsample
from sktransfer.utils._testing import FAST_PROBE, FAST_TRAINING, Epochs

STILL = {"optimizer": "adamw", "lr": 1e-9, "max_epochs": 1}
"""A fit that moves no weight measurably: what it started from shows."""


@pytest.fixture(scope="module")
def target(digits_split):
    """Digits 5-9, 10 labelled images per class, and the test half."""
    idx = stratified_subsample(digits_split["y_pool"], 10, 0)
    X, y = digits_split["X_pool"][idx], digits_split["y_pool"][idx]
    return X, y, digits_split["X_test"], digits_split["y_test"]


@pytest.mark.parametrize("first", ["feature_extraction", "fine_tune"])
def test_a_warm_fit_starts_where_the_fitted_model_is(source_model, target, first):
    X, y, X_test, _ = target
    settings = FAST_PROBE if first == "feature_extraction" else FAST_TRAINING
    clf = FineTunedCNNClassifier(source_model, first, random_state=0, **settings)
    proba = clf.fit(X, y).predict_proba(X_test)
    # after fine_tune the head has trained on raw features: behind the
    # Standardize of feature extraction it takes the inverse, and computes
    # what it did
    clf.set_params(transfer="feature_extraction", warm_start=True, **STILL)
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X_test), proba, atol=1e-5)
    head = clf.net_.module_.head
    assert isinstance(head[0], Standardize) and not isinstance(head[1][0], Standardize)
    cold = clone(clf).set_params(warm_start=False).fit(X, y)
    assert np.abs(cold.predict_proba(X_test) - proba).max() > 0.1


def test_feature_extraction_then_fine_tuning(source_model, target):
    """The two stages of fastai's fine_tune, as two fits: the head first on
    the frozen source, then everything, from there."""
    X, y, X_test, y_test = target
    clf = FineTunedCNNClassifier(
        source_model, "feature_extraction", random_state=0, **FAST_PROBE
    ).fit(X, y)
    probe = clf.score(X_test, y_test)
    clf.set_params(transfer="fine_tune", warm_start=True, lr=1e-2).fit(X, y)
    cold = FineTunedCNNClassifier(
        source_model, "fine_tune", random_state=0, **FAST_TRAINING
    ).fit(X, y)
    # the first batch starts from the trained head, not from a new one (whose
    # loss is about log(5)); measured 0.78 against 1.58: not the probe's 0.30,
    # since BatchNorm now normalizes by each batch's statistics
    assert _first_batch_loss(clf) < 0.7 * _first_batch_loss(cold)
    assert clf.n_iter_ == len(clf.loss_curve_) == 15  # this fit's epochs
    assert clf.score(X_test, y_test) > probe + 0.05  # 0.78 -> 0.95 measured
    assert clf.backbone is source_model  # the source is left as it was
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        again.predict_proba(X_test), clf.predict_proba(X_test)
    )


def test_warm_start_before_a_first_fit_is_a_fit_from_the_source(source_model, target):
    X, y, X_test, _ = target
    params = {"random_state": 0, **FAST_TRAINING}
    warm = FineTunedCNNClassifier(source_model, warm_start=True, **params).fit(X, y)
    cold = FineTunedCNNClassifier(source_model, **params).fit(X, y)
    np.testing.assert_array_equal(
        warm.predict_proba(X_test), cold.predict_proba(X_test)
    )


def test_a_refused_warm_fit_leaves_the_model_as_it_was(target):
    X, y, X_test, _ = target
    clf = FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(X, y)
    proba = clf.predict_proba(X_test)
    clf.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r"whose classes are \[5, 6, 7, 8, 9\]"):
        clf.fit(X, y - 5)
    colour = np.repeat(X.reshape(-1, 1, 8, 8), 3, axis=1)
    with pytest.raises(ValueError, match=r"backbone.block1.0.weight \(32, 1, 3, 3\)"):
        clf.fit(colour, y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)
    assert clf.classes_.tolist() == [5, 6, 7, 8, 9] and clf.n_features_in_ == 64


def test_a_warm_fit_keeps_the_pixel_scale_and_warns_of_images_off_it(target):
    X, y, _, _ = target
    clf = FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(X, y)
    assert clf.pixel_scale_ == 16  # digits' largest value
    clf.set_params(warm_start=True, max_epochs=1)
    with pytest.warns(UserWarning, match=r"largest pixel value is 256.*=16 "):
        clf.fit(X * 16, y)
    assert clf.pixel_scale_ == 16 and clf.net_.module_.preprocess.scale == 1 / 16


def test_a_warm_fit_resumes_a_checkpoint_only_from_the_same_weights(tmp_path, target):
    X, y, X_test, _ = target
    params = {"random_state": 0, "checkpoint_dir": tmp_path, **FAST_TRAINING}
    clf = FineTunedCNNClassifier(**params).fit(X, y)
    straight = copy.deepcopy(clf).set_params(warm_start=True, checkpoint_dir=None)
    straight.fit(X, y)
    clf.set_params(warm_start=True, callbacks=[Epochs(cut=2)])
    with pytest.raises(RuntimeError, match="power cut"):
        clf.fit(X, y)
    assert len(list(tmp_path.glob("checkpoint-*"))) == 1
    # a fit from other weights (another seed's) goes its own way...
    other = FineTunedCNNClassifier(**{**params, "random_state": 1}).fit(X, y)
    other.set_params(warm_start=True, random_state=0, callbacks=[Epochs()]).fit(X, y)
    assert _epochs_run(other) == 15 and len(list(tmp_path.glob("checkpoint-*"))) == 1
    # ...the interrupted one resumes from its last checkpoint (the cut came
    # before the second epoch's), and ends where it would have
    clf.set_params(callbacks=[Epochs()]).fit(X, y)
    assert _epochs_run(clf) == 14 and not list(tmp_path.glob("checkpoint-*"))
    np.testing.assert_array_equal(
        clf.predict_proba(X_test), straight.predict_proba(X_test)
    )


def _epochs_run(clf):
    return dict(clf.net_.callbacks_)["user_callback_0"].run


def _first_batch_loss(clf):
    return clf.net_.history[0, "batches"][0]["train_loss"]


def _table(clf):
    return clf.net_.module_.backbone.weight.detach().clone()


def test_text_keeps_the_vectors_it_trained_and_reads_new_words_from_the_source(
    glove, news
):
    X, y = news["X"], news["y"]
    params = {"max_epochs": 15, "lr": 1e-2, "device": "cpu", "random_state": 0}
    clf = PretrainedEmbeddingClassifier(glove, "fine_tune", **params)
    clf.fit(X[::2], y[::2])
    proba = clf.predict_proba(news["X_test"])
    before, trained = dict(clf.vocabulary_), _table(clf)
    clf.set_params(transfer="frozen", warm_start=True, **STILL)
    np.testing.assert_allclose(
        clf.fit(X[::2], y[::2]).predict_proba(news["X_test"]), proba, atol=1e-5
    )
    clf.set_params(transfer="fine_tune").fit(X[1::2], y[1::2])  # other documents
    table = _table(clf)
    # every word it knew, whether the new documents hold it or not, keeps
    # the vector it trained; the words new to this fit have GloVe's
    shared = list(before)
    new = [w for w in clf.vocabulary_ if w not in before]
    assert set(shared) <= set(clf.vocabulary_) and len(new) > 500
    absent = set(shared) - {t for doc in X[1::2] for t in clf.tokenizer_(doc)}
    assert len(absent) > 500
    rows, rows_before = (
        [clf.vocabulary_[w] for w in shared],
        [before[w] for w in shared],
    )
    torch.testing.assert_close(table[rows], trained[rows_before], rtol=0, atol=1e-6)
    glove_rows = torch.from_numpy(np.stack([glove[w] for w in shared]))
    assert (trained[rows_before] - glove_rows).abs().max() > 0.01  # fine-tuned
    new_rows = torch.from_numpy(np.stack([glove[w] for w in new]))
    torch.testing.assert_close(
        table[[clf.vocabulary_[w] for w in new]], new_rows, rtol=0, atol=1e-6
    )
