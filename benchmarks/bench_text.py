"""20 Newsgroups: word vectors and transformers, every transfer mode, vs TF-IDF.

Part "glove": at N labelled documents per class (5, 10, 20, 50) and on the
full training set, PretrainedEmbeddingClassifier with each encoder and transfer
mode (frozen, fine_tune, structure), EmbeddingVectorizer + LogisticRegression,
TF-IDF + LogisticRegression and TF-IDF + LinearSVC; test accuracy on the full
test set (7,528 documents). Writes benchmarks/results/text.md and .json.

Part "transformers": at N = 5, 10, 20, 50, all-MiniLM-L6-v2 (offline) as a
linear probe (TransformerVectorizer + LogisticRegression),
FineTunedTransformerClassifier (frozen, fine_tune, structure), few-shot
ZeroShotClassifier prototypes, and zero-shot accuracy (class names, and the
readable descriptions of sktransfer.datasets.NEWSGROUPS_DESCRIPTIONS), beside
TF-IDF and GloVe models, all on a fixed stratified subset of 2,000 test
documents (the transformer reads ~50 documents/s on 2 cores). Writes
benchmarks/results/text_transformers.md and .json.

Run: python benchmarks/bench_text.py [--part glove|transformers] [--quick]
[--resume] [--cnn-full] [--fine-tune-all] [--redo MODEL ...]
(--quick: N=10 (and full), mean only; --resume: keep the sizes already in
the results files; --cnn-full: also the CNN on the full training set, about 40
minutes more on 2 cores; --fine-tune-all: the transformer's fine_tune and
structure rows at N = 20 and 50 too; --redo: the transformers part measures
only these models again, e.g. --redo "minilm frozen"; the glove part
measures them for the first time too)
"""

import argparse
import json
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sktransfer import (
    EmbeddingVectorizer,
    FineTunedTransformerClassifier,
    PretrainedEmbeddingClassifier,
    TransformerVectorizer,
    ZeroShotClassifier,
)
from sktransfer._demo import TEXT_SETTINGS, text_epochs
from sktransfer.datasets import NEWSGROUPS_DESCRIPTIONS, load_20newsgroups
from sktransfer.model_selection import stratified_subsample

try:
    from benchmarks._machine import RESULTS, write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import RESULTS, write_results

TRANSFORMER_TEST_PER_CLASS = 100
TRANSFORMER_MAX_LENGTH = 128
FINE_TUNE_SIZES = (5, 10)  # fine_tune/structure at N=20, 50: --fine-tune-all
CNN_MAX_LENGTH = 200  # the CNN is ~7 ms per 512-token document-epoch on 2 cores
ENCODERS = ("mean", "max", "mean_max", "cnn")
MODES = ("frozen", "fine_tune", "structure")
LINEAR = "mean/frozen, linear head"


def models(n, encoders, cnn_full=False):
    for encoder in encoders:
        if encoder == "cnn" and n is None and not cnn_full:
            continue
        for mode in MODES:
            yield (
                f"{encoder}/{mode}",
                PretrainedEmbeddingClassifier(
                    transfer=mode,
                    encoder=encoder,
                    max_epochs=text_epochs(n),
                    random_state=0,
                    **TEXT_SETTINGS,
                ),
            )
        if encoder == "mean":  # no hidden layer: solved by L-BFGS, no lr or epochs
            yield (
                LINEAR,
                PretrainedEmbeddingClassifier(
                    hidden_layer_sizes=(), random_state=0, device="cpu"
                ),
            )
    yield (
        "glove_mean+logreg",
        make_pipeline(
            EmbeddingVectorizer(weighting="tfidf"), LogisticRegression(max_iter=3000)
        ),
    )
    yield from tfidf_models()


def tfidf_models():
    yield (
        "tfidf+logreg",
        make_pipeline(
            TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000)
        ),
    )
    yield (
        "tfidf+linearsvc",
        make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC()),
    )


