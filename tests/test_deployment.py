"""The production stack, checked as files (Docker does not run here):
docker-compose.yml, .env.example, the Dockerfile and the production endpoints."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.paths import PROJECT_ROOT
from bot.settings import ENV, TELEGRAM_ENV

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
PRODUCTION_ENDPOINTS = PROJECT_ROOT / "config" / "endpoints.production.yml"
# ${VAR}, ${VAR:-default}, ${VAR:?error}; not the escaped $${VAR}.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def rasa_services(services: dict) -> list[str]:
    return [name for name in services if name.startswith("rasa")]


def variables_in(path) -> set[str]:  # noqa: ANN001
    """The ${VAR}s of a YAML file, comments left out."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    return set(VARIABLE.findall("\n".join(lines)))


def example_variables() -> dict[str, str]:
    """VAR=value lines of .env.example (not the commented ones)."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_every_service_is_there(services: dict) -> None:
    assert {"gateway", "actions", "postgres", "redis"} <= set(services)
    assert len(rasa_services(services)) >= 2, "several Rasa instances"


def test_only_the_gateway_publishes_a_port(services: dict) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"gateway"}
    assert all(str(port).endswith(":8000") for port in services["gateway"]["ports"])


def test_internal_services_are_only_on_an_internal_network(compose: dict, services: dict) -> None:
    networks = compose.get("networks") or {}
    internal = {name for name, network in networks.items() if (network or {}).get("internal") is True}
    assert internal, "no network with internal: true"
    for name in ["actions", "postgres", "redis", *rasa_services(services)]:
        joined = set(services[name].get("networks") or ["default"])
        assert joined and joined <= internal, f"{name} is on {sorted(joined - internal)}, reachable from outside"
        assert not services[name].get("ports"), name
    gateway = set(services["gateway"]["networks"])
    assert gateway & internal, "the gateway must reach the internal services"
    assert gateway - internal, "the gateway's published port needs a network that is not internal"


def test_rasa_requires_the_token_and_the_gateway_sends_the_same(services: dict) -> None:
    required = "${RASA_TOKEN:?"
    for name in rasa_services(services):
        assert str(services[name]["environment"]["RASA_TOKEN"]).startswith(required), name
        assert services[name]["command"][-1] == "rasa" and "scripts.serve" in services[name]["command"]
    assert str(services["gateway"]["environment"]["RASA_TOKEN"]).startswith(required)
    assert "scripts.serve" in services["actions"]["command"] and services["actions"]["command"][-1] == "actions"
    # The credentials ask for the token on the REST webhook too.
    credentials = yaml.safe_load((PROJECT_ROOT / "config" / "credentials.yml").read_text(encoding="utf-8"))
    assert list(credentials) == ["bot.rasa_channel.TokenRestInput"]


def test_the_gateway_purges_the_tracker_store_the_rasa_services_use(services: dict) -> None:
    url = services["gateway"]["environment"]["TRACKER_STORE_URL"]
    for name in rasa_services(services):
        database = services[name]["environment"]["DB_NAME"]
        assert url.startswith("postgresql://") and url.endswith(f"@postgres:5432/{database}"), (url, database)


def test_make_run_starts_the_internal_services_through_serve() -> None:
    """scripts/serve.py binds them to 127.0.0.1 and gives Rasa its token
    (tests/security/test_internal_surfaces.py checks the running processes)."""
    lines = dict(line.split(":", 1) for line in (PROJECT_ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines["rasa"].split()[-3:] == ["-m", "scripts.serve", "rasa"]
    assert lines["actions"].split()[-3:] == ["-m", "scripts.serve", "actions"]
    assert "0.0.0.0" not in (PROJECT_ROOT / "Procfile").read_text()


def test_every_service_keeps_bounded_logs(services: dict) -> None:
    """Docker's default json-file logs grow until the container is removed."""
    for name, service in services.items():
        options = (service.get("logging") or {}).get("options") or {}
        assert options.get("max-size") and options.get("max-file"), f"{name} keeps its logs without a bound"


