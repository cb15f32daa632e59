"""Property-based tests: arbitrary input gives a result or the documented error."""

import bz2
import gzip
import lzma
import math
import unicodedata
import zipfile
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sktransfer import FineTunedCNNClassifier
from sktransfer.text import _corpus
from sktransfer.text._corpus import Corpus, KnownWords
from sktransfer.text._formats import FASTTEXT_MAGIC, read_vectors_file
from sktransfer.text._tokenize import Tokenizer, validate_texts
from sktransfer.vision._images import infer_image_shape

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# random bytes are seldom UTF-8: the parser's warning about them is its answer
@pytest.mark.filterwarnings("ignore:.*U\\+FFFD marks bytes:UserWarning")
@FUZZ
@given(
    content=st.binary(max_size=400),
    suffix=st.sampled_from([".txt", ".vec", ".bin"]),
    # a fastText model's start, a pickle's (gensim's .save), a header's
    prefix=st.sampled_from([b"", FASTTEXT_MAGIC, b"\x80\x04", b"3 4\n"]),
    packed=st.sampled_from([None, "gzip", "bz2", "xz", "zip", "cut"]),
)
def test_vector_file_parser(tmp_path, content, suffix, prefix, packed):
    path = tmp_path / f"fuzz{suffix}"
    data = prefix + content
    if packed == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("fuzz.txt", data)
        data = path.read_bytes()
    elif packed == "cut":  # a compressed file cut short
        data = gzip.compress(data)[: max(2, len(data) // 2)]
    elif packed is not None:
        data = {"gzip": gzip, "bz2": bz2, "xz": lzma}[packed].compress(data)
    path.write_bytes(data)
    try:
        words, vectors, _ = read_vectors_file(path)
    except ValueError:
        return  # the documented answer to a bad file
    assert len(words) == len(vectors) > 0 and vectors.dtype == np.float32
    assert len(set(words)) == len(words)


@FUZZ
@given(
    words=st.lists(
        st.text(alphabet="abcxyz", min_size=1, max_size=5),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    dim=st.integers(1, 4),
    data=st.data(),
)
def test_valid_text_files_round_trip(tmp_path, words, dim, data):
    values = data.draw(
        st.lists(
            st.floats(-1e3, 1e3, width=32),
            min_size=dim * len(words),
            max_size=dim * len(words),
        )
    )
    matrix = np.array(values, dtype=np.float32).reshape(len(words), dim)
    lines = [
        f"{w} " + " ".join(repr(float(v)) for v in row)
        for w, row in zip(words, matrix, strict=True)
    ]
    path = tmp_path / "ok.txt"
    path.write_text("\n".join(lines) + "\n")
    got_words, got, subwords = read_vectors_file(path)
    assert subwords is None
    assert got_words == words
    np.testing.assert_array_equal(got, matrix)


@FUZZ
@given(
    docs=st.lists(st.text(max_size=50), min_size=1, max_size=5),
    lowercase=st.booleans(),
    max_length=st.sampled_from([None, 1, 3, 7]),
    span=st.integers(1, 8),
)
def test_tokenizer(docs, lowercase, max_length, span):
    tokenize = Tokenizer(lowercase=lowercase)
    token_lists = [tokenize(doc) for doc in validate_texts(docs, "fuzz")]
    assert all(
        isinstance(t, str) and len(t) >= 2 for tokens in token_lists for t in tokens
    )
    corpus = Corpus.from_token_lists(token_lists)
    # every third word unknown (id 0): dropped from the matrix
    vocabulary = {t: (i + 1) * (i % 3 > 0) for i, t in enumerate(sorted(corpus.words))}
    word_ids = np.array([vocabulary[w] for w in corpus.words], dtype=np.int64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_corpus, "SPAN_TOKENS", span)  # filled in spans of documents
        ids = corpus.token_rows(word_ids, max_length=max_length)
    expected = [
        [vocabulary[t] for t in tokens if vocabulary[t]][:max_length]
        for tokens in token_lists
    ]
    assert ids.values.dtype == np.int32
    assert ids.tolist() == expected
    # batches padded to their longest row; any rows, in any order
    order = list(reversed(range(len(docs)))) + [0]
    for batch, index in [
        (ids[0 : len(docs)], range(len(docs))),
        (ids[torch.tensor(order)], order),
        (ids.take(order)[0 : len(order)], order),
    ]:
        rows = [expected[i] for i in index]
        width = max(1, *map(len, rows))
        assert batch.tolist() == [row + [0] * (width - len(row)) for row in rows]


def _texts(alphabet):
    """Texts mostly of ``alphabet``'s characters, sometimes of any."""
    return st.text(alphabet=st.sampled_from(alphabet), max_size=60) | st.text(
        max_size=40
    )


ASCII_TEXT = _texts("aAbBzZ09_ \n\t.,-'\x00é")
ACCENTED_TEXT = _texts("ae ÉéèçÅåñ\u0301\u0300\u0327ǅﬁ한국")


@FUZZ
@given(
    docs=st.lists(ASCII_TEXT, min_size=1, max_size=6),
    lowercase=st.booleans(),
    pattern=st.sampled_from([r"(?u)\b\w\w+\b", r"\b\w+\b"]),
)
def test_corpus_equals_the_regular_expression(docs, lowercase, pattern):
    # the numpy path (ASCII documents) and the regex path give the same tokens
    tokenize = Tokenizer(lowercase=lowercase, token_pattern=pattern)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_corpus, "NUMPY_FROM", 0)  # numpy however short the text
        corpus = tokenize.corpus(docs)
        patch.setattr(_corpus, "SPAN_TOKENS", 3)  # counted in spans of documents
        df, counts = corpus.document_frequencies(), corpus.counts()
    token_lists = [tokenize(doc) for doc in docs]
    assert corpus.token_lists() == token_lists
    assert len(set(corpus.words)) == len(corpus.words)
    assert corpus.by_word(df) == dict(Counter(t for ts in token_lists for t in set(ts)))
    assert corpus.by_word(counts) == dict(Counter(sum(token_lists, [])))


@FUZZ
@given(st.lists(ACCENTED_TEXT, min_size=1, max_size=6), st.booleans(), st.booleans())
def test_every_unicode_form_of_a_text_gets_its_tokens(docs, lowercase, by_numpy):
    # composed, decomposed or mixed: canonically equivalent texts, one tokenization
    numpy_from = 0 if by_numpy else 1 << 30
    tokenize = Tokenizer(lowercase=lowercase)
    forms = [[unicodedata.normalize(f, doc) for doc in docs] for f in ("NFC", "NFD")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_corpus, "NUMPY_FROM", numpy_from)
        composed, decomposed = (tokenize.corpus(form).token_lists() for form in forms)
    assert decomposed == composed == [tokenize(doc) for doc in docs]


@FUZZ
@given(
    docs=st.lists(ASCII_TEXT, min_size=1, max_size=6),
    known_docs=st.lists(ASCII_TEXT, max_size=6),
    lowercase=st.booleans(),
)
def test_known_words_are_found_exactly(docs, known_docs, lowercase):
    # tokens of the known words get their index, every other token a new id
    tokenize = Tokenizer(lowercase=lowercase)
    words = list(dict.fromkeys(t for doc in known_docs for t in tokenize(doc)))
    known = KnownWords(words)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_corpus, "NUMPY_FROM", 0)  # numpy however short the text
        corpus = tokenize.corpus(docs, known=known)
    assert corpus.token_lists() == [tokenize(doc) for doc in docs]
    assert corpus.words[: corpus.n_known] == words
    for token_id in corpus.ids.tolist():
        word = corpus.words[token_id]
        in_table = word in words and len(word.encode("utf-8", "surrogatepass")) <= 32
        assert (token_id < corpus.n_known) == in_table


@FUZZ
@given(
    items=st.lists(
        st.one_of(st.none(), st.integers(), st.binary(), st.floats()),
        min_size=1,
        max_size=4,
    )
)
def test_non_text_items_are_refused(items):
    with pytest.raises(TypeError, match="expects documents as strings"):
        validate_texts(items, "fuzz")


@FUZZ
@given(n=st.integers(1, 100_000))
def test_image_shape_inference(n):
    shape = infer_image_shape(n)
    assert len(shape) == 3 and shape[0] == 1 and math.prod(shape) == n


@settings(max_examples=30, deadline=None)
@given(
    n_features=st.integers(1, 30),
    image_shape=st.one_of(
        st.none(),
        st.tuples(st.integers(-1, 5), st.integers(-1, 5)),
        st.tuples(st.integers(1, 3), st.integers(0, 5), st.integers(1, 5)),
    ),
)
def test_image_shape_parameter(n_features, image_shape):
    X = np.random.RandomState(0).rand(6, n_features)
    clf = FineTunedCNNClassifier(
        image_shape=image_shape, max_epochs=1, device="cpu", random_state=0
    )
    try:
        clf.fit(X, [0, 1] * 3)
    except ValueError as exc:
        assert "image_shape" in str(exc)
        return
    assert math.prod(clf.image_shape_) == n_features
    assert clf.predict(X).shape == (6,)
