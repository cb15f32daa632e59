import copy
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import sktransfer
from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier
from sktransfer._batches import RaggedRows
from sktransfer.text import TextTransferModule
from sktransfer.text._corpus import KnownWords

FAST = {"max_epochs": 15, "lr": 1e-2, "device": "cpu", "random_state": 0}
PROBE = {k: v for k, v in FAST.items() if k != "lr"}  # a linear head: L-BFGS


def _table(clf):
    return clf.net_.module_.backbone.weight.detach().clone()


def _pretrained_rows(clf, glove):
    words = sorted(clf.vocabulary_, key=clf.vocabulary_.get)[: clf.n_pretrained_]
    return torch.from_numpy(np.stack([glove[w] for w in words]))


def test_frozen_glove_on_real_newsgroups(glove, news):
    clf = PretrainedEmbeddingClassifier(glove, **FAST).fit(news["X"], news["y"])
    assert clf.score(news["X_test"], news["y_test"]) > 0.6  # 4 classes: chance 0.25
    # the model holds only the training vocabulary, with the real vectors
    assert len(clf.vocabulary_) == clf.n_pretrained_ < 40000
    table = _table(clf)
    assert torch.equal(table[0], torch.zeros(50))  # padding row
    assert torch.equal(table[1 : clf.n_pretrained_ + 1], _pretrained_rows(clf, glove))


def test_frozen_pooling_is_computed_once(glove, news, monkeypatch):
    calls = []
    features = TextTransferModule.features

    def counting(self, ids):
        calls.append(len(ids))
        return features(self, ids)

    monkeypatch.setattr(TextTransferModule, "features", counting)
    PretrainedEmbeddingClassifier(glove, **FAST).fit(news["X"], news["y"])
    assert sum(calls) == len(news["X"])  # one pass, not one per epoch
    calls.clear()
    PretrainedEmbeddingClassifier(
        glove, encoder="cnn", **{**FAST, "max_epochs": 2}
    ).fit(news["X"], news["y"])
    assert sum(calls) > 2 * len(news["X"]) - 1  # the CNN trains: no caching


@pytest.mark.parametrize("encoder", ["mean", "max", "mean_max", "cnn"])
def test_encoders_learn(glove, news, encoder):
    clf = PretrainedEmbeddingClassifier(glove, encoder=encoder, **FAST)
    clf.fit(news["X"], news["y"])
    assert clf.score(news["X_test"], news["y_test"]) > 0.45, encoder
    # frozen: every pretrained row bit-identical after training
    assert torch.equal(
        _table(clf)[1 : clf.n_pretrained_ + 1], _pretrained_rows(clf, glove)
    )


def test_a_fit_holds_the_tokens_not_a_matrix_as_wide_as_the_longest_text(
    glove, news, monkeypatch
):
    # one long text (every training text end to end) beside short ones: a
    # matrix padded to it held 28 times the tokens; batches are padded alone
    X, y = [*news["X"], " ".join(news["X"])], [*news["y"], news["y"][0]]
    held, widths = [], []
    fit_or_resume = PretrainedEmbeddingClassifier._fit_or_resume
    features = TextTransferModule.features

    def holding(self, net, X, y, state):
        held.append(X)
        return fit_or_resume(self, net, X, y, state)

    def seeing(self, ids):
        widths.append(ids.shape[1])
        return features(self, ids)

    monkeypatch.setattr(PretrainedEmbeddingClassifier, "_fit_or_resume", holding)
    monkeypatch.setattr(TextTransferModule, "features", seeing)
    clf = PretrainedEmbeddingClassifier(
        glove,
        transfer="fine_tune",
        max_length=None,
        early_stopping=True,  # the validation texts are split off as well
        batch_size=8,
        **{**FAST, "max_epochs": 3},
    ).fit(X, y)
    (ids,) = held
    assert isinstance(ids, RaggedRows) and len(ids) == len(X) - 7  # 7 validate
    longest = len(clf._encode(clf.tokenizer_.corpus(X[-1:])).tolist()[0])
    assert longest > 9000
    assert len(ids) * longest * 4 > 20 * ids.nbytes
    # one batch an epoch (training or validation) holds the long text
    assert widths.count(longest) == 3 and len(widths) > 20
    assert max(w for w in widths if w != longest) < longest / 10


