"""Build and update the index incrementally: only files whose content changed are parsed again.

The parent reads each changed file and takes the facts of its blob from the fact cache
(factcache.py); blobs not seen before are extracted in batches by an executor (executors.py: a
process pool, or Ray), whose results go into the cache. The parent places the facts at their
paths, writes each batch of files in its own transaction, then ties call sites to their
targets. A build killed at any point leaves a consistent index: unfinished files keep their old
facts and are redone next time. A fresh index of a git clone starts as a copy of another
clone's index of the same repository, so it costs the diff.

Resolution after a small update is by qualified target, not by name (invalidate.py): before a
changed file is written, its stored shape (definitions with kind and signature, bases, imports,
value-flow facts, all without positions) is compared with the new one. A changed file's calls
found again keep their targets unless something they may read changed (invalidate.carry_plan);
of the other files only those are resolved again whose stored calls, imports or bases target
what changed, whose unresolved calls a new definition may capture (or whose calls target the
same method in a class of the new one's MRO), that read a changed value through an unchanged
module, or that define a function whose parameters a changed call site passes (there, only the
calls that needed parameters' values). A body edit that changes no shape resolves nothing else,
and none of its own calls but new ones. A bulk update resolves everything.
"""
from __future__ import annotations

import contextlib
import copy
import os
import sqlite3
import stat
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Callable, Iterable

from . import discovery, executors, factcache, invalidate, store
from .resolve_base import MADE
from .languages import has_query, language_for
from .parse import FileFacts, extract, git_blob_id, module_name, name_words, place, text_facts
from .store import PARAMS_ONLY, UNRESOLVED_ONLY

Progress = Callable[[int, int, str], None]
DEFAULT_MAX_FILE_BYTES = int(os.environ.get("REPO_RLM_MAX_FILE_BYTES", 2_000_000))
BATCH = 200  # files written to the index per transaction
READ_AHEAD = 256  # files read and looked up in the fact cache at a time
TASK_FILES, TASK_BYTES = 48, 1 << 20  # one extraction task: this many files or bytes, whichever comes first
TASK_MIN_BYTES = 1 << 16  # ... or, for a few files, an eighth of their bytes but at least this
INPROCESS_LIMIT = 24  # fewer changed files than this are parsed without starting a pool


def _parts(ids: list[int], size: int = 500):
    """Slices of a list of ids short enough for one `IN (...)`."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _calls_in(conn: sqlite3.Connection, file_ids, only: str = "") -> int:
    """How many calls these files hold (`only`: a further condition on them)."""
    return sum(conn.execute(f"SELECT COUNT(*) FROM calls WHERE file_id IN ({','.join('?' * len(part))}){only}",
                            part).fetchone()[0] for part in _parts(sorted(file_ids)))


def _result_path(result: tuple) -> str:
    """The path of an update result: ("ok", facts), ("skip", path, ...) or ("same", size, mtime, path)."""
    return result[1].path if result[0] == "ok" else result[1] if result[0] == "skip" else result[3]


def _read(root: str, path: str, max_bytes: int) -> tuple:
    """Read and classify one file: ("data", bytes, blob, size, mtime) or ("skip", path, reason, blob, size, mtime)."""
    full = os.path.join(root, path)
    try:
        st = os.lstat(full)  # a symlink is not followed: it may lead out of the repository
        if not stat.S_ISREG(st.st_mode):
            return ("skip", path, "not_a_regular_file", "", st.st_size, st.st_mtime_ns)
        if st.st_size > max_bytes:
            return ("skip", path, "too_large", "", st.st_size, st.st_mtime_ns)
        with open(full, "rb") as fh:
            data = fh.read()
    except OSError:
        return ("skip", path, "unreadable", "", 0, 0)
    blob = git_blob_id(data)
    if discovery.looks_binary(data):
        return ("skip", path, "binary", blob, st.st_size, st.st_mtime_ns)
    nl = data.count(b"\n") + 1
    if len(data) > 20_000 and len(data) / nl > 400:
        return ("skip", path, "minified", blob, st.st_size, st.st_mtime_ns)
    return ("data", data, blob, len(data), st.st_mtime_ns)


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def index_version() -> str:
    """What the index's rows depend on besides the files: each language's extractor (see
    factcache.extractor_version) and the resolvers' code. Stored in `meta` after a full update."""
    import hashlib

    from .languages import EXTENSIONS

    h = hashlib.sha256()
    for lang in sorted(set(EXTENSIONS.values())):
        h.update(f"{lang}={factcache.extractor_version(lang)}\0".encode())
    here = Path(__file__).parent  # read, not imported: a re-check that finds nothing to do imports no resolver
    for name in ("resolve_python", "resolve_generic", "resolve_base", "invalidate", "names", "store"):
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


SEEDING = ".seeding-"  # INDEX.seeding-PID-THREAD: the copy a `seed` is making


