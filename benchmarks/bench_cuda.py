"""CUDA smoke benchmark: fit time on CPU vs GPU for the same data and settings.

Also: data too large to keep on the GPU (over ``DEVICE_RESIDENT_BYTES``) is
batched from host memory; the fit is timed three ways on the same 3x128x128
images: resident on the GPU, host batches copied by skorch (pageable memory, a
blocking copy each), and host batches through pinned buffers with
non-blocking copies (what sktransfer does). And a text fit's token ids, kept
end to end in host memory with each batch padded there and copied by skorch
(what sktransfer does since 2026-12-01), against the matrix padded to the
fit's longest document, resident on the GPU (before).

Run on a GPU machine (`make gpu-check` runs it after tests/gpu). Writes
benchmarks/results/cuda.md and .json; exits with a message without a GPU.
"""

import sys
import time
from contextlib import nullcontext
from unittest import mock

import numpy as np
import torch
from sklearn.datasets import load_digits

from sktransfer import (
    FineTunedCNNClassifier,
    PretrainedEmbeddingClassifier,
    _base,
    _batches,
)
from sktransfer.datasets import load_20newsgroups
from sktransfer.utils._arrays import as_tensor

try:
    from benchmarks._machine import write_results
except ImportError:  # run as a script from benchmarks/
    from _machine import write_results


def timed_fit(device, X, y, **params):
    """Seconds to fit FineTunedCNNClassifier on ``device``, and the model."""
    model = FineTunedCNNClassifier(device=device, random_state=0, **params)
    start = time.perf_counter()
    model.fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, model


def host_batches(dataset, batch_size, shuffle=False, drop_last=False, **kwargs):
    """Batches left in pageable host memory: skorch copies each one, blocking."""
    X = as_tensor(dataset.X)
    y = None if dataset.y is None else as_tensor(dataset.y)
    return _batches.BatchSlicer(X, y, batch_size, shuffle=shuffle, drop_last=drop_last)


def streaming_rows(device="cuda", epochs=3, batch_size=128):
    """Fit seconds for 3x128x128 images kept on the GPU vs streamed from the host."""
    X, y = load_digits(return_X_y=True)
    images = np.kron(X.reshape(-1, 1, 8, 8) / 16.0, np.ones((1, 3, 16, 16)))
    images = images.astype(np.float32)  # (1797, 3, 128, 128): 353 MB
    pageable = mock.patch.object(_base, "batch_iterator", host_batches)
    ways = {  # (resident limit, patch)
        "resident on the GPU": (_batches.DEVICE_RESIDENT_BYTES, nullcontext()),
        "host, pageable, blocking copies": (0, pageable),
        "host, pinned, non-blocking copies": (0, nullcontext()),
    }
    params = dict(backbone="small_cnn", batch_size=batch_size, pixel_scale=1.0)
    seconds = {}
    for way, (limit, patch) in ways.items():
        with mock.patch.object(_batches, "DEVICE_RESIDENT_BYTES", limit), patch:
            timed_fit(device, images, y, **params, max_epochs=1)  # warm-up
            seconds[way] = timed_fit(device, images, y, **params, max_epochs=epochs)[0]
        print(way, seconds[way], flush=True)
    return [
        {"way": way, "fit_s": s, "images_per_s": len(y) * epochs / s}
        for way, s in seconds.items()
    ]


def padded_encode(encode):
    """``_encode`` giving the padded id matrix: the GPU-resident path."""

    def padded(model, corpus, word_ids=None):
        rows = encode(model, corpus, word_ids)
        return rows[0 : len(rows)].numpy()

    return padded


def text_rows(device="cuda", epochs=3):
    """Fit seconds of a text model whose ids are padded per batch on the host
    vs held padded on the GPU, at max_length 512 and None."""
    train = load_20newsgroups("train")
    encode = PretrainedEmbeddingClassifier._encode
    resident = mock.patch.object(
        PretrainedEmbeddingClassifier, "_encode", padded_encode(encode)
    )
    warm_up = PretrainedEmbeddingClassifier(device=device, max_epochs=1)
    warm_up.fit(train.data[:500], train.target[:500])  # GloVe loaded, CUDA started
    rows = []
    for max_length in (512, None):
        for way, patch in (
            ("ragged, padded per batch on the host", nullcontext()),
            ("padded matrix resident on the GPU", resident),
        ):
            model = PretrainedEmbeddingClassifier(
                transfer="fine_tune",
                max_length=max_length,
                max_epochs=epochs,
                lr=3e-3,
                device=device,
                random_state=0,
            )
            with patch:
                start = time.perf_counter()
                model.fit(train.data, train.target)
                torch.cuda.synchronize()
                seconds = time.perf_counter() - start
            rows.append({"max_length": max_length, "way": way, "fit_s": seconds})
            print(rows[-1], flush=True)
    return rows


def main():
    if not torch.cuda.is_available():
        sys.exit("bench_cuda needs a CUDA GPU; nothing measured.")
    cases = {
        "small_cnn, 20 epochs, batch 64": dict(max_epochs=20, batch_size=64),
        "efficientnet_lite0 fine_tune 64x64, 2 epochs, batch 64": dict(
            backbone="efficientnet_lite0", max_epochs=2, batch_size=64
        ),
    }
    X, y = load_digits(return_X_y=True)
    rows = []
    for name, params in cases.items():
        timed_fit("cuda", X, y, **{**params, "max_epochs": 1})  # warm-up
        cpu_s, cpu_model = timed_fit("cpu", X, y, **params)
        gpu_s, gpu_model = timed_fit("cuda", X, y, **params)
        cpu_acc, gpu_acc = cpu_model.score(X, y), gpu_model.score(X, y)
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
    lines += [
        "",
        "Accuracies are on the training digits. After EfficientNet's 2 epochs "
        "they differ between CPU and GPU: cuDNN's TF32 convolutions take another "
        "optimisation path (the CUDA tests compare the devices on seeded fits "
        "with tolerances).",
    ]
    streaming = streaming_rows()
    lines += [
        "",
        "Training data in host memory (small_cnn, 3 epochs, batch 128, 1,797 "
        "images of 3x128x128, 353 MB; the resident limit set to 0 for the "
        "host rows):",
        "",
        "| data | fit s | images/s |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {r['way']} | {r['fit_s']:.2f} | {r['images_per_s']:,.0f} |"
        for r in streaming
    ]
    text = text_rows()
    lines += [
        "",
        "20 Newsgroups token ids (PretrainedEmbeddingClassifier fine_tune, 3 "
        "epochs on the 11,314 training posts, batch 64; fit time includes "
        "tokenizing):",
        "",
        "| max_length | ids | fit s |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {r['max_length']} | {r['way']} | {r['fit_s']:.2f} |" for r in text]
    write_results(
        "cuda",
        {"rows": rows, "host_memory": streaming, "text": text},
        f"Fit time, CPU vs {torch.cuda.get_device_name()}",
        "\n".join(lines) + "\n",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