@pytest.mark.parametrize("encoder", ["mean", "max", "mean_max", "cnn"])
def test_a_documents_prediction_does_not_depend_on_the_others(glove, news, encoder):
    clf = PretrainedEmbeddingClassifier(
        glove, encoder=encoder, **{**FAST, "max_epochs": 2}
    ).fit(news["X"], news["y"])
    docs = news["X_test"][:12]
    together = clf.predict_proba(docs)
    alone = np.vstack([clf.predict_proba([doc]) for doc in docs])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-7)


def test_predict_finds_the_vocabulary_by_hash_as_the_dict_does(
    glove, news, monkeypatch
):
    clf = PretrainedEmbeddingClassifier(glove, **{**FAST, "max_epochs": 2})
    clf.fit(news["X"], news["y"])
    docs = news["X_test"] + ["naïve café " + news["X_test"][0]]
    proba = clf.predict_proba(docs)
    known, _ = clf._known_vocabulary()
    assert known.words == sorted(clf.vocabulary_, key=clf.vocabulary_.get)
    # rebuilt on first use after unpickling, not stored
    assert "_vocabulary_lookup" not in pickle.loads(pickle.dumps(clf)).__dict__

    def no_known_words(self):
        return KnownWords([]), np.zeros(0, np.int64)

    monkeypatch.setattr(
        PretrainedEmbeddingClassifier, "_known_vocabulary", no_known_words
    )
    np.testing.assert_allclose(clf.predict_proba(docs), proba, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("encoder", "oov"), [("mean", "ignore"), ("mean", "trainable"), ("cnn", "zero")]
)
def test_a_few_documents_read_a_table_of_their_rows_alone(
    glove, news, encoder, oov, monkeypatch
):
    oov_rows = {} if oov == "ignore" else {"min_df": 1}
    clf = PretrainedEmbeddingClassifier(
        glove, encoder=encoder, oov=oov, **oov_rows, **{**FAST, "max_epochs": 2}
    ).fit(news["X"], news["y"])
    docs = [news["X_test"][0], "astronaut goaltender pixels " + news["X_test"][1]]
    ids, extra, rows = clf._prepare(docs)
    assert extra is not None and rows[0] == 0 and np.all(np.diff(rows) > 0)
    assert len(rows) < clf.net_.module_.n_rows / 10  # a few rows, not the table
    assert ids.values.max() == len(rows) - 1
    proba = clf.predict_proba(docs)
    monkeypatch.setattr(
        PretrainedEmbeddingClassifier, "_rows_needed", lambda *args: None
    )
    np.testing.assert_array_equal(clf.predict_proba(docs), proba)


@pytest.mark.parametrize(("encoder", "oov"), [("mean", "trainable"), ("cnn", "zero")])
def test_predicting_in_chunks_gives_the_same_answers(glove, news, encoder, oov):
    from sktransfer.text import _classifier

    clf = PretrainedEmbeddingClassifier(
        glove, encoder=encoder, oov=oov, min_df=1, **{**FAST, "max_epochs": 2}
    ).fit(news["X"], news["y"])
    docs = list(news["X_test"][:50]) + ["", "astronaut goaltender zzqxv"]
    whole = clf.predict_proba(docs), clf.extract_features(docs)
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        # 7 chunks: each tokenized in a thread while the one before it runs
        patch.setattr(_classifier, "PREDICT_CHUNK", 8)
        chunked = clf.predict_proba(docs), clf.extract_features(docs)
    assert torch.get_num_threads() == threads
    for a, b in zip(whole, chunked, strict=True):
        # batches cut elsewhere may round differently, nothing more
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_threads_predicting_at_once_read_their_own_tables(glove, news):
    import threading

    clf = PretrainedEmbeddingClassifier(glove, oov="trainable", min_df=1, **FAST)
    clf.fit(news["X"], news["y"])
    docs = [news["X_test"][0], "astronaut goaltender " + news["X_test"][1]]
    expected = clf.predict_proba(docs)
    module = clf.net_.module_
    got = []
    # this thread is inside a prediction (a table of two rows) while another
    # predicts: neither may read the other's table
    with module.predicting_with(rows=np.array([0, 5])):
        other = threading.Thread(target=lambda: got.append(clf.predict_proba(docs)))
        other.start()
        other.join()
        assert len(module.table()) == 2
    assert len(got) == 1
    np.testing.assert_array_equal(got[0], expected)
    assert len(module.table()) == module.n_rows


