"""The vendored axe-core (tests/axe.py) is the file the npm registry publishes."""

from __future__ import annotations

import hashlib

from tests.axe import AXE_DIR, AXE_SHA256, AXE_VERSION


def test_vendored_axe_core_is_the_published_one() -> None:
    source = (AXE_DIR / "axe.min.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    assert source.startswith(f"/*! axe v{AXE_VERSION}".encode())
    assert "Mozilla Public License, version 2.0" in (AXE_DIR / "LICENSE").read_text(encoding="utf-8")
    assert (AXE_DIR / "LICENSE-3RD-PARTY.txt").stat().st_size > 0
