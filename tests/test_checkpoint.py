"""Checkpoints of an interrupted fit: what counts as the same fit."""

import copy
import functools
import warnings

import numpy as np
import pytest
import torch

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer._checkpoint import fingerprint
from sktransfer.text import WordVectors, resolve_word_vectors
from sktransfer.utils._testing import Epochs
from sktransfer.vision import Backbone, SmallCNN


def test_a_checkpoint_fingerprint_tells_source_objects_and_classes_apart(glove):
    X, y = np.arange(6).reshape(3, 2), np.arange(3)

    def tag(**params):
        return fingerprint(PretrainedEmbeddingClassifier(**params), X, y)

    other = copy.deepcopy(glove)
    assert tag(embeddings=glove) == tag(embeddings=other)  # same words, same vectors
    other.vectors[0, 0] += 1.0
    assert tag(embeddings=glove) != tag(embeddings=other)
    # sktransfer's own word vectors (resolve_word_vectors) count by content too
    ours, changed = resolve_word_vectors(glove), resolve_word_vectors(other)
    assert tag(embeddings=ours) == tag(embeddings=resolve_word_vectors(glove))
    assert tag(embeddings=ours) != tag(embeddings=changed)
    renamed = WordVectors(["zz", *ours.words[1:]], ours.vectors)
    assert tag(embeddings=ours) != tag(embeddings=renamed)
    # a gensim fastText model: its subword vectors count too
    from gensim.models import FastText

    fasttext = FastText(
        [["good", "film"], ["bad", "plot"]] * 5, vector_size=4, min_count=1
    )
    again = copy.deepcopy(fasttext)
    assert tag(embeddings=fasttext) == tag(embeddings=again)
    again.wv.vectors_ngrams[0, 0] += 1.0
    assert tag(embeddings=fasttext) != tag(embeddings=again)
    assert tag(optimizer=torch.optim.SGD) != tag(optimizer=torch.optim.Adam)
    sgd = functools.partial(torch.optim.SGD, momentum=0.9)
    assert tag(optimizer=sgd) == tag(optimizer=copy.deepcopy(sgd))
    assert tag(optimizer=sgd) != tag(optimizer=functools.partial(sgd, momentum=0.5))
    assert tag(tokenizer=str.split) != tag(tokenizer=str.splitlines)
    assert tag(tokenizer=lambda s: s.split()) != tag(tokenizer=lambda s: s.split(","))
    assert tag(tokenizer=lambda s: s.split()) == tag(tokenizer=lambda s: s.split())
    # numpy values, as a grid given as arrays yields them, count by value
    assert tag(batch_size=np.int64(16)) != tag(batch_size=np.int64(32))
    assert tag(batch_size=np.int64(16)) == tag(batch_size=16)
    assert tag(hidden_layer_sizes=np.array([8])) != tag(
        hidden_layer_sizes=np.array([16])
    )
    # the data count by value, not only by shape and dtype
    clf = PretrainedEmbeddingClassifier()
    assert fingerprint(clf, X, y) == fingerprint(clf, X.copy(), y.copy())
    assert fingerprint(clf, X, y) != fingerprint(clf, X + 1, y)
    assert fingerprint(clf, X, y) != fingerprint(clf, X, y[::-1])
    assert fingerprint(clf, X, y) != fingerprint(clf, X.astype(np.int32), y)


def test_a_module_counts_by_its_layers_and_a_backbone_by_its_declarations(digits):
    """Another architecture with the same weights, or the same module declared
    with another input, is another fit: it must not resume this one's
    checkpoint (a crashed fit's, left in a shared checkpoint_dir)."""
    X, y = digits[0][:20], digits[1][:20]

    def tag(backbone):
        return fingerprint(FineTunedCNNClassifier(backbone), X, y)

    module = SmallCNN(1, (4, 4, 4))
    strided = copy.deepcopy(module)
    strided.block1[0].stride = (2, 2)
    assert tag(module) == tag(copy.deepcopy(module))
    assert tag(module) != tag(strided)
    declared = Backbone(module, 1, min_size=16)
    assert tag(declared) == tag(Backbone(copy.deepcopy(module), 1, min_size=16))
    assert tag(declared) != tag(Backbone(module, 1, min_size=32))
    assert tag(declared) != tag(Backbone(strided, 1, min_size=16))
    assert tag(declared) != tag(module)


