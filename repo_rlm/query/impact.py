"""What a change to a definition reaches: its callers, overrides and implementations, the tests
that call it (directly or through other functions), and uses of names that no longer exist.

Every caller is labelled with how it was found (`resolved` or `name`), as `callers_of` does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .repo import Repo
from .results import Call, Definition

TEST_PATH = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|_test\.[a-z]+$|(Test|Tests|Spec)\.[a-z]+$|\.(test|spec)\.[a-z]+$")
NAME_ONLY_MAX = 5  # name-only callers are listed while at most this many definitions share the name
TEST_DEPTH = 3  # call levels followed up from a changed symbol to the tests that reach it


def is_test_path(path: str) -> bool:
    return bool(TEST_PATH.search(path))


@dataclass(frozen=True)
class Use:
    """A place in head that still names something the head no longer defines."""

    path: str
    line: int
    kind: str  # import | call
    text: str
    name: str  # the qualified name it refers to


def callers(repo: Repo, symbol: str) -> list[Call]:
    """Call sites of exactly this qualified name (and, for a class, its constructors). Name-only
    call sites are kept when few definitions share the name (at most NAME_ONLY_MAX, no dunders):
    a name-only `__init__` or `get` call could reach any of hundreds of definitions."""
    name = symbol.rsplit(".", 1)[-1]
    ambiguous = (name.startswith("__") and name.endswith("__")) or repo.conn.execute(
        "SELECT COUNT(*) FROM symbols WHERE name = ? AND kind IN ('function', 'method')", (name,)).fetchone()[0] > NAME_ONLY_MAX
    return [c for c in repo.callers_of(symbol)
            if (c.resolution == "resolved" and (c.callee == symbol or c.callee.startswith(symbol + ".")))
            or (c.resolution == "name" and not ambiguous)]


def overrides(repo: Repo, symbol: str) -> list[Definition]:
    """Methods that override or implement `symbol` (Class.method) in subclasses, at any depth."""
    if "." not in symbol:
        return []
    owner, name = symbol.rsplit(".", 1)
    seen, todo, out = {owner}, [owner], []
    while todo:
        cls = todo.pop()
        for (sub,) in repo.conn.execute("SELECT s.qualname FROM bases b JOIN symbols s ON s.id = b.symbol_id "
                                        "WHERE b.target = ?", (cls,)):
            if sub in seen:
                continue
            seen.add(sub)
            todo.append(sub)
            out += [d for d in repo.find_defs(f"{sub}.{name}") if d.qualname == f"{sub}.{name}"]
    return out


def tests_reaching(repo: Repo, symbol: str, depth: int = TEST_DEPTH) -> list[str]:
    """Qualified names of test functions that call `symbol`, directly or through up to `depth` levels of
    resolved calls."""
    level, seen, tests = {symbol}, {symbol}, set()
    for _ in range(depth):
        nxt: set[str] = set()
        marks = ",".join("?" * len(level))
        for caller, path in repo.conn.execute(
                f"SELECT c.caller, f.path FROM calls c JOIN files f ON f.id = c.file_id WHERE c.target IN ({marks})",
                sorted(level)):
            if is_test_path(path):
                tests.add(caller)
            elif caller not in seen:
                seen.add(caller)
                nxt.add(caller)
        if not nxt:
            break
        level = set(list(nxt)[:500])
    return sorted(tests)


def _absolute(module: str, level: int, importer: str, is_package: bool) -> str:
    if not level:
        return module
    parts = importer.split(".") if importer else []
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, module] if module else parts)


def uses_of_missing(repo: Repo, names: list[str], modules: list[str]) -> list[Use]:
    """Imports and calls in `repo` that still name `names` (qualified names of definitions it no
    longer has) or `modules` (modules it no longer has). Python imports are exact; calls count
    when their unresolved target is the missing name."""
    want = set(names)
    mods = set(modules)
    if not want and not mods:
        return []
    out: list[Use] = []
    rows = repo.conn.execute(
        "SELECT f.path, f.module, f.path LIKE '%__init__.py', i.module, i.name, i.alias, i.level, i.line, i.target "
        "FROM imports i JOIN files f ON f.id = i.file_id WHERE i.target IS NULL AND f.lang = 'python'").fetchall()
    texts: dict[str, list[str]] = {}
    for path, fmod, is_pkg, module, name, alias, level, line, _t in rows:
        full = _absolute(module, level, fmod, bool(is_pkg))
        whole = f"{full}.{name}" if name and name != "*" and full else (name if name != "*" else full)
        hit = whole if whole in want or whole in mods else (
            full if full in mods or any(full.startswith(m + ".") for m in mods) else None)
        if hit is None:
            continue
        if path not in texts:
            try:
                texts[path] = repo.read(path).split("\n")
            except Exception:  # noqa: BLE001 - a file gone since indexing: report without text
                texts[path] = []
        text = texts[path][line - 1].strip()[:200] if 0 < line <= len(texts[path]) else ""
        out.append(Use(path, line, "import", text, hit))
    ext = [f"<external>.{n}" for n in want]
    if ext:
        marks = ",".join("?" * len(ext))
        for path, line, text, target in repo.conn.execute(
                f"SELECT f.path, c.line, c.text, c.target FROM calls c JOIN files f ON f.id = c.file_id "
                f"WHERE c.target IN ({marks})", ext):
            name = target.split(".", 1)[1]
            if not any(u.path == path and u.name == name for u in out):  # the import already says it
                out.append(Use(path, line, "call", text, name))
    out.sort(key=lambda u: (u.path, u.line, u.kind))
    return out
