"""Container health check without curl: `python -m scripts.healthcheck URL`
exits 0 when URL answers 200 within three seconds, 1 otherwise."""

from __future__ import annotations

import sys
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except Exception as error:  # noqa: BLE001 - any failure is "unhealthy"
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