def test_a_crashed_fit_is_not_resumed_by_a_fit_from_another_backbone(tmp_path, digits):
    X, y = digits[0][:200], digits[1][:200]
    torch.manual_seed(0)
    first = Backbone(SmallCNN(1, (8, 8, 8)), 1)
    second = Backbone(copy.deepcopy(first.module), 1, min_size=16)

    params = {"max_epochs": 3, "random_state": 0, "device": "cpu"}
    crashed = FineTunedCNNClassifier(
        first, checkpoint_dir=tmp_path, callbacks=[("cut", Epochs(cut=2))], **params
    )
    with pytest.raises(RuntimeError, match="power cut"):
        crashed.fit(X, y)
    assert len(list(tmp_path.iterdir())) == 1  # its checkpoint, to resume
    shared = FineTunedCNNClassifier(second, checkpoint_dir=tmp_path, **params)
    alone = FineTunedCNNClassifier(second, **params)
    np.testing.assert_array_equal(
        shared.fit(X, y).predict_proba(X), alone.fit(X, y).predict_proba(X)
    )
    assert len(list(tmp_path.iterdir())) == 1  # the crashed fit's, still there


def test_a_source_file_counts_by_where_it_is_and_what_it_holds(tmp_path, monkeypatch):
    # a path counted by its text: a fit from another working folder, or from
    # vectors written again under the same name, resumed this one's checkpoint
    import os

    X, y = np.arange(6).reshape(3, 2), np.arange(3)
    for folder, values in (("a", "1 2"), ("b", "3 4")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "vectors.txt").write_text(f"word {values}\n")

    def tag(embeddings="vectors.txt"):
        return fingerprint(PretrainedEmbeddingClassifier(embeddings), X, y)

    monkeypatch.chdir(tmp_path / "a")
    in_a = tag()
    assert tag() == in_a == tag(str(tmp_path / "a" / "vectors.txt"))
    monkeypatch.chdir(tmp_path / "b")
    assert tag() != in_a
    monkeypatch.chdir(tmp_path / "a")
    stat = os.stat("vectors.txt")
    (tmp_path / "a" / "vectors.txt").write_text("word 5 6\n")  # same size
    os.utime("vectors.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert tag() != in_a
    # an image source's weights file, given with its architecture, as well
    from sktransfer import FineTunedCNNClassifier

    def image_tag(path):
        backbone = ("small_cnn", path)
        return fingerprint(FineTunedCNNClassifier(backbone), X, y)

    assert image_tag("vectors.txt") == image_tag(str(tmp_path / "a" / "vectors.txt"))
    monkeypatch.chdir(tmp_path / "b")
    assert image_tag("vectors.txt") != image_tag(str(tmp_path / "a" / "vectors.txt"))
    monkeypatch.chdir(tmp_path / "a")
    # a state dict in memory counts by its tensors, not by its (abridged) repr
    from sktransfer.vision import SmallCNN

    state = SmallCNN(1).state_dict()
    state, other = dict(state), {k: v.clone() for k, v in state.items()}
    big = max(other.values(), key=torch.numel)
    big.view(-1)[big.numel() // 2] += 1.0  # where repr shows "..."
    assert repr(state) == repr(other)
    assert image_tag(state) == image_tag(SmallCNN(1).state_dict() | state)
    assert image_tag(state) != image_tag(other)
    numpy_state = {k: v.numpy() for k, v in state.items()}  # numpy arrays too
    assert image_tag(numpy_state) == image_tag(state)
    # a name is its text; a parameter other than the source is never a file
    assert tag("glove-wiki-gigaword-50") == tag("glove-wiki-gigaword-50")
    before = fingerprint(PretrainedEmbeddingClassifier(encoder="max"), X, y)
    (tmp_path / "a" / "max").write_text("not a source")
    assert fingerprint(PretrainedEmbeddingClassifier(encoder="max"), X, y) == before


def test_a_checkpoint_dir_that_cannot_be_a_folder_fails_before_training(tmp_path):
    from sktransfer._checkpoint import check_directory

    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        check_directory(tmp_path / "file")
    with pytest.raises(ValueError, match="cannot be created as a folder: Not a dir"):
        check_directory(tmp_path / "file" / "below")
    check_directory(tmp_path / "new" / "deep")  # created, parents too
    assert (tmp_path / "new" / "deep").is_dir()


def test_a_checkpoint_that_cannot_be_written_does_not_end_the_fit(
    tmp_path, digits, monkeypatch
):
    # a full disk (or a quota) at epoch 2: the OSError ended the fit, and the
    # training so far was lost with it
    from sktransfer import FineTunedCNNClassifier, _checkpoint

    X, y = digits[0][:200], digits[1][:200]
    save, calls = torch.save, []

    def fills_up(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) >= 2:
            raise OSError(28, "No space left on device")
        return save(obj, path, *args, **kwargs)

    monkeypatch.setattr(_checkpoint.torch, "save", fills_up)
    params = dict(max_epochs=4, random_state=0)
    with pytest.warns(UserWarning, match="after epoch 2 .*No space left") as record:
        clf = FineTunedCNNClassifier(checkpoint_dir=tmp_path, **params).fit(X, y)
    assert len([w for w in record if "checkpoint" in str(w.message)]) == 1
    assert len(calls) == 4  # written every epoch still, warned of once
    monkeypatch.undo()
    expected = FineTunedCNNClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    assert list(tmp_path.iterdir()) == []  # no partial file; the fit finished


def test_a_fit_that_stops_early_leaves_no_checkpoint_to_resume(
    tmp_path, digits, stops_early
):
    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:300], digits[1][:300]

    def fit():
        return FineTunedCNNClassifier(checkpoint_dir=tmp_path, **stops_early).fit(X, y)

    first = fit()
    assert len(first.net_.history) < 40  # stopped early: finished, not interrupted
    assert not list(tmp_path.glob("checkpoint-*"))
    second = fit()  # trains afresh rather than resuming past the stop
    assert len(second.net_.history) == len(first.net_.history)
    np.testing.assert_array_equal(second.predict_proba(X), first.predict_proba(X))


def test_a_users_early_stopping_also_finishes_the_fit(tmp_path, digits):
    """A skorch EarlyStopping given in callbacks= ends training as ours does:
    no 'interrupted' warning, no checkpoint left to resume past the stop."""
    from skorch.callbacks import EarlyStopping

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:100], digits[1][:100]
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = FineTunedCNNClassifier(
            max_epochs=60,
            lr=0.05,
            callbacks=[stopper],
            checkpoint_dir=tmp_path,
            random_state=0,
            device="cpu",
        ).fit(X, y)
    assert len(clf.net_.history) < 60
    assert not list(tmp_path.glob("checkpoint-*"))


