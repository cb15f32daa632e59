"""Whole-corpus tokenization by numpy (``sktransfer.text._corpus``)."""

import itertools
import tracemalloc
import unicodedata
from collections import Counter

import numpy as np
import pytest
import torch

from sktransfer.text import _corpus
from sktransfer.text._tokenize import Tokenizer


@pytest.fixture(autouse=True)
def numpy_path(monkeypatch):
    """Tokenize by numpy however short the text."""
    monkeypatch.setattr(_corpus, "NUMPY_FROM", 0)


def test_real_documents_tokenize_as_the_regular_expression(news):
    docs = news["X_test"][:300] + ["naïve café " + news["X"][0]]  # one non-ASCII
    tokenize = Tokenizer()
    corpus = tokenize.corpus(docs)
    token_lists = [tokenize(doc) for doc in docs]
    assert corpus.token_lists() == token_lists
    lengths = Counter(min(len(t), 33) for t in corpus.words)
    # every path of the numpy tokenizer is exercised: <= 8, 9-32 and > 32 bytes
    assert lengths[4] > 100 and lengths[12] > 10 and lengths[33] > 0
    counts = Counter(t for tokens in token_lists for t in tokens)
    assert corpus.by_word(corpus.counts()) == dict(counts)
    assert len(corpus.words) == len(counts)


def test_a_shared_hash_falls_back_to_exact_ids():
    # ((lo * MIX) ^ hi) * MIX is the same for the first two keys
    mix = _corpus._MIX
    lo = np.array([5, 6, 5], np.uint64)
    hi = np.ones(3, np.uint64)
    hi[1:2] = (lo[:1] * mix) ^ hi[:1] ^ (lo[1:2] * mix)  # arrays wrap silently
    zeros = np.zeros(3, np.uint64)
    chunks = [lo, hi, zeros, zeros]
    hashed = np.zeros(3, np.uint64)
    for chunk in chunks:
        hashed = (hashed ^ chunk) * mix
    assert hashed[0] == hashed[1]
    ids, keys = _corpus._factorize_wide(chunks)
    assert ids[0] == ids[2] != ids[1] and len(keys) == 2
    as_ints = keys.view("<u8").reshape(-1, 4)
    np.testing.assert_array_equal(as_ints[ids], np.stack(chunks, axis=1))


def test_hash_table_finds_every_value_including_zero():
    values = np.array([0, 1, 2, 7, 2**64 - 1, 2**63], np.uint64)
    table = _corpus._HashTable(np.sort(values))
    queries = np.repeat(values, 3)
    np.testing.assert_array_equal(np.sort(values)[table.find(queries)], queries)


def test_values_that_share_slots_fall_back_to_a_bounded_search():
    # 1,000 hashes with the same top bits share one home slot: linear probing
    # would need 1,000 vectorised passes
    values = np.arange(1000, dtype=np.uint64)
    assert _corpus._HashTable(values).crowded
    for shared in (values, values + 1):  # with and without 0, the empty mark
        hashed = np.concatenate((shared[::-1], shared[::7]))
        ids, distinct = _corpus._hash_ids(hashed)
        np.testing.assert_array_equal(distinct[ids], hashed)
        assert len(distinct) == 1000


def test_hash_ids_factorize_real_tokens_as_np_unique_does(news):
    text = "\n".join(news["X"] + news["X_test"]).lower().encode()
    words = np.frombuffer(text.translate(_corpus._WORD_BYTE), dtype=bool)
    starts, lengths = _corpus._runs(words, 2)
    octets = _corpus._octets(text + bytes(_corpus._KEY_BYTES))
    hashed = _corpus._first_octets(octets, starts, lengths) * _corpus._MIX
    assert len(hashed) > 1 << 16  # the distinct values are counted, not assumed
    ids, distinct = _corpus._hash_ids(hashed)
    np.testing.assert_array_equal(distinct[ids], hashed)
    assert len(distinct) == len(np.unique(hashed))
    assert 0.95 < _corpus._distinct_estimate(hashed) / len(distinct) < 1.05


def test_known_words_are_found_by_hash_and_the_others_factorized(news):
    tokenize = Tokenizer()
    fitted = tokenize.corpus(news["X"][:200])
    long_word = "x" * 40  # over 32 bytes: left to the factorizing path
    vocabulary = fitted.words[::2] + ["naïve", "réconciliation", long_word]
    known = _corpus.KnownWords(vocabulary)
    docs = news["X_test"][:200] + [f"naïve réconciliation {long_word} café"]
    corpus = tokenize.corpus(docs, known=known)
    assert corpus.token_lists() == [tokenize(doc) for doc in docs]
    assert corpus.n_known == len(vocabulary)
    assert corpus.words[: corpus.n_known] == vocabulary
    tokens = [t for tokens in corpus.token_lists() for t in tokens]
    in_vocabulary = np.array([t in set(vocabulary[:-1]) for t in tokens])
    # every known word of up to 32 bytes is found in the table, not factorized
    np.testing.assert_array_equal(corpus.ids < corpus.n_known, in_vocabulary)
    assert corpus.words.index(long_word, corpus.n_known) >= corpus.n_known


