"""Do transferability scores rank sources the way fine-tuning does?

Two tasks, several candidate sources each. For every candidate: LogME and
H-score of its features (and LEEP, NCE for source classifiers) on the target
training data, and the test accuracy actually reached after transfer. Reports
Spearman's rank correlation between each score and that accuracy, and the time
of scoring all candidates vs fine-tuning all of them. Writes
benchmarks/results/selection.md and .json. A candidate built at random
(``"small_cnn"``) is scored and transferred with the same seed: the same
network.

Run: python benchmarks/bench_selection.py
"""

import time

import numpy as np
from gensim.models import KeyedVectors
from scipy.stats import spearmanr

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer._demo import digits_source_and_target
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import stratified_subsample
from sktransfer.text import resolve_word_vectors
from sktransfer.transferability import METRICS, candidate_outputs
from sktransfer.transferability._selection import _metric

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results


def digits_task():
    from sklearn.datasets import load_digits

    good, (X_pool, y_pool, X_test, y_test) = digits_source_and_target(0)
    X, y = load_digits(return_X_y=True)
    source = y < 5
    fit = dict(random_state=0, device="cpu")
    shuffled = np.random.RandomState(0).permutation(y[source])
    candidates = {
        "0-4, 20 epochs": good,
        "0-4, 1 epoch": FineTunedCNNClassifier(max_epochs=1, **fit).fit(
            X[source], y[source]
        ),
        "0-2 only": FineTunedCNNClassifier(max_epochs=20, **fit).fit(
            X[y < 3], y[y < 3]
        ),
        "0-4, shuffled labels": FineTunedCNNClassifier(max_epochs=20, **fit).fit(
            X[source], shuffled
        ),
        "random init (small_cnn)": "small_cnn",
    }
    idx = stratified_subsample(y_pool, 30, 0)

    def transfer(candidate):
        model = FineTunedCNNClassifier(  # the linear probe, solved by L-BFGS
            backbone=candidate, transfer="feature_extraction", **fit
        )
        return model.fit(X_pool[idx], y_pool[idx]).score(X_test, y_test)

    return candidates, X_pool[idx], y_pool[idx], transfer


def text_task():
    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    names = train.target_names
    source_classes, target_classes = names[:10], names[10:]
    glove = resolve_word_vectors("glove-wiki-gigaword-50")
    top = 100_000
    words, vectors = glove.words[:top], np.asarray(glove.vectors[:top])
    rng = np.random.RandomState(0)

    def keyed(vecs):
        kv = KeyedVectors(vector_size=50)
        kv.add_vectors(words[: len(vecs)], vecs)
        return kv

    src_idx = np.flatnonzero(np.isin(train.target, source_classes))
    source_model = PretrainedEmbeddingClassifier(
        transfer="fine_tune",
        max_epochs=5,
        lr=3e-3,
        batch_size=64,
        random_state=0,
        device="cpu",
    ).fit([train.data[i] for i in src_idx], train.target[src_idx])
    candidates = {
        "GloVe 50d": "glove-wiki-gigaword-50",
        "GloVe, top 5k words": keyed(vectors[:5000]),
        "GloVe, shuffled rows": keyed(vectors[rng.permutation(top)]),
        "random vectors": keyed(
            rng.normal(0, vectors.std(), vectors.shape).astype(np.float32)
        ),
        "fitted on the other 10 groups": source_model,
    }
    pool = np.flatnonzero(np.isin(train.target, target_classes))
    idx = pool[stratified_subsample(train.target[pool], 20, 0)]
    X, y = [train.data[i] for i in idx], train.target[idx]
    test_idx = np.flatnonzero(np.isin(test.target, target_classes))
    X_test, y_test = [test.data[i] for i in test_idx], test.target[test_idx]

    def transfer(candidate):
        model = PretrainedEmbeddingClassifier(
            candidate,
            transfer="frozen",
            max_epochs=100,
            lr=3e-3,
            batch_size=64,
            random_state=0,
            device="cpu",
        )
        return model.fit(X, y).score(X_test, y_test)

    return candidates, X, y, transfer


def evaluate(task_name, candidates, X, y, transfer):
    rows = []
    for name, candidate in candidates.items():
        row = {"candidate": name}
        start = time.perf_counter()
        for metric in METRICS:
            score_fn, need = _metric(metric)
            if need != "features" and not hasattr(candidate, "predict"):
                continue
            row[metric] = float(
                score_fn(candidate_outputs(candidate, X, need, random_state=0), y)
            )
        row["scoring_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        row["accuracy"] = float(transfer(candidate))
        row["transfer_seconds"] = time.perf_counter() - start
        rows.append(row)
        print(f"{task_name}: {row}", flush=True)
    correlations = {}
    for metric in METRICS:
        scored = [r for r in rows if metric in r]
        if len(scored) >= 3:
            rho = spearmanr(
                [r[metric] for r in scored], [r["accuracy"] for r in scored]
            )
            correlations[metric] = {"spearman": float(rho.statistic), "n": len(scored)}
    timing = {
        "scoring_all": sum(r["scoring_seconds"] for r in rows),
        "fine_tuning_all": sum(r["transfer_seconds"] for r in rows),
    }
    return {
        "task": task_name,
        "rows": rows,
        "correlations": correlations,
        "timing": timing,
    }


def markdown(results):
    out = []
    for res in results:
        out.append(f"## {res['task']}\n")
        metrics = [m for m in METRICS if any(m in r for r in res["rows"])]
        out.append("| candidate | " + " | ".join(metrics) + " | accuracy |")
        out.append("|" + " --- |" * (len(metrics) + 2))
        for r in sorted(res["rows"], key=lambda r: -r["accuracy"]):
            cells = " | ".join(f"{r[m]:.4f}" if m in r else "" for m in metrics)
            out.append(f"| {r['candidate']} | {cells} | {r['accuracy']:.3f} |")
        out.append("")
        out.append(
            "Spearman rank correlation with accuracy: "
            + ", ".join(
                f"{m} {c['spearman']:+.2f} (n={c['n']})"
                for m, c in res["correlations"].items()
            )
        )
        t = res["timing"]
        ratio = t["fine_tuning_all"] / t["scoring_all"]
        out.append(
            f"\nScoring all candidates: {t['scoring_all']:.1f} s; fine-tuning all: "
            f"{t['fine_tuning_all']:.1f} s ({ratio:.0f}x).\n"
        )
    return "\n".join(out)


def main():
    results = [
        evaluate(
            "digits sources -> digits 5-9 (30 labels/class, feature_extraction)",
            *digits_task(),
        ),
        evaluate(
            "20 Newsgroups: other groups -> 10 groups (20 labels/class, frozen)",
            *text_task(),
        ),
    ]
    text = write_results(
        "selection",
        {"tasks": results},
        "Source selection: transferability scores vs accuracy after transfer",
        markdown(results),
    )
    print(text)


if __name__ == "__main__":
    main()
