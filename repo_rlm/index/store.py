"""The SQLite index: a plain schema anyone can open with `sqlite3` and read.

WAL mode lets a reader (the language server, a REPL worker) query while a writer (the CLI)
updates. Every file's facts are written in one transaction with the file row, so a killed
build leaves each file either at its old version or its new one, never half.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

SCHEMA_VERSION = "3"
# An update of more files than this is a bulk update: the build and the resolvers load whole
# tables up front instead of looking rows up file by file.
BULK_FILES = 200

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
  resolved INTEGER NOT NULL DEFAULT 0   -- 1 once its calls were tied to targets
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
-- builtin | external, NULL until resolved.
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
  resolution TEXT
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
CREATE INDEX IF NOT EXISTS binds_file ON binds(file_id);

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


def create_secondary_indexes(conn: sqlite3.Connection) -> None:
    with conn:
        for stmt in _index_statements():
            conn.execute(stmt)


class IndexError_(Exception):
    """The index cannot be opened or is not ours."""


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the index. Read-only connections use `immutable=1` so a read-only mount works."""
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            conn.execute("SELECT 1 FROM meta LIMIT 1")
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def init(conn: sqlite3.Connection) -> None:
    """Create the schema, or start over when an older schema version is found."""
    row = None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.OperationalError:
        pass
    except sqlite3.DatabaseError as exc:
        raise IndexError_(f"the index file is not a SQLite database ({exc}); delete it or pass --index") from exc
    if row is not None and row[0] != SCHEMA_VERSION:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'chunks_fts_%'")]
        with conn:
            for t in tables:
                conn.execute(f"DROP TABLE IF EXISTS {t}")
    with conn:
        conn.executescript(SCHEMA)
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
