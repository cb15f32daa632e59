"""Documents as arrays of word ids, tokenized without per-token Python work.

:meth:`Tokenizer.corpus <sktransfer.text._tokenize.Tokenizer.corpus>` returns a
:class:`Corpus`. For sklearn's default token pattern (and ``\\b\\w+\\b``), from
:data:`NUMPY_FROM` characters on, numpy tokenizes the whole corpus at once:
word characters are looked up by a byte table (ASCII, Latin-1) or once per
distinct other character, and tokens are the runs of them. A token of up to 8
UTF-8 bytes is one little-endian ``uint64``, one of up to 32 bytes four; each
is hashed to 64 bits (exactly, up to 8 bytes; checked, up to 32), and every
token claims a slot of an open-addressing table, all at once, in a few
vectorised passes: its id is its slot's rank, with no sort. Longer tokens go
through a dict, and custom patterns or tokenizers (and shorter texts) through
the regular expression, with the same result.

At prediction time the words of the fitted vocabulary are known in advance:
:class:`KnownWords` hashes them once, and each token that is one of them gets
its index by a table lookup, with no sort and no str built; only the others
are factorized as above.
"""

import dataclasses
import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from sktransfer._batches import RaggedRows

RUN_PATTERNS = {r"(?u)\b\w\w+\b": 2, r"\b\w\w+\b": 2, r"(?u)\b\w+\b": 1, r"\b\w+\b": 1}
"""Token patterns that mean "runs of at least k word characters", by k."""