def test_fine_tune_changes_the_vectors_and_scales_their_lr(glove, news):
    clf = PretrainedEmbeddingClassifier(
        glove, transfer="fine_tune", embedding_lr_scale=0.5, **FAST
    ).fit(news["X"], news["y"])
    assert not torch.equal(
        _table(clf)[1 : clf.n_pretrained_ + 1], _pretrained_rows(clf, glove)
    )
    lrs = sorted(g["lr"] for g in clf.net_.optimizer_.param_groups)
    assert lrs == pytest.approx([FAST["lr"] * 0.5, FAST["lr"]])


@pytest.mark.parametrize("transfer", ["fine_tune", "unfreeze"])
def test_vectors_at_lr_0_stay_frozen(glove, news, transfer):
    at = {"unfreeze_epoch": 1} if transfer == "unfreeze" else {}
    clf = PretrainedEmbeddingClassifier(
        glove, transfer=transfer, embedding_lr_scale=0, **at, **FAST
    ).fit(news["X"], news["y"])
    frozen = PretrainedEmbeddingClassifier(glove, transfer="frozen", **FAST)
    frozen.fit(news["X"], news["y"])
    assert not clf.net_.module_.backbone.weight.requires_grad
    # documents encoded once, as frozen ones: the same model
    np.testing.assert_allclose(
        clf.predict_proba(news["X_test"]), frozen.predict_proba(news["X_test"])
    )


def test_unfreeze_switches_at_the_scheduled_epoch(glove, news):
    from skorch.callbacks import Callback

    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, net, **kwargs):
            snapshots.append(net.module_.backbone.weight.detach().clone())

    clf = PretrainedEmbeddingClassifier(
        glove,
        transfer="unfreeze",
        unfreeze_epoch=2,
        callbacks=[Snapshot()],
        **{**FAST, "max_epochs": 4},
    ).fit(news["X"], news["y"])
    start = torch.cat([torch.zeros(1, 50), _pretrained_rows(clf, glove)])
    assert torch.equal(snapshots[0], start) and torch.equal(snapshots[1], start)
    assert not torch.equal(snapshots[2], start)
    assert clf.net_.history[:, "n_trainable"] == [6, 6, 7, 7]
    with pytest.warns(UserWarning, match=r"unfreeze_epoch unfreezes at epoch 4"):
        clf.set_params(callbacks=None, unfreeze_epoch=4).fit(
            news["X"][:20], news["y"][:20]
        )


def test_structure_uses_random_vectors(glove, news):
    clf = PretrainedEmbeddingClassifier(glove, transfer="structure", **FAST)
    clf.fit(news["X"], news["y"])
    table = _table(clf)
    assert torch.equal(table[0], torch.zeros(50))
    pretrained = _pretrained_rows(clf, glove)
    assert (
        not torch.isclose(table[1 : clf.n_pretrained_ + 1], pretrained).any(dim=1).all()
    )


def test_transfer_beats_random_vectors(glove, news):
    def score(mode):
        clf = PretrainedEmbeddingClassifier(glove, transfer=mode, **FAST)
        return clf.fit(news["X"], news["y"]).score(news["X_test"], news["y_test"])

    assert score("frozen") >= score("structure") + 0.08  # measured: 0.76 vs 0.66


