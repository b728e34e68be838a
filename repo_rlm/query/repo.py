"""The `Repo` facade: one object over the index that the CLI, the REPL and the language server share.

Symbols are named by a bare name (`login`), a qualified name or its dotted suffix
(`auth.views.login`, `User.save`) or a glob (`*auth*`). Every method returns small result
objects (results.py); nothing here imports litellm.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable

from ..index import store
from ..index.build import Indexer
from ..index.executors import ExecutorError
from .results import (BlameLine, Call, Commit, Definition, GrepHit, Import, OutlineItem, Reference,
                      ResultList, SearchHit, Span)

_IDENT = re.compile(r"[A-Za-z0-9_$]")
_GLOB = re.compile(r"[*?\[]")
SCAN_LIMIT = 50  # files an editor's references request may read; beyond, index positions only
# What calling a class reaches, by language: Python, JS/TS, Ruby, PHP; Java, C#, C++ use the class's name.
CONSTRUCTORS = ("__init__", "constructor", "initialize", "__construct")


class RepoError(Exception):
    """Bad input from the user: a missing path, a file outside the repository, ..."""


def default_index_path(root: Path) -> Path:
    env = os.environ.get("REPO_RLM_INDEX")
    if env:
        return Path(env).expanduser()
    import platformdirs

    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(platformdirs.user_cache_dir("repo-rlm")) / "indexes" / f"{root.resolve().name}-{key}.db"


def find_root(path: str | Path | None) -> Path:
    """--repo as given, or the git top level containing the current directory."""
    from ..index.discovery import git_toplevel

    if path is None:
        cwd = Path.cwd()
        return git_toplevel(cwd) or cwd
    p = Path(path).expanduser()
    if not p.exists():
        raise RepoError(f"repository path does not exist: {path}")
    if not p.is_dir():
        raise RepoError(f"repository path is not a directory: {path}")
    return p.resolve()


class Repo:
    def __init__(self, root: Path, conn: sqlite3.Connection, index_path: Path, readonly: bool) -> None:
        self.root = root
        self.conn = conn
        self.index_path = index_path
        self.readonly = readonly

    # -- opening and updating ---------------------------------------------------------------

    @classmethod
    def open(cls, root: str | Path | None = None, index_path: str | Path | None = None, update: bool = True,
             readonly: bool = False, progress: Callable[[int, int, str], None] | None = None) -> "Repo":
        root_path = find_root(root)
        ipath = Path(index_path).expanduser() if index_path else default_index_path(root_path)
        if readonly:
            if not ipath.exists():
                raise RepoError(f"no index at {ipath}; run `repo-rlm index` first")
            conn = store.connect(ipath, readonly=True)
        else:
            try:
                conn = store.connect(ipath)
                store.init(conn)
            except sqlite3.Error as exc:
                raise RepoError(f"cannot open the index at {ipath}: {exc}") from exc
            except store.IndexError_ as exc:
                raise RepoError(str(exc)) from exc
        repo = cls(root_path, conn, ipath, readonly)
        if update and not readonly:
            repo.update(progress=progress)
        return repo

    def close(self) -> None:
        self.conn.close()

    def update(self, paths: list[str] | None = None, progress: Callable[[int, int, str], None] | None = None,
               executor: str = "auto") -> dict:
        """Bring the index up to date (only changed files are parsed). `paths`: known changed files.
        `executor`: where extraction runs (index.executors). Returns what this update did; the
        totals are `stats` (not computed here: every query updates)."""
        if self.readonly:
            raise RepoError("this index was opened read-only")
        rel = [self.relpath(p) for p in paths] if paths is not None else None
        try:
            return Indexer(self.root, self.conn, executor=executor).update(rel, progress)
        except ExecutorError as exc:  # Ray missing or unreachable: bad input, one line
            raise RepoError(str(exc)) from None

    # -- files ------------------------------------------------------------------------------

    def relpath(self, path: str | Path) -> str:
        """A repository-relative '/' path; raises RepoError for paths outside the repository."""
        p = Path(path)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(self.root.resolve())
            except ValueError:
                raise RepoError(f"file is outside the repository: {path}") from None
        rel = os.path.normpath(str(p)).replace(os.sep, "/")
        if rel == ".." or rel.startswith("../"):
            raise RepoError(f"file is outside the repository: {path}")
        return "" if rel == "." else rel

    def _file_id(self, path: str) -> int:
        rel = self.relpath(path)
        row = self.conn.execute("SELECT id FROM files WHERE path=?", (rel,)).fetchone()
        if row is None:
            raise RepoError(f"unknown file: {path}")
        return row[0]

    @property
    def languages(self) -> dict[str, int]:
        return dict(self.conn.execute(
            "SELECT lang, COUNT(*) FROM files WHERE lang != 'skipped' GROUP BY lang ORDER BY COUNT(*) DESC"))

    @property
    def stats(self) -> dict[str, Any]:
        q = self.conn.execute
        files, size, lines = q("SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(lines), 0) FROM files "
                               "WHERE lang != 'skipped'").fetchone()
        return {
            "files": files,
            "bytes": size,
            "lines": lines,
            "symbols": q("SELECT COUNT(*) FROM symbols").fetchone()[0],
            "calls": q("SELECT COUNT(*) FROM calls").fetchone()[0],
            "imports": q("SELECT COUNT(*) FROM imports").fetchone()[0],
            "languages": self.languages,
        }

    def files(self, glob: str | None = None, lang: str | None = None) -> list[str]:
        sql, args = "SELECT path FROM files WHERE lang != 'skipped'", []
        if lang:
            sql += " AND lang = ?"
            args.append(lang)
        paths = [r[0] for r in self.conn.execute(sql + " ORDER BY path", args)]
        if glob:
            paths = [p for p in paths if _glob_match(p, glob)]
        return paths

    def read(self, path: str) -> str:
        rel = self.relpath(path)
        full = self.root / rel
        if not full.is_file():
            raise RepoError(f"unknown file: {path}")
        try:
            return full.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            raise RepoError(f"cannot read {path}: {exc.strerror}") from exc

    def show(self, path: str, start_line: int | None = None, end_line: int | None = None) -> Span:
        lines = self.read(path).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        n = len(lines)
        s = max(1, start_line or 1)
        e = min(n, end_line if end_line is not None else (start_line if start_line else n))
        if start_line is not None and end_line is None:
            e = s
        if s > max(n, 1) or (e < s and n > 0):
            raise RepoError(f"{path} has {n} lines; {s}-{end_line or s} is out of range")
        return Span(self.relpath(path), s, e, "\n".join(lines[s - 1 : e]))

    def read_span(self, path: str, start_line: int, end_line: int) -> str:
        return self.show(path, start_line, end_line).text

    def tree(self, path: str = ".", depth: int = 2) -> str:
        """Directories and files under `path`, `depth` levels deep, with file counts."""
        base = self.relpath(path)
        prefix = base + "/" if base else ""
        counts: dict[str, int] = {}
        for p in self.files():
            if not p.startswith(prefix):
                continue
            parts = p[len(prefix):].split("/")
            for d in range(1, min(depth, len(parts)) + 1):
                key = "/".join(parts[:d]) + ("/" if d < len(parts) else "")
                counts[key] = counts.get(key, 0) + 1
        lines = [base or "."]
        for key in sorted(counts):
            level = key.rstrip("/").count("/")
            label = key.rstrip("/").rsplit("/", 1)[-1]
            lines.append("  " * (level + 1) + (f"{label}/ ({counts[key]} files)" if key.endswith("/") else label))
        return "\n".join(lines)

    # -- symbols ----------------------------------------------------------------------------

    _SYM = ("SELECT s.id, s.name, s.qualname, s.kind, f.lang, f.path, s.start_line, s.end_line, s.signature, "
            "s.doc, s.name_line, s.name_col FROM symbols s JOIN files f ON f.id = s.file_id")

    @staticmethod
    def _def(row) -> Definition:
        return Definition(*row[1:])

    def _match(self, name: str, kind: str | None = None, path: str | None = None) -> list[tuple]:
        name = name.strip()
        if not name:
            return []
        if _GLOB.search(name):
            if "." in name:
                sql, args = self._SYM + " WHERE (s.qualname GLOB ? OR s.qualname GLOB ?)", [name, "*." + name]
            else:
                sql, args = self._SYM + " WHERE s.name GLOB ?", [name]
        elif "." in name or "::" in name:
            name = name.replace("::", ".")
            last = name.rsplit(".", 1)[-1]
            sql, args = self._SYM + " WHERE s.name = ? AND (s.qualname = ? OR s.qualname LIKE ?)", [last, name, "%." + name]
        else:
            sql, args = self._SYM + " WHERE s.name = ?", [name]
        if kind:
            sql += " AND s.kind = ?"
            args.append(kind)
        if path:
            sql += " AND (f.path GLOB ? OR f.path GLOB ?)"
            args += [path, "*/" + path]
        rows = self.conn.execute(sql + " ORDER BY f.path, s.start_line", args).fetchall()
        if path:
            rows = [r for r in rows if _glob_match(r[5], path)]
        return rows

    def find_defs(self, name: str, kind: str | None = None, path: str | None = None) -> ResultList[Definition]:
        rows = self._match(name, kind, path)
        rows.sort(key=lambda r: (r[2] != name, r[5].count("/test") > 0, r[5], r[6]))
        return ResultList(self._def(r) for r in rows)

    def outline(self, path: str) -> ResultList[OutlineItem]:
        fid = self._file_id(path)
        rows = self.conn.execute("SELECT id, parent_id, name, qualname, kind, start_line, end_line, name_line, name_col "
                                 "FROM symbols WHERE file_id=? ORDER BY start_line, id", (fid,)).fetchall()
        items = {r[0]: OutlineItem(r[2], r[3], r[4], r[5], r[6], [], r[7], r[8]) for r in rows}
        top = []
        for r in rows:
            (items[r[1]].children if r[1] in items else top).append(items[r[0]])
        return ResultList(top)

    # -- calls ------------------------------------------------------------------------------

    _CALL = ("SELECT c.caller, c.name, f.path, c.line, c.col, c.text, c.resolution, c.target, "
             "cf.path, cs.start_line, cs.end_line, f.module FROM calls c JOIN files f ON f.id = c.file_id "
             "LEFT JOIN symbols cs ON cs.id = c.caller_id LEFT JOIN files cf ON cf.id = cs.file_id")

    def _constructors(self, classes: list[str]) -> list[tuple]:
        """The constructors of these classes (qualnames): a call of a class is resolved to them."""
        if not classes:
            return []
        return self.conn.execute(
            self._SYM + f" JOIN symbols p ON p.id = s.parent_id WHERE p.qualname IN ({','.join('?' * len(classes))}) "
            f"AND p.kind IN ('class', 'struct') AND s.kind IN ('method', 'function') "
            f"AND (s.name IN ({','.join('?' * len(CONSTRUCTORS))}) OR s.name = p.name)",
            [*classes, *CONSTRUCTORS]).fetchall()

    def _rows_in(self, sql: str, column: str, values, *extra) -> list[tuple]:
        """`sql WHERE column IN values`, in chunks (SQLite caps the number of parameters)."""
        values, out = list(values), []
        for i in range(0, len(values), 500):
            part = values[i:i + 500]
            out += self.conn.execute(f"{sql} WHERE {column} IN ({','.join('?' * len(part))}){''.join(extra)}", part).fetchall()
        return out

    def _targets(self, symbol: str) -> list[tuple]:
        """The definitions SYMBOL names, and for classes their constructors."""
        rows = [r for r in self._match(symbol) if r[3] not in ("variable", "constant")]
        ctors = self._constructors([r[2] for r in rows if r[3] in ("class", "struct")])
        return rows + [x for x in ctors if x not in rows]

    def callers_of(self, symbol: str) -> ResultList[Call]:
        targets = self._targets(symbol)
        if not targets:
            return ResultList()
        by_qual = {r[2]: r for r in targets}
        out = self._rows_in(self._CALL, "c.target", by_qual)
        out += self._rows_in(self._CALL, "c.name", {r[1] for r in targets}, " AND c.resolution = 'name'")
        by_name: dict[str, list[tuple]] = {}
        for r in targets:
            by_name.setdefault(r[1], []).append(r)
        calls = []
        for row in out:
            if row[6] == "name":
                cands = by_name.get(row[1], [])
                callee = cands[0] if len(cands) == 1 else None
            else:
                callee = by_qual.get(row[7])
            calls.append(self._call(row, callee, row[7] if callee is None and row[6] != "name" else None))
        calls.sort(key=lambda c: (c.resolution != "resolved", c.path, c.line, c.column))
        return ResultList(calls)

    def _call(self, row, callee: tuple | None, fallback: str | None = None) -> Call:
        caller, name, path, line, col, text, resolution, target, cpath, cs, ce, module = row
        return Call(caller, callee[2] if callee else (fallback or target or name), path, line, col, text, resolution,
                    cpath or path, cs or 1, ce or 1,
                    callee[5] if callee else "", callee[6] if callee else 0, callee[7] if callee else 0)

    def callees_of(self, symbol: str, include_external: bool = False) -> ResultList[Call]:
        rows = [r for r in self._match(symbol)]
        ids = [r[0] for r in rows]
        out = []
        if ids:
            out = self.conn.execute(self._CALL + f" WHERE c.caller_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        if not rows or "." in symbol:  # a module name: its module-level code
            out += self.conn.execute(self._CALL + " WHERE c.caller_id IS NULL AND f.module = ?", (symbol,)).fetchall()
        # the targets' definitions, looked up once for all call sites
        by_qual: dict[str, tuple] = {}
        for r in self._rows_in(self._SYM, "s.qualname", {row[7] for row in out if row[6] == "resolved"}):
            by_qual.setdefault(r[2], r)
        by_name: dict[str, list[tuple]] = {}
        for r in self._rows_in(self._SYM, "s.name", {row[1] for row in out if row[6] == "name"},
                               " AND s.kind NOT IN ('variable', 'constant')"):
            by_name.setdefault(r[1], []).append(r)
        calls = []
        for row in out:
            resolution, target, name = row[6], row[7], row[1]
            if resolution == "resolved":
                callee = by_qual.get(target)
            elif resolution == "name":
                cands = by_name.get(name, [])
                callee = cands[0] if len(cands) == 1 else None
            else:
                if include_external:
                    calls.append(self._call(row, None, target))
                continue
            calls.append(self._call(row, callee, target if resolution == "resolved" else name))
        calls.sort(key=lambda c: (c.path, c.line, c.column))
        return ResultList(calls)

    # -- references -------------------------------------------------------------------------

    def references(self, name: str, limit: int | None = None) -> ResultList[Reference]:
        """Every occurrence of the identifier `name` (the last part of a qualified name) as a word in
        source files (prose and config are for `grep`)."""
        word = name.replace("::", ".").rsplit(".", 1)[-1]
        if not re.fullmatch(r"[A-Za-z_$][\w$]*", word):
            return ResultList()
        from .search import terms

        parts = terms(word, expand=False) or [word.lower()]
        match = " AND ".join(f'body:"{t}"' for t in parts)
        try:
            fids = {r[0] for r in self.conn.execute(
                "SELECT DISTINCT c.file_id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?",
                (match,))}
        except sqlite3.OperationalError:
            fids = {r[0] for r in self.conn.execute("SELECT id FROM files WHERE lang != 'skipped'")}
        fids |= {r[0] for r in self.conn.execute("SELECT file_id FROM symbols WHERE name = ?", (word,))}
        fl = list(fids)
        paths = [r[0] for r in self.conn.execute(
            f"SELECT path FROM files WHERE lang NOT IN ('text', 'skipped') AND id IN ({','.join('?' * len(fl))})", fl)]
        return self._scan(word, paths, limit)

    def _scan(self, word: str, paths: list[str], limit: int | None = None) -> ResultList[Reference]:
        """Occurrences of `word` in these files, each labelled from the index: definition, call, import or reference."""
        if not paths:
            return ResultList()
        where, args = "", []
        if len(paths) <= 500:  # only the labels of these files (a common name has thousands elsewhere)
            where, args = f" AND f.path IN ({','.join('?' * len(paths))})", list(paths)
        defs = {(r[0], r[1], r[2]) for r in self.conn.execute(
            "SELECT f.path, s.name_line, s.name_col FROM symbols s JOIN files f ON f.id=s.file_id WHERE s.name = ?" + where,
            [word, *args])}
        calls = {(r[0], r[1], r[2]) for r in self.conn.execute(
            "SELECT f.path, c.line, c.col FROM calls c JOIN files f ON f.id=c.file_id WHERE c.name = ?" + where, [word, *args])}
        imports = {(r[0], r[1]) for r in self.conn.execute(
            "SELECT f.path, i.line FROM imports i JOIN files f ON f.id=i.file_id "
            "WHERE (i.name = ? OR i.alias = ? OR i.module LIKE ?)" + where, [word, word, "%" + word, *args])}
        # the literal comes first so that `re` can use its fast prefix search; the left edge is checked by hand
        pat = re.compile(re.escape(word) + r"(?![\w$])")
        out = []
        for path in sorted(set(paths)):
            try:
                text = (self.root / path).read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            ln, pos = 1, 0  # line number of `pos`, advanced match by match (no split into lines)
            for m in pat.finditer(text):
                if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_$"):
                    continue
                ln += text.count("\n", pos, m.start())
                pos = m.start()
                start = text.rfind("\n", 0, pos) + 1
                end = text.find("\n", pos)
                line = text[start : end if end >= 0 else len(text)]
                key = (path, ln, pos - start + 1)
                kind = ("definition" if key in defs else "call" if key in calls
                        else "import" if (path, ln) in imports else "reference")
                out.append(Reference(path, ln, pos - start + 1, line.strip()[:200], kind))
            if limit is not None and len(out) >= limit:
                break
        return ResultList(out[:limit] if limit is not None else out)

    def symbol_references(self, defs: list[Definition], limit: int | None = None) -> ResultList[Reference]:
        """References of particular definitions: the files that define, call (resolved or by name) or
        import them are scanned; when that is most of a large repository, the index's own positions
        (definitions and call sites) are returned without reading files."""
        if not defs:
            return ResultList()
        word = defs[0].name
        quals = [d.qualname for d in defs]
        quals += [r[2] for r in self._constructors([d.qualname for d in defs if d.kind in ("class", "struct")])]
        marks = ",".join("?" * len(quals))
        paths = {d.path for d in defs}
        resolved = self.conn.execute(
            f"SELECT f.path, c.line, c.col, c.text FROM calls c JOIN files f ON f.id = c.file_id WHERE c.target IN ({marks})",
            quals).fetchall()
        by_name = self.conn.execute(
            "SELECT f.path, c.line, c.col, c.text FROM calls c JOIN files f ON f.id = c.file_id "
            "WHERE c.name = ? AND c.resolution = 'name' LIMIT ?", (word, limit if limit is not None else -1)).fetchall()
        paths |= {r[0] for r in resolved}
        for m in {q.rsplit(".", 1)[0] for q in quals}:  # importers of the module (a range scan of the index)
            paths |= {r[0] for r in self.conn.execute(
                "SELECT DISTINCT f.path FROM imports i JOIN files f ON f.id = i.file_id "
                "WHERE i.target = ? OR (i.target > ? AND i.target < ?)", (m, m + ".", m + "/"))}
        if len(paths) <= SCAN_LIMIT:
            out = list(self._scan(word, sorted(paths)))
        else:  # most of a large repository: the index's own positions, without reading files
            out = [Reference(d.path, d.name_line, d.name_column, d.signature, "definition") for d in defs]
            out += [Reference(p, ln, col, text, "call") for p, ln, col, text in resolved]
        seen = {(r.path, r.line, r.column) for r in out}
        # calls by name only (receivers of unknown type) come from the index: exact, and no file to read
        out += [Reference(p, ln, col, text, "call") for p, ln, col, text in by_name if (p, ln, col) not in seen]
        out.sort(key=lambda r: (r.path, r.line, r.column))
        return ResultList(out[:limit] if limit is not None else out)

    # -- positions (editors) ----------------------------------------------------------------

    def word_at(self, path: str, line: int, column: int, line_text: str | None = None) -> tuple[str, int]:
        """The identifier under a 1-based position and its start column ('' if none)."""
        if line_text is None:
            try:
                lines = self.read(path).split("\n")
            except RepoError:
                return "", 0
            line_text = lines[line - 1] if 0 < line <= len(lines) else ""
        i = min(max(column - 1, 0), len(line_text))
        if i == len(line_text) or not _IDENT.match(line_text[i]):
            if i > 0 and _IDENT.match(line_text[i - 1]):
                i -= 1
            else:
                return "", 0
        s = i
        while s > 0 and _IDENT.match(line_text[s - 1]):
            s -= 1
        e = i
        while e < len(line_text) and _IDENT.match(line_text[e]):
            e += 1
        return line_text[s:e], s + 1

    def definition_at(self, path: str, line: int, column: int, line_text: str | None = None) -> ResultList[Definition]:
        word, start = self.word_at(path, line, column, line_text)
        if not word or word[0].isdigit():
            return ResultList()
        rel = self.relpath(path)
        row = self.conn.execute(
            self._SYM + " WHERE f.path = ? AND s.name_line = ? AND s.name = ?", (rel, line, word)).fetchone()
        if row is not None:
            return ResultList([self._def(row)])
        call = self.conn.execute(
            "SELECT c.target, c.resolution FROM calls c JOIN files f ON f.id = c.file_id "
            "WHERE f.path = ? AND c.line = ? AND c.name = ? ORDER BY abs(c.col - ?) LIMIT 1", (rel, line, word, start)).fetchone()
        if call and call[1] == "resolved" and call[0]:
            rows = self.conn.execute(self._SYM + " WHERE s.qualname = ?", (call[0],)).fetchall()
            if rows:
                return ResultList(self._def(r) for r in rows)
        imp = self.conn.execute(
            "SELECT i.target FROM imports i JOIN files f ON f.id = i.file_id WHERE f.path = ? AND i.line = ? "
            "AND i.target IS NOT NULL AND (i.name = ? OR i.alias = ? OR i.module LIKE ?)", (rel, line, word, word, "%" + word)).fetchone()
        if imp:
            rows = self.conn.execute(self._SYM + " WHERE s.qualname = ?", (imp[0],)).fetchall()
            if rows:
                return ResultList(self._def(r) for r in rows)
            mod = self.conn.execute("SELECT path FROM files WHERE module = ? AND lang != 'skipped' LIMIT 1", (imp[0],)).fetchone()
            if mod:
                return ResultList([Definition(imp[0].rsplit(".", 1)[-1], imp[0], "module", "", mod[0], 1, 1, "", "", 1, 1)])
        rows = [r for r in self._match(word) if r[3] not in ("variable",) or r[5] == rel]
        targets = [r[0] for r in self.conn.execute(
            "SELECT i.target FROM imports i JOIN files f ON f.id = i.file_id WHERE f.path = ? AND i.target IS NOT NULL", (rel,))]

        def imported(qual: str) -> bool:
            return any(t == qual or qual.startswith(t + ".") or t.startswith(qual + ".") for t in targets)

        rows.sort(key=lambda r: (r[5] != rel, not imported(r[2]), r[5]))
        return ResultList(self._def(r) for r in rows)

    def symbol_at(self, path: str, line: int, column: int, line_text: str | None = None) -> Definition | None:
        defs = self.definition_at(path, line, column, line_text)
        return defs[0] if defs else None

    def references_at(self, path: str, line: int, column: int, line_text: str | None = None,
                      limit: int | None = 1000) -> ResultList[Reference]:
        """References of what the identifier at a position reaches; by name when the index knows no
        definition. Bounded by `limit`: an editor cannot show more, and must stay responsive."""
        word, _ = self.word_at(path, line, column, line_text)
        if not word:
            return ResultList()
        defs = [d for d in self.definition_at(path, line, column, line_text) if d.name == word]
        return self.symbol_references(defs, limit) if defs else self.references(word, limit)

    # -- search, grep, imports --------------------------------------------------------------

    def search(self, query: str, k: int = 20) -> ResultList[SearchHit]:
        from .search import search

        return search(self.conn, query, k)

    def grep(self, pattern: str, glob: str | None = None, max_results: int = 200) -> ResultList[GrepHit]:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise RepoError(f"bad regular expression {pattern!r}: {exc}") from None
        out = []
        for path in self.files(glob):
            try:
                text = (self.root / path).read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            if not rx.search(text):
                continue
            for ln, line in enumerate(text.split("\n"), 1):
                if rx.search(line):
                    out.append(GrepHit(path, ln, line.rstrip()[:300]))
                    if len(out) >= max_results:
                        return ResultList(out)
        return ResultList(out)

    def imports_of(self, path: str) -> ResultList[Import]:
        fid = self._file_id(path)
        rows = self.conn.execute("SELECT line, module, name, alias, level, target FROM imports WHERE file_id=? ORDER BY line, id", (fid,))
        rel = self.relpath(path)
        return ResultList(Import(rel, ln, "." * lv + m, n, a, t or "") for ln, m, n, a, lv, t in rows)

    def importers_of(self, module: str) -> ResultList[Import]:
        rows = self.conn.execute(
            "SELECT f.path, i.line, i.module, i.name, i.alias, i.level, i.target FROM imports i JOIN files f ON f.id=i.file_id "
            "WHERE i.target = ? OR i.target LIKE ? OR (i.level = 0 AND (i.module = ? OR i.module LIKE ?)) ORDER BY f.path, i.line",
            (module, module + ".%", module, "%" + module))
        return ResultList(Import(p, ln, "." * lv + m, n, a, t or "") for p, ln, m, n, a, lv, t in rows)

    # -- git --------------------------------------------------------------------------------

    def _git(self, *args: str) -> str:
        try:
            out = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RepoError(f"git failed: {exc}") from None
        if out.returncode != 0:
            raise RepoError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "git failed")
        return out.stdout

    def git_log(self, path: str | None = None, n: int = 20) -> ResultList[Commit]:
        args = ["log", f"-n{int(n)}", "--format=%H%x1f%an%x1f%aI%x1f%s"]
        if path:
            args += ["--", self.relpath(path)]
        rows = [ln.split("\x1f") for ln in self._git(*args).splitlines() if ln]
        return ResultList(Commit(*r) for r in rows if len(r) == 4)

    def blame(self, path: str, start_line: int, end_line: int) -> ResultList[BlameLine]:
        out = self._git("blame", "--line-porcelain", f"-L{int(start_line)},{int(end_line)}", "--", self.relpath(path))
        lines, cur = [], {}
        for ln in out.splitlines():
            if ln.startswith("\t"):
                lines.append(BlameLine(cur["line"], cur["sha"], cur.get("author", ""), cur.get("date", ""), ln[1:]))
            elif re.match(r"^[0-9a-f]{40} ", ln):
                sha, _orig, final = ln.split(" ")[:3]
                cur = {"sha": sha, "line": int(final)}
            elif ln.startswith("author "):
                cur["author"] = ln[7:]
            elif ln.startswith("author-time "):
                import datetime

                cur["date"] = datetime.datetime.fromtimestamp(int(ln[12:]), datetime.timezone.utc).isoformat()
        return ResultList(lines)

    # -- call graph -------------------------------------------------------------------------

    def callgraph(self) -> dict[str, Any]:
        """Nodes (functions, methods, modules) and edges (resolved, and name edges with a single candidate)."""
        nodes: dict[str, dict] = {}
        for qual, kind, path, s, e in self.conn.execute(
                "SELECT s.qualname, s.kind, f.path, s.start_line, s.end_line FROM symbols s JOIN files f ON f.id=s.file_id "
                "WHERE s.kind IN ('function','method','class') ORDER BY f.path, s.start_line"):
            nodes.setdefault(qual, {"qualname": qual, "kind": kind, "path": path, "start_line": s, "end_line": e})
        for module, path, lines in self.conn.execute(
                "SELECT module, path, lines FROM files WHERE lang NOT IN ('text','skipped') AND module != ''"):
            nodes.setdefault(module, {"qualname": module, "kind": "module", "path": path, "start_line": 1, "end_line": lines})
        unique = {r[0]: r[1] for r in self.conn.execute(
            "SELECT name, MIN(qualname) FROM symbols WHERE kind IN ('function','method','class') GROUP BY name HAVING COUNT(*) = 1")}
        edges = []
        for caller, name, target, resolution, path, line in self.conn.execute(
                "SELECT c.caller, c.name, c.target, c.resolution, f.path, c.line FROM calls c JOIN files f ON f.id=c.file_id"):
            if resolution == "name":
                target = unique.get(name)
                if target is None:
                    continue
            if not target:
                continue
            edges.append({"caller": caller, "callee": target, "resolution": resolution, "path": path, "line": line})
        return {"nodes": list(nodes.values()), "edges": edges}

    # -- the REPL namespace -----------------------------------------------------------------

    def helpers(self) -> dict[str, Any]:
        """The names a model's REPL starts with (SPEC.md): `repo` and the helper functions."""
        return {
            "repo": self,
            "find_defs": self.find_defs,
            "callers_of": self.callers_of,
            "callees_of": self.callees_of,
            "references": self.references,
            "outline": self.outline,
            "read_span": self.read_span,
            "grep": self.grep,
            "search": self.search,
            "imports_of": self.imports_of,
            "importers_of": self.importers_of,
            "git_log": self.git_log,
            "blame": self.blame,
        }


def _glob_match(path: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if "/" not in pattern:
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return pattern.endswith("/**") and path.startswith(pattern[:-3] + "/")
