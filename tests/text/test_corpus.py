"""Whole-corpus tokenization by numpy (``sktransfer.text._corpus``)."""

from collections import Counter

import numpy as np

from sktransfer.text import _corpus
from sktransfer.text._tokenize import Tokenizer


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
    hashed = np.concatenate((values[::-1], values[::7]))
    ids, distinct = _corpus._hash_ids(hashed)
    np.testing.assert_array_equal(distinct[ids], hashed)
