import pickle

import numpy as np
import pytest
from gensim.models import KeyedVectors
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sktransfer import (
    EmbeddingVectorizer,
    FineTunedCNNClassifier,
    PretrainedEmbeddingClassifier,
)
from sktransfer.transferability import (
    SourceSelector,
    logme_score,
    make_transferability_scorer,
    rank_sources,
)
from sktransfer.utils import seed_from
from sktransfer.utils._testing import FAST_PROBE, FAST_TRAINING
from sktransfer.vision import Backbone, SmallCNN


@pytest.fixture(scope="module")
def shuffled_source(digits_split):
    """A source fitted on digits 0-4 with shuffled labels: nothing to transfer."""
    y = np.random.RandomState(0).permutation(digits_split["y_source"])
    return FineTunedCNNClassifier(random_state=0, **FAST_TRAINING).fit(
        digits_split["X_source"], y
    )


@pytest.fixture
def target(digits_split):
    return digits_split["X_pool"][:200], digits_split["y_pool"][:200]


def _noise(Z):
    return np.random.RandomState(0).randn(len(Z), 16)


@pytest.mark.parametrize("metric", ["logme", "h_score"])
def test_rank_image_sources_by_features(target, source_model, shuffled_source, metric):
    X, y = target
    noise = FunctionTransformer(_noise)
    ranking = rank_sources([noise, shuffled_source, source_model], X, y, metric)
    assert [row["candidate"] for row in ranking] == [
        source_model,
        shuffled_source,
        noise,
    ]
    assert [row["rank"] for row in ranking] == [1, 2, 3]
    assert ranking[0]["score"] > ranking[1]["score"] and ranking[0]["seconds"] >= 0
    assert "rank" in str(ranking) and "FineTunedCNNClassifier" in str(ranking)
    # Jupyter shows the table, not the rows with their candidates' reprs
    html = ranking._repr_html_()
    assert html.count("<tr>") == 4 and "FunctionTransformer(" not in html
    assert f"<td>1</td><td>{ranking[0]['score']:.4f}</td>" in html


@pytest.mark.parametrize("metric", ["leep", "nce"])
def test_rank_source_classifiers_by_predictions(
    target, source_model, shuffled_source, metric
):
    X, y = target
    ranking = rank_sources([shuffled_source, source_model], X, y, metric)
    assert ranking[0]["candidate"] is source_model
    with pytest.raises(TypeError, match="fitted source classifier"):
        rank_sources(["small_cnn"], X, y, metric)


