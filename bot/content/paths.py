"""Where the content sources, the service catalogue and the generated responses are."""

from __future__ import annotations

import os
from pathlib import Path

from bot.paths import CONFIG_DIR, PROJECT_ROOT

CONTENT_DIR = Path(os.environ.get("ASSISTANT_CONTENT_DIR", PROJECT_ROOT / "content"))
ANSWERS_DIR = CONTENT_DIR / "answers"
LINKS_FILE = CONTENT_DIR / "links.yml"
REVIEWED_FILE = CONTENT_DIR / "reviewed.yml"
LANGUAGES_FILE = CONTENT_DIR / "languages.yml"
RESPONSES_DIR = PROJECT_ROOT / "domain" / "responses"
CONTENT_CONFIG = CONFIG_DIR / "content.yml"
# The shared service catalogue lives beside the project (../shared/spec/topics.yml).
SPEC_DIR = Path(os.environ.get("ASSISTANT_SPEC_DIR", PROJECT_ROOT.parent / "shared" / "spec"))
# A copy of the catalogue kept with the content (written by `make content`), for where the shared
# catalogue is not at hand (the production image): the console's content check reads it there.
CATALOGUE_SNAPSHOT = CONTENT_DIR / "catalogue.yml"


def catalogue_file() -> Path:
    """The shared catalogue where it exists, else the project's copy of it."""
    shared = SPEC_DIR / "topics.yml"
    return shared if shared.exists() else CATALOGUE_SNAPSHOT
