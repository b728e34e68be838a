"""What real models send back, made usable: unclosed fences, repetition loops, cut replies.

Small local models open a code fence and never close it, repeat a line until `max_tokens`, or
are cut mid-line. The engine keeps the cleaned reply in the conversation (repetition would
otherwise fill the context window) and runs the code that is there.
"""
from __future__ import annotations

import re

FENCE_RE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?$", re.M)
MIN_REPEATS = 3  # a unit seen this many times in a row is a loop, not content


def fences(text: str) -> list[tuple[str, str, bool]]:
    """Every fenced block as (tag, body, closed). A fence that is never closed runs to the end."""
    out: list[tuple[str, str, bool]] = []
    pos, n = 0, len(text)
    while pos < n:
        m = FENCE_RE.search(text, pos)
        if not m:
            break
        tag, start = m.group(1).lower(), m.end() + 1
        close = FENCE_RE.search(text, start) if start <= n else None
        while close is not None and close.group(1):  # a tagged fence cannot close a block
            close = FENCE_RE.search(text, close.end() + 1) if close.end() + 1 <= n else None
        out.append((tag, text[start:close.start()] if close else text[start:], close is not None))
        pos = close.end() + 1 if close else n
    return out


def code_blocks(text: str, tags: tuple[str, ...], cut: bool = False) -> list[str]:
    """The bodies of fenced blocks whose tag is in `tags`, in order. When the reply was `cut` at
    max_tokens inside a block, that block's unfinished last line is dropped (it is almost always
    a syntax error)."""
    blocks = []
    for tag, body, closed in fences(text):
        if not closed and cut:
            body = body.rsplit("\n", 1)[0] if "\n" in body.rstrip("\n") else ""
        if tag in tags and body.strip():
            blocks.append(body)
    return blocks


def unclosed_fence(text: str) -> bool:
    return any(not closed for _, _, closed in fences(text))


def collapse_repeats(text: str, max_unit_lines: int = 8, max_unit_chars: int = 200) -> str:
    """The text with each run of MIN_REPEATS or more identical consecutive units (a group of up to
    `max_unit_lines` lines, or a phrase of up to `max_unit_chars` characters at the end) kept
    once, followed by a note of how many copies were elided."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        best = None
        for size in range(1, max_unit_lines + 1):
            unit = lines[i:i + size]
            if len(unit) < size or not any(x.strip() for x in unit):
                break
            k = 1
            while lines[i + k * size:i + (k + 1) * size] == unit:
                k += 1
            if k >= MIN_REPEATS and (best is None or k * size > best[0] * best[1]):
                best = (k, size)
        if best:
            k, size = best
            out += lines[i:i + size] + [f"[... the {'line' if size == 1 else f'{size} lines'} above repeated "
                                        f"{k - 1} more times, elided]"]
            i += k * size
        else:
            out.append(lines[i])
            i += 1
    return _collapse_tail("\n".join(out), max_unit_chars)


def _collapse_tail(text: str, max_unit: int) -> str:
    """A phrase repeated within one line until the reply was cut ("the the the ...")."""
    tail = text[-4 * max_unit * MIN_REPEATS:]
    for size in range(2, max_unit + 1):
        unit = tail[-size:]
        k = 1
        while tail.endswith(unit * (k + 1)):
            k += 1
        if k >= max(MIN_REPEATS, 24 // size) and unit.strip():
            # walk back over a partial copy too
            cut = len(text) - k * size
            return text[:cut + size] + f" [... repeated {k - 1} more times, elided]"
    return text
