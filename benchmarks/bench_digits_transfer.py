"""Digits 0-4 -> 5-9: transfer vs scratch at N labels per class, over 5 seeds.

Prints the transfer gain curve and writes benchmarks/results/digits_transfer.md
and .json. Run: python benchmarks/bench_digits_transfer.py [--repeats 5]
"""

import argparse
import dataclasses
import json
import pathlib
import time

from sktransfer._demo import DIGITS_SETTINGS, digits_gain_curve

RESULTS = pathlib.Path(__file__).parent / "results"


def main(repeats=5):
    start = time.perf_counter()
    curve = digits_gain_curve(n_per_class=(1, 3, 5, 10, 20, None), n_repeats=repeats)
    elapsed = time.perf_counter() - start
    print(curve)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "digits_transfer.json").write_text(
        json.dumps({"seconds": elapsed, **dataclasses.asdict(curve)}, indent=2)
    )
    (RESULTS / "digits_transfer.md").write_text(
        f"# Digits 0-4 -> 5-9: test accuracy, mean ± std over {repeats} subsamples\n\n"
        "Source: SmallCNN fitted on digits 0-4. Target settings for every mode: "
        f"{DIGITS_SETTINGS}. 'structure' is the same network trained from "
        f"scratch.\n\n```\n{curve}\n```\n\n{elapsed:.0f} s on 2 CPU cores.\n"
    )
    print(f"\nwrote {RESULTS / 'digits_transfer.md'} ({elapsed:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
