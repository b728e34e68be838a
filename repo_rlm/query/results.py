"""Small result objects shared by the CLI, the REPL helpers and the language server.

Each has the attribute names of the JSON fields in SPEC.md, a `to_dict()`, and a compact
one-line `repr`, so that a model printing a list in the REPL sees one item per line.
Lines and columns are 1-based; columns count characters (code points) of the line.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Iterable, TypeVar


class _Result:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Definition(_Result):
    name: str
    qualname: str
    kind: str
    lang: str
    path: str
    start_line: int
    end_line: int
    signature: str
    doc: str = ""
    name_line: int = 0
    name_column: int = 0

    def __repr__(self) -> str:
        return f"<{self.kind} {self.qualname} {self.path}:{self.start_line}-{self.end_line}>"


@dataclass(frozen=True)
class Call(_Result):
    caller: str
    callee: str
    path: str
    line: int
    column: int
    text: str
    resolution: str  # "resolved" or "name" (or "external" for targets outside the repository)
    caller_path: str = ""
    caller_start_line: int = 0
    caller_end_line: int = 0
    callee_path: str = ""
    callee_start_line: int = 0
    callee_end_line: int = 0

    def __repr__(self) -> str:
        return f"<call {self.caller} -> {self.callee} {self.path}:{self.line} [{self.resolution}] {self.text.strip()[:80]}>"


@dataclass(frozen=True)
class Reference(_Result):
    path: str
    line: int
    column: int
    text: str
    kind: str  # definition, call, import, reference

    def __repr__(self) -> str:
        return f"<{self.kind} {self.path}:{self.line}:{self.column} {self.text.strip()[:80]}>"


@dataclass(frozen=True)
class OutlineItem(_Result):
    name: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    children: list["OutlineItem"] = field(default_factory=list)
    name_line: int = 0
    name_column: int = 0

    def __repr__(self) -> str:
        return f"<{self.kind} {self.qualname} {self.start_line}-{self.end_line} ({len(self.children)} children)>"


@dataclass(frozen=True)
class Span(_Result):
    path: str
    start_line: int
    end_line: int
    text: str

    def __repr__(self) -> str:
        return f"<span {self.path}:{self.start_line}-{self.end_line} ({len(self.text)} chars)>"


@dataclass(frozen=True)
class GrepHit(_Result):
    path: str
    line: int
    text: str

    def __repr__(self) -> str:
        return f"<{self.path}:{self.line} {self.text.strip()[:100]}>"


@dataclass(frozen=True)
class SearchHit(_Result):
    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    score: float

    def __repr__(self) -> str:
        what = f"{self.kind} {self.symbol}" if self.symbol else "chunk"
        return f"<{self.score:.2f} {what} {self.path}:{self.start_line}-{self.end_line}>"


@dataclass(frozen=True)
class Import(_Result):
    path: str
    line: int
    module: str
    name: str
    alias: str
    resolved: str  # the module or symbol qualname in this repository it reaches, or ""

    def __repr__(self) -> str:
        what = f"{self.module}.{self.name}" if self.name else self.module
        alias = f" as {self.alias}" if self.alias else ""
        return f"<import {what}{alias} {self.path}:{self.line}>"


@dataclass(frozen=True)
class Commit(_Result):
    sha: str
    author: str
    date: str
    subject: str

    def __repr__(self) -> str:
        return f"<{self.sha[:10]} {self.date[:10]} {self.author}: {self.subject[:80]}>"


@dataclass(frozen=True)
class BlameLine(_Result):
    line: int
    sha: str
    author: str
    date: str
    text: str

    def __repr__(self) -> str:
        return f"<{self.line} {self.sha[:8]} {self.author}: {self.text.rstrip()[:80]}>"


T = TypeVar("T")


class ResultList(list, Generic[T]):
    """A list that prints one item per line (what a model in the REPL wants to read).

    When a `limit` cut it, `truncated` is True and `more` says how many were left out
    (None when that was not counted: counting would cost as much as finding them)."""

    def __init__(self, items: Iterable[T] = ()) -> None:
        super().__init__(items)
        self.truncated = False
        self.more: int | None = 0

    def __repr__(self) -> str:
        if not self:
            return "[] (no results)"
        return "\n".join(repr(x) for x in self) + (f"\n({self.note()})" if self.truncated else "")

    __str__ = __repr__

    def note(self) -> str:
        """'truncated, N more' (or '... more not counted'), for a reader that must know it saw a part."""
        if not self.truncated:
            return ""
        more = f"{self.more} more" if self.more is not None else "more not counted"
        return f"truncated, {more}: showing {len(self)}; pass a larger limit to see more"

    def to_dicts(self) -> list[dict[str, Any]]:
        return [x.to_dict() for x in self]


def cut(items: Iterable[T], limit: int | None, known_total: bool = True) -> ResultList[T]:
    """The first `limit` items. `known_total`: the items are all there were (so the rest can be
    counted); otherwise they were fetched with limit + 1 and only the cut itself is known."""
    items = list(items)
    out: ResultList[T] = ResultList(items if limit is None else items[:limit])
    if limit is not None and len(items) > limit:
        out.truncated = True
        out.more = len(items) - limit if known_total else None
    return out
