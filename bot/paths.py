"""Where the project's files are, wherever the code is started from."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("ASSISTANT_CONFIG_DIR", PROJECT_ROOT / "config"))
