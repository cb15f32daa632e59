"""The API reference lists every public name."""

import importlib
import inspect
import pathlib

import pytest

API = pathlib.Path(__file__).parents[1] / "docs" / "api.rst"
PACKAGES = (
    "sktransfer",
    "sktransfer.datasets",
    "sktransfer.model_selection",
    "sktransfer.text",
    "sktransfer.transfer",
    "sktransfer.transferability",
    "sktransfer.utils",
    "sktransfer.vision",
)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_in_the_api_reference(package):
    listed = {
        line.strip().rsplit(".", 1)[-1]
        for line in API.read_text().splitlines()
        if line.startswith("   ") and not line.strip().startswith(":")
    }
    names = importlib.import_module(package).__all__
    # constants (WORD_VECTORS, BACKBONES, ...) are described where they are used
    documented = [n for n in names if not n.isupper() and not n.startswith("__")]
    assert sorted(set(documented) - listed) == []


ESTIMATOR_METHODS = (
    "fit",
    "partial_fit",
    "transform",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "extract_features",
)


def _public_signatures(package):
    """The public functions of ``package`` and its estimators' methods."""
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield f"{package}.{name}", obj
        elif inspect.isclass(obj) and hasattr(obj, "get_params"):
            for method in ESTIMATOR_METHODS:
                function = getattr(obj, method, None)
                if inspect.isfunction(function) and function.__module__.startswith(
                    "sktransfer"
                ):
                    yield f"{package}.{name}.{method}", function


@pytest.mark.parametrize("package", PACKAGES)
def test_public_signatures_have_type_hints(package):
    # STYLE.md: type hints on public signatures
    missing = []
    for where, function in _public_signatures(package):
        signature = inspect.signature(function)
        missing += [
            f"{where}({parameter.name})"
            for parameter in signature.parameters.values()
            if parameter.name not in ("self", "cls")
            and parameter.annotation is inspect.Parameter.empty
        ]
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{where} -> ?")
    assert missing == []
