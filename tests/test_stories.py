"""Rasa test stories (tests/stories/): every topic in every supported language,
language switching, two fallbacks and a request for a person."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT
from scripts.make_test_stories import STORIES_DIR, topics
from tests.helpers import Servers

pytestmark = pytest.mark.servers


def test_stories_cover_every_topic_in_every_supported_language() -> None:
    for language in load_catalog().supported:
        path = STORIES_DIR / f"test_topics_{language}.yml"
        stories = yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]
        assert {s["steps"][0]["intent"] for s in stories} == set(topics()), language


def test_rasa_test_stories_pass(servers: Servers, trained_model, tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "test",
            "core",
            "--stories",
            str(STORIES_DIR),
            "--model",
            str(trained_model),
            "--endpoints",
            str(servers.endpoints),
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:] + details[:4000]