def transformer_models(n):
    settings = {"max_length": TRANSFORMER_MAX_LENGTH, "random_state": 0}
    vectorizer = TransformerVectorizer(max_length=TRANSFORMER_MAX_LENGTH)
    yield from tfidf_models()
    yield (
        "glove mean/frozen",
        PretrainedEmbeddingClassifier(
            max_epochs=text_epochs(n), random_state=0, **TEXT_SETTINGS
        ),
    )
    yield (
        "minilm probe+logreg",
        make_pipeline(vectorizer, LogisticRegression(max_iter=3000)),
    )
    yield (  # its linear head on cached embeddings: solved by L-BFGS
        "minilm frozen",
        FineTunedTransformerClassifier(max_epochs=text_epochs(n), **settings),
    )
    yield (
        "minilm fine_tune",
        FineTunedTransformerClassifier(
            transfer="fine_tune", max_epochs=10, batch_size=16, **settings
        ),
    )
    yield (
        "minilm structure",
        FineTunedTransformerClassifier(
            transfer="structure", max_epochs=10, batch_size=16, **settings
        ),
    )
    yield (
        "minilm few-shot prototypes",
        ZeroShotClassifier(vectorizer, class_descriptions=NEWSGROUPS_DESCRIPTIONS),
    )


def transformers_part(quick=False, resume=False, fine_tune_all=False, redo=()):
    """The transformer table, on a fixed stratified subset of the test set;
    ``redo``: only these models' cells are measured again (the rest are read
    from the saved results)."""
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    test_idx = stratified_subsample(test.target, TRANSFORMER_TEST_PER_CLASS, 0)
    X_test, y_test = [test.data[i] for i in test_idx], test.target[test_idx]
    vectorizer = TransformerVectorizer(max_length=TRANSFORMER_MAX_LENGTH)
    saved = RESULTS / "text_transformers.json"
    keep = (resume or redo) and saved.exists()
    previous = json.loads(saved.read_text()) if keep else {}
    zero_shot, rows = previous.get("zero_shot", {}), previous.get("rows", [])
    done = {row["n_per_class"] for row in rows}
    for row in rows if redo else ():
        idx = stratified_subsample(train.target, row["n_per_class"], 0)
        X, y = [train.data[i] for i in idx], train.target[idx]
        for name, model in transformer_models(row["n_per_class"]):
            if name in redo and name in row:
                row[name] = _scored(model, X, y, X_test, y_test)
                print(f"N={row['n_per_class']:>3} {name:<28} {row[name]}", flush=True)
    if redo:
        write_transformers(rows, zero_shot)
        return
    for name, descriptions in (
        ("class names", None),
        ("descriptions", NEWSGROUPS_DESCRIPTIONS),
    ):
        if name in zero_shot:
            continue
        start = time.perf_counter()
        clf = ZeroShotClassifier(vectorizer, class_descriptions=descriptions)
        score = clf.fit(None, train.target_names).score(X_test, y_test)
        zero_shot[name] = {"accuracy": score, "seconds": time.perf_counter() - start}
        print(f"zero-shot ({name}) {score:.3f}", flush=True)
    for n in (10,) if quick else (5, 10, 20, 50):
        if n in done:
            continue
        idx = stratified_subsample(train.target, n, 0)
        X, y = [train.data[i] for i in idx], train.target[idx]
        row = {"n_per_class": n}
        trains_transformer = quick or (n not in FINE_TUNE_SIZES and not fine_tune_all)
        for name, model in transformer_models(n):
            if trains_transformer and name in ("minilm fine_tune", "minilm structure"):
                continue
            row[name] = _scored(model, X, y, X_test, y_test)
            print(
                f"N={n:>3} {name:<28} {row[name]['accuracy']:.3f} "
                f"({row[name]['seconds']:.0f}s)",
                flush=True,
            )
        rows.append(row)
        write_transformers(rows, zero_shot)


def _scored(model, X, y, X_test, y_test):
    start = time.perf_counter()
    score = model.fit(X, y).score(X_test, y_test)
    return {"accuracy": score, "seconds": time.perf_counter() - start}


def write_transformers(rows, zero_shot):
    table = _table(rows)
    zs = "\n".join(
        f"| zero-shot, {name} | {cell['accuracy']:.3f} |"
        for name, cell in zero_shot.items()
    )
    write_results(
        "text_transformers",
        {"zero_shot": zero_shot, "rows": rows},
        "20 Newsgroups: transformer sources vs TF-IDF and GloVe",
        f"Test accuracy on a fixed stratified subset of the test set "
        f"({TRANSFORMER_TEST_PER_CLASS} documents per class, 2,000 in all), at N "
        "labelled training documents per class, seed 0. all-MiniLM-L6-v2 from the "
        f"offline package, reading the first {TRANSFORMER_MAX_LENGTH} tokens. "
        "`minilm frozen` trains the linear head on cached embeddings, solved "
        "by L-BFGS with LogisticRegression's C=1 penalty (optimizer='auto'; "
        "until 2026-11-29 AdamW at lr 3e-3, batch 64, epochs from "
        "text_epochs(N): 0.533, 0.617, 0.669, 0.719 at N = 5, 10, 20, 50); "
        "`fine_tune`/`structure`: 10 epochs, batch 16, "
        "head lr 1e-3, transformer at 0.05x, run at N = "
        f"{', '.join(map(str, FINE_TUNE_SIZES))} only unless --fine-tune-all "
        "is given (about 15 and 40 minutes more on 2 cores). `few-shot "
        "prototypes`: "
        "ZeroShotClassifier with the readable class descriptions plus the N "
        "examples per class. Written by benchmarks/bench_text.py --part "
        "transformers.\n\n" + table + "\n\nNo labelled text at all:\n\n"
        "| zero-shot | accuracy |\n| --- | --- |\n" + zs + "\n",
    )
    print(table)


