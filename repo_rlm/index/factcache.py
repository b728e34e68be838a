"""The per-blob fact cache: what extraction found in a blob, stored once for every index of the user.

Facts are a function of a blob's content, its language and the extractor (parse.py and the
language's query), never of its path (parse.place adds the module prefix), so another clone,
branch or commit of a repository parses only blobs not seen before. The store is one SQLite
database (WAL, busy timeout: several builds may write at once) under the user cache directory
(`XDG_CACHE_HOME` honoured), or `REPO_RLM_FACT_CACHE` (a directory, or `off`). Entries are
checksummed; one that fails its checksum or does not decode is dropped and recomputed. Its size
is bounded (`REPO_RLM_FACT_CACHE_MB`, default 2048): the least recently used entries go first.
The cache is an optimisation only: when it cannot be opened or written (read-only, disk full,
written by a newer repo-rlm), indexing goes on without it and says so once.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
import sys
import time
import zlib
from functools import lru_cache
from pathlib import Path

from .parse import FileFacts

FORMAT = 1  # layout of the database and of an entry; a database of a higher format is left alone
EXTRACTOR_VERSION = 1  # bump when extraction changes in a way the hashed sources below do not show
DEFAULT_MB = 2048
TOUCH_EVERY = 86_400  # a hit refreshes an entry's last use at most once a day (fewer writes)
_said: set[str] = set()


def say_once(message: str) -> None:
    """One line on stderr per distinct message and process."""
    if message not in _said:
        _said.add(message)
        print(f"repo-rlm: {message}", file=sys.stderr, flush=True)


@lru_cache(maxsize=None)
def _grammars() -> bytes:
    """The tree-sitter packages' versions, from their dist-info names (importlib.metadata would
    scan every installed distribution: 0.1-0.3 s)."""
    from importlib.util import find_spec

    names = []
    for mod in ("tree_sitter", "tree_sitter_language_pack"):
        spec = find_spec(mod)
        if spec is not None and spec.origin:
            site = Path(spec.origin).parent.parent
            names += sorted(p.name for p in site.glob(f"{mod}-*.dist-info"))
    return " ".join(names).encode()


@lru_cache(maxsize=None)
def extractor_version(lang: str) -> str:
    """What facts of `lang` depend on besides the blob: the extractor code, its query, the grammars."""
    from . import languages, parse, pyflow

    h = hashlib.sha256(f"{EXTRACTOR_VERSION}\0{lang}\0".encode())
    h.update(Path(parse.__file__).read_bytes())
    h.update(Path(pyflow.__file__).read_bytes())  # Python's value-flow facts are extracted there
    if languages.has_query(lang):
        h.update(languages.query_source(lang).encode())
    h.update(_grammars())
    return h.hexdigest()[:16]


def default_dir() -> Path | None:
    env = os.environ.get("REPO_RLM_FACT_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false") else Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("repo-rlm")) / "facts"


def encode(f: FileFacts) -> bytes:
    """Facts as compressed marshal data with a checksum in front (marshal: fast, and it runs no code)."""
    body = zlib.compress(marshal.dumps((FORMAT, f.lang, f.package, f.lines, f.size, bool(f.parse_error), f.relative,
                                        f.defs, f.calls, f.imports, f.bases, f.binds, f.chunks)), 1)
    return zlib.crc32(body).to_bytes(4, "big") + body


def decode(blob: str, data: bytes) -> FileFacts:
    """The facts of an entry; ValueError when it is corrupt."""
    if len(data) < 4 or zlib.crc32(data[4:]).to_bytes(4, "big") != data[:4]:
        raise ValueError("checksum mismatch")
    try:
        v = marshal.loads(zlib.decompress(data[4:]))
        fmt, lang, package, lines, size, perr, relative, defs, calls, imports, bases, binds, chunks = v
    except Exception as exc:  # noqa: BLE001 - any failure to decode means: do not trust it
        raise ValueError(f"undecodable entry: {exc}") from None
    if fmt != FORMAT or not all(isinstance(x, list) for x in (defs, calls, imports, bases, binds, chunks)):
        raise ValueError("unexpected entry layout")
    f = FileFacts("", lang, "", blob, size, lines, package, 0, perr, defs, calls, imports, bases, binds, chunks)
    f.relative = relative
    return f


class FactCache:
    """Open with `FactCache.open()`; every method degrades to a miss / no-op once the cache is unusable."""

    def __init__(self, conn: sqlite3.Connection | None, path: Path | None, limit_bytes: int, why: str | None = "off") -> None:
        self.conn, self.path, self.limit_bytes = conn, path, limit_bytes
        self.hits = self.misses = self.dropped = self.written = 0
        self._counted: set[tuple[str, str]] = set()  # keys already counted: a blob at several paths counts once
        self.disabled: str | None = None if conn is not None else why

    @classmethod
    def open(cls, directory: Path | None = None, limit_mb: float | None = None) -> "FactCache":
        directory = directory if directory is not None else default_dir()
        if limit_mb is None:
            try:
                limit_mb = float(os.environ.get("REPO_RLM_FACT_CACHE_MB", DEFAULT_MB))
            except ValueError:
                limit_mb = DEFAULT_MB
        limit = int(limit_mb * 1024 * 1024)
        if directory is None:
            return cls(None, None, limit)
        path = directory / "facts.db"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=10000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before the first table: lets eviction shrink the file
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
            row = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if row is not None and int(row[0]) > FORMAT:
                conn.close()
                say_once(f"fact cache at {directory} was written by a newer repo-rlm (format {row[0]}); indexing without it")
                return cls(None, path, limit, "written by a newer repo-rlm")
            conn.execute("CREATE TABLE IF NOT EXISTS facts(blob TEXT NOT NULL, lang TEXT NOT NULL, version TEXT NOT NULL, "
                         "data BLOB NOT NULL, size INTEGER NOT NULL, used INTEGER NOT NULL, "
                         "PRIMARY KEY(blob, lang, version)) WITHOUT ROWID")
            conn.execute("CREATE INDEX IF NOT EXISTS facts_used ON facts(used)")
            if row is None:
                conn.execute("INSERT OR IGNORE INTO meta VALUES('format', ?)", (str(FORMAT),))
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            say_once(f"fact cache at {directory} is unusable ({_reason(exc)}); indexing without it")
            return cls(None, path, limit, _reason(exc))
        return cls(conn, path, limit)

    def _fail(self, exc: Exception) -> None:
        self.disabled = _reason(exc)
        say_once(f"fact cache at {self.path.parent if self.path else '?'} is unusable ({self.disabled}); indexing without it")
        try:
            self.conn.close()
        except sqlite3.Error:
            pass
        self.conn = None

    def get_many(self, keys: list[tuple[str, str]], count: bool = True) -> dict[tuple[str, str], FileFacts]:
        """(blob, lang) -> facts for the keys found intact; corrupt entries are deleted. `count`:
        in the hits and misses reported (not for the old blob of a changed file)."""
        found: dict[tuple[str, str], FileFacts] = {}
        if self.conn is None or not keys:
            return found
        now = int(time.time())
        stale, bad = [], []
        try:
            by_lang: dict[str, list[str]] = {}
            for blob, lang in keys:
                by_lang.setdefault(lang, []).append(blob)
            for lang, blobs in by_lang.items():
                ver = extractor_version(lang)
                for i in range(0, len(blobs), 500):
                    part = blobs[i:i + 500]
                    rows = self.conn.execute(
                        f"SELECT blob, data, used FROM facts WHERE lang=? AND version=? AND blob IN ({','.join('?' * len(part))})",
                        (lang, ver, *part))
                    for blob, data, used in rows:
                        try:
                            found[(blob, lang)] = decode(blob, data)
                        except ValueError:
                            bad.append((blob, lang, ver))
                            continue
                        if now - used > TOUCH_EVERY:
                            stale.append((now, blob, lang, ver))
            if bad or stale:
                with _tx(self.conn):
                    self.conn.executemany("DELETE FROM facts WHERE blob=? AND lang=? AND version=?", bad)
                    self.conn.executemany("UPDATE facts SET used=? WHERE blob=? AND lang=? AND version=?", stale)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                self._fail(exc)
        except sqlite3.Error as exc:
            self._fail(exc)
        if not count:
            return found
        fresh = set(keys) - self._counted
        self._counted |= fresh
        self.hits += len(fresh & found.keys())
        self.misses += len(fresh - found.keys())
        self.dropped += len(bad)
        return found

    def put_many(self, entries: list[tuple[str, str, bytes]]) -> None:
        """Store encoded facts: (blob, lang, encode(facts))."""
        if self.conn is None or not entries:
            return
        now = int(time.time())
        try:
            with _tx(self.conn):
                self.conn.executemany("INSERT OR REPLACE INTO facts VALUES(?,?,?,?,?,?)",
                                      [(b, lang, extractor_version(lang), d, len(d), now) for b, lang, d in entries])
                self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'bytes'",
                                  (sum(len(d) for _b, _l, d in entries),))
            self.written += len(entries)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):  # another writer held on too long: skip this batch
                self._fail(exc)
        except sqlite3.Error as exc:
            self._fail(exc)

    def size(self) -> int:
        """The bytes of facts stored, exactly: a scan of every entry, data and all."""
        return self.conn.execute("SELECT COALESCE(SUM(size), 0) FROM facts").fetchone()[0] if self.conn else 0

    def evict(self) -> int:
        """Drop the least recently used entries until the cache is under 90% of its bound (after writes only).
        Under the bound it reads one number: `meta.bytes`, the bytes written since the last exact count
        added to it (never less than what is stored: replaced and deleted entries are not taken off).
        Summing the entries' sizes read every page of the cache, data included (up to 2 GB), after
        every edit: sympy's 37 MB took 3 ms where the OS had them cached, 0.2 s where it had not."""
        if self.conn is None or not self.written:
            return 0
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'bytes'").fetchone()
            if row is not None and int(row[0]) <= self.limit_bytes:
                return 0
            dropped = 0
            with _tx(self.conn):  # counted and trimmed with other writers held off: the count stays exact
                total = self.size()
                if total > self.limit_bytes:
                    goal = total - int(self.limit_bytes * 0.9)
                    victims = []
                    for blob, lang, ver, size in self.conn.execute("SELECT blob, lang, version, size FROM facts ORDER BY used"):
                        if goal <= 0:
                            break
                        victims.append((blob, lang, ver))
                        goal -= size
                        total -= size
                    self.conn.executemany("DELETE FROM facts WHERE blob=? AND lang=? AND version=?", victims)
                    dropped = len(victims)
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES('bytes', ?)", (str(total),))
            if dropped:
                self.conn.execute("PRAGMA incremental_vacuum")
            return dropped
        except sqlite3.Error as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                self._fail(exc)
            return 0

    def report(self) -> dict:
        out = {"hits": self.hits, "misses": self.misses, "written": self.written, "dropped": self.dropped}
        if self.disabled:
            out["disabled"] = self.disabled
        return out

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _tx:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            self.conn.execute("ROLLBACK")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]


# -- which indexes exist for a repository: a new clone can start from one -------------------------


def _registry() -> sqlite3.Connection | None:
    directory = default_dir()
    if directory is None:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(directory / "indexes.db"), timeout=5, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("CREATE TABLE IF NOT EXISTS indexes(path TEXT PRIMARY KEY, repo_key TEXT NOT NULL, used INTEGER NOT NULL)")
        return conn
    except (sqlite3.Error, OSError):
        return None


def register_index(repo_key: str, path: str) -> None:
    """Remember that the index at `path` holds a clone of the repository `repo_key` (best effort)."""
    conn = _registry()
    if conn is None or not path:
        return
    try:
        conn.execute("INSERT OR REPLACE INTO indexes VALUES(?,?,?)", (path, repo_key, int(time.time())))
    except sqlite3.Error:
        pass
    finally:
        conn.close()


def sibling_indexes(repo_key: str) -> list[str]:
    """Indexes of other clones of `repo_key`, the most recently updated first."""
    conn = _registry()
    if conn is None:
        return []
    try:
        return [r[0] for r in conn.execute("SELECT path FROM indexes WHERE repo_key=? ORDER BY used DESC LIMIT 8", (repo_key,))]
    except sqlite3.Error:
        return []
    finally:
        conn.close()

