import tracemalloc
import unicodedata
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier


def test_mean_pooling_equals_the_average_glove_vector(glove):
    X = ["the cat sat", "qqqzz dog", "qqqzz"]
    out = EmbeddingVectorizer(glove).fit(["unrelated text"]).transform(X)
    assert out.dtype == np.float32 and out.shape == (3, 50)
    expected = (glove["the"] + glove["cat"] + glove["sat"]) / 3
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)
    np.testing.assert_allclose(out[1], glove["dog"], rtol=1e-6)  # unseen in fit: used
    np.testing.assert_array_equal(out[2], np.zeros(50))  # no known word


def test_decomposed_text_gets_the_vectors_of_its_composed_words(glove):
    composed = ["café québec", "zürich école façade"]
    decomposed = [unicodedata.normalize("NFD", doc) for doc in composed]
    vec = EmbeddingVectorizer(glove).fit(decomposed)
    out = vec.transform(decomposed)
    np.testing.assert_array_equal(out, vec.transform(composed))
    expected = (glove["café"] + glove["québec"]) / 2  # not "cafe", "que", "bec"
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "max", "mean_max"])
def test_a_large_corpus_is_embedded_in_parts(glove, news, monkeypatch, pooling):
    # the whole-corpus tokenization holds ~15 bytes a character at its peak:
    # texts past TRANSFORM_CHARS are embedded in parts, with the same result
    from sktransfer.text import _vectorizer

    docs = news["X_test"]  # 400 texts, 1.1M characters
    weighting = None if pooling == "max" else "tfidf"
    vec = EmbeddingVectorizer(glove, pooling=pooling, weighting=weighting)
    vec.fit(news["X"])

    def transform(limit):
        monkeypatch.setattr(_vectorizer, "TRANSFORM_CHARS", limit)
        tracemalloc.start()
        try:
            return vec.transform(docs), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole, whole_peak = transform(1 << 40)
    in_parts, parts_peak = transform(50_000)
    np.testing.assert_array_equal(in_parts, whole)
    assert parts_peak < whole_peak / 2, (parts_peak, whole_peak)


def test_max_and_mean_max(glove):
    X = ["cat dog"]
    vec = EmbeddingVectorizer(glove, pooling="mean_max").fit(X)
    out = vec.transform(X)
    np.testing.assert_allclose(out[0, 50:], np.maximum(glove["cat"], glove["dog"]))
    np.testing.assert_allclose(
        out[0, :50], (glove["cat"] + glove["dog"]) / 2, rtol=1e-6
    )
    names = vec.get_feature_names_out()
    assert len(names) == 100 and names[0] == "embeddingvectorizer0"


def test_tfidf_weighting(glove):
    train = ["the cat", "the dog", "the bird"]
    vec = EmbeddingVectorizer(glove, weighting="tfidf").fit(train)
    idf = (
        TfidfVectorizer(token_pattern=vec.token_pattern).fit(train).idf_
    )  # bird cat dog the
    w_cat, w_the = idf[1], idf[3]
    expected = (w_cat * glove["cat"] + w_the * glove["the"]) / (w_cat + w_the)
    np.testing.assert_allclose(vec.transform(["the cat"])[0], expected, rtol=1e-5)
    # counts multiply the weight; a word no training document had: df = 0
    w_fish = np.log(4 / 1) + 1
    expected = (2 * w_cat * glove["cat"] + w_fish * glove["fish"]) / (
        2 * w_cat + w_fish
    )
    out = vec.transform(["cat fish cat", "the"])
    np.testing.assert_allclose(out[0], expected, rtol=1e-5)
    np.testing.assert_allclose(out[1], glove["the"], rtol=1e-5)


