"""nginx from Debian's packages (the Makefile's `browsers` target installs it) in front of
test gateways, configured with the production template deploy/nginx/templates/
default.conf.template rendered as nginx's official image renders it (only ${NAME}s given
in the environment are replaced; nginx's own $variables stay)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.paths import PROJECT_ROOT
from tests.helpers import free_port, stop_processes, wait_until_up

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "templates" / "default.conf.template"
TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed: `make browsers` (or apt-get install nginx-light)")
    return found


def render_template(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """The template with its ${NAME}s filled in; a name without a value is an error."""
    def value(match: re.Match) -> str:
        return values[match.group(1)]

    return TEMPLATE_VARIABLE.sub(value, template.read_text(encoding="utf-8"))


def template_variables(template: Path = TEMPLATE) -> set[str]:
    lines = [line for line in template.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    return set(TEMPLATE_VARIABLE.findall("\n".join(lines)))


@dataclass
class Proxy:
    url: str
    access_log: Path
    process: subprocess.Popen

    def upstream_for(self, client_address: str) -> str:
        """The gateway ("127.0.0.1:port") that serves a client with this address."""
        marker = f"/healthz?probe={time.monotonic_ns()}"
        request = urllib.request.Request(self.url + marker, headers={"X-Forwarded-For": client_address})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for line in self.access_log.read_text().splitlines():
                address, upstream, *_ = line.split(" ", 2)
                if marker in line and address == client_address:
                    return upstream.split(",")[-1].strip()
            time.sleep(0.05)
        raise AssertionError(f"no access log line for {marker}")

    def address_served_by(self, upstream: str) -> str:
        """A client address (a made-up loopback address, sent as X-Forwarded-For) that the
        sticky routing sends to `upstream`."""
        for n in range(1, 60):
            address = f"127.{n}.{n % 7}.1"
            if self.upstream_for(address) == upstream:
                return address
        raise AssertionError(f"no client address routed to {upstream}")


@contextmanager
def running_nginx(gateways: list[str], work: Path) -> Iterator[Proxy]:
    """nginx as a child process on a free port, routing to `gateways` ("127.0.0.1:port")."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = work / "site.conf"
    site.write_text(render_template({
        "GATEWAY_1": gateways[0], "GATEWAY_2": gateways[1],
        # No names to look up here (Debian's nginx 1.22 has no `resolve` either).
        "GATEWAY_RESOLVE": "", "PROXY_RESOLVER": "127.0.0.1",
        "PROXY_PORT": f"127.0.0.1:{port}",
        # The test clients' X-Forwarded-For is the "TLS terminator's".
        "REAL_IP_FROM": "127.0.0.1",
    }), encoding="utf-8")
    temp = {name: work / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    access_log = work / "access.log"
    conf = work / "nginx.conf"
    conf.write_text("\n".join([
        # Workers as root when the tests run as root (the temp folders are the test's own).
        "user root;" if os.geteuid() == 0 else "",
        "worker_processes 1;",
        f"error_log {work / 'error.log'} warn;",
        f"pid {work / 'nginx.pid'};",
        "events { worker_connections 512; }",
        "http {",
        "    log_format upstreams '$remote_addr $upstream_addr \"$request\" $status';",
        f"    access_log {access_log} upstreams;",
        *(f"    {name}_temp_path {path};" for name, path in temp.items()),
        f"    include {site};",
        "}",
    ]), encoding="utf-8")
    access_log.touch()
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-p", str(work), "-e", str(work / "error.log"), "-c", str(conf)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    with open(work / "nginx.out", "w") as out:
        process = subprocess.Popen([binary, "-p", str(work), "-e", str(work / "error.log"), "-c", str(conf),
                                    "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/proxy-healthz", process, timeout=30)
        yield Proxy(f"http://127.0.0.1:{port}", access_log, process)
    finally:
        stop_processes([process], timeout=15)
