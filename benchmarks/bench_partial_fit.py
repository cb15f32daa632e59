"""What learning from data in parts (``partial_fit``) costs against ``fit``.

20 Newsgroups with GloVe 6B 50d (offline), the mean encoder, the full
training set (11,314 documents) seen 10 times: by ``fit(max_epochs=10)``,
and by ``partial_fit`` over 10 and 100 consecutive parts, each pass one
call per part. Vectors fine-tuned and frozen; every fit trains by AdamW
(partial_fit's optimizer, and fit's default for this MLP head). The demo's
text settings (``sktransfer._demo``), seeds 0 and 1;
test accuracy on a fixed 2,000 of the test documents, and the seconds of the
whole training. With fine-tuned vectors, the words of later parts join
partial_fit's vocabulary; with frozen ones, they are read from the source
as in predict. Writes
benchmarks/results/partial_fit.md and .json.

Run: python benchmarks/bench_partial_fit.py
"""

import time

import numpy as np

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer._demo import TEXT_SETTINGS
from sktransfer.datasets import load_20newsgroups

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results

EPOCHS = 10
PARTS = (1, 10, 100)
"""1: ``fit``; more: ``partial_fit`` over that many parts per pass."""
MODES = ("fine_tune", "frozen")
SEEDS = (0, 1)


def train(mode, parts, seed, X, y):
    """A model trained ``EPOCHS`` passes over ``(X, y)`` in ``parts`` parts;
    its seconds."""
    model = PretrainedEmbeddingClassifier(
        "glove-wiki-gigaword-50",
        mode,
        optimizer="adamw",
        random_state=seed,
        **TEXT_SETTINGS,
    )
    start = time.perf_counter()
    if parts == 1:
        model.set_params(max_epochs=EPOCHS).fit(X, y)
    else:
        classes = np.unique(y)
        bounds = np.linspace(0, len(y), parts + 1).astype(int)
        for _ in range(EPOCHS):
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                model.partial_fit(X[a:b], y[a:b], classes=classes)
    return model, time.perf_counter() - start


def measure():
    train_set, test = load_20newsgroups("train"), load_20newsgroups("test")
    X, y = np.array(train_set.data, dtype=object), train_set.target
    pick = np.random.RandomState(0).choice(len(test.target), 2000, replace=False)
    X_test, y_test = [test.data[i] for i in pick], test.target[pick]
    rows = []
    for mode, parts in ((mode, parts) for mode in MODES for parts in PARTS):
        scores, seconds, vocabulary = [], [], []
        for seed in SEEDS:
            model, took = train(mode, parts, seed, X, y)
            scores.append(model.score(X_test, y_test))
            seconds.append(took)
            vocabulary.append(len(model.vocabulary_))
        row = {
            "mode": mode,
            "parts": parts,
            "scores": scores,
            "seconds": seconds,
            "vocabulary": vocabulary,
        }
        rows.append(row)
        print(
            f"{mode:<9} parts={parts:<4} "
            f"{np.mean(scores):.3f} {np.mean(seconds):.1f} s",
            flush=True,
        )
    return rows


def table(rows):
    lines = [
        "| vectors | trained by | accuracy | seconds | words in the vocabulary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        scores, seconds = np.array(row["scores"]), np.array(row["seconds"])
        how = "fit" if row["parts"] == 1 else f"partial_fit, {row['parts']} parts"
        lines.append(
            f"| {row['mode']} | {how} | {scores.mean():.3f} "
            f"({scores.min():.3f}-{scores.max():.3f}) | {seconds.mean():.1f} | "
            f"{int(np.mean(row['vocabulary'])):,} |"
        )
    return "\n".join(lines)


def main():
    rows = measure()
    body = (
        "20 Newsgroups, all 11,314 training documents seen "
        f"{EPOCHS} times; GloVe 6B 50d, mean encoder, settings {TEXT_SETTINGS}; "
        f"seeds {list(SEEDS)}; accuracy on 2,000 test documents, mean "
        "(lowest-highest); seconds of the whole training (mean). partial_fit "
        "makes one call per part and pass. With fine-tuned vectors, later "
        "parts' words join its vocabulary (the last column: at the end); "
        "with frozen ones, they are read from GloVe, as in predict.\n\n"
        + table(rows)
        + "\n"
    )
    print(
        write_results(
            "partial_fit",
            {"settings": TEXT_SETTINGS, "epochs": EPOCHS, "rows": rows},
            "partial_fit against fit on 20 Newsgroups",
            body,
        )
    )


if __name__ == "__main__":
    main()
