"""The API reference lists every public name."""

import importlib
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
