"""Read word-vector files: word2vec text/binary, GloVe text, fastText .vec/.bin, .kv.

Text formats and word2vec binaries are parsed here, so that a bad file is
reported with its name and line (or what it lacks), with a progress bar on a
large one; fastText's binary model and gensim's native ``.kv`` go through
gensim.
"""

import bz2
import contextlib
import gzip
import io
import lzma
import mmap
import os
import struct
import warnings
import zipfile
import zlib

import numpy as np

from sktransfer.utils._warnings import caller_stacklevel

VECTOR_FILE_SUFFIXES = (".txt", ".vec", ".bin", ".kv", ".gz", ".bz2", ".xz", ".zip")
"""Usual endings of word-vector files (any other is read too: the format
follows the content, see :func:`read_vectors_file`); a path ending so is
looked for as a file, not as a registered name."""

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
"""First bytes of compressed files: text vectors are read through gzip, bz2,
xz and a zip archive of one file (fastText's ``.vec.zip``), whatever the
file's name says."""

_STREAMS = {
    "gzip": lambda path, raw: gzip.GzipFile(fileobj=raw),
    "bz2": lambda path, raw: bz2.BZ2File(raw),
    "xz": lambda path, raw: lzma.LZMAFile(raw),
    "zip": lambda path, raw: _zip_member(path, raw),
}
"""The decompressed stream of the file ``path`` read as ``raw``, by kind."""

_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
"""What reading a damaged compressed file raises."""


