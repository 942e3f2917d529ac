"""Topic discovery: unresolved questions grouped by similarity, per language.

Each language's questions become character n-gram TF-IDF vectors (inside word
boundaries, on folded text: case and accents do not matter, and typos,
inflection and Chinese without spaces still share n-grams), and are grouped by
agglomerative clustering (average linkage, cosine distance) cut at a distance
threshold, so the number of topics is not fixed in advance. A cluster that
keeps coming back is a candidate for a new answer (or for more training examples
of an existing topic).

Memory is bounded: the vectors stay sparse, and as average linkage needs the
distance of every pair, only the first EXACT_LIMIT texts (the newest: discover_topics
orders them so) are clustered that way, from a condensed distance matrix computed
block by block (n²/2 floats: 36 MB for 3,000 texts). Every further text joins the
cluster whose average distance to it is smallest when that is under the threshold
(the distance average linkage would merge it at), and stays on its own otherwise.
discover_topics reads at most MAX_ITEMS texts per language. `python -m
scripts.cluster_bench 10000` (part of `make bench`) measures time and peak memory.

Texts are the masked texts of the log; the masking tokens are left out of the
vectors so that "call me on [phone]" does not group with every other message
holding a phone number.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select

from bot.insights.log import AMBIGUOUS, NEGATIVE_FEEDBACK, NLU_FALLBACK, OUT_OF_SCOPE
from bot.language.text import UNSPACED_SCRIPTS, WORD, dominant_script, fold
from bot.privacy.masking import TOKENS, mask
from bot.store.db import Database
from bot.store.models import UnresolvedQuestion

# Reasons whose texts are questions the assistant could not answer in the user's language.
CLUSTER_REASONS = (NLU_FALLBACK, AMBIGUOUS, OUT_OF_SCOPE, NEGATIVE_FEEDBACK)
# Cosine distance at which the dendrogram is cut (0 = identical, 1 = nothing in common).
DEFAULT_DISTANCE_THRESHOLD = 0.75
MIN_CLUSTER_SIZE = 2
EXAMPLES = 5
KEYWORDS = 3
# At most this many (most recent) questions per language are read for clustering.
MAX_ITEMS = 10_000
# Average linkage over every pair for this many texts (memory grows with the square);
# later texts join the nearest of their clusters.
EXACT_LIMIT = 3000
# Rows of the distance matrix computed at a time.
BLOCK_ROWS = 256
_TOKEN = re.compile("|".join(re.escape(t) for t in TOKENS.values()))
# Character n-grams: 2-4 inside words; with single characters too for scripts written
# without spaces (Chinese), where one character is often a whole word ("狗", dog).
NGRAMS = (2, 4)
NGRAMS_UNSPACED = (1, 3)


@dataclass
class Cluster:
    language: str
    size: int
    # Up to EXAMPLES distinct masked questions, the most typical first.
    examples: list[str]
    # Words that set the cluster apart from the language's other questions.
    keywords: list[str] = field(default_factory=list)
    # How many of the questions had each reason.
    reasons: dict[str, int] = field(default_factory=dict)
    # The unresolved_questions ids (for the inbox: label a whole cluster at once).
    item_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise(text: str) -> str:
    """What the vectors are built from: folded text without masking tokens."""
    return " ".join(fold(_TOKEN.sub(" ", text or "")).split())


def _vectors(normalised: list[str]) -> sparse.csr_matrix:
    """Sparse TF-IDF rows of unit length (so a dot product is the cosine similarity)."""
    unspaced = sum(dominant_script(t) in UNSPACED_SCRIPTS for t in normalised) * 2 > len(normalised)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS_UNSPACED if unspaced else NGRAMS,
                                 sublinear_tf=True, lowercase=False, dtype=np.float64)
    return sparse.csr_matrix(vectorizer.fit_transform(normalised))


def _condensed_distances(vectors: sparse.csr_matrix, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """Cosine distances of every pair (i < j) in scipy's condensed order, computed
    `block_rows` rows at a time, so that no n × n matrix is ever held."""
    n = vectors.shape[0]
    condensed = np.empty(n * (n - 1) // 2, dtype=np.float64)
    transposed = vectors.T.tocsc()
    position = 0
    for start in range(0, n - 1, block_rows):
        stop = min(start + block_rows, n)
        similarity = (vectors[start:stop] @ transposed).toarray()
        for row in range(start, stop):
            width = n - row - 1
            condensed[position:position + width] = 1.0 - similarity[row - start, row + 1:]
            position += width
    np.clip(condensed, 0.0, 1.0, out=condensed)
    return condensed


def _average_linkage(vectors: sparse.csr_matrix, distance_threshold: float) -> np.ndarray:
    """Cluster labels: average linkage on cosine distance, keeping merges closer than the threshold."""
    if vectors.shape[0] == 1:
        return np.ones(1, dtype=int)
    tree = linkage(_condensed_distances(vectors), method="average")
    # fcluster keeps merges at distances <= t: the threshold itself is not close enough.
    return fcluster(tree, t=np.nextafter(distance_threshold, 0.0), criterion="distance")


def _join_nearest(head: sparse.csr_matrix, labels: np.ndarray, tail: sparse.csr_matrix,
                  distance_threshold: float, block_rows: int = BLOCK_ROWS) -> list[int | None]:
    """For each row of `tail`, the label of the cluster of `head` at the smallest average
    cosine distance (1 - the row's dot product with the mean of the cluster's unit
    vectors), or None when no cluster is closer than the threshold."""
    names, index = np.unique(labels, return_inverse=True)
    sizes = np.bincount(index)
    membership = sparse.csr_matrix((1.0 / sizes[index], (index, np.arange(len(labels)))),
                                   shape=(len(names), len(labels)))
    centres = (membership @ head).T.tocsc()
    joined: list[int | None] = []
    for start in range(0, tail.shape[0], block_rows):
        similarity = (tail[start:start + block_rows] @ centres).toarray()
        best = similarity.argmax(axis=1)
        distance = 1.0 - similarity[np.arange(len(best)), best]
        joined += [int(names[b]) if d < distance_threshold else None for b, d in zip(best, distance, strict=True)]
    return joined


def cluster_texts(
    texts: list[str], distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD, exact_limit: int = EXACT_LIMIT
) -> list[list[int]]:
    """Groups of indices of `texts`, largest group first (ties: earliest member first).
    Every index is in exactly one group; texts without letters or digits are singletons.
    The first `exact_limit` usable texts are clustered exactly; each later one joins the
    nearest of their clusters or stays alone (see the module docstring)."""
    normalised = [normalise(t) for t in texts]
    usable = [i for i, t in enumerate(normalised) if any(ch.isalnum() for ch in t)]
    kept = set(usable)
    groups: list[list[int]] = [[i] for i in range(len(texts)) if i not in kept]
    if len(usable) == 1:
        groups.append(usable)
    elif len(usable) > 1:
        vectors = _vectors([normalised[i] for i in usable])
        head = vectors[:exact_limit]
        labels = _average_linkage(head, distance_threshold)
        by_label: dict[int, list[int]] = {}
        for index, label in zip(usable, labels, strict=False):
            by_label.setdefault(int(label), []).append(index)
        if len(usable) > exact_limit:
            joined = _join_nearest(head, labels, vectors[exact_limit:], distance_threshold)
            for index, label in zip(usable[exact_limit:], joined, strict=True):
                if label is None:
                    groups.append([index])
                else:
                    by_label[label].append(index)
        groups.extend(by_label.values())
    groups = [sorted(g) for g in groups]
    groups.sort(key=lambda g: (-len(g), g[0]))
    return groups


def _typical_first(members: list[int], texts: list[str]) -> list[int]:
    """Members ordered by closeness to the cluster's centre (the same n-gram vectors)."""
    if len(members) < 3:
        return members
    vectors = _vectors([normalise(texts[i]) for i in members])
    centre = np.asarray(vectors.mean(axis=0)).ravel()
    row_norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    norms = row_norms * (np.linalg.norm(centre) or 1.0)
    similarity = (vectors @ centre) / np.where(norms == 0, 1.0, norms)
    order = sorted(range(len(members)), key=lambda k: (-similarity[k], members[k]))
    return [members[k] for k in order]


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(normalise(text)) if len(w) >= 3}


