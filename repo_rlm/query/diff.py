"""Compare the facts of two indexes of one repository (a base and a head revision).

Each changed file is compared symbol by symbol: a definition is `added`, `removed`, `signature`
(its declaration line changed) or `body` (its own text changed; text of nested definitions
does not count, so editing a method does not mark its class). Renamed files are compared with
their old path, so a moved file is not "everything removed, everything added"; symbols whose
qualified name changed only because their file moved are listed in `moved`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .repo import Repo, RepoError

_WS = re.compile(r"\s+")
# Comments between a declaration and its body end up in the index's signature text; not a change.
_SIG_COMMENT = re.compile(r"/\*.*?\*/|(?:^|\s)(?:#|//).*$")
# Definitions whose change is reported; locals never reach the index as symbols.
CONTAINERS = {"class", "struct", "interface", "trait", "enum", "impl", "object", "module", "namespace", "type"}


@dataclass(frozen=True)
class FileChange:
    """One file of `git diff --name-status`: status is added, deleted, modified, renamed or copied."""

    status: str
    path: str          # head path ('' when deleted)
    old_path: str = ""  # base path ('' when added)
    binary: bool = False


@dataclass
class SymbolChange:
    symbol: str        # qualified name (head; base for removed)
    kind: str
    path: str          # head path (base path for removed)
    start_line: int
    end_line: int
    change: str        # added | removed | signature | body
    lang: str = ""
    name: str = ""
    old_symbol: str = ""     # base qualified name, when it differs (moved file)
    old_path: str = ""
    old_start_line: int = 0
    old_end_line: int = 0
    old_signature: str = ""
    signature: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Moved:
    """A definition whose qualified name changed only because its file moved."""

    old_symbol: str
    symbol: str
    kind: str
    path: str
    line: int


@dataclass
class Diff:
    changed: list[SymbolChange] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    removed_modules: list[str] = field(default_factory=list)  # module names that exist in base only
    skipped: dict[str, int] = field(default_factory=dict)     # changed files not compared, by reason


@dataclass
class _Sym:
    name: str
    qual: str
    kind: str
    start: int
    end: int
    signature: str
    key: str          # qualified name relative to the file's module/package
    own_hash: str
    parent: int | None
    sid: int


def _file_row(repo: Repo, path: str) -> tuple | None:
    return repo.conn.execute("SELECT id, lang, module, package FROM files WHERE path=?", (path,)).fetchone()


def _symbols(repo: Repo, path: str) -> tuple[str, list[_Sym]] | None:
    """(lang, symbols) of one file, or None when the index skipped it (binary, too large, ...)."""
    row = _file_row(repo, path)
    if row is None or row[1] == "skipped":
        return None
    fid, lang, module, package = row
    prefix = module if lang == "python" or not package else package
    rows = repo.conn.execute("SELECT id, parent_id, name, qualname, kind, start_line, end_line, signature FROM symbols "
                             "WHERE file_id=? ORDER BY start_line, id", (fid,)).fetchall()
    try:
        lines = repo.read(path).split("\n")
    except RepoError:
        lines = []
    children: dict[int, list[tuple[int, int]]] = {}
    for sid, parent, *_r, s, e, _sig in rows:
        if parent is not None:
            children.setdefault(parent, []).append((s, e))
    out = []
    for sid, parent, name, qual, kind, s, e, sig in rows:
        covered = {i for cs, ce in children.get(sid, ()) for i in range(cs, ce + 1)}
        own = [ln for i, ln in enumerate(lines[s - 1:e], s) if i not in covered]
        key = qual[len(prefix) + 1:] if prefix and qual.startswith(prefix + ".") else qual
        out.append(_Sym(name, qual, kind, s, e, signature_key(sig), f"{kind in CONTAINERS}:{key}",
                        hashlib.sha1("\n".join(own).encode()).hexdigest(), parent, sid))
    return lang, out


def signature_key(signature: str) -> str:
    """A signature without comments or layout, for comparing two revisions of it."""
    return _SIG_COMMENT.sub("", _WS.sub(" ", signature)).strip().rstrip("{:").strip()


def _pair(base: list[_Sym], head: list[_Sym]) -> tuple[list[tuple[_Sym, _Sym]], list[_Sym], list[_Sym]]:
    """Match definitions by relative qualified name (overloads in order of appearance)."""
    by_key: dict[str, list[_Sym]] = {}
    for s in base:
        by_key.setdefault(s.key, []).append(s)
    pairs, added = [], []
    for h in head:
        cands = by_key.get(h.key)
        if cands:
            same = next((c for c in cands if c.signature == h.signature), cands[0])
            cands.remove(same)
            pairs.append((same, h))
        else:
            added.append(h)
    removed = [s for v in by_key.values() for s in v]
    return pairs, added, removed


def _outermost(syms: list[_Sym]) -> list[_Sym]:
    """Drop definitions whose parent is in the same list: a removed class implies its methods."""
    ids = {s.sid for s in syms}
    return [s for s in syms if s.parent not in ids]


def compare(base: Repo, head: Repo, files: list[FileChange]) -> Diff:
    """The symbol-level changes between two indexed checkouts, for the files git says changed."""
    diff = Diff()
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for fc in files:
        if fc.binary:
            skip("binary")
            continue
        old = _symbols(base, fc.old_path) if fc.old_path else None
        new = _symbols(head, fc.path) if fc.path else None
        if (fc.old_path and old is None) or (fc.path and new is None):
            reason = _skip_reason(head, fc.path) or _skip_reason(base, fc.old_path) or "not_indexed"
            skip(reason)
            continue
        lang = (new or old)[0]
        bsyms = old[1] if old else []
        hsyms = new[1] if new else []
        pairs, added, removed = _pair(bsyms, hsyms)
        for s in _outermost(added):
            diff.changed.append(SymbolChange(s.qual, s.kind, fc.path, s.start, s.end, "added", lang, s.name,
                                             signature=s.signature))
        for s in _outermost(removed):
            diff.changed.append(SymbolChange(s.qual, s.kind, fc.old_path, s.start, s.end, "removed", lang, s.name,
                                             old_path=fc.old_path, old_start_line=s.start, old_end_line=s.end,
                                             old_signature=s.signature))
        for b, h in pairs:
            change = "signature" if b.signature != h.signature else "body" if b.own_hash != h.own_hash else ""
            if change:
                diff.changed.append(SymbolChange(
                    h.qual, h.kind, fc.path, h.start, h.end, change, lang, h.name,
                    old_symbol=b.qual if b.qual != h.qual else "", old_path=fc.old_path,
                    old_start_line=b.start, old_end_line=b.end, old_signature=b.signature, signature=h.signature))
            elif b.qual != h.qual:
                diff.moved.append(Moved(b.qual, h.qual, h.kind, fc.path, h.start))
        if fc.old_path and fc.old_path != fc.path:
            gone = base.conn.execute("SELECT module FROM files WHERE path=? AND lang NOT IN ('text', 'skipped')",
                                     (fc.old_path,)).fetchone()
            if gone and gone[0] and head.conn.execute("SELECT 1 FROM files WHERE module=? AND lang NOT IN ('text', 'skipped')",
                                                      (gone[0],)).fetchone() is None:
                diff.removed_modules.append(gone[0])
    diff.changed.sort(key=lambda c: (c.path, c.start_line, c.symbol))
    diff.skipped = skipped
    return diff


def _skip_reason(repo: Repo, path: str) -> str | None:
    if not path:
        return None
    row = repo.conn.execute("SELECT lang, module FROM files WHERE path=?", (path,)).fetchone()
    return row[1] if row and row[0] == "skipped" else None
