"""Citations in an answer (`path:start-end`), checked against the repository.

A citation that names a real file is kept, its end clamped to the file; one that starts past
the end of the file is dropped (a clamped line is not evidence); a path that is the unique
suffix of one file is mended to that file; anything else is dropped from the list.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

CITE_RE = re.compile(
    r"(?<![\w/.-])`?((?:[\w@+-][\w@+.-]*/)*[\w@+-][\w@+.-]*\.[A-Za-z0-9_]+)"
    r"(?::|#L|, lines? )(\d+)(?:\s*[-–]\s*L?(\d+))?")


def _line_count(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def check_citations(answer: str, root: Path, files: Callable[[], list[str]] | None = None
                    ) -> tuple[str, list[dict[str, Any]]]:
    """Returns the answer with mended citations rewritten, and the valid citations in order."""
    root = Path(root)
    cache: dict[str, list[str]] = {}

    def all_files() -> list[str]:
        if "f" not in cache:
            cache["f"] = list(files()) if files else [
                str(p.relative_to(root)).replace("\\", "/") for p in root.rglob("*") if p.is_file()]
        return cache["f"]

    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int, int]] = set()

    def fix(m: re.Match[str]) -> str:
        raw, start = m.group(1), int(m.group(2))
        end = int(m.group(3)) if m.group(3) else start
        path = raw.lstrip("./")
        if not _inside(root, path) or not (root / path).is_file():
            matches = [f for f in all_files() if f == path or f.endswith("/" + path)]
            if len(matches) != 1:
                return m.group(0)
            path = matches[0]
        n = _line_count(root / path)
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


def _inside(root: Path, rel: str) -> bool:
    try:
        (root / rel).resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False