def compression(path):
    """The compression of the file ``path`` by its first bytes (``"gzip"``,
    ``"bz2"``, ``"xz"``, ``"zip"``, ``"zstd"``, ``"7z"``), or None."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next(
        (kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None
    )


def _zip_member(path, raw):
    """The one file of the zip archive ``path`` (open as ``raw``), as a
    binary stream; an archive of several files (GloVe's ``glove.6B.zip``)
    is an error that lists them."""
    archive = zipfile.ZipFile(raw)
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) != 1:
        names = ", ".join(info.filename for info in members[:6])
        more = f" and {len(members) - 6} more" if len(members) > 6 else ""
        raise ValueError(
            f"{path} is a zip archive of {len(members)} files ({names}{more}); "
            "sktransfer reads an archive of one file. Extract the one you want "
            f"(python -m zipfile -e {path} DIR) and pass its path."
        )
    return archive.open(members[0])  # a binary model in it: read_vectors_file


@contextlib.contextmanager
def _open_binary(path):
    """``(stream, raw)``: the bytes of ``path``, decompressed by its first
    bytes (see :data:`_MAGIC`), and the file as read from disk (its position:
    the bytes read so far, compressed ones for a compressed file)."""
    kind = compression(path)
    if kind in ("zstd", "7z"):
        raise ValueError(
            f"{path} is compressed with {kind}, which sktransfer does not read: "
            "decompress it (or compress it with gzip, bz2, xz or zip) and pass "
            "that file."
        )
    with open(path, "rb") as raw:
        try:
            stream = raw if kind is None else _STREAMS[kind](path, raw)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path} is not a readable zip file: {exc}") from exc
        with stream:
            yield stream, raw


@contextlib.contextmanager
def _open_text(path):
    """``(f, raw)``: the text of ``path``, decompressed (:func:`_open_binary`),
    and the file as read from disk."""
    with _open_binary(path) as (stream, raw):
        # utf-8-sig: a byte-order mark (files saved on Windows) is not a word's
        # start; bytes that are not UTF-8 read as U+FFFD (see _NOT_UTF8)
        with io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace") as f:
            yield f, raw


def _binary_after_header(head):
    """Whether the first bytes ``head`` of a file (decompressed) are word2vec's
    binary format: a ``count dim`` header line, then a word and ``dim``
    float32 values as raw bytes, where the text format has a line of text
    (control bytes or bytes that are not UTF-8 in it: binary)."""
    header, _, rest = head.partition(b"\n")
    if not _is_header(header.decode("latin-1").split()):
        return False  # GloVe's text, or not vectors: the text parser answers
    try:
        line = rest.partition(b"\n")[0].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(c < " " and c not in "\t\r" for c in line)


def vector_file_format(path):
    """What the word-vector file ``path`` holds, by its first bytes, whatever
    its name: ``"fasttext"`` (a fastText binary model), ``"word2vec-binary"``,
    ``"pickle"`` (gensim's native ``.save``) or ``"text"``.

    A word2vec text file named ``.bin`` was read as binary: each vector the
    raw bytes of its digits, numbers near 1e-8, silently.
    """
    with _open_binary(path) as (stream, _):
        try:
            head = stream.read(1 << 16)
        except _DAMAGED as exc:
            kind = compression(path)
            raise ValueError(f"{path} is not a readable {kind} file: {exc}") from exc
    if head.startswith(FASTTEXT_MAGIC):
        return "fasttext"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    return "word2vec-binary" if _binary_after_header(head) else "text"


PROGRESS_FROM = 64 << 20
"""File size (bytes) from which parsing a text file shows a progress bar
(tqdm, on stderr; ``TQDM_DISABLE=1`` hides it). Parsing is once per machine,
but 64 MiB of GloVe text take about 2 s on 2 cores, and GloVe 840B or
fastText's crawl vectors (5 GB) minutes: without the bar, a hang to see."""


@contextlib.contextmanager
def _progress(path, raw):
    """A function that moves a progress bar to where ``raw`` (the file as
    :func:`_open_text` reads it from disk) has read ``path``, in bytes; it
    does nothing for a file under :data:`PROGRESS_FROM`."""
    size = os.path.getsize(path)
    if size < PROGRESS_FROM:
        yield lambda: None
        return
    from tqdm.auto import tqdm

    name = os.path.basename(path)
    with tqdm(
        total=size,
        desc=f"parsing {name} (once per machine)",
        unit="B",
        unit_scale=True,
    ) as bar:
        yield lambda: bar.update(raw.tell() - bar.n)
        bar.update(size - bar.n)


_SEPARATORS = {" ": "spaces", "\t": "tabs"}

_NOT_UTF8 = (
    "U+FFFD marks bytes that are not UTF-8: the file may be in another "
    "encoding (Latin-1?); re-encode it as UTF-8."
)


def _warn_if_not_utf8(path, words):
    """Warn about the ``words`` read with U+FFFD (bytes that are not UTF-8)."""
    mangled = [word for word in words if "\ufffd" in word]
    if mangled:
        warnings.warn(
            f"{path}: {len(mangled)} word(s) were read with U+FFFD, e.g. "
            f"{mangled[0]!r}, and match no token. {_NOT_UTF8}",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def _is_header(fields):
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def _count_values(fields):
    """The dimension of a vector file, from the ``fields`` of its first vector
    line: the numbers at its end, all but the first field at most (the word
    may hold blanks, "new york", or be a number, "1999")."""
    count = 0
    for field in reversed(fields[1:]):
        try:
            float(field)
        except ValueError:
            break
        count += 1
    return count


def read_text_vectors(path):
    """Parse word2vec/fastText text (with a ``count dim`` header) or GloVe text.

    Returns
    -------
    words : list of str
    vectors : ndarray of shape (n_words, dim), float32

    Raises
    ------
    ValueError
        Naming the file and line for an empty file, a line with the wrong
        number of values, a value that is not a number, fewer vectors or
        more values a vector than the header declares, or a damaged ``.gz``
        file.

    Warns
    -----
    UserWarning
        For words with bytes that are not UTF-8 (read as U+FFFD), and for
        words on more than one line (their first vector is kept, as gensim
        keeps it).
    """
    try:
        words, rows, declared, n_repeated = _parse_text_vectors(path)
    except _DAMAGED as exc:  # a damaged compressed file
        kind = compression(path)
        if kind is None:
            raise
        raise ValueError(f"{path} is not a readable {kind} file: {exc}") from exc
    _warn_if_not_utf8(path, words)
    if not words:
        raise ValueError(f"{path} holds no word vectors (the file is empty).")
    if declared is not None and declared != len(words) + n_repeated:
        raise ValueError(
            f"{path} declares {declared} vectors in its header but holds "
            f"{len(words) + n_repeated} (truncated or corrupt file)."
        )
    return words, np.vstack(rows)


_PROGRESS_LINES = 1 << 14
"""Lines parsed between two moves of the progress bar."""


def _parse_text_vectors(path):
    """:func:`read_text_vectors`' pass over the lines: the words, their
    vectors (rows), the header's count (or None) and the number of lines
    that repeated a word."""
    words, rows, declared, dim, sep = [], [], None, None, " "
    first_line, repeated = {}, []
    with _open_text(path) as (f, raw), _progress(path, raw) as advance:
        for lineno, line in enumerate(f, start=1):
            if not lineno % _PROGRESS_LINES:
                advance()
            line = line.rstrip("\n").rstrip()
            if not line:
                continue
            if lineno == 1 and _is_header(line.split()):
                declared, dim = (int(v) for v in line.split())
                continue
            if not words:
                # spaces as in GloVe and word2vec, or tabs throughout; a word
                # may hold the other kind of blank ("new york")
                sep = "\t" if "\t" in line else " "
                dim = _check_dimension(
                    path, lineno, _count_values(line.split(sep)), dim
                )
            parts = line.rsplit(sep, dim)
            if len(parts) == dim + 1 and not parts[0]:
                raise ValueError(
                    f"{path}, line {lineno}: no word before the {dim} values (the "
                    f"line starts with one of the {_SEPARATORS[sep]} between them)."
                )
            if len(parts) != dim + 1:
                raise ValueError(
                    f"{path}, line {lineno}: expected a word and {dim} values, "
                    f"found {len(line.split(sep)) - 1} (separated by "
                    f"{_SEPARATORS[sep]}, as on the first line)."
                )
            try:
                rows.append(np.array(parts[1:], dtype=np.float32))
            except ValueError:
                raise ValueError(
                    f"{path}, line {lineno}: a value of word {parts[0]!r} is not "
                    "a number."
                ) from None
            if parts[0] in first_line:  # the vector of its first line stays
                repeated.append((parts[0], first_line[parts[0]], lineno))
                rows.pop()
                continue
            first_line[parts[0]] = lineno
            words.append(parts[0])
    _warn_repeated(path, repeated)
    return words, rows, declared, len(repeated)


def _warn_repeated(path, repeated, unit="lines"):
    """Warn about words that had a vector already, ``(word, first line,
    line)`` (``unit``: or vector numbers, in a binary file); their first
    vector was kept, as gensim keeps it. Words read with U+FFFD match no
    token whatever their vector (another warning says so): GloVe 840B
    repeats such a word, and two words in another encoding may read as
    one."""
    repeated = [entry for entry in repeated if "\ufffd" not in entry[0]]
    if repeated:
        word, first, line = repeated[0]
        where = "on more than one line" if unit == "lines" else "more than once"
        at = "on lines" if unit == "lines" else f"as {unit}"
        warnings.warn(
            f"{path}: {len(repeated)} word(s) have a vector {where}, e.g. "
            f"{word!r} {at} {first} and {line}; the first vector of each is "
            "used, as gensim does.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def _check_dimension(path, lineno, found, declared):
    """The dimension of a vector file: ``found`` values end its first vector
    line (line ``lineno``); a header may have ``declared`` it (else None)."""
    if found < 1:
        raise ValueError(
            f"{path}, line {lineno}: expected a word followed by its "
            "vector, found no number after the word."
        )
    # the words of files with a header (word2vec, fastText) hold no blank, so
    # more numbers than declared are values, not a word's end ("cat 1")
    if declared is not None and found > declared:
        raise ValueError(
            f"{path}, line {lineno}: the header declares {declared} values a "
            f"vector, but the first vector has {found}; fix the header line "
            f"(count dim)."
        )
    return found if declared is None else declared


def read_gensim_vectors(path):
    """gensim's native ``.kv`` (``KeyedVectors.save``), via gensim; clear
    errors. Returns words, vectors and subwords as :func:`read_vectors_file`."""
    from gensim.models import KeyedVectors

    try:
        kv = KeyedVectors.load(path, mmap="r")
    except Exception as exc:
        raise ValueError(
            f"{path} is not a readable gensim KeyedVectors (.kv) file: {exc}"
        ) from exc
    if len(kv.index_to_key) == 0:
        raise ValueError(f"{path} holds no word vectors (the file is empty).")
    _warn_if_not_utf8(path, kv.index_to_key)
    return (*keyed_vectors_arrays(kv), keyed_vectors_subwords(kv))


BINARY_CHUNK = 1 << 24
"""Bytes of a word2vec binary read at a time (16 MiB)."""


def read_word2vec_binary(path):
    """Parse a word2vec binary: a ``count dim`` line, then each word, a
    space and its ``dim`` little-endian float32 values (a newline may follow,
    as the C tool writes it).

    Read in chunks of :data:`BINARY_CHUNK` bytes, decompressed as its first
    bytes say whatever its name, with a progress bar from
    :data:`PROGRESS_FROM` bytes: gensim's reader showed nothing for the
    minutes of GoogleNews' 3.6 GB, and took about twice as long (200,000 words
    of 300 values: 1.8-2.4 s against 1.0-1.2 s; gzipped, 4.9-5.7 against
    3.4-4.1 s); it decompressed only a file whose name ends in .gz or .bz2.

    Returns
    -------
    words, vectors : list of str, ndarray of shape (n_words, dim)
        As :func:`read_text_vectors` returns them.

    Raises
    ------
    ValueError
        For a header that is not two numbers, a file that holds fewer vectors
        than its header declares (cut short), or a damaged compressed file.

    Warns
    -----
    UserWarning
        For words with bytes that are not UTF-8 (read as U+FFFD), and for
        words given more than one vector (the first is kept, as gensim keeps
        it).
    """
    try:
        with _open_binary(path) as (stream, raw), _progress(path, raw) as advance:
            header = stream.readline().split()
            if len(header) != 2 or not all(v.isdigit() for v in header):
                raise ValueError(
                    f"{path} is not a readable word2vec binary: its first line "
                    "is not 'count dim'."
                )
            count, dim = (int(v) for v in header)
            if not count or not dim:
                raise ValueError(
                    f"{path} holds no word vectors ({count} vectors of {dim} values)."
                )
            # an uncompressed file shorter than its vectors is not read through
            if compression(path) is None and count * 4 * dim > os.path.getsize(path):
                raise _cut_short(path, count, dim)
            words, vectors, n_read = _binary_records(stream, count, dim, advance)
    except _DAMAGED as exc:
        raise ValueError(
            f"{path} is not a readable {compression(path) or 'word2vec binary'} "
            f"file: {exc}"
        ) from exc
    except MemoryError as exc:
        raise ValueError(
            f"{path}: its header declares {count} vectors of {dim} values "
            f"({count * dim * 4 / 1e9:.1f} GB), more than memory holds: a "
            "damaged header?"
        ) from exc
    if n_read < count:
        raise _cut_short(path, count, dim, n_read)
    words, keep, repeated = _first_of_each(words)
    _warn_if_not_utf8(path, words)
    _warn_repeated(path, repeated, "vectors")
    return words, vectors if keep is None else vectors[keep]


def _cut_short(path, count, dim, n_read=None):
    """The error for a word2vec binary that holds fewer vectors than its
    header declares (``n_read``; None: its size says so, unread)."""
    held = "more than the file holds" if n_read is None else f"it holds {n_read}"
    return ValueError(
        f"{path} is a word2vec binary cut short or damaged: its header declares "
        f"{count} vectors of {dim} values, {held} (a download that did not "
        "finish?). Download it again."
    )


def _binary_records(stream, count, dim, advance):
    """The words (decoded) and vectors of the first ``count`` records of
    ``stream``, each a word, a space and ``dim`` float32 values; and how many
    there were (fewer: the stream ended)."""
    record = 4 * dim
    vectors = np.empty((count, dim), "<f4")
    into = vectors.reshape(-1).view(np.uint8)
    words, buffer, start, i = [], b"", 0, 0
    while i < count:
        chunk = stream.read(BINARY_CHUNK)
        buffer, start = buffer[start:] + chunk, 0
        find, size = buffer.find, len(buffer)
        while i < count:
            space = find(b" ", start)
            end = space + 1 + record
            if space < 0 or end > size:
                break
            words.append(buffer[start:space].lstrip(b"\n"))
            into[i * record : (i + 1) * record] = np.frombuffer(
                buffer, np.uint8, record, space + 1
            )
            start, i = end, i + 1
        advance()
        if not chunk:
            break
    # bytes that are not UTF-8 read as U+FFFD, as in text files; decoded at
    # once, unless a word holds a newline (then the join would split it)
    text = b"\n".join(words).decode("utf-8", "replace").split("\n")
    if len(text) != len(words):
        text = [word.decode("utf-8", "replace") for word in words]
    return text, vectors[:i].astype(np.float32, copy=False), i


def _first_of_each(words):
    """``(words, rows, repeated)``: each word once, the rows to keep (None:
    all), and ``(word, first, other)`` positions (1-based) of repeats."""
    first, repeated = {}, []
    for number, word in enumerate(words, start=1):
        if word in first:
            repeated.append((word, first[word], number))
        else:
            first[word] = number
    if not repeated:
        return words, None, []
    rows = np.fromiter(first.values(), np.int64, len(first)) - 1
    return list(first), rows, repeated


FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")
"""The first bytes of a fastText binary model (``.bin``), as fastText writes it."""


_FASTTEXT_VOCAB_AT = 64
"""Where a fastText model's vocabulary starts: magic and version, 12 int32
arguments and a double (``args.cc``)."""


def _check_fasttext_layout(path):
    """Raise a ValueError for a fastText binary model cut short, or whose
    sizes cannot be: gensim's reader loops forever when the file ends inside
    the vocabulary (a download that did not finish), and reads past the end
    elsewhere. The vocabulary's words are walked (a NUL ends each, then a
    count and a type: 9 bytes), then the input matrix's shape read."""
    size = os.path.getsize(path)

    def cut_short(needed):
        return ValueError(
            f"{path} is a fastText binary model cut short (a download that did "
            f"not finish?): it has {size:,} bytes, its layout needs "
            f"{needed} at least. Download it again."
        )

    at = _FASTTEXT_VOCAB_AT
    if size < at + 28:
        raise cut_short(f"{at + 28:,}")
    with (
        open(path, "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        n_entries, _, n_labels = struct.unpack_from("<3i", data, at)
        (n_pruned,) = struct.unpack_from("<q", data, at + 20)
        if n_labels > 0:
            return  # a classifier: gensim says so
        if n_entries < 0 or n_pruned < -1:
            raise ValueError(
                f"{path} is not a readable fastText binary model: its vocabulary "
                f"declares {n_entries} words."
            )
        at += 28
        if size < at + 10 * n_entries:  # a word takes 10 bytes at least
            raise cut_short(f"{at + 10 * n_entries:,} for its {n_entries:,} words")
        for _ in range(n_entries):
            end = data.find(b"\0", at)
            if end < 0:
                raise cut_short(
                    f"more (its vocabulary of {n_entries:,} words ends past it)"
                )
            at = end + 10
        at += 8 * max(n_pruned, 0) + 1
        if size < at + 16:
            raise cut_short(f"{at + 16:,}")
        rows, columns = struct.unpack_from("<2q", data, at)
    if rows < 0 or columns < 0:
        raise ValueError(
            f"{path} is not a readable fastText binary model: its matrix is "
            f"{rows} x {columns}."
        )
    if size < at + 16 + 4 * rows * columns:
        raise cut_short(f"{at + 16 + 4 * rows * columns:,}")


def read_fasttext_binary(path):
    """fastText's binary model via gensim: words, vectors and subwords.

    Returns
    -------
    words : list of str
    vectors : ndarray of shape (n_words, dim), float32
    subwords : tuple ``(ngram_vectors, min_n, max_n)`` or None
        The character n-gram vectors (``bucket`` rows) and n-gram lengths; None
        for a model trained without n-grams.
    """
    from gensim.models.fasttext import load_facebook_vectors

    _check_fasttext_layout(path)
    try:
        kv = load_facebook_vectors(path)
    except NotImplementedError as exc:  # gensim's answer to a classifier
        raise ValueError(
            f"{path} is a supervised fastText model (a text classifier, "
            "`fasttext supervised`): it holds no general word vectors; give an "
            "unsupervised one (`fasttext skipgram` or `cbow`, e.g. cc.en.300.bin)."
        ) from exc
    except Exception as exc:
        raise ValueError(
            f"{path} is not a readable fastText binary model (truncated or corrupt?): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if len(kv.index_to_key) == 0:
        raise ValueError(f"{path} holds no word vectors (the file is empty).")
    return (*keyed_vectors_arrays(kv), keyed_vectors_subwords(kv))


def keyed_vectors_arrays(kv):
    """The words and float32 vectors of a gensim ``KeyedVectors``."""
    return list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)


def keyed_vectors_subwords(kv):
    """``(ngram_vectors, min_n, max_n)`` of a gensim ``FastTextKeyedVectors``
    with character n-grams; None for any other ``KeyedVectors``."""
    if not getattr(kv, "bucket", 0) or getattr(kv, "vectors_ngrams", None) is None:
        return None
    ngrams = np.ascontiguousarray(kv.vectors_ngrams, dtype=np.float32)
    return ngrams, int(kv.min_n), int(kv.max_n)


def read_vectors_file(path):
    """Read any supported word-vector file; the format follows its content.

    A fastText binary model, a word2vec binary or a word2vec/fastText/GloVe
    text file are told apart by their first bytes (:func:`vector_file_format`),
    whatever the file's name; text files may be compressed with gzip, bz2 or
    xz, or be the one file of a zip archive, and word2vec binaries with gzip,
    bz2 or xz under a name ending so (``.bin.gz``). gensim's native format
    (a pickle) is read from a file named ``.kv`` only: unpickling runs code.

    Returns
    -------
    words : list of str
    vectors : ndarray of shape (n_words, dim), float32
    subwords : tuple ``(ngram_vectors, min_n, max_n)`` or None
        Character n-gram vectors of a fastText binary model (or a ``.kv`` of
        gensim's ``FastTextKeyedVectors``); None for every other format.
    """
    path = os.fspath(path)
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} holds no word vectors (the file is empty).")
    if path.endswith(".kv"):
        return read_gensim_vectors(path)
    found = vector_file_format(path)
    packed = compression(path)
    if found == "fasttext" and packed is not None:  # gensim reads it from disk
        raise ValueError(
            f"{path} holds a fastText model compressed with {packed}, which is "
            "read from disk: decompress it and pass that file."
        )
    if found == "fasttext":
        return read_fasttext_binary(path)
    if found == "pickle":
        raise ValueError(
            f"{path} holds gensim's native format (KeyedVectors.save, a pickle). "
            "Unpickling runs code: sktransfer unpickles a file named .kv only, "
            "which says you trust it; rename it so, or pass "
            "gensim.models.KeyedVectors.load(path)."
        )
    if found == "word2vec-binary":
        return *read_word2vec_binary(path), None
    return *read_text_vectors(path), None