_WORD_BYTE = bytes(
    c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    for c in range(256)
)  # bytes.translate table: 1 for an ASCII word character, 0 otherwise
_LATIN_1_WORD = bytes(chr(c).isalnum() or c == 95 for c in range(256))
"""The same for a Latin-1 character (``\\w`` is ``str.isalnum()`` or ``"_"``)."""
_LOW_BYTES = np.array(
    [(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64
)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_MIX_INVERSE = np.uint64(pow(int(_MIX), -1, 2**64))
_KEY_BYTES = 32
THREADS_FROM = 1 << 23
"""Characters in all from which numpy tokenizes parts of the corpus in threads
at once (numpy releases the GIL; merging the parts' words costs a dict pass,
more than threads save on smaller corpora). The 20 Newsgroups training set,
16.5M characters: 442 ms in one thread, 299 ms in two."""
THREAD_CHARS = 1 << 22
"""Characters at least per thread."""
PART_CHARS = 1 << 24
"""Characters at most in a part tokenized at once (16M): numpy's passes hold
about 15 bytes a character at their peak. Ten times the 20 Newsgroups test
set, 107M characters, peaked at 1.6 GB in two parts (two threads), at 0.8 GB
in seven (two at a time)."""
SPAN_TOKENS = 1 << 20
"""Tokens (whole documents) at a time that a corpus' word counts and its id
matrix are worked out from: memory for those, not for the whole corpus."""
NUMPY_FROM = 8192
"""Characters in all from which numpy tokenizes. Each of its passes costs
microseconds however short the text, so below this the regular expression is
faster: one 20 Newsgroups post takes it 0.13 ms against numpy's 1.08 ms, and
the two break even near 10,000 characters."""


@dataclasses.dataclass
class Corpus:
    """Tokenized documents: token ``t`` is ``words[ids[t]]`` in document ``doc[t]``.

    ``doc`` is non-decreasing and tokens keep their order within a document.
    ``ids`` and ``doc`` are int32 (every word and document number fits: a
    corpus of 2**31 words or documents would not fit in memory), half the
    memory of int64 that a fit holds them in while it builds the model.
    """

    words: list
    ids: np.ndarray
    doc: np.ndarray
    n_docs: int
    n_known: int = 0
    """The first ``n_known`` words are those of the :class:`KnownWords` the
    corpus was tokenized with, whether the documents hold them or not."""

    def __post_init__(self):
        self.ids = self.ids.astype(np.int32, copy=False)
        self.doc = self.doc.astype(np.int32, copy=False)

    @classmethod
    def from_token_lists(cls, token_lists):
        """A corpus of already tokenized documents (lists of str)."""
        index = {}
        ids = np.fromiter(
            (index.setdefault(t, len(index)) for t in itertools.chain(*token_lists)),
            dtype=np.int32,
        )
        lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        doc = np.repeat(np.arange(len(token_lists), dtype=np.int32), lengths)
        return cls(list(index), ids, doc, len(token_lists))

    def by_word(self, values):
        """``{word: value}`` of an array aligned with ``words``."""
        return dict(zip(self.words, np.asarray(values).tolist(), strict=True))

    def token_lists(self):
        """The documents as lists of str (for tests and debugging)."""
        bounds = np.searchsorted(self.doc, np.arange(self.n_docs + 1, dtype=np.int32))
        words = [self.words[i] for i in self.ids.tolist()]
        return [words[a:b] for a, b in itertools.pairwise(bounds.tolist())]

    def document_frequencies(self):
        """Number of documents each word occurs in, aligned with ``words``.

        The distinct (document, word) pairs of consecutive whole documents,
        about :data:`SPAN_TOKENS` tokens at a time, are found by sorting them
        as one 32-bit key each: the key of all the tokens at once needed 64
        bits past 2**31 / ``len(words)`` documents, and its sort held about
        17 bytes a token (ten times the 20 Newsgroups test set, 18.4M tokens:
        310 MB, 0.93 s; so, 0.3 s).
        """
        n_words = max(len(self.words), 1)
        df = np.zeros(len(self.words), dtype=np.int64)
        for a, b in self._spans(SPAN_TOKENS, (2**31 - 1) // n_words):
            pairs = self.doc[a:b] - self.doc[a]
            pairs *= n_words
            pairs += self.ids[a:b]
            pairs.sort()
            new = np.ones(len(pairs), dtype=bool)
            np.not_equal(pairs[1:], pairs[:-1], out=new[1:])
            df += np.bincount(pairs[new] % n_words, minlength=len(self.words))
        return df

    def _spans(self, n_tokens, max_docs):
        """``(start, stop)`` of consecutive token spans of whole documents:
        about ``n_tokens`` tokens (a longer document alone) and at most
        ``max_docs`` documents each."""
        a, end = 0, len(self.ids)
        while a < end:
            b = min(a + n_tokens, end)
            if b < end:  # back to the start of the document cut at b
                b = int(np.searchsorted(self.doc, self.doc[b]))
            # searched as an int32, like doc: a Python int copies doc to int64
            past = np.int32(min(int(self.doc[a]) + max_docs, self.n_docs))
            b = min(b, int(np.searchsorted(self.doc, past)))
            if b == a:  # one document of more than n_tokens tokens
                b = int(np.searchsorted(self.doc, self.doc[a], side="right"))
            yield a, b
            a = b

    def counts(self):
        """Occurrences of each word, aligned with ``words`` (counted
        :data:`SPAN_TOKENS` tokens at a time: ``np.bincount`` copies its
        input to int64)."""
        counts = np.zeros(len(self.words), dtype=np.int64)
        for a in range(0, len(self.ids), SPAN_TOKENS):
            counts += np.bincount(
                self.ids[a : a + SPAN_TOKENS], minlength=len(self.words)
            )
        return counts

    def select(self, word_values, max_length=None, span=(0, None)):
        """Tokens whose word maps to a value ``>= 0``, at most ``max_length`` each.

        Parameters
        ----------
        word_values : ndarray of int, aligned with ``words``
            What each word becomes (a vocabulary id, a matrix row); ``-1`` drops
            the word.
        max_length : int or None
            Keep the first ``max_length`` kept tokens of each document.
        span : (int, int or None)
            The tokens to select among (whole documents, as :meth:`_spans`).

        Returns
        -------
        doc, position, value : ndarrays of shape (n_kept,)
            Document, position among the kept tokens of that document, value.
        """
        a, b = span
        values = np.asarray(word_values).astype(np.int32, copy=False)[self.ids[a:b]]
        keep = values >= 0
        doc, values = self.doc[a:b][keep], values[keep]
        index = np.int32 if len(doc) < 2**31 else np.int64
        low, high = (int(doc[0]), int(doc[-1]) + 1) if len(doc) else (0, 0)
        # int32 keys, as doc: int64 ones would copy doc to int64 to search it
        first = np.searchsorted(doc, np.arange(low, high, dtype=np.int32))
        position = np.arange(len(doc), dtype=index)
        position -= first.astype(index)[doc - low]
        if max_length:
            short = position < max_length
            doc, position, values = doc[short], position[short], values[short]
        return doc, position, values

    def token_rows(self, word_ids, max_length=None):
        """Each document's ``word_ids`` as :class:`~sktransfer._batches.RaggedRows`
        (int32), padded per batch.

        Words with id 0 (unknown) are dropped; each document keeps its first
        ``max_length`` known tokens. int32, which every id fits (a table of
        2**31 rows would not fit in memory), and which torch's embedding
        lookups take as they take int64. Worked out :data:`SPAN_TOKENS`
        tokens at a time: selecting all of them at once held about 20 bytes a
        token besides the result.
        """
        word_values = np.asarray(word_ids).astype(np.int32, copy=False) - 1
        lengths = np.zeros(self.n_docs, np.int64)
        values = []
        for span in self._spans(SPAN_TOKENS, self.n_docs):
            doc, _, kept = self.select(word_values, max_length, span)
            kept += 1
            values.append(kept)
            if len(doc):
                first = int(doc[0])
                lengths[first : int(doc[-1]) + 1] = np.bincount(doc - first)
        values = np.concatenate(values) if values else np.zeros(0, np.int32)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        return RaggedRows(values, offsets)


def tokenize_corpus(docs, tokenize, lowercase, min_run, known=None):
    """:class:`Corpus` of ``docs``.

    ``tokenize(doc)`` is the regular-expression tokenizer; ``min_run`` (from
    :data:`RUN_PATTERNS`, or None) says that it keeps the runs of at least
    ``min_run`` word characters, which numpy finds instead from
    :data:`NUMPY_FROM` characters on. ``known`` (:class:`KnownWords`, numpy
    path only: a short text ignores it) puts its words first in the corpus'
    words and finds the tokens among them by hash. A corpus of
    :data:`THREADS_FROM` characters or more is tokenized in parts, in threads
    at once (:func:`_parts`).
    """
    n_chars = sum(map(len, docs))
    if min_run is None or n_chars < NUMPY_FROM:
        return Corpus.from_token_lists([tokenize(doc) for doc in docs])
    parts = _parts(docs, n_chars)
    if len(parts) == 1:
        return _numpy_corpus(docs, lowercase, min_run, known)
    with ThreadPoolExecutor(min(len(parts), torch.get_num_threads())) as pool:
        corpora = pool.map(
            lambda part: _numpy_corpus(part, lowercase, min_run, known), parts
        )
        return _concatenated(list(corpora))


def _parts(docs, n_chars):
    """``docs`` in consecutive parts to tokenize in threads at once: one part
    per :data:`THREAD_CHARS` characters, as many as torch may use threads, and
    ``[docs]`` below :data:`THREADS_FROM` characters; parts of at most
    :data:`PART_CHARS` characters, however many threads."""
    threads = torch.get_num_threads()
    n_parts = min(threads, n_chars // THREAD_CHARS) if n_chars >= THREADS_FROM else 1
    return split_by_characters(docs, max(n_parts, -(-n_chars // PART_CHARS)), n_chars)


def split_by_characters(docs, n_parts, n_chars=None):
    """``docs`` in at most ``n_parts`` consecutive parts of about as many
    characters each (``n_chars``: all of them, if known)."""
    if n_parts < 2:
        return [docs]
    ends = np.cumsum(np.fromiter(map(len, docs), np.int64, len(docs)))
    n_chars = int(ends[-1]) if n_chars is None else n_chars
    cuts = np.searchsorted(ends, n_chars * np.arange(1, n_parts) / n_parts)
    bounds = [0, *np.unique(cuts + 1).tolist(), len(docs)]
    return [docs[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def _concatenated(corpora):
    """One corpus of the corpora of consecutive parts of the documents (each
    lists the same known words first)."""
    index = {word: i for i, word in enumerate(corpora[0].words)}
    ids, doc, n_docs = [corpora[0].ids], [corpora[0].doc], corpora[0].n_docs
    for corpus in corpora[1:]:
        new_ids = (index.setdefault(word, len(index)) for word in corpus.words)
        new_ids = np.fromiter(new_ids, np.int32, len(corpus.words))
        ids.append(new_ids[corpus.ids])
        doc.append(corpus.doc + n_docs)
        n_docs += corpus.n_docs
    return Corpus(
        list(index),
        np.concatenate(ids),
        np.concatenate(doc),
        n_docs,
        corpora[0].n_known,
    )


def _numpy_corpus(docs, lowercase, min_run, known):
    """:func:`tokenize_corpus`'s numpy path, in one thread."""
    if lowercase:  # per document: lowercasing may change a text's length
        docs = [doc.lower() for doc in docs]
    text = "\n".join(docs)  # "\n" is not a word character: no token spans two docs
    doc_starts = np.cumsum([0] + [len(doc) + 1 for doc in docs[:-1]])
    if text.isascii():
        buffer = text.encode("ascii")
        is_word = np.frombuffer(buffer.translate(_WORD_BYTE), dtype=bool)
        starts, lengths = _runs(is_word, min_run)
        byte_starts, byte_lengths = starts, lengths
    else:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
        buffer = text.encode("utf-8", "surrogatepass")
        starts, lengths = _runs(_word_characters(text, codes), min_run)
        byte_starts = _byte_offsets(codes, starts)
        byte_lengths = _byte_offsets(codes, starts + lengths) - byte_starts
    doc_sizes = np.diff(np.searchsorted(starts, doc_starts), append=len(starts))
    doc = np.repeat(np.arange(len(docs), dtype=np.int32), doc_sizes)
    buffer += bytes(_KEY_BYTES)  # every token can be read as _KEY_BYTES bytes
    if known is None:
        ids, words = _factorize_tokens(buffer, byte_starts, byte_lengths)
        return Corpus(words, ids, doc, len(docs))
    ids = known.find(buffer, byte_starts, byte_lengths)
    other = np.flatnonzero(ids < 0)
    other_ids, other_words = _factorize_tokens(
        buffer, byte_starts[other], byte_lengths[other]
    )
    ids[other] = other_ids + len(known.words)
    return Corpus(known.words + other_words, ids, doc, len(docs), len(known.words))


def _runs(is_word, min_run):
    """Start and length of each run of at least ``min_run`` True values."""
    padded = np.concatenate(([False], is_word, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # run i: [edges[2i], edges[2i+1])
    starts, lengths = edges[0::2], edges[1::2] - edges[0::2]
    keep = lengths >= min_run
    return starts[keep], lengths[keep]


def _word_characters(text, codes):
    """Whether each character of ``text`` (code points ``codes``) is ``\\w``.

    ``\\w`` is ``str.isalnum()`` or ``"_"``: a byte table answers for Latin-1,
    and ``str.isalnum`` once per distinct other character.
    """
    latin_1 = text.encode("latin-1", "replace")  # one byte per character
    is_word = np.frombuffer(latin_1.translate(_LATIN_1_WORD), dtype=bool).copy()
    others = np.flatnonzero(codes > 255)
    if len(others):
        other_codes = codes[others]
        seen = np.zeros(int(other_codes.max()) + 1, dtype=bool)
        seen[other_codes] = True
        word = np.zeros_like(seen)
        distinct = np.flatnonzero(seen)
        word[distinct] = [chr(c).isalnum() for c in distinct.tolist()]
        is_word[others] = word[other_codes]
    return is_word


def _byte_offsets(codes, positions):
    """UTF-8 byte offsets of the character offsets ``positions`` (sorted).

    Each non-ASCII character before a position adds 1-3 bytes (surrogates,
    passed through, 2).
    """
    wide = np.flatnonzero(codes >= 0x80)
    extra = 1 + (codes[wide] >= 0x800) + (codes[wide] >= 0x10000)
    before = np.concatenate(([0], np.cumsum(extra)))
    return positions + before[np.searchsorted(wide, positions)]


def _octets(buffer):
    """Every 8 bytes from each offset of ``buffer``, as one little-endian integer.

    ``buffer`` ends in :data:`_KEY_BYTES` padding bytes.
    """
    return np.ndarray((len(buffer) - 8,), "<u8", buffer=buffer, strides=(1,))


def _first_octets(octets, starts, lengths):
    """Each token's first 8 bytes, zero past its end: a token of up to 8 bytes
    exactly."""
    return octets[starts] & _LOW_BYTES[np.minimum(lengths, 8)]


def _wide_chunks(octets, lo, starts, lengths, which):
    """Bytes 0-7, 8-15, ... of the tokens ``which`` (of 9-32 bytes), zero past
    their end; ``lo`` is every token's :func:`_first_octets`."""
    starts, lengths = starts[which], lengths[which]
    return [lo[which]] + [
        octets[starts + at] & _LOW_BYTES[np.clip(lengths - at, 0, 8)]
        for at in range(8, _KEY_BYTES, 8)
    ]


def _wide_hash(chunks):
    """A 64-bit hash of the tokens of :func:`_wide_chunks`."""
    hashed = np.zeros_like(chunks[0])
    for chunk in chunks:
        hashed = (hashed ^ chunk) * _MIX
    return hashed


def _factorize_tokens(buffer, starts, lengths):
    """Id of each token ``buffer[start : start + length]``, and the tokens (str).

    Tokens of up to 8 and of 9-32 bytes are integer keys (see
    :func:`_factorize_8`, :func:`_factorize_wide`); longer ones go through a
    dict. ``buffer`` ends in :data:`_KEY_BYTES` padding bytes.
    """
    octets = _octets(buffer)
    lo = _first_octets(octets, starts, lengths)
    short = np.flatnonzero(lengths <= 8)
    middle = np.flatnonzero((lengths > 8) & (lengths <= _KEY_BYTES))
    short_ids, short_words = _factorize_8(lo[short])
    middle_ids, middle_words = _factorize_wide(
        _wide_chunks(octets, lo, starts, lengths, middle)
    )
    ids = np.empty(len(starts), dtype=np.int32)
    ids[short] = short_ids
    ids[middle] = middle_ids + len(short_words)
    # the keys' bytes are the tokens, NUL-padded; "S8"/"S32" drop the padding
    keys = np.concatenate((short_words, middle_words))
    try:
        words = keys.astype(f"U{_KEY_BYTES}").tolist()  # ASCII
    except UnicodeDecodeError:
        words = [key.decode("utf-8", "surrogatepass") for key in keys.tolist()]
    long = np.flatnonzero(lengths > _KEY_BYTES)
    if len(long):
        index = {}
        long_ids = [
            index.setdefault(
                buffer[a : a + n].decode("utf-8", "surrogatepass"), len(index)
            )
            for a, n in zip(starts[long].tolist(), lengths[long].tolist(), strict=True)
        ]
        ids[long] = np.asarray(long_ids, dtype=np.int64) + len(words)
        words += list(index)
    return ids, words


def _factorize_8(keys):
    """Ids of the distinct tokens of up to 8 bytes (``keys``), and the tokens.

    Multiplying by an odd constant is a bijection of ``uint64``, so the hash
    ``keys * _MIX`` is exact and the tokens come back by the inverse.
    """
    ids, distinct = _hash_ids(keys * _MIX)
    return ids, (distinct * _MIX_INVERSE).astype("<u8").view("S8")


def _factorize_wide(chunks):
    """Ids of the distinct tokens of 9-32 bytes, and the tokens.

    ``chunks`` are the tokens' bytes 0-7, 8-15, ... as little-endian integers
    (zero past a token's end), folded into a 64-bit hash; if two distinct
    tokens share one (checked, never seen in practice), the exact but slower
    ``np.unique`` answers instead.
    """
    ids, distinct = _hash_ids(_wide_hash(chunks))
    keys = np.empty((len(distinct), len(chunks)), dtype="<u8")
    for j, chunk in enumerate(chunks):
        keys[ids, j] = chunk
    if not all((keys[ids, j] == chunk).all() for j, chunk in enumerate(chunks)):
        keys, ids = np.unique(np.stack(chunks, axis=1), axis=0, return_inverse=True)
    width = 8 * len(chunks)
    return ids.reshape(-1), keys.astype("<u8").view(f"S{width}").reshape(-1)


def _hash_ids(hashed):
    """Id of each of ``hashed`` among its distinct values, and those values.

    Without a sort, which took a third of tokenizing (35 ns a value on the
    machine of ``throughput.md``; the 1M short tokens of half the training
    set: 41 ms sorted, 13 ms so): each value claims a slot of an
    open-addressing table of 2.5-5 slots per distinct value (their number
    found first by :func:`_distinct_estimate`); those whose slot holds
    another value move one slot on, all at once, until each sits in its own
    slot or in its twin's. The ids follow the slots. Values crafted to share
    slots would need a pass each: after :attr:`_HashTable.MAX_PASSES`, and
    for a 0 (the empty slot's mark, never a token's hash in practice), or too
    many distinct values to count, ``np.unique`` answers instead.
    """
    n_distinct = _distinct_estimate(hashed)
    if n_distinct is not None and not (hashed == 0).any():
        bits = max(4, int(2.5 * n_distinct).bit_length())
        mask = (1 << bits) - 1
        table = np.zeros(mask + 1, dtype=np.uint64)
        slot = (hashed >> np.uint64(64 - bits)).astype(np.int64)
        table[slot] = hashed  # every value claims its home slot
        pending = np.flatnonzero(table[slot] != hashed)
        slot[pending] = (slot[pending] + 1) & mask
        for _ in range(_HashTable.MAX_PASSES):
            at, values = slot[pending], hashed[pending]
            free = table[at] == 0
            table[at[free]] = values[free]  # of a clash, the last one wins
            moved = table[at] != values
            pending = pending[moved]
            if not len(pending):
                used = table != 0
                rank = np.cumsum(used) - 1
                return rank[slot], table[used]
            slot[pending] = (at[moved] + 1) & mask
    distinct, ids = np.unique(hashed, return_inverse=True)
    return ids.reshape(-1), distinct


_COUNTING_BITS = 20
"""Flags of :func:`_distinct_estimate`: 2**20 (1 MB)."""


def _distinct_estimate(hashed):
    """About how many distinct values ``hashed`` holds, or None if too many.

    Linear counting (Whang et al. 1990): each value sets the flag its top
    bits name; ``m`` flags of which a fraction ``v`` stay clear hold about
    ``-m ln v`` distinct values, within a few percent up to millions. Few
    values are counted as all distinct.
    """
    if len(hashed) < 1 << (_COUNTING_BITS - 4):
        return len(hashed)
    flags = np.zeros(1 << _COUNTING_BITS, dtype=bool)
    flags[hashed >> np.uint64(64 - _COUNTING_BITS)] = True
    clear = len(flags) - np.count_nonzero(flags)
    return None if clear == 0 else -len(flags) * math.log(clear / len(flags))


class _HashTable:
    """Open addressing with linear probing over distinct sorted ``uint64`` values.

    ``find`` returns each value's index in the array the table was built from
    (or its ``labels`` entry), ``get`` the same or -1 for a value not in it.
    Every step is vectorised: all values probe their slot at once, and those
    that find another value there move one slot on. The table has 4-8 slots
    per value, so a few passes settle them all. Values crafted to share slots
    would need one pass each: after ``MAX_PASSES`` the table gives up and says
    it is ``crowded`` (``find`` then must not be used; ``get`` falls back to a
    binary search).
    """

    MAX_PASSES = 64

    def __init__(self, values, labels=None):
        self.sorted = values
        self.labels = np.arange(len(values)) if labels is None else labels
        bits = max(4, (4 * len(values) - 1).bit_length())
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.index = np.full(self.mask + 1, -1, dtype=np.int64)  # -1: empty
        pending = np.arange(len(values))
        slot = self._home(values)
        for _ in range(self.MAX_PASSES):
            free = self.index[slot] < 0
            self.index[slot[free]] = pending[free]  # of a clash, the last one wins
            moved = self.index[slot] != pending
            pending, slot = pending[moved], (slot[moved] + 1) & self.mask
            if not len(pending):
                break
        # a value is found within as many probes as it took to place it
        self.crowded = len(pending) > 0
        # an empty slot's value is never read as a find: its index says -1
        self.values = np.zeros(self.mask + 1, dtype=np.uint64)
        used = self.index >= 0
        self.values[used] = values[self.index[used]]
        if labels is not None:
            self.index[used] = labels[self.index[used]]

    def _home(self, values):
        return (values >> self.shift).view(np.int64)  # < 2**63: shift >= 4

    def find(self, values):
        """Index of each of ``values``, all of which the table holds."""
        slot = self._home(values)
        todo = np.flatnonzero(self.values[slot] != values)
        while len(todo):
            slot[todo] = moved = (slot[todo] + 1) & self.mask
            todo = todo[self.values[moved] != values[todo]]
        return self.index[slot]

    def get(self, values):
        """What :meth:`find` returns for each of ``values``, -1 for those the
        table lacks: probing stops at the value or at an empty slot."""
        if self.crowded:
            at = np.searchsorted(self.sorted, values).clip(0, len(self.sorted) - 1)
            return np.where(self.sorted[at] == values, self.labels[at], -1)
        slot = self._home(values)
        found = self.index[slot]
        # a value whose home slot is empty (index -1) is missing: every value
        # in the table has its home slot taken, by it or by one before it
        todo = np.flatnonzero((self.values[slot] != values) & (found >= 0))
        found[todo] = -1
        slot, wanted = slot[todo], values[todo]
        while len(todo):
            slot = (slot + 1) & self.mask
            here, hit = self.index[slot], self.values[slot] == wanted
            found[todo[hit]] = here[hit]
            going = ~hit & (here >= 0)
            todo, slot, wanted = todo[going], slot[going], wanted[going]
        return found


class KnownWords:
    """A fixed list of distinct words, found among a corpus' tokens by numpy.

    Passed to :func:`tokenize_corpus` (``Tokenizer.corpus(docs, known=...)``),
    it gives each token that is one of ``words`` its index there: the token's
    bytes are hashed as in :func:`_factorize_tokens` and looked up in a table
    built once, without a sort or a str per token or distinct word. Tokens of
    9-32 bytes are checked against the word's bytes; words of over 32 bytes
    (and, never seen, two words of 9-32 bytes with one hash) are not in the
    table: their tokens are factorized with the unknown ones, which costs time,
    not correctness.
    """

    def __init__(self, words):
        self.words = list(words)
        encoded = [word.encode("utf-8", "surrogatepass") for word in self.words]
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        starts = np.cumsum(lengths) - lengths
        octets = _octets(b"".join(encoded) + bytes(_KEY_BYTES))
        lo = _first_octets(octets, starts, lengths)
        short = np.flatnonzero(lengths <= 8)
        self._short = _labelled_table(lo[short] * _MIX, short)
        middle = np.flatnonzero((lengths > 8) & (lengths <= _KEY_BYTES))
        chunks = _wide_chunks(octets, lo, starts, lengths, middle)
        self._middle = _labelled_table(_wide_hash(chunks), middle)
        # a row more: "not found" (-1) reads it, and "same" rejects it
        self._middle_keys = np.zeros((len(self.words) + 1, len(chunks)), np.uint64)
        self._middle_keys[middle] = np.stack(chunks, axis=1)

    def find(self, buffer, starts, lengths):
        """Index in ``words`` of each token ``buffer[start : start + length]``,
        -1 if it is not found. ``buffer`` ends in :data:`_KEY_BYTES` padding
        bytes."""
        octets = _octets(buffer)
        lo = _first_octets(octets, starts, lengths)
        ids = self._short.get(lo * _MIX)  # right for every token of up to 8 bytes
        long = np.flatnonzero(lengths > 8)
        ids[long] = -1
        middle = long[lengths[long] <= _KEY_BYTES]
        chunks = _wide_chunks(octets, lo, starts, lengths, middle)
        found = self._middle.get(_wide_hash(chunks))
        same = found >= 0
        keys = self._middle_keys[found]
        for j, chunk in enumerate(chunks):
            same &= keys[:, j] == chunk
        ids[middle[same]] = found[same]
        return ids


def _labelled_table(hashes, labels):
    """A :class:`_HashTable` of the ``hashes`` that occur once, to their label."""
    order = np.argsort(hashes)
    hashes, labels = hashes[order], labels[order]
    single = np.ones(len(hashes), dtype=bool)
    repeated = hashes[1:] == hashes[:-1]
    single[1:] &= ~repeated
    single[:-1] &= ~repeated
    return _HashTable(hashes[single], labels[single])
