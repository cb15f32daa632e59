"""
Grid search over transfer modes
================================

Transfer options are hyperparameters, so ``GridSearchCV`` chooses among them
like any other. A fitted source model is a parameter too; ``clone`` shares it
instead of resetting it.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sktransfer import FineTunedCNNClassifier

X, y = load_digits(return_X_y=True)
source = FineTunedCNNClassifier(max_epochs=20, random_state=0, device="cpu")
source.fit(X[y < 5], y[y < 5])

X_target, y_target = X[y >= 5][:60], y[y >= 5][:60]
search = GridSearchCV(
    FineTunedCNNClassifier(
        backbone=source, max_epochs=20, batch_size=16, random_state=0, device="cpu"
    ),
    [  # feature extraction solves its linear head by L-BFGS: no lr to search
        {"transfer": ["feature_extraction"]},
        {"transfer": ["partial", "fine_tune", "structure"], "lr": [1e-3, 3e-3]},
    ],
    cv=3,
)
search.fit(X_target, y_target)
print("best:", search.best_params_, f"cv accuracy {search.best_score_:.3f}")

# %%
results = search.cv_results_
labels = [
    p["transfer"] + (f"\nlr={p['lr']:g}" if "lr" in p else "")
    for p in results["params"]
]
order = np.argsort(results["mean_test_score"])
fig, ax = plt.subplots(figsize=(6, 4))
ax.barh(np.array(labels)[order], results["mean_test_score"][order])
ax.set_xlabel("mean cross-validated accuracy")
fig.tight_layout()
