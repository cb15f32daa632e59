"""20 Newsgroups with GloVe 50d: every encoder and transfer mode vs TF-IDF.

At N labelled documents per class (5, 10, 20, 50) and on the full training set,
in one process: PretrainedEmbeddingClassifier with each encoder and transfer
mode (frozen, fine_tune, structure), EmbeddingVectorizer + LogisticRegression,
TF-IDF + LogisticRegression and TF-IDF + LinearSVC. Test accuracy on the full
test set (7,528 documents). Writes benchmarks/results/text.md and .json.

Run: python benchmarks/bench_text.py [--quick] [--resume] [--cnn-full]
(--quick: N=10 and full, mean only; --resume: keep the sizes already in
results/text.json; --cnn-full: also the CNN on the full training set, about 40
minutes more on 2 cores)
"""

import argparse
import json
import pathlib
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier
from sktransfer._demo import TEXT_SETTINGS, text_epochs
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import stratified_subsample

RESULTS = pathlib.Path(__file__).parent / "results"
CNN_MAX_LENGTH = 200  # the CNN is ~7 ms per 512-token document-epoch on 2 cores
ENCODERS = ("mean", "max", "mean_max", "cnn")
MODES = ("frozen", "fine_tune", "structure")


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
    yield (
        "glove_mean+logreg",
        make_pipeline(
            EmbeddingVectorizer(weighting="tfidf"), LogisticRegression(max_iter=3000)
        ),
    )
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


def main(quick=False, resume=False, cnn_full=False):
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    sizes = (10, None) if quick else (5, 10, 20, 50, None)
    encoders = ("mean",) if quick else ENCODERS
    rows = json.loads((RESULTS / "text.json").read_text()) if resume else []
    done = {row["n_per_class"] for row in rows}
    for n in sizes:
        if ("all" if n is None else n) in done:
            continue
        idx = stratified_subsample(train.target, n, 0)
        X, y = [train.data[i] for i in idx], train.target[idx]
        row = {"n_per_class": "all" if n is None else n}
        for name, model in models(n, encoders, cnn_full):
            start = time.perf_counter()
            score = model.fit(X, y).score(test.data, test.target)
            row[name] = {"accuracy": score, "seconds": time.perf_counter() - start}
            print(
                f"N={row['n_per_class']!s:>4} {name:<22} {score:.3f} "
                f"({row[name]['seconds']:.0f}s)",
                flush=True,
            )
        rows.append(row)
        write(rows)


def write(rows):
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
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "text.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "text.md").write_text(
        "# 20 Newsgroups test accuracy at N labelled documents per class\n\n"
        "GloVe 6B 50d (offline), seed 0; `encoder/mode` rows are "
        "PretrainedEmbeddingClassifier. Settings: sktransfer._demo.TEXT_SETTINGS, "
        f"epochs from text_epochs(N); the CNN reads the first {CNN_MAX_LENGTH} "
        "tokens and is left out on the full set unless --cnn-full is given (about "
        "40 more minutes on 2 cores).\n\n" + table + "\n"
    )
    print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--cnn-full", action="store_true")
    args = parser.parse_args()
    main(args.quick, args.resume, args.cnn_full)
