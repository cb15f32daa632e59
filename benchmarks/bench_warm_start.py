"""Two stages (``warm_start=True``) against one: does training the head first help?

Digits 0-4 -> 5-9 (the demo's source and target split), N labelled images per
class of 5-9, 5 subsamples. Each row trains a model from the source:

- ``feature_extraction``, ``fine_tune``, ``gradual``: one fit of 20 epochs
  (the demo's settings), the last unfreezing a block an epoch;
- ``fine_tune, 40 epochs``: as many epochs as the two stages together;
- ``feature_extraction, then fine_tune``: the head solved on the frozen source
  (20 epochs), then ``set_params(transfer="fine_tune", warm_start=True)`` and
  20 more epochs from there (fastai's ``fine_tune``).

Each cell: mean test accuracy (lowest-highest over the subsamples); fit time
per model. Writes benchmarks/results/warm_start.md and .json.

Run: python benchmarks/bench_warm_start.py [--repeats 5]
"""

import argparse
import time

import numpy as np

from sktransfer import FineTunedCNNClassifier
from sktransfer._demo import DIGITS_SETTINGS, digits_source_and_target
from sktransfer.model_selection import stratified_subsample

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results

SIZES = (1, 3, 10, 20)


def one_fit(transfer, epochs=DIGITS_SETTINGS["max_epochs"]):
    def fit(source, X, y, seed):
        params = {**DIGITS_SETTINGS, "max_epochs": epochs}
        if transfer == "feature_extraction":  # L-BFGS: lr does not apply
            del params["lr"]
        return FineTunedCNNClassifier(
            source, transfer, random_state=seed, **params
        ).fit(X, y)

    return fit


def two_stages(source, X, y, seed):
    model = one_fit("feature_extraction")(source, X, y, seed)
    model.set_params(transfer="fine_tune", warm_start=True, lr=DIGITS_SETTINGS["lr"])
    return model.fit(X, y)


MODELS = {
    "feature_extraction": one_fit("feature_extraction"),
    "fine_tune": one_fit("fine_tune"),
    "gradual": one_fit("gradual"),
    "fine_tune, 40 epochs": one_fit("fine_tune", 40),
    "feature_extraction, then fine_tune": two_stages,
}


def measure(repeats):
    source, (X_pool, y_pool, X_test, y_test) = digits_source_and_target()
    results = {name: {} for name in MODELS}
    for n in SIZES:
        for name, fit in MODELS.items():
            scores, seconds = [], []
            for seed in range(repeats):
                idx = stratified_subsample(y_pool, n, seed)
                start = time.perf_counter()
                model = fit(source, X_pool[idx], y_pool[idx], seed)
                seconds.append(time.perf_counter() - start)
                scores.append(model.score(X_test, y_test))
            results[name][n] = {"scores": scores, "seconds": float(np.mean(seconds))}
            print(f"N={n:>2} {name:<36} {np.mean(scores):.3f}", flush=True)
    return results


def table(results):
    lines = [
        "| model | " + " | ".join(f"N={n}" for n in SIZES) + " | fit s (N=20) |",
        "| --- " * (len(SIZES) + 2) + "|",
    ]
    for name, by_size in results.items():
        cells = []
        for n in SIZES:
            scores = np.array(by_size[n]["scores"])
            cells.append(f"{scores.mean():.3f} ({scores.min():.3f}-{scores.max():.3f})")
        seconds = by_size[SIZES[-1]]["seconds"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.repeats)
    body = (
        f"Source: SmallCNN fitted on digits 0-4; target: N images per class of "
        f"5-9, {args.repeats} subsamples, scored on the other half of 5-9. "
        f"Settings: {DIGITS_SETTINGS} (feature extraction's linear head is "
        "solved by L-BFGS, where lr does not apply). Mean test accuracy, "
        "lowest-highest in brackets.\n\n" + table(results) + "\n"
    )
    print(
        write_results(
            "warm_start",
            {"sizes": list(SIZES), "settings": DIGITS_SETTINGS, "results": results},
            "Two stages with warm_start against one fit: digits 0-4 -> 5-9",
            body,
        )
    )


if __name__ == "__main__":
    main()
