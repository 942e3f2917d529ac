"""Generate the topic responses of the domain (domain/responses/topics_*.yml) from content/.

    python -m scripts.build_content          # write the files that changed
    python -m scripts.build_content --check  # exit 1 if a generated file is out of date

docs/content.md describes the sources (answers, link map, review dates).
"""

from __future__ import annotations

import argparse
import sys

from bot.content.build import ContentError, stale_files, write_all
from bot.paths import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files()
            for path in stale:
                print(f"out of date: {path.relative_to(PROJECT_ROOT)} (run python -m scripts.build_content)")
            return 1 if stale else 0
        for path in write_all():
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    except ContentError as error:
        print(f"content error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
