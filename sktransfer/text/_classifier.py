"""PretrainedEmbeddingClassifier: raw text -> pretrained word vectors -> head."""

import contextlib
import itertools
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from sktransfer._base import (
    HISTORY_ATTRIBUTES_DOC,
    SOURCE_PATH_DOC,
    TRAINING_CONSTRAINTS,
    TRAINING_PARAMS_DOC,
    LogitClassifierMixin,
    PartialFitMixin,
    TrainingCurveMixin,
    TransferEstimatorBase,
    all_or_nothing,
    append_embedding_rows,
    check_fitted_net,
    module_device,
)
from sktransfer._batches import pipelined
from sktransfer._nn import MLPHead
from sktransfer._persistence import restore_classifier_net, standardized_head
from sktransfer.text._augment import TEXT_AUGMENT_DOC, resolve_text_augment
from sktransfer.text._corpus import KnownWords
from sktransfer.text._modules import (
    ENCODERS,
    TextEncoder,
    TextTransferModule,
)
from sktransfer.text._source import (
    fitted_classifier_source,
    resolve_text_source,
    warn_if_case_hides_words,
)
from sktransfer.text._tokenize import (
    DEFAULT_TOKEN_PATTERN,
    Tokenizer,
    text_labels,
    validate_text_target,
    validate_texts,
)
from sktransfer.transfer import plan_transfer
from sktransfer.transfer._schedule import warn_unreached
from sktransfer.utils import seeded
from sktransfer.utils._warnings import caller_stacklevel

TEXT_TRANSFER_MODES = {
    "frozen": "feature_extraction",
    "fine_tune": "fine_tune",
    "unfreeze": "gradual",
    "structure": "structure",
}
OOV_POLICIES = ("ignore", "zero", "random", "trainable")
PREDICT_CHUNK = 1024
"""Documents tokenized at a time by predict, the next chunks in background
threads while the current one runs through the network: on 2 cores, predicting
the 20 Newsgroups test set took 527 ms in one piece and 378 ms so with one
background thread (throughput.md)."""

TEXT_CONSTRAINTS = {
    "lowercase": ["boolean"],
    "token_pattern": [str],
    "tokenizer": [callable, None],
    "max_length": [Interval(Integral, 1, None, closed="left"), None],
}
"""``_parameter_constraints`` of the tokenization knobs every text estimator has."""

TEXT_PARAMS_DOC = """
    lowercase : bool, default=True
        Lowercase documents before tokenizing. ``False`` suits cased vectors
        (word2vec's Google News); with lowercase ones (GloVe), a warning says
        when more than 5% of the training tokens find a vector only in
        lowercase.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a token, as in scikit-learn's vectorizers.
        Texts are put in Unicode's composed form (NFC) first, that of
        pretrained vocabularies.
    tokenizer : callable or None, default=None
        ``tokenizer(doc) -> list of str``; overrides ``token_pattern`` (must be
        picklable for pickling and ``n_jobs > 1``).
    max_length : int or None, default=512
        Keep the first ``max_length`` known tokens of each document."""

PADDED_NOTE = """ ``None``
        keeps them all, but the documents of a fit are held padded to the
        longest one: for the 20 Newsgroups training set (2.8M tokens, one
        post of 11,302) 0.51 GB of ids, against 23 MB at 512."""


