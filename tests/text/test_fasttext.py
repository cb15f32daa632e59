"""fastText sources: a word outside the vocabulary gets the vector of its
character n-grams, from a ``.bin`` model file or gensim's FastTextKeyedVectors.

The model is a real fastText model, trained here by gensim on 20 Newsgroups
posts (a small one: seconds), and saved in fastText's own binary format.
"""

import copy
import pathlib

import numpy as np
import pytest
from gensim.models import FastText
from gensim.models.fasttext import save_facebook_model

from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier
from sktransfer.text import resolve_word_vectors
from sktransfer.text._tokenize import Tokenizer

# typos and rare forms: none is a word of the model
UNSEEN = ["hockeyy", "goaltenderr", "spacecraftt", "graphicss", "zzqx"]


@pytest.fixture(scope="module")
def fasttext_wv():
    from sktransfer.datasets import load_20newsgroups

    try:
        posts = load_20newsgroups("train", shuffle=False).data[-1000:]
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    tokenize = Tokenizer()
    model = FastText(
        [tokenize(post) for post in posts],
        vector_size=24,
        min_count=3,
        epochs=3,
        bucket=20000,
        workers=1,
        seed=0,
    )
    assert not any(word in model.wv.key_to_index for word in UNSEEN)
    return model


@pytest.fixture
def fasttext_bin(fasttext_wv, tmp_path, monkeypatch):
    from sktransfer.text import _vectors

    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    path = tmp_path / "news.bin"
    save_facebook_model(fasttext_wv, str(path))
    return str(path)


def _gensim_vectors(kv, words):
    return np.array([kv.get_vector(word) for word in words])


@pytest.mark.parametrize("given", ["bin", "FastTextKeyedVectors", "FastText"])
def test_unseen_words_get_the_vectors_fasttext_gives_them(
    fasttext_wv, fasttext_bin, given
):
    kv = fasttext_wv.wv
    source = {"bin": fasttext_bin, "FastTextKeyedVectors": kv, "FastText": fasttext_wv}
    vectors = resolve_word_vectors(source[given])
    assert vectors.subwords is not None
    assert (vectors.subwords.min_n, vectors.subwords.max_n) == (kv.min_n, kv.max_n)
    words = ["hockey", "space", *UNSEEN]
    got, found = vectors.lookup(words)
    assert found.all()
    np.testing.assert_allclose(got, _gensim_vectors(kv, words), rtol=1e-5, atol=1e-6)
    # the n-grams carry the meaning: a typo lies near its word
    typo = vectors.lookup(["hockeyy"])[0][0]
    cosine = got @ typo / np.linalg.norm(got, axis=1) / np.linalg.norm(typo)
    assert cosine[0] > 0.9 and cosine[0] > cosine[1]


def test_the_disk_cache_keeps_the_ngram_vectors(fasttext_wv, fasttext_bin):
    from sktransfer.text import _vectors

    first = resolve_word_vectors(fasttext_bin).lookup(UNSEEN)[0]
    _vectors._PROCESS_CACHE.clear()
    hits = _vectors.STATS["disk_hits"]
    again = resolve_word_vectors(fasttext_bin)
    assert _vectors.STATS["disk_hits"] == hits + 1
    assert isinstance(again.subwords.ngrams, np.memmap)
    np.testing.assert_array_equal(again.lookup(UNSEEN)[0], first)


