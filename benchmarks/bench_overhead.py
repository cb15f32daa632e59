"""Training overhead: sktransfer vs plain skorch vs a hand-written PyTorch loop.

The same module (SmallCNN + linear head on sklearn's digits), the same initial
weights, data, epochs and batch size, trained three ways in one process,
interleaved over repeats. Reports the time ratios against the hand-written loop
and the accuracy difference. Writes benchmarks/results/overhead.md and .json.

Run: python benchmarks/bench_overhead.py [--repeats 3] [--epochs 10]
"""

import argparse
import copy
import json
import pathlib
import time

import numpy as np
import skorch
import torch
from sklearn.datasets import load_digits

from sktransfer import FineTunedCNNClassifier
from sktransfer.transfer import reinitialize

try:
    from benchmarks._machine import machine, machine_line
except ImportError:  # run as a script from benchmarks/
    from _machine import machine, machine_line

RESULTS = pathlib.Path(__file__).parent / "results"


def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return X[:1200], y[:1200].astype(np.int64), X[1200:], y[1200:].astype(np.int64)


def run_sktransfer(X, y, batch_size, epochs):
    clf = FineTunedCNNClassifier(
        max_epochs=epochs,
        batch_size=batch_size,
        lr=1e-3,
        random_state=0,
        device="cpu",
        pixel_scale=1.0,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - start, clf.net_.module_


def run_skorch(module, X, y, batch_size, epochs):
    net = skorch.NeuralNet(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=0.0,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
        device="cpu",
    )
    torch.manual_seed(0)
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start, net.module_


def run_loop(module, X, y, batch_size, epochs):
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    start = time.perf_counter()
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad()
            loss_fn(module(Xt[idx]), yt[idx]).backward()
            optimizer.step()
    return time.perf_counter() - start, module


def accuracy(module, X, y):
    module.eval()
    with torch.no_grad():
        return float((module(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def main(repeats=3, epochs=10):
    X, y, X_test, y_test = data()
    rows = []
    for batch_size in (16, 128):
        times = {"sktransfer": [], "skorch": [], "loop": []}
        scores = {"sktransfer": [], "skorch": [], "loop": []}
        for _ in range(repeats):
            seconds, fitted = run_sktransfer(X, y, batch_size, epochs)
            times["sktransfer"].append(seconds)
            scores["sktransfer"].append(accuracy(fitted, X_test, y_test))
            fresh = copy.deepcopy(fitted)  # same architecture, weights re-drawn
            torch.manual_seed(0)
            reinitialize(fresh)
            for name, run in (("skorch", run_skorch), ("loop", run_loop)):
                seconds, trained = run(copy.deepcopy(fresh), X, y, batch_size, epochs)
                times[name].append(seconds)
                scores[name].append(accuracy(trained, X_test, y_test))
        loop = np.median(times["loop"])
        row = {"batch_size": batch_size}
        for name in times:
            row[name] = {
                "seconds": float(np.median(times[name])),
                "ratio_to_loop": float(np.median(times[name]) / loop),
                "accuracy": float(np.mean(scores[name])),
            }
        rows.append(row)
        print(row, flush=True)
    lines = [
        "| batch | sktransfer / loop | skorch / loop | loop s | accuracy "
        "sktransfer | skorch | loop |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch_size']} | {r['sktransfer']['ratio_to_loop']:.2f} | "
            f"{r['skorch']['ratio_to_loop']:.2f} | {r['loop']['seconds']:.2f} | "
            f"{r['sktransfer']['accuracy']:.3f} | {r['skorch']['accuracy']:.3f} | "
            f"{r['loop']['accuracy']:.3f} |"
        )
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "overhead.json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=2)
    )
    (RESULTS / "overhead.md").write_text(
        f"# Training time relative to a hand-written loop ({epochs} epochs, median of "
        f"{repeats}, digits, SmallCNN)\n\n{machine_line()}\n\nsktransfer's time "
        "includes input validation and building the model.\n\n" + table + "\n"
    )
    print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    main(args.repeats, args.epochs)
