"""Start the Rasa server on the model trained from the current inputs."""

from __future__ import annotations

import os
import sys

from scripts.model import model_path


def rasa_command(port: int | None = None, model: str | None = None) -> list[str]:
    port = port or int(os.environ.get("RASA_PORT", "5005"))
    return [
        sys.executable,
        "-m",
        "rasa",
        "run",
        "--model",
        model or str(model_path()),
        "--enable-api",
        "--interface",
        os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        "--port",
        str(port),
        "--endpoints",
        os.environ.get("RASA_ENDPOINTS", "config/endpoints.yml"),
        "--credentials",
        "config/credentials.yml",
    ]


def actions_command(port: int | None = None) -> list[str]:
    port = port or int(os.environ.get("ACTIONS_PORT", "5055"))
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def main() -> None:
    command = rasa_command()
    if not os.path.exists(command[command.index("--model") + 1]):
        sys.exit("no model for the current inputs: run `make train` first")
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