def test_hash_table_get_says_minus_one_for_values_it_lacks():
    values = np.array([0, 2, 3, 2**63, 2**64 - 1], np.uint64)
    table = _corpus._HashTable(values, labels=np.array([10, 20, 30, 40, 50]))
    # 0 is in the table and also what its empty slots hold
    queries = np.array([3, 1, 0, 4, 2**64 - 1, 2**64 - 2, 2], np.uint64)
    np.testing.assert_array_equal(table.get(queries), [30, -1, 10, -1, 50, -1, 20])
    crowded = _corpus._HashTable(np.arange(1000, dtype=np.uint64))
    assert crowded.crowded
    queries = np.array([999, 1000, 0, 2**64 - 1], np.uint64)
    np.testing.assert_array_equal(crowded.get(queries), [999, -1, 0, -1])


def test_a_hash_shared_by_two_known_words_finds_neither():
    # the table keeps hashes that occur once: a token with a shared hash is
    # then factorized with the unknown tokens (slower, never wrong)
    table = _corpus._labelled_table(np.array([7, 5, 5], np.uint64), np.array([0, 1, 2]))
    np.testing.assert_array_equal(table.get(np.array([5, 7], np.uint64)), [-1, 0])


def test_hash_ids_with_a_zero_hash_beside_few_values():
    # 0 marks an empty slot of the open-addressing table: np.unique answers
    hashed = np.array([0, 5, 0, 2**63, 5], np.uint64)
    ids, distinct = _corpus._hash_ids(hashed)
    np.testing.assert_array_equal(distinct[ids], hashed)
    assert len(distinct) == 3


def test_a_known_word_sharing_a_tokens_hash_is_not_taken_for_it():
    word = b"abcdefghijklmnop"  # 16 bytes: hashed from two 8-byte chunks
    lo_word, hi_word = (int.from_bytes(word[i : i + 8], "little") for i in (0, 8))
    lo = int.from_bytes(b"zbcdefgh", "little")
    mix = int(_corpus._MIX)
    hi = ((lo_word * mix) ^ hi_word ^ (lo * mix)) % 2**64  # same hash, other bytes
    other = lo.to_bytes(8, "little") + hi.to_bytes(8, "little")
    chunks = [np.array([a, b], np.uint64) for a, b in ((lo_word, lo), (hi_word, hi))]
    hashed = _corpus._wide_hash(chunks + [np.zeros(2, np.uint64)] * 2)
    assert hashed[0] == hashed[1]
    known = _corpus.KnownWords([word.decode(), "abc"])
    buffer = word + other + bytes(_corpus._KEY_BYTES)
    ids = known.find(buffer, np.array([0, 16, 0]), np.array([16, 16, 3]))
    np.testing.assert_array_equal(ids, [0, -1, 1])


def test_a_short_text_goes_through_the_regular_expression(news, monkeypatch):
    tokenize = Tokenizer()
    known = _corpus.KnownWords(tokenize.corpus(news["X"][:50]).words)
    docs = [news["X_test"][0][:3000], "Naïve CAFÉ zzqxv"]
    by_numpy = tokenize.corpus(docs, known=known)
    monkeypatch.setattr(_corpus, "NUMPY_FROM", 8192)
    by_regex = tokenize.corpus(docs, known=known)
    assert by_numpy.n_known == len(known.words) and by_regex.n_known == 0
    assert by_regex.token_lists() == by_numpy.token_lists() == list(map(tokenize, docs))
    assert tokenize.corpus(news["X_test"][:20], known=known).n_known > 0  # numpy


@pytest.mark.parametrize("numpy_from", [0, 8192])  # by numpy, by the regex
def test_decomposed_text_tokenizes_as_composed(news, monkeypatch, numpy_from):
    # "e" + a combining accent (NFD, as macOS file names hold it) is the same
    # text as "è": the same tokens, not "cre" and "me"
    monkeypatch.setattr(_corpus, "NUMPY_FROM", numpy_from)
    composed = ["Crème brûlée à Zürich, naïve résumé", news["X"][0][:500] + " café"]
    decomposed = [unicodedata.normalize("NFD", doc) for doc in composed]
    assert decomposed != composed
    tokenize = Tokenizer()
    tokens = tokenize.corpus(composed).token_lists()
    assert tokens[0] == ["crème", "brûlée", "zürich", "naïve", "résumé"]
    assert tokenize.corpus(decomposed).token_lists() == tokens
    assert list(map(tokenize, decomposed)) == tokens
    known = _corpus.KnownWords(tokenize.corpus(composed).words)
    assert tokenize.corpus(decomposed, known=known).token_lists() == tokens