def _table(rows):
    names = list(dict.fromkeys(k for r in rows for k in r if k != "n_per_class"))
    lines = [
        "| model | " + " | ".join(str(r["n_per_class"]) for r in rows) + " |",
        "|" + " --- |" * (len(rows) + 1),
    ]
    for name in names:
        cells = " | ".join(
            f"{r[name]['accuracy']:.3f}" if name in r else "" for r in rows
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main(quick=False, resume=False, cnn_full=False, redo=()):
    """The GloVe table; ``redo``: only these models' cells are measured (again,
    or for the first time), the rest read from the saved results."""
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    sizes = (10, None) if quick else (5, 10, 20, 50, None)
    encoders = ("mean",) if quick else ENCODERS
    keep = resume or redo
    rows = json.loads((RESULTS / "text.json").read_text())["rows"] if keep else []
    done = {row["n_per_class"] for row in rows}
    for index, row in enumerate(rows if redo else ()):
        n = None if row["n_per_class"] == "all" else row["n_per_class"]
        idx = stratified_subsample(train.target, n, 0)
        X, y = [train.data[i] for i in idx], train.target[idx]
        named = list(models(n, ENCODERS, cnn_full))
        for name, model in named:
            if name in redo:
                row[name] = _scored(model, X, y, test.data, test.target)
                _report(row, name)
        rows[index] = {"n_per_class": row["n_per_class"]} | {
            name: row[name] for name, _ in named if name in row
        }
    for n in () if redo else sizes:
        if ("all" if n is None else n) in done:
            continue
        idx = stratified_subsample(train.target, n, 0)
        X, y = [train.data[i] for i in idx], train.target[idx]
        row = {"n_per_class": "all" if n is None else n}
        for name, model in models(n, encoders, cnn_full):
            row[name] = _scored(model, X, y, test.data, test.target)
            _report(row, name)
        rows.append(row)
        write(rows)
    if redo:
        write(rows)


def _report(row, name):
    print(
        f"N={row['n_per_class']!s:>4} {name:<24} {row[name]['accuracy']:.3f} "
        f"({row[name]['seconds']:.0f}s)",
        flush=True,
    )


def write(rows):
    table = _table(rows)
    write_results(
        "text",
        {"rows": rows},
        "20 Newsgroups test accuracy at N labelled documents per class",
        "GloVe 6B 50d (offline), seed 0; `encoder/mode` rows are "
        "PretrainedEmbeddingClassifier. Settings: sktransfer._demo.TEXT_SETTINGS, "
        f"epochs from text_epochs(N), except `{LINEAR}`: hidden_layer_sizes=(), "
        "otherwise the defaults (optimizer='auto' solves it by L-BFGS, with "
        "LogisticRegression's C=1 penalty); the CNN reads the first {CNN_MAX_LENGTH} "
        "tokens and is left out on the full set unless --cnn-full is given (about "
        "40 more minutes on 2 cores).\n\n" + table + "\n",
    )
    print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("all", "glove", "transformers"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--cnn-full", action="store_true")
    parser.add_argument("--fine-tune-all", action="store_true")
    parser.add_argument(
        "--redo",
        nargs="+",
        default=(),
        metavar="MODEL",
        help="measure only these models again (or for the first time), e.g. "
        "--part glove --redo 'mean/frozen, linear head'",
    )
    args = parser.parse_args()
    if args.part in (None, "all", "glove"):
        main(args.quick, args.resume, args.cnn_full, args.redo)
    if args.part in (None, "all", "transformers"):
        transformers_part(args.quick, args.resume, args.fine_tune_all, args.redo)
