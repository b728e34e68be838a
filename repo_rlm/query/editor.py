"""Editor-shaped questions over the index: call hierarchies, caller counts for code lenses,
workspace symbols. Front ends (the language server, MCP, review, report) turn these into their
own types; the logic of which calls belong to which definition lives here, once.

A definition is named by (qualname, path, start_line, end_line): a qualname alone can match
several definitions (overloads, redefinitions, same-named methods), and the editor asked
about one of them.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .results import Call, Definition, OutlineItem

LENS_KINDS = frozenset({"function", "method", "class", "constructor"})  # definitions that get a caller count
WORKSPACE_SYMBOL_LIMIT = 500


@dataclass
class CallGroup:
    """The calls between one definition and one other: the other's place, and every call site."""

    qualname: str
    path: str
    start_line: int
    end_line: int
    calls: list[Call] = field(default_factory=list)

    @property
    def by_name_only(self) -> bool:
        return not any(c.resolution == "resolved" for c in self.calls)


@dataclass(frozen=True)
class CallerCount:
    resolved: int
    by_name: int
    calls: tuple[Call, ...]

    @property
    def total(self) -> int:
        return self.resolved + self.by_name

    def title(self) -> str:
        n = self.total
        text = f"{n} caller{'' if n == 1 else 's'}"
        return text + (f": {self.resolved} resolved, {self.by_name} by name" if n else "")


class LineMap:
    """Line numbers of a saved file <-> line numbers of its unsaved text in an editor.

    The index knows the saved file; an editor shows (and asks about) the text it holds. Lines
    are 1-based; lines only one side has map to the nearest line of the other side's block."""

    def __init__(self, saved: list[str], edited: list[str]) -> None:
        import difflib  # only once a document is edited: not on the server's start-up path

        head = 0
        while head < min(len(saved), len(edited)) and saved[head] == edited[head]:
            head += 1
        tail = 0
        while tail < min(len(saved), len(edited)) - head and saved[-1 - tail] == edited[-1 - tail]:
            tail += 1
        middle = difflib.SequenceMatcher(None, saved[head:len(saved) - tail], edited[head:len(edited) - tail],
                                         autojunk=False).get_opcodes()
        # blocks of (saved_start, saved_end, edited_start, edited_end), 0-based, half-open
        self._blocks = [(0, head, 0, head)] + [(i1 + head, i2 + head, j1 + head, j2 + head) for _t, i1, i2, j1, j2 in middle]
        self._blocks.append((len(saved) - tail, len(saved), len(edited) - tail, len(edited)))
        self._saved_starts = [b[0] for b in self._blocks]
        self._flipped = [(b[2], b[3], b[0], b[1]) for b in self._blocks]
        self._edited_starts = [b[2] for b in self._blocks]
        self.identity = len(saved) == len(edited) and head == len(saved)

    @staticmethod
    def _map(line: int, blocks: list[tuple[int, int, int, int]], starts: list[int]) -> int:
        i = line - 1
        a0, a1, b0, b1 = blocks[max(bisect.bisect_right(starts, i) - 1, 0)]
        if i >= a1:  # past the end of the file: keep the distance from the end
            return b1 + (i - a1) + 1
        return b0 + min(i - a0, max(b1 - b0 - 1, 0)) + 1

    def to_edited(self, line: int) -> int:
        """A saved-file line -> the line it is on in the unsaved text."""
        return line if self.identity else self._map(line, self._blocks, self._saved_starts)

    def to_saved(self, line: int) -> int:
        """A line of the unsaved text -> the saved-file line it came from (or the nearest)."""
        return line if self.identity else self._map(line, self._flipped, self._edited_starts)


def flatten(items: Iterable[OutlineItem]) -> Iterator[OutlineItem]:
    for item in items:
        yield item
        yield from flatten(item.children)


def name_positions(items: Iterable[OutlineItem]) -> dict[tuple[str, int], tuple[int, int]]:
    """(qualname, start_line) -> (name_line, name_column) for the outline items of one file."""
    return {(i.qualname, i.start_line): (i.name_line, i.name_column) for i in flatten(items) if i.name_line}


