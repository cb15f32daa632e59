"""fastText's subword vectors: do words outside the vocabulary gain from them?

A fastText model is trained by gensim on the 20 Newsgroups training texts
(unlabelled: the source, trained on existing data) and saved in fastText's
binary format (``.bin``, word and character n-gram vectors) and as ``.vec``
(the word vectors alone). PretrainedEmbeddingClassifier (mean encoder, frozen)
then learns the 20 classes from N labelled training documents per class with
each file as its source, and is scored on the test set twice: as it is, and
with typos (the last letter of every third word of 4+ letters doubled: words
no vocabulary holds, which only the n-grams can place). With the ``.vec``
file such words are dropped; with the ``.bin`` model they get the mean of
their n-grams' vectors. Accuracy only: nothing here is timed but the source's
training. Writes benchmarks/results/fasttext.md and .json.

Run: python benchmarks/bench_fasttext.py
"""

import re
import tempfile
import time

from gensim.models import FastText
from gensim.models.fasttext import save_facebook_model

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer._demo import TEXT_SETTINGS, text_epochs
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import stratified_subsample
from sktransfer.text._tokenize import Tokenizer

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results

SIZES = (10, 50, None)
SOURCE = {"vector_size": 50, "min_count": 5, "epochs": 5, "bucket": 200_000}


def with_typos(doc):
    """Every third word of four or more letters with its last letter doubled."""
    count = iter(range(1 << 62))

    def typo(match):
        word = match.group(0)
        return word + word[-1] if next(count) % 3 == 2 else word

    return re.sub(r"\b[a-z]{4,}\b", typo, doc)


def main():
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    tokenize = Tokenizer()
    start = time.perf_counter()
    model = FastText([tokenize(doc) for doc in train.data], seed=0, **SOURCE)
    source_s = time.perf_counter() - start
    print(f"fastText source: {len(model.wv)} words, {source_s:.0f} s", flush=True)
    test_typos = [with_typos(doc) for doc in test.data]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = {"bin": f"{folder}/news.bin", "vec": f"{folder}/news.vec"}
        save_facebook_model(model, files["bin"])
        model.wv.save_word2vec_format(files["vec"])
        for n in SIZES:
            rows_n = stratified_subsample(train.target, n, random_state=0)
            X, y = [train.data[i] for i in rows_n], train.target[rows_n]
            for kind, path in files.items():
                clf = PretrainedEmbeddingClassifier(
                    path, max_epochs=text_epochs(n), random_state=0, **TEXT_SETTINGS
                ).fit(X, y)
                row = {
                    "n_per_class": n,
                    "source": kind,
                    "test": clf.score(test.data, test.target),
                    "test_with_typos": clf.score(test_typos, test.target),
                    "n_pretrained": clf.n_pretrained_,
                    "n_oov": clf.n_oov_,
                }
                print(row, flush=True)
                rows.append(row)
    write(rows, source_s, len(model.wv))


def write(rows, source_s, n_words):
    lines = [
        "| N per class | source | test accuracy | with typos | training words "
        "with a vector |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        n = "all" if r["n_per_class"] is None else r["n_per_class"]
        lines.append(
            f"| {n} | `.{r['source']}` | {r['test']:.3f} | "
            f"{r['test_with_typos']:.3f} | {r['n_pretrained']:,} |"
        )
    body = (
        f"Source: gensim FastText ({SOURCE}) trained on the 11,293 unlabelled "
        f"training texts in {source_s:.0f} s: {n_words:,} words. "
        "PretrainedEmbeddingClassifier(mean, frozen), sktransfer._demo."
        "TEXT_SETTINGS, seed 0; the full test set (7,528 documents), and the "
        "same with the last letter of every third word of 4+ letters doubled. "
        "`.bin`: words and n-grams; `.vec`: the same words' vectors alone.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    text = write_results(
        "fasttext",
        {"rows": rows, "source": SOURCE, "source_seconds": source_s},
        "fastText subword vectors vs the word vectors alone, 20 Newsgroups",
        body,
    )
    print(text)


if __name__ == "__main__":
    main()
