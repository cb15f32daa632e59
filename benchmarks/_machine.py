"""The machine a benchmark ran on, recorded in every result file."""

import os
import platform

import torch


def machine():
    """Cores, threads and versions: a dict for the .json result files."""
    import sklearn
    import skorch

    return {
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
        f"Machine: {m['cpu_cores']} CPU cores, {m['torch_threads']} torch threads"
        f"{gpu}; torch {m['torch']}, scikit-learn {m['scikit-learn']}, skorch "
        f"{m['skorch']}, Python {m['python']}."
    )