def test_sif_weights_each_word_by_its_training_frequency(glove):
    # Arora et al.: a word of training frequency p weighs a / (a + p); the
    # weighted sum is divided by the document's number of tokens
    train = ["the cat sat", "the dog sat", "the bird flew", "cat and dog"]
    vec = EmbeddingVectorizer(glove, weighting="sif", sif_alpha=0.1).fit(train)
    p = {"the": 3 / 12, "cat": 2 / 12, "fish": 0.0}  # of 12 training tokens

    def weighted(word):
        return 0.1 / (0.1 + p[word]) * glove[word].astype(np.float64)

    expected = (2 * weighted("cat") + weighted("the") + weighted("fish")) / 4
    u = vec.sif_component_.astype(np.float64)
    expected -= (expected @ u) * u
    out = vec.transform(["cat the cat fish"])[0]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_sif_removes_the_common_component(glove, news):
    vec = EmbeddingVectorizer(glove, weighting="sif").fit(news["X"])
    out = vec.transform(news["X_test"][:50])
    u = vec.sif_component_
    assert np.abs(out @ u).max() < 1e-4
    plain = EmbeddingVectorizer(glove).fit_transform(news["X_test"][:50])
    assert np.abs(plain @ u).max() > 0.1


def test_in_pipeline_feature_union_and_column_transformer(glove, news):
    probe = make_pipeline(EmbeddingVectorizer(glove), LogisticRegression(max_iter=2000))
    probe.fit(news["X"], news["y"])
    assert probe.score(news["X_test"], news["y_test"]) > 0.6  # chance 0.25
    union = FeatureUnion(
        [("glove", EmbeddingVectorizer(glove)), ("tfidf", TfidfVectorizer())]
    ).fit(news["X"])
    assert union.transform(news["X_test"][:5]).shape[1] == 50 + len(
        union.transformer_list[1][1].vocabulary_
    )
    frame = pd.DataFrame({"text": news["X"][:10], "n": np.arange(10)})
    columns = ColumnTransformer([("text", EmbeddingVectorizer(glove), "text")])
    assert columns.fit_transform(frame).shape == (10, 50)


def test_a_column_of_texts_after_an_imputer(glove, news):
    """SimpleImputer fills missing texts and hands on an (n, 1) array: one
    document a row, as a list of the same texts gives."""
    texts = news["X"][:6]
    column = np.array([[t] for t in texts[:5]] + [[None]], dtype=object)
    pipe = make_pipeline(
        SimpleImputer(missing_values=None, strategy="constant", fill_value=""),
        EmbeddingVectorizer(glove),
    )
    expected = EmbeddingVectorizer(glove).fit(texts[:5] + [""])
    np.testing.assert_array_equal(
        pipe.fit_transform(column), expected.transform(texts[:5] + [""])
    )


def test_vectorizer_bad_input(glove):
    with pytest.raises(TypeError, match="single string"):
        EmbeddingVectorizer(glove).fit("one document")
    vec = EmbeddingVectorizer(glove).fit(["a cat"])
    with pytest.raises(TypeError, match="item 0 is a float"):
        vec.transform([1.5])
    with pytest.raises(ValueError, match="one text column"):
        vec.transform(pd.DataFrame({"a": ["x"], "b": ["y"]}))


@pytest.mark.parametrize(
    "docs, match",
    [
        (["这是一个测试文本", "另一个句子"], "None of the 2 distinct words"),
        ([f"zzq{i}x" for i in range(150)], "None of the 150 distinct words"),
        (["!", "?"], "The training texts hold no token"),
    ],
)
def test_texts_without_a_known_word_are_warned_about(glove, docs, match):
    with pytest.warns(UserWarning, match=match + ".*embed as zeros"):
        vectorizer = EmbeddingVectorizer(glove).fit(docs)
    assert not vectorizer.transform(docs).any()
    with warnings.catch_warnings():  # one known word is enough, frequent or not
        warnings.simplefilter("error")
        EmbeddingVectorizer(glove).fit([*docs, "film"])


