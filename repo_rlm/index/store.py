"""The SQLite index: a plain schema anyone can open with `sqlite3` and read.

WAL mode lets a reader (the language server, a REPL worker) query while a writer (the CLI)
updates. Every file's facts are written in one transaction with the file row, so a killed
build leaves each file either at its old version or its new one, never half.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: writers are not serialised
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = "4"
# An update of more files than this is a bulk update: the build and the resolvers load whole
# tables up front instead of looking rows up file by file.
BULK_FILES = 200
PAGE_CACHE_KIB = 65536  # SQLite's page cache per connection
RESOLVE_PAGE_CACHE_KIB = 8192  # ... while resolving (see small_page_cache)
# files.resolved: 0 to resolve whole, 1 resolved; during an update's resolve (one transaction), a file
# whose calls that needed parameters' values are to be resolved again, or a changed file whose
# calls not kept by invalidate.carry_targets are (no target yet).
PARAMS_ONLY, UNRESOLVED_ONLY = 2, 3
APPLICATION_ID = 0x52524C4D  # "RRLM" in the SQLite header (PRAGMA application_id): this file is our index
LEGACY_TABLES = {"meta", "files", "symbols", "calls", "imports", "chunks"}  # indexes from before the id

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);

-- One row per discovered file. blob: git's blob id of the content (also for untracked files).
CREATE TABLE IF NOT EXISTS files(
  id INTEGER PRIMARY KEY,
  path TEXT UNIQUE NOT NULL,       -- relative to the repository root, '/' separators
  lang TEXT NOT NULL,              -- parser language, or 'text'
  module TEXT NOT NULL DEFAULT '', -- qualified-name prefix (Python import path, package, ...)
  package TEXT NOT NULL DEFAULT '',-- declared package/namespace, where the language has one
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL DEFAULT 0,
  lines INTEGER NOT NULL,
  parse_error INTEGER NOT NULL DEFAULT 0,
  resolved INTEGER NOT NULL DEFAULT 0   -- 1 once its calls were tied to targets (2, 3: see PARAMS_ONLY)
);

-- Definitions. parent_id: the enclosing definition.
CREATE TABLE IF NOT EXISTS symbols(
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  parent_id INTEGER,
  name TEXT NOT NULL,
  qualname TEXT NOT NULL,
  kind TEXT NOT NULL,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  name_line INTEGER NOT NULL,
  name_col INTEGER NOT NULL,
  signature TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name);
CREATE INDEX IF NOT EXISTS symbols_qualname ON symbols(qualname);
CREATE INDEX IF NOT EXISTS symbols_file ON symbols(file_id);

-- Call sites. caller_id NULL: module-level code. target: qualified name reached
-- ('<builtin>.x' / '<external>.x' outside the repository), resolution: resolved | name |
-- builtin | external, NULL until resolved. via_params: 1 where Python's resolver needed the values
-- passed to parameters (its second pass): only such a call can move when arguments elsewhere do.
CREATE TABLE IF NOT EXISTS calls(
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  caller_id INTEGER,
  caller TEXT NOT NULL,
  callee_text TEXT NOT NULL,
  name TEXT NOT NULL,
  line INTEGER NOT NULL,
  col INTEGER NOT NULL,
  text TEXT NOT NULL,
  is_new INTEGER NOT NULL DEFAULT 0,
  target TEXT,
  resolution TEXT,
  via_params INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS calls_name ON calls(name);
CREATE INDEX IF NOT EXISTS calls_target ON calls(target);
CREATE INDEX IF NOT EXISTS calls_file ON calls(file_id);
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller_id);

-- Imports. level: Python's leading dots. target: the module or symbol it reaches, if known.
CREATE TABLE IF NOT EXISTS imports(
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  scope_id INTEGER,
  module TEXT NOT NULL,
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  line INTEGER NOT NULL,
  level INTEGER NOT NULL,
  target TEXT
);
CREATE INDEX IF NOT EXISTS imports_file ON imports(file_id);
CREATE INDEX IF NOT EXISTS imports_target ON imports(target);
CREATE INDEX IF NOT EXISTS imports_module ON imports(module);

-- Class inheritance: base as written, target once resolved.
CREATE TABLE IF NOT EXISTS bases(
  symbol_id INTEGER NOT NULL REFERENCES symbols(id) ON DELETE CASCADE,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  base TEXT NOT NULL,
  target TEXT
);
CREATE INDEX IF NOT EXISTS bases_symbol ON bases(symbol_id);
CREATE INDEX IF NOT EXISTS bases_file ON bases(file_id);

-- Local bindings that type receivers: x = Foo(), x: Foo, self.x = Foo(), x = other.name.
CREATE TABLE IF NOT EXISTS binds(
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  scope_id INTEGER,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  line INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS binds_file ON binds(file_id, kind, line);

-- Full-text search: one row per definition body, class header or window of other lines.
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  symbol_id INTEGER,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  name, path, signature, doc, body, detail=column, tokenize="unicode61"
);
"""


