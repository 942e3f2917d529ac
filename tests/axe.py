"""axe-core in the browser tests: every violation of its rules (WCAG 2 A and AA, and
best practices) on a page fails the test.

axe-core is vendored from the npm registry (`npm pack axe-core@4.14.1`): the package's
axe.min.js, byte for byte, with its licences (MPL-2.0; LICENSE-3RD-PARTY.txt), under
tests/vendor/axe-core/; tests/test_axe_core.py checks the file's SHA-256. It is
evaluated through Playwright (the DevTools protocol), so a page's Content-Security-Policy
(the console allows scripts from its own origin only) does not stop it, and the page
itself is left as it is.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_DIR = Path(__file__).parent / "vendor" / "axe-core"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # npm axe-core@4.14.1 axe.min.js

RUN = """async (include) => {
  const results = await window.axe.run(include || document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    return (AXE_DIR / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page, include: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (only inside `include`, a CSS selector, if given)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(RUN, include)


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {(node['summary'] or '').splitlines()[-1].strip()}")
    return "\n".join(lines)


def assert_no_violations(page: Page, where: str, include: str | None = None) -> None:
    violations = axe_violations(page, include)
    assert not violations, f"axe-core {AXE_VERSION} on {where}:\n{describe(violations)}"