def test_a_model_cut_short_is_named_not_read_forever(fasttext_bin, tmp_path):
    # a download that did not finish: gensim's reader looped forever when the
    # file ended inside the vocabulary, and failed elsewhere
    data = pathlib.Path(fasttext_bin).read_bytes()
    words_end = data.index(b"\0", len(data) // 20)  # inside the vocabulary
    # (cut in its last part, the output layer, which gensim does not read for
    # the vectors, a model still gives every vector)
    for n, at in enumerate([40, 100, words_end, len(data) // 2]):
        cut = tmp_path / f"cut{n}.bin"
        cut.write_bytes(data[:at])
        with pytest.raises(ValueError, match="is a fastText binary model cut short"):
            resolve_word_vectors(str(cut))
    assert len(resolve_word_vectors(fasttext_bin).words) > 100  # whole: read


def test_a_checkpoint_fingerprint_counts_the_ngram_vectors(fasttext_wv):
    from sktransfer._checkpoint import fingerprint

    X, y = np.arange(6).reshape(3, 2), np.arange(3)

    def tag(embeddings):
        return fingerprint(PretrainedEmbeddingClassifier(embeddings), X, y)

    other = copy.deepcopy(fasttext_wv)
    assert tag(fasttext_wv) == tag(other) == tag(other.wv)
    other.wv.vectors_ngrams[0, 0] += 1.0  # the same words, other subwords
    assert tag(fasttext_wv) != tag(other)


def test_a_model_without_ngrams_has_no_subwords(tmp_path):
    model = FastText([["a", "b", "a"]] * 5, vector_size=4, min_count=1, bucket=0)
    vectors = resolve_word_vectors(model.wv)
    assert vectors.subwords is None
    assert not vectors.lookup(["zzqx"])[1].any()


def test_the_classifier_trains_and_predicts_with_ngram_vectors(
    fasttext_wv, fasttext_bin, news
):
    kv = fasttext_wv.wv
    clf = PretrainedEmbeddingClassifier(
        fasttext_bin, max_epochs=5, device="cpu", random_state=0
    ).fit(news["X"], news["y"])
    # every training word has a vector: none is out of the vocabulary
    assert clf.n_oov_ == 0 and clf.n_pretrained_ == len(clf.vocabulary_)
    rare = [w for w in clf.vocabulary_ if w not in kv.key_to_index]
    assert len(rare) > 100  # words of the posts the model never saw
    table = clf.net_.module_.backbone.weight.detach().numpy()
    rows = [clf.vocabulary_[w] for w in rare]
    np.testing.assert_allclose(table[rows], _gensim_vectors(kv, rare), atol=1e-6)
    # predict: the mean of the unseen words' n-gram vectors (frozen, mean)
    doc = " ".join(UNSEEN)
    features = clf.extract_features([doc])[0]
    expected = _gensim_vectors(kv, UNSEEN).mean(axis=0)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    ignored = clf.set_params(unseen_words="ignore").extract_features([doc])[0]
    np.testing.assert_array_equal(ignored, 0)


def test_a_fitted_classifier_as_source_falls_back_to_ngrams(
    fasttext_wv, fasttext_bin, news
):
    source = PretrainedEmbeddingClassifier(
        fasttext_bin, max_epochs=2, device="cpu", random_state=0
    ).fit(news["X"], news["y"])
    vectors, _ = source._text_source_state()
    got, found = vectors.lookup(UNSEEN)
    assert found.all()
    np.testing.assert_allclose(
        got, _gensim_vectors(fasttext_wv.wv, UNSEEN), rtol=1e-5, atol=1e-6
    )


def test_embedding_vectorizer_pools_ngram_vectors(fasttext_wv, fasttext_bin, news):
    vectorizer = EmbeddingVectorizer(fasttext_bin).fit(news["X"])
    got = vectorizer.transform([" ".join(UNSEEN), "hockey " + UNSEEN[0]])
    words = [UNSEEN, ["hockey", UNSEEN[0]]]
    expected = [_gensim_vectors(fasttext_wv.wv, w).mean(axis=0) for w in words]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("min_n, max_n", [(3, 6), (1, 3), (2, 2), (5, 4)])
def test_ngram_hashes_are_fasttexts(news, min_n, max_n):
    """numpy's hashes of ASCII words, gensim's of the others: the same n-grams
    (as multisets, per word) as gensim's ft_ngram_hashes."""
    from gensim.models.fasttext import ft_ngram_hashes

    from sktransfer.text._vectors import ngram_hashes

    words = Tokenizer().corpus(news["X_test"]).words
    words += ["café", "naïve", "日本語", "a", "", "x" * 40, "é", "zz_9"]
    word, hashes = ngram_hashes(words, min_n, max_n)
    assert (np.diff(word) >= 0).all()  # word-major
    bounds = np.searchsorted(word, np.arange(len(words) + 1))
    for i, w in enumerate(words):
        got = sorted(hashes[bounds[i] : bounds[i + 1]].tolist())
        assert got == sorted(ft_ngram_hashes(w, min_n, max_n, 2**32)), w


def test_lookup_in_chunks_gives_the_same_vectors(fasttext_wv, monkeypatch):
    vectors = resolve_word_vectors(fasttext_wv)
    words = UNSEEN * 3 + ["hockey"]
    whole = vectors.lookup(words)
    monkeypatch.setattr(type(vectors.subwords), "CHUNK", 4)
    chunked = vectors.lookup(words)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])