def seed(root: Path, path: Path) -> str | None:
    """A new index at `path` (no file there yet) starts as a copy of the newest index of another
    clone of the same repository (the fact cache's registry names them), so that its first update
    re-reads only the files whose blob differs; the copy notes where it came from (meta
    `seeded_from`, which that update reports). Returns the repository key. The file is
    copied whole where it can be (store.copy_whole), else page by page from a read-only handle,
    under a name of this process's, and linked into place once finished, only if no index
    appeared there meanwhile (another process opening it too): an interrupted copy leaves none."""
    key = discovery.root_commits(root)
    if not key or path.exists():
        return key
    _drop_dead_seeds(path)
    for other in factcache.sibling_indexes(key):
        if other == str(path) or not os.path.isfile(other):
            continue
        tmp = f"{path}{SEEDING}{os.getpid()}-{threading.get_ident()}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # private, as the index
            if not store.copy_whole(Path(other), Path(tmp)):
                with contextlib.closing(sqlite3.connect(f"file:{other}?mode=ro", uri=True, timeout=5)) as src, \
                        contextlib.closing(sqlite3.connect(tmp)) as dst:
                    src.backup(dst)
            with contextlib.closing(sqlite3.connect(tmp)) as conn:
                if store.check(Path(tmp)) != "ours" or conn.execute(
                        "SELECT value FROM meta WHERE key='schema'").fetchone() != (store.SCHEMA_VERSION,):
                    continue
                if conn.execute("SELECT 1 FROM files WHERE resolved != 1 LIMIT 1").fetchone():
                    continue  # a build that did not finish: not a base to start from
                conn.execute("PRAGMA journal_mode=DELETE")  # written in place: nobody else has it open
                with conn:  # no stat of the other clone vouches for a file here: git's blob ids or a hash must
                    conn.execute("UPDATE files SET mtime_ns=0")
                    conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                                     [("repo_key", key), ("seeded_from", other)])
                conn.execute("PRAGMA journal_mode=WAL")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            return key
        except (OSError, sqlite3.Error):
            continue
        finally:
            _drop_seed(tmp)
    return key


def _drop_seed(tmp: str) -> None:
    for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm", f"{tmp}-journal"):
        with contextlib.suppress(OSError):
            os.unlink(leftover)


def _drop_dead_seeds(path: Path) -> None:
    """Copies left by a seed that was killed (their process is gone): 200 MB each on a large repository."""
    for tmp in path.parent.glob(f"{path.name}{SEEDING}*"):
        pid = tmp.name[len(path.name) + len(SEEDING):].split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _drop_seed(str(tmp))
        except OSError:
            pass  # alive (another user's), or not ours to judge


