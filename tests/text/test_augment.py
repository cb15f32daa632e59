"""Word dropout: PretrainedEmbeddingClassifier(augment=...)."""

import pickle

import numpy as np
import pytest
import torch

import sktransfer
from sktransfer import PretrainedEmbeddingClassifier
from sktransfer.text import WordDropout, resolve_text_augment

FAST = {"max_epochs": 15, "lr": 1e-2, "device": "cpu", "random_state": 0}


def test_each_token_is_dropped_with_the_probability_and_padding_stays():
    torch.manual_seed(0)
    ids = torch.randint(1, 1000, (2000, 50), dtype=torch.int32)
    ids[:, 40:] = 0  # padding
    dropped = WordDropout(0.3)(ids)
    assert dropped.dtype == torch.int32 and dropped.shape == ids.shape
    assert (dropped[:, 40:] == 0).all()
    kept = dropped[:, :40] != 0
    assert (dropped[:, :40][kept] == ids[:, :40][kept]).all()  # the rest unchanged
    assert 1 - kept.float().mean().item() == pytest.approx(0.3, abs=0.005)
    rows = 1 - kept.float().mean(1)  # each document its own draw
    assert rows.std().item() > 0.03
    assert torch.equal(WordDropout(0.3).eval()(ids), ids)  # predict: unchanged
    assert torch.equal(WordDropout(0.0)(ids), ids)


def test_the_parameter_names_the_dropout_and_its_strength():
    assert resolve_text_augment(None) is None
    assert repr(resolve_text_augment("word_dropout")) == "WordDropout(word_dropout=0.3)"
    assert resolve_text_augment(["word_dropout"]).word_dropout == 0.3
    assert resolve_text_augment({"word_dropout": 0.5}).word_dropout == 0.5
    with pytest.raises(ValueError, match=r"augmentations are \['word_dropout'\]"):
        resolve_text_augment("shift")  # an image's
    with pytest.raises(ValueError, match="the share of the tokens dropped, a number"):
        resolve_text_augment({"word_dropout": 1.0})
    with pytest.raises(TypeError, match="a function of a batch of token ids"):
        resolve_text_augment(0.3)


def _reversed_documents(ids):
    """An augmentation of one's own: each document's ids back to front."""
    return ids.flip(1)


def _clf(glove, **params):
    return PretrainedEmbeddingClassifier(glove, "fine_tune", **{**FAST, **params})


def test_training_changes_reproducibly_and_predict_does_not(glove, news):
    X, y, X_test = news["X"], news["y"], news["X_test"]
    plain = _clf(glove).fit(X, y)
    dropped = _clf(glove, augment="word_dropout").fit(X, y)
    again = _clf(glove, augment="word_dropout").fit(X, y)
    proba = dropped.predict_proba(X_test)
    np.testing.assert_array_equal(proba, again.predict_proba(X_test))  # seeded
    np.testing.assert_array_equal(proba, dropped.predict_proba(X_test))  # eval
    assert np.abs(proba - plain.predict_proba(X_test)).max() > 0.05
    assert dropped.score(X_test, news["y_test"]) > 0.6  # 4 classes: chance 0.25
    # a function of the ids, pickled with the model; the CNN reads the order
    own = _clf(glove, encoder="cnn", augment=_reversed_documents, max_epochs=2)
    own = pickle.loads(pickle.dumps(own.fit(X, y)))
    assert own.net_.module_.augment.function is _reversed_documents


def test_frozen_vectors_are_encoded_every_epoch_behind_standardized_features(
    glove, news, monkeypatch
):
    from sktransfer.text import TextEncoder

    calls = []
    forward = TextEncoder.forward
    monkeypatch.setattr(
        TextEncoder, "forward", lambda self, *a: calls.append(1) or forward(self, *a)
    )
    X, y = news["X"], news["y"]
    settings = {"max_epochs": 3, "batch_size": 20, "device": "cpu", "random_state": 0}
    clf = PretrainedEmbeddingClassifier(glove, augment="word_dropout", **settings)
    clf.fit(X, y)
    assert len(calls) >= 3 * 3  # 3 batches of 20 an epoch, not once
    head = clf.net_.module_.head
    assert type(head[0]).__name__ == "Standardize"
    assert type(clf.net_.optimizer_).__name__ == "AdamW"
    frozen = clf.net_.module_.backbone.weight
    np.testing.assert_array_equal(
        frozen[1 : clf.n_pretrained_ + 1].detach().numpy()[:3],
        np.stack(
            [glove[w] for w in sorted(clf.vocabulary_, key=clf.vocabulary_.get)[:3]]
        ),
    )


def test_save_keeps_a_named_dropout_and_refuses_a_function(glove, news, tmp_path):
    X, y = news["X"], news["y"]
    glove = "glove-wiki-gigaword-50"  # saved by name; vectors in memory are not
    clf = _clf(glove, augment={"word_dropout": 0.5}, max_epochs=2).fit(X, y)
    sktransfer.save(clf, tmp_path / "m.skt")
    loaded = sktransfer.load(tmp_path / "m.skt")
    assert loaded.augment == {"word_dropout": 0.5}
    np.testing.assert_allclose(
        loaded.predict_proba(news["X_test"]),
        clf.predict_proba(news["X_test"]),
        atol=1e-6,
    )
    own = _clf(glove, augment=_reversed_documents, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="cannot store parameter augment="):
        sktransfer.save(own, tmp_path / "own.skt")
