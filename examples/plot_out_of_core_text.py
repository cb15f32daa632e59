"""
Text that arrives in parts: ``partial_fit`` with GloVe
======================================================

Documents often come in batches -- read from disk, a queue, a database --
too many to hold at once. ``partial_fit`` trains one epoch on each part and
goes on from the part before, as scikit-learn's ``MLPClassifier.partial_fit``
does. Here the 20 Newsgroups training set streams in parts of 1,000
documents into a classifier on fine-tuned GloVe 6B 50d vectors, three times
over; the accuracy on a quarter of the test set is tracked after each part
and compared with one ``fit`` of three epochs on everything.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer.datasets import load_20newsgroups

train, test = load_20newsgroups("train"), load_20newsgroups("test")
test_docs, test_labels = test.data[::4], test.target[::4]  # a quarter, for speed
classes = np.unique(train.target)  # every label the parts will hold


def parts(docs, labels, size=1000):
    """The training set as it might arrive: ``size`` documents at a time."""
    for start in range(0, len(docs), size):
        yield docs[start : start + size], labels[start : start + size]


settings = dict(
    embeddings="glove-wiki-gigaword-50",
    transfer="fine_tune",
    lr=3e-3,
    batch_size=64,
    device="cpu",
    random_state=0,
)
clf = PretrainedEmbeddingClassifier(**settings)
n_seen, seen, scores = 0, [], []
for _ in range(3):
    for docs, labels in parts(train.data, train.target):
        clf.partial_fit(docs, labels, classes=classes)
        n_seen += len(docs)
        seen.append(n_seen)
        scores.append(clf.score(test_docs, test_labels))
print(f"after {clf.n_iter_} parts: {scores[-1]:.3f}")
print(f"words in the vocabulary: {len(clf.vocabulary_):,}")

# %%
# The vocabulary grows as parts bring words GloVe knows: each joins with its
# GloVe vector and is fine-tuned from there. One ``fit`` on the whole
# training set, for the same three epochs, is the reference.
whole = PretrainedEmbeddingClassifier(**settings, max_epochs=3)
reference = whole.fit(train.data, train.target).score(test_docs, test_labels)
print(f"fit on everything: {reference:.3f}")

fig, ax = plt.subplots()
ax.plot(np.array(seen) / len(train.data), scores, marker=".", label="partial_fit")
ax.axhline(reference, color="gray", linestyle="--", label="fit, 3 epochs")
ax.set_xlabel("passes over the training set")
ax.set_ylabel("test accuracy")
ax.set_title("20 Newsgroups in parts of 1,000 documents")
ax.legend()

# %%
# After three passes the streamed model ends near the one ``fit`` trained
# (0.684 against 0.707 when this page was built), each call holding the token
# ids of 1,000 documents only. ``benchmarks/results/partial_fit.md`` compares
# ten passes in 10 and 100 parts, with fine-tuned and frozen vectors.
