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

from ..index import discovery, git, store
from ..index.resolve_base import DECORATED
from ..index.build import Indexer, seed
from ..index.discovery import looks_binary
from ..index.executors import ExecutorError
from ..index.names import CONSTRUCTIBLE_KINDS, CONSTRUCTORS, IDENTIFIER, is_ident_char
from .escape import escape_controls
from .results import (BlameLine, Call, Commit, Definition, GrepHit, Import, OutlineItem, Reference,
                      ResultList, SearchHit, Span)

_GLOB = re.compile(r"[*?\[]")
SCAN_LIMIT = 50  # files an editor's references request may read; beyond, index positions only


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        import sys

        print(f"repo-rlm: warning: {message}", file=sys.stderr)


class RepoError(Exception):
    """Bad input from the user: a missing path, a file outside the repository, ..."""


def default_index_path(root: Path) -> Path:
    env = os.environ.get("REPO_RLM_INDEX")
    if env:
        return Path(env).expanduser()
    import platformdirs

    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(platformdirs.user_cache_dir("repo-rlm")) / "indexes" / f"{root.resolve().name}-{key}.db"


def _create_private(ipath: Path, file: bool = True) -> None:
    """A new index (it holds the code) is created 0600, its folder 0700 when we create it; SQLite
    gives the -wal and -shm files the database's mode. `file=False`: the folder only."""
    if ipath.exists():
        return
    try:
        missing = [p for p in [ipath.parent, *ipath.parent.parents] if not p.exists()]
        for p in reversed(missing):
            p.mkdir(mode=0o700, exist_ok=True)
        if file:
            os.close(os.open(ipath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # store.connect reports the real problem


# Outside git, the current directory is indexed only when it looks like one project.
PLAIN_DIR_FILE_LIMIT = 20_000


def find_root(path: str | Path | None, explicit: bool | None = None) -> Path:
    """The repository root (see locate_root)."""
    return locate_root(path, explicit)[0]


def locate_root(path: str | Path | None, explicit: bool | None = None) -> tuple[Path, bool]:
    """The repository root, and whether it was found without git. An explicit `--repo` is taken
    as given. Otherwise (`path` None means the
    current directory; editors pass their workspace folder with explicit=False): the git top level
    containing it, or, outside git, the directory itself if it is a reasonable project (not `/`, not
    the home directory, at most PLAIN_DIR_FILE_LIMIT files), else RepoError asking for --repo."""
    explicit = path is not None if explicit is None else explicit
    p = Path.cwd() if path is None else Path(path).expanduser()
    if not p.exists():
        raise RepoError(f"repository path does not exist: {path}")
    if not p.is_dir():
        raise RepoError(f"repository path is not a directory: {path}")
    p = p.resolve()
    if explicit:
        return p, False
    top = git.toplevel(p)
    if top is not None:
        return top, False
    if p == Path(p.anchor) or p == Path.home().resolve():
        raise RepoError(f"{p} is not in a git repository and is too broad to index; "
                        "run from a project directory or pass --repo PATH")
    if _count_files(p, PLAIN_DIR_FILE_LIMIT) > PLAIN_DIR_FILE_LIMIT:
        raise RepoError(f"{p} is not in a git repository and holds over {PLAIN_DIR_FILE_LIMIT:,} files; "
                        "pass --repo PATH to index it anyway")
    return p, True


def _count_files(top: Path, limit: int) -> int:
    """Files under top (vendored and generated directories skipped), counting stops past limit."""
    from ..index.discovery import SKIP_DIRS

    n = 0
    for _dir, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        n += len(files)
        if n > limit:
            break
    return n


def set_aside(path: Path) -> Path:
    """Move a corrupt index (and its WAL files) out of the way; returns where it went."""
    import time

    dest = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(dest)
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            side.replace(Path(str(dest) + suffix))
    return dest


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    return "malformed" in str(exc)  # SQLite's "database disk image is malformed"


class Repo:
    def __init__(self, root: Path, conn: sqlite3.Connection, index_path: Path, readonly: bool) -> None:
        self.root = root
        self.conn = conn
        self.index_path = index_path
        self.readonly = readonly

    # -- opening and updating ---------------------------------------------------------------

    @classmethod
    def open(cls, root: str | Path | None = None, index_path: str | Path | None = None, update: bool = True,
             readonly: bool = False, progress: Callable[[int, int, str], None] | None = None,
             rebuild: bool = False, notify: Callable[[str], None] | None = None) -> "Repo":
        """Open (and by default update) the index of a repository. `rebuild` starts the index over;
        a corrupt index is moved aside and rebuilt. `notify` receives one-line notices for the user
        (what is being indexed outside git, a corrupt index set aside)."""
        root_path, plain_dir = locate_root(root)
        ipath = Path(index_path).expanduser() if index_path else default_index_path(root_path)
        say = notify or (lambda _msg: None)
        if readonly:
            if not ipath.exists():
                raise RepoError(f"no index at {ipath}; run `repo-rlm index` first")
            try:
                conn = store.connect(ipath, readonly=True)
            except store.IndexError_ as exc:
                raise RepoError(str(exc)) from exc
            return cls(root_path, conn, ipath, readonly)
        if rebuild and ipath.exists():
            cls._connect(root_path, ipath).close()  # refuses a database that is not an index of ours
            for side in (ipath, Path(f"{ipath}-wal"), Path(f"{ipath}-shm")):
                side.unlink(missing_ok=True)
            say(f"rebuilding the index at {ipath}")
        if plain_dir and not ipath.exists():
            say(f"not in a git repository: indexing {root_path}")
        repo = None
        try:
            repo = cls._connect(root_path, ipath)
            if update:
                repo.update(progress=progress)
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise RepoError(f"cannot open the index at {ipath}: {exc}") from exc
            if repo is not None:
                repo.close()
            moved = set_aside(ipath)
            say(f"the index at {ipath} was corrupt ({exc}); moved it to {moved.name} and rebuilding")
            repo = cls._connect(root_path, ipath)
            if update:
                repo.update(progress=progress)
        return repo

    @classmethod
    def _connect(cls, root_path: Path, ipath: Path) -> "Repo":
        key = None
        if not ipath.exists():  # another clone's index, if there is one (build.seed)
            _create_private(ipath, file=False)
            key = seed(root_path, ipath)
        _create_private(ipath)
        try:
            conn = store.connect(ipath)
            store.init(conn)
            if key:  # known now: the first update need not ask git again
                with conn:
                    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('repo_key', ?)", (key,))
        except store.IndexError_ as exc:
            raise RepoError(str(exc)) from exc
        return cls(root_path, conn, ipath, False)

    def close(self) -> None:
        self.conn.close()

    def update(self, paths: list[str] | None = None, progress: Callable[[int, int, str], None] | None = None,
               first: Callable[[], list[str]] | None = None, executor: str = "auto") -> dict:
        """Bring the index up to date (only changed files are parsed). `paths`: known changed files;
        `first`: files to parse ahead of their turn (polled); `executor`: where extraction runs
        (index.executors). Returns what this update did; the
        totals are `stats` (not computed here: every query updates)."""
        if self.readonly:
            raise RepoError("this index was opened read-only")
        rel = [self.relpath(p) for p in paths] if paths is not None else None
        try:
            return Indexer(self.root, self.conn, executor=executor).update(rel, progress, first)
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
        rows = self._rows("SELECT id FROM files WHERE path=?", (rel,))
        if not rows:
            raise RepoError(f"unknown file: {path}")
        return rows[0]["id"]

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
        paths = [r["path"] for r in self._rows(sql + " ORDER BY path", args)]
        if glob:
            paths = [p for p in paths if _glob_match(p, glob)]
        return paths

    def full_path(self, path: str, dirs: dict | None = None) -> Path:
        """The real path of a repository file; RepoError when a symlink leads outside the repository.
        `dirs`: a cache for one pass over many files (discovery.inside)."""
        rel = self.relpath(path)
        full = discovery.inside(self.root, rel, dirs)
        if full is None:
            raise RepoError(f"file is outside the repository (through a symlink): {path}")
        return full

    def read(self, path: str) -> str:
        full = self.full_path(path)
        if not full.is_file():
            raise RepoError(f"unknown file: {path}")
        try:
            data = full.read_bytes()
        except OSError as exc:
            raise RepoError(f"cannot read {path}: {exc.strerror}") from exc
        if looks_binary(data):
            raise RepoError(f"{path} is a binary file, not text")
        return data.decode("utf-8", "replace")

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
        lines = [escape_controls(base) or "."]
        for key in sorted(counts):
            level = key.rstrip("/").count("/")
            label = escape_controls(key.rstrip("/").rsplit("/", 1)[-1])  # a newline in a name must not forge a line
            lines.append("  " * (level + 1) + (f"{label}/ ({counts[key]} files)" if key.endswith("/") else label))
        return "\n".join(lines)

    # -- symbols ----------------------------------------------------------------------------

    _SYM = ("SELECT s.id, s.name, s.qualname, s.kind, f.lang, f.path, s.start_line, s.end_line, s.signature, "
            "s.doc, s.name_line, s.name_col FROM symbols s JOIN files f ON f.id = s.file_id")

    def _rows(self, sql: str, args: Any = ()) -> list[sqlite3.Row]:
        """Rows read by column name (only the read side: the index's writers keep plain tuples)."""
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, args).fetchall()

    @staticmethod
    def _def(r: sqlite3.Row) -> Definition:
        return Definition(r["name"], r["qualname"], r["kind"], r["lang"], r["path"], r["start_line"], r["end_line"],
                          r["signature"], r["doc"], r["name_line"], r["name_col"])

    def _match(self, name: str, kind: str | None = None, path: str | None = None) -> list[sqlite3.Row]:
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
        rows = self._rows(sql + " ORDER BY f.path, s.start_line", args)
        if path:
            rows = [r for r in rows if _glob_match(r["path"], path)]
        return rows

    def find_defs(self, name: str, kind: str | None = None, path: str | None = None) -> ResultList[Definition]:
        rows = self._match(name, kind, path)
        rows.sort(key=lambda r: (r["qualname"] != name, r["path"].count("/test") > 0, r["path"], r["start_line"]))
        return ResultList(self._def(r) for r in rows)

    def outline(self, path: str) -> ResultList[OutlineItem]:
        fid = self._file_id(path)
        rows = self._rows("SELECT id, parent_id, name, qualname, kind, start_line, end_line, name_line, name_col "
                          "FROM symbols WHERE file_id=? ORDER BY start_line, id", (fid,))
        items = {r["id"]: OutlineItem(r["name"], r["qualname"], r["kind"], r["start_line"], r["end_line"], [],
                                      r["name_line"], r["name_col"]) for r in rows}
        top = []
        for r in rows:
            (items[r["parent_id"]].children if r["parent_id"] in items else top).append(items[r["id"]])
        return ResultList(top)

    # -- calls ------------------------------------------------------------------------------

    _CALL = ("SELECT c.caller, c.name, f.path, c.line, c.col, c.text, c.resolution, c.target, "
             "cf.path AS caller_path, cs.start_line AS caller_start, cs.end_line AS caller_end, f.module "
             "FROM calls c JOIN files f ON f.id = c.file_id "
             "LEFT JOIN symbols cs ON cs.id = c.caller_id LEFT JOIN files cf ON cf.id = cs.file_id")

    def _constructors(self, classes: list[str]) -> list[sqlite3.Row]:
        """The constructors of these classes (qualnames): a call of a class is resolved to them."""
        if not classes:
            return []
        kinds = ",".join(f"'{k}'" for k in CONSTRUCTIBLE_KINDS)
        return self._rows(
            self._SYM + f" JOIN symbols p ON p.id = s.parent_id WHERE p.qualname IN ({','.join('?' * len(classes))}) "
            f"AND p.kind IN ({kinds}) AND s.kind IN ('method', 'function') "
            f"AND (s.name IN ({','.join('?' * len(CONSTRUCTORS))}) OR s.name = p.name)",
            [*classes, *CONSTRUCTORS])

    def _rows_in(self, sql: str, column: str, values, *extra) -> list[sqlite3.Row]:
        """`sql WHERE column IN values`, in chunks (SQLite caps the number of parameters)."""
        values, out = list(values), []
        for i in range(0, len(values), 500):
            part = values[i:i + 500]
            out += self._rows(f"{sql} WHERE {column} IN ({','.join('?' * len(part))}){''.join(extra)}", part)
        return out

    def _targets(self, symbol: str) -> list[sqlite3.Row]:
        """The definitions SYMBOL names, and for classes their constructors."""
        rows = [r for r in self._match(symbol) if r["kind"] not in ("variable", "constant")]
        ctors = self._constructors([r["qualname"] for r in rows if r["kind"] in CONSTRUCTIBLE_KINDS])
        return rows + [x for x in ctors if x not in rows]

    def callers_of(self, symbol: str) -> ResultList[Call]:
        targets = self._targets(symbol)
        if not targets:
            return ResultList()
        by_qual = {r["qualname"]: r for r in targets}
        out = self._rows_in(self._CALL, "c.target", by_qual)
        out += self._rows_in(self._CALL, "c.name", {r["name"] for r in targets},
                             " AND c.resolution = 'name' AND c.target IS NULL")
        by_name: dict[str, list[sqlite3.Row]] = {}
        for r in targets:
            by_name.setdefault(r["name"], []).append(r)
        calls = []
        for row in out:
            if row["resolution"] == "name" and row["target"] is None:
                cands = by_name.get(row["name"], [])
                callee = cands[0] if len(cands) == 1 else None
            else:  # resolved, or one of several targets value flow found (`name`)
                callee = by_qual.get(row["target"])
            calls.append(self._call(row, callee, row["target"] if callee is None and row["resolution"] != "name" else None))
        calls.sort(key=lambda c: (c.resolution != "resolved", c.path, c.line, c.column))
        return ResultList(calls)

    def _call(self, row: sqlite3.Row, callee: sqlite3.Row | None, fallback: str | None = None) -> Call:
        return Call(row["caller"], callee["qualname"] if callee else (fallback or row["target"] or row["name"]),
                    row["path"], row["line"], row["col"], row["text"], row["resolution"],
                    row["caller_path"] or row["path"], row["caller_start"] or 1, row["caller_end"] or 1,
                    callee["path"] if callee else "", callee["start_line"] if callee else 0,
                    callee["end_line"] if callee else 0)

    def callees_of(self, symbol: str, include_external: bool = False) -> ResultList[Call]:
        rows = self._match(symbol)
        ids = [r["id"] for r in rows]
        out = []
        if ids:
            out = self._rows(self._CALL + f" WHERE c.caller_id IN ({','.join('?' * len(ids))})", ids)
        if not rows or "." in symbol:  # a module name: its module-level code
            out += self._rows(self._CALL + " WHERE c.caller_id IS NULL AND f.module = ?", (symbol,))
        # the targets' definitions, looked up once for all call sites
        by_qual: dict[str, sqlite3.Row] = {}
        for r in self._rows_in(self._SYM, "s.qualname",
                               {row["target"] for row in out if row["resolution"] in ("resolved", "name") and row["target"]}):
            by_qual.setdefault(r["qualname"], r)
        by_name: dict[str, list[sqlite3.Row]] = {}
        for r in self._rows_in(self._SYM, "s.name", {row["name"] for row in out if row["resolution"] == "name"},
                               " AND s.kind NOT IN ('variable', 'constant')"):
            by_name.setdefault(r["name"], []).append(r)
        calls = []
        for row in out:
            resolution, target, name = row["resolution"], row["target"], row["name"]
            if resolution == "resolved" or (resolution == "name" and target):
                callee = by_qual.get(target)
            elif resolution == "name":
                cands = by_name.get(name, [])
                callee = cands[0] if len(cands) == 1 else None
            else:
                if include_external:
                    calls.append(self._call(row, None, target))
                continue
            calls.append(self._call(row, callee, target if resolution == "resolved" or target else name))
        calls.sort(key=lambda c: (c.path, c.line, c.column))
        return ResultList(calls)

    # -- references -------------------------------------------------------------------------

    def references(self, name: str, limit: int | None = None) -> ResultList[Reference]:
        """Every occurrence of the identifier `name` (the last part of a qualified name) as a word in
        source files (prose and config are for `grep`)."""
        word = name.replace("::", ".").rsplit(".", 1)[-1]
        if not IDENTIFIER.fullmatch(word):
            return ResultList()
        from .search import terms

        parts = terms(word, expand=False) or [word.lower()]
        match = " AND ".join(f'body:"{t}"' for t in parts)
        try:
            fids = {r["file_id"] for r in self._rows(
                "SELECT DISTINCT c.file_id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?",
                (match,))}
        except sqlite3.OperationalError:
            fids = {r["id"] for r in self._rows("SELECT id FROM files WHERE lang != 'skipped'")}
        fids |= {r["file_id"] for r in self._rows("SELECT file_id FROM symbols WHERE name = ?", (word,))}
        fl = list(fids)
        paths = [r["path"] for r in self._rows(
            f"SELECT path FROM files WHERE lang NOT IN ('text', 'skipped') AND id IN ({','.join('?' * len(fl))})", fl)]
        return self._scan(word, paths, limit)

    def _scan(self, word: str, paths: list[str], limit: int | None = None) -> ResultList[Reference]:
        """Occurrences of `word` in these files, each labelled from the index: definition, call, import or reference."""
        if not paths:
            return ResultList()
        where, args = "", []
        if len(paths) <= 500:  # only the labels of these files (a common name has thousands elsewhere)
            where, args = f" AND f.path IN ({','.join('?' * len(paths))})", list(paths)
        defs = {(r["path"], r["name_line"], r["name_col"]) for r in self._rows(
            "SELECT f.path, s.name_line, s.name_col FROM symbols s JOIN files f ON f.id=s.file_id WHERE s.name = ?" + where,
            [word, *args])}
        calls = {(r["path"], r["line"], r["col"]) for r in self._rows(
            "SELECT f.path, c.line, c.col FROM calls c JOIN files f ON f.id=c.file_id WHERE c.name = ?" + where, [word, *args])}
        imports = {(r["path"], r["line"]) for r in self._rows(
            "SELECT f.path, i.line FROM imports i JOIN files f ON f.id=i.file_id "
            "WHERE (i.name = ? OR i.alias = ? OR i.module LIKE ?)" + where, [word, word, "%" + word, *args])}
        # the literal comes first so that `re` can use its fast prefix search; the left edge is checked by hand
        pat = re.compile(re.escape(word) + r"(?![\w$])")
        langs = dict(self.conn.execute(f"SELECT f.path, f.lang FROM files f WHERE {where[5:]}", args)) if where else {}
        out = []
        dirs: dict = {}
        for path in sorted(set(paths)):
            try:
                text = self.full_path(path, dirs).read_bytes().decode("utf-8", "replace")
            except (OSError, RepoError):
                continue
            ln, pos = 1, 0  # line number of `pos`, advanced match by match (no split into lines)
            prose = None  # comments and strings of this file, parsed when a plain mention needs a label
            for m in pat.finditer(text):
                if m.start() > 0 and is_ident_char(text[m.start() - 1]):
                    continue
                ln += text.count("\n", pos, m.start())
                pos = m.start()
                start = text.rfind("\n", 0, pos) + 1
                end = text.find("\n", pos)
                line = text[start : end if end >= 0 else len(text)]
                key = (path, ln, pos - start + 1)
                kind = ("definition" if key in defs else "call" if key in calls
                        else "import" if (path, ln) in imports else "reference")
                if kind == "reference":
                    if prose is None:
                        prose = _prose_spans(text, langs.get(path) or self._lang(path))
                    kind = _prose_kind(prose, ln - 1, pos - start) or kind
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
        quals += [r["qualname"] for r in self._constructors([d.qualname for d in defs if d.kind in CONSTRUCTIBLE_KINDS])]
        marks = ",".join("?" * len(quals))
        paths = {d.path for d in defs}
        resolved = [(r["path"], r["line"], r["col"], r["text"]) for r in self._rows(
            f"SELECT f.path, c.line, c.col, c.text FROM calls c JOIN files f ON f.id = c.file_id WHERE c.target IN ({marks})",
            quals)]
        by_name = [(r["path"], r["line"], r["col"], r["text"]) for r in self._rows(
            "SELECT f.path, c.line, c.col, c.text FROM calls c JOIN files f ON f.id = c.file_id "
            "WHERE c.name = ? AND c.resolution = 'name' AND c.target IS NULL LIMIT ?",
            (word, limit if limit is not None else -1))]
        paths |= {p for p, _ln, _col, _text in resolved}
        for m in {q.rsplit(".", 1)[0] for q in quals}:  # importers of the module (a range scan of the index)
            paths |= {r["path"] for r in self._rows(
                "SELECT DISTINCT f.path FROM imports i JOIN files f ON f.id = i.file_id "
                "WHERE i.target = ? OR (i.target > ? AND i.target < ?)", (m, m + ".", m + "/"))}
        if len(paths) <= SCAN_LIMIT:
            out = list(self._scan(word, sorted(paths)))
        else:  # most of a large repository: the index's own positions, without reading files
            out = [Reference(d.path, d.name_line, d.name_column, d.signature, "definition") for d in defs]
            out += [Reference(p, ln, col, text, "call") for p, ln, col, text in resolved]
        seen = {(r.path, r.line, r.column) for r in out}
        # resolved calls under another local name (`from .auth import current_user as who; who()`)
        out += [Reference(p, ln, col, text, "call") for p, ln, col, text in resolved if (p, ln, col) not in seen]
        seen |= {(p, ln, col) for p, ln, col, _t in resolved}
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
        if i == len(line_text) or not is_ident_char(line_text[i]):
            if i > 0 and is_ident_char(line_text[i - 1]):
                i -= 1
            else:
                return "", 0
        s = i
        while s > 0 and is_ident_char(line_text[s - 1]):
            s -= 1
        e = i
        while e < len(line_text) and is_ident_char(line_text[e]):
            e += 1
        return line_text[s:e], s + 1

    def definition_at(self, path: str, line: int, column: int, line_text: str | None = None) -> ResultList[Definition]:
        word, start = self.word_at(path, line, column, line_text)
        if not word or word[0].isdigit():
            return ResultList()
        rel = self.relpath(path)
        rows = self._rows(self._SYM + " WHERE f.path = ? AND s.name_line = ? AND s.name = ? LIMIT 1", (rel, line, word))
        if rows:
            return ResultList([self._def(rows[0])])
        call = self._rows(
            "SELECT c.target, c.resolution FROM calls c JOIN files f ON f.id = c.file_id "
            "WHERE f.path = ? AND c.line = ? AND c.name = ? ORDER BY abs(c.col - ?) LIMIT 1", (rel, line, word, start))
        if call and call[0]["resolution"] in ("resolved", "name") and call[0]["target"]:
            rows = self._rows(self._SYM + " WHERE s.qualname = ?", (call[0]["target"],))
            if rows:
                return ResultList(self._def(r) for r in rows)
        imp = self._rows(
            "SELECT i.target FROM imports i JOIN files f ON f.id = i.file_id WHERE f.path = ? AND i.line = ? "
            "AND i.target IS NOT NULL AND (i.name = ? OR i.alias = ? OR i.module LIKE ?) LIMIT 1",
            (rel, line, word, word, "%" + word))
        if imp:
            target = imp[0]["target"]
            rows = self._rows(self._SYM + " WHERE s.qualname = ?", (target,))
            if rows:
                return ResultList(self._def(r) for r in rows)
            mod = self._rows("SELECT path FROM files WHERE module = ? AND lang != 'skipped' LIMIT 1", (target,))
            if mod:
                return ResultList([Definition(target.rsplit(".", 1)[-1], target, "module", "", mod[0]["path"], 1, 1, "", "", 1, 1)])
        rows = [r for r in self._match(word) if r["kind"] != "variable" or r["path"] == rel]
        targets = [r["target"] for r in self._rows(
            "SELECT i.target FROM imports i JOIN files f ON f.id = i.file_id WHERE f.path = ? AND i.target IS NOT NULL", (rel,))]

        def imported(qual: str) -> bool:
            return any(t == qual or qual.startswith(t + ".") or t.startswith(qual + ".") for t in targets)

        rows.sort(key=lambda r: (r["path"] != rel, not imported(r["qualname"]), r["path"]))
        return ResultList(self._def(r) for r in rows)

    def _lang(self, path: str) -> str:
        row = self.conn.execute("SELECT lang FROM files WHERE path = ?", (path,)).fetchone()
        return row[0] if row else ""

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
        found = self.definition_at(path, line, column, line_text)
        # the word may be a local alias of what it reaches (`who` for `current_user`): follow the index
        defs = [d for d in found if d.name == word] or [d for d in found if d.kind != "module"][:1]
        return self.symbol_references(defs, limit) if defs else self.references(word, limit)

    # -- search, grep, imports --------------------------------------------------------------

    def search(self, query: str, k: int = 20, mode: str | None = None) -> ResultList[SearchHit]:
        """Definitions and code ranked for a question. `mode`: lexical, semantic or hybrid; None
        means hybrid where this index has vectors (`embed()`), else lexical."""
        return self._ranked(query, k, mode, files=False)

    def search_files(self, query: str, k: int = 20, mode: str | None = None) -> ResultList[SearchHit]:
        """Files ranked for a question (localization): their chunks' scores aggregated."""
        return self._ranked(query, k, mode, files=True)

    def semantic_search(self, query: str, k: int = 20) -> ResultList[SearchHit]:
        """Definitions nearest in meaning to the query (embeddings; the `vectors` extra)."""
        return self._ranked(query, k, "semantic", files=False)

    def embed(self, model: str | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
        """Give every definition a vector for semantic search (cached per text, user-wide)."""
        from ..index import embed

        try:
            emb = self._embedder(model)
            return embed.update(self.conn, self.index_path, emb, progress)
        except embed.EmbeddingUnavailable as exc:
            raise RepoError(str(exc)) from None

    def _embedder(self, model: str | None = None):
        from ..index import embed

        name = model or os.environ.get("REPO_RLM_EMBEDDING_MODEL") or embed.DEFAULT_MODEL
        cached = getattr(self, "_embedder_cache", None)
        if cached is None or cached.name != name:
            cached = self._embedder_cache = embed.embedder(name)
        return cached

    def _ranked(self, query: str, k: int, mode: str | None, files: bool) -> ResultList[SearchHit]:
        from ..index import embed
        from .search import MODES, ranked

        if mode is not None and mode not in MODES:
            raise RepoError(f"unknown search mode {mode!r}: use {', '.join(MODES)}")
        vfile = embed.vectors_path(self.index_path)
        if mode is None:
            mode = "hybrid" if vfile.exists() else "lexical"
            if mode == "hybrid":
                try:
                    return ranked(self.conn, query, k, mode, files, vfile, self._embedder())
                except (embed.EmbeddingUnavailable, ImportError, OSError, ValueError) as exc:
                    _warn_once(f"semantic search unavailable ({exc}); using lexical search")
                    mode = "lexical"
        if mode == "lexical":
            return ranked(self.conn, query, k, mode, files)
        if not self.readonly:
            self.embed()  # semantic or hybrid asked for: bring the vectors up to date first (cheap when they are)
        elif not vfile.exists():
            raise RepoError("this index has no vectors yet: run `repo-rlm index --embed` (or `search --mode semantic`)")
        return ranked(self.conn, query, k, mode, files, vfile, self._embedder())

    def grep(self, pattern: str, glob: str | None = None, max_results: int = 200) -> ResultList[GrepHit]:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise RepoError(f"bad regular expression {pattern!r}: {exc}") from None
        out = []
        dirs: dict = {}
        for path in self.files(glob):
            try:
                text = self.full_path(path, dirs).read_bytes().decode("utf-8", "replace")
            except (OSError, RepoError):
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
            out = git.run(args, self.root, text=True, timeout=30)
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
                "WHERE s.kind IN ('function','method','class','lambda') ORDER BY f.path, s.start_line"):
            nodes.setdefault(qual, {"qualname": qual, "kind": kind, "path": path, "start_line": s, "end_line": e})
        for module, path, lines in self.conn.execute(
                "SELECT module, path, lines FROM files WHERE lang NOT IN ('text','skipped') AND module != ''"):
            nodes.setdefault(module, {"qualname": module, "kind": "module", "path": path, "start_line": 1, "end_line": lines})
        unique = {r[0]: r[1] for r in self.conn.execute(
            "SELECT name, MIN(qualname) FROM symbols WHERE kind IN ('function','method','class') GROUP BY name HAVING COUNT(*) = 1")}
        edges = []
        for caller, name, target, resolution, path, line, made in self.conn.execute(
                "SELECT c.caller, c.name, c.target, c.resolution, f.path, c.line, c.is_new FROM calls c "
                "JOIN files f ON f.id=c.file_id"):
            if resolution == "name" and not target:
                target = unique.get(name)
                if target is None:
                    continue
            if not target:
                continue
            edge = {"caller": caller, "callee": target, "resolution": resolution, "path": path, "line": line}
            if made == DECORATED:  # the function named at the call, reached through its decorator's wrapper
                edge["decorated"] = True
            edges.append(edge)
        return {"nodes": list(nodes.values()), "edges": edges}

    def callgraph_pycg(self) -> dict[str, list[str]]:
        """PyCG's format: every function, method, lambda and module is a key, its value the qualified
        names it calls, in first-call order (SPEC: a class call reaches `__init__`, never the class)."""
        graph = self.callgraph()
        classes = {n["qualname"] for n in graph["nodes"] if n["kind"] == "class"}
        cg: dict[str, list[str]] = {n["qualname"]: [] for n in graph["nodes"] if n["kind"] != "class"}
        for e in graph["edges"]:
            if e["callee"] in classes or e.get("decorated"):  # PyCG: the call reaches the wrapper only
                continue
            caller = e["caller"]
            while caller in classes and "." in caller:  # a class body's calls belong to what encloses it
                caller = caller.rsplit(".", 1)[0]
            lst = cg.setdefault(caller, [])
            if e["callee"] not in lst:
                lst.append(e["callee"])
        return cg


def _prose_spans(text: str, lang: str) -> list[tuple]:
    """((row, col), (row, col), kind) of the comments, docstrings and strings of a file, in order."""
    from ..index.languages import has_query, parser_for

    if not lang or lang in ("text", "skipped") or not has_query(lang):
        return []
    data = text.encode("utf-8", "replace")
    try:
        tree = parser_for(lang).parse(data)
    except Exception:  # a grammar that fails on this file: no labels, never an error
        return []
    out, stack = [], [tree.root_node]
    while stack:
        n = stack.pop()
        t = n.type
        if "comment" in t:
            out.append((n.start_point, n.end_point, "comment"))
        elif t in ("string", "string_literal", "interpreted_string_literal", "raw_string_literal", "template_string"):
            doc = lang == "python" and n.parent is not None and n.parent.type in ("block", "module", "expression_statement")
            out.append((n.start_point, n.end_point, "docstring" if doc else "string"))
        elif n.child_count:
            stack.extend(n.children)
    out.sort()
    return out


def _prose_kind(spans: list[tuple], row: int, col_chars: int) -> str | None:
    """`comment`, `docstring` or `string` when (row, character column) lies in one (columns are
    compared as characters: exact for ASCII lines, close enough otherwise)."""
    import bisect

    i = bisect.bisect_right(spans, ((row, col_chars), (1 << 30, 0), "~")) - 1
    while i >= 0:
        (sr, sc), (er, ec), kind = spans[i]
        if (sr, sc) <= (row, col_chars) < (er, ec):
            return kind
        if er < row:
            break
        i -= 1
    return None


def _glob_match(path: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if "/" not in pattern:
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return pattern.endswith("/**") and path.startswith(pattern[:-3] + "/")