def _index_statements() -> list[str]:
    return [ln.strip() for ln in SCHEMA.splitlines() if ln.strip().startswith("CREATE INDEX")]


def drop_secondary_indexes(conn: sqlite3.Connection) -> None:
    """Before a bulk load: inserting into bare tables and indexing once is several times faster."""
    with conn:
        for stmt in _index_statements():
            conn.execute("DROP INDEX IF EXISTS " + stmt.split("EXISTS ")[1].split(" ")[0])


# Indexes of what resolution writes: a fresh build creates them after resolving (no reads need them before).
RESOLVED_INDEXES = ("calls_target", "imports_target")


def create_secondary_indexes(conn: sqlite3.Connection, skip: tuple[str, ...] = ()) -> None:
    with conn:
        for stmt in _index_statements():
            if stmt.split("EXISTS ")[1].split(" ")[0] not in skip:
                conn.execute(stmt)


class IndexError_(Exception):
    """The index cannot be opened or is not ours."""


def _statements(script: str) -> list[str]:
    out, cur = [], ""
    for line in script.splitlines(keepends=True):
        cur += line
        if sqlite3.complete_statement(cur):
            out.append(cur.strip())
            cur = ""
    return out


def _open_ro(path: Path) -> sqlite3.Connection:
    """A read-only handle; `immutable=1` where a read-only directory keeps SQLite from reading a WAL database."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        conn = sqlite3.connect(uri + "?immutable=1", uri=True, check_same_thread=False)
    return conn


def _kind(conn: sqlite3.Connection, path: Path) -> str:
    """What the database is: 'new' (empty), 'ours' (an index of this schema), 'old' (an index of ours
    with another schema, rebuilt). Anything else raises IndexError_: it is never written to."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        schema = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() if "meta" in names else None
    except sqlite3.DatabaseError as exc:
        raise IndexError_(f"{path} is not a repo-rlm index ({exc}); pass another --index") from None
    # indexes written before the application id was set: the meta row and our tables
    legacy = app_id == 0 and schema is not None and LEGACY_TABLES <= names
    if app_id == APPLICATION_ID or legacy:
        return "ours" if schema is not None and schema[0] == SCHEMA_VERSION else "old"
    if app_id == 0 and not names:
        return "new"
    raise IndexError_(f"{path} is not a repo-rlm index (another application's SQLite database); "
                      "pass another --index")


