"""CUDA smoke benchmark: fit time on CPU vs GPU for the same data and settings.

Run on a GPU machine (`make gpu-check` runs it after tests/gpu). Writes
benchmarks/results/cuda.md and .json; exits with a message without a GPU.
"""

import sys
import time

import torch
from sklearn.datasets import load_digits

from sktransfer import FineTunedCNNClassifier

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results


def timed_fit(device, **params):
    X, y = load_digits(return_X_y=True)
    model = FineTunedCNNClassifier(device=device, random_state=0, **params)
    start = time.perf_counter()
    model.fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, model.score(X, y)


def main():
    if not torch.cuda.is_available():
        sys.exit("bench_cuda needs a CUDA GPU; nothing measured.")
    cases = {
        "small_cnn, 20 epochs, batch 64": dict(max_epochs=20, batch_size=64),
        "efficientnet_lite0 fine_tune 64x64, 2 epochs, batch 64": dict(
            backbone="efficientnet_lite0", max_epochs=2, batch_size=64
        ),
    }
    rows = []
    for name, params in cases.items():
        timed_fit("cuda", **{**params, "max_epochs": 1})  # warm-up
        cpu_s, cpu_acc = timed_fit("cpu", **params)
        gpu_s, gpu_acc = timed_fit("cuda", **params)
        rows.append(
            {
                "case": name,
                "cpu_s": cpu_s,
                "cuda_s": gpu_s,
                "speedup": cpu_s / gpu_s,
                "cpu_acc": cpu_acc,
                "cuda_acc": gpu_acc,
            }
        )
        print(rows[-1], flush=True)
    lines = [
        "| case | CPU s | CUDA s | speed-up | CPU acc | CUDA acc |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['case']} | {r['cpu_s']:.1f} | {r['cuda_s']:.1f} | {r['speedup']:.1f}x "
        f"| {r['cpu_acc']:.3f} | {r['cuda_acc']:.3f} |"
        for r in rows
    ]
    write_results(
        "cuda",
        {"rows": rows},
        f"Fit time, CPU vs {torch.cuda.get_device_name()}",
        "\n".join(lines) + "\n",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
