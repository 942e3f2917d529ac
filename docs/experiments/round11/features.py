"""Round 11: every message's classifier row from a trained model, once, for fast experiments.

    python -m docs.experiments.round11.features MODEL OUT.npz

Runs the training, development and held-out texts through the model's own tokenizer and
featurizers (Rasa's prediction graph, up to the classifier) and stores the rows the intent
classifier sees (sentence features, present or absent), with intents and languages. Classifier
variants are then fitted in seconds on the same rows (`round11/classifiers.py`) instead of
training a Rasa model per variant; the held-out rows are stored but only read for a kept
candidate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import sparse

from scripts.nlu_data import dev_sets, heldout_sets, training_examples
from scripts.nlu_eval import load_agent

LANGUAGES = ("fi", "sv", "en", "ru", "uk", "et", "ar", "so", "fa", "zh", "vi", "sq")


def classifier_rows(agent, texts: list[str]) -> sparse.csr_matrix:  # noqa: ANN001
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.nlu.constants import TEXT

    processor = agent.processor
    nodes = processor.model_metadata.predict_schema.nodes
    featurizers = [name for name in nodes if "CountVectorsFeaturizer" in name]
    target = sorted(featurizers)[-1]
    rows = []
    for start in range(0, len(texts), 500):
        messages = [UserMessage(text) for text in texts[start:start + 500]]
        results = processor.graph_runner.run(inputs={"__message__": messages}, targets=[target])
        for message in results[target]:
            _, sentence = message._filter_sparse_features(TEXT, [])
            rows.append(sparse.hstack([sparse.csr_matrix(f.features) for f in sentence], format="csr"))
    return sparse.vstack(rows, format="csr").sign()


def main(model: str, out: str) -> None:
    agent = load_agent(Path(model))
    records: list[tuple[str, str, str, str, str]] = []  # text, intent, language, split, kind
    for language in LANGUAGES:
        records += [(text, intent, language, "train", "") for text, intent in training_examples(language)]
    for language, examples in dev_sets().items():
        records += [(e["text"], e["intent"], language, "dev", e["kind"]) for e in examples]
    for language, examples in heldout_sets().items():
        records += [(text, intent, language, "heldout", "") for text, intent in examples]
    texts, intents, languages, splits, kinds = (list(column) for column in zip(*records, strict=True))
    matrix = classifier_rows(agent, texts)
    sparse.save_npz(out, matrix)
    np.savez(Path(out).with_suffix(".meta.npz"), texts=np.array(texts, dtype=object),
             intents=np.array(intents), languages=np.array(languages), splits=np.array(splits),
             kinds=np.array(kinds), allow_pickle=True)
    print(matrix.shape)


if __name__ == "__main__":
    main(*sys.argv[1:3])
