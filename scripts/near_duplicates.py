"""Near-duplicate messages between NLU data sets (training, held-out, development).

Two messages are near-duplicates when, after normalising case, accents and
punctuation, their character 3-gram sets have a Jaccard similarity of at least
0.8, or one of them is contained in the other (at word boundaries; anywhere in
text written without spaces, such as Chinese). Character 3-grams cover every
length and every script: a one-word greeting, a Chinese sentence without spaces
and a long Finnish question are compared alike.

The comparison is a sparse matrix product of binary 3-gram vectors, so that a
few thousand messages are checked against tens of thousands in seconds.

    python -m scripts.near_duplicates            # counts per language, held-out and dev vs training
    python -m scripts.near_duplicates --clean    # remove held-out (and dev) messages that leak
    python -m scripts.near_duplicates --check data/nlu/sv/needs.yml
        # the file's own examples that near-duplicate a held-out or development message
        # (only the file's lines are printed, so that blind writers can check new data)
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.language.text import normalise

JACCARD = 0.8
# A reference inside the checked message makes it a near-duplicate only when it is at
# least this share of it ("karenssi kuinka pitkä" in "karenssi kuinka pitkä on"), not a
# training "ok" or "Kela" inside a long new question. The checked message inside a
# reference is always one: the whole of it was seen.
CONTAINED_SHARE = 0.5
NGRAM = 3
UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u0e00-\u0e7f]")
CHUNK = 256


def ngrams(normalised: str, n: int = NGRAM) -> set[str]:
    """Character n-grams of the text padded with a space on each side ("hi" -> " hi", "hi ")."""
    padded = f" {normalised} "
    return {padded[i: i + n] for i in range(max(1, len(padded) - n + 1))}


def contains(longer: str, shorter: str) -> bool:
    """`shorter` occurs in `longer` as whole words (anywhere, for text written without spaces)."""
    if not shorter:
        return False
    if UNSPACED.search(shorter):
        return shorter in longer
    return f" {shorter} " in f" {longer} "


@dataclass(frozen=True)
class Match:
    index: int  # of the message checked
    other: int  # of the reference message it duplicates
    jaccard: float
    contained: bool


class ReferenceIndex:
    """The 3-gram vectors of a set of reference messages, built once, checked against many."""

    def __init__(self, references: Sequence[str]) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer

        self.references = list(references)
        self._normalised = [normalise(r) for r in self.references]
        self._vectorizer = CountVectorizer(analyzer=lambda s: sorted(ngrams(s)), binary=True, dtype=np.int32)
        matrix = self._vectorizer.fit_transform(self._normalised) if self.references else None
        self._matrix = matrix.T.tocsc() if matrix is not None else None
        self._sizes = np.asarray(matrix.sum(axis=1)).ravel() if matrix is not None else None

    def matches(self, texts: Sequence[str], threshold: float = JACCARD) -> list[Match]:
        """For each text that is a near-duplicate of some reference, its closest one."""
        import numpy as np

        if not texts or self._matrix is None:
            return []
        normalised = [normalise(t) for t in texts]
        vectors = self._vectorizer.transform(normalised)
        sizes = np.array([len(ngrams(n)) for n in normalised])
        found: list[Match] = []
        for start in range(0, len(texts), CHUNK):
            inter = (vectors[start: start + CHUNK] @ self._matrix).tocoo()
            rows, cols, shared = inter.row, inter.col, inter.data.astype(float)
            size_a, size_b = sizes[start + rows], self._sizes[cols]
            jaccard = shared / (size_a + size_b - shared)
            # Containment needs (nearly) every 3-gram of the shorter text; the two padded
            # boundary grams may differ when it sits inside a run of text without spaces.
            candidate = (jaccard >= threshold) | (shared >= np.minimum(size_a, size_b) - 2)
            best: dict[int, Match] = {}
            for k in np.flatnonzero(candidate):
                i, j = start + int(rows[k]), int(cols[k])
                text, reference = normalised[i], self._normalised[j]
                contained = contains(reference, text) or (
                    size_b[k] >= CONTAINED_SHARE * size_a[k] and contains(text, reference))
                if jaccard[k] >= threshold or contained:
                    match = Match(i, j, float(jaccard[k]), contained)
                    if i not in best or match.jaccard > best[i].jaccard:
                        best[i] = match
            found.extend(best[i] for i in sorted(best))
        return found

    def leaks(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        """(text, reference) pairs: each text that near-duplicates a reference, with its closest one."""
        return [(texts[m.index], self.references[m.other]) for m in self.matches(texts)]


def near_duplicates(texts: Sequence[str], references: Sequence[str], threshold: float = JACCARD) -> list[Match]:
    """For each text that is a near-duplicate of some reference, its closest one."""
    return ReferenceIndex(references).matches(texts, threshold)


def leaks(texts: Sequence[str], references: Iterable[str]) -> list[tuple[str, str]]:
    """(text, reference) pairs: each text that near-duplicates a reference, with its closest one."""
    return ReferenceIndex(list(references)).leaks(texts)


def check_file(path: str) -> int:
    """Print the examples of one training file that near-duplicate a held-out or dev message.

    Only the file's own lines are printed, never the held-out or development text, so
    that writers who must not see those sets can still keep clear of them.
    """
    from pathlib import Path

    from scripts.nlu_data import dev_sets, heldout_sets, load_examples

    texts = [text for text, _ in load_examples(Path(path))]
    protected = [t for examples in heldout_sets().values() for t, _ in examples]
    protected += [e["text"] for examples in dev_sets().values() for e in examples]
    # The protected messages are the ones checked, against the file as the reference: the
    # same direction as the leak tests (tests/test_nlu_data.py), so that a short held-out
    # message inside a longer new example is caught as it is there.
    leaking = sorted({m.other for m in ReferenceIndex(texts).matches(protected)})
    for index in leaking:
        print(texts[index])
    print(f"{len(leaking)} of {len(texts)} examples in {path} are too close to a held-out or development message")
    return len(leaking)


def main() -> None:
    from scripts.nlu_data import (
        all_training_texts,
        dev_sets,
        heldout_sets,
        write_dev_set,
        write_heldout_set,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove the leaking held-out and dev messages")
    parser.add_argument("--check", metavar="FILE", help="list FILE's examples that leak into held-out or dev")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(1 if check_file(args.check) else 0)
    training = ReferenceIndex(all_training_texts())
    heldout = heldout_sets()
    heldout_index = ReferenceIndex([t for examples in heldout.values() for t, _ in examples])
    print(f"{'set':<8}{'language':<9}{'n':>6}{'leaks':>7}")
    for language, examples in heldout.items():
        leaked = {m.index for m in training.matches([t for t, _ in examples])}
        print(f"{'heldout':<8}{language:<9}{len(examples):>6}{len(leaked):>7}")
        if args.clean and leaked:
            write_heldout_set(language, [e for i, e in enumerate(examples) if i not in leaked])
    for language, examples in dev_sets().items():
        texts = [e["text"] for e in examples]
        leaked = {m.index for m in training.matches(texts)} | {m.index for m in heldout_index.matches(texts)}
        print(f"{'dev':<8}{language:<9}{len(examples):>6}{len(leaked):>7}")
        if args.clean and leaked:
            write_dev_set(language, [e for i, e in enumerate(examples) if i not in leaked])


if __name__ == "__main__":
    main()
