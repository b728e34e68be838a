"""The per-blob fact cache and the executors: path-free facts, clones and commits that cost their
diff, faults (corrupt entry, newer cache, unusable or full cache dir, concurrent writers), LRU
eviction, and Ray on a local cluster building the same index as the process pool."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from repo_rlm.index import factcache, store
from repo_rlm.index.build import Indexer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CLI = [sys.executable, "-m", "repo_rlm.cli"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture()
def origin(tmp_path: Path) -> Path:
    """Both fixtures in one git repository with two commits: the second moves one file and edits another."""
    dst = tmp_path / "origin"
    shutil.copytree(FIXTURES, dst)
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "one")
    git(dst, "mv", "pyapp/src/shop/util/helpers.py", "pyapp/src/shop/util/tools.py")
    models = dst / "pyapp/src/shop/models.py"
    models.write_text(models.read_text() + "\n\ndef added_later():\n    return Admin()\n")
    git(dst, "commit", "-qam", "two")
    return dst


def clone(origin: Path, dest: Path, rev: str) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(dest))
    git(dest, "checkout", "-q", rev)
    return dest


def cli_index(repo: Path, db: Path, cache: Path | str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "REPO_RLM_FACT_CACHE": str(cache), **(env or {})}
    return subprocess.run([*CLI, "--repo", str(repo), "--index", str(db), "index", "--json", *extra],
                          capture_output=True, text=True, env=e, timeout=600)


def contents(db: Path) -> dict[str, list]:
    """Everything an index holds, without row ids, in a stable order."""
    c = sqlite3.connect(db)
    q = {
        "files": "SELECT path, lang, module, package, blob, size, lines, parse_error FROM files ORDER BY path",
        "symbols": "SELECT f.path, s.name, s.qualname, s.kind, s.start_line, s.end_line, s.name_line, s.name_col, "
                   "s.signature, s.doc, p.qualname FROM symbols s JOIN files f ON f.id=s.file_id "
                   "LEFT JOIN symbols p ON p.id=s.parent_id ORDER BY 1, 5, 6, 7, 8, 3",
        "calls": "SELECT f.path, c.caller, c.callee_text, c.name, c.line, c.col, c.text, c.is_new, c.target, c.resolution "
                 "FROM calls c JOIN files f ON f.id=c.file_id ORDER BY 1, 5, 6, 3, 9",
        "imports": "SELECT f.path, i.module, i.name, i.alias, i.line, i.level, i.target FROM imports i "
                   "JOIN files f ON f.id=i.file_id ORDER BY 1, 5, 2, 3, 4",
        "bases": "SELECT f.path, s.qualname, b.base, b.target FROM bases b JOIN files f ON f.id=b.file_id "
                 "JOIN symbols s ON s.id=b.symbol_id ORDER BY 1, 2, 3",
        "binds": "SELECT f.path, b.name, b.kind, b.value, b.line FROM binds b JOIN files f ON f.id=b.file_id ORDER BY 1, 5, 2, 3, 4",
        "chunks": "SELECT f.path, ch.start_line, ch.end_line, s.qualname, x.name, x.path, x.signature, x.doc, x.body "
                  "FROM chunks ch JOIN files f ON f.id=ch.file_id LEFT JOIN symbols s ON s.id=ch.symbol_id "
                  "JOIN chunks_fts x ON x.rowid=ch.id ORDER BY 1, 2, 3, 4",
    }
    out = {k: c.execute(sql).fetchall() for k, sql in q.items()}
    c.close()
    return out


def report(run: subprocess.CompletedProcess) -> dict:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def code_blobs(repo: Path) -> int:
    from repo_rlm.index.languages import has_query, language_for

    blobs = set()  # distinct (blob, language): a blob at two paths is extracted once
    for rec in git(repo, "ls-files", "-s").splitlines():
        meta, path = rec.split("\t", 1)
        lang = language_for(path) or "text"
        if has_query(lang):
            blobs.add((meta.split()[1], lang))
    return len(blobs)


def test_a_clone_at_another_commit_costs_its_diff(origin: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = clone(origin, tmp_path / "a", "HEAD~1")
    b = clone(origin, tmp_path / "b", "HEAD")
    first = report(cli_index(a, tmp_path / "a.db", cache))
    assert first["fact_cache"]["hits"] == 0 and first["fact_cache"]["misses"] == first["fact_cache"]["written"] == code_blobs(a)
    # commit two: the new clone starts from a's index; helpers.py moved (a hit at its new path), models.py edited (the one parse)
    second = report(cli_index(b, tmp_path / "b.db", cache))
    assert second["fact_cache"] == {"hits": 1, "misses": 1, "written": 1, "dropped": 0, "seeded_from": str(tmp_path / "a.db")}
    assert second["updated_files"] == 2 and second["deleted_files"] == 1
    with sqlite3.connect(tmp_path / "b.db") as c:  # the cached facts were placed at the new path
        quals = {q for (q,) in c.execute("SELECT qualname FROM symbols WHERE name='slugify'")}
    assert "shop.util.tools.slugify" in quals and "shop.util.helpers.slugify" not in quals
    # the index is the one a build without any cache makes, and a's index is untouched
    report(cli_index(b, tmp_path / "b-nocache.db", "off"))
    assert contents(tmp_path / "b.db") == contents(tmp_path / "b-nocache.db")
    report(cli_index(a, tmp_path / "a-nocache.db", "off"))
    assert contents(tmp_path / "a.db") == contents(tmp_path / "a-nocache.db")


def test_a_seed_is_the_same_copied_whole_or_page_by_page(origin: Path, tmp_path: Path) -> None:
    """A new clone's index starts as a copy of another clone's (build.seed): the file itself when
    no writer holds that index, else (its writers' lock held here, as by a build at work) page by
    page. The same index either way, private, no temporary file left, the other index untouched."""
    import fcntl

    cache = tmp_path / "cache"
    a, b = clone(origin, tmp_path / "a", "HEAD~1"), clone(origin, tmp_path / "b", "HEAD")
    report(cli_index(a, tmp_path / "a.db", cache))
    before = contents(tmp_path / "a.db")
    whole = report(cli_index(b, tmp_path / "b1.db", cache))
    locks = [os.open(f"{tmp_path / name}.lock", os.O_RDWR | os.O_CREAT) for name in ("a.db", "b1.db")]
    try:
        for fd in locks:
            fcntl.flock(fd, fcntl.LOCK_EX)
        paged = report(cli_index(b, tmp_path / "b2.db", cache))
    finally:
        for fd in locks:
            os.close(fd)
    assert whole["fact_cache"]["seeded_from"] == str(tmp_path / "a.db")
    assert paged["fact_cache"]["seeded_from"] in (str(tmp_path / "a.db"), str(tmp_path / "b1.db"))
    report(cli_index(b, tmp_path / "b-nocache.db", "off"))
    assert contents(tmp_path / "b1.db") == contents(tmp_path / "b2.db") == contents(tmp_path / "b-nocache.db")
    assert contents(tmp_path / "a.db") == before
    assert all((tmp_path / f"b{i}.db").stat().st_mode & 0o077 == 0 for i in (1, 2))
    assert not list(tmp_path.glob("*.seeding*"))


def test_a_seed_drops_the_copies_of_killed_seeds(origin: Path, tmp_path: Path) -> None:
    """A seed killed mid-copy leaves INDEX.seeding-PID-THREAD (200 MB on a large repository): the next
    seed of that index removes those whose process is gone, never a live one's."""
    cache = tmp_path / "cache"
    a, b = clone(origin, tmp_path / "a", "HEAD~1"), clone(origin, tmp_path / "b", "HEAD")
    report(cli_index(a, tmp_path / "a.db", cache))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_copy = tmp_path / f"b.db.seeding-{gone.stdout.strip()}-1"
        live_copy = tmp_path / f"b.db.seeding-{alive.pid}-1"
        for leftover in (dead_copy, Path(f"{dead_copy}-wal"), live_copy):
            leftover.write_bytes(b"x" * 1000)
        assert report(cli_index(b, tmp_path / "b.db", cache))["fact_cache"]["seeded_from"] == str(tmp_path / "a.db")
        assert not dead_copy.exists() and not Path(f"{dead_copy}-wal").exists() and live_copy.exists()
    finally:
        alive.kill()
        alive.wait()


def test_copy_whole_copies_only_a_quiet_index(tmp_path: Path) -> None:
    """store.copy_whole copies the file when its WAL folds in whole and no writer holds its lock;
    with a writer at work, or a reader still on pages the WAL replaced, it copies nothing."""
    import fcntl

    src, dst = tmp_path / "i.db", tmp_path / "copy.db"
    conn = store.connect(src)
    store.init(conn)
    with conn:
        conn.execute("INSERT INTO meta(key, value) VALUES('probe', '1')")
    assert store.copy_whole(src, dst)
    with sqlite3.connect(dst) as c:
        assert c.execute("SELECT value FROM meta WHERE key='probe'").fetchone() == ("1",)
    dst.unlink()
    fd = os.open(f"{src}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert not store.copy_whole(src, dst) and not dst.exists()
    finally:
        os.close(fd)
    reader = sqlite3.connect(src, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM meta").fetchone()  # a snapshot from before the next write
    with conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'probe'")
    assert not store.copy_whole(src, dst) and not dst.exists()
    reader.execute("COMMIT")
    assert store.copy_whole(src, dst)
    with sqlite3.connect(dst) as c:
        assert c.execute("SELECT value FROM meta WHERE key='probe'").fetchone() == ("2",)
    reader.close()
    conn.close()
    foreign = tmp_path / "other-app.db"  # another application's database: not copied, not even folded
    with sqlite3.connect(foreign) as c:
        c.execute("PRAGMA application_id = 7")
        c.execute("CREATE TABLE t(x)")
    data = foreign.read_bytes()
    assert not store.copy_whole(foreign, tmp_path / "copy2.db") and foreign.read_bytes() == data
    assert not (tmp_path / "copy2.db").exists() and not Path(f"{foreign}.lock").exists()


def test_facts_do_not_depend_on_the_path(tmp_path: Path) -> None:
    """Two unrelated repositories (no common history: no index to start from) with the same files,
    one moved to another package: every blob is a cache hit, placed under its own module."""
    cache = tmp_path / "cache"
    x, y = tmp_path / "x", tmp_path / "y"
    for r in (x, y):
        shutil.copytree(FIXTURES / "pyapp", r)
    (y / "src/shop/util/helpers.py").rename(y / "src/shop/tools.py")
    for r in (x, y):
        git(r, "init", "-q")
        git(r, "add", "-A")
        git(r, "commit", "-qm", r.name)
    report(cli_index(x, tmp_path / "x.db", cache))
    rep = report(cli_index(y, tmp_path / "y.db", cache))
    assert rep["fact_cache"] == {"hits": code_blobs(y), "misses": 0, "written": 0, "dropped": 0}
    with sqlite3.connect(tmp_path / "y.db") as c:
        assert {q for (q,) in c.execute("SELECT qualname FROM symbols WHERE name='slugify'")} == \
            {"shop.services.slugify", "shop.tools.slugify"}
    report(cli_index(y, tmp_path / "y-nocache.db", "off"))
    assert contents(tmp_path / "y.db") == contents(tmp_path / "y-nocache.db")


def test_checkout_then_update_reuses_the_cache(origin: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    work = clone(origin, tmp_path / "w", "HEAD")
    report(cli_index(work, tmp_path / "w.db", cache))
    git(work, "checkout", "-q", "HEAD~1")
    back = report(cli_index(work, tmp_path / "w.db", cache))
    # helpers.py is back (its blob is tools.py's: a hit); the old models.py was never seen: the one parse
    assert back["updated_files"] == 2 and back["fact_cache"] == back["fact_cache"] | {"misses": 1, "hits": 1}
    git(work, "checkout", "-q", "-")
    forth = report(cli_index(work, tmp_path / "w.db", cache))
    assert forth["fact_cache"]["misses"] == 0 and forth["fact_cache"]["hits"] == 2
    report(cli_index(work, tmp_path / "w-nocache.db", "off"))
    assert contents(tmp_path / "w.db") == contents(tmp_path / "w-nocache.db")


def test_corrupt_and_foreign_version_entries_are_recomputed(origin: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    report(cli_index(origin, tmp_path / "one.db", cache))
    with sqlite3.connect(cache / "facts.db") as c:
        n = c.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
        # flip bytes in one entry, cut another short, and pretend a third came from another extractor
        rows = c.execute("SELECT blob, lang, data FROM facts ORDER BY blob LIMIT 3").fetchall()
        (b1, l1, d1), (b2, l2, d2), (b3, l3, _d3) = rows
        c.execute("UPDATE facts SET data=? WHERE blob=? AND lang=?", (d1[:10] + bytes(b ^ 0xFF for b in d1[10:20]) + d1[20:], b1, l1))
        c.execute("UPDATE facts SET data=? WHERE blob=? AND lang=?", (d2[:6], b2, l2))
        c.execute("UPDATE facts SET version='0000000000000000' WHERE blob=? AND lang=?", (b3, l3))
    for suffix in ("", "-wal", "-shm"):  # no index left to start a new one from: every blob comes from the cache
        Path(f"{tmp_path / 'one.db'}{suffix}").unlink(missing_ok=True)
    again = report(cli_index(origin, tmp_path / "two.db", cache))["fact_cache"]
    assert again == {"hits": n - 3, "misses": 3, "written": 3, "dropped": 2}
    report(cli_index(origin, tmp_path / "ref.db", "off"))
    assert contents(tmp_path / "ref.db") == contents(tmp_path / "two.db")
    with sqlite3.connect(cache / "facts.db") as c:  # recomputed entries replaced the bad ones
        assert c.execute("SELECT COUNT(*) FROM facts WHERE version != '0000000000000000'").fetchone()[0] == n


def test_decode_rejects_damage() -> None:
    from repo_rlm.index.parse import extract

    facts = extract("python", b"def f():\n    return g()\n")
    data = factcache.encode(facts)
    assert factcache.decode(facts.blob, data).defs == facts.defs
    for bad in (b"", data[:-1], data[:8] + bytes([data[8] ^ 1]) + data[9:], (0).to_bytes(4, "big") + data[4:]):
        with pytest.raises(ValueError):
            factcache.decode(facts.blob, bad)


def test_cache_from_a_newer_repo_rlm_is_left_alone(origin: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with sqlite3.connect(cache / "facts.db") as c:
        c.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
        c.execute("INSERT INTO meta VALUES('format', ?)", (str(factcache.FORMAT + 1),))
    run = cli_index(origin, tmp_path / "i.db", cache)
    rep = report(run)
    assert rep["fact_cache"]["disabled"] == "written by a newer repo-rlm" and rep["symbols"] > 100
    assert run.stderr.count("newer repo-rlm") == 1
    with sqlite3.connect(cache / "facts.db") as c:  # not written to
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["meta"]


def test_unusable_cache_dir_indexes_without_it_and_says_so_once(origin: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run = cli_index(origin, tmp_path / "i.db", blocker / "cache")
    rep = report(run)
    assert rep["fact_cache"]["hits"] == 0 and rep["files"] > 40
    lines = [ln for ln in run.stderr.splitlines() if "fact cache" in ln]
    assert len(lines) == 1 and "indexing without it" in lines[0]
    report(cli_index(origin, tmp_path / "ref.db", "off"))
    assert contents(tmp_path / "i.db") == contents(tmp_path / "ref.db")


def test_a_full_cache_stops_caching_not_indexing(origin: Path, tmp_path: Path, capsys) -> None:
    cache = factcache.FactCache.open(tmp_path / "cache")
    cache.conn.execute("PRAGMA max_page_count=12")  # SQLite's own "database or disk is full" after a few pages
    conn = store.connect(tmp_path / "i.db")
    store.init(conn)
    rep = Indexer(origin, conn, cache=cache).update()
    assert rep["fact_cache"]["disabled"].startswith("database or disk is full") and rep["updated_files"] > 40
    assert capsys.readouterr().err.count("fact cache") <= 1
    assert conn.execute("SELECT COUNT(*) FROM symbols").fetchone()[0] > 100
    conn.close()


def test_a_stored_shape_from_cached_facts_equals_the_rows(tmp_path: Path) -> None:
    """An update reads a changed file's old shape from the cache's facts of its stored blob
    (invalidate.stored_shape with `cached`, cheaper than reading the rows back): on every fixture
    file, the same shape as from the rows; facts of another blob are not trusted."""
    from repo_rlm.index.invalidate import stored_shape

    trees = [FIXTURES / "pyapp", FIXTURES / "polyglot", FIXTURES / "archapp",
             *sorted(p.parent for p in FIXTURES.glob("callgraph*/**/callgraph.json"))]
    cache = factcache.FactCache.open(tmp_path / "cache")
    compared = 0
    for i, tree in enumerate(trees):
        conn = store.connect(tmp_path / f"{i}.db")
        store.init(conn)
        Indexer(tree, conn, executor="inprocess", cache=cache).update()
        files = conn.execute("SELECT id, blob, lang FROM files").fetchall()
        facts = cache.get_many([(b, lang) for _i, b, lang in files])
        other = max(facts.values(), key=lambda f: len(f.defs))  # another file's facts: not trusted
        for fid, blob, lang in files:
            cached = facts.get((blob, lang))
            if cached is None:
                continue
            rows = vars(stored_shape(conn, fid))
            assert vars(stored_shape(conn, fid, cached)) == rows, f"{tree.name}: file {fid}"
            if other.blob != blob:
                assert vars(stored_shape(conn, fid, other)) == rows
            compared += 1
        conn.close()
    assert compared > 60
    cache.close()


def test_lru_eviction_keeps_the_recently_used(tmp_path: Path) -> None:
    from repo_rlm.index.parse import extract

    cache = factcache.FactCache.open(tmp_path / "cache", limit_mb=0.5)
    entries = []
    for i in range(300):  # ~300 entries of a few KB each: more than the 0.5 MB bound
        facts = extract("python", "".join(f"def f{i}_{j}():\n    return {os.urandom(40).hex()!r}\n" for j in range(30)).encode())
        entries.append((facts.blob, "python", factcache.encode(facts)))
    cache.put_many(entries)
    assert cache.size() > cache.limit_bytes
    with cache.conn:
        cache.conn.executemany("UPDATE facts SET used=? WHERE blob=?", [(1000 + i, b) for i, (b, _l, _d) in enumerate(entries)])
    dropped = cache.evict()
    assert 0 < dropped < 300 and cache.size() <= cache.limit_bytes
    kept = {b for (b,) in cache.conn.execute("SELECT blob FROM facts")}
    assert kept == {b for b, _l, _d in entries[dropped:]}  # the oldest went first
    cache.close()


def test_the_bound_is_checked_without_reading_every_entry(tmp_path: Path) -> None:
    """Under its bound, `evict` reads one number (meta `bytes`, the written bytes added up), not the
    sum of every entry's size: that scan read the whole cache, data and all, after every edit.
    Over it, the entries are counted exactly, trimmed, and the count starts again from the truth."""
    from repo_rlm.index.parse import extract

    def entries(tag: str, n: int) -> list:
        out = []
        for i in range(n):
            facts = extract("python", "".join(f"def {tag}{i}_{j}():\n    return {os.urandom(40).hex()!r}\n"
                                              for j in range(30)).encode())
            out.append((facts.blob, "python", factcache.encode(facts)))
        return out

    cache = factcache.FactCache.open(tmp_path / "cache", limit_mb=0.5)
    statements: list[str] = []
    cache.conn.set_trace_callback(statements.append)

    def bytes_noted() -> int:
        return int(cache.conn.execute("SELECT value FROM meta WHERE key = 'bytes'").fetchone()[0])

    cache.put_many(entries("a", 20))
    assert cache.evict() == 0  # a cache without the count (an older repo-rlm's): counted once
    assert any("SUM(size)" in q for q in statements) and bytes_noted() == cache.size() < cache.limit_bytes
    statements.clear()
    cache.put_many(entries("b", 20))
    assert cache.evict() == 0 and not any("SUM(size)" in q for q in statements)
    assert bytes_noted() == cache.size()
    cache.put_many(entries("c", 300))  # over the bound now
    dropped = cache.evict()
    assert dropped > 0 and bytes_noted() == cache.size() <= cache.limit_bytes
    cache.close()


def test_two_builds_writing_the_cache_at_once(origin: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = clone(origin, tmp_path / "a", "HEAD~1")
    b = clone(origin, tmp_path / "b", "HEAD")
    env = {**os.environ, "REPO_RLM_FACT_CACHE": str(cache)}
    procs = [subprocess.Popen([*CLI, "--repo", str(r), "--index", str(tmp_path / f"{r.name}.db"), "index", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for r in (a, b)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert all("fact cache" not in err for _out, err in outs)
    with sqlite3.connect(cache / "facts.db") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = c.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
    assert n == code_blobs(a) + 1  # every blob of both commits once (one file differs in content)
    for r in (a, b):
        report(cli_index(r, tmp_path / f"{r.name}-ref.db", "off"))
        assert contents(tmp_path / f"{r.name}.db") == contents(tmp_path / f"{r.name}-ref.db")


def test_ray_builds_the_same_index_as_the_process_pool(origin: Path, tmp_path: Path) -> None:
    """A cold build, then an update after a checkout (where the parent reads old shapes and writes
    results while it waits for the tasks): Ray's index is the process pool's each time."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local cluster of this machine

    def both() -> tuple[dict, dict]:
        pool = report(cli_index(origin, tmp_path / "pool.db", "off", "--executor", "process"))
        run = subprocess.run([*CLI, "--repo", str(origin), "--index", str(tmp_path / "ray.db"), "index", "--json",
                              "--executor", "ray"], capture_output=True, text=True, timeout=600,
                             env={**env, "REPO_RLM_FACT_CACHE": str(tmp_path / "cache")})
        ray = report(run)
        assert contents(tmp_path / "ray.db") == contents(tmp_path / "pool.db")
        return pool, ray

    pool, ray = both()
    assert ray["fact_cache"]["written"] == ray["fact_cache"]["misses"] == code_blobs(origin)
    assert ray["symbols"] == pool["symbols"] > 100
    git(origin, "checkout", "-q", "HEAD~1")
    pool, ray = both()
    assert ray["updated_files"] == pool["updated_files"] == 2 and ray["fact_cache"]["misses"] >= 1


def test_ray_unreachable_or_missing_is_one_line_exit_2(origin: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = cli_index(origin, tmp_path / "i.db", "off", "--executor", "ray", env={"RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in run.stderr and "repo-rlm[ray]" in run.stderr
    shadow = tmp_path / "noray"
    shadow.mkdir()
    (shadow / "ray.py").write_text("raise ImportError('No module named ray')\n")  # as if Ray were not installed
    run = cli_index(origin, tmp_path / "i.db", "off", "--executor", "ray",
                    env={"PYTHONPATH": str(shadow), "RAY_ADDRESS": "10.1.2.3:6379"})
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "pip install 'repo-rlm[ray]'" in run.stderr and "10.1.2.3:6379" in run.stderr