def linear_probe_accuracy(features, y):
    """A score of one's own: a cross-validated linear probe's accuracy, on
    standardized features (unscaled, the probe of the seeded source scores
    0.78-0.84 over seeds 0-4 and CPUs; scaled, 0.85-0.90)."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return cross_val_score(probe, features, y, cv=3).mean()


def test_a_metric_of_ones_own_scores_the_candidates_features(
    target, source_model, shuffled_source, capsys
):
    X, y = target
    ranking = rank_sources(
        {"noise": FunctionTransformer(_noise), "digits 0-4": source_model},
        X,
        y,
        linear_probe_accuracy,
        log=print,
    )
    assert [row["name"] for row in ranking] == ["digits 0-4", "noise"]
    features = source_model.extract_features(X)
    assert ranking[0]["score"] == pytest.approx(linear_probe_accuracy(features, y))
    assert ranking[0]["score"] > 0.8 > 0.3 > ranking[1]["score"]  # chance: 0.2
    assert "linear_probe_accuracy=" in capsys.readouterr().out
    scorer = make_transferability_scorer(linear_probe_accuracy)
    assert scorer(source_model, X, y) == ranking[0]["score"]
    assert pickle.loads(pickle.dumps(scorer))(source_model, X, y) == scorer(
        source_model, X, y
    )
    selector = SourceSelector(
        FineTunedCNNClassifier(transfer="feature_extraction", **FAST_PROBE),
        [shuffled_source, source_model],
        metric=linear_probe_accuracy,
        random_state=0,
    ).fit(X, y)
    assert selector.best_source_ is source_model


def test_rank_word_vector_sources(glove, news):
    fake = KeyedVectors(vector_size=50)
    fake.add_vectors(glove.index_to_key, np.random.RandomState(0).randn(len(glove), 50))
    ranking = rank_sources([fake, glove], news["X"], news["y"])
    assert ranking[0]["candidate"] is glove


def test_a_fitted_text_classifier_is_scored_on_the_features_its_head_sees(glove, news):
    """Its encoder's output (here a CNN's), not its word vectors averaged."""
    clf = PretrainedEmbeddingClassifier(
        glove, encoder="cnn", max_epochs=1, device="cpu", random_state=0
    ).fit(news["X"], news["y"])
    (row,) = rank_sources([clf], news["X"], news["y"])
    expected = logme_score(clf.extract_features(news["X"]), news["y"])
    assert row["score"] == pytest.approx(expected, abs=1e-9)


def test_rank_word_vectors_against_tfidf(glove, news):
    """A TfidfVectorizer candidate gives sparse features: LogME scores them
    through the Gram matrix (the same score as dense); h_score, which would
    invert a vocabulary-sized covariance, refuses them naming the candidate."""
    tfidf = TfidfVectorizer()
    ranking = rank_sources([tfidf, glove], news["X"], news["y"])
    assert {row["name"] for row in ranking} == {"TfidfVectorizer", "KeyedVectors"}
    sparse = clone(tfidf).fit_transform(news["X"])
    by_name = {row["name"]: row["score"] for row in ranking}
    assert by_name["TfidfVectorizer"] == pytest.approx(
        logme_score(sparse.toarray(), news["y"]), abs=1e-9
    )
    with pytest.raises(TypeError, match="candidate 'TfidfVectorizer' with h_score"):
        rank_sources([tfidf], news["X"], news["y"], "h_score")


def test_scorer_in_cross_validate_and_grid_search(glove, news):
    scorer = make_transferability_scorer("logme")
    result = cross_validate(
        EmbeddingVectorizer(glove), news["X"], news["y"], scoring=scorer, cv=3
    )
    assert np.isfinite(result["test_score"]).all()
    grid = GridSearchCV(
        EmbeddingVectorizer(glove),
        {"pooling": ["mean", "max"]},
        scoring=make_transferability_scorer("h_score"),
        cv=2,
        n_jobs=2,
    ).fit(news["X"], news["y"])
    assert grid.best_params_["pooling"] in ("mean", "max")
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    with pytest.raises(ValueError, match="not a transferability score"):
        make_transferability_scorer("accuracy")


def test_source_selector_picks_the_informative_source(
    target, digits_split, source_model, shuffled_source
):
    X, y = target
    estimator = FineTunedCNNClassifier(
        transfer="feature_extraction", random_state=0, **FAST_PROBE
    )
    selector = SourceSelector(
        estimator, [shuffled_source, source_model], random_state=0
    )
    assert clone(selector).sources[1] is source_model  # sources shared, not copied
    selector.fit(X, y)
    assert selector.best_source_ is source_model
    assert selector.best_estimator_.backbone is source_model
    assert len(selector.scores_) == 2 and selector.validation_scores_ == {}
    accuracy = selector.score(digits_split["X_test"], digits_split["y_test"])
    assert accuracy == pytest.approx(
        selector.best_estimator_.score(digits_split["X_test"], digits_split["y_test"])
    )
    top2 = SourceSelector(  # a numpy int, as a grid given as an array yields
        estimator, [shuffled_source, source_model], top_k=np.int64(2), random_state=0
    )
    top2.fit(X, y)
    assert len(top2.validation_scores_) == 2
    # a top_k over the number of sources compares them all, with a word (in a
    # grid over top_k, such values would fit the same model)
    with pytest.warns(UserWarning, match="top_k=5 is more than the 2 candidate") as w:
        top5 = clone(top2).set_params(top_k=5).fit(X, y)
    assert w[0].filename == __file__
    assert top5.validation_scores_ == top2.validation_scores_
    names = {row["name"]: row["candidate"] for row in top2.scores_}
    best_name = max(top2.validation_scores_, key=top2.validation_scores_.get)
    assert top2.best_source_ is names[best_name]  # chosen by held-out accuracy


def test_progress_lines_of_rank_sources_and_the_selector(
    target, source_model, shuffled_source, capsys
):
    X, y = target
    lines = []
    candidates = {"shuffled": shuffled_source, "digits 0-4": source_model}
    ranking = rank_sources(candidates, X, y, log=lines.append)
    score = {row["name"]: row["score"] for row in ranking}
    assert [line.split("] ")[0] for line in lines] == ["[1/2", "[2/2"]
    assert "shuffled" in lines[0] and f"logme={score['shuffled']:.4f}" in lines[0]
    assert f"logme={score['digits 0-4']:.4f}" in lines[1]
    estimator = FineTunedCNNClassifier(
        transfer="feature_extraction", random_state=0, **FAST_PROBE
    )
    SourceSelector(estimator, candidates, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""  # verbose=0: quiet
    selector = SourceSelector(
        estimator, candidates, top_k=2, random_state=0, verbose=1
    ).fit(X, y)
    printed = capsys.readouterr().out.splitlines()

    def untimed(line):
        return line.rsplit(" (", 1)[0]

    # the same scores, in the same order
    assert list(map(untimed, printed[:2])) == list(map(untimed, lines))
    assert [line.split(" ")[:2] for line in printed[2:4]] == [
        ["fine-tuned", "[1/2]"],
        ["fine-tuned", "[2/2]"],
    ]
    accuracy = selector.validation_scores_[ranking[0]["name"]]
    assert f"{ranking[0]['name']}" in printed[2] and f"={accuracy:.4f}" in printed[2]
    best = "digits 0-4" if selector.best_source_ is source_model else "shuffled"
    assert printed[4:] == [f"fitting FineTunedCNNClassifier on '{best}'"]


def test_a_tie_in_held_out_accuracy_goes_to_the_better_scored_source():
    """top_k > 1: sources that classify the holdout equally well are told
    apart by their transferability score, not by the order given."""
    y = np.repeat([0, 1], 30)
    X = np.c_[y, np.random.RandomState(0).randn(60)]
    clean = FunctionTransformer(lambda Z: Z[:, :1])
    blurred = FunctionTransformer(lambda Z: Z[:, :1] + 0.1 * Z[:, 1:])
    selector = SourceSelector(
        Pipeline([("features", "passthrough"), ("clf", LogisticRegression())]),
        [blurred, clean],
        source_param="features",
        top_k=2,
        random_state=0,
    ).fit(X, y)
    assert [row["candidate"] for row in selector.scores_] == [clean, blurred]
    assert set(selector.validation_scores_.values()) == {1.0}  # a tie
    assert selector.best_source_ is clean


def test_source_selector_errors(target, source_model):
    X, y = target
    with pytest.raises(ValueError, match="'estimator' parameter of SourceSelector"):
        SourceSelector(FunctionTransformer(), [source_model]).fit(X, y)
    with pytest.raises(ValueError, match="source_param"):
        SourceSelector(LogisticRegression(), [source_model]).fit(X, y)
    with pytest.raises(ValueError, match="at least one candidate"):
        SourceSelector(FineTunedCNNClassifier(), []).fit(X, y)
    for top_k in (0, 1.5):
        with pytest.raises(ValueError, match="top_k"):
            SourceSelector(FineTunedCNNClassifier(), [source_model], top_k=top_k).fit(
                X, y
            )
    for fraction in (0.0, 1.5):  # raised by train_test_split, as test_size
        with pytest.raises(ValueError, match="'validation_fraction' parameter"):
            SourceSelector(
                FineTunedCNNClassifier(), [source_model], validation_fraction=fraction
            ).fit(X, y)
    with pytest.raises(ValueError, match="holdout of validation_fraction=0.01"):
        SourceSelector(
            FineTunedCNNClassifier(),
            [source_model, "small_cnn"],
            top_k=2,
            validation_fraction=0.01,
        ).fit(X, y)
    with pytest.raises(TypeError, match="candidate 'small_cnn' with leep"):
        SourceSelector(FineTunedCNNClassifier(), ["small_cnn"], metric="leep").fit(X, y)


def test_a_random_backbone_candidate_scores_the_same_under_one_seed(target):
    X, y = target

    def score(random_state):
        ranking = rank_sources(["small_cnn"], X, y, random_state=random_state)
        return ranking[0]["score"]

    assert score(0) == score(0) != score(1)
    selector = SourceSelector(
        FineTunedCNNClassifier(**FAST_TRAINING), ["small_cnn"], random_state=0
    )
    assert clone(selector).fit(X, y).scores_[0]["score"] == score(0)


def test_candidates_of_one_type_get_different_names():
    y = np.repeat([0, 1], 10)
    X = np.c_[y, np.random.RandomState(0).randn(20)]
    useful = FunctionTransformer(lambda Z: Z[:, :1])
    noise = FunctionTransformer(lambda Z: Z[:, 1:])
    ranking = rank_sources([noise, useful], X, y)
    names = {row["name"]: row["candidate"] for row in ranking}
    # numbered in candidate order, whatever the ranking
    assert names == {"FunctionTransformer #1": noise, "FunctionTransformer #2": useful}
    assert "FunctionTransformer #2" in str(ranking).splitlines()[1]
    lone = rank_sources([useful], X, y)
    assert lone[0]["name"] == "FunctionTransformer"
    # any iterable of candidates, a generator too
    generated = rank_sources((c for c in (noise, useful)), X, y)
    assert [row["name"] for row in generated] == [row["name"] for row in ranking]


def test_a_backbone_candidate_is_named_by_the_name_it_declares(digits):
    X, y = digits[0][:60], digits[1][:60]
    cnn = SmallCNN(1, (4, 4, 4))
    named = [Backbone(cnn, 1, name="tiny"), Backbone(cnn, 1, name="tiny"), cnn]
    ranking = rank_sources(named + [Backbone(cnn, 1)], X, y, random_state=0)
    names = [row["name"] for row in sorted(ranking, key=lambda row: row["name"])]
    # numbered in candidate order; one that declares no name: by its module
    assert names == ["SmallCNN #1", "SmallCNN #2", "tiny #1", "tiny #2"]
    assert next(r for r in ranking if r["name"] == "SmallCNN #1")["candidate"] is cnn


def test_candidates_given_as_a_dict_are_ranked_under_their_names(
    target, source_model, shuffled_source
):
    X, y = target
    named = {"digits 0-4": source_model, "shuffled": shuffled_source, 3: "small_cnn"}
    ranking = rank_sources(named, X, y, random_state=0)
    by_name = {row["name"]: row["candidate"] for row in ranking}
    assert by_name == {
        "digits 0-4": source_model,
        "shuffled": shuffled_source,
        "3": "small_cnn",
    }
    assert "digits 0-4" in str(ranking)
    listed = rank_sources(list(named.values()), X, y, random_state=0)
    assert [row["score"] for row in ranking] == [row["score"] for row in listed]
    selector = SourceSelector(
        FineTunedCNNClassifier(
            transfer="feature_extraction", random_state=0, **FAST_PROBE
        ),
        named,
        top_k=2,
        random_state=0,
    )
    assert clone(selector).sources is named  # shared, not copied
    selector.fit(X, y)
    assert set(selector.validation_scores_) <= set(by_name)
    assert any(selector.best_source_ is source for source in named.values())


def test_a_frozen_candidate_is_named_by_what_it_wraps(digits_split, source_model):
    from sklearn.frozen import FrozenEstimator

    X, y = digits_split["X_pool"][:60], digits_split["y_pool"][:60]
    ranking = rank_sources([FrozenEstimator(source_model), source_model], X, y)
    plain, frozen = sorted(ranking, key=lambda row: row["name"])
    assert plain["name"] == "FineTunedCNNClassifier"
    assert frozen["name"] == "FineTunedCNNClassifier (frozen)"
    assert frozen["score"] == plain["score"]  # the same source, scored the same


def _flipped(Z):
    return Z[:, ::-1]


def test_source_selector_over_a_pipeline(target, source_model, shuffled_source):
    # the selector finds the step's backbone and scores the sources on what
    # the steps before it make of X: here, images flipped pixel by pixel
    X, y = target
    estimator = FineTunedCNNClassifier(transfer="feature_extraction", **FAST_PROBE)
    sources = {"digits": source_model, "shuffled": shuffled_source}
    piped = SourceSelector(
        make_pipeline(FunctionTransformer(_flipped), clone(estimator)), sources
    ).fit(X, y)
    bare = SourceSelector(estimator, sources).fit(_flipped(X), y)
    assert [(r["name"], r["score"]) for r in piped.scores_] == [
        (r["name"], r["score"]) for r in bare.scores_
    ]
    unflipped = SourceSelector(estimator, sources).fit(X, y)
    assert piped.scores_[0]["score"] != unflipped.scores_[0]["score"]
    assert piped.best_estimator_[-1].backbone is bare.best_source_
    np.testing.assert_array_equal(piped.predict(X), bare.predict(_flipped(X)))


def test_the_selectors_seed_seeds_an_unseeded_estimator(target, source_model):
    X, y = target
    unseeded = FineTunedCNNClassifier(**FAST_TRAINING)  # random_state=None
    fits = [
        SourceSelector(
            unseeded, [source_model, "small_cnn"], top_k=2, random_state=0
        ).fit(X, y)
        for _ in range(2)
    ]
    assert fits[0].validation_scores_ == fits[1].validation_scores_
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert fits[0].best_estimator_.random_state == seed_from(0)
    assert unseeded.random_state is None  # a clone was seeded, not the template
    assert source_model.random_state == 0  # nor the shared source
    own = FineTunedCNNClassifier(random_state=5, **FAST_TRAINING)
    chosen = SourceSelector(own, [source_model], random_state=0).fit(X, y)
    assert chosen.best_estimator_.random_state == 5  # its own seed is kept