@pytest.mark.parametrize("saved_after_best", [0, 1])
def test_a_fit_resumed_after_its_best_epoch_keeps_that_epoch(
    tmp_path, digits, saved_after_best
):
    """The checkpoint holds where early stopping stands: a fit cut after its
    best epoch resumes counting from that epoch and ends with its weights,
    as the uninterrupted fit does (it used to forget it, train on, and keep a
    later, worse model). Saved at the best epoch itself, the best weights are
    the module's and are not stored twice."""

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:300], digits[1][:300]
    settings = {
        "early_stopping": True,
        "n_iter_no_change": 3,
        "lr": 0.05,
        "max_epochs": 60,
        "batch_size": 32,
        "device": "cpu",
        "random_state": 0,
    }
    straight = FineTunedCNNClassifier(**settings).fit(X, y)
    best = int(np.argmin(straight.net_.history[:, "valid_loss"])) + 1
    cut = best + 1 + saved_after_best  # the last checkpoint: the epoch before
    assert cut < len(straight.net_.history)

    with pytest.raises(RuntimeError, match="power cut"):
        FineTunedCNNClassifier(
            checkpoint_dir=tmp_path, callbacks=[Epochs(cut=cut)], **settings
        ).fit(X, y)
    (saved,) = tmp_path.glob("checkpoint-*")
    (stopping,) = torch.load(saved, weights_only=True)["callbacks"].values()
    assert stopping["best_epoch_"] == best
    assert ("best_model_weights_" in stopping) == bool(saved_after_best)
    assert stopping.get("best_is_current", False) == (not saved_after_best)
    resumed = FineTunedCNNClassifier(checkpoint_dir=tmp_path, **settings).fit(X, y)
    assert len(resumed.net_.history) == len(straight.net_.history)
    np.testing.assert_array_equal(resumed.predict_proba(X), straight.predict_proba(X))


