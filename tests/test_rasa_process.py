"""The Rasa server process as `make run` starts it (scripts/serve.py): what it loads."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Servers


def mapped_files(pid: int) -> set[str]:
    """The files a running process has mapped (its shared libraries among them)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {parts[-1] for line in lines if len(parts := line.split()) >= 6 and parts[-1].startswith("/")}


def test_rasa_leaves_out_jax_that_tensorflow_would_import(servers: Servers) -> None:
    """JAX (a requirement of TensorFlow 2.12, imported for TensorFlow Lite) is 65 MB resident
    that Rasa never uses; scripts/serve.skip_optional_imports keeps it out."""
    libraries = mapped_files(servers.pids[0])
    assert any("tensorflow" in path for path in libraries), "the check cannot see Rasa's libraries"
    assert not [path for path in libraries if "/jaxlib/" in path or "/jax/" in path]
