"""Shared by the benchmark scripts: the machine a benchmark ran on (recorded in
every result file), timing, and writing ``results/<name>.md`` and ``.json``."""

import json
import os
import pathlib
import platform
import time

import torch


def cpu_model():
    """The processor's name (``/proc/cpuinfo``), or what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine():
    """Cores, threads and versions: a dict for the .json result files."""
    import sklearn
    import skorch

    return {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def machine_line():
    """The same, as one line for the .md result files."""
    m = machine()
    gpu = f", GPU {m['cuda']}" if m["cuda"] else ", no GPU"
    return (
        f"Machine: {m['cpu_cores']} CPU cores ({m['cpu']}), {m['torch_threads']} "
        "torch threads"
        f"{gpu}; torch {m['torch']}, scikit-learn {m['scikit-learn']}, skorch "
        f"{m['skorch']}, Python {m['python']}."
    )


RESULTS = pathlib.Path(__file__).parent / "results"


def timed(fn):
    """``(seconds, fn())``."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def write_results(name, payload, title, body):
    """Write ``results/<name>.json`` (``payload`` and the machine) and
    ``results/<name>.md`` (``# title``, the machine line, ``body``); return the
    markdown."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": machine(), **payload}, indent=2)
    )
    text = f"# {title}\n\n{machine_line()}\n\n{body}"
    (RESULTS / f"{name}.md").write_text(text)
    return text


def write_plot(name, figure):
    """Save ``figure`` as ``results/<name>.png``; return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