class PretrainedEmbeddingClassifier(
    LogitClassifierMixin,
    TrainingCurveMixin,
    PartialFitMixin,
    ClassifierMixin,
    TransferEstimatorBase,
):
    __doc__ = f"""Text classifier on pretrained word vectors: raw text in.

    **Source**: ``embeddings`` (GloVe, word2vec, fastText, a gensim
    ``KeyedVectors``, or a PretrainedEmbeddingClassifier fitted on source data).
    **Target**: a vocabulary built from the training texts, an ``encoder`` and
    an MLP head for the target classes. **Transfer**: ``transfer`` says whether
    the word vectors stay frozen, are fine-tuned, are unfrozen later, or are
    replaced by random ones (the baseline).

    Parameters
    ----------
    embeddings : str, path, KeyedVectors, gensim model or fitted estimator, \
default="glove-wiki-gigaword-50"
        A registered name (``"glove-wiki-gigaword-50"`` resolves offline from
        the ``glove`` extra, otherwise through ``gensim.downloader``), a path to
        a word2vec text/binary, GloVe text, fastText ``.vec`` or ``.bin`` or
        gensim ``.kv`` file (text ones may be compressed: gzip, bz2, xz, or
        the one file of a zip archive), a ``KeyedVectors`` (or a gensim ``Word2Vec`` or
        ``FastText`` model you trained: its ``wv``), or a fitted
        PretrainedEmbeddingClassifier (its fine-tuned vectors, with its own
        pretrained vectors for other words, and its trained ``"cnn"`` encoder
        when ``encoder`` is ``"cnn"`` too: another encoder takes the vectors
        alone, with a warning). Resolved in
        ``fit`` through a per-process and on-disk cache. A fastText model
        (``.bin``, or gensim's ``FastTextKeyedVectors``) gives every word a
        vector, from its character n-grams when it is not in the model's
        vocabulary: such words count as having a pretrained vector.
    transfer : {{"frozen", "fine_tune", "unfreeze", "structure"}}, default="frozen"
        ``frozen``: the pretrained vectors do not change (with a pooling
        encoder and no trainable OOV vectors, documents are encoded once per
        fit and only the head trains). ``fine_tune``: the vectors train at
        ``lr * embedding_lr_scale``. ``unfreeze``: frozen, then trainable from
        epoch ``unfreeze_epoch``. ``structure``: random vectors, same
        architecture (the no-transfer baseline).
    encoder : {{"mean", "max", "mean_max", "cnn"}}, default="mean"
        Mean (EmbeddingBag), max, or concatenated mean and max pooling, or a
        Kim (2014) CNN: filter widths 3, 4, 5, 100 filters each, max over time.
    oov : {{"ignore", "zero", "random", "trainable"}}, default="ignore"
        Training words missing from the pretrained vectors and seen in at least
        ``min_df`` documents: dropped, zero vectors, random vectors (scaled like
        the pretrained ones), or random vectors that train in every mode.
    min_df : int, default=2
        Document frequency an out-of-vocabulary word needs to get a vector.
    unfreeze_epoch : int, default=5
        For ``transfer="unfreeze"``: the epoch (0-based) from which the vectors
        train.
    embedding_lr_scale : float, default=1.0
        Learning rate of the word vectors relative to ``lr``; ``0`` keeps them
        frozen, as ``transfer="frozen"`` does.
    unseen_words : {{"pretrained", "ignore"}}, default="pretrained"
        At prediction time, words that were not in the training texts but
        have a vector in the source: use that (pretrained, not fine-tuned)
        vector, or drop the word. The model stores only the training
        vocabulary; the source is resolved again (from the cache) to look the
        new words up. Never used with ``transfer="structure"``.
    {TEXT_AUGMENT_DOC.strip()}
    {TEXT_PARAMS_DOC.strip() + PADDED_NOTE}
    {TRAINING_PARAMS_DOC.strip().replace("default=()", "default=(128, 64)")}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    vocabulary_ : dict
        ``word -> row`` of the model's embedding (row 0 is padding). Only the
        words of the training texts that got a vector are kept.
    n_pretrained_ : int
        Vocabulary words whose vector came from the source.
    n_oov_ : int
        Vocabulary words with a vector from the ``oov`` policy.
    tokenizer_ : Tokenizer
        Splits documents into tokens as ``lowercase``, ``token_pattern`` and
        ``tokenizer`` say; ``predict`` tokenizes with it.
    {SOURCE_PATH_DOC.format(param="embeddings").strip()}
    {HISTORY_ATTRIBUTES_DOC.strip()}
    net_ : skorch.NeuralNet
        The trained network (``net_.module_``: ``backbone`` = word vectors,
        ``oov_embedding``, ``encoder``, ``head``), with its ``history``.

    Examples
    --------
    >>> from gensim.models import KeyedVectors
    >>> from sktransfer import PretrainedEmbeddingClassifier
    >>> kv = KeyedVectors(vector_size=2)
    >>> kv.add_vectors(["good", "great", "bad", "awful"],
    ...                [[1, 0], [0.9, 0.1], [-1, 0], [-0.9, -0.1]])
    >>> clf = PretrainedEmbeddingClassifier(kv, hidden_layer_sizes=(),
    ...                                     random_state=0)
    >>> clf = clf.fit(["good film", "bad film", "great", "awful"],
    ...               ["pos", "neg", "pos", "neg"])
    >>> clf.predict(["a great film", "an awful one"]).tolist()
    ['pos', 'neg']
    """

    _source_params = ("embeddings",)
    _conditional_params = {
        "unfreeze_epoch": ("transfer", ("unfreeze",)),
        "embedding_lr_scale": ("transfer", ("fine_tune", "unfreeze")),
        "min_df": ("oov", ("zero", "random", "trainable")),
        "unseen_words": ("transfer", ("frozen", "fine_tune", "unfreeze")),
    }

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "embeddings": "no_validation",
        "transfer": [StrOptions(set(TEXT_TRANSFER_MODES))],
        "encoder": [StrOptions(set(ENCODERS))],
        "oov": [StrOptions(set(OOV_POLICIES))],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "unfreeze_epoch": [Interval(Integral, 0, None, closed="left")],
        "embedding_lr_scale": [Interval(Real, 0, None, closed="left")],
        "unseen_words": [StrOptions({"pretrained", "ignore"})],
        "augment": "no_validation",  # by resolve_text_augment, in fit
        **TEXT_CONSTRAINTS,
    }

    def __init__(
        self,
        embeddings="glove-wiki-gigaword-50",
        transfer="frozen",
        *,
        encoder="mean",
        oov="ignore",
        min_df=2,
        unfreeze_epoch=5,
        embedding_lr_scale=1.0,
        unseen_words="pretrained",
        augment=None,
        lowercase=True,
        token_pattern=DEFAULT_TOKEN_PATTERN,
        tokenizer=None,
        max_length=512,
        hidden_layer_sizes=(128, 64),
        dropout=0.0,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        optimizer="auto",
        weight_decay=None,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        callbacks=None,
        checkpoint_dir=None,
        warm_start=False,
        verbose=0,
        device="auto",
        precision="32",
        accelerator=None,
        random_state=None,
    ):
        self.embeddings = embeddings
        self.transfer = transfer
        self.encoder = encoder
        self.oov = oov
        self.min_df = min_df
        self.unfreeze_epoch = unfreeze_epoch
        self.embedding_lr_scale = embedding_lr_scale
        self.unseen_words = unseen_words
        self.augment = augment
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.precision = precision
        self.accelerator = accelerator
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Iterable[str] | ArrayLike, y: ArrayLike
    ) -> "PretrainedEmbeddingClassifier":
        """Build the vocabulary, transfer the word vectors, train the model.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : PretrainedEmbeddingClassifier
            The fitted estimator.
        """
        self._warn_ignored_params()
        previous = self._fitted_to_continue()
        docs = validate_texts(X, type(self).__name__)
        y = validate_text_target(self, docs, y)
        previous = self._check_continued(previous)
        self.tokenizer_ = Tokenizer(self.lowercase, self.token_pattern, self.tokenizer)
        corpus = self.tokenizer_.corpus(docs)
        self._pin_source()
        structure = self.transfer == "structure"  # nothing is meant to carry
        vectors, encoder_state = resolve_text_source(
            self.embeddings, None if structure else self
        )
        device = self._device()
        with seeded(self.random_state, device) as seed:
            keep = () if previous is None else previous.vocabulary_
            table, oov_table = self._build_vocabulary(corpus, vectors, seed, keep)
            module = self._build_module(table, oov_table, encoder_state)
            plan = self._transfer_plan(module)
            if self.transfer == "unfreeze" and not self._in_first_partial_fit():
                warn_unreached([self.unfreeze_epoch], self.max_epochs, "unfreeze_epoch")
            ids = self._encode(corpus)
            del corpus  # the tokens are in ids now: not held while training
            self._train(
                module, plan, ids, y, device=device, seed=seed, continued=previous
            )
        return self

    def _transfer_plan(self, module):
        """How the word vectors of ``module`` enter the model (whether they
        train, at which learning rate, and from when)."""
        return plan_transfer(
            TEXT_TRANSFER_MODES[self.transfer],
            module.backbone,
            lr=self.lr,
            source_lr_scale=self.embedding_lr_scale,
            unfreeze_schedule={self.unfreeze_epoch: "*"},
        )

    def _partial_inputs(self, X, y, cached):
        """partial_fit's inputs after the first call: the documents' ids, or
        their encoded features where ``cached``.

        Where the word vectors train, the words the vocabulary lacks and the
        source knows join it, with the source's vectors, as in a fit on all
        the parts; otherwise they are read from the source, untrained, as in
        predict (in the context returned).
        """
        docs = validate_texts(X, type(self).__name__)
        y = text_labels(self, docs, y)
        if cached:
            return self.extract_features(docs), y, contextlib.nullcontext()
        corpus = self.tokenizer_.corpus(docs, known=self._known_vocabulary()[0])
        word_ids = self._word_ids(corpus)
        module, extra = self.net_.module_, None
        if module.backbone.weight.requires_grad and self.transfer != "structure":
            self._add_words(corpus.words, word_ids)
        else:
            extra = self._unseen_word_vectors(corpus.words, word_ids)
            extra = None if extra is None else torch.from_numpy(extra)
        ids = self._encode(corpus, word_ids)
        return ids, y, module.training_with(extra)

    def _add_words(self, words, word_ids):
        """Give ``vocabulary_`` the ``words`` it lacks (id 0 in ``word_ids``)
        that the source knows, each a new trainable row of the word-vector
        table holding the source's vector; ``word_ids`` become ids in the
        grown vocabulary (trainable OOV rows, which follow the table, move up).
        """
        unseen = np.flatnonzero(word_ids == 0)
        if not len(unseen):
            return
        vectors, _ = resolve_text_source(self._fitted_source())
        rows, found = vectors.lookup([words[i] for i in unseen.tolist()])
        if not found.any():
            return
        added, start = unseen[found], self.net_.module_.backbone.weight.shape[0]
        n_added = len(added)
        append_embedding_rows(self.net_, "backbone", torch.from_numpy(rows[found]))
        word_ids[word_ids >= start] += n_added
        word_ids[added] = np.arange(start, start + n_added)
        vocabulary = {
            word: i + n_added if i >= start else i
            for word, i in self.vocabulary_.items()
        }
        new_words = [words[i] for i in added.tolist()]
        vocabulary.update(zip(new_words, range(start, start + n_added), strict=True))
        self.vocabulary_ = vocabulary  # a new dict: the lookup cache sees it
        self.n_pretrained_ += n_added

    def _continued_weights(self, module, previous):
        """The fitted model's weights, its word vectors moved to this fit's
        vocabulary (which holds its words too): the words it knew keep the
        vectors it trained, the words new to this fit have those ``module``
        holds (the source's, or the OOV policy's)."""
        state = dict(previous.module.state_dict())
        before = [state.pop("backbone.weight")]
        if "oov_embedding.weight" in state:
            before.append(state.pop("oov_embedding.weight"))
        before = torch.cat(before)
        parts = module._table_parts()
        table = torch.cat(parts).detach().clone()
        if before.shape[1] != table.shape[1]:
            raise ValueError(
                f"{type(self).__name__}(warm_start=True) goes on from the fitted "
                f"model, whose word vectors have {before.shape[1]} values; this "
                f"fit's embeddings have {table.shape[1]}. Set embeddings back, or "
                "fit with warm_start=False to start again from the source."
            )
        known = previous.vocabulary_
        shared = [word for word in self.vocabulary_ if word in known]
        rows = torch.tensor(
            [self.vocabulary_[word] for word in shared], dtype=torch.long
        )
        table[rows] = before[[known[word] for word in shared]].to(table.device)
        state["backbone.weight"] = table[: len(parts[0])]
        if len(parts) > 1:
            state["oov_embedding.weight"] = table[len(parts[0]) :]
        return state

    def _build_vocabulary(self, corpus, vectors, seed, keep=()):
        """Set ``vocabulary_``; return the embedding table and trainable OOV rows.

        ``keep``: words to hold besides the corpus' (those of the model a
        warm-started fit goes on from), as if they occurred in ``min_df``
        documents.
        """
        if not corpus.words:
            raise ValueError(
                "The training texts hold no token: check token_pattern "
                f"({self.token_pattern!r}) or tokenizer."
            )
        seen = set(corpus.words) if keep else ()
        kept = [word for word in keep if word not in seen]
        all_words = corpus.words + kept if kept else corpus.words
        # the document frequencies (numpy's sort, which releases the GIL) are
        # counted while the words are looked up: 164 -> 121 ms for the 20
        # Newsgroups training set
        with ThreadPoolExecutor(max_workers=1) as pool:
            frequencies = pool.submit(corpus.document_frequencies)
            found_vectors, found = vectors.lookup(all_words)
            df = np.concatenate(
                (frequencies.result(), np.full(len(kept), self.min_df, np.int64))
            )
        # most frequent first, ties in alphabetical order; sorted as str, not as
        # a fixed-width array, whose width a single long token (an attachment
        # in an e-mail) would set for every word
        n_words = len(all_words)
        alphabetical = sorted(range(n_words), key=all_words.__getitem__)
        alphabetical = np.fromiter(alphabetical, np.int64, n_words)
        order = alphabetical[np.argsort(-df[alphabetical], kind="stable")]
        words, df = [all_words[i] for i in order.tolist()], df[order]
        found_vectors, found = found_vectors[order], found[order]
        known = list(itertools.compress(words, found))
        if not known:
            raise ValueError(
                "None of the words in the training texts has a pretrained vector in "
                f"{getattr(vectors, 'name', 'the embeddings')}; check the language, "
                "the tokenizer and lowercase."
            )
        if not self.lowercase:
            counts = np.concatenate((corpus.counts(), np.zeros(len(kept), np.int64)))
            warn_if_case_hides_words(vectors, words, found, counts[order])
        known_rows = found_vectors[found]
        oov = (
            []
            if self.oov == "ignore"
            else list(itertools.compress(words, ~found & (df >= self.min_df)))
        )
        scale = float(known_rows.std()) or 1.0
        rng = np.random.RandomState(seed)
        random_oov = rng.normal(0.0, scale, (len(oov), vectors.dim)).astype(np.float32)
        in_table = known + (oov if self.oov in ("zero", "random") else [])
        rows = [np.zeros((1, vectors.dim), np.float32), known_rows]
        if self.oov == "zero":
            rows.append(np.zeros((len(oov), vectors.dim), np.float32))
        elif self.oov == "random":
            rows.append(random_oov)
        self.vocabulary_ = {w: i for i, w in enumerate(in_table, start=1)}
        if self.oov == "trainable":
            start = len(in_table) + 1
            self.vocabulary_.update({w: start + i for i, w in enumerate(oov)})
        self.n_pretrained_ = len(known)
        self.n_oov_ = len(oov)
        return np.vstack(rows), (random_oov if self.oov == "trainable" else None)

    def _build_module(self, table, oov_table, encoder_state):
        backbone = torch.nn.Embedding.from_pretrained(
            torch.from_numpy(table), freeze=False, padding_idx=0
        )
        oov_embedding = None
        if oov_table is not None and len(oov_table):
            oov_embedding = torch.nn.Embedding.from_pretrained(
                torch.from_numpy(oov_table), freeze=False
            )
        encoder = TextEncoder(self.encoder, table.shape[1])
        if encoder_state is not None and self.transfer != "structure":
            if encoder_state[0] == self.encoder:
                encoder.load_state_dict(encoder_state[1])
            elif encoder_state[1]:  # a trained encoder (cnn) left behind
                warnings.warn(
                    f"The source's trained {encoder_state[0]!r} encoder is not "
                    f"transferred: this estimator's encoder is {self.encoder!r}, "
                    "so only the word vectors are. Pass "
                    f"encoder={encoder_state[0]!r} to carry it over.",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )
        head = MLPHead(
            encoder.out_features,
            self.hidden_layer_sizes,
            len(self.classes_),
            self.dropout,
        )
        augment = resolve_text_augment(self.augment)
        return TextTransferModule(backbone, oov_embedding, encoder, head, augment)

    def _encode(self, corpus, word_ids=None):
        """Vocabulary ids of ``corpus``' documents, as ragged rows padded per
        batch (see Corpus.token_rows).

        ``word_ids``: the id of each of ``corpus.words`` (default: from
        ``vocabulary_``, 0 for a word not in it).
        """
        if word_ids is None:
            word_ids = self._word_ids(corpus)
        return corpus.token_rows(word_ids, self.max_length)

    def _word_ids(self, corpus):
        """``vocabulary_`` id of each of ``corpus.words``, 0 where missing."""
        other = corpus.words[corpus.n_known :]
        ids = map(self.vocabulary_.get, other, itertools.repeat(0))
        ids = np.fromiter(ids, np.int64, len(other))
        if not corpus.n_known:
            return ids
        return np.concatenate((self._known_vocabulary()[1], ids))

    def _known_vocabulary(self):
        """``vocabulary_`` as :class:`KnownWords` (built on first use) and the
        ids of its words."""
        cached = self.__dict__.get("_vocabulary_lookup")
        if cached is None or cached[0] is not self.vocabulary_:
            words = sorted(self.vocabulary_, key=self.vocabulary_.get)
            ids = np.fromiter(map(self.vocabulary_.get, words), np.int64, len(words))
            cached = (self.vocabulary_, KnownWords(words), ids)
            self._vocabulary_lookup = cached
        return cached[1:]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_vocabulary_lookup", None)  # rebuilt on first use
        return state

    def _restore_net(self, tensors, history, source):
        table = np.zeros(tuple(tensors["backbone.weight"].shape), np.float32)
        oov = tensors.get("oov_embedding.weight")
        oov = None if oov is None else np.zeros(tuple(oov.shape), np.float32)
        module = standardized_head(self._build_module(table, oov, None), tensors)
        restore_classifier_net(self, module, tensors, history, source)

    def _text_source_state(self):
        return fitted_classifier_source(self)

    # -------------------------------------------------------------- predict

    def _logits(self, X):
        return self._run(X, self._forward)

    def extract_features(self, X: Iterable[str] | ArrayLike) -> np.ndarray:
        """The encoded documents the head sees (before it), float32.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features)
            The input of the head, one row per document.
        """
        module = self.net_.module_ if hasattr(self, "net_") else None

        def encode(ids):
            return self._features_once(module, ids, module_device(module))

        return self._run(X, encode)

    def _run(self, X, compute):
        """Validate and encode ``X``, then ``compute(ids)`` with unseen words.

        In chunks of :data:`PREDICT_CHUNK` documents: the next chunks are
        tokenized in background threads, as many as torch may use, while the
        current one runs through the network (see
        :func:`~sktransfer._batches.pipelined`).
        """
        check_fitted_net(self)
        self._known_vocabulary()  # built once here, not in each thread
        docs = validate_texts(X, type(self).__name__)
        module = self.net_.module_

        def run(prepared):
            ids, extra, rows = prepared
            extra = None if extra is None else torch.from_numpy(extra)
            with module.predicting_with(extra, rows):
                return compute(ids)

        chunks = [
            docs[i : i + PREDICT_CHUNK] for i in range(0, len(docs), PREDICT_CHUNK)
        ]
        on_cpu = module_device(module).type == "cpu"
        workers = torch.get_num_threads()
        outputs = pipelined(chunks, self._prepare, run, on_cpu=on_cpu, workers=workers)
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def _prepare(self, docs):
        """Vocabulary ids of ``docs``, the vectors of their unseen words, and
        the table rows the ids stand for (None: all; see ``predicting_with``)."""
        corpus = self.tokenizer_.corpus(docs, known=self._known_vocabulary()[0])
        word_ids = self._word_ids(corpus)
        extra = self._unseen_word_vectors(corpus.words, word_ids)
        rows = self._rows_needed(corpus, word_ids, extra)
        if rows is not None:
            word_ids = np.searchsorted(rows, word_ids)
        return self._encode(corpus, word_ids), extra, rows

    def _rows_needed(self, corpus, word_ids, extra):
        """The rows of the word-vector table that ``corpus`` reads (0, padding,
        first) when they are few: then a table of those alone is built, not a
        copy of every row (one document: 4.6 -> 2.1 ms, throughput.md). None
        when the table needs no copy (no unseen or trainable OOV vectors) or
        the corpus has more than a quarter as many tokens as the table has
        rows."""
        module = self.net_.module_
        if extra is None and module.oov_embedding is None:
            return None
        n_rows = module.n_rows + (0 if extra is None else len(extra))
        if 4 * len(corpus.ids) > n_rows:
            return None
        return np.union1d([0], word_ids[corpus.ids])

    def _unseen_word_vectors(self, words, word_ids):
        """Vectors of the unseen ``words`` (id 0) that the source knows, or None.

        Gives those words the ids after the vocabulary's, in ``word_ids``.
        """
        if self.unseen_words == "ignore" or self.transfer == "structure":
            return None
        unseen = np.flatnonzero(word_ids == 0)
        if not len(unseen):
            return None
        vectors, _ = resolve_text_source(self._fitted_source())
        rows, found = vectors.lookup([words[i] for i in unseen.tolist()])
        if not found.any():
            return None
        start = self.net_.module_.n_rows  # extra rows follow the table
        word_ids[unseen[found]] = np.arange(start, start + found.sum())
        return rows[found]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