def check(path: Path) -> str:
    """The kind of database at path ('new' when there is no file yet; 'ours' may still hold an old
    schema), judged without writing anything: the header first (the application id), then, for
    a file without one, an `immutable` view (no locks, no -wal or -shm files)."""
    if not path.exists():
        return "new"
    if not path.is_file():
        raise IndexError_(f"{path} is not a repo-rlm index (not a file); pass another --index")
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise IndexError_(f"cannot open the index at {path}: {exc.strerror}") from None
    if not head:
        return "new"
    if not head.startswith(b"SQLite format 3\x00") or len(head) < 100:
        raise IndexError_(f"{path} is not a repo-rlm index (not a SQLite database); pass another --index")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id == APPLICATION_ID:  # ours: the schema is judged under the write transaction (init)
        return "ours"
    if app_id != 0:
        raise IndexError_(f"{path} is not a repo-rlm index (another application's SQLite database); "
                          "pass another --index")
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise IndexError_(f"cannot open the index at {path}: {exc}") from None
    try:
        return _kind(conn, path)
    finally:
        conn.close()


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the index, after checking that the file is one of ours (or new): another application's
    database is refused before anything is written to it."""
    check(path)
    if readonly:
        conn = _open_ro(path)
        if _kind(conn, path) != "ours":
            conn.close()
            raise IndexError_(f"{path} is not an up-to-date repo-rlm index; run `repo-rlm index` first")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        _set_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


@contextlib.contextmanager
def small_page_cache(conn: sqlite3.Connection):
    """Resolution reads each table once into its own maps: SQLite's page cache, sized for the
    writes, would only add to the build's peak memory (about 50 MB on a large repository)."""
    size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size=-{RESOLVE_PAGE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size={size}")


def _set_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """WAL mode. Switching a new database to it needs an exclusive lock, and SQLite answers a
    second process doing the same at that moment with "locked" at once (no busy wait): retry."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def init(conn: sqlite3.Connection) -> None:
    """Create the schema and mark the file as ours, or start over when it holds an older schema of
    ours. One transaction: two processes opening a new index at once both succeed."""
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:")
    conn.execute("PRAGMA foreign_keys=OFF")  # dropping an old schema must not cascade table by table
    try:
        _init(conn, path)
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


def _complete(conn: sqlite3.Connection) -> bool:
    """Ours, this schema, marked, with every secondary index (a killed fresh build may lack them)."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    wanted = {stmt.split("EXISTS ")[1].split(" ")[0] for stmt in _index_statements()}
    return conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID and wanted <= names


def _init(conn: sqlite3.Connection, path: Path) -> None:
    if _kind(conn, path) == "ours" and _complete(conn):  # the common case: no write lock needed
        return
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        kind = _kind(conn, path)
        if kind == "ours":
            for stmt in _index_statements():
                conn.execute(stmt)
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")  # an index from before the id
            return
        if kind == "old":
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                 "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'chunks_fts_%'")]
            for t in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{t}"')
        for stmt in _statements(SCHEMA):
            conn.execute(stmt)
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?)", (SCHEMA_VERSION,))


class StoredFile(NamedTuple):
    """What an update compares a file on disk against."""

    id: int
    blob: str
    size: int
    mtime_ns: int
    lang: str


def stored_files(conn: sqlite3.Connection) -> dict[str, StoredFile]:
    """Every file the index holds, by path (one read of the files table)."""
    return {r[0]: StoredFile(*r[1:]) for r in conn.execute("SELECT path, id, blob, size, mtime_ns, lang FROM files")}


def _lock_file(db: str) -> int:
    """The file an index's writers take turns on (an flock on INDEX.lock), opened."""
    return os.open(db + ".lock", os.O_RDWR | os.O_CREAT, 0o600)


def copy_whole(src: Path, dst: Path) -> bool:
    """Copy the index file `src` over `dst` as a file: with its writers held off (its write lock,
    taken only if free) and its WAL folded in first (PASSIVE: never waiting for readers), the
    file alone is the whole index. Several times faster than SQLite's backup, which goes page by
    page (220 MB: 0.08 s against 0.5 s). False when it cannot be done so: a writer at work, a
    reader still on older pages, no write access to fold the WAL; nothing is copied then."""
    if fcntl is None:
        return False
    try:
        check(src)  # raises for another application's database: never touched, not even folded
        fd = _lock_file(str(src))
    except (OSError, IndexError_):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        conn = sqlite3.connect(f"{src.resolve().as_uri()}?mode=rw", uri=True, timeout=0.2)
        try:
            busy, log, folded = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or log != folded:
                return False
            shutil.copyfile(src, dst)
            return True
        finally:
            conn.close()
    except (OSError, sqlite3.Error):
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_lock(conn: sqlite3.Connection):
    """Serialise the updates of one index across processes and threads (an flock on INDEX.lock):
    an update plans against what the previous one wrote, so two writers never insert the same file."""
    name = conn.execute("PRAGMA database_list").fetchone()[2]
    if not name or fcntl is None:
        yield
        return
    fd = _lock_file(name)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
