"""Digits 0-4 -> 5-9: transfer vs scratch at N labels per class, over seeds.

Prints a table (mean and std of test accuracy over seeds) and writes
benchmarks/results/digits_transfer.md and .json. Run: python
benchmarks/bench_digits_transfer.py [--seeds 5]
"""

import argparse
import json
import pathlib
import platform
import time

import numpy as np

from sktransfer._demo import MODES, digits_transfer

RESULTS = pathlib.Path(__file__).parent / "results"
N_PER_CLASS = (1, 3, 5, 10, 20, "all")


def main(seeds=5):
    start = time.perf_counter()
    runs = [digits_transfer(N_PER_CLASS, random_state=seed) for seed in range(seeds)]
    rows = []
    for i, n in enumerate(N_PER_CLASS):
        row = {"n_per_class": n}
        for mode in MODES:
            scores = [run[i][mode] for run in runs]
            row[mode] = {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
        row["fine_tune_gain"] = row["fine_tune"]["mean"] - row["structure"]["mean"]
        rows.append(row)
    header = "| labels/class | " + " | ".join(MODES) + " | fine_tune - structure |"
    lines = [header, "|" + " --- |" * (len(MODES) + 2)]
    for row in rows:
        cells = " | ".join(f"{row[m]['mean']:.3f} ± {row[m]['std']:.3f}" for m in MODES)
        lines.append(
            f"| {row['n_per_class']} | {cells} | {row['fine_tune_gain']:+.3f} |"
        )
    elapsed = time.perf_counter() - start
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    meta = {"seeds": seeds, "seconds": round(elapsed, 1), "machine": platform.machine()}
    (RESULTS / "digits_transfer.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2)
    )
    (RESULTS / "digits_transfer.md").write_text(
        "# Digits 0-4 -> 5-9: test accuracy (mean ± std over "
        f"{seeds} seeds)\n\nSource: SmallCNN fitted on digits 0-4. Target settings: "
        "sktransfer._demo.TARGET_SETTINGS for every mode. 'structure' is the same "
        f"network trained from scratch.\n\n{table}\n\n{elapsed:.0f} s on "
        f"{platform.machine()}.\n"
    )
    print(f"\nwrote {RESULTS / 'digits_transfer.md'} ({elapsed:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    main(parser.parse_args().seeds)
