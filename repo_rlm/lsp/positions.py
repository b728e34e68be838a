"""Conversions between repo_rlm positions and LSP positions.

repo_rlm: lines and columns are 1-based, columns count code points of the line.
LSP: lines and characters are 0-based, characters count code units of the negotiated
position encoding (UTF-16 unless the client offered something else).
Lines are split on "\\n" only (a trailing "\\r" is dropped), as LSP and the index do.
"""
from __future__ import annotations

from repo_rlm.index.names import IDENT_RUN, is_ident_char

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def _units(ch: str, encoding: str) -> int:
    o = ord(ch)
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4
    return 2 if o > 0xFFFF else 1


def units_to_column(line: str, units: int, encoding: str = UTF16) -> int:
    """LSP character offset (0-based, in code units) -> 1-based code-point column.

    An offset inside a surrogate pair / multibyte sequence maps to the character holding it;
    an offset past the end of the line maps to just after its last character."""
    if encoding == UTF32 or line.isascii():
        return min(max(units, 0), len(line)) + 1
    seen = 0
    for i, ch in enumerate(line):
        width = _units(ch, encoding)
        if units < seen + width:
            return i + 1
        seen += width
    return len(line) + 1


def column_to_units(line: str, column: int, encoding: str = UTF16) -> int:
    """1-based code-point column -> LSP character offset (0-based, in code units)."""
    idx = min(max(column - 1, 0), len(line))
    if encoding == UTF32 or line.isascii():
        return idx
    return sum(_units(ch, encoding) for ch in line[:idx])


def line_length(line: str, encoding: str = UTF16) -> int:
    return column_to_units(line, len(line) + 1, encoding)


def word_end(line: str, column: int) -> int:
    """1-based column just after the identifier that starts at `column` (== column if none)."""
    m = IDENT_RUN.match(line, max(column - 1, 0))
    return m.end() + 1 if m else column


def word_start(line: str, column: int) -> int:
    """1-based column where the identifier holding `column` (or ending just before it) starts."""
    i = min(max(column - 1, 0), len(line))
    while i > 0 and is_ident_char(line[i - 1]):
        i -= 1
    return i + 1


def split_lines(text: str) -> list[str]:
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
