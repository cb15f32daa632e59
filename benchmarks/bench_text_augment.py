"""What word dropout (``PretrainedEmbeddingClassifier(augment=...)``) buys.

20 Newsgroups with GloVe 6B 50d (offline), the mean encoder, at N labelled
documents per class (10, 50) and on the full training set, with the vectors
fine-tuned and frozen: no augmentation, ``"word_dropout"`` (0.3) and
``{"word_dropout": 0.5}``. The demo's text settings and epochs
(``sktransfer._demo``), seeds 0 and 1; test accuracy on a fixed 2,000 of the
test documents. Each cell: mean (lowest-highest). Writes
benchmarks/results/text_augment.md and .json.

Run: python benchmarks/bench_text_augment.py
"""

import time

import numpy as np

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer._demo import TEXT_SETTINGS, text_epochs
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import stratified_subsample

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results

SIZES = (10, 50, None)
AUGMENTS = {"none": None, "word_dropout 0.3": "word_dropout"}
AUGMENTS["word_dropout 0.5"] = {"word_dropout": 0.5}
MODES = ("fine_tune", "frozen")
SEEDS = (0, 1)


def measure():
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    pick = np.random.RandomState(0).choice(len(test.target), 2000, replace=False)
    X_test, y_test = [test.data[i] for i in pick], test.target[pick]
    rows = []
    for mode in MODES:
        for name, augment in AUGMENTS.items():
            row = {"mode": mode, "augment": name}
            for n in SIZES:
                scores, seconds = [], []
                for seed in SEEDS:
                    idx = (
                        np.arange(len(train.target))
                        if n is None
                        else stratified_subsample(train.target, n, seed)
                    )
                    model = PretrainedEmbeddingClassifier(
                        "glove-wiki-gigaword-50",
                        mode,
                        augment=augment,
                        max_epochs=text_epochs(n),
                        random_state=seed,
                        **TEXT_SETTINGS,
                    )
                    start = time.perf_counter()
                    model.fit([train.data[i] for i in idx], train.target[idx])
                    seconds.append(time.perf_counter() - start)
                    scores.append(model.score(X_test, y_test))
                key = "all" if n is None else str(n)
                row[key] = {"scores": scores, "seconds": float(np.mean(seconds))}
                print(
                    f"{mode:<9} {name:<17} N={key:<3} {np.mean(scores):.3f}", flush=True
                )
            rows.append(row)
    return rows


def table(rows):
    keys = ["all" if n is None else str(n) for n in SIZES]
    lines = [
        "| mode | augment | " + " | ".join(f"N={k}" for k in keys) + " | fit s (all) |",
        "| --- " * (len(keys) + 3) + "|",
    ]
    for row in rows:
        cells = []
        for key in keys:
            scores = np.array(row[key]["scores"])
            cells.append(f"{scores.mean():.3f} ({scores.min():.3f}-{scores.max():.3f})")
        lines.append(
            f"| {row['mode']} | {row['augment']} | "
            + " | ".join(cells)
            + f" | {row['all']['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main():
    rows = measure()
    body = (
        "GloVe 6B 50d, mean encoder, settings "
        f"{TEXT_SETTINGS} with the demo's epochs (100 at N <= 20, else 10); "
        f"seeds {list(SEEDS)}; accuracy on 2,000 test documents, mean "
        "(lowest-highest). With frozen vectors and word dropout the documents "
        "are encoded every epoch and the head trains by AdamW; without, the "
        "head trains on features computed once.\n\n" + table(rows) + "\n"
    )
    print(
        write_results(
            "text_augment",
            {"settings": TEXT_SETTINGS, "rows": rows},
            "Word dropout on 20 Newsgroups",
            body,
        )
    )


if __name__ == "__main__":
    main()