def lens_items(repo: Any, path: str) -> list[OutlineItem]:
    """The definitions of a file that get a caller count, outermost first."""
    return [i for i in flatten(repo.outline(path)) if i.kind in LENS_KINDS]


def definition_at(repo: Any, qualname: str, path: str, start_line: int) -> Definition | None:
    """The definition `qualname` that starts at path:start_line, if the index has it."""
    if not qualname or not path:
        return None
    try:
        found = repo.find_defs(qualname, path=path)
    except Exception:  # noqa: BLE001 - a qualname the glob syntax rejects
        return None
    return next((d for d in found if d.path == path and d.start_line == start_line), None)


def looks_like_module(qualname: str, path: str, start_line: int) -> bool:
    """Whether a caller without a definition row is a module's top-level code."""
    return start_line <= 1 and "." not in qualname or qualname.replace(".", "/") in path


def calls_into(calls: Iterable[Call], path: str, start_line: int, end_line: int | None = None) -> list[Call]:
    """Drop calls the index tied to a *different* definition with the same name (a call to a
    class's constructor counts for the class, whose span holds the constructor)."""
    end = end_line or start_line
    return [c for c in calls if not c.callee_path or (c.callee_path == path and start_line <= c.callee_start_line <= end)]


def calls_out_of(calls: Iterable[Call], path: str, start_line: int) -> list[Call]:
    """Keep the calls made by the definition at path:start_line (not by same-named others)."""
    return [c for c in calls if not c.caller_path or (c.caller_path, c.caller_start_line) == (path, start_line)]


def incoming_calls(repo: Any, qualname: str, path: str, start_line: int, end_line: int | None = None) -> list[CallGroup]:
    """Callers of one definition, one group per calling definition (or module)."""
    groups: dict[tuple, CallGroup] = {}
    for c in calls_into(repo.callers_of(qualname), path, start_line, end_line):
        key = (c.caller, c.caller_path or c.path, c.caller_start_line, c.caller_end_line)
        start = c.caller_start_line or 1
        groups.setdefault(key, CallGroup(c.caller, key[1], start, c.caller_end_line or start)).calls.append(c)
    return list(groups.values())


def outgoing_calls(repo: Any, qualname: str, path: str, start_line: int) -> list[CallGroup]:
    """What one definition calls inside the repository, one group per callee."""
    groups: dict[tuple, CallGroup] = {}
    for c in calls_out_of(repo.callees_of(qualname), path, start_line):
        if not c.callee_path:  # outside the repository: nowhere to go
            continue
        key = (c.callee, c.callee_path, c.callee_start_line, c.callee_end_line)
        start = c.callee_start_line or 1
        groups.setdefault(key, CallGroup(c.callee, c.callee_path, start, c.callee_end_line or start)).calls.append(c)
    return list(groups.values())


def caller_count(repo: Any, qualname: str, path: str, start_line: int, end_line: int | None = None) -> CallerCount:
    """How many call sites reach one definition, resolved and by name apart (a code lens)."""
    calls = calls_into(repo.callers_of(qualname), path, start_line, end_line)
    resolved = sum(1 for c in calls if c.resolution == "resolved")
    return CallerCount(resolved, len(calls) - resolved, tuple(calls))


def workspace_symbols(repo: Any, query: str, limit: int = WORKSPACE_SYMBOL_LIMIT) -> list[Definition]:
    """Definitions whose name contains `query` case-insensitively (or matches it as a glob):
    exact names first, then prefixes, then by place."""
    query = query.strip()
    if not query:
        return []
    pattern = query if any(ch in query for ch in "*?[") else f"*{_ci_glob(query)}*"
    q = query.lower()
    defs = sorted(repo.find_defs(pattern),
                  key=lambda d: (d.name.lower() != q, not d.name.lower().startswith(q), d.path, d.start_line))
    return defs[:limit]


def _ci_glob(text: str) -> str:
    out = []
    for ch in text:
        if ch.isalpha() and ch.lower() != ch.upper():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch in "*?[]":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)

