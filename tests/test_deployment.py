"""The production stack, checked as files (Docker does not run here):
docker-compose.yml, .env.example, the Dockerfile, the production endpoints and the
proxy's template (deploy/nginx/; tests/test_scaleout.py runs it in Debian's nginx)."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess

import pytest
import yaml

from bot.paths import PROJECT_ROOT
from bot.settings import ENV, TELEGRAM_ENV
from tests.nginx_proxy import TEMPLATE, nginx_binary, render_template, template_variables

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
NGINX_MAIN = PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf"
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


def gateway_services(services: dict) -> list[str]:
    return [name for name, service in services.items() if service.get("command") == ["python", "-m", "bot", "serve"]]


def one_shot_services(services: dict) -> set[str]:
    """Services that run to completion before others start (the migration)."""
    return {name for service in services.values() for name, condition in (service.get("depends_on") or {}).items()
            if isinstance(condition, dict) and condition.get("condition") == "service_completed_successfully"}


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
    assert {"proxy", "migrate", "actions", "postgres", "redis"} <= set(services)
    assert len(rasa_services(services)) >= 2, "several Rasa instances"
    assert len(gateway_services(services)) >= 2, "several gateways"


def test_only_the_proxy_publishes_a_port(services: dict) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    port = services["proxy"]["environment"]["PROXY_PORT"]
    assert all(str(published).endswith(f":{port}") for published in services["proxy"]["ports"])


def test_internal_services_are_only_on_an_internal_network(compose: dict, services: dict) -> None:
    networks = compose.get("networks") or {}
    internal = {name for name, network in networks.items() if (network or {}).get("internal") is True}
    assert internal, "no network with internal: true"
    for name in ["actions", "postgres", "redis", "migrate", *rasa_services(services)]:
        joined = set(services[name].get("networks") or ["default"])
        assert joined and joined <= internal, f"{name} is on {sorted(joined - internal)}, reachable from outside"
        assert not services[name].get("ports"), name
    proxy = set(services["proxy"]["networks"])
    assert proxy and not proxy & internal, "the proxy reaches only the gateways"
    for name in gateway_services(services):
        gateway = set(services[name]["networks"])
        assert gateway & internal, f"{name} must reach the internal services"
        assert gateway & proxy, f"the proxy must reach {name}"
        assert not services[name].get("ports"), f"{name}: only the proxy is published"


def test_rasa_requires_the_token_and_the_gateway_sends_the_same(services: dict) -> None:
    required = "${RASA_TOKEN:?"
    for name in rasa_services(services):
        assert str(services[name]["environment"]["RASA_TOKEN"]).startswith(required), name
        assert services[name]["command"][-1] == "rasa" and "scripts.serve" in services[name]["command"]
    for name in gateway_services(services):
        assert str(services[name]["environment"]["RASA_TOKEN"]).startswith(required), name
    assert "scripts.serve" in services["actions"]["command"] and services["actions"]["command"][-1] == "actions"
    # The credentials ask for the token on the REST webhook and the gateway's turn webhook too.
    credentials = yaml.safe_load((PROJECT_ROOT / "config" / "credentials.yml").read_text(encoding="utf-8"))
    assert list(credentials) == ["bot.rasa_channel.TokenRestInput", "bot.rasa_channel.TurnInput"]


def test_the_gateway_purges_the_tracker_store_the_rasa_services_use(services: dict) -> None:
    for gateway in gateway_services(services):
        url = services[gateway]["environment"]["TRACKER_STORE_URL"]
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
    """Except the one-shot migration, which others wait for to finish instead."""
    for name, service in services.items():
        if name in one_shot_services(services):
            assert service.get("restart") == "no", f"{name} runs once: it must not be restarted"
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict, services: dict) -> None:
    volumes = [str(v).split(":") for v in services["postgres"]["volumes"]]
    data = [source for source, target, *_ in volumes if target == "/var/lib/postgresql/data"]
    assert data and data[0] in (compose.get("volumes") or {})


def test_the_project_services_use_the_project_image(services: dict) -> None:
    for name in ["migrate", "actions", *gateway_services(services), *rasa_services(services)]:
        assert services[name].get("build") == ".", name


def test_every_compose_variable_is_in_env_example(compose: dict) -> None:
    used = variables_in(COMPOSE)
    missing = used - set(example_variables())
    assert not missing, f"in docker-compose.yml but not in .env.example: {sorted(missing)}"


def compose_command() -> list[str] | None:
    """Docker's compose plugin, or Debian's docker-compose (`make test` installs it)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                  capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_docker_compose_config_validates() -> None:
    """`docker compose config` with .env.example and the secrets it leaves empty filled in."""
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed (make test installs docker-compose)")
    secrets = {name: "test-secret" for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "RASA_TOKEN",
                                                 "PSEUDONYM_SECRET")}
    result = subprocess.run([*command, "--env-file", str(ENV_EXAMPLE), "config", "-q"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, env={**os.environ, **secrets}, timeout=60)
    assert result.returncode == 0, result.stderr
    # Without the secrets compose refuses to start: they have no default.
    unset = {k: v for k, v in os.environ.items() if k not in secrets}
    refused = subprocess.run([*command, "--env-file", str(ENV_EXAMPLE), "config", "-q"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, env=unset, timeout=60)
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr + refused.stdout


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
    for name in gateway_services(services):
        environment = services[name]["environment"]
        for variable in [*ENV.values(), *TELEGRAM_ENV.values()]:
            assert variable in environment, f"{variable} (bot/settings.py) not set for {name}"
        assert environment["DATABASE_URL"].startswith("postgresql://")
        urls = environment["RASA_URLS"].split(",")
        assert {url.split("//")[1].split(":")[0] for url in urls} == set(rasa_services(services))


def test_the_gateways_share_one_database_and_redis_and_the_migration_runs_first(services: dict) -> None:
    gateways = [services[name] for name in gateway_services(services)]
    assert all(g["environment"] == gateways[0]["environment"] for g in gateways), "the gateways differ"
    environment = gateways[0]["environment"]
    assert environment["REDIS_URL"].startswith("redis://"), "several gateways share socket.io, limits and leases"
    assert str(environment["MIGRATE_ON_START"]).lower() == "false"
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "bot", "migrate"]
    assert migrate["environment"]["DATABASE_URL"] == environment["DATABASE_URL"]
    assert "migrate" in one_shot_services(services)
    for gateway in gateways:
        assert gateway["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_proxy_is_official_nginx_routing_sticky_to_every_gateway(compose: dict, services: dict) -> None:
    proxy = services["proxy"]
    assert re.fullmatch(r"nginx:1\.(2[89]|[3-9][0-9])[-.\w]*", proxy["image"]), "the official image, 1.28 or later"
    mounts = [str(v).split(":") for v in proxy["volumes"]]
    assert ["./deploy/nginx/templates", "/etc/nginx/templates", "ro"] in mounts
    assert ["./deploy/nginx/nginx.conf", "/etc/nginx/nginx.conf", "ro"] in mounts
    environment = proxy["environment"]
    assert template_variables() <= set(environment), sorted(template_variables() - set(environment))
    upstreams = {value.split(":")[0] for key, value in environment.items() if re.fullmatch(r"GATEWAY_\d+", key)}
    assert upstreams == set(gateway_services(services)), "every gateway behind the proxy, and only they"
    assert all(f"${{GATEWAY_{n}}}" in TEMPLATE.read_text() for n in range(1, len(upstreams) + 1))
    template = TEMPLATE.read_text()
    # Sticky routing for socket.io's long polling, the client's own address, WebSocket upgrade.
    assert re.search(r"upstream assistant_gateways \{[^}]*\bip_hash;", template)
    assert "real_ip_header X-Forwarded-For;" in template and "set_real_ip_from ${REAL_IP_FROM};" in template
    assert "proxy_set_header Upgrade $http_upgrade;" in template
    assert "proxy_set_header Connection $connection_upgrade;" in template
    # The gateways trust X-Forwarded-For from the proxy's fixed address and from nobody else.
    address = proxy["networks"]["edge"]["ipv4_address"]
    for name in gateway_services(services):
        assert services[name]["environment"]["FORWARDED_ALLOW_IPS"] == address
    ipam = compose["networks"]["edge"]["ipam"]["config"][0]
    assert ipam["subnet"] == "${EDGE_SUBNET:-172.31.240.0/24}" and address == "${PROXY_ADDRESS:-172.31.240.10}"
    # Other containers get addresses from a range that leaves the proxy's free.
    dynamic = ipaddress.ip_network(ipam["ip_range"].split(":-")[1].rstrip("}"))
    fixed = ipaddress.ip_address(address.split(":-")[1].rstrip("}"))
    assert dynamic.subnet_of(ipaddress.ip_network(ipam["subnet"].split(":-")[1].rstrip("}"))) and fixed not in dynamic


def test_rasa_gets_every_variable_of_the_production_endpoints(services: dict) -> None:
    needed = variables_in(PRODUCTION_ENDPOINTS)
    assert {"DB_HOST", "DB_PASSWORD", "REDIS_HOST"} <= needed
    for name in rasa_services(services):
        environment = services[name]["environment"]
        assert needed <= set(environment), f"{name} lacks {sorted(needed - set(environment))}"
        assert environment["RASA_ENDPOINTS"] == "config/endpoints.production.yml"


def test_production_endpoints_use_postgres_and_redis() -> None:
    endpoints = yaml.safe_load(PRODUCTION_ENDPOINTS.read_text(encoding="utf-8"))
    # Rasa's SQL tracker store, loading a window of each conversation per turn (bot/rasa_tracker_store.py).
    assert endpoints["tracker_store"]["type"] == "bot.rasa_tracker_store.WindowedSQLTrackerStore"
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


def test_the_proxys_configuration_is_valid_for_nginx(tmp_path) -> None:  # noqa: ANN001
    """deploy/nginx/nginx.conf with the site rendered from the template, checked by Debian's
    nginx (`nginx -t`); only the official image's paths and user are swapped for this machine's,
    and the gateways' names for addresses (nginx -t looks names up; 1.22 has no `resolve`)."""
    main = NGINX_MAIN.read_text(encoding="utf-8")
    assert "include /etc/nginx/conf.d/*.conf;" in main
    connections = int(re.search(r"worker_connections\s+(\d+);", main).group(1))
    assert connections >= 8192, "two connections per long-polling user"
    site = tmp_path / "site.conf"
    site.write_text(render_template({"GATEWAY_1": "127.0.0.1:1", "GATEWAY_2": "127.0.0.1:2", "GATEWAY_RESOLVE": "",
                                     "PROXY_RESOLVER": "127.0.0.11", "PROXY_PORT": "8080",
                                     "REAL_IP_FROM": "172.31.240.1"}))
    main = (main.replace("user  nginx;", "user  root;" if os.geteuid() == 0 else "")
            .replace("/var/log/nginx/", f"{tmp_path}/").replace("/run/nginx.pid", f"{tmp_path}/nginx.pid")
            .replace("include /etc/nginx/conf.d/*.conf;", f"include {site};"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main)
    check = subprocess.run([nginx_binary(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                            "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
