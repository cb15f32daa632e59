"""
Digits 0-4 to 5-9: source, target, transfer
============================================

The three steps of transfer learning on scikit-learn's digits: fit a
**source** CNN on digits 0-4, then fit **target** models for digits 5-9 with
few labels, **transferring** the source by feature extraction or fine-tuning,
and compare with the same network trained from scratch (``structure``).
"""

# %%
# Step 1: the source model
# ------------------------
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sktransfer import FineTunedCNNClassifier

X, y = load_digits(return_X_y=True)
source = FineTunedCNNClassifier(max_epochs=20, random_state=0, device="cpu")
source.fit(X[y < 5], y[y < 5])
print(f"source accuracy on its own classes: {source.score(X[y < 5], y[y < 5]):.3f}")

# %%
# Steps 2 and 3: target models at 1, 5 and 20 labels per class
# ------------------------------------------------------------
# :func:`~sktransfer.model_selection.transfer_gain_curve` fits every transfer
# mode and the scratch baseline on stratified, seeded subsamples.
from sktransfer.model_selection import plot_transfer_gain_curve, transfer_gain_curve

X_pool, X_test, y_pool, y_test = train_test_split(
    X[y >= 5], y[y >= 5], test_size=0.5, stratify=y[y >= 5], random_state=0
)
target = FineTunedCNNClassifier(
    backbone=source, max_epochs=20, lr=3e-3, batch_size=16, device="cpu"
)
curve = transfer_gain_curve(
    target,
    X_pool,
    y_pool,
    X_test,
    y_test,
    n_per_class=(1, 5, 20),
    transfers=("feature_extraction", "fine_tune"),
    n_repeats=2,
)
print(curve)

# %%
# Fine-tuning pays with one label per class; frozen features of a five-class
# source are weaker than a network trained from scratch on this easy data --
# the curve flags that as negative transfer.
ax = plot_transfer_gain_curve(curve)
ax.set_title("digits 0-4 -> 5-9")
