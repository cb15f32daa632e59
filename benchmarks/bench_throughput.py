"""Throughput: documents (images) per second of fit and predict, vs the ceiling.

Text: PretrainedEmbeddingClassifier (GloVe 50d, mean encoder = EmbeddingBag,
``transfer="fine_tune"`` so every epoch runs the whole model) on the full 20
Newsgroups training set (11,293 documents, tokenization included) and test set
(7,528). Images: FineTunedCNNClassifier (SmallCNN, fine_tune) on sklearn's
digits repeated 5 times (8,985 images). Each is measured three ways in one
process: sktransfer as shipped (whole-array batches), sktransfer with skorch's
default ``DataLoader`` iterator (the per-sample path it replaced), and the
ceiling: the same fitted torch module run by a hand-written loop on
pre-tokenized, pre-tensorized data (forward + backward + fused AdamW step for fit;
forward under ``torch.inference_mode`` for predict). Target: sktransfer within
1.5x of the ceiling. For text, a predict written by hand on the raw documents
(sklearn's analyzer, a dict vocabulary, a padded matrix, the same forward pass)
is timed too: what a user would otherwise run. Writes
benchmarks/results/throughput.md and .json.

Run: python benchmarks/bench_throughput.py [--epochs 3] [--repeats 3]
"""

import argparse
import contextlib
import copy
import functools
import json
from unittest import mock

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import CountVectorizer
from torch.utils.data import DataLoader

import sktransfer._base
from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer.datasets import load_20newsgroups

try:
    from benchmarks._machine import timed, write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import timed, write_results

BATCH_SIZE = 64
LATENCY_ITEMS = 200


def dataloader_iterator(
    dataset, batch_size, shuffle=False, drop_last=False, device=None, **kw
):
    """skorch's default: a DataLoader over the Dataset (per-sample getitem)."""
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, **kw
    )


