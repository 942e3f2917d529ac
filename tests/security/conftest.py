"""Gateways for the security tests: real `python -m bot serve` processes. Sign-in needs no
Rasa, so these gateways point RASA_URL at a closed port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import Gateway, running_gateway

NO_RASA = "http://127.0.0.1:9"
# Small limits, so that the attacks reach them quickly.
MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 8
LIMITS = {"SIGN_IN_MAX_FAILURES": str(MAX_FAILURES),
          "SIGN_IN_MAX_FAILURES_PER_ADDRESS": str(MAX_FAILURES_PER_ADDRESS)}


@pytest.fixture(scope="session")
def signin_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway behind the default trusted proxy (FORWARDED_ALLOW_IPS=127.0.0.1, the
    tests' own address): X-Forwarded-For names the client. Each test uses its own user
    names and addresses."""
    with running_gateway(NO_RASA, tmp_path_factory.mktemp("signin"), LIMITS) as gateway:
        yield gateway
