"""Start the internal services: the Rasa server and the action server (Procfile,
docker-compose.yml, the tests' real servers), listening on 127.0.0.1 unless told otherwise.

    python -m scripts.serve rasa      # RASA_PORT (5005), RASA_INTERFACE, RASA_ENDPOINTS, the current model
    python -m scripts.serve actions   # ACTIONS_PORT (5055), ACTIONS_INTERFACE

Options (--port, --interface, --model, --endpoints) win over the variables. Rasa's HTTP
API needs the token RASA_TOKEN (else the project's .rasa_token, bot/rasa_token.py);
both servers run inside this process, so the token never shows in the process list.
Only a container on an internal network (docker-compose.yml) listens on 0.0.0.0.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.rasa_token import resolve_rasa_token
from scripts.model import model_path

LOOPBACK = "127.0.0.1"
CREDENTIALS = "config/credentials.yml"
# glibc's malloc arenas in Rasa's server (docs/performance.md, "Memory").
MALLOC_ARENAS = 2


def rasa_command(port: int | None = None, model: str | None = None) -> list[str]:
    """The command that starts Rasa as `make run` does (callers may replace --endpoints)."""
    return [
        sys.executable, "-m", "scripts.serve", "rasa",
        "--model", model or str(model_path()),
        "--port", str(port or int(os.environ.get("RASA_PORT", "5005"))),
        "--endpoints", os.environ.get("RASA_ENDPOINTS", "config/endpoints.yml"),
    ]


def actions_command(port: int | None = None) -> list[str]:
    """The command that starts the action server as `make run` does."""
    return [sys.executable, "-m", "scripts.serve", "actions",
            "--port", str(port or int(os.environ.get("ACTIONS_PORT", "5055")))]


def rasa_arguments(options: argparse.Namespace, token: str) -> list[str]:
    """`rasa run ...`: the API on, behind the token, on one interface."""
    return [
        "run",
        "--model", options.model or str(model_path()),
        "--enable-api",
        "--auth-token", token,
        "--interface", options.interface or os.environ.get("RASA_INTERFACE") or LOOPBACK,
        "--port", str(options.port or int(os.environ.get("RASA_PORT", "5005"))),
        "--endpoints", options.endpoints or os.environ.get("RASA_ENDPOINTS", "config/endpoints.yml"),
        "--credentials", CREDENTIALS,
    ]


def skip_optional_imports() -> None:
    """Keep out what Rasa's server never uses but its imports would load.

    TensorFlow 2.12 (which Rasa 3.6 imports whatever the pipeline) requires JAX and imports
    it for TensorFlow Lite's converter if it is installed; its `try: from jax import ...
    except ImportError` takes the missing module. 65 MB of resident memory
    (docs/performance.md, "Memory").
    """
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]


def serve_rasa(options: argparse.Namespace) -> None:
    arguments = rasa_arguments(options, resolve_rasa_token())
    model = arguments[arguments.index("--model") + 1]
    if not os.path.exists(model):
        sys.exit("no model for the current inputs: run `make train` first")
    skip_optional_imports()
    from bot.rasa_speedups import install as install_rasa_speedups
    from bot.rasa_speedups import limit_malloc_arenas

    limit_malloc_arenas(MALLOC_ARENAS)  # before TensorFlow starts its threads
    from rasa.__main__ import main as rasa_main

    install_rasa_speedups()

    sys.argv = ["rasa", *arguments]
    rasa_main()


def serve_actions(options: argparse.Namespace) -> None:
    # rasa_sdk 3.6 has no --interface option: its server binds to SANIC_HOST (default 0.0.0.0).
    os.environ.update(SANIC_HOST=options.interface or os.environ.get("ACTIONS_INTERFACE") or LOOPBACK)
    port = options.port or int(os.environ.get("ACTIONS_PORT", "5055"))
    from rasa_sdk.__main__ import main as actions_main

    sys.argv = ["rasa_sdk", "--actions", "actions", "--port", str(port)]
    actions_main()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.serve", description=__doc__.splitlines()[0])
    parser.add_argument("service", nargs="?", choices=("rasa", "actions"), default="rasa")
    parser.add_argument("--port", type=int)
    parser.add_argument("--interface", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--model", help="Rasa only: the model (default: the one of the current inputs)")
    parser.add_argument("--endpoints", help="Rasa only: the endpoints file (default config/endpoints.yml)")
    options = parser.parse_args(argv)
    (serve_rasa if options.service == "rasa" else serve_actions)(options)


if __name__ == "__main__":
    main()
