"""Digits 0-4 -> 5-9: transfer vs scratch at N labels per class, over 5 seeds.

Prints the transfer gain curve and writes benchmarks/results/digits_transfer.md,
.json and .png (the curve). Run: python benchmarks/bench_digits_transfer.py
[--repeats 5]
"""

import argparse
import dataclasses
import time

from sktransfer._demo import DIGITS_SETTINGS, digits_gain_curve
from sktransfer.model_selection import plot_transfer_gain_curve

try:
    from benchmarks._machine import write_plot, write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_plot, write_results

TITLE = "Digits 0-4 -> 5-9: test accuracy, mean ± std over {} subsamples"


def main(repeats=5):
    start = time.perf_counter()
    curve = digits_gain_curve(n_per_class=(1, 3, 5, 10, 20, None), n_repeats=repeats)
    elapsed = time.perf_counter() - start
    print(curve)
    write_results(
        "digits_transfer",
        {"seconds": elapsed, **dataclasses.asdict(curve)},
        TITLE.format(repeats),
        "Source: SmallCNN fitted on digits 0-4. Target settings for every mode: "
        f"{DIGITS_SETTINGS}. 'structure' is the same network trained from "
        f"scratch. The curve: digits_transfer.png.\n\n```\n{curve}\n```\n\n"
        f"{elapsed:.0f} s.\n",
    )
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_transfer_gain_curve(curve)
    ax.set_title(TITLE.format(repeats), fontsize="medium")
    print(f"\nwrote {write_plot('digits_transfer', ax.figure)} ({elapsed:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
