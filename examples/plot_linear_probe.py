"""
Linear probe on ImageNet features
==================================

:class:`~sktransfer.PretrainedFeatureExtractor` turns images into the pooled
features of a pretrained backbone -- here EfficientNet-Lite0 with its real
ImageNet weights (the ``efficientnet`` extra, offline) -- for any scikit-learn
estimator. The 8x8 grayscale digits are upsampled and replicated to three
channels on the fly.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import PretrainedFeatureExtractor

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=100, test_size=300, stratify=y, random_state=0
)
probe = make_pipeline(
    PretrainedFeatureExtractor("efficientnet_lite0", device="cpu"),
    StandardScaler(),
    LogisticRegression(max_iter=2000),
)
pixels = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
scores = {
    "EfficientNet-Lite0 features": probe.fit(X_train, y_train).score(X_test, y_test),
    "raw pixels": pixels.fit(X_train, y_train).score(X_test, y_test),
}
print(scores)

# %%
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(list(scores), list(scores.values()))
ax.set_xlabel("test accuracy, 10 labelled images per class")
fig.tight_layout()
