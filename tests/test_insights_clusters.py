"""Topic discovery (bot/insights/clusters.py) on a seeded set of unresolved questions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.insights.clusters import cluster_texts, discover_topics, normalise
from bot.insights.log import InsightsLog
from bot.store.db import Database

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=timezone.utc)

DOG = ["voiko koiran ottaa mukaan toimistoon", "saako koiran tuoda työkkärin toimistoon",
       "voiko koira tulla mukaan toimistolle", "koiran kanssa toimistoon?", "Voiko KOIRAN tuoda toimistoon"]
HOUSING = ["miten haen asumistukea", "asumistuen hakeminen miten", "mistä haen asumistuki",
           "asumistukea haluaisin hakea, soita 040 123 4567"]
PARKING = ["paljonko on parkkimaksu leppävaarassa", "pysäköinti maksu leppävaaran toimisto",
           "parkkimaksu leppävaara toimisto"]
NOISE_FI = ["kerro vitsi", "mikä on sää huomenna"]
SV = ["kan jag ta med min hund till kontoret", "får hunden följa med till kontoret", "hund på kontoret?",
      "var kan jag parkera bilen", "parkera bilen vid kontoret"]
ZH = ["我可以带狗去办公室吗", "办公室可以带狗吗", "狗可以进办公室吗", "今天天气怎么样"]
AR = ["هل يمكنني إحضار كلبي إلى المكتب", "هل يسمح بالكلاب في المكتب", "كلبي في المكتب"]


def seed(database: Database) -> InsightsLog:
    log = InsightsLog(database, "cluster-secret", fallback_threshold=0.2)
    n = 0
    for language, texts in [("fi", DOG + HOUSING + PARKING + NOISE_FI), ("sv", SV), ("zh", ZH), ("ar", AR)]:
        for text in texts:
            n += 1
            reason = "ambiguous" if n % 3 == 0 else "nlu_fallback"
            log.record(f"conversation-{n}", channel="webchat", reason=reason, language=language, text=text,
                       at=T0 + timedelta(minutes=n))
    # Not questions to cluster: a handoff request, and a question outside the period.
    log.record("conversation-x", channel="webchat", reason="handoff_request", trigger="button", language="fi",
               text="voiko koiran tuoda toimistoon", at=T0)
    log.record("conversation-y", channel="webchat", reason="nlu_fallback", language="fi",
               text="voiko koiran tuoda toimistoon", at=T0 - timedelta(days=30))
    return log


@pytest.fixture
def database(migrated_database: Database) -> Database:
    seed(migrated_database)
    return migrated_database


def test_cluster_texts_groups_paraphrases_and_keeps_every_index_once() -> None:
    texts = DOG + HOUSING + PARKING + NOISE_FI
    groups = cluster_texts(texts)
    assert sorted(i for g in groups for i in g) == list(range(len(texts)))
    as_texts = [{texts[i] for i in g} for g in groups]
    assert as_texts[:3] == [set(DOG), set(HOUSING), set(PARKING)]
    assert all(len(g) == 1 for g in as_texts[3:])


def test_cluster_texts_edge_cases() -> None:
    assert cluster_texts([]) == []
    assert cluster_texts(["yksi"]) == [[0]]
    # Nothing but masking tokens and punctuation: never grouped with anything.
    assert cluster_texts(["[phone]", "[phone]!", "soita [phone]", "soita [phone] heti"]) == [[2, 3], [0], [1]]
    assert normalise("Soita [phone] HETI, Työttömyys") == "soita heti, tyottomyys"


def test_texts_beyond_the_exact_limit_join_the_nearest_cluster() -> None:
    """Bounded memory: average linkage over the first `exact_limit` texts only (here two of
    each topic); every later text joins the nearest of their clusters, noise stays alone."""
    head = [DOG[0], DOG[1], HOUSING[0], HOUSING[1], PARKING[0], PARKING[1]]
    texts = head + DOG[2:] + HOUSING[2:] + PARKING[2:] + NOISE_FI
    groups = cluster_texts(texts, exact_limit=len(head))
    assert sorted(i for g in groups for i in g) == list(range(len(texts)))
    as_texts = [{texts[i] for i in g} for g in groups]
    assert as_texts[:3] == [set(DOG), set(HOUSING), set(PARKING)]
    assert all(len(g) == 1 for g in as_texts[3:])
    # A tail that matches nothing stays alone; a head of one text is a cluster of one.
    assert cluster_texts(["kerro vitsi", "mikä on sää huomenna"], exact_limit=1) == [[0], [1]]


def test_discover_topics_per_language(database: Database) -> None:
    clusters = discover_topics(database, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert sorted(clusters) == ["ar", "fi", "sv", "zh"]
    fi = clusters["fi"]
    assert [c.size for c in fi] == [5, 4, 3]
    dog, housing, parking = fi
    assert set(dog.examples) == set(DOG) and len(dog.examples) == 5
    assert "koiran" in dog.keywords
    assert "asumistukea haluaisin hakea, soita [phone]" in housing.examples
    assert all("040" not in e for e in housing.examples)
    assert set(parking.examples) == set(PARKING)
    assert sum(dog.reasons.values()) == 5 and set(dog.reasons) <= {"nlu_fallback", "ambiguous"}
    assert len(dog.item_ids) == 5
    assert [c.size for c in clusters["sv"]] == [3, 2]
    assert [c.size for c in clusters["zh"]] == [3]
    assert [c.size for c in clusters["ar"]] == [3]
    assert all(c.language == language for language, cs in clusters.items() for c in cs)


def test_examples_are_limited_and_filters_apply(database: Database) -> None:
    clusters = discover_topics(database, T0 - timedelta(days=1), T0 + timedelta(days=1), examples=2,
                               languages=["fi"], min_size=4)
    assert list(clusters) == ["fi"]
    assert [c.size for c in clusters["fi"]] == [5, 4]
    assert all(len(c.examples) == 2 for c in clusters["fi"])
    # Without a period the older question joins the dog cluster.
    assert discover_topics(database, languages=["fi"])["fi"][0].size == 6


def test_only_new_leaves_out_labelled_questions(database: Database) -> None:
    from bot.insights.inbox import Inbox

    window = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    dog = discover_topics(database, *window, languages=["fi"])["fi"][0]
    Inbox(database, intents={"appointment"}).label_many(dog.item_ids[:4], "new_topic", "analyst", "pets_at_office")
    sizes = [c.size for c in discover_topics(database, *window, languages=["fi"], only_new=True)["fi"]]
    assert sizes == [4, 3]