def loop_fit_seconds(module, X, y, epochs):
    """Hand-written training loop on whole tensors: the fit ceiling."""
    module = copy.deepcopy(module).train()
    optimizer = torch.optim.AdamW(  # fused, as sktransfer steps it
        [p for p in module.parameters() if p.requires_grad], lr=1e-3, fused=True
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run():
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for i in range(0, len(Xt), BATCH_SIZE):
                idx = order[i : i + BATCH_SIZE]
                optimizer.zero_grad()
                loss_fn(module(Xt[idx]), yt[idx]).backward()
                optimizer.step()

    return timed(run)[0]


def loop_predict_seconds(module, X):
    module = copy.deepcopy(module).eval()
    Xt = torch.from_numpy(X)

    def run():
        with torch.inference_mode():
            for i in range(0, len(Xt), BATCH_SIZE):
                module(Xt[i : i + BATCH_SIZE])

    return timed(run)[0]


def measure(name, workload, epochs, repeats):
    """Items per second for fit and predict: shipped, DataLoader path, ceiling.

    ``prepare(model, X_test)`` is the input preparation of predict
    (tokenization for text), timed alone to show what the ceiling leaves out;
    ``handwritten(model, X_test)`` (or None) the seconds of a predict written
    by hand on the raw input.
    """
    make, X, y, X_test, encode, prepare, handwritten = workload
    runs = {"sktransfer": [], "dataloader": [], "ceiling": []}
    tokenize_s, handwritten_s = [], []
    for _ in range(repeats):
        for variant in ("sktransfer", "dataloader"):
            patch = (
                mock.patch.object(
                    sktransfer._base, "batch_iterator", dataloader_iterator
                )
                if variant == "dataloader"
                else contextlib.nullcontext()
            )
            with patch:
                fit_s, model = timed(lambda: make().fit(X, y))
                predict_s, _ = timed(functools.partial(model.predict, X_test))
            runs[variant].append((fit_s, predict_s))
        ids, y_ids, ids_test = encode(model, X, y, X_test)
        tokenize_s.append(timed(functools.partial(prepare, model, X_test))[0])
        if handwritten is not None:
            handwritten_s.append(handwritten(model, X_test))
        module = model.net_.module_
        runs["ceiling"].append(
            (
                loop_fit_seconds(module, ids, y_ids, epochs),
                loop_predict_seconds(module, ids_test),
            )
        )
    row = {"workload": name}
    for variant, values in runs.items():
        fit_s, predict_s = np.median(np.array(values), axis=0)
        row[variant] = {
            "fit_per_s": len(X) * epochs / fit_s,
            "predict_per_s": len(X_test) / predict_s,
            "fit_s": float(fit_s),
            "predict_s": float(predict_s),
        }
    row["prepare_predict_s"] = float(np.median(tokenize_s))
    if handwritten_s:
        row["handwritten_predict_per_s"] = len(X_test) / float(np.median(handwritten_s))
    row["one_item_predict_ms"] = 1000 * one_item_seconds(model, X_test)
    # a repeat runs sktransfer and the ceiling back to back: the ratio within a
    # repeat is the least exposed to the machine's load changing
    ratios = np.array(runs["sktransfer"]) / np.array(runs["ceiling"])
    for phase, ratio in zip(("fit", "predict"), np.median(ratios, axis=0), strict=True):
        row[f"{phase}_ceiling_ratio"] = float(ratio)
    print(json.dumps(row), flush=True)
    return row


def one_item_seconds(model, X_test, n=LATENCY_ITEMS):
    """Median seconds of ``predict`` on one item, over the first ``n`` test items."""
    model.predict(X_test[:1])  # warm
    items = [X_test[i : i + 1] for i in range(n)]
    return float(
        np.median([timed(functools.partial(model.predict, x))[0] for x in items])
    )


def text_workload(epochs):
    train, test = load_20newsgroups("train"), load_20newsgroups("test")

    def make():
        return PretrainedEmbeddingClassifier(
            transfer="fine_tune",
            max_epochs=epochs,
            batch_size=BATCH_SIZE,
            lr=3e-3,
            device="cpu",
            random_state=0,
        )

    def encode(model, X, y, X_test):
        def ids(docs):  # the padded id matrix the ceiling runs on
            rows = model._encode(model.tokenizer_.corpus(docs))
            return rows[0 : len(rows)].numpy()

        return ids(X), np.searchsorted(model.classes_, y), ids(X_test)

    def prepare(model, docs):
        return model._prepare(docs)  # what predict does before the forward pass

    return (
        make,
        train.data,
        train.target,
        test.data,
        encode,
        prepare,
        handwritten_text_predict_seconds,
    )


def handwritten_text_predict_seconds(model, docs):
    """Seconds of a predict on raw text as commonly written by hand around the
    fitted module: sklearn's analyzer per document (the same tokens), the
    fitted vocabulary as a dict, a padded matrix of the first ``max_length``
    known ids, then the ceiling's forward pass (unseen words dropped, where
    sktransfer looks them up in GloVe)."""
    analyzer = CountVectorizer().build_analyzer()
    vocabulary, max_length = model.vocabulary_, model.max_length
    module = copy.deepcopy(model.net_.module_).eval()

    def run():
        ids = [
            [vocabulary[t] for t in analyzer(doc) if t in vocabulary][:max_length]
            for doc in docs
        ]
        matrix = np.zeros((len(ids), max(1, *map(len, ids))), dtype=np.int64)
        for i, row in enumerate(ids):
            matrix[i, : len(row)] = row
        matrix = torch.from_numpy(matrix)
        with torch.inference_mode():
            for i in range(0, len(matrix), BATCH_SIZE):
                module(matrix[i : i + BATCH_SIZE])

    return timed(run)[0]


def image_workload(epochs):
    X, y = load_digits(return_X_y=True)
    X, y = np.tile(X, (5, 1)), np.tile(y, 5)

    def make():
        return FineTunedCNNClassifier(
            transfer="fine_tune",
            max_epochs=epochs,
            batch_size=BATCH_SIZE,
            device="cpu",
            random_state=0,
        )

    def encode(model, X, y, X_test):
        def images(data):
            return (data.reshape(-1, 1, 8, 8)).astype(np.float32)

        return images(X), np.searchsorted(model.classes_, y), images(X_test)

    def prepare(model, data):
        return data.astype(np.float32)

    return make, X, y, X[:1797], encode, prepare, None


CHANGES = [
    (
        "whole-array batches (`sktransfer._batches`) instead of skorch's "
        "per-sample DataLoader",
        "digits, fit",
        "2,654 (DataLoader path, first run)",
        "6,854 (same run)",
    ),
    (
        "the vector table with unseen words built once per predict, not per "
        "batch; vectorised index fill",
        "20 Newsgroups, predict",
        "3,516 (ceiling ratio 16.2)",
        "4,788 (ratio 9.8)",
    ),
    (
        "whole-corpus tokenization by numpy (`Tokenizer.corpus`): input "
        "preparation of the 7,528 test documents",
        "20 Newsgroups, predict",
        "11,671 (regex, per document)",
        "this run, last column",
    ),
    (
        "the same, with word ids looked up once per distinct word and unseen "
        "words in the memory-mapped index",
        "20 Newsgroups, predict",
        "4,788 (ratio 9.8)",
        "11,352 (ratio 3.9)",
    ),
    (
        "tokens of up to 8 bytes hashed exactly, of 9-16 bytes hashed and "
        "checked, ids from a table of the sorted distinct hashes; unseen words "
        "searched in the index in sorted order",
        "20 Newsgroups, predict",
        "11,352 (ratio 3.9; input preparation 16,932 /s)",
        "12,856-14,186 (input preparation 22,713-24,552 /s; ratio 3.0-3.9 as "
        "the ceiling varied)",
    ),
    (
        "named optimizers step torch's fused AdamW (one kernel for every "
        "parameter); the ceiling's loop steps it too since",
        "20 Newsgroups, fit",
        "2,978-3,511 (ceiling with the default AdamW: 3,624-3,827)",
        "this run",
    ),
    (
        "predict finds the fitted vocabulary's words among the tokens by hash "
        "(`KnownWords`, built once per model); only the other tokens are "
        "factorized. Input preparation of the 7,528 test documents, before and "
        "after interleaved in one process, median of 9",
        "20 Newsgroups, predict",
        "20,112 (374 ms; predict 12,751 in the run before, ratio 4.08)",
        "30,157 (250 ms; predict: this run)",
    ),
    (
        "predict on a few documents builds a table of the word vectors they "
        "use, not a copy of the whole table with the unseen words' vectors "
        "appended; where those start is read from the table's size, not from "
        "the vocabulary's largest id. One document, median over 200 test "
        "documents, model fitted on the full training set",
        "20 Newsgroups, predict one document",
        "4.63 ms (2.51 ms with the second change alone)",
        "2.10 ms (same process, interleaved)",
    ),
    (
        "EmbeddingVectorizer weights each used word once (idf, SIF) and its "
        "counts by array indexing, not one dict lookup and log per (document, "
        "word) pair. transform of the 7,528 test documents, median of 5, "
        "interleaved in one process, outputs identical",
        "20 Newsgroups, EmbeddingVectorizer transform (tfidf / sif)",
        "6,373 / 9,046",
        "12,017 / 12,569",
    ),
    (
        "EmbeddingVectorizer finds each token's column through its distinct "
        "word, not by sorting the 1.8M tokens (np.unique); same measurement, "
        "median of 7, outputs identical",
        "20 Newsgroups, EmbeddingVectorizer transform (tfidf)",
        "12,374",
        "15,203",
    ),
    (
        "(2026-11-29) the offline GloVe matrix, column-major in its package, "
        "is copied row-major into the cache once per machine, so a word's "
        "vector is one contiguous read. Predict on the 7,528 test documents "
        "(model fitted on the training set), median of 9, interleaved in one "
        "process; fit's work before the first epoch on 2,000 documents moved "
        "from 216 to 203 ms",
        "20 Newsgroups, predict",
        "582 ms (12,937 /s)",
        "511 ms (14,732 /s)",
    ),
    (
        "(2026-11-29) predict tokenizes chunks of 1,024 documents, the next one "
        "in a background thread while the current one runs through the network "
        "with one torch thread fewer (with both cores given to torch the two "
        "only contended: no gain). Same measurement, median of 7, interleaved; "
        "outputs identical",
        "20 Newsgroups, predict",
        "527 ms (14,284 /s)",
        "378 ms (19,915 /s)",
    ),
    (
        "(2026-11-29) texts under 8,192 characters in all are tokenized by the "
        "regular expression: numpy's passes each cost microseconds however "
        "short the text (one post: 1.08 ms by numpy, 0.13 ms by the regular "
        "expression). One document, median over 200 test documents, 3 "
        "interleaved rounds, outputs identical",
        "20 Newsgroups, predict one document",
        "2.98-3.04 ms",
        "1.42-1.43 ms",
    ),
    (
        "(2026-11-29) a corpus of 8M characters or more is tokenized in parts, "
        "in as many threads as torch may use, and the parts' words merged: the "
        "training set, 16.5M characters, 442 -> 299 ms. Fit, median of 5, "
        "interleaved, same model; the work before the first epoch 0.89 -> "
        "0.75 s",
        "20 Newsgroups, fit (3 epochs)",
        "4.42 s (7,666 /s)",
        "4.09 s (8,283 /s)",
    ),
    (
        "(2026-11-29) document frequencies sort (document, word) keys as 32-bit "
        "integers where they fit; the training set's 2.8M tokens, median of 5",
        "20 Newsgroups, fit: document frequencies",
        "77 ms",
        "45 ms",
    ),
    (
        "(2026-11-29, AMD EPYC) the pooling encoders give EmbeddingBag each "
        "document's real tokens and their offsets, not the padded matrix with "
        "padding_idx (whose path visits every padding slot; max pooling "
        "gathered the padded (B, L, d) tensor). Fit on the training set, 2 "
        "epochs, then score on the test set; median of 3, interleaved in one "
        "process, accuracies identical. The ceiling's forward pass (the same "
        "module) gains as much: 84 -> 36 ms",
        "20 Newsgroups, fit (epochs' time) / predict, encoder mean, max, mean_max",
        "1.70 / 3.11 / 3.74 s; 0.328 / 0.773 / 0.970 s",
        "1.68 / 1.46 / 2.50 s; 0.276 / 0.367 / 0.369 s",
    ),
    (
        "(2026-11-29, AMD EPYC) with the forward pass that light, predict "
        "tokenizes chunks in as many background threads as torch may use (2 "
        "here), not one. Predict on the test set, median of 9, interleaved in "
        "one process, outputs identical",
        "20 Newsgroups, predict",
        "183 ms",
        "172 ms",
    ),
    (
        "(2026-11-29, AMD EPYC) tokens get their ids without a sort (35 ns a "
        "value here): each claims a slot of an open-addressing table sized by "
        "a count of the distinct values (linear counting). Fit on the "
        "training set, the work before the first epoch; median of 7, "
        "interleaved in one process, same model (tokenizing the training set "
        "alone: 248 -> 216 ms, a 2,000-document corpus 53 -> 45 ms)",
        "20 Newsgroups, fit: before the first epoch",
        "544 ms",
        "478 ms",
    ),
    (
        "(2026-11-29, AMD EPYC) on a CPU the built-in image backbones run "
        "channels-last (weights and input in NHWC strides): SmallCNN "
        "fine-tuned 5 epochs on digits x3, then predict the 1,797 digits; "
        "median of 3, interleaved in one process (EfficientNet-Lite0 "
        "fine-tuned 2 epochs on 192 photo crops of 64 px: 3.36 -> 2.16 s, "
        "predict 274 -> 197 ms). The ceiling runs the same module, so it "
        "gains as much",
        "digits, SmallCNN, fit / predict",
        "3.51 s / 59 ms",
        "2.64 s / 37 ms",
    ),
    (
        "(2026-11-29, AMD EPYC) fit counts the document frequencies (numpy's "
        "sort, without the GIL) in a thread while the words are looked up in "
        "GloVe (those two: 164 -> 121 ms). Fit on the training set, the work "
        "before the first epoch, median of 7 fits, before and after in two "
        "processes one after the other",
        "20 Newsgroups, fit: before the first epoch",
        "494 ms",
        "455 ms",
    ),
    (
        "(2026-11-29, AMD EPYC) the Kim CNN encoder cuts each batch after its "
        "last column holding a token: with max_length=None the id matrix is "
        "as wide as the fit's longest document (11,302 tokens), a batch's "
        "longest is typically under 2,000. "
        "PretrainedEmbeddingClassifier(encoder='cnn', max_length=None), 1 "
        "epoch on 2,000 training documents, then predict_proba on 2,000 test "
        "documents; median of 3, interleaved in one process (another job "
        "running beside it), probabilities identical",
        "20 Newsgroups, encoder cnn, max_length=None: fit / predict",
        "188 s / 103 s",
        "37 s / 16 s",
    ),
    (
        "(2026-11-29, AMD EPYC) the id matrix of a text fit or predict is "
        "int32, not int64 (torch's lookups take either): half the memory. "
        "PretrainedEmbeddingClassifier(transfer='fine_tune'), 2 epochs on the "
        "training set, then score on the test set; median of 5, interleaved "
        "in one process; accuracies identical; times unchanged within noise",
        "20 Newsgroups: ids held (max_length=512) / epochs / predict",
        "46 MB / 1.95 s / 220 ms",
        "23 MB / 2.02 s / 224 ms",
    ),
    (
        "(2026-12-01) EmbeddingVectorizer.transform embeds texts past 16M "
        "characters in consecutive parts of at most 16M (TRANSFORM_CHARS): "
        "the whole-corpus tokenization held about 15 bytes a character at "
        "its peak. Ten times the test set (75,280 documents, 107M "
        "characters), tfidf weighting, median of 5, interleaved in one "
        "process, outputs identical; peak by tracemalloc",
        "20 Newsgroups x10, EmbeddingVectorizer transform: peak / mean / mean_max",
        "1,642 MB / 3.90 s / 4.45 s",
        "272 MB / 3.23 s / 3.90 s",
    ),
    (
        "(2026-12-01) whole-corpus tokenization splits a corpus into parts "
        "of at most 16M characters (PART_CHARS), more parts than threads "
        "where needed, a few at a time: numpy's passes hold about 15 bytes "
        "a character at their peak. Tokenizer.corpus of ten times the test "
        "set (107M characters, 18.4M tokens), 2 threads, median of 5, "
        "interleaved in one process, same tokens; peak by tracemalloc. The "
        "training set (16.5M characters, two parts either way): 179 -> 189 "
        "ms, within noise",
        "20 Newsgroups x10, tokenizing: peak / time",
        "1,640 MB / 1.98 s",
        "833 MB / 1.23 s",
    ),
    (
        "(2026-12-01) a corpus' word ids and document numbers are int32, not "
        "int64; document frequencies, word counts and the id matrix are "
        "worked out about 1M tokens (whole documents) at a time "
        "(SPAN_TOKENS): the frequencies' sort of every (document, word) "
        "pair needed 64-bit keys past 2**31 / len(words) documents, and "
        "selecting every token at once held about 20 bytes a token; searched "
        "with int32 keys, as the documents are (int64 ones copy them); the "
        "fit drops the corpus once the id matrix is built. "
        "PretrainedEmbeddingClassifier fit (1 epoch) on ten times the test "
        "set (75,280 documents, 18.4M tokens), 3 runs each, alternating "
        "processes; peak by tracemalloc, max RSS growth by getrusage; "
        "models identical. The training set at 1x: work before the first "
        "epoch 1.93 -> 1.61 s (median of 5, alternating), predict unchanged",
        "20 Newsgroups x10, fit: peak / max RSS growth / time",
        "1,068 MB / 1,430-1,493 MB / 7.1-7.6 s",
        "528-547 MB / 931 MB / 4.4-4.6 s",
    ),
    (
        "(2026-12-01) texts go through a transformer's tokenizer 1,024 at a "
        "time (TOKENIZE_DOCS), their ids and masks held as int32 and bytes "
        "until packed: the tokenizer keeps every text's whole encoding "
        "(tokens, offsets, the overflow past max_length) until its batch is "
        "done, about 75 KB a post. all-MiniLM-L6-v2's tokenizer on four "
        "times the test set (30,112 posts), max_length=256, 2 runs each, "
        "alternating processes, max RSS growth by getrusage; packed ids and "
        "masks identical (also on 3,002 texts of 0-400 characters at "
        "max_length=64)",
        "20 Newsgroups x4, transformer tokenization: max RSS growth / time",
        "2,209-2,210 MB / 8.8-9.4 s",
        "298-300 MB / 8.6-8.7 s",
    ),
    (
        "(2026-12-01) a text fit holds its documents' token ids end to end "
        "(RaggedRows), each batch padded to its own longest document, not a "
        "matrix as wide as the fit's longest (11,293 training documents: 9 MB "
        "against 414 MB at max_length=None, 22 MB at 512); rows are copied "
        "into the batch one by one (shuffled batches of 64: 0.8 us a row "
        "against 0.2 to gather rows of the matrix padded to 512, 1.0 against "
        "4.7 us at max_length=None; gathering by a computed index took "
        "1.2-1.3). PretrainedEmbeddingClassifier(transfer='fine_tune', "
        "max_length=None), 5 epochs on the training set, then predict_proba on "
        "the test set, 3 runs each, alternating processes, max RSS growth of "
        "the fit by getrusage; probabilities identical. At max_length=512: "
        "383-392 MB against 405, fit 8.0-9.0 s against 8.4-9.3, same "
        "probabilities",
        "20 Newsgroups, max_length=None: fit max RSS growth / fit / predict",
        "865-868 MB / 10.8-11.6 s / 0.50-0.55 s",
        "383-393 MB / 9.3-9.4 s / 0.33-0.38 s",
    ),
    (
        "(2026-12-01) word2vec binaries are parsed by sktransfer, 16 MiB at a "
        "time, not by gensim's load_word2vec_format: a progress bar from 64 "
        "MiB (GoogleNews' 3.6 GB showed nothing), decompressed by content "
        "(gensim needed a name ending .gz or .bz2), a file cut short named as "
        "such. 200,000 GloVe words with random vectors of 300 values (242 MB), "
        "3 runs each, alternating in one process, a CI job running beside it; "
        "words and vectors identical",
        "word2vec binary 200k x 300: parse / gzipped",
        "1.8-2.4 s / 4.9-5.7 s",
        "1.0-1.2 s / 3.4-4.1 s",
    ),
]
"""Measured before/after pairs of the optimizations (this machine)."""

NOT_KEPT = [
    (
        "(2026-11-30) predict looks the fitted vocabulary's words up once per "
        "distinct token (after factorizing every token) instead of once per "
        "token. Predict's input preparation of the test set in chunks of "
        "1,024, median of 7, interleaved in one process: no gain, since with "
        "the fitted vocabulary most tokens are known and the per-token path "
        "factorizes few (with half the vocabulary it was 100 -> 79 ms)",
        "20 Newsgroups, predict: input preparation",
        "170 ms",
        "174 ms",
    ),
    (
        "(2026-11-30) GloVe's stored index searched by a 64-bit hash of each "
        "word (sorted hashes, checked against the word) instead of by binary "
        "search in the sorted words: looking up the training set's 73,686 "
        "distinct words 48.5 -> 33.7 ms, but predict on the test set only "
        "193 -> 186 ms (4 %) and fit unchanged within noise; not worth a new "
        "cache layout",
        "20 Newsgroups, predict",
        "192.8 ms",
        "185.7 ms",
    ),
    (
        "(2026-11-30, numba 0.68 prototype, not in the package) tokenizing "
        "and finding the fitted vocabulary's words in compiled code, one pass "
        "over the lowercased ASCII bytes of the test set (10.7M characters, "
        "1.84M tokens): finding the runs of word characters alone takes "
        "20 ms (a branch per byte), hashing every token and checking it "
        "against the word 70 ms, a slot holding the exact 8-byte key (tokens "
        "of up to 8 bytes only) 37 ms; plus 8 ms to lowercase and join. "
        "Predict would still spend about 30 ms on unseen words' GloVe "
        "lookups: about 80 ms of input preparation against a 40-60 ms forward "
        "pass, about 2x the ceiling on 2 cores at best. Not kept: a new "
        "dependency (an extra) for a target it would not reach",
        "20 Newsgroups, predict: tokenizing with the known words",
        "105 ms (numpy, chunks of 1,024)",
        "37-70 ms (whole test set)",
    ),
]
"""Measured changes that were tried and not kept, so that they are not tried
again blindly."""


def history():
    rows = "\n".join(f"| {' | '.join(change)} |" for change in CHANGES)
    tried = "\n".join(f"| {' | '.join(change)} |" for change in NOT_KEPT)
    return (
        "\nBefore and after (same script, this machine, 2026-11-28 unless "
        "dated; 'this run' is the table above):\n\n| change | workload, phase "
        "| before /s | after /s |\n| --- | --- | --- | --- |\n"
        + rows
        + "\n\nTried and not kept (measured, then reverted):\n\n| change | "
        "workload, phase | before | after |\n| --- | --- | --- | --- |\n"
        + tried
        + "\n\nThe machine is shared and noisy (the DataLoader path measured "
        "2,654 and 7,573 images/s in two runs an hour apart): compare columns "
        "within one run.\n"
    )


def len_test(row):
    """Test items, from a row's predict rate and time."""
    return row["sktransfer"]["predict_per_s"] * row["sktransfer"]["predict_s"]


def main(epochs=3, repeats=3):
    rows = []
    for name, workload in (
        ("20 Newsgroups, EmbeddingBag (docs)", text_workload),
        ("digits x5, SmallCNN (images)", image_workload),
    ):
        rows.append(measure(name, workload(epochs), epochs, repeats))
    lines = [
        "| workload | phase | sktransfer /s | DataLoader path /s | ceiling /s | "
        "ceiling / sktransfer | input preparation alone | one item, ms | "
        "hand-written predict on raw input /s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        for phase in ("fit", "predict"):
            prepare, latency, handwritten = (
                (
                    f"{len_test(r) / r['prepare_predict_s']:,.0f} /s",
                    f"{r['one_item_predict_ms']:.2f}",
                    f"{r['handwritten_predict_per_s']:,.0f}"
                    if "handwritten_predict_per_s" in r
                    else "",
                )
                if phase == "predict"
                else ("", "", "")
            )
            lines.append(
                f"| {r['workload']} | {phase} | "
                f"{r['sktransfer'][f'{phase}_per_s']:,.0f} | "
                f"{r['dataloader'][f'{phase}_per_s']:,.0f} | "
                f"{r['ceiling'][f'{phase}_per_s']:,.0f} | "
                f"{r[f'{phase}_ceiling_ratio']:.2f} | {prepare} | {latency} | "
                f"{handwritten} |"
            )
    table = "\n".join(lines)
    write_results(
        "throughput",
        {"epochs": epochs, "rows": rows},
        f"Throughput of fit and predict (items per second, median of {repeats})",
        f"fit: {epochs} epochs, batch {BATCH_SIZE}, "
        "items x epochs / seconds, including input validation, tokenization and "
        "building the model; predict: items / seconds, tokenization included. "
        "The ceiling runs the same fitted module on pre-tokenized, "
        "pre-tensorized data. ceiling / sktransfer is the median of the ratios "
        "within each repeat. Target: <= 1.5. One item, ms: predict on a "
        f"single document (image), median over the first {LATENCY_ITEMS} test "
        "items.\n\n" + table + "\n" + history(),
    )
    print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    main(args.epochs, args.repeats)