class Indexer:
    def __init__(self, root: Path, conn: sqlite3.Connection, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 executor: str = "auto", cache: factcache.FactCache | None = None) -> None:
        self._known: set[str] = set()  # paths the index held when this update started
        self._stored_files: dict[str, store.StoredFile] = {}
        self._old_facts: factcache.FactCache | None = None  # (an update) the fact cache, where it holds the stored rows' facts
        self._replace: set[str] = set()  # unchanged files placed again (their module name moved)
        self._carry: dict[str, tuple] = {}  # changed Python files -> (old shape, new shape)
        self._before: dict[str, invalidate.Shape | None] = {}  # stored shapes read ahead (None: taken)
        # files _recheck looked at, and changed files (carry_protocols, carry_imports) -> what to resolve besides new calls
        self._rechecked: dict[int, invalidate.Again] = {}
        self.root = root
        self.conn = conn
        self.max_file_bytes = max_file_bytes
        self.executor = executor
        self.cache = cache

    # -- planning ---------------------------------------------------------------------------

    def _stored(self) -> dict[str, store.StoredFile]:
        return store.stored_files(self.conn)

    def _plan(self, paths: Iterable[str] | None, stored: dict[str, store.StoredFile]) -> tuple[list[str], list[str], Counter, int]:
        """(files to parse, files to delete, skip counts, files seen), against the stored files."""
        if paths is None:
            found = discovery.discover(self.root)
            skipped, current = found.skipped, found.files
            gone = [p for p in stored if p not in current]
        else:  # a hint from an editor: just these files
            skipped, current = Counter(), {}
            for p in paths:
                real = discovery.inside(self.root, p)
                if real is not None and real.is_file() and discovery.skip_reason(p) is None:
                    current[p] = None
            gone = [p for p in paths if p in stored and not (self.root / p).exists()]
        todo, vanished = self._changed(current, stored)
        return todo, gone + vanished, skipped, len(current) - len(vanished)

    def _changed(self, current: dict[str, str | None], stored: dict[str, store.StoredFile]) -> tuple[list[str], list[str]]:
        """(files whose content may have changed, tracked files deleted from the work tree).

        A file whose size and mtime match the index is unchanged: no read, no git. Where they
        differ but git's index holds the same blob as ours, a few files are simply hashed again
        (same content: only the stat is updated); many, after a checkout, are settled by
        `git diff-files`, which is run only then because it is slow on a fresh clone.
        """
        todo, vanished, vouch = [], [], []
        root = os.path.join(self.root, "")  # a string prefix: a Path per file costs a re-check 20 ms on 2,000 files
        for path, blob in current.items():
            old = stored.get(path)
            if old is None:
                todo.append(path)
                continue
            try:
                st = os.stat(root + path)
            except OSError:
                vanished.append(path)
                continue
            if (st.st_size, st.st_mtime_ns) == (old.size, old.mtime_ns):
                continue
            if blob is not None and blob == old.blob:
                vouch.append((path, st))
            else:
                todo.append(path)
        if 0 < len(vouch) <= 64:  # a few: reading and hashing them is cheaper than asking git
            todo += [p for p, _st in vouch]
        elif vouch:
            modified = discovery.git_modified(self.root)
            same = [(st.st_size, st.st_mtime_ns, p) for p, st in vouch if p not in modified]
            todo += [p for p, _st in vouch if p in modified]
            if same:  # remember the new stat, so the next check is stat-only again
                with self.conn:
                    self.conn.executemany("UPDATE files SET size=?, mtime_ns=? WHERE path=?", same)
        return todo, vanished

    # -- the update -------------------------------------------------------------------------

    def update(self, paths: Iterable[str] | None = None, progress: Progress | None = None,
               first: Callable[[], Iterable[str]] | None = None) -> dict:
        """Bring the index up to date. Writers of one index take turns (store.write_lock), each
        planning against what the one before it wrote: two never insert the same file.
        `first`, polled during the build, names files wanted now (an editor's open documents):
        they are parsed and written ahead of their turn, so queries about them answer early."""
        with store.write_lock(self.conn):
            return self._update(paths, progress, first)

    def _update(self, paths: Iterable[str] | None, progress: Progress | None,
                first: Callable[[], Iterable[str]] | None) -> dict:
        t0, c0 = time.perf_counter(), time.process_time()
        stored = self._stored()  # the one read of the files table
        repo_key = self._repo_key(fresh=not stored) if paths is None else None
        seeded = _meta(self.conn, "seeded_from") if paths is None else None  # a copy of a sibling's index (seed)
        # Facts and targets made by another repo-rlm (an upgrade, or a seed from an older clone's
        # index): every file is read and resolved again; the fact cache is keyed by version too.
        version = index_version()
        stale = paths is None and bool(stored) and _meta(self.conn, "index_version") != version
        if stale:
            stored = {p: sf._replace(blob="", size=-1) for p, sf in stored.items()}
        todo, gone, skipped, seen = self._plan(paths, stored)
        self._known = set(stored)
        self._carry, self._before, self._rechecked = {}, {}, {}
        gone_set = set(gone)
        package_dirs = {p.rsplit("/", 1)[0] if "/" in p else "" for p in (*stored, *todo)
                        if (p == "__init__.py" or p.endswith("/__init__.py")) and p not in gone_set}
        self._replace = self._moved_modules(stored, package_dirs, gone_set) if paths is None else set()
        package_dirs |= {p for p in (*stored, *todo) if (p == "go.mod" or p.endswith("/go.mod")) and p not in gone_set}
        todo += sorted(self._replace - set(todo))
        self._stored_files = stored
        bulk = stale or len(todo) > max(store.BULK_FILES, len(stored) // 5) or self._unfinished()
        # What the changed files changed, old shape against new: the rest is resolved again only where it reads that.
        changed: invalidate.Changes | None = None if bulk else invalidate.Changes()
        if changed is not None:
            for p in gone:
                self._shape(changed, p, None)
        if gone:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                for p in gone:
                    self._delete(p)
        done = updated = 0
        # A fresh build (an empty index, or far more new files than old): fill the tables first and
        # build their indexes once at the end; sorting once is several times cheaper than row by row.
        fresh = len(todo) > store.BULK_FILES and (not stored or (len(todo) > 2000 and len(todo) > 2 * len(stored)))
        self._in_place = not fresh  # (a row found by file without an index is a scan of its table)
        if fresh:
            store.drop_secondary_indexes(self.conn)
        batch: list[tuple] = []
        touched: list[tuple] = []  # same content, new stat: (size, mtime_ns, path)
        t_plan = time.perf_counter()
        if self.cache is not None:
            cache = self.cache
        else:  # opened only when there is something to read (a re-check that finds nothing changed never does)
            cache = factcache.FactCache.open() if todo else factcache.FactCache(None, None, 0, why=None)
        pending = set(todo) if first is not None else set()
        early: set[str] = set()
        next_poll = 0.0

        def take(result: tuple) -> None:
            """Queue one result for writing (a touched file only has its stat remembered)."""
            nonlocal changed, updated
            if result[0] == "same":
                touched.append(result[1:])
                return
            if changed is not None:
                self._shape(changed, _result_path(result), result[1] if result[0] == "ok" else None)
            batch.append(result)
            updated += result[0] == "ok"

        # the fact cache holds what the stored rows were made from when the extractor is the same
        self._old_facts = cache if _meta(self.conn, "index_version") == version else None
        read_ahead = self._read_ahead(todo)

        def idle() -> bool:
            """While the executor extracts (an update's few files): write what came back, else
            read the stored shape of a file still being extracted. False when nothing is left."""
            if batch:
                self._write(batch)
                batch.clear()
                return True
            return read_ahead()

        for result in self._facts(todo, package_dirs, stored, cache, idle if changed is not None else None):
            done += 1
            path = _result_path(result)
            pending.discard(path)
            if path in early:
                continue
            take(result)
            wanted: list[str] = []
            if pending and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 0.05
                wanted = [p for p in first() if p in pending]  # type: ignore[misc]
                for p in wanted:  # written now; their turn in the stream is skipped
                    early.add(p)
                    pending.discard(p)
                    take(self._one(p, package_dirs, stored, cache))
            if len(batch) >= BATCH or wanted:
                self._write(batch)
                batch.clear()
            if progress:
                progress(done, len(todo), "parse")
        if batch:
            self._write(batch)
        if touched:
            with self.conn:
                self.conn.executemany("UPDATE files SET size=?, mtime_ns=? WHERE path=?", touched)
        if fresh:
            store.create_secondary_indexes(self.conn, skip=store.RESOLVED_INDEXES)
        cache.evict()
        if self.cache is None:
            cache.close()
        t_parse, c_parse = time.perf_counter(), time.process_time()
        resolved = self._resolve(changed, progress)
        if fresh:  # fold the build's large WAL into the database now, not into the next small update
            store.create_secondary_indexes(self.conn)
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        t_resolve, c_resolve = time.perf_counter(), time.process_time()
        for reason, n in self.conn.execute("SELECT module, COUNT(*) FROM files WHERE lang='skipped' GROUP BY module"):
            skipped[reason] += n
        if repo_key and (updated or gone or not self._known or seeded):  # the newest index of a repository first
            factcache.register_index(repo_key, self._db_path())
        if paths is None and _meta(self.conn, "index_version") != version:
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('index_version', ?)", (version,))
        if seeded:  # reported once
            with self.conn:
                self.conn.execute("DELETE FROM meta WHERE key = 'seeded_from'")
        report = {
            "updated_files": updated,
            "deleted_files": len(gone),
            "seen_files": seen,
            "skipped": dict(skipped),
            "seconds": round(time.perf_counter() - t0, 3),
            "phases": {"plan": round(t_plan - t0, 3), "parse_and_write": round(t_parse - t_plan, 3),
                       "resolve": round(t_resolve - t_parse, 3)},
            # CPU of this process (workers not included): steadier than wall time on a busy machine
            "phases_cpu": {"until_written": round(c_parse - c0, 3), "resolve": round(c_resolve - c_parse, 3)},
            "fact_cache": cache.report() | ({"seeded_from": seeded} if seeded else {}),
            # resolved again: files changed here, and unchanged files that read what they changed
            "resolved": resolved,
        }
        return report

    # -- another clone of the same repository ---------------------------------------------------

    def _unfinished(self) -> bool:
        """Did an earlier update stop between writing files and resolving? What those files changed
        is not known any more: this update resolves every file again."""
        return self.conn.execute("SELECT 1 FROM files WHERE resolved != 1 AND lang NOT IN ('text', 'skipped') "
                                 "LIMIT 1").fetchone() is not None

    def _moved_modules(self, stored: dict[str, store.StoredFile], package_dirs: set[str], gone: set[str]) -> set[str]:
        """Python files whose module name moves because an `__init__.py` came or went: placed again."""
        before = {p.rsplit("/", 1)[0] if "/" in p else "" for p in stored
                  if p == "__init__.py" or p.endswith("/__init__.py")}
        if before == package_dirs:
            return set()
        return {p for p, m in self.conn.execute("SELECT path, module FROM files WHERE lang='python'")
                if p not in gone and module_name(p, "python", package_dirs) != m}

    def _db_path(self) -> str:
        return next((r[2] for r in self.conn.execute("PRAGMA database_list") if r[1] == "main"), "")

    def _repo_key(self, fresh: bool) -> str | None:
        """Which repository this is, whatever the clone: its root commits (kept in meta after the first build)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='repo_key'").fetchone()
        if row is not None or not fresh:
            return row[0] if row else None
        key = discovery.root_commits(self.root)
        if key:
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('repo_key', ?)", (key,))
        return key

    def _classify(self, path: str, stored: dict[str, store.StoredFile]) -> tuple:
        """Read one file: a result ready as it is (skip, same content, plain text), or
        ("code", path, lang, data, blob, mtime) for the extractor."""
        r = _read(str(self.root), path, self.max_file_bytes)
        if r[0] == "skip":
            return r
        _, data, blob, size, mtime = r
        old = stored.get(path)
        if old is not None and old.blob == blob and old.lang != "skipped" and path not in self._replace:
            return ("same", size, mtime, path)
        lang = language_for(path) or "text"
        if lang == "text" or not has_query(lang):
            f = text_facts(path, data, lang)
            f.mtime_ns = mtime
            return ("ok", f)
        return ("code", path, lang, data, blob, mtime)

    def _one(self, path: str, package_dirs: set[str], stored: dict[str, store.StoredFile],
             cache: factcache.FactCache) -> tuple:
        """One file's result, here and now (an editor's open document during a build)."""
        r = self._classify(path, stored)
        if r[0] != "code":
            return r
        _, path, lang, data, blob, mtime = r
        hit = cache.get_many([(blob, lang)]).get((blob, lang))
        f = place(copy.copy(hit) if hit is not None else extract(lang, data, blob), path,
                  module_name(path, lang, package_dirs))
        f.mtime_ns = mtime
        return ("ok", f)

    def _facts(self, todo: list[str], package_dirs: set[str], stored: dict[str, store.StoredFile],
               cache: factcache.FactCache, idle: executors.Idle = None):
        """For each path: ("ok", placed facts), ("skip", path, reason, blob, size, mtime) or ("same", size, mtime, path).

        Files are read here; facts of blobs the cache holds are placed at once, the others are
        extracted in batches by the executor and written to the cache as they come back.
        """
        ready, waiting = deque(), {}  # waiting: (blob, lang) -> [(path, module, mtime)]

        def batches():
            task: list = []
            task_bytes = 0
            for i in range(0, len(todo), READ_AHEAD):
                code: list = []
                for path in todo[i:i + READ_AHEAD]:
                    r = self._classify(path, stored)
                    if r[0] == "code":
                        code.append(r[1:])
                    else:
                        ready.append(r)
                hits = cache.get_many(list({(c[3], c[1]) for c in code} - waiting.keys()))  # a blob sent already is waited for
                # a few files to extract (an update) go out in small tasks: the workers finish together
                # and the last result, written after them, is small
                size = max(TASK_MIN_BYTES, min(TASK_BYTES, sum(len(c[2]) for c in code if (c[3], c[1]) not in hits) // 8))
                for path, lang, data, blob, mtime in code:
                    key, module = (blob, lang), module_name(path, lang, package_dirs)
                    if key in hits:  # a shallow copy each: place() replaces defs, nothing else is changed
                        f = place(copy.copy(hits[key]), path, module)
                        f.mtime_ns = mtime
                        ready.append(("ok", f))
                    elif key in waiting:  # the same content at another path: extracted once
                        waiting[key].append((path, module, mtime))
                    else:
                        waiting[key] = [(path, module, mtime)]
                        task.append((blob, lang, data))
                        task_bytes += len(data)
                        if len(task) >= TASK_FILES or task_bytes >= size:
                            yield task
                            task, task_bytes = [], 0
                yield []  # let the consumer drain what is ready
            if task:
                yield task

        ex = executors.make(self.executor, len(todo), INPROCESS_LIMIT)
        try:
            for result in ex.map(batches(), idle):
                while ready:
                    yield ready.popleft()
                cache.put_many(result)
                for blob, lang, enc in result:
                    facts = factcache.decode(blob, enc)
                    for path, module, mtime in waiting.pop((blob, lang), ()):
                        f = place(copy.copy(facts), path, module)
                        f.mtime_ns = mtime
                        yield ("ok", f)
            while ready:
                yield ready.popleft()
        finally:
            ex.close()

    def _delete(self, path: str, new_chunks: list[tuple] | None = None, keep: int | None = None) -> dict[int, int]:
        """Delete a file's rows. Of the full-text rows of its chunks, those whose text comes back
        (`new_chunks`: (position, name, path, signature, doc, body)) are kept, not tokenized out and
        in again: most of a changed file's definitions are unchanged. `keep`: the file's id, whose
        row and call sites stay (`_write_calls` updates them in place). Returns position -> kept id."""
        if keep is not None:
            fid = keep
        elif path not in self._known:
            return {}
        else:
            row = self.conn.execute("SELECT id FROM files WHERE path=?", (path,)).fetchone()
            if row is None:
                return {}
            (fid,) = row
        kept: dict[int, int] = {}
        if new_chunks:
            old: dict[tuple, list[int]] = {}  # text -> chunk ids; what is left in it goes
            for cid, *text in self.conn.execute("SELECT c.id, t.name, t.path, t.signature, t.doc, t.body FROM chunks c "
                                                "JOIN chunks_fts t ON t.rowid = c.id WHERE c.file_id = ?", (fid,)):
                old.setdefault(tuple(text), []).append(cid)
            for pos, *text in new_chunks:
                if old.get(tuple(text)):
                    kept[pos] = old[tuple(text)].pop()
            self.conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for ids in old.values() for i in ids])
        else:
            self.conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id=?)", (fid,))
        if keep is None:
            self.conn.execute("DELETE FROM files WHERE id=?", (fid,))  # the rest cascades
            return kept
        for table in ("bases", "symbols", "imports", "binds", "chunks"):
            self.conn.execute(f"DELETE FROM {table} WHERE file_id=?", (fid,))
        self.conn.execute(f"DELETE FROM calls WHERE file_id=? AND is_new >= {MADE}", (fid,))  # made again by the resolve
        return kept

    def _write(self, batch: list[tuple]) -> None:
        """Replace the facts of a batch of files in one transaction."""
        c = self.conn
        with c:
            c.execute("BEGIN IMMEDIATE")
            next_sym = c.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM symbols").fetchone()[0]
            next_chunk = c.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0]
            for result in batch:
                if result[0] == "skip":
                    _, path, reason, blob, size, mtime = result
                    self._delete(path)
                    # remember it, so that an unchanged skipped file is not read again
                    c.execute("INSERT INTO files(path, lang, module, blob, size, mtime_ns, lines, resolved) "
                              "VALUES(?, 'skipped', ?, ?, ?, ?, 0, 1)", (path, reason, blob, size, mtime))
                    continue
                f: FileFacts = result[1]
                texts = [(i, name_words(f.defs[d][0], f.defs[d][1]) if d >= 0 else "", f.path,
                          f.defs[d][7] if d >= 0 else "", f.defs[d][8] if d >= 0 else "", body)
                         for i, (d, _s, _e, body) in enumerate(f.chunks)]
                same = self._old_id(f.path) if f.lang == "python" and self._in_place else None  # its calls stay in place
                same = same if same is not None and self._stored_files[f.path].lang == f.lang else None
                kept = self._delete(f.path, texts, keep=same)
                values = (f.lang, f.module, f.package, f.blob, f.size, f.mtime_ns, f.lines, int(f.parse_error))
                if same is not None:
                    fid = same
                    c.execute("UPDATE files SET lang=?, module=?, package=?, blob=?, size=?, mtime_ns=?, lines=?, "
                              "parse_error=?, resolved=0 WHERE id=?", (*values, fid))
                else:
                    fid = c.execute("INSERT INTO files(path, lang, module, package, blob, size, mtime_ns, lines, "
                                    "parse_error, resolved) VALUES(?,?,?,?,?,?,?,?,?,0)", (f.path, *values)).lastrowid
                base = next_sym
                next_sym += len(f.defs)
                sym_rows = []
                for i, (name, qual, kind, s, e, nl, nc, sig, doc, parent) in enumerate(f.defs):
                    sym_rows.append((base + i, fid, base + parent if parent >= 0 else None, name, qual, kind, s, e, nl, nc, sig, doc))
                c.executemany("INSERT INTO symbols VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", sym_rows)
                quals = [d[1] for d in f.defs]
                self._write_calls(fid, [(fid, base + s if s >= 0 else None, quals[s] if s >= 0 else f.module, ct, n, ln,
                                         col, tx, int(new)) for s, ct, n, ln, col, tx, new in f.calls],
                                  same is not None, self._carry.get(f.path, (None,))[0])
                c.executemany(
                    "INSERT INTO imports(file_id, scope_id, module, name, alias, line, level) VALUES(?,?,?,?,?,?,?)",
                    [(fid, base + s if s >= 0 else None, m, n, a, ln, lv) for s, m, n, a, ln, lv in f.imports])
                c.executemany("INSERT INTO bases(symbol_id, file_id, base) VALUES(?,?,?)",
                              [(base + d, fid, b) for d, b in f.bases])
                c.executemany("INSERT INTO binds VALUES(?,?,?,?,?,?)",
                              [(fid, base + s if s >= 0 else None, n, k, v, ln) for s, n, k, v, ln in f.binds])
                chunk_rows, fts_rows = [], []
                for (d, s, e, _body), (i, *text) in zip(f.chunks, texts):
                    cid = kept.get(i)
                    if cid is None:
                        cid = next_chunk
                        next_chunk += 1
                        fts_rows.append((cid, *text))
                    chunk_rows.append((cid, fid, base + d if d >= 0 else None, s, e))
                c.executemany("INSERT INTO chunks VALUES(?,?,?,?,?)", chunk_rows)
                c.executemany("INSERT INTO chunks_fts(rowid, name, path, signature, doc, body) VALUES(?,?,?,?,?,?)", fts_rows)

    def _write_calls(self, fid: int, rows: list[tuple], in_place: bool, before: invalidate.Shape | None) -> None:
        """Insert a file's call sites; `in_place`: a changed file's, over its stored ones. A call found
        again (same caller, callee text, name and kind) keeps its row, and with it its target, which
        invalidate.carry_targets keeps or clears: most of a changed file's calls are unchanged, and
        their rows, new, would be new entries in the calls table's name and target indexes, spread
        over the whole of them (the 66k calls of a checkout of sympy's HEAD~50: 1.2 s of SQLite, 0.4 s so).
        `before`: the file's stored shape (`_shape`), whose rows are the stored ones: not read again."""
        c = self.conn
        if in_place:
            if before is not None:  # (Shape.calls: caller, callee, name, line, col, is_new, ..., id)
                stored = [(r[-1], r[0], r[1], r[2], r[5]) for r in before.calls if r[5] < MADE]
            else:  # a bulk update shapes no file
                stored = c.execute(f"SELECT id, caller, callee_text, name, is_new FROM calls WHERE file_id = ? "
                                   f"AND is_new < {MADE}", (fid,)).fetchall()
            old: dict[tuple, list[int]] = {}
            for cid, *key in sorted(stored, reverse=True):  # by id, the last first: pop() takes the first
                old.setdefault(tuple(key), []).append(cid)
            moved, fresh = [], []
            for r in rows:
                ids = old.get((r[2], r[3], r[4], r[8]))
                if ids:
                    moved.append((r[1], r[5], r[6], r[7], ids.pop()))
                else:
                    fresh.append(r)
            c.executemany("UPDATE calls SET caller_id=?, line=?, col=?, text=? WHERE id=?", moved)
            c.executemany("DELETE FROM calls WHERE id=?", [(i,) for ids in old.values() for i in ids])
            rows = fresh
        c.executemany("INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, is_new) "
                      "VALUES(?,?,?,?,?,?,?,?,?)", rows)

    def _old_id(self, path: str) -> int | None:
        """The id of a file's stored facts, if it has code facts."""
        known = self._stored_files.get(path) if path in self._known else None
        return known.id if known is not None and known.lang not in ("text", "skipped") else None

    def _read_ahead(self, todo: list[str]) -> Callable[[], bool]:
        """Work for the wait on extraction: the stored shape of one more file being extracted,
        read before its new facts come back (`_shape` takes it). False when none is left."""
        ahead = iter(todo)

        def idle() -> bool:
            for path in ahead:
                old = self._old_id(path)
                if old is not None and path not in self._before:
                    self._before[path] = self._stored_shape(path, old)
                    return True
            return False
        return idle

    def _shape(self, changes: invalidate.Changes, path: str, new: FileFacts | None) -> None:
        """Note what a file's new facts change against its stored ones (see invalidate.py)."""
        old = self._old_id(path)
        new = new if new is not None and new.lang != "text" else None
        ahead = self._before.pop(path, None)
        self._before[path] = None  # shaped: nothing to read ahead for it any more
        if old is None and new is None:  # plain text is nobody's definitions
            return
        before = ahead or self._stored_shape(path, old) if old is not None else None
        after = invalidate.facts_shape(new) if new is not None else None
        if before is not None and after is not None and new.lang == "python":
            self._carry[path] = (before, after)  # its calls found again may keep their targets (_resolve)
            changes.note_calls(before)
            if before.same(after):  # a body edit: nothing another file reads changed
                return
        changes.add(before, after, new.module if new is not None else self._module_of(old),
                    new.lang if new is not None else self._stored_files[path].lang)

    def _stored_shape(self, path: str, file_id: int) -> invalidate.Shape:
        """A changed file's stored shape, from the fact cache's facts of its old blob when it has them."""
        known, cached = self._stored_files[path], None
        if self._old_facts is not None:
            cached = self._old_facts.get_many([(known.blob, known.lang)], count=False).get((known.blob, known.lang))
        return invalidate.stored_shape(self.conn, file_id, cached)

    def _module_of(self, file_id: int) -> str:
        return (self.conn.execute("SELECT module FROM files WHERE id=?", (file_id,)).fetchone() or ("",))[0]

    def _resolve(self, changed: invalidate.Changes | None, progress: Progress | None) -> dict:
        """Tie calls to targets in new files, and in the unchanged files that read what changed
        (all of them after a bulk update). Returns the counts of files and calls resolved."""
        c = self.conn
        count = {"files": 0, "calls": 0, "changed_files": 0, "other_files": 0, "params_only_files": 0,
                 "carried_calls": 0, "carried_imports": 0, "kept_calls": 0}
        with c:
            c.execute("BEGIN IMMEDIATE")
            if changed is None:
                c.execute("UPDATE files SET resolved=0 WHERE lang NOT IN ('text', 'skipped')")
            mine = {r[0] for r in c.execute("SELECT id FROM files WHERE resolved=0 AND lang NOT IN ('text', 'skipped')")}
            count["changed_files"] = len(mine)
            whole = invalidate.files_to_resolve(c, changed) if changed else set()
            params: dict[int, set[int]] = {}  # file -> definitions whose calls that needed parameters' values
            partly: dict[int, set[int]] = {}  # are resolved again: in this update, and in the next _resolve_marked
            for path, (before, after) in self._carry.items():  # changed files: calls found again keep their targets
                row = c.execute("SELECT id FROM files WHERE path = ? AND resolved = 0", (path,)).fetchone()
                if row is not None:
                    plan = invalidate.carry_plan(before, after, changed)
                    count["carried_calls"] += invalidate.carry_targets(c, row[0], before.calls, plan)
                    again = self._rechecked[row[0]] = invalidate.carry_protocols(c, row[0], before, plan)
                    count["carried_imports"] += invalidate.carry_imports(c, row[0], before, plan, changed, again)
                    c.execute(f"UPDATE files SET resolved = {UNRESOLVED_ONLY} WHERE id = ?", row)
            if changed:  # the other files found: Python's resolve only the calls that may read what changed
                whole -= self._recheck(whole - changed.found.get("callback", set()), mine, changed, count)
                self._mark(whole)  # parameters whose values moved: their functions (by the calls' old targets first)
                partly = self._mark_params(invalidate.argument_scopes(c, changed, mine, before=True), params)
            partial = {r[0] for r in c.execute(f"SELECT id FROM files WHERE resolved IN ({PARAMS_ONLY}, {UNRESOLVED_ONLY})")}
            done = self._resolve_marked(progress, count, partly)
            if changed and changed.arg_calls:  # ... and by their new ones (a changed file's kept targets too)
                partly = self._mark_params(invalidate.argument_scopes(c, changed, mine), params, skip=done - partial)
                done |= self._resolve_marked(None, count, partly)
            count["other_files"] = count["files"] - count["changed_files"]
        return count

    def _recheck(self, ids: set[int], mine: set[int], changed: invalidate.Changes, count: dict) -> set[int]:
        """Unchanged Python files the rules found, when they hold more calls than the changed files
        (`mine`) do: resolved as changed ones, only their calls that may read what changed
        (invalidate.recheck_calls). Reading a file's stored facts to tell costs about as much as
        resolving it again where the changed files' resolve has loaded what it reads already; it
        pays where an edit of a hub finds hundreds of files. Returns their ids."""
        out = set()
        for part in _parts(sorted(ids)):
            out.update(r[0] for r in self.conn.execute(
                f"SELECT id FROM files WHERE resolved = 1 AND lang = 'python' AND id IN ({','.join('?' * len(part))})", part))
        if _calls_in(self.conn, out) <= _calls_in(self.conn, mine):
            return set()
        for fid in sorted(out):
            kept, self._rechecked[fid] = invalidate.recheck_calls(self.conn, fid, changed)
            count["kept_calls"] += kept
            self.conn.execute(f"UPDATE files SET resolved = {UNRESOLVED_ONLY} WHERE id = ?", (fid,))
        return out

    def _mark(self, ids: set[int]) -> None:
        """Unchanged files to resolve again, whole."""
        for part in _parts(sorted(ids)):
            self.conn.execute(f"UPDATE files SET resolved = 0 WHERE resolved = 1 AND lang NOT IN ('text', 'skipped') "
                              f"AND id IN ({','.join('?' * len(part))})", part)

    def _mark_params(self, found: dict[int, set[int]], params: dict[int, set[int]],
                     skip: set[int] = frozenset()) -> dict[int, set[int]]:
        """Functions whose parameters' values moved (file -> definitions, invalidate.argument_scopes),
        but not in files resolved whole (`skip`, or marked so) nor those in `params` (what this
        update marked so far, which grows): their calls that needed parameters' values are resolved
        again. An unchanged file is marked PARAMS_ONLY; a changed one keeps its plan
        (invalidate.carry_plan covers what the rules look for) and those of its calls are unsettled.
        Returns the definitions of the files marked PARAMS_ONLY, for _resolve_marked."""
        todo = {fid: scopes - params.get(fid, set()) for fid, scopes in found.items() if fid not in skip}
        todo = {fid: scopes for fid, scopes in todo.items() if scopes}
        marked: dict[int, set[int]] = {}
        for part in _parts(sorted(todo)):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(f"SELECT id, resolved FROM files WHERE resolved IN (1, {UNRESOLVED_ONLY}) "
                                     f"AND lang = 'python' AND id IN ({marks})", part).fetchall()
            self.conn.executemany(f"UPDATE files SET resolved = {PARAMS_ONLY} WHERE id = ?",
                                  [(fid,) for fid, how in rows if how == 1])
            edited = {fid: todo[fid] for fid, how in rows if how == UNRESOLVED_ONLY}
            invalidate.unsettle_params(self.conn, edited)
            for fid, how in rows:
                params.setdefault(fid, set()).update(todo[fid])
                if how == 1:
                    marked[fid] = todo[fid]
        return marked

    def _resolve_marked(self, progress: Progress | None, count: dict, partly: dict[int, set[int]]) -> set[int]:
        """Resolve the files marked: whole (resolved = 0), the calls with no target (UNRESOLVED_ONLY),
        and in those of `partly` (the PARAMS_ONLY files) their definitions' calls that needed
        parameters' values. Returns their ids."""
        c = self.conn
        py = [r[0] for r in c.execute("SELECT id FROM files WHERE resolved=0 AND lang='python'")]
        fresh = [r[0] for r in c.execute(f"SELECT id FROM files WHERE resolved={UNRESOLVED_ONLY} AND lang='python'")]
        other = [r[0] for r in c.execute("SELECT id FROM files WHERE resolved=0 AND lang NOT IN ('python', 'text', 'skipped')")]
        if not (py or partly or fresh or other):  # (a re-check that finds nothing imports no resolver)
            c.execute("UPDATE files SET resolved=1 WHERE resolved != 1")
            return set()
        from . import resolve_base, resolve_generic, resolve_python

        if progress:
            progress(0, 1, "resolve")
        count["files"] += len(py) + len(partly) + len(fresh) + len(other)
        count["params_only_files"] += len(partly)
        count["calls"] += (_calls_in(c, py + other) + _calls_in(c, fresh, " AND resolution IS NULL")
                           + sum(c.execute(f"SELECT COUNT(*) FROM calls WHERE via_params = 1 AND is_new < 2 AND {where}",
                                           args).fetchone()[0] for where, args in resolve_base.scopes_clauses(partly)))
        with store.small_page_cache(c):
            if py or partly or fresh:
                resolve_python.resolve_files(c, py, partly, fresh, self._rechecked)
            if other:
                resolve_generic.resolve_files(c, other)
        c.execute("UPDATE files SET resolved=1 WHERE resolved != 1")
        if progress:
            progress(1, 1, "resolve")
        return set(py) | set(partly) | set(fresh) | set(other)
