"""Repository text made safe to show: control characters become visible escapes.

File names and file contents are hostile input. Before they reach a terminal (ANSI and OSC
sequences clear the screen, set the window title, write the clipboard), a model's prompt (a
newline in a file name forges a line of its own) or rendered Markdown, every character that
controls rather than prints is written as `\\uXXXX` (`\\n`, `\\r` for those two). The same escapes
are valid JSON, so the function also makes JSON text safe without changing what it decodes to.
"""
from __future__ import annotations

import re

# C0 controls but tab, DEL and C1 controls, line/paragraph separators, bidirectional overrides
# and isolates ("trojan source"), and lone surrogates (bytes that were not UTF-8).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\n{_CONTROLS}]")
_UNSAFE_KEEP_NEWLINES = re.compile(f"[{_CONTROLS}]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match) -> str:
    ch = m.group()
    return _NAMED.get(ch) or f"\\u{ord(ch):04x}"


def escape_controls(text: str, newlines: bool = False) -> str:
    """text with its control characters escaped; newlines=True keeps line breaks (multi-line text)."""
    return (_UNSAFE_KEEP_NEWLINES if newlines else _UNSAFE).sub(_escape, text)
