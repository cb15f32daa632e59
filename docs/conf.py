"""Sphinx configuration of the sktransfer documentation (``make docs``)."""

import os
import socket
import sys

sys.path.insert(0, os.path.abspath(".."))

import sktransfer  # noqa: E402

project = "sktransfer"
author = "sktransfer developers"
copyright = "2026, sktransfer developers"
release = version = sktransfer.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
html_theme = "alabaster"
html_static_path = []

autosummary_generate = True
autodoc_default_options = {"members": True}
# the parameters sections (numpydoc) say the types; signatures stay readable
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    # SKTRANSFER_GALLERY=0 builds the pages without running the examples.
    "plot_gallery": os.environ.get("SKTRANSFER_GALLERY", "1") != "0",
    "abort_on_example_error": True,
}


def _online(host="docs.python.org", port=443, timeout=2.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


# Cross-links to scikit-learn, skorch, PyTorch and gensim. Their inventories
# are downloaded while building; offline (as on the CI machines) the links are
# left out instead of failing the warnings-as-errors build.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "gensim": ("https://radimrehurek.com/gensim", None),
}
if os.environ.get("SKTRANSFER_INTERSPHINX") == "0" or not _online():
    print("intersphinx: offline, cross-project links are left out")
    intersphinx_mapping = {}
