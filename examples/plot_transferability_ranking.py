"""
Rank sources before fine-tuning them
=====================================

Transferability scores read a source's features on the target's training data
and predict how well it will transfer, without training anything. Here four
word-vector sources are ranked for 20 Newsgroups by LogME and H-score, then
checked against the accuracy a frozen-vector classifier actually reaches.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from gensim.models import KeyedVectors

from sktransfer import PretrainedEmbeddingClassifier
from sktransfer.datasets import load_20newsgroups
from sktransfer.model_selection import stratified_subsample
from sktransfer.text import resolve_word_vectors
from sktransfer.transferability import rank_sources

train, test = load_20newsgroups("train"), load_20newsgroups("test")
idx = stratified_subsample(train.target, 10, random_state=0)
X, y = [train.data[i] for i in idx], train.target[idx]

glove = resolve_word_vectors("glove-wiki-gigaword-50")
words, vectors = glove.words[:50_000], np.asarray(glove.vectors[:50_000])


def keyed(matrix, n=None):
    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(words[: n or len(matrix)], matrix[: n or len(matrix)])
    return kv


rng = np.random.RandomState(0)
candidates = {
    "GloVe 50d": "glove-wiki-gigaword-50",
    "GloVe, 5k words": keyed(vectors, 5000),
    "shuffled GloVe": keyed(vectors[rng.permutation(len(vectors))]),
    "random vectors": keyed(
        rng.normal(0, vectors.std(), vectors.shape).astype("float32")
    ),
}
names = {id(v): k for k, v in candidates.items()}
for metric in ("logme", "h_score"):
    ranking = rank_sources(list(candidates.values()), X, y, metric=metric)
    print(metric, [names[id(row["candidate"])] for row in ranking])

# %%
# The accuracy each source actually reaches with frozen vectors:
accuracy = {
    name: PretrainedEmbeddingClassifier(
        source, max_epochs=100, lr=3e-3, batch_size=64, random_state=0, device="cpu"
    )
    .fit(X, y)
    .score(test.data[::4], test.target[::4])
    for name, source in candidates.items()
}
print(accuracy)
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(list(accuracy), list(accuracy.values()))
ax.set_xlabel("test accuracy, frozen vectors, 10 labels/class")
fig.tight_layout()
