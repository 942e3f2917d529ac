"""Our Rasa NLU graph components on their own, with Rasa's real storage and messages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.unknown_words import UnknownWordsFallback

if TYPE_CHECKING:
    from components.intent_classifier import LogisticRegressionClassifier


def test_a_message_without_a_known_word_is_not_understood(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("unknown_words")
    context = ExecutionContext(GraphSchema({}), "test")
    training = TrainingData([Message({"text": t, "intent": i}) for t, i in [
        ("miten haen työttömyysetuutta", "benefit_apply"), ("hei", "greet"), ("kyllä", "affirm")]])
    UnknownWordsFallback.create({}, storage, resource, context).train(training)
    component = UnknownWordsFallback.load({}, storage, resource, context)

    def parse(text: str) -> Message:
        message = Message({"text": text, "intent": {"name": "affirm", "confidence": 0.4},
                           "intent_ranking": [{"name": "affirm", "confidence": 0.4}]})
        component.process([message])
        return message

    mash = parse("xq zzkv plorf wibble")
    assert mash.get("intent")["name"] == "nlu_fallback"
    assert mash.get("intent_ranking") == [{"name": "nlu_fallback", "confidence": 0.0},
                                          {"name": "affirm", "confidence": 0.4}]
    assert mash.get("unknown_words") is True
    for text in ("Hei!", "miten haen tyottomyysetuutta nyt", "失业金", "1234", '/affirm{"x": 1}'):
        assert parse(text).get("intent")["name"] == "affirm", text
        assert parse(text).get("unknown_words") is None, text

    # Mash that the FallbackClassifier already caught (a low best intent) is still marked, so that
    # no topics are offered for it; its fallback and ranking stay as they were.
    ranking = [{"name": "nlu_fallback", "confidence": 0.15}, {"name": "out_of_scope", "confidence": 0.14}]
    caught = Message({"text": "xq zzkv plorf wibble", "intent": ranking[0], "intent_ranking": list(ranking)})
    component.process([caught])
    assert caught.get("unknown_words") is True
    assert caught.get("intent") == ranking[0] and caught.get("intent_ranking") == ranking


def test_the_question_part_of_a_story_is_its_asking_sentence() -> None:
    from components.question_focus import question_part

    story = "I worked at a warehouse for two years. Last week they said there is no more work. Do I tell someone?"
    assert question_part(story) == "Do I tell someone?"
    # The question first, the story after: the sentence that asks.
    assert question_part("Mitä teen nyt? Firma meni konkurssiin ja palkka jäi saamatta.") == "Mitä teen nyt?"
    assert question_part("我在仓库工作了两年。上周他们说没有工作了。我该怎么办？") == "我该怎么办？"
    assert question_part("لقد فقدت عملي. ماذا أفعل الآن؟ شكرا") == "ماذا أفعل الآن؟"
    # One sentence (or one sentence and a number) is not a story.
    assert question_part("miten ilmoittaudun työnhakijaksi?") is None
    assert question_part("hei. 12.") is None


def test_a_story_is_ranked_by_its_question_too_and_a_single_sentence_is_left_alone(tmp_path: Path) -> None:
    from components.question_focus import QuestionFocusReranker

    storage = LocalModelStorage(tmp_path)
    resource = Resource("question_focus")
    context = ExecutionContext(GraphSchema({}), "test")
    training = TrainingData([Message({"text": t, "intent": i}) for t, i in [
        ("can I travel abroad while unemployed", "travel_abroad"), ("holiday in my home country", "travel_abroad"),
        ("I got a job what do I do", "got_a_job"), ("I start working on monday", "got_a_job"),
        ("how do I register as a jobseeker", "register_as_jobseeker"),
        ("sign up as unemployed", "register_as_jobseeker"),
    ]])
    QuestionFocusReranker.create({"weight": 0.6}, storage, resource, context).train(training)
    component = QuestionFocusReranker.load({"weight": 0.6}, storage, resource, context)

    def parse(text: str) -> Message:
        # What the bag-of-n-grams classifier said: the story's words won.
        ranking = [{"name": "got_a_job", "confidence": 0.55}, {"name": "travel_abroad", "confidence": 0.45}]
        message = Message({"text": text, "intent": ranking[0], "intent_ranking": ranking})
        component.process([message])
        return message

    story = parse("I got a job at a warehouse and I start working next month. Can I travel abroad for a holiday first?")
    assert story.get("intent")["name"] == "travel_abroad", story.get("intent_ranking")
    assert abs(sum(r["confidence"] for r in story.get("intent_ranking")) - 1.0) < 0.05
    single = parse("I got a job and I start working, can I travel abroad")
    assert single.get("intent")["name"] == "got_a_job"
    assert single.get("intent_ranking")[0]["confidence"] == 0.55


def test_the_intent_classifier_predicts_the_same_without_copying_its_weights() -> None:
    import numpy as np
    from scipy.sparse import random as sparse_random
    from sklearn.linear_model import LogisticRegression

    from components.intent_classifier import transposable

    rng = np.random.default_rng(7)
    X = sparse_random(60, 400, density=0.05, format="csr", random_state=7)
    y = rng.integers(0, 4, 60)
    classifier = LogisticRegression(max_iter=200).fit(X, y)
    before = classifier.predict_proba(X[:5])
    assert not classifier.coef_.T.flags["C_CONTIGUOUS"]  # as trained: the product copies it
    transposable(classifier)
    assert classifier.coef_.T.flags["C_CONTIGUOUS"]
    assert classifier.coef_.dtype == np.float32
    after = classifier.predict_proba(X[:5].astype(np.float32))  # as _create_X gives the rows
    assert np.allclose(after, before, atol=1e-5)
    assert (after.argmax(axis=1) == before.argmax(axis=1)).all()


def new_classifier(tmp_path: Path, **settings: object) -> LogisticRegressionClassifier:
    """Our intent classifier, untrained, with the default config and `settings` over it."""
    from components.intent_classifier import LogisticRegressionClassifier

    return LogisticRegressionClassifier.create({**LogisticRegressionClassifier.get_default_config(), **settings},
                                               LocalModelStorage(tmp_path), Resource("lr"),
                                               ExecutionContext(GraphSchema({}), "test"))


def test_the_intent_classifier_builds_the_same_rows_as_rasa(tmp_path: Path) -> None:
    """Two featurisers' sequence and sentence features: our rows equal Rasa's own."""
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier as RasaLogisticRegressionClassifier,
    )
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from scipy.sparse import random as sparse_random

    messages = []
    for seed in range(3):
        message = Message({"text": f"viesti {seed}"})
        for origin, width in (("words", 30), ("characters", 50)):
            message.add_features(Features(sparse_random(2, width, density=0.3, format="coo", random_state=seed),
                                          FEATURE_TYPE_SEQUENCE, TEXT, origin))
            message.add_features(Features(sparse_random(1, width, density=0.3, format="coo", random_state=seed + 9),
                                          FEATURE_TYPE_SENTENCE, TEXT, origin))
        messages.append(message)
    classifier = new_classifier(tmp_path)
    for batch in (messages[:1], messages):
        ours = classifier._create_X(batch)
        theirs = RasaLogisticRegressionClassifier._create_X(classifier, batch)
        assert ours.shape == theirs.shape == (len(batch), 80)
        assert np.array_equal(ours.toarray(), theirs.toarray())
        assert ours.dtype == np.float64  # no weights yet: the features' own precision


def test_the_intent_classifier_takes_its_regularisation_and_row_scaling_from_the_config(tmp_path: Path) -> None:
    """`C` reaches scikit-learn; `normalize_rows` scales every message's row to unit length
    (docs/experiments/issue13_c3.yml and issue13_norm_c10.yml compare them); `binary` counts
    a feature once however often it occurs (config/config.yml sets it)."""
    import numpy as np
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from scipy.sparse import coo_matrix

    messages = []
    for counts in ([3.0, 4.0, 0.0], [0.0, 0.0, 2.0]):
        message = Message({"text": "viesti"})
        message.add_features(Features(coo_matrix([counts]), FEATURE_TYPE_SENTENCE, TEXT, "words"))
        messages.append(message)
    assert new_classifier(tmp_path).clf.C == 1.0
    assert new_classifier(tmp_path, C=3).clf.C == 3.0
    assert np.array_equal(new_classifier(tmp_path)._create_X(messages).toarray(), [[3, 4, 0], [0, 0, 2]])
    scaled = new_classifier(tmp_path, normalize_rows=True)._create_X(messages).toarray()
    assert np.allclose(scaled, [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    assert np.array_equal(new_classifier(tmp_path, binary=True)._create_X(messages).toarray(), [[1, 1, 0], [0, 0, 1]])
    assert messages[0].features[0].features.toarray().tolist() == [[3.0, 4.0, 0.0]]  # the message keeps its counts


def test_the_intent_classifier_weighs_rare_features_more_and_keeps_the_weights(tmp_path: Path) -> None:
    """`idf` (config/config.yml): a feature in every training message weighs least, the weights
    are stored with the model, and the loaded classifier reads the same rows and predicts the
    same. The messages keep their own features."""
    import numpy as np
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from scipy.sparse import coo_matrix

    from components.intent_classifier import LogisticRegressionClassifier

    def message(counts: list[float], intent: str | None = None) -> Message:
        text = f"viesti {counts}"  # identical messages would be one training example
        new = Message({"text": text, **({"intent": intent} if intent else {})})
        new.add_features(Features(coo_matrix([counts]), FEATURE_TYPE_SENTENCE, TEXT, "words"))
        return new

    # Feature 0 is in every message ("how"), 1 and 2 name the topic.
    training = TrainingData([message([1, 1, 0], "benefit_apply"), message([2, 1, 0], "benefit_apply"),
                             message([1, 0, 1], "find_jobs"), message([1, 0, 2], "find_jobs")])
    settings = {"binary": True, "idf": True, "normalize_rows": True, "C": 20}
    classifier = new_classifier(tmp_path, **settings)
    classifier.train(training)
    assert classifier.idf is not None
    assert classifier.idf[0] == classifier.idf.min() < classifier.idf[1] == classifier.idf[2]
    assert np.isclose(classifier.idf[0], 1.0)  # ln(5/5) + 1
    row = classifier._create_X([message([3, 1, 0])]).toarray()[0]
    assert np.isclose(np.linalg.norm(row), 1.0) and row[0] < row[1]

    loaded = LogisticRegressionClassifier.load(
        {**LogisticRegressionClassifier.get_default_config(), **settings},
        LocalModelStorage(tmp_path), Resource("lr"), ExecutionContext(GraphSchema({}), "test"))
    assert np.array_equal(loaded.idf, classifier.idf)
    queries = [message([1, 1, 0]), message([1, 0, 1])]
    assert np.array_equal(loaded._create_X(queries).toarray(), classifier._create_X(queries).toarray())
    assert [m.get("intent")["name"] for m in loaded.process(queries)] == ["benefit_apply", "find_jobs"]
    assert queries[0].features[0].features.toarray().tolist() == [[1.0, 1.0, 0.0]]
    assert new_classifier(tmp_path).idf is None  # off by default: rows as before
    (tmp_path / "squared").mkdir()
    squared = new_classifier(tmp_path / "squared", **settings, idf_power=2)
    squared.train(training)
    assert np.allclose(squared.idf, classifier.idf ** 2)