def test_a_float16_fit_resumes_with_the_loss_scale_it_came_to(
    tmp_path, digits, monkeypatch
):
    """precision="16-mixed" skips the steps whose scaled gradients overflow and
    lowers the loss scale; a fit resumed without that scale started again from
    65,536, skipped steps the uninterrupted fit had not, and ended elsewhere.
    (A CUDA setting; torch's CPU autocast and scaler run the same code here.)"""
    from sktransfer._base import TransferEstimatorBase

    monkeypatch.setattr(TransferEstimatorBase, "_device", lambda self: "cpu")
    X, y = digits[0][:200], digits[1][:200]
    settings = {"precision": "16-mixed", "lr": 1.0, "max_epochs": 4, "random_state": 0}
    straight = FineTunedCNNClassifier(callbacks=[Epochs()], **settings).fit(X, y)
    scale = straight.net_.scaler_.get_scale()
    assert scale < 2.0**16  # overflowing steps were skipped, the scale lowered
    with pytest.raises(RuntimeError, match="power cut"):
        FineTunedCNNClassifier(
            checkpoint_dir=tmp_path, callbacks=[Epochs(cut=2)], **settings
        ).fit(X, y)
    resumed = FineTunedCNNClassifier(
        checkpoint_dir=tmp_path, callbacks=[Epochs()], **settings
    ).fit(X, y)
    # the power went before epoch 2 was saved: epochs 2-4 ran again
    assert dict(resumed.net_.callbacks_)["user_callback_0"].run == 3
    assert resumed.net_.scaler_.get_scale() == scale
    np.testing.assert_array_equal(resumed.predict_proba(X), straight.predict_proba(X))


def test_a_text_fit_resumes_on_its_token_ids(tmp_path, glove, news):
    # a text fit holds its ids end to end: they fingerprint the fit as the
    # padded matrix did, the same texts resume, other texts do not
    settings = {
        "transfer": "fine_tune",
        "lr": 1e-2,
        "max_epochs": 4,
        "device": "cpu",
        "random_state": 0,
    }
    X, y = news["X"], news["y"]
    straight = PretrainedEmbeddingClassifier(glove, **settings).fit(X, y)
    with pytest.raises(RuntimeError, match="power cut"):
        PretrainedEmbeddingClassifier(
            glove, checkpoint_dir=tmp_path, callbacks=[Epochs(cut=2)], **settings
        ).fit(X, y)
    other = [X[1], X[0], *X[2:]]  # the same texts, in another order
    fresh = PretrainedEmbeddingClassifier(
        glove, checkpoint_dir=tmp_path, callbacks=[Epochs()], **settings
    ).fit(other, [y[1], y[0], *y[2:]])
    assert dict(fresh.net_.callbacks_)["user_callback_0"].run == 4  # not resumed
    resumed = PretrainedEmbeddingClassifier(
        glove, checkpoint_dir=tmp_path, callbacks=[Epochs()], **settings
    ).fit(X, y)
    # the power went before epoch 2 was saved: epochs 2-4 ran again
    assert dict(resumed.net_.callbacks_)["user_callback_0"].run == 3
    docs = news["X_test"][:50]
    np.testing.assert_array_equal(
        resumed.predict_proba(docs), straight.predict_proba(docs)
    )