def test_every_service_has_a_health_check(services: dict) -> None:
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict, services: dict) -> None:
    volumes = [str(v).split(":") for v in services["postgres"]["volumes"]]
    data = [source for source, target, *_ in volumes if target == "/var/lib/postgresql/data"]
    assert data and data[0] in (compose.get("volumes") or {})


def test_the_project_services_use_the_project_image(services: dict) -> None:
    for name in ["gateway", "actions", *rasa_services(services)]:
        assert services[name].get("build") == ".", name


def test_every_compose_variable_is_in_env_example(compose: dict) -> None:
    used = variables_in(COMPOSE)
    missing = used - set(example_variables())
    assert not missing, f"in docker-compose.yml but not in .env.example: {sorted(missing)}"


def test_env_example_names_every_variable_the_code_reads() -> None:
    """Set or, for those compose derives itself, mentioned in a comment."""
    read = {*ENV.values(), *TELEGRAM_ENV.values(), *variables_in(PRODUCTION_ENDPOINTS)}
    sources = [*(PROJECT_ROOT / "bot").rglob("*.py"), *(PROJECT_ROOT / "actions").rglob("*.py"),
               PROJECT_ROOT / "scripts" / "serve.py"]
    for source in sources:
        read |= set(re.findall(r"os\.(?:environ\.get\(|environ\[|getenv\()\s*[\"']([A-Z][A-Z0-9_]*)[\"']",
                                source.read_text()))
    named = set(re.findall(r"\b([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8")))
    assert not read - named, f"read by the code but not in .env.example: {sorted(read - named)}"


def test_no_secret_in_versioned_files(services: dict) -> None:
    example = example_variables()
    for secret in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "TELEGRAM_TOKEN", "TELEGRAM_WEBHOOK_SECRET",
                   "PSEUDONYM_SECRET", "RASA_TOKEN", "OPS_TOKEN"):
        assert example[secret] == "", f"{secret} must be empty in .env.example"
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key) and value:
                assert "${" in str(value), f"{name}: {key} is written in docker-compose.yml"
    assert ".env" in (PROJECT_ROOT / ".gitignore").read_text().split()


def test_the_gateway_gets_every_setting_the_code_reads(services: dict) -> None:
    environment = services["gateway"]["environment"]
    for variable in [*ENV.values(), *TELEGRAM_ENV.values()]:
        assert variable in environment, f"{variable} (bot/settings.py) not set for the gateway"
    assert environment["DATABASE_URL"].startswith("postgresql://")
    urls = environment["RASA_URLS"].split(",")
    assert {url.split("//")[1].split(":")[0] for url in urls} == set(rasa_services(services))


def test_rasa_gets_every_variable_of_the_production_endpoints(services: dict) -> None:
    needed = variables_in(PRODUCTION_ENDPOINTS)
    assert {"DB_HOST", "DB_PASSWORD", "REDIS_HOST"} <= needed
    for name in rasa_services(services):
        environment = services[name]["environment"]
        assert needed <= set(environment), f"{name} lacks {sorted(needed - set(environment))}"
        assert environment["RASA_ENDPOINTS"] == "config/endpoints.production.yml"


def test_production_endpoints_use_postgres_and_redis() -> None:
    endpoints = yaml.safe_load(PRODUCTION_ENDPOINTS.read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == "SQL"
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    # Rasa's Redis lock store with atomic lock changes (bot/rasa_lock_store.py).
    assert endpoints["lock_store"]["type"] == "bot.rasa_lock_store.AtomicRedisLockStore"


def test_dockerfile_is_multi_stage_and_does_not_run_as_root() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) >= 2
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users, "no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    # The model is trained at build time, into the image.
    assert any("scripts.train" in line for line in lines)
    assert (PROJECT_ROOT / ".dockerignore").read_text().split().count(".venv") == 1
