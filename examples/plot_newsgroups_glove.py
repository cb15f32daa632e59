"""
20 Newsgroups with GloVe: frozen, fine-tuned, random vectors, TF-IDF
=====================================================================

The classic text transfer: pretrained GloVe 6B 50d word vectors feed a mean
encoder and an MLP head. Frozen vectors, fine-tuned vectors and random vectors
(``structure``) are compared with TF-IDF + LogisticRegression, at 5 and 20
labelled documents per class. Everything is offline: the vectors come from the
``glove`` extra, the texts from ``make data``.
"""

# %%
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import plot_transfer_gain_curve, transfer_gain_curve

train, test = load_20newsgroups("train"), load_20newsgroups("test")
test_docs, test_labels = test.data[::4], test.target[::4]  # a quarter, for speed

clf = PretrainedEmbeddingClassifier(
    "glove-wiki-gigaword-50", max_epochs=100, lr=3e-3, batch_size=64, device="cpu"
)
tfidf = make_pipeline(
    TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000)
)
curve = transfer_gain_curve(
    clf,
    train.data,
    train.target,
    test_docs,
    test_labels,
    n_per_class=(5, 20),
    transfers=("frozen", "fine_tune"),
    baselines={"tfidf_logreg": tfidf},
    n_repeats=1,
)
print(curve)

# %%
# Pretrained vectors beat random ones by a wide margin; TF-IDF remains the
# stronger baseline on this topic-classification task (see the benchmarks).
ax = plot_transfer_gain_curve(curve)
ax.set_title("20 Newsgroups, GloVe 50d")