def test_oov_policies(glove):
    X = ["zzqx good film", "zzqx bad film", "good zzqx", "bad plot yyqw"]
    y = [1, 0, 1, 0]

    def fit(oov, min_df=2):
        return PretrainedEmbeddingClassifier(
            glove, oov=oov, min_df=min_df, hidden_layer_sizes=(), **PROBE
        ).fit(X, y)

    ignore = fit("ignore")
    assert "zzqx" not in ignore.vocabulary_ and ignore.n_oov_ == 0
    zero = fit("zero")
    assert zero.n_oov_ == 1 and "yyqw" not in zero.vocabulary_  # df 1 < min_df
    assert torch.equal(_table(zero)[zero.vocabulary_["zzqx"]], torch.zeros(50))
    rand = fit("random")
    row = _table(rand)[rand.vocabulary_["zzqx"]]
    assert row.abs().sum() > 0
    # good, film, bad, plot have vectors; zzqx is drawn: rows of the table
    # after the pretrained ones, at their scale (GloVe's std: 0.75, not 1)
    assert rand.n_pretrained_ == len(rand.vocabulary_) - rand.n_oov_ == 4
    known = _table(rand)[1 : rand.n_pretrained_ + 1]
    assert 0.8 < row.std().item() / known.std().item() < 1.25
    trainable = fit("trainable", min_df=1)
    assert (
        trainable.n_oov_ == 2
        and trainable.net_.module_.oov_embedding.num_embeddings == 2
    )
    # trainable OOV vectors train even when the pretrained ones are frozen
    assert trainable.net_.module_.oov_embedding.weight.requires_grad
    assert not trainable.net_.module_.backbone.weight.requires_grad


def test_tokenization_options(glove):
    X = ["Good FILM", "Bad FILM", "good", "bad"]
    y = [1, 0, 1, 0]
    with pytest.warns(UserWarning, match="67% of the training tokens"):
        clf = PretrainedEmbeddingClassifier(glove, lowercase=False, **FAST).fit(X, y)
    assert "FILM" not in clf.vocabulary_ and "good" in clf.vocabulary_
    clf = PretrainedEmbeddingClassifier(glove, tokenizer=str.split, **FAST).fit(X, y)
    assert set(clf.vocabulary_) == {"good", "film", "bad"}
    # any iterable of str will do, as for scikit-learn's vectorizers
    words = PretrainedEmbeddingClassifier(
        glove, tokenizer=lambda doc: iter(doc.split()), **FAST
    ).fit(X, y)
    assert words.vocabulary_ == clf.vocabulary_
    clf = PretrainedEmbeddingClassifier(glove, max_length=1, **FAST).fit(X, y)
    corpus = clf.tokenizer_.corpus(["good film bad"])
    assert clf._encode(corpus).tolist() == [[clf.vocabulary_["good"]]]


def test_vocabulary_is_ordered_by_document_frequency_then_word(glove):
    X = ["plot good film", "good film film", "bad good", "zzqx bad"]
    clf = PretrainedEmbeddingClassifier(glove, oov="zero", min_df=1, **FAST)
    clf.fit(X, [0, 1, 0, 1])
    # df: good 3, bad 2, film 2, plot 1; the OOV word comes after the known ones
    assert list(clf.vocabulary_) == ["good", "bad", "film", "plot", "zzqx"]
    assert list(clf.vocabulary_.values()) == [1, 2, 3, 4, 5]


def test_a_very_long_token_costs_its_own_size_not_the_vocabularys(glove, news):
    """One 100,000-character token (an attachment pasted into an e-mail) once
    set the width of an array of every word: 1.2 GB for these 40 posts, 59 GB
    for the 20 Newsgroups training set."""
    X = list(news["X"][:40])
    X[0] += " " + "a" * 100_000
    tracemalloc.start()
    try:
        clf = PretrainedEmbeddingClassifier(glove, oov="zero", min_df=1, **FAST)
        clf.fit(X, news["y"][:40])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "a" * 100_000 in clf.vocabulary_  # kept as an OOV word (min_df=1)
    assert peak < 100e6, peak


