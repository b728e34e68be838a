"""Citations in an answer (`path:start-end`), checked against the repository.

A citation that names a real file is kept, its end clamped to the file; one that starts past
the end of the file is dropped (a clamped line is not evidence); a path that is the unique
suffix of one file is mended to that file; anything else is dropped from the list.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from repo_rlm.index.discovery import inside

CITE_RE = re.compile(
    r"(?<![\w/.-])`?((?:[\w@+-][\w@+.-]*/)*[\w@+-][\w@+.-]*\.[A-Za-z0-9_]+)"
    r"(?::|#L|, lines? )(\d+)(?:\s*[-–]\s*L?(\d+))?")


def _line_count(path: Path) -> int:
    n, last = 0, b""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
                last = chunk
    except OSError:
        return 0
    return n + (0 if not last or last.endswith(b"\n") else 1)


MAX_CITATIONS = 500   # citations checked in one answer; later ones stay as plain text


def check_citations(answer: str, root: Path, files: Callable[[], list[str]] | None = None,
                    deadline: float | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Returns the answer with mended citations rewritten, and the valid citations in order.
    Each file's lines are counted once; at most MAX_CITATIONS are checked, none after `deadline`
    (time.monotonic()), so a hostile answer cannot stretch the run past its timeout."""
    root = Path(root)
    cache: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    resolved: dict[str, str | None] = {}
    checked = [0]

    def all_files() -> list[str]:
        if "f" not in cache:
            cache["f"] = list(files()) if files else [
                str(p.relative_to(root)).replace("\\", "/") for p in root.rglob("*") if p.is_file()]
        return cache["f"]

    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int, int]] = set()

    def resolve(raw: str) -> str | None:
        path = raw.lstrip("./")
        if inside(root, path) is None or not (root / path).is_file():
            matches = [f for f in all_files() if f == path or f.endswith("/" + path)]
            if len(matches) != 1 or inside(root, matches[0]) is None:
                return None
            path = matches[0]
        return path

    def fix(m: re.Match[str]) -> str:
        checked[0] += 1
        if checked[0] > MAX_CITATIONS or (deadline is not None and time.monotonic() > deadline):
            return m.group(0)
        raw = m.group(1)
        start = int(m.group(2)[:9])
        end = int(m.group(3)[:9]) if m.group(3) else start
        if raw not in resolved:
            resolved[raw] = resolve(raw)
        path = resolved[raw]
        if path is None:
            return m.group(0)
        if path not in counts:
            counts[path] = _line_count(root / path)
        n = counts[path]
        if n == 0:
            return m.group(0)
        start, end = min(start, end), max(start, end)
        if start > n:  # past the end of the file: nothing there to cite
            return m.group(0)
        start, end = max(1, start), max(1, min(end, n))
        key = (path, start, end)
        if key not in seen:
            seen.add(key)
            out.append({"path": path, "start_line": start, "end_line": end})
        text = f"{path}:{start}" + (f"-{end}" if end != start else "")
        return m.group(0)[:m.start(1) - m.start(0)] + text

    return CITE_RE.sub(fix, answer), out