def _keywords(members: list[int], words: list[set[str]], overall: Counter, n: int = KEYWORDS) -> list[str]:
    """Words frequent in the cluster and rare elsewhere in the language's questions
    (`words`: each text's words, `overall`: in how many texts each word is)."""
    inside = Counter(w for i in members for w in words[i])
    total = len(words)
    scored = [
        (count / len(members) * np.log((1 + total) / (1 + overall[w])), w)
        for w, count in inside.items()
        if count >= 2 or len(members) == 1
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [w for _, w in scored[:n]]


def clusters_of(
    language: str,
    items: list[tuple[int, str, str]],
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
    min_size: int = MIN_CLUSTER_SIZE,
    examples: int = EXAMPLES,
) -> list[Cluster]:
    """Clusters of one language's (id, masked text, reason) items, largest first."""
    texts = [mask(text) for _, text, _ in items]
    words = [_words(text) for text in texts]
    overall = Counter(w for text_words in words for w in text_words)
    clusters = []
    for members in cluster_texts(texts, distance_threshold):
        if len(members) < min_size:
            continue
        shown: list[str] = []
        for index in _typical_first(members, texts):
            if texts[index] not in shown:
                shown.append(texts[index])
            if len(shown) == examples:
                break
        clusters.append(Cluster(
            language=language,
            size=len(members),
            examples=shown,
            keywords=_keywords(members, words, overall),
            reasons=dict(Counter(items[i][2] for i in members).most_common()),
            item_ids=sorted(items[i][0] for i in members),
        ))
    return clusters


def discover_topics(
    database: Database,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    languages: list[str] | None = None,
    reasons: tuple[str, ...] = CLUSTER_REASONS,
    only_new: bool = False,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
    min_size: int = MIN_CLUSTER_SIZE,
    examples: int = EXAMPLES,
    max_items: int = MAX_ITEMS,
) -> dict[str, list[Cluster]]:
    """Clusters of the logged unresolved questions per language (created in [since, until)),
    largest first; `only_new` leaves out questions already labelled in the inbox."""
    query = select(UnresolvedQuestion.id, UnresolvedQuestion.language, UnresolvedQuestion.text,
                   UnresolvedQuestion.reason).where(UnresolvedQuestion.reason.in_(reasons),
                                                    UnresolvedQuestion.text.is_not(None))
    if since is not None:
        query = query.where(UnresolvedQuestion.created_at >= since)
    if until is not None:
        query = query.where(UnresolvedQuestion.created_at < until)
    if languages:
        query = query.where(UnresolvedQuestion.language.in_(languages))
    if only_new:
        query = query.where(UnresolvedQuestion.label_status == "new")
    query = query.order_by(UnresolvedQuestion.created_at.desc(), UnresolvedQuestion.id.desc())
    per_language: dict[str, list[tuple[int, str, str]]] = {}
    with database.session() as session:
        for item_id, language, text, reason in session.execute(query):
            bucket = per_language.setdefault(language or "unknown", [])
            if len(bucket) < max_items:
                bucket.append((item_id, text, reason))
    return {
        language: clusters
        for language, items in sorted(per_language.items())
        if (clusters := clusters_of(language, items, distance_threshold, min_size, examples))
    }