def test_fitted_classifier_as_source(glove, news):
    source = PretrainedEmbeddingClassifier(
        glove, transfer="fine_tune", encoder="cnn", **{**FAST, "max_epochs": 3}
    ).fit(news["X"][:30], news["y"][:30])
    target = PretrainedEmbeddingClassifier(
        source, encoder="cnn", **{**FAST, "max_epochs": 1}
    )
    target.fit(news["X"][30:], news["y"][30:])
    src, tgt = source.net_.module_, target.net_.module_
    shared = [w for w in target.vocabulary_ if w in source.vocabulary_]
    assert shared
    for word in shared[:20]:  # fine-tuned vectors carried over
        assert torch.equal(
            tgt.backbone.weight[target.vocabulary_[word]],
            src.backbone.weight[source.vocabulary_[word]],
        )
    new_words = [w for w in target.vocabulary_ if w not in source.vocabulary_]
    assert new_words  # found in the source's own GloVe fallback
    word = new_words[0]
    row = target.net_.module_.backbone.weight[target.vocabulary_[word]]
    assert torch.equal(row, torch.tensor(glove[word]))
    # the trained Kim CNN too: one epoch from the source's filters (0.21
    # measured), not a fresh draw (two independent ones differ by about 1.4)
    for conv, start in zip(tgt.encoder.cnn.convs, src.encoder.cnn.convs, strict=True):
        moved = (conv.weight - start.weight).norm() / start.weight.norm()
        assert moved < 0.5, moved
    # another encoder takes the vectors alone, and says the CNN is left behind
    with pytest.warns(UserWarning, match="trained 'cnn' encoder is not transferred"):
        PretrainedEmbeddingClassifier(source, **{**FAST, "max_epochs": 1}).fit(
            news["X"][30:], news["y"][30:]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # structure: nothing is meant to carry
        PretrainedEmbeddingClassifier(
            source, transfer="structure", **{**FAST, "max_epochs": 1}
        ).fit(news["X"][30:], news["y"][30:])
    with pytest.raises(ValueError, match="unfitted PretrainedEmbeddingClassifier"):
        PretrainedEmbeddingClassifier(PretrainedEmbeddingClassifier()).fit(
            ["good", "bad"], [0, 1]
        )


def test_a_source_refit_or_replaced_after_fit_is_refused(glove, news, tmp_path):
    # the target and a vectorizer read the source after fit (the vectors of
    # words first seen in predict; every vector): refitting the source
    # changed their answers, silently
    X, y, X_test = news["X"], news["y"], news["X_test"]
    fast = {**FAST, "max_epochs": 2}
    vectors = KeyedVectors(vector_size=50)  # a file: sktransfer.save keeps its path
    vectors.add_vectors(glove.index_to_key[:20000], glove.vectors[:20000])
    vectors.save_word2vec_format(str(tmp_path / "glove.bin"), binary=True)
    source = PretrainedEmbeddingClassifier(
        str(tmp_path / "glove.bin"), transfer="fine_tune", **fast
    )
    source.fit(X[:30], y[:30])
    target = PretrainedEmbeddingClassifier(source, **fast).fit(X[30:], y[30:])
    vectorizer = EmbeddingVectorizer(source).fit(X[30:])
    kept = PretrainedEmbeddingClassifier(copy.deepcopy(source), **fast)
    kept.fit(X[30:], y[30:])
    before = kept.predict_proba(X_test)
    np.testing.assert_array_equal(target.predict_proba(X_test), before)
    # pickled and saved models read their own copy of the source, as fit did
    pickled = pickle.loads(pickle.dumps(target))
    sktransfer.save(target, tmp_path / "target.skt")
    loaded = sktransfer.load(tmp_path / "target.skt")
    source.fit(X[30:], y[30:])
    for model in (target, vectorizer):
        with pytest.raises(ValueError, match="has been fitted again since"):
            model.predict(X_test) if model is target else model.transform(X_test)
    for model in (kept, pickled, loaded):
        np.testing.assert_allclose(model.predict_proba(X_test), before, rtol=1e-6)
    target.fit(X[30:], y[30:]).predict(X_test)  # fitted again: on the new source
    loaded.set_params(embeddings=glove)
    with pytest.raises(ValueError, match="set to another source after fit"):
        loaded.predict(X_test)


def test_a_source_that_made_its_words_otherwise_is_warned(glove, news):
    # a source fitted on stemmed words ("comput"): a target tokenizing as
    # scikit-learn does finds few of its fine-tuned vectors
    def stem(doc):
        return [word[:5] for word in doc.split()]

    X, y = news["X"][:30], news["y"][:30]
    source = PretrainedEmbeddingClassifier(
        glove, tokenizer=stem, transfer="fine_tune", **{**FAST, "max_epochs": 1}
    ).fit(X, y)
    for target in (
        PretrainedEmbeddingClassifier(source, **{**FAST, "max_epochs": 1}),
        EmbeddingVectorizer(source),
    ):
        with pytest.warns(
            UserWarning, match=r"tokenizer=None \(the source's: <fun"
        ) as w:
            target.fit(X, y)
        assert w[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            target.set_params(tokenizer=stem).fit(X, y)


def test_a_source_with_trainable_oov_vectors_passes_them_on(glove):
    X = ["zzqx good film", "qqzy bad film", "good zzqx plot", "bad qqzy plot"]
    source = PretrainedEmbeddingClassifier(
        glove, oov="trainable", min_df=1, **FAST
    ).fit(X, [1, 0, 1, 0])
    target = PretrainedEmbeddingClassifier(source, **FAST)
    target.fit(["zzqx", "qqzy", "zzqx film", "qqzy film"], [1, 0, 1, 0])
    src, tgt = source.net_.module_, target.net_.module_
    trained = src.oov_embedding.weight[
        source.vocabulary_["zzqx"] - source.n_pretrained_ - 1
    ]
    # for the target, the source's OOV words are words with vectors
    assert target.n_oov_ == 0
    assert torch.equal(tgt.backbone.weight[target.vocabulary_["zzqx"]], trained)


def test_clone_pickle_and_grid_search_share_the_vectors(glove, news):
    clf = PretrainedEmbeddingClassifier(glove, **FAST)
    assert clone(clf).embeddings is glove
    clf.fit(news["X"], news["y"])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.predict_proba(news["X_test"]), clf.predict_proba(news["X_test"])
    )
    grid = GridSearchCV(
        PretrainedEmbeddingClassifier(glove, **FAST),
        {"transfer": ["frozen", "structure"]},
        cv=2,
    ).fit(news["X"], news["y"])
    assert grid.best_params_ == {"transfer": "frozen"}


@pytest.mark.parametrize(
    "X, y, match",
    [
        ([], [], "0 sample"),
        ("one document", [1], "not a single string"),
        (["a", 3], [0, 1], "item 1 is a int"),
        (["good film", "bad film"], [0], "inconsistent numbers of samples"),
        (["good film", "bad film"], [1, 1], "only one class"),
        (["qqqzz", "zzqqq"], [0, 1], "None of the words"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 1], "1-D array"),
    ],
)
def test_bad_input(glove, X, y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PretrainedEmbeddingClassifier(glove, **FAST).fit(X, y)


def test_unseen_words_use_the_source_vectors_at_prediction(glove, news):
    def fit(policy):
        return PretrainedEmbeddingClassifier(
            glove, unseen_words=policy, hidden_layer_sizes=(), **PROBE
        ).fit(news["X"], news["y"])

    pretrained, ignore = fit("pretrained"), fit("ignore")
    assert pretrained.vocabulary_ == ignore.vocabulary_  # the model stays small
    unseen = [
        w
        for w in ("astronaut", "goaltender", "pixels")
        if w not in pretrained.vocabulary_
    ]
    assert unseen
    doc = [" ".join(unseen)]
    # dropped words leave an empty document; the source's vectors give evidence
    np.testing.assert_allclose(ignore.predict_proba(doc), ignore.predict_proba([""]))
    assert not np.allclose(
        pretrained.predict_proba(doc), pretrained.predict_proba([""])
    )
    assert pretrained.score(news["X_test"], news["y_test"]) >= ignore.score(
        news["X_test"], news["y_test"]
    )
    assert pretrained.net_.module_._predict_tables == {}  # only during predict
    # a structure model's vectors are random: pretrained ones for unseen
    # words would be noise in its space, so they are dropped
    scratch = PretrainedEmbeddingClassifier(
        glove, transfer="structure", hidden_layer_sizes=(), **PROBE
    ).fit(news["X"], news["y"])
    np.testing.assert_allclose(scratch.predict_proba(doc), scratch.predict_proba([""]))
