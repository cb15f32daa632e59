"""The benchmark scripts (and the GPU tests) still name what sktransfer has.

The benchmarks take minutes to hours and no test runs them, so an API change
(a renamed helper, a moved module) would break them unseen until the next
``make bench``. This reads each script's imports and the attributes it reads
from sktransfer's modules -- private ones included, which the benchmarks use
to measure before/after -- and checks that each exists, then imports the
script (its work runs under ``if __name__ == "__main__"`` only).
"""

import ast
import importlib
import importlib.util
import pathlib
import types

import pytest

BENCHMARKS = sorted(
    (pathlib.Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py")
)


def _bindings_and_references(tree):
    """``{local name: object}`` bound by the script's imports from sktransfer
    (modules, classes, functions), and the ``(line, what)`` each names."""
    bound, references = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sktransfer"
        ):
            module = importlib.import_module(node.module)
            for alias in node.names:
                references.append((node.lineno, f"{node.module}.{alias.name}"))
                value = getattr(module, alias.name, None)
                if value is None:  # a submodule not imported by its package
                    try:
                        value = importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        continue
                bound[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sktransfer"):
                    references.append((node.lineno, alias.name))
                    importlib.import_module(alias.name)
                    top = alias.asname or alias.name.partition(".")[0]
                    bound[top] = importlib.import_module(
                        alias.name if alias.asname else "sktransfer"
                    )
    return bound, references


def _dotted(node):
    """``["a", "b", "c"]`` for the expression ``a.b.c``, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _missing(script):
    tree = ast.parse(script.read_text(), str(script))
    bound, references = _bindings_and_references(tree)
    missing = []
    for line, name in references:
        module, _, attr = name.rpartition(".")
        if module and not hasattr(importlib.import_module(module), attr):
            try:
                importlib.import_module(name)
            except ImportError:
                missing.append(f"line {line}: {name}")
    for node in ast.walk(tree):
        chain = _dotted(node) if isinstance(node, ast.Attribute) else None
        if chain and chain[0] in bound:  # module.attribute
            value = bound[chain[0]]
            for attr in chain[1:]:
                if not isinstance(value, types.ModuleType):
                    break  # an object's attributes are its own business
                if not hasattr(value, attr):
                    missing.append(f"line {node.lineno}: {value.__name__}.{attr}")
                    break
                value = getattr(value, attr)
        patched = _patched(node, bound)  # mock.patch.object(target, "name")
        if patched is not None and not hasattr(*patched):
            target, attr = patched
            name = getattr(target, "__name__", type(target).__name__)
            missing.append(f"line {node.lineno}: {name}.{attr} (patched)")
    return sorted(set(missing), key=lambda m: int(m.split()[1].rstrip(":")))


def _patched(node, bound):
    """``(target, attribute)`` of a ``mock.patch.object`` call on an object
    of sktransfer's, else None."""
    if not (isinstance(node, ast.Call) and len(node.args) >= 2):
        return None
    if (_dotted(node.func) or [])[-2:] != ["patch", "object"]:
        return None
    chain, attr = _dotted(node.args[0]), node.args[1]
    if not chain or chain[0] not in bound or not isinstance(attr, ast.Constant):
        return None
    target = bound[chain[0]]
    for part in chain[1:]:
        target = getattr(target, part, None)
    return None if target is None else (target, attr.value)


@pytest.mark.parametrize(
    "script",
    sorted((pathlib.Path(__file__).parent / "gpu").glob("*.py")),
    ids=lambda p: p.stem,
)
def test_the_gpu_tests_name_only_what_exists(script):
    """They skip on every CI machine, so drift in them is as unseen."""
    assert _missing(script) == []


def test_the_benchmarks_are_found():
    names = {script.name for script in BENCHMARKS}
    assert {"bench_overhead.py", "bench_throughput.py", "bench_text.py"} <= names


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_a_benchmark_names_only_what_exists(script):
    assert _missing(script) == []
    spec = importlib.util.spec_from_file_location(f"_bench_{script.stem}", script)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_a_name_that_is_gone_is_found(tmp_path):
    script = tmp_path / "bench_gone.py"
    script.write_text(
        "import sktransfer._base\n"
        "from sktransfer import _batches\n"
        "from sktransfer.text import resolve_word_vectors, resolve_vectors\n"
        "from sktransfer import PretrainedFeatureExtractor as Extractor\n"
        "def main():\n"
        "    _batches.pipelined, _batches.no_such_helper\n"
        "    mock.patch.object(Extractor, '_features', None)\n"
        "    mock.patch.object(Extractor, '_no_such_method', None)\n"
        "    mock.patch.object(sktransfer._base, 'no_such_function', None)\n"
        "    return sktransfer._base.NO_SUCH_CONSTANT\n"
    )
    assert _missing(script) == [
        "line 3: sktransfer.text.resolve_vectors",
        "line 6: sktransfer._batches.no_such_helper",
        "line 8: PretrainedFeatureExtractor._no_such_method (patched)",
        "line 9: sktransfer._base.no_such_function (patched)",
        "line 10: sktransfer._base.NO_SUCH_CONSTANT",
    ]


def test_the_throughput_changes_are_in_its_results_file():
    # each before/after row: (change, workload, before, after), and in the
    # results file the README points to (rows are added there by hand between
    # full runs of the benchmark); a missing comma once joined two fields
    script = BENCHMARKS[0].parent / "bench_throughput.py"
    spec = importlib.util.spec_from_file_location("_bench_throughput_rows", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = (script.parent / "results" / "throughput.md").read_text()
    for change in module.CHANGES + module.NOT_KEPT:
        assert len(change) == 4, change[0]
        assert f"| {' | '.join(change)} |" in results, change[0]