def test_cased_text_with_lowercase_vectors_is_warned_about(glove, news):
    # lowercase=False on GloVe's lowercase words: every "The" lost its vector,
    # silently (a fifth of the tokens here)
    from gensim.models import KeyedVectors

    docs = [
        " ".join(w.capitalize() if i % 5 == 0 else w for i, w in enumerate(d.split()))
        for d in news["X"]
    ]
    for estimator in (
        EmbeddingVectorizer(glove, lowercase=False),
        PretrainedEmbeddingClassifier(glove, lowercase=False, max_epochs=1),
    ):
        with pytest.warns(UserWarning, match=r"lowercase=False, 1\d% of") as w:
            estimator.fit(docs, news["y"])
        assert "'The'" in str(w[0].message) and w[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clone(estimator).set_params(lowercase=True).fit(docs, news["y"])
    # vectors with cased words too: the words are found as written, no warning
    words = glove.index_to_key[:20000]
    cased = KeyedVectors(vector_size=50)
    cased.add_vectors(words + [w.capitalize() for w in words], glove[words + words])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmbeddingVectorizer(cased, lowercase=False).fit(docs)


@pytest.mark.parametrize(
    "docs",
    [["a good film about space"], ["good film", "zzqx qqxz"], ["good film"] * 2],
)
def test_sif_on_documents_of_one_direction_is_a_clear_error(glove, docs):
    """Removing their common component would leave each of them zeros."""
    with pytest.raises(ValueError, match="span one direction at most"):
        EmbeddingVectorizer(glove, weighting="sif").fit(docs)
    two = EmbeddingVectorizer(glove, weighting="sif").fit(["good film", "bad plot"])
    assert np.linalg.norm(two.transform(["good film"])) > 1e-3  # not float noise


def test_clone_shares_the_word_vectors(glove):
    # a GridSearchCV clones the vectorizer once per fit: deep-copying the
    # vectors (GloVe 50d: 80 MB, 300d: 480 MB) each time would be waste
    vec = EmbeddingVectorizer(glove, weighting="tfidf")
    assert clone(vec).embeddings is glove
    assert clone(vec).get_params()["weighting"] == "tfidf"


def test_a_fitted_classifier_lends_its_fine_tuned_vectors(glove, news):
    # the classifier's word vectors, fine-tuned on its data, for its words;
    # the vectors it started from for the others
    source = PretrainedEmbeddingClassifier(
        glove, transfer="fine_tune", max_epochs=3, lr=0.05, random_state=0
    ).fit(news["X"], news["y"])
    table = source.net_.module_.backbone.weight.detach().numpy()
    word = next(w for w in ("space", "god", "car", "game") if w in source.vocabulary_)
    tuned = table[source.vocabulary_[word]]
    assert not np.allclose(tuned, glove[word])  # fine-tuning moved it
    unseen = "astronaut"
    assert unseen not in source.vocabulary_
    vec = EmbeddingVectorizer(source).fit(news["X"])
    out = vec.transform([word, unseen, f"{word} {unseen}"])
    np.testing.assert_allclose(out[0], tuned, rtol=1e-6)
    np.testing.assert_allclose(out[1], glove[unseen], rtol=1e-6)
    np.testing.assert_allclose(out[2], (tuned + glove[unseen]) / 2, rtol=1e-5)
    assert clone(vec).embeddings is source  # shared, not refitted or copied


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_max_length_keeps_the_first_tokens_with_a_vector(glove, pooling):
    # "zzqx" has no vector: the first two tokens with one are good and film
    vec = EmbeddingVectorizer(glove, pooling=pooling, max_length=2)
    out = vec.fit(["a film"]).transform(["zzqx good film space"])[0]
    pair = np.stack([glove["good"], glove["film"]])
    expected = pair.mean(0) if pooling == "mean" else pair.max(0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_parameters_the_pooling_ignores_are_warned_about(glove):
    X = ["a good film", "a bad film"]
    with pytest.warns(UserWarning, match="weighting='tfidf' has no effect with"):
        ignored = EmbeddingVectorizer(glove, weighting="tfidf", pooling="max").fit(X)
    plain = EmbeddingVectorizer(glove, pooling="max").fit(X)
    np.testing.assert_array_equal(ignored.transform(X), plain.transform(X))
    with pytest.warns(UserWarning, match="sif_alpha=0.01 has no effect with"):
        EmbeddingVectorizer(glove, sif_alpha=0.01).fit(X)
    # nor is SIF's common component computed (which needs two directions)
    with pytest.warns(UserWarning, match="weighting='sif' has no effect with"):
        one = EmbeddingVectorizer(glove, weighting="sif", pooling="max").fit(X[:1])
    np.testing.assert_array_equal(one.transform(X), plain.transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmbeddingVectorizer(glove, weighting="tfidf", pooling="mean_max").fit(X)