def test_a_large_corpus_is_tokenized_in_parts_at_once(news, monkeypatch):
    tokenize = Tokenizer()
    docs = news["X_test"][:300] + ["naïve café " + news["X"][0]]
    whole = tokenize.corpus(docs)
    known = _corpus.KnownWords(whole.words[::3])
    monkeypatch.setattr(_corpus, "THREADS_FROM", 0)
    monkeypatch.setattr(_corpus, "THREAD_CHARS", 1000)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # as many parts as torch may use threads
    try:
        parts = _corpus._parts(docs, sum(map(len, docs)))
        in_parts = tokenize.corpus(docs)
        with_known = tokenize.corpus(docs, known=known)
    finally:
        torch.set_num_threads(threads)
    assert len(parts) == 3 and [d for part in parts for d in part] == docs
    assert in_parts.token_lists() == whole.token_lists()
    assert len(set(in_parts.words)) == len(in_parts.words) == len(whole.words)
    df = in_parts.by_word(in_parts.document_frequencies())
    assert df == whole.by_word(whole.document_frequencies())
    assert with_known.token_lists() == whole.token_lists()
    assert with_known.words[: with_known.n_known] == known.words


@pytest.mark.parametrize("threads", [1, 2])
def test_parts_hold_at_most_part_chars_however_many_threads(news, threads):
    # numpy's passes hold ~15 bytes a character at their peak: a corpus past
    # PART_CHARS goes in more parts than threads, a few at a time
    tokenize = Tokenizer()
    docs = news["X_test"]
    whole = tokenize.corpus(docs)
    n_chars = sum(map(len, docs))  # 0.5M
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_corpus, "PART_CHARS", 100_000)
            parts = _corpus._parts(docs, n_chars)
            in_parts = tokenize.corpus(docs)
    finally:
        torch.set_num_threads(saved)
    assert len(parts) == -(-n_chars // 100_000) > threads
    assert [d for part in parts for d in part] == docs
    assert max(sum(map(len, part)) for part in parts) < 100_000 + max(map(len, docs))
    assert in_parts.token_lists() == whole.token_lists()
    assert in_parts.by_word(in_parts.counts()) == whole.by_word(whole.counts())


def test_document_frequencies_with_keys_past_32_bits():
    # 2**20 documents x 3,000 words: (document, word) keys need 64 bits
    words = [f"w{i}" for i in range(3000)]
    doc = np.array([0, 0, 5, 5, 5, 2**20 - 1, 2**20 - 1])
    ids = np.array([2999, 2999, 0, 7, 2999, 7, 0])
    corpus = _corpus.Corpus(words, ids, doc, 2**20)
    df = corpus.document_frequencies()
    assert df.sum() == 6 and df[2999] == 2 and df[7] == 2 and df[0] == 2
    small = _corpus.Corpus(words[:3], np.array([2, 2, 0]), np.array([0, 0, 1]), 2)
    assert small.document_frequencies().tolist() == [1, 0, 1]
    empty = _corpus.Corpus([], np.zeros(0, np.int64), np.zeros(0, np.int64), 3)
    assert empty.document_frequencies().tolist() == []


def test_counts_and_id_matrix_in_spans_of_documents_hold_little_memory(news):
    # (document, word) pairs, counts and the id matrix go SPAN_TOKENS tokens at
    # a time, whole documents each: the same numbers, and memory for a span
    # (besides what they return), not for the corpus
    corpus = Tokenizer().corpus(news["X_test"] * 10)
    assert corpus.ids.dtype == corpus.doc.dtype == np.int32  # half of int64
    bounds = np.searchsorted(corpus.doc, np.arange(corpus.n_docs + 1))
    df, counts, rows = Counter(), Counter(), []
    word_ids = np.arange(1, len(corpus.words) + 1) * (
        np.arange(len(corpus.words)) % 5 > 0
    )
    for a, b in itertools.pairwise(bounds.tolist()):
        df.update(set(corpus.ids[a:b].tolist()))
        counts.update(corpus.ids[a:b].tolist())
        rows.append([i for i in word_ids[corpus.ids[a:b]].tolist() if i][:100])
    n_tokens = len(corpus.ids)  # 0.8M
    peaks = {}
    for span in (n_tokens, 8192):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_corpus, "SPAN_TOKENS", span)
            spans = list(corpus._spans(span, corpus.n_docs))
            tracemalloc.start()
            try:
                got_df, got_counts = corpus.document_frequencies(), corpus.counts()
                ids = corpus.token_rows(word_ids, max_length=100)
                peaks[span] = tracemalloc.get_traced_memory()[1] - ids.nbytes
            finally:
                tracemalloc.stop()
        assert got_df.tolist() == [df[i] for i in range(len(corpus.words))]
        assert got_counts.tolist() == [counts[i] for i in range(len(corpus.words))]
        assert ids.tolist() == rows
        assert [a for a, _ in spans[1:]] == [b for _, b in spans[:-1]]
        assert all(a in bounds for a, _ in spans)  # whole documents
    assert len(spans) > 50
    assert peaks[8192] < peaks[n_tokens] / 4
